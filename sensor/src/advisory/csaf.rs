//! The parts of a CSAF 2.0 document the matcher needs, read with serde, and their
//! compilation into flat product entries.
//!
//! Read: `document` (csaf_version, title, publisher, tracking id/version/dates),
//! `product_tree` (branches of any depth and category, `product_identification_helper`
//! model numbers, SKUs and CPEs, `full_product_names`, `relationships`, `product_groups`),
//! `vulnerabilities` (cve, product_status, scores with CVSS v3/v2 base scores, remediations).
//! Everything else is ignored. A field of the wrong type is an error naming its JSON path.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::version::VersionSpec;

/// Why a document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CsafError {
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
}

fn invalid(path: &str, msg: impl Into<String>) -> CsafError {
    CsafError::Invalid { path: path.to_string(), msg: msg.into() }
}

#[derive(Debug, Deserialize)]
struct Doc {
    document: Document,
    #[serde(default)]
    product_tree: Option<ProductTree>,
    #[serde(default)]
    vulnerabilities: Vec<Vuln>,
}

#[derive(Debug, Deserialize)]
struct Document {
    csaf_version: String,
    #[serde(default)]
    category: String,
    title: String,
    #[serde(default)]
    publisher: Option<Publisher>,
    tracking: Tracking,
}

#[derive(Debug, Deserialize)]
struct Publisher {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
}

#[derive(Debug, Deserialize)]
struct Tracking {
    id: String,
    version: String,
    current_release_date: String,
    #[serde(default)]
    initial_release_date: String,
}

#[derive(Debug, Default, Deserialize)]
struct ProductTree {
    #[serde(default)]
    branches: Vec<Branch>,
    #[serde(default)]
    full_product_names: Vec<FullProductName>,
    #[serde(default)]
    relationships: Vec<Relationship>,
    #[serde(default)]
    product_groups: Vec<ProductGroup>,
}

#[derive(Debug, Deserialize)]
struct Branch {
    category: String,
    name: String,
    #[serde(default)]
    product: Option<FullProductName>,
    #[serde(default)]
    branches: Vec<Branch>,
}

#[derive(Debug, Deserialize)]
struct FullProductName {
    name: String,
    product_id: String,
    #[serde(default)]
    product_identification_helper: Option<Helper>,
}

#[derive(Debug, Default, Deserialize)]
struct Helper {
    #[serde(default)]
    cpe: Option<String>,
    #[serde(default)]
    model_numbers: Vec<String>,
    #[serde(default)]
    skus: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Relationship {
    category: String,
    product_reference: String,
    relates_to_product_reference: String,
    full_product_name: FullProductName,
}

#[derive(Debug, Deserialize)]
struct ProductGroup {
    group_id: String,
    product_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Vuln {
    #[serde(default)]
    cve: Option<String>,
    #[serde(default)]
    product_status: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    scores: Vec<Score>,
    #[serde(default)]
    remediations: Vec<Remediation>,
}

#[derive(Debug, Deserialize)]
struct Score {
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    cvss_v3: Option<Cvss>,
    #[serde(default)]
    cvss_v2: Option<Cvss>,
}

#[derive(Debug, Deserialize)]
struct Cvss {
    #[serde(rename = "baseScore")]
    base_score: f32,
}

#[derive(Debug, Deserialize)]
struct Remediation {
    category: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    product_ids: Vec<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

/// A product's status in an advisory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    KnownAffected,
    Fixed,
    KnownNotAffected,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::KnownAffected => "known_affected",
            Status::Fixed => "fixed",
            Status::KnownNotAffected => "known_not_affected",
        }
    }
}

/// One product of an advisory, flattened: who makes it, what it is called, the versions.
#[derive(Clone, Debug)]
pub struct ProductEntry {
    pub product_id: String,
    /// Vendor strings from the vendor branch (a branch naming several vendors gives several).
    pub vendors: Vec<String>,
    /// The `product_name` (or last non-version) branch name, else the full product name.
    pub name: String,
    /// Names of `product_family` branches above it.
    pub families: Vec<String>,
    /// Model numbers, SKUs and CPE product parts.
    pub model_numbers: Vec<String>,
    /// Version text as written (`< V6.00.204`), empty when the entry has no version.
    pub version_text: String,
    pub spec: VersionSpec,
    pub status: Status,
    pub cves: BTreeSet<String>,
    pub cvss: Option<f32>,
    pub remediation: Option<String>,
}

