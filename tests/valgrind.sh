#!/usr/bin/env bash
# valgrind.sh BUILD-DIR — runs the C test programs of a (non-sanitizer)
# build under valgrind memcheck: any invalid access, use of uninitialised
# memory or definite/indirect leak fails the run.  Helper processes started
# by the tests are followed too, except crash_test's children, which die on
# purpose at every crash point (ASan covers those; this keeps the run short).
set -euo pipefail
build=${1:?usage: tests/valgrind.sh BUILD-DIR}
export KVCLI="$build/kvcli"
memcheck=(valgrind -q --error-exitcode=99 --leak-check=full
          --errors-for-leak-kinds=definite,indirect)
failed=0 passed=0
# The soak and fault tests run for their own sake elsewhere; memcheck's 20-50x
# slowdown is spent on the tests that exercise the most code per second.
# The cache-API tests (version_, ttl_, evict_, lru_ and notify_test, once
# cache_test) are left out: notify_test's cases time wake-ups across
# processes, which memcheck's slowdown on a loaded machine can push past
# their limits (seen once in CI); ASan and UBSan run them in full.
# multiproc_test runs all its cases but killed_creators: 300 rounds of 8
# processes take ~7 minutes under memcheck, and the plain, ASan and TSan
# runs cover it.
cases_of() {
  case "$1" in
    multiproc_test) echo writers_and_readers create_race kvcli_get_and_put ;;
  esac
}
for name in table_test store_test badinput_test multiproc_test crash_test; do
  t="$build/tests/$name"
  follow=--trace-children=yes
  [ "$name" = crash_test ] && follow=--trace-children=no
  # shellcheck disable=SC2046 # the case names are words
  if "${memcheck[@]}" "$follow" "$t" $(cases_of "$name") > "$build/valgrind-$name.log" 2>&1; then
    passed=$((passed + 1)); echo "valgrind: $name clean"
  else
    failed=$((failed + 1)); echo "valgrind: $name FAILED"; tail -40 "$build/valgrind-$name.log"
  fi
done
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
