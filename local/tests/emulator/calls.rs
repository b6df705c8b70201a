//! Whole calls through a running `apprtc-local` over real sockets, in the order the web client
//! makes its requests (docs/protocol.md §5.1, §5.2; the § numbers below are that document's):
//! join, register, signaling through saved messages and the relay, hang-up, rejoin, vanished tabs
//! and sockets, and shutdown. Nothing sleeps and then asserts: every wait is for an event,
//! bounded by a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// The `messages` of a join answer, asserting they are strings.
fn messages(join: &Value) -> Vec<String> {
    join["params"]["messages"]
        .as_array()
        .expect("messages is an array")
        .iter()
        .map(|m| m.as_str().expect("each message is a string").to_owned())
        .collect()
}

/// `POST /message/<room>/<client>`, asserting SUCCESS (saved or forwarded).
async fn post_ok(s: &TestServer, room: &str, client: &str, msg: &str) {
    let v = s.message(room, client, msg).await;
    assert_eq!(v["result"], "SUCCESS", "{v}");
}

/// `client` posts `msg` to the room, and it is the next message `peer` receives: forwarded to
/// its socket, not saved.
async fn post_reaches(s: &TestServer, room: &str, client: &str, msg: &str, peer: &mut Ws) {
    post_ok(s, room, client, msg).await;
    assert_eq!(peer.recv_msg().await, msg);
}

/// A newcomer admitted as `client` registers, finds nothing pending (what was saved came in its
/// join answer) and answers; the survivor's socket `survivor` gets the answer. Returns the
/// newcomer's socket.
async fn newcomer_answers(s: &TestServer, room: &str, client: &str, survivor: &mut Ws) -> Ws {
    let mut ws = s.ws_registered(room, client).await;
    ws.expect_nothing_pending().await;
    ws.send_msg_to(survivor, &answer()).await;
    ws
}

/// Asserts `client` has no place in `room` any more: its message is refused as UNKNOWN_CLIENT.
async fn assert_gone(s: &TestServer, room: &str, client: &str, msg: &str) {
    assert_eq!(
        s.message(room, client, msg).await["result"],
        "UNKNOWN_CLIENT"
    );
}

/// A successful join's client id, asserting `is_initiator` (a string, as the web client needs).
fn admitted(join: &Value, initiator: bool) -> String {
    assert_eq!(join["result"], "SUCCESS", "{join}");
    assert_eq!(
        join["params"]["is_initiator"],
        if initiator { "true" } else { "false" },
        "{join}"
    );
    join["params"]["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned()
}

/// The path of the collider HTTP routes, from the `wss_post_url` a join handed out (this server's
/// own origin plus `/relay`). Clients append `/<room>/<client>` to it.
fn collider_path(s: &TestServer, join: &Value) -> String {
    let url = join["params"]["wss_post_url"]
        .as_str()
        .expect("wss_post_url");
    assert_eq!(url, format!("{}/relay", s.base));
    assert_eq!(join["params"]["wss_url"], s.ws_url.as_str());
    url[s.base.len()..].to_owned()
}

/// Waits until the server has as many registered sockets as `n` (it has seen a close or a
/// register). On the AWS path there is no `/status` (no such API Gateway route) and nothing to
/// wait for: the calls' registers are shown by the frames that reach each socket, and after a
/// close the relay queues for the client however late its `$disconnect` runs (a post to the
/// connection answers 410); the steps that follow wait for the frames that show it.
async fn await_open_sockets(s: &TestServer, n: u64) {
    if !on_aws_path() {
        s.wait_status(|v| v["openws"] == n).await;
    }
}

/// The close code of the next close frame (pings skipped); panics on anything else.
async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        let next = tokio::time::timeout(WAIT, ws.stream.next())
            .await
            .expect("timed out waiting for a close frame");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame with a code, got {other:?}"),
        }
    }
}

/// A call set up like the web clients do it; both sockets registered.
struct Call {
    room: &'static str,
    collider: String,
    a: String,
    wa: Ws,
    b: String,
    wb: Ws,
}

/// §5.1/§5.2 up to a connected call: the initiator joins, registers and posts its offer and
/// candidates while alone; the joiner gets them in `messages`, registers and answers over the
/// WebSocket; the initiator's later candidates are forwarded to the joiner's socket.
async fn establish_call(s: &TestServer, room: &'static str) -> Call {
    let ja = s.join(room).await;
    let a = admitted(&ja, true);
    assert!(messages(&ja).is_empty());
    let collider = collider_path(s, &ja);
    let mut wa = s.ws_registered(room, &a).await;
    let early = [offer(), candidate(1), candidate(2)];
    for m in &early {
        post_ok(s, room, &a, m).await;
    }

    let jb = s.join(room).await;
    let b = admitted(&jb, false);
    assert_ne!(a, b);
    assert_eq!(
        messages(&jb),
        early,
        "saved messages, in order, byte-identical"
    );
    let mut wb = s.ws_registered(room, &b).await;
    // The saved messages were handed over in the join answer, not also relayed.
    wb.expect_nothing_pending().await;

    wb.send_msg(&answer()).await;
    wb.send_msg(&candidate(3)).await;
    wb.send_msg(&candidate(4)).await;
    wa.recv_burst(&[answer(), candidate(3), candidate(4)]).await;
    wa.expect_nothing_more_from(&mut wb).await;

    post_reaches(s, room, &a, &candidate(5), &mut wb).await;
    wa.expect_nothing_pending().await;
    wb.expect_nothing_pending().await;
    await_open_sockets(s, 2).await;
    Call {
        room,
        collider,
        a,
        wa,
        b,
        wb,
    }
}

