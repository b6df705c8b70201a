//! This process's sockets (the emulator's WebSockets): one bounded outbound queue and a close
//! signal per socket, the registry that implements the [`Connections`] port over them, so that the
//! relay posts to a socket of this process the way it posts to an API Gateway connection, and the
//! relay's host for them ([`SocketRelay`]): each socket's session knows its registration,
//! because a socket's frames arrive in order; the relay use case ([`StoredRelay`]) decides
//! everything else. Frames are handed to a queue and written by the socket's own task, never under
//! a lock. The counters of the collider's `GET /status` are kept here.

use crate::config::{RelayLimits, Settings};
use crate::domain::ids::{ClientId, ConnectionId, RoomId};
use crate::domain::message::RelayError;
use crate::http::{HttpResponse, RelayStatus};
use crate::ports::{Clock, Connections, PeerNotifier, PostError, RoomStore};
use crate::service::relay::{Registered, StoredRelay};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::Notify;

/// Why the relay closes a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// `DELETE` of its id.
    Removed,
    /// Its outbound queue overflowed.
    SlowReader,
}

/// The relay's side of one WebSocket: a bounded frame queue and a close signal.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    id: u64,
    /// The connection id the relay knows it by.
    name: ConnectionId,
}

/// What the relay and a connection's task share. The queue allocates only while frames wait, so an
/// idle connection costs this struct alone.
#[derive(Debug, Default)]
struct Conn {
    state: Mutex<ConnState>,
    /// Wakes the writer: frames were queued.
    queued: Notify,
    /// Wakes the connection: the relay wants it closed.
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
    /// Resolves when the relay wants the connection closed.
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

/// The relay's request to close a connection.
#[derive(Debug)]
pub struct CloseSignal {
    shared: Arc<Conn>,
}

impl CloseSignal {
    /// Resolves when the relay wants this connection closed, with the reason.
    pub async fn wait(&self) -> CloseReason {
        loop {
            if let Some(r) = lock(&self.shared.state).close.clone() {
                return r;
            }
            self.shared.closing.notified().await;
        }
    }
}

impl Conn {
    /// Queues `frame` unless that would pass the frame or byte cap (a frame larger than the byte
    /// cap still goes to an empty queue).
    fn push(&self, frame: Bytes, limits: &RelayLimits) -> Push {
        let mut st = lock(&self.state);
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
        self.queued.notify_one();
        Push::Queued
    }

    fn close(&self, reason: CloseReason) {
        lock(&self.state).close = Some(reason);
        self.closing.notify_one();
    }
}

impl ConnHandle {
    /// The connection id the relay knows this socket by.
    pub fn name(&self) -> &ConnectionId {
        &self.name
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The registry of this process's sockets, by connection id. Connection ids carry a prefix drawn
/// at random per registry, so two processes that share one room table never take each other's
/// connections for their own.
#[derive(Debug)]
pub struct Sockets {
    prefix: String,
    next: AtomicU64,
    /// Keyed by our own sequence numbers, so a fast hash needs no protection against chosen keys.
    open: Mutex<HashMap<u64, Arc<Conn>, foldhash::fast::FixedState>>,
    limits: RelayLimits,
}

impl Sockets {
    /// An empty registry whose queues have `limits`' outbound caps.
    pub fn new(limits: RelayLimits) -> Self {
        let mut b = [0u8; 4];
        let salt = match getrandom::fill(&mut b) {
            Ok(()) => u32::from_le_bytes(b),
            Err(_) => std::process::id(),
        };
        Self {
            prefix: format!("local-{salt:08x}-"),
            next: AtomicU64::new(1),
            open: Mutex::new(HashMap::default()),
            limits,
        }
    }

    /// A new socket's queue pair, registered under its connection id.
    pub fn open(&self) -> (ConnHandle, ConnReceiver) {
        let shared = Arc::new(Conn::default());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let handle = ConnHandle {
            id,
            name: ConnectionId::new(format!("{}{id}", self.prefix)),
        };
        lock(&self.open).insert(id, shared.clone());
        (
            handle,
            ConnReceiver {
                frames: FrameQueue {
                    shared: shared.clone(),
                },
                close: CloseSignal { shared },
            },
        )
    }

    /// The socket's task ended.
    pub fn forget(&self, conn: &ConnHandle) {
        lock(&self.open).remove(&conn.id);
    }

    /// Sockets open now.
    pub fn len(&self) -> usize {
        lock(&self.open).len()
    }

    /// Whether no socket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn find(&self, connection: &ConnectionId) -> Option<Arc<Conn>> {
        let id = connection
            .as_str()
            .strip_prefix(&self.prefix)?
            .parse()
            .ok()?;
        lock(&self.open).get(&id).cloned()
    }
}

#[async_trait]
impl Connections for Sockets {
    async fn post(&self, connection: &ConnectionId, frame: &str) -> Result<(), PostError> {
        let Some(conn) = self.find(connection) else {
            return Err(PostError::Gone);
        };
        match conn.push(Bytes::copy_from_slice(frame.as_bytes()), &self.limits) {
            Push::Queued => Ok(()),
            // A reader that stopped reading is disconnected; its client may come back.
            Push::Full => {
                conn.close(CloseReason::SlowReader);
                Err(PostError::Gone)
            }
            Push::Closed => Err(PostError::Gone),
        }
    }

