#!/bin/sh
# symbols.sh LIBRARY... — fails when a static library defines a global name
# outside kv's two namespaces: kv_ (the public API) and kv__ (internal
# functions shared between files).  A user linking libkv.a statically must
# never meet a clash with a name of their own.  Names a sanitizer's
# instrumentation adds (__odr_asan.<global>, ...) are the compiler's, not kv's.
status=0
for lib in "$@"; do
  [ -n "$lib" ] || continue
  stray=$("${NM:-nm}" -g --defined-only "$lib" | awk 'NF == 3 { print $3 }' | grep -v '^kv_' |
          grep -Ev '^__(odr_asan|asan_|tsan_|ubsan_|sancov_)' | sort -u)
  if [ -n "$stray" ]; then
    echo "$lib defines names outside kv_/kv__:"
    echo "$stray" | sed 's/^/  /'
    status=1
  else
    echo "$lib: $("${NM:-nm}" -g --defined-only "$lib" | awk 'NF == 3' | wc -l) global names, all kv_ or kv__"
  fi
done
exit $status
