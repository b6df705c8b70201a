//! API Gateway WebSocket connections through the `@connections` management API (feature
//! `apigw`): the [`Connections`] port of the deployed relay. `PostToConnection` answering 410 Gone
//! is [`PostError::Gone`].

use crate::domain::ids::ConnectionId;
use crate::ports::{Connections, PostError};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use std::time::Duration;

/// Connection establishment to the management API.
const POST_CONNECT: Duration = Duration::from_secs(1);
/// One management API attempt.
const POST_ATTEMPT: Duration = Duration::from_secs(3);
/// All attempts of one management API call.
const POST_OPERATION: Duration = Duration::from_secs(5);

/// The management API client for one WebSocket API stage.
#[derive(Debug, Clone)]
pub struct ApiGatewayConnections {
    client: Client,
}

impl ApiGatewayConnections {
    /// A client for `endpoint` (`https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`,
    /// or a local stand-in), built once from the process's shared AWS configuration.
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        // A PostToConnection attempt that times out may still have posted, and the SDK's retry
        // would post the frame twice: attempts get far longer than a post takes (tens of
        // milliseconds), so that only a post that failed is retried, all within the functions'
        // 6 s timeout.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(POST_CONNECT)
            .operation_attempt_timeout(POST_ATTEMPT)
            .operation_timeout(POST_OPERATION)
            .build();
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .timeout_config(timeouts)
            .build();
        Self {
            client: Client::from_conf(conf),
        }
    }
}

#[async_trait]
impl Connections for ApiGatewayConnections {
    async fn post(&self, connection: &ConnectionId, frame: &str) -> Result<(), PostError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(frame.as_bytes()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {
                Err(PostError::Gone)
            }
            Err(e) => Err(PostError::Failed(
                aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string(),
            )),
        }
    }

    async fn is_open(&self, connection: &ConnectionId) -> Result<bool, PostError> {
        match self
            .client
            .get_connection()
            .connection_id(connection.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => Ok(false),
            Err(e) => Err(PostError::Failed(
                aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e).to_string(),
            )),
        }
    }

    async fn close(&self, connection: &ConnectionId) {
        if let Err(e) = self
            .client
            .delete_connection()
            .connection_id(connection.as_str())
            .send()
            .await
        {
            tracing::debug!(error = %aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e), "DeleteConnection failed");
        }
    }
}
