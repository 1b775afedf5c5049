//! End-to-end checks of the generator: determinism, exact counts, well-formed packets,
//! consistent TCP streams whose bytes frame into HSMS and Modbus messages, and planted frames
//! that carry what the summary says.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

use super::*;

struct Rec {
    ts: i64,
    data: Vec<u8>,
}

fn read_pcap(b: &[u8]) -> Vec<Rec> {
    assert_eq!(&b[0..4], &[0x4d, 0x3c, 0xb2, 0xa1], "nanosecond pcap magic");
    assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 1, "Ethernet");
    let mut out = Vec::new();
    let mut off = 24;
    while off < b.len() {
        let f = |i: usize| u32::from_le_bytes(b[off + i..off + i + 4].try_into().unwrap());
        let (sec, nsec, incl, orig) = (f(0), f(4), f(8) as usize, f(12) as usize);
        assert_eq!(incl, orig);
        assert!(nsec < 1_000_000_000);
        out.push(Rec {
            ts: i64::from(sec) * SEC + i64::from(nsec),
            data: b[off + 16..off + 16 + incl].to_vec(),
        });
        off += 16 + incl;
    }
    assert_eq!(off, b.len());
    out
}

fn gen(cfg: &SynthConfig) -> (Vec<u8>, SynthSummary) {
    let mut buf = Vec::new();
    let s = generate(cfg, &mut buf).unwrap();
    (buf, s)
}

/// One planted 60k-packet capture shared by the heavier tests.
fn planted() -> &'static (Vec<u8>, SynthSummary, Vec<Rec>) {
    static CAP: OnceLock<(Vec<u8>, SynthSummary, Vec<Rec>)> = OnceLock::new();
    CAP.get_or_init(|| {
        let (b, s) = gen(&SynthConfig { packets: 60_000, seed: 7, ..SynthConfig::default() });
        let recs = read_pcap(&b);
        (b, s, recs)
    })
}

/// A parsed packet: the fields the checks need.
#[derive(Debug)]
struct P<'a> {
    src: [u8; 4],
    dst: [u8; 4],
    tcp: Option<(u16, u16, u32, u32, u8)>,
    payload: &'a [u8],
    vlans: usize,
}

fn parse(data: &[u8]) -> P<'_> {
    let p = SlicedPacket::from_ethernet(data).unwrap();
    let Some(NetSlice::Ipv4(ip)) = &p.net else { panic!("not IPv4") };
    let h = ip.header().to_header();
    assert_eq!(h.header_checksum, h.calc_header_checksum(), "IPv4 header checksum");
    let (src, dst) = (h.source, h.destination);
    let vlans = p.vlan_ids().len();
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            assert_eq!(t.checksum(), t.calc_checksum_ipv4(src, dst).unwrap(), "TCP checksum");
            let flags = u8::from(t.fin())
                | u8::from(t.syn()) << 1
                | u8::from(t.rst()) << 2
                | u8::from(t.psh()) << 3
                | u8::from(t.ack()) << 4;
            P {
                src,
                dst,
                tcp: Some((
                    t.source_port(),
                    t.destination_port(),
                    t.sequence_number(),
                    t.acknowledgment_number(),
                    flags,
                )),
                payload: t.payload(),
                vlans,
            }
        }
        Some(TransportSlice::Udp(u)) => {
            let want = u.to_header().calc_checksum_ipv4(&h, u.payload()).unwrap();
            assert_eq!(u.checksum(), want, "UDP checksum");
            P { src, dst, tcp: None, payload: u.payload(), vlans }
        }
        other => panic!("unexpected transport {other:?}"),
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = SynthConfig { packets: 3_000, seed: 42, ..SynthConfig::default() };
    let (a, sa) = gen(&cfg);
    let (b, sb) = gen(&cfg);
    assert_eq!(a, b);
    assert_eq!(serde_json::to_string(&sa).unwrap(), serde_json::to_string(&sb).unwrap());
    let (c, _) = gen(&SynthConfig { seed: 43, ..cfg });
    assert_ne!(a, c);
}

