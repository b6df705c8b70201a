#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian packages, Python packages,
# DynamoDB Local), then runs format, lint and every test suite. Servers started by tests bind to
# 127.0.0.1 only; DynamoDB Local (which cannot bind to loopback only) runs in a network namespace
# that has nothing but a loopback interface.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

log() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

log "system packages"
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v turnserver >/dev/null || need+=(coturn)
command -v unshare >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
if [ ${#need[@]} -gt 0 ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

log "python packages"
# Pinned together: aws-sam-cli requires a matching cfn-lint, and an unpinned pair stops resolving
# when either is released. A failed install stops the run here, not at the first missing command.
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    boto3 cargo-lambda "cfn-lint==1.58.0" "aws-sam-cli==1.170.0"
if command -v pyenv >/dev/null; then pyenv rehash; fi

log "DynamoDB Local"
infra/dynamodb/local.sh --install

log "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add aarch64-unknown-linux-gnu >/dev/null

log "SAM template: cfn-lint, sam validate, functions = packages"
cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 sam validate --lint --region us-east-1
python3 infra/sam/check-functions.py

log "format"
cargo fmt --all --check

log "lint"
cargo clippy --workspace --all-targets --all-features -- -D warnings

log "cargo deny: licenses, bans, sources (deny.toml); advisories where the RustSec database is reachable"
command -v cargo-deny >/dev/null || cargo install --locked --quiet cargo-deny@0.20.2
cargo deny --log-level error check licenses bans sources
if timeout 15 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    cargo deny --log-level error check advisories
else
    echo "advisories not checked: github.com (the RustSec advisory database) is not reachable from this machine"
fi

log "release build (the container's build step, local/Dockerfile)"
cargo build --release --locked -p apprtc-local

log "build tests"
cargo test --workspace --all-features --no-run

log "tests (memory store, relay, browsers, coturn)"
APPRTC_REQUIRE_BROWSER=1 APPRTC_REQUIRE_COTURN=1 cargo test --workspace --all-features

log "the relay suite (spec 7.2-7.3) against the compatibility listener (port 8089's paths)"
APPRTC_TEST_RELAY_PORT=1 cargo test --all-features -p apprtc-local --test relay

log "tests against DynamoDB Local (contract, races, the AWS path through aws-local)"
APPRTC_REQUIRE_DYNAMODB=1 CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh \
    infra/dynamodb/local.sh cargo test --all-features -p room -p apprtc-local \
    --test contract --test races --test store_faults --test aws_local
APPRTC_REQUIRE_BROWSER=1 CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh \
    infra/dynamodb/local.sh cargo test --all-features -p apprtc-local --test browser -- aws_path

log "Lambda functions under cargo lambda watch, against DynamoDB Local"
CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh infra/dynamodb/local.sh infra/lambda/watch-smoke.sh

log "arm64 Lambda build of every function (cargo lambda build)"
cargo lambda build --release --arm64 --workspace --exclude apprtc-local --exclude apprtc-bench --exclude room
ls -l target/lambda/*/bootstrap

log "benchmarks, quick configuration (figures come from full runs: BENCHMARKS.md)"
bench/run.sh --quick
CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh infra/dynamodb/local.sh bench/run.sh --quick

log "all tests passed"
