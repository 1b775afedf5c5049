//! BACnet/IP (ASHRAE 135 Annex J BVLC, clause 6 NPDU, clause 20 APDU and tag encoding).
//!
//! The decoder is layered the way the protocol stack is:
//!
//! - [`bvlc`]: the BACnet Virtual Link Control header and its payloads (Annex J.2).
//! - [`npdu`]: the network layer header and network-layer messages (clause 6.2, 6.4).
//! - [`apdu`]: the eight APDU header layouts (clause 20.1).
//! - [`tags`]: tag headers, primitive application values and a cursor (clause 20.2).
//! - [`services`]: the service parameters that matter to a monitor (clauses 13–17, 21).
//! - [`state`]: per-flow pairing of confirmed requests, segment reassembly and the
//!   [`AppParser`](crate::app::AppParser) implementation.
//! - [`record`]: what the decoder emits, with the names of every enumeration it decodes.
//!
//! Every parse function is pure: `parse_x(&[u8]) -> Result<(X<'a>, consumed), BacnetError>`,
//! where [`BacnetError::Incomplete`] means the bytes ended inside the structure and
//! [`BacnetError::Malformed`] means it can never be decoded. A framed message with a bad field is
//! decoded as far as possible and carries anomaly codes instead (see [`Flags`]).
//!
//! ```
//! use fabmon_sensor::bacnet::{bvlc, npdu};
//! // Who-Is, global broadcast, instance range 0..100.
//! let d = [0x81, 0x0b, 0x00, 0x10, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08, 0x09, 0x00, 0x19, 0x64];
//! let (h, _) = bvlc::parse_bvlc_header(&d).unwrap();
//! assert_eq!(h.function, bvlc::BvlcFunction::ORIGINAL_BROADCAST_NPDU);
//! let (n, _) = npdu::parse_npdu(&d[4..]).unwrap();
//! assert_eq!(n.dnet, Some(0xffff));
//! ```

// Unit tests decode known-good byte vectors: an unwrap there is the assertion.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::num::NonZeroUsize;

pub mod apdu;
pub mod bvlc;
pub mod npdu;
pub mod record;
pub mod services;
pub mod state;
pub mod tags;
#[cfg(test)]
mod tests;

pub use record::BacnetRecord;
pub use state::BacnetParser;

/// Why a BACnet structure could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BacnetError {
    /// The bytes ended inside the structure; `needed` more bytes (when known) would complete it.
    #[error("incomplete BACnet structure (needed {needed:?} more bytes)")]
    Incomplete { needed: Option<NonZeroUsize> },
    /// The bytes can never form the structure; `reason` is a stable anomaly code.
    #[error("malformed BACnet structure at offset {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
}

impl BacnetError {
    /// `Incomplete` when `have` bytes are fewer than `want`.
    pub(crate) fn need(want: usize, have: usize) -> BacnetError {
        BacnetError::Incomplete { needed: NonZeroUsize::new(want.saturating_sub(have)) }
    }

    pub(crate) fn malformed(offset: usize, reason: &'static str) -> BacnetError {
        BacnetError::Malformed { offset, reason }
    }

    /// The same error with its offset moved by `base` (errors of an inner layer reported in the
    /// coordinates of the outer one).
    pub(crate) fn shifted(self, base: usize) -> BacnetError {
        match self {
            BacnetError::Malformed { offset, reason } => {
                BacnetError::Malformed { offset: offset.saturating_add(base), reason }
            }
            e => e,
        }
    }
}

/// Stands for wire bytes in `Debug` output: their length only. Service data can hold a
/// DeviceCommunicationControl or ReinitializeDevice password, which must never reach a log.
pub(crate) struct Octets(pub usize);

impl std::fmt::Debug for Octets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} octets>", self.0)
    }
}

/// Anomaly codes found while decoding one datagram, and whether its content is malformed.
///
/// Codes are stable snake_case strings (they become `OtMessage::anomalies`). The vector
/// allocates only when a datagram has an anomaly, which is rare on a healthy network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub codes: Vec<&'static str>,
    pub malformed: bool,
}

impl Flags {
    /// Records an anomaly that does not stop the content from being understood.
    pub fn flag(&mut self, code: &'static str) {
        if !self.codes.contains(&code) {
            self.codes.push(code);
        }
    }

    /// Records an anomaly that makes the content malformed.
    pub fn malformed(&mut self, code: &'static str) {
        self.malformed = true;
        self.flag(code);
    }

    pub fn has(&self, code: &str) -> bool {
        self.codes.contains(&code)
    }
}

/// Content detection for UDP datagrams on ports not configured as BACnet: a BVLC header of
/// type 0x81 with a known function whose length equals the datagram length, followed, for the
/// functions that carry one, by an NPDU of version 1 without reserved control bits.
pub fn probe(data: &[u8]) -> bool {
    let Ok((h, _)) = bvlc::parse_bvlc_header(data) else {
        return false;
    };
    if h.bvlc_type != bvlc::BVLC_TYPE_IP || h.function.0 > 0x0c || usize::from(h.length) != data.len() {
        return false;
    }
    let Some(body) = data.get(bvlc::BVLC_HEADER_LEN..) else {
        return false;
    };
    match bvlc::parse_bvlc_payload(h.function, body) {
        Ok((payload, _)) => match payload.npdu() {
            Some(n) => {
                n.first() == Some(&npdu::NPDU_VERSION)
                    && n.get(1).is_some_and(|c| c & npdu::CONTROL_RESERVED == 0)
            }
            None => true,
        },
        Err(_) => false,
    }
}
