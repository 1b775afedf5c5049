//! `fabmon advisories`: the local store of CSAF 2.0 advisories the inventory is matched against.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use fabmon_sensor::advisory::store::{Outcome, Store, DEFAULT_STORE};
use fabmon_sensor::advisory::{AdvisoryIndex, Aliases};

#[derive(Debug, Args)]
pub struct AdvisoriesArgs {
    #[command(subcommand)]
    pub cmd: AdvisoriesCmd,
}

#[derive(Debug, Subcommand)]
pub enum AdvisoriesCmd {
    /// Load CSAF 2.0 documents (files, or folders searched for *.json) into the store. A newer
    /// revision of an advisory replaces the older one; unreadable documents are reported with
    /// the file and JSON path, and the others still load (exit code 1).
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Store directory (keep it next to the dataset).
        #[arg(long, value_name = "DIR", default_value = DEFAULT_STORE)]
        store: PathBuf,
    },
    /// List the advisories in the store.
    List {
        #[arg(long, value_name = "DIR", default_value = DEFAULT_STORE)]
        store: PathBuf,
    },
}

pub fn run(args: AdvisoriesArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        AdvisoriesCmd::Import { paths, store } => {
            let s = Store::open(&store).map_err(|e| anyhow::anyhow!("{e}"))?;
            let r = s.import(&paths).map_err(|e| anyhow::anyhow!("{e}"))?;
            for i in &r.imported {
                let what = match &i.outcome {
                    Outcome::Added => "added".to_string(),
                    Outcome::Replaced { old_id, old_version } => {
                        format!("replaced {old_id} version {old_version}")
                    }
                    Outcome::Unchanged => "already in the store".to_string(),
                    Outcome::OlderSkipped { kept_id, kept_version } => {
                        format!("older than {kept_id} version {kept_version} in the store; not imported")
                    }
                };
                println!("{} version {} ({} products): {what}  [{}]", i.id, i.version, i.products, i.file);
            }
            for x in &r.rejected {
                eprintln!("fabmon: {x}");
            }
            eprintln!(
                "fabmon advisories: {} read, {} rejected; store {}",
                r.imported.len(),
                r.rejected.len(),
                store.display()
            );
            Ok(if r.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AdvisoriesCmd::List { store } => {
            let s = Store::open_existing(&store).map_err(|e| anyhow::anyhow!("{e}"))?;
            let (advs, bad) = s.load().map_err(|e| anyhow::anyhow!("{e}"))?;
            for a in &advs {
                println!(
                    "{:<18} v{:<6} {}  {} products  {}",
                    a.id,
                    a.version,
                    a.current_release_date,
                    a.products.len(),
                    a.title
                );
            }
            for x in &bad {
                eprintln!("fabmon: {x}");
            }
            Ok(if bad.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

/// Loads a store into a matcher (documents that cannot be read are reported and skipped).
pub fn load_index(dir: &std::path::Path) -> anyhow::Result<Arc<AdvisoryIndex>> {
    let s = Store::open_existing(dir).map_err(|e| anyhow::anyhow!("advisory store: {e}"))?;
    let (advs, bad) = s.load().map_err(|e| anyhow::anyhow!("{e}"))?;
    for x in &bad {
        eprintln!("fabmon: warning: skipped {x}");
    }
    let aliases = Aliases::builtin().context("the built-in vendor alias table")?;
    Ok(Arc::new(AdvisoryIndex::new(&advs, aliases)))
}
