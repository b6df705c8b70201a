//! DynamoDB room store (feature `dynamodb`): one item per room in a single table.
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `pk` | S | partition key, `ROOM#<room id>` |
//! | `v` | N | version: a random 63-bit number rewritten by every write (no ABA after delete) |
//! | `room` | S | the room record as JSON: members (id, initiator, saved messages, presence), `expires_at` |
//! | `ttl` | N | epoch seconds after which DynamoDB may delete the item (TTL attribute) |
//!
//! Relay connections of the deployed relay are items `CONN#<connection id>`: `v` (version),
//! `parked` (the frames that arrived before the connection's `register`), `room` and `client` once
//! it registered, `closed` once its `$disconnect` was handled, `ttl`. A registration writes the room
//! and the connection item in one `TransactWriteItems`, each conditioned on the version read.
//!
//! `load` is one consistent `GetItem`; `swap` is one `PutItem` (or `DeleteItem`) conditioned on the
//! version read (`attribute_not_exists(pk)` for a new room). A failed condition is
//! [`Swap::Conflict`]; every other SDK failure (throttling, timeouts, unreachable endpoint, missing
//! table) is [`StoreError::Unavailable`]. Expired items are ignored by the room rules because
//! DynamoDB deletes them late.

use crate::domain::ids::{ClientId, RoomId};
use crate::domain::room::{Millis, Room};
use crate::ports::{ConnectionRecord, Registration, RoomStore, StoreError, Swap, Versioned};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use std::collections::HashMap;
use std::time::Duration;

/// Name of the partition key attribute.
pub const KEY: &str = "pk";
/// Name of the TTL attribute (enable TTL on it).
pub const TTL_ATTRIBUTE: &str = "ttl";

/// Timeouts and retries of the DynamoDB client, explicit so a slow or throttling table answers
/// within a bounded time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoTimeouts {
    /// Connection establishment.
    pub connect: Duration,
    /// One attempt.
    pub attempt: Duration,
    /// All attempts of one operation together.
    pub operation: Duration,
    /// Attempts per operation (1 = no retry).
    pub max_attempts: u32,
}

impl Default for DynamoTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(500),
            attempt: Duration::from_millis(800),
            operation: Duration::from_secs(2),
            max_attempts: 3,
        }
    }
}

/// Root certificates the AWS SDK clients trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustRoots {
    /// The machine's root store: any endpoint, at the price of reading and parsing every root
    /// certificate on the machine when the clients are built (8 ms of a cold start on Debian).
    #[default]
    Native,
    /// The roots every AWS service endpoint chains to (Amazon Root CA 1–4 and Starfield Services
    /// Root G2, Amazon Trust Services), built in: nothing read from disk, and no other CA can
    /// stand in for AWS.
    Aws,
}

/// Amazon Trust Services' root certificates (public; from the Mozilla root program).
const AWS_ROOTS_PEM: &str = include_str!("aws_roots.pem");

fn trust_store(roots: TrustRoots) -> aws_smithy_http_client::tls::TrustStore {
    use aws_smithy_http_client::tls::TrustStore;
    match roots {
        TrustRoots::Native => TrustStore::default(),
        TrustRoots::Aws => TrustStore::empty().with_pem_certificate(AWS_ROOTS_PEM),
    }
}

/// Loads the AWS configuration once per process: standard credential and region chain, rustls
/// with the `ring` provider trusting `roots`, explicit timeouts and retries.
pub async fn sdk_config(timeouts: &DynamoTimeouts, roots: TrustRoots) -> aws_config::SdkConfig {
    use aws_config::BehaviorVersion;
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    use aws_smithy_http_client::tls;
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    let http = match tls::TlsContext::builder()
        .with_trust_store(trust_store(roots))
        .build()
    {
        Ok(context) => builder.tls_context(context).build_https(),
        // Not reachable with the stores above; the SDK's defaults are the safe fallback.
        Err(_) => builder.build_https(),
    };
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeouts.connect)
                .operation_attempt_timeout(timeouts.attempt)
                .operation_timeout(timeouts.operation)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(timeouts.max_attempts.max(1)))
        .load()
        .await
}

