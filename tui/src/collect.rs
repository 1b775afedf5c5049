//! Snapshots from a running sensor: a [`Collector`] is the event sink of a run (it feeds the
//! [`Monitor`] and keeps the few recent messages per asset the console shows) and turns the
//! monitor's state plus the engine's counters into a bounded [`Snapshot`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use fabmon_sensor::alert::{Alert, Severity};
use fabmon_sensor::alert_uid::alert_uid;
use fabmon_sensor::capture::SourceStats;
use fabmon_sensor::engine::EngineStats;
use fabmon_sensor::inventory::{Asset, Identity};
use fabmon_sensor::monitor::Monitor;
use fabmon_sensor::pipeline::EventSink;
use fabmon_sensor::record::Event;

use crate::model::{
    AlertView, AssetGroup, AssetView, HealthItem, IdentityChangeView, IdentityValue, LatencyView,
    MessageLine, Overview, PeerView, RateHistory, RateSample, Snapshot, SourceInfo, MAX_ALERTS, MAX_ASSETS,
    MAX_PEERS, MAX_RECENT,
};

/// Assets for which recent messages are kept at once; messages of further assets are counted.
pub const MAX_RECENT_ASSETS: usize = 10_000;

/// Counters at the previous sample, for rates.
#[derive(Clone, Copy, Default)]
struct Mark {
    ts_ns: i64,
    packets: u64,
    bytes: u64,
    messages: u64,
    drops: u64,
    errors: u64,
    alerts: u64,
}

/// Feeds a monitor and remembers what the console needs between snapshots.
pub struct Collector {
    pub monitor: Monitor,
    /// Sensor id used in alert uids.
    pub sensor: String,
    recent: HashMap<IpAddr, VecDeque<MessageLine>>,
    /// Messages not kept because [`MAX_RECENT_ASSETS`] assets already had recent messages.
    pub recent_not_kept: u64,
    history: RateHistory,
    mark: Option<Mark>,
    seq: u64,
    uids: HashMap<u64, String>,
}

/// What the engine side knows besides the monitor.
#[derive(Clone, Debug, Default)]
pub struct EngineView<'a> {
    pub stats: Option<&'a EngineStats>,
    pub source: Option<&'a SourceStats>,
    pub flows_active: u64,
    pub reassembly_memory: u64,
}

impl Collector {
    pub fn new(monitor: Monitor, sensor: &str) -> Collector {
        Collector {
            monitor,
            sensor: sensor.to_string(),
            recent: HashMap::new(),
            recent_not_kept: 0,
            history: RateHistory::default(),
            mark: None,
            seq: 0,
            uids: HashMap::new(),
        }
    }

    fn remember(&mut self, ip: IpAddr, line: &MessageLine) {
        let len = self.recent.len();
        match self.recent.get_mut(&ip) {
            Some(q) => {
                if q.len() >= MAX_RECENT {
                    q.pop_front();
                }
                q.push_back(line.clone());
            }
            None if len < MAX_RECENT_ASSETS => {
                self.recent.insert(ip, VecDeque::from([line.clone()]));
            }
            None => self.recent_not_kept += 1,
        }
    }

