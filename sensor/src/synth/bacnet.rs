//! BACnet/IP (ASHRAE 135 Annex J) frames: BVLC, NPDU and APDU with the tag encoding of
//! clause 20.2, written straight into a byte buffer.

/// BVLC functions.
pub(crate) const ORIGINAL_UNICAST: u8 = 0x0A;
pub(crate) const ORIGINAL_BROADCAST: u8 = 0x0B;

/// Object types.
pub(crate) const OBJ_ANALOG_INPUT: u16 = 0;
pub(crate) const OBJ_ANALOG_VALUE: u16 = 2;
pub(crate) const OBJ_BINARY_INPUT: u16 = 3;
pub(crate) const OBJ_DEVICE: u16 = 8;

/// Property identifiers.
pub(crate) const PROP_APP_SOFTWARE_VERSION: u32 = 12;
pub(crate) const PROP_FIRMWARE_REVISION: u32 = 44;
pub(crate) const PROP_LOCATION: u32 = 58;
pub(crate) const PROP_MODEL_NAME: u32 = 70;
pub(crate) const PROP_OBJECT_NAME: u32 = 77;
pub(crate) const PROP_PRESENT_VALUE: u32 = 85;
pub(crate) const PROP_STATUS_FLAGS: u32 = 111;
pub(crate) const PROP_VENDOR_NAME: u32 = 121;

/// Confirmed service choices.
pub(crate) const SVC_SUBSCRIBE_COV: u8 = 5;
pub(crate) const SVC_READ_PROPERTY: u8 = 12;
pub(crate) const SVC_READ_PROPERTY_MULTIPLE: u8 = 14;
pub(crate) const SVC_WRITE_PROPERTY: u8 = 15;
pub(crate) const SVC_DCC: u8 = 17;
/// Unconfirmed service choices.
pub(crate) const SVC_I_AM: u8 = 0;
pub(crate) const SVC_UNCONFIRMED_COV: u8 = 2;
pub(crate) const SVC_WHO_IS: u8 = 8;

/// PDU types (high nibble of the first APDU byte).
pub(crate) const PDU_CONFIRMED: u8 = 0;
pub(crate) const PDU_UNCONFIRMED: u8 = 1;
pub(crate) const PDU_SIMPLE_ACK: u8 = 2;
pub(crate) const PDU_COMPLEX_ACK: u8 = 3;

/// A property value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    Real(f32),
    Text(&'a str),
    Enumerated(u32),
}

pub(crate) fn object_id(ty: u16, instance: u32) -> u32 {
    u32::from(ty & 0x3FF) << 22 | (instance & 0x3F_FFFF)
}

/// Starts a BVLL (BVLC header with a length placeholder) and the NPDU. A global broadcast
/// carries DNET 0xFFFF with hop count 255. Returns the start for [`end`].
pub(crate) fn begin(buf: &mut Vec<u8>, function: u8, expecting_reply: bool, global: bool) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0x81, function, 0, 0, 0x01]);
    let mut control = if expecting_reply { 0x04 } else { 0 };
    if global {
        control |= 0x20;
        buf.push(control);
        buf.extend_from_slice(&[0xFF, 0xFF, 0x00, 0xFF]);
    } else {
        buf.push(control);
    }
    start
}

