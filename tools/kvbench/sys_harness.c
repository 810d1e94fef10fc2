/*
 * sys_harness.c — "harness": a system that stores nothing, so that its
 * figure is kvbench's own cost per operation: the batch call, the loop of
 * bench_run_ops(), key_gen() writing each key, and the timing, exactly as
 * every other system that runs through bench_run_ops() pays them.
 *
 * Its operations only make the compiler keep the work that feeds them: the
 * key (and the value pointer) must be in memory when the call is made, as
 * they are for a real store.  A get answers as a store holding exactly the
 * set's stored keys would: key numbers are 2i for stored keys and 2i+1 for
 * absent ones (keys.c), so the last hex digit says which.  Subtracting this
 * figure from kv's and the floor's gives the net figures the report prints
 * beside the raw ones.
 */
#include "bench.h"

/* Where handles point: the harness has no store. */
static char no_store;

/* Makes the compiler materialise p's bytes before this point, as a call
 * into a real store would; costs no instruction. */
static inline void consume(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

static int harness_create(void **h, const char *name, const bench_store_t *s,
                          uint32_t val_size, const bench_opts_t *o)
{
    (void)name, (void)s, (void)val_size, (void)o;
    *h = &no_store;
    return 0;
}

static int harness_attach(void **h, const char *name, const bench_opts_t *o)
{
    return harness_create(h, name, NULL, 0, o);
}

/* BENCH_OK for a stored key's number (even), BENCH_MISS for an absent one. */
static int harness_get(void *h, const void *key, size_t klen, void *buf, size_t cap)
{
    unsigned char last = ((const unsigned char *)key)[KEY_DIGITS]; /* after the 'k' */
    unsigned digit = last <= '9' ? last - '0' : last - 'a' + 10;
    (void)h, (void)klen, (void)buf, (void)cap;
    return digit & 1u ? BENCH_MISS : BENCH_OK;
}

static int harness_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)h, (void)klen, (void)vlen;
    consume(key);
    consume(val);
    return BENCH_OK;
}

static int harness_del(void *h, const void *key, size_t klen)
{
    (void)h, (void)klen;
    consume(key);
    return BENCH_OK;
}

static int harness_run(void *h, const bench_batch_t *b)
{
    return bench_run_ops(h, b, harness_get, harness_put, harness_del);
}

static int harness_clear(void *h)
{
    (void)h;
    return 0;
}

static void harness_close(void *h, int destroy)
{
    (void)h, (void)destroy;
}

const bench_sys_t bench_sys_harness = {
    .name = "harness",
    .sections = BENCH_SEC_SINGLE | BENCH_SEC_PROCS | BENCH_SEC_YCSB,
    .create = harness_create,
    .attach = harness_attach,
    .run = harness_run,
    .clear = harness_clear,
    .close = harness_close,
};
