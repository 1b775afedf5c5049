//! `fabmon demo`: the main job on the embedded demo capture and default profile.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use fabmon_sensor::advisory::{AdvisoryIndex, Aliases, Status};
use fabmon_sensor::alert::Severity;
use fabmon_sensor::baseline::Baseline;
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::engine::EngineConfig;
use fabmon_sensor::monitor::{Monitor, MonitorOutput};
use fabmon_sensor::pipeline::{self, EventSink, RunSummary};
use fabmon_sensor::profile::Profile;
use fabmon_sensor::record::{Event, OtBody};

use super::inventory::identity_line;

/// The demo capture, made by `fabmon synth` with the arguments in `captures/README.md` (the
/// test `tests/demo.rs` checks that the committed file is exactly what the generator makes).
pub static DEMO_PCAP: &[u8] = include_bytes!("../../captures/demo.pcap");
/// What is normal for the demo fab: learned from the same generator without the planted
/// deviations (captures/README.md).
pub static DEMO_BASELINE: &str = include_str!("../../captures/demo.baseline.json");
/// The default profile.
pub static DEFAULT_PROFILE: &str = include_str!("../../profiles/default.toml");
/// The demo's advisory store: the CISA advisories naming the products the demo capture plants
/// (captures/advisories/README.md).
pub static DEMO_ADVISORIES: &[(&str, &[u8])] = &[
    ("icsa-18-025-02b.json", include_bytes!("../../captures/advisories/icsa-18-025-02b.json")),
    ("icsa-18-212-02.json", include_bytes!("../../captures/advisories/icsa-18-212-02.json")),
    ("icsa-18-240-01.json", include_bytes!("../../captures/advisories/icsa-18-240-01.json")),
    ("icsa-18-240-03.json", include_bytes!("../../captures/advisories/icsa-18-240-03.json")),
    ("icsa-19-239-01.json", include_bytes!("../../captures/advisories/icsa-19-239-01.json")),
    ("icsa-21-159-01.json", include_bytes!("../../captures/advisories/icsa-21-159-01.json")),
];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the summary even when standard output is a terminal (no console).
    #[arg(long)]
    pub no_tui: bool,
    /// Console replay speed: a factor of the capture's pace (`60x` shows its 20 minutes in 20
    /// seconds) or `max`.
    #[arg(long, default_value = "60x")]
    pub speed: String,
    /// Acknowledgements file for the console (default: $XDG_STATE_HOME/fabmon/acks.jsonl).
    #[arg(long, value_name = "FILE")]
    pub acks: Option<String>,
    /// Print the console's own measurements on exit.
    #[arg(long)]
    pub stats: bool,
}

/// Tallies of what the demo shows.
#[derive(Default)]
struct Tally {
    kinds: BTreeMap<&'static str, BTreeMap<String, u64>>,
    malformed: u64,
}

impl EventSink for Tally {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        for ev in events {
            let Event::Message(m) = ev else { continue };
            if m.malformed {
                self.malformed += 1;
            }
            let kind = match &m.body {
                OtBody::Hsms(h) if h.stype == 0 => format!("S{}F{}", h.stream, h.function),
                OtBody::Hsms(h) => h.stype_name.unwrap_or("control").to_string(),
                OtBody::Modbus(r) => format!("fc{} {}", r.fc, r.fc_name),
                OtBody::Bacnet(b) => {
                    let t = match b.apdu_type {
                        Some(0) => "request",
                        Some(1) => "",
                        Some(2) => "simple-ack",
                        Some(3) => "complex-ack",
                        Some(4) => "segment-ack",
                        Some(5) => "error",
                        Some(6) => "reject",
                        Some(7) => "abort",
                        _ => "network/BVLC",
                    };
                    format!("{} {t}", b.service_name.unwrap_or("")).trim().to_string()
                }
            };
            *self.kinds.entry(m.body.proto_name()).or_default().entry(kind).or_default() += 1;
        }
        Ok(true)
    }
}

/// Both sinks in one pass: the tally for the traffic overview and the monitor.
struct Both<'a> {
    tally: &'a mut Tally,
    monitor: &'a mut Monitor,
}

