//! The collider-compatible relay (docs/protocol.md §3): WebSocket `register`/`send`, HTTP `POST`/`DELETE
//! <wss_post_url>/<room>/<client>` and `GET /status`, on top of the room service so that only ids
//! issued by `join` may use it and departures free the room (docs/protocol.md §8 items 2, 3).
//!
//! The transport (axum, API Gateway) only moves frames; every decision is made here.

pub mod frame;
pub mod hub;
pub mod stored;

use crate::domain::ids::{ClientId, RoomId};
use crate::domain::message::{MessageKind, SignalingMessage};
use crate::http::{HttpResponse, json_response, text_response};
use crate::ports::DeliveryError;
use crate::service::RoomService;
use frame::{Command, RelayError};
use http::{HeaderValue, StatusCode, header};
use hub::{Attach, CloseReason, ConnHandle, ConnReceiver, Expired, Hub};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::mpsc;

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

/// The relay: hub + room service.
#[derive(Debug)]
pub struct Relay {
    hub: Arc<Hub>,
    service: RoomService,
    started: Instant,
}

impl Relay {
    /// A relay over `hub` (which must also be the service's notifier) and `service`. Spawns the
    /// task that removes clients from their rooms when their grace period ends.
    pub fn new(
        hub: Arc<Hub>,
        expired: mpsc::UnboundedReceiver<Expired>,
        service: RoomService,
    ) -> Arc<Self> {
        let relay = Arc::new(Self {
            hub,
            service,
            started: Instant::now(),
        });
        tokio::spawn(expiry_worker(relay.service.clone(), expired));
        relay
    }

    /// The hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// A new WebSocket's session and the receiver its writer drains.
    pub fn open(&self) -> (Session, ConnReceiver) {
        let (conn, rx) = self.hub.connection();
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
        self.hub.stats.ws_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles one text frame from a client.
    pub async fn on_text(&self, session: &mut Session, text: &str) -> Result<(), RelayError> {
        match frame::decode(text)? {
            Command::Register { room, client } => self.register(session, &room, &client).await,
            Command::Send { msg } => {
                let Some((room, client)) = session.registered.clone() else {
                    return Err(RelayError::NotRegistered);
                };
                self.relay_message(&room, &client, msg).await
            }
            Command::Unknown => Err(RelayError::UnexpectedCmd),
        }
    }

    async fn register(
        &self,
        session: &mut Session,
        room: &str,
        client: &str,
    ) -> Result<(), RelayError> {
        if session.registered.is_some() {
            return Err(RelayError::DuplicateRegisterRequest);
        }
        let room = RoomId::parse(room).map_err(RelayError::InvalidId)?;
        let client = ClientId::parse(client).map_err(RelayError::InvalidId)?;
        if !self.member(&room, &client).await? {
            return Err(RelayError::NotIssued);
        }
        let mut evicted = false;
        loop {
            match self.hub.attach(&room, &client, &session.conn) {
                Attach::Registered => break,
                Attach::Duplicate => return Err(RelayError::DuplicateRegistration),
                Attach::Full(_) if evicted => return Err(RelayError::RoomFull),
                Attach::Full(others) => {
                    // A place held by an id that has left the room (bye, /leave) is stale.
                    for other in others {
                        if !self.member(&room, &other).await? {
                            self.hub.remove(&room, &other, CloseReason::Evicted);
                        }
                    }
                    evicted = true;
                }
            }
        }
        if let Err(e) = self.service.registered(&room, &client).await {
            tracing::warn!(%room, %client, error = %e, "could not record registration");
        }
        tracing::debug!(%room, %client, "registered");
        session.registered = Some((room, client));
        Ok(())
    }

    async fn member(&self, room: &RoomId, client: &ClientId) -> Result<bool, RelayError> {
        self.service.is_member(room, client).await.map_err(|e| {
            tracing::warn!(%room, %client, error = %e, "membership check failed");
            RelayError::Unavailable
        })
    }

    /// Validates and relays a message from `client`; a `bye` first removes the sender from the
    /// room (docs/protocol.md §3.9 point 1).
    async fn relay_message(
        &self,
        room: &RoomId,
        client: &ClientId,
        msg: String,
    ) -> Result<(), RelayError> {
        let msg = validate(msg, self.service.settings().limits.max_message_bytes)?;
        let bye = msg.kind() == MessageKind::Bye;
        if bye
            && !client.is_loopback()
            && let Err(e) = self.service.leave(room, client).await
        {
            tracing::warn!(%room, %client, error = %e, "leave on bye failed");
        }
        let frame = bytes::Bytes::from(frame::encode(msg.as_str(), ""));
        self.hub
            .relay(room, client, frame, !bye)
            .map_err(|e| match e {
                DeliveryError::RoomFull => RelayError::RoomFull,
                DeliveryError::QueueFull => RelayError::QueueFull,
                DeliveryError::Unavailable(_) => RelayError::Unavailable,
            })
    }

    /// The socket closed (by the client, the network or the server).
    pub async fn on_close(&self, session: Session) {
        let Some((room, client)) = session.registered else {
            return;
        };
        self.hub.detach(&room, &client, &session.conn);
        if let Err(e) = self.service.disconnected(&room, &client).await {
            tracing::warn!(%room, %client, error = %e, "could not record disconnect");
        }
        // The id may have re-registered on a new socket between the detach and that write; the
        // room must then say "connected" again, or it would drop a live client after the grace.
        if self.hub.is_registered(&room, &client)
            && let Err(e) = self.service.registered(&room, &client).await
        {
            tracing::warn!(%room, %client, error = %e, "could not record registration");
        }
    }

    /// `POST <wss_post_url>/<room>/<client>` (docs/protocol.md §3.7). `path` is what follows the prefix.
    pub async fn http_post(&self, path: &str, body: &[u8]) -> HttpResponse {
        let res = match http_target(path) {
            Err(res) => *res,
            Ok(_) if body.is_empty() => {
                collider_error(StatusCode::INTERNAL_SERVER_ERROR, "Empty request body")
            }
            Ok((room, client)) => self.post(&room, &client, body).await,
        };
        self.finish_http(res)
    }

    async fn post(&self, room: &RoomId, client: &ClientId, body: &[u8]) -> HttpResponse {
        let known = match self.member(room, client).await {
            Ok(m) => m || self.hub.contains(room, client),
            Err(e) => return collider_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        };
        if !known {
            return collider_error(StatusCode::FORBIDDEN, &RelayError::NotIssued.to_string());
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return collider_error(
                StatusCode::BAD_REQUEST,
                "Invalid message: body is not valid UTF-8",
            );
        };
        post_reply(self.relay_message(room, client, text.to_owned()).await)
    }

    /// `DELETE <wss_post_url>/<room>/<client>`: closes the socket and frees the place; the client
    /// also leaves the room. Unknown ids are fine.
    pub async fn http_delete(&self, path: &str) -> HttpResponse {
        let res = match http_target(path) {
            Err(res) => *res,
            Ok((room, client)) => {
                if self.hub.remove(&room, &client, CloseReason::Removed)
                    && !client.is_loopback()
                    && let Err(e) = self.service.leave(&room, &client).await
                {
                    tracing::warn!(%room, %client, error = %e, "leave on DELETE failed");
                }
                collider_ok()
            }
        };
        self.finish_http(res)
    }

    /// Any other method on a collider path: an empty 200 with CORS (preflights).
    pub fn http_other(&self) -> HttpResponse {
        with_collider_cors(text_response(StatusCode::OK, ""))
    }

    fn finish_http(&self, res: HttpResponse) -> HttpResponse {
        if !res.status().is_success() {
            self.hub.stats.http_errors.fetch_add(1, Ordering::Relaxed);
        }
        with_collider_cors(res)
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
    Err(Box::new(collider_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("Invalid path: {}", escape_html(path)),
    )))
}

impl Relay {
    /// `GET /status` (docs/protocol.md §3.8).
    pub fn status(&self) -> HttpResponse {
        let s = &self.hub.stats;
        let body = serde_json::json!({
            "upsec": self.started.elapsed().as_secs_f64(),
            "openws": s.open_ws.load(Ordering::Relaxed),
            "totalws": s.total_ws.load(Ordering::Relaxed),
            "wserrors": s.ws_errors.load(Ordering::Relaxed),
            "httperrors": s.http_errors.load(Ordering::Relaxed),
        });
        let mut res = json_response(StatusCode::OK, &body);
        res.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        res.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET"),
        );
        res
    }
}

