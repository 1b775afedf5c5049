//! Modbus/TCP wire format as pure functions: the MBAP header (Modbus Messaging on TCP/IP
//! Implementation Guide V1.0b §3.1.3) and the PDU of every public function code (Modbus
//! Application Protocol Specification V1.1b3 §6, exceptions §7, MEI §6.19–6.21).
//!
//! [`parse_adu`] frames one ADU at the start of its input and returns a borrowed view
//! ([`ModbusAdu`]) plus the bytes it consumed. A well-framed ADU with a bad field is `Ok` with
//! anomaly codes (see [`anomaly`]) and `malformed` set when its content could not be decoded;
//! `Err(Incomplete)` means "call again with more bytes" (nothing consumed); `Err(Malformed)`
//! means the bytes at offset 0 are not a Modbus ADU header at all, and the caller resynchronises
//! with [`resync_offset`].
//!
//! Framing is by the MBAP length, with one deliberate exception: when the length field is out of
//! range (or contradicts a PDU whose size the function code fixes and the data already ended
//! there), the ADU is framed by the function code's own layout, the way libmodbus servers read
//! it. That keeps the decoder in step with the device that acts on the bytes, reports the bad
//! ADU in the packet that carried it, and never waits for more than one ADU (260 bytes).

use std::num::NonZeroUsize;

/// MBAP header size (transaction id, protocol id, length, unit id).
pub const MBAP_HEADER_LEN: usize = 7;
/// Smallest legal MBAP length: unit id + function code.
pub const MBAP_LENGTH_MIN: u16 = 2;
/// Largest legal MBAP length: unit id + a 253-byte PDU.
pub const MBAP_LENGTH_MAX: u16 = 254;
/// Largest PDU (function code included).
pub const PDU_MAX: usize = 253;
/// Largest ADU.
pub const ADU_MAX: usize = 6 + MBAP_LENGTH_MAX as usize;

/// Stable anomaly codes set on Modbus records (data for the rules engine).
pub mod anomaly {
    /// MBAP length below 2 (not even unit id + function code); framed by the function code.
    pub const MBAP_LENGTH_BELOW_MIN: &str = "mbap_length_below_min";
    /// MBAP length above 254; framed by the function code.
    pub const MBAP_LENGTH_ABOVE_MAX: &str = "mbap_length_above_max";
    /// MBAP length promises more bytes than the function code's PDU holds, and the sender's
    /// data stopped where the PDU ends; framed by the function code.
    pub const MBAP_LENGTH_EXCEEDS_PDU: &str = "mbap_length_exceeds_pdu";
    /// Protocol identifier other than 0.
    pub const PROTOCOL_ID_NONZERO: &str = "protocol_id_nonzero";
    /// The PDU ends before the fields its function code requires.
    pub const PDU_TRUNCATED: &str = "pdu_truncated";
    /// Bytes after the fields the function code defines (shown raw, not decoded).
    pub const PDU_TRAILING_BYTES: &str = "pdu_trailing_bytes";
    /// Function code 0 in a request.
    pub const FUNCTION_CODE_ZERO: &str = "function_code_zero";
    /// Request function code with the exception bit (0x80) set.
    pub const EXCEPTION_BIT_IN_REQUEST: &str = "exception_bit_in_request";
    /// Unassigned public function code (neither public, legacy nor user-defined).
    pub const UNASSIGNED_FUNCTION_CODE: &str = "unassigned_function_code";
    /// Byte count larger than the data present.
    pub const BYTE_COUNT_EXCEEDS_DATA: &str = "byte_count_exceeds_data";
    /// Byte count that disagrees with the quantity in the same PDU.
    pub const BYTE_COUNT_QUANTITY_MISMATCH: &str = "byte_count_quantity_mismatch";
    /// Odd byte count where 16-bit registers follow.
    pub const BYTE_COUNT_ODD: &str = "byte_count_odd";
    /// Byte count outside the range the function allows.
    pub const BYTE_COUNT_OUT_OF_RANGE: &str = "byte_count_out_of_range";
    /// Quantity 0 or above the function's limit (coils 2000/1968, registers 125/123/121).
    pub const QUANTITY_OUT_OF_RANGE: &str = "quantity_out_of_range";
    /// Start address + quantity runs past 0xFFFF.
    pub const ADDRESS_RANGE_OVERFLOW: &str = "address_range_overflow";
    /// FC 5 value other than 0xFF00 (ON) or 0x0000 (OFF).
    pub const INVALID_COIL_VALUE: &str = "invalid_coil_value";
    /// FC 8 / 0x01 restart data other than 0x0000 or 0xFF00.
    pub const INVALID_DIAGNOSTIC_DATA: &str = "invalid_diagnostic_data";
    /// Exception code outside 1–8, 10, 11.
    pub const UNKNOWN_EXCEPTION_CODE: &str = "unknown_exception_code";
    /// FC 43 MEI type other than 13 or 14.
    pub const UNKNOWN_MEI_TYPE: &str = "unknown_mei_type";
    /// 43/14 Read Device ID code outside 1–4.
    pub const INVALID_READ_DEVICE_ID_CODE: &str = "invalid_read_device_id_code";
    /// 43/14 conformity level outside 0x01–0x03, 0x81–0x83.
    pub const UNKNOWN_CONFORMITY_LEVEL: &str = "unknown_conformity_level";
    /// 43/14 More Follows other than 0x00 or 0xFF.
    pub const INVALID_MORE_FOLLOWS: &str = "invalid_more_follows";
    /// 43/14 object whose length runs past the PDU.
    pub const MEI_OBJECT_OVERRUN: &str = "mei_object_overrun";
    /// 43/14 object id repeated in one response.
    pub const MEI_DUPLICATE_OBJECT: &str = "mei_duplicate_object";
    /// 43/14 number of objects disagrees with the objects present.
    pub const MEI_OBJECT_COUNT_MISMATCH: &str = "mei_object_count_mismatch";
    /// FC 20/21 reference type other than 6.
    pub const INVALID_REFERENCE_TYPE: &str = "invalid_reference_type";
    /// FC 24 FIFO count above 31.
    pub const FIFO_COUNT_OUT_OF_RANGE: &str = "fifo_count_out_of_range";
    /// Bytes on port 502 that are not a Modbus ADU (skipped until a plausible header).
    pub const NOT_MODBUS: &str = "not_modbus";

