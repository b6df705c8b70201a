//! The aws-local stand-in in-process: `apprtc-local --backend aws-local` with the deployed
//! limits, its keep-alive schedule set to the call's needs, over the metered store.

use super::meter::Meter;
use anyhow::Result;
use apprtc_local::cli::Config;
use apprtc_local::server::{Listeners, Server};
use clap::Parser;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long the bench waits for one step (a request, a frame, the store going quiet, the stop).
pub const WAIT: Duration = Duration::from_secs(10);

/// The stand-in, serving on a local port until [`StandIn::stop`].
#[derive(Debug)]
pub struct StandIn {
    /// Where it listens (plain HTTP and WebSocket).
    pub addr: SocketAddr,
    /// The store it runs over.
    pub meter: Arc<Meter>,
    /// When it started serving.
    pub started: Instant,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl StandIn {
    /// Starts the stand-in with its keep-alive sweep every `sweep_after`.
    pub async fn start(sweep_after: Duration) -> Result<Self> {
        let sweep_after = format!("{}ms", sweep_after.as_millis());
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
        let (stop, stopped) = oneshot::channel::<()>();
        let started = Instant::now();
        let task = tokio::spawn(server.serve(Listeners::plain(listener), async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            meter,
            started,
            stop,
            task,
        })
    }

    /// Stops serving and waits (a while) for the server to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(WAIT, self.task).await;
    }
}
