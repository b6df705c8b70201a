//! The relay use case: the collider protocol (docs/protocol.md §3) over the room store, for every
//! host. Connection ids, queues and the connection index are kept in the store and frames leave
//! through the [`Connections`] port (this process's sockets, or API Gateway's
//! `PostToConnection`). On API Gateway every frame arrives in its own invocation, invocations run
//! in parallel and in no particular order, so nothing is kept in memory and every decision that
//! depends on another invocation's work is taken inside the conditional write that acts on it
//! ([`crate::domain::relay`]):
//!
//! - a frame handled before its own socket's `register` is parked on the connection's record and
//!   joins the sender's queue in the same transaction that registers the connection;
//! - a frame goes straight to the peer only while nothing of its sender's waits; otherwise it is
//!   queued, and the one invocation holding the queue's lease delivers it in order, removing frames
//!   only once they were posted (a failed post keeps the rest);
//! - a `$disconnect` marks the connection record closed, so a registration handled after it fails.

use crate::config::{RelayLimits, Settings};
use crate::domain::ids::{ClientId, ConnectionId, RoomId};
use crate::domain::message::{self, ClientFrame, KEEPALIVE_FRAME, RelayError, ServerFrame};
use crate::domain::message::{MessageKind, SignalingMessage};
use crate::domain::relay::{self as rules, Appended, Attach, Forward, QueueLimits, Step};
use crate::domain::room::{self, Millis, millis};
use crate::ports::{
    Clock, ConnectionRecord, Connections, DeliveryError, Handoffs, Parked, PeerNotifier, PostError,
    Registration, RoomStore, Routed, StoreError, Swap,
};
use crate::retry::{Attempt, Backoff, until_written, work_until};
use crate::service::rooms::{ServiceError, update_room};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long the connection index keeps an entry (API Gateway closes connections after 2 h).
const CONNECTION_RECORD_TTL: Duration = Duration::from_secs(3 * 3600);

/// How long a queue's delivery lease lasts without renewal: far longer than posting a batch takes,
/// short enough that a queue whose deliverer died waits only this long.
pub const DELIVERY_LEASE: Duration = Duration::from_secs(5);

/// What one keep-alive sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Connections that got the keep-alive frame.
    pub kept_alive: usize,
    /// Connections found gone (their missed `$disconnect` handled now).
    pub gone: usize,
    /// Queues found waiting with nobody delivering them, delivered now.
    pub flushed: usize,
}

/// What the host knows of the registration of the connection a frame came on.
#[derive(Debug, Clone, Copy)]
pub enum Registered<'a> {
    /// A socket of this process: its frames arrive in order, so its host knows whether it
    /// registered, and as whom.
    Known(Option<&'a (RoomId, ClientId)>),
    /// An API Gateway connection: its frames arrive in parallel invocations, so only the store
    /// knows (and a frame handled before its own `register` waits for it there).
    InStore,
}

/// Why a collider `POST <wss_post_url>/<room>/<client>` relayed nothing (docs/protocol.md §3.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostRefused {
    /// The body is empty.
    Empty,
    /// The room could not be read.
    Unavailable,
    /// The client was not issued for this room, or has left it.
    NotIssued,
    /// The body is not UTF-8 text.
    NotUtf8,
    /// The message was read and could not be relayed.
    Relay(RelayError),
}

/// The stored relay.
#[derive(Debug, Clone)]
pub struct StoredRelay {
    store: Arc<dyn RoomStore>,
    clock: Arc<dyn Clock>,
    settings: Arc<Settings>,
    limits: RelayLimits,
    connections: Arc<dyn Connections>,
    /// Who starts the delivery of a queue handed off; `None`: queues are not handed off (the
    /// in-process relay, whose sockets fail only when gone).
    handoffs: Option<Arc<dyn Handoffs>>,
}

fn unavailable(e: ServiceError) -> RelayError {
    tracing::warn!(error = %e, "relay store call failed");
    RelayError::Unavailable
}

fn store_unavailable(e: crate::ports::StoreError) -> RelayError {
    unavailable(e.into())
}

