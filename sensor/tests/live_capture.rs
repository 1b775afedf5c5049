//! Live capture through `AF_PACKET` on a veth pair. The capturing end stays in the test's own
//! network namespace under a unique name; its peer sits in a namespace the test creates, where
//! the traffic is generated. Needs root (and `ip`, `python3`); skipped with a message otherwise.
//!
//! Addresses: 192.0.2.0/24 (TEST-NET-1) and MACs 00:00:5e:00:53:xx (the documentation range),
//! configured only on the test's interfaces. The capturing end has no address and IPv6 off, so
//! the kernel never transmits on it. Frames reaching it are addressed to other MACs, as on a
//! SPAN port, so its IP stack drops them and nothing is forwarded anywhere.
#![cfg(target_os = "linux")]
// In tests a failed unwrap or a panic is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fabmon_sensor::capture::afpacket::{AfPacketConfig, AfPacketSource};
use fabmon_sensor::capture::{CaptureError, LinkType, Next, PacketSource};

/// The namespace end of the veth pair.
const NS_IP: [u8; 4] = [192, 0, 2, 2];
/// The address the namespace sends to; nobody has it.
const FAR_IP: [u8; 4] = [192, 0, 2, 1];
/// The MAC the namespace resolves `FAR_IP` to (static neighbour entry): not the capturing
/// interface's own, so frames are "for another host" there.
const FAR_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];
/// Endpoints of injected conversations.
const HOST_A: ([u8; 4], [u8; 6]) = ([192, 0, 2, 10], [0x00, 0x00, 0x5e, 0x00, 0x53, 0x0a]);
const HOST_B: ([u8; 4], [u8; 6]) = ([192, 0, 2, 20], [0x00, 0x00, 0x5e, 0x00, 0x53, 0x0b]);

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn is_root() -> bool {
    // Effective uid: the second field of the `Uid:` line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A namespace `fmtest-<pid>-<tag>` holding `fmp<pid><tag>`, the peer of `fmv<pid><tag>` in the
/// test's namespace. Dropping it deletes both, also when the test fails.
struct TestNet {
    ns: String,
    cap: String,
    peer: String,
}

impl TestNet {
    /// Sets up the pair, or prints why the test is skipped and returns `None`.
    fn new(tag: char) -> Option<TestNet> {
        if !is_root() {
            println!("SKIPPED: live capture tests need root (namespaces, veth, AF_PACKET)");
            return None;
        }
        if run(&["python3", "-c", "import socket; socket.AF_PACKET"]).is_err() {
            println!("SKIPPED: live capture tests need python3 to generate traffic");
            return None;
        }
        let pid = std::process::id();
        let ns = format!("fmtest-{pid}-{tag}");
        if let Err(e) = run(&["ip", "netns", "add", &ns]) {
            println!("SKIPPED: cannot create a network namespace: {e}");
            return None;
        }
        let net = TestNet { ns, cap: format!("fmv{pid}{tag}"), peer: format!("fmp{pid}{tag}") };
        net.setup();
        Some(net)
    }

    fn setup(&self) {
        let (ns, cap, peer) = (self.ns.as_str(), self.cap.as_str(), self.peer.as_str());
        run(&["ip", "link", "add", cap, "type", "veth", "peer", "name", peer, "netns", ns]).unwrap();
        // No IPv6 (router solicitations, DAD, MLD) and no forwarding on the capturing end; it
        // gets no IPv4 address either, so it has nothing to say.
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{cap}/disable_ipv6"), "1");
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{cap}/forwarding"), "0");
        run(&["ip", "link", "set", cap, "up"]).unwrap();
        let _ = run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-q",
            "-w",
            &format!("net.ipv6.conf.{peer}.disable_ipv6=1"),
        ]);
        run(&["ip", "-n", ns, "addr", "add", "192.0.2.2/24", "dev", peer]).unwrap();
        run(&["ip", "-n", ns, "link", "set", peer, "up"]).unwrap();
        run(&[
            "ip",
            "-n",
            ns,
            "neigh",
            "replace",
            "192.0.2.1",
            "lladdr",
            "00:00:5e:00:53:01",
            "dev",
            peer,
            "nud",
            "permanent",
        ])
        .unwrap();
    }

    /// Sends `count` UDP datagrams from 192.0.2.2:40000 to 192.0.2.1:`dport` through the
    /// namespace's own IP stack. Payloads are `fabmon-live <i>`.
    fn udp_from_ns(&self, count: usize, dport: u16) {
        let script = "import socket, sys\n\
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
            s.bind(('192.0.2.2', 40000))\n\
            for i in range(int(sys.argv[1])):\n    s.sendto(b'fabmon-live %d' % i, ('192.0.2.1', int(sys.argv[2])))\n";
        run(&[
            "ip",
            "netns",
            "exec",
            &self.ns,
            "python3",
            "-c",
            script,
            &count.to_string(),
            &dport.to_string(),
        ])
        .unwrap();
    }

    /// Puts `frames` on the wire of the namespace end, as they are.
    fn inject(&self, frames: &[Vec<u8>]) {
        let child = self.inject_start(frames, 0);
        assert!(child.wait_with_output().unwrap().status.success(), "frame injection failed");
    }

    /// Starts putting `frames` on the wire, pausing `pause_ms` after every 100; the caller
    /// waits for the returned child.
    fn inject_start(&self, frames: &[Vec<u8>], pause_ms: u32) -> std::process::Child {
        let script = "import socket, sys, time\n\
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
            s.bind((sys.argv[1], 0))\n\
            pause = int(sys.argv[2]) / 1000\n\
            for i, line in enumerate(sys.stdin):\n    s.send(bytes.fromhex(line.strip()))\n    \
            if pause and i % 100 == 99: time.sleep(pause)\n";
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", script, &self.peer, &pause_ms.to_string()])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let lines: Vec<String> =
            frames.iter().map(|f| f.iter().map(|b| format!("{b:02x}")).collect()).collect();
        // Feed the pipe from a thread: the caller may want to read packets meanwhile.
        std::thread::spawn(move || {
            for line in lines {
                if writeln!(stdin, "{line}").is_err() {
                    break;
                }
            }
        });
        child
    }

    fn counter(&self, name: &str) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/{name}", self.cap);
        std::fs::read_to_string(&path).unwrap().trim().parse().unwrap()
    }

    fn promiscuous(&self) -> bool {
        let flags = std::fs::read_to_string(format!("/sys/class/net/{}/flags", self.cap)).unwrap();
        let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
        flags & 0x100 != 0
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = run(&["ip", "link", "del", &self.cap]);
        let _ = run(&["ip", "netns", "del", &self.ns]);
    }
}