/// A call whose joiner's tab died (no /leave, no bye, no DELETE, not even a close frame), once the
/// server has seen its socket go: the initiator's id and socket, and the joiner's id.
async fn call_whose_joiner_vanished(s: &TestServer, room: &'static str) -> (String, Ws, String) {
    let Call { a, wa, b, wb, .. } = establish_call(s, room).await;
    drop(wb);
    await_open_sockets(s, 1).await;
    (a, wa, b)
}

fn offer2() -> String {
    r#"{"type":"offer","sdp":"v=0\r\no=- 9 9 IN IP4 127.0.0.1\r\n"}"#.to_owned()
}

#[tokio::test]
async fn web_call_signals_through_saved_messages_then_the_relay() {
    let s = TestServer::start().await;
    let mut c = establish_call(&s, "call").await;
    // Later messages keep flowing both ways.
    c.wb.send_msg_to(&mut c.wa, &candidate(6)).await;
    post_reaches(&s, c.room, &c.a, &candidate(7), &mut c.wb).await;
    assert_eq!(s.join(c.room).await["result"], "FULL");
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn hang_up_then_rejoin_gets_the_survivors_new_offer() {
    let s = TestServer::start().await;
    let Call {
        room,
        collider,
        a,
        mut wa,
        b,
        mut wb,
    } = establish_call(&s, "hangup").await;

    // The joiner hangs up (§5.1 step 7): /leave, then bye over the socket, close, DELETE.
    let left = s.leave(room, &b).await;
    assert_eq!(left.status, 200, "{}", left.body);
    wb.send_msg(BYE).await;
    wb.close().await;
    let deleted = s.delete(&format!("{collider}/{room}/{b}")).await;
    assert_eq!((deleted.status, deleted.body.as_str()), (200, "OK\n"));
    await_open_sockets(&s, 1).await;

    // The survivor gets the bye, becomes initiator and offers again; alone, its offer is saved.
    assert_eq!(wa.recv_msg().await, BYE);
    for m in [offer2(), candidate(8)] {
        post_ok(&s, room, &a, &m).await;
    }
    wa.expect_nothing_pending().await;

    // REJOIN: a new /join, a new id, the survivor's new offer in `messages`.
    let jb2 = s.join(room).await;
    let b2 = admitted(&jb2, false);
    assert_ne!(b2, b);
    assert_eq!(messages(&jb2), vec![offer2(), candidate(8)]);
    let mut wb2 = newcomer_answers(&s, room, &b2, &mut wa).await;
    post_reaches(&s, room, &a, &candidate(9), &mut wb2).await;

    // The old id is gone everywhere.
    assert_gone(&s, room, &b, &candidate(1)).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn page_unload_with_only_a_bye_frees_the_place_at_once() {
    // §5.1 step 8: browsers refuse the unload-time /leave and DELETE; only the WebSocket bye gets
    // out. The bye counts as leave (§3.9), so the survivor's re-offer is saved and a newcomer
    // is admitted without waiting for any grace period (the default 10 s is in force).
    let s = TestServer::start().await;
    let Call {
        room,
        a,
        mut wa,
        b,
        mut wb,
        ..
    } = establish_call(&s, "unload").await;
    wb.send_msg(BYE).await;
    drop(wb);
    assert_eq!(wa.recv_msg().await, BYE);
    post_ok(&s, room, &a, &offer2()).await;
    wa.expect_nothing_pending().await;

    let jc = s.join(room).await;
    let c = admitted(&jc, false);
    assert_eq!(messages(&jc), vec![offer2()]);
    let _wc = newcomer_answers(&s, room, &c, &mut wa).await;
    assert_gone(&s, room, &b, &candidate(1)).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn tab_closed_without_leave_frees_the_place_after_the_reconnect_grace() {
    let s = TestServer::start().await;
    let room = "vanish";
    let (a, mut wa, b) = call_whose_joiner_vanished(&s, room).await;

    let jc = s.join_after(room, GRACE).await;
    let c = admitted(&jc, false);
    assert!(messages(&jc).is_empty());
    // No synthetic bye: the survivor was told nothing.
    wa.expect_nothing_pending().await;

    // The survivor's room works with the newcomer.
    let mut wc = newcomer_answers(&s, room, &c, &mut wa).await;
    post_reaches(&s, room, &a, &candidate(6), &mut wc).await;
    assert_gone(&s, room, &b, &candidate(1)).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn socket_dropped_and_reregistered_within_the_grace_keeps_the_place_and_gets_the_queue() {
    let s = TestServer::start().await;
    let room = "roam";
    let (a, mut wa, b) = call_whose_joiner_vanished(&s, room).await;

    // Meanwhile the initiator keeps signaling; the relay queues it for the absent joiner.
    for n in [10, 11] {
        post_ok(&s, room, &a, &candidate(n)).await;
    }
    s.advance(GRACE / 2);
    assert_eq!(s.join(room).await["result"], "FULL", "the place is kept");

    // The joiner's network comes back: same id, new socket, the queue arrives in order.
    let mut wb = s.ws_registered(room, &b).await;
    assert_eq!(wb.recv_msg().await, candidate(10));
    assert_eq!(wb.recv_msg().await, candidate(11));
    wb.expect_nothing_pending().await;

    s.advance(GRACE * 2);
    assert_eq!(
        s.join(room).await["result"],
        "FULL",
        "the place outlives the grace"
    );
    post_reaches(&s, room, &a, &candidate(12), &mut wb).await;
    wb.send_msg_to(&mut wa, &candidate(13)).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn joiner_that_never_registers_is_dropped_and_the_room_accepts_another() {
    let s = TestServer::start().await;
    let room = "ghost";
    // The web client opens its socket while the join is in flight and registers right after.
    let mut wa = s.ws().await;
    let a = admitted(&s.join(room).await, true);
    wa.register(room, &a).await;
    await_open_sockets(&s, 1).await;

    let b = admitted(&s.join(room).await, false);
    // b never opens a socket. It sends its answer through the room API, which reaches a once
    // a's socket is registered (on the AWS path, the register is a frame of its own that nothing
    // else shows): from then on only b can run out of time.
    post_ok(&s, room, &b, &answer()).await;
    assert_eq!(wa.recv_msg().await, answer());
    let jc = s.join_after(room, REGISTER_DEADLINE).await;
    let c = admitted(&jc, false);

    // The ghost can no longer use the room or the relay.
    assert_gone(&s, room, &b, &answer()).await;
    let mut wb = s.ws_registered(room, &b).await;
    wb.recv_error().await;
    wb.expect_closed().await;

    let mut wc = s.ws_registered(room, &c).await;
    wc.send_msg_to(&mut wa, &answer()).await;
    post_reaches(&s, room, &a, &candidate(1), &mut wc).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn joiner_without_an_open_socket_falls_back_to_collider_post() {
    // §5.2: the web (and iOS) joiner POSTs to <wss_post_url>/<room>/<client> while its socket is
    // not registered yet.
    let s = TestServer::start().await;
    let room = "fallback";
    let ja = s.join(room).await;
    let a = admitted(&ja, true);
    let collider = collider_path(&s, &ja);
    let mut wa = s.ws_registered(room, &a).await;
    let b = admitted(&s.join(room).await, false);
    let posted = s.post(&format!("{collider}/{room}/{b}"), answer()).await;
    assert_eq!((posted.status, posted.body.as_str()), (200, "OK\n"));
    assert_eq!(wa.recv_msg().await, answer());
    let mut wb = s.ws_registered(room, &b).await;
    wb.expect_nothing_pending().await;
    post_reaches(&s, room, &a, &candidate(1), &mut wb).await;
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_closes_every_socket_with_1001_and_returns() {
    let s = TestServer::start().await;
    let (_, _, mut wa, mut wb) = s.two_registered("shutdown").await;
    await_open_sockets(&s, 2).await;
    let (served, ca, cb) = tokio::join!(s.shutdown(), close_code(&mut wa), close_code(&mut wb));
    served.expect("serve returned an error");
    assert_eq!((ca, cb), (1001, 1001));
}

#[tokio::test]
async fn healthz_answers_200() {
    let s = TestServer::start().await;
    let r = s.get("/healthz").await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bye_overtaken_by_its_own_delete_still_reaches_the_peer() {
    let s = TestServer::start().await;
    let Call {
        room,
        collider,
        b,
        mut wa,
        mut wb,
        ..
    } = establish_call(&s, "overtaken").await;
    // A browser sends bye, closes the socket and sends DELETE without waiting: the DELETE can
    // reach the server before the bye frame is read. Here it does, every time.
    assert_eq!(s.leave(room, &b).await.status, 200);
    let deleted = s.delete(&format!("{collider}/{room}/{b}")).await;
    assert_eq!(deleted.status, 200);
    wb.send_msg_to(&mut wa, BYE).await;
    wb.close().await;
    await_open_sockets(&s, 1).await;
    // The departed id took no place: a newcomer joins, registers and reaches the survivor.
    let jc = s.join(room).await;
    let c = admitted(&jc, false);
    let _wc = newcomer_answers(&s, room, &c, &mut wa).await;
    s.shutdown().await.unwrap();
}
