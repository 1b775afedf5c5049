//! What the BACnet decoder emits: one [`BacnetRecord`] per datagram, owned and compact, plus
//! the names of every enumeration it decodes (ASHRAE 135 clause 21).
//!
//! Passwords (DeviceCommunicationControl, ReinitializeDevice) are never stored: a record says
//! whether one was present and how many octets it had, nothing else.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4};

use serde::{Serialize, Serializer};

use super::tags::{BacnetDate, BacnetObjectId, BacnetTime};

/// One BACnet/IP datagram as emitted by `fabmon decode`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BacnetRecord {
    /// BVLC function number.
    pub bvlc: u8,
    /// BVLC type (0x81 BACnet/IP).
    pub bvlc_type: u8,
    /// BVLC-Result code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bvlc_result: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bvlc_result_name: Option<&'static str>,
    /// Forwarded-NPDU: the original source (the device), where the UDP source is the BBMD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orig_src: Option<SocketAddrV4>,
    /// Payload of the BBMD and foreign-device functions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bvlc_info: Option<Box<BvlcInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub npdu: Option<NpduInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_message: Option<Box<NetworkMessageInfo>>,
    /// APDU type 0..7, or None for network-layer messages and BVLC-only messages.
    pub apdu_type: Option<u8>,
    /// Service choice, or None for reject/abort/segment-ack/network-layer.
    pub service: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<u8>,
    /// PDU flags, segmentation and max-APDU fields of the APDU header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<SegmentInfo>,
    /// Service parameters (or Error/Reject/Abort content).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<BacnetDetail>>,
    /// Property references and values read, written or notified, in wire order (at most
    /// `AppLimits::max_values_kept`; `properties_omitted` counts the rest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<BacnetProperty>,
    #[serde(skip_serializing_if = "is_zero")]
    pub properties_omitted: u32,
    /// Device identity this message reveals about its sender: I-Am fields, or device
    /// properties read back in a ComplexACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Box<BacnetIdentity>>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Payload of BVLC functions other than the NPDU carriers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BvlcInfo {
    /// Register-Foreign-Device: time-to-live in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u16>,
    /// Write-BDT / Read-BDT-Ack entries (at most `max_values_kept`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bdt: Vec<BdtEntryRecord>,
    /// Read-FDT-Ack entries (at most `max_values_kept`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fdt: Vec<FdtEntryRecord>,
    /// Number of table entries on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u32>,
    /// Delete-Foreign-Device-Table-Entry: the entry to delete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_entry: Option<SocketAddrV4>,
    /// Secure-BVLL and unknown functions: payload length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_len: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BdtEntryRecord {
    pub addr: SocketAddrV4,
    pub mask: Ipv4Addr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FdtEntryRecord {
    pub addr: SocketAddrV4,
    pub ttl: u16,
    pub remaining: u16,
}

/// A MAC address of the NPDU (DADR/SADR), kept inline up to 18 octets.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr {
    /// Length on the wire (DLEN/SLEN).
    pub len: u8,
    pub bytes: [u8; 18],
}

impl MacAddr {
    pub fn new(b: &[u8]) -> Self {
        let mut bytes = [0u8; 18];
        let n = b.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (bytes.get_mut(..n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
        MacAddr { len: u8::try_from(b.len()).unwrap_or(u8::MAX), bytes }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len).min(self.bytes.len())).unwrap_or_default()
    }
}

impl fmt::Display for MacAddr {
    /// Hex octets joined by `:`; an address longer than 18 octets ends in `…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_char(':')?;
            }
            write!(f, "{b:02x}")?;
        }
        if usize::from(self.len) > self.bytes.len() {
            f.write_char('…')?;
        }
        Ok(())
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// NPDU header fields (clause 6.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NpduInfo {
    pub version: u8,
    pub control: u8,
    /// 0 normal, 1 urgent, 2 critical-equipment, 3 life-safety.
    pub priority: u8,
    pub expecting_reply: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnet: Option<u16>,
    /// Empty with a DNET: broadcast on DNET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dadr: Option<MacAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snet: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sadr: Option<MacAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop_count: Option<u8>,
}

/// A network-layer message (clause 6.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetworkMessageInfo {
    pub msg_type: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    /// Proprietary messages (0x80–0xFF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<u16>,
    /// Single network number (Who-Is-Router, I-Could-Be-Router, Reject, Establish/Disconnect,
    /// Network-Number-Is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnet: Option<u16>,
    /// Network numbers of I-Am-Router, Router-Busy/Available and routing tables (at most
    /// `max_values_kept`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dnets: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_index: Option<u8>,
    /// Initialize-Routing-Table(-Ack): number of ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_time: Option<u8>,
    /// Network-Number-Is: 0 learned, 1 configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured: Option<u8>,
    pub payload_len: u32,
}

/// APDU header fields beyond type, invoke id and service (clause 20.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SegmentInfo {
    /// Low nibble of the first APDU octet.
    pub pdu_flags: u8,
    pub segmented: bool,
    pub more_follows: bool,
    /// Confirmed request: a segmented response is accepted (SA).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub segmented_response_accepted: bool,
    /// Confirmed request: max segments accepted (None when unspecified or more than 64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_segments: Option<u16>,
    /// Confirmed request: the raw max-segments code (0–7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_segments_code: Option<u8>,
    /// Confirmed request: max APDU length accepted in octets (None for reserved codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_apdu: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u8>,
    /// Proposed window (segmented messages) or actual window (SegmentACK).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u8>,
    /// SegmentACK: negative acknowledgement.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nak: bool,
    /// SegmentACK, Abort: sent by the server.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub server: bool,
    /// Set on the last segment when the segments were reassembled and decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reassembled: Option<Reassembled>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reassembled {
    pub segments: u32,
    pub bytes: u32,
}

/// Octets shown in hex, at most [`MAX_HEX`] of them; `len` is the length on the wire.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Hex {
    pub len: u32,
    pub bytes: Vec<u8>,
}

/// Octets kept for an opaque value.
pub const MAX_HEX: usize = 64;
/// UTF-8 bytes kept for a character string.
pub const MAX_TEXT: usize = 1024;

impl Hex {
    pub fn new(b: &[u8]) -> Self {
        Hex {
            len: u32::try_from(b.len()).unwrap_or(u32::MAX),
            bytes: b.get(..b.len().min(MAX_HEX)).unwrap_or_default().to_vec(),
        }
    }
}

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.bytes {
            write!(f, "{b:02x}")?;
        }
        if self.bytes.len() < self.len as usize {
            write!(f, "…({} octets)", self.len)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A CharacterString value: the text for UTF-8, ISO 8859-1 and UCS-2 (at most [`MAX_TEXT`]
/// bytes), the octets for the other character sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Text {
    pub charset: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub octets: Option<Hex>,
}

/// A BitString value: bits as `0`/`1` characters, first bit first (at most 8 × [`MAX_HEX`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bits {
    pub unused_bits: u8,
    pub bits: String,
}

/// An owned property value (clause 20.2 primitives, and constructed data as nested items).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum BacnetValue {
    Null,
    Boolean(bool),
    Unsigned(u64),
    Signed(i64),
    Real(f32),
    Double(f64),
    OctetString(Hex),
    CharacterString(Text),
    BitString(Bits),
    Enumerated(u64),
    Date(BacnetDate),
    Time(BacnetTime),
    ObjectId(BacnetObjectId),
    /// Reserved application tag (13–15 or extended).
    Reserved {
        tag: u8,
        octets: Hex,
    },
    /// Context-tagged primitive inside constructed data (its type depends on the property).
    Context {
        tag: u8,
        octets: Hex,
    },
    /// Context opening … closing tag `tag` and what it encloses.
    Constructed {
        tag: u8,
        items: Vec<BacnetValue>,
    },
    /// Several values of one property (a list or an array read whole).
    List(Vec<BacnetValue>),
}

