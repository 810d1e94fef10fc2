/*
 * keys.c — the inputs every system gets alike: the key set, the access
 * order, the values, the random generator and the operation sequences (90/10
 * uniform for the processes, YCSB's zipfian).
 *
 * Everything is a pure function of the sizes and fixed seeds, so each system
 * (and each worker process, which makes its own inputs) sees exactly the
 * same bytes in the same order.  Keys are not stored: key_gen() (bench.h)
 * writes key i into a keys_buffer() slot when an operation needs it; what
 * workloads store is key numbers (the order, the sequences).  Key i
 * is 'k', then 2i (stored) or 2i+1 (absent) as 8 lowercase hex digits, then
 * filler bytes up to --key-size, so absent keys sort among the stored ones
 * (an ordered store such as LMDB must not find all its misses in one cached
 * corner of its tree).  Sequences are made before timing starts: the
 * zipfian generator costs two pow() calls per draw, as much as a kv get,
 * and even a uniform draw is a multiply or two the timed loop need not pay.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define KEY_SEED  UINT64_C(42)
#define ZIPF_THETA 0.99 /* YCSB's default zipfian constant */

uint64_t bench_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

double bench_rand_unit(uint64_t *state)
{
    return (double)(bench_rand(state) >> 11) * 0x1.0p-53;
}

/* The clock's time in nanoseconds. */
static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t bench_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* ---------------------------------------------------------------------- */
/* Key set                                                                 */
/* ---------------------------------------------------------------------- */

/* Fisher-Yates over 0..count-1 with the fixed seed. */
static void shuffle(uint32_t *order, uint32_t count)
{
    uint64_t seed = KEY_SEED;
    for (uint32_t i = 0; i < count; i++)
        order[i] = i;
    for (uint32_t i = count; i > 1; i--) {
        uint32_t j = (uint32_t)(bench_rand(&seed) % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

int keys_make(bench_keys_t *k, uint32_t count, uint32_t key_size, uint32_t val_size)
{
    memset(k, 0, sizeof *k);
    k->count = count;
    k->key_size = key_size;
    k->val_size = val_size;
    k->val[0] = malloc(val_size + 1u);
    k->val[1] = malloc(val_size + 1u);
    k->buf = malloc(val_size + 1u);
    k->order = malloc(sizeof *k->order * count);
    if (key_size < KEY_SIZE_MIN)
        return bench_error("keys must be at least %d bytes", KEY_SIZE_MIN);
    if (!k->val[0] || !k->val[1] || !k->buf || !k->order)
        return bench_error("out of memory for %u keys", count);
    shuffle(k->order, count);
    memset(k->val[0], 'v', val_size);
    memset(k->val[1], 'w', val_size);
    return 0;
}

void keys_free(bench_keys_t *k)
{
    free(k->order);
    free(k->val[0]);
    free(k->val[1]);
    free(k->buf);
    memset(k, 0, sizeof *k);
}

unsigned char *keys_buffer(const bench_keys_t *k, uint32_t n)
{
    unsigned char *b = malloc((size_t)n * k->key_size);
    for (size_t j = 0; b && j < n; j++) {
        unsigned char *key = b + j * k->key_size;
        key[0] = 'k';
        for (uint32_t at = 1 + KEY_DIGITS; at < k->key_size; at++)
            key[at] = (unsigned char)('a' + at % 26);
        key_gen(key, 0, 0);
    }
    return b;
}

/* ---------------------------------------------------------------------- */
/* Operation sequences: uniform, or zipfian (Gray et al., "Quickly        */
/* generating billion-record synthetic databases", 1994) scrambled as     */
/* YCSB's ScrambledZipfian                                                */
/* ---------------------------------------------------------------------- */

typedef struct zipf {
    double n, theta, alpha, zetan, eta, half_pow;
} zipf_t;

static double zeta(uint64_t n, double theta)
{
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

static void zipf_init(zipf_t *z, uint64_t n, double theta)
{
    z->n = (double)n;
    z->theta = theta;
    z->alpha = 1.0 / (1.0 - theta);
    z->zetan = zeta(n, theta);
    z->eta = (1.0 - pow(2.0 / z->n, 1.0 - theta)) / (1.0 - zeta(2, theta) / z->zetan);
    z->half_pow = 1.0 + pow(0.5, theta);
}

/* A rank in [0, n): rank 0 is the most popular. */
static uint64_t zipf_next(const zipf_t *z, uint64_t *rng)
{
    double u = bench_rand_unit(rng);
    double uz = u * z->zetan;
    uint64_t r;
    if (uz < 1.0)
        return 0;
    if (uz < z->half_pow)
        return 1;
    r = (uint64_t)(z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
    return r < (uint64_t)z->n ? r : (uint64_t)z->n - 1;
}

/* YCSB's fnvhash64 of a long: spreads the popular ranks over the keys. */
static uint64_t fnv64(uint64_t v)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < 8; i++, v >>= 8)
        h = (h ^ (v & 0xff)) * UINT64_C(1099511628211);
    return h;
}

int mix_make(uint32_t **seq, uint64_t ops, uint32_t records, unsigned update_pct, int zipfian,
             uint64_t seed)
{
    zipf_t z = { 0 };
    uint64_t rng = seed;
    uint32_t *s = malloc(sizeof *s * ops);
    if (!s)
        return bench_error("out of memory for %llu operations", (unsigned long long)ops);
    if (zipfian)
        zipf_init(&z, records, ZIPF_THETA);
    for (uint64_t i = 0; i < ops; i++) {
        uint32_t rec = zipfian ? (uint32_t)(fnv64(zipf_next(&z, &rng)) % records)
                               : (uint32_t)(((bench_rand(&rng) >> 32) * records) >> 32);
        int update = bench_rand(&rng) % 100 < update_pct;
        s[i] = rec | (update ? BENCH_IDX_PUT : 0u);
    }
    *seq = s;
    return 0;
}
