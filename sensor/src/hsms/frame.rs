//! HSMS message framing (SEMI E37 §8.2): the 4-byte length prefix, the 10-byte header and the
//! control messages (§8.3).
//!
//! Every function here is pure and never panics: lengths are checked once, then the fixed-size
//! header is copied out of the slice.

use std::num::NonZeroUsize;

use serde::Serialize;

use super::secs2;

/// Bytes of the length prefix (E37 §8.2.1).
pub const PREFIX_LEN: usize = 4;
/// Bytes of the message header (E37 §8.2.5).
pub const HEADER_LEN: usize = 10;
/// Smallest valid value of the length field: a header with no body.
pub const MIN_LENGTH: u32 = HEADER_LEN as u32;
/// Session id of HSMS-SS control messages and of every Linktest (E37.1).
pub const CONTROL_SESSION_ID: u16 = 0xFFFF;
/// Length cap used by content detection, which has no configured limits: the default of
/// `AppLimits::max_message_bytes` (16 MiB).
pub const PROBE_MAX_LENGTH: u64 = 16 << 20;

code_newtype! {
    /// Session type, byte 9 of the header (E37 §8.2.6.5, table 3). 0 is a data message; the
    /// others are control messages. 8 and 10 are "not used", 11–127 belong to subsidiary
    /// standards, 128–255 are reserved.
    SType(u8) {
        DATA = 0 => "Data",
        SELECT_REQ = 1 => "Select.req",
        SELECT_RSP = 2 => "Select.rsp",
        DESELECT_REQ = 3 => "Deselect.req",
        DESELECT_RSP = 4 => "Deselect.rsp",
        LINKTEST_REQ = 5 => "Linktest.req",
        LINKTEST_RSP = 6 => "Linktest.rsp",
        REJECT_REQ = 7 => "Reject.req",
        SEPARATE_REQ = 9 => "Separate.req",
    }
}

impl SType {
    /// The response that answers this request, for the control transactions E37 pairs
    /// (Select, Deselect, Linktest).
    pub fn response(self) -> Option<SType> {
        match self {
            SType::SELECT_REQ => Some(SType::SELECT_RSP),
            SType::DESELECT_REQ => Some(SType::DESELECT_RSP),
            SType::LINKTEST_REQ => Some(SType::LINKTEST_RSP),
            _ => None,
        }
    }

    /// The request this response answers.
    pub fn request(self) -> Option<SType> {
        match self {
            SType::SELECT_RSP => Some(SType::SELECT_REQ),
            SType::DESELECT_RSP => Some(SType::DESELECT_REQ),
            SType::LINKTEST_RSP => Some(SType::LINKTEST_REQ),
            _ => None,
        }
    }

    /// Defined by E37 itself (0–7, 9).
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }
}

code_newtype! {
    /// SelectStatus, byte 3 of Select.rsp (E37 §8.3.3; 4–6 from HSMS-GS).
    SelectStatus(u8) {
        ESTABLISHED = 0 => "communication_established",
        ALREADY_ACTIVE = 1 => "communication_already_active",
        NOT_READY = 2 => "connection_not_ready",
        CONNECT_EXHAUST = 3 => "connect_exhaust",
        ENTITY_UNKNOWN = 4 => "entity_unknown",
        ENTITY_IN_USE = 5 => "entity_already_in_use",
        ENTITY_SELECTED = 6 => "entity_already_selected",
    }
}

code_newtype! {
    /// DeselectStatus, byte 3 of Deselect.rsp (E37 §8.3.5).
    DeselectStatus(u8) {
        ENDED = 0 => "communication_ended",
        NOT_ESTABLISHED = 1 => "communication_not_established",
        BUSY = 2 => "communication_busy",
    }
}

code_newtype! {
    /// Reason code, byte 3 of Reject.req (E37 §8.3.8). 0 and 128–255 are local.
    RejectReason(u8) {
        STYPE_NOT_SUPPORTED = 1 => "stype_not_supported",
        PTYPE_NOT_SUPPORTED = 2 => "ptype_not_supported",
        TRANSACTION_NOT_OPEN = 3 => "transaction_not_open",
        ENTITY_NOT_SELECTED = 4 => "entity_not_selected",
    }
}

