//! Rules: compare what the wire shows with the profile (authorisations, conduits, change
//! windows, declared services) and the baseline (what is normal), and raise occurrences that
//! the [`AlertBook`](crate::alert::AlertBook) aggregates into alerts.
//!
//! Context decides severity: an authorised host inside a change window is not a stranger at
//! 3 a.m. Without a baseline, rules that need one ("not seen before") stay quiet, while rules
//! about intrinsically risky operations (writes, deletes, diagnostics, device control) still
//! fire; with a baseline, operations the baseline holds for the same pair are normal.

pub mod catalogue;

use std::collections::BTreeSet;
use std::net::IpAddr;

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use crate::advisory::{AdvisoryIndex, Confidence, DeviceIdentity, Status};

use crate::alert::{Occurrence, PurdueEnds, Severity};
use crate::bacnet::record::BacnetDetail;
use crate::baseline::{self, Baseline};
use crate::hsms::gem::Gem;
use crate::inventory::{Inventory, InventoryEvent};
use crate::modbus::{ModbusDetail, ModbusDir};
use crate::profile::{Action, Authorization, ConduitVerdict, FlowService, Profile};
use crate::record::{Event, FlowRecord, OtBody, OtMessage, TxOutcome};

/// Thresholds of the sweep and flood rules.
#[derive(Clone, Debug)]
pub struct RuleLimits {
    /// Distinct unit ids one client addresses on one server within `window_ns` (unit sweep).
    pub unit_sweep: usize,
    /// Distinct unit ids asked for device identification (FC 43/14) within `window_ns`.
    pub devid_sweep: usize,
    /// Illegal-data-address exceptions to one client within `window_ns` (address sweep).
    pub address_sweep: u32,
    /// Who-Is/Who-Has from one host within `window_ns`.
    pub discovery_flood: u32,
    /// Devices whose object-list one host reads (outside the baseline) within `window_ns`.
    pub enumeration: usize,
    pub window_ns: i64,
    /// Tracked scanner states; beyond it the oldest are forgotten.
    pub max_tracked: usize,
    /// Conversations remembered as judged. Beyond it they are all forgotten: a conversation
    /// seen again is judged again, and an alert it raises again aggregates into the one it
    /// raised before.
    pub max_judged: usize,
}

impl Default for RuleLimits {
    fn default() -> Self {
        RuleLimits {
            unit_sweep: 5,
            devid_sweep: 3,
            address_sweep: 10,
            discovery_flood: 20,
            enumeration: 2,
            window_ns: 60_000_000_000,
            max_tracked: 10_000,
            max_judged: 1 << 18,
        }
    }
}

#[derive(Default)]
struct Sweep {
    start_ns: i64,
    units: BTreeSet<u8>,
    devid_units: BTreeSet<u8>,
    exceptions: u32,
    frames: Vec<u64>,
}

#[derive(Default)]
struct Flood {
    start_ns: i64,
    count: u32,
    devices: BTreeSet<IpAddr>,
    frames: Vec<u64>,
}

/// The rules and their memory across events.
pub struct RuleEngine {
    pub limits: RuleLimits,
    sweeps: FxHashMap<(IpAddr, IpAddr), Sweep>,
    floods: FxHashMap<IpAddr, Flood>,
    enumerations: FxHashMap<IpAddr, Flood>,
    /// Conversations already judged (new/violation), so a flow is judged once.
    judged: FxHashSet<(IpAddr, IpAddr, u16, u8)>,
    /// Identity values already compared with the baseline.
    id_checked: FxHashSet<(IpAddr, &'static str, String)>,
    /// Identity values that changed, with the key of their alert: later messages showing the
    /// same value add evidence to it.
    changed: FxHashMap<(IpAddr, &'static str), (serde_json::Value, String)>,
    /// Advisories to match identities against (`asset.vulnerable`).
    advisories: Option<Arc<AdvisoryIndex>>,
    /// The identity fingerprint last matched per asset.
    vuln_checked: FxHashMap<IpAddr, String>,
    /// Recipe upload requests judged suspicious, waiting for the tool's answer: (host, tool,
    /// system bytes) → (severity, PPID, request frame).
    uploads: FxHashMap<(IpAddr, IpAddr, u32), (Severity, String, u64)>,
}

impl Default for RuleEngine {
    fn default() -> Self {
        RuleEngine::new(RuleLimits::default())
    }
}

/// What the rules see besides the event.
pub struct Ctx<'a> {
    pub profile: &'a Profile,
    pub baseline: Option<&'a Baseline>,
    pub inventory: &'a Inventory,
}

impl Ctx<'_> {
    fn ends(&self, src: Option<IpAddr>, dst: Option<IpAddr>) -> PurdueEnds {
        let place = |ip: Option<IpAddr>| ip.map(|ip| self.inventory.placement(ip, self.profile));
        let (s, d) = (place(src), place(dst));
        PurdueEnds {
            src: s.as_ref().and_then(|p| p.level.map(|l| l.to_string())),
            dst: d.as_ref().and_then(|p| p.level.map(|l| l.to_string())),
            src_area: s.and_then(|p| p.area),
            dst_area: d.and_then(|p| p.area),
        }
    }

    fn level_tenths(&self, ip: IpAddr) -> Option<u8> {
        self.inventory.placement(ip, self.profile).level.map(|l| l.tenths())
    }

    fn name(&self, ip: IpAddr) -> String {
        match self.profile.asset(ip) {
            Some(a) => format!("{} ({ip})", a.name),
            None => ip.to_string(),
        }
    }

    /// Profile authorisation of `action` from `src` on `dst`.
    fn authz(&self, action: Action, src: IpAddr, dst: IpAddr, unit: Option<u8>) -> Authorization {
        self.profile.authorized(action, src, dst, unit)
    }

    /// Whether `ts` falls in a change window for `target` (None when the profile has none).
    fn window(&self, ts_ns: i64, target: IpAddr) -> Option<bool> {
        if self.profile.change_windows().is_empty() {
            return None;
        }
        Some(self.profile.in_change_window(ts_ns, target).is_some())
    }
}

fn message_json(m: &OtMessage) -> serde_json::Value {
    json!({
        "frame": m.frame,
        "proto": m.body.proto_name(),
        "src": m.src,
        "dst": m.dst,
        "what": m.body.summary(),
        "malformed": m.malformed,
        "anomalies": m.anomalies,
    })
}

/// Severity of an operation from its authorisation and the baseline.
/// Returns None when the operation is normal (in the baseline and not denied, or authorised
/// inside a change window when windows exist... which still reports, at low).
fn judge(authz: Authorization, in_baseline: bool, window: Option<bool>, base: Severity) -> Option<Severity> {
    match authz {
        Authorization::Denied => Some(base.raise()),
        Authorization::Allowed(_) => match window {
            // Authorised and in the window: on record, at the lowest useful severity.
            Some(true) => None,
            Some(false) if !in_baseline => Some(base.lower()),
            _ => None,
        },
        Authorization::NoRule if in_baseline => None,
        Authorization::NoRule => Some(base),
    }
}

impl RuleEngine {
    pub fn new(limits: RuleLimits) -> RuleEngine {
        RuleEngine {
            limits,
            sweeps: FxHashMap::default(),
            floods: FxHashMap::default(),
            enumerations: FxHashMap::default(),
            judged: FxHashSet::default(),
            id_checked: FxHashSet::default(),
            changed: FxHashMap::default(),
            advisories: None,
            vuln_checked: FxHashMap::default(),
            uploads: FxHashMap::default(),
        }
    }

    /// Matches asset identities against these advisories (`asset.vulnerable`).
    pub fn set_advisories(&mut self, index: Arc<AdvisoryIndex>) {
        self.advisories = Some(index);
    }

