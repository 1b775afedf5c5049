//! Lookups on a small fab, the shipped profiles, and the invalid-profile fixtures.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use super::*;
use crate::app::{AppProto, Transport};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/invalid_profiles");
const PROFILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles");

const FAB: &str = r#"
name = "unit"
hsms_ports = [5000]

[[zone]]
name = "l3-hosts"
cidr = "10.30.0.0/24"
level = 3
area = "fab-system"

[[zone]]
name = "l2-tools"
cidr = "10.20.0.0/16"
level = 2
area = "fab"

[[zone]]
name = "l2-litho"
cidr = "10.20.5.0/24"
level = 2
area = "fab"

[[zone]]
name = "facility"
cidr = "10.40.0.0/16"
level = 2
area = "facility"

[[zone]]
name = "facility-servers"
cidr = "10.40.0.0/24"
level = 3
area = "facility"

[[zone]]
name = "dmz"
cidr = "10.35.0.0/24"
level = 3.5
area = "dmz"

[[zone]]
name = "v6-tools"
cidr = "fd00:20::/32"
level = 2
area = "fab"

[[zone]]
name = "everything"
cidr = "10.0.0.0/8"
level = 4
area = "enterprise"

[[equipment_class]]
name = "etcher"
vendor = "Example Etch Co."
services = [
  { proto = "tcp", port = 5000, name = "HSMS" },
  { proto = "tcp", port = 22, name = "SSH (service)" },
]

[[equipment_class]]
name = "plc"

[[asset]]
ip = "10.20.1.10"
name = "ETCH-01"
equipment_class = "etcher"
hsms_ports = [5000]

[[asset]]
ip = "10.20.1.11"
name = "ETCH-02"
equipment_class = "etcher"
hsms_ports = [5001]

[[asset]]
ip = "10.30.0.12"
name = "EAP-01"
role = "eap"

[[asset]]
ip = "10.30.0.20"
name = "HMI-01"

[[asset]]
ip = "10.10.0.5"
name = "PLC-05"
equipment_class = "plc"
level = 1
area = "fab"

[[asset]]
ip = "10.40.0.10"
name = "BMS-01"

[[asset]]
ip = "10.40.2.20"
name = "AHU-CTRL"
level = 1

[[asset]]
ip = "192.168.9.9"
name = "LONE"
level = 2
area = "fab"

[[conduit]]
name = "eap-tools"
from = { level = 3, area = "fab-system" }
to = { level = 2, area = "fab" }
protocols = ["hsms", "tcp/445"]

[[conduit]]
name = "bms-field"
from = { asset = "BMS-01" }
to = { level = [1, 2], area = "facility" }
protocols = ["bacnet"]
bidirectional = false

[[conduit]]
name = "hosts-ntp"
from = { zone = "l3-hosts" }
to = { zone = "dmz" }
protocols = ["udp/123"]
bidirectional = false

[[conduit]]
from = { level = 3.5 }
to = { level = 4 }
protocols = ["any"]

[[authorize]]
action = "hsms.select"
hosts = ["EAP-01"]
targets = ["etcher"]

[[authorize]]
action = "hsms.any"
hosts = ["10.30.0.0/28"]
targets = ["ETCH-02"]

[[authorize]]
action = "modbus.write"
hosts = ["HMI-01"]
targets = ["PLC-05"]
units = [1, 255]

[[authorize]]
action = "bacnet.write"
hosts = ["BMS-01"]
targets = ["zone:facility"]

[[authorize]]
action = "any"
hosts = ["10.35.0.5"]
targets = ["10.20.5.0/24"]

[[change_window]]
name = "weekend-night"
targets = ["l2-tools"]
days = ["sat", "sun"]
from = "22:00"
to = "04:00"

[[change_window]]
name = "etch-pm"
targets = ["ETCH-01"]
start = "2026-11-25T08:00:00Z"
end = 2026-11-25T12:00:00Z
"#;

