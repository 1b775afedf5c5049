//! `fabmon`: passive network monitor for semiconductor fabs.
//!
//! Exit codes: 0 all input processed; 1 some input could not be read or was corrupt (the rest
//! was processed and reported); 2 bad usage (unknown flag, missing argument).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fabmon: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
