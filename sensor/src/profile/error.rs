//! Errors and warnings of loading a profile. Each quotes the bad value and where it is.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::net::CidrProblem;
use super::policy::Action;
use super::window::TimestampProblem;

/// A place in a profile: `source:line:column`, counting from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// File name (or the name the caller gave the text).
    pub source: Arc<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl Location {
    /// The location of byte `offset` of `text`.
    pub fn at(source: &Arc<str>, text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Location { source: Arc::clone(source), line: clamp(line), column: clamp(column) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.line, self.column)
    }
}

/// The kinds of table in a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// `[[zone]]`
    Zone,
    /// `[[equipment_class]]`
    EquipmentClass,
    /// `[[asset]]`
    Asset,
    /// `[[conduit]]`
    Conduit,
    /// `[[authorize]]`
    Authorize,
    /// `[[change_window]]`
    ChangeWindow,
}

impl ItemKind {
    /// The table name as written in a profile.
    pub const fn name(self) -> &'static str {
        match self {
            ItemKind::Zone => "zone",
            ItemKind::EquipmentClass => "equipment_class",
            ItemKind::Asset => "asset",
            ItemKind::Conduit => "conduit",
            ItemKind::Authorize => "authorize",
            ItemKind::ChangeWindow => "change_window",
        }
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kinds of thing a bare name names (for ambiguous targets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameKinds {
    /// An asset has this name.
    pub asset: bool,
    /// An equipment class has this name.
    pub class: bool,
    /// A zone has this name.
    pub zone: bool,
}

impl NameKinds {
    fn list(self) -> impl Iterator<Item = (&'static str, &'static str)> {
        [
            (self.asset, "an asset", "asset"),
            (self.class, "an equipment class", "class"),
            (self.zone, "a zone", "zone"),
        ]
        .into_iter()
        .filter(|(on, _, _)| *on)
        .map(|(_, what, prefix)| (what, prefix))
    }

    /// `an asset and a zone`
    pub fn describe(self) -> String {
        self.list().map(|(what, _)| what).collect::<Vec<_>>().join(" and ")
    }

    /// `asset:NAME or zone:NAME`
    pub fn hint(self, name: &str) -> String {
        self.list().map(|(_, prefix)| format!("{prefix}:{name}")).collect::<Vec<_>>().join(" or ")
    }
}

/// The profile entry an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A top-level key such as `hsms_ports`.
    Top,
    /// The `[settings]` table.
    Settings,
    /// An entry with a name: `zone "lab"`.
    Named {
        /// Table kind.
        kind: ItemKind,
        /// Its name.
        name: String,
    },
    /// An entry without a name: `authorize #2` (counting from 1).
    Numbered {
        /// Table kind.
        kind: ItemKind,
        /// Position among the tables of that kind, from 0.
        index: usize,
    },
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Top => f.write_str("profile"),
            Item::Settings => f.write_str("settings"),
            Item::Named { kind, name } => write!(f, "{kind} \"{name}\""),
            Item::Numbered { kind, index } => write!(f, "{kind} #{}", index + 1),
        }
    }
}

/// Why a change window's keys do not make a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowShape {
    /// Neither `start`/`end` nor `from`/`to`.
    NoSchedule,
    /// Both a one-off (`start`/`end`) and a weekly (`days`/`from`/`to`) schedule.
    BothSchedules,
    /// `start` without `end` or the reverse.
    HalfOnce,
    /// `from` without `to` or the reverse, or `days` without them.
    HalfWeekly,
    /// `from` equals `to`.
    EmptyWeekly,
}

impl fmt::Display for WindowShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WindowShape::NoSchedule => "needs either start and end, or from and to (with optional days)",
            WindowShape::BothSchedules => "has both start/end and days/from/to; use one or the other",
            WindowShape::HalfOnce => "needs both start and end",
            WindowShape::HalfWeekly => "needs both from and to",
            WindowShape::EmptyWeekly => "has from equal to to; use \"00:00\" to \"24:00\" for a whole day",
        })
    }
}

