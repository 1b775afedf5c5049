//! Inputs shared by the benches: a `fabmon synth` capture generated in memory, its packets laid
//! out flat, and the TCP payloads of its HSMS and Modbus connections.

// Bench setup fails loudly on purpose: a bench without its input measures nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use fabmon_sensor::app::{self, Detect, DetectConfig, Dir, Endpoint, FlowInfo, Transport};
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::capture::{LinkType, Next, Packet, PacketSource};
use fabmon_sensor::dissect::{dissect, tcp_flags, L4};
use fabmon_sensor::synth::{generate, SynthConfig};

/// Packets in the bench capture: large enough for flows to reach steady state (the synth mix
/// is paced at one hour per million packets), small enough for short iterations.
pub const BENCH_PACKETS: u64 = 200_000;

/// Short runs: `cargo bench -p fabmon-sensor` should take a few minutes in all.
pub fn configure<M: criterion::measurement::Measurement>(g: &mut criterion::BenchmarkGroup<'_, M>) {
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
}

/// A `fabmon synth` capture (classic pcap, Ethernet), as the bytes of the file.
pub fn synth_capture(packets: u64) -> Vec<u8> {
    let cfg = SynthConfig { packets, seed: 1, ..SynthConfig::default() };
    let mut out = Vec::new();
    generate(&cfg, &mut out).unwrap();
    out
}

/// Every packet of a capture, copied once into one buffer.
pub struct Packets {
    pub data: Vec<u8>,
    /// (start, end, ts_ns, orig_len, link) per packet.
    pub index: Vec<(usize, usize, i64, u32, LinkType)>,
}

impl Packets {
    pub fn from_capture(bytes: &[u8]) -> Packets {
        let mut src =
            FileSource::from_reader("bench", Box::new(std::io::Cursor::new(bytes.to_vec()))).unwrap();
        let mut p = Packets { data: Vec::with_capacity(bytes.len()), index: Vec::new() };
        while let Next::Packet(pk) = src.next_packet().unwrap() {
            let start = p.data.len();
            p.data.extend_from_slice(pk.data);
            p.index.push((start, p.data.len(), pk.ts_ns, pk.orig_len, pk.link));
        }
        p
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn bytes(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn iter(&self) -> impl Iterator<Item = Packet<'_>> {
        self.index.iter().map(|&(s, e, ts_ns, orig_len, link)| Packet {
            ts_ns,
            link,
            data: &self.data[s..e],
            orig_len,
        })
    }
}

/// The payload segments of one TCP connection, in capture order, with their direction.
pub struct Conversation {
    pub flow: FlowInfo,
    pub segments: Vec<(Dir, Vec<u8>)>,
}

impl Conversation {
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|(_, s)| s.len() as u64).sum()
    }

    pub fn as_segments(&self) -> Vec<(Dir, &[u8])> {
        self.segments.iter().map(|(d, s)| (*d, s.as_slice())).collect()
    }
}

/// The TCP connections of a capture that carry `proto` (decided as the engine does: by port,
/// else by the first client bytes). Roles come from the SYN, else the known port.
pub fn conversations(pk: &Packets, proto: app::AppProto) -> Vec<Conversation> {
    let detect = DetectConfig::default();
    let mut by_key: HashMap<(Endpoint, Endpoint), usize> = HashMap::new();
    let mut convs: Vec<Conversation> = Vec::new();
    for p in pk.iter() {
        let Ok(d) = dissect(p.link, p.data) else { continue };
        let L4::Tcp(t) = d.l4 else { continue };
        let src = Endpoint { ip: d.src, port: t.sport };
        let dst = Endpoint { ip: d.dst, port: t.dport };
        let key = if (src.ip, src.port) <= (dst.ip, dst.port) { (src, dst) } else { (dst, src) };
        let i = *by_key.entry(key).or_insert_with(|| {
            let syn_only = t.flags & tcp_flags::SYN != 0 && t.flags & tcp_flags::ACK == 0;
            let server_is_dst = syn_only || detect.modbus_ports.contains(&t.dport) || t.dport < t.sport;
            let (client, server) = if server_is_dst { (src, dst) } else { (dst, src) };
            let flow = FlowInfo {
                id: convs.len() as u64,
                transport: Transport::Tcp,
                client,
                server,
                vlan: d.vlan,
                roles_from_syn: syn_only,
            };
            convs.push(Conversation { flow, segments: Vec::new() });
            convs.len() - 1
        });
        if !t.payload.is_empty() {
            let dir = if src == convs[i].flow.client { Dir::ToServer } else { Dir::ToClient };
            convs[i].segments.push((dir, t.payload.to_vec()));
        }
    }
    convs
        .into_iter()
        .filter(|c| {
            let first = c.segments.first().map(|(_, s)| s.as_slice()).unwrap_or(&[]);
            app::detect_tcp(&detect, c.flow.client.port, c.flow.server.port, first) == Detect::Proto(proto)
        })
        .collect()
}