    // Pairing (set by the per-connection state, not by the pure parser).
    /// Response function code differs from its request's.
    pub const RESPONSE_FC_MISMATCH: &str = "response_fc_mismatch";
    /// Echo response (FC 5/6/8/15/16/22) that does not repeat the request.
    pub const RESPONSE_ECHO_MISMATCH: &str = "response_echo_mismatch";
    /// Read response byte count that disagrees with the requested quantity.
    pub const RESPONSE_BYTE_COUNT_MISMATCH: &str = "response_byte_count_mismatch";
    /// 43/14 response read code differs from the request's.
    pub const RESPONSE_READ_CODE_MISMATCH: &str = "response_read_code_mismatch";
    /// 43/14 "more follows" whose next object id does not move past the requested one.
    pub const MEI_NO_PROGRESS: &str = "mei_no_progress";
    /// Response to a request that expects none (FC 8/0x04 listen-only, unit-0 broadcast write).
    pub const RESPONSE_NOT_EXPECTED: &str = "response_not_expected";
    /// Reply to a request whose function code had 0x80 set, with that code + 0x80 wrapped
    /// around to a plain function code (libmodbus answers `0x83` with `03 01`).
    pub const EXCEPTION_FC_WRAPPED: &str = "exception_fc_wrapped";
    /// Response whose transaction/unit echo bytes the client sent that were not Modbus.
    pub const REPLY_TO_NON_MODBUS: &str = "reply_to_non_modbus";
}

/// Request (client → server) or response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Request,
    Response,
}

/// Up to eight anomaly codes, without allocating (the hot path builds one per ADU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anomalies {
    codes: [&'static str; 8],
    len: u8,
}

impl Anomalies {
    /// Adds `code` once; codes beyond the eighth are dropped (the first ones are the causes).
    pub fn push(&mut self, code: &'static str) {
        if self.contains(code) {
            return;
        }
        if let Some(slot) = self.codes.get_mut(usize::from(self.len)) {
            *slot = code;
            self.len += 1;
        }
    }

    pub fn contains(&self, code: &str) -> bool {
        self.as_slice().contains(&code)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[&'static str] {
        self.codes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// Function code as sent (bit 7 included). Unknown codes stay representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionCode(pub u8);

impl FunctionCode {
    pub const READ_COILS: Self = Self(1);
    pub const READ_DISCRETE_INPUTS: Self = Self(2);
    pub const READ_HOLDING_REGISTERS: Self = Self(3);
    pub const READ_INPUT_REGISTERS: Self = Self(4);
    pub const WRITE_SINGLE_COIL: Self = Self(5);
    pub const WRITE_SINGLE_REGISTER: Self = Self(6);
    pub const READ_EXCEPTION_STATUS: Self = Self(7);
    pub const DIAGNOSTICS: Self = Self(8);
    pub const GET_COMM_EVENT_COUNTER: Self = Self(11);
    pub const GET_COMM_EVENT_LOG: Self = Self(12);
    pub const WRITE_MULTIPLE_COILS: Self = Self(15);
    pub const WRITE_MULTIPLE_REGISTERS: Self = Self(16);
    pub const REPORT_SERVER_ID: Self = Self(17);
    pub const READ_FILE_RECORD: Self = Self(20);
    pub const WRITE_FILE_RECORD: Self = Self(21);
    pub const MASK_WRITE_REGISTER: Self = Self(22);
    pub const READ_WRITE_MULTIPLE_REGISTERS: Self = Self(23);
    pub const READ_FIFO_QUEUE: Self = Self(24);
    pub const ENCAPSULATED_INTERFACE: Self = Self(43);
    pub const UMAS: Self = Self(90);

    /// The code without the exception bit.
    pub fn base(self) -> u8 {
        self.0 & 0x7F
    }

    pub fn is_exception(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// Name of the code (exception bit ignored); "Unassigned" for codes nobody defines.
    pub fn name(self) -> &'static str {
        match self.base() {
            1 => "Read Coils",
            2 => "Read Discrete Inputs",
            3 => "Read Holding Registers",
            4 => "Read Input Registers",
            5 => "Write Single Coil",
            6 => "Write Single Register",
            7 => "Read Exception Status",
            8 => "Diagnostics",
            9 => "Program 484",
            10 => "Poll 484",
            11 => "Get Comm Event Counter",
            12 => "Get Comm Event Log",
            13 => "Program 584/984",
            14 => "Poll 584/984",
            15 => "Write Multiple Coils",
            16 => "Write Multiple Registers",
            17 => "Report Server ID",
            18 => "Program 884/U84",
            19 => "Reset Comm Link 884/U84",
            20 => "Read File Record",
            21 => "Write File Record",
            22 => "Mask Write Register",
            23 => "Read/Write Multiple Registers",
            24 => "Read FIFO Queue",
            40 => "Program (Concept)",
            41 => "Multiple Function Codes",
            42 => "Reserved (legacy 42)",
            43 => "Encapsulated Interface Transport",
            90 => "UMAS (Schneider Unity)",
            91 => "Object Messaging",
            125 => "Firmware Replacement",
            126 => "Program 584/984-2",
            127 => "Report Local Address",
            65..=72 | 100..=110 => "User-Defined",
            _ => "Unassigned",
        }
    }

    /// True for codes someone defines: public, legacy/vendor or the user-defined ranges.
    pub fn is_assigned(self) -> bool {
        !matches!(self.name(), "Unassigned")
    }

    /// Codes whose layout this decoder knows in full.
    pub fn is_public(self) -> bool {
        matches!(self.base(), 1..=8 | 11 | 12 | 15..=17 | 20..=24 | 43)
    }

    /// True for the codes that change process state or configuration.
    pub fn is_write(self) -> bool {
        matches!(self.base(), 5 | 6 | 15 | 16 | 21 | 22 | 23)
    }
}

/// Exception code (§7). Code 7 (Negative Acknowledge) is legacy but real.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExceptionCode(pub u8);

impl ExceptionCode {
    pub const ILLEGAL_FUNCTION: Self = Self(1);
    pub const ILLEGAL_DATA_ADDRESS: Self = Self(2);
    pub const ILLEGAL_DATA_VALUE: Self = Self(3);
    pub const SERVER_DEVICE_FAILURE: Self = Self(4);
    pub const ACKNOWLEDGE: Self = Self(5);
    pub const SERVER_DEVICE_BUSY: Self = Self(6);
    pub const NEGATIVE_ACKNOWLEDGE: Self = Self(7);
    pub const MEMORY_PARITY_ERROR: Self = Self(8);
    pub const GATEWAY_PATH_UNAVAILABLE: Self = Self(10);
    pub const GATEWAY_TARGET_FAILED: Self = Self(11);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "Illegal Function",
            2 => "Illegal Data Address",
            3 => "Illegal Data Value",
            4 => "Server Device Failure",
            5 => "Acknowledge",
            6 => "Server Device Busy",
            7 => "Negative Acknowledge",
            8 => "Memory Parity Error",
            10 => "Gateway Path Unavailable",
            11 => "Gateway Target Device Failed to Respond",
            _ => return None,
        })
    }
}

