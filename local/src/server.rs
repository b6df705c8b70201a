//! The server: the room service, the relay and the routes over one store, served on its
//! listeners until a shutdown signal; and its construction from the command line's settings.

use crate::app::{App, ServerOptions};
#[cfg(feature = "aws-local")]
use crate::aws_local::{gateway::AwsLocal, options::GatewayOptions};
use crate::cli::Config;
use crate::ops::{limits, metrics};
use crate::{routes, serve, tls};
use room::adapters::memory::MemoryRoomStore;
use room::adapters::sockets::SocketRelay;
use room::config::RelayLimits;
use room::ports::{Clock, RoomStore, SystemClock};
use room::{RoomService, Settings};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Where to serve: the main listener (pages, room API, relay) and the optional compatibility
/// listener that serves the relay where the original collider was (`/ws`, `/<room>/<client>`,
/// `/status`), both with or without TLS.
#[derive(Debug)]
pub struct Listeners {
    /// Main listener.
    pub main: TcpListener,
    /// Collider-compatible listener (port 8089 by default).
    pub collider: Option<TcpListener>,
    /// TLS configuration for both, or plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Listeners {
    /// One plain-HTTP listener (tests, `--no-tls`).
    pub fn plain(main: TcpListener) -> Self {
        Self {
            main,
            collider: None,
            tls: None,
        }
    }
}

/// A running server's handle for the caller: where it listens and how to stop it.
#[derive(Debug)]
pub struct Server {
    app: App,
    stop: watch::Sender<bool>,
    memory: Option<Arc<MemoryRoomStore>>,
    /// The aws-local stand-in's `@connections` listener (127.0.0.1 only).
    management: Option<TcpListener>,
    /// The aws-local stand-in (`--backend aws-local`).
    #[cfg(feature = "aws-local")]
    aws: Option<Arc<AwsLocal>>,
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
        let metrics = metrics::Metrics::new();
        let store = metrics::timed(store, &metrics);
        Self::with_timed_store(settings, relay_limits, options, store, metrics)
    }

    /// [`Server::with_store`] over a store already timed by `metrics`.
    fn with_timed_store(
        settings: Settings,
        relay_limits: RelayLimits,
        options: ServerOptions,
        store: Arc<dyn RoomStore>,
        metrics: Arc<metrics::Metrics>,
    ) -> Self {
        let settings = Arc::new(settings);
        let clock = options.clock.clone();
        let relay = SocketRelay::new(store.clone(), clock.clone(), settings.clone(), relay_limits);
        let service = RoomService::new(store, relay.notifier(), settings.clone()).with_clock(clock);
        let (stop, shutdown) = watch::channel(false);
        let limiter = Arc::new(limits::Limiter::new(options.abuse));
        let app = App {
            service,
            relay,
            settings,
            limiter,
            metrics,
            options: Arc::new(options),
            shutdown,
            sockets: TaskTracker::new(),
            ca: None,
        };
        Self {
            app,
            stop,
            memory: None,
            management: None,
            #[cfg(feature = "aws-local")]
            aws: None,
        }
    }

    /// The AWS path (`--backend aws-local`): the deployed Lambda handlers over `store`, with a
    /// stand-in for API Gateway (HTTP routes, WebSocket events) and its `@connections` API on a
    /// loopback listener, which the real management client posts to.
    #[cfg(feature = "aws-local")]
    pub async fn aws_local(
        settings: Settings,
        relay_limits: RelayLimits,
        options: ServerOptions,
        gateway: GatewayOptions,
        store: Arc<dyn RoomStore>,
        table: &str,
    ) -> std::io::Result<Self> {
        use room::adapters::apigw::ApiGatewayConnections;
        use room::adapters::lambda::{DeployConfig, Deployment};
        let management = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", management.local_addr()?);
        // The management client only talks to the stand-in, which ignores signatures: fixed
        // credentials and region, whatever the environment holds.
        use aws_sdk_apigatewaymanagement::config::{
            Credentials, Region, SharedCredentialsProvider,
        };
        let aws = room::adapters::dynamo::sdk_config(&Default::default(), Default::default())
            .await
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "aws-local",
                "aws-local",
                None,
                None,
                "aws-local",
            )))
            .region(Region::new("us-east-1"))
            .build();
        let connections = Arc::new(ApiGatewayConnections::new(&aws, &endpoint));
        let config = DeployConfig {
            settings: settings.clone(),
            relay: relay_limits.clone(),
            table: table.to_owned(),
            relay_endpoint: Some(endpoint),
            turn_secret_arn: None,
            tls_roots: Default::default(),
        };
        let metrics = metrics::Metrics::new();
        let store = metrics::timed(store, &metrics);
        let (stream, records) = crate::aws_local::gateway::table_stream();
        let deployment = Deployment::on_clock(
            config,
            store.clone(),
            connections,
            options.clock.clone(),
            Arc::new(stream),
        );
        let mut server = Self::with_timed_store(settings, relay_limits, options, store, metrics);
        server.aws = Some(AwsLocal::new(deployment, gateway, records));
        server.management = Some(management);
        Ok(server)
    }

    /// Serves until `signal` resolves, then stops accepting, closes every socket (close frame
    /// 1001) and returns once they are closed or the shutdown timeout passed.
    pub async fn serve(
        self,
        listeners: Listeners,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            app,
            stop,
            memory,
            management,
            #[cfg(feature = "aws-local")]
            aws,
        } = self;
        if let Some(store) = &memory {
            app.metrics.count_rooms_in(store.clone());
        }
        let sweeper = memory.map(|store| tokio::spawn(sweep(store, app.service.clone())));
        let opts = app.options.clone();
        let mut loops = vec![tokio::spawn(serve::accept_loop(
            listeners.main,
            listeners.tls.clone(),
            routes::router(
                app.clone(),
                #[cfg(feature = "aws-local")]
                aws.clone(),
            ),
            opts.header_timeout,
            app.shutdown.clone(),
            opts.shutdown_timeout,
            app.sockets.clone(),
        ))];
        if let Some(collider) = listeners.collider {
            loops.push(tokio::spawn(serve::accept_loop(
                collider,
                listeners.tls,
                routes::collider_router(app.clone()),
                opts.header_timeout,
                app.shutdown.clone(),
                opts.shutdown_timeout,
                app.sockets.clone(),
            )));
        }
        loops.push(tokio::spawn(metrics_upkeep(
            app.metrics.clone(),
            app.shutdown.clone(),
        )));
        #[cfg(feature = "aws-local")]
        if let Some(aws) = aws.clone() {
            loops.push(tokio::spawn(crate::aws_local::gateway::keepalive_schedule(
                aws.clone(),
                app.shutdown.clone(),
            )));
            loops.push(tokio::spawn(crate::aws_local::gateway::stream_trigger(
                aws,
                app.shutdown.clone(),
            )));
        }
        #[cfg(feature = "aws-local")]
        if let (Some(listener), Some(aws)) = (management, aws) {
            loops.push(tokio::spawn(serve::accept_loop(
                listener,
                None,
                crate::aws_local::management::management_router(aws),
                opts.header_timeout,
                app.shutdown.clone(),
                opts.shutdown_timeout,
                app.sockets.clone(),
            )));
        }
        #[cfg(not(feature = "aws-local"))]
        drop(management);
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

