//! The operator console driven as a user drives it: the real binary in a tmux session on a
//! `fabmon synth` capture with the planted deviations; keys go in with `send-keys`, the screen
//! comes back with `capture-pane`. Also the console's responsiveness while a large capture is
//! replayed at full speed, from its own measurements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fabmon, tool_or_skip};

/// A tmux server of its own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let socket = format!("fabmon-{name}-{}", std::process::id());
        let t = Tmux { socket };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                command,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.socket).args(args);
        c
    }

    /// Keys by tmux name (`Enter`, `Escape`, `Down`) or single characters.
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(self.cmd(&["send-keys", "-t", "main", k]).status().unwrap().success());
        }
    }

    /// Text typed literally.
    fn type_text(&self, text: &str) {
        assert!(self.cmd(&["send-keys", "-t", "main", "-l", text]).status().unwrap().success());
    }

    fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", "main"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows every needle; the screen at the end.
    fn wait_for(&self, needles: &[&str], what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("{what}: {needles:?} not on screen after 60 s:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn synth(dir: &Path, packets: u64, duration: &str) -> PathBuf {
    let pcap = dir.join("fab.pcap");
    let out = fabmon()
        .args(["synth", "--packets", &packets.to_string(), "--seed", "5", "--duration", duration, "--out"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success(), "synth: {}", String::from_utf8_lossy(&out.stderr));
    pcap
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

/// The command tmux runs: the console, then its exit code into a file.
fn console_command(dir: &Path, args: &str, extra_env: &str) -> String {
    format!(
        "env USER=tester NO_COLOR=1 XDG_STATE_HOME={state} {extra_env} {bin} tui {args}; echo $? > {exit}; sleep 30",
        state = shell_quote(&dir.join("state")),
        bin = shell_quote(Path::new(env!("CARGO_BIN_EXE_fabmon"))),
        exit = shell_quote(&dir.join("exit")),
    )
}

fn wait_exit(dir: &Path) -> String {
    let p = dir.join("exit");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(&p) {
            if s.ends_with('\n') {
                let _ = std::fs::remove_file(&p);
                return s.trim().to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the console did not exit");
}

#[test]
fn operator_acknowledges_an_alert_in_the_console() {
    if !tool_or_skip("operator_acknowledges_an_alert_in_the_console", "tmux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = synth(dir.path(), 20_000, "10m");
    let acks = dir.path().join("acks.jsonl");
    let args = format!("--replay {} --speed max --acks {}", shell_quote(&pcap), shell_quote(&acks));
    let tmux = Tmux::start("ack", 100, 30, &console_command(dir.path(), &args, ""));

    // Overview first, until the replay has read the whole capture.
    let s = tmux.wait_for(&["[1 Overview]", "Sensor health", "(end)"], "overview");
    assert!(s.contains("packets"), "{s}");
    assert!(s.contains("NORMAL"), "{s}");

    // Alerts: newest first, planted deviations among them.
    tmux.keys(&["3"]);
    let s = tmux.wait_for(&["[3 Alerts", "Alerts, newest first"], "alerts");
    assert!(s.contains("▶"), "a selected row:\n{s}");

    // Filter by rule, typed.
    tmux.keys(&["/"]);
    tmux.wait_for(&["FILTER"], "filter mode");
    tmux.type_text("rule:hsms");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(&["filter: \"rule:hsms\""], "filter kept");
    let rows: Vec<&str> = s.lines().filter(|l| l.contains(" x") && l.contains(':')).collect();
    assert!(!rows.is_empty(), "hsms alerts listed:\n{s}");
    for r in &rows {
        assert!(r.contains("hsms."), "row without an hsms rule under rule:hsms: {r}\n{s}");
    }

    // Open the first one: its evidence, standard and OT item.
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(
        &["EVIDENCE", "Evidence: frames", "standard", "OT item", "open (a: acknowledge)"],
        "evidence",
    );
    let uid_line = s.lines().find(|l| l.contains("uid ")).unwrap().to_string();
    let uid = uid_line.split("uid ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!(uid.len(), 16, "{uid_line}");

    // Acknowledge with a comment.
    tmux.keys(&["a"]);
    tmux.wait_for(&["COMMENT", "Acknowledge", "Comment:"], "ack input");
    tmux.type_text("checked with fab ops q");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(&["✓ acknowledged", "by tester", "checked with fab ops q"], "acknowledged");
    assert!(s.contains("acknowledged hsms."), "status line feedback:\n{s}");

    // Back to the list: the row carries the mark; quit.
    tmux.keys(&["Escape"]);
    let s = tmux.wait_for(&["Alerts, newest first", "✓ "], "list with mark");
    assert!(s.lines().any(|l| l.contains("▶ ✓")), "the selected row is marked acknowledged:\n{s}");
    tmux.keys(&["q"]);
    assert_eq!(wait_exit(dir.path()), "0");

    let text = std::fs::read_to_string(&acks).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{text}");
    let a = &lines[0];
    assert_eq!(a["uid"], uid.as_str());
    assert!(a["rule"].as_str().unwrap().starts_with("hsms."), "{a}");
    assert_eq!(a["who"], "tester");
    assert_eq!(a["comment"], "checked with fab ops q");
    assert_eq!(a["state"], "acked");
    assert!(a["ts"].as_str().unwrap().ends_with('Z'), "{a}");

    // Restart: the acknowledgement is loaded and shown.
    tmux.keys(&["C-c"]);
    let args = format!("--replay {} --speed max --acks {}", shell_quote(&pcap), shell_quote(&acks));
    drop(tmux);
    let tmux = Tmux::start("ack2", 100, 30, &console_command(dir.path(), &args, ""));
    tmux.wait_for(&["(end)"], "second run");
    tmux.keys(&["3", "u"]);
    tmux.wait_for(&["unacknowledged only"], "unacked only");
    tmux.keys(&["/"]);
    tmux.type_text(&format!("rule:{}", a["rule"].as_str().unwrap()));
    tmux.keys(&["Enter", "u"]);
    let s = tmux.wait_for(&["acknowledged shown"], "all again");
    assert!(
        s.lines().any(|l| l.contains("✓") && l.contains(" x")),
        "the acknowledgement survived the restart:\n{s}"
    );
    tmux.keys(&["?"]);
    let s = tmux.wait_for(&["Keys — Esc or ? to close", "acknowledge the alert"], "help");
    assert!(s.contains("HELP"), "{s}");
    tmux.keys(&["Escape", "q"]);
    assert_eq!(wait_exit(dir.path()), "0");
}

/// Replays a large capture at full speed while keys arrive; the console's own figures must
/// stay within generous bounds: at least 10 redraws a second while data streams, and keys
/// handled (read to frame drawn) within 100 ms at the 99th percentile.
#[test]
fn console_stays_responsive_under_a_full_speed_replay() {
    if !tool_or_skip("console_stays_responsive_under_a_full_speed_replay", "tmux") {
        return;
    }
    let packets: u64 =
        std::env::var("FABMON_CONSOLE_PACKETS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let pcap = synth(dir.path(), packets, "60m");
    let stats = dir.path().join("stats.json");
    let args = format!(
        "--replay {} --speed max --acks {}",
        shell_quote(&pcap),
        shell_quote(&dir.path().join("a.jsonl"))
    );
    let env = format!("FABMON_TUI_STATS={}", shell_quote(&stats));
    let tmux = Tmux::start("resp", 120, 40, &console_command(dir.path(), &args, &env));
    tmux.wait_for(&["[1 Overview]", "replay"], "first snapshot");
    // Keys while the replay runs: move around every screen.
    let started = Instant::now();
    let mut sent = 0;
    let mut during_stream = 0;
    let cycle =
        ["2", "j", "j", "k", "Enter", "Escape", "3", "j", "Enter", "Escape", "f", "f", "f", "f", "f", "1"];
    while sent < 160 {
        tmux.keys(&[cycle[sent % cycle.len()]]);
        sent += 1;
        std::thread::sleep(Duration::from_millis(25));
        if sent % 16 == 0 && !tmux.screen().contains("(end)") {
            during_stream += 16;
        }
    }
    let keys_s = started.elapsed().as_secs_f64();
    tmux.keys(&["q"]);
    assert_eq!(wait_exit(dir.path()), "0");
    let st: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    eprintln!("responsiveness on {packets} packets ({during_stream} of {sent} keys while streaming, sent over {keys_s:.1} s): {st}");
    // Every key arrives (an Escape directly followed by a key may read as one Alt key).
    assert!(st["keys"].as_u64().unwrap() >= sent as u64 * 9 / 10, "{st}");
    assert!(st["streaming_s"].as_f64().unwrap() > 0.5, "the replay streamed for a while: {st}");
    assert!(st["streaming_redraws_per_s"].as_f64().unwrap() >= 10.0, "{st}");
    assert!(st["key_p99_ms"].as_f64().unwrap() < 100.0, "{st}");
    assert!(st["snapshots"].as_u64().unwrap() >= 5, "{st}");
}

#[test]
fn tui_needs_a_terminal_and_a_source() {
    let out = fabmon().args(["tui", "--replay", "x.pcap"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a terminal"));
    let out = fabmon().args(["tui"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fabmon().args(["tui", "--replay", "x.pcap", "--data", "d"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