    async fn is_open(&self, connection: &ConnectionId) -> Result<bool, PostError> {
        Ok(self.find(connection).is_some_and(|c| !lock(&c.state).gone))
    }

    async fn close(&self, connection: &ConnectionId) {
        if let Some(conn) = self.find(connection) {
            conn.close(CloseReason::Removed);
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

/// The relay for sockets of this process.
#[derive(Debug)]
pub struct SocketRelay {
    relay: StoredRelay,
    sockets: Arc<Sockets>,
    started: Instant,
    /// Counters for `/status`.
    pub stats: Stats,
}

impl SocketRelay {
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

    /// The relay use case, for the collider's HTTP side.
    pub fn stored(&self) -> &StoredRelay {
        &self.relay
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
        let known = Registered::Known(session.registered.as_ref());
        // Boxed: a socket's task holds this future for its whole life, sized for its largest
        // state, and the relay's operations are large.
        let registered = Box::pin(self.relay.on_text(session.conn.name(), known, text)).await?;
        if registered.is_some() {
            self.stats.open_ws.fetch_add(1, Ordering::Relaxed);
            self.stats.total_ws.fetch_add(1, Ordering::Relaxed);
            session.registered = registered;
        }
        Ok(())
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

    /// Counts a collider HTTP answer that was an error.
    pub fn count_http(&self, res: &HttpResponse) {
        if !res.status().is_success() {
            self.stats.http_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters of `GET /status` (docs/protocol.md §3.8).
    pub fn status(&self) -> RelayStatus {
        let s = &self.stats;
        RelayStatus {
            upsec: self.started.elapsed().as_secs_f64(),
            openws: s.open_ws.load(Ordering::Relaxed),
            totalws: s.total_ws.load(Ordering::Relaxed),
            wserrors: s.ws_errors.load(Ordering::Relaxed),
            httperrors: s.http_errors.load(Ordering::Relaxed),
        }
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

    /// A registry with one open socket: the registry and the handle (kept, so the socket stays
    /// registered), its shared state and its receiving end.
    fn one_socket() -> (Sockets, ConnHandle, Arc<Conn>, ConnReceiver) {
        let sockets = Sockets::new(RelayLimits::default());
        let (handle, rx) = sockets.open();
        let conn = sockets
            .find(handle.name())
            .unwrap_or_else(|| panic!("registered"));
        (sockets, handle, conn, rx)
    }

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[tokio::test]
    async fn the_queue_keeps_order_and_its_caps_and_holds_nothing_once_taken() {
        let (_sockets, _handle, conn, mut rx) = one_socket();
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
            let st = lock(&conn.state);
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
        let (_sockets, _handle, conn, mut rx) = one_socket();
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

    #[tokio::test]
    async fn posts_reach_the_socket_and_a_slow_or_closed_one_is_reported_gone() {
        let sockets = Sockets::new(limits(2, 1000));
        let (conn, mut rx) = sockets.open();
        let name = conn.name().to_owned();
        assert_eq!(sockets.post(&name, "a").await, Ok(()));
        assert_eq!(sockets.post(&name, "b").await, Ok(()));
        assert_eq!(sockets.is_open(&name).await, Ok(true));
        // A third frame nobody reads: the reader is too slow, its socket is asked to close.
        assert_eq!(sockets.post(&name, "c").await, Err(PostError::Gone));
        assert_eq!(rx.close.wait().await, CloseReason::SlowReader);
        assert_eq!(rx.frames.recv_all().await, [&b"a"[..], &b"b"[..]]);
        // Ids of another registry, or of nothing, are gone too.
        let other = Sockets::new(RelayLimits::default());
        let (foreign, _rx) = other.open();
        assert_eq!(
            sockets.post(foreign.name(), "x").await,
            Err(PostError::Gone)
        );
        assert_eq!(
            sockets.post(&"local-1".into(), "x").await,
            Err(PostError::Gone)
        );
        sockets.close(&name).await;
        assert_eq!(rx.close.wait().await, CloseReason::Removed);
        drop(rx);
        assert_eq!(sockets.is_open(&name).await, Ok(false));
        sockets.forget(&conn);
        assert!(sockets.is_empty());
        assert_eq!(sockets.post(&name, "d").await, Err(PostError::Gone));
    }
}

#[cfg(test)]
mod relay_tests {
    use super::*;

    /// Each socket's task embeds these futures for its whole life, sized for their largest
    /// state: the stored relay's operations stay behind a box, or every idle socket pays for
    /// them (about 1.2 KB more per socket when they were inline).
    #[tokio::test]
    async fn a_socket_task_embeds_only_small_relay_futures() {
        let store: Arc<dyn RoomStore> = Arc::new(crate::adapters::memory::MemoryRoomStore::new());
        let clock: Arc<dyn Clock> = Arc::new(crate::ports::SystemClock);
        let relay = SocketRelay::new(
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
