//! The domain: ids, signaling messages and room rules. No I/O, no clock, no SDK types.

pub mod ids;
pub mod message;
pub mod relay;
pub mod room;
