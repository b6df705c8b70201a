//! The AWS path through `--backend aws-local`: the deployed Lambda handlers (HTTP and WebSocket
//! events), the real `aws-sdk-apigatewaymanagement` client posting to the local `@connections`
//! stand-in, and the room store: memory by default, DynamoDB Local when
//! `AWS_ENDPOINT_URL_DYNAMODB` is set (the test command runs it that way too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
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
    wb.send_msg_to(&mut wa, &answer()).await;
    // Initiator messages now go through /message, the stored relay and PostToConnection.
    assert_eq!(s.message(&r, &a, &candidate(2)).await["result"], "SUCCESS");
    assert_eq!(wb.recv_msg().await, candidate(2));
    // Hang-up as the web client does it: /leave, then bye over the still-registered socket.
    assert_eq!(s.leave(&r, &b).await.json()["result"], "SUCCESS");
    wb.send_msg_to(&mut wa, BYE).await;
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
    let (a, b) = s.join_two(&r).await;
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

/// Sends `description` and then the candidates numbered `candidates`, back to back, as a client
/// sends what it has gathered; returns what it sent.
async fn send_gathered(
    ws: &mut Ws,
    description: String,
    candidates: std::ops::RangeInclusive<u32>,
) -> Vec<String> {
    let sent: Vec<String> = std::iter::once(description)
        .chain(candidates.map(candidate))
        .collect();
    for m in &sent {
        ws.send_msg(m).await;
    }
    sent
}

/// One call as AppRTCMobile makes it through API Gateway: both sides register and send what they
/// gathered at once (each frame its own parallel invocation), then trickle a candidate; B hangs up
/// as the web client does when its socket is gone: /leave, then its bye by the collider POST.
async fn call_shaped(s: &TestServer, r: &str) {
    let (a, b) = s.join_two(r).await;
    let (mut wa, mut wb) = (s.ws().await, s.ws().await);
    wa.register(r, &a).await;
    let from_a = send_gathered(&mut wa, offer(), 1..=5).await;
    wb.register(r, &b).await;
    let from_b = send_gathered(&mut wb, answer(), 11..=15).await;
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
    let (_, b, mut wa, mut wb) = s.two_registered(&r).await;
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

/// Calls at once in a burst test.
const BURST_ROOMS: usize = 30;

/// Longest a burst room waits for its frames. Every room's frames queue for the same 8
/// instances, so the last room's wait includes the whole run's (about 20 s against DynamoDB
/// Local on two busy cores); a bound, not a pause.
const BURST_WAIT: std::time::Duration = std::time::Duration::from_secs(90);

/// The answer to the probe that shows nothing more is on its way to a socket.
const PROBE_ANSWER: &str = "Invalid message: unexpected 'cmd'";

/// What one socket of a burst room received.
#[derive(Debug, Default)]
struct Inbox {
    /// `msg` of every frame without an error, in arrival order.
    msgs: Vec<String>,
    /// `error` of every error frame but the probe's answer and the keep-alive frame.
    errors: Vec<String>,
    /// Probe answers received.
    probes: usize,
    /// How the server ended the socket, if it did.
    closed: Option<String>,
}

impl Inbox {
    fn has_all(&self, expected: &[String]) -> bool {
        expected.iter().all(|m| self.msgs.contains(m))
    }
}

/// Reads `ws` into `inbox` until `done` holds (true), or the socket ends or [`BURST_WAIT`] passes
/// (false). Nothing here panics: what went wrong is judged from the inbox afterwards.
async fn read_until(ws: &mut Ws, inbox: &mut Inbox, done: impl Fn(&Inbox) -> bool) -> bool {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + BURST_WAIT;
    while !done(inbox) {
        if inbox.closed.is_some() {
            return false;
        }
        let Ok(next) = tokio::time::timeout_at(deadline, ws.stream.next()).await else {
            return false;
        };
        let text = match next {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(f))) => {
                inbox.closed = Some(f.map_or_else(
                    || "close frame without a code".to_owned(),
                    |f| format!("close {} {:?}", u16::from(f.code), f.reason.as_str()),
                ));
                continue;
            }
            Some(Ok(other)) => {
                inbox.errors.push(format!("unexpected frame {other:?}"));
                continue;
            }
            Some(Err(e)) => {
                inbox.closed = Some(format!("socket error: {e}"));
                continue;
            }
            None => {
                inbox.closed = Some("stream ended without a close frame".to_owned());
                continue;
            }
        };
        if text.as_str() == room::domain::message::KEEPALIVE_FRAME {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        match (v["msg"].as_str(), v["error"].as_str()) {
            (Some(msg), Some("")) => inbox.msgs.push(msg.to_owned()),
            (_, Some(PROBE_ANSWER)) => inbox.probes += 1,
            (_, Some(error)) => inbox.errors.push(error.to_owned()),
            _ => inbox.errors.push(format!("not a collider frame: {text}")),
        }
    }
    true
}

