//! APDU headers (ASHRAE 135 clause 20.1): the eight PDU types, segmentation fields, invoke id
//! and service choice. Types 8–15 are undefined and malformed.

use super::{BacnetError, Flags};

/// APDU type, the high nibble of the first octet (20.1.1), unknown values kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PduType(pub u8);

impl PduType {
    pub const CONFIRMED_REQUEST: PduType = PduType(0);
    pub const UNCONFIRMED_REQUEST: PduType = PduType(1);
    pub const SIMPLE_ACK: PduType = PduType(2);
    pub const COMPLEX_ACK: PduType = PduType(3);
    pub const SEGMENT_ACK: PduType = PduType(4);
    pub const ERROR: PduType = PduType(5);
    pub const REJECT: PduType = PduType(6);
    pub const ABORT: PduType = PduType(7);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "confirmed-request",
            1 => "unconfirmed-request",
            2 => "simple-ack",
            3 => "complex-ack",
            4 => "segment-ack",
            5 => "error",
            6 => "reject",
            7 => "abort",
            _ => return None,
        })
    }
}

/// PDU flag SEG (confirmed request, ComplexACK): the message is segmented.
pub const FLAG_SEGMENTED: u8 = 0x08;
/// PDU flag MOR: more segments follow.
pub const FLAG_MORE_FOLLOWS: u8 = 0x04;
/// PDU flag SA (confirmed request): a segmented response is accepted.
pub const FLAG_SEGMENTED_RESPONSE_ACCEPTED: u8 = 0x02;
/// PDU flag NAK (SegmentACK): negative acknowledgement, a segment was out of order.
pub const FLAG_NAK: u8 = 0x02;
/// PDU flag SRV (SegmentACK, Abort): sent by the server of the transaction.
pub const FLAG_SERVER: u8 = 0x01;

/// Maximum segments accepted (20.1.2.4), bits 6–4 of the second octet of a confirmed request:
/// None when unspecified (0) or more than 64 (7).
pub fn max_segments_value(code: u8) -> Option<u16> {
    match code & 0x07 {
        1..=6 => Some(1 << (code & 0x07)),
        _ => None,
    }
}

/// Name of a max-segments code, for the codes without a number.
pub fn max_segments_name(code: u8) -> &'static str {
    match code & 0x07 {
        0 => "unspecified",
        7 => "more-than-64",
        _ => "",
    }
}

/// Maximum APDU length accepted (20.1.2.5), bits 3–0: None for the reserved codes 6–15.
pub fn max_apdu_value(code: u8) -> Option<u16> {
    Some(match code & 0x0f {
        0 => 50,
        1 => 128,
        2 => 206,
        3 => 480,
        4 => 1024,
        5 => 1476,
        _ => return None,
    })
}

/// A decoded APDU header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApduHeader {
    /// 0..=7 (types 8–15 never parse).
    pub pdu_type: u8,
    /// Low nibble of the first octet (SEG/MOR/SA, NAK/SRV and reserved bits).
    pub pdu_flags: u8,
    /// Confirmed request: max-segments code (0–7).
    pub max_segments: Option<u8>,
    /// Confirmed request: max-APDU code (0–15).
    pub max_apdu: Option<u8>,
    /// Confirmed request: the reserved bit 7 of the max-segments/max-APDU octet.
    pub max_reserved_bit: bool,
    pub invoke_id: Option<u8>,
    /// Segmented confirmed request and ComplexACK, and SegmentACK.
    pub sequence: Option<u8>,
    /// Proposed window (segmented messages) or actual window (SegmentACK).
    pub window: Option<u8>,
    pub service: Option<u8>,
    /// Reject or Abort reason.
    pub reason: Option<u8>,
}

impl ApduHeader {
    pub fn segmented(&self) -> bool {
        matches!(self.pdu_type, 0 | 3) && self.pdu_flags & FLAG_SEGMENTED != 0
    }

    pub fn more_follows(&self) -> bool {
        matches!(self.pdu_type, 0 | 3) && self.pdu_flags & FLAG_MORE_FOLLOWS != 0
    }

    pub fn segmented_response_accepted(&self) -> bool {
        self.pdu_type == 0 && self.pdu_flags & FLAG_SEGMENTED_RESPONSE_ACCEPTED != 0
    }

    pub fn nak(&self) -> bool {
        self.pdu_type == 4 && self.pdu_flags & FLAG_NAK != 0
    }

    /// SegmentACK or Abort sent by the server of the transaction.
    pub fn server(&self) -> bool {
        matches!(self.pdu_type, 4 | 7) && self.pdu_flags & FLAG_SERVER != 0
    }

    /// Flags reserved bits, reserved max-APDU codes and windows outside 1..=127.
    pub fn check(&self, flags: &mut Flags) {
        let reserved = match self.pdu_type {
            0 => 0x01,
            3 => 0x03,
            4 => 0x0c,
            7 => 0x0e,
            _ => 0x0f,
        };
        if self.pdu_flags & reserved != 0 || self.max_reserved_bit {
            flags.flag("apdu_reserved_bits");
        }
        if self.max_apdu.is_some_and(|c| max_apdu_value(c).is_none()) {
            flags.flag("apdu_reserved_max_apdu");
        }
        if self.window.is_some_and(|w| w == 0 || w > 127) {
            flags.flag("apdu_window_out_of_range");
        }
        if self.pdu_type == 0 && self.more_follows() && !self.segmented() {
            flags.flag("apdu_more_follows_unsegmented");
        }
    }
}

/// A decoded APDU: header plus the service data that follows it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ApduSlice<'a> {
    pub header: ApduHeader,
    pub body: &'a [u8],
}

