//! `fabmon synth`: a deterministic generator of realistic synthetic fab traffic, for the demo
//! capture, the end-to-end tests and the benchmarks.
//!
//! The generated fab has EAP hosts talking HSMS (SECS/GEM) to tool PCs, SCADA/HMI hosts
//! polling facility PLCs over Modbus/TCP, a BMS server talking BACnet/IP to facility
//! controllers, and IT background traffic (DNS, NTP, syslog, SMB, HTTP, TLS), with VLAN and
//! QinQ tagging, complete TCP conversations and correct checksums. Optionally it plants a set of
//! deviations (a rogue HSMS host, unexpected writes, a Who-Is flood, ...) and reports the frames
//! that carry them, so tests can check that fabmon raises the matching alerts.
//!
//! Everything is derived from the seed: the same configuration gives the same bytes on every
//! machine. Packets are streamed to the writer one at a time; memory use does not grow with
//! the packet count.
//!
//! ```
//! use fabmon_sensor::synth::{generate, SynthConfig};
//!
//! let cfg = SynthConfig { packets: 1_000, ..SynthConfig::default() };
//! let mut pcap = Vec::new();
//! let summary = generate(&cfg, &mut pcap).unwrap();
//! assert_eq!(summary.packets, 1_000);
//! ```

mod bacnet;
mod bms;
mod fab;
mod hsms;
mod it;
mod modbus;
mod net;
mod plant;
mod plc;
mod rng;
mod sched;
mod tools;

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::capture::pcapwrite::PcapWriter;
use crate::capture::LinkType;

pub use crate::time::parse_rfc3339;
pub use fab::{advisory_matches, BacnetIdentity, PlcIdentity, SynthIdentities, ToolIdentity};

use fab::{Fab, HostId};
use it::{ItGen, ItKind};
use net::{Addr, TcpFields};
use plant::{PlantActor, Scenario};
use sched::{label, Class, Ctx, Pkt, Plant, PlantId, Queue, MS, NEVER, SEC};

/// 2026-11-16T08:00:00Z in nanoseconds since the Unix epoch.
pub const DEFAULT_START_NS: i64 = 1_794_816_000 * SEC;

/// Spread of the capture when `duration_ns` is 0: one hour per million packets.
pub const DEFAULT_NS_PER_PACKET: i64 = 3_600_000;

/// Captures shorter than this carry no planted deviations (they would crowd out the normal
/// traffic they are meant to stand out from).
pub const PLANT_MIN_PACKETS: u64 = 20_000;

/// Simulated time used to measure the fab's natural packet rate before a run.
const CALIBRATION_NS: i64 = 120 * SEC;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Exactly this many packets are written.
    pub packets: u64,
    pub seed: u64,
    /// Timestamp of the start of the capture, nanoseconds since the Unix epoch.
    pub start_ns: i64,
    /// Approximate time from the first to the last packet; 0 means one hour per million
    /// packets. The fab's exchanges are paced to fill it (think times between exchanges are
    /// scaled; latencies inside an exchange are not).
    pub duration_ns: i64,
    /// Plant the deviations listed in [`PLANT_KINDS`].
    pub plant: bool,
    pub identities: SynthIdentities,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            packets: 100_000,
            seed: 1,
            start_ns: DEFAULT_START_NS,
            duration_ns: 0,
            plant: true,
            identities: SynthIdentities::default(),
        }
    }
}

/// Kinds of planted deviations, in the order they appear in a capture.
pub const PLANT_KINDS: [&str; 12] = [
    "modbus_unexpected_write",
    "bacnet_unexpected_write",
    "rogue_hsms_session",
    "rogue_recipe_download",
    "rogue_remote_command",
    "telnet_to_tool",
    "bacnet_whois_flood",
    "events_disabled",
    "modbus_force_listen_only",
    "bacnet_dcc_disable",
    "softrev_changed",
    "conduit_violation",
];

