//! Race tests: many concurrent requests on one room, against the memory store and (when
//! `AWS_ENDPOINT_URL_DYNAMODB` is set) a real DynamoDB API. The invariants: never a third member,
//! exactly one initiator, a saved message handed over or forwarded exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use room::ports::RoomStore;
use room::service::rooms::JoinReply;
use room::testing::RecordingNotifier;
use room::{RoomId, RoomService, Settings};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use support::stores;

fn service(store: Arc<dyn RoomStore>) -> (RoomService, Arc<RecordingNotifier>) {
    let notifier = Arc::new(RecordingNotifier::default());
    let s = RoomService::new(store, notifier.clone(), Arc::new(Settings::default()));
    (s, notifier)
}

fn room(tag: &str) -> RoomId {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    RoomId::parse(&format!("{tag}-{t}-{}", N.fetch_add(1, Ordering::Relaxed))).unwrap()
}

async fn joined(s: &RoomService, r: &RoomId) -> room::ClientId {
    match s.join(r, false).await.unwrap() {
        JoinReply::Joined { client_id, .. } => client_id,
        other => panic!("{other:?}"),
    }
}

/// 100 rounds of 50 concurrent joins to a fresh room: exactly two admitted, one initiator.
async fn fifty_concurrent_joins_admit_exactly_two(store: Arc<dyn RoomStore>) {
    let (s, _) = service(store);
    for round in 0..100 {
        let r = room("race50");
        let joins: Vec<_> = (0..50)
            .map(|_| {
                let (s, r) = (s.clone(), r.clone());
                tokio::spawn(async move { s.join(&r, false).await })
            })
            .collect();
        let (mut admitted, mut initiators, mut full) = (0, 0, 0);
        for j in joins {
            match j.await.unwrap().unwrap() {
                JoinReply::Joined { is_initiator, .. } => {
                    admitted += 1;
                    initiators += usize::from(is_initiator);
                }
                JoinReply::Full => full += 1,
                JoinReply::Duplicate => panic!("duplicate id"),
            }
        }
        assert_eq!((admitted, initiators, full), (2, 1, 48), "round {round}");
    }
}

/// A leave racing a join: the room never holds more than two, and the leaver is gone.
async fn leave_racing_join_keeps_the_room_consistent(store: Arc<dyn RoomStore>) {
    let (s, _) = service(store.clone());
    for _ in 0..50 {
        let r = room("leavejoin");
        let a = joined(&s, &r).await;
        let b = joined(&s, &r).await;
        let (s1, r1, a1) = (s.clone(), r.clone(), a.clone());
        let leave = tokio::spawn(async move { s1.leave(&r1, &a1).await });
        let (s2, r2) = (s.clone(), r.clone());
        let join = tokio::spawn(async move { s2.join(&r2, false).await });
        leave.await.unwrap().unwrap();
        let joined_c = join.await.unwrap().unwrap();
        let stored = store.load(&r).await.unwrap().unwrap().room;
        let ids: Vec<_> = stored.members.iter().map(|m| m.id.clone()).collect();
        assert!(!ids.contains(&a));
        assert!(ids.contains(&b));
        match joined_c {
            JoinReply::Joined {
                client_id,
                is_initiator,
                ..
            } => {
                assert!(!is_initiator);
                assert_eq!(ids.len(), 2);
                assert!(ids.contains(&client_id));
            }
            JoinReply::Full => assert_eq!(ids.len(), 1),
            JoinReply::Duplicate => panic!("duplicate"),
        }
        assert_eq!(stored.members.iter().filter(|m| m.initiator).count(), 1);
    }
}

/// A message racing the joiner: it arrives in the joiner's `messages` or is forwarded, exactly once.
async fn message_racing_joiner_is_delivered_exactly_once(store: Arc<dyn RoomStore>) {
    let (s, notifier) = service(store);
    for i in 0..100 {
        let r = room("msgjoin");
        let a = joined(&s, &r).await;
        let m = format!("{{\"type\":\"candidate\",\"candidate\":\"c{i}\"}}");
        let (s1, r1, a1, m1) = (s.clone(), r.clone(), a.clone(), m.clone());
        let post = tokio::spawn(async move { s1.message(&r1, &a1, m1.as_bytes()).await });
        let (s2, r2) = (s.clone(), r.clone());
        let join = tokio::spawn(async move { s2.join(&r2, false).await });
        assert_eq!(
            post.await.unwrap().unwrap(),
            room::service::rooms::MessageReply::Success
        );
        let JoinReply::Joined { messages, .. } = join.await.unwrap().unwrap() else {
            panic!("joiner not admitted")
        };
        let in_join = messages.iter().filter(|x| **x == m).count();
        let forwarded = notifier
            .deliveries()
            .iter()
            .filter(|d| d.room == r && d.msg == m)
            .count();
        assert_eq!(
            in_join + forwarded,
            1,
            "in join: {in_join}, forwarded: {forwarded}"
        );
    }
}

macro_rules! races {
    ($store:ident) => {
        mod $store {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn fifty_concurrent_joins_admit_exactly_two() {
                let Some(store) = super::stores::$store().await else {
                    return;
                };
                super::fifty_concurrent_joins_admit_exactly_two(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn leave_racing_join_keeps_the_room_consistent() {
                let Some(store) = super::stores::$store().await else {
                    return;
                };
                super::leave_racing_join_keeps_the_room_consistent(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn message_racing_joiner_is_delivered_exactly_once() {
                let Some(store) = super::stores::$store().await else {
                    return;
                };
                super::message_racing_joiner_is_delivered_exactly_once(store).await;
            }
        }
    };
}

races!(memory);
#[cfg(feature = "dynamodb")]
races!(dynamodb);