/// The 10-byte message header plus the length field that framed it (E37 §8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
pub struct HsmsHeader {
    /// Length field: header plus body bytes.
    pub length: u32,
    /// Session id (data messages: device id).
    pub session_id: u16,
    /// Data: W-bit and stream. Control: 0, or the rejected SType/PType in Reject.req.
    pub byte2: u8,
    /// Data: function. Control: status or reason code.
    pub byte3: u8,
    /// Presentation type; 0 is SECS-II.
    pub ptype: u8,
    #[serde(serialize_with = "ser_stype")]
    pub stype: SType,
    /// System bytes (transaction id).
    pub system: u32,
}

fn ser_stype<S: serde::Serializer>(st: &SType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(st.0)
}

impl Default for SType {
    fn default() -> Self {
        SType::DATA
    }
}

impl HsmsHeader {
    /// Reads a header from its 10 bytes (E37 §8.2.5, big-endian fields).
    pub fn from_bytes(length: u32, b: &[u8; HEADER_LEN]) -> HsmsHeader {
        let [s0, s1, byte2, byte3, ptype, stype, y0, y1, y2, y3] = *b;
        HsmsHeader {
            length,
            session_id: u16::from_be_bytes([s0, s1]),
            byte2,
            byte3,
            ptype,
            stype: SType(stype),
            system: u32::from_be_bytes([y0, y1, y2, y3]),
        }
    }

    /// The 10 header bytes, for tests and for MHEAD comparisons.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let s = self.session_id.to_be_bytes();
        let y = self.system.to_be_bytes();
        [s[0], s[1], self.byte2, self.byte3, self.ptype, self.stype.0, y[0], y[1], y[2], y[3]]
    }

    pub fn is_data(&self) -> bool {
        self.stype == SType::DATA
    }

    /// Stream (0..=127) of a data message.
    pub fn stream(&self) -> u8 {
        self.byte2 & 0x7F
    }

    /// Function of a data message.
    pub fn function(&self) -> u8 {
        self.byte3
    }

    /// W-bit of a data message: the sender expects a reply.
    pub fn wbit(&self) -> bool {
        self.byte2 & 0x80 != 0
    }

    /// Body bytes announced by the length field.
    pub fn body_len(&self) -> u64 {
        u64::from(self.length).saturating_sub(u64::from(MIN_LENGTH))
    }

    /// Bytes of the whole message on the wire, prefix included (u64: cannot overflow).
    pub fn wire_len(&self) -> u64 {
        u64::from(self.length) + PREFIX_LEN as u64
    }
}

/// One framed HSMS message borrowed from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HsmsFrameSlice<'a> {
    pub header: HsmsHeader,
    /// SECS-II body of a data message; must be empty for control messages.
    pub body: &'a [u8],
}

/// Why a frame could not be taken from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// More bytes are needed; nothing was consumed.
    #[error("incomplete HSMS message")]
    Incomplete { needed: Option<NonZeroUsize> },
    /// The length field is below 10: no room for the header (E37 §8.2.1).
    #[error("length field {length} < 10")]
    ShortLength { length: u32 },
    /// The header is complete but the message is longer than the configured cap; the body is
    /// not buffered. The caller reports the header and skips `header.wire_len()` bytes.
    #[error("message of {} bytes above the cap", header.length)]
    Oversize { header: HsmsHeader },
}

fn incomplete(have: usize, want: u64) -> FrameError {
    let needed = usize::try_from(want.saturating_sub(have as u64)).ok().and_then(NonZeroUsize::new);
    FrameError::Incomplete { needed }
}

