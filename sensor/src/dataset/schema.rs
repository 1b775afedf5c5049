//! The tables of the dataset, defined once: the Arrow schemas, the Parquet dictionary choices
//! and `docs/schema.md` all come from [`TABLES`].

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Value of the `fabmon.schema` key in every file.
pub const SCHEMA_VERSION: &str = "fabmon-dataset/1";

/// Type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Timestamp(Nanosecond, "UTC")`.
    Ts,
    U8,
    U16,
    U32,
    U64,
    F64,
    Bool,
    Utf8,
    /// `list<utf8>`.
    ListUtf8,
    /// `list<u64>`.
    ListU64,
}

impl Kind {
    /// The Arrow type.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Ts => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            Kind::U8 => DataType::UInt8,
            Kind::U16 => DataType::UInt16,
            Kind::U32 => DataType::UInt32,
            Kind::U64 => DataType::UInt64,
            Kind::F64 => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Utf8 => DataType::Utf8,
            Kind::ListUtf8 => DataType::List(Arc::new(list_item(DataType::Utf8))),
            Kind::ListU64 => DataType::List(Arc::new(list_item(DataType::UInt64))),
        }
    }

    /// The name used in `docs/schema.md`.
    pub fn doc_name(self) -> &'static str {
        match self {
            Kind::Ts => "timestamp[ns, UTC]",
            Kind::U8 => "u8",
            Kind::U16 => "u16",
            Kind::U32 => "u32",
            Kind::U64 => "u64",
            Kind::F64 => "f64",
            Kind::Bool => "bool",
            Kind::Utf8 => "utf8",
            Kind::ListUtf8 => "list<utf8>",
            Kind::ListU64 => "list<u64>",
        }
    }
}

/// The element field of list columns (Arrow's default `item`, nullable).
pub fn list_item(dt: DataType) -> Field {
    Field::new("item", dt, true)
}

/// One column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// Parquet dictionary encoding (strings that repeat: addresses, names, codes).
    pub dict: bool,
    pub doc: &'static str,
}

/// One table.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub doc: &'static str,
    pub columns: &'static [Column],
}

impl TableDef {
    /// The Arrow schema with the dataset metadata (`fabmon.schema`, `fabmon.table`,
    /// `fabmon.version`, `fabmon.sensor`).
    pub fn schema(&self, sensor: &str) -> SchemaRef {
        let fields: Vec<Field> =
            self.columns.iter().map(|c| Field::new(c.name, c.kind.data_type(), c.nullable)).collect();
        Arc::new(Schema::new_with_metadata(fields, metadata(self.name, sensor)))
    }