impl fmt::Display for BacnetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BacnetValue::Null => f.write_str("null"),
            BacnetValue::Boolean(v) => write!(f, "{v}"),
            BacnetValue::Unsigned(v) | BacnetValue::Enumerated(v) => write!(f, "{v}"),
            BacnetValue::Signed(v) => write!(f, "{v}"),
            BacnetValue::Real(v) => write!(f, "{v}"),
            BacnetValue::Double(v) => write!(f, "{v}"),
            BacnetValue::OctetString(h) => write!(f, "0x{h}"),
            BacnetValue::CharacterString(t) => match (&t.text, &t.octets) {
                (Some(s), _) => write!(f, "{s:?}"),
                (None, Some(h)) => write!(f, "charset {} 0x{h}", t.charset),
                (None, None) => f.write_str("\"\""),
            },
            BacnetValue::BitString(b) => write!(f, "b'{}'", b.bits),
            BacnetValue::Date(d) => write!(f, "{d}"),
            BacnetValue::Time(t) => write!(f, "{t}"),
            BacnetValue::ObjectId(o) => write!(f, "{o}"),
            BacnetValue::Reserved { tag, octets } => write!(f, "app{tag}:0x{octets}"),
            BacnetValue::Context { tag, octets } => write!(f, "[{tag}]0x{octets}"),
            BacnetValue::Constructed { tag, items } => {
                write!(f, "[{tag}]")?;
                write_list(f, items)
            }
            BacnetValue::List(items) => write_list(f, items),
        }
    }
}

/// Items of a list shown in text; the record keeps more.
const LIST_SHOWN: usize = 8;

fn write_list(f: &mut fmt::Formatter<'_>, items: &[BacnetValue]) -> fmt::Result {
    f.write_char('{')?;
    for (i, v) in items.iter().take(LIST_SHOWN).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{v}")?;
    }
    if items.len() > LIST_SHOWN {
        write!(f, ", … {} items", items.len())?;
    }
    f.write_char('}')
}

impl BacnetValue {
    /// The text of a CharacterString.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            BacnetValue::CharacterString(Text { text: Some(t), .. }) => Some(t),
            _ => None,
        }
    }

    /// An Unsigned or Enumerated value.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            BacnetValue::Unsigned(v) | BacnetValue::Enumerated(v) => Some(*v),
            _ => None,
        }
    }
}

/// One property reference, with its value when the message carries one.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BacnetProperty {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<BacnetObjectId>,
    pub property: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<BacnetValue>,
    /// WritePropertyMultiple and COV notifications: priority of this value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// ReadPropertyMultiple-ACK: the property could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// Values of this property past the per-record cap.
    #[serde(skip_serializing_if = "is_zero")]
    pub values_omitted: u32,
}

impl BacnetProperty {
    pub fn new(object: Option<BacnetObjectId>, property: u32) -> Self {
        BacnetProperty { object, property, property_name: property_name(property), ..Default::default() }
    }
}

/// An error class and code (21, BACnetError).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    pub error_class: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class_name: Option<&'static str>,
    pub error_code: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code_name: Option<&'static str>,
}

impl ErrorInfo {
    pub fn new(class: u32, code: u32) -> Self {
        ErrorInfo {
            error_class: class,
            error_class_name: error_class_name(class),
            error_code: code,
            error_code_name: error_code_name(code),
        }
    }
}

/// Identity a message reveals about its sender, with the keys the inventory uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BacnetIdentity {
    /// Device object instance (I-Am, or the device object read; None for the wildcard).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_instance: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_apdu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// firmware-revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// application-software-version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_software: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_revision: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_revision: Option<u32>,
}

