//! The replay thread on the demo capture: snapshots arrive, the last one says the source is
//! finished, everything is within the console's bounds, and the monitor's findings are there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use fabmon_sensor::baseline::Baseline;
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::monitor::Monitor;
use fabmon_sensor::profile::Profile;
use fabmon_tui::model::{MAX_ALERTS, MAX_RECENT};
use fabmon_tui::replay::{self, ReplayJob, Speed};

fn demo_job(speed: Speed) -> ReplayJob {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let pcap = root.join("captures/demo.pcap");
    let baseline: Baseline =
        serde_json::from_str(&std::fs::read_to_string(root.join("captures/demo.baseline.json")).unwrap())
            .unwrap();
    let profile = Profile::load(root.join("profiles/default.toml").to_str().unwrap()).unwrap();
    ReplayJob {
        source: Box::new(FileSource::open(pcap.to_str().unwrap()).unwrap()),
        size: Some(std::fs::metadata(&pcap).unwrap().len()),
        monitor: Monitor::new(profile, Some(baseline)),
        speed,
        mode: "replay".into(),
        name: "demo.pcap".into(),
        sensor: "test".into(),
    }
}

#[test]
fn replay_at_full_speed_ends_with_a_finished_snapshot() {
    let (tx, rx) = replay::channel();
    let h = replay::spawn(demo_job(Speed::Max), tx, Arc::new(AtomicBool::new(false))).unwrap();
    let mut last = None;
    let mut seqs = Vec::new();
    for s in rx.iter() {
        seqs.push(s.seq);
        let done = s.source.finished;
        last = Some(s);
        if done {
            break;
        }
    }
    h.join().unwrap();
    let s = last.unwrap();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "snapshots in order: {seqs:?}");
    assert_eq!(s.source.progress, Some(1.0));
    assert!(s.source.errors.is_empty(), "{:?}", s.source.errors);
    assert_eq!(s.overview.packets, 30_000);
    assert!(s.overview.messages.get("hsms").copied().unwrap_or(0) > 0);
    assert!(!s.assets.is_empty());
    assert!(s.alerts.len() <= MAX_ALERTS && !s.alerts.is_empty());
    assert!(s.alerts.windows(2).all(|w| w[0].ts_ns >= w[1].ts_ns), "alerts newest first");
    assert!(s.alerts.iter().all(|a| a.uid.len() == 16));
    assert!(s.assets.iter().all(|a| a.recent.len() <= MAX_RECENT));
    // GEM meaning of recent messages: a remote command shows with its RCMD.
    assert!(
        s.assets
            .iter()
            .flat_map(|a| &a.recent)
            .any(|m| m.summary.starts_with("S2F41") && m.summary.contains("RCMD=")),
        "an S2F41 with its RCMD among the recent messages"
    );
    // Levels are placed while the run goes on.
    assert!(s.assets.iter().any(|a| a.level.as_deref() == Some("2")));
    // The snapshot crosses a process boundary intact.
    let json = serde_json::to_string(&*s).unwrap();
    let back: fabmon_tui::Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, *s);
}

#[test]
fn a_paced_replay_stops_when_asked() {
    let (tx, rx) = replay::channel();
    let stop = Arc::new(AtomicBool::new(false));
    // 1x: twenty minutes of capture; it must stop promptly when told.
    let h = replay::spawn(demo_job(Speed::Times(1.0)), tx, stop.clone()).unwrap();
    let first = rx.recv().unwrap();
    assert!(!first.source.finished);
    assert_eq!(first.source.detail, "speed 1x");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    h.join().unwrap();
}
