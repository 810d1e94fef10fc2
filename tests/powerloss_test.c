/*
 * powerloss_test.c — what a file store holds after a power loss.
 *
 * A power loss keeps each page of the file as it was at some moment since
 * the last kv_flush(): the disk may have written some of the pages a later
 * change dirtied and not others.  The test builds such disks: a file store
 * of 4096 slots is filled and flushed (the "before" image), then changed
 * and acknowledged (the "after" image, taken while it is still open, as a
 * power loss would find it), and each crash image takes every 4 KiB page
 * from one of the two at random, 200 images per workload.  Each image is
 * opened (the opener is alone with a store not closed cleanly, so it scans)
 * and every key read back.  A value must be the key's flushed value or one
 * written later — never anything else (a "silent tear") — and a key may be
 * missing only if it was absent when flushed, deleted later, or counted in
 * stats' `dropped`.  kv_check must find the store sound afterwards.
 *
 * Values are derived from (key, version), so the test can tell whether a
 * value read back is one it wrote; their sizes (0..700 bytes) put most
 * entries out of line, many across page boundaries.
 *
 * The scan itself may be killed: built with kv_fault (crash points live),
 * a walk opens crash images in a child killed at each crash point of its
 * scan in turn, and the next open must still read back no silent tear and
 * count every entry it lost.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "spawn.h"
#include "test.h"
#include "util.h"

enum {
    PL_SLOTS = 4096, PL_KEYS = 1500, PL_VAL_MAX = 700, PL_MEMORY = 4 << 20,
    PL_IMAGES = 200, PL_PAGE = 4096, PL_VERSIONS = 4,
};

/* A key's history: which versions a reader may see, and whether absent is
 * one of its states. */
typedef struct history {
    unsigned versions; /* bit v: value version v may be read */
    int may_be_absent;
} history_t;

static history_t hist[PL_KEYS];

static size_t make_key(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 16, "k%u", i);
}

/* The value of key i at version v: its length and every byte follow from
 * both, so two versions of a key (or two keys) never share a value. */
static size_t make_val(unsigned char *buf, unsigned i, unsigned v)
{
    uint32_t x = (i + 1) * 2654435761u ^ v * 40503u;
    size_t len = x % (PL_VAL_MAX + 1);
    for (size_t j = 0; j < len; j++) {
        x = x * 1103515245u + 12345u;
        buf[j] = (unsigned char)(x >> 16);
    }
    return len;
}

static int put_version(kv_t *kv, unsigned i, unsigned v)
{
    char k[16];
    unsigned char val[PL_VAL_MAX];
    size_t kl = make_key(k, i), vl = make_val(val, i, v);
    int rc = kv_put(kv, k, kl, val, vl, 0);
    if (rc == 0)
        hist[i].versions |= 1u << v;
    return rc;
}

/* The workloads: what happens to key i after the flush. */
enum workload { MIXED, OVERWRITES };

static int change(kv_t *kv, enum workload w, unsigned i)
{
    char k[16];
    if (w == OVERWRITES) /* twice, so blocks move and old ones are reused */
        return put_version(kv, i, 2) || put_version(kv, i, 3);
    switch (i % 4) {
    case 0: return put_version(kv, i, 2);                       /* overwrite */
    case 1: hist[i].may_be_absent = 1;                          /* delete */
            return kv_del(kv, k, make_key(k, i));
    case 3: return put_version(kv, i, 2);                       /* insert */
    default: return 0;                                          /* untouched */
    }
}

/* Fills, flushes and changes the store at path; returns the before and
 * after images of its file. */
static int make_images(const char *path, enum workload w, unsigned char **before,
                       unsigned char **after, size_t *len)
{
    kv_options_t o;
    kv_t *kv = NULL;
    size_t len2 = 0;
    int rc;
    memset(hist, 0, sizeof hist);
    kv_options_init(&o);
    o.memory = PL_MEMORY;
    o.slots = PL_SLOTS;
    o.key_max = 16;
    o.val_max = PL_VAL_MAX;
    if ((rc = kv_open(&kv, path, KV_CREATE | KV_EXCL | KV_RDWR, &o)) != 0)
        return rc;
    for (unsigned i = 0; i < PL_KEYS && rc == 0; i++) {
        if (w == MIXED && i % 4 == 3)
            hist[i].may_be_absent = 1; /* inserted only after the flush */
        else
            rc = put_version(kv, i, 1);
    }
    if (rc == 0)
        rc = kv_flush(kv);
    *before = rc ? NULL : util_read_file(path, len);
    for (unsigned i = 0; i < PL_KEYS && rc == 0; i++)
        rc = change(kv, w, i);
    *after = rc ? NULL : util_read_file(path, &len2); /* still open: as a power loss finds it */
    kv_close(kv);
    return rc ? rc : (*before && *after && len2 == *len) ? 0 : KV_EIO;
}

