#!/usr/bin/env bash
# aarch64-vm.sh BUILD_DIR — runs the C test programs of an aarch64 build
# (tools/cmake/aarch64-linux-gnu.cmake, linked -static) on a real aarch64
# Linux kernel: a qemu-system-aarch64 VM ("virt" board, 2 CPUs) booted from
# Debian's arm64 kernel package, whose initramfs this script makes afresh
# each run.  That kernel, unlike qemu-user, implements robust futexes, so
# the tests of a lock holder's death (crash walks, kill -9 soak, PID
# namespace) run there too.
#
# The VM image is only: busybox (busybox-static:arm64) for /bin, the init
# script tests/aarch64-init.sh, kvcli and the *_test programs (stripped),
# and /etc/passwd with root and nobody (the permission tests).  The two
# packages are fetched with `apt-get download` (the arm64 architecture must
# be added to dpkg) and unpacked with dpkg-deb into BUILD_DIR/vm, never
# installed.  Nothing prebuilt is kept in the repository.
#
# The VM's serial console goes to BUILD_DIR/vm/console.log.  The run passes
# only if the init's last line says every program passed; a VM that hangs
# is killed after KV_VM_TIMEOUT seconds (default 600) and the run fails.
# KV_VM_TESTS="a_test b_test" runs only those programs.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:?usage: tests/aarch64-vm.sh BUILD_DIR}
vm="$build/vm"
log="$vm/console.log"
mkdir -p "$vm"

# unpack PACKAGE DIR PATTERN: the files of the newest candidate of PACKAGE
# that match PATTERN (tar's) unpacked into DIR, downloaded only when DIR is
# missing or holds another version.
unpack() {
    local pkg=$1 dir=$2 pattern=$3 version
    version=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
    [ -n "$version" ] && [ "$version" != "(none)" ] || { echo "no package $pkg" >&2; return 1; }
    [ "$(cat "$dir.version" 2>/dev/null)" = "$version" ] && return 0
    rm -rf "$dir" "$vm/deb" && mkdir -p "$dir" "$vm/deb"
    (cd "$vm/deb" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    dpkg-deb --fsys-tarfile "$vm"/deb/*.deb | tar -x -C "$dir" --wildcards "$pattern"
    rm -rf "$vm/deb"
    echo "$version" >"$dir.version"
}

# The kernel: linux-image-arm64 is a metapackage; its one dependency is the
# versioned image package that holds /boot/vmlinuz-* (an uncompressed
# arm64 Image with the PL011 serial console and PSCI built in: no module
# is needed to boot, print and power off).
kernel_pkg=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-/ { print $2; exit }')
[ -n "$kernel_pkg" ] || { echo "aarch64-vm.sh: no linux-image-arm64:arm64 (dpkg --add-architecture arm64; apt-get update)" >&2; exit 1; }
unpack "$kernel_pkg" "$vm/kernel" './boot/vmlinuz-*'
unpack busybox-static:arm64 "$vm/busybox" ./bin/busybox
kernel=$(ls "$vm"/kernel/boot/vmlinuz-* | head -1)

# ---- the initramfs -----------------------------------------------------------

root="$vm/root"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp,kv/tests}
cp "$vm/busybox/bin/busybox" "$root/bin/"
ln -s busybox "$root/bin/sh" # for /init's #!; it links the other applets itself
install -m 755 tests/aarch64-init.sh "$root/init"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
aarch64-linux-gnu-strip -o "$root/kv/kvcli" "$build/kvcli"
for t in "$build"/tests/*_test; do
    aarch64-linux-gnu-strip -o "$root/kv/tests/${t##*/}" "$t"
done
# The order the VM runs them in, two at a time: the suite's slow ones
# (CTest label slow), then the multi-process ones, then the rest, so that
# the longest are not left for last.
labelled() { (cd "$build" && ctest -N "$@" | awk '/Test +#/ { print $3 }'); }
for t in $( { labelled -L slow; labelled -L multiproc; ls "$root/kv/tests"; } | awk '!seen[$0]++'); do
    if [ -x "$root/kv/tests/$t" ] && [[ " ${KV_VM_TESTS:-$t} " == *" $t "* ]]; then echo "$t"; fi
done >"$root/kv/tests.list"
# No /dev/console node is needed (nor root to make one): the kernel unpacks
# its own built-in initramfs, which has it, before this one.
(cd "$root" && find . | cpio -o -H newc --quiet) >"$vm/initrd.cpio"
echo "initramfs: $(du -h "$vm/initrd.cpio" | cut -f1), $(wc -l <"$root/kv/tests.list") test programs to run; kernel ${kernel##*/}"

# ---- the run -----------------------------------------------------------------

# cortex-a72 (Armv8.0, no LSE atomics): glibc and libgcc's outline atomics
# take their load/store-exclusive paths here, while qemu-user's default CPU
# ("max") gives them the LSE instructions, so both are exercised.
append="console=ttyAMA0 panic=-1 quiet kv_timeout=300"
rm -f "$log"
rc=0
timeout -k 10 "${KV_VM_TIMEOUT:-600}" qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048 \
    -accel tcg,thread=multi -nic none -display none -monitor none -no-reboot \
    -serial "file:$log" -kernel "$kernel" -initrd "$vm/initrd.cpio" -append "$append" || rc=$?
[ "$rc" -eq 124 ] && echo "aarch64-vm.sh: the VM did not finish in ${KV_VM_TIMEOUT:-600} s: killed"

# Each program's verdict and skips; every line of its output is in $log.
tr -d '\r' <"$log" | grep -a -E '^(=== .* in [0-9]+s$|FAIL |KV-VM-DONE)' || true
tests/skipped.sh "$log"
done_line=$(tr -d '\r' <"$log" | grep -a '^KV-VM-DONE: ' || true)
if [ "$rc" -eq 0 ] && [[ "$done_line" =~ ^KV-VM-DONE:\ [0-9]+\ programs\ passed,\ 0\ failed\  ]]; then
    exit 0
fi
echo "aarch64-vm.sh: FAILED (qemu exit $rc); the console's last lines ($log):"
tr -d '\r' <"$log" | tail -40
exit 1
