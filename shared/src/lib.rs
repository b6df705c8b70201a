//! `room`: everything the AppRTC Lambda functions and the `apprtc-local` emulator have in common.
//!
//! Layers, inner to outer (dependencies point inwards only):
//!
//! ```text
//! domain    ids, signaling messages, room rules (pure: no I/O, no clock)
//! ports     RoomStore (storage), PeerNotifier (delivery), Clock, IdSource
//! service   use cases over the ports: join, message, leave, presence; params and ice_config
//!           are pure functions in `params` and `ice`
//! relay     the collider protocol: frames, errors, and its rules' two hosts (sockets of this
//!           process; API Gateway connections)
//! http      results and errors -> http::Response<String>, once for every adapter
//! adapters  memory store; Lambda glue (feature `lambda`)
//! ```
//!
//! A room record holds at most two members; every change is a compare-and-swap of the whole
//! record, so separate processes sharing a store can never admit a third member. Members that
//! never register on the relay, or whose socket closed and did not come back within the grace
//! period, expire lazily: every rule prunes them before it decides.

pub mod adapters;
pub mod config;
pub mod domain;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod ice;
pub mod params;
pub mod ports;
pub mod relay;
pub mod retry;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;
pub mod web;

pub use config::Settings;
pub use domain::ids::{ClientId, RoomId};
pub use service::RoomService;
