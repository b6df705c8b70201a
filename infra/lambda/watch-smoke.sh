#!/usr/bin/env bash
# Smoke test of the Lambda functions under `cargo lambda watch`, against the DynamoDB table at
# $AWS_ENDPOINT_URL_DYNAMODB (run it through infra/dynamodb/local.sh, inside
# infra/dynamodb/isolated.sh so nothing but loopback exists). Each function runs as its own
# process; clients call /lambda-url/<function>/..., as with deployed function URLs.
#
#   infra/dynamodb/isolated.sh infra/dynamodb/local.sh infra/lambda/watch-smoke.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
: "${AWS_ENDPOINT_URL_DYNAMODB:?run through infra/dynamodb/local.sh}"
port="${WATCH_PORT:-9000}"
base="http://127.0.0.1:$port/lambda-url"
log="${WATCH_LOG:-$root/target/cargo-lambda-watch.log}"

export TABLE_NAME="${TABLE_NAME:-apprtc-rooms}" RUST_LOG="${RUST_LOG:-info}"
# Listen on loopback only; the functions reach DynamoDB Local through the standard variables.
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
    --env-vars "TABLE_NAME=$TABLE_NAME,AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB,AWS_REGION=$AWS_REGION,AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" \
    >"$log" 2>&1 &
watch_pid=$!
trap 'kill $watch_pid 2>/dev/null || true; wait $watch_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 $watch_pid 2>/dev/null || { cat "$log" >&2; echo "cargo lambda watch exited" >&2; exit 1; }
    sleep 0.2
done

room="smoke-$(date +%s%N)"
call() { curl -sS --max-time 300 -X POST "$base/$1" --data-binary "${2:-}"; }
field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"v": v}))' "$1"; }
expect() { if [ "$1" != "$2" ]; then echo "FAIL: $3: expected '$2', got '$1'" >&2; exit 1; fi; echo "ok: $3"; }

a=$(call "join/$room")
expect "$(echo "$a" | field 'v["result"]')" SUCCESS "first join"
expect "$(echo "$a" | field 'v["params"]["is_initiator"]')" true "first joiner is the initiator"
ca=$(echo "$a" | field 'v["params"]["client_id"]')
m=$(call "message/$room/$ca" '{"type":"offer","sdp":"v=0"}')
expect "$(echo "$m" | field 'v["result"]')" SUCCESS "message saved while alone"
b=$(call "join/$room")
expect "$(echo "$b" | field 'v["params"]["is_initiator"]')" false "second join is the joiner"
expect "$(echo "$b" | field 'v["params"]["messages"][0]')" '{"type":"offer","sdp":"v=0"}' "joiner gets the saved offer"
c=$(call "join/$room")
expect "$(echo "$c" | field 'v["result"]')" FULL "third join"
l=$(call "leave/$room/$ca")
expect "$(echo "$l" | field 'v["result"]')" SUCCESS "leave"
d=$(call "join/$room")
expect "$(echo "$d" | field 'v["params"]["is_initiator"]')" false "room accepts a new joiner after leave"
i=$(curl -sS --max-time 300 "$base/iceconfig/")
expect "$(echo "$i" | field '"iceServers" in v')" True "iceconfig"
echo "cargo lambda watch smoke test passed"
