/*
 * fault.c — the crash-point counter of the kv_fault test build (see fault.h).
 * Compiled only into kv_fault.  KV_CRASH_AT is read once; an absent or
 * non-positive value disables crashing but the points are still counted.
 */
#include "fault.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_long crash_at = -1; /* -1: not read yet, 0: never crash */
static atomic_long points_hit;

static long read_crash_at(void)
{
    const char *s = getenv("KV_CRASH_AT");
    long k = s ? strtol(s, NULL, 10) : 0;
    return k > 0 ? k : 0;
}

void kv__fault_point(void)
{
    long target = atomic_load(&crash_at);
    if (target < 0) {
        target = read_crash_at();
        atomic_store(&crash_at, target);
    }
    if (atomic_fetch_add(&points_hit, 1) + 1 == target)
        _Exit(KV_CRASH_EXIT_CODE);
}
