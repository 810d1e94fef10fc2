#!/usr/bin/env bash
# consumer.sh BUILD-DIR — kv as another project uses it, three ways, each
# building tests/consumer/app.c against kv in a scratch directory and
# running it (a store file written and read back):
#   1. add_subdirectory(kv), linking kv::kv_static and kv::kv_shared: kv is
#      a subproject there, so it must build neither tests nor programs nor
#      make warnings errors (tests/consumer/CMakeLists.txt checks);
#   2. cmake --install BUILD-DIR into a scratch prefix, then find_package(kv)
#      with the same two names (and kv::kvcli);
#   3. the installed kv.pc: cc app.c $(pkg-config --cflags --libs kv).
# Each reports kv.h's version, which must be the package's, kv.pc's and the
# shared library's.  BUILD-DIR: a built top-level build (tests/run.sh passes
# build/release).  Takes ~20 s.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: tests/consumer.sh BUILD-DIR}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kv-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
version=$(sed -n 's/^#define KV_VERSION_\(MAJOR\|MINOR\|PATCH\) *\([0-9]*\).*/\2/p' include/kv.h |
          paste -sd.)
failed=0
check() { # check NAME COMMAND...: one line per check; $last is ok or FAIL
  if "${@:2}"; then last=ok; else last=FAIL; failed=$((failed + 1)); fi
  printf '%-5s%s\n' "$last" "$1"
}
# runs NAME COMMAND...: the program makes store $tmp/NAME.kv, prints kv.h's version
runs() { local name=$1; shift; [ "$("$@" "$tmp/$name.kv")" = "$version" ]; }
# project NAME CMAKE-ARGS...: configures and builds tests/consumer in $tmp/NAME
project() {
  local name=$1; shift
  if ! { cmake -S tests/consumer -B "$tmp/$name" -DKV_EXPECT_VERSION="$version" "$@" &&
         cmake --build "$tmp/$name" -j"$(nproc)"; } >"$tmp/$name.log" 2>&1; then
    tail -30 "$tmp/$name.log"
    return 1
  fi
}

echo "=== consumer: add_subdirectory(kv)"
check "a project builds kv as its subproject" project sub -DKV_SOURCE_DIR="$PWD"
if [ $last = ok ]; then
  check "kv::kv_static works through add_subdirectory" runs sub-static "$tmp/sub/app_static"
  check "kv::kv_shared works through add_subdirectory" runs sub-shared "$tmp/sub/app_shared"
fi

echo "=== consumer: cmake --install $build, find_package(kv)"
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
check "a project finds the installed kv $version" project pkg -DCMAKE_PREFIX_PATH="$prefix"
if [ $last = ok ]; then
  check "kv::kv_static works through find_package" runs pkg-static "$tmp/pkg/app_static"
  check "kv::kv_shared works through find_package" runs pkg-shared "$tmp/pkg/app_shared"
fi

echo "=== consumer: pkg-config kv"
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name kv.pc)")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir kv)
check "kv.pc has kv.h's version" [ "$(pkg-config --modversion kv)" = "$version" ]
check "kv.pc points into the prefix it was installed to" [ "${libdir#"$prefix"/}" != "$libdir" ]
check "the shared library has kv.h's version" [ -f "$libdir/libkv.so.$version" ]
# shellcheck disable=SC2046 # pkg-config's output is words
check "a program builds with pkg-config --cflags --libs kv" \
  cc -Wall -Wextra -Werror tests/consumer/app.c $(pkg-config --cflags --libs kv) -o "$tmp/app_pc"
check "it runs with the installed libkv.so" runs pc env LD_LIBRARY_PATH="$libdir" "$tmp/app_pc"

echo "consumer.sh: $([ "$failed" -eq 0 ] && echo passed || echo "$failed FAILED")"
[ "$failed" -eq 0 ]
