#!/usr/bin/env bash
# The whole benchmark suite, from a fresh clone, in one command:
#
#   bash bench/run.sh [--quick]
#
# Installs the peers (bench/.venv, bench/node/node_modules), builds sluicegate in release (CLI,
# C library, Node addon, Python wheel, the Rust bench), starts ONE loopback mock provider that
# every client calls, runs Rust, Python, Node, C and the memory checks, then prints one markdown
# table and writes bench/results/latest.json. Compare two runs with
#   bench/.venv/bin/python bench/compare.py BASELINE.json bench/results/latest.json
# Not part of the test command. Loopback only; every loop is bounded in count and time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bench=$root/bench
target=${CARGO_TARGET_DIR:-$root/target}
quick=()
growth_n=100000
for a in "$@"; do
  case "$a" in
    --quick) quick=(--quick); growth_n=20000 ;;
    *) echo "usage: bash bench/run.sh [--quick]" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
step() { echo "-- $* ($(( $(date +%s) - start ))s)" >&2; }
results=$bench/results
mkdir -p "$results"
run_dir=$(mktemp -d -t sluicegate-bench.XXXXXX)

# ---------------------------------------------------------------------------------------------
step "peers: bench/.venv (pinned) and bench/node/node_modules"
py=$bench/.venv/bin/python
[ -x "$py" ] || python3 -m venv "$bench/.venv"
"$py" -m pip install -q --disable-pip-version-check \
  "maturin==1.16.0" "httpx==0.28.1" "openai==3.57.0" "litellm==1.110.2" "tensorzero==2026.6.0"
