//! `RoomService` use cases in-process: the memory store, a notifier that records every delivery,
//! a clock the test moves, the members' relay sockets (registered and closed through a stored
//! relay over the same store and clock) and, where a test needs them, fixed client ids. Nothing
//! sleeps: expiry is driven by advancing the clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use room::adapters::memory::MemoryRoomStore;
use room::domain::message::MessageError;
use room::domain::room::{LeaveOutcome, Room, RoomLimits};
use room::ports::{DeliveryError, RoomStore};
use room::service::rooms::{JoinReply, MessageReply, ServiceError};
use room::testing::{Delivery, FixedIds, RecordingNotifier};
use room::{ClientId, RoomId};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{Wired, admitted, concurrent_joins};

const MS: Duration = Duration::from_millis(1);

/// Limits small enough to reach in a test, deadlines distinct from each other.
fn limits() -> RoomLimits {
    RoomLimits {
        room_ttl: Duration::from_secs(3600),
        register_deadline: Duration::from_secs(60),
        reconnect_grace: Duration::from_secs(10),
        max_message_bytes: 1024,
        max_saved_messages: 4,
        max_saved_bytes: 4096,
    }
}

/// The service under test over the memory store, with what it stands on ([`Wired`]), and the
/// room every step uses.
struct Fixture {
    wired: Wired,
    store: Arc<MemoryRoomStore>,
    limits: RoomLimits,
    room: RoomId,
}

impl std::ops::Deref for Fixture {
    type Target = Wired;
    fn deref(&self) -> &Wired {
        &self.wired
    }
}

impl Fixture {
    fn new() -> Self {
        Self::with_limits(limits())
    }

    fn with_limits(limits: RoomLimits) -> Self {
        Self::build(limits, RecordingNotifier::default())
    }

    fn with_notifier(notifier: RecordingNotifier) -> Self {
        Self::build(limits(), notifier)
    }

    fn build(limits: RoomLimits, notifier: RecordingNotifier) -> Self {
        let store = Arc::new(MemoryRoomStore::new());
        Self {
            wired: Wired::new(store.clone(), &limits, notifier),
            store,
            limits,
            room: room_id("room1"),
        }
    }

    /// Replaces the id source with ids handed out in this order.
    fn with_ids(mut self, ids: &[&str]) -> Self {
        let ids = ids.iter().map(|s| client(s)).collect::<Vec<_>>();
        self.wired.service = self.wired.service.with_ids(Arc::new(FixedIds::new(ids)));
        self
    }

    async fn join(&self) -> JoinReply {
        self.service.join(&self.room, false).await.unwrap()
    }

    /// Joins and returns (id, is_initiator, messages), asserting admission.
    async fn joined(&self) -> (ClientId, bool, Vec<String>) {
        admitted(self.join().await)
    }

    /// Joins with `?debug=loopback` and returns (id, is_initiator, messages), asserting admission.
    async fn joined_loopback(&self) -> (ClientId, bool, Vec<String>) {
        admitted(self.service.join(&self.room, true).await.unwrap())
    }

    /// Two joins, asserting admission: the initiator's id, then the joiner's.
    async fn joined_two(&self) -> (ClientId, ClientId) {
        let (a, _, _) = self.joined().await;
        let (b, _, _) = self.joined().await;
        (a, b)
    }

    /// Joins and registers on the relay, like every real client does right after its join.
    async fn joined_registered(&self) -> ClientId {
        let (id, _, _) = self.joined().await;
        assert!(self.register(&id).await);
        id
    }

    /// `who` registers a new socket on the relay: whether the relay took it (it is (still) a
    /// member).
    async fn register(&self, who: &ClientId) -> bool {
        self.sockets.register(&self.room, who).await
    }

    /// `who`'s latest socket closes, and the relay handles its `$disconnect`.
    async fn disconnect(&self, who: &ClientId) {
        self.sockets.close(who).await;
    }

    async fn post(&self, from: &ClientId, body: &str) -> MessageReply {
        self.post_bytes(from, body.as_bytes()).await
    }

    async fn post_bytes(&self, from: &ClientId, body: &[u8]) -> MessageReply {
        self.service.message(&self.room, from, body).await.unwrap()
    }

