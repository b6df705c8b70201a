//! What one call costs on AWS, counted rather than estimated: one call played through the
//! aws-local stand-in over a metered store, then priced at us-east-1 list prices
//! (`apprtc_bench::call_cost` has how; BENCHMARKS.md, "What a call costs on AWS", the figures).

use anyhow::{Result, ensure};
use apprtc_bench::call_cost::pricing::Bill;
use apprtc_bench::call_cost::{Args, call, report};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.call_minutes > 0.0 && args.keepalive_minutes > 0.0,
        "durations must be positive"
    );
    let measured = call::play(&args).await?;
    let bill = Bill::of(&args, &measured);
    print!("{}", report::report(&args, &measured, &bill));
    Ok(())
}
