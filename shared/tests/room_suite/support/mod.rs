//! What the suite's modules share: the stores a case runs on, room names unique across runs, and
//! one test per case and store.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use room::domain::room::RoomLimits;
use room::ports::{Clock, RoomStore};
use room::service::rooms::JoinReply;
use room::testing::{ManualClock, RecordingNotifier};
use room::{ClientId, RoomId, RoomService, Settings};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a test's clock starts (epoch milliseconds).
pub const START: u64 = 1_800_000_000_000;

/// A room service under test and what it stands on besides its store: a clock the test moves
/// (from [`START`]), a notifier that records every delivery, and the members' relay sockets over
/// the same store, clock and settings.
pub struct Wired {
    pub service: RoomService,
    pub clock: Arc<ManualClock>,
    pub notifier: Arc<RecordingNotifier>,
    /// The members' relay sockets, over the service's store and clock.
    pub sockets: relay::Sockets,
}

impl Wired {
    /// A room service over `store` with `limits`, delivering to `notifier`.
    pub fn new(
        store: Arc<dyn RoomStore>,
        limits: &RoomLimits,
        notifier: RecordingNotifier,
    ) -> Self {
        let settings = Arc::new(Settings {
            limits: limits.clone(),
            ..Settings::default()
        });
        let clock = Arc::new(ManualClock::new(START));
        let notifier = Arc::new(notifier);
        let service = RoomService::new(store.clone(), notifier.clone(), settings.clone())
            .with_clock(clock.clone());
        let sockets = relay::Sockets::new(store, clock.clone(), settings);
        Self {
            service,
            clock,
            notifier,
            sockets,
        }
    }
}

/// A room name no other test (or earlier run against the same table) uses: `tag`, the time in
/// nanoseconds and a counter.
pub fn fresh_room(tag: &str) -> RoomId {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    RoomId::parse(&format!(
        "{tag}-{nanos}-{}",
        N.fetch_add(1, Ordering::Relaxed)
    ))
    .unwrap()
}

/// The admitted client's id, whether it is the initiator and the messages handed to it; panics
/// unless the join was admitted.
pub fn admitted(reply: JoinReply) -> (ClientId, bool, Vec<String>) {
    match reply {
        JoinReply::Joined {
            client_id,
            is_initiator,
            messages,
        } => (client_id, is_initiator, messages),
        other => panic!("expected to be admitted, got {other:?}"),
    }
}

/// Whether `client` is a member of `room` now, as the room rules read the stored record (the ids
/// the relay lets register).
pub async fn is_member(
    store: &dyn RoomStore,
    clock: &dyn Clock,
    room: &RoomId,
    client: &ClientId,
) -> bool {
    let slot = store.load(room).await.unwrap().map(|v| v.room);
    room::domain::room::is_member(&slot, client, clock.now())
}

/// What concurrent joins of one room got.
#[derive(Debug, Default)]
pub struct Joins {
    /// The admitted clients' ids, in the order the joins were started.
    pub admitted: Vec<ClientId>,
    /// How many of the admitted were told they are the initiator.
    pub initiators: usize,
    /// How many found the room full.
    pub full: usize,
    /// How many were refused for an id collision.
    pub collisions: usize,
}

/// Starts `n` joins of `room` at once and collects their answers.
pub async fn concurrent_joins(service: &RoomService, room: &RoomId, n: usize) -> Joins {
    let joins: Vec<_> = (0..n)
        .map(|_| {
            let (s, r) = (service.clone(), room.clone());
            tokio::spawn(async move { s.join(&r, false).await })
        })
        .collect();
    let mut out = Joins::default();
    for j in joins {
        match j.await.unwrap().unwrap() {
            JoinReply::Joined {
                client_id,
                is_initiator,
                ..
            } => {
                out.admitted.push(client_id);
                out.initiators += usize::from(is_initiator);
            }
            JoinReply::Full => out.full += 1,
            JoinReply::Duplicate => out.collisions += 1,
        }
    }
    out
}

