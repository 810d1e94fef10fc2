/*
 * kvbench.c — how long kv's operations take, in ns/op and ops/s.
 *
 * One process, one store in named memory, a fixed key set: keys of
 * --key-size bytes and values of --value-size bytes, accessed in a shuffled
 * order that is the same for every run (fixed seed).  Each workload runs
 * --reps times after one warm-up round and the median is reported:
 *   put insert     N new keys into an empty store
 *   get hit        N lookups of present keys
 *   get miss       N lookups of absent keys
 *   put overwrite  N replacements of present keys (same value size)
 *   delete         N deletions of present keys
 * A benchmark, not a test: it prints figures and never judges them.
 *
 *   kvbench [--keys N] [--slots N] [--key-size N] [--value-size N] [--reps N]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv.h"

typedef struct bench_config {
    unsigned keys, key_size, value_size, reps;
    uint64_t slots;
} bench_config_t;

typedef struct bench {
    bench_config_t cfg;
    kv_t *kv;
    char name[64];
    unsigned char *keys;   /* keys * key_size bytes: present keys */
    unsigned char *absent; /* keys * key_size bytes: keys never stored */
    unsigned char *value;  /* value_size bytes */
    unsigned char *buf;    /* value_size bytes for gets */
    unsigned *order;       /* shuffled 0..keys-1 */
} bench_t;

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */
/* ---------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Key i of a set: the set's tag, then i in decimal, padded to key_size. */
static void make_key(unsigned char *out, unsigned size, char tag, unsigned i)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%c%u", tag, i);
    memset(out, '.', size);
    memcpy(out, tmp, (size_t)n < size ? (size_t)n : size);
}

static int bench_setup(bench_t *b)
{
    const bench_config_t *c = &b->cfg;
    kv_options_t o;
    uint64_t seed = 42;
    b->keys = malloc((size_t)c->keys * c->key_size);
    b->absent = malloc((size_t)c->keys * c->key_size);
    b->value = malloc(c->value_size + 1);
    b->buf = malloc(c->value_size + 1);
    b->order = malloc(sizeof *b->order * c->keys);
    if (!b->keys || !b->absent || !b->value || !b->buf || !b->order)
        return KV_ENOMEM;
    for (unsigned i = 0; i < c->keys; i++) {
        make_key(b->keys + (size_t)i * c->key_size, c->key_size, 'k', i);
        make_key(b->absent + (size_t)i * c->key_size, c->key_size, 'm', i);
        b->order[i] = i;
    }
    for (unsigned i = c->keys; i > 1; i--) { /* Fisher-Yates with a fixed seed */
        unsigned j = (unsigned)(splitmix(&seed) % i), t = b->order[i - 1];
        b->order[i - 1] = b->order[j];
        b->order[j] = t;
    }
    memset(b->value, 'v', c->value_size);
    snprintf(b->name, sizeof b->name, "kvbench-%ld", (long)time(NULL));
    kv_options_init(&o);
    o.slots = c->slots;
    o.key_max = c->key_size;
    o.val_max = c->value_size;
    kv_unlink(b->name);
    return kv_open(&b->kv, b->name, KV_CREATE | KV_EXCL | KV_RDWR, &o);
}

static void bench_teardown(bench_t *b)
{
    kv_close(b->kv);
    kv_unlink(b->name);
    free(b->keys);
    free(b->absent);
    free(b->value);
    free(b->buf);
    free(b->order);
}

/* ---------------------------------------------------------------------- */
/* Workloads                                                               */
/* ---------------------------------------------------------------------- */

static const unsigned char *key_at(const bench_t *b, const unsigned char *set, unsigned i)
{
    return set + (size_t)b->order[i] * b->cfg.key_size;
}

static int run_insert(bench_t *b)
{
    int rc = kv_clear(b->kv);
    for (unsigned i = 0; i < b->cfg.keys && !rc; i++)
        rc = kv_put(b->kv, key_at(b, b->keys, i), b->cfg.key_size, b->value,
                    b->cfg.value_size, 0);
    return rc;
}

static int run_get(bench_t *b, const unsigned char *set, int expect)
{
    size_t len;
    for (unsigned i = 0; i < b->cfg.keys; i++) {
        int rc = kv_get(b->kv, key_at(b, set, i), b->cfg.key_size, b->buf,
                        b->cfg.value_size, &len);
        if (rc != expect)
            return rc ? rc : KV_EINVAL;
    }
    return 0;
}

