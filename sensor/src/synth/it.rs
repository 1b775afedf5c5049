//! IT background traffic that shares the fab network with OT: DNS, NTP, syslog, SMB2 file
//! reads from the recipe/file server, HTTP (EAP ↔ MES web services, patch relay) and TLS
//! (enterprise ↔ DMZ, historian replication). Payloads are well-formed enough for Wireshark's
//! dissectors; contents are filler.

use super::fab::{Fab, HostId};
use super::rng::Rng;
use super::sched::{label, udp, Class, Ctx, Queue, Side, TcpConn, MS, SEC};
use crate::time::civil;

/// Seconds between 1900-01-01 (NTP era 0) and 1970-01-01.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ItKind {
    Dns,
    Ntp,
    Syslog,
    Smb,
    /// EAP hosts calling the MES web services.
    MesHttp,
    /// Tool PCs asking the DMZ patch relay for updates.
    PatchHttp,
    /// Enterprise workstations to the DMZ file gateway, historian to its DMZ replica.
    Tls,
}

/// One generator of IT sessions of one kind; one session at a time.
#[derive(Debug)]
pub(crate) struct ItGen {
    kind: ItKind,
    rng: Rng,
    clients: Vec<HostId>,
    servers: Vec<HostId>,
    /// Mean gap between sessions at the fab's natural pace.
    mean: i64,
    txid: u16,
    next_port: u16,
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn ntp_ts(abs_ns: i64) -> [u8; 8] {
    let secs = abs_ns.div_euclid(SEC) + NTP_UNIX_OFFSET;
    let frac = ((abs_ns.rem_euclid(SEC) as u128) << 32) / SEC as u128;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&(secs as u32).to_be_bytes());
    b[4..].copy_from_slice(&(frac as u32).to_be_bytes());
    b
}

fn dns_name(buf: &mut Vec<u8>, name: &str) {
    for part in name.split('.') {
        buf.push(part.len().min(63) as u8);
        buf.extend_from_slice(&part.as_bytes()[..part.len().min(63)]);
    }
    buf.push(0);
}

const SYSLOG_MSGS: &[&str] = &[
    "ToolCtrl[2211]: wafer {n} processed, chamber B, recipe step 14 complete",
    "SecsDriver[1890]: HSMS link selected, T3=45 T5=10 T6=5 T7=10 T8=5",
    "Microsoft-Windows-Security-Auditing[4624]: An account was successfully logged on. Logon Type 5",
    "ToolCtrl[2211]: load port 1 carrier {n} docked",
    "AVAgent[3120]: signature update check completed, engine 1.1.24090.{n}",
    "DataCollector[2675]: FDC trace uploaded, {n} samples",
];

const NEGOTIATE: u16 = 0;
const SESSION_SETUP: u16 = 1;
const TREE_CONNECT: u16 = 3;
const READ: u16 = 8;

impl ItGen {
    pub(crate) fn new(
        kind: ItKind,
        clients: Vec<HostId>,
        servers: Vec<HostId>,
        mean: i64,
        seed: u64,
        stream: u64,
    ) -> Self {
        let mut rng = Rng::new(seed, 0x5000 + stream);
        let next_port = rng.range(49_152, 65_000) as u16;
        ItGen { kind, rng, clients, servers, mean, txid: 0, next_port }
    }

    fn port(&mut self) -> u16 {
        self.next_port = if self.next_port >= 65_000 { 49_152 } else { self.next_port + 1 };
        self.next_port
    }

    pub(crate) fn step(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab) -> i64 {
        q.class = Class::It;
        let ci = self.rng.idx(self.clients.len());
        let si = self.rng.idx(self.servers.len());
        let (Some(&c), Some(&s)) = (self.clients.get(ci), self.servers.get(si)) else {
            return i64::MAX;
        };
        match self.kind {
            ItKind::Dns => self.dns(q, now, fab, c, s),
            ItKind::Ntp => self.ntp(q, now, ctx, fab, c, s),
            ItKind::Syslog => self.syslog(q, now, ctx, fab, c, s),
            ItKind::Smb => self.smb(q, now, fab, c, s),
            ItKind::MesHttp => self.mes_http(q, now, fab, c, s),
            ItKind::PatchHttp => self.patch_http(q, now, fab, c, s),
            ItKind::Tls => self.tls(q, now, fab, c, s),
        }
        now + ctx.think(&mut self.rng, self.mean)
    }