/// Small ring and short timeouts so tests see packets quickly.
fn test_cfg(iface: &str) -> AfPacketConfig {
    AfPacketConfig {
        block_size: 64 << 10,
        block_count: 8,
        block_timeout_ms: 10,
        poll_timeout_ms: 50,
        ..AfPacketConfig::new(iface)
    }
}

/// An Ethernet/IPv4/UDP frame, with `tags` (TPID, TCI) inserted after the MACs.
fn udp_frame(
    (src_ip, src_mac): ([u8; 4], [u8; 6]),
    (dst_ip, dst_mac): ([u8; 4], [u8; 6]),
    ports: (u16, u16),
    tags: &[(u16, u16)],
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]); // id, DF, ttl 64, UDP, checksum
    ip.extend_from_slice(&src_ip);
    ip.extend_from_slice(&dst_ip);
    let sum = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]); // no UDP checksum
    f.extend_from_slice(payload);
    f
}

/// IPv4/UDP fields of an untagged Ethernet frame.
struct Udp<'a> {
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    payload: &'a [u8],
}

fn parse_udp(f: &[u8]) -> Option<Udp<'_>> {
    if f.len() < 42 || f[12..14] != [0x08, 0x00] || f[23] != 17 {
        return None;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let udp = f.get(14 + ihl..)?;
    Some(Udp {
        dst_mac: f[0..6].try_into().ok()?,
        src: f[26..30].try_into().ok()?,
        dst: f[30..34].try_into().ok()?,
        ports: (u16::from_be_bytes([udp[0], udp[1]]), u16::from_be_bytes([udp[2], udp[3]])),
        payload: udp.get(8..)?,
    })
}

struct Seen {
    ts_ns: i64,
    data: Vec<u8>,
    orig_len: u32,
}

/// Reads until `want` packets pass `keep` or `timeout` passes; returns the kept ones.
fn collect(
    src: &mut AfPacketSource,
    keep: impl Fn(&[u8]) -> bool,
    want: usize,
    timeout: Duration,
) -> Vec<Seen> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        match src.next_packet() {
            Ok(Next::Packet(p)) if keep(p.data) => {
                assert_eq!(p.link, LinkType::ETHERNET);
                out.push(Seen { ts_ns: p.ts_ns, data: p.data.to_vec(), orig_len: p.orig_len });
            }
            Ok(Next::Packet(_) | Next::Idle) => {}
            Ok(Next::End) => break,
            Err(e) => panic!("capture failed: {e}"),
        }
    }
    out
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

