//! What the emulator's routes and the aws-local stand-in share around a request: a bounded body
//! read and the answers to a body that was not taken, a `room::http` answer as an axum response,
//! the client's address.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use room::domain::message::MessageError;
use room::domain::message::RelayError;
use room::http::{
    ApiError, HttpResponse, collider_post_reply, error_response, message_response, text_response,
    with_collider_cors,
};
use room::service::rooms::MessageReply;

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

/// Why a request body was not taken. The emulator and the stand-in read bodies themselves and
/// answer these through [`message_body_error`] and [`collider_body_error`], so that a body is
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
