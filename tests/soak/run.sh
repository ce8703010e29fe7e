#!/usr/bin/env bash
# The budget soak (issue 14): Python, Node, Rust and C processes x 16 callers on one redis-server,
# one $1 budget and one mock provider; recorded spend must equal billed spend. Needs the Python
# package in .venv (tests/python/run.sh), the Node addon (tests/node/run.sh), redis-server and
# redis-cli, and gcc with libcjson-dev for the C worker. SOAK_CALLS_EACH (default 14) sets the
# calls per caller; SOAK_LANGS (default python,node,rust,c) picks the processes.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q -p sluicegate-cli
cargo build -q -p sluicegate --example soak_worker
cargo build -q -p sluicegate-c
mkdir -p target/soak/lib
ln -sf ../../debug/libsluicegate.so target/soak/lib/libsluicegate.so.0
ln -sf libsluicegate.so.0 target/soak/lib/libsluicegate.so
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -g -Iinclude -pthread tests/soak/worker.c \
  -Ltarget/soak/lib -lsluicegate -Wl,-rpath,"$PWD/target/soak/lib" -lcjson -lm -o target/soak/worker_c
.venv/bin/python tests/soak/soak.py
