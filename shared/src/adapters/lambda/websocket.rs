//! WebSocket route events of an API Gateway WebSocket API, handed to the stored relay.

use super::wiring::Deployment;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};

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
