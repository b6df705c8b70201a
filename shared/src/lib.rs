//! `room`: everything the AppRTC Lambda functions and the `apprtc-local` emulator have in common.
//!
//! Layers, inner to outer; a module imports only from its own layer's lower files and from the
//! layers below it (docs/architecture.md draws the map and a relayed frame's way):
//!
//! ```text
//! domain    ids (room, client, connection), signaling messages, the collider's frames (client
//!           and server), the room and relay rules: pure, no I/O, no clock  (retry: the one
//!           compare-and-swap loop and its backoff)
//! ports     RoomStore (storage), Connections and PeerNotifier (delivery), Clock, IdSource
//! config    typed settings and limits, validated once
//! service   use cases over the ports, typed outcomes: rooms (join, message, leave), relay (the
//!           collider protocol over the store, every host's one dispatch), params, ice
//! http      outcomes and errors -> http::Response<String>, once for every host; the one route
//!           table (routes) and the pages
//! adapters  memory and DynamoDB stores, API Gateway connections, this process's sockets and
//!           their relay host, the Lambda glue (feature `lambda`)
//! ```
//!
//! A room record holds at most two members; every change is a compare-and-swap of the whole
//! record, retried by one loop (`retry::until_written`), so separate processes sharing a store
//! can never admit a third member. Members that
//! never register on the relay, or whose socket closed and did not come back within the grace
//! period, expire lazily: every rule prunes them before it decides.

pub mod adapters;
pub mod config;
pub mod domain;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod ports;
pub mod retry;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::Settings;
pub use domain::ids::{ClientId, RoomId};
pub use service::rooms::RoomService;
