//! Planted deviations that are sessions of their own: a rogue HSMS host, an unexpected Modbus
//! writer, an enterprise host reaching a PLC, a Telnet session to a tool PC and a Who-Is flood.
//! (Deviations inside existing conversations, such as a SOFTREV change, are planted by the
//! actor that owns the conversation.)

use super::bacnet as bn;
use super::bms;
use super::fab::Fab;
use super::hsms as h;
use super::it::telnet;
use super::modbus as mb;
use super::rng::Rng;
use super::sched::{label, udp, Class, Ctx, PlantId, Queue, Side, TcpConn, MS, NEVER};

#[derive(Clone, Copy, Debug)]
pub(crate) enum Scenario {
    RogueHsms { tool: usize, session: PlantId, rcmd: PlantId, recipe: PlantId },
    ModbusWrite { plc: usize, id: PlantId },
    Conduit { plc: usize, id: PlantId },
    Telnet { tool: usize, id: PlantId },
    WhoisFlood { id: PlantId },
}

impl Scenario {
    fn first(self) -> PlantId {
        match self {
            Scenario::RogueHsms { session, .. } => session,
            Scenario::ModbusWrite { id, .. }
            | Scenario::Conduit { id, .. }
            | Scenario::Telnet { id, .. }
            | Scenario::WhoisFlood { id } => id,
        }
    }
}

#[derive(Debug)]
pub(crate) struct PlantActor {
    sc: Scenario,
    rng: Rng,
}

/// Primary from `from`, reply after `latency`; returns the time of the reply.
// Both messages of an exchange with their labels and the latency between them.
#[allow(clippy::too_many_arguments)]
fn exchange(
    conn: &mut TcpConn,
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
    let t1 = conn.send(q, t, from, q.since(s), &[lp]);
    let s = q.buf.len();
    reply(&mut q.buf);
    conn.send(q, t1 + latency, from.other(), q.since(s), &[lr])
}

impl PlantActor {
    pub(crate) fn new(sc: Scenario, seed: u64, stream: u64) -> Self {
        PlantActor { sc, rng: Rng::new(seed, 0x6000 + stream) }
    }

    pub(crate) fn step(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab) -> i64 {
        if !ctx.due(Some(self.sc.first())) {
            return NEVER;
        }
        match self.sc {
            Scenario::RogueHsms { tool, session, rcmd, recipe } => {
                self.rogue_hsms(q, now, ctx, fab, tool, [session, rcmd, recipe])
            }
            Scenario::ModbusWrite { plc, id } => self.modbus_write(q, now, ctx, fab, plc, id),
            Scenario::Conduit { plc, id } => self.conduit(q, now, ctx, fab, plc, id),
            Scenario::Telnet { tool, id } => self.telnet(q, now, ctx, fab, tool, id),
            Scenario::WhoisFlood { id } => self.whois_flood(q, now, ctx, fab, id),
        }
        q.mark = 0;
        NEVER
    }

    fn ms(&mut self, lo: u64, hi: u64) -> i64 {
        self.rng.range(lo * 1000, hi * 1000) as i64 * 1000
    }

    fn rogue_hsms(
        &mut self,
        q: &mut Queue,
        now: i64,
        ctx: &mut Ctx,
        fab: &Fab,
        tool: usize,
        ids: [PlantId; 3],
    ) {
        let [session, rcmd, recipe] = ids;
        q.class = Class::Hsms;
        let node = &fab.tools[tool];
        let id = &fab.ids.tools[node.ident];
        let dev = id.device_id;
        let port = self.rng.range(40_000, 60_000) as u16;
        let mut c = TcpConn::new(
            fab.rogue,
            node.host,
            port,
            id.hsms_port,
            fab.encap(fab.rogue, node.host),
            &mut self.rng,
        );
        q.mark = Ctx::mark(session);
        let mut t = c.handshake(q, now, &mut self.rng) + self.ms(1, 5);
        let mut sys = 1u32;
        t = exchange(
            &mut c,
            q,
            t,
            Side::Client,
            label::SELECT_REQ,
            |b| h::control(b, h::STYPE_SELECT_REQ, 0, sys),
            self.ms(1, 4),
            label::SELECT_RSP,
            |b| h::control(b, h::STYPE_SELECT_RSP, 0, sys),
        ) + self.ms(5, 30);
        sys += 1;
        t = exchange(
            &mut c,
            q,
            t,
            Side::Client,
            label::hsms(1, 13),
            |b| h::s1f13_host(b, dev, sys),
            self.ms(2, 15),
            label::hsms(1, 14),
            |b| h::s1_identity(b, dev, 14, sys, &id.mdln, &id.softrev),
        ) + self.ms(200, 900);
        ctx.set_generated(session);
        // A recipe pushed under the name of a production recipe, then started.
        let area: String = id.area.chars().take(4).collect::<String>().to_uppercase();
        let ppid = format!("{area}_STD_{:03}", 100 + tool % 7);
        q.mark = Ctx::mark(recipe);
        sys += 1;
        let size = self.rng.range(20_000, 36_000) as usize;
        let body_seed = self.rng.next_u64();
        t = exchange(
            &mut c,
            q,
            t,
            Side::Client,
            label::hsms(7, 3),
            |b| h::s7f3(b, dev, sys, &ppid, size, body_seed),
            self.ms(100, 400),
            label::hsms(7, 4),
            |b| h::ack_reply(b, dev, 7, 4, sys, 0),
        ) + self.ms(300, 1500);
        ctx.set_generated(recipe);
        q.mark = Ctx::mark(rcmd);
        sys += 1;
        t = exchange(
            &mut c,
            q,
            t,
            Side::Client,
            label::hsms(2, 41),
            |b| h::s2f41(b, dev, sys, "START", &[("PPID", &ppid)]),
            self.ms(5, 60),
            label::hsms(2, 42),
            |b| h::s2f42(b, dev, sys, 0),
        );
        ctx.set_generated(rcmd);
        q.mark = 0;
        t += self.ms(500, 2000);
        sys += 1;
        let s = q.buf.len();
        h::control(&mut q.buf, h::STYPE_SEPARATE_REQ, 0, sys);
        let t = c.send(q, t, Side::Client, q.since(s), &[label::SEPARATE_REQ]);
        c.close(q, t + self.ms(1, 5), Side::Client, &mut self.rng);
    }

