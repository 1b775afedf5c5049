//! Vulnerability assessment of the inventory from CSAF 2.0 advisories, and exposure findings
//! that need no advisory.
//!
//! - [`csaf`] reads the parts of a CSAF document the matcher needs (serde types) and flattens
//!   its product tree into product entries (vendor, product name, model numbers, versions,
//!   status, CVEs, highest CVSS, remediation).
//! - [`store`] keeps imported advisories in a directory; a newer revision of an advisory
//!   replaces the older one.
//! - [`version`] is the version comparator and range reader.
//! - [`aliases`] normalises vendor names (table in `sensor/data/vendor-aliases.toml`).
//! - [`AdvisoryIndex`] matches device identities to product entries, indexed by canonical
//!   vendor and model token (each substring of a device model is looked up), so that a lookup
//!   touches only the entries that can match.
//! - [`exposure`] derives findings from what the wire showed (unauthenticated write
//!   protocols, cleartext administration, legacy services, end-of-support signs).
//!
//! The rules and documents are in `docs/advisories.md`.

pub mod aliases;
pub mod csaf;
pub mod exposure;
pub mod store;
pub mod version;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::inventory::Identity;
pub use aliases::{alnum_upper, Aliases};
pub use csaf::{Advisory, ProductEntry, Status};
use version::{select_train, Comparison, Version, VersionSpec};

/// How sure a match is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Vendor and product family match; the model is not named.
    Low,
    /// The model matches; the version is unknown or cannot be compared.
    Medium,
    /// The model matches and the version lies in the affected range (or all versions are
    /// affected).
    High,
}

impl Confidence {
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One advisory that applies to a device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VulnMatch {
    /// `document.tracking.id`.
    pub advisory: String,
    pub title: String,
    /// The advisory's product name for the matched entry and its version text.
    pub product: String,
    pub product_id: String,
    pub affected_versions: String,
    /// `known_affected`, `fixed` (the device runs a version the advisory lists as fixed) or
    /// `known_not_affected`.
    pub status: Status,
    pub confidence: Confidence,
    /// How the device version compared with the entry.
    pub version_check: Comparison,
    pub cves: Vec<String>,
    /// Highest CVSS base score (v3, else v2) of the vulnerabilities naming the product.
    pub cvss: Option<f32>,
    /// The first version the advisory lists as fixed for the same product, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// Why it matched, in words.
    pub reason: String,
}

/// What the matcher reads from an asset's identity.
#[derive(Clone, Debug, Default)]
pub struct DeviceIdentity {
    pub vendors: Vec<String>,
    /// Model strings: model, product code, product name, BACnet model-name, HSMS MDLN.
    pub models: Vec<String>,
    /// Version strings, most specific first: Modbus revision, BACnet firmware, SOFTREV, BACnet
    /// application software.
    pub versions: Vec<String>,
    /// BACnet vendor identifier.
    pub bacnet_vendor_id: Option<u16>,
}

impl DeviceIdentity {
    /// From the identity values the inventory proved on the wire.
    pub fn from_identity(id: &Identity) -> DeviceIdentity {
        let s = |k: &str| id.get(k).and_then(Value::as_str).map(str::to_string);
        DeviceIdentity {
            vendors: ["vendor", "vendor_name"].iter().filter_map(|k| s(k)).collect(),
            models: ["model", "product_code", "product_name", "model_name", "mdln"]
                .iter()
                .filter_map(|k| s(k))
                .collect(),
            versions: ["revision", "firmware", "softrev", "app_software"]
                .iter()
                .filter_map(|k| s(k))
                .collect(),
            bacnet_vendor_id: id.get("vendor_id").and_then(Value::as_u64).and_then(|v| u16::try_from(v).ok()),
        }
    }

