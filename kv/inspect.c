/*
 * inspect.c — reading a store as a whole: the iteration cursor, stats and
 * the consistency check.  None of them changes an entry.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "store.h"

/* kv_next scans at most this many slots per lock hold. */
#define NEXT_SCAN_BATCH 65536u

/* ---------------------------------------------------------------------- */
/* Iteration                                                               */
/* ---------------------------------------------------------------------- */

/* Copies the entry in slot i into *e if its buffers are large enough. */
static int copy_entry(kv_t *kv, uint64_t i, uint32_t key_len, kv_entry_t *e)
{
    kv_slot_t *s = kv__table_slot(&kv->table, i);
    uint32_t val_len = kv__table_val_len(s);
    if (!kv__validate_key_len(key_len, &kv->table.geo) || !kv__validate_val_len(val_len, &kv->table.geo))
        return KV_ECORRUPT;
    const unsigned char *bytes = kv__table_bytes(&kv->table, s, key_len, val_len);
    if (!bytes)
        return KV_ECORRUPT;
    e->key_len = key_len;
    e->val_len = val_len;
    if (e->key_len > e->key_cap || (e->val && e->val_len > e->val_cap))
        return KV_ERANGE;
    kv__store_copy_out(e->key, bytes, e->key_len);
    if (e->val) /* NULL: keys only */
        kv__store_copy_out(e->val, bytes + key_len, e->val_len);
    return 0;
}

/* Scans at most NEXT_SCAN_BATCH slots from *cursor for a live entry
 * (expired ones are skipped, not reclaimed: iteration does not write).
 * Returns 0 (entry copied, cursor past it), 1 (batch done, cursor advanced),
 * or an error with the cursor on the entry. */
static int next_locked(kv_t *kv, uint64_t *cursor, kv_entry_t *e, uint64_t now_ms)
{
    uint64_t end = *cursor + NEXT_SCAN_BATCH;
    for (uint64_t i = *cursor; i <= kv->table.mask; i++) {
        kv_slot_t *s = kv__table_slot(&kv->table, i);
        uint32_t state = kv__table_state(s);
        int rc;
        if (i == end) {
            *cursor = i;
            return 1;
        }
        if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB || kv__table_expired(s, now_ms))
            continue;
        *cursor = i;
        if ((rc = copy_entry(kv, i, state, e)) != 0)
            return rc;
        *cursor = i + 1;
        return 0;
    }
    *cursor = kv->table.mask + 1;
    return KV_ENOTFOUND;
}

/* A read-only handle's step of kv_next: from *cursor to the next live
 * entry, copied out.  Every used slot it passes has its seq read first, so
 * an entry skipped as expired was expired, and the one copied is whole. */
typedef struct next_read {
    uint64_t from, at; /* where the read starts; the slot it stopped at */
    uint64_t now_ms;
    kv_entry_t *e;
} next_read_t;

static int read_next(const kv_t *kv, void *ctx)
{
    next_read_t *n = ctx;
    for (n->at = n->from; n->at <= kv->table.mask; n->at++) {
        const kv_slot_t *s = kv__table_slot(&kv->table, n->at);
        uint32_t seq = kv__optimistic_seq(s), state = kv__table_state(s);
        int rc;
        if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB)
            continue;
        if (seq & 1u)
            return OPTIMISTIC_BUSY;
        rc = kv__table_expired(s, n->now_ms) ? 1 : copy_entry((kv_t *)kv, n->at, state, n->e);
        if (!kv__optimistic_unmoved(s, seq))
            return OPTIMISTIC_AGAIN;
        if (rc != 1)
            return rc == KV_ECORRUPT ? kv__optimistic_damaged(s, seq) : rc;
    }
    return KV_ENOTFOUND;
}

/* kv_next without the lock.  *pos as next_locked leaves it. */
static int next_optimistic(kv_t *kv, uint64_t *pos, kv_entry_t *e, uint64_t now_ms)
{
    next_read_t n = { *pos, *pos, now_ms, e };
    int rc = kv__optimistic_retry(kv, read_next, &n, kv__store_timeout(kv));
    if (rc == OPTIMISTIC_DONE)
        rc = 0;
    *pos = rc == 0 ? n.at + 1 : rc == KV_ENOTFOUND ? kv->table.mask + 1 : n.at;
    return rc;
}

