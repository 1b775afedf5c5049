//! Alert → bytes: RFC 5424 syslog with fabmon structured data, CEF after an RFC 3164 style
//! header, and JSON lines. Pure functions; framing for a transport is in [`frame`].

use std::fmt::Write as _;

use crate::alert::{Alert, Severity};

/// APP-NAME of every message.
pub const APP_NAME: &str = "fabmon";
/// Default syslog facility: local4.
pub const DEFAULT_FACILITY: u8 = 20;
/// Default SD-ID of the fabmon structured data element. 32473 is the private enterprise
/// number that RFC 5612 reserves for documentation; set a registered one with
/// `ExporterConfig::sd_id` if the SIEM checks it.
pub const DEFAULT_SD_ID: &str = "fabmon@32473";
/// CEF Device Vendor and Device Product.
pub const CEF_VENDOR: &str = "fabmon";
pub const CEF_PRODUCT: &str = "fabmon";
/// CEF Device Version: the sensor's version.
pub const CEF_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Longest PARAM-VALUE (in characters) put in structured data; longer values are cut.
const MAX_SD_VALUE_CHARS: usize = 128;
/// Longest CEF Name (in characters); ArcSight stores 512.
const MAX_CEF_NAME_CHARS: usize = 256;
/// Longest CEF extension value other than `msg` (in characters); ArcSight strings hold 1023.
const MAX_CEF_VALUE_CHARS: usize = 1023;
/// RFC 5424 §6: field length limits.
const MAX_HOSTNAME: usize = 255;
const MAX_APP_NAME: usize = 48;
const MAX_PROCID: usize = 128;
const MAX_MSGID: usize = 32;
const MAX_SD_NAME: usize = 32;
const UTF8_BOM: &str = "\u{feff}";

/// syslog severity (RFC 5424 §6.2.1) of an alert severity.
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// CEF severity (0-10; ArcSight reads 0-3 low, 4-6 medium, 7-8 high, 9-10 very high).
pub fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Info => 1,
    }
}

/// PRI = facility × 8 + severity (RFC 5424 §6.2.1). `facility` must be 0-23.
pub fn pri(facility: u8, s: Severity) -> u8 {
    facility.min(23) * 8 + syslog_severity(s)
}

/// The fixed parts of every syslog message a sensor sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogHeader {
    /// 0-23 (local4 = 20).
    pub facility: u8,
    /// HOSTNAME: printable US-ASCII, at most 255 characters, or "-".
    pub hostname: String,
    /// APP-NAME.
    pub app_name: String,
    /// PROCID: the sensor's process id.
    pub procid: String,
    /// SD-ID of the structured data element.
    pub sd_id: String,
}

impl SyslogHeader {
    /// A header for this process. Any field is made valid: characters outside printable
    /// US-ASCII become `_`, and over-long fields are cut.
    pub fn new(facility: u8, hostname: &str, sd_id: &str) -> SyslogHeader {
        SyslogHeader {
            facility: facility.min(23),
            hostname: header_field(hostname, MAX_HOSTNAME),
            app_name: APP_NAME.to_string(),
            procid: std::process::id().to_string(),
            sd_id: sd_name(sd_id),
        }
    }
}

/// Whether `s` is a valid SD-ID / PARAM-NAME (RFC 5424 §6.3.2: 1-32 printable US-ASCII
/// characters except `=`, space, `]` and `"`).
pub fn is_sd_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SD_NAME
        && s.bytes().all(|b| (33..=126).contains(&b) && !b"=]\"".contains(&b))
}

fn sd_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') { c } else { '_' })
        .take(MAX_SD_NAME)
        .collect();
    if out.is_empty() {
        out.push_str(DEFAULT_SD_ID);
    }
    out
}

/// A header field (HOSTNAME, APP-NAME, PROCID, MSGID): printable US-ASCII, at most `max`
/// characters, "-" (the NILVALUE) when empty.
fn header_field(s: &str, max: usize) -> String {
    let out: String = s.chars().map(|c| if c.is_ascii_graphic() { c } else { '_' }).take(max).collect();
    if out.is_empty() {
        "-".to_string()
    } else {
        out
    }
}

