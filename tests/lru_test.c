/*
 * lru_test.c — how well a KV_CACHE store's CLOCK eviction keeps what is
 * used: one trace of key ids (a zipfian, then a hot set mixed with a scan)
 * is replayed against a fresh cache store as "get, and put on a miss", and
 * against an exact LRU of the same capacity simulated here; the store's hit
 * rate must be at least 80% of the LRU's, and its hit and miss counters
 * must agree with what the replay saw.  Both rates are printed.  The traces
 * are drawn from the run's seed (KV_TEST_SEED).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "test.h"
#include "util.h"

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
    kv_t *kv = util_fresh_cache(name, slots);
    lru_t l;
    size_t hits = 0, lru_hits = 0, errors = 0;
    if (!kv || lru_init(&l, n, (unsigned)(slots * 7 / 8)) != 0)
        return -1;
    kv_stats_t s0 = util_stats(kv);
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
    kv_stats_t s1 = util_stats(kv);
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
    REQUIRE_EQ(trace_zipf(trace, LEN, KEYS, test_rng("zipf")), 0);
    kv_rate = replay(trace, LEN, KEYS, SLOTS, &lru_rate);
    printf("  hit rate, zipfian s=1 over %u keys: kv cache %.3f, true LRU %.3f\n",
           (unsigned)KEYS, kv_rate, lru_rate);
    CHECK(kv_rate >= 0.8 * lru_rate);

    trace_hot_scan(trace, LEN, KEYS, 600, 0.75, test_rng("hot-scan"));
    kv_rate = replay(trace, LEN, KEYS, SLOTS, &lru_rate);
    printf("  hit rate, 600 hot keys (75%%) + scan over %u: kv cache %.3f, true LRU %.3f\n",
           (unsigned)KEYS - 600, kv_rate, lru_rate);
    CHECK(kv_rate >= 0.8 * lru_rate);
    free(trace);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(cache_hit_rate),
};

int main(int argc, char **argv)
{
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