/* What one crash image gave. */
typedef struct tally {
    uint64_t silent, unexplained, dropped, read;
} tally_t;

/* Opens the image at path (which scans it) and reads every key back. */
static int read_image(const char *path, tally_t *t)
{
    kv_t *kv = NULL;
    kv_stats_t st;
    char k[16], report[256];
    unsigned char got[PL_VAL_MAX], want[PL_VAL_MAX];
    int rc = kv_open(&kv, path, KV_RDWR, NULL);
    if (rc)
        return rc;
    for (unsigned i = 0; i < PL_KEYS; i++) {
        size_t kl = make_key(k, i), gl = 0;
        rc = kv_get(kv, k, kl, got, sizeof got, &gl);
        if (rc == KV_ENOTFOUND) {
            t->unexplained += !hist[i].may_be_absent;
            continue;
        }
        if (rc)
            break;
        int legit = 0;
        for (unsigned v = 0; v < PL_VERSIONS && !legit; v++)
            legit = (hist[i].versions >> v & 1) && make_val(want, i, v) == gl &&
                    memcmp(want, got, gl) == 0;
        t->silent += !legit;
        t->read++;
    }
    if (rc == 0 || rc == KV_ENOTFOUND)
        rc = kv_stats(kv, &st);
    t->dropped += rc == 0 ? st.dropped : 0;
    if (rc == 0 && (rc = kv_check(kv, report, sizeof report)) != 0)
        fprintf(stderr, "  check after the scan: %s", report);
    kv_close(kv);
    return rc;
}

/* Writes a crash image to path: each page from `after` or `before` at
 * random. */
static int write_mixed_image(const char *path, unsigned char *img, const unsigned char *before,
                             const unsigned char *after, size_t len, uint64_t *rng)
{
    for (size_t p = 0; p < len; p += PL_PAGE) {
        size_t chunk = len - p < PL_PAGE ? len - p : PL_PAGE;
        memcpy(img + p, (util_rand(rng) & 1 ? after : before) + p, chunk);
    }
    return util_write_file(path, img, len);
}

/* Opens the image at path, reads it back and checks what it gave: no
 * silent tear, every unexplained absence counted as dropped.  Adds the
 * image's tally to *total. */
static void check_image(const char *path, tally_t *total)
{
    tally_t t = { 0, 0, 0, 0 };
    CHECK_EQ(read_image(path, &t), 0);
    CHECK_EQ(t.silent, 0);
    CHECK(t.unexplained <= t.dropped);
    if (t.unexplained > t.dropped)
        fprintf(stderr, "  %" PRIu64 " keys missing, %" PRIu64 " counted as dropped\n",
                t.unexplained, t.dropped);
    total->silent += t.silent;
    total->unexplained += t.unexplained;
    total->dropped += t.dropped;
    total->read += t.read;
}

/* What to do with each crash image: open and check it, or walk a scan of
 * it killed at each crash point. */
typedef int (*image_fn)(const char *path, const unsigned char *img, size_t len,
                        tally_t *total);

static int open_and_check(const char *path, const unsigned char *img, size_t len,
                          tally_t *total)
{
    (void)img;
    (void)len;
    check_image(path, total);
    return 0;
}

/* Builds `images` crash images of workload w and hands each to fn. */
static void power_losses(enum workload w, const char *what, unsigned images, image_fn fn)
{
    char dir[512], path[600];
    unsigned char *before = NULL, *after = NULL;
    size_t len = 0;
    uint64_t rng = test_rng(what);
    tally_t total = { 0, 0, 0, 0 };
    if (util_tmpdir(dir, sizeof dir) != 0) {
        CHECK(0);
        return;
    }
    snprintf(path, sizeof path, "%s/store.kv", dir);
    CHECK_EQ(make_images(path, w, &before, &after, &len), 0);
    unsigned char *img = malloc(len);
    for (unsigned n = 0; img && before && after && n < images && !test_failures; n++) {
        CHECK_EQ(write_mixed_image(path, img, before, after, len, &rng), 0);
        CHECK_EQ(fn(path, img, len, &total), 0);
    }
    fprintf(stderr, "  %s: %u images, %" PRIu64 " values read, %" PRIu64 " torn entries "
            "detected and dropped, %" PRIu64 " silently torn\n", what, images, total.read,
            total.dropped, total.silent);
    free(img);
    free(before);
    free(after);
    kv_unlink(path);
    util_rmdir(dir);
}

TEST(power_loss_mixed)
{
    power_losses(MIXED, "mixed", PL_IMAGES, open_and_check);
    TEST_DONE();
}

TEST(power_loss_overwrites)
{
    power_losses(OVERWRITES, "overwrites", PL_IMAGES, open_and_check);
    TEST_DONE();
}

