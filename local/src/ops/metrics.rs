//! Prometheus metrics of one server (`GET /metrics`), recorded through the `metrics` facade.
//!
//! Each [`Server`](crate::server::Server) owns its recorder: events are recorded with
//! [`metrics::with_local_recorder`] rather than a process-wide recorder, so several servers in one
//! process (tests) keep separate counts and the `room` library records nothing itself. Gauges
//! (rooms, sockets) are read at scrape time; the rest is counted at this crate's boundary:
//! requests, room-service results, WebSocket frames and every store call (through
//! [`TimedStore`]).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use metrics::{
    Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use room::adapters::memory::MemoryRoomStore;
use room::domain::ids::RoomId;
use room::domain::message::RelayError;
use room::http::routes::{Observer, Route};
use room::http::{HttpResponse, respond};
use room::ports::{
    DeliveryError, Hooked, RoomStore, StoreCall, StoreError, StoreFuture, StoreHook,
};
use room::service::rooms::{JoinReply, MessageReply, ServiceError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Histogram buckets, in seconds: from a memory-store call to a slow DynamoDB operation.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often recorded latencies are folded into the histograms when nobody scrapes (bounds the
/// memory they hold).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The store operations [`TimedStore`] times, in the order of [`Metrics::store_calls`].
const STORE_OPERATIONS: [&str; 11] = [
    "load",
    "swap",
    "connection",
    "park_frame",
    "register_connection",
    "close_connection",
    "registered_connections",
    "queue",
    "append",
    "step",
    "release",
];

/// One server's recorder and the handle that renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    rooms: OnceLock<Arc<MemoryRoomStore>>,
    /// Series counted per frame or per store call, registered once: an update is then an atomic
    /// add, not a registry look-up.
    queued: Counter,
    relayed: Counter,
    store_calls: Vec<Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh recorder with every series described.
    pub fn new() -> Arc<Self> {
        let builder = PrometheusBuilder::new();
        // Only an empty bucket list is refused.
        let builder = builder
            .set_buckets(&LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let (queued, relayed, store_calls) = metrics::with_local_recorder(&recorder, || {
            (
                counter!("apprtc_messages_queued_total"),
                counter!("apprtc_messages_relayed_total"),
                STORE_OPERATIONS
                    .iter()
                    .map(|op| histogram!("apprtc_store_call_duration_seconds", "operation" => *op))
                    .collect(),
            )
        });
        let metrics = Self {
            recorder,
            handle,
            rooms: OnceLock::new(),
            queued,
            relayed,
            store_calls,
        };
        metrics.record(|| {
            describe_gauge!("apprtc_rooms_open", "Room records in the memory store (expired ones until the minutely sweep)");
            describe_gauge!("apprtc_sockets_open", "Open WebSockets");
            describe_counter!("apprtc_joins_total", "POST /join answers, by result");
            describe_counter!("apprtc_messages_queued_total", "Messages accepted from clients (WebSocket send, collider POST, /message): handed to the peer's socket queue, the relay's queue or the room's saved list");
            describe_counter!("apprtc_messages_relayed_total", "Messages written to a recipient's WebSocket");
            describe_counter!("apprtc_messages_dropped_total", "Client frames and posts refused, by reason");
            describe_counter!("apprtc_errors_total", "Errors, by kind");
            describe_histogram!("apprtc_http_request_duration_seconds", metrics::Unit::Seconds, "HTTP request latency (until the response head; a WebSocket until its upgrade)");
            describe_histogram!("apprtc_store_call_duration_seconds", metrics::Unit::Seconds, "Room store call latency, by operation");
        });
        Arc::new(metrics)
    }

    /// Runs `f` with this server's recorder behind the `metrics` macros.
    fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// Folds recorded latencies into the histograms.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Counts the rooms of `store` at every scrape (the memory store; a DynamoDB table is not
    /// scanned for this).
    pub fn count_rooms_in(&self, store: Arc<MemoryRoomStore>) {
        let _ = self.rooms.set(store);
    }

    /// The Prometheus text of everything recorded, with the gauges read now (`open_sockets`
    /// from the caller, which holds the connection limiter).
    pub fn render(&self, open_sockets: usize) -> String {
        self.record(|| {
            if let Some(rooms) = self.rooms.get() {
                gauge!("apprtc_rooms_open").set(rooms.len() as f64);
            }
            gauge!("apprtc_sockets_open").set(open_sockets as f64);
        });
        self.handle.render()
    }

    /// A `POST /join` answer (`SUCCESS`, `FULL`, `DUPLICATE_CLIENT`, `ERROR`, `TOO_MANY`).
    pub fn join(&self, result: &'static str) {
        self.record(|| counter!("apprtc_joins_total", "result" => result).increment(1));
    }

    /// A message accepted from a client.
    pub fn queued(&self) {
        self.queued.increment(1);
    }

    /// `n` messages written to a recipient's socket.
    pub fn relayed(&self, n: usize) {
        self.relayed.increment(n as u64);
    }

    /// A client frame or post refused.
    pub fn dropped(&self, reason: &'static str) {
        self.record(|| counter!("apprtc_messages_dropped_total", "reason" => reason).increment(1));
    }

    /// A `/message` answer: accepted, or refused with its reason.
    pub fn message_result(&self, result: &Result<MessageReply, ServiceError>) {
        match result {
            Ok(MessageReply::Success) => self.queued(),
            Ok(MessageReply::Invalid(_)) => self.dropped("invalid"),
            Ok(MessageReply::UnknownRoom | MessageReply::UnknownClient) => {
                self.dropped("not_issued");
            }
            Ok(MessageReply::SavedListFull) => self.dropped("queue_full"),
            Ok(MessageReply::Undeliverable(e)) => self.dropped(match e {
                DeliveryError::RoomFull => "room_full",
                DeliveryError::QueueFull => "queue_full",
                DeliveryError::Unavailable(_) => "unavailable",
            }),
            Err(_) => self.dropped("unavailable"),
        }
    }

    /// A collider `POST` answered with `status`.
    pub fn collider_post(&self, status: axum::http::StatusCode) {
        if status.is_success() {
            return self.queued();
        }
        self.error("relay_http");
        self.dropped(match status.as_u16() {
            400 | 413 => "invalid",
            403 => "not_issued",
            503 => "unavailable",
            _ => "refused",
        });
    }

    /// A WebSocket frame the relay refused (answered with an error frame).
    pub fn refused_frame(&self, e: &RelayError) {
        self.error("relay_error_frame");
        self.dropped(relay_error_reason(e));
    }

    /// An error of `kind`.
    pub fn error(&self, kind: &'static str) {
        self.record(|| counter!("apprtc_errors_total", "kind" => kind).increment(1));
    }

    fn request(&self, route: String, method: &'static str, class: &'static str, took: Duration) {
        self.record(|| {
            histogram!(
                "apprtc_http_request_duration_seconds",
                "route" => route,
                "method" => method,
                "status" => class,
            )
            .record(took);
        });
    }

    fn store_call(&self, operation: &'static str, took: Duration) {
        match STORE_OPERATIONS.iter().position(|op| *op == operation) {
            Some(i) => self.store_calls[i].record(took),
            None => self.record(|| {
                histogram!("apprtc_store_call_duration_seconds", "operation" => operation)
                    .record(took);
            }),
        }
    }
}

/// The room `/readyz` reads: any valid id does; nothing is written.
pub fn readyz_room() -> RoomId {
    RoomId::parse("readyz").unwrap_or_else(|_| unreachable!("a valid room id"))
}

/// Why the relay refused a frame, as a metric label.
pub fn relay_error_reason(e: &RelayError) -> &'static str {
    match e {
        RelayError::RoomFull => "room_full",
        RelayError::QueueFull => "queue_full",
        RelayError::NotRegistered => "not_registered",
        RelayError::NotIssued => "not_issued",
        RelayError::RateLimited => "rate_limited",
        RelayError::Unavailable => "unavailable",
        RelayError::DuplicateRegisterRequest | RelayError::DuplicateRegistration => "duplicate",
        _ => "invalid",
    }
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        _ => "other",
    }
}

