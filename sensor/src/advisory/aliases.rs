//! Vendor names as devices and advisories write them, normalised and mapped through the alias
//! table shipped in `sensor/data/vendor-aliases.toml`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

/// The alias table compiled into the binary.
pub const DEFAULT_ALIASES: &str = include_str!("../../data/vendor-aliases.toml");

/// Words dropped from vendor names: corporate forms and filler.
const SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "pte",
    "se",
    "ag",
    "sa",
    "spa",
    "srl",
    "bv",
    "nv",
    "co",
    "kg",
    "corp",
    "corporation",
    "company",
    "plc",
    "oy",
    "oyj",
    "ab",
    "as",
    "kk",
    "pty",
    "mbh",
    "the",
    "and",
    "dba",
    "of",
];

/// Lower case, punctuation and `&` to spaces, corporate suffixes dropped, single spaces.
pub fn normalize(s: &str) -> String {
    let cleaned: String =
        s.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect();
    cleaned.split_whitespace().filter(|w| !SUFFIXES.contains(w)).collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    vendors: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    families: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    bacnet_vendor_ids: BTreeMap<String, String>,
}

/// Why an alias table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    #[error("vendor alias table: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("vendor alias table: bacnet_vendor_ids key {0:?} is not a number 0-65535")]
    BadId(String),
}

/// The compiled alias table.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    canonical: HashMap<String, String>,
    /// Family word (upper case) per model prefix (upper case, alphanumerics only).
    pub families: Vec<(String, String)>,
    bacnet: HashMap<u16, String>,
}

impl Aliases {
    /// The table shipped with fabmon.
    pub fn builtin() -> Result<Aliases, AliasError> {
        Aliases::parse(DEFAULT_ALIASES)
    }

    pub fn parse(text: &str) -> Result<Aliases, AliasError> {
        let f: File = toml::from_str(text)?;
        let mut a = Aliases::default();
        for (canon, list) in &f.vendors {
            let c = normalize(canon);
            a.canonical.insert(c.clone(), c.clone());
            for al in list {
                a.canonical.insert(normalize(al), c.clone());
            }
        }
        for (fam, prefixes) in &f.families {
            for p in prefixes {
                a.families.push((alnum_upper(p), alnum_upper(fam)));
            }
        }
        for (id, name) in &f.bacnet_vendor_ids {
            let n: u16 = id.trim().parse().map_err(|_| AliasError::BadId(id.clone()))?;
            a.bacnet.insert(n, name.clone());
        }
        Ok(a)
    }

    /// The canonical normalised vendor for a name (the normalised name when no alias applies;
    /// empty for a name of suffixes only).
    pub fn canonical(&self, name: &str) -> String {
        let n = normalize(name);
        if let Some(c) = self.canonical.get(&n) {
            return c.clone();
        }
        // "Schneider Electric Industries" → the longest known leading phrase.
        let words: Vec<&str> = n.split(' ').collect();
        for k in (1..words.len()).rev() {
            if let Some(c) = self.canonical.get(&words[..k].join(" ")) {
                return c.clone();
            }
        }
        n
    }

    /// The vendor name for a BACnet vendor identifier, when the table has it.
    pub fn bacnet_vendor(&self, id: u16) -> Option<&str> {
        self.bacnet.get(&id).map(String::as_str)
    }
}

/// Upper case, alphanumerics only (`PXC22.D` → `PXC22D`).
pub fn alnum_upper(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn wire_and_advisory_names_meet() {
        let a = Aliases::builtin().unwrap();
        for (x, y) in [
            ("Schneider Electric Software, LLC", "Schneider Electric"),
            ("WAGO Kontakttechnik GmbH & Co. KG", "WAGO"),
            ("Johnson Controls, Inc.", "Johnson Controls Inc"),
            ("Siemens Building Technologies", "Siemens"),
            ("Siemens Schweiz AG", "Siemens"),
            ("Automated Logic Corporation", "Automated Logic"),
            ("LOYTEC electronics GmbH", "LOYTEC"),
            ("Daikin Holdings Singapore Pte Ltd", "DAIKIN Industries Ltd."),
            ("Viessmann Climate Solutions SE", "Viessmann"),
            ("Reliable Controls Corporation", "Reliable Controls"),
            ("Schneider Electric Industries SAS", "Schneider Electric"),
        ] {
            assert_eq!(a.canonical(x), a.canonical(y), "{x} vs {y}");
            assert!(!a.canonical(x).is_empty());
        }
        assert_ne!(a.canonical("Siemens"), a.canonical("Schneider Electric"));
        assert_eq!(a.bacnet_vendor(8), Some("Delta Controls"));
        assert_eq!(a.canonical(a.bacnet_vendor(5).unwrap()), a.canonical("Johnson Controls Inc"));
        assert!(a.families.iter().any(|(p, f)| p == "PXC" && f == "DESIGO"));
        assert!(matches!(Aliases::parse("[bacnet_vendor_ids]\nx = \"y\""), Err(AliasError::BadId(_))));
    }
}
