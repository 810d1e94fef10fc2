/*
 * fuzz_ops.c — libFuzzer target: a sequence of operations on a small named
 * store, each checked against a model as it runs.
 *
 * The input (ops_format.h) picks the store's geometry and whether it is a
 * cache, then lists operations on up to 256 short keys: put, put_ex (with
 * KV_NOREPLACE, compare-and-swap on a right or wrong version, a time to
 * live of 0 or an hour), get with exact, short and no buffers, del,
 * del_if, incr, clear, iteration, ttl, count, purge, writes through a
 * read-only handle, invalid arguments, reopening a handle, stats and check.
 * Two read-write handles share the store, so attaching to a live store is
 * exercised too.
 *
 * The model predicts every result exactly, including versions: every
 * change bumps the store's generation by one and a written entry's version
 * is the new generation (kv.h, journal.c).  Nothing expires during a run
 * (a time to live is 0 or an hour), so the one thing the model cannot
 * predict is which entry a crowded cache store evicts: after such an
 * insert it iterates the store and requires exactly one entry to be gone.
 * At the end the whole content is compared and kv_check must pass.
 *
 * Set KV_FUZZ_TRACE=1 to print each operation (to replay a crash input).
 * A crash-point variant (killing a child inside an operation with the
 * kv_fault build) is not implemented: tests/crash_test.c walks the crash
 * points deterministically.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "kv.h"
#include "ops_format.h"

/* ======================================================================== */
/* Model                                                                    */
/* ======================================================================== */

#define NKEYS   256
#define KEY_CAP 32          /* largest key_max the geometry byte gives */
#define VAL_CAP 80          /* val_max is at most 79; values may be one longer */
#define TTL_MS  3600000u    /* the one nonzero time to live: longer than any run */

typedef struct mentry {
    int present;
    int has_ttl;
    size_t len;
    uint64_t version;
    unsigned char val[VAL_CAP];
} mentry_t;

static struct model {
    mentry_t e[NKEYS];
    uint64_t slots, count, gen, hits, misses, evictions;
    /* Gets each handle (fx.h[0], fx.h[1], fx.ro) counted and has not yet
     * added to the store's hits and misses: it does when a hold of its
     * changes the store, in kv_stats and in kv_close. */
    uint64_t pend_hits[3], pend_misses[3];
    uint32_t key_max, val_max;
    int cache;
} m;

/* The store and its handles. */
static struct fixture {
    char name[64];
    kv_t *h[2]; /* read-write */
    kv_t *ro;   /* read-only */
    int trace;
} fx;

typedef struct fkey {
    unsigned idx; /* the model entry */
    unsigned char b[KEY_CAP + 2];
    size_t len;
} fkey_t;

typedef struct fval {
    unsigned char b[VAL_CAP + 1];
    size_t len;
} fval_t;

/* Numeric strings for incr: valid ones at the int64 limits and malformed
 * ones (kv.h: an optional '-' and 1..19 digits, nothing else). */
static const char *const numbers[16] = {
    "0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808",
    "9223372036854775806", "-9223372036854775807", "9223372036854775808",
    "0000000000000000000", "00000000000000000001", "-", "", "12a", "+5", "-0",
};

static const int64_t deltas[] = {1, -1, 0, 2, -2, 1000, -1000, INT64_MAX, INT64_MIN,
                                 INT64_MAX - 1, INT64_MIN + 1, 9223372036854775LL};

/* Key b: 1 + (b & 3) bytes, letters from the rest of b, so 256 keys. */
static void make_key(fkey_t *k, uint8_t b)
{
    k->idx = b;
    k->len = 1 + (b & 3u);
    for (size_t i = 0; i < k->len; i++)
        k->b[i] = (unsigned char)('0' + (b >> 2) + i);
}

/* The model index of a key read back from the store, or -1. */
static int key_index(const unsigned char *key, size_t len)
{
    fkey_t k;

    if (len < 1 || len > 4 || key[0] < '0' || key[0] > '0' + 63)
        return -1;
    make_key(&k, (uint8_t)((key[0] - '0') << 2 | (len - 1)));
    return memcmp(k.b, key, len) == 0 ? (int)k.idx : -1;
}