/// FC 8 sub-function (§6.8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DiagSub(pub u16);

impl DiagSub {
    pub const RETURN_QUERY_DATA: Self = Self(0x00);
    pub const RESTART_COMMUNICATIONS: Self = Self(0x01);
    pub const FORCE_LISTEN_ONLY: Self = Self(0x04);
    pub const CLEAR_COUNTERS: Self = Self(0x0A);
    /// FC 8/0x01 data that also clears the event log.
    pub const RESTART_CLEAR_LOG: u16 = 0xFF00;

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "Return Query Data",
            0x01 => "Restart Communications Option",
            0x02 => "Return Diagnostic Register",
            0x03 => "Change ASCII Input Delimiter",
            0x04 => "Force Listen Only Mode",
            0x0A => "Clear Counters and Diagnostic Register",
            0x0B => "Return Bus Message Count",
            0x0C => "Return Bus Communication Error Count",
            0x0D => "Return Bus Exception Error Count",
            0x0E => "Return Server Message Count",
            0x0F => "Return Server No Response Count",
            0x10 => "Return Server NAK Count",
            0x11 => "Return Server Busy Count",
            0x12 => "Return Bus Character Overrun Count",
            0x13 => "Return IOP Overrun Count (legacy)",
            0x14 => "Clear Overrun Counter and Flag",
            0x15 => "Get/Clear Modbus Plus Statistics (legacy)",
            _ => return None,
        })
    }
}

/// FC 43 MEI type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MeiType(pub u8);

impl MeiType {
    pub const CANOPEN_GENERAL_REFERENCE: Self = Self(13);
    pub const READ_DEVICE_ID: Self = Self(14);

    pub fn name(self) -> Option<&'static str> {
        match self.0 {
            13 => Some("CANopen General Reference"),
            14 => Some("Read Device Identification"),
            _ => None,
        }
    }
}

/// 43/14 Read Device ID code.
pub fn read_device_id_code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "basic",
        2 => "regular",
        3 => "extended",
        4 => "specific",
        _ => return None,
    })
}

/// 43/14 conformity level.
pub fn conformity_level_name(level: u8) -> Option<&'static str> {
    Some(match level {
        0x01 => "basic (stream)",
        0x02 => "regular (stream)",
        0x03 => "extended (stream)",
        0x81 => "basic (stream, individual)",
        0x82 => "regular (stream, individual)",
        0x83 => "extended (stream, individual)",
        _ => return None,
    })
}

/// 43/14 object names (0x00–0x06); reserved and private ids have none.
pub fn device_object_name(id: u8) -> Option<&'static str> {
    Some(match id {
        0x00 => "VendorName",
        0x01 => "ProductCode",
        0x02 => "MajorMinorRevision",
        0x03 => "VendorUrl",
        0x04 => "ProductName",
        0x05 => "ModelName",
        0x06 => "UserApplicationName",
        _ => return None,
    })
}

/// UMAS function code carried by FC 90 (Schneider Unity / Control Expert).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UmasCode(pub u8);

impl UmasCode {
    pub const START_PLC: Self = Self(0x40);
    pub const STOP_PLC: Self = Self(0x41);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x01 => "INIT_COMM",
            0x02 => "READ_ID",
            0x03 => "READ_PROJECT_INFO",
            0x04 => "READ_PLC_INFO",
            0x06 => "READ_CARD_INFO",
            0x10 => "TAKE_PLC_RESERVATION",
            0x11 => "RELEASE_PLC_RESERVATION",
            0x12 => "KEEP_ALIVE",
            0x20 => "READ_MEMORY_BLOCK",
            0x22 => "READ_VARIABLES",
            0x23 => "WRITE_VARIABLES",
            0x24 => "READ_COILS_REGISTERS",
            0x25 => "WRITE_COILS_REGISTERS",
            0x30 => "INITIALIZE_DOWNLOAD",
            0x31 => "DOWNLOAD_BLOCK",
            0x32 => "END_DOWNLOAD",
            0x33 => "INITIALIZE_UPLOAD",
            0x34 => "UPLOAD_BLOCK",
            0x35 => "END_UPLOAD",
            0x40 => "START_PLC",
            0x41 => "STOP_PLC",
            0x50 => "MONITOR_PLC",
            0x58 => "CHECK_PLC",
            0x70 => "READ_IO_OBJECT",
            0x71 => "WRITE_IO_OBJECT",
            0xFE => "RESPONSE_OK",
            0xFD => "RESPONSE_ERROR",
            _ => return None,
        })
    }

    /// What the function means for security (protocols.md 2.6).
    pub fn risk(self) -> &'static str {
        match self.0 {
            0x01 | 0x10..=0x12 => "session",
            0x02..=0x04 | 0x06 => "recon",
            0x20 | 0x22 | 0x24 | 0x70 => "read",
            0x23 | 0x25 | 0x71 => "write",
            0x30..=0x32 => "logic_download",
            0x33..=0x35 => "logic_upload",
            0x40 | 0x41 => "start_stop",
            0x50 | 0x58 => "monitor",
            _ => "other",
        }
    }
}

/// MBAP header (Implementation Guide §3.1.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MbapHeader {
    pub transaction_id: u16,
    /// 0 for Modbus.
    pub protocol_id: u16,
    /// Bytes that follow the length field (unit id + PDU), as sent.
    pub length: u16,
    pub unit_id: u8,
}

/// How the end of an ADU was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// By the MBAP length field (the normal case).
    Mbap,
    /// By the function code's own layout, because the length field was unusable.
    FunctionCode,
}

/// Why the bytes at the start of the input are not a Modbus ADU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotModbus {
    /// Protocol id ≠ 0 and the length field or the PDU layout disagree too.
    ProtocolId(u16),
    /// Length field out of 2..=254 and the function code gives no layout to frame by.
    Length(u16),
}

/// Errors of [`parse_adu`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModbusError {
    /// Not enough bytes; nothing consumed. `needed` is the shortfall when known.
    #[error("incomplete Modbus ADU")]
    Incomplete { needed: Option<NonZeroUsize> },
    /// The bytes at `offset` are not a Modbus ADU header.
    #[error("not a Modbus ADU (offset {offset}: {reason:?})")]
    Malformed { offset: usize, reason: NotModbus },
}

fn incomplete(have: usize, want: usize) -> ModbusError {
    ModbusError::Incomplete { needed: NonZeroUsize::new(want.saturating_sub(have)) }
}

