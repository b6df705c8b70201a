//! Two clients relay through one process: the shortest whole path.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;
use common::*;

#[tokio::test]
async fn two_clients_relay_through_one_process() {
    let s = TestServer::start().await;
    let a = s.join_id("smoke").await;
    let b = s.join_id("smoke").await;
    let mut wa = s.ws_registered("smoke", &a).await;
    let mut wb = s.ws_registered("smoke", &b).await;
    wb.send_msg_to(&mut wa, &answer()).await;
    assert_eq!(
        s.message("smoke", &a, &candidate(1)).await["result"],
        "SUCCESS"
    );
    assert_eq!(wb.recv_msg().await, candidate(1));
    s.shutdown().await.unwrap();
}
