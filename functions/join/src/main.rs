//! Lambda function `join`: see `room::adapters::lambda::Route::Join`.

use room::adapters::lambda::{Route, run};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run(Route::Join).await
}
