//! Transport settings of the server that are not room settings, and the aws-local stand-in's
//! API Gateway and Lambda behaviour.

use crate::limits;
use room::ports::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// Transport settings that are not room settings.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// WebSocket ping interval.
    pub ping_interval: Duration,
    /// Bytes read from a WebSocket at a time, into one buffer per worker thread.
    pub ws_read_buffer: usize,
    /// How long shutdown waits for sockets to close.
    pub shutdown_timeout: Duration,
    /// Time allowed for a client to send a request's headers.
    pub header_timeout: Duration,
    /// Abuse limits (per address, totals, per socket).
    pub abuse: limits::AbuseLimits,
    /// How the aws-local stand-in behaves like API Gateway and Lambda.
    pub gateway: GatewayOptions,
    /// The clock of the room service and the relay: the system clock, except in tests that move
    /// time forward rather than wait for a grace or a deadline to pass.
    pub clock: Arc<dyn Clock>,
}

/// The aws-local stand-in's API Gateway and Lambda behaviour (`local/src/aws_local.rs` cites the
/// AWS documentation of each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOptions {
    /// Each WebSocket frame's invocation starts after a random delay up to this long, so frames
    /// of one connection run in parallel and in no particular order.
    pub jitter: Duration,
    /// Instances of each function: invocations of one function that run at once (more wait for
    /// a free one). Every function has its own, as Lambda scales each function on its own.
    pub instances: usize,
    /// `$disconnect` arrives this long after the socket closed.
    pub disconnect_delay: Duration,
    /// Percentage of `$disconnect` events that never arrive.
    pub disconnect_loss: u8,
    /// A connection with no frame either way for this long is closed.
    pub idle_timeout: Duration,
    /// Every connection is closed this long after it opened.
    pub max_connection: Duration,
    /// The keep-alive function's schedule (zero: not run).
    pub keepalive_interval: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            jitter: Duration::from_millis(10),
            instances: 3,
            disconnect_delay: Duration::ZERO,
            disconnect_loss: 0,
            idle_timeout: Duration::from_secs(600),
            max_connection: Duration::from_secs(2 * 3600),
            keepalive_interval: Duration::from_secs(300),
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(25),
            ws_read_buffer: 16 * 1024,
            shutdown_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            abuse: limits::AbuseLimits::default(),
            gateway: GatewayOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }
}
