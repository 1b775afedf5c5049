//! One pass of the pipeline feeds the inventory, the rules, the alerts and the dataset: the
//! [`DatasetSink`] hands every event to the [`Monitor`] and then turns the event, the inventory
//! changes it caused and, per interval, the alerts and counters into rows. Everything here runs
//! on the thread that receives the events (the state side), never on the packet workers.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::rows::Rows;
use super::{Dataset, TableReport};
use crate::alert::Alert;
use crate::bacnet::record::{object_type_name, property_name};
use crate::capture::SourceStats;
use crate::engine::EngineStats;
use crate::hsms::gem::{Gem, GemValue};
use crate::inventory::{Asset, InventoryEvent};
use crate::modbus::{ModbusClass, ModbusDir};
use crate::monitor::{Monitor, MonitorOutput};
use crate::pipeline::{Counters, EventSink, RunSummary};
use crate::profile::{ConduitVerdict, FlowService, Profile};
use crate::record::{Event, FlowPhase, FlowRecord, OtBody, OtMessage};

/// Empty intervals written one by one after a gap in the traffic; beyond, the gap is skipped
/// (its length shows in the next row's `interval_s`).
pub const MAX_HEARTBEAT_ROWS: u32 = 360;

/// Intervals of the sink, in capture time.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub sensor: String,
    /// A `stats` row (and the `alerts` rows of alerts that grew) every this many ns.
    pub stats_interval_ns: i64,
    /// A `snapshot` row per asset every this many ns.
    pub snapshot_interval_ns: i64,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            sensor: "sensor".into(),
            stats_interval_ns: 10_000_000_000,
            snapshot_interval_ns: 300_000_000_000,
        }
    }
}

/// Counters behind a `stats` row: running totals.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    packets: u64,
    bytes: u64,
    kernel_drops: u64,
    queue_drops: u64,
    malformed_packets: u64,
    unknown_linktype: u64,
    flows_created: u64,
    flows_ended: u64,
    flows_evicted: u64,
    reassembly_gaps: u64,
    messages: [u64; 3],
    errors: [u64; 3],
}

const PROTOS: [&str; 3] = ["hsms", "modbus", "bacnet"];

impl Totals {
    fn of(e: &EngineStats, s: &SourceStats) -> Totals {
        let r = &e.reassembly;
        Totals {
            packets: e.packets,
            bytes: e.bytes,
            kernel_drops: s.kernel_drops,
            queue_drops: e.dropped_queue_full_packets,
            malformed_packets: e.malformed.values().sum(),
            unknown_linktype: e.unknown_link.values().sum(),
            flows_created: e.flows_created,
            flows_ended: e.flows_closed + e.flows_expired + e.flows_evicted,
            flows_evicted: e.flows_evicted,
            reassembly_gaps: r.gaps_acked_unseen
                + r.gaps_ooo_full
                + r.gaps_buffer_full
                + r.gaps_far_ahead
                + r.gaps_snaplen
                + r.gaps_memory,
            messages: PROTOS.map(|p| e.messages.get(p).copied().unwrap_or(0)),
            errors: PROTOS.map(|p| e.messages_malformed.get(p).copied().unwrap_or(0)),
        }
    }

    fn plus(&self, o: &Totals) -> Totals {
        let add3 = |a: [u64; 3], b: [u64; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
        Totals {
            packets: self.packets + o.packets,
            bytes: self.bytes + o.bytes,
            kernel_drops: self.kernel_drops + o.kernel_drops,
            queue_drops: self.queue_drops + o.queue_drops,
            malformed_packets: self.malformed_packets + o.malformed_packets,
            unknown_linktype: self.unknown_linktype + o.unknown_linktype,
            flows_created: self.flows_created + o.flows_created,
            flows_ended: self.flows_ended + o.flows_ended,
            flows_evicted: self.flows_evicted + o.flows_evicted,
            reassembly_gaps: self.reassembly_gaps + o.reassembly_gaps,
            messages: add3(self.messages, o.messages),
            errors: add3(self.errors, o.errors),
        }
    }
}

/// What the sink saw, for the run's summary.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SinkCounts {
    pub messages: u64,
    pub flows_ended: u64,
    pub identity_changes: u64,
}

