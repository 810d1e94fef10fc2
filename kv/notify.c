/*
 * notify.c — waiting for changes without polling.
 *
 * Every change publishes a new generation and then bumps change_seq, a
 * 32-bit word in the header that waiters sleep on (kv__os_wait: a shared futex
 * on Linux).  A waiter reads change_seq, then the generation; if nothing
 * changed it registers in `waiters` and sleeps on the change_seq it read.
 * The kernel compares the word and sleeps atomically, so a change that
 * lands after the waiter's read makes the sleep return at once: no lost
 * wake-up.  A writer wakes sleepers after unlocking, and only if `waiters`
 * is nonzero, so a store nobody watches pays no system call (store.c).
 */
#include "store.h"

int kv_generation(kv_t *kv, uint64_t *generation)
{
    if (!kv || !generation)
        return KV_EINVAL;
    *generation = atomic_load_explicit(&kv->hdr->generation, memory_order_acquire);
    return 0;
}

int kv_wait(kv_t *kv, uint64_t seen, uint32_t timeout_ms, uint64_t *generation)
{
    kv_header_t *h;
    uint64_t deadline, now, current;
    int rc = 0;
    if (!kv)
        return KV_EINVAL;
    h = kv->hdr;
    deadline = kv__os_monotonic_ms() + timeout_ms;
    for (;;) {
        /* change_seq first: publish() stores the generation before bumping
         * it, so a waiter that sees the new change_seq sees the new
         * generation too. */
        uint32_t seq = atomic_load_explicit(&h->change_seq, memory_order_seq_cst);
        current = atomic_load_explicit(&h->generation, memory_order_acquire);
        if (current != seen)
            break;
        now = kv__os_monotonic_ms();
        if (now >= deadline) {
            rc = KV_ETIMEDOUT;
            break;
        }
        atomic_fetch_add_explicit(&h->waiters, 1, memory_order_seq_cst);
        kv__os_wait(kv->obj, &h->change_seq, seq, (uint32_t)(deadline - now));
        atomic_fetch_sub_explicit(&h->waiters, 1, memory_order_relaxed);
    }
    if (generation)
        *generation = current;
    return rc;
}

/* The version of key's live entry (0 if absent), when it expires, and the
 * generation it was read at. */
static int key_version(kv_t *kv, const void *key, size_t key_len, kv_meta_t *meta,
                       uint64_t *generation)
{
    int rc = kv_get_ex(kv, key, key_len, NULL, 0, NULL, meta);
    *generation = atomic_load_explicit(&kv->hdr->generation, memory_order_acquire);
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

int kv_watch(kv_t *kv, const void *key, size_t key_len, uint64_t seen, uint32_t timeout_ms,
             uint64_t *version)
{
    kv_meta_t meta = { 0, 0 };
    uint64_t deadline, now, generation;
    int rc = kv__store_check_key(kv, key, key_len);
    if (rc)
        return rc;
    deadline = kv__os_monotonic_ms() + timeout_ms;
    for (;;) {
        /* The generation is read after the version: a change between the
         * two makes kv_wait return at once, and the loop reads again. */
        if ((rc = key_version(kv, key, key_len, &meta, &generation)) != 0)
            break;
        if (meta.version != seen)
            break;
        now = kv__os_monotonic_ms();
        if (now >= deadline) {
            rc = KV_ETIMEDOUT;
            break;
        }
        rc = kv_wait(kv, generation, sleep_ms(deadline, now, &meta), NULL);
        if (rc != 0 && rc != KV_ETIMEDOUT)
            break;
    }
    if (version)
        *version = meta.version;
    return rc;
}
