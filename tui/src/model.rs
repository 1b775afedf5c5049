//! The console's snapshot model: plain data, built by whatever feeds the console (a replay
//! engine thread, the Parquet history reader, later a live sensor over a control socket) and
//! rendered by the UI thread. Serialisable so that a snapshot can cross a process boundary.
//!
//! Bounded: a snapshot holds at most [`MAX_ASSETS`] assets with at most [`MAX_RECENT`] recent
//! messages each, at most [`MAX_ALERTS`] alerts (the newest), and [`HISTORY_POINTS`] points of
//! rate history.

use std::collections::BTreeMap;

use fabmon_sensor::alert::Severity;
use serde::{Deserialize, Serialize};

/// Recent decoded messages kept per asset.
pub const MAX_RECENT: usize = 32;
/// Alerts a snapshot carries (newest first); the counters cover all of them.
pub const MAX_ALERTS: usize = 2_000;
/// Assets a snapshot carries (OT assets and the most recently seen first).
pub const MAX_ASSETS: usize = 5_000;
/// Points of rate history (sparklines).
pub const HISTORY_POINTS: usize = 120;
/// Peers listed per asset in a snapshot.
pub const MAX_PEERS: usize = 64;

/// Everything the console shows at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Increases with every snapshot of one source.
    pub seq: u64,
    pub source: SourceInfo,
    pub overview: Overview,
    /// Assets (at most [`MAX_ASSETS`]).
    pub assets: Vec<AssetView>,
    /// Assets known to the source but not carried.
    pub assets_not_shown: u64,
    /// Alerts, newest first (at most [`MAX_ALERTS`]).
    pub alerts: Vec<AlertView>,
    /// Alerts known to the source but not carried (the oldest).
    pub alerts_not_shown: u64,
}

/// Where the data comes from and how far it got.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `replay`, `history`, `demo` or `live`.
    pub mode: String,
    /// The capture, dataset directory or interface.
    pub name: String,
    /// e.g. `speed 10x`, `2026-11-16T08:00Z..09:00Z`.
    pub detail: String,
    /// Capture time the data has reached (ns since the epoch).
    pub capture_ts_ns: Option<i64>,
    /// Capture time of the first packet or row.
    pub first_ts_ns: Option<i64>,
    /// Share of the input consumed (0..=1) when known.
    pub progress: Option<f64>,
    /// The source has delivered everything (no more snapshots follow).
    pub finished: bool,
    /// Problems the source met (unreadable file, bad row), readable.
    pub errors: Vec<String>,
}

/// Totals, rates and health.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub packets: u64,
    pub bytes: u64,
    pub flows_active: u64,
    pub flows_total: u64,
    /// Decoded messages by protocol.
    pub messages: BTreeMap<String, u64>,
    /// Messages flagged malformed by protocol.
    pub decode_errors: BTreeMap<String, u64>,
    /// Packets not processed, by reason (kernel, queue full, not IP, malformed header...).
    pub drops: BTreeMap<String, u64>,
    /// Alerts by severity (all alerts, not only those carried).
    pub alerts_by_severity: BTreeMap<Severity, u64>,
    pub history: RateHistory,
    pub health: Vec<HealthItem>,
}

/// Rates over capture time, one point per sample, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateHistory {
    pub packets_per_s: Vec<u64>,
    pub bytes_per_s: Vec<u64>,
    pub messages_per_s: Vec<u64>,
    pub drops_per_s: Vec<u64>,
    pub decode_errors_per_s: Vec<u64>,
    pub alerts_per_s: Vec<u64>,
    pub flows_active: Vec<u64>,
}

