//! HSMS links between EAP hosts (active, client) and tool PCs (passive, server): connection and
//! Select, S1F13/F14 and S1F1/F2 identity, S2F37 event enable, S1F3/F4 status polling, lot
//! processing (S2F41 PP-SELECT/START/STOP, S6F11 event reports, S7F3 recipe downloads), S5F1
//! alarms, S7F19 recipe directory, Linktest.

use super::fab::Fab;
use super::hsms as h;
use super::rng::Rng;
use super::sched::{label, Ctx, PlantId, Queue, Side, TcpConn, MS, SEC};

const CEID_PROCESS_STARTED: u32 = 1001;
const CEID_PROCESS_COMPLETED: u32 = 1002;
const CEID_PROCESS_STOPPED: u32 = 1003;
const CEID_WAFER_STARTED: u32 = 1010;
const CEID_WAFER_COMPLETED: u32 = 1011;
const RPTID_LOT: u32 = 100;

const ALARMS: &[(u32, u8, &str)] = &[
    (2001, 4, "CHAMBER PRESSURE OUT OF RANGE"),
    (2002, 6, "RF REFLECTED POWER HIGH"),
    (2003, 3, "HE BACKSIDE FLOW LOW"),
    (2004, 2, "DOOR INTERLOCK OPEN"),
    (2005, 6, "VACUUM PUMP WARNING"),
    (2006, 7, "PM DUE IN 24H"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connect,
    Steady,
    /// Connection closed by the tool (software update); the EAP reconnects at the given time.
    Down(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lot {
    Idle,
    Running { wafers_left: u32, slot: u32 },
}

/// One HSMS link.
#[derive(Debug)]
pub(crate) struct HsmsLink {
    tool: usize,
    conn: TcpConn,
    rng: Rng,
    dev: u16,
    host_sys: u32,
    eq_sys: u32,
    softrev: String,
    /// This tool's stack writes the 4-byte length prefix in its own segment.
    split_prefix: bool,
    events_enabled: bool,
    phase: Phase,
    t_linktest: i64,
    t_status: i64,
    t_lot: i64,
    t_alarm: i64,
    t_misc: i64,
    lot: Lot,
    lot_no: u32,
    ppid: String,
    dataid: u32,
    alarm: Option<usize>,
    svids: Vec<u32>,
    next_port: u16,
    pub(crate) plant_softrev: Option<PlantId>,
    pub(crate) plant_events: Option<PlantId>,
}

/// First wake time of a link.
pub(crate) fn start_time(rng: &mut Rng) -> i64 {
    rng.range(0, 3 * SEC as u64) as i64
}

impl HsmsLink {
    pub(crate) fn new(fab: &Fab, tool: usize, seed: u64, mid_stream: bool) -> Self {
        let mut rng = Rng::new(seed, 0x1000 + tool as u64);
        let node = &fab.tools[tool];
        let id = &fab.ids.tools[node.ident];
        let next_port = rng.range(33_000, 60_000) as u16;
        let conn = TcpConn::new(
            node.eap,
            node.host,
            next_port,
            id.hsms_port,
            fab.encap(node.eap, node.host),
            &mut rng,
        );
        let nsv = 4 + tool % 5;
        let svids = (0..nsv).map(|i| [1u32, 2, 3, 10, 11, 20, 21, 30, 31][i % 9]).collect();
        let mut link = HsmsLink {
            tool,
            conn,
            dev: id.device_id,
            host_sys: rng.range(1, 5000) as u32,
            eq_sys: (u32::from(id.device_id) << 16) | rng.range(1, 5000) as u32,
            softrev: id.softrev.clone(),
            split_prefix: tool % 7 == 3,
            events_enabled: true,
            phase: if mid_stream { Phase::Steady } else { Phase::Connect },
            t_linktest: 0,
            t_status: 0,
            t_lot: 0,
            t_alarm: 0,
            t_misc: 0,
            lot: Lot::Idle,
            lot_no: rng.range(1000, 9000) as u32,
            ppid: String::new(),
            dataid: rng.range(1, 1000) as u32,
            alarm: None,
            svids,
            next_port: next_port.wrapping_add(1),
            plant_softrev: None,
            plant_events: None,
            rng,
        };
        if mid_stream {
            link.conn.open = true;
        }
        link
    }

    fn hsys(&mut self) -> u32 {
        self.host_sys = self.host_sys.wrapping_add(1);
        self.host_sys
    }

    fn esys(&mut self) -> u32 {
        self.eq_sys = self.eq_sys.wrapping_add(1);
        self.eq_sys
    }

    fn send(&mut self, q: &mut Queue, t: i64, side: Side, start: usize, labels: &[u32]) -> i64 {
        let len = q.since(start);
        if side == Side::Server && self.split_prefix && len > 4 && labels.len() == 1 {
            self.conn.send_parts(q, t, side, &[4, len - 4], labels)
        } else {
            self.conn.send(q, t, side, len, labels)
        }
    }

    /// The receiver of a primary answers after `latency`; a slow answer is preceded by the
    /// receiver's delayed ACK.
    fn reply_after(&mut self, q: &mut Queue, t: i64, receiver: Side, latency: i64) -> i64 {
        let delack = if receiver == Side::Server { 200 * MS } else { 40 * MS };
        if latency > delack {
            self.conn.ack(q, t + delack, receiver);
        }
        t + latency
    }

    /// A delayed ACK for the last message, unless the side talks again soon.
    fn maybe_ack(&mut self, q: &mut Queue, t: i64, side: Side) {
        if self.rng.chance(0.55) {
            let d = if side == Side::Server { 200 * MS } else { 40 * MS };
            self.conn.ack(q, t + d, side);
        }
    }

    // Both messages of an exchange with their labels and the latency between them.
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &mut self,
        q: &mut Queue,
        t: i64,
        from: Side,
        lp: u32,
        primary: impl FnOnce(&mut Vec<u8>),
        latency: i64,
        lr: u32,
        reply: impl FnOnce(&mut Vec<u8>),
    ) -> i64 {
        let s = q.buf.len();
        primary(&mut q.buf);
        let t1 = self.send(q, t, from, s, &[lp]);
        let t2 = self.reply_after(q, t1, from.other(), latency);
        let s = q.buf.len();
        reply(&mut q.buf);
        self.send(q, t2, from.other(), s, &[lr])
    }

    fn ms(&mut self, lo: u64, hi: u64) -> i64 {
        (self.rng.range(lo * 1000, hi * 1000) as i64) * 1000
    }

    /// Connects, Selects, establishes communications and reads the identity. `mark`: the
    /// planted SOFTREV change whose messages these are.
    fn connect(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab, mark: Option<PlantId>) -> i64 {
        let node = &fab.tools[self.tool];
        let id = &fab.ids.tools[node.ident];
        self.conn = TcpConn::new(
            node.eap,
            node.host,
            self.next_port,
            id.hsms_port,
            fab.encap(node.eap, node.host),
            &mut self.rng,
        );
        self.next_port = if self.next_port >= 60_999 { 32_768 } else { self.next_port + 1 };
        let mut t = self.conn.handshake(q, now, &mut self.rng);
        t += self.ms(1, 5);
        let sys = self.hsys();
        let lat = self.ms(1, 4);
        t = self.exchange(
            q,
            t,
            Side::Client,
            label::SELECT_REQ,
            |b| h::control(b, h::STYPE_SELECT_REQ, 0, sys),
            lat,
            label::SELECT_RSP,
            |b| h::control(b, h::STYPE_SELECT_RSP, 0, sys),
        );
        if let Some(p) = mark {
            q.mark = Ctx::mark(p);
        }
        let dev = self.dev;
        let (mdln, softrev) = (id.mdln.clone(), self.softrev.clone());
        t += self.ms(2, 10);
        let sys = self.hsys();
        let lat = self.ms(2, 15);
        t = self.exchange(
            q,
            t,
            Side::Client,
            label::hsms(1, 13),
            |b| h::s1f13_host(b, dev, sys),
            lat,
            label::hsms(1, 14),
            |b| h::s1_identity(b, dev, 14, sys, &mdln, &softrev),
        );
        t += self.ms(2, 10);
        let sys = self.hsys();
        let lat = self.ms(2, 15);
        t = self.exchange(
            q,
            t,
            Side::Client,
            label::hsms(1, 1),
            |b| h::header_only(b, dev, 1, 1, true, sys),
            lat,
            label::hsms(1, 2),
            |b| h::s1_identity(b, dev, 2, sys, &mdln, &softrev),
        );
        if let Some(p) = mark {
            q.mark = 0;
            ctx.set_generated(p);
        }
        // The GEM host's initialisation: enable all event reports, read the recipe directory.
        t += self.ms(2, 10);
        let sys = self.hsys();
        let lat = self.ms(2, 20);
        t = self.exchange(
            q,
            t,
            Side::Client,
            label::hsms(2, 37),
            |b| h::s2f37(b, dev, sys, true, &[]),
            lat,
            label::hsms(2, 38),
            |b| h::ack_reply(b, dev, 2, 38, sys, 0),
        );
        self.events_enabled = true;
        t += self.ms(2, 10);
        t = self.recipe_directory(q, t, fab);
        self.maybe_ack(q, t, Side::Client);
        t
    }

    fn ppids(&self, fab: &Fab) -> [String; 4] {
        let id = &fab.ids.tools[fab.tools[self.tool].ident];
        let area: String = id.area.chars().take(4).collect::<String>().to_uppercase();
        [
            format!("{area}_STD_{:03}", 100 + self.tool % 7),
            format!("{area}_HV_{:03}", 200 + self.tool % 5),
            format!("{area}_LOWK_{:03}", 300 + self.tool % 3),
            format!("{area}_QUAL_MON"),
        ]
    }

    fn recipe_directory(&mut self, q: &mut Queue, t: i64, fab: &Fab) -> i64 {
        let dev = self.dev;
        let sys = self.hsys();
        let lat = self.ms(5, 40);
        let ppids = self.ppids(fab);
        self.exchange(
            q,
            t,
            Side::Client,
            label::hsms(7, 19),
            |b| h::header_only(b, dev, 7, 19, true, sys),
            lat,
            label::hsms(7, 20),
            |b| {
                let s = h::data(b, dev, 7, 20, false, sys);
                h::list(b, ppids.len());
                for p in &ppids {
                    h::ascii(b, p);
                }
                h::end(b, s);
            },
        )
    }

    fn next_due(&self) -> i64 {
        self.t_linktest.min(self.t_status).min(self.t_lot).min(self.t_alarm).min(self.t_misc)
    }

    fn init_timers(&mut self, t: i64, ctx: &Ctx) {
        self.t_linktest = t + ctx.period(&mut self.rng, 60 * SEC);
        self.t_status = t + ctx.think(&mut self.rng, 5 * SEC);
        self.t_lot = t + ctx.think(&mut self.rng, 30 * SEC);
        self.t_alarm = t + ctx.think(&mut self.rng, 20 * 60 * SEC);
        self.t_misc = t + ctx.think(&mut self.rng, 10 * 60 * SEC);
    }

    pub(crate) fn step(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab) -> i64 {
        match self.phase {
            Phase::Connect => {
                let t = self.connect(now, q, ctx, fab, None);
                self.phase = Phase::Steady;
                self.init_timers(t, ctx);
                return self.next_due();
            }
            Phase::Down(at) => {
                if now < at {
                    return at;
                }
                let t = self.connect(now, q, ctx, fab, self.plant_softrev);
                self.phase = Phase::Steady;
                self.init_timers(t, ctx);
                return self.next_due();
            }
            Phase::Steady => {}
        }
        if self.t_linktest == 0 {
            self.init_timers(now, ctx);
        }
        if ctx.due(self.plant_softrev) {
            // The tool restarts after a software update: it closes the link; the EAP
            // reconnects after T5 and the new SOFTREV shows in S1F14 and S1F2.
            let t = self.conn.close(q, now, Side::Server, &mut self.rng);
            let id = &fab.ids.tools[fab.tools[self.tool].ident];
            self.softrev = id.softrev_upgrade.clone();
            let at = t + self.rng.range(10 * SEC as u64, 14 * SEC as u64) as i64;
            self.phase = Phase::Down(at);
            self.lot = Lot::Idle;
            return at;
        }
        if ctx.due(self.plant_events) {
            if let Some(p) = self.plant_events {
                q.mark = Ctx::mark(p);
                let dev = self.dev;
                let sys = self.hsys();
                let lat = self.ms(3, 20);
                let t = self.exchange(
                    q,
                    now,
                    Side::Client,
                    label::hsms(2, 37),
                    |b| h::s2f37(b, dev, sys, false, &[]),
                    lat,
                    label::hsms(2, 38),
                    |b| h::ack_reply(b, dev, 2, 38, sys, 0),
                );
                q.mark = 0;
                ctx.set_generated(p);
                self.events_enabled = false;
                self.maybe_ack(q, t, Side::Client);
            }
            return self.next_due();
        }
        let due = self.next_due();
        if now < due {
            return due;
        }
        if due == self.t_linktest {
            let sys = self.hsys();
            let lat = self.ms(0, 2);
            let t = self.exchange(
                q,
                now,
                Side::Client,
                label::LINKTEST_REQ,
                |b| h::control(b, h::STYPE_LINKTEST_REQ, 0, sys),
                lat,
                label::LINKTEST_RSP,
                |b| h::control(b, h::STYPE_LINKTEST_RSP, 0, sys),
            );
            self.maybe_ack(q, t, Side::Client);
            self.t_linktest = now + ctx.period(&mut self.rng, 60 * SEC);
        } else if due == self.t_status {
            let t = self.status_poll(q, now);
            self.maybe_ack(q, t, Side::Client);
            self.t_status = now + ctx.period(&mut self.rng, 4 * SEC);
        } else if due == self.t_lot {
            self.lot_step(q, now, ctx, fab);
        } else if due == self.t_alarm {
            let t = self.alarm(q, now);
            self.maybe_ack(q, t, Side::Server);
            self.t_alarm = now
                + if self.alarm.is_some() {
                    ctx.think(&mut self.rng, 3 * 60 * SEC)
                } else {
                    ctx.think(&mut self.rng, 20 * 60 * SEC)
                };
        } else {
            let t = if self.rng.chance(0.5) {
                let dev = self.dev;
                let sys = self.hsys();
                let lat = self.ms(2, 15);
                let id = &fab.ids.tools[fab.tools[self.tool].ident];
                let (mdln, softrev) = (id.mdln.clone(), self.softrev.clone());
                self.exchange(
                    q,
                    now,
                    Side::Client,
                    label::hsms(1, 1),
                    |b| h::header_only(b, dev, 1, 1, true, sys),
                    lat,
                    label::hsms(1, 2),
                    |b| h::s1_identity(b, dev, 2, sys, &mdln, &softrev),
                )
            } else {
                self.recipe_directory(q, now, fab)
            };
            self.maybe_ack(q, t, Side::Client);
            self.t_misc = now + ctx.think(&mut self.rng, 10 * 60 * SEC);
        }
        self.next_due()
    }

    fn status_poll(&mut self, q: &mut Queue, now: i64) -> i64 {
        let dev = self.dev;
        let sys = self.hsys();
        let lat = self.ms(2, 25);
        let svids = std::mem::take(&mut self.svids);
        let mut vals = [0u64; 9];
        for v in vals.iter_mut() {
            *v = self.rng.next_u64();
        }
        let busy = matches!(self.lot, Lot::Running { .. });
        let t = self.exchange(
            q,
            now,
            Side::Client,
            label::hsms(1, 3),
            |b| {
                let s = h::data(b, dev, 1, 3, true, sys);
                h::list(b, svids.len());
                for sv in &svids {
                    h::u4(b, *sv);
                }
                h::end(b, s);
            },
            lat,
            label::hsms(1, 4),
            |b| {
                let s = h::data(b, dev, 1, 4, false, sys);
                h::list(b, svids.len());
                for (i, sv) in svids.iter().enumerate() {
                    let r = vals[i % vals.len()];
                    match sv % 4 {
                        0 => h::u1(b, if busy { 3 } else { 1 }),
                        1 => h::f4(b, 20.0 + (r % 5000) as f32 / 100.0),
                        2 => h::u4(b, (r % 1_000_000) as u32),
                        _ => h::ascii(b, if busy { "EXECUTING" } else { "IDLE" }),
                    }
                }
                h::end(b, s);
            },
        );
        self.svids = svids;
        t
    }

    fn alarm(&mut self, q: &mut Queue, now: i64) -> i64 {
        let dev = self.dev;
        let sys = self.esys();
        let lat = self.ms(1, 10);
        let (idx, set) = match self.alarm.take() {
            Some(i) => (i, false),
            None => {
                let i = self.rng.idx(ALARMS.len());
                self.alarm = Some(i);
                (i, true)
            }
        };
        let (alid, cat, text) = ALARMS[idx % ALARMS.len()];
        let alcd = if set { 0x80 | cat } else { cat };
        self.exchange(
            q,
            now,
            Side::Server,
            label::hsms(5, 1),
            |b| {
                let s = h::data(b, dev, 5, 1, true, sys);
                h::list(b, 3);
                h::binary(b, &[alcd]);
                h::u4(b, alid);
                h::ascii(b, text);
                h::end(b, s);
            },
            lat,
            label::hsms(5, 2),
            |b| h::ack_reply(b, dev, 5, 2, sys, 0),
        )
    }

    /// One S6F11 event report (W) body.
    // The arguments are the report's fields, in wire order.
    #[allow(clippy::too_many_arguments)]
    fn s6f11(
        b: &mut Vec<u8>,
        dev: u16,
        sys: u32,
        dataid: u32,
        ceid: u32,
        lot: &str,
        ppid: &str,
        slot: u32,
        v: f32,
    ) {
        let s = h::data(b, dev, 6, 11, true, sys);
        h::list(b, 3);
        h::u4(b, dataid);
        h::u4(b, ceid);
        h::list(b, 1);
        h::list(b, 2);
        h::u4(b, RPTID_LOT);
        h::list(b, 4);
        h::ascii(b, lot);
        h::ascii(b, ppid);
        h::u1(b, slot as u8);
        h::f4(b, v);
        h::end(b, s);
    }

    /// The tool reports `ceids` (several in one segment when more than one); the host acks
    /// each, again in one segment.
    fn events(&mut self, q: &mut Queue, t: i64, ceids: &[u32], slot: u32) -> i64 {
        if !self.events_enabled || ceids.is_empty() {
            return t;
        }
        let dev = self.dev;
        let lot = format!("LOT{:06}", self.lot_no);
        let start = q.buf.len();
        let mut syss = Vec::with_capacity(ceids.len());
        let mut labels = Vec::with_capacity(ceids.len());
        for c in ceids {
            let sys = self.esys();
            self.dataid = self.dataid.wrapping_add(1);
            let v = 20.0 + (self.rng.below(3000) as f32) / 100.0;
            Self::s6f11(&mut q.buf, dev, sys, self.dataid, *c, &lot, &self.ppid, slot, v);
            syss.push(sys);
            labels.push(label::hsms(6, 11));
        }
        let len = q.since(start);
        let t1 = self.conn.send(q, t, Side::Server, len, &labels);
        let t2 = t1 + self.ms(1, 8);
        let start = q.buf.len();
        for sys in &syss {
            h::ack_reply(&mut q.buf, dev, 6, 12, *sys, 0);
        }
        let len = q.since(start);
        let labels: Vec<u32> = syss.iter().map(|_| label::hsms(6, 12)).collect();
        self.conn.send(q, t2, Side::Client, len, &labels)
    }

    /// The tool's delayed ACK of the host's S6F12 replies (none when no event was sent).
    fn ack_events(&mut self, q: &mut Queue, t: i64) {
        if self.events_enabled {
            self.maybe_ack(q, t, Side::Server);
        }
    }

    fn rcmd(&mut self, q: &mut Queue, t: i64, rcmd: &'static str, params: &[(&str, &str)], hcack: u8) -> i64 {
        let dev = self.dev;
        let sys = self.hsys();
        let lat = self.ms(5, 60);
        self.exchange(
            q,
            t,
            Side::Client,
            label::hsms(2, 41),
            |b| h::s2f41(b, dev, sys, rcmd, params),
            lat,
            label::hsms(2, 42),
            |b| h::s2f42(b, dev, sys, hcack),
        )
    }

    fn lot_step(&mut self, q: &mut Queue, now: i64, ctx: &mut Ctx, fab: &Fab) {
        match self.lot {
            Lot::Idle => {
                let ppids = self.ppids(fab);
                self.ppid = ppids[self.rng.idx(ppids.len())].clone();
                self.lot_no = self.lot_no.wrapping_add(1 + self.rng.below(40) as u32);
                let mut t = now;
                if self.rng.chance(0.12) {
                    // Recipe download from the recipe management system through the EAP.
                    let size = self.rng.range(8_000, 60_000) as usize;
                    let body_seed = self.rng.next_u64();
                    t = download(self, q, t, size, body_seed) + self.ms(5, 50);
                }
                let ppid = self.ppid.clone();
                t = self.rcmd(q, t, "PP-SELECT", &[("PPID", &ppid)], 0) + self.ms(10, 200);
                let lot = format!("LOT{:06}", self.lot_no);
                let hcack = if self.rng.chance(0.2) { 4 } else { 0 };
                t = self.rcmd(q, t, "START", &[("LOTID", &lot), ("PORTID", "1")], hcack) + self.ms(50, 500);
                let wafers = 1 + self.rng.below(25) as u32;
                t = self.events(q, t, &[CEID_PROCESS_STARTED, CEID_WAFER_STARTED], 1);
                self.ack_events(q, t);
                self.lot = Lot::Running { wafers_left: wafers, slot: 1 };
                self.t_lot = now + ctx.period(&mut self.rng, 40 * SEC);
            }
            Lot::Running { wafers_left, slot } => {
                if self.rng.chance(0.01) {
                    let mut t = self.rcmd(q, now, "STOP", &[], 0) + self.ms(100, 800);
                    t = self.events(q, t, &[CEID_PROCESS_STOPPED], slot);
                    self.ack_events(q, t);
                    self.lot = Lot::Idle;
                    self.t_lot = now + ctx.think(&mut self.rng, 120 * SEC);
                } else if wafers_left <= 1 {
                    let t = self.events(q, now, &[CEID_WAFER_COMPLETED, CEID_PROCESS_COMPLETED], slot);
                    self.ack_events(q, t);
                    self.lot = Lot::Idle;
                    self.t_lot = now + ctx.think(&mut self.rng, 90 * SEC);
                } else {
                    let t = self.events(q, now, &[CEID_WAFER_COMPLETED, CEID_WAFER_STARTED], slot + 1);
                    self.ack_events(q, t);
                    self.lot = Lot::Running { wafers_left: wafers_left - 1, slot: slot + 1 };
                    self.t_lot = now + ctx.period(&mut self.rng, 40 * SEC);
                }
            }
        }
    }
}

/// S7F3 recipe download from the host and the tool's S7F4.
fn download(link: &mut HsmsLink, q: &mut Queue, t: i64, size: usize, body_seed: u64) -> i64 {
    let dev = link.dev;
    let sys = link.hsys();
    let lat = link.ms(80, 400);
    let ppid = link.ppid.clone();
    link.exchange(
        q,
        t,
        Side::Client,
        label::hsms(7, 3),
        |b| h::s7f3(b, dev, sys, &ppid, size, body_seed),
        lat,
        label::hsms(7, 4),
        |b| h::ack_reply(b, dev, 7, 4, sys, 0),
    )
}
