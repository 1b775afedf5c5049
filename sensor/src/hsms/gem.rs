//! GEM meaning of SECS-II messages (SEMI E30 message use, E5 message and data-item
//! definitions): what FSIRT, inventory and the audit need from a message, typed.
//!
//! [`extract`] reads a parsed body ([`Secs2Tree`]) for the messages listed in
//! `protocols.md` 1.8. Lists kept in a record are cut at `max_values` with the full count
//! beside them. A known message whose body does not have the standard structure gives
//! [`GemMismatch`] (tools do deviate; it is flagged, not dropped).

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::frame::HsmsHeader;
use super::secs2::{self, ItemRef, Scalar, Secs2Format, Secs2Tree};

code_newtype! {
    /// COMMACK, S1F14 (E5).
    Commack(u8) { ACCEPTED = 0 => "accepted", DENIED = 1 => "denied", }
}
code_newtype! {
    /// OFLACK, S1F16.
    Oflack(u8) { ACKNOWLEDGED = 0 => "offline_acknowledged", }
}
code_newtype! {
    /// ONLACK, S1F18.
    Onlack(u8) {
        ACCEPTED = 0 => "online_accepted",
        NOT_ALLOWED = 1 => "online_not_allowed",
        ALREADY_ONLINE = 2 => "already_online",
    }
}
code_newtype! {
    /// EAC, S2F16.
    Eac(u8) {
        ACKNOWLEDGED = 0 => "acknowledged",
        UNKNOWN_CONSTANT = 1 => "denied_constant_does_not_exist",
        BUSY = 2 => "denied_busy",
        OUT_OF_RANGE = 3 => "denied_out_of_range",
    }
}
code_newtype! {
    /// TIACK, S2F32.
    Tiack(u8) { OK = 0 => "ok", NOT_DONE = 1 => "error_not_done", }
}
code_newtype! {
    /// DRACK, S2F34.
    Drack(u8) {
        ACCEPTED = 0 => "accepted",
        NO_SPACE = 1 => "denied_insufficient_space",
        INVALID_FORMAT = 2 => "denied_invalid_format",
        RPTID_DEFINED = 3 => "denied_rptid_already_defined",
        VID_UNKNOWN = 4 => "denied_vid_does_not_exist",
    }
}
code_newtype! {
    /// LRACK, S2F36.
    Lrack(u8) {
        ACCEPTED = 0 => "accepted",
        NO_SPACE = 1 => "denied_insufficient_space",
        INVALID_FORMAT = 2 => "denied_invalid_format",
        LINK_DEFINED = 3 => "denied_ceid_link_already_defined",
        CEID_UNKNOWN = 4 => "denied_ceid_does_not_exist",
        RPTID_UNKNOWN = 5 => "denied_rptid_does_not_exist",
    }
}
code_newtype! {
    /// ERACK, S2F38.
    Erack(u8) { ACCEPTED = 0 => "accepted", CEID_UNKNOWN = 1 => "denied_ceid_does_not_exist", }
}
code_newtype! {
    /// HCACK, S2F42 and S2F50.
    Hcack(u8) {
        OK = 0 => "ok",
        INVALID_COMMAND = 1 => "invalid_command",
        CANNOT_DO_NOW = 2 => "cannot_perform_now",
        PARAMETER_INVALID = 3 => "parameter_invalid",
        WILL_FINISH_LATER = 4 => "acknowledged_completion_signalled_later",
        ALREADY_IN_CONDITION = 5 => "rejected_already_in_condition",
        NO_SUCH_OBJECT = 6 => "no_such_object",
    }
}
code_newtype! {
    /// CPACK, S2F42 and S2F50 (per parameter).
    Cpack(u8) {
        NAME_UNKNOWN = 1 => "parameter_name_unknown",
        ILLEGAL_VALUE = 2 => "illegal_value",
        ILLEGAL_FORMAT = 3 => "illegal_format",
    }
}
code_newtype! {
    /// ACKC5, S5F2 and S5F4.
    Ackc5(u8) { ACCEPTED = 0 => "accepted", }
}
code_newtype! {
    /// ACKC6, S6F12.
    Ackc6(u8) { ACCEPTED = 0 => "accepted", }
}
code_newtype! {
    /// ACKC7, S7F4 and S7F18.
    Ackc7(u8) {
        ACCEPTED = 0 => "accepted",
        PERMISSION_NOT_GRANTED = 1 => "permission_not_granted",
        LENGTH_ERROR = 2 => "length_error",
        MATRIX_OVERFLOW = 3 => "matrix_overflow",
        PPID_NOT_FOUND = 4 => "ppid_not_found",
        MODE_UNSUPPORTED = 5 => "mode_unsupported",
        PERFORMED_LATER = 6 => "performed_later",
    }
}
code_newtype! {
    /// ACKC10, S10F2/F4/F6/F10.
    Ackc10(u8) {
        ACCEPTED = 0 => "accepted_for_display",
        WILL_NOT_DISPLAY = 1 => "message_will_not_be_displayed",
        TERMINAL_UNAVAILABLE = 2 => "terminal_not_available",
    }
}
code_newtype! {
    /// Alarm category, the low 7 bits of ALCD (S5F1).
    AlarmCategory(u8) {
        PERSONAL_SAFETY = 1 => "personal_safety",
        EQUIPMENT_SAFETY = 2 => "equipment_safety",
        PARAMETER_WARNING = 3 => "parameter_control_warning",
        PARAMETER_ERROR = 4 => "parameter_control_error",
        IRRECOVERABLE = 5 => "irrecoverable_error",
        STATUS_WARNING = 6 => "equipment_status_warning",
        ATTENTION = 7 => "attention_flags",
        DATA_INTEGRITY = 8 => "data_integrity",
    }
}
code_newtype! {
    /// The stream 9 error a message reports (its function).
    S9Error(u8) {
        UNRECOGNIZED_DEVICE_ID = 1 => "unrecognized_device_id",
        UNRECOGNIZED_STREAM = 3 => "unrecognized_stream",
        UNRECOGNIZED_FUNCTION = 5 => "unrecognized_function",
        ILLEGAL_DATA = 7 => "illegal_data",
        TRANSACTION_TIMEOUT = 9 => "transaction_timer_timeout",
        DATA_TOO_LONG = 11 => "data_too_long",
        CONVERSATION_TIMEOUT = 13 => "conversation_timeout",
    }
}