/// Decoded PDU content, borrowing from the input. Register and bit data stay raw bytes; the
/// record layer turns a bounded number of them into values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pdu<'a> {
    /// Exception response: `fc | 0x80`, code.
    Exception { code: ExceptionCode },
    /// Request without data (FC 7, 11, 12, 17).
    Empty,
    /// FC 1–4 request.
    ReadRequest { address: u16, quantity: u16 },
    /// FC 1/2 response: packed bits, LSB first.
    ReadBits { byte_count: u8, bits: &'a [u8] },
    /// FC 3/4/23 response: big-endian registers.
    ReadRegisters { byte_count: u8, registers: &'a [u8] },
    /// FC 5/6 request and echo.
    WriteSingle { address: u16, value: u16 },
    /// FC 15 request.
    WriteCoils { address: u16, quantity: u16, byte_count: u8, bits: &'a [u8] },
    /// FC 16 request.
    WriteRegisters { address: u16, quantity: u16, byte_count: u8, registers: &'a [u8] },
    /// FC 15/16 response.
    WriteMultipleResponse { address: u16, quantity: u16 },
    /// FC 7 response.
    ExceptionStatus { status: u8 },
    /// FC 8 request and response.
    Diagnostic { sub: DiagSub, data: &'a [u8] },
    /// FC 11 response.
    CommEventCounter { status: u16, event_count: u16 },
    /// FC 12 response.
    CommEventLog { byte_count: u8, status: u16, event_count: u16, message_count: u16, events: &'a [u8] },
    /// FC 17 response: server id, run indicator and additional data, device-specific split.
    ReportServerId { byte_count: u8, data: &'a [u8] },
    /// FC 20 request, FC 21 request and response: 7-byte sub-request headers (FC 21 with data).
    FileRecords { byte_count: u8, subs: &'a [u8], with_data: bool },
    /// FC 20 response: sub-responses `len, ref type, data`.
    FileRecordData { byte_count: u8, subs: &'a [u8] },
    /// FC 22 request and echo.
    MaskWrite { address: u16, and_mask: u16, or_mask: u16 },
    /// FC 23 request.
    ReadWriteRequest {
        read_address: u16,
        read_quantity: u16,
        write_address: u16,
        write_quantity: u16,
        byte_count: u8,
        registers: &'a [u8],
    },
    /// FC 24 request.
    FifoRequest { pointer: u16 },
    /// FC 24 response.
    FifoResponse { byte_count: u16, fifo_count: u16, registers: &'a [u8] },
    /// 43/14 request.
    DeviceIdRequest { read_code: u8, object_id: u8 },
    /// 43/14 response; iterate `objects` with [`DeviceIdObjects`].
    DeviceIdResponse {
        read_code: u8,
        conformity: u8,
        more_follows: u8,
        next_object_id: u8,
        number_of_objects: u8,
        objects: &'a [u8],
    },
    /// FC 43 with another MEI type (13 = CANopen General Reference): framed, kept raw.
    Mei { mei_type: MeiType, data: &'a [u8] },
    /// FC 90 UMAS: session key, UMAS function (request) or status (response), data.
    Umas { session_key: u8, code: UmasCode, data: &'a [u8] },
    /// Legacy, user-defined, unknown or undecodable content: raw bytes after the function code.
    Raw { data: &'a [u8] },
}

/// One framed Modbus/TCP ADU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModbusAdu<'a> {
    pub header: MbapHeader,
    /// Function code byte as sent.
    pub function: FunctionCode,
    /// PDU bytes after the function code, as framed.
    pub data: &'a [u8],
    pub framing: Framing,
    pub pdu: Pdu<'a>,
    pub anomalies: Anomalies,
    /// Framing or content could not be decoded as the function code requires.
    pub malformed: bool,
}

/// Sequential big-endian reader over a byte slice; every read is checked.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        match self.buf {
            [h, l, rest @ ..] => {
                let v = u16::from_be_bytes([*h, *l]);
                self.buf = rest;
                Some(v)
            }
            _ => None,
        }
    }

    /// Takes `n` bytes, or everything left when fewer remain (the caller compares lengths).
    fn take_upto(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.buf.split_at(n.min(self.buf.len()));
        self.buf = rest;
        head
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// PDU length (function code included) that the function code's layout implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Implied {
    Known(usize),
    /// The layout needs a byte count that has not arrived.
    NeedMore,
    /// Variable or unknown layout (FC 8, 43 responses, UMAS, legacy and unknown codes).
    Unknown,
}

/// What the function code at `pdu[0]` says the PDU length is, from the bytes seen so far.
fn implied_pdu_len(role: Role, pdu: &[u8]) -> Implied {
    let Some(&fc) = pdu.first() else {
        return Implied::NeedMore;
    };
    let byte_at = |i: usize| pdu.get(i).map(|&b| usize::from(b));
    let counted = |at: usize, fixed: usize| match byte_at(at) {
        Some(bc) => Implied::Known(fixed + bc),
        None => Implied::NeedMore,
    };
    match role {
        Role::Request => match fc & 0x7F {
            1..=6 => Implied::Known(5),
            7 | 11 | 12 | 17 => Implied::Known(1),
            15 | 16 => counted(5, 6),
            20 | 21 => counted(1, 2),
            22 => Implied::Known(7),
            23 => counted(9, 10),
            24 => Implied::Known(3),
            43 => match byte_at(1) {
                Some(14) => Implied::Known(4),
                Some(_) => Implied::Unknown,
                None => Implied::NeedMore,
            },
            _ => Implied::Unknown,
        },
        Role::Response => {
            if fc & 0x80 != 0 {
                return Implied::Known(2);
            }
            match fc {
                1..=4 | 12 | 17 | 20 | 21 | 23 => counted(1, 2),
                5 | 6 | 11 | 15 | 16 => Implied::Known(5),
                7 => Implied::Known(2),
                22 => Implied::Known(7),
                24 => match (byte_at(1), byte_at(2)) {
                    (Some(h), Some(l)) => Implied::Known(3 + (h << 8 | l)),
                    _ => Implied::NeedMore,
                },
                _ => Implied::Unknown,
            }
        }
    }
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at.checked_add(2)?) {
        Some(&[h, l]) => Some(u16::from_be_bytes([h, l])),
        _ => None,
    }
}

fn read_header(input: &[u8]) -> Option<(MbapHeader, FunctionCode)> {
    match input.get(..8) {
        Some(&[t0, t1, p0, p1, l0, l1, unit, fc]) => Some((
            MbapHeader {
                transaction_id: u16::from_be_bytes([t0, t1]),
                protocol_id: u16::from_be_bytes([p0, p1]),
                length: u16::from_be_bytes([l0, l1]),
                unit_id: unit,
            },
            FunctionCode(fc),
        )),
        _ => None,
    }
}

fn length_in_range(len: u16) -> bool {
    (MBAP_LENGTH_MIN..=MBAP_LENGTH_MAX).contains(&len)
}

/// Frames and decodes one ADU at the start of `input`. See the module docs for the contract.
pub fn parse_adu(input: &[u8], role: Role) -> Result<(ModbusAdu<'_>, usize), ModbusError> {
    let Some((header, function)) = read_header(input) else {
        return Err(incomplete(input.len(), MBAP_HEADER_LEN + 1));
    };
    let pdu_in = input.get(MBAP_HEADER_LEN..).unwrap_or(&[]);
    let mut anomalies = Anomalies::default();
    let len_ok = length_in_range(header.length);
    let mbap_end = 6 + usize::from(header.length);

    if header.protocol_id == 0 && len_ok {
        if input.len() >= mbap_end {
            return Ok((build(input, header, function, mbap_end, Framing::Mbap, anomalies, role), mbap_end));
        }
        // The length promises more than has arrived. If the function code fixes a shorter PDU and
        // the data already holds it, the length is a lie: report the ADU now instead of waiting.
        if let Implied::Known(pdu_len) = implied_pdu_len(role, pdu_in) {
            let end = MBAP_HEADER_LEN + pdu_len;
            if end < mbap_end && input.len() >= end {
                anomalies.push(anomaly::MBAP_LENGTH_EXCEEDS_PDU);
                let adu = build(input, header, function, end, Framing::FunctionCode, anomalies, role);
                return Ok((ModbusAdu { malformed: true, ..adu }, end));
            }
        }
        return Err(incomplete(input.len(), mbap_end));
    }

    // The header is bad. Frame by the function code when its layout is fixed, so that a lying
    // length or protocol id on an otherwise valid PDU is reported as such and not as junk.
    let end = match implied_pdu_len(role, pdu_in) {
        Implied::Known(pdu_len) if pdu_len <= PDU_MAX => MBAP_HEADER_LEN + pdu_len,
        Implied::NeedMore if header.protocol_id == 0 || len_ok => {
            return Err(ModbusError::Incomplete { needed: None });
        }
        _ => return Err(not_modbus(header)),
    };
    let framing = if header.protocol_id != 0 {
        // A foreign protocol id is only believable when the length agrees with the layout.
        if !len_ok || end != mbap_end {
            return Err(not_modbus(header));
        }
        anomalies.push(anomaly::PROTOCOL_ID_NONZERO);
        Framing::Mbap
    } else {
        anomalies.push(if header.length < MBAP_LENGTH_MIN {
            anomaly::MBAP_LENGTH_BELOW_MIN
        } else {
            anomaly::MBAP_LENGTH_ABOVE_MAX
        });
        Framing::FunctionCode
    };
    if input.len() < end {
        return Err(incomplete(input.len(), end));
    }
    let adu = build(input, header, function, end, framing, anomalies, role);
    Ok((ModbusAdu { malformed: true, ..adu }, end))
}

fn not_modbus(h: MbapHeader) -> ModbusError {
    if h.protocol_id != 0 {
        ModbusError::Malformed { offset: 2, reason: NotModbus::ProtocolId(h.protocol_id) }
    } else {
        ModbusError::Malformed { offset: 4, reason: NotModbus::Length(h.length) }
    }
}

fn build<'a>(
    input: &'a [u8],
    header: MbapHeader,
    function: FunctionCode,
    end: usize,
    framing: Framing,
    mut anomalies: Anomalies,
    role: Role,
) -> ModbusAdu<'a> {
    let data = input.get(MBAP_HEADER_LEN + 1..end).unwrap_or(&[]);
    let mut malformed = false;
    let pdu = parse_pdu(role, function, data, &mut anomalies, &mut malformed);
    ModbusAdu { header, function, data, framing, pdu, anomalies, malformed }
}

/// Decodes the PDU after its function code. Never fails: undecodable content becomes
/// [`Pdu::Raw`] with anomalies and `malformed` set.
pub fn parse_pdu<'a>(
    role: Role,
    function: FunctionCode,
    data: &'a [u8],
    anomalies: &mut Anomalies,
    malformed: &mut bool,
) -> Pdu<'a> {
    let mut rd = Reader { buf: data };
    let parsed = match role {
        Role::Request => {
            if function.0 == 0 {
                anomalies.push(anomaly::FUNCTION_CODE_ZERO);
                *malformed = true;
            } else if function.is_exception() {
                anomalies.push(anomaly::EXCEPTION_BIT_IN_REQUEST);
                *malformed = true;
            } else if !function.is_assigned() {
                anomalies.push(anomaly::UNASSIGNED_FUNCTION_CODE);
            }
            parse_request(function.base(), &mut rd, anomalies, malformed)
        }
        Role::Response if function.is_exception() => rd.u8().map(|code| {
            if ExceptionCode(code).name().is_none() {
                anomalies.push(anomaly::UNKNOWN_EXCEPTION_CODE);
            }
            Pdu::Exception { code: ExceptionCode(code) }
        }),
        Role::Response => {
            if !function.is_assigned() {
                anomalies.push(anomaly::UNASSIGNED_FUNCTION_CODE);
            }
            parse_response(function.0, &mut rd, anomalies, malformed)
        }
    };
    match parsed {
        Some(pdu) => {
            if rd.remaining() > 0 {
                anomalies.push(anomaly::PDU_TRAILING_BYTES);
            }
            pdu
        }
        None => {
            anomalies.push(anomaly::PDU_TRUNCATED);
            *malformed = true;
            Pdu::Raw { data }
        }
    }
}

fn check_quantity(q: u16, max: u16, anomalies: &mut Anomalies) {
    if q == 0 || q > max {
        anomalies.push(anomaly::QUANTITY_OUT_OF_RANGE);
    }
}

fn check_range(address: u16, q: u16, anomalies: &mut Anomalies) {
    if u32::from(address) + u32::from(q) > 0x1_0000 {
        anomalies.push(anomaly::ADDRESS_RANGE_OVERFLOW);
    }
}

/// Takes `byte_count` bytes; fewer present → flagged and malformed.
fn counted<'a>(
    rd: &mut Reader<'a>,
    byte_count: usize,
    anomalies: &mut Anomalies,
    malformed: &mut bool,
) -> &'a [u8] {
    if rd.remaining() < byte_count {
        anomalies.push(anomaly::BYTE_COUNT_EXCEEDS_DATA);
        *malformed = true;
    }
    rd.take_upto(byte_count)
}

fn bit_bytes(q: u16) -> usize {
    usize::from(q).div_ceil(8)
}

fn parse_request<'a>(fc: u8, rd: &mut Reader<'a>, an: &mut Anomalies, bad: &mut bool) -> Option<Pdu<'a>> {
    Some(match fc {
        1..=4 => {
            let address = rd.u16()?;
            let quantity = rd.u16()?;
            check_quantity(quantity, if fc <= 2 { 2000 } else { 125 }, an);
            check_range(address, quantity, an);
            Pdu::ReadRequest { address, quantity }
        }
        5 | 6 => {
            let address = rd.u16()?;
            let value = rd.u16()?;
            if fc == 5 && value != 0xFF00 && value != 0 {
                an.push(anomaly::INVALID_COIL_VALUE);
            }
            Pdu::WriteSingle { address, value }
        }
        7 | 11 | 12 | 17 => Pdu::Empty,
        8 => parse_diagnostic(rd, an)?,
        15 | 16 => {
            let address = rd.u16()?;
            let quantity = rd.u16()?;
            let byte_count = rd.u8()?;
            let (max, want) =
                if fc == 15 { (1968, bit_bytes(quantity)) } else { (123, usize::from(quantity) * 2) };
            check_quantity(quantity, max, an);
            check_range(address, quantity, an);
            if usize::from(byte_count) != want {
                an.push(anomaly::BYTE_COUNT_QUANTITY_MISMATCH);
            }
            let values = counted(rd, usize::from(byte_count), an, bad);
            if fc == 15 {
                Pdu::WriteCoils { address, quantity, byte_count, bits: values }
            } else {
                if byte_count % 2 != 0 {
                    an.push(anomaly::BYTE_COUNT_ODD);
                    *bad = true;
                }
                Pdu::WriteRegisters { address, quantity, byte_count, registers: values }
            }
        }
        20 | 21 => {
            let byte_count = rd.u8()?;
            let subs = counted(rd, usize::from(byte_count), an, bad);
            let valid =
                if fc == 20 { (7..=0xF5).contains(&byte_count) } else { (9..=0xFB).contains(&byte_count) };
            if !valid {
                an.push(anomaly::BYTE_COUNT_OUT_OF_RANGE);
            }
            check_file_subs(subs, fc == 21, an, bad);
            Pdu::FileRecords { byte_count, subs, with_data: fc == 21 }
        }
        22 => Pdu::MaskWrite { address: rd.u16()?, and_mask: rd.u16()?, or_mask: rd.u16()? },
        23 => {
            let read_address = rd.u16()?;
            let read_quantity = rd.u16()?;
            let write_address = rd.u16()?;
            let write_quantity = rd.u16()?;
            let byte_count = rd.u8()?;
            check_quantity(read_quantity, 125, an);
            check_quantity(write_quantity, 121, an);
            check_range(read_address, read_quantity, an);
            check_range(write_address, write_quantity, an);
            if usize::from(byte_count) != usize::from(write_quantity) * 2 {
                an.push(anomaly::BYTE_COUNT_QUANTITY_MISMATCH);
            }
            if byte_count % 2 != 0 {
                an.push(anomaly::BYTE_COUNT_ODD);
                *bad = true;
            }
            let registers = counted(rd, usize::from(byte_count), an, bad);
            Pdu::ReadWriteRequest {
                read_address,
                read_quantity,
                write_address,
                write_quantity,
                byte_count,
                registers,
            }
        }
        24 => Pdu::FifoRequest { pointer: rd.u16()? },
        43 => {
            let mei_type = MeiType(rd.u8()?);
            if mei_type == MeiType::READ_DEVICE_ID {
                let read_code = rd.u8()?;
                let object_id = rd.u8()?;
                if read_device_id_code_name(read_code).is_none() {
                    an.push(anomaly::INVALID_READ_DEVICE_ID_CODE);
                }
                Pdu::DeviceIdRequest { read_code, object_id }
            } else {
                if mei_type.name().is_none() {
                    an.push(anomaly::UNKNOWN_MEI_TYPE);
                }
                Pdu::Mei { mei_type, data: rd.rest() }
            }
        }
        90 => Pdu::Umas { session_key: rd.u8()?, code: UmasCode(rd.u8()?), data: rd.rest() },
        _ => Pdu::Raw { data: rd.rest() },
    })
}

