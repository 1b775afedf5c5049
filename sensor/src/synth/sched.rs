//! The pieces every traffic actor shares: the packet queue, TCP connections with consistent
//! sequence numbers, UDP datagrams, message labels and the run context (time scale, planted
//! deviations).
//!
//! An actor (one HSMS link, one Modbus poller, ...) is asked for its next exchange only when its
//! queue is empty. It appends the payload bytes of the exchange to its queue's buffer and the
//! packets that carry them to its queue, in time order. The scheduler merges the queues of all
//! actors by timestamp and writes one packet at a time, so memory stays bounded by the largest
//! single exchange (a recipe download of some tens of KB).

use std::collections::VecDeque;

use super::fab::HostId;
use super::net::{Encap, ACK, FIN, PSH, SYN};
use super::rng::Rng;

/// "Never": an actor with nothing more to do returns this as its next wake time.
pub(crate) const NEVER: i64 = i64::MAX;

/// Milliseconds and seconds in nanoseconds.
pub(crate) const MS: i64 = 1_000_000;
pub(crate) const SEC: i64 = 1_000_000_000;

/// What a packet belongs to, for the traffic mix in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    Hsms,
    Modbus,
    Bacnet,
    It,
}

/// One packet waiting in an actor's queue. Its payload is the next `len` bytes of the queue's
/// buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pkt {
    /// Nanoseconds since the start of the run.
    pub ts: i64,
    pub src: HostId,
    pub dst: HostId,
    pub sport: u16,
    pub dport: u16,
    pub encap: Encap,
    pub udp: bool,
    pub flags: u8,
    pub win: u16,
    pub mss: u16,
    pub seq: u32,
    pub ack: u32,
    pub len: u32,
    /// Messages that start in this packet (see [`label`]); 0 = none.
    pub labels: [u32; 3],
    /// Planted deviation this packet belongs to, plus one (0 = none).
    pub mark: u8,
    pub class: Class,
}

/// An actor's pending packets and their payload bytes.
#[derive(Debug)]
pub(crate) struct Queue {
    pub pkts: VecDeque<Pkt>,
    pub buf: Vec<u8>,
    pub head: usize,
    last_ts: i64,
    /// Class given to packets pushed from now on.
    pub class: Class,
    /// Planted deviation given to packets pushed from now on, plus one (0 = none).
    pub mark: u8,
}

impl Queue {
    pub(crate) fn new(class: Class) -> Self {
        Queue { pkts: VecDeque::new(), buf: Vec::new(), head: 0, last_ts: 0, class, mark: 0 }
    }

    /// Appends a packet; a timestamp earlier than the previous packet's is raised to it, so
    /// every queue stays in time order.
    pub(crate) fn push(&mut self, mut p: Pkt) {
        if p.ts < self.last_ts {
            p.ts = self.last_ts;
        }
        self.last_ts = p.ts;
        p.class = self.class;
        if p.mark == 0 {
            p.mark = self.mark;
        }
        self.pkts.push_back(p);
    }

    /// Time of the last packet queued (or emitted) by this actor.
    pub(crate) fn last_ts(&self) -> i64 {
        self.last_ts
    }

    /// Takes the next packet and its payload range in `buf`.
    pub(crate) fn pop(&mut self) -> Option<(Pkt, std::ops::Range<usize>)> {
        let p = self.pkts.pop_front()?;
        let start = self.head;
        self.head += p.len as usize;
        let r = start..self.head.min(self.buf.len());
        Some((p, r))
    }

