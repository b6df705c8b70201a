//! Command-line flags, each with an environment-variable twin, turned into `room` settings.

use clap::Parser;
use room::config::RelayLimits;
use room::config::{Host, Setting, SettingError, Settings, SettingsBuilder};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// AppRTC emulator: room server, collider-compatible relay and web client in one process.
#[derive(Debug, Clone, Parser)]
#[command(name = "apprtc-local", version, about)]
pub struct Config {
    /// Address to listen on [default: 0.0.0.0:8443 with TLS, 127.0.0.1:8080 with --no-tls].
    #[arg(long, env = "APPRTC_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Plain HTTP instead of TLS (browsers allow cameras only on https or localhost).
    #[arg(long, env = "APPRTC_NO_TLS")]
    pub no_tls: bool,
    /// PEM certificate (chain) to use instead of the generated one.
    #[arg(long, env = "APPRTC_CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, env = "APPRTC_KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Sign the generated certificate with a local certificate authority, created once in the
    /// state directory, that phones install from `/ca` (`false`: a self-signed certificate).
    #[arg(long, env = "APPRTC_TLS_CA", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_ca: bool,
    /// Extra names for the generated certificate (comma list), e.g. a LAN DNS name.
    #[arg(long = "hostname", env = "APPRTC_HOSTNAMES", value_delimiter = ',')]
    pub hostnames: Vec<String>,
    /// Where the generated certificate is kept [default: $XDG_STATE_HOME/apprtc-local or
    /// ~/.local/state/apprtc-local].
    #[arg(long, env = "APPRTC_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Port of the collider-compatible relay listener (`/ws`, `/<room>/<client>`, `/status`).
    #[arg(long, env = "APPRTC_RELAY_PORT", default_value_t = 8089)]
    pub relay_port: u16,
    /// Do not open the collider-compatible relay listener.
    #[arg(long, env = "APPRTC_NO_RELAY_PORT")]
    pub no_relay_port: bool,
    /// Log lines as `text` or `json` (one object per line, for container log collectors).
    #[arg(long, env = "APPRTC_LOG_FORMAT", value_enum, default_value_t = crate::ops::logging::LogFormat::Text)]
    pub log_format: crate::ops::logging::LogFormat,
    /// Ask the server on the configured listener for `/readyz` and exit 0 when it is ready, 1
    /// otherwise (the container health check; accepts its self-signed certificate).
    #[arg(long)]
    pub healthcheck: bool,
    /// Time allowed for a client to send request headers.
    #[arg(long, env = "APPRTC_HEADER_TIMEOUT", default_value = "10s", value_parser = room::config::parse_duration)]
    pub header_timeout: Duration,

    /// Which code answers: `local` (this process's sockets and routes) or `aws-local` (the deployed Lambda
    /// handlers behind a local API Gateway stand-in).
    #[arg(long, env = "APPRTC_BACKEND", value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Where rooms live: `memory` (this process only) or `dynamodb` (the Lambda functions' table).
    #[arg(long, env = "APPRTC_STORE", value_enum, default_value_t = StoreKind::Memory)]
    pub store: StoreKind,
    /// DynamoDB table for `--store dynamodb`.
    #[arg(long, env = "TABLE_NAME", default_value = "apprtc-rooms")]
    pub table: String,
    /// DynamoDB endpoint for `--store dynamodb` (default: the AWS regional endpoint).
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB")]
    pub dynamodb_endpoint: Option<String>,
    /// Longest wait for one DynamoDB attempt; slower answers are retried.
    #[arg(long, env = "APPRTC_DYNAMODB_ATTEMPT_TIMEOUT", default_value = "800ms", value_parser = room::config::parse_duration)]
    pub dynamodb_attempt_timeout: Duration,
    /// Longest wait for one DynamoDB operation, retries included; then the request gets a 503.
    #[arg(long, env = "APPRTC_DYNAMODB_TIMEOUT", default_value = "2s", value_parser = room::config::parse_duration)]
    pub dynamodb_timeout: Duration,