fn parse_diagnostic<'a>(rd: &mut Reader<'a>, an: &mut Anomalies) -> Option<Pdu<'a>> {
    let sub = DiagSub(rd.u16()?);
    let data = rd.rest();
    if sub == DiagSub::RESTART_COMMUNICATIONS {
        if let Some(v) = be16(data, 0) {
            if v != 0 && v != DiagSub::RESTART_CLEAR_LOG {
                an.push(anomaly::INVALID_DIAGNOSTIC_DATA);
            }
        }
    }
    Some(Pdu::Diagnostic { sub, data })
}

fn parse_response<'a>(fc: u8, rd: &mut Reader<'a>, an: &mut Anomalies, bad: &mut bool) -> Option<Pdu<'a>> {
    Some(match fc {
        1 | 2 => {
            let byte_count = rd.u8()?;
            let bits = counted(rd, usize::from(byte_count), an, bad);
            Pdu::ReadBits { byte_count, bits }
        }
        3 | 4 | 23 => {
            let byte_count = rd.u8()?;
            if byte_count % 2 != 0 {
                an.push(anomaly::BYTE_COUNT_ODD);
                *bad = true;
            }
            let registers = counted(rd, usize::from(byte_count), an, bad);
            Pdu::ReadRegisters { byte_count, registers }
        }
        5 | 6 => {
            let address = rd.u16()?;
            let value = rd.u16()?;
            if fc == 5 && value != 0xFF00 && value != 0 {
                an.push(anomaly::INVALID_COIL_VALUE);
            }
            Pdu::WriteSingle { address, value }
        }
        7 => Pdu::ExceptionStatus { status: rd.u8()? },
        8 => parse_diagnostic(rd, an)?,
        11 => Pdu::CommEventCounter { status: rd.u16()?, event_count: rd.u16()? },
        12 => {
            let byte_count = rd.u8()?;
            let body = counted(rd, usize::from(byte_count), an, bad);
            let mut b = Reader { buf: body };
            match (b.u16(), b.u16(), b.u16()) {
                (Some(status), Some(event_count), Some(message_count)) => {
                    Pdu::CommEventLog { byte_count, status, event_count, message_count, events: b.rest() }
                }
                _ => {
                    an.push(anomaly::BYTE_COUNT_OUT_OF_RANGE);
                    *bad = true;
                    Pdu::Raw { data: body }
                }
            }
        }
        15 | 16 => {
            let address = rd.u16()?;
            let quantity = rd.u16()?;
            // FC 15 counts coils (max 1968), FC 16 registers (max 123); never the other way round.
            check_quantity(quantity, if fc == 15 { 1968 } else { 123 }, an);
            check_range(address, quantity, an);
            Pdu::WriteMultipleResponse { address, quantity }
        }
        17 => {
            let byte_count = rd.u8()?;
            let data = counted(rd, usize::from(byte_count), an, bad);
            Pdu::ReportServerId { byte_count, data }
        }
        20 => {
            let byte_count = rd.u8()?;
            let subs = counted(rd, usize::from(byte_count), an, bad);
            check_file_data(subs, an, bad);
            Pdu::FileRecordData { byte_count, subs }
        }
        21 => {
            let byte_count = rd.u8()?;
            let subs = counted(rd, usize::from(byte_count), an, bad);
            check_file_subs(subs, true, an, bad);
            Pdu::FileRecords { byte_count, subs, with_data: true }
        }
        22 => Pdu::MaskWrite { address: rd.u16()?, and_mask: rd.u16()?, or_mask: rd.u16()? },
        24 => {
            let byte_count = rd.u16()?;
            let fifo_count = rd.u16()?;
            if fifo_count > 31 {
                an.push(anomaly::FIFO_COUNT_OUT_OF_RANGE);
            }
            if usize::from(byte_count) != 2 + usize::from(fifo_count) * 2 {
                an.push(anomaly::BYTE_COUNT_QUANTITY_MISMATCH);
            }
            let registers = counted(rd, usize::from(fifo_count) * 2, an, bad);
            Pdu::FifoResponse { byte_count, fifo_count, registers }
        }
        43 => {
            let mei_type = MeiType(rd.u8()?);
            if mei_type == MeiType::READ_DEVICE_ID {
                parse_device_id_response(rd, an, bad)?
            } else {
                if mei_type.name().is_none() {
                    an.push(anomaly::UNKNOWN_MEI_TYPE);
                }
                Pdu::Mei { mei_type, data: rd.rest() }
            }
        }
        90 => Pdu::Umas { session_key: rd.u8()?, code: UmasCode(rd.u8()?), data: rd.rest() },
        _ => Pdu::Raw { data: rd.rest() },
    })
}

