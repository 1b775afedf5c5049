//! Per-connection Modbus/TCP state: stream framing with resynchronisation, and request/response
//! pairing (Implementation Guide §4.4.1: the server copies transaction id and unit id).
//!
//! Pairing key is (transaction id, unit id) within the connection. Clients that reuse one
//! transaction id (often 0) still pair correctly: among open requests with the same key, the
//! oldest one with the same function code wins (FIFO per unit and function code), then the
//! oldest one at all. The pending table is bounded (`AppLimits::max_pending_per_flow`).

use std::collections::VecDeque;

use super::parser::{
    anomaly, parse_adu, resync_offset, Anomalies, DiagSub, FunctionCode, ModbusAdu, ModbusError, Pdu, Role,
    MBAP_LENGTH_MAX, MBAP_LENGTH_MIN,
};
use super::record::ModbusRecord;
use crate::app::{AppParser, AppProto, Cx, Dir, FlowInfo};

/// The Modbus/TCP server port (Implementation Guide §4.2).
const MODBUS_PORT: u16 = 502;
use crate::record::{OtBody, TxOutcome};

/// What an open entry of the pending table stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PendingKind {
    /// A request; `expects_response` is false for FC 8/0x04 and unit-0 broadcast writes.
    Request { expects_response: bool },
    /// Bytes that were not Modbus; some servers answer them with a frame built from them.
    NotModbus,
}

/// An open request, with what its response is checked against.
#[derive(Clone, Copy, Debug)]
struct Pending {
    tid: u16,
    unit: u8,
    fc_raw: u8,
    kind: PendingKind,
    frame: u64,
    ts_ns: i64,
    sub: Option<u16>,
    /// 43/14: read code and object id asked for.
    read_code: Option<u8>,
    object_id: Option<u8>,
    /// Byte count a read response must carry (FC 1–4, 23).
    expect_byte_count: Option<u16>,
    /// FC 1/2: number of bits asked for (to trim the padding of the last byte).
    bit_quantity: Option<u16>,
    /// Leading PDU bytes an echo response must repeat.
    echo: [u8; 6],
    echo_len: u8,
}

impl Pending {
    fn from_request(adu: &ModbusAdu<'_>, frame: u64, ts_ns: i64) -> Pending {
        let f = adu.function;
        let mut p = Pending {
            tid: adu.header.transaction_id,
            unit: adu.header.unit_id,
            fc_raw: f.0,
            kind: PendingKind::Request { expects_response: true },
            frame,
            ts_ns,
            sub: None,
            read_code: None,
            object_id: None,
            expect_byte_count: None,
            bit_quantity: None,
            echo: [0; 6],
            echo_len: 0,
        };
        let mut echo_len = 0usize;
        match adu.pdu {
            Pdu::ReadRequest { quantity, .. } if f.base() <= 2 => {
                p.bit_quantity = Some(quantity);
                p.expect_byte_count = Some(quantity.div_ceil(8));
            }
            Pdu::ReadRequest { quantity, .. } => p.expect_byte_count = Some(quantity.saturating_mul(2)),
            Pdu::ReadWriteRequest { read_quantity, .. } => {
                p.expect_byte_count = Some(read_quantity.saturating_mul(2))
            }
            Pdu::WriteSingle { .. } | Pdu::WriteCoils { .. } | Pdu::WriteRegisters { .. } => echo_len = 4,
            Pdu::MaskWrite { .. } => echo_len = 6,
            Pdu::Diagnostic { sub, .. } => {
                p.sub = Some(sub.0);
                // These sub-functions echo their data; the others return counters in it.
                echo_len = if matches!(sub.0, 0x00 | 0x01 | 0x03 | 0x04 | 0x0A | 0x14) { 4 } else { 2 };
                if sub == DiagSub::FORCE_LISTEN_ONLY {
                    p.kind = PendingKind::Request { expects_response: false };
                }
            }
            Pdu::DeviceIdRequest { read_code, object_id } => {
                p.read_code = Some(read_code);
                p.object_id = Some(object_id);
            }
            _ => {}
        }
        // Unit 0 is the serial-line broadcast address: gateways send no response to writes.
        if p.unit == 0 && f.is_write() && f.base() != 23 {
            p.kind = PendingKind::Request { expects_response: false };
        }
        let n = echo_len.min(adu.data.len());
        if let (Some(dst), Some(src)) = (p.echo.get_mut(..n), adu.data.get(..n)) {
            dst.copy_from_slice(src);
            p.echo_len = n as u8;
        }
        p
    }

