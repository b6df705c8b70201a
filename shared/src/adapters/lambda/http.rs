//! HTTP events: an API Gateway (or function URL, or `cargo lambda watch`) request for one
//! [`Route`] becomes a call to the room service, the relay's collider HTTP or the page router,
//! and its outcome the response `crate::http` builds.

use super::wiring::Deployment;
use crate::domain::ids::{ClientId, RoomId};
use crate::http::{
    ApiError, HttpResponse, collider_preflight, error_response, ice_response, join_response,
    leave_response, message_response, path_segments,
};
use crate::params::RequestContext;
use crate::service::JoinReply;
use crate::web::{PageRequest, serve_page};
use http::Method;
use lambda_http::{Body, Request, RequestExt, Response};

/// The HTTP routes, one per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /join/{room}`
    Join,
    /// `POST /message/{room}/{client}`
    Message,
    /// `POST /leave/{room}/{client}`
    Leave,
    /// `GET|POST|OPTIONS /v1alpha/iceconfig`
    IceConfig,
    /// `POST|DELETE /relay/{room}/{client}` (collider HTTP)
    Collider,
    /// `GET /`, `GET /r/{room}`, `GET /params`, `GET /static/{file}`: the pages, the room
    /// parameters and the web client's files ([`crate::web::serve_page`])
    Web,
}

impl Route {
    /// The function (and path) name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Message => "message",
            Self::Leave => "leave",
            Self::IceConfig => "iceconfig",
            Self::Collider => "relay",
            Self::Web => "web",
        }
    }

    /// Path ids the route takes: room, or room and client.
    fn arity(self) -> usize {
        match self {
            Self::Join => 1,
            Self::Message | Self::Leave | Self::Collider => 2,
            Self::IceConfig | Self::Web => 0,
        }
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Self::Join | Self::Message | Self::Leave => method == Method::POST,
            // The page router and the use cases answer other methods themselves.
            Self::IceConfig | Self::Collider | Self::Web => true,
        }
    }
}

/// The ids in the request path: path parameters when API Gateway gives them, else the path
/// segments after an optional `lambda-url/<function>` prefix and an optional route name.
fn path_ids(route: Route, req: &Request) -> Result<Vec<String>, ApiError> {
    let params = req.path_parameters();
    let named: Vec<String> = ["room", "client"]
        .iter()
        .take(route.arity())
        .filter_map(|k| params.first(k).map(str::to_owned))
        .collect();
    if named.len() == route.arity() {
        return Ok(named);
    }
    let mut segs = path_segments(req.uri().path())?;
    if segs.first().map(String::as_str) == Some("lambda-url") && segs.len() >= 2 {
        segs.drain(..2);
    }
    if segs.len() == route.arity() + 1 && segs.first().map(String::as_str) == Some(route.name()) {
        segs.remove(0);
    }
    if segs.len() != route.arity() {
        return Err(ApiError::NotFound(format!(
            "expected /{}{}",
            route.name(),
            "/{id}".repeat(route.arity())
        )));
    }
    Ok(segs)
}

fn request_context(req: &Request) -> RequestContext {
    let query = req
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    RequestContext::from_headers(req.headers(), "https", query)
}

fn to_lambda(res: HttpResponse) -> Response<Body> {
    res.map(Body::from)
}

/// Answers one HTTP request for `route`. Expected failures are responses, never `Err`.
pub async fn handle(dep: &Deployment, route: Route, req: Request) -> Response<Body> {
    to_lambda(
        answer(dep, route, req)
            .await
            .unwrap_or_else(|e| error_response(&e)),
    )
}

async fn answer(dep: &Deployment, route: Route, req: Request) -> Result<HttpResponse, ApiError> {
    if !route.allows(req.method()) {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let ids = path_ids(route, &req)?;
    let ctx = request_context(&req);
    let room = || RoomId::parse(&ids[0]).map_err(|e| ApiError::invalid_id("room", e));
    let client = || ClientId::parse(&ids[1]).map_err(|e| ApiError::invalid_id("client", e));
    Ok(match route {
        Route::Join => {
            let room = room()?;
            let reply = dep.service.join(&room, ctx.loopback()).await;
            // A member whose socket is gone without a disconnect event starts its reconnect
            // grace here, as a handled `$disconnect` starts it: a ghost frees the room when it
            // ends, and a client that is only reconnecting keeps its place.
            if matches!(reply, Ok(JoinReply::Full))
                && let Err(e) = dep.relay.detach_dead(&room).await
            {
                tracing::warn!(%room, error = %e, "liveness check of a full room failed");
            }
            join_response(&ctx, &dep.settings, &room, reply)
        }
        Route::Message => {
            let (room, client) = (room()?, client()?);
            message_response(
                dep.service
                    .message(&room, &client, req.body().as_ref())
                    .await,
            )
        }
        Route::Leave => {
            let (room, client) = (room()?, client()?);
            leave_response(dep.service.leave(&room, &client).await)
        }
        Route::IceConfig => {
            let origin = req
                .headers()
                .get(http::header::ORIGIN)
                .and_then(|v| v.to_str().ok());
            ice_response(&ctx, &dep.settings, req.method(), origin, dep.service.now())
        }
        Route::Collider => {
            let path = format!("/{}/{}", ids[0], ids[1]);
            match *req.method() {
                Method::POST => dep.relay.http_post(&path, req.body().as_ref()).await,
                Method::DELETE => dep.relay.http_delete(&path).await,
                _ => collider_preflight(),
            }
        }
        Route::Web => {
            let path = page_path(req.uri().path());
            let page = PageRequest::new(req.method(), path, req.headers(), &ctx);
            serve_page(&page, &dep.settings, &dep.service).await
        }
    })
}

/// The path as the page router sees it: without the `lambda-url/<function>` prefix of
/// `cargo lambda watch`.
fn page_path(path: &str) -> &str {
    match path.strip_prefix("/lambda-url/") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    }
}