    /// A bounded snapshot of everything now.
    pub fn snapshot(&mut self, engine: &EngineView<'_>, source: SourceInfo) -> Snapshot {
        self.seq += 1;
        let mut ov = Overview::default();
        let drops = if let Some(e) = engine.stats {
            ov.packets = e.packets;
            ov.bytes = e.bytes;
            ov.flows_total = e.flows_created;
            ov.messages = e.messages.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            ov.decode_errors = e.messages_malformed.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            for (layer, n) in &e.malformed {
                ov.drops.insert(format!("malformed {layer}"), *n);
            }
            if e.not_ip > 0 {
                ov.drops.insert("not IP".into(), e.not_ip);
            }
            let unknown: u64 = e.unknown_link.values().sum();
            if unknown > 0 {
                ov.drops.insert("unknown link type".into(), unknown);
            }
            if e.dropped_queue_full_packets > 0 {
                ov.drops.insert("worker queue full".into(), e.dropped_queue_full_packets);
            }
            let r = &e.reassembly;
            let gaps = r.gaps_acked_unseen
                + r.gaps_ooo_full
                + r.gaps_buffer_full
                + r.gaps_far_ahead
                + r.gaps_snaplen
                + r.gaps_memory;
            if gaps > 0 {
                ov.drops.insert("TCP gaps".into(), gaps);
            }
            ov.health.push(HealthItem {
                name: "TCP gaps".into(),
                value: format!("{} ({} bytes)", gaps, r.gap_bytes),
                ok: r.gaps_memory == 0 && r.gaps_buffer_full == 0,
            });
            ov.health.push(HealthItem {
                name: "flows evicted".into(),
                value: e.flows_evicted.to_string(),
                ok: e.flows_evicted == 0,
            });
            ov.drops.values().sum::<u64>()
        } else {
            0
        };
        let mut drops = drops;
        if let Some(s) = engine.source {
            if s.kernel_drops > 0 {
                ov.drops.insert("kernel".into(), s.kernel_drops);
                drops += s.kernel_drops;
            }
            ov.health.push(HealthItem {
                name: "capture".into(),
                value: match s.truncated_at {
                    Some(off) => format!("{} records, truncated at offset {off}", s.records),
                    None => format!("{} records, {} kernel drops", s.records, s.kernel_drops),
                },
                ok: s.truncated_at.is_none() && s.kernel_drops == 0,
            });
        }
        ov.flows_active = engine.flows_active;
        ov.health.push(HealthItem {
            name: "reassembly memory".into(),
            value: format!("{} KiB", engine.reassembly_memory / 1024),
            ok: true,
        });
        let inv = &self.monitor.inventory;
        ov.health.push(HealthItem {
            name: "inventory".into(),
            value: format!("{} assets, {} evicted", inv.len(), inv.evicted),
            ok: inv.evicted == 0,
        });
        let overflowed = self.monitor.alerts_overflowed();
        ov.health.push(HealthItem {
            name: "alert table".into(),
            value: format!("{} alerts, {} folded into overflow", self.monitor.alerts().len(), overflowed),
            ok: overflowed == 0,
        });
        if self.recent_not_kept > 0 {
            ov.health.push(HealthItem {
                name: "recent messages".into(),
                value: format!("{} not kept (more than {MAX_RECENT_ASSETS} assets)", self.recent_not_kept),
                ok: false,
            });
        }
        let mut occurrences = 0u64;
        for a in self.monitor.alerts() {
            *ov.alerts_by_severity.entry(a.severity).or_default() += 1;
            occurrences += a.count;
        }
        let messages: u64 = ov.messages.values().sum();
        let errors: u64 = ov.decode_errors.values().sum();
        let now = Mark {
            ts_ns: source.capture_ts_ns.unwrap_or(0),
            packets: ov.packets,
            bytes: ov.bytes,
            messages,
            drops,
            errors,
            alerts: occurrences,
        };
        if let Some(prev) = self.mark {
            let dt = (now.ts_ns - prev.ts_ns) as f64 / 1e9;
            if dt > 0.0 {
                let rate = |a: u64, b: u64| (a.saturating_sub(b) as f64 / dt).round() as u64;
                self.history.push(RateSample {
                    packets_per_s: rate(now.packets, prev.packets),
                    bytes_per_s: rate(now.bytes, prev.bytes),
                    messages_per_s: rate(now.messages, prev.messages),
                    drops_per_s: rate(now.drops, prev.drops),
                    decode_errors_per_s: rate(now.errors, prev.errors),
                    alerts_per_s: rate(now.alerts, prev.alerts),
                    flows_active: engine.flows_active,
                });
                self.mark = Some(now);
            }
        } else {
            self.mark = Some(now);
        }
        ov.history = self.history.clone();

        let assets = self.assets();
        let total_assets = self.monitor.inventory.len() as u64;
        let (alerts, alerts_not_shown) = self.alerts();
        Snapshot {
            seq: self.seq,
            source,
            overview: ov,
            assets_not_shown: total_assets.saturating_sub(assets.len() as u64),
            assets,
            alerts,
            alerts_not_shown,
        }
    }

