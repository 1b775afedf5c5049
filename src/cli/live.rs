//! Live capture for the commands that read packets: `--iface IFACE [--duration D]`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;
use fabmon_sensor::engine::EngineConfig;
use fabmon_sensor::pipeline::{self, EventSink, RunError, RunSummary, WhenFull};

/// Options of a live capture.
#[derive(Debug, Args, Clone)]
pub struct LiveArgs {
    /// Capture live from this interface (AF_PACKET ring; needs CAP_NET_RAW) instead of files.
    /// Receive only: fabmon never transmits. Stop with Ctrl-C or `--duration`.
    #[arg(long, value_name = "IFACE")]
    pub iface: Option<String>,
    /// With --iface: stop after this long (e.g. 90s, 15m, 8h); for `baseline learn` this is the
    /// learning window.
    #[arg(long, value_name = "DURATION", requires = "iface")]
    pub duration: Option<String>,
    /// With --iface: put the interface in promiscuous mode (needed on most SPAN ports).
    #[arg(long, requires = "iface")]
    pub promiscuous: bool,
}

/// Captures from `args.iface` until Ctrl-C/SIGTERM or the duration ends.
#[cfg(target_os = "linux")]
pub fn run_live(
    args: &LiveArgs,
    cfg: EngineConfig,
    workers: usize,
    sink: &mut dyn EventSink,
) -> anyhow::Result<(RunSummary, Option<RunError>)> {
    use fabmon_sensor::capture::afpacket::{AfPacketConfig, AfPacketSource};

    let iface = args.iface.as_deref().unwrap_or_default();
    let mut acfg = AfPacketConfig::new(iface);
    acfg.promiscuous = args.promiscuous;
    let mut src = AfPacketSource::open(&acfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stop: Arc<AtomicBool> = src.stop_handle();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    if let Some(d) = &args.duration {
        let ns = super::synth::parse_duration(d)
            .ok_or_else(|| anyhow::anyhow!("--duration {d:?} is not like 90s, 15m or 8h"))?;
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_nanos(u64::try_from(ns).unwrap_or(0)));
            stop.store(true, Ordering::SeqCst);
        });
    }
    eprintln!("fabmon: capturing on {iface} (receive only); Ctrl-C to stop");
    Ok(pipeline::run(&mut src, cfg, workers, WhenFull::DropNewest, sink, None))
}

#[cfg(not(target_os = "linux"))]
pub fn run_live(
    _args: &LiveArgs,
    _cfg: EngineConfig,
    _workers: usize,
    _sink: &mut dyn EventSink,
) -> anyhow::Result<(RunSummary, Option<RunError>)> {
    anyhow::bail!("live capture needs Linux (AF_PACKET)")
}
