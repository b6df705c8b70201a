//! The domain: ids, signaling messages, the collider's frames, the room and relay rules. No I/O,
//! no clock, no SDK types.

pub mod ids;
pub mod message;
pub mod relay;
pub mod room;
