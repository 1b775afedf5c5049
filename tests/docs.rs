//! Documentation generated from code stays equal to the code.

mod common;

use common::*;

#[test]
fn rule_catalogue_is_generated_from_code() {
    let out = run_fabmon(&["rules", "--markdown"]);
    let want = String::from_utf8(out.stdout).unwrap();
    let have =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md"))
            .unwrap();
    assert!(have == want, "docs/rules.md is stale: run `fabmon rules --markdown > docs/rules.md`");
}

#[test]
fn every_rule_id_of_the_issue_is_in_the_catalogue() {
    let out = run_fabmon(&["rules"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "asset.new",
        "asset.identity_changed",
        "conduit.violation",
        "flow.new_conversation",
        "service.unexpected",
        "service.cleartext_remote_access",
        "hsms.unauthorized_host",
        "hsms.remote_command",
        "hsms.recipe_download",
        "hsms.recipe_delete",
        "hsms.equipment_constant_change",
        "hsms.event_or_alarm_disabled",
        "hsms.terminal_message",
        "hsms.protocol_violation",
        "hsms.transaction_timeout",
        "modbus.unauthorized_write",
        "modbus.diagnostics",
        "modbus.program_access",
        "modbus.scan",
        "modbus.new_function",
        "modbus.malformed",
        "bacnet.unauthorized_write",
        "bacnet.device_control",
        "bacnet.file_or_object_change",
        "bacnet.discovery_scan",
        "bacnet.malformed",
    ] {
        assert!(text.lines().any(|l| l.split_whitespace().next() == Some(id)), "{id} missing");
    }
}
