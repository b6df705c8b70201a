//! The in-process delivery adapter: a registry of relay rooms (collider semantics,
//! docs/protocol.md §3.6) with one bounded outbound queue per connection. The lock guards only the registry; frames are
//! handed to per-connection queues, never written to a socket under the lock.

use crate::domain::ids::{ClientId, RoomId};
use crate::ports::{DeliveryError, PeerNotifier};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
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
    shared: Arc<Conn>,
}

/// What the hub and a connection's task share. The queue allocates only while frames wait, so an
/// idle connection costs this struct alone.
#[derive(Debug, Default)]
struct Conn {
    state: Mutex<ConnState>,
    /// Wakes the writer: frames were queued.
    queued: Notify,
    /// Wakes the connection: the hub wants it closed.
    closing: Notify,
}

#[derive(Debug, Default)]
struct ConnState {
    frames: VecDeque<Bytes>,
    /// Bytes of `frames`.
    bytes: usize,
    close: Option<CloseReason>,
    /// The connection's task ended: nothing more is queued.
    gone: bool,
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
    shared: Arc<Conn>,
}

impl FrameQueue {
    /// Every frame waiting, in order, once there is at least one. The frames count as taken
    /// (out of the slow-reader caps) from here on. Cancel-safe.
    pub async fn recv_all(&mut self) -> VecDeque<Bytes> {
        loop {
            {
                let mut st = lock(&self.shared.state);
                if !st.frames.is_empty() {
                    st.bytes = 0;
                    return std::mem::take(&mut st.frames);
                }
            }
            self.shared.queued.notified().await;
        }
    }
}

impl Drop for FrameQueue {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        st.gone = true;
        st.frames = VecDeque::new();
        st.bytes = 0;
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
    shared: Arc<Conn>,
}

impl CloseSignal {
    /// Resolves when the hub wants this connection closed, with the reason.
    pub async fn wait(&self) -> CloseReason {
        loop {
            if let Some(r) = lock(&self.shared.state).close.clone() {
                return r;
            }
            self.shared.closing.notified().await;
        }
    }
}

impl ConnHandle {
    /// Queues `frame` unless that would pass the frame or byte cap (a frame larger than the byte
    /// cap still goes to an empty queue).
    fn push(&self, frame: Bytes, limits: &RelayLimits) -> Push {
        let mut st = lock(&self.shared.state);
        if st.gone {
            return Push::Closed;
        }
        let len = frame.len();
        if st.frames.len() >= limits.outbound_queue.max(1)
            || (st.bytes > 0 && st.bytes + len > limits.outbound_bytes)
        {
            return Push::Full;
        }
        st.frames.push_back(frame);
        st.bytes += len;
        drop(st);
        self.shared.queued.notify_one();
        Push::Queued
    }

    fn close(&self, reason: CloseReason) {
        lock(&self.shared.state).close = Some(reason);
        self.shared.closing.notify_one();
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
        let shared = Arc::new(Conn::default());
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        (
            ConnHandle {
                id,
                shared: shared.clone(),
            },
            ConnReceiver {
                frames: FrameQueue {
                    shared: shared.clone(),
                },
                close: CloseSignal { shared },
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
                if conn.push(frame, &self.limits) != Push::Queued {
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
                    && conn.push(frame, &self.limits) == Push::Full
                {
                    conn.close(CloseReason::SlowReader);
                }
                return Ok(());
            }
            None => {
                // Created by an HTTP POST (docs/protocol.md §3.6): kept for the grace period unless it
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
                return match conn.push(frame, &self.limits) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(frames: usize, bytes: usize) -> RelayLimits {
        RelayLimits {
            outbound_queue: frames,
            outbound_bytes: bytes,
            ..RelayLimits::default()
        }
    }

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[tokio::test]
    async fn the_queue_keeps_order_and_its_caps_and_holds_nothing_once_taken() {
        let (hub, _expired) = Hub::new(RelayLimits::default());
        let (conn, mut rx) = hub.connection();
        let l = limits(3, 100);
        assert_eq!(conn.push(frame(60), &l), Push::Queued);
        assert_eq!(conn.push(frame(50), &l), Push::Full, "byte cap");
        assert_eq!(conn.push(frame(40), &l), Push::Queued);
        assert_eq!(conn.push(Bytes::new(), &l), Push::Queued);
        assert_eq!(conn.push(Bytes::new(), &l), Push::Full, "frame cap");
        let batch = rx.frames.recv_all().await;
        assert_eq!(
            batch.iter().map(Bytes::len).collect::<Vec<_>>(),
            [60, 40, 0]
        );
        {
            let st = lock(&conn.shared.state);
            assert_eq!((st.frames.capacity(), st.bytes), (0, 0));
        }
        // Taken frames no longer count: a frame over the byte cap still goes to an empty queue.
        assert_eq!(conn.push(frame(500), &l), Push::Queued);
        assert_eq!(rx.frames.recv_all().await.len(), 1);
        drop(rx);
        assert_eq!(conn.push(frame(1), &l), Push::Closed);
    }

    #[tokio::test]
    async fn a_waiting_writer_wakes_for_a_frame_and_a_close_request() {
        let (hub, _expired) = Hub::new(RelayLimits::default());
        let (conn, mut rx) = hub.connection();
        let waiter = tokio::spawn(async move {
            let batch = rx.frames.recv_all().await;
            let reason = rx.close.wait().await;
            (batch.len(), reason)
        });
        tokio::task::yield_now().await;
        assert_eq!(conn.push(frame(3), &RelayLimits::default()), Push::Queued);
        conn.close(CloseReason::SlowReader);
        let (n, reason) = waiter.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((n, reason), (1, CloseReason::SlowReader));
    }
}
