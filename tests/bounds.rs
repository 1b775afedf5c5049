//! Bounds under floods, on captures built here: the inventory keeps at most its asset limit
//! and counts what it evicts, memory stays bounded, the alert table stays bounded, and a
//! Who-Is flood or a SYN flood is a handful of aggregated alerts.

mod common;

use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use fabmon_sensor::alert::Alert;
use fabmon_sensor::baseline::Baseline;
use fabmon_sensor::capture::file::FileSource;
use fabmon_sensor::capture::pcapwrite::PcapWriter;
use fabmon_sensor::capture::LinkType;
use fabmon_sensor::engine::EngineConfig;
use fabmon_sensor::inventory::InventoryLimits;
use fabmon_sensor::monitor::Monitor;
use fabmon_sensor::pipeline::{run_inline, EventSink};
use fabmon_sensor::profile::Profile;
use fabmon_sensor::record::Event;

use common::*;

// ---------------------------------------------------------------------------------------
// A tiny packet builder (Ethernet / IPv4 / TCP or UDP, checksums filled in)
// ---------------------------------------------------------------------------------------

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// 2024-06-01T00:00:00Z.
const T0: i64 = 1_717_200_000_000_000_000;

struct Cap {
    w: PcapWriter<BufWriter<File>>,
    ts: i64,
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    for c in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    if o[3] == 255 {
        [0xff; 6]
    } else {
        [0x02, 0x00, o[0], o[1], o[2], o[3]]
    }
}

impl Cap {
    fn create(path: &Path) -> Cap {
        let f = BufWriter::with_capacity(1 << 16, File::create(path).unwrap());
        Cap { w: PcapWriter::new(f, LinkType::ETHERNET).unwrap(), ts: T0 }
    }

