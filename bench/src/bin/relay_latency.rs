//! Relay latency per frame: N rooms, two registered sockets each; both sides of every room send
//! a burst of frames at once (as a browser trickles its candidates), wait until the peer has all
//! of them, pause, and send the next. Per frame, the time from its send to its arrival at the
//! peer. Reports p50, p99 and maximum, frames lost and error frames, and the server's CPU time
//! per frame when given its pid.
//!
//! Made for the AWS path (`apprtc-local --backend aws-local --apigw-jitter 0ms`), where every
//! frame is its own invocation on one of `--apigw-instances` function instances: frames of a
//! burst run in parallel and arrive in any order. Each frame carries its sequence number, so it
//! is timed whatever its order; a frame still missing `--wait` after its burst counts as lost.
//! The first `--warmup-bursts` of every room are played and not counted, so that the first build
//! measured in a run does not pay for warming up what the builds share (DynamoDB Local's JVM).

use anyhow::{Context, Result, bail, ensure};
use apprtc_bench::relay_socket::{RelaySocket, is_message, registered_rooms, send_frame};
use apprtc_bench::{CpuClock, Target, message_of_size, summarize};
use clap::Parser;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Rooms (two sockets each).
    #[arg(long, default_value_t = 30)]
    rooms: usize,
    /// Frames in a burst, from each side of a room.
    #[arg(long, default_value_t = 16)]
    burst: usize,
    /// Bursts from each side of a room, counted.
    #[arg(long, default_value_t = 10)]
    bursts: usize,
    /// Bursts from each side of a room before those, not counted.
    #[arg(long, default_value_t = 1)]
    warmup_bursts: usize,
    /// Pause between the end of a burst (all its frames arrived) and the next.
    #[arg(long, default_value = "100ms", value_parser = room::config::parse_duration)]
    gap: Duration,
    /// Message size in bytes.
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// How long a burst waits for its frames; those still missing then count as lost.
    #[arg(long, default_value = "5s", value_parser = room::config::parse_duration)]
    wait: Duration,
    /// Concurrent rooms during set-up.
    #[arg(long, default_value_t = 32)]
    setup_concurrency: usize,
    /// Room name prefix (distinct per run).
    #[arg(long, default_value = "latency")]
    prefix: String,
}

/// Marks a frame's sequence number inside its message, where the relay leaves it as it is.
const SEQ: &[u8] = b"seq:";

/// A candidate message of about `size` bytes that carries `seq`.
fn numbered_message(size: usize, seq: usize) -> String {
    let head = r#"{"type":"candidate","label":0,"id":"0","candidate":""#;
    let tag = format!("seq:{seq} ");
    let pad = size.saturating_sub(head.len() + tag.len() + 2);
    format!("{head}{tag}{}\"}}", "x".repeat(pad))
}

