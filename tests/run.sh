#!/usr/bin/env bash
# run.sh — the quick start's test command, and all that CI runs: installs what
# is missing, then builds kv twice — plain (RelWithDebInfo) and with
# AddressSanitizer + UndefinedBehaviorSanitizer — and runs the whole CTest
# suite on each build, then ThreadSanitizer on the threaded tests (label
# tsan), a short smoke run of every fuzzer, valgrind memcheck on the plain
# build, the Windows build's whole suite under wine (tests/windows.sh), and
# the aarch64 build's under qemu-user and in a qemu-system-aarch64 VM
# (tests/aarch64.sh).
# Besides: kv used by other projects (tests/consumer.sh), and every other
# build type with gcc and clang built, its smoke tests run (label smoke).
# Warnings are errors everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh clang
jobs=$(nproc)

run_suite() { # run_suite NAME LABEL CMAKE-ARGS...  (LABEL: ctest -L, "" = all tests)
  local dir="build/$1" label="$2"; shift 2
  echo "=== build: $dir ($*)"
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  echo "=== tests: $dir"
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs" --timeout 600 \
                 ${label:+-L "$label"})
  tests/skipped.sh "$dir"
}

run_suite release "" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=ON -DKV_SANITIZE=
# kv through add_subdirectory, find_package (build/release installed) and
# pkg-config.
tests/consumer.sh build/release
# Each build type a user or packager may pick compiles with both compilers
# (other optimisation levels bring other warnings), and works: ~10 s each.
for config in gcc:Debug gcc:Release clang:Debug clang:Release clang:RelWithDebInfo; do
  run_suite "cfg-${config%:*}-${config#*:}" smoke -DCMAKE_C_COMPILER="${config%:*}" \
            -DCMAKE_BUILD_TYPE="${config#*:}" -DKV_BUILD_TESTS=ON -DKV_SANITIZE=
done
run_suite sanitize "" -DCMAKE_BUILD_TYPE=Debug -DKV_BUILD_TESTS=ON -DKV_SANITIZE=address,undefined
# ThreadSanitizer for the tests with threads (store_test shares a handle
# between threads; multiproc_test runs several processes with their own).
run_suite tsan tsan -DCMAKE_BUILD_TYPE=Debug -DKV_BUILD_TESTS=ON \
          -DKV_SANITIZE=thread -DKV_FAULT_INJECTION=OFF
# A short libFuzzer smoke of each fuzz target (tests/fuzz/run.sh SECONDS for
# longer runs).
tests/fuzz/run.sh 45
echo "=== valgrind memcheck: build/release"
tests/valgrind.sh build/release
# The Windows port: cross-built with mingw-w64, the suite run under wine, a
# store file moved between the Linux kvcli and kvcli.exe.
tests/windows.sh
# 64-bit Arm: cross-built, the suite run under qemu-user and on an aarch64
# kernel in a VM, a store file moved between the x86-64 and aarch64 kvcli.
tests/aarch64.sh
