//! Runs a packet source through engines and hands events to a sink, in capture order.
//!
//! With one worker the engine runs on the reading thread and packets are never copied. With
//! several, see [`crate::pipeline::run`] for the sharded path.

use crate::capture::{CaptureError, Next, PacketSource, SourceStats};
use crate::engine::{Engine, EngineConfig, EngineStats};
use crate::record::Event;

/// A consumer of events (the decode writer, the inventory, the Parquet sink, ...).
pub trait EventSink {
    /// Takes a batch of events in capture order. Returning `Ok(false)` stops the run early.
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool>;

    /// Running totals of the current source, after each batch of events (for sinks that
    /// report counters per interval; ignored by default).
    fn on_counters(&mut self, _c: &Counters<'_>) {}

    /// The source had nothing to read for a while (live capture); lets a sink keep time.
    fn on_idle(&mut self) {}
}

/// Running totals handed to [`EventSink::on_counters`].
pub struct Counters<'a> {
    /// Packets read so far and the capture time of the latest.
    pub frame: u64,
    pub ts_ns: i64,
    pub engine: &'a EngineStats,
    pub source: &'a SourceStats,
}

/// How a run went.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunSummary {
    pub source: SourceStats,
    pub engine: EngineStats,
    /// Packets read from the source (the last frame number).
    pub frames: u64,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    /// The sink asked to stop before the end of the input.
    pub stopped_early: bool,
}

/// Events are handed to the sink in batches of about this many packets.
const BATCH_PACKETS: u64 = 4096;

/// Why a run stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("writing output: {0}")]
    Sink(#[from] std::io::Error),
}

/// Progress callback: called every batch with (bytes of input consumed, packets).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Reads `src` to the end on the calling thread with one engine. On a source error the events
/// of everything before it are still delivered and the summary is returned with the error.
pub fn run_inline(
    src: &mut dyn PacketSource,
    cfg: EngineConfig,
    sink: &mut dyn EventSink,
    progress: Option<Progress<'_>>,
) -> (RunSummary, Option<RunError>) {
    let mut engine = Engine::new(cfg);
    let mut sum = RunSummary::default();
    let mut batch = Vec::new();
    let mut error = None;
    let mut frame = 0u64;
    let mut last_ts = 0i64;
    let mut progress = progress;
    loop {
        match src.next_packet() {
            Ok(Next::Packet(p)) => {
                frame += 1;
                if sum.first_ts_ns.is_none() {
                    sum.first_ts_ns = Some(p.ts_ns);
                }
                last_ts = p.ts_ns;
                engine.process(frame, &p);
                if frame % BATCH_PACKETS == 0 {
                    engine.drain_events(&mut batch);
                    match sink.on_events(&batch) {
                        Ok(true) => {}
                        Ok(false) => {
                            sum.stopped_early = true;
                            break;
                        }
                        Err(e) => {
                            error = Some(RunError::Sink(e));
                            break;
                        }
                    }
                    batch.clear();
                    let source = src.stats();
                    sink.on_counters(&Counters {
                        frame,
                        ts_ns: last_ts,
                        engine: engine.stats(),
                        source: &source,
                    });
                    if let Some(cb) = progress.as_mut() {
                        cb(src.stats().bytes, frame);
                    }
                }
            }
            Ok(Next::Idle) => sink.on_idle(),
            Ok(Next::End) => break,
            Err(e) => {
                error = Some(RunError::Capture(e));
                break;
            }
        }
    }
    engine.finish(frame, last_ts);
    engine.drain_events(&mut batch);
    if error.is_none() || matches!(error, Some(RunError::Capture(_))) {
        if let Err(e) = sink.on_events(&batch) {
            error.get_or_insert(RunError::Sink(e));
        }
    }
    sum.frames = frame;
    sum.last_ts_ns = (frame > 0).then_some(last_ts);
    sum.source = src.stats();
    sum.engine = engine.stats().clone();
    (sum, error)
}

/// What a full worker queue does to the packets that arrive (style.md §5: capture cannot push
/// back on the wire, so live capture drops the newest; files wait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// The reader waits: nothing is lost (files).
    Block,
    /// The batch is dropped and counted (live capture).
    DropNewest,
}

/// Packets per batch handed from the reader to the workers.
const SHARD_BATCH: usize = 1024;
/// Batches queued per worker before the reader waits or drops.
const QUEUE_BATCHES: usize = 8;

/// A batch of packets for one worker: owned copies, so the reader can move on.
#[derive(Default)]
struct PacketBatch {
    frames: Vec<u64>,
    ts_ns: Vec<i64>,
    links: Vec<crate::capture::LinkType>,
    orig_len: Vec<u32>,
    ends: Vec<u32>,
    data: Vec<u8>,
}

impl PacketBatch {
    fn push(&mut self, frame: u64, p: &crate::capture::Packet<'_>) {
        self.frames.push(frame);
        self.ts_ns.push(p.ts_ns);
        self.links.push(p.link);
        self.orig_len.push(p.orig_len);
        self.data.extend_from_slice(p.data);
        self.ends.push(self.data.len() as u32);
    }

