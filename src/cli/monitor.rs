//! Running captures through the monitor (inventory, baseline, rules): shared by `inventory`,
//! `alerts`, `baseline learn` and `demo`.

use anyhow::Context;
use clap::Args;
use fabmon_sensor::baseline::Baseline;
use fabmon_sensor::engine::EngineConfig;
use fabmon_sensor::monitor::{Monitor, MonitorOutput};
use fabmon_sensor::pipeline::RunError;
use fabmon_sensor::profile::Profile;

use super::decode::{print_summary, run_capture};

/// Options common to the commands that build an inventory.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// pcap or pcapng files (`-` for standard input), processed in order.
    #[arg(required_unless_present = "iface")]
    pub captures: Vec<String>,
    #[command(flatten)]
    pub live: super::live::LiveArgs,
    /// Fab profile (TOML): zones → Purdue level and area, assets, conduits, authorisations,
    /// change windows (see docs/profiles.md).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<String>,
    /// Worker threads (flows are sharded onto them).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Print the per-capture summary of packets, flows and messages on standard error.
    #[arg(long)]
    pub summary: bool,
    /// Match assets against the advisories of this store (`fabmon advisories import`): the
    /// `asset.vulnerable` rule, a `vulnerabilities` list per asset in `inventory --format json`
    /// and a count in the table (docs/advisories.md).
    #[arg(long, value_name = "STORE")]
    pub advisories: Option<std::path::PathBuf>,
}

pub fn load_profile(path: Option<&str>) -> anyhow::Result<Profile> {
    match path {
        None => Ok(Profile::empty()),
        Some(p) => {
            let prof = Profile::load(p).map_err(|e| anyhow::anyhow!("{e}"))?;
            for w in prof.warnings() {
                eprintln!("fabmon: warning: {w}");
            }
            Ok(prof)
        }
    }
}

pub fn load_baseline(path: Option<&str>) -> anyhow::Result<Option<Baseline>> {
    path.map(|p| Baseline::load(p).map_err(|e| anyhow::anyhow!("{e}"))).transpose()
}

/// Runs every capture through `monitor`; returns its output and whether an input failed.
pub fn run_monitor(args: &MonitorArgs, monitor: Monitor) -> anyhow::Result<(MonitorOutput, bool)> {
    let index = args.advisories.as_deref().map(super::advisories::load_index).transpose()?;
    let monitor = match &index {
        Some(ix) => monitor.with_advisories(ix.clone()),
        None => monitor,
    };
    let (mut out, failed) = run_monitor_inner(args, monitor)?;
    if let Some(ix) = &index {
        out.inventory.assess(ix);
    }
    Ok((out, failed))
}

fn run_monitor_inner(args: &MonitorArgs, mut monitor: Monitor) -> anyhow::Result<(MonitorOutput, bool)> {
    let mut failed = false;
    if let Some(iface) = &args.live.iface {
        let cfg = monitor.engine_config(EngineConfig::with_defaults());
        let (summary, err) = super::live::run_live(&args.live, cfg, usize::from(args.workers), &mut monitor)?;
        if args.summary {
            print_summary(iface, &summary);
            super::decode::print_capture_stats(&summary);
        }
        if let Some(e) = err {
            eprintln!("fabmon: {e}");
            failed = true;
        }
        let out = monitor.finish(&[format!("live:{iface}")]);
        return Ok((out, failed));
    }
    for path in &args.captures {
        let cfg = monitor.engine_config(EngineConfig::with_defaults());
        match run_capture(path, cfg, usize::from(args.workers), &mut monitor) {
            Ok((summary, err)) => {
                if args.summary {
                    print_summary(path, &summary);
                }
                if let Some(e) = err {
                    eprintln!("fabmon: {e}");
                    failed = true;
                    if let RunError::Sink(_) = e {
                        break;
                    }
                }
            }
            Err(e) => {
                eprintln!("fabmon: {e}");
                failed = true;
            }
        }
    }
    let out = monitor.finish(&args.captures);
    if out.alerts_overflowed > 0 {
        eprintln!(
            "fabmon: {} occurrences folded into overflow alerts (alert table full)",
            out.alerts_overflowed
        );
    }
    if out.inventory.evicted > 0 {
        eprintln!("fabmon: {} assets evicted (inventory full)", out.inventory.evicted);
    }
    Ok((out, failed))
}

pub fn context_path(p: &str) -> impl Fn() -> String + '_ {
    move || format!("writing {p}")
}

pub fn write_file(path: &str, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(context_path(path))
}
