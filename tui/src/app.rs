//! The console's state and input flow: a key goes to the open component first (help overlay,
//! text input), which answers [`EventState::Consumed`] or [`EventState::NotConsumed`]; what is
//! left becomes an [`Action`] and [`View::update`] applies it. Side effects (writing an
//! acknowledgement, quitting) come back as an [`Effect`] for the runner to carry out, so the
//! state can be tested without a terminal or files.

use std::collections::HashMap;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fabmon_sensor::alert::Severity;

use crate::acks::{Ack, MAX_COMMENT};
use crate::collect::severity_named;
use crate::model::{AlertView, AssetView, Snapshot};

/// Screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Overview,
    Assets,
    AssetDetail,
    Alerts,
}

impl Screen {
    pub fn title(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Assets => "Assets",
            Screen::AssetDetail => "Asset",
            Screen::Alerts => "Alerts",
        }
    }
}

/// Whether a component used a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventState {
    Consumed,
    NotConsumed,
}

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    Go(Screen),
    NextScreen,
    PrevScreen,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    StartFilter,
    CycleSort,
    ReverseSort,
    CycleSeverity,
    ToggleAcked,
    StartAck,
    TogglePause,
}

/// What the runner must do after a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    None,
    Quit,
    /// Store this acknowledgement, then call [`View::acked`].
    Ack(Ack),
}

/// Every key, for the help overlay and the operator guide: (keys, what, where).
pub const KEYS: &[(&str, &str, &str)] = &[
    ("1 2 3", "Overview, Assets, Alerts", "anywhere"),
    ("Tab / Shift-Tab", "next / previous screen", "anywhere"),
    ("↑ ↓  k j", "move the selection, scroll a detail", "lists, details"),
    ("PgUp PgDn", "move a page", "lists, details"),
    ("Home End  g G", "first / last", "lists, details"),
    ("Enter", "open: asset detail, alert evidence", "lists"),
    ("Esc", "back, close, or clear the filter", "anywhere"),
    ("/", "filter by typing (Enter keeps, Esc clears)", "Assets, Alerts"),
    ("s", "next sort: level, address, last seen, alerts, messages", "Assets"),
    ("r", "reverse the sort", "Assets"),
    ("f", "minimum severity: all, low, medium, high, critical", "Alerts"),
    ("u", "show unacknowledged alerts only / all", "Alerts"),
    ("a", "acknowledge the alert, with a comment", "Alerts, evidence"),
    ("p", "pause / resume updates", "anywhere"),
    ("?", "this help", "anywhere"),
    ("q  Ctrl-C", "quit", "anywhere"),
];

/// How assets are sorted within their group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetSort {
    Level,
    Address,
    LastSeen,
    Alerts,
    Messages,
}

impl AssetSort {
    pub fn name(self) -> &'static str {
        match self {
            AssetSort::Level => "level",
            AssetSort::Address => "address",
            AssetSort::LastSeen => "last seen",
            AssetSort::Alerts => "alerts",
            AssetSort::Messages => "messages",
        }
    }

    fn next(self) -> AssetSort {
        match self {
            AssetSort::Level => AssetSort::Address,
            AssetSort::Address => AssetSort::LastSeen,
            AssetSort::LastSeen => AssetSort::Alerts,
            AssetSort::Alerts => AssetSort::Messages,
            AssetSort::Messages => AssetSort::Level,
        }
    }
}

/// What a text input is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputPurpose {
    /// Filter of the assets or alerts list.
    Filter(Screen),
    /// Comment of an acknowledgement of this alert (uid, rule).
    AckComment { uid: String, rule: String },
}

/// A one-line text input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub purpose: InputPurpose,
    pub text: String,
    pub max: usize,
}

/// What the input did with a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputOutcome {
    Editing,
    Submit(String),
    Cancel,
}

impl Input {
    /// Takes a key: every printable key is text; Enter submits, Esc cancels.
    pub fn handle_key(&mut self, key: KeyEvent) -> (EventState, InputOutcome) {
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return match key.code {
                KeyCode::Char('u') => {
                    self.text.clear();
                    (EventState::Consumed, InputOutcome::Editing)
                }
                _ => (EventState::NotConsumed, InputOutcome::Editing),
            };
        }
        match key.code {
            KeyCode::Char(c) => {
                if self.text.chars().count() < self.max {
                    self.text.push(c);
                }
                (EventState::Consumed, InputOutcome::Editing)
            }
            KeyCode::Backspace => {
                self.text.pop();
                (EventState::Consumed, InputOutcome::Editing)
            }
            KeyCode::Enter => (EventState::Consumed, InputOutcome::Submit(self.text.clone())),
            KeyCode::Esc => (EventState::Consumed, InputOutcome::Cancel),
            _ => (EventState::NotConsumed, InputOutcome::Editing),
        }
    }
}

