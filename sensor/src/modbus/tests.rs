//! Modbus decoder tests: annotated byte vectors per function code, stream framing, pairing,
//! property tests, and the corpus captures end to end.

// A failing test should stop loudly at the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::parser::{anomaly as an, parse_adu, ModbusError, Pdu, Role};
use super::record::{ModbusClass, ModbusDetail, ModbusDir, ModbusRecord};
use super::ModbusParser;
use crate::app::{drive, AppLimits, Dir, Transport};
use crate::record::{Event, OtBody, OtMessage, TxEvent, TxOutcome};

const REQ: Dir = Dir::ToServer;
const RSP: Dir = Dir::ToClient;

/// MBAP header + `pdu` with a correct length field.
fn adu(tid: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(7 + pdu.len());
    v.extend_from_slice(&tid.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
    v.push(unit);
    v.extend_from_slice(pdu);
    v
}

fn run_with(limits: &AppLimits, segs: &[(Dir, &[u8])]) -> Vec<Event> {
    let flow = drive::test_flow(Transport::Tcp, 502);
    let mut p = ModbusParser::new();
    drive::run(&mut p, &flow, limits, segs)
}

fn run(segs: &[(Dir, &[u8])]) -> Vec<Event> {
    run_with(&AppLimits::default(), segs)
}

fn msgs(events: &[Event]) -> Vec<&OtMessage> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn txs(events: &[Event]) -> Vec<&TxEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Transaction(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn rec(m: &OtMessage) -> &ModbusRecord {
    match &m.body {
        OtBody::Modbus(r) => r,
        other => panic!("not a Modbus body: {other:?}"),
    }
}

/// Decodes one request and its response; returns both messages.
fn pair(req: &[u8], rsp: &[u8]) -> (OtMessage, OtMessage) {
    let ev = run(&[(REQ, req), (RSP, rsp)]);
    let m = msgs(&ev);
    assert_eq!(m.len(), 2, "{m:#?}");
    (m[0].clone(), m[1].clone())
}

fn one(dir: Dir, bytes: &[u8]) -> OtMessage {
    let ev = run(&[(dir, bytes)]);
    let m = msgs(&ev);
    assert_eq!(m.len(), 1, "{m:#?}");
    m[0].clone()
}

// ---------------------------------------------------------------- function codes, one by one

#[test]
fn fc1_read_coils_pair_trims_padding_bits() {
    let req = [
        0x00, 0x01, // transaction id 1
        0x00, 0x00, // protocol id 0
        0x00, 0x06, // length 6
        0x11, // unit 17
        0x01, // FC 1 Read Coils
        0x00, 0x13, // start address 19
        0x00, 0x0A, // quantity 10
    ];
    let rsp = [
        0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x11, // MBAP, length 5, unit 17
        0x01, // FC 1
        0x02, // byte count 2 = ceil(10 / 8)
        0xCD, // coils 19..26, LSB first: 1 0 1 1 0 0 1 1
        0x01, // coils 27..28: 1 0, then 6 padding bits
    ];
    let (q, r) = pair(&req, &rsp);
    let (qr, rr) = (rec(&q), rec(&r));
    assert_eq!(
        (qr.dir, qr.unit, qr.fc, qr.address, qr.quantity),
        (ModbusDir::Request, 17, 1, Some(19), Some(10))
    );
    assert_eq!(qr.class, ModbusClass::Read);
    assert_eq!(rr.byte_count, Some(2));
    assert_eq!(rr.coils, vec![true, false, true, true, false, false, true, true, true, false]);
    assert_eq!((r.request_frame, r.orphan), (Some(1), false));
    assert!(r.anomalies.is_empty() && q.anomalies.is_empty());
    assert_eq!(qr.summary(), "req fc=1 Read Coils unit=17 addr=19 qty=10");
}

#[test]
fn fc2_response_byte_count_vs_requested_quantity() {
    // FC 2, address 0, 16 inputs → 2 bytes expected; the server sends 3.
    let req = adu(5, 1, &[0x02, 0x00, 0x00, 0x00, 0x10]);
    let rsp = adu(5, 1, &[0x02, 0x03, 0xFF, 0x00, 0x01]);
    let (_, r) = pair(&req, &rsp);
    assert!(r.anomalies.contains(&an::RESPONSE_BYTE_COUNT_MISMATCH));
    assert!(!r.malformed);
}

#[test]
fn fc3_register_response_is_not_checked_with_the_coil_formula() {
    // The sawp-modbus 0.13.1 pitfall: FC 3 for 10 registers answered with 20 bytes is valid.
    let req = adu(7, 1, &[0x03, 0x00, 0x64, 0x00, 0x0A]); // FC 3, address 100, quantity 10
    let mut pdu = vec![0x03, 0x14]; // FC 3, byte count 20
    for v in 0..10u16 {
        pdu.extend_from_slice(&(1000 + v).to_be_bytes());
    }
    let (_, r) = pair(&req, &adu(7, 1, &pdu));
    let rr = rec(&r);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    assert_eq!(rr.registers, (1000..1010).collect::<Vec<u16>>());
    assert_eq!(rr.byte_count, Some(20));
}

#[test]
fn fc4_quantity_limits() {
    // FC 4 quantity 126: one above the 125-register limit; quantity 0 is invalid too.
    let m = one(REQ, &adu(1, 1, &[0x04, 0x00, 0x00, 0x00, 0x7E]));
    assert_eq!(m.anomalies, vec![an::QUANTITY_OUT_OF_RANGE]);
    let m = one(REQ, &adu(1, 1, &[0x04, 0x00, 0x00, 0x00, 0x00]));
    assert_eq!(m.anomalies, vec![an::QUANTITY_OUT_OF_RANGE]);
    // Address 0xFFFF + 2 registers runs past the address space.
    let m = one(REQ, &adu(1, 1, &[0x04, 0xFF, 0xFF, 0x00, 0x02]));
    assert_eq!(m.anomalies, vec![an::ADDRESS_RANGE_OVERFLOW]);
}

#[test]
fn fc5_write_single_coil_values() {
    let on = [
        0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP, unit 1
        0x05, // FC 5 Write Single Coil
        0x00, 0xAC, // coil 172
        0xFF, 0x00, // ON
    ];
    let (q, r) = pair(&on, &on);
    assert_eq!(
        (rec(&q).address, rec(&q).value, rec(&q).coils.as_slice()),
        (Some(172), Some(0xFF00), &[true][..])
    );
    assert_eq!(rec(&q).class, ModbusClass::Write);
    assert!(r.anomalies.is_empty());
    // 0x1234 is neither ON nor OFF.
    let m = one(REQ, &adu(2, 1, &[0x05, 0x00, 0xAC, 0x12, 0x34]));
    assert_eq!(m.anomalies, vec![an::INVALID_COIL_VALUE]);
    assert!(rec(&m).coils.is_empty());
}

#[test]
fn fc6_echo_mismatch() {
    let req = adu(3, 1, &[0x06, 0x00, 0x01, 0x00, 0x03]); // FC 6, register 1, value 3
    let rsp = adu(3, 1, &[0x06, 0x00, 0x01, 0x00, 0x04]); // echo says value 4
    let (q, r) = pair(&req, &rsp);
    assert_eq!(rec(&q).registers, vec![3]);
    assert_eq!(r.anomalies, vec![an::RESPONSE_ECHO_MISMATCH]);
}

#[test]
fn fc7_read_exception_status() {
    let (q, r) = pair(&adu(1, 1, &[0x07]), &adu(1, 1, &[0x07, 0x6D]));
    assert_eq!(rec(&q).fc_name, "Read Exception Status");
    assert_eq!(rec(&r).detail, Some(ModbusDetail::ExceptionStatus { status: 0x6D }));
}

#[test]
fn fc8_restart_with_clear_log() {
    let req = [
        0x00, 0x09, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP
        0x08, // FC 8 Diagnostics
        0x00, 0x01, // sub 0x0001 Restart Communications Option
        0xFF, 0x00, // 0xFF00 = clear the event log too
    ];
    let (q, r) = pair(&req, &req);
    let qr = rec(&q);
    assert_eq!((qr.sub, qr.sub_name), (Some(1), Some("Restart Communications Option")));
    assert_eq!(qr.class, ModbusClass::Diagnostic);
    assert!(matches!(qr.detail, Some(ModbusDetail::Diagnostic { clear_log: Some(true), .. })));
    assert!(qr.summary().ends_with("sub=0x0001 Restart Communications Option clear-log"));
    assert!(r.anomalies.is_empty());
    // Restart data other than 0x0000/0xFF00.
    let m = one(REQ, &adu(1, 1, &[0x08, 0x00, 0x01, 0x12, 0x34]));
    assert_eq!(m.anomalies, vec![an::INVALID_DIAGNOSTIC_DATA]);
}

#[test]
fn fc8_force_listen_only_expects_no_response() {
    // FC 8 / 0x0004 Force Listen Only Mode, then nothing: not unanswered.
    let ev = run(&[(REQ, &adu(4, 1, &[0x08, 0x00, 0x04, 0x00, 0x00]))]);
    assert_eq!(rec(msgs(&ev)[0]).sub_name, Some("Force Listen Only Mode"));
    assert!(txs(&ev).is_empty());
    // pymodbus answers it anyway (with the sub-function only): paired, flagged.
    let (_, r) = pair(&adu(4, 1, &[0x08, 0x00, 0x04, 0x00, 0x00]), &adu(4, 1, &[0x08, 0x00, 0x04]));
    assert_eq!(r.request_frame, Some(1));
    assert!(r.anomalies.contains(&an::RESPONSE_NOT_EXPECTED));
}

#[test]
fn fc11_and_fc12_event_counters() {
    // FC 11 response: status 0xFFFF (busy), event count 0x0108.
    let (_, r) = pair(&adu(1, 1, &[0x0B]), &adu(1, 1, &[0x0B, 0xFF, 0xFF, 0x01, 0x08]));
    assert_eq!(rec(&r).detail, Some(ModbusDetail::CommEventCounter { status: 0xFFFF, event_count: 0x0108 }));
    // FC 12 response: byte count 8, status 0, event count 0x0108, message count 0x0121, 2 events.
    let (_, r) =
        pair(&adu(2, 1, &[0x0C]), &adu(2, 1, &[0x0C, 0x08, 0x00, 0x00, 0x01, 0x08, 0x01, 0x21, 0x20, 0x00]));
    assert_eq!(
        rec(&r).detail,
        Some(ModbusDetail::CommEventLog {
            status: 0,
            event_count: 0x0108,
            message_count: 0x0121,
            events_hex: "2000".into()
        })
    );
}

#[test]
fn fc15_write_multiple_coils_and_the_swapped_limits_pitfall() {
    let req = [
        0x00, 0x0F, 0x00, 0x00, 0x00, 0x09, 0x01, // MBAP, length 9
        0x0F, // FC 15 Write Multiple Coils
        0x00, 0x13, // start 19
        0x00, 0x0A, // quantity 10
        0x02, // byte count 2
        0xCD, 0x01, // values
    ];
    let m = one(REQ, &req);
    let r = rec(&m);
    assert_eq!((r.address, r.quantity, r.byte_count), (Some(19), Some(10), Some(2)));
    assert_eq!(r.coils, vec![true, false, true, true, false, false, true, true, true, false]);
    assert!(m.anomalies.is_empty());
    // A 200-coil FC 15 response is legal; a 124-register FC 16 response is not (sawp swaps them).
    let m = one(RSP, &adu(1, 1, &[0x0F, 0x00, 0x00, 0x00, 0xC8]));
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    let m = one(RSP, &adu(1, 1, &[0x10, 0x00, 0x00, 0x00, 0x7C]));
    assert!(m.anomalies.contains(&an::QUANTITY_OUT_OF_RANGE));
}

#[test]
fn fc16_write_multiple_registers_values_and_bound() {
    let mut pdu = vec![0x10, 0x00, 0x64, 0x00, 0x64, 0xC8]; // FC 16, address 100, 100 regs, 200 bytes
    for v in 0..100u16 {
        pdu.extend_from_slice(&v.to_be_bytes());
    }
    let m = one(REQ, &adu(1, 1, &pdu));
    let r = rec(&m);
    // Only max_values_kept (64) values are kept.
    assert_eq!(r.registers.len(), 64);
    assert!(r.values_truncated);
    assert_eq!(r.summary(), "req fc=16 Write Multiple Registers unit=1 addr=100 qty=100");
    // The corpus lie: quantity 3, byte count 10, 6 value bytes.
    let m = one(REQ, &adu(1, 1, &[0x10, 0x00, 0x14, 0x00, 0x03, 0x0A, 0, 1, 0, 2, 0, 3]));
    assert!(m.malformed);
    assert_eq!(m.anomalies, vec![an::BYTE_COUNT_QUANTITY_MISMATCH, an::BYTE_COUNT_EXCEEDS_DATA]);
}

#[test]
fn fc17_report_server_id_is_typed() {
    // libmodbus: byte count 10, server id 0xB4, run indicator 0xFF, "LMB3.1.6".
    let mut pdu = vec![0x11, 0x0A, 0xB4, 0xFF];
    pdu.extend_from_slice(b"LMB3.1.6");
    let (_, r) = pair(&adu(1, 255, &[0x11]), &adu(1, 255, &pdu));
    assert_eq!(
        rec(&r).detail,
        Some(ModbusDetail::ServerId {
            server_id_hex: "b4".into(),
            run_indicator: Some(0xFF),
            running: Some(true),
            additional_data: "LMB3.1.6".into(),
        })
    );
}

#[test]
fn fc20_read_file_record_pair() {
    let req = adu(
        1,
        1,
        &[
            0x14, 0x0E, // FC 20, byte count 14 = 2 sub-requests
            0x06, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02, // ref 6, file 4, record 1, 2 registers
            0x06, 0x00, 0x03, 0x00, 0x09, 0x00, 0x02, // ref 6, file 3, record 9, 2 registers
        ],
    );
    let rsp = adu(
        1,
        1,
        &[
            0x14, 0x0C, // FC 20, byte count 12
            0x05, 0x06, 0x0D, 0xFE, 0x00, 0x20, // 5 bytes: ref 6, 0x0DFE, 0x0020
            0x05, 0x06, 0x33, 0xCD, 0x00, 0x40, // 5 bytes: ref 6, 0x33CD, 0x0040
        ],
    );
    let (q, r) = pair(&req, &rsp);
    let Some(ModbusDetail::FileRecords { subs, .. }) = &rec(&q).detail else { panic!("{q:?}") };
    assert_eq!((subs.len(), subs[1].file, subs[1].record, subs[1].length), (2, Some(3), Some(9), 2));
    let Some(ModbusDetail::FileRecords { subs, .. }) = &rec(&r).detail else { panic!("{r:?}") };
    assert_eq!(subs[0].registers, vec![0x0DFE, 0x0020]);
    assert_eq!(subs[1].registers, vec![0x33CD, 0x0040]);
    assert!(q.anomalies.is_empty() && r.anomalies.is_empty());
}

#[test]
fn fc21_write_file_record_with_bad_reference_type() {
    let m = one(
        REQ,
        &adu(
            1,
            1,
            &[
                0x15, 0x0B, // FC 21, byte count 11
                0x07, 0x00, 0x04, 0x00, 0x07, 0x00,
                0x02, // ref type 7 (must be 6), file 4, rec 7, 2 regs
                0x06, 0xAF, 0x04, 0xBE, // data
            ],
        ),
    );
    assert_eq!(m.anomalies, vec![an::INVALID_REFERENCE_TYPE]);
    assert_eq!(rec(&m).class, ModbusClass::Write);
}

#[test]
fn fc22_mask_write_register() {
    let req = adu(1, 1, &[0x16, 0x00, 0x04, 0x00, 0xF2, 0x00, 0x25]); // address 4, AND 0xF2, OR 0x25
    let (q, r) = pair(&req, &req);
    assert_eq!(rec(&q).address, Some(4));
    assert_eq!(rec(&q).detail, Some(ModbusDetail::MaskWrite { and_mask: 0xF2, or_mask: 0x25 }));
    assert!(r.anomalies.is_empty());
}

#[test]
fn fc23_read_write_multiple_registers() {
    let req = adu(
        1,
        1,
        &[
            0x17, // FC 23
            0x00, 0x03, 0x00, 0x06, // read 6 registers from 3
            0x00, 0x0E, 0x00, 0x03, // write 3 registers at 14
            0x06, // byte count 6
            0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, // values
        ],
    );
    let rsp = adu(1, 1, &[0x17, 0x0C, 0, 0xFE, 0x0A, 0xCD, 0, 1, 0, 3, 0, 0x0D, 0, 0xFF]);
    let (q, r) = pair(&req, &rsp);
    assert_eq!(
        rec(&q).detail,
        Some(ModbusDetail::ReadWrite {
            read_address: 3,
            read_quantity: 6,
            write_address: 14,
            write_quantity: 3
        })
    );
    assert_eq!(rec(&q).registers, vec![0xFF; 3]);
    assert_eq!(rec(&r).registers, vec![0xFE, 0x0ACD, 1, 3, 0x0D, 0xFF]);
    assert!(r.anomalies.is_empty());
}

#[test]
fn fc24_read_fifo_queue() {
    let (q, r) = pair(
        &adu(1, 1, &[0x18, 0x04, 0xDE]), // FIFO pointer 0x04DE
        &adu(1, 1, &[0x18, 0x00, 0x06, 0x00, 0x02, 0x01, 0xB8, 0x12, 0x84]), // 6 bytes, 2 regs
    );
    assert_eq!(rec(&q).address, Some(0x04DE));
    assert_eq!(rec(&r).registers, vec![0x01B8, 0x1284]);
    assert_eq!(rec(&r).detail, Some(ModbusDetail::Fifo { fifo_count: 2 }));
    // More than 31 entries.
    let m = one(RSP, &adu(1, 1, &[0x18, 0x00, 0x42, 0x00, 0x20]));
    assert!(m.anomalies.contains(&an::FIFO_COUNT_OUT_OF_RANGE));
}

#[test]
fn fc43_14_example_from_protocols_md() {
    let req = [
        0x00, 0x02, 0x00, 0x00, 0x00, 0x05, 0x01, // MBAP: tid 2, length 5, unit 1
        0x2B, // FC 43
        0x0E, // MEI 14 Read Device Identification
        0x01, // read code 1 = basic (stream)
        0x00, // object id 0
    ];
    let mut pdu = vec![
        0x2B, 0x0E, // FC 43 / MEI 14
        0x01, // read code basic
        0x81, // conformity: basic, stream and individual access
        0x00, // more follows: no
        0x00, // next object id
        0x03, // 3 objects
        0x00, 0x12, // object 0 VendorName, 18 bytes
    ];
    pdu.extend_from_slice(b"Schneider Electric");
    pdu.extend_from_slice(&[0x01, 0x0C]); // object 1 ProductCode, 12 bytes
    pdu.extend_from_slice(b"BMX P34 2020");
    pdu.extend_from_slice(&[0x02, 0x05]); // object 2 MajorMinorRevision, 5 bytes
    pdu.extend_from_slice(b"v3.20");
    let (q, r) = pair(&req, &adu(2, 1, &pdu));
    assert_eq!((rec(&q).mei, rec(&q).class), (Some(14), ModbusClass::Read));
    let rr = rec(&r);
    let Some(ModbusDetail::DeviceId { conformity, conformity_name, more_follows, objects, .. }) = &rr.detail
    else {
        panic!("{rr:?}")
    };
    assert_eq!(
        (*conformity, *conformity_name, *more_follows),
        (0x81, Some("basic (stream, individual)"), false)
    );
    let got: Vec<(u8, Option<&str>, &str)> =
        objects.iter().map(|o| (o.id, o.name, o.value.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (0, Some("VendorName"), "Schneider Electric"),
            (1, Some("ProductCode"), "BMX P34 2020"),
            (2, Some("MajorMinorRevision"), "v3.20"),
        ]
    );
    assert_eq!(rr.device_identity().map(<[_]>::len), Some(3));
    assert!(r.anomalies.is_empty());
}

#[test]
fn fc43_14_overrun_duplicates_and_no_progress() {
    // 3 objects announced: id 0 "ab", id 0 again "cd", id 0x80 claims 9 bytes but 2 remain.
    let pdu =
        [0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x03, 0, 2, b'a', b'b', 0, 2, b'c', b'd', 0x80, 9, 0xC3, 0x28];
    let m = one(RSP, &adu(1, 1, &pdu));
    assert!(m.malformed);
    assert_eq!(m.anomalies, vec![an::MEI_DUPLICATE_OBJECT, an::MEI_OBJECT_OVERRUN]);
    let Some(ModbusDetail::DeviceId { objects, .. }) = &rec(&m).detail else { panic!() };
    // The private object keeps its bytes as lossy UTF-8 and says it was cut.
    assert_eq!(
        (objects[2].id, objects[2].name, objects[2].value.as_str(), objects[2].truncated),
        (0x80, None, "\u{FFFD}(", true)
    );
    // "More follows" with a next object id that does not move past the one asked for.
    let req = adu(1, 1, &[0x2B, 0x0E, 0x03, 0x05]);
    let rsp = adu(1, 1, &[0x2B, 0x0E, 0x03, 0x83, 0xFF, 0x05, 0x01, 0x05, 0x01, b'x']);
    let (_, r) = pair(&req, &rsp);
    assert_eq!(r.anomalies, vec![an::MEI_NO_PROGRESS]);
}

#[test]
fn fc43_13_canopen_is_framed() {
    let m = one(REQ, &adu(1, 1, &[0x2B, 0x0D, 0x00, 0x10, 0x20]));
    let r = rec(&m);
    assert_eq!((r.mei, r.class), (Some(13), ModbusClass::Program));
    assert_eq!(r.detail, Some(ModbusDetail::Mei { data_len: 3, data_hex: "001020".into() }));
    assert!(m.anomalies.is_empty());
}

#[test]
fn fc90_umas_stop_plc() {
    let req = [
        0x5A, 0x05, 0x00, 0x00, 0x00, 0x06, 0x01, // MBAP: tid 0x5A05, length 6, unit 1
        0x5A, // FC 90 UMAS
        0x5C, // session key
        0x41, // UMAS STOP_PLC
        0xFF, 0x00, // data
    ];
    let m = one(REQ, &req);
    let r = rec(&m);
    assert_eq!(r.class, ModbusClass::Program);
    assert_eq!(
        r.detail,
        Some(ModbusDetail::Umas {
            session_key: 0x5C,
            umas_code: 0x41,
            umas_name: Some("STOP_PLC"),
            umas_risk: "start_stop",
            data_len: 2,
            data_hex: "ff00".into(),
        })
    );
    assert_eq!(r.summary(), "req fc=90 UMAS (Schneider Unity) unit=1 umas=0x41 STOP_PLC");
}

#[test]
fn legacy_user_defined_and_unassigned_codes() {
    // FC 125 Firmware Replacement: named, programming class, kept raw.
    let m = one(REQ, &adu(1, 1, &[0x7D, 0xDE, 0xAD]));
    let r = rec(&m);
    assert_eq!((r.fc_name, r.class), ("Firmware Replacement", ModbusClass::Program));
    assert_eq!(r.detail, Some(ModbusDetail::Raw { data_len: 2, data_hex: "dead".into() }));
    assert!(m.anomalies.is_empty());
    // FC 65: user-defined.
    assert_eq!(rec(&one(REQ, &adu(1, 1, &[0x41, 1]))).fc_name, "User-Defined");
    // FC 50: nobody defines it.
    let m = one(REQ, &adu(1, 1, &[0x32, 1]));
    assert_eq!(m.anomalies, vec![an::UNASSIGNED_FUNCTION_CODE]);
    // Raw data is bounded to 64 bytes of hex.
    let m = one(REQ, &adu(1, 1, &[[0x7Eu8].as_slice(), &[0xAAu8; 200]].concat()));
    let Some(ModbusDetail::Raw { data_len, data_hex }) = &rec(&m).detail else { panic!() };
    assert_eq!((*data_len, data_hex.len()), (200, 128));
}

#[test]
fn every_exception_code_is_named_and_linked() {
    let names = [
        (1, "Illegal Function"),
        (2, "Illegal Data Address"),
        (3, "Illegal Data Value"),
        (4, "Server Device Failure"),
        (5, "Acknowledge"),
        (6, "Server Device Busy"),
        (7, "Negative Acknowledge"),
        (8, "Memory Parity Error"),
        (10, "Gateway Path Unavailable"),
        (11, "Gateway Target Device Failed to Respond"),
    ];
    for (code, name) in names {
        let (_, r) = pair(&adu(9, 1, &[0x03, 0, 0, 0, 1]), &adu(9, 1, &[0x83, code]));
        let rr = rec(&r);
        assert_eq!((rr.fc, rr.exception, rr.exception_name), (3, Some(code), Some(name)));
        // Exception responses are linked to their requests (Wireshark 4.0 does not).
        assert_eq!(r.request_frame, Some(1));
        assert!(r.anomalies.is_empty(), "{code}: {:?}", r.anomalies);
    }
    let (_, r) = pair(&adu(9, 1, &[0x03, 0, 0, 0, 1]), &adu(9, 1, &[0x83, 0x09]));
    assert_eq!(r.anomalies, vec![an::UNKNOWN_EXCEPTION_CODE]);
    assert_eq!(rec(&r).summary(), "rsp exception 9 Unknown (fc=3) unit=1");
    assert_eq!(
        rec(&one(RSP, &adu(9, 1, &[0x83, 2]))).summary(),
        "rsp exception 2 Illegal Data Address (fc=3) unit=1"
    );
}

// ---------------------------------------------------------------- implementation quirks

#[test]
fn pymodbus_answers_unknown_codes_with_0x80() {
    // FC 90 request; pymodbus answers function 0x80, exception 01.
    let (_, r) = pair(&adu(0x5A00, 1, &[0x5A, 0x00, 0x01, 0x00]), &adu(0x5A00, 1, &[0x80, 0x01]));
    let rr = rec(&r);
    assert_eq!((rr.fc, rr.exception, rr.fc_raw), (0, Some(1), 0x80));
    assert_eq!(r.request_frame, Some(1));
    assert_eq!(r.anomalies, vec![an::RESPONSE_FC_MISMATCH]);
    assert!(!r.malformed);
}

#[test]
fn libmodbus_wraps_the_exception_of_fc_0x83() {
    // Request function 0x83; libmodbus answers `03 01` (0x83 + 0x80 wrapped to 0x03).
    let (q, r) = pair(&adu(0x010A, 1, &[0x83, 0, 0, 0, 1]), &adu(0x010A, 1, &[0x03, 0x01]));
    assert_eq!((rec(&q).fc, rec(&q).fc_raw), (3, 0x83));
    assert!(q.malformed);
    assert_eq!(q.anomalies, vec![an::EXCEPTION_BIT_IN_REQUEST]);
    assert!(r.malformed);
    assert_eq!(r.anomalies, vec![an::BYTE_COUNT_ODD, an::BYTE_COUNT_EXCEEDS_DATA, an::EXCEPTION_FC_WRAPPED]);
    assert_eq!(r.request_frame, Some(1));
}

#[test]
fn http_junk_gives_one_record_and_a_reply_built_from_it_is_linked() {
    let junk: &[u8] = b"GET / HTTP/1.0\r\nHost: plc\r\n\r\n";
    // libmodbus reads the junk as tid 0x4745, unit 0x48, fc 0x54 and answers exception 01.
    let reply: &[u8] = &[0x47, 0x45, 0x00, 0x00, 0x00, 0x03, 0x48, 0xD4, 0x01];
    let next = adu(1, 1, &[0x03, 0, 0, 0, 2]);
    let ev = run(&[(REQ, junk), (RSP, reply), (REQ, &next)]);
    let m = msgs(&ev);
    assert_eq!(m.len(), 3, "{m:#?}");
    assert!(m[0].malformed);
    assert_eq!(m[0].anomalies, vec![an::NOT_MODBUS]);
    let Some(ModbusDetail::NotModbus { skipped, text, .. }) = &rec(m[0]).detail else { panic!() };
    assert!(text.starts_with("GET / HTTP/1.0") && *skipped >= junk.len() - 7);
    // The reply is kept out of the inventory: malformed, linked to the junk.
    assert!(m[1].malformed);
    assert_eq!((m[1].anomalies.as_slice(), m[1].request_frame), (&[an::REPLY_TO_NON_MODBUS][..], Some(1)));
    // The stream resynchronises on the next real request.
    assert_eq!((rec(m[2]).fc, m[2].frame, m[2].malformed), (3, 3, false));
    // The junk itself is not an unanswered request.
    assert_eq!(txs(&ev).len(), 1);
}

#[test]
fn junk_over_several_segments_is_reported_once() {
    let ev = run(&[(REQ, b"\x16\x03\x01\x02\x00\x01\x00\x01"), (REQ, &[0x41; 40]), (REQ, &[0x42; 40])]);
    let m = msgs(&ev);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].anomalies, vec![an::NOT_MODBUS]);
}

