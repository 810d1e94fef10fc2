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

echo "=== build: $WIN (x86_64-w64-mingw32)"
cmake -S . -B "$WIN" -DCMAKE_TOOLCHAIN_FILE=tools/cmake/mingw-w64-x86_64.cmake \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=ON >/dev/null
cmake --build "$WIN" -j"$jobs"
echo "=== build: $HOST (the Linux kvcli, for the store-file check)"
cmake -S . -B "$HOST" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=OFF >/dev/null
cmake --build "$HOST" -j"$jobs" --target kvcli

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

lin() { "$HOST/kvcli" "$@"; }
win() { setarch "$(uname -m)" -R wine "$WIN/kvcli.exe" "$@"; } # see the toolchain file
passed=0
failed=0
check() { # check NAME COMMAND...: one line per check, as cli_test.sh prints
    if "${@:2}"; then
        echo "ok   $1"; passed=$((passed + 1))
    else
        echo "FAIL $1"; failed=$((failed + 1))
    fi
}
same() { [ "$1" = "$2" ]; }
quiet() { "$@" >/dev/null; }

F="$tmp/shared.kv"
head -c 3000 /dev/urandom >"$tmp/binary"
lin create "$F" --slots 64 --value-max 4k >/dev/null
lin put "$F" text "written on Linux"
lin put "$F" bin - <"$tmp/binary"
lin put "$F" ttl soon --ttl 1h
check "kvcli.exe reads a text value Linux wrote" same "$(win get "$F" text)" "written on Linux"
win get "$F" bin >"$tmp/bin.out"
check "kvcli.exe reads a binary value byte for byte" cmp -s "$tmp/bin.out" "$tmp/binary"
left=$(win ttl "$F" ttl)
check "kvcli.exe sees the time to live" test "$left" -gt 3500000
check "kvcli.exe finds the store sound" quiet win check "$F"
check "kvcli.exe writes to it" win put "$F" text "written on Windows"
check "kvcli.exe deletes from it" win del "$F" ttl

check "Linux reads what kvcli.exe wrote" same "$(lin get "$F" text)" "written on Windows"
check "Linux sees the delete" test "$(lin get "$F" ttl 2>/dev/null; echo $?)" = 1
check "Linux finds the store sound" quiet lin check "$F"

# Both systems at once: each side's lock is not the other's, so while one
# holds the file the other must refuse it (KV_EVERSION, exit 3), never
# adopt it; it sees the other's attach lock (LockFileEx = a record lock).
# hold_then SIDE CMD...: SIDE holds $F for 5 s (its line printed once it
# has the store open); CMD runs meanwhile, its status in $during.
hold_then() {
    local side=$1; shift
    : >"$tmp/hold.out"
    $side hold "$F" --timeout 5s >"$tmp/hold.out" &
    local holder=$! i
    for i in $(seq 100); do [ -s "$tmp/hold.out" ] && break; sleep 0.1; done
    "$@" >/dev/null 2>"$tmp/err" && during=0 || during=$?
    wait "$holder"
}
hold_then win lin get "$F" text
check "Linux refuses the file while kvcli.exe holds it" \
    bash -c "[ $during -eq 3 ] && grep -q 'incompatible' '$tmp/err'"
hold_then lin win get "$F" text
check "kvcli.exe refuses the file while Linux holds it" test "$during" -eq 3
check "after both let go, Linux reads it again" \
    same "$(lin get "$F" text)" "written on Windows"

echo "$passed passed, $failed failed"
echo "windows.sh: $([ "$failed" -eq 0 ] && echo passed || echo FAILED) in ${SECONDS}s"
[ "$failed" -eq 0 ]
