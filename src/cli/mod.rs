//! Command-line parsing and dispatch. Each subcommand lives in its own module.

mod advisories;
mod alerts;
mod baseline;
mod decode;
mod demo;
mod inventory;
mod live;
mod monitor;
mod progress;
mod rules;
mod run;
mod synth;
mod tui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// fabmon — passive monitor for fab networks: SECS/GEM over HSMS, Modbus/TCP and BACnet/IP.
///
/// Reads pcap/pcapng captures (or `-` for standard input); never transmits.
///
/// Exit codes: 0 all input processed; 1 some input could not be read or was corrupt (everything
/// before the problem was processed and is reported); 2 bad usage.
#[derive(Debug, Parser)]
#[command(name = "fabmon", version, about, long_about)]
pub struct Cli {
    /// More diagnostics on standard error (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every decoded OT application message of a capture.
    Decode(decode::DecodeArgs),
    /// Write a deterministic synthetic fab capture (demo, tests, benchmarks).
    Synth(synth::SynthArgs),
    /// The main job on the embedded demo capture: the console on a terminal, else a readable summary.
    Demo(demo::DemoArgs),
    /// The asset inventory per Purdue level.
    Inventory(inventory::InventoryArgs),
    /// Alerts: deviations from the profile and the baseline.
    Alerts(alerts::AlertsArgs),
    /// Learn or compare baselines of normal operation.
    Baseline(baseline::BaselineArgs),
    /// The rule catalogue (`--markdown` prints docs/rules.md).
    Rules(rules::RulesArgs),
    /// The local store of CSAF advisories (`import`, `list`).
    Advisories(advisories::AdvisoriesArgs),
    /// The sensor: inventory, alerts and the Parquet dataset (`--out DIR`, docs/schema.md).
    Run(run::RunArgs),
    /// The operator console: a dataset's history or a capture replayed (docs/console.md).
    Tui(tui::TuiArgs),
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Command::Decode(a) => decode::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Inventory(a) => inventory::run(a),
        Command::Alerts(a) => alerts::run(a),
        Command::Baseline(a) => baseline::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Advisories(a) => advisories::run(a),
        Command::Run(a) => run::run(a),
        Command::Tui(a) => tui::run(a),
    }
}
