//! One contract suite, run against every `RoomStore`: the memory store always, and the DynamoDB
//! store against a real DynamoDB API (DynamoDB Local) when `AWS_ENDPOINT_URL_DYNAMODB` is set.
//! With `APPRTC_REQUIRE_DYNAMODB=1` (the test command sets it) a missing endpoint is a failure,
//! not a skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use room::domain::ids::ConnectionId;
use room::domain::relay::{Appended, MAX_HANDOFFS, MemberQueue, QueueLimits, Step};
use room::domain::room::{LeaveOutcome, Millis, RoomLimits};
use room::ports::{ConnectionRecord, Parked, Registration, RoomStore, Routed, Swap};
use room::service::rooms::{JoinReply, MessageReply};
use room::testing::RecordingNotifier;
use room::{ClientId, RoomId};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{START, Wired, admitted, concurrent_joins, fresh_room, per_store};

/// The service under test over one store, with what it stands on ([`Wired`]).
struct Fixture {
    wired: Wired,
    store: Arc<dyn RoomStore>,
    limits: RoomLimits,
}

impl std::ops::Deref for Fixture {
    type Target = Wired;
    fn deref(&self) -> &Wired {
        &self.wired
    }
}

fn fixture(store: Arc<dyn RoomStore>) -> Fixture {
    let limits = RoomLimits {
        max_saved_messages: 3,
        ..RoomLimits::default()
    };
    let wired = Wired::new(store.clone(), &limits, RecordingNotifier::default());
    Fixture {
        wired,
        store,
        limits,
    }
}

fn msg(t: &str) -> String {
    format!("{{\"type\":\"{t}\",\"sdp\":\"x\"}}")
}

async fn joined(f: &Fixture, room: &RoomId) -> (ClientId, bool, Vec<String>) {
    admitted(f.service.join(room, false).await.unwrap())
}

async fn post(f: &Fixture, room: &RoomId, from: &ClientId, body: &[u8]) -> MessageReply {
    f.service.message(room, from, body).await.unwrap()
}

async fn is_member(f: &Fixture, room: &RoomId, client: &ClientId) -> bool {
    crate::support::is_member(&*f.store, &*f.clock, room, client).await
}

async fn third_join_gets_full(f: Fixture) {
    let room = fresh_room("full");
    let (_, first, _) = joined(&f, &room).await;
    let (_, second, _) = joined(&f, &room).await;
    assert!(first && !second);
    assert_eq!(f.service.join(&room, false).await.unwrap(), JoinReply::Full);
    assert!(f.service.is_full(&room).await.unwrap());
}

async fn saved_messages_are_handed_over_once_in_order(f: Fixture) {
    let room = fresh_room("saved");
    let (a, _, _) = joined(&f, &room).await;
    for t in ["offer", "candidate", "candidate"] {
        assert_eq!(
            post(&f, &room, &a, msg(t).as_bytes()).await,
            MessageReply::Success
        );
    }
    let (b, _, messages) = joined(&f, &room).await;
    assert_eq!(
        messages,
        vec![msg("offer"), msg("candidate"), msg("candidate")]
    );
    f.service.leave(&room, &b).await.unwrap();
    let (_, initiator, messages) = joined(&f, &room).await;
    assert!(!initiator);
    assert!(messages.is_empty());
}

async fn messages_with_a_peer_are_forwarded_not_saved(f: Fixture) {
    let room = fresh_room("fwd");
    let (a, _, _) = joined(&f, &room).await;
    let (_b, _, _) = joined(&f, &room).await;
    assert_eq!(
        post(&f, &room, &a, msg("offer").as_bytes()).await,
        MessageReply::Success
    );
    let d = f.notifier.deliveries();
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].from.clone(), d[0].msg.clone()), (a, msg("offer")));
}

