//! Bidirectional flows: a bounded table keyed by the symmetric 5-tuple plus VLAN, TCP state,
//! idle timeouts and eviction.
//!
//! The table holds at most [`FlowLimits::max_flows`] flows. Each flow is queued by the time it
//! was last seen; the queue front is examined to expire idle flows (second chance: a flow seen
//! since it was queued goes to the back again) and, when the table is full, to evict the least
//! recently seen flow. Both are amortised O(1) per packet.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustc_hash::{FxHashMap, FxHasher};

use crate::app::{AppParser, Endpoint, FlowInfo, Transport};
use crate::tcp::TcpDir;

/// Flow-table limits and timeouts.
#[derive(Clone, Debug)]
pub struct FlowLimits {
    /// Flows tracked at once (per worker). A new flow beyond it evicts the least recently
    /// seen one.
    pub max_flows: usize,
    /// An established TCP flow idle this long is closed.
    pub tcp_idle_ns: i64,
    /// A TCP flow that ended (FIN both ways, or RST) is forgotten after this long.
    pub tcp_closed_ns: i64,
    /// A UDP flow idle this long is closed.
    pub udp_idle_ns: i64,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows: 100_000,
            tcp_idle_ns: 600_000_000_000,
            tcp_closed_ns: 30_000_000_000,
            udp_idle_ns: 120_000_000_000,
        }
    }
}

/// Symmetric flow key: the lower endpoint first, so both directions find the same flow.
///
/// Addresses are kept as integers (an IPv4 address in the low 32 bits, with `v6` telling the
/// families apart) so that ordering, hashing and comparing a key are a few word operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo_ip: u128,
    hi_ip: u128,
    /// Port of the lower endpoint in the high 16 bits, of the higher one in the low 16.
    ports: u32,
    vlan: u32,
    proto: u8,
    v6: bool,
}

fn ip_bits(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

impl FlowKey {
    #[inline]
    pub fn new(a: Endpoint, b: Endpoint, proto: u8, vlan: u32) -> FlowKey {
        let ((ia, va), (ib, vb)) = (ip_bits(a.ip), ip_bits(b.ip));
        // Both ends of one packet have the same family; `v6` is set if either is IPv6 so that a
        // mixed pair (never seen on the wire) still keys apart from an IPv4 pair.
        let (x, y) = ((ia, a.port), (ib, b.port));
        let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
        FlowKey {
            lo_ip: lo.0,
            hi_ip: hi.0,
            ports: u32::from(lo.1) << 16 | u32::from(hi.1),
            vlan,
            proto,
            v6: va || vb,
        }
    }

    /// Hash that is the same for both directions (the key is already symmetric): shards a flow
    /// onto one worker.
    ///
    /// It hashes the endpoints as `(IpAddr, port)` pairs, then the protocol and the VLAN: the
    /// worker a flow lands on, and so the flow ids a run hands out, do not depend on how the key
    /// is stored.
    pub fn shard_hash(&self) -> u64 {
        let ip = |bits: u128| {
            if self.v6 {
                IpAddr::V6(Ipv6Addr::from(bits))
            } else {
                // An IPv4 key holds 32-bit values.
                IpAddr::V4(Ipv4Addr::from(bits as u32))
            }
        };
        let mut h = FxHasher::default();
        (ip(self.lo_ip), (self.ports >> 16) as u16).hash(&mut h);
        (ip(self.hi_ip), self.ports as u16).hash(&mut h);
        self.proto.hash(&mut h);
        self.vlan.hash(&mut h);
        h.finish()
    }
}

/// What a flow's application slot holds.
pub enum AppSlot {
    /// No payload seen yet, or not enough to decide; `tries` counts segments looked at.
    Undecided {
        tries: u8,
    },
    Parser(Box<dyn AppParser>),
    /// Not a protocol fabmon decodes.
    Other,
}

impl AppSlot {
    pub fn proto_name(&self) -> Option<&'static str> {
        match self {
            AppSlot::Parser(p) => Some(p.proto().name()),
            _ => None,
        }
    }
}

