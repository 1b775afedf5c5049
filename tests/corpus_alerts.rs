//! `fabmon baseline learn` and `fabmon alerts` on the corpus, per protocol, scored by
//! `../shared/tools/check_alerts.py`:
//!
//! - after learning the normal capture, alerts on the normal capture: none;
//! - on the anomalies capture: every planted anomaly covered (`covered X/X`);
//! - every alert that covers no planted anomaly is in the reviewed list below (also in
//!   docs/alerts-corpus.md, with why each is right), exactly: a new false positive, or a
//!   reviewed alert that disappears, fails the test;
//! - `fabmon baseline diff` of the normal and anomalies baselines adds the rogue hosts;
//! - `--export file:PATH` writes the same alerts as standard output.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::*;

/// Prints, as JSON lines, the alerts that cover no planted anomaly: an alert covers one when
/// check_alerts.py would accept it for it (its rule is one the scorer expects for the
/// anomaly's tag, and its evidence frames include the anomaly's frames or its ends are the
/// anomaly's). The scorer's own table decides, imported from the scorer.
const UNTIED: &str = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import check_alerts as c
truth = json.load(open(sys.argv[2]))
alerts = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
def covers(al, a):
    tag = a.get("tag") or a.get("kind") or ""
    rules = c.expected_rules(tag)
    if tag in c.NOT_REQUIRED or rules is None or al.get("rule") not in rules:
        return False
    ev = set((al.get("evidence") or {}).get("frames") or [])
    s, d = c.anomaly_ends(a)
    return bool(ev & c.anomaly_frames(a)) or (al.get("src") == s and al.get("dst") in (d, None, ""))
for al in alerts:
    if not any(covers(al, a) for a in truth.get("anomalies", [])):
        print(json.dumps({k: al.get(k) for k in ("rule", "src", "dst", "key", "count")}))
"#;

/// One reviewed alert that covers no planted anomaly: (rule, src, dst or "-", how many such
/// alerts). Why each is right is in the comment above it and in docs/alerts-corpus.md.
type Reviewed = (&'static str, &'static str, &'static str, usize);

struct Corpus {
    name: &'static str,
    normal: &'static str,
    anomalies: &'static str,
    /// Hosts that appear only in the anomalies capture.
    rogues: &'static [&'static str],
    reviewed: &'static [Reviewed],
}

const SECSGEM: Corpus = Corpus {
    name: "secsgem",
    normal: "corpus/secsgem/captures/normal_session",
    anomalies: "corpus/secsgem/captures/anomalies",
    rogues: &["127.0.4.66", "127.0.4.99"],
    reviewed: &[
        // ROGUE's full GEM session with ETCH-01 (A08) is a conversation the baseline does
        // not hold; the scorer takes only hsms.unauthorized_host (also raised) for A08.
        ("flow.new_conversation", "127.0.4.66", "127.0.2.21", 1),
        // ROGUE's S7F17 deleting recipe ETCH_OX_45S (frame 293). The truth tags this exchange
        // by its S9F5 reply only (A12); the request itself is a recipe deletion by a host
        // with no session in the baseline.
        ("hsms.recipe_delete", "127.0.4.66", "127.0.2.21", 1),
        // FUZZ (127.0.4.99), the raw-socket client, is a host the baseline does not hold;
        // the scorer takes only hsms.unauthorized_host (also raised) for A13.
        ("asset.new", "127.0.4.99", "-", 1),
        // FUZZ's connection to LITHO-03:6000 is a new conversation.
        ("flow.new_conversation", "127.0.4.99", "127.0.2.23", 1),
        // FUZZ's S10F3 with a JIS-8 text (A18, unusual_item_format_jis8, which the scorer
        // does not require): text pushed to LITHO-03's operator terminal by a host with no
        // session in the baseline.
        ("hsms.terminal_message", "127.0.4.99", "127.0.2.23", 1),
    ],
};

