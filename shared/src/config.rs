//! Typed settings, loaded once at the edge (flags, environment) and passed down. Nothing below the
//! binaries reads the environment.

use crate::domain::room::RoomLimits;
use std::fmt;
use std::time::Duration;

/// Relay limits; every value is a documented setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLimits {
    /// Messages queued per sender while its peer is not registered (the original: 1024).
    pub max_queued_messages: usize,
    /// Bytes queued per sender while its peer is not registered.
    pub max_queued_bytes: usize,
    /// Frames waiting in one connection's outbound queue before it counts as a slow reader and
    /// is disconnected.
    pub outbound_queue: usize,
    /// Bytes waiting in one connection's outbound queue before it counts as a slow reader (a
    /// single frame larger than this still goes to an empty queue).
    pub outbound_bytes: usize,
}

impl Default for RelayLimits {
    fn default() -> Self {
        Self {
            max_queued_messages: 1024,
            max_queued_bytes: 1024 * 1024,
            outbound_queue: 1024 + 64,
            outbound_bytes: 2 * 1024 * 1024,
        }
    }
}

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used (HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Parses `250ms`, `10s`, `5m`, `24h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (examples: 250ms, 10s, 5m, 24h)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("'{s}': {e}"))
}

/// How TURN credentials are produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TurnAuth {
    /// No credentials (TURN URLs then make no sense; STUN only).
    #[default]
    None,
    /// One fixed username and password for every client.
    Static {
        /// TURN username.
        username: String,
        /// TURN password.
        credential: Secret,
    },
    /// TURN REST API credentials (coturn `use-auth-secret`): minted per request.
    Rest {
        /// Shared secrets; the first mints, the others are only listed for rotation.
        secrets: Vec<Secret>,
        /// Validity of a minted credential.
        ttl: Duration,
    },
}

/// Why TURN settings cannot be used together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TurnAuthError {
    /// A shared secret and a static username and credential.
    #[error("use either a TURN shared secret or a static TURN username and credential, not both")]
    Both,
    /// A static username without a credential.
    #[error("a static TURN username and credential go together")]
    NoCredential,
    /// A static credential without a username.
    #[error("a static TURN username and credential go together")]
    NoUsername,
    /// Shared secrets that would mint credentials valid for no time.
    #[error("the TURN credential lifetime must be greater than zero")]
    ZeroTtl,
}

impl TurnAuthError {
    /// The setting to change.
    pub fn setting(self) -> Setting {
        match self {
            Self::Both => Setting::TurnSecret,
            Self::NoCredential => Setting::TurnCredential,
            Self::NoUsername => Setting::TurnUsername,
            Self::ZeroTtl => Setting::TurnTtl,
        }
    }
}

impl TurnAuth {
    /// Chooses the credential mode from the settings: a shared secret (REST credentials) or a
    /// static username and password, never both.
    pub fn from_settings(
        username: Option<String>,
        credential: Option<String>,
        secrets: Vec<String>,
        ttl: Duration,
    ) -> Result<Self, TurnAuthError> {
        match (username, credential, secrets.is_empty()) {
            (Some(_), Some(_), false) => Err(TurnAuthError::Both),
            (Some(username), Some(credential), true) => Ok(Self::Static {
                username,
                credential: Secret::new(credential),
            }),
            (None, None, false) if ttl.is_zero() => Err(TurnAuthError::ZeroTtl),
            (None, None, false) => Ok(Self::Rest {
                secrets: secrets.into_iter().map(Secret::new).collect(),
                ttl,
            }),
            (None, None, true) => Ok(Self::None),
            (Some(_), None, _) => Err(TurnAuthError::NoCredential),
            (None, Some(_), _) => Err(TurnAuthError::NoUsername),
        }
    }
}

/// STUN/TURN servers handed out by the ICE endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceSettings {
    /// `stun:` URLs.
    pub stun_urls: Vec<String>,
    /// `turn:`/`turns:` URLs.
    pub turn_urls: Vec<String>,
    /// Credentials for the TURN URLs.
    pub turn_auth: TurnAuth,
}

/// Which origins may read the ICE endpoint from a browser.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CorsOrigins {
    /// Only the server's own origin (the default).
    #[default]
    SameOrigin,
    /// Any origin (`*`), only when configured explicitly.
    Any,
    /// The server's own origin and these.
    List(Vec<String>),
}

impl CorsOrigins {
    /// Parses a comma-separated list; `*` alone means any origin, empty means same origin.
    pub fn parse(s: &str) -> Self {
        let list: Vec<String> = s
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if list.iter().any(|o| o == "*") {
            Self::Any
        } else if list.is_empty() {
            Self::SameOrigin
        } else {
            Self::List(list)
        }
    }
}

/// URLs announced to clients. Each is derived from the request (scheme and `Host`) unless set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicUrls {
    /// Base of `room_link` and of the default ICE URL, e.g. `https://rtc.example.org`.
    pub base_url: Option<String>,
    /// `wss_url` handed to clients.
    pub wss_url: Option<String>,
    /// `wss_post_url` handed to clients (no trailing slash).
    pub wss_post_url: Option<String>,
    /// `ice_server_url` handed to clients.
    pub ice_server_url: Option<String>,
}

