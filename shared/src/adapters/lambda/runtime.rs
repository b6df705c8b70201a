//! Each function's whole `main`: install the tracing subscriber, build the [`Deployment`] once,
//! then hand every event to its handler under the Lambda runtime.

use super::http::{Route, handle};
use super::websocket::handle_websocket;
use super::wiring::Deployment;
use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::{Error, LambdaEvent, Request, service_fn};

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
