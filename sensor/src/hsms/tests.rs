//! Stream-level tests of the HSMS decoder: the parser driven with real stream semantics
//! (`app::drive::run`), pairing and state, property tests, and the secsgem corpus.

use std::net::IpAddr;

use proptest::prelude::*;

use super::frame::{parse_frame, FrameError};
use super::gem::Gem;
use super::secs2::parse_secs2;
use super::{HsmsParser, HsmsRecord};
use crate::app::drive::{run, test_flow};
use crate::app::{AppLimits, AppParser, Cx, Dir, Transport};
use crate::record::{Event, OtBody, OtMessage, TxEvent, TxOutcome};

const H: Dir = Dir::ToServer; // host (client) → equipment
const E: Dir = Dir::ToClient; // equipment → host

/// An HSMS message: length prefix, header fields, body.
fn msg(session: u16, byte2: u8, byte3: u8, ptype: u8, stype: u8, system: u32, body: &[u8]) -> Vec<u8> {
    let mut v = ((10 + body.len()) as u32).to_be_bytes().to_vec();
    v.extend(session.to_be_bytes());
    v.extend([byte2, byte3, ptype, stype]);
    v.extend(system.to_be_bytes());
    v.extend(body);
    v
}

fn data(session: u16, stream: u8, function: u8, w: bool, system: u32, body: &[u8]) -> Vec<u8> {
    msg(session, stream | if w { 0x80 } else { 0 }, function, 0, 0, system, body)
}

fn ctl(stype: u8, byte3: u8, system: u32) -> Vec<u8> {
    msg(0xFFFF, 0, byte3, 0, stype, system, &[])
}

fn a(s: &str) -> Vec<u8> {
    let mut v = vec![0x41, s.len() as u8];
    v.extend(s.as_bytes());
    v
}

fn drive_with(limits: &AppLimits, segs: &[(Dir, Vec<u8>)]) -> Vec<Event> {
    let flow = test_flow(Transport::Tcp, 5000);
    let segs: Vec<(Dir, &[u8])> = segs.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    run(&mut HsmsParser::new(), &flow, limits, &segs)
}

fn drive(segs: &[(Dir, Vec<u8>)]) -> Vec<Event> {
    drive_with(&AppLimits::default(), segs)
}

