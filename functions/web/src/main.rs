//! Lambda function `web`: see `room::adapters::lambda::Route::Page`.

use room::adapters::lambda::{Route, run};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run(Route::Page).await
}
