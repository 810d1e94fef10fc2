/*
 * badinput_test.c — every bad input gets its own clear error and changes
 * nothing.
 *
 * Three kinds of bad input are covered.  Bad arguments (empty or oversized
 * keys and values, NULL pointers, impossible geometry, bad names, unknown
 * flags) are tried against a fixture store that holds known entries; after
 * each one the fixture must be exactly as it was, generation included.  Bad
 * files (empty, random bytes, a truncated store, a real store with one header
 * field damaged) must be refused with KV_ECORRUPT or KV_EVERSION and left
 * byte-for-byte as they were, even when opened with KV_CREATE.  Damaged slots
 * inside an otherwise valid store must be reported by kv_check and must never
 * crash a get, an iteration or a put.  Finally, a store created 0600 must be
 * closed to another user (KV_EPERM): as root through a helper process that
 * drops to "nobody", otherwise with a file-backed store chmod'ed 0000.  A
 * lock holder that died is the crash tests' subject, not this file's.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv.h"
#include "layout.h"
#include "spawn.h"
#include "test.h"
#include "util.h"

enum { FIX_N = 20, FIX_SLOTS = 64, FIX_KEY_MAX = 16, FIX_VAL_MAX = 64 };
#define FIX_PREFIX "b"
#define SKIP_EXIT 77 /* a role's exit code for "cannot run here" */

static char store[256];    /* the running case's store name */
static uint64_t snap_gen;  /* the fixture's generation when last known good */

/* ------------------------------------------------------------------------ */
/* The fixture                                                              */
/* ------------------------------------------------------------------------ */

/* Creates the case's store holding FIX_N fixture entries. */
static kv_t *fixture(void)
{
    kv_t *kv = util_fresh(store, "bad", FIX_SLOTS, FIX_KEY_MAX, FIX_VAL_MAX);
    if (kv && util_fill(kv, FIX_PREFIX, FIX_N) != 0) {
        util_dispose(kv, store);
        return NULL;
    }
    snap_gen = kv ? util_generation(kv) : 0;
    return kv;
}

/* Returns 1 if the fixture entries, the count and the generation are all as
 * they were at the last fixture(), else says what changed and returns 0. */
static int intact(kv_t *kv)
{
    uint64_t n = 0, g = util_generation(kv);
    unsigned wrong = util_verify(kv, FIX_PREFIX, FIX_N);
    int rc = kv_count(kv, &n);
    if (wrong == 0 && rc == 0 && n == FIX_N && g == snap_gen)
        return 1;
    fprintf(stderr, "  fixture changed: %u entries wrong, count %llu (rc %d), "
            "generation %llu -> %llu\n", wrong, (unsigned long long)n, rc,
            (unsigned long long)snap_gen, (unsigned long long)g);
    return 0;
}

/* Checks one bad call's result and then the fixture. */
#define CHECK_BAD(kv, call, want) do { CHECK_EQ((call), (want)); CHECK(intact(kv)); } while (0)

/* ------------------------------------------------------------------------ */
/* Bad arguments                                                            */
/* ------------------------------------------------------------------------ */

