//! What a loaded profile holds: zones, assets, equipment classes and settings, all validated.

use std::net::IpAddr;

use serde::Serialize;

use super::level::PurdueLevel;
use super::net::IpNet;
use crate::app::Transport;

/// The areas the fab reference architecture names. Other area names are accepted with a
/// warning (see `docs/profiles.md`).
pub const STANDARD_AREAS: [&str; 5] = ["fab", "fab-system", "facility", "enterprise", "dmz"];

/// A subnet with its Purdue level and area. Where zones overlap, the longest prefix wins.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Zone {
    /// Unique name, used by conduits, authorizations and change windows.
    pub name: String,
    /// The subnet.
    pub cidr: IpNet,
    /// Purdue level of the hosts in the subnet.
    pub level: PurdueLevel,
    /// Area: `fab`, `fab-system`, `facility`, `enterprise`, `dmz` or a site's own name.
    pub area: String,
    /// Free text.
    pub comment: Option<String>,
    /// Line of the `[[zone]]` header in the profile.
    pub line: u32,
}

/// A named host: a tool PC, an EAP host, a PLC, a BMS server.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Asset {
    /// Its address (one asset per address).
    pub ip: IpAddr,
    /// Unique name, e.g. the tool ID `ETCH-01`.
    pub name: String,
    /// Who answers for it (team or person), for reports.
    pub owner: Option<String>,
    /// Name of its `[[equipment_class]]`, which declares the services it may offer.
    pub equipment_class: Option<String>,
    /// TCP ports on which this asset speaks HSMS.
    pub hsms_ports: Vec<u16>,
    /// Purdue level, overriding the zone's.
    pub level: Option<PurdueLevel>,
    /// Area, overriding the zone's.
    pub area: Option<String>,
    /// Free-text role (`eap`, `tool-pc`, `plc`, `hmi`, `bms` ...).
    pub role: Option<String>,
    /// Free text.
    pub comment: Option<String>,
    /// Line of the `[[asset]]` header in the profile.
    pub line: u32,
}

/// A kind of tool or controller and its documented network services (the SEMI E187 network
/// configuration document of the supplier).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EquipmentClass {
    /// Unique name, referred to by assets.
    pub name: String,
    /// Supplier.
    pub vendor: Option<String>,
    /// What the class is.
    pub description: Option<String>,
    /// The services a tool of this class may listen on; anything else is undeclared.
    pub services: Vec<DeclaredService>,
    /// Line of the `[[equipment_class]]` header in the profile.
    pub line: u32,
}

/// One declared listening service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclaredService {
    /// TCP or UDP.
    pub proto: Transport,
    /// Listening port.
    pub port: u16,
    /// What it is, as the supplier's document names it.
    pub name: String,
}

/// Default of [`Settings::new_asset_grace_secs`]: 15 minutes.
pub const fn default_new_asset_grace_secs() -> u64 {
    900
}

/// Default of [`Settings::max_assets`].
pub const fn default_max_assets() -> u32 {
    65_536
}

/// Knobs of the inventory and rules that belong with the fab rather than with one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Seconds after the sensor starts during which first-seen assets are learned quietly
    /// instead of raising new-asset alerts (everything is new at start-up).
    pub new_asset_grace_secs: u64,
    /// Most assets the inventory keeps; further new addresses are counted, not stored.
    pub max_assets: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { new_asset_grace_secs: default_new_asset_grace_secs(), max_assets: default_max_assets() }
    }
}

/// What decided an address's Purdue level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacedBy {
    /// The `level` of its `[[asset]]` entry.
    Asset,
    /// The zone it falls in.
    Zone,
}

/// Where an address sits: Purdue level, area, zone, and what decided the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Placement<'a> {
    /// Purdue level (asset override first, then zone).
    pub level: PurdueLevel,
    /// Area (asset override first, then zone).
    pub area: &'a str,
    /// Name of the zone the address falls in, if any.
    pub zone: Option<&'a str>,
    /// Whether the asset entry or the zone gave the level.
    pub decided_by: PlacedBy,
}
