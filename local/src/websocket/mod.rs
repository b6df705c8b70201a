//! The emulator's WebSockets (RFC 6455, server side): the opening [`handshake`], the frame
//! [`decoder`] (no I/O), the [`socket`] that reads and writes frames, and the relay [`session`]
//! each socket runs.

pub mod decoder;
pub mod handshake;
pub mod session;
pub mod socket;
