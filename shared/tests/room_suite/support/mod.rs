//! Store factories shared by the contract and race suites.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

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
        if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
            assert!(
                std::env::var_os("APPRTC_REQUIRE_DYNAMODB").is_none(),
                "APPRTC_REQUIRE_DYNAMODB is set but AWS_ENDPOINT_URL_DYNAMODB is not"
            );
            eprintln!("skipped: AWS_ENDPOINT_URL_DYNAMODB not set");
            return None;
        }
        let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| "apprtc-rooms".to_owned());
        let client = client(&TEST_TIMEOUTS, None).await;
        Some(Arc::new(DynamoRoomStore::new(client, table)))
    }
}
