/*
 * notify_test.c — change notification: kv_generation moves with every
 * change and never with a read or a failed write; kv_wait returns at once
 * when the generation moved already, else when a change comes or its
 * timeout passes (measured); kv_watch wakes for its key only — written,
 * deleted, created, or expired with nothing written at all; through a
 * read-only handle too, which polls.
 *
 * Watchers and writers are this binary re-executed in a role (spawn.h),
 * never fork()ed: watcher processes blocked in kv_wait/kv_watch that a
 * writer process must wake (their exit code says what they saw), and
 * watchers killed while they wait, which must leave nothing behind.  Waits
 * are a few hundred ms with generous slack on the upper side.
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

/* Parses a decimal uint64 argument. */
static uint64_t arg_u64(const char *s)
{
    return strtoull(s, NULL, 10);
}

/* ------------------------------------------------------------------------ */
/* Roles                                                                    */
/* ------------------------------------------------------------------------ */

/* "put STORE KEY VAL DELAY_MS": sleeps, then puts.  Exits 0 or 1. */
static int role_put(int argc, char **argv)
{
    kv_t *kv = argc == 5 ? util_role_open("put", argv[1]) : NULL;
    int rc;
    if (!kv)
        return 1;
    spawn_sleep_ms((unsigned)arg_u64(argv[4]));
    rc = util_put(kv, argv[2], argv[3]);
    kv_close(kv);
    return rc == 0 ? 0 : 1;
}

/* "wait STORE SEEN TIMEOUT_MS": kv_wait.  Exits 0 if woken with a
 * generation other than SEEN, 1 if the timeout passed with none, 2 on
 * anything else.  "wait-ro": the same through a read-only handle. */
static int wait_as(int argc, char **argv, kv_t *kv)
{
    uint64_t seen = argc == 4 ? arg_u64(argv[2]) : 0, g = seen;
    int rc;
    if (!kv || argc != 4)
        return 2;
    rc = kv_wait(kv, seen, (uint32_t)arg_u64(argv[3]), &g);
    kv_close(kv);
    if (rc != 0)
        return 2;
    return g != seen ? 0 : 1;
}

static int role_wait(int argc, char **argv)
{
    return wait_as(argc, argv, argc == 4 ? util_role_open("wait", argv[1]) : NULL);
}

static int role_wait_ro(int argc, char **argv)
{
    kv_t *kv = NULL;
    if (argc == 4 && kv_open(&kv, argv[1], 0, NULL) != 0)
        fprintf(stderr, "  wait-ro: cannot open %s read-only\n", argv[1]);
    return wait_as(argc, argv, kv);
}

/* "watch STORE KEY SEEN TIMEOUT_MS": kv_watch.  Exits 0 if woken and the key
 * is present at the version reported, 3 if woken and the key is absent
 * (version 0), 1 if the timeout passed with no change, 2 on anything
 * else. */
