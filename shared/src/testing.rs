//! Test doubles for the ports, shared by the unit, contract and race tests of this crate and its
//! users: a clock the test moves, a notifier that records deliveries, fixed ids.

use crate::domain::ids::{ClientId, RoomId};
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

/// A notifier that records every delivery and always succeeds.
#[derive(Debug, Default)]
pub struct RecordingNotifier(Mutex<Vec<Delivery>>);

impl RecordingNotifier {
    /// Everything delivered so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.0.lock().map(|d| d.clone()).unwrap_or_default()
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
        if let Ok(mut d) = self.0.lock() {
            d.push(Delivery {
                room: room.clone(),
                from: from.clone(),
                msg: msg.to_owned(),
            });
        }
        Ok(())
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