/// Path of the WebSocket relay on the server's own origin.
pub const WS_PATH: &str = "/ws";
/// Prefix of the collider HTTP routes on the server's own origin, so `<prefix>/<room>/<client>`
/// never clashes with `/join/<room>`.
pub const RELAY_HTTP_PREFIX: &str = "/relay";

/// Everything the services and the HTTP layer need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// Room rules' limits and deadlines.
    pub limits: RoomLimits,
    /// Announced URLs.
    pub urls: PublicUrls,
    /// `host:port` values a `wshpp` query parameter may select; others are ignored.
    pub wshpp_allow: Vec<String>,
    /// ICE servers.
    pub ice: IceSettings,
    /// ICE endpoint CORS policy.
    pub ice_cors: CorsOrigins,
    /// `bypass_join_confirmation` in params.
    pub bypass_join_confirmation: bool,
    /// `header_message` in params.
    pub header_message: Option<String>,
}

/// A room or relay setting, whichever host reads it: one identity, spelled as each host spells
/// it (a deployed function's environment variable, the emulator's flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setting {
    /// Room record lifetime after its last change.
    RoomTtl,
    /// Deadline for a joiner to register on the relay.
    RegisterDeadline,
    /// Grace for a closed socket to come back.
    ReconnectGrace,
    /// Largest signaling message, bytes.
    MaxMessageBytes,
    /// Messages saved for a member waiting alone.
    MaxSavedMessages,
    /// Bytes saved for a member waiting alone.
    MaxSavedBytes,
    /// Relay frames queued per sender while its peer is not registered.
    MaxQueuedMessages,
    /// Relay bytes queued per sender.
    MaxQueuedBytes,
    /// Frames waiting for one socket before it is closed as a slow reader (own sockets only).
    OutboundQueue,
    /// Bytes waiting for one socket before it is closed as a slow reader (own sockets only).
    OutboundBytes,
    /// Base URL of room links and of the default ICE URL.
    PublicUrl,
    /// `wss_url` handed to clients.
    WssUrl,
    /// `wss_post_url` handed to clients.
    WssPostUrl,
    /// `ice_server_url` handed to clients.
    IceServerUrl,
    /// `host:port` values `wshpp` may select (comma list).
    WshppAllow,
    /// STUN URLs (comma list).
    StunUrls,
    /// TURN URLs (comma list).
    TurnUrls,
    /// Static TURN username.
    TurnUsername,
    /// Static TURN password.
    TurnCredential,
    /// TURN REST shared secrets (comma list, the first mints).
    TurnSecret,
    /// Lifetime of minted TURN credentials.
    TurnTtl,
    /// Origins allowed to read the ICE endpoint cross-origin (comma list, `*` for any).
    IceCorsOrigins,
}

