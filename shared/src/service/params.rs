//! The `params` use case: the room parameters of docs/protocol.md §2.3 and §2.7 (URLs,
//! peer-connection and media constraints as JSON strings), built from the request that asked and
//! the settings.

use crate::config::{RELAY_HTTP_PREFIX, Settings, WS_PATH};
use crate::domain::ids::RoomId;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// What the HTTP layer knows about a request, independent of axum or Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// `http` or `https`, as the client used it.
    pub scheme: String,
    /// `Host` as the client sent it (may carry a port).
    pub host: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// `User-Agent`, if any (a missing one is fine: docs/protocol.md §2.1).
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// Reads scheme, host and user agent from headers. `X-Forwarded-Proto` (API Gateway, proxies)
    /// wins over `default_scheme` (what the listener speaks).
    pub fn from_headers(
        headers: &http::HeaderMap,
        default_scheme: &str,
        query: Vec<(String, String)>,
    ) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let scheme = match header("x-forwarded-proto").and_then(|p| p.split(',').next()) {
            Some(p) if p.trim().eq_ignore_ascii_case("https") => "https",
            Some(p) if p.trim().eq_ignore_ascii_case("http") => "http",
            _ => default_scheme,
        };
        let host = header("host")
            .filter(|h| is_plausible_host(h))
            .unwrap_or("localhost")
            .to_owned();
        Self {
            scheme: scheme.to_owned(),
            host,
            query,
            user_agent: header("user-agent").map(str::to_owned),
        }
    }

    /// The first value of query parameter `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// `scheme://host` of this request.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// Whether `debug=loopback` was asked for.
    pub fn loopback(&self) -> bool {
        self.get("debug") == Some("loopback")
    }
}

/// A `Host` value we are willing to echo into URLs: host name or address with optional port.
fn is_plausible_host(h: &str) -> bool {
    h.len() <= 255
        && h.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

/// The parameters every room page and `/params` answer share (docs/protocol.md §2.7).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomParams {
    /// Error texts (always empty).
    pub error_messages: Vec<String>,
    /// Warnings about query parameters.
    pub warning_messages: Vec<String>,
    /// `"true"`/`"false"`.
    pub is_loopback: String,
    /// JSON text.
    pub pc_config: String,
    /// JSON text.
    pub pc_constraints: String,
    /// JSON text.
    pub offer_options: String,
    /// JSON text.
    pub media_constraints: String,
    /// Banner text or null.
    pub header_message: Option<String>,
    /// `"" ` (our client needs no extra script).
    pub include_loopback_js: String,
    /// ICE endpoint URL, or `""` to disable fetching.
    pub ice_server_url: String,
    /// Value of `tt`.
    pub ice_server_transports: String,
    /// `"true"`/`"false"`.
    pub bypass_join_confirmation: String,
    /// JSON text (`"null"`).
    pub version_info: String,
    /// Relay WebSocket URL.
    pub wss_url: String,
    /// Relay HTTP base URL, no trailing slash.
    pub wss_post_url: String,
}

/// The `params` of a successful join (docs/protocol.md §2.3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinParams {
    /// Shared parameters.
    #[serde(flatten)]
    pub room: RoomParams,
    /// The room.
    pub room_id: String,
    /// Link to the room page.
    pub room_link: String,
    /// The issued id.
    pub client_id: String,
    /// `"true"`/`"false"` (a string: the web client compares with `'true'`).
    pub is_initiator: String,
    /// Saved messages, as the strings that were posted.
    pub messages: Vec<String>,
}

