/*
 * version_test.c — entry versions, compare-and-swap and counters: every
 * write gives its entry a version larger than any handed out before (the
 * store's generation after the write), a failed write changes neither;
 * KV_IF_VERSION puts and kv_del_if succeed only at the current version (0:
 * absent, expired included); kv_incr parses only canonical-enough decimal
 * int64 values, refuses to overflow in either direction, keeps a live
 * entry's time to live and counts exactly when several processes increment
 * one key at once (helper processes are this binary re-executed in the
 * "incr" role, spawn.h).  Crash points inside these operations are walked
 * in crash_test.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "spawn.h"
#include "test.h"
#include "util.h"

static char store[256]; /* the running case's store name */

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

/* ------------------------------------------------------------------------ */
/* Roles                                                                    */
/* ------------------------------------------------------------------------ */

/* "incr STORE KEY COUNT": COUNT kv_incr(+1) calls; every result must be
 * larger than the previous one.  Exits 0, or 1 on any error. */
static int role_incr(int argc, char **argv)
{
    kv_t *kv = argc == 4 ? util_role_open("incr", argv[1]) : NULL;
    uint64_t n = argc == 4 ? strtoull(argv[3], NULL, 10) : 0;
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
    CHECK_EQ(v1, util_generation(kv)); /* the store's generation after the write */
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
    CHECK_EQ(util_version(kv, "a"), v2);
    CHECK_EQ(util_put(kv, "a", "333"), 0);
    uint64_t v3 = util_version(kv, "a");
    CHECK(v3 > v2);
    CHECK_EQ(v3, util_generation(kv));
    CHECK_EQ(kv_incr(kv, "a", 1, 1, NULL), 0);
    uint64_t v4 = util_version(kv, "a");
    CHECK(v4 > v3);

    /* Writing another key leaves a's version alone. */
    o = (kv_put_opts_t){ 0, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "b", 1, "x", 1, &o), 0);
    CHECK(o.version > v4);
    CHECK_EQ(util_version(kv, "a"), v4);

    /* A failed write changes neither version nor generation. */
    uint64_t g = util_generation(kv);
    o = (kv_put_opts_t){ KV_NOREPLACE, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "a", 1, "no", 2, &o), KV_EEXIST);
    CHECK_EQ(util_version(kv, "a"), v4);
    CHECK_EQ(util_generation(kv), g);
    CHECK(util_has_str(kv, "a", "334"));
    o = (kv_put_opts_t){ 0x100u, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "a", 1, "no", 2, &o), KV_EINVAL);
    CHECK_EQ(util_generation(kv), g);

    /* Delete and re-insert: a version never handed out before. */
    uint64_t vb = util_version(kv, "b");
    CHECK_EQ(kv_del(kv, "b", 1), 0);
    CHECK_EQ(util_version(kv, "b"), 0);
    CHECK(util_generation(kv) > g);
    o = (kv_put_opts_t){ 0, 0, 0, 0 };
    CHECK_EQ(kv_put_ex(kv, "b", 1, "x", 1, &o), 0);
    CHECK(o.version > vb);
    CHECK(o.version > v4);
    CHECK_EQ(o.version, util_version(kv, "b"));

    /* opts may be NULL; a clear then a re-insert still moves forward. */
    CHECK_EQ(kv_put_ex(kv, "c", 1, "y", 1, NULL), 0);
    uint64_t vc = util_version(kv, "c");
    CHECK_EQ(kv_clear(kv), 0);
    CHECK_EQ(kv_put_ex(kv, "c", 1, "y", 1, NULL), 0);
    CHECK(util_version(kv, "c") > vc);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(compare_and_swap)
{
    kv_t *kv = util_fresh(store, "cas", 64, 32, 64);
    uint64_t v = 0, v2 = 0, g;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "one"), 0);
    v = util_version(kv, "k");
    REQUIRE(v > 0);

    /* The right version: written, new version reported. */
    CHECK_EQ(put_if(kv, "k", "two", v, &v2), 0);
    CHECK(v2 > v);
    CHECK_EQ(util_version(kv, "k"), v2);
    CHECK(util_has_str(kv, "k", "two"));

    /* A stale version (and a future one): KV_ECONFLICT, nothing changes. */
    g = util_generation(kv);
    CHECK_EQ(put_if(kv, "k", "three", v, NULL), KV_ECONFLICT);
    CHECK_EQ(put_if(kv, "k", "three", v2 + 1000, NULL), KV_ECONFLICT);
    CHECK(util_has_str(kv, "k", "two"));
    CHECK_EQ(util_version(kv, "k"), v2);
    CHECK_EQ(util_generation(kv), g);

    /* if_version 0: only when absent. */
    CHECK_EQ(put_if(kv, "k", "zero", 0, NULL), KV_ECONFLICT);
    CHECK(util_has_str(kv, "k", "two"));
    uint64_t vn = 0;
    CHECK_EQ(put_if(kv, "n", "new", 0, &vn), 0);
    CHECK(vn > v2);
    CHECK(util_has_str(kv, "n", "new"));
    CHECK_EQ(put_if(kv, "n", "again", 0, NULL), KV_ECONFLICT);
    CHECK(util_has_str(kv, "n", "new"));
    /* A nonzero version for an absent key conflicts and inserts nothing. */
    CHECK_EQ(put_if(kv, "z", "no", v2, NULL), KV_ECONFLICT);
    CHECK_EQ(util_get_rc(kv, "z"), KV_ENOTFOUND);
    CHECK_EQ(util_generation(kv), vn);

    /* CAS with a TTL sets the TTL. */
    kv_put_opts_t o = { KV_IF_VERSION, 60000, vn, 0 };
    CHECK_EQ(kv_put_ex(kv, "n", 1, "ttl", 3, &o), 0);
    int rc;
    int64_t t = util_ttl(kv, "n", &rc);
    CHECK_EQ(rc, 0);
    CHECK(t > 50000 && t <= 60000);

    /* kv_del_if: wrong version (and 0) conflicts, right one deletes,
     * absent is not found. */
    uint64_t vk = util_version(kv, "k");
    g = util_generation(kv);
    CHECK_EQ(kv_del_if(kv, "k", 1, vk - 1), KV_ECONFLICT);
    CHECK_EQ(kv_del_if(kv, "k", 1, 0), KV_ECONFLICT);
    CHECK(util_has_str(kv, "k", "two"));
    CHECK_EQ(util_generation(kv), g);
    CHECK_EQ(kv_del_if(kv, "k", 1, vk), 0);
    CHECK_EQ(util_get_rc(kv, "k"), KV_ENOTFOUND);
    CHECK(util_generation(kv) > g);
    CHECK_EQ(kv_del_if(kv, "k", 1, vk), KV_ENOTFOUND);
    CHECK_EQ(kv_del_if(kv, "never", 5, 1), KV_ENOTFOUND);

    /* An expired entry counts as absent for if_version 0. */
    CHECK_EQ(util_put_ttl(kv, "e", "old", 50), 0);
    spawn_sleep_ms(120);
    CHECK_EQ(put_if(kv, "e", "fresh", 0, NULL), 0);
    CHECK(util_has_str(kv, "e", "fresh"));
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Only the exact current version passes: a version newer than the entry's
 * (one that will be handed out, not one that was) conflicts for kv_del_if
 * as for a put, and so does the version of an entry that was deleted and
 * put again (the key's history is not its identity).  An expired entry is
 * absent to kv_del_if. */
TEST(cas_exact_version_only)
{
    kv_t *kv = util_fresh(store, "casx", 64, 32, 64);
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "one"), 0);
    uint64_t v = util_version(kv, "k"), g = util_generation(kv);
    REQUIRE(v > 0);
    CHECK_EQ(kv_del_if(kv, "k", 1, v + 1), KV_ECONFLICT);
    CHECK_EQ(kv_del_if(kv, "k", 1, UINT64_MAX), KV_ECONFLICT);
    CHECK_EQ(put_if(kv, "k", "newer", v + 1, NULL), KV_ECONFLICT);
    CHECK(util_has_str(kv, "k", "one"));
    CHECK_EQ(util_version(kv, "k"), v);
    CHECK_EQ(util_generation(kv), g);

    /* Deleted and put again: the old version names an entry that is gone. */
    CHECK_EQ(kv_del(kv, "k", 1), 0);
    CHECK_EQ(util_put(kv, "k", "two"), 0);
    uint64_t v2 = util_version(kv, "k");
    CHECK(v2 > v);
    CHECK_EQ(put_if(kv, "k", "stale", v, NULL), KV_ECONFLICT);
    CHECK_EQ(kv_del_if(kv, "k", 1, v), KV_ECONFLICT);
    CHECK(util_has_str(kv, "k", "two"));
    CHECK_EQ(kv_del_if(kv, "k", 1, v2), 0);
    CHECK_EQ(util_get_rc(kv, "k"), KV_ENOTFOUND);

    /* Expired: kv_del_if at its last version finds nothing to delete. */
    CHECK_EQ(util_put_ttl(kv, "e", "short", 50), 0);
    uint64_t ve = util_version(kv, "e");
    spawn_sleep_ms(120);
    CHECK_EQ(kv_del_if(kv, "e", 1, ve), KV_ENOTFOUND);
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
    CHECK(util_has_str(kv, "c", "5"));
    for (int i = 0; i < 10; i++)
        CHECK_EQ(kv_incr(kv, "c", 1, 1, &r), 0);
    CHECK_EQ(r, 15);
    CHECK(util_has_str(kv, "c", "15"));
    CHECK_EQ(kv_incr(kv, "c", 1, -20, &r), 0);
    CHECK_EQ(r, -5);
    CHECK(util_has_str(kv, "c", "-5"));
    CHECK_EQ(kv_incr(kv, "c", 1, 0, NULL), 0); /* result may be NULL */
    CHECK(util_has_str(kv, "c", "-5"));
    CHECK_EQ(kv_incr(kv, "d", 1, -7, &r), 0);
    CHECK_EQ(r, -7);
    CHECK(util_has_str(kv, "d", "-7"));
    /* Valid forms that are not canonical are read, and written back canonical. */
    CHECK_EQ(util_put(kv, "z", "007"), 0);
    CHECK_EQ(kv_incr(kv, "z", 1, 1, &r), 0);
    CHECK_EQ(r, 8);
    CHECK(util_has_str(kv, "z", "8"));
    CHECK_EQ(util_put(kv, "z", "-0"), 0);
    CHECK_EQ(kv_incr(kv, "z", 1, 1, &r), 0);
    CHECK_EQ(r, 1);
    CHECK(util_has_str(kv, "z", "1"));
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
        uint64_t v = util_version(kv, "n"), g = util_generation(kv);
        int rc = kv_incr(kv, "n", 1, 1, &r);
        if (rc != KV_ENOTNUM)
            fprintf(stderr, "  incr of \"%s\": %d (%s)\n", bad[i], rc, kv_strerror(rc));
        CHECK_EQ(rc, KV_ENOTNUM);
        CHECK(util_has_str(kv, "n", bad[i]));
        CHECK_EQ(util_version(kv, "n"), v);
        CHECK_EQ(util_generation(kv), g);
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
    uint64_t v = util_version(kv, "m");
    CHECK_EQ(kv_incr(kv, "m", 1, 1, &r), KV_EOVERFLOW);
    CHECK(util_has_str(kv, "m", "9223372036854775807"));
    CHECK_EQ(util_version(kv, "m"), v);
    CHECK_EQ(kv_incr(kv, "m", 1, INT64_MAX, &r), KV_EOVERFLOW);
    CHECK_EQ(kv_incr(kv, "m", 1, INT64_MIN, &r), 0);
    CHECK_EQ(r, -1);
    CHECK(util_has_str(kv, "m", "-1"));

    REQUIRE_EQ(util_put(kv, "n", "-9223372036854775807"), 0);
    CHECK_EQ(kv_incr(kv, "n", 1, -1, &r), 0);
    CHECK_EQ(r, INT64_MIN);
    CHECK(util_has_str(kv, "n", "-9223372036854775808"));
    CHECK_EQ(kv_incr(kv, "n", 1, -1, &r), KV_EOVERFLOW);
    CHECK(util_has_str(kv, "n", "-9223372036854775808"));
    CHECK_EQ(kv_incr(kv, "n", 1, INT64_MAX, &r), 0);
    CHECK_EQ(r, -1);

    /* Absent key with the extreme deltas. */
    CHECK_EQ(kv_incr(kv, "lo", 2, INT64_MIN, &r), 0);
    CHECK_EQ(r, INT64_MIN);
    CHECK(util_has_str(kv, "lo", "-9223372036854775808"));
    CHECK_EQ(kv_incr(kv, "hi", 2, INT64_MAX, &r), 0);
    CHECK(util_has_str(kv, "hi", "9223372036854775807"));

    /* 19 digits beyond int64_t: not a number or an overflow, never a write. */
    static const char *const huge[] = { "9999999999999999999", "-9223372036854775809",
                                        "9223372036854775808" };
    for (size_t i = 0; i < 3; i++) {
        REQUIRE_EQ(util_put(kv, "h", huge[i]), 0);
        int rc = kv_incr(kv, "h", 1, 0, &r);
        CHECK(rc == KV_ENOTNUM || rc == KV_EOVERFLOW);
        CHECK(util_has_str(kv, "h", huge[i]));
    }
    util_dispose(kv, store);

    /* A store whose values cannot hold 20 bytes: KV_ETOOBIG, nothing written. */
    kv = util_fresh(store, "ovf", 64, 32, 10);
    REQUIRE(kv);
    CHECK_EQ(kv_incr(kv, "c", 1, 1, &r), KV_ETOOBIG);
    CHECK_EQ(util_get_rc(kv, "c"), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

/* The int64 range reached by the counter itself rather than by a planted
 * string, and crossed by the delta rather than by +1/-1: kv_incr climbs to
 * INT64_MAX and to INT64_MIN, one step further either way is
 * KV_EOVERFLOW, and so is any delta that would carry a value past an end.
 * An overflow writes nothing. */
TEST(incr_overflow_at_the_ends)
{
    static const struct { const char *start; int64_t delta; } over[] = {
        { "1", INT64_MAX }, { "-2", INT64_MIN }, { "-1", INT64_MIN },
        { "4611686018427387904", 4611686018427387904 },    /* 2^62 + 2^62 */
        { "-4611686018427387905", -4611686018427387904 },  /* -(2^62 + 1) - 2^62 */
    };
    kv_t *kv = util_fresh(store, "ends", 64, 32, 64);
    int64_t r = 0;
    REQUIRE(kv);
    CHECK_EQ(kv_incr(kv, "max", 3, INT64_MAX - 1, &r), 0);
    CHECK_EQ(kv_incr(kv, "max", 3, 1, &r), 0);
    CHECK_EQ(r, INT64_MAX);
    CHECK_EQ(kv_incr(kv, "max", 3, 1, &r), KV_EOVERFLOW);      /* INT64_MAX + 1 */
    CHECK(util_has_str(kv, "max", "9223372036854775807"));
    CHECK_EQ(kv_incr(kv, "min", 3, INT64_MIN + 1, &r), 0);
    CHECK_EQ(kv_incr(kv, "min", 3, -1, &r), 0);
    CHECK_EQ(r, INT64_MIN);
    CHECK_EQ(kv_incr(kv, "min", 3, -1, &r), KV_EOVERFLOW);     /* INT64_MIN - 1 */
    CHECK(util_has_str(kv, "min", "-9223372036854775808"));
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        REQUIRE_EQ(util_put(kv, "d", over[i].start), 0);
        uint64_t v = util_version(kv, "d");
        r = 12345;
        CHECK_EQ(kv_incr(kv, "d", 1, over[i].delta, &r), KV_EOVERFLOW);
        CHECK_EQ(r, 12345); /* the result is left alone too */
        CHECK(util_has_str(kv, "d", over[i].start));
        CHECK_EQ(util_version(kv, "d"), v);
    }
    /* One short of either end is fine. */
    REQUIRE_EQ(util_put(kv, "d", "1"), 0);
    CHECK_EQ(kv_incr(kv, "d", 1, INT64_MAX - 1, &r), 0);
    CHECK_EQ(r, INT64_MAX);
    REQUIRE_EQ(util_put(kv, "d", "-1"), 0);
    CHECK_EQ(kv_incr(kv, "d", 1, INT64_MIN + 1, &r), 0);
    CHECK_EQ(r, INT64_MIN);
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
    REQUIRE_EQ(util_put_ttl(kv, "t", "10", 60000), 0);
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m0), KV_ERANGE);
    CHECK(m0.expires_ms != 0);
    CHECK_EQ(kv_incr(kv, "t", 1, 5, &r), 0);
    CHECK_EQ(r, 15);
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m1), KV_ERANGE);
    CHECK_EQ(m1.expires_ms, m0.expires_ms);
    CHECK(m1.version > m0.version);
    int64_t t = util_ttl(kv, "t", &rc);
    CHECK_EQ(rc, 0);
    CHECK(t > 50000 && t <= 60000);

    /* An expired counter is absent: incr starts again from 0, without TTL. */
    REQUIRE_EQ(util_put_ttl(kv, "e", "10", 100), 0);
    spawn_sleep_ms(200);
    CHECK_EQ(kv_incr(kv, "e", 1, 1, &r), 0);
    CHECK_EQ(r, 1);
    CHECK_EQ(util_ttl(kv, "e", &rc), -1);
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
    const char *args[] = { store, "counter", k, NULL };
    snprintf(k, sizeof k, "%u", (unsigned)K);
    for (int i = 0; i < N; i++)
        REQUIRE_EQ(spawn_role(&p[i], "incr", args, NULL), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(util_wait_code(&p[i]), 0);
    char want[32];
    snprintf(want, sizeof want, "%d", N * K);
    CHECK(util_has_str(kv, "counter", want));
    int64_t r = 0;
    CHECK_EQ(kv_incr(kv, "counter", 7, 0, &r), 0);
    CHECK_EQ(r, N * K);
    CHECK_EQ(util_stats(kv).recoveries, 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(versions),
    TEST_ENTRY(compare_and_swap),
    TEST_ENTRY(cas_exact_version_only),
    TEST_ENTRY(incr_basic),
    TEST_ENTRY(incr_not_a_number),
    TEST_ENTRY(incr_overflow),
    TEST_ENTRY(incr_overflow_at_the_ends),
    TEST_ENTRY(incr_keeps_ttl),
    TEST_ENTRY(incr_processes),
};

static const spawn_role_t roles[] = {
    { "incr", role_incr },
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
