#!/usr/bin/env bash
# The budget soak (issue 14): Python, Node and Rust processes x 16 callers on one redis-server,
# one $1 budget and one mock provider; recorded spend must equal billed spend. Needs the Python
# package in .venv (tests/python/run.sh), the Node addon (tests/node/run.sh), redis-server and
# redis-cli. SOAK_CALLS_EACH (default 14) sets the calls per caller.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q -p sluicegate-cli
cargo build -q -p sluicegate --example soak_worker
.venv/bin/python tests/soak/soak.py
