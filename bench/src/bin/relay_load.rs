//! Relay load: N rooms (2N sockets) joined and registered through the real protocol, then a
//! closed-loop ping-pong per room for a fixed time. Reports relayed messages per second, round
//! trips, the server's CPU time per relayed message and its RSS (before, idle with all sockets
//! registered, under load), plus this generator's CPU and the rest of the machine's, so a noisy
//! run is visible. Run the server and this generator pinned to different cores (`taskset`).

use anyhow::{Context, Result, bail};
use apprtc_bench::{http_client, join, machine_busy, message_of_size, ms, sample, summarize};
use clap::Parser;
use futures_util::{SinkExt, StreamExt, stream};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

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

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn registered(ws_url: &str, room: &str, client: &str) -> Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await?;
    let reg =
        serde_json::json!({"cmd": "register", "roomid": room, "clientid": client}).to_string();
    ws.send(Message::text(reg)).await?;
    Ok(ws)
}

async fn recv_text(ws: &mut Socket) -> Result<()> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if t.as_str().contains("\"error\":\"\"") {
                    return Ok(());
                }
                bail!("error frame: {}", t.as_str());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => bail!("socket ended: {other:?}"),
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let client = http_client();
    let ws_url = format!("{}/ws", args.base.replacen("http", "ws", 1));
    let before = sample(args.pid)?;
    let t0 = Instant::now();

    let pairs: Vec<(String, String, String)> = stream::iter(0..args.rooms)
        .map(|i| {
            let client = client.clone();
            let base = args.base.clone();
            let room = format!("{}-{i}", args.prefix);
            async move {
                let a = join(&client, &base, &room).await?;
                let b = join(&client, &base, &room).await?;
                Ok::<_, anyhow::Error>((room, a, b))
            }
        })
        .buffer_unordered(args.setup_concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let sockets: Vec<(Socket, Socket)> = stream::iter(pairs)
        .map(|(room, a, b)| {
            let ws_url = ws_url.clone();
            async move {
                let wa = registered(&ws_url, &room, &a).await?;
                let wb = registered(&ws_url, &room, &b).await?;
                Ok::<_, anyhow::Error>((wa, wb))
            }
        })
        .buffer_unordered(args.setup_concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let setup = t0.elapsed();
    // Registration has no acknowledgement: one round trip per room proves it.
    let msg = message_of_size(args.size);
    let mut warm = Vec::new();
    for (mut a, mut b) in sockets {
        let msg = msg.clone();
        warm.push(tokio::spawn(async move {
            a.send(Message::text(
                serde_json::json!({"cmd":"send","msg":msg}).to_string(),
            ))
            .await?;
            recv_text(&mut b).await?;
            Ok::<_, anyhow::Error>((a, b))
        }));
    }
    let mut sockets = Vec::new();
    for w in warm {
        sockets.push(w.await??);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = sample(args.pid)?;

    let frame = serde_json::json!({"cmd": "send", "msg": msg}).to_string();
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let server0 = sample(args.pid)?;
    let me0 = sample(std::process::id())?;
    let busy0 = machine_busy()?;
    let start = Instant::now();
    // Paced: each room makes one round trip (two messages) per `period`, rooms spread evenly.
    let rooms = sockets.len().max(1);
    let period = (args.rate > 0.0).then(|| Duration::from_secs_f64(2.0 * rooms as f64 / args.rate));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, (mut a, mut b)) in sockets.into_iter().enumerate() {
        let frame = frame.clone();
        let done = done.clone();
        let mut pace = period.map(|p| {
            let first = tokio::time::Instant::now() + p.mul_f64(i as f64 / rooms as f64);
            let mut t = tokio::time::interval_at(first, p);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        tasks.push(tokio::spawn(async move {
            let mut rtts = Vec::new();
            while Instant::now() < deadline {
                if let Some(p) = pace.as_mut() {
                    p.tick().await;
                }
                let t = Instant::now();
                a.send(Message::text(frame.clone())).await?;
                recv_text(&mut b).await?;
                b.send(Message::text(frame.clone())).await?;
                recv_text(&mut a).await?;
                rtts.push(t.elapsed());
                done.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>((rtts, a, b))
        }));
    }
    let timeline = (args.sample_every > 0.0).then(|| {
        let every = Duration::from_secs_f64(args.sample_every);
        let (pid, done) = (args.pid, done.clone());
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64, sample(pid).map(|s| s.cpu).unwrap_or_default());
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let (Ok(now), at) = (sample(pid), Instant::now()) else { break };
                let n = done.load(std::sync::atomic::Ordering::Relaxed);
                let secs = at.duration_since(last.0).as_secs_f64();
                let msgs = n - last.1;
                println!(
                    "timeline t={:.0}s rss={:.1}MB messages_per_sec={:.0} server_cpu_per_message_us={:.2}",
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
    let server1 = sample(args.pid)?;
    let me1 = sample(std::process::id())?;
    let busy1 = machine_busy()?;
    let relayed = rtts.len() * 2;
    let server_cpu = server1.cpu.saturating_sub(server0.cpu);
    let my_cpu = me1.cpu.saturating_sub(me0.cpu);
    let other_cpu = busy1
        .saturating_sub(busy0)
        .saturating_sub(server_cpu)
        .saturating_sub(my_cpu);
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
    println!(
        "round_trip p50={} p99={} max={} (two relayed messages each)",
        ms(s.p50),
        ms(s.p99),
        ms(s.max)
    );
    let server_sys = server1.sys.saturating_sub(server0.sys);
    println!(
        "server_cpu_per_message_us={:.2} (kernel {:.2}) server_cpu={:.2}s generator_cpu={:.2}s other_cpu={:.2}s",
        server_cpu.as_secs_f64() * 1e6 / relayed.max(1) as f64,
        server_sys.as_secs_f64() * 1e6 / relayed.max(1) as f64,
        server_cpu.as_secs_f64(),
        my_cpu.as_secs_f64(),
        other_cpu.as_secs_f64()
    );
    println!(
        "server_rss before={:.1}MB idle_registered={:.1}MB load_peak={:.1}MB per_idle_socket={:.0}B",
        before.rss as f64 / 1e6,
        idle.rss as f64 / 1e6,
        peak_rss.max(server1.rss) as f64 / 1e6,
        idle.rss.saturating_sub(before.rss) as f64 / sockets as f64
    );
    drop(keep);
    Ok(())
}