// ---------------------------------------------------------------- lying MBAP headers

#[test]
fn mbap_length_too_long_is_reported_at_once() {
    // Length 16 but only a 6-byte FC 3 follows; the sender then goes silent.
    let seg = [0x01, 0x01, 0x00, 0x00, 0x00, 0x10, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02];
    let ev = run(&[(REQ, &seg)]);
    let m = msgs(&ev);
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m[0].frame, m[0].malformed, m[0].anomalies.as_slice()),
        (1, true, &[an::MBAP_LENGTH_EXCEEDS_PDU][..])
    );
    assert_eq!(rec(m[0]).quantity, Some(2));
    // A legitimate ADU split after its header is still waited for.
    let full = adu(1, 1, &[0x10, 0x00, 0x00, 0x00, 0x02, 0x04, 0, 1, 0, 2]);
    let ev = run(&[(REQ, &full[..9]), (REQ, &full[9..])]);
    let m = msgs(&ev);
    assert_eq!((m.len(), m[0].frame, m[0].malformed), (1, 2, false));
}

#[test]
fn lengths_out_of_range_and_foreign_protocol_ids() {
    let cases: [(&[u8], &str); 4] = [
        (
            &[0x01, 0x04, 0x00, 0x00, 0xFF, 0xFF, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02],
            an::MBAP_LENGTH_ABOVE_MAX,
        ),
        (
            &[0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02],
            an::MBAP_LENGTH_BELOW_MIN,
        ),
        (&[0x01, 0x05, 0x00, 0x01, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02], an::PROTOCOL_ID_NONZERO),
        (&[0x01, 0x06, 0xAB, 0xCD, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02], an::PROTOCOL_ID_NONZERO),
    ];
    for (bytes, code) in cases {
        let ev = run(&[(REQ, bytes), (REQ, &adu(2, 1, &[0x03, 0, 0, 0, 1]))]);
        let m = msgs(&ev);
        assert_eq!(m.len(), 2, "{code}");
        assert_eq!((m[0].frame, m[0].malformed, m[0].anomalies.as_slice()), (1, true, &[code][..]));
        assert_eq!((m[1].frame, m[1].malformed), (2, false), "{code}: in step afterwards");
    }
}

