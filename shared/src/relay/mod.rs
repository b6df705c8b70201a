//! The collider-compatible relay (docs/protocol.md §3): WebSocket `register`/`send`, HTTP `POST`/`DELETE
//! <wss_post_url>/<room>/<client>` and `GET /status`, over the room store so that only ids issued
//! by `join` may use it and departures free the room (docs/protocol.md §8 items 2, 3).
//!
//! The rules exist once ([`crate::domain::relay`], applied by [`stored::StoredRelay`]), and two
//! hosts run them: [`Relay`] for sockets of this process ([`sockets`]), whose frames arrive in
//! order, and the Lambda functions for API Gateway connections, whose frames arrive in parallel.
//! The transport (axum, API Gateway) only moves frames; every decision is made here.

pub mod frame;
pub mod sockets;
pub mod stored;

use crate::config::Settings;
use crate::domain::ids::{ClientId, RoomId};
use crate::domain::message::SignalingMessage;
use crate::http::{HttpResponse, RelayStatus, relay_status_response};
// The collider's answers are built in `crate::http`, under the names the stored relay uses.
pub use crate::http::with_collider_cors;
pub(crate) use crate::http::{collider_error, collider_ok, collider_post_reply as post_reply};
use crate::ports::{Clock, PeerNotifier, RoomStore};
use frame::{Command, RelayError};
use sockets::{ConnHandle, ConnReceiver, Sockets};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use stored::StoredRelay;

/// Relay limits; every value is a documented setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLimits {
    /// Messages queued per sender while its peer is not registered (the original: 1024).
    pub max_queued_messages: usize,
    /// Bytes queued per sender while its peer is not registered.
    pub max_queued_bytes: usize,
    /// Frames waiting in one connection's outbound queue before it counts as a slow reader and
    /// is disconnected.
    pub outbound_queue: usize,
    /// Bytes waiting in one connection's outbound queue before it counts as a slow reader (a
    /// single frame larger than this still goes to an empty queue).
    pub outbound_bytes: usize,
    /// How long a client whose socket closed (or that only POSTed) keeps its place.
    pub reconnect_grace: Duration,
}

impl Default for RelayLimits {
    fn default() -> Self {
        Self {
            max_queued_messages: 1024,
            max_queued_bytes: 1024 * 1024,
            outbound_queue: 1024 + 64,
            outbound_bytes: 2 * 1024 * 1024,
            reconnect_grace: Duration::from_secs(10),
        }
    }
}

/// Counters for `GET /status`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Sockets registered now.
    pub open_ws: AtomicU64,
    /// Successful registrations since start.
    pub total_ws: AtomicU64,
    /// Error frames sent.
    pub ws_errors: AtomicU64,
    /// Collider HTTP errors answered.
    pub http_errors: AtomicU64,
}

/// One WebSocket's relay state.
#[derive(Debug)]
pub struct Session {
    conn: ConnHandle,
    registered: Option<(RoomId, ClientId)>,
}

impl Session {
    /// The room and client this socket registered as.
    pub fn registration(&self) -> Option<&(RoomId, ClientId)> {
        self.registered.as_ref()
    }
}

/// The relay for sockets of this process. A socket's frames are handled in the order they
/// arrive, so its session knows its registration; everything else is the stored relay's.
#[derive(Debug)]
pub struct Relay {
    relay: StoredRelay,
    sockets: Arc<Sockets>,
    started: Instant,
    /// Counters for `/status`.
    pub stats: Stats,
}

impl Relay {
    /// A relay over `store`, on `clock` (the room service's).
    pub fn new(
        store: Arc<dyn RoomStore>,
        clock: Arc<dyn Clock>,
        settings: Arc<Settings>,
        limits: RelayLimits,
    ) -> Arc<Self> {
        let sockets = Arc::new(Sockets::new(limits.clone()));
        let relay = StoredRelay::new(store, clock, settings, limits, sockets.clone());
        Arc::new(Self {
            relay,
            sockets,
            started: Instant::now(),
            stats: Stats::default(),
        })
    }

    /// The delivery port for the room service (messages posted to `/message`).
    pub fn notifier(&self) -> Arc<dyn PeerNotifier> {
        Arc::new(self.relay.clone())
    }

    /// Sockets open now (registered or not).
    pub fn sockets(&self) -> usize {
        self.sockets.len()
    }

    /// A new WebSocket's session and the receiver its writer drains.
    pub fn open(&self) -> (Session, ConnReceiver) {
        let (conn, rx) = self.sockets.open();
        (
            Session {
                conn,
                registered: None,
            },
            rx,
        )
    }

