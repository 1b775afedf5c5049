//! History: a snapshot from a Parquet dataset written by `fabmon run --out DIR` (layout and
//! columns in the dataset contract, `docs/ARCHITECTURE.md`), read with the `parquet` crate's
//! arrow reader. Only the columns the console shows are read; partitions outside the time
//! range are not opened; files still being written (`.part-*.tmp`) are counted, not read.
//!
//! Bounded like a live snapshot: the last [`MAX_RECENT`] messages per asset, the newest
//! [`MAX_ALERTS`] alerts (one per uid, the row with the largest count), [`HISTORY_POINTS`]
//! points of rates. Unreadable files and rows are reported in the snapshot and skipped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type, UInt64Type};
use fabmon_sensor::alert::Severity;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::collect::{evidence_line, severity_named};
use crate::model::{
    AlertView, AssetGroup, AssetView, HealthItem, IdentityChangeView, IdentityValue, MessageLine, Overview,
    PeerView, RateHistory, RateSample, Snapshot, SourceInfo, HISTORY_POINTS, MAX_ALERTS, MAX_ASSETS,
    MAX_PEERS, MAX_RECENT,
};

/// The dataset schema this reader understands (file metadata `fabmon.schema`).
pub const SCHEMA: &str = "fabmon-dataset/1";

/// Time range of a history view (ns since the epoch; both ends optional, `to` exclusive).
#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Range {
    fn contains(&self, ts: i64) -> bool {
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts < t)
    }

    /// Whether the hour starting at `start` overlaps the range.
    fn overlaps_hour(&self, start: i64) -> bool {
        let end = start + 3_600_000_000_000;
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|t| start < t)
    }
}

/// Errors that stop reading a dataset (problems with single files are reported, not raised).
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0}: not a fabmon dataset directory (no messages, assets, alerts or stats folder)")]
    NotADataset(String),
}

/// What the reader went through.
#[derive(Default)]
struct Tally {
    files: u64,
    open_files: u64,
    rows: u64,
    errors: Vec<String>,
    sensors: std::collections::BTreeSet<String>,
}

impl Tally {
    fn error(&mut self, e: String) {
        // Keep the list short: the first errors name the problem, the count says the rest.
        if self.errors.len() < 20 {
            self.errors.push(e);
        } else if self.errors.len() == 20 {
            self.errors.push("further errors not listed".into());
        }
    }
}

/// The Parquet files of `table` whose partition overlaps `range`, in path order.
fn files(dir: &Path, table: &str, range: &Range, tally: &mut Tally) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(dates) = std::fs::read_dir(dir.join(table)) else { return out };
    let mut dates: Vec<PathBuf> = dates.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dates.sort();
    for d in dates {
        let Some(date) = d.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("date=")) else {
            continue;
        };
        let Ok(hours) = std::fs::read_dir(&d) else { continue };
        let mut hours: Vec<PathBuf> = hours.filter_map(|e| e.ok().map(|e| e.path())).collect();
        hours.sort();
        for h in hours {
            let Some(hour) = h.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("hour="))
            else {
                continue;
            };
            if let Some(start) = fabmon_sensor::time::parse_rfc3339(&format!("{date}T{hour}:00:00Z")) {
                if !range.overlaps_hour(start) {
                    continue;
                }
            }
            let Ok(parts) = std::fs::read_dir(&h) else { continue };
            let mut parts: Vec<PathBuf> = parts.filter_map(|e| e.ok().map(|e| e.path())).collect();
            parts.sort();
            for p in parts {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with(".part-") && name.ends_with(".tmp") {
                    tally.open_files += 1;
                } else if name.starts_with("part-") && name.ends_with(".parquet") {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Reads `cols` (those present) of one file, batch by batch.
fn read(path: &Path, cols: &[&str], tally: &mut Tally, mut f: impl FnMut(&RecordBatch)) {
    let res = (|| -> Result<(), String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let b = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
        let kv = b.metadata().file_metadata().key_value_metadata();
        let meta = |k: &str| kv.and_then(|kv| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone()));
        match meta("fabmon.schema") {
            Some(s) if s == SCHEMA => {}
            Some(s) => return Err(format!("schema {s:?}, expected {SCHEMA:?}")),
            None => return Err("no fabmon.schema metadata".into()),
        }
        if let Some(s) = meta("fabmon.sensor") {
            tally.sensors.insert(s);
        }
        let roots: Vec<usize> =
            cols.iter().filter_map(|c| b.schema().fields().iter().position(|fl| fl.name() == c)).collect();
        let mask = ProjectionMask::roots(b.parquet_schema(), roots);
        let reader = b.with_projection(mask).with_batch_size(8192).build().map_err(|e| e.to_string())?;
        for batch in reader {
            let batch = batch.map_err(|e| e.to_string())?;
            tally.rows += batch.num_rows() as u64;
            f(&batch);
        }
        Ok(())
    })();
    tally.files += 1;
    if let Err(e) = res {
        tally.error(format!("{}: {e}", path.display()));
    }
}

