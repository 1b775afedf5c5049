//! Differential test against tshark (Debian 12's 4.0): every public capture and every corpus
//! capture is decoded by both tools, and the messages are counted by kind (Modbus: direction,
//! function code and exception flag; BACnet: APDU type and service, or the network message or
//! BVLC function when there is no APDU; HSMS: stream and function, or the session type).
//!
//! Within each kind the frames that carry the messages are compared as well, so two opposite
//! differences cannot cancel out. Every difference must be listed, with its frames and a reason
//! id, in `tests/tshark_expected.json`; every reason id must be explained in
//! `docs/tshark-differences.md`. The test fails on an unlisted difference and on a listed one
//! that no longer occurs, so the table stays true.
//!
//! tshark dies on some captures (the HSMS dissector divides by zero on an undefined SECS-II
//! format code). The expected file lists those frames: tshark then reads a copy of the capture
//! without them, its frame numbers are mapped back, and the test checks that fabmon decodes the
//! frames that kill tshark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use common::*;

const TEST: &str = "tshark_diff";

/// tshark and fabmon run at most this many at a time.
const WORKERS: usize = 2;

/// Frames of the messages of one kind, sorted, a frame repeated once per message.
type Kinds = BTreeMap<String, Vec<u64>>;

/// The TCP ports that the secsgem corpus uses for HSMS; tshark has none registered.
const HSMS_DECODE_AS: &[&str] = &["-d", "tcp.port==5000,hsms", "-d", "tcp.port==6000,hsms"];

/// tshark's fields, in this order, one line per frame (several PDUs in a frame: comma-joined).
const FIELDS: &[&str] = &[
    "frame.number",
    "tcp.srcport",
    "tcp.dstport",
    "mbtcp.trans_id",
    "modbus.func_code",
    "modbus.exception_code",
    "bvlc.type",
    "bvlc.function",
    "bacapp.type",
    "bacapp.confirmed_service",
    "bacapp.unconfirmed_service",
    "bacnet.mesgtyp",
    "hsms.header.stype",
    "hsms.header.stream",
    "hsms.header.function",
];

fn split(field: &str) -> Vec<&str> {
    field.split(',').filter(|s| !s.is_empty()).collect()
}

/// A tshark number: decimal, or hex with 0x (bvlc fields).
fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|_| panic!("tshark printed {s:?} where a number belongs"))
}

fn modbus_key(dir: &str, fc: u64, exception: bool) -> String {
    format!("modbus {dir} fc={fc}{}", if exception { " exception" } else { "" })
}

/// APDU types whose header names a service: confirmed request, unconfirmed request,
/// SimpleACK, ComplexACK, Error.
fn bacnet_apdu_key(apdu_type: u64, service: Option<u64>) -> String {
    match service {
        Some(s) if [0, 1, 2, 3, 5].contains(&apdu_type) => format!("bacnet apdu={apdu_type} service={s}"),
        _ => format!("bacnet apdu={apdu_type}"),
    }
}

fn hsms_key(stype: u64, stream: u64, function: u64) -> String {
    if stype == 0 {
        format!("hsms S{stream}F{function}")
    } else {
        format!("hsms stype={stype}")
    }
}

