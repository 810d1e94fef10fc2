/*
 * sys_kv.c — kv itself behind kvbench's system seams, through the public
 * API in kv.h only (what an application sees).  Stores are named memory,
 * created with key_max = --key-size and val_max = the store's value size
 * and no budget, which gives every slot room for one entry of that size.
 * Workers attach with kv_open() by name.  "kv-opt" is the same store
 * opened with KV_OPTIMISTIC by the parent and by every worker, so its gets
 * read without the lock (its puts lock as kv's do); "kvcache" is the same
 * store created with KV_CACHE (single process only).  For the memory
 * workload a store is made for a budget in bytes (kv_options_t.memory),
 * with kv's default slot count for it ("kv") and with one slot per 2 KiB
 * ("kv-2k").
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

/* Creates the store `name` of `slots` slots (0: derived from the budget)
 * in `memory` bytes (0: kv's default), replacing a leftover of a killed
 * run. */
static int create_store(void **h, const char *name, uint64_t memory, uint64_t slots,
                        uint32_t key_max, uint32_t val_max, unsigned flags)
{
    kv_options_t opts;
    kv_options_init(&opts);
    opts.memory = memory;
    opts.slots = slots;
    opts.key_max = key_max;
    opts.val_max = val_max;
    kv_unlink(name);
    return kv_open_handle(h, name, KV_CREATE | KV_EXCL | KV_RDWR | flags, &opts);
}

static int kvs_create(void **h, const char *name, const bench_store_t *s, uint32_t val_size,
                      const bench_opts_t *o)
{
    return create_store(h, name, 0, s->slots, o->key_size, val_size, 0);
}

/* The same store in cache mode: what a get's reference bit costs. */
static int kvc_create(void **h, const char *name, const bench_store_t *s, uint32_t val_size,
                      const bench_opts_t *o)
{
    return create_store(h, name, 0, s->slots, o->key_size, val_size, KV_CACHE);
}

/* The same store, its handles reading without the lock. */
static int kvo_create(void **h, const char *name, const bench_store_t *s, uint32_t val_size,
                      const bench_opts_t *o)
{
    return create_store(h, name, 0, s->slots, o->key_size, val_size, KV_OPTIMISTIC);
}

static int kvs_attach(void **h, const char *name, const bench_opts_t *o)
{
    (void)o;
    return kv_open_handle(h, name, KV_RDWR, NULL);
}

static int kvo_attach(void **h, const char *name, const bench_opts_t *o)
{
    (void)o;
    return kv_open_handle(h, name, KV_RDWR | KV_OPTIMISTIC, NULL);
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

static int kvs_run(void *h, const bench_batch_t *b)
{
    return bench_run_ops(h, b, kvs_get, kvs_put, kvs_del);
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
    .run = kvs_run,
    .clear = kvs_clear,
    .close = kvs_close,
};

const bench_sys_t bench_sys_kv_opt = {
    .name = "kv-opt",
    .sections = BENCH_SEC_SINGLE | BENCH_SEC_PROCS | BENCH_SEC_YCSB,
    .create = kvo_create,
    .attach = kvo_attach,
    .run = kvs_run,
    .clear = kvs_clear,
    .close = kvs_close,
};

const bench_sys_t bench_sys_kv_cache = {
    .name = "kvcache",
    .sections = BENCH_SEC_SINGLE,
    .create = kvc_create,
    .attach = kvs_attach,
    .run = kvs_run,
    .clear = kvs_clear,
    .close = kvs_close,
};

/* ---------------------------------------------------------------------- */
/* Memory workload                                                         */
/* ---------------------------------------------------------------------- */

/* Opens the memory workload's store: the budget is the store's size
 * (kv_options_t.memory); `bytes_per_slot` 0 takes kv's default slot count
 * for it, else one slot per that many bytes of it. */
static int kvm_open_slots(void **h, uint64_t budget, uint32_t key_max, uint32_t val_max,
                          int evicting, uint64_t bytes_per_slot, char *about, size_t cap)
{
    char name[64];
    kv_info_t info;
    int rc;
    snprintf(name, sizeof name, "kvbench-%ld-memory", (long)getpid());
    rc = create_store(h, name, budget, bytes_per_slot ? budget / bytes_per_slot : 0, key_max,
                      val_max, evicting ? KV_CACHE : 0);
    if (rc != 0)
        return rc;
    kv_info(((kv_handle_t *)*h)->kv, &info);
    snprintf(about, cap, "%llu slots, key_max %u, val_max %u, store %.1f MiB",
             (unsigned long long)info.slots, info.key_max, info.val_max,
             (double)info.total_bytes / (1 << 20));
    return 0;
}

static int kvm_open(void **h, uint64_t budget, uint32_t key_max, uint32_t val_max, int evicting,
                    const bench_opts_t *o, char *about, size_t cap)
{
    (void)o;
    return kvm_open_slots(h, budget, key_max, val_max, evicting, 0, about, cap);
}

/* The same store with half the default slots (one per 2 KiB): the table
 * takes 1/16 of the budget instead of 1/8, for entries this big. */
static int kvm_open_2k(void **h, uint64_t budget, uint32_t key_max, uint32_t val_max,
                       int evicting, const bench_opts_t *o, char *about, size_t cap)
{
    (void)o;
    return kvm_open_slots(h, budget, key_max, val_max, evicting, 2048, about, cap);
}

static int kvm_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rc = kv_put(((kv_handle_t *)h)->kv, key, klen, val, vlen, 0);
    return rc == KV_EFULL || rc == KV_ENOROOM ? BENCH_FULL : kv_result(rc, "put");
}

static int kvm_get(void *h, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen)
{
    return kv_result(kv_get(((kv_handle_t *)h)->kv, key, klen, buf, cap, vlen), "get");
}

static void kvm_close(void *h)
{
    kvs_close(h, 1);
}

const bench_mem_sys_t bench_mem_kv = {
    .name = "kv",
    .open = kvm_open,
    .put = kvm_put,
    .get = kvm_get,
    .close = kvm_close,
};

const bench_mem_sys_t bench_mem_kv_2k = {
    .name = "kv-2k",
    .open = kvm_open_2k,
    .put = kvm_put,
    .get = kvm_get,
    .close = kvm_close,
};
