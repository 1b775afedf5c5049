//! Modbus/TCP polling of facility PLCs by SCADA/HMI/historian hosts: FC 43/14 device
//! identification at connection start, cyclic FC 3/4/1/2 reads with incrementing transaction
//! ids, occasional FC 6/16 writes, and exception responses for an unmapped block.

use super::fab::Fab;
use super::modbus as mb;
use super::rng::Rng;
use super::sched::{label, Ctx, PlantId, Queue, Side, TcpConn, NEVER, SEC};

/// A register's slowly varying base value, derived from the PLC's seed and the address.
fn reg(seed: u64, addr: u32) -> u16 {
    let mut x = seed ^ u64::from(addr).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 52) as u16
}

#[derive(Clone, Copy, Debug)]
struct Block {
    fc: u8,
    addr: u16,
    qty: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connect,
    Steady,
    /// The PLC was forced into listen-only mode: it ACKs requests at TCP level but answers
    /// none; the client gives up after this many more polls and reconnects.
    Silent(u32),
}

/// One client's Modbus connection to one PLC.
#[derive(Debug)]
pub(crate) struct ModbusPoller {
    plc: usize,
    conn: TcpConn,
    rng: Rng,
    unit: u8,
    tid: u16,
    blocks: Vec<Block>,
    bad: Block,
    phase: Phase,
    t_cycle: i64,
    t_write: i64,
    t_reconnect: i64,
    /// Nominal poll period.
    period: i64,
    /// Closes and reopens its connection now and then (an HMI that restarts its driver).
    reconnects: bool,
    seed: u64,
    next_port: u16,
    pub(crate) plant_listen: Option<PlantId>,
}

impl ModbusPoller {
    pub(crate) fn new(fab: &Fab, plc: usize, seed: u64, mid_stream: bool) -> Self {
        let mut rng = Rng::new(seed, 0x2000 + plc as u64);
        let node = &fab.plcs[plc];
        let id = &fab.ids.plcs[node.ident];
        let next_port = rng.range(49_152, 65_000) as u16;
        let mut conn =
            TcpConn::new(node.client, node.host, next_port, 502, fab.encap(node.client, node.host), &mut rng);
        conn.open = mid_stream;
        let mut blocks = vec![Block { fc: 3, addr: [0, 100, 400][plc % 3], qty: rng.range(10, 41) as u16 }];
        if plc % 2 == 0 {
            blocks.push(Block { fc: 4, addr: 0, qty: rng.range(8, 31) as u16 });
        }
        if plc % 3 != 2 {
            blocks.push(Block { fc: 1, addr: 0, qty: rng.range(16, 65) as u16 });
        }
        if plc % 4 == 1 {
            blocks.push(Block { fc: 2, addr: 0, qty: rng.range(8, 33) as u16 });
        }
        ModbusPoller {
            plc,
            conn,
            unit: id.unit_id,
            tid: rng.range(0, 60_000) as u16,
            blocks,
            bad: Block { fc: 3, addr: 9000, qty: 10 },
            phase: if mid_stream { Phase::Steady } else { Phase::Connect },
            t_cycle: 0,
            t_write: 0,
            t_reconnect: NEVER,
            period: [2 * SEC, 3 * SEC, 5 * SEC][plc % 3],
            reconnects: plc % 5 == 2,
            seed: rng.next_u64(),
            next_port: next_port.wrapping_add(1),
            plant_listen: None,
            rng,
        }
    }

    fn tid(&mut self) -> u16 {
        self.tid = self.tid.wrapping_add(1);
        self.tid
    }

    fn us(&mut self, lo: u64, hi: u64) -> i64 {
        self.rng.range(lo, hi) as i64 * 1000
    }

    /// One request and its response; returns the time of the response.
    fn exchange(
        &mut self,
        q: &mut Queue,
        t: i64,
        fc: u8,
        req: impl FnOnce(&mut Vec<u8>),
        rsp: impl FnOnce(&mut Vec<u8>) -> u32,
    ) -> i64 {
        let s = q.buf.len();
        req(&mut q.buf);
        let len = q.since(s);
        let t1 = self.conn.send(q, t, Side::Client, len, &[label::modbus(fc, label::MB_REQUEST)]);
        let t2 = t1 + self.us(1_500, 12_000);
        let s = q.buf.len();
        let kind = rsp(&mut q.buf);
        let len = q.since(s);
        self.conn.send(q, t2, Side::Server, len, &[label::modbus(fc, kind)])
    }