impl Setting {
    /// Every setting, in the order [`SettingsBuilder::build`] checks them.
    pub const ALL: [Self; 22] = [
        Self::RoomTtl,
        Self::RegisterDeadline,
        Self::ReconnectGrace,
        Self::MaxMessageBytes,
        Self::MaxSavedMessages,
        Self::MaxSavedBytes,
        Self::MaxQueuedMessages,
        Self::MaxQueuedBytes,
        Self::OutboundQueue,
        Self::OutboundBytes,
        Self::PublicUrl,
        Self::WssUrl,
        Self::WssPostUrl,
        Self::IceServerUrl,
        Self::WshppAllow,
        Self::StunUrls,
        Self::TurnUrls,
        Self::TurnUsername,
        Self::TurnCredential,
        Self::TurnSecret,
        Self::TurnTtl,
        Self::IceCorsOrigins,
    ];

    /// The environment variable a deployed function reads; `None` for a setting the functions
    /// have no use for (they keep no outbound queue: API Gateway holds the sockets).
    pub const fn env(self) -> Option<&'static str> {
        Some(match self {
            Self::RoomTtl => "ROOM_TTL",
            Self::RegisterDeadline => "REGISTER_DEADLINE",
            Self::ReconnectGrace => "RECONNECT_GRACE",
            Self::MaxMessageBytes => "MAX_MESSAGE_BYTES",
            Self::MaxSavedMessages => "MAX_SAVED_MESSAGES",
            Self::MaxSavedBytes => "MAX_SAVED_BYTES",
            Self::MaxQueuedMessages => "MAX_QUEUED_MESSAGES",
            Self::MaxQueuedBytes => "MAX_QUEUED_BYTES",
            Self::OutboundQueue | Self::OutboundBytes => return None,
            Self::PublicUrl => "PUBLIC_BASE_URL",
            Self::WssUrl => "WSS_URL",
            Self::WssPostUrl => "WSS_POST_URL",
            Self::IceServerUrl => "ICE_SERVER_URL",
            Self::WshppAllow => "WSHPP_ALLOW",
            Self::StunUrls => "STUN_URLS",
            Self::TurnUrls => "TURN_URLS",
            Self::TurnUsername => "TURN_USERNAME",
            Self::TurnCredential => "TURN_CREDENTIAL",
            Self::TurnSecret => "TURN_SHARED_SECRET",
            Self::TurnTtl => "TURN_TTL",
            Self::IceCorsOrigins => "ICE_CORS_ORIGINS",
        })
    }

    /// The flag of `apprtc-local`.
    pub const fn flag(self) -> &'static str {
        match self {
            Self::RoomTtl => "--room-ttl",
            Self::RegisterDeadline => "--register-deadline",
            Self::ReconnectGrace => "--reconnect-grace",
            Self::MaxMessageBytes => "--max-message-bytes",
            Self::MaxSavedMessages => "--max-saved-messages",
            Self::MaxSavedBytes => "--max-saved-bytes",
            Self::MaxQueuedMessages => "--max-queued-messages",
            Self::MaxQueuedBytes => "--max-queued-bytes",
            Self::OutboundQueue => "--outbound-queue",
            Self::OutboundBytes => "--outbound-bytes",
            Self::PublicUrl => "--public-url",
            Self::WssUrl => "--wss-url",
            Self::WssPostUrl => "--wss-post-url",
            Self::IceServerUrl => "--ice-server-url",
            Self::WshppAllow => "--wshpp-allow",
            Self::StunUrls => "--stun-urls",
            Self::TurnUrls => "--turn-urls",
            Self::TurnUsername => "--turn-username",
            Self::TurnCredential => "--turn-credential",
            Self::TurnSecret => "--turn-secret",
            Self::TurnTtl => "--turn-ttl",
            Self::IceCorsOrigins => "--ice-cors-origins",
        }
    }

    /// The setting as `spelling` names it.
    pub fn name(self, spelling: Spelling) -> &'static str {
        match spelling {
            Spelling::Env => self.env().unwrap_or(self.flag()),
            Spelling::Flag => self.flag(),
        }
    }
}

/// How a host names its settings (in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// Environment variables (the deployed functions).
    Env,
    /// Command-line flags (the emulator).
    Flag,
}

