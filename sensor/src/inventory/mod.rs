//! The asset inventory: one asset per IP address, with what the wire proved about it.
//!
//! For each asset: first/last seen, MACs and VLANs, roles observed on the wire, protocols,
//! services it answers on, peers, identity from the wire with the message that proved each
//! value (HSMS MDLN/SOFTREV, Modbus 43/14 objects and FC 17 server id, BACnet device
//! properties), the identity history (a SOFTREV or firmware change is an event), request→reply
//! latency per protocol, and its Purdue level and area with how they were decided (a profile's
//! zones and assets, or the role table in `docs/inventory.md`).
//!
//! Bounded: at most `max_assets` assets (the least recently seen asset without OT role is
//! evicted first, counted), `max_peers` peers and `max_services` services per asset.

mod identity;
mod live;
mod purdue;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::Serialize;

pub use identity::{
    observe as observe_identity, subject as identity_subject, Identity, IdentityChange, Proof,
};
pub use purdue::{infer_level, Placement, ROLE_LEVELS};

use crate::advisory::exposure::{self, Finding, WriteUse};
use crate::advisory::VulnMatch;
use crate::app::Transport;
use crate::profile::Profile;
use crate::record::{Event, FlowPhase, FlowRecord, OtBody, OtMessage};

/// Inventory bounds.
#[derive(Clone, Debug)]
pub struct InventoryLimits {
    pub max_assets: usize,
    pub max_peers: usize,
    pub max_services: usize,
    pub max_history: usize,
}

impl Default for InventoryLimits {
    fn default() -> Self {
        InventoryLimits { max_assets: 100_000, max_peers: 256, max_services: 64, max_history: 32 }
    }
}

/// Roles an asset can be seen in.
pub mod roles {
    pub const HSMS_HOST: &str = "hsms-host";
    pub const HSMS_EQUIPMENT: &str = "hsms-equipment";
    pub const MODBUS_CLIENT: &str = "modbus-client";
    pub const MODBUS_SERVER: &str = "modbus-server";
    pub const BACNET_DEVICE: &str = "bacnet-device";
    pub const BACNET_CLIENT: &str = "bacnet-client";
    pub const TCP_SERVER: &str = "tcp-server";
    pub const UDP_SERVER: &str = "udp-server";
}

