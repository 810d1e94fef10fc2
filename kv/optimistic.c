/*
 * optimistic.c — reads that take no lock and write nothing to the mapping:
 * every get of a read-only handle, and of a handle opened with
 * KV_OPTIMISTIC.  Readers then do not move the lock's cache line (or any
 * other) between each other's cores, and a reader needs no write
 * permission.
 *
 * The protocol (writers' half in journal.c): a writer makes a slot's seq
 * word odd before it changes any of the slot's bytes and the next even
 * value after; changes to many slots at once make the store's epoch odd
 * the same way.  A read
 *   1. loads epoch (acquire), and gives up for now if it is odd;
 *   2. probes as a locked lookup does; for the slot whose hash and length
 *      match, loads its seq (acquire) before anything else of it, and gives
 *      up for now if it is odd;
 *   3. compares the key and copies the value and metadata out;
 *   4. fences (acquire), then loads the seq and the epoch again: if either
 *      moved, what it copied may be torn, and it reads again.
 * Why that suffices (Boehm, "Can seqlocks get along with programming
 * language memory models?", 2012): if any byte read in 3 was stored by a
 * change, that change's odd store came first in the writer's order (its
 * release fence), so the fence in 4 makes the reloads see it or later —
 * the word differs.  If none was, every byte read is from one even state:
 * the slot as some completed or in-flight write left it whole.  Bytes are
 * read with plain loads: the bytes a validation rejects are never used,
 * and the only decisions taken on unvalidated bytes (a slot's length or
 * block index) are bounded by the private geometry, so a torn read can
 * only land inside the mapping.
 *
 * A miss needs no slot's word: a key present since before the read began
 * lies on a probe path whose slots are never empty (journal.c turns a
 * tombstone empty only where no path runs over it), and an entry never
 * moves, so the probe reaches it; a lookup that finds nothing saw either no
 * such key or one whose insert is still in flight.  Only the epoch (clear,
 * recovery) can move everything at once.  A slot whose hash and length
 * match but whose key does not is checked all the same: it may be the key's
 * own slot mid-change.
 *
 * A writer killed inside a bracket leaves the word odd until the next
 * writer's lock repairs the store; a reader waits for that at most its lock
 * timeout and answers KV_ETIMEDOUT, never hangs.  A writable handle stops
 * trying after OPTIMISTIC_TRIES and takes the lock, which repairs.
 */
#include <string.h>

#include "store.h"


/* Reads of a changing slot before a writable handle takes the lock. */
#define OPTIMISTIC_TRIES 64u
/* Between tries past that, a read-only handle sleeps this long. */
#define OPTIMISTIC_NAP_MS 1u

uint32_t kv__optimistic_seq(const kv_slot_t *s)
{
    return atomic_load_explicit(&s->seq, memory_order_acquire);
}

int kv__optimistic_unmoved(const kv_slot_t *s, uint32_t seq)
{
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&s->seq, memory_order_relaxed) == seq;
}

int kv__optimistic_damaged(const kv_slot_t *s, uint32_t seq)
{
    return (seq & 1u) ? OPTIMISTIC_BUSY
         : kv__optimistic_unmoved(s, seq) ? KV_ECORRUPT : OPTIMISTIC_AGAIN;
}

/* One read under the epoch: steps 1 and 4's second half. */
static int read_in_epoch(const kv_t *kv, optimistic_read_fn read, void *ctx)
{
    const _Atomic uint32_t *epoch = &kv->table.hints->epoch;
    uint32_t e = atomic_load_explicit(epoch, memory_order_acquire);
    int rc;
    if (e & 1u)
        return OPTIMISTIC_BUSY;
    if ((rc = read(kv, ctx)) != OPTIMISTIC_DONE)
        return rc;
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(epoch, memory_order_relaxed) == e ? OPTIMISTIC_DONE
                                                                   : OPTIMISTIC_AGAIN;
}

int kv__optimistic_retry(kv_t *kv, optimistic_read_fn read, void *ctx, uint32_t timeout_ms)
{
    uint64_t deadline = 0;
    int forked = kv__store_check_fork(kv); /* the lock checks it for locked reads */
    if (forked)
        return forked;
    for (uint32_t tries = 0;; tries++) {
        int rc = read_in_epoch(kv, read, ctx);
        if (rc <= 0)
            return rc;
        if (tries < OPTIMISTIC_TRIES)
            continue;
        if (kv->writable)
            return OPTIMISTIC_CONTENDED; /* the lock waits, and repairs */
        /* Read-only: a writer stopped or killed mid-change; wait for the
         * next one, up to the lock timeout. */
        if (deadline == 0)
            deadline = kv__os_monotonic_ms() + timeout_ms;
        else if (kv__os_monotonic_ms() >= deadline)
            return KV_ETIMEDOUT;
        kv__os_sleep_ms(OPTIMISTIC_NAP_MS);
    }
}

/* ---------------------------------------------------------------------- */
/* Gets                                                                    */
/* ---------------------------------------------------------------------- */

/* A get's question, and what it copied out. */
typedef struct get_read {
    uint32_t hash;
    const void *key;
    uint32_t key_len;
    void *buf;
    size_t cap;
    int want_meta;
    const kv_slot_t *slot;  /* the slot that matched, or NULL */
    uint32_t seq;           /* its seq when first read */
    uint32_t val_len;       /* its value length */
    kv_meta_t meta;
    int rc;                 /* the get's answer if nothing moved */
} get_read_t;

