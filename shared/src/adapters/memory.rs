//! In-memory room store: the emulator's default and the reference for the contract tests.

use crate::domain::ids::{ClientId, ConnectionId, RoomId};
use crate::domain::relay::{Appended, MemberQueue, QueueLimits, Step};
use crate::domain::room::{Millis, Room};
use crate::ports::{
    ConnectionRecord, Parked, Registration, RoomStore, RouteLook, Routed, StoreError, Swap,
    Versioned,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

/// Rooms in a map behind one lock (held for microseconds, never across an await).
#[derive(Debug, Default)]
pub struct MemoryRoomStore {
    rooms: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    rooms: HashMap<RoomId, Versioned>,
    next_version: u64,
    connections: HashMap<ConnectionId, Conn>,
    queues: HashMap<(RoomId, ClientId), Queued>,
}

#[derive(Debug, Default)]
struct Queued {
    queue: MemberQueue,
    expires_at: Millis,
}

#[derive(Debug)]
struct Conn {
    record: ConnectionRecord,
    expires_at: Millis,
}

impl Inner {
    fn version(&mut self) -> u64 {
        self.next_version += 1;
        self.next_version
    }

    /// The connection's item; created when absent, with a version, as a registration's
    /// condition needs one.
    fn connection_item(&mut self, connection: &ConnectionId, expires_at: Millis) -> &mut Conn {
        let fresh = self.version();
        self.connections
            .entry(connection.clone())
            .or_insert_with(|| Conn {
                record: ConnectionRecord {
                    version: Some(fresh),
                    ..ConnectionRecord::default()
                },
                expires_at,
            })
    }

    /// Writes `new` if the stored version is `expected`.
    fn swap(&mut self, room: &RoomId, expected: Option<u64>, new: Option<&Room>) -> Swap {
        if self.rooms.get(room).map(|v| v.version) != expected {
            return Swap::Conflict;
        }
        match new {
            Some(r) => {
                let version = self.version();
                self.rooms.insert(
                    room.clone(),
                    Versioned {
                        room: r.clone(),
                        version,
                    },
                );
            }
            None => {
                self.rooms.remove(room);
            }
        }
        Swap::Done
    }
}

impl MemoryRoomStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops records that expired or whose every member's deadline passed; returns how many.
    /// (Reads ignore such records anyway; this only returns memory.)
    pub fn sweep(&self, now: Millis) -> usize {
        let mut inner = self.inner();
        let before = inner.rooms.len();
        inner.rooms.retain(|_, v| {
            let mut slot = Some(v.room.clone());
            crate::domain::room::prune(&mut slot, now);
            slot.is_some()
        });
        inner.connections.retain(|_, c| now < c.expires_at);
        inner.queues.retain(|_, q| now < q.expires_at);
        before - inner.rooms.len()
    }

    /// Number of stored records.
    pub fn len(&self) -> usize {
        self.inner().rooms.len()
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl RoomStore for MemoryRoomStore {
    async fn load(&self, room: &RoomId) -> Result<Option<Versioned>, StoreError> {
        Ok(self.inner().rooms.get(room).cloned())
    }

    async fn read_route(&self, room: &RoomId, route: &RouteLook<'_>) -> Result<Routed, StoreError> {
        let inner = self.inner();
        let stored = inner.rooms.get(room);
        Ok(match stored.and_then(|v| route(&v.room)) {
            Some(found) => Routed::Route(found),
            None => Routed::Loaded(stored.cloned()),
        })
    }

    async fn swap(
        &self,
        room: &RoomId,
        expected: Option<u64>,
        new: Option<&Room>,
    ) -> Result<Swap, StoreError> {
        Ok(self.inner().swap(room, expected, new))
    }

    async fn connection(&self, connection: &ConnectionId) -> Result<ConnectionRecord, StoreError> {
        Ok(self
            .inner()
            .connections
            .get(connection)
            .map(|c| c.record.clone())
            .unwrap_or_default())
    }

    async fn park_frame(
        &self,
        connection: &ConnectionId,
        frame: &str,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Parked, StoreError> {
        let mut inner = self.inner();
        let conn = inner.connection_item(connection, expires_at);
        let record = &mut conn.record;
        if record.registration.is_some() {
            return Ok(Parked::Registered);
        }
        let bytes: usize = record.parked.iter().map(String::len).sum();
        if record.parked.len() >= q.max_frames || bytes + frame.len() > q.max_bytes {
            return Ok(Parked::Full);
        }
        record.parked.push(frame.to_owned());
        conn.expires_at = expires_at;
        Ok(Parked::Kept)
    }

    async fn register_connection(&self, r: &Registration<'_>) -> Result<Swap, StoreError> {
        let mut inner = self.inner();
        let current = inner.connections.get(r.connection).map(|c| &c.record);
        if current.and_then(|c| c.version) != r.read.version
            || current.map_or(0, |c| c.parked.len()) != r.read.parked.len()
            || inner.rooms.get(r.room).map(|v| v.version) != r.expected
        {
            return Ok(Swap::Conflict);
        }
        inner.swap(r.room, r.expected, Some(r.new));
        if !r.read.parked.is_empty() {
            let queued = inner
                .queues
                .entry((r.room.clone(), r.client.canonical()))
                .or_default();
            queued.queue.extend(&r.read.parked);
            queued.expires_at = queued.expires_at.max(r.expires_at);
        }
        let version = inner.version();
        inner.connections.insert(
            r.connection.clone(),
            Conn {
                record: ConnectionRecord {
                    registration: Some((r.room.clone(), r.client.clone())),
                    closed: r.read.closed,
                    parked: Vec::new(),
                    version: Some(version),
                },
                expires_at: r.expires_at,
            },
        );
        Ok(Swap::Done)
    }

    async fn close_connection(
        &self,
        connection: &ConnectionId,
        expires_at: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        let mut inner = self.inner();
        let version = inner.version();
        let conn = inner.connection_item(connection, expires_at);
        conn.record.closed = true;
        conn.record.version = Some(version);
        conn.expires_at = expires_at;
        Ok(conn.record.registration.clone())
    }

    async fn registered_connections(
        &self,
    ) -> Result<Vec<(ConnectionId, RoomId, ClientId)>, StoreError> {
        Ok(self
            .inner()
            .connections
            .iter()
            .filter(|(_, c)| !c.record.closed)
            .filter_map(|(id, c)| {
                let (r, cl) = c.record.registration.clone()?;
                Some((id.clone(), r, cl))
            })
            .collect())
    }

    async fn queue(&self, room: &RoomId, member: &ClientId) -> Result<MemberQueue, StoreError> {
        let key = (room.clone(), member.clone());
        Ok(self
            .inner()
            .queues
            .get(&key)
            .map(|q| q.queue.clone())
            .unwrap_or_default())
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
        let mut inner = self.inner();
        let queued = inner
            .queues
            .entry((room.clone(), member.clone()))
            .or_default();
        queued.expires_at = queued.expires_at.max(expires_at);
        Ok(queued.queue.append(frame, now, q))
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
        let mut inner = self.inner();
        let key = (room.clone(), member.clone());
        let Some(queued) = inner.queues.get_mut(&key) else {
            return Ok(Step::Done);
        };
        let step = queued.queue.step(token, posted.len(), now, q);
        // An empty queue nobody delivers is the same as none: its memory goes back at once.
        if queued.queue == MemberQueue::default() {
            inner.queues.remove(&key);
        }
        Ok(step)
    }

    async fn release(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        hand_off: bool,
    ) -> Result<bool, StoreError> {
        let key = (room.clone(), member.clone());
        let mut inner = self.inner();
        let Some(queued) = inner.queues.get_mut(&key) else {
            return Ok(false);
        };
        let handed = queued.queue.release(token, hand_off);
        if queued.queue == MemberQueue::default() {
            inner.queues.remove(&key);
        }
        Ok(handed)
    }
}
