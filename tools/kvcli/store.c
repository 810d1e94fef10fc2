/*
 * store.c — what kvcli's commands share besides the codecs: a growable
 * buffer, opening the store with errors reported, iterating over every
 * entry, reading a value of any size, and the wall clock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32) && !defined(TIME_UTC)
#  include <sys/timeb.h> /* msvcrt has no timespec_get: _ftime64 instead */
#  define KVCLI_FTIME 1
#endif

#include "cli.h"

#define GET_FIRST_CAP 4096u /* get's first buffer: most values fit */

void *cli_grow(void *buf, size_t *cap, size_t need, size_t max)
{
    size_t n = *cap > max / 2 ? max : *cap * 2;
    void *p;

    if (need <= *cap)
        return buf;
    if (n < need)
        n = need;
    if (n < 256 && max >= 256)
        n = 256;
    if ((p = realloc(buf, n ? n : 1)) != NULL)
        *cap = n;
    return p;
}

int cli_open_store(const cli_t *c, unsigned flags, const kv_options_t *opts, kv_t **kv)
{
    char why[512];
    kv_options_t o = *opts;
    unsigned owner = c->any_owner ? KV_ANY_OWNER : 0u;
    int err;

    o.error = why;
    o.error_cap = sizeof why;
    /* A reading command opens writable if it may, with optimistic gets
     * (a dead writer's work is repaired by the lock they fall back to, and
     * stats can take the lock), else read-only: all a reader with only
     * read permission can have. */
    if (flags == CLI_OPEN_READER) {
        err = kv_open(kv, c->store, KV_RDWR | KV_OPTIMISTIC | owner, &o);
        if (err != KV_EPERM)
            goto opened;
        flags = 0;
    }
    err = kv_open(kv, c->store, flags | owner, &o);
opened:
    if (err)
        cli_fail(c, err, why[0] ? "%s" : NULL, why); /* what exactly was refused */
    return err;
}

void cli_iter_close(cli_iter_t *it)
{
    free(it->e.key);
    free(it->e.val);
}

int cli_iter_open(cli_iter_t *it, kv_t *kv, int with_values)
{
    int err;

    memset(it, 0, sizeof *it);
    it->kv = kv;
    if ((err = kv_info(kv, &it->info)) != 0)
        return err;
    it->e.key_cap = it->info.key_max;
    it->e.key = malloc(it->e.key_cap ? it->e.key_cap : 1);
    if (with_values) {
        it->e.val_cap = it->info.val_max;
        it->e.val = malloc(it->e.val_cap ? it->e.val_cap : 1);
    }
    if (!it->e.key || (with_values && !it->e.val)) {
        cli_iter_close(it);
        return KV_ENOMEM;
    }
    return 0;
}

/* Reads the next entry.  Returns 0, KV_ENOTFOUND at the end, or an error.
 * The buffers already fit the store's limits, so KV_ERANGE can only mean
 * the limits were misread; grow to the reported lengths and retry once.
 * A keys-only iteration reports val_len but has no value buffer to grow. */
int cli_iter_next(cli_iter_t *it)
{
    int err = kv_next(it->kv, &it->cursor, &it->e);
    int val_short = it->e.val && it->e.val_len > it->e.val_cap;
    void *k, *v = it->e.val;

    if (err != KV_ERANGE || (it->e.key_len <= it->e.key_cap && !val_short))
        return err;
    k = cli_grow(it->e.key, &it->e.key_cap, it->e.key_len, it->e.key_len);
    if (k)
        it->e.key = k;
    if (val_short &&
        (v = cli_grow(it->e.val, &it->e.val_cap, it->e.val_len, it->e.val_len)) != NULL)
        it->e.val = v;
    return k && v ? kv_next(it->kv, &it->cursor, &it->e) : KV_ENOMEM;
}

int cli_read_value(kv_t *kv, const void *key, size_t klen, cli_bytes_t *v, kv_meta_t *meta)
{
    unsigned char *p;
    int err;

    if (!v->buf) {
        if ((v->buf = malloc(GET_FIRST_CAP)) == NULL)
            return KV_ENOMEM;
        v->cap = GET_FIRST_CAP;
    }
    err = kv_get_ex(kv, key, klen, v->buf, v->cap, &v->len, meta);
    /* The value may change size between calls; retry while it outgrows us. */
    while (err == KV_ERANGE && v->len > v->cap) {
        if ((p = cli_grow(v->buf, &v->cap, v->len, v->len)) == NULL)
            return KV_ENOMEM;
        v->buf = p;
        err = kv_get_ex(kv, key, klen, v->buf, v->cap, &v->len, meta);
    }
    return err;
}

uint64_t cli_now_ms(void)
{
#ifdef KVCLI_FTIME
    struct __timeb64 tb;

    _ftime64(&tb);
    return (uint64_t)tb.time * 1000u + tb.millitm;
#else
    struct timespec ts;

    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

