//! `apprtc-local`: the room API, the collider-compatible relay and the web pages in one process.
//!
//! This crate only adapts HTTP, WebSocket and TLS transport to the `room` crate: every decision
//! (room rules, relay protocol, responses) is made there. Its parts, each importing only parts
//! listed after it:
//!
//! ```text
//! startup    the listeners, the certificate, what to open (main's start-up)
//! server     Server::serve(listeners, shutdown): the store, the relay and the routes over them
//! routes     the emulator's own routes; every other path through room's one route table
//! aws_local  --backend aws-local: the API Gateway stand-in, its @connections API, its options
//! websocket  RFC 6455 server side: handshake, decoder, socket; the relay session of a socket
//! tls        certificates and the local certificate authority, its page, QR codes
//! app        the state every route and socket shares, the transport options
//! ops        metrics, health, logging, abuse limits
//! body, serve, cli   request bodies, the accept loop, the command line
//! ```

pub mod app;
pub mod aws_local;
pub mod body;
pub mod cli;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ops;
mod routes;
pub mod serve;
pub mod server;
pub mod startup;
pub mod tls;
// Public for the fuzz target and the differential test against `tungstenite`, not as an API.
#[doc(hidden)]
pub mod websocket;
