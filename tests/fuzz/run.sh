#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS_PER_FUZZER] — fuzzes kv with libFuzzer.
#
# Installs what is missing (clang and its libFuzzer runtime, besides the
# usual build dependencies), configures a clang build with -DKV_FUZZ=ON and
# ASan + UBSan in build/fuzz, builds the four fuzz targets, and runs each
# for SECONDS_PER_FUZZER seconds (default 60) on a copy of its committed
# corpus (tests/fuzz/corpus/<target>), so a run never writes into the
# repository.  Prints the executions of each and exits non-zero if any
# fuzzer found a crash, a leak, a hang (-timeout=5) or a failed check; the
# input that did it is kept under the work directory it names.
#
#   KV_FUZZ_KEEP=1      keep the work directory (grown corpora, logs) even
#                       when every fuzzer passes
#   KV_FUZZ_ONLY=ops    run only the named targets (attach, cli, names, ops;
#                       comma-separated)
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-60}
if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tests/fuzz/run.sh [SECONDS_PER_FUZZER]" >&2
  exit 2
fi

tools/deps.sh clang libclang-rt-dev
dir=build/fuzz
echo "=== build: $dir (clang, KV_FUZZ, address,undefined)"
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKV_FUZZ=ON -DKV_BUILD_TESTS=ON -DKV_SANITIZE=address,undefined \
  -DKV_FAULT_INJECTION=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" --target kv_fuzzers

work=$(mktemp -d "${TMPDIR:-/tmp}/kv-fuzz.XXXXXX")
# Largest input per target: a store file of up to 64 slots of a few hundred
# bytes each (the seeds are 0.4-4 KB); command lines and dump text; a few
# hundred operations; a create bit and ten path components.
declare -A max_len=([attach]=32768 [cli]=4096 [names]=16 [ops]=4096)
failed=()

for t in attach cli names ops; do
  if [ -n "${KV_FUZZ_ONLY:-}" ] && [[ ,$KV_FUZZ_ONLY, != *,$t,* ]]; then
    continue
  fi
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp tests/fuzz/corpus/$t/* "$work/$t/corpus/"
  echo "=== fuzz_$t: ${secs}s"
  rc=0
  # fuzz_attach writes its store file in the work directory; fuzz_cli and
  # fuzz_ops use named memory kvfuzz-<target>-<pid>, which a fuzzer that
  # crashed could not remove: sh records the pid, then becomes the fuzzer.
  KV_FUZZ_TMPDIR="$work/$t" sh -c 'echo $$ >"$0"; exec "$@"' "$work/$t/pid" \
    "$dir/tests/fuzz/fuzz_$t" "$work/$t/corpus" \
    -max_total_time="$secs" -timeout=5 -max_len="${max_len[$t]}" \
    -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
    >"$work/$t/log" 2>&1 || rc=$?
  rm -f "/dev/shm/kv.kvfuzz-$t-$(cat "$work/$t/pid")"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -1)
  persec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$work/$t/log" | tail -1)
  corpus=$(find "$work/$t/corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "fuzz_$t: FAILED (exit $rc) after ${execs:-?} executions; last lines of the log:"
    grep -v '^INFO:\|^#[0-9]' "$work/$t/log" | tail -40
    echo "fuzz_$t: inputs in $work/$t/artifacts/:"
    ls -l "$work/$t/artifacts/"
  else
    echo "fuzz_$t: ${execs:-?} executions (${persec:-?}/s), $cov, corpus $corpus inputs, no crash"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "=== FAILED: ${failed[*]}; logs and inputs in $work" \
       "(replay one: $dir/tests/fuzz/fuzz_<target> <input>)"
  exit 1
fi
if [ -n "${KV_FUZZ_KEEP:-}" ]; then
  echo "=== all passed; corpora and logs kept in $work"
else
  rm -rf "$work"
  echo "=== all passed"
fi