fn msgs(ev: &[Event]) -> Vec<&OtMessage> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn txs(ev: &[Event]) -> Vec<&TxEvent> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Transaction(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn rec(m: &OtMessage) -> &HsmsRecord {
    match &m.body {
        OtBody::Hsms(r) => r,
        other => panic!("not hsms: {other:?}"),
    }
}

/// Select, then S1F13/S1F14 as in protocols.md 1.6 (equipment side sends S1F13 here).
fn session_start() -> Vec<(Dir, Vec<u8>)> {
    let mut s1f13 = vec![0x01, 0x02];
    s1f13.extend(a("MDLN-A"));
    s1f13.extend(a("1.0.3"));
    let mut s1f14 = vec![0x01, 0x02, 0x21, 0x01, 0x00, 0x01, 0x02];
    s1f14.extend(a("MDLN-A"));
    s1f14.extend(a("1.0.3"));
    vec![
        (H, ctl(1, 0, 1)),
        (E, ctl(2, 0, 1)),
        (E, data(1, 1, 13, true, 0x0001_0001, &s1f13)),
        (H, data(1, 1, 14, false, 0x0001_0001, &[0x01, 0x02, 0x21, 0x01, 0x00, 0x01, 0x00])),
    ]
}

#[test]
fn worked_examples_pair_and_decode() {
    let segs = session_start();
    // The S1F13 frame is exactly the 31 bytes of protocols.md.
    assert_eq!(
        segs[2].1,
        [
            0x00, 0x00, 0x00, 0x1b, 0x00, 0x01, 0x81, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, //
            0x01, 0x02, 0x41, 0x06, b'M', b'D', b'L', b'N', b'-', b'A', 0x41, 0x05, b'1', b'.', b'0', b'.',
            b'3',
        ]
    );
    let ev = drive(&segs);
    let m = msgs(&ev);
    assert_eq!(m.len(), 4);
    assert!(txs(&ev).is_empty());
    assert_eq!(rec(m[0]).stype_name, Some("Select.req"));
    assert_eq!(rec(m[1]).select_status.map(|s| s.0), Some(0));
    assert_eq!(m[1].request_frame, Some(1));
    assert_eq!(m[1].latency_us, Some(1000));
    let r = rec(m[2]);
    assert_eq!((r.stream, r.function, r.wbit, r.session_id, r.system), (1, 13, true, 1, 0x0001_0001));
    assert_eq!(
        r.gem.as_deref(),
        Some(&Gem::EstablishComm { mdln: Some("MDLN-A".into()), softrev: Some("1.0.3".into()) })
    );
    assert_eq!(m[3].request_frame, Some(3));
    assert!(m.iter().all(|m| m.anomalies.is_empty() && !m.malformed && !m.orphan), "{m:#?}");
    let json = serde_json::to_value(m[2]).unwrap();
    assert_eq!(json["proto"], "hsms");
    assert_eq!(json["sml"], r#"<L[2] <A "MDLN-A"> <A "1.0.3">>"#);
    assert_eq!(json["gem"]["kind"], "establish_comm");
    assert_eq!(json["gem"]["mdln"], "MDLN-A");
}

#[test]
fn several_messages_per_segment_and_one_over_many() {
    let mut segs = session_start();
    // Three linktests in one segment.
    let mut three = ctl(5, 0, 10);
    three.extend(ctl(5, 0, 11));
    three.extend(ctl(5, 0, 12));
    segs.push((H, three));
    // A 200 KiB S7F3, sent in 1448-byte segments.
    let ppbody = vec![0x5A; 200 * 1024];
    let mut body = vec![0x01, 0x02];
    body.extend(a("BIG_RECIPE"));
    body.extend([0x23, 0x03, 0x20, 0x00]);
    body.extend(&ppbody);
    let big = data(1, 7, 3, true, 77, &body);
    let n_chunks = big.chunks(1448).len();
    for c in big.chunks(1448) {
        segs.push((H, c.to_vec()));
    }
    let ev = drive(&segs);
    let m = msgs(&ev);
    assert_eq!(m.len(), 4 + 3 + 1);
    let s7 = m[7];
    assert_eq!(s7.frame, (4 + 1 + n_chunks) as u64);
    let Some(Gem::ProcessProgramSend { body_len, sha256, .. }) = rec(s7).gem.as_deref() else { panic!() };
    assert_eq!(*body_len, Some(200 * 1024));
    use sha2::Digest;
    let want: String = sha2::Sha256::digest(&ppbody).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sha256.as_deref(), Some(want.as_str()));
    let sml = serde_json::to_value(s7).unwrap()["sml"].as_str().unwrap().to_owned();
    assert!(sml.starts_with("<L[2] <A \"BIG_RECIPE\"> <B[204800] 0x5a"), "{sml}");
    // Three linktests open, one S7F3 open: unanswered at close.
    assert_eq!(txs(&ev).len(), 4);
    assert!(txs(&ev).iter().all(|t| t.outcome == TxOutcome::UnansweredAtClose));
}

#[test]
fn oversize_reports_header_and_skips() {
    let limits = AppLimits { max_message_bytes: 100, ..AppLimits::default() };
    let mut segs = session_start();
    let big = data(1, 6, 11, true, 5, &vec![0x21; 300]);
    segs.push((E, big[..150].to_vec()));
    segs.push((E, big[150..].to_vec()));
    segs.push((E, ctl(5, 0, 6)));
    let ev = drive_with(&limits, &segs);
    let m = msgs(&ev);
    assert_eq!(m.len(), 6);
    assert_eq!(m[4].anomalies, ["oversize"]);
    assert!(!m[4].malformed);
    assert_eq!(m[4].frame, 5);
    assert_eq!(rec(m[5]).stype_name, Some("Linktest.req"));
    assert!(m[5].anomalies.is_empty());
}

#[test]
fn control_anomalies_and_short_frames() {
    let mut segs = session_start();
    segs.push((H, msg(0xFFFF, 0, 0, 0, 11, 20, &[]))); // SType 11
    segs.push((H, vec![0, 0, 0, 6, 0xff, 0xff, 0, 0, 0, 1])); // length 6
    segs.push((H, msg(0xFFFF, 0, 0, 0, 128, 21, &[]))); // SType 128
    segs.push((H, msg(3, 0, 0, 0, 5, 22, &[]))); // Linktest.req, session 3
    segs.push((E, ctl(6, 0, 22))); // its answer
    segs.push((E, ctl(7, 4, 99))); // Reject.req reason 4
    segs.push((H, msg(0xFFFF, 0, 0, 0, 1, 23, &[0x00]))); // Select.req with a body
    segs.push((H, ctl(9, 0, 24))); // Separate.req
    let ev = drive(&segs);
    let m = msgs(&ev);
    let an: Vec<_> = m[4..].iter().map(|m| (m.anomalies.clone(), m.malformed)).collect();
    assert_eq!(
        an,
        [
            (vec!["unknown_stype"], true),
            (vec!["short_frame_length_lt_10"], true),
            (vec!["unknown_stype"], true),
            (vec!["control_message_bad_session_id"], true),
            (vec![], false),
            (vec!["reject"], false),
            (vec!["control_message_with_body"], true),
            (vec!["separate"], false),
        ]
    );
    assert_eq!(m[8].request_frame, Some(8));
    assert_eq!(rec(m[9]).reject_reason.and_then(|r| r.name()), Some("entity_not_selected"));
    assert_eq!(rec(m[9]).rejected_type, Some(0));
}

#[test]
fn selection_state_and_session_ids() {
    let segs = vec![
        (H, data(3, 1, 1, true, 1, &[])), // before Select
        (E, ctl(7, 4, 1)),                // Reject.req reason 4 closes it
        (H, ctl(1, 0, 2)),
        (E, ctl(2, 0, 2)),
        (E, data(3, 1, 13, true, 100, &[0x01, 0x00])),
        (H, data(3, 1, 14, false, 100, &[0x01, 0x02, 0x21, 0x01, 0x00, 0x01, 0x00])),
        (H, data(0x7FFF, 1, 1, true, 3, &[])),       // wrong device id
        (E, data(3, 1, 2, false, 3, &[0x01, 0x00])), // answered under the tool's id
        (H, ctl(9, 0, 4)),
        (H, data(3, 1, 1, true, 5, &[])), // after Separate
    ];
    let ev = drive(&segs);
    let m = msgs(&ev);
    assert_eq!(m[0].anomalies, ["data_before_select"]);
    assert_eq!(m[1].request_frame, Some(1));
    assert_eq!(m[6].anomalies, ["unknown_session_id"]);
    assert_eq!(m[7].anomalies, ["reply_session_id_mismatch"]);
    assert_eq!(m[7].request_frame, Some(7));
    assert_eq!(m[9].anomalies, ["data_before_select"]);
    // The S1F1 before Select was answered by the Reject.req: only the last S1F1 stays open.
    let t = txs(&ev);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].request_frame, 10);
}