    /// Counts an error frame sent to a client.
    pub fn count_ws_error(&self) {
        self.stats.ws_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles one text frame from a client.
    pub async fn on_text(&self, session: &mut Session, text: &str) -> Result<(), RelayError> {
        match frame::decode(text)? {
            Command::Register { room, client } => {
                if session.registered.is_some() {
                    return Err(RelayError::DuplicateRegisterRequest);
                }
                // Boxed, here and below: a socket's task holds this future for its whole life,
                // sized for its largest state, and the stored relay's operations are large.
                let registered =
                    Box::pin(self.relay.register(session.conn.name(), &room, &client)).await?;
                self.stats.open_ws.fetch_add(1, Ordering::Relaxed);
                self.stats.total_ws.fetch_add(1, Ordering::Relaxed);
                session.registered = Some(registered);
                Ok(())
            }
            Command::Send { msg } => {
                let Some((room, client)) = &session.registered else {
                    return Err(RelayError::NotRegistered);
                };
                Box::pin(self.relay.relay_message(room, client, msg)).await
            }
            Command::Unknown => Err(RelayError::UnexpectedCmd),
        }
    }

    /// The socket closed (by the client, the network or the server): its client keeps its place
    /// for the reconnect grace.
    pub async fn on_close(&self, session: Session) {
        self.sockets.forget(&session.conn);
        if session.registered.is_some() {
            self.stats.open_ws.fetch_sub(1, Ordering::Relaxed);
            Box::pin(self.relay.on_disconnect(session.conn.name())).await;
        }
    }

    /// `POST <wss_post_url>/<room>/<client>` (docs/protocol.md §3.7). `path` is what follows the prefix.
    pub async fn http_post(&self, path: &str, body: &[u8]) -> HttpResponse {
        let res = self.relay.http_post(path, body).await;
        self.count_http(res)
    }

    /// `DELETE <wss_post_url>/<room>/<client>`: closes the socket and frees the place; the client
    /// also leaves the room. Unknown ids are fine.
    pub async fn http_delete(&self, path: &str) -> HttpResponse {
        let res = self.relay.http_delete(path).await;
        self.count_http(res)
    }

    /// Any other method on a collider path: an empty 200 with CORS (preflights).
    pub fn http_other(&self) -> HttpResponse {
        crate::http::collider_preflight()
    }

    fn count_http(&self, res: HttpResponse) -> HttpResponse {
        if !res.status().is_success() {
            self.stats.http_errors.fetch_add(1, Ordering::Relaxed);
        }
        res
    }

    /// `GET /status` (docs/protocol.md §3.8).
    pub fn status(&self) -> HttpResponse {
        let s = &self.stats;
        relay_status_response(&RelayStatus {
            upsec: self.started.elapsed().as_secs_f64(),
            openws: s.open_ws.load(Ordering::Relaxed),
            totalws: s.total_ws.load(Ordering::Relaxed),
            wserrors: s.ws_errors.load(Ordering::Relaxed),
            httperrors: s.http_errors.load(Ordering::Relaxed),
        })
    }
}

/// Parses a collider path `/<room>/<client>`; the error is the collider's answer.
pub(crate) fn http_target(path: &str) -> Result<(RoomId, ClientId), Box<HttpResponse>> {
    let mut parts = path.split('/');
    if let (Some(""), Some(room), Some(client), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
        && let (Ok(r), Ok(c)) = (RoomId::parse(room), ClientId::parse(client))
    {
        return Ok((r, c));
    }
    Err(Box::new(crate::http::collider_invalid_path(path)))
}

/// Validates a relayed message (docs/protocol.md §6).
pub(crate) fn validate(msg: String, limit: usize) -> Result<SignalingMessage, RelayError> {
    SignalingMessage::parse(msg, limit).map_err(RelayError::InvalidMessage)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each socket's task embeds these futures for its whole life, sized for their largest
    /// state: the stored relay's operations stay behind a box, or every idle socket pays for
    /// them (about 1.2 KB more per socket when they were inline).
    #[tokio::test]
    async fn a_socket_task_embeds_only_small_relay_futures() {
        let store: Arc<dyn RoomStore> = Arc::new(crate::adapters::memory::MemoryRoomStore::new());
        let clock: Arc<dyn Clock> = Arc::new(crate::ports::SystemClock);
        let relay = Relay::new(
            store,
            clock,
            Arc::new(Settings::default()),
            RelayLimits::default(),
        );
        let (mut session, _rx) = relay.open();
        let on_text = relay.on_text(&mut session, "{}");
        assert!(
            std::mem::size_of_val(&on_text) <= 512,
            "{}",
            std::mem::size_of_val(&on_text)
        );
        drop(on_text);
        let on_close = relay.on_close(session);
        assert!(
            std::mem::size_of_val(&on_close) <= 512,
            "{}",
            std::mem::size_of_val(&on_close)
        );
    }
}
