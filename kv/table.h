/*
 * table.h — the open-addressing hash table over a store's slot array.
 *
 * Pure memory functions: no locking, no system calls.  The caller holds the
 * store's mutex.  Mutations live in journal.c, which orders their stores for
 * crash safety; this module finds slots and reads them.
 */
#ifndef KV_TABLE_H
#define KV_TABLE_H

#include <stddef.h>
#include <string.h>

#include "validate.h"

typedef struct kv_table {
    unsigned char *slots; /* slot 0 inside the mapping */
    unsigned char *data;  /* granule 0 of the data area */
    kv_alloc_t *alloc;    /* the data area's free lists, in the header */
    kv_hints_t *hints;    /* the header's read-mostly line */
    kv_waits_t *waits;    /* kv_watch's wait words (notify.c) */
    kv_geometry_t geo;    /* validated private copy; never re-read from the mapping */
    uint64_t mask;        /* slot_count - 1 */
    uint64_t seed;        /* XXH3 seed of this store */
    int checked;          /* KV_STORE_CHECKED: entries carry a check */
} kv_table_t;

/* Where a lookup ended. */
typedef struct table_pos {
    uint64_t found; /* index of the key's slot (when found) */
    uint64_t free;  /* first empty or tombstone slot on the probe path, or
                     * TABLE_NONE when the table has no room (when not found) */
} table_pos_t;

#define TABLE_NONE UINT64_MAX

/* Sets up *t over the store at `base` with validated geometry. */
void kv__table_init(kv_table_t *t, void *base, const kv_geometry_t *g, uint64_t seed);

/* The slot hash of a key: the low 32 bits of its XXH3-64 with the store's
 * seed (slot_count <= 2^30, so they hold the whole home index). */
uint32_t kv__table_hash(const kv_table_t *t, const void *key, size_t len);

/* The check of the entry in slot s with these lengths and bytes (its key,
 * then its value): 32 bits of XXH3 over the head fields (not the CLOCK bit,
 * which gets set) and the bytes.  A power loss that keeps some of an
 * entry's pages from before a write and some from after leaves a slot whose
 * check does not match. */
uint32_t kv__table_check_of(const kv_slot_t *s, uint32_t key_len, uint32_t val_len,
                            const unsigned char *bytes);

static inline kv_slot_t *kv__table_slot(const kv_table_t *t, uint64_t i)
{
    return (kv_slot_t *)(t->slots + i * KV_SLOT_SIZE);
}

static inline kv_block_t *kv__table_block(const kv_table_t *t, uint64_t at)
{
    return (kv_block_t *)(t->data + at * KV_GRANULE);
}

/* The block index an out-of-line slot holds. */
static inline uint32_t kv__table_block_of(const kv_slot_t *s)
{
    uint32_t at;
    memcpy(&at, s->data, sizeof at);
    return at;
}

/* Where the key, then the value, of the entry in slot s are: its inline
 * bytes, or its block past the head.  The lengths are the slot's, already
 * validated; NULL if an out-of-line slot's block index does not name a
 * block inside the data area big enough for them (damage). */
static inline unsigned char *kv__table_bytes(const kv_table_t *t, kv_slot_t *s, uint32_t key_len,
                                             uint32_t val_len)
{
    uint64_t at;
    if (kv__validate_is_inline(key_len, val_len))
        return s->data;
    at = kv__table_block_of(s);
    if (!kv__validate_block(at, kv__validate_block_granules((uint64_t)key_len + val_len),
                            &t->geo))
        return NULL;
    return (unsigned char *)(kv__table_block(t, at) + 1);
}

/* Asks the CPU to fetch the home slot of `hash` (both lines, for a write;
 * line 0, all a get of a small entry reads, for a read) while the caller
 * takes the lock: only a hint, over bytes that are always mapped. */
static inline void kv__table_prefetch(const kv_table_t *t, uint32_t hash, int for_write)
{
    const kv_slot_t *s = kv__table_slot(t, hash & t->mask);
    if (for_write) {
        __builtin_prefetch(s, 1);
        __builtin_prefetch(&s->version, 1);
    } else {
        __builtin_prefetch(s, 0);
    }
}

/* How many slots from its home a lookup compares keys in: the store's probe
 * bound (kv_hints_t), read once, and never more than the table. */
static inline uint64_t kv__table_probe_limit(const kv_table_t *t)
{
    uint64_t limit = atomic_load_explicit(&t->hints->probe_max, memory_order_relaxed);
    return limit <= t->mask ? limit : t->mask + 1;
}

/* A used slot's value length, without the reference bit. */
static inline uint32_t kv__table_val_len(const kv_slot_t *s)
{
    return *(const volatile uint32_t *)&s->val_len & KV_VAL_LEN_MASK;
}

