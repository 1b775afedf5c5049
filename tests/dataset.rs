//! `fabmon run --out DIR`: the Parquet dataset read back by another implementation (pyarrow),
//! its row counts against `fabmon decode` and `fabmon alerts`, and crash safety under SIGKILL.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether python3 with pyarrow is there; under `FABMON_REQUIRE_TOOLS=1` its absence fails
/// (scripts/test-all.sh installs it).
fn pyarrow_or_skip(test: &str) -> bool {
    if !tool_or_skip(test, "python3") {
        return false;
    }
    let ok =
        Command::new("python3").args(["-c", "import pyarrow"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("FABMON_REQUIRE_TOOLS").is_none(),
            "{test}: python3 -c 'import pyarrow' fails (scripts/test-all.sh installs pyarrow)"
        );
        eprintln!("{test}: skipped: pyarrow is not installed");
    }
    ok
}

/// The dataset as pyarrow reads it (tests/dataset/read_dataset.py).
fn read_dataset(dir: &Path, files_only: bool) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("tests/dataset/read_dataset.py")).arg(dir);
    if files_only {
        cmd.arg("--files");
    }
    let out = cmd.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "read_dataset.py {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("read_dataset.py prints JSON")
}

#[test]
fn schema_doc_is_generated_from_code() {
    let out = run_fabmon(&["run", "--print-schema", "markdown"]);
    let want = String::from_utf8(out.stdout).unwrap();
    let have = std::fs::read_to_string(root().join("docs/schema.md")).unwrap();
    assert!(
        have == want,
        "docs/schema.md is stale: run `fabmon run --print-schema markdown > docs/schema.md`"
    );
    for t in ["messages", "flows", "assets", "alerts", "stats"] {
        assert!(want.contains(&format!("## `{t}`")), "{t}");
    }
}

