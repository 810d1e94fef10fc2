#!/bin/sh
# aarch64-init.sh — /init of the test VM that tests/aarch64-vm.sh boots (a
# busybox shell, pid 1, on Debian's arm64 kernel): mounts what the tests
# use, runs the C test programs of /kv/tests.list, each under a timeout as
# CTest would, two at a time (the VM has 2 CPUs; CTest runs them in
# parallel too), and prints on the serial console each program's whole
# output as it ends, then one marker line the host script looks for:
#   KV-VM-DONE: N programs passed, M failed
# and powers the VM off.  Anything else (a kernel panic, a hang that the
# host's timeout ends) leaves no such line, which the host counts as a
# failure.  The kernel command line may carry kv_timeout=SECONDS (per
# program, default 300).
/bin/busybox --install -s /bin
export PATH=/bin TMPDIR=/tmp KVCLI=/kv/kvcli HOME=/
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir /tmp/kv-vm
cd /tmp

# run_one NAME: runs /kv/tests/NAME, then prints its output and verdict
# while holding the print lock (mkdir is atomic), so that the two workers'
# outputs never interleave; its verdict also goes to /tmp/kv-vm/NAME.
run_one() {
    local t=$1 start rc took verdict
    start=$(date +%s)
    echo "--- $t started" # one short line: says what ran if the VM is killed
    timeout "${kv_timeout:-300}" "/kv/tests/$t" >"/tmp/kv-vm/$t.out" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then verdict="passed"; else verdict="FAILED (exit $rc)"; fi
    echo "$verdict" >"/tmp/kv-vm/$t"
    until mkdir /tmp/kv-vm/print.lock 2>/dev/null; do sleep 0.1; done
    echo "=== $t"
    cat "/tmp/kv-vm/$t.out"
    echo "=== $t $verdict in ${took}s"
    rmdir /tmp/kv-vm/print.lock
}

# worker: goes down the list (slowest first), running each program that
# no other worker has claimed yet (the claim is a mkdir, atomic).
worker() {
    local t
    while read -r t; do
        mkdir "/tmp/kv-vm/$t.claim" 2>/dev/null && run_one "$t"
    done </kv/tests.list
}

start=$(date +%s)
worker &
worker
wait
passed=$(cat /tmp/kv-vm/*_test | grep -c '^passed$')
failed=$(($(wc -l </kv/tests.list) - passed))
echo "KV-VM-DONE: $passed programs passed, $failed failed ($(($(date +%s) - start)) s)"
sync
poweroff -f
