/*
 * sys_kv.c — kv itself behind kvbench's system seam, through the public
 * API in kv.h only (what an application sees).  Stores are named memory,
 * created with key_max = --key-size and val_max = --value-size, so a slot
 * is exactly one key and one value.  Workers attach with kv_open() by name.
 * "kvcache" is the same store created with KV_CACHE (single process only).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "kv.h"

typedef struct kv_handle {
    kv_t *kv;
    char name[128];
} kv_handle_t;

/* Turns a kv error into BENCH_MISS or a recorded error. */
static int kv_result(int rc, const char *what)
{
    if (rc == 0)
        return BENCH_OK;
    if (rc == KV_ENOTFOUND)
        return BENCH_MISS;
    return bench_error("kv %s: %s", what, kv_strerror(rc));
}

static int kv_open_handle(void **h, const char *name, unsigned flags, const kv_options_t *opts)
{
    kv_handle_t *k = calloc(1, sizeof *k);
    int rc;
    if (!k)
        return bench_error("out of memory");
    snprintf(k->name, sizeof k->name, "%s", name);
    if ((rc = kv_open(&k->kv, name, flags, opts)) != 0) {
        free(k);
        return kv_result(rc, name);
    }
    *h = k;
    return 0;
}

static int create_store(void **h, const char *name, const bench_store_t *s,
                        const bench_opts_t *o, unsigned flags)
{
    kv_options_t opts;
    kv_options_init(&opts);
    opts.slots = s->slots;
    opts.key_max = o->key_size;
    opts.val_max = o->val_size;
    kv_unlink(name); /* a leftover of a killed run */
    return kv_open_handle(h, name, KV_CREATE | KV_EXCL | KV_RDWR | flags, &opts);
}

static int kvs_create(void **h, const char *name, const bench_store_t *s, const bench_opts_t *o)
{
    return create_store(h, name, s, o, 0);
}

/* The same store in cache mode: what a get's reference bit costs. */
static int kvc_create(void **h, const char *name, const bench_store_t *s, const bench_opts_t *o)
{
    return create_store(h, name, s, o, KV_CACHE);
}

static int kvs_attach(void **h, const char *name, const bench_opts_t *o)
{
    (void)o;
    return kv_open_handle(h, name, KV_RDWR, NULL);
}

static int kvs_get(void *h, const void *key, size_t klen, void *buf, size_t cap)
{
    size_t len;
    return kv_result(kv_get(((kv_handle_t *)h)->kv, key, klen, buf, cap, &len), "get");
}

static int kvs_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    return kv_result(kv_put(((kv_handle_t *)h)->kv, key, klen, val, vlen, 0), "put");
}

static int kvs_del(void *h, const void *key, size_t klen)
{
    return kv_result(kv_del(((kv_handle_t *)h)->kv, key, klen), "del");
}

static int kvs_clear(void *h)
{
    return kv_result(kv_clear(((kv_handle_t *)h)->kv), "clear");
}

static void kvs_close(void *h, int destroy)
{
    kv_handle_t *k = h;
    kv_close(k->kv);
    if (destroy)
        kv_unlink(k->name);
    free(k);
}

const bench_sys_t bench_sys_kv = {
    .name = "kv",
    .sections = BENCH_SEC_SINGLE | BENCH_SEC_PROCS | BENCH_SEC_YCSB,
    .create = kvs_create,
    .attach = kvs_attach,
    .get = kvs_get,
    .put = kvs_put,
    .del = kvs_del,
    .clear = kvs_clear,
    .close = kvs_close,
};

const bench_sys_t bench_sys_kv_cache = {
    .name = "kvcache",
    .sections = BENCH_SEC_SINGLE,
    .create = kvc_create,
    .attach = kvs_attach,
    .get = kvs_get,
    .put = kvs_put,
    .del = kvs_del,
    .clear = kvs_clear,
    .close = kvs_close,
};
