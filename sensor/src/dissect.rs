//! L2–L4 dissection over borrowed slices (etherparse, lax mode).
//!
//! Link types: Ethernet (with 802.1Q/802.1ad VLAN tags, QinQ), Linux cooked capture v1 and v2,
//! raw IPv4/IPv6 and BSD loopback. Lax slicing decodes what a packet holds even when the snap
//! length cut it, and says where it stopped; such packets are still tracked, and a TCP payload
//! cut short becomes a gap in its stream.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::err::Layer;
use etherparse::{EtherType, LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, LinkSlice, TransportSlice};

use crate::capture::LinkType;

/// TCP flag bits as on the wire (RFC 9293 §3.1).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// A TCP segment's fields that flow tracking and reassembly use.
#[derive(Clone, Copy, Debug)]
pub struct TcpSeg<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub payload: &'a [u8],
    /// The IP packet was longer than what the capture holds: bytes after `payload` are missing.
    pub truncated: bool,
}

/// Transport layer of a dissected packet.
#[derive(Clone, Copy, Debug)]
pub enum L4<'a> {
    Tcp(TcpSeg<'a>),
    Udp {
        sport: u16,
        dport: u16,
        payload: &'a [u8],
        truncated: bool,
    },
    /// Any other IP protocol (ICMP, ...), or a non-first IPv4 fragment.
    Other {
        ip_proto: u8,
    },
}

/// A packet sliced down to its transport payload.
#[derive(Clone, Copy, Debug)]
pub struct Dissected<'a> {
    /// VLAN ids, outermost in the high 16 bits for QinQ (0 when untagged).
    pub vlan: u32,
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The IPv4 packet is a fragment (more-fragments set or a non-zero offset).
    pub fragment: bool,
    pub l4: L4<'a>,
}

/// Why a packet yields no IP flow. Counted per reason by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotDissected {
    /// A link type fabmon does not dissect (ARCNET, MS/TP, ...).
    UnknownLink(u32),
    /// Valid, but not IP (ARP, LLDP, STP, ...).
    NotIp,
    /// A header is invalid or cut short; the reason names the layer.
    Malformed(&'static str),
}