#[test]
fn oversize_length_never_buffers() {
    // Length 0xFFFF with an unknown function code: junk at once, nothing waited for.
    let mut p = ModbusParser::new();
    let flow = drive::test_flow(Transport::Tcp, 502);
    let limits = AppLimits::default();
    let mut out = Vec::new();
    let mut cx = crate::app::Cx { frame: 1, ts_ns: 0, flow: &flow, limits: &limits, out: &mut out };
    let bytes = [0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x01, 0x64, 0x00];
    use crate::app::AppParser;
    let n = p.parse(REQ, &bytes, &mut cx);
    assert!(n >= bytes.len() - 7, "consumed {n}");
    assert_eq!(msgs(&out)[0].anomalies, vec![an::NOT_MODBUS]);
}

#[test]
fn truncated_pdu_and_short_length() {
    // Length 4: FC 3 cut after the start address.
    let m = one(REQ, &[0x01, 0x07, 0x00, 0x00, 0x00, 0x04, 0x01, 0x03, 0x00, 0x00]);
    assert_eq!((m.malformed, m.anomalies.as_slice()), (true, &[an::PDU_TRUNCATED][..]));
    // Function code 0.
    let m = one(REQ, &adu(1, 1, &[0x00, 0x00, 0x00, 0x00, 0x01]));
    assert_eq!((m.malformed, m.anomalies.as_slice()), (true, &[an::FUNCTION_CODE_ZERO][..]));
}