#[test]
fn pairing_anomalies() {
    let mut segs = session_start();
    segs.extend([
        (E, data(1, 1, 4, false, 50, &[])), // 5: orphan
        (H, data(1, 1, 3, true, 51, &[])),  // 6
        (E, data(1, 1, 4, false, 51, &[])), // 7: reply
        (E, data(1, 1, 4, false, 51, &[])), // 8: second reply
        (H, data(1, 2, 41, true, 52, &[0x01, 0x02, 0x41, 0x00, 0x01, 0x00])), // 9
        (E, data(1, 2, 0, false, 52, &[])), // 10: S2F0 abort
        (H, data(1, 1, 2, true, 53, &[0x01, 0x00])), // 11: W on a reply (and an orphan)
        (H, data(1, 1, 0, true, 54, &[])),  // 12: W on function 0
        (H, data(1, 0, 1, false, 55, &[])), // 13: stream 0
        (H, data(1, 1, 17, true, 56, &[])), // 14
        (E, data(1, 2, 18, false, 56, &[0x21, 0x01, 0x00])), // 15: wrong stream
        (H, data(1, 7, 17, true, 57, &[0x01, 0x00])), // 16: delete all PPs
        // 17: S9F5 naming the S7F17 in its MHEAD (under other system bytes)
        (E, data(1, 9, 5, false, 900, &[0x21, 0x0a, 0x00, 0x01, 0x87, 0x11, 0x00, 0x00, 0, 0, 0, 57])),
    ]);
    let ev = drive(&segs);
    let m = msgs(&ev);
    let got: Vec<_> = m[4..].iter().map(|m| (m.anomalies.clone(), m.request_frame, m.orphan)).collect();
    assert_eq!(
        got,
        [
            (vec!["orphan_reply"], None, true),
            (vec![], None, false),
            (vec![], Some(6), false),
            (vec!["duplicate_reply"], Some(6), false),
            (vec![], None, false),
            (vec!["transaction_abort_sxf0"], Some(9), false),
            (vec!["w_bit_on_reply", "orphan_reply"], None, true),
            (vec!["w_bit_on_abort", "transaction_abort_sxf0", "orphan_reply"], None, true),
            (vec!["stream_zero"], None, false),
            (vec![], None, false),
            (vec!["reply_mismatch"], Some(14), false),
            (vec![], None, false),
            (vec!["s9_unrecognized_function"], Some(16), false),
        ]
    );
    assert!(matches!(rec(m[15]).gem.as_deref(), Some(Gem::ProcessProgramDelete { all: true, .. })));
    assert!(txs(&ev).is_empty(), "{:?}", txs(&ev));
}

