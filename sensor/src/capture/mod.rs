//! Packet sources: pcap/pcapng files (memory-mapped, or streamed from a pipe) and live capture.
//!
//! A source lends one packet at a time: the slice borrows the file mapping, the stream buffer
//! or the kernel ring block, and is valid until the next call.

#[cfg(target_os = "linux")]
pub mod afpacket;
pub mod file;
pub mod pcapwrite;

use thiserror::Error;

/// Link-layer types fabmon dissects (values from the tcpdump LINKTYPE registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured packet, borrowed from its source.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    pub link: LinkType,
    /// The captured bytes (possibly shorter than `orig_len` when the snap length cut it).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// What a source returns on each call.
#[derive(Debug)]
pub enum Next<'a> {
    Packet(Packet<'a>),
    /// No packet right now (live capture timeout): a chance to run timers.
    Idle,
    /// The input is exhausted.
    End,
}

/// Counters a source keeps about what it could not deliver.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    /// Records read.
    pub records: u64,
    /// Bytes of capture input consumed.
    pub bytes: u64,
    /// pcapng blocks that are not packets (statistics, name resolution, custom, unknown).
    pub skipped_blocks: u64,
    /// Packets dropped by the kernel (live capture: TPACKET_V3 `tp_drops`).
    pub kernel_drops: u64,
    /// Packets the kernel counted as received (live capture).
    pub kernel_packets: u64,
    /// Frozen ring blocks seen (live capture: the kernel ran out of free blocks).
    pub kernel_freeze_q: u64,
    /// Truncated final record: its offset, if any.
    pub truncated_at: Option<u64>,
}

/// Errors that stop a source. Problems with single records are counted, not raised.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng file (first bytes {magic:02x?})")]
    BadMagic { path: String, magic: Vec<u8> },
    #[error("{path}: corrupt capture at offset {offset}: {reason}")]
    Corrupt { path: String, offset: u64, reason: String },
    #[error("{iface}: {reason}")]
    Live { iface: String, reason: String },
}

/// A source of packets.
pub trait PacketSource {
    /// The next packet. The returned slice borrows the source until the next call.
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError>;
    /// Counters so far.
    fn stats(&self) -> SourceStats;
    /// A name for messages (file path, `-`, interface).
    fn name(&self) -> &str;
}
