//! TURN credentials minted by our ICE endpoint, checked by a real coturn on 127.0.0.1
//! (`use-auth-secret`): a fresh credential gets an allocation, an expired one and one signed with
//! another secret are refused. Skipped without coturn unless `APPRTC_REQUIRE_COTURN=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::coturn::{Coturn, SECRET, coturn_available, start_coturn};
use common::*;
use std::process::Stdio;
use std::time::Duration;

async fn minted(server: &TestServer) -> (String, String) {
    let v = server.post("/v1alpha/iceconfig", "").await.json();
    let turn = v["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["urls"][0].as_str().unwrap().starts_with("turn:"))
        .expect("a TURN entry")
        .clone();
    (
        turn["username"].as_str().unwrap().to_owned(),
        turn["credential"].as_str().unwrap().to_owned(),
    )
}

/// Runs coturn's own test client: it allocates a relay and sends through it.
async fn allocation_succeeds(port: u16, user: &str, pass: &str) -> bool {
    let mut cmd = tokio::process::Command::new("turnutils_uclient");
    cmd.args([
        "-u",
        user,
        "-w",
        pass,
        "-p",
        &port.to_string(),
        "-y",
        "-n",
        "1",
        "-m",
        "1",
        "-l",
        "100",
        "127.0.0.1",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .kill_on_drop(true);
    let status = tokio::time::timeout(Duration::from_secs(30), cmd.status())
        .await
        .expect("uclient timed out")
        .expect("run uclient");
    status.success()
}

async fn server_for(coturn: &Coturn, secret: &str, ttl: &str) -> TestServer {
    let urls = coturn.urls();
    TestServer::start_with(&[
        "--turn-urls",
        &urls,
        "--turn-secret",
        secret,
        "--turn-ttl",
        ttl,
    ])
    .await
}

#[tokio::test]
async fn coturn_accepts_fresh_credentials_and_refuses_expired_or_foreign_ones() {
    if !coturn_available() {
        return;
    }
    let coturn = start_coturn().await;

    let server = server_for(&coturn, SECRET, "10m").await;
    let (user, pass) = minted(&server).await;
    assert!(
        allocation_succeeds(coturn.port, &user, &pass).await,
        "fresh credential refused"
    );

    let foreign = server_for(&coturn, "some-other-secret", "10m").await;
    let (user, pass) = minted(&foreign).await;
    assert!(
        !allocation_succeeds(coturn.port, &user, &pass).await,
        "credential of another secret accepted"
    );

    let short = server_for(&coturn, SECRET, "1s").await;
    let (user, pass) = minted(&short).await;
    let expiry: u64 = user.split(':').next().unwrap().parse().unwrap();
    // Wait until the credential's expiry has passed (coturn compares with its own clock).
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        <= expiry + 1
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !allocation_succeeds(coturn.port, &user, &pass).await,
        "expired credential accepted"
    );
}