#[test]
fn timeouts_eviction_and_close() {
    // Segments are 1 ms apart in drive::run.
    let limits = AppLimits { hsms_t3_ns: 2_500_000, max_pending_per_flow: 2, ..AppLimits::default() };
    let mut segs = session_start();
    segs.extend([
        (H, data(1, 1, 3, true, 60, &[])),  // 5: times out at frame 8
        (H, data(1, 1, 3, true, 61, &[])),  // 6: evicted by 7? no: 5 is the oldest
        (H, data(1, 1, 3, true, 62, &[])),  // 7: table full (2): evicts 5
        (H, ctl(5, 0, 63)),                 // 8: evicts 6
        (E, data(1, 1, 4, false, 60, &[])), // 9: reply to the evicted 5: orphan
    ]);
    let ev = drive_with(&limits, &segs);
    let t = txs(&ev);
    let got: Vec<_> = t.iter().map(|t| (t.outcome, t.request_frame)).collect();
    assert_eq!(
        got,
        [
            (TxOutcome::Evicted, 5),
            (TxOutcome::Evicted, 6),
            (TxOutcome::UnansweredAtClose, 7),
            (TxOutcome::UnansweredAtClose, 8),
        ]
    );
    assert_eq!(t[0].what, "S1F3 W system=0x0000003c session=1");
    // T3: a request with no reply for 3 segments.
    let limits = AppLimits { hsms_t3_ns: 2_500_000, ..AppLimits::default() };
    let mut segs = session_start();
    segs.extend([
        (H, data(1, 1, 3, true, 70, &[])),  // 5
        (H, ctl(5, 0, 71)),                 // 6
        (E, ctl(6, 0, 71)),                 // 7
        (E, ctl(5, 0, 72)),                 // 8: 3 ms after 5 → timeout
        (E, data(1, 1, 4, false, 70, &[])), // 9: late reply
    ]);
    let ev = drive_with(&limits, &segs);
    let t = txs(&ev);
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].outcome, t[0].request_frame), (TxOutcome::Timeout, 5));
    assert_eq!((t[1].outcome, t[1].request_frame), (TxOutcome::UnansweredAtClose, 8));
    let late = msgs(&ev)[8];
    assert_eq!((late.orphan, late.request_frame), (true, Some(5)));
    assert_eq!(late.anomalies, ["reply_after_timeout"]);
}

#[test]
fn message_cut_by_end_of_stream() {
    let mut segs = session_start();
    let mut cut = data(3, 1, 3, true, 0x0bad_0009, &[]);
    cut[..4].copy_from_slice(&256u32.to_be_bytes());
    cut.extend([0x01, 0x01, 0xa9, 0x02, 0x07]);
    segs.push((H, cut)); // frame 5
    segs.push((E, ctl(5, 0, 9))); // frame 6
    let ev = drive(&segs);
    let m = msgs(&ev);
    let last = m.last().unwrap();
    assert_eq!(last.anomalies, ["length_exceeds_data"]);
    assert!(last.malformed);
    assert_eq!(last.frame, 5);
    let r = rec(last);
    assert_eq!((r.stream, r.function, r.length, r.system), (1, 3, 256, 0x0bad_0009));
}

#[test]
fn body_anomalies() {
    let mut segs = session_start();
    segs.push((H, data(1, 1, 3, true, 80, &[0x01, 0x02, 0xa9, 0x02, 0x07, 0xd1, 0xfd, 0x00])));
    segs.push((H, data(1, 10, 3, true, 81, &[0x01, 0x02, 0x21, 0x01, 0x00, 0x45, 0x02, 0xba, 0xdd])));
    segs.push((H, data(1, 2, 41, true, 82, &a("START"))));
    segs.push((H, data(1, 1, 3, true, 83, &[0x21, 0x01, 0x00, 0x00])));
    let ev = drive(&segs);
    let m = msgs(&ev);
    assert_eq!((m[4].anomalies.clone(), m[4].malformed), (vec!["bad_secs2_format_code"], true));
    assert_eq!(rec(m[4]).secs2_error_offset, Some(6));
    assert_eq!(serde_json::to_value(m[4]).unwrap()["sml"], "<L[2] <U2 2001> <!error>");
    assert_eq!((m[5].anomalies.clone(), m[5].malformed), (vec!["unusual_item_format_jis8"], false));
    let Some(Gem::TerminalText { text, .. }) = rec(m[5]).gem.as_deref() else { panic!() };
    assert_eq!(text.as_deref(), Some("ｺﾝ"));
    assert_eq!(m[6].anomalies, ["gem_structure_mismatch"]);
    assert_eq!((m[7].anomalies.clone(), m[7].malformed), (vec!["secs2_trailing_bytes"], true));
}

