//! The collider-compatible relay as clients see it (docs/protocol.md §7.2 cases 33–54 and §7.3
//! cases 55–64), against a running `apprtc-local` over real sockets. Every (room, client) pair
//! comes from `POST /join/<room>` (§8 item 2) and every relayed message is valid signaling JSON
//! (§6); where the protocol document marks an improvement over the original, the improved
//! behaviour is expected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The collider HTTP prefix: `/join` announces `wss_post_url = http://<host>/relay`.
const WP: &str = "/relay";

const NOT_ISSUED: &str = "Unknown client id for this room: join the room first";
const MISSING_MSG: &str = "Invalid send request: missing 'msg'";
const UNEXPECTED_CMD: &str = "Invalid message: unexpected 'cmd'";

/// A distinct valid signaling message per `n`.
fn m(n: u32) -> String {
    candidate(n)
}

/// Two clients joined to `room`, both registered, both with nothing pending.
async fn pair(s: &TestServer, room: &str) -> (String, String, Ws, Ws) {
    let (a, b, mut wa, mut wb) = s.two_registered(room).await;
    // The probe round trip also proves each register has been handled.
    wa.expect_nothing_pending().await;
    wb.expect_nothing_pending().await;
    if on_aws_path() {
        // There every frame is its own invocation, so an answered probe proves nothing about a
        // register. A message relayed from one to the other does: it is parked until its
        // sender's register and reaches only a registered socket.
        wa.send_msg_to(&mut wb, &probe_msg()).await;
    }
    (a, b, wa, wb)
}

/// A valid signaling message no test sends otherwise.
fn probe_msg() -> String {
    r#"{"type":"candidate","label":0,"id":"probe","candidate":"candidate:0 1 udp 1 127.0.0.1 9 typ host"}"#.to_owned()
}

/// A registered socket whose register the server has handled.
async fn registered(s: &TestServer, room: &str, client: &str) -> Ws {
    let mut ws = s.ws_registered(room, client).await;
    ws.expect_nothing_pending().await;
    ws
}

async fn relay_post(s: &TestServer, room: &str, client: &str, body: impl Into<Bytes>) -> Reply {
    s.post(&format!("{WP}/{room}/{client}"), body).await
}

/// A collider POST the relay takes (`200 OK`).
async fn relay_post_ok(s: &TestServer, room: &str, client: &str, body: impl Into<Bytes>) {
    let r = relay_post(s, room, client, body).await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
}

/// Of a registered pair in `room`, X closes its socket and, once the server has seen it go, Y
/// sends m(1) and gets no error for it (it is kept for X). Returns X's id and Y's socket.
async fn peer_sends_while_away(s: &TestServer, room: &str) -> (String, Ws) {
    let (a, _, x, mut y) = pair(s, room).await;
    x.close().await;
    await_open_ws(s, 1).await;
    y.send_msg(&m(1)).await;
    y.expect_nothing_pending().await;
    (a, y)
}

/// A newcomer joins `room` as the joiner (a place is free) and registers; its socket.
async fn newcomer(s: &TestServer, room: &str) -> Ws {
    let joined = s.join(room).await;
    assert_eq!(joined["result"], "SUCCESS", "{joined}");
    assert_eq!(joined["params"]["is_initiator"], "false", "{joined}");
    registered(s, room, &client_id(&joined)).await
}

/// X, the first to join `room`, registers and sends m(1) to m(3) while alone; then Y registers
/// and gets them once each, in order. Returns Y's id, X's socket and Y's.
async fn queued_while_alone_then_flushed(s: &TestServer, room: &str) -> (String, Ws, Ws) {
    let (a, b) = s.join_two(room).await;
    let mut x = registered(s, room, &a).await;
    for n in 1..=3 {
        x.send_msg(&m(n)).await;
    }
    // The probe is answered after the three sends, so they were queued before Y registers (on
    // the AWS path each is an invocation of its own, which may also run after Y's register).
    x.expect_nothing_pending().await;
    let mut y = s.ws_registered(room, &b).await;
    y.recv_burst(&[m(1), m(2), m(3)]).await;
    (b, x, y)
}

