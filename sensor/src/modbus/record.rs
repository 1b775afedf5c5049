//! What the Modbus decoder emits: one owned [`ModbusRecord`] per ADU (or per run of bytes that
//! are not Modbus). Its JSON form is part of the `fabmon decode --format jsonl` contract: the
//! fields `dir, tid, unit, fc, exception, sub, mei` are fixed; the rest are added detail.

use std::fmt::Write as _;

use serde::Serialize;

use super::parser::{
    be16, conformity_level_name, device_object_name, read_device_id_code_name, DeviceIdObjects, DiagSub,
    ExceptionCode, FileSubRequests, FileSubResponses, FunctionCode, MeiType, ModbusAdu, Pdu, Role, UmasCode,
};

/// Request or response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModbusDir {
    #[default]
    Request,
    Response,
}

impl From<Role> for ModbusDir {
    fn from(r: Role) -> Self {
        match r {
            Role::Request => ModbusDir::Request,
            Role::Response => ModbusDir::Response,
        }
    }
}

/// What a function does, for the rules engine (protocols.md 2.3, column "Class").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModbusClass {
    Read,
    Write,
    Diagnostic,
    Program,
    #[default]
    Other,
}

impl ModbusClass {
    /// Class of function code `fc` (exception bit ignored); FC 43 depends on its MEI type.
    pub fn of(fc: FunctionCode, mei: Option<u8>) -> ModbusClass {
        match fc.base() {
            1..=4 | 7 | 17 | 20 | 24 => ModbusClass::Read,
            5 | 6 | 15 | 16 | 21..=23 => ModbusClass::Write,
            8 | 11 | 12 => ModbusClass::Diagnostic,
            9 | 10 | 13 | 14 | 18 | 19 | 40 | 90 | 125 | 126 => ModbusClass::Program,
            43 => match mei {
                Some(14) => ModbusClass::Read,
                Some(13) => ModbusClass::Program,
                _ => ModbusClass::Other,
            },
            _ => ModbusClass::Other,
        }
    }
}

/// One 43/14 object: id, name for the standard ids, value as lossy UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceIdObject {
    pub id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    pub value: String,
    /// The value's length ran past the PDU; `value` holds what was there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// One FC 20/21 sub-request or sub-response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileSub {
    pub reference_type: u8,
    /// File and record number (requests and FC 21 echoes; absent in FC 20 responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u16>,
    /// Record length in registers (requested, or present in a response).
    pub length: u16,
    /// Record data (FC 21 and FC 20 responses), bounded by `max_values_kept` over the PDU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registers: Vec<u16>,
}

/// Function-specific content that does not fit the common fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModbusDetail {
    /// FC 22: result = (current AND and_mask) OR (or_mask AND NOT and_mask).
    MaskWrite { and_mask: u16, or_mask: u16 },
    /// FC 23 request: the write happens before the read.
    ReadWrite { read_address: u16, read_quantity: u16, write_address: u16, write_quantity: u16 },
    /// FC 8 data after the sub-function (bounded hex); `clear_log` for 0x01 Restart.
    Diagnostic {
        data_len: usize,
        data_hex: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        clear_log: Option<bool>,
    },
    /// FC 7 response.
    ExceptionStatus { status: u8 },
    /// FC 11 response.
    CommEventCounter { status: u16, event_count: u16 },
    /// FC 12 response.
    CommEventLog { status: u16, event_count: u16, message_count: u16, events_hex: String },
    /// FC 17 response. The split between server id and run indicator is device-specific: the
    /// server id runs up to the first 0x00/0xFF byte after its first byte.
    ServerId {
        server_id_hex: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        run_indicator: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        running: Option<bool>,
        additional_data: String,
    },
    /// FC 20/21 sub-requests or sub-responses (at most `max_values_kept` kept).
    FileRecords {
        subs: Vec<FileSub>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        subs_truncated: bool,
    },
    /// FC 24 response.
    Fifo { fifo_count: u16 },
    /// 43/14 request.
    DeviceIdRequest {
        read_code: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        read_code_name: Option<&'static str>,
        object_id: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        object_name: Option<&'static str>,
    },
    /// 43/14 response (identity for the inventory).
    DeviceId {
        read_code: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        read_code_name: Option<&'static str>,
        conformity: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        conformity_name: Option<&'static str>,
        more_follows: bool,
        next_object_id: u8,
        number_of_objects: u8,
        objects: Vec<DeviceIdObject>,
    },
    /// FC 43 with MEI 13 (CANopen) or an unknown MEI type: framed, kept raw.
    Mei { data_len: usize, data_hex: String },
    /// FC 90 UMAS: function (request) or status (response) with its name and risk class.
    Umas {
        session_key: u8,
        umas_code: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        umas_name: Option<&'static str>,
        umas_risk: &'static str,
        data_len: usize,
        data_hex: String,
    },
    /// Legacy, user-defined, unknown or undecodable PDU data.
    Raw { data_len: usize, data_hex: String },
    /// Bytes that were not a Modbus ADU (skipped to the next plausible header).
    NotModbus { skipped: usize, data_hex: String, text: String },
}

