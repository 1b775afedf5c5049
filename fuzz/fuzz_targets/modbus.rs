#![no_main]
//! Fuzz target: the Modbus/TCP decoder through the stream driver.
//!
//! Input layout: byte 0 = flags (bit 0: flow picked up mid-stream, bit 1: tiny pending table,
//! bits 4–7: number of segment-control bytes that follow, 0–15). Each control byte gives a
//! segment: bit 7 = direction (set: server → client), bits 0–6 = length (0 means 1). Controls
//! are used in a cycle until the payload (the rest of the input) is consumed.
//!
//! Seed it with ADUs from the corpus captures, e.g. payloads exported with tshark.

use fabmon_sensor::app::{drive, AppLimits, Dir, Transport};
use fabmon_sensor::modbus::ModbusParser;
use fabmon_sensor::record::Event;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let n_ctl = usize::from(flags >> 4);
    let (ctl, payload) = rest.split_at(n_ctl.min(rest.len()));

    let mut flow = drive::test_flow(Transport::Tcp, 502);
    flow.roles_from_syn = flags & 1 == 0;
    let limits = AppLimits {
        max_pending_per_flow: if flags & 2 != 0 { 2 } else { 1024 },
        max_values_kept: 16,
        ..AppLimits::default()
    };

    let mut segs: Vec<(Dir, &[u8])> = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < payload.len() {
        let c = if ctl.is_empty() { 0x7F } else { ctl[i % ctl.len()] };
        i += 1;
        let dir = if c & 0x80 != 0 { Dir::ToClient } else { Dir::ToServer };
        let len = usize::from(c & 0x7F).max(1);
        let end = (at + len).min(payload.len());
        segs.push((dir, &payload[at..end]));
        at = end;
    }

    let mut parser = ModbusParser::new();
    let events = drive::run(&mut parser, &flow, &limits, &segs);
    for e in &events {
        if let Event::Message(m) = e {
            // The text form must not panic either.
            let _ = m.body.summary();
        }
    }
});