fn fab() -> Profile {
    match Profile::from_str(FAB, "unit.toml") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn ts(s: &str) -> i64 {
    parse_timestamp(s).expect("test time stamp")
}

#[test]
fn loads_without_warnings() {
    let p = fab();
    assert_eq!(p.name(), Some("unit"));
    assert_eq!(p.source(), "unit.toml");
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    assert_eq!(p.zones().len(), 8);
    assert_eq!(p.assets().len(), 8);
    assert_eq!(p.settings(), &Settings::default());
    assert_eq!(p.conduits()[3].name, "conduit #4");
    assert_eq!(p.zones()[0].line, 5);
}

#[test]
fn zone_lookup_takes_the_longest_prefix() {
    let p = fab();
    let zone = |s: &str| p.zone_of(ip(s)).map(|z| z.name.as_str());
    assert_eq!(zone("10.20.5.7"), Some("l2-litho"));
    assert_eq!(zone("10.20.1.10"), Some("l2-tools"));
    assert_eq!(zone("10.40.0.10"), Some("facility-servers"));
    assert_eq!(zone("10.40.2.20"), Some("facility"));
    assert_eq!(zone("10.99.0.66"), Some("everything"));
    assert_eq!(zone("192.168.1.1"), None);
    assert_eq!(zone("fd00:20::1"), Some("v6-tools"));
    assert_eq!(zone("fd00:21::1"), None);
    assert_eq!(zone("::ffff:10.20.1.10"), Some("l2-tools"));
}

#[test]
fn assets_by_address_and_name() {
    let p = fab();
    assert_eq!(p.asset(ip("10.20.1.10")).map(|a| a.name.as_str()), Some("ETCH-01"));
    assert_eq!(p.asset(ip("::ffff:10.20.1.10")).map(|a| a.name.as_str()), Some("ETCH-01"));
    assert_eq!(p.asset(ip("10.20.1.99")), None);
    let eap = p.asset_by_name("EAP-01").expect("EAP-01");
    assert_eq!((eap.ip, eap.role.as_deref()), (ip("10.30.0.12"), Some("eap")));
    assert!(p.asset_by_name("eap-01").is_none());
    assert_eq!(p.equipment_class("etcher").map(|c| c.vendor.as_deref()), Some(Some("Example Etch Co.")));
}

#[test]
fn level_area_prefers_the_asset_then_the_zone() {
    let p = fab();
    let la = |s: &str| p.level_area(ip(s));
    assert_eq!(
        la("10.20.1.10"),
        Some(Placement {
            level: PurdueLevel::L2,
            area: "fab",
            zone: Some("l2-tools"),
            decided_by: PlacedBy::Zone
        })
    );
    // Both overridden; the zone (a /8 catch-all at level 4) is still reported.
    assert_eq!(
        la("10.10.0.5"),
        Some(Placement {
            level: PurdueLevel::L1,
            area: "fab",
            zone: Some("everything"),
            decided_by: PlacedBy::Asset
        })
    );
    // Level overridden, area from the zone.
    assert_eq!(
        la("10.40.2.20"),
        Some(Placement {
            level: PurdueLevel::L1,
            area: "facility",
            zone: Some("facility"),
            decided_by: PlacedBy::Asset
        })
    );
    // Outside every zone, placed by its entry alone.
    assert_eq!(
        la("192.168.9.9"),
        Some(Placement { level: PurdueLevel::L2, area: "fab", zone: None, decided_by: PlacedBy::Asset })
    );
    assert_eq!(la("10.35.0.5").map(|x| x.level), Some(PurdueLevel::DMZ));
    assert_eq!(la("10.99.0.66").map(|x| (x.level, x.area)), Some((PurdueLevel::L4, "enterprise")));
    assert_eq!(la("192.168.1.1"), None);
    assert_eq!(Profile::empty().level_area(ip("10.20.1.10")), None);
}

#[test]
fn declared_services_come_from_the_equipment_class() {
    let p = fab();
    let etch = p.declared_services(ip("10.20.1.10")).expect("ETCH-01 has a class");
    assert_eq!(etch.len(), 2);
    assert_eq!(etch[0], DeclaredService { proto: Transport::Tcp, port: 5000, name: "HSMS".into() });
    assert_eq!(p.declared_services(ip("10.10.0.5")).map(<[_]>::len), Some(0));
    assert_eq!(p.declared_services(ip("10.30.0.12")), None);
    assert_eq!(p.declared_services(ip("10.20.9.9")), None);
}

#[test]
fn hsms_ports_are_global_plus_per_asset() {
    assert_eq!(fab().hsms_ports(), vec![5000, 5001]);
    assert!(Profile::empty().hsms_ports().is_empty());
}

#[test]
fn conduits_by_level_area_zone_and_asset() {
    let p = fab();
    let hsms = FlowService::tcp(5000).with_app(AppProto::Hsms);
    let bacnet = FlowService::udp(47808).with_app(AppProto::Bacnet);
    let c = |a: &str, b: &str, s| p.conduit_allowed(ip(a), ip(b), s);
    // EAP to tool, and the tool opening the session (bidirectional by default).
    assert_eq!(c("10.30.0.12", "10.20.1.10", hsms), ConduitVerdict::Allowed(0));
    assert_eq!(c("10.20.1.10", "10.30.0.12", hsms), ConduitVerdict::Allowed(0));
    assert_eq!(c("10.30.0.12", "10.20.1.10", FlowService::tcp(445)), ConduitVerdict::Allowed(0));
    // Same port, not recognised as HSMS: not on the conduit.
    assert_eq!(c("10.30.0.12", "10.20.1.10", FlowService::tcp(5000)), ConduitVerdict::NotAllowed);
    // Tool to tool.
    assert_eq!(c("10.20.1.10", "10.20.1.11", hsms), ConduitVerdict::NotAllowed);
    // Asset endpoint to a level list in an area, one way only.
    assert_eq!(c("10.40.0.10", "10.40.2.20", bacnet), ConduitVerdict::Allowed(1));
    assert_eq!(c("10.40.0.10", "10.40.1.5", bacnet), ConduitVerdict::Allowed(1));
    assert_eq!(c("10.40.2.20", "10.40.0.10", bacnet), ConduitVerdict::NotAllowed);
    assert_eq!(c("10.40.0.10", "10.40.0.11", bacnet), ConduitVerdict::NotAllowed);
    assert_eq!(c("10.40.0.11", "10.40.2.20", bacnet), ConduitVerdict::NotAllowed);
    // Zone endpoints.
    assert_eq!(c("10.30.0.12", "10.35.0.5", FlowService::udp(123)), ConduitVerdict::Allowed(2));
    assert_eq!(c("10.35.0.5", "10.30.0.12", FlowService::udp(123)), ConduitVerdict::NotAllowed);
    assert_eq!(c("10.30.0.12", "10.35.0.5", FlowService::tcp(123)), ConduitVerdict::NotAllowed);
    // Level-only endpoints with "any", both ways.
    assert_eq!(c("10.35.0.5", "10.99.0.66", FlowService::tcp(3389)), ConduitVerdict::Allowed(3));
    assert_eq!(c("10.99.0.66", "10.35.0.5", FlowService::tcp(443)), ConduitVerdict::Allowed(3));
    // Unknown level matches no level.
    assert_eq!(c("192.168.1.1", "10.35.0.5", FlowService::tcp(443)), ConduitVerdict::NotAllowed);
    assert_eq!(
        Profile::empty().conduit_allowed(ip("10.0.0.1"), ip("10.0.0.2"), hsms),
        ConduitVerdict::NoPolicy
    );
}

#[test]
fn authorization_allowed_denied_and_no_rule() {
    let p = fab();
    let a = |action, h: &str, t: &str, unit| p.authorized(action, ip(h), ip(t), unit);
    // Class target.
    assert_eq!(a(Action::HsmsSelect, "10.30.0.12", "10.20.1.10", None), Authorization::Allowed(0));
    assert_eq!(a(Action::HsmsSelect, "10.30.0.20", "10.20.1.10", None), Authorization::Denied);
    assert_eq!(a(Action::HsmsRemoteCommand, "10.30.0.12", "10.20.1.10", None), Authorization::NoRule);
    // hsms.any covers the family; network host.
    assert_eq!(a(Action::HsmsRecipeDownload, "10.30.0.5", "10.20.1.11", None), Authorization::Allowed(1));
    assert_eq!(a(Action::HsmsRecipeDownload, "10.30.0.20", "10.20.1.11", None), Authorization::Denied);
    assert_eq!(a(Action::HsmsSelect, "10.30.0.20", "10.20.1.11", None), Authorization::Denied);
    // Units.
    assert_eq!(a(Action::ModbusWrite, "10.30.0.20", "10.10.0.5", Some(1)), Authorization::Allowed(2));
    assert_eq!(a(Action::ModbusWrite, "10.30.0.20", "10.10.0.5", Some(255)), Authorization::Allowed(2));
    assert_eq!(a(Action::ModbusWrite, "10.30.0.20", "10.10.0.5", Some(2)), Authorization::Denied);
    assert_eq!(a(Action::ModbusWrite, "10.30.0.20", "10.10.0.5", None), Authorization::Denied);
    assert_eq!(a(Action::ModbusWrite, "10.30.0.12", "10.10.0.5", Some(1)), Authorization::Denied);
    assert_eq!(a(Action::ModbusProgram, "10.30.0.20", "10.10.0.5", Some(1)), Authorization::NoRule);
    // Zone target: the zone is the longest-prefix zone, so facility-servers is not facility.
    assert_eq!(a(Action::BacnetWrite, "10.40.0.10", "10.40.2.20", None), Authorization::Allowed(3));
    assert_eq!(a(Action::BacnetWrite, "10.99.0.66", "10.40.2.20", None), Authorization::Denied);
    assert_eq!(a(Action::BacnetWrite, "10.40.0.10", "10.40.0.11", None), Authorization::NoRule);
    // "any" covers every action.
    assert_eq!(a(Action::ModbusWrite, "10.35.0.5", "10.20.5.7", Some(9)), Authorization::Allowed(4));
    assert_eq!(a(Action::BacnetFile, "10.35.0.5", "10.20.5.7", None), Authorization::Allowed(4));
    assert_eq!(a(Action::BacnetFile, "10.35.0.6", "10.20.5.7", None), Authorization::Denied);
    assert_eq!(
        Profile::empty().authorized(Action::Any, ip("10.0.0.1"), ip("10.0.0.2"), None),
        Authorization::NoRule
    );
}

#[test]
fn change_windows_weekly_across_midnight_and_one_off() {
    let p = fab();
    let w = |t: &str, target: &str| p.in_change_window(ts(t), ip(target));
    let tool = "10.20.1.11";
    // 2026-11-21 is a Saturday.
    assert_eq!(w("2026-11-21T23:00:00Z", tool), Some("weekend-night"));
    assert_eq!(w("2026-11-22T03:59:59Z", tool), Some("weekend-night"));
    // Monday early morning: the Sunday window running past midnight.
    assert_eq!(w("2026-11-23T03:00:00Z", tool), Some("weekend-night"));
    assert_eq!(w("2026-11-23T04:00:00Z", tool), None);
    assert_eq!(w("2026-11-21T21:59:59Z", tool), None);
    // Friday night: not a listed day; Saturday early morning is Friday's night.
    assert_eq!(w("2026-11-20T23:00:00Z", tool), None);
    assert_eq!(w("2026-11-21T01:00:00Z", tool), None);
    // Not a target.
    assert_eq!(w("2026-11-21T23:00:00Z", "10.30.0.12"), None);
    // One-off, on a Wednesday.
    assert_eq!(w("2026-11-25T08:00:00Z", "10.20.1.10"), Some("etch-pm"));
    assert_eq!(w("2026-11-25T11:59:59Z", "10.20.1.10"), Some("etch-pm"));
    assert_eq!(w("2026-11-25T12:00:00Z", "10.20.1.10"), None);
    assert_eq!(w("2026-11-25T09:00:00Z", tool), None);
    // Both open: the first in file order.
    assert_eq!(w("2026-11-21T23:00:00Z", "10.20.1.10"), Some("weekend-night"));
    assert_eq!(Profile::empty().in_change_window(ts("2026-11-21T23:00:00Z"), ip(tool)), None);
}

#[test]
fn warnings_for_free_areas_and_unplaced_assets() {
    let text = r#"
[[zone]]
name = "cleanroom-b"
cidr = "10.60.0.0/16"
level = 2
area = "cleanroom-b"

[[asset]]
ip = "172.16.0.5"
name = "STRAY"
level = 2
"#;
    let p = Profile::from_str(text, "w.toml").expect("loads with warnings");
    let w: Vec<String> = p.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("w.toml:6:8: zone \"cleanroom-b\": area \"cleanroom-b\" is not one of"),
        "{}",
        w[0]
    );
    assert!(
        w[1].contains("asset \"STRAY\": ip 172.16.0.5 is in no zone and the asset sets no area"),
        "{}",
        w[1]
    );
    assert_eq!(p.level_area(ip("172.16.0.5")), None);
    assert_eq!(p.level_area(ip("10.60.1.1")).map(|x| x.area), Some("cleanroom-b"));
}

