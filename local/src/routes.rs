//! HTTP routes: each handler extracts ids and context, calls one `room` use case and returns the
//! response `room::http` built.

use crate::App;
use crate::serve::Scheme;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use room::domain::message::MessageError;
use room::http::{
    ApiError, HttpResponse, error_response, html_response, ice_response, join_response,
    leave_response, message_response, params_response, parse_query, text_response,
};
use room::params::RequestContext;
use room::service::MessageReply;
use room::{ClientId, RoomId, web};

pub fn router(app: App) -> Router {
    Router::new()
        .route("/", only_get(get(index)))
        .route("/r/{room}", only_get(get(room_page)))
        .route("/join/{room}", only_post(post(join)))
        .route("/message/{room}/{client}", only_post(post(message)))
        .route("/leave/{room}/{client}", only_post(post(leave)))
        .route("/params", only_get(get(params)))
        .route("/v1alpha/iceconfig", any(iceconfig))
        .route("/ws", get(crate::ws::upgrade))
        .route("/relay/{*path}", any(relay_http))
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(app)
}

fn only_get(r: MethodRouter<App>) -> MethodRouter<App> {
    r.fallback(|| async { reply(error_response(&ApiError::MethodNotAllowed { allow: "GET" })) })
}

fn only_post(r: MethodRouter<App>) -> MethodRouter<App> {
    r.fallback(|| async {
        reply(error_response(&ApiError::MethodNotAllowed {
            allow: "POST",
        }))
    })
}

fn reply(res: HttpResponse) -> Response {
    res.map(Body::from).into_response()
}

/// What the room code needs to know about a request: scheme of the listener, `Host`, query,
/// `User-Agent`.
struct Ctx(RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let scheme = parts.extensions.get::<Scheme>().map_or("http", |s| s.0);
        let query = parse_query(parts.uri.query().unwrap_or(""));
        Ok(Self(RequestContext::from_headers(
            &parts.headers,
            scheme,
            query,
        )))
    }
}

fn room_id(raw: &str) -> Result<RoomId, ApiError> {
    RoomId::parse(raw).map_err(|e| ApiError::invalid_id("room", e))
}

fn ids(raw_room: &str, raw_client: &str) -> Result<(RoomId, ClientId), ApiError> {
    let room = room_id(raw_room)?;
    let client = ClientId::parse(raw_client).map_err(|e| ApiError::invalid_id("client", e))?;
    Ok((room, client))
}

async fn not_found() -> Response {
    reply(error_response(&ApiError::NotFound(
        "no such route".to_owned(),
    )))
}

async fn index(State(app): State<App>, Ctx(ctx): Ctx) -> Response {
    reply(html_response(web::room_page(&ctx, &app.settings, None)))
}

async fn room_page(State(app): State<App>, Path(raw): Path<String>, Ctx(ctx): Ctx) -> Response {
    let room = match room_id(&raw) {
        Ok(r) => r,
        Err(e) => return reply(error_response(&e)),
    };
    let full = match app.service.is_full(&room).await {
        Ok(full) => full,
        Err(e) => return reply(error_response(&ApiError::Service(e))),
    };
    if full {
        return reply(html_response(web::full_page(&room)));
    }
    reply(html_response(web::room_page(
        &ctx,
        &app.settings,
        Some(&room),
    )))
}

async fn join(State(app): State<App>, Path(raw): Path<String>, Ctx(ctx): Ctx) -> Response {
    let room = match room_id(&raw) {
        Ok(r) => r,
        Err(e) => return reply(error_response(&e)),
    };
    let result = app.service.join(&room, ctx.loopback()).await;
    reply(join_response(&ctx, &app.settings, &room, result))
}

async fn message(
    State(app): State<App>,
    Path((r, c)): Path<(String, String)>,
    body: Body,
) -> Response {
    let (room, client) = match ids(&r, &c) {
        Ok(ids) => ids,
        Err(e) => return reply(error_response(&e)),
    };
    let max = app.settings.limits.max_message_bytes;
    let Ok(bytes) = to_bytes(body, max).await else {
        return reply(message_response(Ok(MessageReply::Invalid(
            MessageError::TooLarge { max },
        ))));
    };
    reply(message_response(
        app.service.message(&room, &client, &bytes).await,
    ))
}

async fn leave(State(app): State<App>, Path((r, c)): Path<(String, String)>) -> Response {
    match ids(&r, &c) {
        Ok((room, client)) => reply(leave_response(app.service.leave(&room, &client).await)),
        Err(e) => reply(error_response(&e)),
    }
}

async fn params(State(app): State<App>, Ctx(ctx): Ctx) -> Response {
    reply(params_response(&ctx, &app.settings))
}

async fn iceconfig(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
) -> Response {
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    reply(ice_response(
        &ctx,
        &app.settings,
        &method,
        origin,
        app.service.now(),
    ))
}

/// The relay where the original collider served it (`--relay-port`, default 8089): `/ws`,
/// `POST|DELETE /<room>/<client>`, `/status`.
pub fn relay_router(app: App) -> Router {
    Router::new()
        .route("/ws", get(crate::ws::upgrade))
        .route("/status", get(status))
        .route("/{*path}", any(relay_http))
        .with_state(app)
}

async fn relay_http(State(app): State<App>, Path(path): Path<String>, req: Request) -> Response {
    let path = format!("/{path}");
    match *req.method() {
        Method::POST => {
            let max = app.settings.limits.max_message_bytes;
            match to_bytes(req.into_body(), max).await {
                Ok(body) => reply(app.relay.http_post(&path, &body).await),
                Err(_) => reply(text_response(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Invalid message: body is larger than {max} bytes\n"),
                )),
            }
        }
        Method::DELETE => reply(app.relay.http_delete(&path).await),
        _ => reply(app.relay.http_other()),
    }
}

async fn status(State(app): State<App>) -> Response {
    reply(app.relay.status())
}

async fn healthz() -> Response {
    reply(text_response(axum::http::StatusCode::OK, "ok\n"))
}
