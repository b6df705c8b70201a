//! A DynamoDB that cannot be reached, hangs, is slow or throttles: every use case answers a 503
//! with a JSON error within a bounded time (explicit SDK timeouts and retries), nothing panics,
//! and the same deployment serves again as soon as the table is back. The faults are put between
//! the functions and a real DynamoDB API (DynamoDB Local) by a loopback proxy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_http::Body;
use room::RoomId;
use room::adapters::dynamo::{DynamoRoomStore, DynamoTimeouts, client};
use room::adapters::lambda::{DeployConfig, Deployment, Route, handle};
use room::testing::FakeConnections;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support;

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
use fault_proxy::{Fault, FaultProxy};

/// A loopback port with nothing listening (bound, then released).
fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

fn request(route: Route, path: &str) -> http::Request<Body> {
    let body = if route == Route::Message {
        Body::from(r#"{"type":"offer","sdp":"x"}"#)
    } else {
        Body::Empty
    };
    http::Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "h")
        .body(body)
        .unwrap()
}

fn json(res: &http::Response<Body>) -> serde_json::Value {
    serde_json::from_slice(res.body().as_ref()).unwrap()
}

/// Joins `room` and returns the client id; panics unless the answer is SUCCESS.
async fn join(dep: &Deployment, room: &RoomId) -> String {
    let res = handle(
        dep,
        Route::Join,
        request(Route::Join, &format!("/join/{room}")),
    )
    .await;
    let v = json(&res);
    assert_eq!(v["result"], "SUCCESS", "{v}");
    v["params"]["client_id"].as_str().unwrap().to_owned()
}

/// A deployment of the functions over `store`, on the table `table`.
fn deployment(store: DynamoRoomStore, table: &str) -> Deployment {
    let config =
        DeployConfig::from_lookup(|k| (k == "TABLE_NAME").then(|| table.to_owned())).unwrap();
    Deployment::new(
        config,
        Arc::new(store),
        Arc::new(FakeConnections::default()),
    )
}

/// Asserts the answer of a store that is out of reach: a 503 that asks the client to retry, with
/// a JSON error; returns the JSON. `context` names the request in a failure.
fn assert_unavailable(res: &http::Response<Body>, context: &str) -> serde_json::Value {
    assert_eq!(res.status(), 503, "{context}");
    assert_eq!(res.headers()["retry-after"], "1");
    let v = json(res);
    assert_eq!(v["result"], "ERROR", "{context}");
    v
}

#[tokio::test]
async fn an_unreachable_table_is_a_503_json_error_within_a_bounded_time() {
    // The SDK needs a region and credentials to sign; the endpoint is dead either way.
    let timeouts = DynamoTimeouts::default();
    let bound = timeouts.operation * 2 + Duration::from_secs(1);
    let store = DynamoRoomStore::new(client(&timeouts, Some(&dead_endpoint())).await, "t");
    let dep = deployment(store, "t");
    for (route, path) in [
        (Route::Join, "/join/r"),
        (Route::Message, "/message/r/c"),
        (Route::Leave, "/leave/r/c"),
    ] {
        let started = Instant::now();
        let res = handle(&dep, route, request(route, path)).await;
        assert!(
            started.elapsed() < bound,
            "{path} took {:?}",
            started.elapsed()
        );
        let v = assert_unavailable(&res, path);
        assert!(v["error"].as_str().unwrap().contains("unavailable"));
    }
}

#[tokio::test]
async fn a_stopped_hung_slow_or_throttling_table_is_a_503_and_the_functions_recover() {
    let Some(endpoint) = support::dynamodb_endpoint() else {
        return;
    };
    let table = support::table_name();
    let proxy = FaultProxy::start(&endpoint).await;
    // The deployed timeouts: what a caller waits at most.
    let timeouts = DynamoTimeouts::default();
    let bound = timeouts.operation + Duration::from_secs(2);
    let store = DynamoRoomStore::new(client(&timeouts, Some(&proxy.url())).await, &table);
    let dep = deployment(store, &table);
    // A call in progress before the faults; it must survive them.
    let room = support::fresh_room("faults");
    let first = join(&dep, &room).await;

    for (n, fault) in [
        Fault::Stopped,
        Fault::Hung,
        Fault::Slow(timeouts.operation + Duration::from_secs(1)),
        Fault::Throttling,
    ]
    .into_iter()
    .enumerate()
    {
        proxy.set(fault);
        for (route, path) in [
            (Route::Join, format!("/join/{room}")),
            (Route::Message, format!("/message/{room}/{first}")),
            (Route::Leave, format!("/leave/{room}/{first}")),
        ] {
            let started = Instant::now();
            let res = handle(&dep, route, request(route, &path)).await;
            let took = started.elapsed();
            assert!(took < bound, "{fault:?} {path}: took {took:?}");
            assert_unavailable(&res, &format!("{fault:?} {path}"));
            eprintln!("{fault:?} {path}: 503 after {took:?}");
        }
        // The table is back: the same deployment serves again, with nothing to restart.
        proxy.set(Fault::None);
        join(&dep, &support::fresh_room(&format!("faults-after-{n}"))).await;
    }

    // Slow, but within the attempt timeout: answered normally.
    proxy.set(Fault::Slow(Duration::from_millis(100)));
    let res = handle(
        &dep,
        Route::Message,
        request(Route::Message, &format!("/message/{room}/{first}")),
    )
    .await;
    assert_eq!(json(&res)["result"], "SUCCESS");
    proxy.set(Fault::None);

    // Nothing was lost or half-written: the first client is still the initiator, and the
    // joiner gets exactly the one saved message that was accepted.
    let res = handle(
        &dep,
        Route::Join,
        request(Route::Join, &format!("/join/{room}")),
    )
    .await;
    let v = json(&res);
    assert_eq!(v["result"], "SUCCESS", "{v}");
    assert_eq!(v["params"]["is_initiator"], "false");
    assert_eq!(
        v["params"]["messages"],
        serde_json::json!([r#"{"type":"offer","sdp":"x"}"#])
    );
}
