//! The packet path stage by stage, on a `fabmon synth` capture held in memory:
//!
//! - `read`: pcap records from a memory-mapped file and from a stream buffer;
//! - `dissect`: L2–L4 of every packet;
//! - `engine`: dissect, flows and TCP reassembly with the decoders off (the foundation stage),
//!   then with the decoders on.
//!
//! Throughput is in packets per second. `cargo bench -p fabmon-sensor --bench packet_path`.

// Bench setup fails loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::capture::{Next, PacketSource};
use fabmon_sensor::dissect::dissect;
use fabmon_sensor::engine::{Engine, EngineConfig};

use common::{configure, synth_capture, Packets, BENCH_PACKETS};

/// Reads every record of `src`; returns (packets, bytes) so nothing is optimised away.
fn read_all(src: &mut FileSource) -> (u64, u64) {
    let (mut n, mut b) = (0u64, 0u64);
    while let Ok(Next::Packet(p)) = src.next_packet() {
        n += 1;
        b += p.data.len() as u64;
    }
    (n, b)
}

fn read(c: &mut Criterion) {
    let cap = synth_capture(BENCH_PACKETS);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&cap).unwrap();
    file.flush().unwrap();
    let path = file.path().to_str().unwrap().to_string();

    let mut g = c.benchmark_group("read");
    configure(&mut g);
    g.throughput(Throughput::Elements(BENCH_PACKETS));
    g.bench_function("pcap_mmap", |b| {
        b.iter(|| {
            let mut src = FileSource::open(&path).unwrap();
            black_box(read_all(&mut src))
        })
    });
    g.bench_function("pcap_stream", |b| {
        b.iter_batched(
            || cap.clone(),
            |bytes| {
                let mut src =
                    FileSource::from_reader("bench", Box::new(std::io::Cursor::new(bytes))).unwrap();
                black_box(read_all(&mut src))
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn dissect_packets(c: &mut Criterion) {
    let pk = Packets::from_capture(&synth_capture(BENCH_PACKETS));
    let mut g = c.benchmark_group("dissect");
    configure(&mut g);
    g.throughput(Throughput::Elements(pk.len() as u64));
    g.bench_function("synth_mix", |b| {
        b.iter(|| {
            let mut ok = 0u64;
            for p in pk.iter() {
                if black_box(dissect(p.link, p.data)).is_ok() {
                    ok += 1;
                }
            }
            ok
        })
    });
    g.finish();
}

/// Runs every packet through a fresh engine and closes its flows; returns the events.
fn run_engine(pk: &Packets, cfg: &EngineConfig) -> usize {
    let mut e = Engine::new(cfg.clone());
    let mut frame = 0u64;
    let mut last_ts = 0;
    let mut events = Vec::new();
    for p in pk.iter() {
        frame += 1;
        last_ts = p.ts_ns;
        e.process(frame, &p);
        if frame % 4096 == 0 {
            e.drain_events(&mut events);
            events.clear();
        }
    }
    e.finish(frame, last_ts);
    e.drain_events(&mut events);
    events.len()
}

fn engine(c: &mut Criterion) {
    let pk = Packets::from_capture(&synth_capture(BENCH_PACKETS));
    let mut g = c.benchmark_group("engine");
    configure(&mut g);
    g.throughput(Throughput::Elements(pk.len() as u64));
    let mut off = EngineConfig::with_defaults();
    off.decoders_off = true;
    g.bench_function("decoders_off", |b| b.iter(|| black_box(run_engine(&pk, &off))));
    let on = EngineConfig::with_defaults();
    g.bench_function("decoders_on", |b| b.iter(|| black_box(run_engine(&pk, &on))));
    g.finish();
}

criterion_group!(benches, read, dissect_packets, engine);
criterion_main!(benches);