#[test]
fn run_without_out_prints_the_summary() {
    let Some(shared) = shared_or_skip("run_without_out_prints_the_summary") else { return };
    let cap = shared.join("corpus/secsgem/captures/normal_session.pcap");
    let out = run_fabmon(&["run", cap.to_str().unwrap(), "--sensor-id", "t"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("fabmon run: "), "{text}");
    assert!(text.contains(" messages, ") && text.contains(" alerts ("), "{text}");
    assert!(!text.contains("dataset"), "{text}");
}

#[test]
fn every_corpus_capture_writes_a_dataset_pyarrow_reads_back() {
    let test = "every_corpus_capture_writes_a_dataset_pyarrow_reads_back";
    let Some(shared) = shared_or_skip(test) else { return };
    if !pyarrow_or_skip(test) {
        return;
    }
    let caps = corpus_captures(&shared);
    assert!(caps.len() >= 8, "corpus incomplete: {caps:?}");
    let (mut hsms_checked, mut modbus_checked, mut latency_checked) = (0, 0, 0);
    for (cap, _) in caps {
        let c = cap.to_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = run_fabmon(&["run", c, "--out", dir.path().to_str().unwrap(), "--sensor-id", "corpus-1"]);
        assert_eq!(out.status.code(), Some(0), "{c}: {}", String::from_utf8_lossy(&out.stderr));
        let decode = run_fabmon(&["decode", c, "--format", "jsonl", "--quiet"]);
        let lines: Vec<String> =
            String::from_utf8(decode.stdout).unwrap().lines().map(str::to_string).collect();
        let alerts = run_fabmon(&["alerts", c, "--format", "jsonl"]);
        let alerts: Vec<Value> = String::from_utf8(alerts.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got = read_dataset(dir.path(), false);
        let t = |name: &str, key: &str| got[name][key].as_u64().unwrap_or(0);
        assert_eq!(t("messages", "rows"), lines.len() as u64, "{c}: messages");
        assert_eq!(t("alerts", "uids"), alerts.len() as u64, "{c}: alerts");
        let occurrences: u64 = alerts.iter().map(|a| a["count"].as_u64().unwrap()).sum();
        assert_eq!(t("alerts", "occurrences"), occurrences, "{c}: alert occurrences");
        assert_eq!(t("stats", "messages"), lines.len() as u64, "{c}: stats messages");
        assert!(t("stats", "rows") >= 1 && t("stats", "packets") > 0, "{c}: {}", got["stats"]);
        assert!(t("assets", "snapshot_ips") >= 2, "{c}: {}", got["assets"]);
        assert!(t("flows", "rows") >= 1, "{c}");
        // Row by row: `detail` is the decode line; the typed columns agree with it.
        let mut want: Vec<(u64, &str)> = lines
            .iter()
            .map(|l| (serde_json::from_str::<Value>(l).unwrap()["frame"].as_u64().unwrap(), l.as_str()))
            .collect();
        want.sort();
        let sample = got["messages"]["sample"].as_array().cloned().unwrap_or_default();
        let mut have: Vec<(u64, &str)> =
            sample.iter().map(|r| (r["frame"].as_u64().unwrap(), r["detail"].as_str().unwrap())).collect();
        have.sort();
        assert!(have == want, "{c}: detail differs from `fabmon decode --format jsonl`");
        for r in &sample {
            let j: Value = serde_json::from_str(r["detail"].as_str().unwrap()).unwrap();
            assert_eq!(r["proto"], j["proto"], "{c}");
            assert_eq!(r["latency_us"], j.get("latency_us").cloned().unwrap_or(Value::Null), "{c}");
            assert_eq!(r["request_frame"], j.get("request_frame").cloned().unwrap_or(Value::Null), "{c}");
            latency_checked += usize::from(!r["latency_us"].is_null());
            match j["proto"].as_str() {
                Some("hsms") => {
                    assert_eq!(r["hsms_system"], j["system"], "{c}");
                    if j["stype"] == 0 {
                        assert_eq!(r["hsms_stream"], j["stream"], "{c}");
                        assert_eq!(r["hsms_function"], j["function"], "{c}");
                        assert_eq!(r["kind"], "data", "{c}");
                        let sf = format!("S{}F{}", j["stream"], j["function"]);
                        assert!(r["summary"].as_str().unwrap().starts_with(&sf), "{c}: {}", r["summary"]);
                        hsms_checked += 1;
                    } else {
                        assert!(r["hsms_stream"].is_null(), "{c}");
                    }
                }
                Some("modbus") => {
                    assert_eq!(r["modbus_function"], j["fc"], "{c}");
                    assert_eq!(r["modbus_unit"], j["unit"], "{c}");
                    let kind =
                        if !j["exception"].is_null() { "exception" } else { j["dir"].as_str().unwrap() };
                    assert_eq!(r["kind"], kind, "{c}");
                    modbus_checked += 1;
                }
                _ => assert!(r["hsms_system"].is_null() && r["modbus_function"].is_null(), "{c}"),
            }
        }
    }
    assert!(hsms_checked > 100 && modbus_checked > 100 && latency_checked > 100);
}

/// Content of every closed file under `dir`: path → bytes.
fn closed_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                stack.push(p);
            } else if name.starts_with("part-") && name.ends_with(".parquet") {
                m.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    m
}

fn tmp_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().ends_with(".tmp") {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn sigkill_at_any_moment_leaves_only_complete_closed_files() {
    let test = "sigkill_at_any_moment_leaves_only_complete_closed_files";
    if !pyarrow_or_skip(test) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let cap = work.path().join("synth.pcap");
    let out = run_fabmon(&["synth", "--packets", "400000", "--out", cap.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(out.status.code(), Some(0));
    let dir = work.path().join("ds");
    let args = |d: &Path| {
        vec![
            "run".to_string(),
            cap.to_str().unwrap().to_string(),
            "--out".into(),
            d.to_str().unwrap().into(),
            "--sensor-id".into(),
            "k".into(),
            "--rotate-bytes".into(),
            "2000000".into(),
        ]
    };
    // Deterministic moments (a small LCG), spread over the run.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut kills_with_tmp = 0;
    for round in 0..10 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let ms = 300 + (seed >> 33) % 3000;
        let before = closed_files(&dir);
        let mut child = fabmon().args(args(&dir)).stdout(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        kills_with_tmp += usize::from(tmp_files(&dir) > 0);
        // Closed files of earlier runs are untouched; every closed file reads completely.
        let after = closed_files(&dir);
        for (p, bytes) in &before {
            assert!(after.get(p) == Some(bytes), "round {round}: {} changed or vanished", p.display());
        }
        if !after.is_empty() {
            read_dataset(&dir, true);
        }
    }
    // A full run cleans up what the last kill left and adds to the dataset.
    let before = closed_files(&dir);
    let out = fabmon().args(args(&dir)).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tmp_files(&dir), 0);
    let after = closed_files(&dir);
    for (p, bytes) in &before {
        assert!(after.get(p) == Some(bytes), "{} changed or vanished", p.display());
    }
    assert!(after.len() > before.len());
    let got = read_dataset(&dir, true);
    assert!(got["messages"]["rows"].as_u64().unwrap() > 0);
    assert!(
        kills_with_tmp >= 3,
        "only {kills_with_tmp} of 10 kills hit an open file: the moments miss the run"
    );
}
