//! Modbus/TCP ADUs (MBAP header + PDU) written straight into a byte buffer.

/// Starts an ADU: transaction id, protocol 0, length placeholder, unit id. Returns the start
/// for [`end`].
pub(crate) fn begin(buf: &mut Vec<u8>, tid: u16, unit: u8) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&tid.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0, unit]);
    start
}

/// Patches the MBAP length (unit id + PDU).
pub(crate) fn end(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - 6) as u16;
    buf[start + 4..start + 6].copy_from_slice(&len.to_be_bytes());
}

/// Read request (FC 1-4): address and quantity.
pub(crate) fn read_req(buf: &mut Vec<u8>, tid: u16, unit: u8, fc: u8, addr: u16, qty: u16) {
    let s = begin(buf, tid, unit);
    buf.push(fc);
    buf.extend_from_slice(&addr.to_be_bytes());
    buf.extend_from_slice(&qty.to_be_bytes());
    end(buf, s);
}

/// Register read response (FC 3/4).
pub(crate) fn regs_rsp(buf: &mut Vec<u8>, tid: u16, unit: u8, fc: u8, regs: impl Iterator<Item = u16>) {
    let s = begin(buf, tid, unit);
    buf.push(fc);
    let bc = buf.len();
    buf.push(0);
    for r in regs {
        buf.extend_from_slice(&r.to_be_bytes());
    }
    buf[bc] = (buf.len() - bc - 1) as u8;
    end(buf, s);
}

/// Bit read response (FC 1/2): `ceil(qty/8)` bytes of packed bits.
pub(crate) fn bits_rsp(buf: &mut Vec<u8>, tid: u16, unit: u8, fc: u8, qty: u16, bits: u64) {
    let s = begin(buf, tid, unit);
    buf.push(fc);
    let n = usize::from(qty).div_ceil(8);
    buf.push(n as u8);
    for i in 0..n {
        let mut b = (bits.rotate_right((8 * i % 64) as u32) & 0xFF) as u8;
        // Bits past the quantity are zero.
        let used = usize::from(qty) - 8 * i;
        if used < 8 {
            b &= (1u8 << used) - 1;
        }
        buf.push(b);
    }
    end(buf, s);
}

/// FC 6 Write Single Register request; the response is the same PDU (an echo).
pub(crate) fn write_single(buf: &mut Vec<u8>, tid: u16, unit: u8, addr: u16, value: u16) {
    let s = begin(buf, tid, unit);
    buf.push(6);
    buf.extend_from_slice(&addr.to_be_bytes());
    buf.extend_from_slice(&value.to_be_bytes());
    end(buf, s);
}