/// Of a registered pair in `room`, X sends `frame` (raw text): it gets an error frame and the
/// server closes its socket; Y gets nothing. Returns the error.
async fn frame_is_refused_and_closes(room: &str, frame: &str) -> String {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, room).await;
    x.send_text(frame).await;
    let e = x.recv_error().await;
    x.expect_closed().await;
    y.expect_nothing_pending().await;
    e
}

/// Of a registered pair in `room`, X sends m(1) and then a send without a message (`frame`): it
/// is refused and X's socket closed, and Y gets m(1) once, not again in place of the missing one.
async fn send_without_a_message_is_refused_not_resent(room: &str, frame: Value) {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, room).await;
    x.send_msg(&m(1)).await;
    x.send_json(frame).await;
    assert_eq!(x.recv_error().await, MISSING_MSG);
    x.expect_closed().await;
    assert_eq!(y.recv_msg().await, m(1));
    y.expect_nothing_pending().await;
}

/// Waits until the server has seen `open` registered sockets (it has handled a close or a
/// register). On the AWS path there is no `/status` (no such API Gateway route) and nothing to
/// wait for: every caller waits for a close the client has seen, and the stand-in drops a
/// connection as it closes it, so a post to it answers 410 and the relay queues for the client
/// however late its `$disconnect` runs; the steps that follow wait for the frames that show it.
async fn await_open_ws(s: &TestServer, open: u64) {
    if !on_aws_path() {
        s.wait_status(|v| v["openws"] == open).await;
    }
}

fn client_id(join: &Value) -> String {
    join["params"]["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned()
}

// ---- docs/protocol.md §7.2 relay WebSocket ------------------------------------------------------

#[tokio::test]
async fn join_announces_the_relay_urls_this_server_serves() {
    let s = TestServer::start().await;
    let v = s.join("urls").await;
    // The main listener announces itself (the compatibility port is only used by old links).
    assert_eq!(
        v["params"]["wss_url"],
        format!("{}/ws", s.base.replacen("http", "ws", 1))
    );
    assert_eq!(
        v["params"]["wss_post_url"],
        format!("{}{WP}", s.base),
        "{v}"
    );
}

/// docs/protocol.md §7.2 case 33.
#[tokio::test]
async fn handshake_with_origin_is_101_without_subprotocol() {
    let s = TestServer::start().await;
    let req = s.ws_request(Some(&s.base));
    let (stream, res) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .expect("handshake timeout")
        .expect("handshake");
    assert_eq!(res.status(), 101);
    assert!(res.headers().get("sec-websocket-protocol").is_none());
    let mut ws = Ws { stream };
    ws.expect_nothing_pending().await;
}

/// docs/protocol.md §7.2 case 34 (improved).
#[tokio::test]
async fn handshake_without_origin_is_accepted_and_relays() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("w0").await;
    let (stream, res) =
        tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(s.ws_request(None)))
            .await
            .expect("handshake timeout")
            .expect("handshake");
    assert_eq!(res.status(), 101);
    let mut wa = Ws { stream };
    wa.register("w0", &a).await;
    let mut wb = registered(&s, "w0", &b).await;
    wb.send_msg_to(&mut wa, &m(1)).await;
}

/// docs/protocol.md §7.2 case 35.
#[tokio::test]
async fn send_reaches_the_peer_once_and_is_not_echoed() {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, "w1").await;
    x.send_msg(&offer()).await;
    assert_eq!(y.recv().await, json!({"msg": offer(), "error": ""}));
    y.expect_nothing_pending().await;
    x.expect_nothing_pending().await;
}

/// docs/protocol.md §7.2 case 36.
#[tokio::test]
async fn messages_queued_while_alone_flush_in_order_on_peer_register() {
    let s = TestServer::start().await;
    let (_, mut x, mut y) = queued_while_alone_then_flushed(&s, "w2").await;
    y.expect_nothing_pending().await;
    y.expect_nothing_more_from(&mut x).await;
}

/// docs/protocol.md §7.2 case 37.
#[tokio::test]
async fn queue_is_flushed_once_not_again_on_reregister() {
    let s = TestServer::start().await;
    let (b, mut x, mut y) = queued_while_alone_then_flushed(&s, "w2").await;
    y.expect_nothing_more_from(&mut x).await;
    y.close().await;
    await_open_ws(&s, 1).await;
    // Within the (default 10 s) grace: the same id takes its place back, with nothing to flush.
    let mut y2 = s.ws_registered("w2", &b).await;
    y2.expect_nothing_pending().await;
    x.send_msg_to(&mut y2, &m(4)).await;
}

