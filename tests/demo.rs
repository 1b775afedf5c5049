//! `fabmon demo` and the committed demo capture.

mod common;

use common::*;

const SYNTH_ARGS: &[&str] = &["--packets", "30000", "--seed", "7", "--duration", "20m"];

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
fn demo_runs_from_the_embedded_capture() {
    let out = run_fabmon(&["demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("30000 packets"), "{text}");
    for proto in ["hsms", "modbus", "bacnet"] {
        assert!(text.contains(proto), "{proto} missing in:\n{text}");
    }
}
