//! Every screen rendered with ratatui's TestBackend at 80×24 and 200×50, compared with the
//! committed insta snapshots (tests/snapshots); NO_COLOR renders carry no colour at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fabmon_tui::acks::Ack;
use fabmon_tui::app::{Effect, Screen};
use fabmon_tui::View;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn view(color: bool) -> View {
    let mut v = View::new(color, "op");
    v.set_snapshot(Arc::new(common::snapshot()));
    v.acks.insert(
        "c0ffee0000000003".into(),
        Ack {
            uid: "c0ffee0000000003".into(),
            rule: "modbus.write".into(),
            ts: "2025-11-16T09:00:00.000000Z".into(),
            who: "op".into(),
            comment: "planned recipe change".into(),
            state: "acked".into(),
        },
    );
    v
}

fn render(v: &mut View, w: u16, h: u16) -> Terminal<TestBackend> {
    v.resize(w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(&*v, f.area())).unwrap();
    t
}

fn keys(v: &mut View, ks: &[KeyCode]) {
    for k in ks {
        assert_eq!(v.handle_key(key(*k)), Effect::None);
    }
}

fn both_sizes(name: &str, setup: impl Fn(&mut View)) {
    for (w, h) in [(80, 24), (200, 50)] {
        let mut v = view(true);
        setup(&mut v);
        let t = render(&mut v, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn overview() {
    both_sizes("overview", |_| {});
}

#[test]
fn assets() {
    both_sizes("assets", |v| keys(v, &[KeyCode::Char('2')]));
}

#[test]
fn assets_filtered_and_sorted() {
    both_sizes("assets_filtered", |v| {
        keys(
            v,
            &[
                KeyCode::Char('2'),
                KeyCode::Char('s'),
                KeyCode::Char('/'),
                KeyCode::Char('1'),
                KeyCode::Char('0'),
            ],
        );
    });
}

#[test]
fn asset_detail() {
    both_sizes("asset_detail", |v| {
        // DMZ, then L3 hosts, then L2 tools: the third row is etch-01.
        keys(v, &[KeyCode::Char('2'), KeyCode::Down, KeyCode::Down, KeyCode::Enter]);
        assert_eq!(v.screen, Screen::AssetDetail);
        assert_eq!(v.detail_ip.as_deref(), Some("10.20.1.5"));
    });
}

#[test]
fn alerts() {
    both_sizes("alerts", |v| keys(v, &[KeyCode::Char('3')]));
}

#[test]
fn alert_evidence() {
    both_sizes("alert_evidence", |v| keys(v, &[KeyCode::Char('3'), KeyCode::Enter]));
}

#[test]
fn ack_input() {
    both_sizes("ack_input", |v| {
        keys(v, &[KeyCode::Char('3'), KeyCode::Enter, KeyCode::Char('a')]);
        for c in "seen, ticket 42".chars() {
            keys(v, &[KeyCode::Char(c)]);
        }
    });
}

#[test]
fn help() {
    both_sizes("help", |v| keys(v, &[KeyCode::Char('2'), KeyCode::Char('?')]));
}

#[test]
fn empty_before_the_first_snapshot() {
    let mut v = View::new(true, "op");
    let t = render(&mut v, 80, 24);
    insta::assert_snapshot!("empty_80x24", t.backend());
}

/// Without colour, the alerts screen still tells severities, the selection and the
/// acknowledged alert apart (words, ▶, ✓, bold, reversed) and uses no colour at all.
#[test]
fn no_color() {
    for (w, h) in [(80, 24), (200, 50)] {
        let mut v = view(false);
        keys(&mut v, &[KeyCode::Char('3')]);
        let t = render(&mut v, w, h);
        let buf = t.backend().buffer();
        for cell in buf.content() {
            assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "a coloured cell under NO_COLOR");
        }
        insta::assert_debug_snapshot!(format!("alerts_no_color_{w}x{h}"), buf);
        let text = t.backend().to_string();
        for needle in ["CRIT", "HIGH", "MED", "LOW", "INFO", "▶", "✓"] {
            assert!(text.contains(needle), "{needle} missing without colour:\n{text}");
        }
    }
    let mut v = view(false);
    let t = render(&mut v, 80, 24);
    insta::assert_debug_snapshot!("overview_no_color_80x24", t.backend().buffer());
}

/// The colour render of the alerts screen, styles included.
#[test]
fn alerts_styles() {
    let mut v = view(true);
    keys(&mut v, &[KeyCode::Char('3')]);
    let t = render(&mut v, 80, 24);
    insta::assert_debug_snapshot!("alerts_styles_80x24", t.backend().buffer());
}

/// Any size, however small or odd, renders without a panic; resizing keeps the selection.
#[test]
fn every_size_renders() {
    let mut v = view(true);
    for screen in ['1', '2', '3'] {
        keys(&mut v, &[KeyCode::Char(screen), KeyCode::Down]);
        for (w, h) in [(1, 1), (10, 2), (20, 3), (40, 10), (80, 24), (81, 25), (120, 40), (250, 80)] {
            render(&mut v, w, h);
        }
    }
    keys(&mut v, &[KeyCode::Enter, KeyCode::Char('?')]);
    for (w, h) in [(10, 2), (30, 8), (80, 24)] {
        render(&mut v, w, h);
    }
}
