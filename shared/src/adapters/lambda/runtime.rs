//! Each function's whole `main`: install the tracing subscriber, build the [`Deployment`] once,
//! then hand every event to its handler under the Lambda runtime; and the WebSocket events'
//! handler, which hands each frame to the relay.

use super::requests::handle;
use super::wiring::Deployment;
use crate::adapters::dynamo::queue_of_key;
use crate::domain::ids::ConnectionId;
use crate::http::routes::Route;
use crate::retry::{deadline_in, within};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use lambda_http::{Error, LambdaEvent, Request, RequestExt, service_fn};

/// The invocation's deadline from its context (epoch milliseconds), as a point in time.
fn deadline_of(context: &lambda_http::Context) -> tokio::time::Instant {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    deadline_in(context.deadline, now)
}

/// Installs the tracing subscriber and builds the deployment, once per process: it lives as long
/// as the process, so every invocation's handler borrows it for as long as it runs.
async fn deployment() -> Result<&'static Deployment, Error> {
    lambda_http::tracing::init_default_subscriber();
    Ok(Box::leak(Box::new(Deployment::from_env().await?)))
}

/// A function's whole `main`: builds the deployment once, then serves `route`.
pub async fn run(route: Route) -> Result<(), Error> {
    let dep = deployment().await?;
    lambda_http::run(service_fn(move |req: Request| async move {
        // Retries against concurrent writers stop before Lambda ends the invocation.
        let deadline = req.lambda_context_ref().map(deadline_of);
        let res = match deadline {
            Some(deadline) => within(deadline, handle(dep, route, req)).await,
            None => handle(dep, route, req).await,
        };
        Ok::<_, Error>(res)
    }))
    .await
}

/// The whole `main` of a function whose events are not HTTP requests: builds the deployment
/// once, then runs `handler` on each event's payload within the invocation's deadline.
async fn run_events<E, R, Fut>(handler: fn(&'static Deployment, E) -> Fut) -> Result<(), Error>
where
    E: serde::de::DeserializeOwned,
    R: serde::Serialize,
    Fut: Future<Output = Result<R, Error>>,
{
    let dep = deployment().await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| async move {
        let deadline = deadline_of(&event.context);
        within(deadline, handler(dep, event.payload)).await
    }))
    .await
}

/// The relay function's whole `main`.
pub async fn run_websocket() -> Result<(), Error> {
    run_events(|dep, event: ApiGatewayWebsocketProxyRequest| async move {
        Ok(handle_websocket(dep, event).await)
    })
    .await
}

/// The keep-alive function's whole `main`. Its two events: the schedule's, which runs one sweep
/// ([`crate::service::relay::StoredRelay::sweep`]), and a batch of the table's stream records of
/// queues handed off, each delivered ([`crate::service::relay::StoredRelay::drain`]). A failed
/// delivery fails the batch, and Lambda retries it (`template.yaml`, the `HandOff` event).
pub async fn run_keepalive() -> Result<(), Error> {
    run_events(|dep, event: serde_json::Value| async move { handle_keepalive(dep, &event).await })
        .await
}

/// One event of the keep-alive function: a stream batch of queues handed off, or else the
/// schedule's.
pub async fn handle_keepalive(dep: &Deployment, event: &serde_json::Value) -> Result<(), Error> {
    let Some(records) = event.get("Records").and_then(serde_json::Value::as_array) else {
        let sweep = dep.relay.sweep().await?;
        tracing::info!(
            kept_alive = sweep.kept_alive,
            gone = sweep.gone,
            flushed = sweep.flushed,
            "keep-alive sweep"
        );
        return Ok(());
    };
    for record in records {
        let key = record
            .pointer("/dynamodb/Keys/pk/S")
            .and_then(serde_json::Value::as_str);
        let Some((room, member)) = key.and_then(queue_of_key) else {
            // Not a queue item (the filter lets none through): nothing to deliver.
            tracing::warn!(key, "stream record of no queue ignored");
            continue;
        };
        let delivered = dep.relay.drain(&room, &member).await?;
        tracing::info!(%room, client = %member, delivered, "handed-off queue");
    }
    Ok(())
}

/// Answers one API Gateway WebSocket event (`$connect`, `register`, `send`, `$default`,
/// `$disconnect`); frames to the client go through the management API.
pub async fn handle_websocket(
    dep: &Deployment,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let ctx = &event.request_context;
    let connection = ConnectionId::new(ctx.connection_id.clone().unwrap_or_default());
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
