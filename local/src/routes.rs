//! The emulator's HTTP routes: its own (`/ws`, `/status`, `/healthz`, `/readyz`, `/metrics`,
//! `/qr.svg`, `/ca`) and, for every other path, the one route table of `room::http::routes`, which
//! the Lambda functions answer with too. Here a request is only read (a bounded body, the
//! client's address, the listener's scheme), limited and counted.

use crate::app::App;
use crate::body::{PeerIp, collider_body_error, message_body_error, read_body, reply};
use crate::ops::health::{healthz, readiness_response};
use crate::ops::metrics::labelled;
use crate::serve::Scheme;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, any, get};
use room::config::{RELAY_HTTP_PREFIX, WS_PATH};
use room::http::routes::{self, Route, Services};
use room::http::{ApiError, error_response, parse_query, path_segments, relay_status_response};
use room::service::params::RequestContext;
#[cfg(feature = "aws-local")]
use {crate::aws_local::gateway::AwsLocal, std::sync::Arc};

/// The main listener's routes; with the aws-local stand-in, its HTTP and WebSocket APIs in place
/// of the room table's and the sockets'.
pub fn router(app: App, #[cfg(feature = "aws-local")] aws: Option<Arc<AwsLocal>>) -> Router {
    #[cfg(feature = "aws-local")]
    if let Some(aws) = aws {
        let routes = crate::aws_local::gateway::router(
            aws,
            crate::websocket::session::websocket_limits(&app),
            app.sockets.clone(),
            app.shutdown.clone(),
        )
        .merge(static_router(app.clone()))
        .merge(ops_router(app.clone()));
        return tracked(routes, &app);
    }
    let routes = Router::new()
        .route(WS_PATH, get(crate::websocket::session::upgrade))
        .route(
            &format!("{RELAY_HTTP_PREFIX}/status"),
            get(status).fallback(room_route),
        )
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .fallback(any(room_route))
        .with_state(app.clone())
        .merge(static_router(app.clone()))
        .merge(ops_router(app.clone()));
    tracked(routes, &app)
}

/// The relay where the original collider served it (`--relay-port`, default 8089): `/ws`,
/// `POST|DELETE /<room>/<client>`, `/status`.
pub fn collider_router(app: App) -> Router {
    let routes = Router::new()
        .route(WS_PATH, get(crate::websocket::session::upgrade))
        .route("/status", get(status))
        .fallback(any(collider_route))
        .with_state(app.clone())
        .merge(ops_router(app.clone()))
        .merge(crate::tls::ca_page::router(app.ca.clone()));
    tracked(routes, &app)
}

/// Operations routes of both listeners: `/metrics` and `/readyz`.
fn ops_router(app: App) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .with_state(app)
}

/// Routes the emulator serves itself in every mode (the room link's QR code, the local
/// certificate authority).
fn static_router(app: App) -> Router {
    Router::new()
        .route("/qr.svg", only_get(get(crate::tls::qr::qr_svg)))
        .merge(crate::tls::ca_page::router(app.ca))
}

/// Every route, fallback included, timed and logged by [`crate::ops::metrics::track`].
fn tracked(routes: Router, app: &App) -> Router {
    routes.layer(axum::middleware::from_fn_with_state(
        app.metrics.clone(),
        crate::ops::metrics::track,
    ))
}

fn only_get<S: Clone + Send + Sync + 'static>(r: MethodRouter<S>) -> MethodRouter<S> {
    r.fallback(|| async { reply(error_response(&ApiError::MethodNotAllowed { allow: "GET" })) })
}

/// A path of the route table on the main listener.
async fn room_route(State(app): State<App>, PeerIp(peer): PeerIp, req: Request) -> Response {
    let (route, ids) = match Route::of(req.uri().path()) {
        Ok(found) => found,
        Err(e) => return reply(error_response(&e)),
    };
    if route == Route::Join
        && req.method() == Method::POST
        && let Some(ip) = peer
        && !app.limiter.allow_join(ip)
    {
        app.metrics.join("TOO_MANY");
        let res = reply(error_response(&ApiError::TooMany {
            what: "too many joins from this address; retry in a minute",
            retry_after: 60,
        }));
        return labelled(res, route);
    }
    labelled(answer(&app, route, &ids, req).await, route)
}

/// A path on the compatibility listener: every one but its own routes is a collider path.
async fn collider_route(State(app): State<App>, req: Request) -> Response {
    let ids = match path_segments(req.uri().path()) {
        Ok(ids) => ids,
        Err(e) => return reply(error_response(&e)),
    };
    answer(&app, Route::Collider, &ids, req).await
}

/// Reads what the route needs of `req` and answers it from the route table.
async fn answer(app: &App, route: Route, ids: &[String], req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let takes_body =
        matches!(route, Route::Message | Route::Collider) && parts.method == Method::POST;
    let body = if takes_body {
        match read_body(body, app.settings.limits.max_message_bytes).await {
            Ok(body) => body,
            Err(e) if route == Route::Collider => {
                let res = collider_body_error(&e);
                app.metrics.collider_post(res.status());
                app.relay.count_http(&res);
                return reply(res);
            }
            Err(e) => {
                app.metrics.dropped("invalid");
                return reply(message_body_error(&e));
            }
        }
    } else {
        drop::<Body>(body);
        Bytes::new()
    };
    let scheme = parts.extensions.get::<Scheme>().map_or("http", |s| s.0);
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let ctx = RequestContext::from_headers(&parts.headers, scheme, query);
    let request = routes::Request {
        method: &parts.method,
        path: parts.uri.path(),
        ids,
        headers: &parts.headers,
        body: &body,
        ctx: &ctx,
    };
    let services = Services {
        rooms: &app.service,
        relay: app.relay.stored(),
        settings: &app.settings,
    };
    let res = routes::answer(route, &request, &services, &*app.metrics).await;
    if route == Route::Collider {
        if parts.method == Method::POST {
            app.metrics.collider_post(res.status());
        } else if parts.method == Method::DELETE && res.status() != StatusCode::OK {
            app.metrics.error("relay_http");
        }
        app.relay.count_http(&res);
    }
    reply(res)
}

/// `GET /status` (docs/protocol.md §3.8), also at `<wss_post_url>/status` (§7.3 case 64): clients
/// only know the announced prefix.
async fn status(State(app): State<App>) -> Response {
    reply(relay_status_response(&app.relay.status()))
}

/// Readiness: one cheap real store call (a read of one room id; nothing is written).
async fn readyz(State(app): State<App>) -> Response {
    let store = app
        .service
        .store()
        .load(&crate::ops::metrics::readyz_room())
        .await;
    reply(readiness_response(store.as_ref().map(|_| ())))
}

async fn metrics(State(app): State<App>) -> Response {
    reply(crate::ops::metrics::metrics_response(
        app.metrics.render(app.limiter.open_sockets()),
    ))
}