/// docs/protocol.md §7.2 case 38.
#[tokio::test]
async fn second_register_on_one_socket_is_an_error_and_closes_it() {
    let s = TestServer::start().await;
    let a = s.join_id("w3").await;
    let mut x = registered(&s, "w3", &a).await;
    x.register("w3", &a).await;
    assert_eq!(
        x.recv().await,
        json!({"msg": "", "error": "Duplicated register request"})
    );
    x.expect_closed().await;
    // Its registration is torn down: the id may register again on a new socket.
    await_open_ws(&s, 0).await;
    let mut x2 = registered(&s, "w3", &a).await;
    x2.expect_nothing_pending().await;
}

/// docs/protocol.md §7.2 case 39.
#[tokio::test]
async fn same_id_on_a_second_socket_is_refused_and_the_first_keeps_working() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("w4").await;
    let mut x = registered(&s, "w4", &a).await;
    if on_aws_path() {
        // x's register must have been handled before x2's: the peer's collider POST reaches x
        // only once it has.
        let probe = probe_msg();
        assert_eq!(relay_post(&s, "w4", &b, probe.clone()).await.status, 200);
        assert_eq!(x.recv_msg().await, probe);
    }
    let mut x2 = s.ws_registered("w4", &a).await;
    assert_eq!(x2.recv_error().await, "Duplicated registration");
    x2.expect_closed().await;
    let mut y = registered(&s, "w4", &b).await;
    y.send_msg_to(&mut x, &answer()).await;
}

/// docs/protocol.md §7.2 case 40.
#[tokio::test]
async fn third_client_cannot_register_into_a_full_room() {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, "w5").await;
    // A third id cannot be issued for w5 (the third join is FULL); one issued elsewhere, and one
    // never issued at all, are both refused.
    assert_eq!(s.join("w5").await["result"], "FULL");
    let elsewhere = s.join_id("other").await;
    for c in [elsewhere.as_str(), "c"] {
        let mut z = s.ws_registered("w5", c).await;
        let e = z.recv_error().await;
        assert!(
            e == NOT_ISSUED || e == "Max room capacity reached",
            "unexpected error {e:?}"
        );
        z.expect_closed().await;
    }
    x.send_msg_to(&mut y, &m(1)).await;
    x.expect_nothing_pending().await;
}

/// docs/protocol.md §7.2 case 41.
#[tokio::test]
async fn send_before_register_is_an_error_and_closes() {
    if skip_on_aws_path(
        "a send handled before its socket's register is parked (API Gateway may run the \
         register later), so a socket that never registers gets no error (docs/aws.md)",
    ) {
        return;
    }
    let s = TestServer::start().await;
    let mut ws = s.ws().await;
    ws.send_msg(&m(1)).await;
    assert_eq!(ws.recv_error().await, "Client not registered");
    ws.expect_closed().await;
}

/// docs/protocol.md §7.2 case 42.
#[tokio::test]
async fn register_without_clientid_is_an_error_and_closes() {
    let s = TestServer::start().await;
    let mut ws = s.ws().await;
    ws.send_json(json!({"cmd": "register", "roomid": "w6"}))
        .await;
    assert_eq!(
        ws.recv_error().await,
        "Invalid register request: missing 'clientid' or 'roomid'"
    );
    ws.expect_closed().await;
}

/// docs/protocol.md §7.2 case 43.
#[tokio::test]
async fn empty_msg_is_an_error_and_closes() {
    let frame = json!({"cmd": "send", "msg": ""}).to_string();
    assert_eq!(frame_is_refused_and_closes("w6", &frame).await, MISSING_MSG);
}

/// docs/protocol.md §7.2 case 44.
#[tokio::test]
async fn unknown_cmd_is_an_error_that_keeps_the_socket_open() {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, "w7").await;
    x.send_json(json!({"cmd": "ping"})).await;
    assert_eq!(x.recv().await, json!({"msg": "", "error": UNEXPECTED_CMD}));
    x.send_msg_to(&mut y, &m(1)).await;
}

/// docs/protocol.md §7.2 case 45.
#[tokio::test]
async fn invalid_json_frame_is_an_error_and_closes() {
    let e = frame_is_refused_and_closes("w7", "not json").await;
    assert!(e.starts_with("websocket.JSON.Receive error"), "{e}");
}

