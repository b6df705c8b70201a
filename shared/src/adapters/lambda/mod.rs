//! Lambda glue (feature `lambda`): a deployed function's wiring (settings from the environment,
//! the DynamoDB store, the stored relay, all built once per process) and the translation between
//! Lambda events and the use cases. Each function's `main.rs` is one call to [`run`] or
//! [`run_websocket`].
//!
//! HTTP functions route correctly under an API Gateway HTTP API (path parameters), a Lambda
//! function URL (the path as called) and `cargo lambda watch` (called as
//! `/lambda-url/<function>/...`, the handler sees the path without that prefix).

use crate::adapters::apigw::ApiGatewayConnections;
use crate::adapters::dynamo::{
    DynamoRoomStore, DynamoTimeouts, TrustRoots, client_from, sdk_config,
};
use crate::config::{Host, Setting, Settings, SettingsBuilder, TURN_TTL, TurnAuth, split_list};
use crate::domain::ids::{ClientId, RoomId};
use crate::http::{
    ApiError, HttpResponse, collider_preflight, error_response, ice_response, join_response,
    leave_response, message_response, path_segments,
};
use crate::params::RequestContext;
use crate::ports::{Clock, Connections, PostError, RoomStore, SystemClock};
use crate::relay::RelayLimits;
use crate::relay::stored::StoredRelay;
use crate::service::{JoinReply, RoomService};
use crate::web::{PageRequest, serve_page};
use async_trait::async_trait;
use http::Method;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use lambda_http::{Body, Error, LambdaEvent, Request, RequestExt, Response, service_fn};
use std::sync::Arc;

/// Environment variables a deployed function reads (once, at cold start), besides the room and
/// relay settings, whose variables are [`Setting::env`].
pub mod env {
    /// DynamoDB table (required).
    pub const TABLE_NAME: &str = "TABLE_NAME";
    /// Management endpoint of the WebSocket API, `https://<api>.execute-api.<region>.amazonaws.com/<stage>`.
    pub const RELAY_ENDPOINT: &str = "RELAY_ENDPOINT";
    /// ARN of a Secrets Manager secret holding the TURN REST shared secrets (comma list), read
    /// once at cold start; keeps the secret out of the function's environment.
    pub const TURN_SECRET_ARN: &str = "TURN_SECRET_ARN";
    /// Root certificates the AWS clients trust: `aws` (Amazon Trust Services' roots, built in;
    /// the default) or `native` (the machine's store; the default when an endpoint is overridden).
    pub const TLS_ROOTS: &str = "TLS_ROOTS";
    /// Endpoint overrides read by the AWS SDK; any of them makes `native` the default roots.
    pub const ENDPOINT_OVERRIDES: [&str; 4] = [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
    ];
}

/// A setting that cannot be used (the variable and why); the emulator's flags fail the same way.
pub use crate::config::SettingError as ConfigError;

/// Settings read from the environment (or any lookup, for tests).
#[derive(Debug, Clone)]
pub struct DeployConfig {
    /// Room and HTTP settings.
    pub settings: Settings,
    /// Relay limits.
    pub relay: RelayLimits,
    /// DynamoDB table.
    pub table: String,
    /// Management endpoint of the WebSocket API, if configured.
    pub relay_endpoint: Option<String>,
    /// Secrets Manager secret with the TURN shared secrets, if configured.
    pub turn_secret_arn: Option<String>,
    /// Root certificates of the AWS clients.
    pub tls_roots: TrustRoots,
}

impl DeployConfig {
    /// Reads every setting through `get` (the process environment in [`DeployConfig::from_env`]).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let (settings, relay) = Setting::ALL
            .into_iter()
            .fold(SettingsBuilder::new(Host::lambda()), |b, s| {
                let value = s.env().and_then(&get);
                b.set(s, value)
            })
            .build()?;
        let table = get(env::TABLE_NAME).ok_or(ConfigError {
            name: env::TABLE_NAME,
            reason: "not set: the functions keep rooms in this DynamoDB table".to_owned(),
        })?;
        let tls_roots = match get(env::TLS_ROOTS).as_deref().map(str::trim) {
            Some("aws") => TrustRoots::Aws,
            Some("native") => TrustRoots::Native,
            Some(other) => {
                return Err(ConfigError {
                    name: env::TLS_ROOTS,
                    reason: format!("`{other}` is neither `aws` nor `native`"),
                });
            }
            None if env::ENDPOINT_OVERRIDES.iter().any(|n| get(n).is_some()) => TrustRoots::Native,
            None => TrustRoots::Aws,
        };
        Ok(Self {
            settings,
            relay,
            table,
            relay_endpoint: get(env::RELAY_ENDPOINT),
            turn_secret_arn: get(env::TURN_SECRET_ARN),
            tls_roots,
        })
    }

    /// Reads every setting from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// Connections when no WebSocket API is configured: nothing can be posted, so frames stay queued.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoConnections;

