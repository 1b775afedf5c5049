//! Helpers shared by the end-to-end tests of the `fabmon` command.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/` beside the checkout, if present.
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    p.join("corpus").is_dir().then_some(p)
}

/// The shared directory, or None after printing why the test does nothing. Under
/// `FABMON_REQUIRE_TOOLS=1` (the CI test script) a missing directory fails the test instead.
pub fn shared_or_skip(test: &str) -> Option<PathBuf> {
    match shared() {
        Some(p) => Some(p),
        None => {
            assert!(std::env::var_os("FABMON_REQUIRE_TOOLS").is_none(), "{test}: ../shared/ is required");
            eprintln!("{test}: skipped: ../shared/ is not beside the checkout");
            None
        }
    }
}

/// Whether an external tool is on PATH; under `FABMON_REQUIRE_TOOLS=1` its absence fails.
pub fn tool_or_skip(test: &str, tool: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("FABMON_REQUIRE_TOOLS").is_none(),
            "{test}: {tool} is required (scripts/test-all.sh installs it)"
        );
        eprintln!("{test}: skipped: {tool} is not installed");
    }
    ok
}

pub fn fabmon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fabmon"))
}

/// Runs `fabmon ARGS`, asserting it did not crash (a signal or an exit code other than 0/1).
pub fn run_fabmon(args: &[&str]) -> Output {
    let out = fabmon().args(args).output().expect("fabmon runs");
    let code = out.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "fabmon {args:?} ended with {:?}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every corpus capture with its truth file: (pcap, truth).
pub fn corpus_captures(shared: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut v = Vec::new();
    for dir in ["corpus/secsgem/captures", "corpus/modbus/pcaps", "corpus/bacnet/pcaps"] {
        let Ok(rd) = std::fs::read_dir(shared.join(dir)) else { continue };
        let mut pcaps: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        pcaps.sort();
        for p in pcaps {
            let truth = p.with_extension("truth.json");
            if truth.is_file() {
                v.push((p, truth));
            }
        }
    }
    v
}

/// Every public capture (pcap and pcapng).
pub fn public_captures(shared: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["captures/public/modbus", "captures/public/bacnet"] {
        let Ok(rd) = std::fs::read_dir(shared.join(dir)) else { continue };
        v.extend(
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng")),
        );
    }
    v.sort();
    v
}
