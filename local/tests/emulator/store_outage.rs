//! The room API when the DynamoDB table fails (stopped, hung, slow, throttling), on both
//! backends. Other tests' servers share the table, but none of them sweeps it (the keep-alive
//! test has a table of its own): a sweep posts to every registered connection of its table and
//! would take this test's sockets for gone ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
#[path = "../../../shared/tests/room_suite/support/fault_proxy.rs"]
mod fault_proxy;
use common::*;

/// A stopped, hung, slow or throttling DynamoDB behind `apprtc-local --store dynamodb`, on both
/// backends: a 503 JSON error within a bound, sockets of a call in progress stay open, and the
/// same process serves again when the table is back.
#[tokio::test]
async fn a_failing_table_is_a_503_and_both_backends_recover() {
    use fault_proxy::{Fault, FaultProxy};
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") else {
        eprintln!("skipped: AWS_ENDPOINT_URL_DYNAMODB not set");
        return;
    };
    // The store's deployed timeouts (2 s per operation) plus a margin for a loaded machine.
    let bound = std::time::Duration::from_secs(4);
    for backend in ["local", "aws-local"] {
        let proxy = FaultProxy::start(&endpoint).await;
        let url = proxy.url();
        let s = TestServer::start_with(&[
            "--backend",
            backend,
            "--store",
            "dynamodb",
            "--dynamodb-endpoint",
            &url,
        ])
        .await;
        let r = room(&format!("faults-{backend}"));
        let a = s.join_id(&r).await;
        // On the local backend a socket's frames are handled in order: once the probe is
        // answered, the registration is complete, and the socket stays open through the faults.
        // On the AWS path the register's invocation is not ordered with the probe's and may run
        // into the first fault (the client then gets an error frame), so there the socket
        // registers once the table is back.
        let mut wa = None;
        if backend == "local" {
            let mut ws = s.ws_registered(&r, &a).await;
            ws.expect_nothing_pending().await;
            wa = Some(ws);
        }
        for (n, fault) in [
            Fault::Stopped,
            Fault::Hung,
            Fault::Slow(std::time::Duration::from_secs(3)),
            Fault::Throttling,
        ]
        .into_iter()
        .enumerate()
        {
            proxy.set(fault);
            for path in [format!("/join/{r}"), format!("/message/{r}/{a}")] {
                let started = std::time::Instant::now();
                let res = s.post(&path, offer()).await;
                let took = started.elapsed();
                assert!(took < bound, "{backend} {fault:?} {path}: took {took:?}");
                assert_eq!(res.status, 503, "{backend} {fault:?} {path}: {}", res.body);
                assert_eq!(res.json()["result"], "ERROR");
                eprintln!("{backend} {fault:?} {path}: 503 after {took:?}");
            }
            proxy.set(Fault::None);
            let other = format!("{r}-after-{n}");
            assert_eq!(
                s.join(&other).await["result"],
                "SUCCESS",
                "{backend} {fault:?}"
            );
        }
        // The call in progress goes on: the joiner gets in and reaches the first client.
        let mut wa = match wa {
            Some(ws) => ws,
            None => s.ws_registered(&r, &a).await,
        };
        let joined = s.join(&r).await;
        assert_eq!(joined["params"]["is_initiator"], "false", "{backend}");
        let b = joined["params"]["client_id"].as_str().unwrap().to_owned();
        let mut wb = s.ws_registered(&r, &b).await;
        wb.send_msg(&answer()).await;
        assert_eq!(wa.recv_msg().await, answer(), "{backend}");
        s.shutdown().await.unwrap();
    }
}
