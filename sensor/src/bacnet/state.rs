//! Per-flow BACnet/IP state: datagram decoding through the layers, pairing of confirmed
//! requests with their answers (ASHRAE 135 clause 5.4), segment reassembly, and the
//! [`AppParser`] implementation.
//!
//! Pairing key: (direction of the request, invoke id, requester network address, responder
//! network address), where a network address is (SNET, SADR) or (DNET, DADR) when the message
//! is routed and "local" otherwise. SimpleACK, ComplexACK and Error must carry the service of
//! the request; Reject and Abort carry none and pair by invoke id alone.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use super::apdu::{max_apdu_value, max_segments_value, parse_apdu, ApduHeader, ApduSlice, PduType};
use super::bvlc::{
    parse_bvlc_header, parse_bvlc_payload, BvlcPayload, BVLC_HEADER_LEN, BVLC_TYPE_IP, BVLC_TYPE_IPV6,
};
use super::npdu::{parse_network_message, parse_npdu, reject_reason_name, NetworkMessage, NpduSlice};
use super::record::{
    abort_reason_name, property_name, reject_reason_name as apdu_reject_name, service_name, BacnetDetail,
    BacnetRecord, BdtEntryRecord, BvlcInfo, FdtEntryRecord, MacAddr, NetworkMessageInfo, NpduInfo,
    Reassembled, SegmentInfo,
};
use super::services::{parse_service, ServiceDecode};
use super::tags::BacnetObjectId;
use super::{BacnetError, Flags};
use crate::app::{AppParser, AppProto, Cx, Dir};
use crate::record::{OtBody, TxOutcome};

/// Segments reassembled per transaction at most.
pub const MAX_REASSEMBLY_SEGMENTS: u32 = 256;
/// Octets reassembled per transaction at most.
pub const MAX_REASSEMBLY_BYTES: usize = 256 * 1024;

/// A network address for pairing: network number (0 = the local network) and MAC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NetAddr {
    pub net: u16,
    pub mac: MacAddr,
}

impl NetAddr {
    fn from(net: Option<u16>, mac: &[u8]) -> Self {
        match net {
            Some(n) => NetAddr { net: n, mac: MacAddr::new(mac) },
            None => NetAddr::default(),
        }
    }
}

/// One datagram decoded through BVLC, NPDU, APDU and service data.
#[derive(Clone, Debug, Default)]
pub struct DatagramDecode<'a> {
    pub record: BacnetRecord,
    pub flags: Flags,
    /// The APDU, when the header decoded.
    pub apdu: Option<ApduSlice<'a>>,
    /// Network addresses of sender and destination (SNET/SADR, DNET/DADR).
    pub src_net: NetAddr,
    pub dst_net: NetAddr,
    /// Object and property of a request, for the unanswered-transaction report.
    pub what: Option<(Option<BacnetObjectId>, Option<u32>)>,
}