int kv_next(kv_t *kv, uint64_t *cursor, kv_entry_t *e)
{
    store_hold_t hold;
    uint64_t pos, now;
    int rc;
    if (!kv || !cursor || !e || (!e->key && e->key_cap) || (!e->val && e->val_cap))
        return KV_EINVAL;
    pos = *cursor;
    now = kv__os_clock_ms();
    if (!kv->writable) {
        if (pos > kv->table.mask)
            return KV_ENOTFOUND;
        rc = next_optimistic(kv, &pos, e, now);
        if (rc == 0 || rc == KV_ENOTFOUND)
            *cursor = pos;
        return rc;
    }
    do {
        if (pos > kv->table.mask)
            return KV_ENOTFOUND;
        if ((rc = kv__store_lock(kv, &hold)) != 0)
            return rc;
        rc = next_locked(kv, &pos, e, now);
        kv__store_unlock(kv, &hold);
    } while (rc == 1);
    if (rc == 0 || rc == KV_ENOTFOUND)
        *cursor = pos;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Inspection                                                              */
/* ---------------------------------------------------------------------- */

/* The fields that need no lock: geometry from the private copy, and the
 * counters and holder mark read racily (for diagnosing a stuck store). */
static void stats_unlocked(const kv_t *kv, kv_stats_t *st)
{
    const kv_header_t *h = kv->hdr;
    memset(st, 0, sizeof *st);
    st->slots = kv->table.geo.slot_count;
    st->key_max = kv->table.geo.key_max;
    st->val_max = kv->table.geo.val_max;
    st->total_bytes = kv->table.geo.total_size;
    st->data_bytes = kv->table.geo.data_granules * KV_GRANULE;
    st->layout_version = KV_LAYOUT_VERSION;
    st->cache = (uint32_t)kv->cache;
    st->holder_pid = atomic_load_explicit(&h->holder_pid, memory_order_relaxed);
    st->holder_since_ms = st->holder_pid
        ? atomic_load_explicit(&h->holder_since_ms, memory_order_relaxed) : 0;
    st->lock_timeouts = atomic_load_explicit(&h->lock_timeouts, memory_order_relaxed);
    st->read_mode = !kv->writable ? KV_READ_ONLY
                  : kv->optimistic ? KV_READ_OPTIMISTIC : KV_READ_LOCKED;
}

/* The wait words armed now (kv_stats_t.waits_armed). */
static uint32_t waits_armed(const kv_table_t *t, const kv_header_t *h)
{
    uint32_t n = (atomic_load_explicit(&h->wake_pending, memory_order_relaxed) &
                  KV_WAKE_STORE) != 0;
    for (uint32_t w = 0; w < KV_WAIT_WORDS; w++)
        n += atomic_load_explicit(&t->waits->word[w].armed, memory_order_relaxed) != 0;
    return n;
}

/* The fields that come from the slots, the data area and the header's
 * counters; the caller holds the lock, or has a read-only handle (then the
 * counters are read racily and its own counts added). */
static void stats_counted(kv_t *kv, kv_stats_t *st)
{
    const kv_header_t *h = kv->hdr;
    table_census_t c;
    alloc_census_t data;
    kv__table_census(&kv->table, &c);
    (void)kv__alloc_census(&kv->table, &data); /* kv_check reports damage */
    st->dropped = h->dropped;
    st->generation = atomic_load_explicit(&h->generation, memory_order_relaxed);
    st->recoveries = h->recoveries;
    st->hits = h->hits + atomic_load_explicit(&kv->optimistic_hits, memory_order_relaxed);
    st->misses = h->misses + atomic_load_explicit(&kv->optimistic_misses, memory_order_relaxed);
    st->expirations = h->expirations;
    st->evictions = h->evictions;
    st->used = c.used;
    st->tombstones = c.tombstones;
    st->load_factor = (double)c.used / (double)st->slots;
    st->avg_probe = c.used ? (double)c.probe_sum / (double)c.used : 0.0;
    st->max_probe = c.probe_max;
    st->inline_entries = c.inline_used;
    st->entry_bytes = c.entry_bytes;
    st->data_used = data.used_granules * KV_GRANULE;
    st->data_free = data.free_granules * KV_GRANULE;
    st->data_largest_free = data.largest_free * KV_GRANULE;
    st->waits_armed = waits_armed(&kv->table, h);
    st->wakeups = kv->table.waits->wakeups;
}

/* Fills *st: the lock-free fields, then the rest under the lock (or, for
 * a read-only handle, without it). */
static int stats_read(kv_t *kv, kv_stats_t *st)
{
    store_hold_t hold;
    int rc;
    stats_unlocked(kv, st);
    if (!kv->writable) {
        stats_counted(kv, st);
        return 0;
    }
    if ((rc = kv__store_lock(kv, &hold)) != 0) {
        stats_unlocked(kv, st); /* again: our own wait stamped the holder's time */
        return rc;
    }
    kv__store_fold(kv);
    stats_counted(kv, st);
    kv__store_unlock(kv, &hold);
    return 0;
}

/* The first published kv_stats_t ends here; later versions only append. */
#define STATS_V1_SIZE (offsetof(kv_stats_t, holder_since_ms) + sizeof(uint64_t))

int kv_stats_size(kv_t *kv, kv_stats_t *st, size_t size)
{
    kv_stats_t full;
    int rc;
    if (!kv || !st)
        return KV_EINVAL;
    if ((rc = kv__store_check_fork(kv)) != 0)
        return rc;
    rc = stats_read(kv, &full);
    if (rc == 0 || rc == KV_ETIMEDOUT) {
        int out = kv__store_sized_out(st, size, &full, sizeof full, STATS_V1_SIZE);
        return out ? out : rc;
    }
    return rc;
}

/* A bounded text buffer that kv_check appends problem lines to. */
typedef struct report {
    char *buf;
    size_t cap, len;
    uint64_t problems;
} report_t;

#define REPORT_MAX_SLOT_LINES 20

static void report_add(report_t *r, const char *fmt, ...)
{
    va_list ap;
    size_t room;
    int n;
    r->problems++;
    if (!r->buf || r->len + 1 >= r->cap)
        return;
    room = r->cap - r->len;
    va_start(ap, fmt);
    n = vsnprintf(r->buf + r->len, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n < room ? (size_t)n : room - 1;
}

static void check_header(kv_t *kv, report_t *r)
{
    kv_geometry_t live;
    const kv_header_t *h = kv->hdr;
    if (kv__validate_header(h, kv->object_size, kv__os_mutex_abi(), &live) != 0 ||
        memcmp(&live, &kv->table.geo, sizeof live) != 0 || h->hash_seed != kv->table.seed)
        report_add(r, "header: identity fields damaged or changed since open\n");
    if (kv__journal_busy(h))
        report_add(r, "journal: an operation is still marked in flight\n");
}

static void check_slots(kv_t *kv, report_t *r)
{
    table_census_t c;
    uint64_t bad = 0, now_ms = kv__os_clock_ms();
    for (uint64_t i = 0; i <= kv->table.mask; i++) {
        const char *why = kv__table_check_slot(&kv->table, i, now_ms);
        if (why && ++bad <= REPORT_MAX_SLOT_LINES)
            report_add(r, "slot %llu: %s\n", (unsigned long long)i, why);
    }
    if (bad > REPORT_MAX_SLOT_LINES)
        report_add(r, "... and %llu more damaged slots\n",
                   (unsigned long long)(bad - REPORT_MAX_SLOT_LINES));
    kv__table_census(&kv->table, &c);
    if (c.used != kv->hdr->used || c.tombstones != kv->hdr->tombstones)
        report_add(r, "header: counters (used %llu, tombstones %llu) disagree with the "
                      "slots (%llu, %llu)\n",
                   (unsigned long long)kv->hdr->used, (unsigned long long)kv->hdr->tombstones,
                   (unsigned long long)c.used, (unsigned long long)c.tombstones);
}

/* The data area against the slots: blocks that tile it, each used one
 * named by exactly one slot (a walk finds each used block once and checks
 * its slot names it back, so equal counts mean no slot lacks a block). */
static void check_data(kv_t *kv, report_t *r)
{
    alloc_census_t data;
    table_census_t c;
    const char *why = kv__alloc_census(&kv->table, &data);
    kv__table_census(&kv->table, &c);
    if (why)
        report_add(r, "data area: %s\n", why);
    else if (data.used_blocks != c.used - c.inline_used)
        report_add(r, "data area: %llu used blocks for %llu entries out of line\n",
                   (unsigned long long)data.used_blocks,
                   (unsigned long long)(c.used - c.inline_used));
}

int kv_check(kv_t *kv, char *report, size_t cap)
{
    store_hold_t hold;
    report_t r = { report, cap, 0, 0 };
    int rc;
    if (!kv || (!report && cap))
        return KV_EINVAL;
    if (report && cap)
        report[0] = '\0';
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    if (!kv__store_intact(kv)) /* reading its slots would raise SIGBUS */
        report_add(&r, "object: truncated below its %llu bytes by a process with write "
                       "permission\n", (unsigned long long)kv->object_size);
    else {
        check_header(kv, &r);
        check_slots(kv, &r);
        check_data(kv, &r);
    }
    kv__store_unlock(kv, &hold);
    return r.problems ? KV_ECORRUPT : 0;
}