/// Column helpers: a column cast to one plain type, or None when absent or not castable.
struct Cols<'a>(&'a RecordBatch);

impl Cols<'_> {
    fn cast(&self, name: &str, t: &DataType) -> Option<ArrayRef> {
        let c = self.0.column_by_name(name)?;
        cast(c, t).ok()
    }

    fn str(&self, name: &str) -> Vec<Option<String>> {
        let n = self.0.num_rows();
        match self.cast(name, &DataType::Utf8) {
            Some(a) => {
                let s = a.as_string::<i32>();
                (0..n).map(|i| s.is_valid(i).then(|| s.value(i).to_string())).collect()
            }
            None => vec![None; n],
        }
    }

    fn u64(&self, name: &str) -> Vec<Option<u64>> {
        let n = self.0.num_rows();
        match self.cast(name, &DataType::UInt64) {
            Some(a) => {
                let s = a.as_primitive::<UInt64Type>();
                (0..n).map(|i| s.is_valid(i).then(|| s.value(i))).collect()
            }
            None => vec![None; n],
        }
    }

    fn f64(&self, name: &str) -> Vec<Option<f64>> {
        let n = self.0.num_rows();
        match self.cast(name, &DataType::Float64) {
            Some(a) => {
                let s = a.as_primitive::<arrow::datatypes::Float64Type>();
                (0..n).map(|i| s.is_valid(i).then(|| s.value(i))).collect()
            }
            None => vec![None; n],
        }
    }

    /// Timestamps as ns since the epoch.
    fn ts(&self, name: &str) -> Vec<Option<i64>> {
        let n = self.0.num_rows();
        let Some(c) = self.0.column_by_name(name) else { return vec![None; n] };
        let as_ns = cast(c, &DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, None))
            .ok()
            .and_then(|a| cast(&a, &DataType::Int64).ok());
        match as_ns {
            Some(a) => {
                let s = a.as_primitive::<Int64Type>();
                (0..n).map(|i| s.is_valid(i).then(|| s.value(i))).collect()
            }
            None => vec![None; n],
        }
    }

    fn bool(&self, name: &str) -> Vec<Option<bool>> {
        let n = self.0.num_rows();
        match self.cast(name, &DataType::Boolean) {
            Some(a) => {
                let s = a.as_boolean();
                (0..n).map(|i| s.is_valid(i).then(|| s.value(i))).collect()
            }
            None => vec![None; n],
        }
    }

    fn str_list(&self, name: &str) -> Vec<Vec<String>> {
        let n = self.0.num_rows();
        let t = DataType::List(std::sync::Arc::new(Field::new("item", DataType::Utf8, true)));
        match self.cast(name, &t) {
            Some(a) => {
                let l = a.as_list::<i32>();
                (0..n)
                    .map(|i| {
                        if !l.is_valid(i) {
                            return Vec::new();
                        }
                        let v = l.value(i);
                        let s = v.as_string::<i32>();
                        (0..s.len()).filter(|&j| s.is_valid(j)).map(|j| s.value(j).to_string()).collect()
                    })
                    .collect()
            }
            None => vec![Vec::new(); n],
        }
    }

    fn u64_list(&self, name: &str) -> Vec<Vec<u64>> {
        let n = self.0.num_rows();
        let t = DataType::List(std::sync::Arc::new(Field::new("item", DataType::UInt64, true)));
        match self.cast(name, &t) {
            Some(a) => {
                let l = a.as_list::<i32>();
                (0..n)
                    .map(|i| {
                        if !l.is_valid(i) {
                            return Vec::new();
                        }
                        let v = l.value(i);
                        let s = v.as_primitive::<UInt64Type>();
                        (0..s.len()).filter(|&j| s.is_valid(j)).map(|j| s.value(j)).collect()
                    })
                    .collect()
            }
            None => vec![Vec::new(); n],
        }
    }
}