/// Slices `data` of link type `link` down to its transport payload.
pub fn dissect(link: LinkType, data: &[u8]) -> Result<Dissected<'_>, NotDissected> {
    let sliced = match link {
        LinkType::ETHERNET => {
            LaxSlicedPacket::from_ethernet(data).map_err(|_| NotDissected::Malformed("ethernet_short"))?
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 | LinkType(12) | LinkType(14) => {
            LaxSlicedPacket::from_ip(data).map_err(|_| NotDissected::Malformed("ip_header"))?
        }
        LinkType::LINUX_SLL => {
            // 16-byte header; the protocol (an EtherType for IP) is the last two bytes.
            let (hdr, rest) = data.split_at_checked(16).ok_or(NotDissected::Malformed("sll_short"))?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([hdr[14], hdr[15]])), rest)
        }
        LinkType::LINUX_SLL2 => {
            // 20-byte header starting with the protocol type.
            let (hdr, rest) = data.split_at_checked(20).ok_or(NotDissected::Malformed("sll2_short"))?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([hdr[0], hdr[1]])), rest)
        }
        LinkType::NULL | LinkType(108) => {
            // BSD loopback: a 4-byte address family in host (NULL) or network (LOOP) order.
            let (hdr, rest) = data.split_at_checked(4).ok_or(NotDissected::Malformed("loopback_short"))?;
            let fam = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let fam_be = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            match (fam, fam_be) {
                (2, _) | (_, 2) => LaxSlicedPacket::from_ether_type(EtherType::IPV4, rest),
                (24 | 28 | 30, _) | (_, 24 | 28 | 30) => {
                    LaxSlicedPacket::from_ether_type(EtherType::IPV6, rest)
                }
                _ => return Err(NotDissected::NotIp),
            }
        }
        LinkType(other) => return Err(NotDissected::UnknownLink(other)),
    };

    let (src_mac, dst_mac) = match &sliced.link {
        Some(LinkSlice::Ethernet2(e)) => (Some(e.source()), Some(e.destination())),
        _ => (None, None),
    };
    let mut vlan = 0u32;
    for ext in &sliced.link_exts {
        if let LaxLinkExtSlice::Vlan(v) = ext {
            vlan = (vlan << 16) | u32::from(v.vlan_identifier().value());
        }
    }

    let Some(net) = &sliced.net else {
        return Err(match &sliced.stop_err {
            Some((_, layer)) => NotDissected::Malformed(layer_reason(*layer)),
            None => NotDissected::NotIp,
        });
    };
    let (src, dst, ttl, payload) = match net {
        LaxNetSlice::Ipv4(ip) => {
            let h = ip.header();
            (
                IpAddr::V4(Ipv4Addr::from(h.source())),
                IpAddr::V4(Ipv4Addr::from(h.destination())),
                h.ttl(),
                ip.payload(),
            )
        }
        LaxNetSlice::Ipv6(ip) => {
            let h = ip.header();
            (
                IpAddr::V6(Ipv6Addr::from(h.source())),
                IpAddr::V6(Ipv6Addr::from(h.destination())),
                h.hop_limit(),
                ip.payload(),
            )
        }
        LaxNetSlice::Arp(_) => return Err(NotDissected::NotIp),
    };
    let fragment = payload.fragmented;
    let truncated = payload.incomplete;
    let l4 = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => {
            let h = t.header_slice();
            L4::Tcp(TcpSeg {
                sport: t.source_port(),
                dport: t.destination_port(),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                flags: h.get(13).copied().unwrap_or(0),
                window: t.window_size(),
                payload: t.payload(),
                truncated,
            })
        }
        Some(TransportSlice::Udp(u)) => {
            L4::Udp { sport: u.source_port(), dport: u.destination_port(), payload: u.payload(), truncated }
        }
        _ => {
            if let Some((_, layer @ (Layer::TcpHeader | Layer::UdpHeader | Layer::UdpPayload))) =
                &sliced.stop_err
            {
                if !fragment {
                    return Err(NotDissected::Malformed(layer_reason(*layer)));
                }
            }
            L4::Other { ip_proto: payload.ip_number.0 }
        }
    };
    Ok(Dissected { vlan, src_mac, dst_mac, src, dst, ttl, fragment, l4 })
}

