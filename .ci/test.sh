#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian packages, Python tools in
# target/venv, DynamoDB Local), then runs format, lint and every test suite. Servers started by
# tests bind to 127.0.0.1 only; DynamoDB Local (which cannot bind to loopback only) runs in a
# network namespace that has nothing but a loopback interface. Runs as root, or as a user with
# sudo rights (only the Debian packages need them).
#
#   bash .ci/test.sh             # install, then every check and test
#   bash .ci/test.sh --install   # only install what the tests need
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The run builds each crate once: incremental compilation's saved state would only take disk
# (2.3 GB of target/debug when each test file was a binary of its own).
export CARGO_INCREMENTAL=0

# Every stage starts with `log`; the run ends with a table of the stages and their times (also
# when a stage fails), and a stage that prints nothing for a while is still seen to run: a line
# every 50 seconds names it and how long it has taken.
mkdir -p target
stage_file="$PWD/target/ci-stage"
stage_names=()
stage_times=()
stage=""
stage_start=$SECONDS
end_stage() {
    if [ -n "$stage" ]; then
        stage_names+=("$stage")
        stage_times+=($((SECONDS - stage_start)))
    fi
    stage=""
}
log() {
    end_stage
    stage="$*"
    stage_start=$SECONDS
    printf '%s %s\n' "$(date +%s)" "$stage" >"$stage_file"
    printf '\n== %s\n' "$*"
}
stage_table() {
    local rc=$?
    end_stage
    [ -n "${ticker:-}" ] && kill "$ticker" 2>/dev/null
    rm -f "$stage_file"
    printf '\n== stage times (%s)\n' "$([ "$rc" -eq 0 ] && echo passed || echo "failed, exit $rc")"
    local i
    for i in "${!stage_names[@]}"; do
        printf '%4d:%02d  %s\n' $((stage_times[i] / 60)) $((stage_times[i] % 60)) "${stage_names[i]}"
    done
    printf '%4d:%02d  total\n' $((SECONDS / 60)) $((SECONDS % 60))
    return "$rc"
}
trap stage_table EXIT
(
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
        sleep 50 &
        nap=$!
        wait "$nap"
        read -r started name <"$stage_file" 2>/dev/null || continue
        elapsed=$(($(date +%s) - started))
        printf '   ... still running: %s (%d:%02d)\n' "$name" $((elapsed / 60)) $((elapsed % 60))
    done
) &
ticker=$!
# One line for each thing the script installs, so a run says what it changed on the machine.
installing() { printf '+ installing %s\n' "$*"; }
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "installing needs root: run as root, or install sudo and give $(id -un) sudo rights" >&2
        exit 1
    fi
}

install_only=false
[ "${1:-}" = "--install" ] && install_only=true

log "system packages"
need=()
# want COMMAND PACKAGE WHAT-FOR: the Debian package that brings COMMAND, when it is missing.
want() {
    if ! command -v "$1" >/dev/null; then
        need+=("$2")
        installing "$2 (Debian): $3"
    fi
}
want chromium chromium "the browser tests"
want chromedriver chromium-driver "the browser tests"
want certutil libnss3-tools "the trusted-HTTPS browser test (Chromium's NSS trust store)"
want turnserver coturn "the TURN tests"
want unshare util-linux "the loopback-only network namespace (infra/dynamodb/isolated.sh)"
want ip iproute2 "the loopback-only network namespace (infra/dynamodb/isolated.sh)"
want java openjdk-17-jre-headless "DynamoDB Local"
want node nodejs "npm, which installs DynamoDB Local"
want npm npm "installs DynamoDB Local"
want python3 python3 "the Python tools (SAM checks, table creation)"
# Debian ships venv and ensurepip apart from python3.
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    need+=(python3-venv)
    installing "python3-venv (Debian): the Python tools' virtual environment"
