#!/usr/bin/env bash
# Python tests, self-contained from a fresh clone: makes .venv, builds the extension into it
# (a debug build in the shared target/), runs pytest, the examples and mypy --strict.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
start=$(date +%s)

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Pinned so that CI runs what was tested; `pip install` is a quick no-op once they are there.
.venv/bin/python -m pip install -q --disable-pip-version-check "maturin==1.16.0" "pytest==9.2.0" "mypy==2.4.1" "prometheus_client==0.26.0" "openai==3.57.0"

# The mock provider binary that vectors with `mock_server` start (skipped when SLUICEGATE_BIN is set).
if [ -z "${SLUICEGATE_BIN:-}" ]; then
  cargo build --locked -q -p sluicegate-cli
fi

echo "-- building sluicegate._native (maturin develop, debug)"
t=$(date +%s)
(cd bindings-python && VIRTUAL_ENV="$root/.venv" "$root/.venv/bin/maturin" develop --locked -q)
echo "   built in $(( $(date +%s) - t ))s"

echo "-- pytest"
.venv/bin/python -m pytest tests/python -q -p no:cacheprovider

echo "-- examples"
.venv/bin/python examples/python/sync_chat.py >/dev/null
.venv/bin/python examples/python/async_chat.py >/dev/null

echo "-- mypy --strict (package and examples)"
.venv/bin/mypy --strict --no-incremental bindings-python/python/sluicegate examples/python

echo "-- python: all passed in $(( $(date +%s) - start ))s"
