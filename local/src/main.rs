use anyhow::Context;
use apprtc_local::config::Config;
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
    Server::new(settings, relay, options).serve(listener, shutdown_signal()).await?;
    Ok(())
}
