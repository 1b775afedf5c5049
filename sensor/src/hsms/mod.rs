//! SECS/GEM over HSMS: SEMI E37 framing, E5 SECS-II items, E30 GEM meaning.
//!
//! The decoder is split the way the protocol is stacked:
//!
//! - [`frame`]: the 4-byte length prefix, the 10-byte header and the control messages
//!   (E37 §8). Pure functions over byte slices.
//! - [`secs2`]: the SECS-II item tree of a data message body (E5 §9) and its SML rendering.
//! - [`gem`]: what a message means to a GEM host or auditor (MDLN/SOFTREV, remote commands,
//!   constant changes, recipes, alarms, event reports...).
//! - [`state`]: per-connection state (selection, session id), transaction pairing and the
//!   [`AppParser`](crate::app::AppParser) implementation, with resynchronisation after gaps.
//! - [`record`]: what is emitted (`fabmon decode` JSON contract).
//!
//! ```
//! use fabmon_sensor::hsms::frame::{parse_frame, SType};
//!
//! // Select.req (HSMS-SS): length 10, session 0xFFFF, SType 1, system bytes 1.
//! let bytes = [0, 0, 0, 10, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1];
//! let (frame, used) = parse_frame(&bytes, 1 << 20).unwrap();
//! assert_eq!(used, 14);
//! assert_eq!(frame.header.stype, SType::SELECT_REQ);
//! assert_eq!(frame.header.system, 1);
//! ```

/// A newtype over a raw protocol number with named constants, so that unknown values stay
/// representable. Serialises as `{"code": n, "name": "..."}` (`name` absent when unknown).
macro_rules! code_newtype {
    (
        $(#[$meta:meta])*
        $name:ident($ty:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $val:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub $ty);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: $name = $name($val); )*

            /// Name of the code, `None` when the standard does not define it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($text), )*
                    _ => None,
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let name = self.name();
                let mut m = s.serialize_map(Some(if name.is_some() { 2 } else { 1 }))?;
                m.serialize_entry("code", &self.0)?;
                if let Some(n) = name {
                    m.serialize_entry("name", n)?;
                }
                m.end()
            }
        }
    };
}

pub mod frame;
pub mod gem;
pub mod record;
pub mod secs2;
pub mod state;

pub use frame::probe;
pub use record::HsmsRecord;
pub use state::HsmsParser;

#[cfg(test)]
// Tests fail loudly on purpose.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