impl EventSink for Both<'_> {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        self.tally.on_events(events)?;
        self.monitor.on_events(events)
    }
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let name = "captures/demo.pcap (embedded)";
    let profile = Profile::from_str(DEFAULT_PROFILE, "profiles/default.toml (embedded)")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let baseline: Baseline = serde_json::from_str(DEMO_BASELINE)?;
    let mut advisories = Vec::new();
    for (file, bytes) in DEMO_ADVISORIES {
        advisories.push(
            fabmon_sensor::advisory::csaf::parse(bytes)
                .map_err(|e| anyhow::anyhow!("captures/advisories/{file} (embedded): {e}"))?,
        );
    }
    let index = std::sync::Arc::new(AdvisoryIndex::new(&advisories, Aliases::builtin()?));
    if std::io::stdout().is_terminal() && !args.no_tui {
        // The console: the demo capture replayed through the engine on its own thread.
        let speed: fabmon_tui::replay::Speed =
            args.speed.parse().map_err(|e: String| anyhow::anyhow!("--speed {e}"))?;
        let src = FileSource::from_reader(name, Box::new(std::io::Cursor::new(DEMO_PCAP)))?;
        let job = fabmon_tui::replay::ReplayJob {
            source: Box::new(src),
            size: Some(DEMO_PCAP.len() as u64),
            monitor: Monitor::new(profile, Some(baseline)).with_advisories(index.clone()),
            speed,
            mode: "demo".into(),
            name: "captures/demo.pcap".into(),
            sensor: "demo".into(),
        };
        let acks = match &args.acks {
            Some(p) => std::path::PathBuf::from(p),
            None => fabmon_tui::acks::default_path().ok_or_else(|| {
                anyhow::anyhow!("no --acks FILE given and neither XDG_STATE_HOME nor HOME is set")
            })?,
        };
        super::tui::replay_console(job, &acks, args.stats)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut monitor = Monitor::new(profile, Some(baseline)).with_advisories(index.clone());
    let mut src = FileSource::from_reader(name, Box::new(std::io::Cursor::new(DEMO_PCAP)))?;
    let cfg = monitor.engine_config(EngineConfig::with_defaults());
    let mut tally = Tally::default();
    let (sum, err) =
        pipeline::run_inline(&mut src, cfg, &mut Both { tally: &mut tally, monitor: &mut monitor }, None);
    if let Some(e) = err {
        anyhow::bail!("demo capture: {e}");
    }
    let mut out = monitor.finish(&[name.to_string()]);
    out.inventory.assess(&index);
    print_report(name, &sum, &tally);
    print_assets(&out);
    print_vulnerable(&out, advisories.len());
    print_alerts(&out);
    Ok(ExitCode::SUCCESS)
}

fn print_assets(out: &MonitorOutput) {
    let assets = out.inventory.assets_sorted();
    let mut by_level: BTreeMap<String, usize> = BTreeMap::new();
    for a in &assets {
        *by_level.entry(a.level.clone().unwrap_or_else(|| "unknown".into())).or_default() += 1;
    }
    println!(
        "Assets: {} ({})",
        assets.len(),
        by_level.iter().map(|(l, n)| format!("level {l}: {n}")).collect::<Vec<_>>().join(", ")
    );
    println!("  levels inferred from the roles seen (the default profile names no zones; see profiles/example-fab.toml)");
    let mut level: Option<Option<String>> = None;
    let mut shown = 0;
    for a in assets.iter().filter(|a| a.is_ot()) {
        if level.as_ref() != Some(&a.level) {
            level = Some(a.level.clone());
            shown = 0;
            let n = assets.iter().filter(|b| b.is_ot() && b.level == a.level).count();
            println!("  Level {} ({} OT assets)", a.level.as_deref().unwrap_or("unknown"), n);
        }
        shown += 1;
        if shown > 4 {
            if shown == 5 {
                println!("    ...");
            }
            continue;
        }
        let roles: Vec<&str> =
            a.roles.iter().copied().filter(|r| !r.ends_with("-server") || r.starts_with("modbus")).collect();
        println!("    {:<14} {:<28} {}", a.ip.to_string(), roles.join(","), identity_line(a));
    }
    println!();
}

