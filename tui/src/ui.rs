//! Rendering: a pure function of the [`View`] (`impl Widget for &View`). Meaning never rests on
//! colour alone: severities are spelled (`CRIT`, `HIGH`...), the selection is marked `▶` and
//! reversed, acknowledged alerts carry `✓`, the current screen is bracketed.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Sparkline, Widget, Wrap};

use fabmon_sensor::alert::Severity;

use crate::app::{short_uid, InputPurpose, Screen, View, KEYS};
use crate::model::{clock, micros, rfc3339, si, AlertView, AssetView};

/// Styles, with or without colour.
#[derive(Clone, Copy)]
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    fn bold(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    fn severity(self, s: Severity) -> Style {
        let st = match s {
            Severity::Critical => self.fg(Color::Magenta),
            Severity::High => self.fg(Color::Red),
            Severity::Medium => self.fg(Color::Yellow),
            Severity::Low => self.fg(Color::Cyan),
            Severity::Info => self.dim(),
        };
        if s >= Severity::High {
            st.add_modifier(Modifier::BOLD)
        } else {
            st
        }
    }

    fn ok(self, ok: bool) -> Style {
        if ok {
            self.fg(Color::Green)
        } else {
            self.fg(Color::Red).add_modifier(Modifier::BOLD)
        }
    }
}

/// Severity as four letters.
pub fn sev_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::High => "HIGH",
        Severity::Medium => "MED ",
        Severity::Low => "LOW ",
        Severity::Info => "INFO",
    }
}

/// `s` cut or padded to `w` columns (cut text ends with `…`).
fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else if w == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}

/// The first visible row of a list so that `selected` shows in `height` rows.
fn scroll_start(selected: usize, height: usize) -> usize {
    if height == 0 {
        return 0;
    }
    selected.saturating_sub(height - 1)
}

impl Widget for &View {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = Theme { color: self.color };
        if area.height < 3 || area.width < 20 {
            Paragraph::new("fabmon: terminal too small").render(area, buf);
            return;
        }
        let [tabs, body, status] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
        render_tabs(self, t, tabs, buf);
        match self.screen {
            Screen::Overview => render_overview(self, t, body, buf),
            Screen::Assets => render_assets(self, t, body, buf),
            Screen::AssetDetail => render_asset_detail(self, t, body, buf),
            Screen::Alerts => {
                render_alerts(self, t, body, buf);
                if self.alerts.detail {
                    render_alert_detail(self, t, body, buf);
                }
            }
        }
        if let Some(input) = &self.input {
            if let InputPurpose::AckComment { uid, rule } = &input.purpose {
                render_ack_input(t, body, buf, uid, rule, &input.text);
            }
        }
        if self.help {
            render_help(t, body, buf);
        }
        render_status(self, t, status, buf);
    }
}

fn render_tabs(v: &View, t: Theme, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![Span::styled(" fabmon ", t.bold())];
    let cur = match v.screen {
        Screen::AssetDetail => Screen::Assets,
        s => s,
    };
    let unacked = v.unacked();
    for (key, s) in [("1", Screen::Overview), ("2", Screen::Assets), ("3", Screen::Alerts)] {
        let mut label = format!("{key} {}", s.title());
        if s == Screen::Alerts && unacked > 0 {
            label.push_str(&format!(" ({unacked})"));
        }
        if s == cur {
            spans.push(Span::styled(format!("[{label}]"), t.selected().add_modifier(Modifier::BOLD)));
        } else {
            spans.push(Span::raw(format!(" {label} ")));
        }
        spans.push(Span::raw(" "));
    }
    let worst = v.snap.alerts.iter().filter(|a| !v.acks.contains_key(&a.uid)).map(|a| a.severity).max();
    if let Some(w) = worst.filter(|w| *w >= Severity::High) {
        spans.push(Span::styled(format!("▲ {} unacknowledged", sev_label(w).trim()), t.severity(w)));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn render_status(v: &View, t: Theme, area: Rect, buf: &mut Buffer) {
    let s = &v.snap.source;
    // A capture by its file name; a dataset by its folder as given.
    let name = if s.mode == "history" {
        s.name.as_str()
    } else {
        std::path::Path::new(&s.name).file_name().and_then(|n| n.to_str()).unwrap_or(&s.name)
    };
    let mut src = format!("{} {name}", if s.mode.is_empty() { "waiting" } else { &s.mode });
    if !s.detail.is_empty() {
        src.push_str(&format!(" {}", s.detail));
    }
    if let Some(p) = s.progress {
        src.push_str(&format!(" {:.0}%", p * 100.0));
    }
    if s.finished {
        src.push_str(" (end)");
    }
    if let Some(ts) = s.capture_ts_ns {
        src.push_str(&format!(" @{}", clock(ts)));
    }
    let mut spans = vec![Span::styled(format!(" {} ", v.mode()), t.selected().add_modifier(Modifier::BOLD))];
    if v.paused {
        spans.push(Span::styled(" PAUSED ", t.bold()));
    }
    spans.push(Span::raw(" "));
    if let Some(input) = &v.input {
        if let InputPurpose::Filter(_) = input.purpose {
            spans.push(Span::styled(format!("/{}▏", input.text), t.bold()));
            spans.push(Span::styled("  Enter keep · Esc clear", t.dim()));
            Paragraph::new(Line::from(spans)).render(area, buf);
            return;
        }
    }
    if let Some(m) = &v.message {
        spans.push(Span::styled(m.clone(), t.bold()));
        spans.push(Span::raw(" │ "));
    }
    spans.push(Span::raw(src));
    if !s.errors.is_empty() {
        spans.push(Span::styled(format!(" │ {} error(s)", s.errors.len()), t.ok(false)));
    }
    spans.push(Span::styled(" │ ? help  q quit", t.dim()));
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn block(title: &str, t: Theme) -> Block<'static> {
    Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), t.bold()))
}

