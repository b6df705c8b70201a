//! A DynamoDB that cannot be reached: every use case answers a 503 with a JSON error within a
//! bounded time (explicit SDK timeouts and retries), and nothing panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_http::Body;
use room::adapters::dynamo::{DynamoRoomStore, DynamoTimeouts, client};
use room::adapters::lambda::{DeployConfig, Deployment, Route, handle};
use room::testing::FakeConnections;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A loopback port with nothing listening (bound, then released).
fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_unreachable_table_is_a_503_json_error_within_a_bounded_time() {
    // The SDK needs a region and credentials to sign; the endpoint is dead either way.
    let timeouts = DynamoTimeouts::default();
    let bound = timeouts.operation * 2 + Duration::from_secs(1);
    let store = DynamoRoomStore::new(client(&timeouts, Some(&dead_endpoint())).await, "t");
    let config =
        DeployConfig::from_lookup(|k| (k == "TABLE_NAME").then(|| "t".to_owned())).unwrap();
    let dep = Deployment::new(
        config,
        Arc::new(store),
        Arc::new(FakeConnections::default()),
    );
    for (route, path) in [
        (Route::Join, "/join/r"),
        (Route::Message, "/message/r/c"),
        (Route::Leave, "/leave/r/c"),
    ] {
        let mut req = http::Request::builder()
            .method("POST")
            .uri(path)
            .header("host", "h")
            .body(Body::Empty)
            .unwrap();
        if route == Route::Message {
            *req.body_mut() = Body::from(r#"{"type":"offer","sdp":"x"}"#);
        }
        let started = Instant::now();
        let res = handle(&dep, route, req).await;
        assert!(
            started.elapsed() < bound,
            "{path} took {:?}",
            started.elapsed()
        );
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.headers()["retry-after"], "1");
        let v: serde_json::Value = serde_json::from_slice(res.body().as_ref()).unwrap();
        assert_eq!(v["result"], "ERROR");
        assert!(v["error"].as_str().unwrap().contains("unavailable"));
    }
}
