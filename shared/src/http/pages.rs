//! HTML pages: the room page carries the parameters the web client reads (`loadingParams`,
//! docs/protocol.md §2.6), JSON-encoded so no query parameter can inject script
//! (docs/protocol.md §8 item 16). [`serve_page`] routes every page and file of the web client,
//! for every host.

use crate::config::Settings;
use crate::domain::ids::RoomId;
use crate::http::{
    ApiError, HttpResponse, error_response, html_response, no_sniffing, params_response,
    path_segments, respond,
};
use crate::service::params::{RequestContext, room_link, room_params};
use crate::service::rooms::RoomService;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

/// The web client's script, served at `/static/app.js` (vanilla JS, no build step).
pub const APP_JS: &str = include_str!("../../web/app.js");
/// The web client's style sheet, served at `/static/app.css`.
const APP_CSS: &str = include_str!("../../web/app.css");

/// A file of the web client, served at `/static/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticFile {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its contents.
    pub body: &'static str,
    /// A hash of the contents, taken when the binary is built.
    tag: u64,
}

impl StaticFile {
    const fn new(content_type: &'static str, body: &'static str) -> Self {
        Self {
            content_type,
            body,
            tag: fnv1a(body.as_bytes()),
        }
    }

    /// Its entity tag (quoted): changes whenever the contents do.
    pub fn etag(&self) -> String {
        format!("\"{:016x}\"", self.tag)
    }
}

/// FNV-1a (64 bits), in a `const fn` so that each file's tag is computed at build time. It only
/// has to tell one build's file from another's; it is not a defence against anyone.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

const STATIC_FILES: [(&str, StaticFile); 2] = [
    (
        "app.js",
        StaticFile::new("text/javascript; charset=utf-8", APP_JS),
    ),
    (
        "app.css",
        StaticFile::new("text/css; charset=utf-8", APP_CSS),
    ),
];

/// A file of the web client by its name under `/static/`.
fn static_asset(name: &str) -> Option<&'static StaticFile> {
    STATIC_FILES
        .iter()
        .find_map(|(n, f)| (*n == name).then_some(f))
}

/// A request for a page or a file of the web client, as every host sees it.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    /// Its method.
    pub method: &'a Method,
    /// Its path as requested (percent-encoded), without any prefix of the host's own.
    pub path: &'a str,
    /// Its `If-None-Match` header, if any.
    pub if_none_match: Option<&'a str>,
    /// Scheme, host, query and `User-Agent`.
    pub ctx: &'a RequestContext,
}

impl<'a> PageRequest<'a> {
    /// A request for `path` (after the host's own prefix), with the headers the router reads.
    pub fn new(
        method: &'a Method,
        path: &'a str,
        headers: &'a HeaderMap,
        ctx: &'a RequestContext,
    ) -> Self {
        let if_none_match = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok());
        Self {
            method,
            path,
            if_none_match,
            ctx,
        }
    }
}

/// What a page path names.
enum Page {
    /// `/`: choose a room.
    Landing,
    /// `/r/<room>`: the room page, or the "room full" page.
    Room(RoomId),
    /// `/params`: the room parameters (docs/protocol.md §2.7).
    Params,
    /// `/static/<file>`: a file of the web client.
    Static(&'static StaticFile),
}

impl Page {
    fn of(path: &str) -> Result<Self, ApiError> {
        let segs = path_segments(path)?;
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match segs.as_slice() {
            [""] => Ok(Self::Landing),
            ["params"] => Ok(Self::Params),
            ["r", room] => RoomId::parse(room)
                .map(Self::Room)
                .map_err(|e| ApiError::invalid_id("room", e)),
            ["static", file] => static_asset(file)
                .map(Self::Static)
                .ok_or_else(|| ApiError::NotFound("no such file".to_owned())),
            _ => Err(ApiError::NotFound("no such page".to_owned())),
        }
    }
}

/// The one router of the pages (`/`, `/r/<room>`, `/params`) and the web client's files
/// (`/static/<file>`), mounted by the `web` function and by the emulator alike: every status,
/// type and caching header of theirs is decided here. `HEAD` is answered as `GET` (the transport
/// drops the body); another method is 405; a path that is none of these is 404. Pages are built
/// per request (`no-store`); files are revalidated ([`static_response`]).
pub async fn serve_page(
    req: &PageRequest<'_>,
    settings: &Settings,
    service: &RoomService,
) -> HttpResponse {
    page_answer(req, settings, service)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

async fn page_answer(
    req: &PageRequest<'_>,
    settings: &Settings,
    service: &RoomService,
) -> Result<HttpResponse, ApiError> {
    if req.method != Method::GET && req.method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed { allow: "GET" });
    }
    Ok(match Page::of(req.path)? {
        Page::Landing => html_response(room_page(req.ctx, settings, None)),
        Page::Params => params_response(req.ctx, settings),
        Page::Static(file) => static_response(file, req.if_none_match),
        Page::Room(room) if service.is_full(&room).await? => html_response(full_page(&room)),
        Page::Room(room) => html_response(room_page(req.ctx, settings, Some(&room))),
    })
}

