#!/usr/bin/env bash
# Checks local/compose.yaml without a Docker engine (infra/compose/check.py says what is checked).
# Needs PyYAML and jsonschema; installs them from PyPI when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! python3 -c 'import yaml, jsonschema' 2>/dev/null; then
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore pyyaml jsonschema
fi
exec python3 infra/compose/check.py "$@"
