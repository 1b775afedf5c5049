//! Policy parts of a profile: allowed conduits and authorizations of control actions.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::level::PurdueLevel;
use super::net::IpNet;
use crate::app::{AppProto, Transport};

/// How a target or host is named in a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// An address (as a /32 or /128) or a network.
    Net(IpNet),
    /// An `[[asset]]` by name, resolved to its address.
    Asset {
        /// The asset's name.
        name: String,
        /// The asset's address.
        ip: IpAddr,
    },
    /// Every asset of an `[[equipment_class]]`.
    Class(String),
    /// Every address whose zone (longest prefix) is this `[[zone]]`.
    Zone(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Net(n) if n.prefix_len() == 32 || n.prefix_len() == 128 => write!(f, "{}", n.addr()),
            Selector::Net(n) => write!(f, "{n}"),
            Selector::Asset { name, .. } => write!(f, "asset:{name}"),
            Selector::Class(name) => write!(f, "class:{name}"),
            Selector::Zone(name) => write!(f, "zone:{name}"),
        }
    }
}

/// One side of a conduit. Every key that is set must match (they are ANDed); at least one is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// Purdue levels, any of which matches (empty: any level).
    pub levels: Vec<PurdueLevel>,
    /// Area the address must be placed in.
    pub area: Option<String>,
    /// Zone the address must fall in (longest prefix).
    pub zone: Option<String>,
    /// One named asset, resolved to its address.
    pub asset: Option<(String, IpAddr)>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.levels.as_slice() {
            [] => {}
            [l] => parts.push(format!("level {l}")),
            ls => parts
                .push(format!("level {}", ls.iter().map(ToString::to_string).collect::<Vec<_>>().join("/"))),
        }
        if let Some(a) = &self.area {
            parts.push(format!("area {a}"));
        }
        if let Some(z) = &self.zone {
            parts.push(format!("zone {z}"));
        }
        if let Some((name, _)) = &self.asset {
            parts.push(format!("asset {name}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// What a conduit lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConduitProtocol {
    /// Anything (`"any"`).
    Any,
    /// An OT protocol as decoded, on whatever port (`"hsms"`, `"modbus"`, `"bacnet"`).
    App(AppProto),
    /// A transport and server port (`"tcp/445"`, `"udp/123"`).
    Port(Transport, u16),
}

impl ConduitProtocol {
    /// Whether a flow offering `service` is let through.
    pub fn matches(self, service: FlowService) -> bool {
        match self {
            ConduitProtocol::Any => true,
            ConduitProtocol::App(a) => service.app == Some(a),
            ConduitProtocol::Port(t, p) => service.transport == t && service.port == p,
        }
    }
}

impl fmt::Display for ConduitProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConduitProtocol::Any => f.write_str("any"),
            ConduitProtocol::App(a) => f.write_str(a.name()),
            ConduitProtocol::Port(Transport::Tcp, p) => write!(f, "tcp/{p}"),
            ConduitProtocol::Port(Transport::Udp, p) => write!(f, "udp/{p}"),
        }
    }
}

impl FromStr for ConduitProtocol {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "any" => return Ok(ConduitProtocol::Any),
            "hsms" => return Ok(ConduitProtocol::App(AppProto::Hsms)),
            "modbus" => return Ok(ConduitProtocol::App(AppProto::Modbus)),
            "bacnet" => return Ok(ConduitProtocol::App(AppProto::Bacnet)),
            _ => {}
        }
        let (t, p) = s.split_once('/').ok_or(())?;
        let t = match t {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            _ => return Err(()),
        };
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        match p.parse::<u16>() {
            Ok(port) if port != 0 => Ok(ConduitProtocol::Port(t, port)),
            _ => Err(()),
        }
    }
}

/// The service of a flow, as the conduit check sees it: transport, server port and, once
/// decoded, the OT protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowService {
    /// TCP or UDP.
    pub transport: Transport,
    /// The server (responder) port.
    pub port: u16,
    /// The OT protocol, if the flow was recognised as one.
    pub app: Option<AppProto>,
}

impl FlowService {
    /// A TCP service on `port`, protocol not (yet) known.
    pub const fn tcp(port: u16) -> FlowService {
        FlowService { transport: Transport::Tcp, port, app: None }
    }

    /// A UDP service on `port`, protocol not (yet) known.
    pub const fn udp(port: u16) -> FlowService {
        FlowService { transport: Transport::Udp, port, app: None }
    }