#[test]
fn mid_stream_start_resynchronises() {
    let flow = test_flow(Transport::Tcp, 5000);
    let limits = AppLimits::default();
    let mut p = HsmsParser::new();
    let mut out = Vec::new();
    // The tail of some earlier message, then a reply and a linktest.
    let mut stream = vec![0x33, 0x2e, 0x30, 0x00, 0x00, 0x41, 0x05, 0x31];
    stream.extend(data(1, 6, 12, false, 40, &[0x21, 0x01, 0x00]));
    stream.extend(ctl(5, 0, 41));
    {
        let mut cx = Cx { frame: 1, ts_ns: 1, flow: &flow, limits: &limits, out: &mut out };
        p.gap(H, &mut cx);
        let n = p.parse(H, &stream, &mut cx);
        assert_eq!(n, stream.len());
        p.close(&mut cx);
    }
    let m = msgs(&out);
    assert_eq!(m.len(), 2);
    assert_eq!(rec(m[0]).resync_skipped, Some(8));
    assert_eq!(m[0].anomalies, ["resync_skipped_bytes", "orphan_after_gap"]);
    assert!(m[1].anomalies.is_empty());
    assert_eq!(p.stats().garbage_bytes, 8);
}

#[test]
fn gap_inside_a_message() {
    let flow = test_flow(Transport::Tcp, 5000);
    let limits = AppLimits::default();
    let mut p = HsmsParser::new();
    let mut out = Vec::new();
    let big = data(1, 6, 11, true, 7, &[0x21, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]);
    let next = ctl(5, 0, 8);
    let mut cx = Cx { frame: 1, ts_ns: 1, flow: &flow, limits: &limits, out: &mut out };
    assert_eq!(p.parse(H, &big[..16], &mut cx), 0);
    cx.frame = 2;
    p.gap(H, &mut cx);
    // After the gap: the rest of a message we cannot use, then a linktest.
    let mut after = big[20..].to_vec();
    after.extend(&next);
    cx.frame = 3;
    assert_eq!(p.parse(H, &after, &mut cx), after.len());
    let m = msgs(&out);
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].frame, m[0].anomalies.clone()), (1, vec!["truncated_by_gap"]));
    assert_eq!(rec(m[1]).stype_name, Some("Linktest.req"));
}

// ---- property tests -----------------------------------------------------------------------

/// A valid SECS-II body of bounded size and depth.
fn arb_body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..20).prop_map(|d| {
            let mut v = vec![0x21, d.len() as u8];
            v.extend(d);
            v
        }),
        "[ -~]{0,30}".prop_map(|s| a(&s)),
        any::<u32>().prop_map(|x| {
            let mut v = vec![0xb1, 4];
            v.extend(x.to_be_bytes());
            v
        }),
        any::<i16>().prop_map(|x| {
            let mut v = vec![0x69, 2];
            v.extend(x.to_be_bytes());
            v
        }),
        any::<f32>().prop_map(|x| {
            let mut v = vec![0x91, 4];
            v.extend(x.to_bits().to_be_bytes());
            v
        }),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop::collection::vec(inner, 0..8).prop_map(|kids| {
            let mut v = vec![0x01, kids.len() as u8];
            for k in kids {
                v.extend(k);
            }
            v
        })
    })
}

fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (1u8..128, 0u8..=255, any::<bool>(), any::<u32>(), prop::option::of(arb_body()))
            .prop_map(|(s, f, w, sys, body)| data(1, s, f, w, sys, &body.unwrap_or_default())),
        (prop::sample::select(vec![1u8, 2, 3, 4, 5, 6, 7, 9]), any::<u32>())
            .prop_map(|(st, sys)| ctl(st, 0, sys)),
    ]
}

