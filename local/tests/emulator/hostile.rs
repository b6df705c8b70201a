//! Hostile input against a running server while a call is in progress in another room: every
//! malformed request and frame gets a clear error (an HTTP error status, an AppRTC error result or
//! an error frame), the process keeps serving, its memory comes back to where it was, and the call
//! never notices. The server is the built binary in its own process, so its memory is its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::process::Process;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes on a fresh connection; whether the answer refused them: an error status, an
/// AppRTC error result, or the connection closed without an answer.
async fn refused(addr: std::net::SocketAddr, bytes: &[u8]) -> bool {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = tcp.write_all(bytes).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    status == 0 || is_error(status) || text.contains("\"result\":\"ERROR\"")
}

/// A client frame, masked as clients must unless `masked` is false.
fn frame(b0: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![b0];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A WebSocket opened by hand (RFC 6455's example key), so frames can break the protocol.
async fn raw_ws(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    tcp
}

/// Everything the server sends until it closes the connection, as (opcode, payload) frames.
async fn frames_until_eof(tcp: &mut tokio::net::TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut buf))
        .await
        .expect("the server did not close the connection")
        .unwrap();
    let mut frames = Vec::new();
    let mut rest = &buf[..];
    while let [b0, b1, tail @ ..] = rest {
        let (len, tail) = match b1 & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([tail[0], tail[1]])),
                &tail[2..],
            ),
            n => (usize::from(n), tail),
        };
        frames.push((b0 & 0x0f, tail[..len].to_vec()));
        rest = &tail[len..];
    }
    frames
}

