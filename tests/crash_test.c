/*
 * crash_test.c — the crash-point walk: proof that a process killed at any
 * point inside a critical section loses nothing acknowledged and leaves no
 * half-done operation.
 *
 * Linked with kv_fault, the library built with KV_CRASH_POINT()s live.  For
 * each operation in ops[] (put of a new key, replace, insert-only, delete,
 * clear, put with a TTL, compare-and-swap put and delete, kv_incr, eviction
 * from a full cache by each of its paths, reclaim of an expired entry) and
 * for k = 1, 2, ... the test starts a child process (this binary in the
 * "op" role) with KV_CRASH_AT=k; the child opens the store and runs the
 * operation, and the library ends it with _Exit at its k-th crash point,
 * still holding the store's mutex.  The parent then checks that the store
 * equals the model (a list of the entries it must hold) either before or
 * after the operation — nothing else (a cache write that evicts for bytes
 * evicts one entry per step, so it may also stop with some of its victims
 * gone and nothing else changed) — that exactly one recovery was
 * counted, that kv_check finds nothing wrong, and that the store keeps
 * working.  The walk ends at the first k the operation survives.
 *
 * Every walk runs three times: with the parent attached while the child
 * dies (the next lock sees a dead owner: EOWNERDEAD), with the parent
 * detached (the next open finds itself alone with the holder mark set), and
 * detached with file stores, which are checked, so that recovery also runs
 * its scan passes (where named memory vanishes with its last handle, the
 * detached walk already uses files and the third is left out).
 *
 * The recovery walks (walk_recover_*) kill the recovering process too: for
 * each crash point k of an operation (a new entry, an out-of-line replace
 * that recovery undoes, a delete, a clear that it rolls forward, an
 * eviction elsewhere, in place and by bytes), a "recover" child opens the
 * store after the op child died there and is killed at each of its own
 * crash points (the undo, the scan passes, the rebuild of the data area,
 * the count), and this process's recovery must still give exactly the
 * before or after state, with kv_check passing (no block leaked or used
 * twice), nothing counted as dropped, and one recovery counted (two when
 * the recovering child died after its repair was done, before its open
 * cleared the holder mark).
 *
 * Two more cases: a watcher process blocked in kv_wait must be woken when a
 * writer dies mid-put and the next operation recovers the store; and a
 * read-only handle, which reads without the lock, must read a key a
 * writer died replacing as whole or time out, never hang, until a writer
 * recovers the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "spawn.h"
#include "store.h" /* white box: the handle's table, to choose an eviction path */
#include "test.h"
#include "util.h"

#define BASE_ENTRIES 30u
#define CACHE_FILL 80u   /* puts into the 64-slot cache base (capacity 56) */
#define HOUR_MS 3600000u
#define BYTES_BASE_GRANULES 24u /* BASE_CACHE_BYTES' data area */
#define VAL_MAX 128u             /* every base's val_max */

/* ---------------------------------------------------------------------- */
/* The model: which entries the store must hold                            */
/* ---------------------------------------------------------------------- */

/* MODEL_KEY: a model key holds whatever a 64-byte key buffer of this file
 * does (util_fixture_key's, a listing's), so copying one in never cuts it. */
enum { MODEL_MAX = 96, MODEL_KEY = 64 };

typedef struct entry {
    char key[MODEL_KEY]; /* a C string */
    char val[136];
    size_t val_len;
    int ttl;             /* 1: the entry has an expiry time */
} entry_t;

/* A store state, listed entry by entry.  evict_min..evict_max entries may
 * be missing (a cache insert evicted them), never `keep`. */
typedef struct model {
    entry_t e[MODEL_MAX];
    unsigned n;
    unsigned evict_min, evict_max;
    const char *keep;
    int padded;          /* cache bases: values as cache_val pads them */
} model_t;

