//! The terminal side: the UI thread waits on two channels, keys (read by a small input thread)
//! and snapshots (from whatever feeds the console), applies them to the [`View`] and redraws.
//! It measures itself: redraws per second and the time from a key being read to the frame
//! that shows its effect.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use crossterm::event::{Event, KeyEventKind};
use serde::Serialize;

use crate::acks::AckStore;
use crate::app::{Effect, View};
use crate::model::Snapshot;

/// Longest the UI waits without redrawing (keeps the snapshot age on screen honest).
const IDLE_REDRAW: Duration = Duration::from_millis(1000);

/// How the console measured itself.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConsoleStats {
    pub duration_s: f64,
    pub redraws: u64,
    pub redraws_per_s: f64,
    /// While the source was still sending (from its first snapshot to its last).
    pub streaming_s: f64,
    pub streaming_redraws: u64,
    pub streaming_redraws_per_s: f64,
    pub snapshots: u64,
    /// Snapshots that arrived together; only the newest was shown.
    pub snapshots_skipped: u64,
    pub keys: u64,
    /// Key read → frame drawn, milliseconds.
    pub key_p50_ms: f64,
    pub key_p99_ms: f64,
    pub key_max_ms: f64,
    /// Time to draw one frame, milliseconds.
    pub draw_p50_ms: f64,
    pub draw_p99_ms: f64,
}

impl ConsoleStats {
    /// The figures in a few readable lines.
    pub fn text(&self) -> String {
        format!(
            "console: {:.1} s, {} redraws ({:.1}/s; {:.1}/s over {:.1} s while data streamed), {} snapshots ({} skipped)\n\
             console: {} keys, key to frame p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; draw p50 {:.2} ms, p99 {:.2} ms",
            self.duration_s,
            self.redraws,
            self.redraws_per_s,
            self.streaming_redraws_per_s,
            self.streaming_s,
            self.snapshots,
            self.snapshots_skipped,
            self.keys,
            self.key_p50_ms,
            self.key_p99_ms,
            self.key_max_ms,
            self.draw_p50_ms,
            self.draw_p99_ms
        )
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Keys read by the input thread, with the time they were read.
type KeyRx = Receiver<(Instant, Event)>;

fn spawn_input() -> std::io::Result<KeyRx> {
    let (tx, rx) = crossbeam_channel::bounded(256);
    std::thread::Builder::new().name("fabmon-keys".into()).spawn(move || {
        while let Ok(ev) = crossterm::event::read() {
            if tx.send((Instant::now(), ev)).is_err() {
                break;
            }
        }
    })?;
    Ok(rx)
}

/// Runs the console until the user quits. `snapshots` feeds it; `acks` stores
/// acknowledgements (already loaded into `view`).
pub fn run(
    mut view: View,
    snapshots: Receiver<Arc<Snapshot>>,
    mut acks: AckStore,
) -> anyhow::Result<ConsoleStats> {
    let keys = spawn_input()?;
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &mut view, &snapshots, &keys, &mut acks);
    ratatui::try_restore()?;
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    view: &mut View,
    snapshots: &Receiver<Arc<Snapshot>>,
    keys: &KeyRx,
    acks: &mut AckStore,
) -> anyhow::Result<ConsoleStats> {
    let start = Instant::now();
    let mut st = ConsoleStats::default();
    let mut key_ms: Vec<f64> = Vec::new();
    let mut draw_ms: Vec<f64> = Vec::new();
    let (mut stream_start, mut stream_end): (Option<Instant>, Option<Instant>) = (None, None);
    let size = terminal.size()?;
    view.resize(size.width, size.height);
    let mut dirty = true;
    let mut pending_keys: Vec<Instant> = Vec::new();
    let mut snapshots_open = true;
    let mut last_draw = Instant::now();
    loop {
        if dirty || last_draw.elapsed() >= IDLE_REDRAW {
            let t0 = Instant::now();
            terminal.draw(|f| f.render_widget(&*view, f.area()))?;
            let done = Instant::now();
            last_draw = done;
            draw_ms.push((done - t0).as_secs_f64() * 1e3);
            st.redraws += 1;
            if stream_start.is_some() && stream_end.is_none() {
                st.streaming_redraws += 1;
            }
            for k in pending_keys.drain(..) {
                key_ms.push((done - k).as_secs_f64() * 1e3);
            }
            dirty = false;
        }
        let never = crossbeam_channel::never();
        let snaps = if snapshots_open { snapshots } else { &never };
        select! {
            recv(keys) -> ev => {
                let Ok((read_at, ev)) = ev else { break };
                match ev {
                    Event::Key(k) if k.kind != KeyEventKind::Release => {
                        st.keys += 1;
                        pending_keys.push(read_at);
                        match view.handle_key(k) {
                            Effect::None => {}
                            Effect::Quit => break,
                            Effect::Ack(ack) => match acks.record(ack.clone()) {
                                Ok(()) => view.acked(ack),
                                Err(e) => view.message = Some(format!("acknowledgement not saved: {e}")),
                            },
                        }
                        dirty = true;
                    }
                    Event::Resize(w, h) => {
                        view.resize(w, h);
                        terminal.autoresize()?;
                        dirty = true;
                    }
                    _ => {}
                }
            }
            recv(snaps) -> s => {
                match s {
                    Ok(mut snap) => {
                        st.snapshots += 1;
                        // Coalesce: whatever else is queued, the newest wins.
                        while let Ok(newer) = snapshots.try_recv() {
                            st.snapshots += 1;
                            st.snapshots_skipped += 1;
                            snap = newer;
                        }
                        let now = Instant::now();
                        stream_start.get_or_insert(now);
                        if snap.source.finished && stream_end.is_none() {
                            stream_end = Some(now);
                        }
                        view.set_snapshot(snap);
                        dirty = true;
                    }
                    Err(_) => {
                        snapshots_open = false;
                        if stream_start.is_some() && stream_end.is_none() {
                            stream_end = Some(Instant::now());
                        }
                    }
                }
            }
            default(IDLE_REDRAW) => {}
        }
    }
    let end = Instant::now();
    st.duration_s = (end - start).as_secs_f64();
    st.redraws_per_s = st.redraws as f64 / st.duration_s.max(1e-9);
    if let Some(s) = stream_start {
        st.streaming_s = (stream_end.unwrap_or(end) - s).as_secs_f64();
        st.streaming_redraws_per_s = st.streaming_redraws as f64 / st.streaming_s.max(1e-9);
    }
    key_ms.sort_by(f64::total_cmp);
    draw_ms.sort_by(f64::total_cmp);
    st.key_p50_ms = quantile(&key_ms, 0.5);
    st.key_p99_ms = quantile(&key_ms, 0.99);
    st.key_max_ms = key_ms.last().copied().unwrap_or(0.0);
    st.draw_p50_ms = quantile(&draw_ms, 0.5);
    st.draw_p99_ms = quantile(&draw_ms, 0.99);
    Ok(st)
}