    fn assets(&mut self) -> Vec<AssetView> {
        let inv = &self.monitor.inventory;
        let mut list: Vec<&Asset> = inv.iter().collect();
        if list.len() > MAX_ASSETS {
            list.sort_by(|a, b| b.is_ot().cmp(&a.is_ot()).then(b.last_seen_ns.cmp(&a.last_seen_ns)));
            list.truncate(MAX_ASSETS);
        }
        // Forget recent messages of assets the inventory no longer holds.
        if self.recent.len() > inv.len() {
            self.recent.retain(|ip, _| inv.get(ip).is_some());
        }
        list.iter().map(|a| asset_view(&self.monitor, a, self.recent.get(&a.ip))).collect()
    }

    fn alerts(&mut self) -> (Vec<AlertView>, u64) {
        let all = self.monitor.alerts();
        let mut idx: Vec<usize> = (0..all.len()).collect();
        idx.sort_by(|&a, &b| all[b].ts_ns.cmp(&all[a].ts_ns).then(all[b].id.cmp(&all[a].id)));
        let not_shown = idx.len().saturating_sub(MAX_ALERTS) as u64;
        idx.truncate(MAX_ALERTS);
        // The uid depends only on fields that never change: computed once per alert.
        let (uids, sensor) = (&mut self.uids, &self.sensor);
        let views = idx
            .iter()
            .map(|&i| {
                let a = &all[i];
                let uid = uids.entry(a.id).or_insert_with(|| alert_uid(sensor, a)).clone();
                alert_view(a, uid)
            })
            .collect();
        (views, not_shown)
    }
}

impl EventSink for Collector {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        for ev in events {
            if let Event::Message(m) = ev {
                let line = MessageLine {
                    ts_ns: m.ts_ns,
                    frame: m.frame,
                    proto: m.body.proto_name().to_string(),
                    src: m.src.to_string(),
                    dst: m.dst.to_string(),
                    summary: m.body.summary(),
                    malformed: m.malformed,
                };
                self.remember(m.src, &line);
                if m.dst != m.src {
                    self.remember(m.dst, &line);
                }
            }
            self.monitor.observe(ev);
        }
        Ok(true)
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn identity_values(id: &Identity) -> Vec<IdentityValue> {
    id.values
        .iter()
        .map(|(k, v)| IdentityValue {
            key: k.to_string(),
            value: plain(v),
            proof: id.proof.get(k).map(|p| format!("{} frame {}", p.message, p.frame)).unwrap_or_default(),
        })
        .collect()
}

fn asset_view(m: &Monitor, a: &Asset, recent: Option<&VecDeque<MessageLine>>) -> AssetView {
    let place = m.inventory.placement(a.ip, &m.profile);
    let level = place.level.map(|l| l.to_string());
    let area = place.area.clone();
    let mut history = Vec::new();
    let chain: Vec<&Identity> = a.identity_history.iter().chain(std::iter::once(&a.identity)).collect();
    for pair in chain.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        let mut what = Vec::new();
        let mut ts = String::new();
        for (k, nv) in &new.values {
            let ov = old.values.get(k);
            if ov != Some(nv) {
                what.push(format!("{k} {} → {}", ov.map(plain).unwrap_or_else(|| "-".into()), plain(nv)));
                if ts.is_empty() {
                    ts = new.proof.get(k).map(|p| p.ts.clone()).unwrap_or_default();
                }
            }
        }
        if !what.is_empty() {
            history.push(IdentityChangeView { ts, what: what.join(", ") });
        }
    }
    AssetView {
        ip: a.ip.to_string(),
        name: m.profile.asset(a.ip).map(|p| p.name.clone()).or_else(|| a.name.clone()),
        mac: a.mac.clone(),
        group: AssetGroup::of(level.as_deref(), area.as_deref()),
        level,
        level_source: place.source.to_string(),
        level_reason: place.reason,
        area,
        zone: place.zone,
        roles: a.roles.iter().map(|r| r.to_string()).collect(),
        protocols: a.protocols.iter().map(|r| r.to_string()).collect(),
        services: a.services.iter().cloned().collect(),
        identity: identity_values(&a.identity),
        identity_history: history,
        peers: a
            .peers
            .iter()
            .take(MAX_PEERS)
            .map(|(ip, protos)| PeerView {
                ip: ip.to_string(),
                protocols: protos.iter().map(|p| p.to_string()).collect(),
                level: m.inventory.placement(*ip, &m.profile).level.map(|l| l.to_string()),
            })
            .collect(),
        peers_not_listed: a.peers_not_listed + a.peers.len().saturating_sub(MAX_PEERS) as u64,
        first_seen_ns: a.first_seen_ns,
        last_seen_ns: a.last_seen_ns,
        messages: a.messages,
        alerts: a.alerts,
        recent: recent.map(|q| q.iter().cloned().collect()).unwrap_or_default(),
        latency: a
            .latency_now()
            .into_iter()
            .map(|(p, l)| LatencyView {
                proto: p.to_string(),
                replies: l.replies,
                p50_us: l.p50_us,
                p99_us: l.p99_us,
                max_us: l.max_us,
            })
            .collect(),
    }
}

