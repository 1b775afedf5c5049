//! Live capture on Linux: an `AF_PACKET` socket with a `TPACKET_V3` memory-mapped receive ring.
//!
//! # How packets flow
//!
//! The kernel writes packets into a ring of fixed-size blocks shared with fabmon. A block belongs
//! either to the kernel (`TP_STATUS_KERNEL`), which fills it, or to fabmon (`TP_STATUS_USER`),
//! after the kernel closes it: when it is full or when `block_timeout_ms` passes with at least
//! one packet in it. [`AfPacketSource::next_packet`] walks the packets of the block it holds and
//! lends each one as a slice straight out of the ring (zero copy). A finished block is handed back
//! to the kernel on the *following* call, so the last slice lent from it stays valid until the
//! caller asks for more. When no block is ready the source waits in `poll(2)` for at most
//! `poll_timeout_ms` and then returns [`Next::Idle`], so the caller can run its timers.
//!
//! If fabmon falls behind and every block is held, the kernel freezes the ring and drops
//! packets; both are counted ([`SourceStats::kernel_drops`], [`SourceStats::kernel_freeze_q`]).
//!
//! # Passive by construction
//!
//! The sensor must never put a frame on the monitored network. This module cannot: it creates
//! no transmit ring (`PACKET_TX_RING`), and no code path calls `send`, `sendto`, `sendmsg` or
//! `write` on the socket. The socket is only ever configured, mapped for reading, polled and
//! closed. The integration tests check the interface's transmit counter stays at zero while a
//! source captures.
//!
//! # Workers and fanout
//!
//! Several sources on one interface can join a `PACKET_FANOUT` group; the kernel then hands each
//! packet to exactly one of them. With [`FanoutMode::Hash`] (the default) the kernel picks the
//! socket from a symmetric flow hash, so both directions of a TCP connection or UDP exchange
//! reach the same worker and its flow table. [`AfPacketSource::open_group`] opens one source per
//! worker. The other modes spread load without regard to flows; a flow can then be split across
//! workers, which the per-worker engines do not support, so they are for experiments only.
//!
//! IP fragments carry no ports, so without help the kernel would hash them by address alone and
//! could hand them to a different worker than the rest of their flow. With
//! [`FanoutConfig::defrag`] (the default) the kernel reassembles IPv4 fragments before choosing
//! the socket; the source then sees the reassembled datagram instead of the fragments.
//!
//! # Link types
//!
//! The lent bytes start at the link-layer header the device uses. Ethernet devices
//! (`ARPHRD_ETHER`: physical NICs, bonds, bridges, VLAN devices, veth) and the loopback device
//! (`ARPHRD_LOOPBACK`, whose frames carry a zeroed Ethernet header) are reported as
//! [`LinkType::ETHERNET`]. Devices without a link-layer header (`ARPHRD_NONE` for tun and
//! WireGuard, `ARPHRD_RAWIP`, `ARPHRD_PPP`, IP-in-IP tunnels) are reported as [`LinkType::RAW`]:
//! the bytes start at the IP header. Any other device type is refused at open with an error
//! naming it.
//!
//! # VLAN tags
//!
//! Linux removes the outer 802.1Q/802.1ad tag from a received frame before packet sockets see
//! it (in hardware, or in software before the taps run) and reports it beside the frame. fabmon
//! puts the tag back so the dissector sees the frame as it was on the wire. That needs a copy of
//! the frame into a buffer owned by the source; untagged frames are still lent from the ring.
//!
//! # Privileges
//!
//! Opening a source needs `CAP_NET_RAW` (root has it). Promiscuous mode is requested through a
//! packet-socket membership (`PACKET_MR_PROMISC`), which needs no more than the socket itself;
//! the kernel reference-counts it and drops it when the socket closes, even if the process
//! dies. Setting the interface promiscuous by other means (`ip link set IF promisc on`) needs
//! `CAP_NET_ADMIN`. A SPAN or TAP port delivers frames addressed to other hosts; the NIC only
//! passes them up in promiscuous mode, so a sensor on such a port wants
//! [`AfPacketConfig::promiscuous`] (or the operator sets the interface promiscuous).
//!
//! # Safety
//!
//! The `unsafe` code of live capture lives in this module only: system calls through `libc`,
//! the mapping of the ring, and the hand-over of ring blocks between kernel and user space. Each
//! block says why it is sound in a `// SAFETY:` comment.
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::cell::Cell;
use std::ffi::CString;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use super::{CaptureError, LinkType, Next, Packet, PacketSource, SourceStats};

/// Default size of one ring block: 1 MiB.
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;
/// Default number of ring blocks (64 MiB of ring with the default block size).
pub const DEFAULT_BLOCK_COUNT: usize = 64;
/// Default frame size. `TPACKET_V3` packs packets of any length into a block; the frame size
/// only enters the kernel's validation of the ring geometry.
pub const DEFAULT_FRAME_SIZE: usize = 2048;
/// Default time after which the kernel hands over a block that holds at least one packet.
pub const DEFAULT_BLOCK_TIMEOUT_MS: u32 = 100;
/// Default time `next_packet` waits for a block before returning [`Next::Idle`].
pub const DEFAULT_POLL_TIMEOUT_MS: u32 = 100;
/// Most sockets one fanout group takes (the kernel's `PACKET_FANOUT_MAX`).
pub const MAX_FANOUT_MEMBERS: usize = 256;

/// Longest interface name Linux accepts (`IFNAMSIZ` minus the terminating NUL).
const MAX_IFACE_NAME: usize = 15;
/// Alignment the kernel requires of `tp_frame_size` (`TPACKET_ALIGNMENT`).
const FRAME_ALIGN: usize = 16;
/// Largest ring accepted: beyond this a mistyped size is more likely than a real need.
const MAX_RING_BYTES: usize = 16 << 30;

/// Device types (`ARPHRD_*`, from `linux/if_arp.h`) without a link-layer header.
const ARPHRD_PPP: u16 = 512;
const ARPHRD_RAWIP: u16 = 519;
const ARPHRD_TUNNEL: u16 = 768;
const ARPHRD_TUNNEL6: u16 = 769;

/// Offsets in the ring's block descriptor (`struct tpacket_block_desc`, `linux/if_packet.h`).
const BLOCK_STATUS_AT: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status);
const BLOCK_NUM_PKTS_AT: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, num_pkts);
const BLOCK_FIRST_PKT_AT: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);
const BLOCK_DESC_LEN: usize = size_of::<libc::tpacket_block_desc>();

