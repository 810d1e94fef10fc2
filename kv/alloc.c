/*
 * alloc.c — the data area: a two-level segregated-fit allocator (as TLSF)
 * with boundary tags, whose every structure lives in the mapping.
 *
 * Blocks tile the data area: each starts with a kv_block_t head giving its
 * size, so the block after is found by adding it; a free block repeats its
 * size in its last 4 bytes and sets KV_BLOCK_PREV_FREE in the next head, so
 * the block before a freed one is found too, and free neighbours merge at
 * once.  Fragmentation is bounded by that merging and by the fit: a request
 * first looks through the few blocks of its own class for one that fits
 * (the best use of a hole that is nearly its size), then takes the first
 * block of the first class whose every block fits, splitting off the rest.
 *
 * Free lists are doubly linked through the heads (links are granule
 * numbers + 1, 0 ending a list), one per size class; a bitmap of non-empty
 * classes finds the next class in a few instructions.  Every link and size
 * read from the mapping is checked before use: a damaged list answers
 * KV_ECORRUPT and never steers a store outside the data area.
 *
 * Crash safety needs no journal here (alloc.h): the lists can always be
 * rebuilt from the slots, and recovery does so.
 */
#include "alloc.h"

#include <string.h>

#include "fault.h"
#include "journal.h" /* kv__journal_drop */
#include "kv.h"

/* ---------------------------------------------------------------------- */
/* Size classes                                                            */
/* ---------------------------------------------------------------------- */

static unsigned log2_floor(uint64_t n)
{
    return 63u - (unsigned)__builtin_clzll(n);
}

/* The class a free block of n (>= KV_BLOCK_MIN) granules is listed in. */
static unsigned class_of(uint64_t n)
{
    unsigned fl = log2_floor(n);
    if (fl < 2)
        return (unsigned)n;
    return 4 * fl + (unsigned)((n >> (fl - 2)) & 3);
}

/* The first class whose every block holds n granules. */
static unsigned class_fitting(uint64_t n)
{
    unsigned fl = log2_floor(n), c = class_of(n);
    int exact = fl < 2 || (n & ((UINT64_C(1) << (fl - 2)) - 1)) == 0;
    return exact ? c : c + 1;
}

/* The first non-empty class from c on, or KV_ALLOC_CLASSES. */
static unsigned next_nonempty(const kv_alloc_t *a, unsigned c)
{
    for (unsigned w = c / 64; w < KV_ALLOC_CLASSES / 64; w++) {
        uint64_t bits = a->nonempty[w];
        if (w == c / 64)
            bits &= ~UINT64_C(0) << (c % 64);
        if (bits)
            return w * 64 + (unsigned)__builtin_ctzll(bits);
    }
    return KV_ALLOC_CLASSES;
}

/* ---------------------------------------------------------------------- */
/* Blocks and lists                                                        */
/* ---------------------------------------------------------------------- */

/* The 4 bytes that end the block at `at` of n granules. */
static uint32_t *footer(const kv_table_t *t, uint64_t at, uint64_t n)
{
    return (uint32_t *)(t->data + (at + n) * KV_GRANULE - sizeof(uint32_t));
}

/* A link read from the mapping (granule + 1) as a free block's index, or
 * ALLOC_NONE for the end of a list; KV_ECORRUPT through *bad if it points
 * outside the data area or at a block that is not free. */
static uint64_t follow(const kv_table_t *t, uint32_t link, int *bad)
{
    uint64_t at = (uint64_t)link - 1;
    kv_block_t *b;
    if (link == 0)
        return ALLOC_NONE;
    if (at >= t->geo.data_granules) {
        *bad = 1;
        return ALLOC_NONE;
    }
    b = kv__table_block(t, at);
    if ((b->flags & KV_BLOCK_USED) || !kv__validate_block(at, b->granules, &t->geo))
        *bad = 1;
    return *bad ? ALLOC_NONE : at;
}

static void set_nonempty(kv_alloc_t *a, unsigned c, int on)
{
    uint64_t bit = UINT64_C(1) << (c % 64);
    a->nonempty[c / 64] = on ? (a->nonempty[c / 64] | bit) : (a->nonempty[c / 64] & ~bit);
}

static void list_push(const kv_table_t *t, uint64_t at)
{
    kv_alloc_t *a = t->alloc;
    kv_block_t *b = kv__table_block(t, at);
    unsigned c = class_of(b->granules);
    uint32_t head = a->heads[c];
    b->link1 = head;
    b->link2 = 0;
    if (head != 0 && head - 1 < t->geo.data_granules)
        kv__table_block(t, head - 1)->link2 = (uint32_t)at + 1;
    a->heads[c] = (uint32_t)at + 1;
    set_nonempty(a, c, 1);
}

