//! The functions' log lines under the template's `LoggingConfig: { LogFormat: JSON }`: Lambda then
//! sets `AWS_LAMBDA_LOG_FORMAT=JSON`, and the subscriber the functions install
//! (`lambda_http::tracing::init_default_subscriber`) writes one JSON object per line, each with the
//! invocation's request id from the runtime's span.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_http::Context;
use lambda_http::lambda_runtime::layers::trace::request_span;
use std::process::Command;

/// Set in the child process, which installs the subscriber from its environment.
const CHILD: &str = "APPRTC_LAMBDA_LOGS_CHILD";

#[test]
fn log_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    lambda_http::tracing::init_default_subscriber();
    let mut ctx = Context::default();
    ctx.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    let _invocation = request_span(&ctx).entered();
    tracing::info!(room = "r1", "joined");
    tracing::debug!("not at info");
    tracing::warn!(error = "room store unavailable", "join failed");
}

#[test]
fn json_log_lines_carry_the_request_id_at_the_lambda_level() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "log_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        // The test harness may print its own words before a line.
        .filter_map(|l| l.find('{').map(|i| &l[i..]))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "the debug line is below the Lambda level:\n{stdout}"
    );
    for line in &lines {
        assert_eq!(
            line["span"]["requestId"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            "{line}"
        );
    }
    assert!(
        lines[0].to_string().contains(r#""room":"r1""#),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["level"], "WARN");
    assert!(!stdout.contains('\u{1b}'));
}