/// Offsets in a packet header (`struct tpacket3_hdr`, `linux/if_packet.h`).
const PKT_NEXT_AT: usize = offset_of!(libc::tpacket3_hdr, tp_next_offset);
const PKT_SEC_AT: usize = offset_of!(libc::tpacket3_hdr, tp_sec);
const PKT_NSEC_AT: usize = offset_of!(libc::tpacket3_hdr, tp_nsec);
const PKT_SNAPLEN_AT: usize = offset_of!(libc::tpacket3_hdr, tp_snaplen);
const PKT_LEN_AT: usize = offset_of!(libc::tpacket3_hdr, tp_len);
const PKT_STATUS_AT: usize = offset_of!(libc::tpacket3_hdr, tp_status);
const PKT_MAC_AT: usize = offset_of!(libc::tpacket3_hdr, tp_mac);
const PKT_VLAN_TCI_AT: usize =
    offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci);
const PKT_VLAN_TPID_AT: usize =
    offset_of!(libc::tpacket3_hdr, hv1) + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid);
const PKT_HDR_LEN: usize = size_of::<libc::tpacket3_hdr>();

/// How packets are spread over the sockets of a fanout group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FanoutMode {
    /// By a symmetric flow hash (`PACKET_FANOUT_HASH`): both directions of a flow reach the same
    /// socket. The only mode that keeps flows whole.
    #[default]
    Hash,
    /// Round robin (`PACKET_FANOUT_LB`).
    LoadBalance,
    /// By the CPU that received the packet (`PACKET_FANOUT_CPU`).
    Cpu,
    /// Fill one socket, move to the next when it is full (`PACKET_FANOUT_ROLLOVER`).
    Rollover,
    /// At random (`PACKET_FANOUT_RND`).
    Random,
    /// By the NIC receive queue (`PACKET_FANOUT_QM`).
    QueueMapping,
}

impl FanoutMode {
    fn kernel_value(self) -> u32 {
        match self {
            FanoutMode::Hash => libc::PACKET_FANOUT_HASH,
            FanoutMode::LoadBalance => libc::PACKET_FANOUT_LB,
            FanoutMode::Cpu => libc::PACKET_FANOUT_CPU,
            FanoutMode::Rollover => libc::PACKET_FANOUT_ROLLOVER,
            FanoutMode::Random => libc::PACKET_FANOUT_RND,
            FanoutMode::QueueMapping => libc::PACKET_FANOUT_QM,
        }
    }
}

/// Membership in a `PACKET_FANOUT` group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FanoutConfig {
    /// Group id. Groups are per network namespace and per interface: two fabmon processes on
    /// the same host need different ids. [`AfPacketSource::open_group`] without a fanout config
    /// lets the kernel pick an unused id.
    pub group_id: u16,
    /// How packets are spread over the group.
    pub mode: FanoutMode,
    /// Reassemble IPv4 fragments before choosing a socket (`PACKET_FANOUT_FLAG_DEFRAG`), so a
    /// fragmented datagram reaches the worker that owns its flow. Default on.
    pub defrag: bool,
    /// When a socket's ring is full, give the packet to another member instead of dropping it
    /// (`PACKET_FANOUT_FLAG_ROLLOVER`). This trades drops for split flows. Default off.
    pub rollover: bool,
}

impl FanoutConfig {
    /// Hash fanout with defragmentation, in group `group_id`.
    pub const fn new(group_id: u16) -> FanoutConfig {
        FanoutConfig { group_id, mode: FanoutMode::Hash, defrag: true, rollover: false }
    }

    /// The `type_flags` half of the `PACKET_FANOUT` argument.
    fn type_flags(&self) -> u32 {
        let mut v = self.mode.kernel_value();
        if self.defrag {
            v |= libc::PACKET_FANOUT_FLAG_DEFRAG;
        }
        if self.rollover {
            v |= libc::PACKET_FANOUT_FLAG_ROLLOVER;
        }
        v
    }

    /// The `PACKET_FANOUT` socket option value: group id in the low 16 bits, mode and flags in
    /// the high 16 bits.
    fn sockopt_value(&self, unique_id: bool) -> u32 {
        let mut flags = self.type_flags();
        let mut id = u32::from(self.group_id);
        if unique_id {
            // The kernel allocates an unused id; it requires the requested id to be 0.
            flags |= libc::PACKET_FANOUT_FLAG_UNIQUEID;
            id = 0;
        }
        id | (flags << 16)
    }
}

/// What a live source is opened with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Interface to capture on, e.g. `enp3s0`.
    pub iface: String,
    /// Bytes per ring block: a multiple of the page size. A packet longer than a block (less
    /// its headers) is cut to fit; [`Packet::orig_len`] keeps its length on the wire.
    pub block_size: usize,
    /// Number of ring blocks. The ring holds `block_size * block_count` bytes of packets.
    pub block_count: usize,
    /// Frame size for the kernel's geometry check: a multiple of 16, at least 80, at most
    /// `block_size`. `TPACKET_V3` does not cut packets at this size.
    pub frame_size: usize,
    /// A block holding packets is handed over after this long even if not full; bounds the
    /// latency at low rates. 0 lets the kernel choose from the link speed.
    pub block_timeout_ms: u32,
    /// How long `next_packet` waits for a block before returning [`Next::Idle`].
    pub poll_timeout_ms: u32,
    /// Join a fanout group; `None` captures everything on this one socket.
    pub fanout: Option<FanoutConfig>,
    /// Put the interface in promiscuous mode while the source is open (`PACKET_MR_PROMISC`).
    pub promiscuous: bool,
    /// Do not capture packets this host sends (`PACKET_IGNORE_OUTGOING`, Linux 4.20+). A SPAN
    /// or TAP port has no outgoing traffic of its own, so this is off by default; on a host
    /// port it would hide half of every conversation.
    pub ignore_outgoing: bool,
}

impl AfPacketConfig {
    /// The defaults, capturing on `iface`.
    pub fn new(iface: impl Into<String>) -> AfPacketConfig {
        AfPacketConfig { iface: iface.into(), ..AfPacketConfig::default() }
    }

    /// Checks the ring geometry and the interface name, naming the offending value.
    pub fn validate(&self) -> Result<(), CaptureError> {
        self.geometry(page_size()).map(|_| ())
    }

