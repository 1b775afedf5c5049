//! Alerts: what the rules raise, aggregated so that a flood is a handful of lines.
//!
//! An alert is keyed by (rule, source, destination, key); repeats of the same key update the
//! existing alert (count, last time, more evidence frames up to a cap) instead of adding one.
//! The JSON form is the contract of `fabmon alerts --format jsonl`.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::Serialize;

/// Alert severity, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// One step up (capped at critical).
    pub fn raise(self) -> Severity {
        match self {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }

    /// One step down (floored at info).
    pub fn lower(self) -> Severity {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium => Severity::Low,
            Severity::Low | Severity::Info => Severity::Info,
        }
    }
}

/// The messages behind an alert.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Evidence {
    /// Packet numbers of the messages behind the alert, first ones first, capped at
    /// [`MAX_EVIDENCE_FRAMES`].
    pub frames: Vec<u64>,
    /// Key fields of the first messages (decoded), capped at [`MAX_EVIDENCE_MESSAGES`].
    pub messages: Vec<serde_json::Value>,
    /// Frames beyond the cap are counted, not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub frames_not_listed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub const MAX_EVIDENCE_FRAMES: usize = 32;
pub const MAX_EVIDENCE_MESSAGES: usize = 5;

/// Purdue level of both ends as the inventory decided it (`None` when unknown).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PurdueEnds {
    pub src: Option<String>,
    pub dst: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_area: Option<String>,
}

/// One (possibly aggregated) alert.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    /// Sequence number within one run.
    pub id: u64,
    /// Stable rule id (see `docs/rules.md`).
    pub rule: &'static str,
    pub severity: Severity,
    /// Time of the latest occurrence (RFC 3339) and the first and latest.
    pub ts: String,
    pub first_ts: String,
    pub last_ts: String,
    pub ts_ns: i64,
    pub first_ts_ns: i64,
    /// Occurrences aggregated into this alert.
    pub count: u64,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub proto: Option<&'static str>,
    /// What distinguishes occurrences of the rule between the same ends (e.g. the RCMD).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// One readable sentence: what, who, to which asset.
    pub summary: String,
    pub evidence: Evidence,
    pub purdue: PurdueEnds,
    /// The SEMI E187 area, E188 concern or Purdue principle the rule serves.
    pub standard: &'static str,
    /// The OT requirement item it evidences (ids defined in the audit item data file).
    pub ot_item: &'static str,
}

/// A new occurrence, before aggregation.
#[derive(Clone, Debug)]
pub struct Occurrence {
    pub rule: &'static str,
    pub severity: Severity,
    pub ts_ns: i64,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub proto: Option<&'static str>,
    pub key: String,
    pub summary: String,
    pub frames: Vec<u64>,
    pub message: Option<serde_json::Value>,
    pub purdue: PurdueEnds,
    pub standard: &'static str,
    pub ot_item: &'static str,
    /// Only adds its frames as evidence to the alert with the same key (a later message that
    /// shows the same thing again); not counted as a new occurrence.
    pub evidence_only: bool,
}

/// What happened when an occurrence was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new alert (index into the alert list).
    New(usize),
    /// An existing alert was updated (index).
    Aggregated(usize),
}