#[test]
fn captures_namespace_traffic_and_reads_kernel_stats() {
    let Some(net) = TestNet::new('a') else { return };
    let mut src = AfPacketSource::open(&test_cfg(&net.cap)).unwrap();
    assert_eq!(src.link_type(), LinkType::ETHERNET);
    assert_eq!(src.name(), net.cap);
    assert_eq!(src.fanout_group_id(), None);

    let before = now_ns();
    net.udp_from_ns(20, 5020);
    let got =
        collect(&mut src, |f| parse_udp(f).is_some_and(|u| u.ports.1 == 5020), 20, Duration::from_secs(5));
    let after = now_ns();
    assert_eq!(got.len(), 20, "datagrams seen");
    for (i, p) in got.iter().enumerate() {
        let u = parse_udp(&p.data).unwrap();
        assert_eq!((u.dst_mac, u.src, u.dst, u.ports), (FAR_MAC, NS_IP, FAR_IP, (40000, 5020)));
        assert_eq!(u.payload, format!("fabmon-live {i}").as_bytes(), "in order, intact");
        assert_eq!(p.orig_len as usize, p.data.len(), "nothing cut");
        assert!(before - 1_000_000_000 <= p.ts_ns && p.ts_ns <= after, "timestamp {}", p.ts_ns);
    }

    let st = src.stats();
    println!("kernel stats after 20 datagrams: {st:?}");
    assert!(st.kernel_packets >= 20, "{st:?}");
    assert_eq!(st.kernel_drops, 0, "{st:?}");
    assert!(st.records >= 20 && st.bytes >= 20 * 42, "{st:?}");
    // The kernel zeroes its counters on read; the source keeps totals.
    assert!(src.stats().kernel_packets >= st.kernel_packets);

    // Nothing more to read: the source idles, and ends when asked to stop.
    let t = Instant::now();
    while !matches!(src.next_packet().unwrap(), Next::Idle) {
        assert!(t.elapsed() < Duration::from_secs(2), "never idle");
    }
    src.stop_handle().store(true, Ordering::Relaxed);
    assert!(matches!(src.next_packet().unwrap(), Next::End));
}

