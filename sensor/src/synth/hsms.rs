//! HSMS (SEMI E37) frames and SECS-II (SEMI E5) items, written straight into a byte buffer.
//!
//! A message is started with [`data`] or [`control`] (length placeholder plus the 10-byte
//! header), its body items are appended, and [`end`] patches the length prefix.

/// SType values (E37 §8.2.6.5).
pub(crate) const STYPE_SELECT_REQ: u8 = 1;
pub(crate) const STYPE_SELECT_RSP: u8 = 2;
pub(crate) const STYPE_LINKTEST_REQ: u8 = 5;
pub(crate) const STYPE_LINKTEST_RSP: u8 = 6;
pub(crate) const STYPE_SEPARATE_REQ: u8 = 9;

/// SECS-II format codes (octal, E5 §9.2.2).
const F_LIST: u8 = 0o00;
const F_BINARY: u8 = 0o10;
const F_BOOLEAN: u8 = 0o11;
const F_ASCII: u8 = 0o20;
const F_U1: u8 = 0o51;
const F_U4: u8 = 0o54;
const F_F4: u8 = 0o44;

/// Starts a message: 4-byte length placeholder and the header. Returns the message start for
/// [`end`].
fn begin(buf: &mut Vec<u8>, session: u16, b2: u8, b3: u8, stype: u8, system: u32) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(&session.to_be_bytes());
    buf.extend_from_slice(&[b2, b3, 0, stype]);
    buf.extend_from_slice(&system.to_be_bytes());
    start
}

/// Starts a data message `S<stream>F<function>` (W-bit when `wbit`).
pub(crate) fn data(
    buf: &mut Vec<u8>,
    session: u16,
    stream: u8,
    function: u8,
    wbit: bool,
    system: u32,
) -> usize {
    let b2 = (stream & 0x7F) | if wbit { 0x80 } else { 0 };
    begin(buf, session, b2, function, 0, system)
}

/// A complete control message (HSMS-SS: session 0xFFFF, header only).
pub(crate) fn control(buf: &mut Vec<u8>, stype: u8, b3: u8, system: u32) {
    let s = begin(buf, 0xFFFF, 0, b3, stype, system);
    end(buf, s);
}

/// Patches the length prefix of the message started at `start`.
pub(crate) fn end(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - 4) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Item header with the minimal number of length bytes.
fn item(buf: &mut Vec<u8>, code: u8, len: usize) {
    let len = len.min(0xFF_FFFF);
    if len <= 0xFF {
        buf.extend_from_slice(&[code << 2 | 1, len as u8]);
    } else if len <= 0xFFFF {
        buf.push(code << 2 | 2);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(code << 2 | 3);
        buf.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    }
}

pub(crate) fn list(buf: &mut Vec<u8>, n: usize) {
    item(buf, F_LIST, n);
}

pub(crate) fn ascii(buf: &mut Vec<u8>, s: &str) {
    item(buf, F_ASCII, s.len());
    buf.extend_from_slice(s.as_bytes());
}

pub(crate) fn binary(buf: &mut Vec<u8>, b: &[u8]) {
    item(buf, F_BINARY, b.len());
    buf.extend_from_slice(b);
}

pub(crate) fn boolean(buf: &mut Vec<u8>, v: bool) {
    item(buf, F_BOOLEAN, 1);
    buf.push(u8::from(v));
}

pub(crate) fn u1(buf: &mut Vec<u8>, v: u8) {
    item(buf, F_U1, 1);
    buf.push(v);
}