    async fn leave(&self, who: &ClientId) -> LeaveOutcome {
        self.service.leave(&self.room, who).await.unwrap()
    }

    /// Whether `who` is a member now, as the stored room says.
    async fn member(&self, who: &ClientId) -> bool {
        crate::support::is_member(&*self.store, &*self.clock, &self.room, who).await
    }

    async fn stored(&self) -> Option<Room> {
        self.store.load(&self.room).await.unwrap().map(|v| v.room)
    }

    /// The stored members in order, each as (id, is_initiator); panics if there is no room.
    async fn members(&self) -> Vec<(ClientId, bool)> {
        let room = self.stored().await.unwrap();
        room.members
            .into_iter()
            .map(|m| (m.id, m.initiator))
            .collect()
    }

    /// Each stored member's saved messages, in member order; panics if there is no room.
    async fn saved(&self) -> Vec<Vec<String>> {
        let room = self.stored().await.unwrap();
        room.members.into_iter().map(|m| m.saved).collect()
    }

    /// The stored record with its version: equal before and after means nothing was written.
    async fn snapshot(&self) -> Option<room::ports::Versioned> {
        self.store.load(&self.room).await.unwrap()
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.notifier.deliveries()
    }

    fn delivered(&self, from: &ClientId, msg: &str) -> Delivery {
        Delivery {
            room: self.room.clone(),
            from: from.clone(),
            msg: msg.to_owned(),
        }
    }
}

fn room_id(s: &str) -> RoomId {
    RoomId::parse(s).unwrap()
}

fn client(s: &str) -> ClientId {
    ClientId::parse(s).unwrap()
}

fn offer(n: u32) -> String {
    format!(r#"{{"type":"offer","sdp":"v=0\r\no=- {n} 2 IN IP4 127.0.0.1\r\n"}}"#)
}

fn candidate(n: u32) -> String {
    format!(
        r#"{{"type":"candidate","label":0,"id":"0","candidate":"candidate:{n} 1 udp 1 10.0.0.1 {n} typ host"}}"#
    )
}

fn answer() -> String {
    r#"{"type":"answer","sdp":"v=0\r\n"}"#.to_owned()
}

const BYE: &str = r#"{"type":"bye"}"#;

// --- join ---------------------------------------------------------------------------------------

#[tokio::test]
async fn first_join_is_initiator_with_no_messages() {
    let f = Fixture::new();
    let (_, initiator, messages) = f.joined().await;
    assert!(initiator);
    assert!(messages.is_empty());
}

#[tokio::test]
async fn second_join_is_not_initiator_and_gets_another_id() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    let (b, initiator, messages) = f.joined().await;
    assert!(!initiator);
    assert!(messages.is_empty());
    assert_ne!(a, b);
    assert_eq!(f.members().await, vec![(a, true), (b, false)]);
}

#[tokio::test]
async fn third_join_gets_full_and_changes_nothing() {
    let f = Fixture::new();
    f.joined().await;
    f.joined().await;
    let before = f.snapshot().await;
    assert_eq!(f.join().await, JoinReply::Full);
    assert_eq!(f.snapshot().await, before, "a refused join must not write");
    assert!(f.service.is_full(&f.room).await.unwrap());
}

#[tokio::test]
async fn rooms_are_independent() {
    let f = Fixture::new();
    f.joined().await;
    f.joined().await;
    let other = room_id("room2");
    assert!(matches!(
        f.service.join(&other, false).await.unwrap(),
        JoinReply::Joined {
            is_initiator: true,
            ..
        }
    ));
}

#[tokio::test]
async fn colliding_client_id_gets_duplicate_client_and_changes_nothing() {
    let f = Fixture::new().with_ids(&["same-id", "same-id", "other-id"]);
    let (a, initiator, _) = f.joined().await;
    assert!(initiator);
    assert_eq!(a, client("same-id"));
    let before = f.snapshot().await;
    assert_eq!(f.join().await, JoinReply::Duplicate);
    assert_eq!(f.snapshot().await, before);
    let (b, initiator, _) = f.joined().await;
    assert_eq!(b, client("other-id"));
    assert!(!initiator, "the collision did not take the second place");
}

