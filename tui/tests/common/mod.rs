//! A fixed snapshot for the rendering and key tests: a few assets on every Purdue level and
//! alerts of every severity, with fixed times.
#![allow(dead_code)]

use std::collections::BTreeMap;

use fabmon_sensor::alert::Severity;
use fabmon_tui::model::*;

const T0: i64 = 1_763_280_000_000_000_000; // 2025-11-16T08:00:00Z

fn asset(ip: &str, name: Option<&str>, level: Option<&str>, area: Option<&str>, roles: &[&str]) -> AssetView {
    AssetView {
        ip: ip.into(),
        name: name.map(str::to_string),
        mac: Some("02:00:0a:1e:00:0c".into()),
        level: level.map(str::to_string),
        level_source: if level.is_some() { "inferred".into() } else { "unknown".into() },
        level_reason: "role table".into(),
        area: area.map(str::to_string),
        zone: None,
        group: AssetGroup::of(level, area),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        protocols: vec!["hsms".into()],
        services: vec![],
        identity: vec![],
        identity_history: vec![],
        peers: vec![],
        peers_not_listed: 0,
        first_seen_ns: T0,
        last_seen_ns: T0 + 60_000_000_000,
        messages: 10,
        alerts: 0,
        recent: vec![],
        latency: vec![],
    }
}

fn alert(uid: &str, rule: &str, sev: Severity, min: i64, src: &str, dst: &str, summary: &str) -> AlertView {
    AlertView {
        uid: uid.into(),
        rule: rule.into(),
        severity: sev,
        count: 1,
        first_ts_ns: T0 + min * 60_000_000_000,
        ts_ns: T0 + min * 60_000_000_000,
        src: Some(src.into()),
        dst: Some(dst.into()),
        proto: Some("hsms".into()),
        key: String::new(),
        summary: summary.into(),
        src_level: Some("3".into()),
        dst_level: Some("2".into()),
        standard: "E187 4.2 access control".into(),
        ot_item: "PR-1".into(),
        evidence_frames: vec![812, 813],
        frames_not_listed: 0,
        evidence: vec!["frame 812: S2F41 W RCMD=START 10.30.0.12 → 10.20.1.5".into()],
    }
}