/// One Modbus ADU as emitted by `fabmon decode`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ModbusRecord {
    pub dir: ModbusDir,
    pub tid: u16,
    pub unit: u8,
    /// Function code without the exception bit.
    pub fc: u8,
    /// Exception code of an exception response.
    pub exception: Option<u8>,
    /// FC 8 sub-function.
    pub sub: Option<u16>,
    /// FC 43 MEI type.
    pub mei: Option<u8>,
    /// Function code byte as sent.
    pub fc_raw: u8,
    pub fc_name: &'static str,
    pub class: ModbusClass,
    /// MBAP protocol id (shown only when not 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub protocol_id: u16,
    /// MBAP length field as sent.
    pub length: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_name: Option<&'static str>,
    /// Start address (FC 1–6, 15, 16, 22; FIFO pointer for FC 24).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<u16>,
    /// Quantity of coils or registers (requests, FC 15/16 responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_count: Option<u16>,
    /// FC 5/6 value as sent (FC 5: 0xFF00 = ON, 0x0000 = OFF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u16>,
    /// Coil / discrete input values written or read (bounded; trimmed to the requested quantity
    /// when the response is paired).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coils: Vec<bool>,
    /// Register values written or read (bounded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registers: Vec<u16>,
    /// More values were on the wire than `max_values_kept`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub values_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<ModbusDetail>,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// Longest byte run shown as hex in a record.
const HEX_MAX: usize = 64;

/// Lower-case hex of at most [`HEX_MAX`] bytes.
pub(crate) fn hex_bounded(bytes: &[u8]) -> String {
    let shown = bytes.get(..HEX_MAX).unwrap_or(bytes);
    let mut s = String::with_capacity(shown.len() * 2);
    for &b in shown {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0x0F), 16).unwrap_or('0'));
    }
    s
}

fn registers(bytes: &[u8], max: usize, truncated: &mut bool) -> Vec<u16> {
    let total = bytes.len() / 2;
    if total > max {
        *truncated = true;
    }
    bytes
        .chunks_exact(2)
        .take(max)
        .map(|c| match c {
            [h, l] => u16::from_be_bytes([*h, *l]),
            _ => 0,
        })
        .collect()
}

/// Bits LSB first; `count` limits them (quantity), `max` bounds what is kept.
fn bits(bytes: &[u8], count: usize, max: usize, truncated: &mut bool) -> Vec<bool> {
    let total = count.min(bytes.len() * 8);
    if total > max {
        *truncated = true;
    }
    (0..total.min(max)).map(|i| bytes.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1)).collect()
}

impl ModbusRecord {
    /// Owned record of `adu`, keeping at most `max_values` coils/registers.
    pub fn from_adu(adu: &ModbusAdu<'_>, role: Role, max_values: usize) -> ModbusRecord {
        let f = adu.function;
        let is_exc = role == Role::Response && f.is_exception();
        let sub = (f.base() == 8 && !is_exc).then(|| be16(adu.data, 0)).flatten();
        let mei = (f.base() == 43 && !is_exc).then(|| adu.data.first().copied()).flatten();
        let mut r = ModbusRecord {
            dir: role.into(),
            tid: adu.header.transaction_id,
            unit: adu.header.unit_id,
            fc: f.base(),
            exception: None,
            sub,
            mei,
            fc_raw: f.0,
            fc_name: f.name(),
            class: ModbusClass::of(f, mei),
            protocol_id: adu.header.protocol_id,
            length: adu.header.length,
            sub_name: sub.and_then(|s| DiagSub(s).name()),
            ..ModbusRecord::default()
        };
        r.fill(&adu.pdu, f, max_values);
        r
    }

