//! The Parquet dataset a running sensor writes (`fabmon run --out DIR`): messages, flows,
//! assets, alerts and stats, in Hive-style hourly partitions. The tables are defined once in
//! [`schema`]; [`writer`] owns the files of one table; [`sink`] turns the pipeline's events and
//! the monitor's inventory and alerts into rows. See `docs/schema.md`.

pub mod rows;
pub mod schema;
pub mod sink;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

pub use schema::{TableDef, SCHEMA_VERSION, TABLES};
pub use sink::{DatasetSink, SinkConfig};
pub use writer::{TableReport, TableWriter, WriterLimits};

/// What start-up found in the output folder.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StartupReport {
    /// Temporary files of this sensor with a valid footer, renamed to their final name.
    pub recovered: Vec<PathBuf>,
    /// Temporary files of this sensor without a valid footer (cut short by a crash), removed.
    pub removed: Vec<PathBuf>,
    /// The first sequence number this run uses (after the highest one found).
    pub next_seq: u64,
    /// Problems while scanning (unreadable folders), reported but not fatal.
    pub problems: Vec<String>,
}

/// Whether a sensor id is usable in file names: 1–64 of `A-Z a-z 0-9 . _ -`, not starting
/// with a dot.
pub fn valid_sensor_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The sequence number of a file name of `sensor`: `part-<sensor>-<seq>.parquet` or
/// `.part-<sensor>-<seq>.parquet.tmp`, and whether it is temporary.
pub fn parse_file_name(name: &str, sensor: &str) -> Option<(u64, bool)> {
    let (rest, tmp) = match name.strip_prefix('.') {
        Some(r) => (r.strip_suffix(".parquet.tmp")?, true),
        None => (name.strip_suffix(".parquet")?, false),
    };
    let seq = rest.strip_prefix("part-")?.strip_prefix(sensor)?.strip_prefix('-')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse().ok().map(|s| (s, tmp))
}

/// Whether `path` is a Parquet file with a readable footer.
pub fn has_valid_footer(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else { return false };
    parquet::file::metadata::ParquetMetaDataReader::new().parse_and_finish(&f).is_ok()
}

fn subdirs(dir: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            problems.push(format!("reading {}: {e}", dir.display()));
            Vec::new()
        }
    }
}

/// Scans `root` for the files of `sensor`: recovers or removes its temporary files and finds
/// the next sequence number.
pub fn recover(root: &Path, sensor: &str) -> StartupReport {
    let mut rep = StartupReport::default();
    let mut max_seq: Option<u64> = None;
    for t in TABLES {
        for date in subdirs(&root.join(t.name), &mut rep.problems) {
            for hour in subdirs(&date, &mut rep.problems) {
                let rd = match std::fs::read_dir(&hour) {
                    Ok(rd) => rd,
                    Err(e) => {
                        rep.problems.push(format!("reading {}: {e}", hour.display()));
                        continue;
                    }
                };
                for e in rd.filter_map(|e| e.ok()) {
                    let name = e.file_name();
                    let Some((seq, tmp)) = name.to_str().and_then(|n| parse_file_name(n, sensor)) else {
                        continue;
                    };
                    max_seq = Some(max_seq.map_or(seq, |m| m.max(seq)));
                    if !tmp {
                        continue;
                    }
                    let path = e.path();
                    let fin = hour.join(writer::file_names(sensor, seq).1);
                    if !fin.exists() && has_valid_footer(&path) {
                        match std::fs::rename(&path, &fin) {
                            Ok(()) => rep.recovered.push(fin),
                            Err(err) => rep.problems.push(format!("renaming {}: {err}", path.display())),
                        }
                    } else {
                        match std::fs::remove_file(&path) {
                            Ok(()) => rep.removed.push(path),
                            Err(err) => rep.problems.push(format!("removing {}: {err}", path.display())),
                        }
                    }
                }
            }
        }
    }
    rep.next_seq = max_seq.map_or(0, |m| m + 1);
    rep
}

/// The five table writers of one output folder.
pub struct Dataset {
    pub root: PathBuf,
    pub sensor: String,
    pub messages: TableWriter,
    pub flows: TableWriter,
    pub assets: TableWriter,
    pub alerts: TableWriter,
    pub stats: TableWriter,
}

impl Dataset {
    /// Opens `root` for `sensor`: recovers what an earlier run left (see [`recover`]). The
    /// folders are created when the first file is; a folder that cannot be created shows as
    /// write errors and dropped rows, never as a failure here.
    pub fn open(root: &Path, sensor: &str, limits: WriterLimits) -> (Dataset, StartupReport) {
        let rep = recover(root, sensor);
        let seq = Arc::new(AtomicU64::new(rep.next_seq));
        let w = |t: &'static TableDef| TableWriter::new(t, root, sensor, Arc::clone(&seq), limits.clone());
        let ds = Dataset {
            root: root.to_path_buf(),
            sensor: sensor.to_string(),
            messages: w(&schema::MESSAGES),
            flows: w(&schema::FLOWS),
            assets: w(&schema::ASSETS),
            alerts: w(&schema::ALERTS),
            stats: w(&schema::STATS),
        };
        (ds, rep)
    }

    fn writers(&mut self) -> [&mut TableWriter; 5] {
        [&mut self.messages, &mut self.flows, &mut self.assets, &mut self.alerts, &mut self.stats]
    }

    /// Rotates files by age (capture time `now_ts_ns`, or wall clock).
    pub fn tick(&mut self, now_ts_ns: i64) {
        for w in self.writers() {
            w.tick(now_ts_ns);
        }
    }

    /// Writes everything held and closes every file.
    pub fn close(&mut self) {
        for w in self.writers() {
            w.close_all();
        }
    }

    /// Per-table counts, in the order of [`TABLES`].
    pub fn reports(&self) -> Vec<TableReport> {
        [&self.messages, &self.flows, &self.assets, &self.alerts, &self.stats]
            .into_iter()
            .map(|w| w.report().clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
