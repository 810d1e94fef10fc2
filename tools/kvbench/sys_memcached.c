/*
 * sys_memcached.c — memcached behind the memory workload's seam (optional:
 * built when CMake finds libmemcached, which defines KVBENCH_HAVE_MEMCACHED;
 * run only when the ports name servers, which tools/bench.sh starts on
 * 127.0.0.1 with -m 64).
 *
 * One client (libmemcached, text protocol) per store, one round trip per
 * operation.  memcached's -M is a start-up flag, so the two kinds of store
 * are two servers: --memcached-port, started with -M, answers a set it has
 * no room for with "SERVER_ERROR out of memory" (BENCH_FULL); the server
 * at --memcached-lru-port evicts.  Opening one checks, with "stats
 * settings", that its memory limit is the budget and that it evicts or
 * refuses as asked, and empties it (flush_all).
 */
#include <stdio.h>

#include "bench.h"

#ifdef KVBENCH_HAVE_MEMCACHED
#include <libmemcached/memcached.h>
#include <stdlib.h>
#include <string.h>

static const char *memcached_unavailable(const bench_opts_t *o)
{
    return o->memcached_port && o->memcached_lru_port ? NULL : "skipped (no servers)";
}

static int mc_fail(memcached_st *mc, memcached_return_t rc, const char *what)
{
    return bench_error("memcached %s: %s", what, memcached_strerror(mc, rc));
}

/* What "stats" and "stats settings" say that the workload checks. */
typedef struct mc_settings {
    char version[32];
    unsigned long long maxbytes;
    int evictions; /* 1: evicts when full; 0: refuses (-M) */
} mc_settings_t;

static memcached_return_t mc_stat(const memcached_instance_st *server, const char *key,
                                  size_t klen, const char *value, size_t vlen, void *context)
{
    mc_settings_t *s = context;
    (void)server;
    if (klen == 7 && memcmp(key, "version", 7) == 0)
        snprintf(s->version, sizeof s->version, "%.*s", (int)vlen, value);
    else if (klen == 8 && memcmp(key, "maxbytes", 8) == 0)
        s->maxbytes = strtoull(value, NULL, 10);
    else if (klen == 9 && memcmp(key, "evictions", 9) == 0)
        s->evictions = vlen == 2 && memcmp(value, "on", 2) == 0;
    return MEMCACHED_SUCCESS;
}

/* Checks the server's limit and eviction setting against what is asked. */
static int mc_check(memcached_st *mc, uint64_t budget, int evicting, char *about, size_t cap)
{
    mc_settings_t s = { "?", 0, -1 };
    memcached_return_t rc = memcached_stat_execute(mc, NULL, mc_stat, &s);
    if (rc == MEMCACHED_SUCCESS)
        rc = memcached_stat_execute(mc, "settings", mc_stat, &s);
    if (rc != MEMCACHED_SUCCESS)
        return mc_fail(mc, rc, "stats");
    snprintf(about, cap, "memcached %s, -m %llu MiB, evictions %s", s.version,
             s.maxbytes >> 20, s.evictions ? "on" : "off (-M)");
    if (s.maxbytes != budget || s.evictions != evicting)
        return bench_error("memcached: the server has maxbytes %llu and evictions %s; the "
                           "workload needs %llu and %s",
                           s.maxbytes, s.evictions ? "on" : "off", (unsigned long long)budget,
                           evicting ? "on" : "off");
    return 0;
}

static int mc_open(void **h, uint64_t budget, uint32_t key_max, uint32_t val_max, int evicting,
                   const bench_opts_t *o, char *about, size_t cap)
{
    memcached_st *mc = memcached_create(NULL);
    int port = evicting ? o->memcached_lru_port : o->memcached_port;
    memcached_return_t rc;
    (void)key_max, (void)val_max;
    if (!mc)
        return bench_error("memcached: out of memory");
    rc = memcached_server_add(mc, "127.0.0.1", (in_port_t)port);
    if (rc == MEMCACHED_SUCCESS && mc_check(mc, budget, evicting, about, cap) != 0) {
        memcached_free(mc);
        return BENCH_ERR;
    }
    if (rc == MEMCACHED_SUCCESS)
        rc = memcached_flush(mc, 0);
    if (rc != MEMCACHED_SUCCESS) {
        mc_fail(mc, rc, "connect");
        memcached_free(mc);
        return BENCH_ERR;
    }
    *h = mc;
    return 0;
}

static int mc_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    memcached_return_t rc = memcached_set(h, key, klen, val, vlen, 0, 0);
    if (rc == MEMCACHED_SUCCESS)
        return BENCH_OK;
    return rc == MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE ? BENCH_FULL
                                                            : mc_fail(h, rc, "set");
}

static int mc_get(void *h, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen)
{
    uint32_t flags;
    memcached_return_t rc;
    char *v = memcached_get(h, key, klen, vlen, &flags, &rc);
    if (v) {
        memcpy(buf, v, *vlen < cap ? *vlen : cap);
        free(v);
        return BENCH_OK;
    }
    return rc == MEMCACHED_NOTFOUND ? BENCH_MISS : mc_fail(h, rc, "get");
}

static void mc_close(void *h)
{
    memcached_flush(h, 0);
    memcached_free(h);
}
#else
static const char *memcached_unavailable(const bench_opts_t *o)
{
    (void)o;
    return "not built (libmemcached-dev not installed)";
}
#endif

const bench_mem_sys_t bench_mem_memcached = {
    .name = "memcached",
    .unavailable = memcached_unavailable,
#ifdef KVBENCH_HAVE_MEMCACHED
    .open = mc_open,
    .put = mc_put,
    .get = mc_get,
    .close = mc_close,
#endif
};
