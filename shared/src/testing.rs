//! Test doubles for the ports, shared by the unit, contract and race tests of this crate and its
//! users: a clock the test moves, a notifier that records deliveries, fixed ids.

use crate::domain::ids::{ClientId, ConnectionId, RoomId};
use crate::domain::room::Millis;
use crate::ports::{Clock, DeliveryError, IdSource, PeerNotifier};
use async_trait::async_trait;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// Starts at `start` epoch milliseconds.
    pub fn new(start: Millis) -> Self {
        Self(AtomicU64::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0
            .fetch_add(crate::domain::room::millis(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// The system clock plus however far a test has moved it forward: time runs as usual, and a test
/// jumps past a grace or a deadline instead of waiting for it.
#[derive(Debug, Default)]
pub struct MovableClock(AtomicU64);

impl MovableClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0
            .fetch_add(crate::domain::room::millis(by), Ordering::SeqCst);
    }
}

impl Clock for MovableClock {
    fn now(&self) -> Millis {
        crate::ports::SystemClock.now() + self.0.load(Ordering::SeqCst)
    }
}

/// One recorded delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Room.
    pub room: RoomId,
    /// Sender.
    pub from: ClientId,
    /// Message text.
    pub msg: String,
}

/// A notifier that records every delivery and succeeds, or, made with
/// [`RecordingNotifier::refusing`], records every delivery it is asked for and refuses it.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    deliveries: Mutex<Vec<Delivery>>,
    refusal: Option<DeliveryError>,
}

impl RecordingNotifier {
    /// A notifier that refuses every delivery with `refusal` (as a relay with a full queue does),
    /// still recording what was attempted.
    pub fn refusing(refusal: DeliveryError) -> Self {
        Self {
            deliveries: Mutex::default(),
            refusal: Some(refusal),
        }
    }

    /// Everything delivered (or, when refusing, attempted) so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl PeerNotifier for RecordingNotifier {
    async fn deliver(
        &self,
        room: &RoomId,
        from: &ClientId,
        msg: &str,
    ) -> Result<(), DeliveryError> {
        if let Ok(mut d) = self.deliveries.lock() {
            d.push(Delivery {
                room: room.clone(),
                from: from.clone(),
                msg: msg.to_owned(),
            });
        }
        self.refusal.clone().map_or(Ok(()), Err)
    }
}

/// Hands out the given ids in order, then none.
#[derive(Debug)]
pub struct FixedIds(Mutex<std::collections::VecDeque<ClientId>>);

impl FixedIds {
    /// Ids to hand out.
    pub fn new(ids: impl IntoIterator<Item = ClientId>) -> Self {
        Self(Mutex::new(ids.into_iter().collect()))
    }
}

impl IdSource for FixedIds {
    fn client_id(&self) -> Option<ClientId> {
        self.0.lock().ok()?.pop_front()
    }
}

/// Queues handed off ([`crate::ports::Handoffs`]), recorded for a test to deliver as the
/// deployment's stream trigger would.
#[derive(Debug, Default)]
pub struct RecordedHandoffs {
    handed: Mutex<Vec<(RoomId, ClientId)>>,
}

impl RecordedHandoffs {
    /// The hand-offs so far, oldest first, and forgets them.
    pub fn take(&self) -> Vec<(RoomId, ClientId)> {
        self.handed
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default()
    }
}

impl crate::ports::Handoffs for RecordedHandoffs {
    fn handed_off(&self, room: &RoomId, member: &ClientId) {
        if let Ok(mut h) = self.handed.lock() {
            h.push((room.clone(), member.clone()));
        }
    }
}

/// Relay connections that record what was posted to each, for the stored relay's tests.
#[derive(Debug, Default)]
pub struct FakeConnections {
    state: Mutex<FakeState>,
}

#[derive(Debug, Default)]
struct FakeState {
    open: std::collections::HashSet<String>,
    frames: std::collections::HashMap<String, Vec<String>>,
    closed: Vec<String>,
    /// Open connections whose posts fail (as throttled or failing management API calls do).
    failing: std::collections::HashSet<String>,
    failed_posts: usize,
}

impl FakeConnections {
    /// Opens a connection.
    pub fn open(&self, connection: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.open.insert(connection.to_owned());
        }
    }

    /// Drops a connection without telling anyone (like a vanished phone).
    pub fn vanish(&self, connection: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.open.remove(connection);
        }
    }

    /// Frames posted to a connection, oldest first, and forgets them.
    pub fn take(&self, connection: &str) -> Vec<String> {
        self.state
            .lock()
            .ok()
            .and_then(|mut s| s.frames.remove(connection))
            .unwrap_or_default()
    }

    /// Makes posts to an open connection fail (`true`) or work again (`false`).
    pub fn fail_posts(&self, connection: &str, fail: bool) {
        if let Ok(mut s) = self.state.lock() {
            if fail {
                s.failing.insert(connection.to_owned());
            } else {
                s.failing.remove(connection);
            }
        }
    }

    /// How many posts failed so far.
    pub fn failed_posts(&self) -> usize {
        self.state.lock().map(|s| s.failed_posts).unwrap_or(0)
    }

    /// Connections the relay closed.
    pub fn closed(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|s| s.closed.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl crate::ports::Connections for FakeConnections {
    async fn post(
        &self,
        connection: &ConnectionId,
        frame: &str,
    ) -> Result<(), crate::ports::PostError> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| crate::ports::PostError::Failed("poisoned".to_owned()))?;
        if !s.open.contains(connection.as_str()) {
            return Err(crate::ports::PostError::Gone);
        }
        if s.failing.contains(connection.as_str()) {
            s.failed_posts += 1;
            return Err(crate::ports::PostError::Failed(
                "LimitExceededException: posts to this connection fail".to_owned(),
            ));
        }
        s.frames
            .entry(connection.to_string())
            .or_default()
            .push(frame.to_owned());
        Ok(())
    }

    async fn is_open(&self, connection: &ConnectionId) -> Result<bool, crate::ports::PostError> {
        Ok(self
            .state
            .lock()
            .map(|s| s.open.contains(connection.as_str()))
            .unwrap_or(false))
    }

    async fn close(&self, connection: &ConnectionId) {
        if let Ok(mut s) = self.state.lock() {
            s.open.remove(connection.as_str());
            s.closed.push(connection.to_string());
        }
    }
}
