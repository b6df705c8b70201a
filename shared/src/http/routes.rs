//! The one route table: every path of the room server, of the collider's HTTP side and of the
//! pages, and the one match that answers them. The Lambda functions (one route each), the API
//! Gateway stand-in and the emulator all call [`Route::of`] or name their route, and [`answer`].

use crate::config::{RELAY_HTTP_PREFIX, Settings};
use crate::domain::ids::{ClientId, RoomId};
use crate::http::pages::{PageRequest, serve_page};
use crate::http::{
    ApiError, HttpResponse, collider_invalid_path, collider_ok, collider_post_response,
    collider_preflight, error_response, ice_response, join_response, leave_response,
    message_response, path_segments, with_collider_cors,
};
use crate::service::params::RequestContext;
use crate::service::relay::StoredRelay;
use crate::service::rooms::{JoinReply, MessageReply, RoomService, ServiceError};
use http::{HeaderMap, Method, header};

/// A route: what a path names, whatever host serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /join/<room>` (docs/protocol.md §2.3).
    Join,
    /// `POST /message/<room>/<client>` (§2.4).
    Message,
    /// `POST /leave/<room>/<client>` (§2.5).
    Leave,
    /// `GET|POST|OPTIONS /v1alpha/iceconfig` (§4).
    IceConfig,
    /// `POST|DELETE <wss_post_url>/<room>/<client>`, the collider's HTTP side (§3.7).
    Collider,
    /// The pages and the web client's files: `/`, `/r/<room>`, `/params`, `/static/<file>`.
    Page,
}

impl Route {
    /// The route `path` names and the ids that follow its own segment (none for a page), or
    /// 404. Ids are checked by [`answer`].
    pub fn of(path: &str) -> Result<(Self, Vec<String>), ApiError> {
        let mut segs = path_segments(path)?;
        let first = segs.first().map(String::as_str).unwrap_or_default();
        let route = match first {
            "join" => Self::Join,
            "message" => Self::Message,
            "leave" => Self::Leave,
            "v1alpha" if segs[1..] == ["iceconfig"] => return Ok((Self::IceConfig, Vec::new())),
            _ if RELAY_HTTP_PREFIX.strip_prefix('/') == Some(first) => Self::Collider,
            "" if segs.len() == 1 => return Ok((Self::Page, Vec::new())),
            "params" | "r" | "static" => return Ok((Self::Page, Vec::new())),
            _ => return Err(ApiError::NotFound("no such route".to_owned())),
        };
        segs.remove(0);
        // A room-server path with more or fewer ids is no route (as API Gateway's routes see
        // it); a collider path of another shape is the collider's to answer.
        if route != Self::Collider && segs.len() != route.arity() {
            return Err(ApiError::NotFound("no such route".to_owned()));
        }
        Ok((route, segs))
    }

    /// The route's own path segment (the name of its deployed function, too).
    pub fn name(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Message => "message",
            Self::Leave => "leave",
            Self::IceConfig => "iceconfig",
            Self::Collider => "relay",
            Self::Page => "web",
        }
    }

    /// The route's path as a pattern (a metric's label): `/join/{room}`, `/relay/{room}/{client}`,
    /// `/{page}` for the pages.
    pub fn pattern(self) -> &'static str {
        match self {
            Self::Join => "/join/{room}",
            Self::Message => "/message/{room}/{client}",
            Self::Leave => "/leave/{room}/{client}",
            Self::IceConfig => "/v1alpha/iceconfig",
            Self::Collider => "/relay/{room}/{client}",
            Self::Page => "/{page}",
        }
    }

    /// Whether the route takes `method`: the room server's routes take only `POST`; the others
    /// answer every method themselves.
    pub fn allows(self, method: &Method) -> bool {
        !matches!(self, Self::Join | Self::Message | Self::Leave) || method == Method::POST
    }

    /// The answer to a path with another number of ids than the route takes.
    pub fn wrong_ids(self) -> ApiError {
        ApiError::NotFound(format!(
            "expected /{}{}",
            self.name(),
            "/{id}".repeat(self.arity())
        ))
    }

    /// How many ids follow the route's own segment.
    pub fn arity(self) -> usize {
        match self {
            Self::Join => 1,
            Self::Message | Self::Leave | Self::Collider => 2,
            Self::IceConfig | Self::Page => 0,
        }
    }
}

/// A request as every host hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its method.
    pub method: &'a Method,
    /// Its path (percent-encoded), without any prefix of the host's own.
    pub path: &'a str,
    /// The ids in the path, in order (room, then client).
    pub ids: &'a [String],
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Its whole body (a host bounds it).
    pub body: &'a [u8],
    /// Scheme, host, query and `User-Agent`.
    pub ctx: &'a RequestContext,
}

