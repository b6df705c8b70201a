//! API Gateway's idle timeout against the keep-alive sweep, through `--backend aws-local`. A
//! test binary of its own: the sweep posts to every registered connection in the table, and an
//! `aws-local` server of another test sharing the table (DynamoDB Local) would lose its sockets to
//! it: each stand-in knows only its own connections, where one API Gateway knows all of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

#[tokio::test]
async fn idle_sockets_close_and_the_keepalive_holds_registered_ones_open() {
    let s = aws_server_with(&[
        "--apigw-idle-timeout",
        "2s",
        "--keepalive-interval",
        "400ms",
    ])
    .await;
    let r = room("aws-idle");
    let a = s.join_id(&r).await;
    let mut wa = s.ws_registered(&r, &a).await;
    let mut idle = s.ws().await;
    assert_eq!(idle.expect_close_frame().await.0, 1001, "idle timeout");
    // The registered socket is as old as the idle one; the keep-alive kept it open, and every
    // keep-alive frame is one the AppRTC clients drop (an error they log, on Android a candidate
    // WebRTC cannot parse).
    let first = wa.recv().await;
    assert_eq!(first["error"], "keepalive");
    let inner: serde_json::Value = serde_json::from_str(first["msg"].as_str().unwrap()).unwrap();
    assert_eq!(inner["type"], "candidate");
    wa.send_json(serde_json::json!({"cmd": "probe"})).await;
    loop {
        let v = wa.recv().await;
        if v["error"] != "keepalive" {
            assert_eq!(v["error"], "Invalid message: unexpected 'cmd'");
            break;
        }
    }
}
