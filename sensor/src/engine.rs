//! One worker's packet path: dissect → flow → TCP reassembly → application parser → events.
//!
//! An [`Engine`] owns its flows. It is single-threaded and never blocks; the pipeline runs one
//! per worker and shards packets onto them by a symmetric flow hash.

use std::collections::BTreeMap;

use crate::app::{self, AppLimits, AppParser, Cx, Detect, DetectConfig, Dir, Endpoint, FlowInfo, Transport};
use crate::capture::Packet;
use crate::dissect::{self, tcp_flags, NotDissected, L4};
use crate::flow::{AppSlot, Flow, FlowEnd, FlowKey, FlowLimits, FlowTable};
use crate::record::{Event, FlowPhase};
use crate::tcp::{Deliver, ReassemblyLimits, ReassemblyStats, TcpDir};

/// Everything an engine needs to know.
#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    pub flows: FlowLimits,
    pub reassembly: ReassemblyLimits,
    pub app: AppLimits,
    pub detect: DetectConfig,
    /// Total bytes of reassembly buffers per worker; beyond it new buffering becomes a gap.
    pub max_reassembly_memory: usize,
    /// Flow ids are `n * id_stride + id_offset`, so workers never hand out the same id.
    pub id_stride: u64,
    pub id_offset: u64,
    /// Run the application decoders. Off, every flow is tracked and reassembled but no
    /// protocol is detected: the foundation stage alone, for benchmarks.
    pub decoders_off: bool,
    /// Emit `Event::Flow` records (when a server first answers, and when a flow ends).
    pub flow_events: bool,
}

impl EngineConfig {
    pub fn with_defaults() -> EngineConfig {
        EngineConfig { max_reassembly_memory: 256 << 20, id_stride: 1, id_offset: 0, ..Default::default() }
    }
}

/// How many segments of a flow are looked at before deciding it is not an OT protocol.
const MAX_DETECT_TRIES: u8 = 8;
/// Bytes kept while the protocol of a flow is undecided.
const MAX_DETECT_BYTES: usize = 4096;
/// Capture-time interval between idle-flow sweeps.
const SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

/// What the engine counted. All counters are totals since start.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct EngineStats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets of link types fabmon does not dissect, by link type.
    pub unknown_link: BTreeMap<u32, u64>,
    /// Packets that are not IP (ARP, LLDP, ...).
    pub not_ip: u64,
    /// Packets with an invalid or cut-short header, by layer.
    pub malformed: BTreeMap<&'static str, u64>,
    /// IPv4/IPv6 fragments (counted; their payload is not reassembled).
    pub ip_fragments: u64,
    /// Packets of other IP protocols (ICMP, ...).
    pub other_ip: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    pub flows_created: u64,
    pub flows_closed: u64,
    pub flows_expired: u64,
    pub flows_evicted: u64,
    pub flows_active_max: u64,
    /// TCP flows whose first packet was not a SYN (picked up mid-stream).
    pub flows_midstream: u64,
    /// Flows by decoded protocol.
    pub flows_by_proto: BTreeMap<&'static str, u64>,
    pub reassembly: ReassemblyStats,
    /// Peak of reassembly buffer bytes held at once.
    pub reassembly_memory_peak: u64,
    /// Messages emitted and those flagged malformed, by protocol.
    pub messages: BTreeMap<&'static str, u64>,
    pub messages_malformed: BTreeMap<&'static str, u64>,
    /// Transactions left unanswered (timeouts, open at close, evicted), by protocol.
    pub unanswered: BTreeMap<&'static str, u64>,
    /// Packets (and batches) dropped because a worker queue was full (live capture only).
    pub dropped_queue_full_packets: u64,
    pub dropped_queue_full_batches: u64,
}

impl EngineStats {
    /// Adds another worker's counters (maxima and peaks add up, as workers run side by side).
    pub fn merge(&mut self, o: &EngineStats) {
        fn add<K: Ord + Copy>(a: &mut BTreeMap<K, u64>, b: &BTreeMap<K, u64>) {
            for (k, v) in b {
                *a.entry(*k).or_default() += v;
            }
        }
        self.packets += o.packets;
        self.bytes += o.bytes;
        add(&mut self.unknown_link, &o.unknown_link);
        self.not_ip += o.not_ip;
        add(&mut self.malformed, &o.malformed);
        self.ip_fragments += o.ip_fragments;
        self.other_ip += o.other_ip;
        self.tcp_packets += o.tcp_packets;
        self.udp_packets += o.udp_packets;
        self.flows_created += o.flows_created;
        self.flows_closed += o.flows_closed;
        self.flows_expired += o.flows_expired;
        self.flows_evicted += o.flows_evicted;
        self.flows_active_max += o.flows_active_max;
        self.flows_midstream += o.flows_midstream;
        add(&mut self.flows_by_proto, &o.flows_by_proto);
        self.reassembly.merge(&o.reassembly);
        self.reassembly_memory_peak += o.reassembly_memory_peak;
        add(&mut self.messages, &o.messages);
        add(&mut self.messages_malformed, &o.messages_malformed);
        add(&mut self.unanswered, &o.unanswered);
        self.dropped_queue_full_packets += o.dropped_queue_full_packets;
        self.dropped_queue_full_batches += o.dropped_queue_full_batches;
    }
}

