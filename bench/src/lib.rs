//! Shared pieces of the benchmark commands: process statistics from `/proc`, latency summaries,
//! a small HTTP client and WebSocket helpers, and the parts of `call_cost` ([`call_cost`]).
//! Measurements only; nothing here is timed by tests.

pub mod call_cost;
pub mod relay_socket;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// CPU time and resident memory of one process, from `/proc/<pid>/stat` and `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// User + system CPU time.
    pub cpu: Duration,
    /// System (kernel) CPU time alone.
    pub sys: Duration,
    /// Resident set size in bytes.
    pub rss: u64,
}

/// Clock ticks per second for `/proc` CPU fields (fixed at 100 on Linux for user space).
const TICKS: u64 = 100;

/// Reads a process's CPU time and RSS.
pub fn sample(pid: u32) -> Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("no process {pid}"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("bad stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(ProcSample {
        cpu: Duration::from_millis((utime + stime) * 1000 / TICKS),
        sys: Duration::from_millis(stime * 1000 / TICKS),
        rss: rss_kb * 1024,
    })
}

/// CPU time used so far: by the measured server (when its process id is known), by this
/// generator, and by the whole machine.
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    server: Option<ProcSample>,
    generator: ProcSample,
    machine: Duration,
}

/// CPU time spent between two [`CpuClock`] readings.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSpent {
    /// By the server (zero when its process id is unknown).
    pub server: Duration,
    /// By the server in the kernel.
    pub server_kernel: Duration,
    /// By this generator.
    pub generator: Duration,
    /// By everything else on the machine (the noise a figure was measured in).
    pub other: Duration,
}

impl CpuClock {
    /// Reads the clocks now; `server` is the measured process, if known.
    pub fn read(server: Option<u32>) -> Result<Self> {
        Ok(Self {
            server: server.map(sample).transpose()?,
            generator: sample(std::process::id())?,
            machine: machine_busy()?,
        })
    }

    /// What was spent from `before` to this reading.
    pub fn since(&self, before: &Self) -> CpuSpent {
        let (server, server_kernel) = match (before.server, self.server) {
            (Some(a), Some(b)) => (b.cpu.saturating_sub(a.cpu), b.sys.saturating_sub(a.sys)),
            _ => (Duration::ZERO, Duration::ZERO),
        };
        let generator = self.generator.cpu.saturating_sub(before.generator.cpu);
        let other = self
            .machine
            .saturating_sub(before.machine)
            .saturating_sub(server)
            .saturating_sub(generator);
        CpuSpent {
            server,
            server_kernel,
            generator,
            other,
        }
    }
}

impl CpuSpent {
    /// The line every relay tool prints: `role`'s CPU per message (of `messages`), then each
    /// clock's total; `note` is added inside the parenthesis after the kernel share.
    pub fn per_message(&self, role: &str, messages: usize, note: &str) -> String {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / messages.max(1) as f64;
        format!(
            "{role}_cpu_per_message_us={:.2} (kernel {:.2}{note}) {role}_cpu={:.2}s generator_cpu={:.2}s other_cpu={:.2}s",
            per(self.server),
            per(self.server_kernel),
            self.server.as_secs_f64(),
            self.generator.as_secs_f64(),
            self.other.as_secs_f64()
        )
    }
}

/// The server a load tool measures.
#[derive(Debug, clap::Args)]
// Flattened into a tool's arguments: its own description, not this one, heads the help.
#[command(about = None, long_about = None)]
pub struct Target {
    /// Server base URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base: String,
    /// Server process id, for its CPU time (optional).
    #[arg(long)]
    pub pid: Option<u32>,
}

/// Busy CPU time of the whole machine (all cores), from `/proc/stat`.
pub fn machine_busy() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let cpu = stat.lines().next().context("empty /proc/stat")?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 8 {
        bail!("unexpected /proc/stat");
    }
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    Ok(Duration::from_millis(busy * 1000 / TICKS))
}

/// Percentiles of a set of durations.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Maximum.
    pub max: Duration,
}

impl std::fmt::Display for Summary {
    /// `p50=… p99=… max=…`, the form every tool prints its latencies in.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p50, p99, max) = (ms(self.p50), ms(self.p99), ms(self.max));
        write!(f, "p50={p50} p99={p99} max={max}")
    }
}

/// Summarises samples (sorts them).
pub fn summarize(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let at = |q: f64| {
        if samples.is_empty() {
            Duration::ZERO
        } else {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i.min(samples.len() - 1)]
        }
    };
    Summary {
        count: samples.len(),
        p50: at(0.5),
        p99: at(0.99),
        max: samples.last().copied().unwrap_or_default(),
    }
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// A plain-HTTP client with a connection pool.
pub fn http_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build_http()
}

/// Sends a POST and returns status and body.
pub async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    body: impl Into<Bytes>,
) -> Result<(u16, Bytes)> {
    let req = http::Request::post(url)
        .header("user-agent", "apprtc-bench")
        .body(Full::new(body.into()))?;
    let res = client.request(req).await?;
    let status = res.status().as_u16();
    Ok((status, res.into_body().collect().await?.to_bytes()))
}

/// Joins `room` and returns the client id.
pub async fn join(
    client: &Client<HttpConnector, Full<Bytes>>,
    base: &str,
    room: &str,
) -> Result<String> {
    let (status, body) = post(client, &format!("{base}/join/{room}"), Bytes::new()).await?;
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    if status != 200 || v["result"] != "SUCCESS" {
        bail!("join {room}: {status} {v}");
    }
    Ok(v["params"]["client_id"]
        .as_str()
        .context("client_id")?
        .to_owned())
}

/// A candidate message padded to about `size` bytes.
pub fn message_of_size(size: usize) -> String {
    let head = r#"{"type":"candidate","label":0,"id":"0","candidate":""#;
    let pad = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad))
}