    fn fill(&mut self, pdu: &Pdu<'_>, f: FunctionCode, max: usize) {
        let mut trunc = false;
        match *pdu {
            Pdu::Exception { code } => {
                self.exception = Some(code.0);
                self.exception_name = code.name();
            }
            Pdu::Empty => {}
            Pdu::ReadRequest { address, quantity } => {
                self.address = Some(address);
                self.quantity = Some(quantity);
            }
            Pdu::ReadBits { byte_count, bits: b } => {
                self.byte_count = Some(u16::from(byte_count));
                self.coils = bits(b, b.len() * 8, max, &mut trunc);
            }
            Pdu::ReadRegisters { byte_count, registers: b } => {
                self.byte_count = Some(u16::from(byte_count));
                self.registers = registers(b, max, &mut trunc);
            }
            Pdu::WriteSingle { address, value } => {
                self.address = Some(address);
                self.value = Some(value);
                if f.base() == 5 {
                    if value == 0xFF00 || value == 0 {
                        self.coils = vec![value == 0xFF00];
                    }
                } else {
                    self.registers = vec![value];
                }
            }
            Pdu::WriteCoils { address, quantity, byte_count, bits: b } => {
                self.address = Some(address);
                self.quantity = Some(quantity);
                self.byte_count = Some(u16::from(byte_count));
                self.coils = bits(b, usize::from(quantity), max, &mut trunc);
            }
            Pdu::WriteRegisters { address, quantity, byte_count, registers: b } => {
                self.address = Some(address);
                self.quantity = Some(quantity);
                self.byte_count = Some(u16::from(byte_count));
                self.registers = registers(b, max, &mut trunc);
            }
            Pdu::WriteMultipleResponse { address, quantity } => {
                self.address = Some(address);
                self.quantity = Some(quantity);
            }
            Pdu::ExceptionStatus { status } => self.detail = Some(ModbusDetail::ExceptionStatus { status }),
            Pdu::Diagnostic { sub, data } => {
                let clear_log = (sub == DiagSub::RESTART_COMMUNICATIONS)
                    .then(|| data.get(..2) == Some(&[0xFF, 0x00][..]));
                self.detail = Some(ModbusDetail::Diagnostic {
                    data_len: data.len(),
                    data_hex: hex_bounded(data),
                    clear_log,
                });
            }
            Pdu::CommEventCounter { status, event_count } => {
                self.detail = Some(ModbusDetail::CommEventCounter { status, event_count });
            }
            Pdu::CommEventLog { byte_count, status, event_count, message_count, events } => {
                self.byte_count = Some(u16::from(byte_count));
                self.detail = Some(ModbusDetail::CommEventLog {
                    status,
                    event_count,
                    message_count,
                    events_hex: hex_bounded(events),
                });
            }
            Pdu::ReportServerId { byte_count, data } => {
                self.byte_count = Some(u16::from(byte_count));
                self.detail = Some(server_id(data));
            }
            Pdu::FileRecords { byte_count, subs, with_data } => {
                self.byte_count = Some(u16::from(byte_count));
                let mut budget = max;
                let mut out = Vec::new();
                let mut subs_truncated = false;
                for s in FileSubRequests::new(subs, with_data) {
                    if out.len() >= max {
                        subs_truncated = true;
                        break;
                    }
                    let regs = registers(s.data, budget, &mut trunc);
                    budget = budget.saturating_sub(regs.len());
                    out.push(FileSub {
                        reference_type: s.reference_type,
                        file: Some(s.file),
                        record: Some(s.record),
                        length: s.length,
                        registers: regs,
                    });
                }
                self.detail = Some(ModbusDetail::FileRecords { subs: out, subs_truncated });
            }
            Pdu::FileRecordData { byte_count, subs } => {
                self.byte_count = Some(u16::from(byte_count));
                let mut budget = max;
                let mut out = Vec::new();
                let mut subs_truncated = false;
                for (reference_type, data) in FileSubResponses::new(subs) {
                    if out.len() >= max {
                        subs_truncated = true;
                        break;
                    }
                    let regs = registers(data, budget, &mut trunc);
                    budget = budget.saturating_sub(regs.len());
                    let length = u16::try_from(data.len() / 2).unwrap_or(u16::MAX);
                    out.push(FileSub { reference_type, file: None, record: None, length, registers: regs });
                }
                self.detail = Some(ModbusDetail::FileRecords { subs: out, subs_truncated });
            }
            Pdu::MaskWrite { address, and_mask, or_mask } => {
                self.address = Some(address);
                self.detail = Some(ModbusDetail::MaskWrite { and_mask, or_mask });
            }
            Pdu::ReadWriteRequest {
                read_address,
                read_quantity,
                write_address,
                write_quantity,
                byte_count,
                registers: b,
            } => {
                self.byte_count = Some(u16::from(byte_count));
                self.registers = registers(b, max, &mut trunc);
                self.detail = Some(ModbusDetail::ReadWrite {
                    read_address,
                    read_quantity,
                    write_address,
                    write_quantity,
                });
            }
            Pdu::FifoRequest { pointer } => self.address = Some(pointer),
            Pdu::FifoResponse { byte_count, fifo_count, registers: b } => {
                self.byte_count = Some(byte_count);
                self.registers = registers(b, max, &mut trunc);
                self.detail = Some(ModbusDetail::Fifo { fifo_count });
            }
            Pdu::DeviceIdRequest { read_code, object_id } => {
                self.detail = Some(ModbusDetail::DeviceIdRequest {
                    read_code,
                    read_code_name: read_device_id_code_name(read_code),
                    object_id,
                    object_name: device_object_name(object_id),
                });
            }
            Pdu::DeviceIdResponse {
                read_code,
                conformity,
                more_follows,
                next_object_id,
                number_of_objects,
                objects,
            } => {
                let mut it = DeviceIdObjects::new(objects, number_of_objects);
                let mut out = Vec::new();
                while let Some((id, value)) = it.next() {
                    out.push(DeviceIdObject {
                        id,
                        name: device_object_name(id),
                        value: String::from_utf8_lossy(value).into_owned(),
                        truncated: it.overrun,
                    });
                }
                self.detail = Some(ModbusDetail::DeviceId {
                    read_code,
                    read_code_name: read_device_id_code_name(read_code),
                    conformity,
                    conformity_name: conformity_level_name(conformity),
                    more_follows: more_follows == 0xFF,
                    next_object_id,
                    number_of_objects,
                    objects: out,
                });
            }
            Pdu::Mei { mei_type: _, data } => {
                self.detail = Some(ModbusDetail::Mei { data_len: data.len(), data_hex: hex_bounded(data) });
            }
            Pdu::Umas { session_key, code, data } => {
                self.detail = Some(ModbusDetail::Umas {
                    session_key,
                    umas_code: code.0,
                    umas_name: code.name(),
                    umas_risk: code.risk(),
                    data_len: data.len(),
                    data_hex: hex_bounded(data),
                });
            }
            Pdu::Raw { data } => {
                self.detail = Some(ModbusDetail::Raw { data_len: data.len(), data_hex: hex_bounded(data) });
            }
        }
        self.values_truncated = trunc;
    }