fn code_of(e: BacnetError, incomplete: &'static str) -> &'static str {
    match e {
        BacnetError::Incomplete { .. } => incomplete,
        BacnetError::Malformed { reason, .. } => reason,
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Decodes one UDP payload. Never fails: whatever cannot be decoded is flagged, and the
/// layers decoded before it are kept. `ipv4` tells whether the datagram came over IPv4 (a
/// BACnet/IPv6 BVLL there is malformed). `max_values` caps the lists kept in the record.
pub fn decode_datagram(data: &[u8], ipv4: bool, max_values: usize) -> DatagramDecode<'_> {
    let mut d = DatagramDecode::default();
    if data.is_empty() {
        // An empty datagram to a BACnet port (port scanners send them) carries no BVLL at all.
        d.flags.malformed("bvlc_empty_datagram");
        return d;
    }
    let Ok((h, _)) = parse_bvlc_header(data) else {
        d.record.bvlc_type = data.first().copied().unwrap_or(0);
        d.record.bvlc = data.get(1).copied().unwrap_or(0);
        d.flags.malformed("bvlc_truncated");
        return d;
    };
    d.record.bvlc_type = h.bvlc_type;
    d.record.bvlc = h.function.0;
    match h.bvlc_type {
        BVLC_TYPE_IP => {}
        BVLC_TYPE_IPV6 if ipv4 => {
            d.flags.malformed("bvlc_ipv6_on_ipv4");
            return d;
        }
        BVLC_TYPE_IPV6 => {
            d.flags.flag("bvlc_ipv6_not_decoded");
            return d;
        }
        _ => {
            d.flags.malformed("bvlc_unknown_type");
            return d;
        }
    }
    let len = usize::from(h.length);
    if len < BVLC_HEADER_LEN {
        d.flags.malformed("bvlc_length_below_header");
    } else if len > data.len() {
        d.flags.malformed("bvlc_length_exceeds_datagram");
    } else if len < data.len() {
        d.flags.malformed("bvlc_length_short_of_datagram");
    }
    // Decode what the datagram holds, whatever the length field says: it shows what a
    // receiver that trusts the datagram would act on.
    let body = data.get(BVLC_HEADER_LEN..).unwrap_or_default();
    if h.function.name().is_none() {
        d.flags.malformed("bvlc_unknown_function");
        d.record.bvlc_info =
            Some(Box::new(BvlcInfo { payload_len: Some(count(body.len())), ..BvlcInfo::default() }));
        return d;
    }
    let payload = match parse_bvlc_payload(h.function, body) {
        Ok((p, used)) => {
            if used < body.len() && p.npdu().is_none() {
                d.flags.flag("bvlc_trailing_data");
            }
            p
        }
        Err(e) => {
            d.flags.malformed(code_of(e, "bvlc_payload_truncated"));
            return d;
        }
    };
    let npdu = bvlc_payload(&mut d, payload, max_values);
    if let Some(n) = npdu {
        decode_npdu(&mut d, n, max_values);
    }
    d
}

/// Fills the BVLC part of the record; returns the NPDU bytes if the function carries one.
fn bvlc_payload<'a>(d: &mut DatagramDecode<'a>, p: BvlcPayload<'a>, max_values: usize) -> Option<&'a [u8]> {
    match p {
        BvlcPayload::Result(code) => {
            d.record.bvlc_result = Some(code.0);
            d.record.bvlc_result_name = code.name();
            if code.name().is_none() {
                d.flags.flag("bvlc_unknown_result_code");
            }
        }
        BvlcPayload::Bdt(t) => {
            if !t.rest.is_empty() {
                d.flags.malformed("bvlc_partial_table_entry");
            }
            let bdt =
                t.iter().take(max_values).map(|e| BdtEntryRecord { addr: e.addr, mask: e.mask }).collect();
            d.record.bvlc_info =
                Some(Box::new(BvlcInfo { bdt, entries: Some(count(t.len())), ..BvlcInfo::default() }));
        }
        BvlcPayload::Fdt(t) => {
            if !t.rest.is_empty() {
                d.flags.malformed("bvlc_partial_table_entry");
            }
            let fdt = t
                .iter()
                .take(max_values)
                .map(|e| FdtEntryRecord { addr: e.addr, ttl: e.ttl, remaining: e.remaining })
                .collect();
            d.record.bvlc_info =
                Some(Box::new(BvlcInfo { fdt, entries: Some(count(t.len())), ..BvlcInfo::default() }));
        }
        BvlcPayload::Empty => {}
        BvlcPayload::Forwarded { orig_src, npdu } => {
            d.record.orig_src = Some(orig_src);
            return Some(npdu);
        }
        BvlcPayload::RegisterForeignDevice { ttl } => {
            d.record.bvlc_info = Some(Box::new(BvlcInfo { ttl: Some(ttl), ..BvlcInfo::default() }));
        }
        BvlcPayload::DeleteFdtEntry { addr } => {
            d.record.bvlc_info = Some(Box::new(BvlcInfo { delete_entry: Some(addr), ..BvlcInfo::default() }));
        }
        BvlcPayload::Npdu(n) => return Some(n),
        BvlcPayload::Secure(b) | BvlcPayload::Unknown(b) => {
            d.record.bvlc_info =
                Some(Box::new(BvlcInfo { payload_len: Some(count(b.len())), ..BvlcInfo::default() }));
        }
    }
    None
}

fn npdu_info(n: &NpduSlice<'_>) -> NpduInfo {
    NpduInfo {
        version: n.version,
        control: n.control,
        priority: n.priority(),
        expecting_reply: n.expecting_reply(),
        dnet: n.dnet,
        dadr: n.dnet.map(|_| MacAddr::new(n.dadr)),
        snet: n.snet,
        sadr: n.snet.map(|_| MacAddr::new(n.sadr)),
        hop_count: n.hop_count,
    }
}

fn decode_npdu<'a>(d: &mut DatagramDecode<'a>, bytes: &'a [u8], max_values: usize) {
    let n = match parse_npdu(bytes) {
        Ok((n, _)) => n,
        Err(e) => {
            // Keep version and control when they are there.
            if let (Some(&version), Some(&control)) = (bytes.first(), bytes.get(1)) {
                d.record.npdu = Some(NpduInfo { version, control, ..NpduInfo::default() });
            }
            d.flags.malformed(code_of(e, "npdu_truncated"));
            return;
        }
    };
    n.check(&mut d.flags);
    d.record.npdu = Some(npdu_info(&n));
    d.src_net = NetAddr::from(n.snet, n.sadr);
    d.dst_net = NetAddr::from(n.dnet, n.dadr);
    match n.message_type {
        Some(t) => network_message(d, &n, t, max_values),
        None => decode_apdu(d, &n, max_values),
    }
}

fn network_message(
    d: &mut DatagramDecode<'_>,
    n: &NpduSlice<'_>,
    t: super::npdu::NetworkMessageType,
    max_values: usize,
) {
    let mut m = NetworkMessageInfo {
        msg_type: t.0,
        name: t.name(),
        vendor_id: n.vendor_id,
        payload_len: count(n.payload.len()),
        ..NetworkMessageInfo::default()
    };
    match parse_network_message(t, n.payload) {
        Ok((msg, used)) => {
            if used < n.payload.len() && !matches!(msg, NetworkMessage::Dnets(_)) {
                d.flags.flag("netmsg_trailing_data");
            }
            match msg {
                NetworkMessage::WhoIsRouter { dnet } => m.dnet = dnet,
                NetworkMessage::Dnets(l) => {
                    if !l.rest.is_empty() {
                        d.flags.malformed("netmsg_odd_length");
                    }
                    m.dnets = l.iter().take(max_values).collect();
                }
                NetworkMessage::ICouldBeRouter { dnet, performance_index } => {
                    m.dnet = Some(dnet);
                    m.performance_index = Some(performance_index);
                }
                NetworkMessage::Reject { reason, dnet } => {
                    m.dnet = Some(dnet);
                    m.reject_reason = Some(reason);
                    m.reject_reason_name = reject_reason_name(reason);
                    if m.reject_reason_name.is_none() {
                        d.flags.flag("netmsg_unknown_reject_reason");
                    }
                }
                NetworkMessage::RoutingTable(rt) => {
                    m.ports = Some(rt.count);
                    m.dnets = rt.iter().take(max_values).map(|(dnet, _, _)| dnet).collect();
                }
                NetworkMessage::EstablishConnection { dnet, termination_time } => {
                    m.dnet = Some(dnet);
                    m.termination_time = Some(termination_time);
                }
                NetworkMessage::DisconnectConnection { dnet } => m.dnet = Some(dnet),
                NetworkMessage::NetworkNumberIs { net, flag } => {
                    m.dnet = Some(net);
                    m.configured = Some(flag);
                    if flag > 1 {
                        d.flags.flag("netmsg_bad_network_number_flag");
                    }
                }
                NetworkMessage::Empty | NetworkMessage::Opaque(_) => {}
            }
        }
        Err(e) => d.flags.malformed(code_of(e, "netmsg_truncated")),
    }
    d.record.network_message = Some(Box::new(m));
}

/// What a truncated APDU header still tells: type and invoke id.
fn partial_apdu(d: &mut DatagramDecode<'_>, b: &[u8]) {
    let Some(&first) = b.first() else { return };
    let t = first >> 4;
    if t > 7 {
        return;
    }
    d.record.apdu_type = Some(t);
    d.record.invoke_id = match t {
        0 => b.get(2).copied(),
        1 => None,
        _ => b.get(1).copied(),
    };
}

fn segment_info(h: &ApduHeader) -> SegmentInfo {
    SegmentInfo {
        pdu_flags: h.pdu_flags,
        segmented: h.segmented(),
        more_follows: h.more_follows(),
        segmented_response_accepted: h.segmented_response_accepted(),
        max_segments: h.max_segments.and_then(max_segments_value),
        max_segments_code: h.max_segments,
        max_apdu: h.max_apdu.and_then(max_apdu_value),
        sequence: h.sequence,
        window: h.window,
        nak: h.nak(),
        server: h.server(),
        reassembled: None,
    }
}

fn decode_apdu<'a>(d: &mut DatagramDecode<'a>, n: &NpduSlice<'a>, max_values: usize) {
    let a = match parse_apdu(n.payload) {
        Ok((a, _)) => a,
        Err(e) => {
            partial_apdu(d, n.payload);
            d.flags.malformed(code_of(e, "apdu_truncated"));
            return;
        }
    };
    let h = a.header;
    h.check(&mut d.flags);
    let r = &mut d.record;
    r.apdu_type = Some(h.pdu_type);
    r.invoke_id = h.invoke_id;
    if matches!(h.pdu_type, 0 | 3 | 4 | 7) {
        r.segmentation = Some(segment_info(&h));
    }
    if let Some(s) = h.service {
        r.service = Some(s);
        r.service_name = service_name(h.pdu_type, s);
        if r.service_name.is_none() {
            d.flags.malformed("apdu_unknown_service");
        }
    }
    let pt = PduType(h.pdu_type);
    if pt == PduType::CONFIRMED_REQUEST && !n.expecting_reply() {
        d.flags.flag("npdu_expecting_reply_clear");
    }
    match pt {
        PduType::REJECT => {
            let reason = h.reason.unwrap_or(0);
            r.detail = Some(Box::new(BacnetDetail::Reject { reason, reason_name: apdu_reject_name(reason) }));
        }
        PduType::ABORT => {
            let reason = h.reason.unwrap_or(0);
            r.detail = Some(Box::new(BacnetDetail::Abort {
                reason,
                reason_name: abort_reason_name(reason),
                server: h.server(),
            }));
        }
        _ => {}
    }
    if matches!(pt, PduType::SIMPLE_ACK | PduType::SEGMENT_ACK | PduType::REJECT | PduType::ABORT)
        && !a.body.is_empty()
    {
        d.flags.flag("apdu_trailing_data");
    }
    let decodable = matches!(h.pdu_type, 0 | 1 | 3 | 5) && !h.segmented() && r.service_name.is_some();
    if let (true, Some(s)) = (decodable, h.service) {
        let sd = parse_service(h.pdu_type, s, a.body, max_values, &mut d.flags);
        if h.pdu_type == 0 {
            d.what = Some(request_what(&sd));
        }
        apply_service(&mut d.record, sd);
    }
    d.apdu = Some(a);
}