/// Reads the dataset in `dir` within `range` into one snapshot.
pub fn load(dir: &Path, range: Range) -> Result<Snapshot, HistoryError> {
    if !["messages", "assets", "alerts", "stats"].iter().any(|t| dir.join(t).is_dir()) {
        return Err(HistoryError::NotADataset(dir.display().to_string()));
    }
    let mut tally = Tally::default();
    let mut ov = Overview::default();
    let (first, last) = read_stats(dir, &range, &mut tally, &mut ov);
    let recent = read_messages(dir, &range, &mut tally, &mut ov);
    ov.flows_total = read_flows(dir, &range, &mut tally);
    let (mut assets, assets_total) = read_assets(dir, &range, &mut tally, recent);
    assets.truncate(MAX_ASSETS);
    let (alerts, alerts_total) = read_alerts(dir, &range, &mut tally);
    for a in &alerts {
        *ov.alerts_by_severity.entry(a.severity).or_default() += 1;
    }
    ov.health.push(HealthItem {
        name: "dataset".into(),
        value: format!("{} files, {} rows read, sensors {}", tally.files, tally.rows, {
            let s: Vec<&str> = tally.sensors.iter().map(String::as_str).collect();
            if s.is_empty() {
                "-".to_string()
            } else {
                s.join(", ")
            }
        }),
        ok: tally.errors.is_empty(),
    });
    if tally.open_files > 0 {
        ov.health.push(HealthItem {
            name: "files being written".into(),
            value: format!("{} (not read until closed)", tally.open_files),
            ok: true,
        });
    }
    let detail = match (range.from, range.to) {
        (None, None) => "all time".to_string(),
        (f, t) => format!(
            "{} .. {}",
            f.map(crate::model::rfc3339).unwrap_or_else(|| "start".into()),
            t.map(crate::model::rfc3339).unwrap_or_else(|| "end".into())
        ),
    };
    let alerts_not_shown = alerts_total.saturating_sub(alerts.len() as u64);
    Ok(Snapshot {
        seq: 1,
        source: SourceInfo {
            mode: "history".into(),
            name: dir.display().to_string(),
            detail,
            capture_ts_ns: last,
            first_ts_ns: first,
            progress: Some(1.0),
            finished: true,
            errors: tally.errors,
        },
        overview: ov,
        assets_not_shown: assets_total.saturating_sub(assets.len() as u64),
        assets,
        alerts,
        alerts_not_shown,
    })
}

