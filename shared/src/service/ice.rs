//! The ICE configuration use case (`/v1alpha/iceconfig`, docs/protocol.md §4): STUN and TURN
//! servers with static or expiring (TURN REST API) credentials, filtered by the `it`/`tt`
//! parameters.

use crate::config::{IceSettings, TurnAuth};
use crate::domain::room::Millis;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;

/// One entry of `iceServers`. `urls` is never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    /// STUN or TURN URLs.
    pub urls: Vec<String>,
    /// TURN username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceConfig {
    /// Servers, possibly none.
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
    /// Credential lifetime, e.g. `"86400s"` (informational).
    #[serde(rename = "lifetimeDuration", skip_serializing_if = "Option::is_none")]
    pub lifetime_duration: Option<String>,
}

/// Request options that shape the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceRequest {
    /// `it=relay`: TURN only.
    pub relay_only: bool,
    /// `tt=<transport>`: keep TURN URLs with this transport (URLs without one are kept too).
    pub transport: Option<String>,
    /// User part of REST usernames; a random id when absent. Must not contain `:`.
    pub user: Option<String>,
}

/// `base64(HMAC-SHA1(secret, username))`, the TURN REST API password.
fn rest_credential(secret: &str, username: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn transport_of(url: &str) -> Option<&str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix("transport="))
}

/// Builds the ICE configuration for one request at `now` (epoch milliseconds).
pub fn ice_config(settings: &IceSettings, req: &IceRequest, now: Millis) -> IceConfig {
    let mut servers = Vec::new();
    let turn_urls: Vec<String> = settings
        .turn_urls
        .iter()
        .filter(|u| match (&req.transport, transport_of(u)) {
            (Some(want), Some(have)) => want.eq_ignore_ascii_case(have),
            _ => true,
        })
        .cloned()
        .collect();
    let mut lifetime = None;
    if !turn_urls.is_empty() {
        match &settings.turn_auth {
            TurnAuth::None => servers.push(IceServer {
                urls: turn_urls,
                username: None,
                credential: None,
            }),
            TurnAuth::Static {
                username,
                credential,
            } => servers.push(IceServer {
                urls: turn_urls,
                username: Some(username.clone()),
                credential: Some(credential.expose().to_owned()),
            }),
            TurnAuth::Rest { secrets, ttl } => {
                if let Some(secret) = secrets.first() {
                    let expiry = now / 1000 + ttl.as_secs();
                    let user = req
                        .user
                        .as_deref()
                        .filter(|u| !u.is_empty() && !u.contains(':'))
                        .map_or_else(random_user, str::to_owned);
                    let username = format!("{expiry}:{user}");
                    let credential = rest_credential(secret.expose(), &username);
                    lifetime = Some(format!("{}s", ttl.as_secs()));
                    servers.push(IceServer {
                        urls: turn_urls,
                        username: Some(username),
                        credential: Some(credential),
                    });
                }
            }
        }
    }
    if !req.relay_only && !settings.stun_urls.is_empty() {
        servers.push(IceServer {
            urls: settings.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    IceConfig {
        ice_servers: servers,
        lifetime_duration: lifetime,
    }
}

fn random_user() -> String {
    let mut b = [0u8; 9];
    if getrandom::fill(&mut b).is_err() {
        return "user".to_owned();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::time::Duration;

    #[test]
    fn rest_credential_matches_a_known_vector() {
        // HMAC-SHA1 test vector from RFC 2202 (case 2), Base64-encoded.
        assert_eq!(
            rest_credential("Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn rest_username_carries_expiry_and_never_leaks_secret() {
        let s = IceSettings {
            stun_urls: vec!["stun:s:3478".into()],
            turn_urls: vec![
                "turn:t:3478?transport=udp".into(),
                "turn:t:3478?transport=tcp".into(),
            ],
            turn_auth: TurnAuth::Rest {
                secrets: vec![Secret::new("s3cret")],
                ttl: Duration::from_secs(600),
            },
        };
        let req = IceRequest {
            user: Some("abc".into()),
            ..IceRequest::default()
        };
        let cfg = ice_config(&s, &req, 1_000_000);
        assert_eq!(cfg.ice_servers[0].username.as_deref(), Some("1600:abc"));
        assert_eq!(
            cfg.ice_servers[0].credential,
            Some(rest_credential("s3cret", "1600:abc"))
        );
        let json = serde_json::to_string(&cfg).unwrap_or_default();
        assert!(!json.contains("s3cret"));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn relay_and_transport_filters() {
        let s = IceSettings {
            stun_urls: vec!["stun:s".into()],
            turn_urls: vec!["turn:t?transport=udp".into(), "turn:t?transport=tcp".into()],
            turn_auth: TurnAuth::None,
        };
        let req = IceRequest {
            relay_only: true,
            transport: Some("tcp".into()),
            user: None,
        };
        let cfg = ice_config(&s, &req, 0);
        assert_eq!(cfg.ice_servers.len(), 1);
        assert_eq!(
            cfg.ice_servers[0].urls,
            vec!["turn:t?transport=tcp".to_owned()]
        );
    }

    #[test]
    fn nothing_configured_gives_no_entries() {
        let cfg = ice_config(&IceSettings::default(), &IceRequest::default(), 0);
        assert_eq!(
            serde_json::to_string(&cfg).unwrap_or_default(),
            "{\"iceServers\":[]}"
        );
    }
}