#[tokio::test]
async fn join_without_randomness_is_an_error_not_an_admission() {
    let f = Fixture::new().with_ids(&[]);
    assert!(matches!(
        f.service.join(&f.room, false).await,
        Err(ServiceError::NoRandomness)
    ));
    assert_eq!(f.stored().await, None);
}

// --- saved messages -----------------------------------------------------------------------------

#[tokio::test]
async fn messages_of_a_lone_member_are_saved_not_delivered() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    assert_eq!(f.post(&a, &offer(1)).await, MessageReply::Success);
    assert!(f.deliveries().is_empty());
    assert_eq!(f.saved().await[0], vec![offer(1)]);
}

#[tokio::test]
async fn saved_messages_are_handed_to_the_joiner_once_in_order() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    let sent = vec![offer(1), candidate(1), candidate(2), candidate(3)];
    for m in &sent {
        assert_eq!(f.post(&a, m).await, MessageReply::Success);
    }
    let (b, initiator, messages) = f.joined().await;
    assert!(!initiator);
    assert_eq!(messages, sent, "byte-identical, in arrival order");
    assert!(f.saved().await[0].is_empty());
    assert_eq!(f.leave(&b).await, LeaveOutcome::Left);
    let (_, initiator, messages) = f.joined().await;
    assert!(!initiator);
    assert!(messages.is_empty(), "the list was handed over only once");
}

#[tokio::test]
async fn saved_messages_keep_non_ascii_and_whitespace_byte_for_byte() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    let pretty = "{\n  \"type\" : \"offer\",\n  \"sdp\" : \"s=Ä é 🎥\\r\\n\"\n}";
    assert_eq!(f.post(&a, pretty).await, MessageReply::Success);
    let (_, _, messages) = f.joined().await;
    assert_eq!(messages, vec![pretty.to_owned()]);
}

// --- forwarding ---------------------------------------------------------------------------------

#[tokio::test]
async fn message_with_two_members_is_forwarded_to_the_notifier_and_not_saved() {
    let f = Fixture::new();
    let (a, b) = f.joined_two().await;
    assert_eq!(f.post(&a, &offer(1)).await, MessageReply::Success);
    assert_eq!(f.post(&b, &answer()).await, MessageReply::Success);
    assert_eq!(f.post(&a, &candidate(1)).await, MessageReply::Success);
    assert_eq!(
        f.deliveries(),
        vec![
            f.delivered(&a, &offer(1)),
            f.delivered(&b, &answer()),
            f.delivered(&a, &candidate(1)),
        ]
    );
    assert!(f.saved().await.iter().all(Vec::is_empty));
    // Nothing forwarded is handed to a later joiner either.
    f.leave(&b).await;
    let (_, _, messages) = f.joined().await;
    assert!(messages.is_empty());
}

#[tokio::test]
async fn message_from_a_stranger_is_unknown_client_and_goes_nowhere() {
    let f = Fixture::new();
    f.joined().await;
    f.joined().await;
    let before = f.snapshot().await;
    assert_eq!(
        f.post(&client("12345678"), &offer(1)).await,
        MessageReply::UnknownClient
    );
    assert_eq!(f.snapshot().await, before);
    assert!(f.deliveries().is_empty());
}

#[tokio::test]
async fn message_to_an_absent_room_is_unknown_room_and_creates_nothing() {
    let f = Fixture::new();
    assert_eq!(
        f.post(&client("12345678"), &offer(1)).await,
        MessageReply::UnknownRoom
    );
    assert_eq!(f.stored().await, None);
}

#[tokio::test]
async fn forward_refused_by_the_relay_is_reported_and_not_saved_instead() {
    let f = Fixture::with_notifier(RecordingNotifier::refusing(DeliveryError::QueueFull));
    let (a, _, _) = f.joined().await;
    f.joined().await;
    assert_eq!(
        f.post(&a, &offer(1)).await,
        MessageReply::Undeliverable(DeliveryError::QueueFull)
    );
    assert_eq!(f.deliveries().len(), 1);
    assert!(f.saved().await.iter().all(Vec::is_empty));
}

// --- bye via /message ---------------------------------------------------------------------------

