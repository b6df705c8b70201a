//! The in-process delivery adapter: a registry of relay rooms (collider semantics, spec §3.6) with
//! one bounded outbound queue per connection. The lock guards only the registry; frames are
//! handed to per-connection channels with `try_send`, never written to a socket under the lock.

use crate::domain::ids::{ClientId, RoomId};
use crate::ports::{DeliveryError, PeerNotifier};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

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

/// Why the hub closes a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// `DELETE` of its id, or its registration was taken over.
    Removed,
    /// Its outbound queue overflowed.
    SlowReader,
    /// The id left the room and a newcomer needed the place.
    Evicted,
}

/// The hub's side of one WebSocket: a bounded frame queue and a close signal.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    id: u64,
    tx: mpsc::Sender<Bytes>,
    kill: Arc<Kill>,
}

#[derive(Debug, Default)]
struct Kill {
    notify: Notify,
    reason: Mutex<Option<CloseReason>>,
    /// Bytes handed to the queue and not yet taken by the writer.
    pending_bytes: AtomicUsize,
}

/// The connection's side: receives frames and close requests.
#[derive(Debug)]
pub struct ConnReceiver {
    /// Frames to write, in order.
    pub frames: FrameQueue,
    /// Resolves when the hub wants the connection closed.
    pub close: CloseSignal,
}

/// The receiving end of one connection's outbound queue.
#[derive(Debug)]
pub struct FrameQueue {
    rx: mpsc::Receiver<Bytes>,
    kill: Arc<Kill>,
}

impl FrameQueue {
    /// The next frame to write; `None` once the hub dropped the connection.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let frame = self.rx.recv().await?;
        self.taken(&frame);
        Some(frame)
    }

    /// The next frame if one is already waiting.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        let frame = self.rx.try_recv().ok()?;
        self.taken(&frame);
        Some(frame)
    }

    fn taken(&self, frame: &Bytes) {
        self.kill
            .pending_bytes
            .fetch_sub(frame.len(), Ordering::Relaxed);
    }
}

/// What became of a frame handed to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Push {
    Queued,
    /// Over the frame or byte cap: the reader is too slow.
    Full,
    /// The connection is going away.
    Closed,
}

/// The hub's request to close a connection.
#[derive(Debug)]
pub struct CloseSignal {
    kill: Arc<Kill>,
}

impl CloseSignal {
    /// Resolves when the hub wants this connection closed, with the reason.
    pub async fn wait(&self) -> CloseReason {
        loop {
            if let Some(r) = lock(&self.kill.reason).clone() {
                return r;
            }
            self.kill.notify.notified().await;
        }
    }
}

impl ConnHandle {
    /// Queues `frame` unless that would pass the frame or byte cap.
    fn push(&self, frame: Bytes, max_bytes: usize) -> Push {
        let len = frame.len();
        let pending = &self.kill.pending_bytes;
        let before = pending.fetch_add(len, Ordering::Relaxed);
        if before > 0 && before + len > max_bytes {
            pending.fetch_sub(len, Ordering::Relaxed);
            return Push::Full;
        }
        match self.tx.try_send(frame) {
            Ok(()) => Push::Queued,
            Err(e) => {
                pending.fetch_sub(len, Ordering::Relaxed);
                match e {
                    mpsc::error::TrySendError::Full(_) => Push::Full,
                    mpsc::error::TrySendError::Closed(_) => Push::Closed,
                }
            }
        }
    }

    fn close(&self, reason: CloseReason) {
        *lock(&self.kill.reason) = Some(reason);
        self.kill.notify.notify_one();
    }

    /// The connection's unique id.
    pub fn id(&self) -> u64 {
        self.id
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug)]
struct Entry {
    client: ClientId,
    conn: Option<ConnHandle>,
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    /// Bumped on every (un)registration so a stale grace timer does nothing.
    epoch: u64,
    was_registered: bool,
}

