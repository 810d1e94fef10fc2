/*
 * notify.c — waiting for changes without polling.
 *
 * Two kinds of sleeper, one protocol.  kv_wait sleeps on change_seq, a
 * 32-bit header word that every change bumps; kv_watch sleeps on the wait
 * word its key's hash picks (layout.h kv_waits_t), which a change to a key
 * of that word bumps.  A sleeper that must sleep takes the store's mutex,
 * reads the word's seq and arms it (change_seq: the KV_WAKE_STORE bit of
 * wake_pending; a wait word: its `armed` flag), drops the mutex, checks
 * once more that what it waits for has not happened, and sleeps on the seq
 * it read (kv__os_wait: a shared futex on Linux).  A writer's hold that
 * changes a key reads the armed flags under the same mutex (journal.c
 * touch_word, store.c take_wakes), so the mutex orders the two: either the
 * writer's hold came first and the sleeper sees its change, or the
 * sleeper's came first and the writer sees the word armed, bumps its seq,
 * disarms it and wakes it after unlocking.  The kernel compares the word
 * and sleeps atomically, so a wake that lands between the sleeper's unlock
 * and its sleep makes the sleep return at once: no lost wake-up.
 *
 * An armed flag, not a count: a wake wakes every sleeper of the word, and
 * each that sleeps again re-arms it, so a sleeper killed (or timed out)
 * while armed costs one wake-up call and then nothing; no count is left
 * high for every later put to pay for.  A put that nobody watches reads
 * one armed flag and writes no line of the wait words.  A watcher wakes
 * for changes to the keys of its word only (1 in KV_WAIT_WORDS of random
 * keys), and its re-reads count neither as hits nor misses nor as a use of
 * the entry for CLOCK (a peek, data.c).
 *
 * A read-only handle may not arm anything (it cannot write the mapping),
 * so no writer knows to wake it: it reads the seq without the mutex and
 * sleeps at most KV_READ_ONLY_POLL_MS (kv.h) before it looks again, which
 * costs writers nothing; a writer that woke an armed sleeper of the same
 * word wakes it too.
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

/* Arms `seq` for a sleep: under the mutex, reads it and runs arm() on the
 * store, waiting at most lock_ms for the lock; a read-only handle only
 * reads it (see the top of this file).  Returns 0 or what taking the mutex
 * returned. */
static int arm_word(kv_t *kv, _Atomic uint32_t *seq, void (*arm)(kv_t *, void *), void *what,
                    uint32_t lock_ms, uint32_t *seen_seq)
{
    store_hold_t hold;
    int rc;
    if (!kv->writable) {
        *seen_seq = atomic_load_explicit(seq, memory_order_acquire);
        return 0;
    }
    if ((rc = kv__store_lock_within(kv, &hold, lock_ms)) != 0)
        return rc;
    *seen_seq = atomic_load_explicit(seq, memory_order_relaxed);
    arm(kv, what);
    kv__store_unlock(kv, &hold); /* changed nothing: wakes no one */
    return 0;
}

/* arm() of kv_wait: the store-wide bit of wake_pending, which the next
 * changing hold takes (store.c take_wakes). */
static void arm_store(kv_t *kv, void *unused)
{
    kv_header_t *h = kv->hdr;
    (void)unused;
    atomic_store_explicit(&h->wake_pending,
                          atomic_load_explicit(&h->wake_pending, memory_order_relaxed) |
                              KV_WAKE_STORE,
                          memory_order_relaxed);
}

/* arm() of kv_watch: the key's wait word. */
static void arm_key_word(kv_t *kv, void *word)
{
    (void)kv;
    atomic_store_explicit(&((kv_wait_word_t *)word)->armed, 1, memory_order_relaxed);
}

/* Sleeps on seq while it is still seen_seq, at most nap_ms, and no longer
 * than a read-only handle's poll.  Returns 0 (woken, changed, or the nap
 * is over: the caller looks again) or KV_EINTR. */
