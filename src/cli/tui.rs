//! `fabmon tui`: the operator console, on a Parquet dataset (history) or a capture replayed
//! through the engine (see docs/console.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::monitor::Monitor;
use fabmon_tui::acks::AckStore;
use fabmon_tui::history::{self, Range};
use fabmon_tui::replay::{self, ReplayJob, Speed};
use fabmon_tui::View;

use super::monitor::{load_baseline, load_profile};

/// Environment variable naming a file for the console's own measurements (JSON).
pub const STATS_ENV: &str = "FABMON_TUI_STATS";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data", "replay"])))]
pub struct TuiArgs {
    /// History: a dataset written by `fabmon run --out DIR`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
    /// Only data from this time on (RFC 3339, with --data).
    #[arg(long, value_name = "TIME", requires = "data")]
    pub from: Option<String>,
    /// Only data before this time (RFC 3339, with --data).
    #[arg(long, value_name = "TIME", requires = "data")]
    pub to: Option<String>,
    /// Replay: run the engine on a capture (pcap/pcapng), paced by its timestamps.
    #[arg(long, value_name = "CAPTURE")]
    pub replay: Option<String>,
    /// Replay speed: a factor of the capture's own pace (`1x`, `10x`, `0.5x`) or `max`.
    #[arg(long, default_value = "10x", requires = "replay")]
    pub speed: String,
    /// Fab profile (TOML) for the replay.
    #[arg(long, value_name = "FILE", requires = "replay")]
    pub profile: Option<String>,
    /// Baseline learned with `fabmon baseline learn`, for the replay.
    #[arg(long, value_name = "FILE", requires = "replay")]
    pub baseline: Option<String>,
    /// Acknowledgements file (default: DIR/acks/acks.jsonl with --data, else
    /// $XDG_STATE_HOME/fabmon/acks.jsonl).
    #[arg(long, value_name = "FILE")]
    pub acks: Option<String>,
    /// Print the console's own measurements (redraws/s, key latency) on exit.
    #[arg(long)]
    pub stats: bool,
}

/// The acknowledgements file for a run.
fn acks_path(explicit: Option<&str>, data: Option<&str>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(PathBuf::from(p));
    }
    if let Some(d) = data {
        return Ok(Path::new(d).join("acks/acks.jsonl"));
    }
    fabmon_tui::acks::default_path()
        .context("no --acks FILE given and neither XDG_STATE_HOME nor HOME is set")
}

/// Opens the console on `rx` until the user quits; prints or writes its measurements.
pub fn console(rx: fabmon_tui::SnapshotRx, acks_file: &Path, stats: bool) -> anyhow::Result<()> {
    let store = AckStore::open(acks_file)?;
    let mut view = View::new(fabmon_tui::color_wanted(), &fabmon_tui::acks::login_user());
    view.acks = store.all().clone();
    if store.bad_lines > 0 {
        view.message = Some(format!("{}: {} unreadable lines skipped", acks_file.display(), store.bad_lines));
    }
    let st = fabmon_tui::term::run(view, rx, store)?;
    if stats {
        eprintln!("{}", st.text());
    }
    if let Some(p) = std::env::var_os(STATS_ENV) {
        let p = PathBuf::from(p);
        std::fs::write(&p, serde_json::to_string_pretty(&st)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Replays `job` into the console.
pub fn replay_console(job: ReplayJob, acks_file: &Path, stats: bool) -> anyhow::Result<()> {
    let (tx, rx) = replay::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = replay::spawn(job, tx, stop.clone()).context("starting the replay thread")?;
    let res = console(rx, acks_file, stats);
    stop.store(true, Ordering::Relaxed);
    let _ = handle.join();
    res
}

fn parse_time(flag: &str, s: Option<&str>) -> anyhow::Result<Option<i64>> {
    s.map(|s| {
        fabmon_sensor::time::parse_rfc3339(s)
            .with_context(|| format!("{flag} {s:?} is not an RFC 3339 time such as 2026-11-16T08:00:00Z"))
    })
    .transpose()
}

pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        eprintln!("fabmon tui: standard output is not a terminal");
        return Ok(ExitCode::from(2));
    }
    let acks = acks_path(args.acks.as_deref(), args.data.as_deref())?;
    if let Some(dir) = &args.data {
        let range = Range {
            from: parse_time("--from", args.from.as_deref())?,
            to: parse_time("--to", args.to.as_deref())?,
        };
        let snap = history::load(Path::new(dir), range)?;
        let failed = !snap.source.errors.is_empty();
        console(fabmon_tui::one_snapshot(snap), &acks, args.stats)?;
        return Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS });
    }
    let Some(path) = &args.replay else {
        return Ok(ExitCode::from(2));
    };
    let speed: Speed = args.speed.parse().map_err(|e: String| anyhow::anyhow!("--speed {e}"))?;
    let profile = load_profile(args.profile.as_deref())?;
    let baseline = load_baseline(args.baseline.as_deref())?;
    let source = FileSource::open(path)?;
    let size = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len());
    let job = ReplayJob {
        source: Box::new(source),
        size,
        monitor: Monitor::new(profile, baseline),
        speed,
        mode: "replay".into(),
        name: path.clone(),
        sensor: "replay".into(),
    };
    replay_console(job, &acks, args.stats)?;
    Ok(ExitCode::SUCCESS)
}
