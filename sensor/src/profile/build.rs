//! Validation: the file as written ([`super::file`]) becomes a [`Profile`], or the first problem
//! becomes a [`ProfileError`] that quotes the bad value and its line and column.

use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::error::{Item, ItemKind, Location, NameKinds, ProfileError, ProfileWarning, WindowShape};
use super::file::{self, Any, Int, Str};
use super::level::PurdueLevel;
use super::model::{
    default_max_assets, default_new_asset_grace_secs, Asset, DeclaredService, EquipmentClass, Settings, Zone,
    STANDARD_AREAS,
};
use super::net::{CidrProblem, IpNet};
use super::policy::{Action, ActionFamily, AuthorizeRule, Conduit, ConduitProtocol, Endpoint, Selector};
use super::window::{parse_timestamp, ChangeWindow, Schedule, TimeOfDay, TimestampProblem, Weekday};
use super::Profile;
use crate::app::Transport;

/// Longest new-asset grace: 30 days.
const MAX_GRACE_SECS: i64 = 30 * 86_400;
/// Largest inventory bound accepted.
const MAX_MAX_ASSETS: i64 = 10_000_000;

/// Source name and text, to turn spans into line:column.
struct Cx<'t> {
    source: Arc<str>,
    text: &'t str,
    warnings: Vec<ProfileWarning>,
}

impl Cx<'_> {
    fn at(&self, span: Range<usize>) -> Location {
        Location::at(&self.source, self.text, span.start)
    }
}

type R<T> = Result<T, ProfileError>;

/// Parses and validates a profile.
pub(super) fn build(text: &str, source: &str) -> R<Profile> {
    let source: Arc<str> = Arc::from(source);
    let raw: file::ProfileFile = toml::from_str(text).map_err(|e| toml_error(&source, text, &e))?;
    let mut cx = Cx { source: Arc::clone(&source), text, warnings: Vec::new() };
    let mut p = Profile::empty();
    p.source = source.to_string();
    p.name = raw.name.map(Spanned::into_inner);
    if let Some(s) = &raw.settings {
        p.settings = settings(&cx, s)?;
    }
    for v in &raw.hsms_ports {
        p.hsms_ports.push(port(&cx, &Item::Top, "hsms_ports", v)?);
    }
    p.hsms_ports.sort_unstable();
    p.hsms_ports.dedup();

    zones(&mut cx, &mut p, &raw.zones)?;
    classes(&cx, &mut p, &raw.classes)?;
    assets(&mut cx, &mut p, &raw.assets)?;
    for (i, c) in raw.conduits.iter().enumerate() {
        let conduit = conduit(&cx, &p, i, c)?;
        if let Some(first) = p.conduits.iter().find(|o| o.name == conduit.name) {
            return Err(ProfileError::DuplicateName {
                at: cx.at(c.get_ref().name.as_ref().map_or(c.span(), Spanned::span)),
                kind: ItemKind::Conduit,
                name: conduit.name,
                first_line: first.line,
            });
        }
        p.conduits.push(conduit);
    }
    for (i, a) in raw.authorizations.iter().enumerate() {
        let rule = authorize(&cx, &p, i, a)?;
        p.authorizations.push(rule);
    }
    for w in &raw.windows {
        let window = window(&cx, &p, w)?;
        if let Some(first) = p.windows.iter().find(|o| o.name == window.name) {
            return Err(ProfileError::DuplicateName {
                at: cx.at(w.get_ref().name.span()),
                kind: ItemKind::ChangeWindow,
                name: window.name,
                first_line: first.line,
            });
        }
        p.windows.push(window);
    }
    p.warnings = cx.warnings;
    Ok(p)
}

