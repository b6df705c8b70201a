//! The compatibility listener (`--relay-port`, default 8089) serves the relay where the original
//! collider was: `/ws`, `POST|DELETE /<room>/<client>`, `/status`, so `?wshpp=IP:8089` links and
//! Android clients configured the old way keep working.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use apprtc_local::cli::Config;
use apprtc_local::server::{Listeners, Server};
use clap::Parser;
use common::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Pair {
    rooms: TestServer,
    relay_base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A server with both listeners; `rooms` talks to the main one (its own server is unused).
async fn start() -> Pair {
    let config = Config::try_parse_from(["apprtc-local", "--no-tls"]).unwrap();
    let server = Server::from_config(&config).await.unwrap();
    let main = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (main_addr, relay_addr) = (main.local_addr().unwrap(), relay.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(
        Listeners {
            main,
            relay: Some(relay),
            tls: None,
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let mut rooms = TestServer::start().await;
    rooms.base = format!("http://{main_addr}");
    rooms.ws_url = format!("ws://{relay_addr}/ws");
    Pair {
        rooms,
        relay_base: format!("http://{relay_addr}"),
        stop: Some(stop),
    }
}

#[tokio::test]
async fn the_old_collider_port_relays_posts_deletes_and_reports_status() {
    let p = start().await;
    let s = &p.rooms;
    // Sockets on the compatibility port (ws_url points there).
    let (a, _, mut wa, mut wb) = s.two_registered("c1").await;
    wb.send_msg_to(&mut wa, &answer()).await;
    // Collider HTTP at /<room>/<client> on that port.
    let post = s
        .request_url("POST", &format!("{}/c1/{a}", p.relay_base), offer())
        .await;
    assert_eq!((post.status, post.body.as_str()), (200, "OK\n"));
    assert_eq!(wb.recv_msg().await, offer());
    let bad = s
        .request_url("POST", &format!("{}/c1", p.relay_base), offer())
        .await;
    assert_eq!(bad.status, 500);
    assert!(bad.body.starts_with("Invalid path:"));
    let status = s
        .request_url("GET", &format!("{}/status", p.relay_base), "")
        .await
        .json();
    assert_eq!(status["openws"], 2);
    let del = s
        .request_url("DELETE", &format!("{}/c1/{a}", p.relay_base), "")
        .await;
    assert_eq!((del.status, del.body.as_str()), (200, "OK\n"));
    wa.expect_closed().await;
    // The main port does not serve the old paths (no clash with /join/<room>).
    let req = format!("{}/ws", s.base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    let mut main_ws = Ws::connect(req).await;
    main_ws.send_json(serde_json::json!({"cmd": "probe"})).await;
    assert_eq!(
        main_ws.recv_error().await,
        "Invalid message: unexpected 'cmd'"
    );
}
