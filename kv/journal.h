/*
 * journal.h — every change to a store's slots, made in an order that a
 * process killed at any instruction cannot break, and the recovery that the
 * next lock holder runs.  The protocol is described at the top of journal.c.
 * All functions require the store's mutex and a validated table.
 */
#ifndef KV_JOURNAL_H
#define KV_JOURNAL_H

#include "table.h"

/* Stores a new entry in free slot i (EMPTY or TOMB). */
void journal_insert(const kv_table_t *t, kv_header_t *h, uint64_t i, uint64_t hash,
                    const void *key, uint32_t key_len, const void *val, uint32_t val_len);

/* Replaces the value of the entry in slot i, whose val_len the caller has
 * validated. */
void journal_replace(const kv_table_t *t, kv_header_t *h, uint64_t i,
                     const void *val, uint32_t val_len);

/* Deletes the entry in slot i. */
void journal_delete(const kv_table_t *t, kv_header_t *h, uint64_t i);

/* Empties every slot. */
void journal_clear(const kv_table_t *t, kv_header_t *h);

/* Repairs the store after a holder died: undoes an interrupted replace,
 * finishes an interrupted clear, recounts used and tombstone slots, and
 * counts the recovery.  Idempotent, so a death during recovery is repaired
 * by the next holder.  Returns 0, or KV_ECORRUPT if the journal itself was
 * damaged (the store is then left consistent but the interrupted operation
 * could not be undone). */
int journal_recover(const kv_table_t *t, kv_header_t *h);

/* Returns 1 if the journal shows an operation in flight. */
int journal_busy(const kv_header_t *h);

#endif /* KV_JOURNAL_H */
