//! A deployed function's settings, read once at cold start from its environment (or any lookup,
//! for tests) into [`DeployConfig`]; nothing below `main` reads the environment.

use crate::adapters::dynamo::TrustRoots;
use crate::config::RelayLimits;
use crate::config::{Host, Setting, Settings, SettingsBuilder};

/// Environment variables a deployed function reads (once, at cold start), besides the room and
/// relay settings, whose variables are [`Setting::env`].
pub mod env {
    /// DynamoDB table (required).
    pub const TABLE_NAME: &str = "TABLE_NAME";
    /// Management endpoint of the WebSocket API, `https://<api>.execute-api.<region>.amazonaws.com/<stage>`.
    pub const RELAY_ENDPOINT: &str = "RELAY_ENDPOINT";
    /// ARN of a Secrets Manager secret holding the TURN REST shared secrets (comma list), read
    /// once at cold start; keeps the secret out of the function's environment.
    pub const TURN_SECRET_ARN: &str = "TURN_SECRET_ARN";
    /// Root certificates the AWS clients trust: `aws` (Amazon Trust Services' roots, built in;
    /// the default) or `native` (the machine's store; the default when an endpoint is overridden).
    pub const TLS_ROOTS: &str = "TLS_ROOTS";
    /// Endpoint overrides read by the AWS SDK; any of them makes `native` the default roots.
    pub const ENDPOINT_OVERRIDES: [&str; 4] = [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
    ];
}

/// A setting that cannot be used (the variable and why); the emulator's flags fail the same way.
pub use crate::config::SettingError as ConfigError;

/// Settings read from the environment (or any lookup, for tests).
#[derive(Debug, Clone)]
pub struct DeployConfig {
    /// Room and HTTP settings.
    pub settings: Settings,
    /// Relay limits.
    pub relay: RelayLimits,
    /// DynamoDB table.
    pub table: String,
    /// Management endpoint of the WebSocket API, if configured.
    pub relay_endpoint: Option<String>,
    /// Secrets Manager secret with the TURN shared secrets, if configured.
    pub turn_secret_arn: Option<String>,
    /// Root certificates of the AWS clients.
    pub tls_roots: TrustRoots,
}

impl DeployConfig {
    /// Reads every setting through `get` (the process environment in [`DeployConfig::from_env`]).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let (settings, relay) = Setting::ALL
            .into_iter()
            .fold(SettingsBuilder::new(Host::lambda()), |b, s| {
                let value = s.env().and_then(&get);
                b.set(s, value)
            })
            .build()?;
        let table = get(env::TABLE_NAME).ok_or(ConfigError {
            name: env::TABLE_NAME,
            reason: "not set: the functions keep rooms in this DynamoDB table".to_owned(),
        })?;
        let tls_roots = match get(env::TLS_ROOTS).as_deref().map(str::trim) {
            Some("aws") => TrustRoots::Aws,
            Some("native") => TrustRoots::Native,
            Some(other) => {
                return Err(ConfigError {
                    name: env::TLS_ROOTS,
                    reason: format!("`{other}` is neither `aws` nor `native`"),
                });
            }
            None if env::ENDPOINT_OVERRIDES.iter().any(|n| get(n).is_some()) => TrustRoots::Native,
            None => TrustRoots::Aws,
        };
        Ok(Self {
            settings,
            relay,
            table,
            relay_endpoint: get(env::RELAY_ENDPOINT),
            turn_secret_arn: get(env::TURN_SECRET_ARN),
            tls_roots,
        })
    }

    /// Reads every setting from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}
