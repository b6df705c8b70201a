//! The API Gateway stand-in itself: HTTP requests as Lambda HTTP events for the deployed
//! handlers, `/ws` as an API Gateway WebSocket API (connection ids, route selection on `cmd`,
//! `$disconnect` events), each function's instances, the keep-alive schedule and the table
//! stream. What each behaviour follows is cited in [`super`].

use super::options::GatewayOptions;
use crate::body::{BodyError, collider_body_error, message_body_error, read_body, reply};
use crate::ops::health::healthz;
use crate::ops::metrics::labelled;
use crate::websocket::decoder::{FrameLimits, Message, ReadError, close_code};
use crate::websocket::handshake::Upgrade;
use crate::websocket::socket::WebSocket;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{any, get};
use http::StatusCode;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayWebsocketProxyRequest, ApiGatewayWebsocketProxyRequestContext,
};
use room::adapters::lambda::{Deployment, handle, handle_websocket};
use room::http::routes::Route;
use room::http::{HttpResponse, json_response};
use room::ports::Handoffs;
use room::{ClientId, RoomId};
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

/// The functions' timeout (`Globals.Function.Timeout` in `template.yaml`): "the amount of time
/// that Lambda allows a function to run before stopping it"
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html>).
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(6);

/// The keep-alive function's own timeout (`keepalive`'s `Timeout` in `template.yaml`).
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often Lambda polls a DynamoDB stream's shard: four times a second.
const STREAM_POLL: Duration = Duration::from_millis(250);

/// Frames waiting for one stand-in connection before it counts as a slow reader.
const OUTBOUND_QUEUE: usize = 1088;

/// API Gateway's WebSocket frame size quota (not adjustable).
const MAX_FRAME: usize = 32 * 1024;
/// API Gateway's WebSocket message payload quota, also PostToConnection's data limit.
pub(crate) const MAX_MESSAGE: usize = 128 * 1024;
/// API Gateway's HTTP API payload quota: "Payload size: 10 MB" (not adjustable,
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html>); a larger
/// request is answered 413 without invoking the function.
const API_GATEWAY_PAYLOAD: usize = 10 * 1024 * 1024;

/// Frames and closes for one stand-in WebSocket connection.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Frame(String),
    Close,
}

/// The functions of `template.yaml`, each with one permit per instance: Lambda scales every
/// function on its own.
#[derive(Debug)]
struct Functions {
    join: Semaphore,
    message: Semaphore,
    leave: Semaphore,
    iceconfig: Semaphore,
    collider: Semaphore,
    web: Semaphore,
    /// Every WebSocket route.
    relay: Semaphore,
    keepalive: Semaphore,
}

impl Functions {
    fn new(instances: usize) -> Self {
        let pool = || Semaphore::new(instances.max(1));
        Self {
            join: pool(),
            message: pool(),
            leave: pool(),
            iceconfig: pool(),
            collider: pool(),
            web: pool(),
            relay: pool(),
            keepalive: pool(),
        }
    }

    /// The instances of the function the HTTP API invokes for `route`.
    fn http(&self, route: Route) -> &Semaphore {
        match route {
            Route::Join => &self.join,
            Route::Message => &self.message,
            Route::Leave => &self.leave,
            Route::IceConfig => &self.iceconfig,
            Route::Collider => &self.collider,
            Route::Page => &self.web,
        }
    }
}

/// A queue handed off: its room and member.
type HandedOff = (RoomId, ClientId);

/// The table's stream as the deployed event source mapping passes it on: the records of the
/// writes that hand a queue off (the template's filter lets no other through).
#[derive(Debug, Clone)]
pub struct TableStream(mpsc::UnboundedSender<HandedOff>);

impl Handoffs for TableStream {
    fn handed_off(&self, room: &RoomId, member: &ClientId) {
        // Closed only when the stand-in stopped: nothing is delivered any more anyway.
        let _ = self.0.send((room.clone(), member.clone()));
    }
}

/// A table stream for the deployment's relay, and its records for [`AwsLocal::new`].
pub fn table_stream() -> (TableStream, mpsc::UnboundedReceiver<HandedOff>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (TableStream(tx), rx)
}