/// The messages tshark decodes in one frame, by kind.
fn tshark_frame_kinds(line: &str) -> (u64, Vec<String>) {
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), FIELDS.len(), "tshark line {line:?}");
    let frame = num(f[0]);
    let mut kinds = Vec::new();
    // Modbus/TCP: tshark takes the port-502 side as the server, as fabmon does.
    let mbaps = split(f[3]);
    if !mbaps.is_empty() {
        let dir = if f[1] == "502" && f[2] != "502" { "response" } else { "request" };
        let fcs = split(f[4]);
        let exc = split(f[5]);
        // -T fields cannot say which of several ADUs an exception code belongs to; no capture
        // mixes them in one frame, and this keeps it that way.
        assert!(
            exc.is_empty() || exc.len() == fcs.len(),
            "frame {frame}: exception and normal ADUs in one frame; compare it by hand"
        );
        for fc in &fcs {
            kinds.push(modbus_key(dir, num(fc), !exc.is_empty()));
        }
        for _ in fcs.len()..mbaps.len() {
            kinds.push(format!("modbus {dir} fc=none"));
        }
    }
    // BACnet/IP: one message per datagram.
    if let Some(t) = split(f[6]).first() {
        let bvlc_type = num(t);
        let key = if bvlc_type != 0x81 {
            format!("bacnet bvlc-type={bvlc_type:#04x}")
        } else if let Some(apdu) = split(f[8]).first().map(|s| num(s)) {
            let svc = if apdu == 1 { split(f[10]) } else { split(f[9]) };
            bacnet_apdu_key(apdu, svc.first().map(|s| num(s)))
        } else if let Some(m) = split(f[11]).first() {
            format!("bacnet network={}", num(m))
        } else {
            format!("bacnet bvlc={}", split(f[7]).first().map(|s| num(s)).unwrap_or(u64::MAX))
        };
        kinds.push(key);
    }
    // HSMS: stream and function are printed for data messages only.
    let stypes = split(f[12]);
    let streams = split(f[13]);
    let functions = split(f[14]);
    let data = stypes.iter().filter(|s| num(s) == 0).count();
    assert!(
        streams.len() == data && functions.len() == data,
        "frame {frame}: cannot line up HSMS stype {:?} with stream {:?}",
        f[12],
        f[13]
    );
    let mut d = 0;
    for s in stypes {
        let st = num(s);
        if st == 0 {
            kinds.push(hsms_key(0, num(streams[d]), num(functions[d])));
            d += 1;
        } else {
            kinds.push(hsms_key(st, 0, 0));
        }
    }
    (frame, kinds)
}

