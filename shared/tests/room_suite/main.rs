//! The `room` crate's integration tests, one module per subject, in one test binary (one link of
//! the dependency tree instead of one per file). `lambda_logs` stays a binary of its own: it
//! installs the process's global log subscriber.
//!
//! One subject alone: `cargo test -p room --all-features --test room_suite contract::`.

mod support;

mod contract;
#[cfg(feature = "fuzzing")]
mod fuzz_corpus;
#[cfg(feature = "lambda")]
mod lambda_glue;
mod races;
mod relay_interleavings;
mod service;
mod store_calls;
#[cfg(feature = "lambda")]
mod store_faults;
mod stored_relay;