/// State of the assets list.
#[derive(Clone, Debug)]
pub struct AssetsState {
    pub selected: usize,
    pub filter: String,
    pub sort: AssetSort,
    pub reverse: bool,
}

/// State of the alerts list.
#[derive(Clone, Debug, Default)]
pub struct AlertsState {
    pub selected: usize,
    pub filter: String,
    pub min_severity: Option<Severity>,
    pub unacked_only: bool,
    /// The evidence of the selected alert is open.
    pub detail: bool,
    pub detail_scroll: u16,
}

/// An acknowledgement as the console shows it.
pub type AckMap = HashMap<String, Ack>;

/// Everything the console shows and remembers between keys.
#[derive(Clone, Debug)]
pub struct View {
    pub snap: Arc<Snapshot>,
    /// A snapshot that arrived while paused.
    pub pending: Option<Arc<Snapshot>>,
    pub acks: AckMap,
    pub screen: Screen,
    pub help: bool,
    pub input: Option<Input>,
    pub assets: AssetsState,
    pub alerts: AlertsState,
    /// The asset shown in the detail screen.
    pub detail_ip: Option<String>,
    pub detail_scroll: u16,
    pub paused: bool,
    /// Colours on (off under `NO_COLOR`: symbols and bold carry the meaning).
    pub color: bool,
    /// Feedback for the status line (e.g. what was acknowledged).
    pub message: Option<String>,
    /// Lines a page key moves (set from the terminal height).
    pub page: usize,
    /// The login user, shown with acknowledgements.
    pub user: String,
}

impl View {
    pub fn new(color: bool, user: &str) -> View {
        View {
            snap: Arc::new(Snapshot::default()),
            pending: None,
            acks: HashMap::new(),
            screen: Screen::Overview,
            help: false,
            input: None,
            assets: AssetsState {
                selected: 0,
                filter: String::new(),
                sort: AssetSort::Level,
                reverse: false,
            },
            alerts: AlertsState::default(),
            detail_ip: None,
            detail_scroll: 0,
            paused: false,
            color,
            message: None,
            page: 10,
            user: user.to_string(),
        }
    }

    /// Sets the page size from the terminal height.
    pub fn resize(&mut self, _width: u16, height: u16) {
        self.page = usize::from(height.saturating_sub(6)).max(1);
    }

    /// A new snapshot (the newest wins; while paused it waits).
    pub fn set_snapshot(&mut self, snap: Arc<Snapshot>) {
        if self.paused {
            self.pending = Some(snap);
            return;
        }
        let asset_key = self.selected_asset().map(|a| a.ip.clone());
        // At the top of the alerts, the selection follows the newest alert; elsewhere it stays
        // on the same alert.
        let alert_key =
            if self.alerts.selected == 0 { None } else { self.selected_alert().map(|a| a.uid.clone()) };
        self.snap = snap;
        if let Some(ip) = asset_key {
            if let Some(i) = self.visible_assets().iter().position(|&i| self.snap.assets[i].ip == ip) {
                self.assets.selected = i;
            }
        }
        if let Some(uid) = alert_key {
            if let Some(i) = self.visible_alerts().iter().position(|&i| self.snap.alerts[i].uid == uid) {
                self.alerts.selected = i;
            }
        }
        self.clamp();
    }

    /// An acknowledgement was stored.
    pub fn acked(&mut self, ack: Ack) {
        self.message = Some(format!("acknowledged {} ({}) as {}", ack.rule, short_uid(&ack.uid), ack.who));
        self.acks.insert(ack.uid.clone(), ack);
        self.clamp();
    }

