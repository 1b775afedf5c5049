//! Service parameters (ASHRAE 135 clauses 13–17 and 21) decoded into owned record parts.
//!
//! [`parse_service`] first checks the whole tag stream ([`check_tags`]), then decodes the
//! parameters of the services a monitor acts on. Decoding stops at the first parameter that
//! cannot be read; what was decoded up to there is kept ("a partial decode beats a drop") and
//! the error is returned beside it.

use super::record::{
    enable_disable_name, prop, property_name, reinitialized_state_name, segmentation_name, BacnetDetail,
    BacnetIdentity, BacnetProperty, BacnetValue, Bits, ErrorInfo, FileAccess, Hex, Text, MAX_HEX, MAX_TEXT,
};
use super::tags::{
    app, check_tags, decode_app_value, decode_charstring, decode_context_boolean, decode_enumerated,
    decode_object_id, decode_real, decode_signed, decode_unsigned, AppValue, BacnetObjectId, CharString,
    TagKind, TagReader, MAX_NESTING,
};
use super::{BacnetError, Flags};

/// Confirmed service choices (21, BACnetConfirmedServiceChoice) used by the decoder.
pub mod confirmed {
    pub const ACKNOWLEDGE_ALARM: u8 = 0;
    pub const CONFIRMED_COV_NOTIFICATION: u8 = 1;
    pub const CONFIRMED_EVENT_NOTIFICATION: u8 = 2;
    pub const SUBSCRIBE_COV: u8 = 5;
    pub const ATOMIC_READ_FILE: u8 = 6;
    pub const ATOMIC_WRITE_FILE: u8 = 7;
    pub const ADD_LIST_ELEMENT: u8 = 8;
    pub const REMOVE_LIST_ELEMENT: u8 = 9;
    pub const CREATE_OBJECT: u8 = 10;
    pub const DELETE_OBJECT: u8 = 11;
    pub const READ_PROPERTY: u8 = 12;
    pub const READ_PROPERTY_MULTIPLE: u8 = 14;
    pub const WRITE_PROPERTY: u8 = 15;
    pub const WRITE_PROPERTY_MULTIPLE: u8 = 16;
    pub const DEVICE_COMMUNICATION_CONTROL: u8 = 17;
    pub const CONFIRMED_PRIVATE_TRANSFER: u8 = 18;
    pub const CONFIRMED_TEXT_MESSAGE: u8 = 19;
    pub const REINITIALIZE_DEVICE: u8 = 20;
    pub const READ_RANGE: u8 = 26;
    pub const LIFE_SAFETY_OPERATION: u8 = 27;
    pub const SUBSCRIBE_COV_PROPERTY: u8 = 28;
    /// Highest defined confirmed service choice.
    pub const MAX: u8 = 33;
}

/// Unconfirmed service choices (21, BACnetUnconfirmedServiceChoice) used by the decoder.
pub mod unconfirmed {
    pub const I_AM: u8 = 0;
    pub const I_HAVE: u8 = 1;
    pub const COV_NOTIFICATION: u8 = 2;
    pub const EVENT_NOTIFICATION: u8 = 3;
    pub const PRIVATE_TRANSFER: u8 = 4;
    pub const TEXT_MESSAGE: u8 = 5;
    pub const TIME_SYNCHRONIZATION: u8 = 6;
    pub const WHO_HAS: u8 = 7;
    pub const WHO_IS: u8 = 8;
    pub const UTC_TIME_SYNCHRONIZATION: u8 = 9;
    pub const WRITE_GROUP: u8 = 10;
    /// Highest defined unconfirmed service choice.
    pub const MAX: u8 = 14;
}

/// Largest device instance (22 bits).
const MAX_INSTANCE: u32 = 0x3f_ffff;
/// Passwords longer than this many characters are not allowed (16.1.1.1.3).
const MAX_PASSWORD_CHARS: usize = 20;

/// Datatypes [`Dec::check_type`] knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Real,
    Double,
    Enumerated,
    Unsigned,
    Signed,
    Boolean,
    Text,
    Destinations,
}

/// The datatype of `property` on objects of `object_type` (clause 12), for a few properties.
fn expected_type(object_type: Option<u16>, property: u32) -> Option<Expected> {
    Some(match property {
        prop::OBJECT_NAME
        | prop::DESCRIPTION
        | prop::LOCATION
        | prop::VENDOR_NAME
        | prop::MODEL_NAME
        | prop::FIRMWARE_REVISION
        | prop::APPLICATION_SOFTWARE_VERSION => Expected::Text,
        prop::OUT_OF_SERVICE => Expected::Boolean,
        prop::RECIPIENT_LIST => Expected::Destinations,
        prop::PRESENT_VALUE | prop::RELINQUISH_DEFAULT => match object_type? {
            // analog input/output/value, loop, pulse-converter
            0 | 1 | 2 | 12 | 24 => Expected::Real,
            // large-analog-value
            46 => Expected::Double,
            // binary input/output/value, binary-lighting-output
            3 | 4 | 5 | 55 => Expected::Enumerated,
            // multi-state input/output/value, accumulator, positive-integer-value
            13 | 14 | 19 | 23 | 48 => Expected::Unsigned,
            // integer-value
            45 => Expected::Signed,
            // characterstring-value
            40 => Expected::Text,
            _ => return None,
        },
        _ => return None,
    })
}

/// What a service decode produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceOutput {
    pub detail: Option<BacnetDetail>,
    pub properties: Vec<BacnetProperty>,
    pub properties_omitted: u32,
    pub identity: Option<BacnetIdentity>,
}

/// A service decode: what was decoded, and the error that stopped it (None when the service
/// data decoded to the end).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceDecode {
    pub out: ServiceOutput,
    pub stop: Option<BacnetError>,
}

/// The anomaly code for an error that stopped decoding the service data.
pub fn stop_code(e: BacnetError) -> &'static str {
    match e {
        BacnetError::Malformed { reason, .. } => reason,
        BacnetError::Incomplete { .. } => "service_truncated",
    }
}

/// Decodes the service data `data` of an APDU of type `pdu_type` (0 confirmed request,
/// 1 unconfirmed, 3 ComplexACK, 5 Error) and service choice `service`. At most `max_values`
/// properties and values are kept. Anomalies go to `flags`: a structural tag error or a
/// parameter that cannot be decoded marks the content malformed.
pub fn parse_service(
    pdu_type: u8,
    service: u8,
    data: &[u8],
    max_values: usize,
    flags: &mut Flags,
) -> ServiceDecode {
    let structure = check_tags(data, flags);
    if let Err(e) = structure {
        flags.malformed(match e {
            BacnetError::Incomplete { .. } => "tag_truncated",
            BacnetError::Malformed { reason, .. } => reason,
        });
    }
    let mut d = Dec { out: ServiceOutput::default(), flags, budget: max_values, max_values };
    let mut r = TagReader::new(data);
    let res = d.service(pdu_type, service, &mut r);
    let stop = match res {
        Ok(true) if !r.is_empty() => {
            d.flags.flag("service_trailing_data");
            None
        }
        Ok(_) => None,
        Err(e) => {
            // A structural error found above already names the problem.
            if structure.is_ok() {
                d.flags.malformed(stop_code(e));
            }
            Some(e)
        }
    };
    ServiceDecode { out: d.out, stop }
}

/// Decoding state of one service.
struct Dec<'f> {
    out: ServiceOutput,
    flags: &'f mut Flags,
    /// Values that may still be kept.
    budget: usize,
    max_values: usize,
}

type Res<T> = Result<T, BacnetError>;

fn u32_of(v: u64) -> Result<u32, &'static str> {
    u32::try_from(v).map_err(|_| "unsigned_out_of_range")
}