static int handle_index(const kv_t *h)
{
    return h == fx.h[0] ? 0 : h == fx.h[1] ? 1 : 2;
}

/* A get by handle h that found its key (hit) or not. */
static void count_get(const kv_t *h, int hit)
{
    int i = handle_index(h);
    m.pend_hits[i] += hit != 0;
    m.pend_misses[i] += hit == 0;
}

static void fold_gets(const kv_t *h)
{
    int i = handle_index(h);
    m.hits += m.pend_hits[i];
    m.misses += m.pend_misses[i];
    m.pend_hits[i] = m.pend_misses[i] = 0;
}

static void read_value(fz_reader_t *r, fval_t *v)
{
    uint8_t s = fz_byte(r);

    if (s >= OPS_VALUE_TABLE) {
        v->len = strlen(numbers[s - OPS_VALUE_TABLE]);
        memcpy(v->b, numbers[s - OPS_VALUE_TABLE], v->len);
        return;
    }
    v->len = s % (m.val_max + 2);
    for (size_t i = 0; i < v->len; i++)
        v->b[i] = fz_byte(r);
}

static int64_t read_delta(fz_reader_t *r)
{
    uint8_t d = fz_byte(r);

    if (d == OPS_DELTA_RAW)
        return (int64_t)fz_u64(r);
    return deltas[d % (sizeof deltas / sizeof deltas[0])];
}