    /// Drops consumed payload bytes once the queue is empty.
    pub(crate) fn compact(&mut self) {
        if self.pkts.is_empty() {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Length of the payload appended since `start` (a previous `buf.len()`).
    pub(crate) fn since(&self, start: usize) -> usize {
        self.buf.len() - start
    }
}

/// Message labels: a compact code per message kind, turned into names for the summary.
pub(crate) mod label {
    pub(crate) const NONE: u32 = 0;

    /// Names of the fixed labels; the constants below index this table.
    pub(crate) const NAMES: &[&str] = &[
        "",
        "hsms select.req",
        "hsms select.rsp",
        "hsms linktest.req",
        "hsms linktest.rsp",
        "hsms separate.req",
        "dns query",
        "dns response",
        "ntp request",
        "ntp response",
        "syslog",
        "http request",
        "http response",
        "tls client",
        "tls server",
        "smb request",
        "smb response",
        "telnet client",
        "telnet server",
    ];
    pub(crate) const SELECT_REQ: u32 = 1;
    pub(crate) const SELECT_RSP: u32 = 2;
    pub(crate) const LINKTEST_REQ: u32 = 3;
    pub(crate) const LINKTEST_RSP: u32 = 4;
    pub(crate) const SEPARATE_REQ: u32 = 5;
    pub(crate) const DNS_QUERY: u32 = 6;
    pub(crate) const DNS_RESPONSE: u32 = 7;
    pub(crate) const NTP_REQUEST: u32 = 8;
    pub(crate) const NTP_RESPONSE: u32 = 9;
    pub(crate) const SYSLOG: u32 = 10;
    pub(crate) const HTTP_REQUEST: u32 = 11;
    pub(crate) const HTTP_RESPONSE: u32 = 12;
    pub(crate) const TLS_CLIENT: u32 = 13;
    pub(crate) const TLS_SERVER: u32 = 14;
    pub(crate) const SMB_REQUEST: u32 = 15;
    pub(crate) const SMB_RESPONSE: u32 = 16;
    pub(crate) const TELNET_CLIENT: u32 = 17;
    pub(crate) const TELNET_SERVER: u32 = 18;

    const HSMS: u32 = 0x1_0000;
    const MODBUS: u32 = 0x2_0000;
    const BACNET: u32 = 0x3_0000;

    /// An HSMS data message `SxFy`.
    pub(crate) fn hsms(stream: u8, function: u8) -> u32 {
        HSMS | u32::from(stream & 0x7F) << 8 | u32::from(function)
    }

    pub(crate) const MB_REQUEST: u32 = 0;
    pub(crate) const MB_RESPONSE: u32 = 1;
    pub(crate) const MB_EXCEPTION: u32 = 2;

    /// A Modbus ADU: function code and one of `MB_*`.
    pub(crate) fn modbus(fc: u8, kind: u32) -> u32 {
        MODBUS | u32::from(fc & 0x7F) << 4 | kind
    }

    /// A BACnet APDU: PDU type (high nibble of the first APDU byte) and service choice.
    pub(crate) fn bacnet(pdu_type: u8, service: u8) -> u32 {
        BACNET | u32::from(pdu_type) << 8 | u32::from(service)
    }

    const CONFIRMED: [&str; 34] = [
        "acknowledgeAlarm",
        "confirmedCOVNotification",
        "confirmedEventNotification",
        "getAlarmSummary",
        "getEnrollmentSummary",
        "subscribeCOV",
        "atomicReadFile",
        "atomicWriteFile",
        "addListElement",
        "removeListElement",
        "createObject",
        "deleteObject",
        "readProperty",
        "readPropertyConditional",
        "readPropertyMultiple",
        "writeProperty",
        "writePropertyMultiple",
        "deviceCommunicationControl",
        "confirmedPrivateTransfer",
        "confirmedTextMessage",
        "reinitializeDevice",
        "vtOpen",
        "vtClose",
        "vtData",
        "authenticate",
        "requestKey",
        "readRange",
        "lifeSafetyOperation",
        "subscribeCOVProperty",
        "getEventInformation",
        "subscribeCOVPropertyMultiple",
        "confirmedCOVNotificationMultiple",
        "confirmedAuditNotification",
        "auditLogQuery",
    ];
    const UNCONFIRMED: [&str; 15] = [
        "i-Am",
        "i-Have",
        "unconfirmedCOVNotification",
        "unconfirmedEventNotification",
        "unconfirmedPrivateTransfer",
        "unconfirmedTextMessage",
        "timeSynchronization",
        "who-Has",
        "who-Is",
        "utcTimeSynchronization",
        "writeGroup",
        "unconfirmedCOVNotificationMultiple",
        "unconfirmedAuditNotification",
        "who-Am-I",
        "you-Are",
    ];

    /// The summary name of a label.
    pub(crate) fn name(l: u32) -> String {
        match l >> 16 {
            0 => NAMES.get(l as usize).copied().unwrap_or("unknown").to_string(),
            1 => format!("hsms S{}F{}", (l >> 8) & 0x7F, l & 0xFF),
            2 => {
                let fc = (l >> 4) & 0x7F;
                let fc_name = if fc == 43 { "fc43/14".to_string() } else { format!("fc{fc}") };
                let kind = match l & 0xF {
                    MB_REQUEST => "request",
                    MB_RESPONSE => "response",
                    _ => "exception",
                };
                format!("modbus {fc_name} {kind}")
            }
            3 => {
                let ty = (l >> 8) & 0xFF;
                let svc = (l & 0xFF) as usize;
                let confirmed = CONFIRMED.get(svc).copied().unwrap_or("unknown-service");
                match ty {
                    0 => format!("bacnet {confirmed} request"),
                    1 => format!("bacnet {}", UNCONFIRMED.get(svc).copied().unwrap_or("unknown-service")),
                    2 => format!("bacnet {confirmed} simple-ack"),
                    3 => format!("bacnet {confirmed} complex-ack"),
                    5 => format!("bacnet {confirmed} error"),
                    _ => format!("bacnet pdu-type {ty}"),
                }
            }
            _ => "unknown".to_string(),
        }
    }
}

/// Which end of a TCP connection sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// The end that sent the SYN (or would have, for a connection seen mid-stream).
    Client,
    Server,
}

impl Side {
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// One TCP connection: both ends' next sequence numbers, so every segment, pure ACK and FIN
/// carries consistent seq/ack values.
#[derive(Clone, Debug)]
pub(crate) struct TcpConn {
    pub client: HostId,
    pub server: HostId,
    pub cport: u16,
    pub sport: u16,
    pub encap: Encap,
    /// Next sequence number each end will send.
    cseq: u32,
    sseq: u32,
    cwin: u16,
    swin: u16,
    /// Largest payload per segment.
    pub mss: u32,
    pub open: bool,
}

impl TcpConn {
    pub(crate) fn new(
        client: HostId,
        server: HostId,
        cport: u16,
        sport: u16,
        encap: Encap,
        rng: &mut Rng,
    ) -> Self {
        // Tagged segments cross the fab firewalls, which clamp the MSS.
        let mss = if encap == Encap::Untagged { 1460 } else { 1400 };
        let wins = [64240u16, 65535, 29200, 8192, 16384];
        TcpConn {
            client,
            server,
            cport,
            sport,
            encap,
            cseq: rng.next_u64() as u32,
            sseq: rng.next_u64() as u32,
            cwin: wins[rng.idx(wins.len())],
            swin: wins[rng.idx(wins.len())],
            mss,
            open: false,
        }
    }