/// The use cases and settings a host answers with.
#[derive(Debug, Clone, Copy)]
pub struct Services<'a> {
    /// `join`, `message`, `leave`, the pages' room state.
    pub rooms: &'a RoomService,
    /// The collider's HTTP side.
    pub relay: &'a StoredRelay,
    /// The settings.
    pub settings: &'a Settings,
}

/// Sees the use cases' typed results before they become responses (a host's metrics); every
/// method does nothing unless implemented.
pub trait Observer: Sync {
    /// A join's result.
    fn joined(&self, _reply: &Result<JoinReply, ServiceError>) {}
    /// A message's result.
    fn messaged(&self, _reply: &Result<MessageReply, ServiceError>) {}
}

/// An observer that sees nothing (the Lambda functions: their metrics are CloudWatch's).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl Observer for Unobserved {}

/// Answers one request for `route`. A request that cannot reach a use case (method, ids) is
/// answered here too.
pub async fn answer(
    route: Route,
    req: &Request<'_>,
    services: &Services<'_>,
    observer: &dyn Observer,
) -> HttpResponse {
    answer_route(route, req, services, observer)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

async fn answer_route(
    route: Route,
    req: &Request<'_>,
    services: &Services<'_>,
    observer: &dyn Observer,
) -> Result<HttpResponse, ApiError> {
    let Services {
        rooms,
        relay,
        settings,
    } = *services;
    let ctx = req.ctx;
    if !route.allows(req.method) {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    if matches!(route, Route::Join | Route::Message | Route::Leave)
        && req.ids.len() != route.arity()
    {
        return Err(route.wrong_ids());
    }
    let room = || RoomId::parse(&req.ids[0]).map_err(|e| ApiError::invalid_id("room", e));
    let client = || ClientId::parse(&req.ids[1]).map_err(|e| ApiError::invalid_id("client", e));
    Ok(match route {
        Route::Join => {
            let room = room()?;
            let reply = rooms.join(&room, ctx.loopback()).await;
            observer.joined(&reply);
            join_response(ctx, settings, &room, reply)
        }
        Route::Message => {
            let (room, client) = (room()?, client()?);
            let reply = rooms.message(&room, &client, req.body).await;
            observer.messaged(&reply);
            message_response(reply)
        }
        Route::Leave => {
            let (room, client) = (room()?, client()?);
            leave_response(rooms.leave(&room, &client).await)
        }
        Route::IceConfig => {
            let origin = req
                .headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok());
            ice_response(ctx, settings, req.method, origin, rooms.now())
        }
        Route::Collider => {
            if *req.method != Method::POST && *req.method != Method::DELETE {
                return Ok(collider_preflight());
            }
            let Some((room, client)) = collider_target(req.ids) else {
                let path = format!("/{}", req.ids.join("/"));
                return Ok(with_collider_cors(collider_invalid_path(&path)));
            };
            if *req.method == Method::POST {
                collider_post_response(relay.post(&room, &client, req.body).await)
            } else {
                relay.delete(&room, &client).await;
                with_collider_cors(collider_ok())
            }
        }
        Route::Page => {
            let page = PageRequest::new(req.method, req.path, req.headers, ctx);
            serve_page(&page, settings, rooms).await
        }
    })
}

/// The room and client of a collider path, when it is `/<room>/<client>` with valid ids.
fn collider_target(ids: &[String]) -> Option<(RoomId, ClientId)> {
    match ids {
        [room, client] => Some((RoomId::parse(room).ok()?, ClientId::parse(client).ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_route_and_ids() {
        let of = |p: &str| Route::of(p).ok();
        assert_eq!(of("/join/r1"), Some((Route::Join, vec!["r1".to_owned()])));
        assert_eq!(
            of("/message/r1/c%2D1"),
            Some((Route::Message, vec!["r1".to_owned(), "c-1".to_owned()]))
        );
        assert_eq!(of("/v1alpha/iceconfig"), Some((Route::IceConfig, vec![])));
        assert_eq!(of("/v1alpha/other"), None);
        assert_eq!(
            of("/relay/r/c"),
            Some((Route::Collider, vec!["r".to_owned(), "c".to_owned()]))
        );
        for page in ["/", "/r/abc", "/params", "/static/app.js"] {
            assert_eq!(of(page), Some((Route::Page, vec![])), "{page}");
        }
        assert_eq!(of("/nope"), None);
        assert_eq!(of("//"), None);
    }
}
