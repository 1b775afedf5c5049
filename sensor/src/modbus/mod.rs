//! Modbus/TCP (MBAP + PDU).
//!
//! Skeleton: the ADU decoder, function-code details and pairing are filled in by the decoders
//! work; the record keeps the fields of the decode contract.

use serde::Serialize;

use crate::app::{AppParser, AppProto, Cx, Dir};

/// Request or response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModbusDir {
    #[default]
    Request,
    Response,
}

/// One Modbus ADU as emitted by `fabmon decode`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModbusRecord {
    pub dir: ModbusDir,
    pub tid: u16,
    pub unit: u8,
    /// Function code without the exception bit.
    pub fc: u8,
    pub exception: Option<u8>,
    pub sub: Option<u16>,
    pub mei: Option<u8>,
}

impl ModbusRecord {
    pub fn summary(&self) -> String {
        format!("{:?} fc={} unit={} tid={}", self.dir, self.fc, self.unit, self.tid)
    }
}

/// Per-connection Modbus/TCP decoder.
#[derive(Debug, Default)]
pub struct ModbusParser {}

impl ModbusParser {
    pub fn new() -> Self {
        ModbusParser::default()
    }
}

impl AppParser for ModbusParser {
    fn proto(&self) -> AppProto {
        AppProto::Modbus
    }

    fn parse(&mut self, _dir: Dir, data: &[u8], _cx: &mut Cx<'_>) -> usize {
        data.len()
    }

    fn gap(&mut self, _dir: Dir, _cx: &mut Cx<'_>) {}

    fn close(&mut self, _cx: &mut Cx<'_>) {}
}