    /// Record for a run of bytes that are not Modbus. The MBAP fields are read from the bytes
    /// as they stand (so a reply built from them can be linked back); `fc` is 0.
    pub fn not_modbus(bytes: &[u8], role: Role) -> ModbusRecord {
        let b = |i: usize| bytes.get(i).copied().unwrap_or(0);
        let shown = bytes.get(..HEX_MAX).unwrap_or(bytes);
        ModbusRecord {
            dir: role.into(),
            tid: u16::from_be_bytes([b(0), b(1)]),
            unit: b(6),
            fc: 0,
            fc_raw: b(7),
            fc_name: "Not Modbus",
            class: ModbusClass::Other,
            protocol_id: u16::from_be_bytes([b(2), b(3)]),
            length: u16::from_be_bytes([b(4), b(5)]),
            detail: Some(ModbusDetail::NotModbus {
                skipped: bytes.len(),
                data_hex: hex_bounded(bytes),
                text: String::from_utf8_lossy(shown).into_owned(),
            }),
            ..ModbusRecord::default()
        }
    }

    /// The 43/14 objects of a Read Device Identification response, if this is one.
    pub fn device_identity(&self) -> Option<&[DeviceIdObject]> {
        match &self.detail {
            Some(ModbusDetail::DeviceId { objects, .. }) => Some(objects),
            _ => None,
        }
    }

