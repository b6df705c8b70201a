//! `/ca`: the local certificate authority for phones to install once, with the steps for Android
//! and iOS; `/ca.pem` (PEM) and `/ca.crt` (DER, the type Android's and iOS's installers take).

use super::certificates::LocalCa;
use crate::body::reply;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use room::http::{no_sniffing, respond, text_response};
use std::sync::Arc;

/// The routes; without a local authority they answer 404.
pub fn router(ca: Option<Arc<LocalCa>>) -> Router {
    Router::new()
        .route("/ca", get(page))
        .route("/ca.pem", get(pem))
        .route("/ca.crt", get(der))
        .with_state(ca)
}

async fn pem(State(ca): State<Option<Arc<LocalCa>>>) -> Response {
    reply(ca_response(ca.as_ref().map(|ca| CaFile::Pem(&ca.pem))))
}

async fn der(State(ca): State<Option<Arc<LocalCa>>>) -> Response {
    reply(ca_response(ca.as_ref().map(|ca| CaFile::Der(&ca.der))))
}

async fn page(State(ca): State<Option<Arc<LocalCa>>>) -> Response {
    let html = ca.as_ref().map(|ca| html(&ca.name, &ca.sha256));
    reply(ca_response(html.as_deref().map(CaFile::Page)))
}

/// What `/ca`, `/ca.pem` and `/ca.crt` serve from the emulator's local certificate authority.
#[derive(Debug, Clone, Copy)]
pub enum CaFile<'a> {
    /// `/ca`: the page with the steps for phones.
    Page(&'a str),
    /// `/ca.pem`: the certificate as PEM.
    Pem(&'a str),
    /// `/ca.crt`: the certificate as DER, the type Android's and iOS's installers take.
    Der(&'a [u8]),
}

/// The answer for one of the local authority's files, or 404 when the server has no local
/// authority (a given or self-signed certificate, or plain HTTP). The body is bytes: the DER
/// file is binary.
pub fn ca_response(file: Option<CaFile<'_>>) -> http::Response<Vec<u8>> {
    let Some(file) = file else {
        return text_response(
            StatusCode::NOT_FOUND,
            "no local certificate authority: this server uses a given or self-signed certificate\n",
        )
        .map(String::into_bytes);
    };
    let (content_type, download, body) = match file {
        CaFile::Page(html) => ("text/html; charset=utf-8", None, html.as_bytes().to_vec()),
        CaFile::Pem(pem) => (
            "application/x-pem-file",
            Some("attachment; filename=\"apprtc-local-ca.pem\""),
            pem.as_bytes().to_vec(),
        ),
        CaFile::Der(der) => (
            "application/x-x509-ca-cert",
            Some("attachment; filename=\"apprtc-local-ca.crt\""),
            der.to_vec(),
        ),
    };
    let mut res = respond(StatusCode::OK, content_type, String::new()).map(|_| body);
    if let Some(download) = download {
        res.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static(download),
        );
    }
    no_sniffing(res)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_keep_their_bytes_and_say_how_to_install_them() {
        let der = [0x30, 0x82, 0x00, 0xff, 0x80];
        let res = ca_response(Some(CaFile::Der(&der)));
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body().as_slice(), der);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/x-x509-ca-cert"
        );
        assert!(
            res.headers()[header::CONTENT_DISPOSITION]
                .to_str()
                .is_ok_and(|v| v.ends_with("\"apprtc-local-ca.crt\""))
        );
        let page = ca_response(Some(CaFile::Page("<p>steps</p>")));
        assert_eq!(page.body().as_slice(), b"<p>steps</p>");
        assert!(!page.headers().contains_key(header::CONTENT_DISPOSITION));
        let missing = ca_response(None);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(
            missing
                .body()
                .starts_with(b"no local certificate authority")
        );
    }
}
