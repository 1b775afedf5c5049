#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::rows::Rows;
use super::schema::{Kind, TableDef, TABLES};
use super::*;

const HOUR: i64 = 3_600_000_000_000;
/// 2026-11-22T02:00:00Z.
const T0: i64 = 1_795_312_800_000_000_000;

/// Fills one row of `t` with values derived from `i` (nulls in nullable columns every third
/// row, so both paths are exercised).
fn fill(r: &mut Rows, t: &TableDef, i: u64) {
    for (c, col) in t.columns.iter().enumerate() {
        let null = col.nullable && (i + c as u64) % 3 == 0;
        let v = i * 31 + c as u64;
        let s = format!("{}-{}", col.name, v % 7);
        match col.kind {
            Kind::Ts => r.ts((!null).then_some(T0 + v as i64 * 1000)),
            Kind::U8 => r.u8((!null).then_some(v as u8)),
            Kind::U16 => r.u16((!null).then_some(v as u16)),
            Kind::U32 => r.u32((!null).then_some(v as u32)),
            Kind::U64 => r.u64((!null).then_some(v)),
            Kind::F64 => r.f64((!null).then_some(v as f64 / 4.0)),
            Kind::Bool => r.bool((!null).then_some(v % 2 == 0)),
            Kind::Utf8 => r.str((!null).then_some(s.as_str())),
            Kind::ListUtf8 => r.strs((0..v % 3).map(|_| s.as_str())),
            Kind::ListU64 => r.u64s(&(0..v % 4).collect::<Vec<_>>()),
        }
    }
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return v };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(files(&p, ext));
        } else if p.to_string_lossy().ends_with(ext) {
            v.push(p);
        }
    }
    v.sort();
    v
}

fn read(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let kv = b.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    let get = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
    assert_eq!(get("fabmon.schema").as_deref(), Some(SCHEMA_VERSION));
    assert_eq!(get("fabmon.sensor").as_deref(), Some("s-1"));
    b.build().unwrap().map(|b| b.unwrap()).collect()
}

#[test]
fn every_table_round_trips_through_parquet() {
    for t in TABLES {
        let dir = tempfile::tempdir().unwrap();
        let limits = WriterLimits { batch_rows: 100, ..WriterLimits::default() };
        let mut w = TableWriter::new(t, dir.path(), "s-1", Arc::new(AtomicU64::new(0)), limits);
        let mut expect = Rows::new(t, t.schema("s-1"));
        for i in 0..1000u64 {
            assert!(w.append(T0, |r| fill(r, t, i)));
            fill(&mut expect, t, i);
            expect.end_row();
        }
        w.close_all();
        let rep = w.report().clone();
        assert_eq!((rep.rows_written, rep.files_written, rep.rows_dropped), (1000, 1, 0), "{}", t.name);
        let f = files(dir.path(), ".parquet");
        assert_eq!(f.len(), 1);
        let want_path = format!("{}/date=2026-11-22/hour=02/part-s-1-000000.parquet", t.name);
        assert!(f[0].ends_with(&want_path), "{} is not {want_path}", f[0].display());
        let got = arrow::compute::concat_batches(&t.schema("s-1"), &read(&f[0])).unwrap();
        let want = expect.take_batch().unwrap();
        assert_eq!(got.schema().fields(), want.schema().fields(), "{}", t.name);
        assert_eq!(got.columns(), want.columns(), "{}", t.name);
        assert_eq!(expect.mismatches, 0);
    }
}

#[test]
fn rows_go_to_the_hour_of_their_time_and_files_rotate_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let limits = WriterLimits { batch_rows: 50, rotate_bytes: 1, ..WriterLimits::default() };
    let t = &schema::STATS;
    let mut w = TableWriter::new(t, dir.path(), "s-1", Arc::new(AtomicU64::new(7)), limits);
    for i in 0..200u64 {
        let ts = T0 + (i as i64 / 100) * HOUR;
        w.append(ts, |r| fill(r, t, i));
    }
    w.close_all();
    let f = files(dir.path(), ".parquet");
    // 2 hours × 100 rows, every batch of 50 rows closes its file.
    assert_eq!(f.len(), 4, "{f:?}");
    assert!(f.iter().filter(|p| p.to_string_lossy().contains("hour=02")).count() == 2);
    assert!(f.iter().filter(|p| p.to_string_lossy().contains("hour=03")).count() == 2);
    assert!(f[0].to_string_lossy().contains("part-s-1-000007"));
    let rows: usize = f.iter().flat_map(|p| read(p)).map(|b| b.num_rows()).sum();
    assert_eq!(rows, 200);
    assert!(files(dir.path(), ".tmp").is_empty());
}

#[test]
fn a_file_in_place_of_the_folder_drops_rows_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    std::fs::write(&root, b"not a folder").unwrap();
    let (mut ds, rep) =
        Dataset::open(&root, "s-1", WriterLimits { batch_rows: 10, ..WriterLimits::default() });
    assert!(rep.recovered.is_empty() && rep.removed.is_empty());
    for i in 0..25u64 {
        ds.stats.append(T0, |r| fill(r, &schema::STATS, i));
    }
    ds.close();
    let r = &ds.reports()[4];
    assert_eq!(r.table, "stats");
    assert_eq!(r.rows_written, 0);
    assert_eq!(r.rows_dropped, 25);
    assert!(r.errors >= 1);
    assert!(r.last_error.as_deref().unwrap_or("").contains("creating"), "{:?}", r.last_error);
}

#[test]
fn start_up_recovers_complete_temporary_files_removes_partial_ones_and_continues_the_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let t = &schema::MESSAGES;
    {
        let mut w =
            TableWriter::new(t, dir.path(), "s-1", Arc::new(AtomicU64::new(0)), WriterLimits::default());
        for i in 0..10 {
            w.append(T0, |r| fill(r, t, i));
        }
        w.close_all();
    }
    let hour = writer::partition_dir(&dir.path().join("messages"), T0 / HOUR);
    // A complete file under its temporary name (killed between close and rename) ...
    let (tmp5, fin5) = writer::file_names("s-1", 5);
    std::fs::copy(hour.join(writer::file_names("s-1", 0).1), hour.join(&tmp5)).unwrap();
    // ... a partial one (killed while writing), and one of another sensor (left alone).
    let (tmp9, _) = writer::file_names("s-1", 9);
    std::fs::write(hour.join(&tmp9), b"PAR1 cut short").unwrap();
    let (other, _) = writer::file_names("s-2", 40);
    std::fs::write(hour.join(&other), b"PAR1").unwrap();
    let rep = recover(dir.path(), "s-1");
    assert_eq!(rep.recovered, vec![hour.join(&fin5)]);
    assert_eq!(rep.removed, vec![hour.join(&tmp9)]);
    assert_eq!(rep.next_seq, 10);
    assert!(hour.join(&other).exists());
    assert_eq!(read(&hour.join(&fin5)).iter().map(|b| b.num_rows()).sum::<usize>(), 10);
}

#[test]
fn file_names_parse_back() {
    assert_eq!(parse_file_name("part-s-1-000012.parquet", "s-1"), Some((12, false)));
    assert_eq!(parse_file_name(".part-s-1-000012.parquet.tmp", "s-1"), Some((12, true)));
    assert_eq!(parse_file_name("part-s-1-000012.parquet", "s"), None);
    assert_eq!(parse_file_name("part-s-1-.parquet", "s-1"), None);
    assert!(valid_sensor_id("fab1-bay3_a.b"));
    assert!(!valid_sensor_id("../x") && !valid_sensor_id("") && !valid_sensor_id(".h"));
}
