/*
 * store_test.c — behaviour of kv's public API on real named stores.
 *
 * Each case makes its own store under a unique name (test_name), so cases and
 * parallel ctest runs never share one, and unlinks it at the end.  The cases
 * walk kv.h's promises in order: opening (create, attach, KV_EXCL, missing
 * stores, slot rounding, kv_info geometry), the data calls (put/get/del with
 * replace and KV_NOREPLACE, buffer sizing, empty values, binary bytes),
 * count/clear, cursor iteration (keys-only too), read-only handles, file-backed stores, the stats
 * counters, a full table and tombstone reuse.  Two heavier cases close the
 * file: a differential run of 100,000 random operations checked against a
 * plain in-memory model, and four threads sharing one handle.  The threads
 * are pthreads because the tests are POSIX-first for now; the Windows port
 * will need C11 <threads.h> or a small wrapper there.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "kv.h"
#include "layout.h"
#include "test.h"
#include "util.h"

static char store[256]; /* the running case's store name */

/* Fetches stats, failing the case loudly if that fails. */
#define STATS(kv, st) REQUIRE_EQ(kv_stats((kv), &(st)), 0)

/* Returns n for a key "<letter><n>..." whose digits end at key_len or a
 * non-digit byte; UINT32_MAX when there are no digits.  Iterated keys are not
 * NUL-terminated, so the length bounds the scan. */