fn kv(k: &str, v: String, w: usize) -> Line<'static> {
    Line::from(vec![Span::raw(format!("{:<w$}", k)), Span::raw(v)])
}

fn render_overview(v: &View, t: Theme, area: Rect, buf: &mut Buffer) {
    let o = &v.snap.overview;
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let mut lines = vec![
        kv("packets", format!("{} ({}B)", si(o.packets), si(o.bytes)), 14),
        kv("flows", format!("{} active, {} total", si(o.flows_active), si(o.flows_total)), 14),
    ];
    let msgs: Vec<String> = o.messages.iter().map(|(p, n)| format!("{p} {}", si(*n))).collect();
    lines.push(kv("messages", if msgs.is_empty() { "-".into() } else { msgs.join(", ") }, 14));
    let errs: Vec<String> = o.decode_errors.iter().map(|(p, n)| format!("{p} {}", si(*n))).collect();
    lines.push(kv("decode errors", if errs.is_empty() { "none".into() } else { errs.join(", ") }, 14));
    let drops: Vec<String> = o.drops.iter().map(|(p, n)| format!("{p} {}", si(*n))).collect();
    lines.push(kv("not processed", if drops.is_empty() { "none".into() } else { drops.join(", ") }, 14));
    let mut al = vec![Span::raw(format!("{:<14}", "alerts"))];
    for s in [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info] {
        let n = o.alerts_by_severity.get(&s).copied().unwrap_or(0);
        al.push(Span::styled(
            format!("{} {n}", sev_label(s).trim()),
            if n > 0 { t.severity(s) } else { t.dim() },
        ));
        al.push(Span::raw(" "));
    }
    lines.push(Line::from(al));
    lines.push(kv("assets", format!("{} ({} not listed)", v.snap.assets.len(), v.snap.assets_not_shown), 14));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Sensor health", t.bold()));
    for h in &o.health {
        lines.push(Line::from(vec![
            Span::styled(if h.ok { " ok " } else { " !! " }, t.ok(h.ok)),
            Span::raw(format!("{:<18}", h.name)),
            Span::raw(h.value.clone()),
        ]));
    }
    for e in &v.snap.source.errors {
        lines.push(Line::from(vec![Span::styled(" !! ", t.ok(false)), Span::raw(e.clone())]));
    }
    Paragraph::new(lines).block(block("Traffic", t)).wrap(Wrap { trim: false }).render(left, buf);

    let h = &o.history;
    let series: [(&str, &Vec<u64>, Color, String); 6] = [
        ("packets/s", &h.packets_per_s, Color::Green, si(h.packets_per_s.last().copied().unwrap_or(0))),
        ("bytes/s", &h.bytes_per_s, Color::Blue, si(h.bytes_per_s.last().copied().unwrap_or(0))),
        ("messages/s", &h.messages_per_s, Color::Cyan, si(h.messages_per_s.last().copied().unwrap_or(0))),
        ("alerts/s", &h.alerts_per_s, Color::Red, si(h.alerts_per_s.last().copied().unwrap_or(0))),
        ("not processed/s", &h.drops_per_s, Color::Yellow, si(h.drops_per_s.last().copied().unwrap_or(0))),
        (
            "decode errors/s",
            &h.decode_errors_per_s,
            Color::Magenta,
            si(h.decode_errors_per_s.last().copied().unwrap_or(0)),
        ),
    ];
    let outer = block("Rates (capture time)", t);
    let inner = outer.inner(right);
    outer.render(right, buf);
    let per = (inner.height / series.len() as u16).max(1);
    for (i, (name, data, c, now)) in series.iter().enumerate() {
        let y = inner.y + i as u16 * per;
        if y >= inner.bottom() {
            break;
        }
        let rows = per.min(inner.bottom() - y);
        let label = Rect { x: inner.x, y, width: inner.width, height: 1 };
        Paragraph::new(Line::from(vec![
            Span::raw(format!("{name:<16}")),
            Span::styled(now.clone(), t.bold()),
        ]))
        .render(label, buf);
        if rows > 1 {
            let spark = Rect { x: inner.x, y: y + 1, width: inner.width, height: rows - 1 };
            let w = spark.width as usize;
            let tail = &data[data.len().saturating_sub(w)..];
            Sparkline::default().data(tail).style(t.fg(*c)).render(spark, buf);
        }
    }
}

