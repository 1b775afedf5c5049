//! `fabmon decode --iface` captures live (AF_PACKET) on loopback: a Modbus exchange between
//! two local sockets is decoded and paired. Needs CAP_NET_RAW (root); skipped with a message
//! otherwise.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn live_capture_on_loopback_decodes_modbus() {
    if !is_root() {
        eprintln!("live_capture_on_loopback_decodes_modbus: skipped: needs root for AF_PACKET");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = fabmon()
        .args(["decode", "--iface", "lo", "--duration", "4s", "--format", "jsonl", "--modbus-port"])
        .arg(port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 260];
        for _ in 0..5 {
            let n = c.read(&mut buf).unwrap();
            assert!(n >= 12);
            // FC 3 response: same transaction id, two registers.
            let mut rsp = vec![buf[0], buf[1], 0, 0, 0, 7, 1, 3, 4, 0, 10, 0, 20];
            rsp.truncate(13);
            c.write_all(&rsp).unwrap();
        }
    });
    let mut cl = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 64];
    for tid in 0..5u8 {
        cl.write_all(&[0, tid, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2]).unwrap();
        let _ = cl.read(&mut buf).unwrap();
    }
    drop(cl);
    server.join().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let reqs = lines.iter().filter(|m| m["proto"] == "modbus" && m["dir"] == "request").count();
    let rsps: Vec<_> = lines.iter().filter(|m| m["proto"] == "modbus" && m["dir"] == "response").collect();
    assert_eq!(reqs, 5, "{stderr}");
    assert_eq!(rsps.len(), 5);
    assert!(rsps.iter().all(|r| r["request_frame"].is_u64()), "responses are paired");
    assert!(stderr.contains("dropped by the kernel"), "kernel counters reported: {stderr}");
}