#[test]
fn prefixes_resolve_names_that_are_two_kinds() {
    let base = r#"
[[zone]]
name = "etcher"
cidr = "10.20.0.0/16"
level = 2
area = "fab"

[[equipment_class]]
name = "etcher"

[[asset]]
ip = "10.20.1.10"
name = "ETCH-01"
equipment_class = "etcher"
"#;
    let bare = format!(
        "{base}\n[[authorize]]\naction = \"any\"\nhosts = [\"10.30.0.12\"]\ntargets = [\"etcher\"]\n"
    );
    let err = Profile::from_str(&bare, "a.toml").expect_err("ambiguous");
    assert!(matches!(err, ProfileError::AmbiguousName { .. }), "{err}");
    assert!(err.to_string().contains("write class:etcher or zone:etcher"), "{err}");
    let prefixed = format!(
        "{base}\n[[authorize]]\naction = \"any\"\nhosts = [\"10.30.0.12\"]\ntargets = [\"zone:etcher\"]\n"
    );
    let p = Profile::from_str(&prefixed, "a.toml").expect("prefixed");
    assert_eq!(p.authorizations()[0].targets, vec![Selector::Zone("etcher".into())]);
    assert_eq!(
        p.authorized(Action::HsmsSelect, ip("10.30.0.12"), ip("10.20.9.9"), None),
        Authorization::Allowed(0)
    );
}

