//! Firmware and software versions as devices and advisories write them, and the affected
//! ranges of advisories.
//!
//! A version is read leniently: a leading word without digits (`V`, `SV`, `R`, `Rev`,
//! `Web firmware v`) is dropped, then every run of digits is a component, in order. Between
//! them `.`, `-`, `_`, spaces, parentheses and the words `R`, `build`, `b`, `rev`, `patch`,
//! `sp` are separators, so `3.40 R5 build 571848` is 3.40.5.571848 and the WAGO form
//! `01.07.13(10)` is 1.7.13.10. Any other letters make the string unreadable (`1.2beta`,
//! `S7-1211`): the comparator then says it cannot compare rather than guess.
//!
//! Components compare as numbers, left to right; a missing component counts as 0
//! (`8.0` = `8.0.0.0`).
//!
//! Ranges: operator strings (`< 8.3`, `<=2.1.3.0`, `All versions < V6.00.204`, trailing
//! spaces), `*` and `all versions`, `vers:` URIs (`vers:all/*`, `vers:generic/>=1.0|<2.0`,
//! any scheme read with this comparator), and single versions. A single version names a
//! release line: `8.0` contains `8.0.3` (the advisories list `6.1`, `7.0`, `8.0`, `8.5` for
//! products whose patch levels they do not list). A parenthesised second axis such as
//! `< 2.15 (Firmware versions prior to 8.26.4)` gives a second bound the matcher chooses by
//! release train (see [`select_train`]).

use std::cmp::Ordering;
use std::fmt;

/// Components a version keeps at most (more are ignored).
pub const MAX_COMPONENTS: usize = 8;

/// A readable version: numeric components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub parts: Vec<u64>,
}

const SEPARATOR_WORDS: &[&str] = &["r", "build", "b", "rev", "patch", "sp", "hf"];
const VERSION_PREFIXES: &[&str] = &["v", "sv", "r", "rev", "ver", "version", "fw", "firmware"];

impl Version {
    /// Reads a version; None when it has no digits or letters other than a prefix word and
    /// the separator words.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().to_ascii_lowercase();
        let first_digit = s.find(|c: char| c.is_ascii_digit())?;
        let prefix = &s[..first_digit];
        if !prefix.chars().all(|c| c.is_ascii_alphabetic() || c == ' ' || c == '-' || c == '_') {
            return None;
        }
        // A word glued to the digits must be a version prefix (`V2.80`, `SV3.10`, `R7.14.2`):
        // `M221` or `S7-1211` are model names, not versions.
        let glued = prefix.rsplit([' ', '-', '_']).next().unwrap_or("");
        if !glued.is_empty() && !VERSION_PREFIXES.contains(&glued) {
            return None;
        }
        let mut parts = Vec::new();
        let mut chars = s[first_digit..].chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() {
                let mut n: u64 = 0;
                while let Some(&d) = chars.peek() {
                    let Some(v) = d.to_digit(10) else { break };
                    n = n.checked_mul(10)?.checked_add(u64::from(v))?;
                    chars.next();
                }
                if parts.len() < MAX_COMPONENTS {
                    parts.push(n);
                }
            } else if c.is_ascii_alphabetic() {
                let mut w = String::new();
                while let Some(&d) = chars.peek() {
                    if !d.is_ascii_alphabetic() {
                        break;
                    }
                    w.push(d);
                    chars.next();
                }
                if !SEPARATOR_WORDS.contains(&w.as_str()) {
                    return None;
                }
            } else if matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                chars.next();
            } else {
                return None;
            }
        }
        (!parts.is_empty()).then_some(Version { parts })
    }

    fn part(&self, i: usize) -> u64 {
        self.parts.get(i).copied().unwrap_or(0)
    }

    /// Whether `self` lies on the release line `line` (its components start with `line`'s).
    pub fn on_line(&self, line: &Version) -> bool {
        line.parts.iter().enumerate().all(|(i, p)| self.part(i) == *p)
    }

    /// Leading components `self` and `other` share (a measure of the release train).
    pub fn common_prefix(&self, other: &Version) -> usize {
        self.parts.iter().zip(&other.parts).take_while(|(a, b)| a == b).count()
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        (0..n).map(|i| self.part(i).cmp(&other.part(i))).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.parts.iter().map(u64::to_string).collect();
        f.write_str(&s.join("."))
    }
}

/// A comparison operator of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Lt => o.is_lt(),
            Op::Le => o.is_le(),
            Op::Gt => o.is_gt(),
            Op::Ge => o.is_ge(),
            Op::Eq => o.is_eq(),
            Op::Ne => o.is_ne(),
        }
    }

    fn split(s: &str) -> Option<(Op, &str)> {
        for (p, op) in
            [("<=", Op::Le), (">=", Op::Ge), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt), ("=", Op::Eq)]
        {
            if let Some(rest) = s.strip_prefix(p) {
                return Some((op, rest));
            }
        }
        None
    }
}