fn action_names() -> String {
    Action::ALL.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
}

/// A profile could not be loaded. Every variant but [`ProfileError::Read`] says where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{}: cannot read the profile: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or a value of the wrong type, or a required key missing.
    #[error("{at}: {message}")]
    Syntax {
        /// Where the parser stopped.
        at: Location,
        /// The parser's message.
        message: String,
    },
    /// A required key is missing; `table` is the header of the table that lacks it, when the
    /// key belongs to a `[table]` or `[[table]]`.
    #[error("{at}: {}missing key `{key}`", table.as_ref().map(|t| format!("{t}: ")).unwrap_or_default())]
    MissingKey {
        /// Where the table starts.
        at: Location,
        /// Its header, e.g. `[[zone]]`.
        table: Option<String>,
        /// The missing key.
        key: String,
    },
    /// A key the profile format does not have (often a typo).
    #[error("{at}: unknown key `{key}` (expected {expected})")]
    UnknownKey {
        /// Where the key is.
        at: Location,
        /// The key.
        key: String,
        /// The keys allowed there.
        expected: String,
    },
    /// A name is empty, or could be mistaken for an address or a prefixed reference.
    #[error("{at}: {kind} name \"{name}\" {reason}")]
    BadName {
        /// Where.
        at: Location,
        /// Table kind.
        kind: ItemKind,
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two entries of one kind share a name.
    #[error("{at}: {kind} name \"{name}\" is already used on line {first_line}")]
    DuplicateName {
        /// Where the second one is.
        at: Location,
        /// Table kind.
        kind: ItemKind,
        /// The name.
        name: String,
        /// Line of the first one.
        first_line: u32,
    },
    /// A zone's `cidr` or a network among targets or hosts is not a network.
    #[error("{at}: {item}: {field} \"{value}\" {problem}")]
    BadCidr {
        /// Where.
        at: Location,
        /// The entry.
        item: Item,
        /// The key.
        field: &'static str,
        /// The text.
        value: String,
        /// What is wrong.
        problem: CidrProblem,
    },
    /// Two zones have the same network, so neither wins.
    #[error("{at}: {item}: cidr {cidr} is already zone \"{other}\" (line {other_line})")]
    DuplicateCidr {
        /// Where.
        at: Location,
        /// The second zone.
        item: Item,
        /// The network.
        cidr: String,
        /// The first zone.
        other: String,
        /// Its line.
        other_line: u32,
    },
    /// An asset's `ip` is not an IP address.
    #[error("{at}: {item}: ip \"{value}\" is not an IP address")]
    BadIp {
        /// Where.
        at: Location,
        /// The asset.
        item: Item,
        /// The text.
        value: String,
    },
    /// Two assets have the same address.
    #[error("{at}: {item}: ip {ip} is already asset \"{other}\" (line {other_line})")]
    DuplicateIp {
        /// Where.
        at: Location,
        /// The second asset.
        item: Item,
        /// The address.
        ip: String,
        /// The first asset.
        other: String,
        /// Its line.
        other_line: u32,
    },
    /// Not one of the Purdue levels.
    #[error("{at}: {item}: level {value} is not a Purdue level (0, 1, 2, 3, 3.5, 4 or 5)")]
    BadLevel {
        /// Where.
        at: Location,
        /// The entry.
        item: Item,
        /// The value as written.
        value: String,
    },
    /// An area name that is not lowercase letters, digits and dashes.
    #[error(
        "{at}: {item}: area \"{value}\" is not an area name (lowercase letters, digits and '-', \
         e.g. fab, fab-system, facility, enterprise, dmz)"
    )]
    BadArea {
        /// Where.
        at: Location,
        /// The entry.
        item: Item,
        /// The text.
        value: String,
    },
    /// A port outside 1–65535.
    #[error("{at}: {item}: {field} {value} is not a port number (1-65535)")]
    BadPort {
        /// Where.
        at: Location,
        /// The entry.
        item: Item,
        /// The key.
        field: &'static str,
        /// The number.
        value: i64,
    },
    /// A declared service's `proto` is neither `tcp` nor `udp`.
    #[error("{at}: {item}: proto \"{value}\" is not \"tcp\" or \"udp\"")]
    BadTransport {
        /// Where.
        at: Location,
        /// The equipment class.
        item: Item,
        /// The text.
        value: String,
    },
    /// A conduit protocol that is none of the accepted forms.
    #[error(
        "{at}: {item}: protocol \"{value}\" is not one of hsms, modbus, bacnet, any, tcp/PORT, udp/PORT"
    )]
    BadProtocol {
        /// Where.
        at: Location,
        /// The conduit.
        item: Item,
        /// The text.
        value: String,
    },
    /// A list that must have at least one element is empty.
    #[error("{at}: {item}: {field} is empty")]
    EmptyList {
        /// Where.
        at: Location,
        /// The entry.
        item: Item,
        /// The key.
        field: &'static str,
    },
    /// A conduit side with no key, which would match everything.
    #[error("{at}: {item}: {side} has none of level, area, zone, asset")]
    EmptyEndpoint {
        /// Where.
        at: Location,
        /// The conduit.
        item: Item,
        /// `from` or `to`.
        side: &'static str,
    },
    /// An asset's `equipment_class` names no `[[equipment_class]]`.
    #[error("{at}: {item}: equipment_class \"{class}\" is not defined (add an [[equipment_class]])")]
    UnknownEquipmentClass {
        /// Where.
        at: Location,
        /// The asset.
        item: Item,
        /// The name.
        class: String,
    },
    /// A name in targets, hosts or a conduit side that names nothing (of the kinds allowed there).
    #[error("{at}: {item}: {field} \"{name}\" is not {expected}")]
    UnknownName {
        /// Where.
        at: Location,
        /// The entry.
        item: Item,
        /// The key.
        field: &'static str,
        /// The name.
        name: String,
        /// What it should have been, e.g. `an asset, equipment class or zone`.
        expected: &'static str,
    },
    /// A bare name that is two kinds of thing at once.
    #[error(
        "{at}: {item}: {field} \"{name}\" is ambiguous: it names {}; write {}",
        kinds.describe(),
        kinds.hint(name)
    )]
    AmbiguousName {
        /// Where.
        at: Location,
        /// The entry.
        item: Item,
        /// The key.
        field: &'static str,
        /// The name.
        name: String,
        /// The kinds it names.
        kinds: NameKinds,
    },
    /// `hosts` names an equipment class or a zone (hosts are addresses, networks or assets).
    #[error("{at}: {item}: hosts \"{value}\" is {kind}; hosts take IP addresses, networks or asset names")]
    HostKind {
        /// Where.
        at: Location,
        /// The rule.
        item: Item,
        /// The text.
        value: String,
        /// `an equipment class` or `a zone`.
        kind: &'static str,
    },
    /// Not an action name.
    #[error("{at}: {item}: action \"{value}\" is not an action (one of {})", action_names())]
    BadAction {
        /// Where.
        at: Location,
        /// The rule.
        item: Item,
        /// The text.
        value: String,
    },
    /// `units` on an action that is not Modbus.
    #[error("{at}: {item}: units only apply to modbus actions, not {action}")]
    UnitsNotModbus {
        /// Where.
        at: Location,
        /// The rule.
        item: Item,
        /// The action.
        action: &'static str,
    },
    /// A Modbus unit identifier outside 0–255.
    #[error("{at}: {item}: unit {value} is not a Modbus unit identifier (0-255)")]
    BadUnit {
        /// Where.
        at: Location,
        /// The rule.
        item: Item,
        /// The number.
        value: i64,
    },
    /// A `start` or `end` that is not an RFC 3339 time stamp.
    #[error("{at}: {item}: {field} \"{value}\" {problem}")]
    BadTimestamp {
        /// Where.
        at: Location,
        /// The window.
        item: Item,
        /// `start` or `end`.
        field: &'static str,
        /// The text.
        value: String,
        /// What is wrong.
        problem: TimestampProblem,
    },
    /// A `from` or `to` that is not `HH:MM`.
    #[error("{at}: {item}: {field} \"{value}\" is not a time of day (HH:MM, UTC, 00:00 to 24:00)")]
    BadTimeOfDay {
        /// Where.
        at: Location,
        /// The window.
        item: Item,
        /// `from` or `to`.
        field: &'static str,
        /// The text.
        value: String,
    },
    /// Not a day of the week.
    #[error("{at}: {item}: day \"{value}\" is not a day of the week (mon, tue, wed, thu, fri, sat, sun)")]
    BadDay {
        /// Where.
        at: Location,
        /// The window.
        item: Item,
        /// The text.
        value: String,
    },
    /// A one-off window whose end is not after its start.
    #[error("{at}: {item}: end {end} is not after start {start}")]
    WindowEndBeforeStart {
        /// Where the end is.
        at: Location,
        /// The window.
        item: Item,
        /// The start as written.
        start: String,
        /// The end as written.
        end: String,
    },
    /// A window's keys do not make one schedule.
    #[error("{at}: {item}: {shape}")]
    WindowShape {
        /// Where.
        at: Location,
        /// The window.
        item: Item,
        /// What is wrong.
        shape: WindowShape,
    },
    /// A setting out of its range.
    #[error("{at}: settings: {key} = {value} is out of range ({min} to {max})")]
    BadSetting {
        /// Where.
        at: Location,
        /// The key.
        key: &'static str,
        /// The number.
        value: i64,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
}

