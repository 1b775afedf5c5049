//! BACnet network layer (ASHRAE 135 clause 6.2): NPDU header and network-layer messages (6.4).
//!
//! `version(1)=1 | control(1) | [DNET(2) DLEN(1) DADR] | [SNET(2) SLEN(1) SADR] | [hop count(1)]
//! | [message type(1) [vendor id(2)]] | APDU or message payload`.

use super::{BacnetError, Flags};

/// The only protocol version defined (6.2.1).
pub const NPDU_VERSION: u8 = 0x01;
/// Control bit 7: a network-layer message follows instead of an APDU.
pub const CONTROL_NETWORK_MESSAGE: u8 = 0x80;
/// Control bit 5: DNET, DLEN, DADR and the hop count are present.
pub const CONTROL_DNET: u8 = 0x20;
/// Control bit 3: SNET, SLEN and SADR are present.
pub const CONTROL_SNET: u8 = 0x08;
/// Control bit 2: the sender expects a reply (a confirmed request, or a segment of a ComplexACK).
pub const CONTROL_EXPECTING_REPLY: u8 = 0x04;
/// Control bits 1–0: network priority.
pub const CONTROL_PRIORITY: u8 = 0x03;
/// Control bits 6 and 4 are reserved and shall be zero.
pub const CONTROL_RESERVED: u8 = 0x50;
/// DNET of a global broadcast.
pub const GLOBAL_BROADCAST_NET: u16 = 0xffff;

/// Network priority (6.2.2), from the two low control bits.
pub fn priority_name(p: u8) -> &'static str {
    match p & CONTROL_PRIORITY {
        0 => "normal",
        1 => "urgent",
        2 => "critical-equipment",
        _ => "life-safety",
    }
}

/// Network layer message type (6.2.4), unknown values kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetworkMessageType(pub u8);

impl NetworkMessageType {
    pub const WHO_IS_ROUTER_TO_NETWORK: Self = Self(0x00);
    pub const I_AM_ROUTER_TO_NETWORK: Self = Self(0x01);
    pub const I_COULD_BE_ROUTER_TO_NETWORK: Self = Self(0x02);
    pub const REJECT_MESSAGE_TO_NETWORK: Self = Self(0x03);
    pub const ROUTER_BUSY_TO_NETWORK: Self = Self(0x04);
    pub const ROUTER_AVAILABLE_TO_NETWORK: Self = Self(0x05);
    pub const INITIALIZE_ROUTING_TABLE: Self = Self(0x06);
    pub const INITIALIZE_ROUTING_TABLE_ACK: Self = Self(0x07);
    pub const ESTABLISH_CONNECTION_TO_NETWORK: Self = Self(0x08);
    pub const DISCONNECT_CONNECTION_TO_NETWORK: Self = Self(0x09);
    pub const WHAT_IS_NETWORK_NUMBER: Self = Self(0x12);
    pub const NETWORK_NUMBER_IS: Self = Self(0x13);

    /// Types 0x80–0xFF are proprietary and followed by a vendor identifier.
    pub fn is_proprietary(self) -> bool {
        self.0 >= 0x80
    }

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "who-is-router-to-network",
            0x01 => "i-am-router-to-network",
            0x02 => "i-could-be-router-to-network",
            0x03 => "reject-message-to-network",
            0x04 => "router-busy-to-network",
            0x05 => "router-available-to-network",
            0x06 => "initialize-routing-table",
            0x07 => "initialize-routing-table-ack",
            0x08 => "establish-connection-to-network",
            0x09 => "disconnect-connection-to-network",
            0x0a => "challenge-request",
            0x0b => "security-payload",
            0x0c => "security-response",
            0x0d => "request-key-update",
            0x0e => "update-key-set",
            0x0f => "update-distribution-key",
            0x10 => "request-master-key",
            0x11 => "set-master-key",
            0x12 => "what-is-network-number",
            0x13 => "network-number-is",
            0x80..=0xff => "proprietary",
            _ => return None,
        })
    }
}

/// Reason of a Reject-Message-To-Network (6.4.4).
pub fn reject_reason_name(r: u8) -> Option<&'static str> {
    Some(match r {
        0 => "other",
        1 => "no-route-to-dnet",
        2 => "router-busy",
        3 => "unknown-network-message-type",
        4 => "message-too-long",
        5 => "security-error",
        6 => "addressing-error",
        _ => return None,
    })
}

