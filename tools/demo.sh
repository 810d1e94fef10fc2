#!/usr/bin/env bash
# demo.sh — the quick start's first command: installs what is missing, builds
# kv, and runs the demo (two processes sharing a store by name) followed by
# kvcli inspecting the same live store from the shell.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null

bin=build/demo
store=demo   # left in place for you to inspect; 'kvcli destroy demo' removes it

echo "== two processes share the store '$store' =="
"$bin/kvdemo" "$store"
echo
echo "== kvcli attaches to the same store =="
echo "\$ kvcli list $store"
"$bin/kvcli" list "$store"
echo "\$ kvcli get $store config/color"
"$bin/kvcli" get "$store" config/color; echo
echo "\$ kvcli put $store config/color green"
"$bin/kvcli" put "$store" config/color green
echo "\$ kvcli stats $store"
"$bin/kvcli" stats "$store"
