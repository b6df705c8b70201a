//! Lambda cold start: starts a function binary against a local stand-in for the Lambda runtime
//! API, hands it one invocation (an API Gateway HTTP event) and measures the time from process
//! start to the answer. Reports the median and spread of N runs. The function reads its settings
//! from the environment as deployed (TABLE_NAME, AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).
//!
//! The time is split: process start to the function's first poll for work (loading, settings,
//! SDK clients built: what the function controls before any request), then the first invocation
//! (connections to DynamoDB opened, its round trips), and a second, warm invocation in the same
//! process (the round trips alone), which shows what the store's answers cost.

use anyhow::{Context, Result, bail};
use apprtc_bench::{ms, summarize};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

#[derive(Debug, Parser)]
struct Args {
    /// The function binary (e.g. target/release/join).
    #[arg(long)]
    binary: String,
    /// Path of the invocation (the route is taken from the event).
    #[arg(long, default_value = "/join/coldstart")]
    path: String,
    /// Runs.
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

fn event(path: &str, n: usize) -> String {
    let room_path = format!("{path}{n}");
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": room_path, "rawQueryString": "",
        "headers": {"host": "cold.example", "user-agent": "bench", "x-forwarded-proto": "https"},
        "requestContext": {"accountId": "1", "apiId": "a", "domainName": "cold.example", "domainPrefix": "cold",
            "http": {"method": "POST", "path": room_path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 0},
        "isBase64Encoded": false
    })
    .to_string()
}

/// What the runtime API saw: a poll for work, or an answer.
#[derive(Debug)]
enum Seen {
    Poll(Instant),
    Answer(Instant, String),
}

/// Serves the runtime API: the given invocations in order, recording polls and answers.
async fn runtime_api(
    listener: tokio::net::TcpListener,
    events: Vec<String>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    let served = Arc::new(Mutex::new(0usize));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let (events, seen, served) = (events.clone(), seen.clone(), served.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (events, seen, served) = (events.clone(), seen.clone(), served.clone());
                async move {
                    let path = req.uri().path().to_owned();
                    if path.ends_with("/invocation/next") {
                        let _ = seen.send(Seen::Poll(Instant::now()));
                        let event = {
                            let mut n = served.lock().await;
                            *n += 1;
                            events.get(*n - 1).cloned()
                        };
                        let Some(event) = event else {
                            // Every invocation handed out: park the poll.
                            return std::future::pending().await;
                        };
                        let res = hyper::Response::builder()
                            .header("lambda-runtime-aws-request-id", "req-1")
                            .header("lambda-runtime-deadline-ms", "9999999999999")
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:1:function:cold",
                            )
                            .body(Full::new(Bytes::from(event)))?;
                        return Ok::<_, anyhow::Error>(res);
                    }
                    let at = Instant::now();
                    let body = req.into_body().collect().await?.to_bytes();
                    let _ = seen.send(Seen::Answer(
                        at,
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                    Ok(hyper::Response::builder()
                        .status(202)
                        .body(Full::new(Bytes::new()))?)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

/// A started function process, killed and reaped when dropped (also when a run fails).
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (mut cold, mut ready, mut first, mut warm) = (vec![], vec![], vec![], vec![]);
    for n in 0..args.runs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let events = vec![event(&args.path, 2 * n), event(&args.path, 2 * n + 1)];
        let server = tokio::spawn(runtime_api(listener, events, tx));
        let start = Instant::now();
        let child = std::process::Command::new(&args.binary)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "cold")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("RUST_LOG", "warn")
            // As deployed: the endpoint override only points the function at DynamoDB Local, so
            // it keeps the built-in Amazon roots instead of loading the machine's.
            .env("TLS_ROOTS", "aws")
            .spawn()
            .with_context(|| format!("start {}", args.binary))?;
        let child = Stopped(child);
        // Poll, answer, poll, answer.
        let mut times = Vec::new();
        while times.len() < 4 {
            let seen = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .context("no answer within 30 s")?
                .context("runtime API closed")?;
            match seen {
                Seen::Poll(at) => times.push(at),
                Seen::Answer(at, body) => {
                    if !body.contains("statusCode") {
                        bail!("unexpected answer: {body}");
                    }
                    if n == 0 && times.len() == 1 {
                        println!(
                            "first answer: {}",
                            body.chars().take(160).collect::<String>()
                        );
                    }
                    times.push(at);
                }
            }
        }
        cold.push(times[1] - start);
        ready.push(times[0] - start);
        first.push(times[1] - times[0]);
        warm.push(times[3] - times[2]);
        drop(child);
        server.abort();
    }
    let line = |name: &str, samples: &mut Vec<Duration>| {
        let s = summarize(samples);
        println!(
            "{name} p50={} p99={} max={}",
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
        s.count
    };
    let count = cold.len();
    println!("binary={} runs={count}", args.binary);
    line("cold_start_to_first_answer", &mut cold);
    line(
        "  start_to_first_poll (process, settings, SDK clients)",
        &mut ready,
    );
    line(
        "  first_invocation (connections opened, store round trips)",
        &mut first,
    );
    line("warm_invocation (store round trips alone)", &mut warm);
    Ok(())
}