#[test]
fn exact_packet_counts() {
    for n in [1u64, 10, 1000, 4321] {
        let (b, s) = gen(&SynthConfig { packets: n, ..SynthConfig::default() });
        assert_eq!(s.packets, n);
        assert_eq!(read_pcap(&b).len() as u64, n);
        assert_eq!(s.bytes, b.len() as u64);
        assert_eq!(s.packets_by_class.values().sum::<u64>(), n);
    }
}

#[test]
fn tiny_captures_skip_the_planted_deviations() {
    let (_, s) = gen(&SynthConfig { packets: 1000, ..SynthConfig::default() });
    assert!(s.planted.is_empty());
    assert_eq!(s.planted_skipped.len(), PLANT_KINDS.len());
    assert!(s.planted_skipped.iter().all(|k| k.reason.contains("too short")));
    assert!(s.assets.iter().all(|a| a.ip != "10.99.0.66"));
    let (_, s) = gen(&SynthConfig { packets: 1000, plant: false, ..SynthConfig::default() });
    assert!(s.planted.is_empty() && s.planted_skipped.is_empty());
}

#[test]
fn packets_parse_with_valid_checksums_and_sane_sizes_and_times() {
    let (_, s, recs) = planted();
    let mut last = i64::MIN;
    let (mut tagged, mut qinq) = (0, 0);
    for r in recs {
        assert!(r.ts >= last, "timestamps go backwards");
        last = r.ts;
        assert!((60..=1514).contains(&r.data.len()), "frame of {} bytes", r.data.len());
        let p = parse(&r.data);
        tagged += usize::from(p.vlans >= 1);
        qinq += usize::from(p.vlans == 2);
    }
    assert_eq!(recs.first().map(|r| r.ts), Some(s.first_ts_ns));
    assert_eq!(recs.last().map(|r| r.ts), Some(s.last_ts_ns));
    assert!(s.first_ts_ns >= DEFAULT_START_NS);
    let n = recs.len();
    assert!(tagged > n / 5 && tagged < n * 9 / 10, "{tagged} tagged of {n}");
    assert!(qinq > 0 && qinq < n / 5, "{qinq} QinQ of {n}");
}

#[test]
fn duration_follows_the_configuration() {
    let (_, s, _) = planted();
    // 60k packets at the default pace: about 216 s.
    let span = (s.last_ts_ns - s.first_ts_ns) as f64 / SEC as f64;
    assert!((100.0..400.0).contains(&span), "span {span} s");
    let cfg =
        SynthConfig { packets: 20_000, duration_ns: 3600 * SEC, plant: false, ..SynthConfig::default() };
    let (_, s) = gen(&cfg);
    let span = (s.last_ts_ns - s.first_ts_ns) as f64 / SEC as f64;
    assert!((1800.0..7200.0).contains(&span), "span {span} s");
}

#[test]
fn traffic_mix_is_mostly_ot() {
    let (_, s, _) = planted();
    let c = |k: &str| s.packets_by_class.get(k).copied().unwrap_or(0);
    let ot = c("hsms") + c("modbus") + c("bacnet");
    assert!(ot * 100 >= s.packets * 55, "OT share {ot}/{}: {:?}", s.packets, s.packets_by_class);
    assert!(c("it") * 100 >= s.packets * 5, "IT share {:?}", s.packets_by_class);
    for k in [
        "hsms select.req",
        "hsms linktest.req",
        "hsms S1F1",
        "hsms S1F2",
        "hsms S1F3",
        "hsms S1F4",
        "hsms S1F13",
        "hsms S1F14",
        "hsms S2F41",
        "hsms S2F42",
        "hsms S2F37",
        "hsms S5F1",
        "hsms S6F11",
        "hsms S6F12",
        "hsms S7F3",
        "hsms S7F4",
        "hsms S7F19",
        "hsms S7F20",
        "modbus fc3 request",
        "modbus fc3 response",
        "modbus fc4 response",
        "modbus fc1 response",
        "modbus fc2 response",
        "modbus fc6 request",
        "modbus fc16 request",
        "modbus fc43/14 request",
        "modbus fc43/14 response",
        "modbus fc3 exception",
        "modbus fc8 request",
        "bacnet who-Is",
        "bacnet i-Am",
        "bacnet readProperty request",
        "bacnet readProperty complex-ack",
        "bacnet readPropertyMultiple complex-ack",
        "bacnet subscribeCOV simple-ack",
        "bacnet unconfirmedCOVNotification",
        "bacnet writeProperty simple-ack",
        "bacnet deviceCommunicationControl request",
        "dns query",
        "ntp request",
        "syslog",
        "smb request",
        "http request",
        "tls client",
        "telnet client",
    ] {
        assert!(s.messages.get(k).copied().unwrap_or(0) > 0, "no {k}: {:?}", s.messages);
    }
}