#[test]
fn fanout_hash_keeps_each_flow_on_one_socket() {
    let Some(net) = TestNet::new('b') else { return };
    let srcs = AfPacketSource::open_group(&test_cfg(&net.cap), 2).unwrap();
    let group = srcs[0].fanout_group_id();
    assert!(group.is_some());
    assert_eq!(srcs[1].fanout_group_id(), group, "both sockets in one group");

    // 16 Modbus/TCP-port conversations between A and B, 5 datagrams each way.
    const FLOWS: u16 = 16;
    const EACH_WAY: usize = 5;
    let mut frames = Vec::new();
    for k in 0..EACH_WAY {
        for f in 0..FLOWS {
            let port = 30000 + f;
            frames.push(udp_frame(HOST_A, HOST_B, (port, 502), &[], format!("fanout {f} {k} ab").as_bytes()));
            frames.push(udp_frame(HOST_B, HOST_A, (502, port), &[], format!("fanout {f} {k} ba").as_bytes()));
        }
    }
    let expected = frames.len();
    let seen = Arc::new(AtomicUsize::new(0));
    let stop = srcs[0].stop_handle();
    let workers: Vec<_> = srcs
        .into_iter()
        .map(|mut src| {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                // Client port of each packet seen: identifies the conversation.
                let mut flows = Vec::new();
                loop {
                    match src.next_packet() {
                        Ok(Next::Packet(p)) => {
                            if let Some(Udp { ports: (sp, dp), payload, .. }) = parse_udp(p.data) {
                                if payload.starts_with(b"fanout ") {
                                    flows.push((sp.max(dp), payload.ends_with(b"ab")));
                                    seen.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        Ok(Next::Idle) => {}
                        Ok(Next::End) => break,
                        Err(e) => panic!("capture failed: {e}"),
                    }
                }
                (flows, src.stats())
            })
        })
        .collect();

    net.inject(&frames);
    let t = Instant::now();
    while seen.load(Ordering::Relaxed) < expected && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let a duplicate, if any, arrive before stopping.
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();

    let total: usize = results.iter().map(|(f, _)| f.len()).sum();
    assert_eq!(total, expected, "every packet reached exactly one socket");
    let mut owner: BTreeMap<u16, BTreeSet<usize>> = BTreeMap::new();
    for (sock, (flows, _)) in results.iter().enumerate() {
        for (flow, _) in flows {
            owner.entry(*flow).or_default().insert(sock);
        }
    }
    assert_eq!(owner.len(), usize::from(FLOWS));
    for (flow, socks) in &owner {
        assert_eq!(socks.len(), 1, "flow {flow} split over sockets {socks:?}");
    }
    for (sock, (flows, st)) in results.iter().enumerate() {
        let convs: BTreeSet<u16> = flows.iter().map(|(f, _)| *f).collect();
        let ab = flows.iter().filter(|(_, ab)| *ab).count();
        println!(
            "socket {sock}: {} packets ({ab} A->B, {} B->A) of {} flows; kernel packets {}, drops {}",
            flows.len(),
            flows.len() - ab,
            convs.len(),
            st.kernel_packets,
            st.kernel_drops
        );
        assert!(!convs.is_empty(), "socket {sock} got no flow: hash fanout should spread 16 flows");
        assert_eq!(ab, flows.len() - ab, "both directions of each flow on the same socket");
    }
}

#[test]
fn passive_capture_transmits_nothing() {
    let Some(net) = TestNet::new('c') else { return };
    let cfg = AfPacketConfig { promiscuous: true, ..test_cfg(&net.cap) };
    let mut src = AfPacketSource::open(&cfg).unwrap();
    assert!(net.promiscuous(), "promiscuous while the source is open");
    let (tx0, rx0) = (net.counter("tx_packets"), net.counter("rx_packets"));

    net.udp_from_ns(30, 5030);
    let frames: Vec<_> =
        (0..10u16).map(|i| udp_frame(HOST_A, HOST_B, (1000 + i, 5030), &[], b"passive check")).collect();
    net.inject(&frames);
    let got =
        collect(&mut src, |f| parse_udp(f).is_some_and(|u| u.ports.1 == 5030), 40, Duration::from_secs(5));
    assert_eq!(got.len(), 40);
    // Idle for a moment longer with the socket open.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) {
        let _ = src.next_packet().unwrap();
    }
    let st = src.stats();
    let (tx1, rx1) = (net.counter("tx_packets"), net.counter("rx_packets"));
    println!("{}: tx_packets {tx0} -> {tx1}, rx_packets {rx0} -> {rx1}, source {st:?}", net.cap);
    assert!(rx1 - rx0 >= 40, "the interface received the traffic");
    assert_eq!(tx1 - tx0, 0, "nothing transmitted while capturing");
    assert_eq!(tx1, 0, "nothing transmitted on the capturing interface ever");

    drop(src);
    assert!(!net.promiscuous(), "promiscuous mode left with the source");
    assert_eq!(net.counter("tx_packets"), 0);
}

#[test]
fn vlan_tags_are_restored_byte_for_byte() {
    let Some(net) = TestNet::new('e') else { return };
    let mut src = AfPacketSource::open(&test_cfg(&net.cap)).unwrap();
    let frames = vec![
        udp_frame(HOST_A, HOST_B, (1, 2), &[], b"untagged"),
        // VLAN 30, priority 5.
        udp_frame(HOST_A, HOST_B, (1, 2), &[(0x8100, (5 << 13) | 30)], b"tagged"),
        // 802.1ad outer tag 100 around 802.1Q 30.
        udp_frame(HOST_A, HOST_B, (1, 2), &[(0x88a8, 100), (0x8100, 30)], b"double tagged"),
    ];
    net.inject(&frames);
    let is_ours = |f: &[u8]| f.len() >= 12 && f[0..6] == HOST_B.1 && f[6..12] == HOST_A.1;
    let got = collect(&mut src, is_ours, frames.len(), Duration::from_secs(5));
    assert_eq!(got.len(), frames.len());
    for (sent, seen) in frames.iter().zip(&got) {
        assert_eq!(&seen.data, sent, "frame as on the wire");
        assert_eq!(seen.orig_len as usize, sent.len());
    }
}

