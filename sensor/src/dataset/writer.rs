//! One table's files: rows are partitioned by the hour of their timestamp, batched in reused
//! builders, written to `.part-<sensor>-<seq>.parquet.tmp` and renamed to
//! `part-<sensor>-<seq>.parquet` when the file is closed (rotation by size, by age, at the end of
//! the hour's use, at shutdown).
//!
//! A failure to write (disk full, permission, a file where a folder should be) never stops the
//! sensor: the rows of the failed file are counted as dropped, the error is kept for the report,
//! and the table retries with a new file after [`RETRY_AFTER`]; rows that arrive meanwhile are
//! dropped and counted.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

use super::rows::Rows;
use super::schema::{metadata, TableDef};

/// How long a table waits after a write error before it tries a new file.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

const NS_PER_HOUR: i64 = 3_600_000_000_000;

/// Sizes and ages that decide when batches are written and files closed.
#[derive(Clone, Debug)]
pub struct WriterLimits {
    /// Rows kept in the builders before they are written out as a batch.
    pub batch_rows: usize,
    /// Bytes kept in the builders before they are written out.
    pub batch_bytes: usize,
    /// Rows per row group (Parquet) at most.
    pub row_group_rows: usize,
    /// Encoded bytes per row group at most (bounds the writer's buffer).
    pub row_group_bytes: usize,
    /// A file is closed once this many bytes are written (0: no size limit).
    pub rotate_bytes: u64,
    /// A file is closed once it has been open this long, in capture time or in wall-clock
    /// time, whichever comes first.
    pub rotate_ns: i64,
    /// Partitions (hours) open at once per table; the least recently used is closed beyond.
    pub max_open_partitions: usize,
}

impl Default for WriterLimits {
    fn default() -> Self {
        WriterLimits {
            batch_rows: 8192,
            batch_bytes: 8 << 20,
            row_group_rows: 128 * 1024,
            row_group_bytes: 24 << 20,
            rotate_bytes: 256 << 20,
            rotate_ns: 300_000_000_000,
            max_open_partitions: 2,
        }
    }
}

/// What a table wrote and dropped.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TableReport {
    pub table: &'static str,
    /// Rows in closed (renamed) files.
    pub rows_written: u64,
    pub files_written: u64,
    pub bytes_written: u64,
    /// Rows lost to write errors (or to a table waiting to retry after one).
    pub rows_dropped: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

struct OpenFile {
    writer: ArrowWriter<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    /// Rows handed to the writer.
    rows: u64,
    opened_ts_ns: i64,
    opened_at: Instant,
}

struct Partition {
    hour: i64,
    rows: Rows,
    file: Option<OpenFile>,
    last_use: u64,
}

/// The writer of one table.
pub struct TableWriter {
    table: &'static TableDef,
    schema: SchemaRef,
    props: WriterProperties,
    dir: PathBuf,
    sensor: String,
    seq: Arc<AtomicU64>,
    limits: WriterLimits,
    parts: Vec<Partition>,
    uses: u64,
    retry_at: Option<Instant>,
    report: TableReport,
}

/// `DIR/<table>/date=YYYY-MM-DD/hour=HH` of an hour number (hours since the Unix epoch).
pub fn partition_dir(table_dir: &Path, hour: i64) -> PathBuf {
    let (y, m, d, h, ..) = crate::time::civil(hour.saturating_mul(3600));
    table_dir.join(format!("date={y:04}-{m:02}-{d:02}")).join(format!("hour={h:02}"))
}

/// File names of sequence number `seq`: (temporary, final).
pub fn file_names(sensor: &str, seq: u64) -> (String, String) {
    (format!(".part-{sensor}-{seq:06}.parquet.tmp"), format!("part-{sensor}-{seq:06}.parquet"))
}

