//! Each decoder on its own, on the TCP payloads of the HSMS and Modbus connections of a
//! `fabmon synth` capture, fed with stream semantics by `app::drive::run` (framing, item
//! decoding, pairing, records: `decoder/*`), and the pure frame parsers alone on the same
//! bytes (`parse/*`). Throughput is in payload bytes per second.
//!
//! `cargo bench -p fabmon-sensor --bench decoders`.

// Bench setup fails loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fabmon_sensor::app::{drive, new_parser, AppLimits, AppProto, Dir};
use fabmon_sensor::hsms::frame::parse_frame;
use fabmon_sensor::hsms::secs2::parse_secs2;
use fabmon_sensor::modbus::parser::parse_adu;
use fabmon_sensor::modbus::Role;

use common::{configure, conversations, synth_capture, Conversation, Packets, BENCH_PACKETS};

/// Runs every conversation through a fresh parser of `proto`; returns the events.
fn decode_all(convs: &[Conversation], segs: &[Vec<(Dir, &[u8])>], proto: AppProto) -> usize {
    let limits = AppLimits::default();
    let mut n = 0;
    for (c, s) in convs.iter().zip(segs) {
        let mut p = new_parser(proto);
        n += drive::run(p.as_mut(), &c.flow, &limits, s).len();
    }
    n
}

/// The whole messages of each direction's byte stream, concatenated per direction.
fn streams(convs: &[Conversation]) -> Vec<(Dir, Vec<u8>)> {
    let mut out = Vec::new();
    for c in convs {
        for dir in [Dir::ToServer, Dir::ToClient] {
            let s: Vec<u8> =
                c.segments.iter().filter(|(d, _)| *d == dir).flat_map(|(_, b)| b.iter().copied()).collect();
            out.push((dir, s));
        }
    }
    out
}

fn decoders(c: &mut Criterion) {
    let pk = Packets::from_capture(&synth_capture(BENCH_PACKETS));
    for proto in [AppProto::Hsms, AppProto::Modbus] {
        let convs = conversations(&pk, proto);
        assert!(!convs.is_empty(), "the synth capture has no {} connection", proto.name());
        let bytes: u64 = convs.iter().map(Conversation::bytes).sum();
        let segs: Vec<Vec<(Dir, &[u8])>> = convs.iter().map(Conversation::as_segments).collect();
        let mut g = c.benchmark_group("decoder");
        configure(&mut g);
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(proto.name(), |b| b.iter(|| black_box(decode_all(&convs, &segs, proto))));
        g.finish();

        // Frame parsers alone: walk each direction's stream message by message, stopping at
        // the first byte that does not frame (a stream picked up mid-message).
        let streams = streams(&convs);
        let mut g = c.benchmark_group("parse");
        configure(&mut g);
        g.throughput(Throughput::Bytes(streams.iter().map(|(_, s)| s.len() as u64).sum()));
        match proto {
            AppProto::Hsms => {
                g.bench_function("hsms_frame_secs2", |b| {
                    let mut items = Vec::new();
                    b.iter(|| {
                        let mut n = 0usize;
                        for (_, s) in &streams {
                            let mut rest = s.as_slice();
                            while let Ok((f, used)) = parse_frame(rest, 16 << 20) {
                                if parse_secs2(f.body, 64, 100_000, &mut items).is_ok() {
                                    n += items.len();
                                }
                                rest = &rest[used..];
                            }
                        }
                        black_box(n)
                    })
                });
            }
            AppProto::Modbus => {
                g.bench_function("modbus_adu", |b| {
                    b.iter(|| {
                        let mut n = 0usize;
                        for (dir, s) in &streams {
                            let role = if *dir == Dir::ToServer { Role::Request } else { Role::Response };
                            let mut rest = s.as_slice();
                            while let Ok((_, used)) = parse_adu(rest, role) {
                                n += 1;
                                rest = &rest[used..];
                            }
                        }
                        black_box(n)
                    })
                });
            }
            AppProto::Bacnet => {}
        }
        g.finish();
    }
}

criterion_group!(benches, decoders);
criterion_main!(benches);
