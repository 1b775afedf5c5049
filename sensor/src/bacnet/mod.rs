//! BACnet/IP (ASHRAE 135 Annex J BVLC, clause 6 NPDU, clause 20 APDU).
//!
//! Skeleton: BVLC/NPDU/APDU decoding, services and pairing are filled in by the decoders work;
//! the record keeps the fields of the decode contract.

use serde::Serialize;

use crate::app::{AppParser, AppProto, Cx, Dir};

/// One BACnet/IP datagram as emitted by `fabmon decode`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BacnetRecord {
    /// BVLC function number.
    pub bvlc: u8,
    /// APDU type 0..7, or None for network-layer messages and BVLC-only messages.
    pub apdu_type: Option<u8>,
    /// Service choice, or None for reject/abort/network-layer.
    pub service: Option<u8>,
}

impl BacnetRecord {
    pub fn summary(&self) -> String {
        format!("bvlc={} apdu={:?} service={:?}", self.bvlc, self.apdu_type, self.service)
    }
}

/// Content detection for UDP datagrams on ports not configured as BACnet: a BVLC header of
/// type 0x81 with a known function whose length equals the datagram length.
pub fn probe(data: &[u8]) -> bool {
    data.len() >= 4
        && data[0] == 0x81
        && data[1] <= 0x0c
        && usize::from(u16::from_be_bytes([data[2], data[3]])) == data.len()
}

/// Per-flow BACnet/IP decoder.
#[derive(Debug, Default)]
pub struct BacnetParser {}

impl BacnetParser {
    pub fn new() -> Self {
        BacnetParser::default()
    }
}

impl AppParser for BacnetParser {
    fn proto(&self) -> AppProto {
        AppProto::Bacnet
    }

    fn parse(&mut self, _dir: Dir, data: &[u8], _cx: &mut Cx<'_>) -> usize {
        data.len()
    }

    fn gap(&mut self, _dir: Dir, _cx: &mut Cx<'_>) {}

    fn close(&mut self, _cx: &mut Cx<'_>) {}
}