static uint32_t key_index(const void *key, size_t key_len)
{
    const unsigned char *p = key;
    uint32_t n = 0;
    size_t i = 1;
    for (; i < key_len && i < 11 && p[i] >= '0' && p[i] <= '9'; i++)
        n = n * 10 + (uint32_t)(p[i] - '0');
    return i > 1 ? n : UINT32_MAX;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */
/* ------------------------------------------------------------------------ */

TEST(create_then_attach)
{
    kv_t *a = NULL, *b = NULL;
    snprintf(store, sizeof store, "%s", test_name("open"));
    REQUIRE_EQ(kv_open(&a, store, KV_RDWR | KV_CREATE, NULL), 0);
    CHECK_EQ(kv_created(a), 1);
    REQUIRE_EQ(kv_open(&b, store, KV_RDWR | KV_CREATE, NULL), 0);
    CHECK_EQ(kv_created(b), 0);
    CHECK_EQ(util_put(a, "shared", "yes"), 0);
    CHECK(util_has(b, "shared", 6, "yes", 3));
    kv_close(b);
    util_dispose(a, store);
    TEST_DONE();
}

TEST(excl_on_existing)
{
    kv_t *kv = util_fresh(store, "excl", 64, 16, 16), *again = NULL;
    REQUIRE(kv);
    CHECK_EQ(util_put(kv, "k", "v"), 0);
    CHECK_EQ(kv_open(&again, store, KV_RDWR | KV_CREATE | KV_EXCL, NULL), KV_EEXIST);
    CHECK(util_has(kv, "k", 1, "v", 1));
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(open_missing)
{
    kv_t *kv = NULL;
    const char *name = test_name("missing");
    CHECK_EQ(kv_open(&kv, name, KV_RDWR, NULL), KV_ENOENT);
    CHECK_EQ(kv_open(&kv, name, 0, NULL), KV_ENOENT);
    CHECK_EQ(kv_unlink(name), KV_ENOENT);
    TEST_DONE();
}

/* After kv_unlink the name is free: KV_CREATE makes a new, empty store while
 * a handle to the old block keeps working on the old data. */
TEST(unlink_and_recreate)
{
    if (!spawn_named_memory_persists()) {
        test_skip("named memory here has no name to remove: it vanishes with its last handle");
        return TEST_SKIP;
    }
    kv_t *old = util_fresh(store, "relink", 64, 16, 16), *fresh = NULL;
    uint64_t n = 99;
    REQUIRE(old);
    CHECK_EQ(util_put(old, "k", "old"), 0);
    REQUIRE_EQ(kv_unlink(store), 0);
    REQUIRE_EQ(kv_open(&fresh, store, KV_RDWR | KV_CREATE, NULL), 0);
    CHECK_EQ(kv_created(fresh), 1);
    CHECK_EQ(kv_count(fresh, &n), 0);
    CHECK_EQ(n, 0);
    CHECK(util_has(old, "k", 1, "old", 3));
    kv_close(old);
    util_dispose(fresh, store);
    TEST_DONE();
}

/* Returns the slot count a new store reports when `asked` slots are asked
 * for, or 0 on error. */
static uint64_t slots_for(uint64_t asked)
{
    kv_stats_t st;
    kv_t *kv = util_fresh(store, "round", asked, 8, 8);
    uint64_t got = (kv && kv_stats(kv, &st) == 0) ? st.slots : 0;
    util_dispose(kv, store);
    return got;
}

TEST(slot_rounding)
{
    CHECK_EQ(slots_for(1), 1);
    CHECK_EQ(slots_for(2), 2);
    CHECK_EQ(slots_for(3), 4);
    CHECK_EQ(slots_for(1000), 1024);
    CHECK_EQ(slots_for(1024), 1024);
    CHECK_EQ(slots_for(1025), 2048);
    TEST_DONE();
}

/* Attaching ignores the caller's geometry: the store's own applies. */
TEST(attach_uses_store_geometry)
{
    kv_t *kv = util_fresh(store, "geom", 4096, 40, 300), *b = NULL;
    kv_stats_t st;
    REQUIRE(kv);
    REQUIRE_EQ(kv_open(&b, store, KV_RDWR, NULL), 0);
    STATS(b, st);
    CHECK_EQ(st.slots, 4096);
    CHECK_EQ(st.key_max, 40);
    CHECK_EQ(st.val_max, 300);
    kv_close(b);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Returns 1 if kv_info's geometry is the one kv_stats reports. */
static int info_matches(const kv_info_t *info, const kv_stats_t *st)
{
    return info->slots == st->slots && info->key_max == st->key_max &&
           info->val_max == st->val_max && info->total_bytes == st->total_bytes;
}

/* kv_info reports the geometry kv_stats does, on the creating handle and on
 * one that attached read-only, and no data operation changes it. */
TEST(info_matches_stats)
{
    kv_t *kv = util_fresh(store, "info", 1000, 40, 300), *ro = NULL;
    kv_info_t info, ro_info;
    kv_stats_t st;
    REQUIRE(kv);
    memset(&info, 0xAA, sizeof info);
    REQUIRE_EQ(kv_info(kv, &info), 0);
    STATS(kv, st);
    CHECK(info_matches(&info, &st));
    CHECK_EQ(info.slots, 1024);
    CHECK_EQ(info.key_max, 40);
    CHECK_EQ(info.val_max, 300);
    CHECK(info.total_bytes >= 1024u * (40u + 300u));
    REQUIRE_EQ(util_fill(kv, "n", 100), 0);
    CHECK_EQ(kv_del(kv, "n7", 2), 0);
    REQUIRE_EQ(kv_open(&ro, store, 0, NULL), 0);
    memset(&ro_info, 0xAA, sizeof ro_info);
    REQUIRE_EQ(kv_info(ro, &ro_info), 0);
    STATS(ro, st);
    CHECK(info_matches(&ro_info, &st));
    CHECK(info_matches(&info, &st));
    kv_close(ro);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(info_invalid_args)
{
    kv_t *kv = util_fresh(store, "infoarg", 16, 8, 8);
    kv_info_t info;
    REQUIRE(kv);
    CHECK_EQ(kv_info(NULL, &info), KV_EINVAL);
    CHECK_EQ(kv_info(kv, NULL), KV_EINVAL);
    CHECK_EQ(kv_info(NULL, NULL), KV_EINVAL);
    CHECK_EQ(kv_info(kv, &info), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* A store is created with exactly the mode asked for, not masked by umask;
 * the default is 0600. */
TEST(file_mode_exact)
{
    if (!TEST_POSIX) {
        test_skip("Windows: the mode becomes a DACL, and stat() shows only the read-only attribute");
        return TEST_SKIP;
    }
    char dir[512], path[600];
    kv_options_t o;
    kv_t *kv = NULL;
    struct stat sb;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/mode.kv", dir);
    kv_options_init(&o);
    CHECK_EQ(o.mode, 0600);
    o.mode = 0644;
    mode_t old_mask = umask(0077);
    int rc = kv_open(&kv, path, KV_RDWR | KV_CREATE, &o);
    umask(old_mask);
    REQUIRE_EQ(rc, 0);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    kv_close(kv);
    kv_unlink(path);
    util_rmdir(dir);
    TEST_DONE();
}

/* Creates `name` with mode `mode` under umask `mask` and returns the mode
 * bits of `object` (the store's file, or its /dev/shm object) right after,
 * or -1.  The store is closed and removed again. */
static int created_mode(const char *name, const char *object, unsigned mode, mode_t mask)
{
    kv_options_t o = util_options(16, 8, 8);
    kv_t *kv = NULL;
    struct stat sb;
    o.mode = mode;
    mode_t old_mask = umask(mask);
    int rc = kv_open(&kv, name, KV_RDWR | KV_CREATE | KV_EXCL, &o);
    umask(old_mask);
    int got = rc == 0 && stat(object, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
    if (rc != 0)
        fprintf(stderr, "  create %s: %s\n", name, kv_strerror(rc));
    kv_close(kv);
    kv_unlink(name);
    return got;
}

/* The mode asked for is the mode made, for named memory as for a file
 * (file_mode_exact checks a file only): 0640 under a umask (0077) that
 * would strip its group bit. */
TEST(create_mode_exact_named_and_file)
{
    char dir[512], path[600], shm[300];
    if (!TEST_POSIX) {
        test_skip("Windows: the mode becomes a DACL, and stat() shows only the read-only attribute");
        return TEST_SKIP;
    }
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/mode.kv", dir);
    snprintf(store, sizeof store, "%s", test_name("mode"));
    snprintf(shm, sizeof shm, "/dev/shm/kv.%s", store); /* POSIX here is Linux */
    CHECK_EQ(created_mode(store, shm, 0640, 0077), 0640);
    CHECK_EQ(created_mode(path, path, 0640, 0077), 0640);
    util_rmdir(dir);
    TEST_DONE();
}

#ifdef __linux__
/* Named memory is a private object by default: /dev/shm/kv.<name>, 0600. */
TEST(shm_object_private)
{
    char path[300];
    struct stat sb;
    kv_t *kv = util_fresh(store, "shmmode", 16, 8, 8);
    REQUIRE(kv);
    snprintf(path, sizeof path, "/dev/shm/kv.%s", store);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    util_dispose(kv, store);
    CHECK(stat(path, &sb) != 0);
    TEST_DONE();
}
#endif

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

TEST(put_get_replace_delete)
{
    kv_t *kv = util_fresh(store, "crud", 64, 16, 16);
    char buf[16];
    REQUIRE(kv);
    CHECK_EQ(kv_get(kv, "a", 1, buf, sizeof buf, NULL), KV_ENOTFOUND);
    CHECK_EQ(util_put(kv, "a", "1"), 0);
    CHECK(util_has(kv, "a", 1, "1", 1));
    CHECK_EQ(util_put(kv, "a", "22"), 0);
    CHECK(util_has(kv, "a", 1, "22", 2));
    CHECK_EQ(kv_del(kv, "a", 1), 0);
    CHECK_EQ(kv_get(kv, "a", 1, buf, sizeof buf, NULL), KV_ENOTFOUND);
    CHECK_EQ(kv_del(kv, "a", 1), KV_ENOTFOUND);
    CHECK_EQ(util_put(kv, "a", "333"), 0);
    CHECK(util_has(kv, "a", 1, "333", 3));
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(noreplace)
{
    kv_t *kv = util_fresh(store, "norepl", 64, 16, 16);
    REQUIRE(kv);
    CHECK_EQ(kv_put(kv, "k", 1, "v1", 2, KV_NOREPLACE), 0);
    CHECK_EQ(kv_put(kv, "k", 1, "v2", 2, KV_NOREPLACE), KV_EEXIST);
    CHECK(util_has(kv, "k", 1, "v1", 2));
    CHECK_EQ(kv_put(kv, "k", 1, "v3", 2, 0), 0);
    CHECK(util_has(kv, "k", 1, "v3", 2));
    util_dispose(kv, store);
    TEST_DONE();
}

/* KV_ERANGE reports the size needed and leaves every byte of buf alone. */
TEST(get_small_buffer)
{
    kv_t *kv = util_fresh(store, "erange", 64, 16, 16);
    unsigned char buf[16], fresh[16];
    size_t len = 0;
    REQUIRE(kv);
    CHECK_EQ(util_put(kv, "k", "0123456789"), 0);
    memset(buf, 0xAA, sizeof buf);
    memcpy(fresh, buf, sizeof buf);
    CHECK_EQ(kv_get(kv, "k", 1, buf, 9, &len), KV_ERANGE);
    CHECK_EQ(len, 10);
    CHECK(memcmp(buf, fresh, sizeof buf) == 0);
    CHECK_EQ(kv_get(kv, "k", 1, buf, 10, &len), 0);
    CHECK(len == 10 && memcmp(buf, "0123456789", 10) == 0 && buf[10] == 0xAA);
    CHECK_EQ(kv_get(kv, "k", 1, buf, sizeof buf, NULL), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* cap 0 with a NULL buffer asks for the size. */
TEST(get_size_query)
{
    kv_t *kv = util_fresh(store, "sizeq", 64, 16, 16);
    size_t len = 0;
    REQUIRE(kv);
    CHECK_EQ(util_put(kv, "ten", "0123456789"), 0);
    CHECK_EQ(util_put(kv, "none", ""), 0);
    CHECK_EQ(kv_get(kv, "ten", 3, NULL, 0, &len), KV_ERANGE);
    CHECK_EQ(len, 10);
    len = 99;
    CHECK_EQ(kv_get(kv, "none", 4, NULL, 0, &len), 0);
    CHECK_EQ(len, 0);
    CHECK_EQ(kv_get(kv, "gone", 4, NULL, 0, &len), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(empty_values)
{
    kv_t *kv = util_fresh(store, "empty", 64, 16, 16);
    uint64_t n = 0;
    REQUIRE(kv);
    CHECK_EQ(kv_put(kv, "null", 4, NULL, 0, 0), 0);
    CHECK_EQ(kv_put(kv, "ptr", 3, "x", 0, 0), 0);
    CHECK(util_has(kv, "null", 4, "", 0));
    CHECK(util_has(kv, "ptr", 3, "", 0));
    CHECK_EQ(util_put(kv, "ptr", "now full"), 0);
    CHECK_EQ(kv_put(kv, "ptr", 3, NULL, 0, 0), 0);
    CHECK(util_has(kv, "ptr", 3, "", 0));
    CHECK_EQ(kv_count(kv, &n), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(util_for_each(kv, NULL, NULL), 2);
    /* Empty values need no value buffer at all, when iterating either. */
    char k[8];
    uint64_t cursor = 0;
    kv_entry_t e = { k, sizeof k, 0, NULL, 0, 0 };
    CHECK_EQ(kv_next(kv, &cursor, &e), 0);
    CHECK_EQ(kv_next(kv, &cursor, &e), 0);
    CHECK_EQ(kv_next(kv, &cursor, &e), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Keys and values are byte strings: NUL bytes are data, and keys that
 * differ only after a NUL are different keys. */
TEST(binary_keys_values)
{
    static const struct { const char *k; size_t len; } keys[] = {
        {"a", 1}, {"a\0b", 3}, {"a\0c", 3}, {"\0", 1}, {"\0\0", 2}, {"a\0", 2},
    };
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    unsigned char val[256];
    kv_t *kv = util_fresh(store, "binary", 64, 8, 256);
    REQUIRE(kv);
    for (unsigned i = 0; i < 256; i++)
        val[i] = (unsigned char)i;
    for (unsigned i = 0; i < NKEYS; i++)
        CHECK_EQ(kv_put(kv, keys[i].k, keys[i].len, val + i, 256 - i, 0), 0);
    CHECK_EQ(kv_del(kv, "a\0b", 3), 0);
    for (unsigned i = 0; i < NKEYS; i++) {
        if (i == 1)
            CHECK_EQ(kv_get(kv, keys[i].k, keys[i].len, NULL, 0, NULL), KV_ENOTFOUND);
        else
            CHECK(util_has(kv, keys[i].k, keys[i].len, val + i, 256 - i));
    }
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(count_and_clear)
{
    kv_t *kv = util_fresh(store, "clear", 256, 16, 64);
    uint64_t n = 0;
    kv_stats_t st;
    REQUIRE(kv);
    REQUIRE_EQ(util_fill(kv, "c", 100), 0);
    CHECK_EQ(kv_count(kv, &n), 0);
    CHECK_EQ(n, 100);
    CHECK_EQ(kv_clear(kv), 0);
    CHECK_EQ(kv_count(kv, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(kv_get(kv, "c7", 2, NULL, 0, NULL), KV_ENOTFOUND);
    CHECK_EQ(util_for_each(kv, NULL, NULL), 0);
    STATS(kv, st);
    CHECK_EQ(st.used, 0);
    CHECK_EQ(kv_clear(kv), 0);
    REQUIRE_EQ(util_fill(kv, "c", 100), 0);
    CHECK_EQ(util_verify(kv, "c", 100), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Iteration                                                                */
/* ------------------------------------------------------------------------ */

enum { ITER_N = 500 };

/* Marks fixture entry "i<n>" as seen; counts duplicates, strangers and
 * wrong values in seen[ITER_N]. */
static int mark_seen(void *ctx, const void *key, size_t key_len, const void *val,
                     size_t val_len)
{
    unsigned *seen = ctx;
    char k[64], v[64];
    uint32_t i = key_index(key, key_len);
    size_t kl = util_fixture_key(k, "i", i < ITER_N ? i : 0);
    size_t vl = util_fixture_val(v, "i", i < ITER_N ? i : 0);
    if (i >= ITER_N || kl != key_len || memcmp(k, key, kl) != 0 || vl != val_len ||
        memcmp(v, val, vl) != 0)
        seen[ITER_N]++;
    else
        seen[i]++;
    return 0;
}

TEST(iterate_all)
{
    static unsigned seen[ITER_N + 1];
    kv_t *kv = util_fresh(store, "iter", 1024, 16, 64);
    REQUIRE(kv);
    REQUIRE_EQ(util_fill(kv, "i", ITER_N), 0);
    memset(seen, 0, sizeof seen);
    CHECK_EQ(util_for_each(kv, mark_seen, seen), ITER_N);
    CHECK_EQ(seen[ITER_N], 0);
    for (unsigned i = 0; i < ITER_N; i++)
        CHECK_EQ(seen[i], 1);
    uint64_t cursor = UINT64_MAX;
    kv_entry_t e = { NULL, 0, 0, NULL, 0, 0 };
    CHECK_EQ(kv_next(kv, &cursor, &e), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Every step first asks with a 1-byte key buffer (all keys are longer):
 * KV_ERANGE with both lengths set and the cursor unchanged; then with room. */
TEST(iterate_small_buffers)
{
    kv_t *kv = util_fresh(store, "iters", 128, 16, 64);
    char k[64], v[64];
    uint64_t cursor = 0;
    unsigned visited = 0;
    REQUIRE(kv);
    REQUIRE_EQ(util_fill(kv, "s", 40), 0);
    for (;;) {
        uint64_t before = cursor;
        kv_entry_t small = { k, 1, 0, v, sizeof v, 0 };
        int rc = kv_next(kv, &cursor, &small);
        if (rc == KV_ENOTFOUND)
            break;
        REQUIRE_EQ(rc, KV_ERANGE);
        CHECK_EQ(cursor, before);
        kv_entry_t full = { k, sizeof k, 0, v, sizeof v, 0 };
        REQUIRE_EQ(kv_next(kv, &cursor, &full), 0);
        CHECK(cursor > before);
        CHECK_EQ(small.key_len, full.key_len);
        CHECK_EQ(small.val_len, full.val_len);
        REQUIRE(++visited <= 40);
    }
    CHECK_EQ(visited, 40);
    util_dispose(kv, store);
    TEST_DONE();
}

/* The same for a too-small value buffer. */
TEST(iterate_small_value)
{
    kv_t *kv = util_fresh(store, "iterv", 16, 16, 64);
    char k[16], v[16];
    uint64_t cursor = 0;
    REQUIRE(kv);
    CHECK_EQ(util_put(kv, "hello", "world!!"), 0);
    kv_entry_t e = { k, sizeof k, 0, v, 3, 0 };
    CHECK_EQ(kv_next(kv, &cursor, &e), KV_ERANGE);
    CHECK_EQ(cursor, 0);
    CHECK(e.key_len == 5 && e.val_len == 7);
    e.val_cap = 7;
    CHECK_EQ(kv_next(kv, &cursor, &e), 0);
    CHECK(memcmp(k, "hello", 5) == 0 && memcmp(v, "world!!", 7) == 0);
    CHECK_EQ(kv_next(kv, &cursor, &e), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

enum { KO_N = 64, KO_VAL_MAX = 8192 };

/* Value length of keys-only entry i: every 8th the largest the store takes,
 * the next one empty, the rest spread over 1..KO_VAL_MAX-1. */
static size_t keys_only_len(unsigned i)
{
    return i % 8 == 0 ? KO_VAL_MAX : i % 8 == 1 ? 0 : 1 + (i * 131u) % (KO_VAL_MAX - 1);
}

/* With no value buffer (val NULL, val_cap 0) kv_next copies only the key:
 * every key comes back once with its value's length, and values far larger
 * than the missing buffer never give KV_ERANGE.  A key buffer that is too
 * small still does, with the cursor unchanged. */
TEST(iterate_keys_only)
{
    static unsigned char val[KO_VAL_MAX];
    unsigned seen[KO_N + 1];
    kv_t *kv = util_fresh(store, "keysonly", 256, 16, KO_VAL_MAX);
    char k[64], want[64];
    uint64_t cursor = 0;
    REQUIRE(kv);
    memset(val, 'v', sizeof val);
    memset(seen, 0, sizeof seen);
    for (unsigned i = 0; i < KO_N; i++)
        REQUIRE_EQ(kv_put(kv, k, util_fixture_key(k, "o", i), val, keys_only_len(i), 0), 0);
    for (;;) {
        uint64_t before = cursor;
        kv_entry_t e = { k, sizeof k, 0, NULL, 0, SIZE_MAX };
        int rc = kv_next(kv, &cursor, &e);
        if (rc == KV_ENOTFOUND)
            break;
        REQUIRE_EQ(rc, 0);
        REQUIRE(cursor > before);
        uint32_t i = key_index(k, e.key_len);
        if (i >= KO_N || util_fixture_key(want, "o", i) != e.key_len ||
            memcmp(want, k, e.key_len) != 0 || e.val_len != keys_only_len(i))
            seen[KO_N]++;
        else
            seen[i]++;
    }
    CHECK_EQ(seen[KO_N], 0);
    for (unsigned i = 0; i < KO_N; i++)
        CHECK_EQ(seen[i], 1);
    cursor = 0;
    kv_entry_t tiny = { k, 1, 0, NULL, 0, SIZE_MAX };
    CHECK_EQ(kv_next(kv, &cursor, &tiny), KV_ERANGE);
    CHECK_EQ(cursor, 0);
    CHECK(tiny.key_len >= 2 && tiny.val_len <= KO_VAL_MAX);
    util_dispose(kv, store);
    TEST_DONE();
}

/* A NULL value buffer with a nonzero capacity is a caller error, not keys-only
 * mode: KV_EINVAL, the cursor unchanged. */
TEST(iterate_keys_only_bad_cap)
{
    kv_t *kv = util_fresh(store, "keyscap", 16, 16, 64);
    char k[16];
    uint64_t cursor = 0;
    REQUIRE(kv);
    CHECK_EQ(util_put(kv, "key", "value"), 0);
    kv_entry_t e = { k, sizeof k, 0, NULL, 1, 0 };
    CHECK_EQ(kv_next(kv, &cursor, &e), KV_EINVAL);
    CHECK_EQ(cursor, 0);
    e.val_cap = 64;
    CHECK_EQ(kv_next(kv, &cursor, &e), KV_EINVAL);
    CHECK_EQ(cursor, 0);
    e.val_cap = 0;
    CHECK_EQ(kv_next(kv, &cursor, &e), 0);
    CHECK(e.key_len == 3 && memcmp(k, "key", 3) == 0 && e.val_len == 5);
    CHECK_EQ(kv_next(kv, &cursor, &e), KV_ENOTFOUND);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Handles and backing                                                      */
/* ------------------------------------------------------------------------ */

TEST(read_only_handle)
{
    kv_t *kv = util_fresh(store, "rdonly", 64, 16, 64), *ro = NULL;
    uint64_t n = 0;
    REQUIRE(kv);
    REQUIRE_EQ(util_fill(kv, "r", 10), 0);
    REQUIRE_EQ(kv_open(&ro, store, 0, NULL), 0);
    CHECK_EQ(kv_created(ro), 0);
    CHECK_EQ(util_verify(ro, "r", 10), 0);
    CHECK_EQ(util_put(ro, "r1", "changed"), KV_ERDONLY);
    CHECK_EQ(util_put(ro, "new", "x"), KV_ERDONLY);
    CHECK_EQ(kv_del(ro, "r1", 2), KV_ERDONLY);
    CHECK_EQ(kv_clear(ro), KV_ERDONLY);
    CHECK_EQ(kv_count(ro, &n), 0);
    CHECK_EQ(n, 10);
    CHECK_EQ(util_verify(kv, "r", 10), 0);
    kv_close(ro);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Counts the entries kv_next returns (keys only). */
static long count_entries(kv_t *kv)
{
    char k[64];
    uint64_t cursor = 0;
    long n = 0;
    kv_entry_t e = { k, sizeof k, 0, NULL, 0, 0 };
    while (kv_next(kv, &cursor, &e) == 0)
        n++;
    return n;
}

/* A file store through a read-only handle: every read works (get, next,
 * count, ttl, stats, wait), kv_flush too, and every call that writes is
 * KV_ERDONLY and changes nothing.  The file is made read-only first (chmod
 * 0444; on Windows the read-only attribute), which a read-only handle
 * opens and a writable one cannot (unless POSIX root, who may write it). */
TEST(read_only_file_handle)
{
    char dir[512], path[600], report[64];
    kv_options_t o = util_options(64, 16, 64);
    kv_t *kv = NULL, *ro = NULL;
    kv_stats_t st;
    uint64_t n = 0, g = 0, g2 = 0, purged = 0;
    int64_t ttl = 0, result = 0;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/ro.kv", dir);
    o.mode = 0644;
    REQUIRE_EQ(kv_open(&kv, path, KV_RDWR | KV_CREATE, &o), 0);
    REQUIRE_EQ(util_fill(kv, "r", 10), 0);
    REQUIRE_EQ(util_put_ttl(kv, "t", "1", 600000), 0);
    kv_close(kv);
    REQUIRE_EQ(chmod(path, 0444), 0);
    int rc = kv_open(&kv, path, KV_RDWR, NULL);
    CHECK(rc == KV_EPERM || (TEST_POSIX && geteuid() == 0 && rc == 0));
    if (rc == 0)
        kv_close(kv);
    REQUIRE_EQ(kv_open(&ro, path, 0, NULL), 0);
    CHECK_EQ(util_verify(ro, "r", 10), 0);
    CHECK_EQ(kv_count(ro, &n), 0);
    CHECK_EQ(n, 11);
    CHECK_EQ(count_entries(ro), 11);
    CHECK(kv_ttl(ro, "t", 1, &ttl) == 0 && ttl > 0);
    STATS(ro, st);
    CHECK_EQ(st.read_mode, KV_READ_ONLY);
    CHECK_EQ(kv_generation(ro, &g), 0);
    CHECK_EQ(kv_wait(ro, g, 30, &g2), 0); /* nothing changes: it times out */
    CHECK_EQ(g2, g);
    CHECK_EQ(kv_flush(ro), 0);
    CHECK_EQ(util_put(ro, "r1", "changed"), KV_ERDONLY);
    CHECK_EQ(util_put(ro, "new", "x"), KV_ERDONLY);
    CHECK_EQ(kv_del(ro, "r1", 2), KV_ERDONLY);
    CHECK_EQ(kv_incr(ro, "t", 1, 1, &result), KV_ERDONLY);
    CHECK_EQ(kv_purge_expired(ro, &purged), KV_ERDONLY);
    CHECK_EQ(kv_clear(ro), KV_ERDONLY);
    CHECK_EQ(kv_check(ro, report, sizeof report), KV_ERDONLY);
    CHECK(util_has_str(ro, "t", "1"));
    CHECK_EQ(kv_close(ro), 0);
    REQUIRE_EQ(chmod(path, 0600), 0);
    REQUIRE_EQ(kv_open(&kv, path, KV_RDWR, NULL), 0);
    CHECK_EQ(util_verify(kv, "r", 10), 0);
    CHECK(util_has_str(kv, "t", "1"));
    CHECK_EQ(kv_check(kv, report, sizeof report), 0);
    kv_close(kv);
    CHECK_EQ(kv_unlink(path), 0);
    util_rmdir(dir);
    TEST_DONE();
}

TEST(file_backed_persists)
{
    char dir[512], path[600];
    kv_t *kv = NULL;
    struct stat sb;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/store.kv", dir);
    REQUIRE_EQ(util_create(&kv, path, 256, 16, 64), 0);
    CHECK_EQ(kv_created(kv), 1);
    CHECK_EQ(util_fill(kv, "f", 100), 0);
    CHECK_EQ(kv_flush(kv), 0);
    kv_close(kv);
    /* On Windows stat()'s permission bits only mirror the read-only attribute. */
    CHECK(stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
          (!TEST_POSIX || (sb.st_mode & 0777) == 0600));
    REQUIRE_EQ(kv_open(&kv, path, KV_RDWR, NULL), 0);
    CHECK_EQ(kv_created(kv), 0);
    CHECK_EQ(util_verify(kv, "f", 100), 0);
    kv_close(kv);
    CHECK_EQ(kv_unlink(path), 0);
    CHECK(stat(path, &sb) != 0);
    util_rmdir(dir);
    TEST_DONE();
}

/* Returns the lowest free file descriptor: unchanged across a loop of
 * open/close exactly when the loop leaks none. */
static int lowest_free_fd(void)
{
    int fd = dup(0);
    if (fd >= 0)
        close(fd);
    return fd;
}

/* Opening and closing handles (attach and create, named and file-backed)
 * leaks no file descriptors. */
TEST(open_close_no_leak)
{
    char dir[512], path[600];
    kv_t *kv = util_fresh(store, "leak", 16, 8, 8), *h = NULL;
    REQUIRE(kv);
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/leak.kv", dir);
    int before = lowest_free_fd();
    for (int i = 0; i < 300; i++) {
        REQUIRE_EQ(kv_open(&h, store, KV_RDWR, NULL), 0);
        kv_close(h);
        REQUIRE_EQ(kv_open(&h, path, KV_RDWR | KV_CREATE, NULL), 0);
        kv_close(h);
    }
    CHECK_EQ(lowest_free_fd(), before);
    kv_unlink(path);
    util_rmdir(dir);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(flush_named_memory)
{
    kv_t *kv = util_fresh(store, "flush", 16, 8, 8);
    REQUIRE(kv);
    CHECK_EQ(kv_flush(kv), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Stats, full tables, tombstones                                           */
/* ------------------------------------------------------------------------ */

TEST(stats_fields)
{
    kv_t *kv = util_fresh(store, "stats", 1000, 32, 100);
    kv_stats_t st;
    REQUIRE(kv);
    STATS(kv, st);
    CHECK_EQ(st.slots, 1024);
    CHECK(st.used == 0 && st.tombstones == 0 && st.load_factor == 0.0);
    CHECK(st.key_max == 32 && st.val_max == 100);
    CHECK(st.total_bytes >= 1024u * (16u + 32u + 100u));
    CHECK_EQ(st.layout_version, KV_LAYOUT_VERSION);
    CHECK(st.recoveries == 0 && st.lock_timeouts == 0);
    CHECK(st.holder_pid == 0 && st.holder_since_ms == 0);
    REQUIRE_EQ(util_fill(kv, "s", 100), 0);
    STATS(kv, st);
    CHECK_EQ(st.used, 100);
    double off = st.load_factor - 100.0 / 1024.0;
    CHECK(off < 1e-9 && off > -1e-9);
    CHECK(st.avg_probe >= 1.0 && (double)st.max_probe >= st.avg_probe);
    CHECK(st.max_probe >= 1 && st.max_probe <= 100);
    for (unsigned i = 0; i < 10; i++) {
        char k[64];
        CHECK_EQ(kv_del(kv, k, util_fixture_key(k, "s", i)), 0);
    }
    STATS(kv, st);
    CHECK_EQ(st.used, 90);
    CHECK(st.tombstones <= 10);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Every change bumps the generation once; failed calls and reads do not. */
TEST(generation_counts_changes)
{
    kv_t *kv = util_fresh(store, "gen", 64, 8, 8);
    REQUIRE(kv);
    uint64_t g = util_generation(kv);
    CHECK_EQ(util_put(kv, "a", "1"), 0);
    CHECK_EQ(util_generation(kv), g + 1);
    CHECK_EQ(util_put(kv, "a", "2"), 0);
    CHECK_EQ(util_generation(kv), g + 2);
    CHECK_EQ(kv_del(kv, "a", 1), 0);
    CHECK_EQ(util_generation(kv), g + 3);
    CHECK_EQ(util_put(kv, "b", "1"), 0);
    CHECK_EQ(kv_put(kv, "b", 1, "2", 1, KV_NOREPLACE), KV_EEXIST);
    CHECK_EQ(kv_del(kv, "zz", 2), KV_ENOTFOUND);
    CHECK_EQ(util_put(kv, "b", "too long a value"), KV_ETOOBIG);
    CHECK_EQ(kv_get(kv, "b", 1, NULL, 0, NULL), KV_ERANGE);
    CHECK_EQ(util_generation(kv), g + 4);
    CHECK_EQ(kv_clear(kv), 0);
    CHECK(util_generation(kv) > g + 4);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Fills a 16-slot store to KV_EFULL and checks that the refused put changed
 * nothing, that replacing still works, and that a delete makes room. */
TEST(full_table)
{
    kv_t *kv = util_fresh(store, "full", 16, 16, 64);
    char k[64];
    unsigned n = 0;
    uint64_t count = 0;
    int rc = 0;
    REQUIRE(kv);
    while (n < 64 && (rc = kv_put(kv, k, util_fixture_key(k, "f", n), "", 0, 0)) == 0)
        n++;
    CHECK_EQ(rc, KV_EFULL);
    CHECK(n >= 15 && n <= 16);
    REQUIRE_EQ(util_fill(kv, "f", n), 0);
    uint64_t g = util_generation(kv);
    CHECK_EQ(util_put(kv, "extra", "x"), KV_EFULL);
    CHECK_EQ(kv_put(kv, "extra", 5, "x", 1, KV_NOREPLACE), KV_EFULL);
    CHECK_EQ(kv_get(kv, "extra", 5, NULL, 0, NULL), KV_ENOTFOUND);
    CHECK_EQ(kv_del(kv, "extra", 5), KV_ENOTFOUND);
    CHECK_EQ(util_generation(kv), g);
    CHECK_EQ(kv_count(kv, &count), 0);
    CHECK_EQ(count, n);
    CHECK_EQ(util_verify(kv, "f", n), 0);
    CHECK_EQ(util_put(kv, "f3", "replaced"), 0);
    CHECK(util_has(kv, "f3", 2, "replaced", 8));
    CHECK_EQ(kv_del(kv, "f3", 2), 0);
    CHECK_EQ(util_put(kv, "extra", "x"), 0);
    CHECK(util_has(kv, "extra", 5, "x", 1));
    CHECK_EQ(util_verify(kv, "f", 3), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* Re-inserting a deleted key takes its tombstone back. */
TEST(tombstone_reuse)
{
    kv_t *kv = util_fresh(store, "tomb", 64, 8, 8);
    kv_stats_t st;
    REQUIRE(kv);
    CHECK_EQ(util_put(kv, "a", "1"), 0);
    CHECK_EQ(kv_del(kv, "a", 1), 0);
    STATS(kv, st);
    CHECK(st.used == 0 && st.tombstones <= 1);
    CHECK_EQ(util_put(kv, "a", "2"), 0);
    STATS(kv, st);
    CHECK(st.used == 1 && st.tombstones == 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* A sliding window of 32 live keys over 20,000 distinct keys in 64 slots:
 * tombstones must be reused, so no put ever sees KV_EFULL. */
TEST(churn_never_full)
{
    enum { WINDOW = 32, ROUNDS = 20000 };
    kv_t *kv = util_fresh(store, "churn", 64, 16, 8);
    kv_stats_t st;
    char k[64];
    REQUIRE(kv);
    for (unsigned i = 0; i < ROUNDS; i++) {
        REQUIRE_EQ(kv_put(kv, k, util_fixture_key(k, "c", i), "v", 1, 0), 0);
        if (i >= WINDOW)
            REQUIRE_EQ(kv_del(kv, k, util_fixture_key(k, "c", i - WINDOW)), 0);
    }
    STATS(kv, st);
    CHECK_EQ(st.used, WINDOW);
    CHECK(st.used + st.tombstones <= 64);
    CHECK(st.max_probe <= 64);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Differential test against an in-memory model                             */
/* ------------------------------------------------------------------------ */

enum { D_KEYS = 2000, D_KEY_MAX = 48, D_VAL_MAX = 200, D_OPS = 100000, D_SLOTS = 4096 };

typedef struct model_entry {
    uint8_t present;
    uint16_t len;
    unsigned char val[D_VAL_MAX];
} model_entry_t;

static model_entry_t model[D_KEYS];

/* Key i: "k<i>", then (for 3 of 4 keys) a NUL and filler bytes, up to
 * D_KEY_MAX; the NUL after the digits keeps every key distinct. */
static size_t diff_key(unsigned i, unsigned char *buf)
{
    size_t n = (size_t)snprintf((char *)buf, D_KEY_MAX, "k%u", i), len = n;
    if (i % 4 == 1)
        len = D_KEY_MAX;
    else if (i % 4 != 0)
        len = n + 1 + (i * 13u) % (D_KEY_MAX - n);
    for (size_t j = n; j < len; j++)
        buf[j] = j == n ? 0 : (unsigned char)(i * 31u + j);
    return len;
}

/* A random value: 1 in 10 empty, 1 in 10 of the largest size. */
static size_t diff_val(uint64_t *rng, unsigned char *buf)
{
    uint64_t r = util_rand(rng);
    size_t len = r % 10 == 0 ? 0 : r % 10 == 1 ? D_VAL_MAX : (size_t)((r >> 8) % (D_VAL_MAX + 1));
    for (size_t j = 0; j < len; j++)
        buf[j] = (unsigned char)util_rand(rng);
    return len;
}

/* Applies one random operation to the store and the model; returns 1 when
 * the store's answer agrees with the model's. */
static int diff_step(kv_t *kv, uint64_t *rng)
{
    unsigned char key[D_KEY_MAX], val[D_VAL_MAX], got[D_VAL_MAX];
    unsigned i = (unsigned)(util_rand(rng) % D_KEYS), op = (unsigned)(util_rand(rng) % 100);
    size_t kl = diff_key(i, key), gl = 0;
    model_entry_t *m = &model[i];
    if (op < 45 || (op < 55 && !m->present)) {
        size_t vl = diff_val(rng, val);
        int rc = kv_put(kv, key, kl, val, vl, op < 45 ? 0 : KV_NOREPLACE);
        m->present = 1;
        m->len = (uint16_t)vl;
        memcpy(m->val, val, vl);
        return rc == 0;
    }
    if (op < 55) {
        int rc = kv_put(kv, key, kl, "x", 1, KV_NOREPLACE);
        return rc == KV_EEXIST;
    }
    if (op < 75) {
        int rc = kv_del(kv, key, kl);
        int ok = rc == (m->present ? 0 : KV_ENOTFOUND);
        m->present = 0;
        return ok;
    }
    int rc = kv_get(kv, key, kl, got, sizeof got, &gl);
    if (!m->present)
        return rc == KV_ENOTFOUND;
    return rc == 0 && gl == m->len && memcmp(got, m->val, gl) == 0;
}

/* Checks one iterated entry against the model; counts it in seen[]. */
static int diff_visit(void *ctx, const void *key, size_t key_len, const void *val,
                      size_t val_len)
{
    unsigned *seen = ctx;
    unsigned char want[D_KEY_MAX];
    uint32_t i = key_index(key, key_len);
    if (i >= D_KEYS || diff_key(i, want) != key_len || memcmp(want, key, key_len) != 0 ||
        !model[i].present || model[i].len != val_len ||
        memcmp(model[i].val, val, val_len) != 0) {
        seen[D_KEYS]++;
        return 0;
    }
    seen[i]++;
    return 0;
}

/* Compares the whole store with the model through iteration. */
static unsigned diff_compare_all(kv_t *kv)
{
    static unsigned seen[D_KEYS + 1];
    unsigned bad = 0, live = 0;
    memset(seen, 0, sizeof seen);
    long long n = util_for_each(kv, diff_visit, seen);
    for (unsigned i = 0; i < D_KEYS; i++) {
        live += model[i].present;
        bad += seen[i] != (unsigned)model[i].present;
    }
    if (n != (long long)live || seen[D_KEYS] || bad)
        fprintf(stderr, "  iteration: %lld entries, model %u, %u wrong, %u missing/dup\n",
                n, live, seen[D_KEYS], bad);
    return bad + seen[D_KEYS] + (n != (long long)live);
}

TEST(differential)
{
    kv_t *kv = util_fresh(store, "diff", D_SLOTS, D_KEY_MAX, D_VAL_MAX);
    uint64_t rng = test_rng("ops"), count = 0;
    unsigned live = 0;
    REQUIRE(kv);
    memset(model, 0, sizeof model);
    for (unsigned op = 0; op < D_OPS; op++) {
        if (!diff_step(kv, &rng)) {
            fprintf(stderr, "  op %u disagrees with the model\n", op);
            REQUIRE(0);
        }
    }
    for (unsigned i = 0; i < D_KEYS; i++)
        live += model[i].present;
    CHECK_EQ(kv_count(kv, &count), 0);
    CHECK_EQ(count, live);
    CHECK_EQ(diff_compare_all(kv), 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Threads sharing one handle                                               */
/* ------------------------------------------------------------------------ */

enum { T_THREADS = 4, T_KEYS = 2000 };

typedef struct thread_arg {
    kv_t *kv;
    unsigned id;
    unsigned failures;
} thread_arg_t;

/* Thread t's family prefix: "t<t>-". */
static void thread_prefix(char *buf, unsigned t)
{
    snprintf(buf, 16, "t%u-", t);
}

/* Puts, reads back, replaces and deletes this thread's own keys: the
 * fixture family, then every 5th key removed. */
static void *thread_body(void *p)
{
    thread_arg_t *a = p;
    char prefix[16], k[64];
    thread_prefix(prefix, a->id);
    a->failures += util_put(a->kv, "shared-key", prefix) != 0;
    for (unsigned i = 0; i < T_KEYS; i++)
        a->failures += kv_put(a->kv, k, util_fixture_key(k, prefix, i), "old", 3, 0) != 0;
    a->failures += util_fill(a->kv, prefix, T_KEYS) != 0;
    a->failures += util_verify(a->kv, prefix, T_KEYS);
    for (unsigned i = 0; i < T_KEYS; i += 5)
        a->failures += kv_del(a->kv, k, util_fixture_key(k, prefix, i)) != 0;
    return NULL;
}

/* Returns how many of thread t's keys are not in their final state. */
static unsigned thread_final_errors(kv_t *kv, unsigned t)
{
    char prefix[16], k[64], v[64];
    unsigned bad = 0;
    thread_prefix(prefix, t);
    for (unsigned i = 0; i < T_KEYS; i++) {
        size_t kl = util_fixture_key(k, prefix, i), vl = util_fixture_val(v, prefix, i);
        if (i % 5 == 0)
            bad += kv_get(kv, k, kl, NULL, 0, NULL) != KV_ENOTFOUND;
        else
            bad += !util_has(kv, k, kl, v, vl);
    }
    return bad;
}

TEST(threads_disjoint)
{
    kv_t *kv = util_fresh(store, "threads", 16384, 16, 64);
    pthread_t th[T_THREADS];
    thread_arg_t args[T_THREADS];
    uint64_t count = 0;
    REQUIRE(kv);
    for (unsigned t = 0; t < T_THREADS; t++) {
        args[t] = (thread_arg_t){ kv, t, 0 };
        REQUIRE_EQ(pthread_create(&th[t], NULL, thread_body, &args[t]), 0);
    }
    for (unsigned t = 0; t < T_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ(args[t].failures, 0);
        CHECK_EQ(thread_final_errors(kv, t), 0);
    }
    CHECK_EQ(kv_count(kv, &count), 0);
    CHECK_EQ(count, T_THREADS * (T_KEYS - T_KEYS / 5) + 1);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(create_then_attach),
    TEST_ENTRY(excl_on_existing),
    TEST_ENTRY(open_missing),
    TEST_ENTRY(unlink_and_recreate),
    TEST_ENTRY(slot_rounding),
    TEST_ENTRY(attach_uses_store_geometry),
    TEST_ENTRY(info_matches_stats),
    TEST_ENTRY(info_invalid_args),
    TEST_ENTRY(file_mode_exact),
    TEST_ENTRY(create_mode_exact_named_and_file),
#ifdef __linux__
    TEST_ENTRY(shm_object_private),
#endif
    TEST_ENTRY(put_get_replace_delete),
    TEST_ENTRY(noreplace),
    TEST_ENTRY(get_small_buffer),
    TEST_ENTRY(get_size_query),
    TEST_ENTRY(empty_values),
    TEST_ENTRY(binary_keys_values),
    TEST_ENTRY(count_and_clear),
    TEST_ENTRY(iterate_all),
    TEST_ENTRY(iterate_small_buffers),
    TEST_ENTRY(iterate_small_value),
    TEST_ENTRY(iterate_keys_only),
    TEST_ENTRY(iterate_keys_only_bad_cap),
    TEST_ENTRY(read_only_handle),
    TEST_ENTRY(read_only_file_handle),
    TEST_ENTRY(file_backed_persists),
    TEST_ENTRY(open_close_no_leak),
    TEST_ENTRY(flush_named_memory),
    TEST_ENTRY(stats_fields),
    TEST_ENTRY(generation_counts_changes),
    TEST_ENTRY(full_table),
    TEST_ENTRY(tombstone_reuse),
    TEST_ENTRY(churn_never_full),
    TEST_ENTRY(differential),
    TEST_ENTRY(threads_disjoint),
};

int main(int argc, char **argv)
{
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
