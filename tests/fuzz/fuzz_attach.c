/*
 * fuzz_attach.c — libFuzzer target: the input is the whole content of a
 * file-backed store.  Each input is written to one scratch file per process
 * and attached with kv_open() (no KV_CREATE); when the open succeeds the
 * target checks, reads, iterates, watches (without waiting), writes,
 * deletes, increments and purges.
 * Whatever the bytes, kv must not crash, hang, or touch memory outside the
 * part of the mapping that holds the store.
 *
 * Catching a stray access needs more than ASan's defaults, because ASan
 * does not check mmap()ed memory: the library's mmap and munmap calls are
 * redirected here (the link uses -Wl,--wrap=mmap,--wrap=munmap, which only
 * affects the static kv library and this file) to put every shared file
 * mapping between two inaccessible guard pages, and to poison, for ASan,
 * the bytes of its last page beyond the file and, once the header says how
 * big the store is, the bytes beyond the store's total_size.
 *
 * Oracles besides "no crash": kv_open fails only with KV_ECORRUPT or
 * KV_EVERSION; kv_check returns 0 or KV_ECORRUPT; and when kv_check says a
 * store is sound, iteration never reports corruption, every key it returns
 * reads back with the same value, and the store is still sound after this
 * target's writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "kv.h"
#include "layout.h"

/* ======================================================================== */
/* Guarded mappings                                                         */
/* ======================================================================== */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

/* The mappings made by __wrap_mmap: kv holds at most one per handle. */
#define GUARDED_MAX 8
static struct guarded {
    unsigned char *base; /* the reservation: guard page, mapping, guard page */
    size_t span;
    unsigned char *addr; /* what mmap returned */
} guarded[GUARDED_MAX];

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* How many bytes from the start of a store mapping kv may touch: the file,
 * or less when the header's total_size is smaller (kv validates the header
 * before it reads past it, and never reads past total_size). */
static size_t usable_bytes(const unsigned char *addr, size_t len)
{
    uint64_t total;

    if (len < sizeof(kv_header_t))
        return len;
    memcpy(&total, addr + offsetof(kv_header_t, total_size), sizeof total);
    return total >= sizeof(kv_header_t) && total < len ? (size_t)total : len;
}

/* Maps a shared file as asked, between two PROT_NONE guard pages, with
 * everything past usable_bytes() poisoned.  Other mappings pass through. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    size_t page = page_size(), span, usable, k;
    unsigned char *base, *p;

    if (addr || fd < 0 || !(flags & MAP_SHARED) || off != 0 || len == 0 ||
        len > SIZE_MAX / 2)
        return __real_mmap(addr, len, prot, flags, fd, off);
    for (k = 0; k < GUARDED_MAX && guarded[k].base; k++)
        ;
    if (k == GUARDED_MAX)
        return __real_mmap(addr, len, prot, flags, fd, off);
    span = (len + page - 1) / page * page + 2 * page;
    base = __real_mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
    if (base == MAP_FAILED)
        return MAP_FAILED;
    p = __real_mmap(base + page, len, prot, flags | MAP_FIXED, fd, off);
    if (p == MAP_FAILED) {
        int e = errno;
        __real_munmap(base, span);
        errno = e;
        return MAP_FAILED;
    }
    guarded[k].base = base;
    guarded[k].span = span;
    guarded[k].addr = p;
    usable = usable_bytes(p, len);
    ASAN_POISON_MEMORY_REGION(base, span);
    ASAN_UNPOISON_MEMORY_REGION(p, usable);
    return p;
}

/* Unmaps a guarded mapping with its guard pages, after unpoisoning it so
 * the addresses carry no stale poison into whatever is mapped there next. */
int __wrap_munmap(void *addr, size_t len)
{
    for (size_t k = 0; k < GUARDED_MAX; k++)
        if (guarded[k].base && guarded[k].addr == addr) {
            struct guarded g = guarded[k];
            guarded[k].base = NULL;
            ASAN_UNPOISON_MEMORY_REGION(g.base, g.span);
            return __real_munmap(g.base, g.span);
        }
    return __real_munmap(addr, len);
}

/* ======================================================================== */
/* The target                                                               */
/* ======================================================================== */

static char store_path[4200];

static void remove_store(void)
{
    unlink(store_path);
}

/* One scratch file per process, on tmpfs when there is one (faster than a
 * disk, and every input is written to it).  KV_FUZZ_TMPDIR overrides. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("KV_FUZZ_TMPDIR");

    (void)argc;
    (void)argv;
    if (!dir)
        dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(store_path, sizeof store_path, "%s/kvfuzz-attach-%ld.kv", dir, (long)getpid());
    atexit(remove_store);
    return 0;
}

static void write_store_file(const uint8_t *data, size_t size)
{
    int fd = open(store_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t done = 0;

    FZ_CHECK(fd >= 0, "%s: %s", store_path, strerror(errno));
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        FZ_CHECK(n > 0, "writing %s: %s", store_path, strerror(errno));
        done += (size_t)n;
    }
    close(fd);
}

/* A key from `text`, cut to the store's key_max. */
static size_t key_of(const kv_info_t *info, const char *text)
{
    size_t n = strlen(text);
    return n < info->key_max ? n : info->key_max;
}

