/*
 * sys_lmdb.c — LMDB behind kvbench's system seam (optional: built when CMake
 * finds liblmdb, which defines KVBENCH_HAVE_LMDB).
 *
 * The environment lives on tmpfs (/dev/shm/kvbench-lmdb-<pid>), opened with
 * MDB_NOSYNC | MDB_WRITEMAP | MDB_NOMETASYNC so that, like kv's named memory,
 * nothing waits for a disk.  A get is one read transaction, recycled with
 * mdb_txn_reset/mdb_txn_renew as LMDB recommends for short reads; a put or
 * a delete is one write transaction; the batched put is 1000 puts per
 * transaction.  LMDB times at most 200k operations per repetition.
 */
#include <stdio.h>

#include "bench.h"

#ifdef KVBENCH_HAVE_LMDB
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct lmdb_handle {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn; /* the recycled read transaction, kept reset */
    char dir[128];
} lmdb_handle_t;

static int lmdb_fail(int rc, const char *what)
{
    return bench_error("lmdb %s: %s", what, mdb_strerror(rc));
}

/* Removes the environment's files and directory, if any. */
static void lmdb_remove(const char *dir)
{
    char path[160];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

/* Opens the environment in l->dir with room for the store s. */
static int lmdb_env(lmdb_handle_t *l, const bench_store_t *s, uint32_t val_size,
                    const bench_opts_t *o)
{
    size_t map = (size_t)s->slots * (64u + o->key_size + val_size) * 4u;
    MDB_txn *txn;
    int rc;
    if ((rc = mdb_env_create(&l->env)) != 0)
        return lmdb_fail(rc, "mdb_env_create");
    if ((rc = mdb_env_set_mapsize(l->env, map < (64u << 20) ? 64u << 20 : map)) != 0 ||
        (rc = mdb_env_open(l->env, l->dir, MDB_NOSYNC | MDB_WRITEMAP | MDB_NOMETASYNC, 0600)) != 0)
        return lmdb_fail(rc, "mdb_env_open");
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, NULL, 0, &l->dbi)) != 0 || (rc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(rc, "mdb_dbi_open");
    if ((rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn)) != 0)
        return lmdb_fail(rc, "mdb_txn_begin");
    mdb_txn_reset(l->rtxn);
    return 0;
}

static void lmdb_close(void *h, int destroy)
{
    lmdb_handle_t *l = h;
    if (l->rtxn)
        mdb_txn_abort(l->rtxn);
    if (l->env)
        mdb_env_close(l->env);
    if (destroy)
        lmdb_remove(l->dir);
    free(l);
}

static int lmdb_create(void **h, const char *name, const bench_store_t *s, uint32_t val_size,
                       const bench_opts_t *o)
{
    lmdb_handle_t *l = calloc(1, sizeof *l);
    (void)name;
    if (!l)
        return bench_error("out of memory");
    snprintf(l->dir, sizeof l->dir, "/dev/shm/kvbench-lmdb-%ld", (long)getpid());
    lmdb_remove(l->dir);
    if (mkdir(l->dir, 0700) != 0) {
        bench_error("lmdb: cannot make %s", l->dir);
        free(l);
        return BENCH_ERR;
    }
    if (lmdb_env(l, s, val_size, o) != 0) {
        lmdb_close(l, 1);
        return BENCH_ERR;
    }
    *h = l;
    return 0;
}

static int lmdb_get(void *h, const void *key, size_t klen, void *buf, size_t cap)
{
    lmdb_handle_t *l = h;
    MDB_val k = { klen, (void *)key }, v;
    int rc = mdb_txn_renew(l->rtxn);
    if (rc != 0)
        return lmdb_fail(rc, "mdb_txn_renew");
    rc = mdb_get(l->rtxn, l->dbi, &k, &v);
    if (rc == 0)
        memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
    mdb_txn_reset(l->rtxn);
    return rc == 0 ? BENCH_OK : rc == MDB_NOTFOUND ? BENCH_MISS : lmdb_fail(rc, "mdb_get");
}

/* n puts of one value in one write transaction. */
static int lmdb_put_batch(void *h, const unsigned char *const *keys, size_t n, size_t klen,
                          const void *val, size_t vlen)
{
    lmdb_handle_t *l = h;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    for (size_t i = 0; i < n && rc == 0; i++) {
        MDB_val k = { klen, (void *)keys[i] }, v = { vlen, (void *)val };
        rc = mdb_put(txn, l->dbi, &k, &v, 0);
    }
    if (rc == 0)
        return (rc = mdb_txn_commit(txn)) == 0 ? BENCH_OK : lmdb_fail(rc, "mdb_txn_commit");
    if (txn)
        mdb_txn_abort(txn);
    return lmdb_fail(rc, "mdb_put");
}

static int lmdb_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    const unsigned char *keys[1] = { key };
    return lmdb_put_batch(h, keys, 1, klen, val, vlen);
}

/* One write transaction deleting `key`, or (key NULL) every entry. */
static int lmdb_remove_keys(void *h, const void *key, size_t klen)
{
    lmdb_handle_t *l = h;
    MDB_val k = { klen, (void *)key };
    MDB_txn *txn;
    int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_fail(rc, "mdb_txn_begin");
    if ((rc = key ? mdb_del(txn, l->dbi, &k, NULL) : mdb_drop(txn, l->dbi, 0)) != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? BENCH_MISS : lmdb_fail(rc, key ? "mdb_del" : "mdb_drop");
    }
    return (rc = mdb_txn_commit(txn)) == 0 ? BENCH_OK : lmdb_fail(rc, "mdb_txn_commit");
}

static int lmdb_del(void *h, const void *key, size_t klen)
{
    return lmdb_remove_keys(h, key, klen);
}

static int lmdb_clear(void *h)
{
    return lmdb_remove_keys(h, NULL, 0);
}

static int lmdb_run(void *h, const bench_batch_t *b)
{
    return bench_run_ops(h, b, lmdb_get, lmdb_put, lmdb_del);
}

#define LMDB_UNAVAILABLE NULL
#else
static const char *lmdb_unavailable(const bench_opts_t *o)
{
    (void)o;
    return "not built (liblmdb-dev not installed)";
}
#define LMDB_UNAVAILABLE lmdb_unavailable
#endif

const bench_sys_t bench_sys_lmdb = {
    .name = "lmdb",
    .sections = BENCH_SEC_SINGLE | BENCH_SEC_YCSB,
    .max_ops = 200000,
    .batch = 1000,
    .batch_label = "1000/txn",
    .unavailable = LMDB_UNAVAILABLE,
#ifdef KVBENCH_HAVE_LMDB
    .create = lmdb_create,
    .run = lmdb_run,
    .clear = lmdb_clear,
    .put_batch = lmdb_put_batch,
    .close = lmdb_close,
#endif
};
