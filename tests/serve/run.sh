#!/usr/bin/env bash
# `sluicegate serve` tests, self-contained from a fresh clone: the real openai SDKs as clients
# (Python `openai` in .venv, Node `openai` from tests/serve/package-lock.json) and the contract
# vectors through HTTP (the fifth runner). Under 2 minutes once the CLI is built.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "pytest==9.2.0" "openai==3.57.0"

if [ -z "${SLUICEGATE_BIN:-}" ]; then
  cargo build --locked -q -p sluicegate-cli
fi

echo "-- serve: Python openai SDK and the contract vectors over HTTP"
.venv/bin/python -m pytest tests/serve -q -p no:cacheprovider

if [ -f tests/serve/package.json ]; then
  echo "-- serve: Node openai SDK"
  (cd tests/serve && npm ci --silent --no-audit --no-fund)
  node --test tests/serve/
fi

echo "-- serve: all passed in $(( $(date +%s) - start ))s"