/* Buffers sized exactly to the store's limits, so an overrun is an ASan
 * report rather than a silent write into slack. */
typedef struct bufs {
    unsigned char *key, *val, *val2;
} bufs_t;

/* Iterates the whole store; in a sound store, reads every key back. */
static void iterate(kv_t *kv, const kv_info_t *info, const bufs_t *b, int sound)
{
    kv_entry_t e = {b->key, info->key_max, 0, b->val, info->val_max, 0};
    uint64_t cursor = 0, last = 0, n = 0;
    size_t len;
    int rc;

    while ((rc = kv_next(kv, &cursor, &e)) == 0) {
        FZ_CHECK(e.key_len >= 1 && e.key_len <= info->key_max && e.val_len <= info->val_max,
                 "kv_next: key_len %zu, val_len %zu", e.key_len, e.val_len);
        FZ_CHECK(cursor > last && cursor <= info->slots, "cursor %llu after %llu",
                 (unsigned long long)cursor, (unsigned long long)last);
        FZ_CHECK(++n <= info->slots, "kv_next returned more entries than slots");
        last = cursor;
        if (!sound)
            continue;
        rc = kv_get(kv, b->key, e.key_len, b->val2, info->val_max, &len);
        /* KV_ENOTFOUND: the entry expired between the two calls. */
        FZ_CHECK(rc == 0 || rc == KV_ENOTFOUND, "kv_get of an iterated key: %s",
                 kv_strerror(rc));
        FZ_CHECK(rc != 0 || (len == e.val_len && memcmp(b->val, b->val2, len) == 0),
                 "kv_get value differs from kv_next's");
    }
    FZ_CHECK(rc == KV_ENOTFOUND || (!sound && rc == KV_ECORRUPT), "kv_next: %s",
             kv_strerror(rc));
}

/* Reads a few fixed keys (the seeds use them) with small and exact buffers,
 * asks their time to live, and watches them and the store without waiting.
 * In a store kv_check calls sound, no read reports corruption. */
static void read_keys(kv_t *kv, const kv_info_t *info, const bufs_t *b, int sound)
{
    static const char *const keys[] = {"k0", "k1", "k2", "k7", "n0", "missing"};
    unsigned char small[2];
    uint64_t version, generation;
    kv_meta_t meta;
    int64_t ttl;
    size_t len;

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t kl = key_of(info, keys[i]);
        int rc;

        memset(&meta, 0, sizeof meta);
        rc = kv_get_ex(kv, keys[i], kl, b->val, info->val_max, &len, &meta);
        FZ_CHECK(rc != KV_ERANGE, "kv_get with a val_max buffer: KV_ERANGE");
        FZ_CHECK(!sound || rc != KV_ECORRUPT, "kv_get in a sound store: KV_ECORRUPT");
        FZ_CHECK(rc != 0 || len <= info->val_max, "kv_get: length %zu", len);
        rc = kv_get(kv, keys[i], kl, small, sizeof small, &len);
        FZ_CHECK(rc != KV_ERANGE || len > sizeof small, "KV_ERANGE for %zu bytes", len);
        rc = kv_ttl(kv, keys[i], kl, &ttl);
        FZ_CHECK(!sound || rc != KV_ECORRUPT, "kv_ttl in a sound store: KV_ECORRUPT");
        FZ_CHECK(rc != 0 || (ttl >= -1 && ttl <= (int64_t)(2 * KV_TTL_MAX_MS)),
                 "kv_ttl: %lld", (long long)ttl);
        /* Watching with no time to wait: one read, answered at once with
         * the key's version (0 with it equal to `seen` is "no change";
         * KV_ETIMEDOUT would mean a lock nobody holds). */
        rc = kv_watch(kv, keys[i], kl, meta.version ^ 1, 0, &version);
        FZ_CHECK(rc == 0 || rc == KV_ECORRUPT, "kv_watch for a change: %s", kv_strerror(rc));
        if (rc == 0) {
            uint64_t again = version;
            rc = kv_watch(kv, keys[i], kl, version, 0, &again);
            FZ_CHECK(rc == KV_ECORRUPT || (rc == 0 && (again == version || meta.expires_ms)),
                     "kv_watch, no change: %s", kv_strerror(rc));
        }
    }
    FZ_CHECK(kv_generation(kv, &generation) == 0, "kv_generation");
    {
        uint64_t now = generation + 1;
        FZ_CHECK(kv_wait(kv, generation, 0, &now) == 0 && now == generation, "kv_wait");
    }
}

