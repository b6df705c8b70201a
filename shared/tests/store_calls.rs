//! Store round trips per use case (what a DynamoDB deployment pays): a join is at most two round
//! trips (one read, one conditional write), every write-bearing use case writes once, forwarding
//! writes nothing, nothing scans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use room::adapters::memory::MemoryRoomStore;
use room::domain::room::{Millis, Room};
use room::ports::{ConnectionRecord, RoomStore, StoreError, Swap, Versioned};
use room::testing::RecordingNotifier;
use room::{ClientId, RoomId, RoomService, Settings};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Default)]
struct Counting {
    inner: MemoryRoomStore,
    loads: AtomicUsize,
    writes: AtomicUsize,
}

impl Counting {
    fn take(&self) -> (usize, usize) {
        (
            self.loads.swap(0, Ordering::SeqCst),
            self.writes.swap(0, Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl RoomStore for Counting {
    async fn load(&self, room: &RoomId) -> Result<Option<Versioned>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(room).await
    }
    async fn swap(
        &self,
        room: &RoomId,
        expected: Option<u64>,
        new: Option<&Room>,
    ) -> Result<Swap, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.swap(room, expected, new).await
    }
    async fn connection(&self, c: &str) -> Result<ConnectionRecord, StoreError> {
        self.inner.connection(c).await
    }
    async fn park_frames(
        &self,
        c: &str,
        expected: Option<u64>,
        parked: &[String],
        until: Millis,
    ) -> Result<Swap, StoreError> {
        self.inner.park_frames(c, expected, parked, until).await
    }
    async fn register_connection(
        &self,
        c: &str,
        read: &ConnectionRecord,
        r: &RoomId,
        id: &ClientId,
        until: Millis,
        expected: Option<u64>,
        new: &Room,
    ) -> Result<Swap, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner
            .register_connection(c, read, r, id, until, expected, new)
            .await
    }
    async fn close_connection(
        &self,
        c: &str,
        until: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        self.inner.close_connection(c, until).await
    }
    async fn registered_connections(&self) -> Result<Vec<(String, RoomId, ClientId)>, StoreError> {
        self.inner.registered_connections().await
    }
}

#[tokio::test]
async fn each_use_case_costs_one_read_and_at_most_one_write() {
    let store = Arc::new(Counting::default());
    let s = RoomService::new(
        store.clone(),
        Arc::new(RecordingNotifier::default()),
        Arc::new(Settings::default()),
    );
    let room = RoomId::parse("calls").unwrap();
    let id = |r: room::service::JoinReply| match r {
        room::service::JoinReply::Joined { client_id, .. } => client_id,
        other => panic!("{other:?}"),
    };
    let a = id(s.join(&room, false).await.unwrap());
    assert_eq!(
        store.take(),
        (1, 1),
        "join: one read, one conditional write"
    );
    s.message(&room, &a, br#"{"type":"offer","sdp":"x"}"#)
        .await
        .unwrap();
    assert_eq!(store.take(), (1, 1), "saved message: one read, one write");
    let b = id(s.join(&room, false).await.unwrap());
    assert_eq!(store.take(), (1, 1), "second join");
    s.message(&room, &a, br#"{"type":"candidate","candidate":"c"}"#)
        .await
        .unwrap();
    assert_eq!(store.take(), (1, 0), "forwarded message: no write");
    s.join(&room, false).await.unwrap();
    assert_eq!(store.take(), (1, 0), "FULL: no write");
    s.leave(&room, &a).await.unwrap();
    assert_eq!(store.take(), (1, 1), "leave");
    s.leave(&room, &b).await.unwrap();
    assert_eq!(store.take(), (1, 1), "last leave deletes");
}
