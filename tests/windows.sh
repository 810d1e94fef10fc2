#!/usr/bin/env bash
# windows.sh — the Windows port's test run, on Debian: installs what is
# missing (tools/deps.sh, plus mingw-w64 and wine), cross-builds kv for
# 64-bit Windows into build/win64 with tools/cmake/mingw-w64-x86_64.cmake
# (RelWithDebInfo, static executables, warnings are errors), runs the whole
# CTest suite there under wine, then moves a store file between the Linux
# kvcli and kvcli.exe.  Ends with how long it took.
#
# The wine prefix is build/win64/wineprefix (made on first use: ~15 s,
# ~700 MB).  CTest runs each test through CMAKE_CROSSCOMPILING_EMULATOR
# (wine); the wine_setup/wine_cleanup fixture in tests/CMakeLists.txt starts
# and stops the one wineserver they share, off the tests' output pipes.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS=0
jobs=$(nproc)
WIN=build/win64
HOST=build/win64-host

tools/deps.sh gcc-mingw-w64-x86-64-win32 wine wine64 util-linux

. tests/store_exchange.sh
build_pair "$WIN" tools/cmake/mingw-w64-x86_64.cmake "$HOST"

echo "=== tests: $WIN under wine"
(cd "$WIN" && ctest --output-on-failure --no-tests=error -j"$jobs" --timeout 600)
tests/skipped.sh "$WIN"

# ---- one store file, two systems ---------------------------------------------

echo "=== store file: Linux kvcli <-> kvcli.exe under wine"
export WINEPREFIX="$PWD/$WIN/wineprefix" WINEDEBUG=-all WINEARCH=win64 \
       WINEDLLOVERRIDES="mscoree,mshtml=" KV_WINE=wine
unset DISPLAY
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kv-windows.XXXXXX")
cleanup() { sh tools/cmake/wine-prefix.sh cleanup >/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
sh tools/cmake/wine-prefix.sh setup >/dev/null

here() { "$HOST/kvcli" "$@"; }
there() { setarch "$(uname -m)" -R wine "$WIN/kvcli.exe" "$@"; } # see the toolchain file
HERE="Linux" THERE="kvcli.exe"
# At once, each sees the other's attach lock: wine turns LockFileEx into a
# record lock on the byte the Linux layer locks too.
exchange_store "$tmp/shared.kv" && ok=1 || ok=0
echo "windows.sh: $([ "$ok" -eq 1 ] && echo passed || echo FAILED) in ${SECONDS}s"
[ "$ok" -eq 1 ]