/// One formatted message (before transport framing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Formatted {
    pub text: String,
    /// The message was shortened to fit the size limit.
    pub truncated: bool,
}

/// Escapes a PARAM-VALUE (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash.
pub fn escape_sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_sd_char(&mut out, c);
    }
    out
}

fn push_sd_char(out: &mut String, c: char) {
    if matches!(c, '"' | '\\' | ']') {
        out.push('\\');
    }
    out.push(c);
}

/// Escapes a CEF header field: `\` and `|` get a backslash; line breaks, which the header
/// may not hold, become spaces.
pub fn escape_cef_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_cef_header_char(&mut out, c);
    }
    out
}

fn push_cef_header_char(out: &mut String, c: char) {
    match c {
        '\\' | '|' => {
            out.push('\\');
            out.push(c);
        }
        '\r' | '\n' => out.push(' '),
        c => out.push(c),
    }
}

/// Escapes a CEF extension value: `\` and `=` get a backslash, CR and LF become `\r`, `\n`.
pub fn escape_cef_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_cef_value_char(&mut out, c);
    }
    out
}

fn push_cef_value_char(out: &mut String, c: char) {
    match c {
        '\\' | '=' => {
            out.push('\\');
            out.push(c);
        }
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c => out.push(c),
    }
}

/// Appends `s`, escaped by `push`, without letting `out` grow beyond `max` bytes; stops
/// before a character (and its escape) that would not fit, so UTF-8 and escapes stay whole.
/// Returns whether everything fit.
fn push_limited(out: &mut String, s: &str, max: usize, push: fn(&mut String, char)) -> bool {
    let mut piece = String::with_capacity(8);
    for c in s.chars() {
        piece.clear();
        push(&mut piece, c);
        if out.len() + piece.len() > max {
            return false;
        }
        out.push_str(&piece);
    }
    true
}

/// The first `max_chars` characters of `s`, with "..." when cut.
fn cut_chars(s: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max_chars) {
        None => s.into(),
        Some((i, _)) => format!("{}...", &s[..i]).into(),
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut i = max;
        while i > 0 && !s.is_char_boundary(i) {
            i -= 1;
        }
        s.truncate(i);
    }
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}

fn ms(ts_ns: i64) -> i64 {
    ts_ns.div_euclid(1_000_000)
}

/// Puts `prefix` + `sep` + `tail` (escaped by `push`) together within `max` bytes: the tail
/// is shortened first; when even `prefix` is too long, `short_prefix` replaces it; the last
/// resort is a cut at a character boundary.
fn assemble(
    prefix: String,
    short_prefix: impl FnOnce() -> String,
    sep: &str,
    tail: &str,
    push: fn(&mut String, char),
    max: usize,
) -> Formatted {
    let mut out = prefix;
    let mut truncated = false;
    if out.len() > max {
        out = short_prefix();
        truncated = true;
        if out.len() > max {
            truncate_at_char(&mut out, max);
            return Formatted { text: out, truncated };
        }
    }
    if !tail.is_empty() && out.len() + sep.len() < max {
        out.push_str(sep);
        truncated |= !push_limited(&mut out, tail, max, push);
    } else if !tail.is_empty() {
        truncated = true;
    }
    Formatted { text: out, truncated }
}

/// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME fabmon PROCID RULE [fabmon@32473 ...] SUMMARY`.
///
/// TIMESTAMP is the alert's latest occurrence (UTC, microseconds). MSG is the summary; it
/// starts with a UTF-8 BOM only when it holds non-ASCII text (§6.4: an all-ASCII MSG is valid
/// without one, and many collectors show the BOM as junk). The message is at most `max` bytes.
pub fn format_rfc5424(alert: &Alert, h: &SyslogHeader, max: usize) -> Formatted {
    let mut head = String::with_capacity(256);
    let _ = write!(
        head,
        "<{}>1 {} {} {} {} {} ",
        pri(h.facility, alert.severity),
        crate::time::format_rfc3339_us(alert.ts_ns),
        h.hostname,
        header_field(&h.app_name, MAX_APP_NAME),
        header_field(&h.procid, MAX_PROCID),
        header_field(alert.rule, MAX_MSGID),
    );
    let full = format!("{head}{}", structured_data(alert, &h.sd_id, true));
    let short = || format!("{head}{}", structured_data(alert, &h.sd_id, false));
    let sep = if alert.summary.is_ascii() { " ".to_string() } else { format!(" {UTF8_BOM}") };
    assemble(full, short, &sep, &alert.summary, String::push, max)
}

/// The `[fabmon@32473 ...]` element; `full == false` keeps only rule, severity and count.
fn structured_data(alert: &Alert, sd_id: &str, full: bool) -> String {
    let mut sd = String::with_capacity(320);
    sd.push('[');
    sd.push_str(sd_id);
    let mut param = |name: &str, value: &str| {
        let _ = write!(sd, " {name}=\"");
        // The frame list is bounded by MAX_EVIDENCE_FRAMES and worthless when cut.
        let limit = if name == "frames" { usize::MAX } else { MAX_SD_VALUE_CHARS };
        for c in cut_chars(value, limit).chars() {
            push_sd_char(&mut sd, c);
        }
        sd.push('"');
    };
    param("rule", alert.rule);
    param("severity", alert.severity.name());
    param("count", &alert.count.to_string());
    if full {
        param("id", &alert.id.to_string());
        if let Some(ip) = alert.src {
            param("src", &ip.to_string());
        }
        if let Some(ip) = alert.dst {
            param("dst", &ip.to_string());
        }
        if let Some(p) = alert.proto {
            param("proto", p);
        }
        if !alert.key.is_empty() {
            param("key", &alert.key);
        }
        if !alert.ot_item.is_empty() {
            param("ot_item", alert.ot_item);
        }
        if !alert.standard.is_empty() {
            param("standard", alert.standard);
        }
        let p = &alert.purdue;
        for (name, v) in [
            ("purdue_src", &p.src),
            ("purdue_dst", &p.dst),
            ("src_area", &p.src_area),
            ("dst_area", &p.dst_area),
        ] {
            if let Some(v) = v {
                param(name, v);
            }
        }
        param("first_ts", &crate::time::format_rfc3339_us(alert.first_ts_ns));
        if !alert.evidence.frames.is_empty() {
            param("frames", &frame_list(&alert.evidence.frames));
        }
    }
    sd.push(']');
    sd
}

