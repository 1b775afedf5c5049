//! Alert export for SIEMs: JSON lines to a file, and syslog (RFC 5424) or CEF over UDP or
//! TCP to a collector. See `docs/siem.md` for formats, limits and failure behaviour.

mod format;
mod target;

pub use format::{
    cef_severity, escape_cef_header, escape_cef_value, escape_sd_value, format_cef, format_jsonl,
    format_rfc5424, frame, is_sd_name, pri, syslog_severity, Formatted, Framing, SyslogHeader, TcpFraming,
    APP_NAME, CEF_PRODUCT, CEF_VENDOR, CEF_VERSION, DEFAULT_FACILITY, DEFAULT_SD_ID,
};
pub use target::{ExportTarget, SyslogFormat, TargetError, Transport, DEFAULT_SYSLOG_PORT};
