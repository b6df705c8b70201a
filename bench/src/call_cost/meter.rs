//! The memory store, metered as the DynamoDB store's requests: each store call counted as the
//! request `room::adapters::dynamo` makes for it, in read or write request units from the sizes
//! of the items as DynamoDB would hold them (keys built by the adapter's own functions), per
//! phase of the call.

use async_trait::async_trait;
use room::adapters::dynamo::{self, KEY, LIVE, LIVE_SHARDS, TTL_ATTRIBUTE};
use room::adapters::memory::MemoryRoomStore;
use room::domain::ids::ConnectionId;
use room::domain::relay::{Appended, MemberQueue, QueueLimits, Step};
use room::domain::room::{Millis, Room};
use room::ports::{ConnectionRecord, Parked, Registration, RoomStore, StoreError, Swap, Versioned};
use room::{ClientId, RoomId};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Parts of the call, each counted apart: the set-up, the keep-alive sweep, the hang-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// From the first page load to the last candidate delivered.
    Setup = 0,
    /// The keep-alive sweep that meets the call.
    Sweep = 1,
    /// From the first `/leave` to the last socket closed.
    Hangup = 2,
}

/// One kind of DynamoDB request, as `DynamoRoomStore` makes it.
#[derive(Debug, Default, Clone)]
pub struct OpTally {
    /// Requests made.
    pub calls: u64,
    /// Of those, conditional writes whose condition failed.
    pub conflicts: u64,
    /// Read request units.
    pub rru: f64,
    /// Write request units.
    pub wru: f64,
    /// The largest item read or written, in bytes.
    pub largest_item: usize,
    /// Bytes of the index items a query read.
    pub scanned_bytes: usize,
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
pub struct Meter {
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

/// The room item's key, as the DynamoDB store writes it.
fn room_key(room: &RoomId) -> String {
    dynamo::key(room).as_s().cloned().unwrap_or_default()
}

/// A connection item's key, as the DynamoDB store writes it.
fn conn_key(connection: &ConnectionId) -> String {
    dynamo::conn_key(connection)
        .as_s()
        .cloned()
        .unwrap_or_default()
}

/// The room item: `pk`, `v`, `room` (the record as JSON) and `ttl`.
fn room_item_bytes(room: &RoomId, record: &Room) -> usize {
    let json = serde_json::to_string(record).map_or(0, |s| s.len());
    KEY.len()
        + room_key(room).len()
        + "v".len()
        + number_bytes(VERSION_DIGITS)
        + "room".len()
        + json
        + TTL_ATTRIBUTE.len()
        + number_bytes(TTL_DIGITS)
}

/// A connection item: `pk`, `v`, `room` and `client` once registered, `closed`, `parked` (a list
/// of strings) while frames wait for the registration, `ttl`.
fn conn_item_bytes(
    connection: &ConnectionId,
    registration: Option<(&RoomId, &ClientId)>,
    closed: bool,
    parked: Option<&[String]>,
) -> usize {
    let mut n = KEY.len()
        + conn_key(connection).len()
        + "v".len()
        + number_bytes(VERSION_DIGITS)
        + TTL_ATTRIBUTE.len()
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

/// A member's queue item: the frames, their byte count and the lease (absent: no item).
fn queue_item_bytes(room: &RoomId, member: &ClientId, q: &MemberQueue) -> Option<usize> {
    if q.frames.is_empty() && q.lease.is_none() && q.bytes == 0 {
        return None;
    }
    let mut n = KEY.len()
        + dynamo::queue_item_key(room, member).len()
        + "f".len()
        + 3
        + q.frames.iter().map(|f| f.len() + 1).sum::<usize>()
        + "b".len()
        + number_bytes(6)
        + TTL_ATTRIBUTE.len()
        + number_bytes(TTL_DIGITS);
    if q.lease.is_some() {
        n += "lo".len() + number_bytes(VERSION_DIGITS) + "lu".len() + number_bytes(13);
    }
    Some(n)
}

/// An index item of the keep-alive's query: the key, `live` and the projected `room` and `client`.
fn index_item_bytes(connection: &ConnectionId, room: &RoomId, client: &ClientId) -> usize {
    KEY.len()
        + conn_key(connection).len()
        + LIVE.len()
        + 1
        + "room".len()
        + room.to_string().len()
        + "client".len()
        + client.to_string().len()
}

fn record_bytes(connection: &ConnectionId, r: &ConnectionRecord) -> Option<usize> {
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
    /// Counts what follows as part of `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as usize, Ordering::SeqCst);
    }

    /// Store calls so far, in all phases.
    pub fn calls(&self) -> u64 {
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

    /// The requests of `phases` together, by kind.
    pub fn ops(&self, phases: &[Phase]) -> BTreeMap<&'static str, OpTally> {
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
    pub fn connection_item_bytes(&self) -> usize {
        // What every connection item's key starts with.
        let prefix = conn_key(&ConnectionId::new(""));
        self.ledger.lock().map_or(0, |l| {
            l.items
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
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
        let key = dynamo::queue_item_key(room, member);
        self.record(op, |t, items| {
            t.calls += 1;
            t.wru += write_units(before, after);
            t.largest_item = t.largest_item.max(after.unwrap_or(0));
            items.insert(key, after.unwrap_or(0));
        });
    }

    /// One consistent `GetItem` of an item of `bytes` (`None`: no item).
    fn get(&self, op: &'static str, bytes: Option<usize>) {
        self.record(op, |t, _| {
            t.calls += 1;
            t.rru += read_units(bytes);
            t.largest_item = t.largest_item.max(bytes.unwrap_or(0));
        });
    }

    async fn conn_bytes(&self, connection: &ConnectionId) -> Option<usize> {
        let r = self.inner.connection(connection).await.ok()?;
        record_bytes(connection, &r)
    }
}

/// A room's read (the request kinds are named as the report prints them).
pub const GET_ROOM: &str = "GetItem ROOM# (`load`)";
const GET_CONN: &str = "GetItem CONN# (`connection`)";
const PUT_ROOM: &str = "PutItem ROOM# (`swap`)";
const DELETE_ROOM: &str = "DeleteItem ROOM# (`swap` to nothing)";
const PARK: &str = "UpdateItem CONN# (`park_frame`)";
/// A member queue's read.
pub const GET_QUEUE: &str = "GetItem QUEUE# (`queue`)";
const APPEND: &str = "UpdateItem QUEUE# (`append`)";
const STEP: &str = "UpdateItem QUEUE# (`step`)";
const RELEASE: &str = "UpdateItem QUEUE# (`release`)";
const REGISTER: &str = "TransactWriteItems ROOM# + CONN# (`register_connection`)";
/// A connection's close (`$disconnect`).
pub const CLOSE: &str = "UpdateItem CONN# (`close_connection`)";
/// The keep-alive sweep's query of the index of open connections.
pub const SCAN: &str = "Query index `registered` (`registered_connections`)";

#[async_trait]
impl RoomStore for Meter {
    async fn load(&self, room: &RoomId) -> Result<Option<Versioned>, StoreError> {
        let out = self.inner.load(room).await?;
        let bytes = out.as_ref().map(|v| room_item_bytes(room, &v.room));
        self.get(GET_ROOM, bytes);
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

    async fn connection(&self, connection: &ConnectionId) -> Result<ConnectionRecord, StoreError> {
        let out = self.inner.connection(connection).await?;
        let bytes = record_bytes(connection, &out);
        self.get(GET_CONN, bytes);
        Ok(out)
    }

    async fn park_frame(
        &self,
        connection: &ConnectionId,
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
        connection: &ConnectionId,
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

    async fn registered_connections(
        &self,
    ) -> Result<Vec<(ConnectionId, RoomId, ClientId)>, StoreError> {
        let out = self.inner.registered_connections().await?;
        // One query per shard of the sparse index; each reads (and bills) only the open
        // connections' projected items, eventually consistent: half a unit per 4 KB of a query's
        // items, half a unit at least.
        let bytes: usize = out
            .iter()
            .map(|(c, r, cl)| index_item_bytes(c, r, cl))
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
        self.get(GET_QUEUE, bytes);
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