/// FC 16 Write Multiple Registers request.
pub(crate) fn write_multiple(buf: &mut Vec<u8>, tid: u16, unit: u8, addr: u16, values: &[u16]) {
    let s = begin(buf, tid, unit);
    buf.push(16);
    buf.extend_from_slice(&addr.to_be_bytes());
    buf.extend_from_slice(&(values.len() as u16).to_be_bytes());
    buf.push((values.len() * 2) as u8);
    for v in values {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    end(buf, s);
}

/// FC 16 response: address and quantity.
pub(crate) fn write_multiple_rsp(buf: &mut Vec<u8>, tid: u16, unit: u8, addr: u16, qty: u16) {
    let s = begin(buf, tid, unit);
    buf.push(16);
    buf.extend_from_slice(&addr.to_be_bytes());
    buf.extend_from_slice(&qty.to_be_bytes());
    end(buf, s);
}

/// FC 8 Diagnostics request: sub-function and data.
pub(crate) fn diagnostics(buf: &mut Vec<u8>, tid: u16, unit: u8, sub: u16, data: u16) {
    let s = begin(buf, tid, unit);
    buf.push(8);
    buf.extend_from_slice(&sub.to_be_bytes());
    buf.extend_from_slice(&data.to_be_bytes());
    end(buf, s);
}

/// Exception response: `fc | 0x80` and the exception code.
pub(crate) fn exception(buf: &mut Vec<u8>, tid: u16, unit: u8, fc: u8, code: u8) {
    let s = begin(buf, tid, unit);
    buf.extend_from_slice(&[fc | 0x80, code]);
    end(buf, s);
}

/// FC 43/14 Read Device Identification request.
pub(crate) fn devid_req(buf: &mut Vec<u8>, tid: u16, unit: u8, code: u8, object: u8) {
    let s = begin(buf, tid, unit);
    buf.extend_from_slice(&[0x2B, 0x0E, code, object]);
    end(buf, s);
}

/// Room for objects in one FC 43/14 response: the 253-byte PDU less its 7-byte header.
pub(crate) const DEVID_ROOM: usize = 253 - 7;

/// FC 43/14 response carrying `objects` (id, value), starting with the first one. Objects are
/// taken while they fit in one PDU; returns how many were written (the rest follow after a
/// "more follows" marker and the id of the next object).
pub(crate) fn devid_rsp(
    buf: &mut Vec<u8>,
    tid: u16,
    unit: u8,
    code: u8,
    conformity: u8,
    objects: &[(u8, &str)],
) -> usize {
    let mut n = 0;
    let mut room = DEVID_ROOM;
    for (_, v) in objects {
        let need = 2 + v.len().min(255);
        if need > room {
            break;
        }
        room -= need;
        n += 1;
    }
    // An object too large for an empty PDU is sent alone, cut to fit.
    let n = n.max(1).min(objects.len());
    let more = n < objects.len();
    let s = begin(buf, tid, unit);
    buf.extend_from_slice(&[0x2B, 0x0E, code, conformity]);
    buf.push(if more { 0xFF } else { 0 });
    buf.push(if more { objects.get(n).map_or(0, |o| o.0) } else { 0 });
    buf.push(n as u8);
    for (id, v) in objects.iter().take(n) {
        let v = &v.as_bytes()[..v.len().min(DEVID_ROOM - 2)];
        buf.push(*id);
        buf.push(v.len() as u8);
        buf.extend_from_slice(v);
    }
    end(buf, s);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devid_matches_reference() {
        // protocols.md §2.5 (verified with tshark).
        let mut b = Vec::new();
        devid_req(&mut b, 2, 1, 1, 0);
        assert_eq!(b, [0, 2, 0, 0, 0, 5, 1, 0x2b, 0x0e, 1, 0]);
        b.clear();
        let objs = [(0u8, "Schneider Electric"), (1, "BMX P34 2020"), (2, "v3.20")];
        assert_eq!(devid_rsp(&mut b, 2, 1, 1, 0x81, &objs), 3);
        assert_eq!(&b[7..14], &[0x2b, 0x0e, 1, 0x81, 0, 0, 3]);
        assert_eq!(&b[14..16], &[0, 18]);
        assert_eq!(usize::from(u16::from_be_bytes([b[4], b[5]])), b.len() - 6);
    }

    #[test]
    fn devid_more_follows_when_too_long() {
        let long = "x".repeat(120);
        let objs = [(0u8, long.as_str()), (1, long.as_str()), (2, "1.0")];
        let mut b = Vec::new();
        assert_eq!(devid_rsp(&mut b, 1, 1, 2, 0x82, &objs), 2);
        assert_eq!(&b[11..13], &[0xFF, 2]);
        assert!(b.len() - 6 <= 254);
    }

    #[test]
    fn read_and_bits_layouts() {
        let mut b = Vec::new();
        read_req(&mut b, 7, 1, 3, 100, 10);
        assert_eq!(b, [0, 7, 0, 0, 0, 6, 1, 3, 0, 100, 0, 10]);
        b.clear();
        regs_rsp(&mut b, 7, 1, 3, [1u16, 2].into_iter());
        assert_eq!(b, [0, 7, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2]);
        b.clear();
        bits_rsp(&mut b, 1, 1, 1, 10, u64::MAX);
        assert_eq!(b, [0, 1, 0, 0, 0, 5, 1, 1, 2, 0xFF, 0x03]);
    }
}