TEST(empty_key)
{
    kv_t *kv = fixture();
    REQUIRE(kv);
    CHECK_BAD(kv, kv_put(kv, "b1", 0, "v", 1, 0), KV_EINVAL);
    CHECK_BAD(kv, kv_put(kv, NULL, 0, "v", 1, 0), KV_EINVAL);
    CHECK_BAD(kv, kv_get(kv, "b1", 0, NULL, 0, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_del(kv, "b1", 0), KV_EINVAL);
    CHECK_BAD(kv, kv_del(kv, NULL, 0), KV_EINVAL);
    util_dispose(kv, store);
    TEST_DONE();
}

/* NULL where a pointer with a nonzero length (or a handle) is needed. */
TEST(null_pointers)
{
    kv_t *kv = fixture(), *other = NULL;
    char buf[8];
    uint64_t n, cursor = 0;
    kv_stats_t st;
    kv_entry_t e = { NULL, 8, 0, buf, sizeof buf, 0 };
    REQUIRE(kv);
    CHECK_EQ(kv_open(NULL, store, KV_RDWR, NULL), KV_EINVAL);
    CHECK_EQ(kv_open(&other, NULL, KV_RDWR | KV_CREATE, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_put(kv, NULL, 2, "v", 1, 0), KV_EINVAL);
    CHECK_BAD(kv, kv_put(kv, "b1", 2, NULL, 1, 0), KV_EINVAL);
    CHECK_BAD(kv, kv_get(kv, NULL, 2, buf, sizeof buf, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_get(kv, "b1", 2, NULL, 8, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_del(kv, NULL, 2), KV_EINVAL);
    CHECK_BAD(kv, kv_next(kv, &cursor, &e), KV_EINVAL);
    CHECK_BAD(kv, kv_next(kv, NULL, &e), KV_EINVAL);
    CHECK_BAD(kv, kv_next(kv, &cursor, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_count(kv, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_stats(kv, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_check(kv, NULL, 100), KV_EINVAL); /* as kv_get: NULL only with cap 0 */
    CHECK_BAD(kv, kv_check(kv, NULL, 0), 0);
    CHECK_EQ(kv_put(NULL, "k", 1, "v", 1, 0), KV_EINVAL);
    CHECK_EQ(kv_get(NULL, "k", 1, buf, sizeof buf, NULL), KV_EINVAL);
    CHECK_EQ(kv_del(NULL, "k", 1), KV_EINVAL);
    CHECK_EQ(kv_count(NULL, &n), KV_EINVAL);
    CHECK_EQ(kv_clear(NULL), KV_EINVAL);
    CHECK_EQ(kv_next(NULL, &cursor, &e), KV_EINVAL);
    CHECK_EQ(kv_stats(NULL, &st), KV_EINVAL);
    CHECK_EQ(kv_check(NULL, NULL, 0), KV_EINVAL);
    CHECK_EQ(kv_set_timeout(NULL, 10), KV_EINVAL);
    CHECK_EQ(kv_flush(NULL), KV_EINVAL);
    CHECK_EQ(kv_close(NULL), 0);
    int rc = kv_unlink(NULL);
    CHECK(rc == KV_EINVAL || rc == KV_ENAME);
    CHECK(intact(kv));
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(too_big)
{
    kv_t *kv = fixture();
    char big[FIX_VAL_MAX + 2];
    REQUIRE(kv);
    memset(big, 'x', sizeof big);
    CHECK_BAD(kv, kv_put(kv, big, FIX_KEY_MAX + 1, "v", 1, 0), KV_ETOOBIG);
    CHECK_BAD(kv, kv_get(kv, big, FIX_KEY_MAX + 1, NULL, 0, NULL), KV_ETOOBIG);
    CHECK_BAD(kv, kv_del(kv, big, FIX_KEY_MAX + 1), KV_ETOOBIG);
    CHECK_BAD(kv, kv_put(kv, "b1", 2, big, FIX_VAL_MAX + 1, 0), KV_ETOOBIG);
    CHECK_BAD(kv, kv_put(kv, "new", 3, big, FIX_VAL_MAX + 1, 0), KV_ETOOBIG);
    CHECK_BAD(kv, kv_put(kv, big, SIZE_MAX, "v", 1, 0), KV_ETOOBIG);
    CHECK_BAD(kv, kv_put(kv, "b1", 2, big, SIZE_MAX, 0), KV_ETOOBIG);
    /* Exactly at the limits is fine. */
    CHECK_EQ(kv_put(kv, big, FIX_KEY_MAX, big, FIX_VAL_MAX, 0), 0);
    CHECK(util_has(kv, big, FIX_KEY_MAX, big, FIX_VAL_MAX));
    util_dispose(kv, store);
    TEST_DONE();
}

/* Returns kv_open()'s result for creating `name` with one option changed
 * (closing the handle if it unexpectedly opened). */
/* Creates `name` with this geometry (memory and slots 0: derived) and
 * removes it again if that worked; returns kv_open's answer. */
static int open_with(const char *name, uint64_t memory, uint64_t slots, uint32_t key_max,
                     uint32_t val_max)
{
    kv_options_t o;
    kv_t *kv = NULL;
    kv_options_init(&o);
    o.memory = memory;
    o.slots = slots;
    o.key_max = key_max;
    o.val_max = val_max;
    int rc = kv_open(&kv, name, KV_RDWR | KV_CREATE, &o);
    if (rc == 0) {
        kv_close(kv);
        kv_unlink(name);
    }
    return rc;
}

TEST(bad_geometry)
{
    kv_t *kv = NULL;
    const char *name = test_name("geom");
    CHECK_EQ(open_with(name, 0, KV_SLOTS_MAX + 1, 16, 16), KV_EINVAL);
    CHECK_EQ(open_with(name, 0, UINT64_MAX, 16, 16), KV_EINVAL);
    CHECK_EQ(open_with(name, 0, 64, 0, 16), KV_EINVAL);
    CHECK_EQ(open_with(name, 0, 64, KV_KEY_MAX_LIMIT + 1, 16), KV_EINVAL);
    CHECK_EQ(open_with(name, 0, 64, UINT32_MAX, 16), KV_EINVAL);
    CHECK_EQ(open_with(name, 0, 64, 16, KV_VAL_MAX_LIMIT + 1), KV_EINVAL);
    CHECK_EQ(open_with(name, 0, 64, 16, UINT32_MAX), KV_EINVAL);
    /* Budgets: smaller than the header and the slots, or past the limit. */
    CHECK_EQ(open_with(name, KV_HEADER_SIZE + 64 * KV_SLOT_SIZE - 1, 64, 64, 1024), KV_EINVAL);
    CHECK_EQ(open_with(name, KV_MEMORY_MAX + 1, 0, 64, 1024), KV_EINVAL);
    CHECK_EQ(open_with(name, UINT64_MAX, 0, 64, 1024), KV_EINVAL);
    /* A budget-less store whose largest entries would overflow the data area. */
    CHECK_EQ(open_with(name, 0, KV_SLOTS_MAX, 16, KV_VAL_MAX_LIMIT), KV_EINVAL);
    CHECK_EQ(kv_open(&kv, name, 0, NULL), KV_ENOENT); /* nothing was left behind */
    CHECK_EQ(open_with(name, 0, 64, 16, 0), 0);          /* val_max 0 is allowed */
    CHECK_EQ(open_with(name, 0, 0, 16, 16), 0);          /* slots 0: derived */
    CHECK_EQ(open_with(name, KV_HEADER_SIZE + 64 * KV_SLOT_SIZE, 64, 64, 1024), 0); /* no data area */
    TEST_DONE();
}

/* Checks that `name` is refused with KV_ENAME by open and unlink. */
static void check_bad_name(const char *name)
{
    kv_t *kv = NULL;
    int rc = kv_open(&kv, name, KV_RDWR | KV_CREATE, NULL);
    if (rc == 0) {
        kv_close(kv);
        kv_unlink(name);
    }
    if (rc != KV_ENAME)
        fprintf(stderr, "  name \"%s\" gave %d\n", name, rc);
    CHECK_EQ(rc, KV_ENAME);
    CHECK_EQ(kv_unlink(name), KV_ENAME);
}

TEST(bad_names)
{
    static const char *const bad[] = {
        "", ".", "..", ".hidden", "a b", "a*b", "a\\b", "a:b", "a\nb", "caf\xc3\xa9",
        "a%b", "a?b", "tab\there",
    };
    char longest[KV_NAME_MAX + 2], path[KV_PATH_MAX + 3];
    kv_t *kv = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_bad_name(bad[i]);
    /* The longest plain name is fine, one more byte is not. */
    snprintf(longest, sizeof longest, "%s", test_name("long"));
    memset(longest + strlen(longest), 'x', KV_NAME_MAX - strlen(longest));
    longest[KV_NAME_MAX] = '\0';
    CHECK_EQ(kv_open(&kv, longest, KV_RDWR | KV_CREATE | KV_EXCL, NULL), 0);
    CHECK_EQ(kv_unlink(longest), 0); /* while open: on Windows it dies with its last handle */
    kv_close(kv);
    strcat(longest, "x");
    check_bad_name(longest);
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    check_bad_name(path);
    TEST_DONE();
}

TEST(unknown_flags)
{
    kv_t *kv = fixture(), *other = NULL;
    REQUIRE(kv);
    CHECK_EQ(kv_open(&other, store, KV_RDWR | (KV_OPTIMISTIC << 1), NULL), KV_EINVAL);
    CHECK_EQ(kv_open(&other, store, KV_RDWR | 0x80000000u, NULL), KV_EINVAL);
    CHECK_BAD(kv, kv_put(kv, "b1", 2, "v", 1, 0x2u), KV_EINVAL);
    CHECK_BAD(kv, kv_put(kv, "new", 3, "v", 1, 0x100u), KV_EINVAL);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(error_messages)
{
    for (int code = KV_ENOTFOUND; code >= KV_EOVERFLOW; code--) {
        const char *msg = kv_strerror(code);
        CHECK(msg && *msg && strcmp(msg, kv_strerror(12345)) != 0);
        for (int other = code + 1; other <= KV_ENOTFOUND; other++)
            CHECK(strcmp(msg, kv_strerror(other)) != 0);
    }
    CHECK(kv_strerror(0) != NULL && kv_strerror(-1000) != NULL);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Files that are not (sound) kv stores                                     */
/* ------------------------------------------------------------------------ */

static char dir[512], path[600]; /* the case's scratch directory and store file */

/* Makes the scratch directory and names the store file in it. */
static int scratch(void)
{
    if (util_tmpdir(dir, sizeof dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/store.kv", dir);
    return 0;
}

/* Creates a file-backed fixture store at `path`, closes it and returns its
 * bytes (malloc'd) in *len; NULL on failure. */
static unsigned char *store_image(size_t *len)
{
    kv_t *kv = NULL;
    if (util_create(&kv, path, FIX_SLOTS, FIX_KEY_MAX, FIX_VAL_MAX) != 0)
        return NULL;
    int rc = util_fill(kv, FIX_PREFIX, FIX_N);
    kv_close(kv);
    return rc == 0 ? util_read_file(path, len) : NULL;
}

/* Writes img to `path`, opens it with `flags` and checks the result is
 * `want` and the file is still byte-for-byte img.  Returns 1 if so. */
static int refused(const void *img, size_t len, unsigned flags, int want, const char *what)
{
    kv_t *kv = NULL;
    size_t after_len = 0;
    if (util_write_file(path, img, len) != 0)
        return 0;
    int rc = kv_open(&kv, path, flags, NULL);
    if (rc == 0)
        kv_close(kv);
    unsigned char *after = util_read_file(path, &after_len);
    int same = after && after_len == len && memcmp(after, img, len) == 0;
    free(after);
    if (rc != want || !same)
        fprintf(stderr, "  %s: open gave %d (%s), want %d; file %s\n", what, rc,
                kv_strerror(rc), want, same ? "unchanged" : "CHANGED");
    return rc == want && same;
}

TEST(empty_file)
{
    REQUIRE_EQ(scratch(), 0);
    CHECK(refused("", 0, KV_RDWR, KV_ECORRUPT, "empty file"));
    CHECK(refused("", 0, 0, KV_ECORRUPT, "empty file, read-only"));
    util_rmdir(dir);
    TEST_DONE();
}

TEST(random_bytes)
{
    unsigned char junk[4096];
    uint64_t rng = test_rng("junk");
    REQUIRE_EQ(scratch(), 0);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)util_rand(&rng);
    CHECK(refused(junk, sizeof junk, KV_RDWR, KV_ECORRUPT, "random bytes"));
    CHECK(refused(junk, sizeof junk, KV_RDWR | KV_CREATE, KV_ECORRUPT, "random, create"));
    CHECK(refused(junk, sizeof junk, KV_RDWR | KV_CREATE | KV_EXCL, KV_EEXIST, "random, excl"));
    CHECK(refused(junk, 100, KV_RDWR, KV_ECORRUPT, "100 random bytes"));
    util_rmdir(dir);
    TEST_DONE();
}

TEST(truncated_store)
{
    size_t len = 0;
    REQUIRE_EQ(scratch(), 0);
    unsigned char *img = store_image(&len);
    REQUIRE(img);
    CHECK(refused(img, len / 2, KV_RDWR, KV_ECORRUPT, "half a store"));
    CHECK(refused(img, len / 2, KV_RDWR | KV_CREATE, KV_ECORRUPT, "half, create"));
    CHECK(refused(img, len - 1, KV_RDWR, KV_ECORRUPT, "one byte short"));
    CHECK(refused(img, sizeof(kv_header_t), 0, KV_ECORRUPT, "header only"));
    CHECK(refused(img, 100, KV_RDWR, KV_ECORRUPT, "part of a header"));
    free(img);
    util_rmdir(dir);
    TEST_DONE();
}

/* A path that names a directory, or a symlink to a real store, is not
 * opened (os.h: the last component must be a regular file, not followed
 * through a link); the store behind the link is left as it was. */
TEST(not_a_regular_file)
{
    char link[700];
    size_t len = 0;
    kv_t *kv = NULL;
    REQUIRE_EQ(scratch(), 0);
    unsigned char *img = store_image(&len);
    REQUIRE(img);
    snprintf(link, sizeof link, "%s/link.kv", dir);
    int linked = symlink(path, link) == 0;
    if (!linked && !TEST_POSIX) {
        test_skip("Windows: cannot make a symbolic link here (needs developer mode or "
                  "SeCreateSymbolicLinkPrivilege; wine 8 makes none)");
        free(img);
        util_rmdir(dir);
        return TEST_SKIP;
    }
    REQUIRE(linked);
    CHECK(kv_open(&kv, dir, KV_RDWR | KV_CREATE, NULL) != 0);
    CHECK(kv_open(&kv, link, KV_RDWR, NULL) != 0);
    CHECK(kv_open(&kv, link, KV_RDWR | KV_CREATE, NULL) != 0);
    size_t after_len = 0;
    unsigned char *after = util_read_file(path, &after_len);
    CHECK(after && after_len == len && memcmp(after, img, len) == 0);
    free(after);
    free(img);
    util_rmdir(dir);
    TEST_DONE();
}

/* One way to damage a header, and the error it must give. */
typedef struct header_damage {
    const char *what;
    void (*apply)(kv_header_t *h);
    int want;
} header_damage_t;

static void bad_magic(kv_header_t *h) { h->magic ^= 1; }
static void version_up(kv_header_t *h) { h->layout_version = KV_LAYOUT_VERSION + 1; }
static void version_zero(kv_header_t *h) { h->layout_version = 0; }
static void other_byte_order(kv_header_t *h) { h->byte_order = 0x04030201u; }
static void slots_not_pow2(kv_header_t *h) { h->slot_count -= 1; }
static void slots_doubled(kv_header_t *h) { h->slot_count *= 2; }
static void slots_zero(kv_header_t *h) { h->slot_count = 0; }
static void slots_huge(kv_header_t *h) { h->slot_count = UINT64_C(1) << 62; }
static void key_max_zero(kv_header_t *h) { h->key_max = 0; }
static void key_max_huge(kv_header_t *h) { h->key_max = UINT32_MAX; }
static void val_max_changed(kv_header_t *h) { h->val_max += 1; }
static void header_size_off(kv_header_t *h) { h->header_size += 64; }
static void header_size_zero(kv_header_t *h) { h->header_size = 0; }
static void slot_size_off(kv_header_t *h) { h->slot_size += 8; }
static void identity_check_off(kv_header_t *h) { h->identity_check ^= 1; }
static void total_size_off(kv_header_t *h) { h->total_size += 8; }
static void total_size_zero(kv_header_t *h) { h->total_size = 0; }
static void flags_unknown(kv_header_t *h) { h->flags = 0x80; }

static const header_damage_t damages[] = {
    {"wrong magic", bad_magic, KV_ECORRUPT},
    {"newer layout version", version_up, KV_EVERSION},
    {"layout version 0", version_zero, KV_EVERSION},
    {"other byte order", other_byte_order, KV_EVERSION},
    {"slot_count not a power of two", slots_not_pow2, KV_ECORRUPT},
    {"slot_count doubled", slots_doubled, KV_ECORRUPT},
    {"slot_count 0", slots_zero, KV_ECORRUPT},
    {"slot_count 2^62", slots_huge, KV_ECORRUPT},
    {"key_max 0", key_max_zero, KV_ECORRUPT},
    {"key_max huge", key_max_huge, KV_ECORRUPT},
    {"val_max changed", val_max_changed, KV_ECORRUPT},
    {"header_size wrong", header_size_off, KV_ECORRUPT},
    {"header_size 0", header_size_zero, KV_ECORRUPT},
    {"slot_size wrong", slot_size_off, KV_ECORRUPT},
    {"identity check wrong", identity_check_off, KV_ECORRUPT},
    {"total_size wrong", total_size_off, KV_ECORRUPT},
    {"total_size 0", total_size_zero, KV_ECORRUPT},
    {"unknown store flag", flags_unknown, KV_ECORRUPT},
};

/* Each damaged copy of a real store is refused, with and without
 * KV_CREATE, and left alone; the undamaged image still opens. */
TEST(damaged_header)
{
    size_t len = 0;
    kv_t *kv = NULL;
    REQUIRE_EQ(scratch(), 0);
    unsigned char *img = store_image(&len), *copy = malloc(len ? len : 1);
    REQUIRE(img && copy && len >= sizeof(kv_header_t));
    for (size_t i = 0; i < sizeof damages / sizeof damages[0]; i++) {
        kv_header_t h;
        memcpy(copy, img, len);
        memcpy(&h, copy, sizeof h);
        damages[i].apply(&h);
        memcpy(copy, &h, sizeof h);
        CHECK(refused(copy, len, KV_RDWR, damages[i].want, damages[i].what));
        CHECK(refused(copy, len, KV_RDWR | KV_CREATE, damages[i].want, damages[i].what));
    }
    REQUIRE_EQ(util_write_file(path, img, len), 0);
    REQUIRE_EQ(kv_open(&kv, path, KV_RDWR, NULL), 0);
    CHECK_EQ(util_verify(kv, FIX_PREFIX, FIX_N), 0);
    kv_close(kv);
    free(copy);
    free(img);
    util_rmdir(dir);
    TEST_DONE();
}

/* Overwrites the header's lock_abi in the file at `path` (through the file,
 * so a handle's mapping of it sees the change too).  Returns 0 or -1. */
static int write_lock_abi(uint32_t abi)
{
    FILE *f = fopen(path, "r+b");
    int ok = f && fseek(f, (long)offsetof(kv_header_t, lock_abi), SEEK_SET) == 0 &&
             fwrite(&abi, sizeof abi, 1, f) == 1;
    return (f && fclose(f) == 0 && ok) ? 0 : -1;
}

/* A store whose lock area another OS layer or ABI formatted (a file last
 * used on Windows, say): refused while a process with the other lock uses
 * it, adopted by a process alone with it, which formats its own mutex and
 * writes its own lock_abi; the data stays. */
/* A store of the previous layout is refused as another version, with a
 * message that says how to carry its data over, and left as it was. */
TEST(layout_2_store_refused)
{
    size_t len = 0, after_len = 0;
    char why[512] = "";
    kv_options_t o;
    kv_t *kv = NULL;
    REQUIRE(scratch() == 0);
    unsigned char *img = store_image(&len);
    REQUIRE(img);
    ((kv_header_t *)img)->layout_version = 2;
    REQUIRE(util_write_file(path, img, len) == 0);
    kv_options_init(&o);
    o.error = why;
    o.error_cap = sizeof why;
    CHECK_EQ(kv_open(&kv, path, KV_RDWR, &o), KV_EVERSION);
    CHECK(strstr(why, "layout version 2") && strstr(why, "kvcli dump") &&
          strstr(why, "kvcli load"));
    unsigned char *after = util_read_file(path, &after_len);
    CHECK(after && after_len == len && memcmp(after, img, len) == 0);
    free(after);
    free(img);
    kv_unlink(path);
    util_rmdir(dir);
    TEST_DONE();
}

TEST(other_lock_abi)
{
    size_t len = 0;
    kv_t *user = NULL, *kv = NULL;
    kv_header_t h;
    REQUIRE_EQ(scratch(), 0);
    unsigned char *img = store_image(&len);
    REQUIRE(img && len >= sizeof h);
    memcpy(&h, img, sizeof h);
    REQUIRE_EQ(kv_open(&user, path, KV_RDWR, NULL), 0);
    REQUIRE_EQ(write_lock_abi(h.lock_abi ^ 0x5a5a5a5au), 0); /* as if user were foreign */
    CHECK_EQ(kv_open(&kv, path, KV_RDWR, NULL), KV_EVERSION);
    kv_close(user);
    REQUIRE_EQ(kv_open(&kv, path, KV_RDWR, NULL), 0);
    CHECK_EQ(util_verify(kv, FIX_PREFIX, FIX_N), 0);
    CHECK_EQ(util_put(kv, "after", "adopted"), 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    kv_close(kv);
    unsigned char *after = util_read_file(path, &len);
    REQUIRE(after && len >= sizeof h);
    CHECK_EQ(((kv_header_t *)after)->lock_abi, h.lock_abi);
    free(after);
    free(img);
    util_rmdir(dir);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Damaged slots                                                            */
/* ------------------------------------------------------------------------ */

/* Returns the slot head of `key` in a store image, or NULL. */
static kv_slot_t *slot_of(unsigned char *img, size_t len, const char *key)
{
    kv_header_t h;
    size_t kl = strlen(key);
    memcpy(&h, img, sizeof h);
    size_t data_at = h.header_size + (size_t)h.slot_count * KV_SLOT_SIZE;
    for (uint64_t i = 0; i < h.slot_count; i++) {
        size_t off = h.header_size + (size_t)i * KV_SLOT_SIZE;
        if (off + KV_SLOT_SIZE > len)
            return NULL;
        kv_slot_t *s = (kv_slot_t *)(img + off);
        const unsigned char *bytes = s->data;
        if (s->key_len != kl)
            continue;
        if (kl + (s->val_len & KV_VAL_LEN_MASK) > KV_INLINE_MAX) { /* in its block */
            uint32_t at;
            memcpy(&at, s->data, sizeof at);
            if (data_at + ((size_t)at + 1) * KV_GRANULE + kl > len)
                continue;
            bytes = img + data_at + ((size_t)at + 1) * KV_GRANULE;
        }
        if (memcmp(bytes, key, kl) == 0)
            return s;
    }
    return NULL;
}

static int ok_or_corrupt(int rc) { return rc == 0 || rc == KV_ECORRUPT; }

/* Checks a get of fixture entry i: right value, or KV_ECORRUPT. */
static int get_ok_or_corrupt(kv_t *kv, unsigned i)
{
    char k[64], v[64], got[FIX_VAL_MAX];
    size_t kl = util_fixture_key(k, FIX_PREFIX, i), vl = util_fixture_val(v, FIX_PREFIX, i);
    size_t gl = 0;
    int rc = kv_get(kv, k, kl, got, sizeof got, &gl);
    if (rc == 0)
        return gl == vl && memcmp(got, v, vl) == 0;
    return rc == KV_ECORRUPT;
}

/* Opens the damaged store at `path` and checks that kv_check reports it,
 * naming `finding` (the text kv__table_check_slot gives that damage), that
 * gets of the other entries give their value or KV_ECORRUPT, that the
 * damaged entry itself is never returned, and that iteration, stats and a
 * put neither crash nor misbehave.  An open that already refuses is fine. */
static int damaged_slot_behaves(unsigned damaged, const char *finding)
{
    kv_t *kv = NULL;
    char report[1024] = "";
    kv_stats_t st;
    int bad = 0, rc = kv_open(&kv, path, KV_RDWR, NULL);
    if (rc == KV_ECORRUPT)
        return 1;
    if (rc != 0) {
        fprintf(stderr, "  open: %s\n", kv_strerror(rc));
        return 0;
    }
    bad += kv_check(kv, report, sizeof report) != KV_ECORRUPT;
    bad += strstr(report, finding) == NULL;
    fprintf(stderr, "  kv_check reports: %s%s", report, report[0] ? "" : "(nothing)\n");
    for (unsigned i = 0; i < FIX_N; i++) {
        if (i == damaged) {
            char k[64], got[FIX_VAL_MAX];
            rc = kv_get(kv, k, util_fixture_key(k, FIX_PREFIX, i), got, sizeof got, NULL);
            bad += rc == 0;
        } else {
            bad += !get_ok_or_corrupt(kv, i);
        }
    }
    long long n = util_for_each(kv, NULL, NULL);
    bad += !(n == KV_ECORRUPT || (n >= FIX_N - 1 && n <= FIX_N));
    bad += !ok_or_corrupt(kv_stats(kv, &st));
    bad += !ok_or_corrupt(util_put(kv, "fresh", "value"));
    kv_close(kv);
    return bad == 0;
}

/* Damages fixture entry `i`'s slot in a file store with `damage`, then runs
 * damaged_slot_behaves with the finding kv_check must name. */
static int damage_slot(unsigned i, void (*damage)(kv_slot_t *s), const char *finding)
{
    size_t len = 0;
    char k[64];
    int ok = 0;
    if (scratch() != 0)
        return 0;
    unsigned char *img = store_image(&len);
    util_fixture_key(k, FIX_PREFIX, i);
    kv_slot_t *s = img ? slot_of(img, len, k) : NULL;
    if (s) {
        damage(s);
        ok = util_write_file(path, img, len) == 0 && damaged_slot_behaves(i, finding);
    } else {
        fprintf(stderr, "  no slot holds %s\n", k);
    }
    free(img);
    kv_unlink(path);
    util_rmdir(dir);
    return ok;
}

static void key_len_garbage(kv_slot_t *s) { s->key_len = FIX_KEY_MAX + 5; }
static void val_len_garbage(kv_slot_t *s) { s->val_len = FIX_VAL_MAX + 1; }
static void val_len_huge(kv_slot_t *s) { s->val_len = UINT32_MAX - 1; }
static void hash_wrong(kv_slot_t *s) { s->hash ^= UINT64_C(0x8000000000000001); }

static void key_len_one_over(kv_slot_t *s) { s->key_len = FIX_KEY_MAX + 1; }

#define KEY_LEN_BAD "key length out of range"
#define VAL_LEN_BAD "value length out of range"

TEST(slot_key_len_garbage) { CHECK(damage_slot(5, key_len_garbage, KEY_LEN_BAD)); TEST_DONE(); }
TEST(slot_val_len_garbage) { CHECK(damage_slot(6, val_len_garbage, VAL_LEN_BAD)); TEST_DONE(); }
TEST(slot_val_len_huge) { CHECK(damage_slot(7, val_len_huge, VAL_LEN_BAD)); TEST_DONE(); }
TEST(slot_hash_wrong)
{
    CHECK(damage_slot(8, hash_wrong, "stored hash does not match the key"));
    TEST_DONE();
}

/* The key_len bound is key_max itself, from both sides: a slot holding a
 * key of exactly key_max bytes is sound to kv_check, and a key_len one past
 * it is damage, named as such (not merely noticed through the hash a key
 * read one byte too long no longer matches). */
TEST(slot_key_len_bound)
{
    char longest[FIX_KEY_MAX];
    kv_t *kv = fixture();
    REQUIRE(kv);
    memset(longest, 'k', sizeof longest);
    CHECK_EQ(kv_put(kv, longest, sizeof longest, "v", 1, 0), 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    util_dispose(kv, store);
    CHECK(damage_slot(9, key_len_one_over, KEY_LEN_BAD));
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Permissions                                                              */
/* ------------------------------------------------------------------------ */

/* Role: become argv[1], then every way of opening store argv[2] must give
 * KV_EPERM, and so must removing it.  Exits 0 if so, SKIP_EXIT if the user
 * cannot be assumed, 1 otherwise. */
static int role_open_as(int argc, char **argv)
{
    static const unsigned flags[] = { KV_RDWR, 0, KV_RDWR | KV_CREATE };
    kv_t *kv = NULL;
    int bad = 0;
    if (argc != 3 || spawn_become_user(argv[1]) != 0)
        return SKIP_EXIT;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int rc = kv_open(&kv, argv[2], flags[i], NULL);
        if (rc != KV_EPERM) {
            fprintf(stderr, "  as %s, open flags %u: %s\n", argv[1], flags[i], kv_strerror(rc));
            bad = 1;
        }
        if (rc == 0)
            kv_close(kv);
    }
    int rc = kv_unlink(argv[2]);
    if (rc != KV_EPERM) {
        fprintf(stderr, "  as %s, unlink: %s\n", argv[1], kv_strerror(rc));
        bad = 1;
    }
    return bad ? 1 : 0;
}

/* As root: a helper that drops to "nobody" must be refused. */
static int eperm_as_other_user(kv_t *kv)
{
    const char *args[] = { "nobody", store, NULL };
    spawn_proc_t p;
    spawn_status_t st;
    REQUIRE_EQ(spawn_role(&p, "open-as", args, NULL), 0);
    REQUIRE_EQ(spawn_wait(&p, &st), 0);
    if (st.exited && st.code == SKIP_EXIT) {
        test_skip("running as root, but cannot become user \"nobody\"");
        return TEST_SKIP;
    }
    CHECK(st.exited && st.code == 0);
    CHECK(intact(kv));
    TEST_DONE();
}

/* Not root: a file store with mode 0000 cannot be opened by its owner.  On
 * Windows chmod can only set the read-only attribute, and the file stays
 * readable: a store with read permission alone, which a read-only handle
 * reads (and cannot change) and a writable one cannot open. */
static int eperm_on_mode_0000(void)
{
    kv_t *kv = NULL;
    REQUIRE_EQ(scratch(), 0);
    REQUIRE_EQ(util_create(&kv, path, FIX_SLOTS, FIX_KEY_MAX, FIX_VAL_MAX), 0);
    REQUIRE_EQ(kv_put(kv, "k", 1, "v", 1, 0), 0);
    kv_close(kv);
    REQUIRE_EQ(chmod(path, 0), 0);
    CHECK_EQ(kv_open(&kv, path, KV_RDWR, NULL), KV_EPERM);
    int rc = kv_open(&kv, path, 0, NULL);
    CHECK_EQ(rc, TEST_POSIX ? KV_EPERM : 0);
    if (rc == 0) {
        char v[4];
        size_t n = 0;
        CHECK(kv_get(kv, "k", 1, v, sizeof v, &n) == 0 && n == 1 && v[0] == 'v');
        CHECK_EQ(kv_put(kv, "k", 1, "w", 1, 0), KV_ERDONLY);
        kv_close(kv);
    }
    chmod(path, 0600);
    kv_unlink(path);
    util_rmdir(dir);
    TEST_DONE();
}

TEST(permission_denied)
{
    if (geteuid() != 0)
        return eperm_on_mode_0000();
    kv_t *kv = fixture();
    REQUIRE(kv);
    int rc = eperm_as_other_user(kv);
    util_dispose(kv, store);
    return rc;
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(empty_key),
    TEST_ENTRY(null_pointers),
    TEST_ENTRY(too_big),
    TEST_ENTRY(bad_geometry),
    TEST_ENTRY(bad_names),
    TEST_ENTRY(unknown_flags),
    TEST_ENTRY(error_messages),
    TEST_ENTRY(empty_file),
    TEST_ENTRY(random_bytes),
    TEST_ENTRY(truncated_store),
    TEST_ENTRY(not_a_regular_file),
    TEST_ENTRY(damaged_header),
    TEST_ENTRY(layout_2_store_refused),
    TEST_ENTRY(other_lock_abi),
    TEST_ENTRY(slot_key_len_garbage),
    TEST_ENTRY(slot_val_len_garbage),
    TEST_ENTRY(slot_val_len_huge),
    TEST_ENTRY(slot_hash_wrong),
    TEST_ENTRY(slot_key_len_bound),
    TEST_ENTRY(permission_denied),
};

static const spawn_role_t roles[] = {
    { "open-as", role_open_as },
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