/// docs/protocol.md §7.2 case 46.
#[tokio::test]
async fn msg_that_is_not_a_string_is_an_error_and_closes() {
    let frame = json!({"cmd": "send", "msg": {"type": "offer"}}).to_string();
    frame_is_refused_and_closes("w7", &frame).await;
}

/// docs/protocol.md §6 validation.
#[tokio::test]
async fn invalid_signaling_msg_is_an_error_that_keeps_the_socket_open() {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, "w7").await;
    for bad in [
        "hello",
        "[1,2]",
        r#"{"sdp":"v=0"}"#,
        r#"{"type":"nope"}"#,
        r#"{"type":7}"#,
    ] {
        x.send_msg(bad).await;
        let e = x.recv_error().await;
        assert!(e.starts_with("Invalid send request"), "{bad}: {e}");
    }
    y.expect_nothing_pending().await;
    x.send_msg_to(&mut y, &offer()).await;
}

/// docs/protocol.md §7.2 case 47 (improved).
#[tokio::test]
async fn send_without_msg_does_not_resend_the_previous_one() {
    send_without_a_message_is_refused_not_resent("w8", json!({"cmd": "send"})).await;
}

/// docs/protocol.md §7.2 case 47 (improved).
#[tokio::test]
async fn send_with_null_msg_does_not_resend_the_previous_one() {
    send_without_a_message_is_refused_not_resent("w8", json!({"cmd": "send", "msg": null})).await;
}

/// docs/protocol.md §3.3 rule 5 (improved).
#[tokio::test]
async fn frame_without_cmd_does_not_inherit_the_previous_cmd() {
    let s = TestServer::start().await;
    let (a, _, mut x, mut y) = pair(&s, "w8").await;
    x.send_msg_to(&mut y, &m(1)).await;
    // The original treats these as a `send` of m(2) and a second register.
    x.send_json(json!({"msg": m(2)})).await;
    assert_eq!(x.recv_error().await, UNEXPECTED_CMD);
    x.send_json(json!({"roomid": "w8", "clientid": a})).await;
    assert_eq!(x.recv_error().await, UNEXPECTED_CMD);
    y.expect_nothing_pending().await;
    x.send_msg_to(&mut y, &m(3)).await;
}

/// docs/protocol.md §7.2 case 48.
#[tokio::test]
async fn pretty_printed_frames_are_accepted_like_compact_ones() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("w8p").await;
    let mut x = s.ws().await;
    x.send_text(&format!(
        "{{\n  \"cmd\" : \"register\",\n  \"roomid\" : \"w8p\",\n  \"clientid\" : \"{a}\"\n}}"
    ))
    .await;
    x.expect_nothing_pending().await;
    let mut y = registered(&s, "w8p", &b).await;
    let pretty_send =
        serde_json::to_string_pretty(&json!({"cmd": "send", "msg": answer()})).unwrap();
    assert!(pretty_send.contains('\n'));
    x.send_text(&pretty_send.replace("\": ", "\" : ")).await;
    assert_eq!(y.recv_msg().await, answer());
}

/// docs/protocol.md §7.2 case 49.
#[tokio::test]
async fn client_reconnecting_within_grace_gets_what_the_peer_sent_meanwhile() {
    // The default 10 s grace: this test never waits for it, it only has to finish within it.
    let s = TestServer::start().await;
    let (a, _y) = peer_sends_while_away(&s, "w9").await;
    let mut x2 = s.ws_registered("w9", &a).await;
    assert_eq!(x2.recv_msg().await, m(1));
    x2.expect_nothing_pending().await;
}

/// docs/protocol.md §7.2 case 49, with the close not yet handled: API Gateway's `$disconnect`
/// comes late (here a second), so the peer's frame finds the socket gone (410) and waits for the
/// client's return instead of being refused. (The in-process host handles the close at once.)
#[tokio::test]
async fn frame_to_a_client_whose_close_is_not_yet_handled_waits_for_its_return() {
    let s = TestServer::start_with(&["--apigw-disconnect-delay", "1s"]).await;
    let (a, _, x, mut y) = pair(&s, "w9late").await;
    x.close().await;
    y.send_msg(&m(1)).await;
    let mut x2 = s.ws_registered("w9late", &a).await;
    assert_eq!(x2.recv_msg().await, m(1));
    x2.expect_nothing_more_from(&mut y).await;
    y.expect_nothing_pending().await;
}