#[async_trait]
impl Connections for NoConnections {
    async fn post(&self, _: &str, _: &str) -> Result<(), PostError> {
        Err(PostError::Failed(format!(
            "{} is not set",
            env::RELAY_ENDPOINT
        )))
    }
    async fn is_open(&self, _: &str) -> Result<bool, PostError> {
        Err(PostError::Failed(format!(
            "{} is not set",
            env::RELAY_ENDPOINT
        )))
    }
    async fn close(&self, _: &str) {}
}

/// What a function process builds once: the service and the relay over one store.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The room service.
    pub service: RoomService,
    /// The relay (sockets through the management API).
    pub relay: Arc<StoredRelay>,
    /// The settings.
    pub settings: Arc<Settings>,
}

impl Deployment {
    /// Wires a deployment over `store` and `connections`.
    pub fn new(
        config: DeployConfig,
        store: Arc<dyn RoomStore>,
        connections: Arc<dyn Connections>,
    ) -> Self {
        let settings = Arc::new(config.settings);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let relay = Arc::new(StoredRelay::new(
            store.clone(),
            clock,
            settings.clone(),
            config.relay,
            connections,
        ));
        let service = RoomService::new(store, relay.clone(), settings.clone());
        Self {
            service,
            relay,
            settings,
        }
    }

    /// Reads the environment and builds the SDK clients (once per process).
    pub async fn from_env() -> Result<Self, Error> {
        let mut config = DeployConfig::from_env()?;
        let aws = sdk_config(&DynamoTimeouts::default(), config.tls_roots).await;
        if let Some(arn) = config.turn_secret_arn.clone() {
            let secrets = aws_sdk_secretsmanager::Client::new(&aws)
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "cannot read {}: {}",
                        env::TURN_SECRET_ARN,
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    )
                })?;
            let value = secrets.secret_string().unwrap_or_default();
            let ttl = match &config.settings.ice.turn_auth {
                TurnAuth::Rest { ttl, .. } => *ttl,
                _ => TURN_TTL,
            };
            config.settings.ice.turn_auth =
                TurnAuth::from_settings(None, None, split_list(value), ttl).map_err(|e| {
                    ConfigError {
                        name: env::TURN_SECRET_ARN,
                        reason: e.to_string(),
                    }
                })?;
        }
        let store = Arc::new(DynamoRoomStore::new(
            client_from(&aws, None),
            config.table.clone(),
        ));
        let connections: Arc<dyn Connections> = match &config.relay_endpoint {
            Some(endpoint) => Arc::new(ApiGatewayConnections::new(&aws, endpoint)),
            None => Arc::new(NoConnections),
        };
        Ok(Self::new(config, store, connections))
    }
}

/// The HTTP routes, one per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /join/{room}`
    Join,
    /// `POST /message/{room}/{client}`
    Message,
    /// `POST /leave/{room}/{client}`
    Leave,
    /// `GET|POST|OPTIONS /v1alpha/iceconfig`
    IceConfig,
    /// `POST|DELETE /relay/{room}/{client}` (collider HTTP)
    Collider,
    /// `GET /`, `GET /r/{room}`, `GET /params`, `GET /static/{file}`: the pages, the room
    /// parameters and the web client's files ([`crate::web::serve_page`])
    Web,
}

impl Route {
    /// The function (and path) name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Message => "message",
            Self::Leave => "leave",
            Self::IceConfig => "iceconfig",
            Self::Collider => "relay",
            Self::Web => "web",
        }
    }

    /// Path ids the route takes: room, or room and client.
    fn arity(self) -> usize {
        match self {
            Self::Join => 1,
            Self::Message | Self::Leave | Self::Collider => 2,
            Self::IceConfig | Self::Web => 0,
        }
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Self::Join | Self::Message | Self::Leave => method == Method::POST,
            // The page router and the use cases answer other methods themselves.
            Self::IceConfig | Self::Collider | Self::Web => true,
        }
    }
}

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
        return Err(ApiError::NotFound(format!(
            "expected /{}{}",
            route.name(),
            "/{id}".repeat(route.arity())
        )));
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

fn to_lambda(res: HttpResponse) -> Response<Body> {
    res.map(Body::from)
}

