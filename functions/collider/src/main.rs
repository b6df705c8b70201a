//! Lambda function `collider`: see `room::adapters::lambda::Route::Collider`.

use room::adapters::lambda::{Route, run};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run(Route::Collider).await
}
