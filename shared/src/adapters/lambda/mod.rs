//! Lambda glue (feature `lambda`): a deployed function's wiring (settings from the environment,
//! the DynamoDB store, the stored relay, all built once per process) and the translation between
//! Lambda events and the use cases. Each function's `main.rs` is one call to [`run`] or
//! [`run_websocket`].
//!
//! HTTP functions route correctly under an API Gateway HTTP API (path parameters), a Lambda
//! function URL (the path as called) and `cargo lambda watch` (called as
//! `/lambda-url/<function>/...`, the handler sees the path without that prefix).
//!
//! One file per concern, every item re-exported here:
//!
//! - `settings`: the settings from the environment ([`DeployConfig`], [`env`](mod@env));
//! - `wiring`: the SDK clients (trust roots, Secrets Manager), the store and the connections
//!   ([`Deployment`]);
//! - `http`: HTTP events to the room service and the pages ([`Route`], [`handle`]);
//! - `websocket`: WebSocket route events to the relay ([`handle_websocket`]);
//! - `runtime`: the functions' `main`s and tracing ([`run`], [`run_websocket`], [`run_keepalive`]).

mod http;
mod runtime;
mod settings;
mod websocket;
mod wiring;

pub use self::http::{Route, handle};
pub use self::runtime::{handle_keepalive, run, run_keepalive, run_websocket};
pub use self::settings::{ConfigError, DeployConfig, env};
pub use self::websocket::handle_websocket;
pub use self::wiring::{Deployment, NoConnections, TableStreamTrigger};
