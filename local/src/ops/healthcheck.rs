//! `apprtc-local --healthcheck`: asks a running server on the configured listener for `/readyz`
//! and reports through the exit code (the container image has no HTTP client of its own).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest the whole probe may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Most bytes of the answer read (the status line is all that matters).
const MAX_ANSWER: u64 = 4096;

/// Where to reach a server listening on `listen`: its loopback address when it listens on every
/// interface.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `GET /readyz` on `addr` (over TLS when `tls`, accepting any certificate: the probe talks to
/// its own server, usually with a self-signed certificate). `Ok` with the body on 200, `Err` with
/// the reason otherwise.
pub async fn probe(addr: SocketAddr, tls: bool) -> Result<String, String> {
    tokio::time::timeout(TIMEOUT, request(addr, tls))
        .await
        .map_err(|_| format!("no answer from {addr} within {TIMEOUT:?}"))?
}

async fn request(addr: SocketAddr, tls: bool) -> Result<String, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    if !tls {
        return exchange(tcp).await;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCertificate(
        rustls::crypto::ring::default_provider(),
    )))
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
    exchange(stream).await
}

async fn exchange(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> Result<String, String> {
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut answer = Vec::new();
    // A TLS peer may close without close_notify once the answer is out: what was read counts.
    let _ = (&mut stream)
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .await;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default();
    let body = body.trim().to_owned();
    match status.split(' ').nth(1) {
        Some("200") => Ok(body),
        Some(code) => Err(format!("status {code}: {body}")),
        None => Err("no HTTP answer".to_owned()),
    }
}

/// Accepts any server certificate (signatures are still checked).
#[derive(Debug)]
struct AnyCertificate(rustls::crypto::CryptoProvider);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
