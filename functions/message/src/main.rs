//! Lambda function `message`: see `room::adapters::lambda::Route::Message`.

use room::adapters::lambda::{Route, run};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run(Route::Message).await
}
