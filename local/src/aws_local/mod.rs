//! `--backend aws-local`: the AWS path on one machine. HTTP requests become Lambda HTTP requests
//! for the deployed handlers (`room::adapters::lambda::handle`); `/ws` stands in for an API
//! Gateway WebSocket API (connection ids, route selection on `cmd`, `$disconnect` events for the
//! deployed `handle_websocket`); a loopback-only listener serves the `@connections` management API
//! that the real `aws-sdk-apigatewaymanagement` client posts to.
//!
//! - [`options`]: how it behaves ([`options::GatewayOptions`], the `--apigw-*` flags);
//! - `gateway`: the HTTP API, the WebSocket API and the functions' instances;
//! - `management`: the `@connections` API.
//!
//! It behaves as API Gateway and Lambda are documented to, so the relay is exercised under the
//! same concurrency, ordering and limits as when deployed ([`options::GatewayOptions`]):
//!
//! - Every frame is its own invocation, run on one of the `relay` function's `instances` after a
//!   random delay up to `jitter`: frames of one connection run in parallel and in no particular
//!   order. Lambda: "Lambda handles requests in parallel... each instance processes one request
//!   at a time" (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html>);
//!   API Gateway integrates each WebSocket message with its route's backend separately
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-routes-integrations.html>).
//! - `instances` is per function: the concurrency scaling rate "is a function-level limit", so
//!   "each function in your account can scale independently of other functions"
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html>). Each function of
//!   `template.yaml` has its own `instances`: `relay` runs every WebSocket route
//!   (`register`, `send`, `$default`, `$disconnect`; there is no `$connect` route), `keepalive`
//!   the schedule, and `join`, `message`, `leave`, `iceconfig`, `collider` and `web` the HTTP
//!   API's routes, so a burst of frames never waits for an HTTP request's instance, nor the
//!   reverse.
//! - `$disconnect` "is a best-effort event... API Gateway will try its best to deliver the
//!   `$disconnect` event to your integration, but it cannot guarantee delivery"
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-keys-connect-disconnect.html>):
//!   it can be delayed (`disconnect_delay`) or lost (`disconnect_loss`).
//! - Quotas (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html>):
//!   "WebSocket frame size: 32 KB", "Message payload size: 128 KB" ("If a larger message (or
//!   larger frame size) is received, the connection is closed with code 1009"), "Idle Connection
//!   Timeout: 10 minutes", "Connection duration for WebSocket API: 2 hours" (both settable here,
//!   so tests take seconds). PostToConnection data is at most 128 KB.
//! - Binary frames: "API Gateway WebSocket APIs don't currently support binary frames in incoming
//!   message payloads" and the client is disconnected with code 1003
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-develop-binary-media-types.html>).
//! - PostToConnection, GetConnection and DeleteConnection on a connection that no longer exists
//!   answer `410 GoneException` (the `apigatewaymanagementapi` service model).
//! - The keep-alive function runs on a schedule (`keepalive_interval`), as the template's
//!   EventBridge schedule runs it, with the template's 60 s timeout.
//! - A queue handed off ([`room::ports::Handoffs`]) starts the keep-alive function within a
//!   stream poll, as the table's stream does through the template's filtered event source
//!   mapping: "Lambda polls shards in your DynamoDB stream for records at a base rate of 4 times
//!   per second" (<https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html>), one invocation
//!   per record here (the deployed function takes them in batches).

#[cfg(feature = "aws-local")]
pub mod gateway;
#[cfg(feature = "aws-local")]
pub mod management;
pub mod options;
