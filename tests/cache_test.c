/*
 * cache_test.c — the "cache" half of the API: entry versions and
 * compare-and-swap, counters (kv_incr), time-to-live, KV_CACHE stores that
 * evict instead of filling up, and change notification (kv_wait, kv_watch).
 *
 * Helper processes are this binary re-executed in a role (spawn.h), never
 * fork()ed: counters incremented by several processes at once, watchers
 * blocked in kv_wait/kv_watch that a writer process must wake (their exit
 * code says what they saw), and a watcher killed while it waits.  Crash
 * points inside the new operations are walked in crash_test.c.
 *
 * Times are short (TTLs of 150 ms, waits of a few hundred) with generous
 * slack on the upper side, so a loaded machine makes the run slower, not
 * red.  The hit-rate case replays one fixed trace against the store and
 * against an exact LRU of the same capacity and prints both rates.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv.h"
#include "spawn.h"
#include "test.h"
#include "util.h"

static char store[256]; /* the running case's store name */

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

/* Wall-clock ms since the epoch (the clock expiry times are in). */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The entry's version, or 0 when absent (or on any error). */
static uint64_t version_of(kv_t *kv, const char *key)
{
    kv_meta_t m = { 0, 0 };
    int rc = kv_get_ex(kv, key, strlen(key), NULL, 0, NULL, &m);
    return rc == 0 || rc == KV_ERANGE ? m.version : 0;
}

static uint64_t generation(kv_t *kv)
{
    uint64_t g = 0;
    if (kv_generation(kv, &g) != 0)
        return UINT64_MAX;
    return g;
}

/* kv_put_ex of C strings with a TTL (0: none) and no condition. */
static int put_ttl(kv_t *kv, const char *key, const char *val, uint64_t ttl_ms)
{
    kv_put_opts_t o = { 0, ttl_ms, 0, 0 };
    return kv_put_ex(kv, key, strlen(key), val, strlen(val), &o);
}

/* kv_put_ex with KV_IF_VERSION; *version gets the new version on success. */
static int put_if(kv_t *kv, const char *key, const char *val, uint64_t if_version,
                  uint64_t *version)
{
    kv_put_opts_t o = { KV_IF_VERSION, 0, if_version, 0 };
    int rc = kv_put_ex(kv, key, strlen(key), val, strlen(val), &o);
    if (version)
        *version = o.version;
    return rc;
}

/* 1 if key holds exactly the C string val (says why not on stderr). */
static int has(kv_t *kv, const char *key, const char *val)
{
    return util_has(kv, key, strlen(key), val, strlen(val));
}

static int get_rc(kv_t *kv, const char *key)
{
    char buf[256];
    return kv_get(kv, key, strlen(key), buf, sizeof buf, NULL);
}

static int64_t ttl_of(kv_t *kv, const char *key, int *rc)
{
    int64_t t = -2;
    *rc = kv_ttl(kv, key, strlen(key), &t);
    return t;
}

static kv_stats_t stats_of(kv_t *kv)
{
    kv_stats_t st;
    memset(&st, 0, sizeof st);
    if (kv_stats(kv, &st) != 0)
        fprintf(stderr, "  kv_stats failed\n");
    return st;
}

/* A cache store (KV_CACHE) of `slots` slots, keys <= 32 B, values <= 64 B
 * (room for the util_fixture_val family). */
static kv_t *fresh_cache(char *name, uint64_t slots)
{
    kv_options_t o;
    kv_options_init(&o);
    o.slots = slots;
    o.key_max = 32;
    o.val_max = 64;
    return util_fresh_ex(name, "cache", &o, KV_CACHE);
}

/* Parses a decimal uint64 argument. */
static uint64_t arg_u64(const char *s)
{
    return strtoull(s, NULL, 10);
}

/* ------------------------------------------------------------------------ */
/* Roles                                                                    */
/* ------------------------------------------------------------------------ */

static kv_t *role_open(const char *role, const char *name)
{
    kv_t *kv = NULL;
    int rc = kv_open(&kv, name, KV_RDWR, NULL);
    if (rc != 0)
        fprintf(stderr, "  %s: open %s: %s\n", role, name, kv_strerror(rc));
    return rc == 0 ? kv : NULL;
}

/* "incr STORE KEY COUNT": COUNT kv_incr(+1) calls; every result must be
 * larger than the previous one.  Exits 0, or 1 on any error. */
static int role_incr(int argc, char **argv)
{
    kv_t *kv = argc == 4 ? role_open("incr", argv[1]) : NULL;
    uint64_t n = argc == 4 ? arg_u64(argv[3]) : 0;
    int64_t prev = INT64_MIN, r = 0;
    unsigned bad = 0;
    if (!kv)
        return 1;
    for (uint64_t i = 0; i < n; i++) {
        int rc = kv_incr(kv, argv[2], strlen(argv[2]), 1, &r);
        if (rc != 0 || r <= prev) {
            if (bad++ < 3)
                fprintf(stderr, "  incr: rc %d (%s), result %lld after %lld\n", rc,
                        kv_strerror(rc), (long long)r, (long long)prev);
        }
        prev = r;
    }
    kv_close(kv);
    return bad ? 1 : 0;
}

/* "put STORE KEY VAL DELAY_MS": sleeps, then puts.  Exits 0 or 1. */
static int role_put(int argc, char **argv)
{
    kv_t *kv = argc == 5 ? role_open("put", argv[1]) : NULL;
    int rc;
    if (!kv)
        return 1;
    spawn_sleep_ms((unsigned)arg_u64(argv[4]));
    rc = util_put(kv, argv[2], argv[3]);
    kv_close(kv);
    return rc == 0 ? 0 : 1;
}

/* "wait STORE SEEN TIMEOUT_MS": kv_wait.  Exits 0 if woken with a
 * generation other than SEEN, 1 on KV_ETIMEDOUT, 2 on anything else. */
static int role_wait(int argc, char **argv)
{
    kv_t *kv = argc == 4 ? role_open("wait", argv[1]) : NULL;
    uint64_t seen = argc == 4 ? arg_u64(argv[2]) : 0, g = seen;
    int rc;
    if (!kv)
        return 2;
    rc = kv_wait(kv, seen, (uint32_t)arg_u64(argv[3]), &g);
    kv_close(kv);
    if (rc == 0)
        return g != seen ? 0 : 2;
    return rc == KV_ETIMEDOUT && g == seen ? 1 : 2;
}

/* "watch STORE KEY SEEN TIMEOUT_MS": kv_watch.  Exits 0 if woken and the key
 * is present at the version reported, 3 if woken and the key is absent
 * (version 0), 1 on KV_ETIMEDOUT, 2 on anything else. */
static int role_watch(int argc, char **argv)
{
    kv_t *kv = argc == 5 ? role_open("watch", argv[1]) : NULL;
    uint64_t seen = argc == 5 ? arg_u64(argv[3]) : 0, v = UINT64_MAX;
    int rc, code = 2;
    if (!kv)
        return 2;
    rc = kv_watch(kv, argv[2], strlen(argv[2]), seen, (uint32_t)arg_u64(argv[4]), &v);
    if (rc == KV_ETIMEDOUT)
        code = v == seen ? 1 : 2;
    else if (rc == 0 && v == 0)
        code = get_rc(kv, argv[2]) == KV_ENOTFOUND && seen != 0 ? 3 : 2;
    else if (rc == 0)
        code = version_of(kv, argv[2]) == v && v != seen ? 0 : 2;
    if (code == 2)
        fprintf(stderr, "  watch %s: rc %d, version %llu (seen %llu)\n", argv[2], rc,
                (unsigned long long)v, (unsigned long long)seen);
    kv_close(kv);
    return code;
}

