/*
 * util.c — the shared test helpers of util.h.
 *
 * The fixture family gives every test a cheap way to say "these n entries
 * must still be exactly as stored": keys and values are pure functions of
 * (prefix, i), so nothing needs remembering between filling and verifying.
 * Values vary in length (0..40 bytes, the first one empty) so a store that
 * mixes up lengths or offsets shows it.  File helpers use stdio so they port
 * as they are; only the scratch directory needs POSIX (mkdtemp).
 */
#include "util.h"
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Stores and entries                                                       */
/* ------------------------------------------------------------------------ */

kv_options_t util_options(uint64_t slots, uint32_t key_max, uint32_t val_max)
{
    kv_options_t o;
    kv_options_init(&o);
    o.slots = slots;
    o.key_max = key_max;
    o.val_max = val_max;
    return o;
}

int util_create(kv_t **kv, const char *name, uint64_t slots, uint32_t key_max,
                uint32_t val_max)
{
    kv_options_t o = util_options(slots, key_max, val_max);
    return kv_open(kv, name, KV_RDWR | KV_CREATE | KV_EXCL, &o);
}

/* Stores made by util_fresh and not yet disposed of.  A case that fails a
 * REQUIRE returns before its util_dispose; the atexit hook removes what it
 * left so failed runs do not fill /dev/shm. */
enum { LIVE_MAX = 64 };
static char live[LIVE_MAX][256];

static void unlink_live(void)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i][0])
            kv_unlink(live[i]);
}

/* Records (add) or forgets (!add) a store name in live[]. */
static void track(const char *name, int add)
{
    static int hooked;
    if (!hooked)
        hooked = atexit(unlink_live) == 0;
    for (int i = 0; i < LIVE_MAX; i++) {
        if (add ? live[i][0] == '\0' : strcmp(live[i], name) == 0) {
            snprintf(live[i], sizeof live[i], "%s", add ? name : "");
            return;
        }
    }
}

kv_t *util_fresh(char *name, const char *prefix, uint64_t slots, uint32_t key_max,
                 uint32_t val_max)
{
    kv_options_t o = util_options(slots, key_max, val_max);
    return util_fresh_ex(name, prefix, &o, 0);
}

int util_wait_code(spawn_proc_t *p)
{
    spawn_status_t st = { 0, 0, 0, 0 };
    if (spawn_wait(p, &st) != 0 || !st.exited) {
        fprintf(stderr, "  process %ld did not exit (signal %d)\n", p->pid, st.signal);
        return -1;
    }
    return st.code;
}

int util_dead_holder_reported(void)
{
    if (spawn_dead_holder_reported())
        return 1;
    test_skip("a lock holder's death is not reported here (no robust futexes: "
              "get_robust_list fails, as under qemu-user), so no EOWNERDEAD would come");
    return 0;
}

int util_run_crashing(const char *role, const char *const *args, int k)
{
    char env_k[32];
    const char *env[] = { env_k, NULL };
    spawn_proc_t p;
    int code;
    snprintf(env_k, sizeof env_k, "KV_CRASH_AT=%d", k);
    if (spawn_role(&p, role, args, env) != 0) {
        fprintf(stderr, "  could not start role %s\n", role);
        return -1;
    }
    code = util_wait_code(&p);
    if (code == UTIL_CRASH_EXIT || code == 0)
        return code == UTIL_CRASH_EXIT;
    if (code > 0)
        fprintf(stderr, "  role %s (KV_CRASH_AT=%d) exited %d\n", role, k, code);
    return -1;
}

kv_t *util_fresh_ex(char *name, const char *prefix, const kv_options_t *opts,
                    unsigned flags)
{
    kv_t *kv = NULL;
    snprintf(name, 256, "%s", test_name(prefix));
    int rc = kv_open(&kv, name, KV_RDWR | KV_CREATE | KV_EXCL | flags, opts);
    if (rc != 0) {
        fprintf(stderr, "  create %s: %s\n", name, kv_strerror(rc));
        return NULL;
    }
    track(name, 1);
    return kv;
}

void util_dispose(kv_t *kv, const char *name)
{
    kv_close(kv);
    kv_unlink(name);
    track(name, 0);
}

long long util_for_each(kv_t *kv, util_visit_fn fn, void *ctx)
{
    enum { CAP = 65536 };
    unsigned char *k = malloc(CAP), *v = malloc(CAP);
    long long n = k && v ? 0 : KV_ENOMEM;
    uint64_t cursor = 0;
    while (n >= 0) {
        kv_entry_t e = { k, CAP, 0, v, CAP, 0 };
        int rc = kv_next(kv, &cursor, &e);
        if (rc != 0) {
            n = rc == KV_ENOTFOUND ? n : rc;
            break;
        }
        n++;
        if (fn && fn(ctx, k, e.key_len, v, e.val_len))
            break;
    }
    free(k);
    free(v);
    return n;
}

kv_t *util_role_open(const char *role, const char *name)
{
    kv_t *kv = NULL;
    int rc = kv_open(&kv, name, KV_RDWR, NULL);
    if (rc != 0)
        fprintf(stderr, "  %s: open %s: %s\n", role, name, kv_strerror(rc));
    return rc == 0 ? kv : NULL;
}

