//! DynamoDB room store (feature `dynamodb`): one table; an item per room, per relay queue and per
//! relay connection (`docs/dynamodb.md` has the layout and what each operation reads and writes).
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `pk` | S | partition key, `ROOM#<room id>` |
//! | `v` | N | version: a random 63-bit number rewritten by every write (no ABA after delete) |
//! | `room` | S | the room record as JSON: members (id, initiator, saved messages, presence), `expires_at` |
//! | `ttl` | N | epoch seconds after which DynamoDB may delete the item (TTL attribute) |
//!
//! Relay connections of the deployed relay are items `CONN#<connection id>`: `v` (version),
//! `parked` and `pb` (the frames that arrived before the connection's `register`, appended without
//! a read), `room` and `client` once it registered, `closed` once its `$disconnect` was handled,
//! `ttl`. Each member's relay queue is an item `QUEUE#<room id>#<client id>`: `f` (frames, appended
//! without a read), `b` (their bytes), `lo` and `lu` (the delivery lease), `ttl`. A registration
//! writes the room and the connection item, and appends the parked frames to the queue, in one
//! `TransactWriteItems`.
//!
//! `load` is one consistent `GetItem`; `swap` is one `PutItem` (or `DeleteItem`) conditioned on the
//! version read (`attribute_not_exists(pk)` for a new room). A failed condition is
//! [`Swap::Conflict`]; every other SDK failure (throttling, timeouts, unreachable endpoint, missing
//! table) is [`StoreError::Unavailable`]. Expired items are ignored by the room rules because
//! DynamoDB deletes them late.

use crate::domain::ids::{ClientId, ConnectionId, RoomId};
use crate::domain::relay::{Appended, BATCH, Lease, MAX_HANDOFFS, MemberQueue, QueueLimits, Step};
use crate::domain::room::{Millis, Room};
use crate::ports::{
    ConnectionRecord, Parked, Registration, RoomStore, StoreError, Swap, Versioned,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
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

/// The key of `room`'s item, `ROOM#<room id>`.
pub fn key(room: &RoomId) -> AttributeValue {
    AttributeValue::S(format!("ROOM#{room}"))
}

/// The key of a relay connection's item, `CONN#<connection id>`.
pub fn conn_key(connection: &ConnectionId) -> AttributeValue {
    AttributeValue::S(format!("CONN#{connection}"))
}

/// The sparse global secondary index of registered, open connections (the keep-alive sweep's
/// read): partition key [`LIVE`], `room` and `client` projected.
pub const REGISTERED_INDEX: &str = "registered";
/// The index's partition key: present only on a registered, open connection item; one of
/// [`LIVE_SHARDS`] values.
pub const LIVE: &str = "live";
/// How many partition values the index spreads registrations over.
pub const LIVE_SHARDS: u32 = 8;

/// The index partition of `connection` (FNV-1a of its id).
fn live_shard(connection: &ConnectionId) -> u32 {
    let hash = connection
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    u32::try_from(hash % u64::from(LIVE_SHARDS)).unwrap_or(0)
}

/// The key of `member`'s queue item in `room` (a canonical id); [`queue_of_key`] reads it back.
pub fn queue_item_key(room: &RoomId, member: &ClientId) -> String {
    format!("QUEUE#{room}#{member}")
}

fn queue_key(room: &RoomId, member: &ClientId) -> AttributeValue {
    AttributeValue::S(queue_item_key(room, member))
}

/// The room and member of a queue item's key: what the table's stream gives the function that
/// delivers a handed-on queue.
pub fn queue_of_key(key: &str) -> Option<(RoomId, ClientId)> {
    let (room, member) = key.strip_prefix("QUEUE#")?.split_once('#')?;
    Some((RoomId::parse(room).ok()?, ClientId::parse(member).ok()?))
}

/// A queue item's frames (L of S), oldest first.
const QUEUE_FRAMES: &str = "f";
/// The connection item's attribute holding its parked frames.
const PARKED: &str = "parked";
/// The connection item's attribute counting its parked frames' bytes.
const PARKED_BYTES: &str = "pb";
/// A queue item's bytes (N).
const QUEUE_BYTES: &str = "b";
/// A queue item's lease holder (N).
const LEASE_OWNER: &str = "lo";
/// A queue item's lease end (N, epoch ms).
const LEASE_UNTIL: &str = "lu";
/// How many times a queue item was handed off since it was last emptied (N).
const HANDOFFS: &str = "hn";
/// Set (N, the write's token) by the write that hands a queue item off, removed when a delivery takes it:
/// the table's stream starts the delivering invocation on the write that sets it
/// (`template.yaml`, the `keepalive` function's `HandOff` event).
pub const HANDED_OFF: &str = "h";
/// The token of the last append or removal on an item (N): a retried write that had landed finds
/// its own token and is not applied twice.
const LAST_WRITE: &str = "w";

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn strings<S: AsRef<str>>(items: &[S]) -> AttributeValue {
    AttributeValue::L(
        items
            .iter()
            .map(|s| AttributeValue::S(s.as_ref().to_owned()))
            .collect(),
    )
}

fn number_of(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<u64>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(Some)
            .map_err(|_| corrupt(format!("{name} is not a number"))),
        Some(_) => Err(corrupt(format!("{name} is not a number"))),
    }
}

