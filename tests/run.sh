#!/usr/bin/env bash
# run.sh — the quick start's test command, and all that CI runs: installs what
# is missing, then builds kv twice — plain (RelWithDebInfo) and with
# AddressSanitizer + UndefinedBehaviorSanitizer — and runs the whole CTest
# suite on each build.  Warnings are errors in both.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
jobs=$(nproc)

run_suite() { # run_suite NAME CMAKE-ARGS...
  local dir="build/$1"; shift
  echo "=== build: $dir ($*)"
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  echo "=== tests: $dir"
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs" --timeout 600)
}

run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=ON -DKV_SANITIZE=
run_suite sanitize -DCMAKE_BUILD_TYPE=Debug -DKV_BUILD_TESTS=ON -DKV_SANITIZE=address,undefined
