//! `fabmon inventory`: the assets of captures, per Purdue level.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use fabmon_sensor::inventory::Asset;
use fabmon_sensor::monitor::Monitor;

use super::monitor::{load_profile, run_monitor, MonitorArgs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A JSON array of assets (contract in docs/inventory.md).
    Json,
    /// A table per Purdue level.
    Table,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub common: MonitorArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub fn run(args: InventoryArgs) -> anyhow::Result<ExitCode> {
    let profile = load_profile(args.common.profile.as_deref())?;
    let (out, failed) = run_monitor(&args.common, Monitor::new(profile, None))?;
    let assets = out.inventory.assets_sorted();
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&assets)?),
        Format::Table => print!("{}", table(&assets)),
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The identity of an asset in a few words.
pub fn identity_line(a: &Asset) -> String {
    let v = |k: &str| a.identity.values.get(k).map(|v| v.as_str().map_or(v.to_string(), str::to_string));
    let mut parts = Vec::new();
    if let (Some(m), s) = (v("mdln"), v("softrev")) {
        parts.push(format!("MDLN {m} SOFTREV {}", s.unwrap_or_default()));
    }
    if let Some(vn) = v("vendor").or(v("vendor_name")) {
        parts.push(vn);
    }
    if let Some(m) = v("model").or(v("model_name")).or(v("product_code")) {
        parts.push(m);
    }
    if let Some(f) = v("revision").or(v("firmware")) {
        parts.push(format!("fw {f}"));
    }
    if let Some(d) = v("device_instance") {
        parts.push(format!("device {d}"));
    }
    parts.join(", ")
}

/// Assets grouped by level, one line each.
pub fn table(assets: &[&Asset]) -> String {
    let mut s = String::new();
    let mut current: Option<Option<String>> = None;
    for a in assets {
        if current.as_ref() != Some(&a.level) {
            current = Some(a.level.clone());
            let title = match &a.level {
                Some(l) => format!("Level {l}"),
                None => "Level unknown".to_string(),
            };
            s.push_str(&format!("\n{title}\n"));
        }
        let roles: Vec<&str> =
            a.roles.iter().copied().filter(|r| !r.ends_with("-server") || r.starts_with("modbus")).collect();
        s.push_str(&format!(
            "  {:<16} {:<12} {:<10} {:<34} {}{}\n",
            a.ip.to_string(),
            a.area.as_deref().unwrap_or("-"),
            a.level_source,
            roles.join(","),
            identity_line(a),
            a.name.as_deref().map(|n| format!("  [{n}]")).unwrap_or_default()
        ));
        if let Some(v) = &a.vulnerabilities {
            let affected: Vec<_> =
                v.iter().filter(|m| m.status == fabmon_sensor::advisory::Status::KnownAffected).collect();
            if !affected.is_empty() {
                let ids: Vec<String> = affected
                    .iter()
                    .map(|m| {
                        let cvss = m.cvss.map_or("?".to_string(), |c| format!("{c:.1}"));
                        format!("{} ({} confidence, CVSS {cvss})", m.advisory, m.confidence.name())
                    })
                    .collect();
                s.push_str(&format!(
                    "  {:<16} vulnerabilities: {}: {}\n",
                    "",
                    affected.len(),
                    ids.join(", ")
                ));
            }
        }
        if !a.findings.is_empty() {
            s.push_str(&format!("  {:<16} findings: {}\n", "", a.findings.len()));
        }
    }
    s
}