/// The sequence number a relayed frame carries.
fn seq_of(text: &[u8]) -> Option<usize> {
    let at = text.windows(SEQ.len()).position(|w| w == SEQ)? + SEQ.len();
    let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&text[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// One direction of a room: the frames one side sent and what arrived of them at the other.
#[derive(Default)]
struct Direction {
    /// By sequence number: when the frame was sent, and its latency once it arrived.
    sent: Vec<Instant>,
    latencies: Vec<Option<Duration>>,
    arrived: usize,
    duplicates: usize,
    /// Error frames read on the receiving socket (the relay answers a refused frame to its sender).
    errors: Vec<String>,
}

impl Direction {
    /// Sends one burst of `n` frames on `socket`, each stamped just before its write.
    async fn send_burst(&mut self, socket: &mut RelaySocket, n: usize, size: usize) -> Result<()> {
        for _ in 0..n {
            let frame = send_frame(&numbered_message(size, self.sent.len()));
            self.sent.push(Instant::now());
            self.latencies.push(None);
            socket.send(&frame).await?;
        }
        Ok(())
    }

    /// Reads `socket` until `until`, or sooner once every frame sent so far has arrived if
    /// `complete_ends` (error frames answer the sender: after the last burst its socket is read to
    /// the end of the wait, so that they are counted too).
    async fn receive(
        &mut self,
        socket: &mut RelaySocket,
        until: tokio::time::Instant,
        complete_ends: bool,
    ) -> Result<()> {
        while !(complete_ends && self.arrived == self.sent.len()) {
            let Ok(text) = tokio::time::timeout_at(until, socket.next_text()).await else {
                return Ok(());
            };
            let text = text?;
            let at = Instant::now();
            if !is_message(text) {
                self.errors.push(String::from_utf8_lossy(text).into_owned());
                continue;
            }
            let seq = seq_of(text).context("a relayed frame without its sequence number")?;
            match self.latencies.get_mut(seq) {
                Some(Some(_)) => self.duplicates += 1,
                Some(latency) => {
                    *latency = Some(at - self.sent[seq]);
                    self.arrived += 1;
                }
                None => bail!("frame {seq} arrived, never sent"),
            }
        }
        Ok(())
    }
}

/// Plays every burst of one room, both sides at once; returns its two directions.
async fn play_room(
    args: &Args,
    mut a: RelaySocket,
    mut b: RelaySocket,
) -> Result<(Direction, Direction)> {
    let (mut ab, mut ba) = (Direction::default(), Direction::default());
    for _ in 0..args.warmup_bursts + args.bursts {
        ab.send_burst(&mut a, args.burst, args.size).await?;
        ba.send_burst(&mut b, args.burst, args.size).await?;
        let until = tokio::time::Instant::now() + args.wait;
        let (to_b, to_a) = tokio::join!(
            ab.receive(&mut b, until, true),
            ba.receive(&mut a, until, true)
        );
        to_b?;
        to_a?;
        tokio::time::sleep(args.gap).await;
    }
    // A frame the relay refused is answered on its sender's socket, maybe after the peer's
    // frames: both sockets are read once more, for as long as a pause.
    let until = tokio::time::Instant::now() + args.gap.max(Duration::from_millis(100));
    let (to_b, to_a) = tokio::join!(
        ab.receive(&mut b, until, false),
        ba.receive(&mut a, until, false)
    );
    to_b?;
    to_a?;
    Ok((ab, ba))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = std::sync::Arc::new(Args::parse());
    ensure!(
        args.rooms > 0 && args.burst > 0 && args.bursts > 0,
        "rooms, burst and bursts must be positive"
    );
    let t0 = Instant::now();
    // Each room's first message, relayed, proves both registrations.
    let proof = send_frame(&message_of_size(args.size));
    let sockets = registered_rooms(
        &args.target.base,
        args.rooms,
        &args.prefix,
        args.setup_concurrency,
        &proof,
    )
    .await?;
    let setup = t0.elapsed();

    let cpu0 = CpuClock::read(args.target.pid)?;
    let start = Instant::now();
    let rooms = sockets.len();
    let mut tasks = Vec::new();
    for (i, (a, b)) in sockets.into_iter().enumerate() {
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            // Rooms start spread over one gap, so their bursts do not all meet.
            tokio::time::sleep(args.gap.mul_f64(i as f64 / rooms as f64)).await;
            play_room(&args, a, b).await
        }));
    }
    // Counted: the frames after the warm-up bursts.
    let counted_from = args.warmup_bursts * args.burst;
    let mut latencies = Vec::new();
    let (mut all_sent, mut sent, mut lost, mut duplicates) = (0, 0, 0, 0);
    let mut errors = Vec::new();
    for t in tasks {
        let (ab, ba) = t.await?.context("room task")?;
        for d in [ab, ba] {
            all_sent += d.sent.len();
            let counted = d.latencies.get(counted_from..).unwrap_or_default();
            sent += counted.len();
            lost += counted.iter().filter(|l| l.is_none()).count();
            latencies.extend(counted.iter().flatten());
            duplicates += d.duplicates;
            errors.extend(d.errors);
        }
    }
    let elapsed = start.elapsed();
    let cpu = CpuClock::read(args.target.pid)?.since(&cpu0);

    let arrived = latencies.len();
    let s = summarize(&mut latencies);
    println!(
        "rooms={} sockets={} burst={} bursts={} (+{} warm-up) gap={}ms size={}B seconds={:.1} setup={:.2}s",
        args.rooms,
        args.rooms * 2,
        args.burst,
        args.bursts,
        args.warmup_bursts,
        args.gap.as_millis(),
        args.size,
        elapsed.as_secs_f64(),
        setup.as_secs_f64()
    );
    println!(
        "frames sent={sent} arrived={arrived} lost={lost} error_frames={} duplicates={duplicates} (error frames and duplicates of the warm-up too)",
        errors.len()
    );
    println!("frame_latency {s} (send to arrival at the peer)");
    if args.target.pid.is_some() {
        println!(
            "{}",
            cpu.per_message("server", all_sent, "; warm-up included")
        );
    } else {
        println!(
            "generator_cpu={:.2}s other_cpu={:.2}s",
            cpu.generator.as_secs_f64(),
            cpu.other.as_secs_f64()
        );
    }
    if let Some(first) = errors.first() {
        println!("first_error_frame={first}");
    }
    Ok(())
}
