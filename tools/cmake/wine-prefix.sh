#!/bin/sh
# wine-prefix.sh setup|cleanup — the wine fixture of the Windows test run
# (tests/CMakeLists.txt: the wine_setup and wine_cleanup CTest entries).
#
# setup stops any wineserver of $WINEPREFIX, creates the prefix if it is new
# (~15 s, ~700 MB), then starts a persistent wineserver and wine's services
# with every standard stream on /dev/null.  That is the point: wine's
# background processes inherit the streams of whoever starts them, and CTest
# waits until every holder of a test's output pipe has exited, so a
# wineserver started by a test makes that test last 2.6 s more (or time out).
# Started here, it never holds a test's pipe, and each later `wine prog.exe`
# costs ~20-30 ms.  cleanup stops it.
#
# Environment (set by CTest): WINEPREFIX, WINEDEBUG=-all, KV_WINE (the wine
# executable the toolchain file found).
set -u
: "${WINEPREFIX:?WINEPREFIX must be set}"
WINE=${KV_WINE:-wine}
WINESERVER=$(dirname "$(command -v "$WINE")")/wineserver
[ -x "$WINESERVER" ] || WINESERVER=wineserver
export WINEPREFIX

quiet() { "$@" </dev/null >/dev/null 2>&1; }
# wine with address randomization off (see tools/cmake/mingw-w64-x86_64.cmake).
wine_run() {
    if command -v setarch >/dev/null 2>&1; then
        setarch "$(uname -m)" -R "$WINE" "$@"
    else
        "$WINE" "$@"
    fi
}

case "${1:-}" in
setup)
    quiet "$WINESERVER" -k
    quiet "$WINESERVER" -w
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        mkdir -p "$WINEPREFIX"
        quiet wine_run wineboot -i || { echo "wine-prefix.sh: wineboot failed" >&2; exit 1; }
        quiet "$WINESERVER" -w
    fi
    quiet "$WINESERVER" -p || { echo "wine-prefix.sh: wineserver -p failed" >&2; exit 1; }
    quiet wine_run cmd /c exit || { echo "wine-prefix.sh: wine cannot run a program" >&2; exit 1; }
    echo "wine prefix ready: $WINEPREFIX"
    ;;
cleanup)
    quiet "$WINESERVER" -k
    quiet "$WINESERVER" -w
    echo "wineserver stopped"
    ;;
*)
    echo "usage: wine-prefix.sh setup|cleanup" >&2
    exit 2
    ;;
esac
