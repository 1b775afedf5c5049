//! Where alerts go: parsed from strings like `file:/var/log/fabmon/alerts.jsonl`,
//! `syslog+udp://127.0.0.1:514` or `cef+tcp://[fd00::10]:514`.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

/// Port used when a network target names none: the syslog port, for UDP and TCP alike.
pub const DEFAULT_SYSLOG_PORT: u16 = 514;

/// Transport to a syslog collector. TLS (RFC 5425) is not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// One message per datagram (RFC 5426).
    Udp,
    /// A stream of framed messages (RFC 6587).
    Tcp,
}

/// What each message to a collector looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyslogFormat {
    /// RFC 5424 with fabmon structured data.
    Rfc5424,
    /// ArcSight Common Event Format after an RFC 3164 style header.
    Cef,
}

/// An alert export target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExportTarget {
    /// JSON lines appended to a file.
    JsonlFile(PathBuf),
    /// Messages to a syslog or CEF collector.
    Syslog { addr: SocketAddr, transport: Transport, format: SyslogFormat },
}

/// Why a target string was refused. Each variant carries the whole string as given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    #[error(
        "export target \"{target}\": no scheme (expected file:PATH, syslog+udp://HOST:PORT, \
         syslog+tcp://HOST:PORT, cef+udp://HOST:PORT or cef+tcp://HOST:PORT)"
    )]
    MissingScheme { target: String },
    #[error(
        "export target \"{target}\": unknown scheme \"{scheme}\" (expected file, syslog+udp, \
         syslog+tcp, cef+udp or cef+tcp)"
    )]
    UnknownScheme { target: String, scheme: String },
    #[error(
        "export target \"{target}\": TLS is not supported; send to a local relay (rsyslog, \
         syslog-ng, stunnel) over syslog+tcp and let it forward over TLS"
    )]
    TlsUnsupported { target: String },
    #[error("export target \"{target}\": the file path is empty")]
    EmptyPath { target: String },
    #[error("export target \"{target}\": only local files are supported (file:/path or file:///path)")]
    RemoteFile { target: String },
    #[error("export target \"{target}\": the host is missing")]
    MissingHost { target: String },
    #[error("export target \"{target}\": bad port \"{port}\" (expected 1-65535)")]
    BadPort { target: String, port: String },
    #[error("export target \"{target}\": an IPv6 address needs brackets, as in [::1]:514")]
    Ipv6NeedsBrackets { target: String },
    #[error("export target \"{target}\": \"{host}\" is not an IPv6 address")]
    BadIpv6 { target: String, host: String },
    #[error("export target \"{target}\": unexpected \"{rest}\" after host and port")]
    TrailingPart { target: String, rest: String },
    #[error("export target \"{target}\": cannot resolve \"{host}\": {source}")]
    Resolve {
        target: String,
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("export target \"{target}\": \"{host}\" resolves to no address")]
    NoAddress { target: String, host: String },
}

impl FromStr for ExportTarget {
    type Err = TargetError;

    /// Parses a target. Host names are resolved here, once (first address); give an IP
    /// address to avoid a DNS lookup at start-up.
    fn from_str(s: &str) -> Result<ExportTarget, TargetError> {
        let target = || s.to_string();
        let t = s.trim();
        if let Some(path) = strip_prefix_ci(t, "file:") {
            return parse_file(s, path);
        }
        let Some((scheme, rest)) = t.split_once("://") else {
            return Err(TargetError::MissingScheme { target: target() });
        };
        let scheme_lc = scheme.to_ascii_lowercase();
        let (format, transport) = match scheme_lc.as_str() {
            "syslog+udp" => (SyslogFormat::Rfc5424, Transport::Udp),
            "syslog+tcp" => (SyslogFormat::Rfc5424, Transport::Tcp),
            "cef+udp" => (SyslogFormat::Cef, Transport::Udp),
            "cef+tcp" => (SyslogFormat::Cef, Transport::Tcp),
            "syslog+tls" | "cef+tls" | "tls" | "syslog+tcp+tls" | "cef+tcp+tls" => {
                return Err(TargetError::TlsUnsupported { target: target() })
            }
            _ => return Err(TargetError::UnknownScheme { target: target(), scheme: scheme.to_string() }),
        };
        let addr = parse_authority(s, rest)?;
        Ok(ExportTarget::Syslog { addr, transport, format })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn parse_file(target: &str, path: &str) -> Result<ExportTarget, TargetError> {
    // `file:///var/x` is the URL spelling of `/var/x`; `file://host/x` would name another machine.
    let path = match path.strip_prefix("//") {
        Some(p) if p.starts_with('/') => p,
        Some(_) => return Err(TargetError::RemoteFile { target: target.to_string() }),
        None => path,
    };
    if path.is_empty() {
        return Err(TargetError::EmptyPath { target: target.to_string() });
    }
    Ok(ExportTarget::JsonlFile(PathBuf::from(path)))
}

/// `HOST[:PORT]` where HOST is an IPv4 address, `[IPv6]` or a name.
fn parse_authority(target: &str, auth: &str) -> Result<SocketAddr, TargetError> {
    let err_target = || target.to_string();
    if let Some(i) = auth.find(['/', '?', '#', '@']) {
        return Err(TargetError::TrailingPart { target: err_target(), rest: auth[i..].to_string() });
    }
    let (host, port) = if let Some(inner) = auth.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            return Err(TargetError::BadIpv6 { target: err_target(), host: auth.to_string() });
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(TargetError::TrailingPart { target: err_target(), rest: p.to_string() }),
            },
        };
        match h.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => return Ok(SocketAddr::new(IpAddr::V6(ip), parse_port(target, port)?)),
            Err(_) => return Err(TargetError::BadIpv6 { target: err_target(), host: h.to_string() }),
        }
    } else if auth.matches(':').count() > 1 {
        return Err(TargetError::Ipv6NeedsBrackets { target: err_target() });
    } else {
        match auth.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (auth, None),
        }
    };
    if host.is_empty() {
        return Err(TargetError::MissingHost { target: err_target() });
    }
    let port = parse_port(target, port)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs = (host, port).to_socket_addrs().map_err(|source| TargetError::Resolve {
        target: err_target(),
        host: host.to_string(),
        source,
    })?;
    addrs.next().ok_or_else(|| TargetError::NoAddress { target: err_target(), host: host.to_string() })
}

