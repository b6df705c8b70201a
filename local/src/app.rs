//! The state every route and socket of the server shares.

#[cfg(feature = "aws-local")]
use crate::aws_local;
use crate::options::ServerOptions;
use crate::{limits, metrics, tls};
use room::relay::Relay;
use room::{RoomService, Settings};
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Shared state of the process.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) service: RoomService,
    pub(crate) relay: Arc<Relay>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) options: Arc<ServerOptions>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) sockets: TaskTracker,
    pub(crate) limiter: Arc<limits::Limiter>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// The local certificate authority `/ca` offers, when one signs the certificate.
    pub(crate) ca: Option<Arc<tls::LocalCa>>,
    #[cfg(feature = "aws-local")]
    pub(crate) aws: Option<Arc<aws_local::AwsLocal>>,
}

impl App {
    /// Limits of every WebSocket: a message may be twice the relay's limit (JSON escaping) plus
    /// its envelope.
    pub(crate) fn websocket_limits(&self) -> crate::websocket_codec::Limits {
        let max_message = self.settings.limits.max_message_bytes * 2 + 1024;
        crate::websocket_codec::Limits {
            max_message,
            max_frame: max_message,
            read_chunk: self.options.ws_read_buffer,
        }
    }
}
