//! The profile file as written: serde structs that keep every value's position, so that
//! validation ([`super::build`]) can quote the bad value and its line. Unknown keys are errors.
//!
//! Values that need checking beyond their TOML type (levels, addresses, times, ports) are read
//! as text or plain numbers here and checked in one place.

use serde::Deserialize;
use toml::Spanned;

/// A string with its position.
pub(super) type Str = Spanned<String>;
/// An integer with its position (range-checked during validation).
pub(super) type Int = Spanned<i64>;
/// Any TOML value with its position (levels and time stamps, which take several forms).
pub(super) type Any = Spanned<toml::Value>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileFile {
    /// A name for the profile, shown in reports. Default: none.
    pub name: Option<Str>,
    /// TCP ports that carry HSMS from the first byte on every host. Default: none (content
    /// detection finds HSMS on any port).
    #[serde(default)]
    pub hsms_ports: Vec<Int>,
    /// Knobs with defaults. Default: every knob at its default.
    pub settings: Option<SettingsFile>,
    /// Subnets and their Purdue level and area. Default: none (every level is unknown).
    #[serde(default, rename = "zone")]
    pub zones: Vec<Spanned<ZoneFile>>,
    /// Kinds of equipment and their declared services. Default: none.
    #[serde(default, rename = "equipment_class")]
    pub classes: Vec<Spanned<ClassFile>>,
    /// Named hosts. Default: none.
    #[serde(default, rename = "asset")]
    pub assets: Vec<Spanned<AssetFile>>,
    /// Allowed conduits. Default: none (no conduit policy: nothing is checked).
    #[serde(default, rename = "conduit")]
    pub conduits: Vec<Spanned<ConduitFile>>,
    /// Who may perform which control action on what. Default: none.
    #[serde(default, rename = "authorize")]
    pub authorizations: Vec<Spanned<AuthorizeFile>>,
    /// Maintenance windows. Default: none.
    #[serde(default, rename = "change_window")]
    pub windows: Vec<Spanned<WindowFile>>,
}

/// `[settings]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SettingsFile {
    /// Seconds after start-up during which new assets are learned without alerts.
    /// Default: [`super::model::default_new_asset_grace_secs`].
    pub new_asset_grace_secs: Option<Int>,
    /// Most assets the inventory keeps. Default: [`super::model::default_max_assets`].
    pub max_assets: Option<Int>,
}

/// `[[zone]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ZoneFile {
    /// Unique name. Required.
    pub name: Str,
    /// `ADDRESS/PREFIX`, IPv4 or IPv6, no host bits. Required.
    pub cidr: Str,
    /// Purdue level: 0, 1, 2, 3, 3.5, 4 or 5. Required.
    pub level: Any,
    /// Area name. Required.
    pub area: Str,
    /// Free text. Default: none.
    pub comment: Option<Str>,
}

/// `[[equipment_class]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClassFile {
    /// Unique name. Required.
    pub name: Str,
    /// Supplier. Default: none.
    pub vendor: Option<Str>,
    /// What it is. Default: none.
    pub description: Option<Str>,
    /// Declared listening services. Default: none declared.
    #[serde(default)]
    pub services: Vec<ServiceFile>,
}

/// One entry of an equipment class's `services`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServiceFile {
    /// `tcp` or `udp`. Required.
    pub proto: Str,
    /// Listening port, 1–65535. Required.
    pub port: Int,
    /// What the supplier calls it. Required.
    pub name: Str,
}

/// `[[asset]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AssetFile {
    /// IP address. Required, unique.
    pub ip: Str,
    /// Unique name. Required.
    pub name: Str,
    /// Team or person answering for it. Default: none.
    pub owner: Option<Str>,
    /// Name of an `[[equipment_class]]`. Default: none.
    pub equipment_class: Option<Str>,
    /// TCP ports on which it speaks HSMS. Default: none.
    #[serde(default)]
    pub hsms_ports: Vec<Int>,
    /// Purdue level overriding the zone's. Default: the zone's.
    pub level: Option<Any>,
    /// Area overriding the zone's. Default: the zone's.
    pub area: Option<Str>,
    /// Free-text role. Default: none.
    pub role: Option<Str>,
    /// Free text. Default: none.
    pub comment: Option<Str>,
}

/// `from` or `to` of a conduit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointFile {
    /// A level or a list of levels. Default: any level.
    pub level: Option<Any>,
    /// Area. Default: any area.
    pub area: Option<Str>,
    /// Zone name. Default: any zone.
    pub zone: Option<Str>,
    /// Asset name. Default: any asset.
    pub asset: Option<Str>,
}

/// `[[conduit]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConduitFile {
    /// Unique name. Default: `conduit #N`.
    pub name: Option<Str>,
    /// The side that opens sessions. Required.
    pub from: Spanned<EndpointFile>,
    /// The side that answers. Required.
    pub to: Spanned<EndpointFile>,
    /// What may pass. Required, not empty.
    pub protocols: Spanned<Vec<Str>>,
    /// Whether `to` may also open sessions to `from`. Default: [`default_bidirectional`].
    #[serde(default = "default_bidirectional")]
    pub bidirectional: bool,
    /// Free text. Default: none.
    pub comment: Option<Str>,
}

/// Conduits work both ways unless said otherwise: which side of an HSMS link connects depends
/// on the tool's configuration (active or passive).
pub(super) const fn default_bidirectional() -> bool {
    true
}

/// `[[authorize]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuthorizeFile {
    /// Action name. Required.
    pub action: Str,
    /// Addresses, networks or asset names. Required, not empty.
    pub hosts: Spanned<Vec<Str>>,
    /// Addresses, networks, asset names, equipment classes or zones. Required, not empty.
    pub targets: Spanned<Vec<Str>>,
    /// Modbus unit identifiers. Default: every unit.
    #[serde(default)]
    pub units: Vec<Int>,
    /// Free text. Default: none.
    pub comment: Option<Str>,
}

/// `[[change_window]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowFile {
    /// Unique name. Required.
    pub name: Str,
    /// Same forms as authorization targets. Required, not empty.
    pub targets: Spanned<Vec<Str>>,
    /// One-off opening, RFC 3339. With `end`.
    pub start: Option<Any>,
    /// One-off closing, RFC 3339. With `start`.
    pub end: Option<Any>,
    /// Weekly: days it opens. Default: every day.
    pub days: Option<Spanned<Vec<Str>>>,
    /// Weekly: opening time `HH:MM` UTC. With `to`.
    pub from: Option<Str>,
    /// Weekly: closing time `HH:MM` UTC (may be earlier than `from`: next day). With `from`.
    pub to: Option<Str>,
    /// Free text. Default: none.
    pub comment: Option<Str>,
}