/// One planted deviation and the frames (1-based, as Wireshark counts) that carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlantedDeviation {
    pub kind: String,
    pub frames: Vec<u64>,
    pub src: String,
    pub dst: String,
    pub note: String,
}

/// A deviation that was not planted, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedDeviation {
    pub kind: String,
    pub reason: String,
}

/// One host of the synthetic fab, as an asset inventory should find it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SynthAsset {
    pub ip: String,
    pub mac: String,
    pub role: String,
    /// Purdue level: `L1`, `L2`, `L3`, `L3.5`, `L4` or `unknown`.
    pub level: String,
    pub area: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mdln: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub softrev: Option<String>,
    /// SOFTREV after the planted software update, for the tool that gets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub softrev_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsms_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_instance: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_software: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// What was generated.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SynthSummary {
    pub packets: u64,
    /// Bytes of the pcap file, headers included.
    pub bytes: u64,
    pub seed: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Packets per class: `hsms`, `modbus`, `bacnet`, `it` (packets with payload) and
    /// `tcp-control` (SYN, FIN and pure ACKs of any conversation).
    pub packets_by_class: BTreeMap<String, u64>,
    /// Messages per kind (counted on the packet where each message starts), e.g.
    /// `hsms S2F41`, `modbus fc3 request`, `modbus fc3 exception`,
    /// `bacnet readProperty complex-ack`.
    pub messages: BTreeMap<String, u64>,
    pub planted: Vec<PlantedDeviation>,
    pub planted_skipped: Vec<SkippedDeviation>,
    pub assets: Vec<SynthAsset>,
}

#[derive(Debug)]
enum Actor {
    Hsms(tools::HsmsLink),
    Modbus(plc::ModbusPoller),
    Discovery(bms::BacnetDiscovery),
    Bacnet(bms::BacnetCtl),
    It(ItGen),
    Plant(PlantActor),
}

impl Actor {
    fn step(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab) -> i64 {
        match self {
            Actor::Hsms(a) => a.step(now, q, ctx, fab),
            Actor::Modbus(a) => a.step(now, q, ctx, fab),
            Actor::Discovery(a) => a.step(now, q, ctx, fab),
            Actor::Bacnet(a) => a.step(now, q, ctx, fab),
            Actor::It(a) => a.step(now, q, ctx, fab),
            Actor::Plant(a) => a.step(now, q, ctx, fab),
        }
    }
}

#[derive(Debug)]
struct Slot {
    q: Queue,
    /// When the actor wants to be asked again (once its queue is empty).
    wake: i64,
    /// The key of the slot's live heap entry (older entries are stale).
    key: i64,
    actor: Actor,
}

/// HSMS links that were established before the capture started.
fn tool_mid_stream(i: usize) -> bool {
    i % 7 == 5
}

fn plc_mid_stream(i: usize) -> bool {
    i % 6 == 4
}

/// A target index near `preferred` that is not a mid-stream connection.
fn pick(n: usize, preferred: usize, mid: fn(usize) -> bool) -> Option<usize> {
    (0..n).map(|k| (preferred + k) % n).find(|i| !mid(*i))
}

/// The actors and planted deviations of one run.
struct World {
    slots: Vec<Slot>,
    ctx: Ctx,
    /// (frame at which to arm, plant) in frame order.
    triggers: Vec<(u64, PlantId)>,
    skipped: Vec<SkippedDeviation>,
}