#[tokio::test]
async fn bye_via_message_counts_as_leave_and_is_forwarded_to_the_remaining_peer() {
    let f = Fixture::new();
    let (a, b) = f.joined_two().await;
    assert_eq!(f.post(&b, BYE).await, MessageReply::Success);
    assert_eq!(f.deliveries(), vec![f.delivered(&b, BYE)]);
    assert!(!f.member(&b).await);
    assert_eq!(f.members().await, vec![(a.clone(), true)]);
    // The survivor's next offer is saved for the next joiner (the web client's re-offer).
    assert_eq!(f.post(&a, &offer(2)).await, MessageReply::Success);
    assert_eq!(f.deliveries().len(), 1);
    let (_, initiator, messages) = f.joined().await;
    assert!(!initiator);
    assert_eq!(messages, vec![offer(2)]);
}

#[tokio::test]
async fn bye_after_leave_is_not_forwarded_twice_nor_an_error_for_the_survivor() {
    // The web client posts /leave first and then sends bye; a bye over /message after /leave
    // finds the sender gone and must not reach the survivor through this path.
    let f = Fixture::new();
    let (a, b) = f.joined_two().await;
    assert_eq!(f.leave(&b).await, LeaveOutcome::Left);
    assert_eq!(f.post(&b, BYE).await, MessageReply::UnknownClient);
    assert!(f.deliveries().is_empty());
    assert!(f.member(&a).await);
}

#[tokio::test]
async fn bye_from_the_last_member_empties_the_room_and_reaches_nobody() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    assert_eq!(f.post(&a, &offer(1)).await, MessageReply::Success);
    assert_eq!(f.post(&a, BYE).await, MessageReply::Success);
    assert!(f.deliveries().is_empty());
    assert_eq!(f.stored().await, None);
    let (_, initiator, messages) = f.joined().await;
    assert!(initiator);
    assert!(messages.is_empty(), "the leaver's saved offer went with it");
}

#[tokio::test]
async fn bye_is_never_saved_for_a_later_joiner() {
    let f = Fixture::new();
    let (a, b) = f.joined_two().await;
    f.post(&b, BYE).await;
    f.post(&a, BYE).await;
    let (_, _, messages) = f.joined().await;
    assert!(messages.is_empty());
    assert_eq!(f.deliveries(), vec![f.delivered(&b, BYE)]);
}

#[tokio::test]
async fn bye_from_a_stranger_or_to_an_absent_room_changes_nothing() {
    let f = Fixture::new();
    assert_eq!(
        f.post(&client("ghost"), BYE).await,
        MessageReply::UnknownRoom
    );
    let (a, _, _) = f.joined().await;
    let before = f.snapshot().await;
    assert_eq!(
        f.post(&client("ghost"), BYE).await,
        MessageReply::UnknownClient
    );
    assert_eq!(f.snapshot().await, before);
    assert!(f.member(&a).await);
    assert!(f.deliveries().is_empty());
}

#[tokio::test]
async fn bye_whose_delivery_fails_still_counts_as_leave() {
    let f = Fixture::with_notifier(RecordingNotifier::refusing(DeliveryError::Unavailable(
        "down".to_owned(),
    )));
    let (a, b) = f.joined_two().await;
    assert_eq!(f.post(&b, BYE).await, MessageReply::Success);
    assert!(!f.member(&b).await);
    assert!(f.member(&a).await);
}

// --- leave --------------------------------------------------------------------------------------

#[tokio::test]
async fn leave_of_the_initiator_promotes_the_joiner() {
    let f = Fixture::new();
    let (a, b) = f.joined_two().await;
    assert_eq!(f.leave(&a).await, LeaveOutcome::Left);
    assert_eq!(
        f.members().await,
        vec![(b.clone(), true)],
        "the survivor is the initiator now"
    );
    // As initiator alone, its messages are saved and handed to the next joiner.
    assert_eq!(f.post(&b, &offer(7)).await, MessageReply::Success);
    assert!(f.deliveries().is_empty());
    let (_, initiator, messages) = f.joined().await;
    assert!(!initiator);
    assert_eq!(messages, vec![offer(7)]);
}