    fn geometry(&self, page: usize) -> Result<libc::tpacket_req3, CaptureError> {
        let err = |reason: String| live(&self.iface, reason);
        check_iface_name(&self.iface).map_err(err)?;
        let AfPacketConfig { block_size, block_count, frame_size, .. } = *self;
        if block_size == 0 || block_size % page != 0 {
            return Err(err(format!(
                "block_size {block_size} is not a positive multiple of the page size {page}"
            )));
        }
        let block_size_u32 = u32::try_from(block_size)
            .ok()
            .filter(|&b| b <= i32::MAX as u32)
            .ok_or_else(|| err(format!("block_size {block_size} exceeds {} bytes", i32::MAX)))?;
        if block_count == 0 {
            return Err(err("block_count 0: the ring needs at least one block".into()));
        }
        let min_frame = (libc::TPACKET3_HDRLEN).div_ceil(FRAME_ALIGN) * FRAME_ALIGN;
        if frame_size < min_frame || frame_size % FRAME_ALIGN != 0 || frame_size > block_size {
            return Err(err(format!(
                "frame_size {frame_size} must be a multiple of {FRAME_ALIGN} between {min_frame} and \
                 block_size {block_size}"
            )));
        }
        if block_size.checked_mul(block_count).is_none_or(|ring| ring > MAX_RING_BYTES) {
            return Err(err(format!(
                "block_size {block_size} x block_count {block_count} exceeds the {MAX_RING_BYTES}-byte ring \
                 limit"
            )));
        }
        let frame_nr = u32::try_from((block_size / frame_size) * block_count).map_err(|_| {
            err(format!("{block_count} blocks of {block_size} / {frame_size} frames overflow"))
        })?;
        let block_nr =
            u32::try_from(block_count).map_err(|_| err(format!("block_count {block_count} overflows")))?;
        Ok(libc::tpacket_req3 {
            tp_block_size: block_size_u32,
            tp_block_nr: block_nr,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: frame_nr,
            tp_retire_blk_tov: self.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        })
    }
}

impl Default for AfPacketConfig {
    fn default() -> AfPacketConfig {
        AfPacketConfig {
            iface: String::new(),
            block_size: DEFAULT_BLOCK_SIZE,
            block_count: DEFAULT_BLOCK_COUNT,
            frame_size: DEFAULT_FRAME_SIZE,
            block_timeout_ms: DEFAULT_BLOCK_TIMEOUT_MS,
            poll_timeout_ms: DEFAULT_POLL_TIMEOUT_MS,
            fanout: None,
            promiscuous: false,
            ignore_outgoing: false,
        }
    }
}

/// Totals of the kernel's packet counters (the kernel resets them on every read).
#[derive(Clone, Copy, Debug, Default)]
struct KernelTotals {
    packets: u64,
    drops: u64,
    freeze_q: u64,
}

/// What [`AfPacketSource::advance`] found.
enum Step {
    Packet(RingPacket),
    Idle,
    End,
}

/// The block the reader is walking.
#[derive(Clone, Copy, Debug)]
struct Held {
    /// Packets of the block not yet lent.
    pkts_left: u32,
    /// Offset in the block of the next packet header.
    next_off: usize,
}

/// A live capture on one interface through a `TPACKET_V3` ring. See the [module docs](self).
///
/// The source is `Send`: open it where convenient and move it to the worker thread that reads
/// it. Dropping it unmaps the ring and closes the socket, which also leaves promiscuous mode and
/// the fanout group.
pub struct AfPacketSource {
    // Declared before `fd`: the ring is unmapped before the socket closes.
    ring: Ring,
    fd: OwnedFd,
    iface: String,
    ifindex: u32,
    hatype: u16,
    link: LinkType,
    fanout_id: Option<u16>,
    poll_timeout_ms: libc::c_int,
    stop: Arc<AtomicBool>,
    /// Ring block the reader is at.
    cur: usize,
    /// Set while block `cur` is owned by fabmon.
    held: Option<Held>,
    /// A frame whose VLAN tag was put back.
    scratch: Vec<u8>,
    /// Why the socket stopped working; returned once the ready blocks are drained.
    failed: Option<String>,
    records: u64,
    bytes: u64,
    /// Blocks or packet headers that failed validation (never expected from a sane kernel).
    ring_errors: u64,
    kernel: Cell<KernelTotals>,
}

impl AfPacketSource {
    /// Opens a source on `cfg.iface`. Needs `CAP_NET_RAW`; see the [module docs](self).
    pub fn open(cfg: &AfPacketConfig) -> Result<AfPacketSource, CaptureError> {
        AfPacketSource::open_inner(cfg, cfg.fanout.map(|f| (f, false)), Arc::new(AtomicBool::new(false)))
    }