impl TableWriter {
    pub fn new(
        table: &'static TableDef,
        root: &Path,
        sensor: &str,
        seq: Arc<AtomicU64>,
        limits: WriterLimits,
    ) -> TableWriter {
        let schema = table.schema(sensor);
        let mut props = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_2_0)
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_dictionary_enabled(false)
            .set_max_row_group_row_count(Some(limits.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(limits.row_group_bytes.max(1)))
            .set_created_by(format!("fabmon {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(
                metadata(table.name, sensor)
                    .into_iter()
                    .map(|(k, v)| KeyValue::new(k, v))
                    .collect::<Vec<_>>(),
            ));
        // Long free-text columns (JSON, sentences) get no min/max statistics: they would cost
        // time on every page and never prune a scan.
        for c in table.columns.iter().filter(|c| c.kind == super::schema::Kind::Utf8 && !c.dict) {
            props = props.set_column_statistics_enabled(ColumnPath::from(c.name), EnabledStatistics::None);
        }
        for c in table.columns.iter().filter(|c| c.dict) {
            let path = match c.kind {
                super::schema::Kind::ListUtf8 => {
                    ColumnPath::new(vec![c.name.into(), "list".into(), "item".into()])
                }
                _ => ColumnPath::from(c.name),
            };
            props = props.set_column_dictionary_enabled(path, true);
        }
        TableWriter {
            table,
            schema,
            props: props.build(),
            dir: root.join(table.name),
            sensor: sensor.to_string(),
            seq,
            limits,
            parts: Vec::new(),
            uses: 0,
            retry_at: None,
            report: TableReport { table: table.name, ..TableReport::default() },
        }
    }

