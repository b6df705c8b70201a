//! `/ca`: the local certificate authority for phones to install once, with the steps for Android
//! and iOS; `/ca.pem` (PEM) and `/ca.crt` (DER, the type Android's and iOS's installers take).

use crate::App;
use crate::http::reply;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use room::http::{CaFile, ca_response};

/// The routes; without a local authority they answer 404.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/ca", get(page))
        .route("/ca.pem", get(pem))
        .route("/ca.crt", get(der))
        .with_state(app)
}

async fn pem(State(app): State<App>) -> Response {
    reply(ca_response(app.ca.as_ref().map(|ca| CaFile::Pem(&ca.pem))))
}

async fn der(State(app): State<App>) -> Response {
    reply(ca_response(app.ca.as_ref().map(|ca| CaFile::Der(&ca.der))))
}

async fn page(State(app): State<App>) -> Response {
    let html = app.ca.as_ref().map(|ca| html(&ca.name, &ca.sha256));
    reply(ca_response(html.as_deref().map(CaFile::Page)))
}

/// The page. `name` and `sha256` come from the certificate this process made (hex digits,
/// letters, spaces), so they need no escaping.
fn html(name: &str, sha256: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trust apprtc-local on this device</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.45; }}
code {{ word-break: break-all; }}
a.button {{ display: inline-block; margin: .25rem .5rem .25rem 0; padding: .6rem 1rem; border-radius: .4rem; background: #1a73e8; color: #fff; text-decoration: none; }}
</style>
</head>
<body>
<h1>Trust apprtc-local on this device</h1>
<p>Install this certificate authority once: every address and name of the machine running
apprtc-local then opens over HTTPS without a warning, now and after it moves to another network.</p>
<p><a class="button" href="/ca.crt">Download the certificate</a>
<a class="button" href="/ca.pem">PEM</a></p>
<p>Name: <strong id="ca-name">{name}</strong><br>
SHA-256: <code id="ca-sha256">{sha256}</code><br>
Compare it with the fingerprint apprtc-local printed when it started.</p>
<h2>Android</h2>
<ol>
<li>Tap <em>Download the certificate</em>.</li>
<li>Settings → Security → Encryption &amp; credentials → Install a certificate → CA certificate
(on some phones: Settings → Security → More security settings → Install from device storage).</li>
<li>Confirm "Install anyway", pick <code>apprtc-local-ca.crt</code> from Downloads.</li>
</ol>
<p>Chrome trusts it from then on. Apps trust user-installed authorities only if they ask to
(see docs/phones.md for AppRTCMobile).</p>
<h2>iPhone and iPad</h2>
<ol>
<li>Open this page in Safari and tap <em>Download the certificate</em>; allow the configuration
profile download.</li>
<li>Settings → Profile Downloaded → Install (enter the passcode, Install again).</li>
<li>Settings → General → About → Certificate Trust Settings → turn on full trust for
<em>{name}</em>.</li>
</ol>
<h2>Remove it</h2>
<p>Android: Settings → Security → Encryption &amp; credentials → User credentials. iOS: Settings →
General → VPN &amp; Device Management → the profile → Remove.</p>
<p><a href="/">Back to apprtc-local</a></p>
</body>
</html>
"#
    )
}