fn read_stats(dir: &Path, range: &Range, tally: &mut Tally, ov: &mut Overview) -> (Option<i64>, Option<i64>) {
    const COUNTS: &[&str] = &[
        "packets",
        "bytes",
        "kernel_drops",
        "queue_drops",
        "malformed_packets",
        "unknown_linktype",
        "flows_active",
        "flows_evicted",
        "reassembly_gaps",
        "messages_hsms",
        "messages_modbus",
        "messages_bacnet",
        "decode_errors_hsms",
        "decode_errors_modbus",
        "decode_errors_bacnet",
        "alerts",
    ];
    let mut rows: Vec<(i64, f64, BTreeMap<&str, u64>)> = Vec::new();
    let mut cols: Vec<&str> = vec!["ts", "interval_s"];
    cols.extend_from_slice(COUNTS);
    for f in files(dir, "stats", range, tally) {
        read(&f, &cols, tally, |b| {
            let c = Cols(b);
            let ts = c.ts("ts");
            let iv = c.f64("interval_s");
            let vals: Vec<(&str, Vec<Option<u64>>)> = COUNTS.iter().map(|k| (*k, c.u64(k))).collect();
            for i in 0..b.num_rows() {
                let Some(t) = ts[i].filter(|t| range.contains(*t)) else { continue };
                let m = vals.iter().map(|(k, v)| (*k, v[i].unwrap_or(0))).collect();
                rows.push((t, iv[i].unwrap_or(0.0), m));
            }
        });
    }
    rows.sort_by_key(|r| r.0);
    let sum = |k: &str| rows.iter().map(|r| r.2.get(k).copied().unwrap_or(0)).sum::<u64>();
    ov.packets = sum("packets");
    ov.bytes = sum("bytes");
    ov.flows_active = rows.last().and_then(|r| r.2.get("flows_active").copied()).unwrap_or(0);
    for p in ["hsms", "modbus", "bacnet"] {
        let m = sum(&format!("messages_{p}"));
        if m > 0 {
            ov.messages.insert(p.into(), m);
        }
        let e = sum(&format!("decode_errors_{p}"));
        if e > 0 {
            ov.decode_errors.insert(p.into(), e);
        }
    }
    for (k, name) in [
        ("kernel_drops", "kernel"),
        ("queue_drops", "worker queue full"),
        ("malformed_packets", "malformed header"),
        ("unknown_linktype", "unknown link type"),
        ("reassembly_gaps", "TCP gaps"),
    ] {
        let n = sum(k);
        if n > 0 {
            ov.drops.insert(name.into(), n);
        }
    }
    ov.health.push(HealthItem {
        name: "flows evicted".into(),
        value: sum("flows_evicted").to_string(),
        ok: sum("flows_evicted") == 0,
    });
    // Rates: rows merged into at most HISTORY_POINTS points.
    let per = rows.len().div_ceil(HISTORY_POINTS).max(1);
    let mut h = RateHistory::default();
    for chunk in rows.chunks(per) {
        let secs: f64 = chunk.iter().map(|r| r.1).sum::<f64>().max(1e-9);
        let s = |k: &str| chunk.iter().map(|r| r.2.get(k).copied().unwrap_or(0)).sum::<u64>();
        let rate = |n: u64| (n as f64 / secs).round() as u64;
        h.push(RateSample {
            packets_per_s: rate(s("packets")),
            bytes_per_s: rate(s("bytes")),
            messages_per_s: rate(s("messages_hsms") + s("messages_modbus") + s("messages_bacnet")),
            drops_per_s: rate(
                s("kernel_drops") + s("queue_drops") + s("malformed_packets") + s("unknown_linktype"),
            ),
            decode_errors_per_s: rate(
                s("decode_errors_hsms") + s("decode_errors_modbus") + s("decode_errors_bacnet"),
            ),
            alerts_per_s: rate(s("alerts")),
            flows_active: chunk.last().and_then(|r| r.2.get("flows_active").copied()).unwrap_or(0),
        });
    }
    ov.history = h;
    (rows.first().map(|r| r.0), rows.last().map(|r| r.0))
}

