//! The state every route and socket of the server shares, and the transport settings that are
//! not room settings.

use crate::ops::{limits, metrics};
use crate::tls::certificates::LocalCa;
use room::adapters::sockets::SocketRelay;
use room::ports::{Clock, SystemClock};
use room::{RoomService, Settings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

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
    /// The clock of the room service and the relay: the system clock, except in tests that move
    /// time forward rather than wait for a grace or a deadline to pass.
    pub clock: Arc<dyn Clock>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(25),
            ws_read_buffer: 16 * 1024,
            shutdown_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
            abuse: limits::AbuseLimits::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Shared state of the process.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) service: RoomService,
    pub(crate) relay: Arc<SocketRelay>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) options: Arc<ServerOptions>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) sockets: TaskTracker,
    pub(crate) limiter: Arc<limits::Limiter>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// The local certificate authority `/ca` offers, when one signs the certificate.
    pub(crate) ca: Option<Arc<LocalCa>>,
}