impl BacnetIdentity {
    /// Takes a device property value into the identity. `None` when the property is not one
    /// the identity keeps; `Some(false)` when it is but the value has the wrong datatype
    /// (e.g. an object-name that is not a CharacterString), which leaves the identity as it was.
    pub fn absorb(&mut self, property: u32, value: &BacnetValue) -> Option<bool> {
        fn set<T>(slot: &mut Option<T>, v: Option<T>) -> bool {
            let ok = v.is_some();
            if ok {
                *slot = v;
            }
            ok
        }
        let text = value.as_text().map(str::to_owned);
        let num = value.as_u64().and_then(|v| u32::try_from(v).ok());
        Some(match property {
            prop::OBJECT_NAME => set(&mut self.object_name, text),
            prop::VENDOR_NAME => set(&mut self.vendor_name, text),
            prop::MODEL_NAME => set(&mut self.model_name, text),
            prop::FIRMWARE_REVISION => set(&mut self.firmware, text),
            prop::APPLICATION_SOFTWARE_VERSION => set(&mut self.app_software, text),
            prop::LOCATION => set(&mut self.location, text),
            prop::DESCRIPTION => set(&mut self.description, text),
            prop::SERIAL_NUMBER => set(&mut self.serial_number, text),
            prop::VENDOR_IDENTIFIER => set(&mut self.vendor_id, num),
            prop::PROTOCOL_VERSION => set(&mut self.protocol_version, num),
            prop::PROTOCOL_REVISION => set(&mut self.protocol_revision, num),
            prop::DATABASE_REVISION => set(&mut self.database_revision, num),
            prop::MAX_APDU_LENGTH_ACCEPTED => set(&mut self.max_apdu, num),
            prop::SEGMENTATION_SUPPORTED => set(&mut self.segmentation, num),
            // Read on the wildcard instance, object-identifier tells the device's instance.
            prop::OBJECT_IDENTIFIER => match value {
                BacnetValue::ObjectId(o) if o.is_device() => set(&mut self.device_instance, Some(o.instance)),
                _ => false,
            },
            _ => return None,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == BacnetIdentity::default()
    }
}

/// File access of AtomicReadFile/AtomicWriteFile (15.1, 15.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAccess {
    Stream,
    Record,
}

/// Service parameters, by service. Fields are those a monitor needs; the full value lists of
/// reads, writes and notifications are in [`BacnetRecord::properties`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BacnetDetail {
    /// I-Am (16.1).
    IAm {
        device: BacnetObjectId,
        max_apdu: u32,
        segmentation: u32,
        segmentation_name: Option<&'static str>,
        vendor_id: u32,
    },
    /// Who-Is (16.10): both limits or neither.
    WhoIs { low: Option<u32>, high: Option<u32> },
    /// Who-Has (16.9): optional range, then an object identifier or a name.
    WhoHas {
        low: Option<u32>,
        high: Option<u32>,
        object: Option<BacnetObjectId>,
        object_name: Option<String>,
    },
    /// I-Have (16.8).
    IHave { device: BacnetObjectId, object: BacnetObjectId, object_name: Option<String> },
    /// ReadProperty, WriteProperty, ReadRange, Add/RemoveListElement and their ACKs: the
    /// property addressed (its value is in `properties`).
    Property {
        object: BacnetObjectId,
        property: u32,
        property_name: Option<&'static str>,
        array_index: Option<u32>,
        /// WriteProperty priority 1..16.
        priority: Option<u8>,
    },
    /// ReadPropertyMultiple, WritePropertyMultiple and their ACK: counts (entries in
    /// `properties`).
    Multiple { objects: u32, properties: u32 },
    /// DeviceCommunicationControl (16.4). The password is never stored.
    DeviceCommunicationControl {
        /// Minutes; None = indefinite.
        duration_min: Option<u32>,
        enable_disable: Option<u32>,
        enable_disable_name: Option<&'static str>,
        password_present: bool,
        /// Octets of the password (after the character-set octet).
        password_length: Option<u32>,
    },
    /// ReinitializeDevice (16.5). The password is never stored.
    ReinitializeDevice {
        state: u32,
        state_name: Option<&'static str>,
        password_present: bool,
        password_length: Option<u32>,
    },
    /// AtomicReadFile request and ACK (15.1), AtomicWriteFile request and ACK (15.2).
    /// `count`: octets requested/returned/written (stream) or records (record access).
    AtomicFile {
        file: Option<BacnetObjectId>,
        access: FileAccess,
        start: i64,
        count: Option<u64>,
        end_of_file: Option<bool>,
    },
    /// CreateObject (15.3) and its ACK.
    CreateObject { object_type: Option<u16>, object: Option<BacnetObjectId>, initial_values: u32 },
    /// DeleteObject (15.4).
    DeleteObject { object: BacnetObjectId },
    /// SubscribeCOV (13.14) and SubscribeCOVProperty (13.15).
    SubscribeCov {
        process_id: u64,
        object: BacnetObjectId,
        confirmed: Option<bool>,
        /// Seconds; 0 = indefinite.
        lifetime: Option<u32>,
        /// Neither `confirmed` nor `lifetime` present.
        cancellation: bool,
        property: Option<u32>,
        property_name: Option<&'static str>,
        array_index: Option<u32>,
        cov_increment: Option<f32>,
    },
    /// Confirmed/UnconfirmedCOVNotification (13.6, 13.7); values in `properties`.
    CovNotification { process_id: u64, device: BacnetObjectId, object: BacnetObjectId, time_remaining: u32 },
    /// Confirmed/UnconfirmedEventNotification (13.8, 13.9), first fields.
    EventNotification { process_id: u64, device: BacnetObjectId, object: BacnetObjectId },
    /// AcknowledgeAlarm (13.5), first fields.
    AcknowledgeAlarm { process_id: u64, object: BacnetObjectId, event_state: u32 },
    /// LifeSafetyOperation (13.13).
    LifeSafetyOperation { process_id: u64, request: u32, object: Option<BacnetObjectId> },
    /// TimeSynchronization (16.7) and UTCTimeSynchronization (16.8).
    TimeSynchronization { date: BacnetDate, time: BacnetTime, utc: bool },
    /// WriteGroup (16.10a).
    WriteGroup { group_number: u32, priority: u32, changes: u32, inhibit_delay: Option<bool> },
    /// Confirmed/UnconfirmedPrivateTransfer (16.2, 16.3) and the ACK.
    PrivateTransfer { vendor_id: u32, service_number: u32, parameters_len: Option<u32> },
    /// Confirmed/UnconfirmedTextMessage (16.5, 16.6): the text itself is not kept.
    TextMessage { source_device: BacnetObjectId, priority: u32, length: u32 },
    /// Error PDU (20.1.7).
    Error(ErrorInfo),
    /// Reject PDU (20.1.8).
    Reject { reason: u8, reason_name: Option<&'static str> },
    /// Abort PDU (20.1.9).
    Abort { reason: u8, reason_name: Option<&'static str>, server: bool },
}

impl BacnetRecord {
    /// One readable line, e.g.
    /// `confirmed-request writeProperty analog-output,1 present-value = 21.5 prio 8 invoke 12`.
    pub fn summary(&self) -> String {
        let mut s = String::with_capacity(96);
        // Writing into a String cannot fail.
        let _ = self.write_summary(&mut s);
        s
    }

    fn write_summary(&self, s: &mut String) -> fmt::Result {
        match self.apdu_type {
            Some(t) => {
                s.push_str(pdu_type_name(t).unwrap_or("apdu"));
                match (self.service_name, self.service) {
                    (Some(n), _) => write!(s, " {n}")?,
                    (None, Some(v)) => write!(s, " service-{v}")?,
                    (None, None) => {}
                }
                if let Some(seg) = &self.segmentation {
                    if t == 4 {
                        write!(s, " seq {}", seg.sequence.unwrap_or(0))?;
                        write!(s, " window {}", seg.window.unwrap_or(0))?;
                        if seg.nak {
                            s.push_str(" nak");
                        }
                    } else if seg.segmented {
                        write!(s, " segment {}", seg.sequence.unwrap_or(0))?;
                        if seg.more_follows {
                            s.push_str(" more");
                        }
                        if let Some(r) = seg.reassembled {
                            write!(s, " (reassembled {} segments, {} octets)", r.segments, r.bytes)?;
                        }
                    }
                }
                if let Some(d) = &self.detail {
                    self.write_detail(s, d)?;
                } else {
                    self.write_properties(s, 0)?;
                }
                if let Some(id) = self.invoke_id {
                    write!(s, " invoke {id}")?;
                }
            }
            None => match &self.network_message {
                Some(m) => {
                    s.push_str("network ");
                    match m.name {
                        Some(n) => s.push_str(n),
                        None => write!(s, "message-{:#04x}", m.msg_type)?,
                    }
                    if let Some(v) = m.vendor_id {
                        write!(s, " vendor {v}")?;
                    }
                    if let Some(r) = m.reject_reason {
                        write!(s, " reason {}", m.reject_reason_name.unwrap_or("?"))?;
                        let _ = r;
                    }
                    if let Some(d) = m.dnet {
                        write!(s, " dnet {d}")?;
                    }
                    if !m.dnets.is_empty() {
                        s.push_str(" dnets");
                        for d in &m.dnets {
                            write!(s, " {d}")?;
                        }
                    }
                }
                None if self.npdu.is_some() => {
                    s.push_str("npdu without a decodable apdu");
                }
                None => {
                    s.push_str("bvlc ");
                    match super::bvlc::BvlcFunction(self.bvlc).name() {
                        Some(n) => s.push_str(n),
                        None => write!(s, "function-{:#04x}", self.bvlc)?,
                    }
                    if let Some(r) = self.bvlc_result {
                        match self.bvlc_result_name {
                            Some(n) => write!(s, " {n}")?,
                            None => write!(s, " result {r:#06x}")?,
                        }
                    }
                    if let Some(i) = &self.bvlc_info {
                        if let Some(t) = i.ttl {
                            write!(s, " ttl {t}s")?;
                        }
                        if let Some(n) = i.entries {
                            write!(s, " {n} entries")?;
                        }
                        if let Some(a) = i.delete_entry {
                            write!(s, " {a}")?;
                        }
                    }
                }
            },
        }
        if let Some(o) = self.orig_src {
            write!(s, " from {o}")?;
        }
        Ok(())
    }

    /// The first properties as `object property[index] = value`, then a count of the rest.
    fn write_properties(&self, s: &mut String, skip_object_of_first: usize) -> fmt::Result {
        const SHOWN: usize = 3;
        let mut last_object = None;
        for (i, p) in self.properties.iter().take(SHOWN).enumerate() {
            s.push_str(if i == 0 { " " } else { ", " });
            if p.object != last_object && !(i == 0 && skip_object_of_first > 0) {
                if let Some(o) = p.object {
                    write!(s, "{o} ")?;
                }
            }
            last_object = p.object;
            write_property_ref(s, p.property, p.array_index)?;
            if let Some(v) = &p.value {
                write!(s, " = {v}")?;
            }
            if p.values_omitted > 0 {
                write!(s, " (+{} values not kept)", p.values_omitted)?;
            }
            if let Some(e) = &p.error {
                write!(s, " error {}", e.error_code_name.unwrap_or("?"))?;
            }
            if let Some(pr) = p.priority {
                write!(s, " prio {pr}")?;
            }
        }
        let more = self.properties.len().saturating_sub(SHOWN) + self.properties_omitted as usize;
        if more > 0 {
            write!(s, " (+{more} more)")?;
        }
        Ok(())
    }

    fn write_detail(&self, s: &mut String, d: &BacnetDetail) -> fmt::Result {
        match d {
            BacnetDetail::IAm { device, max_apdu, segmentation_name, segmentation, vendor_id } => {
                write!(s, " {device} max-apdu {max_apdu}")?;
                match segmentation_name {
                    Some(n) => write!(s, " {n}")?,
                    None => write!(s, " segmentation {segmentation}")?,
                }
                write!(s, " vendor {vendor_id}")?;
            }
            BacnetDetail::WhoIs { low, high } => match (low, high) {
                (Some(l), Some(h)) => write!(s, " {l}-{h}")?,
                (Some(l), None) => write!(s, " {l}-?")?,
                (None, Some(h)) => write!(s, " ?-{h}")?,
                (None, None) => s.push_str(" all"),
            },
            BacnetDetail::WhoHas { low, high, object, object_name } => {
                if let (Some(l), Some(h)) = (low, high) {
                    write!(s, " {l}-{h}")?;
                }
                if let Some(o) = object {
                    write!(s, " {o}")?;
                }
                if let Some(n) = object_name {
                    write!(s, " {n:?}")?;
                }
            }
            BacnetDetail::IHave { device, object, object_name } => {
                write!(s, " {device} has {object}")?;
                if let Some(n) = object_name {
                    write!(s, " {n:?}")?;
                }
            }
            BacnetDetail::Property { object, property, array_index, priority, .. } => {
                write!(s, " {object} ")?;
                write_property_ref(s, *property, *array_index)?;
                if let Some(first) = self.properties.first() {
                    if let Some(v) = &first.value {
                        write!(s, " = {v}")?;
                    }
                    if first.values_omitted > 0 {
                        write!(s, " (+{} values not kept)", first.values_omitted)?;
                    }
                }
                if let Some(p) = priority {
                    write!(s, " prio {p}")?;
                }
            }
            BacnetDetail::Multiple { .. } => self.write_properties(s, 0)?,
            BacnetDetail::DeviceCommunicationControl {
                duration_min,
                enable_disable,
                enable_disable_name,
                password_present,
                password_length,
            } => {
                match (enable_disable_name, enable_disable) {
                    (Some(n), _) => write!(s, " {n}")?,
                    (None, Some(v)) => write!(s, " state {v}")?,
                    (None, None) => {}
                }
                if let Some(m) = duration_min {
                    write!(s, " {m} min")?;
                }
                write_password(s, *password_present, *password_length)?;
            }
            BacnetDetail::ReinitializeDevice { state, state_name, password_present, password_length } => {
                match state_name {
                    Some(n) => write!(s, " {n}")?,
                    None => write!(s, " state {state}")?,
                }
                write_password(s, *password_present, *password_length)?;
            }
            BacnetDetail::AtomicFile { file, access, start, count, end_of_file } => {
                if let Some(f) = file {
                    write!(s, " {f}")?;
                }
                let a = match access {
                    FileAccess::Stream => "stream",
                    FileAccess::Record => "record",
                };
                write!(s, " {a} start {start}")?;
                if let Some(c) = count {
                    write!(s, " count {c}")?;
                }
                if *end_of_file == Some(true) {
                    s.push_str(" eof");
                }
            }
            BacnetDetail::CreateObject { object_type, object, initial_values } => {
                match (object, object_type) {
                    (Some(o), _) => write!(s, " {o}")?,
                    (None, Some(t)) => match object_type_name(*t) {
                        Some(n) => write!(s, " {n}")?,
                        None => write!(s, " object-type-{t}")?,
                    },
                    (None, None) => {}
                }
                if *initial_values > 0 {
                    write!(s, " with {initial_values} values")?;
                }
            }
            BacnetDetail::DeleteObject { object } => write!(s, " {object}")?,
            BacnetDetail::SubscribeCov {
                process_id,
                object,
                confirmed,
                lifetime,
                cancellation,
                property,
                array_index,
                ..
            } => {
                write!(s, " pid {process_id} {object}")?;
                if let Some(p) = property {
                    s.push(' ');
                    write_property_ref(s, *p, *array_index)?;
                }
                if *cancellation {
                    s.push_str(" cancel");
                } else {
                    if *confirmed == Some(true) {
                        s.push_str(" confirmed");
                    }
                    match lifetime {
                        Some(0) | None => s.push_str(" lifetime indefinite"),
                        Some(l) => write!(s, " lifetime {l}s")?,
                    }
                }
            }
            BacnetDetail::CovNotification { process_id, device, object, time_remaining } => {
                write!(s, " pid {process_id} {device} {object} remaining {time_remaining}s")?;
                self.write_properties(s, 1)?;
            }
            BacnetDetail::EventNotification { process_id, device, object } => {
                write!(s, " pid {process_id} {device} {object}")?;
            }
            BacnetDetail::AcknowledgeAlarm { process_id, object, event_state } => {
                write!(s, " pid {process_id} {object} state {event_state}")?;
            }
            BacnetDetail::LifeSafetyOperation { process_id, request, object } => {
                write!(s, " pid {process_id} request {request}")?;
                if let Some(o) = object {
                    write!(s, " {o}")?;
                }
            }
            BacnetDetail::TimeSynchronization { date, time, utc } => {
                write!(s, " {date} {time}{}", if *utc { " utc" } else { "" })?;
            }
            BacnetDetail::WriteGroup { group_number, priority, changes, .. } => {
                write!(s, " group {group_number} prio {priority} {changes} changes")?;
            }
            BacnetDetail::PrivateTransfer { vendor_id, service_number, parameters_len } => {
                write!(s, " vendor {vendor_id} service {service_number}")?;
                if let Some(n) = parameters_len {
                    write!(s, " ({n} octets)")?;
                }
            }
            BacnetDetail::TextMessage { source_device, priority, length } => {
                write!(s, " from {source_device} priority {priority} ({length} octets)")?;
            }
            BacnetDetail::Error(e) => {
                match e.error_class_name {
                    Some(n) => write!(s, " {n}")?,
                    None => write!(s, " class-{}", e.error_class)?,
                }
                match e.error_code_name {
                    Some(n) => write!(s, ": {n}")?,
                    None => write!(s, ": code-{}", e.error_code)?,
                }
            }
            BacnetDetail::Reject { reason, reason_name }
            | BacnetDetail::Abort { reason, reason_name, .. } => {
                match reason_name {
                    Some(n) => write!(s, " {n}")?,
                    None => write!(s, " reason {reason}")?,
                }
                if let BacnetDetail::Abort { server: true, .. } = d {
                    s.push_str(" (server)");
                }
            }
        }
        Ok(())
    }
}

fn write_property_ref(s: &mut String, property: u32, index: Option<u32>) -> fmt::Result {
    match property_name(property) {
        Some(n) => s.push_str(n),
        None => write!(s, "property-{property}")?,
    }
    if let Some(i) = index {
        write!(s, "[{i}]")?;
    }
    Ok(())
}

fn write_password(s: &mut String, present: bool, len: Option<u32>) -> fmt::Result {
    if present {
        write!(s, " password ({} octets)", len.unwrap_or(0))?;
    }
    Ok(())
}

/// Property identifiers the decoder treats specially (21, BACnetPropertyIdentifier).
pub mod prop {
    pub const APPLICATION_SOFTWARE_VERSION: u32 = 12;
    pub const DESCRIPTION: u32 = 28;
    pub const FIRMWARE_REVISION: u32 = 44;
    pub const LOCATION: u32 = 58;
    pub const MAX_APDU_LENGTH_ACCEPTED: u32 = 62;
    pub const MODEL_NAME: u32 = 70;
    pub const OBJECT_IDENTIFIER: u32 = 75;
    pub const OBJECT_LIST: u32 = 76;
    pub const OBJECT_NAME: u32 = 77;
    pub const OUT_OF_SERVICE: u32 = 81;
    pub const PRESENT_VALUE: u32 = 85;
    pub const PRIORITY_ARRAY: u32 = 87;
    pub const RECIPIENT_LIST: u32 = 102;
    pub const RELINQUISH_DEFAULT: u32 = 104;
    pub const PROTOCOL_VERSION: u32 = 98;
    pub const SEGMENTATION_SUPPORTED: u32 = 107;
    pub const VENDOR_IDENTIFIER: u32 = 120;
    pub const VENDOR_NAME: u32 = 121;
    pub const PROTOCOL_REVISION: u32 = 139;
    pub const DATABASE_REVISION: u32 = 155;
    pub const SERIAL_NUMBER: u32 = 372;
}

/// Name of an APDU type (20.1.1).
pub fn pdu_type_name(t: u8) -> Option<&'static str> {
    super::apdu::PduType(t).name()
}

static CONFIRMED_SERVICE_NAMES: [&str; 34] = [
    "acknowledgeAlarm",
    "confirmedCOVNotification",
    "confirmedEventNotification",
    "getAlarmSummary",
    "getEnrollmentSummary",
    "subscribeCOV",
    "atomicReadFile",
    "atomicWriteFile",
    "addListElement",
    "removeListElement",
    "createObject",
    "deleteObject",
    "readProperty",
    "readPropertyConditional",
    "readPropertyMultiple",
    "writeProperty",
    "writePropertyMultiple",
    "deviceCommunicationControl",
    "confirmedPrivateTransfer",
    "confirmedTextMessage",
    "reinitializeDevice",
    "vtOpen",
    "vtClose",
    "vtData",
    "authenticate",
    "requestKey",
    "readRange",
    "lifeSafetyOperation",
    "subscribeCOVProperty",
    "getEventInformation",
    "subscribeCOVPropertyMultiple",
    "confirmedCOVNotificationMultiple",
    "confirmedAuditNotification",
    "auditLogQuery",
];

static UNCONFIRMED_SERVICE_NAMES: [&str; 15] = [
    "i-Am",
    "i-Have",
    "unconfirmedCOVNotification",
    "unconfirmedEventNotification",
    "unconfirmedPrivateTransfer",
    "unconfirmedTextMessage",
    "timeSynchronization",
    "who-Has",
    "who-Is",
    "utcTimeSynchronization",
    "writeGroup",
    "unconfirmedCOVNotificationMultiple",
    "unconfirmedAuditNotification",
    "who-Am-I",
    "you-Are",
];

/// BACnetConfirmedServiceChoice (21): 0–33.
pub fn confirmed_service_name(s: u8) -> Option<&'static str> {
    CONFIRMED_SERVICE_NAMES.get(usize::from(s)).copied()
}

