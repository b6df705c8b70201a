//! The stand-in's API Gateway and Lambda behaviour, as settings (`--apigw-*` flags).

use std::time::Duration;

/// The aws-local stand-in's API Gateway and Lambda behaviour ([`super`] cites the AWS
/// documentation of each).
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
