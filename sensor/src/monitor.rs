//! The state side of the sensor: takes the decoders' events in capture order and keeps the
//! inventory, learns a baseline (when asked), runs the rules and aggregates alerts. The same
//! sink serves `fabmon inventory`, `fabmon alerts`, `fabmon baseline learn` and the live sensor.

use crate::alert::{Alert, AlertBook, Occurrence};
use crate::baseline::{Baseline, BaselineBuilder};
use crate::engine::EngineConfig;
use crate::inventory::{Inventory, InventoryEvent, InventoryLimits};
use crate::pipeline::EventSink;
use crate::profile::Profile;
use crate::record::Event;
use crate::rules::{Ctx, RuleEngine, RuleLimits};

/// Alerts kept at once (distinct rule/pair/key); beyond it occurrences fold into one overflow
/// alert per rule.
pub const DEFAULT_MAX_ALERTS: usize = 10_000;

/// The inventory, rules and alerts of one run.
pub struct Monitor {
    pub profile: Profile,
    pub baseline: Option<Baseline>,
    pub inventory: Inventory,
    rules: RuleEngine,
    book: AlertBook,
    learner: Option<BaselineBuilder>,
    inv_events: Vec<InventoryEvent>,
    occs: Vec<Occurrence>,
    /// Called with every alert when it is created or updated (live export, console).
    on_alert: Option<Box<dyn FnMut(&Alert) + Send>>,
}

impl Monitor {
    /// A monitor for `profile`; the inventory keeps at most the profile's `[settings] max_assets`.
    pub fn new(profile: Profile, baseline: Option<Baseline>) -> Monitor {
        let limits = InventoryLimits {
            max_assets: usize::try_from(profile.settings().max_assets).unwrap_or(usize::MAX),
            ..InventoryLimits::default()
        };
        Monitor {
            profile,
            baseline,
            inventory: Inventory::new(limits),
            rules: RuleEngine::new(RuleLimits::default()),
            book: AlertBook::new(DEFAULT_MAX_ALERTS),
            learner: None,
            inv_events: Vec::new(),
            occs: Vec::new(),
            on_alert: None,
        }
    }

    pub fn with_limits(mut self, inventory: InventoryLimits, max_alerts: usize) -> Monitor {
        self.inventory = Inventory::new(inventory);
        self.book = AlertBook::new(max_alerts);
        self
    }

    /// Also learn a baseline (starting from `start`, e.g. an earlier baseline to extend).
    pub fn learning(mut self, start: Option<Baseline>) -> Monitor {
        self.learner = Some(match start {
            Some(b) => BaselineBuilder::from_baseline(b),
            None => BaselineBuilder::new(),
        });
        self
    }

    /// Matches asset identities against these advisories (`asset.vulnerable`).
    pub fn with_advisories(mut self, index: std::sync::Arc<crate::advisory::AdvisoryIndex>) -> Monitor {
        self.rules.set_advisories(index);
        self
    }

    pub fn on_alert(mut self, f: Box<dyn FnMut(&Alert) + Send>) -> Monitor {
        self.on_alert = Some(f);
        self
    }

    /// Engine settings the monitor needs: flow records on, the profile's HSMS ports.
    pub fn engine_config(&self, mut cfg: EngineConfig) -> EngineConfig {
        cfg.flow_events = true;
        for p in self.profile.hsms_ports() {
            if !cfg.detect.hsms_ports.contains(&p) {
                cfg.detect.hsms_ports.push(p);
            }
        }
        cfg
    }

    pub fn alerts(&self) -> &[Alert] {
        self.book.alerts()
    }

    /// What the inventory noticed while taking the latest event (new assets, identity
    /// changes, new services).
    pub fn inventory_events(&self) -> &[InventoryEvent] {
        &self.inv_events
    }

    /// Occurrences folded into overflow alerts because the alert table was full.
    pub fn alerts_overflowed(&self) -> u64 {
        self.book.overflowed
    }

    /// Takes one event.
    pub fn observe(&mut self, ev: &Event) {
        self.inv_events.clear();
        self.inventory.observe(ev, &mut self.inv_events);
        if let Some(l) = self.learner.as_mut() {
            l.observe(ev);
        }
        let cx = Ctx { profile: &self.profile, baseline: self.baseline.as_ref(), inventory: &self.inventory };
        self.rules.evaluate(ev, &self.inv_events, &cx, &mut self.occs);
        for o in self.occs.drain(..) {
            for ip in [o.src, o.dst].into_iter().flatten() {
                if let Some(a) = self.inventory.get_mut(&ip) {
                    a.alerts += 1;
                }
            }
            let r = self.book.record(o);
            if let Some(cb) = self.on_alert.as_mut() {
                let i = match r {
                    crate::alert::Recorded::New(i) | crate::alert::Recorded::Aggregated(i) => i,
                };
                if let Some(a) = self.book.alerts().get(i) {
                    cb(a);
                }
            }
        }
    }

    /// Ends the run: fills in the inventory's levels and readable fields; returns the alerts
    /// (in order of first occurrence) and the learned baseline, if learning.
    pub fn finish(mut self, sources: &[String]) -> MonitorOutput {
        self.inventory.finalize(&self.profile);
        let baseline = self.learner.take().map(|l| l.finish(&self.inventory, sources));
        let overflowed = self.book.overflowed;
        let mut alerts = self.book.into_alerts();
        alerts.sort_by_key(|a| (a.first_ts_ns, a.id));
        MonitorOutput { inventory: self.inventory, alerts, baseline, alerts_overflowed: overflowed }
    }
}

impl EventSink for Monitor {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        for ev in events {
            self.observe(ev);
        }
        Ok(true)
    }
}

/// What a finished run leaves.
pub struct MonitorOutput {
    pub inventory: Inventory,
    pub alerts: Vec<Alert>,
    pub baseline: Option<Baseline>,
    pub alerts_overflowed: u64,
}
