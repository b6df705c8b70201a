//! Lambda function `web`: see `room::adapters::lambda::Route::Web`.

use room::adapters::lambda::{Route, run};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run(Route::Web).await
}
