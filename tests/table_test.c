/*
 * table_test.c — unit tests of the table and journal modules on a plain
 * in-memory slot array, where the test can choose keys by the slot their
 * hash lands in: probing across the end of the array, a completely full
 * table, tombstones (reuse, reclaim at the end of a run), binary keys, the
 * census behind kv_stats, kv_check's slot verdicts, recovery undoing a
 * replace or finishing a clear from a hand-made journal state, and the
 * allocator's spare block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "journal.h"
#include "kv.h"
#include "test.h"

#define SLOTS 8u
#define KEY_MAX 16u
#define VAL_MAX 128u

/* A header plus slot array in ordinary memory, laid out as in a store. */
typedef struct fixture {
    kv_header_t *h;
    kv_table_t t;
    kv_geometry_t g;
} fixture_t;

static int fixture_open(fixture_t *f)
{
    if (kv__validate_options(0, SLOTS, KEY_MAX, VAL_MAX, &f->g) != 0)
        return -1;
    f->h = calloc(1, f->g.total_size);
    if (!f->h)
        return -1;
    kv__table_init(&f->t, f->h, &f->g, 12345);
    kv__alloc_format(&f->t);
    return 0;
}

static void fixture_close(fixture_t *f)
{
    free(f->h);
}

/* Finds a key "<tag><n>" whose home slot is `home`; writes it to buf. */
static size_t key_with_home(const fixture_t *f, uint64_t home, const char *tag, char *buf)
{
    for (unsigned n = 0;; n++) {
        size_t len = (size_t)snprintf(buf, KEY_MAX, "%s%u", tag, n);
        if ((kv__table_hash(&f->t, buf, len) & f->t.mask) == home)
            return len;
    }
}

/* Three keys ("a…", "b…", "c…") that all have home slot `home`. */
typedef struct colliding {
    char key[3][KEY_MAX];
    size_t len[3];
} colliding_t;

static void colliding_keys(const fixture_t *f, uint64_t home, colliding_t *c)
{
    static const char *const tags[3] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++)
        c->len[i] = key_with_home(f, home, tags[i], c->key[i]);
}

/* Inserts through the journal as kv_put does; returns the slot or -1. */
static long long insert(fixture_t *f, const void *key, size_t klen, const char *val)
{
    table_pos_t pos;
    uint64_t hash = kv__table_hash(&f->t, key, klen);
    if (kv__table_lookup(&f->t, hash, key, (uint32_t)klen, &pos) != KV_ENOTFOUND ||
        pos.free == TABLE_NONE)
        return -1;
    journal_entry_t e = { hash, val, (uint32_t)strlen(val), 0, 0 };
    if (kv__journal_place(&f->t, f->h, pos.free, key, (uint32_t)klen, &e) != 0)
        return -1;
    kv__journal_insert(&f->t, f->h, pos.free, key, (uint32_t)klen, &e);
    return (long long)pos.free;
}

static long long find(fixture_t *f, const void *key, size_t klen)
{
    table_pos_t pos;
    int rc = kv__table_lookup(&f->t, kv__table_hash(&f->t, key, klen), key, (uint32_t)klen, &pos);
    return rc == 0 ? (long long)pos.found : rc;
}

static int value_is(fixture_t *f, long long i, const char *val)
{
    kv_slot_t *s = kv__table_slot(&f->t, (uint64_t)i);
    uint32_t key_len = kv__table_state(s);
    const unsigned char *bytes = kv__table_bytes(&f->t, s, key_len, s->val_len);
    return bytes && s->val_len == strlen(val) && memcmp(bytes + key_len, val, s->val_len) == 0;
}

/* Replaces the value of the key in slot i through the journal, as kv_put
 * does. */
static int replace(fixture_t *f, long long i, const void *key, size_t klen, const char *val)
{
    journal_entry_t e = { kv__table_hash(&f->t, key, klen), val, (uint32_t)strlen(val), 0, 0 };
    if (kv__journal_place(&f->t, f->h, (uint64_t)i, key, (uint32_t)klen, &e) != 0)
        return -1;
    kv__journal_replace(&f->t, f->h, (uint64_t)i, key, (uint32_t)klen, &e);
    return 0;
}

/* The data-area block slot i names. */
static uint32_t block_of(fixture_t *f, long long i)
{
    return kv__table_block_of(kv__table_slot(&f->t, (uint64_t)i));
}