/// A setting that cannot be used: its name as the host spells it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {name}: {reason}")]
pub struct SettingError {
    /// Environment variable or flag.
    pub name: &'static str,
    /// What is wrong; the same words on every host.
    pub reason: String,
}

/// Largest message behind API Gateway: it closes a socket on a frame over 32 KB (close 1009), and
/// a client's `send` frame wraps the message in 23 bytes.
pub const API_GATEWAY_MAX_MESSAGE_BYTES: usize = 32 * 1024 - 23;
/// The deployed default message limit: a quarter of the frame is left for the escaping the
/// wrapping adds (an SDP's line breaks and quotes are escaped once more).
pub const DEPLOYED_MESSAGE_BYTES: usize = 24 * 1024;

/// The deployed default for bytes queued per sender: each sender's queue is one DynamoDB item (at
/// most 400 KB), and an append costs a write unit per KB of the item.
pub const DEPLOYED_QUEUED_BYTES: usize = 64 * 1024;
/// Default lifetime of minted TURN credentials.
pub const TURN_TTL: Duration = Duration::from_secs(24 * 3600);

/// What differs between the hosts that read settings: how they name them, their defaults and the
/// rules only one of them needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// How errors name a setting.
    pub spelling: Spelling,
    /// Room limits of settings not given.
    pub limits: RoomLimits,
    /// Relay limits of settings not given.
    pub relay: RelayLimits,
    /// TURN credential lifetime when not given.
    pub turn_ttl: Duration,
    /// Sockets sit behind API Gateway: a message must fit its frame
    /// ([`API_GATEWAY_MAX_MESSAGE_BYTES`]).
    pub behind_api_gateway: bool,
    /// The host holds its sockets and their outbound queues, into which a sender's queue is
    /// flushed: each must hold a full sender queue.
    pub outbound_queues: bool,
}

impl Host {
    /// A deployed function: environment variables, API Gateway's frames, smaller defaults for
    /// message and queue bytes (see [`DEPLOYED_MESSAGE_BYTES`], [`DEPLOYED_QUEUED_BYTES`]).
    pub fn lambda() -> Self {
        Self {
            spelling: Spelling::Env,
            limits: RoomLimits {
                max_message_bytes: DEPLOYED_MESSAGE_BYTES,
                ..RoomLimits::default()
            },
            relay: RelayLimits {
                max_queued_bytes: DEPLOYED_QUEUED_BYTES,
                ..RelayLimits::default()
            },
            turn_ttl: TURN_TTL,
            behind_api_gateway: true,
            outbound_queues: false,
        }
    }

    /// `apprtc-local`: flags, its own sockets.
    pub fn emulator() -> Self {
        Self {
            spelling: Spelling::Flag,
            limits: RoomLimits::default(),
            relay: RelayLimits::default(),
            turn_ttl: TURN_TTL,
            behind_api_gateway: false,
            outbound_queues: true,
        }
    }

    /// The default of a number or duration setting as its text (what `--help` shows); `None`
    /// for settings that default to nothing.
    pub fn default_text(&self, setting: Setting) -> Option<String> {
        let (l, r) = (&self.limits, &self.relay);
        let count = |n: usize| Some(n.to_string());
        match setting {
            Setting::RoomTtl => Some(format_duration(l.room_ttl)),
            Setting::RegisterDeadline => Some(format_duration(l.register_deadline)),
            Setting::ReconnectGrace => Some(format_duration(l.reconnect_grace)),
            Setting::TurnTtl => Some(format_duration(self.turn_ttl)),
            Setting::MaxMessageBytes => count(l.max_message_bytes),
            Setting::MaxSavedMessages => count(l.max_saved_messages),
            Setting::MaxSavedBytes => count(l.max_saved_bytes),
            Setting::MaxQueuedMessages => count(r.max_queued_messages),
            Setting::MaxQueuedBytes => count(r.max_queued_bytes),
            Setting::OutboundQueue => count(r.outbound_queue),
            Setting::OutboundBytes => count(r.outbound_bytes),
            _ => None,
        }
    }
}

