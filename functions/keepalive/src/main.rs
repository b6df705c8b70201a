//! Lambda function `keepalive`: on a schedule, a frame to every registered relay connection so
//! API Gateway's idle timeout never closes a call's socket. See
//! `room::adapters::lambda::run_keepalive`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    room::adapters::lambda::run_keepalive().await
}
