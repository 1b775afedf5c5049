//! Fab profiles: what the fab network should look like.
//!
//! A profile is a TOML file (see `docs/profiles.md` and `profiles/`) that places subnets at
//! Purdue levels and areas (`[[zone]]`), names hosts (`[[asset]]`) and the services their
//! equipment class declares (`[[equipment_class]]`, the SEMI E187 network document), lists the
//! allowed conduits between levels and areas (`[[conduit]]`), who may perform which control
//! action on which tool or controller (`[[authorize]]`), and when changes are expected
//! (`[[change_window]]`). It is validated on load: every error quotes the bad value and its
//! `file:line:column`.
//!
//! The inventory asks where an address sits ([`Profile::level_area`]); the rules engine asks
//! whether a flow is on an allowed conduit ([`Profile::conduit_allowed`]), whether a host may
//! perform an action ([`Profile::authorized`]) and whether a change falls in a window
//! ([`Profile::in_change_window`]).
//!
//! ```
//! use fabmon_sensor::profile::{Authorization, Profile, PurdueLevel};
//!
//! let profile = Profile::from_str(
//!     r#"
//!     [[zone]]
//!     name = "tools"
//!     cidr = "10.20.0.0/16"
//!     level = 2
//!     area = "fab"
//!
//!     [[asset]]
//!     ip = "10.20.1.10"
//!     name = "ETCH-01"
//!
//!     [[authorize]]
//!     action = "hsms.recipe_download"
//!     hosts = ["10.30.0.12"]
//!     targets = ["ETCH-01"]
//!     "#,
//!     "inline.toml",
//! )?;
//! let ip = "10.20.1.10".parse()?;
//! assert_eq!(profile.level_area(ip).map(|p| p.level), Some(PurdueLevel::L2));
//! let eap = "10.30.0.12".parse()?;
//! let verdict = profile.authorized(fabmon_sensor::profile::Action::HsmsRecipeDownload, eap, ip, None);
//! assert_eq!(verdict, Authorization::Allowed(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod build;
mod error;
mod file;
mod level;
mod model;
mod net;
mod policy;
mod window;

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use std::net::IpAddr;
use std::path::Path;

use rustc_hash::FxHashMap;

pub use error::{Item, ItemKind, Location, NameKinds, ProfileError, ProfileWarning, WindowShape};
pub use level::{InvalidLevel, PurdueLevel};
pub use model::{
    default_max_assets, default_new_asset_grace_secs, Asset, DeclaredService, EquipmentClass, PlacedBy,
    Placement, Settings, Zone, STANDARD_AREAS,
};
pub use net::{CidrProblem, IpNet};
pub use policy::{
    Action, ActionFamily, Authorization, AuthorizeRule, Conduit, ConduitProtocol, ConduitVerdict, Endpoint,
    FlowService, Selector,
};
pub use window::{parse_timestamp, ChangeWindow, Schedule, TimeOfDay, TimestampProblem, Weekday};

/// A loaded, validated fab profile and its lookups.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    source: String,
    name: Option<String>,
    settings: Settings,
    hsms_ports: Vec<u16>,
    zones: Vec<Zone>,
    /// Indices into `zones`, longest prefix first.
    zones_by_prefix: Vec<usize>,
    classes: Vec<EquipmentClass>,
    assets: Vec<Asset>,
    /// Index into `classes` of each asset's equipment class.
    asset_class: Vec<Option<usize>>,
    asset_by_ip: FxHashMap<IpAddr, usize>,
    asset_by_name: FxHashMap<String, usize>,
    conduits: Vec<Conduit>,
    authorizations: Vec<AuthorizeRule>,
    windows: Vec<ChangeWindow>,
    warnings: Vec<ProfileWarning>,
}

impl Profile {
    /// A profile that says nothing: no zones, assets or policy, default settings. Every level is
    /// unknown, [`Profile::conduit_allowed`] is [`ConduitVerdict::NoPolicy`] and
    /// [`Profile::authorized`] is [`Authorization::NoRule`].
    pub fn empty() -> Profile {
        Profile::default()
    }