    /// Position of a column by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// The key-value metadata of every file of `table`.
pub fn metadata(table: &str, sensor: &str) -> HashMap<String, String> {
    HashMap::from([
        ("fabmon.schema".to_string(), SCHEMA_VERSION.to_string()),
        ("fabmon.table".to_string(), table.to_string()),
        ("fabmon.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("fabmon.sensor".to_string(), sensor.to_string()),
    ])
}

const fn col(name: &'static str, kind: Kind, nullable: bool, dict: bool, doc: &'static str) -> Column {
    Column { name, kind, nullable, dict, doc }
}

// Shorthands: required / optional, with or without dictionary.
const fn req(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    col(name, kind, false, false, doc)
}
const fn opt(name: &'static str, kind: Kind, doc: &'static str) -> Column {
    col(name, kind, true, false, doc)
}
const fn req_dict(name: &'static str, doc: &'static str) -> Column {
    col(name, Kind::Utf8, false, true, doc)
}
const fn opt_dict(name: &'static str, doc: &'static str) -> Column {
    col(name, Kind::Utf8, true, true, doc)
}

use Kind::*;

/// `messages`: one row per decoded OT message.
pub const MESSAGES: TableDef = TableDef {
    name: "messages",
    doc: "One row per decoded OT application message, in capture order. The typed columns and \
          `detail` carry the same values as `fabmon decode --format jsonl` (docs/decode-jsonl.md).",
    columns: &[
        req("ts", Ts, "capture time of the packet that completed the message"),
        req_dict("sensor", "sensor id"),
        req("frame", U64, "1-based packet number in the capture (as Wireshark counts)"),
        req("flow", U64, "flow id (unique within one run)"),
        req_dict("proto", "`hsms`, `modbus` or `bacnet`"),
        req_dict("src", "sender IP address"),
        req_dict("dst", "receiver IP address"),
        req("sport", U16, "sender port"),
        req("dport", U16, "receiver port"),
        req_dict(
            "kind",
            "HSMS: the SType name lowercased (`data`, `select.req`, ...); Modbus: `request`, \
             `response` or `exception`; BACnet: the APDU type (`confirmed-request`, \
             `complex-ack`, ...), `network` or `bvlc`",
        ),
        req_dict("summary", "one readable line, e.g. `S2F41 W RCMD=START` (as `fabmon decode` prints)"),
        opt("hsms_stream", U8, "HSMS data message stream"),
        opt("hsms_function", U8, "HSMS data message function"),
        opt("hsms_wbit", Bool, "HSMS W-bit (reply expected)"),
        opt("hsms_system", U32, "HSMS system bytes (transaction id)"),
        opt("hsms_session", U16, "HSMS session id (device id)"),
        opt("hsms_stype", U8, "HSMS SType (0 data, 1-9 control)"),
        opt_dict("gem_rcmd", "S2F41/S2F49 remote command"),
        opt_dict("gem_ppid", "S7F3/S7F5/S7F6 process program id"),
        opt("gem_ceid", U64, "S6F11 collection event id (numeric CEIDs)"),
        opt("gem_alid", U64, "S5F1/S5F3 alarm id (numeric ALIDs)"),
        opt_dict("gem_mdln", "S1F2/S1F13/S1F14 equipment model"),
        opt_dict("gem_softrev", "S1F2/S1F13/S1F14 software revision"),
        opt("modbus_unit", U8, "Modbus unit id"),
        opt("modbus_function", U8, "Modbus function code (without the exception bit)"),
        opt("modbus_exception", U8, "Modbus exception code"),
        opt("modbus_address", U32, "Modbus start address"),
        opt("modbus_quantity", U32, "Modbus quantity of coils or registers"),
        opt_dict("bacnet_service", "BACnet service name (e.g. `readProperty`, `i-Am`)"),
        opt_dict("bacnet_object_type", "BACnet object type of the first object referenced"),
        opt("bacnet_object_instance", U32, "BACnet instance of that object"),
        opt_dict("bacnet_property", "BACnet first property referenced"),
        req(
            "is_write",
            Bool,
            "the message changes state on its target (Modbus write requests, BACnet \
             write/create/delete/DCC/reinitialize requests, HSMS S1F15, S1F17, S2F15, S2F31, \
             S2F33, S2F35, S2F37, S2F41, S2F49, S5F3, S7F3, S7F17)",
        ),
        opt("request_frame", U64, "for a reply: the frame of its request"),
        opt("latency_us", U64, "for a reply: request-to-reply latency in microseconds"),
        req("orphan", Bool, "a reply for which no open request was seen"),
        req("malformed", Bool, "framed, but a field is invalid or the content could not be decoded"),
        col("anomalies", ListUtf8, false, true, "stable anomaly codes (empty on a clean message)"),
        req("detail", Utf8, "the whole message as JSON, exactly as `fabmon decode --format jsonl` prints it"),
    ],
};

/// `flows`: one row per flow when it ends.
pub const FLOWS: TableDef = TableDef {
    name: "flows",
    doc: "One row per flow (any protocol) when it ends: closed, idle, evicted from the flow \
          table, or still open at shutdown.",
    columns: &[
        req("ts", Ts, "last packet of the flow"),
        req("first_ts", Ts, "first packet of the flow"),
        req_dict("sensor", "sensor id"),
        req("flow", U64, "flow id (the `flow` of its messages)"),
        req_dict("transport", "`tcp` or `udp`"),
        req_dict("client", "IP address of the side that opened the flow (or sent first)"),
        req("client_port", U16, "client port"),
        req_dict("server", "IP address of the side that answered"),
        req("server_port", U16, "server port"),
        req("vlan", U32, "outer VLAN id (0 when untagged)"),
        opt_dict("app", "decoded application protocol: `hsms`, `modbus`, `bacnet`, or null"),
        req("packets_to_server", U64, "packets client to server"),
        req("packets_to_client", U64, "packets server to client"),
        req("bytes_to_server", U64, "IP bytes client to server"),
        req("bytes_to_client", U64, "IP bytes server to client"),
        req_dict(
            "end",
            "why the row was written: `fin` (closed), `rst` (reset), `idle` (timed out), \
             `evicted` (flow table full), `shutdown` (open at the end of the input)",
        ),
        opt_dict("client_level", "Purdue level of the client (`L0`..`L5`, `L3.5`), or null"),
        opt_dict("server_level", "Purdue level of the server, or null"),
        req_dict(
            "conduit",
            "the profile's conduits: `allowed`, `denied` (conduits exist and none allows it) or \
             `unknown` (the profile declares none)",
        ),
        req("first_frame", U64, "packet number of the first packet"),
        opt_dict("client_mac", "Ethernet address of the client"),
        opt_dict("server_mac", "Ethernet address of the server"),
        req("answered", Bool, "the server side sent at least one packet"),
    ],
};

/// `assets`: snapshots and changes of the inventory.
pub const ASSETS: TableDef = TableDef {
    name: "assets",
    doc: "The inventory: a `snapshot` row per asset at the end of every snapshot interval and at \
          shutdown, a `new` row when an address is first seen, and an `identity_change` row for \
          every identity value that changed, with the frame and message that showed it.",
    columns: &[
        req("ts", Ts, "capture time of the snapshot or of the packet that showed the change"),
        req_dict("sensor", "sensor id"),
        req_dict("reason", "`snapshot`, `new` or `identity_change`"),
        req_dict("ip", "IP address of the asset"),
        opt_dict("mac", "first Ethernet address seen with it"),
        opt_dict("name", "name from the profile"),
        opt_dict("level", "Purdue level (`L0`..`L5`, `L3.5`), or null when unknown"),
        req_dict(
            "level_source",
            "how the level was decided (profile asset, profile zone, role table, unknown)",
        ),
        opt_dict("area", "area (fab, facility, ...)"),
        opt_dict("zone", "profile zone"),
        opt_dict("owner", "owner from the profile"),
        opt_dict("equipment_class", "equipment class from the profile"),
        opt_dict("vendor", "vendor (Modbus device id object 0, BACnet vendor name)"),
        opt_dict("model", "model (Modbus model or product name, BACnet model name)"),
        opt_dict("firmware", "firmware (BACnet firmware revision, Modbus revision)"),
        opt_dict("mdln", "HSMS/GEM equipment model (MDLN)"),
        opt_dict("softrev", "HSMS/GEM software revision (SOFTREV)"),
        opt_dict("product_code", "Modbus product code"),
        opt("bacnet_device_id", U32, "BACnet device instance"),
        opt("bacnet_vendor_id", U16, "BACnet vendor identifier"),
        col("roles", ListUtf8, false, true, "roles seen on the wire (`hsms-host`, `modbus-server`, ...)"),
        col("protocols", ListUtf8, false, true, "protocols spoken"),
        col("services", ListUtf8, false, true, "services it answers on (`tcp/5000`, `udp/47808`)"),
        col("peers", ListUtf8, false, true, "addresses it talked with"),
        req("first_seen", Ts, "first packet from or to it"),
        req("last_seen", Ts, "latest packet from or to it"),
        req("messages", U64, "OT messages it sent"),
        req("alerts", U64, "alert occurrences naming it"),
        req("identity", Utf8, "JSON of all identity values with the message that proved each"),
        opt_dict("changed_field", "identity_change rows: the identity key that changed"),
        opt("old_value", Utf8, "identity_change rows: its old value"),
        opt("new_value", Utf8, "identity_change rows: its new value"),
        opt("change_frame", U64, "identity_change rows: the frame that showed the change"),
        opt("change_summary", Utf8, "identity_change rows: that message, e.g. `S1F2 SOFTREV=4.2.2`"),
    ],
};

/// `alerts`: alerts as aggregated.
pub const ALERTS: TableDef = TableDef {
    name: "alerts",
    doc: "One row per alert each time it was created or grew since the previous flush (every \
          stats interval and at shutdown). An alert that grows again gets a new row with the same \
          `uid` and a larger `count`: readers take the row with the largest count per uid.",
    columns: &[
        req("ts", Ts, "latest occurrence"),
        req("first_ts", Ts, "first occurrence"),
        req_dict("sensor", "sensor id"),
        req_dict("uid", "stable id: 16 hex digits of a SHA-256 of sensor, rule, src, dst, key and first_ts (`fabmon_sensor::alert_uid`)"),
        req_dict("rule", "rule id (docs/rules.md)"),
        req_dict("severity", "`info`, `low`, `medium`, `high` or `critical`"),
        req("count", U64, "occurrences aggregated so far"),
        opt_dict("src", "source IP address"),
        opt_dict("dst", "destination IP address"),
        opt_dict("proto", "protocol"),
        req_dict("key", "what distinguishes occurrences between the same ends (e.g. the RCMD)"),
        req_dict("summary", "one readable sentence"),
        opt_dict("src_level", "Purdue level of the source (`L2`, ...)"),
        opt_dict("dst_level", "Purdue level of the destination"),
        req_dict("standard", "the SEMI E187/E188 clause or Purdue principle"),
        req_dict("ot_item", "`GV-1`, `ID-1`, `ID-2`, `PR-1`, `PR-2` or `RS-1`"),
        col("evidence_frames", ListU64, false, false, "packet numbers of the messages behind it"),
        req("evidence", Utf8, "JSON of the evidence as `fabmon alerts --format jsonl` prints it"),
    ],
};

/// `stats`: sensor counters per interval.
pub const STATS: TableDef = TableDef {
    name: "stats",
    doc: "One row per stats interval of capture time (default 10 s) and a final row. Counts are \
          within the interval (packet counters at the granularity of the pipeline's batches); \
          `flows_active` is the number open at the end of the interval.",
    columns: &[
        req("ts", Ts, "end of the interval"),
        req_dict("sensor", "sensor id"),
        req("interval_s", F64, "length of the interval in seconds"),
        req("heartbeat", Bool, "no packet was seen in the interval (the row shows the sensor is alive)"),
        req("packets", U64, "packets"),
        req("bytes", U64, "captured bytes"),
        req("kernel_drops", U64, "packets the kernel dropped (live capture)"),
        req("queue_drops", U64, "packets dropped on full worker queues (live capture)"),
        req("malformed_packets", U64, "packets with an invalid or cut-short header"),
        req("unknown_linktype", U64, "packets of link types fabmon does not dissect"),
        req("flows_active", U64, "flows open at the end of the interval"),
        req("flows_evicted", U64, "flows evicted because the flow table was full"),
        req("reassembly_gaps", U64, "TCP reassembly gaps"),
        req("messages_hsms", U64, "HSMS messages"),
        req("messages_modbus", U64, "Modbus messages"),
        req("messages_bacnet", U64, "BACnet messages"),
        req("decode_errors_hsms", U64, "malformed HSMS messages"),
        req("decode_errors_modbus", U64, "malformed Modbus messages"),
        req("decode_errors_bacnet", U64, "malformed BACnet messages"),
        req("alerts", U64, "alert occurrences"),
    ],
};

/// Every table, in the order of the dataset's folders.
pub const TABLES: [&TableDef; 5] = [&MESSAGES, &FLOWS, &ASSETS, &ALERTS, &STATS];

/// `docs/schema.md`, generated from [`TABLES`].
pub fn markdown() -> String {
    let mut s = String::new();
    s.push_str("# The Parquet dataset (`fabmon run --out DIR`)\n\n");
    s.push_str("Generated from the code by `fabmon run --print-schema markdown`; a test fails when this\n");
    s.push_str("file and the code differ.\n\n");
    s.push_str("Layout (Hive-style partitions; `date` and `hour` come from the path, not the file):\n\n");
    s.push_str("```\nDIR/<table>/date=YYYY-MM-DD/hour=HH/part-<sensor-id>-<seq>.parquet\n```\n\n");
    s.push_str("A file is open under the temporary name `.part-<sensor-id>-<seq>.parquet.tmp` in the same\n");
    s.push_str("folder and renamed when it is closed: readers take only `part-*.parquet`. Rows go to the\n");
    s.push_str("partition of their `ts` (UTC); a file holds one table and one hour and is closed when it\n");
    s.push_str("reaches the rotation size or age, or at shutdown. `<seq>` grows across restarts, so a\n");
    s.push_str("restart never overwrites a file. At start-up, temporary files of the same sensor id left\n");
    s.push_str("by a crash are renamed when their footer is valid and removed otherwise.\n\n");
    s.push_str(&format!(
        "Every file carries the key-value metadata `fabmon.schema` = `{SCHEMA_VERSION}`, `fabmon.table`,\n"
    ));
    s.push_str("`fabmon.version` and `fabmon.sensor`. Compression is zstd; columns marked *dict* are\n");
    s.push_str("dictionary-encoded. Columns are never renamed within a schema version; new columns may\n");
    s.push_str("be added.\n");
    for t in TABLES {
        s.push_str(&format!("\n## `{}`\n\n{}\n\n", t.name, t.doc));
        s.push_str("| column | type | null | meaning |\n|---|---|---|---|\n");
        for c in t.columns {
            let ty = if c.dict { format!("{} (dict)", c.kind.doc_name()) } else { c.kind.doc_name().into() };
            let null = if c.nullable { "yes" } else { "" };
            s.push_str(&format!("| `{}` | {} | {} | {} |\n", c.name, ty, null, c.doc));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique_and_the_contract_columns_are_there() {
        for t in TABLES {
            let mut names: Vec<_> = t.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(names.len(), n, "duplicate column in {}", t.name);
            for must in ["ts", "sensor"] {
                assert!(t.index_of(must).is_some(), "{} lacks {must}", t.name);
            }
        }
        for c in ["hsms_system", "latency_us", "detail", "anomalies", "is_write"] {
            assert!(MESSAGES.index_of(c).is_some(), "{c}");
        }
        for c in ["identity", "change_frame", "change_summary", "peers"] {
            assert!(ASSETS.index_of(c).is_some(), "{c}");
        }
        assert!(ALERTS.index_of("evidence_frames").is_some());
        assert!(STATS.index_of("heartbeat").is_some());
        assert!(FLOWS.index_of("conduit").is_some());
    }

    #[test]
    fn schemas_carry_the_version() {
        let s = STATS.schema("s1");
        assert_eq!(s.metadata().get("fabmon.schema").map(String::as_str), Some(SCHEMA_VERSION));
        assert_eq!(s.metadata().get("fabmon.table").map(String::as_str), Some("stats"));
        assert_eq!(s.metadata().get("fabmon.sensor").map(String::as_str), Some("s1"));
    }
}
