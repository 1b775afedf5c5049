//! fabmon sensor core.
//!
//! Data flows one way: a [`capture`] source lends packets, [`dissect`] slices L2–L4,
//! [`flow`] tracks bidirectional flows and reassembles TCP, the protocol decoders
//! ([`hsms`], [`modbus`], [`bacnet`]) turn bytes into [`record`]s, and the [`pipeline`] runs it
//! all on worker threads with bounded channels. See `docs/ARCHITECTURE.md`.

pub mod alert;
pub mod app;
pub mod bacnet;
pub mod capture;
pub mod dissect;
pub mod engine;
pub mod flow;
pub mod hsms;
pub mod modbus;
pub mod pipeline;
pub mod record;
pub mod synth;
pub mod tcp;
pub mod time;
