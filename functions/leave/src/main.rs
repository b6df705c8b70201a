//! Lambda function `leave`: see `room::adapters::lambda::Route::Leave`.

use room::adapters::lambda::{Route, run};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run(Route::Leave).await
}
