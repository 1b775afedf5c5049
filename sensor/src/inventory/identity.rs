//! Identity values proved on the wire, each with the message that proved it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use crate::hsms::gem::Gem;
use crate::modbus::{ModbusDetail, ModbusDir};
use crate::record::{OtBody, OtMessage};

/// Keys whose change is an identity change (a SOFTREV, firmware or model change is an event;
/// a renamed object or a new location is not).
pub const TRACKED_KEYS: &[&str] = &[
    "mdln",
    "softrev",
    "vendor",
    "product_code",
    "revision",
    "model",
    "product_name",
    "device_instance",
    "vendor_id",
    "vendor_name",
    "model_name",
    "firmware",
    "app_software",
];

/// The message that proved an identity value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proof {
    pub frame: u64,
    pub ts: String,
    /// e.g. `S1F14`, `fc43/14 response unit 1`, `I-Am`, `readProperty complex-ack`.
    pub message: String,
}

impl Proof {
    pub fn of(m: &OtMessage) -> Proof {
        let message = match &m.body {
            OtBody::Hsms(h) => format!("S{}F{}", h.stream, h.function),
            OtBody::Modbus(r) => match r.fc {
                43 => format!("fc43/14 response unit {}", r.unit),
                17 => format!("fc17 report server id unit {}", r.unit),
                fc => format!("fc{fc} response unit {}", r.unit),
            },
            OtBody::Bacnet(b) => match (b.apdu_type, b.service) {
                (Some(1), Some(0)) => "I-Am".to_string(),
                (Some(3), _) => format!("{} complex-ack", b.service_name.unwrap_or("service")),
                _ => b.service_name.unwrap_or("bacnet").to_string(),
            },
        };
        Proof { frame: m.frame, ts: crate::time::format_rfc3339_us(m.ts_ns), message }
    }
}

/// An asset's identity: values by key, and for each the message that proved it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Identity {
    #[serde(flatten)]
    pub values: BTreeMap<&'static str, Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub proof: BTreeMap<&'static str, Proof>,
}

/// One identity change: the keys whose values differ, and the message that showed it.
#[derive(Clone, Debug, Serialize)]
pub struct IdentityChange {
    pub changes: Vec<(&'static str, Value, Value)>,
    pub proof: Proof,
}

impl Identity {
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// The tracked keys that `obs` would change.
    pub fn changes(&self, obs: &[(&'static str, Value)], proof: &Proof) -> Option<IdentityChange> {
        let changes: Vec<_> = obs
            .iter()
            .filter(|(k, _)| TRACKED_KEYS.contains(k))
            .filter_map(|(k, v)| match self.values.get(k) {
                Some(old) if old != v => Some((*k, old.clone(), v.clone())),
                _ => None,
            })
            .collect();
        (!changes.is_empty()).then(|| IdentityChange { changes, proof: proof.clone() })
    }

    /// Sets the observed values (with their proof).
    pub fn apply(&mut self, obs: &[(&'static str, Value)], proof: &Proof) {
        for (k, v) in obs {
            if self.values.get(k) != Some(v) {
                self.values.insert(k, v.clone());
                self.proof.insert(k, proof.clone());
            }
        }
    }
}

fn text(v: &Option<String>) -> Option<Value> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.to_string()))
}

/// Identity values a message proves about its sender (or, for BACnet Forwarded-NPDU, about
/// the original source: see [`subject`]), with the Modbus unit they belong to.
pub fn observe(m: &OtMessage) -> Option<(Vec<(&'static str, Value)>, Option<u8>)> {
    let mut obs: Vec<(&'static str, Value)> = Vec::new();
    let mut unit = None;
    match &m.body {
        OtBody::Hsms(h) => {
            let (mdln, softrev) = match h.gem.as_deref()? {
                Gem::OnlineData { mdln, softrev } | Gem::EstablishComm { mdln, softrev } => (mdln, softrev),
                Gem::EstablishCommAck { mdln, softrev, .. } => (mdln, softrev),
                _ => return None,
            };
            let (mdln, softrev) = (text(mdln), text(softrev));
            if mdln.is_none() && softrev.is_none() {
                // The host side sends an empty list.
                return None;
            }
            obs.extend(mdln.map(|v| ("mdln", v)));
            obs.extend(softrev.map(|v| ("softrev", v)));
            obs.push(("device_id", Value::from(h.session_id)));
        }
        OtBody::Modbus(r) => {
            if r.dir != ModbusDir::Response || r.exception.is_some() {
                return None;
            }
            unit = Some(r.unit);
            match r.detail.as_ref()? {
                ModbusDetail::DeviceId { objects, .. } => {
                    for o in objects {
                        let key = match o.id {
                            0 => "vendor",
                            1 => "product_code",
                            2 => "revision",
                            3 => "url",
                            4 => "product_name",
                            5 => "model",
                            6 => "user_app_name",
                            _ => continue,
                        };
                        let v = o.value.trim();
                        if !v.is_empty() {
                            obs.push((key, Value::String(v.to_string())));
                        }
                    }
                }
                ModbusDetail::ServerId { server_id_hex, run_indicator, additional_data, .. } => {
                    obs.push(("server_id", Value::String(server_id_hex.clone())));
                    if let Some(ri) = run_indicator {
                        obs.push(("run_indicator", Value::from(*ri)));
                    }
                    if !additional_data.is_empty() {
                        obs.push(("server_data", Value::String(additional_data.clone())));
                    }
                }
                _ => return None,
            }
        }
        OtBody::Bacnet(b) => {
            // Only a device's own announcements and answers describe it (a request names the
            // device it asks, not the asker).
            if !matches!((b.apdu_type, b.service), (Some(1), Some(0)) | (Some(3), _)) {
                return None;
            }
            let id = b.identity.as_deref()?;
            let n = |v: Option<u32>| v.map(Value::from);
            obs.extend(n(id.device_instance).map(|v| ("device_instance", v)));
            obs.extend(n(id.vendor_id).map(|v| ("vendor_id", v)));
            obs.extend(text(&id.vendor_name).map(|v| ("vendor_name", v)));
            obs.extend(text(&id.model_name).map(|v| ("model_name", v)));
            obs.extend(text(&id.firmware).map(|v| ("firmware", v)));
            obs.extend(text(&id.app_software).map(|v| ("app_software", v)));
            obs.extend(text(&id.object_name).map(|v| ("object_name", v)));
            obs.extend(text(&id.location).map(|v| ("location", v)));
            obs.extend(text(&id.description).map(|v| ("description", v)));
            obs.extend(text(&id.serial_number).map(|v| ("serial_number", v)));
        }
    }
    (!obs.is_empty()).then_some((obs, unit))
}

/// The address an identity observation is about: the sender, or for a BACnet Forwarded-NPDU
/// the original source the BBMD relayed.
pub fn subject(m: &OtMessage) -> IpAddr {
    if let OtBody::Bacnet(b) = &m.body {
        if let Some(orig) = b.orig_src {
            return IpAddr::V4(*orig.ip());
        }
    }
    m.src
}
