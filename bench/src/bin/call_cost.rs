//! What one call costs on AWS, counted rather than estimated: the deployed Lambda handlers run
//! behind the aws-local stand-in for API Gateway (`apprtc_local::server::Server::aws_local`), over the
//! memory store wrapped in a meter that turns every store call into the DynamoDB request it
//! stands for (`room::adapters::dynamo`) and its read or write request units. Two clients play
//! one call as the web client does it through the real HTTP and WebSocket endpoints; the meter,
//! the requests and the frames are then priced at us-east-1 list prices (BENCHMARKS.md, "What a
//! call costs on AWS", cites the pages).
//!
//! Time is the one thing not played in full: each socket is billed `--call-minutes` of
//! connection time on a simulated clock, plus the seconds it was really open here (its
//! signaling takes a fraction of a second; nothing happens on the sockets in between but the
//! keep-alive). The keep-alive function runs on its schedule, set here to fire once between the
//! call's set-up and its hang-up, so what one sweep costs the call is measured; a call of
//! `--call-minutes` meets `call-minutes / keepalive-minutes` sweeps on average (for a call
//! shorter than the schedule, the chance that one lands in it).

use anyhow::{Context, Result, bail, ensure};
use apprtc_bench::http_client;
use apprtc_local::cli::Config;
use apprtc_local::server::{Listeners, Server};
use async_trait::async_trait;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use room::adapters::dynamo::LIVE_SHARDS;
use room::adapters::memory::MemoryRoomStore;
use room::domain::relay::{Appended, MemberQueue, QueueLimits, Step};
use room::domain::room::{Millis, Room};
use room::ports::{ConnectionRecord, Parked, Registration, RoomStore, StoreError, Swap, Versioned};
use room::{ClientId, RoomId};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(Debug, Parser)]
struct Args {
    /// Connection time of the call (each of its two sockets), on the simulated clock.
    #[arg(long, default_value_t = 2.0)]
    call_minutes: f64,
    /// Candidates the initiator gathers before the joiner arrives (saved in the room).
    #[arg(long, default_value_t = 4)]
    early_candidates: usize,
    /// Candidates the initiator trickles after the joiner arrived (forwarded by the relay).
    #[arg(long, default_value_t = 2)]
    late_candidates: usize,
    /// Candidates the joiner trickles over its socket.
    #[arg(long, default_value_t = 6)]
    joiner_candidates: usize,
    /// The deployment's keep-alive schedule (template.yaml `KeepaliveSchedule`), in minutes.
    #[arg(long, default_value_t = 5.0)]
    keepalive_minutes: f64,
    /// How long the stand-in's keep-alive schedule waits before its first sweep (and between
    /// sweeps): longer than the call's set-up takes here, and than its hang-up.
    #[arg(long, default_value = "3s", value_parser = room::config::parse_duration)]
    sweep_after: Duration,
    /// Billed Lambda time of an invocation besides its round trips (ms).
    #[arg(long, default_value_t = 1.0)]
    own_ms: f64,
    /// Round trip of one DynamoDB request from Lambda in the same region (ms).
    #[arg(long, default_value_t = 5.0)]
    dynamodb_ms: f64,
    /// Round trip of one PostToConnection from Lambda (ms).
    #[arg(long, default_value_t = 10.0)]
    post_ms: f64,
}

/// us-east-1 list prices in USD (BENCHMARKS.md, "What a call costs on AWS", cites the pages).
mod price {
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Lambda duration on arm64, per GB-second (first 7.5 billion GB-seconds of a month).
    pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
    /// template.yaml `MemorySize: 128`, in GB.
    pub const LAMBDA_GB: f64 = 128.0 / 1024.0;
    /// HTTP API, per request of up to 512 KB (first 300 million of a month).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    /// WebSocket API, per message of up to 32 KB, either direction (first billion of a month).
    pub const WS_MESSAGE: f64 = 1.00 / 1e6;
    /// WebSocket API, per connection-minute.
    pub const WS_CONNECTION_MINUTE: f64 = 0.25 / 1e6;
    /// DynamoDB on-demand, per write request unit (since the price cut of 1 November 2024).
    pub const DYNAMODB_WRU: f64 = 0.625 / 1e6;
    /// DynamoDB on-demand, per read request unit (idem).
    pub const DYNAMODB_RRU: f64 = 0.125 / 1e6;
}

/// API Gateway meters WebSocket messages in 32 KB increments, HTTP API requests in 512 KB ones.
const WS_INCREMENT: usize = 32 * 1024;
const HTTP_INCREMENT: usize = 512 * 1024;

/// How long the relay keeps a connection record after the socket closed
/// (`room::service::relay::CONNECTION_RECORD_TTL`): every keep-alive scan reads it meanwhile.
const CONNECTION_RECORD_HOURS: f64 = 3.0;

// ------------------------------------------------------------------------------------------
// The DynamoDB meter

/// Parts of the call, each counted apart: the set-up, the keep-alive sweep, the hang-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Setup = 0,
    Sweep = 1,
    Hangup = 2,
}

