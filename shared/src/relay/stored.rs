//! The relay for deployments whose sockets live outside the process (API Gateway WebSockets):
//! the same collider protocol as [`super::Relay`], with connection ids, queues and the
//! connection index kept in the room store, and frames sent through the [`Connections`] port
//! (`PostToConnection`). Every frame arrives in its own invocation, so nothing is kept in memory.

use super::frame::{self, Command, RelayError};
use super::hub::RelayLimits;
use super::{collider_error, collider_ok, http_target, post_reply, validate, with_collider_cors};
use crate::config::Settings;
use crate::domain::ids::{ClientId, RoomId};
use crate::domain::message::MessageKind;
use crate::domain::relay::{self as rules, Attach, Route};
use crate::domain::room::{self, Millis, millis};
use crate::http::HttpResponse;
use crate::ports::{Clock, Connections, DeliveryError, PeerNotifier, PostError, RoomStore};
use crate::service::{ServiceError, update_room};
use async_trait::async_trait;
use http::StatusCode;
use std::sync::Arc;
use std::time::Duration;

/// How long the connection index keeps an entry (API Gateway closes connections after 2 h).
const CONNECTION_RECORD_TTL: Duration = Duration::from_secs(3 * 3600);

/// The stored relay.
#[derive(Debug, Clone)]
pub struct StoredRelay {
    store: Arc<dyn RoomStore>,
    clock: Arc<dyn Clock>,
    settings: Arc<Settings>,
    limits: RelayLimits,
    connections: Arc<dyn Connections>,
}

fn unavailable(e: ServiceError) -> RelayError {
    tracing::warn!(error = %e, "relay store call failed");
    RelayError::Unavailable
}

impl StoredRelay {
    /// A relay over `store`, posting through `connections`.
    pub fn new(
        store: Arc<dyn RoomStore>,
        clock: Arc<dyn Clock>,
        settings: Arc<Settings>,
        limits: RelayLimits,
        connections: Arc<dyn Connections>,
    ) -> Self {
        Self {
            store,
            clock,
            settings,
            limits,
            connections,
        }
    }

    fn now(&self) -> Millis {
        self.clock.now()
    }

    /// A text frame arrived on `connection` (routes `register`, `send` and `$default`). Errors are
    /// answered with an error frame, and the connection is closed where the collider closes it.
    pub async fn on_frame(&self, connection: &str, text: &str) {
        if let Err(e) = self.handle(connection, text).await {
            let _ = self
                .connections
                .post(connection, &frame::error_frame(&e))
                .await;
            if e.closes_socket() {
                self.on_disconnect(connection).await;
                self.connections.close(connection).await;
            }
        }
    }

    async fn handle(&self, connection: &str, text: &str) -> Result<(), RelayError> {
        match frame::decode(text)? {
            Command::Register { room, client } => self.register(connection, &room, &client).await,
            Command::Send { msg } => {
                let registered = self
                    .store
                    .get_connection(connection)
                    .await
                    .map_err(|e| unavailable(e.into()))?;
                let Some((room, client)) = registered else {
                    return Err(RelayError::NotRegistered);
                };
                self.relay_message(&room, &client, msg).await
            }
            Command::Unknown => Err(RelayError::UnexpectedCmd),
        }
    }

    async fn register(&self, connection: &str, room: &str, client: &str) -> Result<(), RelayError> {
        if self
            .store
            .get_connection(connection)
            .await
            .map_err(|e| unavailable(e.into()))?
            .is_some()
        {
            return Err(RelayError::DuplicateRegisterRequest);
        }
        let room = RoomId::parse(room).map_err(RelayError::InvalidId)?;
        let client = ClientId::parse(client).map_err(RelayError::InvalidId)?;
        let mut stale = None;
        let flush = loop {
            let outcome = update_room(&*self.store, &*self.clock, &room, |slot, now| {
                rules::attach(slot, &client, connection, stale.as_deref(), now)
            })
            .await
            .map_err(unavailable)?;
            match outcome {
                Attach::Attached { flush } => break flush,
                Attach::NotMember => return Err(RelayError::NotIssued),
                Attach::Taken(old) if stale.is_none() => {
                    // Replace a registration whose socket died without a disconnect event.
                    match self.connections.is_open(&old).await {
                        Ok(false) => stale = Some(old),
                        _ => return Err(RelayError::DuplicateRegistration),
                    }
                }
                Attach::Taken(_) => return Err(RelayError::DuplicateRegistration),
            }
        };
        let until = self.now() + millis(CONNECTION_RECORD_TTL);
        self.store
            .put_connection(connection, &room, &client, until)
            .await
            .map_err(|e| unavailable(e.into()))?;
        for f in flush {
            if self.connections.post(connection, &f).await.is_err() {
                break;
            }
        }
        tracing::debug!(%room, %client, "registered");
        Ok(())
    }

    /// Validates and relays a message from `client`; a `bye` first removes the sender from the
    /// room.
    pub async fn relay_message(
        &self,
        room: &RoomId,
        client: &ClientId,
        msg: String,
    ) -> Result<(), RelayError> {
        let msg = validate(msg, self.settings.limits.max_message_bytes)?;
        let bye = msg.kind() == MessageKind::Bye;
        if bye && !client.is_loopback() {
            update_room(&*self.store, &*self.clock, room, |slot, now| {
                room::leave(slot, client, now)
            })
            .await
            .map_err(unavailable)?;
        }
        self.deliver_frame(room, client, frame::encode(msg.as_str(), ""), !bye)
            .await
            .map_err(|e| match e {
                DeliveryError::RoomFull => RelayError::RoomFull,
                DeliveryError::QueueFull => RelayError::QueueFull,
                DeliveryError::Unavailable(_) => RelayError::Unavailable,
            })
    }

