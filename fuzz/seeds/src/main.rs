//! Builds the seed corpora of the fuzz targets from captures.
//!
//! Usage: `fabmon-fuzz-seeds OUT_DIR CAPTURE...` writes `OUT_DIR/TARGET/CAPTURE-N` for the
//! targets `hsms`, `modbus`, `bacnet`, `packet` and `pcapfile`, each in the input layout that
//! its target documents at the top of `fuzz/fuzz_targets/TARGET.rs`:
//!
//! - decoder targets: the payloads of each flow of that protocol (as fabmon detects it), in
//!   capture order with retransmitted bytes dropped, cut into windows of a few kilobytes;
//! - `packet`: windows of consecutive packets of a capture;
//! - `pcapfile`: the capture itself when small, otherwise its header (pcap) or leading section
//!   and interface blocks (pcapng) followed by a window of records.
//!
//! Seeds stay small: libFuzzer grows inputs itself, and short inputs keep each run fast.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use fabmon_sensor::app::{self, AppProto, Detect, DetectConfig, Dir, Endpoint, Transport};
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::capture::{Next, PacketSource};
use fabmon_sensor::dissect::{self, tcp_flags, L4};

/// Largest seed, in bytes (a single record above it is cut).
const SEED_BYTES: usize = 4096;
/// Packets read from one capture.
const MAX_PACKETS: usize = 100_000;
/// Payload bytes kept per flow.
const MAX_FLOW_BYTES: usize = 256 << 10;
/// Seeds written per capture for `packet` (spread over the capture), a third of it for
/// `pcapfile`, and the most kept per capture for each decoder target.
const SEEDS_PER_CAPTURE: usize = 24;
const DECODER_SEEDS_PER_CAPTURE: usize = 64;
/// Windows taken from one flow, spread over the flow.
const WINDOWS_PER_FLOW: usize = 32;
/// Link types in the order of `LINKS` in `fuzz_targets/packet.rs` (the index is the
/// selector in the first byte of a `packet` input).
const PACKET_LINKS: [u32; 7] = [1, 101, 113, 276, 0, 108, 229];
/// Server ports when a flow starts without a handshake.
const KNOWN_PORTS: [u16; 2] = [502, 5000];

const TARGETS: [&str; 5] = ["hsms", "modbus", "bacnet", "packet", "pcapfile"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, captures)) = args.split_first() else {
        eprintln!("usage: fabmon-fuzz-seeds OUT_DIR CAPTURE...");
        std::process::exit(2);
    };
    let mut seeds = Seeds::new(PathBuf::from(out));
    for path in captures {
        if let Err(e) = seeds.add_capture(path) {
            eprintln!("fuzz seeds: {path}: {e} (skipped)");
        }
    }
    match seeds.write() {
        Ok(counts) => {
            for (t, n) in counts {
                println!("{t}: {n} seeds");
            }
        }
        Err(e) => {
            eprintln!("fuzz seeds: writing {out}: {e}");
            std::process::exit(1);
        }
    }
}

struct Seeds {
    out: PathBuf,
    /// Target → (name, bytes).
    by_target: BTreeMap<&'static str, Vec<(String, Vec<u8>)>>,
}

/// One packet of a capture, copied out of the source.
struct Pkt {
    ts_ns: i64,
    link: u32,
    data: Vec<u8>,
}

/// The payloads of one flow, in capture order.
struct FlowSegs {
    transport: Transport,
    client: Endpoint,
    server: Endpoint,
    from_syn: bool,
    /// Next expected TCP sequence number per direction.
    next_seq: [Option<u32>; 2],
    segs: Vec<(Dir, Vec<u8>)>,
    bytes: usize,
}

type FlowKey = (Transport, (IpAddr, u16), (IpAddr, u16));

fn flow_key(transport: Transport, a: Endpoint, b: Endpoint) -> FlowKey {
    let (a, b) = ((a.ip, a.port), (b.ip, b.port));
    if a <= b {
        (transport, a, b)
    } else {
        (transport, b, a)
    }
}

impl Seeds {
    fn new(out: PathBuf) -> Seeds {
        Seeds { out, by_target: TARGETS.iter().map(|t| (*t, Vec::new())).collect() }
    }

    fn push(&mut self, target: &'static str, name: String, bytes: Vec<u8>) {
        if let Some(v) = self.by_target.get_mut(target) {
            v.push((name, bytes));
        }
    }

