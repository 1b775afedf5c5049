//! What the whole-packet targets (`packet`, `pcapfile`) share: an engine configured with small
//! bounds, and the output path every event goes through.
//!
//! The limits are far below the defaults so that a few kilobytes of input reach flow-table
//! eviction, idle and closed timeouts, reassembly gaps, the memory bound and the decoders'
//! pairing caps.
//!
//! Besides not panicking, the engine must keep its own promises, which are checked here: the
//! flow table never holds more than its bound, every flow that was created ends with exactly
//! one `End` record (and is answered at most once), no message or transaction follows its
//! flow's `End`, and after `finish` no flow and no reassembly memory is left.

use std::collections::HashMap;

use fabmon_sensor::app::AppLimits;
use fabmon_sensor::engine::{Engine, EngineConfig};
use fabmon_sensor::flow::FlowLimits;
use fabmon_sensor::record::{Event, FlowPhase};
use fabmon_sensor::tcp::ReassemblyLimits;
use fabmon_sensor::time::format_rfc3339_us;

/// Flows the engine may hold at once.
pub const MAX_FLOWS: usize = 8;

/// An engine with small limits. `hsms_port` adds a TCP port that carries HSMS from the first
/// byte (as a profile would), so the by-port path is reached as well as detection by content.
pub fn small_engine(hsms_port: bool) -> Engine {
    let mut cfg = EngineConfig::with_defaults();
    cfg.flows = FlowLimits {
        max_flows: MAX_FLOWS,
        tcp_idle_ns: 10_000_000_000,
        tcp_closed_ns: 2_000_000_000,
        udp_idle_ns: 5_000_000_000,
    };
    cfg.reassembly =
        ReassemblyLimits { max_buffer: 8192, max_ooo_segments: 4, max_ooo_bytes: 4096, max_window: 65_536 };
    cfg.max_reassembly_memory = 32 << 10;
    cfg.app = AppLimits {
        max_message_bytes: 4096,
        max_secs2_depth: 16,
        max_secs2_items: 256,
        max_pending_per_flow: 4,
        hsms_t3_ns: 2_000_000_000,
        modbus_timeout_ns: 1_000_000_000,
        bacnet_timeout_ns: 1_000_000_000,
        max_values_kept: 4,
    };
    if hsms_port {
        cfg.detect.hsms_ports.push(5000);
    }
    cfg.flow_events = true;
    Engine::new(cfg)
}

/// Renders every event the way the command line and the exporters do (JSON, text summary,
/// RFC 3339 time stamps): none of it may panic on what the decoders produced.
pub fn render(events: &[Event]) {
    for ev in events {
        match ev {
            Event::Message(m) => {
                let _ = serde_json::to_vec(m);
                let _ = m.body.summary();
                let _ = format_rfc3339_us(m.ts_ns);
            }
            Event::Transaction(t) => {
                let _ = serde_json::to_vec(t);
                let _ = format_rfc3339_us(t.ts_ns);
                let _ = format_rfc3339_us(t.request_ts_ns);
            }
            Event::Flow(f) => {
                let _ = serde_json::to_vec(f.as_ref());
                let _ = format_rfc3339_us(f.first_ts_ns);
                let _ = format_rfc3339_us(f.last_ts_ns);
            }
        }
    }
}

/// What the events said so far about each flow: (`Answered` records, `End` records).
#[derive(Default)]
pub struct Checks {
    flows: HashMap<u64, (u32, u32)>,
}

impl Checks {
    fn observe(&mut self, events: &[Event]) {
        for ev in events {
            match ev {
                Event::Flow(f) => {
                    // An `Answered` record may follow `End`: a reset closes a flow, which
                    // stays in the table for `tcp_closed_ns`, and the server's first packet
                    // can come after it.
                    let seen = self.flows.entry(f.flow).or_default();
                    match f.phase {
                        FlowPhase::Answered => seen.0 += 1,
                        FlowPhase::End => seen.1 += 1,
                    }
                    assert!(seen.0 <= 1, "flow {} answered twice", f.flow);
                    assert!(seen.1 <= 1, "flow {} ended twice", f.flow);
                }
                Event::Message(m) => {
                    assert!(
                        self.flows.get(&m.flow).is_none_or(|s| s.1 == 0),
                        "message of ended flow {}",
                        m.flow
                    )
                }
                Event::Transaction(t) => {
                    assert!(
                        self.flows.get(&t.flow).is_none_or(|s| s.1 == 0),
                        "transaction of ended flow {}",
                        t.flow
                    )
                }
            }
        }
    }

    /// Drains the engine's events, renders and checks them, and checks the flow-table bound.
    pub fn drain(&mut self, engine: &mut Engine, buf: &mut Vec<Event>) {
        engine.drain_events(buf);
        render(buf);
        self.observe(buf);
        buf.clear();
        assert!(engine.flow_count() <= MAX_FLOWS, "{} flows held, bound {MAX_FLOWS}", engine.flow_count());
    }

    /// Finishes the engine at `(frame, ts_ns)`, then checks that every flow ended once and
    /// nothing is left.
    pub fn finish(&mut self, engine: &mut Engine, frame: u64, ts_ns: i64, buf: &mut Vec<Event>) {
        engine.finish(frame, ts_ns);
        self.drain(engine, buf);
        let _ = serde_json::to_vec(engine.stats());
        assert_eq!(engine.flow_count(), 0, "flows left after finish");
        assert_eq!(engine.reassembly_memory(), 0, "reassembly memory left after finish");
        let created = engine.stats().flows_created;
        let ended = self.flows.values().filter(|s| s.1 == 1).count() as u64;
        assert_eq!(ended, created, "{created} flows created, {ended} End records");
    }
}