/* Whether the allocator's census finds the data area sound, with
 * `free_granules` free. */
static int census_ok(fixture_t *f, uint64_t free_granules)
{
    alloc_census_t c;
    const char *why = kv__alloc_census(&f->t, &c);
    if (why)
        fprintf(stderr, "census: %s\n", why);
    return why == NULL && c.free_granules == free_granules;
}

/* ---------------------------------------------------------------------- */

TEST(probe_wraps_around_the_end)
{
    fixture_t f;
    colliding_t k;
    REQUIRE(fixture_open(&f) == 0);
    colliding_keys(&f, SLOTS - 1, &k);
    CHECK_EQ(insert(&f, k.key[0], k.len[0], "A"), SLOTS - 1);
    CHECK_EQ(insert(&f, k.key[1], k.len[1], "B"), 0); /* wrapped to the start */
    CHECK_EQ(insert(&f, k.key[2], k.len[2], "C"), 1);
    CHECK_EQ(find(&f, k.key[2], k.len[2]), 1);
    CHECK_EQ(kv__table_probe_length(&f.t, 1), 3);
    CHECK(value_is(&f, find(&f, k.key[1], k.len[1]), "B"));
    fixture_close(&f);
    TEST_DONE();
}

TEST(full_table_has_no_free_slot)
{
    fixture_t f;
    table_pos_t pos;
    char key[KEY_MAX];
    REQUIRE(fixture_open(&f) == 0);
    for (unsigned i = 0; i < SLOTS; i++) {
        size_t len = (size_t)snprintf(key, sizeof key, "k%u", i);
        REQUIRE(insert(&f, key, len, "v") >= 0);
    }
    CHECK_EQ(f.h->used, SLOTS);
    CHECK_EQ(kv__table_lookup(&f.t, kv__table_hash(&f.t, "zz", 2), "zz", 2, &pos), KV_ENOTFOUND);
    CHECK(pos.free == TABLE_NONE);
    for (unsigned i = 0; i < SLOTS; i++) { /* lookups still terminate and hit */
        size_t len = (size_t)snprintf(key, sizeof key, "k%u", i);
        CHECK(find(&f, key, len) >= 0);
    }
    fixture_close(&f);
    TEST_DONE();
}

/* Tombstones can leave a table with no empty slot: a lookup of an absent
 * key then stops at the store's probe bound instead of walking the whole
 * table, and an insert still finds the free slot beyond it and raises the
 * bound to reach its entry. */
TEST(lookups_stop_at_the_probe_bound)
{
    fixture_t f;
    table_pos_t pos;
    colliding_t k;
    REQUIRE(fixture_open(&f) == 0);
    CHECK_EQ(f.t.hints->probe_max, 0);
    colliding_keys(&f, 2, &k);
    REQUIRE(insert(&f, k.key[0], k.len[0], "A") == 2);
    REQUIRE(insert(&f, k.key[1], k.len[1], "B") == 3);
    CHECK_EQ(f.t.hints->probe_max, 2); /* B lies one slot past its home */
    for (uint64_t i = 0; i < SLOTS; i++) /* no empty slot: every other one a tombstone */
        if (i != 2 && i != 3)
            atomic_store(&kv__table_slot(&f.t, i)->key_len, KV_SLOT_TOMB);
    /* The third key's lookup compares two slots, then takes the first free
     * one after them, and its insert raises the bound to reach it. */
    CHECK_EQ(kv__table_lookup(&f.t, kv__table_hash(&f.t, k.key[2], k.len[2]), k.key[2],
                              (uint32_t)k.len[2], &pos), KV_ENOTFOUND);
    CHECK_EQ(pos.free, 4);
    REQUIRE(insert(&f, k.key[2], k.len[2], "C") == 4);
    CHECK_EQ(f.t.hints->probe_max, 3);
    CHECK_EQ(find(&f, k.key[2], k.len[2]), 4);
    CHECK(kv__table_check_slot(&f.t, 4, 0) == NULL);
    atomic_store(&f.t.hints->probe_max, 2); /* a bound that falls short is damage */
    CHECK_EQ(find(&f, k.key[2], k.len[2]), KV_ENOTFOUND);
    CHECK(kv__table_check_slot(&f.t, 4, 0) != NULL);
    CHECK_EQ(kv__journal_recover(&f.t, f.h), 0); /* recovery sets it from the slots */
    CHECK_EQ(f.t.hints->probe_max, 3);
    CHECK_EQ(find(&f, k.key[2], k.len[2]), 4);
    fixture_close(&f);
    TEST_DONE();
}