    fn len(&self) -> usize {
        self.frames.len()
    }
}

/// A worker's answer to one batch: its events, each tagged with the frame that produced it.
struct WorkerOutput {
    events: Vec<Event>,
    tags: Vec<u64>,
    /// The worker's running totals after the batch.
    stats: EngineStats,
}

/// Puts the outputs of one round (one per worker) in capture order. Each output is already in
/// frame order and a frame belongs to one worker, so merging by frame gives the order a stable
/// sort of all the events would, while moving each event once.
fn merge_by_frame(outs: Vec<WorkerOutput>) -> Vec<Event> {
    let total = outs.iter().map(|o| o.events.len()).sum();
    let mut merged = Vec::with_capacity(total);
    let mut runs: Vec<_> = outs.into_iter().map(|o| o.tags.into_iter().zip(o.events).peekable()).collect();
    loop {
        let mut next: Option<(usize, u64)> = None;
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(&(frame, _)) = run.peek() {
                if next.is_none_or(|(_, f)| frame < f) {
                    next = Some((i, frame));
                }
            }
        }
        let Some((i, _)) = next else { break };
        if let Some((_, ev)) = runs.get_mut(i).and_then(|r| r.next()) {
            merged.push(ev);
        }
    }
    merged
}

/// The worker a packet belongs to: a symmetric hash of its flow key, so both directions of a
/// flow meet on one worker. Packets without a flow go to worker 0.
fn shard_of(p: &crate::capture::Packet<'_>, workers: usize) -> usize {
    use crate::dissect::{dissect, L4};
    let Ok(d) = dissect(p.link, p.data) else { return 0 };
    let (sport, dport, proto) = match d.l4 {
        L4::Tcp(t) => (t.sport, t.dport, 6),
        L4::Udp { sport, dport, .. } => (sport, dport, 17),
        L4::Other { ip_proto } => (0, 0, ip_proto),
    };
    let key = crate::flow::FlowKey::new(
        crate::app::Endpoint { ip: d.src, port: sport },
        crate::app::Endpoint { ip: d.dst, port: dport },
        proto,
        d.vlan,
    );
    (key.shard_hash() % workers as u64) as usize
}