    pub fn table(&self) -> &'static TableDef {
        self.table
    }

    pub fn report(&self) -> &TableReport {
        &self.report
    }

    /// Appends one row with timestamp `ts_ns` (decides the partition); `fill` gives every
    /// column a value in order. Returns false when the row was dropped (table failed).
    pub fn append(&mut self, ts_ns: i64, fill: impl FnOnce(&mut Rows)) -> bool {
        if let Some(t) = self.retry_at {
            if Instant::now() < t {
                self.report.rows_dropped += 1;
                return false;
            }
            self.retry_at = None;
        }
        let hour = ts_ns.div_euclid(NS_PER_HOUR);
        let i = self.partition(hour);
        self.uses += 1;
        let p = &mut self.parts[i];
        p.last_use = self.uses;
        fill(&mut p.rows);
        p.rows.end_row();
        if p.rows.len() >= self.limits.batch_rows || p.rows.bytes() >= self.limits.batch_bytes {
            self.write_rows(i, ts_ns);
        }
        true
    }

    fn partition(&mut self, hour: i64) -> usize {
        if let Some(i) = self.parts.iter().position(|p| p.hour == hour) {
            return i;
        }
        if self.parts.len() >= self.limits.max_open_partitions.max(1) {
            if let Some(i) = self.parts.iter().enumerate().min_by_key(|(_, p)| p.last_use).map(|(i, _)| i) {
                self.close_partition(i);
            }
        }
        self.parts.push(Partition {
            hour,
            rows: Rows::new(self.table, self.schema.clone()),
            file: None,
            last_use: self.uses,
        });
        self.parts.len() - 1
    }

    /// Writes the builders of partition `i` to its file (opened if needed); closes the file
    /// when it reached the rotation size.
    fn write_rows(&mut self, i: usize, now_ts_ns: i64) {
        if self.parts[i].rows.is_empty() {
            return;
        }
        if self.parts[i].file.is_none() {
            match self.open(self.parts[i].hour, now_ts_ns) {
                Ok(f) => self.parts[i].file = Some(f),
                Err(e) => {
                    self.fail(i, e);
                    return;
                }
            }
        }
        let p = &mut self.parts[i];
        let n = p.rows.len() as u64;
        let res = p.rows.take_batch().map_err(|e| e.to_string()).and_then(|b| match p.file.as_mut() {
            Some(f) => f.writer.write(&b).map_err(|e| e.to_string()),
            None => Ok(()),
        });
        match res {
            Ok(()) => {
                if let Some(f) = p.file.as_mut() {
                    f.rows += n;
                    let size = (f.writer.bytes_written() + f.writer.in_progress_size()) as u64;
                    if self.limits.rotate_bytes > 0 && size >= self.limits.rotate_bytes {
                        self.close_file(i);
                    }
                }
            }
            Err(e) => {
                // The batch is lost with the file it was going to.
                self.report.rows_dropped += n;
                self.fail(i, format!("writing {}: {e}", self.display_path(i)));
            }
        }
    }

    fn display_path(&self, i: usize) -> String {
        self.parts[i]
            .file
            .as_ref()
            .map_or_else(|| self.dir.display().to_string(), |f| f.tmp.display().to_string())
    }

    fn open(&mut self, hour: i64, now_ts_ns: i64) -> Result<OpenFile, String> {
        let dir = partition_dir(&self.dir, hour);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let (tmp, fin) = file_names(&self.sensor, seq);
        let (tmp, path) = (dir.join(tmp), dir.join(fin));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            self.schema.clone(),
            Some(self.props.clone()),
        )
        .map_err(|e| format!("starting {}: {e}", tmp.display()))?;
        Ok(OpenFile { writer, tmp, path, rows: 0, opened_ts_ns: now_ts_ns, opened_at: Instant::now() })
    }

    /// Gives up the file of partition `i` after an error: its rows are dropped (counted), the
    /// temporary file removed, and the table waits before trying again.
    fn fail(&mut self, i: usize, err: String) {
        let p = &mut self.parts[i];
        let mut lost = p.rows.discard() as u64;
        if let Some(f) = p.file.take() {
            lost += f.rows;
            let tmp = f.tmp.clone();
            drop(f);
            let _ = std::fs::remove_file(&tmp);
        }
        self.report.rows_dropped += lost;
        self.report.errors += 1;
        tracing::warn!("dataset {}: {err}; {lost} rows dropped", self.table.name);
        self.report.last_error = Some(err);
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
    }

    /// Closes the file of partition `i` (footer, sync, rename). The partition stays.
    fn close_file(&mut self, i: usize) {
        let Some(f) = self.parts[i].file.take() else { return };
        let OpenFile { writer, tmp, path, rows, .. } = f;
        let res = (|| -> Result<u64, String> {
            let buf = writer.into_inner().map_err(|e| format!("closing {}: {e}", tmp.display()))?;
            let file = buf.into_inner().map_err(|e| format!("closing {}: {}", tmp.display(), e.error()))?;
            file.sync_data().map_err(|e| format!("syncing {}: {e}", tmp.display()))?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            drop(file);
            std::fs::rename(&tmp, &path).map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
            Ok(len)
        })();
        match res {
            Ok(len) => {
                self.report.rows_written += rows;
                self.report.files_written += 1;
                self.report.bytes_written += len;
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                self.report.rows_dropped += rows;
                self.report.errors += 1;
                tracing::warn!("dataset {}: {e}; {rows} rows dropped", self.table.name);
                self.report.last_error = Some(e);
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
            }
        }
    }

    /// Writes the rows held and closes partition `i`.
    fn close_partition(&mut self, i: usize) {
        let ts = self.parts[i].hour * NS_PER_HOUR;
        self.write_rows(i, ts);
        self.close_file(i);
        self.parts.remove(i);
    }

    /// Closes files open longer than the rotation age (capture time `now_ts_ns`, or wall
    /// clock), and partitions of past hours that were not used since.
    pub fn tick(&mut self, now_ts_ns: i64) {
        let now = Instant::now();
        let age = Duration::from_nanos(u64::try_from(self.limits.rotate_ns).unwrap_or(0));
        let mut i = 0;
        while i < self.parts.len() {
            let p = &self.parts[i];
            let old = p.file.as_ref().is_some_and(|f| {
                now_ts_ns.saturating_sub(f.opened_ts_ns) >= self.limits.rotate_ns
                    || now.duration_since(f.opened_at) >= age
            });
            let past_hour = (p.hour + 1) * NS_PER_HOUR + self.limits.rotate_ns <= now_ts_ns;
            if past_hour {
                self.close_partition(i);
                continue;
            }
            if old {
                self.write_rows(i, now_ts_ns);
                self.close_file(i);
            }
            i += 1;
        }
    }

    /// Writes everything held and closes every file.
    pub fn close_all(&mut self) {
        while !self.parts.is_empty() {
            self.close_partition(self.parts.len() - 1);
        }
    }

    /// Counts rows dropped outside the writer (e.g. the table could not be set up).
    pub fn count_dropped(&mut self, n: u64) {
        self.report.rows_dropped += n;
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        self.close_all();
    }
}