/// A DynamoDB client from `config`, at `endpoint` if given, else `AWS_ENDPOINT_URL_DYNAMODB` when
/// set (local DynamoDB; read by the SDK), else the regional AWS endpoint.
pub fn client_from(config: &aws_config::SdkConfig, endpoint: Option<&str>) -> Client {
    let mut conf = aws_sdk_dynamodb::config::Builder::from(config);
    if let Some(url) = endpoint {
        conf = conf.endpoint_url(url);
    }
    Client::from_conf(conf.build())
}

/// Shorthand: [`sdk_config`] then [`client_from`].
pub async fn client(timeouts: &DynamoTimeouts, endpoint: Option<&str>) -> Client {
    client_from(&sdk_config(timeouts, TrustRoots::Native).await, endpoint)
}

/// The DynamoDB implementation of [`RoomStore`].
#[derive(Debug, Clone)]
pub struct DynamoRoomStore {
    client: Client,
    table: String,
}

impl DynamoRoomStore {
    /// A store on `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Checks that the table exists and is reachable (for a clear error at start-up).
    pub async fn check(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| unavailable("DescribeTable", e))
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

fn key(room: &RoomId) -> AttributeValue {
    AttributeValue::S(format!("ROOM#{room}"))
}

fn conn_key(connection: &str) -> AttributeValue {
    AttributeValue::S(format!("CONN#{connection}"))
}

fn unavailable<E>(op: &'static str, e: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    tracing::warn!(operation = op, code = e.code().unwrap_or("none"), error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "DynamoDB call failed");
    StoreError::Unavailable(Box::new(e))
}

fn corrupt(why: impl Into<String>) -> StoreError {
    StoreError::Corrupt(why.into().into())
}

fn new_version() -> Result<u64, StoreError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Unavailable(Box::new(std::io::Error::other(e.to_string()))))?;
    Ok(u64::from_le_bytes(b) >> 1)
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<Versioned, StoreError> {
    let version = match item.get("v") {
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map_err(|_| corrupt("version is not a number"))?,
        _ => return Err(corrupt("version missing")),
    };
    let room = match item.get("room") {
        Some(AttributeValue::S(s)) => {
            serde_json::from_str::<Room>(s).map_err(|e| StoreError::Corrupt(Box::new(e)))?
        }
        _ => return Err(corrupt("room missing")),
    };
    Ok(Versioned { room, version })
}