kv_t *util_fresh_cache(char *name, uint64_t slots)
{
    kv_options_t o = util_options(slots, 32, 64);
    return util_fresh_ex(name, "cache", &o, KV_CACHE);
}

uint64_t util_generation(kv_t *kv)
{
    uint64_t g = 0;
    return kv_generation(kv, &g) == 0 ? g : UINT64_MAX;
}

kv_stats_t util_stats(kv_t *kv)
{
    kv_stats_t st;
    memset(&st, 0, sizeof st);
    if (kv_stats(kv, &st) != 0)
        fprintf(stderr, "  kv_stats failed\n");
    return st;
}

uint32_t util_fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

int util_put(kv_t *kv, const char *key, const char *val)
{
    return kv_put(kv, key, strlen(key), val, strlen(val), 0);
}

/* Returns 1 if key holds exactly val[0..val_len) (at most 4096 bytes);
 * when `loud`, says why not on stderr. */
static int entry_matches(kv_t *kv, const void *key, size_t key_len, const void *val,
                         size_t val_len, int loud)
{
    unsigned char buf[4096];
    size_t got = 0;
    int rc = kv_get(kv, key, key_len, buf, sizeof buf, &got);
    if (rc == 0 && got == val_len && memcmp(buf, val, val_len) == 0)
        return 1;
    if (loud && rc != 0)
        fprintf(stderr, "  get %.*s: %s\n", (int)key_len, (const char *)key, kv_strerror(rc));
    else if (loud)
        fprintf(stderr, "  get %.*s: value differs (%zu bytes, want %zu)\n",
                (int)key_len, (const char *)key, got, val_len);
    return 0;
}

int util_has(kv_t *kv, const void *key, size_t key_len, const void *val, size_t val_len)
{
    return entry_matches(kv, key, key_len, val, val_len, 1);
}

int util_put_ttl(kv_t *kv, const char *key, const char *val, uint64_t ttl_ms)
{
    kv_put_opts_t o = { 0, ttl_ms, 0, 0 };
    return kv_put_ex(kv, key, strlen(key), val, strlen(val), &o);
}

int util_has_str(kv_t *kv, const char *key, const char *val)
{
    return util_has(kv, key, strlen(key), val, strlen(val));
}

int util_get_rc(kv_t *kv, const char *key)
{
    char buf[256];
    return kv_get(kv, key, strlen(key), buf, sizeof buf, NULL);
}

uint64_t util_version(kv_t *kv, const char *key)
{
    kv_meta_t m = { 0, 0 };
    int rc = kv_get_ex(kv, key, strlen(key), NULL, 0, NULL, &m);
    return rc == 0 || rc == KV_ERANGE ? m.version : 0;
}

int64_t util_ttl(kv_t *kv, const char *key, int *rc)
{
    int64_t t = -2;
    *rc = kv_ttl(kv, key, strlen(key), &t);
    return t;
}

size_t util_fixture_key(char *buf, const char *prefix, unsigned i)
{
    return (size_t)snprintf(buf, 64, "%s%u", prefix, i);
}

size_t util_fixture_val(char *buf, const char *prefix, unsigned i)
{
    size_t len = (i * 7u) % 41u;
    for (size_t j = 0; j < len; j++)
        buf[j] = (char)('a' + (i + j + strlen(prefix)) % 26u);
    return len;
}

int util_fill(kv_t *kv, const char *prefix, unsigned n)
{
    char k[64], v[64];
    for (unsigned i = 0; i < n; i++) {
        size_t kl = util_fixture_key(k, prefix, i), vl = util_fixture_val(v, prefix, i);
        int rc = kv_put(kv, k, kl, v, vl, 0);
        if (rc != 0) {
            fprintf(stderr, "  fill %s: %s\n", k, kv_strerror(rc));
            return rc;
        }
    }
    return 0;
}

unsigned util_verify(kv_t *kv, const char *prefix, unsigned n)
{
    char k[64], v[64];
    unsigned bad = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t kl = util_fixture_key(k, prefix, i), vl = util_fixture_val(v, prefix, i);
        bad += !entry_matches(kv, k, kl, v, vl, bad < 5);
    }
    return bad;
}

uint64_t util_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Milliseconds on clock `id`.  clock_gettime, not C11's timespec_get: the
 * mingw-w64 C runtime the Windows build links (msvcrt) has no
 * timespec_get, while winpthreads provides clock_gettime with both clocks
 * (CLOCK_REALTIME from the system time, as kv's Windows layer reads it). */
static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

uint64_t util_wall_ms(void)
{
    return (uint64_t)clock_ms(CLOCK_REALTIME);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */
/* ------------------------------------------------------------------------ */

int util_tmpdir(char *buf, size_t cap)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    if ((size_t)snprintf(buf, cap, "%s/kvtest.XXXXXX", base) >= cap)
        return -1;
    return mkdtemp(buf) ? 0 : -1;
}

void util_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            remove(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

unsigned char *util_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)size + 1);
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[size] = '\0';
        *len = (size_t)size;
    }
    return buf;
}

int util_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    return (put == len && rc == 0) ? 0 : -1;
}
