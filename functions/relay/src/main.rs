//! Lambda function `relay`: the collider protocol on an API Gateway WebSocket API (`register`,
//! `send`, `$default`, `$disconnect`). See `room::adapters::lambda::handle_websocket`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    room::adapters::lambda::run_websocket().await
}