    /// A short key of the values matching depends on (to skip re-matching unchanged identities).
    pub fn fingerprint(&self) -> String {
        format!("{:?}|{:?}|{:?}|{:?}", self.vendors, self.models, self.versions, self.bacnet_vendor_id)
    }
}

struct Entry {
    adv: u32,
    product: ProductEntry,
    tokens: Vec<String>,
    families: Vec<String>,
    group: u32,
    vids: Vec<u32>,
}

/// Advisories compiled for matching.
pub struct AdvisoryIndex {
    aliases: Aliases,
    advisories: Vec<AdvisoryMeta>,
    entries: Vec<Entry>,
    vendors: HashMap<String, u32>,
    /// Per vendor: every model token → entries. A device looks up each substring of its
    /// model strings (a device model contains the token).
    by_token: HashMap<u32, HashMap<String, Vec<u32>>>,
    /// Per vendor: every prefix (4 characters or more) of every token → entries (the device
    /// model starts a longer token: `EBMGR` and `EBMGRTCH`).
    by_prefix: HashMap<u32, HashMap<String, Vec<u32>>>,
    by_family: HashMap<(u32, String), Vec<u32>>,
    groups: Vec<Vec<u32>>,
}

struct AdvisoryMeta {
    id: String,
    title: String,
    /// Version text of the first `fixed` entry with one.
    fixed: Option<String>,
}

const STOP_WORDS: &[&str] = &[
    "ALL",
    "REFERENCES",
    "CONTROLLER",
    "CONTROLLERS",
    "FIRMWARE",
    "SERIES",
    "VERSION",
    "VERSIONS",
    "WITH",
    "MODULE",
    "FOR",
    "AUTOMATION",
    "SYSTEM",
    "SYSTEMS",
    "SERVER",
    "MANAGER",
    "TOUCH",
    "UNIT",
    "OPERATOR",
    "COMPACT",
    "MODULAR",
    "INTEGRATION",
    "HARDWARE",
    "SOFTWARE",
    "PROTOCOL",
    "UTILIZE",
    "THAT",
    "INTER",
    "ETHERNET",
    "ENERGY",
    "CONTROLLING",
    "MANAGEMENT",
    "CENTER",
    "THERMAL",
    "EDGE",
    "SECURITY",
    "BUILDING",
    "PREMIUM",
    "DEVICE",
    "DEVICES",
    "GATEWAY",
    "PANEL",
    "STATION",
    "BASIC",
    "STANDARD",
    "PRIOR",
    "CONFIGURATOR",
    "BACNET",
    "MODBUS",
    "PLUS",
];

/// `PXC12/22/36-E.D` → `PXC12-E.D`, `PXC22-E.D`, `PXC36-E.D`; `R04/08/120ENCPU` → `R04ENCPU`…;
/// other slashes (`BACnet/IP`) separate words.
fn expand_slash(w: &str) -> Vec<String> {
    let parts: Vec<&str> = w.split('/').collect();
    if parts.len() < 2 {
        return vec![w.to_string()];
    }
    let first = parts[0];
    let p_end = first.find(|c: char| c.is_ascii_digit()).unwrap_or(first.len());
    let (prefix, first_digits) = first.split_at(p_end);
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    let last = parts[parts.len() - 1];
    let ok = !prefix.is_empty()
        && !first_digits.is_empty()
        && digits(first_digits) == first_digits.len()
        && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && digits(p) == p.len())
        && digits(last) > 0;
    if !ok {
        return parts.iter().map(|p| p.to_string()).collect();
    }
    let suffix = &last[digits(last)..];
    let mut out = vec![format!("{prefix}{first_digits}{suffix}")];
    for p in &parts[1..] {
        out.push(format!("{prefix}{}{suffix}", &p[..digits(p)]));
    }
    out
}

/// Model tokens and family words of a product name.
fn product_tokens(text: &str, tokens: &mut Vec<String>, families: &mut Vec<String>) {
    for raw in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':')) {
        let paren = raw.starts_with('(') || raw.ends_with(')');
        let w = raw.trim_matches(|c| matches!(c, '(' | ')' | '"' | '\''));
        for x in expand_slash(w) {
            let n = alnum_upper(&x);
            if n.len() < 3 {
                continue;
            }
            let has_digit = n.bytes().any(|b| b.is_ascii_digit());
            let has_alpha = n.bytes().any(|b| b.is_ascii_alphabetic());
            // `MACH-ProWebCom`, `eBMGR-TCH`: hyphenated names are model names too.
            let hyphenated = x.trim_matches('-').contains('-') && n.len() >= 4;
            if has_digit || paren || hyphenated {
                let stem = alnum_upper(x.split(['-', '.']).next().unwrap_or(""));
                tokens.push(n.clone());
                let stem_alpha = stem.bytes().any(|b| b.is_ascii_alphabetic());
                let stem_digit = stem.bytes().any(|b| b.is_ascii_digit());
                if stem != n && stem.len() >= 3 && stem_alpha && (stem_digit || paren) {
                    tokens.push(stem);
                }
            } else if has_alpha && n.len() >= 4 && !STOP_WORDS.contains(&n.as_str()) {
                families.push(n);
            }
        }
    }
}

