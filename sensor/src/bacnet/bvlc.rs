//! BACnet Virtual Link Control for BACnet/IP (ASHRAE 135 Annex J.2).
//!
//! Header: `type(1)=0x81 | function(1) | length(2)`, the length covering the whole BVLL
//! including the header; it must equal the UDP payload length.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::BacnetError;

/// BVLC type of BACnet/IP (Annex J).
pub const BVLC_TYPE_IP: u8 = 0x81;
/// BVLC type of BACnet/IPv6 (Annex U); its functions and header differ.
pub const BVLC_TYPE_IPV6: u8 = 0x82;
/// Bytes of the BVLC header.
pub const BVLC_HEADER_LEN: usize = 4;
/// Bytes of one Broadcast Distribution Table or Foreign Device Table entry (J.2.2.1, J.2.8.1).
pub const TABLE_ENTRY_LEN: usize = 10;

/// BVLC function (Annex J.2), unknown values kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BvlcFunction(pub u8);

impl BvlcFunction {
    pub const RESULT: BvlcFunction = BvlcFunction(0x00);
    pub const WRITE_BDT: BvlcFunction = BvlcFunction(0x01);
    pub const READ_BDT: BvlcFunction = BvlcFunction(0x02);
    pub const READ_BDT_ACK: BvlcFunction = BvlcFunction(0x03);
    pub const FORWARDED_NPDU: BvlcFunction = BvlcFunction(0x04);
    pub const REGISTER_FOREIGN_DEVICE: BvlcFunction = BvlcFunction(0x05);
    pub const READ_FDT: BvlcFunction = BvlcFunction(0x06);
    pub const READ_FDT_ACK: BvlcFunction = BvlcFunction(0x07);
    pub const DELETE_FDT_ENTRY: BvlcFunction = BvlcFunction(0x08);
    pub const DISTRIBUTE_BROADCAST_TO_NETWORK: BvlcFunction = BvlcFunction(0x09);
    pub const ORIGINAL_UNICAST_NPDU: BvlcFunction = BvlcFunction(0x0a);
    pub const ORIGINAL_BROADCAST_NPDU: BvlcFunction = BvlcFunction(0x0b);
    pub const SECURE_BVLL: BvlcFunction = BvlcFunction(0x0c);

    /// Name as the standard spells it, or None for an undefined function.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "BVLC-Result",
            0x01 => "Write-Broadcast-Distribution-Table",
            0x02 => "Read-Broadcast-Distribution-Table",
            0x03 => "Read-Broadcast-Distribution-Table-Ack",
            0x04 => "Forwarded-NPDU",
            0x05 => "Register-Foreign-Device",
            0x06 => "Read-Foreign-Device-Table",
            0x07 => "Read-Foreign-Device-Table-Ack",
            0x08 => "Delete-Foreign-Device-Table-Entry",
            0x09 => "Distribute-Broadcast-To-Network",
            0x0a => "Original-Unicast-NPDU",
            0x0b => "Original-Broadcast-NPDU",
            0x0c => "Secure-BVLL",
            _ => return None,
        })
    }
}

/// BVLC-Result code (J.2.1.1), unknown values kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BvlcResultCode(pub u16);

impl BvlcResultCode {
    pub const SUCCESSFUL_COMPLETION: BvlcResultCode = BvlcResultCode(0x0000);
    pub const WRITE_BDT_NAK: BvlcResultCode = BvlcResultCode(0x0010);
    pub const READ_BDT_NAK: BvlcResultCode = BvlcResultCode(0x0020);
    pub const REGISTER_FOREIGN_DEVICE_NAK: BvlcResultCode = BvlcResultCode(0x0030);
    pub const READ_FDT_NAK: BvlcResultCode = BvlcResultCode(0x0040);
    pub const DELETE_FDT_ENTRY_NAK: BvlcResultCode = BvlcResultCode(0x0050);
    pub const DISTRIBUTE_BROADCAST_NAK: BvlcResultCode = BvlcResultCode(0x0060);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0000 => "successful-completion",
            0x0010 => "write-broadcast-distribution-table-nak",
            0x0020 => "read-broadcast-distribution-table-nak",
            0x0030 => "register-foreign-device-nak",
            0x0040 => "read-foreign-device-table-nak",
            0x0050 => "delete-foreign-device-table-entry-nak",
            0x0060 => "distribute-broadcast-to-network-nak",
            _ => return None,
        })
    }
}

