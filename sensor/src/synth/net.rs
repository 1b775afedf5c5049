//! Ethernet II (optionally 802.1Q or QinQ tagged), IPv4, TCP and UDP headers written by hand
//! with correct checksums. Writing them directly into one reused buffer keeps the generator at
//! millions of packets per second.

/// TCP flag bits (RFC 9293 §3.1).
pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
/// Ethernet frames shorter than this (without FCS) are padded with zeros.
const MIN_FRAME: usize = 60;

/// How a frame is tagged on the monitored trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Encap {
    #[default]
    Untagged,
    /// One 802.1Q tag (VLAN id; priority 0).
    Dot1q(u16),
    /// 802.1ad service tag (outer, EtherType 0x88A8) over an 802.1Q customer tag (inner).
    QinQ { outer: u16, inner: u16 },
}

impl Encap {
    #[cfg(test)]
    pub(crate) fn len(self) -> usize {
        match self {
            Encap::Untagged => 0,
            Encap::Dot1q(_) => 4,
            Encap::QinQ { .. } => 8,
        }
    }
}

/// The layer 2 and 3 fields of one packet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Addr {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    pub ttl: u8,
    pub ip_id: u16,
    /// DSCP/ECN byte.
    pub tos: u8,
    pub encap: Encap,
}

/// TCP header fields of one segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcpFields {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub win: u16,
    /// MSS option value for SYN segments (0: no options).
    pub mss: u16,
}

/// Ones' complement sum of `data` (RFC 1071), folded into `acc`. `data` must start at an even
/// offset of the summed sequence. Works on 8-byte words: 2^64 ≡ 1 (mod 0xFFFF), so adding the
/// carry back in keeps the sum exact.
pub(crate) fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let (s, o) = acc.overflowing_add(u64::from_be_bytes(w));
        acc = s + u64::from(o);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        let (s, o) = acc.overflowing_add(u64::from_be_bytes(w));
        acc = s + u64::from(o);
    }
    acc
}

/// Folds a 64-bit ones' complement sum into the 16-bit checksum field value.
pub(crate) fn fold(acc: u64) -> u16 {
    let mut s = (acc >> 32) + (acc & 0xFFFF_FFFF);
    s = (s >> 32) + (s & 0xFFFF_FFFF);
    s = (s >> 16) + (s & 0xFFFF);
    s = (s >> 16) + (s & 0xFFFF);
    s = (s >> 16) + (s & 0xFFFF);
    !(s as u16)
}

fn put16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Longest header block: Ethernet with QinQ (22), IPv4 (20), TCP with SYN options (28).
const MAX_HDR: usize = 22 + 20 + 28;

/// Writes Ethernet and the (checksummed) IPv4 header for `l4_len` bytes of layer 4 into `h`;
/// returns the offset where layer 4 starts.
fn l2_l3(h: &mut [u8; MAX_HDR], a: &Addr, proto: u8, l4_len: usize, dont_fragment: bool) -> usize {
    h[0..6].copy_from_slice(&a.dst_mac);
    h[6..12].copy_from_slice(&a.src_mac);
    let mut at = 12;
    match a.encap {
        Encap::Untagged => {}
        Encap::Dot1q(vid) => {
            put16(h, 12, ETHERTYPE_VLAN);
            put16(h, 14, vid & 0x0FFF);
            at = 16;
        }
        Encap::QinQ { outer, inner } => {
            put16(h, 12, ETHERTYPE_QINQ);
            put16(h, 14, outer & 0x0FFF);
            put16(h, 16, ETHERTYPE_VLAN);
            put16(h, 18, inner & 0x0FFF);
            at = 20;
        }
    }
    put16(h, at, ETHERTYPE_IPV4);
    let ip = at + 2;
    h[ip] = 0x45;
    h[ip + 1] = a.tos;
    put16(h, ip + 2, (20 + l4_len) as u16);
    put16(h, ip + 4, a.ip_id);
    put16(h, ip + 6, if dont_fragment { 0x4000 } else { 0 });
    h[ip + 8] = a.ttl;
    h[ip + 9] = proto;
    put16(h, ip + 10, 0);
    h[ip + 12..ip + 16].copy_from_slice(&a.src_ip);
    h[ip + 16..ip + 20].copy_from_slice(&a.dst_ip);
    let c = fold(sum(0, &h[ip..ip + 20]));
    put16(h, ip + 10, c);
    ip + 20
}