static int role_watch(int argc, char **argv)
{
    kv_t *kv = argc == 5 ? util_role_open("watch", argv[1]) : NULL;
    uint64_t seen = argc == 5 ? arg_u64(argv[3]) : 0, v = UINT64_MAX;
    int rc, code = 2;
    if (!kv)
        return 2;
    rc = kv_watch(kv, argv[2], strlen(argv[2]), seen, (uint32_t)arg_u64(argv[4]), &v);
    if (rc == 0 && v == seen)
        code = 1;
    else if (rc == 0 && v == 0)
        code = util_get_rc(kv, argv[2]) == KV_ENOTFOUND && seen != 0 ? 3 : 2;
    else if (rc == 0)
        code = util_version(kv, argv[2]) == v && v != seen ? 0 : 2;
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
/* Change notification                                                      */
/* ------------------------------------------------------------------------ */

TEST(generation_and_wait_in_process)
{
    kv_t *kv = util_fresh(store, "gen", 64, 32, 64);
    uint64_t g0, g = 0, g2 = 0;
    REQUIRE(kv);
    g0 = util_generation(kv);
    CHECK_EQ(kv_generation(NULL, &g), KV_EINVAL);
    CHECK_EQ(kv_wait(NULL, 0, 0, &g), KV_EINVAL);

    /* Each kind of change bumps it; reads and failed writes do not. */
    CHECK_EQ(util_put(kv, "a", "1"), 0);
    uint64_t g1 = util_generation(kv);
    CHECK(g1 > g0);
    CHECK_EQ(util_stats(kv).generation, g1);
    util_get_rc(kv, "a");
    CHECK_EQ(kv_put(kv, "a", 1, "2", 1, KV_NOREPLACE), KV_EEXIST);
    CHECK_EQ(kv_del(kv, "zz", 2), KV_ENOTFOUND);
    CHECK_EQ(util_generation(kv), g1);
    CHECK_EQ(kv_incr(kv, "n", 1, 1, NULL), 0);
    CHECK(util_generation(kv) > g1);
    g1 = util_generation(kv);
    CHECK_EQ(kv_del(kv, "n", 1), 0);
    CHECK(util_generation(kv) > g1);
    g1 = util_generation(kv);
    CHECK_EQ(kv_clear(kv), 0);
    CHECK(util_generation(kv) > g1);

    /* Already changed: returns at once with the current generation. */
    int64_t t0 = util_now_ms();
    CHECK_EQ(kv_wait(kv, g0, 5000, &g), 0);
    CHECK(util_now_ms() - t0 < 500);
    CHECK_EQ(g, util_generation(kv));
    CHECK_EQ(kv_wait(kv, g0, 0, NULL), 0);

    /* Nothing changes: 0 after about the timeout, with the generation
     * unchanged (KV_ETIMEDOUT is only for a lock not had in time). */
    t0 = util_now_ms();
    g2 = 0;
    CHECK_EQ(kv_wait(kv, g, 300, &g2), 0);
    int64_t took = util_now_ms() - t0;
    printf("  kv_wait(300 ms) timed out after %lld ms\n", (long long)took);
    CHECK(took >= 290 && took < 1500);
    CHECK_EQ(g2, g);
    t0 = util_now_ms();
    g2 = 0;
    CHECK_EQ(kv_wait(kv, g, 0, &g2), 0);
    CHECK_EQ(g2, g);
    CHECK(util_now_ms() - t0 < 100);

    /* kv_watch in process: changed already, unchanged, absent. */
    uint64_t v = 0, cur;
    CHECK_EQ(util_put(kv, "k", "1"), 0);
    cur = util_version(kv, "k");
    CHECK_EQ(kv_watch(kv, "k", 1, cur - 1, 1000, &v), 0);
    CHECK_EQ(v, cur);
    t0 = util_now_ms();
    v = 0;
    CHECK_EQ(kv_watch(kv, "k", 1, cur, 200, &v), 0); /* unchanged: *version == seen */
    CHECK(util_now_ms() - t0 >= 190);
    CHECK_EQ(v, cur);
    v = 7;
    CHECK_EQ(kv_watch(kv, "absent", 6, 0, 100, &v), 0);
    CHECK_EQ(v, 0);
    v = 0;
    t0 = util_now_ms();
    CHECK_EQ(kv_watch(kv, "k", 1, cur, 0, &v), 0); /* timeout 0: one read */
    CHECK(util_now_ms() - t0 < 100);
    CHECK_EQ(v, cur);
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
    uint64_t g0 = util_generation(kv), g = 0;
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
    g0 = util_generation(kv);
    REQUIRE_EQ(start(&writer, "put", store, "k", "w", "300"), 0);
    t0 = util_now_ms();
    CHECK_EQ(kv_wait(kv, g0, 10000, &g), 0);
    took = util_now_ms() - t0;
    CHECK(g > g0);
    CHECK(took >= 250 && took < 3000);
    CHECK_EQ(util_wait_code(&writer), 0);
    CHECK(util_has_str(kv, "k", "w"));
    util_dispose(kv, store);
    TEST_DONE();
}

/* Read-only handles wait by polling (they may not count themselves as
 * waiters): two read-only waiter processes and a counted one beside them
 * are all woken by one writer's put; in this process a read-only kv_wait
 * times out with nothing changed, and kv_wait and kv_watch see a writer
 * process's put within the poll. */
TEST(wait_read_only_processes)
{
    enum { READERS = 2 };
    spawn_proc_t ro[READERS], counted, writer;
    kv_t *kv = util_fresh(store, "waitro", 64, 32, 64), *rd = NULL;
    char s[32];
    REQUIRE(kv);
    uint64_t g0 = util_generation(kv), g = 0, v = 0;
    snprintf(s, sizeof s, "%llu", (unsigned long long)g0);
    for (int i = 0; i < READERS; i++)
        REQUIRE_EQ(start(&ro[i], "wait-ro", store, s, "10000", NULL), 0);
    REQUIRE_EQ(start_waiter(&counted, g0, 10000), 0);
    spawn_sleep_ms(300); /* let them block (not needed for correctness) */
    REQUIRE_EQ(start(&writer, "put", store, "k", "v", "0"), 0);
    int64_t t0 = util_now_ms();
    CHECK_EQ(util_wait_code(&writer), 0);
    for (int i = 0; i < READERS; i++)
        CHECK_EQ(util_wait_code(&ro[i]), 0);
    CHECK_EQ(util_wait_code(&counted), 0);
    int64_t took = util_now_ms() - t0;
    printf("  2 read-only and 1 counted waiter woken %lld ms after the writer started\n",
           (long long)took);
    CHECK(took < 3000);

    REQUIRE_EQ(kv_open(&rd, store, 0, NULL), 0);
    g0 = util_generation(rd);
    t0 = util_now_ms();
    CHECK_EQ(kv_wait(rd, g0, 200, &g), 0);
    took = util_now_ms() - t0;
    CHECK(g == g0 && took >= 190 && took < 3000);
    REQUIRE_EQ(start(&writer, "put", store, "k", "w", "300"), 0);
    t0 = util_now_ms();
    CHECK_EQ(kv_wait(rd, g0, 10000, &g), 0);
    took = util_now_ms() - t0;
    CHECK(g > g0 && took >= 250 && took < 3000);
    CHECK_EQ(util_wait_code(&writer), 0);
    uint64_t seen = util_version(rd, "k");
    REQUIRE_EQ(start(&writer, "put", store, "k", "x", "300"), 0);
    CHECK_EQ(kv_watch(rd, "k", 1, seen, 10000, &v), 0);
    CHECK(v != seen && v == util_version(rd, "k"));
    CHECK_EQ(util_wait_code(&writer), 0);
    CHECK(util_has_str(rd, "k", "x"));
    kv_close(rd);
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
    uint64_t v = util_version(kv, "k");
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

    v = util_version(kv, "k");
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
    REQUIRE_EQ(util_put_ttl(kv, "k", "short", 200), 0);
    uint64_t cur = util_version(kv, "k");
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
    REQUIRE_EQ(start_waiter(&w1, util_generation(kv), 30000), 0);
    REQUIRE_EQ(start_watcher(&w2, "k", util_version(kv, "k"), 30000), 0);
    spawn_sleep_ms(300);
    CHECK_EQ(spawn_kill(&w1), 0);
    CHECK_EQ(spawn_kill(&w2), 0);
    CHECK_EQ(spawn_wait(&w1, &st), 0);
    CHECK(st.signaled);
    CHECK_EQ(spawn_wait(&w2, &st), 0);
    CHECK(st.signaled);
    /* They left their words armed (kv_wait's and k's): one change wakes
     * and disarms both, and later changes wake no one. */
    kv_stats_t before = util_stats(kv);
    CHECK_EQ(before.waits_armed, 2);

    CHECK_EQ(util_put(kv, "k", "2"), 0);
    CHECK(util_has_str(kv, "k", "2"));
    kv_stats_t s = util_stats(kv);
    CHECK_EQ(s.waits_armed, 0);
    CHECK_EQ(s.wakeups, before.wakeups + 2);
    CHECK_EQ(util_put(kv, "k", "2b"), 0);
    CHECK_EQ(util_stats(kv).wakeups, s.wakeups);
    CHECK_EQ(s.recoveries, 0);
    CHECK_EQ(s.holder_pid, 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);

    /* A new watcher process is woken as usual, and this process can wait. */
    REQUIRE_EQ(start_waiter(&w3, util_generation(kv), 10000), 0);
    spawn_sleep_ms(300);
    int64_t t0 = util_now_ms();
    CHECK_EQ(util_put(kv, "k", "3"), 0);
    CHECK_EQ(util_wait_code(&w3), 0);
    CHECK(util_now_ms() - t0 < 2000);
    uint64_t g = util_generation(kv), now = 0;
    CHECK_EQ(kv_wait(kv, g, 100, &now), 0);
    CHECK_EQ(now, g); /* nothing changed */
    CHECK_EQ(util_put(kv, "k", "4"), 0);
    CHECK_EQ(kv_wait(kv, g, 1000, &now), 0);
    CHECK(now > g);
    util_dispose(kv, store);
    TEST_DONE();
}

/* A watcher of one key sleeps through changes to most other keys (only
 * those sharing its wait word, 1 in 30 by hash, wake it), still wakes for
 * its own, and its re-reads count as no hit or miss. */
TEST(watcher_wakes_for_its_word)
{
    enum { OTHERS = 600 };
    spawn_proc_t w;
    char k[32];
    kv_t *kv = util_fresh(store, "word", 2048, 32, 64);
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "watched", "0"), 0);
    REQUIRE_EQ(start_watcher(&w, "watched", util_version(kv, "watched"), 20000), 0);
    spawn_sleep_ms(300);
    uint64_t wakeups = util_stats(kv).wakeups;
    for (int i = 0; i < OTHERS; i++) {
        snprintf(k, sizeof k, "other-%d", i);
        CHECK_EQ(util_put(kv, k, "x"), 0);
    }
    /* Expected about OTHERS / 30; a wake per change would be OTHERS. */
    kv_stats_t s = util_stats(kv);
    CHECK(s.wakeups - wakeups < OTHERS / 4);
    int64_t t0 = util_now_ms();
    CHECK_EQ(util_put(kv, "watched", "1"), 0);
    CHECK_EQ(util_wait_code(&w), 0);
    CHECK(util_now_ms() - t0 < 2000);
    /* Two gets: this process's util_version and the watcher's check of
     * what it reports; its wake-ups' re-reads add none (the watcher's
     * handle folded its counts in at close). */
    s = util_stats(kv);
    CHECK_EQ(s.hits, 2);
    CHECK_EQ(s.misses, 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(generation_and_wait_in_process),
    TEST_ENTRY(wait_woken_by_writer_process),
    TEST_ENTRY(wait_read_only_processes),
    TEST_ENTRY(watch_key_processes),
    TEST_ENTRY(watch_sees_expiry),
    TEST_ENTRY(killed_watcher_is_harmless),
    TEST_ENTRY(watcher_wakes_for_its_word),
};

static const spawn_role_t roles[] = {
    { "put", role_put },
    { "wait", role_wait },
    { "wait-ro", role_wait_ro },
    { "watch", role_watch },
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