fn build_world(cfg: &SynthConfig, fab: &Fab, scale: f64, plants: bool) -> World {
    let seed = cfg.seed;
    let mut rng = rng::Rng::new(seed, 0);
    let mut slots = Vec::new();
    let push = |slots: &mut Vec<Slot>, class: Class, wake: i64, actor: Actor| {
        slots.push(Slot { q: Queue::new(class), wake, key: wake, actor });
        slots.len() - 1
    };
    let tool_base = slots.len();
    for i in 0..fab.tools.len() {
        let link = tools::HsmsLink::new(fab, i, seed, tool_mid_stream(i));
        let wake = tools::start_time(&mut rng);
        push(&mut slots, Class::Hsms, wake, Actor::Hsms(link));
    }
    let plc_base = slots.len();
    for i in 0..fab.plcs.len() {
        let p = plc::ModbusPoller::new(fab, i, seed, plc_mid_stream(i));
        let wake = rng.range(0, 3 * SEC as u64) as i64;
        push(&mut slots, Class::Modbus, wake, Actor::Modbus(p));
    }
    if !fab.bacnet.is_empty() {
        push(&mut slots, Class::Bacnet, 300 * MS, Actor::Discovery(bms::BacnetDiscovery::new(seed)));
    }
    let bac_base = slots.len();
    for i in 0..fab.bacnet.len() {
        let mut c = bms::BacnetCtl::new(i, seed);
        let wake = c.start_time();
        push(&mut slots, Class::Bacnet, wake, Actor::Bacnet(c));
    }
    let tool_hosts: Vec<HostId> = fab.tools.iter().map(|t| t.host).collect();
    let mut infra = fab.eaps.clone();
    infra.extend(&fab.scada);
    infra.push(fab.mes);
    let mut dns_clients = infra.clone();
    dns_clients.extend(&tool_hosts);
    let mut ntp_clients = dns_clients.clone();
    ntp_clients.push(fab.bms);
    let mut syslog_clients = tool_hosts.clone();
    syslog_clients.extend(&fab.eaps);
    let it_gens = [
        (ItKind::Dns, dns_clients, vec![fab.dns], 700 * MS),
        (ItKind::Ntp, ntp_clients, vec![fab.ntp], 2 * SEC),
        (ItKind::Syslog, syslog_clients, vec![fab.syslog], 900 * MS),
        (ItKind::Smb, tool_hosts.clone(), vec![fab.rms], 45 * SEC),
        (ItKind::MesHttp, fab.eaps.clone(), vec![fab.mes], 2 * SEC),
        (ItKind::PatchHttp, tool_hosts.clone(), vec![fab.dmz_patch], 120 * SEC),
        (ItKind::Tls, fab.enterprise_ws.clone(), vec![fab.dmz_filegw], 12 * SEC),
        (ItKind::Tls, fab.enterprise_ws.clone(), vec![fab.dmz_filegw], 12 * SEC),
    ];
    for (k, (kind, clients, servers, mean)) in it_gens.into_iter().enumerate() {
        if clients.is_empty() {
            continue;
        }
        let g = ItGen::new(kind, clients, servers, mean, seed, k as u64);
        let wake = rng.range(0, 2 * SEC as u64) as i64;
        push(&mut slots, Class::It, wake, Actor::It(g));
    }

    let mut ctx = Ctx { scale, start_ns: cfg.start_ns, plants: Vec::new() };
    let mut triggers = Vec::new();
    let mut skipped = Vec::new();
    if !plants {
        return World { slots, ctx, triggers, skipped };
    }
    if cfg.packets < PLANT_MIN_PACKETS {
        for k in PLANT_KINDS {
            skipped.push(SkippedDeviation {
                kind: k.to_string(),
                reason: format!(
                    "capture of {} packets is too short (planting needs at least {PLANT_MIN_PACKETS})",
                    cfg.packets
                ),
            });
        }
        return World { slots, ctx, triggers, skipped };
    }
    let n = cfg.packets;
    let add = |ctx: &mut Ctx,
               triggers: &mut Vec<(u64, PlantId)>,
               kind: &'static str,
               frac: f64,
               src: HostId,
               dst: HostId,
               note: String,
               messages_only: bool,
               actor: usize|
     -> PlantId {
        let id = ctx.plants.len();
        let trigger = ((n as f64) * frac) as u64;
        ctx.plants.push(Plant {
            kind,
            armed: false,
            generated: false,
            src: fab.ip(src),
            dst: fab.ip(dst),
            note,
            frames: Vec::new(),
            actor,
            messages_only,
        });
        triggers.push((trigger, id));
        id
    };
    let mut skip = |kinds: &[&str], why: &str| {
        for k in kinds {
            skipped.push(SkippedDeviation { kind: (*k).to_string(), reason: why.to_string() });
        }
    };
    let tools_n = fab.tools.len();
    let plcs_n = fab.plcs.len();
    let bac_n = fab.bacnet.len();
    let tool_name = |i: usize| fab.host(fab.tools[i].host).name.clone();
    let plc_name = |i: usize| fab.host(fab.plcs[i].host).name.clone();
    let bac_name = |i: usize| fab.host(fab.bacnet[i].host).name.clone();

    match pick(plcs_n, 2, plc_mid_stream) {
        Some(p) => {
            let dst = fab.plcs[p].host;
            let note = format!(
                "engineering workstation writes holding register 7 of {} with FC 6 (not its SCADA client)",
                plc_name(p)
            );
            let id = add(
                &mut ctx,
                &mut triggers,
                "modbus_unexpected_write",
                0.10,
                fab.eng_ws,
                dst,
                note,
                true,
                slots.len(),
            );
            push(
                &mut slots,
                Class::Modbus,
                NEVER,
                Actor::Plant(PlantActor::new(Scenario::ModbusWrite { plc: p, id }, seed, 1)),
            );
        }
        None => skip(&["modbus_unexpected_write"], "no PLC in the identity table"),
    }
    match pick(bac_n, 8, |_| false) {
        Some(c) => {
            let note = format!(
                "unknown host writes present-value of analog-value 1 on {} (priority 8)",
                bac_name(c)
            );
            let id = add(
                &mut ctx,
                &mut triggers,
                "bacnet_unexpected_write",
                0.18,
                fab.facility_laptop,
                fab.bacnet[c].host,
                note,
                true,
                bac_base + c,
            );
            if let Actor::Bacnet(a) = &mut slots[bac_base + c].actor {
                a.plant_wp = Some(id);
            }
        }
        None => skip(&["bacnet_unexpected_write"], "no BACnet controller in the identity table"),
    }
    match pick(tools_n, 9, tool_mid_stream) {
        Some(t) => {
            let dst = fab.tools[t].host;
            let port = fab.ids.tools[fab.tools[t].ident].hsms_port;
            let actor = slots.len();
            let tn = tool_name(t);
            let session = add(
                &mut ctx,
                &mut triggers,
                "rogue_hsms_session",
                0.26,
                fab.rogue,
                dst,
                format!("unknown host connects to {tn} on port {port}, Selects and sends S1F13"),
                false,
                actor,
            );
            let recipe = add(
                &mut ctx,
                &mut triggers,
                "rogue_recipe_download",
                0.26,
                fab.rogue,
                dst,
                format!("S7F3 recipe download to {tn}"),
                true,
                actor,
            );
            let rcmd = add(
                &mut ctx,
                &mut triggers,
                "rogue_remote_command",
                0.26,
                fab.rogue,
                dst,
                format!("S2F41 START to {tn}"),
                true,
                actor,
            );
            push(
                &mut slots,
                Class::Hsms,
                NEVER,
                Actor::Plant(PlantActor::new(
                    Scenario::RogueHsms { tool: t, session, rcmd, recipe },
                    seed,
                    2,
                )),
            );
        }
        None => skip(
            &["rogue_hsms_session", "rogue_recipe_download", "rogue_remote_command"],
            "no tool in the identity table",
        ),
    }
    match pick(tools_n, 26, |_| false) {
        Some(t) => {
            let note = format!("cleartext Telnet login (port 23) to the tool PC {}", tool_name(t));
            let id = add(
                &mut ctx,
                &mut triggers,
                "telnet_to_tool",
                0.34,
                fab.eng_ws,
                fab.tools[t].host,
                note,
                false,
                slots.len(),
            );
            push(
                &mut slots,
                Class::It,
                NEVER,
                Actor::Plant(PlantActor::new(Scenario::Telnet { tool: t, id }, seed, 3)),
            );
        }
        None => skip(&["telnet_to_tool"], "no tool in the identity table"),
    }
    if bac_n > 0 {
        let note = "200 ranged Who-Is broadcasts in about 4 s sweeping device instances 0-999999".to_string();
        let id = add(
            &mut ctx,
            &mut triggers,
            "bacnet_whois_flood",
            0.42,
            fab.facility_laptop,
            fab.bms_bcast,
            note,
            true,
            slots.len(),
        );
        push(
            &mut slots,
            Class::Bacnet,
            NEVER,
            Actor::Plant(PlantActor::new(Scenario::WhoisFlood { id }, seed, 4)),
        );
    } else {
        skip(&["bacnet_whois_flood"], "no BACnet controller in the identity table");
    }
    match pick(tools_n, 19, tool_mid_stream) {
        Some(t) => {
            let node = &fab.tools[t];
            let note =
                format!("S2F37 with CEED false and no CEIDs (disable all event reports) on {}", tool_name(t));
            let id = add(
                &mut ctx,
                &mut triggers,
                "events_disabled",
                0.50,
                node.eap,
                node.host,
                note,
                true,
                tool_base + t,
            );
            if let Actor::Hsms(a) = &mut slots[tool_base + t].actor {
                a.plant_events = Some(id);
            }
        }
        None => skip(&["events_disabled"], "no tool in the identity table"),
    }
    match pick(plcs_n, 7, plc_mid_stream) {
        Some(p) => {
            let note = format!(
                "FC 8 sub-function 0x0004 (force listen only) to {}; it stops answering its SCADA client",
                plc_name(p)
            );
            let id = add(
                &mut ctx,
                &mut triggers,
                "modbus_force_listen_only",
                0.58,
                fab.contractor,
                fab.plcs[p].host,
                note,
                true,
                plc_base + p,
            );
            if let Actor::Modbus(a) = &mut slots[plc_base + p].actor {
                a.plant_listen = Some(id);
            }
        }
        None => skip(&["modbus_force_listen_only"], "no PLC in the identity table"),
    }
    match pick(bac_n, 3, |_| false) {
        Some(c) => {
            let note = format!(
                "DeviceCommunicationControl disable for 30 min with a cleartext password to {}",
                bac_name(c)
            );
            let id = add(
                &mut ctx,
                &mut triggers,
                "bacnet_dcc_disable",
                0.66,
                fab.facility_laptop,
                fab.bacnet[c].host,
                note,
                true,
                bac_base + c,
            );
            if let Actor::Bacnet(a) = &mut slots[bac_base + c].actor {
                a.plant_dcc = Some(id);
            }
        }
        None => skip(&["bacnet_dcc_disable"], "no BACnet controller in the identity table"),
    }
    match pick(tools_n, 12, tool_mid_stream) {
        Some(t) => {
            let node = &fab.tools[t];
            let id_t = &fab.ids.tools[node.ident];
            let note = format!(
                "{} restarts with SOFTREV {} (was {}); the EAP reconnects and S1F14/S1F2 show it",
                tool_name(t),
                id_t.softrev_upgrade,
                id_t.softrev
            );
            let id = add(
                &mut ctx,
                &mut triggers,
                "softrev_changed",
                0.74,
                node.host,
                node.eap,
                note,
                true,
                tool_base + t,
            );
            if let Actor::Hsms(a) = &mut slots[tool_base + t].actor {
                a.plant_softrev = Some(id);
            }
        }
        None => skip(&["softrev_changed"], "no tool in the identity table"),
    }
    match pick(plcs_n, 13, |_| false) {
        Some(p) => {
            let dst = fab.plcs[p].host;
            let note = format!(
                "enterprise workstation (L4) opens Modbus/TCP to {} (L1) and reads registers",
                plc_name(p)
            );
            let id = add(
                &mut ctx,
                &mut triggers,
                "conduit_violation",
                0.82,
                fab.enterprise_intruder,
                dst,
                note,
                false,
                slots.len(),
            );
            push(
                &mut slots,
                Class::Modbus,
                NEVER,
                Actor::Plant(PlantActor::new(Scenario::Conduit { plc: p, id }, seed, 5)),
            );
        }
        None => skip(&["conduit_violation"], "no PLC in the identity table"),
    }
    triggers.sort_unstable();
    World { slots, ctx, triggers, skipped }
}