fn parse_device_id_response<'a>(rd: &mut Reader<'a>, an: &mut Anomalies, bad: &mut bool) -> Option<Pdu<'a>> {
    let read_code = rd.u8()?;
    let conformity = rd.u8()?;
    let more_follows = rd.u8()?;
    let next_object_id = rd.u8()?;
    let number_of_objects = rd.u8()?;
    if read_device_id_code_name(read_code).is_none() {
        an.push(anomaly::INVALID_READ_DEVICE_ID_CODE);
    }
    if conformity_level_name(conformity).is_none() {
        an.push(anomaly::UNKNOWN_CONFORMITY_LEVEL);
    }
    if more_follows != 0 && more_follows != 0xFF {
        an.push(anomaly::INVALID_MORE_FOLLOWS);
    }
    let objects = rd.rest();
    let mut it = DeviceIdObjects::new(objects, number_of_objects);
    let mut seen = [0u64; 4];
    let mut count = 0usize;
    for (id, _) in it.by_ref() {
        count += 1;
        let (word, bit) = (usize::from(id >> 6), id & 63);
        if let Some(w) = seen.get_mut(word) {
            if *w & (1 << bit) != 0 {
                an.push(anomaly::MEI_DUPLICATE_OBJECT);
            }
            *w |= 1 << bit;
        }
    }
    if it.overrun {
        an.push(anomaly::MEI_OBJECT_OVERRUN);
        *bad = true;
    }
    if count != usize::from(number_of_objects) || it.rest_len() > 0 {
        an.push(anomaly::MEI_OBJECT_COUNT_MISMATCH);
    }
    Some(Pdu::DeviceIdResponse {
        read_code,
        conformity,
        more_follows,
        next_object_id,
        number_of_objects,
        objects,
    })
}

