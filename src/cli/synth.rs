//! `fabmon synth`: deterministic synthetic fab traffic.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of packets to write.
    #[arg(long, default_value_t = 100_000)]
    pub packets: u64,
    /// Output pcap file.
    #[arg(long)]
    pub out: String,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(_args: SynthArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the synthetic traffic generator is not wired yet")
}
