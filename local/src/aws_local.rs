//! `--backend aws-local`: the AWS path on one machine. HTTP requests become Lambda HTTP requests
//! for the deployed handlers (`room::adapters::lambda::handle`); `/ws` stands in for an API
//! Gateway WebSocket API (connection ids, route selection on `cmd`, `$disconnect` events for the
//! deployed `handle_websocket`); a loopback-only listener serves the `@connections` management API
//! that the real `aws-sdk-apigatewaymanagement` client posts to.

use crate::App;
use crate::websocket::{Message, ReadError, Upgrade, WebSocket, close_code};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayWebsocketProxyRequest, ApiGatewayWebsocketProxyRequestContext,
};
use room::adapters::lambda::{Deployment, Route, handle, handle_websocket};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Frames waiting for one stand-in connection before it counts as a slow reader.
const OUTBOUND_QUEUE: usize = 1088;

/// Frames and closes for one stand-in WebSocket connection.
#[derive(Debug)]
enum Outgoing {
    Frame(String),
    Close,
}

/// The stand-in's state: the deployment and its open connections.
#[derive(Debug)]
pub struct AwsLocal {
    deployment: Deployment,
    connections: Mutex<HashMap<String, mpsc::Sender<Outgoing>>>,
}

impl AwsLocal {
    /// Serves `deployment` (whose relay endpoint must point at [`management_router`]).
    pub fn new(deployment: Deployment) -> Arc<Self> {
        Arc::new(Self {
            deployment,
            connections: Mutex::new(HashMap::new()),
        })
    }

    fn sender(&self, id: &str) -> Option<mpsc::Sender<Outgoing>> {
        self.connections.lock().ok()?.get(id).cloned()
    }
}

/// The public routes in aws-local mode.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(any(lambda))
        .with_state(app)
}

/// Which deployed function API Gateway would invoke for this path, with its path parameters.
fn route_of(path: &str) -> Option<(Route, HashMap<String, String>)> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let params = |names: &[&str], values: &[&str]| -> HashMap<String, String> {
        names
            .iter()
            .zip(values)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    Some(match segs.as_slice() {
        ["join", room] => (Route::Join, params(&["room"], &[room])),
        ["message", room, client] => (Route::Message, params(&["room", "client"], &[room, client])),
        ["leave", room, client] => (Route::Leave, params(&["room", "client"], &[room, client])),
        ["relay", room, client] => (
            Route::Collider,
            params(&["room", "client"], &[room, client]),
        ),
        ["v1alpha", "iceconfig"] => (Route::IceConfig, HashMap::new()),
        [""] | ["params"] | ["r", _] => (Route::Web, HashMap::new()),
        _ => return None,
    })
}

/// Turns the request into the Lambda HTTP request API Gateway would deliver and runs the handler.
async fn lambda(State(app): State<App>, req: Request) -> Response {
    let Some(aws) = app.aws.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((route, path_params)) = route_of(req.uri().path()) else {
        return crate::routes::not_found_response();
    };
    let (parts, body) = req.into_parts();
    let max = app.settings.limits.max_message_bytes;
    let Ok(bytes) = to_bytes(body, max).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {max} bytes\n"),
        )
            .into_response();
    };
    let query: HashMap<String, String> = room::http::parse_query(parts.uri.query().unwrap_or(""))
        .into_iter()
        .collect();
    let scheme = parts
        .extensions
        .get::<crate::serve::Scheme>()
        .map_or("http", |s| s.0);
    let mut lambda_req =
        lambda_http::Request::from_parts(parts, lambda_http::Body::from(bytes.to_vec()))
            .with_path_parameters(path_params)
            .with_query_string_parameters(query);
    // API Gateway always tells the function how the client connected.
    if let Ok(v) = scheme.parse() {
        lambda_req.headers_mut().insert("x-forwarded-proto", v);
    }
    let res = handle(&aws.deployment, route, lambda_req).await;
    let (parts, body) = res.into_parts();
    Response::from_parts(parts, Body::from(body.to_vec()))
}

async fn upgrade(State(app): State<App>, ws: Upgrade) -> Response {
    ws.on_upgrade(app.websocket_limits(), move |socket| {
        let tracker = app.sockets.clone();
        tracker.track_future(serve_socket(app, socket))
    })
}

