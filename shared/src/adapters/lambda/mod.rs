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
//! - `requests`: HTTP events to the one route table ([`handle`]);
//! - `runtime`: the functions' `main`s and tracing ([`run`], [`run_websocket`], [`run_keepalive`]),
//!   and the WebSocket route events, handed to the relay ([`handle_websocket`]).

mod requests;
mod runtime;
mod settings;
mod wiring;

pub use self::requests::handle;
pub use self::runtime::{handle_keepalive, handle_websocket, run, run_keepalive, run_websocket};
pub use self::settings::{ConfigError, DeployConfig, env};
pub use self::wiring::{Deployment, NoConnections, TableStreamTrigger};
pub use crate::http::routes::Route;