/// The stand-in's state: the deployment, its open connections and its functions' instances.
#[derive(Debug)]
pub struct AwsLocal {
    deployment: Deployment,
    connections: Mutex<HashMap<String, mpsc::Sender<Outgoing>>>,
    gateway: GatewayOptions,
    functions: Functions,
    /// The table stream's records, until [`stream_trigger`] takes them.
    stream: Mutex<Option<mpsc::UnboundedReceiver<HandedOff>>>,
}

impl AwsLocal {
    /// Serves `deployment` (whose relay endpoint must point at [`management_router`] and whose
    /// hand-offs go to the [`table_stream`] whose records are `stream`).
    pub fn new(
        deployment: Deployment,
        gateway: GatewayOptions,
        stream: mpsc::UnboundedReceiver<HandedOff>,
    ) -> Arc<Self> {
        Arc::new(Self {
            deployment,
            connections: Mutex::new(HashMap::new()),
            functions: Functions::new(gateway.instances),
            gateway,
            stream: Mutex::new(Some(stream)),
        })
    }

    /// Runs `work` as one invocation of the keep-alive function: on a free instance, with its
    /// timeout as the deadline, stopped there.
    async fn keepalive<F: Future<Output = ()>>(&self, work: F) {
        let Ok(_instance) = self.functions.keepalive.acquire().await else {
            return;
        };
        let deadline = Instant::now() + KEEPALIVE_TIMEOUT;
        let run = room::retry::within(deadline, work);
        if tokio::time::timeout_at(deadline, run).await.is_err() {
            tracing::warn!(timeout = ?KEEPALIVE_TIMEOUT, "keep-alive invocation timed out");
        }
    }

    /// Runs one WebSocket event as Lambda would: after the delay API Gateway and a cold or busy
    /// instance add, on a free instance of `relay`, independently of every other event.
    fn invoke(self: &Arc<Self>, event: ApiGatewayWebsocketProxyRequest, delay: Duration) {
        let aws = self.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let Ok(_instance) = aws.functions.relay.acquire().await else {
                return;
            };
            // Lambda stops an invocation at its timeout; the handler's retries see the deadline
            // as the Lambda context gives it.
            let deadline = Instant::now() + FUNCTION_TIMEOUT;
            let run = room::retry::within(deadline, handle_websocket(&aws.deployment, event));
            if tokio::time::timeout_at(deadline, run).await.is_err() {
                tracing::warn!(timeout = ?FUNCTION_TIMEOUT, "invocation timed out");
            }
        });
    }

    fn jitter(&self) -> Duration {
        random_below(self.gateway.jitter)
    }

    pub(crate) fn sender(&self, id: &str) -> Option<mpsc::Sender<Outgoing>> {
        self.connections.lock().ok()?.get(id).cloned()
    }
}

/// What the stand-in's public routes hold: the stand-in, and from the server the limits of a
/// socket, the tracker shutdown waits on and the shutdown signal.
#[derive(Debug, Clone)]
struct Edge {
    aws: Arc<AwsLocal>,
    limits: FrameLimits,
    sockets: TaskTracker,
    shutdown: watch::Receiver<bool>,
}

/// The public routes in aws-local mode; sockets get API Gateway's frame and message quotas
/// within the server's `limits`.
pub fn router(
    aws: Arc<AwsLocal>,
    limits: FrameLimits,
    sockets: TaskTracker,
    shutdown: watch::Receiver<bool>,
) -> Router {
    let limits = FrameLimits {
        max_message: MAX_MESSAGE,
        max_frame: MAX_FRAME,
        ..limits
    };
    Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(healthz))
        .fallback(any(lambda))
        .with_state(Edge {
            aws,
            limits,
            sockets,
            shutdown,
        })
}

/// Which deployed function API Gateway would invoke for this path (the one route table), with
/// its path parameters.
fn route_of(path: &str) -> Option<(Route, HashMap<String, String>)> {
    let (route, ids) = Route::of(path).ok()?;
    if ids.len() != route.arity() {
        return None;
    }
    let params = ["room", "client"]
        .into_iter()
        .map(str::to_owned)
        .zip(ids)
        .collect();
    Some((route, params))
}

/// API Gateway's own answer to a request over its payload limit, which no function sees (the
/// stand-in gives it where the deployed gateway would).
fn gateway_payload_too_large() -> HttpResponse {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &json!({"message": "Request Entity Too Large"}),
    )
}