/// The monitor plus the dataset (absent when the run writes no files).
pub struct DatasetSink {
    monitor: Monitor,
    ds: Option<Dataset>,
    cfg: SinkConfig,
    stop: Option<Arc<AtomicBool>>,
    json: Vec<u8>,
    /// Latest capture time seen, and when (wall clock) it was seen.
    clock_ns: Option<i64>,
    clock_at: Instant,
    interval_start: Option<i64>,
    next_snapshot: Option<i64>,
    /// Totals of finished sources, of the current one, and at the last `stats` row.
    base: Totals,
    current: Totals,
    at_last_row: Totals,
    occurrences_at_last_row: u64,
    /// Per alert (index in the monitor's list): (count, latest ts, evidence frames) written.
    alerts_written: Vec<(u64, i64, usize)>,
    pub counts: SinkCounts,
}

impl DatasetSink {
    pub fn new(monitor: Monitor, ds: Option<Dataset>, cfg: SinkConfig) -> DatasetSink {
        DatasetSink {
            monitor,
            ds,
            cfg,
            stop: None,
            json: Vec::with_capacity(1024),
            clock_ns: None,
            clock_at: Instant::now(),
            interval_start: None,
            next_snapshot: None,
            base: Totals::default(),
            current: Totals::default(),
            at_last_row: Totals::default(),
            occurrences_at_last_row: 0,
            alerts_written: Vec::new(),
            counts: SinkCounts::default(),
        }
    }

