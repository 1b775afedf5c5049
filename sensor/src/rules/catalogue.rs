//! The rule catalogue: every rule id with its severity logic, the standard it serves, the OT
//! requirement item it evidences and what the operator should check. `docs/rules.md` is
//! generated from this table (`fabmon rules --markdown`), and a test keeps them equal.
//!
//! Rule ids are a stable contract: add rules, never rename them.

/// One rule.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct RuleDef {
    pub id: &'static str,
    pub title: &'static str,
    /// How the severity is decided.
    pub severity: &'static str,
    /// The SEMI E187 area, E188 concern or Purdue principle it serves.
    pub standard: &'static str,
    /// OT requirement item it evidences (ids of the audit item data file).
    pub ot_item: &'static str,
    /// What the operator should check.
    pub check: &'static str,
}

const E187_NET: &str = "SEMI E187 network security (minimal ports and services)";
const E187_MON: &str = "SEMI E187 security monitoring";
const E188_SVC: &str = "SEMI E188 service and upgrade activity";
const E188_INT: &str = "SEMI E188 integration of new equipment";
const PURDUE: &str = "Purdue zones and conduits";
const ACCESS: &str = "Least privilege for control operations (E187 access control)";

pub const RULES: &[RuleDef] = &[
    RuleDef {
        id: "asset.new",
        title: "New asset on the network",
        severity: "low; medium when the profile places it at level 2 or below",
        standard: E188_INT,
        ot_item: "ID-1",
        check: "Is this a planned integration (scan report on file, E188) or an unknown device? Name it in the profile.",
    },
    RuleDef {
        id: "asset.identity_changed",
        title: "MDLN/SOFTREV, firmware or model changed",
        severity: "medium inside a change window for the asset; high outside one, or when the profile defines no window",
        standard: E188_SVC,
        ot_item: "PR-2",
        check: "Was a software or firmware update planned for this tool or device? Compare with the change record.",
    },
    RuleDef {
        id: "conduit.violation",
        title: "Traffic between zones the profile does not allow",
        severity: "high; critical when an enterprise (level 4/5) host reaches level 1/2",
        standard: PURDUE,
        ot_item: "PR-2",
        check: "Which system opened the connection and why? Block it at the zone boundary or add the conduit to the profile.",
    },
    RuleDef {
        id: "flow.new_conversation",
        title: "Conversation not in the baseline",
        severity: "low; medium when it crosses Purdue levels or reaches level 1/2",
        standard: PURDUE,
        ot_item: "PR-2",
        check: "Is the new client or service expected? Review and relearn the baseline if it is.",
    },
    RuleDef {
        id: "service.unexpected",
        title: "Listening service not in the baseline or the declared services",
        severity: "medium; high when the equipment class declares its services and this one is not among them",
        standard: E187_NET,
        ot_item: "GV-1",
        check: "Compare with the supplier's network documentation (E187); disable the service or update the declaration.",
    },
    RuleDef {
        id: "service.cleartext_remote_access",
        title: "Cleartext remote access to or from an OT asset",
        severity: "high for Telnet, FTP, TFTP, VNC; medium for HTTP and SNMP",
        standard: E187_NET,
        ot_item: "PR-1",
        check: "Replace with an encrypted, authenticated channel through the DMZ jump host; who used it?",
    },
    RuleDef {
        id: "hsms.unauthorized_host",
        title: "HSMS connection or Select from a host not authorised for the tool",
        severity: "high; critical when the profile names the authorised hosts and this is not one",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Only the tool's EAP/host should connect. Identify the host and close the session.",
    },
    RuleDef {
        id: "hsms.remote_command",
        title: "Remote command (S2F41/S2F49) from an unauthorised host or not in the baseline",
        severity: "high; critical from a host without authorisation; medium for an authorised host inside a change window",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Did the EAP/MES issue this command? Check the tool's state and lot history.",
    },
    RuleDef {
        id: "hsms.recipe_download",
        title: "Process program sent to a tool (S7F3/S7F23)",
        severity: "medium from an authorised host or one seen in the baseline; high otherwise; critical from a host without authorisation",
        standard: E188_SVC,
        ot_item: "PR-1",
        check: "Was the recipe change approved (RMS)? Compare the PPID and SHA-256 with the recipe server.",
    },
    RuleDef {
        id: "hsms.recipe_delete",
        title: "Process program deleted (S7F17)",
        severity: "high; critical when all programs are deleted",
        standard: E188_SVC,
        ot_item: "PR-1",
        check: "Deleting recipes stops production; confirm with the equipment owner.",
    },
    RuleDef {
        id: "hsms.equipment_constant_change",
        title: "Equipment constant changed (S2F15)",
        severity: "medium; high outside a change window or from a host not in the baseline",
        standard: E188_SVC,
        ot_item: "PR-2",
        check: "Which constants and values? Were they accepted (EAC)? Compare with the tool's qualified settings.",
    },
    RuleDef {
        id: "hsms.event_or_alarm_disabled",
        title: "Event reports or alarms disabled (S2F37, S5F3)",
        severity: "high; medium when the same disable is in the baseline's setup sequence but sent by another host",
        standard: E187_MON,
        ot_item: "RS-1",
        check: "Disabling events or alarms blinds the host and MES; who sent it and is it part of a setup?",
    },
    RuleDef {
        id: "hsms.terminal_message",
        title: "Text pushed to or from the tool's operator terminal (S10)",
        severity: "low from the baseline's host; medium otherwise",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Read the text: instructions to operators are a social-engineering path.",
    },
    RuleDef {
        id: "hsms.protocol_violation",
        title: "HSMS protocol violation",
        severity: "medium; high for data before Select, malformed frames and S9 errors from a host not in the baseline",
        standard: E187_MON,
        ot_item: "RS-1",
        check: "Malformed or out-of-state messages come from buggy hosts, scanners or fuzzers; identify the sender.",
    },
    RuleDef {
        id: "hsms.transaction_timeout",
        title: "Primary message not answered within T3",
        severity: "low",
        standard: E187_MON,
        ot_item: "RS-1",
        check: "Is the tool hung or unreachable? Repeated timeouts precede lost production.",
    },
    RuleDef {
        id: "modbus.unauthorized_write",
        title: "Modbus write from a client not authorised or not in the baseline",
        severity: "high; critical for unit 0 broadcasts or a client without authorisation",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Which registers or coils changed, to what? Only the HMI/SCADA should write this PLC.",
    },
    RuleDef {
        id: "modbus.diagnostics",
        title: "Modbus diagnostics (FC 8)",
        severity: "critical for force listen-only (0x04); high for restart (0x01) and clear counters (0x0A); medium otherwise",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Diagnostics can silence a PLC or wipe its counters; is the device still answering?",
    },
    RuleDef {
        id: "modbus.program_access",
        title: "PLC programming functions (UMAS FC 90 and legacy programming codes)",
        severity: "high; critical for start/stop and program transfer",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Is an engineering session planned? Program downloads and STOP change the process.",
    },
    RuleDef {
        id: "modbus.scan",
        title: "Modbus unit-id, device-identification or address sweep",
        severity: "medium",
        standard: E187_MON,
        ot_item: "RS-1",
        check: "Reconnaissance precedes attacks; identify the scanning host.",
    },
    RuleDef {
        id: "modbus.new_function",
        title: "Modbus function not in the baseline for this client and unit",
        severity: "low",
        standard: PURDUE,
        ot_item: "PR-2",
        check: "New function codes often mean a new tool or a misconfigured client.",
    },
    RuleDef {
        id: "modbus.malformed",
        title: "Malformed Modbus/TCP",
        severity: "medium",
        standard: E187_MON,
        ot_item: "RS-1",
        check: "Malformed frames come from fuzzers, scanners or broken devices.",
    },
    RuleDef {
        id: "bacnet.unauthorized_write",
        title: "BACnet write from a host not authorised or not in the baseline",
        severity: "high; critical at priority 1–2 or to out-of-service/priority-array",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Only the BMS server should write; check the written object and value on the controller.",
    },
    RuleDef {
        id: "bacnet.device_control",
        title: "DeviceCommunicationControl or ReinitializeDevice",
        severity: "high; critical for disable and for cold/warm start",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Disabled or restarted facility controllers lose cleanroom control; confirm with the facility team.",
    },
    RuleDef {
        id: "bacnet.file_or_object_change",
        title: "BACnet file write or object creation/deletion",
        severity: "high",
        standard: E188_SVC,
        ot_item: "PR-1",
        check: "File writes carry firmware, programs or configuration; was a change planned?",
    },
    RuleDef {
        id: "bacnet.discovery_scan",
        title: "BACnet discovery flood or object enumeration",
        severity: "medium",
        standard: E187_MON,
        ot_item: "RS-1",
        check: "Who-Is/Who-Has floods and object-list reads from unknown hosts are reconnaissance.",
    },
    RuleDef {
        id: "asset.vulnerable",
        title: "Asset identity inside an advisory's affected range",
        severity: "from the highest CVSS of the advisory (9.0+ critical, 7.0+ high, 4.0+ medium, else low); one step lower at medium confidence (version unknown or not comparable), two at low (vendor and product family only)",
        standard: E188_SVC,
        ot_item: "ID-2",
        check: "Confirm model and firmware on the device; apply the fix or the advisory's mitigations, or record the accepted risk (docs/advisories.md).",
    },
    RuleDef {
        id: "hsms.recipe_upload",
        title: "Process program uploaded from a tool by a host not authorised for it",
        severity: "critical when the profile denies recipe upload or the baseline has no session between the two; high when the baseline lacks the upload; medium without a baseline or profile rule",
        standard: ACCESS,
        ot_item: "PR-1",
        check: "Recipes are the fab's intellectual property: which host asked for the program (PPID, size), and was it an authorised EAP or recipe server?",
    },
    RuleDef {
        id: "bacnet.malformed",
        title: "Malformed BACnet/IP",
        severity: "medium",
        standard: E187_MON,
        ot_item: "RS-1",
        check: "Malformed datagrams come from fuzzers, scanners or broken devices.",
    },
];

/// The definition of a rule id.
pub fn rule(id: &str) -> Option<&'static RuleDef> {
    RULES.iter().find(|r| r.id == id)
}

/// `docs/rules.md`.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Alert rules\n\nGenerated from `sensor/src/rules/catalogue.rs` by `fabmon rules --markdown`; do not edit by hand.\n\
         Rule ids are a stable contract: rules are added, never renamed.\n\n\
         Evidence of every alert: the frames of the messages behind it (capped), their decoded key fields, the Purdue\n\
         level of both ends. Repeats of a rule for the same pair and key are one alert with a count.\n\n\
         | rule | what | severity | standard | OT item | what the operator should check |\n|---|---|---|---|---|---|\n",
    );
    for r in RULES {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            r.id, r.title, r.severity, r.standard, r.ot_item, r.check
        ));
    }
    s
}