/// Turns the request into the Lambda HTTP request API Gateway would deliver and runs the handler.
async fn lambda(State(edge): State<Edge>, req: Request) -> Response {
    let Some((route, path_params)) = route_of(req.uri().path()) else {
        return crate::body::not_found_response();
    };
    labelled(invoke_http(&edge, route, path_params, req).await, route)
}

/// One invocation of `route`'s function for `req`, on a free instance, within its timeout.
async fn invoke_http(
    edge: &Edge,
    route: Route,
    path_params: HashMap<String, String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    // The function gets every body up to API Gateway's own payload limit and answers it as
    // deployed; over it, API Gateway answers 413 itself. A body that cannot be read never
    // reaches a function: answered as every backend answers it.
    let bytes = match read_body(body, API_GATEWAY_PAYLOAD).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge { .. }) => return reply(gateway_payload_too_large()),
        Err(e) if route == Route::Collider => {
            return reply(collider_body_error(&e));
        }
        Err(e) => return reply(message_body_error(&e)),
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
    // A free instance of the route's function, held until the handler returns (the semaphore
    // is never closed).
    let _instance = edge.aws.functions.http(route).acquire().await;
    let deadline = Instant::now() + FUNCTION_TIMEOUT;
    let res = room::retry::within(deadline, handle(&edge.aws.deployment, route, lambda_req)).await;
    let (parts, body) = res.into_parts();
    Response::from_parts(parts, Body::from(body.to_vec()))
}