/// Aggregates occurrences into alerts; bounded: beyond `max_alerts` distinct keys, new
/// occurrences fold into one overflow alert per rule.
pub struct AlertBook {
    alerts: Vec<Alert>,
    index: FxHashMap<(&'static str, Option<IpAddr>, Option<IpAddr>, String), usize>,
    max_alerts: usize,
    /// Occurrences folded into overflow alerts because the book was full.
    pub overflowed: u64,
}

impl AlertBook {
    pub fn new(max_alerts: usize) -> AlertBook {
        AlertBook {
            alerts: Vec::new(),
            index: FxHashMap::default(),
            max_alerts: max_alerts.max(1),
            overflowed: 0,
        }
    }

    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    pub fn into_alerts(self) -> Vec<Alert> {
        self.alerts
    }

    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Records an occurrence: a new alert, or an update of the one with the same key.
    pub fn record(&mut self, o: Occurrence) -> Recorded {
        let mut k = (o.rule, o.src, o.dst, o.key.clone());
        if !self.index.contains_key(&k) && self.alerts.len() >= self.max_alerts {
            // Full: fold into the rule's overflow alert.
            self.overflowed += 1;
            k = (o.rule, None, None, "overflow".to_string());
        }
        if let Some(&i) = self.index.get(&k) {
            let a = &mut self.alerts[i];
            if o.evidence_only {
                for f in o.frames {
                    if a.evidence.frames.len() < MAX_EVIDENCE_FRAMES && !a.evidence.frames.contains(&f) {
                        a.evidence.frames.push(f);
                    }
                }
                return Recorded::Aggregated(i);
            }
            a.count += 1;
            if o.ts_ns >= a.ts_ns {
                a.ts_ns = o.ts_ns;
                a.ts = crate::time::format_rfc3339_us(o.ts_ns);
                a.last_ts = a.ts.clone();
            }
            if o.severity > a.severity {
                a.severity = o.severity;
                a.summary = o.summary;
            }
            for f in o.frames {
                if a.evidence.frames.len() < MAX_EVIDENCE_FRAMES {
                    if !a.evidence.frames.contains(&f) {
                        a.evidence.frames.push(f);
                    }
                } else {
                    a.evidence.frames_not_listed += 1;
                }
            }
            if let Some(m) = o.message {
                if a.evidence.messages.len() < MAX_EVIDENCE_MESSAGES {
                    a.evidence.messages.push(m);
                }
            }
            return Recorded::Aggregated(i);
        }
        let ts = crate::time::format_rfc3339_us(o.ts_ns);
        let overflow = k.3 == "overflow" && k.1.is_none();
        let mut frames = o.frames;
        let not_listed = frames.len().saturating_sub(MAX_EVIDENCE_FRAMES) as u64;
        frames.truncate(MAX_EVIDENCE_FRAMES);
        let alert = Alert {
            id: self.alerts.len() as u64 + 1,
            rule: o.rule,
            severity: o.severity,
            first_ts: ts.clone(),
            last_ts: ts.clone(),
            ts,
            ts_ns: o.ts_ns,
            first_ts_ns: o.ts_ns,
            count: 1,
            src: if overflow { None } else { o.src },
            dst: if overflow { None } else { o.dst },
            proto: o.proto,
            key: k.3.clone(),
            summary: if overflow {
                format!(
                    "{} (more occurrences of this rule than the alert table holds were folded here)",
                    o.summary
                )
            } else {
                o.summary
            },
            evidence: Evidence {
                frames,
                messages: o.message.into_iter().collect(),
                frames_not_listed: not_listed,
            },
            purdue: o.purdue,
            standard: o.standard,
            ot_item: o.ot_item,
        };
        self.alerts.push(alert);
        let i = self.alerts.len() - 1;
        self.index.insert(k, i);
        Recorded::New(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(rule: &'static str, src: u8, key: &str, ts: i64, frame: u64) -> Occurrence {
        Occurrence {
            rule,
            severity: Severity::Medium,
            ts_ns: ts,
            src: Some(IpAddr::from([10, 0, 0, src])),
            dst: Some(IpAddr::from([10, 0, 0, 99])),
            proto: Some("bacnet"),
            key: key.into(),
            summary: "s".into(),
            frames: vec![frame],
            message: None,
            purdue: PurdueEnds::default(),
            standard: "x",
            ot_item: "RS-1",
            evidence_only: false,
        }
    }

    #[test]
    fn a_flood_is_one_alert_with_a_count_and_capped_frames() {
        let mut b = AlertBook::new(100);
        for i in 0..200 {
            b.record(occ("bacnet.discovery_scan", 66, "who-is", i, i as u64 + 1));
        }
        assert_eq!(b.len(), 1);
        let a = &b.alerts()[0];
        assert_eq!(a.count, 200);
        assert_eq!(a.evidence.frames.len(), MAX_EVIDENCE_FRAMES);
        assert_eq!(a.evidence.frames_not_listed, 200 - MAX_EVIDENCE_FRAMES as u64);
        assert_eq!(a.ts_ns, 199);
        assert_eq!(a.first_ts_ns, 0);
    }

    #[test]
    fn distinct_keys_and_ends_are_distinct_alerts() {
        let mut b = AlertBook::new(100);
        b.record(occ("hsms.remote_command", 1, "START", 0, 1));
        b.record(occ("hsms.remote_command", 1, "STOP", 0, 2));
        b.record(occ("hsms.remote_command", 2, "START", 0, 3));
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn the_book_is_bounded() {
        let mut b = AlertBook::new(10);
        for i in 0..1000u32 {
            b.record(occ("flow.new_conversation", (i % 250) as u8, &i.to_string(), 0, 1));
        }
        assert!(b.len() <= 11);
        assert_eq!(b.overflowed, 990);
    }

    #[test]
    fn severity_orders_and_steps() {
        assert!(Severity::Critical > Severity::High);
        assert_eq!(Severity::High.raise(), Severity::Critical);
        assert_eq!(Severity::Info.lower(), Severity::Info);
    }
}
