//! The exporter: a bounded queue in front of one sender thread that owns the file or socket.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::ops::RangeInclusive;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use super::format::{
    format_cef, format_jsonl, format_rfc5424, frame, is_sd_name, Framing, SyslogHeader, TcpFraming,
    DEFAULT_FACILITY, DEFAULT_SD_ID,
};
use super::target::{ExportTarget, SyslogFormat, Transport};
use super::ExportError;
use crate::alert::Alert;

/// Alerts the queue holds by default before `send` starts dropping the newest.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// Default size limit of a syslog or CEF message: what rsyslog accepts by default. RFC 5426
/// receivers must take 480 bytes and should take 2048; syslog-ng and most SIEM inputs take
/// 64 KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 8 * 1024;
/// Allowed size limits: from 1 KiB up to the largest UDP payload over IPv4.
pub const MAX_MESSAGE_BYTES_RANGE: RangeInclusive<usize> = 1024..=65_507;
/// JSON lines written to the file in one write.
const FILE_BATCH: usize = 256;
/// Mode of a newly created alert file (before the umask): alerts name assets and addresses.
const FILE_MODE: u32 = 0o640;
/// How long closing waits for the thread to account for what it could not deliver.
const FINISH_GRACE: Duration = Duration::from_millis(200);

/// Settings of an [`AlertExporter`]. [`ExporterConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct ExporterConfig {
    /// Where alerts go.
    pub target: ExportTarget,
    /// Alerts queued for the sender thread before `send` drops the newest (default 10,000).
    pub queue_capacity: usize,
    /// Longest syslog or CEF message in bytes, before TCP framing (default 8 KiB, 1 KiB to
    /// 65,507). Longer messages lose the end of their summary first. JSON lines are not cut.
    pub max_message_bytes: usize,
    /// syslog facility, 0-23 (default 20, local4).
    pub facility: u8,
    /// HOSTNAME in each message; `None` means this machine's host name ([`local_hostname`]).
    pub hostname: Option<String>,
    /// SD-ID of the RFC 5424 structured data (default `fabmon@32473`).
    pub sd_id: String,
    /// Framing over TCP; `None` means octet counting for syslog and newlines for CEF.
    pub tcp_framing: Option<TcpFraming>,
    /// First wait before reconnecting or reopening after a failure (default 1 s); it doubles
    /// on each further failure up to `backoff_max` (default 30 s).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// TCP connect timeout (default 5 s).
    pub connect_timeout: Duration,
    /// TCP write timeout: a collector that stops reading is treated as gone (default 10 s).
    pub write_timeout: Duration,
    /// How long dropping the exporter waits for queued alerts to go out (default 2 s).
    pub drop_flush_timeout: Duration,
}

impl ExporterConfig {
    /// Defaults for `target`.
    pub fn new(target: ExportTarget) -> ExporterConfig {
        ExporterConfig {
            target,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            facility: DEFAULT_FACILITY,
            hostname: None,
            sd_id: DEFAULT_SD_ID.to_string(),
            tcp_framing: None,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            drop_flush_timeout: Duration::from_secs(2),
        }
    }

    fn validate(&self) -> Result<(), ExportError> {
        let bad = |field: &'static str, value: String, reason: &'static str| {
            Err(ExportError::Setting { field, value, reason })
        };
        if self.queue_capacity == 0 {
            return bad("queue_capacity", "0".into(), "must be at least 1");
        }
        if !MAX_MESSAGE_BYTES_RANGE.contains(&self.max_message_bytes) {
            return bad("max_message_bytes", self.max_message_bytes.to_string(), "must be 1024 to 65507");
        }
        if self.facility > 23 {
            return bad("facility", self.facility.to_string(), "must be 0 to 23 (local4 is 20)");
        }
        if !is_sd_name(&self.sd_id) {
            return bad(
                "sd_id",
                format!("{:?}", self.sd_id),
                "must be 1-32 printable ASCII characters without '=', ' ', ']' or '\"'",
            );
        }
        let durations = [
            ("backoff_min", self.backoff_min),
            ("backoff_max", self.backoff_max),
            ("connect_timeout", self.connect_timeout),
            ("write_timeout", self.write_timeout),
        ];
        for (field, d) in durations {
            if d.is_zero() {
                return bad(field, "0s".into(), "must be more than zero");
            }
        }
        if self.backoff_max < self.backoff_min {
            return bad(
                "backoff_max",
                format!("{:?}", self.backoff_max),
                "must not be less than backoff_min",
            );
        }
        Ok(())
    }
}

/// This machine's host name (from the kernel), or "-" (the syslog NILVALUE) when unknown.
pub fn local_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "-".to_string())
}