async fn upgrade(State(edge): State<Edge>, ws: Upgrade) -> Response {
    ws.on_upgrade(edge.limits, move |socket| {
        let tracker = edge.sockets.clone();
        tracker.track_future(serve_socket(edge, socket))
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

/// A random duration in `[0, max]`.
fn random_below(max: Duration) -> Duration {
    let mut b = [0u8; 8];
    if max.is_zero() || getrandom::fill(&mut b).is_err() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(u64::from_le_bytes(b) % nanos.saturating_add(1))
}

fn percent_chance(percent: u8) -> bool {
    let mut b = [0u8; 1];
    percent > 0
        && getrandom::fill(&mut b).is_ok()
        && u32::from(b[0]) * 100 < u32::from(percent) * 256
}

/// The keep-alive function on its schedule (the template's EventBridge rule).
pub async fn keepalive_schedule(aws: Arc<AwsLocal>, mut shutdown: watch::Receiver<bool>) {
    let every = aws.gateway.keepalive_interval;
    if every.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => aws.keepalive(async {
                match aws.deployment.relay.sweep().await {
                    Ok(s) => tracing::debug!(kept_alive = s.kept_alive, gone = s.gone, flushed = s.flushed, "keep-alive sweep"),
                    Err(e) => tracing::warn!(error = %e, "keep-alive sweep failed"),
                }
            }).await,
            _ = shutdown.changed() => return,
        }
    }
}

/// The keep-alive function's stream trigger: every queue handed off starts an invocation that
/// delivers it, within a stream poll of the hand-off.
pub async fn stream_trigger(aws: Arc<AwsLocal>, mut shutdown: watch::Receiver<bool>) {
    let records = aws.stream.lock().ok().and_then(|mut s| s.take());
    let Some(mut records) = records else {
        return;
    };
    loop {
        tokio::select! {
            record = records.recv() => {
                let Some((room, member)) = record else { return };
                let aws = aws.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(random_below(STREAM_POLL)).await;
                    aws.keepalive(async {
                        match aws.deployment.relay.drain(&room, &member).await {
                            Ok(delivered) => tracing::debug!(%room, client = %member, delivered, "handed-off queue"),
                            Err(e) => tracing::warn!(%room, client = %member, error = %e, "handed-off queue not read"),
                        }
                    }).await;
                });
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn serve_socket(edge: Edge, mut socket: WebSocket) {
    let aws = edge.aws;
    let id = new_connection_id();
    let (tx, mut rx) = mpsc::channel::<Outgoing>(OUTBOUND_QUEUE);
    if let Ok(mut c) = aws.connections.lock() {
        c.insert(id.clone(), tx);
    }
    let gw = aws.gateway.clone();
    let ends = tokio::time::sleep(gw.max_connection);
    tokio::pin!(ends);
    let idle = tokio::time::sleep(gw.idle_timeout);
    tokio::pin!(idle);
    let mut shutdown = edge.shutdown;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                idle.as_mut().reset(Instant::now() + gw.idle_timeout);
                match incoming {
                    Ok(Message::Text(text)) => {
                        let ev = event(&id, "MESSAGE", route_key(&text), Some(text));
                        aws.invoke(ev, aws.jitter());
                    }
                    Ok(Message::Binary(_)) => {
                        let _ = socket.close(close_code::UNSUPPORTED, "binary frames are not supported").await;
                        break;
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
                }
            }
            out = rx.recv() => match out {
                Some(Outgoing::Frame(f)) => {
                    idle.as_mut().reset(Instant::now() + gw.idle_timeout);
                    if socket.send_text(f.as_bytes()).await.is_err() { break; }
                }
                Some(Outgoing::Close) | None => {
                    let _ = socket.close(close_code::NORMAL, "").await;
                    break;
                }
            },
            () = &mut idle => {
                let _ = socket.close(close_code::AWAY, "Going away").await;
                break;
            }
            () = &mut ends => {
                let _ = socket.close(close_code::AWAY, "Going away").await;
                break;
            }
            _ = shutdown.changed() => {
                let _ = socket.close(close_code::AWAY, "server shutting down").await;
                break;
            }
        }
    }
    if let Ok(mut c) = aws.connections.lock() {
        c.remove(&id);
    }
    if percent_chance(gw.disconnect_loss) {
        tracing::debug!(connection = %id, "$disconnect lost (--apigw-disconnect-loss)");
        return;
    }
    let delay = gw.disconnect_delay + aws.jitter();
    aws.invoke(event(&id, "DISCONNECT", "$disconnect", None), delay);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use room::adapters::lambda::DeployConfig;
    use room::adapters::memory::MemoryRoomStore;
    use room::service::rooms::JoinReply;
    use room::testing::FakeConnections;

    /// A hand-off reaches the stand-in's table stream, and the keep-alive invocation it starts
    /// delivers the queue once posts work again, with no other frame and no sweep.
    #[tokio::test]
    async fn the_table_stream_starts_the_delivery_of_a_queue_handed_off() {
        let config =
            DeployConfig::from_lookup(|k| (k == "TABLE_NAME").then(|| "t".into())).unwrap();
        let conns = Arc::new(FakeConnections::default());
        let (stream, records) = table_stream();
        let deployment = Deployment::on_clock(
            config,
            Arc::new(MemoryRoomStore::new()),
            conns.clone(),
            Arc::new(room::ports::SystemClock),
            Arc::new(stream),
        );
        let aws = AwsLocal::new(deployment, GatewayOptions::default(), records);
        let (stop, shutdown) = watch::channel(false);
        let trigger = tokio::spawn(stream_trigger(aws.clone(), shutdown));
        let dep = &aws.deployment;
        let r = RoomId::parse("stream2").unwrap();
        for conn in ["ca", "cb"] {
            let JoinReply::Joined { client_id, .. } = dep.service.join(&r, false).await.unwrap()
            else {
                panic!("not joined");
            };
            conns.open(conn);
            let register =
                format!(r#"{{"cmd":"register","roomid":"stream2","clientid":"{client_id}"}}"#);
            dep.relay.on_frame(&conn.into(), &register).await;
        }
        conns.fail_posts("cb", true);
        let deadline = Instant::now() + Duration::from_secs(1);
        let send = r#"{"cmd":"send","msg":"{\"type\":\"offer\",\"sdp\":\"x\"}"}"#;
        room::retry::within(deadline, dep.relay.on_frame(&"ca".into(), send)).await;
        assert!(conns.take("ca").is_empty(), "no error frame");
        let failed = conns.failed_posts();
        assert!(failed > 1, "{failed} posts");
        conns.fail_posts("cb", false);
        // The keep-alive invocation the hand-off started may already have failed once more and
        // handed off again; one of them delivers within a few stream polls.
        let got = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let got = conns.take("cb");
                if !got.is_empty() {
                    return got;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the handed-off queue was delivered");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("offer"));
        stop.send(true).unwrap();
        trigger.await.unwrap();
    }
}