fi
if [ ${#need[@]} -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for tool in chromium chromedriver certutil turnserver unshare ip java node npm python3; do
    command -v "$tool" >/dev/null || { echo "$tool is still missing after the install" >&2; exit 1; }
done
python3 -c 'import venv, ensurepip' 2>/dev/null \
    || { echo "python3 $(command -v python3) has no venv/ensurepip module" >&2; exit 1; }
echo "node $(node --version), npm $(npm --version), $(python3 --version)"

log "python tools (target/venv)"
# Pinned together: aws-sam-cli requires a matching cfn-lint, and an unpinned pair stops resolving
# when either is released. They go into a virtual environment of the project's own (current
# Debian and Ubuntu refuse pip installs into the system interpreter, PEP 668); a failed install
# stops the run here, not at the first missing command.
venv="$PWD/target/venv"
python_tools=(boto3 cargo-lambda "cfn-lint==1.58.0" "aws-sam-cli==1.170.0")
# Exits 0 when the venv's interpreter runs and has every tool at its pinned version.
has_python_tools() {
    "$venv/bin/python3" - "${python_tools[@]}" 2>/dev/null <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for req in sys.argv[1:]:
    name, _, pinned = req.partition("==")
    try:
        found = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if pinned and found != pinned:
        sys.exit(1)
PY
}
if has_python_tools; then
    echo "target/venv already has ${python_tools[*]}"
else
    if ! "$venv/bin/python3" -c '' 2>/dev/null; then
        installing "a Python virtual environment in target/venv ($(python3 --version))"
        python3 -m venv --clear "$venv"
    fi
    installing "${python_tools[*]} (PyPI) into target/venv"
    "$venv/bin/python3" -m pip install -q --disable-pip-version-check "${python_tools[@]}"
    has_python_tools || { echo "target/venv lacks one of ${python_tools[*]} after the install" >&2; exit 1; }
fi
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"

log "DynamoDB Local"
infra/dynamodb/local.sh --install

log "toolchain components"
components=$(rustup component list --installed 2>/dev/null || true)
for component in rustfmt clippy; do
    if ! grep -q "^$component-" <<<"$components"; then
        installing "$component (rustup)"
        rustup component add "$component" >/dev/null 2>&1 || true
    fi
done
targets=$(rustup target list --installed)
if ! grep -qx aarch64-unknown-linux-gnu <<<"$targets"; then
    installing "the Rust target aarch64-unknown-linux-gnu (rustup): the arm64 Lambda build"
    rustup target add aarch64-unknown-linux-gnu >/dev/null
fi
if ! command -v cargo-deny >/dev/null; then
    installing "cargo-deny 0.20.2 (crates.io)"
    # Without its release profile's fat LTO and single codegen unit: 2 minutes to build on two
    # cores instead of 4 to 5, for a tool that checks one lockfile in a second either way.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install --locked --quiet cargo-deny@0.20.2
fi

if $install_only; then
    log "installed what the tests need (--install: no checks or tests run)"
    exit 0
fi

log "SAM template: cfn-lint, sam validate, functions = packages"
cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 sam validate --lint --region us-east-1
python3 infra/sam/check-functions.py

log "compose file (local/compose.yaml) without a Docker engine, coturn with its configuration"
APPRTC_REQUIRE_COTURN=1 bash infra/compose/check.sh

log "documentation: every shown command run by CI or checked by a named test; links; settings"
python3 infra/docs/check.py

log "format"
cargo fmt --all --check

log "lint"
cargo clippy --workspace --all-targets --all-features -- -D warnings

log "cargo deny: licenses, bans, sources (deny.toml); advisories where the RustSec database is reachable"
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

log "the relay suite (docs/protocol.md §7.2-7.3) against the compatibility listener (port 8089's paths)"
APPRTC_TEST_RELAY_PORT=1 cargo test --workspace --all-features --test emulator relay::

log "the relay suite and the call sequences against the AWS path (aws-local: every frame its own invocation, 10 ms jitter)"
APPRTC_TEST_BACKEND=aws-local cargo test --workspace --all-features --test emulator -- relay:: calls::

log "tests against DynamoDB Local (contract, races, the AWS path through aws-local)"
APPRTC_REQUIRE_DYNAMODB=1 CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh \
    infra/dynamodb/local.sh cargo test --workspace --all-features \
    --test room_suite --test emulator -- contract:: races:: store_faults:: aws_local:: store_outage:: keepalive::
APPRTC_REQUIRE_BROWSER=1 CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh \
    infra/dynamodb/local.sh cargo test --workspace --all-features --test emulator -- browser::browsers_call_through_the_aws_path

log "Lambda functions under cargo lambda watch, against DynamoDB Local"
CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh infra/dynamodb/local.sh infra/lambda/watch-smoke.sh

log "sam build: every function for Lambda (arm64), as the deploy steps build it"
SAM_CLI_TELEMETRY=0 sam build --build-in-source
for fn in $(sed -n 's/^FUNCTIONS := //p' infra/sam/Makefile); do
    ls -l ".aws-sam/build/$fn/bootstrap"
done

log "benchmarks, quick configuration (figures come from full runs: BENCHMARKS.md)"
bench/run.sh --quick
CARGO_NET_OFFLINE=true infra/dynamodb/isolated.sh infra/dynamodb/local.sh bench/run.sh --quick

log "all tests passed"
