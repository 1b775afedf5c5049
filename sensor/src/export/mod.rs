//! Alert export for SIEMs: JSON lines to a file, and syslog (RFC 5424) or CEF over UDP or
//! TCP to a collector. See `docs/siem.md` for formats, limits and failure behaviour.

mod target;

pub use target::{ExportTarget, SyslogFormat, TargetError, Transport, DEFAULT_SYSLOG_PORT};
