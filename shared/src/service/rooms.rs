//! The room use cases, written once over the ports: `join`, `message` and `leave`, and the one
//! compare-and-swap of a room record that every change goes through. A member's relay presence
//! (registered, or away for the reconnect grace) is set by the relay alone
//! ([`crate::service::relay`]).

use crate::config::Settings;
use crate::domain::ids::{ClientId, RoomId};
use crate::domain::message::{MessageError, MessageKind, SignalingMessage};
use crate::domain::room::{self, JoinOutcome, LeaveOutcome, MessageOutcome, Millis, RoomSlot};
use crate::ports::{
    Clock, DeliveryError, IdSource, PeerNotifier, RandomIds, RoomStore, StoreError, Swap,
    SystemClock,
};
use crate::retry::{Attempt, until_written};
use std::sync::Arc;

/// Failures that are not room outcomes; the HTTP layer answers them with 503.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Concurrent writers on one room kept winning until the invocation's time ran out.
    #[error("room is busy, retry")]
    Contention,
    /// No randomness for a client id.
    #[error("cannot generate a client id")]
    NoRandomness,
}

/// Loads `room`, applies `rule`, and writes the result back if it changed, as an attempt of the
/// one compare-and-swap loop ([`until_written`]). Every membership change goes through here; the
/// relay's registration, which writes the connection's record in the same transaction, is the
/// loop's only other attempt.
pub(crate) async fn update_room<T, R>(
    store: &dyn RoomStore,
    clock: &dyn Clock,
    room: &RoomId,
    rule: R,
) -> Result<T, ServiceError>
where
    R: FnMut(&mut RoomSlot, Millis) -> T,
{
    // Another writer won: read again and re-apply the rule after a backoff, for as long as the
    // invocation has time (only membership events and registrations write a room, so this is
    // rare and short).
    let attempt = move |mut rule: R| async move {
        let loaded = store.load(room).await?;
        let before = loaded.as_ref().map(|v| &v.room);
        let mut slot = before.cloned();
        let out = rule(&mut slot, clock.now());
        if slot.as_ref() == before {
            return Ok(Attempt::Done(out));
        }
        let expected = loaded.as_ref().map(|v| v.version);
        Ok(match store.swap(room, expected, slot.as_ref()).await? {
            Swap::Done => Attempt::Done(out),
            Swap::Conflict => {
                tracing::debug!(%room, "room write conflict, retrying");
                Attempt::Conflict(rule)
            }
        })
    };
    until_written(rule, attempt, || ServiceError::Contention).await
}

/// Answer to a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinReply {
    /// Admitted.
    Joined {
        /// The new client's id.
        client_id: ClientId,
        /// First in the room.
        is_initiator: bool,
        /// Messages the initiator posted while alone.
        messages: Vec<String>,
    },
    /// Two members already.
    Full,
    /// Id collision.
    Duplicate,
}

/// Answer to a message post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageReply {
    /// Saved or delivered.
    Success,
    /// No such room.
    UnknownRoom,
    /// Sender is not a member.
    UnknownClient,
    /// The body is not a signaling message.
    Invalid(MessageError),
    /// The saved list is at its cap.
    SavedListFull,
    /// The relay refused it.
    Undeliverable(DeliveryError),
}

/// The room service: one instance per process, cheap to clone.
#[derive(Debug, Clone)]
pub struct RoomService {
    store: Arc<dyn RoomStore>,
    notifier: Arc<dyn PeerNotifier>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    settings: Arc<Settings>,
}

