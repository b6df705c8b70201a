//! The two browsers, as API Gateway sees and meters them: HTTP API requests and WebSocket frames,
//! each counted with the Lambda invocation it causes, per phase of the call.

use super::messages::BYE;
use super::meter::{Meter, Phase};
use super::stand_in::WAIT;
use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// API Gateway meters WebSocket messages in 32 KB increments, HTTP API requests in 512 KB ones.
const WS_INCREMENT: usize = 32 * 1024;
const HTTP_INCREMENT: usize = 512 * 1024;

/// What the clients did through API Gateway in one phase.
#[derive(Debug, Default, Clone)]
pub struct Traffic {
    /// Lambda invocations by function (HTTP routes and WebSocket route keys).
    pub invocations: BTreeMap<&'static str, u64>,
    /// HTTP API requests.
    pub http_requests: u64,
    /// HTTP API requests as metered (512 KB increments).
    pub http_metered: u64,
    /// WebSocket frames from the clients.
    pub frames_sent: u64,
    /// WebSocket frames to the clients (PostToConnection).
    pub frames_received: u64,
    /// WebSocket messages as metered (32 KB increments), both directions.
    pub ws_metered: u64,
}

impl Traffic {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Traffic) {
        for (k, v) in &other.invocations {
            *self.invocations.entry(k).or_default() += v;
        }
        self.http_requests += other.http_requests;
        self.http_metered += other.http_metered;
        self.frames_sent += other.frames_sent;
        self.frames_received += other.frames_received;
        self.ws_metered += other.ws_metered;
    }

    /// Lambda invocations of every function together.
    pub fn lambda_invocations(&self) -> u64 {
        self.invocations.values().sum()
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One browser's socket.
#[derive(Debug)]
pub struct Side {
    ws: Socket,
    /// When it opened.
    pub opened: Instant,
    /// When it closed, once it did.
    pub closed: Option<Instant>,
}

/// Both browsers' requests and sockets, and what they cost in each phase.
#[derive(Debug)]
pub struct Driver {
    base: String,
    ws_url: String,
    client: Client<HttpConnector, Full<Bytes>>,
    meter: Arc<Meter>,
    phase: Phase,
    /// Per phase.
    pub traffic: [Traffic; 3],
}

fn metered(bytes: usize, increment: usize) -> u64 {
    bytes.div_ceil(increment).max(1) as u64
}

impl Driver {
    /// Clients of the stand-in at `addr`, over its `meter`, in the set-up phase.
    pub fn new(addr: SocketAddr, meter: Arc<Meter>) -> Self {
        Self {
            base: format!("http://{addr}"),
            ws_url: format!("ws://{addr}/ws"),
            client: crate::http_client(),
            meter,
            phase: Phase::Setup,
            traffic: Default::default(),
        }
    }

    fn traffic(&mut self) -> &mut Traffic {
        &mut self.traffic[self.phase as usize]
    }

    /// Counts what follows as part of `phase`, here and in the meter.
    pub fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.meter.set_phase(phase);
    }

    /// One HTTP request through the HTTP API, handled by `function`.
    async fn http(
        &mut self,
        method: &str,
        path: &str,
        body: String,
        function: &'static str,
    ) -> Result<(u16, String)> {
        let sent = body.len();
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("user-agent", "apprtc-bench")
            .body(Full::new(Bytes::from(body)))?;
        let res = tokio::time::timeout(WAIT, self.client.request(req))
            .await
            .with_context(|| format!("{method} {path}: timeout"))??;
        let status = res.status().as_u16();
        let got = res.into_body().collect().await?.to_bytes();
        let t = self.traffic();
        t.http_requests += 1;
        t.http_metered += metered(sent.max(got.len()), HTTP_INCREMENT);
        *t.invocations.entry(function).or_default() += 1;
        ensure!(
            status < 400,
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&got)
        );
        Ok((status, String::from_utf8_lossy(&got).into_owned()))
    }

    /// What the browser fetches when the room page opens: the page, its style sheet and script
    /// (first visit: they are cached for 5 minutes after), the ICE servers.
    pub async fn open_page(&mut self, room: &str) -> Result<()> {
        self.http("GET", &format!("/r/{room}"), String::new(), "web")
            .await?;
        // The stand-in serves these itself; deployed, `GET /static/{file}` is the web function.
        for file in ["app.css", "app.js"] {
            self.http("GET", &format!("/static/{file}"), String::new(), "web")
                .await?;
        }
        self.http(
            "POST",
            "/v1alpha/iceconfig?key=",
            String::new(),
            "iceconfig",
        )
        .await?;
        Ok(())
    }

    /// Joins `room`: the join answer.
    pub async fn join(&mut self, room: &str) -> Result<serde_json::Value> {
        let (_, body) = self
            .http("POST", &format!("/join/{room}"), String::new(), "join")
            .await?;
        let v: serde_json::Value = serde_json::from_str(&body)?;
        ensure!(v["result"] == "SUCCESS", "join: {v}");
        Ok(v)
    }

    /// A message posted to `/message` for `client` in `room`.
    pub async fn message(&mut self, room: &str, client: &str, msg: &str) -> Result<()> {
        let (_, body) = self
            .http(
                "POST",
                &format!("/message/{room}/{client}"),
                msg.to_owned(),
                "message",
            )
            .await?;
        ensure!(body.contains("SUCCESS"), "message: {body}");
        Ok(())
    }

    /// Opens a socket.
    pub async fn connect(&mut self) -> Result<Side> {
        let mut req = self.ws_url.as_str().into_client_request()?;
        req.headers_mut().insert("origin", self.base.parse()?);
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
            .await
            .context("connect timeout")??;
        Ok(Side {
            ws,
            opened: Instant::now(),
            closed: None,
        })
    }

    /// A frame from the client: one message, one invocation of the relay for its route key.
    async fn send(&mut self, side: &mut Side, frame: serde_json::Value) -> Result<()> {
        let text = frame.to_string();
        let route = match frame["cmd"].as_str() {
            Some("register") => "relay: register",
            Some("send") => "relay: send",
            _ => "relay: $default",
        };
        let t = self.traffic();
        t.frames_sent += 1;
        t.ws_metered += metered(text.len(), WS_INCREMENT);
        *t.invocations.entry(route).or_default() += 1;
        side.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// Registers the socket as `client` in `room`.
    pub async fn register(&mut self, side: &mut Side, room: &str, client: &str) -> Result<()> {
        self.send(
            side,
            serde_json::json!({"cmd": "register", "roomid": room, "clientid": client}),
        )
        .await
    }

    /// A signaling message sent over the socket.
    pub async fn send_msg(&mut self, side: &mut Side, msg: &str) -> Result<()> {
        self.send(side, serde_json::json!({"cmd": "send", "msg": msg}))
            .await
    }

    /// The next frame API Gateway posts to this client (one message).
    pub async fn recv(&mut self, side: &mut Side) -> Result<serde_json::Value> {
        loop {
            let next = tokio::time::timeout(WAIT, side.ws.next())
                .await
                .context("timed out waiting for a frame")?;
            match next {
                Some(Ok(Message::Text(t))) => {
                    let tr = self.traffic();
                    tr.frames_received += 1;
                    tr.ws_metered += metered(t.len(), WS_INCREMENT);
                    return Ok(serde_json::from_str(t.as_str())?);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => bail!("socket ended: {other:?}"),
            }
        }
    }

    /// The next `n` signaling messages (no error frame among them).
    pub async fn recv_msgs(&mut self, side: &mut Side, n: usize) -> Result<Vec<String>> {
        let mut got = Vec::new();
        while got.len() < n {
            let v = self.recv(side).await?;
            ensure!(v["error"] == "", "error frame: {v}");
            got.push(v["msg"].as_str().context("msg")?.to_owned());
        }
        Ok(got)
    }

    /// What the page does first when it hangs up: `/leave`, then `bye` over its socket.
    pub async fn leave(&mut self, side: &mut Side, room: &str, client: &str) -> Result<()> {
        self.http(
            "POST",
            &format!("/leave/{room}/{client}"),
            String::new(),
            "leave",
        )
        .await?;
        self.send_msg(side, BYE).await
    }

    /// What the page does last: closes the socket (API Gateway then invokes the relay with
    /// `$disconnect`) and sends the collider DELETE.
    pub async fn close(&mut self, side: &mut Side, room: &str, client: &str) -> Result<()> {
        side.ws.close(None).await?;
        side.closed = Some(Instant::now());
        *self
            .traffic()
            .invocations
            .entry("relay: $disconnect")
            .or_default() += 1;
        // Drain to the server's close frame.
        let _ = tokio::time::timeout(WAIT, async { while side.ws.next().await.is_some() {} }).await;
        self.http(
            "DELETE",
            &format!("/relay/{room}/{client}"),
            String::new(),
            "collider",
        )
        .await?;
        Ok(())
    }

    /// Waits until no store call happened for a while: every invocation the last step caused
    /// has finished.
    pub async fn settle(&self) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        let mut last = self.meter.calls();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.meter.calls();
            if now == last {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "the store never went quiet");
            last = now;
        }
    }
}
