//! The contract between the flow/reassembly layer and the application decoders, and protocol
//! detection (by port and by content).
//!
//! A flow gets at most one [`AppParser`]. For TCP the flow layer hands it the in-order bytes of
//! each direction; for UDP one datagram at a time. Parsers are per flow, so they keep the
//! request/response pairing state of their connection.

use std::net::IpAddr;

use crate::record::{Event, OtBody, OtMessage, TxEvent, TxOutcome};

/// Application protocols fabmon decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppProto {
    Hsms,
    Modbus,
    Bacnet,
}

impl AppProto {
    pub const ALL: [AppProto; 3] = [AppProto::Hsms, AppProto::Modbus, AppProto::Bacnet];

    pub fn name(self) -> &'static str {
        match self {
            AppProto::Hsms => "hsms",
            AppProto::Modbus => "modbus",
            AppProto::Bacnet => "bacnet",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Transport of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// Direction of a payload within its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the client (the side that sent the SYN; for UDP or a flow picked up mid-stream,
    /// the side the port heuristic calls the client) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Dir {
    pub fn reverse(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

/// An IP address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// What a parser knows about its flow.
#[derive(Clone, Debug)]
pub struct FlowInfo {
    /// Unique within one run.
    pub id: u64,
    pub transport: Transport,
    pub client: Endpoint,
    pub server: Endpoint,
    /// VLAN tags (outer in the high 16 bits for QinQ; 0 when untagged).
    pub vlan: u32,
    /// True when the client/server roles come from a SYN (TCP) rather than a guess.
    pub roles_from_syn: bool,
}

impl FlowInfo {
    /// (source, destination) of a payload travelling in `dir`.
    pub fn ends(&self, dir: Dir) -> (Endpoint, Endpoint) {
        match dir {
            Dir::ToServer => (self.client, self.server),
            Dir::ToClient => (self.server, self.client),
        }
    }
}

/// Limits that apply to every decoder. All are explicit so that memory stays bounded.
#[derive(Clone, Debug)]
pub struct AppLimits {
    /// Largest application message decoded in full (bytes). Longer messages keep their header
    /// and are skipped; see `docs/ARCHITECTURE.md`.
    pub max_message_bytes: usize,
    /// Deepest SECS-II list nesting decoded.
    pub max_secs2_depth: usize,
    /// Largest number of SECS-II items decoded in one message (the rest is counted, not kept).
    pub max_secs2_items: usize,
    /// Open transactions tracked per flow; beyond it the oldest is dropped as `Evicted`.
    pub max_pending_per_flow: usize,
    /// HSMS reply timeout (T3).
    pub hsms_t3_ns: i64,
    /// Modbus response timeout.
    pub modbus_timeout_ns: i64,
    /// BACnet APDU timeout (confirmed requests).
    pub bacnet_timeout_ns: i64,
    /// Longest value list kept in a record (Modbus registers written, SECS-II values shown).
    pub max_values_kept: usize,
}

impl Default for AppLimits {
    fn default() -> Self {
        AppLimits {
            max_message_bytes: 16 << 20,
            max_secs2_depth: 64,
            max_secs2_items: 100_000,
            max_pending_per_flow: 1024,
            hsms_t3_ns: 45_000_000_000,
            modbus_timeout_ns: 5_000_000_000,
            bacnet_timeout_ns: 10_000_000_000,
            max_values_kept: 64,
        }
    }
}

/// Context of one parser call: the packet being processed, the flow, and where events go.
pub struct Cx<'a> {
    /// 1-based number of the packet being processed.
    pub frame: u64,
    /// Its capture time (ns since the epoch).
    pub ts_ns: i64,
    pub flow: &'a FlowInfo,
    pub limits: &'a AppLimits,
    pub out: &'a mut Vec<Event>,
}

impl Cx<'_> {
    /// Emits a message travelling in `dir`, completed by the current packet, and returns it so
    /// the caller can set pairing fields and anomalies.
    pub fn emit(&mut self, dir: Dir, body: OtBody, malformed: bool) -> &mut OtMessage {
        let (src, dst) = self.flow.ends(dir);
        let msg = OtMessage {
            body,
            src: src.ip,
            dst: dst.ip,
            sport: src.port,
            dport: dst.port,
            frame: self.frame,
            ts_ns: self.ts_ns,
            flow: self.flow.id,
            malformed,
            anomalies: Vec::new(),
            request_frame: None,
            latency_us: None,
            orphan: false,
            from_client: dir == Dir::ToServer,
        };
        self.out.push(Event::Message(msg));
        match self.out.last_mut() {
            Some(Event::Message(m)) => m,
            // The element pushed just above is a message.
            _ => unreachable!("last event is the message just pushed"),
        }
    }

    /// Reports a request travelling in `dir` (from requester to responder) that got no answer.
    pub fn unanswered(
        &mut self,
        proto: AppProto,
        dir: Dir,
        outcome: TxOutcome,
        request_frame: u64,
        request_ts_ns: i64,
        what: String,
    ) {
        let (src, dst) = self.flow.ends(dir);
        self.out.push(Event::Transaction(TxEvent {
            proto: proto.name(),
            outcome,
            request_frame,
            request_ts_ns,
            ts_ns: self.ts_ns,
            src: src.ip,
            dst: dst.ip,
            sport: src.port,
            dport: dst.port,
            flow: self.flow.id,
            what,
        }));
    }
}

/// A per-flow application decoder with its pairing state.
///
/// Implementations are pure with respect to I/O: they see bytes and a context, and push
/// events. They never panic, whatever the bytes.
pub trait AppParser: Send {
    fn proto(&self) -> AppProto;