/// TCP connection state as seen on the wire.
#[derive(Debug, Default)]
pub struct TcpState {
    pub syn: bool,
    pub syn_ack: bool,
    pub fin: [bool; 2],
    pub rst: bool,
    pub dirs: [TcpDir; 2],
}

/// One bidirectional flow.
pub struct Flow {
    pub info: FlowInfo,
    pub first_ns: i64,
    pub last_ns: i64,
    /// Packets and bytes per direction (index by `Dir::index`).
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub tcp: Option<Box<TcpState>>,
    pub app: AppSlot,
    /// The flow ended (TCP FIN both ways or RST); its state was released.
    pub closed: bool,
    /// Source MAC and IP TTL of the first packet from each side (index by `Dir::index`).
    pub macs: [Option<[u8; 6]>; 2],
    pub ttls: [u8; 2],
    pub first_frame: u64,
    /// The server side has sent a packet (the `Answered` flow record was emitted if wanted).
    pub answered: bool,
    /// Time stamp under which it sits in the expiry queue.
    queued_ns: i64,
}

impl Flow {
    pub fn new(info: FlowInfo, ts_ns: i64) -> Flow {
        let tcp = (info.transport == Transport::Tcp).then(Box::default);
        Flow {
            info,
            first_ns: ts_ns,
            last_ns: ts_ns,
            packets: [0; 2],
            bytes: [0; 2],
            tcp,
            app: AppSlot::Undecided { tries: 0 },
            closed: false,
            macs: [None; 2],
            ttls: [0; 2],
            first_frame: 0,
            answered: false,
            queued_ns: ts_ns,
        }
    }

    fn timeout_ns(&self, lim: &FlowLimits) -> i64 {
        match (&self.info.transport, self.closed) {
            (Transport::Tcp, true) => lim.tcp_closed_ns,
            (Transport::Tcp, false) => lim.tcp_idle_ns,
            (Transport::Udp, _) => lim.udp_idle_ns,
        }
    }

    /// The flow as a record (for the inventory and the flows table).
    pub fn record(
        &self,
        phase: crate::record::FlowPhase,
        end: Option<&'static str>,
    ) -> crate::record::FlowRecord {
        let t = self.tcp.as_deref();
        crate::record::FlowRecord {
            flow: self.info.id,
            phase,
            transport: self.info.transport,
            client: self.info.client.ip,
            client_port: self.info.client.port,
            server: self.info.server.ip,
            server_port: self.info.server.port,
            client_mac: self.macs[0],
            server_mac: self.macs[1],
            vlan: self.info.vlan,
            first_ts_ns: self.first_ns,
            last_ts_ns: self.last_ns,
            first_frame: self.first_frame,
            packets_to_server: self.packets[0],
            packets_to_client: self.packets[1],
            bytes_to_server: self.bytes[0],
            bytes_to_client: self.bytes[1],
            app: self.app.proto_name(),
            roles_from_syn: self.info.roles_from_syn,
            answered: self.answered,
            syn: t.is_some_and(|t| t.syn),
            syn_ack: t.is_some_and(|t| t.syn_ack),
            fin: t.is_some_and(|t| t.fin[0] || t.fin[1]),
            rst: t.is_some_and(|t| t.rst),
            client_ttl: self.ttls[0],
            server_ttl: self.ttls[1],
            end,
        }
    }

    /// Heap bytes held by reassembly and the parser.
    pub fn heap_bytes(&self) -> usize {
        let tcp = self.tcp.as_ref().map_or(0, |t| t.dirs[0].heap_bytes() + t.dirs[1].heap_bytes());
        let app = match &self.app {
            AppSlot::Parser(p) => p.heap_bytes(),
            _ => 0,
        };
        tcp + app
    }
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowEnd {
    Idle,
    Evicted,
    EndOfInput,
}

/// The bounded flow table.
pub struct FlowTable {
    map: FxHashMap<FlowKey, Flow>,
    queue: VecDeque<(FlowKey, i64)>,
    pub limits: FlowLimits,
}

impl FlowTable {
    pub fn new(limits: FlowLimits) -> FlowTable {
        FlowTable { map: FxHashMap::default(), queue: VecDeque::new(), limits }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        self.map.get_mut(key)
    }

