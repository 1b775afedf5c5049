#![no_main]
//! Fuzz target: the BACnet/IP decoder through `app::drive::run`, as the flow layer drives it.
//!
//! The input is a sequence of datagrams, each `dir|len(2)|bytes`: bit 0 of `dir` picks the
//! direction, the length is cut to what remains. Small limits make the pairing table, the
//! value caps and the timeouts trip often.

use fabmon_sensor::app::{drive, AppLimits, Dir, Transport};
use fabmon_sensor::bacnet::BacnetParser;
use fabmon_sensor::record::{Event, OtBody};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut segments: Vec<(Dir, &[u8])> = Vec::new();
    let mut rest = data;
    while let [d, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (dgram, after) = tail.split_at(len);
        let dir = if d & 1 == 0 { Dir::ToServer } else { Dir::ToClient };
        segments.push((dir, dgram));
        rest = after;
        if segments.len() >= 64 {
            break;
        }
    }
    if segments.is_empty() {
        segments.push((Dir::ToServer, data));
    }
    let flow = drive::test_flow(Transport::Udp, 47808);
    let limits = AppLimits {
        max_pending_per_flow: 4,
        max_values_kept: 8,
        bacnet_timeout_ns: 3_000_000,
        ..AppLimits::default()
    };
    let events = drive::run(&mut BacnetParser::new(), &flow, &limits, &segments);
    let mut messages = 0;
    for e in &events {
        if let Event::Message(m) = e {
            messages += 1;
            if let OtBody::Bacnet(r) = &m.body {
                let _ = r.summary();
                assert!(r.properties.len() <= limits.max_values_kept);
            }
        }
    }
    // One record per datagram, whatever the bytes.
    assert_eq!(messages, segments.len());
});
