//! The stable identifier of an alert across runs and tables (the dataset's `alerts.uid`, the
//! key of acknowledgements in `acks/acks.jsonl`): hex of a hash of sensor, rule, source,
//! destination, key and first occurrence time.

use sha2::{Digest, Sha256};

use crate::alert::Alert;

/// `uid` of an alert raised by `sensor`: the first 16 hex digits of SHA-256 over the fields
/// joined by a unit separator (absent addresses are empty).
pub fn alert_uid(sensor: &str, a: &Alert) -> String {
    let src = a.src.map(|ip| ip.to_string()).unwrap_or_default();
    let dst = a.dst.map(|ip| ip.to_string()).unwrap_or_default();
    let first = a.first_ts_ns.to_string();
    let mut h = Sha256::new();
    for (i, part) in [sensor, a.rule, &src, &dst, &a.key, &first].iter().enumerate() {
        if i > 0 {
            h.update([0x1f]);
        }
        h.update(part.as_bytes());
    }
    let d = h.finalize();
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
