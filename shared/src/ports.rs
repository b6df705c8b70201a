//! Ports: what the services need from the outside world, as traits with documented error
//! contracts. Adapters implement them (memory and DynamoDB stores; in-process sockets and API
//! Gateway connections).

use crate::domain::ids::{CLIENT_ID_RANDOM_BYTES, ClientId, ConnectionId, RoomId};
use crate::domain::relay::{Appended, MemberQueue, QueueLimits, Step};
use crate::domain::room::{Millis, Room};
use async_trait::async_trait;

/// A stored room with the version the store needs for a compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The room as stored (possibly expired: the rules prune it).
    pub room: Room,
    /// Opaque version; changes with every write.
    pub version: u64,
}

/// What [`RoomStore::read_route`] looks for in a stored record.
pub type RouteLook<'a> = dyn for<'r> Fn(&'r Room) -> Option<ConnectionId> + Sync + 'a;

/// What [`RoomStore::read_route`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// The route's answer, read from the stored record.
    Route(ConnectionId),
    /// The route had no answer (or no record is stored): the record, as loaded.
    Loaded(Option<Versioned>),
}

/// Result of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// Written.
    Done,
    /// Someone else wrote first; reload and retry.
    Conflict,
}

/// Failures of a store that are not domain outcomes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend is down, throttling or too slow; the request may be retried later.
    #[error("room store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The stored record cannot be read back.
    #[error("room record is corrupt")]
    Corrupt(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Storage port. One record per room; writes are all-or-nothing compare-and-swaps so that
/// concurrent requests (and separate Lambda processes) can never admit a third member.
#[async_trait]
pub trait RoomStore: Send + Sync + std::fmt::Debug {
    /// Reads a room. Expired records may be returned; callers prune them.
    async fn load(&self, room: &RoomId) -> Result<Option<Versioned>, StoreError>;

    /// Reads `room` for a decision that usually needs no write (the relay's per-frame route):
    /// when `route` answers from the stored record, that answer is all; otherwise the record as
    /// [`Self::load`] returns it. One read either way. The default loads a copy and looks at it;
    /// a store that keeps records in memory looks in place, under its lock, and copies nothing.
    async fn read_route(&self, room: &RoomId, route: &RouteLook<'_>) -> Result<Routed, StoreError> {
        let loaded = self.load(room).await?;
        Ok(match loaded.as_ref().and_then(|v| route(&v.room)) {
            Some(found) => Routed::Route(found),
            None => Routed::Loaded(loaded),
        })
    }

    /// Writes `new` (or deletes the record when `None`) only if the stored version is still
    /// `expected` (`None`: only if no record exists).
    async fn swap(
        &self,
        room: &RoomId,
        expected: Option<u64>,
        new: Option<&Room>,
    ) -> Result<Swap, StoreError>;

    /// What the record of relay connection `connection` says (deployed relay: every frame
    /// arrives in a separate invocation that only knows its connection id).
    async fn connection(&self, connection: &ConnectionId) -> Result<ConnectionRecord, StoreError>;

    /// Appends `frame` to the frames kept for `connection` while it is not registered (frames
    /// whose invocation ran before their socket's `register`), within the caps of `q`, without
    /// reading the record first: concurrent frames of one socket never conflict. A frame is never
    /// parked once a registration took the parked ones: [`Parked::Registered`] then, and the
    /// caller routes it as a registered connection's frame.
    async fn park_frame(
        &self,
        connection: &ConnectionId,
        frame: &str,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Parked, StoreError>;

    /// Registers `registration.connection` as its client of its room, writes the room (`new`,
    /// which holds the connection) and appends the frames parked on the connection to the
    /// member's queue, in one atomic write, only if the room's version is still `expected` and
    /// the connection record is still `read` (same version, same parked frames; its `closed`
    /// flag is kept). [`Swap::Conflict`] otherwise: the caller reloads both.
    async fn register_connection(
        &self,
        registration: &Registration<'_>,
    ) -> Result<Swap, StoreError>;

    /// Marks `connection` closed (its `$disconnect`, or the relay closed it), so that a
    /// registration handled later leaves at once; returns what it had registered as.
    async fn close_connection(
        &self,
        connection: &ConnectionId,
        expires_at: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError>;

    /// Every registered, unclosed connection (for the keep-alive sweep).
    async fn registered_connections(
        &self,
    ) -> Result<Vec<(ConnectionId, RoomId, ClientId)>, StoreError>;

    /// The queue of frames `member` of `room` sent that wait for its peer (empty when none).
    /// One consistent read.
    async fn queue(&self, room: &RoomId, member: &ClientId) -> Result<MemberQueue, StoreError>;

    /// Appends `frame` to `member`'s queue within the caps of `q` ([`MemberQueue::append`]), in
    /// one write that reads nothing first, so appends never conflict with each other or with a
    /// delivery. `expires_at`: when the queue may be dropped.
    async fn append(
        &self,
        room: &RoomId,
        member: &ClientId,
        frame: &str,
        now: Millis,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Appended, StoreError>;

    /// One step of delivering `member`'s queue for the invocation `token`
    /// ([`MemberQueue::step`]), applied atomically. `posted`: the frames of the previous step's
    /// [`Step::Deliver`] that were posted, a prefix of them (empty for the first step).
    async fn step(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        posted: &[String],
        now: Millis,
        q: &QueueLimits,
    ) -> Result<Step, StoreError>;

    /// Gives up the lease `token` holds on `member`'s queue, keeping its frames, and with
    /// `hand_off` hands the queue off if it may be ([`MemberQueue::release`]), in the same write.
    /// Returns whether it was handed off: the deployed table's stream then starts the invocation
    /// that delivers it (`docs/aws.md`, "No stranded queue").
    async fn release(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        hand_off: bool,
    ) -> Result<bool, StoreError>;
}

/// What [`RoomStore::park_frame`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parked {
    /// Kept for the connection's registration.
    Kept,
    /// The connection registered meanwhile: nothing was kept.
    Registered,
    /// The connection's parked frames are at their cap: nothing was kept.
    Full,
}

/// One registration of a relay connection, written by [`RoomStore::register_connection`].
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    /// The connection that registers.
    pub connection: &'a ConnectionId,
    /// Its record as read before the decision.
    pub read: &'a ConnectionRecord,
    /// The room it registers in.
    pub room: &'a RoomId,
    /// The client it registers as.
    pub client: &'a ClientId,
    /// When the connection record may be dropped.
    pub expires_at: Millis,
    /// The room's version as read (`None`: no record).
    pub expected: Option<u64>,
    /// The room as it is to be written.
    pub new: &'a Room,
}

/// One store call as a [`StoreHook`] sees it, before it runs.
#[derive(Debug, Clone, Copy)]
pub enum StoreCall<'a> {
    /// [`RoomStore::load`], or [`RoomStore::read_route`] (also one read).
    Load(&'a RoomId),
    /// [`RoomStore::swap`]: the room and what is written (`None`: deleted).
    Swap(&'a RoomId, Option<&'a Room>),
    /// [`RoomStore::connection`].
    Connection(&'a ConnectionId),
    /// [`RoomStore::park_frame`].
    ParkFrame(&'a ConnectionId),
    /// [`RoomStore::register_connection`].
    RegisterConnection(&'a Registration<'a>),
    /// [`RoomStore::close_connection`].
    CloseConnection(&'a ConnectionId),
    /// [`RoomStore::registered_connections`].
    RegisteredConnections,
    /// [`RoomStore::queue`]: the room and the member.
    Queue(&'a RoomId, &'a ClientId),
    /// [`RoomStore::append`]: the room and the member.
    Append(&'a RoomId, &'a ClientId),
    /// [`RoomStore::step`]: the room and the member.
    Step(&'a RoomId, &'a ClientId),
    /// [`RoomStore::release`]: the room and the member.
    Release(&'a RoomId, &'a ClientId),
}

impl StoreCall<'_> {
    /// The call's name, as metrics and logs give it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Load(_) => "load",
            Self::Swap(..) => "swap",
            Self::Connection(_) => "connection",
            Self::ParkFrame(_) => "park_frame",
            Self::RegisterConnection(_) => "register_connection",
            Self::CloseConnection(_) => "close_connection",
            Self::RegisteredConnections => "registered_connections",
            Self::Queue(..) => "queue",
            Self::Append(..) => "append",
            Self::Step(..) => "step",
            Self::Release(..) => "release",
        }
    }

    /// The room record the call writes, if it writes one.
    pub fn written_room(&self) -> Option<&Room> {
        match self {
            Self::Swap(_, new) => *new,
            Self::RegisterConnection(r) => Some(r.new),
            _ => None,
        }
    }
}

/// A store call in flight (what `#[async_trait]` methods return).
pub type StoreFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a [`Hooked`] store does around each call of the store it wraps: time it, count it, delay
/// it, or answer in its place.
pub trait StoreHook: Send + Sync + std::fmt::Debug {
    /// Runs `run` (the wrapped store's answer to `call`), or answers without it.
    fn around<'a, T: Send + 'a>(
        &'a self,
        call: StoreCall<'a>,
        run: StoreFuture<'a, T>,
    ) -> impl std::future::Future<Output = Result<T, StoreError>> + Send + 'a;
}

/// A store that passes every call to `inner` through `hook`: the one wrapper for metrics, tests
/// and benchmarks, so that none of them forwards the port by hand.
#[derive(Debug)]
pub struct Hooked<H> {
    inner: std::sync::Arc<dyn RoomStore>,
    hook: H,
}

impl<H: StoreHook> Hooked<H> {
    /// Wraps `inner`.
    pub fn new(inner: std::sync::Arc<dyn RoomStore>, hook: H) -> Self {
        Self { inner, hook }
    }

    /// The hook.
    pub fn hook(&self) -> &H {
        &self.hook
    }
}

#[async_trait]
impl<H: StoreHook> RoomStore for Hooked<H> {
    async fn load(&self, room: &RoomId) -> Result<Option<Versioned>, StoreError> {
        let call = StoreCall::Load(room);
        self.hook.around(call, self.inner.load(room)).await
    }

    async fn read_route(&self, room: &RoomId, route: &RouteLook<'_>) -> Result<Routed, StoreError> {
        let call = StoreCall::Load(room);
        self.hook
            .around(call, self.inner.read_route(room, route))
            .await
    }

    async fn swap(
        &self,
        room: &RoomId,
        expected: Option<u64>,
        new: Option<&Room>,
    ) -> Result<Swap, StoreError> {
        let call = StoreCall::Swap(room, new);
        self.hook
            .around(call, self.inner.swap(room, expected, new))
            .await
    }

    async fn connection(&self, connection: &ConnectionId) -> Result<ConnectionRecord, StoreError> {
        let call = StoreCall::Connection(connection);
        self.hook
            .around(call, self.inner.connection(connection))
            .await
    }

    async fn park_frame(
        &self,
        connection: &ConnectionId,
        frame: &str,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Parked, StoreError> {
        let run = self.inner.park_frame(connection, frame, q, expires_at);
        self.hook
            .around(StoreCall::ParkFrame(connection), run)
            .await
    }

    async fn register_connection(
        &self,
        registration: &Registration<'_>,
    ) -> Result<Swap, StoreError> {
        let call = StoreCall::RegisterConnection(registration);
        self.hook
            .around(call, self.inner.register_connection(registration))
            .await
    }

    async fn close_connection(
        &self,
        connection: &ConnectionId,
        expires_at: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        let call = StoreCall::CloseConnection(connection);
        self.hook
            .around(call, self.inner.close_connection(connection, expires_at))
            .await
    }

    async fn registered_connections(
        &self,
    ) -> Result<Vec<(ConnectionId, RoomId, ClientId)>, StoreError> {
        let call = StoreCall::RegisteredConnections;
        self.hook
            .around(call, self.inner.registered_connections())
            .await
    }

    async fn queue(&self, room: &RoomId, member: &ClientId) -> Result<MemberQueue, StoreError> {
        let call = StoreCall::Queue(room, member);
        self.hook.around(call, self.inner.queue(room, member)).await
    }

    async fn append(
        &self,
        room: &RoomId,
        member: &ClientId,
        frame: &str,
        now: Millis,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Appended, StoreError> {
        let run = self.inner.append(room, member, frame, now, q, expires_at);
        self.hook.around(StoreCall::Append(room, member), run).await
    }

    async fn step(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        posted: &[String],
        now: Millis,
        q: &QueueLimits,
    ) -> Result<Step, StoreError> {
        let run = self.inner.step(room, member, token, posted, now, q);
        self.hook.around(StoreCall::Step(room, member), run).await
    }

    async fn release(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        hand_off: bool,
    ) -> Result<bool, StoreError> {
        let run = self.inner.release(room, member, token, hand_off);
        self.hook
            .around(StoreCall::Release(room, member), run)
            .await
    }
}

/// The record of one relay connection (absent: [`ConnectionRecord::default`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// The room and client it registered as.
    pub registration: Option<(RoomId, ClientId)>,
    /// Its `$disconnect` was handled (frames and a registration handled later still count: the
    /// socket had sent them).
    pub closed: bool,
    /// Frames that arrived before its registration, in order.
    pub parked: Vec<String>,
    /// Version for the conditional writes: changed by a registration or a close, not by parking
    /// a frame (a registration checks the parked frames themselves); `None` while no record
    /// exists.
    pub version: Option<u64>,
}

/// Why a frame could not be posted to a relay connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The connection no longer exists (HTTP 410 from API Gateway).
    #[error("connection gone")]
    Gone,
    /// Any other failure.
    #[error("post to connection failed: {0}")]
    Failed(String),
}

/// Sockets of a relay that lives outside this process (API Gateway WebSocket connections,
/// addressed by connection id through the `@connections` management API).
#[async_trait]
pub trait Connections: Send + Sync + std::fmt::Debug {
    /// Sends one text frame.
    async fn post(&self, connection: &ConnectionId, frame: &str) -> Result<(), PostError>;
    /// Whether the connection is still open.
    async fn is_open(&self, connection: &ConnectionId) -> Result<bool, PostError>;
    /// Closes the connection (best effort).
    async fn close(&self, connection: &ConnectionId);
}

/// What starts a fresh invocation for a queue whose delivery was handed off
/// ([`RoomStore::release`]): a holder that cannot finish (posts failing until its invocation's
/// time is nearly up) leaves the frames to it rather than to the next frame or the keep-alive
/// sweep.
pub trait Handoffs: Send + Sync + std::fmt::Debug {
    /// `member`'s queue in `room` was handed off.
    fn handed_off(&self, room: &RoomId, member: &ClientId);
}

/// Why a delivery to the peer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The relay room already holds two other clients.
    #[error("Max room capacity reached")]
    RoomFull,
    /// The sender's queue (peer not registered yet) is at its cap.
    #[error("Too many messages queued for the client")]
    QueueFull,
    /// The relay cannot be reached.
    #[error("relay unavailable: {0}")]
    Unavailable(String),
}

/// Delivery port: hands a message from `from` to the other client of `room`, or queues it until
/// that client registers (collider semantics).
#[async_trait]
pub trait PeerNotifier: Send + Sync + std::fmt::Debug {
    /// Delivers or queues `msg`.
    async fn deliver(&self, room: &RoomId, from: &ClientId, msg: &str)
    -> Result<(), DeliveryError>;

    /// Detaches the members of `room` whose connection is gone although no disconnect was
    /// handled (a lost or late `$disconnect`): each keeps its place for the reconnect grace from
    /// now. Failures are logged, not answered: the caller's reply stands either way. Without
    /// connections to check, nothing.
    async fn detach_gone(&self, _room: &RoomId) {}
}

/// Time source, injected so that expiry is testable without sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the UNIX epoch.
    fn now(&self) -> Millis;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(crate::domain::room::millis)
            .unwrap_or(0)
    }
}

/// Source of client ids, injected so that tests can force collisions.
pub trait IdSource: Send + Sync + std::fmt::Debug {
    /// A fresh, unguessable client id, or `None` when no randomness is available.
    fn client_id(&self) -> Option<ClientId>;
}

/// Ids from the operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn client_id(&self) -> Option<ClientId> {
        let mut bytes = [0u8; CLIENT_ID_RANDOM_BYTES];
        getrandom::fill(&mut bytes).ok()?;
        Some(ClientId::from_random(bytes))
    }
}
