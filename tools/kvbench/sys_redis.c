/*
 * sys_redis.c — Redis behind kvbench's system seam (optional: built when
 * CMake finds hiredis, which defines KVBENCH_HAVE_REDIS; run only when
 * --redis-port names a server, which tools/bench.sh starts on 127.0.0.1).
 *
 * One client connection over loopback TCP.  get/put are one GET/SET each,
 * unpipelined: every operation pays a round trip.  The batched forms send
 * 16 commands with redisAppendCommand, then read 16 replies (pipelined, not
 * transactional).  Only get hit and put overwrite run, on at most 100k
 * operations per repetition, so the run stays short.  A store is the
 * server's current database, emptied with FLUSHDB.
 *
 * For the memory workload the same server is given the budget with CONFIG
 * SET maxmemory, and maxmemory-policy noeviction (a write past the budget
 * is refused with an OOM error) or allkeys-lru (it evicts); closing
 * empties it and sets both back (no limit, noeviction).
 */
#include <stdio.h>

#include "bench.h"

#ifdef KVBENCH_HAVE_REDIS
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

static const char *redis_unavailable(const bench_opts_t *o)
{
    return o->redis_port ? NULL : "skipped (no server)";
}

/* Checks a reply; for a GET copies the value.  Frees the reply. */
static int redis_reply(redisContext *c, redisReply *r, void *buf, size_t cap)
{
    int rc = BENCH_OK;
    if (!r)
        return bench_error("redis: %s", c->errstr);
    if (r->type == REDIS_REPLY_ERROR)
        rc = bench_error("redis: %s", r->str);
    else if (r->type == REDIS_REPLY_NIL || (r->type == REDIS_REPLY_INTEGER && r->integer == 0))
        rc = BENCH_MISS;
    else if (r->type == REDIS_REPLY_STRING && buf)
        memcpy(buf, r->str, (size_t)r->len < cap ? (size_t)r->len : cap);
    freeReplyObject(r);
    return rc;
}

/* Connects to the server on 127.0.0.1:port and empties its database. */
static int redis_connect(void **h, int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        bench_error("redis: cannot connect to 127.0.0.1:%d: %s", port,
                    c ? c->errstr : "out of memory");
        redisFree(c);
        return BENCH_ERR;
    }
    *h = c;
    return redis_reply(c, redisCommand(c, "FLUSHDB"), NULL, 0);
}

static int redis_create(void **h, const char *name, const bench_store_t *s, uint32_t val_size,
                        const bench_opts_t *o)
{
    (void)name, (void)s, (void)val_size;
    return redis_connect(h, o->redis_port);
}

static int redis_get(void *h, const void *key, size_t klen, void *buf, size_t cap)
{
    return redis_reply(h, redisCommand(h, "GET %b", key, klen), buf, cap);
}

static int redis_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    return redis_reply(h, redisCommand(h, "SET %b %b", key, klen, val, vlen), NULL, 0);
}

static int redis_del(void *h, const void *key, size_t klen)
{
    return redis_reply(h, redisCommand(h, "DEL %b", key, klen), NULL, 0);
}

static int redis_clear(void *h)
{
    return redis_reply(h, redisCommand(h, "FLUSHDB"), NULL, 0);
}

/* Reads n pipelined replies; BENCH_MISS if any was a miss. */
static int redis_replies(redisContext *c, size_t n, void *buf, size_t cap)
{
    int rc = BENCH_OK;
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        int one = redisGetReply(c, &r) == REDIS_OK ? redis_reply(c, r, buf, cap)
                                                  : bench_error("redis: %s", c->errstr);
        if (one < 0)
            return one;
        rc = one ? one : rc;
    }
    return rc;
}

static int redis_put_batch(void *h, const unsigned char *const *keys, size_t n, size_t klen,
                           const void *val, size_t vlen)
{
    for (size_t i = 0; i < n; i++)
        redisAppendCommand(h, "SET %b %b", keys[i], klen, val, vlen);
    return redis_replies(h, n, NULL, 0);
}

