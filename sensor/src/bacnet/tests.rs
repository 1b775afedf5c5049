//! Tests across the layers: the worked byte strings of `shared/docs/protocols.md` through the
//! parser, pairing, property tests, and the corpus captures against their truth files.

use std::collections::HashMap;
use std::net::IpAddr;

use proptest::prelude::*;

use super::apdu::parse_apdu;
use super::bvlc::{parse_bvlc, parse_bvlc_header, parse_bvlc_payload, BvlcFunction};
use super::npdu::parse_npdu;
use super::record::{BacnetDetail, BacnetRecord, BacnetValue};
use super::state::decode_datagram;
use super::tags::{check_tags, parse_tag, MAX_NESTING};
use super::{probe, BacnetError, BacnetParser};
use crate::app::{drive, AppLimits, AppParser, Cx, Dir, Endpoint, FlowInfo, Transport};
use crate::record::{Event, OtBody, OtMessage, TxEvent, TxOutcome};

const WHO_IS: &[u8] =
    &[0x81, 0x0b, 0x00, 0x10, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x08, 0x09, 0x00, 0x19, 0x64];
const I_AM: &[u8] = &[
    0x81, 0x0b, 0x00, 0x14, 0x01, 0x00, 0x10, 0x00, 0xc4, 0x02, 0x00, 0x00, 0x7b, 0x22, 0x05, 0xc4, 0x91,
    0x00, 0x21, 0x05,
];
const READ_PROPERTY: &[u8] =
    &[0x81, 0x0a, 0x00, 0x11, 0x01, 0x04, 0x00, 0x05, 0x01, 0x0c, 0x0c, 0x02, 0x00, 0x00, 0x7b, 0x19, 0x79];
const DCC: &[u8] = &[
    0x81, 0x0a, 0x00, 0x17, 0x01, 0x04, 0x00, 0x05, 0x03, 0x11, 0x09, 0x3c, 0x19, 0x01, 0x2d, 0x07, 0x00,
    0x73, 0x65, 0x63, 0x72, 0x65, 0x74,
];

fn messages(ev: &[Event]) -> Vec<&OtMessage> {
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

fn bacnet(m: &OtMessage) -> &BacnetRecord {
    match &m.body {
        OtBody::Bacnet(r) => r,
        other => panic!("not BACnet: {other:?}"),
    }
}

fn is_incomplete<T>(r: &Result<T, BacnetError>) -> bool {
    matches!(r, Err(BacnetError::Incomplete { .. }))
}

fn run(segments: &[(Dir, &[u8])]) -> Vec<Event> {
    let flow = drive::test_flow(Transport::Udp, 47808);
    drive::run(&mut BacnetParser::new(), &flow, &AppLimits::default(), segments)
}

#[test]
fn worked_who_is() {
    // 81 0b 00 10: Original-Broadcast-NPDU, 16 octets | 01 20 ff ff 00 ff: NPDU, global
    // broadcast, hop count 255 | 10 08: unconfirmed who-Is | 09 00 19 64: range 0..100.
    let ev = run(&[(Dir::ToServer, WHO_IS)]);
    let m = messages(&ev);
    let r = bacnet(m[0]);
    assert!(!m[0].malformed, "{:?}", m[0].anomalies);
    assert_eq!((r.bvlc, r.apdu_type, r.service), (0x0b, Some(1), Some(8)));
    assert_eq!(r.npdu.and_then(|n| n.dnet), Some(0xffff));
    assert_eq!(r.detail.as_deref(), Some(&BacnetDetail::WhoIs { low: Some(0), high: Some(100) }));
    assert_eq!(r.summary(), "unconfirmed-request who-Is 0-100");
}

#[test]
fn worked_i_am() {
    // 01 00: NPDU, no routing | 10 00: unconfirmed i-Am | c4 02 00 00 7b: device,123 |
    // 22 05 c4: 1476 | 91 00: segmented-both | 21 05: vendor 5.
    let ev = run(&[(Dir::ToClient, I_AM)]);
    let m = messages(&ev);
    let r = bacnet(m[0]);
    assert!(!m[0].malformed);
    let id = r.identity.as_deref().unwrap();
    assert_eq!(
        (id.device_instance, id.vendor_id, id.max_apdu, id.segmentation),
        (Some(123), Some(5), Some(1476), Some(0))
    );
    assert_eq!(r.summary(), "unconfirmed-request i-Am device,123 max-apdu 1476 segmented-both vendor 5");
}

#[test]
fn worked_read_property() {
    // 01 04: expecting reply | 00 05 01 0c: confirmed, max 1476, invoke 1, readProperty |
    // 0c 02 00 00 7b: device,123 | 19 79: vendor-name.
    let ev = run(&[(Dir::ToServer, READ_PROPERTY)]);
    let m = messages(&ev);
    let r = bacnet(m[0]);
    assert!(!m[0].malformed);
    assert_eq!((r.apdu_type, r.service, r.invoke_id), (Some(0), Some(12), Some(1)));
    assert_eq!(r.segmentation.and_then(|s| s.max_apdu), Some(1476));
    assert_eq!(r.summary(), "confirmed-request readProperty device,123 vendor-name invoke 1");
    // Unanswered at the end of the flow.
    let t = txs(&ev);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].outcome, t[0].request_frame), (TxOutcome::UnansweredAtClose, 1));
    assert_eq!(t[0].what, "readProperty invoke 1 device,123 vendor-name");
}