/// A compiled advisory.
#[derive(Clone, Debug)]
pub struct Advisory {
    /// `document.tracking.id` as written (`ICSA-18-004-02A`).
    pub id: String,
    /// The id without the revision letter (`ICSA-18-004-02`): revisions replace each other.
    pub base_id: String,
    pub version: String,
    pub current_release_date: String,
    pub initial_release_date: String,
    pub title: String,
    pub publisher: String,
    pub products: Vec<ProductEntry>,
}

/// Reads and compiles a CSAF 2.0 document.
pub fn parse(bytes: &[u8]) -> Result<Advisory, CsafError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let doc: Doc = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        invalid(if path == "." { "$" } else { &path }, e.inner().to_string())
    })?;
    if doc.document.csaf_version != "2.0" {
        return Err(invalid(
            "document.csaf_version",
            format!("unsupported CSAF version {:?} (2.0 is read)", doc.document.csaf_version),
        ));
    }
    let id = doc.document.tracking.id.trim().to_string();
    if id.is_empty() {
        return Err(invalid("document.tracking.id", "empty"));
    }
    let tree = doc.product_tree.unwrap_or_default();
    let mut leaves: BTreeMap<String, Leaf> = BTreeMap::new();
    for (i, b) in tree.branches.iter().enumerate() {
        walk(b, &format!("product_tree.branches[{i}]"), &Ctx::default(), &mut leaves)?;
    }
    for p in &tree.full_product_names {
        leaves.entry(p.product_id.clone()).or_insert_with(|| Leaf::from_full(p));
    }
    // Relationships build products from a component and the product it is part of or
    // installed on (firmware `<2.2.0` installed on EWIO2-M).
    for (i, r) in tree.relationships.iter().enumerate() {
        let (Some(comp), Some(host)) =
            (leaves.get(&r.product_reference), leaves.get(&r.relates_to_product_reference))
        else {
            return Err(invalid(
                &format!("product_tree.relationships[{i}]"),
                format!(
                    "refers to {} or {}, which the product tree does not define",
                    r.product_reference, r.relates_to_product_reference
                ),
            ));
        };
        let (comp, host) = (comp.clone(), host.clone());
        // The version comes from whichever side carries one.
        let (ver, named) = if comp.version_text.is_empty() { (&host, &comp) } else { (&comp, &host) };
        let leaf = Leaf {
            vendors: if named.vendors.is_empty() { ver.vendors.clone() } else { named.vendors.clone() },
            name: named.name.clone(),
            families: named.families.clone(),
            model_numbers: named.model_numbers.iter().chain(&ver.model_numbers).cloned().collect(),
            version_text: ver.version_text.clone(),
            spec: ver.spec.clone(),
            relationship: Some(r.category.clone()),
        };
        leaves.insert(r.full_product_name.product_id.clone(), leaf);
    }
    let groups: BTreeMap<&str, &Vec<String>> =
        tree.product_groups.iter().map(|g| (g.group_id.as_str(), &g.product_ids)).collect();

    // Status, CVEs, scores and remediations per product id.
    #[derive(Default)]
    struct Acc {
        status: Option<Status>,
        cves: BTreeSet<String>,
        cvss: Option<f32>,
        remediation: Option<(u8, String)>,
    }
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for (vi, v) in doc.vulnerabilities.iter().enumerate() {
        for (key, ids) in &v.product_status {
            let status = match key.as_str() {
                "known_affected" | "first_affected" | "last_affected" => Status::KnownAffected,
                "fixed" | "first_fixed" => Status::Fixed,
                "known_not_affected" => Status::KnownNotAffected,
                _ => continue,
            };
            for pid in ids {
                if !leaves.contains_key(pid) {
                    return Err(invalid(
                        &format!("vulnerabilities[{vi}].product_status.{key}"),
                        format!("product {pid} is not in the product tree"),
                    ));
                }
                let a = acc.entry(pid.clone()).or_default();
                // Affected in any vulnerability wins over fixed in another.
                a.status = Some(a.status.map_or(status, |s| s.min(status)));
                if status == Status::KnownAffected {
                    a.cves.extend(v.cve.clone());
                }
            }
        }
        for s in &v.scores {
            let score = s.cvss_v3.as_ref().or(s.cvss_v2.as_ref()).map(|c| c.base_score);
            for pid in &s.products {
                if let (Some(a), Some(sc)) = (acc.get_mut(pid), score) {
                    a.cvss = Some(a.cvss.map_or(sc, |x| x.max(sc)));
                }
            }
        }
        for r in &v.remediations {
            let rank = match r.category.as_str() {
                "vendor_fix" => 0,
                "no_fix_planned" | "none_available" => 1,
                "mitigation" | "workaround" => 2,
                _ => 3,
            };
            let ids = r
                .product_ids
                .iter()
                .chain(r.group_ids.iter().filter_map(|g| groups.get(g.as_str())).flat_map(|ids| ids.iter()));
            for pid in ids {
                if let Some(a) = acc.get_mut(pid) {
                    if a.remediation.as_ref().is_none_or(|(r0, _)| rank < *r0) && !r.details.trim().is_empty()
                    {
                        a.remediation = Some((rank, short(&r.details, 400)));
                    }
                }
            }
        }
    }
    let products = acc
        .into_iter()
        .filter_map(|(pid, a)| {
            let leaf = leaves.get(&pid)?;
            Some(ProductEntry {
                product_id: pid,
                vendors: leaf.vendors.clone(),
                name: leaf.name.clone(),
                families: leaf.families.clone(),
                model_numbers: leaf.model_numbers.clone(),
                version_text: leaf.version_text.clone(),
                spec: leaf.spec.clone(),
                status: a.status?,
                cves: a.cves,
                cvss: a.cvss,
                remediation: a.remediation.map(|(_, s)| s),
            })
        })
        .collect();
    let publisher = doc.document.publisher.as_ref().map_or(String::new(), |p| {
        if p.category.is_empty() {
            p.name.clone()
        } else {
            format!("{} ({})", p.name, p.category)
        }
    });
    let _ = &doc.document.category;
    Ok(Advisory {
        base_id: base_id(&id),
        id,
        version: doc.document.tracking.version.trim().to_string(),
        current_release_date: doc.document.tracking.current_release_date.trim().to_string(),
        initial_release_date: doc.document.tracking.initial_release_date.trim().to_string(),
        title: doc.document.title.trim().to_string(),
        publisher,
        products,
    })
}

