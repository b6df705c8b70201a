//! Liveness (`GET /healthz`: the process answers) and readiness (`GET /readyz`: one real store
//! call answers) of every listener.

use crate::body::reply;
use axum::response::Response;
use http::StatusCode;
use room::http::{HttpResponse, text_response};
use room::ports::StoreError;

/// `/healthz`: the process is alive.
pub(crate) async fn healthz() -> Response {
    reply(liveness_response())
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
