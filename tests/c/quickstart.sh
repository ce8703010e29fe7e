#!/usr/bin/env bash
# Runs the C quick start of bindings-c/README.md exactly as written (the block between the
# `c-quickstart` markers), with HOME pointed at a scratch directory so that its
# `--prefix "$HOME/.local"` installs there, then checks that both programs it builds start and
# answer. A README whose commands drift from what works fails here.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
scratch=$(mktemp -d)
# The quick start writes ./chat and build/c-example in the checkout: start from neither (a CMake
# cache left by an earlier run points at that run's scratch prefix) and leave neither behind.
rm -rf "$root/build/c-example" "$root/chat"
trap 'rm -rf "$scratch" "$root/chat" "$root/build/c-example"' EXIT

script=$(awk '/<!-- c-quickstart -->/{on=1; next} /<!-- \/c-quickstart -->/{on=0} on && !/^```/' bindings-c/README.md)
[ -n "$script" ] || { echo "bindings-c/README.md has no c-quickstart block" >&2; exit 1; }
printf '%s\n' "$script" >"$scratch/quickstart.sh"

# A new user's shell: their own HOME (keeping this machine's Rust toolchain, which rustup finds
# through HOME otherwise) and no library paths of ours in the environment.
out=$(cd "$root" && env -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH HOME="$scratch/home" \
      RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
      bash -euo pipefail "$scratch/quickstart.sh" 2>&1) || {
  printf '%s\n' "$out"; echo "C quick start: FAILED" >&2; exit 1; }
printf '%s\n' "$out" | tail -n 4
n=$(printf '%s\n' "$out" | grep -c 'You said: Hello from C' || true)
[ "$n" -ge 2 ] || { printf '%s\n' "$out"; echo "C quick start: expected both programs (cc and CMake) to answer, got $n" >&2; exit 1; }
readelf -d "$scratch/home/.local/lib/libsluicegate.so" | grep -q 'SONAME.*libsluicegate.so.0'
echo "C quick start: ok (installed, built with pkg-config and with CMake, both programs ran)"