    fn dns(&mut self, q: &mut Queue, now: i64, fab: &Fab, c: HostId, s: HostId) {
        let targets = [fab.mes, fab.rms, fab.ntp, fab.syslog, fab.dmz_patch, fab.dmz_filegw];
        let target = targets[self.rng.idx(targets.len())];
        let name = format!("{}.fab1.example", fab.host(target).name.to_lowercase());
        self.txid = self.txid.wrapping_add(1 + self.rng.below(50) as u16);
        let port = self.port();
        let encap = fab.encap(c, s);
        let st = q.buf.len();
        q.buf.extend_from_slice(&self.txid.to_be_bytes());
        q.buf.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        dns_name(&mut q.buf, &name);
        q.buf.extend_from_slice(&[0, 1, 0, 1]);
        udp(q, now, c, s, port, 53, encap, q.since(st), label::DNS_QUERY);
        let st = q.buf.len();
        q.buf.extend_from_slice(&self.txid.to_be_bytes());
        q.buf.extend_from_slice(&[0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        dns_name(&mut q.buf, &name);
        q.buf.extend_from_slice(&[0, 1, 0, 1, 0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4]);
        q.buf.extend_from_slice(&fab.host(target).ip);
        let t = now + self.rng.range(200_000, 2_000_000) as i64;
        udp(q, t, s, c, 53, port, encap, q.since(st), label::DNS_RESPONSE);
    }

    fn ntp(&mut self, q: &mut Queue, now: i64, ctx: &Ctx, fab: &Fab, c: HostId, s: HostId) {
        let abs = ctx.start_ns + now;
        let encap = fab.encap(c, s);
        let xmit = ntp_ts(abs - 3 * MS);
        let st = q.buf.len();
        q.buf.extend_from_slice(&[0x23, 0, 6, 0xE9]);
        q.buf.extend_from_slice(&[0; 36]);
        q.buf.extend_from_slice(&xmit);
        udp(q, now, c, s, 123, 123, encap, q.since(st), label::NTP_REQUEST);
        let t = now + self.rng.range(150_000, 900_000) as i64;
        let st = q.buf.len();
        q.buf.extend_from_slice(&[0x24, 3, 6, 0xEC, 0, 0, 0, 0x21, 0, 0, 0, 0x35]);
        q.buf.extend_from_slice(&[10, 50, 1, 1]);
        q.buf.extend_from_slice(&ntp_ts(ctx.start_ns + now - 17 * SEC));
        q.buf.extend_from_slice(&xmit);
        q.buf.extend_from_slice(&ntp_ts(abs + 100_000));
        q.buf.extend_from_slice(&ntp_ts(abs + 120_000));
        udp(q, t, s, c, 123, 123, encap, q.since(st), label::NTP_RESPONSE);
    }

    fn syslog(&mut self, q: &mut Queue, now: i64, ctx: &Ctx, fab: &Fab, c: HostId, s: HostId) {
        let (_, mo, d, hh, mm, ss) = civil((ctx.start_ns + now).div_euclid(SEC));
        let tpl = SYSLOG_MSGS[self.rng.idx(SYSLOG_MSGS.len())];
        let msg = tpl.replace("{n}", &self.rng.range(1, 5000).to_string());
        let pri = [134, 133, 38, 14][self.rng.idx(4)];
        let line = format!(
            "<{pri}>{} {d:2} {hh:02}:{mm:02}:{ss:02} {} {msg}",
            MONTHS[(mo as usize + 11) % 12],
            fab.host(c).name
        );
        let st = q.buf.len();
        q.buf.extend_from_slice(line.as_bytes());
        let port = self.port();
        udp(q, now, c, s, port, 514, fab.encap(c, s), q.since(st), label::SYSLOG);
    }

    fn smb2_header(buf: &mut Vec<u8>, command: u16, response: bool, msg_id: u64, tree: u32, session: u64) {
        buf.extend_from_slice(&[0xFE, b'S', b'M', b'B', 64, 0, 1, 0]);
        buf.extend_from_slice(&[0, 0, 0, 0]);
        buf.extend_from_slice(&command.to_le_bytes());
        buf.extend_from_slice(&(if response { 32u16 } else { 1 }).to_le_bytes());
        buf.extend_from_slice(&(if response { 1u32 } else { 0 }).to_le_bytes());
        buf.extend_from_slice(&[0, 0, 0, 0]);
        buf.extend_from_slice(&msg_id.to_le_bytes());
        buf.extend_from_slice(&0xFEFFu32.to_le_bytes());
        buf.extend_from_slice(&tree.to_le_bytes());
        buf.extend_from_slice(&session.to_le_bytes());
        buf.extend_from_slice(&[0; 16]);
    }

    /// Wraps an SMB2 message in the NetBIOS session header (length patched by `end_nbss`).
    fn begin_nbss(buf: &mut Vec<u8>) -> usize {
        let s = buf.len();
        buf.extend_from_slice(&[0, 0, 0, 0]);
        s
    }

    fn end_nbss(buf: &mut [u8], s: usize) {
        let len = (buf.len() - s - 4) as u32;
        buf[s + 1..s + 4].copy_from_slice(&len.to_be_bytes()[1..]);
    }

    // One SMB2 exchange: connection, command, ids and both bodies.
    #[allow(clippy::too_many_arguments)]
    fn smb_exchange(
        &mut self,
        q: &mut Queue,
        conn: &mut TcpConn,
        t: i64,
        command: u16,
        msg_id: u64,
        tree: u32,
        session: u64,
        req_body: &[u8],
        rsp_body: &[u8],
        latency: i64,
    ) -> i64 {
        let s = Self::begin_nbss(&mut q.buf);
        Self::smb2_header(&mut q.buf, command, false, msg_id, tree, session);
        q.buf.extend_from_slice(req_body);
        Self::end_nbss(&mut q.buf, s);
        let t1 = conn.send(q, t, Side::Client, q.since(s), &[label::SMB_REQUEST]);
        let s = Self::begin_nbss(&mut q.buf);
        Self::smb2_header(&mut q.buf, command, true, msg_id, tree, session);
        q.buf.extend_from_slice(rsp_body);
        Self::end_nbss(&mut q.buf, s);
        conn.send(q, t1 + latency, Side::Server, q.since(s), &[label::SMB_RESPONSE])
    }

    fn smb(&mut self, q: &mut Queue, now: i64, fab: &Fab, c: HostId, s: HostId) {
        let port = self.port();
        let mut conn = TcpConn::new(c, s, port, 445, fab.encap(c, s), &mut self.rng);
        let mut t = conn.handshake(q, now, &mut self.rng) + 300_000;
        // NEGOTIATE: SMB 2.0.2 to 3.0.2, no negotiate contexts.
        let mut req = Vec::with_capacity(64);
        req.extend_from_slice(&[36, 0, 4, 0, 1, 0, 0, 0, 0x7F, 0, 0, 0]);
        let mut guid = [0u8; 16];
        self.rng.fill(&mut guid);
        req.extend_from_slice(&guid);
        req.extend_from_slice(&[0; 8]);
        for d in [0x0202u16, 0x0210, 0x0300, 0x0302] {
            req.extend_from_slice(&d.to_le_bytes());
        }
        let mut rsp = Vec::with_capacity(80);
        rsp.extend_from_slice(&[65, 0, 1, 0]);
        rsp.extend_from_slice(&0x0302u16.to_le_bytes());
        rsp.extend_from_slice(&[0, 0]);
        self.rng.fill(&mut guid);
        rsp.extend_from_slice(&guid);
        rsp.extend_from_slice(&0x2Fu32.to_le_bytes());
        for _ in 0..3 {
            rsp.extend_from_slice(&0x0080_0000u32.to_le_bytes());
        }
        rsp.extend_from_slice(&[0; 16]);
        rsp.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0]);
        t = self.smb_exchange(q, &mut conn, t, NEGOTIATE, 0, 0, 0, &req, &rsp, 400_000) + 200_000;
        // SESSION_SETUP (no security blob: a guest session on the tool file share).
        let session = self.rng.next_u64() | 1;
        let req = [25u8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x58, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let rsp = [9u8, 0, 1, 0, 0x48, 0, 0, 0, 0];
        t = self.smb_exchange(q, &mut conn, t, SESSION_SETUP, 1, 0, session, &req, &rsp, 2 * MS) + 200_000;
        // TREE_CONNECT \\RMS01\recipes
        let path: Vec<u8> = format!("\\\\{}\\recipes", fab.host(s).name)
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let mut req = vec![9u8, 0, 0, 0, 0x48, 0];
        req.extend_from_slice(&(path.len() as u16).to_le_bytes());
        req.extend_from_slice(&path);
        let tree = 1 + self.rng.below(8) as u32;
        let rsp = [16u8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0x01, 0x1F, 0];
        t = self.smb_exchange(q, &mut conn, t, TREE_CONNECT, 2, tree, session, &req, &rsp, MS) + 300_000;
        // READs of a log or recipe file.
        let mut file_id = [0u8; 16];
        self.rng.fill(&mut file_id);
        let reads = 1 + self.rng.below(3);
        for i in 0..reads {
            let n = self.rng.range(2_000, 30_000) as u32;
            let mut req = vec![49u8, 0, 0x50, 0];
            req.extend_from_slice(&n.to_le_bytes());
            req.extend_from_slice(&(i * 65536).to_le_bytes());
            req.extend_from_slice(&file_id);
            req.extend_from_slice(&[0; 12]);
            req.extend_from_slice(&[0, 0, 0, 0, 0]);
            let mut rsp = vec![17u8, 0, 0x50, 0];
            rsp.extend_from_slice(&n.to_le_bytes());
            rsp.extend_from_slice(&[0; 8]);
            let at = rsp.len();
            rsp.resize(at + n as usize, 0);
            self.rng.fill(&mut rsp[at..]);
            t = self.smb_exchange(q, &mut conn, t, READ, 3 + i, tree, session, &req, &rsp, 3 * MS) + MS;
        }
        conn.ack(q, t + 40 * MS, Side::Client);
        let t = t + self.rng.range(SEC as u64 / 2, 5 * SEC as u64) as i64;
        conn.close(q, t, Side::Client, &mut self.rng);
    }

    // The arguments are the connection ends and the request/response contents.
    #[allow(clippy::too_many_arguments)]
    fn http(
        &mut self,
        q: &mut Queue,
        now: i64,
        fab: &Fab,
        c: HostId,
        s: HostId,
        port: u16,
        req: &str,
        status: &str,
        body: &[u8],
    ) {
        let cport = self.port();
        let mut conn = TcpConn::new(c, s, cport, port, fab.encap(c, s), &mut self.rng);
        let t = conn.handshake(q, now, &mut self.rng) + 100_000;
        let st = q.buf.len();
        q.buf.extend_from_slice(req.as_bytes());
        let t = conn.send(q, t, Side::Client, q.since(st), &[label::HTTP_REQUEST]);
        let st = q.buf.len();
        let head = format!("HTTP/1.1 {status}\r\nServer: Microsoft-IIS/10.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        q.buf.extend_from_slice(head.as_bytes());
        q.buf.extend_from_slice(body);
        let lat = self.rng.range(2_000_000, 40_000_000) as i64;
        if lat > 40 * MS {
            conn.ack(q, t + 40 * MS, Side::Server);
        }
        let t = conn.send(q, t + lat, Side::Server, q.since(st), &[label::HTTP_RESPONSE]);
        conn.close(q, t + 300_000, Side::Server, &mut self.rng);
    }

    fn mes_http(&mut self, q: &mut Queue, now: i64, fab: &Fab, c: HostId, s: HostId) {
        let lot = self.rng.range(100_000, 999_999);
        let ops = ["track-in", "track-out", "equipment-state", "dcop"];
        let op = ops[self.rng.idx(ops.len())];
        let body = format!("{{\"lot\":\"LOT{lot}\",\"eqp\":\"{}\",\"op\":\"{op}\"}}", fab.host(c).name);
        let req = format!(
            "POST /mes/api/v2/{op} HTTP/1.1\r\nHost: {}:8080\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            fab.host(s).name.to_lowercase(),
            body.len()
        );
        let resp = format!(
            "{{\"result\":\"OK\",\"lot\":\"LOT{lot}\",\"txn\":{}}}",
            self.rng.next_u64() % 1_000_000_000
        );
        self.http(q, now, fab, c, s, 8080, &req, "200 OK", resp.as_bytes());
    }

    fn patch_http(&mut self, q: &mut Queue, now: i64, fab: &Fab, c: HostId, s: HostId) {
        let req = format!(
            "GET /selfupdate/wuident.cab HTTP/1.1\r\nUser-Agent: Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50\r\nHost: {}:8530\r\n\r\n",
            fab.host(s).name.to_lowercase()
        );
        let mut body = vec![0u8; self.rng.range(3_000, 24_000) as usize];
        body[..4].copy_from_slice(b"MSCF");
        self.rng.fill(&mut body[4..]);
        self.http(q, now, fab, c, s, 8530, &req, "200 OK", &body);
    }

    fn tls_record(buf: &mut Vec<u8>, ctype: u8, body: &[u8]) {
        buf.push(ctype);
        buf.extend_from_slice(&[3, 3]);
        buf.extend_from_slice(&(body.len() as u16).to_be_bytes());
        buf.extend_from_slice(body);
    }

    fn tls(&mut self, q: &mut Queue, now: i64, fab: &Fab, c: HostId, s: HostId) {
        // The historian replicates to its DMZ replica; workstations reach the file gateway.
        let (c, s) =
            if self.rng.chance(0.3) { (fab.scada[2 % fab.scada.len()], fab.dmz_hist) } else { (c, s) };
        let port = self.port();
        let mut conn = TcpConn::new(c, s, port, 443, fab.encap(c, s), &mut self.rng);
        let mut t = conn.handshake(q, now, &mut self.rng) + 200_000;
        let sni = format!("{}.fab1.example", fab.host(s).name.to_lowercase());
        // ClientHello (TLS 1.3 in a 1.2-compatible hello).
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&((sni.len() + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(sni.as_bytes());
        ext.extend_from_slice(&[0, 0x0a, 0, 4, 0, 2, 0, 0x1d]);
        ext.extend_from_slice(&[0, 0x0d, 0, 6, 0, 4, 4, 3, 8, 4]);
        ext.extend_from_slice(&[0, 0x2b, 0, 3, 2, 3, 4]);
        let mut key = [0u8; 32];
        self.rng.fill(&mut key);
        ext.extend_from_slice(&[0, 0x33, 0, 38, 0, 36, 0, 0x1d, 0, 32]);
        ext.extend_from_slice(&key);
        let mut hello = vec![3, 3];
        let mut random = [0u8; 32];
        self.rng.fill(&mut random);
        hello.extend_from_slice(&random);
        hello.push(32);
        let mut sid = [0u8; 32];
        self.rng.fill(&mut sid);
        hello.extend_from_slice(&sid);
        hello.extend_from_slice(&[0, 6, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 1, 0]);
        hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        hello.extend_from_slice(&ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&hello);
        let st = q.buf.len();
        Self::tls_record(&mut q.buf, 22, &hs);
        t = conn.send(q, t, Side::Client, q.since(st), &[label::TLS_CLIENT]);
        // ServerHello, ChangeCipherSpec, encrypted handshake (certificate chain and finished).
        let mut sh = vec![3, 3];
        self.rng.fill(&mut random);
        sh.extend_from_slice(&random);
        sh.push(32);
        sh.extend_from_slice(&sid);
        sh.extend_from_slice(&[0x13, 0x02, 0]);
        self.rng.fill(&mut key);
        let mut sext = vec![0, 0x2b, 0, 2, 3, 4, 0, 0x33, 0, 36, 0, 0x1d, 0, 32];
        sext.extend_from_slice(&key);
        sh.extend_from_slice(&(sext.len() as u16).to_be_bytes());
        sh.extend_from_slice(&sext);
        let mut hs = vec![2];
        hs.extend_from_slice(&(sh.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&sh);
        let st = q.buf.len();
        Self::tls_record(&mut q.buf, 22, &hs);
        Self::tls_record(&mut q.buf, 20, &[1]);
        let mut enc = vec![0u8; self.rng.range(2_500, 4_500) as usize];
        self.rng.fill(&mut enc);
        Self::tls_record(&mut q.buf, 23, &enc);
        t = conn.send(
            q,
            t + self.rng.range(1_000_000, 8_000_000) as i64,
            Side::Server,
            q.since(st),
            &[label::TLS_SERVER],
        );
        // Client finished and request, then the response.
        let st = q.buf.len();
        Self::tls_record(&mut q.buf, 20, &[1]);
        let mut fin = [0u8; 53];
        self.rng.fill(&mut fin);
        Self::tls_record(&mut q.buf, 23, &fin);
        let mut reqb = vec![0u8; self.rng.range(300, 1_200) as usize];
        self.rng.fill(&mut reqb);
        Self::tls_record(&mut q.buf, 23, &reqb);
        t = conn.send(
            q,
            t + self.rng.range(300_000, 2_000_000) as i64,
            Side::Client,
            q.since(st),
            &[label::TLS_CLIENT],
        );
        let st = q.buf.len();
        let total = self.rng.range(1_000, 40_000) as usize;
        let mut left = total;
        while left > 0 {
            let n = left.min(16_384);
            let mut rec = vec![0u8; n];
            self.rng.fill(&mut rec);
            Self::tls_record(&mut q.buf, 23, &rec);
            left -= n;
        }
        t = conn.send(
            q,
            t + self.rng.range(2_000_000, 30_000_000) as i64,
            Side::Server,
            q.since(st),
            &[label::TLS_SERVER],
        );
        conn.ack(q, t + 100_000, Side::Client);
        let st = q.buf.len();
        let mut alert = [0u8; 19];
        self.rng.fill(&mut alert);
        Self::tls_record(&mut q.buf, 23, &alert);
        let t = conn.send(
            q,
            t + self.rng.range(50 * MS as u64, 2 * SEC as u64) as i64,
            Side::Client,
            q.since(st),
            &[label::TLS_CLIENT],
        );
        conn.close(q, t + 100_000, Side::Client, &mut self.rng);
    }
}

/// Telnet server banner, prompts and command output for the planted session.
pub(crate) mod telnet {
    /// Server's opening option negotiation: DO TERMINAL-TYPE, DO NAWS, DO TSPEED, WILL ECHO,
    /// WILL SUPPRESS-GO-AHEAD.
    pub(crate) const SERVER_OPTS: &[u8] =
        &[255, 253, 24, 255, 253, 31, 255, 253, 32, 255, 251, 1, 255, 251, 3];
    /// Client's answers: WILL TERMINAL-TYPE, WONT NAWS, WONT TSPEED, DO ECHO, DO SGA.
    pub(crate) const CLIENT_OPTS: &[u8] =
        &[255, 251, 24, 255, 252, 31, 255, 252, 32, 255, 253, 1, 255, 253, 3];
}