/* Unlinks the free block at `at` from its class's list, checking that its
 * neighbours on the list point back at it. */
static int list_remove(const kv_table_t *t, uint64_t at)
{
    kv_alloc_t *a = t->alloc;
    kv_block_t *b = kv__table_block(t, at);
    unsigned c = class_of(b->granules);
    int bad = 0;
    uint64_t next = follow(t, b->link1, &bad), prev = follow(t, b->link2, &bad);
    if (bad || (prev == ALLOC_NONE ? a->heads[c] : kv__table_block(t, prev)->link1) != at + 1 ||
        (next != ALLOC_NONE && kv__table_block(t, next)->link2 != at + 1))
        return KV_ECORRUPT;
    if (prev == ALLOC_NONE)
        a->heads[c] = b->link1;
    else
        kv__table_block(t, prev)->link1 = b->link1;
    if (next != ALLOC_NONE)
        kv__table_block(t, next)->link2 = b->link2;
    if (a->heads[c] == 0)
        set_nonempty(a, c, 0);
    return 0;
}

/* Sets or clears KV_BLOCK_PREV_FREE in the head of the block after the one
 * at `at` of n granules (if there is one). */
static void mark_next(const kv_table_t *t, uint64_t at, uint64_t n, int prev_free)
{
    kv_block_t *next;
    if (at + n >= t->geo.data_granules)
        return;
    next = kv__table_block(t, at + n);
    next->flags = prev_free ? next->flags | KV_BLOCK_PREV_FREE : next->flags & ~KV_BLOCK_PREV_FREE;
}

/* Writes a free block of n granules at `at` and lists it (a one-granule
 * block has no room for links and stays off the lists until it merges). */
static void make_free(const kv_table_t *t, uint64_t at, uint64_t n)
{
    kv_block_t *b = kv__table_block(t, at);
    b->granules = (uint32_t)n;
    b->flags = 0;
    b->link1 = b->link2 = 0;
    *footer(t, at, n) = (uint32_t)n;
    if (n >= KV_BLOCK_MIN)
        list_push(t, at);
    mark_next(t, at, n, 1);
    t->alloc->free_granules += n;
}

/* Takes the free block at `at` out of the free space (its lists, count). */
static int unmake_free(const kv_table_t *t, uint64_t at)
{
    uint64_t n = kv__table_block(t, at)->granules;
    int rc = n >= KV_BLOCK_MIN ? list_remove(t, at) : 0;
    if (rc == 0)
        t->alloc->free_granules -= n;
    return rc;
}

void kv__alloc_format(const kv_table_t *t)
{
    memset(t->alloc, 0, sizeof *t->alloc);
    if (t->geo.data_granules)
        make_free(t, 0, t->geo.data_granules);
}

/* ---------------------------------------------------------------------- */
/* Taking and giving                                                       */
/* ---------------------------------------------------------------------- */

/* Looks for a free block of at least n granules: a few of n's own class
 * first, then the head of the first class that surely fits. */
#define ALLOC_OWN_CLASS_LOOKS 8

static int find_fit(const kv_table_t *t, uint64_t n, uint64_t *at)
{
    const kv_alloc_t *a = t->alloc;
    unsigned own = class_of(n), c;
    int bad = 0;
    uint64_t b = follow(t, a->heads[own], &bad);
    for (int looks = 0; b != ALLOC_NONE && looks < ALLOC_OWN_CLASS_LOOKS; looks++) {
        if (kv__table_block(t, b)->granules >= n) {
            *at = b;
            return 0;
        }
        b = follow(t, kv__table_block(t, b)->link1, &bad);
    }
    if (bad)
        return KV_ECORRUPT;
    c = next_nonempty(a, class_fitting(n));
    if (c == KV_ALLOC_CLASSES)
        return KV_ENOROOM;
    b = follow(t, a->heads[c], &bad);
    if (bad || b == ALLOC_NONE || kv__table_block(t, b)->granules < n)
        return KV_ECORRUPT;
    *at = b;
    return 0;
}

/* Gives the used block at `at` back to the lists, merging it with free
 * neighbours. */
