//! `fabmon baseline learn|diff`: what is normal, as a reviewable file.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use fabmon_sensor::baseline::Baseline;
use fabmon_sensor::monitor::Monitor;

use super::monitor::{load_baseline, load_profile, run_monitor, write_file, MonitorArgs};

#[derive(Debug, Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    pub cmd: BaselineCmd,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCmd {
    /// Learn what is normal from captures of normal operation.
    Learn {
        #[command(flatten)]
        common: MonitorArgs,
        /// Where to write the baseline (JSON, one fact per line; review it before use).
        #[arg(long, value_name = "FILE")]
        out: String,
        /// Extend this baseline instead of starting empty.
        #[arg(long, value_name = "FILE")]
        extend: Option<String>,
    },
    /// Show what changed between two baselines (`-` removed, `+` added).
    Diff { old: String, new: String },
}

pub fn run(args: BaselineArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        BaselineCmd::Learn { common, out, extend } => {
            let profile = load_profile(common.profile.as_deref())?;
            let start = load_baseline(extend.as_deref())?;
            let (o, failed) = run_monitor(&common, Monitor::new(profile, None).learning(start))?;
            let b = o.baseline.unwrap_or_default();
            write_file(&out, &b.to_json())?;
            eprintln!(
                "fabmon baseline: {} conversations, {} assets with services, {} identities, {} HSMS, {} Modbus, {} BACnet pairs → {out}",
                b.conversations.len(),
                b.services.len(),
                b.identities.len(),
                b.hsms.len(),
                b.modbus.len(),
                b.bacnet.len()
            );
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        BaselineCmd::Diff { old, new } => {
            let (a, b) = (Baseline::load(&old), Baseline::load(&new));
            let a = a.map_err(|e| anyhow::anyhow!("{e}"))?;
            let b = b.map_err(|e| anyhow::anyhow!("{e}"))?;
            let d = Baseline::diff(&a, &b);
            for l in &d {
                println!("{l}");
            }
            eprintln!(
                "fabmon baseline diff: {} removed, {} added",
                d.iter().filter(|l| l.starts_with('-')).count(),
                d.iter().filter(|l| l.starts_with('+')).count()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
