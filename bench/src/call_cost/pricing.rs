//! The bill's arithmetic: us-east-1 list prices, and what the measured call comes to in each
//! billed quantity once the keep-alive sweep is shared out over the call's minutes.

use super::Args;
use super::call::Measured;
use super::meter::{GET_QUEUE, GET_ROOM, OpTally, SCAN};
use std::collections::BTreeMap;

/// us-east-1 list prices in USD (BENCHMARKS.md, "What a call costs on AWS", cites the pages).
pub mod price {
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Lambda duration on arm64, per GB-second (first 7.5 billion GB-seconds of a month).
    pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
    /// template.yaml `MemorySize: 128`, in GB.
    pub const LAMBDA_GB: f64 = 128.0 / 1024.0;
    /// HTTP API, per request of up to 512 KB (first 300 million of a month).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
    /// WebSocket API, per message of up to 32 KB, either direction (first billion of a month).
    pub const WS_MESSAGE: f64 = 1.00 / 1e6;
    /// WebSocket API, per connection-minute.
    pub const WS_CONNECTION_MINUTE: f64 = 0.25 / 1e6;
    /// DynamoDB on-demand, per write request unit (since the price cut of 1 November 2024).
    pub const DYNAMODB_WRU: f64 = 0.625 / 1e6;
    /// DynamoDB on-demand, per read request unit (idem).
    pub const DYNAMODB_RRU: f64 = 0.125 / 1e6;
}

/// Read units, write units and requests of `ops` together.
fn units(ops: &BTreeMap<&'static str, OpTally>) -> (f64, f64, u64) {
    ops.values().fold((0.0, 0.0, 0), |(r, w, n), t| {
        (r + t.rru, w + t.wru, n + t.calls)
    })
}

/// One call's billed quantities, and what each costs in USD.
#[derive(Debug)]
pub struct Bill {
    /// Keep-alive sweeps that meet the call, on average: one every `keepalive_minutes`.
    pub share: f64,
    /// Read units of the set-up and the hang-up.
    pub call_rru: f64,
    /// Write units of the set-up and the hang-up.
    pub call_wru: f64,
    /// DynamoDB requests of the set-up and the hang-up.
    pub call_db: u64,
    /// Read units of the whole sweep.
    pub sweep_rru: f64,
    /// The sweep's query of the index.
    pub sweep_scan: OpTally,
    /// The sweep's reads of the call's items: its queues (and a room, where one is read).
    pub sweep_gets: OpTally,
    /// What a sweep reads because this call is in progress.
    pub sweep_call_rru: f64,
    /// What the call's connection items left in the table cost the sweeps until their TTL.
    pub leftover_rru: f64,
    /// Lambda invocations of the call.
    pub invocations: f64,
    /// Billed Lambda time, the call's share of the sweep's included.
    pub lambda_ms: f64,
    /// The same in GB-seconds.
    pub gb_s: f64,
    /// WebSocket messages, the call's share of the sweep's included.
    pub messages: f64,
    /// WebSocket connection-minutes of both sockets.
    pub connection_minutes: f64,
    /// Read units, the call's share of the sweep's included.
    pub rru: f64,
    /// What each billed quantity costs.
    pub cost: Cost,
}

/// USD per call of each billed quantity.
#[derive(Debug)]
pub struct Cost {
    /// Lambda requests.
    pub lambda_requests: f64,
    /// Lambda duration.
    pub lambda_duration: f64,
    /// HTTP API requests.
    pub http_requests: f64,
    /// WebSocket messages.
    pub ws_messages: f64,
    /// WebSocket connection-minutes.
    pub ws_connection_minutes: f64,
    /// DynamoDB write request units.
    pub dynamodb_writes: f64,
    /// DynamoDB read request units.
    pub dynamodb_reads: f64,
}

impl Bill {
    /// The bill of the call `m` measured, with the times `args` state.
    pub fn of(args: &Args, m: &Measured) -> Self {
        let share = args.call_minutes / args.keepalive_minutes;
        let (call_rru, call_wru, call_db) = units(&m.call_ops);
        let (sweep_rru, _, _) = units(&m.sweep_ops);
        let sweep_scan = m.sweep_ops.get(SCAN).cloned().unwrap_or_default();
        let sweep_gets = [GET_ROOM, GET_QUEUE]
            .iter()
            .filter_map(|op| m.sweep_ops.get(op))
            .fold(OpTally::default(), |mut all, t| {
                all.calls += t.calls;
                all.rru += t.rru;
                all
            });
        // What a sweep costs because this call is in progress: its frames, its room read and its
        // items' part of the scan (the sweep's invocation and the rest of its scan run anyway).
        let sweep_call_rru = sweep_gets.rru + sweep_scan.scanned_bytes as f64 / 4096.0 * 0.5;
        // Closed connection items leave the index: no sweep reads them while they wait for the TTL.
        let leftover_rru = 0.0;

        let invocations = m.call.lambda_invocations() as f64;
        let lambda_ms = invocations * args.own_ms
            + call_db as f64 * args.dynamodb_ms
            + m.call.frames_received as f64 * args.post_ms
            + share
                * (sweep_gets.calls as f64 * args.dynamodb_ms
                    + m.sweep.frames_received as f64 * args.post_ms);
        let gb_s = lambda_ms / 1000.0 * price::LAMBDA_GB;
        let messages = m.call.ws_metered as f64 + share * m.sweep.ws_metered as f64;
        let connection_minutes = 2.0 * args.call_minutes + m.socket_minutes;
        let rru = call_rru + share * sweep_call_rru + leftover_rru;
        let cost = Cost {
            lambda_requests: invocations * price::LAMBDA_REQUEST,
            lambda_duration: gb_s * price::LAMBDA_ARM_GB_SECOND,
            http_requests: m.call.http_metered as f64 * price::HTTP_API_REQUEST,
            ws_messages: messages * price::WS_MESSAGE,
            ws_connection_minutes: connection_minutes * price::WS_CONNECTION_MINUTE,
            dynamodb_writes: call_wru * price::DYNAMODB_WRU,
            dynamodb_reads: rru * price::DYNAMODB_RRU,
        };
        Self {
            share,
            call_rru,
            call_wru,
            call_db,
            sweep_rru,
            sweep_scan,
            sweep_gets,
            sweep_call_rru,
            leftover_rru,
            invocations,
            lambda_ms,
            gb_s,
            messages,
            connection_minutes,
            rru,
            cost,
        }
    }
}