impl RoomService {
    /// A service with the system clock and OS randomness.
    pub fn new(
        store: Arc<dyn RoomStore>,
        notifier: Arc<dyn PeerNotifier>,
        settings: Arc<Settings>,
    ) -> Self {
        Self {
            store,
            notifier,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
            settings,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the id source (tests).
    pub fn with_ids(mut self, ids: Arc<dyn IdSource>) -> Self {
        self.ids = ids;
        self
    }

    /// The settings this service runs with.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// The clock this service runs with.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// Loads the room, applies `rule`, and writes the result back if it changed.
    async fn update<T>(
        &self,
        room: &RoomId,
        rule: impl FnMut(&mut RoomSlot, Millis) -> T,
    ) -> Result<T, ServiceError> {
        update_room(&*self.store, &*self.clock, room, rule).await
    }

    /// The store this service runs on.
    pub fn store(&self) -> &Arc<dyn RoomStore> {
        &self.store
    }

    /// `POST /join/<room>`: admits a new client with a fresh id.
    pub async fn join(&self, room: &RoomId, loopback: bool) -> Result<JoinReply, ServiceError> {
        let client = self.ids.client_id().ok_or(ServiceError::NoRandomness)?;
        let limits = &self.settings.limits;
        let outcome = self
            .update(room, |slot, now| {
                room::join(slot, &client, loopback, now, limits)
            })
            .await?;
        Ok(match outcome {
            JoinOutcome::Joined {
                is_initiator,
                messages,
            } => {
                tracing::info!(%room, client = %client, is_initiator, "joined");
                JoinReply::Joined {
                    client_id: client,
                    is_initiator,
                    messages,
                }
            }
            JoinOutcome::Full => {
                // A member whose socket is gone without a disconnect event starts its reconnect
                // grace here, as a handled disconnect starts it: a ghost frees the room when it
                // ends, and a client that is only reconnecting keeps its place.
                self.notifier.detach_gone(room).await;
                JoinReply::Full
            }
            JoinOutcome::Duplicate => JoinReply::Duplicate,
        })
    }

    /// `POST /message/<room>/<client>`: saves the message while the sender is alone, forwards it
    /// to the peer otherwise. A `bye` counts as a leave.
    pub async fn message(
        &self,
        room: &RoomId,
        client: &ClientId,
        body: &[u8],
    ) -> Result<MessageReply, ServiceError> {
        let msg = match SignalingMessage::from_bytes(body, self.settings.limits.max_message_bytes) {
            Ok(m) => m,
            Err(e) => return Ok(MessageReply::Invalid(e)),
        };
        if msg.kind() == MessageKind::Bye {
            // Leave first, then tell the peer (docs/protocol.md §3.9): the web client relies on
            // that order.
            let limits = &self.settings.limits;
            let (outcome, peer_left_behind) = self
                .update(room, |slot, now| {
                    let outcome = room::leave(slot, client, now, limits);
                    (outcome, slot.is_some())
                })
                .await?;
            return Ok(match outcome {
                LeaveOutcome::Left => {
                    if peer_left_behind {
                        self.forward_bye(room, client, &msg).await;
                    }
                    MessageReply::Success
                }
                LeaveOutcome::UnknownRoom => MessageReply::UnknownRoom,
                LeaveOutcome::UnknownClient => MessageReply::UnknownClient,
            });
        }
        let limits = &self.settings.limits;
        let outcome = self
            .update(room, |slot, now| {
                room::post_message(slot, client, &msg, now, limits)
            })
            .await?;
        Ok(match outcome {
            MessageOutcome::Saved => MessageReply::Success,
            MessageOutcome::Forward => {
                match self.notifier.deliver(room, client, msg.as_str()).await {
                    Ok(()) => MessageReply::Success,
                    Err(e) => MessageReply::Undeliverable(e),
                }
            }
            MessageOutcome::UnknownRoom => MessageReply::UnknownRoom,
            MessageOutcome::UnknownClient => MessageReply::UnknownClient,
            MessageOutcome::SavedListFull => MessageReply::SavedListFull,
        })
    }

    async fn forward_bye(&self, room: &RoomId, client: &ClientId, msg: &SignalingMessage) {
        if let Err(e) = self.notifier.deliver(room, client, msg.as_str()).await {
            tracing::debug!(%room, %client, error = %e, "bye not delivered");
        }
    }

    /// `POST /leave/<room>/<client>`: removes the client; never touches its relay socket.
    pub async fn leave(
        &self,
        room: &RoomId,
        client: &ClientId,
    ) -> Result<LeaveOutcome, ServiceError> {
        let limits = &self.settings.limits;
        let outcome = self
            .update(room, |slot, now| room::leave(slot, client, now, limits))
            .await?;
        if outcome == LeaveOutcome::Left {
            tracing::info!(%room, %client, "left");
        }
        Ok(outcome)
    }

    /// Whether the room has no place left (for the "room full" page).
    pub async fn is_full(&self, room: &RoomId) -> Result<bool, ServiceError> {
        let loaded = self.store.load(room).await?;
        let mut slot = loaded.map(|v| v.room);
        room::prune(&mut slot, self.clock.now());
        Ok(slot.is_some_and(|r| r.members.len() >= room::ROOM_CAPACITY))
    }
}