impl RateHistory {
    /// Appends one sample, keeping the last [`HISTORY_POINTS`].
    pub fn push(&mut self, s: RateSample) {
        for (v, x) in [
            (&mut self.packets_per_s, s.packets_per_s),
            (&mut self.bytes_per_s, s.bytes_per_s),
            (&mut self.messages_per_s, s.messages_per_s),
            (&mut self.drops_per_s, s.drops_per_s),
            (&mut self.decode_errors_per_s, s.decode_errors_per_s),
            (&mut self.alerts_per_s, s.alerts_per_s),
            (&mut self.flows_active, s.flows_active),
        ] {
            v.push(x);
            if v.len() > HISTORY_POINTS {
                let extra = v.len() - HISTORY_POINTS;
                v.drain(..extra);
            }
        }
    }
}

/// One point of [`RateHistory`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateSample {
    pub packets_per_s: u64,
    pub bytes_per_s: u64,
    pub messages_per_s: u64,
    pub drops_per_s: u64,
    pub decode_errors_per_s: u64,
    pub alerts_per_s: u64,
    pub flows_active: u64,
}

/// One line of sensor health.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthItem {
    pub name: String,
    pub value: String,
    /// False when the value says something is lost or full.
    pub ok: bool,
}

/// Where an asset is listed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetGroup {
    Enterprise,
    Dmz,
    L3Hosts,
    L2Tools,
    L1Plcs,
    Facility,
    #[default]
    Unknown,
}

impl AssetGroup {
    pub const ALL: [AssetGroup; 7] = [
        AssetGroup::Enterprise,
        AssetGroup::Dmz,
        AssetGroup::L3Hosts,
        AssetGroup::L2Tools,
        AssetGroup::L1Plcs,
        AssetGroup::Facility,
        AssetGroup::Unknown,
    ];

    /// Heading in the assets screen.
    pub fn title(self) -> &'static str {
        match self {
            AssetGroup::Enterprise => "L4-5 enterprise",
            AssetGroup::Dmz => "L3.5 DMZ",
            AssetGroup::L3Hosts => "L3 hosts",
            AssetGroup::L2Tools => "L2 tools",
            AssetGroup::L1Plcs => "L1 PLCs and controllers",
            AssetGroup::Facility => "Facility",
            AssetGroup::Unknown => "Unknown level",
        }
    }

    /// The group of a Purdue level (`"2"`, `"3.5"`) and area (`fab`, `facility`, `dmz`...).
    pub fn of(level: Option<&str>, area: Option<&str>) -> AssetGroup {
        let area = area.unwrap_or("").to_ascii_lowercase();
        let Some(l) = level.and_then(|l| l.trim_start_matches(['L', 'l']).parse::<f32>().ok()) else {
            return AssetGroup::Unknown;
        };
        if area.contains("dmz") || (3.2..4.0).contains(&l) {
            AssetGroup::Dmz
        } else if area.contains("facility") {
            AssetGroup::Facility
        } else if l >= 4.0 {
            AssetGroup::Enterprise
        } else if l >= 3.0 {
            AssetGroup::L3Hosts
        } else if l >= 2.0 {
            AssetGroup::L2Tools
        } else {
            AssetGroup::L1Plcs
        }
    }
}

/// One asset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetView {
    pub ip: String,
    pub name: Option<String>,
    pub mac: Option<String>,
    pub level: Option<String>,
    /// `profile`, `inferred` or `unknown`, and why.
    pub level_source: String,
    pub level_reason: String,
    pub area: Option<String>,
    pub zone: Option<String>,
    pub group: AssetGroup,
    pub roles: Vec<String>,
    pub protocols: Vec<String>,
    pub services: Vec<String>,
    /// Identity values (`mdln`, `softrev`, `vendor`...) with the message that proved each.
    pub identity: Vec<IdentityValue>,
    /// Identity changes, oldest first.
    pub identity_history: Vec<IdentityChangeView>,
    pub peers: Vec<PeerView>,
    pub peers_not_listed: u64,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub messages: u64,
    pub alerts: u64,
    /// Recent decoded messages from or to the asset, newest last.
    pub recent: Vec<MessageLine>,
    pub latency: Vec<LatencyView>,
}