/// Answers one HTTP request for `route`. Expected failures are responses, never `Err`.
pub async fn handle(dep: &Deployment, route: Route, req: Request) -> Response<Body> {
    to_lambda(
        answer(dep, route, req)
            .await
            .unwrap_or_else(|e| error_response(&e)),
    )
}

async fn answer(dep: &Deployment, route: Route, req: Request) -> Result<HttpResponse, ApiError> {
    if !route.allows(req.method()) {
        return Err(ApiError::MethodNotAllowed { allow: "POST" });
    }
    let ids = path_ids(route, &req)?;
    let ctx = request_context(&req);
    let room = || RoomId::parse(&ids[0]).map_err(|e| ApiError::invalid_id("room", e));
    let client = || ClientId::parse(&ids[1]).map_err(|e| ApiError::invalid_id("client", e));
    Ok(match route {
        Route::Join => {
            let room = room()?;
            let reply = dep.service.join(&room, ctx.loopback()).await;
            // A member whose socket is gone without a disconnect event starts its reconnect
            // grace here, as a handled `$disconnect` starts it: a ghost frees the room when it
            // ends, and a client that is only reconnecting keeps its place.
            if matches!(reply, Ok(JoinReply::Full))
                && let Err(e) = dep.relay.detach_dead(&room).await
            {
                tracing::warn!(%room, error = %e, "liveness check of a full room failed");
            }
            join_response(&ctx, &dep.settings, &room, reply)
        }
        Route::Message => {
            let (room, client) = (room()?, client()?);
            message_response(
                dep.service
                    .message(&room, &client, req.body().as_ref())
                    .await,
            )
        }
        Route::Leave => {
            let (room, client) = (room()?, client()?);
            leave_response(dep.service.leave(&room, &client).await)
        }
        Route::IceConfig => {
            let origin = req
                .headers()
                .get(http::header::ORIGIN)
                .and_then(|v| v.to_str().ok());
            ice_response(&ctx, &dep.settings, req.method(), origin, dep.service.now())
        }
        Route::Collider => {
            let path = format!("/{}/{}", ids[0], ids[1]);
            match *req.method() {
                Method::POST => dep.relay.http_post(&path, req.body().as_ref()).await,
                Method::DELETE => dep.relay.http_delete(&path).await,
                _ => collider_preflight(),
            }
        }
        Route::Web => {
            let path = page_path(req.uri().path());
            let page = PageRequest::new(req.method(), path, req.headers(), &ctx);
            serve_page(&page, &dep.settings, &dep.service).await
        }
    })
}

/// The path as the page router sees it: without the `lambda-url/<function>` prefix of
/// `cargo lambda watch`.
fn page_path(path: &str) -> &str {
    match path.strip_prefix("/lambda-url/") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    }
}

fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// A function's whole `main`: builds the deployment once, then serves `route`.
pub async fn run(route: Route) -> Result<(), Error> {
    init_tracing();
    let dep = Deployment::from_env().await?;
    let dep = &dep;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(handle(dep, route, req).await)
    }))
    .await
}

/// Answers one API Gateway WebSocket event (`$connect`, `register`, `send`, `$default`,
/// `$disconnect`); frames to the client go through the management API.
pub async fn handle_websocket(
    dep: &Deployment,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let ctx = &event.request_context;
    let connection = ctx.connection_id.clone().unwrap_or_default();
    match ctx.event_type.as_deref() {
        Some("CONNECT") => {}
        Some("DISCONNECT") => dep.relay.on_disconnect(&connection).await,
        _ => {
            let text = event.body.as_deref().unwrap_or("");
            dep.relay.on_frame(&connection, text).await;
        }
    }
    let mut res = ApiGatewayProxyResponse::default();
    res.status_code = 200;
    res
}

/// The relay function's whole `main`.
pub async fn run_websocket() -> Result<(), Error> {
    init_tracing();
    let dep = Deployment::from_env().await?;
    let dep = &dep;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(handle_websocket(dep, event.payload).await)
        },
    ))
    .await
}

/// The keep-alive function's whole `main`: every scheduled event runs one sweep
/// ([`crate::relay::stored::StoredRelay::sweep`]).
pub async fn run_keepalive() -> Result<(), Error> {
    init_tracing();
    let dep = Deployment::from_env().await?;
    let dep = &dep;
    lambda_http::lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let sweep = dep.relay.sweep().await?;
            tracing::info!(
                kept_alive = sweep.kept_alive,
                gone = sweep.gone,
                flushed = sweep.flushed,
                "keep-alive sweep"
            );
            Ok::<_, Error>(())
        },
    ))
    .await
}
