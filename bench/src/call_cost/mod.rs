//! What one call costs on AWS, counted rather than estimated (the `call_cost` command): the
//! deployed Lambda handlers run behind the aws-local stand-in for API Gateway
//! (`apprtc_local::server::Server::aws_local`), over the memory store wrapped in a meter that
//! turns every store call into the DynamoDB request it stands for (`room::adapters::dynamo`) and
//! its read or write request units. Two clients play one call as the web client does it through
//! the real HTTP and WebSocket endpoints; the meter, the requests and the frames are then priced
//! at us-east-1 list prices (BENCHMARKS.md, "What a call costs on AWS", cites the pages).
//!
//! Time is the one thing not played in full: each socket is billed `--call-minutes` of
//! connection time on a simulated clock, plus the seconds it was really open here (its
//! signaling takes a fraction of a second; nothing happens on the sockets in between but the
//! keep-alive). The keep-alive function runs on its schedule, set here to fire once between the
//! call's set-up and its hang-up, so what one sweep costs the call is measured; a call of
//! `--call-minutes` meets `call-minutes / keepalive-minutes` sweeps on average (for a call
//! shorter than the schedule, the chance that one lands in it).
//!
//! The parts, each using only those listed before it: [`meter`] (the metered store),
//! [`stand_in`] (the server over it), [`messages`] (what the clients say), [`client`] (the two
//! browsers as API Gateway meters them), [`call`] (the call played), [`pricing`] (the bill's
//! arithmetic), [`report`] (the bill printed).

pub mod call;
pub mod client;
pub mod messages;
pub mod meter;
pub mod pricing;
pub mod report;
pub mod stand_in;

use std::time::Duration;

/// The call to play and the figures the bill states rather than measures.
#[derive(Debug, clap::Parser)]
pub struct Args {
    /// Connection time of the call (each of its two sockets), on the simulated clock.
    #[arg(long, default_value_t = 2.0)]
    pub call_minutes: f64,
    /// Candidates the initiator gathers before the joiner arrives (saved in the room).
    #[arg(long, default_value_t = 4)]
    pub early_candidates: usize,
    /// Candidates the initiator trickles after the joiner arrived (forwarded by the relay).
    #[arg(long, default_value_t = 2)]
    pub late_candidates: usize,
    /// Candidates the joiner trickles over its socket.
    #[arg(long, default_value_t = 6)]
    pub joiner_candidates: usize,
    /// The deployment's keep-alive schedule (template.yaml `KeepaliveSchedule`), in minutes.
    #[arg(long, default_value_t = 5.0)]
    pub keepalive_minutes: f64,
    /// How long the stand-in's keep-alive schedule waits before its first sweep (and between
    /// sweeps): longer than the call's set-up takes here, and than its hang-up.
    #[arg(long, default_value = "3s", value_parser = room::config::parse_duration)]
    pub sweep_after: Duration,
    /// Billed Lambda time of an invocation besides its round trips (ms).
    #[arg(long, default_value_t = 1.0)]
    pub own_ms: f64,
    /// Round trip of one DynamoDB request from Lambda in the same region (ms).
    #[arg(long, default_value_t = 5.0)]
    pub dynamodb_ms: f64,
    /// Round trip of one PostToConnection from Lambda (ms).
    #[arg(long, default_value_t = 10.0)]
    pub post_ms: f64,
}