async fn leave_promotes_the_survivor_and_empties_the_room(f: Fixture) {
    let room = fresh_room("leave");
    let (a, _, _) = joined(&f, &room).await;
    let (b, _, _) = joined(&f, &room).await;
    assert_eq!(
        f.service.leave(&room, &a).await.unwrap(),
        LeaveOutcome::Left
    );
    assert_eq!(
        f.service.leave(&room, &a).await.unwrap(),
        LeaveOutcome::UnknownClient
    );
    // The survivor is alone: its messages are saved again.
    assert_eq!(
        post(&f, &room, &b, msg("offer").as_bytes()).await,
        MessageReply::Success
    );
    assert!(f.notifier.deliveries().is_empty());
    let (c, initiator, messages) = joined(&f, &room).await;
    assert!(!initiator);
    assert_eq!(messages, vec![msg("offer")]);
    f.service.leave(&room, &b).await.unwrap();
    f.service.leave(&room, &c).await.unwrap();
    assert!(f.store.load(&room).await.unwrap().is_none());
    assert_eq!(
        f.service.leave(&room, &c).await.unwrap(),
        LeaveOutcome::UnknownRoom
    );
}

async fn loopback_rooms_are_full_and_admit_the_loopback_ids(f: Fixture) {
    let room = fresh_room("loop");
    let JoinReply::Joined { client_id: a, .. } = f.service.join(&room, true).await.unwrap() else {
        panic!("loopback join failed")
    };
    for id in ["LOOPBACK_CLIENT_ID", "loopback_client_id"] {
        assert!(is_member(&f, &room, &ClientId::parse(id).unwrap()).await);
    }
    assert_eq!(f.service.join(&room, false).await.unwrap(), JoinReply::Full);
    f.service.leave(&room, &a).await.unwrap();
    assert!(f.store.load(&room).await.unwrap().is_none());
}

async fn only_issued_ids_are_members(f: Fixture) {
    let room = fresh_room("issued");
    let (a, _, _) = joined(&f, &room).await;
    assert!(is_member(&f, &room, &a).await);
    let guess = ClientId::parse("12345678").unwrap();
    assert!(!is_member(&f, &room, &guess).await);
    let loopback = ClientId::parse("loopback_client_id").unwrap();
    assert!(!is_member(&f, &room, &loopback).await);
    assert_eq!(
        post(&f, &room, &guess, msg("offer").as_bytes()).await,
        MessageReply::UnknownClient
    );
}

async fn a_joiner_that_never_registers_is_dropped_after_the_deadline(f: Fixture) {
    let room = fresh_room("pending");
    let (a, _, _) = joined(&f, &room).await;
    assert!(f.sockets.register(&room, &a).await);
    let (b, _, _) = joined(&f, &room).await;
    f.clock
        .advance(f.limits.register_deadline - Duration::from_millis(1));
    assert!(is_member(&f, &room, &b).await);
    f.clock.advance(Duration::from_millis(1));
    assert!(!is_member(&f, &room, &b).await);
    let (_, initiator, _) = joined(&f, &room).await;
    assert!(
        !initiator,
        "the registered first member stays and is the initiator"
    );
}

async fn a_closed_socket_frees_the_place_after_the_grace_unless_it_returns(f: Fixture) {
    let room = fresh_room("grace");
    let (a, _, _) = joined(&f, &room).await;
    let (b, _, _) = joined(&f, &room).await;
    assert!(f.sockets.register(&room, &a).await);
    assert!(f.sockets.register(&room, &b).await);
    f.sockets.close(&b).await;
    f.clock.advance(f.limits.reconnect_grace / 2);
    assert!(f.sockets.register(&room, &b).await, "back within the grace");
    f.clock.advance(f.limits.reconnect_grace);
    assert_eq!(f.service.join(&room, false).await.unwrap(), JoinReply::Full);
    f.sockets.close(&b).await;
    f.clock.advance(f.limits.reconnect_grace);
    let (_, initiator, _) = joined(&f, &room).await;
    assert!(!initiator);
}

async fn an_expired_room_counts_as_absent(f: Fixture) {
    let room = fresh_room("ttl");
    let (a, _, _) = joined(&f, &room).await;
    assert!(f.sockets.register(&room, &a).await);
    f.clock.advance(f.limits.room_ttl);
    assert_eq!(
        post(&f, &room, &a, msg("offer").as_bytes()).await,
        MessageReply::UnknownRoom
    );
    let (_, initiator, _) = joined(&f, &room).await;
    assert!(initiator);
}

