//! Purdue levels as fabs use them: 0–5 plus 3.5 for the IT/OT DMZ.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Purdue level, held in tenths so that the IT/OT DMZ (3.5) is exact.
///
/// Only 0, 1, 2, 3, 3.5, 4 and 5 exist. It prints and serializes as `"2"` or `"3.5"`, and
/// deserializes from a TOML integer (`2`), float (`3.5`) or string (`"3.5"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PurdueLevel(u8);

impl PurdueLevel {
    /// Level 0: the process (sensors, actuators).
    pub const L0: PurdueLevel = PurdueLevel(0);
    /// Level 1: basic control (PLCs, facility controllers).
    pub const L1: PurdueLevel = PurdueLevel(10);
    /// Level 2: equipment control (tool PCs, HMIs, DDC supervisors).
    pub const L2: PurdueLevel = PurdueLevel(20);
    /// Level 3: fab systems (MES, EAP hosts, RMS, BMS servers).
    pub const L3: PurdueLevel = PurdueLevel(30);
    /// Level 3.5: the IT/OT DMZ (jump hosts, relays, file gateways).
    pub const DMZ: PurdueLevel = PurdueLevel(35);
    /// Level 4: site business and logistics.
    pub const L4: PurdueLevel = PurdueLevel(40);
    /// Level 5: enterprise and the Internet.
    pub const L5: PurdueLevel = PurdueLevel(50);

    /// Every level, lowest first.
    pub const ALL: [PurdueLevel; 7] = [
        PurdueLevel::L0,
        PurdueLevel::L1,
        PurdueLevel::L2,
        PurdueLevel::L3,
        PurdueLevel::DMZ,
        PurdueLevel::L4,
        PurdueLevel::L5,
    ];

    /// The level in tenths: 0, 10, 20, 30, 35, 40 or 50.
    pub const fn tenths(self) -> u8 {
        self.0
    }

    /// The level for a count of tenths, if it is one of the seven levels.
    pub const fn from_tenths(tenths: u8) -> Option<PurdueLevel> {
        match tenths {
            0 | 10 | 20 | 30 | 35 | 40 | 50 => Some(PurdueLevel(tenths)),
            _ => None,
        }
    }

    /// The level for an integer (0–5).
    pub fn from_int(v: i64) -> Option<PurdueLevel> {
        u8::try_from(v).ok().filter(|v| *v <= 5).and_then(|v| PurdueLevel::from_tenths(v * 10))
    }

    /// The level for a number such as `3.5` or `2.0`; anything that is not exactly a level
    /// (`2.5`, `6`, NaN) is `None`.
    pub fn from_f64(v: f64) -> Option<PurdueLevel> {
        let tenths = v * 10.0;
        if !tenths.is_finite() || !(0.0..=50.0).contains(&tenths) || tenths.fract() != 0.0 {
            return None;
        }
        // In range 0..=50 and integral, so the cast is exact.
        PurdueLevel::from_tenths(tenths as u8)
    }

    /// Operational technology: levels 0 to 3 (the DMZ and above are not).
    pub const fn is_ot(self) -> bool {
        self.0 <= 30
    }
}

impl fmt::Display for PurdueLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % 10 == 0 {
            write!(f, "{}", self.0 / 10)
        } else {
            write!(f, "{}.{}", self.0 / 10, self.0 % 10)
        }
    }
}

/// The text was not one of the levels 0, 1, 2, 3, 3.5, 4, 5.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a Purdue level (0, 1, 2, 3, 3.5, 4 or 5)")]
pub struct InvalidLevel(pub String);

impl FromStr for PurdueLevel {
    type Err = InvalidLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = t.strip_prefix(['L', 'l']).unwrap_or(t);
        t.parse::<f64>().ok().and_then(PurdueLevel::from_f64).ok_or_else(|| InvalidLevel(s.to_owned()))
    }
}

impl Serialize for PurdueLevel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct LevelVisitor;

impl Visitor<'_> for LevelVisitor {
    type Value = PurdueLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Purdue level: 0, 1, 2, 3, 3.5, 4 or 5")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PurdueLevel, E> {
        PurdueLevel::from_int(v).ok_or_else(|| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PurdueLevel, E> {
        i64::try_from(v)
            .ok()
            .and_then(PurdueLevel::from_int)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<PurdueLevel, E> {
        PurdueLevel::from_f64(v).ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PurdueLevel, E> {
        v.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl<'de> Deserialize<'de> for PurdueLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LevelVisitor)
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for l in PurdueLevel::ALL {
            assert_eq!(l.to_string().parse::<PurdueLevel>(), Ok(l));
        }
        assert_eq!(PurdueLevel::DMZ.to_string(), "3.5");
        assert_eq!(PurdueLevel::L2.to_string(), "2");
        assert_eq!("L3".parse::<PurdueLevel>(), Ok(PurdueLevel::L3));
        assert!("2.5".parse::<PurdueLevel>().is_err());
        assert!("6".parse::<PurdueLevel>().is_err());
        assert!("x".parse::<PurdueLevel>().is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(PurdueLevel::from_int(3), Some(PurdueLevel::L3));
        assert_eq!(PurdueLevel::from_int(6), None);
        assert_eq!(PurdueLevel::from_int(-1), None);
        assert_eq!(PurdueLevel::from_f64(3.5), Some(PurdueLevel::DMZ));
        assert_eq!(PurdueLevel::from_f64(2.0), Some(PurdueLevel::L2));
        assert_eq!(PurdueLevel::from_f64(2.5), None);
        assert_eq!(PurdueLevel::from_f64(f64::NAN), None);
        assert_eq!(PurdueLevel::from_f64(-0.5), None);
    }

    #[test]
    fn ot_levels_and_order() {
        assert!(PurdueLevel::L0.is_ot() && PurdueLevel::L3.is_ot());
        assert!(!PurdueLevel::DMZ.is_ot() && !PurdueLevel::L5.is_ot());
        assert!(PurdueLevel::L3 < PurdueLevel::DMZ && PurdueLevel::DMZ < PurdueLevel::L4);
    }

    #[test]
    fn serde_forms() {
        assert_eq!(serde_json::to_string(&PurdueLevel::DMZ).ok().as_deref(), Some("\"3.5\""));
        assert_eq!(serde_json::to_string(&PurdueLevel::L1).ok().as_deref(), Some("\"1\""));
        #[derive(serde::Deserialize)]
        struct T {
            a: PurdueLevel,
            b: PurdueLevel,
            c: PurdueLevel,
        }
        let t: T = toml::from_str("a = 2\nb = 3.5\nc = \"4\"").expect("levels parse");
        assert_eq!((t.a, t.b, t.c), (PurdueLevel::L2, PurdueLevel::DMZ, PurdueLevel::L4));
        assert!(toml::from_str::<T>("a = 6\nb = 1\nc = 1").is_err());
        assert!(toml::from_str::<T>("a = 2.5\nb = 1\nc = 1").is_err());
    }
}