/// docs/protocol.md §7.2 case 50.
#[tokio::test]
async fn after_grace_the_closed_client_leaves_and_a_newcomer_gets_what_was_sent() {
    let s = TestServer::start().await;
    let (a, mut y) = peer_sends_while_away(&s, "w10").await;
    // The place frees up in the room server too once the grace has passed.
    let joined = s.join_after("w10", GRACE).await;
    assert_eq!(joined["params"]["is_initiator"], "false", "{joined}");
    let c = client_id(&joined);
    let mut z = s.ws_registered("w10", &c).await;
    assert_eq!(z.recv_msg().await, m(1));
    z.expect_nothing_pending().await;
    y.send_msg_to(&mut z, &m(2)).await;
    // The expired id is no longer in the room.
    let mut x2 = s.ws_registered("w10", &a).await;
    assert_eq!(x2.recv_error().await, NOT_ISSUED);
    x2.expect_closed().await;
}

/// docs/protocol.md §7.2 case 51.
#[tokio::test]
async fn unregistered_post_entry_expires_with_its_queue() {
    let s = TestServer::start().await;
    let x = s.join_id("w11").await;
    relay_post_ok(&s, "w11", &x, m(1)).await;
    // x never registers. Within its register deadline its POSTs are still taken.
    s.advance(REGISTER_DEADLINE / 2);
    relay_post_ok(&s, "w11", &x, m(2)).await;
    // Once its relay place (grace) and its room place (register deadline) have both expired,
    // they are refused.
    s.advance(REGISTER_DEADLINE / 2 + Duration::from_millis(1));
    let r = relay_post(&s, "w11", &x, m(3)).await;
    assert_eq!((r.status, r.body.trim_end()), (403, NOT_ISSUED));
    let (y, z) = s.join_two("w11").await;
    let mut wy = s.ws_registered("w11", &y).await;
    let mut wz = s.ws_registered("w11", &z).await;
    wy.expect_nothing_pending().await;
    wz.expect_nothing_pending().await;
}

/// The next frame as it came off the wire.
async fn raw_frame(ws: &mut Ws) -> Message {
    tokio::time::timeout(WAIT, ws.stream.next())
        .await
        .expect("frame timeout")
        .expect("socket ended")
        .expect("socket error")
}

/// docs/protocol.md §7.2 case 52.
#[tokio::test]
async fn every_server_frame_is_text_with_exactly_string_msg_and_error() {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, "w52").await;
    let mut frames = Vec::new();
    if on_aws_path() {
        // Each frame after the previous one was answered: the invalid JSON closes the socket,
        // and API Gateway may run its invocation before the others.
        x.send_msg(&offer()).await;
        frames.push(raw_frame(&mut y).await);
        x.send_json(json!({"cmd": "nope"})).await;
        frames.push(raw_frame(&mut x).await);
        x.send_msg("not a signaling message").await;
        frames.push(raw_frame(&mut x).await);
        x.send_text("{").await;
        frames.push(raw_frame(&mut x).await);
    } else {
        x.send_msg(&offer()).await;
        x.send_json(json!({"cmd": "nope"})).await;
        x.send_msg("not a signaling message").await;
        x.send_text("{").await;
        frames.push(raw_frame(&mut y).await);
        for _ in 0..3 {
            frames.push(raw_frame(&mut x).await);
        }
    }
    for frame in frames {
        let Message::Text(text) = frame else {
            panic!("not a text frame: {frame:?}")
        };
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 2, "{v}");
        assert!(obj["msg"].is_string() && obj["error"].is_string(), "{v}");
    }
}

/// docs/protocol.md §7.2 case 53.
#[tokio::test]
async fn rooms_differing_in_case_are_isolated() {
    let s = TestServer::start().await;
    let (_, _, mut upper_x, mut upper_y) = pair(&s, "W12").await;
    let (_, _, mut lower_x, mut lower_y) = pair(&s, "w12").await;
    upper_x.send_msg(&m(1)).await;
    lower_x.send_msg(&m(2)).await;
    assert_eq!(upper_y.recv_msg().await, m(1));
    assert_eq!(lower_y.recv_msg().await, m(2));
    for ws in [&mut upper_x, &mut upper_y, &mut lower_x, &mut lower_y] {
        ws.expect_nothing_pending().await;
    }
}