fn string_list(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Vec<String>, StoreError> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(l)) => l
            .iter()
            .map(|v| match v {
                AttributeValue::S(s) => Ok(s.clone()),
                _ => Err(corrupt(format!("{name} holds a non-string"))),
            })
            .collect(),
        Some(_) => Err(corrupt(format!("{name} is not a list"))),
    }
}

fn decode_queue(item: &HashMap<String, AttributeValue>) -> Result<MemberQueue, StoreError> {
    let lease = match (number_of(item, LEASE_OWNER)?, number_of(item, LEASE_UNTIL)?) {
        (Some(owner), Some(until)) => Some(Lease { owner, until }),
        _ => None,
    };
    let bytes = number_of(item, QUEUE_BYTES)?.unwrap_or(0);
    let handoffs = number_of(item, HANDOFFS)?.unwrap_or(0);
    Ok(MemberQueue {
        frames: string_list(item, QUEUE_FRAMES)?,
        bytes: usize::try_from(bytes).map_err(|_| corrupt("queue bytes out of range"))?,
        lease,
        handoffs: u32::try_from(handoffs).map_err(|_| corrupt("hand-offs out of range"))?,
    })
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
        self.read(key(room)).await?.as_ref().map(decode).transpose()
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

    async fn connection(&self, connection: &ConnectionId) -> Result<ConnectionRecord, StoreError> {
        self.read(conn_key(connection))
            .await?
            .as_ref()
            .map_or(Ok(ConnectionRecord::default()), decode_connection)
    }

    async fn park_frame(
        &self,
        connection: &ConnectionId,
        frame: &str,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Parked, StoreError> {
        // Appends without reading: concurrent frames of one socket are applied one after the
        // other by DynamoDB, none fails for another. The version is only created here (a
        // registration checks the parked frames themselves), and only while no registration is.
        let write = new_version()?;
        let list = CappedList {
            key: conn_key(connection),
            frames: PARKED,
            bytes: PARKED_BYTES,
        };
        let also = (
            ", v = if_not_exists(v, :fresh)",
            "attribute_not_exists(room) AND ",
        );
        let Some(update) = self.capped_append(list, frame, q, expires_at, write, also) else {
            return Ok(Parked::Full);
        };
        let update = update.expression_attribute_values(":fresh", number(new_version()?));
        match update.send().await {
            Ok(_) => Ok(Parked::Kept),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let old = c.item();
                    let registered = old.is_some_and(|item| item.contains_key("room"));
                    if !registered
                        && old.and_then(|item| item.get(LAST_WRITE)) == Some(&number(write))
                    {
                        return Ok(Parked::Kept);
                    }
                    Ok(if registered {
                        Parked::Registered
                    } else {
                        Parked::Full
                    })
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
            // In the sparse index the keep-alive sweep reads.
            conn_put.item(
                LIVE,
                AttributeValue::S(live_shard(r.connection).to_string()),
            )
        };
        // Parking a frame leaves the version alone: the parked frames read are checked too.
        let conn_put = match r.read.version {
            None => conn_put.condition_expression("attribute_not_exists(pk)"),
            Some(v) if r.read.parked.is_empty() => conn_put
                .condition_expression("v = :v AND attribute_not_exists(parked)")
                .expression_attribute_values(":v", number(v)),
            Some(v) => conn_put
                .condition_expression("v = :v AND size(parked) = :n")
                .expression_attribute_values(":v", number(v))
                .expression_attribute_values(":n", number(r.read.parked.len())),
        };
        let build = |p: aws_sdk_dynamodb::types::builders::PutBuilder| {
            p.build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| StoreError::Corrupt(Box::new(e)))
        };
        // The SDK fills in the idempotency token and keeps it across its retries, so a retried
        // transaction that had landed is not applied twice.
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(build(room_put)?)
            .transact_items(build(conn_put)?);
        if !r.read.parked.is_empty() {
            // The parked frames join the member's queue in the same write.
            let bytes: usize = r.read.parked.iter().map(String::len).sum();
            let append = Update::builder()
                .table_name(&self.table)
                .key(KEY, queue_key(r.room, &r.client.canonical()))
                .update_expression(
                    "SET #f = list_append(if_not_exists(#f, :empty), :new), #ttl = :ttl \
                     ADD #b :len",
                )
                .expression_attribute_names("#f", QUEUE_FRAMES)
                .expression_attribute_names("#b", QUEUE_BYTES)
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":new", strings(&r.read.parked))
                .expression_attribute_values(":ttl", ttl_value(r.expires_at))
                .expression_attribute_values(":len", number(bytes))
                .build()
                .map_err(|e| StoreError::Corrupt(Box::new(e)))?;
            tx = tx.transact_items(TransactWriteItem::builder().update(append).build());
        }
        let out = tx.send().await;
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
        connection: &ConnectionId,
        expires_at: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        // Keeps `room` and `client`, so a retry that finds the item already closed still answers
        // what it was registered as.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, conn_key(connection))
            .update_expression("SET closed = :t, v = :v, #ttl = :ttl REMOVE #live")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_names("#live", LIVE)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":v", AttributeValue::N(new_version()?.to_string()))
            .expression_attribute_values(":ttl", ttl_value(expires_at))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem", e))?;
        Ok(out.attributes().and_then(registration))
    }

    async fn registered_connections(
        &self,
    ) -> Result<Vec<(ConnectionId, RoomId, ClientId)>, StoreError> {
        // The sparse index holds only registered, open connections (`live` is written by the
        // registration and removed by the close), spread over a few partition values so that no
        // one index partition takes every registration of a busy deployment.
        let mut found = Vec::new();
        for shard in 0..LIVE_SHARDS {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(REGISTERED_INDEX)
                .key_condition_expression("#live = :shard")
                .expression_attribute_names("#live", LIVE)
                .expression_attribute_values(":shard", AttributeValue::S(shard.to_string()))
                .into_paginator()
                .items()
                .send();
            while let Some(item) = pages.next().await {
                let item = item.map_err(|e| unavailable("Query", e))?;
                if let (Some(AttributeValue::S(pk)), Some((room, client))) =
                    (item.get(KEY), registration(&item))
                    && let Some(id) = pk.strip_prefix("CONN#")
                {
                    found.push((ConnectionId::new(id), room, client));
                }
            }
        }
        Ok(found)
    }

    async fn queue(&self, room: &RoomId, member: &ClientId) -> Result<MemberQueue, StoreError> {
        self.read(queue_key(room, member))
            .await?
            .as_ref()
            .map_or(Ok(MemberQueue::default()), decode_queue)
    }

    async fn append(
        &self,
        room: &RoomId,
        member: &ClientId,
        frame: &str,
        now: Millis,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Appended, StoreError> {
        // No read first: DynamoDB applies concurrent appends one after the other, in the order
        // they reach it, and the caps are checked inside the write.
        let write = new_version()?;
        let list = CappedList {
            key: queue_key(room, member),
            frames: QUEUE_FRAMES,
            bytes: QUEUE_BYTES,
        };
        let Some(update) = self.capped_append(list, frame, q, expires_at, write, ("", "")) else {
            return Ok(Appended::Full);
        };
        let out = update.return_values(ReturnValue::AllNew).send().await;
        match out {
            Ok(out) => {
                let queue = out
                    .attributes()
                    .map_or(Ok(MemberQueue::default()), decode_queue)?;
                Ok(Appended::Queued {
                    delivering: queue.delivering(now),
                })
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Appended::Full)
            }
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }

    async fn step(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        posted: &[String],
        now: Millis,
        q: &QueueLimits,
    ) -> Result<Step, StoreError> {
        // MemberQueue::step as conditional writes: remove what was posted (the holder only), or
        // take the lease (free or ours, frames waiting); once nothing remains, release it in a
        // write that fails if a frame was appended meanwhile, and take the queue again then.
        let key = queue_key(room, member);
        let q = QueueWrite {
            store: self,
            key: &key,
            token,
            now,
            until: now.saturating_add(q.lease),
        };
        let mut posted = &posted[..posted.len().min(BATCH)];
        loop {
            let written = if posted.is_empty() {
                q.take().await?
            } else {
                q.remove(posted).await?
            };
            posted = &[];
            let queue = match written {
                Written::Item(queue) => queue,
                Written::Refused(old) => match old {
                    Some(old) if !old.frames.is_empty() => return Ok(Step::Busy),
                    Some(old) if old.lease.is_some_and(|l| l.owner == token) => old,
                    _ => return Ok(Step::Done),
                },
            };
            if !queue.frames.is_empty() {
                let mut frames = queue.frames;
                frames.truncate(BATCH);
                return Ok(Step::Deliver(frames));
            }
            match q.release().await? {
                Written::Item(_) => return Ok(Step::Done),
                Written::Refused(Some(old)) if old.lease.is_some_and(|l| l.owner == token) => {}
                Written::Refused(_) => return Ok(Step::Busy),
            }
        }
    }

    async fn release(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        hand_off: bool,
    ) -> Result<bool, StoreError> {
        let release = |update: &str, condition: &str| {
            self.client
                .update_item()
                .table_name(&self.table)
                .key(KEY, queue_key(room, member))
                .update_expression(update)
                .condition_expression(condition)
                .expression_attribute_names("#lo", LEASE_OWNER)
                .expression_attribute_names("#lu", LEASE_UNTIL)
                .expression_attribute_values(":t", number(token))
        };
        let refused = |e: &SdkError<UpdateItemError>| {
            e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception())
        };
        if hand_off {
            // MemberQueue::release's hand-off as one conditional write; when the condition
            // fails (not ours, nothing waits, handed off often enough) the plain release below.
            let handed = release(
                "REMOVE #lo, #lu SET #h = :mark ADD #hn :one",
                "#lo = :t AND size(#f) > :zero AND (attribute_not_exists(#hn) OR #hn < :max)",
            )
            .expression_attribute_names("#f", QUEUE_FRAMES)
            .expression_attribute_names("#h", HANDED_OFF)
            .expression_attribute_names("#hn", HANDOFFS)
            .expression_attribute_values(":mark", number(new_version()?))
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":max", number(MAX_HANDOFFS))
            .send()
            .await;
            match handed {
                Ok(_) => return Ok(true),
                Err(e) if refused(&e) => {}
                Err(e) => return Err(unavailable("UpdateItem", e)),
            }
        }
        match release("REMOVE #lo, #lu", "#lo = :t").send().await {
            Ok(_) => Ok(false),
            // Not ours (any more): nothing to give up.
            Err(e) if refused(&e) => Ok(false),
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }
}

