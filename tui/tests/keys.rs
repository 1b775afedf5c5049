//! Key handling: navigation, filters, sorting, the acknowledgement flow, snapshots arriving
//! while the operator works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fabmon_sensor::alert::Severity;
use fabmon_tui::app::{Action, AlertFilter, AssetSort, Effect, Screen};
use fabmon_tui::model::AssetGroup;
use fabmon_tui::View;

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn view() -> View {
    let mut v = View::new(true, "alice");
    v.set_snapshot(Arc::new(common::snapshot()));
    v
}

fn press(v: &mut View, ks: &[KeyCode]) -> Effect {
    let mut last = Effect::None;
    for k in ks {
        last = v.handle_key(key(*k));
    }
    last
}

fn typed(v: &mut View, s: &str) {
    for c in s.chars() {
        assert_eq!(v.handle_key(key(KeyCode::Char(c))), Effect::None);
    }
}

fn visible_ips(v: &View) -> Vec<String> {
    v.visible_assets().iter().map(|&i| v.snap.assets[i].ip.clone()).collect()
}

fn visible_rules(v: &View) -> Vec<String> {
    v.visible_alerts().iter().map(|&i| v.snap.alerts[i].rule.clone()).collect()
}

#[test]
fn screens_by_number_tab_and_back() {
    let mut v = view();
    assert_eq!(v.screen, Screen::Overview);
    press(&mut v, &[KeyCode::Char('2')]);
    assert_eq!(v.screen, Screen::Assets);
    press(&mut v, &[KeyCode::Tab]);
    assert_eq!(v.screen, Screen::Alerts);
    press(&mut v, &[KeyCode::Tab]);
    assert_eq!(v.screen, Screen::Overview);
    press(&mut v, &[KeyCode::BackTab]);
    assert_eq!(v.screen, Screen::Alerts);
    assert_eq!(press(&mut v, &[KeyCode::Char('q')]), Effect::Quit);
    assert_eq!(v.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Effect::Quit);
}

#[test]
fn assets_are_grouped_by_level_and_navigated() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('2')]);
    let groups: Vec<AssetGroup> = v.visible_assets().iter().map(|&i| v.snap.assets[i].group).collect();
    let mut sorted = groups.clone();
    sorted.sort();
    assert_eq!(groups, sorted, "assets listed group by group");
    assert_eq!(groups.first(), Some(&AssetGroup::Dmz));
    assert_eq!(groups.last(), Some(&AssetGroup::Unknown));
    press(&mut v, &[KeyCode::Down, KeyCode::Down]);
    assert_eq!(v.assets.selected, 2);
    press(&mut v, &[KeyCode::Up]);
    assert_eq!(v.assets.selected, 1);
    press(&mut v, &[KeyCode::End]);
    assert_eq!(v.assets.selected, 6);
    press(&mut v, &[KeyCode::Down]);
    assert_eq!(v.assets.selected, 6, "the selection stops at the last asset");
    press(&mut v, &[KeyCode::Home]);
    assert_eq!(v.assets.selected, 0);
    let ip = v.selected_asset().unwrap().ip.clone();
    press(&mut v, &[KeyCode::Enter]);
    assert_eq!((v.screen, v.detail_ip.clone()), (Screen::AssetDetail, Some(ip)));
    press(&mut v, &[KeyCode::Down, KeyCode::Down]);
    assert_eq!(v.detail_scroll, 2);
    press(&mut v, &[KeyCode::Esc]);
    assert_eq!(v.screen, Screen::Assets);
}

#[test]
fn assets_filter_by_typing() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('2'), KeyCode::Char('/')]);
    assert_eq!(v.mode(), "FILTER");
    typed(&mut v, "etch");
    assert_eq!(visible_ips(&v), ["10.20.1.5"]);
    // Keys that mean something elsewhere are text while typing.
    press(&mut v, &[KeyCode::Backspace, KeyCode::Backspace, KeyCode::Backspace, KeyCode::Backspace]);
    typed(&mut v, "modbus");
    assert_eq!(visible_ips(&v), ["10.10.0.20"]);
    press(&mut v, &[KeyCode::Enter]);
    assert_eq!(v.mode(), "NORMAL");
    assert_eq!(v.assets.filter, "modbus");
    press(&mut v, &[KeyCode::Esc]);
    assert_eq!(v.assets.filter, "");
    assert_eq!(visible_ips(&v).len(), 7);
    // Esc while typing clears.
    press(&mut v, &[KeyCode::Char('/')]);
    typed(&mut v, "facility");
    assert_eq!(visible_ips(&v), ["10.40.0.21"]);
    press(&mut v, &[KeyCode::Esc]);
    assert_eq!(visible_ips(&v).len(), 7);
    press(&mut v, &[KeyCode::Char('/')]);
    typed(&mut v, "nothing-like-this");
    assert!(visible_ips(&v).is_empty());
    assert!(v.selected_asset().is_none());
    press(&mut v, &[KeyCode::Enter, KeyCode::Enter]);
    assert_eq!(v.screen, Screen::Assets, "Enter on an empty list opens nothing");
}