impl AssetView {
    /// `name (ip)` or the address.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} ({})", self.ip),
            None => self.ip.clone(),
        }
    }

    /// The identity in one line (`mdln=ETCH-300 softrev=4.2.1`).
    pub fn identity_line(&self) -> String {
        self.identity.iter().map(|v| format!("{}={}", v.key, v.value)).collect::<Vec<_>>().join(" ")
    }
}

/// An identity value and its proof.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityValue {
    pub key: String,
    pub value: String,
    /// e.g. `S1F2 frame 1234`.
    pub proof: String,
}

/// One change of identity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityChangeView {
    /// When the new value was seen (RFC 3339), when known.
    pub ts: String,
    /// `softrev 4.2.1 → 4.2.2`.
    pub what: String,
}

/// A peer of an asset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    pub ip: String,
    pub protocols: Vec<String>,
    pub level: Option<String>,
}

/// A decoded message in a list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageLine {
    pub ts_ns: i64,
    pub frame: u64,
    pub proto: String,
    pub src: String,
    pub dst: String,
    /// The GEM meaning or the protocol summary, e.g. `S2F41 W RCMD=START`.
    pub summary: String,
    pub malformed: bool,
}

/// Reply latency of an asset for one protocol.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyView {
    pub proto: String,
    pub replies: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One (aggregated) alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// Stable id (the key of acknowledgements).
    pub uid: String,
    pub rule: String,
    pub severity: Severity,
    pub count: u64,
    pub first_ts_ns: i64,
    pub ts_ns: i64,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub proto: Option<String>,
    pub key: String,
    pub summary: String,
    pub src_level: Option<String>,
    pub dst_level: Option<String>,
    /// SEMI E187/E188 clause or Purdue principle.
    pub standard: String,
    /// OT requirement item (GV-1, ID-1, ...).
    pub ot_item: String,
    pub evidence_frames: Vec<u64>,
    pub frames_not_listed: u64,
    /// The decoded messages behind the alert, one readable line each.
    pub evidence: Vec<String>,
}

/// `2026-11-16T08:00:01.250000Z` → `08:00:01`; empty for 0.
pub fn clock(ts_ns: i64) -> String {
    if ts_ns == 0 {
        return String::new();
    }
    let s = fabmon_sensor::time::format_rfc3339_us(ts_ns);
    s.get(11..19).unwrap_or(&s).to_string()
}

/// Full RFC 3339 time (microseconds).
pub fn rfc3339(ts_ns: i64) -> String {
    fabmon_sensor::time::format_rfc3339_us(ts_ns)
}

/// `1234567` → `1.2M`.
pub fn si(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

/// Microseconds, readable (`850µs`, `12.5ms`, `1.2s`).
pub fn micros(us: u64) -> String {
    match us {
        0..=999 => format!("{us}µs"),
        1_000..=999_999 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.1}s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_level_and_area() {
        assert_eq!(AssetGroup::of(Some("3"), Some("fab-system")), AssetGroup::L3Hosts);
        assert_eq!(AssetGroup::of(Some("2"), Some("fab")), AssetGroup::L2Tools);
        assert_eq!(AssetGroup::of(Some("1"), Some("fab")), AssetGroup::L1Plcs);
        assert_eq!(AssetGroup::of(Some("1"), Some("facility")), AssetGroup::Facility);
        assert_eq!(AssetGroup::of(Some("3.5"), None), AssetGroup::Dmz);
        assert_eq!(AssetGroup::of(Some("4"), Some("enterprise")), AssetGroup::Enterprise);
        assert_eq!(AssetGroup::of(None, None), AssetGroup::Unknown);
    }

    #[test]
    fn history_keeps_the_last_points() {
        let mut h = RateHistory::default();
        for i in 0..(HISTORY_POINTS as u64 + 10) {
            h.push(RateSample { packets_per_s: i, ..Default::default() });
        }
        assert_eq!(h.packets_per_s.len(), HISTORY_POINTS);
        assert_eq!(h.packets_per_s[0], 10);
    }
}