impl ProfileError {
    /// Where the error is, when it is in the text.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ProfileError::Read { .. } => None,
            ProfileError::Syntax { at, .. }
            | ProfileError::UnknownKey { at, .. }
            | ProfileError::MissingKey { at, .. }
            | ProfileError::BadName { at, .. }
            | ProfileError::DuplicateName { at, .. }
            | ProfileError::BadCidr { at, .. }
            | ProfileError::DuplicateCidr { at, .. }
            | ProfileError::BadIp { at, .. }
            | ProfileError::DuplicateIp { at, .. }
            | ProfileError::BadLevel { at, .. }
            | ProfileError::BadArea { at, .. }
            | ProfileError::BadPort { at, .. }
            | ProfileError::BadTransport { at, .. }
            | ProfileError::BadProtocol { at, .. }
            | ProfileError::EmptyList { at, .. }
            | ProfileError::EmptyEndpoint { at, .. }
            | ProfileError::UnknownEquipmentClass { at, .. }
            | ProfileError::UnknownName { at, .. }
            | ProfileError::AmbiguousName { at, .. }
            | ProfileError::HostKind { at, .. }
            | ProfileError::BadAction { at, .. }
            | ProfileError::UnitsNotModbus { at, .. }
            | ProfileError::BadUnit { at, .. }
            | ProfileError::BadTimestamp { at, .. }
            | ProfileError::BadTimeOfDay { at, .. }
            | ProfileError::BadDay { at, .. }
            | ProfileError::WindowEndBeforeStart { at, .. }
            | ProfileError::WindowShape { at, .. }
            | ProfileError::BadSetting { at, .. } => Some(at),
        }
    }
}

/// Something in a profile that loads but probably is not what was meant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileWarning {
    /// An area other than the five standard ones: accepted as the site's own area, but
    /// conduits written for the standard areas will not match it.
    #[error(
        "{at}: {item}: area \"{area}\" is not one of fab, fab-system, facility, enterprise, dmz; \
         it is kept as a separate area"
    )]
    NonStandardArea {
        /// Where.
        at: Location,
        /// The zone or asset.
        item: Item,
        /// The area.
        area: String,
    },
    /// An asset outside every zone without both `level` and `area`: its placement is unknown.
    #[error(
        "{at}: {item}: ip {ip} is in no zone and the asset sets no {missing}, so its Purdue level is unknown"
    )]
    AssetOutsideZones {
        /// Where.
        at: Location,
        /// The asset.
        item: Item,
        /// Its address.
        ip: String,
        /// `level`, `area` or `level and area`.
        missing: &'static str,
    },
}