/// A decoded NPDU header; `payload` is the APDU or the network message payload.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NpduSlice<'a> {
    pub version: u8,
    pub control: u8,
    pub dnet: Option<u16>,
    /// Destination MAC; empty with a DNET means a broadcast on DNET.
    pub dadr: &'a [u8],
    pub snet: Option<u16>,
    pub sadr: &'a [u8],
    pub hop_count: Option<u8>,
    pub message_type: Option<NetworkMessageType>,
    /// Vendor of a proprietary network message.
    pub vendor_id: Option<u16>,
    pub payload: &'a [u8],
}

impl std::fmt::Debug for NpduSlice<'_> {
    /// The payload as its length only (it may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpduSlice")
            .field("version", &self.version)
            .field("control", &self.control)
            .field("dnet", &self.dnet)
            .field("dadr", &self.dadr)
            .field("snet", &self.snet)
            .field("sadr", &self.sadr)
            .field("hop_count", &self.hop_count)
            .field("message_type", &self.message_type)
            .field("vendor_id", &self.vendor_id)
            .field("payload", &super::Octets(self.payload.len()))
            .finish()
    }
}

impl NpduSlice<'_> {
    pub fn is_network_message(&self) -> bool {
        self.control & CONTROL_NETWORK_MESSAGE != 0
    }

    pub fn expecting_reply(&self) -> bool {
        self.control & CONTROL_EXPECTING_REPLY != 0
    }

    pub fn priority(&self) -> u8 {
        self.control & CONTROL_PRIORITY
    }

    /// Flags the fields that are framed correctly but invalid (6.2.2): version, reserved
    /// control bits, SLEN 0, SNET 0xFFFF, reserved message types.
    pub fn check(&self, flags: &mut Flags) {
        if self.version != NPDU_VERSION {
            flags.malformed("npdu_bad_version");
        }
        if self.control & CONTROL_RESERVED != 0 {
            flags.malformed("npdu_reserved_bits");
        }
        if self.snet.is_some() && self.sadr.is_empty() {
            flags.malformed("npdu_slen_zero");
        }
        if self.snet == Some(GLOBAL_BROADCAST_NET) {
            flags.malformed("npdu_snet_global");
        }
        // Network number 0 is not a valid network; routers drop it.
        if self.snet == Some(0) || self.dnet == Some(0) {
            flags.flag("npdu_net_zero");
        }
        if self.hop_count == Some(0) {
            flags.flag("npdu_hop_count_zero");
        }
        if let Some(t) = self.message_type {
            if t.name().is_none() {
                flags.flag("npdu_reserved_message_type");
            }
        }
    }
}

fn u16_at(input: &[u8], at: usize) -> Result<u16, BacnetError> {
    match input.get(at..at + 2) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(BacnetError::need(at + 2, input.len())),
    }
}

fn u8_at(input: &[u8], at: usize) -> Result<u8, BacnetError> {
    input.get(at).copied().ok_or_else(|| BacnetError::need(at + 1, input.len()))
}

fn bytes_at(input: &[u8], at: usize, len: usize) -> Result<&[u8], BacnetError> {
    input.get(at..at + len).ok_or_else(|| BacnetError::need(at + len, input.len()))
}

/// Parses an NPDU header. Returns the header (with the rest of `input` as payload) and the
/// header length. Every field the control octet announces must be present, else `Incomplete`.
pub fn parse_npdu(input: &[u8]) -> Result<(NpduSlice<'_>, usize), BacnetError> {
    let version = u8_at(input, 0)?;
    let control = u8_at(input, 1)?;
    let mut at = 2;
    let (mut dnet, mut dadr) = (None, &[][..]);
    if control & CONTROL_DNET != 0 {
        dnet = Some(u16_at(input, at)?);
        let len = usize::from(u8_at(input, at + 2)?);
        dadr = bytes_at(input, at + 3, len)?;
        at += 3 + len;
    }
    let (mut snet, mut sadr) = (None, &[][..]);
    if control & CONTROL_SNET != 0 {
        snet = Some(u16_at(input, at)?);
        let len = usize::from(u8_at(input, at + 2)?);
        sadr = bytes_at(input, at + 3, len)?;
        at += 3 + len;
    }
    let mut hop_count = None;
    if dnet.is_some() {
        hop_count = Some(u8_at(input, at)?);
        at += 1;
    }
    let (mut message_type, mut vendor_id) = (None, None);
    if control & CONTROL_NETWORK_MESSAGE != 0 {
        let t = NetworkMessageType(u8_at(input, at)?);
        at += 1;
        if t.is_proprietary() {
            vendor_id = Some(u16_at(input, at)?);
            at += 2;
        }
        message_type = Some(t);
    }
    let payload = input.get(at..).unwrap_or_default();
    Ok((
        NpduSlice { version, control, dnet, dadr, snet, sadr, hop_count, message_type, vendor_id, payload },
        at,
    ))
}

