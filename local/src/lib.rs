//! `apprtc-local`: the room API, the collider-compatible relay and the web pages in one process.
//!
//! This crate only adapts HTTP and WebSocket transport (axum) to the `room` crate: every decision
//! (room rules, relay protocol, responses) is made there.

pub mod config;
pub mod qr;
mod routes;
mod serve;
pub mod tls;
mod ws;

use room::adapters::memory::MemoryRoomStore;
use room::ports::RoomStore;
use room::relay::Relay;
use room::relay::hub::{Hub, RelayLimits};
use room::{RoomService, Settings};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Transport settings that are not room settings.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// WebSocket ping interval.
    pub ping_interval: Duration,
    /// WebSocket read buffer, bytes.
    pub ws_read_buffer: usize,
    /// How long shutdown waits for sockets to close.
    pub shutdown_timeout: Duration,
    /// Time allowed for a client to send a request's headers.
    pub header_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(25),
            ws_read_buffer: 4096,
            shutdown_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Where to serve: the main listener (pages, room API, relay) and the optional compatibility
/// listener that serves the relay where the original collider was (`/ws`, `/<room>/<client>`,
/// `/status`), both with or without TLS.
#[derive(Debug)]
pub struct Listeners {
    /// Main listener.
    pub main: TcpListener,
    /// Collider-compatible listener (port 8089 by default).
    pub relay: Option<TcpListener>,
    /// TLS configuration for both, or plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Listeners {
    /// One plain-HTTP listener (tests, `--no-tls`).
    pub fn plain(main: TcpListener) -> Self {
        Self {
            main,
            relay: None,
            tls: None,
        }
    }
}

/// Shared state of the process.
#[derive(Debug, Clone)]
pub struct App {
    service: RoomService,
    relay: Arc<Relay>,
    settings: Arc<Settings>,
    options: Arc<ServerOptions>,
    shutdown: watch::Receiver<bool>,
    sockets: TaskTracker,
}

/// A running server's handle for the caller: where it listens and how to stop it.
#[derive(Debug)]
pub struct Server {
    app: App,
    stop: watch::Sender<bool>,
    memory: Option<Arc<MemoryRoomStore>>,
}

impl Server {
    /// Builds the service and relay over an in-memory store. Must be called inside a Tokio
    /// runtime.
    pub fn new(settings: Settings, relay_limits: RelayLimits, options: ServerOptions) -> Self {
        let memory = Arc::new(MemoryRoomStore::new());
        let mut server = Self::with_store(settings, relay_limits, options, memory.clone());
        server.memory = Some(memory);
        server
    }

    /// Builds the service and relay over `store`. Must be called inside a Tokio runtime.
    pub fn with_store(
        settings: Settings,
        relay_limits: RelayLimits,
        options: ServerOptions,
        store: Arc<dyn RoomStore>,
    ) -> Self {
        let settings = Arc::new(settings);
        let (hub, expired) = Hub::new(relay_limits);
        let service = RoomService::new(store, hub.clone(), settings.clone());
        let relay = Relay::new(hub, expired, service.clone());
        let (stop, shutdown) = watch::channel(false);
        let app = App {
            service,
            relay,
            settings,
            options: Arc::new(options),
            shutdown,
            sockets: TaskTracker::new(),
        };
        Self {
            app,
            stop,
            memory: None,
        }
    }

    /// Serves until `signal` resolves, then stops accepting, closes every socket (close frame
    /// 1001) and returns once they are closed or the shutdown timeout passed.
    pub async fn serve(
        self,
        listeners: Listeners,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self { app, stop, memory } = self;
        let sweeper = memory.map(|store| tokio::spawn(sweep(store, app.service.clone())));
        let opts = app.options.clone();
        let mut loops = vec![tokio::spawn(serve::accept_loop(
            listeners.main,
            listeners.tls.clone(),
            routes::router(app.clone()),
            opts.header_timeout,
            app.shutdown.clone(),
            opts.shutdown_timeout,
            app.sockets.clone(),
        ))];
        if let Some(relay) = listeners.relay {
            loops.push(tokio::spawn(serve::accept_loop(
                relay,
                listeners.tls,
                routes::relay_router(app.clone()),
                opts.header_timeout,
                app.shutdown.clone(),
                opts.shutdown_timeout,
                app.sockets.clone(),
            )));
        }
        signal.await;
        let _ = stop.send(true);
        for l in loops {
            let _ = l.await;
        }
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        app.sockets.close();
        if tokio::time::timeout(opts.shutdown_timeout, app.sockets.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown timeout: some sockets did not close in time");
        }
        Ok(())
    }
}

/// Returns memory of abandoned rooms once a minute (reads ignore them anyway).
async fn sweep(store: Arc<MemoryRoomStore>, service: RoomService) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let removed = store.sweep(service.now());
        if removed > 0 {
            tracing::debug!(removed, "swept expired rooms");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