/// The fixed BVLC header (J.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BvlcHeader {
    pub bvlc_type: u8,
    pub function: BvlcFunction,
    /// Declared length of the whole BVLL, header included.
    pub length: u16,
}

/// Parses the 4-byte BVLC header. Only truncation fails here; the type, function and length
/// are checked by the caller against the datagram.
pub fn parse_bvlc_header(input: &[u8]) -> Result<(BvlcHeader, usize), BacnetError> {
    match input {
        [t, f, l0, l1, ..] => Ok((
            BvlcHeader { bvlc_type: *t, function: BvlcFunction(*f), length: u16::from_be_bytes([*l0, *l1]) },
            BVLC_HEADER_LEN,
        )),
        _ => Err(BacnetError::need(BVLC_HEADER_LEN, input.len())),
    }
}

/// A framed BVLL: the header and the bytes its length covers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BvlcSlice<'a> {
    pub header: BvlcHeader,
    /// The bytes after the header, as far as the declared length goes.
    pub body: &'a [u8],
}

impl std::fmt::Debug for BvlcSlice<'_> {
    /// The body as its length only (it may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BvlcSlice")
            .field("header", &self.header)
            .field("body", &super::Octets(self.body.len()))
            .finish()
    }
}

/// Strict framing of one BVLL: `Incomplete` while fewer bytes than the declared length are
/// present, `Malformed` for a type other than 0x81 or a length below the header size. The
/// datagram decoder in [`super::state`] is more lenient (it decodes what the datagram holds and
/// flags the mismatch).
pub fn parse_bvlc(input: &[u8]) -> Result<(BvlcSlice<'_>, usize), BacnetError> {
    let (header, _) = parse_bvlc_header(input)?;
    if header.bvlc_type != BVLC_TYPE_IP {
        return Err(BacnetError::malformed(0, "bvlc_unknown_type"));
    }
    let len = usize::from(header.length);
    if len < BVLC_HEADER_LEN {
        return Err(BacnetError::malformed(2, "bvlc_length_below_header"));
    }
    match input.get(BVLC_HEADER_LEN..len) {
        Some(body) => Ok((BvlcSlice { header, body }, len)),
        None => Err(BacnetError::need(len, input.len())),
    }
}

/// One Broadcast Distribution Table entry (J.2.2.1): a BBMD address and its broadcast mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdtEntry {
    pub addr: SocketAddrV4,
    pub mask: Ipv4Addr,
}

/// One Foreign Device Table entry (J.2.8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdtEntry {
    pub addr: SocketAddrV4,
    /// Time-to-live the device registered with, in seconds.
    pub ttl: u16,
    /// Seconds remaining before the BBMD purges the entry.
    pub remaining: u16,
}