    fn modbus_write(&mut self, q: &mut Queue, now: i64, ctx: &mut Ctx, fab: &Fab, plc: usize, id: PlantId) {
        q.class = Class::Modbus;
        let node = &fab.plcs[plc];
        let unit = fab.ids.plcs[node.ident].unit_id;
        let port = self.rng.range(49_152, 65_000) as u16;
        let mut c =
            TcpConn::new(fab.eng_ws, node.host, port, 502, fab.encap(fab.eng_ws, node.host), &mut self.rng);
        let mut t = c.handshake(q, now, &mut self.rng) + self.ms(5, 40);
        t = exchange(
            &mut c,
            q,
            t,
            Side::Client,
            label::modbus(3, label::MB_REQUEST),
            |b| mb::read_req(b, 1, unit, 3, 0, 10),
            self.ms(2, 10),
            label::modbus(3, label::MB_RESPONSE),
            |b| mb::regs_rsp(b, 1, unit, 3, [412u16, 398, 1, 0, 77, 0, 0, 1500, 20, 3].into_iter()),
        ) + self.ms(800, 4000);
        q.mark = Ctx::mark(id);
        t = exchange(
            &mut c,
            q,
            t,
            Side::Client,
            label::modbus(6, label::MB_REQUEST),
            |b| mb::write_single(b, 2, unit, 7, 2500),
            self.ms(2, 10),
            label::modbus(6, label::MB_RESPONSE),
            |b| mb::write_single(b, 2, unit, 7, 2500),
        );
        q.mark = 0;
        ctx.set_generated(id);
        c.ack(q, t + 40 * MS, Side::Client);
        c.close(q, t + self.ms(500, 3000), Side::Client, &mut self.rng);
    }

    fn conduit(&mut self, q: &mut Queue, now: i64, ctx: &mut Ctx, fab: &Fab, plc: usize, id: PlantId) {
        q.class = Class::Modbus;
        let node = &fab.plcs[plc];
        let unit = fab.ids.plcs[node.ident].unit_id;
        let src = fab.enterprise_intruder;
        let port = self.rng.range(49_152, 65_000) as u16;
        let mut c = TcpConn::new(src, node.host, port, 502, fab.encap(src, node.host), &mut self.rng);
        q.mark = Ctx::mark(id);
        let mut t = c.handshake(q, now, &mut self.rng) + self.ms(5, 40);
        for tid in 1..=3u16 {
            let addr = 100 * (tid - 1);
            t = exchange(
                &mut c,
                q,
                t,
                Side::Client,
                label::modbus(3, label::MB_REQUEST),
                |b| mb::read_req(b, tid, unit, 3, addr, 20),
                self.ms(2, 10),
                label::modbus(3, label::MB_RESPONSE),
                |b| mb::regs_rsp(b, tid, unit, 3, (0..20u16).map(|i| 100 + i * 3)),
            ) + self.ms(300, 1500);
        }
        c.close(q, t, Side::Client, &mut self.rng);
        q.mark = 0;
        ctx.set_generated(id);
    }