/// Sends a text frame; a socket the server already ended is reported, not a panic.
async fn send(ws: &mut Ws, frame: serde_json::Value) -> Result<(), String> {
    use tokio_tungstenite::tungstenite::Message;
    ws.stream
        .send(Message::text(frame.to_string()))
        .await
        .map_err(|e| format!("sending {frame} failed: {e}"))
}

/// Sends the probe (a command the relay answers with an error frame, leaving the socket open)
/// and reads until its answer: whatever arrives first was still on its way.
async fn probe(ws: &mut Ws, inbox: &mut Inbox) -> Result<(), String> {
    let seen = inbox.probes;
    send(ws, serde_json::json!({"cmd": "probe"})).await?;
    if read_until(ws, inbox, |i| i.probes > seen).await {
        Ok(())
    } else {
        Err("the probe was never answered".to_owned())
    }
}

/// What went wrong in one burst room.
#[derive(Debug, Default)]
struct Faults {
    lines: Vec<String>,
    lost: usize,
    duplicated: usize,
    errors: usize,
    closed: usize,
    bye_lost: bool,
    /// Steps that went wrong otherwise: an HTTP answer, a send on an ended socket, a probe
    /// never answered.
    steps: usize,
}

impl Faults {
    /// Compares what `to` received with what `from` sent, each sent frame exactly once.
    fn check(&mut self, to: &str, inbox: &Inbox, from: &str, sent: &[String]) {
        let label = |m: &String| {
            sent.iter()
                .position(|s| s == m)
                .map_or_else(|| m.clone(), |i| format!("{from}{}", i + 1))
        };
        let lost: Vec<String> = sent
            .iter()
            .filter(|m| !inbox.msgs.contains(m))
            .map(label)
            .collect();
        let mut extra: Vec<String> = Vec::new();
        for (i, m) in inbox.msgs.iter().enumerate() {
            if inbox.msgs[..i].contains(m) || !sent.contains(m) {
                extra.push(label(m));
            }
        }
        if !lost.is_empty() {
            self.lines.push(format!(
                "{to} lost {} of {from}'s frames: {lost:?}",
                lost.len()
            ));
        }
        if !extra.is_empty() {
            self.lines.push(format!(
                "{to} got duplicate or unexpected frames: {extra:?}"
            ));
        }
        if !inbox.errors.is_empty() {
            self.lines
                .push(format!("{to} got error frames: {:?}", inbox.errors));
        }
        if let Some(how) = &inbox.closed {
            self.lines
                .push(format!("{to}'s socket was ended by the server: {how}"));
        }
        self.lost += lost.len();
        self.duplicated += extra.len();
        self.errors += inbox.errors.len();
        self.closed += usize::from(inbox.closed.is_some());
    }

    fn fail(&mut self, step: Result<(), String>) {
        if let Err(e) = step {
            self.lines.push(e);
            self.steps += 1;
        }
    }
}

/// `POST /join/<room>`: the client id, or why there is none.
async fn burst_join(s: &TestServer, r: &str) -> Result<String, String> {
    let res = s.post(&format!("/join/{r}"), "").await;
    let v: serde_json::Value = serde_json::from_str(&res.body).unwrap_or_default();
    match (v["result"].as_str(), v["params"]["client_id"].as_str()) {
        (Some("SUCCESS"), Some(id)) => Ok(id.to_owned()),
        _ => Err(format!(
            "join answered {} {}",
            res.status,
            res.body.trim_end()
        )),
    }
}

