#!/usr/bin/env bash
# Runs a command inside a new network namespace that has only a loopback interface, so servers the
# command starts (DynamoDB Local listens on all interfaces) are reachable from nowhere else.
#
# As root: `unshare --net`. As any other user no root is needed: a user namespace in which the
# user is root owns the new network namespace and brings its loopback up, then a second user
# namespace inside it maps the user back to their own uid and gid, so the command runs as the
# user it was started by (same files, HOME, cargo and rustup), only without a network.
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then
    exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' isolated "$@"
fi
if ! unshare --user --map-root-user --net -- ip link set lo up 2>/dev/null; then
    echo "isolated.sh: this user cannot create a user namespace with its own network" \
        "(unshare --user --map-root-user --net failed; see the sysctls user.max_user_namespaces" \
        "and kernel.apparmor_restrict_unprivileged_userns); run as root instead" >&2
    exit 1
fi
exec unshare --user --map-root-user --net -- bash -c \
    'ip link set lo up && exec unshare --user --map-user="$1" --map-group="$2" -- "${@:3}"' \
    isolated "$(id -u)" "$(id -g)" "$@"
