//! Lambda cold start: starts a function binary against a local stand-in for the Lambda runtime
//! API, hands it one invocation (an API Gateway HTTP event) and measures the time from process
//! start to the answer. Reports the median and spread of N runs. The function reads its settings
//! from the environment as deployed (TABLE_NAME, AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local).

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

/// Serves the runtime API: one invocation, then records the response.
async fn runtime_api(
    listener: tokio::net::TcpListener,
    event: String,
    done: mpsc::Sender<(Instant, String)>,
) {
    let served = Arc::new(Mutex::new(false));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let (event, done, served) = (event.clone(), done.clone(), served.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let (event, done, served) = (event.clone(), done.clone(), served.clone());
                async move {
                    let path = req.uri().path().to_owned();
                    if path.ends_with("/invocation/next") {
                        let already = std::mem::replace(&mut *served.lock().await, true);
                        if already {
                            // One invocation per process: park the next poll.
                            std::future::pending::<()>().await;
                        }
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
                    let _ = done
                        .send((at, String::from_utf8_lossy(&body).into_owned()))
                        .await;
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

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut samples = Vec::new();
    for n in 0..args.runs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, mut rx) = mpsc::channel(1);
        let server = tokio::spawn(runtime_api(listener, event(&args.path, n), tx));
        let start = Instant::now();
        let mut child = tokio::process::Command::new(&args.binary)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "cold")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", args.binary))?;
        let (at, body) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .context("no answer within 30 s")?
            .context("runtime API closed")?;
        if !body.contains("statusCode") {
            bail!("unexpected answer: {body}");
        }
        samples.push(at - start);
        let _ = child.kill().await;
        server.abort();
        if n == 0 {
            println!(
                "first answer: {}",
                body.chars().take(160).collect::<String>()
            );
        }
    }
    let s = summarize(&mut samples);
    println!(
        "binary={} runs={} cold_start_to_first_answer p50={} p99={} max={}",
        args.binary,
        s.count,
        ms(s.p50),
        ms(s.p99),
        ms(s.max)
    );
    Ok(())
}