/// Payload of a BVLL by function.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BvlcPayload<'a> {
    /// BVLC-Result (J.2.1).
    Result(BvlcResultCode),
    /// Write-BDT (J.2.2) or Read-BDT-Ack (J.2.4): entries of 10 bytes.
    Bdt(BdtTable<'a>),
    /// Read-BDT (J.2.3) or Read-FDT (J.2.7): no payload.
    Empty,
    /// Forwarded-NPDU (J.2.5): the original source and the NPDU.
    Forwarded { orig_src: SocketAddrV4, npdu: &'a [u8] },
    /// Register-Foreign-Device (J.2.6): time-to-live in seconds.
    RegisterForeignDevice { ttl: u16 },
    /// Read-FDT-Ack (J.2.8): entries of 10 bytes.
    Fdt(FdtTable<'a>),
    /// Delete-Foreign-Device-Table-Entry (J.2.9): the entry to delete.
    DeleteFdtEntry { addr: SocketAddrV4 },
    /// Distribute-Broadcast-To-Network, Original-Unicast-NPDU, Original-Broadcast-NPDU.
    Npdu(&'a [u8]),
    /// Secure-BVLL (J.2.12): opaque security wrapper.
    Secure(&'a [u8]),
    /// Undefined function: payload kept as bytes.
    Unknown(&'a [u8]),
}

impl std::fmt::Debug for BvlcPayload<'_> {
    /// NPDUs and opaque payloads as their length only (they may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use super::Octets;
        match self {
            BvlcPayload::Result(c) => f.debug_tuple("Result").field(c).finish(),
            BvlcPayload::Bdt(t) => f.debug_tuple("Bdt").field(&t.len()).finish(),
            BvlcPayload::Empty => f.write_str("Empty"),
            BvlcPayload::Forwarded { orig_src, npdu } => f
                .debug_struct("Forwarded")
                .field("orig_src", orig_src)
                .field("npdu", &Octets(npdu.len()))
                .finish(),
            BvlcPayload::RegisterForeignDevice { ttl } => {
                f.debug_struct("RegisterForeignDevice").field("ttl", ttl).finish()
            }
            BvlcPayload::Fdt(t) => f.debug_tuple("Fdt").field(&t.len()).finish(),
            BvlcPayload::DeleteFdtEntry { addr } => {
                f.debug_struct("DeleteFdtEntry").field("addr", addr).finish()
            }
            BvlcPayload::Npdu(b) => f.debug_tuple("Npdu").field(&Octets(b.len())).finish(),
            BvlcPayload::Secure(b) => f.debug_tuple("Secure").field(&Octets(b.len())).finish(),
            BvlcPayload::Unknown(b) => f.debug_tuple("Unknown").field(&Octets(b.len())).finish(),
        }
    }
}

impl<'a> BvlcPayload<'a> {
    /// The NPDU this BVLL carries, if any.
    pub fn npdu(&self) -> Option<&'a [u8]> {
        match *self {
            BvlcPayload::Forwarded { npdu, .. } | BvlcPayload::Npdu(npdu) => Some(npdu),
            _ => None,
        }
    }
}

/// A run of Broadcast Distribution Table entries; `rest` holds the bytes of a partial entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdtTable<'a> {
    pub entries: &'a [u8],
    pub rest: &'a [u8],
}

impl BdtTable<'_> {
    pub fn len(&self) -> usize {
        self.entries.len() / TABLE_ENTRY_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = BdtEntry> + '_ {
        self.entries.chunks_exact(TABLE_ENTRY_LEN).filter_map(|c| match *c {
            [a, b, c0, d, p0, p1, m0, m1, m2, m3] => Some(BdtEntry {
                addr: SocketAddrV4::new(Ipv4Addr::new(a, b, c0, d), u16::from_be_bytes([p0, p1])),
                mask: Ipv4Addr::new(m0, m1, m2, m3),
            }),
            _ => None,
        })
    }
}

/// A run of Foreign Device Table entries; `rest` holds the bytes of a partial entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdtTable<'a> {
    pub entries: &'a [u8],
    pub rest: &'a [u8],
}

impl FdtTable<'_> {
    pub fn len(&self) -> usize {
        self.entries.len() / TABLE_ENTRY_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = FdtEntry> + '_ {
        self.entries.chunks_exact(TABLE_ENTRY_LEN).filter_map(|c| match *c {
            [a, b, c0, d, p0, p1, t0, t1, r0, r1] => Some(FdtEntry {
                addr: SocketAddrV4::new(Ipv4Addr::new(a, b, c0, d), u16::from_be_bytes([p0, p1])),
                ttl: u16::from_be_bytes([t0, t1]),
                remaining: u16::from_be_bytes([r0, r1]),
            }),
            _ => None,
        })
    }
}

