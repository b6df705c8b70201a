//! The bill printed: what the call did, counted, and what it costs, as the Markdown tables
//! BENCHMARKS.md quotes.

use super::Args;
use super::call::Measured;
use super::pricing::Bill;
use room::adapters::dynamo::LIVE_SHARDS;
use std::fmt::Write as _;

/// How long the relay keeps a connection record after the socket closed
/// (`room::service::relay::CONNECTION_RECORD_TTL`): every keep-alive scan reads it meanwhile.
const CONNECTION_RECORD_HOURS: f64 = 3.0;

fn usd(x: f64) -> String {
    if x >= 0.001 {
        format!("${x:.4}")
    } else {
        format!("${x:.6}")
    }
}

fn num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round())
    } else {
        format!("{x:.2}")
    }
}
/// The report of the call `m` measured and its bill `b`.
pub fn report(args: &Args, m: &Measured, b: &Bill) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# one call: {} min on two sockets; {} + {} initiator candidates, {} joiner candidates; offer {} B",
        args.call_minutes,
        args.early_candidates,
        args.late_candidates,
        args.joiner_candidates,
        m.offer_bytes
    );
    let _ = writeln!(out, "\n## What the call did (counted)\n");
    let _ = writeln!(out, "| Lambda function | invocations |\n|---|---|");
    for (f, n) in &m.call.invocations {
        let _ = writeln!(out, "| {f} | {n} |");
    }
    let _ = writeln!(
        out,
        "| **total** | **{}** (+ 1 keep-alive sweep every {} min, whatever the traffic) |",
        m.call.lambda_invocations(),
        args.keepalive_minutes
    );
    let _ = writeln!(
        out,
        "\n| DynamoDB request | calls | conflicts | largest item | units |\n|---|---|---|---|---|"
    );
    for (op, t) in &m.call_ops {
        let u = if t.wru > 0.0 {
            format!("{} WRU", num(t.wru))
        } else {
            format!("{} RRU", num(t.rru))
        };
        let _ = writeln!(
            out,
            "| {op} | {} | {} | {} B | {u} |",
            t.calls, t.conflicts, t.largest_item
        );
    }
    let _ = writeln!(
        out,
        "| **total** | **{}** | | | **{} WRU, {} RRU** |",
        b.call_db,
        num(b.call_wru),
        num(b.call_rru)
    );
    let _ = writeln!(
        out,
        "\nAPI Gateway: {} HTTP API requests; {} WebSocket frames from the clients, {} to them \
         (PostToConnection), {} messages metered in 32 KB increments; sockets open {:.2} s in the \
         set-up and hang-up (the bench's waits for the store to go quiet included).",
        m.call.http_requests,
        m.call.frames_sent,
        m.call.frames_received,
        m.call.ws_metered,
        m.socket_minutes * 60.0
    );
    let _ = writeln!(
        out,
        "One keep-alive sweep during the call: {} frames posted, {} items read, {} B of the index \
         `registered` read ({} RRU in all, {LIVE_SHARDS} queries of half a unit at least). The call \
         leaves {} B of connection records for {CONNECTION_RECORD_HOURS} h, until their TTL; closed, \
         they are out of the index and no sweep reads them.",
        m.sweep.frames_received,
        b.sweep_gets.calls,
        b.sweep_scan.scanned_bytes,
        num(b.sweep_rru),
        m.leftover_bytes,
    );

    let _ = writeln!(
        out,
        "\n## What it costs (us-east-1 list prices)\n\n| item | per call | price | per 1 000 calls |\n|---|---|---|---|"
    );
    let mut total = 0.0;
    let mut line = |out: &mut String, item: &str, qty: String, unit: &str, cost: f64| {
        total += cost * 1000.0;
        let _ = writeln!(out, "| {item} | {qty} | {unit} | {} |", usd(cost * 1000.0));
    };
    line(
        &mut out,
        "Lambda requests",
        num(b.invocations),
        "$0.20 per million",
        b.cost.lambda_requests,
    );
    line(
        &mut out,
        "Lambda duration, 128 MB arm64",
        format!("{} ms = {:.4} GB-s", num(b.lambda_ms), b.gb_s),
        "$0.0000133334 per GB-s",
        b.cost.lambda_duration,
    );
    line(
        &mut out,
        "HTTP API requests",
        m.call.http_metered.to_string(),
        "$1.00 per million",
        b.cost.http_requests,
    );
    line(
        &mut out,
        "WebSocket messages",
        format!(
            "{} + {} keep-alive",
            m.call.ws_metered,
            num(b.share * m.sweep.ws_metered as f64)
        ),
        "$1.00 per million",
        b.cost.ws_messages,
    );
    line(
        &mut out,
        "WebSocket connection-minutes",
        format!("{:.2}", b.connection_minutes),
        "$0.25 per million",
        b.cost.ws_connection_minutes,
    );
    line(
        &mut out,
        "DynamoDB write request units",
        num(b.call_wru),
        "$0.625 per million",
        b.cost.dynamodb_writes,
    );
    line(
        &mut out,
        "DynamoDB read request units",
        format!(
            "{} + {:.2} keep-alive",
            num(b.call_rru),
            b.share * b.sweep_call_rru + b.leftover_rru
        ),
        "$0.125 per million",
        b.cost.dynamodb_reads,
    );
    let _ = writeln!(out, "| **total** | | | **{}** |", usd(total));
    let _ = writeln!(
        out,
        "\nLambda duration: {} ms per invocation, {} ms per DynamoDB request, {} ms per \
         PostToConnection (stated, not measured). Keep-alive: {} sweeps meet a call of {} min on \
         average (one every {} min); the sweep's own invocation and index queries run every {} min whatever \
         the traffic.",
        args.own_ms,
        args.dynamodb_ms,
        args.post_ms,
        num(b.share),
        args.call_minutes,
        args.keepalive_minutes,
        args.keepalive_minutes
    );
    out
}
