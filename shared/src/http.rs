//! Errors and results become HTTP here, in one place, for the Lambda functions and the emulator
//! alike (`http::Response<String>`). Room-server results keep the original shapes (HTTP 200 with a
//! `result` code); failures that are not room outcomes get a status and a stable JSON error.

use crate::config::{CorsOrigins, Settings};
use crate::domain::ids::{IdError, RoomId};
use crate::domain::message::MessageError;
use crate::domain::room::LeaveOutcome;
use crate::ice::{IceRequest, ice_config};
use crate::params::{JoinParams, RequestContext, room_link, room_params};
use crate::ports::StoreError;
use crate::relay::frame::RelayError;
use crate::service::{JoinReply, MessageReply, ServiceError};
use crate::web::StaticFile;
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
fn respond(status: StatusCode, content_type: &'static str, body: String) -> HttpResponse {
    let mut res = http::Response::new(body);
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A JSON response.
fn json_response(status: StatusCode, body: &impl Serialize) -> HttpResponse {
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

/// Why a request body was not taken. Every host reads bodies itself (axum, API Gateway) and
/// answers these through [`message_body_error`] and [`collider_body_error`], so that a body is
/// answered alike on every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// More bytes than the route takes.
    TooLarge {
        /// The route's limit.
        max: usize,
    },
    /// Not readable: shorter than its `Content-Length`, malformed chunked encoding, or a failed
    /// read.
    Unreadable(String),
}

/// The answer to `POST /message/<room>/<client>` whose body was not taken: an oversized body is
/// an oversized message (what the use case answers once it has the body).
pub fn message_body_error(e: &BodyError) -> HttpResponse {
    match e {
        BodyError::TooLarge { max } => {
            message_response(Ok(MessageReply::Invalid(MessageError::TooLarge {
                max: *max,
            })))
        }
        BodyError::Unreadable(why) => error_response(&ApiError::BodyUnreadable(why.clone())),
    }
}

/// The answer to a collider `POST` whose body was not taken: an oversized body is an oversized
/// message, as the relay answers it once it has the body.
pub fn collider_body_error(e: &BodyError) -> HttpResponse {
    with_collider_cors(match e {
        BodyError::TooLarge { max } => {
            collider_post_reply(Err(RelayError::InvalidMessage(MessageError::TooLarge {
                max: *max,
            })))
        }
        BodyError::Unreadable(why) => text_response(
            StatusCode::BAD_REQUEST,
            format!("Invalid request: body could not be read: {why}\n"),
        ),
    })
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

/// `GET /healthz` answer: the process answers.
pub fn liveness_response() -> HttpResponse {
    text_response(StatusCode::OK, "ok\n")
}

/// `GET /readyz` answer from one real store call: 200, or 503 with the store's reason (and its
/// causes), which is logged.
pub fn readiness_response(store: Result<(), &StoreError>) -> HttpResponse {
    let Err(e) = store else {
        return text_response(StatusCode::OK, "ready\n");
    };
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::warn!(error = %reason, "not ready");
    text_response(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready: {reason}\n"),
    )
}

/// `GET /metrics` answer: the Prometheus text exposition format.
pub fn metrics_response(text: String) -> HttpResponse {
    respond(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        text,
    )
}

/// Longest text `/qr.svg` encodes: room links are short; this bounds the work per request.
pub const QR_MAX_TEXT: usize = 512;

/// `GET /qr.svg?text=<url>` answer: the SVG `draw` makes of `text` (which returns `None` when
/// the text does not fit in a QR code), or 400 naming what is wrong with `text`. The picture of
/// a text never changes, so it may be cached for a day.
pub fn qr_response(text: Option<&str>, draw: impl FnOnce(&str) -> Option<String>) -> HttpResponse {
    let bad = |why: String| text_response(StatusCode::BAD_REQUEST, format!("{why}\n"));
    let text = match text {
        None | Some("") => return bad("missing text".to_owned()),
        Some(t) if t.len() > QR_MAX_TEXT => {
            return bad(format!("text longer than {QR_MAX_TEXT} bytes"));
        }
        Some(t) => t,
    };
    let Some(svg) = draw(text) else {
        return bad("text does not fit in a QR code".to_owned());
    };
    let mut res = respond(StatusCode::OK, "image/svg+xml", svg);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    no_sniffing(res)
}

/// Tells the browser to take the content type as given (a file or a picture, not a page).
fn no_sniffing<B>(mut res: http::Response<B>) -> http::Response<B> {
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// What `/ca`, `/ca.pem` and `/ca.crt` serve from the emulator's local certificate authority.
#[derive(Debug, Clone, Copy)]
pub enum CaFile<'a> {
    /// `/ca`: the page with the steps for phones.
    Page(&'a str),
    /// `/ca.pem`: the certificate as PEM.
    Pem(&'a str),
    /// `/ca.crt`: the certificate as DER, the type Android's and iOS's installers take.
    Der(&'a [u8]),
}

/// The answer for one of the local authority's files, or 404 when the server has no local
/// authority (a given or self-signed certificate, or plain HTTP). The body is bytes: the DER
/// file is binary.
pub fn ca_response(file: Option<CaFile<'_>>) -> http::Response<Vec<u8>> {
    let Some(file) = file else {
        return text_response(
            StatusCode::NOT_FOUND,
            "no local certificate authority: this server uses a given or self-signed certificate\n",
        )
        .map(String::into_bytes);
    };
    let (content_type, download, body) = match file {
        CaFile::Page(html) => ("text/html; charset=utf-8", None, html.as_bytes().to_vec()),
        CaFile::Pem(pem) => (
            "application/x-pem-file",
            Some("attachment; filename=\"apprtc-local-ca.pem\""),
            pem.as_bytes().to_vec(),
        ),
        CaFile::Der(der) => (
            "application/x-x509-ca-cert",
            Some("attachment; filename=\"apprtc-local-ca.crt\""),
            der.to_vec(),
        ),
    };
    let mut res = respond(StatusCode::OK, content_type, String::new()).map(|_| body);
    if let Some(download) = download {
        res.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static(download),
        );
    }
    no_sniffing(res)
}

/// API Gateway's own answer to a request over its payload limit, which no function sees (the
/// aws-local stand-in gives it where the deployed gateway would).
pub fn gateway_payload_too_large() -> HttpResponse {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &json!({"message": "Request Entity Too Large"}),
    )
}

/// What the API Gateway management API (`@connections`) answers, as the aws-local stand-in
/// gives it to the relay's management client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagementReply {
    /// `POST`: the frame is on its way to the socket.
    Posted,
    /// `GET`: the connection is open.
    Open,
    /// `DELETE`: the connection is being closed.
    Deleted,
    /// The connection is gone (`GoneException`).
    Gone,
    /// The frame is over the frame limit (`PayloadTooLargeException`).
    PayloadTooLarge,
    /// The connection is not reading fast enough (`LimitExceededException`).
    LimitExceeded,
    /// A method the API does not have.
    MethodNotAllowed,
}

/// The management API's answer: an empty success, the connection's details, or an error named
/// in `x-amzn-errortype` and the JSON body. The SDK takes an error's type from that header (or a
/// `__type` field), not from the message: without it a 410 is not a `GoneException` to the relay,
/// and a post to a closed connection looks like an outage.
pub fn management_response(reply: ManagementReply) -> HttpResponse {
    let error = |status, kind: &'static str| {
        let mut res = json_response(status, &json!({ "message": kind }));
        res.headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(kind));
        res
    };
    match reply {
        ManagementReply::Posted => text_response(StatusCode::OK, ""),
        ManagementReply::Open => json_response(
            StatusCode::OK,
            &json!({"connectedAt": "2026-01-01T00:00:00Z"}),
        ),
        ManagementReply::Deleted => text_response(StatusCode::NO_CONTENT, ""),
        ManagementReply::Gone => error(StatusCode::GONE, "GoneException"),
        ManagementReply::PayloadTooLarge => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException")
        }
        ManagementReply::LimitExceeded => {
            error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException")
        }
        ManagementReply::MethodNotAllowed => text_response(StatusCode::METHOD_NOT_ALLOWED, ""),
    }
}