    fn expects_response(&self) -> bool {
        matches!(self.kind, PendingKind::Request { expects_response: true })
    }

    /// Text for an unanswered-transaction event.
    fn what(&self) -> String {
        let f = FunctionCode(self.fc_raw);
        match self.sub {
            Some(sub) => {
                format!("fc={} {} sub=0x{sub:04x} tid={} unit={}", f.base(), f.name(), self.tid, self.unit)
            }
            None => format!("fc={} {} tid={} unit={}", f.base(), f.name(), self.tid, self.unit),
        }
    }
}

/// Per-connection Modbus/TCP decoder.
#[derive(Debug, Default)]
pub struct ModbusParser {
    pending: VecDeque<Pending>,
    /// Per direction: framing is at an ADU boundary. False after a gap, after junk and at the
    /// start of a flow picked up mid-stream: the parser then skips to a plausible header.
    in_sync: [bool; 2],
    started: [bool; 2],
    /// Per direction: a gap was just declared, so the next bytes begin a TCP segment.
    after_gap: [bool; 2],
}

impl ModbusParser {
    pub fn new() -> Self {
        ModbusParser::default()
    }

    /// Which direction carries requests. Normally the client's; when the connection was opened
    /// from port 502 to another port (some test tools and reverse setups do this), the port-502
    /// side is still the Modbus server, as Wireshark decides.
    fn request_dir(flow: &FlowInfo) -> Dir {
        if flow.client.port == MODBUS_PORT && flow.server.port != MODBUS_PORT {
            Dir::ToClient
        } else {
            Dir::ToServer
        }
    }

    fn role(dir: Dir, flow: &FlowInfo) -> Role {
        if dir == Self::request_dir(flow) {
            Role::Request
        } else {
            Role::Response
        }
    }

    /// Reports requests older than the response timeout.
    fn expire(&mut self, cx: &mut Cx<'_>) {
        while let Some(p) = self.pending.front().copied() {
            if cx.ts_ns.saturating_sub(p.ts_ns) <= cx.limits.modbus_timeout_ns {
                break;
            }
            self.pending.pop_front();
            if p.expects_response() {
                cx.unanswered(
                    AppProto::Modbus,
                    Self::request_dir(cx.flow),
                    TxOutcome::Timeout,
                    p.frame,
                    p.ts_ns,
                    p.what(),
                );
            }
        }
    }

    fn push_pending(&mut self, p: Pending, cx: &mut Cx<'_>) {
        let max = cx.limits.max_pending_per_flow.max(1);
        while self.pending.len() >= max {
            let Some(old) = self.pending.pop_front() else {
                break;
            };
            if old.expects_response() {
                cx.unanswered(
                    AppProto::Modbus,
                    Self::request_dir(cx.flow),
                    TxOutcome::Evicted,
                    old.frame,
                    old.ts_ns,
                    old.what(),
                );
            }
        }
        self.pending.push_back(p);
    }

    /// Removes and returns the open request a response answers (see the module docs).
    fn take_match(&mut self, tid: u16, unit: u8, fc: FunctionCode) -> Option<Pending> {
        let mut first = None;
        let mut best = None;
        for (i, p) in self.pending.iter().enumerate() {
            if p.tid != tid || p.unit != unit {
                continue;
            }
            first.get_or_insert(i);
            if matches!(p.kind, PendingKind::Request { .. }) && p.fc_raw & 0x7F == fc.base() {
                best = Some(i);
                break;
            }
        }
        self.pending.remove(best.or(first)?)
    }

