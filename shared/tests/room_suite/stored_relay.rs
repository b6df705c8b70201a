//! The stored relay (API Gateway WebSockets) over the memory store and recorded connections:
//! collider semantics with connection ids kept in the room record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use room::adapters::memory::MemoryRoomStore;
use room::domain::relay::MAX_HANDOFFS;
use room::ports::{Clock, SystemClock};
use room::service::relay::PostRefused;
use room::service::rooms::JoinReply;
use room::testing::{FakeConnections, MovableClock, RecordedHandoffs};
use room::{ClientId, RoomId};
use serde_json::Value;
use std::sync::Arc;

use crate::support::admitted;
use crate::support::relay::{RelayWorld, register, relayed, send};

type World = RelayWorld<MemoryRoomStore, FakeConnections>;

fn world() -> World {
    World::new(
        Arc::new(MemoryRoomStore::new()),
        Arc::default(),
        Arc::new(SystemClock),
    )
}

/// A world whose relay hands off what it cannot deliver in time, recording the hand-offs.
fn handing_off_world() -> (World, Arc<RecordedHandoffs>) {
    let handoffs = Arc::new(RecordedHandoffs::default());
    let w = World::handing_off(
        Arc::new(MemoryRoomStore::new()),
        Arc::default(),
        Arc::new(MovableClock::default()),
        handoffs.clone(),
    );
    (w, handoffs)
}

async fn joined(w: &World, room: &str) -> String {
    let reply = w
        .service
        .join(&RoomId::parse(room).unwrap(), false)
        .await
        .unwrap();
    admitted(reply).0.to_string()
}

/// A call in progress in `room`: two members registered on `ca` and `cb`; their ids.
async fn call(w: &World, room: &str) -> (String, String) {
    crate::support::relay::call(&w.service, &w.relay, &w.conns, room).await
}

/// Opens the connection `conn` and registers `client` of `room` on it.
async fn connect(w: &World, conn: &str, room: &str, client: &str) {
    w.conns.open(conn);
    w.relay
        .on_frame(&conn.into(), &register(room, client))
        .await;
}

fn frames(w: &World, conn: &str) -> Vec<Value> {
    w.conns
        .take(conn)
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect()
}

const OFFER: &str = r#"{"type":"offer","sdp":"x"}"#;
const ANSWER: &str = r#"{"type":"answer","sdp":"y"}"#;

#[tokio::test]
async fn frames_relay_between_registered_connections() {
    let w = world();
    call(&w, "s1").await;
    w.relay.on_frame(&"cb".into(), &send(ANSWER)).await;
    assert_eq!(frames(&w, "ca"), vec![relayed(ANSWER)]);
    assert!(frames(&w, "cb").is_empty(), "no echo, no register ack");
}

#[tokio::test]
async fn messages_queue_until_the_peer_registers() {
    let w = world();
    let a = joined(&w, "s2").await;
    connect(&w, "ca", "s2", &a).await;
    let b = joined(&w, "s2").await;
    let room = RoomId::parse("s2").unwrap();
    assert_eq!(
        w.service
            .message(&room, &a.parse().unwrap(), OFFER.as_bytes())
            .await
            .unwrap(),
        room::service::rooms::MessageReply::Success
    );
    connect(&w, "cb", "s2", &b).await;
    assert_eq!(frames(&w, "cb"), vec![relayed(OFFER)]);
}

