/*
 * sys_floor.c — "floor": a BENCHMARK BASELINE, NOT A PRODUCT.  Never use it
 * to hold data.
 *
 * The least a hash table shared between processes can cost: the same
 * algorithm as kv (linear probing over a power-of-two array, index =
 * XXH3_64bits_withSeed(key) & mask, slots of a 16-byte head + key + value,
 * tombstones reclaimed when a run of them ends at an empty slot) in a named
 * shared mapping (shm_open + mmap), serialised by the same kind of lock (a
 * PTHREAD_PROCESS_SHARED | PTHREAD_MUTEX_ROBUST mutex, taken with plain
 * pthread_mutex_lock per operation).  What it leaves out is kv's safety: no
 * crash journal (a process killed mid-put leaves a torn slot), no validation
 * of anything read from the mapping, no lock-holder bookkeeping, no lock
 * timeout, no spinning before sleeping.  kv's ns/op minus the floor's is
 * what those cost.
 *
 * Three systems share the table: "floor" runs its batches through
 * bench_run_ops() like every other system; "floor-nolock" does too, but its
 * get reads the table with no lock at all (its puts and deletes lock), the
 * least an unlocked read can cost, beside which kv's optimistic gets
 * ("kv-opt") are measured; and "bare" runs the floor's batches with loops
 * written out by hand (the end of this file), the floor's functions called
 * directly with each key made in the loop.  The floor's figure is to agree
 * with bare's (kvbench prints the ratio): if it did not, the harness would
 * be adding its own cost to every figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench.h"

#define EMPTY 0u
#define TOMB UINT32_MAX
#define NONE UINT64_MAX

typedef struct floor_hdr {
    uint64_t slots, slot_size, seed;
    uint32_t key_max, pad;
    _Alignas(64) pthread_mutex_t lock; /* own cache line, as in kv */
} floor_hdr_t;
#define HDR_SIZE ((sizeof(floor_hdr_t) + 63) & ~(size_t)63)

typedef struct floor_slot {
    uint64_t hash;
    uint32_t key_len; /* EMPTY, TOMB or the key's length */
    uint32_t val_len;
    unsigned char data[]; /* key_max key bytes, then the value */
} floor_slot_t;

typedef struct floor_map {
    floor_hdr_t *hdr;
    unsigned char *slots;
    uint64_t mask, slot_size, seed; /* copied from the header once, as kv does */
    uint32_t key_max;
    size_t size;
    char name[128];
} floor_map_t;

static floor_slot_t *slot_at(const floor_map_t *f, uint64_t i)
{
    return (floor_slot_t *)(f->slots + i * f->slot_size);
}

/* Maps shm object `name`: a new one of `size` bytes, or (size 0) the
 * existing one. */
static int floor_map(floor_map_t **out, const char *name, size_t size)
{
    floor_map_t *f = calloc(1, sizeof *f);
    struct stat st;
    int fd;
    if (!f)
        return bench_error("out of memory");
    snprintf(f->name, sizeof f->name, "/%s", name);
    fd = shm_open(f->name, O_RDWR | (size ? O_CREAT | O_EXCL : 0), 0600);
    if (fd >= 0 && size && posix_fallocate(fd, 0, (off_t)size) == 0)
        f->size = size;
    else if (fd >= 0 && !size && fstat(fd, &st) == 0)
        f->size = (size_t)st.st_size;
    f->hdr = fd >= 0 && f->size ? mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                                : MAP_FAILED;
    if (fd >= 0)
        close(fd);
    if (f->hdr == MAP_FAILED) {
        free(f);
        return bench_error("floor: cannot map %s", name);
    }
    *out = f;
    return 0;
}

/* Copies the geometry from the header into the handle, as kv does. */
static void floor_adopt(floor_map_t *f)
{
    f->slots = (unsigned char *)f->hdr + HDR_SIZE;
    f->mask = f->hdr->slots - 1;
    f->slot_size = f->hdr->slot_size;
    f->seed = f->hdr->seed;
    f->key_max = f->hdr->key_max;
}

static int floor_create(void **h, const char *name, const bench_store_t *s, uint32_t val_size,
                        const bench_opts_t *o)
{
    uint64_t slot_size = (16u + o->key_size + val_size + 7u) & ~UINT64_C(7); /* as kv */
    pthread_mutexattr_t attr;
    floor_map_t *f = NULL;
    char path[160];
    snprintf(path, sizeof path, "/%s", name);
    shm_unlink(path); /* a leftover of a killed run */
    if (floor_map(&f, name, HDR_SIZE + s->slots * slot_size) != 0)
        return BENCH_ERR;
    f->hdr->slots = s->slots; /* a power of two, as kvbench's stores are */
    f->hdr->slot_size = slot_size;
    f->hdr->seed = UINT64_C(0x9e3779b97f4a7c15);
    f->hdr->key_max = o->key_size;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&f->hdr->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    floor_adopt(f);
    *h = f;
    return 0;
}