    fn add_capture(&mut self, path: &str) -> Result<(), String> {
        let stem = Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "capture".into());
        let raw = std::fs::read(path).map_err(|e| e.to_string())?;
        for (i, cut) in pcap_cuts(&raw).into_iter().enumerate() {
            self.push("pcapfile", format!("{stem}-{i:03}"), cut);
        }

        let mut source = FileSource::open(path).map_err(|e| e.to_string())?;
        let mut pkts = Vec::new();
        while pkts.len() < MAX_PACKETS {
            match source.next_packet() {
                Ok(Next::Packet(p)) => {
                    pkts.push(Pkt { ts_ns: p.ts_ns, link: p.link.0, data: p.data.to_vec() })
                }
                Ok(Next::Idle) => {}
                Ok(Next::End) | Err(_) => break,
            }
        }
        for (i, seed) in packet_seeds(&pkts).into_iter().enumerate() {
            self.push("packet", format!("{stem}-{i:03}"), seed);
        }

        let cfg = DetectConfig::default();
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for flow in flows(&pkts) {
            let Some((target, seeds)) = decoder_seeds(&cfg, &flow) else { continue };
            for seed in seeds {
                let n = counts.entry(target).or_default();
                if *n < DECODER_SEEDS_PER_CAPTURE {
                    self.push(target, format!("{stem}-{n:03}"), seed);
                }
                *n += 1;
            }
        }
        Ok(())
    }

    /// Writes every target's seeds (identical contents once). Returns the count per target.
    fn write(&self) -> std::io::Result<Vec<(&'static str, usize)>> {
        let mut counts = Vec::new();
        for (target, seeds) in &self.by_target {
            let dir = self.out.join(target);
            std::fs::create_dir_all(&dir)?;
            let mut seen = HashSet::new();
            for (name, bytes) in seeds {
                if seen.insert(bytes.as_slice()) {
                    std::fs::write(dir.join(name), bytes)?;
                }
            }
            counts.push((*target, seen.len()));
        }
        Ok(counts)
    }
}

/// Up to `n` indices spread evenly over `0..len`.
fn spread(len: usize, n: usize) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// Groups consecutive units into windows of at most `max_units` units and `SEED_BYTES` bytes
/// (a window holds at least one unit). Returns the ranges.
fn windows(sizes: &[usize], max_units: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < sizes.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < sizes.len()
            && end - start < max_units
            && (end == start || bytes + sizes[end] <= SEED_BYTES)
        {
            bytes += sizes[end];
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// Time-step code of `packet.rs` closest to `delta` nanoseconds.
fn time_code(delta: i64) -> u8 {
    match delta {
        ..=0 => 0,
        1..=499_999 => 1,
        500_000..=49_999_999 => 2,
        50_000_000..=999_999_999 => 3,
        1_000_000_000..=2_499_999_999 => 4,
        2_500_000_000..=6_999_999_999 => 5,
        7_000_000_000..=299_999_999_999 => 6,
        _ => 7,
    }
}

fn packet_seeds(pkts: &[Pkt]) -> Vec<Vec<u8>> {
    let Some(first) = pkts.first() else { return Vec::new() };
    let Some(sel) = PACKET_LINKS.iter().position(|l| *l == first.link) else { return Vec::new() };
    // Packets of one link type only (pcapng files may mix interfaces).
    let pkts: Vec<&Pkt> = pkts.iter().filter(|p| p.link == first.link).collect();
    let sizes: Vec<usize> = pkts.iter().map(|p| p.data.len().min(SEED_BYTES) + 3).collect();
    let all = windows(&sizes, 32);
    spread(all.len(), SEEDS_PER_CAPTURE)
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            // Every other seed also declares port 5000 as an HSMS port.
            let mut seed = vec![sel as u8 | if i % 2 == 1 { 8 } else { 0 }];
            let mut prev = None;
            for p in &pkts[all[w].clone()] {
                let data = &p.data[..p.data.len().min(SEED_BYTES)];
                seed.push(prev.map_or(0, |t| time_code(p.ts_ns.saturating_sub(t))));
                seed.extend_from_slice(&(data.len() as u16).to_be_bytes());
                seed.extend_from_slice(data);
                prev = Some(p.ts_ns);
            }
            seed
        })
        .collect()
}