#[test]
fn assets_sort_and_reverse() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('2')]);
    assert_eq!(v.assets.sort, AssetSort::Level);
    press(&mut v, &[KeyCode::Char('s'), KeyCode::Char('s'), KeyCode::Char('s')]);
    assert_eq!(v.assets.sort, AssetSort::Alerts);
    // Within L2 tools: etch-01 (2 alerts) before depo-02 (0).
    let l2: Vec<String> = visible_ips(&v).into_iter().filter(|ip| ip.starts_with("10.20.")).collect();
    assert_eq!(l2, ["10.20.1.5", "10.20.1.6"]);
    press(&mut v, &[KeyCode::Char('r')]);
    let l2: Vec<String> = visible_ips(&v).into_iter().filter(|ip| ip.starts_with("10.20.")).collect();
    assert_eq!(l2, ["10.20.1.6", "10.20.1.5"]);
    press(&mut v, &[KeyCode::Char('s'), KeyCode::Char('s')]);
    assert_eq!(v.assets.sort, AssetSort::Level);
}

#[test]
fn alerts_newest_first_and_filters() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('3')]);
    assert_eq!(visible_rules(&v)[0], "hsms.remote_command");
    let ts: Vec<i64> = v.visible_alerts().iter().map(|&i| v.snap.alerts[i].ts_ns).collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first");
    press(&mut v, &[KeyCode::Char('/')]);
    typed(&mut v, "rule:modbus");
    assert_eq!(visible_rules(&v), ["modbus.write"]);
    press(&mut v, &[KeyCode::Esc, KeyCode::Char('/')]);
    typed(&mut v, "sev:high");
    assert_eq!(visible_rules(&v), ["hsms.remote_command", "identity.changed"]);
    press(&mut v, &[KeyCode::Esc, KeyCode::Char('/')]);
    typed(&mut v, "asset:10.30.0.66 who-is");
    assert_eq!(visible_rules(&v), ["bacnet.discovery_scan"]);
    press(&mut v, &[KeyCode::Enter, KeyCode::Esc]);
    assert_eq!(visible_rules(&v).len(), 5, "Esc clears a kept filter");
    // f steps the minimum severity: low, medium, high, critical, all.
    press(&mut v, &[KeyCode::Char('f'), KeyCode::Char('f')]);
    assert_eq!(v.alerts.min_severity, Some(Severity::Medium));
    assert_eq!(visible_rules(&v).len(), 3);
    press(&mut v, &[KeyCode::Char('f'), KeyCode::Char('f')]);
    assert_eq!(visible_rules(&v), ["hsms.remote_command"]);
    press(&mut v, &[KeyCode::Char('f')]);
    assert_eq!(v.alerts.min_severity, None);
}

#[test]
fn alert_filter_syntax() {
    let f = AlertFilter::parse("rule:hsms SEV:critical asset:10.30 start");
    assert_eq!(f.rule, ["hsms"]);
    assert_eq!(f.severity, Some(Severity::Critical));
    assert_eq!(f.asset, ["10.30"]);
    assert_eq!(f.words, ["start"]);
    let snap = common::snapshot();
    assert!(f.matches(&snap.alerts[0]));
    assert!(!f.matches(&snap.alerts[1]));
}

