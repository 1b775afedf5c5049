//! Purdue level and area of an asset: from the profile when it places the address
//! (authoritative), otherwise inferred from the roles seen on the wire.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::profile::{PlacedBy, Profile, PurdueLevel};

use super::roles;

/// How each OT role places an asset when no profile does: (role, level in tenths, area, why).
/// An asset with several roles takes the highest level among them: a supervisor sits above
/// what it supervises. Documented in `docs/inventory.md`.
pub const ROLE_LEVELS: &[(&str, u8, &str, &str)] = &[
    (roles::HSMS_HOST, 30, "fab-system", "opens HSMS sessions to tools (host/EAP, level 3)"),
    (roles::HSMS_EQUIPMENT, 20, "fab", "answers HSMS as equipment (tool PC, level 2)"),
    (roles::MODBUS_CLIENT, 20, "fab", "polls or writes Modbus servers (HMI/SCADA, level 2)"),
    (roles::MODBUS_SERVER, 10, "fab", "answers Modbus requests (PLC or controller, level 1)"),
    (roles::BACNET_CLIENT, 30, "facility", "reads or writes BACnet devices (BMS server, level 3)"),
    (roles::BACNET_DEVICE, 10, "facility", "is a BACnet device (facility controller, level 1)"),
];

/// Where an asset sits and how that was decided.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    pub level: Option<PurdueLevel>,
    /// `profile`, `inferred` or `unknown`.
    pub source: &'static str,
    pub reason: String,
    pub area: Option<String>,
    pub zone: Option<String>,
}

/// The level the role table gives a set of roles, with the area and the reason.
pub fn infer_level(
    roles: &BTreeSet<&'static str>,
) -> Option<(PurdueLevel, &'static str, &'static str, &'static str)> {
    ROLE_LEVELS
        .iter()
        .filter(|(r, ..)| roles.contains(r))
        .max_by_key(|(_, tenths, ..)| *tenths)
        .and_then(|(r, tenths, area, why)| Some((PurdueLevel::from_tenths(*tenths)?, *area, *r, *why)))
}

/// Places `ip`: profile (asset entry, then zone) first, else the role table.
pub fn place(ip: IpAddr, roles: &BTreeSet<&'static str>, profile: &Profile) -> Placement {
    if let Some(p) = profile.level_area(ip) {
        let reason = match (p.decided_by, p.zone) {
            (PlacedBy::Asset, _) => {
                let name = profile.asset(ip).map(|a| a.name.as_str()).unwrap_or("?");
                format!("profile asset {name}")
            }
            (PlacedBy::Zone, Some(z)) => format!("profile zone {z}"),
            (PlacedBy::Zone, None) => "profile zone".to_string(),
        };
        return Placement {
            level: Some(p.level),
            source: "profile",
            reason,
            area: Some(p.area.to_string()),
            zone: p.zone.map(str::to_string),
        };
    }
    match infer_level(roles) {
        Some((level, area, role, why)) => Placement {
            level: Some(level),
            source: "inferred",
            reason: format!("{role}: {why}"),
            area: Some(area.to_string()),
            zone: None,
        },
        None => Placement {
            level: None,
            source: "unknown",
            reason: if roles.is_empty() {
                "no profile zone and no OT role seen".to_string()
            } else {
                "no profile zone; only IT services seen".to_string()
            },
            area: None,
            zone: None,
        },
    }
}