    /// Public base URL for links (default: derived from each request's Host).
    #[arg(long, env = "APPRTC_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `wss_url` handed to clients (default: ws(s)://<request host>/ws).
    #[arg(long, env = "APPRTC_WSS_URL")]
    pub wss_url: Option<String>,
    /// `wss_post_url` handed to clients (default: http(s)://<request host>/relay).
    #[arg(long, env = "APPRTC_WSS_POST_URL")]
    pub wss_post_url: Option<String>,
    /// `ice_server_url` handed to clients (default: <request origin>/v1alpha/iceconfig?key=).
    #[arg(long, env = "APPRTC_ICE_SERVER_URL")]
    pub ice_server_url: Option<String>,
    /// Comma-separated host:port values that the `wshpp` query parameter may select.
    #[arg(long, env = "APPRTC_WSHPP_ALLOW", value_delimiter = ',')]
    pub wshpp_allow: Vec<String>,

    /// Comma-separated STUN URLs for the ICE endpoint.
    #[arg(long, env = "APPRTC_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Vec<String>,
    /// Comma-separated TURN URLs for the ICE endpoint.
    #[arg(long, env = "APPRTC_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,
    /// Static TURN username (with --turn-credential).
    #[arg(long, env = "APPRTC_TURN_USERNAME")]
    pub turn_username: Option<String>,
    /// Static TURN password (with --turn-username).
    #[arg(long, env = "APPRTC_TURN_CREDENTIAL", hide_env_values = true)]
    pub turn_credential: Option<String>,
    /// TURN REST shared secrets, comma-separated; the first mints credentials.
    #[arg(
        long,
        env = "APPRTC_TURN_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub turn_secret: Vec<String>,
    /// Lifetime of minted TURN credentials.
    #[arg(long, env = "APPRTC_TURN_TTL", default_value_t = default_of(Setting::TurnTtl))]
    pub turn_ttl: String,
    /// Origins allowed to read the ICE endpoint cross-origin (comma list, `*` for any).
    #[arg(long, env = "APPRTC_ICE_CORS_ORIGINS", default_value = "")]
    pub ice_cors_origins: String,

    /// A room record lives this long after its last change.
    #[arg(long, env = "APPRTC_ROOM_TTL", default_value_t = default_of(Setting::RoomTtl))]
    pub room_ttl: String,
    /// A joiner that does not register on the relay within this time is removed.
    #[arg(long, env = "APPRTC_REGISTER_DEADLINE", default_value_t = default_of(Setting::RegisterDeadline))]
    pub register_deadline: String,
    /// A client whose socket closed keeps its place this long.
    #[arg(long, env = "APPRTC_RECONNECT_GRACE", default_value_t = default_of(Setting::ReconnectGrace))]
    pub reconnect_grace: String,
    /// Largest signaling message (HTTP body or WebSocket frame), in bytes.
    #[arg(long, env = "APPRTC_MAX_MESSAGE_BYTES", default_value_t = default_of(Setting::MaxMessageBytes))]
    pub max_message_bytes: String,
    /// Most messages saved for a member waiting alone.
    #[arg(long, env = "APPRTC_MAX_SAVED_MESSAGES", default_value_t = default_of(Setting::MaxSavedMessages))]
    pub max_saved_messages: String,
    /// Most bytes saved for a member waiting alone.
    #[arg(long, env = "APPRTC_MAX_SAVED_BYTES", default_value_t = default_of(Setting::MaxSavedBytes))]
    pub max_saved_bytes: String,
    /// Most messages the relay queues per sender while its peer is not registered.
    #[arg(long, env = "APPRTC_MAX_QUEUED_MESSAGES", default_value_t = default_of(Setting::MaxQueuedMessages))]
    pub max_queued_messages: String,
    /// Most bytes the relay queues per sender while its peer is not registered.
    #[arg(long, env = "APPRTC_MAX_QUEUED_BYTES", default_value_t = default_of(Setting::MaxQueuedBytes))]
    pub max_queued_bytes: String,
    /// Frames waiting for one socket before it is closed as a slow reader.
    #[arg(long, env = "APPRTC_OUTBOUND_QUEUE", default_value_t = default_of(Setting::OutboundQueue))]
    pub outbound_queue: String,
    /// Bytes waiting for one socket before it is closed as a slow reader.
    #[arg(long, env = "APPRTC_OUTBOUND_BYTES", default_value_t = default_of(Setting::OutboundBytes))]
    pub outbound_bytes: String,
    /// Interval of server WebSocket pings; a socket that misses two is closed.
    #[arg(long, env = "APPRTC_PING_INTERVAL", default_value = "25s", value_parser = room::config::parse_duration)]
    pub ping_interval: Duration,
    /// Bytes read from a WebSocket at a time, into one buffer per worker thread (sockets hold
    /// no read buffer of their own between frames).
    #[arg(long, env = "APPRTC_WS_READ_BUFFER", default_value_t = 16 * 1024, value_parser = parse_read_chunk)]
    pub ws_read_buffer: usize,
    /// `POST /join` per client address per minute (loopback is not limited).
    #[arg(long, env = "APPRTC_MAX_JOINS_PER_MINUTE", default_value_t = 60)]
    pub max_joins_per_minute: u32,
    /// WebSocket connections per client address per minute (loopback is not limited).
    #[arg(long, env = "APPRTC_MAX_CONNECTIONS_PER_MINUTE", default_value_t = 120)]
    pub max_connections_per_minute: u32,
    /// Open WebSockets in total.
    #[arg(long, env = "APPRTC_MAX_SOCKETS", default_value_t = 20_000)]
    pub max_sockets: usize,
    /// Frames per second one socket may send, sustained.
    #[arg(long, env = "APPRTC_MAX_MESSAGES_PER_SECOND", default_value_t = 50)]
    pub max_messages_per_second: u32,
    /// Frames one socket may send in a burst.
    #[arg(long, env = "APPRTC_MESSAGE_BURST", default_value_t = 200)]
    pub message_burst: u32,
    /// How long shutdown waits for sockets to close.
    #[arg(long, env = "APPRTC_SHUTDOWN_TIMEOUT", default_value = "5s", value_parser = room::config::parse_duration)]
    pub shutdown_timeout: Duration,

