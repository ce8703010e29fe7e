#!/usr/bin/env bash
# Runs every test: Rust (core units + contract vectors), C, Python and Node.
# Each language's script installs what it needs (venv, npm packages) and reuses target/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# The Redis tests start their own redis-server on a free loopback port; here it must exist.
export SG_REQUIRE_REDIS=1

echo "== Rust: build, unit tests, contract vectors"
cargo build --locked
cargo test --locked

echo "== C"
bash tests/c/run.sh

echo "== Python"
bash tests/python/run.sh

echo "== Node"
bash tests/node/run.sh

echo "== Shared state across processes and languages (Redis)"
bash tests/multiprocess/run.sh

echo "== all tests passed in $(( $(date +%s) - start ))s"
