#!/usr/bin/env bash
# demo.sh — installs what is missing, builds kv, and runs a demo:
#   tools/demo.sh          two processes share a store by name, then kvcli
#                          inspects the same live store (the quick start)
#   tools/demo.sh config   shared configuration: running workers watch a
#                          setting and see each change at once
#   tools/demo.sh cache    several instances share a cache with a TTL
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null
bin=build/demo
kvcli="$bin/kvcli"
scratch="" # a store the running demo removes on exit
trap '[ -z "$scratch" ] || "$kvcli" destroy "$scratch" 2>/dev/null || true' EXIT

demo_processes() {
  local store=demo # left in place for you to inspect; 'kvcli destroy demo' removes it
  echo "== two processes share the store '$store' =="
  "$bin/kvdemo" "$store"
  echo
  echo "== kvcli attaches to the same store =="
  echo "\$ kvcli list $store"
  "$kvcli" list "$store"
  echo "\$ kvcli get $store config/color"
  "$kvcli" get "$store" config/color; echo
  echo "\$ kvcli put $store config/color green"
  "$kvcli" put "$store" config/color green
  echo "\$ kvcli stats $store"
  "$kvcli" stats "$store"
}

# Three workers block in kv_watch (a shared futex: no polling); an operator
# changes the setting twice and every worker prints each change.
demo_config() {
  local store="demo-config-$$"
  scratch=$store
  "$kvcli" create "$store" --slots 64 >/dev/null
  "$kvcli" put "$store" config/log_level info
  for worker in 1 2 3; do
    "$kvcli" watch "$store" config/log_level --timeout 2s |
      sed -u "s/^/worker $worker sees log_level = /" &
  done
  sleep 0.5
  echo "operator: kvcli put $store config/log_level debug"
  "$kvcli" put "$store" config/log_level debug
  sleep 0.5
  echo "operator: kvcli put $store config/log_level warn"
  "$kvcli" put "$store" config/log_level warn
  wait
}

# One request of one instance: look the report up, compute it on a miss (a
# slow step, simulated) and cache it for 2 s.
cache_request() {
  local store=$1 instance=$2 key=report/2026-11 value
  if value=$("$kvcli" get "$store" "$key" 2>/dev/null); then
    echo "instance $instance: hit  -> '$value', $("$kvcli" ttl "$store" "$key") ms left"
  else
    sleep 0.3
    "$kvcli" put "$store" "$key" "total=$RANDOM by instance $instance" --ttl 2s
    echo "instance $instance: miss -> computed, cached for 2 s"
  fi
}

demo_cache() {
  local store="demo-cache-$$"
  scratch=$store
  "$kvcli" create "$store" --cache --slots 1024 >/dev/null
  cache_request "$store" 1
  cache_request "$store" 2 & cache_request "$store" 3 & wait
  echo "(2.2 s later: the entry has expired)"
  sleep 2.2
  cache_request "$store" 4
  cache_request "$store" 5
  "$kvcli" stats "$store" | grep -E '^(hits|misses|expirations|cache)'
}

case "${1:-processes}" in
  processes) demo_processes ;;
  config) demo_config ;;
  cache) demo_cache ;;
  *) echo "usage: tools/demo.sh [processes|config|cache]" >&2; exit 2 ;;
esac