impl S9Error {
    /// Anomaly code carried by the S9 message itself.
    pub fn anomaly(self) -> &'static str {
        match self {
            S9Error::UNRECOGNIZED_DEVICE_ID => "s9_unrecognized_device_id",
            S9Error::UNRECOGNIZED_STREAM => "s9_unrecognized_stream",
            S9Error::UNRECOGNIZED_FUNCTION => "s9_unrecognized_function",
            S9Error::ILLEGAL_DATA => "s9_illegal_data",
            S9Error::TRANSACTION_TIMEOUT => "s9_transaction_timeout",
            S9Error::DATA_TOO_LONG => "s9_data_too_long",
            S9Error::CONVERSATION_TIMEOUT => "s9_conversation_timeout",
            _ => "s9_error",
        }
    }
}

/// A data-item value. Scalars as JSON numbers, booleans and strings; anything else (lists,
/// arrays, binary) as its SML.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GemValue {
    U(u64),
    I(i64),
    F(f64),
    Bool(bool),
    Text(String),
    Sml(String),
}

/// Key under which an id (RPTID, CEID...) is compared: numbers by value, whatever their
/// format; text by a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdKey {
    Num(i128),
    Text(u64),
}

impl std::fmt::Display for GemValue {
    /// The value as an engineer writes it: numbers and text bare, other items as SML.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GemValue::U(v) => write!(f, "{v}"),
            GemValue::I(v) => write!(f, "{v}"),
            GemValue::F(v) => write!(f, "{v}"),
            GemValue::Bool(v) => write!(f, "{v}"),
            GemValue::Text(s) | GemValue::Sml(s) => f.write_str(s),
        }
    }
}

impl GemValue {
    pub fn id_key(&self) -> Option<IdKey> {
        match self {
            GemValue::U(v) => Some(IdKey::Num(i128::from(*v))),
            GemValue::I(v) => Some(IdKey::Num(i128::from(*v))),
            GemValue::Text(s) => {
                use std::hash::{Hash, Hasher};
                let mut h = rustc_hash::FxHasher::default();
                s.hash(&mut h);
                Some(IdKey::Text(h.finish()))
            }
            _ => None,
        }
    }
}

/// Characters of SML kept for one non-scalar value.
const VALUE_SML_CHARS: usize = 200;

fn value(t: &Secs2Tree<'_>, r: ItemRef) -> Option<GemValue> {
    if let Some(s) = t.scalar(r) {
        return Some(match s {
            Scalar::U(v) => GemValue::U(v),
            Scalar::I(v) => GemValue::I(v),
            Scalar::F(v) => GemValue::F(v),
            Scalar::Bool(v) => GemValue::Bool(v),
            Scalar::Text(v) => GemValue::Text(v),
        });
    }
    let enc = t.encoding(r)?;
    Some(GemValue::Sml(secs2::render_sml(enc, enc.len(), 64, VALUE_SML_CHARS)))
}

/// ALCD of S5F1: bit 8 set = alarm set, low bits = category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Alcd {
    pub raw: u8,
    pub set: bool,
    pub category: AlarmCategory,
}

