//! API Gateway WebSocket connections through the `@connections` management API (feature
//! `apigw`): the [`Connections`] port of the deployed relay. `PostToConnection` answering 410 Gone
//! is [`PostError::Gone`].

use crate::ports::{Connections, PostError};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// The management API client for one WebSocket API stage.
#[derive(Debug, Clone)]
pub struct ApiGatewayConnections {
    client: Client,
}

impl ApiGatewayConnections {
    /// A client for `endpoint` (`https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`,
    /// or a local stand-in), built once from the process's shared AWS configuration.
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(conf),
        }
    }
}

#[async_trait]
impl Connections for ApiGatewayConnections {
    async fn post(&self, connection: &str, frame: &str) -> Result<(), PostError> {
        match self
            .client
            .post_to_connection()
            .connection_id(connection)
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

    async fn is_open(&self, connection: &str) -> Result<bool, PostError> {
        match self
            .client
            .get_connection()
            .connection_id(connection)
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

    async fn close(&self, connection: &str) {
        if let Err(e) = self
            .client
            .delete_connection()
            .connection_id(connection)
            .send()
            .await
        {
            tracing::debug!(error = %aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&e), "DeleteConnection failed");
        }
    }
}
