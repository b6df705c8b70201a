//! `apprtc-local`'s integration tests, one module per subject, in one test binary: one link of
//! the dependency tree instead of one per file (docs/testing.md, "Build time and disk").
//!
//! One subject alone: `cargo test --workspace --all-features --test emulator relay::`.

mod common;

mod aws_local;
mod bad_requests;
mod browser;
mod calls;
mod certificate;
mod codec_differential;
mod compat_port;
mod config;
mod fuzz_corpus;
mod hostile;
mod keepalive;
mod lifecycle;
mod limits;
mod observability;
mod pages;
mod relay;
mod room_api;
mod smoke;
mod store_outage;
mod trusted_https;
mod turn;