/// Iterates the `id, len, value` objects of a 43/14 response: at most `number_of_objects`, each
/// value bounded by the bytes that remain (`overrun` tells when one was cut).
#[derive(Clone, Debug)]
pub struct DeviceIdObjects<'a> {
    buf: &'a [u8],
    left: u8,
    /// An object header or value ran past the PDU.
    pub overrun: bool,
}

impl<'a> DeviceIdObjects<'a> {
    pub fn new(objects: &'a [u8], number_of_objects: u8) -> Self {
        DeviceIdObjects { buf: objects, left: number_of_objects, overrun: false }
    }

    /// Bytes not consumed by the announced objects.
    pub fn rest_len(&self) -> usize {
        self.buf.len()
    }
}

impl<'a> Iterator for DeviceIdObjects<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.overrun {
            return None;
        }
        let (id, len, rest) = match self.buf {
            [] => {
                self.left = 0;
                return None;
            }
            [id, len, rest @ ..] => (*id, usize::from(*len), rest),
            [_] => {
                self.overrun = true;
                self.buf = &[];
                return None;
            }
        };
        self.left -= 1;
        if len > rest.len() {
            self.overrun = true;
        }
        let (value, rest) = rest.split_at(len.min(rest.len()));
        self.buf = rest;
        Some((id, value))
    }
}

/// One FC 20/21 sub-request (reference type 6, file, record, length in registers, data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSubRequest<'a> {
    pub reference_type: u8,
    pub file: u16,
    pub record: u16,
    pub length: u16,
    /// FC 21 only: the record data (bounded by the bytes present).
    pub data: &'a [u8],
}

/// Iterates FC 20/21 sub-requests; stops at the first one cut short.
#[derive(Clone, Debug)]
pub struct FileSubRequests<'a> {
    buf: &'a [u8],
    with_data: bool,
    pub truncated: bool,
}

impl<'a> FileSubRequests<'a> {
    pub fn new(subs: &'a [u8], with_data: bool) -> Self {
        FileSubRequests { buf: subs, with_data, truncated: false }
    }
}

impl<'a> Iterator for FileSubRequests<'a> {
    type Item = FileSubRequest<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let mut rd = Reader { buf: self.buf };
        let (Some(reference_type), Some(file), Some(record), Some(length)) =
            (rd.u8(), rd.u16(), rd.u16(), rd.u16())
        else {
            self.truncated = true;
            self.buf = &[];
            return None;
        };
        let data = if self.with_data {
            let want = usize::from(length) * 2;
            if rd.remaining() < want {
                self.truncated = true;
            }
            rd.take_upto(want)
        } else {
            &[]
        };
        self.buf = rd.rest();
        Some(FileSubRequest { reference_type, file, record, length, data })
    }
}

/// Iterates FC 20 sub-responses (`len, ref type, data`), yielding (reference type, data).
#[derive(Clone, Debug)]
pub struct FileSubResponses<'a> {
    buf: &'a [u8],
    pub truncated: bool,
}

impl<'a> FileSubResponses<'a> {
    pub fn new(subs: &'a [u8]) -> Self {
        FileSubResponses { buf: subs, truncated: false }
    }
}

