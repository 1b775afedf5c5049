//! `fabmon run`: the sensor. One pass over captures or a live interface feeds the inventory,
//! the rules and alerts, and (with `--out`) the Parquet dataset (docs/schema.md).

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use fabmon_sensor::dataset::{self, Dataset, DatasetSink, SinkConfig, TableReport, WriterLimits};
use fabmon_sensor::engine::EngineConfig;
use fabmon_sensor::monitor::Monitor;
use fabmon_sensor::pipeline::RunError;

use super::decode::{print_capture_stats, print_summary, run_capture};
use super::monitor::{load_baseline, load_profile};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    /// docs/schema.md.
    Markdown,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// pcap or pcapng files (`-` for standard input), processed in order.
    #[arg(required_unless_present_any = ["iface", "print_schema"])]
    pub captures: Vec<String>,
    #[command(flatten)]
    pub live: super::live::LiveArgs,
    /// Fab profile (TOML): zones, assets, conduits, authorisations (see docs/profiles.md).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<String>,
    /// Baseline learned with `fabmon baseline learn` (what is normal).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<String>,
    /// Write the Parquet dataset here (docs/schema.md). Without it the run keeps the
    /// inventory and alerts and prints the summary only.
    #[arg(long, value_name = "DIR")]
    pub out: Option<String>,
    /// Sensor id written in every row and file name (`A-Z a-z 0-9 . _ -`); default: the host
    /// name.
    #[arg(long, value_name = "ID")]
    pub sensor_id: Option<String>,
    /// Worker threads (flows are sharded onto them).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Close a file after it was open this many seconds (capture or wall-clock time); also
    /// the interval of asset snapshots.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub rotate_secs: u64,
    /// Close a file once it holds this many bytes.
    #[arg(long, default_value_t = 256 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_bytes: u64,
    /// Seconds of capture time per `stats` row (alerts that grew are written at the same pace).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub stats_interval: u64,
    /// Print the dataset schema and exit.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub print_schema: Option<SchemaFormat>,
    /// Also print the per-capture summary of packets, flows and messages on standard error.
    #[arg(long)]
    pub summary: bool,
}

/// The host name as a sensor id (characters outside the allowed set become `_`).
fn default_sensor_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let id: String = host
        .trim()
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let id = id.trim_start_matches('.').to_string();
    if id.is_empty() {
        "sensor".into()
    } else {
        id
    }
}

fn print_tables(reports: &[TableReport]) {
    println!("  {:<9} {:>12} {:>7} {:>14} {:>12}", "table", "rows", "files", "bytes", "dropped");
    for r in reports {
        println!(
            "  {:<9} {:>12} {:>7} {:>14} {:>12}",
            r.table, r.rows_written, r.files_written, r.bytes_written, r.rows_dropped
        );
    }
    for r in reports.iter().filter(|r| r.errors > 0) {
        eprintln!(
            "fabmon: {}: {} write errors, {} rows dropped; last: {}",
            r.table,
            r.errors,
            r.rows_dropped,
            r.last_error.as_deref().unwrap_or("?")
        );
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(SchemaFormat::Markdown) = args.print_schema {
        print!("{}", dataset::schema::markdown());
        return Ok(ExitCode::SUCCESS);
    }
    let sensor = args.sensor_id.clone().unwrap_or_else(default_sensor_id);
    if !dataset::valid_sensor_id(&sensor) {
        eprintln!("fabmon: --sensor-id {sensor:?}: use 1-64 of A-Z a-z 0-9 . _ - (not starting with a dot)");
        return Ok(ExitCode::from(2));
    }
    let profile = load_profile(args.profile.as_deref())?;
    let baseline = load_baseline(args.baseline.as_deref())?;
    let monitor = Monitor::new(profile, baseline);
    let rotate_ns = i64::try_from(args.rotate_secs.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX);
    let ds = args.out.as_ref().map(|out| {
        let limits = WriterLimits { rotate_bytes: args.rotate_bytes, rotate_ns, ..WriterLimits::default() };
        let (ds, rep) = Dataset::open(Path::new(out), &sensor, limits);
        for p in &rep.recovered {
            eprintln!("fabmon: recovered {} (complete file left under its temporary name)", p.display());
        }
        for p in &rep.removed {
            eprintln!("fabmon: removed {} (partial file of an interrupted run)", p.display());
        }
        for p in &rep.problems {
            eprintln!("fabmon: warning: {p}");
        }
        ds
    });
    let cfg = SinkConfig {
        sensor: sensor.clone(),
        stats_interval_ns: i64::try_from(args.stats_interval.saturating_mul(1_000_000_000))
            .unwrap_or(i64::MAX),
        snapshot_interval_ns: rotate_ns,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal ends the process at once (files then stay temporary and are
        // recovered or removed at the next start).
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let mut sink = DatasetSink::new(monitor, ds, cfg).with_stop(Arc::clone(&stop));
    let workers = usize::from(args.workers);
    let mut failed = false;
    let (mut packets, mut bytes) = (0u64, 0u64);
    let sources: Vec<String>;
    if let Some(iface) = &args.live.iface {
        let cfg = sink.monitor().engine_config(EngineConfig::with_defaults());
        let (summary, err) = super::live::run_live(&args.live, cfg, workers, &mut sink)?;
        if args.summary {
            print_summary(iface, &summary);
            print_capture_stats(&summary);
        }
        if let Some(e) = err {
            eprintln!("fabmon: {e}");
            failed = true;
        }
        packets += summary.frames;
        bytes += summary.engine.bytes;
        sink.end_source(&summary);
        sources = vec![format!("live:{iface}")];
    } else {
        for path in &args.captures {
            let cfg = sink.monitor().engine_config(EngineConfig::with_defaults());
            match run_capture(path, cfg, workers, &mut sink) {
                Ok((summary, err)) => {
                    if args.summary {
                        print_summary(path, &summary);
                    }
                    packets += summary.frames;
                    bytes += summary.engine.bytes;
                    sink.end_source(&summary);
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
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        sources = args.captures.clone();
    }
    let interrupted = stop.load(Ordering::Relaxed);
    let counts = sink.counts.clone();
    let (out, reports) = sink.finish(&sources);
    let occurrences: u64 = out.alerts.iter().map(|a| a.count).sum();
    println!(
        "fabmon run{}: {packets} packets ({bytes} bytes), {} messages, {} flows ended, {} assets, {} alerts ({} occurrences), {} identity changes",
        if interrupted { " (interrupted)" } else { "" },
        counts.messages,
        counts.flows_ended,
        out.inventory.len(),
        out.alerts.len(),
        occurrences,
        counts.identity_changes,
    );
    if let Some(dir) = &args.out {
        let dropped: u64 = reports.iter().map(|r| r.rows_dropped).sum();
        println!("  dataset {dir} (sensor {sensor}): {dropped} rows dropped");
        print_tables(&reports);
    }
    if out.alerts_overflowed > 0 {
        eprintln!(
            "fabmon: {} occurrences folded into overflow alerts (alert table full)",
            out.alerts_overflowed
        );
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
