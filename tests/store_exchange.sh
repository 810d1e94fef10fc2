# store_exchange.sh — sourced by tests/windows.sh and tests/aarch64.sh: one
# store file moved between two builds of kvcli whose lock areas differ (two
# systems, or two CPU architectures), in turn and at once.
#
# The caller defines two functions that run each build's kvcli, `here` and
# `there`, sets HERE and THERE to how the checks name them, and calls
#   exchange_store FILE
# which writes the file with `here`, reads, changes and checks it with
# `there`, reads it back with `here`, and then checks that while one side
# holds the file the other refuses it as incompatible (KV_EVERSION, exit
# 3) instead of adopting it.  One line per check, "N passed, N failed"
# last; returns 1 if any check failed.
#
# Both scripts also build the same pair first: build_pair CROSS TOOLCHAIN
# HOST makes the cross build CROSS (library, tools and tests) with
# TOOLCHAIN, and the host's kvcli in HOST, for the exchange.

build_pair() {
    echo "=== build: $1 ($(basename "$2" .cmake))"
    cmake -S . -B "$1" -DCMAKE_TOOLCHAIN_FILE="$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DKV_BUILD_TESTS=ON >/dev/null
    cmake --build "$1" -j"$(nproc)"
    echo "=== build: $3 (the host's kvcli, for the store-file check)"
    cmake -S . -B "$3" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_BUILD_TESTS=OFF >/dev/null
    cmake --build "$3" -j"$(nproc)" --target kvcli
}

passed=0
failed=0
check() { # check NAME COMMAND...: one line per check, as cli_test.sh prints
    if "${@:2}"; then
        echo "ok   $1"; passed=$((passed + 1))
    else
        echo "FAIL $1"; failed=$((failed + 1))
    fi
}
same() { [ "$1" = "$2" ]; }
quiet() { "$@" >/dev/null; }

# hold_then SIDE CMD...: SIDE holds $F for 5 s (its line printed once it
# has the store open); CMD runs meanwhile, its status in $during and its
# stderr in $F.err.
hold_then() {
    local side=$1 i holder; shift
    : >"$F.hold"
    $side hold "$F" --timeout 5s >"$F.hold" &
    holder=$!
    for i in $(seq 100); do [ -s "$F.hold" ] && break; sleep 0.1; done
    "$@" >/dev/null 2>"$F.err" && during=0 || during=$?
    wait "$holder"
}
refused() { [ "$during" -eq 3 ] && grep -q 'incompatible' "$F.err"; }

exchange_store() {
    F=$1
    head -c 3000 /dev/urandom >"$F.binary"
    here create "$F" --slots 64 --value-max 4k >/dev/null
    here put "$F" text "written by $HERE"
    here put "$F" bin - <"$F.binary"
    here put "$F" ttl soon --ttl 1h
    check "$THERE reads a text value $HERE wrote" same "$(there get "$F" text)" "written by $HERE"
    there get "$F" bin >"$F.out"
    check "$THERE reads a binary value byte for byte" cmp -s "$F.out" "$F.binary"
    check "$THERE sees the time to live" test "$(there ttl "$F" ttl)" -gt 3500000
    check "$THERE finds the store sound" quiet there check "$F"
    check "$THERE writes to it" there put "$F" text "written by $THERE"
    check "$THERE deletes from it" there del "$F" ttl

    check "$HERE reads what $THERE wrote" same "$(here get "$F" text)" "written by $THERE"
    check "$HERE sees the delete" test "$(here get "$F" ttl 2>/dev/null; echo $?)" = 1
    check "$HERE finds the store sound" quiet here check "$F"

    # Each side's lock is not the other's, so while one holds the file the
    # other must refuse it, never adopt it; each sees the other's attach lock.
    hold_then there here get "$F" text
    check "$HERE refuses the file while $THERE holds it" refused
    hold_then here there get "$F" text
    check "$THERE refuses the file while $HERE holds it" refused
    check "after both let go, $HERE reads it again" \
        same "$(here get "$F" text)" "written by $THERE"

    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