/// Object and property of a decoded request.
fn request_what(sd: &ServiceDecode) -> (Option<BacnetObjectId>, Option<u32>) {
    match sd.out.detail.as_ref() {
        Some(BacnetDetail::Property { object, property, .. }) => (Some(*object), Some(*property)),
        Some(BacnetDetail::SubscribeCov { object, .. }) | Some(BacnetDetail::DeleteObject { object }) => {
            (Some(*object), None)
        }
        Some(BacnetDetail::AtomicFile { file, .. }) => (*file, None),
        _ => match sd.out.properties.first() {
            Some(p) => (p.object, Some(p.property)),
            None => (None, None),
        },
    }
}

fn apply_service(r: &mut BacnetRecord, sd: ServiceDecode) {
    let o = sd.out;
    r.detail = o.detail.map(Box::new);
    r.properties = o.properties;
    r.properties_omitted = o.properties_omitted;
    r.identity = o.identity.map(Box::new);
}

/// Segments of one segmented message, reassembled in order.
#[derive(Debug)]
struct Reassembly {
    next_seq: u8,
    segments: u32,
    data: Vec<u8>,
    /// Out of order, over a cap, or a gap: the segments stay recorded as such.
    abandoned: bool,
}

impl Reassembly {
    fn start(body: &[u8], cap: usize) -> Self {
        let mut r = Reassembly { next_seq: 1, segments: 1, data: Vec::new(), abandoned: false };
        if body.len() > cap {
            r.abandoned = true;
        } else {
            r.data.extend_from_slice(body);
        }
        r
    }

