//! A real coturn for tests (Debian package `coturn`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::WAIT;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The shared secret the test coturn checks credentials with.
pub const SECRET: &str = "test-secret-7f3a";

/// A coturn on 127.0.0.1 with `use-auth-secret`, stopped on drop.
pub struct Coturn {
    child: Child,
    /// Its UDP and TCP port.
    pub port: u16,
    /// Where its pid file goes; removed after the process stopped (fields drop after `drop`).
    dir: super::TempDir,
}

impl Coturn {
    /// Its TURN URLs over UDP and TCP, as `--turn-urls` takes them.
    pub fn urls(&self) -> String {
        format!(
            "turn:127.0.0.1:{0}?transport=udp,turn:127.0.0.1:{0}?transport=tcp",
            self.port
        )
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `turnserver` is installed (a missing one fails when `APPRTC_REQUIRE_COTURN` is set).
pub fn coturn_available() -> bool {
    let found = Command::new("turnserver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("APPRTC_REQUIRE_COTURN").is_none(),
            "APPRTC_REQUIRE_COTURN is set but turnserver is missing"
        );
        eprintln!("skipped: turnserver (Debian package coturn) not installed");
    }
    found
}

/// A free port for both UDP and TCP on 127.0.0.1 (the OS picks; coturn binds it right after).
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Starts coturn and waits until it accepts connections.
pub async fn start_coturn() -> Coturn {
    let port = free_port();
    let relay_min = free_port().clamp(20_000, 60_000);
    // coturn writes a pid file (by default /var/run or /var/tmp): into a directory of the test's.
    let dir = super::TempDir::new("apprtc-coturn");
    let child = Command::new("turnserver")
        .arg(format!(
            "--pidfile={}",
            dir.join("turnserver.pid").display()
        ))
        .args([
            "--use-auth-secret",
            &format!("--static-auth-secret={SECRET}"),
            "--realm=apprtc.local",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            &format!("--listening-port={port}"),
            &format!("--min-port={relay_min}"),
            &format!("--max-port={}", relay_min + 50),
            "--allow-loopback-peers",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--log-file=stdout",
            "--simple-log",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start turnserver");
    // Wait until it accepts TCP connections on its port.
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "coturn did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Coturn { child, port, dir }
}