/// Reads raw frames until a WebSocket ping, failing on anything but pings and pongs.
async fn next_ping(ws: &mut Ws) {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.stream.next())
            .await
            .expect("no ping arrived")
            .expect("socket ended")
            .expect("socket error");
        match frame {
            Message::Ping(_) => return,
            Message::Pong(_) => {}
            other => panic!("unexpected frame while idle: {other:?}"),
        }
    }
}

/// A server that pings idle sockets every 200 ms; `None` on the AWS path, where the test is
/// skipped.
async fn server_pinging_every_200ms() -> Option<TestServer> {
    if skip_on_aws_path(
        "the pings are the in-process transport's; API Gateway does not ping clients",
    ) {
        return None;
    }
    Some(TestServer::start_with(&["--ping-interval", "200ms"]).await)
}

/// docs/protocol.md §7.2 case 54 (improved).
#[tokio::test]
async fn idle_registered_socket_receives_pings_and_survives_by_answering() {
    let Some(s) = server_pinging_every_200ms().await else {
        return;
    };
    let (a, b) = s.join_two("w54").await;
    let mut x = registered(&s, "w54", &a).await;
    // tokio-tungstenite answers each ping with a pong while it reads; two unanswered pings
    // would close the socket, so four pings in a row show the answers count.
    for _ in 0..4 {
        next_ping(&mut x).await;
    }
    let mut y = s.ws_registered("w54", &b).await;
    y.send_msg_to(&mut x, &m(1)).await;
}

/// docs/protocol.md §7.2 case 54, §8 item 6.
#[tokio::test]
async fn socket_that_never_answers_pings_is_closed() {
    let Some(s) = server_pinging_every_200ms().await else {
        return;
    };
    let a = s.join_id("w54").await;
    let mut x = registered(&s, "w54", &a).await;
    // Not reading x means its pings go unanswered.
    await_open_ws(&s, 0).await;
    let deadline = Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, x.stream.next())
            .await
            .expect("x was never closed")
        {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(other)) => panic!("unexpected frame {other:?}"),
        }
    }
}

// ---- docs/protocol.md §7.3 relay HTTP -----------------------------------------------------------

/// docs/protocol.md §7.3 case 55.
#[tokio::test]
async fn post_relays_the_body_to_the_registered_peer() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("h1").await;
    let mut y = registered(&s, "h1", &b).await;
    relay_post_ok(&s, "h1", &a, offer()).await;
    assert_eq!(y.recv().await, json!({"msg": offer(), "error": ""}));
    y.expect_nothing_pending().await;
}

/// docs/protocol.md §7.3 case 56.
#[tokio::test]
async fn post_before_the_peer_registers_is_queued_for_it() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("h2").await;
    relay_post_ok(&s, "h2", &a, offer()).await;
    let mut y = s.ws_registered("h2", &b).await;
    assert_eq!(y.recv_msg().await, offer());
    y.expect_nothing_pending().await;
}

/// docs/protocol.md §7.3 case 57.
#[tokio::test]
async fn post_with_empty_body_is_500() {
    let s = TestServer::start().await;
    let a = s.join_id("h3").await;
    let r = relay_post(&s, "h3", &a, "").await;
    assert_eq!((r.status, r.body.as_str()), (500, "Empty request body\n"));
}