    fn pkt(&self, ts: i64, side: Side, flags: u8, len: usize) -> Pkt {
        let (src, dst, sport, dport, seq, ack, win) = match side {
            Side::Client => {
                (self.client, self.server, self.cport, self.sport, self.cseq, self.sseq, self.cwin)
            }
            Side::Server => {
                (self.server, self.client, self.sport, self.cport, self.sseq, self.cseq, self.swin)
            }
        };
        Pkt {
            ts,
            src,
            dst,
            sport,
            dport,
            encap: self.encap,
            udp: false,
            flags,
            win,
            mss: 0,
            seq,
            ack: if flags & ACK != 0 { ack } else { 0 },
            len: len as u32,
            labels: [label::NONE; 3],
            mark: 0,
            class: Class::It,
        }
    }

    fn advance(&mut self, side: Side, n: u32) {
        match side {
            Side::Client => self.cseq = self.cseq.wrapping_add(n),
            Side::Server => self.sseq = self.sseq.wrapping_add(n),
        }
    }

    /// Three-way handshake starting at `t`; returns the time of the final ACK.
    pub(crate) fn handshake(&mut self, q: &mut Queue, t: i64, rng: &mut Rng) -> i64 {
        let mut syn = self.pkt(t, Side::Client, SYN, 0);
        syn.mss = 1460;
        q.push(syn);
        self.advance(Side::Client, 1);
        let t2 = t + rng.range(80_000, 600_000) as i64;
        let mut sa = self.pkt(t2, Side::Server, SYN | ACK, 0);
        sa.mss = self.mss as u16;
        q.push(sa);
        self.advance(Side::Server, 1);
        let t3 = t2 + rng.range(40_000, 300_000) as i64;
        q.push(self.pkt(t3, Side::Client, ACK, 0));
        self.open = true;
        t3
    }