/* A table with no empty slot: a tombstone on an entry's path stays (the
 * entry must stay reachable), and one on no path is swept back into an
 * empty slot even though no empty slot follows it. */
TEST(sweep_empties_tombstones_no_path_crosses)
{
    fixture_t f;
    char key[SLOTS][KEY_MAX];
    size_t len[SLOTS];
    REQUIRE(fixture_open(&f) == 0);
    for (unsigned i = 0; i < SLOTS; i++) /* key 1's home is 0, every other key's its own */
        len[i] = key_with_home(&f, i == 1 ? 0 : i, i == 1 ? "b" : "a", key[i]);
    for (unsigned i = 0; i < SLOTS; i++)
        REQUIRE(insert(&f, key[i], len[i], "v") == (long long)i);
    kv__journal_delete(&f.t, f.h, 0);
    CHECK_EQ(kv__table_state(kv__table_slot(&f.t, 0)), KV_SLOT_TOMB); /* on key 1's path */
    CHECK_EQ(find(&f, key[1], len[1]), 1);
    kv__journal_delete(&f.t, f.h, 1);
    CHECK_EQ(kv__table_state(kv__table_slot(&f.t, 0)), KV_SLOT_EMPTY);
    CHECK_EQ(kv__table_state(kv__table_slot(&f.t, 1)), KV_SLOT_EMPTY);
    CHECK_EQ(f.h->tombstones, 0);
    for (unsigned i = 2; i < SLOTS; i++)
        CHECK_EQ(find(&f, key[i], len[i]), (long long)i);
    fixture_close(&f);
    TEST_DONE();
}

/* The probe bound is the whole table, not one slot less: with every slot
 * but one in use, a key whose path from home reaches the free slot only at
 * its last step (slot_count steps) is still placed there, and found. */
TEST(probe_reaches_the_last_slot)
{
    enum { FREE = 2, HOME = FREE + 1 }; /* the free slot is the last on HOME's path */
    fixture_t f;
    char key[KEY_MAX];
    REQUIRE(fixture_open(&f) == 0);
    for (uint64_t s = 0; s < SLOTS; s++) {
        if (s == FREE)
            continue;
        size_t n = key_with_home(&f, s, "f", key);
        REQUIRE_EQ(insert(&f, key, n, "v"), s); /* each at its home */
    }
    size_t len = key_with_home(&f, HOME, "new", key);
    CHECK_EQ(insert(&f, key, len, "last"), FREE);
    CHECK_EQ(find(&f, key, len), FREE);
    CHECK_EQ(kv__table_probe_length(&f.t, FREE), SLOTS);
    CHECK(value_is(&f, FREE, "last"));
    fixture_close(&f);
    TEST_DONE();
}

TEST(tombstone_is_reused_and_keeps_chain)
{
    fixture_t f;
    colliding_t k;
    REQUIRE(fixture_open(&f) == 0);
    colliding_keys(&f, 2, &k);
    REQUIRE(insert(&f, k.key[0], k.len[0], "A") == 2);
    REQUIRE(insert(&f, k.key[1], k.len[1], "B") == 3);
    kv__journal_delete(&f.t, f.h, 2);
    /* a's slot is a tombstone (b follows), and b is still found past it */
    CHECK_EQ(kv__table_state(kv__table_slot(&f.t, 2)), KV_SLOT_TOMB);
    CHECK_EQ(f.h->tombstones, 1);
    CHECK_EQ(find(&f, k.key[1], k.len[1]), 3);
    CHECK_EQ(find(&f, k.key[0], k.len[0]), KV_ENOTFOUND);
    CHECK_EQ(insert(&f, k.key[2], k.len[2], "C"), 2); /* the tombstone is reused */
    CHECK_EQ(f.h->tombstones, 0);
    CHECK_EQ(f.h->used, 2);
    fixture_close(&f);
    TEST_DONE();
}

