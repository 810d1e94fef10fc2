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
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
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

/* Builds PL_IMAGES crash images of workload w and checks each. */
static void power_losses(enum workload w, const char *what)
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
    for (unsigned n = 0; img && before && after && n < PL_IMAGES && !test_failures; n++) {
        tally_t t = { 0, 0, 0, 0 };
        for (size_t p = 0; p < len; p += PL_PAGE) {
            size_t chunk = len - p < PL_PAGE ? len - p : PL_PAGE;
            memcpy(img + p, (util_rand(&rng) & 1 ? after : before) + p, chunk);
        }
        CHECK_EQ(util_write_file(path, img, len), 0);
        CHECK_EQ(read_image(path, &t), 0);
        CHECK_EQ(t.silent, 0);
        CHECK(t.unexplained <= t.dropped);
        total.silent += t.silent;
        total.unexplained += t.unexplained;
        total.dropped += t.dropped;
        total.read += t.read;
    }
    fprintf(stderr, "  %s: %d images, %" PRIu64 " values read, %" PRIu64 " torn entries "
            "detected and dropped, %" PRIu64 " silently torn\n", what, PL_IMAGES, total.read,
            total.dropped, total.silent);
    free(img);
    free(before);
    free(after);
    kv_unlink(path);
    util_rmdir(dir);
}

TEST(power_loss_mixed)
{
    power_losses(MIXED, "mixed");
    TEST_DONE();
}

TEST(power_loss_overwrites)
{
    power_losses(OVERWRITES, "overwrites");
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

static const test_case_t tests[] = {
    TEST_ENTRY(power_loss_mixed),
    TEST_ENTRY(power_loss_overwrites),
    TEST_ENTRY(check_reports_each_torn_entry),
};

int main(int argc, char **argv)
{
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
