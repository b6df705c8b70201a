use anyhow::Context;
use apprtc_local::config::{Config, StoreKind};
use apprtc_local::{Server, ServerOptions, shutdown_signal};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = Config::parse();
    let (settings, relay) = config.settings().map_err(anyhow::Error::msg).context("invalid settings")?;
    let options = ServerOptions {
        ping_interval: config.ping_interval,
        ws_read_buffer: config.ws_read_buffer,
        shutdown_timeout: config.shutdown_timeout,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!("apprtc-local listening on http://{addr}/");
    let server = match config.store {
        StoreKind::Memory => Server::new(settings, relay, options),
        StoreKind::Dynamodb => Server::with_store(settings, relay, options, dynamodb_store(&config).await?),
    };
    match config.store {
        StoreKind::Memory => println!("rooms are kept in memory"),
        StoreKind::Dynamodb => println!("rooms are kept in DynamoDB table '{}'", config.table),
    }
    server.serve(listener, shutdown_signal()).await?;
    Ok(())
}

#[cfg(feature = "dynamodb")]
async fn dynamodb_store(config: &Config) -> anyhow::Result<std::sync::Arc<dyn room::ports::RoomStore>> {
    use room::adapters::dynamo::{DynamoRoomStore, DynamoTimeouts, client};
    let client = client(&DynamoTimeouts::default(), config.dynamodb_endpoint.as_deref()).await;
    let store = DynamoRoomStore::new(client, &config.table);
    store
        .check()
        .await
        .with_context(|| format!("DynamoDB table '{}' is not reachable (see infra/dynamodb/local.sh)", config.table))?;
    Ok(std::sync::Arc::new(store))
}

#[cfg(not(feature = "dynamodb"))]
async fn dynamodb_store(_: &Config) -> anyhow::Result<std::sync::Arc<dyn room::ports::RoomStore>> {
    anyhow::bail!("this build has no DynamoDB support: build with the `dynamodb` feature")
}