static int floor_attach(void **h, const char *name, const bench_opts_t *o)
{
    floor_map_t *f = NULL;
    (void)o;
    if (floor_map(&f, name, 0) != 0)
        return BENCH_ERR;
    floor_adopt(f);
    *h = f;
    return 0;
}

static uint64_t floor_hash(const floor_map_t *f, const void *key, size_t klen)
{
    return XXH3_64bits_withSeed(key, klen, f->seed);
}

static void floor_lock(floor_map_t *f)
{
    if (pthread_mutex_lock(&f->hdr->lock) == EOWNERDEAD) /* no repair: a baseline */
        pthread_mutex_consistent(&f->hdr->lock);
}

/* Returns the slot of the key of that hash (*found = 1) or the first free
 * slot on its probe path (NONE when the table is full).  Takes no lock. */
static uint64_t floor_probe(const floor_map_t *f, const void *key, size_t klen, uint64_t hash,
                            int *found)
{
    uint64_t free_at = NONE, i = hash & f->mask;
    *found = 0;
    for (uint64_t step = 0; step <= f->mask; step++, i = (i + 1) & f->mask) {
        floor_slot_t *s = slot_at(f, i);
        if (s->key_len == EMPTY)
            return free_at != NONE ? free_at : i;
        if (s->key_len == TOMB) {
            free_at = free_at != NONE ? free_at : i;
        } else if (s->hash == hash && s->key_len == klen && memcmp(s->data, key, klen) == 0) {
            *found = 1;
            return i;
        }
    }
    return free_at;
}

/* Hashes the key, takes the lock, and probes for it (floor_probe()).  The
 * caller unlocks. */
static uint64_t floor_find(floor_map_t *f, const void *key, size_t klen, uint64_t *hash,
                           int *found)
{
    *hash = floor_hash(f, key, klen);
    floor_lock(f);
    return floor_probe(f, key, klen, *hash, found);
}

/* Copies the value of the key of that hash into buf[0..cap); BENCH_OK or
 * BENCH_MISS.  Takes no lock. */
static int floor_read(const floor_map_t *f, const void *key, size_t klen, uint64_t hash,
                      void *buf, size_t cap)
{
    int found;
    uint64_t i = floor_probe(f, key, klen, hash, &found);
    if (found) {
        const floor_slot_t *s = slot_at(f, i);
        /* One load: read twice, a racing put could make the copy exceed cap
         * (a plain load on x86, as before). */
        uint32_t len = __atomic_load_n(&s->val_len, __ATOMIC_RELAXED);
        memcpy(buf, s->data + f->key_max, len < cap ? len : cap);
    }
    return found ? BENCH_OK : BENCH_MISS;
}

static int floor_get(void *h, const void *key, size_t klen, void *buf, size_t cap)
{
    floor_map_t *f = h;
    uint64_t hash = floor_hash(f, key, klen);
    int rc;
    floor_lock(f);
    rc = floor_read(f, key, klen, hash, buf, cap);
    pthread_mutex_unlock(&f->hdr->lock);
    return rc;
}

/* floor-nolock's get: the same read with no lock at all.  A put racing
 * with it may hand it a torn value, which a baseline may do; it cannot
 * crash, since what it compares and copies is bounded by the caller's key
 * length and buffer (floor_read() loads the value's length once), and its
 * probe by the table's size. */
static int floor_get_nolock(void *h, const void *key, size_t klen, void *buf, size_t cap)
{
    const floor_map_t *f = h;
    return floor_read(f, key, klen, floor_hash(f, key, klen), buf, cap);
}

static int floor_put(void *h, const void *key, size_t klen, const void *val, size_t vlen)
{
    floor_map_t *f = h;
    uint64_t hash;
    int found;
    uint64_t i = floor_find(f, key, klen, &hash, &found);
    if (i != NONE) {
        floor_slot_t *s = slot_at(f, i);
        s->hash = hash;
        s->key_len = (uint32_t)klen;
        s->val_len = (uint32_t)vlen;
        memcpy(s->data, key, klen);
        memcpy(s->data + f->key_max, val, vlen);
    }
    pthread_mutex_unlock(&f->hdr->lock);
    return i != NONE ? BENCH_OK : bench_error("floor: table full");
}

