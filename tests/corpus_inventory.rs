//! `fabmon inventory` on every corpus capture: identities scored by
//! `../shared/tools/check_inventory.py`, roles checked against the truth files, and Purdue
//! levels from a profile's zones or, without one, from the documented role table.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::*;

/// `fabmon inventory PCAP [--profile P] --format json`, parsed.
fn inventory(pcap: &Path, profile: Option<&Path>) -> (Vec<u8>, Vec<Value>) {
    let mut args = vec!["inventory", pcap.to_str().unwrap(), "--format", "json"];
    if let Some(p) = profile {
        args.extend(["--profile", p.to_str().unwrap()]);
    }
    let out = run_fabmon(&args);
    assert!(out.status.success(), "fabmon {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).expect("a JSON array of assets");
    (out.stdout, v)
}

fn by_ip(assets: &[Value]) -> BTreeMap<String, &Value> {
    assets.iter().map(|a| (a["ip"].as_str().unwrap().to_string(), a)).collect()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// The OT roles (not the plain `tcp-server`/`udp-server`) of an asset.
fn ot_roles(a: &Value) -> BTreeSet<String> {
    a["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .filter(|r| r != "tcp-server" && r != "udp-server")
        .collect()
}

#[test]
fn every_corpus_inventory_matches_its_truth() {
    let test = "every_corpus_inventory_matches_its_truth";
    let Some(shared) = shared_or_skip(test) else { return };
    if !tool_or_skip(test, "python3") {
        return;
    }
    let caps = corpus_captures(&shared);
    assert!(caps.len() >= 8, "expected the 8 corpus captures, found {}", caps.len());
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (pcap, truth) in &caps {
        let (json, assets) = inventory(pcap, None);
        let inv = dir.path().join(format!("{}.inventory.json", name(pcap)));
        std::fs::write(&inv, &json).unwrap();
        let res = Command::new("python3")
            .arg(shared.join("tools/check_inventory.py"))
            .arg(truth)
            .arg(&inv)
            .output()
            .expect("python3 runs");
        let report = String::from_utf8_lossy(&res.stdout).trim().to_string();
        eprintln!("{}: {report}", name(pcap));
        if name(pcap) == "modbus_segmentation.pcap" {
            // This capture holds no device identification (no FC 43/14, no FC 17): its truth
            // lists no identity, and check_inventory.py, which needs at least one, cannot
            // pass. What it proves instead is who is who: every PLC the HMI connected to is
            // a modbus-server, the HMI a modbus-client.
            let t = read_json(truth);
            assert!(
                t["device_identities_on_wire"].as_object().is_some_and(|o| o.is_empty()),
                "the segmentation truth now lists identities: score it with check_inventory.py"
            );
            assert_eq!(report, "identities matched 0/0");
            let by = by_ip(&assets);
            let conns = t["tcp_connections"].as_array().unwrap();
            let ends = |k: &str| -> BTreeSet<&str> { conns.iter().map(|c| c[k].as_str().unwrap()).collect() };
            let (servers, clients) = (ends("server"), ends("client"));
            assert_eq!(servers, ["127.0.1.10", "127.0.1.11", "127.0.1.12"].into());
            assert_eq!(clients, ["127.0.3.20"].into());
            for (ips, role) in [(servers, "modbus-server"), (clients, "modbus-client")] {
                for ip in ips {
                    let a = by.get(ip).unwrap_or_else(|| panic!("segmentation: {ip} not in the inventory"));
                    assert_eq!(ot_roles(a), [role.to_string()].into(), "segmentation: roles of {ip}");
                }
            }
            continue;
        }
        let full = report
            .strip_prefix("identities matched ")
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(a, b)| a == b && a != "0");
        if !res.status.success() || !full {
            failures.push(format!("{}: {report}", name(pcap)));
        }
    }
    assert!(failures.is_empty(), "inventory identities differ from the truth:\n{}", failures.join("\n"));
}

/// The OT roles each address must have, from the truth file's own view of the wire.
fn expected_roles(truth: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |ip: &str, role: &str| {
        m.entry(ip.to_string()).or_default().insert(role.to_string());
    };
    let fmt = truth["format"].as_str().unwrap_or("");
    if fmt.starts_with("secsgem-hsms-corpus-truth") {
        // The side that connects is the host; the side that listens is the equipment.
        for (ip, roles) in truth["roles_on_wire"].as_object().unwrap() {
            for r in roles.as_array().unwrap() {
                match r.as_str().unwrap() {
                    "tcp_client(active)" => add(ip, "hsms-host"),
                    "tcp_server(passive)" => add(ip, "hsms-equipment"),
                    _ => {}
                }
            }
        }
    } else if fmt.contains("(modbus)") {
        for c in truth["tcp_connections"].as_array().unwrap() {
            add(c["client"].as_str().unwrap(), "modbus-client");
            add(c["server"].as_str().unwrap(), "modbus-server");
        }
    } else if fmt.contains("(bacnet)") {
        // Devices send I-Am, notifications and answers; clients send requests and Who-Is.
        // A confirmed COV notification is a request from the device, acknowledged by the
        // subscriber.
        for r in truth["counts"].as_array().unwrap() {
            let src = r["src"].as_str().unwrap();
            let t = r["apdu_type"].as_str().unwrap_or("");
            let s = r["service"].as_str().unwrap_or("");
            let notification = s.contains("COVNotification") || s.contains("EventNotification");
            match (t, s) {
                ("unconfirmed-request", "i-Am" | "i-Have") => add(src, "bacnet-device"),
                ("unconfirmed-request", "who-Is" | "who-Has") => add(src, "bacnet-client"),
                ("confirmed-request" | "unconfirmed-request", _) if notification => add(src, "bacnet-device"),
                ("simple-ack" | "error", _) if notification => add(src, "bacnet-client"),
                ("confirmed-request", _) => add(src, "bacnet-client"),
                ("complex-ack" | "simple-ack" | "error", _) => add(src, "bacnet-device"),
                _ => {}
            }
        }
    }
    m
}

/// The documented role table (`sensor/src/inventory/purdue.rs`, docs/inventory.md): the
/// level and area an OT role places an asset at when no profile does. An asset with several
/// roles takes the highest level.
const ROLE_TABLE: &[(&str, &str, &str)] = &[
    ("hsms-host", "3", "fab-system"),
    ("hsms-equipment", "2", "fab"),
    ("modbus-client", "2", "fab"),
    ("modbus-server", "1", "fab"),
    ("bacnet-client", "3", "facility"),
    ("bacnet-device", "1", "facility"),
];

/// Without a profile, every asset of every corpus capture has the roles the truth shows and
/// the level and area of the role table, with `level_source` "inferred" and the deciding role
/// as the reason; an address with no OT role (the BACnet broadcast address) has no level.
#[test]
fn inferred_levels_follow_the_role_table() {
    let Some(shared) = shared_or_skip("inferred_levels_follow_the_role_table") else { return };
    let caps = corpus_captures(&shared);
    assert!(caps.len() >= 8, "expected the 8 corpus captures, found {}", caps.len());
    let mut checked = 0;
    for (pcap, truth) in &caps {
        let n = name(pcap);
        let (_, assets) = inventory(pcap, None);
        let by = by_ip(&assets);
        let want = expected_roles(&read_json(truth));
        assert!(!want.is_empty(), "{n}: the truth shows no roles");
        for (ip, roles) in &want {
            let a = by.get(ip.as_str()).unwrap_or_else(|| panic!("{n}: {ip} not in the inventory"));
            assert_eq!(&ot_roles(a), roles, "{n}: roles of {ip}");
        }
        for a in &assets {
            let ip = a["ip"].as_str().unwrap();
            let roles = ot_roles(a);
            assert!(
                roles.is_empty() || want.contains_key(ip),
                "{n}: {ip} has roles {roles:?} the truth does not show"
            );
            let top = ROLE_TABLE
                .iter()
                .filter(|(r, ..)| roles.contains(*r))
                .max_by(|x, y| x.1.parse::<f32>().unwrap().total_cmp(&y.1.parse::<f32>().unwrap()));
            match top {
                Some((role, level, area)) => {
                    assert_eq!(a["level"], *level, "{n}: level of {ip} ({roles:?})");
                    assert_eq!(a["area"], *area, "{n}: area of {ip}");
                    assert_eq!(a["level_source"], "inferred", "{n}: level_source of {ip}");
                    let reason = a["level_reason"].as_str().unwrap();
                    assert!(reason.starts_with(&format!("{role}: ")), "{n}: reason of {ip}: {reason}");
                    checked += 1;
                }
                None => {
                    assert_eq!(a["level"], Value::Null, "{n}: {ip} has no OT role but a level");
                    assert_eq!(a["level_source"], "unknown", "{n}: level_source of {ip}");
                    assert!(!a["level_reason"].as_str().unwrap().is_empty());
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} assets placed");
}

/// A profile placing the corpus addresses: EAP host and HMI subnet at level 3, tools at 2,
/// PLCs at 1, and one asset entry overriding its zone.
const LAB_PROFILE: &str = r#"
name = "corpus-lab"

[[zone]]
name = "l3-fab-systems"
cidr = "127.0.3.0/24"
level = 3
area = "fab-system"

[[zone]]
name = "l2-tools"
cidr = "127.0.2.0/24"
level = 2
area = "fab"

[[zone]]
name = "l1-plc"
cidr = "127.0.1.0/24"
level = 1
area = "fab"

# The HMI sits in the level-3 address range but is a level-2 operator station.
[[asset]]
ip = "127.0.3.20"
name = "HMI-01"
level = 2
area = "fab"
"#;

/// With a profile, its asset entries and zones decide level and area (`level_source`
/// "profile", the zone or asset as the reason), even where the role table would say
/// otherwise; an address the profile does not place falls back to the role table.
#[test]
fn profile_zones_decide_levels() {
    let Some(shared) = shared_or_skip("profile_zones_decide_levels") else { return };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("lab.toml");
    std::fs::write(&profile, LAB_PROFILE).unwrap();
    let (l1, l2, l3) = ("profile zone l1-plc", "profile zone l2-tools", "profile zone l3-fab-systems");
    let hmi = ["127.0.3.20", "2", "profile", "profile asset HMI-01", "fab", "l3-fab-systems", "HMI-01"];
    let plcs = [
        ["127.0.1.10", "1", "profile", l1, "fab", "l1-plc", "-"],
        ["127.0.1.11", "1", "profile", l1, "fab", "l1-plc", "-"],
        ["127.0.1.12", "1", "profile", l1, "fab", "l1-plc", "-"],
    ];
    // ip, level, level_source, level_reason, area, zone, name ("-": none)
    let cases: Vec<(&str, Vec<[&str; 7]>)> = vec![
        (
            "corpus/secsgem/captures/normal_session.pcap",
            vec![
                ["127.0.2.21", "2", "profile", l2, "fab", "l2-tools", "-"],
                ["127.0.2.22", "2", "profile", l2, "fab", "l2-tools", "-"],
                ["127.0.2.23", "2", "profile", l2, "fab", "l2-tools", "-"],
                ["127.0.3.10", "3", "profile", l3, "fab-system", "l3-fab-systems", "-"],
            ],
        ),
        (
            "corpus/modbus/pcaps/modbus_normal.pcap",
            [
                &plcs[..],
                // The asset entry overrides its zone (the zone is still reported).
                &[hmi],
                // A modbus-client, level 2 by the role table; the profile says 3.
                &[["127.0.3.21", "3", "profile", l3, "fab-system", "l3-fab-systems", "-"]],
            ]
            .concat(),
        ),
        (
            "corpus/modbus/pcaps/modbus_anomalies.pcap",
            [
                &plcs[..],
                &[hmi],
                // In no zone: the role table places the rogue client.
                &[[
                    "127.0.4.66",
                    "2",
                    "inferred",
                    "modbus-client: polls or writes Modbus servers (HMI/SCADA, level 2)",
                    "fab",
                    "-",
                    "-",
                ]],
            ]
            .concat(),
        ),
    ];
    for (cap, want) in cases {
        let (_, assets) = inventory(&shared.join(cap), Some(&profile));
        let mut got: Vec<Vec<String>> = assets
            .iter()
            .map(|a| {
                ["ip", "level", "level_source", "level_reason", "area", "zone", "name"]
                    .iter()
                    .map(|k| a[*k].as_str().unwrap_or("-").to_string())
                    .collect()
            })
            .collect();
        got.sort();
        let mut want: Vec<Vec<String>> =
            want.iter().map(|r| r.iter().map(|x| x.to_string()).collect()).collect();
        want.sort();
        assert_eq!(got, want, "{cap} with the profile");
    }
}
