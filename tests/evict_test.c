/*
 * evict_test.c — KV_CACHE stores, which evict instead of filling up: a
 * cache keeps at most 7/8 of its slots used and never answers KV_EFULL
 * (a store that is not a cache does, and KV_CACHE when attaching changes
 * nothing); the boundary is exact, a delete makes room without an eviction,
 * kv_incr evicts like a put; a cache of fewer than 8 slots evicts in place;
 * entries that are read survive a stream of new keys (CLOCK) and expired
 * entries are taken before live ones.  How close CLOCK comes to an exact
 * LRU is lru_test.c's subject.
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

/* ------------------------------------------------------------------------ */
/* Cache stores                                                             */
/* ------------------------------------------------------------------------ */

TEST(cache_never_full)
{
    enum { SLOTS = 1024, KEYS = 20000, CAP = SLOTS * 7 / 8 };
    char name2[256], k[32], v[32], got[64];
    kv_t *kv = util_fresh_cache(store, SLOTS);
    unsigned errors = 0, over = 0;
    REQUIRE(kv);
    CHECK_EQ(util_stats(kv).cache, 1);
    for (unsigned i = 0; i < KEYS; i++) {
        snprintf(k, sizeof k, "key%u", i);
        snprintf(v, sizeof v, "val%u", i);
        int rc = util_put(kv, k, v);
        if (rc != 0 && errors++ < 3)
            fprintf(stderr, "  put %s: %s\n", k, kv_strerror(rc));
        if (i % 1000 == 999 && util_stats(kv).used > CAP)
            over++;
    }
    CHECK_EQ(errors, 0);
    CHECK_EQ(over, 0);
    kv_stats_t st = util_stats(kv);
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
    CHECK_EQ(util_stats(plain).cache, 0);
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
    CHECK_EQ(util_stats(plain).evictions, 0);
    util_dispose(plain, name2);

    /* KV_CACHE when attaching is ignored: the store's own mode applies. */
    kv_t *again = NULL;
    REQUIRE_EQ(kv_open(&again, store, KV_RDWR, NULL), 0);
    CHECK_EQ(util_stats(again).cache, 1);
    kv_close(again);
    kv_t *plain2 = util_fresh(name2, "plain", 64, 32, 32);
    REQUIRE(plain2);
    REQUIRE_EQ(kv_open(&again, name2, KV_RDWR | KV_CREATE | KV_CACHE, NULL), 0);
    CHECK_EQ(kv_created(again), 0);
    CHECK_EQ(util_stats(again).cache, 0);
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
    kv_t *kv = util_fresh_cache(store, SLOTS);
    REQUIRE(kv);
    REQUIRE_EQ(util_fill(kv, "f", CAP), 0);
    kv_stats_t st = util_stats(kv);
    CHECK_EQ(st.used, CAP);
    CHECK_EQ(st.evictions, 0);
    CHECK_EQ(util_verify(kv, "f", CAP), 0);
    /* Overwriting an existing key never evicts. */
    CHECK_EQ(util_put(kv, "f3", "overwritten"), 0);
    CHECK_EQ(util_stats(kv).evictions, 0);
    unsigned missing = 0;
    uint64_t max_used = 0;
    for (unsigned i = 0; i < MORE; i++) {
        snprintf(k, sizeof k, "more%u", i);
        CHECK_EQ(util_put(kv, k, "x"), 0);
        missing += util_get_rc(kv, k) != 0; /* the new key itself is never the victim */
        st = util_stats(kv);
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
    /* Deleting makes room again: the next insert that reaches the freed slot
     * within its window does not evict (the deleted key itself, here; a key
     * whose first free slot lies further on takes a victim in its window
     * instead, so that paths stay short, data.c). */
    uint64_t ev = util_stats(kv).evictions;
    CHECK_EQ(kv_del(kv, k, strlen(k)), 0); /* the last key inserted: still there */
    CHECK_EQ(util_put(kv, k, "y"), 0);
    CHECK_EQ(util_stats(kv).evictions, ev);
    /* kv_incr of a new key in a full cache evicts too, never KV_EFULL. */
    CHECK_EQ(kv_incr(kv, "ctr", 3, 1, NULL), 0);
    st = util_stats(kv);
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
        kv_t *kv = util_fresh_cache(store, slots);
        REQUIRE(kv);
        for (unsigned i = 0; i < KEYS; i++) {
            snprintf(k, sizeof k, "t%u", i);
            int rc = util_put(kv, k, "v");
            if (rc != 0 && errors++ < 3)
                fprintf(stderr, "  %u slots, put %s: %s\n", slots, k, kv_strerror(rc));
            CHECK_EQ(util_get_rc(kv, k), 0); /* the new key is never the victim */
        }
        CHECK_EQ(errors, 0);
        kv_stats_t st = util_stats(kv);
        CHECK_EQ(st.used, slots);
        CHECK_EQ(st.used + st.evictions, KEYS);
        unsigned present = 0;
        for (unsigned i = 0; i < KEYS; i++) {
            snprintf(k, sizeof k, "t%u", i);
            present += util_get_rc(kv, k) == 0;
        }
        CHECK_EQ(present, slots);
        /* A delete leaves a tombstone the next insert takes, no eviction. */
        CHECK_EQ(kv_del(kv, k, strlen(k)), 0);
        CHECK_EQ(util_put(kv, "after-del", "w"), 0);
        CHECK_EQ(util_stats(kv).evictions, st.evictions);
        /* kv_incr of a new key evicts in place too. */
        CHECK_EQ(kv_incr(kv, "ctr", 3, 5, NULL), 0);
        CHECK(util_has(kv, "ctr", 3, "5", 1));
        CHECK_EQ(util_stats(kv).used, slots);
        CHECK_EQ(kv_check(kv, NULL, 0), 0);
        util_dispose(kv, store);
    }
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
    kv_t *kv = util_fresh_cache(store, SLOTS);
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
    kv_t *kv = util_fresh_cache(store, SLOTS);
    REQUIRE(kv);
    for (unsigned i = 0; i < CAP; i++) {
        snprintf(k, sizeof k, "old%u", i);
        REQUIRE_EQ(util_put_ttl(kv, k, "old", 200), 0);
    }
    kv_stats_t st = util_stats(kv);
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
        kept += util_get_rc(kv, k) == 0;
    }
    st = util_stats(kv);
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

static const test_case_t tests[] = {
    TEST_ENTRY(cache_never_full),
    TEST_ENTRY(cache_capacity_boundary),
    TEST_ENTRY(cache_tiny_stays_full),
    TEST_ENTRY(cache_keeps_touched_keys),
    TEST_ENTRY(cache_prefers_expired),
};

int main(int argc, char **argv)
{
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
