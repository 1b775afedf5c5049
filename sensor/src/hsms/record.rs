//! What the HSMS decoder emits: one [`HsmsRecord`] per message, the protocol part of
//! `OtMessage` (flattened beside the common fields in `fabmon decode --format jsonl`).

use serde::Serialize;

use super::frame::{DeselectStatus, HsmsHeader, RejectReason, SType, SelectStatus};
use super::gem::Gem;
use super::secs2;

/// Characters of SML kept in a record.
pub const SML_MAX_CHARS: usize = 1024;
/// Body bytes copied for the SML rendering (enough for [`SML_MAX_CHARS`] in practice; large
/// items show their real length and first values).
pub const SML_SOURCE_BYTES: usize = 2048;

/// One HSMS message as emitted by `fabmon decode`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HsmsRecord {
    /// 0 = data message; 1..9 control messages (E37 §8.2.6.5).
    pub stype: u8,
    /// E37 name of the SType (`Data`, `Select.req`, ...), absent when undefined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stype_name: Option<&'static str>,
    /// Data messages: stream, function and W-bit (0 for control messages).
    pub stream: u8,
    pub function: u8,
    pub wbit: bool,
    pub session_id: u16,
    pub system: u32,
    /// Presentation type (0 = SECS-II).
    pub ptype: u8,
    /// Length field of the frame (header + body bytes).
    pub length: u32,
    /// Select.rsp status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select_status: Option<SelectStatus>,
    /// Deselect.rsp status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deselect_status: Option<DeselectStatus>,
    /// Reject.req reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<RejectReason>,
    /// Reject.req byte 2: the SType of the rejected message, or its PType for reason 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_type: Option<u8>,
    /// SECS-II items in the body (absent for control messages and undecoded bodies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<u32>,
    /// SML rendering of the body, bounded (`...` where cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sml: Option<SmlBody>,
    /// Why the body is malformed (anomaly code) and the body offset of the faulty item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secs2_error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secs2_error_offset: Option<u32>,
    /// GEM meaning of the message, when it has one fabmon knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gem: Option<Box<Gem>>,
    /// Bytes skipped to find this message after a gap or a mid-stream start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resync_skipped: Option<u64>,
}

impl HsmsRecord {
    /// The header fields of a record.
    pub fn from_header(h: &HsmsHeader) -> HsmsRecord {
        let mut r = HsmsRecord {
            stype: h.stype.0,
            stype_name: h.stype.name(),
            session_id: h.session_id,
            system: h.system,
            ptype: h.ptype,
            length: h.length,
            ..HsmsRecord::default()
        };
        match h.stype {
            SType::DATA => {
                r.stream = h.stream();
                r.function = h.function();
                r.wbit = h.wbit();
            }
            SType::SELECT_RSP => r.select_status = Some(SelectStatus(h.byte3)),
            SType::DESELECT_RSP => r.deselect_status = Some(DeselectStatus(h.byte3)),
            SType::REJECT_REQ => {
                r.reject_reason = Some(RejectReason(h.byte3));
                r.rejected_type = Some(h.byte2);
            }
            _ => {}
        }
        r
    }

    /// One line for people, like tshark's Info column: `S1F13 W`, `Select.rsp
    /// communication_established`, `S2F41 W RCMD=START`.
    pub fn summary(&self) -> String {
        let mut s = match (self.stype, self.stype_name) {
            (0, _) => format!("S{}F{}{}", self.stream, self.function, if self.wbit { " W" } else { "" }),
            (_, Some(n)) => n.to_owned(),
            (st, None) => format!("SType {st}"),
        };
        let code = self
            .select_status
            .map(|c| (c.0, c.name()))
            .or(self.deselect_status.map(|c| (c.0, c.name())))
            .or(self.reject_reason.map(|c| (c.0, c.name())));
        if let Some((n, name)) = code {
            s.push(' ');
            s.push_str(name.unwrap_or("code"));
            if name.is_none() {
                s.push_str(&format!(" {n}"));
            }
        }
        if let Some(g) = &self.gem {
            let gs = g.summary();
            if !gs.is_empty() {
                s.push(' ');
                s.push_str(&gs);
            }
        }
        s
    }
}

/// Body bytes kept inside the record itself; longer bodies go to the heap. Nearly all data
/// messages of a fab (event reports, remote commands, acks) have bodies this short, and the
/// record is no larger for it than the Modbus and BACnet ones.
const SML_INLINE_BYTES: usize = 64;

/// A bounded copy of a body, rendered as SML only when the record is serialised (keeps the
/// hot path to one short copy, without allocating for short bodies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmlBody {
    bytes: SmlBytes,
    total_len: usize,
    max_depth: usize,
}

/// The copied bytes: inline up to [`SML_INLINE_BYTES`], on the heap beyond.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SmlBytes {
    Inline { len: u8, buf: [u8; SML_INLINE_BYTES] },
    Heap(Box<[u8]>),
}

impl SmlBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            SmlBytes::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or(buf),
            SmlBytes::Heap(b) => b,
        }
    }
}

impl SmlBody {
    pub fn new(body: &[u8], max_depth: usize) -> SmlBody {
        let keep = body.get(..SML_SOURCE_BYTES).unwrap_or(body);
        let bytes = match (u8::try_from(keep.len()), keep.len() <= SML_INLINE_BYTES) {
            (Ok(len), true) => {
                let mut buf = [0u8; SML_INLINE_BYTES];
                if let Some(dst) = buf.get_mut(..keep.len()) {
                    dst.copy_from_slice(keep);
                }
                SmlBytes::Inline { len, buf }
            }
            _ => SmlBytes::Heap(keep.into()),
        };
        SmlBody { bytes, total_len: body.len(), max_depth }
    }

    pub fn render(&self) -> String {
        secs2::render_sml(self.bytes.as_slice(), self.total_len, self.max_depth, SML_MAX_CHARS)
    }
}

impl Serialize for SmlBody {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.render())
    }
}