#[tokio::test]
async fn unissued_ids_and_protocol_errors_get_error_frames() {
    let w = world();
    let _a = joined(&w, "s3").await;
    w.conns.open("cx");
    w.relay
        .on_frame(&"cx".into(), &register("s3", "12345678"))
        .await;
    let f = frames(&w, "cx");
    assert_eq!(
        f[0]["error"],
        "Unknown client id for this room: join the room first"
    );
    assert_eq!(w.conns.closed(), vec!["cx".to_owned()]);
    // A send before any register may be a frame whose invocation overtook its socket's register:
    // it waits for the registration instead of closing the socket.
    w.conns.open("cy");
    w.relay.on_frame(&"cy".into(), &send(OFFER)).await;
    assert!(frames(&w, "cy").is_empty());
    assert!(!w.conns.closed().contains(&"cy".to_owned()));
    w.conns.open("cz");
    w.relay.on_frame(&"cz".into(), r#"{"cmd":"ping"}"#).await;
    assert_eq!(
        frames(&w, "cz")[0]["error"],
        "Invalid message: unexpected 'cmd'"
    );
    assert!(!w.conns.closed().contains(&"cz".to_owned()));
}

#[tokio::test]
async fn second_register_and_live_duplicate_are_refused_dead_duplicate_replaced() {
    let w = world();
    let (a, _b) = (joined(&w, "s4").await, joined(&w, "s4").await);
    connect(&w, "c1", "s4", &a).await;
    w.relay.on_frame(&"c1".into(), &register("s4", &a)).await;
    assert_eq!(frames(&w, "c1")[0]["error"], "Duplicated register request");
    let (a2, _) = (joined(&w, "s5").await, joined(&w, "s5").await);
    w.conns.open("d1");
    w.conns.open("d2");
    w.relay.on_frame(&"d1".into(), &register("s5", &a2)).await;
    w.relay.on_frame(&"d2".into(), &register("s5", &a2)).await;
    assert_eq!(frames(&w, "d2")[0]["error"], "Duplicated registration");
    w.conns.vanish("d1");
    connect(&w, "d3", "s5", &a2).await;
    assert!(frames(&w, "d3").is_empty(), "dead registration replaced");
}

#[tokio::test]
async fn a_send_that_overtakes_its_register_is_delivered_after_it() {
    let w = world();
    let (a, b) = (joined(&w, "s8").await, joined(&w, "s8").await);
    w.conns.open("ca");
    w.conns.open("cb");
    w.relay.on_frame(&"ca".into(), &register("s8", &a)).await;
    w.relay.on_frame(&"cb".into(), &send(OFFER)).await;
    w.relay.on_frame(&"cb".into(), &send(ANSWER)).await;
    assert!(frames(&w, "ca").is_empty(), "parked until the register");
    w.relay.on_frame(&"cb".into(), &register("s8", &b)).await;
    assert_eq!(frames(&w, "ca"), vec![relayed(OFFER), relayed(ANSWER)]);
    assert!(w.conns.closed().is_empty());
}

#[tokio::test]
async fn a_client_that_left_still_delivers_its_bye_by_post_and_a_stranger_cannot() {
    let w = world();
    let (a, b) = (joined(&w, "s9").await, joined(&w, "s9").await);
    connect(&w, "ca", "s9", &a).await;
    let room = RoomId::parse("s9").unwrap();
    w.service.leave(&room, &b.parse().unwrap()).await.unwrap();
    let bye = r#"{"type":"bye"}"#;
    let res = w
        .relay
        .post(&room, &b.parse().unwrap(), bye.as_bytes())
        .await;
    assert_eq!(res, Ok(()));
    assert_eq!(frames(&w, "ca"), vec![relayed(bye)]);
    let stranger = "12345678".parse().unwrap();
    let res = w.relay.post(&room, &stranger, bye.as_bytes()).await;
    assert_eq!(res, Err(PostRefused::NotIssued));
    assert!(frames(&w, "ca").is_empty());
}

#[tokio::test]
async fn the_sweep_keeps_connections_alive_and_handles_missed_disconnects() {
    let w = world();
    let (_, b) = call(&w, "s10").await;
    w.conns.vanish("cb");
    let sweep = w.relay.sweep().await.unwrap();
    assert_eq!((sweep.kept_alive, sweep.gone), (1, 1));
    assert_eq!(
        w.conns.take("ca"),
        vec![room::domain::message::KEEPALIVE_FRAME.to_owned()]
    );
    // b is away now: a's next frame waits for b's return instead of going to a dead socket.
    w.relay.on_frame(&"ca".into(), &send(OFFER)).await;
    connect(&w, "cb2", "s10", &b).await;
    assert_eq!(frames(&w, "cb2"), vec![relayed(OFFER)]);
}

#[tokio::test]
async fn bye_counts_as_leave_and_a_dead_ghost_never_keeps_the_room_full() {
    let w = world();
    call(&w, "s6").await;
    w.relay
        .on_frame(&"cb".into(), &send(r#"{"type":"bye"}"#))
        .await;
    assert_eq!(frames(&w, "ca")[0]["msg"], r#"{"type":"bye"}"#);
    let c = joined(&w, "s6").await;
    connect(&w, "cc", "s6", &c).await;
    // c's phone vanishes without a disconnect event: the room is full of a ghost...
    w.conns.vanish("cc");
    let room = RoomId::parse("s6").unwrap();
    assert_eq!(w.service.join(&room, false).await.unwrap(), JoinReply::Full);
    // ...which the join that found the room full detached: c keeps its place for the reconnect
    // grace, as after a disconnect event (domain::relay's tests follow the grace to its end)...
    assert!(
        !w.relay.detach_dead(&room).await.unwrap(),
        "the full join found the ghost already"
    );
    assert_eq!(w.service.join(&room, false).await.unwrap(), JoinReply::Full);
    // ...and may come back on a new socket within it.
    connect(&w, "cc2", "s6", &c).await;
    w.relay.on_frame(&"ca".into(), &send(OFFER)).await;
    assert_eq!(frames(&w, "cc2"), vec![relayed(OFFER)]);
}

#[tokio::test]
async fn a_disconnect_keeps_the_place_and_messages_queue_for_the_return() {
    let w = world();
    let (_, b) = call(&w, "s7").await;
    w.conns.vanish("cb");
    w.relay.on_disconnect(&"cb".into()).await;
    w.relay.on_frame(&"ca".into(), &send(OFFER)).await;
    connect(&w, "cb2", "s7", &b).await;
    assert_eq!(frames(&w, "cb2"), vec![relayed(OFFER)]);
}

/// A deliverer that died holding a queue's lease loses nothing: its lease expires and the
/// keep-alive sweep delivers the frames, once.
#[tokio::test]
async fn the_sweep_delivers_a_queue_whose_deliverer_died() {
    use room::domain::relay::{QueueLimits, Step};
    use room::ports::RoomStore;
    use room::service::relay::DELIVERY_LEASE;
    let clock = Arc::new(MovableClock::default());
    let w = World::new(
        Arc::new(MemoryRoomStore::new()),
        Arc::default(),
        clock.clone(),
    );
    let (a, _) = call(&w, "s9").await;
    let (r, a_id) = (RoomId::parse("s9").unwrap(), ClientId::parse(&a).unwrap());
    let q = QueueLimits {
        max_frames: 8,
        max_bytes: 4096,
        lease: room::domain::room::millis(DELIVERY_LEASE),
    };
    let frame = room::domain::message::ServerFrame::Message(OFFER).encode();
    let now = clock.now();
    w.store
        .append(&r, &a_id, &frame, now, &q, now + 60_000)
        .await
        .unwrap();
    // Another invocation took the lease, then Lambda ended it before it posted anything.
    assert!(matches!(
        w.store.step(&r, &a_id, 99, &[], now, &q).await.unwrap(),
        Step::Deliver(_)
    ));
    let sweep = w.relay.sweep().await.unwrap();
    assert_eq!(sweep.flushed, 0, "the lease is still held");
    assert!(not_keepalive(&w, "cb").is_empty());
    clock.advance(DELIVERY_LEASE);
    let sweep = w.relay.sweep().await.unwrap();
    assert_eq!(sweep.flushed, 1);
    let got = not_keepalive(&w, "cb");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["msg"], OFFER);
    assert_eq!(w.relay.sweep().await.unwrap().flushed, 0, "delivered once");
}

/// The deployed functions' timeout: each invocation below runs within it, as on Lambda.
const INVOCATION: std::time::Duration = std::time::Duration::from_secs(6);

async fn invocation<F: std::future::Future>(work: F) -> F::Output {
    room::retry::within(tokio::time::Instant::now() + INVOCATION, work).await
}

fn not_keepalive(w: &World, c: &str) -> Vec<Value> {
    frames(w, c)
        .into_iter()
        .filter(|f| f["error"] != "keepalive")
        .collect()
}

/// Posts to the peer fail (throttled, say) until the sender's invocation is nearly out of time:
/// the sender gets no error frame, the frame is kept and its queue handed off, and the invocation
/// the hand-off starts delivers it, once, as soon as posts work, with no other frame and no
/// sweep.
#[tokio::test(start_paused = true)]
async fn a_delivery_out_of_time_hands_the_queue_off_and_loses_nothing() {
    let (w, handoffs) = handing_off_world();
    let (a, _) = call(&w, "h1").await;
    w.conns.fail_posts("cb", true);
    let started = tokio::time::Instant::now();
    invocation(w.relay.on_frame(&"ca".into(), &send(OFFER))).await;
    let took = started.elapsed();
    assert!(
        took < INVOCATION - room::retry::MARGIN / 2,
        "gave up before the deadline: {took:?}"
    );
    assert!(frames(&w, "ca").is_empty(), "no error frame for the sender");
    assert!(
        w.conns.failed_posts() > 5,
        "retried until the deadline: {} posts",
        w.conns.failed_posts()
    );
    assert!(frames(&w, "cb").is_empty());
    let (r, a_id) = (RoomId::parse("h1").unwrap(), ClientId::parse(&a).unwrap());
    assert_eq!(handoffs.take(), vec![(r.clone(), a_id.clone())]);
    w.conns.fail_posts("cb", false);
    assert!(invocation(w.relay.drain(&r, &a_id)).await.unwrap());
    assert_eq!(not_keepalive(&w, "cb"), vec![relayed(OFFER)]);
    assert!(!invocation(w.relay.drain(&r, &a_id)).await.unwrap());
    assert!(handoffs.take().is_empty());
    // Later frames go straight on.
    w.relay.on_frame(&"ca".into(), &send(ANSWER)).await;
    assert_eq!(not_keepalive(&w, "cb"), vec![relayed(ANSWER)]);
}

/// A peer that cannot take frames for several whole invocations: the queue is handed off
/// `MAX_HANDOFFS` times, then waits, frames kept, for the keep-alive sweep, which delivers it.
#[tokio::test(start_paused = true)]
async fn hand_offs_are_bounded_and_the_sweep_delivers_after_them() {
    let (w, handoffs) = handing_off_world();
    let (a, _) = call(&w, "h2").await;
    w.conns.fail_posts("cb", true);
    invocation(w.relay.on_frame(&"ca".into(), &send(OFFER))).await;
    invocation(w.relay.on_frame(&"ca".into(), &send(ANSWER))).await;
    let (r, a_id) = (RoomId::parse("h2").unwrap(), ClientId::parse(&a).unwrap());
    // Each hand-off starts an invocation that delivers the queue, as the stream trigger does.
    let mut pending = handoffs.take();
    let mut total = pending.len();
    while let Some((room, member)) = pending.pop() {
        assert_eq!((&room, &member), (&r, &a_id));
        assert!(invocation(w.relay.drain(&room, &member)).await.unwrap());
        let more = handoffs.take();
        total += more.len();
        pending.extend(more);
    }
    assert_eq!(total, usize::try_from(MAX_HANDOFFS).unwrap());
    assert!(frames(&w, "ca").is_empty(), "no error frame for the sender");
    assert!(frames(&w, "cb").is_empty());
    w.conns.fail_posts("cb", false);
    let sweep = w.relay.sweep().await.unwrap();
    assert_eq!(sweep.flushed, 1);
    assert_eq!(
        not_keepalive(&w, "cb"),
        vec![relayed(OFFER), relayed(ANSWER)]
    );
}