    /// TCP: `data` holds the next in-order bytes of direction `dir` that no earlier call
    /// consumed. Returns how many bytes were consumed (whole messages, or garbage skipped while
    /// resynchronising); bytes left unconsumed are offered again, with new bytes appended,
    /// on the next call. Returning more than `data.len()` asks the stream layer to discard that
    /// many bytes in all, the rest as they arrive (a message above `max_message_bytes` whose
    /// header has already been reported).
    ///
    /// UDP: `data` is one whole datagram payload; the return value is ignored.
    fn parse(&mut self, dir: Dir, data: &[u8], cx: &mut Cx<'_>) -> usize;

    /// Bytes were lost in `dir` (capture loss, reassembly bound): the next `parse` call for
    /// `dir` starts at an arbitrary offset of the stream, so the parser resynchronises.
    fn gap(&mut self, dir: Dir, cx: &mut Cx<'_>);

    /// The flow ended (FIN/RST, idle timeout, eviction or end of input): report open
    /// transactions as unanswered.
    fn close(&mut self, cx: &mut Cx<'_>);

    /// Bytes of heap held by the parser's own state (pairing tables), for the memory bounds.
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// Which ports mean which protocol before any content is seen.
#[derive(Clone, Debug)]
pub struct DetectConfig {
    /// TCP ports that carry HSMS from the first byte (from the profile). Other TCP streams are
    /// HSMS when their first bytes are a valid HSMS header.
    pub hsms_ports: Vec<u16>,
    /// TCP ports that carry Modbus/TCP.
    pub modbus_ports: Vec<u16>,
    /// UDP ports that carry BACnet/IP. Other UDP datagrams are BACnet when their BVLC header is
    /// valid and its length equals the datagram length.
    pub bacnet_ports: Vec<u16>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            hsms_ports: Vec::new(),
            modbus_ports: vec![502],
            bacnet_ports: (47808..=47823).collect(),
        }
    }
}

/// Result of looking at the first payload bytes of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detect {
    Proto(AppProto),
    /// Not enough bytes yet to tell.
    NeedMore,
    /// Not an OT protocol fabmon decodes.
    Other,
}

/// Decides the protocol of a TCP flow from its ports and the first bytes seen in one direction.
pub fn detect_tcp(cfg: &DetectConfig, client_port: u16, server_port: u16, data: &[u8]) -> Detect {
    let either = |ports: &[u16]| ports.contains(&server_port) || ports.contains(&client_port);
    if either(&cfg.hsms_ports) {
        return Detect::Proto(AppProto::Hsms);
    }
    if either(&cfg.modbus_ports) {
        return Detect::Proto(AppProto::Modbus);
    }
    match crate::hsms::probe(data) {
        Some(true) => Detect::Proto(AppProto::Hsms),
        Some(false) => Detect::Other,
        None => Detect::NeedMore,
    }
}

/// Decides the protocol of a UDP flow from its ports and its first datagram.
pub fn detect_udp(cfg: &DetectConfig, sport: u16, dport: u16, data: &[u8]) -> Detect {
    if cfg.bacnet_ports.contains(&sport) || cfg.bacnet_ports.contains(&dport) {
        return Detect::Proto(AppProto::Bacnet);
    }
    if crate::bacnet::probe(data) {
        Detect::Proto(AppProto::Bacnet)
    } else {
        Detect::Other
    }
}

/// A fresh parser for a flow of protocol `proto`.
pub fn new_parser(proto: AppProto) -> Box<dyn AppParser> {
    match proto {
        AppProto::Hsms => Box::new(crate::hsms::HsmsParser::new()),
        AppProto::Modbus => Box::new(crate::modbus::ModbusParser::new()),
        AppProto::Bacnet => Box::new(crate::bacnet::BacnetParser::new()),
    }
}

/// Drives a parser the way the flow layer does, without packets: for decoder unit tests,
/// property tests and fuzz targets.
pub mod drive {
    use std::net::{IpAddr, Ipv4Addr};