/// ALED of S5F3: bit 8 set = enable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Aled {
    pub raw: u8,
    pub enable: bool,
}

/// An (ECID, ECV) pair of S2F15.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EcPair {
    pub ecid: Option<GemValue>,
    pub ecv: Option<GemValue>,
}

/// A (CPNAME, CPVAL) pair of S2F41/S2F49.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommandParam {
    pub cpname: Option<GemValue>,
    pub cpval: Option<GemValue>,
}

/// A (CPNAME, CPACK) pair of S2F42/S2F50.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamAck {
    pub cpname: Option<GemValue>,
    pub cpack: Option<Cpack>,
}

/// One report definition of S2F33 (no VIDs = delete that report).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportDef {
    pub rptid: Option<GemValue>,
    pub vids: Vec<GemValue>,
    pub n_vids: usize,
}

/// One event link of S2F35 (no RPTIDs = unlink).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventLink {
    pub ceid: Option<GemValue>,
    pub rptids: Vec<GemValue>,
    pub n_rptids: usize,
}

/// One report of S6F11.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportData {
    pub rptid: Option<GemValue>,
    pub values: Vec<GemValue>,
    pub n_values: usize,
}

/// A decoded MHEAD/SHEAD (S9): the header of the message the equipment complains about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Mhead {
    pub session_id: u16,
    pub stream: u8,
    pub function: u8,
    pub wbit: bool,
    pub ptype: u8,
    pub stype: u8,
    pub system: u32,
}

/// GEM meaning of a message (serialised as an object with a `kind`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Gem {
    /// S1F2 On Line Data (from the host: empty).
    OnlineData { mdln: Option<String>, softrev: Option<String> },
    /// S1F13 Establish Communications Request (from the host: empty).
    EstablishComm { mdln: Option<String>, softrev: Option<String> },
    /// S1F14; MDLN/SOFTREV kept only when COMMACK is 0.
    EstablishCommAck { commack: Commack, mdln: Option<String>, softrev: Option<String> },
    /// S1F15 Request OFF-LINE.
    RequestOffline,
    /// S1F16.
    OfflineAck { oflack: Oflack },
    /// S1F17 Request ON-LINE.
    RequestOnline,
    /// S1F18.
    OnlineAck { onlack: Onlack },
    /// S2F15 New Equipment Constant Send.
    EquipmentConstantSend { constants: Vec<EcPair>, n_constants: usize },
    /// S2F16.
    EquipmentConstantAck { eac: Eac },
    /// S2F17 Date and Time Request.
    TimeRequest,
    /// S2F18 Date and Time Data.
    TimeData { time: Option<String> },
    /// S2F31 Date and Time Set.
    TimeSet { time: Option<String> },
    /// S2F32.
    TimeSetAck { tiack: Tiack },
    /// S2F33 Define Report (`delete_all` when the report list is empty).
    DefineReport { dataid: Option<GemValue>, delete_all: bool, reports: Vec<ReportDef>, n_reports: usize },
    /// S2F34.
    DefineReportAck { drack: Drack },
    /// S2F35 Link Event Report.
    LinkEventReport { dataid: Option<GemValue>, links: Vec<EventLink>, n_links: usize },
    /// S2F36.
    LinkEventReportAck { lrack: Lrack },
    /// S2F37 Enable/Disable Event Report (`all` when the CEID list is empty).
    EnableEventReport { ceed: bool, all: bool, ceids: Vec<GemValue>, n_ceids: usize },
    /// S2F38.
    EnableEventReportAck { erack: Erack },
    /// S2F41 Host Command Send.
    HostCommand { rcmd: Option<GemValue>, params: Vec<CommandParam>, n_params: usize },
    /// S2F49 Enhanced Remote Command.
    EnhancedRemoteCommand {
        dataid: Option<GemValue>,
        objspec: Option<GemValue>,
        rcmd: Option<GemValue>,
        params: Vec<CommandParam>,
        n_params: usize,
    },
    /// S2F42 and S2F50.
    HostCommandAck { hcack: Hcack, cpacks: Vec<ParamAck>, n_cpacks: usize },
    /// S5F1 Alarm Report Send.
    AlarmReport { alcd: Alcd, alid: Option<GemValue>, altx: Option<String> },
    /// S5F2 and S5F4.
    AlarmAck { ackc5: Ackc5 },
    /// S5F3 Enable/Disable Alarm Send (no ALID = all alarms).
    EnableAlarm { aled: Aled, alid: Option<GemValue> },
    /// S6F11 Event Report Send.
    EventReport {
        dataid: Option<GemValue>,
        ceid: Option<GemValue>,
        reports: Vec<ReportData>,
        n_reports: usize,
    },
    /// S6F12.
    EventReportAck { ackc6: Ackc6 },
    /// S7F3 Process Program Send: the recipe body is hashed, not kept.
    ProcessProgramSend { ppid: Option<GemValue>, body_len: Option<usize>, sha256: Option<String> },
    /// S7F4 and S7F18.
    ProcessProgramAck { ackc7: Ackc7 },
    /// S7F5 Process Program Request and S7F25 Formatted Process Program Request.
    ProcessProgramRequest { ppid: Option<GemValue> },
    /// S7F6 Process Program Data and S7F26 Formatted Process Program Data (`not_found` for an
    /// empty list; no body length or hash for S7F26, whose body is a list of process steps).
    ProcessProgramData {
        ppid: Option<GemValue>,
        body_len: Option<usize>,
        sha256: Option<String>,
        not_found: bool,
    },
    /// S7F17 Delete Process Program Send (`all` when the PPID list is empty).
    ProcessProgramDelete { all: bool, ppids: Vec<GemValue>, n_ppids: usize },
    /// S7F19 Current EPPD Request.
    ProcessProgramDirectoryRequest,
    /// S7F20 Current EPPD Data.
    ProcessProgramDirectory { ppids: Vec<GemValue>, n_ppids: usize },
    /// S10F1/F3/F5/F9 terminal text (F5 lines joined with newlines; F9 has no TID).
    TerminalText { tid: Option<GemValue>, text: Option<String> },
    /// S10F2/F4/F6/F10.
    TerminalAck { ackc10: Ackc10 },
    /// S9Fx: the equipment reports an error about another message.
    StreamError { error: S9Error, mhead: Option<Mhead> },
    /// SxF0: the transaction was aborted instead of answered.
    Abort,
}