fn pseudo(a: &Addr, proto: u8, len: usize) -> u64 {
    let mut p = [0u8; 12];
    p[0..4].copy_from_slice(&a.src_ip);
    p[4..8].copy_from_slice(&a.dst_ip);
    p[9] = proto;
    p[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    sum(0, &p)
}

/// Copies the headers and the payload into `out`, padded to the Ethernet minimum.
fn assemble(out: &mut Vec<u8>, h: &[u8], payload: &[u8]) {
    out.clear();
    out.extend_from_slice(h);
    out.extend_from_slice(payload);
    if out.len() < MIN_FRAME {
        out.resize(MIN_FRAME, 0);
    }
}

/// Builds one Ethernet/IPv4/TCP frame into `out` (cleared first).
pub(crate) fn tcp_frame(out: &mut Vec<u8>, a: &Addr, t: &TcpFields, payload: &[u8]) {
    // SYN options: MSS, NOP, NOP, SACK permitted.
    let hdr = if t.mss != 0 { 28 } else { 20 };
    let mut h = [0u8; MAX_HDR];
    let l4 = l2_l3(&mut h, a, 6, hdr + payload.len(), true);
    put16(&mut h, l4, t.sport);
    put16(&mut h, l4 + 2, t.dport);
    h[l4 + 4..l4 + 8].copy_from_slice(&t.seq.to_be_bytes());
    h[l4 + 8..l4 + 12].copy_from_slice(&t.ack.to_be_bytes());
    h[l4 + 12] = ((hdr / 4) as u8) << 4;
    h[l4 + 13] = t.flags;
    put16(&mut h, l4 + 14, t.win);
    if t.mss != 0 {
        h[l4 + 20] = 2;
        h[l4 + 21] = 4;
        put16(&mut h, l4 + 22, t.mss);
        h[l4 + 24..l4 + 28].copy_from_slice(&[1, 1, 4, 2]);
    }
    let acc = sum(sum(pseudo(a, 6, hdr + payload.len()), &h[l4..l4 + hdr]), payload);
    put16(&mut h, l4 + 16, fold(acc));
    assemble(out, &h[..l4 + hdr], payload);
}

/// Builds one Ethernet/IPv4/UDP frame into `out` (cleared first).
pub(crate) fn udp_frame(out: &mut Vec<u8>, a: &Addr, sport: u16, dport: u16, payload: &[u8]) {
    let len = 8 + payload.len();
    let mut h = [0u8; MAX_HDR];
    let l4 = l2_l3(&mut h, a, 17, len, false);
    put16(&mut h, l4, sport);
    put16(&mut h, l4 + 2, dport);
    put16(&mut h, l4 + 4, len as u16);
    let mut c = fold(sum(sum(pseudo(a, 17, len), &h[l4..l4 + 8]), payload));
    // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    if c == 0 {
        c = 0xFFFF;
    }
    put16(&mut h, l4 + 6, c);
    assemble(out, &h[..l4 + 8], payload);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn addr(encap: Encap) -> Addr {
        Addr {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: [10, 30, 0, 11],
            dst_ip: [10, 20, 1, 5],
            ttl: 64,
            ip_id: 0x1234,
            tos: 0,
            encap,
        }
    }

    #[test]
    fn checksum_matches_rfc1071_reference() {
        // Reference: 16-bit word sum with end-around carry.
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            let w = u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
            s += w;
            s = (s & 0xFFFF) + (s >> 16);
        }
        assert_eq!(fold(sum(0, &data)), !(s as u16));
    }

    #[test]
    fn tcp_and_udp_frames_parse_with_valid_checksums() {
        let mut out = Vec::new();
        for encap in [Encap::Untagged, Encap::Dot1q(120), Encap::QinQ { outer: 3001, inner: 141 }] {
            let a = addr(encap);
            let t =
                TcpFields { sport: 50123, dport: 5000, seq: 1, ack: 2, flags: SYN, win: 64240, mss: 1460 };
            for payload in [&b""[..], &b"abc"[..], &[7u8; 1460][..]] {
                let t = TcpFields { mss: if payload.is_empty() { 1460 } else { 0 }, flags: ACK | PSH, ..t };
                tcp_frame(&mut out, &a, &t, payload);
                assert!(out.len() >= 60);
                let p = SlicedPacket::from_ethernet(&out).unwrap();
                let Some(NetSlice::Ipv4(ip)) = &p.net else { panic!("no ipv4") };
                let h = ip.header().to_header();
                assert_eq!(h.header_checksum, h.calc_header_checksum());
                let Some(TransportSlice::Tcp(tcp)) = &p.transport else { panic!("no tcp") };
                assert_eq!(tcp.checksum(), tcp.calc_checksum_ipv4(a.src_ip, a.dst_ip).unwrap());
                assert_eq!(tcp.payload(), payload);
                assert_eq!(p.vlan_ids().len(), encap.len() / 4);
            }
            udp_frame(&mut out, &a, 47808, 47808, b"\x81\x0b\x00\x08\x01\x00\x10\x08");
            let p = SlicedPacket::from_ethernet(&out).unwrap();
            let Some(NetSlice::Ipv4(ip)) = &p.net else { panic!("no ipv4") };
            let Some(TransportSlice::Udp(udp)) = &p.transport else { panic!("no udp") };
            let want = udp.to_header().calc_checksum_ipv4(&ip.header().to_header(), udp.payload()).unwrap();
            assert_eq!(udp.checksum(), want);
        }
    }
}
