//! `fabmon alerts`: deviations from the profile and the baseline.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use fabmon_sensor::alert::Alert;
use fabmon_sensor::export::{AlertExporter, ExportTarget, ExporterConfig};
use fabmon_sensor::monitor::Monitor;

use super::monitor::{load_baseline, load_profile, run_monitor, MonitorArgs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per alert (contract in docs/rules.md).
    Jsonl,
    /// One readable line per alert.
    Text,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub common: MonitorArgs,
    /// Baseline learned with `fabmon baseline learn` (what is normal).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also send every alert to a SIEM or file: `file:PATH`, `syslog+udp://HOST:PORT`,
    /// `syslog+tcp://...`, `cef+udp://...`, `cef+tcp://...` (see docs/siem.md). Repeatable.
    #[arg(long, value_name = "TARGET")]
    pub export: Vec<String>,
}

pub fn text_line(a: &Alert) -> String {
    format!(
        "{} {:<8} {:<32} x{:<4} {}  [{} | {}]",
        a.first_ts,
        a.severity.name(),
        a.rule,
        a.count,
        a.summary,
        a.ot_item,
        a.standard
    )
}

pub fn run(args: AlertsArgs) -> anyhow::Result<ExitCode> {
    let profile = load_profile(args.common.profile.as_deref())?;
    let baseline = load_baseline(args.baseline.as_deref())?;
    let mut exporters = Vec::new();
    for t in &args.export {
        let target: ExportTarget = t.parse().map_err(|e| anyhow::anyhow!("--export {e}"))?;
        exporters.push(AlertExporter::new(ExporterConfig::new(target)).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let (out, failed) = run_monitor(&args.common, Monitor::new(profile, baseline))?;
    for a in &out.alerts {
        match args.format {
            Format::Jsonl => println!("{}", serde_json::to_string(a)?),
            Format::Text => println!("{}", text_line(a)),
        }
        for e in &mut exporters {
            if let Err(err) = e.send(a) {
                eprintln!("fabmon: export: {err}");
            }
        }
    }
    for e in exporters {
        let st = e.shutdown(std::time::Duration::from_secs(5));
        if st.failed > 0 || st.dropped > 0 {
            eprintln!("fabmon: export: {} sent, {} failed, {} dropped", st.sent, st.failed, st.dropped);
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
