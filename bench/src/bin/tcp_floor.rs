//! The floor under the relay figures: a bare TCP forwarder (no WebSocket, no JSON, no rooms) that
//! pairs connections and copies every read to the partner, measured with the same closed-loop
//! ping-pong as `relay_load`. Its CPU per message is what the kernel's loopback TCP path and a
//! one-thread tokio loop cost on this machine; the relay can only add to it.
//!
//!   tcp_floor serve --port P                 # one thread; run it pinned like apprtc-local
//!   tcp_floor load --port P --pid PID --pairs N --size S --seconds T

use anyhow::{Context, Result};
use apprtc_bench::{CpuClock, summarize};
use clap::{Parser, Subcommand};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// The forwarder, on 127.0.0.1.
    Serve {
        #[arg(long)]
        port: u16,
    },
    /// The ping-pong generator.
    Load {
        #[arg(long)]
        port: u16,
        /// The forwarder's process id (for its CPU time).
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 20)]
        pairs: usize,
        #[arg(long, default_value_t = 200)]
        size: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

fn main() -> Result<()> {
    match Args::parse().mode {
        Mode::Serve { port } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(serve(port)),
        Mode::Load {
            port,
            pid,
            pairs,
            size,
            seconds,
        } => tokio::runtime::Runtime::new()?.block_on(load(port, pid, pairs, size, seconds)),
    }
}

/// Connections are paired in accept order; each direction is one task copying reads.
async fn serve(port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (a, _) = listener.accept().await?;
        let (b, _) = listener.accept().await?;
        a.set_nodelay(true)?;
        b.set_nodelay(true)?;
        let (ar, aw) = a.into_split();
        let (br, bw) = b.into_split();
        tokio::spawn(forward(ar, bw));
        tokio::spawn(forward(br, aw));
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
) {
    let mut buf = vec![0u8; 8192];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

async fn load(port: u16, pid: u32, pairs: usize, size: usize, seconds: f64) -> Result<()> {
    let mut conns = Vec::new();
    for _ in 0..pairs {
        // In order, one at a time, so the forwarder pairs them as we do.
        let a = TcpStream::connect(("127.0.0.1", port)).await?;
        let b = TcpStream::connect(("127.0.0.1", port)).await?;
        a.set_nodelay(true)?;
        b.set_nodelay(true)?;
        conns.push((a, b));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let cpu0 = CpuClock::read(Some(pid))?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (mut a, mut b) in conns {
        tasks.push(tokio::spawn(async move {
            let out = vec![b'x'; size];
            let mut back = vec![0u8; size];
            let mut rtts = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                a.write_all(&out).await?;
                b.read_exact(&mut back).await?;
                b.write_all(&out).await?;
                a.read_exact(&mut back).await?;
                rtts.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(rtts)
        }));
    }
    let mut rtts = Vec::new();
    for t in tasks {
        rtts.extend(t.await?.context("pair")?);
    }
    let elapsed = start.elapsed();
    let cpu = CpuClock::read(Some(pid))?.since(&cpu0);
    let relayed = rtts.len() * 2;
    let s = summarize(&mut rtts);
    println!(
        "tcp_floor pairs={pairs} size={size}B forwarded_messages={relayed} messages_per_sec={:.0}",
        relayed as f64 / elapsed.as_secs_f64()
    );
    println!("round_trip {s}");
    println!("{}", cpu.per_message("forwarder", relayed, ""));
    Ok(())
}