#[test]
fn interface_down_or_removed_is_a_live_error() {
    let Some(net) = TestNet::new('d') else { return };
    // Down at open: refused with a hint.
    run(&["ip", "link", "set", &net.cap, "down"]).unwrap();
    let msg = AfPacketSource::open(&test_cfg(&net.cap)).err().unwrap().to_string();
    assert!(msg.contains("ip link set") && msg.contains(&net.cap), "{msg}");
    run(&["ip", "link", "set", &net.cap, "up"]).unwrap();

    // Removed while capturing: the source reports it instead of idling forever.
    let mut src = AfPacketSource::open(&test_cfg(&net.cap)).unwrap();
    assert!(matches!(src.next_packet().unwrap(), Next::Idle));
    run(&["ip", "link", "del", &net.cap]).unwrap();
    let t = Instant::now();
    let err = loop {
        match src.next_packet() {
            Err(e) => break e,
            Ok(_) => assert!(t.elapsed() < Duration::from_secs(3), "removal not noticed"),
        }
    };
    match &err {
        CaptureError::Live { iface, reason } => {
            assert_eq!(iface, &net.cap);
            assert!(reason.contains("went down or was removed"), "{reason}");
        }
        other => panic!("unexpected error {other}"),
    }
    println!("{err}");
    assert!(src.next_packet().is_err(), "the error sticks");
}

/// Frames `fill <i>` padded to `size` bytes, A to B.
fn numbered_frames(count: usize, size: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut payload = format!("fill {i} ").into_bytes();
            payload.resize(size - 42, b'.');
            udp_frame(HOST_A, HOST_B, (7000, 7001), &[], &payload)
        })
        .collect()
}

/// The index of a `numbered_frames` frame.
fn frame_number(f: &[u8]) -> Option<usize> {
    let u = parse_udp(f)?;
    let text = std::str::from_utf8(u.payload.strip_prefix(b"fill ")?).ok()?;
    (u.ports == (7000, 7001)).then(|| text.split(' ').next()?.parse().ok()).flatten()
}

#[test]
fn ring_wraps_fills_up_and_accounts_for_every_packet() {
    let Some(net) = TestNet::new('f') else { return };
    // 4 blocks of 64 KiB: 256 KiB of ring.
    let cfg = AfPacketConfig { block_count: 4, ..test_cfg(&net.cap) };
    let ring_bytes = cfg.block_size * cfg.block_count;
    let mut src = AfPacketSource::open(&cfg).unwrap();

    // 1. Read while 4000 frames of 600 bytes (2.4 MB) go by: the ring wraps many times. The
    // pacing (at most ~100 frames, 60 KB, per 5 ms) leaves a busy test machine time to read.
    let child = net.inject_start(&numbered_frames(4000, 600), 5);
    let mut numbers = Vec::new();
    let mut idle_after_exit = 0;
    let mut child = Some(child);
    while idle_after_exit < 3 {
        match src.next_packet().unwrap() {
            Next::Packet(p) => numbers.extend(frame_number(p.data)),
            Next::Idle => {
                if let Some(c) = child.as_mut() {
                    if c.try_wait().unwrap().is_some() {
                        child = None;
                    }
                } else {
                    idle_after_exit += 1;
                }
            }
            Next::End => unreachable!(),
        }
    }
    let st = src.stats();
    println!("while reading: {} frames delivered, {st:?}", numbers.len());
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "delivered in order, none twice");
    assert!(numbers.len() * 600 > 4 * ring_bytes, "the ring wrapped at least 4 times");
    assert_eq!(st.kernel_packets, st.records + st.kernel_drops, "every packet delivered or counted");

    // 2. Stop reading while 2000 frames of 1000 bytes (2 MB) arrive: the ring fills, the
    // kernel freezes it and drops the rest, and says so.
    let before = src.stats();
    net.inject(&numbered_frames(2000, 1000));
    std::thread::sleep(Duration::from_millis(100));
    let mut held = Vec::new();
    while let Next::Packet(p) = src.next_packet().unwrap() {
        held.extend(frame_number(p.data));
    }
    let after = src.stats();
    println!("ring full: {} frames were in the ring; stats {after:?}", held.len());
    assert!(after.kernel_drops > before.kernel_drops, "drops counted");
    assert!(after.kernel_freeze_q > before.kernel_freeze_q, "freeze counted");
    assert!(held.len() * 1000 <= ring_bytes, "no more than the ring holds");
    assert!(
        held.first() == Some(&0) && held.windows(2).all(|w| w[1] == w[0] + 1),
        "the first frames, in order"
    );
    assert_eq!(after.kernel_packets, after.records + after.kernel_drops);

    // 3. Once drained, the ring takes packets again.
    net.inject(&numbered_frames(50, 100));
    let got = collect(&mut src, |f| frame_number(f).is_some(), 50, Duration::from_secs(5));
    assert_eq!(got.len(), 50, "capture resumes after a full ring");
    assert_eq!(src.ring_errors(), 0);
}