    /// Removes a flow (e.g. a closed one replaced by a new connection on the same ports).
    pub fn remove(&mut self, key: &FlowKey) -> Option<Flow> {
        self.map.remove(key)
    }

    /// Inserts a new flow. When the table is full, the least recently seen flow is evicted
    /// first and handed to `on_evict`.
    pub fn insert(&mut self, key: FlowKey, flow: Flow, on_evict: &mut dyn FnMut(Flow, FlowEnd)) {
        while self.map.len() >= self.limits.max_flows.max(1) {
            match self.pop_oldest(i64::MAX, true) {
                Some(f) => on_evict(f, FlowEnd::Evicted),
                None => break,
            }
        }
        self.queue.push_back((key, flow.queued_ns));
        self.map.insert(key, flow);
    }

    /// Expires flows idle at `now_ns`.
    pub fn expire(&mut self, now_ns: i64, on_expire: &mut dyn FnMut(Flow, FlowEnd)) {
        while let Some(f) = self.pop_oldest(now_ns, false) {
            on_expire(f, FlowEnd::Idle);
        }
    }

    /// Pops the queue front until a flow can be removed: for eviction (`evict`) the least
    /// recently seen flow, otherwise one idle past its timeout at `now_ns`.
    fn pop_oldest(&mut self, now_ns: i64, evict: bool) -> Option<Flow> {
        // Every flow is examined at most twice per call (second chance), so this is bounded.
        let mut budget = self.queue.len() * 2 + 1;
        while let Some(&(key, stamp)) = self.queue.front() {
            if budget == 0 {
                return None;
            }
            budget -= 1;
            let Some(flow) = self.map.get_mut(&key) else {
                // A flow removed by other means leaves a stale queue entry.
                self.queue.pop_front();
                continue;
            };
            if flow.queued_ns != stamp {
                self.queue.pop_front();
                continue;
            }
            if flow.last_ns > stamp {
                // Seen since it was queued: requeue under its latest time.
                self.queue.pop_front();
                flow.queued_ns = flow.last_ns;
                self.queue.push_back((key, flow.last_ns));
                continue;
            }
            if evict {
                self.queue.pop_front();
                return self.map.remove(&key);
            }
            let deadline = flow.last_ns.saturating_add(flow.timeout_ns(&self.limits));
            if deadline <= now_ns {
                self.queue.pop_front();
                return self.map.remove(&key);
            }
            // The front is the least recently seen flow; if even its time is not up (for the
            // shortest timeout), nothing behind it is.
            let shortest =
                self.limits.tcp_closed_ns.min(self.limits.udp_idle_ns).min(self.limits.tcp_idle_ns);
            if flow.last_ns.saturating_add(shortest) > now_ns {
                return None;
            }
            // A longer-timeout flow not due yet: requeue it so shorter ones behind get a look.
            self.queue.pop_front();
            self.queue.push_back((key, stamp));
        }
        None
    }

    /// Removes every flow (end of input).
    pub fn drain(&mut self) -> Vec<Flow> {
        self.queue.clear();
        let mut flows: Vec<Flow> = self.map.drain().map(|(_, f)| f).collect();
        // Close in the order the flows started, so output is deterministic.
        flows.sort_by_key(|f| f.info.id);
        flows
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint { ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port }
    }

    fn flow(id: u64, ts: i64) -> (FlowKey, Flow) {
        let info = FlowInfo {
            id,
            transport: Transport::Udp,
            client: ep(1, 1000 + id as u16),
            server: ep(2, 47808),
            vlan: 0,
            roles_from_syn: false,
        };
        (FlowKey::new(info.client, info.server, 17, 0), Flow::new(info, ts))
    }