TEST(tombstone_run_before_empty_is_reclaimed)
{
    fixture_t f;
    colliding_t k;
    REQUIRE(fixture_open(&f) == 0);
    colliding_keys(&f, 4, &k);
    for (int i = 0; i < 3; i++)
        REQUIRE(insert(&f, k.key[i], k.len[i], "v") == 4 + i);
    kv__journal_delete(&f.t, f.h, 4);
    kv__journal_delete(&f.t, f.h, 5);
    CHECK_EQ(f.h->tombstones, 2);
    kv__journal_delete(&f.t, f.h, 6); /* slot 7 is empty: the whole run goes */
    CHECK_EQ(f.h->tombstones, 0);
    CHECK_EQ(f.h->used, 0);
    for (uint64_t i = 0; i < SLOTS; i++)
        CHECK_EQ(kv__table_state(kv__table_slot(&f.t, i)), KV_SLOT_EMPTY);
    fixture_close(&f);
    TEST_DONE();
}

TEST(binary_keys_with_nul_bytes)
{
    fixture_t f;
    const char k1[] = { 'a', '\0', 'b' }, k2[] = { 'a', '\0', 'c' }, k3[] = { '\0' };
    REQUIRE(fixture_open(&f) == 0);
    REQUIRE(insert(&f, k1, sizeof k1, "one") >= 0);
    REQUIRE(insert(&f, k2, sizeof k2, "two") >= 0);
    REQUIRE(insert(&f, k3, sizeof k3, "nul") >= 0);
    CHECK(value_is(&f, find(&f, k1, sizeof k1), "one"));
    CHECK(value_is(&f, find(&f, k2, sizeof k2), "two"));
    CHECK(value_is(&f, find(&f, k3, sizeof k3), "nul"));
    CHECK_EQ(find(&f, "a", 1), KV_ENOTFOUND); /* a prefix is another key */
    fixture_close(&f);
    TEST_DONE();
}

TEST(census_counts_probe_lengths)
{
    fixture_t f;
    table_census_t c;
    colliding_t k;
    REQUIRE(fixture_open(&f) == 0);
    colliding_keys(&f, 0, &k);
    REQUIRE(insert(&f, k.key[0], k.len[0], "A") == 0);
    REQUIRE(insert(&f, k.key[1], k.len[1], "B") == 1);
    kv__table_census(&f.t, &c);
    CHECK_EQ(c.used, 2);
    CHECK_EQ(c.probe_sum, 3);
    CHECK_EQ(c.probe_max, 2);
    fixture_close(&f);
    TEST_DONE();
}

TEST(check_slot_finds_damage)
{
    fixture_t f;
    colliding_t k;
    REQUIRE(fixture_open(&f) == 0);
    colliding_keys(&f, 3, &k);
    REQUIRE(insert(&f, k.key[0], k.len[0], "A") == 3);
    REQUIRE(insert(&f, k.key[1], k.len[1], "B") == 4);
    CHECK(kv__table_check_slot(&f.t, 3, 0) == NULL);
    kv__table_slot(&f.t, 4)->hash ^= 1; /* stored hash no longer matches */
    CHECK(kv__table_check_slot(&f.t, 4, 0) != NULL);
    kv__table_slot(&f.t, 4)->hash ^= 1;
    kv__table_slot(&f.t, 4)->val_len = VAL_MAX + 1;
    CHECK(kv__table_check_slot(&f.t, 4, 0) != NULL);
    kv__table_slot(&f.t, 4)->val_len = 1;
    atomic_store(&f.t.hints->ttl_used, 1); /* as a put with a TTL sets it */
    kv__table_slot(&f.t, 4)->expires_ms = 1000 + 2 * KV_TTL_MAX_MS; /* a put at 1000 can't */
    CHECK(kv__table_check_slot(&f.t, 4, 1000) == NULL);
    CHECK(kv__table_check_slot(&f.t, 4, 999) != NULL);
    kv__table_slot(&f.t, 4)->expires_ms = 0;
    atomic_store(&kv__table_slot(&f.t, 3)->key_len, KV_SLOT_EMPTY); /* b cut off from home */
    CHECK(kv__table_check_slot(&f.t, 4, 0) != NULL);
    atomic_store(&kv__table_slot(&f.t, 3)->key_len, KEY_MAX + 1);
    CHECK(kv__table_check_slot(&f.t, 3, 0) != NULL);
    CHECK_EQ(find(&f, k.key[1], k.len[1]), KV_ECORRUPT); /* lookups refuse, never overrun */
    fixture_close(&f);
    TEST_DONE();
}

