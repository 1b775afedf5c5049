//! SECS/GEM over HSMS (SEMI E37 framing, E5 SECS-II items, E30 GEM meaning).
//!
//! Skeleton: the framing decoder, SECS-II item tree, GEM meaning and pairing are filled in by
//! the decoders work; the record keeps the fields of the decode contract.

use serde::Serialize;

use crate::app::{AppParser, AppProto, Cx, Dir};

/// One HSMS message as emitted by `fabmon decode`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HsmsRecord {
    /// 0 = data message; 1..9 control messages (E37 §8.3).
    pub stype: u8,
    pub stream: u8,
    pub function: u8,
    pub wbit: bool,
    pub session_id: u16,
    pub system: u32,
}

impl HsmsRecord {
    pub fn summary(&self) -> String {
        if self.stype == 0 {
            format!("S{}F{}{}", self.stream, self.function, if self.wbit { " W" } else { "" })
        } else {
            format!("stype {}", self.stype)
        }
    }
}

/// Content detection: `Some(true)` when `data` starts with a plausible HSMS header,
/// `Some(false)` when it cannot be HSMS, `None` when more bytes are needed.
pub fn probe(data: &[u8]) -> Option<bool> {
    if data.len() < 14 {
        return None;
    }
    let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    Some((10..=16 << 20).contains(&len) && data[8] == 0 && matches!(data[9], 0..=7 | 9))
}

/// Per-connection HSMS decoder.
#[derive(Debug, Default)]
pub struct HsmsParser {}

impl HsmsParser {
    pub fn new() -> Self {
        HsmsParser::default()
    }
}

impl AppParser for HsmsParser {
    fn proto(&self) -> AppProto {
        AppProto::Hsms
    }

    fn parse(&mut self, _dir: Dir, data: &[u8], _cx: &mut Cx<'_>) -> usize {
        data.len()
    }

    fn gap(&mut self, _dir: Dir, _cx: &mut Cx<'_>) {}

    fn close(&mut self, _cx: &mut Cx<'_>) {}
}