    /// Opens `workers` sources on `cfg.iface`, one per worker thread, sharing one stop flag.
    ///
    /// With more than one worker they form a fanout group: `cfg.fanout` if given, else hash
    /// fanout with defragmentation in a group whose id the kernel picks, so that two fabmon
    /// processes never collide. With one worker and no `cfg.fanout`, no group is joined.
    pub fn open_group(cfg: &AfPacketConfig, workers: usize) -> Result<Vec<AfPacketSource>, CaptureError> {
        if workers == 0 || workers > MAX_FANOUT_MEMBERS {
            return Err(live(
                &cfg.iface,
                format!("{workers} workers: a fanout group takes 1 to {MAX_FANOUT_MEMBERS} sockets"),
            ));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (mut fanout, mut unique) = match cfg.fanout {
            Some(f) => (Some(f), false),
            None if workers > 1 => (Some(FanoutConfig::new(0)), true),
            None => (None, false),
        };
        let mut out = Vec::with_capacity(workers);
        for _ in 0..workers {
            let src = AfPacketSource::open_inner(cfg, fanout.map(|f| (f, unique)), Arc::clone(&stop))?;
            // The first socket created the group; the others join it by its id.
            if let (Some(f), Some(id)) = (fanout.as_mut(), src.fanout_id) {
                f.group_id = id;
                unique = false;
            }
            out.push(src);
        }
        Ok(out)
    }

    fn open_inner(
        cfg: &AfPacketConfig,
        fanout: Option<(FanoutConfig, bool)>,
        stop: Arc<AtomicBool>,
    ) -> Result<AfPacketSource, CaptureError> {
        let iface = cfg.iface.as_str();
        let err = |what: &str, e: io::Error| live(iface, format!("{what}: {e}"));
        let req = cfg.geometry(page_size())?;
        let ifindex = interface_index(iface)?;

        // Protocol 0: the socket receives nothing until it is bound to the interface below, so
        // packets of other interfaces never enter the ring.
        // SAFETY: plain system call with constant arguments; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let e = io::Error::last_os_error();
            let hint = if e.raw_os_error() == Some(libc::EPERM) { " (needs CAP_NET_RAW)" } else { "" };
            return Err(live(iface, format!("socket(AF_PACKET, SOCK_RAW){hint}: {e}")));
        }
        // SAFETY: `raw` is a fresh descriptor owned by nothing else; `OwnedFd` closes it once.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();

        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        setsockopt(s, libc::SOL_PACKET, libc::PACKET_VERSION, &version)
            .map_err(|e| err("PACKET_VERSION TPACKET_V3 (kernel 3.2+ needed)", e))?;
        if cfg.ignore_outgoing {
            let on: libc::c_int = 1;
            setsockopt(s, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &on)
                .map_err(|e| err("PACKET_IGNORE_OUTGOING (kernel 4.20+ needed)", e))?;
        }
        setsockopt(s, libc::SOL_PACKET, libc::PACKET_RX_RING, &req).map_err(|e| {
            err(
                &format!(
                    "PACKET_RX_RING of {} blocks x {} bytes, frame {}",
                    req.tp_block_nr, req.tp_block_size, req.tp_frame_size
                ),
                e,
            )
        })?;
        let ring = Ring::map(s, cfg.block_size, cfg.block_count)
            .map_err(|e| err(&format!("mmap of a {}-byte ring", cfg.block_size * cfg.block_count), e))?;

        // A group member must not see traffic meant for the others: until it has joined, a
        // filter that accepts nothing keeps the ring empty.
        if fanout.is_some() {
            attach_drop_all_filter(s).map_err(|e| err("SO_ATTACH_FILTER (drop all until joined)", e))?;
        }
        let sll = sockaddr_ll(ifindex);
        // SAFETY: `sll` is a valid `sockaddr_ll` on the stack and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                s,
                (&raw const sll).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(err(&format!("bind to interface index {ifindex}"), io::Error::last_os_error()));
        }
        // An interface that is down makes the bind "succeed" with ENETDOWN pending.
        if let Some(e) = take_socket_error(s) {
            let hint = if e.raw_os_error() == Some(libc::ENETDOWN) {
                format!("; bring it up first (`ip link set {iface} up`)")
            } else {
                String::new()
            };
            return Err(live(iface, format!("interface is not usable: {e}{hint}")));
        }
        let hatype = bound_hatype(s).map_err(|e| err("getsockname", e))?;
        let link = link_type_for(hatype).ok_or_else(|| {
            live(
                iface,
                format!(
                    "device type ARPHRD {hatype} is not supported: fabmon captures Ethernet, loopback and \
                     raw-IP (tun, ppp, ipip) interfaces"
                ),
            )
        })?;

        if cfg.promiscuous {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex as libc::c_int,
                mr_type: libc::PACKET_MR_PROMISC as libc::c_ushort,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(s, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| err("PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC", e))?;
        }

        let mut fanout_id = None;
        if let Some((f, unique)) = fanout {
            let arg = f.sockopt_value(unique) as libc::c_int;
            setsockopt(s, libc::SOL_PACKET, libc::PACKET_FANOUT, &arg).map_err(|e| {
                let group = if unique {
                    "a new fanout group".to_string()
                } else {
                    format!("fanout group {}", f.group_id)
                };
                live(
                    iface,
                    format!(
                        "joining {group} ({:?}, defrag {}, rollover {}): {e}; a group with this id may \
                         already exist in this network namespace with another mode, flags or interface",
                        f.mode, f.defrag, f.rollover
                    ),
                )
            })?;
            let mut got: libc::c_int = 0;
            getsockopt(s, libc::SOL_PACKET, libc::PACKET_FANOUT, &mut got)
                .map_err(|e| err("reading back PACKET_FANOUT", e))?;
            fanout_id = Some((got as u32 & 0xffff) as u16);
            detach_filter(s).map_err(|e| err("SO_DETACH_FILTER", e))?;
        }

