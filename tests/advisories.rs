//! The advisory matcher against the real CISA advisories in `../shared/advisories/csaf/`: a
//! table of labelled device identities (several per advisory family, with versions inside, at
//! the edges of and outside the affected ranges), and the store's import behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use fabmon_sensor::advisory::store::{Outcome, Store};
use fabmon_sensor::advisory::{AdvisoryIndex, Aliases, Confidence, DeviceIdentity, Status};

use Confidence::{High, Low, Medium};

/// One labelled identity and what it must (and must not) match.
struct Case {
    label: &'static str,
    vendor: &'static str,
    bacnet_vendor_id: Option<u16>,
    models: &'static [&'static str],
    version: &'static str,
    /// Advisories that must list the device as affected, with the confidence.
    affected: &'static [(&'static str, Confidence)],
    /// Advisories that must not list it as affected.
    not_affected: &'static [&'static str],
}

const fn case(
    label: &'static str,
    vendor: &'static str,
    models: &'static [&'static str],
    version: &'static str,
    affected: &'static [(&'static str, Confidence)],
    not_affected: &'static [&'static str],
) -> Case {
    Case { label, vendor, bacnet_vendor_id: None, models, version, affected, not_affected }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Schneider Modicon M221 (ICSA-18-240-01: < 1.6.2.0; ICSA-19-106-03 names "M221" in the version slot).
    case("M221 well inside", "Schneider Electric", &["TM221CE16R", "Modicon M221"], "1.5.1.0",
         &[("ICSA-18-240-01", High), ("ICSA-19-106-03", Medium)], &[]),
    case("M221 just below the fix", "Schneider Electric", &["TM221CE16R"], "1.6.1.9", &[("ICSA-18-240-01", High)], &[]),
    case("M221 at the fixed version", "Schneider Electric", &["TM221CE16R"], "1.6.2.0", &[("ICSA-19-106-03", Medium)], &["ICSA-18-240-01"]),
    case("M221 after the fix", "Schneider Electric", &["TM221CE16R"], "V1.10.0.0", &[], &["ICSA-18-240-01"]),
    case("M221 without version", "Schneider Electric", &["TM221CE16R"], "", &[("ICSA-18-240-01", Medium)], &[]),
    case("M221 from another vendor name", "Acme Automation", &["TM221CE16R"], "1.5.1.0", &[], &["ICSA-18-240-01", "ICSA-19-106-03"]),
    // PowerLogic PM5560 (ICSA-18-240-03: < 2.5.4).
    case("PM5560 inside", "Schneider Electric", &["METSEPM5560", "PowerLogic PM5560"], "2.4.0", &[("ICSA-18-240-03", High)], &[]),
    case("PM5560 at the edge", "Schneider Electric", &["PM5560"], "2.5.3", &[("ICSA-18-240-03", High)], &[]),
    case("PM5560 fixed", "Schneider Electric", &["PM5560"], "2.5.4", &[], &["ICSA-18-240-03"]),
    // Siemens Desigo PXC (ICSA-18-025-02B: release trains < V6.00.204 / V5.10.069 / V5.00.171 / V4.10.111).
    case("PXC22.D on the 5.00 train", "Siemens Building Technologies", &["PXC22.D"], "V5.00.150", &[("ICSA-18-025-02B", High)], &[]),
    case("PXC22.D on the 5.10 train, fixed", "Siemens Schweiz AG", &["PXC22.D"], "V5.10.070", &[], &["ICSA-18-025-02B"]),
    case("PXC22.D on the 5.10 train, one below", "Siemens", &["PXC22.D"], "V5.10.068", &[("ICSA-18-025-02B", High)], &[]),
    case("PXC100-E.D on the 6.00 train, fixed", "Siemens", &["PXC100-E.D"], "V6.00.204", &[], &["ICSA-18-025-02B"]),
    case("PXM20-E on the 4.10 train", "Siemens", &["PXM20-E"], "V4.10.110", &[("ICSA-18-025-02B", High)], &[]),
    // Delta Controls enteliBUS (ICSA-19-239-01: <= 3.40 R5 build 571848).
    case("eBCON at the edge", "Delta Controls", &["eBCON"], "3.40 R5 build 571848", &[("ICSA-19-239-01", High)], &[]),
    case("eBCON after", "Delta Controls", &["eBCON"], "3.40 R6 build 600000", &[], &["ICSA-19-239-01"]),
    case("eBMGR-TCH older", "Delta Controls", &["eBMGR-TCH"], "3.30", &[("ICSA-19-239-01", High)], &[]),
    case("eBMGR with an unreadable firmware", "Delta Controls", &["eBMGR"], "beta", &[("ICSA-19-239-01", Medium)], &[]),
    // Johnson Controls Metasys (ICSA-18-212-02: Metasys System <= 8.0; ICSA-21-159-01: all versions).
    case("NAE 8.0 (family only)", "Johnson Controls, Inc.", &["MS-NAE5510-2"], "8.0.0.0",
         &[("ICSA-18-212-02", Low), ("ICSA-21-159-01", Low)], &[]),
    case("NAE 9.0 (family only)", "Johnson Controls, Inc.", &["MS-NAE5510-2"], "9.0", &[("ICSA-21-159-01", Low)], &["ICSA-18-212-02"]),
    // WAGO (ICSA-19-106-03: 750-889 <= 01.07.13(10), 750-880 <= 01.07.03(10)).
    case("WAGO 750-889 at the edge", "WAGO Kontakttechnik GmbH & Co. KG", &["750-889"], "01.07.13(10)", &[("ICSA-19-106-03", High)], &[]),
    case("WAGO 750-889 later", "WAGO Kontakttechnik GmbH & Co. KG", &["750-889"], "01.07.14(11)", &[], &["ICSA-19-106-03"]),
    case("WAGO 750-880 above its own bound", "WAGO", &["750-880"], "01.07.10(10)", &[], &["ICSA-19-106-03"]),
    // Mitsubishi MELSEC (ICSA-22-335-01: <= 65; ICSA-21-280-04: R12CCPU-V <= 16).
    case("RJ71EN71 at the edge", "Mitsubishi Electric Corporation", &["RJ71EN71"], "65", &[("ICSA-22-335-01", High)], &[]),
    case("R08ENCPU fixed", "Mitsubishi Electric", &["R08ENCPU"], "66", &[], &["ICSA-22-335-01"]),
    case("R12CCPU-V inside", "Mitsubishi Electric", &["R12CCPU-V"], "16", &[("ICSA-21-280-04", High)], &[]),
    case("R12CCPU-V fixed", "Mitsubishi Electric", &["R12CCPU-V"], "17", &[], &["ICSA-21-280-04"]),
    // LOYTEC (ICSA-24-247-01: vers:all/*).
    case("LINX-151 any version", "LOYTEC electronics GmbH", &["LINX-151"], "8.2.8", &[("ICSA-24-247-01", High)], &[]),
    // METZ CONNECT EWIO2 (ICSA-25-322-05: firmware < 2.2.0 installed on the devices; 2.2.0 fixed).
    case("EWIO2-M before the fix", "METZ CONNECT GmbH", &["EWIO2-M", "110930"], "2.1.0", &[("ICSA-25-322-05", High)], &[]),
    case("EWIO2-BM fixed", "METZ CONNECT", &["EWIO2-BM"], "2.2.0", &[], &["ICSA-25-322-05"]),
    // Viessmann Vitogate 300 (ICSA-24-254-01: <=2.1.3.0).
    case("Vitogate 300 at the edge", "Viessmann", &["Vitogate 300"], "2.1.3.0", &[("ICSA-24-254-01", High)], &[]),
    case("Vitogate 300 fixed", "Viessmann Climate Solutions", &["Vitogate 300"], "2.1.4.0", &[], &["ICSA-24-254-01"]),
    // Real Time Automation 460 (ICSA-23-264-01: < 8.9.8).
    case("RTA 460 inside", "Real Time Automation, Inc.", &["460ETCMM"], "8.9.7", &[("ICSA-23-264-01", High)], &[]),
    case("RTA 460 fixed", "Real Time Automation", &["460ETCMM"], "8.9.8", &[], &["ICSA-23-264-01"]),
    // Reliable Controls (ICSA-19-353-04: < 2.15, firmware prior to 8.26.4).
    case("MACH-ProWebCom firmware axis", "Reliable Controls Corporation", &["MACH-ProWebCom"], "8.26.3", &[("ICSA-19-353-04", High)], &[]),
    case("MACH-ProWebCom firmware fixed", "Reliable Controls Corporation", &["MACH-ProWebCom"], "8.26.4", &[], &["ICSA-19-353-04"]),
    // Daikin SVM (ICSA-22-284-02: <= 2.1.22 and <= 1.2.3 as two trains).
    case("SVMPC1 on the 2.1 train", "Daikin", &["SVMPC1"], "2.1.20", &[("ICSA-22-284-02", High)], &[]),
    case("SVMPC2 on the 1.2 train, fixed", "Daikin", &["SVMPC2"], "1.2.4", &[], &["ICSA-22-284-02"]),
    // Automated Logic WebCTRL (ICSA-25-324-01: release lines 6.1, 7.0, 8.0, 8.5; family only).
    case("WebCTRL 8.0 patch", "Automated Logic Corporation", &["WebCTRL"], "8.0.3", &[("ICSA-25-324-01", Low)], &[]),
    case("WebCTRL 9.0", "Automated Logic Corporation", &["WebCTRL"], "9.0", &[], &["ICSA-25-324-01"]),
    // Fictional vendors and an HSMS tool: nothing.
    case("Fictional PLC", "Norvik Automation", &["NX-520-CPU"], "V2.14", &[], &["ICSA-18-240-01"]),
    case("HSMS tool MDLN/SOFTREV", "", &["PLANAR-M8"], "6.6.0", &[], &[]),
];

