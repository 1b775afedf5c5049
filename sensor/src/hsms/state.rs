//! Per-connection HSMS state: framing over the reassembled stream with resynchronisation,
//! selection state (E37 §7), session ids, transaction pairing (E37 §7.5, E5 §6) and the
//! [`AppParser`] implementation.
//!
//! Pairing key: (direction of the primary, session id, system bytes); each side allocates
//! system bytes on its own, so the direction is part of the key. Control requests pair by
//! system bytes. Every table is bounded; what falls out is reported.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::frame::{self, header_plausible, FrameError, HsmsFrameSlice, HsmsHeader, SType};
use super::gem::{self, Gem, IdKey};
use super::record::{HsmsRecord, SmlBody};
use super::secs2::{self, parse_secs2, Secs2Format, Secs2Item, Secs2Tree};
use crate::app::{AppParser, AppProto, Cx, Dir};
use crate::record::{OtBody, TxOutcome};

/// W=0 primaries remembered per flow, so that a reply sent to one anyway still pairs.
const ONE_WAY_KEPT: usize = 32;
/// Closed transactions remembered per flow, to tell a second reply from an orphan.
const CLOSED_KEPT: usize = 64;
/// Report ids remembered per flow from S2F33.
const REPORT_BOOK_MAX: usize = 1024;
/// HSMS-GS sessions remembered per connection.
const MAX_SESSIONS: usize = 16;
/// Body bytes validated per candidate header while resynchronising.
const RESYNC_BODY_CHECK: usize = 4096;
/// Item vector capacity kept between messages; a larger one is shrunk after use.
const SCRATCH_KEEP: usize = 4096;

/// Selection state of the connection as seen on the wire (E37 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HsmsConnState {
    /// TCP is up, no Select has succeeded (or Deselect/Separate ended it).
    NotSelected,
    Selected,
    /// Picked up mid-stream or after a gap: the Select may have been missed.
    Unknown,
}