    /// The same service, recognised as `app`.
    pub const fn with_app(self, app: AppProto) -> FlowService {
        FlowService { app: Some(app), ..self }
    }
}

/// An allowed path between two kinds of hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conduit {
    /// Name (`conduit #N` when the profile gives none, N counting from 1).
    pub name: String,
    /// The side that opens the session (client).
    pub from: Endpoint,
    /// The side that answers (server).
    pub to: Endpoint,
    /// What may pass.
    pub protocols: Vec<ConduitProtocol>,
    /// Whether `to` may also open sessions towards `from`.
    pub bidirectional: bool,
    /// Free text.
    pub comment: Option<String>,
    /// Line of the `[[conduit]]` header in the profile.
    pub line: u32,
}

/// Result of [`Profile::conduit_allowed`](super::Profile::conduit_allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConduitVerdict {
    /// The conduit at this index (in [`Profile::conduits`](super::Profile::conduits)) allows it.
    Allowed(usize),
    /// Conduits exist and none allows it.
    NotAllowed,
    /// The profile declares no conduits at all: there is no policy to check against.
    NoPolicy,
}

/// A control action a host may be authorized to perform on a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Open an HSMS session (Select) with the tool: which EAP/host may connect.
    HsmsSelect,
    /// Remote commands (S2F41 Host Command Send, S2F49 Enhanced Remote Command).
    HsmsRemoteCommand,
    /// Recipe (process program) download to the tool (S7F3).
    HsmsRecipeDownload,
    /// Recipe upload request from the tool (S7F5).
    HsmsRecipeUpload,
    /// Recipe delete (S7F17).
    HsmsRecipeDelete,
    /// Equipment constant change (S2F15).
    HsmsEquipmentConstant,
    /// Every HSMS action above.
    HsmsAny,
    /// Modbus writes (function codes 5, 6, 15, 16, 22, 23).
    ModbusWrite,
    /// Modbus programming: vendor program download and run/stop (e.g. UMAS, function code 90).
    ModbusProgram,
    /// Modbus diagnostics (function code 8, e.g. Restart Communications, Force Listen Only).
    ModbusDiagnostics,
    /// Every Modbus action above.
    ModbusAny,
    /// BACnet WriteProperty / WritePropertyMultiple.
    BacnetWrite,
    /// BACnet DeviceCommunicationControl and ReinitializeDevice.
    BacnetDeviceControl,
    /// BACnet AtomicReadFile / AtomicWriteFile.
    BacnetFile,
    /// Every BACnet action above.
    BacnetAny,
    /// Every action.
    Any,
}

/// Protocol family of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionFamily {
    /// `hsms.*`
    Hsms,
    /// `modbus.*`
    Modbus,
    /// `bacnet.*`
    Bacnet,
    /// `any`
    All,
}

impl Action {
    /// Every action, in the order the profile documentation lists them.
    pub const ALL: [Action; 16] = [
        Action::HsmsSelect,
        Action::HsmsRemoteCommand,
        Action::HsmsRecipeDownload,
        Action::HsmsRecipeUpload,
        Action::HsmsRecipeDelete,
        Action::HsmsEquipmentConstant,
        Action::HsmsAny,
        Action::ModbusWrite,
        Action::ModbusProgram,
        Action::ModbusDiagnostics,
        Action::ModbusAny,
        Action::BacnetWrite,
        Action::BacnetDeviceControl,
        Action::BacnetFile,
        Action::BacnetAny,
        Action::Any,
    ];

