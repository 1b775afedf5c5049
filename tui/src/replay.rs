//! Replay: the engine and the monitor run on their own thread over a capture, paced by the
//! capture's timestamps at a chosen speed (or as fast as possible), and send a snapshot about
//! ten times a second over a bounded channel. The channel holds one snapshot: when the console
//! has not taken the previous one yet, it is replaced, so the newest snapshot wins and a burst
//! of alerts never queues up work for the UI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use fabmon_sensor::capture::{Next, PacketSource};
use fabmon_sensor::engine::{Engine, EngineConfig};
use fabmon_sensor::monitor::Monitor;
use fabmon_sensor::pipeline::EventSink;

use crate::collect::{Collector, EngineView};
use crate::model::{HealthItem, Snapshot, SourceInfo};

/// Time between snapshots.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(100);
/// Packets processed between looks at the clock (and event hand-overs) at full speed.
const CHECK_EVERY: u64 = 256;

/// How fast a capture is replayed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// As fast as the engine goes.
    Max,
    /// This many times the capture's own pace.
    Times(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;

    /// `max`, `10x`, `1x`, `0.5x` (the `x` is optional).
    fn from_str(s: &str) -> Result<Speed, String> {
        let s = s.trim().to_ascii_lowercase();
        if s == "max" {
            return Ok(Speed::Max);
        }
        let n: f64 = s
            .trim_end_matches('x')
            .parse()
            .map_err(|_| format!("speed {s:?}: expected a factor such as 10x, 1x, 0.5x, or max"))?;
        if !(n.is_finite() && n > 0.0 && n <= 1e6) {
            return Err(format!("speed {s:?}: the factor must be above 0 and at most 1000000"));
        }
        Ok(Speed::Times(n))
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Max => write!(f, "max"),
            Speed::Times(n) => write!(f, "{n}x"),
        }
    }
}

/// The snapshot channel: one slot; a sender that replaces what the console has not taken.
pub fn channel() -> (SnapshotSender, Receiver<Arc<Snapshot>>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    (SnapshotSender { tx, rx: rx.clone(), replaced: 0 }, rx)
}

/// Sends snapshots; the newest wins.
pub struct SnapshotSender {
    tx: Sender<Arc<Snapshot>>,
    rx: Receiver<Arc<Snapshot>>,
    /// Snapshots replaced before the console took them.
    pub replaced: u64,
}

impl SnapshotSender {
    /// Offers a snapshot without waiting, replacing one the console has not taken.
    pub fn offer(&mut self, snap: Snapshot) -> bool {
        let mut s = Arc::new(snap);
        loop {
            match self.tx.try_send(s) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    s = back;
                    if self.rx.try_recv().is_ok() {
                        self.replaced += 1;
                    }
                }
            }
        }
    }
}

/// What to replay.
pub struct ReplayJob {
    pub source: Box<dyn PacketSource + Send>,
    /// Size of the input in bytes, for progress (None when unknown, e.g. a pipe).
    pub size: Option<u64>,
    pub monitor: Monitor,
    pub speed: Speed,
    /// `replay` or `demo`.
    pub mode: String,
    pub name: String,
    /// Sensor id in alert uids.
    pub sensor: String,
}

/// Starts the replay thread. It stops at the end of the capture (after a final snapshot with
/// `finished`) or when `stop` is set.
pub fn spawn(
    job: ReplayJob,
    mut tx: SnapshotSender,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("fabmon-replay".into()).spawn(move || run(job, &mut tx, &stop))
}

