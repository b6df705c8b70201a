//! What a function process builds once from its [`DeployConfig`]: the SDK clients (with the
//! configured trust roots), the TURN secret from Secrets Manager, the DynamoDB store, the
//! management API's connections, and over them the room service and the stored relay.

use super::settings::{ConfigError, DeployConfig, env};
use crate::adapters::apigw::ApiGatewayConnections;
use crate::adapters::dynamo::{DynamoRoomStore, DynamoTimeouts, client_from, sdk_config};
use crate::config::{Settings, TURN_TTL, TurnAuth, split_list};
use crate::domain::ids::{ClientId, ConnectionId, RoomId};
use crate::ports::{Clock, Connections, Handoffs, PostError, RoomStore, SystemClock};
use crate::service::relay::StoredRelay;
use crate::service::rooms::RoomService;
use async_trait::async_trait;
use lambda_http::Error;
use std::sync::Arc;

/// Connections when no WebSocket API is configured: nothing can be posted, so frames stay queued.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoConnections;

#[async_trait]
impl Connections for NoConnections {
    async fn post(&self, _: &ConnectionId, _: &str) -> Result<(), PostError> {
        Err(PostError::Failed(format!(
            "{} is not set",
            env::RELAY_ENDPOINT
        )))
    }
    async fn is_open(&self, _: &ConnectionId) -> Result<bool, PostError> {
        Err(PostError::Failed(format!(
            "{} is not set",
            env::RELAY_ENDPOINT
        )))
    }
    async fn close(&self, _: &ConnectionId) {}
}

/// Hand-offs when deployed: the write that hands a queue off sets the attribute the table's
/// stream is filtered on, and the stream starts the `keepalive` function with the queue's key
/// (`template.yaml`, its `HandOff` event; [`super::run_keepalive`]). Nothing is left to do in
/// the process that handed it off.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableStreamTrigger;

impl Handoffs for TableStreamTrigger {
    fn handed_off(&self, room: &RoomId, member: &ClientId) {
        tracing::debug!(%room, client = %member, "queue handed off to the table's stream");
    }
}

/// What a function process builds once: the service and the relay over one store.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The room service.
    pub service: RoomService,
    /// The relay (sockets through the management API).
    pub relay: Arc<StoredRelay>,
    /// The settings.
    pub settings: Arc<Settings>,
}

impl Deployment {
    /// Wires a deployment over `store` and `connections`.
    pub fn new(
        config: DeployConfig,
        store: Arc<dyn RoomStore>,
        connections: Arc<dyn Connections>,
    ) -> Self {
        Self::on_clock(
            config,
            store,
            connections,
            Arc::new(SystemClock),
            Arc::new(TableStreamTrigger),
        )
    }

    /// [`Deployment::new`] on `clock` (the emulator's, which tests can move forward), with
    /// `handoffs` starting the delivery of a queue handed off (the stand-in's table stream).
    pub fn on_clock(
        config: DeployConfig,
        store: Arc<dyn RoomStore>,
        connections: Arc<dyn Connections>,
        clock: Arc<dyn Clock>,
        handoffs: Arc<dyn Handoffs>,
    ) -> Self {
        let settings = Arc::new(config.settings);
        let relay = Arc::new(
            StoredRelay::new(
                store.clone(),
                clock.clone(),
                settings.clone(),
                config.relay,
                connections,
            )
            .with_handoffs(handoffs),
        );
        let service = RoomService::new(store, relay.clone(), settings.clone()).with_clock(clock);
        Self {
            service,
            relay,
            settings,
        }
    }

    /// Reads the environment and builds the SDK clients (once per process).
    pub async fn from_env() -> Result<Self, Error> {
        let mut config = DeployConfig::from_env()?;
        let aws = sdk_config(&DynamoTimeouts::default(), config.tls_roots).await;
        if let Some(arn) = config.turn_secret_arn.clone() {
            let secrets = aws_sdk_secretsmanager::Client::new(&aws)
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "cannot read {}: {}",
                        env::TURN_SECRET_ARN,
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    )
                })?;
            let value = secrets.secret_string().unwrap_or_default();
            let ttl = match &config.settings.ice.turn_auth {
                TurnAuth::Rest { ttl, .. } => *ttl,
                _ => TURN_TTL,
            };
            config.settings.ice.turn_auth =
                TurnAuth::from_settings(None, None, split_list(value), ttl).map_err(|e| {
                    ConfigError {
                        name: env::TURN_SECRET_ARN,
                        reason: e.to_string(),
                    }
                })?;
        }
        let store = Arc::new(DynamoRoomStore::new(
            client_from(&aws, None),
            config.table.clone(),
        ));
        let connections: Arc<dyn Connections> = match &config.relay_endpoint {
            Some(endpoint) => Arc::new(ApiGatewayConnections::new(&aws, endpoint)),
            None => Arc::new(NoConnections),
        };
        Ok(Self::new(config, store, connections))
    }
}