fn split_table(body: &[u8]) -> (&[u8], &[u8]) {
    body.split_at(body.len() - body.len() % TABLE_ENTRY_LEN)
}

fn parse_addr(b: &[u8]) -> Result<SocketAddrV4, BacnetError> {
    match *b {
        [a, b0, c, d, p0, p1, ..] => {
            Ok(SocketAddrV4::new(Ipv4Addr::new(a, b0, c, d), u16::from_be_bytes([p0, p1])))
        }
        _ => Err(BacnetError::need(6, b.len())),
    }
}

/// Parses the payload of a BVLL of `function` (the bytes after the header). Fixed-size
/// payloads that are cut short are `Incomplete`; `consumed` tells how much of `body` the payload
/// used, so the caller can flag trailing bytes. Tables with a partial last entry keep it in
/// `rest` (a flag for the caller, not a failure).
pub fn parse_bvlc_payload(
    function: BvlcFunction,
    body: &[u8],
) -> Result<(BvlcPayload<'_>, usize), BacnetError> {
    match function {
        BvlcFunction::RESULT => match *body {
            [a, b, ..] => Ok((BvlcPayload::Result(BvlcResultCode(u16::from_be_bytes([a, b]))), 2)),
            _ => Err(BacnetError::need(2, body.len())),
        },
        BvlcFunction::WRITE_BDT | BvlcFunction::READ_BDT_ACK => {
            let (entries, rest) = split_table(body);
            Ok((BvlcPayload::Bdt(BdtTable { entries, rest }), body.len()))
        }
        BvlcFunction::READ_BDT | BvlcFunction::READ_FDT => Ok((BvlcPayload::Empty, 0)),
        BvlcFunction::FORWARDED_NPDU => {
            let orig_src = parse_addr(body)?;
            let npdu = body.get(6..).unwrap_or_default();
            Ok((BvlcPayload::Forwarded { orig_src, npdu }, body.len()))
        }
        BvlcFunction::REGISTER_FOREIGN_DEVICE => match *body {
            [a, b, ..] => Ok((BvlcPayload::RegisterForeignDevice { ttl: u16::from_be_bytes([a, b]) }, 2)),
            _ => Err(BacnetError::need(2, body.len())),
        },
        BvlcFunction::READ_FDT_ACK => {
            let (entries, rest) = split_table(body);
            Ok((BvlcPayload::Fdt(FdtTable { entries, rest }), body.len()))
        }
        BvlcFunction::DELETE_FDT_ENTRY => Ok((BvlcPayload::DeleteFdtEntry { addr: parse_addr(body)? }, 6)),
        BvlcFunction::DISTRIBUTE_BROADCAST_TO_NETWORK
        | BvlcFunction::ORIGINAL_UNICAST_NPDU
        | BvlcFunction::ORIGINAL_BROADCAST_NPDU => Ok((BvlcPayload::Npdu(body), body.len())),
        BvlcFunction::SECURE_BVLL => Ok((BvlcPayload::Secure(body), body.len())),
        _ => Ok((BvlcPayload::Unknown(body), body.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_framing() {
        // type 0x81, Original-Broadcast-NPDU, length 16, then 12 bytes of NPDU/APDU.
        let d = [0x81, 0x0b, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let (s, n) = parse_bvlc(&d).unwrap();
        assert_eq!(n, 16);
        assert_eq!(s.header.function, BvlcFunction::ORIGINAL_BROADCAST_NPDU);
        assert_eq!(s.body.len(), 12);
        // Declared 16, only 10 present.
        assert_eq!(parse_bvlc(&d[..10]), Err(BacnetError::need(16, 10)));
        // Length 3 < header.
        assert!(matches!(
            parse_bvlc(&[0x81, 0x0a, 0x00, 0x03]),
            Err(BacnetError::Malformed { reason: "bvlc_length_below_header", .. })
        ));
        assert!(matches!(parse_bvlc(&[0x82, 0x0a, 0x00, 0x04]), Err(BacnetError::Malformed { .. })));
    }

    #[test]
    fn result_and_register() {
        // BVLC-Result: 0x0030 register-foreign-device NAK.
        let (p, n) = parse_bvlc_payload(BvlcFunction::RESULT, &[0x00, 0x30]).unwrap();
        assert_eq!(n, 2);
        assert_eq!(p, BvlcPayload::Result(BvlcResultCode::REGISTER_FOREIGN_DEVICE_NAK));
        assert_eq!(BvlcResultCode(0x30).name(), Some("register-foreign-device-nak"));
        // Register-Foreign-Device, TTL 0x012c = 300 s.
        let (p, _) = parse_bvlc_payload(BvlcFunction::REGISTER_FOREIGN_DEVICE, &[0x01, 0x2c]).unwrap();
        assert_eq!(p, BvlcPayload::RegisterForeignDevice { ttl: 300 });
        assert_eq!(parse_bvlc_payload(BvlcFunction::RESULT, &[0x00]), Err(BacnetError::need(2, 1)));
    }

    #[test]
    fn forwarded_and_tables() {
        // Forwarded-NPDU from 192.0.2.9:47808, then NPDU 01 00 10 08 (Who-Is).
        let body = [192, 0, 2, 9, 0xba, 0xc0, 0x01, 0x00, 0x10, 0x08];
        let (p, _) = parse_bvlc_payload(BvlcFunction::FORWARDED_NPDU, &body).unwrap();
        assert_eq!(
            p,
            BvlcPayload::Forwarded {
                orig_src: "192.0.2.9:47808".parse().unwrap(),
                npdu: &[0x01, 0x00, 0x10, 0x08]
            }
        );
        // Forwarded-NPDU cut inside the address.
        assert!(matches!(
            parse_bvlc_payload(BvlcFunction::FORWARDED_NPDU, &body[..5]),
            Err(BacnetError::Incomplete { .. })
        ));
        // Read-BDT-Ack: one entry 192.0.2.1:47808 mask 255.255.255.255, then 3 stray bytes.
        let bdt = [192, 0, 2, 1, 0xba, 0xc0, 255, 255, 255, 255, 1, 2, 3];
        let (p, _) = parse_bvlc_payload(BvlcFunction::READ_BDT_ACK, &bdt).unwrap();
        let BvlcPayload::Bdt(t) = p else { panic!("not a BDT") };
        assert_eq!(t.len(), 1);
        assert_eq!(t.rest, &[1, 2, 3]);
        let e = t.iter().next().unwrap();
        assert_eq!(e.mask, Ipv4Addr::BROADCAST);
        // Read-FDT-Ack: 192.0.2.5:47808 ttl 60 remaining 75.
        let fdt = [192, 0, 2, 5, 0xba, 0xc0, 0, 60, 0, 75];
        let (p, _) = parse_bvlc_payload(BvlcFunction::READ_FDT_ACK, &fdt).unwrap();
        let BvlcPayload::Fdt(t) = p else { panic!("not an FDT") };
        let e = t.iter().next().unwrap();
        assert_eq!((e.ttl, e.remaining), (60, 75));
        // Delete-FDT-Entry.
        let (p, n) = parse_bvlc_payload(BvlcFunction::DELETE_FDT_ENTRY, &fdt[..6]).unwrap();
        assert_eq!(n, 6);
        assert_eq!(p, BvlcPayload::DeleteFdtEntry { addr: "192.0.2.5:47808".parse().unwrap() });
    }
}