#[test]
fn worked_dcc_password_is_never_kept() {
    // 00 05 03 11: confirmed, invoke 3, deviceCommunicationControl | 09 3c: 60 min |
    // 19 01: disable | 2d 07 00 "secret": password, UTF-8.
    let ev = run(&[(Dir::ToServer, DCC)]);
    let m = messages(&ev);
    let r = bacnet(m[0]);
    assert!(!m[0].malformed);
    assert_eq!(
        r.summary(),
        "confirmed-request deviceCommunicationControl disable 60 min password (6 octets) invoke 3"
    );
    let json = serde_json::to_string(m[0]).unwrap();
    let debug = format!("{ev:?}");
    // The layers a debugging session would print: the datagram decode, its APDU, its tags.
    let dd = decode_datagram(DCC, true, 64);
    let layers = format!("{dd:?} {:?}", parse_tag(&DCC[14..]).unwrap());
    for text in [&json, &debug, &layers] {
        assert!(!text.contains("secret") && !text.contains("73656372"), "{text}");
        assert!(!text.contains("115, 101, 99"), "{text}");
    }
    assert!(json.contains("\"password_present\":true") && json.contains("\"password_length\":6"));
}

/// A ReadProperty-ACK for `invoke` with a Real value.
fn rp_ack(invoke: u8) -> Vec<u8> {
    let mut d = vec![0x81, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x30, invoke, 0x0c];
    d.extend([0x0c, 0x00, 0x00, 0x00, 0x01, 0x19, 0x55, 0x3e, 0x44, 0x41, 0xac, 0x00, 0x00, 0x3f]);
    let n = d.len() as u16;
    d[2..4].copy_from_slice(&n.to_be_bytes());
    d
}

fn rp_req(invoke: u8) -> Vec<u8> {
    let mut d = vec![0x81, 0x0a, 0x00, 0x11, 0x01, 0x04, 0x00, 0x05, invoke, 0x0c];
    d.extend([0x0c, 0x00, 0x00, 0x00, 0x01, 0x19, 0x55]);
    d
}

#[test]
fn pairing_and_orphans() {
    let (req, ack, other) = (rp_req(7), rp_ack(7), rp_ack(8));
    let ev =
        run(&[(Dir::ToServer, &req), (Dir::ToClient, &ack), (Dir::ToClient, &other), (Dir::ToClient, &ack)]);
    let m = messages(&ev);
    assert_eq!((m[1].request_frame, m[1].orphan), (Some(1), false));
    assert_eq!(m[1].latency_us, Some(1000));
    assert_eq!(bacnet(m[1]).properties[0].value, Some(BacnetValue::Real(21.5)));
    // Unknown invoke id, then a duplicate answer: both orphans.
    assert!(m[2].orphan && m[3].orphan);
    assert!(txs(&ev).is_empty());
    // An answer in the same direction as the request does not pair.
    let ev = run(&[(Dir::ToServer, &req), (Dir::ToServer, &ack)]);
    assert!(messages(&ev)[1].orphan);
    assert_eq!(txs(&ev).len(), 1);
}

#[test]
fn pairing_service_must_match() {
    // SimpleACK invoke 7 for writeProperty (15) while the request was readProperty (12).
    let simple = [0x81, 0x0a, 0x00, 0x09, 0x01, 0x00, 0x20, 0x07, 0x0f];
    let ev = run(&[(Dir::ToServer, &rp_req(7)), (Dir::ToClient, &simple)]);
    let m = messages(&ev);
    assert!(m[1].orphan && m[1].anomalies.contains(&"answer_service_mismatch"));
    assert_eq!(txs(&ev).len(), 1);
}