impl Server {
    /// Offers `ca` at `/ca` (page), `/ca.pem` and `/ca.crt` on every listener.
    #[must_use]
    pub fn with_ca_page(mut self, ca: tls::certificates::LocalCa) -> Self {
        self.app.ca = Some(Arc::new(ca));
        self
    }

    /// Builds the server the flags describe: store (`--store`) and backend (`--backend`).
    pub async fn from_config(config: &Config) -> anyhow::Result<Self> {
        Self::from_config_on(config, Arc::new(SystemClock)).await
    }

    /// [`Server::from_config`] on `clock` rather than the system clock: tests move time forward
    /// past a grace or a deadline instead of waiting for it.
    pub async fn from_config_on(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        use crate::cli::{Backend, StoreKind};
        let (settings, relay) = config.settings()?;
        let options = ServerOptions {
            clock,
            ..config.server_options()
        };
        let memory = Arc::new(MemoryRoomStore::new());
        let store: Arc<dyn RoomStore> = match config.store {
            StoreKind::Memory => memory.clone(),
            StoreKind::Dynamodb => dynamodb_store(config).await?,
        };
        let mut server = match config.backend {
            Backend::Local => Self::with_store(settings, relay, options, store),
            #[cfg(feature = "aws-local")]
            Backend::AwsLocal => {
                let gateway = config.gateway_options();
                Self::aws_local(settings, relay, options, gateway, store, &config.table).await?
            }
            #[cfg(not(feature = "aws-local"))]
            Backend::AwsLocal => anyhow::bail!(
                "this build has no aws-local backend: build with the `aws-local` feature"
            ),
        };
        if config.store == StoreKind::Memory {
            server.memory = Some(memory);
        }
        Ok(server)
    }
}

#[cfg(feature = "dynamodb")]
async fn dynamodb_store(config: &Config) -> anyhow::Result<Arc<dyn RoomStore>> {
    use anyhow::Context as _;
    use room::adapters::dynamo::{DynamoRoomStore, DynamoTimeouts, client};
    anyhow::ensure!(
        !config.dynamodb_attempt_timeout.is_zero()
            && config.dynamodb_attempt_timeout <= config.dynamodb_timeout,
        "--dynamodb-attempt-timeout must be greater than zero and at most --dynamodb-timeout"
    );
    let timeouts = DynamoTimeouts {
        attempt: config.dynamodb_attempt_timeout,
        operation: config.dynamodb_timeout,
        ..DynamoTimeouts::default()
    };
    let client = client(&timeouts, config.dynamodb_endpoint.as_deref()).await;
    let store = DynamoRoomStore::new(client, &config.table);
    store.check().await.with_context(|| {
        format!(
            "DynamoDB table '{}' is not reachable (see infra/dynamodb/local.sh)",
            config.table
        )
    })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "dynamodb"))]
async fn dynamodb_store(_: &Config) -> anyhow::Result<Arc<dyn RoomStore>> {
    anyhow::bail!("this build has no DynamoDB support: build with the `dynamodb` feature")
}

/// Folds recorded latencies into the histograms until shutdown, so that they hold no memory
/// when nobody scrapes `/metrics`.
async fn metrics_upkeep(metrics: Arc<metrics::Metrics>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(metrics::UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => metrics.upkeep(),
            _ = shutdown.changed() => return,
        }
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
