//! What the whole-packet targets (`packet`, `pcapfile`) share: an engine configured with small
//! bounds, and the output path every event goes through.
//!
//! The limits are far below the defaults so that a few kilobytes of input reach flow-table
//! eviction, idle and closed timeouts, reassembly gaps, the memory bound and the decoders'
//! pairing caps.

use fabmon_sensor::app::AppLimits;
use fabmon_sensor::engine::{Engine, EngineConfig};
use fabmon_sensor::flow::FlowLimits;
use fabmon_sensor::record::Event;
use fabmon_sensor::tcp::ReassemblyLimits;
use fabmon_sensor::time::format_rfc3339_us;

/// An engine with small limits. `hsms_port` adds a TCP port that carries HSMS from the first
/// byte (as a profile would), so the by-port path is reached as well as detection by content.
pub fn small_engine(hsms_port: bool) -> Engine {
    let mut cfg = EngineConfig::with_defaults();
    cfg.flows = FlowLimits {
        max_flows: 8,
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
                let _ = serde_json::to_vec(m.as_ref());
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

/// Drains the engine's events and renders them.
pub fn drain_and_render(engine: &mut Engine, buf: &mut Vec<Event>) {
    engine.drain_events(buf);
    render(buf);
    buf.clear();
}

/// Finishes the engine at `(frame, ts_ns)`, renders what is left and the statistics.
pub fn finish(engine: &mut Engine, frame: u64, ts_ns: i64, buf: &mut Vec<Event>) {
    engine.finish(frame, ts_ns);
    drain_and_render(engine, buf);
    let _ = serde_json::to_vec(engine.stats());
}
