//! `fabmon synth`: deterministic synthetic fab traffic.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fabmon_sensor::synth::{self, SynthConfig};

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of packets to write (exactly).
    #[arg(long, default_value_t = 100_000)]
    pub packets: u64,
    /// Output pcap file (`-` for standard output).
    #[arg(long)]
    pub out: String,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time of the first packet, RFC 3339 UTC (e.g. 2026-11-16T08:00:00Z).
    #[arg(long)]
    pub start: Option<String>,
    /// Span of the capture, e.g. 90m, 8h, 2d (default: one hour per million packets).
    #[arg(long)]
    pub duration: Option<String>,
    /// Do not plant the deviations (rogue host, unexpected writes, floods, ...).
    #[arg(long)]
    pub no_plant: bool,
    /// Give a few PLCs and BACnet controllers the identities of real products that published
    /// advisories name (Modicon M221, PowerLogic PM5560, Desigo PXC, enteliBUS, Metasys NAE),
    /// with firmware inside the affected ranges. Without it the output for a seed is unchanged.
    #[arg(long)]
    pub advisory_identities: bool,
    /// Also write the generator's summary (message counts, planted deviations with their
    /// frames, assets) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<String>,
}

/// `90s`, `15m`, `8h`, `2d` → nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mul)?.checked_mul(1_000_000_000)
}

pub fn config(args: &SynthArgs) -> anyhow::Result<SynthConfig> {
    let mut cfg =
        SynthConfig { packets: args.packets, seed: args.seed, plant: !args.no_plant, ..Default::default() };
    if args.advisory_identities {
        cfg.identities = synth::SynthIdentities::with_advisory_matches();
    }
    if let Some(s) = &args.start {
        cfg.start_ns = fabmon_sensor::time::parse_rfc3339(s).with_context(|| {
            format!("--start {s:?} is not an RFC 3339 UTC time such as 2026-11-16T08:00:00Z")
        })?;
    }
    if let Some(d) = &args.duration {
        cfg.duration_ns =
            parse_duration(d).with_context(|| format!("--duration {d:?} is not like 90m, 8h or 2d"))?;
    }
    Ok(cfg)
}

pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let cfg = config(&args)?;
    let summary = if args.out == "-" {
        let stdout = std::io::stdout();
        let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
        let s = synth::generate(&cfg, &mut w).context("writing the capture to standard output")?;
        w.flush()?;
        s
    } else {
        let f = std::fs::File::create(&args.out).with_context(|| format!("creating {}", args.out))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let s = synth::generate(&cfg, &mut w).with_context(|| format!("writing {}", args.out))?;
        w.flush().with_context(|| format!("writing {}", args.out))?;
        s
    };
    if let Some(path) = &args.summary {
        let text = serde_json::to_string_pretty(&summary)?;
        std::fs::write(path, text).with_context(|| format!("writing {path}"))?;
    }
    eprintln!(
        "fabmon synth: {} packets ({} bytes) from {} to {}; {} planted deviations",
        summary.packets,
        summary.bytes,
        fabmon_sensor::time::format_rfc3339_us(summary.first_ts_ns),
        fabmon_sensor::time::format_rfc3339_us(summary.last_ts_ns),
        summary.planted.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90_000_000_000));
        assert_eq!(parse_duration("2d"), Some(172_800_000_000_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("3w"), None);
    }
}