/// One kind of DynamoDB request, as `DynamoRoomStore` makes it.
#[derive(Debug, Default, Clone)]
struct OpTally {
    calls: u64,
    conflicts: u64,
    rru: f64,
    wru: f64,
    largest_item: usize,
    scanned_bytes: usize,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Per phase, per request kind.
    ops: [BTreeMap<&'static str, OpTally>; 3],
    /// The table as DynamoDB would hold it: item key -> item size in bytes.
    items: HashMap<String, usize>,
}

/// The memory store, metered as the DynamoDB store's requests.
#[derive(Debug, Default)]
struct Meter {
    inner: MemoryRoomStore,
    phase: AtomicUsize,
    calls: AtomicU64,
    ledger: Mutex<Ledger>,
}

/// Bytes of a number attribute (DynamoDB item sizes: one byte per two significant digits, plus
/// one).
fn number_bytes(digits: usize) -> usize {
    digits.div_ceil(2) + 1
}

/// Every version is a random 63-bit number (`dynamo::new_version`): 19 digits, mostly.
const VERSION_DIGITS: usize = 19;
/// `ttl` holds epoch seconds: 10 digits.
const TTL_DIGITS: usize = 10;

fn room_key(room: &RoomId) -> String {
    format!("ROOM#{room}")
}

fn conn_key(connection: &str) -> String {
    format!("CONN#{connection}")
}

/// The room item: `pk`, `v`, `room` (the record as JSON) and `ttl`.
fn room_item_bytes(room: &RoomId, record: &Room) -> usize {
    let json = serde_json::to_string(record).map_or(0, |s| s.len());
    "pk".len()
        + room_key(room).len()
        + "v".len()
        + number_bytes(VERSION_DIGITS)
        + "room".len()
        + json
        + "ttl".len()
        + number_bytes(TTL_DIGITS)
}

/// A connection item: `pk`, `v`, `room` and `client` once registered, `closed`, `parked` (a list
/// of strings) while frames wait for the registration, `ttl`.
fn conn_item_bytes(
    connection: &str,
    registration: Option<(&RoomId, &ClientId)>,
    closed: bool,
    parked: Option<&[String]>,
) -> usize {
    let mut n = "pk".len()
        + conn_key(connection).len()
        + "v".len()
        + number_bytes(VERSION_DIGITS)
        + "ttl".len()
        + number_bytes(TTL_DIGITS);
    if let Some((room, client)) = registration {
        n += "room".len() + room.to_string().len() + "client".len() + client.to_string().len();
    }
    if closed {
        n += "closed".len() + 1;
    }
    if let Some(frames) = parked {
        n += "parked".len() + 3 + frames.iter().map(|f| f.len() + 1).sum::<usize>();
    }
    n
}

fn queue_key(room: &RoomId, member: &ClientId) -> String {
    format!("QUEUE#{room}#{member}")
}

/// A member's queue item: the frames, their byte count and the lease (absent: no item).
fn queue_item_bytes(room: &RoomId, member: &ClientId, q: &MemberQueue) -> Option<usize> {
    if q.frames.is_empty() && q.lease.is_none() && q.bytes == 0 {
        return None;
    }
    let mut n = "pk".len()
        + queue_key(room, member).len()
        + "f".len()
        + 3
        + q.frames.iter().map(|f| f.len() + 1).sum::<usize>()
        + "b".len()
        + number_bytes(6)
        + "ttl".len()
        + number_bytes(TTL_DIGITS);
    if q.lease.is_some() {
        n += "lo".len() + number_bytes(VERSION_DIGITS) + "lu".len() + number_bytes(13);
    }
    Some(n)
}

fn record_bytes(connection: &str, r: &ConnectionRecord) -> Option<usize> {
    r.version?;
    let registration = r.registration.as_ref().map(|(room, client)| (room, client));
    let parked = (!r.parked.is_empty()).then_some(r.parked.as_slice());
    Some(conn_item_bytes(connection, registration, r.closed, parked))
}

/// Strongly consistent read units of an item (an absent item still costs one).
fn read_units(bytes: Option<usize>) -> f64 {
    bytes.map_or(1.0, |b| b.div_ceil(4096).max(1) as f64)
}

/// Write units of a write whose item is `bytes` before and after (the larger counts).
fn write_units(before: Option<usize>, after: Option<usize>) -> f64 {
    let size = before.unwrap_or(0).max(after.unwrap_or(0));
    size.div_ceil(1024).max(1) as f64
}

/// Write units of a conditional write that failed: the new item's size on an existing item,
/// one on a new one.
fn failed_write_units(before: Option<usize>, after: Option<usize>) -> f64 {
    match before {
        Some(_) => after.unwrap_or(0).div_ceil(1024).max(1) as f64,
        None => 1.0,
    }
}

impl Meter {
    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as usize, Ordering::SeqCst);
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn record(&self, op: &'static str, f: impl FnOnce(&mut OpTally, &mut HashMap<String, usize>)) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let phase = self.phase.load(Ordering::SeqCst);
        if let Ok(mut ledger) = self.ledger.lock() {
            let Ledger { ops, items } = &mut *ledger;
            f(ops[phase].entry(op).or_default(), items);
        }
    }

    fn ops(&self, phases: &[Phase]) -> BTreeMap<&'static str, OpTally> {
        let mut out: BTreeMap<&'static str, OpTally> = BTreeMap::new();
        if let Ok(ledger) = self.ledger.lock() {
            for p in phases {
                for (op, t) in &ledger.ops[*p as usize] {
                    let o = out.entry(op).or_default();
                    o.calls += t.calls;
                    o.conflicts += t.conflicts;
                    o.rru += t.rru;
                    o.wru += t.wru;
                    o.largest_item = o.largest_item.max(t.largest_item);
                    o.scanned_bytes += t.scanned_bytes;
                }
            }
        }
        out
    }

    /// The connection items left in the table (read by every scan until DynamoDB deletes them).
    fn connection_item_bytes(&self) -> usize {
        self.ledger.lock().map_or(0, |l| {
            l.items
                .iter()
                .filter(|(k, _)| k.starts_with("CONN#"))
                .map(|(_, v)| v)
                .sum()
        })
    }

    async fn room_bytes(&self, room: &RoomId) -> Option<usize> {
        match self.inner.load(room).await {
            Ok(Some(v)) => Some(room_item_bytes(room, &v.room)),
            _ => None,
        }
    }

    async fn queue_bytes(&self, room: &RoomId, member: &ClientId) -> Option<usize> {
        let q = self.inner.queue(room, member).await.ok()?;
        queue_item_bytes(room, member, &q)
    }

    fn queue_write(
        &self,
        op: &'static str,
        room: &RoomId,
        member: &ClientId,
        before: Option<usize>,
        after: Option<usize>,
    ) {
        let key = queue_key(room, member);
        self.record(op, |t, items| {
            t.calls += 1;
            t.wru += write_units(before, after);
            t.largest_item = t.largest_item.max(after.unwrap_or(0));
            items.insert(key, after.unwrap_or(0));
        });
    }

    async fn conn_bytes(&self, connection: &str) -> Option<usize> {
        let r = self.inner.connection(connection).await.ok()?;
        record_bytes(connection, &r)
    }
}

