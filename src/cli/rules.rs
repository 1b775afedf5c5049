//! `fabmon rules`: the rule catalogue.

use std::process::ExitCode;

use clap::Args;
use fabmon_sensor::rules::catalogue;

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Print docs/rules.md (the catalogue as Markdown).
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    if args.markdown {
        print!("{}", catalogue::markdown());
    } else {
        for r in catalogue::RULES {
            println!("{:<34} {:<5} {}", r.id, r.ot_item, r.title);
        }
    }
    Ok(ExitCode::SUCCESS)
}