#[tokio::test]
async fn leave_of_the_joiner_keeps_the_initiator() {
    let f = Fixture::new();
    let (a, b) = f.joined_two().await;
    assert_eq!(f.leave(&b).await, LeaveOutcome::Left);
    assert_eq!(f.members().await, vec![(a, true)]);
}

#[tokio::test]
async fn last_leave_deletes_the_room_and_the_next_join_starts_over() {
    let f = Fixture::new();
    let (a, b) = f.joined_two().await;
    f.leave(&a).await;
    assert_eq!(f.leave(&b).await, LeaveOutcome::Left);
    assert_eq!(f.stored().await, None);
    let (_, initiator, _) = f.joined().await;
    assert!(initiator);
}

#[tokio::test]
async fn leave_of_unknown_client_or_room_changes_nothing() {
    let f = Fixture::new();
    assert_eq!(f.leave(&client("nobody")).await, LeaveOutcome::UnknownRoom);
    let (a, _, _) = f.joined().await;
    f.joined().await;
    let before = f.snapshot().await;
    assert_eq!(
        f.leave(&client("nobody")).await,
        LeaveOutcome::UnknownClient
    );
    assert_eq!(f.snapshot().await, before);
    assert_eq!(f.join().await, JoinReply::Full);
    assert_eq!(f.leave(&a).await, LeaveOutcome::Left);
    assert_eq!(
        f.leave(&a).await,
        LeaveOutcome::UnknownClient,
        "double leave"
    );
}

// --- loopback -----------------------------------------------------------------------------------

#[tokio::test]
async fn loopback_join_fills_the_room_with_a_virtual_peer() {
    let f = Fixture::new();
    let (a, is_initiator, messages) = f.joined_loopback().await;
    assert!(is_initiator);
    assert!(messages.is_empty());
    assert_eq!(f.join().await, JoinReply::Full);
    for id in ["LOOPBACK_CLIENT_ID", "loopback_client_id"] {
        assert!(f.member(&client(id)).await, "{id} may use the relay");
    }
    // The initiator's offer goes to the loopback peer, not into a saved list.
    assert_eq!(f.post(&a, &offer(1)).await, MessageReply::Success);
    assert_eq!(f.deliveries(), vec![f.delivered(&a, &offer(1))]);
    assert_eq!(f.leave(&a).await, LeaveOutcome::Left);
    assert_eq!(f.stored().await, None, "the virtual peer never stays alone");
}

#[tokio::test]
async fn loopback_peer_presence_never_expires_but_goes_with_its_member() {
    let f = Fixture::new();
    let (a, _, _) = f.joined_loopback().await;
    assert!(f.register(&a).await);
    let web_loopback = client("loopback_client_id");
    assert!(f.register(&web_loopback).await);
    f.disconnect(&web_loopback).await;
    f.clock
        .advance(f.limits.reconnect_grace + f.limits.register_deadline);
    assert!(f.member(&web_loopback).await);
    assert_eq!(f.join().await, JoinReply::Full);
    // The real member vanishes: the room goes with it.
    f.disconnect(&a).await;
    f.clock.advance(f.limits.reconnect_grace);
    assert!(!f.member(&web_loopback).await);
    let (_, initiator, _) = f.joined().await;
    assert!(initiator);
}

// --- expiry -------------------------------------------------------------------------------------

#[tokio::test]
async fn joiner_that_never_registers_is_dropped_after_the_register_deadline() {
    let f = Fixture::new();
    let a = f.joined_registered().await;
    let (b, _, _) = f.joined().await;
    f.clock.advance(f.limits.register_deadline - MS);
    assert!(f.member(&b).await);
    assert_eq!(f.join().await, JoinReply::Full);
    f.clock.advance(MS);
    assert!(!f.member(&b).await);
    assert_eq!(f.post(&b, &answer()).await, MessageReply::UnknownClient);
    assert!(!f.register(&b).await, "too late to register");
    let (_, initiator, _) = f.joined().await;
    assert!(!initiator, "the registered initiator stays");
    assert!(f.member(&a).await);
}

