//! HTML pages: the room page carries the parameters the web client reads (`loadingParams`,
//! docs/protocol.md §2.6), JSON-encoded so no query parameter can inject script
//! (docs/protocol.md §8 item 16).

use crate::config::Settings;
use crate::domain::ids::RoomId;
use crate::params::{RequestContext, room_link, room_params};
use serde_json::{Value, json};

/// The web client's script, served at `/static/app.js` (vanilla JS, no build step).
pub const APP_JS: &str = include_str!("../web/app.js");
/// The web client's style sheet, served at `/static/app.css`.
pub const APP_CSS: &str = include_str!("../web/app.css");

/// A file of the web client by its name under `/static/`: `(content type, body)`.
pub fn static_asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
        "app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
        _ => None,
    }
}

/// JSON made safe to embed inside `<script>`.
pub fn script_json(v: &Value) -> String {
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
pub fn loading_params(ctx: &RequestContext, settings: &Settings, room: Option<&RoomId>) -> Value {
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
pub fn room_page(ctx: &RequestContext, settings: &Settings, room: Option<&RoomId>) -> String {
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
pub fn full_page(room: &RoomId) -> String {
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