    /// Indices into `snap.assets`, grouped, filtered and sorted as shown.
    pub fn visible_assets(&self) -> Vec<usize> {
        let f = self.assets.filter.to_lowercase();
        let mut v: Vec<usize> = (0..self.snap.assets.len())
            .filter(|&i| f.is_empty() || asset_matches(&self.snap.assets[i], &f))
            .collect();
        let a = &self.snap.assets;
        let sort = self.assets.sort;
        let rev = self.assets.reverse;
        v.sort_by(|&x, &y| {
            let (p, q) = (&a[x], &a[y]);
            let ord = match sort {
                AssetSort::Level => level_num(p).total_cmp(&level_num(q)).then(ip_key(p).cmp(&ip_key(q))),
                AssetSort::Address => ip_key(p).cmp(&ip_key(q)),
                AssetSort::LastSeen => q.last_seen_ns.cmp(&p.last_seen_ns),
                AssetSort::Alerts => q.alerts.cmp(&p.alerts).then(ip_key(p).cmp(&ip_key(q))),
                AssetSort::Messages => q.messages.cmp(&p.messages).then(ip_key(p).cmp(&ip_key(q))),
            };
            p.group.cmp(&q.group).then(if rev { ord.reverse() } else { ord })
        });
        v
    }

    /// Indices into `snap.alerts`, newest first, filtered as shown.
    pub fn visible_alerts(&self) -> Vec<usize> {
        let f = AlertFilter::parse(&self.alerts.filter);
        (0..self.snap.alerts.len())
            .filter(|&i| {
                let a = &self.snap.alerts[i];
                self.alerts.min_severity.is_none_or(|s| a.severity >= s)
                    && !(self.alerts.unacked_only && self.acks.contains_key(&a.uid))
                    && f.matches(a)
            })
            .collect()
    }

    pub fn selected_asset(&self) -> Option<&AssetView> {
        self.visible_assets().get(self.assets.selected).map(|&i| &self.snap.assets[i])
    }

    pub fn selected_alert(&self) -> Option<&AlertView> {
        self.visible_alerts().get(self.alerts.selected).map(|&i| &self.snap.alerts[i])
    }

    /// The asset of the detail screen.
    pub fn detail_asset(&self) -> Option<&AssetView> {
        let ip = self.detail_ip.as_deref()?;
        self.snap.assets.iter().find(|a| a.ip == ip)
    }

    /// Alerts not acknowledged.
    pub fn unacked(&self) -> usize {
        self.snap.alerts.iter().filter(|a| !self.acks.contains_key(&a.uid)).count()
    }

    fn clamp(&mut self) {
        let n = self.visible_assets().len();
        self.assets.selected = self.assets.selected.min(n.saturating_sub(1));
        let n = self.visible_alerts().len();
        self.alerts.selected = self.alerts.selected.min(n.saturating_sub(1));
    }