impl Gem {
    /// Short text for the summary line.
    pub fn summary(&self) -> String {
        let v = |x: &Option<GemValue>| match x {
            Some(GemValue::Text(s)) => s.clone(),
            Some(GemValue::U(n)) => n.to_string(),
            Some(GemValue::I(n)) => n.to_string(),
            Some(other) => format!("{other:?}"),
            None => "?".to_owned(),
        };
        match self {
            Gem::HostCommand { rcmd, .. } | Gem::EnhancedRemoteCommand { rcmd, .. } => {
                format!("RCMD={}", v(rcmd))
            }
            Gem::HostCommandAck { hcack, .. } => format!("HCACK={}", hcack.0),
            Gem::ProcessProgramSend { ppid, .. } | Gem::ProcessProgramData { ppid, .. } => {
                format!("PPID={}", v(ppid))
            }
            Gem::EventReport { ceid, .. } => format!("CEID={}", v(ceid)),
            Gem::AlarmReport { alcd, alid, .. } => {
                format!("ALID={} {}", v(alid), if alcd.set { "set" } else { "cleared" })
            }
            Gem::StreamError { error, .. } => error.name().unwrap_or("error").to_owned(),
            Gem::OnlineData { mdln: Some(m), softrev } | Gem::EstablishComm { mdln: Some(m), softrev } => {
                format!("MDLN={m} SOFTREV={}", softrev.as_deref().unwrap_or("?"))
            }
            _ => String::new(),
        }
    }
}

/// A known message whose body does not have the structure the standard gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemMismatch;

type GemResult = Result<Option<Gem>, GemMismatch>;

/// Takes at most `max` items of an iterator, and counts them all.
fn bounded<T>(it: impl Iterator<Item = T>, max: usize) -> (Vec<T>, usize) {
    let mut v = Vec::new();
    let mut n = 0usize;
    for x in it {
        if n < max {
            v.push(x);
        }
        n += 1;
    }
    (v, n)
}

fn pair(t: &Secs2Tree<'_>, r: ItemRef) -> Option<(ItemRef, ItemRef)> {
    let [a, b] = t.list_array::<2>(r)?;
    Some((a, b))
}

fn values(t: &Secs2Tree<'_>, list: ItemRef, max: usize) -> Option<(Vec<GemValue>, usize)> {
    t.list_len(list)?;
    Some(bounded(t.children(list).filter_map(|c| value(t, c)), max))
}

fn mdln_softrev(t: &Secs2Tree<'_>, r: ItemRef) -> Option<(Option<String>, Option<String>)> {
    match t.list_len(r)? {
        0 => Some((None, None)),
        2 => {
            let (m, s) = pair(t, r)?;
            Some((t.text(m), t.text(s)))
        }
        _ => None,
    }
}