/// A file of the web client (`GET /static/<file>`). The files are built into the binary and
/// change only with it, so the browser may keep them but must revalidate (`no-cache` + `ETag`):
/// a new build is picked up on the next page load without a versioned URL, and an unchanged
/// file costs a 304 with no body.
pub fn static_response(file: &StaticFile, if_none_match: Option<&str>) -> HttpResponse {
    let etag = file.etag();
    // Weak comparison (RFC 9110 §13.1.2): `W/"x"` matches `"x"`.
    let fresh = if_none_match.is_some_and(|v| {
        v.split(',')
            .map(|t| t.trim())
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
    });
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, String::new())
    } else {
        (StatusCode::OK, file.body.to_owned())
    };
    let mut res = respond(status, file.content_type, body);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    no_sniffing(res)
}

/// JSON made safe to embed inside `<script>`.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn parse_or_null(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// The object the web client starts from, with the names and types of the original template.
fn loading_params(ctx: &RequestContext, settings: &Settings, room: Option<&RoomId>) -> Value {
    let p = room_params(ctx, settings);
    let mut v = json!({
        "errorMessages": p.error_messages,
        "isLoopback": p.is_loopback == "true",
        "warningMessages": p.warning_messages,
        "mediaConstraints": parse_or_null(&p.media_constraints),
        "offerOptions": parse_or_null(&p.offer_options),
        "peerConnectionConfig": parse_or_null(&p.pc_config),
        "peerConnectionConstraints": parse_or_null(&p.pc_constraints),
        "iceServerRequestUrl": p.ice_server_url,
        "iceServerTransports": p.ice_server_transports,
        "wssUrl": p.wss_url,
        "wssPostUrl": p.wss_post_url,
        "bypassJoinConfirmation": p.bypass_join_confirmation == "true",
        "versionInfo": parse_or_null(&p.version_info),
        "headerMessage": p.header_message,
        "query": ctx.query.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
    });
    if let Some(room) = room {
        v["roomId"] = Value::String(room.to_string());
        v["roomLink"] = Value::String(room_link(ctx, settings, room));
    }
    v
}

/// The page for `GET /` (no room) and `GET /r/<room>`.
fn room_page(ctx: &RequestContext, settings: &Settings, room: Option<&RoomId>) -> String {
    let params = script_json(&loading_params(ctx, settings, room));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>AppRTC</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
<body><main id=\"app\"></main>\
<script>var loadingParams = {params};</script>\
<script src=\"/static/app.js\"></script></body></html>\n"
    )
}

/// The page for `GET /r/<room>` when the room already has two members.
fn full_page(room: &RoomId) -> String {
    let room = script_json(&Value::String(room.to_string()));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>AppRTC: Room full</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
<body><main class=\"full\"><h1>Room full</h1><p>This room already has two people in it.</p>\
<p><a class=\"button\" href=\"/\">Choose another room</a></p></main>\
<script>var fullRoomId = {room};</script></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_cannot_close_the_script() {
        let ctx = RequestContext {
            scheme: "http".into(),
            host: "h".into(),
            query: vec![("video".into(), "</script><script>alert(1)</script>".into())],
            user_agent: None,
        };
        let page = room_page(&ctx, &Settings::default(), None);
        assert_eq!(page.matches("</script>").count(), 2);
    }
}
