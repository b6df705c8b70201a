//! Use cases over the ports, written once for every host; they return typed outcomes, never HTTP.
//!
//! - [`rooms`]: `join`, `message`, `leave` and the one compare-and-swap of a room record;
//! - [`relay`]: the collider protocol over the room store (register, send, queue and deliver,
//!   disconnect, keep-alive), for this process's sockets and for API Gateway connections alike;
//! - [`params`] and [`ice`]: the room parameters and the ICE configuration, which need no state.

pub mod ice;
pub mod params;
pub mod relay;
pub mod rooms;