    fn connect(&mut self, now: i64, q: &mut Queue, fab: &Fab) -> i64 {
        let node = &fab.plcs[self.plc];
        let id = &fab.ids.plcs[node.ident];
        self.conn = TcpConn::new(
            node.client,
            node.host,
            self.next_port,
            502,
            fab.encap(node.client, node.host),
            &mut self.rng,
        );
        self.next_port = if self.next_port >= 65_000 { 49_152 } else { self.next_port + 1 };
        let mut t = self.conn.handshake(q, now, &mut self.rng) + self.us(300, 3_000);
        // Read Device Identification, regular category, continuing while "more follows".
        let objs: Vec<(u8, String)> = [
            (0u8, &id.vendor_name),
            (1, &id.product_code),
            (2, &id.revision),
            (3, &id.vendor_url),
            (4, &id.product_name),
            (5, &id.model_name),
            (6, &id.user_application_name),
        ]
        .into_iter()
        .filter(|(k, v)| *k < 3 || !v.is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect();
        let mut first = 0usize;
        let unit = self.unit;
        while first < objs.len() {
            let tid = self.tid();
            let obj_id = objs[first].0;
            let rest: Vec<(u8, &str)> = objs[first..].iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut sent = 0;
            t = self.exchange(
                q,
                t,
                43,
                |b| mb::devid_req(b, tid, unit, 2, obj_id),
                |b| {
                    sent = mb::devid_rsp(b, tid, unit, 2, 0x82, &rest);
                    label::MB_RESPONSE
                },
            ) + self.us(500, 3_000);
            first += sent.max(1);
        }
        t
    }

    fn poll(&mut self, q: &mut Queue, t: i64, b: Block, exception: bool) -> i64 {
        let tid = self.tid();
        let unit = self.unit;
        let noise = self.rng.next_u64();
        let seed = self.seed;
        let regs = (0..u32::from(b.qty))
            .map(move |i| reg(seed, u32::from(b.addr) + i).wrapping_add(((noise >> (i % 60)) & 7) as u16));
        self.exchange(
            q,
            t,
            b.fc,
            |buf| mb::read_req(buf, tid, unit, b.fc, b.addr, b.qty),
            |buf| {
                if exception {
                    mb::exception(buf, tid, unit, b.fc, 2);
                    label::MB_EXCEPTION
                } else if b.fc >= 3 {
                    mb::regs_rsp(buf, tid, unit, b.fc, regs);
                    label::MB_RESPONSE
                } else {
                    mb::bits_rsp(buf, tid, unit, b.fc, b.qty, noise);
                    label::MB_RESPONSE
                }
            },
        )
    }

    fn cycle(&mut self, q: &mut Queue, now: i64) -> i64 {
        let mut t = now;
        let blocks = std::mem::take(&mut self.blocks);
        for b in &blocks {
            t = self.poll(q, t, *b, false) + self.us(400, 3_000);
        }
        self.blocks = blocks;
        // An HMI screen that asks for an unmapped block now and then.
        if self.plc % 3 == 1 && self.rng.chance(0.03) {
            let bad = self.bad;
            t = self.poll(q, t, bad, true) + self.us(400, 3_000);
        }
        t
    }

    fn write(&mut self, q: &mut Queue, now: i64) -> i64 {
        let tid = self.tid();
        let unit = self.unit;
        if self.rng.chance(0.7) {
            let addr = [0u16, 100, 400][self.plc % 3] + self.rng.below(10) as u16;
            let value = 100 + self.rng.below(900) as u16;
            self.exchange(
                q,
                now,
                6,
                |b| mb::write_single(b, tid, unit, addr, value),
                |b| {
                    mb::write_single(b, tid, unit, addr, value);
                    label::MB_RESPONSE
                },
            )
        } else {
            let addr = 200 + self.rng.below(20) as u16;
            let n = 2 + self.rng.below(6) as usize;
            let values: Vec<u16> = (0..n).map(|_| self.rng.below(2000) as u16).collect();
            self.exchange(
                q,
                now,
                16,
                |b| mb::write_multiple(b, tid, unit, addr, &values),
                |b| {
                    mb::write_multiple_rsp(b, tid, unit, addr, n as u16);
                    label::MB_RESPONSE
                },
            )
        }
    }

    fn delayed_ack(&mut self, q: &mut Queue, t: i64) {
        if self.rng.chance(0.8) {
            let d = self.us(40_000, 200_000);
            self.conn.ack(q, t + d, Side::Client);
        }
    }

    fn init_timers(&mut self, t: i64, ctx: &Ctx) {
        self.t_cycle = t + ctx.period(&mut self.rng, self.period);
        self.t_write = t + ctx.think(&mut self.rng, 10 * 60 * SEC);
        self.t_reconnect = if self.reconnects { t + ctx.think(&mut self.rng, 40 * 60 * SEC) } else { NEVER };
    }

    pub(crate) fn step(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab) -> i64 {
        if self.phase == Phase::Connect {
            let t = self.connect(now, q, fab);
            self.phase = Phase::Steady;
            self.init_timers(t, ctx);
            return self.t_cycle.min(self.t_write);
        }
        if self.t_cycle == 0 {
            self.init_timers(now, ctx);
        }
        if ctx.due(self.plant_listen) {
            if let Some(p) = self.plant_listen {
                self.force_listen_only(q, now, ctx, fab, p);
            }
            return self.t_cycle.min(self.t_write).min(self.t_reconnect);
        }
        let due = self.t_cycle.min(self.t_write).min(self.t_reconnect);
        if now < due {
            return due;
        }
        if due == self.t_reconnect {
            let t = self.conn.close(q, now, Side::Client, &mut self.rng);
            self.phase = Phase::Connect;
            return t + self.us(500_000, 3_000_000);
        }
        if due == self.t_write {
            let t = self.write(q, now);
            self.delayed_ack(q, t);
            self.t_write = now + ctx.think(&mut self.rng, 10 * 60 * SEC);
            return self.t_cycle.min(self.t_write).min(self.t_reconnect);
        }
        if let Phase::Silent(n) = self.phase {
            // The request is ACKed by the TCP stack but never answered.
            let tid = self.tid();
            let unit = self.unit;
            let b = self.blocks.first().copied().unwrap_or(self.bad);
            let s = q.buf.len();
            mb::read_req(&mut q.buf, tid, unit, b.fc, b.addr, b.qty);
            let len = q.since(s);
            let t = self.conn.send(q, now, Side::Client, len, &[label::modbus(b.fc, label::MB_REQUEST)]);
            let d = self.us(200, 900);
            self.conn.ack(q, t + d, Side::Server);
            if n <= 1 {
                let t = self.conn.close(q, t + SEC, Side::Client, &mut self.rng);
                self.phase = Phase::Connect;
                return t + self.us(1_000_000, 3_000_000);
            }
            self.phase = Phase::Silent(n - 1);
            self.t_cycle = now + SEC + ctx.period(&mut self.rng, self.period);
            return self.t_cycle;
        }
        let t = self.cycle(q, now);
        self.delayed_ack(q, t);
        self.t_cycle = now + ctx.period(&mut self.rng, self.period);
        self.t_cycle.min(self.t_write).min(self.t_reconnect)
    }

    /// Planted: an unknown host connects and sends FC 8 sub-function 4 (Force Listen Only
    /// Mode), which gets no response; the PLC then stops answering its regular client.
    fn force_listen_only(&mut self, q: &mut Queue, now: i64, ctx: &mut Ctx, fab: &Fab, p: PlantId) {
        let node = &fab.plcs[self.plc];
        let port = self.rng.range(49_152, 65_000) as u16;
        let mut c = TcpConn::new(
            fab.contractor,
            node.host,
            port,
            502,
            fab.encap(fab.contractor, node.host),
            &mut self.rng,
        );
        let t = c.handshake(q, now, &mut self.rng) + self.us(2_000, 20_000);
        q.mark = Ctx::mark(p);
        let s = q.buf.len();
        mb::diagnostics(&mut q.buf, 1, self.unit, 4, 0);
        let len = q.since(s);
        let t = c.send(q, t, Side::Client, len, &[label::modbus(8, label::MB_REQUEST)]);
        q.mark = 0;
        ctx.set_generated(p);
        let d = self.us(200, 900);
        c.ack(q, t + d, Side::Server);
        c.close(q, t + self.us(300_000, 900_000), Side::Client, &mut self.rng);
        self.phase = Phase::Silent(4 + self.rng.below(3) as u32);
    }
}
