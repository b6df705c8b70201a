//! The compatibility listener (`--relay-port`, default 8089) serves the relay where the original
//! collider was: `/ws`, `POST|DELETE /<room>/<client>`, `/status`, so `?wshpp=IP:8089` links and
//! Android clients configured the old way keep working.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn the_old_collider_port_relays_posts_deletes_and_reports_status() {
    // The in-process host's listener, whichever backend the suite runs against.
    let s = TestServer::start_with_relay_port(&["--backend", "local", "--no-tls"]).await;
    let relay = s.relay_base.clone().expect("the compatibility listener");
    // Sockets on the compatibility port (ws_url points there).
    let (a, _, mut wa, mut wb) = s.two_registered("c1").await;
    wb.send_msg_to(&mut wa, &answer()).await;
    // Collider HTTP at /<room>/<client> on that port.
    let post = s
        .request_url("POST", &format!("{relay}/c1/{a}"), offer())
        .await;
    assert_eq!((post.status, post.body.as_str()), (200, "OK\n"));
    assert_eq!(wb.recv_msg().await, offer());
    let bad = s.request_url("POST", &format!("{relay}/c1"), offer()).await;
    assert_eq!(bad.status, 500);
    assert!(bad.body.starts_with("Invalid path:"));
    let status = s
        .request_url("GET", &format!("{relay}/status"), "")
        .await
        .json();
    assert_eq!(status["openws"], 2);
    let del = s
        .request_url("DELETE", &format!("{relay}/c1/{a}"), "")
        .await;
    assert_eq!((del.status, del.body.as_str()), (200, "OK\n"));
    wa.expect_closed().await;
    // The main port does not serve the old paths (no clash with /join/<room>).
    let req = format!("{}/ws", s.base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    let mut main_ws = Ws::connect(req).await;
    main_ws.send_json(serde_json::json!({"cmd": "probe"})).await;
    assert_eq!(
        main_ws.recv_error().await,
        "Invalid message: unexpected 'cmd'"
    );
}
