#!/usr/bin/env bash
# Runs every test: Rust (core units + contract vectors), C, Python and Node.
# First scripts/setup.sh installs the system packages the tests need (or, when it cannot, stops
# with one line naming them, before any build); then each language's script installs what it
# needs (venv, npm packages) and reuses target/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

echo "== Set-up: toolchains and system packages"
bash scripts/setup.sh

# The Redis tests start their own redis-server on a free loopback port; here it must exist.
export SG_REQUIRE_REDIS=1

echo "== Rust: build, unit tests, contract vectors"
cargo build --locked
cargo test --locked
# The benchmark crate is not a default member: check that it still builds.
cargo check --locked -q -p sluicegate-bench

echo "== Docs: every reference resolves (doc files, sections, Markdown links, rustdoc links)"
python3 tests/docs/check_refs.py
python3 tests/docs/check_promises.py
RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -A rustdoc::private_intra_doc_links" \
  cargo doc --locked --no-deps -q -p sluicegate --all-features --document-private-items

echo "== C"
bash tests/c/run.sh
bash tests/c/quickstart.sh
bash tests/dashboard/run.sh

echo "== Python"
bash tests/python/run.sh
bash tests/serve/run.sh

echo "== Node"
bash tests/node/run.sh

echo "== Shared state across processes and languages (Redis)"
bash tests/multiprocess/run.sh

echo "== Budget soak: Python, Node and Rust processes on one budget; recorded spend = billed spend"
bash tests/soak/run.sh

echo "== all tests passed in $(( $(date +%s) - start ))s"
