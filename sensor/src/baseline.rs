//! The baseline: what is normal on this network, learned from captures and reviewed by an
//! engineer before it is trusted.
//!
//! A readable, diffable JSON file (keys sorted, one fact per line): conversations (client →
//! server, transport/port, protocol), listening services per asset, identities per asset,
//! HSMS stream/functions and remote commands per host → tool, Modbus function codes and
//! address ranges per client → server/unit, BACnet services, written objects and enumerated
//! properties per client → device.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::inventory::Inventory;
use crate::record::{Event, FlowRecord, OtBody, OtMessage};

pub const FORMAT: &str = "fabmon-baseline/1";

/// HSMS facts of one host → tool pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HsmsFacts {
    /// Primary data messages the host sent (`S2F41`).
    pub functions: BTreeSet<String>,
    /// Remote commands (S2F41/S2F49 RCMD).
    #[serde(default)]
    pub rcmds: BTreeSet<String>,
    /// The tool's own primaries towards the host (`S6F11`, `S5F1`).
    #[serde(default)]
    pub equipment_functions: BTreeSet<String>,
}

/// Modbus facts of one client → server/unit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModbusFacts {
    /// Function codes (FC 8 and 43 with their sub-function: `8/0`, `43/14`).
    pub functions: BTreeSet<String>,
    /// Address ranges per function code, merged (`"3": [[0, 9], [100, 101]]`).
    #[serde(default)]
    pub ranges: BTreeMap<String, Vec<[u32; 2]>>,
}

/// BACnet facts of one client → device pair.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacnetFacts {
    /// Services requested (`readProperty`, `writeProperty`, `who-Is`).
    pub services: BTreeSet<String>,
    /// Objects and properties written (`analog-output,1 present-value`).
    #[serde(default)]
    pub written: BTreeSet<String>,
    /// Properties read that enumerate a device (`object-list`).
    #[serde(default)]
    pub enumerated: BTreeSet<String>,
}

/// Everything the baseline holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub format: String,
    /// Captures it was learned from, and the time span.
    #[serde(default)]
    pub learned_from: Vec<String>,
    #[serde(default)]
    pub first_seen: Option<String>,
    #[serde(default)]
    pub last_seen: Option<String>,
    /// `client -> server transport/port protocol`.
    #[serde(default)]
    pub conversations: BTreeSet<String>,
    /// Services each asset answers on (`tcp/5000`).
    #[serde(default)]
    pub services: BTreeMap<IpAddr, BTreeSet<String>>,
    /// Identity values per asset (tracked keys only).
    #[serde(default)]
    pub identities: BTreeMap<IpAddr, BTreeMap<String, serde_json::Value>>,
    /// `host -> tool`.
    #[serde(default)]
    pub hsms: BTreeMap<String, HsmsFacts>,
    /// `client -> server unit N`.
    #[serde(default)]
    pub modbus: BTreeMap<String, ModbusFacts>,
    /// `client -> device`.
    #[serde(default)]
    pub bacnet: BTreeMap<String, BacnetFacts>,
    /// Every address seen.
    #[serde(default)]
    pub assets: BTreeSet<IpAddr>,
}

/// Error reading a baseline file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse { path: String, line: usize, column: usize, message: String },
    #[error("{path}: format {found:?} is not {FORMAT:?}")]
    Format { path: String, found: String },
}

pub fn pair(a: IpAddr, b: IpAddr) -> String {
    format!("{a} -> {b}")
}

pub fn modbus_key(client: IpAddr, server: IpAddr, unit: u8) -> String {
    format!("{client} -> {server} unit {unit}")
}

pub fn conversation_key(f: &FlowRecord) -> String {
    let t = match f.transport {
        crate::app::Transport::Tcp => "tcp",
        crate::app::Transport::Udp => "udp",
    };
    format!("{} -> {} {t}/{} {}", f.client, f.server, f.server_port, f.app.unwrap_or("-"))
}

/// `client -> server transport/port` without the protocol (what a rule compares).
pub fn conversation_prefix(key: &str) -> &str {
    key.rsplit_once(' ').map_or(key, |(p, _)| p)
}

impl Baseline {
    pub fn new() -> Baseline {
        Baseline { format: FORMAT.to_string(), ..Default::default() }
    }

