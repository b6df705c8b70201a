//! Typed settings, loaded once at the edge (flags, environment) and passed down. Nothing below the
//! binaries reads the environment.

use crate::domain::room::RoomLimits;
use std::fmt;
use std::time::Duration;

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

impl TurnAuth {
    /// Chooses the credential mode from the settings: a shared secret (REST credentials) or a
    /// static username and password, never both.
    pub fn from_settings(
        username: Option<String>,
        credential: Option<String>,
        secrets: Vec<String>,
        ttl: Duration,
    ) -> Result<Self, String> {
        match (username, credential, secrets.is_empty()) {
            (Some(_), Some(_), false) => {
                Err("use either a TURN shared secret or a static TURN username and credential, not both".to_owned())
            }
            (Some(username), Some(credential), true) => Ok(Self::Static {
                username,
                credential: Secret::new(credential),
            }),
            (None, None, false) if ttl.is_zero() => Err("the TURN credential lifetime must be greater than zero".to_owned()),
            (None, None, false) => Ok(Self::Rest {
                secrets: secrets.into_iter().map(Secret::new).collect(),
                ttl,
            }),
            (None, None, true) => Ok(Self::None),
            _ => Err("a static TURN username and credential go together".to_owned()),
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