fn status_class(status: axum::http::StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware on every route: the request histogram (labelled with the route pattern, never the
/// The pattern of the route-table route a fallback handler answered, for the `route` label of
/// the request metric (axum's `MatchedPath` names only the routes it matched itself).
#[derive(Debug, Clone, Copy)]
struct RoutePattern(&'static str);

/// `res`, answered for `route`, named so for the request metric.
pub(crate) fn labelled(mut res: Response, route: Route) -> Response {
    res.extensions_mut().insert(RoutePattern(route.pattern()));
    res
}

/// path, so ids do not become series) and one debug line per request (path without query).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let took = started.elapsed();
    // The route table's paths are one fallback to axum: the handler names their pattern.
    let route = matched
        .or_else(|| {
            res.extensions()
                .get::<RoutePattern>()
                .map(|p| p.0.to_owned())
        })
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status();
    if status.is_server_error() {
        metrics.error("http_5xx");
    }
    metrics.request(route, method_label(&method), status_class(status), took);
    tracing::debug!(
        method = %method,
        path = %path,
        status = status.as_u16(),
        duration_ms = took.as_secs_f64() * 1000.0,
        "request"
    );
    res
}

/// Times every call of the store it is hooked to and counts its failures.
#[derive(Debug)]
pub struct Timing(pub Arc<Metrics>);

/// A store whose calls are timed and counted in `/metrics`.
pub type TimedStore = Hooked<Timing>;

/// `store`, its calls timed and counted in `metrics`.
pub fn timed(store: Arc<dyn RoomStore>, metrics: &Arc<Metrics>) -> Arc<dyn RoomStore> {
    Arc::new(TimedStore::new(store, Timing(metrics.clone())))
}

impl StoreHook for Timing {
    async fn around<'a, T: Send + 'a>(
        &'a self,
        call: StoreCall<'a>,
        run: StoreFuture<'a, T>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let out = run.await;
        self.0.store_call(call.name(), started.elapsed());
        if let Err(e) = &out {
            self.0.error(match e {
                StoreError::Unavailable(_) => "store_unavailable",
                StoreError::Corrupt(_) => "store_corrupt",
            });
        }
        out
    }
}

/// `GET /metrics` answer: the Prometheus text exposition format.
pub fn metrics_response(text: String) -> HttpResponse {
    respond(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        text,
    )
}

/// The room service's results, seen before they become responses.
impl Observer for Metrics {
    fn joined(&self, reply: &Result<JoinReply, ServiceError>) {
        self.join(match reply {
            Ok(JoinReply::Joined { .. }) => "SUCCESS",
            Ok(JoinReply::Full) => "FULL",
            Ok(JoinReply::Duplicate) => "DUPLICATE_CLIENT",
            Err(_) => "ERROR",
        });
    }

    fn messaged(&self, reply: &Result<MessageReply, ServiceError>) {
        self.message_result(reply);
    }
}