    /// Sends the last `len` bytes appended to `q.buf` from `side`, cut into MSS-sized segments;
    /// the receiver ACKs every second full segment. `labels` go on the first segment. Returns
    /// the time of the last segment.
    pub(crate) fn send(&mut self, q: &mut Queue, t: i64, side: Side, len: usize, labels: &[u32]) -> i64 {
        self.send_parts(q, t, side, &[len], labels)
    }

    /// As [`TcpConn::send`], but the bytes go out as separate writes of the given lengths (a
    /// stack that writes a length prefix on its own, or several messages in one segment).
    pub(crate) fn send_parts(
        &mut self,
        q: &mut Queue,
        mut t: i64,
        side: Side,
        parts: &[usize],
        labels: &[u32],
    ) -> i64 {
        let mss = self.mss as usize;
        let mut segs = 0u32;
        let mut first = true;
        let total: usize = parts.iter().sum();
        let mut done = 0usize;
        for &part in parts {
            let mut off = 0;
            while off < part {
                let n = (part - off).min(mss);
                let mut p = self.pkt(t, side, ACK | PSH, n);
                if n == mss && done + n < total {
                    p.flags = ACK;
                }
                if first {
                    for (slot, l) in p.labels.iter_mut().zip(labels) {
                        *slot = *l;
                    }
                    first = false;
                }
                q.push(p);
                self.advance(side, n as u32);
                off += n;
                done += n;
                segs += 1;
                if done < total {
                    if segs % 2 == 0 {
                        q.push(self.pkt(t + 25_000, side.other(), ACK, 0));
                    }
                    // Serialisation at 1 Gb/s plus the sender's pacing.
                    t += 40_000 + (n as i64) * 8;
                }
            }
        }
        t
    }

    /// A pure ACK from `side`.
    pub(crate) fn ack(&mut self, q: &mut Queue, t: i64, side: Side) {
        q.push(self.pkt(t, side, ACK, 0));
    }

