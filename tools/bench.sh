#!/usr/bin/env bash
# bench.sh — kv against its peers, end to end: installs what is missing
# (the build tools plus liblmdb-dev, redis-server, libhiredis-dev, memcached,
# libmemcached-dev and gnuplot-nox, through tools/deps.sh), builds kvbench
# in Release in build/bench, starts throwaway servers on random free
# loopback ports (a redis-server without persistence; two memcached with
# -m 64, one with -M so that it refuses when full, one that evicts; all
# stopped on exit), runs kvbench with every system, then its mixed-size
# memory workload, and writes:
#   build/bench/kvbench.txt         both tables (also on stdout)
#   build/bench/kvbench.csv         the speed rows, machine-readable
#   build/bench/kvbench-memory.csv  the memory rows
#   build/bench/kvbench-procs.dat   ops/s against processes (gnuplot data)
#   build/bench/kvbench-procs.png   its plot
# Arguments are passed to the first kvbench run (e.g. tools/bench.sh --quick).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/bench"
server_pids=()
redis_port="" memcached_port="" memcached_lru_port="" # set by start_server

stop_servers() {
  local pid
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
}
trap stop_servers EXIT

# start_server VAR COMMAND ARGS...: starts COMMAND on a random free port of
# 127.0.0.1, each @PORT@ in ARGS replaced by the port, waits until the port
# takes connections, and sets VAR to the port.
start_server() {
  local var="$1" port pid
  shift
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    "${@/@PORT@/$port}" >>"$out/servers.log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        server_pids+=("$pid")
        printf -v "$var" '%s' "$port"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break   # port taken: it exited
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "bench.sh: could not start $1" >&2
  return 1
}

plot() {
  local dat="$out/kvbench-procs.dat" png="$out/kvbench-procs.png" term=png
  local ncol
  ncol=$(head -1 "$dat" | wc -w)
  gnuplot -e 'set terminal pngcairo' 2>/dev/null && term=pngcairo
  gnuplot <<EOF
set terminal $term size 900,560
set output '$png'
set title 'kvbench: processes on one store, random keys (get: 100% get; 90/10: 90% get / 10% put overwrite)'
set xlabel 'processes'
set ylabel 'ops/s, all processes together'
set xtics (1, 2, 4)
set yrange [0:*]
set format y '%.1s%c'
set grid
set key outside right
set datafile missing 'NaN'
plot for [i=2:$ncol] '$dat' using 1:i with linespoints lw 2 pt 7 title columnhead(i)
EOF
  echo "bench.sh: plot in $png"
}

"$root/tools/deps.sh" liblmdb-dev redis-server libhiredis-dev memcached libmemcached-dev \
  gnuplot-nox
mkdir -p "$out"
: >"$out/servers.log"
cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=Release -DKV_BUILD_TESTS=OFF >/dev/null
cmake --build "$out" --target kvbench -j "$(nproc)" >/dev/null
start_server redis_port redis-server --bind 127.0.0.1 --port @PORT@ --save '' \
  --appendonly no --dir "$out"
# memcached will not run as root without -u; -U 0: no UDP.
start_server memcached_port memcached -l 127.0.0.1 -p @PORT@ -U 0 -m 64 -M -u "$(id -un)"
start_server memcached_lru_port memcached -l 127.0.0.1 -p @PORT@ -U 0 -m 64 -u "$(id -un)"
"$out/kvbench" --redis-port "$redis_port" --csv "$out/kvbench.csv" \
  --plot-data "$out/kvbench-procs.dat" "$@" | tee "$out/kvbench.txt"
echo | tee -a "$out/kvbench.txt"
"$out/kvbench" --memory-workload --redis-port "$redis_port" --memcached-port "$memcached_port" \
  --memcached-lru-port "$memcached_lru_port" --csv "$out/kvbench-memory.csv" |
  tee -a "$out/kvbench.txt"
plot