/// BACnetUnconfirmedServiceChoice (21): 0–14.
pub fn unconfirmed_service_name(s: u8) -> Option<&'static str> {
    UNCONFIRMED_SERVICE_NAMES.get(usize::from(s)).copied()
}

/// Service name for an APDU of type `pdu_type` (unconfirmed for type 1, confirmed otherwise).
pub fn service_name(pdu_type: u8, s: u8) -> Option<&'static str> {
    if pdu_type == 1 {
        unconfirmed_service_name(s)
    } else {
        confirmed_service_name(s)
    }
}

static OBJECT_TYPE_NAMES: [&str; 65] = [
    "analog-input",
    "analog-output",
    "analog-value",
    "binary-input",
    "binary-output",
    "binary-value",
    "calendar",
    "command",
    "device",
    "event-enrollment",
    "file",
    "group",
    "loop",
    "multi-state-input",
    "multi-state-output",
    "notification-class",
    "program",
    "schedule",
    "averaging",
    "multi-state-value",
    "trend-log",
    "life-safety-point",
    "life-safety-zone",
    "accumulator",
    "pulse-converter",
    "event-log",
    "global-group",
    "trend-log-multiple",
    "load-control",
    "structured-view",
    "access-door",
    "timer",
    "access-credential",
    "access-point",
    "access-rights",
    "access-user",
    "access-zone",
    "credential-data-input",
    "network-security",
    "bitstring-value",
    "characterstring-value",
    "date-pattern-value",
    "date-value",
    "datetime-pattern-value",
    "datetime-value",
    "integer-value",
    "large-analog-value",
    "octetstring-value",
    "positive-integer-value",
    "time-pattern-value",
    "time-value",
    "notification-forwarder",
    "alert-enrollment",
    "channel",
    "lighting-output",
    "binary-lighting-output",
    "network-port",
    "elevator-group",
    "escalator",
    "lift",
    "staging",
    "audit-log",
    "audit-reporter",
    "color",
    "color-temperature",
];

