//! API Gateway's idle timeout against the keep-alive sweep, through `--backend aws-local`. On
//! DynamoDB Local the server has a table of its own ([`own_table`]): the sweep posts to every
//! registered connection of its table, and would take the sockets of other tests' servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;

#[tokio::test]
async fn idle_sockets_close_and_the_keepalive_holds_registered_ones_open() {
    let table = own_table("keepalive");
    let mut flags = vec![];
    if let Some(t) = &table {
        flags.extend(["--table", t.as_str()]);
    }
    flags.extend([
        "--apigw-idle-timeout",
        "2s",
        "--keepalive-interval",
        "400ms",
    ]);
    let s = aws_server_with(&flags).await;
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
