//! Lambda function `iceconfig`: see `room::adapters::lambda::Route::IceConfig`.

use room::adapters::lambda::{Route, run};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    run(Route::IceConfig).await
}
