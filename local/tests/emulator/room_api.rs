//! The room server API as a client sees it (docs/protocol.md §7.1 cases 1–32) and the ICE
//! endpoint (§7.4 cases 73–78), against a running `apprtc-local` over real sockets. Where the
//! protocol document marks an improvement over the original, the improved behaviour is expected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use base64::Engine as _;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const M1: &str = r#"{"type":"offer","sdp":"x"}"#;
const M2: &str = r#"{"type":"candidate","label":0,"id":"0","candidate":"c1"}"#;
const M3: &str = r#"{"type":"candidate","label":0,"id":"0","candidate":"c2"}"#;

/// `POST /message/<room>/<client>`, asserting HTTP 200; the parsed answer.
async fn post_message(s: &TestServer, room: &str, client: &str, body: &str) -> Value {
    let r = s
        .post(&format!("/message/{room}/{client}"), body.to_owned())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// `POST /leave/<room>/<client>`, asserting HTTP 200; the parsed answer.
async fn leave_ok(s: &TestServer, room: &str, client: &str) -> Value {
    let r = s.leave(room, client).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// A join's `params`, asserting SUCCESS.
async fn joined(s: &TestServer, path: &str) -> Value {
    let r = s.post(path, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["result"], "SUCCESS", "{v}");
    v["params"].clone()
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string: {v}"))
}

/// A string field whose content is JSON text, parsed.
fn json_field(v: &Value, key: &str) -> Value {
    let text = str_field(v, key);
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn full() -> Value {
    json!({"result": "FULL", "params": {"messages": []}})
}

// ---- docs/protocol.md §7.1 room server ----------------------------------------------------------

#[tokio::test]
async fn fresh_join_makes_the_initiator_with_no_messages() {
    let s = TestServer::start().await;
    let p = joined(&s, "/join/t1").await;
    assert_eq!(p["room_id"], "t1");
    assert_eq!(p["is_initiator"], json!("true"));
    assert_eq!(p["messages"], json!([]));
    let id = str_field(&p, "client_id");
    assert!(is_id(id), "client id {id:?}");
}

#[tokio::test]
async fn join_params_have_the_types_clients_parse() {
    let s = TestServer::start().await;
    let p = joined(&s, "/join/t1").await;
    for key in [
        "pc_config",
        "pc_constraints",
        "offer_options",
        "media_constraints",
        "version_info",
    ] {
        json_field(&p, key);
    }
    assert!(json_field(&p, "pc_config")["iceServers"].is_array(), "{p}");
    let wss = str_field(&p, "wss_url");
    assert!(
        wss.starts_with("ws://") || wss.starts_with("wss://"),
        "{wss}"
    );
    let post = str_field(&p, "wss_post_url");
    assert!(post.starts_with("http") && !post.ends_with('/'), "{post}");
    for key in [
        "ice_server_url",
        "ice_server_transports",
        "is_loopback",
        "bypass_join_confirmation",
    ] {
        str_field(&p, key);
    }
    assert!(p["error_messages"].is_array(), "{p}");
    assert!(p["warning_messages"].is_array(), "{p}");
}

#[tokio::test]
async fn second_join_is_not_initiator_and_gets_another_id() {
    let s = TestServer::start().await;
    let a = joined(&s, "/join/t1").await;
    let b = joined(&s, "/join/t1").await;
    assert_eq!(b["is_initiator"], json!("false"));
    assert_eq!(b["messages"], json!([]));
    assert_ne!(a["client_id"], b["client_id"]);
}

#[tokio::test]
async fn third_join_gets_full() {
    let s = TestServer::start().await;
    s.join_two("t1").await;
    assert_eq!(s.join("t1").await, full());
}

#[tokio::test]
async fn saved_messages_are_handed_to_the_joiner_once_in_order() {
    let s = TestServer::start().await;
    let a = s.join_id("t2").await;
    for m in [M1, M2, M3] {
        assert_eq!(
            post_message(&s, "t2", &a, m).await,
            json!({"result": "SUCCESS"})
        );
    }
    let b = joined(&s, "/join/t2").await;
    assert_eq!(b["messages"], json!([M1, M2, M3]));

    // Case 6: the list was cleared when B took it.
    leave_ok(&s, "t2", str_field(&b, "client_id")).await;
    let c = joined(&s, "/join/t2").await;
    assert_eq!(c["is_initiator"], json!("false"));
    assert_eq!(c["messages"], json!([]));
}

#[tokio::test]
async fn survivor_becomes_initiator_and_its_messages_are_saved() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("t3").await;
    leave_ok(&s, "t3", &a).await;
    assert_eq!(post_message(&s, "t3", &b, M1).await["result"], "SUCCESS");
    let c = joined(&s, "/join/t3").await;
    assert_eq!(c["is_initiator"], json!("false"));
    assert_eq!(c["messages"], json!([M1]));
}

#[tokio::test]
async fn emptied_room_starts_over() {
    let s = TestServer::start().await;
    let (a, b) = s.join_two("t4").await;
    leave_ok(&s, "t4", &a).await;
    leave_ok(&s, "t4", &b).await;
    let d = joined(&s, "/join/t4").await;
    assert_eq!(d["is_initiator"], json!("true"));
}

#[tokio::test]
async fn message_from_unknown_client_is_refused() {
    let s = TestServer::start().await;
    s.join_id("t5").await;
    assert_eq!(
        post_message(&s, "t5", "99999999", M1).await,
        json!({"result": "UNKNOWN_CLIENT"})
    );
}

#[tokio::test]
async fn message_to_unknown_room_is_refused() {
    let s = TestServer::start().await;
    assert_eq!(
        post_message(&s, "nosuchroom", "12345678", M1).await,
        json!({"result": "UNKNOWN_ROOM"})
    );
}

#[tokio::test]
async fn leave_of_unknown_room_answers_200_unknown_room() {
    let s = TestServer::start().await;
    assert_eq!(
        leave_ok(&s, "nosuchroom", "12345678").await,
        json!({"result": "UNKNOWN_ROOM"})
    );
}

#[tokio::test]
async fn leave_of_unknown_client_changes_nothing() {
    let s = TestServer::start().await;
    s.join_two("t6").await;
    assert_eq!(
        leave_ok(&s, "t6", "00000000").await,
        json!({"result": "UNKNOWN_CLIENT"})
    );
    assert_eq!(s.join("t6").await, full());
}

#[tokio::test]
async fn double_leave_answers_200_twice() {
    let s = TestServer::start().await;
    let a = s.join_id("t7").await;
    assert_eq!(leave_ok(&s, "t7", &a).await, json!({"result": "SUCCESS"}));
    assert_eq!(
        leave_ok(&s, "t7", &a).await,
        json!({"result": "UNKNOWN_ROOM"})
    );
    assert_eq!(joined(&s, "/join/t7").await["is_initiator"], "true");
}

#[tokio::test]
async fn invalid_room_ids_are_404_and_create_nothing() {
    let s = TestServer::start().await;
    for path in [
        "/join/a.b",
        "/join/a%20b",
        "/join/%C3%A4",
        "/join/",
        "/join/abc/",
        "/join/abc/def",
    ] {
        let r = s.post(path, "").await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    for room in ["a", "abc"] {
        let p = joined(&s, &format!("/join/{room}")).await;
        assert_eq!(p["is_initiator"], "true", "{room}");
    }
}

#[tokio::test]
async fn every_id_character_is_accepted_and_paths_are_decoded() {
    let s = TestServer::start().await;
    assert_eq!(joined(&s, "/join/Az09-_").await["room_id"], "Az09-_");
    // Routes match the decoded path: `%2D` is `-`, so this is the room `ab-c`.
    assert_eq!(joined(&s, "/join/ab%2Dc").await["room_id"], "ab-c");
    assert_eq!(joined(&s, "/join/ab-c").await["is_initiator"], "false");
}

#[tokio::test]
async fn room_ids_are_case_sensitive() {
    let s = TestServer::start().await;
    assert_eq!(joined(&s, "/join/CaseRoom").await["is_initiator"], "true");
    assert_eq!(joined(&s, "/join/caseroom").await["is_initiator"], "true");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let s = TestServer::start().await;
    for path in ["/join/t8", "/message/t8/1", "/leave/t8/1"] {
        let r = s.get(path).await;
        assert_eq!(r.status, 405, "GET {path}");
        assert_eq!(r.header("allow"), Some("POST"), "GET {path}");
    }
    let r = s.post("/r/t8", "").await;
    assert_eq!(r.status, 405, "POST /r/t8");
    assert_eq!(r.header("allow"), Some("GET"));
}

#[tokio::test]
async fn loopback_join_fills_the_room_until_the_member_leaves() {
    let s = TestServer::start().await;
    let p = joined(&s, "/join/t9?debug=loopback").await;
    assert_eq!(p["is_initiator"], json!("true"));
    assert_eq!(p["is_loopback"], json!("true"));
    let optional = json_field(&p, "pc_constraints")["optional"].clone();
    assert!(
        optional
            .as_array()
            .expect("optional is an array")
            .contains(&json!({"DtlsSrtpKeyAgreement": false})),
        "{optional}"
    );
    assert_eq!(s.join("t9").await, full());
    leave_ok(&s, "t9", str_field(&p, "client_id")).await;
    assert_eq!(joined(&s, "/join/t9").await["is_initiator"], "true");
}

#[tokio::test]
async fn loopback_message_is_relayed_to_the_loopback_socket() {
    let s = TestServer::start().await;
    let p = joined(&s, "/join/t9?debug=loopback").await;
    let a = str_field(&p, "client_id");
    let mut lb = s.ws_registered("t9", "loopback_client_id").await;
    assert_eq!(post_message(&s, "t9", a, M1).await["result"], "SUCCESS");
    assert_eq!(lb.recv().await, json!({"msg": M1, "error": ""}));
}

#[tokio::test]
async fn wshpp_is_honoured_only_from_the_allow_list() {
    let s = TestServer::start_with(&["--wshpp-allow", "h.example:8089"]).await;
    let p = joined(&s, "/join/t10?wshpp=h.example:8089&wstls=false").await;
    assert_eq!(p["wss_url"], "ws://h.example:8089/ws");
    assert_eq!(p["wss_post_url"], "http://h.example:8089");
    for (i, query) in ["wshpp=h.example:8089&wstls=true", "wshpp=h.example:8089"]
        .iter()
        .enumerate()
    {
        let p = joined(&s, &format!("/join/t10-{i}?{query}")).await;
        assert_eq!(p["wss_url"], "wss://h.example:8089/ws", "{query}");
        assert_eq!(p["wss_post_url"], "https://h.example:8089", "{query}");
    }

    let own = joined(&s, "/join/t10-own").await;
    let ignored = joined(&s, "/join/t10-evil?wshpp=evil.example:8089&wstls=false").await;
    assert_eq!(ignored["wss_url"], own["wss_url"]);
    assert_eq!(ignored["wss_post_url"], own["wss_post_url"]);
    for key in ["wss_url", "wss_post_url"] {
        assert!(!str_field(&ignored, key).contains("evil"), "{ignored}");
    }
}

#[tokio::test]
async fn ts_sets_or_disables_the_ice_server_url() {
    let s = TestServer::start().await;
    let p = joined(&s, "/join/t11?ts=https://ice.example").await;
    let url = str_field(&p, "ice_server_url");
    assert!(
        url.starts_with("https://ice.example/v1alpha/iceconfig?key="),
        "{url}"
    );
    let p = joined(&s, "/join/t11b?ts=").await;
    assert_eq!(p["ice_server_url"], "");
}

#[tokio::test]
async fn it_and_tt_reach_pc_config_and_transports() {
    let s = TestServer::start().await;
    let p = joined(&s, "/join/t12?it=relay&tt=tcp").await;
    assert_eq!(json_field(&p, "pc_config")["iceTransports"], "relay");
    assert_eq!(p["ice_server_transports"], "tcp");
}

#[tokio::test]
async fn audio_video_and_hd_shape_media_constraints() {
    let s = TestServer::start().await;
    let p = joined(&s, "/join/t13?audio=false&video=true").await;
    assert_eq!(
        json_field(&p, "media_constraints"),
        json!({"audio": false, "video": true})
    );
    let p = joined(&s, "/join/t13b?hd=true").await;
    let mandatory = json_field(&p, "media_constraints")["video"]["mandatory"].clone();
    assert_eq!(mandatory["minWidth"], "1280", "{mandatory}");
    assert_eq!(mandatory["minHeight"], "720", "{mandatory}");
}

#[tokio::test]
async fn params_has_room_independent_keys_only() {
    let s = TestServer::start().await;
    let r = s.get("/params").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    for key in ["ice_server_url", "wss_url", "wss_post_url", "pc_config"] {
        str_field(&v, key);
    }
    for key in ["client_id", "room_id", "is_initiator"] {
        assert!(v.get(key).is_none(), "{key} in {v}");
    }
}

#[tokio::test]
async fn room_page_carries_the_room_until_it_is_full() {
    let s = TestServer::start().await;
    let page = s.get("/r/t14").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("loadingParams"), "{}", page.body);
    assert!(page.body.contains(r#""roomId":"t14""#), "{}", page.body);
    assert!(page.body.contains(r#""wssUrl":"#), "{}", page.body);
    assert!(!page.body.contains("Room full"), "{}", page.body);

    s.join_two("t14").await;
    let page = s.get("/r/t14").await;
    assert_eq!(page.status, 200);
    let title = page
        .body
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t)
        .unwrap_or_else(|| panic!("no title: {}", page.body));
    assert!(title.contains("Room full"), "{title}");
}

/// Posts each body for a lone member, expecting `ERROR`; the joiner then gets no messages.
async fn refused_bodies_are_not_saved(room: &str, bodies: &[String]) {
    let s = TestServer::start().await;
    let a = s.join_id(room).await;
    for body in bodies {
        let v = post_message(&s, room, &a, body).await;
        assert_eq!(v["result"], "ERROR", "{body:.60}: {v}");
    }
    assert_eq!(
        joined(&s, &format!("/join/{room}")).await["messages"],
        json!([])
    );
}

#[tokio::test]
async fn empty_message_is_an_error_and_not_saved() {
    refused_bodies_are_not_saved("t15", &[String::new()]).await;
}

#[tokio::test]
async fn non_json_or_unknown_type_message_is_an_error_and_not_saved() {
    refused_bodies_are_not_saved("t16", &["hello".to_owned(), r#"{"type":"foo"}"#.to_owned()])
        .await;
}

#[tokio::test]
async fn message_over_the_size_cap_is_an_error_and_not_saved() {
    let mut body = String::from(r#"{"type":"offer","sdp":""#);
    body.push_str(&"x".repeat(1024 * 1024 - body.len() - 2));
    body.push_str("\"}");
    assert_eq!(body.len(), 1024 * 1024);
    serde_json::from_str::<Value>(&body).expect("valid JSON");
    refused_bodies_are_not_saved("t20", &[body]).await;
}

#[tokio::test]
async fn non_ascii_message_is_saved_byte_identical() {
    let s = TestServer::start().await;
    let a = s.join_id("t17").await;
    let body = r#"{"type":"offer","sdp":"é"}"#;
    assert_eq!(
        post_message(&s, "t17", &a, body).await,
        json!({"result": "SUCCESS"})
    );
    let b = joined(&s, "/join/t17").await;
    assert_eq!(b["messages"][0].as_str(), Some(body));
}

#[tokio::test]
async fn requests_without_user_agent_succeed() {
    let s = TestServer::start().await;
    let r = s.request_without_user_agent("POST", "/join/t18").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"], "SUCCESS");
    for path in ["/", "/r/t18", "/params"] {
        let r = s.request_without_user_agent("GET", path).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    }
}

#[tokio::test]
async fn same_room_through_two_host_names_is_one_room() {
    let s = TestServer::start().await;
    let a = s
        .request("POST", "/join/t19", "", &[("host", "a.example")])
        .await
        .json();
    let b = s
        .request("POST", "/join/t19", "", &[("host", "b.example")])
        .await
        .json();
    assert_eq!(a["params"]["is_initiator"], "true", "{a}");
    // The Host header did reach the server: the announced URLs follow it.
    assert_eq!(a["params"]["wss_url"], "ws://a.example/ws", "{a}");
    assert_eq!(b["params"]["wss_url"], "ws://b.example/ws", "{b}");
    assert_eq!(b["result"], "SUCCESS", "{b}");
    assert_eq!(b["params"]["is_initiator"], "false", "{b}");
}

#[tokio::test]
async fn client_ids_are_long_random_and_distinct() {
    let s = TestServer::start().await;
    let mut seen = HashSet::new();
    for i in 0..1000 {
        let id = s.join_id(&format!("e{i}")).await;
        assert!(id.len() >= 22 && is_id(&id), "{id:?}");
        assert!(seen.insert(id.clone()), "{id} issued twice");
    }
}

// ---- docs/protocol.md §7.4 ICE endpoint ---------------------------------------------------------

const SECRET: &str = "ice-test-secret";
const TTL_SECS: u64 = 3600;
const TURN_UDP: &str = "turn:turn.example:3478?transport=udp";
const TURN_TCP: &str = "turn:turn.example:3478?transport=tcp";
const STUN: &str = "stun:turn.example:3478";

async fn ice_server() -> TestServer {
    TestServer::start_with(&[
        "--stun-urls",
        STUN,
        "--turn-urls",
        &format!("{TURN_UDP},{TURN_TCP}"),
        "--turn-secret",
        SECRET,
        "--turn-ttl",
        &format!("{TTL_SECS}s"),
    ])
    .await
}

/// The path (with query) of the `ice_server_url` a join announces; it must be on this server.
async fn ice_path(s: &TestServer) -> String {
    let p = joined(s, "/join/ice").await;
    let url = str_field(&p, "ice_server_url");
    url.strip_prefix(&s.base)
        .unwrap_or_else(|| panic!("ice_server_url {url} is not on {}", s.base))
        .to_owned()
}

fn is_turn(url: &str) -> bool {
    url.starts_with("turn:") || url.starts_with("turns:")
}

/// Asserts the shape of docs/protocol.md §4.2 and returns the `iceServers` entries.
fn ice_servers(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let servers = v["iceServers"]
        .as_array()
        .unwrap_or_else(|| panic!("iceServers is not an array: {v}"))
        .clone();
    for s in &servers {
        let urls = s["urls"]
            .as_array()
            .unwrap_or_else(|| panic!("urls is not an array: {s}"));
        assert!(!urls.is_empty(), "empty urls: {s}");
        assert!(urls.iter().all(Value::is_string), "{s}");
        if urls.iter().any(|u| u.as_str().is_some_and(is_turn)) {
            assert!(s["username"].is_string(), "{s}");
            assert!(s["credential"].is_string(), "{s}");
        }
    }
    servers
}

fn all_urls(servers: &[Value]) -> Vec<String> {
    servers
        .iter()
        .flat_map(|s| s["urls"].as_array().cloned().unwrap_or_default())
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn ice_post_and_get_return_urls_arrays_with_turn_credentials() {
    let s = ice_server().await;
    let path = ice_path(&s).await;
    for method in ["POST", "GET"] {
        let servers = ice_servers(&s.request(method, &path, "", &[]).await);
        let mut urls = all_urls(&servers);
        urls.sort();
        assert_eq!(urls, [STUN, TURN_TCP, TURN_UDP], "{method}");
    }
}

#[tokio::test]
async fn ice_turn_credentials_are_rest_api_hmacs() {
    let s = ice_server().await;
    let path = ice_path(&s).await;
    let servers = ice_servers(&s.post(&path, "").await);
    let expected_expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + TTL_SECS;
    let turn: Vec<&Value> = servers
        .iter()
        .filter(|e| all_urls(std::slice::from_ref(e)).iter().any(|u| is_turn(u)))
        .collect();
    assert!(!turn.is_empty(), "no TURN entry: {servers:?}");
    for entry in turn {
        let username = str_field(entry, "username");
        let (t, id) = username
            .split_once(':')
            .unwrap_or_else(|| panic!("username {username} has no ':'"));
        let t: u64 = t
            .parse()
            .unwrap_or_else(|_| panic!("expiry of {username} is not an integer"));
        assert!(t.abs_diff(expected_expiry) <= 5, "{t} vs {expected_expiry}");
        assert!(!id.contains(':'), "{username}");
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(username.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(str_field(entry, "credential"), expected, "{username}");
    }
}

#[tokio::test]
async fn ice_cors_allows_own_and_configured_origins_only() {
    let s = ice_server().await;
    let path = ice_path(&s).await;
    let own = s.request("POST", &path, "", &[("origin", &s.base)]).await;
    assert_eq!(own.status, 200);
    assert_eq!(
        own.header("access-control-allow-origin"),
        Some(s.base.as_str())
    );
    let other = s
        .request("POST", &path, "", &[("origin", "https://other.example")])
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.header("access-control-allow-origin"), None);

    let s = TestServer::start_with(&["--ice-cors-origins", "https://other.example"]).await;
    let path = ice_path(&s).await;
    let other = s
        .request("POST", &path, "", &[("origin", "https://other.example")])
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(
        other.header("access-control-allow-origin"),
        Some("https://other.example")
    );
    let evil = s
        .request("POST", &path, "", &[("origin", "https://evil.example")])
        .await;
    assert_eq!(evil.header("access-control-allow-origin"), None);

    let preflight = s
        .request(
            "OPTIONS",
            &path,
            "",
            &[
                ("origin", "https://other.example"),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    assert!(
        (200..300).contains(&preflight.status),
        "OPTIONS {}",
        preflight.status
    );
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://other.example")
    );
    let bare = s.request("OPTIONS", &path, "", &[]).await;
    assert!((200..300).contains(&bare.status), "OPTIONS {}", bare.status);
}

#[tokio::test]
async fn ice_with_nothing_configured_is_an_empty_list() {
    let s = TestServer::start().await;
    let path = ice_path(&s).await;
    for method in ["POST", "GET"] {
        let r = s.request(method, &path, "", &[]).await;
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(r.json(), json!({"iceServers": []}), "{method}");
    }
}

#[tokio::test]
async fn ice_answers_within_the_android_timeout() {
    let s = ice_server().await;
    let path = ice_path(&s).await;
    let started = Instant::now();
    ice_servers(&s.post(&path, "").await);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