/// The messages fabmon decodes, by kind. Every record counts, malformed ones included; the
/// one exception is Modbus `not_modbus`, which reports bytes that are not a message at all.
fn fabmon_kinds(jsonl: &str) -> (Kinds, Vec<Value>) {
    let mut kinds = Kinds::new();
    let mut records = Vec::new();
    for line in jsonl.lines() {
        let o: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let u = |k: &str| o.get(k).and_then(Value::as_u64);
        let anomalies: Vec<&str> = o["anomalies"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let key = match o["proto"].as_str() {
            Some("modbus") => {
                if anomalies.contains(&"not_modbus") {
                    continue;
                }
                modbus_key(o["dir"].as_str().unwrap(), u("fc").unwrap(), !o["exception"].is_null())
            }
            Some("bacnet") => {
                let bvlc_type = u("bvlc_type").unwrap_or(0);
                if bvlc_type != 0x81 {
                    format!("bacnet bvlc-type={bvlc_type:#04x}")
                } else if let Some(apdu) = u("apdu_type") {
                    bacnet_apdu_key(apdu, u("service"))
                } else if let Some(m) = o["network_message"]["msg_type"].as_u64() {
                    format!("bacnet network={m}")
                } else {
                    format!("bacnet bvlc={}", u("bvlc").unwrap())
                }
            }
            Some("hsms") => hsms_key(u("stype").unwrap(), u("stream").unwrap(), u("function").unwrap()),
            _ => continue,
        };
        kinds.entry(key).or_default().push(u("frame").unwrap());
        records.push(o);
    }
    for v in kinds.values_mut() {
        v.sort_unstable();
    }
    (kinds, records)
}

/// Runs tshark over `pcap` and returns its messages by kind. `crash_frames` are left out of
/// tshark's input (their numbers in the original capture are kept in the result).
fn tshark_kinds(pcap: &Path, hsms: bool, crash_frames: &[u64], tmp: &Path) -> Kinds {
    let mut input = pcap.to_path_buf();
    if !crash_frames.is_empty() {
        let filter =
            crash_frames.iter().map(|f| format!("frame.number != {f}")).collect::<Vec<_>>().join(" && ");
        input = tmp.join(pcap.file_name().unwrap());
        // Without Decode-As nothing is dissected as HSMS, so this pass cannot crash.
        let out = Command::new("tshark")
            .arg("-r")
            .arg(pcap)
            .args(["-Y", &filter, "-w"])
            .arg(&input)
            .output()
            .expect("tshark runs");
        assert!(
            out.status.success(),
            "tshark -w {}: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(&input);
    if hsms {
        cmd.args(HSMS_DECODE_AS);
    }
    cmd.args(["-Y", "mbtcp or bvlc or hsms", "-T", "fields"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed on {} ({:?}); list the frame that kills it under tshark_crash_frames\n{}",
        pcap.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut removed = crash_frames.to_vec();
    removed.sort_unstable();
    let mut kinds = Kinds::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (mut frame, ks) = tshark_frame_kinds(line);
        for r in &removed {
            if *r <= frame {
                frame += 1;
            }
        }
        for k in ks {
            kinds.entry(k).or_default().push(frame);
        }
    }
    for v in kinds.values_mut() {
        v.sort_unstable();
    }
    kinds
}

/// `a` minus `b`, both sorted, repeats counted.
fn minus(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            j += 1;
        } else {
            out.push(x);
        }
    }
    out
}

/// One observed difference: kind, both counts, frames only one tool has.
fn differences(tshark: &Kinds, fabmon: &Kinds) -> Vec<Value> {
    let keys: BTreeSet<&String> = tshark.keys().chain(fabmon.keys()).collect();
    let empty = Vec::new();
    let mut out = Vec::new();
    for k in keys {
        let t = tshark.get(k).unwrap_or(&empty);
        let f = fabmon.get(k).unwrap_or(&empty);
        let only_t = minus(t, f);
        let only_f = minus(f, t);
        if only_t.is_empty() && only_f.is_empty() {
            continue;
        }
        out.push(json!({
            "kind": k,
            "tshark": t.len(),
            "fabmon": f.len(),
            "only_tshark": only_t,
            "only_fabmon": only_f,
        }));
    }
    out
}

/// The listed differences of one capture, without the reasons, in the form `differences` gives.
fn listed(
    entry: &Value,
    reasons: &BTreeMap<String, Value>,
    problems: &mut Vec<String>,
    cap: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    for d in entry["differences"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let mut sides = BTreeMap::new();
        for side in ["only_tshark", "only_fabmon"] {
            let mut frames = Vec::new();
            for (reason, fr) in d[side].as_object().into_iter().flatten() {
                if !reasons.contains_key(reason) {
                    problems.push(format!("{cap}: reason {reason} is not in the reasons table"));
                }
                frames.extend(fr.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()));
            }
            frames.sort_unstable();
            sides.insert(side, frames);
        }
        out.push(json!({
            "kind": d["kind"],
            "tshark": d["tshark"],
            "fabmon": d["fabmon"],
            "only_tshark": sides["only_tshark"],
            "only_fabmon": sides["only_fabmon"],
        }));
    }
    out
}

struct Outcome {
    name: String,
    tshark_total: usize,
    fabmon_total: usize,
    observed: Vec<Value>,
    problems: Vec<String>,
}

fn compare(shared: &Path, pcap: &Path, entry: &Value, tmp: &Path) -> Outcome {
    let name = pcap.strip_prefix(shared).unwrap().to_string_lossy().into_owned();
    let hsms = name.starts_with("corpus/secsgem/");
    let crash_frames: Vec<u64> =
        entry["tshark_crash_frames"].as_array().into_iter().flatten().map(|v| v.as_u64().unwrap()).collect();
    let dir = tmp.join(name.replace('/', "_"));
    std::fs::create_dir_all(&dir).unwrap();
    let tshark = tshark_kinds(pcap, hsms, &crash_frames, &dir);
    let out = run_fabmon(&["decode", pcap.to_str().unwrap(), "--format", "jsonl", "--quiet"]);
    let mut problems = Vec::new();
    if !out.status.success() {
        problems.push(format!("{name}: fabmon decode failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let (fabmon, records) = fabmon_kinds(&String::from_utf8_lossy(&out.stdout));
    if !crash_frames.is_empty() {
        // tshark dies on these frames: fabmon must decode them, as malformed messages.
        for f in &crash_frames {
            if !records.iter().any(|r| r["frame"].as_u64() == Some(*f) && r["malformed"] == true) {
                problems.push(format!(
                    "{name}: fabmon has no malformed record at frame {f}, where tshark crashes"
                ));
            }
        }
        // Whether tshark still dies on the whole capture is recorded, not required.
        let mut cmd = Command::new("tshark");
        cmd.arg("-r").arg(pcap);
        if hsms {
            cmd.args(HSMS_DECODE_AS);
        }
        let whole = cmd.args(["-T", "fields", "-e", "frame.number"]).output().expect("tshark runs");
        let how = match (whole.status.code(), whole.status.signal()) {
            (Some(0), _) => "exits 0: it no longer crashes".to_string(),
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (code, _) => format!("exits {code:?}"),
        };
        eprintln!("{TEST}: {name}: tshark on the whole capture {how}");
    }
    Outcome {
        tshark_total: tshark.values().map(Vec::len).sum(),
        fabmon_total: fabmon.values().map(Vec::len).sum(),
        observed: differences(&tshark, &fabmon),
        name,
        problems,
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn tshark_and_fabmon_agree_except_where_listed() {
    let Some(shared) = shared_or_skip(TEST) else { return };
    if !tool_or_skip(TEST, "tshark") {
        return;
    }
    let version = Command::new("tshark").arg("-v").output().expect("tshark -v");
    let version = String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or("").to_string();
    eprintln!("{TEST}: {version}");

    let expected: Value =
        serde_json::from_slice(&std::fs::read(root().join("tests/tshark_expected.json")).unwrap()).unwrap();
    let reasons: BTreeMap<String, Value> =
        expected["reasons"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let doc = std::fs::read_to_string(root().join("docs/tshark-differences.md")).unwrap();
    let mut problems = Vec::new();
    for id in reasons.keys() {
        if !doc.contains(&format!("`{id}`")) {
            problems.push(format!("reason `{id}` is not explained in docs/tshark-differences.md"));
        }
    }

    let mut caps = public_captures(&shared);
    caps.extend(corpus_captures(&shared).into_iter().map(|(p, _)| p));
    assert!(caps.len() >= 32, "expected 24 public and 8 corpus captures, found {}", caps.len());
    let captures = expected["captures"].as_object().unwrap();
    let names: BTreeSet<String> =
        caps.iter().map(|p| p.strip_prefix(&shared).unwrap().to_string_lossy().into_owned()).collect();
    for listed_name in captures.keys() {
        if !names.contains(listed_name) {
            problems.push(format!("{listed_name} is listed but was not compared"));
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let null = Value::Null;
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(pcap) = caps.get(i) else { break };
                let name = pcap.strip_prefix(&shared).unwrap().to_string_lossy().into_owned();
                let entry = captures.get(&name).unwrap_or(&null);
                let o = compare(&shared, pcap, entry, tmp.path());
                outcomes.lock().unwrap().push(o);
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));

    let mut observed_all = serde_json::Map::new();
    for o in &outcomes {
        problems.extend(o.problems.iter().cloned());
        let entry = captures.get(&o.name).unwrap_or(&null);
        let want = listed(entry, &reasons, &mut problems, &o.name);
        eprintln!(
            "{TEST}: {}: tshark {} messages, fabmon {}, {} kinds differ",
            o.name,
            o.tshark_total,
            o.fabmon_total,
            o.observed.len()
        );
        for d in &o.observed {
            if !want.contains(d) {
                problems.push(format!("{}: unlisted difference {d}", o.name));
            }
        }
        for d in &want {
            if !o.observed.contains(d) {
                problems.push(format!("{}: listed difference no longer occurs as listed: {d}", o.name));
            }
        }
        if !o.observed.is_empty() {
            observed_all.insert(o.name.clone(), Value::Array(o.observed.clone()));
        }
    }
    if !problems.is_empty() {
        let dump = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tshark_observed.json");
        let _ = std::fs::write(&dump, serde_json::to_string_pretty(&observed_all).unwrap());
        panic!(
            "{} problem(s); every observed difference is in {}:\n{}",
            problems.len(),
            dump.display(),
            problems.join("\n")
        );
    }
}
