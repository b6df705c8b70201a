#!/usr/bin/env bash
# Runs the benchmarks (BENCHMARKS.md explains each figure). `--quick` is the small configuration
# the test command runs so the commands cannot rot; without it, the full configuration whose
# figures BENCHMARKS.md quotes.
#
#   bench/run.sh [--quick] [--baseline <apprtc-local binary>] [--apigw-instances <n>]
#
# With `--baseline`, every relay run is repeated, right after, against that binary (an earlier
# build), so that the two builds are compared in one run on the same machine state.
# `--apigw-instances` (default 8): the aws-local stand-in's `--apigw-instances` in the relay
# latency run on the AWS path.
#
# The server runs pinned to core 0 with one worker thread, the load generator pinned to core 1,
# so the generator's own CPU is not what gets measured; both report their CPU time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=false
baseline=""
apigw_instances=8
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=true ;;
        --baseline) baseline=$(realpath "$2"); shift ;;
        --apigw-instances) apigw_instances=$2; shift ;;
        *) echo "usage: bench/run.sh [--quick] [--baseline <apprtc-local binary>] [--apigw-instances <n>]" >&2; exit 2 ;;
    esac
    shift
done

echo "# building apprtc-local, the benchmark tools and the join function (release)"
cargo build --release --locked -p apprtc-local -p apprtc-bench -p join
bin="$root/target/release"
# 9 990 rooms need 19 980 descriptors in the server and as many in the generator.
ulimit -n "$(ulimit -Hn)"
cores=$(nproc)
pin_server=""; pin_load=""
if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then pin_server="taskset -c 0"; pin_load="taskset -c 1"; fi

# Listening ports below the ephemeral range: the generator's thousands of client sockets take
# ports from that range, and a listener cannot bind one of them.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port=$((10000 + RANDOM % (ephemeral_low - 10000 - 100)))
server_bin="$bin/apprtc-local"
# The server's log of the last run, kept for a look after a failure.
server_log="$root/target/bench-server.log"
start_server() {
    # Benchmarks measure the relay, not the abuse limits: per-socket rate limits off.
    TOKIO_WORKER_THREADS=1 $pin_server "$server_bin" --no-tls --no-relay-port \
        --listen "127.0.0.1:$port" --max-messages-per-second 1000000 --message-burst 1000000 \
        --max-sockets 30000 "$@" >"$server_log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server did not start" >&2; cat "$server_log" >&2; exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; port=$((port + 1)); }
trap 'stop_server' EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r)"
echo "# start to listening, idle RSS"
t0=$(date +%s%N); start_server; t1=$(date +%s%N)
echo "start_to_listening_ms=$(( (t1 - t0) / 1000000 )) (includes the polling interval of 50 ms)"
echo "idle_rss_kb=$(grep VmRSS /proc/$server_pid/status | awk '{print $2}')"
stop_server

if $quick; then rooms_list="20"; sizes="200"; seconds=1; api_seconds=1; runs=3; else rooms_list="100 1000 9990"; sizes="200 4096"; seconds=10; api_seconds=10; runs=20; fi

# Runs a command once per build (this one, then the baseline if given), alternating, so that the
# builds are compared in one run on one machine state; the command sees the build's server binary
# in $server_bin and a room-name prefix in $tag.
each_build() {
    for build in current ${baseline:+baseline}; do
        if [ "$build" = current ]; then server_bin="$bin/apprtc-local"; tag=""; else server_bin="$baseline"; tag="baseline-"; fi
        echo "build=$build"
        "$@"
    done
    server_bin="$bin/apprtc-local"
}

# One relay_load run against a fresh server. Arguments: a name prefix, then relay_load's.
relay_load_run() {
    local name=$1; shift
    start_server
    $pin_load "$bin/relay_load" --base "http://127.0.0.1:$port" --pid "$server_pid" \
        --seconds "$seconds" --prefix "$tag$name" "$@"
    stop_server
}
relay_runs() { each_build relay_load_run "$@"; }

echo "# relay load"
for size in $sizes; do
    for rooms in $rooms_list; do
        relay_runs "r$size-$rooms" --rooms "$rooms" --size "$size"
    done
done

echo "# relay load at a fixed rate: CPU per message at the same throughput for every build (a saturated"
echo "# closed loop measures how much a server batches under a backlog as much as what a message costs)"
if $quick; then rate_rooms=""; else rate_rooms="9990"; fi
for rooms in $rate_rooms; do
    relay_runs "rate-$rooms" --rooms "$rooms" --size 200 --rate 12000
done

echo "# relay latency on the AWS path: aws-local with no injected delay (--apigw-jitter 0ms), every frame its"
echo "# own invocation on one of $apigw_instances instances; 30 rooms, each side sending bursts of 16 frames"
if [ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
    store_args=(--store dynamodb --table "${TABLE_NAME:-apprtc-rooms}"); store=dynamodb
else
    store_args=(--store memory); store=memory
fi
if $quick; then latency_bursts=2; else latency_bursts=30; fi
relay_latency_run() {
    echo "store=$store apigw_instances=$apigw_instances"
    start_server --backend aws-local --apigw-jitter 0ms --apigw-instances "$apigw_instances" "${store_args[@]}"
    $pin_load "$bin/relay_latency" --base "http://127.0.0.1:$port" --pid "$server_pid" \
        --rooms 30 --burst 16 --bursts "$latency_bursts" --prefix "${tag}latency-$store-$RANDOM"
    stop_server
}
each_build relay_latency_run

echo "# the floor: a bare TCP forwarder (no WebSocket, JSON or rooms), same ping-pong and pinning"
for size in $sizes; do
    $pin_server "$bin/tcp_floor" serve --port "$port" & floor_pid=$!
    for _ in $(seq 1 100); do ss -ltn | grep -q ":$port " && break; sleep 0.05; done
    $pin_load "$bin/tcp_floor" load --port "$port" --pid "$floor_pid" --pairs 20 --size "$size" --seconds "$seconds"
    kill "$floor_pid"; wait "$floor_pid" 2>/dev/null || true
    port=$((port + 1))
done

echo "# room API load, in-memory store"
start_server
$pin_load "$bin/api_load" --base "http://127.0.0.1:$port" --pid "$server_pid" --concurrency 32 --seconds "$api_seconds"
stop_server

echo "# Lambda cold start (x86_64 build of join, against DynamoDB Local when AWS_ENDPOINT_URL_DYNAMODB is set)"
if [ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
    TABLE_NAME="${TABLE_NAME:-apprtc-rooms}" "$bin/cold_start" --binary "$bin/join" --runs "$runs"
else
    echo "skipped: run through infra/dynamodb/local.sh for the cold start and DynamoDB figures"
fi

echo "# what a call costs on AWS: one 2-minute call through the aws-local stand-in, metered (BENCHMARKS.md)"
if [ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
    echo "skipped in the DynamoDB pass (it meters the memory store: the same call as without it)"
else
    "$bin/call_cost"
fi

echo "# call setup: two headless Chromium pages, joiner's navigation to ICE connected"
if [ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
    echo "skipped in the DynamoDB pass (the same call as without it)"
elif command -v chromedriver >/dev/null; then
    if $quick; then setups=1; else setups=10; fi
    APPRTC_CALL_SETUP_RUNS=$setups cargo test --workspace --all-features --test emulator \
        -- --ignored browser::call_setup_time --nocapture 2>/dev/null | grep '^call_setup_ms'
else
    echo "skipped: chromium and chromium-driver are not installed (the test command installs them)"
fi