    use super::{AppLimits, AppParser, Cx, Dir, Endpoint, FlowInfo, Transport};
    use crate::record::Event;

    /// A flow 10.0.0.1:40000 → 10.0.0.2:`server_port`.
    pub fn test_flow(transport: Transport, server_port: u16) -> FlowInfo {
        FlowInfo {
            id: 1,
            transport,
            client: Endpoint { ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port: 40000 },
            server: Endpoint { ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), port: server_port },
            vlan: 0,
            roles_from_syn: true,
        }
    }

    /// Stream state per direction, as the TCP layer keeps it.
    #[derive(Default)]
    struct DirState {
        pending: Vec<u8>,
        skip: usize,
    }

    /// Feeds segments (direction, bytes, frame, ts) to `parser` with TCP stream semantics
    /// (unconsumed bytes are offered again with the next segment; skip requests are honoured)
    /// or, for UDP, one datagram per segment. Closes the flow at the end. Returns the events.
    pub fn run(
        parser: &mut dyn AppParser,
        flow: &FlowInfo,
        limits: &AppLimits,
        segments: &[(Dir, &[u8])],
    ) -> Vec<Event> {
        let mut out = Vec::new();
        let mut dirs = [DirState::default(), DirState::default()];
        let mut ts_ns = 1_700_000_000_000_000_000;
        for (i, (dir, bytes)) in segments.iter().enumerate() {
            ts_ns += 1_000_000;
            let mut cx = Cx { frame: i as u64 + 1, ts_ns, flow, limits, out: &mut out };
            if flow.transport == Transport::Udp {
                parser.parse(*dir, bytes, &mut cx);
                continue;
            }
            let st = &mut dirs[dir.index()];
            let mut bytes: &[u8] = bytes;
            if st.skip > 0 {
                let n = st.skip.min(bytes.len());
                st.skip -= n;
                bytes = &bytes[n..];
            }
            st.pending.extend_from_slice(bytes);
            // Call until no progress, as the flow layer does.
            loop {
                if st.pending.is_empty() {
                    break;
                }
                let n = parser.parse(*dir, &st.pending, &mut cx);
                if n == 0 {
                    break;
                }
                if n >= st.pending.len() {
                    st.skip = n - st.pending.len();
                    st.pending.clear();
                    break;
                }
                st.pending.drain(..n);
            }
        }
        let mut cx = Cx { frame: segments.len() as u64, ts_ns, flow, limits, out: &mut out };
        parser.close(&mut cx);
        out
    }
}