/* Bytes changed behind kv's back in an open file store: kv_check names
 * every entry whose check no longer matches, and only those. */
TEST(check_reports_each_torn_entry)
{
    char dir[512], path[600], report[4096];
    unsigned char val[PL_VAL_MAX];
    kv_options_t o;
    kv_t *kv = NULL;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/store.kv", dir);
    kv_options_init(&o);
    o.slots = 64;
    o.key_max = 16;
    o.val_max = 100;
    REQUIRE_EQ(kv_open(&kv, path, KV_CREATE | KV_RDWR, &o), 0);
    memset(val, 'v', sizeof val);
    for (unsigned i = 0; i < 10; i++) {
        char k[16];
        REQUIRE_EQ(kv_put(kv, k, make_key(k, i), val, 60, 0), 0); /* out of line */
    }
    size_t len = 0;
    unsigned char *img = util_read_file(path, &len);
    REQUIRE(img);
    /* Flip one byte inside each of the first 5 values found in the data
     * area: the blocks of "v"s, each after its key. */
    unsigned flipped = 0;
    for (size_t p = 0; p + 60 < len && flipped < 5; p++) {
        if (memcmp(img + p, val, 60) == 0) {
            img[p + 30] ^= 1;
            flipped++;
            p += 60;
        }
    }
    CHECK_EQ(flipped, 5);
    FILE *f = fopen(path, "r+b"); /* the open mapping sees the file's pages */
    CHECK(f && fwrite(img, 1, len, f) == len);
    if (f)
        fclose(f);
    CHECK_EQ(kv_check(kv, report, sizeof report), KV_ECORRUPT);
    unsigned lines = 0;
    for (const char *p = report; (p = strstr(p, "entry check does not match")) != NULL; p++)
        lines++;
    CHECK_EQ(lines, 5);
    free(img);
    kv_close(kv);
    kv_unlink(path);
    util_rmdir(dir);
    TEST_DONE();
}

/* ---------------------------------------------------------------------- */
/* A scan killed part way                                                  */
/* ---------------------------------------------------------------------- */

enum {
    PL_WALK_IMAGES = 3, /* crash images per workload whose scan is walked */
    PL_SCAN_POINTS = 8, /* crash points a scan passes at least: after the
                         * journal, each of its three passes, the rebuild's
                         * first block and its drop of unrecognised
                         * entries, before it counts itself, and after it
                         * in the opener */
};

/* Child role: "scan PATH": opens the file store (alone with a store not
 * closed cleanly, so it scans) and closes it. */
static int role_scan(int argc, char **argv)
{
    kv_t *kv = NULL;
    if (argc != 2 || kv_open(&kv, argv[1], KV_RDWR, NULL) != 0)
        return 2;
    kv_close(kv);
    return 0;
}

#ifdef KV_FAULT_INJECTION
static int scan_walk_points; /* the fewest crash points a walked scan had */

/* For k = 1, 2, ...: the image at path is scanned by a child killed at its
 * k-th crash point, then opened (scanned again) and checked here, until a
 * scan survives.  Each kill restores the image first. */
static int walk_scan(const char *path, const unsigned char *img, size_t len, tally_t *total)
{
    const char *args[] = { path, NULL };
    int k;
    for (k = 1; k < 100; k++) {
        int outcome;
        if (k > 1 && util_write_file(path, img, len) != 0)
            return -1;
        if ((outcome = util_run_crashing("scan", args, k)) < 0)
            return -1;
        check_image(path, total);
        if (test_failures)
            fprintf(stderr, "  after a scan killed at its crash point %d\n", k);
        if (outcome == 0 || test_failures)
            break;
    }
    if (scan_walk_points == 0 || k - 1 < scan_walk_points)
        scan_walk_points = k - 1;
    return 0;
}

TEST(power_loss_scan_killed)
{
    power_losses(MIXED, "mixed, scan killed", PL_WALK_IMAGES, walk_scan);
    power_losses(OVERWRITES, "overwrites, scan killed", PL_WALK_IMAGES, walk_scan);
    fprintf(stderr, "  every scan killed at each of its %d crash points (at least)\n",
            scan_walk_points);
    CHECK(scan_walk_points >= PL_SCAN_POINTS);
    TEST_DONE();
}
#else
TEST(power_loss_scan_killed)
{
    test_skip("needs the kv_fault library (KV_FAULT_INJECTION)");
    return TEST_SKIP;
}
#endif

static const test_case_t tests[] = {
    TEST_ENTRY(power_loss_mixed),
    TEST_ENTRY(power_loss_overwrites),
    TEST_ENTRY(check_reports_each_torn_entry),
    TEST_ENTRY(power_loss_scan_killed),
};

static const spawn_role_t roles[] = { { "scan", role_scan } };

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
