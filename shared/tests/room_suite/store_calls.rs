//! Store round trips per use case (what a DynamoDB deployment pays): a join is at most two round
//! trips (one read, one conditional write), every write-bearing use case writes once, forwarding
//! writes nothing, nothing scans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use room::adapters::memory::MemoryRoomStore;
use room::ports::{Hooked, StoreCall, StoreError, StoreFuture, StoreHook};
use room::testing::RecordingNotifier;
use room::{RoomId, RoomService, Settings};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::admitted;

/// Counts the reads and the room writes of the store it is hooked to.
#[derive(Debug, Default)]
struct Counting {
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

impl StoreHook for Counting {
    async fn around<'a, T: Send + 'a>(
        &'a self,
        call: StoreCall<'a>,
        run: StoreFuture<'a, T>,
    ) -> Result<T, StoreError> {
        match call {
            StoreCall::Load(_) => self.loads.fetch_add(1, Ordering::SeqCst),
            StoreCall::Swap(..) | StoreCall::RegisterConnection(_) => {
                self.writes.fetch_add(1, Ordering::SeqCst)
            }
            _ => 0,
        };
        run.await
    }
}

#[tokio::test]
async fn each_use_case_costs_one_read_and_at_most_one_write() {
    let store = Arc::new(Hooked::new(
        Arc::new(MemoryRoomStore::new()),
        Counting::default(),
    ));
    let s = RoomService::new(
        store.clone(),
        Arc::new(RecordingNotifier::default()),
        Arc::new(Settings::default()),
    );
    let room = RoomId::parse("calls").unwrap();
    let id = |r| admitted(r).0;
    let a = id(s.join(&room, false).await.unwrap());
    assert_eq!(
        store.hook().take(),
        (1, 1),
        "join: one read, one conditional write"
    );
    s.message(&room, &a, br#"{"type":"offer","sdp":"x"}"#)
        .await
        .unwrap();
    assert_eq!(
        store.hook().take(),
        (1, 1),
        "saved message: one read, one write"
    );
    let b = id(s.join(&room, false).await.unwrap());
    assert_eq!(store.hook().take(), (1, 1), "second join");
    s.message(&room, &a, br#"{"type":"candidate","candidate":"c"}"#)
        .await
        .unwrap();
    assert_eq!(store.hook().take(), (1, 0), "forwarded message: no write");
    s.join(&room, false).await.unwrap();
    assert_eq!(store.hook().take(), (1, 0), "FULL: no write");
    s.leave(&room, &a).await.unwrap();
    assert_eq!(store.hook().take(), (1, 1), "leave");
    s.leave(&room, &b).await.unwrap();
    assert_eq!(store.hook().take(), (1, 1), "last leave deletes");
}
