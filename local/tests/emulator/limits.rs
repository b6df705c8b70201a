//! Abuse limits over real sockets: a socket sending too fast gets an error frame and stays open;
//! the total socket limit answers 429 before upgrading. (Per-address limits exempt loopback and
//! are unit-tested in `limits.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn a_socket_sending_too_fast_gets_an_error_frame_and_stays_open() {
    let s =
        TestServer::start_with(&["--max-messages-per-second", "1", "--message-burst", "3"]).await;
    let (_, _, mut wa, mut wb) = s.two_registered("fast").await;
    for i in 0..2 {
        wa.send_msg_to(&mut wb, &candidate(i)).await;
    }
    wa.send_msg(&candidate(9)).await;
    assert_eq!(wa.recv_error().await, "Too many messages per second");
    wb.expect_nothing_pending().await;
}

#[tokio::test]
async fn the_socket_total_is_enforced_before_the_upgrade() {
    let s = TestServer::start_with(&["--max-sockets", "1"]).await;
    let _first = s.ws().await;
    let req = s.ws_url.as_str().into_client_request().unwrap();
    let err = tokio_tungstenite::connect_async(req)
        .await
        .expect_err("second socket refused");
    match err {
        tokio_tungstenite::tungstenite::Error::Http(res) => assert_eq!(res.status(), 429),
        other => panic!("expected HTTP 429, got {other}"),
    }
}