/// docs/protocol.md §6 validation.
#[tokio::test]
async fn post_with_a_body_that_is_not_a_signaling_message_is_400_and_not_relayed() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("h3").await;
    let mut y = registered(&s, "h3", &b).await;
    for bad in ["m", "not json", "[]", r#"{"type":"nope"}"#] {
        let r = relay_post(&s, "h3", &a, bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    y.expect_nothing_pending().await;
}

/// docs/protocol.md §7.3 case 58.
#[tokio::test]
async fn malformed_relay_paths_are_500_invalid_path() {
    let s = TestServer::start().await;
    let a = s.join_id("h4").await;
    for path in [
        format!("{WP}/h4"),
        format!("{WP}/h4/{a}/x"),
        format!("{WP}/"),
        format!("{WP}//h4/{a}"),
        format!("{WP}/h4!/{a}"),
        format!("{WP}/h4/{a}%20x"),
    ] {
        let r = s.post(&path, m(1)).await;
        if on_aws_path() && !matches_the_collider_route(&path) {
            // API Gateway routes `/relay/{room}/{client}` only: the function never sees these.
            assert_eq!(r.status, 404, "{path}: {}", r.body);
            continue;
        }
        assert_eq!(r.status, 500, "{path}: {}", r.body);
        assert!(r.body.starts_with("Invalid path:"), "{path}: {}", r.body);
    }
}

/// Whether the deployment's collider route, `/relay/{room}/{client}`, matches `path`.
fn matches_the_collider_route(path: &str) -> bool {
    matches!(
        path.split('/').collect::<Vec<_>>().as_slice(),
        ["", "relay", _, _]
    )
}

/// docs/protocol.md §7.3 case 58 (improved), §8 item 18.
#[tokio::test]
async fn post_with_empty_room_or_client_is_an_error() {
    let s = TestServer::start().await;
    for path in [format!("{WP}/h4/"), format!("{WP}//"), format!("{WP}//a")] {
        let r = s.post(&path, m(1)).await;
        assert!(r.status >= 400, "{path}: {} {}", r.status, r.body);
    }
}

/// docs/protocol.md §7.3 case 59.
#[tokio::test]
async fn post_from_a_third_client_is_refused() {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, "h5").await;
    let elsewhere = s.join_id("other").await;
    for c in [elsewhere.as_str(), "c"] {
        let r = relay_post(&s, "h5", c, m(1)).await;
        assert!(r.status >= 400, "{c}: {} {}", r.status, r.body);
        let text = r.body.trim_end();
        assert!(
            text == NOT_ISSUED || text == "Failed to send the message: Max room capacity reached",
            "{c}: {text}"
        );
    }
    x.expect_nothing_pending().await;
    y.expect_nothing_pending().await;
}

/// docs/protocol.md §7.3 case 60.
#[tokio::test]
async fn queue_holds_1024_messages_and_refuses_the_next() {
    let s = TestServer::start().await;
    let a = s.join_id("h6").await;
    let _x = registered(&s, "h6", &a).await;
    for n in 0..1024 {
        let r = relay_post(&s, "h6", &a, m(n)).await;
        assert_eq!((r.status, r.body.as_str()), (200, "OK\n"), "POST #{n}");
    }
    let r = relay_post(&s, "h6", &a, m(1024)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            500,
            "Failed to send the message: Too many messages queued for the client\n"
        )
    );
}

/// docs/protocol.md §7.3 case 60, --max-queued-messages.
#[tokio::test]
async fn queue_cap_follows_the_setting_and_the_queue_flushes_in_order() {
    let s = TestServer::start_with(&["--max-queued-messages", "3"]).await;
    let (a, b) = s.join_two("h6").await;
    for n in 0..3 {
        assert_eq!(relay_post(&s, "h6", &a, m(n)).await.status, 200);
    }
    assert_eq!(relay_post(&s, "h6", &a, m(3)).await.status, 500);
    let mut y = s.ws_registered("h6", &b).await;
    for n in 0..3 {
        assert_eq!(y.recv_msg().await, m(n));
    }
    y.expect_nothing_pending().await;
}

/// docs/protocol.md §7.3 case 61.
#[tokio::test]
async fn delete_closes_the_socket_frees_the_place_and_spares_the_peer() {
    let s = TestServer::start().await;
    let (a, _, mut x, mut y) = pair(&s, "h7").await;
    let r = s.delete(&format!("{WP}/h7/{a}")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
    x.expect_closed().await;
    y.expect_nothing_pending().await;
    let mut z = newcomer(&s, "h7").await;
    z.send_msg_to(&mut y, &answer()).await;
}

/// docs/protocol.md §7.3 case 62.
#[tokio::test]
async fn delete_of_unknown_room_and_client_is_200_ok() {
    let s = TestServer::start().await;
    let r = s.delete(&format!("{WP}/nosuch/zz")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "OK\n"));
}

