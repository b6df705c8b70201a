//! HTTP events: an API Gateway (or function URL, or `cargo lambda watch`) request for the
//! function's one [`Route`] becomes a [`routes::Request`] for the one route table
//! ([`routes::answer`]).

use super::wiring::Deployment;
use crate::http::routes::{self, Route, Services, Unobserved};
use crate::http::{ApiError, error_response, path_segments};
use crate::service::params::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

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
        return Err(route.wrong_ids());
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

fn to_lambda(res: crate::http::HttpResponse) -> Response<Body> {
    res.map(Body::from)
}

/// Answers one HTTP request for `route`. Expected failures are responses, never `Err`.
pub async fn handle(dep: &Deployment, route: Route, req: Request) -> Response<Body> {
    if !route.allows(req.method()) {
        return to_lambda(error_response(&ApiError::MethodNotAllowed {
            allow: "POST",
        }));
    }
    let ids = match path_ids(route, &req) {
        Ok(ids) => ids,
        Err(e) => return to_lambda(error_response(&e)),
    };
    let ctx = request_context(&req);
    let request = routes::Request {
        method: req.method(),
        path: page_path(req.uri().path()),
        ids: &ids,
        headers: req.headers(),
        body: req.body().as_ref(),
        ctx: &ctx,
    };
    let services = Services {
        rooms: &dep.service,
        relay: &dep.relay,
        settings: &dep.settings,
    };
    to_lambda(routes::answer(route, &request, &services, &Unobserved).await)
}

/// The path as the page router sees it: without the `lambda-url/<function>` prefix of
/// `cargo lambda watch`.
fn page_path(path: &str) -> &str {
    match path.strip_prefix("/lambda-url/") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    }
}