/// Patches the BVLC length (the whole BVLL).
pub(crate) fn end(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u16;
    buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Confirmed-Request header: max segments unspecified, max APDU 1476, invoke id, service.
pub(crate) fn confirmed(buf: &mut Vec<u8>, invoke: u8, service: u8) {
    buf.extend_from_slice(&[0x00, 0x05, invoke, service]);
}

pub(crate) fn unconfirmed(buf: &mut Vec<u8>, service: u8) {
    buf.extend_from_slice(&[0x10, service]);
}

pub(crate) fn simple_ack(buf: &mut Vec<u8>, invoke: u8, service: u8) {
    buf.extend_from_slice(&[0x20, invoke, service]);
}

pub(crate) fn complex_ack(buf: &mut Vec<u8>, invoke: u8, service: u8) {
    buf.extend_from_slice(&[0x30, invoke, service]);
}

/// Tag octet(s) with length `len` (clause 20.2.1).
fn tag(buf: &mut Vec<u8>, number: u8, context: bool, len: usize) {
    let class = if context { 0x08 } else { 0 };
    if len <= 4 {
        buf.push(number << 4 | class | len as u8);
    } else {
        buf.push(number << 4 | class | 5);
        if len <= 253 {
            buf.push(len as u8);
        } else {
            buf.push(254);
            buf.extend_from_slice(&(len.min(0xFFFF) as u16).to_be_bytes());
        }
    }
}

fn unsigned_bytes(v: u32) -> ([u8; 4], usize) {
    let b = v.to_be_bytes();
    let n = match v {
        0..=0xFF => 1,
        0x100..=0xFFFF => 2,
        0x1_0000..=0xFF_FFFF => 3,
        _ => 4,
    };
    (b, n)
}

pub(crate) fn ctx_unsigned(buf: &mut Vec<u8>, number: u8, v: u32) {
    let (b, n) = unsigned_bytes(v);
    tag(buf, number, true, n);
    buf.extend_from_slice(&b[4 - n..]);
}

pub(crate) fn ctx_object(buf: &mut Vec<u8>, number: u8, ty: u16, instance: u32) {
    tag(buf, number, true, 4);
    buf.extend_from_slice(&object_id(ty, instance).to_be_bytes());
}

pub(crate) fn ctx_text(buf: &mut Vec<u8>, number: u8, s: &str) {
    tag(buf, number, true, 1 + s.len());
    buf.push(0);
    buf.extend_from_slice(s.as_bytes());
}

pub(crate) fn ctx_bool(buf: &mut Vec<u8>, number: u8, v: bool) {
    tag(buf, number, true, 1);
    buf.push(u8::from(v));
}

pub(crate) fn open(buf: &mut Vec<u8>, number: u8) {
    buf.push(number << 4 | 0x0E);
}

pub(crate) fn close(buf: &mut Vec<u8>, number: u8) {
    buf.push(number << 4 | 0x0F);
}

pub(crate) fn app_object(buf: &mut Vec<u8>, ty: u16, instance: u32) {
    tag(buf, 12, false, 4);
    buf.extend_from_slice(&object_id(ty, instance).to_be_bytes());
}

pub(crate) fn app_unsigned(buf: &mut Vec<u8>, v: u32) {
    let (b, n) = unsigned_bytes(v);
    tag(buf, 2, false, n);
    buf.extend_from_slice(&b[4 - n..]);
}

pub(crate) fn app_enumerated(buf: &mut Vec<u8>, v: u32) {
    let (b, n) = unsigned_bytes(v);
    tag(buf, 9, false, n);
    buf.extend_from_slice(&b[4 - n..]);
}

/// Application-tagged value.
pub(crate) fn app_value(buf: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Real(r) => {
            tag(buf, 4, false, 4);
            buf.extend_from_slice(&r.to_be_bytes());
        }
        Value::Text(s) => {
            tag(buf, 7, false, 1 + s.len());
            buf.push(0);
            buf.extend_from_slice(s.as_bytes());
        }
        Value::Enumerated(e) => app_enumerated(buf, e),
    }
}

/// Status flags bit string (in-alarm, fault, overridden, out-of-service all clear).
pub(crate) fn app_status_flags(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[0x82, 0x04, 0x00]);
}

/// A complete Who-Is (local broadcast), optionally limited to an instance range.
pub(crate) fn who_is(buf: &mut Vec<u8>, range: Option<(u32, u32)>, global: bool) {
    let s = begin(buf, ORIGINAL_BROADCAST, false, global);
    unconfirmed(buf, SVC_WHO_IS);
    if let Some((lo, hi)) = range {
        ctx_unsigned(buf, 0, lo);
        ctx_unsigned(buf, 1, hi);
    }
    end(buf, s);
}

