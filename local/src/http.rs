//! HTTP pieces the emulator's own routes, its relay sockets and the aws-local stand-in share:
//! a `room::http` answer as an axum response, a bounded body read, the client's address.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use room::http::{ApiError, BodyError, error_response, liveness_response};

/// A response built by `room::http`, as axum sends it.
pub(crate) fn reply<B: Into<Body>>(res: http::Response<B>) -> Response {
    res.map(Into::into).into_response()
}

/// The client's address, when the listener recorded it.
pub(crate) struct PeerIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The answer for a path no route matches.
pub(crate) fn not_found_response() -> Response {
    reply(error_response(&ApiError::NotFound(
        "no such route".to_owned(),
    )))
}

/// Reads a whole request body of at most `max` bytes; says why when it cannot.
pub(crate) async fn read_body(body: Body, max: usize) -> Result<Bytes, BodyError> {
    let e = match to_bytes(body, max).await {
        Ok(bytes) => return Ok(bytes),
        Err(e) => e.into_inner(),
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return Err(BodyError::TooLarge { max });
        }
        cause = c.source();
    }
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let part = c.to_string();
        if !why.contains(&part) {
            why = format!("{why}: {part}");
        }
        source = c.source();
    }
    Err(BodyError::Unreadable(why))
}

/// `/healthz`: the process is alive.
pub(crate) async fn healthz() -> Response {
    reply(liveness_response())
}
