//! TCP reassembly, one direction of one connection.
//!
//! In-order bytes go to the application parser straight from the packet; only the tail of a
//! message that is not complete yet is copied into the direction's buffer, and the next segment
//! is appended to it. Out-of-order segments are held (bounded in count and bytes) until the
//! hole before them is filled.
//!
//! **Overlap policy: first data wins.** Bytes already delivered (or already held out of order)
//! are never replaced by a later segment covering the same sequence numbers; only the new part
//! of a segment is used. This is what the receiving TCP stacks of Linux and the BSDs do for
//! in-window retransmissions, so the sensor sees the bytes the receiver most likely saw.
//!
//! **Gaps.** Bytes are declared lost, and the parser told to resynchronise, when the peer
//! acknowledges data the capture never carried, when the out-of-order store is full, when the
//! partial-message buffer would exceed its bound, or when a segment lies implausibly far ahead.

use std::num::Wrapping;

/// Limits for one direction and for the whole table.
#[derive(Clone, Debug)]
pub struct ReassemblyLimits {
    /// Largest partial message kept per direction (bytes).
    pub max_buffer: usize,
    /// Out-of-order segments held per direction.
    pub max_ooo_segments: usize,
    /// Out-of-order bytes held per direction.
    pub max_ooo_bytes: usize,
    /// A segment further ahead than this is not held: the bytes before it count as lost.
    pub max_window: u32,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            max_buffer: (16 << 20) + (64 << 10),
            max_ooo_segments: 64,
            max_ooo_bytes: 256 << 10,
            max_window: 16 << 20,
        }
    }
}

/// Counters of what reassembly did, summed over directions.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReassemblyStats {
    /// Segments carrying payload.
    pub segments: u64,
    /// Payload bytes delivered in order.
    pub bytes_delivered: u64,
    /// Payload bytes copied into partial-message buffers (the only copies on this path).
    pub bytes_buffered: u64,
    /// Segments entirely made of bytes already seen.
    pub retransmissions: u64,
    /// Segments partly covering bytes already seen (the old bytes were kept).
    pub overlaps: u64,
    /// Segments held because they arrived before the bytes preceding them.
    pub out_of_order: u64,
    /// Gaps declared (bytes lost), by cause.
    pub gaps_acked_unseen: u64,
    pub gaps_ooo_full: u64,
    pub gaps_buffer_full: u64,
    pub gaps_far_ahead: u64,
    pub gaps_snaplen: u64,
    pub gaps_memory: u64,
    /// Payload bytes known to be missing from streams.
    pub gap_bytes: u64,
    /// Bytes skipped because the parser asked (messages above the size bound).
    pub bytes_skipped: u64,
}

impl ReassemblyStats {
    pub fn merge(&mut self, o: &ReassemblyStats) {
        self.segments += o.segments;
        self.bytes_delivered += o.bytes_delivered;
        self.bytes_buffered += o.bytes_buffered;
        self.retransmissions += o.retransmissions;
        self.overlaps += o.overlaps;
        self.out_of_order += o.out_of_order;
        self.gaps_acked_unseen += o.gaps_acked_unseen;
        self.gaps_ooo_full += o.gaps_ooo_full;
        self.gaps_buffer_full += o.gaps_buffer_full;
        self.gaps_far_ahead += o.gaps_far_ahead;
        self.gaps_snaplen += o.gaps_snaplen;
        self.gaps_memory += o.gaps_memory;
        self.gap_bytes += o.gap_bytes;
        self.bytes_skipped += o.bytes_skipped;
    }
}

/// A held out-of-order segment.
#[derive(Debug)]
struct Held {
    seq: Wrapping<u32>,
    data: Vec<u8>,
}