// ---------------------------------------------------------------- stream framing

#[test]
fn pipelined_split_and_one_and_a_half() {
    let a = adu(1, 1, &[0x03, 0, 0, 0, 1]);
    let b = adu(2, 1, &[0x03, 0, 1, 0, 1]);
    let c = adu(3, 1, &[0x03, 0, 2, 0, 1]);
    let all = [a.clone(), b.clone(), c.clone()].concat();
    // Three in one segment: three records in frame 1.
    let ev = run(&[(REQ, &all)]);
    assert_eq!(
        msgs(&ev).iter().map(|m| (m.frame, rec(m).tid)).collect::<Vec<_>>(),
        vec![(1, 1), (1, 2), (1, 3)]
    );
    // ADU1 + 5 bytes of ADU2 | the rest of ADU2 + ADU3.
    let ev = run(&[(REQ, &all[..17]), (REQ, &all[17..])]);
    assert_eq!(
        msgs(&ev).iter().map(|m| (m.frame, rec(m).tid)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 2), (2, 3)]
    );
    // Split 7 | 5, 3 | 9, and one byte per segment (tshark 4.0 decodes none of these).
    for cut in [7, 3] {
        let ev = run(&[(REQ, &a[..cut]), (REQ, &a[cut..])]);
        assert_eq!(msgs(&ev).iter().map(|m| m.frame).collect::<Vec<_>>(), vec![2]);
    }
    let bytes: Vec<(Dir, &[u8])> = a.chunks(1).map(|c| (REQ, c)).collect();
    let ev = run(&bytes);
    assert_eq!(msgs(&ev).iter().map(|m| (m.frame, m.malformed)).collect::<Vec<_>>(), vec![(12, false)]);
}