/// A token naming one invocation's leases: unique within the process (a counter) and, through a
/// random per-process offset, across the processes sharing a store. Drawn per frame, so it costs
/// no system call.
fn token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static OFFSET: OnceLock<u64> = OnceLock::new();
    let offset = *OFFSET.get_or_init(|| {
        let mut b = [0u8; 8];
        match getrandom::fill(&mut b) {
            Ok(()) => u64::from_le_bytes(b),
            Err(_) => u64::from(std::process::id()) << 40,
        }
    });
    offset.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
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
            handoffs: None,
        }
    }

    /// The relay handing off, to `handoffs`, the queues it cannot finish delivering before its
    /// invocation's deadline.
    #[must_use]
    pub fn with_handoffs(mut self, handoffs: Arc<dyn Handoffs>) -> Self {
        self.handoffs = Some(handoffs);
        self
    }

    fn now(&self) -> Millis {
        self.clock.now()
    }

    fn record_until(&self) -> Millis {
        self.now() + millis(CONNECTION_RECORD_TTL)
    }

    fn queue_limits(&self) -> QueueLimits {
        QueueLimits {
            max_frames: self.limits.max_queued_messages,
            max_bytes: self.limits.max_queued_bytes,
            lease: millis(DELIVERY_LEASE),
        }
    }

    /// A text frame from a client on `connection`, every host's one dispatch of the collider's
    /// commands. Returns the ids a `register` registered as.
    pub async fn on_text(
        &self,
        connection: &ConnectionId,
        registered: Registered<'_>,
        text: &str,
    ) -> Result<Option<(RoomId, ClientId)>, RelayError> {
        match message::decode(text)? {
            ClientFrame::Register { room, client } => {
                if let Registered::Known(Some(_)) = registered {
                    return Err(RelayError::DuplicateRegisterRequest);
                }
                self.register(connection, &room, &client).await.map(Some)
            }
            ClientFrame::Send { msg } => {
                // A socket that knows it never registered is told so first, as the collider
                // tells it; a message is checked before anything is stored or sent.
                match registered {
                    Registered::Known(None) => return Err(RelayError::NotRegistered),
                    Registered::Known(Some((room, client))) => {
                        self.relay_message(room, client, msg).await?;
                    }
                    Registered::InStore => self.send_from(connection, self.message(msg)?).await?,
                }
                Ok(None)
            }
            ClientFrame::Unknown => Err(RelayError::UnexpectedCmd),
        }
    }

    /// A text frame arrived on the API Gateway connection `connection` (routes `register`,
    /// `send` and `$default`). Errors are answered with an error frame, and the connection is
    /// closed where the collider closes it.
    pub async fn on_frame(&self, connection: &ConnectionId, text: &str) {
        if let Err(e) = self.on_text(connection, Registered::InStore, text).await {
            let _ = self
                .connections
                .post(connection, &ServerFrame::Error(&e).encode())
                .await;
            if e.closes_socket() {
                self.on_disconnect(connection).await;
                self.connections.close(connection).await;
            }
        }
    }

    /// The stored record of `connection`.
    async fn connection_record(
        &self,
        connection: &ConnectionId,
    ) -> Result<ConnectionRecord, RelayError> {
        self.store
            .connection(connection)
            .await
            .map_err(store_unavailable)
    }

    /// A `send` on `connection`: relayed as its registration says, or parked until the
    /// registration when its invocation ran first.
    async fn send_from(
        &self,
        connection: &ConnectionId,
        msg: SignalingMessage,
    ) -> Result<(), RelayError> {
        let f = ServerFrame::Message(msg.as_str()).encode();
        // Twice at most: a registration that lands between the read and the park is seen by the
        // second read (the park refuses a registered connection).
        for _ in 0..2 {
            let record = self.connection_record(connection).await?;
            // A socket that closed meanwhile had still sent the frame: it counts.
            if let Some((room, client)) = &record.registration {
                return self.relay_valid(room, client, msg).await;
            }
            // The registration's write checks the parked frames it read, so a frame parked
            // after that read makes it read again: nothing parked is left behind.
            let parked = self
                .store
                .park_frame(connection, &f, &self.queue_limits(), self.record_until())
                .await
                .map_err(store_unavailable)?;
            match parked {
                Parked::Kept => return Ok(()),
                Parked::Full => return Err(RelayError::QueueFull),
                Parked::Registered => {}
            }
        }
        Err(RelayError::Unavailable)
    }

    /// A `register` on `connection`; returns the ids it registered as.
    pub(crate) async fn register(
        &self,
        connection: &ConnectionId,
        room: &str,
        client: &str,
    ) -> Result<(RoomId, ClientId), RelayError> {
        let room = RoomId::parse(room).map_err(RelayError::InvalidId)?;
        let client = ClientId::parse(client).map_err(RelayError::InvalidId)?;
        // The attempt's future holds references only, copied from the closure, so it is `Send`.
        let ids = (&room, &client);
        let attempt = move |()| async move {
            let (room, client) = ids;
            let record = self.connection_record(connection).await?;
            if record.registration.is_some() {
                return Err(RelayError::DuplicateRegisterRequest);
            }
            let loaded = self.store.load(room).await.map_err(store_unavailable)?;
            let expected = loaded.as_ref().map(|v| v.version);
            let mut slot = loaded.map(|v| v.room);
            let registering = |stale| rules::Registering {
                client,
                conn: connection,
                stale,
                closed: record.closed,
            };
            let (now, limits) = (self.now(), &self.settings.limits);
            let mut attached = rules::attach(&mut slot, &registering(None), now, limits);
            if let Attach::Taken(old) = &attached
                && let Ok(false) = self.connections.is_open(old).await
            {
                // Replace a registration whose socket died without a disconnect event.
                attached = rules::attach(&mut slot, &registering(Some(old)), now, limits);
            }
            let (peer, evict) = match attached {
                Attach::Attached { peer, evict } => (peer, evict),
                Attach::NotMember => return Err(RelayError::NotIssued),
                Attach::Taken(_) => return Err(RelayError::DuplicateRegistration),
            };
            let Some(new) = slot else {
                return Err(RelayError::NotIssued);
            };
            let written = self
                .store
                .register_connection(&Registration {
                    connection,
                    read: &record,
                    room,
                    client,
                    expires_at: self.record_until(),
                    expected,
                    new: &new,
                })
                .await
                .map_err(store_unavailable)?;
            Ok(match written {
                Swap::Done => {
                    tracing::debug!(%room, %client, parked = record.parked.len(), "registered");
                    Attempt::Done((peer, evict))
                }
                // Another writer won (a frame parked, the room changed): read both again.
                Swap::Conflict => Attempt::Conflict(()),
            })
        };
        let (peer, evict) = until_written((), attempt, || RelayError::Unavailable).await?;
        // A client that left made way: its socket closes (its frames already sent still count).
        for c in &evict {
            self.connections.close(c).await;
        }
        // Either queue may have become deliverable: the registering member's (its parked
        // frames, if its peer is registered) and its peer's (waiting for this connection).
        // Most registrations find both empty: a read each, and nothing written.
        for member in std::iter::once(client.canonical()).chain(peer) {
            // Unread, the frames stay: the member's next frame or the sweep delivers them.
            if let Err(e) = self.deliver_waiting(&room, &member).await {
                tracing::warn!(%room, client = %member, error = %e, "queue not read");
            }
        }
        Ok((room, client))
    }

    /// Validates and relays a message from `client`; a `bye` first removes the sender from the
    /// room.
    pub async fn relay_message(
        &self,
        room: &RoomId,
        client: &ClientId,
        msg: String,
    ) -> Result<(), RelayError> {
        let msg = self.message(msg)?;
        self.relay_valid(room, client, msg).await
    }

    /// `msg` as a signaling message a client can handle (docs/protocol.md §6), or why not.
    fn message(&self, msg: String) -> Result<SignalingMessage, RelayError> {
        SignalingMessage::parse(msg, self.settings.limits.max_message_bytes)
            .map_err(RelayError::InvalidMessage)
    }

    async fn relay_valid(
        &self,
        room: &RoomId,
        client: &ClientId,
        msg: SignalingMessage,
    ) -> Result<(), RelayError> {
        let bye = msg.kind() == MessageKind::Bye;
        if bye && !client.is_loopback() {
            let limits = &self.settings.limits;
            update_room(&*self.store, &*self.clock, room, |slot, now| {
                room::leave(slot, client, now, limits)
            })
            .await
            .map_err(unavailable)?;
        }
        self.deliver_frame(
            room,
            client,
            ServerFrame::Message(msg.as_str()).encode(),
            !bye,
        )
        .await
        .map_err(|e| match e {
            DeliveryError::RoomFull => RelayError::RoomFull,
            DeliveryError::QueueFull => RelayError::QueueFull,
            DeliveryError::Unavailable(_) => RelayError::Unavailable,
        })
    }

    /// Where a frame from `from` goes: decided on the sender's queue and the stored room, read at
    /// once (the room in place, when the store can), never written.
    async fn decide(
        &self,
        room: &RoomId,
        from: &ClientId,
        queue: bool,
    ) -> Result<Forward, StoreError> {
        let now = self.now();
        let sender = from.canonical();
        let route = move |r: &room::Room| rules::direct_route(r, from, now).cloned();
        let (waiting, routed) = tokio::join!(
            self.store.queue(room, &sender),
            self.store.read_route(room, &route)
        );
        let idle = waiting?.idle(now);
        Ok(match routed? {
            Routed::Route(peer) => rules::send_routed(peer, idle),
            Routed::Loaded(loaded) => rules::send(&loaded.map(|v| v.room), from, idle, queue, now),
        })
    }

    async fn deliver_frame(
        &self,
        room: &RoomId,
        from: &ClientId,
        frame: String,
        queue: bool,
    ) -> Result<(), DeliveryError> {
        let fail = |e: StoreError| DeliveryError::Unavailable(e.to_string());
        let sender = from.canonical();
        // A dead peer connection is detached and the frame decided again: at most two rounds.
        for _ in 0..2 {
            match self.decide(room, from, queue).await.map_err(fail)? {
                Forward::Drop => return Ok(()),
                Forward::Queue => return self.queue_frame(room, &sender, &frame).await,
                Forward::Direct(c) => match self.connections.post(&c, &frame).await {
                    Ok(()) => return Ok(()),
                    Err(PostError::Gone) => self
                        .peer_gone(room, &c)
                        .await
                        .map_err(|e| DeliveryError::Unavailable(e.to_string()))?,
                    // Kept rather than answered with an error: the queue's delivery retries it
                    // and, if it cannot finish in this invocation, hands it off.
                    Err(PostError::Failed(e)) if queue => {
                        tracing::debug!(%room, client = %sender, error = %e, "post failed; frame queued");
                        return self.queue_frame(room, &sender, &frame).await;
                    }
                    Err(PostError::Failed(e)) => return Err(DeliveryError::Unavailable(e)),
                },
            }
        }
        Err(DeliveryError::Unavailable(
            "peer connection keeps failing".to_owned(),
        ))
    }

    /// Appends `frame` to `sender`'s queue and, if nobody delivers it, delivers the queue.
    async fn queue_frame(
        &self,
        room: &RoomId,
        sender: &ClientId,
        frame: &str,
    ) -> Result<(), DeliveryError> {
        let appended = self
            .store
            .append(
                room,
                sender,
                frame,
                self.now(),
                &self.queue_limits(),
                self.record_until(),
            )
            .await
            .map_err(|e| DeliveryError::Unavailable(e.to_string()))?;
        match appended {
            Appended::Full => Err(DeliveryError::QueueFull),
            // The holder's next step finds the frame: it releases the lease only in a write that
            // sees the queue empty.
            Appended::Queued { delivering: true } => Ok(()),
            Appended::Queued { delivering: false } => {
                self.deliver_queue(room, sender).await;
                Ok(())
            }
        }
    }

    async fn peer_gone(
        &self,
        room: &RoomId,
        connection: &ConnectionId,
    ) -> Result<(), ServiceError> {
        let limits = &self.settings.limits;
        update_room(&*self.store, &*self.clock, room, |slot, now| {
            rules::detach(slot, connection, now, limits)
        })
        .await
        .map(|_| ())
    }

    /// The registered connection of `sender`'s peer in `room`, if any.
    async fn peer_of(
        &self,
        room: &RoomId,
        sender: &ClientId,
    ) -> Result<Option<ConnectionId>, StoreError> {
        let loaded = self.store.load(room).await?;
        Ok(rules::peer_connection(
            &loaded.map(|v| v.room),
            sender,
            self.now(),
        ))
    }

    /// Delivers `member`'s queue if frames wait in it and nobody delivers them.
    /// Returns whether it did.
    async fn deliver_waiting(&self, room: &RoomId, member: &ClientId) -> Result<bool, StoreError> {
        let q = self.store.queue(room, member).await?;
        if q.frames.is_empty() || q.delivering(self.now()) {
            return Ok(false);
        }
        self.deliver_queue(room, member).await;
        Ok(true)
    }

    /// Delivers `sender`'s queue (a canonical id) to its peer's registered connection, if
    /// nobody else is delivering it, batch by batch until it is empty. Frames leave the queue
    /// only once posted. When the peer's socket is gone, it releases the lease, keeping the
    /// frames, and looks once more whether the peer is registered now: a registration that found
    /// the lease held is not left waiting for it. When it cannot finish before its invocation's
    /// deadline (posts keep failing, the store fails, too much to post), it hands the queue off
    /// to a fresh invocation ([`Handoffs`]).
    async fn deliver_queue(&self, room: &RoomId, sender: &ClientId) {
        let token = token();
        let q = self.queue_limits();
        let until = work_until();
        let mut posted: Vec<String> = Vec::new();
        let mut holding = false;
        let mut backoff = Backoff::new();
        loop {
            if holding && tokio::time::Instant::now() >= until {
                tracing::info!(%room, client = %sender, "queue delivery out of time; handed off");
                self.release(room, sender, token, &posted, true).await;
                return;
            }
            let peer = match self.peer_of(room, sender).await {
                Ok(peer) => peer,
                Err(e) => {
                    tracing::warn!(%room, client = %sender, error = %e, "queue delivery stopped");
                    if holding {
                        self.release(room, sender, token, &posted, true).await;
                    }
                    return;
                }
            };
            let Some(connection) = peer else {
                if holding {
                    self.release(room, sender, token, &posted, false).await;
                    posted.clear();
                    holding = false;
                    // Registered meanwhile? Then deliver after all.
                    if matches!(self.peer_of(room, sender).await, Ok(Some(_))) {
                        continue;
                    }
                }
                return;
            };
            let step = self
                .store
                .step(room, sender, token, &posted, self.now(), &q)
                .await;
            posted.clear();
            let frames = match step {
                Ok(Step::Deliver(frames)) => frames,
                Ok(Step::Done | Step::Busy) => return,
                Err(e) => {
                    // Nothing was removed that had not been posted; the lease expires.
                    tracing::warn!(%room, client = %sender, error = %e, "queue delivery stopped");
                    return;
                }
            };
            holding = true;
            // The lease runs for DELIVERY_LEASE from this step: past half of it, the next step
            // (which removes what was posted) renews it before anyone may take it over and post
            // the same frames again.
            let renew_at = tokio::time::Instant::now() + DELIVERY_LEASE / 2;
            let mut failure = None;
            for f in frames {
                if tokio::time::Instant::now() >= renew_at.min(until) {
                    break;
                }
                // A post still under way at the deadline counts as failed (it may have gone
                // out: the frame is then posted twice, never lost).
                let post = self.connections.post(&connection, &f);
                match tokio::time::timeout_at(until, post).await {
                    Ok(Ok(())) => posted.push(f),
                    Ok(Err(e)) => {
                        failure = Some(e);
                        break;
                    }
                    Err(_) => break,
                }
            }
            match failure {
                None => {}
                // The peer's socket is gone: it keeps its place for the grace, and the next
                // round finds no peer (the lease is released) or a newer socket of the peer.
                Some(PostError::Gone) => {
                    if let Err(e) = self.peer_gone(room, &connection).await {
                        tracing::warn!(%room, client = %sender, error = %e, "queue delivery stopped");
                        self.release(room, sender, token, &posted, true).await;
                        return;
                    }
                }
                Some(PostError::Failed(e)) if !backoff.wait().await => {
                    tracing::warn!(%room, client = %sender, error = %e, "queue delivery failed; handed off");
                    self.release(room, sender, token, &posted, true).await;
                    return;
                }
                // Posted again, from the first frame not posted, after the wait.
                Some(PostError::Failed(_)) => {}
            }
        }
    }

    /// Removes the `posted` frames and gives up the lease `token` holds on `sender`'s queue,
    /// keeping the rest; with `hand_off` (and a [`Handoffs`] to start it), hands the queue off.
    async fn release(
        &self,
        room: &RoomId,
        sender: &ClientId,
        token: u64,
        posted: &[String],
        hand_off: bool,
    ) {
        let q = self.queue_limits();
        let now = self.now();
        let step = self.store.step(room, sender, token, posted, now, &q).await;
        let hand_off = hand_off && self.handoffs.is_some();
        let released = match step {
            Ok(Step::Deliver(_)) => self.store.release(room, sender, token, hand_off).await,
            Ok(Step::Done | Step::Busy) => Ok(false),
            Err(e) => Err(e),
        };
        match (released, &self.handoffs) {
            (Ok(true), Some(handoffs)) => handoffs.handed_off(room, sender),
            (Ok(_), _) => {}
            (Err(e), _) => {
                tracing::warn!(%room, client = %sender, error = %e, "could not release a queue");
            }
        }
    }

    /// Delivers `member`'s queue in `room` if frames wait in it and nobody delivers them (the
    /// invocation a hand-off starts). Returns whether it did.
    pub async fn drain(&self, room: &RoomId, member: &ClientId) -> Result<bool, ServiceError> {
        Ok(self.deliver_waiting(room, &member.canonical()).await?)
    }

    /// The connection closed (`$disconnect`): its member keeps its place for the reconnect grace,
    /// and a registration of it handled later fails.
    pub async fn on_disconnect(&self, connection: &ConnectionId) {
        let closed = self
            .store
            .close_connection(connection, self.record_until())
            .await;
        let (room, client) = match closed {
            Ok(Some(registration)) => registration,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not record disconnect");
                return;
            }
        };
        if let Err(e) = self.peer_gone(&room, connection).await {
            tracing::warn!(%room, %client, error = %e, "could not record disconnect");
        }
    }

    /// Keep-alive sweep (a scheduled invocation): posts [`KEEPALIVE_FRAME`] to every registered
    /// connection, which resets API Gateway's idle timeout; handles the missed `$disconnect` of
    /// every connection found gone; delivers queues left waiting by a deliverer that died.
    pub async fn sweep(&self) -> Result<Sweep, ServiceError> {
        let mut report = Sweep::default();
        let mut open = Vec::new();
        for (connection, room, client) in self.store.registered_connections().await? {
            match self.connections.post(&connection, KEEPALIVE_FRAME).await {
                Ok(()) => {
                    report.kept_alive += 1;
                    open.push((room, client.canonical()));
                }
                Err(PostError::Gone) => {
                    self.on_disconnect(&connection).await;
                    report.gone += 1;
                }
                Err(PostError::Failed(e)) => {
                    tracing::warn!(%room, error = %e, "keep-alive post failed");
                }
            }
        }
        // A queue is deliverable only while its sender's peer is registered, and in a call both
        // are: the queues of the registered members are the ones to look at (a read each; no
        // room is read).
        for (room, member) in open {
            if self.deliver_waiting(&room, &member).await? {
                report.flushed += 1;
            }
        }
        Ok(report)
    }

    /// Detaches the members of `room` whose registered connection is gone without a handled
    /// `$disconnect` (late or lost): each keeps its place for the reconnect grace from now, as
    /// after a `$disconnect`, and a ghost frees the room when the grace ends. Returns whether
    /// anyone was detached.
    pub async fn detach_dead(&self, room: &RoomId) -> Result<bool, ServiceError> {
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
        let limits = &self.settings.limits;
        update_room(&*self.store, &*self.clock, room, |slot, now| {
            dead.iter()
                .filter(|c| rules::detach(slot, c, now, limits).is_some())
                .count()
                > 0
        })
        .await
    }

    /// Collider `POST <wss_post_url>/<room>/<client>`: relays the body as a message of a client
    /// that joined `room` (or left it, for its last words).
    pub async fn post(
        &self,
        room: &RoomId,
        client: &ClientId,
        body: &[u8],
    ) -> Result<(), PostRefused> {
        if body.is_empty() {
            return Err(PostRefused::Empty);
        }
        let slot = match self.store.load(room).await {
            Ok(loaded) => loaded.map(|v| v.room),
            Err(e) => {
                tracing::warn!(%room, error = %e, "relay store call failed");
                return Err(PostRefused::Unavailable);
            }
        };
        let now = self.now();
        if !room::is_member(&slot, client, now) && !room::departed(&slot, client, now) {
            return Err(PostRefused::NotIssued);
        }
        let text = std::str::from_utf8(body).map_err(|_| PostRefused::NotUtf8)?;
        self.relay_message(room, client, text.to_owned())
            .await
            .map_err(PostRefused::Relay)
    }

    /// Collider `DELETE <wss_post_url>/<room>/<client>`: closes the client's connection and the
    /// client leaves the room. Unknown ids are fine.
    pub async fn delete(&self, room: &RoomId, client: &ClientId) {
        let connection = self.store.load(room).await.ok().flatten().and_then(|v| {
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
            let limits = &self.settings.limits;
            let left = update_room(&*self.store, &*self.clock, room, |slot, now| {
                room::leave(slot, client, now, limits)
            })
            .await;
            if let Err(e) = left {
                tracing::warn!(%room, %client, error = %e, "leave on DELETE failed");
            }
        }
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
        self.deliver_frame(room, from, ServerFrame::Message(msg).encode(), true)
            .await
    }

    async fn detach_gone(&self, room: &RoomId) {
        if let Err(e) = self.detach_dead(room).await {
            tracing::warn!(%room, error = %e, "liveness check of a full room failed");
        }
    }
}
