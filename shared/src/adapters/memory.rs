//! In-memory room store: the emulator's default and the reference for the contract tests.

use crate::domain::ids::{ClientId, RoomId};
use crate::domain::room::{Millis, Room};
use crate::ports::{
    ConnectionRecord, Registration, RoomStore, RouteLook, Routed, StoreError, Swap, Versioned,
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
    connections: HashMap<String, Conn>,
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

    async fn connection(&self, connection: &str) -> Result<ConnectionRecord, StoreError> {
        Ok(self
            .inner()
            .connections
            .get(connection)
            .map(|c| c.record.clone())
            .unwrap_or_default())
    }

    async fn park_frames(
        &self,
        connection: &str,
        expected: Option<u64>,
        parked: &[String],
        expires_at: Millis,
    ) -> Result<Swap, StoreError> {
        let mut inner = self.inner();
        let current = inner.connections.get(connection).map(|c| &c.record);
        if current.and_then(|r| r.version) != expected
            || current.is_some_and(|r| r.registration.is_some())
        {
            return Ok(Swap::Conflict);
        }
        let closed = current.is_some_and(|r| r.closed);
        let version = inner.version();
        inner.connections.insert(
            connection.to_owned(),
            Conn {
                record: ConnectionRecord {
                    registration: None,
                    closed,
                    parked: parked.to_vec(),
                    version: Some(version),
                },
                expires_at,
            },
        );
        Ok(Swap::Done)
    }

    async fn register_connection(&self, r: &Registration<'_>) -> Result<Swap, StoreError> {
        let mut inner = self.inner();
        let current = inner
            .connections
            .get(r.connection)
            .and_then(|c| c.record.version);
        if current != r.read.version || inner.rooms.get(r.room).map(|v| v.version) != r.expected {
            return Ok(Swap::Conflict);
        }
        inner.swap(r.room, r.expected, Some(r.new));
        let version = inner.version();
        inner.connections.insert(
            r.connection.to_owned(),
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
        connection: &str,
        expires_at: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        let mut inner = self.inner();
        let version = inner.version();
        let conn = inner
            .connections
            .entry(connection.to_owned())
            .or_insert_with(|| Conn {
                record: ConnectionRecord::default(),
                expires_at,
            });
        conn.record.closed = true;
        conn.record.version = Some(version);
        conn.expires_at = expires_at;
        Ok(conn.record.registration.clone())
    }

    async fn registered_connections(&self) -> Result<Vec<(String, RoomId, ClientId)>, StoreError> {
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
}