fn sha256_hex(d: &[u8]) -> String {
    let digest = Sha256::digest(d);
    let mut s = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// PPBODY: length and SHA-256 of its data (binary or ASCII; a formatted list has neither).
fn ppbody(t: &Secs2Tree<'_>, r: ItemRef) -> (Option<usize>, Option<String>) {
    match t.data(r) {
        Some(d) => (Some(d.len()), Some(sha256_hex(d))),
        None => (None, None),
    }
}

fn params(t: &Secs2Tree<'_>, list: ItemRef, max: usize) -> Option<(Vec<CommandParam>, usize)> {
    t.list_len(list)?;
    Some(bounded(
        t.children(list).map(|c| match pair(t, c) {
            Some((n, v)) => CommandParam { cpname: value(t, n), cpval: value(t, v) },
            None => CommandParam { cpname: None, cpval: value(t, c) },
        }),
        max,
    ))
}

/// GEM meaning of a data message with a valid SECS-II body. `Ok(None)` when fabmon gives the
/// message no meaning; `Err` when the message is known but its body is not the standard one.
pub fn extract(h: &HsmsHeader, t: &Secs2Tree<'_>, max_values: usize) -> GemResult {
    let (s, f) = (h.stream(), h.function());
    if f == 0 {
        return Ok(Some(Gem::Abort));
    }
    let root = t.root();
    // Messages with a single ack code as their body.
    let code = || root.and_then(|r| t.code(r)).ok_or(GemMismatch);
    let g = match (s, f) {
        (1, 2) | (1, 13) => {
            let (mdln, softrev) = root.and_then(|r| mdln_softrev(t, r)).ok_or(GemMismatch)?;
            if f == 2 {
                Gem::OnlineData { mdln, softrev }
            } else {
                Gem::EstablishComm { mdln, softrev }
            }
        }
        (1, 14) => {
            let (ack, ids) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            let commack = Commack(t.code(ack).ok_or(GemMismatch)?);
            let (mdln, softrev) = mdln_softrev(t, ids).ok_or(GemMismatch)?;
            if commack == Commack::ACCEPTED {
                Gem::EstablishCommAck { commack, mdln, softrev }
            } else {
                Gem::EstablishCommAck { commack, mdln: None, softrev: None }
            }
        }
        (1, 15) => Gem::RequestOffline,
        (1, 16) => Gem::OfflineAck { oflack: Oflack(code()?) },
        (1, 17) => Gem::RequestOnline,
        (1, 18) => Gem::OnlineAck { onlack: Onlack(code()?) },
        (2, 15) => {
            let r = root.ok_or(GemMismatch)?;
            t.list_len(r).ok_or(GemMismatch)?;
            let (constants, n_constants) = bounded(
                t.children(r).map(|c| match pair(t, c) {
                    Some((id, v)) => EcPair { ecid: value(t, id), ecv: value(t, v) },
                    None => EcPair { ecid: None, ecv: value(t, c) },
                }),
                max_values,
            );
            Gem::EquipmentConstantSend { constants, n_constants }
        }
        (2, 16) => Gem::EquipmentConstantAck { eac: Eac(code()?) },
        (2, 17) => Gem::TimeRequest,
        (2, 18) | (2, 31) => {
            let time = root.and_then(|r| t.text(r));
            if f == 18 {
                Gem::TimeData { time }
            } else {
                Gem::TimeSet { time }
            }
        }
        (2, 32) => Gem::TimeSetAck { tiack: Tiack(code()?) },
        (2, 33) => {
            let (dataid, list) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            let n = t.list_len(list).ok_or(GemMismatch)?;
            let (reports, n_reports) = bounded(
                t.children(list).map(|c| match pair(t, c) {
                    Some((id, vids)) => {
                        let (vids, n_vids) = values(t, vids, max_values).unwrap_or_default();
                        ReportDef { rptid: value(t, id), vids, n_vids }
                    }
                    None => ReportDef { rptid: None, vids: Vec::new(), n_vids: 0 },
                }),
                max_values,
            );
            Gem::DefineReport { dataid: value(t, dataid), delete_all: n == 0, reports, n_reports }
        }
        (2, 34) => Gem::DefineReportAck { drack: Drack(code()?) },
        (2, 35) => {
            let (dataid, list) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            t.list_len(list).ok_or(GemMismatch)?;
            let (links, n_links) = bounded(
                t.children(list).map(|c| match pair(t, c) {
                    Some((id, ids)) => {
                        let (rptids, n_rptids) = values(t, ids, max_values).unwrap_or_default();
                        EventLink { ceid: value(t, id), rptids, n_rptids }
                    }
                    None => EventLink { ceid: None, rptids: Vec::new(), n_rptids: 0 },
                }),
                max_values,
            );
            Gem::LinkEventReport { dataid: value(t, dataid), links, n_links }
        }
        (2, 36) => Gem::LinkEventReportAck { lrack: Lrack(code()?) },
        (2, 37) => {
            let (ceed, list) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            let ceed = t.code(ceed).ok_or(GemMismatch)? != 0;
            let (ceids, n_ceids) = values(t, list, max_values).ok_or(GemMismatch)?;
            Gem::EnableEventReport { ceed, all: n_ceids == 0, ceids, n_ceids }
        }
        (2, 38) => Gem::EnableEventReportAck { erack: Erack(code()?) },
        (2, 41) => {
            let (rcmd, list) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            let (params, n_params) = params(t, list, max_values).ok_or(GemMismatch)?;
            Gem::HostCommand { rcmd: value(t, rcmd), params, n_params }
        }
        (2, 49) => {
            let [dataid, objspec, rcmd, list] =
                &root.and_then(|r| t.list_array::<4>(r)).ok_or(GemMismatch)?;
            let (params, n_params) = params(t, *list, max_values).ok_or(GemMismatch)?;
            Gem::EnhancedRemoteCommand {
                dataid: value(t, *dataid),
                objspec: value(t, *objspec),
                rcmd: value(t, *rcmd),
                params,
                n_params,
            }
        }
        (2, 42) | (2, 50) => {
            let (ack, list) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            let hcack = Hcack(t.code(ack).ok_or(GemMismatch)?);
            t.list_len(list).ok_or(GemMismatch)?;
            let (cpacks, n_cpacks) = bounded(
                t.children(list).map(|c| match pair(t, c) {
                    Some((n, a)) => ParamAck { cpname: value(t, n), cpack: t.code(a).map(Cpack) },
                    None => ParamAck { cpname: None, cpack: None },
                }),
                max_values,
            );
            Gem::HostCommandAck { hcack, cpacks, n_cpacks }
        }
        (5, 1) => {
            let [alcd, alid, altx] = &root.and_then(|r| t.list_array::<3>(r)).ok_or(GemMismatch)?;
            let raw = t.code(*alcd).ok_or(GemMismatch)?;
            Gem::AlarmReport {
                alcd: Alcd { raw, set: raw & 0x80 != 0, category: AlarmCategory(raw & 0x7F) },
                alid: value(t, *alid),
                altx: t.text(*altx),
            }
        }
        (5, 2) | (5, 4) => Gem::AlarmAck { ackc5: Ackc5(code()?) },
        (5, 3) => {
            let (aled, alid) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            let raw = t.code(aled).ok_or(GemMismatch)?;
            // An empty ALID item addresses every alarm.
            let alid = match t.item(alid) {
                Some(it) if it.len == 0 => None,
                _ => value(t, alid),
            };
            Gem::EnableAlarm { aled: Aled { raw, enable: raw & 0x80 != 0 }, alid }
        }
        (6, 11) => {
            let [dataid, ceid, list] = &root.and_then(|r| t.list_array::<3>(r)).ok_or(GemMismatch)?;
            t.list_len(*list).ok_or(GemMismatch)?;
            let (reports, n_reports) = bounded(
                t.children(*list).map(|c| match pair(t, c) {
                    Some((id, vals)) => {
                        let (values, n_values) = values(t, vals, max_values).unwrap_or_default();
                        ReportData { rptid: value(t, id), values, n_values }
                    }
                    None => ReportData { rptid: None, values: Vec::new(), n_values: 0 },
                }),
                max_values,
            );
            Gem::EventReport { dataid: value(t, *dataid), ceid: value(t, *ceid), reports, n_reports }
        }
        (6, 12) => Gem::EventReportAck { ackc6: Ackc6(code()?) },
        (7, 3) => {
            let (ppid, body) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            let (body_len, sha256) = ppbody(t, body);
            Gem::ProcessProgramSend { ppid: value(t, ppid), body_len, sha256 }
        }
        (7, 4) | (7, 18) => Gem::ProcessProgramAck { ackc7: Ackc7(code()?) },
        (7, 5) | (7, 25) => Gem::ProcessProgramRequest { ppid: root.and_then(|r| value(t, r)) },
        (7, 26) => {
            // L,4 {PPID, MDLN, SOFTREV, L,n {process steps}}; an empty list when refused.
            let r = root.ok_or(GemMismatch)?;
            if t.list_len(r) == Some(0) {
                Gem::ProcessProgramData { ppid: None, body_len: None, sha256: None, not_found: true }
            } else {
                let k = t.list_of(r, 4).ok_or(GemMismatch)?;
                Gem::ProcessProgramData {
                    ppid: value(t, k[0]),
                    body_len: None,
                    sha256: None,
                    not_found: false,
                }
            }
        }
        (7, 6) => {
            let r = root.ok_or(GemMismatch)?;
            if t.list_len(r) == Some(0) {
                Gem::ProcessProgramData { ppid: None, body_len: None, sha256: None, not_found: true }
            } else {
                let (ppid, body) = pair(t, r).ok_or(GemMismatch)?;
                let (body_len, sha256) = ppbody(t, body);
                Gem::ProcessProgramData { ppid: value(t, ppid), body_len, sha256, not_found: false }
            }
        }
        (7, 17) => {
            let (ppids, n_ppids) = root.and_then(|r| values(t, r, max_values)).ok_or(GemMismatch)?;
            Gem::ProcessProgramDelete { all: n_ppids == 0, ppids, n_ppids }
        }
        (7, 19) => Gem::ProcessProgramDirectoryRequest,
        (7, 20) => {
            let (ppids, n_ppids) = root.and_then(|r| values(t, r, max_values)).ok_or(GemMismatch)?;
            Gem::ProcessProgramDirectory { ppids, n_ppids }
        }
        (10, 1) | (10, 3) => {
            let (tid, text) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            Gem::TerminalText { tid: value(t, tid), text: t.text(text) }
        }
        (10, 5) => {
            let (tid, lines) = root.and_then(|r| pair(t, r)).ok_or(GemMismatch)?;
            t.list_len(lines).ok_or(GemMismatch)?;
            let (lines, _) = bounded(t.children(lines).filter_map(|c| t.text(c)), max_values);
            Gem::TerminalText { tid: value(t, tid), text: Some(lines.join("\n")) }
        }
        (10, 9) => Gem::TerminalText { tid: None, text: root.and_then(|r| t.text(r)) },
        (10, 2) | (10, 4) | (10, 6) | (10, 10) => Gem::TerminalAck { ackc10: Ackc10(code()?) },
        (9, f) if f % 2 == 1 => {
            let mhead = root.and_then(|r| {
                let d = t.data(r)?;
                let b: &[u8; 10] = d.try_into().ok()?;
                let h = HsmsHeader::from_bytes(10, b);
                (t.format(r) == Some(Secs2Format::BINARY)).then_some(Mhead {
                    session_id: h.session_id,
                    stream: h.stream(),
                    function: h.function(),
                    wbit: h.wbit(),
                    ptype: h.ptype,
                    stype: h.stype.0,
                    system: h.system,
                })
            });
            Gem::StreamError { error: S9Error(f), mhead }
        }
        _ => return Ok(None),
    };
    Ok(Some(g))
}

/// Report definitions in an S2F33 body, for the per-connection report book: `None` when the
/// body is not an S2F33; `Some((delete_all, [(rptid, deleted)]))` otherwise, at most `max`.
pub fn defined_reports(t: &Secs2Tree<'_>, max: usize) -> Option<(bool, Vec<(IdKey, bool)>)> {
    let (_, list) = t.root().and_then(|r| pair(t, r))?;
    let n = t.list_len(list)?;
    let defs = t
        .children(list)
        .filter_map(|c| {
            let (id, vids) = pair(t, c)?;
            Some((value(t, id)?.id_key()?, t.list_len(vids)? == 0))
        })
        .take(max)
        .collect();
    Some((n == 0, defs))
}

/// RPTIDs reported in an S6F11 body, at most `max`.
pub fn reported_ids(t: &Secs2Tree<'_>, max: usize) -> Vec<IdKey> {
    let Some([_, _, list]) = t.root().and_then(|r| t.list_array::<3>(r)) else {
        return Vec::new();
    };
    t.children(list)
        .filter_map(|c| pair(t, c).and_then(|(id, _)| value(t, id)).and_then(|v| v.id_key()))
        .take(max)
        .collect()
}

#[cfg(test)]
// Tests fail loudly on purpose.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::hsms::secs2::parse_secs2;

    fn gem_of(stream: u8, function: u8, body: &[u8]) -> GemResult {
        let h = HsmsHeader {
            length: 10 + body.len() as u32,
            byte2: stream,
            byte3: function,
            ..HsmsHeader::default()
        };
        let mut items = Vec::new();
        parse_secs2(body, 64, 1000, &mut items).unwrap();
        extract(&h, &Secs2Tree::new(body, &items), 64)
    }

    fn a(s: &str) -> Vec<u8> {
        let mut v = vec![0x41, s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    #[test]
    fn s1f14_worked_example() {
        // protocols.md 1.6: L,2 <B 0x00 COMMACK> L,2 <A "MDLN-A"> <A "1.0.3">
        let mut body = vec![0x01, 0x02, 0x21, 0x01, 0x00, 0x01, 0x02];
        body.extend(a("MDLN-A"));
        body.extend(a("1.0.3"));
        let g = gem_of(1, 14, &body).unwrap().unwrap();
        assert_eq!(
            g,
            Gem::EstablishCommAck {
                commack: Commack::ACCEPTED,
                mdln: Some("MDLN-A".into()),
                softrev: Some("1.0.3".into())
            }
        );
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            r#"{"kind":"establish_comm_ack","commack":{"code":0,"name":"accepted"},"mdln":"MDLN-A","softrev":"1.0.3"}"#
        );
        // Denied: identity not kept.
        body[4] = 1;
        assert!(matches!(gem_of(1, 14, &body), Ok(Some(Gem::EstablishCommAck { mdln: None, .. }))));
        // Host side: L,2 COMMACK L,0.
        let host = [0x01, 0x02, 0x21, 0x01, 0x00, 0x01, 0x00];
        assert!(matches!(
            gem_of(1, 14, &host),
            Ok(Some(Gem::EstablishCommAck { mdln: None, softrev: None, .. }))
        ));
    }

    #[test]
    fn s2f41_and_reply() {
        let mut body = vec![0x01, 0x02];
        body.extend(a("PP-SELECT"));
        body.extend([0x01, 0x01, 0x01, 0x02]);
        body.extend(a("PPID"));
        body.extend(a("ETCH_OX_45S"));
        let g = gem_of(2, 41, &body).unwrap().unwrap();
        let Gem::HostCommand { rcmd, params, n_params } = g else { panic!() };
        assert_eq!(rcmd, Some(GemValue::Text("PP-SELECT".into())));
        assert_eq!(n_params, 1);
        assert_eq!(params[0].cpval, Some(GemValue::Text("ETCH_OX_45S".into())));
        let reply = [0x01, 0x02, 0x21, 0x01, 0x04, 0x01, 0x00];
        let g = gem_of(2, 42, &reply).unwrap().unwrap();
        assert!(matches!(g, Gem::HostCommandAck { hcack: Hcack::WILL_FINISH_LATER, n_cpacks: 0, .. }));
    }

    #[test]
    fn s7f3_hash_and_s7f17_all() {
        let mut body = vec![0x01, 0x02];
        body.extend(a("RCP"));
        body.extend([0x21, 0x03, b'a', b'b', b'c']);
        let Gem::ProcessProgramSend { body_len, sha256, .. } = gem_of(7, 3, &body).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(body_len, Some(3));
        assert_eq!(
            sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert!(matches!(
            gem_of(7, 17, &[0x01, 0x00]),
            Ok(Some(Gem::ProcessProgramDelete { all: true, .. }))
        ));
    }

    #[test]
    fn s5f1_s9f5_and_mismatch() {
        let mut body = vec![0x01, 0x03, 0x21, 0x01, 0x84, 0xa9, 0x02, 0x1b, 0x59];
        body.extend(a("Chamber pressure above limit"));
        let Gem::AlarmReport { alcd, alid, .. } = gem_of(5, 1, &body).unwrap().unwrap() else { panic!() };
        assert!(alcd.set);
        assert_eq!(alcd.category.name(), Some("parameter_control_error"));
        assert_eq!(alid, Some(GemValue::U(7001)));
        let mhead = [0x21, 0x0a, 0x00, 0x01, 0x87, 0x11, 0x00, 0x00, 0x1d, 0xab, 0xa1, 0x3b];
        let Gem::StreamError { error, mhead } = gem_of(9, 5, &mhead).unwrap().unwrap() else { panic!() };
        assert_eq!(error.anomaly(), "s9_unrecognized_function");
        let m = mhead.unwrap();
        assert_eq!((m.session_id, m.stream, m.function, m.wbit, m.system), (1, 7, 17, true, 0x1daba13b));
        // S2F41 whose body is a bare ASCII item.
        assert_eq!(gem_of(2, 41, &a("START")), Err(GemMismatch));
        // Unknown message: no meaning.
        assert_eq!(gem_of(1, 3, &[0x01, 0x00]), Ok(None));
    }

    #[test]
    fn report_book_helpers() {
        // S2F33 L,2 <U1 0> L,1 L,2 <U1 101> L,1 <U2 3003>
        let body = [
            0x01, 0x02, 0xa5, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0xa5, 0x01, 101, 0x01, 0x01, 0xa9, 0x02,
            0x0b, 0xbb,
        ];
        let mut items = Vec::new();
        parse_secs2(&body, 64, 100, &mut items).unwrap();
        let t = Secs2Tree::new(&body, &items);
        assert_eq!(defined_reports(&t, 10), Some((false, vec![(IdKey::Num(101), false)])));
        // S6F11 L,3 <U2 900> <U2 4003> L,1 L,2 <U2 101> L,0
        let ev = [
            0x01, 0x03, 0xa9, 0x02, 0x03, 0x84, 0xa9, 0x02, 0x0f, 0xa3, 0x01, 0x01, 0x01, 0x02, 0xa9, 0x02,
            0x00, 101, 0x01, 0x00,
        ];
        parse_secs2(&ev, 64, 100, &mut items).unwrap();
        let t = Secs2Tree::new(&ev, &items);
        assert_eq!(reported_ids(&t, 10), vec![IdKey::Num(101)]);
    }
}