    pub fn load(path: &str) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| BaselineError::Io { path: path.to_string(), source })?;
        let b: Baseline = serde_json::from_str(&text).map_err(|e| BaselineError::Parse {
            path: path.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if b.format != FORMAT {
            return Err(BaselineError::Format { path: path.to_string(), found: b.format });
        }
        Ok(b)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Whether the conversation (ignoring which protocol was decoded) was seen.
    pub fn has_conversation(&self, f: &FlowRecord) -> bool {
        let key = conversation_key(f);
        let prefix = conversation_prefix(&key);
        self.conversations
            .range(prefix.to_string()..)
            .next()
            .is_some_and(|k| conversation_prefix(k) == prefix)
    }

    /// Whether `client` talked to `server` at all, on any port.
    pub fn talked(&self, client: IpAddr, server: IpAddr) -> bool {
        let p = format!("{client} -> {server} ");
        self.conversations.range(p.clone()..).next().is_some_and(|k| k.starts_with(&p))
    }

    pub fn hsms(&self, host: IpAddr, tool: IpAddr) -> Option<&HsmsFacts> {
        self.hsms.get(&pair(host, tool))
    }

    pub fn modbus(&self, client: IpAddr, server: IpAddr, unit: u8) -> Option<&ModbusFacts> {
        self.modbus.get(&modbus_key(client, server, unit))
    }

    pub fn bacnet(&self, client: IpAddr, device: IpAddr) -> Option<&BacnetFacts> {
        self.bacnet.get(&pair(client, device))
    }

    /// Whether a Modbus access of `fc` at [start, end] falls in the learned ranges.
    pub fn modbus_range_known(f: &ModbusFacts, fc: &str, start: u32, end: u32) -> bool {
        f.ranges.get(fc).is_some_and(|rs| rs.iter().any(|[a, b]| *a <= start && end <= *b))
    }

    /// The differences from `old` to `self`, one `+`/`-` line per fact.
    pub fn diff(old: &Baseline, new: &Baseline) -> Vec<String> {
        fn lines(b: &Baseline) -> BTreeSet<String> {
            let mut s = BTreeSet::new();
            for c in &b.conversations {
                s.insert(format!("conversation {c}"));
            }
            for (ip, svcs) in &b.services {
                for v in svcs {
                    s.insert(format!("service {ip} {v}"));
                }
            }
            for (ip, id) in &b.identities {
                for (k, v) in id {
                    s.insert(format!("identity {ip} {k}={v}"));
                }
            }
            for (p, f) in &b.hsms {
                for x in &f.functions {
                    s.insert(format!("hsms {p} {x}"));
                }
                for x in &f.rcmds {
                    s.insert(format!("hsms {p} RCMD {x}"));
                }
                for x in &f.equipment_functions {
                    s.insert(format!("hsms {p} equipment {x}"));
                }
            }
            for (p, f) in &b.modbus {
                for x in &f.functions {
                    s.insert(format!("modbus {p} fc {x}"));
                }
                for (fc, rs) in &f.ranges {
                    for [a, z] in rs {
                        s.insert(format!("modbus {p} fc {fc} addresses {a}-{z}"));
                    }
                }
            }
            for (p, f) in &b.bacnet {
                for x in &f.services {
                    s.insert(format!("bacnet {p} {x}"));
                }
                for x in &f.written {
                    s.insert(format!("bacnet {p} writes {x}"));
                }
                for x in &f.enumerated {
                    s.insert(format!("bacnet {p} reads {x}"));
                }
            }
            for ip in &b.assets {
                s.insert(format!("asset {ip}"));
            }
            s
        }
        let (a, b) = (lines(old), lines(new));
        let mut out: Vec<String> = a.difference(&b).map(|l| format!("- {l}")).collect();
        out.extend(b.difference(&a).map(|l| format!("+ {l}")));
        out.sort_by(|x, y| x[2..].cmp(&y[2..]).then(x.cmp(y)));
        out
    }
}

/// Learns a baseline from events.
#[derive(Default)]
pub struct BaselineBuilder {
    b: Baseline,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
}

impl BaselineBuilder {
    pub fn new() -> BaselineBuilder {
        BaselineBuilder { b: Baseline::new(), ..Default::default() }
    }

    /// Merges into an existing baseline (learning from several captures).
    pub fn from_baseline(b: Baseline) -> BaselineBuilder {
        BaselineBuilder { b, ..Default::default() }
    }

    pub fn observe(&mut self, ev: &Event) {
        match ev {
            Event::Flow(f) => self.on_flow(f),
            Event::Message(m) => self.on_message(m),
            Event::Transaction(_) => {}
        }
    }

    fn seen(&mut self, ts: i64) {
        self.first_ns = Some(self.first_ns.map_or(ts, |f| f.min(ts)));
        self.last_ns = Some(self.last_ns.map_or(ts, |l| l.max(ts)));
    }

    fn on_flow(&mut self, f: &FlowRecord) {
        self.seen(f.first_ts_ns);
        self.b.assets.insert(f.client);
        self.b.assets.insert(f.server);
        // An End record knows the decoded protocol; an Answered one may not yet: keep the
        // most specific key for a conversation.
        let key = conversation_key(f);
        let prefix = conversation_prefix(&key).to_string();
        let existing: Vec<String> = self
            .b
            .conversations
            .range(prefix.clone()..)
            .take_while(|k| conversation_prefix(k) == prefix)
            .cloned()
            .collect();
        if f.app.is_some() {
            for k in existing.iter().filter(|k| k.ends_with(" -")) {
                self.b.conversations.remove(k);
            }
            self.b.conversations.insert(key);
        } else if existing.is_empty() {
            self.b.conversations.insert(key);
        }
        if f.answered {
            let t = match f.transport {
                crate::app::Transport::Tcp => "tcp",
                crate::app::Transport::Udp => "udp",
            };
            self.b.services.entry(f.server).or_default().insert(format!("{t}/{}", f.server_port));
        }
    }

    fn on_message(&mut self, m: &OtMessage) {
        self.seen(m.ts_ns);
        self.b.assets.insert(m.src);
        self.b.assets.insert(m.dst);
        if m.malformed {
            return;
        }
        for fact in facts(m) {
            match fact {
                Fact::HsmsHost { host, tool, function, rcmd } => {
                    let e = self.b.hsms.entry(pair(host, tool)).or_default();
                    e.functions.insert(function);
                    if let Some(r) = rcmd {
                        e.rcmds.insert(r);
                    }
                }
                Fact::HsmsEquipment { host, tool, function } => {
                    self.b.hsms.entry(pair(host, tool)).or_default().equipment_functions.insert(function);
                }
                Fact::Modbus { client, server, unit, function, range } => {
                    let e = self.b.modbus.entry(modbus_key(client, server, unit)).or_default();
                    if let Some((fc, a, z)) = range {
                        let rs = e.ranges.entry(fc).or_default();
                        rs.push([a, z]);
                        merge_ranges(rs);
                    }
                    e.functions.insert(function);
                }
                Fact::Bacnet { client, device, service, written, enumerated } => {
                    let e = self.b.bacnet.entry(pair(client, device)).or_default();
                    e.services.insert(service);
                    e.written.extend(written);
                    e.enumerated.extend(enumerated);
                }
            }
        }
    }

    /// The baseline, with the identities the inventory proved.
    pub fn finish(mut self, inventory: &Inventory, sources: &[String]) -> Baseline {
        for a in inventory.assets_sorted() {
            let tracked: BTreeMap<String, serde_json::Value> = a
                .identity
                .values
                .iter()
                .filter(|(k, _)| crate::inventory::identity_tracked(k))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            if !tracked.is_empty() {
                self.b.identities.insert(a.ip, tracked);
            }
        }
        for s in sources {
            if !self.b.learned_from.contains(s) {
                self.b.learned_from.push(s.clone());
            }
        }
        let fmt = crate::time::format_rfc3339_us;
        if let Some(f) = self.first_ns {
            let f = fmt(f);
            if self.b.first_seen.as_ref().is_none_or(|x| f < *x) {
                self.b.first_seen = Some(f);
            }
        }
        if let Some(l) = self.last_ns {
            let l = fmt(l);
            if self.b.last_seen.as_ref().is_none_or(|x| l > *x) {
                self.b.last_seen = Some(l);
            }
        }
        self.b
    }
}

fn merge_ranges(rs: &mut Vec<[u32; 2]>) {
    rs.sort_unstable();
    let mut out: Vec<[u32; 2]> = Vec::with_capacity(rs.len());
    for r in rs.drain(..) {
        match out.last_mut() {
            Some(last) if r[0] <= last[1].saturating_add(1) => last[1] = last[1].max(r[1]),
            _ => out.push(r),
        }
    }
    *rs = out;
}

/// A fact a message contributes to the baseline (and that rules look up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    HsmsHost { host: IpAddr, tool: IpAddr, function: String, rcmd: Option<String> },
    HsmsEquipment { host: IpAddr, tool: IpAddr, function: String },
    Modbus { client: IpAddr, server: IpAddr, unit: u8, function: String, range: Option<(String, u32, u32)> },
    Bacnet { client: IpAddr, device: IpAddr, service: String, written: Vec<String>, enumerated: Vec<String> },
}