    /// Mode for the status line.
    pub fn mode(&self) -> &'static str {
        match (&self.input, self.help) {
            (_, true) => "HELP",
            (Some(Input { purpose: InputPurpose::Filter(_), .. }), _) => "FILTER",
            (Some(Input { purpose: InputPurpose::AckComment { .. }, .. }), _) => "COMMENT",
            (None, false) if self.screen == Screen::Alerts && self.alerts.detail => "EVIDENCE",
            _ => "NORMAL",
        }
    }

    /// Takes a key: components first, then the key's action.
    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Effect::Quit;
        }
        if self.help {
            // The help overlay takes every key; these close it.
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter) {
                self.help = false;
            }
            return Effect::None;
        }
        if let Some(mut input) = self.input.take() {
            let (state, outcome) = input.handle_key(key);
            let effect = match outcome {
                InputOutcome::Editing => {
                    if let InputPurpose::Filter(s) = &input.purpose {
                        self.set_filter(*s, input.text.clone());
                    }
                    self.input = Some(input);
                    Effect::None
                }
                InputOutcome::Cancel => {
                    if let InputPurpose::Filter(s) = &input.purpose {
                        self.set_filter(*s, String::new());
                    }
                    Effect::None
                }
                InputOutcome::Submit(text) => match input.purpose {
                    InputPurpose::Filter(s) => {
                        self.set_filter(s, text);
                        Effect::None
                    }
                    InputPurpose::AckComment { uid, rule } => Effect::Ack(Ack {
                        uid,
                        rule,
                        ts: crate::acks::now_rfc3339(),
                        who: self.user.clone(),
                        comment: text.trim().to_string(),
                        state: "acked".into(),
                    }),
                },
            };
            if state == EventState::Consumed {
                return effect;
            }
        }
        match self.action_for(key) {
            Some(a) => self.update(a),
            None => Effect::None,
        }
    }

    fn set_filter(&mut self, screen: Screen, text: String) {
        match screen {
            Screen::Alerts => {
                self.alerts.filter = text;
                self.alerts.selected = 0;
            }
            _ => {
                self.assets.filter = text;
                self.assets.selected = 0;
            }
        }
        self.clamp();
    }

    /// The action of a key on the current screen (None: the key means nothing here).
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        let a = match key.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('?') => Action::ToggleHelp,
            KeyCode::Char('1') => Action::Go(Screen::Overview),
            KeyCode::Char('2') => Action::Go(Screen::Assets),
            KeyCode::Char('3') => Action::Go(Screen::Alerts),
            KeyCode::Tab => Action::NextScreen,
            KeyCode::BackTab => Action::PrevScreen,
            KeyCode::Up | KeyCode::Char('k') => Action::Up,
            KeyCode::Down | KeyCode::Char('j') => Action::Down,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::PageDown => Action::PageDown,
            KeyCode::Home | KeyCode::Char('g') => Action::Top,
            KeyCode::End | KeyCode::Char('G') => Action::Bottom,
            KeyCode::Enter => Action::Open,
            KeyCode::Esc => Action::Back,
            KeyCode::Char('p') => Action::TogglePause,
            KeyCode::Char('/') if matches!(self.screen, Screen::Assets | Screen::Alerts) => {
                Action::StartFilter
            }
            KeyCode::Char('s') if self.screen == Screen::Assets => Action::CycleSort,
            KeyCode::Char('r') if self.screen == Screen::Assets => Action::ReverseSort,
            KeyCode::Char('f') if self.screen == Screen::Alerts => Action::CycleSeverity,
            KeyCode::Char('u') if self.screen == Screen::Alerts => Action::ToggleAcked,
            KeyCode::Char('a') if self.screen == Screen::Alerts => Action::StartAck,
            _ => return None,
        };
        Some(a)
    }

    /// Applies an action.
    pub fn update(&mut self, action: Action) -> Effect {
        self.message = None;
        match action {
            Action::Quit => return Effect::Quit,
            Action::ToggleHelp => self.help = !self.help,
            Action::Go(s) => {
                self.screen = s;
                self.alerts.detail = false;
            }
            Action::NextScreen | Action::PrevScreen => {
                let order = [Screen::Overview, Screen::Assets, Screen::Alerts];
                let cur = match self.screen {
                    Screen::AssetDetail => 1,
                    s => order.iter().position(|&o| o == s).unwrap_or(0),
                };
                let next = if action == Action::NextScreen { cur + 1 } else { cur + order.len() - 1 };
                self.screen = order[next % order.len()];
                self.alerts.detail = false;
            }
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page as i64)),
            Action::PageDown => self.move_by(self.page as i64),
            Action::Top => self.move_by(i64::MIN / 2),
            Action::Bottom => self.move_by(i64::MAX / 2),
            Action::Open => match self.screen {
                Screen::Assets => {
                    if let Some(a) = self.selected_asset() {
                        self.detail_ip = Some(a.ip.clone());
                        self.detail_scroll = 0;
                        self.screen = Screen::AssetDetail;
                    }
                }
                Screen::Alerts if self.selected_alert().is_some() => {
                    self.alerts.detail = true;
                    self.alerts.detail_scroll = 0;
                }
                _ => {}
            },
            Action::Back => match self.screen {
                Screen::AssetDetail => self.screen = Screen::Assets,
                Screen::Alerts if self.alerts.detail => self.alerts.detail = false,
                Screen::Alerts if !self.alerts.filter.is_empty() => {
                    self.set_filter(Screen::Alerts, String::new())
                }
                Screen::Assets if !self.assets.filter.is_empty() => {
                    self.set_filter(Screen::Assets, String::new())
                }
                _ => {}
            },
            Action::StartFilter => {
                let text = if self.screen == Screen::Alerts {
                    self.alerts.filter.clone()
                } else {
                    self.assets.filter.clone()
                };
                self.alerts.detail = false;
                self.input = Some(Input { purpose: InputPurpose::Filter(self.screen), text, max: 80 });
            }
            Action::CycleSort => {
                self.assets.sort = self.assets.sort.next();
                self.assets.selected = 0;
            }
            Action::ReverseSort => {
                self.assets.reverse = !self.assets.reverse;
                self.assets.selected = 0;
            }
            Action::CycleSeverity => {
                self.alerts.min_severity = match self.alerts.min_severity {
                    None => Some(Severity::Low),
                    Some(Severity::Critical) => None,
                    Some(Severity::Info) => Some(Severity::Low),
                    Some(s) => Some(s.raise()),
                };
                self.alerts.selected = 0;
                self.clamp();
            }
            Action::ToggleAcked => {
                self.alerts.unacked_only = !self.alerts.unacked_only;
                self.clamp();
            }
            Action::StartAck => {
                if let Some(a) = self.selected_alert() {
                    let purpose = InputPurpose::AckComment { uid: a.uid.clone(), rule: a.rule.clone() };
                    let text = self.acks.get(&a.uid).map(|k| k.comment.clone()).unwrap_or_default();
                    self.input = Some(Input { purpose, text, max: MAX_COMMENT });
                }
            }
            Action::TogglePause => {
                self.paused = !self.paused;
                if !self.paused {
                    if let Some(s) = self.pending.take() {
                        self.set_snapshot(s);
                    }
                }
            }
        }
        Effect::None
    }

    fn move_by(&mut self, d: i64) {
        let step = |cur: usize, n: usize| -> usize {
            if n == 0 {
                return 0;
            }
            (cur as i64).saturating_add(d).clamp(0, n as i64 - 1) as usize
        };
        match self.screen {
            Screen::Overview => {}
            Screen::Assets => self.assets.selected = step(self.assets.selected, self.visible_assets().len()),
            Screen::AssetDetail => self.detail_scroll = step(self.detail_scroll.into(), 2000) as u16,
            Screen::Alerts if self.alerts.detail => {
                self.alerts.detail_scroll = step(self.alerts.detail_scroll.into(), 500) as u16
            }
            Screen::Alerts => self.alerts.selected = step(self.alerts.selected, self.visible_alerts().len()),
        }
    }
}