static int give_to_lists(const kv_table_t *t, uint64_t at)
{
    kv_block_t *b = kv__table_block(t, at);
    uint64_t start = at, n = b->granules;
    if (!(b->flags & KV_BLOCK_USED) || !kv__validate_block(at, n, &t->geo))
        return KV_ECORRUPT;
    if (at + n < t->geo.data_granules && !(kv__table_block(t, at + n)->flags & KV_BLOCK_USED)) {
        uint64_t next_n = kv__table_block(t, at + n)->granules;
        if (!kv__validate_block(at + n, next_n, &t->geo) || unmake_free(t, at + n) != 0)
            return KV_ECORRUPT;
        n += next_n;
    }
    KV_CRASH_POINT();
    if (b->flags & KV_BLOCK_PREV_FREE) {
        uint64_t prev_n = at > 0 ? *footer(t, 0, at) : 0; /* the 4 bytes before `at` */
        if (prev_n == 0 || prev_n > at || kv__table_block(t, at - prev_n)->granules != prev_n ||
            (kv__table_block(t, at - prev_n)->flags & KV_BLOCK_USED) ||
            unmake_free(t, at - prev_n) != 0)
            return KV_ECORRUPT;
        start -= prev_n;
        n += prev_n;
    }
    make_free(t, start, n);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The spare block                                                         */
/* ---------------------------------------------------------------------- */

/*
 * A replace takes a block for the new entry, then gives the old one back.
 * When the two are the same size (a value rewritten at its size, the common
 * case), listing the old block and unlisting another for the next replace
 * is wasted work on list neighbours and boundary tags.  So give puts the
 * block it frees aside as the spare, its head still marked used and owned
 * by KV_BLOCK_SPARE (so a neighbour's merge never reaches into it), its
 * granules counted free; take reuses the spare when it is the size wanted.
 * Giving a second block lists the first, so at most one is held aside, and
 * a take that finds no room lists it and looks again, so the spare never
 * causes KV_ENOROOM.  Like the lists it is a cache of what the slots say:
 * no slot names it, so a rebuild turns it into free space.
 */

/* The spare block, or ALLOC_NONE: none, or a spare field that names no
 * spare block (damage: the census reports it; its room is lost until the
 * next rebuild, and the next give replaces the field). */
static uint64_t spare_block(const kv_table_t *t)
{
    uint64_t at = (uint64_t)t->alloc->spare - 1;
    const kv_block_t *b;
    if (t->alloc->spare == 0 || at >= t->geo.data_granules)
        return ALLOC_NONE;
    b = kv__table_block(t, at);
    if (!(b->flags & KV_BLOCK_USED) || b->link1 != KV_BLOCK_SPARE ||
        !kv__validate_block(at, b->granules, &t->geo))
        return ALLOC_NONE;
    return at;
}

/* Whether a spare of `have` granules serves a take of n: what take_listed
 * would leave of a bigger block, no more. */
static int spare_fits(uint64_t have, uint64_t n)
{
    return have >= n && have - n < KV_BLOCK_MIN;
}

/* Moves the spare block at `at` onto the lists. */
static int list_spare(const kv_table_t *t, uint64_t at)
{
    t->alloc->free_granules -= kv__table_block(t, at)->granules;
    if (t->alloc->spare == at + 1)
        t->alloc->spare = 0;
    return give_to_lists(t, at);
}

/* Marks the block at `at` as slot owner's, stamped with epoch. */
static void claim(kv_block_t *b, uint32_t owner, uint32_t epoch)
{
    b->link1 = owner;
    b->link2 = epoch;
}

/* Takes the last n granules of the free block at `at`, which stays where
 * it is on its list: what is left of it is of the same class (so a run of
 * inserts into a big free block shortens it, with no list work).  Returns
 * the block taken. */
static uint64_t carve_end(const kv_table_t *t, uint64_t at, uint64_t n)
{
    kv_block_t *f = kv__table_block(t, at);
    uint64_t rest = f->granules - n, taken = at + rest;
    f->granules = (uint32_t)rest;
    *footer(t, at, rest) = (uint32_t)rest;
    t->alloc->free_granules -= n;
    KV_CRASH_POINT();
    kv_block_t *blk = kv__table_block(t, taken);
    blk->granules = (uint32_t)n;
    blk->flags = KV_BLOCK_USED | KV_BLOCK_PREV_FREE;
    mark_next(t, taken, n, 0);
    return taken;
}

/* Takes a block of at least n granules off the lists (KV_ENOROOM: none). */
static int take_listed(const kv_table_t *t, uint64_t granules, uint64_t *at)
{
    uint64_t b, have;
    int rc = find_fit(t, granules, &b);
    if (rc)
        return rc;
    have = kv__table_block(t, b)->granules;
    if (have - granules >= KV_BLOCK_MIN && class_of(have - granules) == class_of(have)) {
        *at = carve_end(t, b, granules);
        return 0;
    }
    if ((rc = unmake_free(t, b)) != 0)
        return rc;
    KV_CRASH_POINT();
    if (have - granules >= KV_BLOCK_MIN) {
        make_free(t, b + granules, have - granules); /* the rest, PREV_FREE of its next kept */
        have = granules;
    } else {
        mark_next(t, b, have, 0);
    }
    kv_block_t *blk = kv__table_block(t, b);
    blk->granules = (uint32_t)have;
    blk->flags = KV_BLOCK_USED; /* the block before a free block is never free */
    *at = b;
    return 0;
}

int kv__alloc_take(const kv_table_t *t, uint64_t granules, uint32_t owner, uint32_t epoch,
                   uint32_t *at)
{
    uint64_t spare = spare_block(t), b;
    int rc;
    if (spare != ALLOC_NONE && spare_fits(kv__table_block(t, spare)->granules, granules)) {
        /* Its head stays as it is (PREV_FREE included): only the owner moves. */
        t->alloc->spare = 0;
        t->alloc->free_granules -= kv__table_block(t, spare)->granules;
        b = spare;
    } else {
        rc = take_listed(t, granules, &b);
        if (rc == KV_ENOROOM && spare != ALLOC_NONE && (rc = list_spare(t, spare)) == 0)
            rc = take_listed(t, granules, &b);
        if (rc)
            return rc;
    }
    claim(kv__table_block(t, b), owner, epoch);
    *at = (uint32_t)b;
    return 0;
}

int kv__alloc_give(const kv_table_t *t, uint32_t at)
{
    kv_block_t *b = kv__table_block(t, at);
    uint64_t old = spare_block(t);
    if (!(b->flags & KV_BLOCK_USED) || b->link1 == KV_BLOCK_SPARE ||
        !kv__validate_block(at, b->granules, &t->geo))
        return KV_ECORRUPT;
    b->link1 = KV_BLOCK_SPARE;
    t->alloc->spare = at + 1;
    t->alloc->free_granules += b->granules;
    return old == ALLOC_NONE ? 0 : list_spare(t, old);
}

/* ---------------------------------------------------------------------- */
/* Rebuild and census                                                      */
/* ---------------------------------------------------------------------- */

/* If the head at `at` is the block a used slot names — the slot it names
 * names this block back, with lengths that need its size — returns that
 * slot's index, else ALLOC_NONE.  Bytes inside an entry's value cannot pass
 * for a head: that would need the named slot to point into the value. */
static uint64_t owner_of(const kv_table_t *t, uint64_t at)
{
    const kv_block_t *b = kv__table_block(t, at);
    const kv_slot_t *s;
    uint32_t kl, vl;
    uint64_t need;
    if (!(b->flags & KV_BLOCK_USED) || b->link1 > t->mask)
        return ALLOC_NONE;
    s = kv__table_slot(t, b->link1);
    if (kv__table_read(t, s, &kl, &vl) != TABLE_ENTRY || kv__validate_is_inline(kl, vl) ||
        kv__table_block_of(s) != at)
        return ALLOC_NONE;
    need = kv__validate_block_granules((uint64_t)kl + vl);
    if ((b->granules != need && b->granules != need + 1) ||
        !kv__validate_block(at, b->granules, &t->geo))
        return ALLOC_NONE;
    return b->link1;
}

#define ALLOC_ROOM_LOOKS 16 /* free blocks of the top class looked at */

uint64_t kv__alloc_room_victim(const kv_table_t *t, uint64_t keep)
{
    int bad = 0;
    unsigned top = KV_ALLOC_CLASSES;
    for (unsigned c = KV_ALLOC_CLASSES; c-- > 0;)
        if ((t->alloc->nonempty[c / 64] >> (c % 64)) & 1) {
            top = c;
            break;
        }
    if (top == KV_ALLOC_CLASSES)
        return TABLE_NONE;
    uint64_t f = follow(t, t->alloc->heads[top], &bad);
    for (int looks = 0; f != ALLOC_NONE && looks < ALLOC_ROOM_LOOKS; looks++) {
        uint64_t next = f + kv__table_block(t, f)->granules, owner;
        if (next < t->geo.data_granules && (owner = owner_of(t, next)) != ALLOC_NONE &&
            owner != keep)
            return owner;
        f = follow(t, kv__table_block(t, f)->link1, &bad);
    }
    return TABLE_NONE;
}

/* Deletes every used out-of-line slot whose block does not carry `epoch`
 * (the rebuild did not recognise it), counting each in *dropped. */
static void drop_unrecognised(const kv_table_t *t, uint32_t epoch, uint64_t *dropped)
{
    for (uint64_t i = 0; i <= t->mask; i++) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t kl, vl;
        uint64_t at;
        int kind = kv__table_read(t, s, &kl, &vl);
        if (kind == TABLE_FREE || (kind == TABLE_ENTRY && kv__validate_is_inline(kl, vl)))
            continue;
        at = kv__table_block_of(s);
        if (at < t->geo.data_granules && kv__table_block(t, at)->link1 == i &&
            kv__table_block(t, at)->link2 == epoch && (kv__table_block(t, at)->flags & KV_BLOCK_USED))
            continue;
        kv__journal_drop(s, dropped);
    }
    KV_CRASH_POINT();
}

