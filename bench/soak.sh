#!/usr/bin/env bash
# The soak (BENCHMARKS.md, "Load over time"): rooms held and relaying at a fixed rate for a long
# time, with a timeline of the server's RSS and CPU per message. Defaults: 9 990 rooms (19 980
# sockets: the most one process may open under this machine's limit of 20 000 descriptors),
# 20 000 relayed messages per second, 10 minutes, a line every 30 s.
#
#   bench/soak.sh [rooms] [minutes] [messages_per_second]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rooms=${1:-9990}
minutes=${2:-10}
rate=${3:-20000}

cargo build --release --locked -p apprtc-local -p apprtc-bench >/dev/null
bin="$root/target/release"
ulimit -n "$(ulimit -Hn)"
pin_server=""; pin_load=""
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then pin_server="taskset -c 0"; pin_load="taskset -c 1"; fi
# Listening ports below the ephemeral range: the generator's thousands of client sockets take
# ports from that range, and a listener cannot bind one of them.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port=$((10000 + RANDOM % (ephemeral_low - 10000 - 100)))
log=$(mktemp)
TOKIO_WORKER_THREADS=1 $pin_server "$bin/apprtc-local" --no-tls --no-relay-port \
    --listen "127.0.0.1:$port" --max-messages-per-second 1000000 --message-burst 1000000 \
    --max-connections-per-minute 1000000 --max-joins-per-minute 1000000 \
    --max-sockets "$((rooms * 2 + 10))" >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
echo "# soak: $rooms rooms ($((rooms * 2)) sockets), $rate messages/s, $minutes min; $(nproc) cores, $(uname -r)"
$pin_load "$bin/relay_load" --base "http://127.0.0.1:$port" --pid "$server_pid" \
    --rooms "$rooms" --size 200 --seconds "$((minutes * 60))" --rate "$rate" \
    --sample-every 30 --prefix "soak$$"
kill -0 "$server_pid" || { echo "the server died" >&2; cat "$log" >&2; exit 1; }
echo "server still running; its warnings:"
grep -c -i "warn\|error" "$log" || true