#[test]
fn reject_and_abort_pair_by_invoke_id() {
    // Reject invoke 7 unrecognized-service; Abort from the server invoke 9.
    let reject = [0x81, 0x0a, 0x00, 0x09, 0x01, 0x00, 0x60, 0x07, 0x09];
    let abort = [0x81, 0x0a, 0x00, 0x09, 0x01, 0x00, 0x71, 0x09, 0x04];
    let ev = run(&[
        (Dir::ToServer, &rp_req(7)),
        (Dir::ToServer, &rp_req(9)),
        (Dir::ToClient, &reject),
        (Dir::ToClient, &abort),
    ]);
    let m = messages(&ev);
    assert_eq!(m[2].request_frame, Some(1));
    assert_eq!(m[3].request_frame, Some(2));
    let r = bacnet(m[2]);
    assert_eq!((r.apdu_type, r.service), (Some(6), None));
    assert_eq!(r.summary(), "reject unrecognized-service invoke 7");
    assert_eq!(bacnet(m[3]).summary(), "abort segmentation-not-supported (server) invoke 9");
    assert!(txs(&ev).is_empty());
    // An abort from the client (SRV = 0) closes its own request.
    let client_abort = [0x81, 0x0a, 0x00, 0x09, 0x01, 0x00, 0x70, 0x07, 0x00];
    let ev = run(&[(Dir::ToServer, &rp_req(7)), (Dir::ToServer, &client_abort)]);
    assert_eq!(messages(&ev)[1].request_frame, Some(1));
}

#[test]
fn timeout_and_table_bound() {
    let flow = drive::test_flow(Transport::Udp, 47808);
    let limits = AppLimits { bacnet_timeout_ns: 1_500_000, max_pending_per_flow: 2, ..AppLimits::default() };
    let (r1, r2, r3, r4) = (rp_req(1), rp_req(2), rp_req(3), rp_req(4));
    // drive::run advances 1 ms per segment: request 1 times out when frame 3 arrives (2 ms).
    let ev = drive::run(
        &mut BacnetParser::new(),
        &flow,
        &limits,
        &[(Dir::ToServer, &r1), (Dir::ToServer, &r2), (Dir::ToServer, &r3)],
    );
    let t = txs(&ev);
    assert_eq!((t[0].outcome, t[0].request_frame), (TxOutcome::Timeout, 1));
    // Four requests 0 ms apart with a table of 2: two evictions.
    let limits = AppLimits { max_pending_per_flow: 2, ..AppLimits::default() };
    let ev = drive::run(
        &mut BacnetParser::new(),
        &flow,
        &limits,
        &[(Dir::ToServer, &r1), (Dir::ToServer, &r2), (Dir::ToServer, &r3), (Dir::ToServer, &r4)],
    );
    let t = txs(&ev);
    let evicted: Vec<u64> =
        t.iter().filter(|t| t.outcome == TxOutcome::Evicted).map(|t| t.request_frame).collect();
    assert_eq!(evicted, vec![1, 2]);
    let at_close: Vec<u64> =
        t.iter().filter(|t| t.outcome == TxOutcome::UnansweredAtClose).map(|t| t.request_frame).collect();
    assert_eq!(at_close, vec![3, 4]);
}

#[test]
fn retransmission_keeps_the_first_request() {
    let req = rp_req(5);
    let ev = run(&[(Dir::ToServer, &req), (Dir::ToServer, &req), (Dir::ToClient, &rp_ack(5))]);
    let m = messages(&ev);
    assert!(m[1].anomalies.contains(&"request_retransmitted"));
    assert_eq!((m[2].request_frame, m[2].latency_us), (Some(1), Some(2000)));
}

#[test]
fn invoke_id_reuse_reports_the_abandoned_request() {
    // readProperty invoke 5, then writeProperty invoke 5 (same flow, same direction).
    let wp = [
        0x81, 0x0a, 0x00, 0x16, 0x01, 0x04, 0x00, 0x05, 0x05, 0x0f, 0x0c, 0x00, 0x40, 0x00, 0x01, 0x19, 0x55,
        0x3e, 0x00, 0x3f, 0x49, 0x08,
    ];
    let ev = run(&[(Dir::ToServer, &rp_req(5)), (Dir::ToServer, &wp)]);
    let m = messages(&ev);
    assert!(!m[1].malformed, "{:?}", m[1].anomalies);
    assert!(m[1].anomalies.contains(&"invoke_id_reused"));
    let t = txs(&ev);
    assert_eq!(
        t.iter().map(|t| (t.request_frame, t.outcome)).collect::<Vec<_>>(),
        vec![(1, TxOutcome::Timeout), (2, TxOutcome::UnansweredAtClose)]
    );
}