/// The TCP and UDP flows of a capture with their payloads.
fn flows(pkts: &[Pkt]) -> Vec<FlowSegs> {
    let mut order = Vec::new();
    let mut table: HashMap<FlowKey, FlowSegs> = HashMap::new();
    for p in pkts {
        let Ok(d) = dissect::dissect(fabmon_sensor::capture::LinkType(p.link), &p.data) else { continue };
        let (transport, sport, dport, payload, seq, flags) = match d.l4 {
            L4::Tcp(s) => (Transport::Tcp, s.sport, s.dport, s.payload, s.seq, s.flags),
            L4::Udp { sport, dport, payload, .. } => (Transport::Udp, sport, dport, payload, 0, 0),
            L4::Other { .. } => continue,
        };
        let src = Endpoint { ip: d.src, port: sport };
        let dst = Endpoint { ip: d.dst, port: dport };
        let key = flow_key(transport, src, dst);
        let flow = table.entry(key).or_insert_with(|| {
            order.push(key);
            let syn = flags & (tcp_flags::SYN | tcp_flags::ACK);
            let (client, server, from_syn) = if syn == tcp_flags::SYN {
                (src, dst, true)
            } else if syn == tcp_flags::SYN | tcp_flags::ACK {
                (dst, src, true)
            } else if KNOWN_PORTS.contains(&dport) || (!KNOWN_PORTS.contains(&sport) && sport >= dport) {
                (src, dst, false)
            } else {
                (dst, src, false)
            };
            FlowSegs { transport, client, server, from_syn, next_seq: [None; 2], segs: Vec::new(), bytes: 0 }
        });
        let dir = if src == flow.client { Dir::ToServer } else { Dir::ToClient };
        let mut payload = payload;
        if transport == Transport::Tcp {
            let next = &mut flow.next_seq[dir.index()];
            if flags & tcp_flags::SYN != 0 {
                *next = Some(seq.wrapping_add(1));
            }
            if let Some(n) = *next {
                // Bytes before the expected sequence number were seen already.
                let behind = n.wrapping_sub(seq) as i32;
                if behind > 0 {
                    payload = payload.get(behind as usize..).unwrap_or(&[]);
                }
            }
            if !payload.is_empty() {
                let end = seq.wrapping_add(payload.len() as u32);
                *next = Some(match *next {
                    Some(n) if (end.wrapping_sub(n) as i32) < 0 => n,
                    _ => end,
                });
            }
        }
        if payload.is_empty() || flow.bytes >= MAX_FLOW_BYTES {
            continue;
        }
        flow.bytes += payload.len();
        flow.segs.push((dir, payload.to_vec()));
    }
    order.into_iter().filter_map(|k| table.remove(&k)).collect()
}

/// The protocol of a flow (as the engine detects it) and its seeds for that decoder's target.
fn decoder_seeds(cfg: &DetectConfig, f: &FlowSegs) -> Option<(&'static str, Vec<Vec<u8>>)> {
    let (first_dir, first) = f.segs.first()?;
    let detected = match f.transport {
        Transport::Tcp => {
            // Detection looks at the first bytes of one direction, which may come in pieces.
            let mut head = Vec::new();
            for (_, b) in f.segs.iter().filter(|(d, _)| d == first_dir) {
                if head.len() >= 64 {
                    break;
                }
                head.extend_from_slice(b);
            }
            app::detect_tcp(cfg, f.client.port, f.server.port, &head)
        }
        Transport::Udp => app::detect_udp(cfg, f.client.port, f.server.port, first),
    };
    let dir_bit = |d: Dir| u8::from(d == Dir::ToClient);
    // Pieces of at most 127 bytes, for the layouts whose control byte holds 7 bits of length.
    let pieces = || -> Vec<(Dir, &[u8])> {
        f.segs.iter().flat_map(|(d, b)| b.chunks(127).map(move |c| (*d, c))).collect()
    };
    match detected {
        Detect::Proto(AppProto::Hsms) => {
            let pieces = pieces();
            let sizes: Vec<usize> = pieces.iter().map(|(_, b)| b.len() + 1).collect();
            let seeds = pick(windows(&sizes, usize::MAX), |r| {
                let mut s = Vec::new();
                for (d, b) in &pieces[r] {
                    s.push(((b.len() as u8) << 1) | dir_bit(*d));
                    s.extend_from_slice(b);
                }
                s
            });
            Some(("hsms", seeds))
        }
        Detect::Proto(AppProto::Modbus) => {
            let pieces = pieces();
            let sizes: Vec<usize> = pieces.iter().map(|(_, b)| b.len() + 1).collect();
            let seeds = pick(windows(&sizes, 15), |r| {
                // Bit 0 of the flags: the flow was picked up mid-stream.
                let midstream = u8::from(!(f.from_syn && r.start == 0));
                let mut s = vec![((r.len() as u8) << 4) | midstream];
                for (d, b) in &pieces[r.clone()] {
                    s.push((dir_bit(*d) << 7) | b.len() as u8);
                }
                for (_, b) in &pieces[r] {
                    s.extend_from_slice(b);
                }
                s
            });
            Some(("modbus", seeds))
        }
        Detect::Proto(AppProto::Bacnet) => {
            let sizes: Vec<usize> = f.segs.iter().map(|(_, b)| b.len().min(SEED_BYTES) + 3).collect();
            let seeds = pick(windows(&sizes, 64), |r| {
                let mut s = Vec::new();
                for (d, b) in &f.segs[r] {
                    let b = &b[..b.len().min(SEED_BYTES)];
                    s.push(dir_bit(*d));
                    s.extend_from_slice(&(b.len() as u16).to_be_bytes());
                    s.extend_from_slice(b);
                }
                s
            });
            Some(("bacnet", seeds))
        }
        Detect::NeedMore | Detect::Other => None,
    }
}

