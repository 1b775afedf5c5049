//! Fab profiles: what the fab network should look like.
//!
//! The value types come first: Purdue levels (with 3.5 for the IT/OT DMZ) and IP networks.

mod level;
mod net;

pub use level::{InvalidLevel, PurdueLevel};
pub use net::{CidrProblem, IpNet};
