//! `fabmon decode`: every decoded OT message of one or more captures.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use fabmon_sensor::app::DetectConfig;
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::engine::EngineConfig;
use fabmon_sensor::pipeline::{self, EventSink, RunError, RunSummary};
use fabmon_sensor::record::{Event, OtMessage};
use fabmon_sensor::time::format_rfc3339_us;

use super::progress;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per message (contract in docs/decode-jsonl.md).
    Jsonl,
    /// One readable line per message.
    Text,
    /// Nothing per message: only the summary (for timing the decoders).
    None,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// pcap or pcapng files; `-` reads standard input (e.g. `tcpdump -w - | fabmon decode -`).
    #[arg(required_unless_present = "iface")]
    pub captures: Vec<String>,
    #[command(flatten)]
    pub live: super::live::LiveArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// TCP ports that carry HSMS from the first byte (otherwise HSMS is found by content).
    #[arg(long = "hsms-port", value_name = "PORT")]
    pub hsms_ports: Vec<u16>,
    /// Extra TCP ports that carry Modbus/TCP (502 always does).
    #[arg(long = "modbus-port", value_name = "PORT")]
    pub modbus_ports: Vec<u16>,
    /// Extra UDP ports that carry BACnet/IP (47808–47823 always do).
    #[arg(long = "bacnet-port", value_name = "PORT")]
    pub bacnet_ports: Vec<u16>,
    /// Also print transaction events (requests never answered) among the messages.
    #[arg(long)]
    pub events: bool,
    /// Worker threads: packets are sharded onto them by flow; output keeps capture order.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Track flows and reassemble TCP, but run no protocol decoder (to time that stage alone).
    #[arg(long, hide_short_help = true)]
    pub no_decoders: bool,
    /// Do not print the per-capture summary on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

impl DecodeArgs {
    pub fn engine_config(&self) -> EngineConfig {
        let mut cfg = EngineConfig::with_defaults();
        let d: &mut DetectConfig = &mut cfg.detect;
        d.hsms_ports.extend(&self.hsms_ports);
        d.modbus_ports.extend(&self.modbus_ports);
        d.bacnet_ports.extend(&self.bacnet_ports);
        cfg.decoders_off = self.no_decoders;
        cfg
    }
}

/// Writes messages as JSON lines or text.
pub struct MessageWriter<W: Write> {
    out: W,
    format: Format,
    events: bool,
    line: Vec<u8>,
}

impl<W: Write> MessageWriter<W> {
    pub fn new(out: W, format: Format, events: bool) -> Self {
        MessageWriter { out, format, events, line: Vec::with_capacity(512) }
    }

    fn text(&mut self, m: &OtMessage) -> std::io::Result<()> {
        let mut s = format!(
            "{:>7} {} {}:{} -> {}:{} {:<6} {}",
            m.frame,
            format_rfc3339_us(m.ts_ns),
            m.src,
            m.sport,
            m.dst,
            m.dport,
            m.body.proto_name(),
            m.body.summary()
        );
        if let (Some(rf), Some(us)) = (m.request_frame, m.latency_us) {
            s.push_str(&format!("  (answers #{rf}, {:.1} ms)", us as f64 / 1000.0));
        }
        if m.orphan {
            s.push_str("  (no request seen)");
        }
        if m.malformed {
            s.push_str("  [MALFORMED]");
        }
        if !m.anomalies.is_empty() {
            s.push_str(&format!("  [{}]", m.anomalies.join(", ")));
        }
        s.push('\n');
        self.out.write_all(s.as_bytes())
    }
}

impl<W: Write> EventSink for MessageWriter<W> {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        for ev in events {
            match (ev, self.format) {
                (_, Format::None) => {}
                (Event::Message(m), Format::Jsonl) => {
                    self.line.clear();
                    serde_json::to_writer(&mut self.line, m)?;
                    self.line.push(b'\n');
                    self.out.write_all(&self.line)?;
                }
                (Event::Message(m), Format::Text) => self.text(m)?,
                (Event::Transaction(t), Format::Jsonl) if self.events => {
                    self.line.clear();
                    serde_json::to_writer(
                        &mut self.line,
                        &serde_json::json!({ "event": "transaction", "transaction": t }),
                    )?;
                    self.line.push(b'\n');
                    self.out.write_all(&self.line)?;
                }
                (Event::Transaction(t), Format::Text) if self.events => {
                    let line = format!(
                        "{:>7} {} {}:{} -> {}:{} {:<6} request {:?}: {}\n",
                        t.request_frame,
                        format_rfc3339_us(t.ts_ns),
                        t.src,
                        t.sport,
                        t.dst,
                        t.dport,
                        t.proto,
                        t.outcome,
                        t.what
                    );
                    self.out.write_all(line.as_bytes())?;
                }
                _ => {}
            }
        }
        Ok(true)
    }
}

