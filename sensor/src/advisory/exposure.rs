//! Exposure findings: what the wire shows about an asset that makes it attackable, without any
//! advisory. Each finding has a stable id (a contract like rule ids: added, never renamed),
//! a severity, a confidence and the wire evidence.
//!
//! | id | when |
//! |---|---|
//! | `exposure.unauth_write.modbus` | a Modbus server reached from another Purdue level (or an unplaced host); lists the clients and which of them wrote. High when a client two levels away or more (or unplaced) wrote, medium when such a client only read or an adjacent one wrote, low for reads from the adjacent level |
//! | `exposure.unauth_write.bacnet` | the same for a BACnet device (WriteProperty, DCC, ReinitializeDevice, AtomicWriteFile, WriteGroup) |
//! | `exposure.unauth_write.hsms` | the same for an HSMS tool (remote commands, recipe download/delete, equipment constants) |
//! | `exposure.cleartext_admin.<telnet,ftp,vnc,http,snmp,tftp>` | the asset answers on Telnet 23, FTP 21, VNC 5900–5910, HTTP 80/8080, SNMP udp/161 or TFTP udp/69 |
//! | `exposure.legacy_service.smb` | SMB over NetBIOS (tcp/139) or NetBIOS name/datagram service (udp/137/138): the SMBv1-era transport |
//! | `exposure.eos_os.windows` | a Windows-family TTL (initial 128) together with NetBIOS/SMB on an OT host: possibly an end-of-support Windows on a tool PC (low confidence) |
//!
//! What the sensor does not decode is not claimed: the SMB dialect and the SNMP version are not
//! read from the payload, so `exposure.cleartext_admin.snmp` says SNMP v1/v2c cannot be told
//! from v3 here.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{json, Value};

use super::Confidence;
use crate::alert::Severity;
use crate::inventory::{roles, Asset};

/// One exposure finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Stable id (`exposure.unauth_write.modbus`).
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub confidence: Confidence,
    /// The wire evidence: services, clients with their levels, frames.
    pub evidence: Value,
}

/// A write-capable operation a client performed on an asset.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WriteUse {
    pub count: u64,
    pub first_frame: u64,
    /// The first such message, as `fabmon decode` summarises it.
    pub example: String,
}

/// The likely initial TTL of a host from a TTL seen on the wire.
pub fn initial_ttl(seen: u8) -> u8 {
    match seen {
        0 => 0,
        1..=64 => 64,
        65..=128 => 128,
        _ => 255,
    }
}

fn level_tenths(l: Option<&String>) -> Option<u32> {
    let f: f32 = l?.parse().ok()?;
    Some((f * 10.0).round() as u32)
}