TEST(recovery_undoes_an_interrupted_replace)
{
    fixture_t f;
    long long i;
    kv_slot_t *s;
    REQUIRE(fixture_open(&f) == 0);
    i = insert(&f, "key", 3, "old value");
    REQUIRE(i >= 0);
    s = kv__table_slot(&f.t, (uint64_t)i);
    /* What a replace leaves when it dies after arming the journal and
     * writing half of the new entry: the image is a copy of the old slot. */
    memcpy((unsigned char *)f.h + KV_JOURNAL_IMAGE_OFFSET, s, KV_SLOT_SIZE);
    f.h->journal_slot = (uint32_t)i;
    atomic_store(&f.h->journal_op, KV_JOURNAL_REPLACE);
    memcpy(s->data + 3, "NEW v", 5);
    s->val_len = 20;
    s->version = 999;
    CHECK_EQ(kv__journal_recover(&f.t, f.h), 0);
    CHECK(value_is(&f, i, "old value"));
    CHECK_EQ(s->version, 1);
    CHECK(!kv__journal_busy(f.h));
    CHECK_EQ(f.h->recoveries, 1);
    CHECK_EQ(f.h->used, 1);
    fixture_close(&f);
    TEST_DONE();
}

TEST(recovery_moves_generation_past_every_version)
{
    fixture_t f;
    long long i;
    REQUIRE(fixture_open(&f) == 0);
    i = insert(&f, "key", 3, "v");
    REQUIRE(i >= 0);
    /* An insert committed its slot (version generation + 1) but died
     * before publishing the generation. */
    kv__table_slot(&f.t, (uint64_t)i)->version = 41;
    atomic_store(&f.h->generation, 40);
    CHECK_EQ(kv__journal_recover(&f.t, f.h), 0);
    CHECK(atomic_load(&f.h->generation) > 41);
    fixture_close(&f);
    TEST_DONE();
}

TEST(recovery_finishes_an_interrupted_clear)
{
    fixture_t f;
    REQUIRE(fixture_open(&f) == 0);
    REQUIRE(insert(&f, "k1", 2, "a") >= 0 && insert(&f, "k2", 2, "b") >= 0);
    atomic_store(&f.h->journal_op, KV_JOURNAL_CLEAR);
    CHECK_EQ(kv__journal_recover(&f.t, f.h), 0);
    CHECK_EQ(f.h->used, 0);
    CHECK_EQ(find(&f, "k1", 2), KV_ENOTFOUND);
    CHECK_EQ(find(&f, "k2", 2), KV_ENOTFOUND);
    fixture_close(&f);
    TEST_DONE();
}

TEST(recovery_refuses_a_damaged_journal)
{
    fixture_t f;
    long long i;
    REQUIRE(fixture_open(&f) == 0);
    i = insert(&f, "key", 3, "value");
    REQUIRE(i >= 0);
    f.h->journal_slot = SLOTS + 5; /* out of range: must not be written */
    atomic_store(&f.h->journal_op, KV_JOURNAL_REPLACE);
    CHECK_EQ(kv__journal_recover(&f.t, f.h), KV_ECORRUPT);
    CHECK(!kv__journal_busy(f.h));
    CHECK(value_is(&f, i, "value"));
    atomic_store(&f.h->journal_op, 99);
    CHECK_EQ(kv__journal_recover(&f.t, f.h), KV_ECORRUPT);
    fixture_close(&f);
    TEST_DONE();
}

TEST(recount_after_stale_counters)
{
    fixture_t f;
    REQUIRE(fixture_open(&f) == 0);
    REQUIRE(insert(&f, "k1", 2, "a") >= 0 && insert(&f, "k2", 2, "b") >= 0);
    f.h->used = 7; /* as if a holder died between commit and counter update */
    f.h->tombstones = 3;
    CHECK_EQ(kv__journal_recover(&f.t, f.h), 0);
    CHECK_EQ(f.h->used, 2);
    CHECK_EQ(f.h->tombstones, 0);
    fixture_close(&f);
    TEST_DONE();
}

/* 94-byte values: with a 2-byte key, too big for a slot (KV_INLINE_MAX),
 * so a block of OUT_G granules; VAL_OUT "!!" takes BIG_G. */
