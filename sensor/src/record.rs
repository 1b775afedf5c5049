//! What the decoders emit: owned, compact records that leave the hot path.
//!
//! Every decoded application message becomes one [`OtMessage`]: the common part (where and when
//! it was seen, pairing with its request) plus a protocol body. Its JSON form is the contract of
//! `fabmon decode --format jsonl` (documented in `docs/decode-jsonl.md`): the common fields
//! `proto, src, dst, sport, dport, frame, malformed` and the protocol fields flattened beside them.

use std::net::IpAddr;

use serde::Serialize;

use crate::bacnet::BacnetRecord;
use crate::hsms::HsmsRecord;
use crate::modbus::ModbusRecord;

/// One decoded OT application message.
#[derive(Clone, Debug, Serialize)]
pub struct OtMessage {
    /// Protocol body; serialises as `"proto": "hsms"|"modbus"|"bacnet"` plus its fields.
    #[serde(flatten)]
    pub body: OtBody,
    /// Sender address. For BACnet Forwarded-NPDU this is the UDP sender (the BBMD); the
    /// original source is in the BACnet body.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// 1-based number of the packet that completed the message (as Wireshark counts).
    pub frame: u64,
    /// Capture time of that packet, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Flow the message belongs to (unique within one run).
    pub flow: u64,
    /// The message is framed but a field is invalid or the content could not be decoded.
    pub malformed: bool,
    /// Stable anomaly codes (e.g. `w_bit_on_reply`, `length_exceeds_data`); data for the
    /// rules engine, empty on a clean message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
    /// For a reply: the frame of the request it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_frame: Option<u64>,
    /// For a reply: request→reply latency in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
    /// A reply (or response) for which no open request was seen.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub orphan: bool,
    /// Sent by the flow's client (the side that opened the connection, or the first sender).
    #[serde(skip)]
    pub from_client: bool,
}

/// Protocol part of a message.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "proto", rename_all = "lowercase")]
pub enum OtBody {
    Hsms(HsmsRecord),
    Modbus(ModbusRecord),
    Bacnet(BacnetRecord),
}

impl OtBody {
    /// Protocol name as used in JSON and Parquet (`hsms`, `modbus`, `bacnet`).
    pub fn proto_name(&self) -> &'static str {
        match self {
            OtBody::Hsms(_) => "hsms",
            OtBody::Modbus(_) => "modbus",
            OtBody::Bacnet(_) => "bacnet",
        }
    }

    /// One readable line describing the message, the way an engineer reads tshark's Info column.
    pub fn summary(&self) -> String {
        match self {
            OtBody::Hsms(r) => r.summary(),
            OtBody::Modbus(r) => r.summary(),
            OtBody::Bacnet(r) => r.summary(),
        }
    }
}

/// What happened to a transaction, beyond the messages themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxOutcome {
    /// A request expecting a reply saw none within the protocol's reply timeout
    /// (HSMS T3, Modbus and BACnet response timeouts).
    Timeout,
    /// The flow ended (close, eviction or end of capture) while the request was still open and
    /// younger than the timeout.
    UnansweredAtClose,
    /// The pending-transaction table of the flow was full; the oldest entry was dropped.
    Evicted,
}

/// A transaction-level event: a request that was never answered.
#[derive(Clone, Debug, Serialize)]
pub struct TxEvent {
    pub proto: &'static str,
    pub outcome: TxOutcome,
    /// Frame and time of the request.
    pub request_frame: u64,
    pub request_ts_ns: i64,
    /// Time at which the outcome was decided.
    pub ts_ns: i64,
    /// Requester and responder.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub flow: u64,
    /// What the request was, e.g. `S2F41 W system=0x0001002a` or `fc=3 tid=17 unit=1`.
    pub what: String,
}

/// When a flow record is emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowPhase {
    /// The server side sent its first packet (SYN-ACK, or any packet of a flow picked up
    /// mid-stream, or a UDP reply): a service answered.
    Answered,
    /// The flow ended; the record carries its totals.
    End,
}

/// A flow seen on the wire (any protocol), for the inventory and the `flows` table.
#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    pub flow: u64,
    pub phase: FlowPhase,
    pub transport: crate::app::Transport,
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    /// Ethernet source addresses seen from each side (absent on link types without MACs).
    #[serde(serialize_with = "ser_mac")]
    pub client_mac: Option<[u8; 6]>,
    #[serde(serialize_with = "ser_mac")]
    pub server_mac: Option<[u8; 6]>,
    pub vlan: u32,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub first_frame: u64,
    pub packets_to_server: u64,
    pub packets_to_client: u64,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    /// Decoded application protocol, if any.
    pub app: Option<&'static str>,
    /// Client/server roles come from the handshake (not guessed).
    pub roles_from_syn: bool,
    /// The server side sent at least one packet.
    pub answered: bool,
    pub syn: bool,
    pub syn_ack: bool,
    pub fin: bool,
    pub rst: bool,
    /// IP TTL / hop limit of the first packet from each side.
    pub client_ttl: u8,
    pub server_ttl: u8,
    /// Why the flow ended (`closed`, `idle`, `evicted`, `end_of_input`), for `End` records.
    pub end: Option<&'static str>,
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

fn ser_mac<S: serde::Serializer>(m: &Option<[u8; 6]>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.serialize_str(&format_mac(m)),
        None => s.serialize_none(),
    }
}

/// Everything the decoders hand to the rest of the sensor.
#[derive(Clone, Debug)]
pub enum Event {
    Message(OtMessage),
    Transaction(TxEvent),
    /// Emitted only when `EngineConfig::flow_events` is on.
    Flow(Box<FlowRecord>),
}