fn parse_port(target: &str, port: Option<&str>) -> Result<u16, TargetError> {
    match port {
        None => Ok(DEFAULT_SYSLOG_PORT),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(TargetError::BadPort { target: target.to_string(), port: p.to_string() }),
        },
    }
}

impl fmt::Display for ExportTarget {
    /// The canonical spelling, which parses back to the same target.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportTarget::JsonlFile(p) => write!(f, "file:{}", p.display()),
            ExportTarget::Syslog { addr, transport, format } => {
                let fmt_name = match format {
                    SyslogFormat::Rfc5424 => "syslog",
                    SyslogFormat::Cef => "cef",
                };
                let tr = match transport {
                    Transport::Udp => "udp",
                    Transport::Tcp => "tcp",
                };
                write!(f, "{fmt_name}+{tr}://{addr}")
            }
        }
    }
}

#[cfg(test)]
// A test reports failure by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn net(s: &str) -> (SocketAddr, Transport, SyslogFormat) {
        match s.parse::<ExportTarget>() {
            Ok(ExportTarget::Syslog { addr, transport, format }) => (addr, transport, format),
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            "file:/var/log/fabmon/alerts.jsonl".parse::<ExportTarget>().unwrap(),
            ExportTarget::JsonlFile("/var/log/fabmon/alerts.jsonl".into())
        );
        assert_eq!(
            "file:///var/log/a.jsonl".parse::<ExportTarget>().unwrap(),
            ExportTarget::JsonlFile("/var/log/a.jsonl".into())
        );
        assert_eq!(
            "FILE:alerts.jsonl".parse::<ExportTarget>().unwrap(),
            ExportTarget::JsonlFile("alerts.jsonl".into())
        );
        let v4: SocketAddr = "127.0.0.1:514".parse().unwrap();
        assert_eq!(net("syslog+udp://127.0.0.1:514"), (v4, Transport::Udp, SyslogFormat::Rfc5424));
        assert_eq!(net("syslog+tcp://127.0.0.1"), (v4, Transport::Tcp, SyslogFormat::Rfc5424));
        assert_eq!(net("CEF+UDP://127.0.0.1:514"), (v4, Transport::Udp, SyslogFormat::Cef));
        let v6: SocketAddr = "[::1]:6514".parse().unwrap();
        assert_eq!(net("cef+tcp://[::1]:6514"), (v6, Transport::Tcp, SyslogFormat::Cef));
        assert_eq!(net("cef+tcp://[::1]").0.port(), 514);
    }

    #[test]
    fn display_parses_back() {
        for s in ["file:/tmp/a.jsonl", "syslog+udp://127.0.0.1:514", "cef+tcp://[::1]:1514"] {
            let t: ExportTarget = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
            assert_eq!(t.to_string().parse::<ExportTarget>().unwrap(), t);
        }
    }

    #[test]
    fn errors_quote_the_bad_string() {
        let cases: &[(&str, &str)] = &[
            ("/var/log/x.jsonl", "no scheme"),
            ("http://127.0.0.1:514", "unknown scheme \"http\""),
            ("syslog+tls://127.0.0.1:6514", "TLS is not supported"),
            ("file:", "file path is empty"),
            ("file://collector/x", "only local files"),
            ("syslog+udp://:514", "host is missing"),
            ("syslog+udp://127.0.0.1:0", "bad port \"0\""),
            ("syslog+udp://127.0.0.1:65536", "bad port \"65536\""),
            ("syslog+udp://127.0.0.1:+5", "bad port \"+5\""),
            ("syslog+udp://::1:514", "needs brackets"),
            ("syslog+udp://[::g]:514", "\"::g\" is not an IPv6 address"),
            ("syslog+udp://127.0.0.1:514/path", "unexpected \"/path\""),
            ("syslog+udp://[::1]x", "unexpected \"x\""),
        ];
        for (s, want) in cases {
            let e = s.parse::<ExportTarget>().unwrap_err().to_string();
            assert!(e.contains(&format!("\"{s}\"")), "{s}: {e}");
            assert!(e.contains(want), "{s}: {e}");
        }
    }
}
