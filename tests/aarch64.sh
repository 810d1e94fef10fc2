#!/usr/bin/env bash
# aarch64.sh — kv on a second CPU architecture, 64-bit Arm, from an x86-64
# Debian machine: installs what is missing (tools/deps.sh, after adding
# dpkg's arm64 architecture), cross-builds build/aarch64 with
# tools/cmake/aarch64-linux-gnu.cmake (RelWithDebInfo, static programs,
# warnings are errors), then
#   1. runs the CTest suite under qemu-user (qemu-aarch64; binfmt_misc
#      registered here if it is not, so the tests' child processes run too).
#      qemu-user has no robust futexes, so the cases that need a dead lock
#      holder reported skip, each saying so;
#   2. runs every C test program on a real aarch64 kernel, in a
#      qemu-system-aarch64 VM (tests/aarch64-vm.sh), where those cases run;
#   3. moves a store file between the x86-64 kvcli and the aarch64 one
#      (tests/store_exchange.sh): their mutexes differ (glibc's is 40 bytes
#      on x86-64, 48 on aarch64), so each adopts the file only when alone
#      with it and refuses it while the other holds it.
# Prints the wall time of each part.  The README's "aarch64" section says
# what this shows and what it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS=0
jobs=$(nproc)
ARM=build/aarch64
HOST=build/aarch64-host
times=""
last=0
part_done() { # part_done NAME: the wall time since the last part ended
    times+="${times:+, }$1 $((SECONDS - last)) s"; last=$SECONDS
}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
    $sudo apt-get update -qq # deps.sh updates only when a package is missing
fi
tools/deps.sh gcc-aarch64-linux-gnu libc6-dev-arm64-cross libxxhash-dev:arm64 \
              qemu-user qemu-system-arm cpio
part_done "packages"

# qemu-aarch64 as the kernel's handler of aarch64 ELF files (what Debian's
# qemu-user-binfmt registers): flag F opens the interpreter now, so it
# works in other mount namespaces (unshare) too.
register_binfmt() {
    local dir=/proc/sys/fs/binfmt_misc
    [ -e "$dir/register" ] || $sudo mount -t binfmt_misc binfmt_misc "$dir"
    [ -e "$dir/qemu-aarch64" ] && grep -qx enabled "$dir/qemu-aarch64" && return 0
    local magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
    local mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
    echo "aarch64.sh: registering qemu-aarch64 with binfmt_misc"
    echo ":qemu-aarch64:M::$magic:$mask:$(command -v qemu-aarch64):F" | $sudo tee "$dir/register" >/dev/null
}
register_binfmt

. tests/store_exchange.sh
build_pair "$ARM" tools/cmake/aarch64-linux-gnu.cmake "$HOST"
# An aarch64 program started directly, as the tests start their helpers.
"$ARM/kvcli" --help >/dev/null || { echo "aarch64.sh: binfmt_misc does not run aarch64 programs" >&2; exit 1; }
part_done "builds"

# The three longest programs run in full in the VM, on a real aarch64
# kernel; under qemu-user they would add a minute to CI's fifteen.
echo "=== tests: $ARM under qemu-user (the VM runs powerloss, multiproc and hostile)"
(cd "$ARM" && ctest --output-on-failure --no-tests=error -j"$jobs" --timeout 600 \
                    -E '^(powerloss_test|multiproc_test|hostile_test)$')
tests/skipped.sh "$ARM"
part_done "qemu-user suite"

echo "=== tests: $ARM in a qemu-system-aarch64 VM"
tests/aarch64-vm.sh "$ARM"
part_done "VM suite"

echo "=== store file: x86-64 kvcli <-> aarch64 kvcli (qemu-user)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kv-aarch64.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
here() { "$HOST/kvcli" "$@"; }
there() { "$ARM/kvcli" "$@"; }
HERE="x86-64 kvcli" THERE="aarch64 kvcli"
exchange_store "$tmp/shared.kv" && ok=1 || ok=0
part_done "store file"

echo "aarch64.sh: wall time: $times"
echo "aarch64.sh: $([ "$ok" -eq 1 ] && echo passed || echo FAILED) in ${SECONDS}s"
[ "$ok" -eq 1 ]