async fn bye_counts_as_leave_and_reaches_only_a_remaining_peer(f: Fixture) {
    let room = fresh_room("bye");
    let (a, _, _) = joined(&f, &room).await;
    let (b, _, _) = joined(&f, &room).await;
    let bye = br#"{"type":"bye"}"#;
    assert_eq!(post(&f, &room, &b, bye).await, MessageReply::Success);
    assert_eq!(f.notifier.deliveries().len(), 1);
    assert!(!is_member(&f, &room, &b).await);
    assert_eq!(post(&f, &room, &a, bye).await, MessageReply::Success);
    assert_eq!(f.notifier.deliveries().len(), 1, "nobody left to tell");
    assert!(f.store.load(&room).await.unwrap().is_none());
}

async fn saved_list_and_message_limits_hold(f: Fixture) {
    let room = fresh_room("caps");
    let (a, _, _) = joined(&f, &room).await;
    for _ in 0..3 {
        post(&f, &room, &a, msg("candidate").as_bytes()).await;
    }
    assert_eq!(
        post(&f, &room, &a, msg("candidate").as_bytes()).await,
        MessageReply::SavedListFull
    );
    for bad in [&b""[..], b"hello", br#"{"type":"foo"}"#] {
        assert!(matches!(
            post(&f, &room, &a, bad).await,
            MessageReply::Invalid(_)
        ));
    }
    let (_, _, messages) = joined(&f, &room).await;
    assert_eq!(messages.len(), 3);
}

async fn stale_writes_conflict(f: Fixture) {
    let room = fresh_room("cas");
    joined(&f, &room).await;
    let v = f.store.load(&room).await.unwrap().unwrap();
    // In order: (the version the writer read, what it writes, the answer).
    for (expected, new, want, what) in [
        (
            None,
            Some(&v.room),
            Swap::Conflict,
            "a create over a record",
        ),
        (
            Some(v.version),
            Some(&v.room),
            Swap::Done,
            "a write on the version read",
        ),
        (
            Some(v.version),
            Some(&v.room),
            Swap::Conflict,
            "a second write on that read",
        ),
        (
            Some(v.version),
            None,
            Swap::Conflict,
            "a delete on a stale read",
        ),
    ] {
        assert_eq!(
            f.store.swap(&room, expected, new).await.unwrap(),
            want,
            "{what}"
        );
    }
    let now = f.store.load(&room).await.unwrap().unwrap();
    assert_eq!(
        f.store.swap(&room, Some(now.version), None).await.unwrap(),
        Swap::Done
    );
    assert!(f.store.load(&room).await.unwrap().is_none());
}

async fn a_route_read_answers_in_place_or_hands_back_the_record_as_loaded(f: Fixture) {
    let room = fresh_room("route");
    let first = |r: &room::domain::room::Room| {
        r.members
            .first()
            .map(|m| ConnectionId::new(m.id.to_string()))
    };
    let nothing = |_: &room::domain::room::Room| None;
    assert_eq!(
        f.store.read_route(&room, &first).await.unwrap(),
        Routed::Loaded(None)
    );
    let (a, ..) = joined(&f, &room).await;
    assert_eq!(
        f.store.read_route(&room, &first).await.unwrap(),
        Routed::Route(ConnectionId::new(a.to_string()))
    );
    let loaded = f.store.load(&room).await.unwrap();
    assert!(loaded.is_some());
    assert_eq!(
        f.store.read_route(&room, &nothing).await.unwrap(),
        Routed::Loaded(loaded)
    );
}

/// A connection id no other test (or earlier run against the same table) uses.
fn fresh_connection(tag: &str) -> ConnectionId {
    ConnectionId::new(format!("{}=", fresh_room(tag)))
}

const QUEUE: QueueLimits = QueueLimits {
    max_frames: 8,
    max_bytes: 64,
    lease: 5_000,
};

