//! Test harness: a real `apprtc-local` on 127.0.0.1:0, an HTTP client and WebSocket clients over
//! real sockets. Every wait is bounded by a timeout; nothing sleeps and then asserts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod coturn;
pub mod process;

/// A directory of its own under the system's temporary directory, removed with everything in it
/// (keys included) when dropped: when its test ends, passing or failing.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A new, empty directory named after `prefix`, the process and a counter.
    pub fn new(prefix: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        // A leftover of an earlier process with the same id goes first.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

use apprtc_local::cli::Config;
use apprtc_local::server::{Listeners, Server};
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use room::testing::MovableClock;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest any single expected event may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// The default reconnect grace, which tests move the server's clock past.
pub const GRACE: Duration = Duration::from_secs(10);

/// The default register deadline, which tests move the server's clock past.
pub const REGISTER_DEADLINE: Duration = Duration::from_secs(60);

/// Whether the suite runs against the AWS path (`APPRTC_TEST_BACKEND=aws-local`): servers then
/// start with `--backend aws-local` and parallel, jittered invocations, so one suite holds both
/// hosts of the relay to the same cases.
pub fn on_aws_path() -> bool {
    std::env::var("APPRTC_TEST_BACKEND").is_ok_and(|b| b == "aws-local")
}

/// Skips the calling test on the AWS path, saying why (a case about the in-process host's
/// transport, which API Gateway replaces). Returns whether it skipped.
pub fn skip_on_aws_path(why: &str) -> bool {
    if on_aws_path() {
        eprintln!("skipped on the AWS path: {why}");
    }
    on_aws_path()
}

/// The tests' HTTP client. It drops a pooled connection after 5 s idle, before the server's
/// 10 s header timeout closes it: a request sent on a connection as the server closes it fails
/// (`IncompleteMessage`), which a test that waits long between two requests would otherwise meet.
fn http_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .build_http()
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub ws_url: String,
    /// With `APPRTC_TEST_RELAY_PORT=1`: the compatibility relay listener's base URL. Sockets then
    /// go there, and requests to `/relay/...` go there as `/...` (the original collider's paths),
    /// so the relay suite runs against that listener unchanged.
    pub relay_base: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    client: Client<HttpConnector, Full<Bytes>>,
    /// The in-process server's clock: the system clock, which [`TestServer::advance`] moves
    /// forward.
    clock: Option<Arc<MovableClock>>,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra command-line flags (parsed exactly like the binary's).
    pub async fn start_with(flags: &[&str]) -> Self {
        Self::start_on(flags, std::env::var_os("APPRTC_TEST_RELAY_PORT").is_some()).await
    }

    /// Like [`Self::start_with`], with the compatibility relay listener too (whatever
    /// `APPRTC_TEST_RELAY_PORT` says): sockets go there.
    pub async fn start_with_relay_port(flags: &[&str]) -> Self {
        Self::start_on(flags, true).await
    }

    async fn start_on(flags: &[&str], relay_port: bool) -> Self {
        let mut args = vec!["apprtc-local", "--listen", "127.0.0.1:0"];
        if on_aws_path() && !flags.contains(&"--backend") {
            // Every frame its own invocation, in parallel on three instances, arriving up to
            // 10 ms late: the AWS path as API Gateway and Lambda run it.
            args.extend(["--backend", "aws-local", "--apigw-jitter", "10ms"]);
        }
        args.extend_from_slice(flags);
        let config = Config::try_parse_from(args).expect("flags");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let clock = Arc::new(MovableClock::default());
        let server = Server::from_config_on(&config, clock.clone())
            .await
            .expect("server");
        let compat = if relay_port {
            Some(
                tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind relay"),
            )
        } else {
            None
        };
        let listeners = Listeners {
            main: listener,
            collider: compat,
            tls: None,
        };
        let mut s = Self::serving(server, listeners);
        s.clock = Some(clock);
        s
    }

    /// Serves plain-HTTP `listeners` with `server`, built by the test (with a store of its own,
    /// say). Its clock cannot be moved.
    pub fn serving(server: Server, listeners: Listeners) -> Self {
        let addr = listeners.main.local_addr().expect("addr");
        let relay_addr = listeners
            .collider
            .as_ref()
            .map(|l| l.local_addr().expect("addr"));
        let (stop, task) = serve(server, listeners);
        Self {
            addr,
            base: format!("http://{addr}"),
            ws_url: format!("ws://{}/ws", relay_addr.unwrap_or(addr)),
            relay_base: relay_addr.map(|a| format!("http://{a}")),
            stop: Some(stop),
            task: Some(task),
            client: http_client(),
            clock: None,
        }
    }

    /// Moves the server's clock forward by `by`: what a grace or a deadline would see once that
    /// much time had passed, without waiting for it.
    pub fn advance(&self, by: Duration) {
        self.clock
            .as_ref()
            .expect("only an in-process server's clock can be moved")
            .advance(by);
    }

    /// A handle on an `apprtc-local` running in another process at `addr` (plain HTTP, no
    /// compatibility listener); [`TestServer::shutdown`] does not apply to it.
    pub fn attach(addr: SocketAddr) -> Self {
        Self {
            addr,
            base: format!("http://{addr}"),
            ws_url: format!("ws://{addr}/ws"),
            relay_base: None,
            stop: None,
            task: None,
            client: http_client(),
            clock: None,
        }
    }

    /// Sends a request and reads the whole answer. Adds `User-Agent: apprtc-test` (real clients
    /// send one); `headers` may add more or override `Host`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send(method, path, body.into(), headers, Some("apprtc-test"))
            .await
    }

    /// A request with an empty body and no headers at all, not even `User-Agent`.
    pub async fn request_without_user_agent(&self, method: &str, path: &str) -> Reply {
        self.send(method, path, Bytes::new(), &[], None).await
    }

    /// Sends a request to an absolute URL (another listener of the same process).
    pub async fn request_url(&self, method: &str, url: &str, body: impl Into<Bytes>) -> Reply {
        self.send(method, url, body.into(), &[], Some("apprtc-test"))
            .await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
        user_agent: Option<&str>,
    ) -> Reply {
        // An absolute URL goes elsewhere (another listener); a path goes to this server.
        let url = match (&self.relay_base, path.strip_prefix("/relay")) {
            _ if path.starts_with("http") => path.to_owned(),
            (Some(relay), Some(rest)) if rest.is_empty() || rest.starts_with('/') => {
                format!("{relay}{rest}")
            }
            _ => format!("{}{path}", self.base),
        };
        let mut req = http::Request::builder().method(method).uri(url);
        if let Some(ua) = user_agent {
            req = req.header("user-agent", ua);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).expect("request");
        let res = tokio::time::timeout(WAIT, self.client.request(req))
            .await
            .expect("timeout")
            .expect("http");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn post(&self, path: &str, body: impl Into<Bytes>) -> Reply {
        self.request("POST", path, body, &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, Bytes::new(), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, Bytes::new(), &[]).await
    }

    /// `POST /join/<room>`; returns the parsed answer.
    pub async fn join(&self, room: &str) -> Value {
        let r = self.post(&format!("/join/{room}"), Bytes::new()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Joins `room` once `wait` (a reconnect grace or a register deadline) has run out for a
    /// client that went away, moving the clock rather than waiting: half-way through the place
    /// is still held, and one step past its end the room admits the newcomer. On the AWS path a
    /// close reaches the relay as a `$disconnect` up to the stand-in's jitter later, possibly
    /// after a step, so there the clock steps again until the place frees up.
    pub async fn join_after(&self, room: &str, wait: Duration) -> Value {
        self.advance(wait / 2);
        let v = self.join(room).await;
        assert_eq!(v["result"], "FULL", "freed before {wait:?} had passed: {v}");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            self.advance(wait / 2 + Duration::from_millis(1));
            let v = self.join(room).await;
            match v["result"].as_str() {
                Some("SUCCESS") => return v,
                Some("FULL") => {}
                _ => panic!("unexpected join answer {v}"),
            }
            assert!(
                on_aws_path(),
                "{room} was still full once {wait:?} had passed"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "{room} never had a free place"
            );
            tokio::task::yield_now().await;
        }
    }

    /// Joins and returns the client id (asserting SUCCESS).
    pub async fn join_id(&self, room: &str) -> String {
        let v = self.join(room).await;
        assert_eq!(v["result"], "SUCCESS", "{v}");
        v["params"]["client_id"]
            .as_str()
            .expect("client_id")
            .to_owned()
    }

    /// Two clients join `room`, both admitted: the first's id, then the second's.
    pub async fn join_two(&self, room: &str) -> (String, String) {
        let a = self.join_id(room).await;
        let b = self.join_id(room).await;
        (a, b)
    }

    /// `POST /message/<room>/<client>`; returns the parsed answer.
    pub async fn message(&self, room: &str, client: &str, body: &str) -> Value {
        self.post(&format!("/message/{room}/{client}"), body.to_owned())
            .await
            .json()
    }

    pub async fn leave(&self, room: &str, client: &str) -> Reply {
        self.post(&format!("/leave/{room}/{client}"), Bytes::new())
            .await
    }

    /// Opens a WebSocket to `/ws` (with an Origin header, like browsers).
    pub async fn ws(&self) -> Ws {
        let mut req = self
            .ws_url
            .as_str()
            .into_client_request()
            .expect("ws request");
        req.headers_mut()
            .insert("origin", self.base.parse().expect("origin"));
        Ws::connect(req).await
    }

    /// A `/ws` upgrade request with the given `Origin` header, or none.
    pub fn ws_request(&self, origin: Option<&str>) -> http::Request<()> {
        let mut req = self
            .ws_url
            .as_str()
            .into_client_request()
            .expect("ws request");
        if let Some(origin) = origin {
            req.headers_mut()
                .insert("origin", origin.parse().expect("origin"));
        }
        req
    }

    /// Opens a WebSocket and registers it.
    pub async fn ws_registered(&self, room: &str, client: &str) -> Ws {
        let mut ws = self.ws().await;
        ws.register(room, client).await;
        ws
    }

    /// Two clients join `room` and each registers a socket, in that order: the two sides of a
    /// call. Returns the first's and the second's ids, then their sockets.
    pub async fn two_registered(&self, room: &str) -> (String, String, Ws, Ws) {
        let (a, b) = self.join_two(room).await;
        let wa = self.ws_registered(room, &a).await;
        let wb = self.ws_registered(room, &b).await;
        (a, b, wa, wb)
    }

    /// `GET /status` as JSON.
    pub async fn status(&self) -> Value {
        self.get("/status").await.json()
    }

    /// Waits until `/status` satisfies `pred`.
    pub async fn wait_status(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = self.status().await;
            if pred(&s) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "status never matched: {s}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server (like SIGTERM) and waits for it to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("task");
        tokio::time::timeout(WAIT, task)
            .await
            .expect("shutdown timeout")
            .expect("join")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Runs `server` on `listeners` in a task of its own until the returned sender sends or is dropped
/// (a graceful stop, as on SIGTERM); the task ends with what the server returned.
pub fn serve(
    server: Server,
    listeners: Listeners,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listeners, async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// A WebSocket client.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(req: http::Request<()>) -> Self {
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
            .await
            .expect("ws connect timeout")
            .expect("ws connect");
        Self { stream }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("ws send");
    }

    pub async fn send_json(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn register(&mut self, room: &str, client: &str) {
        self.send_json(serde_json::json!({"cmd": "register", "roomid": room, "clientid": client}))
            .await;
    }

    pub async fn send_msg(&mut self, msg: &str) {
        self.send_json(serde_json::json!({"cmd": "send", "msg": msg}))
            .await;
    }

    /// Sends `msg` and asserts it is the next message `peer` receives.
    pub async fn send_msg_to(&mut self, peer: &mut Ws, msg: &str) {
        self.send_msg(msg).await;
        assert_eq!(peer.recv_msg().await, msg);
    }

    /// The next text frame as JSON, asserting it has exactly `msg` and `error`, both strings.
    /// Pings are skipped.
    pub async fn recv(&mut self) -> Value {
        self.recv_within(WAIT)
            .await
            .expect("expected a frame, socket ended")
    }

    /// The next text frame within `d`, or `None` if the socket closed. Panics on timeout.
    pub async fn recv_within(&mut self, d: Duration) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(d, self.stream.next())
                .await
                .expect("timed out waiting for a frame");
            match next {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("frame is JSON");
                    let obj = v.as_object().expect("frame is an object");
                    assert_eq!(obj.len(), 2, "frame has exactly msg and error: {v}");
                    assert!(obj["msg"].is_string() && obj["error"].is_string(), "{v}");
                    return Some(v);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next frame's `msg`, asserting an empty `error`.
    pub async fn recv_msg(&mut self) -> String {
        let v = self.recv().await;
        assert_eq!(v["error"], "", "{v}");
        v["msg"].as_str().expect("msg").to_owned()
    }

    /// The next `expected.len()` messages, asserting they are `expected`, each exactly once (none
    /// missing, none twice): in that order on the in-process host; in any order on the AWS path,
    /// where frames a client sends back to back are separate invocations that API Gateway does
    /// not order, so the relay keeps each sender's order only as the invocations ran.
    pub async fn recv_burst(&mut self, expected: &[String]) {
        let mut got = Vec::with_capacity(expected.len());
        for _ in expected {
            got.push(self.recv_msg().await);
        }
        let mut want = expected.to_vec();
        if on_aws_path() {
            got.sort();
            want.sort();
        }
        assert_eq!(got, want);
    }

    /// Asserts nothing more from `sender` is on its way here (no duplicate of what it sent): a
    /// marker `sender` sends now must be the next frame. The relay keeps each sender's order, so
    /// a frame still queued or being delivered would come first; unlike a probe, this holds on
    /// the AWS path too, where the probe's answer is an invocation of its own.
    pub async fn expect_nothing_more_from(&mut self, sender: &mut Ws) {
        let marker = r#"{"type":"candidate","label":0,"id":"marker","candidate":"candidate:0 1 udp 1 127.0.0.1 7 typ host"}"#;
        sender.send_msg(marker).await;
        assert_eq!(
            self.recv_msg().await,
            marker,
            "a frame was still on its way"
        );
    }

    /// The next frame's `error`, asserting it is not empty.
    pub async fn recv_error(&mut self) -> String {
        let v = self.recv().await;
        let e = v["error"].as_str().expect("error").to_owned();
        assert!(!e.is_empty(), "expected an error frame: {v}");
        e
    }

    /// Asserts the server closes the socket (close frame or end of stream) without more frames.
    pub async fn expect_closed(&mut self) {
        assert_eq!(
            self.recv_within(WAIT).await,
            None,
            "socket should have been closed"
        );
    }

    /// Asserts no text frame arrives before the server answers a ping round trip: sends a probe
    /// `ping` command (answered by an error frame that stays open) and expects it to be first.
    pub async fn expect_nothing_pending(&mut self) {
        self.send_json(serde_json::json!({"cmd": "probe"})).await;
        let v = self.recv().await;
        assert_eq!(
            v["error"], "Invalid message: unexpected 'cmd'",
            "a frame was pending: {v}"
        );
    }

    /// Waits for the server's close frame and returns its code and reason; panics if a text
    /// frame or the end of the stream comes first.
    pub async fn expect_close_frame(&mut self) -> (u16, String) {
        loop {
            let next = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("timed out waiting for a close frame");
            match next {
                Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
        // Drain until the server's close arrives so that the server has seen it.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.stream.next()).await {}
    }
}

/// Asserts the call in `room` works both ways: the joiner's answer over its socket `wb` reaches
/// the initiator's socket `wa`, and a candidate the initiator `a` posts to the room reaches `wb`.
pub async fn assert_call_works(s: &TestServer, room: &str, a: &str, wa: &mut Ws, wb: &mut Ws) {
    wb.send_msg_to(wa, &answer()).await;
    assert_eq!(s.message(room, a, &candidate(1)).await["result"], "SUCCESS");
    assert_eq!(wb.recv_msg().await, candidate(1));
}

/// Signaling messages as clients send them.
pub fn offer() -> String {
    r#"{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}"#.to_owned()
}

pub fn candidate(n: u32) -> String {
    format!(
        r#"{{"type":"candidate","label":0,"id":"0","candidate":"candidate:{n} 1 udp 2122260223 192.168.1.2 5000{n} typ host"}}"#
    )
}

pub fn answer() -> String {
    r#"{"type":"answer","sdp":"v=0\r\n"}"#.to_owned()
}

pub const BYE: &str = r#"{"type":"bye"}"#;

/// A room name no other test or run uses.
pub fn room(tag: &str) -> String {
    format!(
        "{tag}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A new table of the test's own on DynamoDB Local, when `AWS_ENDPOINT_URL_DYNAMODB` is set:
/// for a test whose keep-alive sweep posts to every registered connection of its table, which
/// would take other tests' sockets (each stand-in knows only its own connections, where one API
/// Gateway knows all of them) if they shared it. Created by `infra/dynamodb/create-table.py`, the
/// one place of the table's schema, with the Python of `target/venv` when there is one.
pub fn own_table(tag: &str) -> Option<String> {
    std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB")?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join("target/venv/bin/python3");
    let python = if venv.exists() {
        venv
    } else {
        "python3".into()
    };
    let name = room(tag);
    run_ok(
        std::process::Command::new(python)
            .arg(root.join("infra/dynamodb/create-table.py"))
            .arg(&name),
        &format!("create-table.py {name}"),
    );
    Some(name)
}

/// Runs a tool the tests need (`what` names it in failures), asserting it succeeds; its standard
/// output.
pub fn run_ok(command: &mut std::process::Command, what: &str) -> Vec<u8> {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A server on the AWS path with `extra` flags, on DynamoDB when `AWS_ENDPOINT_URL_DYNAMODB` is
/// set (the test command runs these suites that way too).
pub async fn aws_server_with(extra: &[&str]) -> TestServer {
    let mut flags = vec!["--backend", "aws-local"];
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some() {
        flags.extend(["--store", "dynamodb"]);
    }
    flags.extend_from_slice(extra);
    TestServer::start_with(&flags).await
}