#[async_trait]
impl RoomStore for DynamoRoomStore {
    async fn load(&self, room: &RoomId) -> Result<Option<Versioned>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, key(room))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        out.item().map(decode).transpose()
    }

    async fn swap(
        &self,
        room: &RoomId,
        expected: Option<u64>,
        new: Option<&Room>,
    ) -> Result<Swap, StoreError> {
        match (new, expected) {
            (Some(r), expected) => {
                let body =
                    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(Box::new(e)))?;
                let ttl = r.expires_at / 1000 + 1;
                let version = new_version()?;
                let put = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .item(KEY, key(room))
                    .item("v", AttributeValue::N(version.to_string()))
                    .item("room", AttributeValue::S(body))
                    .item(TTL_ATTRIBUTE, AttributeValue::N(ttl.to_string()))
                    // A failed condition returns the item, so a retry of a write that did land
                    // (the first attempt timed out after DynamoDB applied it) is recognised.
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    );
                let put = match expected {
                    None => put.condition_expression("attribute_not_exists(pk)"),
                    Some(v) => put
                        .condition_expression("v = :v")
                        .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
                };
                match put.send().await {
                    Ok(_) => Ok(Swap::Done),
                    Err(e) => match e.as_service_error() {
                        Some(PutItemError::ConditionalCheckFailedException(c)) => {
                            let ours = c.item().and_then(|item| item.get("v"))
                                == Some(&AttributeValue::N(version.to_string()));
                            Ok(if ours { Swap::Done } else { Swap::Conflict })
                        }
                        _ => Err(unavailable("PutItem", e)),
                    },
                }
            }
            (None, Some(v)) => {
                let del = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key(KEY, key(room))
                    .condition_expression("v = :v")
                    .expression_attribute_values(":v", AttributeValue::N(v.to_string()));
                match del.send().await {
                    Ok(_) => Ok(Swap::Done),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        Ok(Swap::Conflict)
                    }
                    Err(e) => Err(unavailable("DeleteItem", e)),
                }
            }
            // Deleting what does not exist: nothing to write.
            (None, None) => Ok(Swap::Done),
        }
    }

    async fn connection(&self, connection: &str) -> Result<ConnectionRecord, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, conn_key(connection))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        out.item()
            .map_or(Ok(ConnectionRecord::default()), decode_connection)
    }

    async fn park_frames(
        &self,
        connection: &str,
        expected: Option<u64>,
        parked: &[String],
        expires_at: Millis,
    ) -> Result<Swap, StoreError> {
        let version = new_version()?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, conn_key(connection))
            .update_expression("SET v = :new, parked = :parked, #ttl = :ttl")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":new", AttributeValue::N(version.to_string()))
            .expression_attribute_values(
                ":parked",
                AttributeValue::L(parked.iter().cloned().map(AttributeValue::S).collect()),
            )
            .expression_attribute_values(":ttl", ttl_value(expires_at))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match expected {
            None => update.condition_expression("attribute_not_exists(pk)"),
            Some(v) => update
                .condition_expression("v = :v AND attribute_not_exists(room)")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        match update.send().await {
            Ok(_) => Ok(Swap::Done),
            Err(e) => match e.as_service_error() {
                // A retry of a write that landed finds its own version.
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let ours = c.item().and_then(|item| item.get("v"))
                        == Some(&AttributeValue::N(version.to_string()));
                    Ok(if ours { Swap::Done } else { Swap::Conflict })
                }
                _ => Err(unavailable("UpdateItem", e)),
            },
        }
    }

    async fn register_connection(&self, r: &Registration<'_>) -> Result<Swap, StoreError> {
        let body = serde_json::to_string(r.new).map_err(|e| StoreError::Corrupt(Box::new(e)))?;
        let room_put = Put::builder()
            .table_name(&self.table)
            .item(KEY, key(r.room))
            .item("v", AttributeValue::N(new_version()?.to_string()))
            .item("room", AttributeValue::S(body))
            .item(TTL_ATTRIBUTE, ttl_value(r.new.expires_at));
        let room_put = match r.expected {
            None => room_put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => room_put
                .condition_expression("v = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        let conn_put = Put::builder()
            .table_name(&self.table)
            .item(KEY, conn_key(r.connection))
            .item("v", AttributeValue::N(new_version()?.to_string()))
            .item("room", AttributeValue::S(r.room.to_string()))
            .item("client", AttributeValue::S(r.client.to_string()))
            .item(TTL_ATTRIBUTE, ttl_value(r.expires_at));
        let conn_put = if r.read.closed {
            conn_put.item("closed", AttributeValue::Bool(true))
        } else {
            conn_put
        };
        let conn_put = match r.read.version {
            None => conn_put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => conn_put
                .condition_expression("v = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        let build = |p: aws_sdk_dynamodb::types::builders::PutBuilder| {
            p.build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| StoreError::Corrupt(Box::new(e)))
        };
        // The SDK fills in the idempotency token and keeps it across its retries, so a retried
        // transaction that had landed is not applied twice.
        let out = self
            .client
            .transact_write_items()
            .transact_items(build(room_put)?)
            .transact_items(build(conn_put)?)
            .send()
            .await;
        match out {
            Ok(_) => Ok(Swap::Done),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons().iter().any(|r| {
                        matches!(
                            r.code(),
                            Some("ConditionalCheckFailed" | "TransactionConflict")
                        )
                    }) =>
                {
                    Ok(Swap::Conflict)
                }
                _ => Err(unavailable("TransactWriteItems", e)),
            },
        }
    }

    async fn close_connection(
        &self,
        connection: &str,
        expires_at: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        // Keeps `room` and `client`, so a retry that finds the item already closed still answers
        // what it was registered as.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, conn_key(connection))
            .update_expression("SET closed = :t, v = :v, #ttl = :ttl")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":v", AttributeValue::N(new_version()?.to_string()))
            .expression_attribute_values(":ttl", ttl_value(expires_at))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem", e))?;
        Ok(out.attributes().and_then(registration))
    }

    async fn registered_connections(&self) -> Result<Vec<(String, RoomId, ClientId)>, StoreError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(
                "begins_with(pk, :conn) AND attribute_exists(room) AND attribute_not_exists(closed)",
            )
            .expression_attribute_values(":conn", AttributeValue::S("CONN#".to_owned()))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| unavailable("Scan", e))?;
            if let (Some(AttributeValue::S(pk)), Some((room, client))) =
                (item.get(KEY), registration(&item))
                && let Some(id) = pk.strip_prefix("CONN#")
            {
                found.push((id.to_owned(), room, client));
            }
        }
        Ok(found)
    }
}