/// A complete I-Am (broadcast): device, max APDU 1476, segmentation, vendor.
pub(crate) fn i_am(buf: &mut Vec<u8>, instance: u32, segmentation: u32, vendor: u16) {
    let s = begin(buf, ORIGINAL_BROADCAST, false, false);
    unconfirmed(buf, SVC_I_AM);
    app_object(buf, OBJ_DEVICE, instance);
    app_unsigned(buf, 1476);
    app_enumerated(buf, segmentation);
    app_unsigned(buf, u32::from(vendor));
    end(buf, s);
}

/// A complete ReadProperty request.
pub(crate) fn read_property(buf: &mut Vec<u8>, invoke: u8, ty: u16, instance: u32, prop: u32) {
    let s = begin(buf, ORIGINAL_UNICAST, true, false);
    confirmed(buf, invoke, SVC_READ_PROPERTY);
    ctx_object(buf, 0, ty, instance);
    ctx_unsigned(buf, 1, prop);
    end(buf, s);
}

/// A complete ReadProperty ComplexACK.
pub(crate) fn read_property_ack(
    buf: &mut Vec<u8>,
    invoke: u8,
    ty: u16,
    instance: u32,
    prop: u32,
    v: Value<'_>,
) {
    let s = begin(buf, ORIGINAL_UNICAST, false, false);
    complex_ack(buf, invoke, SVC_READ_PROPERTY);
    ctx_object(buf, 0, ty, instance);
    ctx_unsigned(buf, 1, prop);
    open(buf, 3);
    app_value(buf, v);
    close(buf, 3);
    end(buf, s);
}

/// A complete ReadPropertyMultiple request for properties of one object.
pub(crate) fn rpm(buf: &mut Vec<u8>, invoke: u8, ty: u16, instance: u32, props: &[u32]) {
    let s = begin(buf, ORIGINAL_UNICAST, true, false);
    confirmed(buf, invoke, SVC_READ_PROPERTY_MULTIPLE);
    ctx_object(buf, 0, ty, instance);
    open(buf, 1);
    for p in props {
        ctx_unsigned(buf, 0, *p);
    }
    close(buf, 1);
    end(buf, s);
}