/// docs/protocol.md §7.3 case 63.
#[tokio::test]
async fn cors_preflight_and_responses_allow_cross_origin_post_and_delete() {
    let s = TestServer::start().await;
    let a = s.join_id("h8").await;
    let path = format!("{WP}/h8/{a}");
    let r = s
        .request(
            "OPTIONS",
            &path,
            Bytes::new(),
            &[
                ("origin", "https://other.example"),
                ("access-control-request-method", "DELETE"),
            ],
        )
        .await;
    assert!((200..300).contains(&r.status), "{}", r.status);
    let allow_origin = r.header("access-control-allow-origin").unwrap_or_default();
    assert!(
        allow_origin == "*" || allow_origin == "https://other.example",
        "{allow_origin:?}"
    );
    let methods = r.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("DELETE"), "{methods:?}");
    let origin = [("origin", "https://other.example")];
    let post = s.request("POST", &path, m(1), &origin).await;
    let delete = s.request("DELETE", &path, Bytes::new(), &origin).await;
    let refused = s.request("POST", &path, "", &origin).await;
    for r in [post, delete, refused] {
        assert!(
            r.header("access-control-allow-origin").is_some(),
            "{} {}",
            r.status,
            r.body
        );
    }
}

/// docs/protocol.md §7.3 case 64.
#[tokio::test]
async fn status_counts_registered_sockets_and_errors() {
    if skip_on_aws_path(
        "/status holds the in-process relay's counters; the API Gateway deployment has no such route",
    ) {
        return;
    }
    let s = TestServer::start().await;
    for path in ["/status".to_owned(), format!("{WP}/status")] {
        let r = s.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        let v = r.json();
        assert!(v["upsec"].is_number(), "{v}");
        for key in ["openws", "totalws", "wserrors", "httperrors"] {
            assert!(v[key].is_u64(), "{key}: {v}");
        }
        assert_eq!(
            (v["openws"].as_u64(), v["totalws"].as_u64()),
            (Some(0), Some(0))
        );
    }
    let (a, b) = s.join_two("s1").await;
    let x = s.ws_registered("s1", &a).await;
    s.wait_status(|v| v["openws"] == 1 && v["totalws"] == 1)
        .await;
    // A connected but unregistered socket does not count.
    let mut idle = s.ws().await;
    idle.expect_nothing_pending().await;
    let mut y = s.ws_registered("s1", &b).await;
    s.wait_status(|v| v["openws"] == 2 && v["totalws"] == 2)
        .await;
    x.close().await;
    s.wait_status(|v| v["openws"] == 1 && v["totalws"] == 2)
        .await;

    let before = s.status().await;
    y.send_json(json!({"cmd": "nope"})).await;
    assert_eq!(y.recv_error().await, UNEXPECTED_CMD);
    assert_eq!(relay_post(&s, "s1", &b, "").await.status, 500);
    let wserrors = before["wserrors"].as_u64().unwrap() + 1;
    let httperrors = before["httperrors"].as_u64().unwrap() + 1;
    let after = s
        .wait_status(|v| v["wserrors"] == wserrors && v["httperrors"] == httperrors)
        .await;
    assert_eq!(after["openws"], 1, "{after}");
}

// ---- bye and the room server --------------------------------------------------------------------

/// docs/protocol.md §3.9 point 1.
#[tokio::test]
async fn bye_over_the_socket_counts_as_leave() {
    let s = TestServer::start().await;
    let (_, _, mut x, mut y) = pair(&s, "bye1").await;
    y.send_msg_to(&mut x, BYE).await;
    // The room was not left FULL: a newcomer is admitted as the joiner and can take the place.
    let mut z = newcomer(&s, "bye1").await;
    z.send_msg_to(&mut x, &offer()).await;
    // The departed client's socket made way for the newcomer.
    y.expect_closed().await;
}

/// docs/protocol.md §3.9, web client hangup order.
#[tokio::test]
async fn bye_after_leave_still_reaches_the_peer_every_time() {
    let s = TestServer::start().await;
    // The web client's hangup: `/leave` first, then `bye` over the still-registered socket.
    for i in 0..20 {
        let room = format!("order{i}");
        let (_, b, mut x, mut y) = pair(&s, &room).await;
        let r = s.leave(&room, &b).await;
        assert_eq!(r.status, 200, "{room}: {}", r.body);
        y.send_msg(BYE).await;
        assert_eq!(x.recv_msg().await, BYE, "{room}");
    }
}