fn store_of(dir: &Path, from: &Path) -> Store {
    let store = Store::open(dir).unwrap();
    let report = store.import(&[from.to_path_buf()]).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    store
}

#[test]
fn real_advisories_match_the_labelled_identities() {
    let Some(shared) = common::shared_or_skip("real_advisories_match_the_labelled_identities") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = store_of(tmp.path(), &shared.join("advisories/csaf"));
    let (advisories, bad) = store.load().unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(advisories.len(), 23);
    let index = AdvisoryIndex::new(&advisories, Aliases::builtin().unwrap());
    let mut failures = Vec::new();
    for c in CASES {
        let d = DeviceIdentity {
            vendors: if c.vendor.is_empty() { vec![] } else { vec![c.vendor.to_string()] },
            models: c.models.iter().map(|m| m.to_string()).collect(),
            versions: if c.version.is_empty() { vec![] } else { vec![c.version.to_string()] },
            bacnet_vendor_id: c.bacnet_vendor_id,
        };
        let got = index.match_device(&d);
        assert_eq!(got, index.match_device_scan(&d), "{}: index and scan differ", c.label);
        let affected: Vec<(&str, Confidence)> = got
            .iter()
            .filter(|m| m.status == Status::KnownAffected)
            .map(|m| (m.advisory.as_str(), m.confidence))
            .collect();
        for want in c.affected {
            if !affected.contains(want) {
                failures.push(format!("{}: expected {want:?}, got {affected:?}", c.label));
            }
        }
        for no in c.not_affected {
            if affected.iter().any(|(a, _)| a == no) {
                failures.push(format!("{}: {no} must not match, got {affected:?}", c.label));
            }
        }
        // Every high match names CVEs and a score.
        for m in got.iter().filter(|m| m.status == Status::KnownAffected) {
            assert!(!m.cves.is_empty() && m.cvss.is_some(), "{}: {m:?}", c.label);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bacnet_vendor_ids_and_fixed_versions() {
    let Some(shared) = common::shared_or_skip("bacnet_vendor_ids_and_fixed_versions") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let store = store_of(tmp.path(), &shared.join("advisories/csaf"));
    let (advisories, _) = store.load().unwrap();
    let index = AdvisoryIndex::new(&advisories, Aliases::builtin().unwrap());
    // A BACnet device that gives only its vendor identifier (8 = Delta Controls).
    let d = DeviceIdentity {
        bacnet_vendor_id: Some(8),
        models: vec!["eBCON".into()],
        versions: vec!["3.40 R4".into()],
        ..Default::default()
    };
    let m = index.match_device(&d);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!((m[0].advisory.as_str(), m[0].confidence), ("ICSA-19-239-01", High));
    assert_eq!(m[0].cvss, Some(9.8));
    assert_eq!(m[0].cves, ["CVE-2019-9569"]);
    // METZ: the fixed entry says which version fixes it, and a device on it is reported fixed.
    let ewio = |v: &str| DeviceIdentity {
        vendors: vec!["METZ CONNECT".into()],
        models: vec!["EWIO2-M".into()],
        versions: vec![v.into()],
        ..Default::default()
    };
    let before = index.match_device(&ewio("2.1.9"));
    assert_eq!(before[0].fixed_version.as_deref(), Some("2.2.0"), "{before:?}");
    assert!(before[0].remediation.as_deref().is_some_and(|r| r.contains("2.2.0")));
    let after = index.match_device(&ewio("2.2.0"));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].status, Status::Fixed);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_newer_revision_replaces_the_older_and_not_the_reverse() {
    let Some(shared) = common::shared_or_skip("a_newer_revision_replaces_the_older") else { return };
    let text = std::fs::read_to_string(shared.join("advisories/csaf/icsa-18-004-02a.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The original (-02) and a later update (-02B) built from the real Update A.
    let mut orig = v.clone();
    orig["document"]["tracking"]["id"] = "ICSA-18-004-02".into();
    orig["document"]["tracking"]["current_release_date"] = "2018-01-04T00:00:00Z".into();
    let mut upd_b = v.clone();
    upd_b["document"]["tracking"]["id"] = "ICSA-18-004-02B".into();
    upd_b["document"]["tracking"]["version"] = "2".into();
    upd_b["document"]["tracking"]["current_release_date"] = "2023-01-01T00:00:00Z".into();
    let src = tempfile::tempdir().unwrap();
    let p_orig = write(src.path(), "icsa-18-004-02.json", &orig.to_string());
    let p_a = write(src.path(), "icsa-18-004-02a.json", &text);
    let p_b = write(src.path(), "icsa-18-004-02b.json", &upd_b.to_string());
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let r = store.import(std::slice::from_ref(&p_orig)).unwrap();
    assert_eq!(r.imported[0].outcome, Outcome::Added);
    let r = store.import(std::slice::from_ref(&p_a)).unwrap();
    assert_eq!(
        r.imported[0].outcome,
        Outcome::Replaced { old_id: "ICSA-18-004-02".into(), old_version: "1".into() }
    );
    let r = store.import(std::slice::from_ref(&p_a)).unwrap();
    assert_eq!(r.imported[0].outcome, Outcome::Unchanged);
    let r = store.import(&[p_b]).unwrap();
    assert!(
        matches!(r.imported[0].outcome, Outcome::Replaced { ref old_id, .. } if old_id == "ICSA-18-004-02A")
    );
    // Re-importing the older revisions afterwards keeps the newest.
    let r = store.import(&[p_orig, p_a]).unwrap();
    assert!(r.imported.iter().all(
        |i| matches!(i.outcome, Outcome::OlderSkipped { ref kept_id, .. } if kept_id == "ICSA-18-004-02B")
    ));
    let (advisories, bad) = store.load().unwrap();
    assert!(bad.is_empty());
    assert_eq!(advisories.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["ICSA-18-004-02B"]);
}

#[test]
fn invalid_documents_are_reported_with_file_and_json_path_and_the_rest_load() {
    let Some(shared) = common::shared_or_skip("invalid_documents_are_reported") else { return };
    let src = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(shared.join("advisories/csaf/icsa-18-240-01.json")).unwrap();
    write(src.path(), "good.json", &good);
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = "high".into();
    let bad_type = write(src.path(), "bad-type.json", &v.to_string());
    let mut w: serde_json::Value = serde_json::from_str(&good).unwrap();
    w["document"]["csaf_version"] = "1.2".into();
    write(src.path(), "old-version.json", &w.to_string());
    write(src.path(), "truncated.json", &good[..good.len() / 2]);
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let r = store.import(&[src.path().to_path_buf()]).unwrap();
    assert_eq!(r.imported.len(), 1);
    assert_eq!(r.imported[0].id, "ICSA-18-240-01");
    let by_file =
        |f: &str| r.rejected.iter().find(|x| x.file.ends_with(f)).unwrap_or_else(|| panic!("{f}: {r:?}"));
    assert_eq!(by_file("bad-type.json").path, "vulnerabilities[0].scores[0].cvss_v3.baseScore");
    assert_eq!(by_file("old-version.json").path, "document.csaf_version");
    assert!(by_file("truncated.json").error.contains("EOF"), "{:?}", by_file("truncated.json"));
    assert_eq!(r.rejected.len(), 3);
    let _ = bad_type;
}