/// Counters of one exporter. Every alert given to `send` ends up in exactly one of `sent`,
/// `failed`, `dropped` or (for now) `queued`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportStats {
    /// Written to the file or socket (for UDP: handed to the network, which may lose it).
    pub sent: u64,
    /// Accepted but not delivered: a datagram the system refused, an alert that could not be
    /// encoded, or alerts still queued at shutdown while the collector was unreachable.
    pub failed: u64,
    /// Refused by `send` because the queue was full (the newest alert is the one dropped).
    pub dropped: u64,
    /// In the queue or being delivered.
    pub queued: u64,
    /// Failed connects, opens and writes, retries included (not alerts).
    pub errors: u64,
    /// Connections (or file opens) made after the first one.
    pub reconnects: u64,
    /// Messages cut to `max_message_bytes`.
    pub truncated: u64,
}

#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
    reconnects: AtomicU64,
    truncated: AtomicU64,
    /// Put on the queue.
    accepted: AtomicU64,
    /// Taken off the queue and counted as sent or failed by the thread.
    settled: AtomicU64,
    /// Give up delivering: set when the exporter closes.
    stop: AtomicBool,
    /// The thread has counted everything and ended.
    finished: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
    // The mutex guards no data, so a poisoned one is as good as a clean one.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn notify(&self) {
        // Taking the lock orders this wake-up after a waiter's check of the counters.
        drop(lock(&self.lock));
        self.cv.notify_all();
    }

    fn settle(&self, sent: u64, failed: u64) {
        if sent + failed == 0 {
            return;
        }
        self.sent.fetch_add(sent, SeqCst);
        self.failed.fetch_add(failed, SeqCst);
        self.settled.fetch_add(sent + failed, SeqCst);
        self.notify();
    }

    fn error(&self) {
        self.errors.fetch_add(1, SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stop.load(SeqCst)
    }

    /// Waits until `done()` or `deadline`; returns `done()`.
    fn wait_until(&self, deadline: Instant, done: impl Fn() -> bool) -> bool {
        let mut guard = lock(&self.lock);
        loop {
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = match self.cv.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

enum Encoding {
    Jsonl,
    Syslog { format: SyslogFormat, header: SyslogHeader, max: usize, framing: Framing },
}

impl Encoding {
    /// The bytes to write for one alert, and whether they were cut to the size limit.
    fn encode(&self, alert: &Alert) -> Result<(Vec<u8>, bool), ExportError> {
        match self {
            Encoding::Jsonl => format_jsonl(alert)
                .map(|v| (v, false))
                .map_err(|source| ExportError::Encode { id: alert.id, source }),
            Encoding::Syslog { format, header, max, framing } => {
                let f = match format {
                    SyslogFormat::Rfc5424 => format_rfc5424(alert, header, *max),
                    SyslogFormat::Cef => format_cef(alert, header, *max),
                };
                Ok((frame(&f.text, *framing), f.truncated))
            }
        }
    }
}

/// Sends alerts to one target without ever blocking the caller: see the module docs.
pub struct AlertExporter {
    target: ExportTarget,
    encoding: Encoding,
    tx: Option<Sender<Vec<u8>>>,
    /// Dropped on close to cut a backoff wait short.
    wake: Option<Sender<()>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    capacity: usize,
    drop_flush_timeout: Duration,
}

impl AlertExporter {
    /// Checks the settings, opens the file or UDP socket (so that a bad path fails now) and
    /// starts the sender thread. TCP connects lazily, on the first alert.
    pub fn new(cfg: ExporterConfig) -> Result<AlertExporter, ExportError> {
        cfg.validate()?;
        let hostname = cfg.hostname.clone().unwrap_or_else(local_hostname);
        let header = SyslogHeader::new(cfg.facility, &hostname, &cfg.sd_id);
        let syslog = |format: SyslogFormat, framing: Framing| Encoding::Syslog {
            format,
            header: header.clone(),
            max: cfg.max_message_bytes,
            framing,
        };
        let (encoding, sink) = match &cfg.target {
            ExportTarget::JsonlFile(path) => {
                let file =
                    open_append(path).map_err(|source| ExportError::Open { path: path.clone(), source })?;
                (
                    Encoding::Jsonl,
                    Sink::File(FileSink { path: path.clone(), file: Some(file), retry_after: None }),
                )
            }
            &ExportTarget::Syslog { addr, transport: Transport::Udp, format } => {
                let any: SocketAddr = match addr {
                    SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                    SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                let sock = UdpSocket::bind(any).map_err(|source| ExportError::Socket { addr, source })?;
                (syslog(format, Framing::Datagram), Sink::Udp { sock, addr })
            }
            &ExportTarget::Syslog { addr, transport: Transport::Tcp, format } => {
                let framing = cfg.tcp_framing.unwrap_or(match format {
                    // CEF receivers (ArcSight connectors, SIEM CEF inputs) read lines.
                    SyslogFormat::Cef => TcpFraming::Newline,
                    SyslogFormat::Rfc5424 => TcpFraming::OctetCounting,
                });
                let sink = TcpSink {
                    addr,
                    conn: None,
                    connected_before: false,
                    retry_after: None,
                    connect_timeout: cfg.connect_timeout,
                    write_timeout: cfg.write_timeout,
                };
                (syslog(format, Framing::Stream(framing)), Sink::Tcp(sink))
            }
        };
        let (tx, rx) = bounded(cfg.queue_capacity);
        let (wake_tx, wake_rx) = bounded(1);
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            rx,
            ctx: Ctx {
                wake: wake_rx,
                shared: Arc::clone(&shared),
                backoff: Backoff { min: cfg.backoff_min, max: cfg.backoff_max, next: cfg.backoff_min },
                opened_before: false,
            },
            sink,
        };
        let thread = std::thread::Builder::new()
            .name("fabmon-export".into())
            .spawn(move || worker.run())
            .map_err(ExportError::Spawn)?;
        Ok(AlertExporter {
            target: cfg.target,
            encoding,
            tx: Some(tx),
            wake: Some(wake_tx),
            shared,
            thread: Some(thread),
            capacity: cfg.queue_capacity,
            drop_flush_timeout: cfg.drop_flush_timeout,
        })
    }

    /// Queues one alert: formats it on this thread and never waits for I/O. When the queue is
    /// full the alert is dropped, counted, and `QueueFull` returned; the caller may ignore it.
    pub fn send(&mut self, alert: &Alert) -> Result<(), ExportError> {
        let s = &self.shared;
        let Some(tx) = &self.tx else {
            s.dropped.fetch_add(1, SeqCst);
            return Err(ExportError::Closed { id: alert.id });
        };
        // Do not spend time formatting what cannot be queued.
        if tx.is_full() {
            s.dropped.fetch_add(1, SeqCst);
            return Err(ExportError::QueueFull { capacity: self.capacity, id: alert.id });
        }
        let (bytes, truncated) = match self.encoding.encode(alert) {
            Ok(x) => x,
            Err(e) => {
                s.failed.fetch_add(1, SeqCst);
                return Err(e);
            }
        };
        // Counted before the thread can see it, so that `settled <= accepted` always holds.
        s.accepted.fetch_add(1, SeqCst);
        match tx.try_send(bytes) {
            Ok(()) => {
                if truncated {
                    s.truncated.fetch_add(1, SeqCst);
                }
                Ok(())
            }
            Err(e) => {
                s.accepted.fetch_sub(1, SeqCst);
                s.dropped.fetch_add(1, SeqCst);
                Err(match e {
                    TrySendError::Full(_) => ExportError::QueueFull { capacity: self.capacity, id: alert.id },
                    TrySendError::Disconnected(_) => ExportError::Closed { id: alert.id },
                })
            }
        }
    }

    /// Waits up to `timeout` until every alert queued so far is sent or failed.
    pub fn flush(&self, timeout: Duration) -> Result<(), ExportError> {
        let s = &self.shared;
        let target = s.accepted.load(SeqCst);
        s.wait_until(deadline_after(timeout), || s.settled.load(SeqCst) >= target || s.finished.load(SeqCst));
        match target.saturating_sub(s.settled.load(SeqCst)) {
            0 => Ok(()),
            pending => Err(ExportError::FlushTimeout { pending }),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ExportStats {
        let s = &self.shared;
        let accepted = s.accepted.load(SeqCst);
        let settled = s.settled.load(SeqCst);
        ExportStats {
            sent: s.sent.load(SeqCst),
            failed: s.failed.load(SeqCst),
            dropped: s.dropped.load(SeqCst),
            queued: accepted.saturating_sub(settled),
            errors: s.errors.load(SeqCst),
            reconnects: s.reconnects.load(SeqCst),
            truncated: s.truncated.load(SeqCst),
        }
    }

    pub fn target(&self) -> &ExportTarget {
        &self.target
    }

    /// Flushes for up to `timeout`, stops the thread and returns the final counters; alerts
    /// still undelivered count as failed.
    pub fn shutdown(mut self, timeout: Duration) -> ExportStats {
        self.close(timeout);
        self.stats()
    }

    fn close(&mut self, timeout: Duration) {
        if self.tx.is_none() {
            return;
        }
        let _ = self.flush(timeout);
        self.shared.stop.store(true, SeqCst);
        self.tx = None;
        self.wake = None;
        let s = &self.shared;
        if s.wait_until(deadline_after(FINISH_GRACE), || s.finished.load(SeqCst)) {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        } else {
            // Stuck in a connect or write until its timeout: let it end on its own rather than
            // hold up the sensor's shutdown.
            self.thread = None;
        }
    }
}

impl Drop for AlertExporter {
    /// Tries briefly (`drop_flush_timeout`) to deliver what is queued, then stops.
    fn drop(&mut self) {
        self.close(self.drop_flush_timeout);
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).mode(FILE_MODE).open(path)
}

struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

/// What the thread's sinks share.
struct Ctx {
    wake: Receiver<()>,
    shared: Arc<Shared>,
    backoff: Backoff,
    /// A file or connection was opened before (the next one is a reconnect).
    opened_before: bool,
}

impl Ctx {
    /// Sleeps `d` unless the exporter closes; returns false if it did.
    fn sleep(&self, d: Duration) -> bool {
        match self.wake.recv_timeout(d) {
            Ok(()) | Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
        }
        !self.shared.stopping()
    }

    fn opened(&mut self) {
        if self.opened_before {
            self.shared.reconnects.fetch_add(1, SeqCst);
        }
        self.opened_before = true;
    }
}

struct FileSink {
    path: PathBuf,
    file: Option<File>,
    retry_after: Option<Duration>,
}

struct TcpSink {
    addr: SocketAddr,
    conn: Option<TcpStream>,
    connected_before: bool,
    retry_after: Option<Duration>,
    connect_timeout: Duration,
    write_timeout: Duration,
}

enum Sink {
    File(FileSink),
    Udp { sock: UdpSocket, addr: SocketAddr },
    Tcp(TcpSink),
}

struct Worker {
    rx: Receiver<Vec<u8>>,
    ctx: Ctx,
    sink: Sink,
}

impl Worker {
    fn run(mut self) {
        if matches!(self.sink, Sink::File(_)) {
            // The file was opened by `new`.
            self.ctx.opened_before = true;
        }
        let mut pending: Vec<Vec<u8>> = Vec::new();
        while let Ok(m) = self.rx.recv() {
            pending.push(m);
            if self.ctx.shared.stopping() {
                break;
            }
            match &mut self.sink {
                Sink::File(f) => {
                    while pending.len() < FILE_BATCH {
                        match self.rx.try_recv() {
                            Ok(m) => pending.push(m),
                            Err(_) => break,
                        }
                    }
                    f.deliver(&mut self.ctx, &mut pending);
                }
                Sink::Udp { sock, addr } => {
                    let (mut sent, mut failed) = (0, 0);
                    for m in pending.drain(..) {
                        match sock.send_to(&m, *addr) {
                            Ok(_) => sent += 1,
                            Err(_) => {
                                self.ctx.shared.error();
                                failed += 1;
                            }
                        }
                    }
                    self.ctx.shared.settle(sent, failed);
                }
                Sink::Tcp(t) => t.deliver(&mut self.ctx, &mut pending),
            }
            if !pending.is_empty() {
                // Only a close leaves alerts undelivered.
                break;
            }
        }
        let left = pending.len() as u64 + self.rx.try_iter().count() as u64;
        let s = &self.ctx.shared;
        s.settle(0, left);
        s.finished.store(true, SeqCst);
        s.notify();
    }
}

impl FileSink {
    /// Appends the batch in one write, reopening and retrying with backoff on failure; leaves
    /// `batch` non-empty only if the exporter closes meanwhile.
    fn deliver(&mut self, ctx: &mut Ctx, batch: &mut Vec<Vec<u8>>) {
        let buf = batch.concat();
        while !ctx.shared.stopping() {
            if let Some(d) = self.retry_after.take() {
                if !ctx.sleep(d) {
                    return;
                }
            }
            if self.ensure_open(ctx).is_err() {
                ctx.shared.error();
                self.retry_after = Some(ctx.backoff.next_delay());
                continue;
            }
            let Some(file) = self.file.as_mut() else { continue };
            let before = file.metadata().map(|m| m.len()).ok();
            match file.write_all(&buf) {
                Ok(()) => {
                    ctx.backoff.reset();
                    ctx.shared.settle(batch.len() as u64, 0);
                    batch.clear();
                    return;
                }
                Err(_) => {
                    ctx.shared.error();
                    // Take back a partial write so the retry does not leave half a line.
                    if let Some(len) = before {
                        let _ = file.set_len(len);
                    }
                    self.file = None;
                    self.retry_after = Some(ctx.backoff.next_delay());
                }
            }
        }
    }

    /// Opens the path if the file is not open, or was renamed or removed (log rotation).
    fn ensure_open(&mut self, ctx: &mut Ctx) -> io::Result<()> {
        if let (Some(f), Ok(on_disk)) = (&self.file, std::fs::metadata(&self.path)) {
            if let Ok(open) = f.metadata() {
                if open.dev() == on_disk.dev() && open.ino() == on_disk.ino() {
                    return Ok(());
                }
            }
        }
        self.file = None;
        self.file = Some(open_append(&self.path)?);
        ctx.opened();
        Ok(())
    }
}

impl TcpSink {
    /// Writes each message, connecting and reconnecting with backoff as needed; leaves
    /// messages in `batch` only if the exporter closes meanwhile.
    fn deliver(&mut self, ctx: &mut Ctx, batch: &mut Vec<Vec<u8>>) {
        let mut done = 0;
        while done < batch.len() && !ctx.shared.stopping() {
            // A collector that has closed the connection would swallow the next write without
            // an error (only the one after fails); look before each write. Three system calls
            // are cheap next to a syslog message, and alerts are few.
            if self.conn.as_mut().is_some_and(peer_closed) {
                self.conn = None;
            }
            if self.conn.is_none() {
                if let Some(d) = self.retry_after.take() {
                    if !ctx.sleep(d) {
                        break;
                    }
                }
                match self.connect() {
                    Ok(c) => {
                        self.conn = Some(c);
                        if self.connected_before {
                            ctx.shared.reconnects.fetch_add(1, SeqCst);
                        }
                        self.connected_before = true;
                    }
                    Err(_) => {
                        ctx.shared.error();
                        self.retry_after = Some(ctx.backoff.next_delay());
                        continue;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else { continue };
            match conn.write_all(&batch[done]) {
                Ok(()) => {
                    done += 1;
                    ctx.backoff.reset();
                    ctx.shared.settle(1, 0);
                }
                Err(_) => {
                    // The message is sent again, whole, on the next connection.
                    ctx.shared.error();
                    self.conn = None;
                    self.retry_after = Some(ctx.backoff.next_delay());
                }
            }
        }
        batch.drain(..done);
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let s = TcpStream::connect_timeout(&self.addr, self.connect_timeout)?;
        s.set_write_timeout(Some(self.write_timeout))?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

/// Whether the collector has closed (or reset) the connection. Collectors send nothing, so
/// anything readable is discarded; end of stream means closed.
fn peer_closed(s: &mut TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut buf = [0u8; 512];
    let mut closed = false;
    for _ in 0..16 {
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    closed || s.set_nonblocking(false).is_err()
}

#[cfg(test)]
// A test reports failure by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::export::format::tests::fixed_alert;
    use std::io::BufRead;
    use std::net::TcpListener;

    fn alert(i: u64, summary: &str) -> Alert {
        let mut a = fixed_alert();
        a.id = i;
        a.summary = summary.to_string();
        a
    }

    fn config(target: &str) -> ExporterConfig {
        let mut c = ExporterConfig::new(target.parse().unwrap());
        c.hostname = Some("sensor-1".into());
        c.backoff_min = Duration::from_millis(10);
        c.backoff_max = Duration::from_millis(50);
        c.connect_timeout = Duration::from_secs(1);
        c.drop_flush_timeout = Duration::from_millis(100);
        c
    }

    /// A loopback port with nothing listening.
    fn closed_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    /// Splits RFC 5424 into header fields, SD params (unescaped) and MSG (BOM removed).
    fn parse_5424(s: &str) -> (Vec<String>, Vec<(String, String)>, String) {
        let mut parts = s.splitn(7, ' ');
        let head: Vec<String> = parts.by_ref().take(6).map(String::from).collect();
        let rest = parts.next().unwrap();
        let mut chars = rest.chars().peekable();
        assert_eq!(chars.next(), Some('['));
        let sd_id: String = chars.by_ref().take_while(|&c| c != ' ').collect();
        assert_eq!(sd_id, "fabmon@32473");
        let mut params = Vec::new();
        loop {
            let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
            assert_eq!(chars.next(), Some('"'));
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().unwrap()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            params.push((name, value));
            match chars.next() {
                Some(' ') => continue,
                Some(']') => break,
                other => panic!("after a param: {other:?}"),
            }
        }
        let msg: String = chars.collect();
        let msg = msg.strip_prefix(' ').unwrap_or(&msg).trim_start_matches('\u{feff}').to_string();
        (head, params, msg)
    }

    fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
        params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("{name}"))
    }

    /// Splits CEF into its 7 header fields and the extension pairs, both unescaped.
    fn parse_cef(s: &str) -> (Vec<String>, Vec<(String, String)>) {
        let body = &s[s.find("CEF:").unwrap()..];
        let mut fields = vec![String::new()];
        let mut chars = body.chars();
        while fields.len() < 8 {
            match chars.next().unwrap() {
                '\\' => fields.last_mut().unwrap().push(chars.next().unwrap()),
                '|' => fields.push(String::new()),
                c => fields.last_mut().unwrap().push(c),
            }
        }
        let ext: String = chars.collect();
        fields.pop();
        // A key starts after a space and ends at the next unescaped '='.
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut cur = String::new();
        let mut it = ext.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '\\' => match it.next().unwrap() {
                    'n' => cur.push('\n'),
                    'r' => cur.push('\r'),
                    e => cur.push(e),
                },
                '=' => {
                    let (value, key) = match cur.rfind(' ') {
                        Some(i) => (cur[..i].to_string(), cur[i + 1..].to_string()),
                        None => (String::new(), cur.clone()),
                    };
                    if let Some(last) = pairs.last_mut() {
                        last.1 = value;
                    }
                    pairs.push((key, String::new()));
                    cur.clear();
                }
                c => cur.push(c),
            }
        }
        if let Some(last) = pairs.last_mut() {
            last.1 = cur;
        }
        (fields, pairs)
    }

    fn read_octet_frame(r: &mut impl BufRead) -> io::Result<String> {
        let mut len = Vec::new();
        r.read_until(b' ', &mut len)?;
        if len.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n: usize = std::str::from_utf8(&len[..len.len() - 1]).unwrap().parse().unwrap();
        let mut msg = vec![0; n];
        r.read_exact(&mut msg)?;
        Ok(String::from_utf8(msg).unwrap())
    }

    #[test]
    fn udp_one_datagram_per_alert_parses_back() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut ex =
            AlertExporter::new(config(&format!("syslog+udp://{}", rx.local_addr().unwrap()))).unwrap();
        let mut tricky = alert(9, "Rezept geändert \"x\" ] \\ → L1");
        tricky.key = "PP-SELECT \"A]\"\\".into();
        let alerts = [alert(1, "first"), alert(2, "second"), tricky];
        for a in &alerts {
            ex.send(a).unwrap();
        }
        let mut buf = [0u8; 65_536];
        for a in &alerts {
            let n = rx.recv(&mut buf).unwrap();
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            let (head, params, msg) = parse_5424(text);
            assert_eq!(head[0], "<162>1");
            assert_eq!(head[1], "2026-11-16T08:00:00.123456Z");
            assert_eq!(head[2], "sensor-1");
            assert_eq!(head[3], "fabmon");
            assert_eq!(head[5], "hsms.remote_command");
            assert_eq!(param(&params, "id"), a.id.to_string());
            assert_eq!(param(&params, "key"), a.key);
            assert_eq!(param(&params, "src"), "10.1.2.3");
            assert_eq!(param(&params, "frames"), "12,40,41");
            assert_eq!(msg, a.summary);
        }
        ex.flush(Duration::from_secs(5)).unwrap();
        let st = ex.stats();
        assert_eq!((st.sent, st.failed, st.dropped, st.queued), (3, 0, 0, 0));
    }

    #[test]
    fn cef_over_udp_parses_back_and_long_messages_are_cut_on_a_char_boundary() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut cfg = config(&format!("cef+udp://{}", rx.local_addr().unwrap()));
        cfg.max_message_bytes = 1024;
        let mut ex = AlertExporter::new(cfg).unwrap();
        let a = alert(4, "a|b=c\\d\nnext");
        ex.send(&a).unwrap();
        ex.send(&alert(5, &"Ätz=".repeat(1000))).unwrap();
        let mut buf = [0u8; 65_536];
        let n = rx.recv(&mut buf).unwrap();
        let (fields, ext) = parse_cef(std::str::from_utf8(&buf[..n]).unwrap());
        assert_eq!(
            fields[..5],
            ["CEF:0", "fabmon", "fabmon", crate::export::CEF_VERSION, "hsms.remote_command"]
        );
        assert_eq!(fields[5], "a|b=c\\d next");
        assert_eq!(fields[6], "10");
        let get = |k: &str| ext.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(get("msg"), a.summary);
        assert_eq!(get("cs2"), "E187 network security");
        assert_eq!(get("rt"), "1794816000123");
        let n = rx.recv(&mut buf).unwrap();
        assert!(n <= 1024 && n > 1000, "{n}");
        let text = std::str::from_utf8(&buf[..n]).expect("cut on a character boundary");
        assert!(text.contains(" msg=Ätz\\=Ätz"));
        ex.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(ex.stats().truncated, 1);
    }

    #[test]
    fn tcp_octet_counted_frames() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ex =
            AlertExporter::new(config(&format!("syslog+tcp://{}", l.local_addr().unwrap()))).unwrap();
        for i in 0..5 {
            ex.send(&alert(i, &format!("alert {i}\nsecond line"))).unwrap();
        }
        let (conn, _) = l.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = io::BufReader::new(conn);
        for i in 0..5 {
            let (_, params, msg) = parse_5424(&read_octet_frame(&mut r).unwrap());
            assert_eq!(param(&params, "id"), i.to_string());
            assert_eq!(msg, format!("alert {i}\nsecond line"));
        }
        ex.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(ex.stats().sent, 5);
    }

    #[test]
    fn cef_over_tcp_is_newline_framed_by_default() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ex = AlertExporter::new(config(&format!("cef+tcp://{}", l.local_addr().unwrap()))).unwrap();
        for i in 0..3 {
            ex.send(&alert(i, &format!("cef {i}\r\nmore"))).unwrap();
        }
        let (conn, _) = l.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let lines: Vec<String> = io::BufReader::new(conn).lines().take(3).map(|l| l.unwrap()).collect();
        for (i, line) in lines.iter().enumerate() {
            assert!(line.starts_with("<162>Nov 16 08:00:00 sensor-1 CEF:0|fabmon|"), "{line}");
            assert!(line.ends_with(&format!(" msg=cef {i}\\r\\nmore")), "{line}");
        }
    }

    #[test]
    fn collector_goes_away_and_comes_back() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut cfg = config(&format!("syslog+tcp://{addr}"));
        cfg.queue_capacity = 8;
        let mut ex = AlertExporter::new(cfg).unwrap();
        for i in 0..3 {
            ex.send(&alert(i, "before")).unwrap();
        }
        {
            let (conn, _) = l.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut r = io::BufReader::new(conn);
            for _ in 0..3 {
                read_octet_frame(&mut r).unwrap();
            }
            ex.flush(Duration::from_secs(5)).unwrap();
            // The collector closes the connection and stops listening.
            drop(r);
            drop(l);
        }
        let t0 = Instant::now();
        let mut slowest = Duration::ZERO;
        for i in 100..120 {
            let t = Instant::now();
            let _ = ex.send(&alert(i, "while down"));
            slowest = slowest.max(t.elapsed());
        }
        assert!(t0.elapsed() < Duration::from_secs(1) && slowest < Duration::from_millis(250), "{slowest:?}");
        // The thread keeps one alert in hand and the queue holds 8: the rest are dropped.
        let st = ex.stats();
        assert!((11..=12).contains(&st.dropped), "{st:?}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while ex.stats().errors < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(ex.stats().errors >= 3, "{:?}", ex.stats());
        assert!(ex.flush(Duration::from_millis(20)).is_err());

        // The collector comes back on the same port.
        let l = (0..100)
            .find_map(|_| {
                TcpListener::bind(addr).ok().or_else(|| {
                    std::thread::sleep(Duration::from_millis(20));
                    None
                })
            })
            .expect("rebind the collector port");
        let (conn, _) = l.accept().unwrap();
        // What waited is written (the socket buffer takes it) before the queue has room again.
        ex.flush(Duration::from_secs(5)).unwrap();
        for i in 200..203 {
            ex.send(&alert(i, "after")).unwrap();
        }
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = io::BufReader::new(conn);
        let expected = 23 - st.dropped;
        let mut ids = Vec::new();
        for _ in 0..expected {
            let (_, params, _) = parse_5424(&read_octet_frame(&mut r).unwrap());
            ids.push(param(&params, "id").parse::<u64>().unwrap());
        }
        assert_eq!(ids[ids.len() - 3..], [200, 201, 202]);
        assert_eq!(ids[0], 100, "the alert in hand is delivered first");
        ex.flush(Duration::from_secs(5)).unwrap();
        let st = ex.stats();
        assert!(st.reconnects >= 1, "{st:?}");
        assert_eq!(st.sent, 3 + expected);
        assert_eq!(st.sent + st.failed + st.dropped + st.queued, 26);
    }

    #[test]
    fn the_queue_is_bounded_and_send_never_waits() {
        let mut cfg = config(&format!("syslog+tcp://{}", closed_port()));
        cfg.backoff_min = Duration::from_millis(200);
        cfg.backoff_max = Duration::from_secs(1);
        let mut ex = AlertExporter::new(cfg).unwrap();
        let a = fixed_alert();
        let t0 = Instant::now();
        let mut slowest = Duration::ZERO;
        let mut refused = 0u64;
        for _ in 0..20_000 {
            let t = Instant::now();
            if let Err(ExportError::QueueFull { capacity, .. }) = ex.send(&a) {
                assert_eq!(capacity, DEFAULT_QUEUE_CAPACITY);
                refused += 1;
            }
            slowest = slowest.max(t.elapsed());
        }
        let took = t0.elapsed();
        assert!(
            took < Duration::from_secs(5) && slowest < Duration::from_millis(250),
            "{took:?} {slowest:?}"
        );
        let st = ex.stats();
        assert_eq!(st.dropped, refused);
        assert!((9_999..=10_000).contains(&st.dropped), "{st:?}");
        assert_eq!(st.sent, 0);
        let t0 = Instant::now();
        let st = ex.shutdown(Duration::from_millis(50));
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert_eq!(st.sent + st.failed + st.dropped + st.queued, 20_000, "{st:?}");
        assert_eq!(st.failed, 20_000 - st.dropped);
    }

    #[test]
    fn flush_times_out_and_drop_is_brief_when_nobody_listens() {
        let mut ex = AlertExporter::new(config(&format!("cef+tcp://{}", closed_port()))).unwrap();
        for i in 0..5 {
            ex.send(&alert(i, "x")).unwrap();
        }
        match ex.flush(Duration::from_millis(30)) {
            Err(ExportError::FlushTimeout { pending }) => assert_eq!(pending, 5),
            other => panic!("{other:?}"),
        }
        let t0 = Instant::now();
        drop(ex);
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn file_target_appends_json_lines_and_follows_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let target = format!("file:{}", path.display());
        let mut ex = AlertExporter::new(config(&target)).unwrap();
        for i in 0..3 {
            ex.send(&alert(i, &format!("line {i}\nwith a break"))).unwrap();
        }
        ex.flush(Duration::from_secs(5)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode & !FILE_MODE, 0, "mode {mode:o}");
        // Rotation: the file is moved away; the next batch goes to a new file at the path.
        std::fs::rename(&path, dir.path().join("alerts.jsonl.1")).unwrap();
        ex.send(&alert(3, "after rotation")).unwrap();
        let st = ex.shutdown(Duration::from_secs(5));
        assert_eq!((st.sent, st.reconnects), (4, 1));
        // A second exporter appends.
        let mut ex = AlertExporter::new(config(&target)).unwrap();
        ex.send(&alert(4, "appended")).unwrap();
        drop(ex);

        let old = std::fs::read_to_string(dir.path().join("alerts.jsonl.1")).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert_eq!(old.lines().count(), 3);
        assert_eq!(new.lines().count(), 2);
        for (i, line) in old.lines().chain(new.lines()).enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["id"], i as u64);
            for field in ["rule", "severity", "ts", "first_ts", "last_ts", "ts_ns", "count", "src", "dst"] {
                assert!(!v[field].is_null(), "{field} in {line}");
            }
            for field in ["proto", "key", "summary", "standard", "ot_item"] {
                assert!(v[field].is_string(), "{field} in {line}");
            }
            assert_eq!(v["evidence"]["frames"], serde_json::json!([12, 40, 41]));
            assert_eq!(v["purdue"]["src"], "L3");
        }
    }

    #[test]
    fn bad_settings_and_paths_are_refused_with_the_value() {
        let base = || config("syslog+udp://127.0.0.1:514");
        let cases: Vec<(ExporterConfig, &str)> = vec![
            (ExporterConfig { queue_capacity: 0, ..base() }, "queue_capacity = 0"),
            (ExporterConfig { max_message_bytes: 100, ..base() }, "max_message_bytes = 100"),
            (ExporterConfig { max_message_bytes: 70_000, ..base() }, "max_message_bytes = 70000"),
            (ExporterConfig { facility: 24, ..base() }, "facility = 24"),
            (ExporterConfig { sd_id: "fab mon".into(), ..base() }, "sd_id = \"fab mon\""),
            (ExporterConfig { backoff_min: Duration::ZERO, ..base() }, "backoff_min"),
            (
                ExporterConfig { backoff_max: Duration::from_millis(1), ..base() },
                "backoff_max = 1ms: must not be less",
            ),
        ];
        for (cfg, want) in cases {
            let e = AlertExporter::new(cfg).err().unwrap().to_string();
            assert!(e.contains(want), "{e}");
        }
        let e = AlertExporter::new(config("file:/nonexistent-dir/fabmon/alerts.jsonl")).err().unwrap();
        assert!(matches!(e, ExportError::Open { .. }));
        assert!(e.to_string().contains("/nonexistent-dir/fabmon/alerts.jsonl"), "{e}");
    }

    #[test]
    fn hostname_is_never_empty() {
        let h = local_hostname();
        assert!(!h.is_empty());
    }
}