fn run(job: ReplayJob, tx: &mut SnapshotSender, stop: &AtomicBool) {
    let ReplayJob { mut source, size, monitor, speed, mode, name, sensor } = job;
    let cfg = monitor.engine_config(EngineConfig::with_defaults());
    let mut engine = Engine::new(cfg);
    let mut col = Collector::new(monitor, &sensor);
    let mut events = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let start = Instant::now();
    let (mut frame, mut first_ts, mut last_ts) = (0u64, None::<i64>, 0i64);
    let mut next_snap = start;
    let mut held = Vec::new();
    let detail = format!("speed {speed}");
    let info = |bytes: u64, first: Option<i64>, last: i64, finished: bool, errors: &[String]| SourceInfo {
        mode: mode.clone(),
        name: name.clone(),
        detail: detail.clone(),
        capture_ts_ns: first.map(|_| last),
        first_ts_ns: first,
        progress: if finished && errors.is_empty() {
            Some(1.0)
        } else {
            size.filter(|&s| s > 0).map(|s| (bytes as f64 / s as f64).min(1.0))
        },
        finished,
        errors: errors.to_vec(),
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // At full speed the packet is processed where it lies; paced, it is copied so that
        // snapshots can be sent while waiting for its time.
        let paced = match source.next_packet() {
            Ok(Next::Packet(p)) => {
                frame += 1;
                first_ts.get_or_insert(p.ts_ns);
                if speed == Speed::Max {
                    last_ts = p.ts_ns;
                    engine.process(frame, &p);
                    None
                } else {
                    held.clear();
                    held.extend_from_slice(p.data);
                    Some((p.ts_ns, p.link, p.orig_len))
                }
            }
            Ok(Next::Idle) => continue,
            Ok(Next::End) => break,
            Err(e) => {
                errors.push(e.to_string());
                break;
            }
        };
        if let (Some((ts, link, orig_len)), Speed::Times(x), Some(first)) = (paced, speed, first_ts) {
            let due = start + Duration::from_secs_f64(((ts - first).max(0) as f64 / 1e9) / x);
            loop {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if now >= next_snap {
                    next_snap = next_tick(next_snap, now);
                    let st = source.stats();
                    let i = info(st.bytes, first_ts, last_ts, false, &errors);
                    if !send(&mut engine, &mut col, &mut events, i, &st, tx) {
                        return;
                    }
                    continue;
                }
                std::thread::sleep((due - now).min(next_snap.saturating_duration_since(now)));
            }
            last_ts = ts;
            let p = fabmon_sensor::capture::Packet { ts_ns: ts, link, data: &held, orig_len };
            engine.process(frame, &p);
        }
        if frame % CHECK_EVERY == 0 || speed != Speed::Max {
            let now = Instant::now();
            if now >= next_snap {
                next_snap = next_tick(next_snap, now);
                let st = source.stats();
                let i = info(st.bytes, first_ts, last_ts, false, &errors);
                if !send(&mut engine, &mut col, &mut events, i, &st, tx) {
                    return;
                }
            } else if frame % CHECK_EVERY == 0 {
                engine.drain_events(&mut events);
                let _ = col.on_events(&events);
                events.clear();
            }
        }
    }
    engine.finish(frame, last_ts);
    let st = source.stats();
    let snap =
        build(&mut engine, &mut col, &mut events, info(st.bytes, first_ts, last_ts, true, &errors), &st, tx);
    // The last snapshot replaces an unread one too: it holds everything the earlier did.
    tx.offer(snap);
}

/// Hands the engine's events to the collector and builds a snapshot.
fn build(
    engine: &mut Engine,
    col: &mut Collector,
    events: &mut Vec<fabmon_sensor::record::Event>,
    info: SourceInfo,
    src: &fabmon_sensor::capture::SourceStats,
    tx: &SnapshotSender,
) -> Snapshot {
    engine.drain_events(events);
    let _ = col.on_events(events);
    events.clear();
    let t0 = Instant::now();
    let view = EngineView {
        stats: Some(engine.stats()),
        source: Some(src),
        flows_active: engine.flow_count() as u64,
        reassembly_memory: engine.reassembly_memory() as u64,
    };
    let mut snap = col.snapshot(&view, info);
    snap.overview.health.push(HealthItem {
        name: "console snapshot".into(),
        value: format!(
            "{:.1} ms to build, {} replaced unseen",
            t0.elapsed().as_secs_f64() * 1e3,
            tx.replaced
        ),
        ok: true,
    });
    snap
}

/// Builds and offers a snapshot; false when the console is gone.
fn send(
    engine: &mut Engine,
    col: &mut Collector,
    events: &mut Vec<fabmon_sensor::record::Event>,
    info: SourceInfo,
    src: &fabmon_sensor::capture::SourceStats,
    tx: &mut SnapshotSender,
) -> bool {
    let snap = build(engine, col, events, info, src, tx);
    tx.offer(snap)
}

/// The next snapshot time: a fixed rate, without a burst to catch up after a slow stretch.
fn next_tick(prev: Instant, now: Instant) -> Instant {
    let next = prev + SNAPSHOT_INTERVAL;
    if next <= now {
        now + SNAPSHOT_INTERVAL
    } else {
        next
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn speeds_parse() {
        assert_eq!("max".parse::<Speed>().unwrap(), Speed::Max);
        assert_eq!("10x".parse::<Speed>().unwrap(), Speed::Times(10.0));
        assert_eq!("0.5".parse::<Speed>().unwrap(), Speed::Times(0.5));
        assert!("0x".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }

    #[test]
    fn the_newest_snapshot_wins() {
        let (mut tx, rx) = channel();
        for seq in 1..=5 {
            assert!(tx.offer(Snapshot { seq, ..Default::default() }));
        }
        assert_eq!(rx.try_recv().unwrap().seq, 5);
        assert!(rx.try_recv().is_err());
        assert_eq!(tx.replaced, 4);
    }
}
