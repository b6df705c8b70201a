//! Entry points for the fuzz targets (`fuzz/`) and for the test that replays their committed
//! corpus: each takes arbitrary bytes and must neither panic nor accept what the protocol refuses.

use crate::domain::ids::{ClientId, RoomId};
use crate::domain::message::SignalingMessage;
use crate::domain::message::{self, ClientFrame, ServerFrame};

/// Relay frame decoding: any text either decodes or is an error; a decoded register carries
/// non-empty ids, a decoded send a non-empty message; encoding any message gives valid JSON.
pub fn relay_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match message::decode(text) {
        Ok(ClientFrame::Register { room, client }) => {
            assert!(!room.is_empty() && !client.is_empty())
        }
        Ok(ClientFrame::Send { msg }) => {
            assert!(!msg.is_empty());
            let out = ServerFrame::Message(&msg).encode();
            let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
            assert_eq!(v["msg"].as_str(), Some(msg.as_str()));
        }
        Ok(ClientFrame::Unknown) | Err(_) => {}
    }
}

/// Signaling message validation: accepted messages keep their exact text and are JSON objects.
pub fn signaling_message(data: &[u8]) {
    if let Ok(m) = SignalingMessage::from_bytes(data, 64 * 1024) {
        assert_eq!(m.as_str().as_bytes(), data);
        // An object; its values are opaque (a number like 3e4230 is valid JSON, if not an f64).
        let object: Result<std::collections::HashMap<String, serde::de::IgnoredAny>, _> =
            serde_json::from_str(m.as_str());
        assert!(
            object.is_ok(),
            "accepted a message that is not a JSON object"
        );
    }
}

/// Id and path parsing: accepted ids are 1..=128 characters of `[A-Za-z0-9_-]`; path segments
/// never contain a `/` after decoding a whole path.
pub fn ids_and_paths(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for id in [
        RoomId::parse(text).map(|r| r.to_string()),
        ClientId::parse(text).map(|c| c.to_string()),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!id.is_empty() && id.len() <= 128);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
    }
    if let Ok(segs) = crate::http::path_segments(text) {
        assert!(
            segs.iter().all(|s| !s.contains('/')) || text.contains("%2F") || text.contains("%2f")
        );
    }
    let _ = crate::http::parse_query(text);
}

/// Lambda event glue: any bytes as an API Gateway or function URL event either fail to parse or
/// route to an answer (never a panic), for every HTTP function.
#[cfg(feature = "lambda")]
pub fn lambda_event(data: &[u8]) {
    use crate::adapters::lambda::{DeployConfig, Deployment, Route, handle};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // lambda_http 1.3 panics while converting an event whose `host` or `x-forwarded-proto` does
    // not form a URL (`Url::parse(..).unwrap()` in `build_request_uri`). The deployed runtime
    // catches that panic (`lambda_runtime`'s panic layer) and fails the one invocation; mirror
    // that here, so what is fuzzed is our handling of every event the glue can convert.
    let Some(Ok(req)) = converted(text) else {
        return;
    };
    let Ok(config) = DeployConfig::from_lookup(|k| (k == "TABLE_NAME").then(|| "fuzz".to_owned()))
    else {
        return;
    };
    let store = std::sync::Arc::new(crate::adapters::memory::MemoryRoomStore::new());
    let dep = Deployment::new(
        config,
        store,
        std::sync::Arc::new(crate::adapters::lambda::NoConnections),
    );
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    for route in [
        Route::Join,
        Route::Message,
        Route::Leave,
        Route::IceConfig,
        Route::Collider,
        Route::Page,
    ] {
        let (parts, body) = clone_request(&req);
        let res = rt.block_on(handle(&dep, route, http::Request::from_parts(parts, body)));
        assert!(res.status().as_u16() >= 200);
    }
}

/// `lambda_http::request::from_str`, with a panic inside it reported as `None` (and silenced:
/// libFuzzer's panic hook would abort).
#[cfg(feature = "lambda")]
fn converted(text: &str) -> Option<Result<lambda_http::Request, serde_json::Error>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = std::panic::catch_unwind(|| lambda_http::request::from_str(text)).ok();
    std::panic::set_hook(hook);
    out
}

#[cfg(feature = "lambda")]
fn clone_request(req: &lambda_http::Request) -> (http::request::Parts, lambda_http::Body) {
    let mut builder = http::Request::builder()
        .method(req.method())
        .uri(req.uri())
        .version(req.version());
    for (k, v) in req.headers() {
        builder = builder.header(k, v);
    }
    let (mut parts, ()) = builder.body(()).unwrap_or_default().into_parts();
    parts.extensions = req.extensions().clone();
    (parts, req.body().clone())
}

/// Without the Lambda glue there is nothing to fuzz here.
#[cfg(not(feature = "lambda"))]
pub fn lambda_event(_: &[u8]) {}