/// BACnetObjectType (21): 0–64 named; 128–1023 are proprietary.
pub fn object_type_name(t: u16) -> Option<&'static str> {
    OBJECT_TYPE_NAMES.get(usize::from(t)).copied()
}

fn lookup(table: &'static [&'static str], v: u32) -> Option<&'static str> {
    usize::try_from(v).ok().and_then(|i| table.get(i)).copied().filter(|n| !n.is_empty())
}

/// BACnetPropertyIdentifier (21): 0–511 are ASHRAE's (a few unassigned), 512 and up proprietary.
pub fn property_name(p: u32) -> Option<&'static str> {
    lookup(&PROPERTY_NAMES, p)
}

/// Error class (21, BACnetErrorClass).
pub fn error_class_name(c: u32) -> Option<&'static str> {
    lookup(&["device", "object", "property", "resources", "security", "services", "vt", "communication"], c)
}

/// Error code (21, BACnetErrorCode): 0–199 (code 33 was removed).
pub fn error_code_name(c: u32) -> Option<&'static str> {
    lookup(&ERROR_CODE_NAMES, c)
}

/// BACnetRejectReason (21).
pub fn reject_reason_name(r: u8) -> Option<&'static str> {
    lookup(
        &[
            "other",
            "buffer-overflow",
            "inconsistent-parameters",
            "invalid-parameter-data-type",
            "invalid-tag",
            "missing-required-parameter",
            "parameter-out-of-range",
            "too-many-arguments",
            "undefined-enumeration",
            "unrecognized-service",
        ],
        u32::from(r),
    )
}