#[test]
fn wildcard_device_read_names_the_instance() {
    // RP-ACK device,4194303 object-identifier = device,500 (as in iti_bacnet_test frame 4).
    let d = [
        0x81, 0x0a, 0x00, 0x17, 0x01, 0x00, 0x30, 0x01, 0x0c, 0x0c, 0x02, 0x3f, 0xff, 0xff, 0x19, 0x4b, 0x3e,
        0xc4, 0x02, 0x00, 0x01, 0xf4, 0x3f,
    ];
    let dd = decode_datagram(&d, true, 64);
    let id = dd.record.identity.as_deref().expect("identity");
    assert_eq!(id.device_instance, Some(500));
    // An object-name that is not a CharacterString is flagged and not taken.
    let d = [
        0x81, 0x0a, 0x00, 0x14, 0x01, 0x00, 0x30, 0x01, 0x0c, 0x0c, 0x02, 0x00, 0x00, 0x05, 0x19, 0x4d, 0x3e,
        0x21, 0x07, 0x3f,
    ];
    let dd = decode_datagram(&d, true, 64);
    assert!(dd.flags.has("identity_property_bad_type") && !dd.flags.malformed);
    assert!(dd.record.identity.is_none());
}

#[test]
fn empty_datagram() {
    let dd = decode_datagram(&[], true, 64);
    assert!(dd.flags.malformed && dd.flags.has("bvlc_empty_datagram"));
}

/// A segmented ComplexACK segment of readProperty (object-list) carrying `body`.
fn seg_ack(invoke: u8, seq: u8, more: bool, body: &[u8]) -> Vec<u8> {
    let flags = if more { 0x3c } else { 0x38 };
    let mut d = vec![0x81, 0x0a, 0x00, 0x00, 0x01, 0x00, flags, invoke, seq, 0x04, 0x0c];
    d.extend_from_slice(body);
    let n = d.len() as u16;
    d[2..4].copy_from_slice(&n.to_be_bytes());
    d
}

#[test]
fn segmented_complex_ack_is_reassembled() {
    // RP device,5 object-list; the ACK split in three segments, with a SegmentACK between.
    let mut req = vec![0x81, 0x0a, 0x00, 0x11, 0x01, 0x04, 0x02, 0x75, 0x03, 0x0c];
    req.extend([0x0c, 0x02, 0x00, 0x00, 0x05, 0x19, 0x4c]);
    let mut body = vec![0x0c, 0x02, 0x00, 0x00, 0x05, 0x19, 0x4c, 0x3e];
    for i in 0..6u8 {
        body.extend([0xc4, 0x00, 0x00, 0x00, i]);
    }
    body.push(0x3f);
    let (a, b) = body.split_at(12);
    let (b, c) = b.split_at(10);
    let s0 = seg_ack(3, 0, true, a);
    let sack = [0x81, 0x0a, 0x00, 0x0a, 0x01, 0x00, 0x40, 0x03, 0x00, 0x04];
    let sack_last = [0x81, 0x0a, 0x00, 0x0a, 0x01, 0x00, 0x40, 0x03, 0x02, 0x04];
    let s1 = seg_ack(3, 1, true, b);
    let s1_again = s1.clone();
    let s2 = seg_ack(3, 2, false, c);
    let ev = run(&[
        (Dir::ToServer, &req),
        (Dir::ToClient, &s0),
        (Dir::ToServer, &sack),
        (Dir::ToClient, &s1),
        (Dir::ToClient, &s1_again),
        (Dir::ToClient, &s2),
        (Dir::ToServer, &sack_last),
    ]);
    let m = messages(&ev);
    // The client's SegmentACK of the last segment still belongs to the transaction.
    assert_eq!((m[6].request_frame, m[6].orphan), (Some(1), false));
    for x in &m {
        assert!(!x.malformed, "{:?} {:?}", x.anomalies, bacnet(x));
    }
    assert_eq!(m[1].request_frame, Some(1));
    assert_eq!(m[2].request_frame, Some(1));
    let last = bacnet(m[5]);
    assert_eq!(m[5].request_frame, Some(1));
    let seg = last.segmentation.unwrap();
    assert_eq!(seg.reassembled.map(|r| (r.segments, r.bytes)), Some((3, body.len() as u32)));
    let Some(BacnetValue::List(items)) = &last.properties[0].value else { panic!("{last:?}") };
    assert_eq!(items.len(), 6);
    assert!(txs(&ev).is_empty());
    // Out of order: recorded as segments, not reassembled.
    let ev = run(&[(Dir::ToServer, &req), (Dir::ToClient, &s0), (Dir::ToClient, &s2)]);
    let m = messages(&ev);
    assert!(m[2].anomalies.contains(&"segment_out_of_order"));
    assert!(bacnet(m[2]).properties.is_empty());
}