    /// Evaluates one decoder event and the inventory's events for it.
    pub fn evaluate(
        &mut self,
        ev: &Event,
        inv_events: &[InventoryEvent],
        cx: &Ctx<'_>,
        out: &mut Vec<Occurrence>,
    ) {
        for ie in inv_events {
            self.on_inventory(ie, cx, out);
        }
        match ev {
            Event::Message(m) => self.on_message(m, cx, out),
            Event::Flow(f) => self.on_flow(f, cx, out),
            Event::Transaction(t) => {
                if t.proto == "hsms" && t.outcome == TxOutcome::Timeout {
                    out.push(self.occ(
                        cx,
                        "hsms.transaction_timeout",
                        Severity::Low,
                        t.ts_ns,
                        Some(t.src),
                        Some(t.dst),
                        Some("hsms"),
                        String::new(),
                        format!(
                            "{} from {} to {} got no reply within T3",
                            t.what,
                            cx.name(t.src),
                            cx.name(t.dst)
                        ),
                        vec![t.request_frame],
                        None,
                    ));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn occ(
        &self,
        cx: &Ctx<'_>,
        rule: &'static str,
        severity: Severity,
        ts_ns: i64,
        src: Option<IpAddr>,
        dst: Option<IpAddr>,
        proto: Option<&'static str>,
        key: String,
        summary: String,
        frames: Vec<u64>,
        message: Option<serde_json::Value>,
    ) -> Occurrence {
        let def = catalogue::rule(rule);
        Occurrence {
            rule,
            severity,
            ts_ns,
            src,
            dst,
            proto,
            key,
            summary,
            frames,
            message,
            purdue: cx.ends(src, dst),
            standard: def.map_or("", |d| d.standard),
            ot_item: def.map_or("", |d| d.ot_item),
            evidence_only: false,
        }
    }

    fn on_inventory(&mut self, ie: &InventoryEvent, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        match ie {
            InventoryEvent::NewAsset { ip, ts_ns, frame } => {
                let known = match cx.baseline {
                    Some(b) => b.assets.contains(ip),
                    // Without a baseline everything is new; a profile with zones still says
                    // what is expected.
                    None => cx.profile.zones().is_empty() || cx.profile.zone_of(*ip).is_some(),
                };
                // Broadcast and multicast destinations are not assets that appeared.
                if known || is_group_address(*ip) {
                    return;
                }
                let sev = match cx.profile.level_area(*ip) {
                    Some(p) if p.level.tenths() <= 20 => Severity::Medium,
                    _ => Severity::Low,
                };
                out.push(self.occ(
                    cx,
                    "asset.new",
                    sev,
                    *ts_ns,
                    Some(*ip),
                    None,
                    None,
                    String::new(),
                    format!("New asset {} seen for the first time", cx.name(*ip)),
                    vec![*frame],
                    None,
                ));
            }
            InventoryEvent::IdentityChanged { ip, ts_ns, change } => {
                let what: Vec<String> = change
                    .changes
                    .iter()
                    .map(|(k, old, new)| format!("{k} {} → {}", plain(old), plain(new)))
                    .collect();
                let sev = match cx.window(*ts_ns, *ip) {
                    Some(true) => Severity::Medium,
                    _ => Severity::High,
                };
                let key = change.changes.iter().map(|(k, ..)| *k).collect::<Vec<_>>().join(",");
                for (k, _, new) in &change.changes {
                    self.changed.insert((*ip, *k), (new.clone(), key.clone()));
                }
                out.push(self.occ(
                    cx,
                    "asset.identity_changed",
                    sev,
                    *ts_ns,
                    Some(*ip),
                    None,
                    None,
                    key,
                    format!(
                        "{} changed identity: {} ({})",
                        cx.name(*ip),
                        what.join(", "),
                        change.proof.message
                    ),
                    vec![change.proof.frame],
                    None,
                ));
            }
            InventoryEvent::NewService { ip, service, ts_ns, frame, client } => {
                let declared = cx.profile.declared_services(*ip);
                let in_declared = declared.map(|d| {
                    d.iter().any(|s| {
                        let t = match s.proto {
                            crate::app::Transport::Tcp => "tcp",
                            crate::app::Transport::Udp => "udp",
                        };
                        format!("{t}/{}", s.port) == *service
                    })
                });
                let in_baseline = cx.baseline.map(|b| {
                    b.services.get(ip).is_some_and(|s| s.contains(service))
                        || bacnet_device_port_in_baseline(b, *ip, service)
                });
                let sev = match (in_declared, in_baseline) {
                    (Some(false), _) => Some(Severity::High),
                    (Some(true), _) => None,
                    (None, Some(false)) => Some(Severity::Medium),
                    _ => None,
                };
                if let Some(sev) = sev {
                    out.push(self.occ(
                        cx,
                        "service.unexpected",
                        sev,
                        *ts_ns,
                        Some(*client),
                        Some(*ip),
                        None,
                        service.clone(),
                        format!(
                            "{} answers on {service}, {} (first client {})",
                            cx.name(*ip),
                            if in_declared == Some(false) {
                                "which its equipment class does not declare"
                            } else {
                                "which the baseline does not hold"
                            },
                            client
                        ),
                        vec![*frame],
                        None,
                    ));
                }
            }
        }
    }

    fn on_flow(&mut self, f: &FlowRecord, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        let key =
            (f.client, f.server, f.server_port, matches!(f.transport, crate::app::Transport::Tcp) as u8);
        if self.judged.len() >= self.limits.max_judged.max(1) && !self.judged.contains(&key) {
            self.judged.clear();
        }
        let first_time = self.judged.insert(key);
        let frames = vec![f.first_frame];
        // Cleartext remote access involving an OT asset.
        if first_time && f.answered {
            if let Some((name, sev)) = cleartext(f) {
                let ot = |ip: IpAddr| {
                    cx.inventory.get(&ip).is_some_and(|a| a.is_ot())
                        || cx.level_tenths(ip).is_some_and(|l| l <= 30)
                };
                let known = cx.baseline.is_some_and(|b| b.has_conversation(f));
                if (ot(f.server) || ot(f.client)) && !known {
                    out.push(self.occ(
                        cx,
                        "service.cleartext_remote_access",
                        sev,
                        f.first_ts_ns,
                        Some(f.client),
                        Some(f.server),
                        None,
                        name.to_string(),
                        format!(
                            "{name} session from {} to {} (cleartext)",
                            cx.name(f.client),
                            cx.name(f.server)
                        ),
                        frames.clone(),
                        None,
                    ));
                }
            }
        }
        if !first_time {
            return;
        }
        // Conduits.
        let svc = match f.transport {
            crate::app::Transport::Tcp => FlowService::tcp(f.server_port),
            crate::app::Transport::Udp => FlowService::udp(f.server_port),
        };
        let app = f.app.and_then(|a| crate::app::AppProto::ALL.into_iter().find(|p| p.name() == a));
        let svc = match app {
            Some(a) => svc.with_app(a),
            None => svc,
        };
        if !is_group_address(f.server) {
            if let ConduitVerdict::NotAllowed = cx.profile.conduit_allowed(f.client, f.server, svc) {
                let (lc, ls) = (cx.level_tenths(f.client), cx.level_tenths(f.server));
                let sev = match (lc, ls) {
                    (Some(c), Some(s)) if c >= 40 && s <= 20 => Severity::Critical,
                    _ => Severity::High,
                };
                out.push(self.occ(
                    cx,
                    "conduit.violation",
                    sev,
                    f.first_ts_ns,
                    Some(f.client),
                    Some(f.server),
                    f.app,
                    String::new(),
                    format!(
                        "{} (level {}) reached {} (level {}) on {}/{}: no conduit allows it",
                        cx.name(f.client),
                        lc.map_or("?".into(), fmt_level),
                        cx.name(f.server),
                        ls.map_or("?".into(), fmt_level),
                        if f.transport == crate::app::Transport::Tcp { "tcp" } else { "udp" },
                        f.server_port
                    ),
                    frames.clone(),
                    None,
                ));
            }
        }
        // New conversations (baseline) and HSMS access from a host the tool has not seen.
        let Some(b) = cx.baseline else { return };
        if b.has_conversation(f) || is_group_address(f.server) {
            return;
        }
        let hsms_port_of_tool = b
            .conversations
            .iter()
            .any(|c| c.ends_with(" hsms") && c.contains(&format!(" -> {} tcp/{} ", f.server, f.server_port)));
        if hsms_port_of_tool || f.app == Some("hsms") {
            let denied =
                matches!(cx.authz(Action::HsmsSelect, f.client, f.server, None), Authorization::Denied);
            out.push(self.occ(
                cx,
                "hsms.unauthorized_host",
                if denied { Severity::Critical } else { Severity::High },
                f.first_ts_ns,
                Some(f.client),
                Some(f.server),
                Some("hsms"),
                String::new(),
                format!(
                    "{} connected to the HSMS port {} of {}, which the baseline has only from its own host",
                    cx.name(f.client),
                    f.server_port,
                    cx.name(f.server)
                ),
                frames.clone(),
                None,
            ));
        }
        let crosses = match (cx.level_tenths(f.client), cx.level_tenths(f.server)) {
            (Some(a), Some(b)) => a != b || b <= 20,
            _ => false,
        };
        out.push(self.occ(
            cx,
            "flow.new_conversation",
            if crosses { Severity::Medium } else { Severity::Low },
            f.first_ts_ns,
            Some(f.client),
            Some(f.server),
            f.app,
            String::new(),
            format!(
                "New conversation {} → {} on {}/{}{}",
                cx.name(f.client),
                cx.name(f.server),
                if f.transport == crate::app::Transport::Tcp { "tcp" } else { "udp" },
                f.server_port,
                if f.answered { "" } else { " (not answered)" }
            ),
            frames,
            None,
        ));
    }

    fn on_message(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        self.identity_vs_baseline(m, cx, out);
        self.vulnerable(m, cx, out);
        match &m.body {
            OtBody::Hsms(_) => self.hsms(m, cx, out),
            OtBody::Modbus(_) => self.modbus(m, cx, out),
            OtBody::Bacnet(_) => self.bacnet(m, cx, out),
        }
    }

    /// An asset whose identity (first seen, or changed) lies in an advisory's affected range.
    fn vulnerable(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        let Some(ix) = self.advisories.clone() else { return };
        if m.malformed || crate::inventory::observe_identity(m).is_none() {
            return;
        }
        let subject = crate::inventory::identity_subject(m);
        let Some(asset) = cx.inventory.get(&subject) else { return };
        let d = DeviceIdentity::from_identity(&asset.identity);
        let fp = d.fingerprint();
        if self.vuln_checked.get(&subject) == Some(&fp) {
            return;
        }
        if self.vuln_checked.len() >= self.limits.max_judged.max(1) {
            self.vuln_checked.clear();
        }
        self.vuln_checked.insert(subject, fp);
        for v in ix.match_device(&d).into_iter().filter(|v| v.status == Status::KnownAffected) {
            let base = cvss_severity(v.cvss);
            let sev = match v.confidence {
                Confidence::High => base,
                Confidence::Medium => base.lower(),
                Confidence::Low => base.lower().lower(),
            };
            let fix = match (&v.fixed_version, &v.remediation) {
                (Some(f), _) => format!("; fixed in {f}"),
                (None, Some(_)) => "; see the advisory's remediation".to_string(),
                _ => String::new(),
            };
            let summary = format!(
                "{} matches {} ({}): {}; {} CVE{}, CVSS {}, {} confidence{fix}",
                cx.name(subject),
                v.advisory,
                v.title,
                v.reason,
                v.cves.len(),
                if v.cves.len() == 1 { "" } else { "s" },
                v.cvss.map_or("?".to_string(), |c| format!("{c:.1}")),
                v.confidence.name(),
            );
            let evidence = json!({
                "advisory": v.advisory,
                "product": v.product,
                "affected_versions": v.affected_versions,
                "confidence": v.confidence,
                "version_check": v.version_check,
                "cves": v.cves,
                "cvss": v.cvss,
                "fixed_version": v.fixed_version,
                "remediation": v.remediation,
                "identity": asset.identity.values,
                "message": message_json(m),
            });
            out.push(self.occ(
                cx,
                "asset.vulnerable",
                sev,
                m.ts_ns,
                Some(subject),
                None,
                Some(m.body.proto_name()),
                v.advisory.clone(),
                summary,
                vec![m.frame],
                Some(evidence),
            ));
        }
    }

    /// Process programs leaving a tool (S7F5/S7F6, S7F25/S7F26) for a host that is not
    /// authorised for recipe upload from it, or that the baseline does not hold doing so.
    /// Judged at the request, raised when the tool answers with the program (with its size).
    fn recipe_upload(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        let OtBody::Hsms(h) = &m.body else { return };
        let ppid_of = |g: Option<&Gem>| match g {
            Some(Gem::ProcessProgramRequest { ppid }) | Some(Gem::ProcessProgramData { ppid, .. }) => {
                ppid.as_ref().map(|p| p.to_string())
            }
            _ => None,
        };
        match h.function {
            5 | 25 if m.from_client => {
                let (host, tool) = (m.src, m.dst);
                let facts = cx.baseline.and_then(|b| b.hsms(host, tool));
                let sf = format!("S7F{}", h.function);
                let in_base = facts.is_some_and(|f| f.functions.contains(&sf));
                let authz = cx.authz(Action::HsmsRecipeUpload, host, tool, None);
                let no_session = cx.baseline.is_some() && facts.is_none();
                let base = if cx.baseline.is_some() { Severity::High } else { Severity::Medium };
                let sev = if no_session || matches!(authz, Authorization::Denied) {
                    Some(Severity::Critical)
                } else {
                    judge(authz, in_base, cx.window(m.ts_ns, tool), base)
                };
                if let Some(sev) = sev {
                    if self.uploads.len() >= self.limits.max_tracked.max(1) {
                        self.uploads.clear();
                    }
                    let ppid = ppid_of(h.gem.as_deref()).unwrap_or_else(|| "?".into());
                    self.uploads.insert((host, tool, h.system), (sev, ppid, m.frame));
                }
            }
            6 | 26 if !m.from_client => {
                let (host, tool) = (m.dst, m.src);
                let Some((sev, req_ppid, req_frame)) = self.uploads.remove(&(host, tool, h.system)) else {
                    return;
                };
                let gem = h.gem.as_deref();
                if matches!(gem, Some(Gem::ProcessProgramData { not_found: true, .. })) {
                    return;
                }
                let ppid = ppid_of(gem).unwrap_or(req_ppid);
                let size = match gem {
                    Some(Gem::ProcessProgramData { body_len: Some(n), .. }) => *n as u64,
                    _ => u64::from(h.length.saturating_sub(10)),
                };
                let why = match cx.authz(Action::HsmsRecipeUpload, host, tool, None) {
                    Authorization::Denied => "the profile denies recipe upload for it",
                    Authorization::Allowed(_) => "outside its change window",
                    Authorization::NoRule if cx.baseline.is_some() => {
                        "the baseline does not hold it uploading recipes"
                    }
                    Authorization::NoRule => "no profile rule authorises it",
                };
                out.push(self.occ(
                    cx,
                    "hsms.recipe_upload",
                    sev,
                    m.ts_ns,
                    Some(host),
                    Some(tool),
                    Some("hsms"),
                    ppid.clone(),
                    format!(
                        "Recipe {ppid} ({size} bytes, S7F{}) uploaded from {} to {}: {why}",
                        h.function,
                        cx.name(tool),
                        cx.name(host)
                    ),
                    vec![req_frame, m.frame],
                    Some(message_json(m)),
                ));
            }
            _ => {}
        }
    }

    /// An identity that differs from the baseline's at its first sighting is a change too.
    fn identity_vs_baseline(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        if m.malformed {
            return;
        }
        let Some((obs, _)) = crate::inventory::observe_identity(m) else { return };
        let subject = crate::inventory::identity_subject(m);
        // A message showing a changed value again is more evidence of that change.
        for (k, v) in &obs {
            if let Some((new, key)) = self.changed.get(&(subject, *k)) {
                if new == v {
                    let mut o = self.occ(
                        cx,
                        "asset.identity_changed",
                        Severity::Info,
                        m.ts_ns,
                        Some(subject),
                        None,
                        None,
                        key.clone(),
                        String::new(),
                        vec![m.frame],
                        None,
                    );
                    o.evidence_only = true;
                    out.push(o);
                }
            }
        }
        let Some(b) = cx.baseline else { return };
        let Some(known) = b.identities.get(&subject) else { return };
        for (k, v) in obs {
            if !crate::inventory::identity_tracked(k) {
                continue;
            }
            let Some(old) = known.get(k) else { continue };
            if *old == v || !self.id_checked.insert((subject, k, v.to_string())) {
                continue;
            }
            self.changed.entry((subject, k)).or_insert_with(|| (v.clone(), k.to_string()));
            let sev = match cx.window(m.ts_ns, subject) {
                Some(true) => Severity::Medium,
                _ => Severity::High,
            };
            out.push(self.occ(
                cx,
                "asset.identity_changed",
                sev,
                m.ts_ns,
                Some(subject),
                None,
                Some(m.body.proto_name()),
                k.to_string(),
                format!(
                    "{} reports {k} {} where the baseline has {}",
                    cx.name(subject),
                    plain(&v),
                    plain(old)
                ),
                vec![m.frame],
                Some(message_json(m)),
            ));
        }
    }

    fn hsms(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        let OtBody::Hsms(h) = &m.body else { return };
        let msg = Some(message_json(m));
        // Protocol violations: malformed frames, out-of-state messages, rejects, S9 errors.
        let violation = m.anomalies.iter().copied().find(|a| HSMS_VIOLATIONS.contains(a));
        let s9 = h.stype == 0 && h.stream == 9 && h.function % 2 == 1;
        if m.malformed || violation.is_some() || s9 {
            let key = violation.unwrap_or(if s9 { "s9_error" } else { "malformed" }).to_string();
            let sev = if m.malformed || s9 || key == "data_before_select" {
                Severity::High
            } else {
                Severity::Medium
            };
            out.push(self.occ(
                cx,
                "hsms.protocol_violation",
                sev,
                m.ts_ns,
                Some(m.src),
                Some(m.dst),
                Some("hsms"),
                key.clone(),
                format!("HSMS {key} in {} from {} to {}", h.summary(), cx.name(m.src), cx.name(m.dst)),
                vec![m.frame],
                msg.clone(),
            ));
        }
        if h.stype != 0 || m.malformed {
            return;
        }
        if h.stream == 7 && matches!(h.function, 5 | 6 | 25 | 26) {
            self.recipe_upload(m, cx, out);
        }
        // Host → tool operations, judged by profile and baseline.
        let (host, tool) = if m.from_client { (m.src, m.dst) } else { (m.dst, m.src) };
        let facts = cx.baseline.and_then(|b| b.hsms(host, tool));
        let sf = format!("S{}F{}", h.stream, h.function);
        let in_base = |f: &str| facts.is_some_and(|x| x.functions.contains(f));
        let window = cx.window(m.ts_ns, tool);
        let Some(gem) = h.gem.as_deref() else {
            return;
        };
        let from_host = m.from_client;
        let mut push = |rule: &'static str, sev: Severity, key: String, summary: String| {
            out.push(self.occ(
                cx,
                rule,
                sev,
                m.ts_ns,
                Some(m.src),
                Some(m.dst),
                Some("hsms"),
                key,
                summary,
                vec![m.frame],
                msg.clone(),
            ));
        };
        match gem {
            Gem::HostCommand { rcmd, .. } | Gem::EnhancedRemoteCommand { rcmd, .. } if from_host => {
                let r = rcmd.as_ref().map_or("?".to_string(), |r| r.to_string());
                let known = facts.is_some_and(|f| f.rcmds.contains(&r));
                let authz = cx.authz(Action::HsmsRemoteCommand, host, tool, None);
                let no_session = cx.baseline.is_some() && facts.is_none();
                let sev = if no_session || matches!(authz, Authorization::Denied) {
                    Some(Severity::Critical)
                } else {
                    judge(authz, known, window, Severity::High)
                };
                if let Some(sev) = sev {
                    push(
                        "hsms.remote_command",
                        sev,
                        r.clone(),
                        format!("Remote command {r} ({sf}) from {} to {}", cx.name(host), cx.name(tool)),
                    );
                }
            }
            Gem::ProcessProgramSend { ppid, body_len, sha256 } if h.function == 3 || h.function == 23 => {
                let p = ppid.as_ref().map_or("?".to_string(), |p| p.to_string());
                let authz = cx.authz(Action::HsmsRecipeDownload, m.src, m.dst, None);
                let no_session = cx.baseline.is_some() && facts.is_none();
                let sev = if no_session || matches!(authz, Authorization::Denied) {
                    Some(Severity::Critical)
                } else {
                    judge(authz, in_base(&sf), window, Severity::High)
                };
                if let Some(sev) = sev {
                    push(
                        "hsms.recipe_download",
                        sev,
                        p.clone(),
                        format!(
                            "Recipe {p} ({} bytes, SHA-256 {}) sent by {} to {}",
                            body_len.map_or("?".into(), |b| b.to_string()),
                            sha256.as_deref().map_or("?", |s| s.get(..16).unwrap_or(s)),
                            cx.name(m.src),
                            cx.name(m.dst)
                        ),
                    );
                }
            }
            Gem::ProcessProgramDelete { all, ppids, .. } => {
                let authz = cx.authz(Action::HsmsRecipeDelete, m.src, m.dst, None);
                let base = if *all { Severity::Critical } else { Severity::High };
                if let Some(sev) =
                    judge(authz, in_base(&sf), window, base).or((*all).then_some(Severity::Critical))
                {
                    let list: Vec<String> = ppids.iter().take(5).map(|p| p.to_string()).collect();
                    push(
                        "hsms.recipe_delete",
                        sev,
                        if *all { "ALL".into() } else { list.join(",") },
                        format!(
                            "{} asked {} to delete {}",
                            cx.name(m.src),
                            cx.name(m.dst),
                            if *all {
                                "every process program".to_string()
                            } else {
                                format!("recipes {}", list.join(", "))
                            }
                        ),
                    );
                }
            }
            Gem::EquipmentConstantSend { constants, .. } => {
                let authz = cx.authz(Action::HsmsEquipmentConstant, m.src, m.dst, None);
                let base = if window == Some(false) || (cx.baseline.is_some() && facts.is_none()) {
                    Severity::High
                } else {
                    Severity::Medium
                };
                if let Some(sev) = judge(authz, in_base(&sf), window, base) {
                    let list: Vec<String> = constants
                        .iter()
                        .take(5)
                        .map(|c| format!("{}={}", opt(&c.ecid), opt(&c.ecv)))
                        .collect();
                    push(
                        "hsms.equipment_constant_change",
                        sev,
                        constants.iter().take(5).map(|c| opt(&c.ecid)).collect::<Vec<_>>().join(","),
                        format!(
                            "{} set equipment constants on {}: {}",
                            cx.name(m.src),
                            cx.name(m.dst),
                            list.join(", ")
                        ),
                    );
                }
            }
            Gem::EnableEventReport { ceed: false, .. } | Gem::EnableAlarm { .. } if !matches!(gem, Gem::EnableAlarm { aled, .. } if aled.enable) =>
            {
                let what = match gem {
                    Gem::EnableEventReport { all: true, .. } => "disabled every event report".to_string(),
                    Gem::EnableEventReport { .. } => "disabled event reports".to_string(),
                    _ => "disabled an alarm".to_string(),
                };
                let base_has = in_base(&baseline::hsms_fact_name(h));
                if !base_has {
                    push(
                        "hsms.event_or_alarm_disabled",
                        Severity::High,
                        sf.clone(),
                        format!("{} {what} on {} ({sf})", cx.name(m.src), cx.name(m.dst)),
                    );
                }
            }
            Gem::TerminalText { text, .. } if h.stream == 10 => {
                let known = if m.from_client {
                    in_base(&sf)
                } else {
                    facts.is_some_and(|f| f.equipment_functions.contains(&sf))
                };
                if !known {
                    let t = text.as_deref().unwrap_or("");
                    let t: String = t.chars().take(80).collect();
                    push(
                        "hsms.terminal_message",
                        if cx.baseline.is_some() && facts.is_none() {
                            Severity::Medium
                        } else {
                            Severity::Low
                        },
                        sf.clone(),
                        format!("{sf} from {} to {}: \"{t}\"", cx.name(m.src), cx.name(m.dst)),
                    );
                }
            }
            _ => {}
        }
    }

    fn modbus(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        let OtBody::Modbus(r) = &m.body else { return };
        let msg = Some(message_json(m));
        if m.malformed {
            let key = m.anomalies.first().copied().unwrap_or("malformed").to_string();
            out.push(self.occ(
                cx,
                "modbus.malformed",
                Severity::Medium,
                m.ts_ns,
                Some(m.src),
                Some(m.dst),
                Some("modbus"),
                key.clone(),
                format!("Malformed Modbus/TCP ({key}) from {} to {}", cx.name(m.src), cx.name(m.dst)),
                vec![m.frame],
                msg,
            ));
            return;
        }
        if r.dir == ModbusDir::Response {
            // Address sweeps: bursts of illegal-data-address exceptions to one client.
            if r.exception == Some(2) {
                self.sweep_exception(m, cx, out);
            }
            return;
        }
        let (client, server, unit) = (m.src, m.dst, r.unit);
        let facts = cx.baseline.and_then(|b| b.modbus(client, server, unit));
        let fkey = match (r.fc, r.sub, r.mei) {
            (8, Some(s), _) => format!("8/{s}"),
            (43, _, Some(t)) => format!("43/{t}"),
            (fc, ..) => fc.to_string(),
        };
        let known_fc = facts.is_some_and(|f| f.functions.contains(&fkey));
        let window = cx.window(m.ts_ns, server);
        self.sweep_request(m, cx, out);
        let mut push = |rule: &'static str, sev: Severity, key: String, summary: String| {
            out.push(self.occ(
                cx,
                rule,
                sev,
                m.ts_ns,
                Some(client),
                Some(server),
                Some("modbus"),
                key,
                summary,
                vec![m.frame],
                msg.clone(),
            ));
        };
        match r.fc {
            5 | 6 | 15 | 16 | 21 | 22 | 23 => {
                let authz = cx.authz(Action::ModbusWrite, client, server, Some(unit));
                let in_range = facts.is_some_and(|f| match (r.address, r.quantity) {
                    (Some(a), q) => {
                        let end = u32::from(a) + u32::from(q.unwrap_or(1).max(1)) - 1;
                        Baseline::modbus_range_known(f, &r.fc.to_string(), u32::from(a), end)
                    }
                    _ => true,
                });
                let base = if unit == 0 { Severity::Critical } else { Severity::High };
                // A client the baseline knows writing this function outside its usual
                // addresses is worth a look, not an emergency.
                let outside_range = known_fc && !in_range;
                let sev = match authz {
                    Authorization::Denied => Some(Severity::Critical),
                    _ if cx.baseline.is_some() && facts.is_none() => Some(base.raise()),
                    a if outside_range => judge(a, false, window, Severity::Medium),
                    a => judge(a, known_fc, window, base),
                };
                if let Some(sev) = sev {
                    let addr = r.address.map_or(String::new(), |a| format!(" at {a}"));
                    let qty = r.quantity.map_or(String::new(), |q| format!(" ×{q}"));
                    let note =
                        if outside_range { ", outside the addresses it writes in the baseline" } else { "" };
                    push(
                        "modbus.unauthorized_write",
                        sev,
                        r.fc.to_string(),
                        format!(
                            "{} wrote {}{addr}{qty} on {} unit {unit}{}{note}",
                            cx.name(client),
                            r.fc_name,
                            cx.name(server),
                            if unit == 0 { " (broadcast to every serial device)" } else { "" }
                        ),
                    );
                }
            }
            8 => {
                let sub = r.sub.unwrap_or(0);
                let (base, always) = match sub {
                    0x04 => (Severity::Critical, true),
                    0x01 | 0x0A => (Severity::High, true),
                    _ => (Severity::Medium, false),
                };
                let authz = cx.authz(Action::ModbusDiagnostics, client, server, Some(unit));
                let sev = if always && !matches!(authz, Authorization::Allowed(_)) {
                    Some(base)
                } else {
                    judge(authz, known_fc, window, base)
                };
                if let Some(sev) = sev {
                    push(
                        "modbus.diagnostics",
                        sev,
                        format!("8/{sub}"),
                        format!(
                            "{} sent diagnostics {} to {} unit {unit}",
                            cx.name(client),
                            r.sub_name.unwrap_or("sub-function"),
                            cx.name(server)
                        ),
                    );
                }
            }
            9 | 10 | 13 | 14 | 18 | 19 | 40 | 42 | 90 | 125 | 126 => {
                let (code, name, risk) = match &r.detail {
                    Some(ModbusDetail::Umas { umas_code, umas_name, umas_risk, .. }) => {
                        (format!("90/{umas_code:#04x}"), umas_name.unwrap_or("UMAS"), *umas_risk)
                    }
                    _ => (r.fc.to_string(), r.fc_name, "program"),
                };
                let critical = matches!(risk, "critical") || r.fc == 125;
                let authz = cx.authz(Action::ModbusProgram, client, server, Some(unit));
                let sev = match authz {
                    Authorization::Allowed(_) if window != Some(false) => None,
                    _ if critical => Some(Severity::Critical),
                    a => judge(a, known_fc, window, Severity::High),
                };
                if let Some(sev) = sev {
                    push(
                        "modbus.program_access",
                        sev,
                        code,
                        format!(
                            "{} used programming function {name} on {} unit {unit}",
                            cx.name(client),
                            cx.name(server)
                        ),
                    );
                }
            }
            _ => {}
        }
        if cx.baseline.is_some() && !known_fc && r.fc != 0 {
            out.push(self.occ(
                cx,
                "modbus.new_function",
                Severity::Low,
                m.ts_ns,
                Some(client),
                Some(server),
                Some("modbus"),
                fkey.clone(),
                format!(
                    "{} used {} ({fkey}) on {} unit {unit}, not in the baseline",
                    cx.name(client),
                    r.fc_name,
                    cx.name(server)
                ),
                vec![m.frame],
                Some(message_json(m)),
            ));
        }
    }

    fn sweep_request(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        let OtBody::Modbus(r) = &m.body else { return };
        let window = self.limits.window_ns;
        if self.sweeps.len() >= self.limits.max_tracked && !self.sweeps.contains_key(&(m.src, m.dst)) {
            self.sweeps.clear();
        }
        let s = self.sweeps.entry((m.src, m.dst)).or_default();
        if m.ts_ns - s.start_ns > window {
            *s = Sweep { start_ns: m.ts_ns, ..Default::default() };
        }
        let new_unit = s.units.insert(r.unit);
        let new_devid = r.fc == 43 && r.mei == Some(14) && s.devid_units.insert(r.unit);
        if (new_unit || new_devid) && s.frames.len() < 64 {
            s.frames.push(m.frame);
        }
        let units = s.units.len();
        let devid = s.devid_units.len();
        let frames = s.frames.clone();
        // Units the baseline already holds for this pair do not make a sweep.
        let known_units = |b: &Baseline| (0..=255u8).filter(|u| b.modbus(m.src, m.dst, *u).is_some()).count();
        let known = cx.baseline.map_or(0, known_units);
        let (hit, kind) = if new_devid && devid >= self.limits.devid_sweep {
            (true, "device-identification")
        } else if new_unit && units >= self.limits.unit_sweep.max(known + 1) {
            (true, "unit-id")
        } else {
            (false, "")
        };
        if hit {
            out.push(self.occ(
                cx,
                "modbus.scan",
                Severity::Medium,
                m.ts_ns,
                Some(m.src),
                Some(m.dst),
                Some("modbus"),
                kind.to_string(),
                format!(
                    "{} swept {} of {}: {} unit ids, {} asked for identification",
                    cx.name(m.src),
                    kind,
                    cx.name(m.dst),
                    units,
                    devid
                ),
                frames,
                Some(message_json(m)),
            ));
        }
    }

    fn sweep_exception(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        // Responses travel server → client: the sweep belongs to (client, server).
        let key = (m.dst, m.src);
        let window = self.limits.window_ns;
        let s = self.sweeps.entry(key).or_default();
        if m.ts_ns - s.start_ns > window {
            *s = Sweep { start_ns: m.ts_ns, ..Default::default() };
        }
        s.exceptions += 1;
        if s.frames.len() < 64 {
            s.frames.push(m.frame);
        }
        let n = s.exceptions;
        if n == self.limits.address_sweep {
            let frames = s.frames.clone();
            out.push(self.occ(
                cx,
                "modbus.scan",
                Severity::Medium,
                m.ts_ns,
                Some(m.dst),
                Some(m.src),
                Some("modbus"),
                "address".to_string(),
                format!(
                    "{} got {n} illegal-address exceptions from {}: an address sweep",
                    cx.name(m.dst),
                    cx.name(m.src)
                ),
                frames,
                Some(message_json(m)),
            ));
        }
    }

    fn bacnet(&mut self, m: &OtMessage, cx: &Ctx<'_>, out: &mut Vec<Occurrence>) {
        let OtBody::Bacnet(b) = &m.body else { return };
        let msg = Some(message_json(m));
        if m.malformed {
            let key = m.anomalies.first().copied().unwrap_or("malformed").to_string();
            out.push(self.occ(
                cx,
                "bacnet.malformed",
                Severity::Medium,
                m.ts_ns,
                Some(m.src),
                Some(m.dst),
                Some("bacnet"),
                key.clone(),
                format!("Malformed BACnet/IP ({key}) from {} to {}", cx.name(m.src), cx.name(m.dst)),
                vec![m.frame],
                msg,
            ));
            return;
        }
        let (client, device) = (m.src, m.dst);
        let facts = cx.baseline.and_then(|bl| bl.bacnet(client, device));
        let svc_name = b.service_name.unwrap_or("service");
        let known_svc = facts.is_some_and(|f| f.services.contains(svc_name));
        let window = cx.window(m.ts_ns, device);
        match (b.apdu_type, b.service) {
            // Discovery floods: Who-Is (8) and Who-Has (7).
            (Some(1), Some(7 | 8)) => {
                let lim = self.limits.discovery_flood;
                let wn = self.limits.window_ns;
                if self.floods.len() >= self.limits.max_tracked && !self.floods.contains_key(&client) {
                    self.floods.clear();
                }
                let f = self.floods.entry(client).or_default();
                if m.ts_ns - f.start_ns > wn {
                    *f = Flood { start_ns: m.ts_ns, ..Default::default() };
                }
                f.count += 1;
                if f.frames.len() < 64 {
                    f.frames.push(m.frame);
                }
                if f.count == lim {
                    let frames = f.frames.clone();
                    out.push(self.occ(
                        cx,
                        "bacnet.discovery_scan",
                        Severity::Medium,
                        m.ts_ns,
                        Some(client),
                        None,
                        Some("bacnet"),
                        "who-is".into(),
                        format!(
                            "{} sent {lim} Who-Is/Who-Has within a minute: a discovery flood",
                            cx.name(client)
                        ),
                        frames,
                        msg.clone(),
                    ));
                } else if f.count > lim {
                    out.push(self.occ(
                        cx,
                        "bacnet.discovery_scan",
                        Severity::Medium,
                        m.ts_ns,
                        Some(client),
                        None,
                        Some("bacnet"),
                        "who-is".into(),
                        format!("{} keeps flooding Who-Is/Who-Has", cx.name(client)),
                        vec![m.frame],
                        None,
                    ));
                }
            }
            // Writes: WriteProperty, WritePropertyMultiple (confirmed), WriteGroup (unconfirmed).
            (Some(0), Some(15 | 16)) | (Some(1), Some(10)) => {
                let authz = cx.authz(Action::BacnetWrite, client, device, None);
                let written: Vec<String> = b
                    .properties
                    .iter()
                    .map(|p| {
                        format!(
                            "{} {}",
                            p.object.map(|o| o.to_string()).unwrap_or_else(|| "-".into()),
                            p.property_name.map(str::to_string).unwrap_or_else(|| p.property.to_string())
                        )
                    })
                    .collect();
                let known = known_svc && facts.is_some_and(|f| written.iter().all(|w| f.written.contains(w)));
                let high_prio = b
                    .properties
                    .iter()
                    .any(|p| matches!(p.priority, Some(1 | 2)) || matches!(p.property, 81 | 87));
                let base = if high_prio { Severity::Critical } else { Severity::High };
                let sev = match authz {
                    Authorization::Denied => Some(Severity::Critical),
                    _ if cx.baseline.is_some() && facts.is_none() => Some(base),
                    a => judge(a, known, window, base),
                };
                if let Some(sev) = sev {
                    out.push(self.occ(
                        cx,
                        "bacnet.unauthorized_write",
                        sev,
                        m.ts_ns,
                        Some(client),
                        Some(device),
                        Some("bacnet"),
                        written.first().cloned().unwrap_or_default(),
                        format!("{} {svc_name} to {}: {}", cx.name(client), cx.name(device), b.summary()),
                        vec![m.frame],
                        msg.clone(),
                    ));
                }
            }
            // DeviceCommunicationControl (17), ReinitializeDevice (20).
            (Some(0), Some(17 | 20)) => {
                let authz = cx.authz(Action::BacnetDeviceControl, client, device, None);
                let critical = match b.detail.as_deref() {
                    Some(BacnetDetail::DeviceCommunicationControl { enable_disable, .. }) => {
                        matches!(enable_disable, Some(1 | 2))
                    }
                    Some(BacnetDetail::ReinitializeDevice { state, .. }) => matches!(state, 0 | 1),
                    _ => false,
                };
                let base = if critical { Severity::Critical } else { Severity::High };
                let sev = match authz {
                    Authorization::Allowed(_) if window != Some(false) => None,
                    Authorization::Allowed(_) => Some(base.lower()),
                    _ => Some(base),
                };
                if let Some(sev) = sev {
                    out.push(self.occ(
                        cx,
                        "bacnet.device_control",
                        sev,
                        m.ts_ns,
                        Some(client),
                        Some(device),
                        Some("bacnet"),
                        svc_name.to_string(),
                        format!("{} sent {} to {}", cx.name(client), b.summary(), cx.name(device)),
                        vec![m.frame],
                        msg.clone(),
                    ));
                }
            }
            // AtomicWriteFile (7), CreateObject (10), DeleteObject (11).
            (Some(0), Some(7 | 10 | 11)) => {
                let authz = cx.authz(Action::BacnetFile, client, device, None);
                if let Some(sev) = judge(authz, known_svc, window, Severity::High) {
                    out.push(self.occ(
                        cx,
                        "bacnet.file_or_object_change",
                        sev,
                        m.ts_ns,
                        Some(client),
                        Some(device),
                        Some("bacnet"),
                        svc_name.to_string(),
                        format!("{} sent {} to {}", cx.name(client), b.summary(), cx.name(device)),
                        vec![m.frame],
                        msg.clone(),
                    ));
                }
            }
            // Object enumeration: reads of object-list outside the baseline.
            (Some(0), Some(12 | 14)) if b.properties.iter().any(|p| p.property == 76) => {
                let known = facts.is_some_and(|f| f.enumerated.contains("object-list"));
                if !known {
                    let lim = self.limits.enumeration;
                    let wn = self.limits.window_ns;
                    let f = self.enumerations.entry(client).or_default();
                    if m.ts_ns - f.start_ns > wn {
                        *f = Flood { start_ns: m.ts_ns, ..Default::default() };
                    }
                    f.devices.insert(device);
                    if f.frames.len() < 64 {
                        f.frames.push(m.frame);
                    }
                    if f.devices.len() >= lim {
                        let frames = f.frames.clone();
                        let n = f.devices.len();
                        out.push(self.occ(
                            cx,
                            "bacnet.discovery_scan",
                            Severity::Medium,
                            m.ts_ns,
                            Some(client),
                            None,
                            Some("bacnet"),
                            "object-list".into(),
                            format!(
                                "{} enumerated the objects of {n} devices (object-list reads)",
                                cx.name(client)
                            ),
                            frames,
                            msg.clone(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// HSMS anomaly codes that are protocol violations (others, like `separate`, are normal).
const HSMS_VIOLATIONS: &[&str] = &[
    "data_before_select",
    "unknown_session_id",
    "reject",
    "unsupported_ptype",
    "unknown_stype",
    "short_frame_length_lt_10",
    "length_exceeds_data",
    "control_message_bad_session_id",
    "bad_secs2_format_code",
    "s9_unrecognized_function",
    "oversize",
];

/// Whether `service` is the BACnet/IP port of an address the baseline holds as a BACnet
/// device. BACnet/IP peers send from their own port to the other's (47808 ↔ 47808) and the
/// first sender of such a flow is taken as its client, so a device whose unicast I-Am came
/// before the BMS's reads is learned as the client of that flow, and its own port is missing
/// from the baseline's services although the baseline shows it answering requests.
fn bacnet_device_port_in_baseline(b: &Baseline, ip: IpAddr, service: &str) -> bool {
    let bacnet_port = service
        .strip_prefix("udp/")
        .and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| (47808..=47823).contains(&p));
    if !bacnet_port {
        return false;
    }
    let as_device = format!(" -> {ip}");
    b.identities.get(&ip).is_some_and(|i| i.contains_key("device_instance"))
        || b.bacnet.keys().any(|k| k.ends_with(&as_device))
}

fn cleartext(f: &FlowRecord) -> Option<(&'static str, Severity)> {
    use crate::app::Transport::{Tcp, Udp};
    Some(match (f.transport, f.server_port) {
        (Tcp, 23) => ("Telnet", Severity::High),
        (Tcp, 21) => ("FTP", Severity::High),
        (Udp, 69) => ("TFTP", Severity::High),
        (Tcp, 5900..=5910) => ("VNC", Severity::High),
        (Tcp, 80 | 8080) => ("HTTP", Severity::Medium),
        (Udp, 161) => ("SNMP", Severity::Medium),
        _ => return None,
    })
}

/// Alert severity from a CVSS base score (the CVSS v3 qualitative scale).
fn cvss_severity(score: Option<f32>) -> Severity {
    match score {
        Some(s) if s >= 9.0 => Severity::Critical,
        Some(s) if s >= 7.0 => Severity::High,
        Some(s) if s >= 4.0 => Severity::Medium,
        Some(s) if s > 0.0 => Severity::Low,
        Some(_) => Severity::Info,
        // No score: judged as medium rather than ignored.
        None => Severity::Medium,
    }
}

fn is_group_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_broadcast() || v.is_multicast() || v.octets()[3] == 255,
        IpAddr::V6(v) => v.is_multicast(),
    }
}

fn fmt_level(t: u8) -> String {
    if t % 10 == 0 {
        (t / 10).to_string()
    } else {
        format!("{}.{}", t / 10, t % 10)
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn opt(v: &Option<crate::hsms::gem::GemValue>) -> String {
    v.as_ref().map_or("?".to_string(), |v| v.to_string())
}

#[allow(dead_code)]
fn _uses(_: &baseline::Fact) {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::inventory::InventoryLimits;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn new_service(at: &str, service: &str) -> InventoryEvent {
        InventoryEvent::NewService {
            ip: ip(at),
            service: service.into(),
            ts_ns: 0,
            frame: 1,
            client: ip("192.0.2.77"),
        }
    }

    #[test]
    fn bacnet_port_of_a_baseline_device_is_not_an_unexpected_service() {
        let (bms, ahu, pcm) = ("192.0.2.10", "192.0.2.21", "192.0.2.23");
        let mut b = Baseline::new();
        // The BMS read the AHU; the PCM is known by its I-Am. Neither flow had the device as
        // its server, so the baseline's services hold only the BMS's port.
        b.bacnet.insert(baseline::pair(ip(bms), ip(ahu)), Default::default());
        b.identities.insert(ip(pcm), [("device_instance".to_string(), json!(3303))].into_iter().collect());
        b.services.entry(ip(bms)).or_default().insert("udp/47808".into());
        let (profile, inv) = (Profile::empty(), Inventory::new(InventoryLimits::default()));
        let cx = Ctx { profile: &profile, baseline: Some(&b), inventory: &inv };
        let mut eng = RuleEngine::default();
        let mut out = Vec::new();
        for at in [ahu, pcm, bms] {
            eng.on_inventory(&new_service(at, "udp/47808"), &cx, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        // Another port of a known device, and the BACnet port of a host the baseline does not
        // hold as a device, are still unexpected.
        eng.on_inventory(&new_service(ahu, "udp/161"), &cx, &mut out);
        eng.on_inventory(&new_service(ahu, "tcp/47808"), &cx, &mut out);
        eng.on_inventory(&new_service("192.0.2.66", "udp/47808"), &cx, &mut out);
        let got: Vec<(&str, String)> = out.iter().map(|o| (o.rule, o.key.clone())).collect();
        assert_eq!(
            got,
            [
                ("service.unexpected", "udp/161".to_string()),
                ("service.unexpected", "tcp/47808".to_string()),
                ("service.unexpected", "udp/47808".to_string())
            ]
        );
        assert_eq!(out[2].dst, Some(ip("192.0.2.66")));
    }

    fn flow(client: &str, server: &str) -> FlowRecord {
        FlowRecord {
            flow: 1,
            phase: crate::record::FlowPhase::Answered,
            transport: crate::app::Transport::Tcp,
            client: ip(client),
            client_port: 40000,
            server: ip(server),
            server_port: 502,
            client_mac: None,
            server_mac: None,
            vlan: 0,
            first_ts_ns: 0,
            last_ts_ns: 0,
            first_frame: 1,
            packets_to_server: 1,
            packets_to_client: 1,
            bytes_to_server: 0,
            bytes_to_client: 0,
            app: None,
            roles_from_syn: true,
            answered: true,
            syn: true,
            syn_ack: true,
            fin: false,
            rst: false,
            client_ttl: 64,
            server_ttl: 64,
            end: None,
        }
    }

    fn msg(src: &str, dst: &str, frame: u64, from_client: bool, body: OtBody) -> Event {
        Event::Message(OtMessage {
            body,
            src: ip(src),
            dst: ip(dst),
            sport: 40000,
            dport: 5000,
            frame,
            ts_ns: frame as i64 * 1_000_000,
            flow: 1,
            malformed: false,
            anomalies: Vec::new(),
            request_frame: None,
            latency_us: None,
            orphan: false,
            from_client,
        })
    }

    fn hsms(function: u8, system: u32, length: u32, gem: Gem) -> OtBody {
        OtBody::Hsms(crate::hsms::HsmsRecord {
            stream: 7,
            function,
            wbit: function % 2 == 1,
            system,
            length,
            gem: Some(Box::new(gem)),
            ..Default::default()
        })
    }

    /// Runs events through an inventory and the rules; returns the occurrences.
    fn run(eng: &mut RuleEngine, profile: &Profile, events: &[Event]) -> Vec<Occurrence> {
        let mut inv = Inventory::new(InventoryLimits::default());
        let mut out = Vec::new();
        for ev in events {
            let mut ie = Vec::new();
            inv.observe(ev, &mut ie);
            let cx = Ctx { profile, baseline: None, inventory: &inv };
            eng.evaluate(ev, &ie, &cx, &mut out);
        }
        out
    }

    #[test]
    fn recipe_upload_by_a_host_not_authorised_for_the_tool() {
        use crate::hsms::gem::GemValue;
        let profile = Profile::from_str(
            "[[authorize]]\naction = \"hsms.recipe_upload\"\nhosts = [\"10.0.3.10\"]\ntargets = [\"10.0.2.20\"]\n",
            "test.toml",
        )
        .unwrap();
        let (eap, rogue, tool) = ("10.0.3.10", "10.0.3.99", "10.0.2.20");
        let req = |ppid: &str| Gem::ProcessProgramRequest { ppid: Some(GemValue::Text(ppid.into())) };
        let data = |ppid: &str| Gem::ProcessProgramData {
            ppid: Some(GemValue::Text(ppid.into())),
            body_len: Some(4096),
            sha256: None,
            not_found: false,
        };
        let none = Gem::ProcessProgramData { ppid: None, body_len: None, sha256: None, not_found: true };
        let events = [
            // The authorised EAP uploads a recipe: nothing.
            msg(eap, tool, 1, true, hsms(5, 1, 20, req("ETCH-A"))),
            msg(tool, eap, 2, false, hsms(6, 1, 4120, data("ETCH-A"))),
            // Another host does: critical (the profile authorises only the EAP).
            msg(rogue, tool, 3, true, hsms(5, 2, 20, req("ETCH-A"))),
            msg(tool, rogue, 4, false, hsms(6, 2, 4120, data("ETCH-A"))),
            // A recipe the tool does not have: nothing left the tool.
            msg(rogue, tool, 5, true, hsms(5, 3, 20, req("NOPE"))),
            msg(tool, rogue, 6, false, hsms(6, 3, 12, none)),
            // Formatted process program (S7F25/S7F26): size from the message length.
            msg(rogue, tool, 7, true, hsms(25, 4, 20, req("DEPO-B"))),
            msg(
                tool,
                rogue,
                8,
                false,
                hsms(
                    26,
                    4,
                    2010,
                    Gem::ProcessProgramData {
                        ppid: Some(GemValue::Text("DEPO-B".into())),
                        body_len: None,
                        sha256: None,
                        not_found: false,
                    },
                ),
            ),
            // An unsolicited S7F6 (no request seen) proves nothing about who asked.
            msg(tool, rogue, 9, false, hsms(6, 99, 4120, data("ETCH-A"))),
        ];
        let mut eng = RuleEngine::default();
        let out: Vec<Occurrence> =
            run(&mut eng, &profile, &events).into_iter().filter(|o| o.rule == "hsms.recipe_upload").collect();
        let got: Vec<(&str, Severity, Vec<u64>)> =
            out.iter().map(|o| (o.key.as_str(), o.severity, o.frames.clone())).collect();
        assert_eq!(
            got,
            [("ETCH-A", Severity::Critical, vec![3, 4]), ("DEPO-B", Severity::Critical, vec![7, 8])]
        );
        assert_eq!((out[0].src, out[0].dst), (Some(ip(rogue)), Some(ip(tool))));
        assert!(out[0].summary.contains("4096 bytes"), "{}", out[0].summary);
        assert!(out[0].summary.contains("denies"), "{}", out[0].summary);
        assert!(out[1].summary.contains("2000 bytes, S7F26"), "{}", out[1].summary);
        // Without any profile rule or baseline, an upload is still on record, at medium.
        let mut eng = RuleEngine::default();
        let out = run(&mut eng, &Profile::empty(), &events[..2]);
        let up: Vec<_> = out.iter().filter(|o| o.rule == "hsms.recipe_upload").collect();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].severity, Severity::Medium);
    }

    fn devid(vendor: &str, code: &str, rev: &str) -> OtBody {
        use crate::modbus::record::{DeviceIdObject, ModbusRecord};
        let obj = |id: u8, v: &str| DeviceIdObject { id, name: None, value: v.into(), truncated: false };
        OtBody::Modbus(ModbusRecord {
            dir: ModbusDir::Response,
            unit: 1,
            fc: 43,
            detail: Some(ModbusDetail::DeviceId {
                read_code: 1,
                read_code_name: None,
                conformity: 1,
                conformity_name: None,
                more_follows: false,
                next_object_id: 0,
                number_of_objects: 3,
                objects: vec![obj(0, vendor), obj(1, code), obj(2, rev)],
            }),
            ..Default::default()
        })
    }

    fn demo_index() -> Arc<AdvisoryIndex> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../captures/advisories");
        let mut advs = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                advs.push(crate::advisory::csaf::parse(&std::fs::read(p).unwrap()).unwrap());
            }
        }
        Arc::new(AdvisoryIndex::new(&advs, crate::advisory::Aliases::builtin().unwrap()))
    }

    #[test]
    fn asset_vulnerable_when_an_identity_appears_or_changes_into_an_affected_range() {
        let (hmi, plc, meter) = ("10.0.3.5", "10.0.1.5", "10.0.1.6");
        let events = [
            // A fixed M221 firmware: nothing.
            msg(plc, hmi, 1, false, devid("Schneider Electric", "TM221CE16R", "1.6.2.0")),
            // The same device again: nothing new.
            msg(plc, hmi, 2, false, devid("Schneider Electric", "TM221CE16R", "1.6.2.0")),
            // Downgraded into the affected range: raised (CVSS 7.7, high confidence).
            msg(plc, hmi, 3, false, devid("Schneider Electric", "TM221CE16R", "1.6.1.0")),
            msg(plc, hmi, 4, false, devid("Schneider Electric", "TM221CE16R", "1.6.1.0")),
            // A PM5560 meter that appears with an affected firmware.
            msg(meter, hmi, 5, false, devid("Schneider Electric", "METSEPM5560", "2.4.0")),
            // A device the advisories do not name.
            msg("10.0.1.7", hmi, 6, false, devid("Norvik Automation", "NX-520-CPU", "V2.14")),
        ];
        let mut eng = RuleEngine::default();
        eng.set_advisories(demo_index());
        let out: Vec<Occurrence> = run(&mut eng, &Profile::empty(), &events)
            .into_iter()
            .filter(|o| o.rule == "asset.vulnerable")
            .collect();
        let got: Vec<(Option<IpAddr>, &str, Severity, Vec<u64>)> =
            out.iter().map(|o| (o.src, o.key.as_str(), o.severity, o.frames.clone())).collect();
        assert_eq!(
            got,
            [
                (Some(ip(plc)), "ICSA-18-240-01", Severity::High, vec![3]),
                (Some(ip(meter)), "ICSA-18-240-03", Severity::High, vec![5]),
            ]
        );
        let ev = out[0].message.as_ref().unwrap();
        assert_eq!(ev["confidence"], "high");
        assert_eq!(ev["cves"].as_array().unwrap().len(), 3);
        assert!(out[0].summary.contains("CVSS 7.7"), "{}", out[0].summary);
        // Without advisories the rule is silent.
        let mut eng = RuleEngine::default();
        assert!(run(&mut eng, &Profile::empty(), &events).iter().all(|o| o.rule != "asset.vulnerable"));
    }

    #[test]
    fn cvss_scale() {
        assert_eq!(cvss_severity(Some(9.8)), Severity::Critical);
        assert_eq!(cvss_severity(Some(7.0)), Severity::High);
        assert_eq!(cvss_severity(Some(6.9)), Severity::Medium);
        assert_eq!(cvss_severity(Some(3.1)), Severity::Low);
        assert_eq!(cvss_severity(None), Severity::Medium);
    }

    #[test]
    fn judged_conversations_are_bounded() {
        let b = Baseline::new();
        let (profile, inv) = (Profile::empty(), Inventory::new(InventoryLimits::default()));
        let cx = Ctx { profile: &profile, baseline: Some(&b), inventory: &inv };
        let mut eng = RuleEngine::new(RuleLimits { max_judged: 3, ..Default::default() });
        let mut out = Vec::new();
        // A conversation is judged once while it is remembered.
        eng.on_flow(&flow("10.0.0.1", "10.0.1.1"), &cx, &mut out);
        eng.on_flow(&flow("10.0.0.1", "10.0.1.1"), &cx, &mut out);
        assert_eq!(out.len(), 1);
        for i in 2..100 {
            eng.on_flow(&flow(&format!("10.0.0.{i}"), "10.0.1.1"), &cx, &mut out);
            assert!(eng.judged.len() <= 3);
        }
        assert_eq!(out.len(), 99);
        assert!(out.iter().all(|o| o.rule == "flow.new_conversation"));
    }
}