#[tokio::test]
async fn initiator_that_never_registers_is_dropped_and_its_saved_messages_with_it() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    f.post(&a, &offer(1)).await;
    f.clock.advance(f.limits.register_deadline);
    assert!(!f.member(&a).await);
    let (_, initiator, messages) = f.joined().await;
    assert!(initiator);
    assert!(messages.is_empty());
}

#[tokio::test]
async fn registering_before_the_deadline_keeps_the_place() {
    let f = Fixture::new();
    f.joined_registered().await;
    let (b, _, _) = f.joined().await;
    f.clock.advance(f.limits.register_deadline - MS);
    assert!(f.register(&b).await);
    f.clock.advance(f.limits.register_deadline * 10);
    assert!(f.member(&b).await);
    assert_eq!(f.join().await, JoinReply::Full);
}

#[tokio::test]
async fn disconnected_member_is_dropped_after_the_reconnect_grace() {
    let f = Fixture::new();
    let (a, b) = (f.joined_registered().await, f.joined_registered().await);
    f.disconnect(&b).await;
    f.clock.advance(f.limits.reconnect_grace - MS);
    assert!(f.member(&b).await, "still within the grace");
    assert_eq!(f.join().await, JoinReply::Full);
    f.clock.advance(MS);
    assert!(!f.member(&b).await);
    assert!(!f.register(&b).await);
    let (_, initiator, _) = f.joined().await;
    assert!(!initiator);
    assert_eq!(f.members().await[0], (a, true));
}

#[tokio::test]
async fn disconnected_member_that_registers_again_keeps_its_place() {
    let f = Fixture::new();
    let (a, b) = (f.joined_registered().await, f.joined_registered().await);
    f.disconnect(&b).await;
    f.clock.advance(f.limits.reconnect_grace - MS);
    assert!(f.register(&b).await);
    f.clock.advance(f.limits.reconnect_grace * 10);
    assert!(f.member(&b).await);
    assert_eq!(f.join().await, JoinReply::Full);
    assert_eq!(f.post(&a, &candidate(1)).await, MessageReply::Success);
    assert_eq!(f.deliveries(), vec![f.delivered(&a, &candidate(1))]);
}

#[tokio::test]
async fn a_second_disconnect_starts_a_fresh_grace() {
    let f = Fixture::new();
    f.joined_registered().await;
    let b = f.joined_registered().await;
    f.disconnect(&b).await;
    f.clock.advance(f.limits.reconnect_grace / 2);
    f.register(&b).await;
    f.disconnect(&b).await;
    f.clock.advance(f.limits.reconnect_grace - MS);
    assert!(f.member(&b).await);
    f.clock.advance(MS);
    assert!(!f.member(&b).await);
}

#[tokio::test]
async fn presence_events_for_strangers_change_nothing() {
    let f = Fixture::new();
    let stranger = client("stranger");
    assert!(!f.register(&stranger).await);
    assert_eq!(f.stored().await, None);
    f.joined_registered().await;
    let before = f.snapshot().await;
    assert!(!f.register(&stranger).await);
    // Its refused socket closes.
    f.disconnect(&stranger).await;
    assert_eq!(f.snapshot().await, before);
}

#[tokio::test]
async fn expired_room_counts_as_absent_after_room_ttl() {
    let f = Fixture::new();
    let (a, b) = (f.joined_registered().await, f.joined_registered().await);
    f.clock.advance(f.limits.room_ttl - MS);
    assert_eq!(f.join().await, JoinReply::Full);
    f.clock.advance(MS);
    assert!(!f.member(&a).await);
    assert!(!f.service.is_full(&f.room).await.unwrap());
    assert_eq!(f.post(&a, &offer(1)).await, MessageReply::UnknownRoom);
    assert_eq!(f.leave(&b).await, LeaveOutcome::UnknownRoom);
    assert!(!f.register(&b).await);
    let (_, initiator, messages) = f.joined().await;
    assert!(initiator);
    assert!(messages.is_empty());
}

#[tokio::test]
async fn a_saved_message_rearms_the_room_ttl() {
    let f = Fixture::new();
    let a = f.joined_registered().await;
    f.clock.advance(f.limits.room_ttl / 2);
    assert_eq!(f.post(&a, &offer(1)).await, MessageReply::Success);
    f.clock.advance(f.limits.room_ttl - MS);
    assert!(f.member(&a).await);
    f.clock.advance(MS);
    assert!(!f.member(&a).await);
}

