//! Errors and results become HTTP here, in one place, for the Lambda functions and the emulator
//! alike (`http::Response<String>`). Room-server results keep the original shapes (HTTP 200 with a
//! `result` code); failures that are not room outcomes get a status and a stable JSON error.
//! [`routes`] is the one route table; [`pages`] the pages and the web client's files.

pub mod pages;
pub mod routes;

use crate::config::{CorsOrigins, Settings};
use crate::domain::ids::{IdError, RoomId};
use crate::domain::message::RelayError;
use crate::domain::room::LeaveOutcome;
use crate::service::ice::{IceRequest, ice_config};
use crate::service::params::{JoinParams, RequestContext, room_link, room_params};
use crate::service::relay::PostRefused;
use crate::service::rooms::{JoinReply, MessageReply, ServiceError};
use http::{HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use serde_json::json;

/// The response type shared by every adapter.
pub type HttpResponse = http::Response<String>;

/// A request that cannot reach a use case.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Path does not match a route, or an id in it is invalid.
    #[error("not found: {0}")]
    NotFound(String),
    /// Route exists, method does not.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// Value of the `Allow` header.
        allow: &'static str,
    },
    /// Body larger than the configured limit.
    #[error("request body is larger than {max} bytes")]
    BodyTooLarge {
        /// The limit.
        max: usize,
    },
    /// The body could not be read: it ended before its `Content-Length`, its chunked encoding
    /// was malformed, or the connection failed while it was being read.
    #[error("request body could not be read: {0}")]
    BodyUnreadable(String),
    /// A per-client or total limit was reached (abuse protection).
    #[error("{what}")]
    TooMany {
        /// What was limited, in plain words.
        what: &'static str,
        /// Seconds after which a retry can succeed.
        retry_after: u32,
    },
    /// The use case failed for a reason other than a room outcome.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ApiError {
    /// An invalid id in a path.
    pub fn invalid_id(what: &str, e: IdError) -> Self {
        Self::NotFound(format!("invalid {what} id: {e}"))
    }
}

/// Builds a response; the only place that sets status, type and body together.
pub fn respond(status: StatusCode, content_type: &'static str, body: String) -> HttpResponse {
    let mut res = http::Response::new(body);
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    respond(status, "application/json", text)
}

/// A plain-text response (collider routes).
pub fn text_response(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    respond(status, "text/plain; charset=utf-8", body.into())
}

/// An HTML response (pages).
pub fn html_response(body: String) -> HttpResponse {
    respond(StatusCode::OK, "text/html; charset=utf-8", body)
}

/// Answers a request that never reached a use case. Logs the cause; shows a stable message.
pub fn error_response(err: &ApiError) -> HttpResponse {
    match err {
        ApiError::NotFound(why) => json_response(
            StatusCode::NOT_FOUND,
            &json!({"result": "ERROR", "error": why}),
        ),
        ApiError::MethodNotAllowed { allow } => {
            let mut res = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"result": "ERROR", "error": format!("method not allowed; allowed: {allow}")}),
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            res
        }
        ApiError::BodyTooLarge { max } => json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"result": "ERROR", "error": format!("request body is larger than {max} bytes")}),
        ),
        ApiError::BodyUnreadable(why) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"result": "ERROR", "error": format!("request body could not be read: {why}")}),
        ),
        ApiError::TooMany { what, retry_after } => {
            let mut res = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"result": "ERROR", "error": what}),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        ApiError::Service(e) => unavailable(e),
    }
}

fn unavailable(e: &ServiceError) -> HttpResponse {
    tracing::warn!(error = %e, source = ?std::error::Error::source(e), "service unavailable");
    let mut res = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({"result": "ERROR", "error": "service temporarily unavailable, retry"}),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

fn result_only(code: &str) -> HttpResponse {
    json_response(StatusCode::OK, &json!({ "result": code }))
}

fn result_with_error(status: StatusCode, code: &str, error: &str) -> HttpResponse {
    json_response(status, &json!({ "result": code, "error": error }))
}

/// `POST /join/<room>` answer (docs/protocol.md §2.3).
pub fn join_response(
    ctx: &RequestContext,
    settings: &Settings,
    room: &RoomId,
    reply: Result<JoinReply, ServiceError>,
) -> HttpResponse {
    let (client_id, is_initiator, messages) = match reply {
        Ok(JoinReply::Joined {
            client_id,
            is_initiator,
            messages,
        }) => (client_id, is_initiator, messages),
        Ok(JoinReply::Full) => {
            return json_response(
                StatusCode::OK,
                &json!({"result": "FULL", "params": {"messages": []}}),
            );
        }
        Ok(JoinReply::Duplicate) => {
            return json_response(
                StatusCode::OK,
                &json!({"result": "DUPLICATE_CLIENT", "params": {"messages": []}}),
            );
        }
        Err(e) => return unavailable(&e),
    };
    let params = JoinParams {
        room: room_params(ctx, settings),
        room_id: room.to_string(),
        room_link: room_link(ctx, settings, room),
        client_id: client_id.to_string(),
        is_initiator: if is_initiator { "true" } else { "false" }.to_owned(),
        messages,
    };
    json_response(
        StatusCode::OK,
        &json!({"result": "SUCCESS", "params": params}),
    )
}

/// `POST /message/<room>/<client>` answer (docs/protocol.md §2.4).
pub fn message_response(reply: Result<MessageReply, ServiceError>) -> HttpResponse {
    match reply {
        Ok(MessageReply::Success) => result_only("SUCCESS"),
        Ok(MessageReply::UnknownRoom) => result_only("UNKNOWN_ROOM"),
        Ok(MessageReply::UnknownClient) => result_only("UNKNOWN_CLIENT"),
        Ok(MessageReply::Invalid(e)) => result_with_error(StatusCode::OK, "ERROR", &e.to_string()),
        Ok(MessageReply::SavedListFull) => result_with_error(
            StatusCode::OK,
            "ERROR",
            "too many messages saved for this client; wait for the peer to join",
        ),
        Ok(MessageReply::Undeliverable(e)) => result_with_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ERROR",
            &format!("Failed to send the message: {e}"),
        ),
        Err(e) => unavailable(&e),
    }
}