    async fn deliver_frame(
        &self,
        room: &RoomId,
        from: &ClientId,
        frame: String,
        queue: bool,
    ) -> Result<(), DeliveryError> {
        let fail = |e: ServiceError| DeliveryError::Unavailable(e.to_string());
        // A dead peer connection is detached and the frame queued instead: at most two rounds.
        for _ in 0..2 {
            let loaded = self.store.load(room).await.map_err(|e| fail(e.into()))?;
            let slot = loaded.map(|v| v.room);
            match rules::route(&slot, from, self.now()) {
                Route::Drop => return Ok(()),
                Route::Connection(c) => match self.connections.post(&c, &frame).await {
                    Ok(()) => return Ok(()),
                    Err(PostError::Gone) => {
                        let limits = &self.settings.limits;
                        update_room(&*self.store, &*self.clock, room, |slot, now| {
                            rules::detach(slot, &c, now, limits)
                        })
                        .await
                        .map_err(fail)?;
                    }
                    Err(PostError::Failed(e)) => return Err(DeliveryError::Unavailable(e)),
                },
                Route::Queue if !queue => return Ok(()),
                Route::Queue => {
                    let (count, bytes) = (
                        self.limits.max_queued_messages,
                        self.limits.max_queued_bytes,
                    );
                    let queued = update_room(&*self.store, &*self.clock, room, |slot, _| {
                        rules::enqueue(slot, from, &frame, count, bytes)
                    })
                    .await
                    .map_err(fail)?;
                    return if queued {
                        Ok(())
                    } else {
                        Err(DeliveryError::QueueFull)
                    };
                }
            }
        }
        Err(DeliveryError::Unavailable(
            "peer connection keeps failing".to_owned(),
        ))
    }

    /// The connection closed (`$disconnect`): its member keeps its place for the reconnect grace.
    pub async fn on_disconnect(&self, connection: &str) {
        let Ok(Some((room, client))) = self.store.get_connection(connection).await else {
            return;
        };
        let limits = &self.settings.limits;
        let result = update_room(&*self.store, &*self.clock, &room, |slot, now| {
            rules::detach(slot, connection, now, limits)
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(%room, %client, error = %e, "could not record disconnect");
        }
        if let Err(e) = self.store.delete_connection(connection).await {
            tracing::warn!(error = %e, "could not delete connection record");
        }
    }

    /// Removes members of `room` whose registered connection is gone (a missed disconnect), so a
    /// ghost never keeps a room full. Returns whether anyone was removed.
    pub async fn free_dead(&self, room: &RoomId) -> Result<bool, ServiceError> {
        let Some(loaded) = self.store.load(room).await? else {
            return Ok(false);
        };
        let mut dead = Vec::new();
        for c in loaded
            .room
            .members
            .iter()
            .filter_map(|m| m.connection.clone())
        {
            if matches!(self.connections.is_open(&c).await, Ok(false)) {
                dead.push(c);
            }
        }
        if dead.is_empty() {
            return Ok(false);
        }
        update_room(&*self.store, &*self.clock, room, |slot, _| {
            rules::remove_dead(slot, &dead)
        })
        .await
    }

    /// Collider `POST <wss_post_url>/<room>/<client>`.
    pub async fn http_post(&self, path: &str, body: &[u8]) -> HttpResponse {
        let res = match http_target(path) {
            Err(res) => *res,
            Ok(_) if body.is_empty() => {
                collider_error(StatusCode::INTERNAL_SERVER_ERROR, "Empty request body")
            }
            Ok((room, client)) => self.post(&room, &client, body).await,
        };
        with_collider_cors(res)
    }

    async fn post(&self, room: &RoomId, client: &ClientId, body: &[u8]) -> HttpResponse {
        let loaded = match self.store.load(room).await {
            Ok(l) => l,
            Err(_) => {
                return collider_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &RelayError::Unavailable.to_string(),
                );
            }
        };
        let slot = loaded.map(|v| v.room);
        if !room::is_member(&slot, client, self.now()) {
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

    /// Collider `DELETE <wss_post_url>/<room>/<client>`: closes the client's connection and the
    /// client leaves the room.
    pub async fn http_delete(&self, path: &str) -> HttpResponse {
        let res = match http_target(path) {
            Err(res) => *res,
            Ok((room, client)) => {
                let connection = self.store.load(&room).await.ok().flatten().and_then(|v| {
                    let id = client.canonical();
                    v.room
                        .members
                        .into_iter()
                        .find(|m| m.id == id)
                        .and_then(|m| m.connection)
                });
                if let Some(c) = connection {
                    self.connections.close(&c).await;
                    self.on_disconnect(&c).await;
                }
                if !client.is_loopback() {
                    let left = update_room(&*self.store, &*self.clock, &room, |slot, now| {
                        room::leave(slot, &client, now)
                    })
                    .await;
                    if let Err(e) = left {
                        tracing::warn!(%room, %client, error = %e, "leave on DELETE failed");
                    }
                }
                collider_ok()
            }
        };
        with_collider_cors(res)
    }
}

#[async_trait]
impl PeerNotifier for StoredRelay {
    async fn deliver(
        &self,
        room: &RoomId,
        from: &ClientId,
        msg: &str,
    ) -> Result<(), DeliveryError> {
        self.deliver_frame(room, from, frame::encode(msg, ""), true)
            .await
    }
}