fn frame_list(frames: &[u64]) -> String {
    let mut s = String::with_capacity(frames.len() * 6);
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{f}");
    }
    s
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// RFC 3164 TIMESTAMP `Mmm dd hh:mm:ss` (day padded with a space), in UTC.
fn bsd_timestamp(ts_ns: i64) -> String {
    let (_, m, d) = crate::time::date_of(ts_ns);
    let sod = ts_ns.div_euclid(1_000_000_000).rem_euclid(86_400);
    let month = MONTHS.get((m as usize).wrapping_sub(1)).copied().unwrap_or("Jan");
    format!("{month} {d:>2} {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
}

/// CEF after an RFC 3164 style header, the form ArcSight connectors and most SIEM CEF
/// inputs expect:
/// `<PRI>Mmm dd hh:mm:ss HOST CEF:0|fabmon|fabmon|VERSION|RULE|NAME|SEVERITY|EXTENSION`.
///
/// The header time is UTC with no year; `rt`, `start` and `end` carry full times (epoch ms).
/// NAME is the summary cut to 256 characters; `msg` carries it whole and comes last, so
/// that it is what a size limit shortens.
pub fn format_cef(alert: &Alert, h: &SyslogHeader, max: usize) -> Formatted {
    let mut head = String::with_capacity(512);
    let _ = write!(
        head,
        "<{}>{} {} CEF:0|{}|{}|{}|{}|{}|{}|",
        pri(h.facility, alert.severity),
        bsd_timestamp(alert.ts_ns),
        h.hostname,
        escape_cef_header(CEF_VENDOR),
        escape_cef_header(CEF_PRODUCT),
        escape_cef_header(CEF_VERSION),
        escape_cef_header(alert.rule),
        escape_cef_header(&cut_chars(&alert.summary, MAX_CEF_NAME_CHARS)),
        cef_severity(alert.severity),
    );
    let full = format!("{head}{}", cef_extension(alert, true));
    let short = || format!("{head}{}", cef_extension(alert, false));
    assemble(full, short, " msg=", &alert.summary, push_cef_value_char, max)
}

/// The extension without `msg`; `full == false` keeps only times, count and addresses.
fn cef_extension(alert: &Alert, full: bool) -> String {
    let mut ext = String::with_capacity(512);
    let mut kv = |k: &str, v: &str| {
        if !ext.is_empty() {
            ext.push(' ');
        }
        ext.push_str(k);
        ext.push('=');
        for c in cut_chars(v, MAX_CEF_VALUE_CHARS).chars() {
            push_cef_value_char(&mut ext, c);
        }
    };
    kv("rt", &ms(alert.ts_ns).to_string());
    kv("start", &ms(alert.first_ts_ns).to_string());
    kv("end", &ms(alert.ts_ns).to_string());
    kv("cnt", &alert.count.to_string());
    // `src`/`dst` hold IPv4 addresses; IPv6 goes to the custom IPv6 fields.
    match alert.src {
        Some(ip @ std::net::IpAddr::V4(_)) => kv("src", &ip.to_string()),
        Some(ip) => {
            kv("c6a2", &ip.to_string());
            kv("c6a2Label", "Source IPv6 Address");
        }
        None => {}
    }
    match alert.dst {
        Some(ip @ std::net::IpAddr::V4(_)) => kv("dst", &ip.to_string()),
        Some(ip) => {
            kv("c6a3", &ip.to_string());
            kv("c6a3Label", "Destination IPv6 Address");
        }
        None => {}
    }
    if !full {
        return ext;
    }
    if let Some(p) = alert.proto {
        kv("app", p);
    }
    kv("externalId", &alert.id.to_string());
    let p = &alert.purdue;
    let frames = frame_list(&alert.evidence.frames);
    let custom = [
        ("cs1", "otItem", non_empty(alert.ot_item)),
        ("cs2", "standard", non_empty(alert.standard)),
        ("cs3", "purdueSrc", p.src.as_deref()),
        ("cs4", "purdueDst", p.dst.as_deref()),
        ("cs5", "key", non_empty(&alert.key)),
        ("cs6", "frames", non_empty(&frames)),
        ("flexString1", "srcArea", p.src_area.as_deref()),
        ("flexString2", "dstArea", p.dst_area.as_deref()),
    ];
    for (key, label, value) in custom {
        if let Some(v) = value {
            kv(&format!("{key}Label"), label);
            kv(key, v);
        }
    }
    ext
}

/// One JSON object per line: the `fabmon alerts --format jsonl` contract.
pub fn format_jsonl(alert: &Alert) -> Result<Vec<u8>, serde_json::Error> {
    let mut v = serde_json::to_vec(alert)?;
    v.push(b'\n');
    Ok(v)
}

/// How messages are delimited on a stream (RFC 6587).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpFraming {
    /// `LEN SP MSG` (RFC 6587 §3.4.1): any byte may appear in MSG.
    OctetCounting,
    /// MSG LF (RFC 6587 §3.4.2): line breaks inside MSG become spaces.
    Newline,
}

/// How one message is put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// As is: one datagram per message.
    Datagram,
    Stream(TcpFraming),
}