impl Entry {
    fn new(client: ClientId) -> Self {
        Self {
            client,
            conn: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            epoch: 0,
            was_registered: false,
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

/// A client removed after its grace period, which had been registered (so the room should
/// forget it too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    /// Room.
    pub room: RoomId,
    /// Client.
    pub client: ClientId,
}

/// Result of attaching a socket.
#[derive(Debug)]
pub enum Attach {
    /// Registered; queued frames were flushed to it.
    Registered,
    /// This id already has a live socket.
    Duplicate,
    /// Two other ids hold the room; listed so the caller can check whether they are stale.
    Full(Vec<ClientId>),
}

/// The registry of relay rooms.
#[derive(Debug)]
pub struct Hub {
    rooms: Mutex<HashMap<RoomId, Vec<Entry>>>,
    limits: RelayLimits,
    next_conn: AtomicU64,
    expired: mpsc::UnboundedSender<Expired>,
    /// Grace timers hold only a weak reference, so a dropped hub stops them.
    me: Weak<Hub>,
    /// Counters for `/status`.
    pub stats: Stats,
}

impl Hub {
    /// A hub and the stream of clients removed after their grace period.
    pub fn new(limits: RelayLimits) -> (Arc<Self>, mpsc::UnboundedReceiver<Expired>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let hub = Arc::new_cyclic(|me| Self {
            rooms: Mutex::new(HashMap::new()),
            limits,
            next_conn: AtomicU64::new(1),
            expired: tx,
            me: me.clone(),
            stats: Stats::default(),
        });
        (hub, rx)
    }

    /// The limits in force.
    pub fn limits(&self) -> &RelayLimits {
        &self.limits
    }

    /// A new connection's queue pair.
    pub fn connection(&self) -> (ConnHandle, ConnReceiver) {
        let (tx, rx) = mpsc::channel(self.limits.outbound_queue.max(1));
        let kill = Arc::new(Kill::default());
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        (
            ConnHandle {
                id,
                tx,
                kill: kill.clone(),
            },
            ConnReceiver {
                frames: FrameQueue {
                    rx,
                    kill: kill.clone(),
                },
                close: CloseSignal { kill },
            },
        )
    }

    /// Registers `conn` as `client` in `room` and flushes what the other client queued.
    pub fn attach(&self, room: &RoomId, client: &ClientId, conn: &ConnHandle) -> Attach {
        let mut rooms = lock(&self.rooms);
        let entries = rooms.entry(room.clone()).or_default();
        let idx = match entries.iter().position(|e| &e.client == client) {
            Some(i) if entries[i].conn.is_some() => return Attach::Duplicate,
            Some(i) => i,
            None if entries.len() >= 2 => {
                return Attach::Full(entries.iter().map(|e| e.client.clone()).collect());
            }
            None => {
                entries.push(Entry::new(client.clone()));
                entries.len() - 1
            }
        };
        let me = &mut entries[idx];
        me.conn = Some(conn.clone());
        me.epoch += 1;
        me.was_registered = true;
        if let Some(other) = entries.iter_mut().find(|e| &e.client != client) {
            for frame in other.queue.drain(..) {
                if conn.push(frame, self.limits.outbound_bytes) != Push::Queued {
                    conn.close(CloseReason::SlowReader);
                    break;
                }
            }
            other.queued_bytes = 0;
        }
        self.stats.open_ws.fetch_add(1, Ordering::Relaxed);
        self.stats.total_ws.fetch_add(1, Ordering::Relaxed);
        Attach::Registered
    }

    /// Removes `client` from `room` (closing its socket); returns whether it was there.
    pub fn remove(&self, room: &RoomId, client: &ClientId, reason: CloseReason) -> bool {
        let mut rooms = lock(&self.rooms);
        let Some(entries) = rooms.get_mut(room) else {
            return false;
        };
        let Some(i) = entries.iter().position(|e| &e.client == client) else {
            return false;
        };
        let entry = entries.swap_remove(i);
        if entries.is_empty() {
            rooms.remove(room);
        }
        drop(rooms);
        if let Some(conn) = entry.conn {
            self.stats.open_ws.fetch_sub(1, Ordering::Relaxed);
            conn.close(reason);
        }
        true
    }

    /// Whether the hub knows `client` in `room` (registered or within its grace).
    pub fn contains(&self, room: &RoomId, client: &ClientId) -> bool {
        lock(&self.rooms)
            .get(room)
            .is_some_and(|es| es.iter().any(|e| &e.client == client))
    }

    /// Whether `client` in `room` has a registered socket now.
    pub fn is_registered(&self, room: &RoomId, client: &ClientId) -> bool {
        lock(&self.rooms)
            .get(room)
            .is_some_and(|es| es.iter().any(|e| &e.client == client && e.conn.is_some()))
    }

    /// The socket `conn` closed: `client` keeps its place (and its queue) for the grace period.
    pub fn detach(&self, room: &RoomId, client: &ClientId, conn: &ConnHandle) {
        let mut rooms = lock(&self.rooms);
        let Some(entry) = rooms
            .get_mut(room)
            .and_then(|es| es.iter_mut().find(|e| &e.client == client))
        else {
            return;
        };
        if entry.conn.as_ref().map(ConnHandle::id) != Some(conn.id) {
            return;
        }
        entry.conn = None;
        entry.epoch += 1;
        let epoch = entry.epoch;
        drop(rooms);
        self.stats.open_ws.fetch_sub(1, Ordering::Relaxed);
        self.expire_later(room.clone(), client.clone(), epoch);
    }

    fn expire_later(&self, room: RoomId, client: ClientId, epoch: u64) {
        let hub = self.me.clone();
        let grace = self.limits.reconnect_grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if let Some(hub) = hub.upgrade() {
                hub.expire(room, client, epoch);
            }
        });
    }