/// The findings of one asset. `levels` holds every asset's Purdue level (after placement).
pub fn findings(a: &Asset, levels: &HashMap<IpAddr, Option<String>>) -> Vec<Finding> {
    let mut out = Vec::new();
    let own = level_tenths(a.level.as_ref());
    let level_of = |ip: &IpAddr| levels.get(ip).cloned().flatten();
    for (proto, role, title) in [
        ("modbus", roles::MODBUS_SERVER, "Modbus/TCP (no authentication) reachable from another level"),
        ("bacnet", roles::BACNET_DEVICE, "BACnet/IP (no authentication) reachable from another level"),
        ("hsms", roles::HSMS_EQUIPMENT, "HSMS (no authentication) reachable from another level"),
    ] {
        if !a.roles.contains(role) {
            continue;
        }
        let mut clients = Vec::new();
        let mut cross = false;
        let mut wrote_cross = false;
        // Largest level distance of a client, and of a client that wrote (None: unplaced).
        let mut far = false;
        let mut far_write = false;
        for (peer, protos) in &a.peers {
            if !protos.contains(proto) {
                continue;
            }
            let writes: Option<&WriteUse> = a.writes.get(&(proto, *peer));
            let pl = level_of(peer);
            let (other, distant) = match (own, level_tenths(pl.as_ref())) {
                (Some(x), Some(y)) => (x != y, x.abs_diff(y) >= 20),
                // An unplaced peer or asset: say so rather than assume the same level.
                _ => (true, true),
            };
            if !other {
                continue;
            }
            // Only peers that acted as clients (a device's own notifications do not count).
            let is_client = writes.is_some() || a.clients.contains(&(proto, *peer));
            if !is_client {
                continue;
            }
            cross = true;
            wrote_cross |= writes.is_some();
            far |= distant;
            far_write |= distant && writes.is_some();
            clients.push(json!({
                "ip": peer,
                "level": pl,
                "writes": writes.map_or(0, |w| w.count),
                "first_write_frame": writes.map(|w| w.first_frame),
                "example": writes.map(|w| w.example.clone()),
            }));
        }
        if !cross {
            continue;
        }
        out.push(Finding {
            id: format!("exposure.unauth_write.{proto}"),
            title: title.to_string(),
            // Two levels or more away (or unplaced) is worse than the adjacent supervisory level.
            severity: match (far_write, far, wrote_cross) {
                (true, _, _) => Severity::High,
                (false, true, _) | (false, false, true) => Severity::Medium,
                _ => Severity::Low,
            },
            confidence: Confidence::High,
            evidence: json!({
                "protocol": proto,
                "level": a.level,
                "services": a.services.iter().filter(|s| service_proto(s) == Some(proto)).collect::<Vec<_>>(),
                "clients": clients,
                "wrote": wrote_cross,
            }),
        });
    }
    // Cleartext administration the asset answers on.
    let mut admin: BTreeMap<&'static str, Vec<&String>> = BTreeMap::new();
    for s in &a.services {
        if let Some(name) = cleartext_name(s) {
            admin.entry(name).or_default().push(s);
        }
    }
    for (name, svcs) in admin {
        let clients: Vec<Value> = a
            .peers
            .iter()
            .filter(|(_, p)| p.contains(name))
            .map(|(ip, _)| json!({"ip": ip, "level": level_of(ip)}))
            .collect();
        let (severity, note) = match name {
            "telnet" | "ftp" | "vnc" | "tftp" => (Severity::High, None),
            "snmp" => (
                Severity::Medium,
                Some("the SNMP version is not decoded: v1/v2c (community strings in cleartext) cannot be told from v3"),
            ),
            _ => (Severity::Medium, None),
        };
        out.push(Finding {
            id: format!("exposure.cleartext_admin.{name}"),
            title: format!("Cleartext remote administration: {} answers", name.to_ascii_uppercase()),
            severity,
            confidence: Confidence::High,
            evidence: json!({"services": svcs, "clients": clients, "note": note}),
        });
    }
    // Legacy Windows file sharing.
    let netbios: Vec<&String> =
        a.services.iter().filter(|s| matches!(s.as_str(), "tcp/139" | "udp/137" | "udp/138")).collect();
    if !netbios.is_empty() {
        let smb445 = a.services.contains("tcp/445");
        out.push(Finding {
            id: "exposure.legacy_service.smb".into(),
            title: "SMB over NetBIOS (the SMBv1-era transport) answers".into(),
            severity: Severity::Medium,
            confidence: if smb445 { Confidence::Low } else { Confidence::Medium },
            evidence: json!({
                "services": netbios,
                "also_direct_smb_445": smb445,
                "note": "the SMB dialect is not decoded; NetBIOS without tcp/445 points to an old stack",
            }),
        });
    }
    let ttl = initial_ttl(a.ttl_max);
    if ttl == 128 && !netbios.is_empty() && a.is_ot() {
        out.push(Finding {
            id: "exposure.eos_os.windows".into(),
            title: "Windows host with NetBIOS/SMB on the OT network: possibly an end-of-support version"
                .into(),
            severity: Severity::Low,
            confidence: Confidence::Low,
            evidence: json!({
                "ttl_seen": a.ttl_max,
                "initial_ttl": ttl,
                "services": netbios,
                "roles": a.roles,
                "note": "TTL 128 says Windows family, not which version; confirm the OS on the host",
            }),
        });
    }
    out
}

fn service_proto(s: &str) -> Option<&'static str> {
    let (t, p) = s.split_once('/')?;
    let p: u16 = p.parse().ok()?;
    Some(match (t, p) {
        ("tcp", 502) => "modbus",
        ("udp", 47808..=47823) => "bacnet",
        ("tcp", _) => "hsms",
        _ => return None,
    })
}

fn cleartext_name(s: &str) -> Option<&'static str> {
    let (t, p) = s.split_once('/')?;
    let p: u16 = p.parse().ok()?;
    Some(match (t, p) {
        ("tcp", 23) => "telnet",
        ("tcp", 21) => "ftp",
        ("tcp", 5900..=5910) => "vnc",
        ("tcp", 80 | 8080) => "http",
        ("udp", 161) => "snmp",
        ("udp", 69) => "tftp",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn initial_ttls() {
        assert_eq!(initial_ttl(63), 64);
        assert_eq!(initial_ttl(127), 128);
        assert_eq!(initial_ttl(250), 255);
    }
}
