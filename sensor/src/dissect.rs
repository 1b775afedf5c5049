//! L2–L4 dissection over borrowed slices (etherparse, lax mode).
//!
//! Link types: Ethernet (with 802.1Q/802.1ad VLAN tags, QinQ), Linux cooked capture v1 and v2,
//! raw IPv4/IPv6 and BSD loopback. Lax slicing decodes what a packet holds even when the snap
//! length cut it, and says where it stopped; such packets are still tracked, and a TCP payload
//! cut short becomes a gap in its stream.
//!
//! The common case (Ethernet, up to three VLAN tags, IPv4 without fragmentation or AH, a
//! whole TCP or UDP header, nothing cut by the snap length) takes a hand-written path that
//! reads the few fields fabmon uses straight from the bytes; everything else, and every packet
//! that path is unsure of, goes through etherparse. Both give the same result for the packets
//! the fast path takes (checked by the tests below).

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[inline]
pub fn dissect(link: LinkType, data: &[u8]) -> Result<Dissected<'_>, NotDissected> {
    let fast = match link {
        LinkType::ETHERNET => fast_ethernet(data),
        LinkType::RAW | LinkType::IPV4 | LinkType(12) | LinkType(14) => fast_ipv4(data, 0, None, None),
        _ => None,
    };
    match fast {
        Some(d) => Ok(d),
        None => dissect_lax(link, data),
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
/// 802.1Q, 802.1ad and the pre-standard QinQ tag: the tags etherparse reads as VLAN.
fn is_vlan_tag(ether_type: u16) -> bool {
    matches!(ether_type, 0x8100 | 0x88a8 | 0x9100)
}
/// VLAN tags etherparse keeps (`LaxSlicedPacket` link extensions); more go to the slow path.
const MAX_VLAN_TAGS: usize = 3;
const IP_PROTO_TCP: u8 = 6;
const IP_PROTO_UDP: u8 = 17;
/// IPv4 AH (RFC 4302) is an extension header etherparse walks: left to it.
const IP_PROTO_AH: u8 = 51;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 4) {
        Some(&[a, b2, c, d]) => Some(u32::from_be_bytes([a, b2, c, d])),
        _ => None,
    }
}

fn mac(b: &[u8], at: usize) -> Option<[u8; 6]> {
    b.get(at..at + 6).and_then(|m| m.try_into().ok())
}

/// Ethernet II with up to three VLAN tags carrying IPv4; `None` for anything else.
#[inline]
fn fast_ethernet(data: &[u8]) -> Option<Dissected<'_>> {
    let dst_mac = mac(data, 0)?;
    let src_mac = mac(data, 6)?;
    let mut ether_type = be16(data, 12)?;
    let mut off = 14;
    let mut vlan = 0u32;
    let mut tags = 0;
    while is_vlan_tag(ether_type) {
        if tags == MAX_VLAN_TAGS {
            return None;
        }
        let tci = be16(data, off)?;
        ether_type = be16(data, off + 2)?;
        vlan = (vlan << 16) | u32::from(tci & 0x0fff);
        off += 4;
        tags += 1;
    }
    if ether_type != ETHERTYPE_IPV4 {
        return None;
    }
    fast_ipv4(data.get(off..)?, vlan, Some(src_mac), Some(dst_mac))
}

/// A whole, unfragmented IPv4 packet with a whole TCP or UDP header (or another protocol
/// except AH); `None` for anything else, including a packet the snap length cut.
#[inline]
fn fast_ipv4(
    ip: &[u8],
    vlan: u32,
    src_mac: Option<[u8; 6]>,
    dst_mac: Option<[u8; 6]>,
) -> Option<Dissected<'_>> {
    let &[ver_ihl, _, t0, t1, _, _, f0, f1, ttl, proto, _, _, s0, s1, s2, s3, d0, d1, d2, d3] =
        ip.get(..20)?
    else {
        return None;
    };
    if ver_ihl >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(ver_ihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([t0, t1]));
    // More fragments, or a fragment offset: a fragment.
    if ihl < 20 || total < ihl || total > ip.len() || u16::from_be_bytes([f0, f1]) & 0x3fff != 0 {
        return None;
    }
    let payload = ip.get(ihl..total)?;
    let l4 = match proto {
        IP_PROTO_TCP | IP_PROTO_UDP if payload.len() < 8 => return None,
        IP_PROTO_TCP => {
            let hlen = usize::from(payload.get(12)? >> 4) * 4;
            if hlen < 20 || hlen > payload.len() {
                return None;
            }
            L4::Tcp(TcpSeg {
                sport: be16(payload, 0)?,
                dport: be16(payload, 2)?,
                seq: be32(payload, 4)?,
                ack: be32(payload, 8)?,
                flags: *payload.get(13)?,
                window: be16(payload, 14)?,
                payload: payload.get(hlen..)?,
                truncated: false,
            })
        }
        IP_PROTO_UDP => {
            let len = usize::from(be16(payload, 4)?);
            // As etherparse's lax UDP: a length field that cannot be right is ignored.
            let end = if len < 8 || len > payload.len() { payload.len() } else { len };
            L4::Udp {
                sport: be16(payload, 0)?,
                dport: be16(payload, 2)?,
                payload: payload.get(8..end)?,
                truncated: false,
            }
        }
        IP_PROTO_AH => return None,
        other => L4::Other { ip_proto: other },
    };
    Some(Dissected {
        vlan,
        src_mac,
        dst_mac,
        src: IpAddr::V4(Ipv4Addr::new(s0, s1, s2, s3)),
        dst: IpAddr::V4(Ipv4Addr::new(d0, d1, d2, d3)),
        ttl,
        fragment: false,
        l4,
    })
}