static int start(spawn_proc_t *p, const char *role, const char *a1, const char *a2,
                 const char *a3, const char *a4)
{
    const char *args[] = { a1, a2, a3, a4, NULL };
    return spawn_role(p, role, args, NULL);
}

/* Starts a "wait" role on `store` for generation `seen`. */
static int start_waiter(spawn_proc_t *p, uint64_t seen, unsigned timeout_ms)
{
    char s[32], t[32];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seen);
    snprintf(t, sizeof t, "%u", timeout_ms);
    return start(p, "wait", store, s, t, NULL);
}

/* Starts a "watch" role on `store` for `key` at version `seen`. */
static int start_watcher(spawn_proc_t *p, const char *key, uint64_t seen, unsigned timeout_ms)
{
    char s[32], t[32];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seen);
    snprintf(t, sizeof t, "%u", timeout_ms);
    return start(p, "watch", store, key, s, t);
}

/* ------------------------------------------------------------------------ */
/* Versions and compare-and-swap                                            */
/* ------------------------------------------------------------------------ */

TEST(versions)
{
    kv_t *kv = util_fresh(store, "ver", 64, 32, 64);
    kv_put_opts_t o = { 0, 0, 0, 0 };
    kv_meta_t m = { 0, 0 };
    char buf[64];
    size_t n = 0;
    REQUIRE(kv);
    REQUIRE_EQ(kv_put_ex(kv, "a", 1, "1", 1, &o), 0);
    uint64_t v1 = o.version;
    CHECK(v1 > 0);
    CHECK_EQ(v1, generation(kv)); /* the store's generation after the write */
    CHECK_EQ(kv_get_ex(kv, "a", 1, buf, sizeof buf, &n, &m), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(m.version, v1);
    CHECK_EQ(m.expires_ms, 0);
    /* KV_ERANGE fills the meta too. */
    memset(&m, 0, sizeof m);
    CHECK_EQ(kv_get_ex(kv, "a", 1, NULL, 0, &n, &m), KV_ERANGE);
    CHECK_EQ(m.version, v1);
    CHECK_EQ(kv_get_ex(kv, "a", 1, buf, sizeof buf, NULL, NULL), 0);

    /* Every write gives a larger version: put_ex, kv_put, kv_incr. */
    o = (kv_put_opts_t){ 0, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "a", 1, "22", 2, &o), 0);
    uint64_t v2 = o.version;
    CHECK(v2 > v1);
    CHECK_EQ(version_of(kv, "a"), v2);
    CHECK_EQ(util_put(kv, "a", "333"), 0);
    uint64_t v3 = version_of(kv, "a");
    CHECK(v3 > v2);
    CHECK_EQ(v3, generation(kv));
    CHECK_EQ(kv_incr(kv, "a", 1, 1, NULL), 0);
    uint64_t v4 = version_of(kv, "a");
    CHECK(v4 > v3);

    /* Writing another key leaves a's version alone. */
    o = (kv_put_opts_t){ 0, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "b", 1, "x", 1, &o), 0);
    CHECK(o.version > v4);
    CHECK_EQ(version_of(kv, "a"), v4);

    /* A failed write changes neither version nor generation. */
    uint64_t g = generation(kv);
    o = (kv_put_opts_t){ KV_NOREPLACE, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "a", 1, "no", 2, &o), KV_EEXIST);
    CHECK_EQ(version_of(kv, "a"), v4);
    CHECK_EQ(generation(kv), g);
    CHECK(has(kv, "a", "334"));
    o = (kv_put_opts_t){ 0x100u, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "a", 1, "no", 2, &o), KV_EINVAL);
    CHECK_EQ(generation(kv), g);

    /* Delete and re-insert: a version never handed out before. */
    uint64_t vb = version_of(kv, "b");
    CHECK_EQ(kv_del(kv, "b", 1), 0);
    CHECK_EQ(version_of(kv, "b"), 0);
    CHECK(generation(kv) > g);
    o = (kv_put_opts_t){ 0, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "b", 1, "x", 1, &o), 0);
    CHECK(o.version > vb);
    CHECK(o.version > v4);
    CHECK_EQ(o.version, version_of(kv, "b"));

    /* opts may be NULL; a clear then a re-insert still moves forward. */
    CHECK_EQ(kv_put_ex(kv, "c", 1, "y", 1, NULL), 0);
    uint64_t vc = version_of(kv, "c");
    CHECK_EQ(kv_clear(kv), 0);
    CHECK_EQ(kv_put_ex(kv, "c", 1, "y", 1, NULL), 0);
    CHECK(version_of(kv, "c") > vc);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(compare_and_swap)
{
    kv_t *kv = util_fresh(store, "cas", 64, 32, 64);
    uint64_t v = 0, v2 = 0, g;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "one"), 0);
    v = version_of(kv, "k");
    REQUIRE(v > 0);

    /* The right version: written, new version reported. */
    CHECK_EQ(put_if(kv, "k", "two", v, &v2), 0);
    CHECK(v2 > v);
    CHECK_EQ(version_of(kv, "k"), v2);
    CHECK(has(kv, "k", "two"));

    /* A stale version (and a future one): KV_ECONFLICT, nothing changes. */
    g = generation(kv);
    CHECK_EQ(put_if(kv, "k", "three", v, NULL), KV_ECONFLICT);
    CHECK_EQ(put_if(kv, "k", "three", v2 + 1000, NULL), KV_ECONFLICT);
    CHECK(has(kv, "k", "two"));
    CHECK_EQ(version_of(kv, "k"), v2);
    CHECK_EQ(generation(kv), g);

    /* if_version 0: only when absent. */
    CHECK_EQ(put_if(kv, "k", "zero", 0, NULL), KV_ECONFLICT);
    CHECK(has(kv, "k", "two"));
    uint64_t vn = 0;
    CHECK_EQ(put_if(kv, "n", "new", 0, &vn), 0);
    CHECK(vn > v2);
    CHECK(has(kv, "n", "new"));
    CHECK_EQ(put_if(kv, "n", "again", 0, NULL), KV_ECONFLICT);
    CHECK(has(kv, "n", "new"));
    /* A nonzero version for an absent key conflicts and inserts nothing. */
    CHECK_EQ(put_if(kv, "z", "no", v2, NULL), KV_ECONFLICT);
    CHECK_EQ(get_rc(kv, "z"), KV_ENOTFOUND);
    CHECK_EQ(generation(kv), vn);

    /* CAS with a TTL sets the TTL. */
    kv_put_opts_t o = { KV_IF_VERSION, 60000, vn, 0 };
    CHECK_EQ(kv_put_ex(kv, "n", 1, "ttl", 3, &o), 0);
    int rc;
    int64_t t = ttl_of(kv, "n", &rc);
    CHECK_EQ(rc, 0);
    CHECK(t > 50000 && t <= 60000);

    /* kv_del_if: wrong version (and 0) conflicts, right one deletes,
     * absent is not found. */
    uint64_t vk = version_of(kv, "k");
    g = generation(kv);
    CHECK_EQ(kv_del_if(kv, "k", 1, vk - 1), KV_ECONFLICT);
    CHECK_EQ(kv_del_if(kv, "k", 1, 0), KV_ECONFLICT);
    CHECK(has(kv, "k", "two"));
    CHECK_EQ(generation(kv), g);
    CHECK_EQ(kv_del_if(kv, "k", 1, vk), 0);
    CHECK_EQ(get_rc(kv, "k"), KV_ENOTFOUND);
    CHECK(generation(kv) > g);
    CHECK_EQ(kv_del_if(kv, "k", 1, vk), KV_ENOTFOUND);
    CHECK_EQ(kv_del_if(kv, "never", 5, 1), KV_ENOTFOUND);

    /* An expired entry counts as absent for if_version 0. */
    CHECK_EQ(put_ttl(kv, "e", "old", 50), 0);
    spawn_sleep_ms(120);
    CHECK_EQ(put_if(kv, "e", "fresh", 0, NULL), 0);
    CHECK(has(kv, "e", "fresh"));
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Counters                                                                 */
/* ------------------------------------------------------------------------ */