    fn telnet(&mut self, q: &mut Queue, now: i64, ctx: &mut Ctx, fab: &Fab, tool: usize, id: PlantId) {
        q.class = Class::It;
        let node = &fab.tools[tool];
        let name = fab.host(node.host).name.clone();
        let port = self.rng.range(49_152, 65_000) as u16;
        let mut c =
            TcpConn::new(fab.eng_ws, node.host, port, 23, fab.encap(fab.eng_ws, node.host), &mut self.rng);
        q.mark = Ctx::mark(id);
        let mut t = c.handshake(q, now, &mut self.rng) + self.ms(5, 30);
        let send = |c: &mut TcpConn, q: &mut Queue, t: i64, side: Side, bytes: &[u8]| {
            q.buf.extend_from_slice(bytes);
            let l = if side == Side::Client { label::TELNET_CLIENT } else { label::TELNET_SERVER };
            c.send(q, t, side, bytes.len(), &[l])
        };
        t = send(&mut c, q, t, Side::Server, telnet::SERVER_OPTS) + self.ms(1, 5);
        t = send(&mut c, q, t, Side::Client, telnet::CLIENT_OPTS) + self.ms(1, 5);
        let banner = format!("\r\n{name} service console (maintenance)\r\n\r\nlogin: ");
        t = send(&mut c, q, t, Side::Server, banner.as_bytes()) + self.ms(800, 2000);
        // Typed characters, echoed by the server; the password is not echoed.
        for ch in b"fse_admin\r".iter() {
            t = send(&mut c, q, t, Side::Client, &[*ch]) + self.ms(1, 3);
            t = send(&mut c, q, t, Side::Server, &[*ch]) + self.ms(90, 250);
        }
        t = send(&mut c, q, t, Side::Server, b"\nPassword: ") + self.ms(600, 1500);
        for ch in b"Etch2024!\r".iter() {
            t = send(&mut c, q, t, Side::Client, &[*ch]) + self.ms(80, 220);
        }
        c.ack(q, t + 40 * MS, Side::Server);
        let welcome = format!("\r\nLast login: from 10.30.0.77\r\nC:\\Tool\\{name}> ");
        t = send(&mut c, q, t + self.ms(200, 600), Side::Server, welcome.as_bytes()) + self.ms(1500, 4000);
        for cmd in ["dir D:\\Recipes\r", "type D:\\Tool\\config\\hsms.ini\r", "exit\r"] {
            for ch in cmd.as_bytes() {
                t = send(&mut c, q, t, Side::Client, &[*ch]) + self.ms(1, 3);
                t = send(&mut c, q, t, Side::Server, &[*ch]) + self.ms(70, 200);
            }
            let out: String = match cmd.as_bytes().first() {
                Some(b'd') => (0..12).map(|i| format!("2026-11-{:02}  07:{:02}    {:>8} STD_{:03}.rcp\r\n", 1 + i, 10 + i, 4096 + 311 * i, 100 + i)).collect(),
                Some(b't') => "[HSMS]\r\nMode=Passive\r\nPort=5000\r\nDeviceID=1\r\nT3=45\r\nT5=10\r\nT6=5\r\nT7=10\r\nT8=5\r\n".to_string(),
                _ => "\r\nlogout\r\n".to_string(),
            };
            let prompt = if cmd.starts_with("exit") { String::new() } else { format!("C:\\Tool\\{name}> ") };
            t = send(&mut c, q, t + self.ms(20, 80), Side::Server, format!("\n{out}{prompt}").as_bytes())
                + self.ms(1500, 5000);
        }
        c.close(q, t, Side::Server, &mut self.rng);
        q.mark = 0;
        ctx.set_generated(id);
    }

    fn whois_flood(&mut self, q: &mut Queue, now: i64, ctx: &mut Ctx, fab: &Fab, id: PlantId) {
        q.class = Class::Bacnet;
        let src = fab.facility_laptop;
        let encap = fab.host(src).encap;
        let mut t = now;
        // 200 ranged Who-Is sweeping instances 0..999,999 in about four seconds.
        for k in 0..200u32 {
            let (lo, hi) = (k * 5000, k * 5000 + 4999);
            q.mark = Ctx::mark(id);
            let s = q.buf.len();
            bn::who_is(&mut q.buf, Some((lo, hi)), false);
            udp(
                q,
                t,
                src,
                fab.bms_bcast,
                bms::PORT,
                bms::PORT,
                encap,
                q.since(s),
                label::bacnet(bn::PDU_UNCONFIRMED, bn::SVC_WHO_IS),
            );
            q.mark = 0;
            let gap = self.rng.range(15, 25) as i64 * MS;
            // Answers arrive before the next request goes out.
            let before = q.pkts.len();
            bms::i_am_replies(q, &mut self.rng, t, fab, |inst| (lo..=hi).contains(&inst));
            if q.pkts.len() > before {
                t = q.last_ts() + MS;
            }
            t += gap;
        }
        ctx.set_generated(id);
    }
}