async fn connection_records_park_register_and_close_conditionally(f: Fixture) {
    let room = fresh_room("conn");
    let (a, _, _) = joined(&f, &room).await;
    let conn = fresh_connection("c");
    let until = START + 3_600_000;
    let empty = f.store.connection(&conn).await.unwrap();
    assert_eq!(empty, ConnectionRecord::default());
    let park = |frame: &'static str| {
        let (store, conn) = (f.store.clone(), conn.clone());
        async move { store.park_frame(&conn, frame, &QUEUE, until).await.unwrap() }
    };
    assert_eq!(park("f1").await, Parked::Kept);
    let read = f.store.connection(&conn).await.unwrap();
    assert_eq!(
        (read.parked.clone(), read.closed),
        (vec!["f1".to_owned()], false)
    );
    assert!(read.version.is_some(), "parking creates the record");
    assert_eq!(park("f2").await, Parked::Kept);
    // The registration conflicts on a stale connection read (a frame parked since) or a stale
    // room version.
    let loaded = f.store.load(&room).await.unwrap().unwrap();
    let register = |read: ConnectionRecord, expected| {
        let (store, conn, room, a, new) = (
            f.store.clone(),
            conn.clone(),
            room.clone(),
            a.clone(),
            loaded.room.clone(),
        );
        async move {
            store
                .register_connection(&Registration {
                    connection: &conn,
                    read: &read,
                    room: &room,
                    client: &a,
                    expires_at: until,
                    expected,
                    new: &new,
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(
        register(read.clone(), Some(loaded.version)).await,
        Swap::Conflict,
        "a frame parked after the read"
    );
    let current = f.store.connection(&conn).await.unwrap();
    assert_eq!(current.parked, ["f1", "f2"]);
    assert_eq!(register(current.clone(), None).await, Swap::Conflict);
    assert_eq!(
        register(current.clone(), Some(loaded.version)).await,
        Swap::Done
    );
    let registered = f.store.connection(&conn).await.unwrap();
    assert_eq!(registered.registration, Some((room.clone(), a.clone())));
    assert!(registered.parked.is_empty() && !registered.closed);
    let queue = f.store.queue(&room, &a).await.unwrap();
    assert_eq!(
        queue.frames,
        ["f1", "f2"],
        "the parked frames joined the member's queue"
    );
    assert_eq!(queue.bytes, 4);
    assert_eq!(
        park("f3").await,
        Parked::Registered,
        "nothing is parked once registered"
    );
    assert!(f.store.registered_connections().await.unwrap().contains(&(
        conn.clone(),
        room.clone(),
        a.clone()
    )));
    assert_eq!(
        f.store.close_connection(&conn, until).await.unwrap(),
        Some((room.clone(), a.clone()))
    );
    assert_eq!(
        f.store.close_connection(&conn, until).await.unwrap(),
        Some((room.clone(), a.clone())),
        "closing twice answers the same"
    );
    let closed = f.store.connection(&conn).await.unwrap();
    assert!(closed.closed && closed.registration.is_some());
    assert!(
        !f.store
            .registered_connections()
            .await
            .unwrap()
            .iter()
            .any(|(c, _, _)| c == &conn)
    );
    // A socket that closed before registering still parks, and its registration keeps `closed`.
    let late = fresh_connection("late");
    assert_eq!(f.store.close_connection(&late, until).await.unwrap(), None);
    assert_eq!(
        f.store
            .park_frame(&late, "f1", &QUEUE, until)
            .await
            .unwrap(),
        Parked::Kept
    );
    let read = f.store.connection(&late).await.unwrap();
    assert!(read.closed && read.parked == ["f1"]);
    // Parking stops at the caps.
    let full = fresh_connection("full");
    for _ in 0..QUEUE.max_frames {
        assert_eq!(
            f.store.park_frame(&full, "f", &QUEUE, until).await.unwrap(),
            Parked::Kept
        );
    }
    assert_eq!(
        f.store.park_frame(&full, "f", &QUEUE, until).await.unwrap(),
        Parked::Full
    );
}

/// One member's relay queue in the store under test, used at one instant with the `QUEUE` limits
/// and a record that lives an hour.
struct Queue<'a> {
    store: &'a dyn RoomStore,
    room: &'a RoomId,
    member: &'a ClientId,
    now: Millis,
}

impl<'a> Queue<'a> {
    fn new(f: &'a Fixture, room: &'a RoomId, member: &'a ClientId) -> Self {
        Self {
            store: &*f.store,
            room,
            member,
            now: START,
        }
    }

    async fn read(&self) -> MemberQueue {
        self.store.queue(self.room, self.member).await.unwrap()
    }

    async fn append(&self, frame: &str) -> Appended {
        let until = self.now + 3_600_000;
        self.store
            .append(self.room, self.member, frame, self.now, &QUEUE, until)
            .await
            .unwrap()
    }

    /// The holder of the lease `token` reports the frames it `posted`, and takes or keeps the
    /// lease.
    async fn step(&self, token: u64, posted: &[String]) -> Step {
        self.step_at(token, posted, self.now).await
    }

    async fn step_at(&self, token: u64, posted: &[String], at: Millis) -> Step {
        self.store
            .step(self.room, self.member, token, posted, at, &QUEUE)
            .await
            .unwrap()
    }

    /// The holder of the lease `token` lets it go, handing the queue off if `hand_off`.
    async fn release(&self, token: u64, hand_off: bool) -> bool {
        self.store
            .release(self.room, self.member, token, hand_off)
            .await
            .unwrap()
    }
}

/// A holder that cannot finish hands the queue off in its release, at most `MAX_HANDOFFS` times
/// until the queue is emptied; an empty queue, or a lease not held, is not handed off.
async fn a_queue_is_handed_off_a_bounded_number_of_times(f: Fixture) {
    let room = fresh_room("handoff");
    let (a, _, _) = joined(&f, &room).await;
    let queue = Queue::new(&f, &room, &a);
    let now = queue.now;
    queue.append("f1").await;
    assert!(
        !queue.release(1, true).await,
        "a lease nobody holds is not handed off"
    );
    for token in 1..=u64::from(MAX_HANDOFFS) {
        assert!(matches!(queue.step(token, &[]).await, Step::Deliver(_)));
        assert!(
            !queue.release(token + 100, true).await,
            "only the holder hands off"
        );
        assert!(queue.release(token, true).await);
        let q = queue.read().await;
        assert_eq!(q.handoffs, u32::try_from(token).unwrap());
        assert!(q.idle(now) || !q.delivering(now), "released: {q:?}");
        assert_eq!(q.frames, vec!["f1".to_owned()], "frames kept");
    }
    let last = u64::from(MAX_HANDOFFS) + 1;
    assert!(matches!(queue.step(last, &[]).await, Step::Deliver(_)));
    assert!(
        !queue.release(last, true).await,
        "handed off often enough: the next frame or the sweep delivers it"
    );
    let q = queue.read().await;
    assert!(!q.delivering(now), "released all the same: {q:?}");
    assert_eq!(q.frames.len(), 1);
    // Delivered and emptied, the count starts over.
    assert!(matches!(queue.step(7, &[]).await, Step::Deliver(_)));
    assert_eq!(queue.step(7, &["f1".to_owned()]).await, Step::Done);
    queue.append("f2").await;
    assert_eq!(queue.read().await.handoffs, 0);
    assert!(matches!(queue.step(8, &[]).await, Step::Deliver(_)));
    assert!(queue.release(8, true).await);
    // A queue emptied while its lease was held is never handed off.
    assert!(matches!(queue.step(9, &[]).await, Step::Deliver(_)));
    assert_eq!(queue.step(9, &["f2".to_owned()]).await, Step::Done);
    assert!(!queue.release(9, true).await);
}

async fn a_queue_is_appended_to_delivered_in_order_and_released_only_when_empty(f: Fixture) {
    let room = fresh_room("queue");
    let (a, _, _) = joined(&f, &room).await;
    let queue = Queue::new(&f, &room, &a);
    let now = queue.now;
    assert_eq!(queue.read().await, MemberQueue::default());
    assert_eq!(
        queue.step(1, &[]).await,
        Step::Done,
        "an empty queue has nothing to deliver"
    );
    assert_eq!(
        queue.append("f1").await,
        Appended::Queued { delivering: false }
    );
    assert_eq!(
        queue.append("f2").await,
        Appended::Queued { delivering: false }
    );
    let two = vec!["f1".to_owned(), "f2".to_owned()];
    assert_eq!(queue.step(1, &[]).await, Step::Deliver(two.clone()));
    assert_eq!(queue.step(2, &[]).await, Step::Busy, "one holder at a time");
    assert_eq!(
        queue.append("f3").await,
        Appended::Queued { delivering: true }
    );
    // Holder 1 posted f1 only; then f2 and f3 are left.
    assert_eq!(
        queue.step(1, &two[..1]).await,
        Step::Deliver(vec!["f2".to_owned(), "f3".to_owned()])
    );
    let rest = vec!["f2".to_owned(), "f3".to_owned()];
    assert_eq!(queue.step(1, &rest).await, Step::Done);
    let q = queue.read().await;
    assert!(q.idle(now), "{q:?}");
    assert_eq!(q.bytes, 0);
    // A holder that gives up keeps the frames; an expired lease is taken over.
    queue.append("f4").await;
    assert!(matches!(queue.step(3, &[]).await, Step::Deliver(_)));
    assert!(
        !queue.release(3, false).await,
        "released without a hand-off"
    );
    assert!(matches!(queue.step(4, &[]).await, Step::Deliver(_)));
    assert_eq!(
        queue.step_at(5, &[], now + QUEUE.lease - 1).await,
        Step::Busy
    );
    assert_eq!(
        queue.step_at(5, &[], now + QUEUE.lease).await,
        Step::Deliver(vec!["f4".to_owned()])
    );
    // The caps hold inside the write.
    let b = fresh_room("queue-cap");
    let (b_id, _, _) = joined(&f, &b).await;
    let queue_b = Queue::new(&f, &b, &b_id);
    for _ in 0..QUEUE.max_frames {
        assert!(matches!(queue_b.append("f").await, Appended::Queued { .. }));
    }
    assert_eq!(queue_b.append("f").await, Appended::Full);
    let big = "x".repeat(QUEUE.max_bytes);
    let c = fresh_room("queue-bytes");
    let queue_c = Queue::new(&f, &c, &b_id);
    assert_eq!(
        queue_c.append(&big).await,
        Appended::Queued { delivering: false }
    );
    assert_eq!(queue_c.append("y").await, Appended::Full);
}

/// Many writers at once on one queue and one connection record, as a burst of frames runs on as
/// many invocations: none fails for another, each frame is kept exactly once.
async fn concurrent_appends_and_parks_all_land(f: Fixture) {
    let room = fresh_room("burst");
    let (a, _, _) = joined(&f, &room).await;
    let conn = fresh_connection("burst");
    let until = START + 3_600_000;
    let q = QueueLimits {
        max_frames: 1024,
        max_bytes: 64 * 1024,
        lease: 5_000,
    };
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (store, room, a, conn) = (f.store.clone(), room.clone(), a.clone(), conn.clone());
        tasks.push(tokio::spawn(async move {
            let frame = format!("frame-{i}");
            let appended = store
                .append(&room, &a, &frame, START, &q, until)
                .await
                .unwrap();
            let parked = store.park_frame(&conn, &frame, &q, until).await.unwrap();
            (appended, parked)
        }));
    }
    for t in tasks {
        let (appended, parked) = t.await.unwrap();
        assert!(matches!(appended, Appended::Queued { .. }));
        assert_eq!(parked, Parked::Kept);
    }
    let mut want: Vec<String> = (0..32).map(|i| format!("frame-{i}")).collect();
    want.sort();
    let mut queued = f.store.queue(&room, &a).await.unwrap().frames;
    queued.sort();
    assert_eq!(queued, want);
    let mut parked = f.store.connection(&conn).await.unwrap().parked;
    parked.sort();
    assert_eq!(parked, want);
}

async fn concurrent_joins_admit_exactly_two(f: Fixture) {
    let room = fresh_room("race");
    let joins = concurrent_joins(&f.service, &room, 20).await;
    assert_eq!((joins.admitted.len(), joins.initiators), (2, 1));
}

macro_rules! all_cases {
    ($store:ident) => {
        per_store!($store, workers = 2, super::fixture:
            third_join_gets_full,
            saved_messages_are_handed_over_once_in_order,
            messages_with_a_peer_are_forwarded_not_saved,
            leave_promotes_the_survivor_and_empties_the_room,
            loopback_rooms_are_full_and_admit_the_loopback_ids,
            only_issued_ids_are_members,
            a_joiner_that_never_registers_is_dropped_after_the_deadline,
            a_closed_socket_frees_the_place_after_the_grace_unless_it_returns,
            an_expired_room_counts_as_absent,
            bye_counts_as_leave_and_reaches_only_a_remaining_peer,
            saved_list_and_message_limits_hold,
            stale_writes_conflict,
            concurrent_joins_admit_exactly_two,
            connection_records_park_register_and_close_conditionally,
            a_queue_is_appended_to_delivered_in_order_and_released_only_when_empty,
            a_queue_is_handed_off_a_bounded_number_of_times,
            concurrent_appends_and_parks_all_land,
            a_route_read_answers_in_place_or_hands_back_the_record_as_loaded,
        );
    };
}

all_cases!(memory);
#[cfg(feature = "dynamodb")]
all_cases!(dynamodb);
