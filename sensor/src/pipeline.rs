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
                    if let Some(cb) = progress.as_mut() {
                        cb(src.stats().bytes, frame);
                    }
                }
            }
            Ok(Next::Idle) => {}
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
