/*
 * table.c — lookups over kv's slot array: open addressing with linear
 * probing over a power-of-two table, indexed by XXH3-64 of the key with a
 * per-store seed.
 *
 * Main choices:
 *   - Linear probing: the next candidate is the next slot, usually in the
 *     same or the next cache line, and the index is hash & mask (no division).
 *   - Each slot keeps 32 bits of the hash (the home index and more), so
 *     keys are compared only when those match.
 *   - Deletion leaves a tombstone (KV_SLOT_TOMB) that inserts reuse, and
 *     journal.c turns a run of tombstones back into empty slots when it ends
 *     at an empty slot.  Entries never move, which is what lets kv_next()
 *     promise exactly-once iteration and keeps every mutation a change to
 *     one slot (see journal.c).  kv_stats() reports tombstones and probe
 *     lengths so their cost stays visible.
 */
#include "table.h"

#include <string.h>
#include <xxhash.h>

#include "kv.h"

void kv__table_init(kv_table_t *t, void *base, const kv_geometry_t *g, uint64_t seed)
{
    t->slots = (unsigned char *)base + g->header_size;
    t->data = (unsigned char *)base + g->data_offset;
    t->alloc = (kv_alloc_t *)((unsigned char *)base + KV_ALLOC_OFFSET);
    t->hints = (kv_hints_t *)((unsigned char *)base + KV_HINTS_OFFSET);
    t->waits = (kv_waits_t *)((unsigned char *)base + KV_WAITS_OFFSET);
    t->geo = *g;
    t->mask = g->slot_count - 1;
    t->seed = seed;
    t->checked = 0; /* the store's flag, set by its opener */
}

_Static_assert(KV_SLOTS_MAX <= (1ull << 32), "a slot's 32-bit hash holds every home index");

uint32_t kv__table_hash(const kv_table_t *t, const void *key, size_t len)
{
    return (uint32_t)XXH3_64bits_withSeed(key, len, t->seed);
}

uint32_t kv__table_check_of(const kv_slot_t *s, uint32_t key_len, uint32_t val_len,
                            const unsigned char *bytes)
{
    uint64_t head[4] = { s->hash, (uint64_t)key_len << 32 | (val_len & KV_VAL_LEN_MASK),
                         s->version, s->expires_ms };
    uint64_t seed = XXH3_64bits(head, sizeof head);
    return (uint32_t)XXH3_64bits_withSeed(bytes, (size_t)key_len + (val_len & KV_VAL_LEN_MASK),
                                          seed);
}

/* 1 if slot s (in state `state`, a key length) holds `key`, 0 if not,
 * KV_ECORRUPT if its value length or block cannot be trusted.  Only a slot
 * whose hash matches has its key bytes read, which for an out-of-line
 * entry is the one read of its block. */
static int slot_holds(const kv_table_t *t, kv_slot_t *s, uint32_t state, uint32_t hash,
                      const void *key, uint32_t key_len)
{
    const unsigned char *bytes;
    uint32_t val_len;
    if (state != key_len || s->hash != hash)
        return 0;
    val_len = kv__table_val_len(s);
    if (!kv__validate_val_len(val_len, &t->geo) ||
        !(bytes = kv__table_bytes(t, s, key_len, val_len)))
        return KV_ECORRUPT;
    return memcmp(bytes, key, key_len) == 0;
}

/* The first free slot (empty or tombstone) from slot i on, looking at no
 * more than `left` slots; TABLE_NONE if there is none. */
static uint64_t first_free(const kv_table_t *t, uint64_t i, uint64_t left)
{
    for (; left > 0; left--, i = (i + 1) & t->mask) {
        uint32_t state = kv__table_state(kv__table_slot(t, i));
        if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB)
            return i;
    }
    return TABLE_NONE;
}

int kv__table_lookup(const kv_table_t *t, uint32_t hash, const void *key, uint32_t key_len,
                 table_pos_t *pos)
{
    uint64_t i = hash & t->mask, limit = kv__table_probe_limit(t), step;
    pos->free = TABLE_NONE;
    /* At most the probe bound: tombstones can leave a table with no empty
     * slot to stop at, and no entry lies further from its home. */
    for (step = 0; step < limit; step++, i = (i + 1) & t->mask) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t state = kv__table_state(s);
        if (state == KV_SLOT_EMPTY) {
            if (pos->free == TABLE_NONE)
                pos->free = i;
            return KV_ENOTFOUND;
        }
        if (state == KV_SLOT_TOMB) {
            if (pos->free == TABLE_NONE)
                pos->free = i;
            continue;
        }
        if (state > t->geo.key_max)
            return KV_ECORRUPT;
        int holds = slot_holds(t, s, state, hash, key, key_len);
        if (holds < 0)
            return holds;
        if (holds) {
            pos->found = i;
            return 0;
        }
    }
    /* Absent; an insert may still find a free slot beyond the bound. */
    if (pos->free == TABLE_NONE)
        pos->free = first_free(t, i, t->mask + 1 - step);
    return KV_ENOTFOUND;
}