#[test]
fn bvlc_only_and_network_messages() {
    // Register-Foreign-Device TTL 60; BVLC-Result NAK; Forwarded-NPDU of an I-Am from
    // 192.0.2.9:47808; Who-Is-Router-To-Network (network message 0x00) for DNET 5.
    let reg = [0x81, 0x05, 0x00, 0x06, 0x00, 0x3c];
    let res = [0x81, 0x00, 0x00, 0x06, 0x00, 0x30];
    let mut fwd = vec![0x81, 0x04, 0x00, 0x00, 192, 0, 2, 9, 0xba, 0xc0];
    fwd.extend_from_slice(&I_AM[4..]);
    let n = fwd.len() as u16;
    fwd[2..4].copy_from_slice(&n.to_be_bytes());
    let router = [0x81, 0x0b, 0x00, 0x09, 0x01, 0x80, 0x00, 0x00, 0x05];
    let ev =
        run(&[(Dir::ToServer, &reg), (Dir::ToClient, &res), (Dir::ToServer, &fwd), (Dir::ToServer, &router)]);
    let m = messages(&ev);
    assert!(m.iter().all(|x| !x.malformed));
    assert_eq!(bacnet(m[0]).summary(), "bvlc Register-Foreign-Device ttl 60s");
    assert_eq!(bacnet(m[1]).summary(), "bvlc BVLC-Result register-foreign-device-nak");
    let f = bacnet(m[2]);
    assert_eq!(f.orig_src, Some("192.0.2.9:47808".parse().unwrap()));
    assert_eq!(f.identity.as_ref().and_then(|i| i.device_instance), Some(123));
    let r = bacnet(m[3]);
    assert_eq!((r.apdu_type, r.service), (None, None));
    assert_eq!(r.summary(), "network who-is-router-to-network dnet 5");
}

#[test]
fn corpus_malformed_cases() {
    // The raw datagrams of bacnet_anomalies (malformed_*), each with its anomaly code.
    let cases: [(&str, &str); 12] = [
        ("810a002801040005330c0c02000835194d", "bvlc_length_exceeds_datagram"),
        ("810a000801040005330c0c02000835194d", "bvlc_length_short_of_datagram"),
        ("810a000001040005330c0c02000835194d", "bvlc_length_below_header"),
        ("820a001101040005330c0c02000835194d", "bvlc_ipv6_on_ipv4"),
        ("817f001101040005330c0c02000835194d", "bvlc_unknown_function"),
        ("810a001102040005330c0c02000835194d", "npdu_bad_version"),
        ("810a0007012400", "npdu_truncated"),
        ("810a001001040005340c0b020008194d", "objectid_bad_length"),
        ("810a00090104000535", "apdu_truncated"),
        ("810a000c0104000536550901", "apdu_unknown_service"),
        ("810a000a0104f005370c", "apdu_bad_type"),
        ("810b00090100100809", "tag_truncated"),
    ];
    for (hex, code) in cases {
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let d = decode_datagram(&bytes, true, 64);
        assert!(d.flags.malformed && d.flags.has(code), "{hex}: {:?}", d.flags);
    }
}

