//! Modbus/TCP: MBAP framing, the PDU of every public function code, FC 8 diagnostics, 43/14
//! device identification, FC 90 UMAS framing, exceptions, and request/response pairing.
//!
//! - [`parser`]: pure functions over byte slices ([`parser::parse_adu`]), borrowed views.
//! - [`state`]: the per-connection [`ModbusParser`] (stream framing, resynchronisation, pairing,
//!   timeouts) behind the [`crate::app::AppParser`] contract.
//! - [`record`]: the owned [`ModbusRecord`] that leaves the hot path.
//!
//! `Dir::ToServer` carries requests and `Dir::ToClient` responses: the flow layer makes the
//! port-502 side the server.
//!
//! ```
//! use fabmon_sensor::app::{drive, AppLimits, Dir, Transport};
//! use fabmon_sensor::modbus::ModbusParser;
//! use fabmon_sensor::record::{Event, OtBody};
//!
//! let flow = drive::test_flow(Transport::Tcp, 502);
//! let req: &[u8] = &[0, 1, 0, 0, 0, 6, 1, 3, 0, 100, 0, 2]; // FC 3, address 100, 2 registers
//! let rsp: &[u8] = &[0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 42, 0, 43];
//! let mut parser = ModbusParser::new();
//! let events = drive::run(&mut parser, &flow, &AppLimits::default(), &[(Dir::ToServer, req), (Dir::ToClient, rsp)]);
//! let Some(Event::Message(m)) = events.last() else { panic!() };
//! let OtBody::Modbus(r) = &m.body else { panic!() };
//! assert_eq!((r.fc, r.registers.as_slice(), m.request_frame), (3, &[42u16, 43][..], Some(1)));
//! ```

pub mod parser;
pub mod record;
pub mod state;

pub use parser::{anomaly, FunctionCode, ModbusAdu, ModbusError, Role};
pub use record::{DeviceIdObject, ModbusClass, ModbusDetail, ModbusDir, ModbusRecord};
pub use state::ModbusParser;

#[cfg(test)]
mod tests;