const GET_ROOM: &str = "GetItem ROOM# (`load`)";
const GET_CONN: &str = "GetItem CONN# (`connection`)";
const PUT_ROOM: &str = "PutItem ROOM# (`swap`)";
const DELETE_ROOM: &str = "DeleteItem ROOM# (`swap` to nothing)";
const PARK: &str = "UpdateItem CONN# (`park_frame`)";
const GET_QUEUE: &str = "GetItem QUEUE# (`queue`)";
const APPEND: &str = "UpdateItem QUEUE# (`append`)";
const STEP: &str = "UpdateItem QUEUE# (`step`)";
const RELEASE: &str = "UpdateItem QUEUE# (`release`)";
const REGISTER: &str = "TransactWriteItems ROOM# + CONN# (`register_connection`)";
const CLOSE: &str = "UpdateItem CONN# (`close_connection`)";
const SCAN: &str = "Query index `registered` (`registered_connections`)";

#[async_trait]
impl RoomStore for Meter {
    async fn load(&self, room: &RoomId) -> Result<Option<Versioned>, StoreError> {
        let out = self.inner.load(room).await?;
        let bytes = out.as_ref().map(|v| room_item_bytes(room, &v.room));
        self.record(GET_ROOM, |t, _| {
            t.calls += 1;
            t.rru += read_units(bytes);
            t.largest_item = t.largest_item.max(bytes.unwrap_or(0));
        });
        Ok(out)
    }

    async fn swap(
        &self,
        room: &RoomId,
        expected: Option<u64>,
        new: Option<&Room>,
    ) -> Result<Swap, StoreError> {
        let before = self.room_bytes(room).await;
        let out = self.inner.swap(room, expected, new).await?;
        let after = new.map(|r| room_item_bytes(room, r));
        let key = room_key(room);
        match (new, expected) {
            // Deleting what does not exist: the DynamoDB store makes no request.
            (None, None) => {}
            (None, Some(_)) => self.record(DELETE_ROOM, |t, items| {
                t.calls += 1;
                if out == Swap::Done {
                    t.wru += write_units(before, None);
                    items.remove(&key);
                } else {
                    t.conflicts += 1;
                    t.wru += failed_write_units(before, before);
                }
            }),
            (Some(_), _) => self.record(PUT_ROOM, |t, items| {
                t.calls += 1;
                t.largest_item = t
                    .largest_item
                    .max(before.unwrap_or(0).max(after.unwrap_or(0)));
                if out == Swap::Done {
                    t.wru += write_units(before, after);
                    items.insert(key, after.unwrap_or(0));
                } else {
                    t.conflicts += 1;
                    t.wru += failed_write_units(before, after);
                }
            }),
        }
        Ok(out)
    }

    async fn connection(&self, connection: &str) -> Result<ConnectionRecord, StoreError> {
        let out = self.inner.connection(connection).await?;
        let bytes = record_bytes(connection, &out);
        self.record(GET_CONN, |t, _| {
            t.calls += 1;
            t.rru += read_units(bytes);
            t.largest_item = t.largest_item.max(bytes.unwrap_or(0));
        });
        Ok(out)
    }

    async fn park_frame(
        &self,
        connection: &str,
        frame: &str,
        q: &QueueLimits,
        expires_at: Millis,
    ) -> Result<Parked, StoreError> {
        let before = self.conn_bytes(connection).await;
        let out = self
            .inner
            .park_frame(connection, frame, q, expires_at)
            .await?;
        let after = self.conn_bytes(connection).await;
        let key = conn_key(connection);
        self.record(PARK, |t, items| {
            t.calls += 1;
            t.largest_item = t.largest_item.max(after.unwrap_or(0));
            if out == Parked::Kept {
                t.wru += write_units(before, after);
                items.insert(key, after.unwrap_or(0));
            } else {
                t.wru += failed_write_units(before, before);
            }
        });
        Ok(out)
    }

    async fn register_connection(&self, r: &Registration<'_>) -> Result<Swap, StoreError> {
        let Registration {
            connection,
            read,
            room,
            client,
            new,
            ..
        } = *r;
        let room_before = self.room_bytes(room).await;
        let conn_before = self.conn_bytes(connection).await;
        let queue_before = self.queue_bytes(room, &client.canonical()).await;
        let out = self.inner.register_connection(r).await?;
        let queue_after = self.queue_bytes(room, &client.canonical()).await;
        let room_after = room_item_bytes(room, new);
        let conn_after = conn_item_bytes(connection, Some((room, client)), read.closed, None);
        let (rk, ck) = (room_key(room), conn_key(connection));
        self.record(REGISTER, |t, items| {
            t.calls += 1;
            t.largest_item = t.largest_item.max(room_before.unwrap_or(0).max(room_after));
            // A transactional write costs two write units per 1 KB of each item.
            if out == Swap::Done {
                // The parked frames join the member's queue in the same transaction.
                let queue = if read.parked.is_empty() {
                    0.0
                } else {
                    write_units(queue_before, queue_after)
                };
                t.wru += 2.0
                    * (write_units(room_before, Some(room_after))
                        + write_units(conn_before, Some(conn_after))
                        + queue);
                items.insert(rk, room_after);
                items.insert(ck, conn_after);
            } else {
                t.conflicts += 1;
                t.wru += 2.0
                    * (failed_write_units(room_before, Some(room_after))
                        + failed_write_units(conn_before, Some(conn_after)));
            }
        });
        Ok(out)
    }

    async fn close_connection(
        &self,
        connection: &str,
        expires_at: Millis,
    ) -> Result<Option<(RoomId, ClientId)>, StoreError> {
        let before = self.conn_bytes(connection).await;
        let out = self.inner.close_connection(connection, expires_at).await?;
        let after = self.conn_bytes(connection).await;
        let key = conn_key(connection);
        self.record(CLOSE, |t, items| {
            t.calls += 1;
            t.wru += write_units(before, after);
            t.largest_item = t.largest_item.max(after.unwrap_or(0));
            items.insert(key, after.unwrap_or(0));
        });
        Ok(out)
    }