#[test]
fn probe_is_strict() {
    assert!(probe(WHO_IS) && probe(I_AM) && probe(READ_PROPERTY));
    // Length mismatch, type 0x82, function 0x7f, NPDU version 2, 3 bytes.
    assert!(!probe(&WHO_IS[..15]));
    assert!(!probe(&[0x82, 0x0b, 0x00, 0x04]));
    assert!(!probe(&[0x81, 0x7f, 0x00, 0x04]));
    assert!(!probe(&[0x81, 0x0b, 0x00, 0x06, 0x02, 0x00]));
    assert!(!probe(&[0x81, 0x0b, 0x00]));
    // BVLC-only functions pass when complete.
    assert!(probe(&[0x81, 0x05, 0x00, 0x06, 0x00, 0x3c]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every prefix shorter than a layer's header is Incomplete, never Malformed.
    #[test]
    fn truncated_headers_are_incomplete(which in 0usize..4, cut in 0usize..64) {
        let samples: [&[u8]; 4] = [WHO_IS, I_AM, READ_PROPERTY, DCC];
        let d = samples[which];
        // BVLC: the header and the declared length.
        let bvlc_cut = cut.min(d.len() - 1);
        prop_assert!(is_incomplete(&parse_bvlc(&d[..bvlc_cut])));
        if bvlc_cut < 4 {
            prop_assert!(is_incomplete(&parse_bvlc_header(&d[..bvlc_cut])));
        }
        let npdu = &d[4..];
        let (_, hlen) = parse_npdu(npdu).unwrap();
        let c = cut % hlen;
        prop_assert!(is_incomplete(&parse_npdu(&npdu[..c])));
        let apdu = &npdu[hlen..];
        let (_, alen) = parse_apdu(apdu).unwrap();
        let c = cut % alen;
        prop_assert!(is_incomplete(&parse_apdu(&apdu[..c])));
        // Each tag of the service data cut inside its header or content.
        let mut at = alen;
        while at < apdu.len() {
            let (_, used) = parse_tag(&apdu[at..]).unwrap();
            let c = cut % used;
            prop_assert!(is_incomplete(&parse_tag(&apdu[at..at + c])));
            at += used;
        }
    }

    /// Forwarded-NPDU and the fixed BVLC payloads cut short are Incomplete.
    #[test]
    fn truncated_bvlc_payloads_are_incomplete(f in prop::sample::select(vec![0u8, 4, 5, 8]), cut in 0usize..6) {
        let full = [192u8, 0, 2, 9, 0xba, 0xc0];
        let need = match f { 0 | 5 => 2, _ => 6 };
        let c = cut % need;
        prop_assert!(is_incomplete(&parse_bvlc_payload(BvlcFunction(f), &full[..c])));
    }

    /// Arbitrary datagrams never panic, one record per datagram.
    #[test]
    fn arbitrary_datagrams_never_panic(
        dgrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..8),
        dirs in prop::collection::vec(any::<bool>(), 8),
    ) {
        let segs: Vec<(Dir, &[u8])> = dgrams
            .iter()
            .zip(dirs.iter())
            .map(|(d, &b)| (if b { Dir::ToServer } else { Dir::ToClient }, d.as_slice()))
            .collect();
        let ev = run(&segs);
        prop_assert_eq!(messages(&ev).len(), segs.len());
        for m in messages(&ev) {
            let _ = bacnet(m).summary();
        }
    }

    /// Datagrams that start as valid BACnet and continue with noise never panic.
    #[test]
    fn bacnet_prefixed_noise_never_panics(
        head in prop::sample::select(vec![0u8, 1, 3, 5, 6, 7]),
        svc in 0u8..40,
        tail in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut d = vec![0x81, 0x0a, 0x00, 0x00, 0x01, 0x04];
        d.extend_from_slice(match head {
            0 => &[0x00, 0x05, 0x01][..],
            1 => &[0x10][..],
            3 => &[0x30, 0x01][..],
            5 => &[0x50, 0x01][..],
            6 => &[0x60, 0x01][..],
            _ => &[0x70, 0x01][..],
        });
        d.push(svc);
        d.extend_from_slice(&tail);
        let n = d.len() as u16;
        d[2..4].copy_from_slice(&n.to_be_bytes());
        let ev = run(&[(Dir::ToServer, &d), (Dir::ToClient, &d)]);
        prop_assert_eq!(messages(&ev).len(), 2);
    }

    /// Nesting deeper than the cap is refused, not followed.
    #[test]
    fn deep_nesting_is_bounded(depth in 1usize..200) {
        let mut body = vec![0x0c, 0x02, 0, 0, 1, 0x19, 0x4d, 0x3e];
        body.extend(std::iter::repeat_n(0x0e, depth));
        body.extend(std::iter::repeat_n(0x0f, depth));
        body.push(0x3f);
        let mut f = super::Flags::default();
        let r = check_tags(&body, &mut f);
        if depth < MAX_NESTING {
            prop_assert!(r.is_ok());
        } else {
            prop_assert_eq!(r, Err(BacnetError::malformed(7 + MAX_NESTING, "tag_nesting_too_deep")));
        }
        let mut d = vec![0x81, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x30, 0x01, 0x0c];
        d.extend_from_slice(&body);
        let n = d.len() as u16;
        d[2..4].copy_from_slice(&n.to_be_bytes());
        let dd = decode_datagram(&d, true, 64);
        prop_assert_eq!(dd.flags.malformed, depth + 1 >= MAX_NESTING);
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus captures, read at run time from ../shared (skipped when absent).

/// (frame, ts, src, sport, dst, dport, UDP payload) of every UDP datagram of a capture.
type Datagram = (u64, i64, IpAddr, u16, IpAddr, u16, Vec<u8>);

fn udp_datagrams(path: &str) -> Option<Vec<Datagram>> {
    use pcap_parser::{Block, PcapBlock, PcapCapture, PcapNGCapture};
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(_) => {
            println!("skipped: {path} is not available");
            return None;
        }
    };
    let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();
    if let Ok(cap) = PcapCapture::from_file(&data) {
        for b in &cap.blocks {
            frames.push((i64::from(b.ts_sec) * 1_000_000_000 + i64::from(b.ts_usec) * 1000, b.data.to_vec()));
        }
    } else {
        let cap = PcapNGCapture::from_file(&data).expect("pcap or pcapng");
        for b in cap.iter() {
            if let PcapBlock::NG(Block::EnhancedPacket(e)) = b {
                let ts = ((u64::from(e.ts_high) << 32) | u64::from(e.ts_low)) as i64 * 1000;
                frames.push((ts, e.data[..e.caplen as usize].to_vec()));
            }
        }
    }
    let mut out = Vec::new();
    for (i, (ts, f)) in frames.iter().enumerate() {
        let Ok(p) = etherparse::SlicedPacket::from_ethernet(f) else {
            continue;
        };
        let (src, dst) = match &p.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => {
                (IpAddr::V4(ip.header().source_addr()), IpAddr::V4(ip.header().destination_addr()))
            }
            Some(etherparse::NetSlice::Ipv6(ip)) => {
                (IpAddr::V6(ip.header().source_addr()), IpAddr::V6(ip.header().destination_addr()))
            }
            _ => continue,
        };
        if let Some(etherparse::TransportSlice::Udp(u)) = &p.transport {
            out.push((
                i as u64 + 1,
                *ts,
                src,
                u.source_port(),
                dst,
                u.destination_port(),
                u.payload().to_vec(),
            ));
        }
    }
    Some(out)
}

/// Runs every UDP flow on a BACnet port through its own parser, as the flow layer does.
fn decode_capture(path: &str) -> Option<Vec<Event>> {
    let dgrams = udp_datagrams(path)?;
    let limits = AppLimits::default();
    let mut flows: HashMap<(Endpoint, Endpoint), (FlowInfo, BacnetParser)> = HashMap::new();
    let mut out = Vec::new();
    let mut last_ts = 0;
    for (frame, ts, src, sport, dst, dport, payload) in &dgrams {
        if !(47808..=47823).contains(sport) && !(47808..=47823).contains(dport) {
            continue;
        }
        let a = Endpoint { ip: *src, port: *sport };
        let b = Endpoint { ip: *dst, port: *dport };
        let key = if (a.ip, a.port) <= (b.ip, b.port) { (a, b) } else { (b, a) };
        let n = flows.len() as u64;
        let (flow, parser) = flows.entry(key).or_insert_with(|| {
            let flow = FlowInfo {
                id: n + 1,
                transport: Transport::Udp,
                client: a,
                server: b,
                vlan: 0,
                roles_from_syn: false,
            };
            (flow, BacnetParser::new())
        });
        let dir = if flow.client == a { Dir::ToServer } else { Dir::ToClient };
        let mut cx = Cx { frame: *frame, ts_ns: *ts, flow, limits: &limits, out: &mut out };
        parser.parse(dir, payload, &mut cx);
        last_ts = *ts;
    }
    let mut flows: Vec<_> = flows.into_values().collect();
    flows.sort_by_key(|(f, _)| f.id);
    for (flow, mut parser) in flows {
        let mut cx = Cx { frame: 0, ts_ns: last_ts, flow: &flow, limits: &limits, out: &mut out };
        parser.close(&mut cx);
    }
    Some(out)
}

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/bacnet/pcaps/");

fn truth(name: &str) -> Option<serde_json::Value> {
    let path = format!("{CORPUS}{name}.truth.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: {path} is not available");
        return None;
    };
    Some(serde_json::from_str(&text).expect("truth JSON"))
}

