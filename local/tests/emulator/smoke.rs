//! Two clients relay through one process: the shortest whole path.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::common;
use common::*;

#[tokio::test]
async fn two_clients_relay_through_one_process() {
    let s = TestServer::start().await;
    let (a, _, mut wa, mut wb) = s.two_registered("smoke").await;
    assert_call_works(&s, "smoke", &a, &mut wa, &mut wb).await;
    s.shutdown().await.unwrap();
}
