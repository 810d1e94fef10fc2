/*
 * notify.c — waiting for changes without polling.
 *
 * Every change publishes a new generation and then bumps change_seq, a
 * 32-bit word in the header that waiters sleep on (kv__os_wait: a shared futex
 * on Linux).  A waiter that must sleep takes the store's mutex, reads
 * change_seq and the generation, counts itself in `waiters`, drops the mutex
 * and sleeps on the change_seq it read.  A writer bumps change_seq and reads
 * `waiters` under the same mutex (journal.c publish, store.c unlock), so the
 * mutex orders the two: either the writer's hold came first and the waiter
 * reads its generation and does not sleep, or the waiter's came first and
 * the writer sees it counted and wakes it after unlocking.  The kernel
 * compares the word and sleeps atomically, so a wake that lands between the
 * waiter's unlock and its sleep makes the sleep return at once: no lost
 * wake-up, and a writer pays no atomic read-modify-write or fence for it,
 * and no system call while nobody waits.  A read-only handle cannot count
 * itself, so it polls (KV_READ_ONLY_POLL_MS, kv.h).
 */
#include "store.h"

int kv_generation(kv_t *kv, uint64_t *generation)
{
    int rc;
    if (!kv || !generation)
        return KV_EINVAL;
    if ((rc = kv__store_check_fork(kv)) != 0)
        return rc;
    *generation = atomic_load_explicit(&kv->hdr->generation, memory_order_acquire);
    return 0;
}

/* The lock wait of a read at `now`: the handle's timeout, but never past
 * the caller's own deadline. */
static uint32_t lock_budget(const kv_t *kv, uint64_t deadline, uint64_t now)
{
    uint64_t left = deadline > now ? deadline - now : 0;
    uint32_t handle = kv__store_timeout(kv);
    return left < handle ? (uint32_t)left : handle;
}

/* Under the mutex: reads change_seq and the generation into *seq and
 * *current and, if the generation is still `seen`, counts this waiter in
 * `waiters` (see the top of this file).  Returns 0 or what taking the
 * mutex within lock_ms returned. */
static int enter_wait(kv_t *kv, uint64_t seen, uint32_t lock_ms, uint32_t *seq,
                      uint64_t *current)
{
    kv_header_t *h = kv->hdr;
    store_hold_t hold;
    int rc;
    if (!kv->writable) {
        /* It may not write `waiters`, so no writer knows to wake it: it
         * reads the words without the mutex and naps at most
         * KV_READ_ONLY_POLL_MS (wait_change).  A writer that did see
         * other waiters wakes it sooner. */
        *seq = atomic_load_explicit(&h->change_seq, memory_order_acquire);
        *current = atomic_load_explicit(&h->generation, memory_order_acquire);
        return 0;
    }
    if ((rc = kv__store_lock_within(kv, &hold, lock_ms)) != 0)
        return rc;
    *seq = atomic_load_explicit(&h->change_seq, memory_order_relaxed);
    *current = atomic_load_explicit(&h->generation, memory_order_relaxed);
    if (*current == seen)
        atomic_fetch_add_explicit(&h->waiters, 1, memory_order_relaxed);
    kv__store_unlock(kv, &hold);
    return 0;
}

/* Sleeps until the generation differs from `seen` or timeout_ms passes, and
 * sets *current to the generation then.  Returns 0 (changed or timed out:
 * the caller compares), KV_EINTR, or an error taking the mutex before the
 * deadline (KV_ETIMEDOUT: the lock is stuck). */
