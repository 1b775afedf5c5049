//! Measures `fabmon synth` throughput and writes a capture plus its summary.
//!
//! ```text
//! cargo run --release -p fabmon-sensor --example synth_speed -- 5000000 /tmp/fab.pcap [seed]
//! ```
//! With no output path the capture goes to a sink (pure generation speed). The summary is
//! written next to the capture as `<path>.summary.json`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::Instant;

use fabmon_sensor::synth::{generate, SynthConfig};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let packets = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000_000u64);
    let path = args.next().filter(|p| p != "-");
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1u64);
    let cfg = SynthConfig { packets, seed, ..SynthConfig::default() };
    let start = Instant::now();
    let summary = match &path {
        Some(p) => {
            let mut w = BufWriter::with_capacity(1 << 20, File::create(p)?);
            let s = generate(&cfg, &mut w)?;
            w.flush()?;
            s
        }
        None => generate(&cfg, &mut io::sink())?,
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} packets, {} bytes in {secs:.2} s: {:.0} packets/s, {:.0} MB/s",
        summary.packets,
        summary.bytes,
        summary.packets as f64 / secs,
        summary.bytes as f64 / secs / 1e6
    );
    println!("by class: {:?}", summary.packets_by_class);
    println!(
        "capture spans {:.0} s; {} planted, {} skipped",
        (summary.last_ts_ns - summary.first_ts_ns) as f64 / 1e9,
        summary.planted.len(),
        summary.planted_skipped.len()
    );
    if let Some(p) = path {
        let f = File::create(format!("{p}.summary.json"))?;
        serde_json::to_writer_pretty(BufWriter::new(f), &summary)?;
    }
    Ok(())
}