/* kv.h's rule for incr's operand, written independently of data.c. */
static int model_parse_int64(const unsigned char *s, size_t n, int64_t *out)
{
    size_t digits = n > 0 && s[0] == '-' ? n - 1 : n;
    int neg = digits != n;
    uint64_t v = 0;

    if (digits < 1 || digits > 19)
        return KV_ENOTNUM;
    for (size_t i = neg; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return KV_ENOTNUM;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return KV_ENOTNUM;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* ======================================================================== */
/* Inserting, evicting                                                      */
/* ======================================================================== */

/* What an insert of a new key does. */
enum {
    INS_PLAIN,    /* takes a free slot */
    INS_FULL,     /* a plain store with every slot used: KV_EFULL */
    INS_EVICT     /* a crowded cache store (7/8 used, or every slot of one with
                   * fewer than 8): evicts one entry */
};

static int insert_kind(void)
{
    if (!m.cache)
        return m.count < m.slots ? INS_PLAIN : INS_FULL;
    if (m.count < m.slots - m.slots / 8)
        return INS_PLAIN;
    return INS_EVICT;
}

/* Iterates the store through handle h and checks every entry against the
 * model (value too, unless keys_only); marks seen[] and returns how many.
 * key_cap_first 1 makes each first attempt on a longer key fail with
 * KV_ERANGE, which must leave the cursor where it was. */
static uint64_t collect(kv_t *h, int keys_only, int short_key_buf, unsigned char *seen)
{
    unsigned char key[KEY_CAP], val[VAL_CAP];
    uint64_t cursor = 0, n = 0;
    int rc;

    memset(seen, 0, NKEYS);
    for (;;) {
        kv_entry_t e = {key, short_key_buf ? 1 : m.key_max, 0,
                        keys_only ? NULL : val, keys_only ? 0 : m.val_max, 0};
        uint64_t before = cursor;
        rc = kv_next(h, &cursor, &e);
        if (rc == KV_ERANGE && short_key_buf) {
            FZ_CHECK(e.key_len > 1 && cursor == before, "kv_next KV_ERANGE: key_len %zu, "
                     "cursor %" PRIu64 " -> %" PRIu64, e.key_len, before, cursor);
            e.key_cap = m.key_max;
            rc = kv_next(h, &cursor, &e);
        }
        if (rc == KV_ENOTFOUND)
            break;
        FZ_CHECK(rc == 0, "kv_next: %s", kv_strerror(rc));
        int i = key_index(key, e.key_len);
        FZ_CHECK(i >= 0 && m.e[i].present, "kv_next returned a key the model lacks "
                 "(index %d, length %zu)", i, e.key_len);
        FZ_CHECK(!seen[i], "kv_next returned key %d twice", i);
        seen[i] = 1;
        FZ_CHECK(e.val_len == m.e[i].len, "key %d: value length %zu, model %zu", i,
                 e.val_len, m.e[i].len);
        FZ_CHECK(keys_only || memcmp(val, m.e[i].val, e.val_len) == 0,
                 "key %d: value differs", i);
        n++;
    }
    return n;
}

/* After an insert into a crowded cache: exactly one other entry is gone. */
static void find_evicted(const fkey_t *added)
{
    unsigned char seen[NKEYS];
    uint64_t n = collect(fx.h[0], 1, 0, seen);
    int gone = -1;

    for (int i = 0; i < NKEYS; i++)
        if (m.e[i].present && !seen[i]) {
            FZ_CHECK(gone < 0 && (unsigned)i != added->idx,
                     "more than one entry gone after an eviction (%d, %d)", gone, i);
            gone = i;
        }
    FZ_CHECK(gone >= 0, "a crowded cache inserted without evicting (%" PRIu64 " entries)", n);
    m.e[gone].present = 0;
    m.count--;
    m.evictions++;
}

/* A write refused with KV_ENOROOM: that is honest only when the data area
 * has no free run the entry's block fits (free space can be scattered:
 * kv.h), and it changed nothing — except, in a cache, the entries it
 * evicted trying to make room, which the model drops after checking each
 * was present and is not the key written (one generation for them all). */
static void accept_no_room(const char *op, const fkey_t *k, size_t len)
{
    uint64_t need = (1 + (k->len + len + 15) / 16) * 16, gone = 0;
    unsigned char seen[NKEYS];
    kv_stats_t st;
    FZ_CHECK(kv_stats(fx.h[0], &st) == 0 && st.data_largest_free < need,
             "%s refused for room, yet a free run of %" PRIu64 " bytes holds its %" PRIu64, op,
             st.data_largest_free, need);
    fold_gets(fx.h[0]); /* kv_stats added that handle's gets to the store's */
    collect(fx.h[0], 1, 0, seen);
    for (int i = 0; i < NKEYS; i++) {
        if (!m.e[i].present || seen[i])
            continue;
        FZ_CHECK(m.cache && (unsigned)i != k->idx, "%s refused for room but entry %d is gone",
                 op, i);
        m.e[i].present = 0;
        m.count--;
        m.evictions++;
        gone++;
    }
    m.gen += gone != 0;
}

/* Checks the result of a write that passed its argument and condition
 * checks, and applies it to the model.  `reported` is the version kv said
 * it wrote (0 if the call does not say). */
static void apply_store(const char *op, const fkey_t *k, int rc, const void *val, size_t len,
                        int has_ttl, uint64_t reported)
{
    mentry_t *e = &m.e[k->idx];
    int kind = e->present ? INS_PLAIN : insert_kind();

    if (rc == KV_ENOROOM) {
        accept_no_room(op, k, len);
        return;
    }
    FZ_CHECK(rc == (kind == INS_FULL ? KV_EFULL : 0), "%s key %u (present %d, count %"
             PRIu64 "/%" PRIu64 "): %s", op, k->idx, e->present, m.count, m.slots,
             kv_strerror(rc));
    if (rc != 0)
        return;
    m.gen++;
    FZ_CHECK(reported == 0 || reported == m.gen, "%s: version %" PRIu64 ", expected %" PRIu64,
             op, reported, m.gen);
    if (!e->present) {
        e->present = 1;
        m.count++;
    }
    e->len = len;
    memcpy(e->val, val, len);
    e->version = m.gen;
    e->has_ttl = has_ttl;
    if (kind == INS_EVICT)
        find_evicted(k);
}

static void remove_entry(unsigned idx)
{
    m.e[idx].present = 0;
    m.count--;
    m.gen++;
}

/* ======================================================================== */
/* Operations                                                               */
/* ======================================================================== */

static void op_put(kv_t *h, fz_reader_t *r, int variant)
{
    unsigned flags = variant & 1 ? KV_NOREPLACE : 0;
    fkey_t k;
    fval_t v;
    int rc;

    make_key(&k, fz_byte(r));
    read_value(r, &v);
    rc = kv_put(h, k.b, k.len, v.b, v.len, flags);
    if (v.len > m.val_max)
        FZ_CHECK(rc == KV_ETOOBIG, "put of %zu bytes: %s", v.len, kv_strerror(rc));
    else if (flags && m.e[k.idx].present)
        FZ_CHECK(rc == KV_EEXIST, "put NOREPLACE of a present key: %s", kv_strerror(rc));
    else
        apply_store("put", &k, rc, v.b, v.len, 0, 0);
}

static void op_put_ex(kv_t *h, fz_reader_t *r)
{
    const mentry_t *e;
    kv_put_opts_t po;
    uint64_t own;
    fkey_t k;
    fval_t v;
    uint8_t f;
    int rc;

    make_key(&k, fz_byte(r));
    read_value(r, &v);
    f = fz_byte(r);
    e = &m.e[k.idx];
    own = e->present ? e->version : 0;
    memset(&po, 0, sizeof po);
    po.flags = (f & OPS_PX_NOREPLACE ? KV_NOREPLACE : 0) |
               (f & OPS_PX_IF_VERSION ? KV_IF_VERSION : 0) | (f & OPS_PX_BAD_FLAG ? 0x4u : 0);
    po.ttl_ms = f & OPS_PX_BAD_TTL ? KV_TTL_MAX_MS + 1 : f & OPS_PX_TTL ? TTL_MS : 0;
    switch (f >> OPS_PX_VER_SHIFT & 3) {
    case 0:  po.if_version = own; break;
    case 1:  po.if_version = 0; break;
    case 2:  po.if_version = own + 1; break;
    default: po.if_version = UINT64_MAX; break;
    }
    po.version = 7; /* must be left alone on failure */
    rc = kv_put_ex(h, k.b, k.len, v.b, v.len, &po);
    if (v.len > m.val_max)
        FZ_CHECK(rc == KV_ETOOBIG, "put_ex of %zu bytes: %s", v.len, kv_strerror(rc));
    else if (f & (OPS_PX_BAD_FLAG | OPS_PX_BAD_TTL))
        FZ_CHECK(rc == KV_EINVAL, "put_ex with a bad flag or ttl: %s", kv_strerror(rc));
    else if ((po.flags & KV_IF_VERSION) && po.if_version != own)
        FZ_CHECK(rc == KV_ECONFLICT, "put_ex if_version %" PRIu64 " (own %" PRIu64 "): %s",
                 po.if_version, own, kv_strerror(rc));
    else if ((po.flags & KV_NOREPLACE) && e->present)
        FZ_CHECK(rc == KV_EEXIST, "put_ex NOREPLACE of a present key: %s", kv_strerror(rc));
    else {
        apply_store("put_ex", &k, rc, v.b, v.len, po.ttl_ms != 0, rc ? 0 : po.version);
        return;
    }
    FZ_CHECK(po.version == 7, "put_ex changed opts->version on failure");
}

static void op_get(kv_t *h, fz_reader_t *r, int variant)
{
    unsigned char buf[VAL_CAP];
    size_t len = 12345, cap;
    kv_meta_t meta;
    const mentry_t *e;
    fkey_t k;
    int rc, want;

    make_key(&k, fz_byte(r));
    e = &m.e[k.idx];
    memset(buf, 0xa5, sizeof buf);
    cap = variant == 1 && e->present && e->len > 0 ? e->len - 1 : m.val_max;
    if (variant == 2)
        rc = kv_get(h, k.b, k.len, NULL, 0, &len);
    else
        rc = kv_get_ex(h, k.b, k.len, buf, cap, &len, &meta);
    count_get(h, e->present);
    if (!e->present) {
        FZ_CHECK(rc == KV_ENOTFOUND, "get of an absent key %u: %s", k.idx, kv_strerror(rc));
        FZ_CHECK(len == 12345, "get of an absent key set *val_len");
        return;
    }
    want = variant == 2 ? (e->len ? KV_ERANGE : 0) : e->len > cap ? KV_ERANGE : 0;
    FZ_CHECK(rc == want, "get key %u (length %zu, cap %zu): %s", k.idx, e->len,
             variant == 2 ? (size_t)0 : cap, kv_strerror(rc));
    FZ_CHECK(len == e->len, "get key %u: length %zu, model %zu", k.idx, len, e->len);
    if (variant == 2)
        return;
    if (rc == 0)
        FZ_CHECK(memcmp(buf, e->val, len) == 0, "get key %u: value differs", k.idx);
    else
        FZ_CHECK(buf[0] == 0xa5, "get KV_ERANGE wrote into the buffer");
    FZ_CHECK(meta.version == e->version, "get key %u: version %" PRIu64 ", model %" PRIu64,
             k.idx, meta.version, e->version);
    FZ_CHECK((meta.expires_ms != 0) == e->has_ttl, "get key %u: expires_ms %" PRIu64
             ", model has_ttl %d", k.idx, meta.expires_ms, e->has_ttl);
}

static void op_del(kv_t *h, fz_reader_t *r, int conditional, int variant)
{
    static const char *const names[2] = {"del", "del_if"};
    const mentry_t *e;
    uint64_t version;
    fkey_t k;
    int rc;

    make_key(&k, fz_byte(r));
    e = &m.e[k.idx];
    version = variant == 0 ? e->version : variant == 1 ? e->version + 1
            : variant == 2 ? 0 : UINT64_MAX;
    rc = conditional ? kv_del_if(h, k.b, k.len, version) : kv_del(h, k.b, k.len);
    if (!e->present)
        FZ_CHECK(rc == KV_ENOTFOUND, "%s of an absent key: %s", names[conditional],
                 kv_strerror(rc));
    else if (conditional && version != e->version)
        FZ_CHECK(rc == KV_ECONFLICT, "del_if with a wrong version: %s", kv_strerror(rc));
    else {
        FZ_CHECK(rc == 0, "%s of key %u: %s", names[conditional], k.idx, kv_strerror(rc));
        remove_entry(k.idx);
    }
}

static void op_incr(kv_t *h, fz_reader_t *r)
{
    const mentry_t *e;
    int64_t delta, current = 0, sum, result = 12345;
    char text[24];
    fkey_t k;
    int rc, want = 0;

    make_key(&k, fz_byte(r));
    delta = read_delta(r);
    e = &m.e[k.idx];
    rc = kv_incr(h, k.b, k.len, delta, &result);
    if (m.val_max < 20)
        want = KV_ETOOBIG;
    else if (e->present)
        want = model_parse_int64(e->val, e->len, &current);
    if (want == 0 && __builtin_add_overflow(current, delta, &sum))
        want = KV_EOVERFLOW;
    if (want) {
        FZ_CHECK(rc == want, "incr key %u by %" PRId64 ": %s, expected %s", k.idx, delta,
                 kv_strerror(rc), kv_strerror(want));
        FZ_CHECK(result == 12345, "incr set *result on failure");
        return;
    }
    snprintf(text, sizeof text, "%" PRId64, sum);
    apply_store("incr", &k, rc, text, strlen(text), e->present && e->has_ttl, 0);
    FZ_CHECK(rc != 0 || result == sum, "incr: %" PRId64 ", expected %" PRId64, result, sum);
}

static void op_next(kv_t *h, int variant)
{
    unsigned char seen[NKEYS];
    uint64_t n = collect(h, variant == 1, variant == 2, seen);

    FZ_CHECK(n == m.count, "iteration found %" PRIu64 " entries, model %" PRIu64, n, m.count);
}

static void op_ttl(kv_t *h, fz_reader_t *r)
{
    const mentry_t *e;
    int64_t ms = 0;
    fkey_t k;
    int rc;

    make_key(&k, fz_byte(r));
    e = &m.e[k.idx];
    rc = kv_ttl(h, k.b, k.len, &ms);
    if (!e->present)
        FZ_CHECK(rc == KV_ENOTFOUND, "ttl of an absent key: %s", kv_strerror(rc));
    else if (!e->has_ttl)
        FZ_CHECK(rc == 0 && ms == -1, "ttl of a key without one: %s, %" PRId64,
                 kv_strerror(rc), ms);
    else
        FZ_CHECK(rc == 0 && ms > 0 && ms <= (int64_t)TTL_MS, "ttl: %s, %" PRId64,
                 kv_strerror(rc), ms);
}

/* Writes through the read-only handle fail and change nothing; reads work. */
static void op_rdonly(fz_reader_t *r)
{
    unsigned char buf[VAL_CAP];
    int64_t result;
    uint64_t purged;
    size_t len;
    fkey_t k;
    fval_t v;
    int rc;

    make_key(&k, fz_byte(r));
    read_value(r, &v);
    rc = kv_put(fx.ro, k.b, k.len, v.b, v.len, 0);
    FZ_CHECK(rc == (v.len > m.val_max ? KV_ETOOBIG : KV_ERDONLY), "read-only put: %s",
             kv_strerror(rc));
    FZ_CHECK(kv_del(fx.ro, k.b, k.len) == KV_ERDONLY, "read-only del");
    FZ_CHECK(kv_incr(fx.ro, k.b, k.len, 1, &result) == KV_ERDONLY, "read-only incr");
    FZ_CHECK(kv_clear(fx.ro) == KV_ERDONLY, "read-only clear");
    FZ_CHECK(kv_purge_expired(fx.ro, &purged) == KV_ERDONLY, "read-only purge");
    rc = kv_get(fx.ro, k.b, k.len, buf, m.val_max, &len);
    count_get(fx.ro, m.e[k.idx].present);
    if (m.e[k.idx].present) {
        FZ_CHECK(rc == 0 && len == m.e[k.idx].len && memcmp(buf, m.e[k.idx].val, len) == 0,
                 "read-only get of key %u: %s", k.idx, kv_strerror(rc));
    } else {
        FZ_CHECK(rc == KV_ENOTFOUND, "read-only get of an absent key: %s", kv_strerror(rc));
    }
}

static void op_badargs(kv_t *h, fz_reader_t *r, int variant)
{
    unsigned char key[KEY_CAP + 2];
    kv_put_opts_t po;
    int64_t result;
    size_t len;
    fkey_t k;

    make_key(&k, fz_byte(r));
    memset(key, 'x', sizeof key);
    switch (variant) {
    case 0: /* empty key */
        FZ_CHECK(kv_put(h, k.b, 0, "v", 1, 0) == KV_EINVAL, "put with an empty key");
        FZ_CHECK(kv_get(h, k.b, 0, NULL, 0, &len) == KV_EINVAL, "get with an empty key");
        FZ_CHECK(kv_del(h, k.b, 0) == KV_EINVAL, "del with an empty key");
        FZ_CHECK(kv_incr(h, k.b, 0, 1, &result) == KV_EINVAL, "incr with an empty key");
        break;
    case 1: /* key one byte past key_max */
        FZ_CHECK(kv_put(h, key, m.key_max + 1, "v", 1, 0) == KV_ETOOBIG, "put long key");
        FZ_CHECK(kv_get(h, key, m.key_max + 1, NULL, 0, &len) == KV_ETOOBIG, "get long key");
        FZ_CHECK(kv_del(h, key, m.key_max + 1) == KV_ETOOBIG, "del long key");
        FZ_CHECK(kv_del_if(h, key, m.key_max + 1, 0) == KV_ETOOBIG, "del_if long key");
        break;
    case 2: /* NULL pointers with nonzero lengths */
        FZ_CHECK(kv_put(h, k.b, k.len, NULL, 1, 0) == KV_EINVAL, "put NULL value");
        FZ_CHECK(kv_get(h, k.b, k.len, NULL, 5, &len) == KV_EINVAL, "get NULL buffer");
        FZ_CHECK(kv_put(h, NULL, 1, "v", 1, 0) == KV_EINVAL, "put NULL key");
        break;
    default: /* flags kv_put does not take */
        FZ_CHECK(kv_put(h, k.b, k.len, "", 0, KV_IF_VERSION) == KV_EINVAL,
                 "kv_put with KV_IF_VERSION");
        memset(&po, 0, sizeof po);
        po.flags = 0x80;
        FZ_CHECK(kv_put_ex(h, k.b, k.len, "", 0, &po) == KV_EINVAL, "put_ex flag 0x80");
        break;
    }
}

static void op_reopen(void)
{
    kv_info_t info;
    int rc;

    fold_gets(fx.h[1]);
    kv_close(fx.h[1]);
    fx.h[1] = NULL;
    rc = kv_open(&fx.h[1], fx.name, KV_RDWR, NULL);
    FZ_CHECK(rc == 0, "reopen: %s", kv_strerror(rc));
    FZ_CHECK(!kv_created(fx.h[1]), "reopen created the store");
    FZ_CHECK(kv_info(fx.h[1], &info) == 0 && info.slots == m.slots &&
             info.key_max == m.key_max && info.val_max == m.val_max, "reopen: geometry");
}

static void op_stats(kv_t *h)
{
    kv_stats_t st;
    int rc = kv_stats(h, &st);

    fold_gets(h);
    FZ_CHECK(rc == 0, "kv_stats: %s", kv_strerror(rc));
    FZ_CHECK(st.slots == m.slots && st.key_max == m.key_max && st.val_max == m.val_max &&
             st.cache == (uint32_t)m.cache, "stats: geometry or cache flag");
    FZ_CHECK(st.used == m.count, "stats: used %" PRIu64 ", model %" PRIu64, st.used, m.count);
    FZ_CHECK(st.used + st.tombstones <= st.slots, "stats: tombstones %" PRIu64,
             st.tombstones);
    FZ_CHECK(st.generation == m.gen, "stats: generation %" PRIu64 ", model %" PRIu64,
             st.generation, m.gen);
    FZ_CHECK(st.hits == m.hits && st.misses == m.misses, "stats: hits %" PRIu64 "/%" PRIu64
             ", misses %" PRIu64 "/%" PRIu64, st.hits, m.hits, st.misses, m.misses);
    FZ_CHECK(st.evictions == m.evictions && st.expirations == 0 && st.recoveries == 0,
             "stats: evictions %" PRIu64 " (model %" PRIu64 "), expirations %" PRIu64
             ", recoveries %" PRIu64, st.evictions, m.evictions, st.expirations,
             st.recoveries);
}

static void op_check(kv_t *h)
{
    char report[1024];
    int rc = kv_check(h, report, sizeof report);

    FZ_CHECK(rc == 0, "kv_check: %s\n%s", kv_strerror(rc), report);
}

static const char *const op_names[OPS_NUM] = {
    "put", "put_ex", "get", "del", "del_if", "incr", "clear", "next", "ttl", "count",
    "purge", "rdonly", "badargs", "reopen", "stats", "check"};

/* Runs one operation and checks the generation every handle reports. */
static void run_op(uint8_t code, fz_reader_t *r)
{
    int op = (code & 0x1f) % OPS_NUM, variant = code >> 5 & 3;
    kv_t *h = fx.h[code >> 7];
    uint64_t count, purged, gen, gen_before = m.gen;

    if (fx.trace)
        fprintf(stderr, "op %-7s variant %d handle %d (count %" PRIu64 ", gen %" PRIu64 ")\n",
                op_names[op], variant, code >> 7, m.count, m.gen);
    switch (op) {
    case OPS_PUT:     op_put(h, r, variant); break;
    case OPS_PUT_EX:  op_put_ex(h, r); break;
    case OPS_GET:     op_get(h, r, variant); break;
    case OPS_DEL:     op_del(h, r, 0, variant); break;
    case OPS_DEL_IF:  op_del(h, r, 1, variant); break;
    case OPS_INCR:    op_incr(h, r); break;
    case OPS_CLEAR:
        FZ_CHECK(kv_clear(h) == 0, "kv_clear");
        for (int i = 0; i < NKEYS; i++)
            m.e[i].present = 0;
        m.count = 0;
        m.gen++;
        break;
    case OPS_NEXT:    op_next(h, variant); break;
    case OPS_TTL:     op_ttl(h, r); break;
    case OPS_COUNT:
        FZ_CHECK(kv_count(h, &count) == 0 && count == m.count, "kv_count %" PRIu64
                 ", model %" PRIu64, count, m.count);
        break;
    case OPS_PURGE:
        FZ_CHECK(kv_purge_expired(h, &purged) == 0 && purged == 0, "purge: %" PRIu64,
                 purged);
        break;
    case OPS_RDONLY:  op_rdonly(r); break;
    case OPS_BADARGS: op_badargs(h, r, variant); break;
    case OPS_REOPEN:  op_reopen(); break;
    case OPS_STATS:   op_stats(h); break;
    default:          op_check(h); break;
    }
    if (m.gen != gen_before)
        fold_gets(h);
    for (int i = 0; i < 2; i++) {
        FZ_CHECK(kv_generation(fx.h[i], &gen) == 0 && gen == m.gen,
                 "after %s: generation %" PRIu64 ", model %" PRIu64, op_names[op], gen, m.gen);
    }
}

/* ======================================================================== */
/* The target                                                               */
/* ======================================================================== */

static void remove_store(void)
{
    kv_unlink(fx.name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(fx.name, sizeof fx.name, "kvfuzz-ops-%ld", (long)getpid());
    fx.trace = getenv("KV_FUZZ_TRACE") != NULL;
    atexit(remove_store);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r = {data, size};
    kv_options_t o;
    uint8_t geo = fz_byte(&r), vm = fz_byte(&r);
    unsigned char seen[NKEYS];
    int rc;

    memset(&m, 0, sizeof m);
    m.slots = UINT64_C(1) << ((geo & 7) < 6 ? (geo & 7) : 6);
    m.cache = (geo & 8) != 0;
    m.key_max = 4u << (geo >> 4 & 3);
    m.val_max = vm % 80u;
    kv_options_init(&o);
    o.slots = m.slots;
    o.key_max = m.key_max;
    o.val_max = m.val_max;
    o.lock_timeout_ms = 1000;
    kv_unlink(fx.name); /* left behind only if a previous input crashed */
    rc = kv_open(&fx.h[0], fx.name, KV_CREATE | KV_EXCL | KV_RDWR | (m.cache ? KV_CACHE : 0),
                 &o);
    FZ_CHECK(rc == 0, "create %s: %s", fx.name, kv_strerror(rc));
    FZ_CHECK(kv_open(&fx.h[1], fx.name, KV_RDWR, NULL) == 0, "second handle");
    FZ_CHECK(kv_open(&fx.ro, fx.name, 0, NULL) == 0, "read-only handle");
    if (fx.trace)
        fprintf(stderr, "store: slots %" PRIu64 ", key_max %u, val_max %u%s\n", m.slots,
                m.key_max, m.val_max, m.cache ? ", cache" : "");

    while (r.n > 0)
        run_op(fz_byte(&r), &r);

    FZ_CHECK(collect(fx.h[1], 0, 0, seen) == m.count, "final iteration: count differs");
    op_check(fx.h[0]);
    op_stats(fx.h[0]);
    kv_close(fx.h[0]);
    kv_close(fx.h[1]);
    kv_close(fx.ro);
    fx.h[0] = fx.h[1] = fx.ro = NULL;
    kv_unlink(fx.name);
    return 0;
}