if [ ! -d "$bench/node/node_modules/openai" ]; then
  (cd "$bench/node" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
if ! echo '#include <curl/curl.h>' | cc -E - >/dev/null 2>&1; then
  echo "bench: libcurl headers missing; installing libcurl4-openssl-dev" >&2
  apt-get install -y -q libcurl4-openssl-dev >&2 || { echo "bench: run 'apt-get install libcurl4-openssl-dev'" >&2; exit 1; }
fi

step "build (release): CLI, C library, Node addon, Rust bench"
cargo build --release --locked -q -p sluicegate-cli -p sluicegate-c -p sluicegate-node -p sluicegate-bench
# The Node loader honours SLUICEGATE_NATIVE, so the bench uses its own copy of the release addon
# and leaves bindings-node/sluicegate.<platform>.node (the tests' build) alone.
cp "$target/release/libsluicegate_node.so" "$bench/node/sluicegate.release.node.tmp"
mv "$bench/node/sluicegate.release.node.tmp" "$bench/node/sluicegate.release.node"
export SLUICEGATE_NATIVE=$bench/node/sluicegate.release.node

step "build (release): Python wheel into bench/.venv"
rm -rf "$bench/.wheels"
(cd bindings-python && VIRTUAL_ENV=$bench/.venv CARGO_TARGET_DIR=$target "$bench/.venv/bin/maturin" build --release --locked -q \
  -i "$py" -o "$bench/.wheels" >&2)
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$bench"/.wheels/sluicegate-*.whl

step "build: C bench (gcc -O2, libsluicegate + libcurl)"
# The library's SONAME is libsluicegate.so.0: the bench links against its own copy under that name.
mkdir -p "$bench/c/build/lib"
cp "$target/release/libsluicegate.so" "$bench/c/build/lib/libsluicegate.so.0"
ln -sf libsluicegate.so.0 "$bench/c/build/lib/libsluicegate.so"
cc -O2 -Wall -o "$bench/c/build/bench" "$bench/c/bench.c" -I include -L "$bench/c/build/lib" -lsluicegate \
  -Wl,-rpath,"$bench/c/build/lib" -lcurl

# ---------------------------------------------------------------------------------------------
# One mock provider for every client. A fixed 24-word reply: plain calls get one message,
# streams get one chunk per word.
reply="The quarterly report shows revenue up eight percent, costs flat, margins improving, and a cautious outlook for the next two quarters overall."
script=$(printf '{"*": [{"reply": "%s"}]}' "$reply")
"$target/release/sluicegate" mock-provider --port 0 --script "$script" >"$run_dir/mock.out" 2>"$run_dir/mock.err" &
mock_pid=$!
cleanup() { kill "$mock_pid" ${redis_pid:-} 2>/dev/null || true; rm -rf "$run_dir"; rm -f /tmp/sluicegate-bench-*.jsonl /tmp/sluicegate-bench-*.toml; }
trap cleanup EXIT
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^sluicegate mock-provider listening on //p' "$run_dir/mock.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "bench: the mock provider did not start: $(cat "$run_dir/mock.err")" >&2; exit 1; }
step "mock provider at $url (pid $mock_pid)"
mock_script() { curl -sf -X POST -H 'content-type: application/json' --data "$1" "$url/_mock/script" >/dev/null; }

step "rust: sluicegate-bench ${quick[*]} (built above; it writes bench/results/rust.json)"
rm -f "$results/rust.json"
# The binary built above, not `cargo run -p`: one package alone unifies features differently
# and would relink it.
# A throwaway redis-server on loopback, when installed, for the Redis policy-check figure.
redis_pid=""
if command -v redis-server >/dev/null; then
  redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$run_dir/redis.log" 2>&1 &
  redis_pid=$!
  sleep 0.5
  export BENCH_REDIS_URL="redis://127.0.0.1:$redis_port/0"
fi
"$target/release/sluicegate-bench" "${quick[@]}" >"$run_dir/rust.md"
if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; unset BENCH_REDIS_URL; fi
cat "$run_dir/rust.md" >&2

step "c: sg_chat vs libcurl, c=1"
"$bench/c/build/bench" "$url" "${quick[@]}" >"$run_dir/c.json"

step "python: sluicegate sync/async vs httpx, openai, TensorZero embedded, LiteLLM Router"
"$py" "$bench/python/bench.py" throughput --url "$url" "${quick[@]}" >"$run_dir/python.json"

step "node: sluicegate vs openai SDK vs fetch"
node "$bench/node/bench.js" throughput --url "$url" "${quick[@]}" >"$run_dir/node.json"

step "serve: sluicegate serve vs a direct call, one client (bench/serve.sh)"
bash "$bench/serve.sh" --url "$url" "${quick[@]}" >&2

step "memory: footprints (import/require + a built client)"
{
  echo "{"
  for w in python sluicegate openai tensorzero litellm; do
    echo "\"py_$w\": $("$py" -I "$bench/python/footprint.py" "$w" "$url"),"
  done
  for w in node sluicegate openai; do
    echo "\"node_$w\": $(cd "$bench/node" && node bench.js footprint --url "$url" --what "$w"),"
  done
  echo "\"done\": true}"
} >"$run_dir/footprint.json"

step "memory: growth over $growth_n requests (Python sync, C, Node)"
{
  echo "{\"python\": $("$py" "$bench/python/bench.py" growth --url "$url" --n "$growth_n"),"
  echo "\"c\": $("$bench/c/build/bench" "$url" --growth "$growth_n"),"
  echo "\"node\": $(node --expose-gc "$bench/node/bench.js" growth --url "$url" --n "$growth_n")}"
} >"$run_dir/growth.json"

step "memory: 1,000 concurrent streams, read as they arrive (mock paces chunks 50 ms apart)"
# 96 words at 50 ms: each stream lasts ~5 s, so all 1,000 are open together.
mock_script "{\"*\": [{\"reply\": \"$reply $reply $reply $reply\", \"chunk_delay\": \"50ms\"}]}"
"$py" "$bench/python/bench.py" streams --url "$url" --n 1000 >"$run_dir/streams.json"
mock_script "$script"

step "report"
"$py" "$bench/report.py" --dir "$run_dir" --rust "$results/rust.json" --out "$results/latest.json" \
  --markdown "$results/latest.md" "${quick[@]}"
# The serve target's table (bench/serve.sh) goes below the report's.
{ echo; cat "$results/serve.md"; } >>"$results/latest.md"
cat "$results/latest.md"
step "done: bench/results/latest.json, bench/results/latest.md"