        let poll_timeout_ms = libc::c_int::try_from(cfg.poll_timeout_ms).unwrap_or(libc::c_int::MAX);
        Ok(AfPacketSource {
            ring,
            fd,
            iface: iface.to_string(),
            ifindex,
            hatype,
            link,
            fanout_id,
            poll_timeout_ms,
            stop,
            cur: 0,
            held: None,
            scratch: Vec::new(),
            failed: None,
            records: 0,
            bytes: 0,
            ring_errors: 0,
            kernel: Cell::new(KernelTotals::default()),
        })
    }

    /// A flag that makes [`PacketSource::next_packet`] return [`Next::End`] once set (checked
    /// on every call, so within `poll_timeout_ms`). Sources from one
    /// [`open_group`](Self::open_group) share it.
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Replaces the stop flag, e.g. to stop several sources with one flag.
    #[must_use]
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> AfPacketSource {
        self.stop = stop;
        self
    }

    /// Link type of the lent packets.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// The kernel's device type of the interface (`ARPHRD_*`).
    pub fn device_type(&self) -> u16 {
        self.hatype
    }

    /// Interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The fanout group joined, if any (also when the kernel picked the id).
    pub fn fanout_group_id(&self) -> Option<u16> {
        self.fanout_id
    }

    /// Ring blocks or packet headers that failed validation and were skipped. Never expected
    /// from a working kernel; counted rather than trusted.
    pub fn ring_errors(&self) -> u64 {
        self.ring_errors
    }

    /// Hands block `cur` back to the kernel and moves to the next one.
    fn release_current(&mut self) {
        self.ring.release(self.cur);
        self.cur = (self.cur + 1) % self.ring.block_count;
        self.held = None;
    }

    /// Waits for the kernel to hand over a block. Returns false on timeout. A socket error
    /// (interface down or removed) is recorded in `self.failed`.
    fn wait(&mut self) -> bool {
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: `pfd` is one valid `pollfd` on the stack and the count passed is 1.
        let n = unsafe { libc::poll(&raw mut pfd, 1, self.poll_timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                self.failed = Some(format!("poll: {e}"));
            }
            return false;
        }
        if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            self.failed = Some(match take_socket_error(self.fd.as_raw_fd()) {
                Some(e) if matches!(e.raw_os_error(), Some(libc::ENETDOWN | libc::ENXIO | libc::ENODEV)) => {
                    format!("interface went down or was removed ({e}); reopen the capture when it is back")
                }
                Some(e) => format!("capture socket failed: {e}"),
                None => format!("capture socket reported poll events {:#x}", pfd.revents),
            });
            return false;
        }
        n > 0
    }

    /// Moves to the next packet: releases a finished block, takes the next handed-over one, or
    /// waits. Returns where the packet is rather than a slice, so the borrow of the ring is
    /// taken once, by the caller.
    fn advance(&mut self) -> Result<Step, CaptureError> {
        let mut waited = false;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(Step::End);
            }
            if let Some(held) = self.held {
                if held.pkts_left == 0 {
                    // The caller is done with the last packet lent from this block.
                    self.release_current();
                    continue;
                }
                // SAFETY: `held` is set only after `is_user(cur)` saw the block handed over, and
                // the block is released only after `held` is cleared; this slice is dropped
                // before that.
                let block = unsafe { self.ring.block(self.cur) };
                match read_packet(block, held.next_off, held.pkts_left > 1) {
                    Ok(p) => {
                        self.held = Some(Held { pkts_left: held.pkts_left - 1, next_off: p.next_off });
                        self.records += 1;
                        self.bytes += p.data.len() as u64;
                        return Ok(Step::Packet(p));
                    }
                    Err(reason) => {
                        self.ring_errors += 1;
                        tracing::warn!(iface = %self.iface, block = self.cur, reason, "invalid ring packet; rest of block skipped");
                        self.release_current();
                        continue;
                    }
                }
            }
            if self.ring.is_user(self.cur) {
                // SAFETY: `is_user` just saw the kernel hand this block over; it stays ours until
                // `release_current`, and this slice is dropped before that.
                let block = unsafe { self.ring.block(self.cur) };
                match read_block_header(block) {
                    Ok((pkts_left, next_off)) => self.held = Some(Held { pkts_left, next_off }),
                    Err(reason) => {
                        self.ring_errors += 1;
                        tracing::warn!(iface = %self.iface, block = self.cur, reason, "invalid ring block; skipped");
                        self.release_current();
                    }
                }
                continue;
            }
            // Every handed-over block has been delivered: now report a failure, if any.
            if let Some(reason) = &self.failed {
                return Err(live(&self.iface, reason.clone()));
            }
            if waited || !self.wait() {
                if self.failed.is_some() {
                    // Deliver what the kernel handed over before the failure, then report it.
                    continue;
                }
                return Ok(Step::Idle);
            }
            waited = true;
        }
    }

    /// Totals of the kernel counters, after adding what accumulated since the last read.
    fn kernel_totals(&self) -> KernelTotals {
        let mut t = self.kernel.get();
        let mut st = libc::tpacket_stats_v3 { tp_packets: 0, tp_drops: 0, tp_freeze_q_cnt: 0 };
        match getsockopt(self.fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_STATISTICS, &mut st) {
            Ok(_) => {
                // The kernel zeroes its counters on each read: keep the sums here.
                t.packets += u64::from(st.tp_packets);
                t.drops += u64::from(st.tp_drops);
                t.freeze_q += u64::from(st.tp_freeze_q_cnt);
                self.kernel.set(t);
            }
            Err(e) => tracing::debug!(iface = %self.iface, error = %e, "reading PACKET_STATISTICS failed"),
        }
        t
    }
}

impl PacketSource for AfPacketSource {
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        let pkt = match self.advance()? {
            Step::Packet(p) => p,
            Step::Idle => return Ok(Next::Idle),
            Step::End => return Ok(Next::End),
        };
        // SAFETY: `advance` found this packet in block `cur` while holding it (`held` is set),
        // and the block is released only on a later call, after this borrow of `self` ends.
        let block = unsafe { self.ring.block(self.cur) };
        let data = &block[pkt.data];
        let mut orig_len = pkt.orig_len;
        let data = match pkt.vlan {
            Some(tag) if self.link == LinkType::ETHERNET && data.len() >= 12 => {
                orig_len = orig_len.saturating_add(4);
                restore_vlan_tag(&mut self.scratch, data, tag);
                self.scratch.as_slice()
            }
            _ => data,
        };
        Ok(Next::Packet(Packet { ts_ns: pkt.ts_ns, link: self.link, data, orig_len }))
    }

    fn stats(&self) -> SourceStats {
        let k = self.kernel_totals();
        SourceStats {
            records: self.records,
            bytes: self.bytes,
            kernel_packets: k.packets,
            kernel_drops: k.drops,
            kernel_freeze_q: k.freeze_q,
            ..SourceStats::default()
        }
    }

    fn name(&self) -> &str {
        &self.iface
    }
}

/// The memory-mapped receive ring.
struct Ring {
    base: NonNull<u8>,
    block_size: usize,
    block_count: usize,
}

// SAFETY: the mapping is owned by this value alone (no other `Ring` points into it) and holds
// no thread-bound state; moving it to another thread moves sole access with it. It is not
// `Sync`: blocks are handed over without locking, so only one thread may walk the ring.
unsafe impl Send for Ring {}