/// What a conditional write to a queue item answered: the item after the write, or, when its
/// condition failed, the item as it was (`None`: no item).
enum Written {
    Item(MemberQueue),
    Refused(Option<MemberQueue>),
}

/// A list of frames on an item, with the attribute counting its bytes.
struct CappedList {
    key: AttributeValue,
    frames: &'static str,
    bytes: &'static str,
}

impl DynamoRoomStore {
    /// The item at `key`, read consistently (every decision reads what the last write left).
    async fn read(
        &self,
        key: AttributeValue,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, key)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        Ok(out.item)
    }

    /// The write that appends `frame` to `list` while the list is under both of `q`'s caps
    /// (frames and bytes), checked inside the write; `None` when the frame alone is over the
    /// byte cap. `write` marks the item, so that an SDK retry of an append that landed (its
    /// answer lost) fails the condition and is recognised rather than appending twice. `also`
    /// adds to the update expression's `SET` and prefixes the condition. A failed condition
    /// returns the item as it was.
    fn capped_append(
        &self,
        list: CappedList,
        frame: &str,
        q: &QueueLimits,
        expires_at: Millis,
        write: u64,
        (also_set, also_if): (&str, &str),
    ) -> Option<aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder> {
        let room_for = q.max_bytes.checked_sub(frame.len())?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, list.key)
            .update_expression(format!(
                "SET #f = list_append(if_not_exists(#f, :empty), :new), #ttl = :ttl, \
                 #w = :w{also_set} ADD #b :len"
            ))
            .condition_expression(format!(
                "{also_if}(attribute_not_exists(#f) OR (size(#f) < :max AND #b <= :room_for)) \
                 AND (attribute_not_exists(#w) OR #w <> :w)"
            ))
            .expression_attribute_names("#f", list.frames)
            .expression_attribute_names("#b", list.bytes)
            .expression_attribute_names("#w", LAST_WRITE)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":w", number(write))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":new", strings(&[frame]))
            .expression_attribute_values(":ttl", ttl_value(expires_at))
            .expression_attribute_values(":len", number(frame.len()))
            .expression_attribute_values(":max", number(q.max_frames))
            .expression_attribute_values(":room_for", number(room_for))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        Some(update)
    }
}