fn bool_str(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

/// `(wss_url, wss_post_url)` for this request: an allow-listed `wshpp`, the configured URLs, or
/// the server's own origin.
fn relay_urls(ctx: &RequestContext, settings: &Settings) -> (String, String) {
    if let Some(hpp) = ctx
        .get("wshpp")
        .filter(|h| settings.wshpp_allow.iter().any(|a| a == h))
    {
        return if ctx.get("wstls") == Some("false") {
            (format!("ws://{hpp}{WS_PATH}"), format!("http://{hpp}"))
        } else {
            (format!("wss://{hpp}{WS_PATH}"), format!("https://{hpp}"))
        };
    }
    let ws_scheme = if ctx.scheme == "https" { "wss" } else { "ws" };
    let wss = settings
        .urls
        .wss_url
        .clone()
        .unwrap_or_else(|| format!("{ws_scheme}://{}{WS_PATH}", ctx.host));
    let post = settings
        .urls
        .wss_post_url
        .clone()
        .unwrap_or_else(|| format!("{}{RELAY_HTTP_PREFIX}", ctx.origin()));
    (wss, post.trim_end_matches('/').to_owned())
}

/// `scheme://host` or the configured public base URL.
pub fn base_url(ctx: &RequestContext, settings: &Settings) -> String {
    settings
        .urls
        .base_url
        .clone()
        .unwrap_or_else(|| ctx.origin())
        .trim_end_matches('/')
        .to_owned()
}

fn ice_server_url(ctx: &RequestContext, settings: &Settings) -> String {
    let key = ctx.get("apikey").unwrap_or("");
    match ctx.get("ts") {
        Some("") => String::new(),
        Some(ts) => format!(
            "{}/v1alpha/iceconfig?key={}",
            ts.trim_end_matches('/'),
            encode(key)
        ),
        None => settings.urls.ice_server_url.clone().unwrap_or_else(|| {
            format!(
                "{}/v1alpha/iceconfig?key={}",
                base_url(ctx, settings),
                encode(key)
            )
        }),
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One audio or video constraint as the original parses it: `true`/`false`/empty, or a comma list
/// of `[mandatory:|optional:]key=value` (keys starting with `goog` default to optional).
fn track_constraints(spec: Option<&str>, warnings: &mut Vec<String>) -> Value {
    let Some(spec) = spec.filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("true")) else {
        return Value::Bool(true);
    };
    if spec.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    let mut mandatory = Map::new();
    let mut optional = Vec::new();
    for item in spec.split(',') {
        let Some((key, value)) = item.split_once('=').filter(|(_, v)| !v.contains('=')) else {
            warnings.push(format!("Ignoring malformed constraint: {item}"));
            continue;
        };
        let (is_mandatory, key) = if let Some(k) = key.strip_prefix("mandatory:") {
            (true, k)
        } else if let Some(k) = key.strip_prefix("optional:") {
            (false, k)
        } else {
            (!key.starts_with("goog"), key)
        };
        if is_mandatory {
            mandatory.insert(key.to_owned(), Value::String(value.to_owned()));
        } else {
            optional.push(json!({ key: value }));
        }
    }
    json!({ "mandatory": mandatory, "optional": optional })
}

fn media_constraints(ctx: &RequestContext, warnings: &mut Vec<String>) -> Value {
    let hd = ctx.get("hd").map(str::to_ascii_lowercase);
    let mut video = ctx.get("video").map(str::to_owned);
    if let (Some(_), Some(v)) = (&hd, &video) {
        warnings.push(format!("The \"hd\" parameter has overridden video={v}"));
    }
    let ua = ctx.user_agent.as_deref().unwrap_or("");
    let desktop_chrome = ua.contains("Chrome") && !ua.contains("Android");
    if hd.as_deref() == Some("true") {
        video = Some("mandatory:minWidth=1280,mandatory:minHeight=720".to_owned());
    } else if hd.is_none() && video.is_none() && desktop_chrome {
        video = Some("optional:minWidth=1280,optional:minHeight=720".to_owned());
    }
    let mut c = json!({
        "audio": track_constraints(ctx.get("audio"), warnings),
        "video": track_constraints(video.as_deref(), warnings),
    });
    if ctx
        .get("firefox_fake_device")
        .is_some_and(|v| !v.is_empty())
    {
        c["fake"] = Value::Bool(true);
    }
    c
}

/// The `params` use case: parameters for `/params` and the room pages.
pub fn room_params(ctx: &RequestContext, settings: &Settings) -> RoomParams {
    let mut warnings = Vec::new();
    let loopback = ctx.loopback();
    let mut pc_config = json!({
        "iceServers": [],
        "bundlePolicy": "max-bundle",
        "rtcpMuxPolicy": "require",
    });
    if let Some(it) = ctx.get("it").filter(|v| !v.is_empty()) {
        pc_config["iceTransports"] = Value::String(it.to_owned());
    }
    let mut optional = Vec::new();
    if loopback || ctx.get("dtls") == Some("false") {
        optional.push(json!({ "DtlsSrtpKeyAgreement": false }));
    } else if ctx.flag("dtls") {
        optional.push(json!({ "DtlsSrtpKeyAgreement": true }));
    }
    for (param, key) in [("dscp", "googDscp"), ("ipv6", "googIPv6")] {
        if let Some(v) = ctx.get(param).filter(|v| matches!(*v, "true" | "false")) {
            optional.push(json!({ key: v == "true" }));
        }
    }
    for p in ["minre", "maxre"] {
        if ctx.get(p).is_some() {
            warnings.push(format!("The \"{p}\" parameter is no longer supported"));
        }
    }
    let media = media_constraints(ctx, &mut warnings);
    let (wss_url, wss_post_url) = relay_urls(ctx, settings);
    RoomParams {
        error_messages: Vec::new(),
        warning_messages: warnings,
        is_loopback: bool_str(loopback),
        pc_config: pc_config.to_string(),
        pc_constraints: json!({ "optional": optional }).to_string(),
        offer_options: "{}".to_owned(),
        media_constraints: media.to_string(),
        header_message: settings.header_message.clone(),
        include_loopback_js: String::new(),
        ice_server_url: ice_server_url(ctx, settings),
        ice_server_transports: ctx.get("tt").unwrap_or("").to_owned(),
        bypass_join_confirmation: bool_str(settings.bypass_join_confirmation),
        version_info: "null".to_owned(),
        wss_url,
        wss_post_url,
    }
}

/// `<base>/r/<room>` with the request's query re-appended (URL-encoded, unlike the original).
pub fn room_link(ctx: &RequestContext, settings: &Settings, room: &RoomId) -> String {
    let mut link = format!("{}/r/{room}", base_url(ctx, settings));
    for (i, (k, v)) in ctx.query.iter().enumerate() {
        link.push(if i == 0 { '?' } else { '&' });
        link.push_str(&encode(k));
        link.push('=');
        link.push_str(&encode(v));
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(query: &[(&str, &str)]) -> RequestContext {
        RequestContext {
            scheme: "https".into(),
            host: "10.0.0.5:8443".into(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            user_agent: None,
        }
    }

    #[test]
    fn urls_follow_the_request_host() {
        let p = room_params(&ctx(&[]), &Settings::default());
        assert_eq!(p.wss_url, "wss://10.0.0.5:8443/ws");
        assert_eq!(p.wss_post_url, "https://10.0.0.5:8443/relay");
        assert_eq!(
            p.ice_server_url,
            "https://10.0.0.5:8443/v1alpha/iceconfig?key="
        );
    }

    #[test]
    fn wshpp_only_from_the_allow_list() {
        let q = [("wshpp", "h.example:8089"), ("wstls", "false")];
        let p = room_params(&ctx(&q), &Settings::default());
        assert_eq!(p.wss_url, "wss://10.0.0.5:8443/ws");
        let s = Settings {
            wshpp_allow: vec!["h.example:8089".into()],
            ..Settings::default()
        };
        let p = room_params(&ctx(&q), &s);
        assert_eq!(p.wss_url, "ws://h.example:8089/ws");
        assert_eq!(p.wss_post_url, "http://h.example:8089");
    }

    #[test]
    fn media_and_pc_constraints() {
        let p = room_params(
            &ctx(&[
                ("audio", "false"),
                ("video", "true"),
                ("it", "relay"),
                ("debug", "loopback"),
            ]),
            &Settings::default(),
        );
        assert_eq!(
            serde_json::from_str::<Value>(&p.media_constraints).ok(),
            Some(json!({"audio": false, "video": true}))
        );
        assert!(p.pc_config.contains("\"iceTransports\":\"relay\""));
        assert!(p.pc_constraints.contains("\"DtlsSrtpKeyAgreement\":false"));
        let hd = room_params(&ctx(&[("hd", "true")]), &Settings::default());
        let v: Value = serde_json::from_str(&hd.media_constraints).unwrap_or_default();
        assert_eq!(v["video"]["mandatory"]["minWidth"], "1280");
    }

    #[test]
    fn room_link_encodes_the_query() {
        let link = room_link(
            &ctx(&[("x", "'<a>")]),
            &Settings::default(),
            &RoomId::parse("r1").unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(link, "https://10.0.0.5:8443/r/r1?x=%27%3Ca%3E");
    }
}
