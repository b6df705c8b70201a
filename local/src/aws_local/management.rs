//! The `@connections` management API of the stand-in (PostToConnection, GetConnection,
//! DeleteConnection), answered as AWS answers it, on a listener bound to 127.0.0.1 only.

use super::gateway::{AwsLocal, MAX_MESSAGE, Outgoing};
use crate::body::reply;
use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::any;
use http::{HeaderValue, StatusCode};
use room::http::{HttpResponse, json_response, text_response};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the API Gateway management API (`@connections`) answers, as the aws-local stand-in
/// gives it to the relay's management client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagementReply {
    /// `POST`: the frame is on its way to the socket.
    Posted,
    /// `GET`: the connection is open.
    Open,
    /// `DELETE`: the connection is being closed.
    Deleted,
    /// The connection is gone (`GoneException`).
    Gone,
    /// The frame is over the frame limit (`PayloadTooLargeException`).
    PayloadTooLarge,
    /// The connection is not reading fast enough (`LimitExceededException`).
    LimitExceeded,
    /// A method the API does not have.
    MethodNotAllowed,
}

/// The management API's answer: an empty success, the connection's details, or an error named
/// in `x-amzn-errortype` and the JSON body. The SDK takes an error's type from that header (or a
/// `__type` field), not from the message: without it a 410 is not a `GoneException` to the relay,
/// and a post to a closed connection looks like an outage.
pub fn management_response(reply: ManagementReply) -> HttpResponse {
    let error = |status, kind: &'static str| {
        let mut res = json_response(status, &json!({ "message": kind }));
        res.headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(kind));
        res
    };
    match reply {
        ManagementReply::Posted => text_response(StatusCode::OK, ""),
        ManagementReply::Open => json_response(
            StatusCode::OK,
            &json!({"connectedAt": "2026-01-01T00:00:00Z"}),
        ),
        ManagementReply::Deleted => text_response(StatusCode::NO_CONTENT, ""),
        ManagementReply::Gone => error(StatusCode::GONE, "GoneException"),
        ManagementReply::PayloadTooLarge => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException")
        }
        ManagementReply::LimitExceeded => {
            error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException")
        }
        ManagementReply::MethodNotAllowed => text_response(StatusCode::METHOD_NOT_ALLOWED, ""),
    }
}

/// The `@connections` management API (PostToConnection, GetConnection, DeleteConnection), for a
/// listener on 127.0.0.1 only.
pub fn management_router(aws: Arc<AwsLocal>) -> Router {
    Router::new()
        .route("/@connections/{id}", any(manage))
        .with_state(aws)
}

/// One management API call, answered as AWS answers it ([`management_response`]).
async fn manage(
    State(aws): State<Arc<AwsLocal>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    reply(management_response(manage_reply(&aws, &id, req).await))
}

/// What the management API does with `req` for connection `id`.
async fn manage_reply(aws: &AwsLocal, id: &str, req: Request) -> ManagementReply {
    let Some(tx) = aws.sender(id) else {
        return ManagementReply::Gone;
    };
    match *req.method() {
        axum::http::Method::POST => {
            let Ok(body) = to_bytes(req.into_body(), MAX_MESSAGE).await else {
                return ManagementReply::PayloadTooLarge;
            };
            match tx.try_send(Outgoing::Frame(String::from_utf8_lossy(&body).into_owned())) {
                Ok(()) => ManagementReply::Posted,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let _ = tx.try_send(Outgoing::Close);
                    ManagementReply::LimitExceeded
                }
                Err(mpsc::error::TrySendError::Closed(_)) => ManagementReply::Gone,
            }
        }
        axum::http::Method::GET => ManagementReply::Open,
        axum::http::Method::DELETE => {
            let _ = tx.try_send(Outgoing::Close);
            ManagementReply::Deleted
        }
        _ => ManagementReply::MethodNotAllowed,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn management_errors_carry_the_type_the_sdk_reads() {
        for (reply, status, kind) in [
            (ManagementReply::Gone, 410, "GoneException"),
            (
                ManagementReply::PayloadTooLarge,
                413,
                "PayloadTooLargeException",
            ),
            (
                ManagementReply::LimitExceeded,
                429,
                "LimitExceededException",
            ),
        ] {
            let res = management_response(reply);
            assert_eq!(res.status().as_u16(), status);
            assert_eq!(res.headers()["x-amzn-errortype"], kind);
            let body: serde_json::Value = serde_json::from_str(res.body()).unwrap_or_default();
            assert_eq!(body["message"], kind);
        }
        let posted = management_response(ManagementReply::Posted);
        assert_eq!(
            (posted.status(), posted.body().as_str()),
            (StatusCode::OK, "")
        );
        let open = management_response(ManagementReply::Open);
        assert!(open.body().contains("connectedAt"));
    }
}
