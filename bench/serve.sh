#!/usr/bin/env bash
# The `serve` target: what `sluicegate serve` adds over a direct call to the same loopback mock
# (added latency p50 at c=1, throughput at c=32, plain and streaming), measured with one client
# (Node's fetch) against both. The server runs the bench's full pipeline: a two-target route, a
# virtual key, a rate limit, a budget, a PII guardrail, metering and an audit log.
#
#   bash bench/serve.sh [--url MOCK_URL] [--quick]
#
# Writes bench/results/serve.json and bench/results/serve.md. bench/run.sh calls it with its
# mock; alone it starts its own. Uses the release CLI (built here if missing; SLUICEGATE_BIN
# names another). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
url=""
quick=()
while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    *) echo "usage: bash bench/serve.sh [--url MOCK_URL] [--quick]" >&2; exit 2 ;;
  esac
done
bin=${SLUICEGATE_BIN:-$target/release/sluicegate}
[ -x "$bin" ] || cargo build --release --locked -q -p sluicegate-cli
run_dir=$(mktemp -d -t sluicegate-bench-serve.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$run_dir"; }
trap cleanup EXIT

# Starts `sluicegate ARGS...` in the background; prints its URL once it listens.
start() {
  local out=$run_dir/$1.out
  shift
  "$bin" "$@" >"$out" 2>"$out.err" &
  pids+=($!)
  for _ in $(seq 100); do
    local u
    u=$(sed -n 's/^sluicegate [a-z-]* listening on //p' "$out")
    if [ -n "$u" ]; then echo "$u"; return; fi
    sleep 0.1
  done
  echo "bench/serve.sh: $* did not start: $(cat "$out.err")" >&2
  exit 1
}

if [ -z "$url" ]; then
  reply="The quarterly report shows revenue up eight percent, costs flat, margins improving, and a cautious outlook for the next two quarters overall."
  url=$(start mock mock-provider --port 0 --script "{\"*\": [{\"reply\": \"$reply\"}]}")
fi
key=sk-sg-bench
sha=$(printf %s "$key" | sha256sum | cut -d' ' -f1)
cat >"$run_dir/gateway.json" <<JSON
{
  "providers": {
    "primary": {"type": "openai", "api_base": "$url/v1", "api_key": "sk-bench-0000"},
    "backup": {"type": "openai", "api_base": "$url/v1", "api_key": "sk-bench-0000"}
  },
  "deployments": {"a": {"provider": "primary", "model": "gpt-4o-mini"}, "b": {"provider": "backup", "model": "gpt-4o"}},
  "routes": {"chat": {"targets": ["a", "b"]}},
  "keys": {"bench": {"sha256": "$sha", "tags": {"team": "bench"}}},
  "policies": {
    "rate_limits": [{"scope": {"tag": "team"}, "rpm": 100000000}],
    "budgets": [{"scope": {"tag": "team"}, "usd": 1000000}],
    "guardrails": [{"type": "pii", "entities": ["email", "credit_card"], "action": "redact"}]
  },
  "audit": {"path": "$run_dir/audit.jsonl"}
}
JSON
served=$(start serve serve "$run_dir/gateway.json" --port 0)
echo "-- bench serve: mock $url, sluicegate serve $served" >&2
node bench/serve/bench.js --mock "$url" --serve "$served" --key "$key" "${quick[@]}" >bench/results/serve.json
node -e '
const r = require(process.argv[1]);
const us = (x) => `${Math.round(x)} µs`;
const rps = (x) => `${Math.round(x)}/s`;
const rows = ["plain", "stream"].map((k) =>
  `| ${k} | ${us(r[k + "_direct_c1"].p50_us)} | ${us(r[k + "_serve_c1"].p50_us)} | **${us(r[k + "_added_p50_us"])}** | ${rps(r[k + "_direct_c32"].rps)} | ${rps(r[k + "_serve_c32"].rps)} | **${r[k + "_throughput_ratio_c32"].toFixed(2)}×** |`);
console.log(["## sluicegate serve vs a direct call (same mock, same client: Node fetch)", "",
  "| call | direct p50, c=1 | via serve p50, c=1 | added p50 | direct, c=32 | via serve, c=32 | serve / direct |",
  "|---|---|---|---|---|---|---|", ...rows].join("\n"));
' "$root/bench/results/serve.json" | tee bench/results/serve.md
# The machine's load when the run ended: these are ratios from one run, not a steady state.
printf '\nLoad average when the run ended: %s (%s cores).\n' "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" | tee -a bench/results/serve.md
