#!/usr/bin/env bash
# bench.sh — kv against its peers, end to end: installs what is missing
# (the build tools plus liblmdb-dev, redis-server, libhiredis-dev and
# gnuplot-nox, through tools/deps.sh), builds kvbench in Release in
# build/bench, starts a throwaway redis-server on a random free loopback port
# (no persistence; stopped on exit), runs kvbench with every system, and
# writes:
#   build/bench/kvbench.txt        the table (also on stdout)
#   build/bench/kvbench.csv        the same rows, machine-readable
#   build/bench/kvbench-procs.dat  ops/s against processes (gnuplot data)
#   build/bench/kvbench-procs.png  its plot
# Arguments are passed to kvbench (e.g. tools/bench.sh --quick).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/bench"
redis_pid=""

stop_redis() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap stop_redis EXIT

# Starts redis-server on a random free port of 127.0.0.1; sets redis_port.
start_redis() {
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    redis_port=$((20000 + RANDOM % 40000))
    redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
      --dir "$out" --logfile "$out/redis.log" &
    redis_pid=$!
    for _ in $(seq 50); do
      redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && return 0
      kill -0 "$redis_pid" 2>/dev/null || break   # port taken: it exited
      sleep 0.1
    done
    stop_redis
    redis_pid=""
  done
  echo "bench.sh: could not start redis-server" >&2
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
set title 'kvbench: 90% get / 10% put overwrite, random keys'
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

"$root/tools/deps.sh" liblmdb-dev redis-server libhiredis-dev gnuplot-nox
mkdir -p "$out"
cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=Release -DKV_BUILD_TESTS=OFF >/dev/null
cmake --build "$out" --target kvbench -j "$(nproc)" >/dev/null
start_redis
"$out/kvbench" --redis-port "$redis_port" --csv "$out/kvbench.csv" \
  --plot-data "$out/kvbench-procs.dat" "$@" | tee "$out/kvbench.txt"
plot
