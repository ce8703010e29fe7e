#!/usr/bin/env bash
# C tests, self-contained from a fresh clone (needs gcc, g++, libcjson-dev; valgrind optional):
#   bash tests/c/run.sh
# Builds the C library and the mock provider (debug, shared target/), checks the header is
# current and compiles as C11 and C++17, then runs: the API contract (linked against the shared
# and the static library), the contract vectors (pull and callback streams), the runner's
# self-test, 8 threads on one gateway, stream cancellation, the examples (one built through
# pkg-config), and the vectors under valgrind memcheck.
# Env: SLUICEGATE_BIN (mock provider binary; default target/debug/sluicegate),
#      SG_VALGRIND=0 to skip valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
start=$(date +%s)
out=target/c-tests
mkdir -p "$out/lib" "$out/pkgconfig"
failures=()
step() { echo "-- $*"; }
run() { # run NAME CMD...: runs a test program, records a failure instead of stopping
  local name=$1; shift
  if "$@"; then echo "   $name: ok"; else echo "   $name: FAILED"; failures+=("$name"); fi
}

step "cargo build (sluicegate-c, sluicegate-cli) and the header/unit tests"
cargo build --locked -q -p sluicegate-c -p sluicegate-cli
if cargo test --locked -q -p sluicegate-c >"$out/cargo-test.log" 2>&1; then
  echo "   cargo test -p sluicegate-c: ok (header current, unit tests)"
else
  cat "$out/cargo-test.log"; failures+=("cargo test -p sluicegate-c")
fi
export SLUICEGATE_BIN=${SLUICEGATE_BIN:-$root/target/debug/sluicegate}

# The library's SONAME is libsluicegate.so.0, so programs linked with -lsluicegate look for that
# name: give it one next to the development symlink, as an installed library would have.
ln -sf ../../debug/libsluicegate.so "$out/lib/libsluicegate.so.0"
ln -sf libsluicegate.so.0 "$out/lib/libsluicegate.so"
version=$(sed -n 's/^#define SG_VERSION "\(.*\)"$/\1/p' include/sluicegate.h)
sed -e "s|@prefix@|$root|" -e "s|@libdir@|$root/$out/lib|" -e "s|@includedir@|$root/include|" \
    -e "s|@version@|$version|" bindings-c/sluicegate.pc.in >"$out/pkgconfig/sluicegate.pc"

warn=(-Wall -Wextra -Wpedantic -Werror)
cflags=(-std=c11 "${warn[@]}" -g -Iinclude -Itests/c)
shared=(-L"$out/lib" -lsluicegate -Wl,-rpath,"$root/$out/lib")
static=(target/debug/libsluicegate.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

step "header compiles as C11 and C++17"
printf '#include "sluicegate.h"\nint main(void) { return sg_version() == 0; }\n' >"$out/header_check.c"
gcc -std=c11 "${warn[@]}" -Iinclude -c "$out/header_check.c" -o "$out/header_c.o"
g++ -std=c++17 "${warn[@]}" -Iinclude -x c++ -c "$out/header_check.c" -o "$out/header_cpp.o"
echo "   ok"

step "compile the tests and examples"
gcc "${cflags[@]}" -pthread tests/c/api.c tests/c/support.c "${shared[@]}" -lcjson -lm -o "$out/api"
gcc "${cflags[@]}" -pthread tests/c/api.c tests/c/support.c "${static[@]}" -lcjson -o "$out/api_static"
gcc "${cflags[@]}" tests/c/vectors.c tests/c/support.c "${shared[@]}" -lcjson -lm -o "$out/vectors"
gcc "${cflags[@]}" -pthread tests/c/threads.c tests/c/support.c "${shared[@]}" -lcjson -lm -o "$out/threads"
gcc "${cflags[@]}" -pthread tests/c/cancel.c tests/c/support.c "${shared[@]}" -lcjson -lm -o "$out/cancel"
if command -v pkg-config >/dev/null; then # the C example is built the way a user would
  read -r -a pc <<<"$(PKG_CONFIG_PATH="$out/pkgconfig" pkg-config --cflags --libs sluicegate)"
else
  echo "   (no pkg-config: building the C example with plain flags)"; pc=(-Iinclude "${shared[@]}")
fi
gcc -std=c11 "${warn[@]}" examples/c/chat.c "${pc[@]}" -Wl,-rpath,"$root/$out/lib" -o "$out/chat_c"
g++ -std=c++17 "${warn[@]}" -Iinclude examples/cpp/chat.cpp "${shared[@]}" -o "$out/chat_cpp"
if readelf -d "$out/api_static" | grep -q libsluicegate; then failures+=("api_static links the shared library"); fi
readelf -d "$out/api" | grep -q 'NEEDED.*libsluicegate.so.0' || failures+=("api does not need libsluicegate.so.0")

step "API contract"
run "api (shared)" "$out/api"
run "api (static)" "$out/api_static"

step "contract vectors (tests/vectors)"
run "vectors, pull streams" "$out/vectors" tests/vectors
run "vectors, callback streams" "$out/vectors" --stream-api cb tests/vectors

step "runner self-test: every fail_* vector must fail, every other must pass"
selftest() {
  local log=$out/selftest.log
  "$out/vectors" tests/c/selftest >"$log" && { echo "   the runner passed vectors that must fail"; return 1; }
  local want_fail want_pass
  want_fail=$(find tests/c/selftest -name 'fail_*.json' | wc -l)
  want_pass=$(( $(find tests/c/selftest -name '*.json' | wc -l) - want_fail ))
  local bad # a vector whose verdict does not match its name
  bad=$(awk '($1 == "ok" && $2 ~ /^fail_/) || ($1 == "FAIL" && $2 !~ /^fail_/)' "$log")
  if [ -n "$bad" ] || [ "$(tail -n1 "$log")" != "$want_pass passed, $want_fail failed" ]; then
    cat "$log"; return 1
  fi
  echo "   $(tail -n1 "$log") (as intended)"
}
run "runner self-test" selftest

step "threads and cancellation (mock provider over HTTP)"
run "threads" "$out/threads"
run "cancel" "$out/cancel"

step "examples"
run "examples/c/chat.c" bash -c "'$out/chat_c' | grep -q 'You said: Hello from C'"
run "examples/cpp/chat.cpp" bash -c "'$out/chat_cpp' | grep -q 'You said: Hello from C++'"

if [ "${SG_VALGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
  step "valgrind memcheck: API contract and vectors (definite/indirect leaks and errors fail)"
  vg=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
      --show-leak-kinds=definite,indirect)
  run "valgrind api" env SG_TEST_UNDER_VALGRIND=1 "${vg[@]}" "$out/api"
  run "valgrind vectors" "${vg[@]}" "$out/vectors" tests/vectors
else
  step "valgrind: skipped"
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo "== C: FAILED: ${failures[*]}"
  exit 1
fi
echo "== C: all tests passed in $(( $(date +%s) - start ))s"