/// `POST /leave/<room>/<client>` answer (docs/protocol.md §2.5): always 200.
pub fn leave_response(reply: Result<LeaveOutcome, ServiceError>) -> HttpResponse {
    match reply {
        Ok(LeaveOutcome::Left) => result_only("SUCCESS"),
        Ok(LeaveOutcome::UnknownRoom) => result_only("UNKNOWN_ROOM"),
        Ok(LeaveOutcome::UnknownClient) => result_only("UNKNOWN_CLIENT"),
        Err(e) => unavailable(&e),
    }
}

/// `GET /params` answer (docs/protocol.md §2.7).
pub fn params_response(ctx: &RequestContext, settings: &Settings) -> HttpResponse {
    json_response(StatusCode::OK, &room_params(ctx, settings))
}

/// The `Access-Control-Allow-Origin` value for `origin`, if it is allowed.
fn allowed_origin(
    ctx: &RequestContext,
    settings: &Settings,
    origin: Option<&str>,
) -> Option<HeaderValue> {
    let origin = origin?.trim_end_matches('/');
    let own = ctx.origin();
    let allowed = match &settings.ice_cors {
        CorsOrigins::Any => return Some(HeaderValue::from_static("*")),
        CorsOrigins::SameOrigin => origin == own,
        CorsOrigins::List(list) => origin == own || list.iter().any(|o| o == origin),
    };
    allowed
        .then(|| HeaderValue::from_str(origin).ok())
        .flatten()
}

/// Lets `origin` (`*` for any) call `methods` from a page of another origin; every CORS answer
/// (ICE, collider, `/status`) names its origins and methods here.
fn allow_cross_origin(
    res: &mut HttpResponse,
    origin: HeaderValue,
    methods: &'static str,
    content_type: bool,
) {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    if content_type {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
    }
}

fn with_cors(mut res: HttpResponse, allow: Option<HeaderValue>) -> HttpResponse {
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allow {
        allow_cross_origin(&mut res, origin, "GET, POST, OPTIONS", true);
        res.headers_mut().insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    res
}

/// `GET|POST|OPTIONS /v1alpha/iceconfig` answer (docs/protocol.md §4), with CORS for allowed
/// origins.
pub fn ice_response(
    ctx: &RequestContext,
    settings: &Settings,
    method: &Method,
    origin: Option<&str>,
    now: crate::domain::room::Millis,
) -> HttpResponse {
    let allow = allowed_origin(ctx, settings, origin);
    let res = match *method {
        Method::OPTIONS => respond(
            StatusCode::NO_CONTENT,
            "text/plain; charset=utf-8",
            String::new(),
        ),
        Method::GET | Method::POST => {
            let req = IceRequest {
                relay_only: ctx.get("it") == Some("relay"),
                transport: ctx.get("tt").filter(|t| !t.is_empty()).map(str::to_owned),
                user: None,
            };
            json_response(StatusCode::OK, &ice_config(&settings.ice, &req, now))
        }
        _ => error_response(&ApiError::MethodNotAllowed {
            allow: "GET, POST, OPTIONS",
        }),
    };
    with_cors(res, allow)
}

/// The collider's `OK` (docs/protocol.md §3.7).
pub fn collider_ok() -> HttpResponse {
    text_response(StatusCode::OK, "OK\n")
}

/// A collider failure: `status` and one line of text (docs/protocol.md §3.7).
pub fn collider_error(status: StatusCode, text: &str) -> HttpResponse {
    text_response(status, format!("{text}\n"))
}

/// The collider's answer to a relayed `POST`: `OK`, 400 for a message no client could use, 500
/// with the reason otherwise (docs/protocol.md §3.7).
pub fn collider_post_reply(result: Result<(), RelayError>) -> HttpResponse {
    match result {
        Ok(()) => collider_ok(),
        Err(RelayError::InvalidMessage(e)) => {
            collider_error(StatusCode::BAD_REQUEST, &format!("Invalid message: {e}"))
        }
        Err(e) => collider_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Failed to send the message: {e}"),
        ),
    }
}