    async fn registered_connections(&self) -> Result<Vec<(String, RoomId, ClientId)>, StoreError> {
        let out = self.inner.registered_connections().await?;
        // One query per shard of the sparse index; each reads (and bills) only the open
        // connections' projected items, eventually consistent: half a unit per 4 KB of a query's
        // items, half a unit at least.
        let bytes: usize = out
            .iter()
            .map(|(c, r, cl)| {
                "pk".len()
                    + conn_key(c).len()
                    + "live".len()
                    + 1
                    + "room".len()
                    + r.to_string().len()
                    + "client".len()
                    + cl.to_string().len()
            })
            .sum();
        self.record(SCAN, |t, _| {
            t.calls += 1;
            t.scanned_bytes += bytes;
            t.rru += f64::from(LIVE_SHARDS) * 0.5 + bytes.div_ceil(4096) as f64 * 0.5;
        });
        Ok(out)
    }

    async fn queue(&self, room: &RoomId, member: &ClientId) -> Result<MemberQueue, StoreError> {
        let out = self.inner.queue(room, member).await?;
        let bytes = queue_item_bytes(room, member, &out);
        self.record(GET_QUEUE, |t, _| {
            t.calls += 1;
            t.rru += read_units(bytes);
            t.largest_item = t.largest_item.max(bytes.unwrap_or(0));
        });
        Ok(out)
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
        let before = self.queue_bytes(room, member).await;
        let out = self
            .inner
            .append(room, member, frame, now, q, expires_at)
            .await?;
        let after = self.queue_bytes(room, member).await;
        self.queue_write(APPEND, room, member, before, after);
        Ok(out)
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
        let before = self.queue_bytes(room, member).await;
        let out = self.inner.step(room, member, token, posted, now, q).await?;
        let after = self.queue_bytes(room, member).await;
        // Removing what was posted, or taking the lease; the lease's release once the queue is
        // empty is a second write.
        self.queue_write(STEP, room, member, before, after);
        if out == Step::Done && before.is_some() {
            self.queue_write(STEP, room, member, after, after);
        }
        Ok(out)
    }

    async fn release(
        &self,
        room: &RoomId,
        member: &ClientId,
        token: u64,
        hand_off: bool,
    ) -> Result<bool, StoreError> {
        let before = self.queue_bytes(room, member).await;
        let handed = self.inner.release(room, member, token, hand_off).await?;
        let after = self.queue_bytes(room, member).await;
        self.queue_write(RELEASE, room, member, before, after);
        Ok(handed)
    }
}

// ------------------------------------------------------------------------------------------
// The clients

/// What the clients did through API Gateway in one phase.
#[derive(Debug, Default, Clone)]
struct Traffic {
    /// Lambda invocations by function (HTTP routes and WebSocket route keys).
    invocations: BTreeMap<&'static str, u64>,
    http_requests: u64,
    http_metered: u64,
    frames_sent: u64,
    frames_received: u64,
    ws_metered: u64,
}

impl Traffic {
    fn add(&mut self, other: &Traffic) {
        for (k, v) in &other.invocations {
            *self.invocations.entry(k).or_default() += v;
        }
        self.http_requests += other.http_requests;
        self.http_metered += other.http_metered;
        self.frames_sent += other.frames_sent;
        self.frames_received += other.frames_received;
        self.ws_metered += other.ws_metered;
    }