const MODBUS: Corpus = Corpus {
    name: "modbus",
    normal: "corpus/modbus/pcaps/modbus_normal",
    anomalies: "corpus/modbus/pcaps/modbus_anomalies",
    rogues: &["127.0.4.66"],
    reviewed: &[
        // The rogue client is a host the baseline does not hold (no tag names it).
        ("asset.new", "127.0.4.66", "-", 1),
        // Its first connection to each PLC is a new conversation.
        ("flow.new_conversation", "127.0.4.66", "127.0.1.10", 1),
        ("flow.new_conversation", "127.0.4.66", "127.0.1.11", 1),
        ("flow.new_conversation", "127.0.4.66", "127.0.1.12", 1),
        // Every function code the rogue uses is new for it (the baseline has no function
        // for this client at all): one alert per PLC and function (and FC 8 sub-function),
        // beside the rule for the operation itself. PLC-A: FC 5, 6, 15, 16, 23, 8/0, 8/1,
        // 8/4, 8/10, 8/11, 43/14, 90.
        ("modbus.new_function", "127.0.4.66", "127.0.1.10", 12),
        // PLC-B: FC 6 (to unit 0), 43/14 (device-id scan), 3 (unit-id scan).
        ("modbus.new_function", "127.0.4.66", "127.0.1.11", 3),
        // PLC-C: FC 6, 16, 8/0, 8/4, 43/14, 90.
        ("modbus.new_function", "127.0.4.66", "127.0.1.12", 6),
        // PLC-C (libmodbus) answers the rogue's HTTP junk (malformed_non_modbus_junk) with
        // an exception frame built from the junk bytes: malformed Modbus on the wire, sent by
        // the PLC (the truth lists no response frame for it, tshark does not decode it).
        ("modbus.malformed", "127.0.1.12", "127.0.4.66", 1),
    ],
};

