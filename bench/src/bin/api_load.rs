//! Room API load: cycles of join, join, message, leave, leave on fresh rooms at a fixed
//! concurrency, over keep-alive HTTP connections. Reports requests per second and p50/p99 per
//! request kind, and the server's CPU time per request. Works against the in-memory store or
//! `--store dynamodb` alike (the server decides).

use anyhow::{Result, bail};
use apprtc_bench::{Target, http_client, join, ms, post, sample, summarize};
use bytes::Bytes;
use clap::Parser;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// Concurrent cycles.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Room name prefix (distinct per run).
    #[arg(long, default_value = "api")]
    prefix: String,
}

const KINDS: [&str; 5] = [
    "join (initiator)",
    "join (joiner)",
    "message",
    "leave",
    "leave (last)",
];

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let client = http_client();
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let cpu0 = args.target.pid.map(sample).transpose()?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let client = client.clone();
        let base = args.target.base.clone();
        let prefix = args.prefix.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat: [Vec<Duration>; 5] = Default::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let room = format!("{prefix}-{worker}-{n}");
                n += 1;
                let t = Instant::now();
                let a = join(&client, &base, &room).await?;
                lat[0].push(t.elapsed());
                let t = Instant::now();
                let b = join(&client, &base, &room).await?;
                lat[1].push(t.elapsed());
                let t = Instant::now();
                let (s, body) = post(
                    &client,
                    &format!("{base}/message/{room}/{a}"),
                    r#"{"type":"offer","sdp":"v=0"}"#,
                )
                .await?;
                lat[2].push(t.elapsed());
                if s != 200 || !body.starts_with(b"{\"result\":\"SUCCESS\"") {
                    bail!("message: {s} {}", String::from_utf8_lossy(&body));
                }
                for (i, who) in [(3, &a), (4, &b)] {
                    let t = Instant::now();
                    let (s, _) =
                        post(&client, &format!("{base}/leave/{room}/{who}"), Bytes::new()).await?;
                    lat[i].push(t.elapsed());
                    if s != 200 {
                        bail!("leave: {s}");
                    }
                }
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all: [Vec<Duration>; 5] = Default::default();
    for t in tasks {
        let lat = t.await??;
        for (i, l) in lat.into_iter().enumerate() {
            all[i].extend(l);
        }
    }
    let elapsed = start.elapsed();
    let total: usize = all.iter().map(Vec::len).sum();
    println!(
        "concurrency={} seconds={:.1} requests={total} requests_per_sec={:.0}",
        args.concurrency,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    let mut every: Vec<Duration> = all.iter().flatten().copied().collect();
    let s = summarize(&mut every);
    println!("all requests {s}");
    for (kind, lat) in KINDS.iter().zip(all.iter_mut()) {
        let s = summarize(lat);
        println!(
            "  {kind:<17} n={:<7} p50={} p99={}",
            s.count,
            ms(s.p50),
            ms(s.p99)
        );
    }
    if let (Some(pid), Some(cpu0)) = (args.target.pid, cpu0) {
        let cpu = sample(pid)?.cpu.saturating_sub(cpu0.cpu);
        println!(
            "server_cpu={:.2}s server_cpu_per_request_us={:.1}",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / total.max(1) as f64
        );
    }
    Ok(())
}