/// Latency summary of the replies an asset gave for one protocol.
#[derive(Clone, Debug, Serialize)]
pub struct LatencySummary {
    pub replies: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One asset.
#[derive(Clone, Debug, Serialize)]
pub struct Asset {
    pub ip: IpAddr,
    /// The MAC first seen with this address (absent when the capture has no real MACs, e.g.
    /// loopback or Linux cooked capture without link addresses).
    pub mac: Option<String>,
    /// Every MAC seen with this address (at most 8).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub macs: BTreeSet<String>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub vlans: BTreeSet<u32>,
    /// Purdue level ("2", "3.5"), how it was decided and why.
    pub level: Option<String>,
    pub level_source: &'static str,
    pub level_reason: String,
    pub area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// From the profile's asset list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equipment_class: Option<String>,
    pub roles: BTreeSet<&'static str>,
    pub protocols: BTreeSet<&'static str>,
    /// Services it answers on (`tcp/5000`, `udp/47808`).
    pub services: BTreeSet<String>,
    /// Peers and the protocols used with each.
    pub peers: BTreeMap<IpAddr, BTreeSet<&'static str>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub peers_not_listed: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub identity: Identity,
    /// Earlier identities, oldest first.
    pub identity_history: Vec<Identity>,
    /// Further Modbus units behind this address whose identity differs from the first.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub modbus_units: BTreeMap<u8, Identity>,
    /// Reply latency per protocol (this asset answering).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub latency: BTreeMap<&'static str, LatencySummary>,
    pub messages: u64,
    pub alerts: u64,
    /// Exposure findings (filled by `finalize`; see `docs/advisories.md`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Advisories that apply, when an advisory store was given (see `docs/advisories.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<Vec<VulnMatch>>,
    /// Write-capable operations others performed on this asset, by protocol and client.
    #[serde(skip)]
    pub writes: BTreeMap<(&'static str, IpAddr), WriteUse>,
    /// Peers that acted as clients of this asset, by protocol.
    #[serde(skip)]
    pub clients: BTreeSet<(&'static str, IpAddr)>,
    /// Highest IP TTL seen in packets this asset sent (the first packet of each flow).
    #[serde(skip)]
    pub ttl_max: u8,
    #[serde(skip)]
    hist: BTreeMap<&'static str, hdrhistogram::Histogram<u64>>,
    #[serde(skip)]
    modbus_first_unit: Option<u8>,
    #[serde(skip)]
    queued_ns: i64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Asset {
    fn new(ip: IpAddr, ts_ns: i64) -> Asset {
        let t = crate::time::format_rfc3339_us(ts_ns);
        Asset {
            ip,
            mac: None,
            macs: BTreeSet::new(),
            vlans: BTreeSet::new(),
            level: None,
            level_source: "unknown",
            level_reason: "no OT role seen yet".into(),
            area: None,
            zone: None,
            name: None,
            owner: None,
            equipment_class: None,
            roles: BTreeSet::new(),
            protocols: BTreeSet::new(),
            services: BTreeSet::new(),
            peers: BTreeMap::new(),
            peers_not_listed: 0,
            first_seen: t.clone(),
            last_seen: t,
            first_seen_ns: ts_ns,
            last_seen_ns: ts_ns,
            identity: Identity::default(),
            identity_history: Vec::new(),
            modbus_units: BTreeMap::new(),
            latency: BTreeMap::new(),
            messages: 0,
            alerts: 0,
            findings: Vec::new(),
            vulnerabilities: None,
            writes: BTreeMap::new(),
            clients: BTreeSet::new(),
            ttl_max: 0,
            hist: BTreeMap::new(),
            modbus_first_unit: None,
            queued_ns: ts_ns,
        }
    }

    /// Whether the asset has an OT role or identity (kept longest when the table is full).
    pub fn is_ot(&self) -> bool {
        self.roles.iter().any(|r| !matches!(*r, roles::TCP_SERVER | roles::UDP_SERVER))
            || !self.identity.is_empty()
    }

    fn seen(&mut self, ts_ns: i64) {
        if ts_ns > self.last_seen_ns {
            self.last_seen_ns = ts_ns;
        }
        if ts_ns < self.first_seen_ns {
            self.first_seen_ns = ts_ns;
        }
    }

    fn add_peer(&mut self, peer: IpAddr, proto: &'static str, max: usize) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.insert(proto);
        } else if self.peers.len() < max {
            self.peers.entry(peer).or_default().insert(proto);
        } else {
            self.peers_not_listed += 1;
        }
    }

    fn add_mac(&mut self, mac: Option<[u8; 6]>) {
        let Some(m) = mac else { return };
        // All-zero (loopback) and broadcast/multicast source addresses are not a host's MAC.
        if m == [0; 6] || m[0] & 1 == 1 {
            return;
        }
        let s = crate::record::format_mac(&m);
        if self.mac.is_none() {
            self.mac = Some(s.clone());
        }
        if self.macs.len() < 8 {
            self.macs.insert(s);
        }
    }
}

/// What the inventory noticed that rules care about.
#[derive(Clone, Debug)]
pub enum InventoryEvent {
    /// First packet from or to this address.
    NewAsset { ip: IpAddr, ts_ns: i64, frame: u64 },
    /// An identity value changed (the old identity went to the history).
    IdentityChanged { ip: IpAddr, ts_ns: i64, change: IdentityChange },
    /// A service answered on this asset for the first time.
    NewService { ip: IpAddr, service: String, ts_ns: i64, frame: u64, client: IpAddr },
}

/// The inventory of one run.
pub struct Inventory {
    /// Boxed: the table keeps spare buckets (up to twice the assets while entries churn), and
    /// a spare bucket then costs a pointer, not a whole asset.
    assets: FxHashMap<IpAddr, Box<Asset>>,
    queue: VecDeque<(IpAddr, i64)>,
    limits: InventoryLimits,
    /// Assets evicted because the table was full.
    pub evicted: u64,
}

impl Inventory {
    pub fn new(limits: InventoryLimits) -> Inventory {
        Inventory { assets: FxHashMap::default(), queue: VecDeque::new(), limits, evicted: 0 }
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&Asset> {
        self.assets.get(ip).map(|a| &**a)
    }

    pub fn get_mut(&mut self, ip: &IpAddr) -> Option<&mut Asset> {
        self.assets.get_mut(ip).map(|a| &mut **a)
    }

    /// Takes one event from the decoders; pushes what rules should know into `out`.
    pub fn observe(&mut self, ev: &Event, out: &mut Vec<InventoryEvent>) {
        match ev {
            Event::Message(m) => self.on_message(m, out),
            Event::Flow(f) => self.on_flow(f, out),
            Event::Transaction(_) => {}
        }
    }

    /// The asset for `ip`, created (evicting if full) when new.
    fn touch(&mut self, ip: IpAddr, ts_ns: i64, frame: u64, out: &mut Vec<InventoryEvent>) -> &mut Asset {
        if !self.assets.contains_key(&ip) {
            while self.assets.len() >= self.limits.max_assets.max(1) {
                if !self.evict_one() {
                    break;
                }
            }
            self.assets.insert(ip, Box::new(Asset::new(ip, ts_ns)));
            self.queue.push_back((ip, ts_ns));
            out.push(InventoryEvent::NewAsset { ip, ts_ns, frame });
        }
        let a = self.assets.entry(ip).or_insert_with(|| Box::new(Asset::new(ip, ts_ns)));
        a.seen(ts_ns);
        a
    }

    /// Evicts the least recently seen asset, preferring assets with no OT role or identity.
    fn evict_one(&mut self) -> bool {
        let mut budget = self.queue.len() * 2 + 1;
        let mut fallback: Option<IpAddr> = None;
        while let Some((ip, stamp)) = self.queue.pop_front() {
            budget = budget.saturating_sub(1);
            let Some(a) = self.assets.get_mut(&ip) else { continue };
            if a.queued_ns != stamp {
                continue;
            }
            if a.last_seen_ns > stamp || (a.is_ot() && budget > 0) {
                // Seen since it was queued, or an OT asset while others may go first.
                if a.is_ot() && fallback.is_none() {
                    fallback = Some(ip);
                }
                a.queued_ns = a.last_seen_ns;
                self.queue.push_back((ip, a.last_seen_ns));
                if budget == 0 {
                    break;
                }
                continue;
            }
            self.assets.remove(&ip);
            self.evicted += 1;
            return true;
        }
        if let Some(ip) = fallback {
            self.assets.remove(&ip);
            self.evicted += 1;
            return true;
        }
        false
    }

    fn on_flow(&mut self, f: &FlowRecord, out: &mut Vec<InventoryEvent>) {
        let proto = service_name(f.transport, f.server_port, f.app);
        let max_peers = self.limits.max_peers;
        let max_services = self.limits.max_services;
        let c = self.touch(f.client, f.first_ts_ns, f.first_frame, out);
        c.add_mac(f.client_mac);
        if f.vlan != 0 {
            c.vlans.insert(f.vlan);
        }
        c.seen(f.last_ts_ns);
        c.ttl_max = c.ttl_max.max(f.client_ttl);
        c.add_peer(f.server, proto, max_peers);
        if let Some(p) = f.app {
            c.protocols.insert(p);
        }
        let s = self.touch(f.server, f.first_ts_ns, f.first_frame, out);
        s.add_mac(f.server_mac);
        if f.vlan != 0 {
            s.vlans.insert(f.vlan);
        }
        s.seen(f.last_ts_ns);
        if f.answered {
            s.ttl_max = s.ttl_max.max(f.server_ttl);
        }
        s.add_peer(f.client, proto, max_peers);
        if let Some(p) = f.app {
            s.protocols.insert(p);
        }
        // A service counts once the server answered; a UDP flow counts when the server side
        // replied from the port (a request into the void proves nothing).
        let answered = f.answered && (f.transport == Transport::Udp || f.syn_ack || !f.roles_from_syn);
        if answered && f.phase == FlowPhase::Answered || (answered && f.phase == FlowPhase::End) {
            let svc = format!("{}/{}", transport_name(f.transport), f.server_port);
            if !s.services.contains(&svc) && s.services.len() < max_services {
                s.services.insert(svc.clone());
                s.roles.insert(match f.transport {
                    Transport::Tcp => roles::TCP_SERVER,
                    Transport::Udp => roles::UDP_SERVER,
                });
                out.push(InventoryEvent::NewService {
                    ip: f.server,
                    service: svc,
                    ts_ns: f.first_ts_ns,
                    frame: f.first_frame,
                    client: f.client,
                });
            }
        }
    }

    fn on_message(&mut self, m: &OtMessage, out: &mut Vec<InventoryEvent>) {
        let proto = m.body.proto_name();
        let max_peers = self.limits.max_peers;
        let max_history = self.limits.max_history;
        let (src_role, dst_role) = message_roles(m);
        {
            let a = self.touch(m.src, m.ts_ns, m.frame, out);
            a.messages += 1;
            a.protocols.insert(proto);
            a.add_peer(m.dst, proto, max_peers);
            if let Some(r) = src_role {
                a.roles.insert(r);
            }
            // The replying side's latency.
            if let Some(us) = m.latency_us {
                if !a.hist.contains_key(proto) {
                    if let Some(h) = new_histogram() {
                        a.hist.insert(proto, h);
                    }
                }
                if let Some(h) = a.hist.get_mut(proto) {
                    // Values above the histogram's range are clamped rather than lost.
                    let _ = h.record(us.clamp(1, h.high()));
                }
            }
        }
        {
            let b = self.touch(m.dst, m.ts_ns, m.frame, out);
            b.protocols.insert(proto);
            b.add_peer(m.src, proto, max_peers);
            if let Some(r) = dst_role {
                b.roles.insert(r);
            }
            // Who used the asset as a server, and who wrote to it (exposure findings).
            if matches!(src_role, Some(roles::MODBUS_CLIENT | roles::BACNET_CLIENT | roles::HSMS_HOST))
                && !b.clients.contains(&(proto, m.src))
                && b.clients.len() < max_peers
            {
                b.clients.insert((proto, m.src));
            }
            if !m.malformed && is_write(m) {
                if let Some(w) = b.writes.get_mut(&(proto, m.src)) {
                    w.count += 1;
                } else if b.writes.len() < max_peers {
                    b.writes.insert(
                        (proto, m.src),
                        WriteUse { count: 1, first_frame: m.frame, example: m.body.summary() },
                    );
                }
            }
        }
        if m.malformed {
            // Fields of a malformed message prove nothing about the sender's identity.
            return;
        }
        let Some((obs, unit)) = identity::observe(m) else { return };
        let subject = identity::subject(m);
        if subject != m.src {
            self.touch(subject, m.ts_ns, m.frame, out);
        }
        let Some(a) = self.assets.get_mut(&subject) else { return };
        let proof = Proof::of(m);
        // Modbus gateways answer for several units: the first unit is the asset's identity,
        // others are kept apart unless they say the same.
        if let Some(u) = unit {
            match a.modbus_first_unit {
                None => a.modbus_first_unit = Some(u),
                Some(first) if first != u => {
                    let same = obs.iter().all(|(k, v)| a.identity.get(k).is_none_or(|cur| cur == v));
                    if !same {
                        a.modbus_units.entry(u).or_default().apply(&obs, &proof);
                        return;
                    }
                }
                _ => {}
            }
        }
        if let Some(change) = a.identity.changes(&obs, &proof) {
            if a.identity_history.len() >= max_history {
                a.identity_history.remove(0);
            }
            a.identity_history.push(a.identity.clone());
            a.identity.apply(&obs, &proof);
            out.push(InventoryEvent::IdentityChanged { ip: subject, ts_ns: m.ts_ns, change });
        } else {
            a.identity.apply(&obs, &proof);
        }
    }

    /// Decides level and area of every asset (profile first, else the role table) and fills
    /// the readable fields. Call before reading assets out.
    pub fn finalize(&mut self, profile: &Profile) {
        for a in self.assets.values_mut() {
            a.first_seen = crate::time::format_rfc3339_us(a.first_seen_ns);
            a.last_seen = crate::time::format_rfc3339_us(a.last_seen_ns);
            let p = purdue::place(a.ip, &a.roles, profile);
            a.level = p.level.map(|l| l.to_string());
            a.level_source = p.source;
            a.level_reason = p.reason;
            a.area = p.area;
            a.zone = p.zone;
            if let Some(pa) = profile.asset(a.ip) {
                a.name = Some(pa.name.clone());
                a.owner = pa.owner.clone();
                a.equipment_class = pa.equipment_class.clone();
            }
            a.latency = a.latency_now();
        }
        let levels: std::collections::HashMap<IpAddr, Option<String>> =
            self.assets.iter().map(|(ip, a)| (*ip, a.level.clone())).collect();
        for a in self.assets.values_mut() {
            a.findings = exposure::findings(a, &levels);
        }
    }

    /// Matches every asset's identity (and the further Modbus units' identities) against the
    /// advisories and fills `vulnerabilities`.
    pub fn assess(&mut self, index: &crate::advisory::AdvisoryIndex) {
        for a in self.assets.values_mut() {
            let mut v = index.match_identity(&a.identity);
            for u in a.modbus_units.values() {
                for m in index.match_identity(u) {
                    if !v.iter().any(|x| x.advisory == m.advisory) {
                        v.push(m);
                    }
                }
            }
            a.vulnerabilities = Some(v);
        }
    }

    /// Placement of one address now (for rules, before `finalize`).
    pub fn placement(&self, ip: IpAddr, profile: &Profile) -> Placement {
        let empty = BTreeSet::new();
        let roles = self.assets.get(&ip).map_or(&empty, |a| &a.roles);
        purdue::place(ip, roles, profile)
    }

    /// Assets sorted by level (unknown last), then address.
    pub fn assets_sorted(&self) -> Vec<&Asset> {
        let mut v: Vec<&Asset> = self.assets.values().map(|a| &**a).collect();
        v.sort_by(|a, b| {
            let la = a.level.as_deref().and_then(|l| l.parse::<f32>().ok()).unwrap_or(99.0);
            let lb = b.level.as_deref().and_then(|l| l.parse::<f32>().ok()).unwrap_or(99.0);
            la.total_cmp(&lb).then(a.ip.cmp(&b.ip))
        });
        v
    }
}

/// Whether a request changes state on its target: Modbus writes, BACnet writes, device
/// control and file writes, HSMS remote commands, recipe download/delete and equipment
/// constants.
pub fn is_write(m: &OtMessage) -> bool {
    match &m.body {
        OtBody::Modbus(r) => {
            r.dir == crate::modbus::ModbusDir::Request && matches!(r.fc, 5 | 6 | 15 | 16 | 21 | 22 | 23)
        }
        OtBody::Bacnet(b) => {
            matches!((b.apdu_type, b.service), (Some(0), Some(7 | 15 | 16 | 17 | 20)) | (Some(1), Some(10)))
        }
        OtBody::Hsms(h) => {
            m.from_client
                && h.stype == 0
                && matches!((h.stream, h.function), (2, 15 | 41 | 49) | (7, 3 | 17 | 23))
        }
    }
}

fn new_histogram() -> Option<hdrhistogram::Histogram<u64>> {
    // 1 µs to 1 hour at 2 significant digits: a few KiB per asset and protocol.
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 2).ok()
}

/// Roles of the sender and receiver of a message.
fn message_roles(m: &OtMessage) -> (Option<&'static str>, Option<&'static str>) {
    use crate::modbus::ModbusDir;
    match &m.body {
        OtBody::Hsms(_) => {
            // The active side (client) is the host; the passive side the equipment.
            if m.from_client {
                (Some(roles::HSMS_HOST), Some(roles::HSMS_EQUIPMENT))
            } else {
                (Some(roles::HSMS_EQUIPMENT), Some(roles::HSMS_HOST))
            }
        }
        OtBody::Modbus(r) if m.malformed => {
            let _ = r;
            (None, None)
        }
        OtBody::Modbus(r) => match r.dir {
            ModbusDir::Request => (Some(roles::MODBUS_CLIENT), Some(roles::MODBUS_SERVER)),
            ModbusDir::Response => (Some(roles::MODBUS_SERVER), Some(roles::MODBUS_CLIENT)),
        },
        OtBody::Bacnet(b) => match (b.apdu_type, b.service) {
            // Confirmed COV and event notifications (1, 2, 31) are requests a device sends to
            // its subscriber, and the subscriber acknowledges them.
            (Some(0), Some(1 | 2 | 31)) => (Some(roles::BACNET_DEVICE), Some(roles::BACNET_CLIENT)),
            (Some(2 | 3 | 5), Some(1 | 2 | 31)) => (Some(roles::BACNET_CLIENT), Some(roles::BACNET_DEVICE)),
            // Confirmed request: client → device.
            (Some(0), _) => (Some(roles::BACNET_CLIENT), Some(roles::BACNET_DEVICE)),
            // Simple/complex ACK, error: device → client.
            (Some(2 | 3 | 5), _) => (Some(roles::BACNET_DEVICE), Some(roles::BACNET_CLIENT)),
            // I-Am, I-Have, COV and event notifications come from devices.
            (Some(1), Some(0 | 1 | 2 | 3)) => (Some(roles::BACNET_DEVICE), None),
            // Who-Is, Who-Has and other unconfirmed requests come from clients.
            (Some(1), Some(7 | 8)) => (Some(roles::BACNET_CLIENT), None),
            _ => (None, None),
        },
    }
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    }
}

/// A protocol name for a service: the decoded OT protocol, else a well-known port name, else
/// `tcp`/`udp`.
pub fn service_name(t: Transport, port: u16, app: Option<&'static str>) -> &'static str {
    if let Some(a) = app {
        return a;
    }
    match (t, port) {
        (Transport::Tcp, 21) => "ftp",
        (Transport::Tcp, 22) => "ssh",
        (Transport::Tcp, 23) => "telnet",
        (Transport::Tcp, 25) => "smtp",
        (Transport::Udp, 53) | (Transport::Tcp, 53) => "dns",
        (Transport::Udp, 67 | 68) => "dhcp",
        (Transport::Udp, 69) => "tftp",
        (Transport::Tcp, 80 | 8080) => "http",
        (Transport::Udp, 123) => "ntp",
        (Transport::Tcp, 135) => "msrpc",
        (Transport::Udp, 137 | 138) | (Transport::Tcp, 139) => "netbios",
        (Transport::Udp, 161 | 162) => "snmp",
        (Transport::Tcp, 443 | 8443) => "https",
        (Transport::Tcp, 445) => "smb",
        (Transport::Udp, 514) | (Transport::Tcp, 514 | 6514) => "syslog",
        (Transport::Tcp, 502) => "modbus",
        (Transport::Tcp, 802) => "modbus-tls",
        (Transport::Tcp, 3389) => "rdp",
        (Transport::Tcp, 5900..=5910) => "vnc",
        (Transport::Tcp, 5985 | 5986) => "winrm",
        (Transport::Udp, 47808..=47823) => "bacnet",
        (Transport::Tcp, _) => "tcp",
        (Transport::Udp, _) => "udp",
    }
}

/// Whether a change of this identity key is an identity change (see `identity::TRACKED_KEYS`).
pub fn identity_tracked(key: &str) -> bool {
    identity::TRACKED_KEYS.contains(&key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::bacnet::BacnetRecord;

    fn bacnet(src: &str, dst: &str, frame: u64, apdu_type: u8, service: u8) -> Event {
        Event::Message(OtMessage {
            body: OtBody::Bacnet(BacnetRecord {
                bvlc: 0x0a,
                bvlc_type: 0x81,
                apdu_type: Some(apdu_type),
                service: Some(service),
                ..Default::default()
            }),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport: 47808,
            dport: 47808,
            frame,
            ts_ns: frame as i64 * 1_000_000,
            flow: 1,
            malformed: false,
            anomalies: Vec::new(),
            request_frame: None,
            latency_us: None,
            orphan: false,
            from_client: true,
        })
    }

    #[test]
    fn confirmed_cov_notification_comes_from_the_device() {
        let (bms, ahu) = ("192.0.2.10", "192.0.2.21");
        let mut inv = Inventory::new(InventoryLimits::default());
        let mut out = Vec::new();
        // ReadProperty and its ComplexACK, then a ConfirmedCOVNotification from the device
        // and the subscriber's SimpleACK.
        for ev in [
            bacnet(bms, ahu, 1, 0, 12),
            bacnet(ahu, bms, 2, 3, 12),
            bacnet(ahu, bms, 3, 0, 1),
            bacnet(bms, ahu, 4, 2, 1),
        ] {
            inv.observe(&ev, &mut out);
        }
        inv.finalize(&Profile::empty());
        let a = inv.get(&ahu.parse().unwrap()).unwrap();
        assert_eq!(a.roles.iter().copied().collect::<Vec<_>>(), [roles::BACNET_DEVICE]);
        assert_eq!((a.level.as_deref(), a.level_source), (Some("1"), "inferred"));
        let b = inv.get(&bms.parse().unwrap()).unwrap();
        assert_eq!(b.roles.iter().copied().collect::<Vec<_>>(), [roles::BACNET_CLIENT]);
        assert_eq!(b.level.as_deref(), Some("3"));
    }
}