static int run_get_hit(bench_t *b)  { return run_get(b, b->keys, 0); }
static int run_get_miss(bench_t *b) { return run_get(b, b->absent, KV_ENOTFOUND); }

static int run_overwrite(bench_t *b)
{
    int rc = 0;
    for (unsigned i = 0; i < b->cfg.keys && !rc; i++)
        rc = kv_put(b->kv, key_at(b, b->keys, i), b->cfg.key_size, b->value,
                    b->cfg.value_size, 0);
    return rc;
}

static int run_delete(bench_t *b)
{
    int rc = 0;
    for (unsigned i = 0; i < b->cfg.keys && !rc; i++)
        rc = kv_del(b->kv, key_at(b, b->keys, i), b->cfg.key_size);
    return rc;
}

typedef struct workload {
    const char *name;
    int (*run)(bench_t *b);
    int (*prepare)(bench_t *b); /* untimed, before each round */
} workload_t;

static const workload_t workloads[] = {
    { "put insert", run_insert, NULL },
    { "get hit", run_get_hit, NULL },
    { "get miss", run_get_miss, NULL },
    { "put overwrite", run_overwrite, NULL },
    { "delete", run_delete, run_insert },
};

/* ---------------------------------------------------------------------- */
/* Timing                                                                  */
/* ---------------------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs one workload reps+1 times (the first is warm-up); *ns gets the median
 * ns/op. */
static int measure(bench_t *b, const workload_t *w, double *ns)
{
    double t[64];
    unsigned reps = b->cfg.reps;
    for (unsigned r = 0; r <= reps; r++) {
        double start;
        int rc = w->prepare ? w->prepare(b) : 0;
        start = now_ns();
        if (!rc)
            rc = w->run(b);
        if (rc)
            return rc;
        if (r > 0)
            t[r - 1] = (now_ns() - start) / b->cfg.keys;
    }
    qsort(t, reps, sizeof t[0], cmp_double);
    *ns = t[reps / 2];
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Main                                                                    */
/* ---------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, bench_config_t *c)
{
    *c = (bench_config_t){ 10000, 16, 32, 5, 16384 };
    for (int i = 1; i + 1 < argc; i += 2) {
        unsigned long long v = strtoull(argv[i + 1], NULL, 0);
        if (!strcmp(argv[i], "--keys")) c->keys = (unsigned)v;
        else if (!strcmp(argv[i], "--slots")) c->slots = v;
        else if (!strcmp(argv[i], "--key-size")) c->key_size = (unsigned)v;
        else if (!strcmp(argv[i], "--value-size")) c->value_size = (unsigned)v;
        else if (!strcmp(argv[i], "--reps")) c->reps = (unsigned)v;
        else return -1;
    }
    if (argc % 2 == 0 || c->keys == 0 || c->key_size < 8 || c->reps == 0 || c->reps > 63)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    bench_t b = { 0 };
    int rc;
    if (parse_args(argc, argv, &b.cfg) != 0) {
        fprintf(stderr, "usage: kvbench [--keys N] [--slots N] [--key-size N>=8] "
                        "[--value-size N] [--reps 1..63]\n");
        return 2;
    }
    if ((rc = bench_setup(&b)) != 0) {
        fprintf(stderr, "kvbench: %s: %s\n", b.name, kv_strerror(rc));
        bench_teardown(&b);
        return 3;
    }
    printf("kv: %u keys in %llu slots, %u-byte keys, %u-byte values, median of %u\n",
           b.cfg.keys, (unsigned long long)b.cfg.slots, b.cfg.key_size, b.cfg.value_size,
           b.cfg.reps);
    printf("%-16s %10s %14s\n", "workload", "ns/op", "ops/s");
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0] && !rc; i++) {
        double ns;
        if ((rc = measure(&b, &workloads[i], &ns)) == 0)
            printf("%-16s %10.1f %14.0f\n", workloads[i].name, ns, 1e9 / ns);
    }
    if (rc)
        fprintf(stderr, "kvbench: %s: %s\n", b.name, kv_strerror(rc));
    bench_teardown(&b);
    return rc ? 3 : 0;
}