    /// aws-local: each WebSocket frame's invocation starts after a random delay up to this long.
    #[arg(long, env = "APPRTC_APIGW_JITTER", default_value = "10ms", value_parser = room::config::parse_duration)]
    pub apigw_jitter: Duration,
    /// aws-local: instances of each function (invocations of one function running at once; every
    /// function has its own, as Lambda scales each on its own).
    #[arg(long, env = "APPRTC_APIGW_INSTANCES", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub apigw_instances: u16,
    /// aws-local: delay of each `$disconnect` event after its socket closed.
    #[arg(long, env = "APPRTC_APIGW_DISCONNECT_DELAY", default_value = "0s", value_parser = room::config::parse_duration)]
    pub apigw_disconnect_delay: Duration,
    /// aws-local: percentage of `$disconnect` events lost (0-100).
    #[arg(long, env = "APPRTC_APIGW_DISCONNECT_LOSS", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub apigw_disconnect_loss: u8,
    /// aws-local: a connection with no frame either way for this long is closed (API Gateway: 10
    /// minutes).
    #[arg(long, env = "APPRTC_APIGW_IDLE_TIMEOUT", default_value = "10m", value_parser = room::config::parse_duration)]
    pub apigw_idle_timeout: Duration,
    /// aws-local: every connection is closed this long after it opened (API Gateway: 2 hours).
    #[arg(long, env = "APPRTC_APIGW_MAX_CONNECTION", default_value = "2h", value_parser = room::config::parse_duration)]
    pub apigw_max_connection: Duration,
    /// aws-local: interval of the keep-alive function (`0s`: not run).
    #[arg(long, env = "APPRTC_KEEPALIVE_INTERVAL", default_value = "5m", value_parser = room::config::parse_duration)]
    pub keepalive_interval: Duration,
}

/// Request paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The emulator's own sockets and routes.
    Local,
    /// The Lambda handlers as deployed, with API Gateway stood in locally.
    AwsLocal,
}

/// Room store backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// In this process's memory.
    Memory,
    /// A DynamoDB table (the one the Lambda functions use).
    Dynamodb,
}

