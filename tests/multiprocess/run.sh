#!/usr/bin/env bash
# Cross-process, cross-language shared state through Redis. Needs the Python package installed in
# .venv (tests/python/run.sh) and the Node addon built (tests/node/run.sh), and redis-server.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python tests/multiprocess/multiprocess.py