/// The DynamoDB endpoint the tests are to use (`$AWS_ENDPOINT_URL_DYNAMODB`), or `None` (skip)
/// when none is configured and none is required (`APPRTC_REQUIRE_DYNAMODB` unset).
pub fn dynamodb_endpoint() -> Option<String> {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") else {
        assert!(
            std::env::var_os("APPRTC_REQUIRE_DYNAMODB").is_none(),
            "APPRTC_REQUIRE_DYNAMODB is set but AWS_ENDPOINT_URL_DYNAMODB is not"
        );
        eprintln!("skipped: AWS_ENDPOINT_URL_DYNAMODB not set");
        return None;
    };
    Some(endpoint)
}

/// The table the tests use: `$TABLE_NAME`, or the deployment's default name.
pub fn table_name() -> String {
    std::env::var("TABLE_NAME").unwrap_or_else(|_| "apprtc-rooms".to_owned())
}

pub mod stores {
    use room::ports::RoomStore;
    use std::sync::Arc;

    pub async fn memory() -> Option<Arc<dyn RoomStore>> {
        Some(Arc::new(room::adapters::memory::MemoryRoomStore::new()))
    }

    /// Generous SDK timeouts: DynamoDB Local on a loaded two-core machine can take seconds, and
    /// these suites test correctness, not latency.
    #[cfg(feature = "dynamodb")]
    const TEST_TIMEOUTS: room::adapters::dynamo::DynamoTimeouts =
        room::adapters::dynamo::DynamoTimeouts {
            connect: std::time::Duration::from_secs(5),
            attempt: std::time::Duration::from_secs(15),
            operation: std::time::Duration::from_secs(30),
            max_attempts: 3,
        };

    /// The DynamoDB store on `$TABLE_NAME` at `$AWS_ENDPOINT_URL_DYNAMODB`, or `None` (skip) when
    /// no endpoint is configured and none is required.
    #[cfg(feature = "dynamodb")]
    pub async fn dynamodb() -> Option<Arc<dyn RoomStore>> {
        use room::adapters::dynamo::{DynamoRoomStore, client};
        super::dynamodb_endpoint()?;
        let client = client(&TEST_TIMEOUTS, None).await;
        Some(Arc::new(DynamoRoomStore::new(client, super::table_name())))
    }
}

/// One test per case, in a module named after the store: each case is an `async fn` of the
/// calling module taking what `$prepare` makes of the store (`support::stores::$store`), and is
/// skipped when that store is not configured.
macro_rules! per_store {
    ($store:ident, workers = $workers:literal, $prepare:path: $($case:ident),* $(,)?) => {
        mod $store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $workers)]
                async fn $case() {
                    let Some(store) = $crate::support::stores::$store().await else { return };
                    super::$case($prepare(store)).await;
                }
            )*
        }
    };
}
pub(crate) use per_store;

/// The relay's side of the suite: the frames a client sends, the frame a peer receives, and a room
/// service wired to a stored relay as the deployment wires them.
pub mod relay {
    use room::config::RelayLimits;
    use room::domain::ids::ConnectionId;
    use room::domain::message::RelayError;
    use room::ports::{Clock, Connections, Handoffs, RoomStore};
    use room::service::relay::{Registered, StoredRelay};
    use room::testing::FakeConnections;
    use room::{ClientId, RoomId, RoomService, Settings};
    use serde_json::{Value, json};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// A client's `register` frame.
    pub fn register(room: &str, client: &str) -> String {
        json!({"cmd": "register", "roomid": room, "clientid": client}).to_string()
    }

    /// A client's `send` frame carrying `msg`.
    pub fn send(msg: &str) -> String {
        json!({"cmd": "send", "msg": msg}).to_string()
    }

    /// The frame a peer receives for a relayed message, parsed.
    pub fn relayed(msg: &str) -> Value {
        json!({"msg": msg, "error": ""})
    }

    /// A room service whose notifier is a stored relay, both over the test's store, connections
    /// and clock and over the default settings.
    #[derive(Debug)]
    pub struct RelayWorld<S, C> {
        pub store: Arc<S>,
        pub conns: Arc<C>,
        pub settings: Arc<Settings>,
        pub relay: Arc<StoredRelay>,
        pub service: RoomService,
    }