#[test]
fn gap_resynchronises_silently() {
    use crate::app::{AppParser, Cx};
    let flow = drive::test_flow(Transport::Tcp, 502);
    let limits = AppLimits::default();
    let mut out = Vec::new();
    let mut p = ModbusParser::new();
    let a = adu(1, 1, &[0x10, 0, 0, 0, 2, 4, 0, 1, 0, 2]);
    let b = adu(2, 1, &[0x03, 0, 0, 0, 1]);
    let mut cx = Cx { frame: 1, ts_ns: 0, flow: &flow, limits: &limits, out: &mut out };
    assert_eq!(p.parse(REQ, &a[..5], &mut cx), 0);
    p.gap(REQ, &mut cx);
    // After the gap the stream resumes inside ADU a, then ADU b.
    let rest = [&a[9..], b.as_slice()].concat();
    let n = p.parse(REQ, &rest, &mut cx);
    assert_eq!(n, rest.len());
    let m = msgs(&out);
    assert_eq!(m.len(), 1);
    assert_eq!((rec(m[0]).tid, m[0].malformed), (2, false));
}

/// After lost bytes the next segment is taken at its first byte when it starts with an
/// MBAP-looking header, as at a mid-stream start, even when its function code is unassigned:
/// a function-code sweep must not vanish after one lost segment (zeek fuzz-72, frames 5–11).
#[test]
fn gap_then_unassigned_function_code_at_segment_start_is_decoded() {
    use crate::app::{AppParser, Cx};
    let flow = drive::test_flow(Transport::Tcp, 502);
    let limits = AppLimits::default();
    let mut out = Vec::new();
    let mut p = ModbusParser::new();
    let mut cx = Cx { frame: 1, ts_ns: 0, flow: &flow, limits: &limits, out: &mut out };
    let a = adu(0, 1, &[0x1d, 0, 0, 0, 0]);
    assert_eq!(p.parse(REQ, &a, &mut cx), a.len());
    p.gap(REQ, &mut cx);
    let b = adu(0, 1, &[0x21, 0, 0, 0, 0]);
    assert_eq!(p.parse(REQ, &b, &mut cx), b.len());
    p.gap(RSP, &mut cx);
    let e = adu(0, 1, &[0xa0, 0x01]);
    assert_eq!(p.parse(RSP, &e, &mut cx), e.len());
    let m = msgs(&out);
    let got: Vec<_> = m.iter().map(|m| (rec(m).dir, rec(m).fc, rec(m).exception)).collect();
    assert_eq!(
        got,
        vec![
            (ModbusDir::Request, 29, None),
            (ModbusDir::Request, 33, None),
            (ModbusDir::Response, 32, Some(1))
        ]
    );
    // Junk at the start of the segment after a gap is still skipped silently.
    let mut out = Vec::new();
    let mut cx = Cx { frame: 2, ts_ns: 0, flow: &flow, limits: &limits, out: &mut out };
    p.gap(REQ, &mut cx);
    let junk = [&b"GET / HTTP/1.0\r\n"[..], &adu(7, 1, &[0x03, 0, 0, 0, 1])].concat();
    assert_eq!(p.parse(REQ, &junk, &mut cx), junk.len());
    let m = msgs(&out);
    assert_eq!(m.iter().map(|m| (rec(m).tid, m.malformed)).collect::<Vec<_>>(), vec![(7, false)]);
}