    /// Adds segment `seq`; returns the anomaly when reassembly had to stop here.
    fn add(&mut self, seq: u8, body: &[u8], cap: usize) -> Option<&'static str> {
        if self.abandoned {
            return None;
        }
        if seq == self.next_seq.wrapping_sub(1) {
            // A retransmitted segment (the SegmentACK was lost): nothing new.
            return None;
        }
        if seq != self.next_seq {
            self.abandoned = true;
            self.data = Vec::new();
            return Some("segment_out_of_order");
        }
        if self.segments >= MAX_REASSEMBLY_SEGMENTS || self.data.len() + body.len() > cap {
            self.abandoned = true;
            self.data = Vec::new();
            return Some("reassembly_cap_exceeded");
        }
        self.data.extend_from_slice(body);
        self.segments += 1;
        self.next_seq = self.next_seq.wrapping_add(1);
        None
    }
}

/// Pairing key of a confirmed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TxKey {
    /// Direction the request travels.
    req_dir: Dir,
    invoke_id: u8,
    requester: NetAddr,
    responder: NetAddr,
}

/// An open confirmed transaction.
#[derive(Debug)]
struct Pending {
    service: u8,
    frame: u64,
    ts_ns: i64,
    /// Last activity (segments refresh it), for the timeout.
    last_ns: i64,
    object: Option<BacnetObjectId>,
    property: Option<u32>,
    /// Segmented request being received.
    request: Option<Reassembly>,
    /// Segmented ComplexACK being received.
    response: Option<Reassembly>,
    /// The last segment of the ComplexACK was seen; the entry stays only so that the client's
    /// final SegmentACK pairs. Never reported as unanswered.
    completed: bool,
}