void kv__alloc_rebuild(const kv_table_t *t, uint32_t epoch, uint64_t *dropped)
{
    uint64_t at = 0, free_from = 0, rebuilt = 0;
    memset(t->alloc, 0, sizeof *t->alloc);
    while (at < t->geo.data_granules) {
        if (owner_of(t, at) == ALLOC_NONE) {
            at++;
            continue;
        }
        kv_block_t *b = kv__table_block(t, at);
        b->flags = KV_BLOCK_USED; /* make_free of the gap before sets PREV_FREE */
        b->link2 = epoch;
        if (at > free_from)
            make_free(t, free_from, at - free_from);
        at += b->granules;
        free_from = at;
        if (++rebuilt == 1)
            KV_CRASH_POINT(); /* one block stamped with the new epoch, the rest not yet */
    }
    if (at > free_from)
        make_free(t, free_from, at - free_from);
    drop_unrecognised(t, epoch, dropped);
}

/* Counts the blocks on every free list; NULL if each is where it belongs. */
static const char *count_lists(const kv_table_t *t, uint64_t *blocks, uint64_t *granules)
{
    *blocks = *granules = 0;
    for (unsigned c = 0; c < KV_ALLOC_CLASSES; c++) {
        int bad = 0;
        uint64_t prev = ALLOC_NONE, b = follow(t, t->alloc->heads[c], &bad);
        if (((t->alloc->nonempty[c / 64] >> (c % 64)) & 1) != (t->alloc->heads[c] != 0))
            return "free-list bitmap disagrees with the lists";
        while (b != ALLOC_NONE) {
            const kv_block_t *blk = kv__table_block(t, b);
            if (class_of(blk->granules) != c || blk->link2 != (prev == ALLOC_NONE ? 0 : prev + 1))
                return "a free block is on the wrong list or badly linked";
            if (++*blocks > t->geo.data_granules)
                return "a free list loops";
            *granules += blk->granules;
            prev = b;
            b = follow(t, blk->link1, &bad);
        }
        if (bad)
            return "a free-list link points at no free block";
    }
    return NULL;
}

