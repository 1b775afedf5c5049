//! `fabmon demo`: the main job on the embedded demo capture and default profile.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::engine::EngineConfig;
use fabmon_sensor::pipeline::{self, EventSink, RunSummary};
use fabmon_sensor::record::{Event, OtBody};

/// The demo capture, made by `fabmon synth` with the arguments in `captures/README.md` (the
/// test `tests/demo.rs` checks that the committed file is exactly what the generator makes).
pub static DEMO_PCAP: &[u8] = include_bytes!("../../captures/demo.pcap");

#[derive(Debug, Args)]
pub struct DemoArgs {}

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
                OtBody::Bacnet(b) => format!("apdu {:?} service {:?}", b.apdu_type, b.service),
            };
            *self.kinds.entry(m.body.proto_name()).or_default().entry(kind).or_default() += 1;
        }
        Ok(true)
    }
}

pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    let name = "captures/demo.pcap (embedded)";
    let mut src = FileSource::from_reader(name, Box::new(std::io::Cursor::new(DEMO_PCAP)))?;
    let mut cfg = EngineConfig::with_defaults();
    cfg.flow_events = true;
    let mut tally = Tally::default();
    let (sum, err) = pipeline::run_inline(&mut src, cfg, &mut tally, None);
    if let Some(e) = err {
        anyhow::bail!("demo capture: {e}");
    }
    print_report(name, &sum, &tally);
    Ok(ExitCode::SUCCESS)
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
    println!();
}