fn apdu_type_number(name: &str) -> Option<u8> {
    [
        "confirmed-request",
        "unconfirmed-request",
        "simple-ack",
        "complex-ack",
        "segment-ack",
        "error",
        "reject",
        "abort",
    ]
    .iter()
    .position(|n| *n == name)
    .map(|p| p as u8)
}

fn check_corpus(name: &str) {
    let Some(t) = truth(name) else { return };
    let Some(ev) = decode_capture(&format!("{CORPUS}{name}.pcap")) else {
        return;
    };
    let by_frame: HashMap<u64, &OtMessage> = messages(&ev).into_iter().map(|m| (m.frame, m)).collect();
    let malformed_frames: Vec<u64> = t["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["tag"].as_str().unwrap().starts_with("malformed"))
        .flat_map(|a| a["request_frames"].as_array().unwrap().iter().map(|f| f.as_u64().unwrap()))
        .collect();
    // Every truth frame: APDU type, service, invoke id, malformed.
    let cols: Vec<&str> =
        t["frames_columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let col = |row: &serde_json::Value, c: &str| row[cols.iter().position(|x| *x == c).unwrap()].clone();
    let mut checked = 0;
    for row in t["frames"].as_array().unwrap() {
        let frame = col(row, "frame").as_u64().unwrap();
        let m = by_frame.get(&frame).unwrap_or_else(|| panic!("{name}: no record at frame {frame}"));
        let r = bacnet(m);
        if malformed_frames.contains(&frame) {
            assert!(m.malformed, "{name} frame {frame}: malformed test input not flagged: {r:?}");
            assert!(!m.anomalies.is_empty());
            continue;
        }
        assert!(!m.malformed, "{name} frame {frame}: {:?} {}", m.anomalies, r.summary());
        assert_eq!(Some(r.bvlc as u64), col(row, "bvlc_function").as_u64(), "{name} frame {frame}");
        let want_type = col(row, "apdu_type").as_str().and_then(apdu_type_number);
        assert_eq!(r.apdu_type, want_type, "{name} frame {frame}");
        let want_service = col(row, "service");
        match want_service.as_str() {
            Some(s) => assert_eq!(r.service_name, Some(s), "{name} frame {frame}"),
            None => assert_eq!(r.service, None, "{name} frame {frame}"),
        }
        assert_eq!(r.invoke_id.map(u64::from), col(row, "invoke_id").as_u64(), "{name} frame {frame}");
        checked += 1;
    }
    assert!(checked > 500, "{name}: only {checked} frames checked");
    // Pairing: every answered transaction pairs, every unanswered one is reported.
    let tx = txs(&ev);
    for c in t["confirmed_transactions"].as_array().unwrap() {
        let req = c["req_frame"].as_u64().unwrap();
        match c["rsp_frame"].as_u64() {
            Some(rsp) => {
                let m = by_frame[&rsp];
                assert_eq!(m.request_frame, Some(req), "{name}: answer {rsp} of {req}");
                assert!(!m.orphan);
            }
            None => {
                let reported = tx.iter().any(|x| x.request_frame == req);
                let malformed = by_frame.get(&req).is_some_and(|m| m.malformed);
                assert!(reported || malformed, "{name}: unanswered request {req} not reported");
            }
        }
    }
    // Identities: I-Am fields and device properties read back.
    for (ip, rec) in t["device_identities_on_wire"].as_object().unwrap() {
        let ia = &rec["i_am"];
        if let Some(f) = ia["frame"].as_u64() {
            let r = bacnet(by_frame[&f]);
            let id = r.identity.as_deref().expect("I-Am identity");
            assert_eq!(id.device_instance.map(u64::from), ia["device_instance"].as_u64(), "{name} {ip}");
            assert_eq!(id.vendor_id.map(u64::from), ia["vendor_id"].as_u64(), "{name} {ip}");
        }
        let mut seen: HashMap<&'static str, String> = HashMap::new();
        for f in rec["frames"].as_array().unwrap() {
            let m = by_frame[&f.as_u64().unwrap()];
            assert_eq!(m.src.to_string(), *ip);
            for p in &bacnet(m).properties {
                if let (Some(n), Some(v)) = (p.property_name, &p.value) {
                    seen.insert(n, v.as_text().map_or_else(|| v.to_string(), str::to_owned));
                }
            }
            let id = bacnet(m).identity.as_deref().expect("identity from a device property read");
            assert!(id.device_instance.is_some());
        }
        for (prop, want) in rec["properties"].as_object().unwrap() {
            assert_eq!(seen.get(prop.as_str()).map(String::as_str), want.as_str(), "{name} {ip} {prop}");
        }
    }
}

#[test]
fn corpus_bacnet_normal() {
    check_corpus("bacnet_normal");
}

#[test]
fn corpus_bacnet_anomalies() {
    check_corpus("bacnet_anomalies");
}

const PUBLIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/captures/public/bacnet/");

#[test]
fn public_captures_decode_without_panic() {
    let Ok(dir) = std::fs::read_dir(PUBLIC) else {
        println!("skipped: {PUBLIC} is not available");
        return;
    };
    for entry in dir.flatten() {
        let path = entry.path().to_string_lossy().into_owned();
        let Some(ev) = decode_capture(&path) else {
            continue;
        };
        let m = messages(&ev);
        let bad = m.iter().filter(|m| m.malformed).count();
        let mut codes: HashMap<&str, usize> = HashMap::new();
        for x in &m {
            for c in &x.anomalies {
                *codes.entry(c).or_default() += 1;
            }
        }
        let mut codes: Vec<_> = codes.into_iter().collect();
        codes.sort();
        println!(
            "{path}: {} messages, {bad} malformed, {} unanswered, anomalies {codes:?}",
            m.len(),
            txs(&ev).len()
        );
        assert!(!m.is_empty(), "{path}");
    }
}

/// Prints every record of the capture named by `BACNET_DUMP` (for comparing with tshark):
/// `BACNET_DUMP=path cargo test -p fabmon-sensor --lib bacnet::tests::dump -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump() {
    let Ok(path) = std::env::var("BACNET_DUMP") else {
        return;
    };
    let Some(ev) = decode_capture(&path) else {
        return;
    };
    for e in &ev {
        match e {
            Event::Message(m) => println!(
                "{:5} {} -> {} {}{}{}{} {:?}",
                m.frame,
                m.src,
                m.dst,
                bacnet(m).summary(),
                if m.malformed { " MALFORMED" } else { "" },
                m.request_frame.map(|f| format!(" (req {f})")).unwrap_or_default(),
                if m.orphan { " ORPHAN" } else { "" },
                m.anomalies
            ),
            Event::Transaction(t) => println!("      {:?} request {} {}", t.outcome, t.request_frame, t.what),
            _ => {}
        }
    }
}