/// A duration as [`parse_duration`] reads it: whole hours as `h`, else seconds or milliseconds.
fn format_duration(d: Duration) -> String {
    match (d.as_secs(), d.subsec_nanos()) {
        (s, 0) if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        (s, 0) => format!("{s}s"),
        _ => format!("{}ms", d.as_millis()),
    }
}

/// Splits a comma list, dropping blanks.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

/// The one place room and relay settings are parsed and checked, for every host: each host hands
/// in the values it was given as text (a deployed function its environment, the emulator its
/// flags), and [`SettingsBuilder::build`] applies the host's defaults and rules. The same bad
/// value gets the same reason on every host, under the name that host uses.
#[derive(Debug, Clone)]
pub struct SettingsBuilder {
    host: Host,
    given: std::collections::BTreeMap<Setting, String>,
}

impl SettingsBuilder {
    /// No value given yet: [`build`](Self::build) would give `host`'s defaults.
    pub fn new(host: Host) -> Self {
        Self {
            host,
            given: Default::default(),
        }
    }

    /// Gives `setting` as text; blank text or `None` counts as not given.
    #[must_use]
    pub fn set(mut self, setting: Setting, value: impl Into<Option<String>>) -> Self {
        match value.into().filter(|v| !v.trim().is_empty()) {
            Some(v) => self.given.insert(setting, v),
            None => self.given.remove(&setting),
        };
        self
    }

    fn error(&self, setting: Setting, reason: impl Into<String>) -> SettingError {
        SettingError {
            name: setting.name(self.host.spelling),
            reason: reason.into(),
        }
    }

    fn text(&self, setting: Setting) -> Option<String> {
        self.given.get(&setting).cloned()
    }

    fn list(&self, setting: Setting) -> Vec<String> {
        self.given
            .get(&setting)
            .map(|v| split_list(v))
            .unwrap_or_default()
    }

    fn duration(&self, setting: Setting, default: Duration) -> Result<Duration, SettingError> {
        match self.given.get(&setting) {
            Some(v) => parse_duration(v).map_err(|reason| self.error(setting, reason)),
            None => Ok(default),
        }
    }

