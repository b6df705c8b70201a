//! What the suite's modules share: the stores a case runs on, room names unique across runs, and
//! one test per case and store.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use room::service::rooms::JoinReply;
use room::{ClientId, RoomId, RoomService};
use std::sync::atomic::{AtomicU64, Ordering};

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
    pub duplicates: usize,
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
            JoinReply::Duplicate => out.duplicates += 1,
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