fn read_messages(
    dir: &Path,
    range: &Range,
    tally: &mut Tally,
    ov: &mut Overview,
) -> HashMap<String, VecDeque<MessageLine>> {
    let mut recent: HashMap<String, VecDeque<MessageLine>> = HashMap::new();
    let count_from_stats = !ov.messages.is_empty();
    let cols = ["ts", "frame", "proto", "src", "dst", "summary", "malformed"];
    for f in files(dir, "messages", range, tally) {
        read(&f, &cols, tally, |b| {
            let c = Cols(b);
            let (ts, frame, proto, src, dst, summary, malformed) = (
                c.ts("ts"),
                c.u64("frame"),
                c.str("proto"),
                c.str("src"),
                c.str("dst"),
                c.str("summary"),
                c.bool("malformed"),
            );
            for i in 0..b.num_rows() {
                let Some(t) = ts[i].filter(|t| range.contains(*t)) else { continue };
                let line = MessageLine {
                    ts_ns: t,
                    frame: frame[i].unwrap_or(0),
                    proto: proto[i].clone().unwrap_or_default(),
                    src: src[i].clone().unwrap_or_default(),
                    dst: dst[i].clone().unwrap_or_default(),
                    summary: summary[i].clone().unwrap_or_default(),
                    malformed: malformed[i].unwrap_or(false),
                };
                if !count_from_stats {
                    *ov.messages.entry(line.proto.clone()).or_default() += 1;
                    if line.malformed {
                        *ov.decode_errors.entry(line.proto.clone()).or_default() += 1;
                    }
                }
                for ip in [&line.src, &line.dst] {
                    if ip.is_empty() || (ip == &line.dst && line.dst == line.src) {
                        continue;
                    }
                    let q = recent.entry(ip.clone()).or_default();
                    q.push_back(line.clone());
                    if q.len() > MAX_RECENT * 2 {
                        // Files are in time order but rows of several sensors interleave: keep
                        // some slack, then keep the latest.
                        q.make_contiguous().sort_by_key(|m| m.ts_ns);
                        let extra = q.len() - MAX_RECENT;
                        q.drain(..extra);
                    }
                }
            }
        });
    }
    for q in recent.values_mut() {
        q.make_contiguous().sort_by_key(|m| m.ts_ns);
        let extra = q.len().saturating_sub(MAX_RECENT);
        q.drain(..extra);
    }
    recent
}

fn read_flows(dir: &Path, range: &Range, tally: &mut Tally) -> u64 {
    let mut n = 0;
    for f in files(dir, "flows", range, tally) {
        read(&f, &["ts"], tally, |b| {
            n += Cols(b).ts("ts").iter().filter(|t| t.is_some_and(|t| range.contains(t))).count() as u64;
        });
    }
    n
}