const BACNET: Corpus = Corpus {
    name: "bacnet",
    normal: "corpus/bacnet/pcaps/bacnet_normal",
    anomalies: "corpus/bacnet/pcaps/bacnet_anomalies",
    rogues: &["192.0.2.66", "192.0.2.77"],
    reviewed: &[
        // ROGUE-77 is a host the baseline does not hold (the scanner's asset.new covers
        // object_enumeration; no tag takes it for the writer).
        ("asset.new", "192.0.2.77", "-", 1),
        // ROGUE-77's first datagrams to each device (writes, DCC, reinitialize).
        ("flow.new_conversation", "192.0.2.77", "192.0.2.21", 1),
        ("flow.new_conversation", "192.0.2.77", "192.0.2.22", 1),
        ("flow.new_conversation", "192.0.2.77", "192.0.2.23", 1),
        // The unicast I-Am answers of the three devices and of the BMS (it answers Who-Is as
        // device 10) to the scanner's Who-Is are the first datagrams between them and the
        // scanner. BACnet/IP talks port 47808 to port 47808, and the first sender of such a
        // flow is taken as its client: the answering host is the source.
        ("flow.new_conversation", "192.0.2.10", "192.0.2.66", 1),
        ("flow.new_conversation", "192.0.2.21", "192.0.2.66", 1),
        ("flow.new_conversation", "192.0.2.22", "192.0.2.66", 1),
        ("flow.new_conversation", "192.0.2.23", "192.0.2.66", 1),
        // The scanner receives on and sends from udp/47808 (it took the I-Am answers there and
        // read object-lists from it): a BACnet/IP service on a host the baseline lacks. The
        // source is the AHU, whose I-Am opened that flow.
        ("service.unexpected", "192.0.2.21", "192.0.2.66", 1),
    ],
};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn fabmon_ok(args: &[&str]) -> String {
    let out = run_fabmon(args);
    assert!(out.status.success(), "fabmon {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn python(args: &[&str]) -> (bool, String) {
    let out = Command::new("python3").args(args).output().expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text.trim().to_string())
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn check(c: &Corpus) {
    let test = format!("{}_alerts_match_the_corpus", c.name);
    let Some(shared) = shared_or_skip(&test) else { return };
    if !tool_or_skip(&test, "python3") {
        return;
    }
    let tools = shared.join("tools");
    let scorer = s(&tools.join("check_alerts.py"));
    let file = |stem: &str, ext: &str| -> PathBuf { shared.join(format!("{stem}.{ext}")) };
    let (normal, normal_truth) = (file(c.normal, "pcap"), file(c.normal, "truth.json"));
    let (anom, anom_truth) = (file(c.anomalies, "pcap"), file(c.anomalies, "truth.json"));
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("normal.baseline.json");
    fabmon_ok(&["baseline", "learn", &s(&normal), "--out", &s(&base)]);

    // The normal capture against its own baseline: no alert.
    let out = fabmon_ok(&["alerts", &s(&normal), "--baseline", &s(&base), "--format", "jsonl"]);
    let normal_jsonl = dir.path().join("normal.alerts.jsonl");
    std::fs::write(&normal_jsonl, &out).unwrap();
    let (ok, report) = python(&[&scorer, &s(&normal_truth), &s(&normal_jsonl), "--normal"]);
    eprintln!("{}: {report}", c.name);
    assert!(ok && out.trim().is_empty(), "{}: alerts on the normal capture: {report}\n{out}", c.name);

    // The anomalies capture: every planted anomaly covered. The alerts also go to a file.
    let exported = dir.path().join("exported.jsonl");
    let export = format!("file:{}", s(&exported));
    let out =
        fabmon_ok(&["alerts", &s(&anom), "--baseline", &s(&base), "--format", "jsonl", "--export", &export]);
    let anom_jsonl = dir.path().join("anomalies.alerts.jsonl");
    std::fs::write(&anom_jsonl, &out).unwrap();
    let (ok, report) = python(&[&scorer, &s(&anom_truth), &s(&anom_jsonl)]);
    eprintln!("{}: {report}", c.name);
    let (covered, required) = report
        .strip_prefix("covered ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.split_once('/'))
        .map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap()))
        .unwrap_or_else(|| panic!("{}: unexpected scorer output: {report}", c.name));
    assert!(ok && covered == required && required > 0, "{}: {report}", c.name);

    // Alerts that cover no planted anomaly: exactly the reviewed ones.
    let (ok, untied) = python(&["-c", UNTIED, &s(&tools), &s(&anom_truth), &s(&anom_jsonl)]);
    assert!(ok, "{}: {untied}", c.name);
    let mut got: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for a in json_lines(&untied) {
        let f = |k: &str| a[k].as_str().unwrap_or("-").to_string();
        *got.entry((f("rule"), f("src"), f("dst"))).or_default() += 1;
    }
    let want: BTreeMap<(String, String, String), usize> =
        c.reviewed.iter().map(|(r, s, d, n)| ((r.to_string(), s.to_string(), d.to_string()), *n)).collect();
    assert_eq!(
        got, want,
        "{}: alerts covering no planted anomaly differ from the reviewed list (docs/alerts-corpus.md):\n{untied}",
        c.name
    );

    // --export file:PATH wrote the same alerts, in the same order.
    let written = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(json_lines(&written), json_lines(&out), "{}: exported alerts differ", c.name);

    // The baseline of the anomalies capture adds the rogue hosts and their conversations.
    let base2 = dir.path().join("anomalies.baseline.json");
    fabmon_ok(&["baseline", "learn", &s(&anom), "--out", &s(&base2)]);
    let diff = fabmon_ok(&["baseline", "diff", &s(&base), &s(&base2)]);
    let added: Vec<&str> = diff.lines().filter_map(|l| l.strip_prefix("+ asset ")).collect();
    assert_eq!(added, c.rogues, "{}: assets added by the anomalies:\n{diff}", c.name);
    for r in c.rogues {
        assert!(
            diff.lines().any(|l| l.starts_with(&format!("+ conversation {r} -> "))),
            "{}: no conversation of {r} added:\n{diff}",
            c.name
        );
    }
}

#[test]
fn secsgem_alerts_match_the_corpus() {
    check(&SECSGEM);
}

#[test]
fn modbus_alerts_match_the_corpus() {
    check(&MODBUS);
}

#[test]
fn bacnet_alerts_match_the_corpus() {
    check(&BACNET);
}
