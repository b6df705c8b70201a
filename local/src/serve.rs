//! The accept loop shared by both listeners: optional TLS handshake (bounded in time, off the
//! accept path), HTTP/1.1 with upgrades and a header-read timeout, graceful shutdown.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// The scheme a listener speaks, for URLs handed to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme(pub &'static str);

/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `stop` turns true; each connection then finishes its exchange in
/// progress (bounded by `drain`). Upgraded WebSockets close through the relay.
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    header_timeout: Duration,
    stop: watch::Receiver<bool>,
    drain: Duration,
    tasks: TaskTracker,
) {
    let mut stopping = stop.clone();
    let acceptor = tls.map(TlsAcceptor::from);
    let router = router.layer(axum::Extension(Scheme(if acceptor.is_some() {
        "https"
    } else {
        "http"
    })));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopping.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        ));
        let acceptor = acceptor.clone();
        let http = http.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let result = match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(&http, stream, service, stop, drain).await
                        }
                        Ok(Err(e)) => {
                            return tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_connection(&http, tcp, service, stop, drain).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Serves one connection; at shutdown, lets the exchange in progress finish within `drain`.
async fn serve_connection<I, S, B>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) -> hyper::Result<()>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => result,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            tokio::time::timeout(drain, conn).await.unwrap_or(Ok(()))
        }
    }
}
