/*
 * store.c — kv's public API: opening a store, and every operation as
 * "check arguments, hash, lock, act on the table, unlock".
 *
 * Opening: the OS layer opens the object and takes the attach lock.  The
 * process that gets it alone either formats a new block (header written,
 * magic last) or, for an existing one, repairs whatever the last holder left
 * and formats the mutex afresh — nobody else can be inside it.  Everyone else
 * validates the header and keeps a private copy of the geometry, so later
 * scribbles on the header cannot move this process outside its mapping.
 *
 * Locking: store_lock() is the one function that takes the store mutex.  It
 * counts timeouts, records the holder (pid, since when) and repairs the store
 * when the previous holder died, before the caller's operation looks at any
 * slot.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "kv.h"
#include "os.h"

struct kv {
    os_object_t *obj;
    kv_header_t *hdr;
    kv_table_t table;            /* slot array with the validated geometry */
    uint64_t object_size;        /* bytes of the object when opened */
    _Atomic uint32_t timeout_ms; /* lock wait limit; settable from any thread */
    uint32_t pid;                /* cached: getpid() is a system call */
    int created;
    int writable;
};

#define KV_ALL_OPEN_FLAGS (KV_RDWR | KV_CREATE | KV_EXCL)
/* How long an opener waits for a creator that has made an object but not yet
 * sized it (a window of a few system calls). */
#define EMPTY_OBJECT_RETRIES 20
/* kv_next scans at most this many slots per lock hold. */
#define NEXT_SCAN_BATCH 65536u

/* ---------------------------------------------------------------------- */
/* The lock                                                                */
/* ---------------------------------------------------------------------- */

/* The holder mark brackets every critical section: set before the first
 * store to slots, cleared after the last.  A process that attaches alone
 * and finds it set knows the last holder died inside (store_repair_alone).
 * The signal fence keeps the compiler from moving slot stores above it. */
