//! Race tests: many concurrent requests on one room, against the memory store and (when
//! `AWS_ENDPOINT_URL_DYNAMODB` is set) a real DynamoDB API. The invariants: never a third member,
//! exactly one initiator, a saved message handed over or forwarded exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{admitted, concurrent_joins, fresh_room, per_store};
use room::ports::RoomStore;
use room::service::rooms::JoinReply;
use room::testing::RecordingNotifier;
use room::{RoomId, RoomService, Settings};
use std::sync::Arc;

fn service(store: Arc<dyn RoomStore>) -> (RoomService, Arc<RecordingNotifier>) {
    let notifier = Arc::new(RecordingNotifier::default());
    let s = RoomService::new(store, notifier.clone(), Arc::new(Settings::default()));
    (s, notifier)
}

async fn joined(s: &RoomService, r: &RoomId) -> room::ClientId {
    admitted(s.join(r, false).await.unwrap()).0
}

/// 100 rounds of 50 concurrent joins to a fresh room: exactly two admitted, one initiator.
async fn fifty_concurrent_joins_admit_exactly_two(store: Arc<dyn RoomStore>) {
    let (s, _) = service(store);
    for round in 0..100 {
        let r = fresh_room("race50");
        let joins = concurrent_joins(&s, &r, 50).await;
        assert_eq!(joins.collisions, 0, "duplicate id");
        assert_eq!(
            (joins.admitted.len(), joins.initiators, joins.full),
            (2, 1, 48),
            "round {round}"
        );
    }
}

/// A leave racing a join: the room never holds more than two, and the leaver is gone.
async fn leave_racing_join_keeps_the_room_consistent(store: Arc<dyn RoomStore>) {
    let (s, _) = service(store.clone());
    for _ in 0..50 {
        let r = fresh_room("leavejoin");
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
        let r = fresh_room("msgjoin");
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
        per_store!($store, workers = 4, std::convert::identity:
            fifty_concurrent_joins_admit_exactly_two,
            leave_racing_join_keeps_the_room_consistent,
            message_racing_joiner_is_delivered_exactly_once,
        );
    };
}

races!(memory);
#[cfg(feature = "dynamodb")]
races!(dynamodb);