/// A worker's packet path.
pub struct Engine {
    cfg: EngineConfig,
    flows: FlowTable,
    stats: EngineStats,
    events: Vec<Event>,
    next_id: u64,
    next_sweep_ns: i64,
    /// Bytes currently held in reassembly buffers.
    mem: usize,
    /// Counted events up to this index of `events`.
    counted: usize,
    /// Messages and malformed messages counted since the last flush into `stats`, by body
    /// variant (see `body_slot`): a few adds per message instead of two map updates.
    message_counts: [MessageCount; 3],
}

/// Per-protocol message counters kept on the hot path and flushed into the stats maps.
#[derive(Clone, Copy, Default)]
struct MessageCount {
    proto: &'static str,
    messages: u64,
    malformed: u64,
}

/// Slot of a message body in `Engine::message_counts`.
fn body_slot(body: &crate::record::OtBody) -> usize {
    use crate::record::OtBody;
    match body {
        OtBody::Hsms(_) => 0,
        OtBody::Modbus(_) => 1,
        OtBody::Bacnet(_) => 2,
    }
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        let flows = FlowTable::new(cfg.flows.clone());
        Engine {
            cfg,
            flows,
            stats: EngineStats::default(),
            events: Vec::new(),
            next_id: 0,
            next_sweep_ns: i64::MIN,
            mem: 0,
            counted: 0,
            message_counts: [MessageCount::default(); 3],
        }
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Active flows.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Bytes held in reassembly buffers now.
    pub fn reassembly_memory(&self) -> usize {
        self.mem
    }

    /// Moves the events produced so far into `out` (appended after what it holds). When `out`
    /// is empty the two vectors are swapped, so the events are not copied and the engine goes
    /// on with `out`'s spare capacity.
    pub fn drain_events(&mut self, out: &mut Vec<Event>) {
        self.count_events();
        self.flush_counts();
        if out.is_empty() {
            std::mem::swap(out, &mut self.events);
        } else {
            out.append(&mut self.events);
        }
        self.counted = 0;
    }

    /// Counts the events pushed since the last call. Run after every packet, while the new
    /// messages are still in cache.
    fn count_events(&mut self) {
        for ev in &self.events[self.counted..] {
            match ev {
                Event::Message(m) => {
                    let c = &mut self.message_counts[body_slot(&m.body)];
                    c.proto = m.body.proto_name();
                    c.messages += 1;
                    c.malformed += u64::from(m.malformed);
                }
                Event::Transaction(t) => *self.stats.unanswered.entry(t.proto).or_default() += 1,
                Event::Flow(_) => {}
            }
        }
        self.counted = self.events.len();
    }

    /// Adds the hot-path message counters to the stats maps (when events are drained, as
    /// before: the maps are up to date whenever events have been handed out).
    fn flush_counts(&mut self) {
        for c in &mut self.message_counts {
            if c.messages > 0 {
                *self.stats.messages.entry(c.proto).or_default() += c.messages;
            }
            if c.malformed > 0 {
                *self.stats.messages_malformed.entry(c.proto).or_default() += c.malformed;
            }
            c.messages = 0;
            c.malformed = 0;
        }
    }

    /// Processes packet number `frame` (1-based).
    pub fn process(&mut self, frame: u64, pkt: &Packet<'_>) {
        self.process_packet(frame, pkt);
        if self.events.len() > self.counted {
            self.count_events();
        }
    }

    fn process_packet(&mut self, frame: u64, pkt: &Packet<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(pkt.orig_len);
        if pkt.ts_ns >= self.next_sweep_ns {
            self.sweep(frame, pkt.ts_ns);
        }
        let d = match dissect::dissect(pkt.link, pkt.data) {
            Ok(d) => d,
            Err(NotDissected::UnknownLink(l)) => {
                let n = self.stats.unknown_link.entry(l).or_default();
                if *n == 0 {
                    tracing::warn!(
                        link_type = l,
                        "link type not dissected; its packets are skipped and counted"
                    );
                }
                *n += 1;
                return;
            }
            Err(NotDissected::NotIp) => {
                self.stats.not_ip += 1;
                return;
            }
            Err(NotDissected::Malformed(reason)) => {
                *self.stats.malformed.entry(reason).or_default() += 1;
                return;
            }
        };
        if d.fragment {
            self.stats.ip_fragments += 1;
        }
        match d.l4 {
            L4::Tcp(seg) => {
                self.stats.tcp_packets += 1;
                let src = Endpoint { ip: d.src, port: seg.sport };
                let dst = Endpoint { ip: d.dst, port: seg.dport };
                self.on_tcp(frame, pkt.ts_ns, src, dst, d.vlan, &seg, pkt.orig_len, d.src_mac, d.ttl);
            }
            L4::Udp { sport, dport, payload, truncated } => {
                self.stats.udp_packets += 1;
                if truncated {
                    *self.stats.malformed.entry("udp_truncated_by_snaplen").or_default() += 1;
                }
                let src = Endpoint { ip: d.src, port: sport };
                let dst = Endpoint { ip: d.dst, port: dport };
                self.on_udp(frame, pkt.ts_ns, src, dst, d.vlan, payload, pkt.orig_len, d.src_mac, d.ttl);
            }
            L4::Other { .. } => self.stats.other_ip += 1,
        }
    }

    /// Closes every flow (end of input): open transactions are reported.
    pub fn finish(&mut self, frame: u64, ts_ns: i64) {
        for mut f in self.flows.drain() {
            self.end_flow(&mut f, frame, ts_ns, FlowEnd::EndOfInput);
        }
        self.count_events();
        self.flush_counts();
    }

    fn sweep(&mut self, frame: u64, ts_ns: i64) {
        self.next_sweep_ns = ts_ns.saturating_add(SWEEP_INTERVAL_NS);
        let mut gone = Vec::new();
        self.flows.expire(ts_ns, &mut |f, why| gone.push((f, why)));
        for (mut f, why) in gone {
            self.end_flow(&mut f, frame, ts_ns, why);
        }
    }

    /// Looks up the flow of a packet, creating it (and evicting if full) when new.
    fn flow_for(
        &mut self,
        key: FlowKey,
        transport: Transport,
        src: Endpoint,
        dst: Endpoint,
        vlan: u32,
        syn_only: bool,
        syn_ack: bool,
        frame: u64,
        ts_ns: i64,
    ) {
        // A new SYN on the ports of a connection that ended starts a new flow.
        if syn_only {
            if let Some(f) = self.flows.get_mut(&key) {
                if f.closed {
                    if let Some(mut old) = self.flows.remove(&key) {
                        self.end_flow(&mut old, frame, ts_ns, FlowEnd::Idle);
                    }
                }
            }
        }
        if self.flows.get_mut(&key).is_some() {
            return;
        }
        let (client, server, roles_from_syn) = if syn_only {
            (src, dst, true)
        } else if syn_ack {
            (dst, src, true)
        } else {
            let (c, s) = guess_roles(&self.cfg.detect, transport, src, dst);
            (c, s, false)
        };
        let id = self.next_id * self.cfg.id_stride.max(1) + self.cfg.id_offset;
        self.next_id += 1;
        let info = FlowInfo { id, transport, client, server, vlan, roles_from_syn };
        let mut flow = Flow::new(info, ts_ns);
        if self.cfg.decoders_off {
            flow.app = AppSlot::Other;
        }
        self.stats.flows_created += 1;
        if transport == Transport::Tcp && !roles_from_syn {
            self.stats.flows_midstream += 1;
        }
        let mut evicted = Vec::new();
        self.flows.insert(key, flow, &mut |f, why| evicted.push((f, why)));
        for (mut f, why) in evicted {
            self.end_flow(&mut f, frame, ts_ns, why);
        }
        self.stats.flows_active_max = self.stats.flows_active_max.max(self.flows.len() as u64);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_tcp(
        &mut self,
        frame: u64,
        ts_ns: i64,
        src: Endpoint,
        dst: Endpoint,
        vlan: u32,
        seg: &dissect::TcpSeg<'_>,
        wire_len: u32,
        mac: Option<[u8; 6]>,
        ttl: u8,
    ) {
        let key = FlowKey::new(src, dst, 6, vlan);
        let syn = seg.flags & tcp_flags::SYN != 0;
        let ack = seg.flags & tcp_flags::ACK != 0;
        // Nearly every packet belongs to a tracked flow: one lookup. A new flow, or a SYN on
        // the ports of a connection that ended, goes through flow_for first.
        let Engine { flows, cfg, stats, events, mem, .. } = self;
        match flows.get_mut(&key) {
            Some(flow) if !(syn && !ack && flow.closed) => {
                tcp_packet(flow, cfg, stats, events, mem, frame, ts_ns, src, seg, wire_len, mac, ttl);
                return;
            }
            _ => {}
        }
        self.flow_for(key, Transport::Tcp, src, dst, vlan, syn && !ack, syn && ack, frame, ts_ns);
        let Engine { flows, cfg, stats, events, mem, .. } = self;
        if let Some(flow) = flows.get_mut(&key) {
            tcp_packet(flow, cfg, stats, events, mem, frame, ts_ns, src, seg, wire_len, mac, ttl);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_udp(
        &mut self,
        frame: u64,
        ts_ns: i64,
        src: Endpoint,
        dst: Endpoint,
        vlan: u32,
        payload: &[u8],
        wire_len: u32,
        mac: Option<[u8; 6]>,
        ttl: u8,
    ) {
        let key = FlowKey::new(src, dst, 17, vlan);
        let Engine { flows, cfg, events, .. } = self;
        if let Some(flow) = flows.get_mut(&key) {
            udp_packet(flow, cfg, events, frame, ts_ns, src, dst, payload, wire_len, mac, ttl);
            return;
        }
        self.flow_for(key, Transport::Udp, src, dst, vlan, false, false, frame, ts_ns);
        let Engine { flows, cfg, events, .. } = self;
        if let Some(flow) = flows.get_mut(&key) {
            udp_packet(flow, cfg, events, frame, ts_ns, src, dst, payload, wire_len, mac, ttl);
        }
    }

    fn end_flow(&mut self, f: &mut Flow, frame: u64, ts_ns: i64, why: FlowEnd) {
        match why {
            FlowEnd::Idle => self.stats.flows_expired += 1,
            FlowEnd::Evicted => self.stats.flows_evicted += 1,
            FlowEnd::EndOfInput => {}
        }
        if let Some(p) = f.app.proto_name() {
            *self.stats.flows_by_proto.entry(p).or_default() += 1;
        }
        if f.closed {
            // Its End record went out when it closed.
            return;
        }
        let end_record = self.cfg.flow_events.then(|| {
            let why = match why {
                FlowEnd::Idle => "idle",
                FlowEnd::Evicted => "evicted",
                FlowEnd::EndOfInput => "end_of_input",
            };
            f.record(FlowPhase::End, Some(why))
        });
        let held = f.heap_bytes();
        let Flow { info, tcp, app, .. } = f;
        let mut feeder = Feeder::closing(app, info, &self.cfg, &mut self.events, frame, ts_ns);
        match tcp.as_mut() {
            Some(tcp) => {
                feeder.close(tcp);
                tcp.dirs[0].release();
                tcp.dirs[1].release();
            }
            None => {
                if let AppSlot::Parser(p) = feeder.app {
                    let mut cx = Cx { frame, ts_ns, flow: info, limits: &self.cfg.app, out: feeder.events };
                    p.close(&mut cx);
                }
            }
        }
        self.mem = self.mem.saturating_sub(held);
        f.closed = true;
        if let Some(r) = end_record {
            self.events.push(Event::Flow(Box::new(r)));
        }
    }
}

/// What a TCP packet does to its flow: counters, handshake and teardown state, reassembly and
/// the parser.
#[allow(clippy::too_many_arguments)]
fn tcp_packet(
    flow: &mut Flow,
    cfg: &EngineConfig,
    stats: &mut EngineStats,
    events: &mut Vec<Event>,
    mem: &mut usize,
    frame: u64,
    ts_ns: i64,
    src: Endpoint,
    seg: &dissect::TcpSeg<'_>,
    wire_len: u32,
    mac: Option<[u8; 6]>,
    ttl: u8,
) {
    let syn = seg.flags & tcp_flags::SYN != 0;
    let ack = seg.flags & tcp_flags::ACK != 0;
    let dir = if src == flow.info.client { Dir::ToServer } else { Dir::ToClient };
    note_packet(flow, dir, frame, ts_ns, wire_len, mac, ttl, cfg.flow_events, events);
    if flow.closed {
        return;
    }
    let Flow { info, tcp, app, .. } = flow;
    let Some(tcp) = tcp.as_mut() else { return };
    let before = tcp.dirs[0].heap_bytes() + tcp.dirs[1].heap_bytes();
    if syn {
        tcp.dirs[dir.index()].on_syn(seg.seq);
        if ack {
            tcp.syn_ack = true;
        } else {
            tcp.syn = true;
        }
    }
    if ack {
        tcp.dirs[dir.reverse().index()].on_peer_ack(seg.ack);
    }
    let fin = seg.flags & tcp_flags::FIN != 0;
    if fin {
        tcp.fin[dir.index()] = true;
    }
    if seg.flags & tcp_flags::RST != 0 {
        tcp.rst = true;
    }
    // A SYN's sequence number is consumed by the SYN itself.
    let data_seq = if syn { seg.seq.wrapping_add(1) } else { seg.seq };
    if !syn || !seg.payload.is_empty() {
        let limit = cfg.max_reassembly_memory;
        let used = *mem;
        let mut feeder = Feeder {
            app,
            info,
            cfg,
            events,
            frame,
            ts_ns,
            dir,
            roles_from_syn: info_roles(tcp),
            buffered: 0,
            skipped: 0,
            mem_used: used,
            mem_limit: limit,
            mem_gaps: 0,
            buf_gaps: 0,
        };
        let d = &mut tcp.dirs[dir.index()];
        let mut mem_ok = |extra: usize| used + extra <= limit;
        d.on_segment(
            data_seq,
            seg.payload,
            fin,
            seg.truncated,
            &cfg.reassembly,
            &mut stats.reassembly,
            &mut mem_ok,
            &mut |d, del| feeder.deliver(d, del),
        );
        stats.reassembly.gaps_memory += feeder.mem_gaps;
        stats.reassembly.gaps_buffer_full += feeder.buf_gaps;
        stats.reassembly.bytes_buffered += feeder.buffered;
        stats.reassembly.bytes_skipped += feeder.skipped;
    }
    let after = tcp.dirs[0].heap_bytes() + tcp.dirs[1].heap_bytes();
    *mem = (*mem + after).saturating_sub(before);
    stats.reassembly_memory_peak = stats.reassembly_memory_peak.max(*mem as u64);
    let done = tcp.rst || (tcp.dirs[0].finished && tcp.dirs[1].finished);
    if done {
        // What is counted now; closing flushes held segments into the buffers first.
        let freed = tcp.dirs[0].heap_bytes() + tcp.dirs[1].heap_bytes();
        let mut f = Feeder::closing(app, info, cfg, events, frame, ts_ns);
        f.close(tcp);
        tcp.dirs[0].release();
        tcp.dirs[1].release();
        *mem = mem.saturating_sub(freed);
        flow.closed = true;
        stats.flows_closed += 1;
        if cfg.flow_events {
            events.push(Event::Flow(Box::new(flow.record(FlowPhase::End, Some("closed")))));
        }
    }
}

/// What a UDP datagram does to its flow: counters, protocol detection and the parser.
#[allow(clippy::too_many_arguments)]
fn udp_packet(
    flow: &mut Flow,
    cfg: &EngineConfig,
    events: &mut Vec<Event>,
    frame: u64,
    ts_ns: i64,
    src: Endpoint,
    dst: Endpoint,
    payload: &[u8],
    wire_len: u32,
    mac: Option<[u8; 6]>,
    ttl: u8,
) {
    let dir = if src == flow.info.client { Dir::ToServer } else { Dir::ToClient };
    note_packet(flow, dir, frame, ts_ns, wire_len, mac, ttl, cfg.flow_events, events);
    if let AppSlot::Undecided { tries } = &mut flow.app {
        match app::detect_udp(&cfg.detect, src.port, dst.port, payload) {
            Detect::Proto(p) => flow.app = AppSlot::Parser(app::new_parser(p)),
            _ => {
                *tries += 1;
                if *tries >= MAX_DETECT_TRIES {
                    flow.app = AppSlot::Other;
                }
            }
        }
    }
    if let AppSlot::Parser(p) = &mut flow.app {
        let mut cx = Cx { frame, ts_ns, flow: &flow.info, limits: &cfg.app, out: events };
        p.parse(dir, payload, &mut cx);
    }
}

/// Per-packet flow bookkeeping: counters, first MAC/TTL per side, and the `Answered` record the
/// first time the server side speaks.
#[allow(clippy::too_many_arguments)]
fn note_packet(
    flow: &mut Flow,
    dir: Dir,
    frame: u64,
    ts_ns: i64,
    wire_len: u32,
    mac: Option<[u8; 6]>,
    ttl: u8,
    flow_events: bool,
    events: &mut Vec<Event>,
) {
    let i = dir.index();
    if flow.packets[i] == 0 {
        flow.macs[i] = mac;
        flow.ttls[i] = ttl;
        if flow.first_frame == 0 {
            flow.first_frame = frame;
        }
    }
    flow.last_ns = ts_ns;
    flow.packets[i] += 1;
    flow.bytes[i] += u64::from(wire_len);
    if dir == Dir::ToClient && !flow.answered {
        flow.answered = true;
        if flow_events {
            events.push(Event::Flow(Box::new(flow.record(FlowPhase::Answered, None))));
        }
    }
}

fn info_roles(tcp: &crate::flow::TcpState) -> bool {
    tcp.syn || tcp.syn_ack
}

/// Client/server roles of a flow whose handshake was not seen: a known OT server port, else
/// the lower port, is the server.
fn guess_roles(
    cfg: &DetectConfig,
    transport: Transport,
    src: Endpoint,
    dst: Endpoint,
) -> (Endpoint, Endpoint) {
    let known = |p: u16| match transport {
        Transport::Tcp => cfg.modbus_ports.contains(&p) || cfg.hsms_ports.contains(&p),
        Transport::Udp => cfg.bacnet_ports.contains(&p),
    };
    match (known(src.port), known(dst.port)) {
        (true, false) => (dst, src),
        (false, true) => (src, dst),
        // Both or neither known: for equal ports (BACnet 47808 ↔ 47808) the first sender is
        // the client; otherwise the lower port is the service.
        _ if src.port < dst.port => (dst, src),
        _ => (src, dst),
    }
}

/// Hands in-order bytes of one direction to the flow's parser, deciding the protocol first.
struct Feeder<'a> {
    app: &'a mut AppSlot,
    info: &'a FlowInfo,
    cfg: &'a EngineConfig,
    events: &'a mut Vec<Event>,
    frame: u64,
    ts_ns: i64,
    dir: Dir,
    roles_from_syn: bool,
    /// Bytes copied into partial-message buffers, and bytes skipped, by this feeder.
    buffered: u64,
    skipped: u64,
    mem_used: usize,
    mem_limit: usize,
    /// Gaps declared because the per-worker memory bound, or the per-direction buffer bound,
    /// was reached.
    mem_gaps: u64,
    buf_gaps: u64,
}

impl<'a> Feeder<'a> {
    fn closing(
        app: &'a mut AppSlot,
        info: &'a FlowInfo,
        cfg: &'a EngineConfig,
        events: &'a mut Vec<Event>,
        frame: u64,
        ts_ns: i64,
    ) -> Feeder<'a> {
        Feeder {
            app,
            info,
            cfg,
            events,
            frame,
            ts_ns,
            dir: Dir::ToServer,
            roles_from_syn: true,
            buffered: 0,
            skipped: 0,
            mem_used: 0,
            mem_limit: usize::MAX,
            mem_gaps: 0,
            buf_gaps: 0,
        }
    }

    /// Flushes held segments of both directions and closes the parser.
    fn close(&mut self, tcp: &mut crate::flow::TcpState) {
        let mut scratch = ReassemblyStats::default();
        for dir in [Dir::ToServer, Dir::ToClient] {
            self.dir = dir;
            let d = &mut tcp.dirs[dir.index()];
            d.flush_held(&mut scratch, &mut |d, del| self.deliver(d, del));
        }
        if let AppSlot::Parser(p) = self.app {
            let mut cx = Cx {
                frame: self.frame,
                ts_ns: self.ts_ns,
                flow: self.info,
                limits: &self.cfg.app,
                out: self.events,
            };
            p.close(&mut cx);
        }
    }

    fn deliver(&mut self, d: &mut TcpDir, del: Deliver<'_>) {
        match del {
            Deliver::Gap => {
                d.buf.clear();
                d.skip = 0;
                d.started = true;
                if let AppSlot::Parser(p) = self.app {
                    let mut cx = Cx {
                        frame: self.frame,
                        ts_ns: self.ts_ns,
                        flow: self.info,
                        limits: &self.cfg.app,
                        out: self.events,
                    };
                    p.gap(self.dir, &mut cx);
                }
            }
            Deliver::Bytes(data) => self.bytes(d, data),
        }
    }

    fn bytes(&mut self, d: &mut TcpDir, mut data: &[u8]) {
        if d.skip > 0 {
            let n = usize::try_from(d.skip).unwrap_or(usize::MAX).min(data.len());
            d.skip -= n as u64;
            self.skipped += n as u64;
            data = &data[n..];
        }
        if data.is_empty() {
            return;
        }
        if let AppSlot::Undecided { .. } = self.app {
            self.detect(d, data);
            return;
        }
        let AppSlot::Parser(p) = self.app else { return };
        if d.midstream && !d.started {
            // The parser starts at an arbitrary offset of this direction: resynchronise.
            d.started = true;
            let mut cx = Cx {
                frame: self.frame,
                ts_ns: self.ts_ns,
                flow: self.info,
                limits: &self.cfg.app,
                out: self.events,
            };
            p.gap(self.dir, &mut cx);
        }
        d.started = true;
        let mut cx = Cx {
            frame: self.frame,
            ts_ns: self.ts_ns,
            flow: self.info,
            limits: &self.cfg.app,
            out: self.events,
        };
        if d.buf.is_empty() {
            // Fast path: parse straight from the packet; copy only an incomplete tail.
            let used = parse_all(p.as_mut(), self.dir, data, &mut cx, &mut d.skip);
            let rest = &data[used..];
            if !rest.is_empty() {
                if rest.len() > self.cfg.reassembly.max_buffer || self.mem_used + rest.len() > self.mem_limit
                {
                    self.mem_gaps += 1;
                    p.gap(self.dir, &mut cx);
                } else {
                    self.buffered += rest.len() as u64;
                    d.buf.extend_from_slice(rest);
                }
            }
            return;
        }
        if d.buf.len() + data.len() > self.cfg.reassembly.max_buffer
            || self.mem_used + d.buf.len() + data.len() > self.mem_limit
        {
            // The partial message cannot be held: drop it and start afresh from this segment.
            if d.buf.len() + data.len() > self.cfg.reassembly.max_buffer {
                self.buf_gaps += 1;
            } else {
                self.mem_gaps += 1;
            }
            d.buf = Vec::new();
            p.gap(self.dir, &mut cx);
            let used = parse_all(p.as_mut(), self.dir, data, &mut cx, &mut d.skip);
            if used < data.len() && data.len() - used <= self.cfg.reassembly.max_buffer {
                d.buf.extend_from_slice(&data[used..]);
            }
            return;
        }
        self.buffered += data.len() as u64;
        d.buf.extend_from_slice(data);
        let used = parse_all(p.as_mut(), self.dir, &d.buf, &mut cx, &mut d.skip);
        if used >= d.buf.len() {
            if d.buf.capacity() > 64 << 10 {
                d.buf = Vec::new();
            } else {
                d.buf.clear();
            }
        } else if used > 0 {
            d.buf.drain(..used);
        }
    }

    /// Decides the flow's protocol from the first in-order bytes, then parses them.
    fn detect(&mut self, d: &mut TcpDir, data: &[u8]) {
        let AppSlot::Undecided { tries } = self.app else { return };
        let t = *tries;
        let look: &[u8] = if d.buf.is_empty() {
            data
        } else {
            if d.buf.len() + data.len() <= MAX_DETECT_BYTES {
                d.buf.extend_from_slice(data);
            }
            &d.buf
        };
        let (cp, sp) = (self.info.client.port, self.info.server.port);
        match app::detect_tcp(&self.cfg.detect, cp, sp, look) {
            Detect::Proto(proto) => {
                *self.app = AppSlot::Parser(app::new_parser(proto));
                let owned;
                let bytes: &[u8] = if d.buf.is_empty() {
                    data
                } else {
                    owned = std::mem::take(&mut d.buf);
                    &owned
                };
                self.bytes(d, bytes);
            }
            Detect::NeedMore if look.len() < MAX_DETECT_BYTES && t + 1 < MAX_DETECT_TRIES => {
                if d.buf.is_empty() {
                    d.buf.extend_from_slice(data);
                }
                *tries = t + 1;
            }
            _ => {
                // Mid-stream, the first bytes seen may be the middle of a message: try the
                // start of the next few segments before giving up.
                d.buf = Vec::new();
                if !self.roles_from_syn && t + 1 < MAX_DETECT_TRIES {
                    *tries = t + 1;
                } else {
                    *self.app = AppSlot::Other;
                }
            }
        }
    }
}

/// Calls the parser until it makes no progress; returns the bytes consumed. A request to skip
/// beyond `data` is recorded in `skip`.
fn parse_all(p: &mut dyn AppParser, dir: Dir, data: &[u8], cx: &mut Cx<'_>, skip: &mut u64) -> usize {
    let mut off = 0;
    while off < data.len() {
        let n = p.parse(dir, &data[off..], cx);
        if n == 0 {
            break;
        }
        if n >= data.len() - off {
            *skip = (n - (data.len() - off)) as u64;
            return data.len();
        }
        off += n;
    }
    off
}

#[cfg(test)]
mod tests {
    use etherparse::PacketBuilder;

    use super::*;
    use crate::capture::LinkType;
    use crate::record::OtBody;

    /// An Ethernet/IPv4/TCP packet.
    fn tcp(
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, src[3]], [2, 0, 0, 0, 0, dst[3]]).ipv4(src, dst, 64);
        let mut t = b.tcp(sport, dport, seq, 65535);
        if flags & tcp_flags::SYN != 0 {
            t = t.syn();
        }
        if flags & tcp_flags::ACK != 0 {
            t = t.ack(1);
        }
        if flags & tcp_flags::FIN != 0 {
            t = t.fin();
        }
        let mut out = Vec::new();
        t.write(&mut out, payload).unwrap();
        out
    }

    fn feed(engine: &mut Engine, pkts: &[Vec<u8>]) -> Vec<Event> {
        for (i, p) in pkts.iter().enumerate() {
            let pk = Packet {
                ts_ns: 1_000_000_000 + i as i64,
                link: LinkType::ETHERNET,
                data: p,
                orig_len: p.len() as u32,
            };
            engine.process(i as u64 + 1, &pk);
        }
        engine.finish(pkts.len() as u64, 2_000_000_000);
        let mut ev = Vec::new();
        engine.drain_events(&mut ev);
        ev
    }

    /// Modbus read holding registers request: tid 1, unit 1, address 0, quantity 2.
    const FC3_REQ: [u8; 12] = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2];
    /// Its response: byte count 4, two registers.
    const FC3_RSP: [u8; 13] = [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 20];

    const HMI: [u8; 4] = [10, 30, 0, 20];
    const PLC: [u8; 4] = [10, 10, 0, 5];

    fn messages(ev: &[Event]) -> Vec<&crate::record::OtMessage> {
        ev.iter().filter_map(|e| if let Event::Message(m) = e { Some(m) } else { None }).collect()
    }

    #[test]
    fn handshake_request_response_pairs() {
        let mut e = Engine::new(EngineConfig::with_defaults());
        let ev = feed(
            &mut e,
            &[
                tcp(HMI, 40000, PLC, 502, 100, tcp_flags::SYN, &[]),
                tcp(PLC, 502, HMI, 40000, 900, tcp_flags::SYN | tcp_flags::ACK, &[]),
                tcp(HMI, 40000, PLC, 502, 101, tcp_flags::ACK, &FC3_REQ),
                tcp(PLC, 502, HMI, 40000, 901, tcp_flags::ACK, &FC3_RSP),
            ],
        );
        let m = messages(&ev);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].frame, m[1].frame), (3, 4));
        assert_eq!(m[1].request_frame, Some(3));
        assert!(matches!(&m[0].body, OtBody::Modbus(r) if r.fc == 3));
        assert_eq!(e.stats().flows_midstream, 0);
    }

    #[test]
    fn midstream_pickup_and_out_of_order_segments() {
        let mut e = Engine::new(EngineConfig::with_defaults());
        // No handshake; the request arrives in two segments, the second one first.
        let ev = feed(
            &mut e,
            &[
                tcp(HMI, 40000, PLC, 502, 507, tcp_flags::ACK, &FC3_REQ[7..]),
                tcp(HMI, 40000, PLC, 502, 500, tcp_flags::ACK, &FC3_REQ[..7]),
                tcp(PLC, 502, HMI, 40000, 901, tcp_flags::ACK, &FC3_RSP),
            ],
        );
        let m = messages(&ev);
        // The first segment seen fixes the stream start: the earlier bytes are before it and
        // are dropped as old; the request is therefore incomplete and only the response is seen.
        assert_eq!(e.stats().flows_midstream, 1);
        assert!(m.iter().any(|m| m.frame == 3));
    }

    #[test]
    fn out_of_order_after_handshake_is_reassembled() {
        let mut e = Engine::new(EngineConfig::with_defaults());
        let ev = feed(
            &mut e,
            &[
                tcp(HMI, 40000, PLC, 502, 100, tcp_flags::SYN, &[]),
                tcp(PLC, 502, HMI, 40000, 900, tcp_flags::SYN | tcp_flags::ACK, &[]),
                tcp(HMI, 40000, PLC, 502, 108, tcp_flags::ACK, &FC3_REQ[7..]),
                tcp(HMI, 40000, PLC, 502, 101, tcp_flags::ACK, &FC3_REQ[..7]),
            ],
        );
        let m = messages(&ev);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].frame, 4, "completed by the segment that filled the hole");
        assert_eq!(e.stats().reassembly.out_of_order, 1);
        // The message spans two segments: its head (7 bytes) and the held tail (5 bytes) meet in
        // the direction buffer; a message within one segment would copy nothing.
        assert_eq!(e.stats().reassembly.bytes_buffered, 12);
    }

    #[test]
    fn syn_flood_evicts_and_counts_within_the_flow_bound() {
        let mut cfg = EngineConfig::with_defaults();
        cfg.flows.max_flows = 500;
        let mut e = Engine::new(cfg);
        let pkts: Vec<Vec<u8>> = (0..5000u32)
            .map(|i| {
                tcp(
                    [10, 99, (i >> 8) as u8, i as u8],
                    1024 + (i % 60000) as u16,
                    PLC,
                    502,
                    i,
                    tcp_flags::SYN,
                    &[],
                )
            })
            .collect();
        feed(&mut e, &pkts);
        let s = e.stats();
        assert_eq!(s.flows_created, 5000);
        assert_eq!(s.flows_evicted, 4500);
        assert!(s.flows_active_max <= 500);
    }

    #[test]
    fn reassembly_memory_bound_declares_gaps_and_counts_them() {
        let mut cfg = EngineConfig::with_defaults();
        // A worker may hold at most 8 bytes of partial messages.
        cfg.max_reassembly_memory = 8;
        let mut e = Engine::new(cfg);
        let mut pkts = vec![
            tcp(HMI, 40000, PLC, 502, 100, tcp_flags::SYN, &[]),
            tcp(PLC, 502, HMI, 40000, 900, tcp_flags::SYN | tcp_flags::ACK, &[]),
        ];
        // Ten ADU heads of 11 bytes each, on ten connections: none can be buffered.
        for c in 0..10u16 {
            pkts.push(tcp(HMI, 41000 + c, PLC, 502, 100, tcp_flags::SYN, &[]));
            pkts.push(tcp(HMI, 41000 + c, PLC, 502, 101, tcp_flags::ACK, &FC3_REQ[..11]));
        }
        feed(&mut e, &pkts);
        let r = &e.stats().reassembly;
        assert_eq!(r.gaps_memory, 10);
        assert_eq!(e.stats().reassembly_memory_peak, 0);
    }

    /// Found by the `packet` fuzz target: a connection reset while an out-of-order segment was
    /// held. Closing flushes the held bytes to the parser, and the bytes freed were measured
    /// after that flush, so the held bytes stayed counted against the worker's reassembly
    /// memory for good; enough such resets would exhaust the bound and turn every later partial
    /// message into a gap.
    #[test]
    fn fuzz_packet_001_reset_with_held_segment_frees_its_memory() {
        // Raw IPv4 packets, HMI 10.30.0.20:40000 -> PLC 10.10.0.5:502 (checksums not checked).
        const SYN: [u8; 40] = [
            0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, // IPv4, len 40, TCP
            10, 30, 0, 20, 10, 10, 0, 5, // src, dst
            0x9c, 0x40, 0x01, 0xf6, // sport 40000, dport 502
            0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, // seq 100, ack 0
            0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // offset 5, SYN, window, csum, urg
        ];
        const AHEAD: [u8; 52] = [
            0x45, 0x00, 0x00, 0x34, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, // IPv4, len 52, TCP
            10, 30, 0, 20, 10, 10, 0, 5, // src, dst
            0x9c, 0x40, 0x01, 0xf6, // sport 40000, dport 502
            0x00, 0x00, 0x00, 0x70, 0x00, 0x00, 0x00, 0x00, // seq 112: 11 bytes missing before it
            0x50, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // offset 5, no flags
            0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2, // a whole Modbus request (FC 3), held
        ];
        const RST: [u8; 40] = [
            0x45, 0x00, 0x00, 0x28, 0x00, 0x02, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, // IPv4, len 40, TCP
            10, 30, 0, 20, 10, 10, 0, 5, // src, dst
            0x9c, 0x40, 0x01, 0xf6, // sport 40000, dport 502
            0x00, 0x00, 0x00, 0x7c, 0x00, 0x00, 0x00, 0x00, // seq 124
            0x50, 0x04, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, // offset 5, RST
        ];
        let mut e = Engine::new(EngineConfig::with_defaults());
        for (i, p) in [&SYN[..], &AHEAD, &RST].into_iter().enumerate() {
            let pk = Packet { ts_ns: 1_000_000_000, link: LinkType::RAW, data: p, orig_len: p.len() as u32 };
            e.process(i as u64 + 1, &pk);
        }
        assert_eq!(e.stats().reassembly.out_of_order, 1);
        assert_eq!(e.stats().flows_closed, 1);
        assert_eq!(e.reassembly_memory(), 0, "the reset flow holds nothing");
        e.finish(3, 1_000_000_000);
        assert_eq!(e.reassembly_memory(), 0);
    }
}