static int floor_del(void *h, const void *key, size_t klen)
{
    floor_map_t *f = h;
    uint64_t hash;
    int found;
    uint64_t i = floor_find(f, key, klen, &hash, &found);
    if (found) {
        slot_at(f, i)->key_len = TOMB;
        /* As kv: a tombstone run ending at an empty slot becomes empty. */
        if (slot_at(f, (i + 1) & f->mask)->key_len == EMPTY)
            for (; slot_at(f, i)->key_len == TOMB; i = (i - 1) & f->mask)
                slot_at(f, i)->key_len = EMPTY;
    }
    pthread_mutex_unlock(&f->hdr->lock);
    return found ? BENCH_OK : BENCH_MISS;
}

static int floor_clear(void *h)
{
    floor_map_t *f = h;
    pthread_mutex_lock(&f->hdr->lock);
    for (uint64_t i = 0; i <= f->mask; i++)
        slot_at(f, i)->key_len = EMPTY;
    pthread_mutex_unlock(&f->hdr->lock);
    return 0;
}

static void floor_close(void *h, int destroy)
{
    floor_map_t *f = h;
    munmap(f->hdr, f->size);
    if (destroy)
        shm_unlink(f->name);
    free(f);
}

static int floor_run(void *h, const bench_batch_t *b)
{
    return bench_run_ops(h, b, floor_get, floor_put, floor_del);
}

static int floor_nolock_run(void *h, const bench_batch_t *b)
{
    return bench_run_ops(h, b, floor_get_nolock, floor_put, floor_del);
}

const bench_sys_t bench_sys_floor = {
    .name = "floor",
    .sections = BENCH_SEC_SINGLE | BENCH_SEC_PROCS | BENCH_SEC_YCSB,
    .create = floor_create,
    .attach = floor_attach,
    .run = floor_run,
    .clear = floor_clear,
    .close = floor_close,
};

const bench_sys_t bench_sys_floor_nolock = {
    .name = "floor-nolock",
    .sections = BENCH_SEC_SINGLE | BENCH_SEC_PROCS | BENCH_SEC_YCSB,
    .create = floor_create,
    .attach = floor_attach,
    .run = floor_nolock_run,
    .clear = floor_clear,
    .close = floor_close,
};

/* ---------------------------------------------------------------------- */
/* The bare loop                                                           */
/* ---------------------------------------------------------------------- */

/* The floor's table with no harness: a loop per operation, written out,
 * calling the floor's functions directly on keys made in the loop, with
 * nothing checked per operation but a count of unexpected results.  What
 * is left of the harness is one call per batch (a round of 10k or more
 * operations, or a worker's 256).  Deliberately not bench_run_ops(): this
 * is what that loop is checked against. */
static int bare_run(void *h, const bench_batch_t *b)
{
    floor_map_t *f = h;
    const bench_keys_t *k = b->k;
    const uint32_t *idx = b->idx;
    const size_t klen = k->key_size, vlen = k->val_size;
    const int absent = b->op == BENCH_OP_MISS, want = absent ? BENCH_MISS : BENCH_OK;
    uint32_t odd = 0; /* operations whose result was not `want` */
    switch (b->op) {
    case BENCH_OP_GET:
    case BENCH_OP_MISS:
        for (uint32_t i = 0; i < b->n; i++)
            odd += floor_get(f, key_gen(b->key, idx[i], absent), klen, k->buf, vlen) != want;
        break;
    case BENCH_OP_PUT:
        for (uint32_t i = 0; i < b->n; i++)
            odd += floor_put(f, key_gen(b->key, idx[i], 0), klen, b->val, vlen) != BENCH_OK;
        break;
    case BENCH_OP_DEL:
        for (uint32_t i = 0; i < b->n; i++)
            odd += floor_del(f, key_gen(b->key, idx[i], 0), klen) != BENCH_OK;
        break;
    case BENCH_OP_MIX:
        for (uint32_t i = 0; i < b->n; i++) {
            const unsigned char *key = key_gen(b->key, idx[i] & ~BENCH_IDX_PUT, 0);
            odd += (idx[i] & BENCH_IDX_PUT ? floor_put(f, key, klen, b->val, vlen)
                                           : floor_get(f, key, klen, k->buf, vlen)) != BENCH_OK;
        }
        break;
    }
    return odd ? bench_error("bare: %u operations had an unexpected result", odd) : BENCH_OK;
}

const bench_sys_t bench_sys_bare = {
    .name = "bare",
    .sections = BENCH_SEC_SINGLE | BENCH_SEC_PROCS | BENCH_SEC_YCSB,
    .create = floor_create,
    .attach = floor_attach,
    .run = bare_run,
    .clear = floor_clear,
    .close = floor_close,
};