/// The advisory id without a revision letter: CISA marks updates of `ICSA-18-025-02` as
/// `ICSA-18-025-02A`, `-02B`.
pub fn base_id(id: &str) -> String {
    let up = id.trim().to_ascii_uppercase();
    let last = up.rsplit('-').next().unwrap_or("");
    let b = last.as_bytes();
    if (up.starts_with("ICSA-") || up.starts_with("ICSMA-"))
        && b.len() == 3
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2].is_ascii_alphabetic()
    {
        return up[..up.len() - 1].to_string();
    }
    up
}

fn short(s: &str, max: usize) -> String {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() <= max {
        t
    } else {
        let mut o: String = t.chars().take(max).collect();
        o.push('…');
        o
    }
}

#[derive(Clone, Debug, Default)]
struct Ctx {
    vendors: Vec<String>,
    name: Option<String>,
    families: Vec<String>,
}

#[derive(Clone, Debug)]
struct Leaf {
    vendors: Vec<String>,
    name: String,
    families: Vec<String>,
    model_numbers: Vec<String>,
    version_text: String,
    spec: VersionSpec,
    #[allow(dead_code)]
    relationship: Option<String>,
}

impl Leaf {
    fn from_full(p: &FullProductName) -> Leaf {
        Leaf {
            vendors: Vec::new(),
            name: p.name.trim().to_string(),
            families: Vec::new(),
            model_numbers: helper_models(p.product_identification_helper.as_ref()),
            version_text: String::new(),
            spec: VersionSpec::All,
            relationship: None,
        }
    }
}

fn helper_models(h: Option<&Helper>) -> Vec<String> {
    let Some(h) = h else { return Vec::new() };
    let mut v: Vec<String> = h
        .model_numbers
        .iter()
        .chain(&h.skus)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    // cpe:2.3:part:vendor:product:version:...
    if let Some(cpe) = &h.cpe {
        if let Some(p) = cpe.split(':').nth(4).filter(|p| !p.is_empty() && *p != "*" && *p != "-") {
            v.push(p.replace('_', " "));
        }
    }
    v
}