    fn lambda_invocations(&self) -> u64 {
        self.invocations.values().sum()
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One browser's socket.
struct Side {
    ws: Socket,
    opened: Instant,
    closed: Option<Instant>,
}

struct Driver {
    base: String,
    ws_url: String,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    meter: Arc<Meter>,
    phase: Phase,
    traffic: [Traffic; 3],
}

const WAIT: Duration = Duration::from_secs(10);

fn metered(bytes: usize, increment: usize) -> u64 {
    bytes.div_ceil(increment).max(1) as u64
}

impl Driver {
    fn traffic(&mut self) -> &mut Traffic {
        &mut self.traffic[self.phase as usize]
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.meter.set_phase(phase);
    }

    /// One HTTP request through the HTTP API, handled by `function`.
    async fn http(
        &mut self,
        method: &str,
        path: &str,
        body: String,
        function: &'static str,
    ) -> Result<(u16, String)> {
        let sent = body.len();
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("user-agent", "apprtc-bench")
            .body(Full::new(Bytes::from(body)))?;
        let res = tokio::time::timeout(WAIT, self.client.request(req))
            .await
            .with_context(|| format!("{method} {path}: timeout"))??;
        let status = res.status().as_u16();
        let got = res.into_body().collect().await?.to_bytes();
        let t = self.traffic();
        t.http_requests += 1;
        t.http_metered += metered(sent.max(got.len()), HTTP_INCREMENT);
        *t.invocations.entry(function).or_default() += 1;
        ensure!(
            status < 400,
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&got)
        );
        Ok((status, String::from_utf8_lossy(&got).into_owned()))
    }

    /// What the browser fetches when the room page opens: the page, its style sheet and script
    /// (first visit: they are cached for 5 minutes after), the ICE servers.
    async fn open_page(&mut self, room: &str) -> Result<()> {
        self.http("GET", &format!("/r/{room}"), String::new(), "web")
            .await?;
        // The stand-in serves these itself; deployed, `GET /static/{file}` is the web function.
        for file in ["app.css", "app.js"] {
            self.http("GET", &format!("/static/{file}"), String::new(), "web")
                .await?;
        }
        self.http(
            "POST",
            "/v1alpha/iceconfig?key=",
            String::new(),
            "iceconfig",
        )
        .await?;
        Ok(())
    }

    async fn join(&mut self, room: &str) -> Result<serde_json::Value> {
        let (_, body) = self
            .http("POST", &format!("/join/{room}"), String::new(), "join")
            .await?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        ensure!(v["result"] == "SUCCESS", "join: {v}");
        Ok(v)
    }

    async fn message(&mut self, room: &str, client: &str, msg: &str) -> Result<()> {
        let (_, body) = self
            .http(
                "POST",
                &format!("/message/{room}/{client}"),
                msg.to_owned(),
                "message",
            )
            .await?;
        ensure!(body.contains("SUCCESS"), "message: {body}");
        Ok(())
    }

    async fn connect(&mut self) -> Result<Side> {
        let mut req = self.ws_url.as_str().into_client_request()?;
        req.headers_mut().insert("origin", self.base.parse()?);
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
            .await
            .context("connect timeout")??;
        Ok(Side {
            ws,
            opened: Instant::now(),
            closed: None,
        })
    }

    /// A frame from the client: one message, one invocation of the relay for its route key.
    async fn send(&mut self, side: &mut Side, frame: serde_json::Value) -> Result<()> {
        let text = frame.to_string();
        let route = match frame["cmd"].as_str() {
            Some("register") => "relay: register",
            Some("send") => "relay: send",
            _ => "relay: $default",
        };
        let t = self.traffic();
        t.frames_sent += 1;
        t.ws_metered += metered(text.len(), WS_INCREMENT);
        *t.invocations.entry(route).or_default() += 1;
        side.ws.send(Message::text(text)).await?;
        Ok(())
    }

    async fn register(&mut self, side: &mut Side, room: &str, client: &str) -> Result<()> {
        self.send(
            side,
            serde_json::json!({"cmd": "register", "roomid": room, "clientid": client}),
        )
        .await
    }

    async fn send_msg(&mut self, side: &mut Side, msg: &str) -> Result<()> {
        self.send(side, serde_json::json!({"cmd": "send", "msg": msg}))
            .await
    }

    /// The next frame API Gateway posts to this client (one message).
    async fn recv(&mut self, side: &mut Side) -> Result<serde_json::Value> {
        loop {
            let next = tokio::time::timeout(WAIT, side.ws.next())
                .await
                .context("timed out waiting for a frame")?;
            match next {
                Some(Ok(Message::Text(t))) => {
                    let tr = self.traffic();
                    tr.frames_received += 1;
                    tr.ws_metered += metered(t.len(), WS_INCREMENT);
                    return Ok(serde_json::from_str(t.as_str())?);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => bail!("socket ended: {other:?}"),
            }
        }
    }

    /// The next `n` signaling messages (no error frame among them).
    async fn recv_msgs(&mut self, side: &mut Side, n: usize) -> Result<Vec<String>> {
        let mut got = Vec::new();
        while got.len() < n {
            let v = self.recv(side).await?;
            ensure!(v["error"] == "", "error frame: {v}");
            got.push(v["msg"].as_str().context("msg")?.to_owned());
        }
        Ok(got)
    }

    /// Closes the socket; API Gateway then invokes the relay with `$disconnect`.
    async fn close(&mut self, side: &mut Side) -> Result<()> {
        side.ws.close(None).await?;
        side.closed = Some(Instant::now());
        *self
            .traffic()
            .invocations
            .entry("relay: $disconnect")
            .or_default() += 1;
        // Drain to the server's close frame.
        let _ = tokio::time::timeout(WAIT, async { while side.ws.next().await.is_some() {} }).await;
        Ok(())
    }

    /// Waits until no store call happened for a while: every invocation the last step caused
    /// has finished.
    async fn settle(&self) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        let mut last = self.meter.calls();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.meter.calls();
            if now == last {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "the store never went quiet");
            last = now;
        }
    }
}

// ------------------------------------------------------------------------------------------
// What the clients say