fn layer_reason(layer: Layer) -> &'static str {
    match layer {
        Layer::LinuxSllHeader => "sll_header",
        Layer::Ethernet2Header => "ethernet_header",
        Layer::EtherPayload => "ether_payload",
        Layer::VlanHeader => "vlan_header",
        Layer::MacsecHeader | Layer::MacsecPacket => "macsec",
        Layer::IpHeader => "ip_header",
        Layer::Ipv4Header => "ipv4_header",
        Layer::Ipv4Packet => "ipv4_length",
        Layer::IpAuthHeader => "ip_auth_header",
        Layer::Ipv6Header => "ipv6_header",
        Layer::Ipv6Packet => "ipv6_length",
        Layer::Ipv6ExtHeader
        | Layer::Ipv6HopByHopHeader
        | Layer::Ipv6DestOptionsHeader
        | Layer::Ipv6RouteHeader
        | Layer::Ipv6FragHeader => "ipv6_ext_header",
        Layer::UdpHeader => "udp_header",
        Layer::UdpPayload => "udp_length",
        Layer::TcpHeader => "tcp_header",
        _ => "other_header",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet II, 802.1Q VLAN 30, IPv4 10.30.0.12 → 10.20.1.5, TCP 40000 → 5000 PSH|ACK,
    /// payload "hi".
    const VLAN_TCP: &[u8] = &[
        0x02, 0, 0, 0, 0, 0x02, // destination MAC
        0x02, 0, 0, 0, 0, 0x01, // source MAC
        0x81, 0x00, // EtherType 802.1Q
        0x00, 0x1e, // PCP 0, DEI 0, VLAN 30
        0x08, 0x00, // EtherType IPv4
        0x45, 0x00, 0x00, 0x2a, // v4, IHL 5, total length 42
        0x00, 0x01, 0x40, 0x00, // id 1, DF
        0x40, 0x06, 0x00, 0x00, // TTL 64, TCP, checksum (not checked)
        10, 30, 0, 12, // source
        10, 20, 1, 5, // destination
        0x9c, 0x40, 0x13, 0x88, // ports 40000 → 5000
        0, 0, 0, 100, // seq 100
        0, 0, 0, 7, // ack 7
        0x50, 0x18, 0x01, 0x00, // data offset 5, PSH|ACK, window 256
        0, 0, 0, 0, // checksum, urgent
        b'h', b'i', // payload
    ];

    #[test]
    fn ethernet_vlan_ipv4_tcp() {
        let d = dissect(LinkType::ETHERNET, VLAN_TCP).unwrap();
        assert_eq!(d.vlan, 30);
        assert_eq!(d.src, IpAddr::V4(Ipv4Addr::new(10, 30, 0, 12)));
        assert_eq!(d.src_mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(d.ttl, 64);
        let L4::Tcp(t) = d.l4 else { panic!("not tcp") };
        assert_eq!((t.sport, t.dport, t.seq, t.ack), (40000, 5000, 100, 7));
        assert_eq!(t.flags, tcp_flags::PSH | tcp_flags::ACK);
        assert_eq!(t.payload, b"hi");
        assert!(!t.truncated);
    }

    #[test]
    fn qinq_keeps_both_tags() {
        let mut p = VLAN_TCP[..12].to_vec();
        p.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64]); // 802.1ad outer tag, VLAN 100
        p.extend_from_slice(&VLAN_TCP[12..]);
        let d = dissect(LinkType::ETHERNET, &p).unwrap();
        assert_eq!(d.vlan, (100 << 16) | 30);
    }

    #[test]
    fn snaplen_cut_marks_payload_truncated() {
        let d = dissect(LinkType::ETHERNET, &VLAN_TCP[..VLAN_TCP.len() - 1]).unwrap();
        let L4::Tcp(t) = d.l4 else { panic!("not tcp") };
        assert_eq!(t.payload, b"h");
        assert!(t.truncated);
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let ip = &VLAN_TCP[18..];
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(ip);
        assert!(matches!(dissect(LinkType::LINUX_SLL, &sll).unwrap().l4, L4::Tcp(_)));
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
        sll2.extend_from_slice(ip);
        assert!(matches!(dissect(LinkType::LINUX_SLL2, &sll2).unwrap().l4, L4::Tcp(_)));
        assert!(matches!(dissect(LinkType::RAW, ip).unwrap().l4, L4::Tcp(_)));
    }

    #[test]
    fn unknown_link_and_non_ip() {
        assert_eq!(dissect(LinkType(7), &[1, 2, 3]).unwrap_err(), NotDissected::UnknownLink(7));
        let mut arp = VLAN_TCP[..12].to_vec();
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(dissect(LinkType::ETHERNET, &arp).unwrap_err(), NotDissected::NotIp);
    }

    #[test]
    fn bad_ip_header_is_malformed_with_layer() {
        let mut p = VLAN_TCP.to_vec();
        p[18] = 0x41; // IHL 1: shorter than the fixed header
        assert!(matches!(dissect(LinkType::ETHERNET, &p), Err(NotDissected::Malformed(_))));
    }

    proptest::proptest! {
        #[test]
        fn any_truncation_never_panics(cut in 0usize..VLAN_TCP.len()) {
            let _ = dissect(LinkType::ETHERNET, &VLAN_TCP[..cut]);
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200), link in 0u32..300) {
            let _ = dissect(LinkType(link), &bytes);
        }
    }
}