/// Column widths of the assets list for a width.
fn asset_columns(w: usize) -> (usize, usize, usize, usize) {
    // label, level, roles, identity; the rest is fixed: alerts 6, last seen 9, marker 2.
    let label = if w >= 120 { 34 } else { 22 };
    let level = 5;
    let roles = if w >= 120 { 30 } else { 16 };
    let ident = w.saturating_sub(2 + label + level + roles + 6 + 9 + 4);
    (label, level, roles, ident)
}

fn render_assets(v: &View, t: Theme, area: Rect, buf: &mut Buffer) {
    let vis = v.visible_assets();
    let a = &v.snap.assets;
    let head = format!(
        "{} of {} assets │ sort: {}{} │ filter: {}",
        vis.len(),
        a.len(),
        v.assets.sort.name(),
        if v.assets.reverse { " (reversed)" } else { "" },
        if v.assets.filter.is_empty() {
            "-  (/ to type)".to_string()
        } else {
            format!("\"{}\"", v.assets.filter)
        }
    );
    let outer = block("Assets by Purdue level", t);
    let inner = outer.inner(area);
    outer.render(area, buf);
    let w = inner.width as usize;
    let (lw, vw, rw, iw) = asset_columns(w);
    let mut lines = vec![
        Line::styled(fit(&head, w), t.dim()),
        Line::styled(
            fit(
                &format!(
                    "  {} {} {} {:>6} {:>9} {}",
                    fit("asset", lw),
                    fit("lvl", vw),
                    fit("roles", rw),
                    "alerts",
                    "last seen",
                    "identity"
                ),
                w,
            ),
            t.bold().add_modifier(Modifier::UNDERLINED),
        ),
    ];
    // Rows with group headings; find where the selection lands to scroll.
    let mut rows: Vec<(Option<usize>, Line<'static>)> = Vec::new();
    let mut group = None;
    for (pos, &i) in vis.iter().enumerate() {
        let x = &a[i];
        if group != Some(x.group) {
            group = Some(x.group);
            let n = vis.iter().filter(|&&j| a[j].group == x.group).count();
            rows.push((None, Line::styled(fit(&format!("── {} ({n})", x.group.title()), w), t.bold())));
        }
        rows.push((Some(pos), asset_row(x, pos == v.assets.selected, t, (lw, vw, rw, iw))));
    }
    if vis.is_empty() {
        rows.push((
            None,
            Line::raw(if a.is_empty() { "  no assets yet" } else { "  nothing matches the filter" }),
        ));
    }
    let height = (inner.height as usize).saturating_sub(2);
    let sel_row = rows.iter().position(|(p, _)| *p == Some(v.assets.selected)).unwrap_or(0);
    let start = scroll_start(sel_row, height);
    lines.extend(rows.into_iter().skip(start).take(height).map(|(_, l)| l));
    Paragraph::new(lines).render(inner, buf);
}

fn asset_row(
    x: &AssetView,
    selected: bool,
    t: Theme,
    (lw, vw, rw, iw): (usize, usize, usize, usize),
) -> Line<'static> {
    let roles: Vec<&str> = x
        .roles
        .iter()
        .map(String::as_str)
        .filter(|r| !r.ends_with("-server") || r.starts_with("modbus"))
        .collect();
    let text = format!(
        "{}{} {} {} {:>6} {:>9} {}",
        if selected { "▶ " } else { "  " },
        fit(&x.label(), lw),
        fit(x.level.as_deref().map(|l| format!("L{l}")).as_deref().unwrap_or("?"), vw),
        fit(&roles.join(","), rw),
        x.alerts,
        clock(x.last_seen_ns),
        fit(&x.identity_line(), iw)
    );
    let style = if selected {
        t.selected()
    } else if x.alerts > 0 {
        t.fg(Color::Yellow)
    } else {
        Style::default()
    };
    Line::styled(text, style)
}