/// One evidence message as a line: `frame 812: S2F41 W RCMD=START 10.30.0.12 → 10.20.1.5`.
pub fn evidence_line(v: &serde_json::Value) -> String {
    let get = |k: &str| v.get(k).map(plain).unwrap_or_default();
    if v.get("what").is_some() {
        let mut s = format!("frame {}: {} {} → {}", get("frame"), get("what"), get("src"), get("dst"));
        if v.get("malformed").and_then(|m| m.as_bool()) == Some(true) {
            s.push_str(" [malformed]");
        }
        if let Some(a) = v.get("anomalies").and_then(|a| a.as_array()).filter(|a| !a.is_empty()) {
            let names: Vec<String> = a.iter().map(plain).collect();
            s.push_str(&format!(" [{}]", names.join(", ")));
        }
        s
    } else {
        v.to_string()
    }
}

/// The view of one alert.
pub fn alert_view(a: &Alert, uid: String) -> AlertView {
    AlertView {
        uid,
        rule: a.rule.to_string(),
        severity: a.severity,
        count: a.count,
        first_ts_ns: a.first_ts_ns,
        ts_ns: a.ts_ns,
        src: a.src.map(|ip| ip.to_string()),
        dst: a.dst.map(|ip| ip.to_string()),
        proto: a.proto.map(str::to_string),
        key: a.key.clone(),
        summary: a.summary.clone(),
        src_level: a.purdue.src.clone(),
        dst_level: a.purdue.dst.clone(),
        standard: a.standard.to_string(),
        ot_item: a.ot_item.to_string(),
        evidence_frames: a.evidence.frames.clone(),
        frames_not_listed: a.evidence.frames_not_listed,
        evidence: a.evidence.messages.iter().map(evidence_line).collect(),
    }
}

/// Severity from its name (`info`..`critical`).
pub fn severity_named(s: &str) -> Option<Severity> {
    match s.to_ascii_lowercase().as_str() {
        "info" => Some(Severity::Info),
        "low" => Some(Severity::Low),
        "medium" | "med" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" | "crit" => Some(Severity::Critical),
        _ => None,
    }
}
