//! In-memory room store: the emulator's default and the reference for the contract tests.

use crate::domain::ids::{ClientId, RoomId};
use crate::domain::room::{Millis, Room};
use crate::ports::{RoomStore, StoreError, Swap, Versioned};
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
    connections: HashMap<String, (RoomId, ClientId, Millis)>,
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
        inner.connections.retain(|_, (_, _, until)| now < *until);
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

    async fn swap(
        &self,
        room: &RoomId,
        expected: Option<u64>,
        new: Option<&Room>,
    ) -> Result<Swap, StoreError> {
        let mut inner = self.inner();
        if inner.rooms.get(room).map(|v| v.version) != expected {
            return Ok(Swap::Conflict);
        }
        match new {
            Some(r) => {
                inner.next_version += 1;
                let version = inner.next_version;
                inner.rooms.insert(
                    room.clone(),
                    Versioned {
                        room: r.clone(),
                        version,
                    },
                );
            }
            None => {
                inner.rooms.remove(room);
            }
        }
        Ok(Swap::Done)
    }

    async fn put_connection(
        &self,
        connection: &str,
        room: &RoomId,
        client: &ClientId,
        expires_at: Millis,
    ) -> Result<(), StoreError> {
        self.inner().connections.insert(
            connection.to_owned(),
            (room.clone(), client.clone(), expires_at),
        );
        Ok(())
    }

    async fn get_connection(
        &self,
        connection: &str,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        Ok(self
            .inner()
            .connections
            .get(connection)
            .map(|(r, c, _)| (r.clone(), c.clone())))
    }

    async fn delete_connection(&self, connection: &str) -> Result<(), StoreError> {
        self.inner().connections.remove(connection);
        Ok(())
    }
}
