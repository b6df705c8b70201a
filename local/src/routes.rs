//! HTTP routes: each handler extracts ids and context, calls one `room` use case and returns the
//! response `room::http` built.

use crate::App;
use crate::http::{PeerIp, healthz, not_found_response, read_body, reply};
use crate::serve::Scheme;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::{MethodRouter, any, get, post};
use room::http::{
    ApiError, collider_body_error, error_response, ice_response, join_response, leave_response,
    message_body_error, message_response, metrics_response, parse_query, qr_response,
    readiness_response,
};
use room::params::RequestContext;
use room::service::JoinReply;
use room::{ClientId, RoomId, web};

pub fn router(app: App) -> Router {
    #[cfg(feature = "aws-local")]
    if let Some(aws) = &app.aws {
        let routes = crate::aws_local::router(
            aws.clone(),
            app.websocket_limits(),
            app.sockets.clone(),
            app.shutdown.clone(),
        )
        .merge(static_router(app.clone()))
        .merge(ops_router(app.clone()));
        return tracked(routes, &app);
    }
    let routes = Router::new()
        .route("/", any(page))
        .route("/r/{room}", any(page))
        .route("/join/{room}", only_post(post(join)))
        .route("/message/{room}/{client}", only_post(post(message)))
        .route("/leave/{room}/{client}", only_post(post(leave)))
        .route("/params", any(page))
        .route("/static/{file}", any(page))
        .route("/v1alpha/iceconfig", any(iceconfig))
        .route("/ws", get(crate::relay_session::upgrade))
        .route("/relay/{*path}", any(relay_http))
        .route("/relay/", any(relay_http_root))
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(app.clone())
        .merge(static_router(app.clone()))
        .merge(ops_router(app.clone()));
    tracked(routes, &app)
}

/// Operations routes of both listeners: `/metrics` and `/readyz`.
fn ops_router(app: App) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .with_state(app)
}

/// Every route, fallback included, timed and logged by [`crate::metrics::track`].
fn tracked(routes: Router, app: &App) -> Router {
    routes.layer(axum::middleware::from_fn_with_state(
        app.metrics.clone(),
        crate::metrics::track,
    ))
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
    not_found_response()
}

/// Routes the emulator serves itself in every mode (the room link's QR code, the local
/// certificate authority).
fn static_router(app: App) -> Router {
    Router::new()
        .route("/qr.svg", only_get(get(qr_svg)))
        .with_state(app.clone())
        .merge(crate::ca_page::router(app))
}

/// The pages and the web client's files: [`web::serve_page`] answers them, as it does in the
/// `web` function.
async fn page(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
) -> Response {
    let req = web::PageRequest::new(&method, uri.path(), &headers, &ctx);
    reply(web::serve_page(&req, &app.settings, &app.service).await)
}

async fn join(
    State(app): State<App>,
    Path(raw): Path<String>,
    PeerIp(peer): PeerIp,
    Ctx(ctx): Ctx,
) -> Response {
    let room = match room_id(&raw) {
        Ok(r) => r,
        Err(e) => return reply(error_response(&e)),
    };
    if let Some(ip) = peer
        && !app.limiter.allow_join(ip)
    {
        app.metrics.join("TOO_MANY");
        return reply(error_response(&ApiError::TooMany {
            what: "too many joins from this address; retry in a minute",
            retry_after: 60,
        }));
    }
    let result = app.service.join(&room, ctx.loopback()).await;
    app.metrics.join(match &result {
        Ok(JoinReply::Joined { .. }) => "SUCCESS",
        Ok(JoinReply::Full) => "FULL",
        Ok(JoinReply::Duplicate) => "DUPLICATE_CLIENT",
        Err(_) => "ERROR",
    });
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
    let bytes = match read_body(body, app.settings.limits.max_message_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => {
            app.metrics.dropped("invalid");
            return reply(message_body_error(&e));
        }
    };
    let result = app.service.message(&room, &client, &bytes).await;
    app.metrics.message_result(&result);
    reply(message_response(result))
}

async fn leave(State(app): State<App>, Path((r, c)): Path<(String, String)>) -> Response {
    match ids(&r, &c) {
        Ok((room, client)) => reply(leave_response(app.service.leave(&room, &client).await)),
        Err(e) => reply(error_response(&e)),
    }
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
    let routes = Router::new()
        .route("/ws", get(crate::relay_session::upgrade))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .route("/{*path}", any(relay_http))
        .route("/", any(relay_http_root))
        .with_state(app.clone())
        .merge(crate::ca_page::router(app.clone()));
    tracked(routes, &app)
}

async fn relay_http(State(app): State<App>, Path(path): Path<String>, req: Request) -> Response {
    collider(app, &format!("/{path}"), req).await
}

/// The collider prefix with nothing after it: answered like any malformed path ("Invalid path").
async fn relay_http_root(State(app): State<App>, req: Request) -> Response {
    collider(app, "/", req).await
}

/// `path` is what follows the collider prefix (`/relay` here, nothing on the relay port).
async fn collider(app: App, path: &str, req: Request) -> Response {
    match *req.method() {
        // `<wss_post_url>/status` (docs/protocol.md §7.3 case 64): clients only know the
        // announced prefix.
        Method::GET if path == "/status" => reply(app.relay.status()),
        Method::POST => {
            let max = app.settings.limits.max_message_bytes;
            let res = match read_body(req.into_body(), max).await {
                Ok(body) => app.relay.http_post(path, &body).await,
                Err(e) => collider_body_error(&e),
            };
            app.metrics.collider_post(res.status());
            reply(res)
        }
        Method::DELETE => {
            let res = app.relay.http_delete(path).await;
            if !res.status().is_success() {
                app.metrics.error("relay_http");
            }
            reply(res)
        }
        _ => reply(app.relay.http_other()),
    }
}

async fn status(State(app): State<App>) -> Response {
    reply(app.relay.status())
}

/// Readiness: one cheap real store call (a read of one room id; nothing is written).
async fn readyz(State(app): State<App>) -> Response {
    let store = app
        .service
        .store()
        .load(&crate::metrics::readyz_room())
        .await;
    reply(readiness_response(store.as_ref().map(|_| ())))
}

async fn metrics(State(app): State<App>) -> Response {
    reply(metrics_response(
        app.metrics.render(app.limiter.open_sockets()),
    ))
}

/// `GET /qr.svg?text=<url>`: the room link as a QR code for the page (drawn here, nothing is
/// fetched from elsewhere).
async fn qr_svg(Ctx(ctx): Ctx) -> Response {
    reply(qr_response(ctx.get("text"), crate::qr::svg))
}
