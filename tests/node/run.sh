#!/usr/bin/env bash
# The Node binding's tests, self-contained from the repo root:  bash tests/node/run.sh
#
# Builds the sluicegate CLI (for `mock-provider`) unless SLUICEGATE_BIN is set, installs the npm
# dev dependencies, builds the addon with plain cargo (sharing target/ with the workspace), runs
# `node --test tests/node/` (vectors, API, types, npm pack) and the examples.
# Set SLUICEGATE_NODE_SKIP_PACK=1 to skip the npm pack + install check.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step "cargo build -p sluicegate-cli"
if [ -z "${SLUICEGATE_BIN:-}" ]; then
  cargo build --locked -p sluicegate-cli
  SLUICEGATE_BIN=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')/debug/sluicegate
fi
export SLUICEGATE_BIN

step "npm ci (bindings-node)"
(cd bindings-node && npm ci --no-audit --no-fund)

step "build the addon (cargo build -p sluicegate-node)"
(cd bindings-node && node scripts/build.mjs --locked)

# The examples import 'sluicegate' as a user would; point them at this checkout.
for dir in examples/node examples/typescript; do
  mkdir -p "$dir/node_modules/@types"
  ln -sfn "$ROOT/bindings-node" "$dir/node_modules/sluicegate"
  ln -sfn "$ROOT/bindings-node/node_modules/@types/node" "$dir/node_modules/@types/node"
done

step "node --test tests/node/"
node --test tests/node/

step "examples"
node examples/node/chat.mjs
bindings-node/node_modules/.bin/tsc -p examples/typescript
node examples/typescript/dist/chat.js

step "done"