#[tokio::test]
async fn forwarded_messages_do_not_rearm_the_room_ttl() {
    let f = Fixture::new();
    let a = f.joined_registered().await;
    f.joined_registered().await;
    f.clock.advance(f.limits.room_ttl / 2);
    assert_eq!(f.post(&a, &candidate(1)).await, MessageReply::Success);
    f.clock.advance(f.limits.room_ttl / 2);
    assert_eq!(f.post(&a, &candidate(2)).await, MessageReply::UnknownRoom);
    assert_eq!(f.deliveries().len(), 1);
}

#[tokio::test]
async fn memory_sweep_returns_expired_rooms_only() {
    let f = Fixture::new();
    f.joined_registered().await;
    let other = room_id("unregistered");
    f.service.join(&other, false).await.unwrap();
    f.clock.advance(f.limits.register_deadline);
    assert_eq!(f.store.sweep(f.service.now()), 1);
    assert!(f.stored().await.is_some());
    f.clock.advance(f.limits.room_ttl);
    assert_eq!(f.store.sweep(f.service.now()), 1);
    assert!(f.store.is_empty());
}

// --- saved-list caps ----------------------------------------------------------------------------

#[tokio::test]
async fn saved_list_stops_at_max_saved_messages() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    let max = u32::try_from(f.limits.max_saved_messages).unwrap();
    for n in 0..max {
        assert_eq!(f.post(&a, &candidate(n)).await, MessageReply::Success);
    }
    let before = f.snapshot().await;
    assert_eq!(
        f.post(&a, &candidate(max)).await,
        MessageReply::SavedListFull
    );
    assert_eq!(f.snapshot().await, before);
    let (_, _, messages) = f.joined().await;
    assert_eq!(messages, (0..max).map(candidate).collect::<Vec<_>>());
}