impl Config {
    /// The main listen address.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen.unwrap_or_else(|| {
            if self.no_tls {
                SocketAddr::from(([127, 0, 0, 1], 8080))
            } else {
                SocketAddr::from(([0, 0, 0, 0], 8443))
            }
        })
    }

    /// Transport options.
    pub fn server_options(&self) -> crate::app::ServerOptions {
        crate::app::ServerOptions {
            ping_interval: self.ping_interval,
            ws_read_buffer: self.ws_read_buffer,
            shutdown_timeout: self.shutdown_timeout,
            header_timeout: self.header_timeout,
            abuse: crate::ops::limits::AbuseLimits {
                joins_per_minute: self.max_joins_per_minute,
                connections_per_minute: self.max_connections_per_minute,
                max_sockets: self.max_sockets,
                messages_per_second: self.max_messages_per_second,
                message_burst: self.message_burst,
            },
            clock: std::sync::Arc::new(room::ports::SystemClock),
        }
    }

    /// How the aws-local stand-in behaves like API Gateway and Lambda (`--apigw-*`).
    pub fn gateway_options(&self) -> crate::aws_local::options::GatewayOptions {
        crate::aws_local::options::GatewayOptions {
            jitter: self.apigw_jitter,
            instances: usize::from(self.apigw_instances),
            disconnect_delay: self.apigw_disconnect_delay,
            disconnect_loss: self.apigw_disconnect_loss,
            idle_timeout: self.apigw_idle_timeout,
            max_connection: self.apigw_max_connection,
            keepalive_interval: self.keepalive_interval,
        }
    }

    /// Room and relay settings, parsed and checked by [`SettingsBuilder`] as a deployed
    /// function's are; an error names the flag.
    pub fn settings(&self) -> Result<(Settings, RelayLimits), SettingError> {
        if self.ping_interval.is_zero() {
            return Err(SettingError {
                name: "--ping-interval",
                reason: "must be greater than zero".to_owned(),
            });
        }
        SettingsBuilder::new(Host::emulator())
            .set(Setting::RoomTtl, self.room_ttl.clone())
            .set(Setting::RegisterDeadline, self.register_deadline.clone())
            .set(Setting::ReconnectGrace, self.reconnect_grace.clone())
            .set(Setting::MaxMessageBytes, self.max_message_bytes.clone())
            .set(Setting::MaxSavedMessages, self.max_saved_messages.clone())
            .set(Setting::MaxSavedBytes, self.max_saved_bytes.clone())
            .set(Setting::MaxQueuedMessages, self.max_queued_messages.clone())
            .set(Setting::MaxQueuedBytes, self.max_queued_bytes.clone())
            .set(Setting::OutboundQueue, self.outbound_queue.clone())
            .set(Setting::OutboundBytes, self.outbound_bytes.clone())
            .set(Setting::PublicUrl, self.public_url.clone())
            .set(Setting::WssUrl, self.wss_url.clone())
            .set(Setting::WssPostUrl, self.wss_post_url.clone())
            .set(Setting::IceServerUrl, self.ice_server_url.clone())
            .set(Setting::WshppAllow, self.wshpp_allow.join(","))
            .set(Setting::StunUrls, self.stun_urls.join(","))
            .set(Setting::TurnUrls, self.turn_urls.join(","))
            .set(Setting::TurnUsername, self.turn_username.clone())
            .set(Setting::TurnCredential, self.turn_credential.clone())
            .set(Setting::TurnSecret, self.turn_secret.join(","))
            .set(Setting::TurnTtl, self.turn_ttl.clone())
            .set(Setting::IceCorsOrigins, self.ice_cors_origins.clone())
            .build()
    }
}

/// The emulator's default of a number or duration setting, as `--help` shows it.
fn default_of(setting: Setting) -> String {
    Host::emulator().default_text(setting).unwrap_or_default()
}

/// Bounds of `--ws-read-buffer`: below, a message takes many reads; above, memory per thread.
const READ_CHUNK_RANGE: std::ops::RangeInclusive<usize> = 512..=1024 * 1024;

fn parse_read_chunk(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of bytes"))?;
    if READ_CHUNK_RANGE.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} is outside {}..={} bytes",
            READ_CHUNK_RANGE.start(),
            READ_CHUNK_RANGE.end()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_settings() {
        let c = Config::try_parse_from(["apprtc-local"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.settings().is_ok());
        assert_eq!(c.listen_addr().port(), 8443);
    }

    #[test]
    fn read_chunk_outside_its_bounds_is_refused_with_the_bounds() {
        for bad in ["0", "100", "2000000", "lots"] {
            let e = Config::try_parse_from(["apprtc-local", "--ws-read-buffer", bad])
                .err()
                .unwrap_or_else(|| panic!("--ws-read-buffer {bad} accepted"));
            assert!(e.to_string().contains(bad), "{e}");
        }
        let c = Config::try_parse_from(["apprtc-local", "--ws-read-buffer", "4096"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.ws_read_buffer, 4096);
    }

    #[test]
    fn contradictory_turn_settings_are_refused() {
        let c = Config::try_parse_from([
            "apprtc-local",
            "--turn-secret",
            "s",
            "--turn-username",
            "u",
            "--turn-credential",
            "p",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.settings().is_err());
    }
}