fn uns32(c: &[u8]) -> Result<u32, &'static str> {
    decode_unsigned(c).and_then(u32_of)
}

fn enum32(c: &[u8]) -> Result<u32, &'static str> {
    decode_enumerated(c).and_then(|v| u32::try_from(v).map_err(|_| "enumerated_out_of_range"))
}

fn uns8(c: &[u8]) -> Result<u8, &'static str> {
    decode_unsigned(c).and_then(|v| u8::try_from(v).map_err(|_| "unsigned_out_of_range"))
}

fn app_object_id(r: &mut TagReader<'_>, flags: &mut Flags) -> Res<BacnetObjectId> {
    let at = r.pos();
    match r.app_value(app::OBJECT_IDENTIFIER, flags)? {
        AppValue::ObjectId(o) => Ok(o),
        _ => Err(BacnetError::malformed(at, "service_unexpected_type")),
    }
}

fn app_unsigned(r: &mut TagReader<'_>, flags: &mut Flags) -> Res<u64> {
    let at = r.pos();
    match r.app_value(app::UNSIGNED, flags)? {
        AppValue::Unsigned(v) => Ok(v),
        _ => Err(BacnetError::malformed(at, "service_unexpected_type")),
    }
}

fn app_u32(r: &mut TagReader<'_>, flags: &mut Flags) -> Res<u32> {
    let at = r.pos();
    u32_of(app_unsigned(r, flags)?).map_err(|e| BacnetError::malformed(at, e))
}

fn app_enum(r: &mut TagReader<'_>, flags: &mut Flags) -> Res<u32> {
    let at = r.pos();
    match r.app_value(app::ENUMERATED, flags)? {
        AppValue::Enumerated(v) => {
            u32::try_from(v).map_err(|_| BacnetError::malformed(at, "enumerated_out_of_range"))
        }
        _ => Err(BacnetError::malformed(at, "service_unexpected_type")),
    }
}

fn app_signed(r: &mut TagReader<'_>, flags: &mut Flags) -> Res<i64> {
    let at = r.pos();
    match r.app_value(app::SIGNED, flags)? {
        AppValue::Signed(v) => Ok(v),
        _ => Err(BacnetError::malformed(at, "service_unexpected_type")),
    }
}

fn app_octets<'a>(r: &mut TagReader<'a>, flags: &mut Flags) -> Res<&'a [u8]> {
    let at = r.pos();
    match r.app_value(app::OCTET_STRING, flags)? {
        AppValue::OctetString(v) => Ok(v),
        _ => Err(BacnetError::malformed(at, "service_unexpected_type")),
    }
}

fn app_charstring<'a>(r: &mut TagReader<'a>, flags: &mut Flags) -> Res<CharString<'a>> {
    let at = r.pos();
    match r.app_value(app::CHARACTER_STRING, flags)? {
        AppValue::CharacterString(v) => Ok(v),
        _ => Err(BacnetError::malformed(at, "service_unexpected_type")),
    }
}

