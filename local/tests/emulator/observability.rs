//! Metrics, readiness, logs and the health-check mode, over real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use apprtc_local::app::ServerOptions;
use apprtc_local::server::{Listeners, Server};
use common::{TestServer, WAIT, answer, offer};
use room::Settings;
use room::adapters::memory::MemoryRoomStore;
use room::ports::{Hooked, StoreCall, StoreError, StoreFuture, StoreHook};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;

/// The value of the series `name` whose labels include every `labels` pair.
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            let (metric, rest) = key.split_once('{').unwrap_or((key, ""));
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok())?
        })
}

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    series(text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{text}"))
}

#[tokio::test]
async fn a_call_through_the_relay_shows_in_the_metrics() {
    let s = TestServer::start().await;
    let room = "metrics-call";
    let (a, b) = s.join_two(room).await;
    let third = s.join(room).await;
    assert_eq!(third["result"], "FULL");
    let mut wa = s.ws_registered(room, &a).await;
    let mut wb = s.ws_registered(room, &b).await;
    wa.send_msg_to(&mut wb, &offer()).await;
    wb.send_msg_to(&mut wa, &answer()).await;
    assert_eq!(s.leave(room, &a).await.status, 200);
    assert_eq!(s.leave(room, &b).await.status, 200);

    let m = s.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    let text = &m.body;
    assert_eq!(
        value(text, "apprtc_joins_total", &[("result", "SUCCESS")]),
        2.0
    );
    assert_eq!(
        value(text, "apprtc_joins_total", &[("result", "FULL")]),
        1.0
    );
    assert_eq!(value(text, "apprtc_messages_queued_total", &[]), 2.0);
    assert_eq!(value(text, "apprtc_messages_relayed_total", &[]), 2.0);
    assert_eq!(value(text, "apprtc_sockets_open", &[]), 2.0);
    assert!(value(text, "apprtc_rooms_open", &[]) <= 1.0);
    for op in ["load", "swap"] {
        let calls = value(
            text,
            "apprtc_store_call_duration_seconds_count",
            &[("operation", op)],
        );
        assert!(calls >= 2.0, "{op}: {calls}");
    }
    assert!(
        text.contains("apprtc_store_call_duration_seconds_bucket{operation=\"load\",le=\"0.001\"}")
    );
    let joins = [
        ("route", "/join/{room}"),
        ("method", "POST"),
        ("status", "2xx"),
    ];
    assert_eq!(
        value(text, "apprtc_http_request_duration_seconds_count", &joins),
        3.0
    );
    assert!(value(text, "apprtc_http_request_duration_seconds_sum", &joins) > 0.0);

    // A refused frame: dropped, with its reason, and counted as an error.
    wa.send_text(r#"{"cmd":"send","msg":"not json"}"#).await;
    wa.recv_error().await;
    let text = s.get("/metrics").await.body;
    assert_eq!(
        value(
            text.as_str(),
            "apprtc_messages_dropped_total",
            &[("reason", "invalid")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "apprtc_errors_total",
            &[("kind", "relay_error_frame")]
        ),
        1.0
    );
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_servers_in_one_process_count_apart() {
    let one = TestServer::start().await;
    let two = TestServer::start().await;
    one.join_id("apart").await;
    let text = two.get("/metrics").await.body;
    assert_eq!(
        series(&text, "apprtc_joins_total", &[("result", "SUCCESS")]),
        None
    );
    let text = one.get("/metrics").await.body;
    assert_eq!(
        value(&text, "apprtc_joins_total", &[("result", "SUCCESS")]),
        1.0
    );
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}

#[tokio::test]
async fn ready_with_the_memory_store() {
    let s = TestServer::start().await;
    let r = s.get("/readyz").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ready\n"));
    assert_eq!(s.get("/healthz").await.status, 200);
    let text = s.get("/metrics").await.body;
    assert!(
        series(
            &text,
            "apprtc_store_call_duration_seconds_count",
            &[("operation", "load")]
        )
        .is_some()
    );
    s.shutdown().await.unwrap();
}

/// A store whose backend is down: every call fails without reaching it.
#[derive(Debug)]
struct Down;

impl StoreHook for Down {
    async fn around<'a, T: Send + 'a>(
        &'a self,
        _: StoreCall<'a>,
        _: StoreFuture<'a, T>,
    ) -> Result<T, StoreError> {
        Err(StoreError::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn not_ready_when_the_store_fails_and_the_failure_is_counted() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::with_store(
        Settings::default(),
        Default::default(),
        ServerOptions::default(),
        Arc::new(Hooked::new(Arc::new(MemoryRoomStore::new()), Down)),
    );
    let s = TestServer::serving(server, Listeners::plain(listener));
    let r = s.get("/readyz").await;
    assert_eq!(r.status, 503);
    assert!(
        r.body.starts_with("not ready: room store unavailable"),
        "{}",
        r.body
    );
    assert!(r.body.contains("connection refused"), "{}", r.body);
    assert_eq!(
        s.get("/healthz").await.status,
        200,
        "liveness is not readiness"
    );
    let join = s.post("/join/down", "").await;
    assert_eq!(join.status, 503);
    let text = s.get("/metrics").await.body;
    assert_eq!(
        value(&text, "apprtc_joins_total", &[("result", "ERROR")]),
        1.0
    );
    assert!(
        value(
            &text,
            "apprtc_errors_total",
            &[("kind", "store_unavailable")]
        ) >= 2.0
    );
    assert!(value(&text, "apprtc_errors_total", &[("kind", "http_5xx")]) >= 2.0);
    s.shutdown().await.unwrap();
}

/// A spawned `apprtc-local` whose standard output arrives line by line.
struct Spawned {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Spawned {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apprtc-local"))
            .args(["--listen", "127.0.0.1:0", "--no-relay-port"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn apprtc-local");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("no output from apprtc-local")
    }

    /// The address from the "listening on" line.
    fn addr(&self) -> SocketAddr {
        loop {
            let line = self.line();
            if let Some(i) = line.find("listening on ") {
                let url = line[i + "listening on ".len()..].split('"').next().unwrap();
                let hostport = url.split("://").nth(1).unwrap().trim_end_matches('/');
                return hostport.parse().unwrap();
            }
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn healthcheck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apprtc-local"))
        .arg("--healthcheck")
        .args(args)
        .output()
        .expect("run apprtc-local --healthcheck")
}

#[test]
fn healthcheck_mode_exits_zero_on_a_ready_server_and_one_otherwise() {
    let state = common::TempDir::new("apprtc-healthcheck");
    // Over TLS with the generated certificate, as in the container.
    let server = Spawned::start(&["--state-dir", state.to_str().unwrap()], &[]);
    let addr = server.addr();
    let out = healthcheck(&["--listen", &addr.to_string()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ready");
    // Listening on every interface: the probe goes to the loopback address.
    let out = healthcheck(&["--listen", &format!("0.0.0.0:{}", addr.port())]);
    assert!(out.status.success(), "{out:?}");
    drop(server);
    drop(state);

    let plain = Spawned::start(&["--no-tls"], &[]);
    let addr = plain.addr();
    let out = healthcheck(&["--listen", &addr.to_string(), "--no-tls"]);
    assert!(out.status.success(), "{out:?}");
    drop(plain);
    // Nobody listens there any more.
    let out = healthcheck(&["--listen", &addr.to_string(), "--no-tls"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not ready"));
}

#[tokio::test]
async fn json_logs_are_one_parseable_object_per_line_with_a_line_per_request() {
    let server = Spawned::start(
        &["--no-tls", "--log-format", "json"],
        &[("RUST_LOG", "apprtc_local=debug,room=debug")],
    );
    let addr = server.addr();
    let s = TestServer::attach(addr);
    assert_eq!(s.get("/healthz?secret=1").await.status, 200);
    let mut logged = Vec::new();
    let request = loop {
        let line = server.line();
        assert!(!line.contains('\u{1b}'), "escape code in {line:?}");
        if !line.starts_with('{') {
            continue; // the start-up banner
        }
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        logged.push(line);
        if v["fields"]["message"] == "request" && v["fields"]["path"] == "/healthz" {
            break v;
        }
    };
    assert_eq!(request["level"], "DEBUG");
    assert_eq!(request["fields"]["method"], "GET");
    assert_eq!(request["fields"]["status"], 200);
    assert!(request["fields"]["duration_ms"].as_f64().is_some());
    assert!(!logged.iter().any(|l| l.contains("secret")), "query logged");
}

#[test]
fn the_json_subscriber_writes_no_escape_codes_even_when_asked_for_colour() {
    use apprtc_local::ops::logging::{LogFormat, subscriber};
    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let sub = subscriber(
        LogFormat::Json,
        tracing_subscriber::EnvFilter::new("debug"),
        true,
        move || out.clone(),
    );
    tracing::subscriber::with_default(sub, || {
        tracing::info!(room = "r1", "joined");
        tracing::warn!(error = "x", "not ready");
    });
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains('\u{1b}'));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["fields"]["room"], "r1");
    assert_eq!(lines[1]["level"], "WARN");
}