static int redis_get_batch(void *h, const unsigned char *const *keys, size_t n, size_t klen,
                           void *buf, size_t cap)
{
    for (size_t i = 0; i < n; i++)
        redisAppendCommand(h, "GET %b", keys[i], klen);
    return redis_replies(h, n, buf, cap);
}

static int redis_run(void *h, const bench_batch_t *b)
{
    return bench_run_ops(h, b, redis_get, redis_put, redis_del);
}

static void redis_close(void *h, int destroy)
{
    if (destroy)
        redis_clear(h);
    redisFree(h);
}

/* Memory workload: the server's database under a budget. */

/* Writes the server's version ("7.0.15", or "?") into out[0..cap). */
static void redis_version(redisContext *c, char *out, size_t cap)
{
    redisReply *r = redisCommand(c, "INFO server");
    const char *v = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    snprintf(out, cap, "%.*s", v ? (int)strcspn(v + 14, "\r\n") : 1, v ? v + 14 : "?");
    if (r)
        freeReplyObject(r);
}

static int redism_open(void **h, uint64_t budget, uint32_t key_max, uint32_t val_max,
                       int evicting, const bench_opts_t *o, char *about, size_t cap)
{
    const char *policy = evicting ? "allkeys-lru" : "noeviction";
    char version[32];
    int rc;
    (void)key_max, (void)val_max;
    if (redis_connect(h, o->redis_port) != 0)
        return BENCH_ERR;
    redis_version(*h, version, sizeof version);
    rc = redis_reply(*h, redisCommand(*h, "CONFIG SET maxmemory %llu", (unsigned long long)budget),
                     NULL, 0);
    if (rc == 0)
        rc = redis_reply(*h, redisCommand(*h, "CONFIG SET maxmemory-policy %s", policy), NULL, 0);
    snprintf(about, cap, "redis %s, maxmemory %llu, maxmemory-policy %s", version,
             (unsigned long long)budget, policy);
    if (rc != 0) {
        redisFree(*h);
        *h = NULL;
    }
    return rc;
}

/* SET; an OOM error (noeviction, budget reached) is BENCH_FULL. */
static int redism_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    redisReply *r = redisCommand(h, "SET %b %b", key, klen, val, vlen);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "OOM", 3) == 0) {
        freeReplyObject(r);
        return BENCH_FULL;
    }
    return redis_reply(h, r, NULL, 0);
}

static int redism_get(void *h, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen)
{
    redisReply *r = redisCommand(h, "GET %b", key, klen);
    if (r && r->type == REDIS_REPLY_STRING)
        *vlen = (size_t)r->len;
    return redis_reply(h, r, buf, cap);
}

static void redism_close(void *h)
{
    redis_clear(h);
    redis_reply(h, redisCommand(h, "CONFIG SET maxmemory 0"), NULL, 0);
    redis_reply(h, redisCommand(h, "CONFIG SET maxmemory-policy noeviction"), NULL, 0);
    redisFree(h);
}
#else
static const char *redis_unavailable(const bench_opts_t *o)
{
    (void)o;
    return "not built (libhiredis-dev not installed)";
}
#endif

const bench_sys_t bench_sys_redis = {
    .name = "redis",
    .sections = BENCH_SEC_SINGLE,
    .skip = BENCH_W_GET_MISS | BENCH_W_INSERT | BENCH_W_DELETE,
    .max_ops = 100000,
    .batch = 16,
    .batch_label = "pipelined 16",
    .waits = 1,
    .unavailable = redis_unavailable,
#ifdef KVBENCH_HAVE_REDIS
    .create = redis_create,
    .run = redis_run,
    .clear = redis_clear,
    .put_batch = redis_put_batch,
    .get_batch = redis_get_batch,
    .close = redis_close,
#endif
};

const bench_mem_sys_t bench_mem_redis = {
    .name = "redis",
    .unavailable = redis_unavailable,
#ifdef KVBENCH_HAVE_REDIS
    .open = redism_open,
    .put = redism_put,
    .get = redism_get,
    .close = redism_close,
#endif
};
