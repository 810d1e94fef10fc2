#!/usr/bin/env bash
# wine-cli-test.sh CLI_TEST_SH KVCLI_EXE — the cli_test entry of the Windows
# build (tests/CMakeLists.txt): runs tests/cli_test.sh unchanged against
# kvcli.exe under wine, through wine-kvcli.sh (see there for the two
# differences from POSIX it bridges), and ends every store holder it
# started when the test is over, however it ended.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cli_test=${1:?usage: wine-cli-test.sh CLI_TEST_SH KVCLI_EXE}
export KV_WINE_KVCLI=${2:?usage: wine-cli-test.sh CLI_TEST_SH KVCLI_EXE}
KV_WINE_HOLD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kv-wine-hold.XXXXXX") || exit 1
export KV_WINE_HOLD_DIR

stop_holders() {
    local f pids=()
    for f in "$KV_WINE_HOLD_DIR"/*.pid; do
        [ -f "$f" ] && pids+=("$(cat "$f")")
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        echo "stopping ${#pids[@]} store holder(s) left running"
        kill -INT "${pids[@]}" 2>/dev/null
        sleep 1
        kill -9 "${pids[@]}" 2>/dev/null
    fi
    rm -rf "$KV_WINE_HOLD_DIR"
}
trap stop_holders EXIT

bash "$cli_test" "$here/wine-kvcli.sh"