/// Per-flow BACnet/IP decoder.
#[derive(Debug, Default)]
pub struct BacnetParser {
    pending: FxHashMap<TxKey, Pending>,
    /// No entry can time out before this time (ns): most packets skip the expiry scan.
    expiry_due: i64,
}

impl BacnetParser {
    pub fn new() -> Self {
        BacnetParser::default()
    }

    fn what(key: &TxKey, p: &Pending) -> String {
        let mut s =
            String::from(super::record::confirmed_service_name(p.service).unwrap_or("confirmed-request"));
        s.push_str(&format!(" invoke {}", key.invoke_id));
        if let Some(o) = p.object {
            s.push_str(&format!(" {o}"));
        }
        if let Some(pr) = p.property {
            match property_name(pr) {
                Some(n) => s.push_str(&format!(" {n}")),
                None => s.push_str(&format!(" property-{pr}")),
            }
        }
        s
    }

    fn report(cx: &mut Cx<'_>, key: &TxKey, p: &Pending, outcome: TxOutcome) {
        cx.unanswered(AppProto::Bacnet, key.req_dir, outcome, p.frame, p.ts_ns, Self::what(key, p));
    }

    /// Reports and drops transactions idle for longer than the APDU timeout, oldest first.
    fn expire(&mut self, cx: &mut Cx<'_>) {
        let timeout = cx.limits.bacnet_timeout_ns;
        let now = cx.ts_ns;
        if self.pending.is_empty() || now <= self.expiry_due {
            return;
        }
        self.expiry_due = self
            .pending
            .values()
            .filter(|p| now.saturating_sub(p.last_ns) <= timeout)
            .map(|p| p.last_ns.saturating_add(timeout))
            .min()
            .unwrap_or(i64::MAX);
        let mut old: Vec<TxKey> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.last_ns) > timeout)
            .map(|(k, _)| *k)
            .collect();
        if old.is_empty() {
            return;
        }
        old.sort_by_key(|k| self.pending.get(k).map_or(0, |p| p.frame));
        for k in old {
            if let Some(p) = self.pending.remove(&k).filter(|p| !p.completed) {
                Self::report(cx, &k, &p, TxOutcome::Timeout);
            }
        }
    }

    /// Inserts a request, evicting the oldest entry when the table is full.
    fn insert(&mut self, cx: &mut Cx<'_>, key: TxKey, p: Pending) {
        if !self.pending.contains_key(&key) && self.pending.len() >= cx.limits.max_pending_per_flow.max(1) {
            // Completed entries go first: they only wait for a last SegmentACK.
            let oldest =
                self.pending.iter().min_by_key(|(_, p)| (!p.completed, p.last_ns, p.frame)).map(|(k, _)| *k);
            if let Some(k) = oldest {
                if let Some(old) = self.pending.remove(&k).filter(|p| !p.completed) {
                    Self::report(cx, &k, &old, TxOutcome::Evicted);
                }
            }
        }
        self.expiry_due = self.expiry_due.min(p.last_ns.saturating_add(cx.limits.bacnet_timeout_ns));
        self.pending.insert(key, p);
    }

    /// Finds an open transaction by invoke id alone, for Reject and Abort.
    fn find_by_invoke(&self, req_dir: Dir, invoke_id: u8) -> Option<TxKey> {
        self.pending
            .iter()
            .filter(|(k, _)| k.req_dir == req_dir && k.invoke_id == invoke_id)
            .min_by_key(|(_, p)| p.frame)
            .map(|(k, _)| *k)
    }

    /// Pairs the APDU of a decoded datagram; updates the record (reassembled content) and
    /// returns (request frame, latency, orphan).
    fn pair(
        &mut self,
        dir: Dir,
        d: &mut DatagramDecode<'_>,
        cx: &mut Cx<'_>,
    ) -> (Option<u64>, Option<u64>, bool) {
        let Some(a) = d.apdu else {
            return (None, None, false);
        };
        let h = a.header;
        let Some(invoke_id) = h.invoke_id else {
            return (None, None, false);
        };
        let cap = MAX_REASSEMBLY_BYTES.min(cx.limits.max_message_bytes);
        let max_values = cx.limits.max_values_kept;
        let as_request = TxKey { req_dir: dir, invoke_id, requester: d.src_net, responder: d.dst_net };
        let as_answer =
            TxKey { req_dir: dir.reverse(), invoke_id, requester: d.dst_net, responder: d.src_net };
        let latency = |p: &Pending| u64::try_from(cx.ts_ns.saturating_sub(p.ts_ns) / 1000).ok();
        match PduType(h.pdu_type) {
            PduType::CONFIRMED_REQUEST => {
                let service = h.service.unwrap_or(0);
                let seq = h.sequence.unwrap_or(0);
                if h.segmented() && seq != 0 {
                    // A later segment of a segmented request.
                    let Some(p) = self.pending.get_mut(&as_request) else {
                        d.flags.flag("segment_without_first");
                        return (None, None, false);
                    };
                    p.last_ns = cx.ts_ns;
                    if let Some(r) = p.request.as_mut() {
                        if let Some(code) = r.add(seq, a.body, cap) {
                            d.flags.flag(code);
                        }
                        if !h.more_follows() && !r.abandoned {
                            let sd = parse_service(0, service, &r.data, max_values, &mut d.flags);
                            let info = Reassembled { segments: r.segments, bytes: count(r.data.len()) };
                            p.request = None;
                            let (object, property) = request_what(&sd);
                            p.object = object;
                            p.property = property;
                            apply_service(&mut d.record, sd);
                            if let Some(s) = d.record.segmentation.as_mut() {
                                s.reassembled = Some(info);
                            }
                        }
                    }
                    return (None, None, false);
                }
                if self.pending.get(&as_request).is_some_and(|p| p.completed) {
                    self.pending.remove(&as_request);
                }
                if let Some(old) = self.pending.get(&as_request) {
                    if old.service == service && !h.segmented() {
                        // Keep the first transmission: the latency counts from it.
                        d.flags.flag("request_retransmitted");
                        return (None, None, false);
                    }
                    // The requester reused the invoke id for another request: it gave up on
                    // the old one, which is reported as unanswered.
                    d.flags.flag("invoke_id_reused");
                    if let Some(old) = self.pending.remove(&as_request) {
                        Self::report(cx, &as_request, &old, TxOutcome::Timeout);
                    }
                }
                let (object, property) = d.what.unwrap_or((None, None));
                let request = h.segmented().then(|| Reassembly::start(a.body, cap));
                let p = Pending {
                    service,
                    frame: cx.frame,
                    ts_ns: cx.ts_ns,
                    last_ns: cx.ts_ns,
                    object,
                    property,
                    request,
                    response: None,
                    completed: false,
                };
                self.insert(cx, as_request, p);
                (None, None, false)
            }
            PduType::SIMPLE_ACK | PduType::ERROR | PduType::COMPLEX_ACK => {
                let service = h.service.unwrap_or(0);
                let Some(p) = self.pending.get_mut(&as_answer).filter(|p| !p.completed) else {
                    return (None, None, true);
                };
                if p.service != service {
                    d.flags.flag("answer_service_mismatch");
                    return (None, None, true);
                }
                let out = (Some(p.frame), latency(p), false);
                if h.pdu_type == 3 && h.segmented() {
                    p.last_ns = cx.ts_ns;
                    let seq = h.sequence.unwrap_or(0);
                    if seq == 0 {
                        p.response = Some(Reassembly::start(a.body, cap));
                    } else if let Some(r) = p.response.as_mut() {
                        if let Some(code) = r.add(seq, a.body, cap) {
                            d.flags.flag(code);
                        }
                    } else {
                        d.flags.flag("segment_without_first");
                    }
                    if h.more_follows() {
                        return out;
                    }
                    if let Some(r) = p.response.take().filter(|r| !r.abandoned) {
                        let sd = parse_service(3, service, &r.data, max_values, &mut d.flags);
                        apply_service(&mut d.record, sd);
                        if let Some(s) = d.record.segmentation.as_mut() {
                            s.reassembled =
                                Some(Reassembled { segments: r.segments, bytes: count(r.data.len()) });
                        }
                    }
                    p.completed = true;
                    return out;
                }
                self.pending.remove(&as_answer);
                out
            }
            PduType::SEGMENT_ACK => {
                // SRV = 1: the server acknowledges segments of the request; SRV = 0: the client
                // acknowledges segments of the ComplexACK.
                let key = if h.server() { as_answer } else { as_request };
                let Some(p) = self.pending.get_mut(&key) else {
                    return (None, None, true);
                };
                p.last_ns = cx.ts_ns;
                let out = (Some(p.frame), latency(p), false);
                if p.completed {
                    self.pending.remove(&key);
                }
                out
            }
            PduType::REJECT | PduType::ABORT => {
                // An Abort from the client (SRV = 0) travels in the direction of its request.
                let req_dir = if h.pdu_type == 7 && !h.server() { dir } else { dir.reverse() };
                let key = if req_dir == dir { as_request } else { as_answer };
                let key = if self.pending.contains_key(&key) {
                    Some(key)
                } else {
                    self.find_by_invoke(req_dir, invoke_id)
                };
                match key.and_then(|k| self.pending.remove(&k)) {
                    Some(p) => (Some(p.frame), latency(&p), false),
                    None => (None, None, true),
                }
            }
            _ => (None, None, false),
        }
    }
}