    #[test]
    fn key_is_symmetric() {
        assert_eq!(FlowKey::new(ep(1, 5), ep(2, 6), 6, 0), FlowKey::new(ep(2, 6), ep(1, 5), 6, 0));
        assert_ne!(FlowKey::new(ep(1, 5), ep(2, 6), 6, 0), FlowKey::new(ep(1, 5), ep(2, 6), 6, 7));
        assert_ne!(FlowKey::new(ep(1, 5), ep(2, 6), 6, 0), FlowKey::new(ep(1, 5), ep(2, 6), 17, 0));
        assert_ne!(FlowKey::new(ep(1, 5), ep(2, 6), 6, 0), FlowKey::new(ep(1, 6), ep(2, 5), 6, 0));
        // Same address, ports crossed: still one flow each way.
        assert_eq!(FlowKey::new(ep(1, 6), ep(1, 5), 6, 0), FlowKey::new(ep(1, 5), ep(1, 6), 6, 0));
    }

    /// The shard hash of the key as it was first stored (derived `Hash` of the endpoint pairs,
    /// the protocol and the VLAN): sharding, and so the flow ids of a sharded run, stay put.
    #[test]
    fn shard_hash_is_that_of_the_endpoint_pairs() {
        #[derive(Hash)]
        struct Pairs {
            lo: (IpAddr, u16),
            hi: (IpAddr, u16),
            proto: u8,
            vlan: u32,
        }
        let k = FlowKey::new(ep(9, 502), ep(2, 40000), 6, 30);
        let p = Pairs { lo: (ep(2, 0).ip, 40000), hi: (ep(9, 0).ip, 502), proto: 6, vlan: 30 };
        let mut h = FxHasher::default();
        p.hash(&mut h);
        assert_eq!(k.shard_hash(), h.finish());
    }

    #[test]
    fn ipv4_and_ipv6_keys_differ() {
        use std::net::Ipv6Addr;
        let v6 = |last: u16, port| Endpoint {
            ip: IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0x0a00, last)),
            port,
        };
        // ::10.0.0.1 holds the same 32 bits as 10.0.0.1; the keys must still differ.
        assert_ne!(FlowKey::new(ep(1, 5), ep(2, 6), 6, 0), FlowKey::new(v6(1, 5), v6(2, 6), 6, 0));
        assert_eq!(FlowKey::new(v6(1, 5), v6(2, 6), 6, 0), FlowKey::new(v6(2, 6), v6(1, 5), 6, 0));
    }

    #[test]
    fn full_table_evicts_least_recently_seen_and_counts() {
        let mut t = FlowTable::new(FlowLimits { max_flows: 3, ..Default::default() });
        let mut evicted = Vec::new();
        for i in 0..3 {
            let (k, f) = flow(i, i as i64);
            t.insert(k, f, &mut |f, e| evicted.push((f.info.id, e)));
        }
        // Flow 0 is seen again, so flow 1 is now the least recently seen.
        let (k0, _) = flow(0, 0);
        t.get_mut(&k0).unwrap().last_ns = 10;
        let (k, f) = flow(3, 11);
        t.insert(k, f, &mut |f, e| evicted.push((f.info.id, e)));
        assert_eq!(evicted, vec![(1, FlowEnd::Evicted)]);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn idle_flows_expire() {
        let mut t = FlowTable::new(FlowLimits { udp_idle_ns: 100, ..Default::default() });
        for i in 0..4 {
            let (k, f) = flow(i, i as i64 * 10);
            t.insert(k, f, &mut |_, _| {});
        }
        let mut gone = Vec::new();
        t.expire(125, &mut |f, _| gone.push(f.info.id));
        assert_eq!(gone, vec![0, 1, 2]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn flood_of_new_flows_stays_bounded() {
        let mut t = FlowTable::new(FlowLimits { max_flows: 1000, ..Default::default() });
        let mut evictions = 0u64;
        for i in 0..50_000u64 {
            let info = FlowInfo {
                id: i,
                transport: Transport::Tcp,
                client: Endpoint { ip: IpAddr::V4(Ipv4Addr::from(i as u32)), port: 1234 },
                server: ep(2, 502),
                vlan: 0,
                roles_from_syn: true,
            };
            let k = FlowKey::new(info.client, info.server, 6, 0);
            t.insert(k, Flow::new(info, i as i64), &mut |_, _| evictions += 1);
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(evictions, 49_000);
        assert!(t.queue.len() <= 2000);
    }
}
