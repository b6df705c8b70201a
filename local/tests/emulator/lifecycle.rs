//! The real binary's life: SIGTERM during calls closes every socket with a close frame and exits
//! within a bound; after a restart clients can rejoin and no ghost occupant survives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use common::process::Process;
use common::*;
use std::time::Duration;

/// Two clients joined and registered in each of `rooms`; returns their sockets.
async fn calls(s: &TestServer, rooms: &[String]) -> Vec<(String, String, Ws)> {
    let mut out = Vec::new();
    for r in rooms {
        for _ in 0..2 {
            let id = s.join_id(r).await;
            let ws = s.ws_registered(r, &id).await;
            out.push((r.clone(), id, ws));
        }
    }
    // The sockets relay (so registration has completed on the server).
    for pair in out.chunks_mut(2) {
        let (first, second) = pair.split_at_mut(1);
        second[0].2.send_msg(&answer()).await;
        assert_eq!(first[0].2.recv_msg().await, answer());
    }
    out
}

#[tokio::test]
async fn sigterm_during_calls_closes_every_socket_and_exits_in_time() {
    let mut p = Process::start(&["--shutdown-timeout", "5s"]);
    let s = p.server();
    let rooms: Vec<String> = (0..5).map(|i| format!("term{i}")).collect();
    let mut sockets = calls(&s, &rooms).await;
    // A socket that never registered is closed too.
    let mut idle = s.ws().await;
    let (took, clean) = p.terminate();
    assert!(clean, "exit status after SIGTERM");
    // Every socket had been closed before the process ended, so the close frames are waiting.
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    for (_, _, ws) in &mut sockets {
        assert_eq!(
            ws.expect_close_frame().await,
            (1001, "server shutting down".to_owned())
        );
    }
    assert_eq!(idle.expect_close_frame().await.0, 1001);
    eprintln!("SIGTERM with 11 sockets open: exited in {took:?}");
}

#[tokio::test]
async fn after_a_restart_clients_rejoin_and_no_ghost_survives() {
    let mut p = Process::start(&[]);
    let s = p.server();
    let rooms = vec!["restart-a".to_owned(), "restart-b".to_owned()];
    let old = calls(&s, &rooms).await;
    let (_, clean) = p.terminate();
    assert!(clean);
    drop(p);

    let p = Process::start(&[]);
    let s = p.server();
    // The in-memory rooms are gone with the process: the old ids are not members any more and
    // cannot take a place; the first to rejoin is the initiator of an empty room.
    let (room, old_id, _) = &old[0];
    let mut stale = s.ws().await;
    stale.register(room, old_id).await;
    assert_eq!(
        stale.recv_error().await,
        "Unknown client id for this room: join the room first"
    );
    for r in &rooms {
        let first = s.join(r).await;
        assert_eq!(
            first["params"]["is_initiator"], "true",
            "{r}: a ghost survived"
        );
        let second = s.join(r).await;
        assert_eq!(second["params"]["is_initiator"], "false");
        assert_eq!(s.join(r).await["result"], "FULL");
    }
}

#[tokio::test]
async fn a_reader_that_never_reads_cannot_grow_server_memory() {
    let p = Process::start(&[
        "--max-messages-per-second",
        "100000",
        "--message-burst",
        "100000",
    ]);
    let s = p.server();
    let (a, b) = s.join_two("slow").await;
    let mut wa = s.ws_registered("slow", &a).await;
    // B registers and then never reads again.
    let mut wb = s.ws_registered("slow", &b).await;
    wa.send_msg_to(&mut wb, &answer()).await;
    let before = p.rss_kb();

    // 16 KiB candidates, in batches; after each batch a probe command whose error frame tells
    // that the server has read everything before it.
    let big = format!(
        r#"{{"type":"candidate","label":0,"id":"0","candidate":"{}"}}"#,
        "x".repeat(16 * 1024)
    );
    let (mut sent, mut peak, mut refused) = (0usize, before, false);
    while !refused {
        for _ in 0..32 {
            wa.send_msg(&big).await;
            sent += 1;
        }
        wa.send_json(serde_json::json!({"cmd": "probe"})).await;
        loop {
            let e = wa.recv_error().await;
            if e == "Too many messages queued for the client" {
                refused = true;
            } else {
                assert_eq!(e, "Invalid message: unexpected 'cmd'");
                break;
            }
        }
        peak = peak.max(p.rss_kb());
        assert!(
            sent < 20_000,
            "the server kept accepting messages for a reader that never reads"
        );
    }
    // Bounded: the outbound queue's byte cap (2 MiB) and buffers, not what was sent.
    let growth = peak.saturating_sub(before);
    assert!(
        growth < 24 * 1024,
        "server RSS grew {growth} KiB for a slow reader ({sent} messages of 16 KiB sent)"
    );
    // B is disconnected: reading now gives what the kernel held, then the end of the socket.
    let mut received = 0usize;
    while wb.recv_within(WAIT).await.is_some() {
        received += 1;
    }
    assert!(received < sent, "{received} of {sent} delivered");
    // The room goes on: B's id may register again; it gets what A queued meanwhile (within the
    // queue's caps), then new messages.
    let mut again = s.ws_registered("slow", &b).await;
    wa.send_msg(&answer()).await;
    let mut flushed = 0usize;
    while again.recv_msg().await != answer() {
        flushed += 1;
        assert!(flushed <= 1024, "more than the queue cap was flushed");
    }
    let after = p.rss_kb();
    eprintln!(
        "slow reader: {sent} x 16 KiB sent, {received} delivered; RSS {before} KiB before, \
         {peak} KiB peak, {after} KiB after"
    );
    assert!(after < before + 24 * 1024, "RSS after {after} KiB");
}