/// What the direction wants done with bytes.
pub enum Deliver<'p> {
    /// Offer these bytes to the parser (after any earlier buffered bytes).
    Bytes(&'p [u8]),
    /// Bytes were lost before what follows: tell the parser, then continue.
    Gap,
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct TcpDir {
    /// Next expected sequence number, once known.
    next: Option<Wrapping<u32>>,
    /// Highest acknowledgement the peer sent for this direction.
    acked: Option<Wrapping<u32>>,
    /// Unconsumed in-order bytes: the beginning of a message not complete yet.
    pub buf: Vec<u8>,
    /// Bytes still to discard at the parser's request.
    pub skip: u64,
    held: Vec<Held>,
    held_bytes: usize,
    /// Sequence number just past the FIN, once seen.
    fin: Option<Wrapping<u32>>,
    /// All bytes up to the FIN were delivered.
    pub finished: bool,
    /// The direction started without its SYN (picked up mid-stream).
    pub midstream: bool,
    /// Set once the parser has been told about a mid-stream start.
    pub started: bool,
}

fn ahead(a: Wrapping<u32>, b: Wrapping<u32>) -> i64 {
    // Signed distance from b to a in sequence space.
    i64::from((a - b).0 as i32)
}

impl TcpDir {
    /// Heap bytes held by this direction.
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.held_bytes
    }

    /// A SYN (or SYN-ACK) from this direction fixes the initial sequence number.
    pub fn on_syn(&mut self, seq: u32) {
        if self.next.is_none() {
            self.next = Some(Wrapping(seq) + Wrapping(1));
        }
    }

    /// The peer acknowledged up to `ack` for this direction.
    pub fn on_peer_ack(&mut self, ack: u32) {
        let ack = Wrapping(ack);
        match self.acked {
            Some(a) if ahead(ack, a) <= 0 => {}
            _ => self.acked = Some(ack),
        }
    }

    /// Whether the peer acknowledged bytes beyond what this direction delivered (the capture
    /// missed them).
    fn acked_beyond(&self, next: Wrapping<u32>) -> bool {
        matches!(self.acked, Some(a) if ahead(a, next) > 0)
    }

    /// Takes a segment and calls `sink` for every in-order piece and every gap, in order.
    /// `truncated` means the capture cut the segment: what follows `payload` is lost.
    /// `mem_ok(extra)` says whether the table may hold `extra` more bytes.
    pub fn on_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        fin: bool,
        truncated: bool,
        limits: &ReassemblyLimits,
        stats: &mut ReassemblyStats,
        mem_ok: &mut dyn FnMut(usize) -> bool,
        sink: &mut dyn FnMut(&mut TcpDir, Deliver<'_>),
    ) {
        let seq = Wrapping(seq);
        let next = match self.next {
            Some(n) => n,
            None => {
                // First bytes of a direction whose SYN was not seen: start here.
                self.midstream = true;
                self.next = Some(seq);
                seq
            }
        };
        if fin {
            self.fin = Some(seq + Wrapping(payload.len() as u32));
        }
        if payload.is_empty() {
            self.check_finished();
            return;
        }
        stats.segments += 1;
        let rel = ahead(seq, next);
        if rel > 0 {
            // A hole before this segment.
            let far = rel > i64::from(limits.max_window);
            if far || self.acked_beyond(next) {
                if far {
                    stats.gaps_far_ahead += 1;
                } else {
                    stats.gaps_acked_unseen += 1;
                }
                // Held segments below this one were captured: the gap ends at the lowest of
                // them, and they are delivered before this one.
                match self.held.first().map(|h| h.seq) {
                    Some(lowest) if ahead(lowest, seq) < 0 => {
                        self.jump_to(lowest, stats, sink);
                        self.drain_held(stats, sink);
                        self.on_segment(seq.0, payload, false, truncated, limits, stats, mem_ok, sink);
                        return;
                    }
                    _ => {
                        self.jump_to(seq, stats, sink);
                        self.take(seq, payload, truncated, stats, sink);
                    }
                }
            } else if self.held.len() >= limits.max_ooo_segments
                || self.held_bytes + payload.len() > limits.max_ooo_bytes
                || !mem_ok(payload.len())
            {
                stats.gaps_ooo_full += 1;
                // Release the held segments from the lowest one on; this one follows.
                let lowest = self.held.first().map(|h| h.seq).unwrap_or(seq);
                let target = if ahead(lowest, seq) < 0 { lowest } else { seq };
                self.jump_to(target, stats, sink);
                self.insert_held(seq, payload, stats);
                self.drain_held(stats, sink);
            } else {
                self.insert_held(seq, payload, stats);
            }
        } else {
            let skip_n = (-rel) as usize;
            if skip_n >= payload.len() {
                stats.retransmissions += 1;
            } else {
                if skip_n > 0 {
                    stats.overlaps += 1;
                }
                self.take(next, &payload[skip_n..], truncated, stats, sink);
            }
        }
        self.drain_held(stats, sink);
        self.check_finished();
    }

    /// The bytes before the held segments will not come (end of flow): deliver what is held,
    /// with a gap before each hole.
    pub fn flush_held(
        &mut self,
        stats: &mut ReassemblyStats,
        sink: &mut dyn FnMut(&mut TcpDir, Deliver<'_>),
    ) {
        while let Some(first) = self.held.first() {
            let s = first.seq;
            stats.gaps_acked_unseen += 1;
            self.jump_to(s, stats, sink);
            self.drain_held(stats, sink);
        }
    }

    /// In-order bytes starting at `self.next`.
    fn take(
        &mut self,
        seq: Wrapping<u32>,
        data: &[u8],
        truncated: bool,
        stats: &mut ReassemblyStats,
        sink: &mut dyn FnMut(&mut TcpDir, Deliver<'_>),
    ) {
        debug_assert_eq!(Some(seq), self.next);
        self.next = Some(seq + Wrapping(data.len() as u32));
        stats.bytes_delivered += data.len() as u64;
        sink(self, Deliver::Bytes(data));
        if truncated {
            // The rest of this segment was cut by the snap length: it is lost.
            stats.gaps_snaplen += 1;
            sink(self, Deliver::Gap);
        }
    }

    /// Declares the bytes up to `target` lost.
    fn jump_to(
        &mut self,
        target: Wrapping<u32>,
        stats: &mut ReassemblyStats,
        sink: &mut dyn FnMut(&mut TcpDir, Deliver<'_>),
    ) {
        if let Some(n) = self.next {
            let lost = ahead(target, n);
            if lost > 0 {
                stats.gap_bytes += lost as u64;
            }
        }
        self.next = Some(target);
        sink(self, Deliver::Gap);
    }

    fn insert_held(&mut self, seq: Wrapping<u32>, payload: &[u8], stats: &mut ReassemblyStats) {
        let Some(next) = self.next else { return };
        let key = ahead(seq, next);
        let pos = self.held.partition_point(|h| ahead(h.seq, next) < key);
        // First data wins: an identical start keeps what is already held.
        if self.held.get(pos).is_some_and(|h| h.seq == seq) {
            stats.retransmissions += 1;
            return;
        }
        stats.out_of_order += 1;
        self.held_bytes += payload.len();
        self.held.insert(pos, Held { seq, data: payload.to_vec() });
    }

    fn drain_held(&mut self, stats: &mut ReassemblyStats, sink: &mut dyn FnMut(&mut TcpDir, Deliver<'_>)) {
        while let (Some(next), Some(first)) = (self.next, self.held.first()) {
            let rel = ahead(first.seq, next);
            if rel > 0 {
                break;
            }
            let h = self.held.remove(0);
            self.held_bytes -= h.data.len();
            let skip_n = (-rel) as usize;
            if skip_n >= h.data.len() {
                stats.retransmissions += 1;
                continue;
            }
            if skip_n > 0 {
                stats.overlaps += 1;
            }
            self.take(next, &h.data[skip_n..], false, stats, sink);
        }
    }

    fn check_finished(&mut self) {
        if let (Some(f), Some(n)) = (self.fin, self.next) {
            if ahead(n, f) >= 0 && self.held.is_empty() {
                self.finished = true;
            }
        }
    }

    /// Releases the buffers (the flow is closing).
    pub fn release(&mut self) {
        self.buf = Vec::new();
        self.held = Vec::new();
        self.held_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what a direction delivers, as the flow layer would hand it to a parser that
    /// consumes everything.
    fn run(segs: &[(u32, &[u8])], limits: &ReassemblyLimits) -> (Vec<u8>, usize, ReassemblyStats) {
        let mut d = TcpDir::default();
        d.on_syn(999);
        let mut stats = ReassemblyStats::default();
        let mut out = Vec::new();
        let mut gaps = 0;
        for (seq, p) in segs {
            d.on_segment(*seq, p, false, false, limits, &mut stats, &mut |_| true, &mut |_, del| match del {
                Deliver::Bytes(b) => out.extend_from_slice(b),
                Deliver::Gap => gaps += 1,
            });
        }
        (out, gaps, stats)
    }

    #[test]
    fn in_order() {
        let (out, gaps, st) = run(&[(1000, b"abc"), (1003, b"def")], &ReassemblyLimits::default());
        assert_eq!(out, b"abcdef");
        assert_eq!(gaps, 0);
        assert_eq!(st.bytes_delivered, 6);
    }

    #[test]
    fn out_of_order_is_held_then_released() {
        let (out, gaps, st) =
            run(&[(1003, b"def"), (1000, b"abc"), (1006, b"g")], &ReassemblyLimits::default());
        assert_eq!(out, b"abcdefg");
        assert_eq!((gaps, st.out_of_order), (0, 1));
    }

    #[test]
    fn retransmission_and_overlap_keep_first_data() {
        // "QRSd" starts at 1001: 1001–1002 were seen ("bc"), so only "Sd" is new.
        let (out, _, st) =
            run(&[(1000, b"abc"), (1000, b"XYZ"), (1001, b"QRSd")], &ReassemblyLimits::default());
        assert_eq!(out, b"abcSd");
        assert_eq!((st.retransmissions, st.overlaps), (1, 1));
    }

    #[test]
    fn ooo_bound_declares_a_gap_and_counts_it() {
        let limits = ReassemblyLimits { max_ooo_segments: 2, ..Default::default() };
        // 1000..1003 never arrives; three later segments overflow the store of two.
        let (out, gaps, st) = run(&[(1003, b"d"), (1004, b"e"), (1005, b"f")], &limits);
        assert_eq!(out, b"def");
        assert_eq!(gaps, 1);
        assert_eq!(st.gaps_ooo_full, 1);
        assert_eq!(st.gap_bytes, 3);
    }

    #[test]
    fn acked_gap_keeps_held_segments_below_the_new_one() {
        let mut d = TcpDir::default();
        d.on_syn(999); // next = 1000
        let mut stats = ReassemblyStats::default();
        let lim = ReassemblyLimits::default();
        let mut out = Vec::new();
        let mut gaps = 0;
        let mut feed = |d: &mut TcpDir, seq: u32, p: &[u8], stats: &mut ReassemblyStats| {
            d.on_segment(seq, p, false, false, &lim, stats, &mut |_| true, &mut |_, del| match del {
                Deliver::Bytes(b) => out.extend_from_slice(b),
                Deliver::Gap => gaps += 1,
            });
        };
        // 1000..1005 is never captured; 1005 is held; the peer then acknowledges past it, and
        // 1010 arrives: 1005..1010 must still be delivered before 1010.
        feed(&mut d, 1005, b"fghij", &mut stats);
        d.on_peer_ack(1010);
        feed(&mut d, 1010, b"klm", &mut stats);
        assert_eq!(out, b"fghijklm");
        assert_eq!(gaps, 1);
        assert_eq!(stats.gap_bytes, 5);
    }

    #[test]
    fn sequence_wraps() {
        let mut d = TcpDir::default();
        d.on_syn(u32::MAX - 1); // next = u32::MAX
        let mut stats = ReassemblyStats::default();
        let mut out = Vec::new();
        let lim = ReassemblyLimits::default();
        for (seq, p) in [(0u32, &b"cd"[..]), (u32::MAX, &b"ab"[..])] {
            // "ab" spans the wrap: MAX, 0; "cd" would start at 1 — deliberately send "cd" at 1.
            let seq = if p == b"cd" { 1 } else { seq };
            d.on_segment(seq, p, false, false, &lim, &mut stats, &mut |_| true, &mut |_, del| {
                if let Deliver::Bytes(b) = del {
                    out.extend_from_slice(b)
                }
            });
        }
        assert_eq!(out, b"abcd");
    }

    proptest::proptest! {
        /// A stream cut at random offsets and delivered in any order (within the hold bounds)
        /// comes out as the original bytes.
        #[test]
        fn random_cuts_any_order(
            data in proptest::collection::vec(proptest::num::u8::ANY, 1..3000),
            cuts in proptest::collection::vec(1usize..3000, 0..40),
            order in proptest::collection::vec(proptest::num::usize::ANY, 0..40),
            isn in proptest::num::u32::ANY,
        ) {
            let mut points: Vec<usize> = cuts.into_iter().filter(|c| *c < data.len()).collect();
            points.sort_unstable();
            points.dedup();
            let mut segs = Vec::new();
            let mut start = 0;
            for p in points.into_iter().chain(std::iter::once(data.len())) {
                segs.push((start, &data[start..p]));
                start = p;
            }
            // Shuffle deterministically from `order`.
            for (i, o) in order.iter().enumerate() {
                let n = segs.len();
                if n > 1 { segs.swap(i % n, o % n); }
            }
            let mut d = TcpDir::default();
            d.on_syn(isn);
            let mut stats = ReassemblyStats::default();
            let mut out = Vec::new();
            let mut gaps = 0;
            let lim = ReassemblyLimits::default();
            for (off, p) in &segs {
                let seq = isn.wrapping_add(1).wrapping_add(*off as u32);
                d.on_segment(seq, p, false, false, &lim, &mut stats, &mut |_| true, &mut |_, del| match del {
                    Deliver::Bytes(b) => out.extend_from_slice(b),
                    Deliver::Gap => gaps += 1,
                });
            }
            proptest::prop_assert_eq!(gaps, 0);
            proptest::prop_assert_eq!(out, data);
        }
    }
}