impl Ring {
    fn map(fd: RawFd, block_size: usize, block_count: usize) -> io::Result<Ring> {
        let len = block_size * block_count;
        // SAFETY: asks the kernel for a new shared mapping of the socket's ring, `len` bytes as
        // configured by PACKET_RX_RING; no existing memory is affected. The result is checked.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Ring { base, block_size, block_count })
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < self.block_count);
        // SAFETY: block `i` lies inside the mapping (i < block_count), which lives as long as
        // `self`; the status word is at offset 8 of a page-aligned block, so it is aligned for a
        // u32. The kernel and fabmon both access it as a 32-bit word; fabmon only through this
        // atomic.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(i * self.block_size + BLOCK_STATUS_AT).cast()) }
    }

    /// Whether the kernel has handed block `i` over to fabmon.
    fn is_user(&self, i: usize) -> bool {
        // Acquire: the kernel writes the block's packets before it publishes the status, so
        // this load makes them visible.
        self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Returns block `i` to the kernel.
    fn release(&self, i: usize) {
        // Release: every read of the block is done before the kernel may overwrite it.
        self.status(i).store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }

    /// The bytes of block `i`.
    ///
    /// # Safety
    ///
    /// Block `i` must be owned by fabmon: [`Ring::is_user`] returned true for it and
    /// [`Ring::release`] has not been called for it since. The slice must not outlive that
    /// ownership: drop it before releasing the block. While a block is owned by user space the
    /// kernel does not write to it, so the bytes do not change under the slice.
    unsafe fn block(&self, i: usize) -> &[u8] {
        debug_assert!(i < self.block_count);
        // SAFETY: the range is inside the mapping, which lives as long as `self`; the caller
        // guarantees nobody writes to it while the slice is alive.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(i * self.block_size), self.block_size) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `base` and the length are those of the mapping created in `Ring::map`, which
        // is unmapped exactly once, here. Lent slices borrow the source, so none outlives it.
        let rc = unsafe { libc::munmap(self.base.as_ptr().cast(), self.block_size * self.block_count) };
        if rc != 0 {
            tracing::warn!(error = %io::Error::last_os_error(), "munmap of the capture ring failed");
        }
    }
}

/// One packet found in a ring block.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RingPacket {
    ts_ns: i64,
    /// Where the captured bytes are in the block.
    data: std::ops::Range<usize>,
    orig_len: u32,
    /// The VLAN tag the kernel took out of the frame: (TPID, TCI).
    vlan: Option<(u16, u16)>,
    /// Offset of the next packet header (meaningless after the last packet).
    next_off: usize,
}

fn read_u32_at(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at + 4)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn read_u16_at(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at + 2)?;
    Some(u16::from_ne_bytes([bytes[0], bytes[1]]))
}

/// Reads a handed-over block's descriptor: (number of packets, offset of the first one).
fn read_block_header(block: &[u8]) -> Result<(u32, usize), &'static str> {
    let n = read_u32_at(block, BLOCK_NUM_PKTS_AT).ok_or("block shorter than its descriptor")?;
    let first = read_u32_at(block, BLOCK_FIRST_PKT_AT).ok_or("block shorter than its descriptor")? as usize;
    if n > 0 && (first < BLOCK_DESC_LEN || first >= block.len()) {
        return Err("first packet offset outside the block");
    }
    Ok((n, first))
}

/// Reads the packet header at `off` in `block`, checking that everything it points at lies
/// inside the block. `more` says whether another packet follows in this block.
fn read_packet(block: &[u8], off: usize, more: bool) -> Result<RingPacket, &'static str> {
    let hdr = off
        .checked_add(PKT_HDR_LEN)
        .and_then(|end| block.get(off..end))
        .ok_or("packet header outside the block")?;
    let field = |at| read_u32_at(hdr, at).ok_or("packet header truncated");
    let next = field(PKT_NEXT_AT)? as usize;
    let sec = field(PKT_SEC_AT)?;
    let nsec = field(PKT_NSEC_AT)?;
    let snaplen = field(PKT_SNAPLEN_AT)? as usize;
    let orig_len = field(PKT_LEN_AT)?;
    let status = field(PKT_STATUS_AT)?;
    let mac = usize::from(read_u16_at(hdr, PKT_MAC_AT).ok_or("packet header truncated")?);
    let start = off.checked_add(mac).ok_or("packet data outside the block")?;
    let end =
        start.checked_add(snaplen).filter(|&e| e <= block.len()).ok_or("packet data outside the block")?;
    let next_off = if more {
        // Packets follow one another: a next offset that does not move forward is corrupt.
        if next < PKT_HDR_LEN {
            return Err("next packet offset does not advance");
        }
        off.checked_add(next).filter(|&n| n < block.len()).ok_or("next packet offset outside the block")?
    } else {
        off
    };
    let vlan = if status & libc::TP_STATUS_VLAN_VALID != 0 {
        let tci = field(PKT_VLAN_TCI_AT)? as u16;
        let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
            read_u16_at(hdr, PKT_VLAN_TPID_AT).ok_or("packet header truncated")?
        } else {
            0x8100
        };
        Some((tpid, tci))
    } else {
        None
    };
    let ts_ns = i64::from(sec) * 1_000_000_000 + i64::from(nsec);
    Ok(RingPacket { ts_ns, data: start..end, orig_len, vlan, next_off })
}

/// Writes `frame` with the VLAN tag `(tpid, tci)` put back after the two MAC addresses.
fn restore_vlan_tag(out: &mut Vec<u8>, frame: &[u8], (tpid, tci): (u16, u16)) {
    let (macs, rest) = frame.split_at(12.min(frame.len()));
    out.clear();
    out.reserve(frame.len() + 4);
    out.extend_from_slice(macs);
    out.extend_from_slice(&tpid.to_be_bytes());
    out.extend_from_slice(&tci.to_be_bytes());
    out.extend_from_slice(rest);
}

/// The link type fabmon reports for a device type, or `None` when unsupported.
fn link_type_for(hatype: u16) -> Option<LinkType> {
    match hatype {
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Some(LinkType::ETHERNET),
        libc::ARPHRD_NONE | ARPHRD_RAWIP | ARPHRD_PPP | ARPHRD_TUNNEL | ARPHRD_TUNNEL6 => Some(LinkType::RAW),
        _ => None,
    }
}

fn live(iface: &str, reason: String) -> CaptureError {
    CaptureError::Live { iface: iface.to_string(), reason }
}

fn check_iface_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("interface name is empty".into());
    }
    if name.len() > MAX_IFACE_NAME {
        return Err(format!("interface name is {} bytes long; Linux allows {MAX_IFACE_NAME}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| *c == '/' || *c == '\0' || c.is_whitespace()) {
        return Err(format!("interface name contains {c:?}"));
    }
    Ok(())
}

fn interface_index(iface: &str) -> Result<u32, CaptureError> {
    let c = CString::new(iface).map_err(|_| live(iface, "interface name contains NUL".into()))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        let e = io::Error::last_os_error();
        return Err(live(iface, format!("no such interface in this network namespace ({e})")));
    }
    Ok(idx)
}