#[test]
fn mid_stream_pickup() {
    let mut flow = drive::test_flow(Transport::Tcp, 502);
    flow.roles_from_syn = false;
    let a = adu(1, 1, &[0x03, 0, 0, 0, 1]);
    let b = adu(2, 1, &[0x03, 0, 1, 0, 1]);
    // Starts in the middle of ADU a: skipped silently, b decoded.
    let seg = [&a[4..], b.as_slice()].concat();
    let mut p = ModbusParser::new();
    let ev = drive::run(&mut p, &flow, &AppLimits::default(), &[(REQ, &seg)]);
    let m = msgs(&ev);
    assert_eq!(m.iter().map(|m| (rec(m).tid, m.malformed)).collect::<Vec<_>>(), vec![(2, false)]);
}

#[test]
fn connection_opened_from_port_502_keeps_port_502_as_server() {
    // The SYN came from 10.0.0.1:502 (the "client" side of the flow) to port 40000.
    let mut flow = drive::test_flow(Transport::Tcp, 40000);
    flow.client.port = 502;
    let mut p = ModbusParser::new();
    let ev = drive::run(
        &mut p,
        &flow,
        &AppLimits::default(),
        &[(RSP, &adu(1, 10, &[0x01, 0, 0, 0, 8])), (REQ, &adu(1, 10, &[0x81, 0x02]))],
    );
    let m = msgs(&ev);
    assert_eq!((rec(m[0]).dir, rec(m[1]).dir), (ModbusDir::Request, ModbusDir::Response));
    assert_eq!((rec(m[1]).exception, m[1].request_frame, m[1].sport), (Some(2), Some(1), 502));
}

// ---------------------------------------------------------------- pairing

#[test]
fn tid_zero_reuse_pairs_fifo_per_unit_and_function() {
    let ev = run(&[
        (REQ, &adu(0, 1, &[0x03, 0, 0, 0, 1])), // frame 1: FC 3
        (REQ, &adu(0, 1, &[0x04, 0, 0, 0, 1])), // frame 2: FC 4
        (REQ, &adu(0, 1, &[0x03, 0, 9, 0, 1])), // frame 3: FC 3 again
        (RSP, &adu(0, 1, &[0x04, 0x02, 0, 7])), // answers frame 2
        (RSP, &adu(0, 1, &[0x03, 0x02, 0, 5])), // answers frame 1 (oldest FC 3)
        (RSP, &adu(0, 1, &[0x83, 0x02])),       // answers frame 3
    ]);
    let links: Vec<_> =
        msgs(&ev).iter().filter(|m| m.request_frame.is_some()).map(|m| (m.frame, m.request_frame)).collect();
    assert_eq!(links, vec![(4, Some(2)), (5, Some(1)), (6, Some(3))]);
    assert!(txs(&ev).is_empty());
}

#[test]
fn out_of_order_responses_and_orphans() {
    let ev = run(&[
        (REQ, &adu(10, 1, &[0x03, 0, 0, 0, 1])),
        (REQ, &adu(11, 2, &[0x03, 0, 0, 0, 1])),
        (RSP, &adu(11, 2, &[0x03, 0x02, 0, 1])),
        (RSP, &adu(10, 1, &[0x03, 0x02, 0, 2])),
        (RSP, &adu(12, 1, &[0x03, 0x02, 0, 3])), // nobody asked
    ]);
    let m = msgs(&ev);
    assert_eq!(m[2].request_frame, Some(2));
    assert_eq!(m[3].request_frame, Some(1));
    assert_eq!((m[4].orphan, m[4].request_frame), (true, None));
    // Same tid, other unit: not a match.
    let ev = run(&[(REQ, &adu(10, 1, &[0x03, 0, 0, 0, 1])), (RSP, &adu(10, 2, &[0x03, 0x02, 0, 1]))]);
    assert!(msgs(&ev)[1].orphan);
}