/// The general path: etherparse's lax slicing, for every link type and every packet.
fn dissect_lax(link: LinkType, data: &[u8]) -> Result<Dissected<'_>, NotDissected> {
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

    /// The fast path, where it answers, says what etherparse says.
    fn assert_fast_matches_lax(link: LinkType, p: &[u8]) -> bool {
        let fast = match link {
            LinkType::ETHERNET => fast_ethernet(p),
            _ => fast_ipv4(p, 0, None, None),
        };
        match fast {
            Some(f) => {
                assert_eq!(Ok(f), dissect_lax(link, p), "{p:02x?}");
                true
            }
            None => false,
        }
    }

    /// The same UDP datagram as `VLAN_TCP` carries TCP: ports 47808 → 47808, payload "hi".
    fn vlan_udp() -> Vec<u8> {
        let mut p = VLAN_TCP[..18].to_vec();
        p.extend_from_slice(&[0x45, 0, 0, 30, 0, 1, 0x40, 0, 0x40, 17, 0, 0, 10, 30, 0, 12, 10, 20, 1, 5]);
        p.extend_from_slice(&[0xba, 0xc0, 0xba, 0xc0, 0, 10, 0, 0, b'h', b'i']);
        p
    }

    #[test]
    fn fast_path_takes_the_common_case_and_matches_etherparse() {
        assert!(assert_fast_matches_lax(LinkType::ETHERNET, VLAN_TCP));
        assert!(assert_fast_matches_lax(LinkType::ETHERNET, &vlan_udp()));
        assert!(assert_fast_matches_lax(LinkType::RAW, &VLAN_TCP[18..]));
        // Cut by the snap length, fragmented, AH, IPv6-in-an-IPv4-EtherType: the slow path.
        assert!(!assert_fast_matches_lax(LinkType::ETHERNET, &VLAN_TCP[..VLAN_TCP.len() - 1]));
        let mut frag = VLAN_TCP.to_vec();
        frag[24] = 0x20; // more fragments
        assert!(!assert_fast_matches_lax(LinkType::ETHERNET, &frag));
        let mut ah = VLAN_TCP.to_vec();
        ah[27] = 51;
        assert!(!assert_fast_matches_lax(LinkType::ETHERNET, &ah));
        let mut v6 = VLAN_TCP.to_vec();
        v6[18] = 0x65;
        assert!(!assert_fast_matches_lax(LinkType::ETHERNET, &v6));
    }

    #[test]
    fn fast_path_matches_etherparse_on_a_synth_capture() {
        let cfg = crate::synth::SynthConfig { packets: 30_000, ..Default::default() };
        let mut cap = Vec::new();
        crate::synth::generate(&cfg, &mut cap).unwrap();
        let mut src =
            crate::capture::file::FileSource::from_reader("synth", Box::new(std::io::Cursor::new(cap)))
                .unwrap();
        let (mut n, mut fast) = (0, 0);
        while let Ok(crate::capture::Next::Packet(p)) = crate::capture::PacketSource::next_packet(&mut src) {
            n += 1;
            if assert_fast_matches_lax(p.link, p.data) {
                fast += 1;
            }
            assert_eq!(dissect(p.link, p.data), dissect_lax(p.link, p.data));
        }
        assert_eq!(n, 30_000);
        assert!(fast * 100 >= n * 99, "the fast path took {fast} of {n} packets");
    }

    proptest::proptest! {
        /// Any few bytes changed, in any header, and any cut: the fast path either declines or
        /// agrees with etherparse.
        #[test]
        fn fast_path_agrees_with_etherparse_on_mutations(
            udp in proptest::bool::ANY,
            edits in proptest::collection::vec((0usize..64, proptest::num::u8::ANY), 0..6),
            cut in 0usize..64,
            raw in proptest::bool::ANY,
        ) {
            let mut p = if udp { vlan_udp() } else { VLAN_TCP.to_vec() };
            for (at, v) in edits {
                if let Some(b) = p.get_mut(at % VLAN_TCP.len()) {
                    *b = v;
                }
            }
            p.truncate(p.len().saturating_sub(cut % 8));
            if raw {
                let ip = p.get(18..).unwrap_or(&[]).to_vec();
                assert_fast_matches_lax(LinkType::RAW, &ip);
            } else {
                assert_fast_matches_lax(LinkType::ETHERNET, &p);
            }
        }

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