    fn count(&self, setting: Setting, default: usize) -> Result<usize, SettingError> {
        match self.given.get(&setting) {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| self.error(setting, format!("'{v}' is not a positive integer"))),
            None => Ok(default),
        }
    }

    /// The settings, or the first value that cannot be used.
    pub fn build(&self) -> Result<(Settings, RelayLimits), SettingError> {
        let (l, r) = (&self.host.limits, &self.host.relay);
        let limits = RoomLimits {
            room_ttl: self.duration(Setting::RoomTtl, l.room_ttl)?,
            register_deadline: self.duration(Setting::RegisterDeadline, l.register_deadline)?,
            reconnect_grace: self.duration(Setting::ReconnectGrace, l.reconnect_grace)?,
            max_message_bytes: self.count(Setting::MaxMessageBytes, l.max_message_bytes)?,
            max_saved_messages: self.count(Setting::MaxSavedMessages, l.max_saved_messages)?,
            max_saved_bytes: self.count(Setting::MaxSavedBytes, l.max_saved_bytes)?,
        };
        let relay = RelayLimits {
            max_queued_messages: self.count(Setting::MaxQueuedMessages, r.max_queued_messages)?,
            max_queued_bytes: self.count(Setting::MaxQueuedBytes, r.max_queued_bytes)?,
            outbound_queue: self.count(Setting::OutboundQueue, r.outbound_queue)?,
            outbound_bytes: self.count(Setting::OutboundBytes, r.outbound_bytes)?,
        };
        self.check_host_rules(&limits, &relay)?;
        let turn_auth = TurnAuth::from_settings(
            self.text(Setting::TurnUsername),
            self.text(Setting::TurnCredential),
            self.list(Setting::TurnSecret),
            self.duration(Setting::TurnTtl, self.host.turn_ttl)?,
        )
        .map_err(|e| self.error(e.setting(), e.to_string()))?;
        let settings = Settings {
            limits,
            urls: PublicUrls {
                base_url: self.text(Setting::PublicUrl),
                wss_url: self.text(Setting::WssUrl),
                wss_post_url: self.text(Setting::WssPostUrl),
                ice_server_url: self.text(Setting::IceServerUrl),
            },
            wshpp_allow: self.list(Setting::WshppAllow),
            ice: IceSettings {
                stun_urls: self.list(Setting::StunUrls),
                turn_urls: self.list(Setting::TurnUrls),
                turn_auth,
            },
            ice_cors: CorsOrigins::parse(&self.text(Setting::IceCorsOrigins).unwrap_or_default()),
            bypass_join_confirmation: false,
            header_message: None,
        };
        Ok((settings, relay))
    }

    /// Rules between settings that hold on one host only.
    fn check_host_rules(
        &self,
        limits: &RoomLimits,
        relay: &RelayLimits,
    ) -> Result<(), SettingError> {
        let n = limits.max_message_bytes;
        if self.host.behind_api_gateway && n > API_GATEWAY_MAX_MESSAGE_BYTES {
            return Err(self.error(
                Setting::MaxMessageBytes,
                format!(
                    "{n} is over {API_GATEWAY_MAX_MESSAGE_BYTES}: API Gateway closes a socket on a frame over 32 KB, and a `send` frame holds the message and 23 bytes more"
                ),
            ));
        }
        if !self.host.outbound_queues {
            return Ok(());
        }
        let spell = |s: Setting| s.name(self.host.spelling);
        if relay.outbound_queue <= relay.max_queued_messages {
            return Err(self.error(
                Setting::OutboundQueue,
                format!(
                    "must be larger than {} (a queue is flushed into it)",
                    spell(Setting::MaxQueuedMessages)
                ),
            ));
        }
        if relay.outbound_bytes < relay.max_queued_bytes {
            return Err(self.error(
                Setting::OutboundBytes,
                format!(
                    "must be at least {} (a queue is flushed into it)",
                    spell(Setting::MaxQueuedBytes)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn a_duration_as_help_shows_it_reads_back() {
        for (d, text) in [
            (Duration::from_secs(86_400), "24h"),
            (Duration::from_secs(60), "60s"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_millis(250), "250ms"),
        ] {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d));
        }
    }

    #[test]
    fn nothing_given_builds_the_host_defaults() {
        for host in [Host::lambda(), Host::emulator()] {
            let (settings, relay) = SettingsBuilder::new(host.clone())
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(settings.limits, host.limits);
            assert_eq!(relay, host.relay);
            assert_eq!(settings.ice, IceSettings::default());
        }
        assert_eq!(Host::lambda().limits.max_message_bytes, 24 * 1024);
        assert_eq!(Host::lambda().relay.max_queued_bytes, 64 * 1024);
        assert_eq!(Host::emulator().limits, RoomLimits::default());
    }

    #[test]
    fn the_defaults_as_text_build_the_defaults() {
        let host = Host::emulator();
        let builder = Setting::ALL
            .into_iter()
            .fold(SettingsBuilder::new(host.clone()), |b, s| {
                let text = host.default_text(s);
                b.set(s, text)
            });
        let (settings, relay) = builder.build().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((settings.limits, relay), (host.limits, host.relay));
    }

    #[test]
    fn a_bad_value_is_named_as_the_host_spells_it() {
        let bad = |host: Host| {
            SettingsBuilder::new(host)
                .set(Setting::MaxSavedBytes, "0".to_owned())
                .build()
                .err()
        };
        let reason = "'0' is not a positive integer".to_owned();
        assert_eq!(
            bad(Host::lambda()),
            Some(SettingError {
                name: "MAX_SAVED_BYTES",
                reason: reason.clone()
            })
        );
        assert_eq!(
            bad(Host::emulator()),
            Some(SettingError {
                name: "--max-saved-bytes",
                reason
            })
        );
    }

    #[test]
    fn secrets_never_print() {
        let auth =
            TurnAuth::from_settings(None, None, vec!["hunter2".into()], Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(
            TurnAuth::from_settings(Some("u".into()), None, vec![], Duration::from_secs(1))
                .is_err()
        );
    }
}