/// An owned value from a primitive application value.
pub fn owned_value(v: &AppValue<'_>) -> BacnetValue {
    match *v {
        AppValue::Null => BacnetValue::Null,
        AppValue::Boolean(b) => BacnetValue::Boolean(b),
        AppValue::Unsigned(u) => BacnetValue::Unsigned(u),
        AppValue::Signed(i) => BacnetValue::Signed(i),
        AppValue::Real(f) => BacnetValue::Real(f),
        AppValue::Double(f) => BacnetValue::Double(f),
        AppValue::OctetString(b) => BacnetValue::OctetString(Hex::new(b)),
        AppValue::CharacterString(s) => {
            let text = s.to_text(MAX_TEXT);
            let octets = if text.is_none() { Some(Hex::new(s.bytes)) } else { None };
            BacnetValue::CharacterString(Text { charset: s.charset, text, octets })
        }
        AppValue::BitString { unused_bits, bits } => {
            let shown = bits.get(..bits.len().min(MAX_HEX)).unwrap_or_default();
            let total = shown.len() * 8
                - if shown.len() == bits.len() {
                    usize::from(unused_bits.min(7)).min(shown.len() * 8)
                } else {
                    0
                };
            let s = (0..total)
                .map(|i| {
                    let byte = shown.get(i / 8).copied().unwrap_or(0);
                    if byte & (0x80 >> (i % 8)) != 0 {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect();
            BacnetValue::BitString(Bits { unused_bits, bits: s })
        }
        AppValue::Enumerated(e) => BacnetValue::Enumerated(e),
        AppValue::Date(d) => BacnetValue::Date(d),
        AppValue::Time(t) => BacnetValue::Time(t),
        AppValue::ObjectId(o) => BacnetValue::ObjectId(o),
        AppValue::Reserved { tag, content } => BacnetValue::Reserved { tag, octets: Hex::new(content) },
    }
}

impl Dec<'_> {
    fn push_property(&mut self, p: BacnetProperty) {
        if self.out.properties.len() < self.max_values {
            self.out.properties.push(p);
        } else {
            self.out.properties_omitted = self.out.properties_omitted.saturating_add(1);
        }
    }

    /// Items up to and including closing tag `close` (its opening tag already consumed).
    /// Returns the items kept and how many were left out for the value budget.
    fn items(&mut self, r: &mut TagReader<'_>, close: u8, depth: usize) -> Res<(Vec<BacnetValue>, u32)> {
        let mut items = Vec::new();
        let mut omitted = 0u32;
        loop {
            let at = r.pos();
            let t = r.required()?;
            let v = match t.kind {
                TagKind::Closing if t.number == close => return Ok((items, omitted)),
                TagKind::Closing => return Err(BacnetError::malformed(at, "tag_nesting_mismatch")),
                TagKind::Opening => {
                    if depth + 1 >= MAX_NESTING {
                        return Err(BacnetError::malformed(at, "tag_nesting_too_deep"));
                    }
                    let (inner, o) = self.items(r, t.number, depth + 1)?;
                    omitted = omitted.saturating_add(o);
                    BacnetValue::Constructed { tag: t.number, items: inner }
                }
                _ if t.is_application() => {
                    let v = decode_app_value(&t, self.flags).map_err(|e| BacnetError::malformed(at, e))?;
                    owned_value(&v)
                }
                _ => BacnetValue::Context { tag: t.number, octets: Hex::new(t.content) },
            };
            if self.budget > 0 {
                self.budget -= 1;
                items.push(v);
            } else {
                omitted = omitted.saturating_add(1);
            }
        }
    }

    /// A property value enclosed in opening/closing tag `n` (opening already consumed): one
    /// item, or a list of several. Returns it with the count of items left out.
    fn value(&mut self, r: &mut TagReader<'_>, n: u8) -> Res<(BacnetValue, u32)> {
        let (mut items, omitted) = self.items(r, n, 1)?;
        let v = if items.len() == 1 && omitted == 0 {
            items.pop().unwrap_or(BacnetValue::Null)
        } else {
            BacnetValue::List(items)
        };
        Ok((v, omitted))
    }

    /// Flags a value whose datatype the property does not have (`property_value_bad_type`),
    /// for the properties whose type is fixed by the standard and that matter to a monitor.
    /// The encoding itself is valid, so the message is not malformed.
    fn check_type(
        &mut self,
        object: Option<BacnetObjectId>,
        property: u32,
        index: Option<u32>,
        v: &BacnetValue,
    ) {
        if index.is_some() {
            return;
        }
        let Some(want) = expected_type(object.map(|o| o.object_type), property) else { return };
        let ok = match (want, v) {
            // Writing Null relinquishes a commandable property.
            (_, BacnetValue::Null) => property == prop::PRESENT_VALUE,
            (Expected::Real, BacnetValue::Real(_))
            | (Expected::Double, BacnetValue::Double(_))
            | (Expected::Enumerated, BacnetValue::Enumerated(_))
            | (Expected::Unsigned, BacnetValue::Unsigned(_))
            | (Expected::Signed, BacnetValue::Signed(_))
            | (Expected::Boolean, BacnetValue::Boolean(_))
            | (Expected::Text, BacnetValue::CharacterString(_)) => true,
            // A list of BACnetDestination: each starts with the valid-days BitString.
            (Expected::Destinations, BacnetValue::List(items)) => {
                items.is_empty() || matches!(items.first(), Some(BacnetValue::BitString(_)))
            }
            _ => false,
        };
        if !ok {
            self.flags.flag("property_value_bad_type");
        }
    }

    /// Takes a device property value into the identity of the sender.
    fn identity_from(&mut self, object: BacnetObjectId, property: u32, value: &BacnetValue) {
        if !object.is_device() {
            return;
        }
        let id = self.out.identity.get_or_insert_with(BacnetIdentity::default);
        match id.absorb(property, value) {
            Some(true) if object.instance != BacnetObjectId::WILDCARD_INSTANCE => {
                id.device_instance = Some(object.instance);
            }
            Some(false) => self.flags.flag("identity_property_bad_type"),
            _ => {}
        }
        if id.is_empty() {
            self.out.identity = None;
        }
    }

    fn check_priority(&mut self, p: u8) {
        if !(1..=16).contains(&p) {
            self.flags.malformed("priority_out_of_range");
        }
    }

    /// Dispatches on the service. Ok(true) when the service was decoded and should have used
    /// all the data; Ok(false) when only the tag structure was checked.
    fn service(&mut self, pdu_type: u8, service: u8, r: &mut TagReader<'_>) -> Res<bool> {
        use confirmed as c;
        use unconfirmed as u;
        match (pdu_type, service) {
            (0 | 3, c::READ_PROPERTY) => self.read_property(r, pdu_type == 3)?,
            (0, c::READ_PROPERTY_MULTIPLE) => self.rpm_request(r)?,
            (3, c::READ_PROPERTY_MULTIPLE) => self.rpm_ack(r)?,
            (0, c::WRITE_PROPERTY) => self.write_property(r)?,
            (0, c::WRITE_PROPERTY_MULTIPLE) => self.wpm(r)?,
            (0, c::DEVICE_COMMUNICATION_CONTROL) => self.dcc(r)?,
            (0, c::REINITIALIZE_DEVICE) => self.reinitialize(r)?,
            (0, c::ATOMIC_READ_FILE) => self.atomic_read(r)?,
            (3, c::ATOMIC_READ_FILE) => self.atomic_read_ack(r)?,
            (0, c::ATOMIC_WRITE_FILE) => self.atomic_write(r)?,
            (3, c::ATOMIC_WRITE_FILE) => self.atomic_write_ack(r)?,
            (0, c::CREATE_OBJECT) => self.create_object(r)?,
            (3, c::CREATE_OBJECT) => {
                let o = app_object_id(r, self.flags)?;
                self.out.detail = Some(BacnetDetail::CreateObject {
                    object_type: Some(o.object_type),
                    object: Some(o),
                    initial_values: 0,
                });
            }
            (0, c::DELETE_OBJECT) => {
                let object = app_object_id(r, self.flags)?;
                self.out.detail = Some(BacnetDetail::DeleteObject { object });
            }
            (0, c::SUBSCRIBE_COV) => self.subscribe_cov(r, false)?,
            (0, c::SUBSCRIBE_COV_PROPERTY) => self.subscribe_cov(r, true)?,
            (0, c::CONFIRMED_COV_NOTIFICATION) | (1, u::COV_NOTIFICATION) => self.cov_notification(r)?,
            (0, c::CONFIRMED_EVENT_NOTIFICATION) | (1, u::EVENT_NOTIFICATION) => {
                let process_id = r.req_with(0, decode_unsigned)?;
                let device = r.req_with(1, decode_object_id)?;
                let object = r.req_with(2, decode_object_id)?;
                self.out.detail = Some(BacnetDetail::EventNotification { process_id, device, object });
                return Ok(false);
            }
            (0, c::ACKNOWLEDGE_ALARM) => {
                let process_id = r.req_with(0, decode_unsigned)?;
                let object = r.req_with(1, decode_object_id)?;
                let event_state = r.req_with(2, enum32)?;
                self.out.detail = Some(BacnetDetail::AcknowledgeAlarm { process_id, object, event_state });
                return Ok(false);
            }
            (0, c::LIFE_SAFETY_OPERATION) => {
                let process_id = r.req_with(0, decode_unsigned)?;
                r.req_with(1, decode_charstring)?;
                let request = r.req_with(2, enum32)?;
                let object = r.ctx_with(3, decode_object_id)?;
                self.out.detail = Some(BacnetDetail::LifeSafetyOperation { process_id, request, object });
            }
            (0 | 3, c::CONFIRMED_PRIVATE_TRANSFER) | (1, u::PRIVATE_TRANSFER) => self.private_transfer(r)?,
            (0, c::CONFIRMED_TEXT_MESSAGE) | (1, u::TEXT_MESSAGE) => self.text_message(r)?,
            (0 | 3, c::READ_RANGE) => {
                self.property_ref(r)?;
                return Ok(false);
            }
            (0, c::ADD_LIST_ELEMENT | c::REMOVE_LIST_ELEMENT) => self.list_element(r)?,
            (1, u::I_AM) => self.i_am(r)?,
            (1, u::I_HAVE) => {
                let device = app_object_id(r, self.flags)?;
                let object = app_object_id(r, self.flags)?;
                let name = app_charstring(r, self.flags)?;
                self.out.detail =
                    Some(BacnetDetail::IHave { device, object, object_name: name.to_text(MAX_TEXT) });
            }
            (1, u::WHO_IS) => self.who_is(r)?,
            (1, u::WHO_HAS) => self.who_has(r)?,
            (1, u::TIME_SYNCHRONIZATION | u::UTC_TIME_SYNCHRONIZATION) => {
                let at = r.pos();
                let date = match r.app_value(app::DATE, self.flags)? {
                    AppValue::Date(d) => d,
                    _ => return Err(BacnetError::malformed(at, "service_unexpected_type")),
                };
                let at = r.pos();
                let time = match r.app_value(app::TIME, self.flags)? {
                    AppValue::Time(t) => t,
                    _ => return Err(BacnetError::malformed(at, "service_unexpected_type")),
                };
                let utc = service == u::UTC_TIME_SYNCHRONIZATION;
                self.out.detail = Some(BacnetDetail::TimeSynchronization { date, time, utc });
            }
            (1, u::WRITE_GROUP) => self.write_group(r)?,
            (5, _) => self.error(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `[0] object [1] property [2] index` (ReadProperty, ReadRange and their ACKs).
    fn property_ref(&mut self, r: &mut TagReader<'_>) -> Res<(BacnetObjectId, u32, Option<u32>)> {
        let object = r.req_with(0, decode_object_id)?;
        let property = r.req_with(1, enum32)?;
        let array_index = r.ctx_with(2, uns32)?;
        self.out.detail = Some(BacnetDetail::Property {
            object,
            property,
            property_name: property_name(property),
            array_index,
            priority: None,
        });
        Ok((object, property, array_index))
    }

    /// ReadProperty (15.5) and ReadProperty-ACK (`[3]` value).
    fn read_property(&mut self, r: &mut TagReader<'_>, ack: bool) -> Res<()> {
        let (object, property, array_index) = self.property_ref(r)?;
        let mut p = BacnetProperty { array_index, ..BacnetProperty::new(Some(object), property) };
        if ack {
            r.req_opening(3)?;
            let (v, omitted) = self.value(r, 3)?;
            self.check_type(Some(object), property, array_index, &v);
            self.identity_from(object, property, &v);
            p.value = Some(v);
            p.values_omitted = omitted;
        }
        self.push_property(p);
        Ok(())
    }

    /// WriteProperty (15.9): `[3]` value, `[4]` priority.
    fn write_property(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let (object, property, array_index) = self.property_ref(r)?;
        let mut p = BacnetProperty { array_index, ..BacnetProperty::new(Some(object), property) };
        r.req_opening(3)?;
        let (v, omitted) = self.value(r, 3)?;
        self.check_type(Some(object), property, array_index, &v);
        p.value = Some(v);
        p.values_omitted = omitted;
        let priority = r.ctx_with(4, uns8)?;
        if let Some(pr) = priority {
            self.check_priority(pr);
        }
        if let Some(BacnetDetail::Property { priority: slot, .. }) = &mut self.out.detail {
            *slot = priority;
        }
        p.priority = priority;
        self.push_property(p);
        Ok(())
    }

    /// ReadPropertyMultiple (15.7): `[0] object [1] { [0] property [1] index }…`.
    fn rpm_request(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let (mut objects, mut props) = (0u32, 0u32);
        loop {
            self.out.detail = Some(BacnetDetail::Multiple { objects, properties: props });
            if r.is_empty() && objects > 0 {
                return Ok(());
            }
            let object = r.req_with(0, decode_object_id)?;
            objects += 1;
            r.req_opening(1)?;
            while !r.at_closing(1)? {
                let property = r.req_with(0, enum32)?;
                let array_index = r.ctx_with(1, uns32)?;
                props += 1;
                self.push_property(BacnetProperty {
                    array_index,
                    ..BacnetProperty::new(Some(object), property)
                });
            }
            r.closing(1)?;
        }
    }

    /// ReadPropertyMultiple-ACK (15.7.1.3): per object, `[2] property [3] index` then
    /// `[4] value` or `[5] error`.
    fn rpm_ack(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let (mut objects, mut props) = (0u32, 0u32);
        loop {
            self.out.detail = Some(BacnetDetail::Multiple { objects, properties: props });
            if r.is_empty() && objects > 0 {
                return Ok(());
            }
            let object = r.req_with(0, decode_object_id)?;
            objects += 1;
            r.req_opening(1)?;
            while !r.at_closing(1)? {
                let property = r.req_with(2, enum32)?;
                let array_index = r.ctx_with(3, uns32)?;
                let mut p = BacnetProperty { array_index, ..BacnetProperty::new(Some(object), property) };
                if r.opening(4)? {
                    let (v, omitted) = self.value(r, 4)?;
                    self.check_type(Some(object), property, array_index, &v);
                    self.identity_from(object, property, &v);
                    p.value = Some(v);
                    p.values_omitted = omitted;
                } else if r.opening(5)? {
                    let class = app_enum(r, self.flags)?;
                    let code = app_enum(r, self.flags)?;
                    r.closing(5)?;
                    p.error = Some(ErrorInfo::new(class, code));
                } else if r.is_empty() {
                    return Err(BacnetError::Incomplete { needed: None });
                } else {
                    return Err(r.fail("service_missing_parameter"));
                }
                props += 1;
                self.push_property(p);
            }
            r.closing(1)?;
        }
    }

    /// A BACnetPropertyValue list up to closing tag `close`: `[0] property [1] index
    /// [2] value [3] priority` (WritePropertyMultiple, CreateObject, COV notifications).
    fn property_values(
        &mut self,
        r: &mut TagReader<'_>,
        object: Option<BacnetObjectId>,
        close: u8,
    ) -> Res<u32> {
        let mut n = 0u32;
        while !r.at_closing(close)? {
            let property = r.req_with(0, enum32)?;
            let array_index = r.ctx_with(1, uns32)?;
            r.req_opening(2)?;
            let (v, omitted) = self.value(r, 2)?;
            self.check_type(object, property, array_index, &v);
            let priority = r.ctx_with(3, uns8)?;
            if let Some(pr) = priority {
                self.check_priority(pr);
            }
            n += 1;
            self.push_property(BacnetProperty {
                array_index,
                value: Some(v),
                priority,
                values_omitted: omitted,
                ..BacnetProperty::new(object, property)
            });
        }
        r.closing(close)?;
        Ok(n)
    }

    /// WritePropertyMultiple (15.10).
    fn wpm(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let (mut objects, mut props) = (0u32, 0u32);
        loop {
            self.out.detail = Some(BacnetDetail::Multiple { objects, properties: props });
            if r.is_empty() && objects > 0 {
                return Ok(());
            }
            let object = r.req_with(0, decode_object_id)?;
            objects += 1;
            r.req_opening(1)?;
            props += self.property_values(r, Some(object), 1)?;
        }
    }

    /// A password CharacterString `[n]`: length only, never the characters.
    fn password(&mut self, r: &mut TagReader<'_>, n: u8) -> Res<Option<u32>> {
        let Some(s) = r.ctx_with(n, decode_charstring)? else {
            return Ok(None);
        };
        s.check(self.flags);
        let chars = match s.charset {
            super::tags::charset::UCS2 => s.bytes.len() / 2,
            super::tags::charset::UTF8 => s.bytes.utf8_chunks().map(|c| c.valid().chars().count()).sum(),
            _ => s.bytes.len(),
        };
        if chars > MAX_PASSWORD_CHARS {
            self.flags.flag("password_too_long");
        }
        Ok(Some(u32::try_from(s.bytes.len()).unwrap_or(u32::MAX)))
    }

    /// DeviceCommunicationControl (16.1): `[0]` duration, `[1]` enable-disable, `[2]` password.
    fn dcc(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let duration_min = r.ctx_with(0, uns32)?;
        let enable_disable = r.ctx_with(1, enum32)?;
        match enable_disable {
            None => self.flags.malformed("dcc_missing_enable_disable"),
            Some(v) if v > 2 => self.flags.malformed("dcc_bad_enable_disable"),
            Some(_) => {}
        }
        let password_length = self.password(r, 2)?;
        self.out.detail = Some(BacnetDetail::DeviceCommunicationControl {
            duration_min,
            enable_disable,
            enable_disable_name: enable_disable.and_then(enable_disable_name),
            password_present: password_length.is_some(),
            password_length,
        });
        Ok(())
    }

    /// ReinitializeDevice (16.4): `[0]` state, `[1]` password.
    fn reinitialize(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let state = r.req_with(0, enum32)?;
        if reinitialized_state_name(state).is_none() {
            self.flags.malformed("reinitialize_bad_state");
        }
        let password_length = self.password(r, 1)?;
        self.out.detail = Some(BacnetDetail::ReinitializeDevice {
            state,
            state_name: reinitialized_state_name(state),
            password_present: password_length.is_some(),
            password_length,
        });
        Ok(())
    }

    fn file_object(&mut self, r: &mut TagReader<'_>) -> Res<BacnetObjectId> {
        let file = app_object_id(r, self.flags)?;
        if file.object_type != BacnetObjectId::FILE {
            self.flags.flag("file_access_not_file_object");
        }
        Ok(file)
    }

    fn file_detail(
        &mut self,
        file: Option<BacnetObjectId>,
        access: FileAccess,
        start: i64,
        count: Option<u64>,
        eof: Option<bool>,
    ) {
        self.out.detail = Some(BacnetDetail::AtomicFile { file, access, start, count, end_of_file: eof });
    }

    /// AtomicReadFile (15.1): file, then `[0] { start, octet count }` or
    /// `[1] { start record, record count }`.
    fn atomic_read(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let file = self.file_object(r)?;
        let (access, tag) = if r.opening(0)? {
            (FileAccess::Stream, 0)
        } else if r.opening(1)? {
            (FileAccess::Record, 1)
        } else {
            return Err(if r.is_empty() {
                BacnetError::Incomplete { needed: None }
            } else {
                r.fail("service_missing_parameter")
            });
        };
        let start = app_signed(r, self.flags)?;
        let count = app_unsigned(r, self.flags)?;
        r.closing(tag)?;
        self.file_detail(Some(file), access, start, Some(count), None);
        Ok(())
    }

    /// AtomicReadFile-ACK (15.1.1.3): end-of-file, then `[0] { start, data }` or
    /// `[1] { start record, record count, data… }`.
    fn atomic_read_ack(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let at = r.pos();
        let eof = match r.app_value(app::BOOLEAN, self.flags)? {
            AppValue::Boolean(b) => b,
            _ => return Err(BacnetError::malformed(at, "service_unexpected_type")),
        };
        if r.opening(0)? {
            let start = app_signed(r, self.flags)?;
            let data = app_octets(r, self.flags)?;
            r.closing(0)?;
            self.file_detail(None, FileAccess::Stream, start, Some(data.len() as u64), Some(eof));
        } else if r.opening(1)? {
            let start = app_signed(r, self.flags)?;
            let count = app_unsigned(r, self.flags)?;
            r.skip_to_closing(1)?;
            self.file_detail(None, FileAccess::Record, start, Some(count), Some(eof));
        } else {
            return Err(if r.is_empty() {
                BacnetError::Incomplete { needed: None }
            } else {
                r.fail("service_missing_parameter")
            });
        }
        Ok(())
    }

    /// AtomicWriteFile (15.2): file, then `[0] { start, data }` or
    /// `[1] { start record, record count, data… }`.
    fn atomic_write(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let file = self.file_object(r)?;
        if r.opening(0)? {
            let start = app_signed(r, self.flags)?;
            let data = app_octets(r, self.flags)?;
            r.closing(0)?;
            self.file_detail(Some(file), FileAccess::Stream, start, Some(data.len() as u64), None);
        } else if r.opening(1)? {
            let start = app_signed(r, self.flags)?;
            let count = app_unsigned(r, self.flags)?;
            r.skip_to_closing(1)?;
            self.file_detail(Some(file), FileAccess::Record, start, Some(count), None);
        } else {
            return Err(if r.is_empty() {
                BacnetError::Incomplete { needed: None }
            } else {
                r.fail("service_missing_parameter")
            });
        }
        Ok(())
    }

    /// AtomicWriteFile-ACK (15.2.1.3): `[0]` start position or `[1]` start record.
    fn atomic_write_ack(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        if let Some(start) = r.ctx_with(0, decode_signed)? {
            self.file_detail(None, FileAccess::Stream, start, None, None);
        } else {
            let start = r.req_with(1, decode_signed)?;
            self.file_detail(None, FileAccess::Record, start, None, None);
        }
        Ok(())
    }

    /// CreateObject (15.3): `[0] { [0] type | [1] object }`, `[1] { property values }`.
    fn create_object(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        r.req_opening(0)?;
        let (object_type, object) = if let Some(t) = r.ctx_with(0, enum32)? {
            (Some(u16::try_from(t).unwrap_or(u16::MAX)), None)
        } else {
            let o = r.req_with(1, decode_object_id)?;
            (Some(o.object_type), Some(o))
        };
        r.closing(0)?;
        self.out.detail = Some(BacnetDetail::CreateObject { object_type, object, initial_values: 0 });
        if r.opening(1)? {
            let n = self.property_values(r, object, 1)?;
            self.out.detail = Some(BacnetDetail::CreateObject { object_type, object, initial_values: n });
        }
        Ok(())
    }

    /// SubscribeCOV (13.14) and SubscribeCOVProperty (13.15).
    fn subscribe_cov(&mut self, r: &mut TagReader<'_>, with_property: bool) -> Res<()> {
        let process_id = r.req_with(0, decode_unsigned)?;
        let object = r.req_with(1, decode_object_id)?;
        let at = r.pos();
        let confirmed = match r.ctx(2)? {
            Some(c) => {
                Some(decode_context_boolean(c, self.flags).map_err(|e| BacnetError::malformed(at, e))?)
            }
            None => None,
        };
        let lifetime = r.ctx_with(3, uns32)?;
        let cancellation = confirmed.is_none() && lifetime.is_none();
        let (mut property, mut array_index, mut cov_increment) = (None, None, None);
        if with_property {
            r.req_opening(4)?;
            property = Some(r.req_with(0, enum32)?);
            array_index = r.ctx_with(1, uns32)?;
            r.closing(4)?;
            cov_increment = r.ctx_with(5, decode_real)?;
        }
        self.out.detail = Some(BacnetDetail::SubscribeCov {
            process_id,
            object,
            confirmed,
            lifetime,
            cancellation,
            property,
            property_name: property.and_then(property_name),
            array_index,
            cov_increment,
        });
        Ok(())
    }

    /// Confirmed/UnconfirmedCOVNotification (13.6, 13.7).
    fn cov_notification(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let process_id = r.req_with(0, decode_unsigned)?;
        let device = r.req_with(1, decode_object_id)?;
        let object = r.req_with(2, decode_object_id)?;
        let time_remaining = r.req_with(3, uns32)?;
        self.out.detail = Some(BacnetDetail::CovNotification { process_id, device, object, time_remaining });
        r.req_opening(4)?;
        self.property_values(r, Some(object), 4)?;
        Ok(())
    }

    /// Confirmed/UnconfirmedPrivateTransfer (16.2, 16.3) and ConfirmedPrivateTransfer-ACK.
    fn private_transfer(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let vendor_id = r.req_with(0, uns32)?;
        let service_number = r.req_with(1, uns32)?;
        self.out.detail =
            Some(BacnetDetail::PrivateTransfer { vendor_id, service_number, parameters_len: None });
        if r.opening(2)? {
            let p = r.skip_to_closing(2)?;
            let parameters_len = Some(u32::try_from(p.len()).unwrap_or(u32::MAX));
            self.out.detail =
                Some(BacnetDetail::PrivateTransfer { vendor_id, service_number, parameters_len });
        }
        Ok(())
    }

    /// Confirmed/UnconfirmedTextMessage (16.5, 16.6): the message length, not the text.
    fn text_message(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let source_device = r.req_with(0, decode_object_id)?;
        if r.opening(1)? {
            r.skip_to_closing(1)?;
        }
        let priority = r.req_with(2, enum32)?;
        let msg = r.req_with(3, decode_charstring)?;
        msg.check(self.flags);
        let length = u32::try_from(msg.bytes.len()).unwrap_or(u32::MAX);
        self.out.detail = Some(BacnetDetail::TextMessage { source_device, priority, length });
        Ok(())
    }

    /// AddListElement / RemoveListElement (15.1, 15.2 of clause 15): `[3]` list of elements.
    fn list_element(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let (object, property, array_index) = self.property_ref(r)?;
        r.req_opening(3)?;
        let (v, omitted) = self.value(r, 3)?;
        self.check_type(Some(object), property, array_index, &v);
        self.push_property(BacnetProperty {
            array_index,
            value: Some(v),
            values_omitted: omitted,
            ..BacnetProperty::new(Some(object), property)
        });
        Ok(())
    }

    /// I-Am (16.1): device, max APDU, segmentation, vendor.
    fn i_am(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let device = app_object_id(r, self.flags)?;
        if !device.is_device() {
            self.flags.malformed("iam_not_device_object");
        }
        let max_apdu = app_u32(r, self.flags)?;
        let segmentation = app_enum(r, self.flags)?;
        if segmentation_name(segmentation).is_none() {
            self.flags.malformed("iam_bad_segmentation");
        }
        let vendor_id = app_u32(r, self.flags)?;
        if max_apdu < 50 {
            self.flags.flag("iam_max_apdu_below_minimum");
        }
        self.out.detail = Some(BacnetDetail::IAm {
            device,
            max_apdu,
            segmentation,
            segmentation_name: segmentation_name(segmentation),
            vendor_id,
        });
        self.out.identity = Some(BacnetIdentity {
            device_instance: Some(device.instance),
            vendor_id: Some(vendor_id),
            max_apdu: Some(max_apdu),
            segmentation: Some(segmentation),
            ..BacnetIdentity::default()
        });
        Ok(())
    }

    /// Checks a device instance range: both limits or neither, low ≤ high ≤ 4194303.
    fn range(&mut self, low: Option<u32>, high: Option<u32>, partial: &'static str) {
        match (low, high) {
            (Some(l), Some(h)) => {
                if l > h {
                    self.flags.flag("instance_range_inverted");
                }
                if h > MAX_INSTANCE {
                    self.flags.flag("instance_range_out_of_bounds");
                }
            }
            (None, None) => {}
            _ => self.flags.malformed(partial),
        }
    }

    /// Who-Is (16.10): `[0]` low, `[1]` high.
    fn who_is(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let low = r.ctx_with(0, uns32)?;
        self.out.detail = Some(BacnetDetail::WhoIs { low, high: None });
        let high = r.ctx_with(1, uns32)?;
        self.range(low, high, "whois_partial_range");
        self.out.detail = Some(BacnetDetail::WhoIs { low, high });
        Ok(())
    }

    /// Who-Has (16.9): `[0]` low, `[1]` high, then `[2]` object or `[3]` name.
    fn who_has(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let low = r.ctx_with(0, uns32)?;
        let high = r.ctx_with(1, uns32)?;
        self.range(low, high, "whohas_partial_range");
        let object = r.ctx_with(2, decode_object_id)?;
        let mut object_name = None;
        if object.is_none() {
            let name = r.req_with(3, decode_charstring)?;
            name.check(self.flags);
            object_name = name.to_text(MAX_TEXT);
        }
        self.out.detail = Some(BacnetDetail::WhoHas { low, high, object, object_name });
        Ok(())
    }

    /// WriteGroup (16.10a): `[0]` group, `[1]` priority, `[2]` change list, `[3]` inhibit.
    fn write_group(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let group_number = r.req_with(0, uns32)?;
        let priority = r.req_with(1, uns32)?;
        if !(1..=16).contains(&priority) {
            self.flags.malformed("priority_out_of_range");
        }
        r.req_opening(2)?;
        let mut changes = 0u32;
        while !r.at_closing(2)? {
            r.req_with(0, uns32)?;
            r.ctx_with(1, uns8)?;
            if r.opening(0)? {
                r.skip_to_closing(0)?;
            } else {
                r.app()?;
            }
            changes += 1;
        }
        r.closing(2)?;
        let at = r.pos();
        let inhibit_delay = match r.ctx(3)? {
            Some(c) => {
                Some(decode_context_boolean(c, self.flags).map_err(|e| BacnetError::malformed(at, e))?)
            }
            None => None,
        };
        self.out.detail = Some(BacnetDetail::WriteGroup { group_number, priority, changes, inhibit_delay });
        Ok(())
    }

    /// Error PDU (20.1.7): class and code, application-tagged or wrapped in `[0]` (services
    /// whose error carries more, e.g. CreateObject, WritePropertyMultiple).
    fn error(&mut self, r: &mut TagReader<'_>) -> Res<()> {
        let wrapped = r.opening(0)?;
        let class = app_enum(r, self.flags)?;
        let code = app_enum(r, self.flags)?;
        let info = ErrorInfo::new(class, code);
        if info.error_class_name.is_none() && class < 64 {
            self.flags.flag("error_unknown_class");
        }
        self.out.detail = Some(BacnetDetail::Error(info));
        if wrapped {
            r.closing(0)?;
            // The rest (first failed element, object identifier…) is checked by check_tags.
            while r.next_tag()?.is_some() {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bacnet::record::BacnetValue as V;

    fn oid(t: u16, i: u32) -> BacnetObjectId {
        BacnetObjectId { object_type: t, instance: i }
    }

    fn run(pdu: u8, svc: u8, data: &[u8]) -> (ServiceDecode, Flags) {
        let mut f = Flags::default();
        let d = parse_service(pdu, svc, data, 64, &mut f);
        (d, f)
    }

    fn ok(pdu: u8, svc: u8, data: &[u8]) -> ServiceOutput {
        let (d, f) = run(pdu, svc, data);
        assert_eq!(d.stop, None, "{f:?}");
        assert!(!f.malformed, "{f:?}");
        d.out
    }

    #[test]
    fn i_am() {
        // c4 02 00 00 7b: device,123 | 22 05 c4: max APDU 1476 | 91 00: segmented-both |
        // 21 05: vendor 5.
        let o = ok(1, 0, &[0xc4, 0x02, 0x00, 0x00, 0x7b, 0x22, 0x05, 0xc4, 0x91, 0x00, 0x21, 0x05]);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::IAm {
                device: oid(8, 123),
                max_apdu: 1476,
                segmentation: 0,
                segmentation_name: Some("segmented-both"),
                vendor_id: 5
            })
        );
        let id = o.identity.unwrap();
        assert_eq!((id.device_instance, id.vendor_id), (Some(123), Some(5)));
    }

    #[test]
    fn who_is() {
        // 09 00: [0] low 0 | 19 64: [1] high 100.
        let o = ok(1, 8, &[0x09, 0x00, 0x19, 0x64]);
        assert_eq!(o.detail, Some(BacnetDetail::WhoIs { low: Some(0), high: Some(100) }));
        assert_eq!(ok(1, 8, &[]).detail, Some(BacnetDetail::WhoIs { low: None, high: None }));
        // Only the low limit.
        let (_, f) = run(1, 8, &[0x09, 0x05]);
        assert!(f.has("whois_partial_range") && f.malformed);
        // The corpus case: [0] of length 1 with no content.
        let (d, f) = run(1, 8, &[0x09]);
        assert!(f.has("tag_truncated") && d.stop.is_some());
    }

    #[test]
    fn who_has_and_i_have() {
        // 3d 04 00 41 48 55: [3] name "AHU" (length 4 with the charset).
        let o = ok(1, 7, &[0x3d, 0x04, 0x00, b'A', b'H', b'U']);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::WhoHas {
                low: None,
                high: None,
                object: None,
                object_name: Some("AHU".into())
            })
        );
        // c4 device,1 | c4 analog-input,2 | 74 00 41 49 32: "AI2".
        let o = ok(1, 1, &[0xc4, 0x02, 0, 0, 1, 0xc4, 0, 0, 0, 2, 0x74, 0x00, b'A', b'I', b'2']);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::IHave {
                device: oid(8, 1),
                object: oid(0, 2),
                object_name: Some("AI2".into())
            })
        );
    }

    #[test]
    fn read_property_and_ack() {
        // 0c 02 00 00 7b: [0] device,123 | 19 79: [1] vendor-name.
        let o = ok(0, 12, &[0x0c, 0x02, 0x00, 0x00, 0x7b, 0x19, 0x79]);
        assert_eq!(o.properties.len(), 1);
        assert_eq!(o.properties[0].property_name, Some("vendor-name"));
        // ACK: ... 3e 75 06 00 "Trane" 3f: value CharacterString UTF-8.
        let mut d = vec![0x0c, 0x02, 0x00, 0x00, 0x7b, 0x19, 0x79, 0x3e, 0x75, 0x06, 0x00];
        d.extend_from_slice(b"Trane");
        d.push(0x3f);
        let o = ok(3, 12, &d);
        assert_eq!(o.properties[0].value.as_ref().and_then(V::as_text), Some("Trane"));
        let id = o.identity.unwrap();
        assert_eq!((id.device_instance, id.vendor_name.as_deref()), (Some(123), Some("Trane")));
        // Object identifier of 3 octets (the corpus case 0b 02 00 08).
        let (d, f) = run(0, 12, &[0x0b, 0x02, 0x00, 0x08, 0x19, 0x4d]);
        assert!(f.has("objectid_bad_length") && f.malformed);
        assert!(d.stop.is_some());
    }

    #[test]
    fn read_property_ack_array_and_index() {
        // [0] device,5 [1] object-list(76) [2] index 0 [3] { Unsigned 12 }.
        let o = ok(3, 12, &[0x0c, 0x02, 0, 0, 5, 0x19, 0x4c, 0x29, 0x00, 0x3e, 0x21, 0x0c, 0x3f]);
        assert_eq!(o.properties[0].array_index, Some(0));
        assert_eq!(o.properties[0].value, Some(V::Unsigned(12)));
        // object-list whole: three object ids.
        let o = ok(
            3,
            12,
            &[
                0x0c, 0x02, 0, 0, 5, 0x19, 0x4c, 0x3e, 0xc4, 0x02, 0, 0, 5, 0xc4, 0, 0, 0, 1, 0xc4, 0, 0, 0,
                2, 0x3f,
            ],
        );
        let Some(V::List(items)) = &o.properties[0].value else { panic!() };
        assert_eq!(items.len(), 3);
    }

    #[test]
    fn value_budget() {
        // object-list with 5 ids, budget 2.
        let mut d = vec![0x0c, 0x02, 0, 0, 5, 0x19, 0x4c, 0x3e];
        for i in 0..5u8 {
            d.extend([0xc4, 0, 0, 0, i]);
        }
        d.push(0x3f);
        let mut f = Flags::default();
        let r = parse_service(3, 12, &d, 2, &mut f);
        assert_eq!(r.out.properties[0].values_omitted, 3);
    }

    #[test]
    fn write_property() {
        // [0] analog-output,1 | [1] present-value | [3] { Real 21.5 } | [4] priority 8.
        let o = ok(
            0,
            15,
            &[0x0c, 0x00, 0x40, 0x00, 0x01, 0x19, 0x55, 0x3e, 0x44, 0x41, 0xac, 0x00, 0x00, 0x3f, 0x49, 0x08],
        );
        assert_eq!(
            o.detail,
            Some(BacnetDetail::Property {
                object: oid(1, 1),
                property: 85,
                property_name: Some("present-value"),
                array_index: None,
                priority: Some(8)
            })
        );
        assert_eq!(o.properties[0].value, Some(V::Real(21.5)));
        // Priority 17.
        let (_, f) = run(0, 15, &[0x0c, 0x00, 0x40, 0x00, 0x01, 0x19, 0x55, 0x3e, 0x00, 0x3f, 0x49, 0x11]);
        assert!(f.has("priority_out_of_range"));
    }

    #[test]
    fn property_datatypes() {
        // WriteProperty binary-output,1 present-value Real 1.0: a binary takes an Enumerated.
        let (_, f) =
            run(0, 15, &[0x0c, 0x01, 0x00, 0x00, 0x01, 0x19, 0x55, 0x3e, 0x44, 0x3f, 0x80, 0, 0, 0x3f]);
        assert!(f.has("property_value_bad_type") && !f.malformed);
        // Null relinquishes: fine. Enumerated 1: fine.
        let (_, f) = run(0, 15, &[0x0c, 0x01, 0x00, 0x00, 0x01, 0x19, 0x55, 0x3e, 0x00, 0x3f, 0x49, 0x08]);
        assert_eq!(f, Flags::default());
        let (_, f) = run(0, 15, &[0x0c, 0x01, 0x00, 0x00, 0x01, 0x19, 0x55, 0x3e, 0x91, 0x01, 0x3f]);
        assert_eq!(f, Flags::default());
        // AddListElement notification-class,1 recipient-list { Real 100 } (the ICSNPP case).
        let (_, f) =
            run(0, 8, &[0x0c, 0x03, 0xc0, 0x00, 0x01, 0x19, 0x66, 0x3e, 0x44, 0x42, 0xc8, 0x00, 0x00, 0x3f]);
        assert!(f.has("property_value_bad_type"));
    }

    #[test]
    fn rpm_request_and_ack() {
        // [0] device,2101 [1] { [0] object-name [0] vendor-name }.
        let o = ok(0, 14, &[0x0c, 0x02, 0x00, 0x08, 0x35, 0x1e, 0x09, 0x4d, 0x09, 0x79, 0x1f]);
        assert_eq!(o.detail, Some(BacnetDetail::Multiple { objects: 1, properties: 2 }));
        // ACK: [0] device,2101 [1] { [2] object-name [4] { "AHU" } [2] model-name [5] { class 2
        // code 32 } }.
        let d = [
            0x0c, 0x02, 0x00, 0x08, 0x35, 0x1e, 0x29, 0x4d, 0x4e, 0x74, 0x00, b'A', b'H', b'U', 0x4f, 0x29,
            0x46, 0x5e, 0x91, 0x02, 0x91, 0x20, 0x5f, 0x1f,
        ];
        let o = ok(3, 14, &d);
        assert_eq!(o.properties.len(), 2);
        assert_eq!(o.properties[1].error.map(|e| e.error_code_name), Some(Some("unknown-property")));
        let id = o.identity.unwrap();
        assert_eq!((id.device_instance, id.object_name.as_deref()), (Some(2101), Some("AHU")));
    }

    #[test]
    fn wpm() {
        // [0] analog-value,1 [1] { [0] present-value [2] { Real 1.0 } [3] prio 1 }.
        let d = [
            0x0c, 0x00, 0x80, 0x00, 0x01, 0x1e, 0x09, 0x55, 0x2e, 0x44, 0x3f, 0x80, 0, 0, 0x2f, 0x39, 0x01,
            0x1f,
        ];
        let o = ok(0, 16, &d);
        assert_eq!(o.properties[0].priority, Some(1));
        assert_eq!(o.properties[0].value, Some(V::Real(1.0)));
    }

    #[test]
    fn dcc_never_keeps_the_password() {
        // The protocols.md bytes: 09 3c: 60 min | 19 01: disable | 2d 07 00 "secret".
        let d = [0x09, 0x3c, 0x19, 0x01, 0x2d, 0x07, 0x00, b's', b'e', b'c', b'r', b'e', b't'];
        let o = ok(0, 17, &d);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::DeviceCommunicationControl {
                duration_min: Some(60),
                enable_disable: Some(1),
                enable_disable_name: Some("disable"),
                password_present: true,
                password_length: Some(6)
            })
        );
        let text = format!("{o:?} {}", serde_json::to_string(&o.detail).unwrap());
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn reinitialize() {
        // 09 01: warmstart | 1d 05 00 "pass".
        let o = ok(0, 20, &[0x09, 0x01, 0x1d, 0x05, 0x00, b'p', b'a', b's', b's']);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::ReinitializeDevice {
                state: 1,
                state_name: Some("warmstart"),
                password_present: true,
                password_length: Some(4)
            })
        );
        assert!(!format!("{o:?}").contains("pass\""));
        let (_, f) = run(0, 20, &[0x09, 0x09]);
        assert!(f.has("reinitialize_bad_state"));
    }

    #[test]
    fn atomic_file() {
        // Read: file,1 | [0] { Signed 0, Unsigned 512 }.
        let o = ok(0, 6, &[0xc4, 0x02, 0x80, 0x00, 0x01, 0x0e, 0x31, 0x00, 0x22, 0x02, 0x00, 0x0f]);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::AtomicFile {
                file: Some(oid(10, 1)),
                access: FileAccess::Stream,
                start: 0,
                count: Some(512),
                end_of_file: None
            })
        );
        // Read ACK: eof true | [0] { Signed 0, OctetString 3 octets }.
        let o = ok(3, 6, &[0x11, 0x0e, 0x31, 0x00, 0x63, 1, 2, 3, 0x0f]);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::AtomicFile {
                file: None,
                access: FileAccess::Stream,
                start: 0,
                count: Some(3),
                end_of_file: Some(true)
            })
        );
        // Write: file,1 | [1] { Signed 2, Unsigned 1, OctetString "x" }.
        let o = ok(0, 7, &[0xc4, 0x02, 0x80, 0x00, 0x01, 0x1e, 0x31, 0x02, 0x21, 0x01, 0x61, b'x', 0x1f]);
        assert!(matches!(
            o.detail,
            Some(BacnetDetail::AtomicFile { access: FileAccess::Record, start: 2, .. })
        ));
        // Write ACK: [0] start 0.
        let o = ok(3, 7, &[0x09, 0x00]);
        assert!(matches!(o.detail, Some(BacnetDetail::AtomicFile { start: 0, .. })));
    }

    #[test]
    fn create_and_delete() {
        // [0] { [0] analog-value } [1] { [0] object-name [2] { "X" } }.
        let o = ok(0, 10, &[0x0e, 0x09, 0x02, 0x0f, 0x1e, 0x09, 0x4d, 0x2e, 0x72, 0x00, b'X', 0x2f, 0x1f]);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::CreateObject { object_type: Some(2), object: None, initial_values: 1 })
        );
        let o = ok(3, 10, &[0xc4, 0x00, 0x80, 0x00, 0x05]);
        assert!(matches!(o.detail, Some(BacnetDetail::CreateObject { object: Some(_), .. })));
        let o = ok(0, 11, &[0xc4, 0x00, 0x80, 0x00, 0x05]);
        assert_eq!(o.detail, Some(BacnetDetail::DeleteObject { object: oid(2, 5) }));
    }

    #[test]
    fn subscribe_cov() {
        // [0] pid 1 | [1] analog-input,1 | [2] true | [3] lifetime 300.
        let o = ok(0, 5, &[0x09, 0x01, 0x1c, 0, 0, 0, 1, 0x29, 0x01, 0x3a, 0x01, 0x2c]);
        let Some(BacnetDetail::SubscribeCov { confirmed, lifetime, cancellation, .. }) = o.detail else {
            panic!()
        };
        assert_eq!((confirmed, lifetime, cancellation), (Some(true), Some(300), false));
        // Cancellation: neither [2] nor [3].
        let o = ok(0, 5, &[0x09, 0x01, 0x1c, 0, 0, 0, 1]);
        assert!(matches!(o.detail, Some(BacnetDetail::SubscribeCov { cancellation: true, .. })));
        // SubscribeCOVProperty with [4] { [0] present-value } [5] 0.5.
        let o = ok(
            0,
            28,
            &[0x09, 0x01, 0x1c, 0, 0, 0, 1, 0x29, 0x00, 0x4e, 0x09, 0x55, 0x4f, 0x5c, 0x3f, 0, 0, 0],
        );
        let Some(BacnetDetail::SubscribeCov { property, cov_increment, .. }) = o.detail else { panic!() };
        assert_eq!((property, cov_increment), (Some(85), Some(0.5)));
    }

    #[test]
    fn cov_notification() {
        // [0] pid 1 | [1] device,2101 | [2] analog-input,1 | [3] 0 | [4] { [0] present-value
        // [2] { Real 2.0 } [0] status-flags [2] { BitString 4 bits 0000 } }.
        let d = [
            0x09, 0x01, 0x1c, 0x02, 0x00, 0x08, 0x35, 0x2c, 0, 0, 0, 1, 0x39, 0x00, 0x4e, 0x09, 0x55, 0x2e,
            0x44, 0x40, 0, 0, 0, 0x2f, 0x09, 0x6f, 0x2e, 0x82, 0x04, 0x00, 0x2f, 0x4f,
        ];
        let o = ok(1, 2, &d);
        assert_eq!(o.properties.len(), 2);
        assert_eq!(o.properties[1].value, Some(V::BitString(Bits { unused_bits: 4, bits: "0000".into() })));
        assert!(matches!(o.detail, Some(BacnetDetail::CovNotification { time_remaining: 0, .. })));
    }

    #[test]
    fn time_sync_write_group_private() {
        // Date 2024-05-01 | Time 12:30:05.00.
        let o = ok(1, 6, &[0xa4, 124, 5, 1, 3, 0xb4, 12, 30, 5, 0]);
        assert!(matches!(o.detail, Some(BacnetDetail::TimeSynchronization { utc: false, .. })));
        // WriteGroup: [0] group 1 | [1] prio 8 | [2] { [0] channel 3 Real 1.0 } | [3] false.
        let o =
            ok(1, 10, &[0x09, 0x01, 0x19, 0x08, 0x2e, 0x09, 0x03, 0x44, 0x3f, 0x80, 0, 0, 0x2f, 0x39, 0x00]);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::WriteGroup {
                group_number: 1,
                priority: 8,
                changes: 1,
                inhibit_delay: Some(false)
            })
        );
        // Private transfer: vendor 7 | service 1 | [2] { Unsigned 1 }.
        let o = ok(0, 18, &[0x09, 0x07, 0x19, 0x01, 0x2e, 0x21, 0x01, 0x2f]);
        assert_eq!(
            o.detail,
            Some(BacnetDetail::PrivateTransfer { vendor_id: 7, service_number: 1, parameters_len: Some(2) })
        );
    }

    #[test]
    fn errors() {
        // 91 04 91 1a: security / password-failure.
        let o = ok(5, 20, &[0x91, 0x04, 0x91, 0x1a]);
        assert_eq!(o.detail, Some(BacnetDetail::Error(ErrorInfo::new(4, 26))));
        assert_eq!(ErrorInfo::new(4, 26).error_code_name, Some("password-failure"));
        // Wrapped: [0] { object / unknown-object } [1] first failed element 1.
        let o = ok(5, 10, &[0x0e, 0x91, 0x01, 0x91, 0x1f, 0x0f, 0x19, 0x01]);
        assert_eq!(o.detail, Some(BacnetDetail::Error(ErrorInfo::new(1, 31))));
    }

    #[test]
    fn bacpypes3_style_application_lvt_6() {
        // An application tag 3 with LVT 6 where an opening tag [3] was meant: 0x36 instead of 0x3e.
        let (d, f) = run(3, 12, &[0x0c, 0x02, 0, 0, 1, 0x19, 0x4d, 0x36, 0x00, 0x37]);
        assert!(f.has("tag_app_lvt_open_close") && f.malformed);
        assert!(d.stop.is_some());
    }

    #[test]
    fn trailing_data_flagged() {
        let (_, f) =
            run(1, 0, &[0xc4, 0x02, 0x00, 0x00, 0x7b, 0x22, 0x05, 0xc4, 0x91, 0x00, 0x21, 0x05, 0x00]);
        assert!(f.has("service_trailing_data") && !f.malformed);
    }
}