    /// The name used in profiles, e.g. `hsms.recipe_download`.
    pub const fn name(self) -> &'static str {
        match self {
            Action::HsmsSelect => "hsms.select",
            Action::HsmsRemoteCommand => "hsms.remote_command",
            Action::HsmsRecipeDownload => "hsms.recipe_download",
            Action::HsmsRecipeUpload => "hsms.recipe_upload",
            Action::HsmsRecipeDelete => "hsms.recipe_delete",
            Action::HsmsEquipmentConstant => "hsms.equipment_constant",
            Action::HsmsAny => "hsms.any",
            Action::ModbusWrite => "modbus.write",
            Action::ModbusProgram => "modbus.program",
            Action::ModbusDiagnostics => "modbus.diagnostics",
            Action::ModbusAny => "modbus.any",
            Action::BacnetWrite => "bacnet.write",
            Action::BacnetDeviceControl => "bacnet.device_control",
            Action::BacnetFile => "bacnet.file",
            Action::BacnetAny => "bacnet.any",
            Action::Any => "any",
        }
    }

    /// The protocol family.
    pub const fn family(self) -> ActionFamily {
        match self {
            Action::HsmsSelect
            | Action::HsmsRemoteCommand
            | Action::HsmsRecipeDownload
            | Action::HsmsRecipeUpload
            | Action::HsmsRecipeDelete
            | Action::HsmsEquipmentConstant
            | Action::HsmsAny => ActionFamily::Hsms,
            Action::ModbusWrite | Action::ModbusProgram | Action::ModbusDiagnostics | Action::ModbusAny => {
                ActionFamily::Modbus
            }
            Action::BacnetWrite | Action::BacnetDeviceControl | Action::BacnetFile | Action::BacnetAny => {
                ActionFamily::Bacnet
            }
            Action::Any => ActionFamily::All,
        }
    }

    /// Whether this is a whole-family wildcard (`hsms.any`, `modbus.any`, `bacnet.any`, `any`).
    pub const fn is_wildcard(self) -> bool {
        matches!(self, Action::HsmsAny | Action::ModbusAny | Action::BacnetAny | Action::Any)
    }

    /// Whether a rule for `self` covers an operation that is `op`: the same action, its
    /// family's wildcard, or `any`.
    pub fn covers(self, op: Action) -> bool {
        self == op || self == Action::Any || (self.is_wildcard() && self.family() == op.family())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Action {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL.into_iter().find(|a| a.name() == s).ok_or(())
    }
}

/// Who may perform an action on which targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRule {
    /// The action (a wildcard covers its family).
    pub action: Action,
    /// Hosts allowed to perform it (addresses, networks, assets).
    pub hosts: Vec<Selector>,
    /// Targets the rule is about (addresses, networks, assets, equipment classes, zones).
    pub targets: Vec<Selector>,
    /// Modbus unit identifiers the rule is limited to (empty: every unit).
    pub units: Vec<u8>,
    /// Free text.
    pub comment: Option<String>,
    /// Line of the `[[authorize]]` header in the profile.
    pub line: u32,
}

/// Result of [`Profile::authorized`](super::Profile::authorized).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// The rule at this index (in [`Profile::authorizations`](super::Profile::authorizations))
    /// allows it.
    Allowed(usize),
    /// Rules exist for this action and target, and none allows this host (or this unit).
    Denied,
    /// No rule speaks of this action and target.
    NoRule,
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.name().parse::<Action>(), Ok(a));
        }
        assert!("hsms.selec".parse::<Action>().is_err());
    }

    #[test]
    fn wildcards_cover_their_family() {
        assert!(Action::HsmsAny.covers(Action::HsmsRecipeDownload));
        assert!(!Action::HsmsAny.covers(Action::ModbusWrite));
        assert!(Action::Any.covers(Action::BacnetFile));
        assert!(!Action::HsmsSelect.covers(Action::HsmsRemoteCommand));
        assert!(!Action::HsmsSelect.covers(Action::HsmsAny));
    }

    #[test]
    fn conduit_protocols() {
        assert_eq!("tcp/445".parse(), Ok(ConduitProtocol::Port(Transport::Tcp, 445)));
        assert_eq!("udp/123".parse(), Ok(ConduitProtocol::Port(Transport::Udp, 123)));
        assert_eq!("hsms".parse(), Ok(ConduitProtocol::App(AppProto::Hsms)));
        for bad in ["tcp/0", "tcp/70000", "sctp/1", "tcp/", "tcp/+5", "HSMS", "smb"] {
            assert!(bad.parse::<ConduitProtocol>().is_err(), "{bad}");
        }
        let hsms = FlowService::tcp(5000).with_app(AppProto::Hsms);
        assert!(ConduitProtocol::App(AppProto::Hsms).matches(hsms));
        assert!(ConduitProtocol::Port(Transport::Tcp, 5000).matches(hsms));
        assert!(!ConduitProtocol::Port(Transport::Udp, 5000).matches(hsms));
        assert!(!ConduitProtocol::App(AppProto::Hsms).matches(FlowService::tcp(5000)));
        assert!(ConduitProtocol::Any.matches(FlowService::udp(9)));
    }
}