/// BACnetAbortReason (21).
pub fn abort_reason_name(r: u8) -> Option<&'static str> {
    lookup(
        &[
            "other",
            "buffer-overflow",
            "invalid-apdu-in-this-state",
            "preempted-by-higher-priority-task",
            "segmentation-not-supported",
            "security-error",
            "insufficient-security",
            "window-size-out-of-range",
            "application-exceeded-reply-time",
            "out-of-resources",
            "tsm-timeout",
            "apdu-too-long",
        ],
        u32::from(r),
    )
}

/// BACnetSegmentation (21).
pub fn segmentation_name(v: u32) -> Option<&'static str> {
    lookup(&["segmented-both", "segmented-transmit", "segmented-receive", "no-segmentation"], v)
}

/// DeviceCommunicationControl enable-disable (16.1.1.1.2).
pub fn enable_disable_name(v: u32) -> Option<&'static str> {
    lookup(&["enable", "disable", "disable-initiation"], v)
}

/// ReinitializeDevice reinitialized-state-of-device (16.4.1.1.1).
pub fn reinitialized_state_name(v: u32) -> Option<&'static str> {
    lookup(
        &[
            "coldstart",
            "warmstart",
            "start-backup",
            "end-backup",
            "start-restore",
            "end-restore",
            "abort-restore",
            "activate-changes",
        ],
        v,
    )
}