TEST(incr_basic)
{
    kv_t *kv = util_fresh(store, "incr", 64, 32, 64);
    int64_t r = 0;
    REQUIRE(kv);
    CHECK_EQ(kv_incr(kv, "c", 1, 5, &r), 0); /* absent: created at 0, then +5 */
    CHECK_EQ(r, 5);
    CHECK(has(kv, "c", "5"));
    for (int i = 0; i < 10; i++)
        CHECK_EQ(kv_incr(kv, "c", 1, 1, &r), 0);
    CHECK_EQ(r, 15);
    CHECK(has(kv, "c", "15"));
    CHECK_EQ(kv_incr(kv, "c", 1, -20, &r), 0);
    CHECK_EQ(r, -5);
    CHECK(has(kv, "c", "-5"));
    CHECK_EQ(kv_incr(kv, "c", 1, 0, NULL), 0); /* result may be NULL */
    CHECK(has(kv, "c", "-5"));
    CHECK_EQ(kv_incr(kv, "d", 1, -7, &r), 0);
    CHECK_EQ(r, -7);
    CHECK(has(kv, "d", "-7"));
    /* Valid forms that are not canonical are read, and written back canonical. */
    CHECK_EQ(util_put(kv, "z", "007"), 0);
    CHECK_EQ(kv_incr(kv, "z", 1, 1, &r), 0);
    CHECK_EQ(r, 8);
    CHECK(has(kv, "z", "8"));
    CHECK_EQ(util_put(kv, "z", "-0"), 0);
    CHECK_EQ(kv_incr(kv, "z", 1, 1, &r), 0);
    CHECK_EQ(r, 1);
    CHECK(has(kv, "z", "1"));
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(incr_not_a_number)
{
    static const char *const bad[] = {
        "abc", "", "1.5", " 1", "1 ", "+1", "-", "--1", "1-", "0x10", "1e3",
        "12345678901234567890",  /* 20 digits */
        "00000000000000000001",  /* 20 digits, small value */
        "-12345678901234567890",
    };
    kv_t *kv = util_fresh(store, "nan", 64, 32, 64);
    REQUIRE(kv);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t r = 12345;
        REQUIRE_EQ(util_put(kv, "n", bad[i]), 0);
        uint64_t v = version_of(kv, "n"), g = generation(kv);
        int rc = kv_incr(kv, "n", 1, 1, &r);
        if (rc != KV_ENOTNUM)
            fprintf(stderr, "  incr of \"%s\": %d (%s)\n", bad[i], rc, kv_strerror(rc));
        CHECK_EQ(rc, KV_ENOTNUM);
        CHECK(has(kv, "n", bad[i]));
        CHECK_EQ(version_of(kv, "n"), v);
        CHECK_EQ(generation(kv), g);
    }
    /* A NUL byte after the digits is not a number either. */
    REQUIRE_EQ(kv_put(kv, "n", 1, "1\0", 2, 0), 0);
    CHECK_EQ(kv_incr(kv, "n", 1, 1, NULL), KV_ENOTNUM);
    CHECK(util_has(kv, "n", 1, "1\0", 2));
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(incr_overflow)
{
    kv_t *kv = util_fresh(store, "ovf", 64, 32, 64);
    int64_t r = 0;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "m", "9223372036854775807"), 0);
    uint64_t v = version_of(kv, "m");
    CHECK_EQ(kv_incr(kv, "m", 1, 1, &r), KV_EOVERFLOW);
    CHECK(has(kv, "m", "9223372036854775807"));
    CHECK_EQ(version_of(kv, "m"), v);
    CHECK_EQ(kv_incr(kv, "m", 1, INT64_MAX, &r), KV_EOVERFLOW);
    CHECK_EQ(kv_incr(kv, "m", 1, INT64_MIN, &r), 0);
    CHECK_EQ(r, -1);
    CHECK(has(kv, "m", "-1"));

    REQUIRE_EQ(util_put(kv, "n", "-9223372036854775807"), 0);
    CHECK_EQ(kv_incr(kv, "n", 1, -1, &r), 0);
    CHECK_EQ(r, INT64_MIN);
    CHECK(has(kv, "n", "-9223372036854775808"));
    CHECK_EQ(kv_incr(kv, "n", 1, -1, &r), KV_EOVERFLOW);
    CHECK(has(kv, "n", "-9223372036854775808"));
    CHECK_EQ(kv_incr(kv, "n", 1, INT64_MAX, &r), 0);
    CHECK_EQ(r, -1);

    /* Absent key with the extreme deltas. */
    CHECK_EQ(kv_incr(kv, "lo", 2, INT64_MIN, &r), 0);
    CHECK_EQ(r, INT64_MIN);
    CHECK(has(kv, "lo", "-9223372036854775808"));
    CHECK_EQ(kv_incr(kv, "hi", 2, INT64_MAX, &r), 0);
    CHECK(has(kv, "hi", "9223372036854775807"));

    /* 19 digits beyond int64_t: not a number or an overflow, never a write. */
    static const char *const huge[] = { "9999999999999999999", "-9223372036854775809",
                                        "9223372036854775808" };
    for (size_t i = 0; i < 3; i++) {
        REQUIRE_EQ(util_put(kv, "h", huge[i]), 0);
        int rc = kv_incr(kv, "h", 1, 0, &r);
        CHECK(rc == KV_ENOTNUM || rc == KV_EOVERFLOW);
        CHECK(has(kv, "h", huge[i]));
    }
    util_dispose(kv, store);

    /* A store whose values cannot hold 20 bytes: KV_ETOOBIG, nothing written. */
    kv = util_fresh(store, "ovf", 64, 32, 10);
    REQUIRE(kv);
    CHECK_EQ(kv_incr(kv, "c", 1, 1, &r), KV_ETOOBIG);
    CHECK_EQ(get_rc(kv, "c"), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(incr_keeps_ttl)
{
    kv_t *kv = util_fresh(store, "incrttl", 64, 32, 64);
    kv_meta_t m0 = { 0, 0 }, m1 = { 0, 0 };
    int64_t r = 0;
    int rc;
    REQUIRE(kv);
    REQUIRE_EQ(put_ttl(kv, "t", "10", 60000), 0);
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m0), KV_ERANGE);
    CHECK(m0.expires_ms != 0);
    CHECK_EQ(kv_incr(kv, "t", 1, 5, &r), 0);
    CHECK_EQ(r, 15);
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m1), KV_ERANGE);
    CHECK_EQ(m1.expires_ms, m0.expires_ms);
    CHECK(m1.version > m0.version);
    int64_t t = ttl_of(kv, "t", &rc);
    CHECK_EQ(rc, 0);
    CHECK(t > 50000 && t <= 60000);

    /* An expired counter is absent: incr starts again from 0, without TTL. */
    REQUIRE_EQ(put_ttl(kv, "e", "10", 100), 0);
    spawn_sleep_ms(200);
    CHECK_EQ(kv_incr(kv, "e", 1, 1, &r), 0);
    CHECK_EQ(r, 1);
    CHECK_EQ(ttl_of(kv, "e", &rc), -1);
    CHECK_EQ(rc, 0);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(incr_processes)
{
    enum { N = 4, K = 2000 };
    spawn_proc_t p[N];
    char k[16];
    kv_t *kv = util_fresh(store, "incrmp", 256, 32, 64);
    REQUIRE(kv);
    snprintf(k, sizeof k, "%u", (unsigned)K);
    for (int i = 0; i < N; i++)
        REQUIRE_EQ(start(&p[i], "incr", store, "counter", k, NULL), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(util_wait_code(&p[i]), 0);
    char want[32];
    snprintf(want, sizeof want, "%d", N * K);
    CHECK(has(kv, "counter", want));
    int64_t r = 0;
    CHECK_EQ(kv_incr(kv, "counter", 7, 0, &r), 0);
    CHECK_EQ(r, N * K);
    CHECK_EQ(stats_of(kv).recoveries, 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Time to live                                                             */
/* ------------------------------------------------------------------------ */

TEST(ttl_expires)
{
    kv_t *kv = util_fresh(store, "ttl", 64, 32, 64);
    kv_meta_t m = { 0, 0 };
    int rc;
    REQUIRE(kv);
    int64_t before = wall_ms();
    REQUIRE_EQ(put_ttl(kv, "t", "short", 150), 0);
    REQUIRE_EQ(util_put(kv, "p", "forever"), 0);
    CHECK(has(kv, "t", "short"));
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m), KV_ERANGE);
    /* 20 ms of slack for a coarse clock */
    CHECK(m.expires_ms + 20 >= (uint64_t)before + 150 &&
          m.expires_ms <= (uint64_t)wall_ms() + 150 + 20);
    int64_t t = ttl_of(kv, "t", &rc);
    CHECK_EQ(rc, 0);
    CHECK(t > 0 && t <= 150);
    CHECK_EQ(ttl_of(kv, "p", &rc), -1);
    CHECK_EQ(rc, 0);
    ttl_of(kv, "absent", &rc);
    CHECK_EQ(rc, KV_ENOTFOUND);
    CHECK_EQ(kv_get_ex(kv, "p", 1, NULL, 0, NULL, &m), KV_ERANGE);
    CHECK_EQ(m.expires_ms, 0);

    spawn_sleep_ms(300);
    CHECK_EQ(get_rc(kv, "t"), KV_ENOTFOUND);
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m), KV_ENOTFOUND);
    ttl_of(kv, "t", &rc);
    CHECK_EQ(rc, KV_ENOTFOUND);
    CHECK_EQ(kv_del(kv, "t", 1), KV_ENOTFOUND);
    CHECK(has(kv, "p", "forever"));
    /* An expired key may be inserted again, insert-only included. */
    CHECK_EQ(put_ttl(kv, "u", "short", 100), 0);
    spawn_sleep_ms(200);
    CHECK_EQ(kv_put(kv, "u", 1, "again", 5, KV_NOREPLACE), 0);
    CHECK(has(kv, "u", "again"));
    CHECK_EQ(ttl_of(kv, "u", &rc), -1);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(ttl_cleared_or_replaced_by_put)
{
    kv_t *kv = util_fresh(store, "ttlput", 64, 32, 64);
    int rc;
    REQUIRE(kv);
    REQUIRE_EQ(put_ttl(kv, "a", "1", 150), 0);
    REQUIRE_EQ(util_put(kv, "a", "plain put"), 0);       /* kv_put clears the TTL */
    CHECK_EQ(ttl_of(kv, "a", &rc), -1);
    REQUIRE_EQ(put_ttl(kv, "b", "1", 150), 0);
    REQUIRE_EQ(put_ttl(kv, "b", "ttl 0", 0), 0);         /* so does ttl_ms 0 */
    CHECK_EQ(ttl_of(kv, "b", &rc), -1);
    REQUIRE_EQ(put_ttl(kv, "c", "1", 150), 0);
    REQUIRE_EQ(put_ttl(kv, "c", "longer", 60000), 0);    /* a new TTL replaces it */
    CHECK(ttl_of(kv, "c", &rc) > 50000);
    REQUIRE_EQ(util_put(kv, "d", "no ttl"), 0);
    REQUIRE_EQ(put_ttl(kv, "d", "now short", 150), 0);   /* and can be added */
    spawn_sleep_ms(300);
    CHECK(has(kv, "a", "plain put"));
    CHECK(has(kv, "b", "ttl 0"));
    CHECK(has(kv, "c", "longer"));
    CHECK_EQ(get_rc(kv, "d"), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Counts entries kv_next returns whose key starts with `prefix`; -1 on error. */
static long count_prefix(kv_t *kv, const char *prefix, long *total)
{
    char k[64], v[64];
    uint64_t cursor = 0;
    long n = 0, all = 0;
    for (;;) {
        kv_entry_t e = { k, sizeof k, 0, v, sizeof v, 0 };
        int rc = kv_next(kv, &cursor, &e);
        if (rc == KV_ENOTFOUND)
            break;
        if (rc != 0)
            return -1;
        all++;
        n += e.key_len >= strlen(prefix) && memcmp(k, prefix, strlen(prefix)) == 0;
    }
    if (total)
        *total = all;
    return n;
}

TEST(ttl_purge_next_and_stats)
{
    enum { SHORT = 20, LONG = 10 };
    kv_t *kv = util_fresh(store, "purge", 128, 32, 64);
    char k[32];
    uint64_t purged = 99, count = 0;
    long total = 0;
    REQUIRE(kv);
    for (unsigned i = 0; i < SHORT; i++) {
        snprintf(k, sizeof k, "x%u", i);
        REQUIRE_EQ(put_ttl(kv, k, "short-lived", 150), 0);
    }
    REQUIRE_EQ(util_fill(kv, "p", LONG), 0);
    CHECK_EQ(count_prefix(kv, "x", &total), SHORT);
    CHECK_EQ(total, SHORT + LONG);
    kv_stats_t s0 = stats_of(kv);
    CHECK_EQ(s0.expirations, 0);
    CHECK_EQ(kv_purge_expired(kv, &purged), 0); /* nothing expired yet */
    CHECK_EQ(purged, 0);

    spawn_sleep_ms(300);
    /* kv_next skips expired entries. */
    CHECK_EQ(count_prefix(kv, "x", &total), 0);
    CHECK_EQ(total, LONG);
    kv_stats_t s1 = stats_of(kv);
    CHECK_EQ(kv_purge_expired(kv, &purged), 0);
    kv_stats_t s2 = stats_of(kv);
    /* Whatever iteration reclaimed on the way plus what purge removed. */
    CHECK_EQ(s1.expirations + purged, SHORT);
    CHECK_EQ(s2.expirations, SHORT);
    CHECK_EQ(s2.used, LONG);
    CHECK_EQ(kv_count(kv, &count), 0);
    CHECK_EQ(count, LONG);
    CHECK_EQ(util_verify(kv, "p", LONG), 0);
    CHECK(s2.generation > s1.generation || purged == 0);
    CHECK_EQ(kv_purge_expired(kv, &purged), 0);
    CHECK_EQ(purged, 0);
    CHECK_EQ(kv_purge_expired(kv, NULL), 0);

    /* A get that meets an expired entry reclaims it and counts a miss. */
    REQUIRE_EQ(put_ttl(kv, "e", "soon gone", 100), 0);
    spawn_sleep_ms(200);
    kv_stats_t s3 = stats_of(kv);
    CHECK_EQ(get_rc(kv, "e"), KV_ENOTFOUND);
    kv_stats_t s4 = stats_of(kv);
    CHECK_EQ(s4.misses, s3.misses + 1);
    CHECK_EQ(s4.expirations, s3.expirations + 1);
    CHECK_EQ(s4.used, s3.used - 1);
    /* hits and misses */
    CHECK_EQ(get_rc(kv, "p1"), 0);
    CHECK_EQ(get_rc(kv, "p2"), 0);
    CHECK_EQ(get_rc(kv, "nope"), KV_ENOTFOUND);
    kv_stats_t s5 = stats_of(kv);
    CHECK_EQ(s5.hits, s4.hits + 2);
    CHECK_EQ(s5.misses, s4.misses + 1);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* A store that is not a cache, full of expired entries, takes new inserts:
 * the room is reclaimed rather than KV_EFULL returned. */
TEST(ttl_room_reclaimed_when_full)
{
    enum { SLOTS = 256 };
    kv_t *kv = util_fresh(store, "room", SLOTS, 16, 16);
    char k[32];
    unsigned n = 0;
    int rc = 0;
    REQUIRE(kv);
    CHECK_EQ(stats_of(kv).cache, 0);
    while (n < 4 * SLOTS) {
        snprintf(k, sizeof k, "x%u", n);
        rc = put_ttl(kv, k, "v", 150);
        if (rc != 0)
            break;
        n++;
    }
    CHECK_EQ(rc, KV_EFULL);
    CHECK(n >= SLOTS * 3 / 4 && n <= SLOTS);
    CHECK_EQ(kv_put(kv, "one-more", 8, "v", 1, 0), KV_EFULL);
    spawn_sleep_ms(300);
    for (unsigned i = 0; i < n; i++) {
        snprintf(k, sizeof k, "y%u", i);
        rc = util_put(kv, k, "fresh");
        if (rc != 0) {
            fprintf(stderr, "  put %s (insert %u of %u) after all expired: %s\n", k, i + 1, n,
                    kv_strerror(rc));
            CHECK_EQ(rc, 0);
            break;
        }
    }
    long total = 0;
    CHECK_EQ(count_prefix(kv, "y", &total), n);
    CHECK_EQ(total, n);
    CHECK((long long)stats_of(kv).expirations >= (long long)n - (SLOTS - (long long)n));
    CHECK_EQ(stats_of(kv).evictions, 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Cache stores                                                             */
/* ------------------------------------------------------------------------ */

TEST(cache_never_full)
{
    enum { SLOTS = 1024, KEYS = 20000, CAP = SLOTS * 7 / 8 };
    char name2[256], k[32], v[32], got[64];
    kv_t *kv = fresh_cache(store, SLOTS);
    unsigned errors = 0, over = 0;
    REQUIRE(kv);
    CHECK_EQ(stats_of(kv).cache, 1);
    for (unsigned i = 0; i < KEYS; i++) {
        snprintf(k, sizeof k, "key%u", i);
        snprintf(v, sizeof v, "val%u", i);
        int rc = util_put(kv, k, v);
        if (rc != 0 && errors++ < 3)
            fprintf(stderr, "  put %s: %s\n", k, kv_strerror(rc));
        if (i % 1000 == 999 && stats_of(kv).used > CAP)
            over++;
    }
    CHECK_EQ(errors, 0);
    CHECK_EQ(over, 0);
    kv_stats_t st = stats_of(kv);
    printf("  cache: %llu used of %llu slots, %llu evictions\n",
           (unsigned long long)st.used, (unsigned long long)st.slots,
           (unsigned long long)st.evictions);
    CHECK(st.used <= SLOTS);
    CHECK(st.used <= CAP);
    CHECK(st.used >= CAP - 16);
    CHECK(st.evictions > 0);
    CHECK_EQ(st.used + st.evictions, KEYS); /* every insert is kept or evicted once */
    uint64_t count = 0;
    CHECK_EQ(kv_count(kv, &count), 0);
    CHECK_EQ(count, st.used);
    /* What is left holds the right values; the newest keys are mostly there. */
    unsigned present = 0, wrong = 0, recent = 0;
    for (unsigned i = 0; i < KEYS; i++) {
        size_t n = 0;
        snprintf(k, sizeof k, "key%u", i);
        snprintf(v, sizeof v, "val%u", i);
        int rc = kv_get(kv, k, strlen(k), got, sizeof got, &n);
        if (rc == 0) {
            present++;
            wrong += n != strlen(v) || memcmp(got, v, n) != 0;
            recent += i >= KEYS - 100;
        } else if (rc != KV_ENOTFOUND) {
            wrong++;
        }
    }
    CHECK_EQ(present, st.used);
    CHECK_EQ(wrong, 0);
    CHECK(recent >= 70);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);

    /* The same workload on a store that is not a cache: KV_EFULL, and the
     * failed insert changes nothing. */
    kv_t *plain = util_fresh(name2, "plain", SLOTS, 32, 64);
    REQUIRE(plain);
    CHECK_EQ(stats_of(plain).cache, 0);
    unsigned i = 0;
    int rc = 0;
    for (; i < KEYS && rc == 0; i++) {
        snprintf(k, sizeof k, "key%u", i);
        rc = util_put(plain, k, "v");
    }
    CHECK_EQ(rc, KV_EFULL);
    CHECK(i <= SLOTS + 1);
    CHECK_EQ(kv_count(plain, &count), 0);
    CHECK_EQ(count, i - 1);
    CHECK_EQ(stats_of(plain).evictions, 0);
    util_dispose(plain, name2);

    /* KV_CACHE when attaching is ignored: the store's own mode applies. */
    kv_t *again = NULL;
    REQUIRE_EQ(kv_open(&again, store, KV_RDWR, NULL), 0);
    CHECK_EQ(stats_of(again).cache, 1);
    kv_close(again);
    kv_t *plain2 = util_fresh(name2, "plain", 64, 32, 32);
    REQUIRE(plain2);
    REQUIRE_EQ(kv_open(&again, name2, KV_RDWR | KV_CREATE | KV_CACHE, NULL), 0);
    CHECK_EQ(kv_created(again), 0);
    CHECK_EQ(stats_of(again).cache, 0);
    kv_close(again);
    util_dispose(plain2, name2);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Exactly 7/8 of the slots fill without evicting; from then on every insert
 * of a new key evicts one entry, and the count stays at 7/8. */
TEST(cache_capacity_boundary)
{
    enum { SLOTS = 256, CAP = SLOTS * 7 / 8, MORE = 64 };
    char k[32];
    kv_t *kv = fresh_cache(store, SLOTS);
    REQUIRE(kv);
    REQUIRE_EQ(util_fill(kv, "f", CAP), 0);
    kv_stats_t st = stats_of(kv);
    CHECK_EQ(st.used, CAP);
    CHECK_EQ(st.evictions, 0);
    CHECK_EQ(util_verify(kv, "f", CAP), 0);
    /* Overwriting an existing key never evicts. */
    CHECK_EQ(util_put(kv, "f3", "overwritten"), 0);
    CHECK_EQ(stats_of(kv).evictions, 0);
    unsigned missing = 0;
    uint64_t max_used = 0;
    for (unsigned i = 0; i < MORE; i++) {
        snprintf(k, sizeof k, "more%u", i);
        CHECK_EQ(util_put(kv, k, "x"), 0);
        missing += get_rc(kv, k) != 0; /* the new key itself is never the victim */
        st = stats_of(kv);
        if (st.used > max_used)
            max_used = st.used;
    }
    CHECK_EQ(missing, 0);
    CHECK_EQ(max_used, CAP);
    if (st.evictions != MORE) { /* the rest assumes the store stayed at CAP */
        CHECK_EQ(st.evictions, MORE);
        util_dispose(kv, store);
        TEST_DONE();
    }
    /* Deleting makes room again: the next insert does not evict. */
    uint64_t ev = stats_of(kv).evictions;
    CHECK_EQ(kv_del(kv, k, strlen(k)), 0); /* the last key inserted: still there */
    CHECK_EQ(util_put(kv, "two-more", "y"), 0);
    CHECK_EQ(stats_of(kv).evictions, ev);
    /* kv_incr of a new key in a full cache evicts too, never KV_EFULL. */
    CHECK_EQ(kv_incr(kv, "ctr", 3, 1, NULL), 0);
    st = stats_of(kv);
    CHECK_EQ(st.evictions, ev + 1);
    CHECK_EQ(st.used, CAP);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* A cache of fewer than 8 slots evicts at 7/8 = every slot, with no free
 * slot left: the victim is overwritten in place.  It never answers
 * KV_EFULL, keeps each slot live, and every surviving key reads back. */
TEST(cache_tiny_stays_full)
{
    static const unsigned sizes[] = { 1, 2, 4 };
    enum { KEYS = 50 };
    char k[32];
    for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        unsigned slots = sizes[s], errors = 0;
        kv_t *kv = fresh_cache(store, slots);
        REQUIRE(kv);
        for (unsigned i = 0; i < KEYS; i++) {
            snprintf(k, sizeof k, "t%u", i);
            int rc = util_put(kv, k, "v");
            if (rc != 0 && errors++ < 3)
                fprintf(stderr, "  %u slots, put %s: %s\n", slots, k, kv_strerror(rc));
            CHECK_EQ(get_rc(kv, k), 0); /* the new key is never the victim */
        }
        CHECK_EQ(errors, 0);
        kv_stats_t st = stats_of(kv);
        CHECK_EQ(st.used, slots);
        CHECK_EQ(st.used + st.evictions, KEYS);
        unsigned present = 0;
        for (unsigned i = 0; i < KEYS; i++) {
            snprintf(k, sizeof k, "t%u", i);
            present += get_rc(kv, k) == 0;
        }
        CHECK_EQ(present, slots);
        /* A delete leaves a tombstone the next insert takes, no eviction. */
        CHECK_EQ(kv_del(kv, k, strlen(k)), 0);
        CHECK_EQ(util_put(kv, "after-del", "w"), 0);
        CHECK_EQ(stats_of(kv).evictions, st.evictions);
        /* kv_incr of a new key evicts in place too. */
        CHECK_EQ(kv_incr(kv, "ctr", 3, 5, NULL), 0);
        CHECK(util_has(kv, "ctr", 3, "5", 1));
        CHECK_EQ(stats_of(kv).used, slots);
        CHECK_EQ(kv_check(kv, NULL, 0), 0);
        util_dispose(kv, store);
    }
    TEST_DONE();
}

/* An exact LRU over key ids 0..n-1: a doubly linked list in arrays. */
typedef struct lru {
    unsigned cap, size, head, tail; /* head: most recent */
    unsigned *prev, *next;
    unsigned char *in;
} lru_t;

#define LRU_NIL UINT32_MAX

static int lru_init(lru_t *l, unsigned n, unsigned cap)
{
    l->cap = cap;
    l->size = 0;
    l->head = l->tail = LRU_NIL;
    l->prev = malloc(n * sizeof *l->prev);
    l->next = malloc(n * sizeof *l->next);
    l->in = calloc(n, 1);
    return l->prev && l->next && l->in ? 0 : -1;
}

static void lru_free(lru_t *l)
{
    free(l->prev);
    free(l->next);
    free(l->in);
}

static void lru_unlink(lru_t *l, unsigned k)
{
    if (l->prev[k] != LRU_NIL)
        l->next[l->prev[k]] = l->next[k];
    else
        l->head = l->next[k];
    if (l->next[k] != LRU_NIL)
        l->prev[l->next[k]] = l->prev[k];
    else
        l->tail = l->prev[k];
}

static void lru_push_front(lru_t *l, unsigned k)
{
    l->prev[k] = LRU_NIL;
    l->next[k] = l->head;
    if (l->head != LRU_NIL)
        l->prev[l->head] = k;
    l->head = k;
    if (l->tail == LRU_NIL)
        l->tail = k;
}

/* Accesses key k (inserting it on a miss); returns 1 on a hit. */
static int lru_access(lru_t *l, unsigned k)
{
    if (l->in[k]) {
        lru_unlink(l, k);
        lru_push_front(l, k);
        return 1;
    }
    if (l->size == l->cap) {
        unsigned victim = l->tail;
        lru_unlink(l, victim);
        l->in[victim] = 0;
        l->size--;
    }
    lru_push_front(l, k);
    l->in[k] = 1;
    l->size++;
    return 0;
}

/* A uniform double in [0, 1). */
static double rand_unit(uint64_t *rng)
{
    return (double)(util_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Fills trace[0..len) with key ids from a zipfian (s = 1: id i has weight
 * 1/(i+1)) over n keys. */
static int trace_zipf(unsigned *trace, size_t len, unsigned n, uint64_t seed)
{
    double *cdf = malloc(n * sizeof *cdf), sum = 0;
    if (!cdf)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        sum += 1.0 / (double)(i + 1);
        cdf[i] = sum;
    }
    for (size_t t = 0; t < len; t++) {
        double u = rand_unit(&seed) * sum;
        unsigned lo = 0, hi = n - 1;
        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        trace[t] = lo;
    }
    free(cdf);
    return 0;
}

/* Fills trace[0..len): with probability hot_p a uniform pick among ids
 * 0..hot-1, else the next id of a cyclic scan over hot..n-1. */
static void trace_hot_scan(unsigned *trace, size_t len, unsigned n, unsigned hot,
                           double hot_p, uint64_t seed)
{
    unsigned scan = 0;
    for (size_t t = 0; t < len; t++) {
        if (rand_unit(&seed) < hot_p) {
            trace[t] = (unsigned)(util_rand(&seed) % hot);
        } else {
            trace[t] = hot + scan;
            scan = (scan + 1) % (n - hot);
        }
    }
}

/* Replays the trace on a fresh cache store as get, then put on a miss;
 * returns kv's hit rate (or -1 on an error) and LRU's in *lru_rate. */
static double replay(const unsigned *trace, size_t len, unsigned n, uint64_t slots,
                     double *lru_rate)
{
    char name[256], k[32], v[32];
    kv_t *kv = fresh_cache(name, slots);
    lru_t l;
    size_t hits = 0, lru_hits = 0, errors = 0;
    if (!kv || lru_init(&l, n, (unsigned)(slots * 7 / 8)) != 0)
        return -1;
    kv_stats_t s0 = stats_of(kv);
    for (size_t t = 0; t < len; t++) {
        int kl = snprintf(k, sizeof k, "trace-key-%u", trace[t]);
        int rc = kv_get(kv, k, (size_t)kl, v, sizeof v, NULL);
        if (rc == 0) {
            hits++;
        } else if (rc == KV_ENOTFOUND) {
            int vl = snprintf(v, sizeof v, "value %u", trace[t]);
            errors += kv_put(kv, k, (size_t)kl, v, (size_t)vl, 0) != 0;
        } else {
            errors++;
        }
        lru_hits += (size_t)lru_access(&l, trace[t]);
    }
    kv_stats_t s1 = stats_of(kv);
    CHECK_EQ(errors, 0);
    CHECK_EQ(s1.hits - s0.hits, hits);
    CHECK_EQ(s1.misses - s0.misses, len - hits);
    CHECK(s1.used <= slots * 7 / 8);
    lru_free(&l);
    util_dispose(kv, name);
    *lru_rate = (double)lru_hits / (double)len;
    return (double)hits / (double)len;
}

TEST(cache_hit_rate)
{
    enum { SLOTS = 1024, LEN = 200000, KEYS = 4 * (SLOTS * 7 / 8) };
    unsigned *trace = malloc(LEN * sizeof *trace);
    double kv_rate, lru_rate;
    REQUIRE(trace);
    REQUIRE_EQ(trace_zipf(trace, LEN, KEYS, 42), 0);
    kv_rate = replay(trace, LEN, KEYS, SLOTS, &lru_rate);
    printf("  hit rate, zipfian s=1 over %u keys: kv cache %.3f, true LRU %.3f\n",
           (unsigned)KEYS, kv_rate, lru_rate);
    CHECK(kv_rate >= 0.8 * lru_rate);

    trace_hot_scan(trace, LEN, KEYS, 600, 0.75, 7);
    kv_rate = replay(trace, LEN, KEYS, SLOTS, &lru_rate);
    printf("  hit rate, 600 hot keys (75%%) + scan over %u: kv cache %.3f, true LRU %.3f\n",
           (unsigned)KEYS - 600, kv_rate, lru_rate);
    CHECK(kv_rate >= 0.8 * lru_rate);
    free(trace);
    TEST_DONE();
}

/* Keys that are read keep their place while many new keys come in; keys
 * never read after their insert are evicted in time.  CLOCK over a short
 * window is an approximation (a window whose entries are all referenced
 * still gives up one), so "most", not all. */
TEST(cache_keeps_touched_keys)
{
    enum { SLOTS = 1024, HOT = 64, NEW = 10000, EVERY = 4 };
    char k[32];
    kv_t *kv = fresh_cache(store, SLOTS);
    REQUIRE(kv);
    REQUIRE_EQ(util_fill(kv, "hot", HOT), 0);
    REQUIRE_EQ(util_fill(kv, "cold", HOT), 0);
    for (unsigned i = 0; i < NEW; i++) {
        snprintf(k, sizeof k, "new%u", i);
        CHECK_EQ(util_put(kv, k, "x"), 0);
        if (i % EVERY == 0) {
            for (unsigned h = 0; h < HOT; h++) {
                char v[64];
                size_t kl = util_fixture_key(k, "hot", h);
                kv_get(kv, k, kl, v, sizeof v, NULL);
            }
        }
    }
    unsigned hot = 0, cold = 0;
    for (unsigned h = 0; h < HOT; h++) {
        char v[64];
        size_t kl = util_fixture_key(k, "hot", h);
        hot += kv_get(kv, k, kl, v, sizeof v, NULL) == 0;
        kl = util_fixture_key(k, "cold", h);
        cold += kv_get(kv, k, kl, v, sizeof v, NULL) == 0;
    }
    printf("  after %u inserts: %u of %u touched keys kept, %u of %u untouched\n",
           (unsigned)NEW, hot, (unsigned)HOT, cold, (unsigned)HOT);
    CHECK(hot >= HOT * 2 / 3);
    CHECK(cold <= HOT / 8);
    util_dispose(kv, store);
    TEST_DONE();
}

/* An insert into a full cache takes an expired entry before a live one. */
TEST(cache_prefers_expired)
{
    enum { SLOTS = 1024, CAP = SLOTS * 7 / 8, NEW = CAP / 2 };
    char k[32];
    kv_t *kv = fresh_cache(store, SLOTS);
    REQUIRE(kv);
    for (unsigned i = 0; i < CAP; i++) {
        snprintf(k, sizeof k, "old%u", i);
        REQUIRE_EQ(put_ttl(kv, k, "old", 200), 0);
    }
    kv_stats_t st = stats_of(kv);
    CHECK_EQ(st.used, CAP);
    CHECK_EQ(st.evictions, 0);
    spawn_sleep_ms(350);
    for (unsigned i = 0; i < NEW; i++) {
        snprintf(k, sizeof k, "new%u", i);
        CHECK_EQ(util_put(kv, k, "new"), 0);
    }
    unsigned kept = 0;
    for (unsigned i = 0; i < NEW; i++) {
        snprintf(k, sizeof k, "new%u", i);
        kept += get_rc(kv, k) == 0;
    }
    st = stats_of(kv);
    printf("  %u of %u new keys kept; %llu expirations, %llu evictions\n", kept,
           (unsigned)NEW, (unsigned long long)st.expirations,
           (unsigned long long)st.evictions);
    CHECK(kept >= NEW - 8);
    CHECK(st.expirations >= NEW - 8);
    CHECK(st.evictions <= 8);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Change notification                                                      */
/* ------------------------------------------------------------------------ */

TEST(generation_and_wait_in_process)
{
    kv_t *kv = util_fresh(store, "gen", 64, 32, 64);
    uint64_t g0, g = 0, g2 = 0;
    REQUIRE(kv);
    g0 = generation(kv);
    CHECK_EQ(kv_generation(NULL, &g), KV_EINVAL);
    CHECK_EQ(kv_wait(NULL, 0, 0, &g), KV_EINVAL);

    /* Each kind of change bumps it; reads and failed writes do not. */
    CHECK_EQ(util_put(kv, "a", "1"), 0);
    uint64_t g1 = generation(kv);
    CHECK(g1 > g0);
    CHECK_EQ(stats_of(kv).generation, g1);
    get_rc(kv, "a");
    CHECK_EQ(kv_put(kv, "a", 1, "2", 1, KV_NOREPLACE), KV_EEXIST);
    CHECK_EQ(kv_del(kv, "zz", 2), KV_ENOTFOUND);
    CHECK_EQ(generation(kv), g1);
    CHECK_EQ(kv_incr(kv, "n", 1, 1, NULL), 0);
    CHECK(generation(kv) > g1);
    g1 = generation(kv);
    CHECK_EQ(kv_del(kv, "n", 1), 0);
    CHECK(generation(kv) > g1);
    g1 = generation(kv);
    CHECK_EQ(kv_clear(kv), 0);
    CHECK(generation(kv) > g1);

    /* Already changed: returns at once with the current generation. */
    int64_t t0 = util_now_ms();
    CHECK_EQ(kv_wait(kv, g0, 5000, &g), 0);
    CHECK(util_now_ms() - t0 < 500);
    CHECK_EQ(g, generation(kv));
    CHECK_EQ(kv_wait(kv, g0, 0, NULL), 0);

    /* Nothing changes: KV_ETIMEDOUT after about the timeout. */
    t0 = util_now_ms();
    CHECK_EQ(kv_wait(kv, g, 300, &g2), KV_ETIMEDOUT);
    int64_t took = util_now_ms() - t0;
    printf("  kv_wait(300 ms) timed out after %lld ms\n", (long long)took);
    CHECK(took >= 290 && took < 1500);
    CHECK_EQ(g2, g);
    t0 = util_now_ms();
    CHECK_EQ(kv_wait(kv, g, 0, NULL), KV_ETIMEDOUT);
    CHECK(util_now_ms() - t0 < 100);

    /* kv_watch in process: changed already, unchanged, absent. */
    uint64_t v = 0, cur;
    CHECK_EQ(util_put(kv, "k", "1"), 0);
    cur = version_of(kv, "k");
    CHECK_EQ(kv_watch(kv, "k", 1, cur - 1, 1000, &v), 0);
    CHECK_EQ(v, cur);
    t0 = util_now_ms();
    CHECK_EQ(kv_watch(kv, "k", 1, cur, 200, &v), KV_ETIMEDOUT);
    CHECK(util_now_ms() - t0 >= 190);
    CHECK_EQ(v, cur);
    CHECK_EQ(kv_watch(kv, "absent", 6, 0, 100, &v), KV_ETIMEDOUT);
    CHECK_EQ(v, 0);
    CHECK_EQ(kv_watch(kv, "absent", 6, 5, 1000, &v), 0); /* seen 5, it is absent */
    CHECK_EQ(v, 0);
    CHECK_EQ(kv_watch(kv, "", 0, 0, 10, &v), KV_EINVAL);
    char big[100];
    memset(big, 'k', sizeof big);
    CHECK_EQ(kv_watch(kv, big, sizeof big, 0, 10, &v), KV_ETOOBIG);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Watcher processes blocked in kv_wait are all woken by one put from a
 * writer process; this process's own kv_wait is woken too. */
TEST(wait_woken_by_writer_process)
{
    enum { WAITERS = 3 };
    spawn_proc_t w[WAITERS], writer;
    kv_t *kv = util_fresh(store, "wake", 64, 32, 64);
    REQUIRE(kv);
    uint64_t g0 = generation(kv), g = 0;
    for (int i = 0; i < WAITERS; i++)
        REQUIRE_EQ(start_waiter(&w[i], g0, 10000), 0);
    spawn_sleep_ms(300); /* let them block (not needed for correctness) */
    REQUIRE_EQ(start(&writer, "put", store, "k", "v", "0"), 0);
    int64_t t0 = util_now_ms();
    CHECK_EQ(util_wait_code(&writer), 0);
    for (int i = 0; i < WAITERS; i++)
        CHECK_EQ(util_wait_code(&w[i]), 0);
    int64_t took = util_now_ms() - t0;
    printf("  %d watcher processes woken %lld ms after the writer started\n", WAITERS,
           (long long)took);
    CHECK(took < 3000);

    /* This process waits; a writer process puts 300 ms later. */
    g0 = generation(kv);
    REQUIRE_EQ(start(&writer, "put", store, "k", "w", "300"), 0);
    t0 = util_now_ms();
    CHECK_EQ(kv_wait(kv, g0, 10000, &g), 0);
    took = util_now_ms() - t0;
    CHECK(g > g0);
    CHECK(took >= 250 && took < 3000);
    CHECK_EQ(util_wait_code(&writer), 0);
    CHECK(has(kv, "k", "w"));
    util_dispose(kv, store);
    TEST_DONE();
}

/* kv_watch in a process ignores other keys, wakes on a write of its key and
 * on its deletion, and on its creation when watched absent. */
TEST(watch_key_processes)
{
    spawn_proc_t quiet, woken, gone, born;
    kv_t *kv = util_fresh(store, "watch", 64, 32, 64);
    char k[32];
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "1"), 0);
    uint64_t v = version_of(kv, "k");
    REQUIRE_EQ(start_watcher(&quiet, "k", v, 800), 0);
    REQUIRE_EQ(start_watcher(&woken, "k", v, 10000), 0);
    REQUIRE_EQ(start_watcher(&born, "later", 0, 10000), 0);
    for (int i = 0; i < 20; i++) { /* ~1 s of writes to other keys */
        snprintf(k, sizeof k, "other%d", i % 5);
        CHECK_EQ(util_put(kv, k, "noise"), 0);
        CHECK_EQ(kv_del(kv, "nope", 4), KV_ENOTFOUND);
        spawn_sleep_ms(50);
    }
    CHECK_EQ(util_wait_code(&quiet), 1); /* timed out: other keys did not wake it */
    int64_t t0 = util_now_ms();
    CHECK_EQ(util_put(kv, "k", "2"), 0);
    CHECK_EQ(util_wait_code(&woken), 0);
    CHECK(util_now_ms() - t0 < 2000);

    v = version_of(kv, "k");
    REQUIRE_EQ(start_watcher(&gone, "k", v, 10000), 0);
    spawn_sleep_ms(300);
    t0 = util_now_ms();
    CHECK_EQ(kv_del(kv, "k", 1), 0);
    CHECK_EQ(util_wait_code(&gone), 3); /* woken, key absent */
    CHECK(util_now_ms() - t0 < 2000);

    CHECK_EQ(util_put(kv, "later", "here"), 0);
    CHECK_EQ(util_wait_code(&born), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* kv_watch also wakes when the watched key expires (its version becomes 0),
 * although nothing writes to the store. */
TEST(watch_sees_expiry)
{
    kv_t *kv = util_fresh(store, "watchttl", 64, 32, 64);
    uint64_t v = 0;
    REQUIRE(kv);
    REQUIRE_EQ(put_ttl(kv, "k", "short", 200), 0);
    uint64_t cur = version_of(kv, "k");
    int64_t t0 = util_now_ms();
    int rc = kv_watch(kv, "k", 1, cur, 5000, &v);
    int64_t took = util_now_ms() - t0;
    printf("  kv_watch of a key with 200 ms to live returned %d after %lld ms\n", rc,
           (long long)took);
    CHECK_EQ(rc, 0);
    CHECK_EQ(v, 0);
    CHECK(took >= 150 && took < 2000);
    util_dispose(kv, store);
    TEST_DONE();
}

/* A watcher killed while it waits leaves nothing behind: no recovery, no
 * held lock, and later waits and writes work. */
TEST(killed_watcher_is_harmless)
{
    spawn_proc_t w1, w2, w3;
    spawn_status_t st;
    kv_t *kv = util_fresh(store, "killw", 64, 32, 64);
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "1"), 0);
    REQUIRE_EQ(start_waiter(&w1, generation(kv), 30000), 0);
    REQUIRE_EQ(start_watcher(&w2, "k", version_of(kv, "k"), 30000), 0);
    spawn_sleep_ms(300);
    CHECK_EQ(spawn_kill(&w1), 0);
    CHECK_EQ(spawn_kill(&w2), 0);
    CHECK_EQ(spawn_wait(&w1, &st), 0);
    CHECK(st.signaled);
    CHECK_EQ(spawn_wait(&w2, &st), 0);
    CHECK(st.signaled);

    CHECK_EQ(util_put(kv, "k", "2"), 0);
    CHECK(has(kv, "k", "2"));
    kv_stats_t s = stats_of(kv);
    CHECK_EQ(s.recoveries, 0);
    CHECK_EQ(s.holder_pid, 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);

    /* A new watcher process is woken as usual, and this process can wait. */
    REQUIRE_EQ(start_waiter(&w3, generation(kv), 10000), 0);
    spawn_sleep_ms(300);
    int64_t t0 = util_now_ms();
    CHECK_EQ(util_put(kv, "k", "3"), 0);
    CHECK_EQ(util_wait_code(&w3), 0);
    CHECK(util_now_ms() - t0 < 2000);
    uint64_t g = generation(kv);
    CHECK_EQ(kv_wait(kv, g, 100, NULL), KV_ETIMEDOUT);
    CHECK_EQ(util_put(kv, "k", "4"), 0);
    CHECK_EQ(kv_wait(kv, g, 1000, NULL), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(versions),
    TEST_ENTRY(compare_and_swap),
    TEST_ENTRY(incr_basic),
    TEST_ENTRY(incr_not_a_number),
    TEST_ENTRY(incr_overflow),
    TEST_ENTRY(incr_keeps_ttl),
    TEST_ENTRY(incr_processes),
    TEST_ENTRY(ttl_expires),
    TEST_ENTRY(ttl_cleared_or_replaced_by_put),
    TEST_ENTRY(ttl_purge_next_and_stats),
    TEST_ENTRY(ttl_room_reclaimed_when_full),
    TEST_ENTRY(cache_never_full),
    TEST_ENTRY(cache_capacity_boundary),
    TEST_ENTRY(cache_tiny_stays_full),
    TEST_ENTRY(cache_hit_rate),
    TEST_ENTRY(cache_keeps_touched_keys),
    TEST_ENTRY(cache_prefers_expired),
    TEST_ENTRY(generation_and_wait_in_process),
    TEST_ENTRY(wait_woken_by_writer_process),
    TEST_ENTRY(watch_key_processes),
    TEST_ENTRY(watch_sees_expiry),
    TEST_ENTRY(killed_watcher_is_harmless),
};

static const spawn_role_t roles[] = {
    { "incr", role_incr },
    { "put", role_put },
    { "wait", role_wait },
    { "watch", role_watch },
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