    /// One readable line, e.g. `req fc=16 Write Multiple Registers unit=1 addr=100 qty=10` or
    /// `rsp exception 2 Illegal Data Address (fc=3) unit=1`. Latency is
    /// not repeated here: the text output prints it beside the request frame.
    pub fn summary(&self) -> String {
        let mut s = String::with_capacity(96);
        let d = match self.dir {
            ModbusDir::Request => "req",
            ModbusDir::Response => "rsp",
        };
        if let Some(ModbusDetail::NotModbus { skipped, .. }) = &self.detail {
            let _ = write!(s, "{d} not Modbus ({skipped} bytes skipped)");
            return s;
        }
        match self.exception {
            Some(code) => {
                let name = ExceptionCode(code).name().unwrap_or("Unknown");
                let _ = write!(s, "{d} exception {code} {name} (fc={})", self.fc);
            }
            None => {
                let _ = write!(s, "{d} fc={} {}", self.fc, self.fc_name);
            }
        }
        let _ = write!(s, " unit={}", self.unit);
        if self.exception.is_none() {
            self.summary_detail(&mut s);
        }
        s
    }

    fn summary_detail(&self, s: &mut String) {
        if let Some(sub) = self.sub {
            let _ = write!(s, " sub=0x{sub:04x} {}", self.sub_name.unwrap_or("Reserved"));
        }
        if let Some(mei) = self.mei {
            let _ = write!(s, " mei={mei} {}", MeiType(mei).name().unwrap_or("Unknown MEI"));
        }
        if let Some(a) = self.address {
            let _ = write!(s, " addr={a}");
        }
        if let Some(q) = self.quantity {
            let _ = write!(s, " qty={q}");
        }
        if let Some(v) = self.value {
            let _ = write!(s, " value=0x{v:04x}");
        } else if self.dir == ModbusDir::Response {
            if let Some(bc) = self.byte_count {
                let _ = write!(s, " bytes={bc}");
            }
        }
        match &self.detail {
            Some(ModbusDetail::Diagnostic { clear_log: Some(true), .. }) => s.push_str(" clear-log"),
            Some(ModbusDetail::ReadWrite { read_address, read_quantity, write_address, write_quantity }) => {
                let _ =
                    write!(s, " read={read_address}+{read_quantity} write={write_address}+{write_quantity}");
            }
            Some(ModbusDetail::MaskWrite { and_mask, or_mask }) => {
                let _ = write!(s, " and=0x{and_mask:04x} or=0x{or_mask:04x}");
            }
            Some(ModbusDetail::DeviceIdRequest { read_code, object_id, .. }) => {
                let name = read_device_id_code_name(*read_code).unwrap_or("invalid");
                let _ = write!(s, " code={read_code} {name} obj={object_id}");
            }
            Some(ModbusDetail::DeviceId { objects, more_follows, .. }) => {
                for o in objects.iter().take(3) {
                    let _ = write!(s, " {}={:?}", o.name.unwrap_or("object"), o.value);
                }
                if objects.len() > 3 {
                    let _ = write!(s, " (+{} objects)", objects.len() - 3);
                }
                if *more_follows {
                    s.push_str(" more-follows");
                }
            }
            Some(ModbusDetail::ServerId { server_id_hex, running, additional_data, .. }) => {
                let _ = write!(s, " id={server_id_hex}");
                if let Some(r) = running {
                    s.push_str(if *r { " run=on" } else { " run=off" });
                }
                if !additional_data.is_empty() {
                    let _ = write!(s, " {additional_data:?}");
                }
            }
            Some(ModbusDetail::Umas { umas_code, umas_name, .. }) => {
                let _ = write!(s, " umas=0x{umas_code:02x} {}", umas_name.unwrap_or("unknown"));
            }
            _ => {}
        }
    }
}

/// FC 17 response data: server id (device-specific length), run indicator, additional data.
fn server_id(data: &[u8]) -> ModbusDetail {
    // Most devices send a one-byte id; longer ids end where the run indicator (0x00/0xFF) is.
    let split = data.iter().skip(1).position(|&b| b == 0x00 || b == 0xFF).map(|p| p + 1);
    match split {
        Some(at) => {
            let (id, rest) = data.split_at(at);
            let run = rest.first().copied();
            ModbusDetail::ServerId {
                server_id_hex: hex_bounded(id),
                run_indicator: run,
                running: run.map(|r| r == 0xFF),
                additional_data: String::from_utf8_lossy(rest.get(1..).unwrap_or(&[])).into_owned(),
            }
        }
        None => ModbusDetail::ServerId {
            server_id_hex: hex_bounded(data),
            run_indicator: None,
            running: None,
            additional_data: String::new(),
        },
    }
}

impl UmasCode {
    /// True for the UMAS functions that change the PLC (writes, logic download, start/stop).
    pub fn is_state_change(self) -> bool {
        matches!(self.risk(), "write" | "logic_download" | "start_stop")
    }
}