impl<'a> Iterator for FileSubResponses<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (len, reference_type, rest) = match self.buf {
            [] => return None,
            [len, rt, rest @ ..] => (usize::from(*len), *rt, rest),
            [_] => {
                self.truncated = true;
                self.buf = &[];
                return None;
            }
        };
        // The length counts the reference type byte too.
        let want = len.saturating_sub(1);
        if len == 0 || rest.len() < want {
            self.truncated = true;
        }
        let (data, rest) = rest.split_at(want.min(rest.len()));
        self.buf = rest;
        Some((reference_type, data))
    }
}

fn check_file_subs(subs: &[u8], with_data: bool, an: &mut Anomalies, bad: &mut bool) {
    let mut it = FileSubRequests::new(subs, with_data);
    for s in it.by_ref() {
        if s.reference_type != 6 {
            an.push(anomaly::INVALID_REFERENCE_TYPE);
        }
    }
    if it.truncated {
        an.push(anomaly::PDU_TRUNCATED);
        *bad = true;
    }
}

fn check_file_data(subs: &[u8], an: &mut Anomalies, bad: &mut bool) {
    let mut it = FileSubResponses::new(subs);
    for (rt, _) in it.by_ref() {
        if rt != 6 {
            an.push(anomaly::INVALID_REFERENCE_TYPE);
        }
    }
    if it.truncated {
        an.push(anomaly::PDU_TRUNCATED);
        *bad = true;
    }
}

/// True when a plausible ADU header for `role` could start at `at` given the bytes present:
/// protocol id 0, length 2..=254, a public function code (or UMAS), a length that agrees with
/// the function code's layout when that is fixed, and, once the whole ADU is there, a PDU that
/// decodes cleanly. Bytes not yet present are not held against it. Legacy and user-defined codes
/// are not accepted here: inside junk they are far more often coincidence than traffic.
fn plausible_at(input: &[u8], at: usize, role: Role) -> bool {
    let b = |i: usize| input.get(at + i).copied();
    if b(2).is_some_and(|v| v != 0) || b(3).is_some_and(|v| v != 0) || b(4).is_some_and(|v| v != 0) {
        return false;
    }
    if b(5).is_some_and(|v| !(2..=254).contains(&v)) {
        return false;
    }
    let Some(fc) = b(7) else {
        return true;
    };
    let fc = FunctionCode(fc);
    let known = FunctionCode(fc.base()).is_public() || fc.base() == FunctionCode::UMAS.0;
    let fc_ok = match role {
        Role::Request => !fc.is_exception() && known,
        // 0x80 alone is pymodbus' answer to unknown codes.
        Role::Response => fc.0 == 0x80 || known,
    };
    if !fc_ok {
        return false;
    }
    let rest = input.get(at..).unwrap_or(&[]);
    if let (Implied::Known(pdu_len), Some(len)) =
        (implied_pdu_len(role, rest.get(MBAP_HEADER_LEN..).unwrap_or(&[])), b(5))
    {
        if pdu_len + 1 != usize::from(len) {
            return false;
        }
    }
    match parse_adu(rest, role) {
        Ok((adu, _)) => !adu.malformed,
        Err(ModbusError::Incomplete { .. }) => true,
        Err(ModbusError::Malformed { .. }) => false,
    }
}

/// Where resynchronisation should resume: the first offset ≥ `from` at which a plausible ADU
/// header starts or cannot yet be ruled out. Returns `input.len()` when every byte is junk.
pub fn resync_offset(input: &[u8], role: Role, from: usize) -> usize {
    (from..input.len()).find(|&at| plausible_at(input, at, role)).unwrap_or(input.len())
}

#[cfg(test)]
// A failing test should stop loudly at the line that failed.
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn req(bytes: &[u8]) -> (ModbusAdu<'_>, usize) {
        match parse_adu(bytes, Role::Request) {
            Ok(v) => v,
            Err(e) => panic!("request did not parse: {e:?}"),
        }
    }

    fn rsp(bytes: &[u8]) -> (ModbusAdu<'_>, usize) {
        match parse_adu(bytes, Role::Response) {
            Ok(v) => v,
            Err(e) => panic!("response did not parse: {e:?}"),
        }
    }

    #[test]
    fn fc3_request_fields() {
        let bytes = [
            0x00, 0x11, // transaction id 17
            0x00, 0x00, // protocol id 0
            0x00, 0x06, // length 6: unit + 5-byte PDU
            0x01, // unit 1
            0x03, // FC 3 Read Holding Registers
            0x00, 0x64, // start address 100
            0x00, 0x0A, // quantity 10
        ];
        let (adu, n) = req(&bytes);
        assert_eq!(n, 12);
        assert_eq!(adu.header, MbapHeader { transaction_id: 17, protocol_id: 0, length: 6, unit_id: 1 });
        assert_eq!(adu.function, FunctionCode::READ_HOLDING_REGISTERS);
        assert_eq!(adu.pdu, Pdu::ReadRequest { address: 100, quantity: 10 });
        assert!(adu.anomalies.is_empty() && !adu.malformed);
        assert_eq!(adu.framing, Framing::Mbap);
    }

    #[test]
    fn every_truncation_of_a_valid_adu_is_incomplete() {
        let bytes = [0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02];
        for cut in 0..bytes.len() {
            assert!(
                matches!(parse_adu(&bytes[..cut], Role::Request), Err(ModbusError::Incomplete { .. })),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn exception_code_7_is_known_and_12_is_not() {
        // tid 1, prot 0, len 3, unit 1, fc 0x88 (FC 8 exception), code 7 Negative Acknowledge.
        let (adu, _) = rsp(&[0, 1, 0, 0, 0, 3, 1, 0x88, 0x07]);
        assert_eq!(adu.pdu, Pdu::Exception { code: ExceptionCode::NEGATIVE_ACKNOWLEDGE });
        assert!(adu.anomalies.is_empty());
        // Same with code 12, which nobody defines.
        let (adu, _) = rsp(&[0, 1, 0, 0, 0, 3, 1, 0x83, 0x0C]);
        assert!(adu.anomalies.contains(anomaly::UNKNOWN_EXCEPTION_CODE));
        assert!(!adu.malformed);
    }

    #[test]
    fn resync_skips_http_and_finds_the_next_header() {
        let mut bytes = b"GET / HTTP/1.0\r\n\r\n".to_vec();
        let at = bytes.len();
        bytes.extend_from_slice(&[0, 7, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1]);
        assert!(matches!(parse_adu(&bytes, Role::Request), Err(ModbusError::Malformed { .. })));
        assert_eq!(resync_offset(&bytes, Role::Request, 1), at);
    }
}