uint64_t kv__table_victim(const kv_table_t *t, uint32_t hash, uint64_t now_ms)
{
    uint64_t i = hash & t->mask;
    for (uint64_t step = 0; step < TABLE_VICTIM_WINDOW && step <= t->mask;
         step++, i = (i + 1) & t->mask) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t state = kv__table_state(s);
        if (state == KV_SLOT_EMPTY)
            break;
        if (state != KV_SLOT_TOMB && state <= t->geo.key_max && kv__table_expired(s, now_ms))
            return i;
    }
    return TABLE_NONE;
}

uint64_t kv__table_window_victim(const kv_table_t *t, uint32_t hash)
{
    uint64_t i = hash & t->mask, first = TABLE_NONE;
    for (uint64_t step = 0; step < TABLE_VICTIM_WINDOW && step <= t->mask;
         step++, i = (i + 1) & t->mask) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t state = kv__table_state(s);
        if (state == KV_SLOT_EMPTY)
            break;
        if (state == KV_SLOT_TOMB || state > t->geo.key_max)
            continue;
        if (!(s->val_len & KV_VAL_REF))
            return i;
        if (first == TABLE_NONE)
            first = i;
        s->val_len &= ~KV_VAL_REF;
    }
    return first;
}

uint64_t kv__table_clock_victim(const kv_table_t *t, uint64_t *hand, uint64_t now_ms)
{
    uint64_t i = *hand & t->mask, chosen = TABLE_NONE, looked = 0;
    /* Two turns: the first may only clear reference bits.  Once an
     * unreferenced entry is chosen, look a little further for an expired
     * one, which is always the better victim. */
    for (uint64_t step = 0; step < 2 * (t->mask + 1); step++, i = (i + 1) & t->mask) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t state = kv__table_state(s);
        if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB || state > t->geo.key_max)
            continue;
        if (kv__table_expired(s, now_ms)) {
            chosen = i;
            break;
        }
        if (chosen != TABLE_NONE) {
            if (++looked == TABLE_CLOCK_LOOKAHEAD)
                break;
        } else if (!(s->val_len & KV_VAL_REF)) {
            chosen = i;
        } else {
            s->val_len &= ~KV_VAL_REF;
        }
    }
    if (chosen != TABLE_NONE)
        *hand = (chosen + 1) & t->mask;
    return chosen;
}

uint64_t kv__table_probe_length(const kv_table_t *t, uint64_t i)
{
    uint64_t home = kv__table_slot(t, i)->hash & t->mask;
    return ((i - home) & t->mask) + 1;
}

void kv__table_census(const kv_table_t *t, table_census_t *c)
{
    memset(c, 0, sizeof *c);
    for (uint64_t i = 0; i <= t->mask; i++) {
        const kv_slot_t *s = kv__table_slot(t, i);
        uint32_t key_len, val_len;
        int kind = kv__table_read(t, s, &key_len, &val_len);
        if (kind == TABLE_FREE) {
            c->tombstones += key_len == KV_SLOT_TOMB;
        } else if (kind == TABLE_DAMAGED) {
            c->damaged++;
        } else {
            uint64_t probe = kv__table_probe_length(t, i);
            c->inline_used += kv__validate_is_inline(key_len, val_len);
            c->expiring += s->expires_ms != 0;
            c->entry_bytes += (uint64_t)key_len + val_len;
            if (s->version > c->version_max)
                c->version_max = s->version;
            c->used++;
            c->probe_sum += probe;
            if (probe > c->probe_max)
                c->probe_max = probe;
        }
    }
}

/* Every slot from the entry's home up to i must be non-empty, or a lookup
 * would stop before reaching it. */
static int reachable(const kv_table_t *t, uint64_t i)
{
    uint64_t home = kv__table_slot(t, i)->hash & t->mask;
    for (uint64_t j = home; j != i; j = (j + 1) & t->mask)
        if (kv__table_state(kv__table_slot(t, j)) == KV_SLOT_EMPTY)
            return 0;
    return 1;
}

const char *kv__table_check_slot(const kv_table_t *t, uint64_t i, uint64_t now_ms)
{
    kv_slot_t *s = kv__table_slot(t, i);
    /* Each field read once: a process with write permission may change
     * them while this runs (the lock binds only those who take it). */
    uint32_t state = kv__table_state(s), val_len = kv__table_val_len(s);
    table_pos_t pos;
    if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB)
        return NULL;
    if (!kv__validate_key_len(state, &t->geo))
        return "key length out of range";
    if (!kv__validate_val_len(val_len, &t->geo))
        return "value length out of range";
    if (!kv__validate_expiry(s->expires_ms, now_ms))
        return "expiry further ahead than any time to live";
    if (s->expires_ms && !kv__table_ttl_used(t))
        return "entry has an expiry the store's hints do not know of";
    const unsigned char *bytes = kv__table_bytes(t, s, state, val_len);
    if (!bytes)
        return "block outside the data area";
    if (kv__table_hash(t, bytes, state) != s->hash)
        return "stored hash does not match the key";
    if (t->checked && kv__table_check_of(s, state, val_len, bytes) != s->check)
        return "entry check does not match its bytes (torn, by a power loss or a stray write)";
    if (!reachable(t, i))
        return "entry unreachable: an empty slot lies between it and its home";
    if (kv__table_probe_length(t, i) > kv__table_probe_limit(t))
        return "entry unreachable: further from its home than the store's probe bound";
    if (kv__table_lookup(t, s->hash, bytes, state, &pos) != 0 || pos.found != i)
        return "key stored twice";
    return NULL;
}
