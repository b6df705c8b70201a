//! The AWS path through `--backend aws-local`: the deployed Lambda handlers (HTTP and WebSocket
//! events), the real `aws-sdk-apigatewaymanagement` client posting to the local `@connections`
//! stand-in, and the room store: memory by default, DynamoDB Local when
//! `AWS_ENDPOINT_URL_DYNAMODB` is set (the test command runs it that way too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use futures_util::SinkExt;

async fn aws_server() -> TestServer {
    aws_server_with(&[]).await
}

#[tokio::test]
async fn a_call_runs_through_the_deployed_handlers() {
    let s = aws_server().await;
    let r = room("aws-call");
    let a = s.join_id(&r).await;
    let mut wa = s.ws_registered(&r, &a).await;
    for m in [offer(), candidate(1)] {
        assert_eq!(s.message(&r, &a, &m).await["result"], "SUCCESS");
    }
    let joined = s.join(&r).await;
    assert_eq!(joined["params"]["is_initiator"], "false");
    assert_eq!(
        joined["params"]["messages"],
        serde_json::json!([offer(), candidate(1)])
    );
    let b = joined["params"]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(s.join(&r).await["result"], "FULL");
    let mut wb = s.ws_registered(&r, &b).await;
    wb.send_msg(&answer()).await;
    assert_eq!(wa.recv_msg().await, answer());
    // Initiator messages now go through /message, the stored relay and PostToConnection.
    assert_eq!(s.message(&r, &a, &candidate(2)).await["result"], "SUCCESS");
    assert_eq!(wb.recv_msg().await, candidate(2));
    // Hang-up as the web client does it: /leave, then bye over the still-registered socket.
    assert_eq!(s.leave(&r, &b).await.json()["result"], "SUCCESS");
    wb.send_msg(BYE).await;
    assert_eq!(wa.recv_msg().await, BYE);
    wb.close().await;
    let c = s.join(&r).await;
    assert_eq!(
        c["params"]["is_initiator"], "false",
        "room accepts a new joiner"
    );
}

#[tokio::test]
async fn relay_errors_come_back_as_collider_frames() {
    let s = aws_server().await;
    let r = room("aws-err");
    let _a = s.join_id(&r).await;
    // Frames run as separate invocations, so a send may overtake its socket's register: the
    // deployed relay keeps it for the registration instead of closing the socket.
    let mut x = s.ws().await;
    x.send_msg(&offer()).await;
    x.expect_nothing_pending().await;
    let mut y = s.ws().await;
    y.register(&r, "12345678").await;
    assert_eq!(
        y.recv_error().await,
        "Unknown client id for this room: join the room first"
    );
    y.expect_closed().await;
    let mut z = s.ws().await;
    z.send_json(serde_json::json!({"cmd": "ping"})).await;
    assert_eq!(z.recv_error().await, "Invalid message: unexpected 'cmd'");
}

#[tokio::test]
async fn collider_http_and_pages_go_through_the_functions() {
    let s = aws_server().await;
    let r = room("aws-http");
    let a = s.join_id(&r).await;
    let b = s.join_id(&r).await;
    let mut wb = s.ws_registered(&r, &b).await;
    wb.expect_nothing_pending().await;
    let res = s.post(&format!("/relay/{r}/{a}"), offer()).await;
    assert_eq!((res.status, res.body.as_str()), (200, "OK\n"));
    assert_eq!(wb.recv_msg().await, offer());
    let page = s.get(&format!("/r/{r}")).await;
    assert!(page.body.contains("Room full"));
    let params = s.get("/params").await.json();
    assert!(params["wss_url"].as_str().unwrap().ends_with("/ws"));
    assert_eq!(s.get("/nope/nope/nope").await.status, 404);
}