#[test]
fn timeouts_close_eviction_and_broadcast() {
    use crate::app::{AppParser, Cx};
    let flow = drive::test_flow(Transport::Tcp, 502);
    let limits = AppLimits { max_pending_per_flow: 2, ..AppLimits::default() };
    let mut out = Vec::new();
    let mut p = ModbusParser::new();
    let feed = |p: &mut ModbusParser, frame: u64, ts_s: i64, dir: Dir, b: &[u8], out: &mut Vec<Event>| {
        let mut cx = Cx { frame, ts_ns: ts_s * 1_000_000_000, flow: &flow, limits: &limits, out };
        p.parse(dir, b, &mut cx)
    };
    feed(&mut p, 1, 0, REQ, &adu(1, 1, &[0x03, 0, 0, 0, 1]), &mut out);
    // 6 s later: the first request has timed out.
    feed(&mut p, 2, 6, REQ, &adu(2, 1, &[0x03, 0, 0, 0, 1]), &mut out);
    feed(&mut p, 3, 6, REQ, &adu(3, 0, &[0x06, 0, 0, 0, 1]), &mut out); // unit-0 broadcast write
    feed(&mut p, 4, 6, REQ, &adu(4, 1, &[0x03, 0, 0, 0, 1]), &mut out); // evicts frame 2
    let mut cx = Cx { frame: 5, ts_ns: 7_000_000_000, flow: &flow, limits: &limits, out: &mut out };
    p.close(&mut cx);
    let t: Vec<_> = txs(&out).iter().map(|t| (t.outcome, t.request_frame)).collect();
    assert_eq!(t, vec![(TxOutcome::Timeout, 1), (TxOutcome::Evicted, 2), (TxOutcome::UnansweredAtClose, 4)]);
    assert!(txs(&out)[0].what.starts_with("fc=3 Read Holding Registers tid=1 unit=1"));
}

// ---------------------------------------------------------------- property tests

mod props {
    use proptest::prelude::*;

    use super::*;

    /// A valid request PDU of a public function code.
    fn request_pdu() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (1u8..=4, any::<u16>(), 1u16..=125).prop_map(|(fc, a, q)| {
                let mut v = vec![fc];
                v.extend_from_slice(&a.to_be_bytes());
                v.extend_from_slice(&q.to_be_bytes());
                v
            }),
            (any::<u16>(), prop::collection::vec(any::<u16>(), 1..=123)).prop_map(|(a, regs)| {
                let mut v = vec![0x10];
                v.extend_from_slice(&a.to_be_bytes());
                v.extend_from_slice(&(regs.len() as u16).to_be_bytes());
                v.push((regs.len() * 2) as u8);
                for r in regs {
                    v.extend_from_slice(&r.to_be_bytes());
                }
                v
            }),
            (any::<u16>(), any::<bool>()).prop_map(|(a, on)| {
                let mut v = vec![0x05];
                v.extend_from_slice(&a.to_be_bytes());
                v.extend_from_slice(if on { &[0xFF, 0x00] } else { &[0x00, 0x00] });
                v
            }),
            (0u8..=3, any::<u8>()).prop_map(|(code, obj)| vec![0x2B, 0x0E, code + 1, obj]),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(|d| {
                let mut v = vec![0x5A, 0x00, 0x41];
                v.extend(d);
                v
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_truncation_is_incomplete(pdu in request_pdu(), tid in any::<u16>(), unit in any::<u8>()) {
            let bytes = adu(tid, unit, &pdu);
            for cut in 0..bytes.len() {
                let r = parse_adu(&bytes[..cut], Role::Request);
                prop_assert!(matches!(r, Err(ModbusError::Incomplete { .. })), "cut {} gave {:?}", cut, r);
            }
            let (a, n) = parse_adu(&bytes, Role::Request).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(n, bytes.len());
            prop_assert!(!a.malformed);
            let raw = matches!(a.pdu, Pdu::Raw { .. });
            prop_assert!(!raw);
        }

        #[test]
        fn random_bytes_never_panic(
            data in prop::collection::vec(any::<u8>(), 0..600),
            cuts in prop::collection::vec((any::<bool>(), 1usize..40), 1..30),
        ) {
            let mut segs: Vec<(Dir, &[u8])> = Vec::new();
            let mut at = 0;
            for (to_server, len) in cuts {
                if at >= data.len() { break; }
                let end = (at + len).min(data.len());
                segs.push((if to_server { REQ } else { RSP }, &data[at..end]));
                at = end;
            }
            let ev = run(&segs);
            for m in msgs(&ev) {
                let _ = rec(m).summary();
            }
        }

        /// A storm of pipelined requests and responses decodes the same however it is split.
        #[test]
        fn pipelining_storm_is_split_invariant(
            pdus in prop::collection::vec(request_pdu(), 1..40),
            seed in any::<u64>(),
        ) {
            let mut reqs = Vec::new();
            let mut rsps = Vec::new();
            for (i, pdu) in pdus.iter().enumerate() {
                reqs.extend(adu(i as u16, 1, pdu));
                rsps.extend(adu(i as u16, 1, &[pdu[0] | 0x80, 0x06]));
            }
            let whole = run(&[(REQ, &reqs), (RSP, &rsps)]);
            let mut segs: Vec<(Dir, &[u8])> = Vec::new();
            let mut s = seed;
            for (dir, buf) in [(REQ, &reqs), (RSP, &rsps)] {
                let mut at = 0;
                while at < buf.len() {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let len = 1 + (s >> 33) as usize % 300;
                    let end = (at + len).min(buf.len());
                    segs.push((dir, &buf[at..end]));
                    at = end;
                }
            }
            let split = run(&segs);
            let key = |ev: &[Event]| msgs(ev).iter().map(|m| (rec(m).clone(), m.malformed, m.anomalies.clone(), m.orphan)).collect::<Vec<_>>();
            prop_assert_eq!(key(&whole), key(&split));
            prop_assert_eq!(msgs(&whole).len(), pdus.len() * 2);
            prop_assert!(msgs(&split).iter().filter(|m| rec(m).dir == ModbusDir::Response).all(|m| m.request_frame.is_some()));
        }
    }
}

// ---------------------------------------------------------------- corpus, end to end

mod corpus {
    use std::collections::HashMap;

    use serde_json::Value;

    use super::*;
    use crate::capture::file::FileSource;
    use crate::engine::EngineConfig;
    use crate::pipeline::{run_inline, EventSink};

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/modbus/pcaps/");

    struct Collect(Vec<Event>);

    impl EventSink for Collect {
        fn on_events(&mut self, events: &[Event]) -> std::io::Result<bool> {
            self.0.extend_from_slice(events);
            Ok(true)
        }
    }