/// Encodes up to `WINDOWS_PER_FLOW` windows spread over the flow (always its start).
fn pick(
    all: Vec<std::ops::Range<usize>>,
    encode: impl Fn(std::ops::Range<usize>) -> Vec<u8>,
) -> Vec<Vec<u8>> {
    spread(all.len(), WINDOWS_PER_FLOW).into_iter().map(|i| encode(all[i].clone())).collect()
}

/// The capture itself when small, otherwise windows of its records behind its header.
fn pcap_cuts(raw: &[u8]) -> Vec<Vec<u8>> {
    if raw.len() <= 2 * SEED_BYTES {
        return vec![raw.to_vec()];
    }
    let Some(magic) = raw.get(..4) else { return Vec::new() };
    let u32_at = |at: usize, be: bool| -> Option<usize> {
        let b: [u8; 4] = raw.get(at..at + 4)?.try_into().ok()?;
        Some(if be { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) } as usize)
    };
    // (header, record ranges)
    let mut records = Vec::new();
    let header_end;
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        // pcapng: the leading section header and interface blocks form the header.
        let be = raw.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d][..]);
        let mut at = 0;
        let mut head = None;
        while let (Some(kind), Some(len)) = (u32_at(at, be), u32_at(at + 4, be)) {
            if len < 12 || at + len > raw.len() || (at > 0 && kind == 0x0a0d_0d0a) {
                break;
            }
            if head.is_none() && matches!(kind, 2 | 3 | 6) {
                head = Some(at);
            }
            if head.is_some() {
                records.push(at..at + len);
            }
            at += len;
        }
        header_end = head.unwrap_or(at);
    } else {
        let be = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] | [0x34, 0xcd, 0xb2, 0xa1] => false,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] | [0xa1, 0xb2, 0xcd, 0x34] => true,
            _ => return vec![raw[..2 * SEED_BYTES].to_vec()],
        };
        let hdr = if magic.contains(&0xcd) { 24 } else { 16 };
        let mut at = 24;
        while let Some(caplen) = u32_at(at + 8, be) {
            if at + hdr + caplen > raw.len() {
                break;
            }
            records.push(at..at + hdr + caplen);
            at += hdr + caplen;
        }
        header_end = 24;
    }
    let sizes: Vec<usize> = records.iter().map(|r| r.len()).collect();
    let all = windows(&sizes, usize::MAX);
    spread(all.len(), SEEDS_PER_CAPTURE / 3)
        .into_iter()
        .map(|i| {
            let w = all[i].clone();
            let mut s = raw[..header_end].to_vec();
            if let (Some(a), Some(b)) = (records.get(w.start), records.get(w.end - 1)) {
                s.extend_from_slice(&raw[a.start..b.end]);
            }
            s
        })
        .collect()
}