/// A list of 2-byte network numbers; `rest` holds an odd trailing byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnetList<'a> {
    pub bytes: &'a [u8],
    pub rest: &'a [u8],
}

impl DnetList<'_> {
    pub fn len(&self) -> usize {
        self.bytes.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bytes.chunks_exact(2).map(|c| match *c {
            [a, b] => u16::from_be_bytes([a, b]),
            _ => 0,
        })
    }
}

/// Routing table of Initialize-Routing-Table(-Ack) (6.4.7): `count(1)` then per port
/// `DNET(2) port id(1) info length(1) info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutingTable<'a> {
    pub count: u8,
    /// The encoded ports, already checked to hold `count` whole entries.
    pub ports: &'a [u8],
}

impl RoutingTable<'_> {
    /// (DNET, port id, port info length) of each port.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u8, usize)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            let dnet = u16_at(self.ports, at).ok()?;
            let id = u8_at(self.ports, at + 2).ok()?;
            let len = usize::from(u8_at(self.ports, at + 3).ok()?);
            at += 4 + len;
            Some((dnet, id, len))
        })
    }
}

/// Payload of a network-layer message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkMessage<'a> {
    /// Who-Is-Router-To-Network: optional DNET.
    WhoIsRouter { dnet: Option<u16> },
    /// I-Am-Router-To-Network, Router-Busy, Router-Available: list of DNETs.
    Dnets(DnetList<'a>),
    /// I-Could-Be-Router-To-Network.
    ICouldBeRouter { dnet: u16, performance_index: u8 },
    /// Reject-Message-To-Network.
    Reject { reason: u8, dnet: u16 },
    /// Initialize-Routing-Table and its Ack.
    RoutingTable(RoutingTable<'a>),
    /// Establish-Connection-To-Network.
    EstablishConnection { dnet: u16, termination_time: u8 },
    /// Disconnect-Connection-To-Network.
    DisconnectConnection { dnet: u16 },
    /// What-Is-Network-Number.
    Empty,
    /// Network-Number-Is: `flag` 0 learned, 1 configured.
    NetworkNumberIs { net: u16, flag: u8 },
    /// Network security, proprietary and reserved types: payload kept as bytes.
    Opaque(&'a [u8]),
}

/// Parses the payload of a network message of type `t`. Returns the message and the bytes
/// used; fixed fields cut short are `Incomplete`.
pub fn parse_network_message(
    t: NetworkMessageType,
    p: &[u8],
) -> Result<(NetworkMessage<'_>, usize), BacnetError> {
    Ok(match t {
        NetworkMessageType::WHO_IS_ROUTER_TO_NETWORK => match p.len() {
            0 => (NetworkMessage::WhoIsRouter { dnet: None }, 0),
            _ => (NetworkMessage::WhoIsRouter { dnet: Some(u16_at(p, 0)?) }, 2),
        },
        NetworkMessageType::I_AM_ROUTER_TO_NETWORK
        | NetworkMessageType::ROUTER_BUSY_TO_NETWORK
        | NetworkMessageType::ROUTER_AVAILABLE_TO_NETWORK => {
            let (bytes, rest) = p.split_at(p.len() & !1);
            (NetworkMessage::Dnets(DnetList { bytes, rest }), bytes.len())
        }
        NetworkMessageType::I_COULD_BE_ROUTER_TO_NETWORK => {
            (NetworkMessage::ICouldBeRouter { dnet: u16_at(p, 0)?, performance_index: u8_at(p, 2)? }, 3)
        }
        NetworkMessageType::REJECT_MESSAGE_TO_NETWORK => {
            (NetworkMessage::Reject { reason: u8_at(p, 0)?, dnet: u16_at(p, 1)? }, 3)
        }
        NetworkMessageType::INITIALIZE_ROUTING_TABLE | NetworkMessageType::INITIALIZE_ROUTING_TABLE_ACK => {
            let count = u8_at(p, 0)?;
            let mut at = 1;
            for _ in 0..count {
                let len = usize::from(u8_at(p, at + 3)?);
                bytes_at(p, at + 4, len)?;
                at += 4 + len;
            }
            let ports = p.get(1..at).unwrap_or_default();
            (NetworkMessage::RoutingTable(RoutingTable { count, ports }), at)
        }
        NetworkMessageType::ESTABLISH_CONNECTION_TO_NETWORK => {
            (NetworkMessage::EstablishConnection { dnet: u16_at(p, 0)?, termination_time: u8_at(p, 2)? }, 3)
        }
        NetworkMessageType::DISCONNECT_CONNECTION_TO_NETWORK => {
            (NetworkMessage::DisconnectConnection { dnet: u16_at(p, 0)? }, 2)
        }
        NetworkMessageType::WHAT_IS_NETWORK_NUMBER => (NetworkMessage::Empty, 0),
        NetworkMessageType::NETWORK_NUMBER_IS => {
            (NetworkMessage::NetworkNumberIs { net: u16_at(p, 0)?, flag: u8_at(p, 2)? }, 3)
        }
        _ => (NetworkMessage::Opaque(p), p.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_broadcast_header() {
        // version 1 | control 0x20 (DNET present) | DNET 0xFFFF | DLEN 0 | hop count 255 | APDU.
        let d = [0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08];
        let (n, used) = parse_npdu(&d).unwrap();
        assert_eq!(used, 6);
        assert_eq!(n.dnet, Some(GLOBAL_BROADCAST_NET));
        assert!(n.dadr.is_empty());
        assert_eq!(n.hop_count, Some(255));
        assert_eq!(n.payload, &[0x10, 0x08]);
        let mut f = Flags::default();
        n.check(&mut f);
        assert_eq!(f, Flags::default());
    }

    #[test]
    fn routed_source_and_proprietary_message() {
        // control 0x88: network message + SNET | SNET 5 | SLEN 1 | SADR 0x7f | type 0x80 |
        // vendor 0x0105 | payload aa.
        let d = [0x01, 0x88, 0x00, 0x05, 0x01, 0x7f, 0x80, 0x01, 0x05, 0xaa];
        let (n, used) = parse_npdu(&d).unwrap();
        assert_eq!(used, 9);
        assert_eq!((n.snet, n.sadr), (Some(5), &[0x7f][..]));
        assert_eq!(n.vendor_id, Some(0x0105));
        assert_eq!(n.message_type, Some(NetworkMessageType(0x80)));
        // Proprietary type without its vendor id.
        assert!(matches!(parse_npdu(&d[..7]), Err(BacnetError::Incomplete { .. })));
    }

    #[test]
    fn invalid_fields_are_flagged() {
        // version 2, reserved bit 0x40, SNET 0xFFFF with SLEN 0.
        let d = [0x02, 0x48, 0xff, 0xff, 0x00, 0x10, 0x08];
        let (n, _) = parse_npdu(&d).unwrap();
        let mut f = Flags::default();
        n.check(&mut f);
        assert!(f.malformed);
        for c in ["npdu_bad_version", "npdu_reserved_bits", "npdu_slen_zero", "npdu_snet_global"] {
            assert!(f.has(c), "{c}");
        }
    }

    #[test]
    fn truncated_dnet() {
        // The corpus case: control 0x24 announces DNET, one byte of it follows.
        assert_eq!(parse_npdu(&[0x01, 0x24, 0x00]), Err(BacnetError::need(4, 3)));
        // DLEN 6 with 2 bytes of DADR.
        assert!(matches!(
            parse_npdu(&[0x01, 0x20, 0x00, 0x05, 0x06, 1, 2]),
            Err(BacnetError::Incomplete { .. })
        ));
    }

    #[test]
    fn network_messages() {
        let (m, _) =
            parse_network_message(NetworkMessageType::I_AM_ROUTER_TO_NETWORK, &[0, 5, 0, 6]).unwrap();
        let NetworkMessage::Dnets(l) = m else { panic!("not a list") };
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![5, 6]);
        let (m, _) =
            parse_network_message(NetworkMessageType::REJECT_MESSAGE_TO_NETWORK, &[1, 0, 9]).unwrap();
        assert_eq!(m, NetworkMessage::Reject { reason: 1, dnet: 9 });
        assert_eq!(reject_reason_name(1), Some("no-route-to-dnet"));
        // Initialize-Routing-Table: 2 ports, the second with 2 bytes of port info.
        let p = [2, 0, 1, 1, 0, 0, 2, 2, 2, 0xaa, 0xbb];
        let (m, used) = parse_network_message(NetworkMessageType::INITIALIZE_ROUTING_TABLE, &p).unwrap();
        assert_eq!(used, p.len());
        let NetworkMessage::RoutingTable(t) = m else { panic!("not a table") };
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(1, 1, 0), (2, 2, 2)]);
        assert!(matches!(
            parse_network_message(NetworkMessageType::INITIALIZE_ROUTING_TABLE, &p[..10]),
            Err(BacnetError::Incomplete { .. })
        ));
    }
}