    /// Writes one IPv4 packet `step_ns` after the previous one.
    fn ip(&mut self, step_ns: i64, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) {
        self.ts += step_ns;
        let mut p = Vec::with_capacity(14 + 20 + l4.len());
        p.extend_from_slice(&mac_of(dst));
        p.extend_from_slice(&mac_of(src));
        p.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + l4.len()) as u16;
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[8] = 64;
        h[9] = proto;
        h[12..16].copy_from_slice(&src.octets());
        h[16..20].copy_from_slice(&dst.octets());
        let c = fold(sum16(&h, 0));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&h);
        // Transport checksum over the pseudo-header.
        let mut l4 = l4.to_vec();
        let ck_at = if proto == 6 { 16 } else { 6 };
        let mut pseudo = Vec::with_capacity(12);
        pseudo.extend_from_slice(&src.octets());
        pseudo.extend_from_slice(&dst.octets());
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        let c = fold(sum16(&l4, sum16(&pseudo, 0)));
        l4[ck_at..ck_at + 2].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&l4);
        self.w.write_packet(self.ts, &p).unwrap();
    }

    fn tcp(
        &mut self,
        step_ns: i64,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
        seq: u32,
        ack: u32,
        flags: u8,
    ) {
        let mut t = [0u8; 20];
        t[0..2].copy_from_slice(&src.1.to_be_bytes());
        t[2..4].copy_from_slice(&dst.1.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&ack.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        self.ip(step_ns, src.0, dst.0, 6, &t);
    }

    fn udp(&mut self, step_ns: i64, src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &[u8]) {
        let mut u = Vec::with_capacity(8 + payload.len());
        u.extend_from_slice(&src.1.to_be_bytes());
        u.extend_from_slice(&dst.1.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        self.ip(step_ns, src.0, dst.0, 17, &u);
    }

    /// A client opens a connection: SYN, SYN-ACK; with `reset`, the client then resets it
    /// (a half-open scan), which ends the flow at once.
    fn connect(&mut self, step_ns: i64, client: (Ipv4Addr, u16), server: (Ipv4Addr, u16), reset: bool) {
        self.tcp(step_ns, client, server, 1000, 0, SYN);
        self.tcp(step_ns / 4 + 1, server, client, 5000, 1001, SYN | ACK);
        if reset {
            self.tcp(step_ns / 4 + 1, client, server, 1001, 0, RST);
        }
    }

    /// A BACnet/IP Who-Is (Original-Broadcast-NPDU, no range) to the subnet broadcast.
    fn who_is(&mut self, step_ns: i64, from: Ipv4Addr, bcast: Ipv4Addr) {
        self.udp(step_ns, (from, 47808), (bcast, 47808), &[0x81, 0x0b, 0x00, 0x08, 0x01, 0x00, 0x10, 0x08]);
    }

    fn finish(self) {
        self.w.into_inner().unwrap();
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

/// The PLCs of the synthetic plant: 10.10.1.1-4, Modbus/TCP.
fn plcs() -> Vec<Ipv4Addr> {
    (1..=4).map(|d| v4(10, 10, 1, d)).collect()
}
const HMI: [u8; 4] = [10, 30, 0, 20];
const BMS: [u8; 4] = [10, 40, 0, 10];
const BCAST: [u8; 4] = [10, 40, 0, 255];

/// Normal operation: the HMI connects to every PLC, the BMS sends one Who-Is.
fn write_normal(path: &Path) {
    let mut c = Cap::create(path);
    for (i, plc) in plcs().into_iter().enumerate() {
        c.connect(1_000_000, (HMI.into(), 40000 + i as u16), (plc, 502), false);
    }
    c.who_is(1_000_000, BMS.into(), BCAST.into());
    c.finish();
}

/// Client `i` of the address flood: 10.64.0.1 onwards, never .0 or .255.
fn flood_client(i: u32) -> Ipv4Addr {
    let (a, b) = (i / 254, i % 254 + 1);
    v4(10, 64 + (a / 256) as u8, (a % 256) as u8, b as u8)
}

/// `(VmRSS, VmHWM)` of this process in KiB.
fn memory_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Addresses in the address flood.
const FLOOD_CLIENTS: u32 = 480_000;
const MAX_ASSETS: usize = 100_000;
const MAX_ALERTS: usize = 10_000;
/// The bound on the peak resident memory of the whole test process: the test harness, the
/// inventory of 100,000 assets, the flow table, the rules and 10,000 alerts (about 340 MiB
/// measured on x86-64 Linux with glibc).
const PEAK_RSS_BOUND_KIB: u64 = 512 * 1024;
/// How much the peak may still grow over the second half of the flood (measured: nothing):
/// by then every table is full and stays at its bound.
const GROWTH_BOUND_KIB: u64 = 16 * 1024;

/// The address flood: `FLOOD_CLIENTS` addresses never seen before, each opening a connection
/// to one of four PLCs and resetting it, as a half-open scan does.
fn write_address_flood(path: &Path) {
    let mut c = Cap::create(path);
    let plcs = plcs();
    for i in 0..FLOOD_CLIENTS {
        let plc = plcs[(i % 4) as usize];
        c.connect(10_000, (flood_client(i), 40000 + (i % 20000) as u16), (plc, 502), true);
    }
    c.finish();
}

/// Runs one capture through `sink`.
fn feed(path: &Path, cfg: EngineConfig, sink: &mut dyn EventSink) {
    let f = File::open(path).unwrap();
    // Streamed through the source's bounded buffer (a mapped file would count in the RSS).
    let mut src = FileSource::from_reader("flood", Box::new(f)).unwrap();
    let (_, err) = run_inline(&mut src, cfg, sink, None);
    assert!(err.is_none(), "{err:?}");
}

fn learn(path: &Path) -> Baseline {
    let mut m = Monitor::new(Profile::empty(), None).learning(None);
    feed(path, m.engine_config(EngineConfig::with_defaults()), &mut m);
    m.finish(&[]).baseline.unwrap()
}

/// The monitor, and the peak memory once the events of frame `half` have gone through it.
struct Sampled {
    monitor: Monitor,
    half: u64,
    hwm_at_half: Option<u64>,
}

impl EventSink for Sampled {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        self.monitor.on_events(events)?;
        let last = events.last().map(|e| match e {
            Event::Flow(f) => f.first_frame,
            Event::Message(m) => m.frame,
            Event::Transaction(t) => t.request_frame,
        });
        if self.hwm_at_half.is_none() && last.is_some_and(|f| f >= self.half) {
            self.hwm_at_half = Some(memory_kib().1);
        }
        Ok(true)
    }
}

/// 480,000 addresses never seen before each open one connection: the inventory holds
/// 100,000 assets and counts every eviction, the alert table holds 10,000 alerts and counts
/// what it folds, and memory stops growing once the tables are full.
#[test]
fn inventory_and_alerts_stay_bounded_under_a_flood_of_new_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let normal = dir.path().join("normal.pcap");
    let flood = dir.path().join("flood.pcap");
    write_normal(&normal);
    write_address_flood(&flood);
    let baseline = learn(&normal);
    assert!(baseline.assets.contains(&IpAddr::from(HMI)));

    let t = std::time::Instant::now();
    let monitor = Monitor::new(Profile::empty(), Some(baseline))
        .with_limits(InventoryLimits { max_assets: MAX_ASSETS, ..Default::default() }, MAX_ALERTS);
    let cfg = monitor.engine_config(EngineConfig::with_defaults());
    // Three packets per client: the first half of the flood ends at frame 720,000.
    let mut s = Sampled { monitor, half: 3 * u64::from(FLOOD_CLIENTS / 2), hwm_at_half: None };
    feed(&flood, cfg, &mut s);
    let hwm_half = s.hwm_at_half.expect("sampled at half");
    let (_, hwm_end) = memory_kib();
    let out = s.monitor.finish(&[]);
    eprintln!(
        "address flood: {FLOOD_CLIENTS} addresses in {:.1} s; VmHWM {} MiB at half, {} MiB at the end; {} assets, {} evicted, {} alerts, {} folded",
        t.elapsed().as_secs_f64(),
        hwm_half / 1024,
        hwm_end / 1024,
        out.inventory.len(),
        out.inventory.evicted,
        out.alerts.len(),
        out.alerts_overflowed
    );

    // 480,004 addresses (the clients and the four PLCs), each created once (its RST ends the
    // flow while it is the newest asset), so the count of evictions is exact. The PLCs, seen
    // all along, are never the ones evicted; the newest clients stay, the oldest went first.
    let inv = &out.inventory;
    assert_eq!(inv.len(), MAX_ASSETS);
    assert_eq!(inv.evicted, u64::from(FLOOD_CLIENTS) + 4 - MAX_ASSETS as u64);
    for plc in plcs() {
        let a = inv.get(&IpAddr::from(plc)).expect("the PLCs stay in the inventory");
        assert!(a.services.contains("tcp/502"));
    }
    assert!(inv.get(&IpAddr::from(flood_client(FLOOD_CLIENTS - 1))).is_some());
    assert!(inv.get(&IpAddr::from(flood_client(FLOOD_CLIENTS - MAX_ASSETS as u32 + 4))).is_some());
    assert!(inv.get(&IpAddr::from(flood_client(0))).is_none());

    // Each new address raises asset.new and its connection flow.new_conversation. The alert
    // table keeps 10,000 alerts; the rest fold into one overflow alert per rule, counted,
    // and no occurrence is lost.
    let occurrences = 2 * u64::from(FLOOD_CLIENTS);
    assert_eq!(out.alerts.len(), MAX_ALERTS + 2, "{:?}", rule_counts(&out.alerts));
    assert_eq!(out.alerts_overflowed, occurrences - MAX_ALERTS as u64);
    assert_eq!(out.alerts.iter().map(|a| a.count).sum::<u64>(), occurrences);
    let overflow: Vec<&str> = out.alerts.iter().filter(|a| a.key == "overflow").map(|a| a.rule).collect();
    assert_eq!(overflow.len(), 2, "{overflow:?}");
    assert!(out.alerts.iter().all(|a| ["asset.new", "flow.new_conversation"].contains(&a.rule)));

    assert!(
        hwm_end < PEAK_RSS_BOUND_KIB,
        "peak resident memory {} MiB exceeds the bound of {} MiB",
        hwm_end / 1024,
        PEAK_RSS_BOUND_KIB / 1024
    );
    assert!(
        hwm_end <= hwm_half + GROWTH_BOUND_KIB,
        "peak resident memory grew from {} to {} MiB over the second half of the flood",
        hwm_half / 1024,
        hwm_end / 1024
    );
}

/// Who-Is floods and SYN floods, end to end with the command: after `fabmon baseline learn`
/// on normal traffic, 200 Who-Is from one host and 2,000 half-open connections from another
/// to one PLC are four alerts, the Who-Is flood one alert counting the flood.
#[test]
fn floods_are_a_handful_of_aggregated_alerts() {
    const WHOIS: u64 = 200;
    const SYNS: u16 = 2_000;
    let scanner: Ipv4Addr = v4(10, 40, 0, 66);
    let flooder: Ipv4Addr = v4(10, 99, 0, 66);
    let plc = plcs()[0];
    let dir = tempfile::tempdir().unwrap();
    let normal = dir.path().join("normal.pcap");
    let floods = dir.path().join("floods.pcap");
    let base = dir.path().join("baseline.json");
    write_normal(&normal);
    {
        let mut c = Cap::create(&floods);
        // Normal traffic goes on.
        for (i, p) in plcs().into_iter().enumerate() {
            c.connect(1_000_000, (HMI.into(), 41000 + i as u16), (p, 502), false);
        }
        c.who_is(1_000_000, BMS.into(), BCAST.into());
        // 200 Who-Is at 50 per second.
        for _ in 0..WHOIS {
            c.who_is(20_000_000, scanner, BCAST.into());
        }
        // A SYN flood: every SYN from a new port, each answered, none completed.
        for i in 0..SYNS {
            c.tcp(100_000, (flooder, 1024 + i), (plc, 502), 7000 + u32::from(i), 0, SYN);
            c.tcp(10_000, (plc, 502), (flooder, 1024 + i), 9000, 7001 + u32::from(i), SYN | ACK);
        }
        c.finish();
    }
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = run_fabmon(&["baseline", "learn", &s(&normal), "--out", &s(&base)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run_fabmon(&["alerts", &s(&floods), "--baseline", &s(&base), "--format", "jsonl"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut got: Vec<(String, String, String)> = alerts
        .iter()
        .map(|a| {
            let f = |k: &str| a[k].as_str().unwrap_or("-").to_string();
            (f("rule"), f("src"), f("dst"))
        })
        .collect();
    got.sort();
    let want = |r: &str, s: Ipv4Addr, d: Option<Ipv4Addr>| {
        (r.to_string(), s.to_string(), d.map_or("-".to_string(), |d| d.to_string()))
    };
    // The two hosts are new; the flood of Who-Is is one discovery alert; the SYN flood is a
    // single new conversation (the same client, server and port), whatever the number of
    // connections. Who-Is go to the broadcast address, which is no conversation.
    let mut expected = vec![
        want("asset.new", scanner, None),
        want("asset.new", flooder, None),
        want("bacnet.discovery_scan", scanner, None),
        want("flow.new_conversation", flooder, Some(plc)),
    ];
    expected.sort();
    assert_eq!(got, expected, "{alerts:#?}");
    let scan = alerts.iter().find(|a| a["rule"] == "bacnet.discovery_scan").unwrap();
    // The flood is reported once it reaches the rule's threshold (20 within a minute); every
    // later Who-Is adds to the count.
    let count = scan["count"].as_u64().unwrap();
    assert!((WHOIS - 20..=WHOIS).contains(&count), "discovery_scan count {count} for {WHOIS} Who-Is");
    let frames = scan["evidence"]["frames"].as_array().unwrap();
    assert!(!frames.is_empty() && frames.len() <= 32, "evidence frames are capped: {}", frames.len());
    let conv = alerts.iter().find(|a| a["rule"] == "flow.new_conversation").unwrap();
    assert_eq!(conv["count"], 1);
}

fn rule_counts(alerts: &[Alert]) -> std::collections::BTreeMap<&'static str, usize> {
    let mut m = std::collections::BTreeMap::new();
    for a in alerts {
        *m.entry(a.rule).or_default() += 1;
    }
    m
}

/// The profile's `[settings] max_assets` is the inventory's bound: with room for two assets,
/// the normal traffic's hosts (an HMI, four PLCs, a BMS controller) leave two and count the rest.
#[test]
fn the_profile_sets_the_inventory_bound() {
    let dir = tempfile::tempdir().unwrap();
    let normal = dir.path().join("normal.pcap");
    write_normal(&normal);
    let profile = Profile::from_str("[settings]\nmax_assets = 2\n", "small.toml").unwrap();
    assert_eq!(profile.settings().max_assets, 2);
    let mut monitor = Monitor::new(profile, None);
    let cfg = monitor.engine_config(EngineConfig::with_defaults());
    feed(&normal, cfg, &mut monitor);
    let out = monitor.finish(&[]);
    assert_eq!(out.inventory.len(), 2);
    assert!(out.inventory.evicted >= 4, "evicted {}", out.inventory.evicted);
}