/// How an HSMS primary is named in the baseline: `S2F41`, with the disabling forms of S2F37
/// and S5F3 kept apart from the enabling ones (`S2F37 disable`), since only disabling blinds
/// the host.
pub fn hsms_fact_name(h: &crate::hsms::HsmsRecord) -> String {
    use crate::hsms::gem::Gem;
    let sf = format!("S{}F{}", h.stream, h.function);
    match h.gem.as_deref() {
        Some(Gem::EnableEventReport { ceed: false, .. }) => format!("{sf} disable"),
        Some(Gem::EnableAlarm { aled, .. }) if !aled.enable => format!("{sf} disable"),
        _ => sf,
    }
}

/// Facts of a well-formed message: primaries of HSMS, Modbus requests, BACnet requests.
pub fn facts(m: &OtMessage) -> Vec<Fact> {
    use crate::hsms::gem::Gem;
    use crate::modbus::ModbusDir;
    let mut out = Vec::new();
    match &m.body {
        OtBody::Hsms(h) => {
            // Primary data messages only (odd function); replies echo what was asked.
            if h.stype != 0 || h.function % 2 == 0 {
                return out;
            }
            let function = hsms_fact_name(h);
            if m.from_client {
                let rcmd = match h.gem.as_deref() {
                    Some(Gem::HostCommand { rcmd: Some(r), .. }) => Some(r.to_string()),
                    Some(Gem::EnhancedRemoteCommand { rcmd: Some(r), .. }) => Some(r.to_string()),
                    _ => None,
                };
                out.push(Fact::HsmsHost { host: m.src, tool: m.dst, function, rcmd });
            } else {
                out.push(Fact::HsmsEquipment { host: m.dst, tool: m.src, function });
            }
        }
        OtBody::Modbus(r) => {
            if r.dir != ModbusDir::Request {
                return out;
            }
            let function = match (r.fc, r.sub, r.mei) {
                (8, Some(s), _) => format!("8/{s}"),
                (43, _, Some(t)) => format!("43/{t}"),
                (fc, ..) => fc.to_string(),
            };
            let range = match (r.address, r.quantity) {
                (Some(a), Some(q)) if q > 0 => {
                    Some((r.fc.to_string(), u32::from(a), u32::from(a) + u32::from(q) - 1))
                }
                (Some(a), None) => Some((r.fc.to_string(), u32::from(a), u32::from(a))),
                _ => None,
            };
            out.push(Fact::Modbus { client: m.src, server: m.dst, unit: r.unit, function, range });
        }
        OtBody::Bacnet(b) => {
            // Requests only: confirmed (0) and unconfirmed (1) from the requester.
            let (Some(t @ (0 | 1)), Some(_)) = (b.apdu_type, b.service) else { return out };
            let service =
                b.service_name.map(str::to_string).unwrap_or_else(|| format!("service-{t}-{:?}", b.service));
            let mut written = Vec::new();
            let mut enumerated = Vec::new();
            let writes = t == 0 && matches!(b.service, Some(15 | 16));
            for p in &b.properties {
                let obj = p.object.map(|o| o.to_string()).unwrap_or_else(|| "-".into());
                let prop = p.property_name.map(str::to_string).unwrap_or_else(|| p.property.to_string());
                if writes {
                    written.push(format!("{obj} {prop}"));
                } else if p.property == 76 {
                    enumerated.push(prop);
                }
            }
            out.push(Fact::Bacnet { client: m.src, device: m.dst, service, written, enumerated });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge() {
        let mut r = vec![[10, 19], [0, 9], [30, 31], [20, 20]];
        merge_ranges(&mut r);
        assert_eq!(r, vec![[0, 20], [30, 31]]);
    }

    #[test]
    fn diff_lists_added_and_removed_facts() {
        let mut a = Baseline::new();
        a.conversations.insert("10.0.0.1 -> 10.0.0.2 tcp/502 modbus".into());
        let mut b = a.clone();
        b.conversations.insert("10.0.0.9 -> 10.0.0.2 tcp/502 modbus".into());
        b.conversations.remove("10.0.0.1 -> 10.0.0.2 tcp/502 modbus");
        let d = Baseline::diff(&a, &b);
        assert_eq!(
            d,
            vec![
                "- conversation 10.0.0.1 -> 10.0.0.2 tcp/502 modbus".to_string(),
                "+ conversation 10.0.0.9 -> 10.0.0.2 tcp/502 modbus".to_string()
            ]
        );
    }

    #[test]
    fn round_trip_json() {
        let mut a = Baseline::new();
        a.services.entry("10.0.0.2".parse().unwrap()).or_default().insert("tcp/502".into());
        let text = a.to_json();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(&p, text).unwrap();
        assert_eq!(Baseline::load(p.to_str().unwrap()).unwrap(), a);
    }

    #[test]
    fn bad_file_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(&p, "{\n  \"format\": \"fabmon-baseline/1\",\n  \"conversations\": 7\n}").unwrap();
        let e = Baseline::load(p.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains(":3:"), "{e}");
    }
}
