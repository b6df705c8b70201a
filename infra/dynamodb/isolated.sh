#!/usr/bin/env bash
# Runs a command inside a new network namespace that has only a loopback interface, so servers the
# command starts (DynamoDB Local listens on all interfaces) are reachable from nowhere else.
set -euo pipefail
exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' isolated "$@"