    /// Stops the run (at the next batch) once `flag` is set, e.g. by SIGINT/SIGTERM.
    pub fn with_stop(mut self, flag: Arc<AtomicBool>) -> DatasetSink {
        self.stop = Some(flag);
        self
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Per-table counts so far (empty without a dataset).
    pub fn reports(&self) -> Vec<TableReport> {
        self.ds.as_ref().map(Dataset::reports).unwrap_or_default()
    }

    /// One source (capture file) ended with `summary`: its final counters are taken and the
    /// next source counts from zero.
    pub fn end_source(&mut self, summary: &RunSummary) {
        self.current = Totals::of(&summary.engine, &summary.source);
        self.base = self.base.plus(&self.current);
        self.current = Totals::default();
        if let Some(ts) = summary.last_ts_ns {
            self.advance(ts);
        }
    }

    /// Ends the run: the final `stats` row, the alerts that grew, a snapshot of every asset;
    /// closes every file; returns the monitor's output and the per-table counts.
    pub fn finish(mut self, sources: &[String]) -> (MonitorOutput, Vec<TableReport>) {
        let now = self.clock_ns.unwrap_or(0);
        if self.ds.is_some() {
            let start = self.interval_start.unwrap_or(now);
            self.stats_row(now, now.saturating_sub(start), false);
            self.flush_alerts();
            self.snapshot_assets(now);
        }
        let reports = match self.ds.as_mut() {
            Some(ds) => {
                ds.close();
                ds.reports()
            }
            None => Vec::new(),
        };
        (self.monitor.finish(sources), reports)
    }

    fn totals(&self) -> Totals {
        self.base.plus(&self.current)
    }

    /// Moves the capture clock to `ts` (never backwards): writes the `stats` rows of the
    /// intervals that ended, the alerts that grew, asset snapshots when due; rotates files.
    fn advance(&mut self, ts: i64) {
        if self.clock_ns.is_some_and(|c| ts <= c) {
            return;
        }
        self.clock_ns = Some(ts);
        self.clock_at = Instant::now();
        if self.ds.is_none() {
            return;
        }
        let iv = self.cfg.stats_interval_ns.max(1);
        let Some(mut start) = self.interval_start else {
            self.interval_start = Some(ts.div_euclid(iv) * iv);
            self.next_snapshot = Some(ts.div_euclid(iv) * iv + self.cfg.snapshot_interval_ns.max(1));
            return;
        };
        let mut rows = 0;
        while ts >= start + iv {
            let end = start + iv;
            let heartbeat = self.totals().packets == self.at_last_row.packets;
            self.stats_row(end, iv, heartbeat);
            self.flush_alerts();
            start = end;
            rows += 1;
            if rows >= MAX_HEARTBEAT_ROWS {
                start = ts.div_euclid(iv) * iv;
                break;
            }
        }
        self.interval_start = Some(start);
        if self.next_snapshot.is_some_and(|n| ts >= n) {
            self.snapshot_assets(ts);
            let si = self.cfg.snapshot_interval_ns.max(1);
            self.next_snapshot = Some((ts.div_euclid(si) + 1) * si);
        }
        if let Some(ds) = self.ds.as_mut() {
            ds.tick(ts);
        }
    }

    fn stats_row(&mut self, ts: i64, interval_ns: i64, heartbeat: bool) {
        let now = self.totals();
        let last = self.at_last_row;
        let occurrences: u64 = self.monitor.alerts().iter().map(|a| a.count).sum();
        let alerts = occurrences.saturating_sub(self.occurrences_at_last_row);
        self.at_last_row = now;
        self.occurrences_at_last_row = occurrences;
        let Some(ds) = self.ds.as_mut() else { return };
        let sensor = self.cfg.sensor.as_str();
        let d = |a: u64, b: u64| a.saturating_sub(b);
        ds.stats.append(ts, |r| {
            r.ts(ts);
            r.str(sensor);
            r.f64(interval_ns as f64 / 1e9);
            r.bool(heartbeat);
            r.u64(d(now.packets, last.packets));
            r.u64(d(now.bytes, last.bytes));
            r.u64(d(now.kernel_drops, last.kernel_drops));
            r.u64(d(now.queue_drops, last.queue_drops));
            r.u64(d(now.malformed_packets, last.malformed_packets));
            r.u64(d(now.unknown_linktype, last.unknown_linktype));
            r.u64(d(now.flows_created, now.flows_ended));
            r.u64(d(now.flows_evicted, last.flows_evicted));
            r.u64(d(now.reassembly_gaps, last.reassembly_gaps));
            for i in 0..3 {
                r.u64(d(now.messages[i], last.messages[i]));
            }
            for i in 0..3 {
                r.u64(d(now.errors[i], last.errors[i]));
            }
            r.u64(alerts);
        });
    }

    /// Writes a row for every alert created or grown since the last flush.
    fn flush_alerts(&mut self) {
        let Some(ds) = self.ds.as_mut() else { return };
        let alerts = self.monitor.alerts();
        if self.alerts_written.len() < alerts.len() {
            self.alerts_written.resize(alerts.len(), (0, i64::MIN, 0));
        }
        for (a, w) in alerts.iter().zip(self.alerts_written.iter_mut()) {
            let now = (a.count, a.ts_ns, a.evidence.frames.len());
            if *w == now {
                continue;
            }
            *w = now;
            self.json.clear();
            if serde_json::to_writer(&mut self.json, &a.evidence).is_err() {
                self.json.clear();
            }
            let evidence = std::str::from_utf8(&self.json).unwrap_or("");
            alert_row(&mut ds.alerts, &self.cfg.sensor, a, evidence);
        }
    }

    fn snapshot_assets(&mut self, ts: i64) {
        let Some(ds) = self.ds.as_mut() else { return };
        let inv = &self.monitor.inventory;
        for a in inv.assets_sorted() {
            asset_row(&mut ds.assets, &self.cfg.sensor, &self.monitor.profile, inv, a, "snapshot", ts, None);
        }
    }

    fn observe(&mut self, ev: &Event) {
        self.monitor.observe(ev);
        let Some(ds) = self.ds.as_mut() else {
            if let Event::Message(_) = ev {
                self.counts.messages += 1;
            }
            return;
        };
        let sensor = self.cfg.sensor.as_str();
        match ev {
            Event::Message(m) => {
                self.counts.messages += 1;
                self.json.clear();
                if serde_json::to_writer(&mut self.json, &m).is_err() {
                    self.json.clear();
                }
                let detail = std::str::from_utf8(&self.json).unwrap_or("");
                ds.messages.append(m.ts_ns, |r| message_row(r, sensor, m, detail));
            }
            Event::Flow(f) if f.phase == FlowPhase::End => {
                self.counts.flows_ended += 1;
                let inv = &self.monitor.inventory;
                let profile = &self.monitor.profile;
                ds.flows.append(f.last_ts_ns, |r| flow_row(r, sensor, f, inv, profile));
            }
            _ => {}
        }
        let inv = &self.monitor.inventory;
        let profile = &self.monitor.profile;
        for ie in self.monitor.inventory_events() {
            match ie {
                InventoryEvent::NewAsset { ip, ts_ns, .. } => {
                    if let Some(a) = inv.get(ip) {
                        asset_row(&mut ds.assets, sensor, profile, inv, a, "new", *ts_ns, None);
                    }
                }
                InventoryEvent::IdentityChanged { ip, ts_ns, change } => {
                    let Some(a) = inv.get(ip) else { continue };
                    let summary = match ev {
                        Event::Message(m) => m.body.summary(),
                        _ => change.proof.message.clone(),
                    };
                    for (key, old, new) in &change.changes {
                        self.counts.identity_changes += 1;
                        let c = Change {
                            field: key,
                            old: &value_text(old),
                            new: &value_text(new),
                            frame: change.proof.frame,
                            summary: &summary,
                        };
                        asset_row(
                            &mut ds.assets,
                            sensor,
                            profile,
                            inv,
                            a,
                            "identity_change",
                            *ts_ns,
                            Some(c),
                        );
                    }
                }
                InventoryEvent::NewService { .. } => {}
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

impl EventSink for DatasetSink {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        for ev in events {
            self.observe(ev);
        }
        Ok(!self.stopped())
    }

    fn on_counters(&mut self, c: &Counters<'_>) {
        self.current = Totals::of(c.engine, c.source);
        self.advance(c.ts_ns);
    }

    fn on_idle(&mut self) {
        // Live capture without traffic: capture time moves with the wall clock.
        if let Some(c) = self.clock_ns {
            let gone = i64::try_from(self.clock_at.elapsed().as_nanos()).unwrap_or(i64::MAX);
            if gone >= 1_000_000_000 {
                self.advance(c.saturating_add(gone));
            }
        }
    }
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn gem_text(v: &Option<GemValue>) -> Option<String> {
    v.as_ref().map(|g| g.to_string())
}

fn gem_u64(v: &Option<GemValue>) -> Option<u64> {
    match v.as_ref()? {
        GemValue::U(n) => Some(*n),
        GemValue::I(n) => u64::try_from(*n).ok(),
        GemValue::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Purdue level as the dataset writes it: `L2`, `L3.5`.
fn level_name(l: impl std::fmt::Display) -> String {
    format!("L{l}")
}

/// Whether a message changes state on its target (see the `is_write` column).
pub fn is_write(m: &OtMessage) -> bool {
    match &m.body {
        OtBody::Hsms(h) => {
            h.stype == 0
                && matches!(
                    (h.stream, h.function),
                    (1, 15)
                        | (1, 17)
                        | (2, 15)
                        | (2, 31)
                        | (2, 33)
                        | (2, 35)
                        | (2, 37)
                        | (2, 41)
                        | (2, 49)
                        | (5, 3)
                        | (7, 3)
                        | (7, 17)
                )
        }
        OtBody::Modbus(r) => {
            r.dir == ModbusDir::Request && matches!(r.class, ModbusClass::Write | ModbusClass::Program)
        }
        OtBody::Bacnet(b) => matches!(
            (b.apdu_type, b.service),
            (Some(0), Some(7 | 8 | 9 | 10 | 11 | 15 | 16 | 17 | 20)) | (Some(1), Some(6 | 9 | 10))
        ),
    }
}

/// The `kind` column.
pub fn message_kind(m: &OtMessage) -> String {
    match &m.body {
        OtBody::Hsms(h) => match (h.stype, h.stype_name) {
            (0, _) => "data".into(),
            (_, Some(n)) => n.to_ascii_lowercase(),
            (st, None) => format!("stype-{st}"),
        },
        OtBody::Modbus(r) if r.exception.is_some() => "exception".into(),
        OtBody::Modbus(r) => match r.dir {
            ModbusDir::Request => "request".into(),
            ModbusDir::Response => "response".into(),
        },
        OtBody::Bacnet(b) => match b.apdu_type {
            Some(t) => {
                crate::bacnet::record::pdu_type_name(t).map_or_else(|| format!("apdu-{t}"), str::to_string)
            }
            None if b.network_message.is_some() => "network".into(),
            None => "bvlc".into(),
        },
    }
}

fn message_row(r: &mut Rows, sensor: &str, m: &OtMessage, detail: &str) {
    let src = m.src.to_string();
    let dst = m.dst.to_string();
    r.ts(m.ts_ns);
    r.str(sensor);
    r.u64(m.frame);
    r.u64(m.flow);
    r.str(m.body.proto_name());
    r.str(src.as_str());
    r.str(dst.as_str());
    r.u16(m.sport);
    r.u16(m.dport);
    r.str(message_kind(m).as_str());
    r.str(m.body.summary().as_str());
    // HSMS and GEM.
    let mut gem: [Option<String>; 4] = Default::default(); // rcmd, ppid, mdln, softrev
    let (mut ceid, mut alid) = (None, None);
    match &m.body {
        OtBody::Hsms(h) => {
            let data = h.stype == 0;
            r.u8(data.then_some(h.stream));
            r.u8(data.then_some(h.function));
            r.bool(data.then_some(h.wbit));
            r.u32(h.system);
            r.u16(h.session_id);
            r.u8(h.stype);
            match h.gem.as_deref() {
                Some(Gem::HostCommand { rcmd, .. }) | Some(Gem::EnhancedRemoteCommand { rcmd, .. }) => {
                    gem[0] = gem_text(rcmd)
                }
                Some(Gem::ProcessProgramSend { ppid, .. })
                | Some(Gem::ProcessProgramRequest { ppid })
                | Some(Gem::ProcessProgramData { ppid, .. }) => gem[1] = gem_text(ppid),
                Some(Gem::EventReport { ceid: c, .. }) => ceid = gem_u64(c),
                Some(Gem::AlarmReport { alid: a, .. }) | Some(Gem::EnableAlarm { alid: a, .. }) => {
                    alid = gem_u64(a)
                }
                Some(Gem::OnlineData { mdln, softrev })
                | Some(Gem::EstablishComm { mdln, softrev })
                | Some(Gem::EstablishCommAck { mdln, softrev, .. }) => {
                    gem[2] = mdln.clone();
                    gem[3] = softrev.clone();
                }
                _ => {}
            }
        }
        _ => {
            for _ in 0..3 {
                r.u8(None);
            }
            r.u32(None);
            r.u16(None);
            r.u8(None);
        }
    }
    r.str(gem[0].as_deref());
    r.str(gem[1].as_deref());
    r.u64(ceid);
    r.u64(alid);
    r.str(gem[2].as_deref());
    r.str(gem[3].as_deref());
    // Modbus.
    match &m.body {
        OtBody::Modbus(x) => {
            r.u8(x.unit);
            r.u8(x.fc);
            r.u8(x.exception);
            r.u32(x.address.map(u32::from));
            r.u32(x.quantity.map(u32::from));
        }
        _ => {
            for _ in 0..3 {
                r.u8(None);
            }
            r.u32(None);
            r.u32(None);
        }
    }
    // BACnet.
    match &m.body {
        OtBody::Bacnet(b) => {
            r.str(b.service_name);
            let first = b.properties.iter().find(|p| p.object.is_some());
            let (obj, prop) = match first {
                Some(p) => {
                    (p.object.map(|o| (o.object_type, o.instance)), Some((p.property, p.property_name)))
                }
                None => (b.identity.as_ref().and_then(|i| i.device_instance).map(|d| (8u16, d)), None),
            };
            let otype = obj.map(|(t, _)| object_type_name(t).map_or_else(|| t.to_string(), str::to_string));
            r.str(otype.as_deref());
            r.u32(obj.map(|(_, i)| i));
            let pname =
                prop.map(|(p, n)| n.or(property_name(p)).map_or_else(|| p.to_string(), str::to_string));
            r.str(pname.as_deref());
        }
        _ => {
            r.str(None);
            r.str(None);
            r.u32(None);
            r.str(None);
        }
    }
    r.bool(is_write(m));
    r.u64(m.request_frame);
    r.u64(m.latency_us);
    r.bool(m.orphan);
    r.bool(m.malformed);
    r.strs(m.anomalies.iter().copied());
    r.str(detail);
}

fn flow_row(
    r: &mut Rows,
    sensor: &str,
    f: &FlowRecord,
    inv: &crate::inventory::Inventory,
    profile: &Profile,
) {
    let level = |ip: IpAddr| inv.placement(ip, profile).level.map(level_name);
    let svc = match f.transport {
        crate::app::Transport::Tcp => FlowService::tcp(f.server_port),
        crate::app::Transport::Udp => FlowService::udp(f.server_port),
    };
    let svc = match f.app.and_then(|a| crate::app::AppProto::ALL.into_iter().find(|p| p.name() == a)) {
        Some(a) => svc.with_app(a),
        None => svc,
    };
    let conduit = match profile.conduit_allowed(f.client, f.server, svc) {
        ConduitVerdict::Allowed(_) => "allowed",
        ConduitVerdict::NotAllowed => "denied",
        ConduitVerdict::NoPolicy => "unknown",
    };
    let end = match f.end {
        Some("closed") if f.rst => "rst",
        Some("closed") => "fin",
        Some("idle") => "idle",
        Some("evicted") => "evicted",
        _ => "shutdown",
    };
    r.ts(f.last_ts_ns);
    r.ts(f.first_ts_ns);
    r.str(sensor);
    r.u64(f.flow);
    r.str(match f.transport {
        crate::app::Transport::Tcp => "tcp",
        crate::app::Transport::Udp => "udp",
    });
    r.str(f.client.to_string().as_str());
    r.u16(f.client_port);
    r.str(f.server.to_string().as_str());
    r.u16(f.server_port);
    r.u32(f.vlan);
    r.str(f.app);
    r.u64(f.packets_to_server);
    r.u64(f.packets_to_client);
    r.u64(f.bytes_to_server);
    r.u64(f.bytes_to_client);
    r.str(end);
    r.str(level(f.client).as_deref());
    r.str(level(f.server).as_deref());
    r.str(conduit);
    r.u64(f.first_frame);
    r.str(f.client_mac.as_ref().map(crate::record::format_mac).as_deref());
    r.str(f.server_mac.as_ref().map(crate::record::format_mac).as_deref());
    r.bool(f.answered);
}

/// The change an `identity_change` row records.
struct Change<'a> {
    field: &'a str,
    old: &'a str,
    new: &'a str,
    frame: u64,
    summary: &'a str,
}

#[allow(clippy::too_many_arguments)]
fn asset_row(
    w: &mut super::TableWriter,
    sensor: &str,
    profile: &Profile,
    inv: &crate::inventory::Inventory,
    a: &Asset,
    reason: &str,
    ts: i64,
    change: Option<Change<'_>>,
) {
    let place = inv.placement(a.ip, profile);
    let pa = profile.asset(a.ip);
    let id = |keys: &[&str]| keys.iter().find_map(|k| a.identity.get(k)).map(value_text);
    let idn = |k: &str| a.identity.get(k).and_then(serde_json::Value::as_u64);
    let identity = serde_json::to_string(&a.identity).unwrap_or_default();
    let peers: Vec<String> = a.peers.keys().map(IpAddr::to_string).collect();
    w.append(ts, |r| {
        r.ts(ts);
        r.str(sensor);
        r.str(reason);
        r.str(a.ip.to_string().as_str());
        r.str(a.mac.as_deref());
        r.str(pa.map(|p| p.name.as_str()));
        r.str(place.level.map(level_name).as_deref());
        r.str(place.source);
        r.str(place.area.as_deref());
        r.str(place.zone.as_deref());
        r.str(pa.and_then(|p| p.owner.as_deref()));
        r.str(pa.and_then(|p| p.equipment_class.as_deref()));
        r.str(id(&["vendor", "vendor_name"]).as_deref());
        r.str(id(&["model", "model_name", "product_name"]).as_deref());
        r.str(id(&["firmware", "revision"]).as_deref());
        r.str(id(&["mdln"]).as_deref());
        r.str(id(&["softrev"]).as_deref());
        r.str(id(&["product_code"]).as_deref());
        r.u32(idn("device_instance").and_then(|v| u32::try_from(v).ok()));
        r.u16(idn("vendor_id").and_then(|v| u16::try_from(v).ok()));
        r.strs(a.roles.iter().copied());
        r.strs(a.protocols.iter().copied());
        r.strs(a.services.iter().map(String::as_str));
        r.strs(peers.iter().map(String::as_str));
        r.ts(a.first_seen_ns);
        r.ts(a.last_seen_ns);
        r.u64(a.messages);
        r.u64(a.alerts);
        r.str(identity.as_str());
        match &change {
            Some(c) => {
                r.str(c.field);
                r.str(c.old);
                r.str(c.new);
                r.u64(c.frame);
                r.str(c.summary);
            }
            None => {
                r.str(None);
                r.str(None);
                r.str(None);
                r.u64(None);
                r.str(None);
            }
        }
    });
}

fn alert_row(w: &mut super::TableWriter, sensor: &str, a: &Alert, evidence: &str) {
    let lv =
        |l: &Option<String>| l.as_ref().map(|l| if l.starts_with('L') { l.clone() } else { level_name(l) });
    let uid = crate::alert_uid::alert_uid(sensor, a);
    w.append(a.ts_ns, |r| {
        r.ts(a.ts_ns);
        r.ts(a.first_ts_ns);
        r.str(sensor);
        r.str(uid.as_str());
        r.str(a.rule);
        r.str(a.severity.name());
        r.u64(a.count);
        r.str(a.src.map(|i| i.to_string()).as_deref());
        r.str(a.dst.map(|i| i.to_string()).as_deref());
        r.str(a.proto);
        r.str(a.key.as_str());
        r.str(a.summary.as_str());
        r.str(lv(&a.purdue.src).as_deref());
        r.str(lv(&a.purdue.dst).as_deref());
        r.str(a.standard);
        r.str(a.ot_item);
        r.u64s(&a.evidence.frames);
        r.str(evidence);
    });
}