pub(crate) fn u4(buf: &mut Vec<u8>, v: u32) {
    item(buf, F_U4, 4);
    buf.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn f4(buf: &mut Vec<u8>, v: f32) {
    item(buf, F_F4, 4);
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Binary item header for `len` bytes whose data the caller appends.
pub(crate) fn binary_header(buf: &mut Vec<u8>, len: usize) {
    item(buf, F_BINARY, len);
}

/// A header-only data message.
pub(crate) fn header_only(
    buf: &mut Vec<u8>,
    session: u16,
    stream: u8,
    function: u8,
    wbit: bool,
    system: u32,
) {
    let s = data(buf, session, stream, function, wbit, system);
    end(buf, s);
}

/// A reply holding a single 1-byte binary ack code (COMMACK, HCACK-only, ACKC5/6/7, ERACK...).
pub(crate) fn ack_reply(buf: &mut Vec<u8>, session: u16, stream: u8, function: u8, system: u32, code: u8) {
    let s = data(buf, session, stream, function, false, system);
    binary(buf, &[code]);
    end(buf, s);
}

/// S1F2 / S1F14 body from the equipment: MDLN and SOFTREV (S1F14 with COMMACK first).
pub(crate) fn s1_identity(
    buf: &mut Vec<u8>,
    session: u16,
    function: u8,
    system: u32,
    mdln: &str,
    softrev: &str,
) {
    let s = data(buf, session, 1, function, false, system);
    if function == 14 {
        list(buf, 2);
        binary(buf, &[0]);
    }
    list(buf, 2);
    ascii(buf, mdln);
    ascii(buf, softrev);
    end(buf, s);
}

/// S1F13 from the host: `L,0`.
pub(crate) fn s1f13_host(buf: &mut Vec<u8>, session: u16, system: u32) {
    let s = data(buf, session, 1, 13, true, system);
    list(buf, 0);
    end(buf, s);
}

/// S2F41 Host Command Send: `L,2 <A RCMD> L,n L,2 <A CPNAME> <A CPVAL>`.
pub(crate) fn s2f41(buf: &mut Vec<u8>, session: u16, system: u32, rcmd: &str, params: &[(&str, &str)]) {
    let s = data(buf, session, 2, 41, true, system);
    list(buf, 2);
    ascii(buf, rcmd);
    list(buf, params.len());
    for (name, val) in params {
        list(buf, 2);
        ascii(buf, name);
        ascii(buf, val);
    }
    end(buf, s);
}

/// S2F42: `L,2 <B HCACK> L,0`.
pub(crate) fn s2f42(buf: &mut Vec<u8>, session: u16, system: u32, hcack: u8) {
    let s = data(buf, session, 2, 42, false, system);
    list(buf, 2);
    binary(buf, &[hcack]);
    list(buf, 0);
    end(buf, s);
}

/// S2F37 Enable/Disable Event Report: `L,2 <Boolean CEED> L,n <U4 CEID>` (n = 0: all).
pub(crate) fn s2f37(buf: &mut Vec<u8>, session: u16, system: u32, enable: bool, ceids: &[u32]) {
    let s = data(buf, session, 2, 37, true, system);
    list(buf, 2);
    boolean(buf, enable);
    list(buf, ceids.len());
    for c in ceids {
        u4(buf, *c);
    }
    end(buf, s);
}

/// S7F3 Process Program Send: `L,2 <A PPID> <B PPBODY>` with a text-like body of `body_len`
/// bytes (E5 allows B or A for PPBODY; most tools send B).
pub(crate) fn s7f3(buf: &mut Vec<u8>, session: u16, system: u32, ppid: &str, body_len: usize, seed: u64) {
    use std::io::Write as _;
    let s = data(buf, session, 7, 3, true, system);
    list(buf, 2);
    ascii(buf, ppid);
    binary_header(buf, body_len);
    let body_start = buf.len();
    let mut n = 1u64;
    let mut x = seed | 1;
    while buf.len() - body_start < body_len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (a, b) = (10 + (x >> 8) % 990, (x >> 20) % 100);
        // Writing into a Vec cannot fail.
        let _ = match x % 6 {
            0 => writeln!(buf, "STEP {n:03} STABILIZE PRESS {a} mTorr TIME {b}.0 s"),
            1 => writeln!(buf, "STEP {n:03} GAS CF4 {a} sccm O2 {b} sccm"),
            2 => writeln!(buf, "STEP {n:03} RF SOURCE {a} W BIAS {b} W"),
            3 => writeln!(buf, "STEP {n:03} ENDPOINT OES 703nm THRESH {a} DELAY {b}"),
            4 => writeln!(buf, "STEP {n:03} CHUCK TEMP {a}.{b} C HE {b} Torr"),
            _ => writeln!(buf, "STEP {n:03} PUMP DOWN BASE {a} mTorr TIMEOUT {b} s"),
        };
        n += 1;
    }
    buf.truncate(body_start + body_len);
    end(buf, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_req_matches_reference_bytes() {
        let mut b = Vec::new();
        control(&mut b, STYPE_SELECT_REQ, 0, 1);
        assert_eq!(b, [0, 0, 0, 0x0a, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn s1f13_reference_layout() {
        // protocols.md §1.6: S1F13 W with MDLN "MDLN-A" and SOFTREV "1.0.3" (31 bytes).
        let mut b = Vec::new();
        let s = data(&mut b, 1, 1, 13, true, 0x0001_0001);
        list(&mut b, 2);
        ascii(&mut b, "MDLN-A");
        ascii(&mut b, "1.0.3");
        end(&mut b, s);
        let want = [
            0x00, 0x00, 0x00, 0x1b, 0x00, 0x01, 0x81, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0x02,
            0x41, 0x06, b'M', b'D', b'L', b'N', b'-', b'A', 0x41, 0x05, b'1', b'.', b'0', b'.', b'3',
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn large_items_use_more_length_bytes() {
        let mut b = Vec::new();
        s7f3(&mut b, 0, 7, "ETCH_OX_120", 70_000, 42);
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        assert_eq!(len + 4, b.len());
        // L,2 then <A PPID> then B with 3 length bytes.
        let body = &b[14..];
        assert_eq!(body[0], 0x01);
        assert_eq!(body[2], 0x41);
        let bhdr = 2 + 2 + "ETCH_OX_120".len();
        assert_eq!(body[bhdr], 0x23);
        let n = u32::from_be_bytes([0, body[bhdr + 1], body[bhdr + 2], body[bhdr + 3]]);
        assert_eq!(n, 70_000);
    }
}