#[test]
fn acknowledge_with_a_comment() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('3'), KeyCode::Down, KeyCode::Enter]);
    assert_eq!(v.mode(), "EVIDENCE");
    let uid = v.selected_alert().unwrap().uid.clone();
    assert_eq!(uid, "c0ffee0000000002");
    press(&mut v, &[KeyCode::Char('a')]);
    assert_eq!(v.mode(), "COMMENT");
    typed(&mut v, "firmware update, ticket 7 q");
    // 'q' was text, not quit; Enter stores.
    let Effect::Ack(ack) = press(&mut v, &[KeyCode::Enter]) else { panic!("Enter gives an acknowledgement") };
    assert_eq!(ack.uid, uid);
    assert_eq!(ack.rule, "identity.changed");
    assert_eq!(ack.who, "alice");
    assert_eq!(ack.comment, "firmware update, ticket 7 q");
    assert_eq!(ack.state, "acked");
    assert!(fabmon_sensor::time::parse_rfc3339(&ack.ts).is_some(), "{}", ack.ts);
    v.acked(ack);
    assert!(v.acks.contains_key(&uid));
    assert_eq!(v.unacked(), 4);
    // Unacknowledged only hides it.
    press(&mut v, &[KeyCode::Esc, KeyCode::Char('u')]);
    assert!(!visible_rules(&v).contains(&"identity.changed".to_string()));
    press(&mut v, &[KeyCode::Char('u')]);
    assert_eq!(visible_rules(&v).len(), 5);
}

#[test]
fn acknowledge_without_comment_and_cancel() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('3'), KeyCode::Char('a')]);
    press(&mut v, &[KeyCode::Esc]);
    assert_eq!(v.mode(), "NORMAL");
    assert!(v.input.is_none());
    let Effect::Ack(ack) = press(&mut v, &[KeyCode::Char('a'), KeyCode::Enter]) else { panic!("an ack") };
    assert_eq!(ack.comment, "");
    assert_eq!(ack.uid, "c0ffee0000000001");
}

#[test]
fn help_takes_every_key_until_closed() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('?')]);
    assert!(v.help);
    assert_eq!(press(&mut v, &[KeyCode::Char('3'), KeyCode::Down]), Effect::None);
    assert_eq!(v.screen, Screen::Overview);
    press(&mut v, &[KeyCode::Esc]);
    assert!(!v.help);
    // Every key the console knows is in the help table.
    for (k, _, _) in fabmon_tui::app::KEYS {
        assert!(!k.is_empty());
    }
    for c in ['1', '2', '3', '/', 's', 'r', 'f', 'u', 'a', 'p', '?', 'q', 'j', 'k', 'g', 'G'] {
        assert!(
            fabmon_tui::app::KEYS.iter().any(|(k, _, _)| k.split_whitespace().any(|t| t == c.to_string())),
            "{c} not in the help"
        );
    }
}

#[test]
fn a_new_snapshot_keeps_the_selection_and_pause_holds_it() {
    let mut v = view();
    press(&mut v, &[KeyCode::Char('3'), KeyCode::Down, KeyCode::Down]);
    let uid = v.selected_alert().unwrap().uid.clone();
    // A newer alert arrives on top.
    let mut s = common::snapshot();
    let mut newer = s.alerts[0].clone();
    newer.uid = "c0ffee00000000ff".into();
    newer.ts_ns += 1;
    s.alerts.insert(0, newer);
    s.seq += 1;
    v.set_snapshot(Arc::new(s.clone()));
    assert_eq!(v.selected_alert().unwrap().uid, uid);
    assert_eq!(v.alerts.selected, 3);
    press(&mut v, &[KeyCode::Char('p')]);
    assert!(v.paused);
    let mut s2 = s.clone();
    s2.seq += 1;
    s2.alerts.clear();
    v.set_snapshot(Arc::new(s2));
    assert_eq!(v.snap.seq, s.seq, "paused: the snapshot waits");
    press(&mut v, &[KeyCode::Char('p')]);
    assert_eq!(v.snap.seq, s.seq + 1);
    assert!(v.selected_alert().is_none());
}

#[test]
fn a_burst_of_alerts_stays_usable() {
    let mut v = view();
    let mut s = common::snapshot();
    let base = s.alerts[0].clone();
    s.alerts = (0..10_000)
        .map(|i| {
            let mut a = base.clone();
            a.uid = format!("{i:016x}");
            a.ts_ns -= i;
            a
        })
        .collect();
    v.set_snapshot(Arc::new(s));
    press(&mut v, &[KeyCode::Char('3'), KeyCode::End]);
    assert_eq!(v.alerts.selected, 9_999);
    press(&mut v, &[KeyCode::PageUp]);
    assert!(v.alerts.selected < 9_999);
    assert_eq!(v.update(Action::Top), Effect::None);
    assert_eq!(v.alerts.selected, 0);
}

/// The operator guide lists every key of the help table.
#[test]
fn the_guide_lists_every_key() {
    let guide =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console.md"))
            .unwrap();
    for (k, what, _) in fabmon_tui::app::KEYS {
        assert!(guide.contains(&format!("| `{k}` |")), "docs/console.md does not list {k:?} ({what})");
    }
}