static int sleep_on(kv_t *kv, _Atomic uint32_t *seq, uint32_t seen_seq, uint64_t nap_ms)
{
    int rc;
    if (!kv->writable && nap_ms > KV_READ_ONLY_POLL_MS)
        nap_ms = KV_READ_ONLY_POLL_MS; /* unarmed: no writer wakes it */
    rc = kv__os_wait(kv->obj, seq, seen_seq, (uint32_t)nap_ms);
    return rc == KV_EINTR ? rc : 0;
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
        /* The generation is stored with release (journal.c publish), and
         * read again after arming: a change before the arming is seen
         * here, one after it bumps change_seq and wakes the sleep. */
        *current = atomic_load_explicit(&h->generation, memory_order_acquire);
        if (*current != seen || rc == KV_EINTR || (now = kv__os_monotonic_ms()) >= deadline)
            return rc;
        if ((rc = arm_word(kv, &h->change_seq, arm_store, NULL, lock_budget(kv, deadline, now),
                           &seq)) != 0)
            return kv__os_monotonic_ms() >= deadline ? 0 : rc; /* out of time: a timeout */
        *current = atomic_load_explicit(&h->generation, memory_order_acquire);
        if (*current != seen)
            return 0;
        rc = sleep_on(kv, &h->change_seq, seq, deadline - now);
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
 * waiting at most lock_ms for the lock: a peek, which counts as no get. */
static int key_version(kv_t *kv, const void *key, size_t key_len, uint32_t lock_ms,
                       kv_meta_t *meta)
{
    int rc = kv__data_get(kv, key, key_len, NULL, 0, NULL, meta, lock_ms, DATA_PEEK);
    if (rc == KV_ENOTFOUND)
        meta->version = meta->expires_ms = 0;
    return rc == KV_ENOTFOUND || rc == KV_ERANGE ? 0 : rc;
}

/* How long to sleep: until the deadline, or until just after the entry
 * expires — expiry changes nothing in the store until someone looks, so
 * the watcher must look itself. */
static uint64_t sleep_ms(uint64_t deadline, uint64_t now, const kv_meta_t *meta)
{
    uint64_t until = deadline;
    if (meta->expires_ms) {
        uint64_t wall = kv__os_clock_ms();
        uint64_t left = meta->expires_ms > wall ? meta->expires_ms - wall : 0;
        if (now + left + 1 < until)
            until = now + left + 1;
    }
    return until - now;
}

/* One look at the key for kv_watch: arms the key's word, then reads the
 * key (a change after the arming bumps the word, so the sleep on the seq
 * read before the key cannot miss it), then sleeps if the version is still
 * `seen`.  Returns 0 to look again, 1 when the version differs (in *meta)
 * or the deadline passed, or an error.  `looked`: *meta holds an earlier
 * look's read, which stands when this one is out of time. */
static int watch_once(kv_t *kv, const void *key, size_t key_len, kv_wait_word_t *word,
                      uint64_t seen, uint64_t deadline, int looked, kv_meta_t *meta)
{
    uint64_t now = kv__os_monotonic_ms();
    uint32_t seq;
    int rc = arm_word(kv, &word->seq, arm_key_word, word, lock_budget(kv, deadline, now), &seq);
    /* A read that fails (the lock not had in time, damage) leaves *meta
     * alone: there is nothing true to report.  A lock not had once the
     * deadline has passed is the timeout, as in wait_change. */
    if (rc || (rc = key_version(kv, key, key_len, lock_budget(kv, deadline, now), meta)) != 0)
        return looked && rc == KV_ETIMEDOUT && kv__os_monotonic_ms() >= deadline ? 1 : rc;
    if (meta->version != seen || (now = kv__os_monotonic_ms()) >= deadline)
        return 1;
    return sleep_on(kv, &word->seq, seq, sleep_ms(deadline, now, meta));
}

int kv_watch(kv_t *kv, const void *key, size_t key_len, uint64_t seen, uint32_t timeout_ms,
             uint64_t *version)
{
    kv_meta_t meta = { 0, 0 };
    kv_wait_word_t *word;
    uint64_t deadline;
    int rc = kv__store_check_key(kv, key, key_len);
    if (rc)
        return rc;
    word = &kv->table.waits->word[kv__wait_word_of(kv__table_hash(&kv->table, key, key_len))];
    deadline = kv__os_monotonic_ms() + timeout_ms;
    for (int looked = 0; (rc = watch_once(kv, key, key_len, word, seen, deadline, looked,
                                          &meta)) == 0;)
        looked = 1;
    if (version && (rc == 1 || rc == KV_EINTR)) /* after a read: the truth */
        *version = meta.version;
    return rc == 1 ? 0 : rc;
}