/// Frames one message for its transport.
pub fn frame(msg: &str, framing: Framing) -> Vec<u8> {
    match framing {
        Framing::Datagram => msg.as_bytes().to_vec(),
        Framing::Stream(TcpFraming::OctetCounting) => {
            let mut v = Vec::with_capacity(msg.len() + 8);
            v.extend_from_slice(msg.len().to_string().as_bytes());
            v.push(b' ');
            v.extend_from_slice(msg.as_bytes());
            v
        }
        Framing::Stream(TcpFraming::Newline) => {
            let mut v: Vec<u8> =
                msg.bytes().map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }).collect();
            v.push(b'\n');
            v
        }
    }
}

#[cfg(test)]
// A test reports failure by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod tests {
    use super::*;
    use crate::alert::{Evidence, PurdueEnds};
    use std::net::IpAddr;

    /// 2026-11-16T08:00:00.123456Z
    const TS: i64 = 1_794_816_000_123_456_000;

    pub(crate) fn fixed_alert() -> Alert {
        Alert {
            id: 7,
            rule: "hsms.remote_command",
            severity: Severity::Critical,
            ts: "2026-11-16T08:00:00.123456Z".into(),
            first_ts: "2026-11-16T07:59:58.000000Z".into(),
            last_ts: "2026-11-16T08:00:00.123456Z".into(),
            ts_ns: TS,
            first_ts_ns: TS - 2_123_456_000,
            count: 3,
            src: Some(IpAddr::from([10, 1, 2, 3])),
            dst: Some(IpAddr::from([10, 1, 5, 20])),
            proto: Some("hsms"),
            key: "START".into(),
            summary: "Remote command START from 10.1.2.3 to etch-07".into(),
            evidence: Evidence {
                frames: vec![12, 40, 41],
                messages: vec![serde_json::json!({"sf": "S2F41", "rcmd": "START"})],
                frames_not_listed: 0,
            },
            purdue: PurdueEnds {
                src: Some("L3".into()),
                dst: Some("L2".into()),
                src_area: None,
                dst_area: None,
            },
            standard: "E187 network security",
            ot_item: "RS-1",
        }
    }

    pub(crate) fn header() -> SyslogHeader {
        SyslogHeader {
            facility: DEFAULT_FACILITY,
            hostname: "sensor-1".into(),
            app_name: APP_NAME.into(),
            procid: "4242".into(),
            sd_id: DEFAULT_SD_ID.into(),
        }
    }

    #[test]
    fn rfc5424_exact() {
        let f = format_rfc5424(&fixed_alert(), &header(), 8192);
        assert_eq!(
            f.text,
            "<162>1 2026-11-16T08:00:00.123456Z sensor-1 fabmon 4242 hsms.remote_command \
             [fabmon@32473 rule=\"hsms.remote_command\" severity=\"critical\" count=\"3\" id=\"7\" \
             src=\"10.1.2.3\" dst=\"10.1.5.20\" proto=\"hsms\" key=\"START\" ot_item=\"RS-1\" \
             standard=\"E187 network security\" purdue_src=\"L3\" purdue_dst=\"L2\" \
             first_ts=\"2026-11-16T07:59:58.000000Z\" frames=\"12,40,41\"] \
             Remote command START from 10.1.2.3 to etch-07"
        );
        assert!(!f.truncated);
    }

    #[test]
    fn cef_exact() {
        let f = format_cef(&fixed_alert(), &header(), 8192);
        assert_eq!(
            f.text,
            format!(
                "<162>Nov 16 08:00:00 sensor-1 CEF:0|fabmon|fabmon|{CEF_VERSION}|hsms.remote_command|\
                 Remote command START from 10.1.2.3 to etch-07|10|\
                 rt=1794816000123 start=1794815998000 end=1794816000123 cnt=3 src=10.1.2.3 \
                 dst=10.1.5.20 app=hsms externalId=7 cs1Label=otItem cs1=RS-1 \
                 cs2Label=standard cs2=E187 network security cs3Label=purdueSrc cs3=L3 \
                 cs4Label=purdueDst cs4=L2 cs5Label=key cs5=START cs6Label=frames cs6=12,40,41 \
                 msg=Remote command START from 10.1.2.3 to etch-07"
            )
        );
    }

    #[test]
    fn severity_mappings_and_pri() {
        let all = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];
        assert_eq!(all.map(syslog_severity), [2, 3, 4, 5, 6]);
        assert_eq!(all.map(cef_severity), [10, 8, 5, 3, 1]);
        assert_eq!(all.map(|s| pri(20, s)), [162, 163, 164, 165, 166]);
        assert_eq!(pri(0, Severity::Critical), 2);
        assert_eq!(pri(23, Severity::Info), 190);
        // A facility out of range is clamped, never a PRI over 191.
        assert_eq!(pri(99, Severity::Info), 190);
    }

    #[test]
    fn sd_values_escape_quote_backslash_bracket() {
        assert_eq!(escape_sd_value(r#"a"b\c]d[e"#), r#"a\"b\\c\]d[e"#);
        let mut a = fixed_alert();
        a.key = "RCMD \"PP-SELECT\" [lot]\\x".into();
        a.summary = "multi\nline".into();
        let f = format_rfc5424(&a, &header(), 8192).text;
        assert!(f.contains(r#" key="RCMD \"PP-SELECT\" [lot\]\\x" "#), "{f}");
        // MSG is free text: kept as is (octet counting carries it; newline framing flattens it).
        assert!(f.ends_with("] multi\nline"));
    }

    #[test]
    fn cef_header_and_extension_escaping() {
        assert_eq!(escape_cef_header(r"a|b\c=d"), r"a\|b\\c=d");
        assert_eq!(escape_cef_header("a\r\nb"), "a  b");
        assert_eq!(escape_cef_value("a=b\\c|d\ne\rf"), r"a\=b\\c|d\ne\rf");
        let mut a = fixed_alert();
        a.rule = "x|y";
        a.summary = "S7 | a=b \\ c\nd".into();
        let f = format_cef(&a, &header(), 8192).text;
        assert!(f.contains(r"|x\|y|S7 \| a=b \\ c d|10|"), "{f}");
        assert!(f.ends_with(r" msg=S7 | a\=b \\ c\nd"), "{f}");
    }

    #[test]
    fn non_ascii_summary_gets_a_bom_in_rfc5424_only() {
        let mut a = fixed_alert();
        a.summary = "Rezept geändert → Ätzkammer 3".into();
        let f = format_rfc5424(&a, &header(), 8192).text;
        assert!(f.ends_with("] \u{feff}Rezept geändert → Ätzkammer 3"), "{f}");
        let c = format_cef(&a, &header(), 8192).text;
        assert!(c.ends_with(" msg=Rezept geändert → Ätzkammer 3"));
        assert!(!c.contains('\u{feff}'));
        // Plain ASCII: no BOM.
        assert!(!format_rfc5424(&fixed_alert(), &header(), 8192).text.contains('\u{feff}'));
    }

    #[test]
    fn ipv6_and_missing_fields() {
        let mut a = fixed_alert();
        a.src = Some("fd00::1".parse().unwrap());
        a.dst = None;
        a.proto = None;
        a.key.clear();
        a.evidence.frames.clear();
        a.purdue = PurdueEnds { src_area: Some("fab=A".into()), ..PurdueEnds::default() };
        let c = format_cef(&a, &header(), 8192).text;
        assert!(c.contains(" cnt=3 c6a2=fd00::1 c6a2Label=Source IPv6 Address externalId=7 "), "{c}");
        assert!(c.contains(" flexString1Label=srcArea flexString1=fab\\=A msg="), "{c}");
        assert!(!c.contains(" dst=") && !c.contains(" app=") && !c.contains("cs6"));
        let s = format_rfc5424(&a, &header(), 8192).text;
        assert!(s.contains(r#" src="fd00::1" ot_item="#), "{s}");
        assert!(s.contains(r#" src_area="fab=A" first_ts="#), "{s}");
        assert!(!s.contains(" dst=") && !s.contains(" frames="));
    }

    #[test]
    fn header_fields_are_made_valid() {
        let h = SyslogHeader::new(20, "fab host ä", "bad id=]");
        assert_eq!(h.hostname, "fab_host__");
        assert_eq!(h.sd_id, "bad_id__");
        assert_eq!(SyslogHeader::new(20, "", DEFAULT_SD_ID).hostname, "-");
        assert!(is_sd_name(DEFAULT_SD_ID));
        assert!(!is_sd_name("a b") && !is_sd_name("") && !is_sd_name(&"x".repeat(33)));
        let mut a = fixed_alert();
        a.rule = "a.rule.id.longer.than.thirty.two.characters";
        let s = format_rfc5424(&a, &header(), 8192).text;
        assert!(s.contains(" 4242 a.rule.id.longer.than.thirty.two [fabmon"), "{s}");
    }

    #[test]
    fn bsd_timestamp_pads_the_day() {
        assert_eq!(bsd_timestamp(0), "Jan  1 00:00:00");
        assert_eq!(bsd_timestamp(TS), "Nov 16 08:00:00");
    }

    #[test]
    fn truncation_keeps_utf8_and_escapes_whole() {
        let mut a = fixed_alert();
        a.summary = "é=".repeat(2000);
        for max in [1024, 1025, 1026, 1027, 1500] {
            for f in [format_rfc5424(&a, &header(), max), format_cef(&a, &header(), max)] {
                assert!(f.truncated);
                assert!(f.text.len() <= max && f.text.len() >= max - 4, "{max}: {}", f.text.len());
                // A CEF value never ends in half an escape.
                assert!(!f.text.ends_with('\\') || f.text.ends_with("\\\\"));
            }
        }
        // Fits exactly: not truncated.
        let f = format_rfc5424(&fixed_alert(), &header(), 8192);
        let exact = format_rfc5424(&fixed_alert(), &header(), f.text.len());
        assert_eq!(exact, f);
        assert!(format_rfc5424(&fixed_alert(), &header(), f.text.len() - 1).truncated);
    }

    #[test]
    fn oversized_structured_data_falls_back_to_the_short_form() {
        let mut a = fixed_alert();
        a.purdue.src_area = Some("a".repeat(120));
        a.purdue.dst_area = Some("b".repeat(120));
        a.key = "k".repeat(500);
        let f = format_rfc5424(&a, &header(), 480);
        assert!(f.truncated);
        assert!(f.text.len() <= 480);
        assert!(f
            .text
            .contains(r#"[fabmon@32473 rule="hsms.remote_command" severity="critical" count="3"] Remote"#));
    }

    #[test]
    fn framing() {
        assert_eq!(
            frame("<165>1 - - - - - - hi", Framing::Stream(TcpFraming::OctetCounting)),
            b"21 <165>1 - - - - - - hi"
        );
        assert_eq!(frame("a\nb\r", Framing::Stream(TcpFraming::Newline)), b"a b \n");
        assert_eq!(frame("a\nb", Framing::Datagram), b"a\nb");
        // LEN counts octets, not characters.
        assert_eq!(frame("é", Framing::Stream(TcpFraming::OctetCounting)), "2 é".as_bytes());
    }

    #[test]
    fn jsonl_is_one_line_with_the_contract_fields() {
        let mut a = fixed_alert();
        a.summary = "line\nbreak".into();
        let line = format_jsonl(&a).unwrap();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["rule"], "hsms.remote_command");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["ts"], "2026-11-16T08:00:00.123456Z");
        assert_eq!(v["evidence"]["frames"], serde_json::json!([12, 40, 41]));
        assert_eq!(v["purdue"]["src"], "L3");
        assert_eq!(v["summary"], "line\nbreak");
    }
}