/// A Chrome-like audio and video offer (or answer): Opus and the usual audio codecs, VP8, VP9,
/// H.264 in six profiles, AV1, RED and ULPFEC, each video codec with its RTX, BUNDLE on one
/// transport. About 5 KB, the size of a desktop Chrome description.
fn sdp(answer: bool) -> String {
    let mut s = String::new();
    let fingerprint = (0..32)
        .map(|i| format!("{:02X}", (i * 37 + 11) % 256))
        .collect::<Vec<_>>()
        .join(":");
    let setup = if answer { "active" } else { "actpass" };
    let ice = if answer {
        ("Xk3q", "dP1qL0rT8vW2yZ4bN6mC9xHs")
    } else {
        ("a7Fz", "9nQwR3tY6uI0oP2aS5dF8gJk")
    };
    let _ = write!(
        s,
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
         a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS stream0\r\n"
    );
    let common = |s: &mut String, mid: u8| {
        let _ = write!(
            s,
            "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n\
             a=ice-options:trickle\r\na=fingerprint:sha-256 {fingerprint}\r\na=setup:{setup}\r\n\
             a=mid:{mid}\r\n",
            ice.0, ice.1
        );
    };
    s.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n");
    common(&mut s, 0);
    for (id, uri) in [
        (1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        (
            2,
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        ),
        (
            3,
            "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        ),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
    ] {
        let _ = write!(s, "a=extmap:{id} {uri}\r\n");
    }
    s.push_str(
        "a=sendrecv\r\na=msid:stream0 6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f\r\na=rtcp-mux\r\n\
         a=rtcp-rsize\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\n\
         a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n\
         a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\n\
         a=rtpmap:126 telephone-event/8000\r\na=ssrc:3735928559 cname:k2Jt7Qw9Zp4Lx8Vb\r\n\
         a=ssrc:3735928559 msid:stream0 6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f\r\n",
    );
    let h264 = |mode: u8, profile: &str| {
        format!("level-asymmetry-allowed=1;packetization-mode={mode};profile-level-id={profile}")
    };
    let video: Vec<(u16, &str, Option<String>)> = vec![
        (96, "VP8/90000", None),
        (98, "VP9/90000", Some("profile-id=0".into())),
        (100, "VP9/90000", Some("profile-id=2".into())),
        (102, "H264/90000", Some(h264(1, "42001f"))),
        (104, "H264/90000", Some(h264(0, "42001f"))),
        (106, "H264/90000", Some(h264(1, "42e01f"))),
        (108, "H264/90000", Some(h264(0, "42e01f"))),
        (112, "H264/90000", Some(h264(1, "4d001f"))),
        (127, "H264/90000", Some(h264(1, "64001f"))),
        (45, "AV1/90000", Some("level-idx=5;profile=0;tier=0".into())),
    ];
    let pts: Vec<String> = video
        .iter()
        .flat_map(|(pt, _, _)| [pt.to_string(), (pt + 1).to_string()])
        .chain(["116", "117", "118"].map(String::from))
        .collect();
    let _ = write!(s, "m=video 9 UDP/TLS/RTP/SAVPF {}\r\n", pts.join(" "));
    common(&mut s, 1);
    for (id, uri) in [
        (14, "urn:ietf:params:rtp-hdrext:toffset"),
        (
            2,
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        ),
        (13, "urn:3gpp:video-orientation"),
        (
            3,
            "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        ),
        (
            5,
            "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
        ),
        (
            6,
            "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
        ),
        (
            7,
            "http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
        ),
        (
            8,
            "http://www.webrtc.org/experiments/rtp-hdrext/color-space",
        ),
        (4, "urn:ietf:params:rtp-hdrext:sdes:mid"),
        (10, "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
        (11, "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"),
    ] {
        let _ = write!(s, "a=extmap:{id} {uri}\r\n");
    }
    s.push_str(
        "a=sendrecv\r\na=msid:stream0 0b9d8c7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\r\na=rtcp-mux\r\n\
         a=rtcp-rsize\r\n",
    );
    for (pt, codec, fmtp) in &video {
        let _ = write!(s, "a=rtpmap:{pt} {codec}\r\n");
        for fb in ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"] {
            let _ = write!(s, "a=rtcp-fb:{pt} {fb}\r\n");
        }
        if let Some(f) = fmtp {
            let _ = write!(s, "a=fmtp:{pt} {f}\r\n");
        }
        let _ = write!(
            s,
            "a=rtpmap:{} rtx/90000\r\na=fmtp:{} apt={pt}\r\n",
            pt + 1,
            pt + 1
        );
    }
    s.push_str(
        "a=rtpmap:116 red/90000\r\na=rtpmap:117 rtx/90000\r\na=fmtp:117 apt=116\r\n\
         a=rtpmap:118 ulpfec/90000\r\na=ssrc-group:FID 2882400001 2882400002\r\n\
         a=ssrc:2882400001 cname:k2Jt7Qw9Zp4Lx8Vb\r\n\
         a=ssrc:2882400001 msid:stream0 0b9d8c7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\r\n\
         a=ssrc:2882400002 cname:k2Jt7Qw9Zp4Lx8Vb\r\n\
         a=ssrc:2882400002 msid:stream0 0b9d8c7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a\r\n",
    );
    s
}

/// A message as the web client sends it (`JSON.stringify` of the description or candidate).
fn description(answer: bool) -> String {
    serde_json::json!({"type": if answer { "answer" } else { "offer" }, "sdp": sdp(answer)})
        .to_string()
}

/// The `n`th candidate a client gathers: host, then server-reflexive, then relay (TURN).
fn candidate(n: usize) -> String {
    let line = match n % 3 {
        0 => format!(
            "candidate:{} 1 udp 2122260223 192.168.1.{} 5{:04} typ host generation 0 ufrag a7Fz network-id 1 network-cost 10",
            3_900_000_000u64 + n as u64,
            20 + n,
            n
        ),
        1 => format!(
            "candidate:{} 1 udp 1686052607 203.0.113.{} 6{:04} typ srflx raddr 192.168.1.20 rport 5{:04} generation 0 ufrag a7Fz network-id 1 network-cost 10",
            842_163_049u64 + n as u64,
            7 + n,
            n,
            n
        ),
        _ => format!(
            "candidate:{} 1 udp 41885439 198.51.100.{} 4{:04} typ relay raddr 203.0.113.7 rport 6{:04} generation 0 ufrag a7Fz network-id 1 network-cost 10",
            1_052_210_495u64 + n as u64,
            9 + n,
            n,
            n
        ),
    };
    serde_json::json!({"type": "candidate", "label": 0, "id": "0", "candidate": line}).to_string()
}

const BYE: &str = r#"{"type":"bye"}"#;

// ------------------------------------------------------------------------------------------
// The call

/// What the call measured.
struct Measured {
    call: Traffic,
    sweep: Traffic,
    call_ops: BTreeMap<&'static str, OpTally>,
    sweep_ops: BTreeMap<&'static str, OpTally>,
    /// Socket time of the set-up and the hang-up (the wait for the sweep left out), in minutes.
    socket_minutes: f64,
    /// Connection items left in the table after the call.
    leftover_bytes: usize,
    offer_bytes: usize,
}

async fn play(args: &Args) -> Result<Measured> {
    let sweep_after = format!("{}ms", args.sweep_after.as_millis());
    let config = Config::try_parse_from([
        "apprtc-local",
        "--backend",
        "aws-local",
        "--listen",
        "127.0.0.1:0",
        "--keepalive-interval",
        &sweep_after,
        // The deployed defaults (`room::adapters::lambda::DeployConfig`).
        "--max-message-bytes",
        "24576",
        "--max-queued-bytes",
        "65536",
    ])?;
    let (settings, relay) = config.settings().map_err(anyhow::Error::msg)?;
    let meter = Arc::new(Meter::default());
    let server = Server::aws_local(
        settings,
        relay,
        config.server_options(),
        config.gateway_options(),
        meter.clone(),
        &config.table,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let task = tokio::spawn(server.serve(Listeners::plain(listener), async move {
        let _ = stopped.await;
    }));
    let mut d = Driver {
        base: format!("http://{addr}"),
        ws_url: format!("ws://{addr}/ws"),
        client: http_client(),
        meter: meter.clone(),
        phase: Phase::Setup,
        traffic: Default::default(),
    };
    let room = format!(
        "{}",
        100_000_000
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .subsec_nanos()
                % 900_000_000
    );
    let offer = description(false);
    let answer = description(true);

    // A opens the room page, joins alone, registers, and sends its offer and the candidates it
    // gathers while waiting: the initiator posts them to /message, the room keeps them.
    d.open_page(&room).await?;
    let a = d.join(&room).await?["params"]["client_id"]
        .as_str()
        .context("client_id")?
        .to_owned();
    let mut wa = d.connect().await?;
    d.register(&mut wa, &room, &a).await?;
    // The web client registers once joined and its socket is open, and makes its offer once the
    // camera and the ICE servers are there: the registration is handled first.
    d.settle().await?;
    d.message(&room, &a, &offer).await?;
    for n in 0..args.early_candidates {
        d.message(&room, &a, &candidate(n)).await?;
    }

    // B opens the page and joins: the join answer hands it A's offer and candidates.
    d.open_page(&room).await?;
    let joined = d.join(&room).await?;
    let b = joined["params"]["client_id"]
        .as_str()
        .context("client_id")?
        .to_owned();
    let saved = joined["params"]["messages"].as_array().map_or(0, Vec::len);
    ensure!(
        saved == 1 + args.early_candidates,
        "the joiner got {saved} saved messages"
    );
    let mut wb = d.connect().await?;
    d.register(&mut wb, &room, &b).await?;
    d.settle().await?;
    // B answers and trickles its candidates over its socket; A hears them by PostToConnection.
    let from_b: Vec<String> = std::iter::once(answer)
        .chain((0..args.joiner_candidates).map(|n| candidate(100 + n)))
        .collect();
    for m in &from_b {
        d.send_msg(&mut wb, m).await?;
    }
    d.recv_msgs(&mut wa, from_b.len()).await?;
    // A's last candidates: /message again, forwarded to B by the relay.
    for n in 0..args.late_candidates {
        d.message(&room, &a, &candidate(args.early_candidates + n))
            .await?;
    }
    d.recv_msgs(&mut wb, args.late_candidates).await?;
    d.settle().await?;
    let setup_done = Instant::now();
    let setup_scans = meter.ops(&[Phase::Setup]).get(SCAN).map_or(0, |t| t.calls);
    ensure!(
        setup_scans == 0,
        "the keep-alive sweep ran during the call's set-up ({:?} after the start): give a longer --sweep-after",
        setup_done - started
    );

    // The call goes on; the keep-alive sweep posts one frame to each socket.
    d.enter(Phase::Sweep);
    for side in [&mut wa, &mut wb] {
        let v = d.recv(side).await?;
        ensure!(
            v["error"] == "keepalive",
            "expected the keep-alive frame: {v}"
        );
    }
    d.settle().await?;
    let sweep_time = setup_done.elapsed();
    ensure!(
        meter.ops(&[Phase::Sweep]).get(SCAN).map_or(0, |t| t.calls) == 1,
        "expected one keep-alive sweep"
    );

    // A hangs up as the web client does: /leave, bye over its socket, close, collider DELETE.
    d.enter(Phase::Hangup);
    d.http(
        "POST",
        &format!("/leave/{room}/{a}"),
        String::new(),
        "leave",
    )
    .await?;
    d.send_msg(&mut wa, BYE).await?;
    let bye = d.recv_msgs(&mut wb, 1).await?;
    ensure!(bye == [BYE], "expected bye, got {bye:?}");
    d.close(&mut wa).await?;
    d.http(
        "DELETE",
        &format!("/relay/{room}/{a}"),
        String::new(),
        "collider",
    )
    .await?;
    // B heard the bye and closes the page: the same steps.
    d.http(
        "POST",
        &format!("/leave/{room}/{b}"),
        String::new(),
        "leave",
    )
    .await?;
    d.send_msg(&mut wb, BYE).await?;
    d.close(&mut wb).await?;
    d.http(
        "DELETE",
        &format!("/relay/{room}/{b}"),
        String::new(),
        "collider",
    )
    .await?;
    d.settle().await?;
    let hangup = meter.ops(&[Phase::Hangup]);
    ensure!(
        !hangup.contains_key(SCAN),
        "a second keep-alive sweep ran during the hang-up: give a longer --sweep-after"
    );
    ensure!(
        hangup.get(CLOSE).map_or(0, |t| t.calls) == 2,
        "the stand-in did not handle both $disconnect events"
    );
    let _ = stop.send(());
    let _ = tokio::time::timeout(WAIT, task).await;

    let socket_minutes = [&wa, &wb]
        .iter()
        .map(|s| {
            s.closed
                .map_or(Duration::ZERO, |c| c - s.opened)
                .saturating_sub(sweep_time)
                .as_secs_f64()
                / 60.0
        })
        .sum();
    let mut call = d.traffic[Phase::Setup as usize].clone();
    call.add(&d.traffic[Phase::Hangup as usize]);
    Ok(Measured {
        call,
        sweep: d.traffic[Phase::Sweep as usize].clone(),
        call_ops: meter.ops(&[Phase::Setup, Phase::Hangup]),
        sweep_ops: meter.ops(&[Phase::Sweep]),
        socket_minutes,
        leftover_bytes: meter.connection_item_bytes(),
        offer_bytes: offer.len(),
    })
}

// ------------------------------------------------------------------------------------------
// The bill

fn units(ops: &BTreeMap<&'static str, OpTally>) -> (f64, f64, u64) {
    ops.values().fold((0.0, 0.0, 0), |(r, w, n), t| {
        (r + t.rru, w + t.wru, n + t.calls)
    })
}

fn usd(x: f64) -> String {
    if x >= 0.001 {
        format!("${x:.4}")
    } else {
        format!("${x:.6}")
    }
}

fn num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round())
    } else {
        format!("{x:.2}")
    }
}

fn report(args: &Args, m: &Measured) -> String {
    let mut out = String::new();
    // Sweeps that meet the call, on average: one every `keepalive_minutes`.
    let share = args.call_minutes / args.keepalive_minutes;
    let (call_rru, call_wru, call_db) = units(&m.call_ops);
    let (sweep_rru, _, _) = units(&m.sweep_ops);
    let sweep_scan = m.sweep_ops.get(SCAN).cloned().unwrap_or_default();
    // The sweep's reads of the call's items: its queues (and a room, where one is read).
    let sweep_gets = [GET_ROOM, GET_QUEUE]
        .iter()
        .filter_map(|op| m.sweep_ops.get(op))
        .fold(OpTally::default(), |mut all, t| {
            all.calls += t.calls;
            all.rru += t.rru;
            all
        });
    // What a sweep costs because this call is in progress: its frames, its room read and its
    // items' part of the scan (the sweep's invocation and the rest of its scan run anyway).
    let sweep_call_rru = sweep_gets.rru + sweep_scan.scanned_bytes as f64 / 4096.0 * 0.5;
    // Closed connection items leave the index: no sweep reads them while they wait for the TTL.
    let leftover_rru = 0.0;

    let invocations = m.call.lambda_invocations() as f64;
    let lambda_ms = invocations * args.own_ms
        + call_db as f64 * args.dynamodb_ms
        + m.call.frames_received as f64 * args.post_ms
        + share
            * (sweep_gets.calls as f64 * args.dynamodb_ms
                + m.sweep.frames_received as f64 * args.post_ms);
    let gb_s = lambda_ms / 1000.0 * price::LAMBDA_GB;
    let messages = m.call.ws_metered as f64 + share * m.sweep.ws_metered as f64;
    let connection_minutes = 2.0 * args.call_minutes + m.socket_minutes;
    let rru = call_rru + share * sweep_call_rru + leftover_rru;

    let _ = writeln!(
        out,
        "# one call: {} min on two sockets; {} + {} initiator candidates, {} joiner candidates; offer {} B",
        args.call_minutes,
        args.early_candidates,
        args.late_candidates,
        args.joiner_candidates,
        m.offer_bytes
    );
    let _ = writeln!(out, "\n## What the call did (counted)\n");
    let _ = writeln!(out, "| Lambda function | invocations |\n|---|---|");
    for (f, n) in &m.call.invocations {
        let _ = writeln!(out, "| {f} | {n} |");
    }
    let _ = writeln!(
        out,
        "| **total** | **{}** (+ 1 keep-alive sweep every {} min, whatever the traffic) |",
        m.call.lambda_invocations(),
        args.keepalive_minutes
    );
    let _ = writeln!(
        out,
        "\n| DynamoDB request | calls | conflicts | largest item | units |\n|---|---|---|---|---|"
    );
    for (op, t) in &m.call_ops {
        let u = if t.wru > 0.0 {
            format!("{} WRU", num(t.wru))
        } else {
            format!("{} RRU", num(t.rru))
        };
        let _ = writeln!(
            out,
            "| {op} | {} | {} | {} B | {u} |",
            t.calls, t.conflicts, t.largest_item
        );
    }
    let _ = writeln!(
        out,
        "| **total** | **{call_db}** | | | **{} WRU, {} RRU** |",
        num(call_wru),
        num(call_rru)
    );
    let _ = writeln!(
        out,
        "\nAPI Gateway: {} HTTP API requests; {} WebSocket frames from the clients, {} to them \
         (PostToConnection), {} messages metered in 32 KB increments; sockets open {:.2} s in the \
         set-up and hang-up (the bench's waits for the store to go quiet included).",
        m.call.http_requests,
        m.call.frames_sent,
        m.call.frames_received,
        m.call.ws_metered,
        m.socket_minutes * 60.0
    );
    let _ = writeln!(
        out,
        "One keep-alive sweep during the call: {} frames posted, {} items read, {} B of the index \
         `registered` read ({} RRU in all, {LIVE_SHARDS} queries of half a unit at least). The call \
         leaves {} B of connection records for {CONNECTION_RECORD_HOURS} h, until their TTL; closed, \
         they are out of the index and no sweep reads them.",
        m.sweep.frames_received,
        sweep_gets.calls,
        sweep_scan.scanned_bytes,
        num(sweep_rru),
        m.leftover_bytes,
    );

    let _ = writeln!(
        out,
        "\n## What it costs (us-east-1 list prices)\n\n| item | per call | price | per 1 000 calls |\n|---|---|---|---|"
    );
    let mut total = 0.0;
    let mut line = |out: &mut String, item: &str, qty: String, unit: &str, cost: f64| {
        total += cost * 1000.0;
        let _ = writeln!(out, "| {item} | {qty} | {unit} | {} |", usd(cost * 1000.0));
    };
    line(
        &mut out,
        "Lambda requests",
        num(invocations),
        "$0.20 per million",
        invocations * price::LAMBDA_REQUEST,
    );
    line(
        &mut out,
        "Lambda duration, 128 MB arm64",
        format!("{} ms = {:.4} GB-s", num(lambda_ms), gb_s),
        "$0.0000133334 per GB-s",
        gb_s * price::LAMBDA_ARM_GB_SECOND,
    );
    line(
        &mut out,
        "HTTP API requests",
        m.call.http_metered.to_string(),
        "$1.00 per million",
        m.call.http_metered as f64 * price::HTTP_API_REQUEST,
    );
    line(
        &mut out,
        "WebSocket messages",
        format!(
            "{} + {} keep-alive",
            m.call.ws_metered,
            num(share * m.sweep.ws_metered as f64)
        ),
        "$1.00 per million",
        messages * price::WS_MESSAGE,
    );
    line(
        &mut out,
        "WebSocket connection-minutes",
        format!("{connection_minutes:.2}"),
        "$0.25 per million",
        connection_minutes * price::WS_CONNECTION_MINUTE,
    );
    line(
        &mut out,
        "DynamoDB write request units",
        num(call_wru),
        "$0.625 per million",
        call_wru * price::DYNAMODB_WRU,
    );
    line(
        &mut out,
        "DynamoDB read request units",
        format!(
            "{} + {:.2} keep-alive",
            num(call_rru),
            share * sweep_call_rru + leftover_rru
        ),
        "$0.125 per million",
        rru * price::DYNAMODB_RRU,
    );
    let _ = writeln!(out, "| **total** | | | **{}** |", usd(total));
    let _ = writeln!(
        out,
        "\nLambda duration: {} ms per invocation, {} ms per DynamoDB request, {} ms per \
         PostToConnection (stated, not measured). Keep-alive: {} sweeps meet a call of {} min on \
         average (one every {} min); the sweep's own invocation and index queries run every {} min whatever \
         the traffic.",
        args.own_ms,
        args.dynamodb_ms,
        args.post_ms,
        num(share),
        args.call_minutes,
        args.keepalive_minutes,
        args.keepalive_minutes
    );
    out
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.call_minutes > 0.0 && args.keepalive_minutes > 0.0,
        "durations must be positive"
    );
    let measured = play(&args).await?;
    print!("{}", report(&args, &measured));
    Ok(())
}
