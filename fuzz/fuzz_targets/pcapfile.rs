#![no_main]
//! Fuzz target: a pcap or pcapng byte stream through `FileSource::from_reader` (the path of
//! `fabmon ... -` reading a pipe), every packet drained into one `Engine`.
//!
//! The input is the file itself. Read errors end the input, as they end a run. The source's
//! counters and the engine's events are rendered too. Seeds: the shared captures, cut to a few
//! kilobytes (`scripts/fuzz.sh` builds them).

mod common;

use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::capture::{Next, PacketSource};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let reader = std::io::Cursor::new(data.to_vec());
    let Ok(mut source) = FileSource::from_reader("fuzz", Box::new(reader)) else { return };
    let mut engine = common::small_engine(false);
    let mut events = Vec::new();
    let mut checks = common::Checks::default();
    let mut frame = 0u64;
    let mut last_ts = 0i64;
    // Every call consumes at least one whole record (12 bytes or more) or ends the input: a
    // file source that keeps answering without consuming would hang a run.
    for _ in 0..=data.len() / 12 + 1 {
        match source.next_packet() {
            Ok(Next::Packet(pkt)) => {
                frame += 1;
                last_ts = pkt.ts_ns;
                engine.process(frame, &pkt);
                checks.drain(&mut engine, &mut events);
            }
            Ok(Next::Idle) => {}
            Ok(Next::End) | Err(_) => {
                let _ = serde_json::to_vec(&source.stats());
                checks.finish(&mut engine, frame, last_ts, &mut events);
                return;
            }
        }
    }
    panic!("the file source answered more often than the input has records");
});