impl AppParser for BacnetParser {
    fn proto(&self) -> AppProto {
        AppProto::Bacnet
    }

    fn parse(&mut self, dir: Dir, data: &[u8], cx: &mut Cx<'_>) -> usize {
        self.expire(cx);
        let (src, _) = cx.flow.ends(dir);
        let ipv4 = matches!(src.ip, IpAddr::V4(_));
        let mut d = decode_datagram(data, ipv4, cx.limits.max_values_kept);
        let (request_frame, latency_us, orphan) = self.pair(dir, &mut d, cx);
        let DatagramDecode { record, flags, .. } = d;
        let msg = cx.emit(dir, OtBody::Bacnet(record), flags.malformed);
        msg.anomalies = flags.codes;
        msg.request_frame = request_frame;
        msg.latency_us = latency_us;
        msg.orphan = orphan;
        data.len()
    }

    fn gap(&mut self, _dir: Dir, _cx: &mut Cx<'_>) {}

    fn close(&mut self, cx: &mut Cx<'_>) {
        let timeout = cx.limits.bacnet_timeout_ns;
        let mut open: Vec<(TxKey, Pending)> = self.pending.drain().collect();
        open.sort_by_key(|(_, p)| p.frame);
        for (k, p) in open.into_iter().filter(|(_, p)| !p.completed) {
            let outcome = if cx.ts_ns.saturating_sub(p.last_ns) > timeout {
                TxOutcome::Timeout
            } else {
                TxOutcome::UnansweredAtClose
            };
            Self::report(cx, &k, &p, outcome);
        }
    }

    fn heap_bytes(&self) -> usize {
        let reasm: usize = self
            .pending
            .values()
            .map(|p| {
                p.request.as_ref().map_or(0, |r| r.data.capacity())
                    + p.response.as_ref().map_or(0, |r| r.data.capacity())
            })
            .sum();
        self.pending.capacity() * (std::mem::size_of::<TxKey>() + std::mem::size_of::<Pending>()) + reasm
    }
}