/// Identity values from the `identity` JSON: values by key plus `proof` by key.
fn identity_from_json(s: &str) -> Vec<IdentityValue> {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(s) else {
        return Vec::new();
    };
    let proof = m.get("proof").and_then(|p| p.as_object());
    m.iter()
        .filter(|(k, _)| k.as_str() != "proof")
        .map(|(k, v)| IdentityValue {
            key: k.clone(),
            value: match v {
                serde_json::Value::String(s) => s.clone(),
                o => o.to_string(),
            },
            proof: proof
                .and_then(|p| p.get(k))
                .map(|p| {
                    format!(
                        "{} frame {}",
                        p.get("message").and_then(|x| x.as_str()).unwrap_or("?"),
                        p.get("frame").map(|x| x.to_string()).unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn read_assets(
    dir: &Path,
    range: &Range,
    tally: &mut Tally,
    mut recent: HashMap<String, VecDeque<MessageLine>>,
) -> (Vec<AssetView>, u64) {
    let cols = [
        "ts",
        "reason",
        "ip",
        "mac",
        "name",
        "level",
        "level_source",
        "area",
        "zone",
        "roles",
        "protocols",
        "services",
        "peers",
        "first_seen",
        "last_seen",
        "messages",
        "alerts",
        "identity",
        "changed_field",
        "old_value",
        "new_value",
        "change_summary",
    ];
    // Latest row per address, and the identity changes.
    let mut latest: HashMap<String, (i64, AssetView)> = HashMap::new();
    let mut changes: HashMap<String, Vec<IdentityChangeView>> = HashMap::new();
    for f in files(dir, "assets", range, tally) {
        read(&f, &cols, tally, |b| {
            let c = Cols(b);
            let ts = c.ts("ts");
            let reason = c.str("reason");
            let ip = c.str("ip");
            let (mac, name, level, level_source, area, zone) = (
                c.str("mac"),
                c.str("name"),
                c.str("level"),
                c.str("level_source"),
                c.str("area"),
                c.str("zone"),
            );
            let (roles, protocols, services, peers) =
                (c.str_list("roles"), c.str_list("protocols"), c.str_list("services"), c.str_list("peers"));
            let (first, last, messages, alerts, identity) = (
                c.ts("first_seen"),
                c.ts("last_seen"),
                c.u64("messages"),
                c.u64("alerts"),
                c.str("identity"),
            );
            let (field, old, new, summary) =
                (c.str("changed_field"), c.str("old_value"), c.str("new_value"), c.str("change_summary"));
            for i in 0..b.num_rows() {
                let (Some(t), Some(addr)) = (ts[i].filter(|t| range.contains(*t)), ip[i].clone()) else {
                    continue;
                };
                if reason[i].as_deref() == Some("identity_change") {
                    let what = format!(
                        "{} {} → {}{}",
                        field[i].as_deref().unwrap_or("identity"),
                        old[i].as_deref().unwrap_or("-"),
                        new[i].as_deref().unwrap_or("-"),
                        summary[i].as_deref().map(|s| format!(" ({s})")).unwrap_or_default()
                    );
                    let v = changes.entry(addr.clone()).or_default();
                    if v.len() < 64 {
                        v.push(IdentityChangeView { ts: crate::model::rfc3339(t), what });
                    }
                }
                if latest.get(&addr).is_some_and(|(lt, _)| *lt > t) {
                    continue;
                }
                let lvl = level[i].clone();
                let ar = area[i].clone();
                let view = AssetView {
                    ip: addr.clone(),
                    name: name[i].clone(),
                    mac: mac[i].clone(),
                    group: AssetGroup::of(lvl.as_deref(), ar.as_deref()),
                    level: lvl,
                    level_source: level_source[i].clone().unwrap_or_else(|| "unknown".into()),
                    level_reason: String::new(),
                    area: ar,
                    zone: zone[i].clone(),
                    roles: roles[i].clone(),
                    protocols: protocols[i].clone(),
                    services: services[i].clone(),
                    identity: identity[i].as_deref().map(identity_from_json).unwrap_or_default(),
                    identity_history: Vec::new(),
                    peers: peers[i]
                        .iter()
                        .take(MAX_PEERS)
                        .map(|p| {
                            // `ADDR` or `ADDR proto,proto`.
                            let mut it = p.splitn(2, ' ');
                            PeerView {
                                ip: it.next().unwrap_or("").to_string(),
                                protocols: it
                                    .next()
                                    .map(|s| s.split(',').map(str::to_string).collect())
                                    .unwrap_or_default(),
                                level: None,
                            }
                        })
                        .collect(),
                    peers_not_listed: peers[i].len().saturating_sub(MAX_PEERS) as u64,
                    first_seen_ns: first[i].unwrap_or(t),
                    last_seen_ns: last[i].unwrap_or(t),
                    messages: messages[i].unwrap_or(0),
                    alerts: alerts[i].unwrap_or(0),
                    recent: Vec::new(),
                    latency: Vec::new(),
                };
                latest.insert(addr, (t, view));
            }
        });
    }
    let levels: HashMap<String, Option<String>> =
        latest.iter().map(|(ip, (_, a))| (ip.clone(), a.level.clone())).collect();
    let total = latest.len() as u64;
    let mut out: Vec<AssetView> = latest
        .into_values()
        .map(|(_, mut a)| {
            a.identity_history = changes.remove(&a.ip).unwrap_or_default();
            a.recent = recent.remove(&a.ip).map(Vec::from).unwrap_or_default();
            for p in &mut a.peers {
                p.level = levels.get(&p.ip).cloned().flatten();
            }
            a
        })
        .collect();
    out.sort_by_key(|a| std::cmp::Reverse(a.last_seen_ns));
    (out, total)
}

fn read_alerts(dir: &Path, range: &Range, tally: &mut Tally) -> (Vec<AlertView>, u64) {
    let cols = [
        "ts",
        "first_ts",
        "uid",
        "rule",
        "severity",
        "count",
        "src",
        "dst",
        "proto",
        "key",
        "summary",
        "src_level",
        "dst_level",
        "standard",
        "ot_item",
        "evidence_frames",
        "evidence",
    ];
    let mut by_uid: HashMap<String, AlertView> = HashMap::new();
    let mut bad = 0u64;
    for f in files(dir, "alerts", range, tally) {
        read(&f, &cols, tally, |b| {
            let c = Cols(b);
            let (ts, first, uid, rule, sev, count) = (
                c.ts("ts"),
                c.ts("first_ts"),
                c.str("uid"),
                c.str("rule"),
                c.str("severity"),
                c.u64("count"),
            );
            let (src, dst, proto, key, summary) =
                (c.str("src"), c.str("dst"), c.str("proto"), c.str("key"), c.str("summary"));
            let (sl, dl, std_, item, frames, evidence) = (
                c.str("src_level"),
                c.str("dst_level"),
                c.str("standard"),
                c.str("ot_item"),
                c.u64_list("evidence_frames"),
                c.str("evidence"),
            );
            for i in 0..b.num_rows() {
                let (Some(t), Some(u)) = (ts[i], uid[i].clone()) else {
                    bad += 1;
                    continue;
                };
                let f = first[i].unwrap_or(t);
                // In range when any part of its life is.
                if range.to.is_some_and(|to| f >= to) || range.from.is_some_and(|from| t < from) {
                    continue;
                }
                let n = count[i].unwrap_or(1);
                if by_uid.get(&u).is_some_and(|a| a.count >= n) {
                    continue;
                }
                let ev: Option<serde_json::Value> =
                    evidence[i].as_deref().and_then(|s| serde_json::from_str(s).ok());
                let lines = ev
                    .as_ref()
                    .and_then(|e| e.get("messages"))
                    .and_then(|m| m.as_array())
                    .map(|m| m.iter().map(evidence_line).collect())
                    .unwrap_or_default();
                let not_listed =
                    ev.as_ref().and_then(|e| e.get("frames_not_listed")).and_then(|x| x.as_u64());
                by_uid.insert(
                    u.clone(),
                    AlertView {
                        uid: u,
                        rule: rule[i].clone().unwrap_or_default(),
                        severity: sev[i].as_deref().and_then(severity_named).unwrap_or(Severity::Info),
                        count: n,
                        first_ts_ns: f,
                        ts_ns: t,
                        src: src[i].clone(),
                        dst: dst[i].clone(),
                        proto: proto[i].clone(),
                        key: key[i].clone().unwrap_or_default(),
                        summary: summary[i].clone().unwrap_or_default(),
                        src_level: sl[i].clone(),
                        dst_level: dl[i].clone(),
                        standard: std_[i].clone().unwrap_or_default(),
                        ot_item: item[i].clone().unwrap_or_default(),
                        evidence_frames: frames[i].clone(),
                        frames_not_listed: not_listed.unwrap_or(0),
                        evidence: lines,
                    },
                );
            }
        });
    }
    if bad > 0 {
        tally.error(format!("alerts: {bad} rows without ts or uid skipped"));
    }
    let total = by_uid.len() as u64;
    let mut v: Vec<AlertView> = by_uid.into_values().collect();
    v.sort_by(|a, b| b.ts_ns.cmp(&a.ts_ns).then(a.uid.cmp(&b.uid)));
    v.truncate(MAX_ALERTS);
    (v, total)
}
