//! `apprtc-local` as a separate process (the built binary), for what an in-process server cannot
//! show: signals, exit, restarts and the server's own memory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::{TestServer, WAIT};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A spawned `apprtc-local`; killed if the test ends early.
pub struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    /// Starts the binary on 127.0.0.1 (a free port) over plain HTTP and waits for its
    /// "listening on" line.
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apprtc-local"))
            .args(["--listen", "127.0.0.1:0", "--no-tls", "--no-relay-port"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn apprtc-local");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(rest) = line.strip_prefix("apprtc-local listening on http://")
                {
                    let _ = tx.send(rest.trim_end_matches('/').to_owned());
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(WAIT)
            .expect("apprtc-local did not print its address")
            .parse()
            .unwrap();
        Self { child, addr }
    }

    pub fn server(&self) -> TestServer {
        TestServer::attach(self.addr)
    }

    /// Sends SIGTERM and waits for the exit; returns how long it took and whether it was clean.
    pub fn terminate(&mut self) -> (Duration, bool) {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill failed");
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return (started.elapsed(), exit.success());
            }
            assert!(started.elapsed() < WAIT, "apprtc-local ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Process {
    /// The server's resident memory, in KiB.
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
