//! Alert export for SIEMs: JSON lines to a file, and syslog (RFC 5424) or CEF over UDP or
//! TCP to a collector. See `docs/siem.md` for formats, limits and failure behaviour.
//!
//! [`AlertExporter::send`] formats an alert on the caller's thread and puts the bytes on a
//! bounded queue; one sender thread per exporter does all I/O. When the queue is full the
//! newest alert is dropped and counted, so a slow or absent collector never slows the sensor.
//!
//! ```no_run
//! use fabmon_sensor::export::{AlertExporter, ExporterConfig};
//! # fn demo(alerts: &[fabmon_sensor::alert::Alert]) -> Result<(), Box<dyn std::error::Error>> {
//! let target = "syslog+udp://127.0.0.1:514".parse()?;
//! let mut exporter = AlertExporter::new(ExporterConfig::new(target))?;
//! for a in alerts {
//!     // A full queue is counted in `stats().dropped`; the sensor carries on.
//!     let _ = exporter.send(a);
//! }
//! let stats = exporter.shutdown(std::time::Duration::from_secs(2));
//! eprintln!("sent {} failed {} dropped {}", stats.sent, stats.failed, stats.dropped);
//! # Ok(()) }
//! ```

mod format;
mod sender;
mod target;

pub use format::{
    cef_severity, escape_cef_header, escape_cef_value, escape_sd_value, format_cef, format_jsonl,
    format_rfc5424, frame, is_sd_name, pri, syslog_severity, Formatted, Framing, SyslogHeader, TcpFraming,
    APP_NAME, CEF_PRODUCT, CEF_VENDOR, CEF_VERSION, DEFAULT_FACILITY, DEFAULT_SD_ID,
};
pub use sender::{
    local_hostname, AlertExporter, ExportStats, ExporterConfig, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_QUEUE_CAPACITY, MAX_MESSAGE_BYTES_RANGE,
};
pub use target::{ExportTarget, SyslogFormat, TargetError, Transport, DEFAULT_SYSLOG_PORT};

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors of the export module. Only construction errors are fatal; the errors `send` and
/// `flush` return are counted as well and the exporter keeps running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("export setting {field} = {value}: {reason}")]
    Setting { field: &'static str, value: String, reason: &'static str },
    #[error("opening alert file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("opening a UDP socket towards {addr}: {source}")]
    Socket {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the export thread: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("encoding alert {id} as JSON: {source}")]
    Encode {
        id: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("export queue full ({capacity} alerts): alert {id} dropped")]
    QueueFull { capacity: usize, id: u64 },
    #[error("the export thread has stopped: alert {id} dropped")]
    Closed { id: u64 },
    #[error("flush timed out with {pending} alerts still queued")]
    FlushTimeout { pending: u64 },
}