fn is_error(status: u16) -> bool {
    (400..600).contains(&status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_errors_and_the_call_in_another_room_never_notices() {
    let p = Process::start(&["--header-timeout", "2s"]);
    let s = p.server();
    let (a, _, mut wa, mut wb) = s.two_registered("calm").await;
    wb.send_msg_to(&mut wa, &answer()).await;
    let before = p.rss_kb();
    let mut tried = 0usize;

    // Paths with bad ids: path tricks, encodings, 10 000 characters, empty segments.
    let long = "a".repeat(10_000);
    let bad_ids = [
        "..", "%2e%2e", "a%2Fb", "a.b", "a b", "%00", "%C3%A4", "%FF", "<script>", "a;b", "a'b",
        "a\"b", "a\\b", "a*", "a%3Fb", &long, "", "%", "%zz", "a%0Ab",
    ];
    // Characters a URI cannot carry raw are sent percent-encoded; the server decodes and refuses.
    let uri_safe = |id: &str| -> String {
        id.chars()
            .map(|ch| match ch {
                ' ' | '<' | '>' | '"' | '\\' | '\n' | '{' | '}' | '|' | '^' | '`' => {
                    format!("%{:02X}", ch as u32)
                }
                c => c.to_string(),
            })
            .collect()
    };
    for id in bad_ids {
        let id = uri_safe(id);
        for (method, path) in [
            ("POST", format!("/join/{id}")),
            ("POST", format!("/message/{id}/{a}")),
            ("POST", format!("/leave/calm/{id}")),
            ("POST", format!("/relay/{id}/{a}")),
            ("GET", format!("/r/{id}")),
        ] {
            let r = s
                .request(method, &path, r#"{"type":"offer","sdp":"x"}"#, &[])
                .await;
            let result = serde_json::from_str::<serde_json::Value>(&r.body).ok();
            let refused =
                is_error(r.status) || result.as_ref().is_some_and(|v| v["result"] != "SUCCESS");
            assert!(
                refused,
                "{method} {} answered {} {}",
                &path[..path.len().min(60)],
                r.status,
                r.body
            );
            tried += 1;
        }
    }

    // Bodies: empty, huge, invalid UTF-8, not JSON, nested, truncated, wrong types.
    let c = s.join_id("target").await;
    let deep = format!(
        "{{\"type\":\"offer\",\"x\":{}1{}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let huge = format!("{{\"type\":\"offer\",\"sdp\":\"{}\"}}", "x".repeat(2 << 20));
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        huge.as_bytes()[..70 * 1024].to_vec(),
        b"\xff\xfe\xfd".to_vec(),
        b"{\"type\":\"offer\",\"sdp\":\"\xc3\x28\"}".to_vec(),
        b"not json".to_vec(),
        deep.into_bytes(),
        b"{\"type\":\"offer\"".to_vec(),
        b"{\"type\":7}".to_vec(),
        b"{\"type\":null}".to_vec(),
        b"[]".to_vec(),
        b"\"offer\"".to_vec(),
        b"{\"type\":\"Offer\"}".to_vec(),
        b"{}".to_vec(),
        b"null".to_vec(),
        b"{\"type\":\"offer\"}{\"type\":\"offer\"}".to_vec(),
    ];
    for body in bodies {
        for path in [format!("/message/target/{c}"), format!("/relay/target/{c}")] {
            let r = s.request("POST", &path, body.clone(), &[]).await;
            let ok = r.status == 200 && r.body.contains("SUCCESS") || r.body == "OK\n";
            assert!(
                !ok,
                "{path} accepted {:?}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
            tried += 1;
        }
    }

    // A 2 MiB body on a raw socket (the server refuses early; the sender may see a broken pipe).
    for path in [format!("/message/target/{c}"), format!("/relay/target/{c}")] {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
            huge.len()
        )
        .into_bytes();
        req.extend_from_slice(huge.as_bytes());
        assert!(refused(s.addr, &req).await, "huge body accepted on {path}");
        tried += 1;
    }

    // Wrong methods on every route.
    for (method, path) in [
        ("GET", "/join/x"),
        ("PUT", "/join/x"),
        ("DELETE", "/join/x"),
        ("GET", "/message/x/y"),
        ("PATCH", "/leave/x/y"),
        ("POST", "/r/x"),
        ("POST", "/params"),
        ("PUT", "/v1alpha/iceconfig"),
        ("DELETE", "/v1alpha/iceconfig"),
        ("POST", "/"),
        ("POST", "/static/app.js"),
        ("GET", "/nope"),
        ("POST", "/ws"),
        ("TRACE", "/join/x"),
    ] {
        let r = s.request(method, path, "", &[]).await;
        assert!(is_error(r.status), "{method} {path} answered {}", r.status);
        tried += 1;
    }

    // Malformed HTTP on raw sockets: bad request lines, bad and duplicated headers, huge headers,
    // garbage, slow headers (slowloris).
    let huge_header = format!(
        "POST /join/x HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let raws: Vec<Vec<u8>> = vec![
        b"GARBAGE\r\n\r\n".to_vec(),
        b"POST\r\n\r\n".to_vec(),
        b"POST /join/x HTTP/9.9\r\nHost: h\r\n\r\n".to_vec(),
        b"POST /message/target/zz HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n".to_vec(),
        b"POST /message/target/zz HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello".to_vec(),
        b"POST /message/target/zz HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        b"POST /join/x HTTP/1.1\r\nHost h\r\n\r\n".to_vec(),
        b"\x00\x01\x02\x03\r\n\r\n".to_vec(),
        b"POST /join/\xff HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(),
        huge_header.into_bytes(),
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_vec(),
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec(),
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 99\r\n\r\n".to_vec(),
    ];
    for bytes in raws {
        assert!(
            refused(s.addr, &bytes).await,
            "raw request {:?} accepted",
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        );
        tried += 1;
    }
    // Slow headers: the server gives up after --header-timeout instead of holding the socket.
    let mut slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"POST /join/x HTTP/1.1\r\nHost: h\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(WAIT, slow.read_to_end(&mut buf))
        .await
        .expect("slow headers were not cut off");
    assert!(n.is_ok());
    tried += 1;

    // WebSocket frames: binary, invalid JSON, wrong types, unknown commands, huge, frames after
    // an error that closes.
    let frames: Vec<(&str, String)> = vec![
        ("close", "not json".to_owned()),
        ("close", "".to_owned()),
        ("close", "[]".to_owned()),
        ("close", "{\"cmd\":\"register\"}".to_owned()),
        (
            "close",
            "{\"cmd\":\"register\",\"roomid\":\"calm\",\"clientid\":\"nope\"}".to_owned(),
        ),
        (
            "close",
            format!("{{\"cmd\":\"register\",\"roomid\":\"{long}\",\"clientid\":\"x\"}}"),
        ),
        (
            "close",
            "{\"cmd\":\"register\",\"roomid\":7,\"clientid\":\"x\"}".to_owned(),
        ),
        ("close", "{\"cmd\":\"send\",\"msg\":\"x\"}".to_owned()),
        (
            "close",
            "{\"cmd\":\"send\",\"msg\":{\"type\":\"offer\"}}".to_owned(),
        ),
        (
            "open",
            format!(
                "{{\"cmd\":\"x\",\"pad\":{}1{}}}",
                "[".repeat(200),
                "]".repeat(200)
            ),
        ),
        ("open", "{\"cmd\":\"ping\"}".to_owned()),
        ("open", "{}".to_owned()),
        ("open", "{\"cmd\":null}".to_owned()),
    ];
    for (fate, text) in &frames {
        let mut w = s.ws().await;
        w.send_text(text).await;
        let e = w.recv_error().await;
        assert!(!e.is_empty());
        if *fate == "close" {
            w.expect_closed().await;
        } else {
            w.expect_nothing_pending().await;
        }
        tried += 1;
    }
    {
        let mut w = s.ws().await;
        use futures_util::SinkExt;
        w.stream
            .send(tokio_tungstenite::tungstenite::Message::binary(vec![
                1, 2, 3,
            ]))
            .await
            .unwrap();
        assert!(!w.recv_error().await.is_empty());
        w.expect_closed().await;
        tried += 1;
    }
    // WebSocket frames that break RFC 6455: a close frame with the matching code, then the end.
    let violations: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", frame(0x81, b"{}", false), 1002),
        ("reserved bit", frame(0xC1, b"{}", true), 1002),
        ("unknown opcode", frame(0x83, b"{}", true), 1002),
        ("fragmented ping", frame(0x09, b"", true), 1002),
        ("long ping", frame(0x89, &[b'p'; 126], true), 1002),
        ("lone continuation", frame(0x80, b"{}", true), 1002),
        (
            "interleaved message",
            [frame(0x01, b"{", true), frame(0x81, b"{}", true)].concat(),
            1002,
        ),
        (
            "bad close code",
            frame(0x88, &1005u16.to_be_bytes(), true),
            1002,
        ),
        ("text not UTF-8", frame(0x81, &[0xc3, 0x28], true), 1007),
        (
            "1 GiB announced",
            vec![0x81, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4],
            1009,
        ),
    ];
    for (what, bytes, code) in violations {
        let mut raw = raw_ws(s.addr).await;
        raw.write_all(&bytes).await.unwrap();
        let frames = frames_until_eof(&mut raw).await;
        let close = frames.iter().find(|(op, _)| *op == 8);
        let got = close.map(|(_, p)| u16::from_be_bytes([p[0], p[1]]));
        assert_eq!(got, Some(code), "{what}: {frames:?}");
        tried += 1;
    }
    // A ping is answered with its payload; a close frame is answered with one.
    {
        let mut raw = raw_ws(s.addr).await;
        raw.write_all(&frame(0x89, b"are you there", true))
            .await
            .unwrap();
        raw.write_all(&frame(0x88, &1000u16.to_be_bytes(), true))
            .await
            .unwrap();
        let frames = frames_until_eof(&mut raw).await;
        assert_eq!(
            frames,
            vec![
                (0xA, b"are you there".to_vec()),
                (0x8, 1000u16.to_be_bytes().to_vec())
            ]
        );
        tried += 1;
    }
    // A registered socket sending invalid messages: error frames, still registered.
    let d = s.join_id("target").await;
    let mut wd = s.ws_registered("target", &d).await;
    for bad in [
        "x",
        "{\"type\":\"nope\"}",
        "{\"sdp\":\"x\"}",
        "[1]",
        "{\"type\":\"offer\"",
    ] {
        wd.send_msg(bad).await;
        assert!(wd.recv_error().await.starts_with("Invalid send request"));
        tried += 1;
    }

    assert!(tried >= 150, "only {tried} inputs tried");
    // The call in the other room never noticed.
    assert_call_works(&s, "calm", &a, &mut wa, &mut wb).await;
    assert_eq!(s.get("/healthz").await.status, 200);
    // Memory comes back: nothing the inputs made the server allocate is kept.
    drop(wd);
    let after = p.rss_kb();
    eprintln!(
        "{tried} hostile inputs answered with errors; the call kept working; \
         server RSS {before} KiB before, {after} KiB after"
    );
    assert!(after < before + 4 * 1024, "RSS {before} KiB -> {after} KiB");
}