fn render_asset_detail(v: &View, t: Theme, area: Rect, buf: &mut Buffer) {
    let Some(a) = v.detail_asset() else {
        Paragraph::new("The asset is no longer in the inventory (Esc: back)")
            .block(block("Asset", t))
            .render(area, buf);
        return;
    };
    let mut info: Vec<Line<'static>> = Vec::new();
    let lvl = a.level.as_deref().map(|l| format!("L{l}")).unwrap_or_else(|| "unknown".into());
    info.push(kv("level", format!("{lvl} ({}: {})", a.level_source, a.level_reason), 10));
    info.push(kv(
        "area",
        format!(
            "{}{}",
            a.area.as_deref().unwrap_or("-"),
            a.zone.as_deref().map(|z| format!(", zone {z}")).unwrap_or_default()
        ),
        10,
    ));
    info.push(kv("mac", a.mac.clone().unwrap_or_else(|| "-".into()), 10));
    info.push(kv("roles", a.roles.join(", "), 10));
    info.push(kv("protocols", a.protocols.join(", "), 10));
    info.push(kv("services", if a.services.is_empty() { "-".into() } else { a.services.join(", ") }, 10));
    info.push(kv("seen", format!("{} → {}", rfc3339(a.first_seen_ns), clock(a.last_seen_ns)), 10));
    info.push(kv("counts", format!("{} messages sent, {} alerts", a.messages, a.alerts), 10));
    for l in &a.latency {
        info.push(kv(
            "latency",
            format!(
                "{} p50 {} p99 {} max {} ({} replies)",
                l.proto,
                micros(l.p50_us),
                micros(l.p99_us),
                micros(l.max_us),
                l.replies
            ),
            10,
        ));
    }
    info.push(Line::styled("Identity", t.bold()));
    if a.identity.is_empty() {
        info.push(Line::raw("  none proved on the wire"));
    }
    for i in &a.identity {
        info.push(Line::from(vec![
            Span::raw(format!("  {}=", i.key)),
            Span::styled(i.value.clone(), t.bold()),
            Span::styled(format!("  ({})", i.proof), t.dim()),
        ]));
    }
    if !a.identity_history.is_empty() {
        info.push(Line::styled("Identity history", t.bold()));
        for h in &a.identity_history {
            info.push(Line::from(vec![
                Span::styled("  ▲ ", t.fg(Color::Red)),
                Span::raw(format!("{} {}", h.ts.get(..19).unwrap_or(&h.ts), h.what)),
            ]));
        }
    }
    info.push(Line::styled(
        format!(
            "Peers ({}{})",
            a.peers.len(),
            if a.peers_not_listed > 0 { format!(", {} more", a.peers_not_listed) } else { String::new() }
        ),
        t.bold(),
    ));
    for p in &a.peers {
        info.push(Line::raw(format!(
            "  {:<16} {:<6} {}",
            p.ip,
            p.level.as_deref().map(|l| format!("L{l}")).unwrap_or_else(|| "?".into()),
            p.protocols.join(",")
        )));
    }
    let mut recent: Vec<Line<'static>> =
        vec![Line::styled(format!("Recent messages ({}, newest first)", a.recent.len()), t.bold())];
    if a.recent.is_empty() {
        recent.push(Line::raw("  none decoded"));
    }
    for m in a.recent.iter().rev() {
        let dir = if m.src == a.ip { format!("→ {}", m.dst) } else { format!("← {}", m.src) };
        recent.push(Line::from(vec![
            Span::styled(format!("{} ", clock(m.ts_ns)), t.dim()),
            Span::raw(format!("{:<6} ", m.proto)),
            Span::styled(m.summary.clone(), if m.malformed { t.fg(Color::Red) } else { t.bold() }),
            Span::raw(format!(" {dir}")),
            Span::styled(
                if m.malformed { " [malformed]".to_string() } else { String::new() },
                t.fg(Color::Red),
            ),
        ]));
    }
    let title = format!("Asset {}", a.label());
    if area.width >= 120 {
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
        Paragraph::new(info).block(block(&title, t)).scroll((v.detail_scroll, 0)).render(l, buf);
        Paragraph::new(recent).block(block("Messages", t)).render(r, buf);
    } else {
        info.extend(recent);
        Paragraph::new(info).block(block(&title, t)).scroll((v.detail_scroll, 0)).render(area, buf);
    }
}