static void holder_set(kv_t *kv)
{
    atomic_store_explicit(&kv->hdr->holder_pid, kv->pid, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
}

static void store_unlock(kv_t *kv)
{
    kv_header_t *h = kv->hdr;
    /* Only a waiter stamps the time (store_wait), so the uncontended path
     * reads no clock; a stamp that lands after this clear is cleared by the
     * next unlock. */
    if (atomic_load_explicit(&h->holder_since_ms, memory_order_relaxed))
        atomic_store_explicit(&h->holder_since_ms, 0, memory_order_relaxed);
    atomic_store_explicit(&h->holder_pid, 0, memory_order_release);
    os_mutex_unlock(h->lock);
}

/* The slow path of store_lock: the lock is held by someone else.  Stamp when
 * it was first seen held (for stats), then wait up to the timeout. */
static int store_wait(kv_t *kv)
{
    kv_header_t *h = kv->hdr;
    uint32_t ms = atomic_load_explicit(&kv->timeout_ms, memory_order_relaxed);
    uint64_t unset = 0;
    int rc;
    atomic_compare_exchange_strong_explicit(&h->holder_since_ms, &unset, os_clock_ms(),
                                            memory_order_relaxed, memory_order_relaxed);
    rc = ms ? os_mutex_lock(h->lock, ms) : KV_ETIMEDOUT;
    if (rc == KV_ETIMEDOUT)
        atomic_fetch_add_explicit(&h->lock_timeouts, 1, memory_order_relaxed);
    return rc;
}

/* Takes the store's mutex: the one place every operation locks.  A dead
 * previous holder's damage is repaired here, before the caller's operation
 * looks at any slot. */
static int store_lock(kv_t *kv)
{
    kv_header_t *h = kv->hdr;
    int rc = os_mutex_trylock(h->lock);
    if (rc == OS_LOCK_BUSY)
        rc = store_wait(kv);
    if (rc < 0)
        return rc;
    holder_set(kv);
    if (rc == OS_LOCK_OWNER_DIED) {
        /* Repair before marking the mutex consistent: if this process dies
         * while repairing, the next locker is told again and repeats the
         * (idempotent) repair. */
        rc = journal_recover(&kv->table, h);
        os_mutex_consistent(h->lock);
        if (rc < 0) {
            store_unlock(kv);
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                 */
/* ---------------------------------------------------------------------- */

void kv_options_init(kv_options_t *opts)
{
    opts->slots = 1024;
    opts->key_max = 64;
    opts->val_max = 1024;
    opts->mode = 0600;
    opts->lock_timeout_ms = 5000;
}

static void table_from_header(kv_t *kv, const kv_geometry_t *g)
{
    table_init(&kv->table, (unsigned char *)kv->hdr + g->header_size, g, kv->hdr->hash_seed);
}

/* Writes a new store into an empty object this process holds alone.  The
 * object reads as zeros, which is an empty table and an idle journal; the
 * magic is written last, so a creator that dies part way leaves something
 * no one will take for a store. */
static int store_format(kv_t *kv, const kv_geometry_t *g)
{
    void *addr;
    kv_header_t *h;
    int rc = os_object_reserve(kv->obj, g->total_size);
    if (!rc)
        rc = os_object_map(kv->obj, g->total_size, &addr);
    if (rc)
        return rc;
    h = kv->hdr = addr;
    h->layout_version = KV_LAYOUT_VERSION;
    h->byte_order = KV_BYTE_ORDER_MARK;
    h->header_size = g->header_size;
    h->slot_size = g->slot_size;
    h->slot_count = g->slot_count;
    h->key_max = g->key_max;
    h->val_max = g->val_max;
    h->hash_seed = os_random64();
    h->total_size = g->total_size;
    h->lock_abi = os_mutex_abi();
    h->creator_ptr_bits = (uint32_t)(sizeof(void *) * 8);
    rc = os_mutex_init(h->lock);
    if (rc)
        return rc;
    atomic_signal_fence(memory_order_seq_cst);
    h->magic = KV_MAGIC;
    kv->object_size = g->total_size;
    kv->created = 1;
    table_from_header(kv, g);
    return 0;
}

/* Alone with an existing store: no process is inside the mutex, whatever its
 * bytes say (a holder that died, a file-backed store from before a reboot).
 * Repair if the last holder died mid-operation, then format a fresh mutex. */
static int store_repair_alone(kv_t *kv)
{
    kv_header_t *h = kv->hdr;
    int rc = 0;
    if (atomic_load_explicit(&h->holder_pid, memory_order_relaxed) != 0 || journal_busy(h))
        rc = journal_recover(&kv->table, h);
    atomic_store_explicit(&h->holder_pid, 0, memory_order_relaxed);
    return rc ? rc : os_mutex_init(h->lock);
}

static int store_attach_existing(kv_t *kv, uint64_t size, int alone)
{
    kv_geometry_t g;
    void *addr;
    int rc = os_object_map(kv->obj, size, &addr);
    if (rc)
        return rc;
    kv->hdr = addr;
    kv->object_size = size;
    rc = validate_header(kv->hdr, size, os_mutex_abi(), &g);
    if (rc)
        return rc;
    table_from_header(kv, &g);
    return alone ? store_repair_alone(kv) : 0;
}

/* Opens the object until it is a sized store (or this call creates it). */
static int store_attach(kv_t *kv, const char *name, unsigned flags, const kv_options_t *opts,
                        const kv_geometry_t *want)
{
    int create = (flags & KV_CREATE) != 0, exclusive = (flags & KV_EXCL) != 0;
    for (int attempt = 0;; attempt++) {
        uint64_t size;
        int rc = os_object_open(name, create, exclusive, opts->mode, opts->lock_timeout_ms,
                                &kv->obj, &size);
        if (rc < 0)
            return rc;
        if (size == 0 && create && rc == OS_ATTACH_ALONE)
            rc = store_format(kv, want);
        else if (size > 0)
            rc = store_attach_existing(kv, size, rc == OS_ATTACH_ALONE);
        else
            rc = 1; /* empty and not ours to format: a creator may be about to */
        if (rc == 0)
            return os_object_share(kv->obj);
        os_object_close(kv->obj);
        kv->obj = NULL;
        if (rc < 0)
            return rc;
        if (attempt >= EMPTY_OBJECT_RETRIES)
            return KV_ECORRUPT;
        exclusive = 0; /* the object exists now, made by someone else */
        os_sleep_ms(1);
    }
}

int kv_open(kv_t **out, const char *name, unsigned flags, const kv_options_t *opts)
{
    kv_options_t defaults;
    kv_geometry_t want = { 0 };
    kv_t *kv;
    int rc;
    if (!out || !name || (flags & ~KV_ALL_OPEN_FLAGS) ||
        ((flags & KV_EXCL) && !(flags & KV_CREATE)))
        return KV_EINVAL;
    *out = NULL;
    if ((rc = validate_name(name)) != 0)
        return rc;
    if (!opts) {
        kv_options_init(&defaults);
        opts = &defaults;
    }
    if (opts->mode & ~07777u)
        return KV_EINVAL;
    if ((flags & KV_CREATE) &&
        (rc = validate_options(opts->slots, opts->key_max, opts->val_max, &want)) != 0)
        return rc;
    if (!(kv = calloc(1, sizeof *kv)))
        return KV_ENOMEM;
    atomic_init(&kv->timeout_ms, opts->lock_timeout_ms);
    kv->pid = os_pid();
    kv->writable = (flags & KV_RDWR) != 0;
    if ((rc = store_attach(kv, name, flags, opts, &want)) != 0) {
        kv_close(kv);
        return rc;
    }
    *out = kv;
    return 0;
}

int kv_created(const kv_t *kv)
{
    return kv ? kv->created : 0;
}

int kv_close(kv_t *kv)
{
    if (kv) {
        os_object_close(kv->obj);
        free(kv);
    }
    return 0;
}

int kv_unlink(const char *name)
{
    int rc;
    if (!name)
        return KV_EINVAL;
    if ((rc = validate_name(name)) != 0)
        return rc;
    return os_object_unlink(name);
}

int kv_info(const kv_t *kv, kv_info_t *info)
{
    if (!kv || !info)
        return KV_EINVAL;
    info->slots = kv->table.geo.slot_count;
    info->key_max = kv->table.geo.key_max;
    info->val_max = kv->table.geo.val_max;
    info->total_bytes = kv->table.geo.total_size;
    return 0;
}

int kv_set_timeout(kv_t *kv, uint32_t ms)
{
    if (!kv)
        return KV_EINVAL;
    atomic_store_explicit(&kv->timeout_ms, ms, memory_order_relaxed);
    return 0;
}

int kv_flush(kv_t *kv)
{
    return kv ? os_object_flush(kv->obj) : KV_EINVAL;
}

/* ---------------------------------------------------------------------- */
/* Data                                                                    */
/* ---------------------------------------------------------------------- */

/* Checks a key argument: present, non-empty, within the store's limit. */
static int check_key(const kv_t *kv, const void *key, size_t key_len)
{
    if (!kv || !key || key_len == 0)
        return KV_EINVAL;
    return key_len > kv->table.geo.key_max ? KV_ETOOBIG : 0;
}

static int check_write(const kv_t *kv, const void *key, size_t key_len,
                       const void *val, size_t val_len)
{
    int rc = check_key(kv, key, key_len);
    if (rc)
        return rc;
    if (!val && val_len)
        return KV_EINVAL;
    if (val_len > kv->table.geo.val_max)
        return KV_ETOOBIG;
    return kv->writable ? 0 : KV_ERDONLY;
}

/* Copies n bytes out of the mapping; a caller's buffer may be NULL when n
 * is 0, which memcpy does not allow. */
static void copy_out(void *dst, const unsigned char *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
}

/* Looks the key up and, when found, checks the slot's value length (it was
 * read from the mapping).  Returns the slot or NULL with *rc set. */
static kv_slot_t *find_entry(kv_t *kv, uint64_t hash, const void *key, size_t key_len,
                             table_pos_t *pos, int *rc)
{
    kv_slot_t *s;
    *rc = table_lookup(&kv->table, hash, key, (uint32_t)key_len, pos);
    if (*rc)
        return NULL;
    s = table_slot(&kv->table, pos->found);
    if (!validate_val_len(s->val_len, &kv->table.geo)) {
        *rc = KV_ECORRUPT;
        return NULL;
    }
    return s;
}

static int put_locked(kv_t *kv, uint64_t hash, const void *key, size_t key_len,
                      const void *val, size_t val_len, unsigned flags)
{
    table_pos_t pos;
    int rc;
    if (find_entry(kv, hash, key, key_len, &pos, &rc)) {
        if (flags & KV_NOREPLACE)
            return KV_EEXIST;
        journal_replace(&kv->table, kv->hdr, pos.found, val, (uint32_t)val_len);
        return 0;
    }
    if (rc != KV_ENOTFOUND)
        return rc;
    if (pos.free == TABLE_NONE)
        return KV_EFULL;
    journal_insert(&kv->table, kv->hdr, pos.free, hash, key, (uint32_t)key_len, val,
                   (uint32_t)val_len);
    return 0;
}

int kv_put(kv_t *kv, const void *key, size_t key_len, const void *val, size_t val_len,
           unsigned flags)
{
    uint64_t hash;
    int rc = check_write(kv, key, key_len, val, val_len);
    if (rc)
        return rc;
    if (flags & ~KV_NOREPLACE)
        return KV_EINVAL;
    hash = table_hash(&kv->table, key, key_len);
    if ((rc = store_lock(kv)) != 0)
        return rc;
    rc = put_locked(kv, hash, key, key_len, val, val_len, flags);
    store_unlock(kv);
    return rc;
}

static int get_locked(kv_t *kv, uint64_t hash, const void *key, size_t key_len,
                      void *buf, size_t cap, size_t *val_len)
{
    table_pos_t pos;
    int rc;
    kv_slot_t *s = find_entry(kv, hash, key, key_len, &pos, &rc);
    if (!s)
        return rc;
    *val_len = s->val_len;
    if (s->val_len > cap)
        return KV_ERANGE;
    copy_out(buf, table_val(&kv->table, s), s->val_len);
    return 0;
}

int kv_get(kv_t *kv, const void *key, size_t key_len, void *buf, size_t cap, size_t *val_len)
{
    size_t len = 0;
    uint64_t hash;
    int rc = check_key(kv, key, key_len);
    if (rc)
        return rc;
    if (!buf && cap)
        return KV_EINVAL;
    hash = table_hash(&kv->table, key, key_len);
    if ((rc = store_lock(kv)) != 0)
        return rc;
    rc = get_locked(kv, hash, key, key_len, buf, cap, &len);
    store_unlock(kv);
    if (val_len && (rc == 0 || rc == KV_ERANGE))
        *val_len = len;
    return rc;
}

int kv_del(kv_t *kv, const void *key, size_t key_len)
{
    table_pos_t pos;
    uint64_t hash;
    int rc = check_key(kv, key, key_len);
    if (rc)
        return rc;
    if (!kv->writable)
        return KV_ERDONLY;
    hash = table_hash(&kv->table, key, key_len);
    if ((rc = store_lock(kv)) != 0)
        return rc;
    rc = table_lookup(&kv->table, hash, key, (uint32_t)key_len, &pos);
    if (rc == 0)
        journal_delete(&kv->table, kv->hdr, pos.found);
    store_unlock(kv);
    return rc;
}

int kv_count(kv_t *kv, uint64_t *count)
{
    int rc;
    if (!kv || !count)
        return KV_EINVAL;
    if ((rc = store_lock(kv)) != 0)
        return rc;
    *count = kv->hdr->used;
    store_unlock(kv);
    return 0;
}

int kv_clear(kv_t *kv)
{
    int rc;
    if (!kv)
        return KV_EINVAL;
    if (!kv->writable)
        return KV_ERDONLY;
    if ((rc = store_lock(kv)) != 0)
        return rc;
    journal_clear(&kv->table, kv->hdr);
    store_unlock(kv);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Iteration                                                               */
/* ---------------------------------------------------------------------- */

/* Copies the entry in slot i into *e if its buffers are large enough. */
static int copy_entry(kv_t *kv, uint64_t i, uint32_t key_len, kv_entry_t *e)
{
    kv_slot_t *s = table_slot(&kv->table, i);
    if (!validate_key_len(key_len, &kv->table.geo) || !validate_val_len(s->val_len, &kv->table.geo))
        return KV_ECORRUPT;
    e->key_len = key_len;
    e->val_len = s->val_len;
    if (e->key_len > e->key_cap || (e->val && e->val_len > e->val_cap))
        return KV_ERANGE;
    copy_out(e->key, table_key(s), e->key_len);
    if (e->val) /* NULL: keys only */
        copy_out(e->val, table_val(&kv->table, s), e->val_len);
    return 0;
}

/* Scans at most NEXT_SCAN_BATCH slots from *cursor for a used one.  Returns
 * 0 (entry copied, cursor past it), 1 (batch done, cursor advanced), or an
 * error with the cursor on the entry. */
static int next_locked(kv_t *kv, uint64_t *cursor, kv_entry_t *e)
{
    uint64_t end = *cursor + NEXT_SCAN_BATCH;
    for (uint64_t i = *cursor; i <= kv->table.mask; i++) {
        uint32_t state = table_state(table_slot(&kv->table, i));
        int rc;
        if (i == end) {
            *cursor = i;
            return 1;
        }
        if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB)
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

int kv_next(kv_t *kv, uint64_t *cursor, kv_entry_t *e)
{
    uint64_t pos;
    int rc;
    if (!kv || !cursor || !e || (!e->key && e->key_cap) || (!e->val && e->val_cap))
        return KV_EINVAL;
    pos = *cursor;
    do {
        if (pos > kv->table.mask)
            return KV_ENOTFOUND;
        if ((rc = store_lock(kv)) != 0)
            return rc;
        rc = next_locked(kv, &pos, e);
        store_unlock(kv);
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
    kv_info_t info;
    kv_info(kv, &info);
    memset(st, 0, sizeof *st);
    st->slots = info.slots;
    st->key_max = info.key_max;
    st->val_max = info.val_max;
    st->total_bytes = info.total_bytes;
    st->layout_version = KV_LAYOUT_VERSION;
    st->holder_pid = atomic_load_explicit(&h->holder_pid, memory_order_relaxed);
    st->holder_since_ms = st->holder_pid
        ? atomic_load_explicit(&h->holder_since_ms, memory_order_relaxed) : 0;
    st->lock_timeouts = atomic_load_explicit(&h->lock_timeouts, memory_order_relaxed);
}

int kv_stats(kv_t *kv, kv_stats_t *st)
{
    table_census_t c;
    int rc;
    if (!kv || !st)
        return KV_EINVAL;
    stats_unlocked(kv, st);
    if ((rc = store_lock(kv)) != 0) {
        stats_unlocked(kv, st); /* again: our own wait stamped the holder's time */
        return rc;
    }
    table_census(&kv->table, &c);
    st->generation = kv->hdr->generation;
    st->recoveries = kv->hdr->recoveries;
    store_unlock(kv);
    st->used = c.used;
    st->tombstones = c.tombstones;
    st->load_factor = (double)c.used / (double)st->slots;
    st->avg_probe = c.used ? (double)c.probe_sum / (double)c.used : 0.0;
    st->max_probe = c.probe_max;
    return 0;
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
    if (validate_header(h, kv->object_size, os_mutex_abi(), &live) != 0 ||
        memcmp(&live, &kv->table.geo, sizeof live) != 0 || h->hash_seed != kv->table.seed)
        report_add(r, "header: identity fields damaged or changed since open\n");
    if (journal_busy(h))
        report_add(r, "journal: an operation is still marked in flight\n");
}

static void check_slots(kv_t *kv, report_t *r)
{
    table_census_t c;
    uint64_t bad = 0;
    for (uint64_t i = 0; i <= kv->table.mask; i++) {
        const char *why = table_check_slot(&kv->table, i);
        if (why && ++bad <= REPORT_MAX_SLOT_LINES)
            report_add(r, "slot %llu: %s\n", (unsigned long long)i, why);
    }
    if (bad > REPORT_MAX_SLOT_LINES)
        report_add(r, "... and %llu more damaged slots\n",
                   (unsigned long long)(bad - REPORT_MAX_SLOT_LINES));
    table_census(&kv->table, &c);
    if (c.used != kv->hdr->used || c.tombstones != kv->hdr->tombstones)
        report_add(r, "header: counters (used %llu, tombstones %llu) disagree with the "
                      "slots (%llu, %llu)\n",
                   (unsigned long long)kv->hdr->used, (unsigned long long)kv->hdr->tombstones,
                   (unsigned long long)c.used, (unsigned long long)c.tombstones);
}

int kv_check(kv_t *kv, char *report, size_t cap)
{
    report_t r = { report, cap, 0, 0 };
    int rc;
    if (!kv || (!report && cap))
        return KV_EINVAL;
    if (report && cap)
        report[0] = '\0';
    if ((rc = store_lock(kv)) != 0)
        return rc;
    check_header(kv, &r);
    check_slots(kv, &r);
    store_unlock(kv);
    return r.problems ? KV_ECORRUPT : 0;
}
