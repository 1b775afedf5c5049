#![no_main]
//! Fuzz target: the HSMS decoder (E37 framing, SECS-II, GEM, pairing state).
//!
//! The input is a script: each chunk starts with a control byte (bit 0: direction, bits 1..:
//! chunk length), the bytes follow. Chunks are fed with real stream semantics through
//! `app::drive::run`, with small limits so that the caps, eviction and oversize paths are
//! reached. The pure functions are also called on the raw input. Seeds: the HSMS payloads of
//! `../shared/corpus/secsgem/captures/*.pcap`.

use fabmon_sensor::app::drive::{run, test_flow};
use fabmon_sensor::app::{AppLimits, Dir, Transport};
use fabmon_sensor::hsms::{frame, secs2, HsmsParser};
use fabmon_sensor::record::{Event, OtBody};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Pure functions on the raw bytes.
    let _ = frame::probe(data);
    let _ = frame::parse_frame(data, 1 << 16);
    let mut items = Vec::new();
    let _ = secs2::parse_secs2(data, 64, 1000, &mut items);
    let _ = secs2::render_sml(data, data.len().saturating_add(7), 64, 512);

    // The stateful parser over a scripted, split, two-way stream.
    let mut segs: Vec<(Dir, &[u8])> = Vec::new();
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 { Dir::ToServer } else { Dir::ToClient };
        let n = usize::from(ctl >> 1).min(tail.len());
        let (seg, after) = tail.split_at(n);
        segs.push((dir, seg));
        rest = after;
    }
    let limits = AppLimits {
        max_message_bytes: 4096,
        max_secs2_depth: 16,
        max_secs2_items: 256,
        max_pending_per_flow: 4,
        hsms_t3_ns: 3_000_000,
        max_values_kept: 4,
        ..AppLimits::default()
    };
    let flow = test_flow(Transport::Tcp, 5000);
    let events = run(&mut HsmsParser::new(), &flow, &limits, &segs);
    // Serialising renders the SML and the summary: they must not panic either.
    for e in &events {
        if let Event::Message(m) = e {
            let _ = m.body.summary();
            if let OtBody::Hsms(r) = &m.body {
                if let Some(sml) = &r.sml {
                    let _ = sml.render();
                }
            }
        }
    }
});