fn render_alerts(v: &View, t: Theme, area: Rect, buf: &mut Buffer) {
    let vis = v.visible_alerts();
    let al = &v.snap.alerts;
    let sev = v.alerts.min_severity.map(|s| format!("≥{}", s.name())).unwrap_or_else(|| "all".into());
    let head = format!(
        "{} of {} alerts{} │ severity: {sev} │ {} │ filter: {}",
        vis.len(),
        al.len(),
        if v.snap.alerts_not_shown > 0 {
            format!(" (+{} older)", v.snap.alerts_not_shown)
        } else {
            String::new()
        },
        if v.alerts.unacked_only { "unacknowledged only" } else { "acknowledged shown" },
        if v.alerts.filter.is_empty() {
            "-  (/ to type)".to_string()
        } else {
            format!("\"{}\"", v.alerts.filter)
        }
    );
    let outer = block("Alerts, newest first", t);
    let inner = outer.inner(area);
    outer.render(area, buf);
    let w = inner.width as usize;
    let wide = w >= 120;
    let rule_w = if wide { 30 } else { 22 };
    let ends_w = if wide { 33 } else { 0 };
    let mut lines = vec![Line::styled(fit(&head, w), t.dim())];
    let cols = format!(
        "  {} {} {:<8} {:>5} {} {}{}",
        "✓",
        "sev ",
        "last",
        "count",
        fit("rule", rule_w),
        if wide { format!("{} ", fit("source → destination", ends_w)) } else { String::new() },
        "summary"
    );
    lines.push(Line::styled(fit(&cols, w), t.bold().add_modifier(Modifier::UNDERLINED)));
    let height = (inner.height as usize).saturating_sub(2);
    let start = scroll_start(v.alerts.selected, height);
    for (pos, &i) in vis.iter().enumerate().skip(start).take(height) {
        let a = &al[i];
        let sel = pos == v.alerts.selected;
        let acked = v.acks.contains_key(&a.uid);
        let ends = if wide {
            format!(
                "{} ",
                fit(
                    &format!("{} → {}", a.src.as_deref().unwrap_or("-"), a.dst.as_deref().unwrap_or("-")),
                    ends_w
                )
            )
        } else {
            String::new()
        };
        let prefix = format!("{}{} ", if sel { "▶ " } else { "  " }, if acked { "✓" } else { " " });
        let rest =
            format!(" {:<8} {:>5} {} {ends}", clock(a.ts_ns), format!("x{}", a.count), fit(&a.rule, rule_w));
        let used = prefix.chars().count() + 4 + rest.chars().count();
        let summary = fit(&a.summary, w.saturating_sub(used));
        let base = if sel {
            t.selected()
        } else if acked {
            t.dim()
        } else {
            Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(prefix, base),
            Span::styled(sev_label(a.severity), base.patch(t.severity(a.severity))),
            Span::styled(rest, base),
            Span::styled(summary, base),
        ]));
    }
    if vis.is_empty() {
        lines.push(Line::raw(if al.is_empty() { "  no alerts" } else { "  nothing matches the filter" }));
    }
    Paragraph::new(lines).render(inner, buf);
}