type FlowKey = ([u8; 4], u16, [u8; 4], u16);

/// Per direction of every TCP connection: the reassembled payload, checking seq/ack on the
/// way. Returns (stream bytes, saw SYN) per direction.
fn reassemble(recs: &[Rec]) -> HashMap<FlowKey, (Vec<u8>, bool)> {
    let mut next: HashMap<FlowKey, u32> = HashMap::new();
    let mut streams: HashMap<FlowKey, (Vec<u8>, bool)> = HashMap::new();
    let mut last_ack: HashMap<FlowKey, u32> = HashMap::new();
    for r in recs {
        let p = parse(&r.data);
        let Some((sp, dp, seq, ack, flags)) = p.tcp else {
            continue;
        };
        let key = (p.src, sp, p.dst, dp);
        let rev = (p.dst, dp, p.src, sp);
        if flags & 0x02 != 0 {
            next.insert(key, seq.wrapping_add(1));
            streams.insert(key, (Vec::new(), true));
            continue;
        }
        let exp = *next.entry(key).or_insert(seq);
        assert_eq!(seq, exp, "sequence gap in {key:?}");
        if flags & 0x10 != 0 {
            if let Some(peer) = next.get(&rev) {
                assert_eq!(ack, *peer, "ack does not match the peer's next sequence number in {key:?}");
            }
            // A pure ACK must acknowledge something new (no duplicate ACKs).
            let prev = last_ack.insert(key, ack);
            if p.payload.is_empty() && flags & 0x01 == 0 {
                assert_ne!(prev, Some(ack), "duplicate ACK in {key:?}");
            }
        }
        let st = streams.entry(key).or_insert_with(|| (Vec::new(), false));
        st.0.extend_from_slice(p.payload);
        let fin = u32::from(flags & 0x01 != 0);
        next.insert(key, seq.wrapping_add(p.payload.len() as u32).wrapping_add(fin));
    }
    streams
}

/// Splits a stream into length-prefixed frames; returns the frames and whether the stream
/// ends inside one (the capture cut it).
fn frames(stream: &[u8], prefix: usize, len_of: impl Fn(&[u8]) -> usize) -> (Vec<&[u8]>, bool) {
    let mut out = Vec::new();
    let mut off = 0;
    while off < stream.len() {
        if stream.len() - off < prefix {
            return (out, true);
        }
        let n = prefix + len_of(&stream[off..]);
        if off + n > stream.len() {
            return (out, true);
        }
        out.push(&stream[off..off + n]);
        off += n;
    }
    (out, false)
}