#[test]
fn settings_defaults_and_overrides() {
    assert_eq!(Settings::default().max_assets, default_max_assets());
    assert_eq!(Settings::default().new_asset_grace_secs, default_new_asset_grace_secs());
    let p = Profile::from_str("[settings]\nmax_assets = 500\nnew_asset_grace_secs = 0\n", "s.toml")
        .expect("valid");
    assert_eq!(*p.settings(), Settings { new_asset_grace_secs: 0, max_assets: 500 });
}

#[test]
fn serializes_levels_as_strings() {
    let p = fab();
    let json = serde_json::to_value(&p.zones()[5]).expect("zone serializes");
    assert_eq!(json["level"], "3.5");
    assert_eq!(json["cidr"], "10.35.0.0/24");
    let placement = serde_json::to_value(p.level_area(ip("10.10.0.5"))).expect("placement serializes");
    assert_eq!(placement["level"], "1");
    assert_eq!(placement["decided_by"], "asset");
}

#[test]
fn shipped_profiles_load() {
    for name in ["default.toml", "example-fab.toml"] {
        let path = Path::new(PROFILES).join(name);
        match Profile::load(&path) {
            Ok(p) => assert!(p.warnings().is_empty(), "{name}: {:?}", p.warnings()),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn default_profile_says_nothing_about_addresses() {
    let p = Profile::load(Path::new(PROFILES).join("default.toml")).expect("default profile");
    assert!(p.zones().is_empty() && p.assets().is_empty());
    assert!(p.hsms_ports().is_empty());
    assert_eq!(
        p.conduit_allowed(ip("10.0.0.1"), ip("10.0.0.2"), FlowService::tcp(1)),
        ConduitVerdict::NoPolicy
    );
}

#[test]
fn example_fab_matches_the_plan() {
    let p = Profile::load(Path::new(PROFILES).join("example-fab.toml")).expect("example profile");
    let level = |s: &str| p.level_area(ip(s)).map(|x| (x.level.to_string(), x.area.to_owned()));
    let l = |lv: &str, area: &str| Some((lv.to_owned(), area.to_owned()));
    assert_eq!(level("10.30.0.12"), l("3", "fab-system"));
    assert_eq!(level("10.20.1.10"), l("2", "fab"));
    assert_eq!(level("10.10.0.5"), l("1", "fab"));
    assert_eq!(level("10.40.0.10"), l("3", "facility"));
    assert_eq!(level("10.35.0.5"), l("3.5", "dmz"));
    assert_eq!(level("10.50.1.1"), l("4", "enterprise"));
    assert_eq!(level("10.99.0.66"), None);
    for (name, addr, port) in
        [("ETCH-01", "10.20.1.10", 5000), ("CVD-02", "10.20.1.11", 5001), ("LITHO-03", "10.20.1.12", 6000)]
    {
        let a = p.asset_by_name(name).expect(name);
        assert_eq!((a.ip, a.hsms_ports.as_slice()), (ip(addr), &[port][..]));
        assert!(p.declared_services(a.ip).is_some_and(|s| !s.is_empty()), "{name} declares services");
    }
    let (eap, hmi, bms) = (ip("10.30.0.12"), ip("10.30.0.20"), ip("10.40.0.10"));
    let etch = ip("10.20.1.10");
    for action in [Action::HsmsSelect, Action::HsmsRemoteCommand, Action::HsmsRecipeDownload] {
        assert!(matches!(p.authorized(action, eap, etch, None), Authorization::Allowed(_)), "{action}");
        assert_eq!(p.authorized(action, ip("10.99.0.66"), etch, None), Authorization::Denied, "{action}");
    }
    let plc = p.assets().iter().find(|a| a.ip.to_string().starts_with("10.10.")).expect("a PLC").ip;
    assert!(matches!(p.authorized(Action::ModbusWrite, hmi, plc, Some(1)), Authorization::Allowed(_)));
    assert!(matches!(p.authorized(Action::ModbusWrite, hmi, plc, Some(255)), Authorization::Allowed(_)));
    assert_eq!(p.authorized(Action::ModbusWrite, hmi, plc, Some(7)), Authorization::Denied);
    let ctrl = p
        .assets()
        .iter()
        .find(|a| a.ip.to_string().starts_with("10.40.") && a.ip != bms)
        .expect("a controller")
        .ip;
    assert!(matches!(p.authorized(Action::BacnetWrite, bms, ctrl, None), Authorization::Allowed(_)));
    assert_eq!(p.authorized(Action::BacnetWrite, ip("10.99.0.66"), ctrl, None), Authorization::Denied);
    let hsms = FlowService::tcp(5000).with_app(AppProto::Hsms);
    assert!(matches!(p.conduit_allowed(eap, etch, hsms), ConduitVerdict::Allowed(_)));
    assert_eq!(p.conduit_allowed(ip("10.99.0.66"), etch, hsms), ConduitVerdict::NotAllowed);
    assert_eq!(p.conduit_allowed(ip("10.50.1.1"), etch, FlowService::tcp(3389)), ConduitVerdict::NotAllowed);
    assert_eq!(p.conduit_allowed(etch, ip("10.20.1.11"), hsms), ConduitVerdict::NotAllowed);
    assert!(!p.change_windows().is_empty());
    assert_eq!(p.hsms_ports(), vec![5000, 5001, 6000]);
}

/// The variant name of an error, from its Debug form.
fn variant(e: &ProfileError) -> String {
    format!("{e:?}").split([' ', '{', '(']).next().unwrap_or_default().to_owned()
}

#[test]
fn every_fixture_fails_with_its_message() {
    let mut entries: Vec<_> = std::fs::read_dir(FIXTURES)
        .expect("tests/invalid_profiles exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 30, "only {} fixtures", entries.len());
    let mut variants = BTreeSet::new();
    let mut failures = Vec::new();
    for path in &entries {
        let text = std::fs::read_to_string(path).expect("fixture reads");
        let Some(expect) = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")) else {
            failures.push(format!("{}: first line is not `# expect: ...`", path.display()));
            continue;
        };
        match Profile::load(path) {
            Ok(_) => failures.push(format!("{}: loaded, expected {expect:?}", path.display())),
            Err(e) => {
                let message = e.to_string();
                println!("{message}");
                if !message.contains(expect.trim()) {
                    failures
                        .push(format!("{}:\n  expected {expect:?}\n  got      {message:?}", path.display()));
                }
                assert!(e.location().is_some_and(|l| l.line > 1), "{message}: no line past the comment");
                variants.insert(variant(&e));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every error a profile's text can cause has at least one fixture.
    let all = [
        "Syntax",
        "UnknownKey",
        "MissingKey",
        "BadName",
        "DuplicateName",
        "BadCidr",
        "DuplicateCidr",
        "BadIp",
        "DuplicateIp",
        "BadLevel",
        "BadArea",
        "BadPort",
        "BadTransport",
        "BadProtocol",
        "EmptyList",
        "EmptyEndpoint",
        "UnknownEquipmentClass",
        "UnknownName",
        "AmbiguousName",
        "HostKind",
        "BadAction",
        "UnitsNotModbus",
        "BadUnit",
        "BadTimestamp",
        "BadTimeOfDay",
        "BadDay",
        "WindowEndBeforeStart",
        "WindowShape",
        "BadSetting",
    ];
    let missing: Vec<_> = all.iter().filter(|v| !variants.contains(**v)).collect();
    assert!(missing.is_empty(), "no fixture for {missing:?}");
}

#[test]
fn unreadable_file_is_a_read_error() {
    let err = Profile::load(Path::new(FIXTURES).join("does-not-exist.toml")).expect_err("missing file");
    assert!(matches!(err, ProfileError::Read { .. }));
    assert!(err.to_string().contains("does-not-exist.toml: cannot read the profile"), "{err}");
    assert!(err.location().is_none());
}

#[test]
fn error_quotes_value_line_and_column() {
    let text = "[[zone]]\nname = \"lab\"\ncidr = \"10.0.0.300/24\"\nlevel = 2\narea = \"fab\"\n";
    let err = Profile::from_str(text, "profiles/x.toml").expect_err("bad cidr");
    assert_eq!(
        err.to_string(),
        "profiles/x.toml:3:8: zone \"lab\": cidr \"10.0.0.300/24\" is not an IP network"
    );
}

#[test]
fn errors_stay_small_enough_to_return_by_value() {
    // clippy's result_large_err fires at 128 bytes; callers return this through `?`.
    assert!(std::mem::size_of::<ProfileError>() < 128, "{}", std::mem::size_of::<ProfileError>());
}
