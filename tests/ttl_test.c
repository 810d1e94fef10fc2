/*
 * ttl_test.c — time to live: an entry put with a TTL reads as absent once
 * the wall clock reaches its expiry (kv_get, kv_get_ex, kv_ttl, kv_del,
 * kv_next alike) and may be inserted again; a plain put or ttl_ms 0 clears
 * a TTL and a new one replaces it; kv_purge_expired, iteration and gets
 * reclaim expired entries and count them in kv_stats; a store that is not a
 * cache, full of expired entries, takes new inserts instead of KV_EFULL.
 *
 * TTLs are short (100-150 ms) and the sleeps after them twice as long, so
 * a loaded machine makes the run slower, not red.  The boundary itself, an
 * entry read in the very millisecond of its expiry, is tested without
 * sleeping: the expiry is written into the slot of a file-backed store
 * (layout.h says where), and only reads that started and ended within one
 * millisecond of kv's own clock count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "layout.h" /* where a slot's expires_ms is */
#include "os.h"     /* kv__os_clock_ms: the clock kv compares expiry times with */
#include "spawn.h"
#include "test.h"
#include "util.h"

static char store[256]; /* the running case's store name */

/* ------------------------------------------------------------------------ */
/* Time to live                                                             */
/* ------------------------------------------------------------------------ */