/* Counts n granules of free space (a free block, or the spare). */
static void count_free(alloc_census_t *c, uint64_t n)
{
    c->free_granules += n;
    if (n > c->largest_free)
        c->largest_free = n;
}

const char *kv__alloc_census(const kv_table_t *t, alloc_census_t *c)
{
    uint64_t at = 0, listed_blocks, listed_granules, spare = spare_block(t);
    int prev_free = 0;
    const char *why;
    memset(c, 0, sizeof *c);
    if (t->alloc->spare != 0 && spare == ALLOC_NONE)
        return "the spare-block field names no spare block";
    while (at < t->geo.data_granules) {
        const kv_block_t *b = kv__table_block(t, at);
        if (!kv__validate_block(at, b->granules, &t->geo) && b->granules != 1)
            return "a block's size runs past the data area";
        if (((b->flags & KV_BLOCK_PREV_FREE) != 0) != prev_free)
            return "a block's previous-free mark is wrong";
        if (at == spare) {
            count_free(c, b->granules);
        } else if (b->flags & KV_BLOCK_USED) {
            if (owner_of(t, at) == ALLOC_NONE)
                return "a used block is named by no slot";
            c->used_blocks++;
            c->used_granules += b->granules;
        } else {
            if (prev_free)
                return "two free blocks side by side";
            if (*footer(t, at, b->granules) != b->granules)
                return "a free block's size tag is wrong";
            c->free_blocks += b->granules >= KV_BLOCK_MIN;
            count_free(c, b->granules);
        }
        prev_free = !(b->flags & KV_BLOCK_USED);
        at += b->granules;
    }
    if (c->free_granules != t->alloc->free_granules)
        return "free-space count disagrees with the blocks";
    if ((why = count_lists(t, &listed_blocks, &listed_granules)) != NULL)
        return why;
    if (listed_blocks != c->free_blocks)
        return "a free block is missing from the lists";
    return NULL;
}