/// Reads the length prefix, if there are 4 bytes.
pub fn parse_length(input: &[u8]) -> Option<u32> {
    match input {
        [a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Reads the length prefix and header without requiring the body.
pub fn parse_header(input: &[u8]) -> Result<HsmsHeader, FrameError> {
    let Some(length) = parse_length(input) else {
        return Err(incomplete(input.len(), PREFIX_LEN as u64));
    };
    if length < MIN_LENGTH {
        return Err(FrameError::ShortLength { length });
    }
    let Some(h) = input.get(PREFIX_LEN..PREFIX_LEN + HEADER_LEN) else {
        return Err(incomplete(input.len(), (PREFIX_LEN + HEADER_LEN) as u64));
    };
    let mut b = [0u8; HEADER_LEN];
    b.copy_from_slice(h);
    Ok(HsmsHeader::from_bytes(length, &b))
}

/// Takes one HSMS message from the front of `input` (E37 §8.2): `Ok((frame, bytes used))`.
///
/// Length arithmetic is done in u64, so a length field near `u32::MAX` cannot wrap. A message
/// whose length field exceeds `max_length` yields [`FrameError::Oversize`] as soon as its
/// header is available, so it is never buffered whole.
pub fn parse_frame(input: &[u8], max_length: u64) -> Result<(HsmsFrameSlice<'_>, usize), FrameError> {
    let header = parse_header(input)?;
    if u64::from(header.length) > max_length {
        return Err(FrameError::Oversize { header });
    }
    let total = header.wire_len();
    let Ok(total_usize) = usize::try_from(total) else {
        return Err(FrameError::Oversize { header });
    };
    let Some(body) = input.get(PREFIX_LEN + HEADER_LEN..total_usize) else {
        return Err(incomplete(input.len(), total));
    };
    Ok((HsmsFrameSlice { header, body }, total_usize))
}

/// What is wrong with a control message, per E37 §8.3 (the fixed header bytes) and E37.1
/// (Linktest session id). Codes as used in `OtMessage::anomalies`.
pub fn control_violations(h: &HsmsHeader, out: &mut Vec<&'static str>) {
    let st = h.stype;
    if st == SType::DATA || !st.is_known() {
        return;
    }
    if h.length != MIN_LENGTH {
        out.push("control_message_with_body");
    }
    // Reject.req carries the rejected SType/PType in byte 2 and its reason in byte 3; the
    // responses carry a status in byte 3; every other byte is 0.
    let byte2_ok = st == SType::REJECT_REQ || h.byte2 == 0;
    let byte3_ok = matches!(st, SType::SELECT_RSP | SType::DESELECT_RSP | SType::REJECT_REQ) || h.byte3 == 0;
    if !byte2_ok || !byte3_ok {
        out.push("control_message_bad_header_bytes");
    }
    if matches!(st, SType::LINKTEST_REQ | SType::LINKTEST_RSP) && h.session_id != CONTROL_SESSION_ID {
        out.push("control_message_bad_session_id");
    }
}

/// Whether a header is what a real HSMS peer would send, ignoring the length (used by
/// detection and resynchronisation, where a false positive costs more than a miss).
///
/// PType 0; SType 0–7 or 9. Data: stream 1..=127, no W-bit on a reply or on function 0.
/// Control: no body, the fixed bytes of E37 §8.3, a status or reason the standard defines,
/// Linktest on session 0xFFFF.
pub fn header_plausible(h: &HsmsHeader) -> bool {
    if h.ptype != 0 || !h.stype.is_known() || h.length < MIN_LENGTH {
        return false;
    }
    if h.is_data() {
        let odd = h.function() % 2 == 1;
        return h.stream() != 0 && (!h.wbit() || odd);
    }
    if h.length != MIN_LENGTH {
        return false;
    }
    let mut v = Vec::new();
    control_violations(h, &mut v);
    if !v.is_empty() {
        return false;
    }
    match h.stype {
        SType::SELECT_RSP => SelectStatus(h.byte3).name().is_some(),
        SType::DESELECT_RSP => DeselectStatus(h.byte3).name().is_some(),
        SType::REJECT_REQ => {
            let reason = RejectReason(h.byte3);
            reason.name().is_some() && (reason == RejectReason::PTYPE_NOT_SUPPORTED || h.byte2 < 128)
        }
        _ => true,
    }
}

/// Content detection (E37 framing): `Some(true)` when `data` starts with a plausible HSMS
/// message, `Some(false)` when it cannot be HSMS, `None` when more bytes are needed to tell.
///
/// Beyond [`header_plausible`], a data message with a body must start with a valid SECS-II
/// format byte. TLS (0x16 0x03..), HTTP, SSH banners and SMB/NetBIOS fail on the length, the
/// PType or the SType.
pub fn probe(data: &[u8]) -> Option<bool> {
    // The length is at most 16 MiB, so the first byte is 0 or 1.
    if let Some(&b0) = data.first() {
        if b0 > 1 {
            return Some(false);
        }
    }
    match parse_header(data) {
        Err(FrameError::Incomplete { .. }) => {
            if let Some(len) = parse_length(data) {
                if u64::from(len) > PROBE_MAX_LENGTH {
                    return Some(false);
                }
            }
            None
        }
        Err(_) => Some(false),
        Ok(h) => {
            if u64::from(h.length) > PROBE_MAX_LENGTH || !header_plausible(&h) {
                return Some(false);
            }
            if h.length == MIN_LENGTH {
                return Some(true);
            }
            // A data message with a body: what has arrived of the body must be SECS-II.
            let total = usize::try_from(h.body_len()).unwrap_or(usize::MAX);
            let start = PREFIX_LEN + HEADER_LEN;
            let avail = data.get(start..start.saturating_add(total).min(data.len())).unwrap_or(&[]);
            if avail.is_empty() {
                return None;
            }
            Some(secs2::body_prefix_valid(avail, total, 64, &mut Vec::new()))
        }
    }
}

#[cfg(test)]
// Tests fail loudly on purpose.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// protocols.md 1.2: Select.req (HSMS-SS), 14 bytes.
    const SELECT_REQ: [u8; 14] = [
        0x00, 0x00, 0x00, 0x0a, // length 10: header only
        0xff, 0xff, // session id 0xFFFF (SS control)
        0x00, // byte 2: 0
        0x00, // byte 3: 0
        0x00, // PType 0 (SECS-II)
        0x01, // SType 1 = Select.req
        0x00, 0x00, 0x00, 0x01, // system bytes 1
    ];

    #[test]
    fn select_req_worked_example() {
        let (f, n) = parse_frame(&SELECT_REQ, PROBE_MAX_LENGTH).unwrap();
        assert_eq!(n, 14);
        assert_eq!(f.header.length, 10);
        assert_eq!(f.header.session_id, 0xFFFF);
        assert_eq!(f.header.stype, SType::SELECT_REQ);
        assert_eq!(f.header.stype.name(), Some("Select.req"));
        assert_eq!(f.header.system, 1);
        assert!(f.body.is_empty());
        assert_eq!(f.header.to_bytes(), SELECT_REQ[4..]);
        assert_eq!(probe(&SELECT_REQ), Some(true));
    }

    #[test]
    fn every_truncation_is_incomplete() {
        for cut in 0..SELECT_REQ.len() {
            assert!(
                matches!(
                    parse_frame(&SELECT_REQ[..cut], PROBE_MAX_LENGTH),
                    Err(FrameError::Incomplete { .. })
                ),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn length_near_u32_max_does_not_wrap() {
        let mut b = SELECT_REQ;
        b[..4].copy_from_slice(&0xFFFF_FFFDu32.to_be_bytes());
        match parse_frame(&b, u64::MAX) {
            Err(FrameError::Incomplete { needed }) => {
                assert_eq!(needed.map(|n| n.get() as u64), Some(0xFFFF_FFFDu64 + 4 - 14));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_frame(&b, 1 << 24), Err(FrameError::Oversize { .. })));
    }

    #[test]
    fn short_length() {
        let b = [0, 0, 0, 6, 0xff, 0xff, 0, 0, 0, 1];
        assert_eq!(parse_frame(&b, 1 << 24), Err(FrameError::ShortLength { length: 6 }));
    }

    #[test]
    fn status_names() {
        assert_eq!(SelectStatus(3).name(), Some("connect_exhaust"));
        assert_eq!(DeselectStatus(2).name(), Some("communication_busy"));
        assert_eq!(RejectReason(4).name(), Some("entity_not_selected"));
        assert_eq!(RejectReason(200).name(), None);
        assert_eq!(
            serde_json::to_string(&RejectReason(4)).unwrap(),
            r#"{"code":4,"name":"entity_not_selected"}"#
        );
        assert_eq!(serde_json::to_string(&RejectReason(0)).unwrap(), r#"{"code":0}"#);
    }

    #[test]
    fn control_rules() {
        let mut h = HsmsHeader::from_bytes(10, SELECT_REQ[4..].try_into().unwrap());
        let mut v = Vec::new();
        control_violations(&h, &mut v);
        assert!(v.is_empty());
        h.stype = SType::LINKTEST_REQ;
        h.session_id = 3;
        control_violations(&h, &mut v);
        assert_eq!(v, ["control_message_bad_session_id"]);
        v.clear();
        h.session_id = 0xFFFF;
        h.byte3 = 1;
        h.length = 12;
        control_violations(&h, &mut v);
        assert_eq!(v, ["control_message_with_body", "control_message_bad_header_bytes"]);
    }

    fn with_len(len: u32, rest: &[u8]) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn probe_accepts_hsms() {
        // S1F13 W with a body starting with a List format byte.
        let s1f13 = with_len(12, &[0, 1, 0x81, 0x0d, 0, 0, 0, 0, 0, 1, 0x01, 0x00]);
        assert_eq!(probe(&s1f13), Some(true));
        // Linktest.req
        assert_eq!(probe(&with_len(10, &[0xff, 0xff, 0, 0, 0, 5, 0, 0, 0, 9])), Some(true));
        // Not enough bytes yet.
        assert_eq!(probe(&SELECT_REQ[..9]), None);
        assert_eq!(probe(&s1f13[..14]), None);
    }

    #[test]
    fn probe_rejects_other_protocols() {
        let cases: &[(&str, &[u8])] = &[
            (
                "tls client hello",
                &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0],
            ),
            ("http", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("ssh banner", b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n"),
            // NetBIOS session header + SMB1 negotiate: PType would be 0x72.
            ("smb1", &[0x00, 0x00, 0x00, 0x85, 0xff, b'S', b'M', b'B', 0x72, 0, 0, 0, 0, 0x18, 0x53, 0xc8]),
            // NetBIOS + SMB2: PType would be the structure size 0x40.
            ("smb2", &[0x00, 0x00, 0x00, 0x66, 0xfe, b'S', b'M', b'B', 0x40, 0x00, 0, 0, 0, 0, 0, 0]),
            // Two Modbus/TCP requests: the length would be tid << 16 and the "body" starts
            // with the second request's protocol id (0x00: no length bytes).
            (
                "modbus requests",
                &[
                    0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x0a, //
                    0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x10, 0x00, 0x02,
                ],
            ),
            ("zeros", &[0; 20]),
            ("data stream 0", &with_len(10, &[0, 1, 0x00, 0x01, 0, 0, 0, 0, 0, 1])),
            ("control with body", &with_len(11, &[0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1, 0])),
            ("unknown stype", &with_len(10, &[0xff, 0xff, 0, 0, 0, 11, 0, 0, 0, 1])),
            ("bad secs2 byte", &with_len(12, &[0, 1, 0x81, 0x0d, 0, 0, 0, 0, 0, 1, 0xfd, 0x00])),
        ];
        for (what, bytes) in cases {
            assert_eq!(probe(bytes), Some(false), "{what}");
        }
        // Random bytes: a deterministic generator; essentially none look like HSMS.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut hits = 0;
        for _ in 0..100_000 {
            let mut b = [0u8; 16];
            for v in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *v = x as u8;
            }
            if probe(&b) == Some(true) {
                hits += 1;
            }
        }
        assert_eq!(hits, 0);
    }
}