/// Merges the actors' queues by time and hands packets to `sink` until `max_packets` are
/// written or the next packet would be later than `max_time`. Returns the packet count.
fn run(
    w: &mut World,
    fab: &Fab,
    max_packets: u64,
    max_time: i64,
    mut sink: impl FnMut(&Pkt, &[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut heap: BinaryHeap<Reverse<(i64, u32)>> = w
        .slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.key != NEVER)
        .map(|(i, s)| Reverse((s.key, i as u32)))
        .collect();
    let mut written = 0u64;
    let mut next_trigger = 0usize;
    while written < max_packets {
        let Some(mut top) = heap.peek_mut() else {
            break;
        };
        let Reverse((key, id)) = *top;
        if key > max_time {
            break;
        }
        let Some(slot) = w.slots.get_mut(id as usize) else {
            PeekMut::pop(top);
            continue;
        };
        if slot.key != key {
            // Stale entry: the slot was re-keyed when a planted deviation woke it.
            PeekMut::pop(top);
            continue;
        }
        let mut emitted_at = None;
        if let Some((p, range)) = slot.q.pop() {
            sink(&p, slot.q.buf.get(range).unwrap_or(&[]))?;
            written += 1;
            if p.mark != 0 {
                if let Some(pl) = w.ctx.plants.get_mut(usize::from(p.mark) - 1) {
                    if !pl.messages_only || p.len > 0 {
                        pl.frames.push(written);
                    }
                }
            }
            slot.q.compact();
            emitted_at = Some(p.ts);
        } else {
            let before = slot.q.pkts.len();
            slot.wake = slot.actor.step(key, &mut slot.q, &mut w.ctx, fab);
            if slot.q.pkts.len() == before && slot.wake <= key {
                // An actor that neither sent nor slept would spin.
                slot.wake = key + MS;
            }
        }
        let next = match slot.q.pkts.front() {
            Some(p) => p.ts,
            None if slot.wake == NEVER => NEVER,
            None => slot.wake.max(slot.q.last_ts()).max(key),
        };
        slot.key = next;
        if next == NEVER {
            PeekMut::pop(top);
        } else {
            // Re-keying the top in place sifts it down once instead of a pop and a push.
            *top = Reverse((next, id));
            drop(top);
        }
        if let Some(now) = emitted_at {
            while let Some(&(trig, pid)) = w.triggers.get(next_trigger) {
                if trig > written {
                    break;
                }
                next_trigger += 1;
                let Some(pl) = w.ctx.plants.get_mut(pid) else {
                    continue;
                };
                pl.armed = true;
                let actor = pl.actor;
                if let Some(s) = w.slots.get_mut(actor) {
                    if s.q.pkts.is_empty() {
                        let k = now.max(s.q.last_ts());
                        s.key = k;
                        heap.push(Reverse((k, actor as u32)));
                    }
                }
            }
        }
    }
    Ok(written)
}

/// Builds frames from queued packets and writes them to the pcap.
struct Emitter<W: Write> {
    pcap: PcapWriter<W>,
    frame: Vec<u8>,
    ip_ids: Vec<u16>,
    start_ns: i64,
    first_ts: Option<i64>,
    last_ts: i64,
    labels: FxHashMap<u32, u64>,
    classes: [u64; 5],
}

impl<W: Write> Emitter<W> {
    fn emit(&mut self, fab: &Fab, p: &Pkt, payload: &[u8]) -> io::Result<()> {
        let (src, dst) = (fab.host(p.src), fab.host(p.dst));
        let ip_id = match self.ip_ids.get_mut(usize::from(p.src)) {
            Some(id) => {
                *id = id.wrapping_add(1);
                *id
            }
            None => 0,
        };
        // One router hop between /16 networks.
        let routed = src.ip[..2] != dst.ip[..2];
        let addr = Addr {
            src_mac: src.mac,
            dst_mac: dst.mac,
            src_ip: src.ip,
            dst_ip: dst.ip,
            ttl: src.ttl.saturating_sub(u8::from(routed)),
            ip_id,
            tos: 0,
            encap: p.encap,
        };
        if p.udp {
            net::udp_frame(&mut self.frame, &addr, p.sport, p.dport, payload);
        } else {
            let t = TcpFields {
                sport: p.sport,
                dport: p.dport,
                seq: p.seq,
                ack: p.ack,
                flags: p.flags,
                win: p.win,
                mss: p.mss,
            };
            net::tcp_frame(&mut self.frame, &addr, &t, payload);
        }
        let ts = self.start_ns + p.ts;
        self.pcap.write_packet(ts, &self.frame)?;
        self.first_ts.get_or_insert(ts);
        self.last_ts = ts;
        for l in p.labels {
            if l != label::NONE {
                *self.labels.entry(l).or_insert(0) += 1;
            }
        }
        let c = if !p.udp && p.len == 0 { 4 } else { p.class as usize };
        if let Some(n) = self.classes.get_mut(c) {
            *n += 1;
        }
        Ok(())
    }
}

fn mac_string(m: [u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

fn assets(fab: &Fab, planted: &[PlantedDeviation]) -> Vec<SynthAsset> {
    let mut out = Vec::new();
    for (i, h) in fab.hosts.iter().enumerate() {
        let ip = h.ip_string();
        if !h.listed || (h.plant_only && !planted.iter().any(|p| p.src == ip)) {
            continue;
        }
        let mut a = SynthAsset {
            ip: ip.clone(),
            mac: mac_string(h.mac),
            role: h.role.to_string(),
            level: h.level.to_string(),
            area: h.area.clone(),
            name: h.name.clone(),
            ..SynthAsset::default()
        };
        let hid = i as HostId;
        if let Some(t) = fab.tools.iter().find(|t| t.host == hid) {
            let id = &fab.ids.tools[t.ident];
            a.mdln = Some(id.mdln.clone());
            a.softrev = Some(id.softrev.clone());
            if planted.iter().any(|p| p.kind == "softrev_changed" && p.src == ip) {
                a.softrev_after = Some(id.softrev_upgrade.clone());
            }
            a.hsms_port = Some(id.hsms_port);
            a.device_id = Some(id.device_id);
        } else if let Some(p) = fab.plcs.iter().find(|p| p.host == hid) {
            let id = &fab.ids.plcs[p.ident];
            a.unit_id = Some(id.unit_id);
            a.vendor = Some(id.vendor_name.clone());
            a.product_code = Some(id.product_code.clone());
            a.revision = Some(id.revision.clone());
            a.product_name = Some(id.product_name.clone()).filter(|s| !s.is_empty());
            a.model = Some(id.model_name.clone()).filter(|s| !s.is_empty());
        } else if let Some(b) = fab.bacnet.iter().find(|b| b.host == hid) {
            let id = &fab.ids.bacnet[b.ident];
            a.device_instance = Some(id.device_instance);
            a.vendor_id = Some(id.vendor_id);
            a.vendor = Some(id.vendor_name.clone());
            a.model = Some(id.model_name.clone());
            a.firmware = Some(id.firmware_revision.clone());
            a.app_software = Some(id.application_software_version.clone());
            a.location = Some(id.location.clone());
        }
        out.push(a);
    }
    out
}

/// The time scale that makes `cfg.packets` packets span about `cfg.duration_ns`, from the
/// fab's packet rate measured over a short unwritten run.
fn calibrate(cfg: &SynthConfig, fab: &Fab) -> io::Result<f64> {
    let duration = if cfg.duration_ns > 0 {
        cfg.duration_ns
    } else {
        (cfg.packets.max(1) as i64).saturating_mul(DEFAULT_NS_PER_PACKET)
    };
    let mut w = build_world(cfg, fab, 1.0, false);
    let n = run(&mut w, fab, u64::MAX, CALIBRATION_NS, |_, _| Ok(()))?;
    let rate = n.max(1) as f64 / (CALIBRATION_NS as f64 / SEC as f64);
    let scale = rate * (duration as f64 / SEC as f64) / cfg.packets.max(1) as f64;
    Ok(scale.clamp(1e-3, 1e6))
}

/// Writes a classic pcap (nanosecond timestamps, Ethernet) of exactly `cfg.packets` packets to
/// `out` and describes what it holds. Output is buffered here (64 KiB) and flushed before
/// returning.
pub fn generate(cfg: &SynthConfig, out: &mut dyn Write) -> io::Result<SynthSummary> {
    let fab = Fab::build(&cfg.identities);
    let scale = calibrate(cfg, &fab)?;
    let mut w = build_world(cfg, &fab, scale, cfg.plant);
    // Records are written in small pieces; buffer them whatever `out` is.
    let buffered = io::BufWriter::with_capacity(1 << 16, out);
    let mut em = Emitter {
        pcap: PcapWriter::new(buffered, LinkType::ETHERNET)?,
        frame: Vec::with_capacity(2048),
        ip_ids: fab
            .hosts
            .iter()
            .map(|h| u16::from_be_bytes([h.ip[2], h.ip[3]]).wrapping_mul(0x9E37) ^ (cfg.seed as u16))
            .collect(),
        start_ns: cfg.start_ns,
        first_ts: None,
        last_ts: cfg.start_ns,
        labels: FxHashMap::default(),
        classes: [0; 5],
    };
    let written = run(&mut w, &fab, cfg.packets, i64::MAX, |p, payload| em.emit(&fab, p, payload))?;
    if written < cfg.packets {
        return Err(io::Error::other(format!("the fab ran out of traffic after {written} packets")));
    }
    em.pcap.flush()?;

    let mut planted = Vec::new();
    let mut skipped = std::mem::take(&mut w.skipped);
    for (i, p) in w.ctx.plants.iter().enumerate() {
        let mark = (i + 1) as u8;
        let pending = w.slots.iter().any(|s| s.q.pkts.iter().any(|k| k.mark == mark));
        if p.generated && !pending && !p.frames.is_empty() {
            planted.push(PlantedDeviation {
                kind: p.kind.to_string(),
                frames: p.frames.clone(),
                src: p.src.clone(),
                dst: p.dst.clone(),
                note: p.note.clone(),
            });
        } else {
            let reason = if p.generated {
                "cut off by the end of the capture"
            } else {
                "the capture ended before it was due"
            };
            skipped.push(SkippedDeviation { kind: p.kind.to_string(), reason: reason.to_string() });
        }
    }
    planted.sort_by_key(|p| p.frames.first().copied().unwrap_or(0));
    let class_names = ["hsms", "modbus", "bacnet", "it", "tcp-control"];
    let summary = SynthSummary {
        packets: em.pcap.packets(),
        bytes: em.pcap.bytes(),
        seed: cfg.seed,
        first_ts_ns: em.first_ts.unwrap_or(cfg.start_ns),
        last_ts_ns: em.last_ts,
        packets_by_class: class_names.iter().zip(em.classes).map(|(n, c)| ((*n).to_string(), c)).collect(),
        messages: em.labels.iter().map(|(l, n)| (label::name(*l), *n)).collect(),
        assets: assets(&fab, &planted),
        planted,
        planted_skipped: skipped,
    };
    Ok(summary)
}

#[cfg(test)]
mod tests;
