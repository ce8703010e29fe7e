#!/usr/bin/env bash
# Builds libsluicegate and installs it for C and C++ programs, as a distribution package would:
#
#   bash scripts/install-c.sh --prefix DIR [--debug]
#
# lays down, under DIR:
#   lib/libsluicegate.so.X.Y.Z               the shared library
#   lib/libsluicegate.so.0 -> .so.X.Y.Z      the SONAME: the name programs look for at run time
#   lib/libsluicegate.so   -> .so.0          the name `-lsluicegate` finds at link time
#   lib/libsluicegate.a                      the static library
#   include/sluicegate.h                     the header
#   lib/pkgconfig/sluicegate.pc              for pkg-config and CMake's pkg_check_modules
# --debug installs the debug build instead of the release build (faster to build; for tests).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

prefix="" profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-c.sh: unknown argument '$1' (usage: install-c.sh --prefix DIR [--debug])" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install-c.sh: --prefix DIR is required (e.g. --prefix \$HOME/.local)" >&2; exit 2; }
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)

version=$(sed -n 's/^#define SG_VERSION "\(.*\)"$/\1/p' include/sluicegate.h)
[ -n "$version" ] || { echo "install-c.sh: cannot read SG_VERSION from include/sluicegate.h" >&2; exit 1; }

if [ "$profile" = release ]; then cargo build --locked -q -p sluicegate-c --release
else cargo build --locked -q -p sluicegate-c; fi
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
built="$target/$profile"

lib="$prefix/lib"
mkdir -p "$lib/pkgconfig" "$prefix/include"
# The run-time name is the SONAME the linker wrote into the library (bindings-c/build.rs).
soname=$(readelf -d "$built/libsluicegate.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] || { echo "install-c.sh: $built/libsluicegate.so has no SONAME" >&2; exit 1; }
install -m 755 "$built/libsluicegate.so" "$lib/libsluicegate.so.$version"
ln -sfn "libsluicegate.so.$version" "$lib/$soname"
ln -sfn "$soname" "$lib/libsluicegate.so"
install -m 644 "$built/libsluicegate.a" "$lib/libsluicegate.a"
install -m 644 include/sluicegate.h "$prefix/include/sluicegate.h"
sed -e "s|@prefix@|$prefix|" -e "s|@libdir@|$lib|" -e "s|@includedir@|$prefix/include|" \
    -e "s|@version@|$version|" bindings-c/sluicegate.pc.in >"$lib/pkgconfig/sluicegate.pc"

echo "installed libsluicegate $version ($profile) under $prefix"
echo "  compile: cc app.c \$(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --cflags --libs sluicegate) -Wl,-rpath,$lib"