/// The fixture snapshot.
pub fn snapshot() -> Snapshot {
    let mut host = asset("10.30.0.12", Some("mes-host"), Some("3"), Some("fab-system"), &["hsms-host"]);
    host.messages = 4210;
    host.alerts = 3;
    host.peers =
        vec![PeerView { ip: "10.20.1.5".into(), protocols: vec!["hsms".into()], level: Some("2".into()) }];
    let mut etch =
        asset("10.20.1.5", Some("etch-01"), Some("2"), Some("fab"), &["hsms-equipment", "tcp-server"]);
    etch.identity = vec![
        IdentityValue { key: "mdln".into(), value: "ETCH-300".into(), proof: "S1F2 frame 14".into() },
        IdentityValue { key: "softrev".into(), value: "4.2.2".into(), proof: "S1F2 frame 9001".into() },
    ];
    etch.identity_history = vec![IdentityChangeView {
        ts: "2025-11-16T08:12:00.000000Z".into(),
        what: "softrev 4.2.1 → 4.2.2".into(),
    }];
    etch.alerts = 2;
    etch.services = vec!["tcp/5000".into()];
    etch.latency = vec![LatencyView {
        proto: "hsms".into(),
        replies: 2100,
        p50_us: 850,
        p99_us: 12_500,
        max_us: 48_000,
    }];
    etch.peers =
        vec![PeerView { ip: "10.30.0.12".into(), protocols: vec!["hsms".into()], level: Some("3".into()) }];
    etch.recent = (0..5)
        .map(|i| MessageLine {
            ts_ns: T0 + i * 1_000_000_000,
            frame: 800 + i as u64,
            proto: "hsms".into(),
            src: "10.30.0.12".into(),
            dst: "10.20.1.5".into(),
            summary: if i == 4 { "S2F41 W RCMD=START".into() } else { "S1F1 W".into() },
            malformed: false,
        })
        .collect();
    let dep = asset("10.20.1.6", Some("depo-02"), Some("2"), Some("fab"), &["hsms-equipment"]);
    let mut plc = asset("10.10.0.20", None, Some("1"), Some("fab"), &["modbus-server"]);
    plc.protocols = vec!["modbus".into()];
    plc.identity = vec![IdentityValue {
        key: "vendor".into(),
        value: "Acme PLC".into(),
        proof: "fc43/14 response unit 1 frame 33".into(),
    }];
    let mut ahu = asset("10.40.0.21", Some("ahu-3"), Some("1"), Some("facility"), &["bacnet-device"]);
    ahu.protocols = vec!["bacnet".into()];
    let hist = asset("10.35.0.2", Some("historian"), Some("3.5"), Some("dmz"), &["tcp-server"]);
    let rogue = asset("10.30.0.66", None, None, None, &[]);
    let alerts = vec![
        alert(
            "c0ffee0000000001",
            "hsms.remote_command",
            Severity::Critical,
            15,
            "10.30.0.66",
            "10.20.1.5",
            "Remote command START to etch-01 from an unknown host 10.30.0.66",
        ),
        alert(
            "c0ffee0000000002",
            "identity.changed",
            Severity::High,
            12,
            "10.20.1.5",
            "10.30.0.12",
            "etch-01 softrev 4.2.1 → 4.2.2 outside a change window",
        ),
        alert(
            "c0ffee0000000003",
            "modbus.write",
            Severity::Medium,
            10,
            "10.20.1.6",
            "10.10.0.20",
            "Modbus write to holding register 40001 of 10.10.0.20 not in the baseline",
        ),
        alert(
            "c0ffee0000000004",
            "bacnet.discovery_scan",
            Severity::Low,
            8,
            "10.30.0.66",
            "10.40.255.255",
            "Who-Is flood from 10.30.0.66 (x250)",
        ),
        alert(
            "c0ffee0000000005",
            "asset.new",
            Severity::Info,
            5,
            "10.30.0.66",
            "10.30.0.12",
            "New asset 10.30.0.66 seen for the first time",
        ),
    ];
    let mut history = RateHistory::default();
    for i in 0..60u64 {
        history.push(RateSample {
            packets_per_s: 800 + (i * 37) % 400,
            bytes_per_s: 120_000 + (i * 5000) % 60_000,
            messages_per_s: 300 + (i * 13) % 90,
            drops_per_s: if i == 40 { 12 } else { 0 },
            decode_errors_per_s: i % 7,
            alerts_per_s: if i % 15 == 0 { 3 } else { 0 },
            flows_active: 40 + i % 5,
        });
    }
    let mut alerts_by_severity = BTreeMap::new();
    for a in &alerts {
        *alerts_by_severity.entry(a.severity).or_default() += 1;
    }
    Snapshot {
        seq: 7,
        source: SourceInfo {
            mode: "replay".into(),
            name: "fab.pcap".into(),
            detail: "speed 10x".into(),
            capture_ts_ns: Some(T0 + 20 * 60_000_000_000),
            first_ts_ns: Some(T0),
            progress: Some(0.5),
            finished: false,
            errors: vec![],
        },
        overview: Overview {
            packets: 1_250_000,
            bytes: 180_000_000,
            flows_active: 42,
            flows_total: 311,
            messages: [("bacnet".into(), 9000), ("hsms".into(), 52_000), ("modbus".into(), 31_000)].into(),
            decode_errors: [("modbus".into(), 3)].into(),
            drops: [("not IP".into(), 120)].into(),
            alerts_by_severity,
            history,
            health: vec![
                HealthItem { name: "TCP gaps".into(), value: "0 (0 bytes)".into(), ok: true },
                HealthItem { name: "inventory".into(), value: "7 assets, 0 evicted".into(), ok: true },
                HealthItem {
                    name: "alert table".into(),
                    value: "5 alerts, 3 folded into overflow".into(),
                    ok: false,
                },
            ],
        },
        assets: vec![host, etch, dep, plc, ahu, hist, rogue],
        assets_not_shown: 0,
        alerts,
        alerts_not_shown: 0,
    }
}