impl<W: Write> MessageWriter<W> {
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Opens and runs one capture through the engine into `sink`.
pub fn run_capture(
    path: &str,
    cfg: EngineConfig,
    workers: usize,
    sink: &mut dyn EventSink,
) -> Result<(RunSummary, Option<RunError>), fabmon_sensor::capture::CaptureError> {
    let mut src = FileSource::open(path)?;
    let bar = progress::for_file(path);
    let mut cb = |bytes: u64, _packets: u64| {
        if let Some(b) = &bar {
            b.set_position(bytes);
        }
    };
    let out = pipeline::run(&mut src, cfg, workers, pipeline::WhenFull::Block, sink, Some(&mut cb));
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(out)
}

/// One paragraph on standard error about what a run saw and skipped.
pub fn print_summary(path: &str, s: &RunSummary) {
    let e = &s.engine;
    let mut lines = vec![format!(
        "{path}: {} packets, {} flows ({} picked up mid-stream), messages {}",
        s.frames,
        e.flows_created,
        e.flows_midstream,
        fmt_map(&e.messages)
    )];
    if !e.messages_malformed.is_empty() {
        lines.push(format!("  malformed messages: {}", fmt_map(&e.messages_malformed)));
    }
    if !e.unanswered.is_empty() {
        lines.push(format!("  requests without answer: {}", fmt_map(&e.unanswered)));
    }
    let mut skipped = Vec::new();
    if e.not_ip > 0 {
        skipped.push(format!("{} not IP", e.not_ip));
    }
    for (lt, n) in &e.unknown_link {
        skipped.push(format!("{n} of unknown link type {lt}"));
    }
    for (why, n) in &e.malformed {
        skipped.push(format!("{n} {why}"));
    }
    if e.ip_fragments > 0 {
        skipped.push(format!("{} IP fragments", e.ip_fragments));
    }
    if !skipped.is_empty() {
        lines.push(format!("  packets skipped: {}", skipped.join(", ")));
    }
    let r = &e.reassembly;
    let gaps = r.gaps_acked_unseen
        + r.gaps_ooo_full
        + r.gaps_buffer_full
        + r.gaps_far_ahead
        + r.gaps_snaplen
        + r.gaps_memory;
    if gaps > 0 || r.out_of_order > 0 || r.retransmissions > 0 {
        lines.push(format!(
            "  tcp: {} retransmissions, {} overlaps, {} out of order, {} gaps ({} bytes lost)",
            r.retransmissions, r.overlaps, r.out_of_order, gaps, r.gap_bytes
        ));
    }
    if e.flows_evicted > 0 {
        lines.push(format!("  flows evicted (table full): {}", e.flows_evicted));
    }
    if s.source.skipped_blocks > 0 {
        lines.push(format!("  pcapng blocks skipped: {}", s.source.skipped_blocks));
    }
    if let Some(off) = s.source.truncated_at {
        lines.push(format!("  warning: the last record (at byte offset {off}) is truncated; everything before it was processed"));
    }
    eprintln!("{}", lines.join("\n"));
}

/// Kernel counters of a live capture.
pub fn print_capture_stats(s: &RunSummary) {
    let src = &s.source;
    eprintln!(
        "  kernel: {} packets, {} dropped by the kernel, ring frozen {} times; {} dropped on full worker queues",
        src.kernel_packets, src.kernel_drops, src.kernel_freeze_q, s.engine.dropped_queue_full_packets
    );
}

fn fmt_map<K: std::fmt::Display>(m: &std::collections::BTreeMap<K, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

pub fn run(args: DecodeArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut w =
        MessageWriter::new(BufWriter::with_capacity(1 << 20, stdout.lock()), args.format, args.events);
    let mut failed = false;
    if args.live.iface.is_some() {
        let (summary, err) =
            super::live::run_live(&args.live, args.engine_config(), usize::from(args.workers), &mut w)?;
        if !args.quiet {
            print_summary(args.live.iface.as_deref().unwrap_or_default(), &summary);
            print_capture_stats(&summary);
        }
        w.flush()?;
        if let Some(e) = err {
            eprintln!("fabmon: {e}");
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    for path in &args.captures {
        match run_capture(path, args.engine_config(), usize::from(args.workers), &mut w) {
            Ok((summary, err)) => {
                if !args.quiet {
                    print_summary(path, &summary);
                }
                match err {
                    None => {}
                    Some(RunError::Sink(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                        return Ok(ExitCode::SUCCESS)
                    }
                    Some(e) => {
                        eprintln!("fabmon: {e}");
                        failed = true;
                    }
                }
            }
            Err(e) => {
                eprintln!("fabmon: {e}");
                failed = true;
            }
        }
        if let Err(e) = w.flush() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(e.into());
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