/// `3f2a9c01d4e5b6a7` → `3f2a9c01`.
pub fn short_uid(uid: &str) -> &str {
    uid.get(..8).unwrap_or(uid)
}

fn level_num(a: &AssetView) -> f32 {
    a.level.as_deref().and_then(|l| l.parse::<f32>().ok()).unwrap_or(99.0)
}

/// Addresses sort numerically (10.0.0.9 before 10.0.0.10).
fn ip_key(a: &AssetView) -> (u8, u128) {
    match a.ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v)) => (4, u32::from(v).into()),
        Ok(std::net::IpAddr::V6(v)) => (6, u128::from(v)),
        Err(_) => (9, 0),
    }
}

fn asset_matches(a: &AssetView, f: &str) -> bool {
    f.split_whitespace().all(|t| {
        a.ip.contains(t)
            || a.name.as_deref().is_some_and(|n| n.to_lowercase().contains(t))
            || a.roles.iter().any(|r| r.contains(t))
            || a.protocols.iter().any(|r| r.contains(t))
            || a.area.as_deref().is_some_and(|r| r.to_lowercase().contains(t))
            || a.group.title().to_lowercase().contains(t)
            || a.identity.iter().any(|v| v.value.to_lowercase().contains(t))
            || a.level.as_deref().is_some_and(|l| t.strip_prefix('l').is_some_and(|n| n == l))
    })
}

/// An alerts filter: `rule:TEXT`, `sev:LEVEL` (that severity or worse), `asset:ADDR`, and
/// plain words matched against rule, summary, addresses and key; every term must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertFilter {
    pub rule: Vec<String>,
    pub severity: Option<Severity>,
    pub asset: Vec<String>,
    pub words: Vec<String>,
}

impl AlertFilter {
    pub fn parse(s: &str) -> AlertFilter {
        let mut f = AlertFilter::default();
        for t in s.to_lowercase().split_whitespace() {
            if let Some(r) = t.strip_prefix("rule:") {
                f.rule.push(r.to_string());
            } else if let Some(v) = t.strip_prefix("sev:").or_else(|| t.strip_prefix("severity:")) {
                f.severity = severity_named(v).or(f.severity);
            } else if let Some(a) = t.strip_prefix("asset:") {
                f.asset.push(a.to_string());
            } else {
                f.words.push(t.to_string());
            }
        }
        f
    }

    pub fn matches(&self, a: &AlertView) -> bool {
        let addr = |x: &Option<String>, t: &str| x.as_deref().is_some_and(|ip| ip.contains(t));
        self.rule.iter().all(|r| a.rule.to_lowercase().contains(r))
            && self.severity.is_none_or(|s| a.severity >= s)
            && self.asset.iter().all(|t| addr(&a.src, t) || addr(&a.dst, t))
            && self.words.iter().all(|w| {
                a.rule.to_lowercase().contains(w)
                    || a.summary.to_lowercase().contains(w)
                    || a.key.to_lowercase().contains(w)
                    || addr(&a.src, w)
                    || addr(&a.dst, w)
                    || a.severity.name() == w
            })
    }
}