TEST(ttl_expires)
{
    kv_t *kv = util_fresh(store, "ttl", 64, 32, 64);
    kv_meta_t m = { 0, 0 };
    int rc;
    REQUIRE(kv);
    uint64_t before = util_wall_ms();
    REQUIRE_EQ(util_put_ttl(kv, "t", "short", 150), 0);
    REQUIRE_EQ(util_put(kv, "p", "forever"), 0);
    CHECK(util_has_str(kv, "t", "short"));
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m), KV_ERANGE);
    /* 20 ms of slack for a coarse clock */
    CHECK(m.expires_ms + 20 >= before + 150 && m.expires_ms <= util_wall_ms() + 150 + 20);
    int64_t t = util_ttl(kv, "t", &rc);
    CHECK_EQ(rc, 0);
    CHECK(t > 0 && t <= 150);
    CHECK_EQ(util_ttl(kv, "p", &rc), -1);
    CHECK_EQ(rc, 0);
    util_ttl(kv, "absent", &rc);
    CHECK_EQ(rc, KV_ENOTFOUND);
    CHECK_EQ(kv_get_ex(kv, "p", 1, NULL, 0, NULL, &m), KV_ERANGE);
    CHECK_EQ(m.expires_ms, 0);

    spawn_sleep_ms(300);
    CHECK_EQ(util_get_rc(kv, "t"), KV_ENOTFOUND);
    CHECK_EQ(kv_get_ex(kv, "t", 1, NULL, 0, NULL, &m), KV_ENOTFOUND);
    util_ttl(kv, "t", &rc);
    CHECK_EQ(rc, KV_ENOTFOUND);
    CHECK_EQ(kv_del(kv, "t", 1), KV_ENOTFOUND);
    CHECK(util_has_str(kv, "p", "forever"));
    /* An expired key may be inserted again, insert-only included. */
    CHECK_EQ(util_put_ttl(kv, "u", "short", 100), 0);
    spawn_sleep_ms(200);
    CHECK_EQ(kv_put(kv, "u", 1, "again", 5, KV_NOREPLACE), 0);
    CHECK(util_has_str(kv, "u", "again"));
    CHECK_EQ(util_ttl(kv, "u", &rc), -1);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(ttl_cleared_or_replaced_by_put)
{
    kv_t *kv = util_fresh(store, "ttlput", 64, 32, 64);
    int rc;
    REQUIRE(kv);
    REQUIRE_EQ(util_put_ttl(kv, "a", "1", 150), 0);
    REQUIRE_EQ(util_put(kv, "a", "plain put"), 0);       /* kv_put clears the TTL */
    CHECK_EQ(util_ttl(kv, "a", &rc), -1);
    REQUIRE_EQ(util_put_ttl(kv, "b", "1", 150), 0);
    REQUIRE_EQ(util_put_ttl(kv, "b", "ttl 0", 0), 0);         /* so does ttl_ms 0 */
    CHECK_EQ(util_ttl(kv, "b", &rc), -1);
    REQUIRE_EQ(util_put_ttl(kv, "c", "1", 150), 0);
    REQUIRE_EQ(util_put_ttl(kv, "c", "longer", 60000), 0);    /* a new TTL replaces it */
    CHECK(util_ttl(kv, "c", &rc) > 50000);
    REQUIRE_EQ(util_put(kv, "d", "no ttl"), 0);
    REQUIRE_EQ(util_put_ttl(kv, "d", "now short", 150), 0);   /* and can be added */
    spawn_sleep_ms(300);
    CHECK(util_has_str(kv, "a", "plain put"));
    CHECK(util_has_str(kv, "b", "ttl 0"));
    CHECK(util_has_str(kv, "c", "longer"));
    CHECK_EQ(util_get_rc(kv, "d"), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

/* The file offset of slot 0's expires_ms in the store file at `path` (a
 * one-slot store keeps its entry there), or -1. */
static long expiry_offset(const char *path)
{
    size_t len = 0;
    unsigned char *img = util_read_file(path, &len);
    long at = -1;
    if (img && len >= sizeof(kv_header_t)) {
        kv_header_t h;
        memcpy(&h, img, sizeof h);
        at = (long)h.header_size + (long)offsetof(kv_slot_t, expires_ms);
    }
    free(img);
    return at;
}

/* One probe of the expiry boundary: puts "k" with a TTL into the one-slot
 * store (so that it is one whose gets read expiries, kv_hints_t), makes
 * it expire `ahead` ms after kv's clock now (writing expires_ms through the
 * file `f` at `at`, which kv's mapping of it sees), and asks kv_get, or
 * kv_ttl into *ttl when ttl is not NULL; *rc gets the answer.  Returns 1 if
 * kv's clock showed the same millisecond before and after, so the answer is
 * about exactly that millisecond; 0 if it moved on meanwhile (try again); -1
 * on an error.  kv__os_clock_ms, not util_wall_ms: on Windows kv reads the
 * coarse system time, which may lag the precise one. */
static int probe_expiry(kv_t *kv, FILE *f, long at, uint64_t ahead, int64_t *ttl, int *rc)
{
    if (util_put_ttl(kv, "k", "v", 3600000) != 0) /* a TTL: gets read expiries */
        return -1;
    uint64_t now = kv__os_clock_ms(), expires = now + ahead;
    if (fseek(f, at, SEEK_SET) != 0 || fwrite(&expires, sizeof expires, 1, f) != 1 ||
        fflush(f) != 0)
        return -1;
    *rc = ttl ? kv_ttl(kv, "k", 1, ttl) : util_get_rc(kv, "k");
    return kv__os_clock_ms() == now;
}

/* Expired from the very millisecond its expiry names: read in that
 * millisecond, the entry is absent to kv_get and kv_ttl; read one
 * millisecond before it, it is live with 1 ms to go.  Each probe is tried
 * until WANT of its reads fell inside one millisecond. */
TEST(ttl_expires_at_its_millisecond)
{
    enum { WANT = 20, TRIES = 20000 };
    static const struct { uint64_t ahead; int ask_ttl; int rc; int64_t ttl; } probes[] = {
        { 0, 0, KV_ENOTFOUND, -2 }, /* expires_ms == now: gone */
        { 0, 1, KV_ENOTFOUND, -2 },
        { 1, 0, 0, -2 },            /* expires_ms == now + 1: still there */
        { 1, 1, 0, 1 },
    };
    char dir[512], path[600];
    kv_t *kv = NULL;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/expiry.kv", dir);
    REQUIRE_EQ(util_create(&kv, path, 1, 8, 8), 0);
    long at = expiry_offset(path);
    FILE *f = at > 0 ? fopen(path, "r+b") : NULL;
    CHECK(f != NULL);
    for (size_t p = 0; f && p < sizeof probes / sizeof probes[0]; p++) {
        unsigned got = 0, wrong = 0;
        for (unsigned t = 0; t < TRIES && got < WANT; t++) {
            int64_t ttl = -2;
            int rc = 0, one_ms = probe_expiry(kv, f, at, probes[p].ahead,
                                              probes[p].ask_ttl ? &ttl : NULL, &rc);
            REQUIRE(one_ms >= 0);
            got += (unsigned)one_ms;
            wrong += one_ms && (rc != probes[p].rc || ttl != probes[p].ttl);
        }
        if (wrong)
            fprintf(stderr, "  expiry now + %llu ms, %s: %u of %u reads wrong\n",
                    (unsigned long long)probes[p].ahead, probes[p].ask_ttl ? "kv_ttl" : "kv_get",
                    wrong, got);
        CHECK_EQ(got, WANT);
        CHECK_EQ(wrong, 0);
    }
    if (f)
        fclose(f);
    /* The expiry written behind kv's back is a stray write to a file store,
     * whose entries carry a check: kv_check finds it, and only it. */
    char report[512];
    CHECK_EQ(kv_check(kv, report, sizeof report), KV_ECORRUPT);
    CHECK(strstr(report, "entry check does not match") && !strchr(report, '\n')[1]);
    kv_close(kv);
    kv_unlink(path);
    util_rmdir(dir);
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
        REQUIRE_EQ(util_put_ttl(kv, k, "short-lived", 150), 0);
    }
    REQUIRE_EQ(util_fill(kv, "p", LONG), 0);
    CHECK_EQ(count_prefix(kv, "x", &total), SHORT);
    CHECK_EQ(total, SHORT + LONG);
    kv_stats_t s0 = util_stats(kv);
    CHECK_EQ(s0.expirations, 0);
    CHECK_EQ(kv_purge_expired(kv, &purged), 0); /* nothing expired yet */
    CHECK_EQ(purged, 0);

    spawn_sleep_ms(300);
    /* kv_next skips expired entries. */
    CHECK_EQ(count_prefix(kv, "x", &total), 0);
    CHECK_EQ(total, LONG);
    kv_stats_t s1 = util_stats(kv);
    CHECK_EQ(kv_purge_expired(kv, &purged), 0);
    kv_stats_t s2 = util_stats(kv);
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
    REQUIRE_EQ(util_put_ttl(kv, "e", "soon gone", 100), 0);
    spawn_sleep_ms(200);
    kv_stats_t s3 = util_stats(kv);
    CHECK_EQ(util_get_rc(kv, "e"), KV_ENOTFOUND);
    kv_stats_t s4 = util_stats(kv);
    CHECK_EQ(s4.misses, s3.misses + 1);
    CHECK_EQ(s4.expirations, s3.expirations + 1);
    CHECK_EQ(s4.used, s3.used - 1);
    /* hits and misses */
    CHECK_EQ(util_get_rc(kv, "p1"), 0);
    CHECK_EQ(util_get_rc(kv, "p2"), 0);
    CHECK_EQ(util_get_rc(kv, "nope"), KV_ENOTFOUND);
    kv_stats_t s5 = util_stats(kv);
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
    CHECK_EQ(util_stats(kv).cache, 0);
    while (n < 4 * SLOTS) {
        snprintf(k, sizeof k, "x%u", n);
        rc = util_put_ttl(kv, k, "v", 150);
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
    CHECK((long long)util_stats(kv).expirations >= (long long)n - (SLOTS - (long long)n));
    CHECK_EQ(util_stats(kv).evictions, 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(ttl_expires),
    TEST_ENTRY(ttl_expires_at_its_millisecond),
    TEST_ENTRY(ttl_cleared_or_replaced_by_put),
    TEST_ENTRY(ttl_purge_next_and_stats),
    TEST_ENTRY(ttl_room_reclaimed_when_full),
};

int main(int argc, char **argv)
{
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