/// One constraint: an operator and a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
}

impl Constraint {
    pub fn holds(&self, v: &Version) -> bool {
        self.op.holds(v.cmp(&self.version))
    }
}

/// The versions a product entry of an advisory covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionSpec {
    /// Every version (`*`, `all versions`, `vers:all/*`, or no version at all).
    All,
    /// A single version, read as a release line.
    Line(Version),
    /// Alternative bounds (one per axis or train); usually one.
    Bounds(Vec<Constraint>),
    /// A `vers:` constraint list (OR of intervals, per the vers specification).
    Vers(Vec<Constraint>),
    /// Text the comparator cannot read (kept for the report).
    Unparsed(String),
}

/// What comparing a version with a spec gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    InRange,
    OutOfRange,
    /// The device reported no version.
    Unknown,
    /// One side could not be read.
    NotComparable,
}

impl VersionSpec {
    /// Reads a `product_version` (single version) value.
    pub fn from_version(s: &str) -> VersionSpec {
        let t = s.trim();
        if t == "*" || t.eq_ignore_ascii_case("all versions") || t.eq_ignore_ascii_case("all") {
            return VersionSpec::All;
        }
        if t.starts_with("vers:") || Op::split(t).is_some() {
            return VersionSpec::from_range(t);
        }
        match Version::parse(t) {
            Some(v) => VersionSpec::Line(v),
            None => VersionSpec::Unparsed(t.to_string()),
        }
    }

    /// Reads a `product_version_range` value.
    pub fn from_range(s: &str) -> VersionSpec {
        let t = s.trim();
        if let Some(v) = t.strip_prefix("vers:") {
            return parse_vers(v).unwrap_or_else(|| VersionSpec::Unparsed(t.to_string()));
        }
        let lower = t.to_ascii_lowercase();
        let mut rest = lower.as_str();
        for p in ["all versions", "versions", "version"] {
            if let Some(r) = rest.strip_prefix(p) {
                rest = r.trim_start();
                break;
            }
        }
        if rest.is_empty() || rest == "*" {
            return VersionSpec::All;
        }
        let Some((op, v)) = Op::split(rest) else {
            return match Version::parse(rest) {
                Some(v) => VersionSpec::Line(v),
                None => VersionSpec::Unparsed(t.to_string()),
            };
        };
        // A parenthesised remark with words is a second axis ("prior to 8.26.4"), not part
        // of the version; a parenthesised number is a build number (WAGO "01.07.13(10)").
        let (main, remark) = match v.find('(') {
            Some(i) if v[i..].chars().any(|c| c.is_ascii_alphabetic()) => (&v[..i], Some(&v[i..])),
            _ => (v, None),
        };
        let Some(version) = Version::parse(main) else {
            return VersionSpec::Unparsed(t.to_string());
        };
        let mut bounds = vec![Constraint { op, version }];
        if let Some(r) = remark {
            for (kw, op) in [("prior to", Op::Lt), ("before", Op::Lt), ("up to", Op::Le)] {
                if let Some(i) = r.find(kw) {
                    let tail = r[i + kw.len()..].trim_start();
                    let end =
                        tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.')).unwrap_or(tail.len());
                    if let Some(v2) = Version::parse(&tail[..end]) {
                        bounds.push(Constraint { op, version: v2 });
                    }
                    break;
                }
            }
        }
        VersionSpec::Bounds(bounds)
    }

    /// Compares a version with this spec (`train` picks among alternative bounds, see
    /// [`select_train`]).
    pub fn compare(&self, v: Option<&Version>) -> Comparison {
        match self {
            VersionSpec::All => Comparison::InRange,
            VersionSpec::Unparsed(_) => Comparison::NotComparable,
            _ => {
                let Some(v) = v else { return Comparison::Unknown };
                let inside = match self {
                    VersionSpec::Line(l) => v.on_line(l),
                    VersionSpec::Bounds(b) => select_train(b.iter(), v).iter().any(|c| c.holds(v)),
                    VersionSpec::Vers(cs) => vers_contains(cs, v),
                    VersionSpec::All | VersionSpec::Unparsed(_) => true,
                };
                if inside {
                    Comparison::InRange
                } else {
                    Comparison::OutOfRange
                }
            }
        }
    }

    /// The upper bounds of this spec (for choosing a release train among sibling entries).
    pub fn upper_bounds(&self) -> Vec<&Constraint> {
        match self {
            VersionSpec::Bounds(b) => b.iter().filter(|c| matches!(c.op, Op::Lt | Op::Le)).collect(),
            _ => Vec::new(),
        }
    }
}

