/*
 * journal.h — every change to a store's slots, made in an order that a
 * process killed at any instruction cannot break, and the recovery that the
 * next lock holder runs.  The protocol is described at the top of journal.c.
 * All functions require the store's mutex and a validated table.
 */
#ifndef KV_JOURNAL_H
#define KV_JOURNAL_H

#include "table.h"

/* What a write stores in a slot besides its key (given by the caller). */
typedef struct journal_entry {
    uint32_t hash;
    const void *val;
    uint32_t val_len;
    uint64_t expires_ms; /* 0: never */
    uint32_t block;      /* set by kv__journal_place */
} journal_entry_t;

/* Makes room for an entry that is to go into slot i: nothing for one that
 * fits inline, else a block of the data area, filled with the key and the
 * value (e->block).  Nothing names the block until the write that follows
 * commits; until then a crash leaves it to recovery's rebuild.  Returns 0,
 * KV_ENOROOM (the data area has no block big enough) or KV_ECORRUPT. */
int kv__journal_place(const kv_table_t *t, kv_header_t *h, uint64_t i, const void *key,
                      uint32_t key_len, journal_entry_t *e);

/* Stores a new entry in free slot i (EMPTY or TOMB).  Returns its version. */
uint64_t kv__journal_insert(const kv_table_t *t, kv_header_t *h, uint64_t i,
                        const void *key, uint32_t key_len, const journal_entry_t *e);

/* Replaces the whole entry in used slot i — the same key with a new value,
 * or (eviction) another key — as one undoable step, then gives back the
 * block the old entry had.  The caller has validated the slot's lengths and
 * placed the new entry (kv__journal_place).  Returns the new version. */
uint64_t kv__journal_replace(const kv_table_t *t, kv_header_t *h, uint64_t i,
                         const void *key, uint32_t key_len, const journal_entry_t *e);

/* Evicts the entry in used slot v and stores a new entry in free slot j,
 * as one undoable step (a cache store whose new key's own window offers no
 * victim).  The caller has validated v's lengths.  Returns the version. */
uint64_t kv__journal_evict_insert(const kv_table_t *t, kv_header_t *h, uint64_t v, uint64_t j,
                              const void *key, uint32_t key_len, const journal_entry_t *e);

/* Deletes the entry in slot i. */
void kv__journal_delete(const kv_table_t *t, kv_header_t *h, uint64_t i);

/* Deletes the entry in slot i to make room for a write in the same lock
 * hold, which publishes the one new generation for both (a put is one
 * change, however many entries it evicts; a holder that dies between them
 * is covered by the generation its recovery publishes). */
void kv__journal_evict(const kv_table_t *t, kv_header_t *h, uint64_t i);

/* Empties every slot. */
void kv__journal_clear(const kv_table_t *t, kv_header_t *h);

/* Publishes a new generation for changes made without one (evictions of a
 * write that then failed). */
void kv__journal_publish(kv_header_t *h);

/* Repairs the store after a holder died: undoes an interrupted replace,
 * finishes an interrupted clear, rebuilds the data area's free lists from
 * the slots (deleting entries whose block is damaged, counted in
 * h->dropped), recounts used and tombstone slots, and counts the
 * recovery.  Idempotent, so a death during recovery is repaired
 * by the next holder.  Returns 0, or KV_ECORRUPT if the journal itself was
 * damaged (the store is then left consistent but the interrupted operation
 * could not be undone). */
int kv__journal_recover(const kv_table_t *t, kv_header_t *h);

/* Deletes the entry in slot s as damaged, for recovery, and counts it in
 * *dropped (the header's count of such deletions).
 *
 * Crash safety: a recovery may die anywhere in its passes, and the next
 * one cannot tell a slot the dead one dropped from one deleted long ago,
 * so a count kept aside and added to the header after a pass dies with
 * the process, and the store has lost entries no count explains (what the
 * power-loss walk in powerloss_test found).  So every drop is counted in
 * the header first and its slot freed after, in that order (journal.c,
 * fact 1): a recovery killed between the two leaves an entry counted that
 * the next one drops and counts again.  h->dropped may thus exceed the
 * entries lost, by one per recovery killed at that store, and never falls
 * short of them. */
void kv__journal_drop(kv_slot_t *s, uint64_t *dropped);

/* Returns 1 if the journal shows an operation in flight. */
int kv__journal_busy(const kv_header_t *h);

#endif /* KV_JOURNAL_H */