    /// Orderly close initiated by `side`: FIN, FIN from the peer, last ACK. Returns the time of
    /// the last ACK.
    pub(crate) fn close(&mut self, q: &mut Queue, t: i64, side: Side, rng: &mut Rng) -> i64 {
        q.push(self.pkt(t, side, FIN | ACK, 0));
        self.advance(side, 1);
        let t2 = t + rng.range(100_000, 2_000_000) as i64;
        q.push(self.pkt(t2, side.other(), FIN | ACK, 0));
        self.advance(side.other(), 1);
        let t3 = t2 + rng.range(50_000, 400_000) as i64;
        q.push(self.pkt(t3, side, ACK, 0));
        self.open = false;
        t3
    }
}

/// One UDP datagram carrying the last `len` bytes appended to `q.buf`.
// The fields of one datagram.
#[allow(clippy::too_many_arguments)]
pub(crate) fn udp(
    q: &mut Queue,
    t: i64,
    src: HostId,
    dst: HostId,
    sport: u16,
    dport: u16,
    encap: Encap,
    len: usize,
    lbl: u32,
) {
    q.push(Pkt {
        ts: t,
        src,
        dst,
        sport,
        dport,
        encap,
        udp: true,
        flags: 0,
        win: 0,
        mss: 0,
        seq: 0,
        ack: 0,
        len: len as u32,
        labels: [lbl, label::NONE, label::NONE],
        mark: 0,
        class: Class::It,
    });
}

/// Planted deviation identifiers: the index into [`Ctx::plants`].
pub(crate) type PlantId = usize;

/// State of one planted deviation during the run.
#[derive(Clone, Debug)]
pub(crate) struct Plant {
    pub kind: &'static str,
    pub armed: bool,
    /// The actor has queued all of its packets.
    pub generated: bool,
    pub src: String,
    pub dst: String,
    pub note: String,
    pub frames: Vec<u64>,
    /// Actor that carries it (woken when armed).
    pub actor: usize,
    /// Which packets count: all marked packets, or only those that start a labelled message.
    pub messages_only: bool,
}

/// Run context handed to actors.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    /// Multiplies think times between exchanges (1.0 = the fab's natural pace).
    pub scale: f64,
    /// Absolute time of the run's start (for payloads that carry clock time: NTP, syslog).
    pub start_ns: i64,
    pub plants: Vec<Plant>,
}

impl Ctx {
    /// A think time of `mean_ns` at the fab's natural pace, drawn exponentially and scaled.
    pub(crate) fn think(&self, rng: &mut Rng, mean_ns: i64) -> i64 {
        (rng.exp(mean_ns as f64 * self.scale) as i64).max(1)
    }

    /// A periodic interval (polling, linktest) with ±10 % jitter, scaled.
    pub(crate) fn period(&self, rng: &mut Rng, ns: i64) -> i64 {
        (rng.jitter(ns, 0.1) as f64 * self.scale).max(1.0) as i64
    }

    /// Whether `id` is armed and not yet generated.
    pub(crate) fn due(&self, id: Option<PlantId>) -> bool {
        id.and_then(|i| self.plants.get(i)).is_some_and(|p| p.armed && !p.generated)
    }

    /// The queue mark for `id`.
    pub(crate) fn mark(id: PlantId) -> u8 {
        (id + 1) as u8
    }

    pub(crate) fn set_generated(&mut self, id: PlantId) {
        if let Some(p) = self.plants.get_mut(id) {
            p.generated = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_have_names() {
        assert_eq!(label::name(label::hsms(2, 41)), "hsms S2F41");
        assert_eq!(label::name(label::modbus(3, label::MB_EXCEPTION)), "modbus fc3 exception");
        assert_eq!(label::name(label::modbus(43, label::MB_REQUEST)), "modbus fc43/14 request");
        assert_eq!(label::name(label::bacnet(3, 12)), "bacnet readProperty complex-ack");
        assert_eq!(label::name(label::bacnet(1, 8)), "bacnet who-Is");
        assert_eq!(label::name(label::SELECT_REQ), "hsms select.req");
    }

    #[test]
    fn tcp_sequence_numbers_chain() {
        let mut rng = Rng::new(1, 1);
        let mut q = Queue::new(Class::Hsms);
        let mut c = TcpConn::new(0, 1, 40000, 5000, Encap::Untagged, &mut rng);
        let t = c.handshake(&mut q, 0, &mut rng);
        q.buf.extend_from_slice(&[0u8; 5000]);
        c.send(&mut q, t, Side::Client, 5000, &[label::hsms(7, 3)]);
        let pk: Vec<Pkt> = q.pkts.iter().copied().collect();
        assert_eq!(pk[0].flags, SYN);
        assert_eq!(pk[1].ack, pk[0].seq.wrapping_add(1));
        let data: Vec<&Pkt> = pk.iter().filter(|p| p.len > 0).collect();
        assert_eq!(data.iter().map(|p| p.len).sum::<u32>(), 5000);
        for w in data.windows(2) {
            assert_eq!(w[1].seq, w[0].seq.wrapping_add(w[0].len));
        }
        assert!(pk.windows(2).all(|w| w[0].ts <= w[1].ts));
    }
}
