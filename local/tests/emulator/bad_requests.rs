//! One table of bad requests against both backends: the same request gets the same answer
//! (status, content type, body) from the emulator's own routes and from the deployed handlers
//! behind the API Gateway stand-in, and a body that cannot be read is a 400 that says so.
#![cfg(feature = "aws-local")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `--max-message-bytes` for both servers: small, so oversized bodies stay small.
const MAX: usize = 1000;

/// A request as raw bytes, with `{room}` and `{client}` filled per server; `half_close` ends the
/// client's side after writing (a body that stops short of its length).
struct Case {
    name: &'static str,
    head: &'static str,
    body: Vec<u8>,
    half_close: bool,
}

fn case(name: &'static str, head: &'static str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        head,
        body: body.into(),
        half_close: false,
    }
}

fn cases() -> Vec<Case> {
    let big = vec![b'x'; MAX + 1];
    let msg = |n: usize| format!(r#"{{"type":"candidate","candidate":"{}"}}"#, "c".repeat(n));
    vec![
        case(
            "message over the size limit",
            "POST /message/{room}/{client}",
            big.clone(),
        ),
        case(
            "collider POST over the size limit",
            "POST /relay/{room}/{client}",
            big,
        ),
        case(
            "message that is not JSON",
            "POST /message/{room}/{client}",
            "hello",
        ),
        case(
            "message not UTF-8",
            "POST /message/{room}/{client}",
            vec![0xff, 0xfe, b'{'],
        ),
        case(
            "collider POST not UTF-8",
            "POST /relay/{room}/{client}",
            vec![0xff, 0xfe],
        ),
        case("collider POST empty", "POST /relay/{room}/{client}", ""),
        case(
            "collider POST not signaling",
            "POST /relay/{room}/{client}",
            "[1,2]",
        ),
        case(
            "collider POST of a stranger",
            "POST /relay/{room}/1234",
            msg(3),
        ),
        case(
            "message from a stranger",
            "POST /message/{room}/1234",
            msg(3),
        ),
        case(
            "message to no room",
            "POST /message/nosuchroom/{client}",
            msg(3),
        ),
        case("leave of a stranger", "POST /leave/{room}/1234", ""),
        case("join with an invalid room", "POST /join/bad%20room!", ""),
        case("join by GET", "GET /join/{room}", ""),
        case(
            "message with an invalid client",
            "POST /message/{room}/x%2Fy",
            msg(3),
        ),
        case("room page with an invalid room", "GET /r/bad%20room!", ""),
        case("room page by POST", "POST /r/{room}", ""),
        case("unknown file of the web client", "GET /static/nope.js", ""),
        case("file of the web client by PUT", "PUT /static/app.js", ""),
        case("WebSocket handshake without Upgrade", "GET /ws", ""),
        Case {
            name: "message shorter than its Content-Length",
            head: "POST /message/{room}/{client}",
            body: b"{\"type\":".to_vec(),
            half_close: true,
        },
        Case {
            name: "collider POST shorter than its Content-Length",
            head: "POST /relay/{room}/{client}",
            body: b"{\"type\":".to_vec(),
            half_close: true,
        },
    ]
}

/// Status, content type and body of one raw request.
async fn send_raw(
    s: &TestServer,
    case: &Case,
    room: &str,
    client: &str,
    chunked: Option<&[u8]>,
) -> (u16, String, String) {
    let target = case
        .head
        .replace("{room}", room)
        .replace("{client}", client);
    let mut req = format!(
        "{target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        s.addr
    );
    match chunked {
        Some(_) => req.push_str("Transfer-Encoding: chunked\r\n\r\n"),
        None => {
            // A half-closed body claims 100 bytes more than it sends.
            let claimed = case.body.len() + if case.half_close { 100 } else { 0 };
            req.push_str(&format!("Content-Length: {claimed}\r\n\r\n"));
        }
    }
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(chunked.unwrap_or(&case.body));
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(&bytes).await.unwrap();
    if case.half_close || chunked.is_some() {
        tcp.shutdown().await.unwrap();
    }
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut raw))
        .await
        .expect("answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// A server of `backend` and a room with one joined client in it.
async fn server(backend: &str, room: &str) -> (TestServer, String) {
    let max = MAX.to_string();
    let s = TestServer::start_with(&["--backend", backend, "--max-message-bytes", &max]).await;
    let client = s.join_id(room).await;
    (s, client)
}

#[tokio::test]
async fn every_backend_answers_the_same_bad_request_the_same_way() {
    let (local, a) = server("local", "badreq").await;
    let (aws, b) = server("aws-local", "badreq").await;
    let mut compared = 0;
    for case in cases() {
        let got_local = send_raw(&local, &case, "badreq", &a, None).await;
        let got_aws = send_raw(&aws, &case, "badreq", &b, None).await;
        // Client ids differ between the two servers; nothing else may.
        let normalise = |(s, t, b): (u16, String, String), id: &str| (s, t, b.replace(id, "<id>"));
        assert_eq!(
            normalise(got_local.clone(), &a),
            normalise(got_aws, &b),
            "{}: local backend vs aws-local",
            case.name
        );
        assert!(
            got_local.0 >= 400 || got_local.2.contains("ERROR") || got_local.2.contains("UNKNOWN"),
            "{}: a bad request is refused: {got_local:?}",
            case.name
        );
        compared += 1;
    }
    assert_eq!(compared, cases().len());
}

#[tokio::test]
async fn a_body_that_cannot_be_read_is_a_400_that_says_so_on_every_backend() {
    for backend in ["local", "aws-local"] {
        let (s, client) = server(backend, "unreadable").await;
        for case in cases().into_iter().filter(|c| c.half_close) {
            let (status, _, body) = send_raw(&s, &case, "unreadable", &client, None).await;
            assert_eq!(status, 400, "{backend}, {}: {body}", case.name);
            assert!(
                body.contains("could not be read"),
                "{backend}, {}: {body}",
                case.name
            );
        }
        // Chunked encoding whose chunk size is not hexadecimal.
        for head in [
            "POST /message/{room}/{client}",
            "POST /relay/{room}/{client}",
        ] {
            let case = case("malformed chunked body", head, "");
            let chunked = b"zz\r\nabc\r\n0\r\n\r\n";
            let (status, _, body) = send_raw(&s, &case, "unreadable", &client, Some(chunked)).await;
            assert_eq!(status, 400, "{backend}, {head}: {body}");
            assert!(
                body.contains("could not be read"),
                "{backend}, {head}: {body}"
            );
        }
        // The server goes on: the room still answers.
        assert_eq!(s.join("unreadable").await["result"], "SUCCESS");
    }
}