/// A rectangle centred in `area`, `w`×`h` at most.
fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// The lines of an alert's detail.
pub fn alert_detail_lines(v: &View, a: &AlertView) -> Vec<Line<'static>> {
    let t = Theme { color: v.color };
    let mut l = vec![
        Line::from(vec![
            Span::styled(format!("{} ", sev_label(a.severity).trim()), t.severity(a.severity)),
            Span::styled(a.rule.clone(), t.bold()),
            Span::raw(format!("  x{}  uid {}", a.count, a.uid)),
        ]),
        Line::raw(a.summary.clone()),
        Line::raw(""),
        kv("first", rfc3339(a.first_ts_ns), 10),
        kv("latest", rfc3339(a.ts_ns), 10),
        kv(
            "from",
            format!(
                "{} ({})",
                a.src.as_deref().unwrap_or("-"),
                a.src_level.as_deref().map(|l| format!("L{l}")).unwrap_or_else(|| "?".into())
            ),
            10,
        ),
        kv(
            "to",
            format!(
                "{} ({})",
                a.dst.as_deref().unwrap_or("-"),
                a.dst_level.as_deref().map(|l| format!("L{l}")).unwrap_or_else(|| "?".into())
            ),
            10,
        ),
        kv(
            "protocol",
            format!(
                "{}{}",
                a.proto.as_deref().unwrap_or("-"),
                if a.key.is_empty() { String::new() } else { format!(", key {}", a.key) }
            ),
            10,
        ),
        kv("standard", if a.standard.is_empty() { "-".into() } else { a.standard.clone() }, 10),
        kv("OT item", if a.ot_item.is_empty() { "-".into() } else { a.ot_item.clone() }, 10),
    ];
    match v.acks.get(&a.uid) {
        Some(k) => l.push(Line::from(vec![
            Span::raw(format!("{:<10}", "state")),
            Span::styled("✓ acknowledged", t.ok(true).add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                " by {} at {}{}",
                k.who,
                k.ts.get(..19).unwrap_or(&k.ts),
                if k.comment.is_empty() { String::new() } else { format!(": \"{}\"", k.comment) }
            )),
        ])),
        None => l.push(Line::from(vec![
            Span::raw(format!("{:<10}", "state")),
            Span::styled("open (a: acknowledge)", t.bold()),
        ])),
    }
    l.push(Line::raw(""));
    let frames: Vec<String> = a.evidence_frames.iter().map(|f| f.to_string()).collect();
    l.push(Line::styled(
        format!(
            "Evidence: frames {}{}",
            if frames.is_empty() { "-".into() } else { frames.join(", ") },
            if a.frames_not_listed > 0 {
                format!(" and {} more", a.frames_not_listed)
            } else {
                String::new()
            }
        ),
        t.bold(),
    ));
    if a.evidence.is_empty() {
        l.push(Line::raw("  (no decoded message: the frames above show it)"));
    }
    for e in &a.evidence {
        l.push(Line::raw(format!("  {e}")));
    }
    l
}

fn render_alert_detail(v: &View, t: Theme, area: Rect, buf: &mut Buffer) {
    let Some(a) = v.selected_alert() else { return };
    let r = centred(area, area.width.saturating_sub(4).max(20), area.height.saturating_sub(2).max(5));
    Clear.render(r, buf);
    let title = format!("Alert {} — Esc close · a acknowledge · ↑↓ scroll", short_uid(&a.uid));
    Paragraph::new(alert_detail_lines(v, a))
        .block(block(&title, t))
        .wrap(Wrap { trim: false })
        .scroll((v.alerts.detail_scroll, 0))
        .render(r, buf);
}

fn render_ack_input(t: Theme, area: Rect, buf: &mut Buffer, uid: &str, rule: &str, text: &str) {
    let r = centred(area, 70, 6);
    Clear.render(r, buf);
    let lines = vec![
        Line::raw(format!("Acknowledge {rule} ({})", short_uid(uid))),
        Line::from(vec![Span::raw("Comment: "), Span::styled(format!("{text}▏"), t.bold())]),
        Line::styled("Enter save (comment optional) · Esc cancel", t.dim()),
    ];
    Paragraph::new(lines).block(block("Acknowledge", t)).wrap(Wrap { trim: false }).render(r, buf);
}

fn render_help(t: Theme, area: Rect, buf: &mut Buffer) {
    let r = centred(area, 100, KEYS.len() as u16 + 4);
    Clear.render(r, buf);
    let kw = 16usize;
    // The "where" column only when there is room for it beside the whole description.
    let ww = if r.width >= 96 { 17usize } else { 0 };
    let dw = (r.width as usize).saturating_sub(kw + ww + 4);
    let head = if ww > 0 {
        format!("{} {} what", fit("key", kw), fit("where", ww))
    } else {
        format!("{} what", fit("key", kw))
    };
    let mut lines = vec![Line::styled(head, t.bold().add_modifier(Modifier::UNDERLINED))];
    for (k, what, wh) in KEYS {
        let mut spans = vec![Span::styled(fit(k, kw), t.bold())];
        spans.push(Span::raw(if ww > 0 { format!(" {} ", fit(wh, ww)) } else { " ".to_string() }));
        spans.push(Span::raw(fit(what, dw)));
        lines.push(Line::from(spans));
    }
    Paragraph::new(lines).block(block("Keys — Esc or ? to close", t)).render(r, buf);
}
