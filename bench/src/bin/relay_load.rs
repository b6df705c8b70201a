//! Relay load: N rooms (2N sockets) joined and registered through the real protocol, then a
//! closed-loop ping-pong per room for a fixed time. Reports relayed messages per second, round
//! trips, the server's CPU time per relayed message and its RSS (before, idle with all sockets
//! registered, under load), plus this generator's CPU and the rest of the machine's, so a noisy
//! run is visible. Run the server and this generator pinned to different cores (`taskset`).
//!
//! The generator must cost less than the server or it is what gets measured: its sockets
//! (`apprtc_bench::relay_socket`) speak just enough RFC 6455 for the load.

use anyhow::{Context, Result};
use apprtc_bench::relay_socket::{registered_rooms, send_frame};
use apprtc_bench::{CpuClock, message_of_size, sample, summarize};
use clap::Parser;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
struct Args {
    /// Server base URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// Server process id (for CPU and RSS).
    #[arg(long)]
    pid: u32,
    /// Rooms (two sockets each).
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 200)]
    size: usize,
    /// Seconds of ping-pong.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Concurrent joins and connects during set-up.
    #[arg(long, default_value_t = 128)]
    setup_concurrency: usize,
    /// Room name prefix (distinct per run).
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// Relayed messages per second over all rooms, each room pacing its round trips evenly
    /// (the soak); 0 runs every room closed-loop as fast as it can.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds between timeline lines (elapsed, server RSS, CPU, messages); 0 prints none.
    #[arg(long, default_value_t = 0.0)]
    sample_every: f64,
}

/// Round trips of the current timeline window, in 1 ms buckets (the last one: 1 s and more).
struct Window([std::sync::atomic::AtomicU64; 1001]);

impl Default for Window {
    fn default() -> Self {
        Self(std::array::from_fn(|_| {
            std::sync::atomic::AtomicU64::new(0)
        }))
    }
}

impl Window {
    fn record(&self, rtt: Duration) {
        let ms = usize::try_from(rtt.as_millis())
            .unwrap_or(usize::MAX)
            .min(1000);
        self.0[ms].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Upper bounds (ms) of the window's p50, p99 and maximum; empties the window.
    fn take(&self) -> (usize, usize, usize) {
        let counts: Vec<u64> = self
            .0
            .iter()
            .map(|c| c.swap(0, std::sync::atomic::Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let bound = |q: f64| {
            let want = (total as f64 * q).ceil() as u64;
            let mut seen = 0;
            counts
                .iter()
                .position(|c| {
                    seen += c;
                    seen >= want.max(1)
                })
                .map_or(0, |i| i + 1)
        };
        let max = counts.iter().rposition(|c| *c > 0).map_or(0, |i| i + 1);
        (bound(0.5), bound(0.99), max)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let before = sample(args.pid)?;
    let t0 = Instant::now();
    let msg = message_of_size(args.size);
    let frame = std::sync::Arc::new(send_frame(&msg));
    // Each room's first message, relayed, proves both registrations.
    let sockets = registered_rooms(
        &args.base,
        args.rooms,
        &args.prefix,
        args.setup_concurrency,
        &frame,
    )
    .await?;
    let setup = t0.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = sample(args.pid)?;

    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let cpu0 = CpuClock::read(Some(args.pid))?;
    let start = Instant::now();
    // Paced: each room makes one round trip (two messages) per `period`, rooms spread evenly.
    let rooms = sockets.len().max(1);
    let period = (args.rate > 0.0).then(|| Duration::from_secs_f64(2.0 * rooms as f64 / args.rate));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let window = std::sync::Arc::new(Window::default());
    let mut tasks = Vec::new();
    for (i, (mut a, mut b)) in sockets.into_iter().enumerate() {
        let frame = frame.clone();
        let done = done.clone();
        let window = window.clone();
        let mut pace = period.map(|p| {
            let first = tokio::time::Instant::now() + p.mul_f64(i as f64 / rooms as f64);
            let mut t = tokio::time::interval_at(first, p);
            // A late tick keeps the room's phase (`Skip`). With `Delay` each late tick moved the
            // room's phase to when it ran, rooms late together stayed together, and over minutes
            // they bunched into bursts (round-trip p50 from 1 to 11 ms over a 10-minute soak).
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            t
        });
        tasks.push(tokio::spawn(async move {
            let mut rtts = Vec::new();
            while Instant::now() < deadline {
                if let Some(p) = pace.as_mut() {
                    p.tick().await;
                }
                let t = Instant::now();
                a.send(&frame).await?;
                b.recv_text().await?;
                b.send(&frame).await?;
                a.recv_text().await?;
                let rtt = t.elapsed();
                window.record(rtt);
                rtts.push(rtt);
                done.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>((rtts, a, b))
        }));
    }
    let timeline = (args.sample_every > 0.0).then(|| {
        let every = Duration::from_secs_f64(args.sample_every);
        let (pid, done, window) = (args.pid, done.clone(), window.clone());
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64, sample(pid).map(|s| s.cpu).unwrap_or_default());
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let (Ok(now), at) = (sample(pid), Instant::now()) else { break };
                let n = done.load(std::sync::atomic::Ordering::Relaxed);
                let secs = at.duration_since(last.0).as_secs_f64();
                let msgs = n - last.1;
                let (p50, p99, max) = window.take();
                println!(
                    "timeline t={:.0}s rss={:.1}MB messages_per_sec={:.0} server_cpu_per_message_us={:.2} round_trip_ms p50<={p50} p99<={p99} max<={max}",
                    at.duration_since(start).as_secs_f64(),
                    now.rss as f64 / 1e6,
                    msgs as f64 / secs,
                    now.cpu.saturating_sub(last.2).as_secs_f64() * 1e6 / msgs.max(1) as f64
                );
                last = (at, n, now.cpu);
            }
        })
    });
    let mut rtts = Vec::new();
    let mut keep = Vec::new();
    let mut peak_rss = 0;
    for t in tasks {
        let (r, a, b) = t.await?.context("room task")?;
        rtts.extend(r);
        keep.push((a, b));
        peak_rss = peak_rss.max(sample(args.pid)?.rss);
    }
    let elapsed = start.elapsed();
    if let Some(t) = timeline {
        t.abort();
    }
    let end = sample(args.pid)?;
    let cpu = CpuClock::read(Some(args.pid))?.since(&cpu0);
    let relayed = rtts.len() * 2;
    let s = summarize(&mut rtts);
    let sockets = args.rooms * 2;
    println!(
        "rooms={} sockets={} size={}B seconds={:.1} setup={:.2}s",
        args.rooms,
        sockets,
        args.size,
        elapsed.as_secs_f64(),
        setup.as_secs_f64()
    );
    println!(
        "relayed_messages={relayed} messages_per_sec={:.0}",
        relayed as f64 / elapsed.as_secs_f64()
    );
    println!("round_trip {s} (two relayed messages each)");
    println!("{}", cpu.per_message("server", relayed, ""));
    println!(
        "server_rss before={:.1}MB idle_registered={:.1}MB load_peak={:.1}MB per_idle_socket={:.0}B",
        before.rss as f64 / 1e6,
        idle.rss as f64 / 1e6,
        peak_rss.max(end.rss) as f64 / 1e6,
        idle.rss.saturating_sub(before.rss) as f64 / sockets as f64
    );
    drop(keep);
    Ok(())
}
