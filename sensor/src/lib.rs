//! fabmon sensor core.
//!
//! Data flows one way: a [`capture`] source lends packets, [`dissect`] slices L2–L4,
//! [`flow`] tracks bidirectional flows and reassembles TCP, the protocol decoders
//! ([`hsms`], [`modbus`], [`bacnet`]) turn bytes into [`record`]s, and the [`pipeline`] runs it
//! all on worker threads with bounded channels. See `docs/ARCHITECTURE.md`.

pub mod advisory;
pub mod alert;
pub mod alert_uid;
pub mod app;
pub mod bacnet;
pub mod baseline;
pub mod capture;
pub mod dataset;
pub mod dissect;
pub mod engine;
pub mod export;
pub mod flow;
pub mod hsms;
pub mod inventory;
pub mod modbus;
pub mod monitor;
pub mod pipeline;
pub mod profile;
pub mod record;
pub mod rules;
pub mod synth;
pub mod tcp;
pub mod time;
