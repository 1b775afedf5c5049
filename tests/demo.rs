//! `fabmon demo` and the committed demo capture.

mod common;

use common::*;

const SYNTH_ARGS: &[&str] =
    &["--packets", "30000", "--seed", "7", "--duration", "20m", "--advisory-identities"];

#[test]
fn committed_demo_capture_is_what_the_generator_makes() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("demo.pcap");
    let summary = dir.path().join("demo.summary.json");
    let mut args = vec!["synth"];
    args.extend_from_slice(SYNTH_ARGS);
    args.extend_from_slice(&["--out", pcap.to_str().unwrap(), "--summary", summary.to_str().unwrap()]);
    let out = run_fabmon(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    assert!(
        std::fs::read(&pcap).unwrap() == std::fs::read(root.join("demo.pcap")).unwrap(),
        "captures/demo.pcap differs from what `fabmon synth` makes now: regenerate it (captures/README.md)"
    );
    assert!(
        std::fs::read(&summary).unwrap() == std::fs::read(root.join("demo.summary.json")).unwrap(),
        "captures/demo.summary.json differs: regenerate it (captures/README.md)"
    );
}

#[test]
fn committed_demo_baseline_is_what_learning_makes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.pcap");
    let mut args = vec!["synth"];
    args.extend_from_slice(SYNTH_ARGS);
    args.extend_from_slice(&["--no-plant", "--out", clean.to_str().unwrap()]);
    assert!(run_fabmon(&args).status.success());
    let base = dir.path().join("b.json");
    // The committed file was learned from standard input, so `learned_from` says "-".
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} baseline learn - --out {} < {}",
            env!("CARGO_BIN_EXE_fabmon"),
            base.display(),
            clean.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    assert!(
        std::fs::read(&base).unwrap() == std::fs::read(root.join("demo.baseline.json")).unwrap(),
        "captures/demo.baseline.json differs from what learning makes now: regenerate it (captures/README.md)"
    );
}

#[test]
fn demo_runs_from_the_embedded_capture() {
    let out = run_fabmon(&["demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("30000 packets"), "{text}");
    for proto in ["hsms", "modbus", "bacnet"] {
        assert!(text.contains(proto), "{proto} missing in:\n{text}");
    }
    // Assets per Purdue level with identities from the wire.
    for want in ["Level 1", "Level 2", "Level 3", "modbus-server", "hsms-equipment", "MDLN "] {
        assert!(text.contains(want), "{want} missing in:\n{text}");
    }
    // The planted products that advisories name are flagged with the advisory.
    for want in ["Vulnerable assets: 5", "ICSA-18-240-01 high confidence", "ICSA-18-025-02B high confidence"]
    {
        assert!(text.contains(want), "{want} missing in:\n{text}");
    }
    // Each kind of planted deviation shows as an alert of the right rule.
    for rule in [
        "hsms.remote_command",
        "hsms.recipe_download",
        "hsms.unauthorized_host",
        "hsms.event_or_alarm_disabled",
        "modbus.unauthorized_write",
        "modbus.diagnostics",
        "bacnet.device_control",
        "bacnet.unauthorized_write",
        "bacnet.discovery_scan",
        "asset.identity_changed",
        "service.cleartext_remote_access",
        "asset.vulnerable",
    ] {
        assert!(text.contains(rule), "{rule} missing in:\n{text}");
    }
}