    /// Reads and validates the profile at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ProfileError::Read { path: path.to_owned(), source })?;
        Profile::from_str(&text, &path.display().to_string())
    }

    /// Validates profile `text`; `source_name` is the file name used in error messages.
    pub fn from_str(text: &str, source_name: &str) -> Result<Profile, ProfileError> {
        build::build(text, source_name)
    }

    /// The file name (or name given to [`Profile::from_str`]); empty for [`Profile::empty`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The profile's `name`, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The `[settings]`, defaults filled in.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Problems that did not stop loading (non-standard areas, assets outside every zone).
    pub fn warnings(&self) -> &[ProfileWarning] {
        &self.warnings
    }

    /// Zones in file order.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// Assets in file order.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// Equipment classes in file order.
    pub fn equipment_classes(&self) -> &[EquipmentClass] {
        &self.classes
    }

    /// The equipment class called `name`.
    pub fn equipment_class(&self, name: &str) -> Option<&EquipmentClass> {
        self.classes.iter().find(|c| c.name == name)
    }

    /// Conduits in file order; [`ConduitVerdict::Allowed`] indexes this.
    pub fn conduits(&self) -> &[Conduit] {
        &self.conduits
    }

    /// Authorization rules in file order; [`Authorization::Allowed`] indexes this.
    pub fn authorizations(&self) -> &[AuthorizeRule] {
        &self.authorizations
    }

    /// Change windows in file order.
    pub fn change_windows(&self) -> &[ChangeWindow] {
        &self.windows
    }

    /// The zone `ip` falls in: of the zones containing it, the one with the longest prefix.
    pub fn zone_of(&self, ip: IpAddr) -> Option<&Zone> {
        let ip = ip.to_canonical();
        self.zones_by_prefix.iter().filter_map(|&i| self.zones.get(i)).find(|z| z.cidr.contains(ip))
    }

    fn asset_index(&self, ip: IpAddr) -> Option<usize> {
        self.asset_by_ip.get(&ip.to_canonical()).copied()
    }

    /// The asset at `ip`.
    pub fn asset(&self, ip: IpAddr) -> Option<&Asset> {
        self.asset_index(ip).and_then(|i| self.assets.get(i))
    }

    /// The asset called `name`.
    pub fn asset_by_name(&self, name: &str) -> Option<&Asset> {
        self.asset_by_name.get(name).and_then(|&i| self.assets.get(i))
    }

    /// Purdue level, area and zone of `ip`: the asset's `level`/`area` first, then the zone's.
    /// `None` when either the level or the area is unknown.
    pub fn level_area(&self, ip: IpAddr) -> Option<Placement<'_>> {
        let asset = self.asset(ip);
        let zone = self.zone_of(ip);
        let (level, decided_by) = match (asset.and_then(|a| a.level), zone) {
            (Some(l), _) => (l, PlacedBy::Asset),
            (None, Some(z)) => (z.level, PlacedBy::Zone),
            (None, None) => return None,
        };
        let area = asset.and_then(|a| a.area.as_deref()).or(zone.map(|z| z.area.as_str()))?;
        Some(Placement { level, area, zone: zone.map(|z| z.name.as_str()), decided_by })
    }

    /// The services the equipment class of the asset at `ip` declares; `None` when `ip` is not
    /// an asset or the asset has no equipment class.
    pub fn declared_services(&self, ip: IpAddr) -> Option<&[DeclaredService]> {
        let class = self.asset_index(ip).and_then(|i| self.asset_class.get(i).copied().flatten())?;
        self.classes.get(class).map(|c| c.services.as_slice())
    }

    /// Every TCP port that carries HSMS from the first byte: the global `hsms_ports` and every
    /// asset's, sorted, without repeats.
    pub fn hsms_ports(&self) -> Vec<u16> {
        let mut ports = self.hsms_ports.clone();
        ports.extend(self.assets.iter().flat_map(|a| a.hsms_ports.iter().copied()));
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    fn selector_matches(&self, s: &Selector, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match s {
            Selector::Net(n) => n.contains(ip),
            Selector::Asset { ip: a, .. } => *a == ip,
            Selector::Class(c) => self.asset(ip).and_then(|a| a.equipment_class.as_ref()) == Some(c),
            Selector::Zone(z) => self.zone_of(ip).map(|x| &x.name) == Some(z),
        }
    }

    fn endpoint_matches(&self, e: &Endpoint, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if e.asset.as_ref().is_some_and(|(_, a)| *a != ip) {
            return false;
        }
        let zone = self.zone_of(ip);
        if e.zone.as_ref().is_some_and(|z| zone.map(|x| &x.name) != Some(z)) {
            return false;
        }
        let asset = self.asset(ip);
        if !e.levels.is_empty() {
            let level = asset.and_then(|a| a.level).or(zone.map(|z| z.level));
            if !level.is_some_and(|l| e.levels.contains(&l)) {
                return false;
            }
        }
        if let Some(want) = &e.area {
            let area = asset.and_then(|a| a.area.as_ref()).or(zone.map(|z| &z.area));
            if area != Some(want) {
                return false;
            }
        }
        true
    }

    /// Whether a session opened by `from` to `service` on `to` runs on an allowed conduit: one
    /// that lets `service` through, with `from` on its `from` side and `to` on its `to` side,
    /// or the other way round when it is bidirectional. The first such conduit wins.
    pub fn conduit_allowed(&self, from: IpAddr, to: IpAddr, service: FlowService) -> ConduitVerdict {
        if self.conduits.is_empty() {
            return ConduitVerdict::NoPolicy;
        }
        let found = self.conduits.iter().position(|c| {
            c.protocols.iter().any(|p| p.matches(service))
                && ((self.endpoint_matches(&c.from, from) && self.endpoint_matches(&c.to, to))
                    || (c.bidirectional
                        && self.endpoint_matches(&c.from, to)
                        && self.endpoint_matches(&c.to, from)))
        });
        found.map_or(ConduitVerdict::NotAllowed, ConduitVerdict::Allowed)
    }

    /// Whether `host` may perform `action` on `target` (Modbus: on unit `unit`).
    ///
    /// The rules that cover `action` (itself, its family's `.any`, or `any`) and name `target`
    /// decide: the first that names `host` (and lists `unit`, when it lists units) allows it.
    /// If such rules exist but none allows it, the answer is [`Authorization::Denied`]; if none
    /// exist, [`Authorization::NoRule`].
    pub fn authorized(
        &self,
        action: Action,
        host: IpAddr,
        target: IpAddr,
        unit: Option<u8>,
    ) -> Authorization {
        let mut relevant = false;
        for (i, r) in self.authorizations.iter().enumerate() {
            if !r.action.covers(action) || !r.targets.iter().any(|s| self.selector_matches(s, target)) {
                continue;
            }
            relevant = true;
            let unit_ok = r.units.is_empty() || unit.is_some_and(|u| r.units.contains(&u));
            if unit_ok && r.hosts.iter().any(|s| self.selector_matches(s, host)) {
                return Authorization::Allowed(i);
            }
        }
        if relevant {
            Authorization::Denied
        } else {
            Authorization::NoRule
        }
    }

    /// The name of the first change window that covers `target` and is open at `ts_ns`
    /// (nanoseconds since the Unix epoch, UTC).
    pub fn in_change_window(&self, ts_ns: i64, target: IpAddr) -> Option<&str> {
        self.windows
            .iter()
            .find(|w| {
                w.schedule.contains(ts_ns) && w.targets.iter().any(|s| self.selector_matches(s, target))
            })
            .map(|w| w.name.as_str())
    }
}