fn page_size() -> usize {
    // SAFETY: sysconf only reads a system constant.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

fn sockaddr_ll(ifindex: u32) -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::c_ushort,
        // Network byte order, as the kernel expects.
        sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
        sll_ifindex: ifindex as libc::c_int,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

/// Socket option values passed by pointer: plain C structs and integers, no padding read back.
trait SockOpt: Copy {}
impl SockOpt for libc::c_int {}
impl SockOpt for libc::tpacket_req3 {}
impl SockOpt for libc::packet_mreq {}
impl SockOpt for libc::tpacket_stats_v3 {}
impl SockOpt for libc::sock_fprog {}

fn setsockopt<T: SockOpt>(fd: RawFd, level: libc::c_int, name: libc::c_int, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live `T` and the length passed is exactly its size; the kernel
    // only reads it during the call.
    let rc = unsafe {
        libc::setsockopt(fd, level, name, (val as *const T).cast(), size_of::<T>() as libc::socklen_t)
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn getsockopt<T: SockOpt>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: &mut T,
) -> io::Result<usize> {
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` points to a live, writable `T` and `len` tells the kernel its size, which it
    // never writes past; every `SockOpt` type is valid for any bytes the kernel writes.
    let rc = unsafe { libc::getsockopt(fd, level, name, (val as *mut T).cast(), &raw mut len) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(len as usize)
    }
}

/// Reads and clears the socket's pending error (`SO_ERROR`).
fn take_socket_error(fd: RawFd) -> Option<io::Error> {
    let mut v: libc::c_int = 0;
    match getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, &mut v) {
        Ok(_) if v != 0 => Some(io::Error::from_raw_os_error(v)),
        Ok(_) => None,
        Err(e) => Some(e),
    }
}

/// The device type (`ARPHRD_*`) of the interface the socket is bound to.
fn bound_hatype(fd: RawFd) -> io::Result<u16> {
    let mut sll = sockaddr_ll(0);
    let mut len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `sll` is a writable `sockaddr_ll` and `len` its size; the kernel writes at most
    // that many bytes.
    let rc = unsafe { libc::getsockname(fd, (&raw mut sll).cast::<libc::sockaddr>(), &raw mut len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sll.sll_hatype)
}

/// Attaches a classic BPF program of one instruction, "accept 0 bytes", so the socket takes no
/// packets.
fn attach_drop_all_filter(fd: RawFd) -> io::Result<()> {
    let mut insn = [libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: 0 }];
    let prog = libc::sock_fprog { len: 1, filter: insn.as_mut_ptr() };
    // The kernel copies the program during the call; `insn` outlives it.
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
}

fn detach_filter(fd: RawFd) -> io::Result<()> {
    let zero: libc::c_int = 0;
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &zero)
}

#[cfg(test)]
// In tests a failed unwrap or a panic is a failed test, which is what it should be.
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// A packet to put in a test block: frame, seconds, VLAN tag (TPID, TCI).
    type TestPacket<'a> = (&'a [u8], u32, Option<(u16, u16)>);

    /// The ABI offsets this module relies on, from `linux/if_packet.h`.
    #[test]
    fn kernel_struct_layout() {
        assert_eq!(BLOCK_STATUS_AT, 8);
        assert_eq!(BLOCK_NUM_PKTS_AT, 12);
        assert_eq!(BLOCK_FIRST_PKT_AT, 16);
        assert_eq!(BLOCK_DESC_LEN, 48);
        assert_eq!(
            (PKT_NEXT_AT, PKT_SEC_AT, PKT_NSEC_AT, PKT_SNAPLEN_AT, PKT_LEN_AT, PKT_STATUS_AT, PKT_MAC_AT),
            (0, 4, 8, 12, 16, 20, 24)
        );
        assert_eq!((PKT_VLAN_TCI_AT, PKT_VLAN_TPID_AT, PKT_HDR_LEN), (32, 36, 48));
    }

    fn cfg() -> AfPacketConfig {
        AfPacketConfig::new("eth0")
    }

    fn reason(r: Result<libc::tpacket_req3, CaptureError>) -> String {
        match r {
            Err(CaptureError::Live { reason, .. }) => reason,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn default_geometry() {
        let req = cfg().geometry(4096).unwrap();
        assert_eq!(req.tp_block_size, 1 << 20);
        assert_eq!(req.tp_block_nr, 64);
        assert_eq!(req.tp_frame_size, 2048);
        assert_eq!(req.tp_frame_nr, 512 * 64);
        assert_eq!(req.tp_retire_blk_tov, 100);
    }

    #[test]
    fn geometry_errors_name_the_value() {
        let r = reason(AfPacketConfig { block_size: 1000, ..cfg() }.geometry(4096));
        assert!(r.contains("block_size 1000") && r.contains("4096"), "{r}");
        let r = reason(AfPacketConfig { block_count: 0, ..cfg() }.geometry(4096));
        assert!(r.contains("block_count 0"), "{r}");
        let r = reason(AfPacketConfig { frame_size: 100, ..cfg() }.geometry(4096));
        assert!(r.contains("frame_size 100"), "{r}");
        let r = reason(AfPacketConfig { frame_size: 64, ..cfg() }.geometry(4096));
        assert!(r.contains("frame_size 64") && r.contains("80"), "{r}");
        let r = reason(AfPacketConfig { block_size: 4096, frame_size: 8192, ..cfg() }.geometry(4096));
        assert!(r.contains("frame_size 8192"), "{r}");
        let r = reason(AfPacketConfig { block_count: 1 << 20, ..cfg() }.geometry(4096));
        assert!(r.contains("block_count 1048576") && r.contains("ring limit"), "{r}");
        let r = reason(AfPacketConfig { block_size: 1 << 32, block_count: 1, ..cfg() }.geometry(4096));
        assert!(r.contains("block_size 4294967296"), "{r}");
    }

    #[test]
    fn interface_names_are_checked() {
        for (name, want) in
            [("", "empty"), ("averyverylongname0", "18 bytes"), ("eth 0", "' '"), ("a/b", "'/'")]
        {
            let r = reason(AfPacketConfig::new(name).geometry(4096));
            assert!(r.contains(want), "{name:?}: {r}");
        }
    }

    #[test]
    fn missing_interface_is_a_clear_error() {
        let err = AfPacketSource::open(&AfPacketConfig::new("fmnosuchif0")).err().unwrap();
        let msg = err.to_string();
        assert!(msg.starts_with("fmnosuchif0: no such interface"), "{msg}");
    }

    /// Root opens the loopback device (receive only, nothing is sent) and sees it as Ethernet;
    /// anyone else is told which capability is missing.
    #[test]
    fn opens_loopback_or_names_the_missing_capability() {
        match AfPacketSource::open(&AfPacketConfig {
            block_size: 64 << 10,
            block_count: 2,
            ..AfPacketConfig::new("lo")
        }) {
            Ok(src) => {
                assert_eq!(src.device_type(), libc::ARPHRD_LOOPBACK);
                assert_eq!(src.link_type(), LinkType::ETHERNET);
                assert_eq!(src.stats().records, 0);
            }
            Err(e) => assert!(e.to_string().contains("needs CAP_NET_RAW"), "{e}"),
        }
    }

    #[test]
    fn group_size_is_checked() {
        for n in [0, MAX_FANOUT_MEMBERS + 1] {
            let msg = AfPacketSource::open_group(&cfg(), n).err().unwrap().to_string();
            assert!(msg.contains(&format!("{n} workers")), "{msg}");
        }
    }

    #[test]
    fn fanout_option_value() {
        let f = FanoutConfig::new(0x1234);
        // Hash (0) with DEFRAG (0x8000) in the high half, the id in the low half.
        assert_eq!(f.sockopt_value(false), 0x8000_1234);
        // A kernel-chosen id: UNIQUEID (0x2000) and id 0.
        assert_eq!(f.sockopt_value(true), 0xa000_0000);
        let f = FanoutConfig { mode: FanoutMode::LoadBalance, defrag: false, rollover: true, ..f };
        assert_eq!(f.sockopt_value(false), 0x1001_1234);
    }

    #[test]
    fn link_types() {
        assert_eq!(link_type_for(1), Some(LinkType::ETHERNET));
        assert_eq!(link_type_for(772), Some(LinkType::ETHERNET));
        assert_eq!(link_type_for(0xfffe), Some(LinkType::RAW));
        assert_eq!(link_type_for(ARPHRD_RAWIP), Some(LinkType::RAW));
        // IEEE 802.11 radiotap: not supported.
        assert_eq!(link_type_for(803), None);
    }

    /// Builds a block the way the kernel lays it out: descriptor, then packets, each a 48-byte
    /// header followed (after `mac_gap` bytes) by the frame.
    fn block_with(packets: &[TestPacket<'_>]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let put32 = |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        put32(&mut b, BLOCK_STATUS_AT, libc::TP_STATUS_USER);
        put32(&mut b, BLOCK_NUM_PKTS_AT, packets.len() as u32);
        put32(&mut b, BLOCK_FIRST_PKT_AT, 48);
        let mut off = 48;
        for (i, (data, sec, vlan)) in packets.iter().enumerate() {
            let mac = 66usize; // header + sockaddr_ll + alignment, as the kernel places it
            let next = (mac + data.len()).next_multiple_of(16);
            put32(&mut b, off + PKT_NEXT_AT, if i + 1 < packets.len() { next as u32 } else { 0 });
            put32(&mut b, off + PKT_SEC_AT, *sec);
            put32(&mut b, off + PKT_NSEC_AT, 7);
            put32(&mut b, off + PKT_SNAPLEN_AT, data.len() as u32);
            put32(&mut b, off + PKT_LEN_AT, data.len() as u32 + 100);
            let mut status = libc::TP_STATUS_USER;
            if let Some((tpid, tci)) = vlan {
                status |= libc::TP_STATUS_VLAN_VALID | libc::TP_STATUS_VLAN_TPID_VALID;
                put32(&mut b, off + PKT_VLAN_TCI_AT, u32::from(*tci));
                b[off + PKT_VLAN_TPID_AT..off + PKT_VLAN_TPID_AT + 2].copy_from_slice(&tpid.to_ne_bytes());
            }
            put32(&mut b, off + PKT_STATUS_AT, status);
            b[off + PKT_MAC_AT..off + PKT_MAC_AT + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            b[off + mac..off + mac + data.len()].copy_from_slice(data);
            off += next;
        }
        b
    }

    #[test]
    fn walks_a_block() {
        let b = block_with(&[(b"first frame", 10, None), (b"second", 11, Some((0x88a8, 30)))]);
        let (n, first) = read_block_header(&b).unwrap();
        assert_eq!((n, first), (2, 48));
        let p1 = read_packet(&b, first, true).unwrap();
        assert_eq!(&b[p1.data.clone()], b"first frame");
        assert_eq!(p1.ts_ns, 10_000_000_007);
        assert_eq!(p1.orig_len, 111);
        assert_eq!(p1.vlan, None);
        let p2 = read_packet(&b, p1.next_off, false).unwrap();
        assert_eq!(&b[p2.data.clone()], b"second");
        assert_eq!(p2.vlan, Some((0x88a8, 30)));
    }

    #[test]
    fn corrupt_blocks_are_refused_not_trusted() {
        let mut b = block_with(&[(b"frame", 1, None), (b"frame", 2, None)]);
        // First packet offset beyond the block.
        let mut bad = b.clone();
        bad[BLOCK_FIRST_PKT_AT..BLOCK_FIRST_PKT_AT + 4].copy_from_slice(&9999u32.to_ne_bytes());
        assert!(read_block_header(&bad).is_err());
        // Snap length running past the end.
        let mut bad = b.clone();
        bad[48 + PKT_SNAPLEN_AT..48 + PKT_SNAPLEN_AT + 4].copy_from_slice(&5000u32.to_ne_bytes());
        assert!(read_packet(&bad, 48, true).is_err());
        // A next offset of 0 while more packets are announced would loop forever.
        b[48 + PKT_NEXT_AT..48 + PKT_NEXT_AT + 4].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(read_packet(&b, 48, true).unwrap_err(), "next packet offset does not advance");
        // A header that starts too close to the end.
        assert!(read_packet(&b, b.len() - 10, false).is_err());
    }

    #[test]
    fn vlan_tag_goes_back_after_the_macs() {
        let frame: Vec<u8> = (0u8..12).chain([0x08, 0x00, 0x45]).collect();
        let mut out = Vec::new();
        restore_vlan_tag(&mut out, &frame, (0x8100, 0x2005));
        assert_eq!(&out[..12], &frame[..12]);
        assert_eq!(&out[12..16], &[0x81, 0x00, 0x20, 0x05]);
        assert_eq!(&out[16..], &[0x08, 0x00, 0x45]);
    }
}
