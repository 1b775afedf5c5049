//! The history reader on a small dataset written here by the contract (Hive partitions,
//! metadata, dictionary strings, UTC nanosecond timestamps): assets, identity changes, recent
//! messages, alerts (the row with the largest count per uid), rates, time ranges, and files
//! that are broken, foreign or still being written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampNanosecondArray, UInt64Array, UInt64Builder,
};
use arrow::datatypes::Int32Type;
use fabmon_sensor::alert::Severity;
use fabmon_tui::history::{load, Range};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

const H8: i64 = 1_763_280_000_000_000_000; // 2025-11-16T08:00:00Z
const MIN: i64 = 60_000_000_000;

fn ts(v: &[i64]) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(v.to_vec()).with_timezone("UTC"))
}

fn dict(v: &[&str]) -> ArrayRef {
    Arc::new(v.iter().copied().collect::<DictionaryArray<Int32Type>>())
}

fn opt_str(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn u64s(v: &[u64]) -> ArrayRef {
    Arc::new(UInt64Array::from(v.to_vec()))
}

fn str_list(v: &[&[&str]]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for row in v {
        for s in *row {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn u64_list(v: &[&[u64]]) -> ArrayRef {
    let mut b = ListBuilder::new(UInt64Builder::new());
    for row in v {
        for s in *row {
            b.values().append_value(*s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn write(dir: &Path, table: &str, hour: &str, seq: u32, cols: Vec<(&str, ArrayRef)>) {
    let folder = dir.join(table).join("date=2025-11-16").join(format!("hour={hour}"));
    std::fs::create_dir_all(&folder).unwrap();
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let meta = [
        ("fabmon.schema", "fabmon-dataset/1"),
        ("fabmon.table", table),
        ("fabmon.version", "0.1.0"),
        ("fabmon.sensor", "s1"),
    ]
    .iter()
    .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
    .collect();
    let props = WriterProperties::builder().set_key_value_metadata(Some(meta)).build();
    let f = std::fs::File::create(folder.join(format!("part-s1-{seq:06}.parquet"))).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn dataset(dir: &Path) {
    // Messages in hour 08 and 09.
    let n = 40;
    let times: Vec<i64> = (0..n).map(|i| H8 + i * MIN).collect();
    let summaries: Vec<String> = (0..n).map(|i| format!("S1F1 W n={i}")).collect();
    let mut summ: Vec<&str> = summaries.iter().map(String::as_str).collect();
    summ[39] = "S2F41 W RCMD=START";
    write(
        dir,
        "messages",
        "08",
        1,
        vec![
            ("ts", ts(&times)),
            ("sensor", dict(&vec!["s1"; n as usize])),
            ("frame", u64s(&(1..=n as u64).collect::<Vec<_>>())),
            ("proto", dict(&vec!["hsms"; n as usize])),
            ("src", dict(&vec!["10.30.0.12"; n as usize])),
            ("dst", dict(&vec!["10.20.1.5"; n as usize])),
            ("summary", opt_str(&summ.iter().map(|s| Some(*s)).collect::<Vec<_>>())),
            ("malformed", Arc::new(BooleanArray::from((0..n).map(|i| i == 3).collect::<Vec<_>>()))),
            ("detail", opt_str(&vec![Some("{}"); n as usize])),
        ],
    );
    write(
        dir,
        "assets",
        "08",
        1,
        vec![
            ("ts", ts(&[H8 + 5 * MIN, H8 + 12 * MIN, H8 + 30 * MIN, H8 + 30 * MIN])),
            ("reason", dict(&["new", "identity_change", "snapshot", "snapshot"])),
            ("ip", dict(&["10.20.1.5", "10.20.1.5", "10.20.1.5", "10.30.0.12"])),
            ("name", opt_str(&[None, None, Some("etch-01"), Some("mes-host")])),
            ("level", opt_str(&[Some("2"), Some("2"), Some("2"), Some("3")])),
            ("level_source", dict(&["inferred"; 4])),
            ("area", opt_str(&[Some("fab"), Some("fab"), Some("fab"), Some("fab-system")])),
            (
                "roles",
                str_list(&[&["hsms-equipment"], &["hsms-equipment"], &["hsms-equipment"], &["hsms-host"]]),
            ),
            ("protocols", str_list(&[&["hsms"], &["hsms"], &["hsms"], &["hsms"]])),
            ("peers", str_list(&[&[], &[], &["10.30.0.12"], &["10.20.1.5"]])),
            ("first_seen", ts(&[H8; 4])),
            ("last_seen", ts(&[H8 + 5 * MIN, H8 + 12 * MIN, H8 + 30 * MIN, H8 + 39 * MIN])),
            ("messages", u64s(&[1, 5, 20, 40])),
            ("alerts", u64s(&[0, 1, 2, 1])),
            (
                "identity",
                opt_str(&[
                    None,
                    None,
                    Some(
                        r#"{"mdln":"ETCH-300","softrev":"4.2.2","proof":{"softrev":{"frame":901,"ts":"x","message":"S1F2"}}}"#,
                    ),
                    Some("{}"),
                ]),
            ),
            ("changed_field", opt_str(&[None, Some("softrev"), None, None])),
            ("old_value", opt_str(&[None, Some("4.2.1"), None, None])),
            ("new_value", opt_str(&[None, Some("4.2.2"), None, None])),
            ("change_summary", opt_str(&[None, Some("S1F2 SOFTREV=4.2.2"), None, None])),
        ],
    );
    let evidence = r#"{"frames":[40],"messages":[{"frame":40,"proto":"hsms","src":"10.30.0.12","dst":"10.20.1.5","what":"S2F41 W RCMD=START","malformed":false,"anomalies":[]}]}"#;
    write(
        dir,
        "alerts",
        "08",
        1,
        vec![
            ("ts", ts(&[H8 + 20 * MIN, H8 + 39 * MIN, H8 + 10 * MIN])),
            ("first_ts", ts(&[H8 + 20 * MIN, H8 + 20 * MIN, H8 + 10 * MIN])),
            ("sensor", dict(&["s1"; 3])),
            ("uid", dict(&["aaaa000000000001", "aaaa000000000001", "bbbb000000000002"])),
            ("rule", dict(&["hsms.remote_command", "hsms.remote_command", "identity.changed"])),
            ("severity", dict(&["high", "critical", "medium"])),
            ("count", u64s(&[1, 3, 1])),
            ("src", opt_str(&[Some("10.30.0.12"), Some("10.30.0.12"), Some("10.20.1.5")])),
            ("dst", opt_str(&[Some("10.20.1.5"), Some("10.20.1.5"), None])),
            ("proto", opt_str(&[Some("hsms"); 3])),
            ("key", opt_str(&[Some("START"), Some("START"), Some("")])),
            ("summary", opt_str(&[Some("old"), Some("Remote command START"), Some("softrev changed")])),
            ("standard", opt_str(&[Some("E187 access"); 3])),
            ("ot_item", opt_str(&[Some("PR-1"), Some("PR-1"), Some("ID-2")])),
            ("evidence_frames", u64_list(&[&[40], &[40, 41], &[901]])),
            ("evidence", opt_str(&[Some(evidence), Some(evidence), Some("{}")])),
        ],
    );
    for (hour, seq, t0) in [("08", 1, H8), ("09", 2, H8 + 60 * MIN)] {
        let times: Vec<i64> = (1..=6).map(|i| t0 + i * 10 * MIN).collect();
        write(
            dir,
            "stats",
            hour,
            seq,
            vec![
                ("ts", ts(&times)),
                ("interval_s", Arc::new(Float64Array::from(vec![600.0; 6]))),
                ("heartbeat", Arc::new(BooleanArray::from(vec![false; 6]))),
                ("packets", u64s(&[6000; 6])),
                ("bytes", u64s(&[600_000; 6])),
                ("kernel_drops", u64s(&[0, 0, 0, 0, 0, 60])),
                ("flows_active", u64s(&[4; 6])),
                ("messages_hsms", u64s(&[600; 6])),
                ("decode_errors_hsms", u64s(&[1, 0, 0, 0, 0, 0])),
                ("alerts", u64s(&[0, 1, 1, 1, 0, 0])),
            ],
        );
    }
    // A file still being written, and one that is not Parquet at all.
    let h = dir.join("messages/date=2025-11-16/hour=08");
    std::fs::write(h.join(".part-s1-000002.parquet.tmp"), b"PAR1 partial").unwrap();
    std::fs::write(h.join("part-s1-000003.parquet"), b"this is not parquet").unwrap();
}

#[test]
fn a_dataset_becomes_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let s = load(dir.path(), Range::default()).unwrap();
    assert_eq!(s.source.mode, "history");
    assert!(s.source.finished);
    // The broken file is named, not fatal.
    assert_eq!(s.source.errors.len(), 1, "{:?}", s.source.errors);
    assert!(s.source.errors[0].contains("part-s1-000003.parquet"), "{:?}", s.source.errors);
    assert!(s.overview.health.iter().any(|h| h.name == "files being written" && h.value.starts_with('1')));

    // Stats: totals and rates.
    assert_eq!(s.overview.packets, 72_000);
    assert_eq!(s.overview.messages.get("hsms"), Some(&7_200));
    assert_eq!(s.overview.decode_errors.get("hsms"), Some(&2));
    assert_eq!(s.overview.drops.get("kernel"), Some(&120));
    assert_eq!(s.overview.history.packets_per_s, vec![10; 12]);

    // Assets: latest row each, identity and its history, recent messages.
    assert_eq!(s.assets.len(), 2);
    let etch = s.assets.iter().find(|a| a.ip == "10.20.1.5").unwrap();
    assert_eq!(etch.name.as_deref(), Some("etch-01"));
    assert_eq!(etch.level.as_deref(), Some("2"));
    assert_eq!(etch.identity_line(), "mdln=ETCH-300 softrev=4.2.2");
    assert_eq!(etch.identity.iter().find(|v| v.key == "softrev").unwrap().proof, "S1F2 frame 901");
    assert_eq!(etch.identity_history.len(), 1);
    assert_eq!(etch.identity_history[0].what, "softrev 4.2.1 → 4.2.2 (S1F2 SOFTREV=4.2.2)");
    assert_eq!(etch.recent.len(), fabmon_tui::model::MAX_RECENT);
    assert_eq!(etch.recent.last().unwrap().summary, "S2F41 W RCMD=START");
    assert_eq!(etch.peers[0].level.as_deref(), Some("3"));

    // Alerts: one per uid with the largest count, newest first, evidence decoded.
    assert_eq!(s.alerts.len(), 2);
    let a = &s.alerts[0];
    assert_eq!((a.uid.as_str(), a.count, a.severity), ("aaaa000000000001", 3, Severity::Critical));
    assert_eq!(a.summary, "Remote command START");
    assert_eq!(a.evidence_frames, [40, 41]);
    assert_eq!(a.evidence, ["frame 40: S2F41 W RCMD=START 10.30.0.12 → 10.20.1.5"]);
    assert_eq!(s.overview.alerts_by_severity.get(&Severity::Critical), Some(&1));
}

#[test]
fn a_time_range_reads_only_what_falls_in_it() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    // 09:00 onwards: only the second stats file; no messages, assets or alerts of hour 08
    // except the alert whose life reaches into the range... which ends at 08:39.
    let s = load(dir.path(), Range { from: Some(H8 + 60 * MIN), to: None }).unwrap();
    assert_eq!(s.overview.packets, 36_000);
    assert!(s.assets.is_empty());
    assert!(s.alerts.is_empty());
    assert!(s.source.errors.is_empty(), "hour 08 is not opened: {:?}", s.source.errors);
    // 08:00 to 08:15: the identity alert (08:10) only; the START alert began at 08:20.
    let s = load(dir.path(), Range { from: Some(H8), to: Some(H8 + 15 * MIN) }).unwrap();
    let uids: Vec<&str> = s.alerts.iter().map(|a| a.uid.as_str()).collect();
    assert_eq!(uids, ["bbbb000000000002"]);
    assert_eq!(s.overview.packets, 6_000);
}

#[test]
fn a_folder_that_is_not_a_dataset_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path(), Range::default()).unwrap_err();
    assert!(e.to_string().contains("not a fabmon dataset"), "{e}");
}

#[test]
fn a_file_of_another_schema_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("stats/date=2025-11-16/hour=08");
    std::fs::create_dir_all(&folder).unwrap();
    let batch = RecordBatch::try_from_iter(vec![("ts", ts(&[H8])), ("packets", u64s(&[5]))]).unwrap();
    let f = std::fs::File::create(folder.join("part-x-000001.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let s = load(dir.path(), Range::default()).unwrap();
    assert_eq!(s.overview.packets, 0);
    assert!(s.source.errors[0].contains("no fabmon.schema"), "{:?}", s.source.errors);
}