/// BACnetPropertyIdentifier names (21), indexed by identifier; empty where unassigned.
static PROPERTY_NAMES: [&str; 512] = [
    "acked-transitions",
    "ack-required",
    "action",
    "action-text",
    "active-text",
    "active-vt-sessions",
    "alarm-value",
    "alarm-values",
    "all",
    "all-writes-successful",
    "apdu-segment-timeout",
    "apdu-timeout",
    "application-software-version",
    "archive",
    "bias",
    "change-of-state-count",
    "change-of-state-time",
    "notification-class",
    "",
    "controlled-variable-reference",
    "controlled-variable-units",
    "controlled-variable-value",
    "cov-increment",
    "date-list",
    "daylight-savings-status",
    "deadband",
    "derivative-constant",
    "derivative-constant-units",
    "description",
    "description-of-halt",
    "device-address-binding",
    "device-type",
    "effective-period",
    "elapsed-active-time",
    "error-limit",
    "event-enable",
    "event-state",
    "event-type",
    "exception-schedule",
    "fault-values",
    "feedback-value",
    "file-access-method",
    "file-size",
    "file-type",
    "firmware-revision",
    "high-limit",
    "inactive-text",
    "in-process",
    "instance-of",
    "integral-constant",
    "integral-constant-units",
    "issue-confirmed-notifications",
    "limit-enable",
    "list-of-group-members",
    "list-of-object-property-references",
    "list-of-session-keys",
    "local-date",
    "local-time",
    "location",
    "low-limit",
    "manipulated-variable-reference",
    "maximum-output",
    "max-apdu-length-accepted",
    "max-info-frames",
    "max-master",
    "max-pres-value",
    "minimum-off-time",
    "minimum-on-time",
    "minimum-output",
    "min-pres-value",
    "model-name",
    "modification-date",
    "notify-type",
    "number-of-apdu-retries",
    "number-of-states",
    "object-identifier",
    "object-list",
    "object-name",
    "object-property-reference",
    "object-type",
    "optional",
    "out-of-service",
    "output-units",
    "event-parameters",
    "polarity",
    "present-value",
    "priority",
    "priority-array",
    "priority-for-writing",
    "process-identifier",
    "program-change",
    "program-location",
    "program-state",
    "proportional-constant",
    "proportional-constant-units",
    "protocol-conformance-class",
    "protocol-object-types-supported",
    "protocol-services-supported",
    "protocol-version",
    "read-only",
    "reason-for-halt",
    "recipient",
    "recipient-list",
    "reliability",
    "relinquish-default",
    "required",
    "resolution",
    "segmentation-supported",
    "setpoint",
    "setpoint-reference",
    "state-text",
    "status-flags",
    "system-status",
    "time-delay",
    "time-of-active-time-reset",
    "time-of-state-count-reset",
    "time-synchronization-recipients",
    "units",
    "update-interval",
    "utc-offset",
    "vendor-identifier",
    "vendor-name",
    "vt-classes-supported",
    "weekly-schedule",
    "attempted-samples",
    "average-value",
    "buffer-size",
    "client-cov-increment",
    "cov-resubscription-interval",
    "current-notify-time",
    "event-time-stamps",
    "log-buffer",
    "log-device-object-property",
    "enable",
    "log-interval",
    "maximum-value",
    "minimum-value",
    "notification-threshold",
    "previous-notify-time",
    "protocol-revision",
    "records-since-notification",
    "record-count",
    "start-time",
    "stop-time",
    "stop-when-full",
    "total-record-count",
    "valid-samples",
    "window-interval",
    "window-samples",
    "maximum-value-timestamp",
    "minimum-value-timestamp",
    "variance-value",
    "active-cov-subscriptions",
    "backup-failure-timeout",
    "configuration-files",
    "database-revision",
    "direct-reading",
    "last-restore-time",
    "maintenance-required",
    "member-of",
    "mode",
    "operation-expected",
    "setting",
    "silenced",
    "tracking-value",
    "zone-members",
    "life-safety-alarm-values",
    "max-segments-accepted",
    "profile-name",
    "auto-slave-discovery",
    "manual-slave-address-binding",
    "slave-address-binding",
    "slave-proxy-enable",
    "last-notify-record",
    "schedule-default",
    "accepted-modes",
    "adjust-value",
    "count",
    "count-before-change",
    "count-change-time",
    "cov-period",
    "input-reference",
    "limit-monitoring-interval",
    "logging-object",
    "logging-record",
    "prescale",
    "pulse-rate",
    "scale",
    "scale-factor",
    "update-time",
    "value-before-change",
    "value-set",
    "value-change-time",
    "align-intervals",
    "",
    "interval-offset",
    "last-restart-reason",
    "logging-type",
    "",
    "",
    "",
    "",
    "restart-notification-recipients",
    "time-of-device-restart",
    "time-synchronization-interval",
    "trigger",
    "utc-time-synchronization-recipients",
    "node-subtype",
    "node-type",
    "structured-object-list",
    "subordinate-annotations",
    "subordinate-list",
    "actual-shed-level",
    "duty-window",
    "expected-shed-level",
    "full-duty-baseline",
    "",
    "",
    "requested-shed-level",
    "shed-duration",
    "shed-level-descriptions",
    "shed-levels",
    "state-description",
    "",
    "",
    "",
    "door-alarm-state",
    "door-extended-pulse-time",
    "door-members",
    "door-open-too-long-time",
    "door-pulse-time",
    "door-status",
    "door-unlock-delay-time",
    "lock-status",
    "masked-alarm-values",
    "secured-status",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "absentee-limit",
    "access-alarm-events",
    "access-doors",
    "access-event",
    "access-event-authentication-factor",
    "access-event-credential",
    "access-event-time",
    "access-transaction-events",
    "accompaniment",
    "accompaniment-time",
    "activation-time",
    "active-authentication-policy",
    "assigned-access-rights",
    "authentication-factors",
    "authentication-policy-list",
    "authentication-policy-names",
    "authentication-status",
    "authorization-mode",
    "belongs-to",
    "credential-disable",
    "credential-status",
    "credentials",
    "credentials-in-zone",
    "days-remaining",
    "entry-points",
    "exit-points",
    "expiration-time",
    "extended-time-enable",
    "failed-attempt-events",
    "failed-attempts",
    "failed-attempts-time",
    "last-access-event",
    "last-access-point",
    "last-credential-added",
    "last-credential-added-time",
    "last-credential-removed",
    "last-credential-removed-time",
    "last-use-time",
    "lockout",
    "lockout-relinquish-time",
    "master-exemption",
    "max-failed-attempts",
    "members",
    "muster-point",
    "negative-access-rules",
    "number-of-authentication-policies",
    "occupancy-count",
    "occupancy-count-adjust",
    "occupancy-count-enable",
    "occupancy-exemption",
    "occupancy-lower-limit",
    "occupancy-lower-limit-enforced",
    "occupancy-state",
    "occupancy-upper-limit",
    "occupancy-upper-limit-enforced",
    "passback-exemption",
    "passback-mode",
    "passback-timeout",
    "positive-access-rules",
    "reason-for-disable",
    "supported-formats",
    "supported-format-classes",
    "threat-authority",
    "threat-level",
    "trace-flag",
    "transaction-notification-class",
    "user-external-identifier",
    "user-information-reference",
    "",
    "",
    "",
    "",
    "",
    "user-name",
    "user-type",
    "uses-remaining",
    "zone-from",
    "zone-to",
    "access-event-tag",
    "global-identifier",
    "",
    "",
    "verification-time",
    "base-device-security-policy",
    "distribution-key-revision",
    "do-not-hide",
    "key-sets",
    "last-key-server",
    "network-access-security-policies",
    "packet-reorder-time",
    "security-pdu-timeout",
    "security-time-window",
    "supported-security-algorithms",
    "update-key-set-timeout",
    "backup-and-restore-state",
    "backup-preparation-time",
    "restore-completion-time",
    "restore-preparation-time",
    "bit-mask",
    "bit-text",
    "is-utc",
    "group-members",
    "group-member-names",
    "member-status-flags",
    "requested-update-interval",
    "covu-period",
    "covu-recipients",
    "event-message-texts",
    "event-message-texts-config",
    "event-detection-enable",
    "event-algorithm-inhibit",
    "event-algorithm-inhibit-ref",
    "time-delay-normal",
    "reliability-evaluation-inhibit",
    "fault-parameters",
    "fault-type",
    "local-forwarding-only",
    "process-identifier-filter",
    "subscribed-recipients",
    "port-filter",
    "authorization-exemptions",
    "allow-group-delay-inhibit",
    "channel-number",
    "control-groups",
    "execution-delay",
    "last-priority",
    "write-status",
    "property-list",
    "serial-number",
    "blink-warn-enable",
    "default-fade-time",
    "default-ramp-rate",
    "default-step-increment",
    "egress-time",
    "in-progress",
    "instantaneous-power",
    "lighting-command",
    "lighting-command-default-priority",
    "max-actual-value",
    "min-actual-value",
    "power",
    "transition",
    "egress-active",
    "interface-value",
    "fault-high-limit",
    "fault-low-limit",
    "low-diff-limit",
    "strike-count",
    "time-of-strike-count-reset",
    "default-timeout",
    "initial-timeout",
    "last-state-change",
    "state-change-values",
    "timer-running",
    "timer-state",
    "apdu-length",
    "bacnet-ip-address",
    "bacnet-ip-default-gateway",
    "bacnet-ip-dhcp-enable",
    "bacnet-ip-dhcp-lease-time",
    "bacnet-ip-dhcp-lease-time-remaining",
    "bacnet-ip-dhcp-server",
    "bacnet-ip-dns-server",
    "bacnet-ip-global-address",
    "bacnet-ip-mode",
    "bacnet-ip-multicast-address",
    "bacnet-ip-nat-traversal",
    "bacnet-ip-subnet-mask",
    "bacnet-ip-udp-port",
    "bbmd-accept-fd-registrations",
    "bbmd-broadcast-distribution-table",
    "bbmd-foreign-device-table",
    "changes-pending",
    "command",
    "fd-bbmd-address",
    "fd-subscription-lifetime",
    "link-speed",
    "link-speeds",
    "link-speed-autonegotiate",
    "mac-address",
    "network-interface-name",
    "network-number",
    "network-number-quality",
    "network-type",
    "routing-table",
    "virtual-mac-address-table",
    "command-time-array",
    "current-command-priority",
    "last-command-time",
    "value-source",
    "value-source-array",
    "bacnet-ipv6-mode",
    "ipv6-address",
    "ipv6-prefix-length",
    "bacnet-ipv6-udp-port",
    "ipv6-default-gateway",
    "bacnet-ipv6-multicast-address",
    "ipv6-dns-server",
    "ipv6-auto-addressing-enable",
    "ipv6-dhcp-lease-time",
    "ipv6-dhcp-lease-time-remaining",
    "ipv6-dhcp-server",
    "ipv6-zone-index",
    "assigned-landing-calls",
    "car-assigned-direction",
    "car-door-command",
    "car-door-status",
    "car-door-text",
    "car-door-zone",
    "car-drive-status",
    "car-load",
    "car-load-units",
    "car-mode",
    "car-moving-direction",
    "car-position",
    "elevator-group",
    "energy-meter",
    "energy-meter-ref",
    "escalator-mode",
    "fault-signals",
    "floor-text",
    "group-id",
    "",
    "group-mode",
    "higher-deck",
    "installation-id",
    "landing-calls",
    "landing-call-control",
    "landing-door-status",
    "lower-deck",
    "machine-room-id",
    "making-car-call",
    "next-stopping-floor",
    "operation-direction",
    "passenger-alarm",
    "power-mode",
    "registered-car-call",
    "active-cov-multiple-subscriptions",
    "protocol-level",
    "reference-port",
    "deployed-profile-location",
    "profile-location",
    "tags",
    "subordinate-node-types",
    "subordinate-tags",
    "subordinate-relationship",
    "default-subordinate-relationship",
    "represents",
    "default-present-value",
    "present-stage",
    "stages",
    "stage-names",
    "target-references",
    "audit-source-reporter",
    "audit-level",
    "audit-notification-recipient",
    "audit-priority-filter",
    "auditable-operations",
    "delete-on-forward",
    "maximum-send-delay",
    "monitored-objects",
    "send-now",
    "floor-number",
    "device-uuid",
    "additional-reference-ports",
    "certificate-signing-request-file",
    "command-validation-result",
    "issuer-certificate-files",
];
/// BACnetErrorCode names (21), indexed by code; empty where unassigned.
static ERROR_CODE_NAMES: [&str; 200] = [
    "other",
    "authentication-failed",
    "configuration-in-progress",
    "device-busy",
    "dynamic-creation-not-supported",
    "file-access-denied",
    "incompatible-security-levels",
    "inconsistent-parameters",
    "inconsistent-selection-criterion",
    "invalid-data-type",
    "invalid-file-access-method",
    "invalid-file-start-position",
    "invalid-operator-name",
    "invalid-parameter-data-type",
    "invalid-time-stamp",
    "key-generation-error",
    "missing-required-parameter",
    "no-objects-of-specified-type",
    "no-space-for-object",
    "no-space-to-add-list-element",
    "no-space-to-write-property",
    "no-vt-sessions-available",
    "property-is-not-a-list",
    "object-deletion-not-permitted",
    "object-identifier-already-exists",
    "operational-problem",
    "password-failure",
    "read-access-denied",
    "security-not-supported",
    "service-request-denied",
    "timeout",
    "unknown-object",
    "unknown-property",
    "",
    "unknown-vt-class",
    "unknown-vt-session",
    "unsupported-object-type",
    "value-out-of-range",
    "vt-session-already-closed",
    "vt-session-termination-failure",
    "write-access-denied",
    "character-set-not-supported",
    "invalid-array-index",
    "cov-subscription-failed",
    "not-cov-property",
    "optional-functionality-not-supported",
    "invalid-configuration-data",
    "datatype-not-supported",
    "duplicate-name",
    "duplicate-object-id",
    "property-is-not-an-array",
    "abort-buffer-overflow",
    "abort-invalid-apdu-in-this-state",
    "abort-preempted-by-higher-priority-task",
    "abort-segmentation-not-supported",
    "abort-proprietary",
    "abort-other",
    "invalid-tag",
    "network-down",
    "reject-buffer-overflow",
    "reject-inconsistent-parameters",
    "reject-invalid-parameter-data-type",
    "reject-invalid-tag",
    "reject-missing-required-parameter",
    "reject-parameter-out-of-range",
    "reject-too-many-arguments",
    "reject-undefined-enumeration",
    "reject-unrecognized-service",
    "reject-proprietary",
    "reject-other",
    "unknown-device",
    "unknown-route",
    "value-not-initialized",
    "invalid-event-state",
    "no-alarm-configured",
    "log-buffer-full",
    "logged-value-purged",
    "no-property-specified",
    "not-configured-for-triggered-logging",
    "unknown-subscription",
    "parameter-out-of-range",
    "list-element-not-found",
    "busy",
    "communication-disabled",
    "success",
    "access-denied",
    "bad-destination-address",
    "bad-destination-device-id",
    "bad-signature",
    "bad-source-address",
    "bad-timestamp",
    "cannot-use-key",
    "cannot-verify-message-id",
    "correct-key-revision",
    "destination-device-id-required",
    "duplicate-message",
    "encryption-not-configured",
    "encryption-required",
    "incorrect-key",
    "invalid-key-data",
    "key-update-in-progress",
    "malformed-message",
    "not-key-server",
    "security-not-configured",
    "source-security-required",
    "too-many-keys",
    "unknown-authentication-type",
    "unknown-key",
    "unknown-key-revision",
    "unknown-source-message",
    "not-router-to-dnet",
    "router-busy",
    "unknown-network-message",
    "message-too-long",
    "security-error",
    "addressing-error",
    "write-bdt-failed",
    "read-bdt-failed",
    "register-foreign-device-failed",
    "read-fdt-failed",
    "delete-fdt-entry-failed",
    "distribute-broadcast-failed",
    "unknown-file-size",
    "abort-apdu-too-long",
    "abort-application-exceeded-reply-time",
    "abort-out-of-resources",
    "abort-tsm-timeout",
    "abort-window-size-out-of-range",
    "file-full",
    "inconsistent-configuration",
    "inconsistent-object-type",
    "internal-error",
    "not-configured",
    "out-of-memory",
    "value-too-long",
    "abort-insufficient-security",
    "abort-security-error",
    "duplicate-entry",
    "invalid-value-in-this-state",
    "invalid-operation-in-this-state",
    "list-item-not-numbered",
    "list-item-not-timestamped",
    "invalid-data-encoding",
    "bvlc-function-unknown",
    "bvlc-proprietary-function-unknown",
    "header-encoding-error",
    "header-not-understood",
    "message-incomplete",
    "not-a-bacnet-sc-hub",
    "payload-expected",
    "unexpected-data",
    "node-duplicate-vmac",
    "http-unexpected-response-code",
    "http-no-upgrade",
    "http-resource-not-local",
    "http-proxy-authentication-failed",
    "http-response-timeout",
    "http-response-syntax-error",
    "http-response-value-error",
    "http-response-missing-header",
    "http-websocket-header-error",
    "http-upgrade-required",
    "http-upgrade-error",
    "http-temporary-unavailable",
    "http-not-a-server",
    "http-error",
    "websocket-scheme-not-supported",
    "websocket-unknown-control-message",
    "websocket-close-error",
    "websocket-closed-by-peer",
    "websocket-endpoint-leaves",
    "websocket-protocol-error",
    "websocket-data-not-accepted",
    "websocket-closed-abnormally",
    "websocket-data-inconsistent",
    "websocket-data-against-policy",
    "websocket-frame-too-long",
    "websocket-extension-missing",
    "websocket-request-unavailable",
    "websocket-error",
    "tls-client-certificate-error",
    "tls-server-certificate-error",
    "tls-client-authentication-failed",
    "tls-server-authentication-failed",
    "tls-client-certificate-expired",
    "tls-server-certificate-expired",
    "tls-client-certificate-revoked",
    "tls-server-certificate-revoked",
    "tls-error",
    "dns-unavailable",
    "dns-name-resolution-failed",
    "dns-resolver-failure",
    "dns-error",
    "tcp-connect-timeout",
    "tcp-connection-refused",
    "tcp-closed-by-local",
    "tcp-closed-other",
    "tcp-error",
    "ip-address-not-reachable",
    "ip-error",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(confirmed_service_name(15), Some("writeProperty"));
        assert_eq!(confirmed_service_name(33), Some("auditLogQuery"));
        assert_eq!(confirmed_service_name(34), None);
        assert_eq!(unconfirmed_service_name(14), Some("you-Are"));
        assert_eq!(unconfirmed_service_name(15), None);
        assert_eq!(property_name(85), Some("present-value"));
        assert_eq!(property_name(139), Some("protocol-revision"));
        assert_eq!(property_name(372), Some("serial-number"));
        assert_eq!(property_name(18), None);
        assert_eq!(property_name(512), None);
        assert_eq!(object_type_name(8), Some("device"));
        assert_eq!(error_code_name(26), Some("password-failure"));
        assert_eq!(error_code_name(51), Some("abort-buffer-overflow"));
        assert_eq!(error_code_name(33), None);
        assert_eq!(error_class_name(4), Some("security"));
        assert_eq!(reject_reason_name(9), Some("unrecognized-service"));
        assert_eq!(abort_reason_name(11), Some("apdu-too-long"));
        assert_eq!(reinitialized_state_name(7), Some("activate-changes"));
        let o = BacnetObjectId { object_type: 130, instance: 5 };
        assert_eq!(o.to_string(), "proprietary-130,5");
    }

    #[test]
    fn summary_of_a_write() {
        let r = BacnetRecord {
            bvlc: 0x0a,
            bvlc_type: 0x81,
            apdu_type: Some(0),
            service: Some(15),
            service_name: Some("writeProperty"),
            invoke_id: Some(12),
            detail: Some(Box::new(BacnetDetail::Property {
                object: BacnetObjectId { object_type: 1, instance: 1 },
                property: 85,
                property_name: Some("present-value"),
                array_index: None,
                priority: Some(8),
            })),
            properties: vec![BacnetProperty {
                value: Some(BacnetValue::Real(21.5)),
                ..BacnetProperty::new(Some(BacnetObjectId { object_type: 1, instance: 1 }), 85)
            }],
            ..Default::default()
        };
        assert_eq!(
            r.summary(),
            "confirmed-request writeProperty analog-output,1 present-value = 21.5 prio 8 invoke 12"
        );
    }

    #[test]
    fn mac_and_hex() {
        assert_eq!(MacAddr::new(&[0xc0, 0x00, 0x02, 0x15, 0xba, 0xc0]).to_string(), "c0:00:02:15:ba:c0");
        assert_eq!(MacAddr::new(&[7u8; 20]).to_string().chars().last(), Some('…'));
        let h = Hex::new(&[0xab; 70]);
        assert!(h.to_string().ends_with("…(70 octets)"));
    }
}
