#!/usr/bin/env bash
# Checks local/compose.yaml without a Docker engine (infra/compose/check.py says what is checked).
# Needs PyYAML and jsonschema: uses the test command's virtual environment (target/venv) when there
# is one (cfn-lint brings both), and installs them from PyPI into that interpreter when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=python3
if [ -x target/venv/bin/python3 ]; then python=target/venv/bin/python3; fi
if ! "$python" -c 'import yaml, jsonschema' 2>/dev/null; then
    "$python" -m pip install -q --disable-pip-version-check pyyaml jsonschema
fi
exec "$python" infra/compose/check.py "$@"
