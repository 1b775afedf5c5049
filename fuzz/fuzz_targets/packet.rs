#![no_main]
//! Fuzz target: the whole-packet path (dissection, flow table, TCP reassembly, protocol
//! detection, every decoder, flow records) through one `Engine`.
//!
//! Input layout:
//! - byte 0: bits 0–2 pick the link type of every packet ([`LINKS`]: Ethernet, raw IP, Linux
//!   SLL, Linux SLL2, NULL, LOOP, IPv6, and one fabmon does not dissect); bit 3 makes TCP
//!   port 5000 an HSMS port (as a profile would).
//! - then packets, each `ctl | len (2 bytes, big-endian) | bytes`, the length cut to what
//!   remains. `ctl` bits 0–3 pick the time step before the packet ([`step`]: small steps,
//!   steps past the sweep interval and every timeout, steps back, and the extremes a pcapng
//!   file can produce); bits 4–7 make the wire length longer than the captured bytes
//!   (snap-length cuts) or, at 15, zero.
//!
//! The engine is finished at the end so that every flow closes. Seeds: windows of the packets
//! of the shared captures in this layout (`scripts/fuzz.sh` builds them).

mod common;

use fabmon_sensor::capture::{LinkType, Packet};

/// Link types chosen by the low bits of the first byte. 147 (USER0) is not dissected.
const LINKS: [LinkType; 8] = [
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType(108),
    LinkType::IPV6,
    LinkType(147),
];

/// Start of capture time: 2023-11-14, as in a recent capture.
const START_NS: i64 = 1_700_000_000_000_000_000;

/// The capture time of the next packet after `ts` for time-step code `code` (0–15).
fn step(ts: i64, code: u8) -> i64 {
    const S: i64 = 1_000_000_000;
    match code {
        0 => ts,
        1 => ts.saturating_add(1_000),
        2 => ts.saturating_add(1_000_000),
        3 => ts.saturating_add(100_000_000),
        4 => ts.saturating_add(S + S / 2),
        5 => ts.saturating_add(3 * S),
        6 => ts.saturating_add(11 * S),
        7 => ts.saturating_add(601 * S),
        8 => ts.saturating_sub(1_000_000),
        9 => ts.saturating_sub(3600 * S),
        10 => 0,
        11 => i64::MAX,
        12 => i64::MIN,
        13 => -1,
        14 => ts.saturating_add(86_400 * S),
        // The largest classic-pcap time stamp.
        _ => i64::from(u32::MAX) * S + 999_999_999,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&head, mut rest)) = data.split_first() else { return };
    let link = LINKS[usize::from(head & 7)];
    let mut engine = common::small_engine(head & 8 != 0);
    let mut events = Vec::new();
    let mut checks = common::Checks::default();
    let mut ts = START_NS;
    let mut frame = 0u64;
    while let [ctl, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        rest = after;
        ts = step(ts, ctl & 0x0f);
        let extra = u32::from(ctl >> 4);
        let caplen = u32::try_from(len).unwrap_or(u32::MAX);
        let orig_len = if extra == 15 { 0 } else { caplen.saturating_add(extra * 300) };
        frame += 1;
        engine.process(frame, &Packet { ts_ns: ts, link, data: bytes, orig_len });
        checks.drain(&mut engine, &mut events);
    }
    checks.finish(&mut engine, frame, ts, &mut events);
});