/* Whether a used slot's entry has expired at wall-clock time now_ms. */
static inline int kv__table_expired(const kv_slot_t *s, uint64_t now_ms)
{
    return s->expires_ms != 0 && s->expires_ms <= now_ms;
}

/* Whether any entry of the store may carry an expiry (kv_hints_t): while
 * not, a get need not read its slot's second line.  The caller holds the
 * lock, which orders the hint's one change. */
static inline int kv__table_ttl_used(const kv_table_t *t)
{
    return atomic_load_explicit(&t->hints->ttl_used, memory_order_relaxed) != 0;
}

/* Reads a slot's state word (EMPTY, TOMB or key length).  The caller holds
 * the lock, so relaxed is enough: the mutex orders it against other
 * processes' writes. */
static inline uint32_t kv__table_state(const kv_slot_t *s)
{
    return atomic_load_explicit(&s->key_len, memory_order_relaxed);
}

/* What slot s holds, as kv__table_read() tells it. */
enum { TABLE_FREE, TABLE_ENTRY, TABLE_DAMAGED };

/* Reads slot s's key and value lengths, each once (a process with write
 * permission may change them meanwhile), into *key_len and *val_len.
 * Returns TABLE_FREE (empty or tombstone), TABLE_ENTRY (both lengths within
 * the store's limits) or TABLE_DAMAGED. */
static inline int kv__table_read(const kv_table_t *t, const kv_slot_t *s, uint32_t *key_len,
                                 uint32_t *val_len)
{
    *key_len = kv__table_state(s);
    *val_len = kv__table_val_len(s);
    if (*key_len == KV_SLOT_EMPTY || *key_len == KV_SLOT_TOMB)
        return TABLE_FREE;
    return kv__validate_key_len(*key_len, &t->geo) && kv__validate_val_len(*val_len, &t->geo)
               ? TABLE_ENTRY : TABLE_DAMAGED;
}

/* Probes for `key`, comparing keys in no more slots than the store's probe
 * bound (kv_hints_t).  Returns 0 with pos->found set, KV_ENOTFOUND with
 * pos->free set (the first free slot from the key's home on, which may lie
 * past the bound), or KV_ECORRUPT if a slot on the path is damaged. */
int kv__table_lookup(const kv_table_t *t, uint32_t hash, const void *key, uint32_t key_len,
                 table_pos_t *pos);

/* How many slots from a key's home an eviction scan looks at. */
#define TABLE_VICTIM_WINDOW 16u

/* Finds an expired entry that a new key with `hash` may take over: within
 * TABLE_VICTIM_WINDOW slots from its home and never past an empty slot
 * (the new key must stay reachable).  Returns the slot or TABLE_NONE. */
uint64_t kv__table_victim(const kv_table_t *t, uint32_t hash, uint64_t now_ms);

/* CLOCK within the window of a new key with `hash` (the slots a
 * kv__table_victim() looks at): the first entry whose reference bit is
 * clear, clearing the bits it passes, else the first entry.  Returns the
 * slot or TABLE_NONE. */
uint64_t kv__table_window_victim(const kv_table_t *t, uint32_t hash);

/* How many entries CLOCK looks past its choice for an expired one. */
#define TABLE_CLOCK_LOOKAHEAD 64u

/* CLOCK over the whole table, for a cache store whose new key has no
 * victim in its window: from *hand, the first entry whose reference bit is
 * clear (clearing the bits it passes) — unless an expired entry comes first
 * or within TABLE_CLOCK_LOOKAHEAD entries after it.  Advances *hand past
 * the victim.  Returns the slot, or TABLE_NONE if no slot is used. */
uint64_t kv__table_clock_victim(const kv_table_t *t, uint64_t *hand, uint64_t now_ms);

/* Probe length of the entry in slot i: 1 if it sits in its home slot. */
uint64_t kv__table_probe_length(const kv_table_t *t, uint64_t i);

/* Occupancy and probe lengths, from one pass over every slot. */
typedef struct kv__table_census {
    uint64_t used, tombstones, probe_sum, probe_max, damaged;
    uint64_t version_max;  /* largest entry version seen */
    uint64_t inline_used;  /* entries that live in their slot */
    uint64_t expiring;     /* entries with an expiry */
    uint64_t entry_bytes;  /* key + value bytes of every entry */
} table_census_t;

void kv__table_census(const kv_table_t *t, table_census_t *c);

/* Verifies slot i (lengths in range, expiry not beyond what a put can set
 * at now_ms, stored hash matches the key, reachable from its home slot and
 * the first slot holding its key).  Returns NULL if sound, else a static
 * description of the problem. */
const char *kv__table_check_slot(const kv_table_t *t, uint64_t i, uint64_t now_ms);

#endif /* KV_TABLE_H */