fn print_vulnerable(out: &MonitorOutput, n_advisories: usize) {
    let assets = out.inventory.assets_sorted();
    let hit: Vec<_> = assets
        .iter()
        .filter_map(|a| {
            let v: Vec<_> =
                a.vulnerabilities.as_ref()?.iter().filter(|m| m.status == Status::KnownAffected).collect();
            (!v.is_empty()).then_some((a, v))
        })
        .collect();
    println!(
        "Vulnerable assets: {} (matched against {n_advisories} CISA advisories embedded from captures/advisories/)",
        hit.len()
    );
    for (a, v) in &hit {
        println!("    {:<14} {}", a.ip.to_string(), identity_line(a));
        for m in v {
            println!(
                "      {} {} confidence, CVSS {}: {}",
                m.advisory,
                m.confidence.name(),
                m.cvss.map_or("?".to_string(), |c| format!("{c:.1}")),
                m.reason
            );
        }
    }
    let findings: usize = assets.iter().map(|a| a.findings.len()).sum();
    println!("  exposure findings: {findings} (fabmon inventory CAPTURE --format json; docs/advisories.md)");
    println!();
}

fn print_alerts(out: &MonitorOutput) {
    let mut by_sev: BTreeMap<Severity, usize> = BTreeMap::new();
    for a in &out.alerts {
        *by_sev.entry(a.severity).or_default() += 1;
    }
    println!(
        "Alerts: {} ({}) against the demo baseline",
        out.alerts.len(),
        by_sev.iter().rev().map(|(s, n)| format!("{n} {}", s.name())).collect::<Vec<_>>().join(", ")
    );
    let mut alerts: Vec<_> = out.alerts.iter().collect();
    alerts.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.first_ts_ns.cmp(&b.first_ts_ns)));
    for a in alerts.iter().filter(|a| a.severity >= Severity::Medium) {
        let t = a.first_ts.get(11..19).unwrap_or(&a.first_ts);
        let count = if a.count > 1 { format!(" (x{})", a.count) } else { String::new() };
        println!("  {t} {:<8} {:<32} {}{count}", a.severity.name(), a.rule, a.summary);
    }
    let low = alerts.iter().filter(|a| a.severity < Severity::Medium).count();
    if low > 0 {
        println!("  ... and {low} low/info alerts (new assets, new conversations, new functions)");
    }
    println!();
    println!("More: fabmon alerts CAPTURE --baseline B --format jsonl | fabmon inventory CAPTURE --format json | fabmon rules");
}

fn print_report(name: &str, sum: &RunSummary, t: &Tally) {
    let e = &sum.engine;
    println!("fabmon demo — {name}");
    if let (Some(a), Some(b)) = (sum.first_ts_ns, sum.last_ts_ns) {
        println!(
            "synthetic fab traffic from {} to {}",
            fabmon_sensor::time::format_rfc3339_us(a),
            fabmon_sensor::time::format_rfc3339_us(b)
        );
    }
    println!();
    println!(
        "Traffic: {} packets, {} flows ({} TCP, {} UDP packets), {} OT messages",
        sum.frames,
        e.flows_created,
        e.tcp_packets,
        e.udp_packets,
        e.messages.values().sum::<u64>()
    );
    for (proto, kinds) in &t.kinds {
        let total: u64 = kinds.values().sum();
        let mut top: Vec<_> = kinds.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = top.iter().take(6).map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "  {proto:<7}{total:>7} messages: {}{}",
            shown.join(", "),
            if top.len() > 6 { ", ..." } else { "" }
        );
    }
    if t.malformed > 0 {
        println!("  {} messages flagged malformed", t.malformed);
    }
    if !e.unknown_link.is_empty() || e.not_ip > 0 || !e.malformed.is_empty() {
        println!("  skipped: {} not IP, {} malformed headers", e.not_ip, e.malformed.values().sum::<u64>());
    }
    println!();
}