/* The live-or-expired answer for an entry with this expiry. */
static int expired(uint64_t expires_ms, uint64_t *now_ms)
{
    if (expires_ms == 0)
        return 0;
    if (*now_ms == 0)
        *now_ms = kv__os_clock_ms();
    return expires_ms <= *now_ms;
}

/* Step 3 for slot s, whose hash and length match the key: compare, check
 * expiry, copy.  Returns OPTIMISTIC_DONE (g->rc says what was found; a key
 * that differs leaves g->slot NULL, to probe on), or OPTIMISTIC_BUSY,
 * OPTIMISTIC_AGAIN, KV_ECORRUPT. */
static int read_match(const kv_t *kv, const kv_slot_t *s, get_read_t *g)
{
    const kv_table_t *t = &kv->table;
    uint32_t seq = kv__optimistic_seq(s), val_len;
    const unsigned char *bytes;
    uint64_t now_ms = 0, expires_ms;
    if (seq & 1u)
        return OPTIMISTIC_BUSY;
    val_len = kv__table_val_len(s);
    if (!kv__validate_val_len(val_len, &t->geo) ||
        !(bytes = kv__table_bytes(t, (kv_slot_t *)s, g->key_len, val_len)))
        return kv__optimistic_damaged(s, seq);
    if (memcmp(bytes, g->key, g->key_len) != 0) /* another key, if nothing moved */
        return kv__optimistic_unmoved(s, seq) ? OPTIMISTIC_DONE : OPTIMISTIC_AGAIN;
    /* A read-only handle cannot know whether a file store was scanned
     * after a power loss (kv.h): it checks the entry itself. */
    if (!kv->writable && t->checked &&
        kv__table_check_of(s, g->key_len, val_len, bytes) != s->check)
        return kv__optimistic_damaged(s, seq);
    /* A store that never set a TTL keeps line 1 unread, as under the lock. */
    expires_ms = g->want_meta || kv__table_ttl_used(t) ? s->expires_ms : 0;
    g->slot = s;
    g->seq = seq;
    g->val_len = val_len;
    g->meta.version = g->want_meta ? s->version : 0;
    g->meta.expires_ms = expires_ms;
    g->rc = expired(expires_ms, &now_ms) ? KV_ENOTFOUND : val_len > g->cap ? KV_ERANGE : 0;
    if (g->rc == 0)
        kv__store_copy_out(g->buf, bytes + g->key_len, val_len);
    return OPTIMISTIC_DONE;
}

/* Steps 2 to 4 (the slot's half): the probe of kv__table_lookup, without
 * the lock. */
static int read_get(const kv_t *kv, void *ctx)
{
    const kv_table_t *t = &kv->table;
    get_read_t *g = ctx;
    uint64_t limit = kv__table_probe_limit(t), i = g->hash & t->mask;
    g->slot = NULL;
    g->rc = KV_ENOTFOUND;
    g->val_len = 0;
    for (uint64_t step = 0; step < limit; step++, i = (i + 1) & t->mask) {
        const kv_slot_t *s = kv__table_slot(t, i);
        uint32_t state = kv__table_state(s);
        int rc;
        if (state == KV_SLOT_EMPTY)
            break;
        if (state == KV_SLOT_TOMB || state != g->key_len ||
            *(const volatile uint32_t *)&s->hash != g->hash)
            continue;
        if ((rc = read_match(kv, s, g)) != OPTIMISTIC_DONE)
            return rc;
        if (g->slot)
            return kv__optimistic_unmoved(s, g->seq) ? OPTIMISTIC_DONE : OPTIMISTIC_AGAIN;
    }
    return OPTIMISTIC_DONE;
}

/* A hit through a writable handle of a cache store sets CLOCK's reference
 * bit as a locked get does, but with an atomic OR: the lock holder may be
 * rewriting the slot's length, and a plain store could put back an old
 * one.  Only when clear, so a hot entry's line is written once per CLOCK
 * pass, not once per get. */
static void reference(const kv_t *kv, const kv_slot_t *s)
{
    uint32_t *val_len = (uint32_t *)&((kv_slot_t *)s)->val_len;
    if (kv->writable && kv->cache && !(__atomic_load_n(val_len, __ATOMIC_RELAXED) & KV_VAL_REF))
        __atomic_fetch_or(val_len, KV_VAL_REF, __ATOMIC_RELAXED);
}

/* Counts a get in the handle's optimistic counters: atomics, since threads
 * sharing the handle read at once, on the handle's memory, not the store's. */
static void count(kv_t *kv, int rc)
{
    if (rc == 0 || rc == KV_ERANGE)
        atomic_fetch_add_explicit(&kv->optimistic_hits, 1, memory_order_relaxed);
    else if (rc == KV_ENOTFOUND)
        atomic_fetch_add_explicit(&kv->optimistic_misses, 1, memory_order_relaxed);
}

int kv__optimistic_get(kv_t *kv, uint32_t hash, const void *key, size_t key_len, void *buf,
                       size_t cap, size_t *val_len, kv_meta_t *meta, uint32_t timeout_ms,
                       data_use_t use)
{
    get_read_t g = { hash, key, (uint32_t)key_len, buf, cap, meta != NULL, NULL, 0, 0,
                     { 0, 0 }, 0 };
    int rc = kv__optimistic_retry(kv, read_get, &g, timeout_ms);
    if (rc != OPTIMISTIC_DONE)
        return rc;
    if (use == DATA_GET) {
        count(kv, g.rc);
        if (g.rc == 0 || g.rc == KV_ERANGE)
            reference(kv, g.slot);
    }
    *val_len = g.val_len;
    if (meta)
        *meta = g.meta;
    return g.rc;
}