static int wait_change(kv_t *kv, uint64_t seen, uint32_t timeout_ms, uint64_t *current)
{
    kv_header_t *h = kv->hdr;
    uint64_t deadline = kv__os_monotonic_ms() + timeout_ms, now;
    int rc = 0;
    for (;;) {
        uint32_t seq;
        /* A change already seen needs no lock: the generation is stored
         * with release (journal.c publish). */
        *current = atomic_load_explicit(&h->generation, memory_order_acquire);
        if (*current != seen || rc == KV_EINTR || (now = kv__os_monotonic_ms()) >= deadline)
            return rc;
        if ((rc = enter_wait(kv, seen, lock_budget(kv, deadline, now), &seq, current)) != 0)
            return kv__os_monotonic_ms() >= deadline ? 0 : rc; /* out of time: a timeout */
        if (*current != seen)
            return 0;
        uint64_t nap = deadline - now;
        if (!kv->writable && nap > KV_READ_ONLY_POLL_MS)
            nap = KV_READ_ONLY_POLL_MS; /* uncounted: no writer wakes it */
        rc = kv__os_wait(kv->obj, &h->change_seq, seq, (uint32_t)nap);
        if (kv->writable)
            atomic_fetch_sub_explicit(&h->waiters, 1, memory_order_relaxed);
        if (rc == KV_ETIMEDOUT)
            rc = 0; /* the deadline check above answers it, with a fresh read */
    }
}

int kv_wait(kv_t *kv, uint64_t seen, uint32_t timeout_ms, uint64_t *generation)
{
    uint64_t current;
    int rc;
    if (!kv)
        return KV_EINVAL;
    if ((rc = kv__store_check_fork(kv)) != 0)
        return rc;
    rc = wait_change(kv, seen, timeout_ms, &current);
    if (generation)
        *generation = current;
    return rc;
}

/* The version of key's live entry (0 if absent) and when it expires, read
 * waiting at most lock_ms for the lock, and a generation no later than the
 * read: any change after the read moves the store past it, so waiting on it
 * cannot miss one. */
static int key_version(kv_t *kv, const void *key, size_t key_len, uint32_t lock_ms,
                       kv_meta_t *meta, uint64_t *generation)
{
    int rc;
    *generation = atomic_load_explicit(&kv->hdr->generation, memory_order_acquire);
    rc = kv__data_get(kv, key, key_len, NULL, 0, NULL, meta, lock_ms);
    if (rc == KV_ENOTFOUND)
        meta->version = meta->expires_ms = 0;
    return rc == KV_ENOTFOUND || rc == KV_ERANGE ? 0 : rc;
}

/* How long to sleep: until the deadline, or until just after the entry
 * expires — expiry changes nothing in the store until someone looks, so
 * the watcher must look itself. */
static uint32_t sleep_ms(uint64_t deadline, uint64_t now, const kv_meta_t *meta)
{
    uint64_t until = deadline;
    if (meta->expires_ms) {
        uint64_t wall = kv__os_clock_ms();
        uint64_t left = meta->expires_ms > wall ? meta->expires_ms - wall : 0;
        if (now + left + 1 < until)
            until = now + left + 1;
    }
    return (uint32_t)(until - now);
}

/* Sleeps until the store moves past `generation`, the entry's expiry
 * passes, or the deadline.  Returns 0 when the key must be read again, 1
 * when the deadline passed first, or KV_EINTR. */
static int sleep_for_key(kv_t *kv, uint64_t generation, const kv_meta_t *meta,
                         uint64_t deadline)
{
    for (;;) {
        uint64_t now = kv__os_monotonic_ms(), current;
        int rc;
        if (now >= deadline)
            return 1;
        if ((rc = wait_change(kv, generation, sleep_ms(deadline, now, meta), &current)) != 0)
            return rc;
        if (current != generation || (meta->expires_ms && kv__os_clock_ms() >= meta->expires_ms))
            return 0;
    }
}

int kv_watch(kv_t *kv, const void *key, size_t key_len, uint64_t seen, uint32_t timeout_ms,
             uint64_t *version)
{
    kv_meta_t meta = { 0, 0 };
    uint64_t deadline, generation;
    int rc = kv__store_check_key(kv, key, key_len);
    if (rc)
        return rc;
    deadline = kv__os_monotonic_ms() + timeout_ms;
    do {
        /* A read that fails (the lock not had in time, damage) leaves
         * *version alone: there is nothing true to report. */
        rc = key_version(kv, key, key_len, lock_budget(kv, deadline, kv__os_monotonic_ms()),
                         &meta, &generation);
        if (rc)
            return rc;
    } while (meta.version == seen && (rc = sleep_for_key(kv, generation, &meta, deadline)) == 0);
    if (version) /* KV_EINTR too: the last read is still the truth */
        *version = meta.version;
    return rc == 1 ? 0 : rc;
}