fn ttl_value(expires_at: Millis) -> AttributeValue {
    AttributeValue::N((expires_at / 1000 + 1).to_string())
}

/// The room and client a connection item registered as, if it holds valid ones.
fn registration(item: &HashMap<String, AttributeValue>) -> Option<(RoomId, ClientId)> {
    match (item.get("room"), item.get("client")) {
        (Some(AttributeValue::S(r)), Some(AttributeValue::S(c))) => {
            Some((RoomId::parse(r).ok()?, ClientId::parse(c).ok()?))
        }
        _ => None,
    }
}

fn decode_connection(
    item: &HashMap<String, AttributeValue>,
) -> Result<ConnectionRecord, StoreError> {
    let registration = if item.contains_key("room") {
        Some(registration(item).ok_or_else(|| corrupt("connection item with invalid ids"))?)
    } else {
        None
    };
    let version = match item.get("v") {
        Some(AttributeValue::N(n)) => Some(
            n.parse::<u64>()
                .map_err(|_| corrupt("version is not a number"))?,
        ),
        _ => return Err(corrupt("connection item without version")),
    };
    let parked = match item.get("parked") {
        Some(AttributeValue::L(l)) => l
            .iter()
            .map(|v| match v {
                AttributeValue::S(s) => Ok(s.clone()),
                _ => Err(corrupt("parked frame is not a string")),
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
        Some(_) => return Err(corrupt("parked frames are not a list")),
    };
    Ok(ConnectionRecord {
        registration,
        closed: item.contains_key("closed"),
        parked,
        version,
    })
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    #[test]
    fn the_built_in_roots_are_the_five_amazon_trust_services_certificates() {
        assert_eq!(
            AWS_ROOTS_PEM.matches("-----BEGIN CERTIFICATE-----").count(),
            5
        );
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(AWS_ROOTS_PEM.contains(&format!("# {name}\n")), "{name}");
        }
        // Each one is a DER certificate (a SEQUENCE whose length covers the whole block).
        use base64::Engine as _;
        for block in AWS_ROOTS_PEM.split("-----BEGIN CERTIFICATE-----").skip(1) {
            let b64: String = block
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(der[..2], [0x30, 0x82]);
            assert_eq!(
                usize::from(u16::from_be_bytes([der[2], der[3]])) + 4,
                der.len()
            );
        }
        let _ = trust_store(TrustRoots::Aws);
    }
}