#define VAL30 "thirty bytes of value, exactly"
#define VAL30B "thirty other bytes, also exact"
#define VAL_OUT VAL30 VAL30 VAL30 "abcd"
#define VAL_OUTB VAL30B VAL30B VAL30B "wxyz"
#define OUT_G 7u
#define BIG_G 8u
_Static_assert(2 + sizeof VAL_OUT - 1 > KV_INLINE_MAX, "VAL_OUT lives out of line");

TEST(same_size_replace_reuses_the_spare)
{
    fixture_t f;
    long long i;
    uint32_t first, second;
    REQUIRE(fixture_open(&f) == 0);
    uint64_t all = f.g.data_granules;
    i = insert(&f, "k1", 2, VAL_OUT);
    REQUIRE(i >= 0 && insert(&f, "k2", 2, VAL_OUT) >= 0);
    first = block_of(&f, i);
    REQUIRE(replace(&f, i, "k1", 2, VAL_OUTB) == 0);
    CHECK_EQ(f.t.alloc->spare, first + 1); /* the old block, held aside */
    CHECK(census_ok(&f, all - 2 * OUT_G));
    second = block_of(&f, i);
    kv_alloc_t lists = *f.t.alloc;
    REQUIRE(replace(&f, i, "k1", 2, VAL_OUT) == 0);
    CHECK_EQ(block_of(&f, i), first); /* the spare served it */
    CHECK_EQ(f.t.alloc->spare, second + 1);
    CHECK(memcmp(lists.heads, f.t.alloc->heads, sizeof lists.heads) == 0); /* no list work */
    CHECK(census_ok(&f, all - 2 * OUT_G));
    CHECK(value_is(&f, i, VAL_OUT));
    fixture_close(&f);
    TEST_DONE();
}

TEST(second_give_lists_the_spare)
{
    fixture_t f;
    long long a, b;
    REQUIRE(fixture_open(&f) == 0);
    uint64_t all = f.g.data_granules;
    a = insert(&f, "k1", 2, VAL_OUT);
    b = insert(&f, "k2", 2, VAL_OUT);
    REQUIRE(a >= 0 && b >= 0);
    uint32_t b_block = block_of(&f, b);
    kv__journal_delete(&f.t, f.h, (uint64_t)a);
    CHECK(census_ok(&f, all - OUT_G));
    kv__journal_delete(&f.t, f.h, (uint64_t)b);
    CHECK_EQ(f.t.alloc->spare, b_block + 1);
    CHECK(census_ok(&f, all)); /* a's block merged with the free space after b's */
    fixture_close(&f);
    TEST_DONE();
}

/* The first free block of the data area (walking the block heads). */
static uint64_t first_free_block(fixture_t *f)
{
    uint64_t at = 0;
    while (at < f->g.data_granules && (kv__table_block(&f->t, at)->flags & KV_BLOCK_USED))
        at += kv__table_block(&f->t, at)->granules;
    return at;
}

TEST(take_lists_the_spare_before_refusing)
{
    fixture_t f;
    long long beside = -1, i;
    char key[4];
    uint32_t at;
    REQUIRE(fixture_open(&f) == 0);
    uint64_t all = f.g.data_granules;
    for (unsigned n = 0; n < SLOTS; n++) { /* every slot: a BIG_G-granule entry */
        snprintf(key, sizeof key, "k%u", n);
        REQUIRE(insert(&f, key, 2, VAL_OUT "!!") >= 0);
    }
    uint64_t tail = all - BIG_G * SLOTS, free_at = first_free_block(&f);
    REQUIRE(tail >= 1 && kv__table_block(&f.t, free_at)->granules == tail);
    for (i = 0; i < SLOTS; i++) /* the entry right before or after the free run */
        if (block_of(&f, i) + BIG_G == free_at || free_at + tail == block_of(&f, i))
            beside = i;
    REQUIRE(beside >= 0);
    uint64_t merged_at = block_of(&f, beside) < free_at ? block_of(&f, beside) : free_at;
    kv__journal_delete(&f.t, f.h, (uint64_t)beside); /* its block: the spare */
    CHECK(census_ok(&f, tail + BIG_G));
    /* Only the spare merged with the free run holds tail + BIG_G granules. */
    REQUIRE(kv__alloc_take(&f.t, tail + BIG_G, 0, f.h->alloc_epoch, &at) == 0);
    CHECK_EQ(at, merged_at);
    CHECK_EQ(kv__alloc_give(&f.t, at), 0);
    CHECK(census_ok(&f, tail + BIG_G));
    CHECK_EQ(kv__alloc_take(&f.t, tail + BIG_G + 1, 0, f.h->alloc_epoch, &at), KV_ENOROOM);
    CHECK_EQ(f.t.alloc->spare, 0); /* listed, and the free space unchanged */
    CHECK(census_ok(&f, tail + BIG_G));
    fixture_close(&f);
    TEST_DONE();
}