/// Validates a relayed message (docs/protocol.md §6).
pub(crate) fn validate(msg: String, limit: usize) -> Result<SignalingMessage, RelayError> {
    SignalingMessage::parse(msg, limit).map_err(RelayError::InvalidMessage)
}

async fn expiry_worker(service: RoomService, mut expired: mpsc::UnboundedReceiver<Expired>) {
    while let Some(Expired { room, client }) = expired.recv().await {
        if client.is_loopback() {
            continue;
        }
        match service.leave(&room, &client).await {
            Ok(outcome) => {
                tracing::info!(%room, %client, ?outcome, "removed after reconnect grace")
            }
            Err(e) => tracing::warn!(%room, %client, error = %e, "removal after grace failed"),
        }
    }
}

/// The collider's answer to a relayed `POST`: `OK`, 400 for a message no client could use, 500
/// with the reason otherwise (docs/protocol.md §3.7).
pub(crate) fn post_reply(result: Result<(), RelayError>) -> HttpResponse {
    match result {
        Ok(()) => collider_ok(),
        Err(RelayError::InvalidMessage(e)) => {
            collider_error(StatusCode::BAD_REQUEST, &format!("Invalid message: {e}"))
        }
        Err(e) => collider_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Failed to send the message: {e}"),
        ),
    }
}

pub(crate) fn collider_ok() -> HttpResponse {
    text_response(StatusCode::OK, "OK\n")
}

pub(crate) fn collider_error(status: StatusCode, text: &str) -> HttpResponse {
    text_response(status, format!("{text}\n"))
}

pub(crate) fn with_collider_cors(mut res: HttpResponse) -> HttpResponse {
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    res
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(256) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
