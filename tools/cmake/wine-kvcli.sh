#!/usr/bin/env bash
# wine-kvcli.sh ARGS... — kvcli for tests/cli_test.sh on the Windows build:
# runs kvcli.exe ($KV_WINE_KVCLI) under wine ($KV_WINE) with ARGS, and
# bridges the two ways Windows differs from what cli_test.sh assumes.
#
# 1. Named memory lives only while a process has it open (there is no
#    shm_open object that outlives its users), while cli_test.sh makes a
#    store with one command and uses it with the next.  So a command that
#    creates a named store runs as its holding twin, in the background:
#    `create` as `kvcli hold` (same options, same output line), `load` into
#    a missing store as `load --hold`.  The wrapper returns once that line is
#    printed (or the command failed), leaving the holder running with its pid
#    in $KV_WINE_HOLD_DIR/STORE.pid.  `destroy` runs, then ends the holder,
#    so the store is gone afterwards as it is on POSIX.
# 2. Windows has no SIGTERM: wine ends a process on it (exit 143), where
#    kvcli on POSIX catches it and exits 0.  `watch` therefore runs as a
#    child of this script, which forwards SIGINT and SIGTERM to it as SIGINT
#    (wine's Ctrl-C), the Windows way of asking a console program to stop.
# Every other command is exec'd, so the caller's $! is the wine process
# itself (cli_test.sh stops one with SIGSTOP).
#
# Environment: KV_WINE_KVCLI, KV_WINE_HOLD_DIR (set by wine-cli-test.sh),
# KV_WINE (the wine executable), and WINEPREFIX and friends (set by CTest).
set -u
EXE=${KV_WINE_KVCLI:?KV_WINE_KVCLI must name kvcli.exe}
HOLD_DIR=${KV_WINE_HOLD_DIR:?KV_WINE_HOLD_DIR must name a directory}
WINE=("${KV_WINE:-wine}")
# Address randomization off (see tools/cmake/mingw-w64-x86_64.cmake); setarch
# execs wine, so a background job's $! is still the wine process.
command -v setarch >/dev/null 2>&1 && WINE=(setarch "$(uname -m)" -R "${WINE[@]}")

# ---- the command line: where COMMAND and STORE are --------------------------

args=("$@")
cmd_at=-1
store=""
# Options that take a value as the next argument (the --name=value form is
# one argument).
takes_value() {
    case "$1" in
    --timeout|--slots|--key-max|--value-max|--mode|--ttl|--if-version) return 0 ;;
    *) return 1 ;;
    esac
}
i=0
while [ "$i" -lt "${#args[@]}" ]; do
    a=${args[$i]}
    if [ "$cmd_at" -lt 0 ]; then
        case "$a" in
        -*) takes_value "$a" && i=$((i + 1)) ;;
        *) cmd_at=$i ;;
        esac
    elif [ "$a" = "--" ]; then
        [ $((i + 1)) -lt "${#args[@]}" ] && store=${args[$((i + 1))]}
        break
    else
        case "$a" in
        -*) takes_value "$a" && i=$((i + 1)) ;;
        *) store=$a; break ;;
        esac
    fi
    i=$((i + 1))
done
cmd=""
[ "$cmd_at" -ge 0 ] && cmd=${args[$cmd_at]}

named=0
case "$store" in
""|*/*) ;;
*) named=1 ;;
esac
pidfile="$HOLD_DIR/$store.pid"
held() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
store_exists() { "${WINE[@]}" "$EXE" stats "$store" </dev/null >/dev/null 2>&1; }

# ---- holders ----------------------------------------------------------------

# start_holder ARGS...: runs kvcli.exe ARGS in the background with its output
# in files, and waits until it has printed a line (it holds the store now:
# exit 0 with the line relayed and the pid recorded) or has exited (its
# output and status relayed).  Standard input is passed on, for `load -`.
start_holder() {
    local out="$HOLD_DIR/$store.out" err="$HOLD_DIR/$store.err" pid t
    "${WINE[@]}" "$EXE" "$@" <&3 >"$out" 2>"$err" &
    pid=$!
    for t in $(seq 1 600); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            local rc=$?
            cat "$out"
            cat "$err" >&2
            exit "$rc"
        fi
        if [ "$(tail -c 1 "$out" 2>/dev/null | od -An -c | tr -d ' ')" = '\n' ]; then
            echo "$pid" >"$pidfile"
            cat "$out"
            cat "$err" >&2
            exit 0
        fi
        sleep 0.02
    done
    kill -9 "$pid" 2>/dev/null
    echo "wine-kvcli.sh: $cmd $store printed nothing for 12 s" >&2
    exit 3
}

# stop_holder: ends the holder of $store (SIGINT: it exits 0), waiting up to
# 5 s before killing it.
stop_holder() {
    local pid t
    held || { rm -f "$pidfile"; return; }
    pid=$(cat "$pidfile")
    kill -INT "$pid" 2>/dev/null
    for t in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    rm -f "$pidfile"
}

# ---- the commands -----------------------------------------------------------

exec 3<&0
if [ "$named" -eq 1 ] && ! held; then
    case "$cmd" in
    create)
        args[$cmd_at]=hold
        start_holder "${args[@]}"
        ;;
    load)
        store_exists || start_holder "${args[@]}" --hold
        ;;
    esac
fi

case "$cmd" in
destroy)
    "${WINE[@]}" "$EXE" "$@" <&3
    rc=$?
    [ "$named" -eq 1 ] && stop_holder
    exit "$rc"
    ;;
watch)
    # A background job of a non-interactive shell starts with SIGINT
    # ignored, and a shell cannot trap a signal ignored on entry: restart
    # with the default dispositions first.
    if [ -z "${KV_WINE_SIGNALS_RESET:-}" ]; then
        KV_WINE_SIGNALS_RESET=1 exec env --default-signal=INT,TERM "$0" "$@" <&3
    fi
    "${WINE[@]}" "$EXE" "$@" <&3 &
    child=$!
    signalled=0
    trap 'kill -INT "$child" 2>/dev/null; signalled=1' INT TERM
    while :; do
        wait "$child"
        rc=$?
        # A trapped signal interrupts wait (status > 128) while the child
        # still runs: wait again for the child's own status.
        if [ "$rc" -gt 128 ] && [ "$signalled" -eq 1 ]; then
            signalled=0
            continue
        fi
        exit "$rc"
    done
    ;;
*)
    exec "${WINE[@]}" "$EXE" "$@" <&3
    ;;
esac
