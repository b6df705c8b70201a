//! The call played: two clients through the stand-in, as the web client does it, from the first
//! page load to the last socket closed, with one keep-alive sweep between the set-up and the
//! hang-up; what each part cost counted by the meter and the clients.

use super::Args;
use super::client::{Driver, Traffic};
use super::messages::{BYE, candidate, description};
use super::meter::{CLOSE, OpTally, Phase, SCAN};
use super::stand_in::StandIn;
use anyhow::{Context, Result, ensure};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the call measured.
#[derive(Debug)]
pub struct Measured {
    /// The clients' traffic in the set-up and the hang-up.
    pub call: Traffic,
    /// The clients' traffic in the keep-alive sweep.
    pub sweep: Traffic,
    /// The DynamoDB requests of the set-up and the hang-up.
    pub call_ops: BTreeMap<&'static str, OpTally>,
    /// The DynamoDB requests of the keep-alive sweep.
    pub sweep_ops: BTreeMap<&'static str, OpTally>,
    /// Socket time of the set-up and the hang-up (the wait for the sweep left out), in minutes.
    pub socket_minutes: f64,
    /// Connection items left in the table after the call.
    pub leftover_bytes: usize,
    /// Bytes of the offer.
    pub offer_bytes: usize,
}

/// Plays the call `args` describe on a stand-in of its own.
pub async fn play(args: &Args) -> Result<Measured> {
    let stand_in = StandIn::start(args.sweep_after).await?;
    let (meter, started) = (stand_in.meter.clone(), stand_in.started);
    let mut d = Driver::new(stand_in.addr, meter.clone());
    let room = format!(
        "{}",
        100_000_000
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .subsec_nanos()
                % 900_000_000
    );
    let offer = description(false);
    let answer = description(true);

    // A opens the room page, joins alone, registers, and sends its offer and the candidates it
    // gathers while waiting: the initiator posts them to /message, the room keeps them.
    d.open_page(&room).await?;
    let a = d.join(&room).await?["params"]["client_id"]
        .as_str()
        .context("client_id")?
        .to_owned();
    let mut wa = d.connect().await?;
    d.register(&mut wa, &room, &a).await?;
    // The web client registers once joined and its socket is open, and makes its offer once the
    // camera and the ICE servers are there: the registration is handled first.
    d.settle().await?;
    d.message(&room, &a, &offer).await?;
    for n in 0..args.early_candidates {
        d.message(&room, &a, &candidate(n)).await?;
    }

    // B opens the page and joins: the join answer hands it A's offer and candidates.
    d.open_page(&room).await?;
    let joined = d.join(&room).await?;
    let b = joined["params"]["client_id"]
        .as_str()
        .context("client_id")?
        .to_owned();
    let saved = joined["params"]["messages"].as_array().map_or(0, Vec::len);
    ensure!(
        saved == 1 + args.early_candidates,
        "the joiner got {saved} saved messages"
    );
    let mut wb = d.connect().await?;
    d.register(&mut wb, &room, &b).await?;
    d.settle().await?;
    // B answers and trickles its candidates over its socket; A hears them by PostToConnection.
    let from_b: Vec<String> = std::iter::once(answer)
        .chain((0..args.joiner_candidates).map(|n| candidate(100 + n)))
        .collect();
    for m in &from_b {
        d.send_msg(&mut wb, m).await?;
    }
    d.recv_msgs(&mut wa, from_b.len()).await?;
    // A's last candidates: /message again, forwarded to B by the relay.
    for n in 0..args.late_candidates {
        d.message(&room, &a, &candidate(args.early_candidates + n))
            .await?;
    }
    d.recv_msgs(&mut wb, args.late_candidates).await?;
    d.settle().await?;
    let setup_done = Instant::now();
    let setup_scans = meter.ops(&[Phase::Setup]).get(SCAN).map_or(0, |t| t.calls);
    ensure!(
        setup_scans == 0,
        "the keep-alive sweep ran during the call's set-up ({:?} after the start): give a longer --sweep-after",
        setup_done - started
    );

    // The call goes on; the keep-alive sweep posts one frame to each socket.
    d.enter(Phase::Sweep);
    for side in [&mut wa, &mut wb] {
        let v = d.recv(side).await?;
        ensure!(
            v["error"] == "keepalive",
            "expected the keep-alive frame: {v}"
        );
    }
    d.settle().await?;
    let sweep_time = setup_done.elapsed();
    ensure!(
        meter.ops(&[Phase::Sweep]).get(SCAN).map_or(0, |t| t.calls) == 1,
        "expected one keep-alive sweep"
    );

    // A hangs up as the web client does: /leave, bye over its socket, close, collider DELETE.
    d.enter(Phase::Hangup);
    d.leave(&mut wa, &room, &a).await?;
    let bye = d.recv_msgs(&mut wb, 1).await?;
    ensure!(bye == [BYE], "expected bye, got {bye:?}");
    d.close(&mut wa, &room, &a).await?;
    // B heard the bye and closes the page: the same steps.
    d.leave(&mut wb, &room, &b).await?;
    d.close(&mut wb, &room, &b).await?;
    d.settle().await?;
    let hangup = meter.ops(&[Phase::Hangup]);
    ensure!(
        !hangup.contains_key(SCAN),
        "a second keep-alive sweep ran during the hang-up: give a longer --sweep-after"
    );
    ensure!(
        hangup.get(CLOSE).map_or(0, |t| t.calls) == 2,
        "the stand-in did not handle both $disconnect events"
    );
    stand_in.stop().await;

    let socket_minutes = [&wa, &wb]
        .iter()
        .map(|s| {
            s.closed
                .map_or(Duration::ZERO, |c| c - s.opened)
                .saturating_sub(sweep_time)
                .as_secs_f64()
                / 60.0
        })
        .sum();
    let mut call = d.traffic[Phase::Setup as usize].clone();
    call.add(&d.traffic[Phase::Hangup as usize]);
    Ok(Measured {
        call,
        sweep: d.traffic[Phase::Sweep as usize].clone(),
        call_ops: meter.ops(&[Phase::Setup, Phase::Hangup]),
        sweep_ops: meter.ops(&[Phase::Sweep]),
        socket_minutes,
        leftover_bytes: meter.connection_item_bytes(),
        offer_bytes: offer.len(),
    })
}