    fn on_adu(&mut self, dir: Dir, role: Role, adu: &ModbusAdu<'_>, cx: &mut Cx<'_>) {
        let mut rec = ModbusRecord::from_adu(adu, role, cx.limits.max_values_kept);
        let mut anomalies = adu.anomalies;
        let mut malformed = adu.malformed;
        match role {
            Role::Request => {
                let msg = cx.emit(dir, OtBody::Modbus(rec), malformed);
                msg.anomalies = anomalies.as_slice().to_vec();
                let p = Pending::from_request(adu, cx.frame, cx.ts_ns);
                self.push_pending(p, cx);
            }
            Role::Response => {
                let matched = self.take_match(adu.header.transaction_id, adu.header.unit_id, adu.function);
                let mut link = None;
                if let Some(p) = matched {
                    check_response(&p, adu, &mut rec, &mut anomalies, &mut malformed);
                    let rtt_us = u64::try_from(cx.ts_ns.saturating_sub(p.ts_ns) / 1000).unwrap_or(0);
                    link = Some((p.frame, rtt_us));
                }
                let msg = cx.emit(dir, OtBody::Modbus(rec), malformed);
                msg.anomalies = anomalies.as_slice().to_vec();
                match link {
                    Some((frame, rtt_us)) => {
                        msg.request_frame = Some(frame);
                        msg.latency_us = Some(rtt_us);
                    }
                    None => msg.orphan = true,
                }
            }
        }
    }

    /// One record for a run of bytes that are not Modbus; a request run is remembered so that a
    /// reply built from it can be recognised.
    fn on_junk(&mut self, dir: Dir, role: Role, junk: &[u8], cx: &mut Cx<'_>) {
        let rec = ModbusRecord::not_modbus(junk, role);
        let (tid, unit, fc_raw) = (rec.tid, rec.unit, rec.fc_raw);
        let msg = cx.emit(dir, OtBody::Modbus(rec), true);
        msg.anomalies = vec![anomaly::NOT_MODBUS];
        if role == Role::Response {
            msg.orphan = true;
        } else if junk.len() >= 8 {
            let p = Pending {
                tid,
                unit,
                fc_raw,
                kind: PendingKind::NotModbus,
                frame: cx.frame,
                ts_ns: cx.ts_ns,
                sub: None,
                read_code: None,
                object_id: None,
                expect_byte_count: None,
                bit_quantity: None,
                echo: [0; 6],
                echo_len: 0,
            };
            self.push_pending(p, cx);
        }
    }
}

/// Checks a response against the request it answers (function, echo, byte count).
fn check_response(
    p: &Pending,
    adu: &ModbusAdu<'_>,
    rec: &mut ModbusRecord,
    an: &mut Anomalies,
    malformed: &mut bool,
) {
    if p.kind == PendingKind::NotModbus {
        // Its tid/unit/fc are bytes of the junk: keep them out of the inventory and baselines.
        an.push(anomaly::REPLY_TO_NON_MODBUS);
        *malformed = true;
        return;
    }
    if !p.expects_response() {
        an.push(anomaly::RESPONSE_NOT_EXPECTED);
    }
    let req = FunctionCode(p.fc_raw);
    let rsp = adu.function;
    if req.is_exception() && rsp.0 == req.0.wrapping_add(0x80) {
        an.push(anomaly::EXCEPTION_FC_WRAPPED);
        return;
    }
    if req.base() != rsp.base() {
        an.push(anomaly::RESPONSE_FC_MISMATCH);
        return;
    }
    if rsp.is_exception() {
        return;
    }
    match adu.pdu {
        Pdu::ReadBits { byte_count, .. } => {
            if p.expect_byte_count.is_some_and(|e| e != u16::from(byte_count)) {
                an.push(anomaly::RESPONSE_BYTE_COUNT_MISMATCH);
            }
            if let Some(q) = p.bit_quantity {
                // The last byte is padded with zeros: keep only the bits that were asked for.
                rec.coils.truncate(usize::from(q));
            }
        }
        Pdu::ReadRegisters { byte_count, .. }
            if p.expect_byte_count.is_some_and(|e| e != u16::from(byte_count)) =>
        {
            an.push(anomaly::RESPONSE_BYTE_COUNT_MISMATCH);
        }
        Pdu::WriteSingle { .. }
        | Pdu::WriteMultipleResponse { .. }
        | Pdu::MaskWrite { .. }
        | Pdu::Diagnostic { .. } => {
            let n = usize::from(p.echo_len);
            if adu.data.get(..n) != p.echo.get(..n) {
                an.push(anomaly::RESPONSE_ECHO_MISMATCH);
            }
        }
        Pdu::DeviceIdResponse { read_code, more_follows, next_object_id, .. } => {
            if p.read_code.is_some_and(|c| c != read_code) {
                an.push(anomaly::RESPONSE_READ_CODE_MISMATCH);
            }
            if more_follows == 0xFF && p.object_id.is_some_and(|o| next_object_id <= o) {
                an.push(anomaly::MEI_NO_PROGRESS);
            }
        }
        _ => {}
    }
}