/// Why a request is not a WebSocket opening handshake (RFC 6455 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// Not a GET.
    Method,
    /// `Connection` does not list `upgrade`.
    Connection,
    /// `Upgrade` is not `websocket`.
    UpgradeHeader,
    /// `Sec-WebSocket-Version` is not 13.
    Version,
    /// No `Sec-WebSocket-Key`.
    Key,
    /// The connection cannot be upgraded (not HTTP/1.1).
    NotUpgradable,
}

impl HandshakeError {
    fn status(self) -> StatusCode {
        match self {
            Self::Method => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            Self::Connection | Self::UpgradeHeader | Self::Version | Self::Key => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Method => "a WebSocket handshake is a GET request",
            Self::Connection => "the Connection header does not include 'upgrade'",
            Self::UpgradeHeader => "the Upgrade header is not 'websocket'",
            Self::Version => "Sec-WebSocket-Version must be 13",
            Self::Key => "the Sec-WebSocket-Key header is missing",
            Self::NotUpgradable => "this connection cannot be upgraded to a WebSocket",
        }
    }
}

/// The answer to a refused WebSocket handshake: its status and one line saying why; a wrong
/// version names the one spoken here (RFC 6455 §4.4).
pub fn handshake_error_response(e: HandshakeError) -> HttpResponse {
    let mut res = text_response(e.status(), format!("{}\n", e.message()));
    if e == HandshakeError::Version {
        res.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    res
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
    fn qr_answers_name_what_is_wrong_with_the_text() {
        let drawn = |t: &str| (t.len() < 100).then(|| format!("<svg>{t}</svg>"));
        let long = "a".repeat(QR_MAX_TEXT + 1);
        let fits_no_code = "a".repeat(QR_MAX_TEXT);
        for (text, status, body) in [
            (None, 400, "missing text\n"),
            (Some(""), 400, "missing text\n"),
            (Some(long.as_str()), 400, "text longer than 512 bytes\n"),
            (
                Some(fits_no_code.as_str()),
                400,
                "text does not fit in a QR code\n",
            ),
            (Some("https://h/r/1"), 200, "<svg>https://h/r/1</svg>"),
        ] {
            let res = qr_response(text, drawn);
            assert_eq!((res.status().as_u16(), res.body().as_str()), (status, body));
        }
        let ok = qr_response(Some("x"), drawn);
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "image/svg+xml");
        assert_eq!(ok.headers()[header::CACHE_CONTROL], "public, max-age=86400");
        assert_eq!(ok.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn ca_files_keep_their_bytes_and_say_how_to_install_them() {
        let der = [0x30, 0x82, 0x00, 0xff, 0x80];
        let res = ca_response(Some(CaFile::Der(&der)));
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), der);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/x-x509-ca-cert"
        );
        assert!(
            res.headers()[header::CONTENT_DISPOSITION]
                .to_str()
                .is_ok_and(|v| v.ends_with("\"apprtc-local-ca.crt\""))
        );
        let page = ca_response(Some(CaFile::Page("<p>steps</p>")));
        assert_eq!(page.body().as_slice(), b"<p>steps</p>");
        assert!(!page.headers().contains_key(header::CONTENT_DISPOSITION));
        let missing = ca_response(None);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(
            missing
                .body()
                .starts_with(b"no local certificate authority")
        );
    }

    #[test]
    fn management_errors_carry_the_type_the_sdk_reads() {
        for (reply, status, kind) in [
            (ManagementReply::Gone, 410, "GoneException"),
            (
                ManagementReply::PayloadTooLarge,
                413,
                "PayloadTooLargeException",
            ),
            (
                ManagementReply::LimitExceeded,
                429,
                "LimitExceededException",
            ),
        ] {
            let res = management_response(reply);
            assert_eq!(res.status().as_u16(), status);
            assert_eq!(res.headers()["x-amzn-errortype"], kind);
            let body: serde_json::Value = serde_json::from_str(res.body()).unwrap_or_default();
            assert_eq!(body["message"], kind);
        }
        let posted = management_response(ManagementReply::Posted);
        assert_eq!(
            (posted.status(), posted.body().as_str()),
            (StatusCode::OK, "")
        );
        let open = management_response(ManagementReply::Open);
        assert!(open.body().contains("connectedAt"));
        assert_eq!(
            gateway_payload_too_large().body(),
            r#"{"message":"Request Entity Too Large"}"#
        );
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