/* Writes of every kind.  Errors are fine (a damaged store, a full one); in
 * a sound store a put that succeeded must read back. */
static void write_keys(kv_t *kv, const kv_info_t *info, const bufs_t *b, int sound)
{
    static const char value[] = "fuzz-value-0123456789";
    size_t vl = info->val_max < sizeof value - 1 ? info->val_max : sizeof value - 1;
    kv_put_opts_t po;
    int64_t result;
    uint64_t purged;
    size_t len;
    int rc;

    rc = kv_put(kv, "k1", key_of(info, "k1"), value, vl, 0);
    if (sound && rc == 0) {
        rc = kv_get(kv, "k1", key_of(info, "k1"), b->val, info->val_max, &len);
        FZ_CHECK(rc == 0 && len == vl && memcmp(b->val, value, vl) == 0,
                 "put then get of k1: %s", kv_strerror(rc));
    }
    kv_put(kv, "fz", key_of(info, "fz"), value, vl, KV_NOREPLACE);
    memset(&po, 0, sizeof po);
    po.ttl_ms = 60000;
    kv_put_ex(kv, "k2", key_of(info, "k2"), value, vl / 2, &po);
    memset(&po, 0, sizeof po);
    po.flags = KV_IF_VERSION; /* insert only if absent */
    kv_put_ex(kv, "fy", key_of(info, "fy"), value, vl, &po);
    kv_incr(kv, "n0", key_of(info, "n0"), 7, &result);
    kv_incr(kv, "k1", key_of(info, "k1"), -1, &result); /* not a number: KV_ENOTNUM */
    kv_del(kv, "k0", key_of(info, "k0"));
    kv_del_if(kv, "k7", key_of(info, "k7"), 1);
    kv_purge_expired(kv, &purged);
}

static void check_stats(kv_t *kv, const kv_info_t *info)
{
    kv_stats_t st;
    int rc = kv_stats(kv, &st);

    FZ_CHECK(rc == 0, "kv_stats: %s", kv_strerror(rc));
    FZ_CHECK(st.slots == info->slots && st.key_max == info->key_max &&
             st.val_max == info->val_max && st.total_bytes == info->total_bytes,
             "kv_stats geometry differs from kv_info");
    FZ_CHECK(st.used + st.tombstones <= st.slots, "used %llu + tombstones %llu > slots",
             (unsigned long long)st.used, (unsigned long long)st.tombstones);
    FZ_CHECK(st.max_probe <= st.slots, "max_probe %llu", (unsigned long long)st.max_probe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char report[2048];
    kv_options_t o;
    kv_info_t info;
    bufs_t b;
    kv_t *kv;
    int rc, sound;

    write_store_file(data, size);
    kv_options_init(&o);
    o.lock_timeout_ms = 1000;
    rc = kv_open(&kv, store_path, KV_RDWR, &o);
    if (rc != 0) {
        FZ_CHECK(rc == KV_ECORRUPT || rc == KV_EVERSION, "kv_open: %s", kv_strerror(rc));
        return 0;
    }
    FZ_CHECK(kv_info(kv, &info) == 0 && info.total_bytes <= size, "kv_info");
    b.key = malloc(info.key_max);
    b.val = malloc(info.val_max ? info.val_max : 1);
    b.val2 = malloc(info.val_max ? info.val_max : 1);
    FZ_CHECK(b.key && b.val && b.val2, "out of memory");

    rc = kv_check(kv, report, sizeof report);
    FZ_CHECK(rc == 0 || rc == KV_ECORRUPT, "kv_check: %s", kv_strerror(rc));
    sound = rc == 0;
    iterate(kv, &info, &b, sound);
    read_keys(kv, &info, &b, sound);
    check_stats(kv, &info);
    write_keys(kv, &info, &b, sound);
    iterate(kv, &info, &b, sound);
    check_stats(kv, &info);
    rc = kv_check(kv, report, sizeof report);
    FZ_CHECK(!sound || rc == 0, "a sound store is corrupt after writes: %s", report);
    if (size % 2) { /* sometimes clear: in a sound store, leaves a sound empty one */
        uint64_t count;
        FZ_CHECK(kv_clear(kv) == 0, "kv_clear failed");
        FZ_CHECK(kv_count(kv, &count) == 0 && count == 0, "count after clear: %llu",
                 (unsigned long long)count);
        rc = kv_check(kv, report, sizeof report);
        FZ_CHECK(!sound || rc == 0, "corrupt after kv_clear: %s", report);
    }
    free(b.key);
    free(b.val);
    free(b.val2);
    kv_close(kv);
    return 0;
}
