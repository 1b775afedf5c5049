//! fabmon operator console: a terminal UI for the fab's security incident response team.
//!
//! The UI thread never captures or decodes: it renders [`model::Snapshot`]s that a source sends
//! over a bounded channel (a [`replay`] thread running the engine on a capture, the Parquet
//! [`history`] reader, later a live sensor). A key becomes an [`app::Action`] that
//! [`app::View::update`] applies; rendering is a pure function of the view ([`ui`]).
//! See `docs/console.md`.

pub mod acks;
pub mod app;
pub mod collect;
pub mod history;
pub mod model;
pub mod replay;
pub mod term;
pub mod ui;

pub use app::View;
pub use model::Snapshot;

/// Whether colours are wanted: off when `NO_COLOR` is set to anything non-empty.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The receiving end of a snapshot channel.
pub type SnapshotRx = crossbeam_channel::Receiver<std::sync::Arc<Snapshot>>;

/// A channel that delivers one snapshot and closes (history: the dataset read once).
pub fn one_snapshot(snap: Snapshot) -> SnapshotRx {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let _ = tx.send(std::sync::Arc::new(snap));
    rx
}