    fn expire(&self, room: RoomId, client: ClientId, epoch: u64) {
        let mut rooms = lock(&self.rooms);
        let Some(entries) = rooms.get_mut(&room) else {
            return;
        };
        let Some(i) = entries
            .iter()
            .position(|e| e.client == client && e.epoch == epoch && e.conn.is_none())
        else {
            return;
        };
        let entry = entries.swap_remove(i);
        if entries.is_empty() {
            rooms.remove(&room);
        }
        drop(rooms);
        tracing::debug!(%room, %client, "relay place expired");
        if entry.was_registered {
            let _ = self.expired.send(Expired { room, client });
        }
    }

    /// Relays `frame` (an encoded server frame) from `from`: to the other client's socket, or onto
    /// `from`'s queue while the other is absent or unregistered. `queue_if_alone = false` drops a
    /// message that has nobody to go to (used for `bye`).
    pub fn relay(
        &self,
        room: &RoomId,
        from: &ClientId,
        frame: Bytes,
        queue_if_alone: bool,
    ) -> Result<(), DeliveryError> {
        let mut rooms = lock(&self.rooms);
        // The common case (the room exists) must not allocate a key per message.
        if !rooms.contains_key(room) {
            rooms.insert(room.clone(), Vec::new());
        }
        let Some(entries) = rooms.get_mut(room) else {
            return Err(DeliveryError::Unavailable("relay room vanished".to_owned()));
        };
        let me = match entries.iter().position(|e| &e.client == from) {
            Some(i) => i,
            None if entries.len() >= 2 => return Err(DeliveryError::RoomFull),
            // A departing client's last word (its `bye` after its DELETE): to the other one if
            // it is there, without taking a place.
            None if !queue_if_alone => {
                let conn = entries.first().and_then(|e| e.conn.clone());
                drop(rooms);
                if let Some(conn) = conn
                    && conn.push(frame, self.limits.outbound_bytes) == Push::Full
                {
                    conn.close(CloseReason::SlowReader);
                }
                return Ok(());
            }
            None => {
                // Created by an HTTP POST (spec §3.6): kept for the grace period unless it
                // registers.
                let mut e = Entry::new(from.clone());
                e.epoch = 1;
                entries.push(e);
                self.expire_later(room.clone(), from.clone(), 1);
                entries.len() - 1
            }
        };
        let other = entries.iter().position(|e| &e.client != from);
        if let Some(o) = other {
            if let Some(conn) = entries[o].conn.clone() {
                drop(rooms);
                return match conn.push(frame, self.limits.outbound_bytes) {
                    Push::Queued => Ok(()),
                    Push::Full => {
                        conn.close(CloseReason::SlowReader);
                        Err(DeliveryError::QueueFull)
                    }
                    // The socket is closing; its detach will follow. Like a missing peer.
                    Push::Closed => Ok(()),
                };
            }
        } else if !queue_if_alone {
            return Ok(());
        }
        let sender = &mut entries[me];
        if sender.queue.len() >= self.limits.max_queued_messages
            || sender.queued_bytes + frame.len() > self.limits.max_queued_bytes
        {
            return Err(DeliveryError::QueueFull);
        }
        sender.queued_bytes += frame.len();
        sender.queue.push_back(frame);
        Ok(())
    }

    /// Number of relay rooms (for tests and metrics).
    pub fn room_count(&self) -> usize {
        lock(&self.rooms).len()
    }
}

#[async_trait]
impl PeerNotifier for Hub {
    async fn deliver(
        &self,
        room: &RoomId,
        from: &ClientId,
        msg: &str,
    ) -> Result<(), DeliveryError> {
        self.relay(
            room,
            from,
            Bytes::from(crate::relay::frame::encode(msg, "")),
            true,
        )
    }
}
