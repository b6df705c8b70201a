//! The Lambda glue, in process: requests built in memory and from API Gateway / function URL /
//! `cargo lambda watch` event fixtures, WebSocket events for the relay function.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::{Body, Request, RequestExt};
use room::adapters::lambda::{DeployConfig, Deployment, Route, handle, handle_websocket};
use room::adapters::memory::MemoryRoomStore;
use room::testing::FakeConnections;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

use crate::support::relay::{call, send};

fn deployment() -> (Deployment, Arc<FakeConnections>) {
    let config = DeployConfig::from_lookup(|k| match k {
        "TABLE_NAME" => Some("unused".into()),
        "STUN_URLS" => Some("stun:stun.example.org:3478".into()),
        _ => None,
    })
    .unwrap();
    let conns = Arc::new(FakeConnections::default());
    (
        Deployment::new(config, Arc::new(MemoryRoomStore::new()), conns.clone()),
        conns,
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn event(name: &str) -> Request {
    lambda_http::request::from_str(&fixture(name)).unwrap()
}

fn json(res: &lambda_http::Response<Body>) -> Value {
    serde_json::from_slice(res.body().as_ref()).unwrap()
}

/// A request without a body, as a browser on `h.example` sends it.
fn request(method: &str, path: &str) -> Request {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "h.example")
        .body(Body::Empty)
        .unwrap()
}

fn post(path: &str) -> Request {
    request("POST", path)
}

/// Joins through the join function at `path` and returns the new client's id.
async fn joined(dep: &Deployment, path: &str) -> String {
    let v = json(&handle(dep, Route::Join, post(path)).await);
    v["params"]["client_id"].as_str().unwrap().to_owned()
}

/// The deployment's SAM template.
fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap()
}

#[tokio::test]
async fn join_routes_under_http_api_function_url_and_cargo_lambda_watch() {
    let (dep, _) = deployment();
    let first = handle(&dep, Route::Join, event("apigw-v2-join.json")).await;
    assert_eq!(first.status(), 200);
    let v = json(&first);
    assert_eq!(v["result"], "SUCCESS");
    assert_eq!(v["params"]["room_id"], "fx-room");
    assert_eq!(v["params"]["is_initiator"], "true");
    let second = json(&handle(&dep, Route::Join, event("apigw-v2-join.json")).await);
    assert_eq!(second["params"]["is_initiator"], "false");
    let third = json(&handle(&dep, Route::Join, event("apigw-v2-join.json")).await);
    assert_eq!(
        third,
        serde_json::json!({"result": "FULL", "params": {"messages": []}})
    );

    let url = json(&handle(&dep, Route::Join, event("function-url-join.json")).await);
    assert_eq!(url["params"]["room_id"], "fx-url");
    assert!(
        url["params"]["room_link"]
            .as_str()
            .unwrap()
            .starts_with("https://xyz.lambda-url.us-east-1.on.aws/r/fx-url")
    );
    let watch = json(&handle(&dep, Route::Join, event("cargo-lambda-watch-join.json")).await);
    assert_eq!(watch["params"]["room_id"], "fx-watch");
    assert_eq!(
        watch["params"]["room_link"],
        "http://127.0.0.1:9000/r/fx-watch"
    );
}

#[tokio::test]
async fn query_parameters_come_from_the_event_not_the_uri() {
    let (dep, _) = deployment();
    let v = json(&handle(&dep, Route::Join, event("apigw-v2-join-loopback.json")).await);
    assert_eq!(v["params"]["is_loopback"], "true");
    let mut q = HashMap::new();
    q.insert("debug".to_owned(), "loopback".to_owned());
    let req = post("/join/mem-room").with_query_string_parameters(q);
    let v = json(&handle(&dep, Route::Join, req).await);
    assert_eq!(v["params"]["is_loopback"], "true");
    assert_eq!(
        json(&handle(&dep, Route::Join, post("/join/mem-room")).await)["result"],
        "FULL"
    );
}

