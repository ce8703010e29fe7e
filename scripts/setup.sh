#!/usr/bin/env bash
# Checks (and, where it can, installs) what the tests need before anything is built.
#
#   bash scripts/setup.sh          # install what is missing (as root or with password-less sudo)
#   bash scripts/setup.sh --check  # only check; exit 1 with one line naming what to install
#
# scripts/test.sh runs this first, so a fresh clone either gets what it needs or stops at once
# with one line saying what to install, before any build. The list of system packages lives here
# and only here.
set -euo pipefail

# Debian package → a command or file that proves it is there (so non-Debian systems can be checked).
declare -A probe=(
  [redis-server]="command:redis-server"  # the Redis tests start their own server on a free port
  [libcjson-dev]="file:/usr/include/cjson/cJSON.h" # the C contract runner parses the vectors with it
  [pkg-config]="command:pkg-config"      # the C quick start and the C example link through it
  [valgrind]="command:valgrind"          # the C vectors run once under memcheck
  [cmake]="command:cmake"                # the C quick start's CMake (pkg_check_modules) consumer
  [chromium]="command:chromium"          # the dashboard test loads the page in headless chromium
)
tools=(cargo cc c++ python3 node npm)     # toolchains: installed by the user, never by this script

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

have() {
  case "${probe[$1]}" in
    command:*) command -v "${probe[$1]#command:}" >/dev/null 2>&1 ;;
    file:*) [ -e "${probe[$1]#file:}" ] ;;
  esac
}

missing_tools=()
for t in "${tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing_tools+=("$t"); done
if [ ${#missing_tools[@]} -gt 0 ]; then
  echo "setup: missing toolchain(s): ${missing_tools[*]} — install Rust (rustup), a C compiler, Python >= 3.9 and Node >= 18, then re-run." >&2
  exit 1
fi
python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null \
  || { echo "setup: python3 must be >= 3.9 with the venv module (Debian: apt-get install python3-venv)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' \
  || { echo "setup: node must be >= 18 (found $(node --version))" >&2; exit 1; }

need=()
for pkg in "${!probe[@]}"; do have "$pkg" || need+=("$pkg"); done
[ ${#need[@]} -eq 0 ] && exit 0
IFS=$'\n' need=($(sort <<<"${need[*]}")); unset IFS

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(none); fi
fi
if [ $check_only -eq 1 ] || ! command -v apt-get >/dev/null 2>&1 || [ "${sudo[*]}" = none ]; then
  echo "setup: missing system packages: ${need[*]} — install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]}) and re-run." >&2
  exit 1
fi
echo "setup: installing ${need[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for pkg in "${need[@]}"; do
  have "$pkg" || { echo "setup: $pkg is still missing after apt-get install" >&2; exit 1; }
done