/// Runs `src` with `workers` engines on their own threads. The calling thread reads packets
/// and shards them by flow; each worker owns its flows; events come back to the calling
/// thread and reach `sink` in capture order (by the frame that produced them).
pub fn run_sharded(
    src: &mut (dyn PacketSource + Send),
    cfg: EngineConfig,
    workers: usize,
    when_full: WhenFull,
    sink: &mut dyn EventSink,
    progress: Option<Progress<'_>>,
) -> (RunSummary, Option<RunError>) {
    use crossbeam_channel::{bounded, TrySendError};

    let workers = workers.max(1);
    let mut sum = RunSummary::default();
    let mut error: Option<RunError> = None;
    let mut progress = progress;
    let mut dropped_batches = 0u64;
    let mut dropped_packets = 0u64;
    let merged = std::thread::scope(|scope| {
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers {
            let (tx, rx) = bounded::<PacketBatch>(QUEUE_BATCHES);
            let (otx, orx) = bounded::<WorkerOutput>(QUEUE_BATCHES);
            let mut wcfg = cfg.clone();
            wcfg.id_stride = workers as u64;
            wcfg.id_offset = w as u64;
            handles.push(scope.spawn(move || {
                let mut engine = Engine::new(wcfg);
                let (mut last_frame, mut last_ts) = (0u64, 0i64);
                for batch in rx.iter() {
                    let mut out =
                        WorkerOutput { events: Vec::new(), tags: Vec::new(), stats: EngineStats::default() };
                    let mut start = 0usize;
                    for i in 0..batch.len() {
                        let end = batch.ends[i] as usize;
                        let p = crate::capture::Packet {
                            ts_ns: batch.ts_ns[i],
                            link: batch.links[i],
                            data: &batch.data[start..end],
                            orig_len: batch.orig_len[i],
                        };
                        start = end;
                        engine.process(batch.frames[i], &p);
                        (last_frame, last_ts) = (batch.frames[i], p.ts_ns);
                        let before = out.events.len();
                        engine.drain_events(&mut out.events);
                        out.tags.extend(std::iter::repeat_n(batch.frames[i], out.events.len() - before));
                    }
                    out.stats = engine.stats().clone();
                    if otx.send(out).is_err() {
                        break;
                    }
                }
                drop(otx);
                (engine, last_frame, last_ts)
            }));
            to_workers.push(tx);
            from_workers.push(orx);
        }

        let mut batches: Vec<PacketBatch> = (0..workers).map(|_| PacketBatch::default()).collect();
        let mut frame = 0u64;
        let mut last_ts = 0i64;
        let mut in_batch = 0usize;
        let mut pending = 0usize;
        let mut worker_stats: Vec<EngineStats> = vec![EngineStats::default(); workers];
        // Hands the finished per-worker batches over and collects one output per worker.
        let mut flush = |batches: &mut Vec<PacketBatch>,
                         pending: &mut usize,
                         sink: &mut dyn EventSink,
                         counters: (u64, i64, &SourceStats),
                         last: bool|
         -> Result<bool, RunError> {
            for (w, b) in batches.iter_mut().enumerate() {
                let b = std::mem::take(b);
                match when_full {
                    WhenFull::Block => {
                        let _ = to_workers[w].send(b);
                    }
                    WhenFull::DropNewest => match to_workers[w].try_send(b) {
                        Ok(()) => {}
                        Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => {
                            dropped_batches += 1;
                            dropped_packets += b.len() as u64;
                            // Keep the output sequence aligned: an empty batch stands in.
                            let _ = to_workers[w].send(PacketBatch::default());
                        }
                    },
                }
            }
            *pending += 1;
            // Keep at most QUEUE_BATCHES-1 rounds in flight, then collect the oldest.
            while *pending >= QUEUE_BATCHES - 1 || (last && *pending > 0) {
                let mut outs = Vec::with_capacity(from_workers.len());
                for (w, rx) in from_workers.iter().enumerate() {
                    if let Ok(mut o) = rx.recv() {
                        worker_stats[w] = std::mem::take(&mut o.stats);
                        outs.push(o);
                    }
                }
                *pending -= 1;
                let evs = merge_by_frame(outs);
                if !sink.on_events(&evs)? {
                    return Ok(false);
                }
                let mut total = EngineStats::default();
                for st in &worker_stats {
                    total.merge(st);
                }
                let (frame, ts_ns, source) = counters;
                sink.on_counters(&Counters { frame, ts_ns, engine: &total, source });
            }
            Ok(true)
        };
        loop {
            match src.next_packet() {
                Ok(Next::Packet(p)) => {
                    frame += 1;
                    if sum.first_ts_ns.is_none() {
                        sum.first_ts_ns = Some(p.ts_ns);
                    }
                    last_ts = p.ts_ns;
                    batches[shard_of(&p, workers)].push(frame, &p);
                    in_batch += 1;
                    if in_batch == SHARD_BATCH {
                        in_batch = 0;
                        let source = src.stats();
                        let counters = (frame, last_ts, &source);
                        match flush(&mut batches, &mut pending, sink, counters, false) {
                            Ok(true) => {}
                            Ok(false) => {
                                sum.stopped_early = true;
                                break;
                            }
                            Err(e) => {
                                error = Some(e);
                                break;
                            }
                        }
                        if let Some(cb) = progress.as_mut() {
                            cb(src.stats().bytes, frame);
                        }
                    }
                }
                Ok(Next::Idle) => sink.on_idle(),
                Ok(Next::End) => break,
                Err(e) => {
                    error = Some(RunError::Capture(e));
                    break;
                }
            }
        }
        if error.is_none() && !sum.stopped_early {
            let source = src.stats();
            if let Err(e) = flush(&mut batches, &mut pending, sink, (frame, last_ts, &source), true) {
                error = Some(e);
            }
        }
        drop(flush);
        drop(to_workers);
        // Drain what the workers still send, then let each close its flows.
        let mut finals: Vec<(u64, Event)> = Vec::new();
        let mut stats = EngineStats::default();
        for (h, rx) in handles.into_iter().zip(from_workers) {
            // Outputs of batches not collected (early stop or error) are discarded; the worker
            // ends when its queue is empty.
            for _ in rx.iter() {}
            if let Ok((mut engine, _, _)) = h.join() {
                engine.finish(frame, last_ts);
                let mut evs = Vec::new();
                engine.drain_events(&mut evs);
                finals.extend(evs.into_iter().map(|e| (frame, e)));
                stats.merge(engine.stats());
            }
        }
        if error.is_none() && !sum.stopped_early {
            let evs: Vec<Event> = finals.into_iter().map(|(_, e)| e).collect();
            if let Err(e) = sink.on_events(&evs) {
                error = Some(RunError::Sink(e));
            }
        }
        sum.frames = frame;
        sum.last_ts_ns = (frame > 0).then_some(last_ts);
        stats
    });
    sum.engine = merged;
    sum.engine.dropped_queue_full_packets = dropped_packets;
    sum.engine.dropped_queue_full_batches = dropped_batches;
    sum.source = src.stats();
    (sum, error)
}

/// Runs on one thread when `workers` is 1, sharded otherwise.
pub fn run(
    src: &mut (dyn PacketSource + Send),
    cfg: EngineConfig,
    workers: usize,
    when_full: WhenFull,
    sink: &mut dyn EventSink,
    progress: Option<Progress<'_>>,
) -> (RunSummary, Option<RunError>) {
    if workers <= 1 {
        run_inline(src, cfg, sink, progress)
    } else {
        run_sharded(src, cfg, workers, when_full, sink, progress)
    }
}