/// The collider's answer to a `POST <wss_post_url>/<room>/<client>` (docs/protocol.md §3.7),
/// with its CORS headers.
pub fn collider_post_response(result: Result<(), PostRefused>) -> HttpResponse {
    with_collider_cors(match result {
        Ok(()) => collider_ok(),
        Err(PostRefused::Empty) => {
            collider_error(StatusCode::INTERNAL_SERVER_ERROR, "Empty request body")
        }
        Err(PostRefused::Unavailable) => collider_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &RelayError::Unavailable.to_string(),
        ),
        Err(PostRefused::NotIssued) => {
            collider_error(StatusCode::FORBIDDEN, &RelayError::NotIssued.to_string())
        }
        Err(PostRefused::NotUtf8) => collider_error(
            StatusCode::BAD_REQUEST,
            "Invalid message: body is not valid UTF-8",
        ),
        Err(PostRefused::Relay(e)) => collider_post_reply(Err(e)),
    })
}

/// The collider's answer to a path that is not `/<room>/<client>`: 500, as the original's.
pub fn collider_invalid_path(path: &str) -> HttpResponse {
    collider_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("Invalid path: {}", escape_html(path)),
    )
}

/// Any other method on a collider path: an empty 200 with the collider's CORS (preflights).
pub fn collider_preflight() -> HttpResponse {
    with_collider_cors(text_response(StatusCode::OK, ""))
}

/// Adds the collider's CORS headers (any origin may `POST` and `DELETE`).
pub fn with_collider_cors(mut res: HttpResponse) -> HttpResponse {
    allow_cross_origin(
        &mut res,
        HeaderValue::from_static("*"),
        "POST, DELETE",
        true,
    );
    res
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(256) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The relay's counters, as `GET /status` shows them (docs/protocol.md §3.8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelayStatus {
    /// Seconds since the relay started.
    pub upsec: f64,
    /// Sockets registered now.
    pub openws: u64,
    /// Successful registrations since start.
    pub totalws: u64,
    /// Error frames sent.
    pub wserrors: u64,
    /// Collider HTTP errors answered.
    pub httperrors: u64,
}

/// `GET /status` answer (docs/protocol.md §3.8): any page may read it.
pub fn relay_status_response(s: &RelayStatus) -> HttpResponse {
    let body = json!({
        "upsec": s.upsec,
        "openws": s.openws,
        "totalws": s.totalws,
        "wserrors": s.wserrors,
        "httperrors": s.httperrors,
    });
    let mut res = json_response(StatusCode::OK, &body);
    allow_cross_origin(&mut res, HeaderValue::from_static("*"), "GET", false);
    res
}

/// Tells the browser to take the content type as given (a file or a picture, not a page).
pub fn no_sniffing<B>(mut res: http::Response<B>) -> http::Response<B> {
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Percent-decodes a path and splits it into segments (the original matched decoded paths).
/// A leading `/` is dropped; empty segments are kept so that `/join/` or `/a//b` do not match.
pub fn path_segments(path: &str) -> Result<Vec<String>, ApiError> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| ApiError::NotFound("path is not valid UTF-8".to_owned()))?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    Ok(trimmed.split('/').map(str::to_owned).collect())
}

/// Decodes a raw query string (`a=1&b=x+y`) into pairs, in order; `+` is a space.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_before_matching() {
        assert_eq!(
            path_segments("/join/ab%2Dc").ok(),
            Some(vec!["join".to_owned(), "ab-c".to_owned()])
        );
        assert_eq!(
            path_segments("/join/").ok(),
            Some(vec!["join".to_owned(), String::new()])
        );
        assert!(path_segments("/join/%FF").is_err());
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            parse_query("a=1&b=x+y%21&c"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new())
            ]
        );
    }

    #[test]
    fn cors_defaults_to_same_origin() {
        let ctx = RequestContext {
            scheme: "https".into(),
            host: "h".into(),
            query: vec![],
            user_agent: None,
        };
        let s = Settings::default();
        let own = ice_response(&ctx, &s, &Method::POST, Some("https://h"), 0);
        assert_eq!(
            own.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.as_bytes()),
            Some(&b"https://h"[..])
        );
        let other = ice_response(&ctx, &s, &Method::POST, Some("https://evil"), 0);
        assert!(
            other
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
    }
}
