#!/usr/bin/env bash
# The README's test command. Installs what the tests need, then runs format, lint and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

log "toolchain components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

log "format"
cargo fmt --all --check

log "lint"
cargo clippy --workspace --all-targets --all-features -- -D warnings

log "tests"
cargo test --workspace --all-features