/// A parser or shape error from the TOML layer; unknown keys get their own variant.
fn toml_error(source: &Arc<str>, text: &str, e: &toml::de::Error) -> ProfileError {
    let at = Location::at(source, text, e.span().map_or(0, |s| s.start));
    let message = e.message().trim_end();
    // serde's wording for deny_unknown_fields: "unknown field `KEY`, expected ..."
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((key, tail)) = rest.split_once('`') {
            let expected = tail.trim_start_matches(", expected ").trim_start_matches(", there are no fields");
            let expected = if expected.is_empty() { "no keys here".to_owned() } else { expected.to_owned() };
            return ProfileError::UnknownKey { at, key: key.to_owned(), expected };
        }
    }
    if let Some(key) = message.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
        let offset = e.span().map_or(0, |s| s.start);
        let line = text.get(offset..).and_then(|t| t.lines().next()).unwrap_or_default().trim();
        let table = (line.starts_with('[') && line.ends_with(']')).then(|| line.to_owned());
        return ProfileError::MissingKey { at, table, key: key.to_owned() };
    }
    ProfileError::Syntax { at, message: message.to_owned() }
}

fn settings(cx: &Cx<'_>, s: &file::SettingsFile) -> R<Settings> {
    let mut out = Settings::default();
    let ranged = |key: &'static str, v: &Int, min: i64, max: i64| -> R<i64> {
        let value = *v.get_ref();
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(ProfileError::BadSetting { at: cx.at(v.span()), key, value, min, max })
        }
    };
    if let Some(v) = &s.new_asset_grace_secs {
        let secs = ranged("new_asset_grace_secs", v, 0, MAX_GRACE_SECS)?;
        out.new_asset_grace_secs = u64::try_from(secs).unwrap_or(default_new_asset_grace_secs());
    }
    if let Some(v) = &s.max_assets {
        let n = ranged("max_assets", v, 1, MAX_MAX_ASSETS)?;
        out.max_assets = u32::try_from(n).unwrap_or(default_max_assets());
    }
    Ok(out)
}

fn port(cx: &Cx<'_>, item: &Item, field: &'static str, v: &Int) -> R<u16> {
    let value = *v.get_ref();
    match u16::try_from(value) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(ProfileError::BadPort { at: cx.at(v.span()), item: item.clone(), field, value }),
    }
}

fn name(cx: &Cx<'_>, kind: ItemKind, s: &Str) -> R<String> {
    let n = s.get_ref();
    let reason = if n.trim().is_empty() {
        Some("is empty")
    } else if n.trim() != n {
        Some("has leading or trailing spaces")
    } else if n.contains(':') {
        Some("contains ':', which is kept for asset:, class: and zone: references")
    } else if n.contains('/') || n.parse::<IpAddr>().is_ok() {
        Some("looks like an address")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ProfileError::BadName { at: cx.at(s.span()), kind, name: n.clone(), reason }),
        None => Ok(n.clone()),
    }
}