TEST(insert_carves_the_end_of_a_big_free_block)
{
    fixture_t f;
    long long i;
    REQUIRE(fixture_open(&f) == 0);
    uint64_t all = f.g.data_granules; /* one free block, listed at granule 0 */
    REQUIRE(all >= 32);
    kv_alloc_t lists = *f.t.alloc;
    i = insert(&f, "k1", 2, VAL_OUT "!!");
    REQUIRE(i >= 0);
    CHECK_EQ(block_of(&f, i), all - BIG_G);
    CHECK_EQ(kv__table_block(&f.t, 0)->granules, all - BIG_G);
    CHECK(memcmp(lists.heads, f.t.alloc->heads, sizeof lists.heads) == 0); /* still listed */
    CHECK(census_ok(&f, all - BIG_G));
    CHECK(value_is(&f, i, VAL_OUT "!!"));
    fixture_close(&f);
    TEST_DONE();
}

TEST(rebuild_forgets_the_spare)
{
    fixture_t f;
    long long i;
    REQUIRE(fixture_open(&f) == 0);
    uint64_t all = f.g.data_granules;
    i = insert(&f, "k1", 2, VAL_OUT);
    REQUIRE(i >= 0 && insert(&f, "k2", 2, VAL_OUT) >= 0);
    kv__journal_delete(&f.t, f.h, (uint64_t)i);
    REQUIRE(f.t.alloc->spare != 0);
    uint64_t dropped = 0;
    kv__alloc_rebuild(&f.t, f.h->alloc_epoch + 1, &dropped);
    CHECK_EQ(dropped, 0);
    CHECK_EQ(f.t.alloc->spare, 0);
    CHECK(census_ok(&f, all - OUT_G));
    fixture_close(&f);
    TEST_DONE();
}

TEST(census_reports_a_false_spare)
{
    fixture_t f;
    long long i;
    alloc_census_t c;
    REQUIRE(fixture_open(&f) == 0);
    i = insert(&f, "k1", 2, VAL_OUT);
    REQUIRE(i >= 0);
    f.t.alloc->spare = block_of(&f, i) + 1; /* a live entry's block */
    CHECK(kv__alloc_census(&f.t, &c) != NULL);
    CHECK(value_is(&f, i, VAL_OUT));
    fixture_close(&f);
    TEST_DONE();
}

static const test_case_t tests[] = {
    TEST_ENTRY(probe_wraps_around_the_end),
    TEST_ENTRY(full_table_has_no_free_slot),
    TEST_ENTRY(probe_reaches_the_last_slot),
    TEST_ENTRY(lookups_stop_at_the_probe_bound),
    TEST_ENTRY(sweep_empties_tombstones_no_path_crosses),
    TEST_ENTRY(tombstone_is_reused_and_keeps_chain),
    TEST_ENTRY(tombstone_run_before_empty_is_reclaimed),
    TEST_ENTRY(binary_keys_with_nul_bytes),
    TEST_ENTRY(census_counts_probe_lengths),
    TEST_ENTRY(check_slot_finds_damage),
    TEST_ENTRY(recovery_undoes_an_interrupted_replace),
    TEST_ENTRY(recovery_moves_generation_past_every_version),
    TEST_ENTRY(recovery_finishes_an_interrupted_clear),
    TEST_ENTRY(recovery_refuses_a_damaged_journal),
    TEST_ENTRY(recount_after_stale_counters),
    TEST_ENTRY(same_size_replace_reuses_the_spare),
    TEST_ENTRY(second_give_lists_the_spare),
    TEST_ENTRY(take_lists_the_spare_before_refusing),
    TEST_ENTRY(insert_carves_the_end_of_a_big_free_block),
    TEST_ENTRY(rebuild_forgets_the_spare),
    TEST_ENTRY(census_reports_a_false_spare),
};

int main(int argc, char **argv)
{
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