fn walk(b: &Branch, path: &str, cx: &Ctx, leaves: &mut BTreeMap<String, Leaf>) -> Result<(), CsafError> {
    let mut cx = cx.clone();
    let name = b.name.trim().to_string();
    let mut version: Option<(String, VersionSpec)> = None;
    match b.category.as_str() {
        "vendor" => cx.vendors = split_vendors(&name),
        "product_family" => cx.families.push(name.clone()),
        "product_name" => cx.name = Some(name.clone()),
        "product_version" => version = Some((name.clone(), VersionSpec::from_version(&name))),
        "product_version_range" => version = Some((name.clone(), VersionSpec::from_range(&name))),
        "architecture" | "host_name" | "language" | "legacy" | "patch_level" | "service_pack"
        | "specification" => {}
        other => {
            return Err(invalid(&format!("{path}.category"), format!("unknown branch category {other:?}")));
        }
    }
    if let Some(p) = &b.product {
        let (version_text, spec) = version.clone().unwrap_or((String::new(), VersionSpec::All));
        let mut model_numbers = helper_models(p.product_identification_helper.as_ref());
        // Model text put in the version slot (`S7-1211`, `M221`) names the model.
        if let VersionSpec::Unparsed(t) = &spec {
            model_numbers.push(t.clone());
        }
        let name = cx.name.clone().unwrap_or_else(|| match b.category.as_str() {
            "product_version" | "product_version_range" => {
                cx.families.last().cloned().unwrap_or_else(|| p.name.trim().to_string())
            }
            _ => name.clone(),
        });
        let mut vendors = cx.vendors.clone();
        // A branch naming several vendors: the product's full name may say which one.
        if vendors.len() > 1 {
            let full = p.name.to_ascii_lowercase();
            if let Some(v) = vendors.iter().find(|v| full.starts_with(&v.to_ascii_lowercase())) {
                vendors = vec![v.clone()];
            }
        }
        leaves.insert(
            p.product_id.clone(),
            Leaf {
                vendors,
                name,
                families: cx.families.clone(),
                model_numbers,
                version_text,
                spec,
                relationship: None,
            },
        );
    }
    for (i, c) in b.branches.iter().enumerate() {
        walk(c, &format!("{path}.branches[{i}]"), &cx, leaves)?;
    }
    Ok(())
}

/// `ABB, Phoenix Contact, Schneider Electric, Siemens, and WAGO` → five vendors;
/// `Schneider Electric Software, LLC` stays one (the corporate suffix is dropped later).
pub fn split_vendors(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(',') {
        for p in part.split(" and ") {
            let p = p.trim();
            let p = p.strip_prefix("and ").unwrap_or(p).trim();
            if !p.is_empty() && !super::aliases::normalize(p).is_empty() {
                out.push(p.to_string());
            }
        }
    }
    if out.is_empty() {
        out.push(s.trim().to_string());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn base_ids_drop_the_revision_letter() {
        assert_eq!(base_id("ICSA-18-004-02A"), "ICSA-18-004-02");
        assert_eq!(base_id("icsa-18-025-02b"), "ICSA-18-025-02");
        assert_eq!(base_id("ICSA-18-212-02"), "ICSA-18-212-02");
        assert_eq!(base_id("SSA-420375"), "SSA-420375");
    }

    #[test]
    fn vendor_branches_naming_several_vendors_are_split() {
        assert_eq!(
            split_vendors("ABB, Phoenix Contact, Schneider Electric, Siemens, and WAGO"),
            ["ABB", "Phoenix Contact", "Schneider Electric", "Siemens", "WAGO"]
        );
        assert_eq!(split_vendors("Schneider Electric Software, LLC"), ["Schneider Electric Software"]);
        assert_eq!(split_vendors("Johnson Controls Inc"), ["Johnson Controls Inc"]);
    }

    #[test]
    fn wrong_types_are_reported_with_their_json_path() {
        let doc = br#"{"document": {"csaf_version": "2.0", "title": "t",
            "tracking": {"id": "X-1", "version": "1", "current_release_date": "2024-01-01T00:00:00Z"}},
            "product_tree": {"branches": [{"category": "vendor", "name": "V",
                "branches": [{"category": "product_name", "name": 7}]}]}}"#;
        let e = parse(doc).unwrap_err().to_string();
        assert!(e.starts_with("product_tree.branches[0].branches[0].name: invalid type"), "{e}");
        let e = parse(
            br#"{"document": {"csaf_version": "1.2", "title": "t", "tracking": {"id": "X",
            "version": "1", "current_release_date": "x"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("document.csaf_version: unsupported"), "{e}");
        let e = parse(b"{\"document\": {}}").unwrap_err().to_string();
        assert!(e.starts_with("document: missing field"), "{e}");
    }
}