fn is_area_name(a: &str) -> bool {
    a.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An area of a zone or asset: a lowercase name; a name outside the standard five is a warning.
fn area(cx: &mut Cx<'_>, item: &Item, s: &Str) -> R<String> {
    let a = s.get_ref();
    if !is_area_name(a) {
        return Err(ProfileError::BadArea { at: cx.at(s.span()), item: item.clone(), value: a.clone() });
    }
    if !STANDARD_AREAS.contains(&a.as_str()) {
        let at = cx.at(s.span());
        cx.warnings.push(ProfileWarning::NonStandardArea { at, item: item.clone(), area: a.clone() });
    }
    Ok(a.clone())
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn level_of(v: &toml::Value) -> Option<PurdueLevel> {
    match v {
        toml::Value::Integer(i) => PurdueLevel::from_int(*i),
        toml::Value::Float(f) => PurdueLevel::from_f64(*f),
        toml::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn level(cx: &Cx<'_>, item: &Item, v: &Any) -> R<PurdueLevel> {
    level_of(v.get_ref()).ok_or_else(|| ProfileError::BadLevel {
        at: cx.at(v.span()),
        item: item.clone(),
        value: value_text(v.get_ref()),
    })
}

fn zones(cx: &mut Cx<'_>, p: &mut Profile, raw: &[Spanned<file::ZoneFile>]) -> R<()> {
    for z in raw {
        let (span, z) = (z.span(), z.get_ref());
        let zname = name(cx, ItemKind::Zone, &z.name)?;
        let item = Item::Named { kind: ItemKind::Zone, name: zname.clone() };
        if let Some(first) = p.zones.iter().find(|o| o.name == zname) {
            return Err(ProfileError::DuplicateName {
                at: cx.at(z.name.span()),
                kind: ItemKind::Zone,
                name: zname,
                first_line: first.line,
            });
        }
        let cidr = IpNet::parse_cidr(z.cidr.get_ref()).map_err(|problem| ProfileError::BadCidr {
            at: cx.at(z.cidr.span()),
            item: item.clone(),
            field: "cidr",
            value: z.cidr.get_ref().clone(),
            problem,
        })?;
        if let Some(other) = p.zones.iter().find(|o| o.cidr == cidr) {
            return Err(ProfileError::DuplicateCidr {
                at: cx.at(z.cidr.span()),
                item,
                cidr: cidr.to_string(),
                other: other.name.clone(),
                other_line: other.line,
            });
        }
        let level = level(cx, &item, &z.level)?;
        let area = area(cx, &item, &z.area)?;
        let line = cx.at(span).line;
        let comment = z.comment.as_ref().map(|v| v.get_ref().clone());
        p.zones.push(Zone { name: zname, cidr, level, area, comment, line });
    }
    let mut order: Vec<usize> = (0..p.zones.len()).collect();
    // Longest prefix first; among equal lengths the networks are disjoint, so order is moot.
    order.sort_by_key(|&i| std::cmp::Reverse(p.zones[i].cidr.prefix_len()));
    p.zones_by_prefix = order;
    Ok(())
}

fn classes(cx: &Cx<'_>, p: &mut Profile, raw: &[Spanned<file::ClassFile>]) -> R<()> {
    for c in raw {
        let (span, c) = (c.span(), c.get_ref());
        let cname = name(cx, ItemKind::EquipmentClass, &c.name)?;
        if let Some(first) = p.classes.iter().find(|o| o.name == cname) {
            return Err(ProfileError::DuplicateName {
                at: cx.at(c.name.span()),
                kind: ItemKind::EquipmentClass,
                name: cname,
                first_line: first.line,
            });
        }
        let item = Item::Named { kind: ItemKind::EquipmentClass, name: cname.clone() };
        let mut services = Vec::with_capacity(c.services.len());
        for s in &c.services {
            let proto = match s.proto.get_ref().as_str() {
                "tcp" => Transport::Tcp,
                "udp" => Transport::Udp,
                other => {
                    return Err(ProfileError::BadTransport {
                        at: cx.at(s.proto.span()),
                        item,
                        value: other.to_owned(),
                    })
                }
            };
            let port = port(cx, &item, "port", &s.port)?;
            services.push(DeclaredService { proto, port, name: s.name.get_ref().clone() });
        }
        p.classes.push(EquipmentClass {
            name: cname,
            vendor: c.vendor.as_ref().map(|v| v.get_ref().clone()),
            description: c.description.as_ref().map(|v| v.get_ref().clone()),
            services,
            line: cx.at(span).line,
        });
    }
    Ok(())
}

fn assets(cx: &mut Cx<'_>, p: &mut Profile, raw: &[Spanned<file::AssetFile>]) -> R<()> {
    for a in raw {
        let (span, a) = (a.span(), a.get_ref());
        let aname = name(cx, ItemKind::Asset, &a.name)?;
        let item = Item::Named { kind: ItemKind::Asset, name: aname.clone() };
        if let Some(&i) = p.asset_by_name.get(&aname) {
            return Err(ProfileError::DuplicateName {
                at: cx.at(a.name.span()),
                kind: ItemKind::Asset,
                name: aname,
                first_line: p.assets[i].line,
            });
        }
        let ip =
            a.ip.get_ref()
                .parse::<IpAddr>()
                .map_err(|_| ProfileError::BadIp {
                    at: cx.at(a.ip.span()),
                    item: item.clone(),
                    value: a.ip.get_ref().clone(),
                })?
                .to_canonical();
        if let Some(&i) = p.asset_by_ip.get(&ip) {
            return Err(ProfileError::DuplicateIp {
                at: cx.at(a.ip.span()),
                item,
                ip: ip.to_string(),
                other: p.assets[i].name.clone(),
                other_line: p.assets[i].line,
            });
        }
        let class = match &a.equipment_class {
            None => None,
            Some(c) => match p.classes.iter().position(|k| &k.name == c.get_ref()) {
                Some(i) => Some(i),
                None => {
                    return Err(ProfileError::UnknownEquipmentClass {
                        at: cx.at(c.span()),
                        item,
                        class: c.get_ref().clone(),
                    })
                }
            },
        };
        let mut hsms_ports = Vec::with_capacity(a.hsms_ports.len());
        for v in &a.hsms_ports {
            hsms_ports.push(port(cx, &item, "hsms_ports", v)?);
        }
        let level = a.level.as_ref().map(|v| level(cx, &item, v)).transpose()?;
        let area_override = a.area.as_ref().map(|v| area(cx, &item, v)).transpose()?;
        let at = cx.at(span);
        let in_zone = p.zone_of(ip).is_some();
        let missing = match (level.is_some(), area_override.is_some()) {
            _ if in_zone => None,
            (true, true) => None,
            (true, false) => Some("area"),
            (false, true) => Some("level"),
            (false, false) => Some("level and area"),
        };
        if let Some(missing) = missing {
            cx.warnings.push(ProfileWarning::AssetOutsideZones {
                at: at.clone(),
                item: item.clone(),
                ip: ip.to_string(),
                missing,
            });
        }
        let index = p.assets.len();
        p.asset_by_ip.insert(ip, index);
        p.asset_by_name.insert(aname.clone(), index);
        p.asset_class.push(class);
        p.assets.push(Asset {
            ip,
            name: aname,
            owner: a.owner.as_ref().map(|v| v.get_ref().clone()),
            equipment_class: class.map(|i| p.classes[i].name.clone()),
            hsms_ports,
            level,
            area: area_override,
            role: a.role.as_ref().map(|v| v.get_ref().clone()),
            comment: a.comment.as_ref().map(|v| v.get_ref().clone()),
            line: at.line,
        });
    }
    Ok(())
}

fn endpoint(
    cx: &Cx<'_>,
    p: &Profile,
    item: &Item,
    side: &'static str,
    e: &Spanned<file::EndpointFile>,
) -> R<Endpoint> {
    let (span, e) = (e.span(), e.get_ref());
    let field = |key: &str| -> &'static str {
        match (side, key) {
            ("from", "level") => "from.level",
            ("from", "area") => "from.area",
            ("from", "zone") => "from.zone",
            ("from", _) => "from.asset",
            (_, "level") => "to.level",
            (_, "area") => "to.area",
            (_, "zone") => "to.zone",
            _ => "to.asset",
        }
    };
    let mut out = Endpoint::default();
    if let Some(v) = &e.level {
        match v.get_ref() {
            toml::Value::Array(items) => {
                if items.is_empty() {
                    return Err(ProfileError::EmptyList {
                        at: cx.at(v.span()),
                        item: item.clone(),
                        field: field("level"),
                    });
                }
                for l in items {
                    let level = level_of(l).ok_or_else(|| ProfileError::BadLevel {
                        at: cx.at(v.span()),
                        item: item.clone(),
                        value: value_text(l),
                    })?;
                    out.levels.push(level);
                }
            }
            _ => out.levels.push(level(cx, item, v)?),
        }
    }
    if let Some(a) = &e.area {
        let used = p.zones.iter().any(|z| &z.area == a.get_ref())
            || p.assets.iter().any(|x| x.area.as_ref() == Some(a.get_ref()));
        if !used {
            return Err(ProfileError::UnknownName {
                at: cx.at(a.span()),
                item: item.clone(),
                field: field("area"),
                name: a.get_ref().clone(),
                expected: "the area of any zone or asset",
            });
        }
        out.area = Some(a.get_ref().clone());
    }
    if let Some(z) = &e.zone {
        if !p.zones.iter().any(|x| &x.name == z.get_ref()) {
            return Err(ProfileError::UnknownName {
                at: cx.at(z.span()),
                item: item.clone(),
                field: field("zone"),
                name: z.get_ref().clone(),
                expected: "a zone",
            });
        }
        out.zone = Some(z.get_ref().clone());
    }
    if let Some(a) = &e.asset {
        let Some(asset) = p.asset_by_name(a.get_ref()) else {
            return Err(ProfileError::UnknownName {
                at: cx.at(a.span()),
                item: item.clone(),
                field: field("asset"),
                name: a.get_ref().clone(),
                expected: "an asset",
            });
        };
        out.asset = Some((asset.name.clone(), asset.ip));
    }
    if out == Endpoint::default() {
        return Err(ProfileError::EmptyEndpoint { at: cx.at(span), item: item.clone(), side });
    }
    Ok(out)
}

fn conduit(cx: &Cx<'_>, p: &Profile, index: usize, c: &Spanned<file::ConduitFile>) -> R<Conduit> {
    let (span, c) = (c.span(), c.get_ref());
    let cname = c.name.as_ref().map(|n| name(cx, ItemKind::Conduit, n)).transpose()?;
    let item = match &cname {
        Some(n) => Item::Named { kind: ItemKind::Conduit, name: n.clone() },
        None => Item::Numbered { kind: ItemKind::Conduit, index },
    };
    let from = endpoint(cx, p, &item, "from", &c.from)?;
    let to = endpoint(cx, p, &item, "to", &c.to)?;
    if c.protocols.get_ref().is_empty() {
        return Err(ProfileError::EmptyList { at: cx.at(c.protocols.span()), item, field: "protocols" });
    }
    let mut protocols = Vec::with_capacity(c.protocols.get_ref().len());
    for s in c.protocols.get_ref() {
        let proto = s.get_ref().parse::<ConduitProtocol>().map_err(|()| ProfileError::BadProtocol {
            at: cx.at(s.span()),
            item: item.clone(),
            value: s.get_ref().clone(),
        })?;
        protocols.push(proto);
    }
    Ok(Conduit {
        name: cname.unwrap_or_else(|| item.to_string()),
        from,
        to,
        protocols,
        bidirectional: c.bidirectional,
        comment: c.comment.as_ref().map(|v| v.get_ref().clone()),
        line: cx.at(span).line,
    })
}

/// Which namespaces a bare name was found in.
fn kinds_of(p: &Profile, n: &str) -> (bool, bool, bool) {
    (
        p.asset_by_name.contains_key(n),
        p.classes.iter().any(|c| c.name == n),
        p.zones.iter().any(|z| z.name == n),
    )
}

/// A target (`hosts_only` false) or host (`hosts_only` true): an address, a network, an asset
/// name, or for targets also an equipment class or a zone. `asset:`, `class:` and `zone:`
/// prefixes say which kind a name is.
fn selector(
    cx: &Cx<'_>,
    p: &Profile,
    item: &Item,
    field: &'static str,
    s: &Str,
    hosts_only: bool,
) -> R<Selector> {
    let text = s.get_ref().as_str();
    let at = || cx.at(s.span());
    let unknown = |n: &str, expected: &'static str| ProfileError::UnknownName {
        at: at(),
        item: item.clone(),
        field,
        name: n.to_owned(),
        expected,
    };
    let host_kind = |kind: &'static str| ProfileError::HostKind {
        at: at(),
        item: item.clone(),
        value: text.to_owned(),
        kind,
    };
    let asset = |n: &str| {
        p.asset_by_name(n).map(|a| Selector::Asset { name: a.name.clone(), ip: a.ip }).ok_or_else(|| {
            unknown(n, if hosts_only { "an asset" } else { "an asset, equipment class or zone" })
        })
    };
    if let Some(n) = text.strip_prefix("asset:") {
        return asset(n);
    }
    if let Some(n) = text.strip_prefix("class:") {
        if hosts_only {
            return Err(host_kind("an equipment class"));
        }
        let (_, is_class, _) = kinds_of(p, n);
        return if is_class {
            Ok(Selector::Class(n.to_owned()))
        } else {
            Err(unknown(n, "an equipment class"))
        };
    }
    if let Some(n) = text.strip_prefix("zone:") {
        if hosts_only {
            return Err(host_kind("a zone"));
        }
        let (_, _, is_zone) = kinds_of(p, n);
        return if is_zone { Ok(Selector::Zone(n.to_owned())) } else { Err(unknown(n, "a zone")) };
    }
    if text.contains('/') || text.parse::<IpAddr>().is_ok() {
        let net = IpNet::parse_net_or_host(text).map_err(|problem| ProfileError::BadCidr {
            at: at(),
            item: item.clone(),
            field,
            value: text.to_owned(),
            problem,
        })?;
        return Ok(Selector::Net(net));
    }
    let (is_asset, is_class, is_zone) = kinds_of(p, text);
    let looks_numeric = text.bytes().all(|b| b.is_ascii_digit() || b == b'.') && text.contains('.');
    if looks_numeric && !(is_asset || is_class || is_zone) {
        // Digits and dots that do not parse ("10.0.0.300") were meant as an address.
        return Err(ProfileError::BadCidr {
            at: at(),
            item: item.clone(),
            field,
            value: text.to_owned(),
            problem: CidrProblem::NotANetwork,
        });
    }
    if hosts_only {
        return match (is_asset, is_class, is_zone) {
            (true, _, _) => asset(text),
            (false, true, _) => Err(host_kind("an equipment class")),
            (false, false, true) => Err(host_kind("a zone")),
            (false, false, false) => Err(unknown(text, "an asset")),
        };
    }
    match (is_asset, is_class, is_zone) {
        (false, false, false) => Err(unknown(text, "an asset, equipment class or zone")),
        (true, false, false) => asset(text),
        (false, true, false) => Ok(Selector::Class(text.to_owned())),
        (false, false, true) => Ok(Selector::Zone(text.to_owned())),
        (asset, class, zone) => Err(ProfileError::AmbiguousName {
            at: at(),
            item: item.clone(),
            field,
            name: text.to_owned(),
            kinds: NameKinds { asset, class, zone },
        }),
    }
}

fn selectors(
    cx: &Cx<'_>,
    p: &Profile,
    item: &Item,
    field: &'static str,
    list: &Spanned<Vec<Str>>,
    hosts_only: bool,
) -> R<Vec<Selector>> {
    if list.get_ref().is_empty() {
        return Err(ProfileError::EmptyList { at: cx.at(list.span()), item: item.clone(), field });
    }
    list.get_ref().iter().map(|s| selector(cx, p, item, field, s, hosts_only)).collect()
}

fn authorize(cx: &Cx<'_>, p: &Profile, index: usize, a: &Spanned<file::AuthorizeFile>) -> R<AuthorizeRule> {
    let (span, a) = (a.span(), a.get_ref());
    let item = Item::Numbered { kind: ItemKind::Authorize, index };
    let action = a.action.get_ref().parse::<Action>().map_err(|()| ProfileError::BadAction {
        at: cx.at(a.action.span()),
        item: item.clone(),
        value: a.action.get_ref().clone(),
    })?;
    let hosts = selectors(cx, p, &item, "hosts", &a.hosts, true)?;
    let targets = selectors(cx, p, &item, "targets", &a.targets, false)?;
    if let Some(first) = a.units.first() {
        if action.family() != ActionFamily::Modbus {
            return Err(ProfileError::UnitsNotModbus {
                at: cx.at(first.span()),
                item,
                action: action.name(),
            });
        }
    }
    let mut units = Vec::with_capacity(a.units.len());
    for u in &a.units {
        let value = *u.get_ref();
        let unit = u8::try_from(value).map_err(|_| ProfileError::BadUnit {
            at: cx.at(u.span()),
            item: item.clone(),
            value,
        })?;
        units.push(unit);
    }
    Ok(AuthorizeRule {
        action,
        hosts,
        targets,
        units,
        comment: a.comment.as_ref().map(|v| v.get_ref().clone()),
        line: cx.at(span).line,
    })
}

fn timestamp(cx: &Cx<'_>, item: &Item, field: &'static str, v: &Any) -> R<(i64, String)> {
    let (text, parsed) = match v.get_ref() {
        toml::Value::String(s) => (s.clone(), parse_timestamp(s)),
        toml::Value::Datetime(d) => {
            let s = d.to_string();
            let parsed = if d.date.is_some() && d.time.is_some() && d.offset.is_none() {
                Err(TimestampProblem::NoOffset)
            } else {
                parse_timestamp(&s)
            };
            (s, parsed)
        }
        other => (other.to_string(), Err(TimestampProblem::NotRfc3339)),
    };
    match parsed {
        Ok(ns) => Ok((ns, text)),
        Err(problem) => Err(ProfileError::BadTimestamp {
            at: cx.at(v.span()),
            item: item.clone(),
            field,
            value: text,
            problem,
        }),
    }
}

fn time_of_day(cx: &Cx<'_>, item: &Item, field: &'static str, v: &Str, end: bool) -> R<TimeOfDay> {
    TimeOfDay::parse(v.get_ref(), end).ok_or_else(|| ProfileError::BadTimeOfDay {
        at: cx.at(v.span()),
        item: item.clone(),
        field,
        value: v.get_ref().clone(),
    })
}

fn window(cx: &Cx<'_>, p: &Profile, w: &Spanned<file::WindowFile>) -> R<ChangeWindow> {
    let (span, w) = (w.span(), w.get_ref());
    let wname = name(cx, ItemKind::ChangeWindow, &w.name)?;
    let item = Item::Named { kind: ItemKind::ChangeWindow, name: wname.clone() };
    let targets = selectors(cx, p, &item, "targets", &w.targets, false)?;
    let once = w.start.is_some() || w.end.is_some();
    let weekly = w.days.is_some() || w.from.is_some() || w.to.is_some();
    let shape_error =
        |shape| ProfileError::WindowShape { at: cx.at(span.clone()), item: item.clone(), shape };
    let schedule = match (once, weekly) {
        (true, true) => return Err(shape_error(WindowShape::BothSchedules)),
        (false, false) => return Err(shape_error(WindowShape::NoSchedule)),
        (true, false) => {
            let (Some(start), Some(end)) = (&w.start, &w.end) else {
                return Err(shape_error(WindowShape::HalfOnce));
            };
            let (start_ns, start_text) = timestamp(cx, &item, "start", start)?;
            let (end_ns, end_text) = timestamp(cx, &item, "end", end)?;
            if end_ns <= start_ns {
                return Err(ProfileError::WindowEndBeforeStart {
                    at: cx.at(end.span()),
                    item,
                    start: start_text,
                    end: end_text,
                });
            }
            Schedule::Once { start_ns, end_ns }
        }
        (false, true) => {
            let (Some(from), Some(to)) = (&w.from, &w.to) else {
                return Err(shape_error(WindowShape::HalfWeekly));
            };
            let days = match &w.days {
                None => Weekday::ALL.to_vec(),
                Some(list) if list.get_ref().is_empty() => {
                    return Err(ProfileError::EmptyList { at: cx.at(list.span()), item, field: "days" })
                }
                Some(list) => {
                    let mut days = Vec::with_capacity(list.get_ref().len());
                    for d in list.get_ref() {
                        let day = Weekday::parse(d.get_ref()).ok_or_else(|| ProfileError::BadDay {
                            at: cx.at(d.span()),
                            item: item.clone(),
                            value: d.get_ref().clone(),
                        })?;
                        if !days.contains(&day) {
                            days.push(day);
                        }
                    }
                    days
                }
            };
            let from_t = time_of_day(cx, &item, "from", from, false)?;
            let to_t = time_of_day(cx, &item, "to", to, true)?;
            if from_t == to_t {
                return Err(ProfileError::WindowShape {
                    at: cx.at(to.span()),
                    item,
                    shape: WindowShape::EmptyWeekly,
                });
            }
            Schedule::Weekly { days, from: from_t, to: to_t }
        }
    };
    let comment = w.comment.as_ref().map(|v| v.get_ref().clone());
    Ok(ChangeWindow { name: wname, targets, schedule, comment, line: cx.at(span).line })
}
