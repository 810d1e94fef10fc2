#!/usr/bin/env bash
# skipped.sh BUILD_DIR|LOG — after a CTest run in BUILD_DIR, prints each test
# case the programs skipped, with the reason they gave, and the sum of their
# own "N passed, N failed, N skipped" lines: ctest --output-on-failure shows
# the output of failing tests only, and a skip must stay visible.  Given a
# file instead, reads the programs' output from it (the test VM's console
# log of tests/aarch64-vm.sh).
set -euo pipefail
log="$1"
[ -d "$1" ] && log="$1/Testing/Temporary/LastTest.log"
tr -d '\r' <"$log" | grep -a '^SKIP ' || true
tr -d '\r' <"$log" | awk '
  /^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { p += $1; f += $3; s += $5 }
  END { printf "test cases in %s: %d passed, %d failed, %d skipped\n", dir, p, f, s }
' dir="$1"