#[tokio::test]
async fn hand_built_requests_route_with_and_without_prefixes() {
    let (dep, _) = deployment();
    for (path, room) in [
        ("/join/r1", "r1"),
        ("/r2", "r2"),
        ("/lambda-url/join/r3", "r3"),
        ("/join", "join"),
        ("/join/join", "join"),
    ] {
        let v = json(&handle(&dep, Route::Join, post(path)).await);
        assert_eq!(v["params"]["room_id"], room, "{path}");
    }
}

#[tokio::test]
async fn message_and_leave_through_fixtures_and_requests() {
    let (dep, _) = deployment();
    let a = joined(&dep, "/join/fx-msg").await;
    let fx = fixture("apigw-v2-message.json").replace("CLIENT", &a);
    let res = handle(
        &dep,
        Route::Message,
        lambda_http::request::from_str(&fx).unwrap(),
    )
    .await;
    assert_eq!(json(&res)["result"], "SUCCESS");
    let b = json(&handle(&dep, Route::Join, post("/join/fx-msg")).await);
    assert_eq!(
        b["params"]["messages"][0],
        r#"{"type":"offer","sdp":"v=0"}"#
    );
    let res = handle(&dep, Route::Message, post("/message/nosuchroom/12345678")).await;
    assert_eq!(json(&res)["result"], "ERROR", "empty body is refused first");
    let mut req = post("/message/nosuchroom/12345678");
    *req.body_mut() = Body::from(r#"{"type":"offer","sdp":"x"}"#);
    assert_eq!(
        json(&handle(&dep, Route::Message, req).await)["result"],
        "UNKNOWN_ROOM"
    );
    let left = handle(&dep, Route::Leave, post(&format!("/leave/fx-msg/{a}"))).await;
    assert_eq!(json(&left)["result"], "SUCCESS");
    let again = handle(&dep, Route::Leave, post(&format!("/leave/fx-msg/{a}"))).await;
    assert_eq!(json(&again)["result"], "UNKNOWN_CLIENT");
}

#[tokio::test]
async fn bad_ids_are_404_and_wrong_methods_405() {
    let (dep, _) = deployment();
    for path in [
        "/join/a.b",
        "/join/%C3%A4",
        "/join/a/b/c",
        "/lambda-url/join/x%2Fy",
    ] {
        assert_eq!(
            handle(&dep, Route::Join, post(path)).await.status(),
            404,
            "{path}"
        );
    }
    let res = handle(&dep, Route::Join, request("GET", "/join/x")).await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
}

#[tokio::test]
async fn iceconfig_answers_get_with_cors_for_its_own_origin_only() {
    let (dep, _) = deployment();
    let res = handle(&dep, Route::IceConfig, event("apigw-v2-iceconfig-get.json")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://abc123.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(
        json(&res)["iceServers"][0]["urls"][0],
        "stun:stun.example.org:3478"
    );
    let mut other = post("/v1alpha/iceconfig");
    other.headers_mut().insert(
        "origin",
        http::HeaderValue::from_static("https://evil.example"),
    );
    let res = handle(&dep, Route::IceConfig, other).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn websocket_events_drive_the_stored_relay() {
    let (dep, conns) = deployment();
    let a = joined(&dep, "/join/fx-ws").await;
    let b = joined(&dep, "/join/fx-ws").await;
    let ws = |name: &str, client: &str, conn: &str| -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_str(
            &fixture(name)
                .replace("CLIENT", client)
                .replace("CONN-A=", conn),
        )
        .unwrap()
    };
    conns.open("CONN-A=");
    conns.open("CONN-B=");
    let res = handle_websocket(&dep, ws("apigw-ws-register.json", &a, "CONN-A=")).await;
    assert_eq!(res.status_code, 200);
    handle_websocket(&dep, ws("apigw-ws-register.json", &b, "CONN-B=")).await;
    handle_websocket(&dep, ws("apigw-ws-send.json", &b, "CONN-B=")).await;
    let frames = conns.take("CONN-A=");
    assert_eq!(
        frames,
        vec![r#"{"msg":"{\"type\":\"answer\",\"sdp\":\"v=0\"}","error":""}"#.to_owned()]
    );
    // A frame whose invocation runs after its socket's `$disconnect` was still sent by the
    // socket: it reaches the peer, as it would through an in-order relay.
    handle_websocket(&dep, ws("apigw-ws-disconnect.json", &b, "CONN-B=")).await;
    handle_websocket(&dep, ws("apigw-ws-send.json", &b, "CONN-B=")).await;
    assert_eq!(conns.take("CONN-A=").len(), 1);
    assert!(conns.take("CONN-B=").is_empty(), "no error frame");
}

#[tokio::test]
async fn web_function_serves_pages_params_and_the_full_page() {
    let (dep, _) = deployment();
    let get = |path: &str| request("GET", path);
    let page = handle(&dep, Route::Page, get("/r/webroom")).await;
    assert_eq!(page.status(), 200);
    let html = String::from_utf8(page.body().to_vec()).unwrap();
    assert!(html.contains(r#""roomId":"webroom""#));
    handle(&dep, Route::Join, post("/join/webroom")).await;
    handle(&dep, Route::Join, post("/join/webroom")).await;
    let full = String::from_utf8(
        handle(&dep, Route::Page, get("/r/webroom"))
            .await
            .body()
            .to_vec(),
    )
    .unwrap();
    assert!(full.contains("Room full"));
    let params = json(&handle(&dep, Route::Page, get("/params")).await);
    assert!(
        params["ice_server_url"]
            .as_str()
            .unwrap()
            .starts_with("https://h.example/v1alpha/iceconfig")
    );
    let js = handle(&dep, Route::Page, get("/static/app.js")).await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        handle(&dep, Route::Page, get("/static/nope.js"))
            .await
            .status(),
        404
    );
    assert_eq!(handle(&dep, Route::Page, get("/nope")).await.status(), 404);
    assert_eq!(handle(&dep, Route::Page, post("/")).await.status(), 405);
}

#[tokio::test]
async fn path_parameters_win_over_a_stage_prefixed_path() {
    let (dep, _) = deployment();
    // An HTTP API on a named stage: rawPath carries the stage, the path parameter does not.
    let fx = fixture("apigw-v2-join.json")
        .replace("\"/join/fx-room\"", "\"/prod/join/fx-room\"")
        .replace("\"$default\"", "\"prod\"")
        .replace("\"room\": \"fx-room\"", "\"room\": \"fx-stage\"");
    let req = lambda_http::request::from_str(&fx).unwrap();
    let v = json(&handle(&dep, Route::Join, req).await);
    assert_eq!(v["result"], "SUCCESS");
    assert_eq!(v["params"]["room_id"], "fx-stage");
}

#[tokio::test]
async fn message_leave_and_iceconfig_refuse_other_methods() {
    let (dep, _) = deployment();
    for (route, path) in [
        (Route::Message, "/message/r1/12345678"),
        (Route::Leave, "/leave/r1/12345678"),
    ] {
        let res = handle(&dep, route, request("GET", path)).await;
        assert_eq!(res.status(), 405, "{path}");
        assert_eq!(res.headers()["allow"], "POST", "{path}");
    }
    let res = handle(
        &dep,
        Route::IceConfig,
        request("DELETE", "/v1alpha/iceconfig"),
    )
    .await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, POST, OPTIONS");
    let res = handle(
        &dep,
        Route::IceConfig,
        request("OPTIONS", "/v1alpha/iceconfig"),
    )
    .await;
    assert_eq!(res.status(), 204);
}

#[test]
fn aws_clients_trust_amazon_roots_unless_an_endpoint_is_overridden_or_told_otherwise() {
    use room::adapters::dynamo::TrustRoots;
    let roots = |vars: &[(&str, &str)]| {
        let vars: HashMap<String, String> = vars
            .iter()
            .chain(&[("TABLE_NAME", "t")])
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        DeployConfig::from_lookup(|k| vars.get(k).cloned()).map(|c| c.tls_roots)
    };
    assert_eq!(roots(&[]).unwrap(), TrustRoots::Aws);
    assert_eq!(
        roots(&[("AWS_ENDPOINT_URL_DYNAMODB", "https://ddb.internal:8000")]).unwrap(),
        TrustRoots::Native
    );
    assert_eq!(
        roots(&[("TLS_ROOTS", "native")]).unwrap(),
        TrustRoots::Native
    );
    assert_eq!(
        roots(&[("TLS_ROOTS", "aws"), ("AWS_ENDPOINT_URL", "https://x")]).unwrap(),
        TrustRoots::Aws
    );
    let e = roots(&[("TLS_ROOTS", "mozilla")]).unwrap_err();
    assert_eq!(e.name, "TLS_ROOTS");
    assert!(e.reason.contains("mozilla"), "{e}");
}

#[test]
fn the_deployed_message_limit_fits_api_gateway_frames() {
    use room::config::{API_GATEWAY_MAX_MESSAGE_BYTES, DEPLOYED_MESSAGE_BYTES};
    let limit = |v: Option<&str>| {
        DeployConfig::from_lookup(|k| match k {
            "TABLE_NAME" => Some("t".to_owned()),
            "MAX_MESSAGE_BYTES" => v.map(str::to_owned),
            _ => None,
        })
        .map(|c| c.settings.limits.max_message_bytes)
    };
    assert_eq!(limit(None).unwrap(), DEPLOYED_MESSAGE_BYTES);
    // The largest message whose `send` frame fits API Gateway's 32 KB frame, unescaped.
    let frame = send(&"x".repeat(API_GATEWAY_MAX_MESSAGE_BYTES));
    assert_eq!(frame.len(), 32 * 1024);
    assert_eq!(limit(Some("32745")).unwrap(), 32745);
    let e = limit(Some("65536")).unwrap_err();
    assert_eq!(e.name, "MAX_MESSAGE_BYTES");
    assert!(e.reason.contains("32 KB"), "{e}");
    let template = template();
    assert!(template.contains(&format!("MaxValue: {API_GATEWAY_MAX_MESSAGE_BYTES}")));
    assert!(template.contains(&format!("Default: {DEPLOYED_MESSAGE_BYTES}")));
}

/// The keep-alive function's stream event: a queue handed off (posts to the peer failed until the
/// sender's invocation was nearly out of time) is delivered by the record the table's stream
/// passes on, its key read back into the room and member; a record of another item is ignored.
/// The template's event source mapping filters on the attribute the hand-off sets.
#[tokio::test]
async fn a_stream_record_of_a_handed_off_queue_delivers_it() {
    use room::adapters::dynamo::{HANDED_OFF, queue_item_key};
    use room::adapters::lambda::handle_keepalive;
    use room::{ClientId, RoomId};
    let (dep, conns) = deployment();
    let r = RoomId::parse("stream1").unwrap();
    let (a, _) = call(&dep.service, &dep.relay, &conns, "stream1").await;
    conns.fail_posts("cb", true);
    let offer = send(r#"{"type":"offer","sdp":"x"}"#);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    room::retry::within(deadline, dep.relay.on_frame(&"ca".into(), &offer)).await;
    assert!(conns.take("ca").is_empty(), "no error frame");
    assert!(conns.take("cb").is_empty());
    conns.fail_posts("cb", false);
    let a = ClientId::parse(&a).unwrap();
    let record = |key: String| {
        serde_json::json!({
            "eventID": "1",
            "eventName": "MODIFY",
            "eventSource": "aws:dynamodb",
            "dynamodb": {
                "Keys": {"pk": {"S": key}},
                "NewImage": {"pk": {"S": key}, HANDED_OFF: {"N": "7"}},
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        })
    };
    let batch = serde_json::json!({"Records": [
        record("ROOM#stream1".to_owned()),
        record(queue_item_key(&r, &a)),
    ]});
    handle_keepalive(&dep, &batch).await.unwrap();
    let got = conns.take("cb");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("offer"), "{got:?}");
    handle_keepalive(&dep, &batch).await.unwrap();
    assert!(
        conns.take("cb").is_empty(),
        "a record delivered twice posts nothing twice"
    );
    let template = template();
    assert!(template.contains("StreamViewType: NEW_AND_OLD_IMAGES"));
    assert!(
        template.contains(&format!(
            r#""NewImage":{{"{HANDED_OFF}":{{"N":[{{"exists":true}}]}}}}"#
        )),
        "the stream filter names the hand-off attribute"
    );
}