/// A complete ReadPropertyMultiple ComplexACK.
pub(crate) fn rpm_ack(buf: &mut Vec<u8>, invoke: u8, ty: u16, instance: u32, values: &[(u32, Value<'_>)]) {
    let s = begin(buf, ORIGINAL_UNICAST, false, false);
    complex_ack(buf, invoke, SVC_READ_PROPERTY_MULTIPLE);
    ctx_object(buf, 0, ty, instance);
    open(buf, 1);
    for (p, v) in values {
        ctx_unsigned(buf, 2, *p);
        open(buf, 4);
        app_value(buf, *v);
        close(buf, 4);
    }
    close(buf, 1);
    end(buf, s);
}

/// A complete WriteProperty request (with a priority).
pub(crate) fn write_property(
    buf: &mut Vec<u8>,
    invoke: u8,
    ty: u16,
    instance: u32,
    prop: u32,
    v: Value<'_>,
    priority: u8,
) {
    let s = begin(buf, ORIGINAL_UNICAST, true, false);
    confirmed(buf, invoke, SVC_WRITE_PROPERTY);
    ctx_object(buf, 0, ty, instance);
    ctx_unsigned(buf, 1, prop);
    open(buf, 3);
    app_value(buf, v);
    close(buf, 3);
    ctx_unsigned(buf, 4, u32::from(priority));
    end(buf, s);
}

/// A complete SimpleACK.
pub(crate) fn simple_ack_frame(buf: &mut Vec<u8>, invoke: u8, service: u8) {
    let s = begin(buf, ORIGINAL_UNICAST, false, false);
    simple_ack(buf, invoke, service);
    end(buf, s);
}

/// A complete SubscribeCOV request (unconfirmed notifications, lifetime in seconds).
pub(crate) fn subscribe_cov(
    buf: &mut Vec<u8>,
    invoke: u8,
    process: u32,
    ty: u16,
    instance: u32,
    lifetime: u32,
) {
    let s = begin(buf, ORIGINAL_UNICAST, true, false);
    confirmed(buf, invoke, SVC_SUBSCRIBE_COV);
    ctx_unsigned(buf, 0, process);
    ctx_object(buf, 1, ty, instance);
    ctx_bool(buf, 2, false);
    ctx_unsigned(buf, 3, lifetime);
    end(buf, s);
}

/// A complete UnconfirmedCOVNotification with present-value and status-flags.
pub(crate) fn cov_notification(
    buf: &mut Vec<u8>,
    process: u32,
    device: u32,
    ty: u16,
    instance: u32,
    remaining: u32,
    value: f32,
) {
    let s = begin(buf, ORIGINAL_UNICAST, false, false);
    unconfirmed(buf, SVC_UNCONFIRMED_COV);
    ctx_unsigned(buf, 0, process);
    ctx_object(buf, 1, OBJ_DEVICE, device);
    ctx_object(buf, 2, ty, instance);
    ctx_unsigned(buf, 3, remaining);
    open(buf, 4);
    ctx_unsigned(buf, 0, PROP_PRESENT_VALUE);
    open(buf, 2);
    app_value(buf, Value::Real(value));
    close(buf, 2);
    ctx_unsigned(buf, 0, PROP_STATUS_FLAGS);
    open(buf, 2);
    app_status_flags(buf);
    close(buf, 2);
    close(buf, 4);
    end(buf, s);
}

/// A complete DeviceCommunicationControl request: duration (minutes), enable-disable
/// (0 enable, 1 disable, 2 disable-initiation) and a cleartext password.
pub(crate) fn dcc(buf: &mut Vec<u8>, invoke: u8, minutes: Option<u32>, state: u32, password: Option<&str>) {
    let s = begin(buf, ORIGINAL_UNICAST, true, false);
    confirmed(buf, invoke, SVC_DCC);
    if let Some(m) = minutes {
        ctx_unsigned(buf, 0, m);
    }
    ctx_unsigned(buf, 1, state);
    if let Some(p) = password {
        ctx_text(buf, 2, p);
    }
    end(buf, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference bytes from protocols.md §3.5 (verified with tshark).
    #[test]
    fn who_is_global_range() {
        let mut b = Vec::new();
        who_is(&mut b, Some((0, 100)), true);
        assert_eq!(
            b,
            [0x81, 0x0b, 0x00, 0x10, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08, 0x09, 0x00, 0x19, 0x64]
        );
    }

    #[test]
    fn i_am_reference() {
        let mut b = Vec::new();
        i_am(&mut b, 123, 0, 5);
        let want = [
            0x81, 0x0b, 0x00, 0x14, 0x01, 0x00, 0x10, 0x00, 0xc4, 0x02, 0x00, 0x00, 0x7b, 0x22, 0x05, 0xc4,
            0x91, 0x00, 0x21, 0x05,
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn read_property_reference() {
        let mut b = Vec::new();
        read_property(&mut b, 1, OBJ_DEVICE, 123, PROP_VENDOR_NAME);
        assert_eq!(
            b,
            [
                0x81, 0x0a, 0x00, 0x11, 0x01, 0x04, 0x00, 0x05, 0x01, 0x0c, 0x0c, 0x02, 0x00, 0x00, 0x7b,
                0x19, 0x79
            ]
        );
    }

    #[test]
    fn dcc_reference() {
        let mut b = Vec::new();
        dcc(&mut b, 3, Some(60), 1, Some("secret"));
        let want = [
            0x81, 0x0a, 0x00, 0x17, 0x01, 0x04, 0x00, 0x05, 0x03, 0x11, 0x09, 0x3c, 0x19, 0x01, 0x2d, 0x07,
            0x00, b's', b'e', b'c', b'r', b'e', b't',
        ];
        assert_eq!(b, want);
    }
}