    impl<S: RoomStore + 'static, C: Connections + 'static> RelayWorld<S, C> {
        /// A relay that does not hand queues off (the in-process relay's way).
        pub fn new(store: Arc<S>, conns: Arc<C>, clock: Arc<dyn Clock>) -> Self {
            Self::build(store, conns, clock, None)
        }

        /// A relay that hands off to `handoffs` what it cannot deliver in time (the deployed
        /// relay's way).
        pub fn handing_off(
            store: Arc<S>,
            conns: Arc<C>,
            clock: Arc<dyn Clock>,
            handoffs: Arc<dyn Handoffs>,
        ) -> Self {
            Self::build(store, conns, clock, Some(handoffs))
        }

        fn build(
            store: Arc<S>,
            conns: Arc<C>,
            clock: Arc<dyn Clock>,
            handoffs: Option<Arc<dyn Handoffs>>,
        ) -> Self {
            let settings = Arc::new(Settings::default());
            let relay = StoredRelay::new(
                store.clone(),
                clock.clone(),
                settings.clone(),
                RelayLimits::default(),
                conns.clone(),
            );
            let relay = Arc::new(match handoffs {
                Some(h) => relay.with_handoffs(h),
                None => relay,
            });
            let service =
                RoomService::new(store.clone(), relay.clone(), settings.clone()).with_clock(clock);
            Self {
                store,
                conns,
                settings,
                relay,
                service,
            }
        }
    }

    /// Members' WebSockets on a stored relay over the store, clock and settings of a room service
    /// under test: a member registers, and its socket closes, the way a real client's does, through
    /// the relay's `register` frame and `$disconnect` event. Each socket has a connection id no
    /// other test (or earlier run against the same table) uses.
    #[derive(Debug)]
    pub struct Sockets {
        relay: StoredRelay,
        conns: Arc<FakeConnections>,
        /// Each client's latest socket.
        latest: Mutex<HashMap<ClientId, ConnectionId>>,
    }

    impl Sockets {
        pub fn new(
            store: Arc<dyn RoomStore>,
            clock: Arc<dyn Clock>,
            settings: Arc<Settings>,
        ) -> Self {
            let conns = Arc::new(FakeConnections::default());
            let relay = StoredRelay::new(
                store,
                clock,
                settings,
                RelayLimits::default(),
                conns.clone(),
            );
            Self {
                relay,
                conns,
                latest: Mutex::default(),
            }
        }

        /// `client` opens a new socket and registers it in `room`: whether the relay registered
        /// it (it refuses an id that is not a member of the room).
        pub async fn register(&self, room: &RoomId, client: &ClientId) -> bool {
            let conn = ConnectionId::new(format!("{}=", super::fresh_room("socket")));
            self.conns.open(conn.as_str());
            self.latest
                .lock()
                .unwrap()
                .insert(client.clone(), conn.clone());
            let frame = register(room.as_str(), client.as_str());
            match self.relay.on_text(&conn, Registered::InStore, &frame).await {
                Ok(_) => true,
                Err(RelayError::NotIssued) => false,
                Err(e) => panic!("{client} could not register in {room}: {e}"),
            }
        }

        /// `client`'s latest socket closes and the relay handles its `$disconnect`.
        pub async fn close(&self, client: &ClientId) {
            let conn = self.latest.lock().unwrap().remove(client);
            let conn = conn.unwrap_or_else(|| panic!("{client} has no socket"));
            self.conns.vanish(conn.as_str());
            self.relay.on_disconnect(&conn).await;
        }
    }

    /// A call in progress: two clients join `room` and register on the open connections `ca`
    /// and `cb`. Returns their ids, the initiator's first.
    pub async fn call(
        service: &RoomService,
        relay: &StoredRelay,
        conns: &FakeConnections,
        room: &str,
    ) -> (String, String) {
        let r = RoomId::parse(room).unwrap();
        let a = super::admitted(service.join(&r, false).await.unwrap()).0;
        let b = super::admitted(service.join(&r, false).await.unwrap()).0;
        let (a, b) = (a.to_string(), b.to_string());
        conns.open("ca");
        conns.open("cb");
        relay.on_frame(&"ca".into(), &register(room, &a)).await;
        relay.on_frame(&"cb".into(), &register(room, &b)).await;
        (a, b)
    }
}