/// Longest device model string looked up by substring (longer ones are cut).
const MAX_MODEL_LEN: usize = 64;

impl AdvisoryIndex {
    /// Compiles advisories for matching.
    pub fn new(advisories: &[Advisory], aliases: Aliases) -> AdvisoryIndex {
        let mut ix = AdvisoryIndex {
            aliases,
            advisories: Vec::new(),
            entries: Vec::new(),
            vendors: HashMap::new(),
            by_token: HashMap::new(),
            by_prefix: HashMap::new(),
            by_family: HashMap::new(),
            groups: Vec::new(),
        };
        for a in advisories {
            let adv = ix.advisories.len() as u32;
            let fixed = a
                .products
                .iter()
                .find(|p| p.status == Status::Fixed && !p.version_text.is_empty())
                .map(|p| p.version_text.clone());
            ix.advisories.push(AdvisoryMeta { id: a.id.clone(), title: a.title.clone(), fixed });
            let mut group_of: BTreeMap<String, u32> = BTreeMap::new();
            for p in &a.products {
                let mut tokens = Vec::new();
                let mut families = Vec::new();
                product_tokens(&p.name, &mut tokens, &mut families);
                for m in &p.model_numbers {
                    product_tokens(m, &mut tokens, &mut families);
                }
                for f in &p.families {
                    product_tokens(f, &mut Vec::new(), &mut families);
                }
                tokens.sort();
                tokens.dedup();
                families.sort();
                families.dedup();
                let gkey = alnum_upper(&p.name);
                let group = *group_of.entry(gkey).or_insert_with(|| {
                    ix.groups.push(Vec::new());
                    (ix.groups.len() - 1) as u32
                });
                let e = ix.entries.len() as u32;
                ix.groups[group as usize].push(e);
                let mut vids = BTreeSet::new();
                for v in &p.vendors {
                    let c = ix.aliases.canonical(v);
                    if c.is_empty() {
                        continue;
                    }
                    let n = ix.vendors.len() as u32;
                    vids.insert(*ix.vendors.entry(c).or_insert(n));
                }
                for &vid in &vids {
                    for t in &tokens {
                        ix.by_token.entry(vid).or_default().entry(t.clone()).or_default().push(e);
                        // Tokens are upper-case ASCII alphanumerics: byte slicing is safe.
                        for k in 4..=t.len() {
                            ix.by_prefix
                                .entry(vid)
                                .or_default()
                                .entry(t[..k].to_string())
                                .or_default()
                                .push(e);
                        }
                    }
                    for f in &families {
                        ix.by_family.entry((vid, f.clone())).or_default().push(e);
                    }
                }
                let vids = vids.into_iter().collect();
                ix.entries.push(Entry { adv, product: p.clone(), tokens, families, group, vids });
            }
        }
        for v in ix
            .by_token
            .values_mut()
            .chain(ix.by_prefix.values_mut())
            .flat_map(|m| m.values_mut())
            .chain(ix.by_family.values_mut())
        {
            v.dedup();
        }
        ix
    }

    /// Number of advisories and product entries.
    pub fn size(&self) -> (usize, usize) {
        (self.advisories.len(), self.entries.len())
    }

    /// The advisories that apply to an asset identity, one per advisory (the best entry),
    /// affected first, then by confidence and CVSS.
    pub fn match_identity(&self, id: &Identity) -> Vec<VulnMatch> {
        self.match_device(&DeviceIdentity::from_identity(id))
    }

    /// As [`match_identity`](Self::match_identity), from the extracted values.
    pub fn match_device(&self, d: &DeviceIdentity) -> Vec<VulnMatch> {
        self.match_with(d, true)
    }

    /// The same result without the token index: every entry of the device's vendors is
    /// tried (the reference for tests and the benchmark).
    pub fn match_device_scan(&self, d: &DeviceIdentity) -> Vec<VulnMatch> {
        self.match_with(d, false)
    }

