/*
 * alloc.h — the data area's allocator: blocks of whole granules, in the
 * mapping, with free lists that are a cache of what the slots say.
 *
 * Pure memory functions: no locking, no system calls.  The caller holds the
 * store's mutex and a validated table.  The slots are the truth: a block is
 * in use exactly when a used slot names it and the block names that slot
 * back.  So a holder killed anywhere inside these functions, or between an
 * allocation and the slot store that commits it, leaves nothing that
 * kv__alloc_rebuild() cannot put right from the slots alone (journal.c runs
 * it in every recovery): no leak, no block used twice.
 */
#ifndef KV_ALLOC_H
#define KV_ALLOC_H

#include "table.h"

/* "No block": what kv__alloc_take answers when the data area has no room. */
#define ALLOC_NONE UINT32_MAX

/* Makes the whole data area one free block (a new or cleared store). */
void kv__alloc_format(const kv_table_t *t);

/* Takes a block of at least `granules` (>= KV_BLOCK_MIN) for slot `owner`,
 * stamped with `epoch`.  Returns 0 with *at set, KV_ENOROOM when no free
 * block is big enough, or KV_ECORRUPT if a free list is damaged. */
int kv__alloc_take(const kv_table_t *t, uint64_t granules, uint32_t owner, uint32_t epoch,
                   uint32_t *at);

/* Gives back the used block at `at`: it becomes the spare (alloc.c), and
 * the spare before it goes onto the lists, merging with free neighbours.
 * Returns 0, or KV_ECORRUPT if a block or a neighbour is damaged (the block
 * is then left out of the lists until the next rebuild). */
int kv__alloc_give(const kv_table_t *t, uint32_t at);

/* For a cache that must make a free run big enough: the slot whose block
 * lies right after one of the largest free blocks (not slot `keep`), so
 * that evicting it merges its room into that run.  TABLE_NONE if no such
 * block is found among the few it looks at. */
uint64_t kv__alloc_room_victim(const kv_table_t *t, uint64_t keep);

/* Rebuilds every free list from the slots: blocks that used slots name (and
 * that name them) stay, with the new `epoch`; everything between them
 * becomes free.  A used slot whose block is not recognised (damage) is
 * deleted with kv__journal_drop, which counts it in *dropped. */
void kv__alloc_rebuild(const kv_table_t *t, uint32_t epoch, uint64_t *dropped);

/* What a walk over the blocks finds. */
typedef struct alloc_census {
    uint64_t used_blocks, used_granules;
    uint64_t free_blocks, free_granules, largest_free; /* largest_free in granules */
} alloc_census_t;

/* Walks the blocks (O(blocks)).  Returns NULL when they tile the data area
 * soundly and agree with the slots and free lists, else a static
 * description of the first problem; *c holds what was counted. */
const char *kv__alloc_census(const kv_table_t *t, alloc_census_t *c);

#endif /* KV_ALLOC_H */
