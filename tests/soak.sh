#!/usr/bin/env bash
# soak.sh — the long kill -9 soak: builds soak_test as tests/run.sh builds
# the release suite (build/release, RelWithDebInfo), then runs it with
# --kills KILLS (default 10000).  Further arguments go to soak_test (e.g.
# --seed S to repeat a run's random choices).  KV_SOAK_SANITIZE=1 builds and
# runs build/sanitize (ASan + UBSan) instead.  Prints soak_test's figures
# and the wall time; exits with soak_test's status.
#
# Usage: tests/soak.sh [KILLS] [soak_test options...]
set -euo pipefail
cd "$(dirname "$0")/.."

kills=${1:-10000}
[ $# -gt 0 ] && shift

if [ "${KV_SOAK_SANITIZE:-0}" = 1 ]; then
  dir=build/sanitize
  config=(-DCMAKE_BUILD_TYPE=Debug -DKV_BUILD_TESTS=ON -DKV_SANITIZE=address,undefined)
else
  dir=build/release
  config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=ON -DKV_SANITIZE=)
fi

tools/deps.sh
cmake -S . -B "$dir" "${config[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target soak_test >/dev/null
echo "=== soak: $dir/tests/soak_test --kills $kills${*:+ $*}"
start=$(date +%s)
status=0
"$dir/tests/soak_test" --kills "$kills" "$@" || status=$?
echo "=== soak: $(( $(date +%s) - start )) s, exit $status"
exit $status