static int model_find(const model_t *m, const char *key)
{
    for (unsigned i = 0; i < m->n; i++)
        if (strcmp(m->e[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* Inserts or replaces key = val[0..val_len). */
static void model_put(model_t *m, const char *key, const void *val, size_t val_len, int ttl)
{
    int i = model_find(m, key);
    if (i < 0) {
        if (m->n == MODEL_MAX)
            return;
        i = (int)m->n++;
    }
    snprintf(m->e[i].key, sizeof m->e[i].key, "%s", key);
    memcpy(m->e[i].val, val, val_len);
    m->e[i].val_len = val_len;
    m->e[i].ttl = ttl;
}

static void model_put_str(model_t *m, const char *key, const char *val, int ttl)
{
    model_put(m, key, val, strlen(val), ttl);
}

static void model_del(model_t *m, const char *key)
{
    int i = model_find(m, key);
    if (i >= 0)
        m->e[i] = m->e[--m->n];
}

/* ---------------------------------------------------------------------- */
/* The operations, as run by the child and as applied to the model        */
/* ---------------------------------------------------------------------- */

static const char NEW_KEY[] = "brand-new-key";
/* NEW_VAL and REPLACE_VAL make entries too big for a slot, so the walks of
 * puts cover blocks of the data area; the counters' ops cover entries that
 * live in their slot. */
static const char NEW_VAL[] = "a value long enough to be copied in two halves, "
                              "and to live in a block of its own";
static const char REPLACE_KEY[] = "b5"; /* a base entry */
static const char REPLACE_VAL[] = "replacement value of another length, long enough "
                                  "that the entry moves out of its slot into a block";
_Static_assert(sizeof NEW_KEY + sizeof NEW_VAL - 2 > KV_INLINE_MAX, "NEW_VAL out of line");
_Static_assert(sizeof REPLACE_KEY + sizeof REPLACE_VAL - 2 > KV_INLINE_MAX,
               "REPLACE_VAL out of line");
static const char DELETE_KEY[] = "b7";
static const char CTR_KEY[] = "ctr";       /* base counter "41", with a TTL */
static const char NEW_CTR[] = "new-ctr";
static const char EXPIRED_KEY[] = "expired"; /* in BASE_EXPIRED: already expired */
static const char REVIVED_VAL[] = "written over an expired entry";

/* Keys whose absence is checked whenever the model lacks them. */
static const char *const probe_keys[] = {
    NEW_KEY, REPLACE_KEY, DELETE_KEY, CTR_KEY, NEW_CTR, EXPIRED_KEY, "gone1", "gone2",
};

/* The store an operation starts from:
 *   BASE_PLAIN    64 slots: fixture entries b0..b29, CTR_KEY = "41" with a
 *                 TTL of an hour, and two tombstones;
 *   BASE_EXPIRED  BASE_PLAIN plus EXPIRED_KEY, whose TTL has run out;
 *   BASE_FULL     16 slots holding b0..b15 but b3, deleted: no empty slot,
 *                 so the next delete sweeps tombstones (journal.c);
 *   BASE_CACHE_WINDOW, BASE_CACHE_ELSEWHERE
 *                 a KV_CACHE store of 64 slots after CACHE_FILL fixture
 *                 puts c0..c79: crowded (56 slots used), so a new key
 *                 evicts.  WINDOW: the puts had a 1 ms TTL and the op's
 *                 key (home_key) finds an expired entry in its home slot,
 *                 which it takes over.  ELSEWHERE: no TTLs; the key goes
 *                 into a free slot and CLOCK deletes an entry elsewhere,
 *                 in one step (see make_cache_base);
 *   BASE_CACHE_FAR
 *                 as ELSEWHERE, but home_key's window holds no free slot:
 *                 the key takes the place of a victim CLOCK chooses in its
 *                 window, in place (data.c: paths stay short);
 *   BASE_CACHE_FULL
 *                 a KV_CACHE store of 4 slots after the same puts: every
 *                 slot live (7/8 of 4 is 4), so CLOCK's victim is
 *                 overwritten in place;
 *   BASE_CACHE_BYTES
 *                 a KV_CACHE store of 64 slots whose data area is 24
 *                 granules, after the same puts with values padded out of
 *                 their slots (cache_val): it is full by bytes, not slots,
 *                 so a new entry of NEW_VAL's size (7 granules) evicts
 *                 entries one by one until a block fits. */
enum base_kind {
    BASE_PLAIN, BASE_FULL, BASE_EXPIRED, BASE_CACHE_WINDOW, BASE_CACHE_ELSEWHERE, BASE_CACHE_FAR,
    BASE_CACHE_FULL,
    BASE_CACHE_BYTES
};

typedef struct op {
    const char *name;
    enum base_kind base;
    int (*run)(kv_t *kv, uint64_t version); /* the operation on the store */
    int expect;                             /* what run() returns uninterrupted */
    void (*apply)(model_t *m);              /* its effect on the model (NULL: none) */
    const char *version_key; /* the parent passes this key's version + delta */
    int version_delta;       /* -1: a stale version */
    int min_points;          /* crash points the walk must find at least */
    const char *home_key;    /* cache bases: the key whose home slot is chosen */
    int evicts_stepwise;     /* a cache write that evicts for bytes: each
                              * eviction is a step of its own, so a write cut
                              * short may have evicted some entries already */
} op_t;

static int op_put_new(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_put(kv, NEW_KEY, strlen(NEW_KEY), NEW_VAL, strlen(NEW_VAL), 0);
}

static int op_replace(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_put(kv, REPLACE_KEY, strlen(REPLACE_KEY), REPLACE_VAL, strlen(REPLACE_VAL), 0);
}

static int op_insert_only(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_put(kv, NEW_KEY, strlen(NEW_KEY), NEW_VAL, strlen(NEW_VAL), KV_NOREPLACE);
}

static int op_insert_only_existing(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_put(kv, REPLACE_KEY, strlen(REPLACE_KEY), REPLACE_VAL, strlen(REPLACE_VAL),
                  KV_NOREPLACE);
}

static int op_delete(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_del(kv, DELETE_KEY, strlen(DELETE_KEY));
}

static int op_clear(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_clear(kv);
}

static int op_put_ttl_new(kv_t *kv, uint64_t v)
{
    kv_put_opts_t o = { 0, HOUR_MS, 0, 0 };
    (void)v;
    return kv_put_ex(kv, NEW_KEY, strlen(NEW_KEY), NEW_VAL, strlen(NEW_VAL), &o);
}

static int op_put_clears_ttl(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_put(kv, CTR_KEY, strlen(CTR_KEY), "7", 1, 0);
}

static int op_put_cas(kv_t *kv, uint64_t v)
{
    kv_put_opts_t o = { KV_IF_VERSION, 0, v, 0 };
    return kv_put_ex(kv, REPLACE_KEY, strlen(REPLACE_KEY), REPLACE_VAL, strlen(REPLACE_VAL),
                     &o);
}

static int op_del_if(kv_t *kv, uint64_t v)
{
    return kv_del_if(kv, DELETE_KEY, strlen(DELETE_KEY), v);
}

/* kv_incr, with a wrong result turned into an error code no test expects. */
static int incr_to(kv_t *kv, const char *key, int64_t delta, int64_t want)
{
    int64_t r = 0;
    int rc = kv_incr(kv, key, strlen(key), delta, &r);
    return rc == 0 && r != want ? -100 : rc;
}

static int op_incr_existing(kv_t *kv, uint64_t v)
{
    (void)v;
    return incr_to(kv, CTR_KEY, 1, 42);
}

static int op_incr_absent(kv_t *kv, uint64_t v)
{
    (void)v;
    return incr_to(kv, NEW_CTR, 5, 5);
}

static int op_get_expired(kv_t *kv, uint64_t v)
{
    char buf[64];
    (void)v;
    return kv_get(kv, EXPIRED_KEY, strlen(EXPIRED_KEY), buf, sizeof buf, NULL);
}

static int op_put_over_expired(kv_t *kv, uint64_t v)
{
    (void)v;
    return kv_put(kv, EXPIRED_KEY, strlen(EXPIRED_KEY), REVIVED_VAL, strlen(REVIVED_VAL), 0);
}

static void apply_new(model_t *m)         { model_put_str(m, NEW_KEY, NEW_VAL, 0); }
static void apply_new_ttl(model_t *m)     { model_put_str(m, NEW_KEY, NEW_VAL, 1); }
static void apply_replace(model_t *m)     { model_put_str(m, REPLACE_KEY, REPLACE_VAL, 0); }
static void apply_delete(model_t *m)      { model_del(m, DELETE_KEY); }
static void apply_clear(model_t *m)       { m->n = 0; }
static void apply_ctr_no_ttl(model_t *m)  { model_put_str(m, CTR_KEY, "7", 0); }
static void apply_incr_existing(model_t *m) { model_put_str(m, CTR_KEY, "42", 1); } /* TTL kept */
static void apply_incr_absent(model_t *m) { model_put_str(m, NEW_CTR, "5", 0); }
static void apply_revive(model_t *m)      { model_put_str(m, EXPIRED_KEY, REVIVED_VAL, 0); }

static void apply_evict_new(model_t *m)
{
    apply_new(m);
    m->evict_min = m->evict_max = 1;
    m->keep = NEW_KEY;
}

static void apply_evict_incr(model_t *m)
{
    apply_incr_absent(m);
    m->evict_min = m->evict_max = 1;
    m->keep = NEW_CTR;
}

/* A put whose value the data area has no room for: it evicts one entry
 * after another until a block fits. */
static void apply_evict_bytes(model_t *m)
{
    apply_new(m);
    m->evict_min = 1;
    m->evict_max = m->n - 1;
    m->keep = NEW_KEY;
}

static const op_t ops[] = {
    /* name                       base          run                      expect
     *   apply, version_key, version_delta, min_points, home_key, evicts_stepwise */
    { "put-new",                  BASE_PLAIN,   op_put_new,              0,
      apply_new, NULL, 0, 3, NULL, 0 },
    { "put-replace",              BASE_PLAIN,   op_replace,              0,
      apply_replace, NULL, 0, 5, NULL, 0 },
    { "put-insert-only",          BASE_PLAIN,   op_insert_only,          0,
      apply_new, NULL, 0, 3, NULL, 0 },
    { "put-insert-only-existing", BASE_PLAIN,   op_insert_only_existing, KV_EEXIST,
      NULL, NULL, 0, 0, NULL, 0 },
    { "del",                      BASE_PLAIN,   op_delete,               0,
      apply_delete, NULL, 0, 2, NULL, 0 },
    { "del-sweeps",               BASE_FULL,    op_delete,               0,
      apply_delete, NULL, 0, 3, NULL, 0 },
    { "clear",                    BASE_PLAIN,   op_clear,                0,
      apply_clear, NULL, 0, 3, NULL, 0 },
    { "put-ttl-new",              BASE_PLAIN,   op_put_ttl_new,          0,
      apply_new_ttl, NULL, 0, 3, NULL, 0 },
    { "put-clears-ttl",           BASE_PLAIN,   op_put_clears_ttl,       0,
      apply_ctr_no_ttl, NULL, 0, 5, NULL, 0 },
    { "put-cas",                  BASE_PLAIN,   op_put_cas,              0,
      apply_replace, REPLACE_KEY, 0, 5, NULL, 0 },
    { "put-cas-stale",            BASE_PLAIN,   op_put_cas,              KV_ECONFLICT,
      NULL, REPLACE_KEY, -1, 0, NULL, 0 },
    { "del-if",                   BASE_PLAIN,   op_del_if,               0,
      apply_delete, DELETE_KEY, 0, 2, NULL, 0 },
    { "del-if-stale",             BASE_PLAIN,   op_del_if,               KV_ECONFLICT,
      NULL, DELETE_KEY, -1, 0, NULL, 0 },
    { "incr-existing",            BASE_PLAIN,   op_incr_existing,        0,
      apply_incr_existing, NULL, 0, 5, NULL, 0 },
    { "incr-absent",              BASE_PLAIN,   op_incr_absent,          0,
      apply_incr_absent, NULL, 0, 3, NULL, 0 },
    { "get-expired",              BASE_EXPIRED, op_get_expired,          KV_ENOTFOUND,
      NULL, NULL, 0, 1, NULL, 0 },
    { "put-over-expired",         BASE_EXPIRED, op_put_over_expired,     0,
      apply_revive, NULL, 0, 3, NULL, 0 },
    { "put-evict",                BASE_CACHE_WINDOW, op_put_new,         0,
      apply_new, NULL, 0, 3, NEW_KEY, 0 },
    { "put-evict-elsewhere",      BASE_CACHE_ELSEWHERE, op_put_new,      0,
      apply_evict_new, NULL, 0, 3, NEW_KEY, 0 },
    { "put-evict-far",            BASE_CACHE_FAR, op_put_new,            0,
      apply_evict_new, NULL, 0, 3, NEW_KEY, 0 },
    { "incr-evict",               BASE_CACHE_WINDOW, op_incr_absent,     0,
      apply_incr_absent, NULL, 0, 3, NEW_CTR, 0 },
    { "incr-evict-elsewhere",     BASE_CACHE_ELSEWHERE, op_incr_absent,  0,
      apply_evict_incr, NULL, 0, 3, NEW_CTR, 0 },
    { "put-evict-full",           BASE_CACHE_FULL, op_put_new,           0,
      apply_evict_new, NULL, 0, 3, NEW_KEY, 0 },
    { "put-evict-bytes",          BASE_CACHE_BYTES, op_put_new,          0,
      apply_evict_bytes, NULL, 0, 5, NEW_KEY, 1 },
};

static const op_t *find_op(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

/* Child role: "op STORE OPNAME VERSION".  Exits 0 if the operation completed
 * as expected; the library exits UTIL_CRASH_EXIT when it reaches KV_CRASH_AT. */
static int role_op(int argc, char **argv)
{
    const op_t *op = argc == 4 ? find_op(argv[2]) : NULL;
    kv_t *kv;
    int rc;
    if (!op || kv_open(&kv, argv[1], KV_RDWR, NULL) != 0)
        return 2;
    rc = op->run(kv, strtoull(argv[3], NULL, 10));
    kv_close(kv);
    if (rc != op->expect)
        fprintf(stderr, "  op %s: %d (%s), expected %d\n", op->name, rc, kv_strerror(rc),
                op->expect);
    return rc == op->expect ? 0 : 3;
}

/* Child role: "wait STORE SEEN TIMEOUT_MS".  Exits 0 when kv_wait reports a
 * generation other than SEEN, 1 when it timed out, 2 on anything else. */
static int role_wait(int argc, char **argv)
{
    kv_t *kv;
    uint64_t seen, g = 0;
    int rc;
    if (argc != 4 || kv_open(&kv, argv[1], KV_RDWR, NULL) != 0)
        return 2;
    seen = strtoull(argv[2], NULL, 10);
    rc = kv_wait(kv, seen, (uint32_t)strtoul(argv[3], NULL, 10), &g);
    kv_close(kv);
    if (rc == 0)
        return g != seen ? 0 : 2;
    return rc == KV_ETIMEDOUT ? 1 : 2;
}

/* ---------------------------------------------------------------------- */
/* Comparing a store with the model                                        */
/* ---------------------------------------------------------------------- */

typedef struct listing {
    const model_t *m;
    int ok;
} listing_t;

/* util_for_each callback: every entry listed must be in the model, with
 * the model's value. */
static int listed_in_model(void *ctx, const void *key, size_t key_len, const void *val,
                           size_t val_len)
{
    listing_t *l = ctx;
    char k[MODEL_KEY];
    if (key_len >= sizeof k) {
        l->ok = 0;
        return 1;
    }
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    int i = model_find(l->m, k);
    if (i < 0 || strlen(k) != key_len || l->m->e[i].val_len != val_len ||
        memcmp(l->m->e[i].val, val, val_len) != 0) {
        l->ok = 0;
        return 1;
    }
    return 0;
}

/* Quietly: does the store hold model entry i?  Sets *missing when absent. */
static int entry_matches(kv_t *kv, const entry_t *e, int *missing)
{
    char got[128];
    size_t n = 0;
    kv_meta_t meta = { 0, 0 };
    int rc = kv_get_ex(kv, e->key, strlen(e->key), got, sizeof got, &n, &meta);
    *missing = rc == KV_ENOTFOUND;
    return rc == 0 && n == e->val_len && memcmp(got, e->val, n) == 0 &&
           (meta.expires_ms != 0) == (e->ttl != 0) && meta.version != 0;
}

/* Returns 1 if the store holds exactly the state m. */
static int store_equals(kv_t *kv, const model_t *m)
{
    unsigned missing = 0;
    listing_t l = { m, 1 };
    uint64_t count = 0;
    long long listed = util_for_each(kv, listed_in_model, &l);
    if (!l.ok || listed < (long long)(m->n - m->evict_max) ||
        listed > (long long)(m->n - m->evict_min))
        return 0;
    for (unsigned i = 0; i < m->n; i++) {
        int absent = 0;
        if (entry_matches(kv, &m->e[i], &absent))
            continue;
        if (!absent || (m->keep && strcmp(m->e[i].key, m->keep) == 0))
            return 0;
        missing++;
    }
    if (missing < m->evict_min || missing > m->evict_max || listed != (long long)(m->n - missing))
        return 0;
    for (size_t i = 0; i < sizeof probe_keys / sizeof probe_keys[0]; i++) {
        const char *k = probe_keys[i];
        if (model_find(m, k) < 0 && kv_get(kv, k, strlen(k), NULL, 0, NULL) != KV_ENOTFOUND)
            return 0;
    }
    /* kv_count includes expired entries not yet reclaimed: purge first. */
    return kv_purge_expired(kv, NULL) == 0 && kv_count(kv, &count) == 0 &&
           count == m->n - missing;
}

/* util_for_each callback: prints a listed entry the model lacks or holds
 * with another value. */
static int print_extra(void *ctx, const void *key, size_t key_len, const void *val,
                       size_t val_len)
{
    listing_t l = { ctx, 1 };
    listed_in_model(&l, key, key_len, val, val_len);
    if (!l.ok)
        fprintf(stderr, "    store has %.*s = \"%.*s\", the model does not\n", (int)key_len,
                (const char *)key, (int)val_len, (const char *)val);
    return 0;
}

/* Says how the store differs from m (for a failure report). */
static void print_difference(kv_t *kv, const model_t *m)
{
    uint64_t count = 0;
    kv_count(kv, &count);
    fprintf(stderr, "    vs the after state: store lists %lld entries, counts %llu; model %u "
            "less %u..%u evicted\n", util_for_each(kv, NULL, NULL), (unsigned long long)count,
            m->n, m->evict_min, m->evict_max);
    util_for_each(kv, print_extra, (void *)m);
    for (unsigned i = 0; i < m->n; i++) {
        int absent = 0;
        if (!entry_matches(kv, &m->e[i], &absent))
            fprintf(stderr, "    model has %s, the store %s\n", m->e[i].key,
                    absent ? "does not" : "differs");
    }
}

/* ---------------------------------------------------------------------- */
/* The base stores                                                         */
/* ---------------------------------------------------------------------- */

/* Value i of the cache bases' fixture family: util_fixture_val's, after 87
 * bytes of padding when `padded` (so that with its key of 2 or more bytes
 * the entry lives in a block).  Returns its length (at most VAL_MAX). */
static size_t cache_val(char *buf, unsigned i, int padded)
{
    size_t pad = padded ? KV_INLINE_MAX - 1 : 0;
    memset(buf, '=', pad);
    return pad + util_fixture_val(buf + pad, "c", i);
}

/* util_for_each callback: adds a cache-base entry to the model, checking it
 * is fixture entry c<i> with its value. */
static int add_cache_entry(void *ctx, const void *key, size_t key_len, const void *val,
                           size_t val_len)
{
    model_t *m = ctx;
    char k[MODEL_KEY], want[VAL_MAX];
    if (key_len < 2 || key_len >= sizeof k)
        return 1;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    unsigned i = (unsigned)strtoul(k + 1, NULL, 10);
    size_t wl = cache_val(want, i, m->padded);
    if (k[0] != 'c' || i >= CACHE_FILL || wl != val_len || memcmp(want, val, wl) != 0) {
        fprintf(stderr, "  cache base: unexpected entry %s\n", k);
        return 1; /* stops the listing short of the count */
    }
    model_put(m, k, val, val_len, 0);
    return 0;
}

/* The state of the home slot of `key` (KV_SLOT_EMPTY, KV_SLOT_TOMB or a key
 * length), read through the handle's table: white box, so that a walk can
 * choose which eviction path an insert takes. */
static uint32_t home_state(kv_t *kv, const char *key)
{
    const kv_table_t *t = &kv->table;
    return kv__table_state(kv__table_slot(t, kv__table_hash(t, key, strlen(key)) & t->mask));
}

/* Whether a new `key` finds a free slot within its window (the slots
 * kv__table_victim looks at), so that a crowded cache puts it there and
 * evicts elsewhere, rather than taking a victim in the window (data.c). */
static int free_in_window(kv_t *kv, const char *key)
{
    const kv_table_t *t = &kv->table;
    uint64_t home = kv__table_hash(t, key, strlen(key)) & t->mask;
    for (uint64_t step = 0; step < TABLE_VICTIM_WINDOW; step++) {
        uint32_t state = kv__table_state(kv__table_slot(t, (home + step) & t->mask));
        if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB)
            return 1;
    }
    return 0;
}

/* Fills the cache base with fixture entries c0..c79, each with time to
 * live ttl_ms (0: none). */
static int fill_cache(kv_t *kv, uint64_t ttl_ms, int padded)
{
    char k[64], v[VAL_MAX];
    for (unsigned i = 0; i < CACHE_FILL; i++) {
        kv_put_opts_t o = { 0, ttl_ms, 0, 0 };
        size_t kl = util_fixture_key(k, "c", i), vl = cache_val(v, i, padded);
        if (kv_put_ex(kv, k, kl, v, vl, &o) != 0)
            return -1;
    }
    return 0;
}

/* The prefix of the walk's store names, "" for named memory ("crash",
 * "crashc").  Where named memory vanishes with its last handle (Windows)
 * the detached walk points it into a scratch directory, making the stores
 * files: a store nobody has open while the child dies cannot exist there
 * otherwise (a file is also what a crash before a reboot leaves behind). */
static char base_prefix[600];

/* The cache bases.  ELSEWHERE and FULL: 80 puts leave the cache at its
 * capacity (56 entries of 64 slots, 4 of 4; which ones survived is the
 * store's choice, so the model is what the store lists, each entry checked
 * against the fixture family); a new key's window has nothing expired, so
 * CLOCK evicts, elsewhere or in place.  WINDOW: the 80 puts had a
 * 1 ms TTL, so the model is empty; stores are made (each with a new hash
 * seed) until home_key's home slot holds an expired entry, which the new
 * key takes over in place. */
/* Whether BASE_CACHE_BYTES' store has no room for NEW_KEY's entry. */
static int full_by_bytes(kv_t *kv)
{
    kv_stats_t st;
    uint64_t need = (1 + (strlen(NEW_KEY) + strlen(NEW_VAL) + KV_GRANULE - 1) / KV_GRANULE) *
                    KV_GRANULE;
    return kv_stats(kv, &st) == 0 && st.data_largest_free < need;
}

static kv_t *make_cache_base(char *name, model_t *m, const char *home_key,
                             enum base_kind kind)
{
    kv_options_t o;
    int window = kind == BASE_CACHE_WINDOW, bytes = kind == BASE_CACHE_BYTES;
    unsigned slots = kind == BASE_CACHE_FULL ? 4 : 64;
    unsigned want = window ? 0 : slots - slots / 8;
    kv_options_init(&o);
    o.slots = slots;
    o.key_max = 32;
    o.val_max = VAL_MAX;
    if (bytes)
        o.memory = KV_HEADER_SIZE + slots * KV_SLOT_SIZE + BYTES_BASE_GRANULES * KV_GRANULE;
    for (int attempt = 0; attempt < 500; attempt++) {
        kv_t *kv = util_fresh_ex(name, base_prefix[0] ? base_prefix : "crashc", &o, KV_CACHE);
        if (!kv)
            return NULL;
        if (fill_cache(kv, window ? 1 : 0, bytes) != 0) {
            util_dispose(kv, name);
            return NULL;
        }
        spawn_sleep_ms(window ? 5 : 0);
        uint32_t state = home_state(kv, home_key);
        if ((window && (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB)) ||
            (kind == BASE_CACHE_ELSEWHERE && !free_in_window(kv, home_key)) ||
            (kind == BASE_CACHE_FAR && free_in_window(kv, home_key)) ||
            (bytes && !full_by_bytes(kv))) {
            util_dispose(kv, name);
            continue;
        }
        memset(m, 0, sizeof *m);
        m->padded = bytes;
        if (util_for_each(kv, add_cache_entry, m) != m->n || (m->n != want && !bytes)) {
            fprintf(stderr, "  cache base: %u live entries after %u puts, expected %u\n", m->n,
                    CACHE_FILL, want);
            util_dispose(kv, name);
            return NULL;
        }
        return kv;
    }
    fprintf(stderr, "  cache base: no store with %s's home slot in use in 500 tries\n", home_key);
    return NULL;
}

/* BASE_FULL: a plain store of 16 slots, every one used, then one delete
 * (a store of 16 slots sweeps at its second tombstone). */
static kv_t *make_full_base(char *name, model_t *m)
{
    char k[64], v[64];
    kv_t *kv = util_fresh(name, base_prefix[0] ? base_prefix : "crash", 16, 32, VAL_MAX);
    if (!kv)
        return NULL;
    for (unsigned i = 0; i < 16; i++) {
        util_fixture_key(k, "b", i);
        model_put(m, k, v, util_fixture_val(v, "b", i), 0);
    }
    model_del(m, "b3");
    if (util_fill(kv, "b", 16) != 0 || kv_del(kv, "b3", 2) != 0) {
        util_dispose(kv, name);
        return NULL;
    }
    return kv;
}

/* Makes the base store of `kind` and fills *m with its state.  The plain
 * base gets two deletions so the table has tombstones for inserts to reuse. */
static kv_t *make_base(const op_t *op, char *name, model_t *m)
{
    enum base_kind kind = op->base;
    kv_put_opts_t ttl = { 0, HOUR_MS, 0, 0 }, short_ttl = { 0, 1, 0, 0 };
    char k[64], v[64];
    memset(m, 0, sizeof *m);
    if (kind == BASE_FULL)
        return make_full_base(name, m);
    if (kind != BASE_PLAIN && kind != BASE_EXPIRED)
        return make_cache_base(name, m, op->home_key, kind);
    kv_t *kv = util_fresh(name, base_prefix[0] ? base_prefix : "crash", 64, 32, VAL_MAX);
    if (!kv)
        return NULL;
    for (unsigned i = 0; i < BASE_ENTRIES; i++) {
        util_fixture_key(k, "b", i);
        model_put(m, k, v, util_fixture_val(v, "b", i), 0);
    }
    model_put_str(m, CTR_KEY, "41", 1);
    if (util_fill(kv, "b", BASE_ENTRIES) != 0 ||
        kv_put_ex(kv, CTR_KEY, strlen(CTR_KEY), "41", 2, &ttl) != 0 ||
        util_put(kv, "gone1", "x") != 0 || util_put(kv, "gone2", "y") != 0 ||
        kv_del(kv, "gone1", 5) != 0 || kv_del(kv, "gone2", 5) != 0 ||
        (kind == BASE_EXPIRED &&
         kv_put_ex(kv, EXPIRED_KEY, strlen(EXPIRED_KEY), "stale", 5, &short_ttl) != 0)) {
        util_dispose(kv, name);
        return NULL;
    }
    if (kind == BASE_EXPIRED)
        spawn_sleep_ms(10); /* EXPIRED_KEY's millisecond has passed */
    return kv;
}

/* ---------------------------------------------------------------------- */
/* The walk                                                                */
/* ---------------------------------------------------------------------- */

typedef struct walk_result {
    int points;       /* crash points reached (kills) */
    int rolled_back;  /* kills after which the store was as before */
    int applied;      /* kills after which the store was as after */
    int failures;
    int op_points;    /* recovery walks: the op's crash points walked */
    int op_completed; /* recovery walks: the op child outran KV_CRASH_AT */
} walk_result_t;

/* The version the child is given: op->version_key's, plus the delta. */
static uint64_t child_version(kv_t *kv, const op_t *op)
{
    kv_meta_t meta = { 0, 0 };
    if (!op->version_key)
        return 0;
    kv_get_ex(kv, op->version_key, strlen(op->version_key), NULL, 0, NULL, &meta);
    return meta.version + (uint64_t)(int64_t)op->version_delta;
}

/* Runs the op child with KV_CRASH_AT=k: util_run_crashing's answer. */
static int run_child(const char *name, const char *op, uint64_t version, int k)
{
    char ver[32];
    const char *args[] = { name, op, ver, NULL };
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    return util_run_crashing("op", args, k);
}

/* Child role: "recover STORE": opens the store and counts its entries,
 * which recovers it (alone, or by taking a dead owner's lock). */
static int role_recover(int argc, char **argv)
{
    kv_t *kv;
    uint64_t n = 0;
    if (argc != 2 || kv_open(&kv, argv[1], KV_RDWR, NULL) != 0)
        return 2;
    int rc = kv_count(kv, &n);
    kv_close(kv);
    return rc == 0 ? 0 : 3;
}

/* Runs the recovering child with KV_CRASH_AT=k: util_run_crashing's answer. */
static int run_recoverer(const char *name, int k)
{
    const char *args[] = { name, NULL };
    return util_run_crashing("recover", args, k);
}

/* After the child ended: the store must be the before or the after state,
 * with one recovery counted if it crashed (two at most if a recovering
 * child died too: one killed after its repair was done but before its
 * opener cleared the holder mark leaves the next to repeat it), nothing
 * dropped (that is for damage, never a crash), sound, and still usable. */
static int verify_after_child(kv_t *kv, const op_t *op, const model_t *before, int crashed,
                              int recoverer_died, walk_result_t *r)
{
    static model_t after, rolled_back; /* big: keep them off the stack */
    kv_stats_t st;
    char report[512];
    after = rolled_back = *before;
    if (op->apply)
        op->apply(&after);
    if (op->evicts_stepwise) /* the before state less what was evicted so far */
        rolled_back.evict_max = rolled_back.n;
    int was_before = store_equals(kv, &rolled_back), was_after = store_equals(kv, &after);
    int ok = was_before || was_after;
    r->rolled_back += crashed && was_before && !was_after;
    r->applied += crashed && was_after && !was_before;
    if (!ok)
        fprintf(stderr, "  %s: store is neither the before nor the after state\n", op->name);
    if (!crashed && !was_after) {
        fprintf(stderr, "  %s: completed but the store is not the after state\n", op->name);
        ok = 0;
    }
    if (!ok)
        print_difference(kv, &after);
    if (kv_stats(kv, &st) != 0 || st.recoveries < (uint64_t)crashed ||
        st.recoveries > (uint64_t)(crashed + recoverer_died) || st.dropped != 0) {
        fprintf(stderr, "  %s: recoveries %llu, expected %d..%d; dropped %llu\n", op->name,
                (unsigned long long)st.recoveries, crashed, crashed + recoverer_died,
                (unsigned long long)st.dropped);
        ok = 0;
    }
    if (kv_check(kv, report, sizeof report) != 0) {
        fprintf(stderr, "  %s: check failed after recovery:\n%s", op->name, report);
        ok = 0;
    }
    if (util_put(kv, "after-crash", "still works") != 0 ||
        !util_has(kv, "after-crash", 11, "still works", 11))
        ok = 0;
    return ok;
}

/* One step of a walk: fresh store, the op child killed at its crash point
 * k (or not), then with rk > 0 a recovering child killed at its point rk
 * (or not), then this process's checks (which recover the store again).
 * Returns 1 if the last child run died at its point, 0 if it completed, -1
 * on failure.  With rk > 0 an op child that completes sets
 * r->op_completed and runs no recovering child. */
static int walk_step(const op_t *op, int k, int rk, int attached, walk_result_t *r)
{
    static model_t before;
    char name[256];
    kv_t *kv = make_base(op, name, &before);
    int op_died, outcome, ok;
    if (!kv)
        return -1;
    uint64_t version = child_version(kv, op);
    if (!attached)
        kv_close(kv);
    outcome = op_died = run_child(name, op->name, version, k);
    if (rk > 0 && op_died == 1)
        outcome = run_recoverer(name, rk);
    r->op_completed |= rk > 0 && op_died == 0;
    if (!attached && kv_open(&kv, name, KV_RDWR, NULL) != 0) {
        kv_unlink(name);
        return -1;
    }
    ok = op_died >= 0 && outcome >= 0 &&
         verify_after_child(kv, op, &before, op_died, rk > 0 && outcome == 1, r);
    util_dispose(kv, name);
    if (!ok) {
        fprintf(stderr, "  %s: failed at crash point %d", op->name, k);
        if (rk > 0)
            fprintf(stderr, ", recovery killed at its point %d", rk);
        fprintf(stderr, " (%s)\n", attached ? "attached" : "detached");
        return -1;
    }
    return outcome;
}

/* The op walk: k = 1, 2, ... until the op survives. */
static void walk_steps(const op_t *op, int attached, walk_result_t *r)
{
    for (int k = 1; k < 1000; k++) {
        int outcome = walk_step(op, k, 0, attached, r);
        if (outcome < 0)
            r->failures++;
        if (outcome <= 0)
            return;
        r->points++;
    }
    r->failures++; /* an operation with a thousand crash points is a bug */
}

/* The recovery walk: for each crash point k of the op, the recovering
 * child is killed at each of its own points rk = 1, 2, ... until it
 * survives; r->points counts those kills. */
static void walk_recover_steps(const op_t *op, int attached, walk_result_t *r)
{
    for (int k = 1; k < 1000; k++) {
        for (int rk = 1;; rk++) {
            int outcome = walk_step(op, k, rk, attached, r);
            if (outcome < 0 || rk == 1000)
                r->failures++;
            if (outcome < 0 || r->op_completed)
                return;
            if (outcome == 0 || rk == 1000)
                break;
            r->points++;
        }
        r->op_points++;
    }
    r->failures++;
}

/* Where a walk's stores are and who has them open while a child dies:
 * ATTACHED, this process (the next lock sees a dead owner); DETACHED, no
 * one (the next open is alone with the holder mark set); FILE, no one, and
 * the stores are files, so checked: recovery scans every entry too. */
enum walk_mode { WALK_ATTACHED, WALK_DETACHED, WALK_FILE, WALK_MODES };
static const char *const mode_names[] = { "attached", "detached", "file" };

static void walk(const op_t *op, enum walk_mode mode, int recover, walk_result_t *r)
{
    char dir[512];
    int attached = mode == WALK_ATTACHED;
    int in_files = mode == WALK_FILE || (!attached && !spawn_named_memory_persists());
    memset(r, 0, sizeof *r);
    if (in_files) {
        if (util_tmpdir(dir, sizeof dir) != 0) {
            r->failures++;
            return;
        }
        snprintf(base_prefix, sizeof base_prefix, "%s/crash", dir);
    }
    (recover ? walk_recover_steps : walk_steps)(op, attached, r);
    if (in_files) {
        util_rmdir(dir);
        base_prefix[0] = '\0';
    }
}

/* The crash points every recovery passes: after its journal is idle,
 * after dropping unrecognised entries, before it counts itself. */
#define RECOVERY_POINTS 3

/* Walks one operation (recover 0), or the recovery of the operation killed
 * at each of its points (recover 1: at least RECOVERY_POINTS kills of the
 * recovering process per op point, plus undo_kills more in its undo or
 * roll-forward), in each mode, and prints what the walk saw.  Where named
 * memory does not persist, DETACHED already uses files. */
static int walk_modes(const char *name, int recover, int undo_kills)
{
    const op_t *op = find_op(name);
    if (!util_dead_holder_reported())
        return TEST_SKIP;
    REQUIRE(op);
    for (int mode = 0; mode < WALK_MODES; mode++) {
        walk_result_t r;
        if (mode == WALK_FILE && !spawn_named_memory_persists())
            continue;
        walk(op, (enum walk_mode)mode, recover, &r);
        if (recover)
            printf("  %-22s %-8s %2d op points, %3d recovery kills (%3d rolled back, "
                   "%3d applied)\n", op->name, mode_names[mode], r.op_points, r.points,
                   r.rolled_back, r.applied);
        else
            printf("  %-26s %-9s %2d crash points: %2d rolled back, %2d applied\n", op->name,
                   mode_names[mode], r.points, r.rolled_back, r.applied);
        CHECK_EQ(r.failures, 0);
        CHECK((recover ? r.op_points : r.points) >= op->min_points);
        if (recover)
            CHECK(r.points >= RECOVERY_POINTS * r.op_points + undo_kills);
    }
    TEST_DONE();
}

static int walk_both(const char *name)
{
    return walk_modes(name, 0, 0);
}

static int walk_recover(const char *name, int undo_kills)
{
    return walk_modes(name, 1, undo_kills);
}

TEST(walk_put_new)            { return walk_both("put-new"); }
TEST(walk_put_replace)        { return walk_both("put-replace"); }
TEST(walk_put_insert_only)    { return walk_both("put-insert-only"); }
TEST(walk_put_insert_only_existing) { return walk_both("put-insert-only-existing"); }
TEST(walk_del)                { return walk_both("del"); }
TEST(walk_clear)              { return walk_both("clear"); }
TEST(walk_put_ttl_new)        { return walk_both("put-ttl-new"); }
TEST(walk_put_clears_ttl)     { return walk_both("put-clears-ttl"); }
TEST(walk_put_cas)            { return walk_both("put-cas"); }
TEST(walk_put_cas_stale)      { return walk_both("put-cas-stale"); }
TEST(walk_del_if)             { return walk_both("del-if"); }
TEST(walk_del_if_stale)       { return walk_both("del-if-stale"); }
TEST(walk_incr_existing)      { return walk_both("incr-existing"); }
TEST(walk_incr_absent)        { return walk_both("incr-absent"); }
TEST(walk_get_expired)        { return walk_both("get-expired"); }
TEST(walk_put_over_expired)   { return walk_both("put-over-expired"); }
TEST(walk_put_evict)          { return walk_both("put-evict"); }
TEST(walk_put_evict_elsewhere) { return walk_both("put-evict-elsewhere"); }
TEST(walk_put_evict_far)       { return walk_both("put-evict-far"); }
TEST(walk_del_sweeps)          { return walk_both("del-sweeps"); }
TEST(walk_put_evict_full)     { return walk_both("put-evict-full"); }
TEST(walk_put_evict_bytes)    { return walk_both("put-evict-bytes"); }
TEST(walk_incr_evict)         { return walk_both("incr-evict"); }
TEST(walk_incr_evict_elsewhere) { return walk_both("incr-evict-elsewhere"); }
TEST(walk_recover_put_new)    { return walk_recover("put-new", 0); }
TEST(walk_recover_replace)    { return walk_recover("put-replace", 3); }
TEST(walk_recover_del)        { return walk_recover("del", 0); }
TEST(walk_recover_clear)      { return walk_recover("clear", 2); }
TEST(walk_recover_evict_elsewhere) { return walk_recover("put-evict-elsewhere", 8); }
TEST(walk_recover_evict_full) { return walk_recover("put-evict-full", 3); }
TEST(walk_recover_evict_far)  { return walk_recover("put-evict-far", 3); }
TEST(walk_recover_evict_bytes) { return walk_recover("put-evict-bytes", 0); }

/* ---------------------------------------------------------------------- */
/* A watcher and a writer that dies mid-put                                */
/* ---------------------------------------------------------------------- */

/* For every crash point of a replace: a watcher process blocks in kv_wait,
 * a writer dies at the point holding the lock, then this process reads a
 * key — which recovers the store and bumps the generation — and the
 * watcher must wake within a couple of seconds. */
TEST(crash_wakes_watcher)
{
    const op_t *op = find_op("put-replace");
    static model_t m;
    int points = 0;
    if (!util_dead_holder_reported())
        return TEST_SKIP;
    REQUIRE(op);
    for (int k = 1; k < 100; k++) {
        char name[256], seen[32], buf[64];
        spawn_proc_t w;
        uint64_t g0 = 0, g1 = 0, g2 = 0;
        kv_t *kv = make_base(op, name, &m);
        REQUIRE(kv);
        CHECK_EQ(kv_generation(kv, &g0), 0);
        snprintf(seen, sizeof seen, "%llu", (unsigned long long)g0);
        const char *args[] = { name, seen, "5000", NULL };
        REQUIRE_EQ(spawn_role(&w, "wait", args, NULL), 0);
        spawn_sleep_ms(200); /* let it block (not needed for correctness) */
        int outcome = run_child(name, op->name, 0, k);
        CHECK(outcome >= 0);
        CHECK_EQ(kv_generation(kv, &g1), 0);
        int64_t t0 = util_now_ms();
        CHECK_EQ(kv_get(kv, "b1", 2, buf, sizeof buf, NULL), 0); /* recovers if needed */
        CHECK_EQ(kv_generation(kv, &g2), 0);
        CHECK(g2 != g0);
        if (outcome == 1)
            CHECK(g2 > g1); /* recovery is a change */
        spawn_status_t st = { 0, 0, 0, 0 };
        CHECK_EQ(spawn_wait(&w, &st), 0);
        int64_t took = util_now_ms() - t0;
        if (!st.exited || st.code != 0 || took > 2000)
            fprintf(stderr, "  crash point %d: watcher exit %d (signal %d) %lld ms after "
                    "the recovering get\n", k, st.exited ? st.code : -1, st.signal,
                    (long long)took);
        CHECK(st.exited && st.code == 0);
        CHECK(took <= 2000);
        kv_stats_t s;
        CHECK_EQ(kv_stats(kv, &s), 0);
        CHECK_EQ(s.recoveries, outcome == 1 ? 1 : 0);
        util_dispose(kv, name);
        if (outcome != 1 || test_failures)
            break;
        points++;
    }
    printf("  watcher woken after a writer died at each of %d crash points\n", points);
    CHECK(points >= op->min_points);
    TEST_DONE();
}

/* ---------------------------------------------------------------------- */
/* Readers without the lock and a writer that dies mid-put                 */
/* ---------------------------------------------------------------------- */

/* Reads REPLACE_KEY through `kv`: 1 if it holds its value before (`old`)
 * or after the replace, 0 if anything else, 2 for KV_ETIMEDOUT. */
static int read_replaced(kv_t *kv, const entry_t *old)
{
    char buf[256];
    size_t n = 0;
    int rc = kv_get(kv, REPLACE_KEY, strlen(REPLACE_KEY), buf, sizeof buf, &n);
    if (rc == KV_ETIMEDOUT)
        return 2;
    if (rc != 0)
        fprintf(stderr, "  get %s: %s\n", REPLACE_KEY, kv_strerror(rc));
    return rc == 0 && ((n == old->val_len && memcmp(buf, old->val, n) == 0) ||
                       (n == strlen(REPLACE_VAL) && memcmp(buf, REPLACE_VAL, n) == 0));
}

/* Whether every base entry but REPLACE_KEY reads as the model says. */
static int others_intact(kv_t *kv, const model_t *m)
{
    for (unsigned i = 0; i < m->n; i++) {
        if (strcmp(m->e[i].key, REPLACE_KEY) != 0 &&
            !util_has(kv, m->e[i].key, strlen(m->e[i].key), m->e[i].val, m->e[i].val_len))
            return 0;
    }
    return 1;
}

/* For every crash point of an out-of-line replace: a read-only handle,
 * which cannot repair, reads the replaced key as whole (old or new) or
 * says KV_ETIMEDOUT within its lock timeout (a point inside the slot's
 * bracket), reads every other entry meanwhile, and reads the key again
 * once a writable KV_OPTIMISTIC handle's get has fallen back to the lock
 * and so recovered the store. */
TEST(read_only_meets_dead_writer)
{
    const op_t *op = find_op("put-replace");
    static model_t m;
    int points = 0, timeouts = 0;
    if (!util_dead_holder_reported())
        return TEST_SKIP;
    REQUIRE(op);
    for (int k = 1; k < 100; k++) {
        char name[256];
        kv_t *ro = NULL, *opt = NULL, *kv = make_base(op, name, &m);
        REQUIRE(kv);
        const entry_t *old = &m.e[model_find(&m, REPLACE_KEY)];
        int outcome = run_child(name, op->name, 0, k);
        CHECK(outcome >= 0);
        REQUIRE_EQ(kv_open(&ro, name, 0, NULL), 0);
        CHECK_EQ(kv_set_timeout(ro, 200), 0);
        int64_t t0 = util_now_ms();
        int seen = read_replaced(ro, old);
        int64_t took = util_now_ms() - t0;
        CHECK(seen == 1 || (seen == 2 && outcome == 1));
        CHECK(took < 2000); /* never a hang */
        timeouts += seen == 2;
        CHECK(others_intact(ro, &m));
        CHECK_EQ(kv_put(ro, "x", 1, "y", 1, 0), KV_ERDONLY);
        REQUIRE_EQ(kv_open(&opt, name, KV_RDWR | KV_OPTIMISTIC, NULL), 0);
        CHECK_EQ(read_replaced(opt, old), 1); /* the lock recovers */
        CHECK_EQ(read_replaced(ro, old), 1);
        kv_stats_t s;
        CHECK_EQ(kv_stats(kv, &s), 0);
        CHECK_EQ(s.recoveries, outcome == 1 ? 1 : 0);
        kv_close(opt);
        kv_close(ro);
        util_dispose(kv, name);
        if (outcome != 1 || test_failures)
            break;
        points++;
    }
    printf("  read-only reader at each of %d crash points: %d mid-change (KV_ETIMEDOUT), "
           "the rest whole\n", points, timeouts);
    CHECK(points >= op->min_points);
    CHECK(timeouts >= 1);
    TEST_DONE();
}

static const spawn_role_t roles[] = {
    { "op", role_op }, { "wait", role_wait }, { "recover", role_recover },
};

static const test_case_t tests[] = {
    TEST_ENTRY(walk_put_new),
    TEST_ENTRY(walk_put_replace),
    TEST_ENTRY(walk_put_insert_only),
    TEST_ENTRY(walk_put_insert_only_existing),
    TEST_ENTRY(walk_del),
    TEST_ENTRY(walk_clear),
    TEST_ENTRY(walk_put_ttl_new),
    TEST_ENTRY(walk_put_clears_ttl),
    TEST_ENTRY(walk_put_cas),
    TEST_ENTRY(walk_put_cas_stale),
    TEST_ENTRY(walk_del_if),
    TEST_ENTRY(walk_del_if_stale),
    TEST_ENTRY(walk_incr_existing),
    TEST_ENTRY(walk_incr_absent),
    TEST_ENTRY(walk_get_expired),
    TEST_ENTRY(walk_put_over_expired),
    TEST_ENTRY(walk_put_evict),
    TEST_ENTRY(walk_put_evict_elsewhere),
    TEST_ENTRY(walk_put_evict_far),
    TEST_ENTRY(walk_del_sweeps),
    TEST_ENTRY(walk_put_evict_full),
    TEST_ENTRY(walk_put_evict_bytes),
    TEST_ENTRY(walk_incr_evict),
    TEST_ENTRY(walk_incr_evict_elsewhere),
    TEST_ENTRY(walk_recover_put_new),
    TEST_ENTRY(walk_recover_replace),
    TEST_ENTRY(walk_recover_del),
    TEST_ENTRY(walk_recover_clear),
    TEST_ENTRY(walk_recover_evict_elsewhere),
    TEST_ENTRY(walk_recover_evict_full),
    TEST_ENTRY(walk_recover_evict_far),
    TEST_ENTRY(walk_recover_evict_bytes),
    TEST_ENTRY(crash_wakes_watcher),
    TEST_ENTRY(read_only_meets_dead_writer),
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