fn headers(ev: &[Event]) -> Vec<(u8, u8, u8, u32, bool)> {
    msgs(ev)
        .iter()
        .map(|m| {
            let r = rec(m);
            (r.stype, r.stream, r.function, r.system, m.malformed)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn truncation_is_incomplete(m in arb_message()) {
        let (_, n) = parse_frame(&m, 1 << 24).unwrap();
        prop_assert_eq!(n, m.len());
        for cut in 0..m.len() {
            let r = parse_frame(&m[..cut], 1 << 24);
            prop_assert!(matches!(r, Err(FrameError::Incomplete { .. })), "cut {} gave {:?}", cut, r);
        }
    }

    #[test]
    fn valid_bodies_parse(body in arb_body()) {
        let mut items = Vec::new();
        prop_assert!(parse_secs2(&body, 64, 100_000, &mut items).is_ok());
    }

    /// Any split of a stream of messages gives the same records as the whole stream.
    #[test]
    fn random_splits_change_nothing(
        ms in prop::collection::vec(arb_message(), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let stream: Vec<u8> = ms.concat();
        let whole = drive(&[(H, stream.clone())]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.push(0);
        at.push(stream.len());
        at.sort_unstable();
        at.dedup();
        let segs: Vec<(Dir, Vec<u8>)> = at.windows(2).map(|w| (H, stream[w[0]..w[1]].to_vec())).collect();
        let split = drive(&segs);
        prop_assert_eq!(headers(&whole).len(), ms.len());
        prop_assert_eq!(headers(&whole), headers(&split));
    }

    /// Random bytes in both directions, randomly split, with gaps: no panic, bounded output.
    #[test]
    fn random_bytes_never_panic(
        segs in prop::collection::vec((any::<bool>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)), 0..20),
    ) {
        let flow = test_flow(Transport::Tcp, 5000);
        let limits = AppLimits { max_message_bytes: 4096, max_pending_per_flow: 8, ..AppLimits::default() };
        let mut p = HsmsParser::new();
        let mut out = Vec::new();
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut skip = [0usize; 2];
        let mut total = 0usize;
        for (i, (to_server, gap, bytes)) in segs.iter().enumerate() {
            let dir = if *to_server { H } else { E };
            let d = dir.index();
            total += bytes.len();
            let mut cx = Cx { frame: i as u64 + 1, ts_ns: i as i64 * 1_000_000, flow: &flow, limits: &limits, out: &mut out };
            if *gap {
                pending[d].clear();
                skip[d] = 0;
                p.gap(dir, &mut cx);
            }
            let s = skip[d].min(bytes.len());
            skip[d] -= s;
            pending[d].extend_from_slice(&bytes[s..]);
            loop {
                if pending[d].is_empty() { break; }
                let n = p.parse(dir, &pending[d], &mut cx);
                if n == 0 { break; }
                if n >= pending[d].len() {
                    skip[d] = n - pending[d].len();
                    pending[d].clear();
                    break;
                }
                pending[d].drain(..n);
            }
        }
        let mut cx = Cx { frame: 99, ts_ns: 99, flow: &flow, limits: &limits, out: &mut out };
        p.close(&mut cx);
        // At most one record per 10 bytes (the smallest message is 14), plus cut-off ones.
        prop_assert!(msgs(&out).len() <= total / 10 + 4);
        prop_assert!(p.heap_bytes() < 1 << 20);
    }

    /// A list announcing up to 16 M children in a few bytes fails at once.
    #[test]
    fn list_bombs_are_bounded(count in 1usize..0xFF_FFFF, tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut body = vec![0x03, (count >> 16) as u8, (count >> 8) as u8, count as u8];
        body.extend(&tail);
        let mut items = Vec::new();
        let _ = parse_secs2(&body, 64, 100_000, &mut items);
        prop_assert!(items.len() <= 1 + tail.len() / 2);
        // Through the whole parser too.
        let ev = drive(&[(H, data(1, 1, 3, true, 1, &body))]);
        prop_assert_eq!(msgs(&ev).len(), 1);
    }
}

#[test]
fn nesting_10000_deep_through_the_parser() {
    let mut body = Vec::new();
    for _ in 0..10_000 {
        body.extend([0x01, 0x01]);
    }
    body.extend([0x01, 0x00]);
    let ev = drive(&[(H, data(1, 1, 3, true, 1, &body))]);
    let m = msgs(&ev);
    assert_eq!(m[0].anomalies, ["secs2_depth_exceeded", "data_before_select"]);
    let sml = serde_json::to_value(m[0]).unwrap()["sml"].as_str().unwrap().to_owned();
    assert!(sml.len() <= super::record::SML_MAX_CHARS + 3);
}

// ---- the secsgem corpus -------------------------------------------------------------------

fn corpus_dir() -> Option<std::path::PathBuf> {
    let p =
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/secsgem/captures"));
    if p.is_dir() {
        Some(p.to_path_buf())
    } else {
        println!("skipped: {} not found", p.display());
        None
    }
}

struct Collect(Vec<Event>);

impl crate::pipeline::EventSink for Collect {
    fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
        self.0.extend_from_slice(events);
        Ok(true)
    }
}

fn decode_capture(path: &std::path::Path) -> Vec<Event> {
    decode_capture_with(path, &[])
}

fn decode_capture_with(path: &std::path::Path, hsms_ports: &[u16]) -> Vec<Event> {
    let mut src = crate::capture::file::FileSource::open(path.to_str().unwrap()).unwrap();
    let mut sink = Collect(Vec::new());
    let mut cfg = crate::engine::EngineConfig::with_defaults();
    cfg.detect.hsms_ports = hsms_ports.to_vec();
    let (_, err) = crate::pipeline::run_inline(&mut src, cfg, &mut sink, None);
    assert!(err.is_none(), "{err:?}");
    sink.0
}

fn truth(dir: &std::path::Path, name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.truth.json"))).unwrap()).unwrap()
}

/// Where each planted anomaly of `anomalies.pcap` shows: an anomaly code on the record at the
/// truth's frame (or on the reply linked to it), or the GEM meaning that alerts build on.
/// TCP-level cases (A01, A05, A08, A13) have no HSMS message; they belong to the flow layer
/// and the inventory.
#[test]
fn corpus_anomalies_each_have_a_record() {
    let Some(dir) = corpus_dir() else { return };
    let ev = decode_capture(&dir.join("anomalies.pcap"));
    let t = truth(&dir, "anomalies");
    let all = msgs(&ev);
    let expect: &[(&str, &str)] = &[
        ("A02", "gem:equipment_constant_send"),
        ("A03", "gem:equipment_constant_send"),
        ("A04", "gem:terminal_text"),
        ("A06", "gem:online_data"),
        ("A07", "event_report_unknown_rptid"),
        ("A09", "gem:process_program_send"),
        ("A10", "gem:host_command"),
        ("A11", "gem:host_command"),
        ("A12", "s9_unrecognized_function"),
        ("A14", "data_before_select"),
        ("A15", "unknown_session_id"),
        ("A16", "unsupported_ptype"),
        ("A17", "bad_secs2_format_code"),
        ("A18", "unusual_item_format_jis8"),
        ("A19", "unknown_stype"),
        ("A20", "short_frame_length_lt_10"),
        ("A21", "length_exceeds_data"),
        ("A22", "unknown_stype"),
        ("A23", "control_message_bad_session_id"),
    ];
    let malformed_kinds = [
        "unsupported_ptype",
        "bad_secs2_format_code",
        "unknown_stype",
        "short_frame_length_lt_10",
        "length_exceeds_data",
        "control_message_bad_session_id",
    ];
    let mut seen = 0;
    for a in t["anomalies"].as_array().unwrap() {
        let id = a["id"].as_str().unwrap_or("");
        let kind = a["kind"].as_str().unwrap();
        let frame = a["frame"].as_u64().unwrap();
        let want = match expect.iter().find(|(i, _)| *i == id) {
            Some((_, w)) => *w,
            None if kind == "transaction_abort_sxf0" => kind,
            None => continue,
        };
        seen += 1;
        let here: Vec<&&OtMessage> =
            all.iter().filter(|m| m.frame == frame || m.request_frame == Some(frame)).collect();
        let hit = here.iter().any(|m| match want.strip_prefix("gem:") {
            Some(g) => serde_json::to_value(rec(m)).unwrap()["gem"]["kind"] == g,
            None => m.anomalies.contains(&want),
        });
        assert!(hit, "{id} {kind} at frame {frame}: {here:#?}");
        if malformed_kinds.contains(&kind) {
            assert!(
                here.iter().any(|m| m.frame == frame && m.malformed)
                    || kind == "control_message_bad_session_id",
                "{id} not malformed"
            );
        }
    }
    assert_eq!(seen, expect.len() + 2);
    // A02/A03 values and acks.
    let at = |f: u64| {
        all.iter()
            .find(|m| m.frame == f)
            .map(|m| serde_json::to_value(rec(m)).unwrap()["gem"].clone())
            .unwrap()
    };
    assert_eq!(at(183)["constants"][0]["ecv"], 900);
    assert_eq!(at(186)["eac"]["code"], 3);
    assert_eq!(at(276)["ppid"], "ETCH_OX_45S");
    assert_eq!(at(276)["body_len"], 125);
}

/// Every S1F2/S1F13/S1F14 identity the truth read from the wire is in the GEM field.
#[test]
fn corpus_identities_match() {
    let Some(dir) = corpus_dir() else { return };
    for name in ["normal_session", "anomalies", "segmentation"] {
        let ev = decode_capture(&dir.join(format!("{name}.pcap")));
        let all = msgs(&ev);
        let t = truth(&dir, name);
        let mut n = 0;
        for eq in t["equipment"].as_array().unwrap() {
            let ip: IpAddr = eq["ip"].as_str().unwrap().parse().unwrap();
            for o in eq["observed_identity"].as_array().unwrap() {
                let f = o["frame"].as_u64().unwrap();
                let m = all
                    .iter()
                    .find(|m| m.frame == f && m.src == ip)
                    .unwrap_or_else(|| panic!("{name} frame {f}"));
                let g = serde_json::to_value(rec(m)).unwrap()["gem"].clone();
                assert_eq!(g["mdln"], o["mdln"], "{name} frame {f}");
                assert_eq!(g["softrev"], o["softrev"], "{name} frame {f}");
                n += 1;
            }
        }
        assert!(n > 0);
        // A clean capture raises no protocol anomaly besides Separate.
        if name != "anomalies" {
            for m in &all {
                assert!(
                    m.anomalies.iter().all(|a| *a == "separate") && !m.malformed && !m.orphan,
                    "{name}: {m:#?}"
                );
            }
            let open: Vec<_> = txs(&ev);
            assert!(open.is_empty(), "{name}: {open:#?}");
        }
    }
}

/// Item counts and ASCII strings agree with the truth's own parse for every message.
#[test]
fn corpus_sml_strings_match() {
    let Some(dir) = corpus_dir() else { return };
    for name in ["normal_session", "segmentation"] {
        let ev = decode_capture(&dir.join(format!("{name}.pcap")));
        let all = msgs(&ev);
        let t = truth(&dir, name);
        for tm in t["messages"].as_array().unwrap() {
            let Some(sml) = tm["sml"].as_str() else { continue };
            if sml.ends_with("...") || sml.contains("...") {
                continue;
            }
            let f = tm["last_frame"].as_u64().unwrap();
            let sys = tm["system"].as_u64().unwrap() as u32;
            let m = all
                .iter()
                .find(|m| m.frame == f && rec(m).system == sys)
                .unwrap_or_else(|| panic!("{name} frame {f}"));
            let ours = serde_json::to_value(rec(m)).unwrap()["sml"].as_str().unwrap().to_owned();
            let strings = |s: &str| s.split('"').skip(1).step_by(2).map(str::to_owned).collect::<Vec<_>>();
            assert_eq!(strings(&ours), strings(sml), "{name} frame {f}");
            assert_eq!(
                ours.matches('<').count(),
                sml.matches('<').count(),
                "{name} frame {f}: {ours} vs {sml}"
            );
        }
    }
}

/// The corpus captures with their first packets removed: on the profile's ports, every message
/// that starts after the cut is decoded, whatever the cut splits (the 200 KiB S7F3 of
/// `segmentation.pcap` spans frames 35–210).
#[test]
fn corpus_mid_stream_pickup() {
    let Some(dir) = corpus_dir() else { return };
    for (name, cut) in [("segmentation", 100u64), ("segmentation", 300), ("normal_session", 57)] {
        let pcap = std::fs::read(dir.join(format!("{name}.pcap"))).unwrap();
        // Classic little-endian pcap: 24-byte file header, 16-byte record headers.
        let mut out = pcap[..24].to_vec();
        let (mut pos, mut n) = (24usize, 0u64);
        while pos + 16 <= pcap.len() {
            let incl = u32::from_le_bytes(pcap[pos + 8..pos + 12].try_into().unwrap()) as usize;
            n += 1;
            if n > cut {
                out.extend_from_slice(&pcap[pos..pos + 16 + incl]);
            }
            pos += 16 + incl;
        }
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), &out).unwrap();
        let ev = decode_capture_with(tmp.path(), &[5000, 6000]);
        let t = truth(&dir, name);
        let want = t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["first_frame"].as_u64().unwrap() > cut)
            .count();
        let m = msgs(&ev);
        assert_eq!(m.len(), want, "{name} cut at {cut}");
        for x in &m {
            assert!(!x.malformed, "{name}: {x:#?}");
            assert!(
                x.anomalies
                    .iter()
                    .all(|a| ["separate", "orphan_after_gap", "resync_skipped_bytes"].contains(a)),
                "{x:#?}"
            );
        }
        assert!(txs(&ev).is_empty());
    }
}

#[test]
fn sml_body_renders_the_same_inline_and_on_the_heap() {
    use crate::hsms::record::{SmlBody, SML_MAX_CHARS, SML_SOURCE_BYTES};
    // An ASCII item with two length bytes around n characters: bodies of n + 3 bytes, on both
    // sides of the inline size and beyond the copied prefix.
    for n in [0usize, 1, 60, 61, 62, 200, 2100] {
        let mut body = vec![0x42, (n >> 8) as u8, n as u8];
        body.extend((0..n).map(|i| b'a' + (i % 26) as u8));
        let keep = &body[..body.len().min(SML_SOURCE_BYTES)];
        let want = crate::hsms::secs2::render_sml(keep, body.len(), 64, SML_MAX_CHARS);
        let sml = SmlBody::new(&body, 64);
        assert_eq!(sml.render(), want, "n = {n}");
        assert_eq!(sml, SmlBody::new(&body, 64));
    }
}