#[tokio::test]
async fn saved_list_stops_at_max_saved_bytes() {
    let small = r#"{"type":"offer"}"#;
    let big = format!(r#"{{"type":"candidate","candidate":"{}"}}"#, "x".repeat(40));
    let f = Fixture::with_limits(RoomLimits {
        max_saved_bytes: 2 * big.len() + small.len(),
        ..limits()
    });
    let (a, _, _) = f.joined().await;
    assert_eq!(f.post(&a, &big).await, MessageReply::Success);
    assert_eq!(f.post(&a, &big).await, MessageReply::Success);
    assert_eq!(f.post(&a, &big).await, MessageReply::SavedListFull);
    assert_eq!(
        f.post(&a, small).await,
        MessageReply::Success,
        "a message that still fits exactly is saved"
    );
    assert_eq!(f.post(&a, small).await, MessageReply::SavedListFull);
    let (_, _, messages) = f.joined().await;
    assert_eq!(messages, vec![big.clone(), big, small.to_owned()]);
}

#[tokio::test]
async fn a_full_saved_list_does_not_stop_forwarding_once_a_peer_is_there() {
    let f = Fixture::with_limits(RoomLimits {
        max_saved_messages: 1,
        ..limits()
    });
    let (a, _, _) = f.joined().await;
    f.post(&a, &offer(1)).await;
    assert_eq!(f.post(&a, &candidate(1)).await, MessageReply::SavedListFull);
    f.joined().await;
    assert_eq!(f.post(&a, &candidate(1)).await, MessageReply::Success);
    assert_eq!(f.deliveries(), vec![f.delivered(&a, &candidate(1))]);
}

// --- invalid messages ---------------------------------------------------------------------------

#[tokio::test]
async fn invalid_messages_are_refused_and_nothing_is_stored() {
    let f = Fixture::new();
    let max = f.limits.max_message_bytes;
    let (a, _, _) = f.joined().await;
    let too_large = format!(r#"{{"type":"offer","sdp":"{}"}}"#, "a".repeat(max));
    let cases: Vec<(Vec<u8>, MessageError)> = vec![
        (b"".to_vec(), MessageError::Empty),
        (too_large.into_bytes(), MessageError::TooLarge { max }),
        (
            b"{\"type\":\"offer\",\"sdp\":\"\xff\"}".to_vec(),
            MessageError::NotUtf8,
        ),
        (
            br#"{"type":"foo"}"#.to_vec(),
            MessageError::UnknownType("foo".to_owned()),
        ),
    ];
    let before = f.snapshot().await;
    for (body, want) in cases {
        assert_eq!(
            f.post_bytes(&a, &body).await,
            MessageReply::Invalid(want),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    for not_json in [
        "hello",
        "[\"offer\"]",
        "{\"type\":1}",
        "{\"sdp\":\"x\"}",
        "{\"type\":\"offer\"} trailing",
        "\"offer\"",
    ] {
        assert!(
            matches!(
                f.post(&a, not_json).await,
                MessageReply::Invalid(MessageError::NotJson(_))
            ),
            "{not_json:?}"
        );
    }
    assert_eq!(f.snapshot().await, before, "nothing was written");
    let (_, _, messages) = f.joined().await;
    assert!(messages.is_empty());
}

#[tokio::test]
async fn invalid_messages_are_not_forwarded_to_a_peer() {
    let f = Fixture::new();
    let (a, _, _) = f.joined().await;
    f.joined().await;
    for bad in ["", "hello", r#"{"type":"foo"}"#] {
        assert!(matches!(f.post(&a, bad).await, MessageReply::Invalid(_)));
    }
    assert!(f.deliveries().is_empty());
}

#[tokio::test]
async fn invalid_message_from_a_stranger_is_invalid_before_anything_else() {
    // Validation happens at the edge: an invalid body is refused without touching the store.
    let f = Fixture::new();
    assert!(matches!(
        f.post(&client("stranger"), "hello").await,
        MessageReply::Invalid(MessageError::NotJson(_))
    ));
    assert_eq!(f.stored().await, None);
}

#[tokio::test]
async fn message_of_exactly_the_size_limit_is_accepted() {
    let f = Fixture::new();
    let max = f.limits.max_message_bytes;
    let (a, _, _) = f.joined().await;
    let frame = r#"{"type":"offer","sdp":""}"#;
    let exact = format!(
        r#"{{"type":"offer","sdp":"{}"}}"#,
        "a".repeat(max - frame.len())
    );
    assert_eq!(exact.len(), max);
    assert_eq!(f.post(&a, &exact).await, MessageReply::Success);
    let over = format!(
        r#"{{"type":"offer","sdp":"{}"}}"#,
        "a".repeat(max + 1 - frame.len())
    );
    assert_eq!(
        f.post(&a, &over).await,
        MessageReply::Invalid(MessageError::TooLarge { max })
    );
}

// --- concurrency --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_joins_on_one_room_admit_exactly_two() {
    let f = Fixture::new();
    for round in 0..20 {
        let room = room_id(&format!("race-{round}"));
        let joins = concurrent_joins(&f.service, &room, 50).await;
        assert_eq!(joins.collisions, 0, "random ids collided");
        assert_eq!(
            (joins.admitted.len(), joins.initiators, joins.full),
            (2, 1, 48),
            "round {round}"
        );
        let stored = f.store.load(&room).await.unwrap().unwrap().room;
        let mut ids: Vec<_> = stored.members.iter().map(|m| m.id.clone()).collect();
        let mut admitted = joins.admitted;
        ids.sort();
        admitted.sort();
        assert_eq!(ids, admitted, "the store holds exactly the admitted two");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_of_a_lone_member_are_all_saved() {
    let f = Fixture::with_limits(RoomLimits {
        max_saved_messages: 64,
        ..limits()
    });
    let (a, _, _) = f.joined().await;
    let posts: Vec<_> = (0..32)
        .map(|n| {
            let (s, r, a) = (f.service.clone(), f.room.clone(), a.clone());
            tokio::spawn(async move { s.message(&r, &a, candidate(n).as_bytes()).await })
        })
        .collect();
    for p in posts {
        assert_eq!(p.await.unwrap().unwrap(), MessageReply::Success);
    }
    let (_, _, mut messages) = f.joined().await;
    messages.sort();
    let mut want: Vec<_> = (0..32).map(candidate).collect();
    want.sort();
    assert_eq!(messages, want);
}