/// Every message of `ws` until `n` have arrived; any error frame fails the test.
async fn messages(ws: &mut Ws, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let v = ws.recv().await;
        assert_eq!(v["error"], "", "error frame: {v}");
        got.push(v["msg"].as_str().unwrap().to_owned());
    }
    got
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// One call as AppRTCMobile makes it through API Gateway: both sides register and send what they
/// gathered at once (each frame its own parallel invocation), then trickle a candidate; B hangs up
/// as the web client does when its socket is gone: /leave, then its bye by the collider POST.
async fn call_shaped(s: &TestServer, r: &str) {
    let a = s.join_id(r).await;
    let b = s.join_id(r).await;
    let (mut wa, mut wb) = (s.ws().await, s.ws().await);
    wa.register(r, &a).await;
    let from_a: Vec<String> = std::iter::once(offer())
        .chain((1..=5).map(candidate))
        .collect();
    for m in &from_a {
        wa.send_msg(m).await;
    }
    wb.register(r, &b).await;
    let from_b: Vec<String> = std::iter::once(answer())
        .chain((11..=15).map(candidate))
        .collect();
    for m in &from_b {
        wb.send_msg(m).await;
    }
    assert_eq!(
        sorted(messages(&mut wb, from_a.len()).await),
        sorted(from_a)
    );
    assert_eq!(
        sorted(messages(&mut wa, from_b.len()).await),
        sorted(from_b)
    );
    wa.send_msg(&candidate(6)).await;
    assert_eq!(messages(&mut wb, 1).await, [candidate(6)]);
    assert_eq!(s.leave(r, &b).await.json()["result"], "SUCCESS");
    wb.close().await;
    let res = s.post(&format!("/relay/{r}/{b}"), BYE).await;
    assert_eq!((res.status, res.body.as_str()), (200, "OK\n"));
    assert_eq!(messages(&mut wa, 1).await, [BYE]);
    wa.expect_nothing_pending().await;
}

#[tokio::test]
async fn call_shaped_clients_lose_nothing_and_keep_their_sockets_under_parallel_invocations() {
    let s = aws_server_with(&[
        "--apigw-jitter",
        "25ms",
        "--apigw-instances",
        "3",
        "--apigw-disconnect-delay",
        "30ms",
    ])
    .await;
    let rooms: Vec<String> = (0..20).map(|i| room(&format!("aws-shaped{i}"))).collect();
    // Five calls at a time: DynamoDB Local on a small machine answers slower than the store's
    // timeouts under more, and the other tests share it.
    for batch in rooms.chunks(5) {
        futures_util::future::join_all(batch.iter().map(|r| call_shaped(&s, r))).await;
    }
}

#[tokio::test]
async fn connections_end_at_the_maximum_duration() {
    let s = aws_server_with(&["--apigw-max-connection", "1s"]).await;
    let r = room("aws-max");
    let a = s.join_id(&r).await;
    let mut wa = s.ws_registered(&r, &a).await;
    assert_eq!(wa.expect_close_frame().await.0, 1001);
}

#[tokio::test]
async fn frames_over_32_kb_and_binary_frames_close_the_socket_as_api_gateway_does() {
    let s = aws_server().await;
    let mut big = s.ws().await;
    big.send_text(&"x".repeat(32 * 1024 + 1)).await;
    assert_eq!(big.expect_close_frame().await.0, 1009);
    let mut ok = s.ws().await;
    ok.send_text(&format!(
        "{{\"cmd\":\"probe\",\"pad\":\"{}\"}}",
        "x".repeat(32 * 1024 - 40)
    ))
    .await;
    assert_eq!(ok.recv_error().await, "Invalid message: unexpected 'cmd'");
    let mut bin = s.ws().await;
    bin.stream
        .send(tokio_tungstenite::tungstenite::Message::binary(vec![
            1u8, 2, 3,
        ]))
        .await
        .unwrap();
    assert_eq!(bin.expect_close_frame().await.0, 1003);
}

#[tokio::test]
async fn a_join_before_a_late_disconnect_keeps_the_dropped_clients_place_for_the_grace() {
    // The `$disconnect` of b's socket comes a second late; a join in between finds b's socket
    // gone. b keeps its place for the reconnect grace, as after the `$disconnect` itself.
    let s = TestServer::start_with(&[
        "--backend",
        "aws-local",
        "--apigw-jitter",
        "0ms",
        "--apigw-disconnect-delay",
        "1s",
        "--reconnect-grace",
        "10s",
    ])
    .await;
    let r = room("late-disconnect");
    let a = s.join_id(&r).await;
    let b = s.join_id(&r).await;
    let mut wa = s.ws_registered(&r, &a).await;
    let mut wb = s.ws_registered(&r, &b).await;
    wb.send_msg(&offer()).await;
    assert_eq!(wa.recv_msg().await, offer(), "both registered");
    wb.close().await;
    assert_eq!(s.join(&r).await["result"], "FULL", "the place is kept");
    assert_eq!(s.join(&r).await["result"], "FULL", "still kept");
    // b comes back within the grace and gets what a sent meanwhile.
    wa.send_msg(&answer()).await;
    let mut wb2 = s.ws_registered(&r, &b).await;
    assert_eq!(wb2.recv_msg().await, answer());
}