    fn match_with(&self, d: &DeviceIdentity, indexed: bool) -> Vec<VulnMatch> {
        let mut vids: Vec<u32> = Vec::new();
        let bacnet_name = d.bacnet_vendor_id.and_then(|i| self.aliases.bacnet_vendor(i));
        for v in d.vendors.iter().map(String::as_str).chain(bacnet_name) {
            if let Some(&id) = self.vendors.get(&self.aliases.canonical(v)) {
                if !vids.contains(&id) {
                    vids.push(id);
                }
            }
        }
        if vids.is_empty() {
            return Vec::new();
        }
        let models: Vec<String> = d
            .models
            .iter()
            .map(|m| {
                let mut m = alnum_upper(m);
                m.truncate(MAX_MODEL_LEN);
                m
            })
            .filter(|m| m.len() >= 3)
            .collect();
        let mut fams: Vec<String> = Vec::new();
        for m in &d.models {
            for w in m.split(|c: char| !c.is_ascii_alphanumeric()) {
                if w.len() >= 4 {
                    fams.push(w.to_ascii_uppercase());
                }
            }
        }
        for (prefix, fam) in &self.aliases.families {
            if models.iter().any(|m| m.starts_with(prefix.as_str())) {
                fams.push(fam.clone());
            }
        }
        let mut cands: Vec<u32> = Vec::new();
        if !indexed {
            cands.extend(
                (0..self.entries.len() as u32)
                    .filter(|&i| self.entries[i as usize].vids.iter().any(|v| vids.contains(v))),
            );
        }
        for &vid in vids.iter().filter(|_| indexed) {
            for m in &models {
                if let Some(tok) = self.by_token.get(&vid) {
                    for i in 0..m.len() {
                        for j in i + 3..=m.len() {
                            if let Some(es) = tok.get(&m[i..j]) {
                                cands.extend(es);
                            }
                        }
                    }
                }
                if let Some(es) = self.by_prefix.get(&vid).and_then(|p| p.get(m)).filter(|_| m.len() >= 4) {
                    cands.extend(es);
                }
            }
            for f in &fams {
                if let Some(es) = self.by_family.get(&(vid, f.clone())) {
                    cands.extend(es);
                }
            }
        }
        cands.sort_unstable();
        cands.dedup();
        if cands.is_empty() {
            return Vec::new();
        }
        let version_text = d.versions.first();
        let version = d.versions.iter().find_map(|v| Version::parse(v));
        type Best<'a> =
            (u32, (Status, std::cmp::Reverse<Confidence>), f32, Confidence, Comparison, Option<&'a String>);
        let mut best: BTreeMap<u32, Best<'_>> = BTreeMap::new();
        for &ei in &cands {
            let e = &self.entries[ei as usize];
            let model_hit = e.tokens.iter().find(|t| {
                models.iter().any(|m| m.contains(t.as_str()) || (m.len() >= 4 && t.starts_with(m.as_str())))
            });
            let family_hit = e.families.iter().find(|f| fams.contains(f));
            if model_hit.is_none() && family_hit.is_none() {
                continue;
            }
            let cmp = match (&version, version_text) {
                (None, Some(_)) if !matches!(e.product.spec, VersionSpec::All) => Comparison::NotComparable,
                _ => self.compare(e, version.as_ref()),
            };
            if cmp == Comparison::OutOfRange {
                continue;
            }
            let confidence = match (model_hit.is_some(), cmp) {
                (true, Comparison::InRange) => Confidence::High,
                (true, _) => Confidence::Medium,
                (false, _) => Confidence::Low,
            };
            // A fixed or not-affected entry says something only when the version matched it.
            if e.product.status != Status::KnownAffected && cmp != Comparison::InRange {
                continue;
            }
            // Described only once chosen: the best entry per advisory.
            let rank = (e.product.status, std::cmp::Reverse(confidence));
            let better = match best.get(&e.adv) {
                None => true,
                Some(&(_, brank, bcvss, ..)) => {
                    rank < brank || (rank == brank && e.product.cvss.unwrap_or(0.0) > bcvss)
                }
            };
            if better {
                let hit = model_hit.or(family_hit);
                best.insert(e.adv, (ei, rank, e.product.cvss.unwrap_or(0.0), confidence, cmp, hit));
            }
        }
        let mut out: Vec<VulnMatch> = best
            .into_values()
            .map(|(ei, _, _, confidence, cmp, hit)| {
                self.describe(&self.entries[ei as usize], confidence, cmp, hit, version_text)
            })
            .collect();
        out.sort_by(|a, b| {
            (a.status, std::cmp::Reverse(a.confidence))
                .cmp(&(b.status, std::cmp::Reverse(b.confidence)))
                .then(b.cvss.unwrap_or(0.0).total_cmp(&a.cvss.unwrap_or(0.0)))
                .then(a.advisory.cmp(&b.advisory))
        });
        out
    }

    /// Compares with the entry, choosing the release train among the entries of the same
    /// product in the same advisory (`< V6.00.204`, `< V5.10.069`, ...).
    fn compare(&self, e: &Entry, v: Option<&Version>) -> Comparison {
        let VersionSpec::Bounds(own) = &e.product.spec else {
            return e.product.spec.compare(v);
        };
        let Some(v) = v else { return Comparison::Unknown };
        let siblings: Vec<&version::Constraint> = self.groups[e.group as usize]
            .iter()
            .map(|&i| &self.entries[i as usize])
            .filter(|s| s.product.status == e.product.status)
            .flat_map(|s| match &s.product.spec {
                VersionSpec::Bounds(b) => b.iter().collect(),
                _ => Vec::new(),
            })
            .collect();
        let chosen = select_train(siblings.into_iter(), v);
        if own.iter().any(|c| chosen.contains(&c) && c.holds(v)) {
            Comparison::InRange
        } else {
            Comparison::OutOfRange
        }
    }

    fn describe(
        &self,
        e: &Entry,
        confidence: Confidence,
        cmp: Comparison,
        hit: Option<&String>,
        version: Option<&String>,
    ) -> VulnMatch {
        let a = &self.advisories[e.adv as usize];
        let p = &e.product;
        // The fixed version: a `fixed` entry of the same product in the advisory.
        let fixed_version = self.groups[e.group as usize]
            .iter()
            .map(|&i| &self.entries[i as usize])
            .find(|x| x.product.status == Status::Fixed && !x.product.version_text.is_empty())
            .map(|x| x.product.version_text.clone())
            .or_else(|| a.fixed.clone());
        let what = match &p.spec {
            _ if p.version_text.is_empty() => "all versions".to_string(),
            VersionSpec::Unparsed(t) => format!("unreadable version text {t:?}"),
            _ => p.version_text.clone(),
        };
        let reason = match (confidence, cmp) {
            (Confidence::High, _) => format!(
                "model {} and version {} in {}",
                hit.map_or("?", String::as_str),
                version.map_or("(any)", String::as_str),
                what
            ),
            (Confidence::Medium, Comparison::Unknown) => {
                format!("model {} matches; the device reported no version", hit.map_or("?", String::as_str))
            }
            (Confidence::Medium, _) => format!(
                "model {} matches; version {} cannot be compared with {}",
                hit.map_or("?", String::as_str),
                version.map_or("(none)", String::as_str),
                what
            ),
            (Confidence::Low, _) => format!(
                "vendor and product family {} only; version {} vs {}",
                hit.map_or("?", String::as_str),
                version.map_or("(none)", String::as_str),
                what
            ),
        };
        VulnMatch {
            advisory: a.id.clone(),
            title: a.title.clone(),
            product: p.name.clone(),
            product_id: p.product_id.clone(),
            affected_versions: what,
            status: p.status,
            confidence,
            version_check: cmp,
            cves: p.cves.iter().cloned().collect(),
            cvss: p.cvss,
            fixed_version,
            remediation: p.remediation.clone(),
            reason,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn slash_lists_expand_to_models() {
        assert_eq!(expand_slash("PXC12/22/36-E.D"), ["PXC12-E.D", "PXC22-E.D", "PXC36-E.D"]);
        assert_eq!(expand_slash("R04/08/120ENCPU"), ["R04ENCPU", "R08ENCPU", "R120ENCPU"]);
        assert_eq!(expand_slash("BACnet/IP"), ["BACnet", "IP"]);
        let (mut t, mut f) = (Vec::new(), Vec::new());
        product_tokens("enteliBUS Manager Touch (eBMGR-TCH) firmware", &mut t, &mut f);
        assert_eq!(t, ["EBMGRTCH", "EBMGR"]);
        assert_eq!(f, ["ENTELIBUS"]);
    }
}