impl std::fmt::Debug for ApduSlice<'_> {
    /// The body as its length only (it may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApduSlice")
            .field("header", &self.header)
            .field("body", &super::Octets(self.body.len()))
            .finish()
    }
}

fn byte(input: &[u8], at: usize) -> Result<u8, BacnetError> {
    input.get(at).copied().ok_or_else(|| BacnetError::need(at + 1, input.len()))
}

/// Parses an APDU header (20.1.2–20.1.9). Returns it with the rest of `input` as body, and the
/// header length. A header cut short is `Incomplete`; types 8–15 are `Malformed`.
pub fn parse_apdu(input: &[u8]) -> Result<(ApduSlice<'_>, usize), BacnetError> {
    let first = byte(input, 0)?;
    let mut h = ApduHeader { pdu_type: first >> 4, pdu_flags: first & 0x0f, ..ApduHeader::default() };
    let at = match h.pdu_type {
        0 => {
            let m = byte(input, 1)?;
            h.max_reserved_bit = m & 0x80 != 0;
            h.max_segments = Some((m >> 4) & 0x07);
            h.max_apdu = Some(m & 0x0f);
            h.invoke_id = Some(byte(input, 2)?);
            let mut at = 3;
            if h.pdu_flags & FLAG_SEGMENTED != 0 {
                h.sequence = Some(byte(input, 3)?);
                h.window = Some(byte(input, 4)?);
                at = 5;
            }
            h.service = Some(byte(input, at)?);
            at + 1
        }
        1 => {
            h.service = Some(byte(input, 1)?);
            2
        }
        2 | 5 => {
            h.invoke_id = Some(byte(input, 1)?);
            h.service = Some(byte(input, 2)?);
            3
        }
        3 => {
            h.invoke_id = Some(byte(input, 1)?);
            let mut at = 2;
            if h.pdu_flags & FLAG_SEGMENTED != 0 {
                h.sequence = Some(byte(input, 2)?);
                h.window = Some(byte(input, 3)?);
                at = 4;
            }
            h.service = Some(byte(input, at)?);
            at + 1
        }
        4 => {
            h.invoke_id = Some(byte(input, 1)?);
            h.sequence = Some(byte(input, 2)?);
            h.window = Some(byte(input, 3)?);
            4
        }
        6 | 7 => {
            h.invoke_id = Some(byte(input, 1)?);
            h.reason = Some(byte(input, 2)?);
            3
        }
        _ => return Err(BacnetError::malformed(0, "apdu_bad_type")),
    };
    let body = input.get(at..).unwrap_or_default();
    Ok((ApduSlice { header: h, body }, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_request_header() {
        // 0x00 confirmed, no SEG | 0x05: max-segs unspecified, max-APDU 1476 | invoke 1 |
        // service 12 readProperty | data.
        let d = [0x00, 0x05, 0x01, 0x0c, 0x0c, 0x02, 0x00, 0x00, 0x7b, 0x19, 0x79];
        let (a, used) = parse_apdu(&d).unwrap();
        assert_eq!(used, 4);
        assert_eq!(a.header.invoke_id, Some(1));
        assert_eq!(a.header.service, Some(12));
        assert_eq!(a.header.max_apdu.and_then(max_apdu_value), Some(1476));
        assert_eq!(a.header.max_segments, Some(0));
        assert_eq!(a.body.len(), 7);
    }

    #[test]
    fn segmented_complex_ack_header() {
        // 0x3c: ComplexACK SEG|MOR | invoke 7 | seq 0 | window 4 | service 14.
        let (a, used) = parse_apdu(&[0x3c, 0x07, 0x00, 0x04, 0x0e, 0x1e]).unwrap();
        assert_eq!(used, 5);
        assert!(a.header.segmented() && a.header.more_follows());
        assert_eq!((a.header.sequence, a.header.window), (Some(0), Some(4)));
        assert_eq!(a.header.service, Some(14));
    }

    #[test]
    fn other_types() {
        // SegmentACK from the server (0x41), NAK clear | invoke 3 | seq 2 | window 4.
        let (a, _) = parse_apdu(&[0x41, 0x03, 0x02, 0x04]).unwrap();
        assert!(a.header.server() && !a.header.nak());
        // Reject invoke 9 reason 9 unrecognized-service.
        let (a, _) = parse_apdu(&[0x60, 0x09, 0x09]).unwrap();
        assert_eq!((a.header.invoke_id, a.header.reason, a.header.service), (Some(9), Some(9), None));
        // Abort from the server, reason 4.
        let (a, _) = parse_apdu(&[0x71, 0x02, 0x04]).unwrap();
        assert!(a.header.server());
        assert_eq!(a.header.reason, Some(4));
        // Undefined type 15.
        assert_eq!(parse_apdu(&[0xf0, 0x05]), Err(BacnetError::malformed(0, "apdu_bad_type")));
        // Confirmed request without service choice (the corpus case).
        assert_eq!(parse_apdu(&[0x00, 0x05, 0x35]), Err(BacnetError::need(4, 3)));
    }

    #[test]
    fn check_flags() {
        let (a, _) = parse_apdu(&[0x21, 0x01, 0x0f]).unwrap();
        let mut f = Flags::default();
        a.header.check(&mut f);
        assert!(f.has("apdu_reserved_bits"));
        let (a, _) = parse_apdu(&[0x08, 0x0f, 0x01, 0x00, 0x00, 0x0c]).unwrap();
        let mut f = Flags::default();
        a.header.check(&mut f);
        assert!(f.has("apdu_reserved_max_apdu") && f.has("apdu_window_out_of_range"));
        assert_eq!(max_segments_value(3), Some(8));
        assert_eq!(max_segments_value(7), None);
        assert_eq!(max_segments_name(7), "more-than-64");
    }
}