impl AppParser for ModbusParser {
    fn proto(&self) -> AppProto {
        AppProto::Modbus
    }

    fn parse(&mut self, dir: Dir, data: &[u8], cx: &mut Cx<'_>) -> usize {
        self.expire(cx);
        let d = usize::from(dir == Dir::ToClient);
        if self.after_gap[d] || (!self.started[d] && !cx.flow.roles_from_syn) {
            // A flow picked up mid-stream, or resuming after lost bytes, may start inside an
            // ADU. Segments almost always start at an ADU boundary, so an MBAP-looking header
            // at offset 0 is taken as one (malformed content and unassigned function codes
            // included); anything else is skipped silently up to a plausible header.
            let Some(&[_, _, p0, p1, l0, l1]) = data.get(..6) else {
                return 0;
            };
            let len = u16::from_be_bytes([l0, l1]);
            self.in_sync[d] = p0 == 0 && p1 == 0 && (MBAP_LENGTH_MIN..=MBAP_LENGTH_MAX).contains(&len);
            self.started[d] = true;
            self.after_gap[d] = false;
        } else if !self.started[d] {
            self.in_sync[d] = true;
            self.started[d] = true;
        }
        let role = Self::role(dir, cx.flow);
        let mut off = 0;
        while let Some(rest) = data.get(off..).filter(|r| !r.is_empty()) {
            let in_sync = self.in_sync[d];
            if !in_sync {
                let skip = resync_offset(rest, role, 0);
                if skip > 0 {
                    off += skip;
                    continue;
                }
            }
            match parse_adu(rest, role) {
                Ok((adu, n)) => {
                    self.in_sync[d] = true;
                    self.on_adu(dir, role, &adu, cx);
                    off += n;
                }
                Err(ModbusError::Incomplete { .. }) => break,
                Err(ModbusError::Malformed { .. }) => {
                    let skip = resync_offset(rest, role, 1);
                    if in_sync {
                        self.on_junk(dir, role, rest.get(..skip).unwrap_or(rest), cx);
                    }
                    self.in_sync[d] = false;
                    off += skip;
                }
            }
        }
        off
    }

    fn gap(&mut self, dir: Dir, _cx: &mut Cx<'_>) {
        let d = usize::from(dir == Dir::ToClient);
        self.in_sync[d] = false;
        self.after_gap[d] = true;
    }

    fn close(&mut self, cx: &mut Cx<'_>) {
        while let Some(p) = self.pending.pop_front() {
            if !p.expects_response() {
                continue;
            }
            let outcome = if cx.ts_ns.saturating_sub(p.ts_ns) > cx.limits.modbus_timeout_ns {
                TxOutcome::Timeout
            } else {
                TxOutcome::UnansweredAtClose
            };
            cx.unanswered(AppProto::Modbus, Self::request_dir(cx.flow), outcome, p.frame, p.ts_ns, p.what());
        }
    }

    fn heap_bytes(&self) -> usize {
        self.pending.capacity() * std::mem::size_of::<Pending>()
    }
}