/// The writes of one delivery step on one queue item.
struct QueueWrite<'a> {
    store: &'a DynamoRoomStore,
    key: &'a AttributeValue,
    token: u64,
    now: Millis,
    until: Millis,
}

impl QueueWrite<'_> {
    fn update(
        &self,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.store
            .client
            .update_item()
            .table_name(&self.store.table)
            .key(KEY, self.key.clone())
            .expression_attribute_names("#f", QUEUE_FRAMES)
            .expression_attribute_names("#lo", LEASE_OWNER)
            .expression_attribute_names("#lu", LEASE_UNTIL)
            .expression_attribute_values(":t", number(self.token))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    /// Takes the lease when frames wait and it is free or ours.
    async fn take(&self) -> Result<Written, StoreError> {
        let update = self
            .update()
            .update_expression("SET #lo = :t, #lu = :until REMOVE #h")
            .condition_expression(
                "size(#f) > :zero AND (attribute_not_exists(#lo) OR #lo = :t OR #lu <= :now)",
            )
            .expression_attribute_names("#h", HANDED_OFF)
            .expression_attribute_values(":until", number(self.until))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":now", number(self.now));
        written(update.send().await)
    }

    /// Removes the `posted` frames from the front and renews the lease, if still ours. An SDK
    /// retry of a removal that landed would remove as many frames again: the write's token
    /// makes it fail its condition, and the item as it is then is the answer.
    async fn remove(&self, posted: &[String]) -> Result<Written, StoreError> {
        let removed: Vec<String> = (0..posted.len()).map(|i| format!("#f[{i}]")).collect();
        let freed: usize = posted.iter().map(String::len).sum();
        let write = new_version()?;
        let update = self
            .update()
            .update_expression(format!(
                "REMOVE {} SET #lu = :until, #w = :w ADD #b :freed",
                removed.join(", ")
            ))
            .condition_expression("#lo = :t AND (attribute_not_exists(#w) OR #w <> :w)")
            .expression_attribute_names("#b", QUEUE_BYTES)
            .expression_attribute_names("#w", LAST_WRITE)
            .expression_attribute_values(":w", number(write))
            .expression_attribute_values(":until", number(self.until))
            .expression_attribute_values(":freed", AttributeValue::N(format!("-{freed}")));
        let out = update.send().await;
        if let Err(e) = &out
            && let Some(UpdateItemError::ConditionalCheckFailedException(c)) = e.as_service_error()
            && let Some(old) = c.item()
            && old.get(LAST_WRITE) == Some(&number(write))
        {
            return Ok(Written::Item(decode_queue(old)?));
        }
        written(out)
    }

    /// Releases the lease if it is ours and no frame waits; the queue's hand-offs start over.
    async fn release(&self) -> Result<Written, StoreError> {
        let update = self
            .update()
            .update_expression("REMOVE #lo, #lu, #hn")
            .expression_attribute_names("#hn", HANDOFFS)
            .condition_expression("#lo = :t AND size(#f) = :zero")
            .expression_attribute_values(":zero", number(0));
        written(update.send().await)
    }
}

fn written(
    out: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<UpdateItemError>,
    >,
) -> Result<Written, StoreError> {
    match out {
        Ok(out) => Ok(Written::Item(
            out.attributes()
                .map_or(Ok(MemberQueue::default()), decode_queue)?,
        )),
        Err(e) => match e.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                Ok(Written::Refused(c.item().map(decode_queue).transpose()?))
            }
            _ => Err(unavailable("UpdateItem", e)),
        },
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
    let parked = string_list(item, "parked")?;
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