/// A fresh connection id, like API Gateway's (opaque, unique).
fn new_connection_id() -> String {
    use room::ports::IdSource as _;
    room::ports::RandomIds.client_id().map_or_else(
        || format!("conn{}", std::process::id()),
        |id| format!("{id}="),
    )
}

fn event(
    connection: &str,
    event_type: &str,
    route_key: &str,
    body: Option<String>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut ctx = ApiGatewayWebsocketProxyRequestContext::default();
    ctx.connection_id = Some(connection.to_owned());
    ctx.event_type = Some(event_type.to_owned());
    ctx.route_key = Some(route_key.to_owned());
    ctx.stage = Some("local".to_owned());
    let mut ev = ApiGatewayWebsocketProxyRequest::default();
    ev.request_context = ctx;
    ev.body = body;
    ev
}

/// API Gateway's route selection: `$request.body.cmd`, `$default` when it does not match.
fn route_key(text: &str) -> &'static str {
    match serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .as_ref()
        .and_then(|v| v.get("cmd"))
        .and_then(|c| c.as_str())
    {
        Some("register") => "register",
        Some("send") => "send",
        _ => "$default",
    }
}

async fn serve_socket(app: App, mut socket: WebSocket) {
    let Some(aws) = app.aws.clone() else { return };
    let id = new_connection_id();
    let (tx, mut rx) = mpsc::channel::<Outgoing>(OUTBOUND_QUEUE);
    if let Ok(mut c) = aws.connections.lock() {
        c.insert(id.clone(), tx);
    }
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Ok(Message::Text(text)) => {
                    handle_websocket(&aws.deployment, event(&id, "MESSAGE", route_key(&text), Some(text))).await;
                }
                Ok(Message::Binary(_)) => {
                    // API Gateway hands binary frames to $default as base64; the relay rejects them.
                    handle_websocket(&aws.deployment, event(&id, "MESSAGE", "$default", Some(String::new()))).await;
                }
                Ok(Message::Ping(payload)) => {
                    if socket.pong(&payload).await.is_err() { break; }
                }
                Ok(Message::Pong) => {}
                Ok(Message::Close(_)) => {
                    let _ = socket.close(close_code::NORMAL, "").await;
                    break;
                }
                Err(ReadError::Protocol(code, reason)) => {
                    let _ = socket.close(code, reason).await;
                    break;
                }
                Err(_) => break,
            },
            out = rx.recv() => match out {
                Some(Outgoing::Frame(f)) => {
                    if socket.send_text(f.as_bytes()).await.is_err() { break; }
                }
                Some(Outgoing::Close) | None => {
                    let _ = socket.close(close_code::NORMAL, "").await;
                    break;
                }
            },
            _ = shutdown.changed() => {
                let _ = socket.close(close_code::AWAY, "server shutting down").await;
                break;
            }
        }
    }
    if let Ok(mut c) = aws.connections.lock() {
        c.remove(&id);
    }
    handle_websocket(
        &aws.deployment,
        event(&id, "DISCONNECT", "$disconnect", None),
    )
    .await;
}

/// The `@connections` management API (PostToConnection, GetConnection, DeleteConnection), for a
/// listener on 127.0.0.1 only.
pub fn management_router(aws: Arc<AwsLocal>) -> Router {
    Router::new()
        .route("/@connections/{id}", any(manage))
        .with_state(aws)
}

async fn manage(
    State(aws): State<Arc<AwsLocal>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let gone = || (StatusCode::GONE, "{\"message\":\"GoneException\"}").into_response();
    let Some(tx) = aws.sender(&id) else {
        return gone();
    };
    match *req.method() {
        axum::http::Method::POST => {
            let Ok(body) = to_bytes(req.into_body(), 256 * 1024).await else {
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "{\"message\":\"PayloadTooLargeException\"}",
                )
                    .into_response();
            };
            match tx.try_send(Outgoing::Frame(String::from_utf8_lossy(&body).into_owned())) {
                Ok(()) => StatusCode::OK.into_response(),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let _ = tx.try_send(Outgoing::Close);
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        "{\"message\":\"LimitExceededException\"}",
                    )
                        .into_response()
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone(),
            }
        }
        axum::http::Method::GET => {
            (StatusCode::OK, "{\"connectedAt\":\"2026-01-01T00:00:00Z\"}").into_response()
        }
        axum::http::Method::DELETE => {
            let _ = tx.try_send(Outgoing::Close);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}
