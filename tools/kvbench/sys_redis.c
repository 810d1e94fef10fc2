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

static int redis_create(void **h, const char *name, const bench_store_t *s, const bench_opts_t *o)
{
    redisContext *c = redisConnect("127.0.0.1", o->redis_port);
    (void)name, (void)s;
    if (!c || c->err) {
        bench_error("redis: cannot connect to 127.0.0.1:%d: %s", o->redis_port,
                    c ? c->errstr : "out of memory");
        redisFree(c);
        return BENCH_ERR;
    }
    *h = c;
    return redis_reply(c, redisCommand(c, "FLUSHDB"), NULL, 0);
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

static void redis_close(void *h, int destroy)
{
    if (destroy)
        redis_clear(h);
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
    .unavailable = redis_unavailable,
#ifdef KVBENCH_HAVE_REDIS
    .create = redis_create,
    .get = redis_get,
    .put = redis_put,
    .del = redis_del,
    .clear = redis_clear,
    .put_batch = redis_put_batch,
    .get_batch = redis_get_batch,
    .close = redis_close,
#endif
};