/// The state after `h` (a pure transition; anomalies are decided by the caller).
#[rustfmt::skip]
pub fn next_state(state: HsmsConnState, h: &HsmsHeader) -> HsmsConnState {
    use HsmsConnState::*;
    match (h.stype, h.byte3) {
        // Established, or already active: selected either way.
        (SType::SELECT_RSP, 0 | 1) => Selected,
        (SType::DESELECT_RSP, 0)   => NotSelected,
        (SType::SEPARATE_REQ, _)   => NotSelected,
        _                          => state,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum TxKind {
    Data,
    Control,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TxKey {
    /// Direction of the primary.
    dir: usize,
    kind: TxKind,
    /// Data: session id; control: 0 (control pairs by system bytes only).
    session: u16,
    system: u32,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    dir: Dir,
    frame: u64,
    ts_ns: i64,
    seq: u64,
    header: HsmsHeader,
}

impl Pending {
    fn what(&self) -> String {
        let h = &self.header;
        if h.is_data() {
            format!(
                "S{}F{}{} system=0x{:08x} session={}",
                h.stream(),
                h.function(),
                if h.wbit() { " W" } else { "" },
                h.system,
                h.session_id
            )
        } else {
            format!("{} system=0x{:08x}", h.stype.name().unwrap_or("control"), h.system)
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Closed {
    key: TxKey,
    frame: u64,
    ts_ns: i64,
    timed_out: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Reading length-prefixed messages one after the other.
    Synced,
    /// Looking for a plausible header (after a gap, a mid-stream start or garbage).
    Hunting,
}

/// A message whose bytes have started but not finished arriving.
#[derive(Clone, Copy, Debug)]
struct Partial {
    header: Option<HsmsHeader>,
    length: Option<u32>,
    frame: u64,
    ts_ns: i64,
}

#[derive(Clone, Debug)]
struct DirState {
    mode: Mode,
    partial: Option<Partial>,
    /// Bytes skipped while hunting since the last message (reported on the next one).
    skipped: u64,
    /// Time of the last gap in this direction.
    gap_ts: Option<i64>,
}

impl Default for DirState {
    fn default() -> Self {
        DirState { mode: Mode::Synced, partial: None, skipped: 0, gap_ts: None }
    }
}

/// Counters of one connection, for telemetry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HsmsStats {
    pub messages: u64,
    /// Bytes skipped while resynchronising.
    pub garbage_bytes: u64,
    pub resyncs: u64,
    /// Pending transactions dropped because a gap may have swallowed their reply.
    pub dropped_on_gap: u64,
    pub evicted: u64,
}

/// RPTIDs defined on this connection (S2F33), known only once a delete-all was seen.
#[derive(Clone, Debug, Default)]
struct ReportBook {
    complete: bool,
    ids: Vec<IdKey>,
}

/// Per-connection HSMS decoder.
#[derive(Debug)]
pub struct HsmsParser {
    dirs: [DirState; 2],
    state: HsmsConnState,
    /// HSMS-SS: the session id data messages use (from the first data message).
    session: Option<u16>,
    /// HSMS-GS: session ids selected by a Select.req with an entity id.
    gs_sessions: Vec<u16>,
    pending: FxHashMap<TxKey, Pending>,
    next_deadline: Option<i64>,
    seq: u64,
    one_way: VecDeque<(TxKey, Pending)>,
    closed: VecDeque<Closed>,
    reports: ReportBook,
    scratch: Vec<Secs2Item>,
    stats: HsmsStats,
}

impl Default for HsmsParser {
    fn default() -> Self {
        HsmsParser {
            dirs: [DirState::default(), DirState::default()],
            state: HsmsConnState::NotSelected,
            session: None,
            gs_sessions: Vec::new(),
            pending: FxHashMap::default(),
            next_deadline: None,
            seq: 0,
            one_way: VecDeque::new(),
            closed: VecDeque::new(),
            reports: ReportBook::default(),
            scratch: Vec::new(),
            stats: HsmsStats::default(),
        }
    }
}

/// Request/reply fields of an emitted message.
#[derive(Default)]
struct Pairing {
    request_frame: Option<u64>,
    latency_us: Option<u64>,
    orphan: bool,
}

impl Pairing {
    fn link(&mut self, frame: u64, req_ts: i64, now: i64) {
        self.request_frame = Some(frame);
        self.latency_us = u64::try_from(now.saturating_sub(req_ts) / 1000).ok();
    }
}

/// Where a resynchronising scan stopped.
enum Sync {
    /// A plausible message starts at this offset.
    At(usize),
    /// Nothing found: the bytes before this offset are garbage; more bytes are needed.
    NeedMore(usize),
}

impl HsmsParser {
    pub fn new() -> Self {
        HsmsParser::default()
    }

    pub fn stats(&self) -> HsmsStats {
        self.stats
    }

    pub fn conn_state(&self) -> HsmsConnState {
        self.state
    }

    /// Reply timeout. Control transactions (Select, Deselect, Linktest) use it too: their own
    /// T6 is not configured, and T3 is the larger, so no false timeout.
    fn t3(cx: &Cx<'_>) -> i64 {
        cx.limits.hsms_t3_ns
    }

    // ---- pending table ----------------------------------------------------------------

    /// `next_deadline` is a lower bound: closing a transaction leaves it early, which costs
    /// one scan in [`Self::expire`], where it is made exact again.
    fn recompute_deadline(&mut self, t3: i64) {
        self.next_deadline = self.pending.values().map(|p| p.ts_ns.saturating_add(t3)).min();
    }

    /// Reports transactions older than T3 as timed out.
    fn expire(&mut self, cx: &mut Cx<'_>) {
        let t3 = Self::t3(cx);
        match self.next_deadline {
            Some(d) if cx.ts_ns >= d => {}
            _ => return,
        }
        let mut expired: Vec<(TxKey, Pending)> = self
            .pending
            .iter()
            .filter(|(_, p)| cx.ts_ns.saturating_sub(p.ts_ns) >= t3)
            .map(|(k, p)| (*k, *p))
            .collect();
        expired.sort_by_key(|(_, p)| p.seq);
        for (k, p) in expired {
            self.pending.remove(&k);
            self.remember_closed(k, &p, true);
            cx.unanswered(AppProto::Hsms, p.dir, TxOutcome::Timeout, p.frame, p.ts_ns, p.what());
        }
        self.recompute_deadline(t3);
    }

    fn insert_pending(&mut self, key: TxKey, p: Pending, an: &mut Vec<&'static str>, cx: &mut Cx<'_>) {
        if self.pending.remove(&key).is_some() {
            an.push("duplicate_system_bytes");
        }
        let max = cx.limits.max_pending_per_flow;
        if max == 0 {
            self.stats.evicted += 1;
            cx.unanswered(AppProto::Hsms, p.dir, TxOutcome::Evicted, p.frame, p.ts_ns, p.what());
            return;
        }
        while self.pending.len() >= max {
            let Some((k, old)) = self.pending.iter().min_by_key(|(_, p)| p.seq).map(|(k, p)| (*k, *p)) else {
                break;
            };
            self.pending.remove(&k);
            self.stats.evicted += 1;
            cx.unanswered(AppProto::Hsms, old.dir, TxOutcome::Evicted, old.frame, old.ts_ns, old.what());
        }
        let deadline = p.ts_ns.saturating_add(Self::t3(cx));
        self.next_deadline = Some(self.next_deadline.map_or(deadline, |d| d.min(deadline)));
        self.pending.insert(key, p);
    }

    /// Takes the open transaction `key`; failing that, one of the same kind, direction and
    /// system bytes under another session id (flagged by the caller).
    fn take_pending(&mut self, key: TxKey) -> Option<(Pending, bool)> {
        if let Some(p) = self.pending.remove(&key) {
            return Some((p, true));
        }
        let k = self
            .pending
            .keys()
            .find(|k| k.dir == key.dir && k.kind == key.kind && k.system == key.system)
            .copied()?;
        self.pending.remove(&k).map(|p| (p, false))
    }

    fn remember_closed(&mut self, key: TxKey, p: &Pending, timed_out: bool) {
        if self.closed.len() >= CLOSED_KEPT {
            self.closed.pop_front();
        }
        self.closed.push_back(Closed { key, frame: p.frame, ts_ns: p.ts_ns, timed_out });
    }

    fn find_closed(&self, key: TxKey) -> Option<Closed> {
        self.closed
            .iter()
            .rev()
            .find(|c| c.key.dir == key.dir && c.key.kind == key.kind && c.key.system == key.system)
            .copied()
    }

    /// Marks a reply with no open request.
    fn orphan(&self, pr: &mut Pairing, an: &mut Vec<&'static str>, cx: &Cx<'_>) {
        pr.orphan = true;
        // Its request may have been lost in a gap, or sent before a mid-stream start (which
        // shows as a gap in whichever direction spoke first).
        let after_gap =
            self.dirs.iter().any(|d| d.gap_ts.is_some_and(|g| cx.ts_ns.saturating_sub(g) <= Self::t3(cx)));
        an.push(if after_gap { "orphan_after_gap" } else { "orphan_reply" });
    }

    // ---- messages ---------------------------------------------------------------------

    fn emit(
        &mut self,
        dir: Dir,
        mut rec: HsmsRecord,
        malformed: bool,
        mut an: Vec<&'static str>,
        pr: Pairing,
        cx: &mut Cx<'_>,
    ) {
        let skipped = std::mem::take(&mut self.dirs[dir.index()].skipped);
        if skipped > 0 {
            rec.resync_skipped = Some(skipped);
            an.insert(0, "resync_skipped_bytes");
        }
        self.stats.messages += 1;
        let m = cx.emit(dir, OtBody::Hsms(rec), malformed);
        m.anomalies = an;
        m.request_frame = pr.request_frame;
        m.latency_us = pr.latency_us;
        m.orphan = pr.orphan;
    }

    /// One framed message. `body` is `None` when it was not buffered (above the size cap).
    fn on_message(&mut self, dir: Dir, h: HsmsHeader, body: Option<&[u8]>, cx: &mut Cx<'_>) {
        let mut rec = HsmsRecord::from_header(&h);
        let mut an: Vec<&'static str> = Vec::new();
        let mut malformed = false;
        let mut pr = Pairing::default();
        if body.is_none() {
            an.push("oversize");
        }
        if h.ptype != 0 {
            an.push("unsupported_ptype");
            malformed = true;
        }
        if !h.stype.is_known() {
            an.push("unknown_stype");
            malformed = true;
        } else if !h.is_data() {
            let before = an.len();
            frame::control_violations(&h, &mut an);
            malformed |= an.len() > before;
            self.on_control(dir, &h, &mut an, &mut pr, cx);
        } else {
            if let (0, Some(body)) = (h.ptype, body) {
                malformed |= self.decode_body(&h, body, &mut rec, &mut an, cx);
            }
            self.on_data(dir, &h, rec.gem.as_deref(), &mut an, &mut pr, cx);
        }
        self.state = next_state(self.state, &h);
        self.emit(dir, rec, malformed, an, pr, cx);
    }

    /// SECS-II body and GEM meaning; returns whether the body is malformed.
    fn decode_body(
        &mut self,
        h: &HsmsHeader,
        body: &[u8],
        rec: &mut HsmsRecord,
        an: &mut Vec<&'static str>,
        cx: &Cx<'_>,
    ) -> bool {
        let limits = cx.limits;
        let mut items = std::mem::take(&mut self.scratch);
        let res = parse_secs2(body, limits.max_secs2_depth, limits.max_secs2_items, &mut items);
        if !body.is_empty() {
            rec.sml = Some(SmlBody::new(body, limits.max_secs2_depth));
        }
        let malformed = match res {
            Err(e) => {
                an.push(e.kind.code());
                rec.secs2_error = Some(e.kind.code());
                rec.secs2_error_offset = u32::try_from(e.offset).ok();
                true
            }
            Ok(summary) => {
                rec.items = u32::try_from(summary.n_items).ok();
                if items.iter().any(|i| i.format == Secs2Format::JIS8) {
                    an.push("unusual_item_format_jis8");
                }
                if items.iter().any(|i| i.format == Secs2Format::LOCALIZED) {
                    an.push("unusual_item_format_localized");
                }
                let tree = Secs2Tree::new(body, &items);
                match gem::extract(h, &tree, limits.max_values_kept) {
                    Ok(g) => rec.gem = g.map(Box::new),
                    Err(_) => an.push("gem_structure_mismatch"),
                }
                self.track_reports(h, &tree, an);
                false
            }
        };
        if items.capacity() > SCRATCH_KEEP {
            items.clear();
            items.shrink_to(SCRATCH_KEEP);
        }
        self.scratch = items;
        malformed
    }

    /// Report definitions (S2F33) and the RPTIDs of event reports (S6F11).
    fn track_reports(&mut self, h: &HsmsHeader, t: &Secs2Tree<'_>, an: &mut Vec<&'static str>) {
        match (h.stream(), h.function()) {
            (2, 33) => {
                if let Some((delete_all, defs)) = gem::defined_reports(t, REPORT_BOOK_MAX) {
                    let book = &mut self.reports;
                    if delete_all {
                        book.complete = true;
                        book.ids.clear();
                    }
                    for (id, deleted) in defs {
                        book.ids.retain(|x| *x != id);
                        if !deleted && book.ids.len() < REPORT_BOOK_MAX {
                            book.ids.push(id);
                        }
                    }
                }
            }
            (6, 11) if self.reports.complete => {
                let ids = gem::reported_ids(t, REPORT_BOOK_MAX);
                if ids.iter().any(|id| !self.reports.ids.contains(id)) {
                    an.push("event_report_unknown_rptid");
                }
            }
            _ => {}
        }
    }

    fn on_data(
        &mut self,
        dir: Dir,
        h: &HsmsHeader,
        gem: Option<&Gem>,
        an: &mut Vec<&'static str>,
        pr: &mut Pairing,
        cx: &mut Cx<'_>,
    ) {
        let (s, f, w, sid) = (h.stream(), h.function(), h.wbit(), h.session_id);
        if self.state == HsmsConnState::NotSelected {
            an.push("data_before_select");
        }
        if !self.gs_sessions.is_empty() {
            if !self.gs_sessions.contains(&sid) {
                an.push("unknown_session_id");
            }
        } else {
            match self.session {
                None => self.session = Some(sid),
                Some(x) if x != sid => an.push("unknown_session_id"),
                Some(_) => {}
            }
        }
        if s == 0 {
            an.push("stream_zero");
        }
        let reply = f == 0 || f % 2 == 0;
        if w && f == 0 {
            an.push("w_bit_on_abort");
        } else if w && reply {
            an.push("w_bit_on_reply");
        }
        let now = cx.ts_ns;
        if reply {
            if f == 0 {
                an.push("transaction_abort_sxf0");
            }
            let key =
                TxKey { dir: dir.reverse().index(), kind: TxKind::Data, session: sid, system: h.system };
            if let Some((p, exact)) = self.take_pending(key) {
                pr.link(p.frame, p.ts_ns, now);
                if !exact {
                    an.push("reply_session_id_mismatch");
                }
                let ph = p.header;
                if ph.stream() != s || (f != 0 && ph.function().wrapping_add(1) != f) {
                    an.push("reply_mismatch");
                }
                self.remember_closed(key, &p, false);
            } else if let Some(i) =
                self.one_way.iter().rposition(|(k, _)| k.dir == key.dir && k.system == key.system)
            {
                if let Some((k, p)) = self.one_way.remove(i) {
                    // E5 expects no reply to a W=0 primary, but some stacks send one
                    // (secsgem for S5F1, S5F3, S10F3): pair it, without an anomaly.
                    pr.link(p.frame, p.ts_ns, now);
                    self.remember_closed(k, &p, false);
                }
            } else if let Some(c) = self.find_closed(key) {
                pr.link(c.frame, c.ts_ns, now);
                if c.timed_out {
                    pr.orphan = true;
                    an.push("reply_after_timeout");
                } else {
                    an.push("duplicate_reply");
                }
            } else {
                self.orphan(pr, an, cx);
            }
            return;
        }
        // A primary. Stream 9 reports an error about another message, named by its header.
        if s == 9 {
            if let Some(Gem::StreamError { error, mhead }) = gem {
                an.push(error.anomaly());
                let (msid, msys) = mhead.map_or((sid, h.system), |m| (m.session_id, m.system));
                let key =
                    TxKey { dir: dir.reverse().index(), kind: TxKind::Data, session: msid, system: msys };
                if let Some((p, _)) = self.take_pending(key) {
                    pr.link(p.frame, p.ts_ns, now);
                    self.remember_closed(key, &p, false);
                }
            } else {
                an.push("s9_error");
            }
        }
        let key = TxKey { dir: dir.index(), kind: TxKind::Data, session: sid, system: h.system };
        self.seq += 1;
        let p = Pending { dir, frame: cx.frame, ts_ns: now, seq: self.seq, header: *h };
        if w {
            self.insert_pending(key, p, an, cx);
        } else {
            if self.one_way.len() >= ONE_WAY_KEPT {
                self.one_way.pop_front();
            }
            self.one_way.push_back((key, p));
        }
    }

    fn on_control(
        &mut self,
        dir: Dir,
        h: &HsmsHeader,
        an: &mut Vec<&'static str>,
        pr: &mut Pairing,
        cx: &mut Cx<'_>,
    ) {
        let now = cx.ts_ns;
        match h.stype {
            SType::SELECT_REQ | SType::DESELECT_REQ | SType::LINKTEST_REQ => {
                let key = TxKey { dir: dir.index(), kind: TxKind::Control, session: 0, system: h.system };
                self.seq += 1;
                let p = Pending { dir, frame: cx.frame, ts_ns: now, seq: self.seq, header: *h };
                self.insert_pending(key, p, an, cx);
            }
            SType::SELECT_RSP | SType::DESELECT_RSP | SType::LINKTEST_RSP => {
                let key =
                    TxKey { dir: dir.reverse().index(), kind: TxKind::Control, session: 0, system: h.system };
                match self.take_pending(key) {
                    Some((p, _)) => {
                        pr.link(p.frame, p.ts_ns, now);
                        if p.header.stype.response() != Some(h.stype) {
                            an.push("reply_mismatch");
                        }
                        self.remember_closed(key, &p, false);
                        // HSMS-GS: a Select of an entity id selects that session.
                        let gs = p.header.session_id != frame::CONTROL_SESSION_ID;
                        if h.stype == SType::SELECT_RSP && h.byte3 == 0 && gs {
                            let sid = p.header.session_id;
                            if !self.gs_sessions.contains(&sid) && self.gs_sessions.len() < MAX_SESSIONS {
                                self.gs_sessions.push(sid);
                            }
                        }
                    }
                    None => self.orphan(pr, an, cx),
                }
                if h.stype == SType::SELECT_RSP && h.byte3 != 0 {
                    an.push("select_refused");
                }
                if h.stype == SType::DESELECT_RSP && h.byte3 != 0 {
                    an.push("deselect_refused");
                }
            }
            SType::REJECT_REQ => {
                an.push("reject");
                // Reject.req echoes the system bytes (and session id) of what it rejects.
                let rdir = dir.reverse().index();
                for kind in [TxKind::Data, TxKind::Control] {
                    let session = if kind == TxKind::Data { h.session_id } else { 0 };
                    let key = TxKey { dir: rdir, kind, session, system: h.system };
                    if let Some((p, _)) = self.take_pending(key) {
                        pr.link(p.frame, p.ts_ns, now);
                        self.remember_closed(key, &p, false);
                        break;
                    }
                }
            }
            SType::SEPARATE_REQ => an.push("separate"),
            _ => {}
        }
    }

    /// A frame whose length field is below 10.
    fn on_short(&mut self, dir: Dir, length: u32, cx: &mut Cx<'_>) {
        let rec = HsmsRecord { length, stype_name: None, ..HsmsRecord::default() };
        self.emit(dir, rec, true, vec!["short_frame_length_lt_10"], Pairing::default(), cx);
    }

    /// Emits the record of a message that never completed, at the frame where it started.
    fn emit_partial(&mut self, dir: Dir, p: Partial, code: &'static str, cx: &mut Cx<'_>) {
        let mut an = Vec::new();
        let rec = match p.header {
            Some(h) => HsmsRecord::from_header(&h),
            None => HsmsRecord { length: p.length.unwrap_or(0), stype_name: None, ..HsmsRecord::default() },
        };
        if p.length.is_some_and(|l| l < frame::MIN_LENGTH) {
            an.push("short_frame_length_lt_10");
        }
        an.push(code);
        self.stats.messages += 1;
        let m = cx.emit(dir, OtBody::Hsms(rec), true);
        m.anomalies = an;
        m.frame = p.frame;
        m.ts_ns = p.ts_ns;
    }

    fn note_partial(&mut self, d: usize, rest: &[u8], fresh: bool, cx: &Cx<'_>) {
        let st = &mut self.dirs[d];
        if st.partial.is_some() && !fresh {
            return;
        }
        let length = frame::parse_length(rest);
        let header = frame::parse_header(rest).ok();
        st.partial = Some(Partial { header, length, frame: cx.frame, ts_ns: cx.ts_ns });
    }

    /// Looks for the next plausible message in `data` (protocols.md 1.9): a length in
    /// [10, cap], a header that passes [`header_plausible`], a body that is valid SECS-II as
    /// far as it has arrived, and, when the following header has arrived too, a sane one.
    fn find_sync(&mut self, data: &[u8], cap: u64, cx: &Cx<'_>) -> Sync {
        let limits = cx.limits;
        for i in 0..data.len() {
            let Some(cand) = data.get(i..) else { break };
            let Some(len) = frame::parse_length(cand) else {
                return Sync::NeedMore(i);
            };
            if len < frame::MIN_LENGTH || u64::from(len) > cap {
                continue;
            }
            let h = match frame::parse_header(cand) {
                Ok(h) => h,
                Err(FrameError::Incomplete { .. }) => return Sync::NeedMore(i),
                Err(_) => continue,
            };
            if !header_plausible(&h) {
                continue;
            }
            let total = usize::try_from(h.wire_len()).unwrap_or(usize::MAX);
            let start = frame::PREFIX_LEN + frame::HEADER_LEN;
            if h.is_data() && h.length > frame::MIN_LENGTH {
                // Check at most the first RESYNC_BODY_CHECK bytes of the body, so a scan costs
                // O(bytes scanned) whatever the candidates announce.
                let end = total.min(cand.len()).min(start + RESYNC_BODY_CHECK);
                let avail = cand.get(start..end).unwrap_or(&[]);
                if avail.is_empty() {
                    return Sync::NeedMore(i);
                }
                let body_len = total.saturating_sub(start);
                if !secs2::body_prefix_valid(avail, body_len, limits.max_secs2_depth, &mut self.scratch) {
                    continue;
                }
            }
            if let Some(next) = cand.get(total..) {
                if next.len() >= start {
                    match frame::parse_header(next) {
                        Ok(n) if u64::from(n.length) <= cap && n.ptype == 0 && n.stype.is_known() => {}
                        _ => continue,
                    }
                }
            }
            return Sync::At(i);
        }
        Sync::NeedMore(data.len())
    }

    fn skip(&mut self, d: usize, n: usize) {
        let n = n as u64;
        self.dirs[d].skipped += n;
        self.stats.garbage_bytes += n;
    }
}

impl AppParser for HsmsParser {
    fn proto(&self) -> AppProto {
        AppProto::Hsms
    }

    fn parse(&mut self, dir: Dir, data: &[u8], cx: &mut Cx<'_>) -> usize {
        self.expire(cx);
        let cap = u64::try_from(cx.limits.max_message_bytes).unwrap_or(u64::MAX);
        let d = dir.index();
        let mut pos = 0usize;
        while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
            if self.dirs[d].mode == Mode::Hunting {
                match self.find_sync(rest, cap, cx) {
                    Sync::At(i) => {
                        self.skip(d, i);
                        self.stats.resyncs += 1;
                        self.dirs[d].mode = Mode::Synced;
                        pos += i;
                        continue;
                    }
                    Sync::NeedMore(i) => {
                        self.skip(d, i);
                        pos += i;
                        break;
                    }
                }
            }
            match frame::parse_frame(rest, cap) {
                Ok((HsmsFrameSlice { header, body }, n)) => {
                    self.dirs[d].partial = None;
                    self.on_message(dir, header, Some(body), cx);
                    pos += n;
                }
                Err(FrameError::ShortLength { length }) => {
                    let total = frame::PREFIX_LEN + length as usize;
                    if rest.len() < total {
                        self.note_partial(d, rest, pos > 0, cx);
                        break;
                    }
                    self.dirs[d].partial = None;
                    self.on_short(dir, length, cx);
                    pos += total;
                }
                Err(FrameError::Oversize { header }) if header_plausible(&header) => {
                    self.dirs[d].partial = None;
                    self.on_message(dir, header, None, cx);
                    let total = usize::try_from(header.wire_len()).unwrap_or(usize::MAX);
                    pos = pos.saturating_add(total);
                    if pos >= data.len() {
                        return pos;
                    }
                }
                Err(FrameError::Oversize { .. }) => {
                    // A huge length on an implausible header: we are out of step.
                    self.dirs[d].mode = Mode::Hunting;
                    self.skip(d, 1);
                    pos += 1;
                }
                Err(FrameError::Incomplete { .. }) => {
                    self.note_partial(d, rest, pos > 0, cx);
                    break;
                }
            }
        }
        pos
    }

    fn gap(&mut self, dir: Dir, cx: &mut Cx<'_>) {
        self.expire(cx);
        let d = dir.index();
        if let Some(p) = self.dirs[d].partial.take() {
            if p.header.is_some() {
                self.emit_partial(dir, p, "truncated_by_gap", cx);
            }
        }
        self.dirs[d].mode = Mode::Hunting;
        self.dirs[d].gap_ts = Some(cx.ts_ns);
        self.state = HsmsConnState::Unknown;
        // Replies to primaries sent the other way may have been lost in the gap: forget
        // those transactions rather than report false timeouts.
        let other = dir.reverse().index();
        let before = self.pending.len();
        self.pending.retain(|k, _| k.dir != other);
        self.stats.dropped_on_gap += (before - self.pending.len()) as u64;
        self.recompute_deadline(Self::t3(cx));
    }

    fn close(&mut self, cx: &mut Cx<'_>) {
        self.expire(cx);
        for dir in [Dir::ToServer, Dir::ToClient] {
            let st = &mut self.dirs[dir.index()];
            let p = st.partial.take();
            if let (Some(p), Mode::Synced) = (p, st.mode) {
                self.emit_partial(dir, p, "length_exceeds_data", cx);
            }
        }
        let t3 = Self::t3(cx);
        let mut open: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        open.sort_by_key(|p| p.seq);
        for p in open {
            let outcome = if cx.ts_ns.saturating_sub(p.ts_ns) >= t3 {
                TxOutcome::Timeout
            } else {
                TxOutcome::UnansweredAtClose
            };
            cx.unanswered(AppProto::Hsms, p.dir, outcome, p.frame, p.ts_ns, p.what());
        }
        self.next_deadline = None;
    }

    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.pending.capacity() * (size_of::<TxKey>() + size_of::<Pending>() + 8)
            + self.one_way.capacity() * size_of::<(TxKey, Pending)>()
            + self.closed.capacity() * size_of::<Closed>()
            + self.reports.ids.capacity() * size_of::<IdKey>()
            + self.gs_sessions.capacity() * 2
            + self.scratch.capacity() * size_of::<Secs2Item>()
    }
}