    /// Decoded events and the truth file, or None (with a message) when the corpus is absent.
    fn load(name: &str) -> Option<(Vec<Event>, Value)> {
        let pcap = format!("{DIR}{name}.pcap");
        let truth = format!("{DIR}{name}.truth.json");
        let (Ok(truth), true) = (std::fs::read_to_string(&truth), std::path::Path::new(&pcap).exists())
        else {
            eprintln!("skipping: corpus {name} not found under {DIR}");
            return None;
        };
        let mut src = FileSource::open(&pcap).expect("open capture");
        let mut sink = Collect(Vec::new());
        let (_, err) = run_inline(&mut src, EngineConfig::with_defaults(), &mut sink, None);
        assert!(err.is_none(), "{err:?}");
        Some((sink.0, serde_json::from_str(&truth).expect("truth JSON")))
    }

    type Key = (String, String, &'static str, u64, u64, Option<u64>, Option<u64>, Option<u64>);

    /// Well-formed ADU counts per (src, dst, dir, unit, fc, exception, sub, mei), as check_decode.py.
    fn compare(events: &[Event], truth: &Value) -> (HashMap<Key, i64>, Vec<u64>) {
        let mut skip = std::collections::HashSet::new();
        for a in truth["anomalies"].as_array().into_iter().flatten() {
            if a["tag"].as_str().unwrap_or("").starts_with("malformed") {
                for k in ["request_frames", "response_frames"] {
                    skip.extend(a[k].as_array().into_iter().flatten().filter_map(Value::as_u64));
                }
            }
        }
        let cols: Vec<&str> =
            truth["adus_columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        let col = |row: &Value, name: &str| row[cols.iter().position(|c| *c == name).unwrap()].clone();
        let mut diff: HashMap<Key, i64> = HashMap::new();
        let mut truth_frames = std::collections::HashSet::new();
        for row in truth["adus"].as_array().unwrap() {
            let frame = col(row, "frame").as_u64().unwrap();
            truth_frames.insert(frame);
            if skip.contains(&frame) || col(row, "fc").is_null() {
                continue;
            }
            let dir = if col(row, "dir") == "request" { "request" } else { "response" };
            let k = (
                col(row, "src").as_str().unwrap().to_string(),
                col(row, "dst").as_str().unwrap().to_string(),
                dir,
                col(row, "unit").as_u64().unwrap(),
                col(row, "fc").as_u64().unwrap(),
                col(row, "exc").as_u64(),
                col(row, "sub").as_u64(),
                col(row, "mei").as_u64(),
            );
            *diff.entry(k).or_default() -= 1;
        }
        let mut extra_frames = Vec::new();
        for m in msgs(events) {
            if skip.contains(&m.frame) || m.malformed {
                continue;
            }
            let r = rec(m);
            let dir = if r.dir == ModbusDir::Request { "request" } else { "response" };
            let k = (
                m.src.to_string(),
                m.dst.to_string(),
                dir,
                u64::from(r.unit),
                u64::from(r.fc),
                r.exception.map(u64::from),
                r.sub.map(u64::from),
                r.mei.map(u64::from),
            );
            *diff.entry(k).or_default() += 1;
            if !truth_frames.contains(&m.frame) {
                extra_frames.push(m.frame);
            }
        }
        diff.retain(|_, v| *v != 0);
        (diff, extra_frames)
    }

    #[test]
    fn normal_matches_truth_and_identities() {
        let Some((events, truth)) = load("modbus_normal") else { return };
        let (diff, _) = compare(&events, &truth);
        assert!(diff.is_empty(), "{diff:#?}");
        assert!(msgs(&events).iter().all(|m| !m.malformed && m.anomalies.is_empty()));
        // Every response is paired, with the frame the truth gives.
        let pairs: HashMap<u64, u64> = truth["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| Some((t["rsp_frame"].as_u64()?, t["req_frame"].as_u64()?)))
            .collect();
        for m in msgs(&events).iter().filter(|m| rec(m).dir == ModbusDir::Response) {
            assert_eq!(m.request_frame, pairs.get(&m.frame).copied(), "frame {}", m.frame);
        }
        // Device identity on the wire: 43/14 objects and FC 17.
        let ids = &truth["device_identities_on_wire"];
        for m in msgs(&events) {
            let r = rec(m);
            let want = &ids[m.src.to_string()][format!("unit {}", r.unit)];
            if let Some(objects) = r.device_identity() {
                for o in objects {
                    assert_eq!(want["objects"][o.name.unwrap()], o.value.as_str());
                }
            }
            if let Some(ModbusDetail::ServerId { server_id_hex, run_indicator, additional_data, .. }) =
                &r.detail
            {
                assert_eq!(want["fc17_server_id_hex"], server_id_hex.as_str());
                assert_eq!(
                    want["fc17_run_indicator_hex"],
                    format!("{:02x}", run_indicator.unwrap()).as_str()
                );
                assert_eq!(want["fc17_additional_data"], additional_data.as_str());
            }
        }
    }

    #[test]
    fn anomalies_match_truth_and_every_malformed_case_is_flagged_in_its_frame() {
        let Some((events, truth)) = load("modbus_anomalies") else { return };
        let (diff, _) = compare(&events, &truth);
        assert!(diff.is_empty(), "{diff:#?}");
        let ms = msgs(&events);
        for a in truth["anomalies"].as_array().unwrap() {
            let tag = a["tag"].as_str().unwrap();
            if !tag.starts_with("malformed_") {
                continue;
            }
            for f in a["request_frames"].as_array().unwrap().iter().filter_map(Value::as_u64) {
                let hit = ms.iter().find(|m| m.frame == f && rec(m).dir == ModbusDir::Request);
                let m = hit.unwrap_or_else(|| panic!("{tag}: no request record in frame {f}"));
                assert!(m.malformed, "{tag} frame {f}");
                assert!(!m.anomalies.is_empty(), "{tag} frame {f}");
            }
        }
    }

    #[test]
    fn segmentation_differs_from_tshark_only_where_tshark_cannot_reassemble() {
        let Some((events, truth)) = load("modbus_segmentation") else { return };
        let (diff, mut extra) = compare(&events, &truth);
        // The requests of seg_split_mbap_pdu, seg_split_in_mbap and seg_bytewise (first segment
        // shorter than 8 bytes) are decoded by us and not by tshark 4.0.
        let mut want = Vec::new();
        for t in truth["test_cases"].as_array().unwrap() {
            if matches!(t["tag"].as_str(), Some("seg_split_mbap_pdu" | "seg_split_in_mbap" | "seg_bytewise"))
            {
                want.extend(t["request_frames"].as_array().unwrap().last().and_then(Value::as_u64));
            }
        }
        extra.sort_unstable();
        want.sort_unstable();
        assert_eq!(extra, want);
        assert!(diff.values().all(|v| *v > 0), "{diff:#?}");
        assert_eq!(diff.values().sum::<i64>(), want.len() as i64);
        assert!(msgs(&events).iter().all(|m| !m.malformed));
    }
}