#[test]
fn tcp_streams_are_consistent_and_frame_into_messages() {
    let (_, s, recs) = planted();
    let hsms_ports: BTreeSet<u16> = s.assets.iter().filter_map(|a| a.hsms_port).collect();
    let streams = reassemble(recs);
    let (mut hsms_msgs, mut modbus_adus, mut truncated) = (0usize, 0usize, 0usize);
    let mut mid_stream = 0;
    for ((_, sp, _, dp), (bytes, syn)) in &streams {
        if bytes.is_empty() {
            continue;
        }
        mid_stream += usize::from(!syn);
        let port = if hsms_ports.contains(dp) { *dp } else { *sp };
        if (*sp == 502 || *dp == 502) && !bytes.is_empty() {
            let (fr, cut) = frames(bytes, 6, |b| usize::from(u16::from_be_bytes([b[4], b[5]])));
            truncated += usize::from(cut);
            for f in &fr {
                assert_eq!(&f[2..4], &[0, 0], "Modbus protocol id");
                assert!((2..=254).contains(&(f.len() - 6)), "MBAP length");
            }
            modbus_adus += fr.len();
        } else if hsms_ports.contains(&port) {
            let (fr, cut) = frames(bytes, 4, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
            truncated += usize::from(cut);
            for f in &fr {
                assert!(f.len() >= 14, "HSMS length >= 10");
                assert_eq!(f[8], 0, "PType");
                assert!([0u8, 1, 2, 5, 6, 9].contains(&f[9]), "SType {}", f[9]);
                if f[9] == 0 {
                    let stream = f[6] & 0x7F;
                    assert!((1..=10).contains(&stream), "stream {stream}");
                } else {
                    assert_eq!(&f[4..6], &[0xFF, 0xFF], "control session id");
                }
            }
            hsms_msgs += fr.len();
        }
    }
    assert!(hsms_msgs > 1000 && modbus_adus > 1000, "{hsms_msgs} HSMS messages, {modbus_adus} Modbus ADUs");
    // Only conversations still open at the end of the capture may stop inside a message.
    assert!(truncated <= 4, "{truncated} streams end inside a message");
    assert!(mid_stream > 5, "{mid_stream} directions seen without a SYN");
}

#[test]
fn hsms_segments_hold_several_messages_and_messages_span_segments() {
    let (_, s, recs) = planted();
    let hsms_ports: BTreeSet<u16> = s.assets.iter().filter_map(|a| a.hsms_port).collect();
    let (mut multi, mut prefix_only, mut big) = (0, 0, 0);
    for r in recs {
        let p = parse(&r.data);
        let Some((sp, dp, ..)) = p.tcp else { continue };
        if !(hsms_ports.contains(&sp) || hsms_ports.contains(&dp)) || p.payload.len() < 4 {
            continue;
        }
        if p.payload.len() == 4 {
            prefix_only += 1;
            continue;
        }
        let n = u32::from_be_bytes([p.payload[0], p.payload[1], p.payload[2], p.payload[3]]) as usize;
        if n + 4 < p.payload.len() {
            multi += 1;
        } else if n + 4 > p.payload.len() {
            big += 1;
        }
    }
    assert!(multi > 10, "{multi} segments with several messages");
    assert!(prefix_only > 10, "{prefix_only} segments with only a length prefix");
    assert!(big > 10, "{big} messages longer than their first segment");
}

fn hsms_header(payload: &[u8]) -> Option<(u8, u8, bool, u8)> {
    (payload.len() >= 14).then(|| (payload[6] & 0x7F, payload[7], payload[6] & 0x80 != 0, payload[9]))
}

#[test]
fn planted_frames_carry_the_described_traffic() {
    let (_, s, recs) = planted();
    let kinds: BTreeSet<&str> = s.planted.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(kinds, PLANT_KINDS.iter().copied().collect(), "skipped: {:?}", s.planted_skipped);
    assert!(s.planted_skipped.is_empty());
    let ip = |s: &str| -> [u8; 4] {
        let v: Vec<u8> = s.split('.').map(|x| x.parse().unwrap()).collect();
        [v[0], v[1], v[2], v[3]]
    };
    for d in &s.planted {
        assert!(!d.frames.is_empty(), "{}", d.kind);
        let (src, dst) = (ip(&d.src), ip(&d.dst));
        let pk: Vec<(i64, P<'_>)> = d
            .frames
            .iter()
            .map(|f| {
                let r = &recs[(*f - 1) as usize];
                (r.ts, parse(&r.data))
            })
            .collect();
        for (_, p) in &pk {
            assert!(
                (p.src == src && p.dst == dst) || (p.src == dst && p.dst == src),
                "{}: frame between other hosts",
                d.kind
            );
        }
        let from_src = |p: &P<'_>| p.src == src;
        let any = |f: &dyn Fn(&P<'_>) -> bool| pk.iter().any(|(_, p)| f(p));
        match d.kind.as_str() {
            "rogue_hsms_session" => {
                assert_eq!(pk[0].1.tcp.map(|t| t.4 & 0x02), Some(0x02), "starts with the SYN");
                assert!(
                    any(&|p| from_src(p) && hsms_header(p.payload).is_some_and(|h| h.3 == 1)),
                    "Select.req"
                );
            }
            "rogue_remote_command" => {
                assert!(any(&|p| from_src(p) && hsms_header(p.payload) == Some((2, 41, true, 0))));
                assert!(any(&|p| !from_src(p) && hsms_header(p.payload) == Some((2, 42, false, 0))));
            }
            "rogue_recipe_download" => {
                assert_eq!(hsms_header(pk[0].1.payload), Some((7, 3, true, 0)));
                assert!(pk.len() > 10, "the recipe spans many segments");
            }
            "events_disabled" => {
                let p = &pk[0].1;
                assert_eq!(hsms_header(p.payload), Some((2, 37, true, 0)));
                // L,2 <Boolean false> L,0
                assert_eq!(&p.payload[14..20], &[0x01, 0x02, 0x25, 0x01, 0x00, 0x01]);
            }
            "softrev_changed" => {
                let tool = s.assets.iter().find(|a| a.ip == d.src).unwrap();
                let new = tool.softrev_after.as_deref().unwrap();
                assert_ne!(Some(new), tool.softrev.as_deref());
                let has = |p: &P<'_>| p.payload.windows(new.len()).any(|w| w == new.as_bytes());
                assert!(any(&|p| from_src(p)
                    && hsms_header(p.payload).is_some_and(|h| h.0 == 1 && h.1 == 14)
                    && has(p)));
                assert!(any(
                    &|p| !from_src(p) && hsms_header(p.payload).is_some_and(|h| h.0 == 1 && h.1 == 13)
                ));
            }
            "modbus_unexpected_write" => {
                assert!(any(&|p| from_src(p) && p.payload.get(7) == Some(&6)));
            }
            "modbus_force_listen_only" => {
                assert!(any(&|p| from_src(p) && p.payload.get(7..10) == Some(&[8, 0, 4])));
                assert!(!any(&|p| !from_src(p) && !p.payload.is_empty()), "no response");
            }
            "conduit_violation" => {
                assert_eq!(src[..2], [10, 50]);
                assert_eq!(pk[0].1.tcp.map(|t| (t.1, t.4 & 0x02)), Some((502, 0x02)));
            }
            "telnet_to_tool" => {
                assert_eq!(pk[0].1.tcp.map(|t| (t.1, t.4 & 0x02)), Some((23, 0x02)));
                assert!(any(&|p| p.payload.windows(6).any(|w| w == b"login:")));
            }
            "bacnet_dcc_disable" => {
                // BVLC(4) NPDU(2) then confirmed request: service choice at APDU offset 3.
                assert!(any(&|p| from_src(p)
                    && p.payload.get(6) == Some(&0)
                    && p.payload.get(9) == Some(&17)));
            }
            "bacnet_unexpected_write" => {
                assert!(any(&|p| from_src(p)
                    && p.payload.get(6) == Some(&0)
                    && p.payload.get(9) == Some(&15)));
            }
            "bacnet_whois_flood" => {
                assert!((190..=210).contains(&pk.len()), "{} Who-Is", pk.len());
                assert!(pk.iter().all(|(_, p)| p.payload.get(6..8) == Some(&[0x10, 0x08])));
                let span = pk.last().unwrap().0 - pk[0].0;
                assert!(span < 10 * SEC, "flood spans {span} ns");
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    // Planted hosts are listed as assets.
    for ip in ["10.99.0.66", "10.30.0.77", "10.10.9.23", "10.40.9.50", "10.50.20.37"] {
        assert!(s.assets.iter().any(|a| a.ip == ip), "{ip} not in assets");
    }
}

#[test]
fn advisory_identities_reach_the_wire() {
    let cfg = SynthConfig {
        packets: 3_000,
        identities: SynthIdentities::with_advisory_matches(),
        plant: false,
        ..SynthConfig::default()
    };
    let (b, s) = gen(&cfg);
    assert!(b.windows(12).any(|w| w == b"BMX P34 2020"));
    assert!(b.windows(7).any(|w| w == b"PXC22.D"));
    let m340 = s.assets.iter().find(|a| a.product_code.as_deref() == Some("BMX P34 2020")).unwrap();
    assert_eq!(m340.revision.as_deref(), Some("v3.20"));
    assert_eq!(m340.level, "L1");
}
