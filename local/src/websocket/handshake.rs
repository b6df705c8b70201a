//! The opening handshake of RFC 6455 (§4.2): [`Upgrade`] checks a request (an axum extractor)
//! and answers 101, or says why it refuses with [`handshake_error_response`]. No extension or
//! subprotocol is negotiated.

use super::decoder::FrameLimits;
use super::socket::WebSocket;
use crate::body::reply;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use room::http::{HttpResponse, text_response};
use std::future::Future;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &[u8]) -> String {
    tungstenite::handshake::derive_accept_key(key)
}

/// A valid WebSocket opening handshake, ready to be answered with 101.
#[derive(Debug)]
pub struct Upgrade {
    accept: String,
    on_upgrade: OnUpgrade,
}

/// Whether a comma-separated header lists `token` (case-insensitive).
fn lists_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

impl Upgrade {
    /// Checks the opening handshake of RFC 6455 §4.2.1.
    pub fn from_parts(parts: &mut Parts) -> Result<Self, HandshakeError> {
        if parts.method != Method::GET {
            return Err(HandshakeError::Method);
        }
        if !lists_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(HandshakeError::Connection);
        }
        if !lists_token(&parts.headers, header::UPGRADE, "websocket") {
            return Err(HandshakeError::UpgradeHeader);
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(HandshakeError::Version);
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err(HandshakeError::Key);
        };
        let accept = accept_key(key.as_bytes());
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(HandshakeError::NotUpgradable)?;
        Ok(Self { accept, on_upgrade })
    }

    /// Answers 101 and runs `serve` on the socket once the connection is handed over.
    pub fn on_upgrade<F, Fut>(self, limits: FrameLimits, serve: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self { accept, on_upgrade } = self;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => serve(WebSocket::new(TokioIo::new(upgraded), limits)).await,
                Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
            }
        });
        let mut res = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        res
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts).map_err(|e| reply(handshake_error_response(e)))
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