/// One call's burst through API Gateway: A and B join and register, each sends 16 candidates
/// right after its register without waiting for anything (each frame its own invocation, run in
/// no order), A 8 more once B registered; B then hangs up as the web client does (/leave, its
/// socket closed, its bye by the collider POST). Every frame must reach the other side exactly
/// once, no error frame may arrive and the server may end no socket.
async fn burst_call(s: &TestServer, r: &str) -> Faults {
    let mut faults = Faults::default();
    let (a, b) = match (burst_join(s, r).await, burst_join(s, r).await) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            faults.fail(a.map(drop));
            faults.fail(b.map(drop));
            return faults;
        }
    };
    let from_a: Vec<String> = (1..=24).map(candidate).collect();
    let from_b: Vec<String> = (101..=116).map(candidate).collect();
    let (mut wa, mut wb) = (s.ws().await, s.ws().await);
    let (mut at_a, mut at_b) = (Inbox::default(), Inbox::default());
    let register = |c: &str| serde_json::json!({"cmd": "register", "roomid": r, "clientid": c});
    let sent = async {
        send(&mut wa, register(&a)).await?;
        for m in &from_a[..16] {
            send(&mut wa, serde_json::json!({"cmd": "send", "msg": m})).await?;
        }
        send(&mut wb, register(&b)).await?;
        for m in &from_b {
            send(&mut wb, serde_json::json!({"cmd": "send", "msg": m})).await?;
        }
        for m in &from_a[16..] {
            send(&mut wa, serde_json::json!({"cmd": "send", "msg": m})).await?;
        }
        Ok::<(), String>(())
    }
    .await;
    faults.fail(sent);
    tokio::join!(
        read_until(&mut wb, &mut at_b, |i| i.has_all(&from_a)),
        read_until(&mut wa, &mut at_a, |i| i.has_all(&from_b)),
    );
    faults.fail(probe(&mut wb, &mut at_b).await);
    // B hangs up.
    let left = s.leave(r, &b).await;
    if left.status != 200 || !left.body.contains("SUCCESS") {
        faults.fail(Err(format!(
            "leave answered {} {}",
            left.status,
            left.body.trim_end()
        )));
    }
    wb.close().await;
    let bye = s.post(&format!("/relay/{r}/{b}"), BYE).await;
    if (bye.status, bye.body.as_str()) != (200, "OK\n") {
        faults.fail(Err(format!(
            "bye POST answered {} {}",
            bye.status,
            bye.body.trim_end()
        )));
    }
    read_until(&mut wa, &mut at_a, |i| i.msgs.iter().any(|m| m == BYE)).await;
    faults.fail(probe(&mut wa, &mut at_a).await);
    faults.bye_lost = !at_a.msgs.iter().any(|m| m == BYE);
    if faults.bye_lost {
        faults.lines.push("A never got B's bye".to_owned());
    }
    at_a.msgs.retain(|m| m != BYE);
    faults.check("A", &at_a, "b", &from_b);
    faults.check("B", &at_b, "a", &from_a);
    wa.close().await;
    faults
}

/// [`BURST_ROOMS`] calls at once, each [`burst_call`], on an aws-local server whose functions
/// have 8 instances each and start each invocation up to `jitter` late. An error names every
/// room that lost, duplicated or refused a frame, with totals.
async fn bursts(jitter: &str) -> Result<(), String> {
    let s = std::sync::Arc::new(
        aws_server_with(&["--apigw-instances", "8", "--apigw-jitter", jitter]).await,
    );
    let started = tokio::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..BURST_ROOMS {
        let s = s.clone();
        let r = room(&format!("burst{i}"));
        calls.spawn(async move {
            let faults = burst_call(&s, &r).await;
            (r, faults)
        });
    }
    let mut failed = Vec::new();
    let mut total = Faults::default();
    let mut byes_lost = 0;
    while let Some(done) = calls.join_next().await {
        let (r, faults) = done.expect("a burst call panicked");
        total.lost += faults.lost;
        total.duplicated += faults.duplicated;
        total.errors += faults.errors;
        total.closed += faults.closed;
        total.steps += faults.steps;
        byes_lost += usize::from(faults.bye_lost);
        if !faults.lines.is_empty() {
            failed.push(format!("{r}:\n  {}", faults.lines.join("\n  ")));
        }
    }
    eprintln!(
        "{BURST_ROOMS} burst calls (jitter {jitter}) took {:?}",
        started.elapsed()
    );
    if failed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} of {BURST_ROOMS} rooms failed (jitter {jitter}): {} frames lost, {} duplicated or \
         unexpected, {} error frames, {} sockets ended by the server, {byes_lost} byes lost, {} \
         other steps failed\n{}",
        failed.len(),
        total.lost,
        total.duplicated,
        total.errors,
        total.closed,
        total.steps,
        failed.join("\n")
    ))
}

/// One after the other, so that the two runs do not share the machine (or DynamoDB Local);
/// both run, whichever fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_30_calls_arrive_exactly_once_with_invocations_up_to_40_or_100ms_late() {
    let runs = [bursts("40ms").await, bursts("100ms").await];
    let failures: Vec<String> = runs.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
