//! A TCP proxy on 127.0.0.1 in front of a real DynamoDB API that can be told to fail: the
//! database stopped (connections closed at once), hung (requests never answered), slowed (every
//! request held for a while, then forwarded) or throttling (every request answered with
//! DynamoDB's `ThrottlingException`). Changing the fault closes every open connection, as a
//! restarted or partitioned server would, so pooled connections see the new behaviour.
//! Used by the functions' fault tests (`room`) and by `apprtc-local`'s (`--path`-included).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards everything.
    None,
    /// Accepts and closes at once: the database is down.
    Stopped,
    /// Accepts and reads, never answers.
    Hung,
    /// Holds every chunk of a request for this long before forwarding it.
    Slow(Duration),
    /// Answers every request with HTTP 400 `ThrottlingException`.
    Throttling,
}

/// The running proxy; stops when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: watch::Sender<Fault>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://host:port`), forwarding until told otherwise.
    pub async fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream is http://<ip>:<port>");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (fault, watcher) = watch::channel(Fault::None);
        let watcher = Arc::new(watcher);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut changes = (*watcher).clone();
                let current = *changes.borrow_and_update();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = serve(client, upstream, current) => {}
                        _ = changes.changed() => {}
                    }
                });
            }
        });
        Self { addr, fault, task }
    }

    /// The endpoint URL for the SDK.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the fault; open connections are closed.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, fault: Fault) {
    match fault {
        Fault::None => {
            if let Ok(mut up) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
            }
        }
        Fault::Stopped => drop(client),
        Fault::Hung => {
            let mut sink = vec![0u8; 16 * 1024];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        Fault::Slow(delay) => {
            let Ok(up) = TcpStream::connect(upstream).await else {
                return;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut ur, mut uw) = up.into_split();
            let to_upstream = async {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = cr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    if uw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            };
            let to_client = async {
                let _ = tokio::io::copy(&mut ur, &mut cw).await;
            };
            tokio::join!(to_upstream, to_client);
        }
        Fault::Throttling => throttle(client).await,
    }
}

/// Reads whole HTTP requests (headers, then `content-length` bytes) and answers each as DynamoDB
/// does when a table's throughput is exceeded.
async fn throttle(mut client: TcpStream) {
    const BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
            match client.read(&mut buf).await {
                Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                _ => return,
            }
            continue;
        };
        let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let total = end + 4 + length;
        while pending.len() < total {
            match client.read(&mut buf).await {
                Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                _ => return,
            }
        }
        pending.drain(..total);
        let answer = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\n\
             x-amzn-requestid: fault-proxy\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        if client.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}