/// Among alternative upper bounds (release trains such as `< V6.00.204`, `< V5.10.069`,
/// `< V5.00.171`), those sharing the most leading components with `v` (at least one); all of
/// them when none shares any. V5.10.070 is then judged against `< V5.10.069` only (fixed),
/// where the union would call it affected. Bounds that are not upper bounds always stay.
pub fn select_train<'a>(bounds: impl Iterator<Item = &'a Constraint>, v: &Version) -> Vec<&'a Constraint> {
    let all: Vec<&Constraint> = bounds.collect();
    let uppers: Vec<&&Constraint> = all.iter().filter(|c| matches!(c.op, Op::Lt | Op::Le)).collect();
    if uppers.len() < 2 {
        return all;
    }
    let best = uppers.iter().map(|c| c.version.common_prefix(v)).max().unwrap_or(0);
    if best == 0 {
        return all;
    }
    all.into_iter()
        .filter(|c| !matches!(c.op, Op::Lt | Op::Le) || c.version.common_prefix(v) == best)
        .collect()
}

/// `vers:<scheme>/<constraints>` after the `vers:` prefix. The scheme is not used: every
/// scheme is compared with the comparator above.
fn parse_vers(s: &str) -> Option<VersionSpec> {
    let (_scheme, cs) = s.split_once('/')?;
    let cs = cs.trim();
    if cs == "*" {
        return Some(VersionSpec::All);
    }
    let mut out = Vec::new();
    for c in cs.split('|') {
        let c = c.trim();
        let (op, v) = Op::split(c).unwrap_or((Op::Eq, c));
        out.push(Constraint { op, version: Version::parse(v)? });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    Some(VersionSpec::Vers(out))
}

/// Whether `v` is inside a sorted vers constraint list: `=` versions, minus `!=` versions,
/// plus the intervals the `>`/`>=` … `<`/`<=` pairs span (an upper bound without a lower one
/// opens at the bottom, a lower bound without an upper one runs to the top).
fn vers_contains(cs: &[Constraint], v: &Version) -> bool {
    if cs.iter().any(|c| c.op == Op::Ne && c.version == *v) {
        return false;
    }
    if cs.iter().any(|c| c.op == Op::Eq && c.version == *v) {
        return true;
    }
    let ranges: Vec<&Constraint> = cs.iter().filter(|c| !matches!(c.op, Op::Eq | Op::Ne)).collect();
    let is_upper = |c: &Constraint| matches!(c.op, Op::Lt | Op::Le);
    for (i, c) in ranges.iter().enumerate() {
        if is_upper(c) {
            if (i == 0 || is_upper(ranges[i - 1])) && c.holds(v) {
                return true;
            }
        } else {
            let upper = ranges.get(i + 1).filter(|n| is_upper(n));
            if c.holds(v) && upper.is_none_or(|u| u.holds(v)) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} unreadable"))
    }

    #[test]
    fn versions_are_read_leniently() {
        for (text, parts) in [
            ("V2.80", vec![2, 80]),
            ("SV3.10", vec![3, 10]),
            ("2024.11.0", vec![2024, 11, 0]),
            ("R7.14.2", vec![7, 14, 2]),
            ("v3.20", vec![3, 20]),
            ("V6.00.204", vec![6, 0, 204]),
            ("3.40 R5 build 571848", vec![3, 40, 5, 571848]),
            ("01.07.13(10)", vec![1, 7, 13, 10]),
            ("Web firmware v01.12.10", vec![1, 12, 10]),
            ("1.060 ", vec![1, 60]),
            ("65", vec![65]),
        ] {
            assert_eq!(v(text).parts, parts, "{text}");
        }
        for bad in ["", "S7-1211", "PM554-TP-ETH", "1.2beta", "n/a", "M221", "1.0+git"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn versions_compare_numerically_with_missing_parts_as_zero() {
        assert!(v("V2.80") > v("V2.9"));
        assert!(v("SV3.10") > v("3.9.99"));
        assert!(v("2024.11.0") > v("2024.2.15"));
        assert!(v("R7.14.2") < v("R7.14.10"));
        assert_eq!(v("8.0").cmp(&v("8.0.0.0")), Ordering::Equal);
        assert!(v("3.40 R5 build 571848") > v("3.40 R5 build 571847"));
        assert!(v("01.07.13(10)") > v("01.07.13(9)"));
        assert!(v("8.0.3").on_line(&v("8.0")));
        assert!(!v("8.1").on_line(&v("8.0")));
    }

    #[test]
    fn operator_ranges() {
        let cases = [
            ("< 8.3", "8.2.9", true),
            ("< 8.3", "8.3", false),
            ("<= 8.0", "8.0.0.0", true),
            ("<= 8.0", "8.0.1", false),
            ("<=2.1.3.0", "2.1.3.0", true),
            ("<= 65 ", "65", true),
            ("<= 65 ", "66", false),
            ("All versions < V6.00.204", "V6.00.203", true),
            ("<= 3.40 R5 build 571848", "3.40 R5 build 571848", true),
            ("<= 3.40 R5 build 571848", "3.40 R6 build 100", false),
            ("<= 01.07.13(10)", "01.07.13(10)", true),
            ("<= 01.07.13(10)", "01.07.14(1)", false),
            (">= 1.0", "0.9", false),
        ];
        for (range, ver, inside) in cases {
            let got = VersionSpec::from_range(range).compare(Some(&v(ver)));
            let want = if inside { Comparison::InRange } else { Comparison::OutOfRange };
            assert_eq!(got, want, "{ver} in {range:?}");
        }
    }

    #[test]
    fn second_axis_in_a_remark_is_a_second_bound() {
        let s = VersionSpec::from_range("< 2.15 (Firmware versions prior to 8.26.4)");
        let VersionSpec::Bounds(b) = &s else { panic!("{s:?}") };
        assert_eq!(b.len(), 2);
        assert_eq!(s.compare(Some(&v("2.14"))), Comparison::InRange);
        assert_eq!(s.compare(Some(&v("8.26.3"))), Comparison::InRange);
        assert_eq!(s.compare(Some(&v("8.26.4"))), Comparison::OutOfRange);
        assert_eq!(s.compare(Some(&v("2.15"))), Comparison::OutOfRange);
    }

    #[test]
    fn release_trains_pick_the_closest_bound() {
        let b: Vec<Constraint> = ["V6.00.204", "V5.10.069", "V5.00.171", "V4.10.111"]
            .iter()
            .map(|s| Constraint { op: Op::Lt, version: v(s) })
            .collect();
        let inside = |ver: &str| select_train(b.iter(), &v(ver)).iter().any(|c| c.holds(&v(ver)));
        assert!(!inside("V5.10.070"), "fixed on its train");
        assert!(inside("V5.10.068"));
        assert!(inside("V5.00.150"));
        assert!(!inside("V4.10.111"));
        assert!(inside("V6.00.100"));
        assert!(!inside("V6.10.0"));
        // No train shares a component: the union (conservative).
        assert!(inside("V3.0"));
    }

    #[test]
    fn vers_uris() {
        let all = VersionSpec::from_range("vers:all/*");
        assert_eq!(all, VersionSpec::All);
        assert_eq!(all.compare(None), Comparison::InRange);
        let s = VersionSpec::from_range("vers:generic/>=1.0|<2.0|>=3.0|<3.5|!=3.2|=5.1");
        let case = |ver: &str| s.compare(Some(&v(ver)));
        assert_eq!(case("0.9"), Comparison::OutOfRange);
        assert_eq!(case("1.0"), Comparison::InRange);
        assert_eq!(case("1.9.9"), Comparison::InRange);
        assert_eq!(case("2.0"), Comparison::OutOfRange);
        assert_eq!(case("3.1"), Comparison::InRange);
        assert_eq!(case("3.2"), Comparison::OutOfRange);
        assert_eq!(case("4.0"), Comparison::OutOfRange);
        assert_eq!(case("5.1"), Comparison::InRange);
        let open = VersionSpec::from_range("vers:intdot/<=16");
        assert_eq!(open.compare(Some(&v("16"))), Comparison::InRange);
        assert_eq!(open.compare(Some(&v("17"))), Comparison::OutOfRange);
        let top = VersionSpec::from_range("vers:semver/>2.2.0");
        assert_eq!(top.compare(Some(&v("9.0"))), Comparison::InRange);
        assert!(matches!(VersionSpec::from_range("vers:generic/<=x.y"), VersionSpec::Unparsed(_)));
        assert!(matches!(VersionSpec::from_range("vers:"), VersionSpec::Unparsed(_)));
    }

    #[test]
    fn single_versions_and_what_cannot_be_compared() {
        assert_eq!(VersionSpec::from_version("*"), VersionSpec::All);
        let line = VersionSpec::from_version("8.0");
        assert_eq!(line.compare(Some(&v("8.0.3"))), Comparison::InRange);
        assert_eq!(line.compare(Some(&v("8.5"))), Comparison::OutOfRange);
        assert_eq!(line.compare(None), Comparison::Unknown);
        let junk = VersionSpec::from_version("S7-1211");
        assert_eq!(junk, VersionSpec::Unparsed("S7-1211".into()));
        assert_eq!(junk.compare(Some(&v("4.2"))), Comparison::NotComparable);
        assert_eq!(
            VersionSpec::from_version("Web firmware v01.12.10").compare(Some(&v("1.12.10"))),
            Comparison::InRange
        );
    }
}
