/*
 * journal.c — crash safety: the order of every store to a slot, and repair.
 *
 * The guarantee: a process may die at any instruction while holding the
 * store's mutex; afterwards every operation that returned success is intact,
 * the interrupted one is wholly applied or not at all, and no slot is torn.
 *
 * The mechanism rests on two facts.
 *  1. A dead process's stores are not lost: they are in the shared pages.
 *     What a crash can expose is only a *prefix* of the operation, in the
 *     dead thread's instruction order.  So every step below is ordered with
 *     commit_u32(): a release store of one aligned 32-bit word followed by a
 *     compiler fence, so neither the compiler nor the CPU moves a store
 *     across it in the dying thread.  No hardware fence is needed for other
 *     processes: they read the store only after taking the mutex, and the
 *     kernel's robust-futex hand-over (or the attach lock) orders everything
 *     the dead thread wrote before that.
 *  2. Each operation has exactly one commit word, and everything written
 *     before it is invisible until it flips:
 *
 *  insert  The slot is free (EMPTY or TOMB), so hash, lengths, key and value
 *          (in the slot, or in a block taken beforehand that no slot names
 *          yet) are written while nothing reads them; storing the key length
 *          into the slot's state word commits.  Before it: the slot is still
 *          free, and the block is garbage that recovery's rebuild reclaims.
 *  delete  Storing TOMB into the state word is the whole change; giving its
 *          block back follows.  Turning a run of tombstones that ends at an
 *          empty slot back into empty slots follows too; each of those
 *          single stores is safe on its own.
 *  replace Overwrites an entry's slot (a new value for the same key, or an
 *          evicted entry's slot taken by another key).  The new bytes go to
 *          a new block (or the slot itself, when inline), never over the old
 *          ones; the new slot's 128 bytes are built in the header's journal
 *          image with the slot's index, and journal_op = REPLACE commits the
 *          record: from here the replace happens.  Then the image is copied
 *          over the slot; journal_op = IDLE ends the record, and only then
 *          is the old block given back.  A crash in between is rolled
 *          forward from the image (the copy is idempotent); no slot names
 *          the old block any more, so recovery's rebuild frees it.
 *  clear   journal_op = CLEAR commits the intent; recovery rolls it forward
 *          (emptying slots and the data area is idempotent), then IDLE.
 *  evict   (a cache store whose new key's window offers no victim) deletes
 *          an entry elsewhere and inserts into a free slot: the victim is
 *          saved in the journal image, both slot numbers and the free slot's
 *          state go in the record, journal_op = EVICT commits it; recovery
 *          restores the victim and frees the new slot again.
 *
 *  The data area's free lists (alloc.c) are not journaled: the slots say
 *  which blocks are in use, and every recovery rebuilds the lists from them,
 *  so a holder killed inside the allocator, or between taking a block and
 *  committing the slot that names it, or between the commit and giving the
 *  old block back, leaves no leak and no block used twice.
 *
 *  Counters (used, tombstones, generation) are updated after the commit and
 *  are not journaled: recovery recomputes used and tombstones from a census
 *  of every slot, and moves generation past every entry's version (an entry
 *  committed just before a crash may carry generation + 1), since a
 *  recovery is a change too.  Every change of generation also bumps the
 *  futex word change_seq, which kv_wait sleeps on, and every change to a
 *  key the wait word of its hash if a kv_watch sleeper armed it (touch).
 *
 * Recovery runs when the mutex reports a dead owner (EOWNERDEAD /
 * WAIT_ABANDONED), or when a process attaches alone and finds the holder
 * mark set, or finds a checked (file) store not closed cleanly (store.c):
 * after a power loss the disk may hold each page as it was at any time since
 * the last flush, so every entry is verified against its check and a torn
 * one deleted and counted (h->dropped), and the journal image is used only
 * if its own check holds.  It never needs the dead process: only the header.
 * Recovery may itself be killed anywhere (crash_test's recovery walks and
 * powerloss_test's killed scan do so at each of its crash points), and the
 * next holder's recovery finishes the job: each step is idempotent, the
 * image's copy (redo or undo) reads an image it never changes, journal_op
 * goes IDLE only after the copy, a recovery counts itself only once done,
 * and each entry it deletes is counted before its slot is freed
 * (kv__journal_drop), so h->dropped never falls short of the entries lost.
 * KV_CRASH_POINT() (fault.h) marks the places the crash tests kill at.
 *
 * Optimistic readers (optimistic.c) take no lock, so they may read a slot
 * while it changes.  Every change to a used slot, or to a free slot about
 * to be used, is bracketed by slot_begin() (its seq word made odd) and
 * slot_end() (the next even value); a change to many slots at once (clear,
 * recovery) by epoch_begin()/epoch_end() on the hints line.  A reader keeps
 * what it read only if the word it depended on was even and the same
 * before and after.  Two changes need no bracket, because a reader cannot
 * be misled by them: a tombstone turned empty (only where no entry's probe
 * path runs over it, so no lookup for a present key ends there) and the
 * CLOCK bit (not part of the length a reader uses).  A block is given back
 * only after the slot that named it was changed, so a reader that copied a
 * block after it was reused sees its slot's seq moved.  A holder killed
 * inside a bracket leaves the word odd and readers of that slot waiting;
 * recovery, itself inside the epoch bracket, evens every slot's word
 * (even_slots) once the slots are repaired.
 */
#include "journal.h"

#include <string.h>

#include "alloc.h"

#include "fault.h"
#include "kv.h"

/* ---------------------------------------------------------------------- */
/* Ordering primitives                                                     */
/* ---------------------------------------------------------------------- */

/* Stores `value` into a commit word, after every store before it and before
 * every store after it, in this thread's instruction order (see fact 1). */
static void commit_u32(_Atomic uint32_t *word, uint32_t value)
{
    atomic_store_explicit(word, value, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);
}

/* Copies n bytes with a crash point half way, so the crash walk can kill a
 * process in the middle of a copy and prove a half-written value never
 * survives.  Without crash points it is one memcpy. */
static void copy_bytes(unsigned char *dst, const void *src, size_t n)
{
    size_t half = KV_CRASH_SPLITS_COPIES ? n / 2 : n;
    if (n == 0)
        return;
    memcpy(dst, src, half);
    KV_CRASH_POINT();
    memcpy(dst + half, (const unsigned char *)src + half, n - half);
}

/* Opens a change to slot s for optimistic readers: seq odd before any of
 * the slot's bytes change.  The release fence keeps those stores after the
 * odd value for a reader on another core (a reader that sees one of them
 * then sees seq moved when it checks); on x86 it costs nothing.  Already
 * odd (a killed holder's) stays odd. */
static void slot_begin(kv_slot_t *s)
{
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq | 1u, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

/* Closes it: the next even value, released after every store of the
 * change, so a reader that sees it sees them all. */
static void slot_end(kv_slot_t *s)
{
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, (seq | 1u) + 1u, memory_order_release);
}

/* The same two for the store-wide epoch (kv_hints_t): around changes to
 * many slots, so that optimistic readers need not find each slot's. */
static void epoch_begin(const kv_table_t *t)
{
    uint32_t e = atomic_load_explicit(&t->hints->epoch, memory_order_relaxed);
    atomic_store_explicit(&t->hints->epoch, e | 1u, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void epoch_end(const kv_table_t *t)
{
    uint32_t e = atomic_load_explicit(&t->hints->epoch, memory_order_relaxed);
    atomic_store_explicit(&t->hints->epoch, (e | 1u) + 1u, memory_order_release);
}

/* Copies a whole slot (the image over a slot, for a replace's redo or an
 * eviction's undo) but its seq word, which only the brackets above write:
 * the destination keeps its own, so its readers see it move.  The crash
 * point of copy_bytes falls inside. */
static void copy_slot(kv_slot_t *dst, const kv_slot_t *src)
{
    size_t seq_at = offsetof(kv_slot_t, seq), after = seq_at + sizeof dst->seq;
    memcpy(dst, src, seq_at);
    copy_bytes((unsigned char *)dst + after, (const unsigned char *)src + after,
               KV_SLOT_SIZE - after);
}

/* The journal's one-slot image: the new slot of a replace (redone by
 * recovery), or the victim of an eviction (undone). */
static kv_slot_t *journal_image(kv_header_t *h)
{
    return (kv_slot_t *)((unsigned char *)h + KV_JOURNAL_IMAGE_OFFSET);
}

/* Makes `generation` the store's generation and bumps change_seq, the word
 * kv_wait sleepers sleep on.  Only a holder of the mutex writes either, and
 * a waiter reads change_seq under the mutex before it sleeps (notify.c), so
 * plain stores do: release, for kv_generation and kv_wait's reads without
 * the lock; no read-modify-write. */
static void publish(kv_header_t *h, uint64_t generation)
{
    uint32_t seq = atomic_load_explicit(&h->change_seq, memory_order_relaxed);
    atomic_store_explicit(&h->generation, generation, memory_order_release);
    atomic_store_explicit(&h->change_seq, seq + 1, memory_order_release);
}

/* Tells kv_watch sleepers of word w (layout.h kv_waits_t) that a key of
 * theirs changed: if one armed the word, bumps its seq, disarms it and
 * leaves its bit in wake_pending for kv__store_unlock to wake after
 * unlocking.  Under the mutex, which a sleeper holds to arm the word and
 * read its seq (notify.c): one that armed before this hold is woken, one
 * that arms after reads the bumped seq and re-reads its key after it.  An
 * unarmed word is only read: a put that nobody watches writes no line of
 * the wait words.  A holder killed before unlocking leaves the bits to the
 * next one that changes the store (its recovery does). */
static void touch_word(const kv_table_t *t, kv_header_t *h, uint32_t w)
{
    kv_wait_word_t *word = &t->waits->word[w];
    uint32_t seq;
    if (!atomic_load_explicit(&word->armed, memory_order_relaxed))
        return;
    seq = atomic_load_explicit(&word->seq, memory_order_relaxed);
    atomic_store_explicit(&word->seq, seq + 1, memory_order_relaxed);
    atomic_store_explicit(&word->armed, 0, memory_order_relaxed);
    atomic_store_explicit(&h->wake_pending,
                          atomic_load_explicit(&h->wake_pending, memory_order_relaxed) | 1u << w,
                          memory_order_relaxed);
}

/* touch_word for the word of a key with this slot hash. */
static void touch(const kv_table_t *t, kv_header_t *h, uint32_t hash)
{
    touch_word(t, h, kv__wait_word_of(hash));
}

/* touch_word for every word: a change to every slot (clear, recovery). */
static void touch_all(const kv_table_t *t, kv_header_t *h)
{
    for (uint32_t w = 0; w < KV_WAIT_WORDS; w++)
        touch_word(t, h, w);
}

void kv__journal_publish(kv_header_t *h)
{
    publish(h, atomic_load_explicit(&h->generation, memory_order_relaxed) + 1);
}

int kv__journal_place(const kv_table_t *t, kv_header_t *h, uint64_t i, const void *key,
                      uint32_t key_len, journal_entry_t *e)
{
    uint64_t n = (uint64_t)key_len + e->val_len;
    int rc;
    e->block = ALLOC_NONE;
    if (kv__validate_is_inline(key_len, e->val_len))
        return 0;
    rc = kv__alloc_take(t, kv__validate_block_granules(n), (uint32_t)i, h->alloc_epoch, &e->block);
    if (rc)
        return rc;
    unsigned char *bytes = (unsigned char *)(kv__table_block(t, e->block) + 1);
    memcpy(bytes, key, key_len);
    copy_bytes(bytes + key_len, e->val, e->val_len);
    return 0;
}

/* Writes an entry's head fields and bytes (or its block's index) into slot
 * s, all but its commit word key_len; in a checked store, its check last. */
static void write_entry(const kv_table_t *t, kv_slot_t *s, const void *key, uint32_t key_len,
                        const journal_entry_t *e, uint64_t version)
{
    const unsigned char *bytes = s->data;
    if (e->expires_ms && !kv__table_ttl_used(t)) /* before the entry commits */
        atomic_store_explicit(&t->hints->ttl_used, 1, memory_order_relaxed);
    s->hash = e->hash;
    s->val_len = e->val_len;
    s->version = version;
    s->expires_ms = e->expires_ms;
    KV_CRASH_POINT();
    if (e->block != ALLOC_NONE) {
        memcpy(s->data, &e->block, sizeof e->block);
        bytes = (const unsigned char *)(kv__table_block(t, e->block) + 1);
    } else {
        memcpy(s->data, key, key_len);
        copy_bytes(s->data + key_len, e->val, e->val_len);
    }
    if (t->checked)
        s->check = kv__table_check_of(s, key_len, e->val_len, bytes);
}

/* The block slot s (or its image) names, or ALLOC_NONE for an inline or
 * unused one. */
static uint32_t block_named(const kv_table_t *t, const kv_slot_t *s)
{
    uint32_t kl, vl;
    if (kv__table_read(t, s, &kl, &vl) != TABLE_ENTRY || kv__validate_is_inline(kl, vl))
        return ALLOC_NONE;
    return kv__table_block_of(s);
}

/* Gives back a block that no slot names any more.  A damaged one stays out
 * of the lists until the next rebuild: nothing is lost by that but room. */
static void release(const kv_table_t *t, uint32_t block)
{
    if (block != ALLOC_NONE && block < t->geo.data_granules)
        (void)kv__alloc_give(t, block);
}

/* Raises the store's probe bound (kv_hints_t) to reach a new entry for
 * `hash` about to commit in slot i.  Before the commit: a crash may leave
 * the bound too high, which costs only probes, never an entry past it. */
static void reach(const kv_table_t *t, uint64_t i, uint32_t hash)
{
    uint32_t need = (uint32_t)(((i - (hash & t->mask)) & t->mask) + 1);
    if (need > atomic_load_explicit(&t->hints->probe_max, memory_order_relaxed))
        atomic_store_explicit(&t->hints->probe_max, need, memory_order_relaxed);
}

/* ---------------------------------------------------------------------- */
/* Operations                                                              */
/* ---------------------------------------------------------------------- */

uint64_t kv__journal_insert(const kv_table_t *t, kv_header_t *h, uint64_t i,
                            const void *key, uint32_t key_len, const journal_entry_t *e)
{
    kv_slot_t *s = kv__table_slot(t, i);
    uint64_t was_tomb = kv__table_state(s) == KV_SLOT_TOMB;
    uint64_t version = atomic_load_explicit(&h->generation, memory_order_relaxed) + 1;

    reach(t, i, e->hash);
    slot_begin(s);
    write_entry(t, s, key, key_len, e, version);
    KV_CRASH_POINT();
    commit_u32(&s->key_len, key_len);
    slot_end(s);
    KV_CRASH_POINT();
    h->used++;
    h->tombstones -= was_tomb;
    touch(t, h, e->hash);
    publish(h, version);
    return version;
}

/* Copies slot s, both lines, into the image, for an eviction's undo. */
static void save_undo(kv_header_t *h, const kv_slot_t *s)
{
    memcpy(journal_image(h), s, KV_SLOT_SIZE);
}

uint64_t kv__journal_replace(const kv_table_t *t, kv_header_t *h, uint64_t i,
                             const void *key, uint32_t key_len, const journal_entry_t *e)
{
    kv_slot_t *s = kv__table_slot(t, i), *img = journal_image(h);
    uint32_t old_block = block_named(t, s);
    uint64_t version = atomic_load_explicit(&h->generation, memory_order_relaxed) + 1;

    /* The new slot is built in the image while journal_op is IDLE: a crash
     * here leaves the old entry untouched.  Nothing of the old slot is
     * read but its first line, which the lookup read: the slot's second
     * line is only written, so a put does not wait for it to arrive. */
    write_entry(t, img, key, key_len, e, version);
    atomic_store_explicit(&img->key_len, key_len, memory_order_relaxed);
    img->reserved = 0;
    h->journal_slot = (uint32_t)i;
    KV_CRASH_POINT();
    commit_u32(&h->journal_op, KV_JOURNAL_REPLACE);
    KV_CRASH_POINT();
    reach(t, i, e->hash); /* an eviction in place puts another key here */
    touch(t, h, s->hash);
    touch(t, h, e->hash);
    slot_begin(s);
    copy_slot(s, img);
    slot_end(s);
    KV_CRASH_POINT();
    publish(h, version);
    commit_u32(&h->journal_op, KV_JOURNAL_IDLE);
    KV_CRASH_POINT();
    release(t, old_block);
    return version;
}

uint64_t kv__journal_evict_insert(const kv_table_t *t, kv_header_t *h, uint64_t v, uint64_t j,
                                  const void *key, uint32_t key_len, const journal_entry_t *e)
{
    kv_slot_t *victim = kv__table_slot(t, v), *s = kv__table_slot(t, j);
    uint32_t prev = kv__table_state(s), old_block = block_named(t, victim);
    uint64_t version = atomic_load_explicit(&h->generation, memory_order_relaxed) + 1;

    /* The record names both slots; recovery restores the victim from the
     * image and puts slot j back in its free state. */
    save_undo(h, victim);
    h->journal_slot = (uint32_t)v;
    h->journal_slot2 = (uint32_t)j;
    h->journal_state2 = prev;
    KV_CRASH_POINT();
    commit_u32(&h->journal_op, KV_JOURNAL_EVICT);
    KV_CRASH_POINT();
    slot_begin(victim);
    commit_u32(&victim->key_len, KV_SLOT_TOMB);
    slot_end(victim);
    reach(t, j, e->hash);
    slot_begin(s);
    write_entry(t, s, key, key_len, e, version);
    KV_CRASH_POINT();
    commit_u32(&s->key_len, key_len);
    slot_end(s);
    h->tombstones += 1 - (uint64_t)(prev == KV_SLOT_TOMB);
    touch(t, h, victim->hash);
    touch(t, h, e->hash);
    publish(h, version);
    KV_CRASH_POINT();
    commit_u32(&h->journal_op, KV_JOURNAL_IDLE);
    release(t, old_block);
    return version;
}

/* If the slot after i is empty, no probe path runs through i to a later
 * entry, so the run of tombstones ending at i can become empty slots, back
 * to front.  Returns how many were turned. */
static uint64_t reclaim_tombstones(const kv_table_t *t, uint64_t i)
{
    uint64_t n = 0;
    if (kv__table_state(kv__table_slot(t, (i + 1) & t->mask)) != KV_SLOT_EMPTY)
        return 0;
    while (n <= t->mask && kv__table_state(kv__table_slot(t, i)) == KV_SLOT_TOMB) {
        commit_u32(&kv__table_slot(t, i)->key_len, KV_SLOT_EMPTY);
        n++;
        i = (i - 1) & t->mask;
    }
    return n;
}

#define SWEEP_SLOTS 4096u /* slots a sweep looks after at most */

/* Turns back into empty slots the tombstones among the `count` slots from
 * `from` that no entry's probe path (from its home to its slot) runs over;
 * returns how many.  Deletes next to an empty slot are reclaimed at once
 * (reclaim_tombstones), but a churning table can lose every empty slot,
 * and then every miss walks as far as the probe bound.  An entry whose
 * path runs over slot p lies after p and less than probe_max slots past
 * its home (kv_hints_t), so one pass backwards from probe_max slots after
 * the range sees every such entry.  Positions are unwrapped and start n
 * on, so that every home (at most n - 1 before its slot) stays positive:
 * at u, `lowest` is the lowest home of the entries at u or after it, and u
 * is on some entry's path exactly when lowest <= u.  Each emptying is one
 * store, sound on its own whatever else the pass does, so a holder killed
 * part way leaves a sound table. */
static uint64_t sweep_tombstones(const kv_table_t *t, uint64_t from, uint64_t count)
{
    uint64_t n = t->mask + 1, base = n + from, lowest = UINT64_MAX, emptied = 0;
    uint64_t reach = atomic_load_explicit(&t->hints->probe_max, memory_order_relaxed);
    if (reach > n)
        reach = n;
    for (uint64_t u = base + count + reach; u-- > base;) {
        kv_slot_t *s = kv__table_slot(t, u & t->mask);
        uint32_t state = kv__table_state(s);
        if (state == KV_SLOT_EMPTY) {
            lowest = UINT64_MAX; /* no path runs over an empty slot */
        } else if (state != KV_SLOT_TOMB) {
            uint64_t home = u - ((u - s->hash) & t->mask);
            if (home < lowest)
                lowest = home;
        } else if (u < base + count && lowest > u) {
            commit_u32(&s->key_len, KV_SLOT_EMPTY);
            emptied++;
        }
    }
    KV_CRASH_POINT(); /* emptied, not yet counted: recovery recounts */
    return emptied;
}

/* Sweeps the next SWEEP_SLOTS slots (the whole of a smaller table) from the
 * sweep hand once a sixteenth of that many tombstones have come since the
 * last sweep: a sweep then costs each delete about 16 slot reads plus its
 * share of the probe bound, and holds the lock for a bounded time however
 * big the table. */
static void sweep_if_due(const kv_table_t *t, kv_header_t *h)
{
    uint64_t n = t->mask + 1, count = n < SWEEP_SLOTS ? n : SWEEP_SLOTS;
    uint64_t from = h->sweep_hand & t->mask;
    if (h->tombstones < h->swept_tombstones + count / 16 + 1)
        return;
    h->tombstones -= sweep_tombstones(t, from, count);
    h->swept_tombstones = h->tombstones;
    h->sweep_hand = (uint32_t)((from + count) & t->mask);
}

/* Deletes the entry in slot i, all but telling anyone: the generation is
 * the caller's to publish. */
static void remove_entry(const kv_table_t *t, kv_header_t *h, uint64_t i, int publish_it)
{
    kv_slot_t *s = kv__table_slot(t, i);
    uint32_t block = block_named(t, s);
    slot_begin(s);
    commit_u32(&s->key_len, KV_SLOT_TOMB);
    slot_end(s);
    KV_CRASH_POINT();
    release(t, block);
    h->used--;
    h->tombstones++;
    touch(t, h, s->hash);
    if (publish_it)
        kv__journal_publish(h);
    KV_CRASH_POINT();
    h->tombstones -= reclaim_tombstones(t, i);
    sweep_if_due(t, h);
}

void kv__journal_delete(const kv_table_t *t, kv_header_t *h, uint64_t i)
{
    remove_entry(t, h, i, 1);
}

void kv__journal_evict(const kv_table_t *t, kv_header_t *h, uint64_t i)
{
    remove_entry(t, h, i, 0);
}


/* Empties every slot; the second half of clear, and its roll-forward. */
static void empty_all_slots(const kv_table_t *t, kv_header_t *h)
{
    for (uint64_t i = 0; i <= t->mask; i++) {
        atomic_store_explicit(&kv__table_slot(t, i)->key_len, KV_SLOT_EMPTY, memory_order_relaxed);
        if (i == t->mask / 2)
            KV_CRASH_POINT();
    }
    kv__alloc_format(t);
    atomic_store_explicit(&t->hints->probe_max, 0, memory_order_relaxed); /* no entry */
    h->used = 0;
    h->tombstones = 0;
    h->swept_tombstones = 0;
    touch_all(t, h);
    kv__journal_publish(h);
}

void kv__journal_clear(const kv_table_t *t, kv_header_t *h)
{
    epoch_begin(t);
    commit_u32(&h->journal_op, KV_JOURNAL_CLEAR);
    KV_CRASH_POINT();
    empty_all_slots(t, h);
    KV_CRASH_POINT();
    commit_u32(&h->journal_op, KV_JOURNAL_IDLE);
    epoch_end(t);
}

/* ---------------------------------------------------------------------- */
/* Recovery                                                                */
/* ---------------------------------------------------------------------- */

int kv__journal_busy(const kv_header_t *h)
{
    return atomic_load_explicit(&h->journal_op, memory_order_relaxed) != KV_JOURNAL_IDLE;
}

/* Copies the image into journal_slot: a replace's new slot (redo) or an
 * eviction's victim (undo).  The slot index and the image's lengths come
 * from the mapping, so they are checked before use (the rebuild that
 * follows checks the block it names). */
static int apply_image(const kv_table_t *t, kv_header_t *h)
{
    uint64_t i = h->journal_slot;
    kv_slot_t *img = journal_image(h);
    uint32_t key_len = kv__table_state(img), val_len = kv__table_val_len(img);
    const unsigned char *bytes;
    if (i > t->mask || key_len == KV_SLOT_EMPTY || key_len > t->geo.key_max ||
        !kv__validate_val_len(val_len, &t->geo))
        return KV_ECORRUPT;
    /* A power loss may have kept the image from before it was written:
     * then the slot is left as it is, for drop_torn to judge. */
    if (t->checked && (!(bytes = kv__table_bytes(t, img, key_len, val_len)) ||
                       kv__table_check_of(img, key_len, val_len, bytes) != img->check))
        return 0;
    /* A crash part way leaves the slot torn and journal_op set: the next
     * recovery copies the (untouched) image again. */
    copy_slot(kv__table_slot(t, i), img);
    return 0;
}

/* After a power loss a probe path may mix slots from different moments: an
 * empty slot (from after a run of tombstones was reclaimed) in front of an
 * entry placed when it was a tombstone.  Turning such empty slots on an
 * entry's path into tombstones makes it reachable again; a tombstone costs
 * only a probe. */
static void mend_paths(const kv_table_t *t)
{
    for (uint64_t i = 0; i <= t->mask; i++) {
        uint32_t kl = kv__table_state(kv__table_slot(t, i));
        if (kl == KV_SLOT_EMPTY || kl == KV_SLOT_TOMB)
            continue;
        for (uint64_t j = kv__table_slot(t, i)->hash & t->mask; j != i; j = (j + 1) & t->mask)
            if (kv__table_state(kv__table_slot(t, j)) == KV_SLOT_EMPTY)
                atomic_store_explicit(&kv__table_slot(t, j)->key_len, KV_SLOT_TOMB,
                                      memory_order_relaxed);
    }
    KV_CRASH_POINT();
}

/* The count first, then the tombstone, ordered by the commit: a recovery
 * killed between them over-counts, never under-counts (journal.h). */
void kv__journal_drop(kv_slot_t *s, uint64_t *dropped)
{
    (*dropped)++;
    commit_u32(&s->key_len, KV_SLOT_TOMB);
}

/* A key in two slots (deleted in one, inserted in another, the pages of
 * both kept from different moments): the later version stays; each copy
 * deleted is counted in *dropped.  Run on sound entries with mended paths. */
static void drop_duplicates(const kv_table_t *t, uint64_t *dropped)
{
    for (uint64_t i = 0; i <= t->mask; i++) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t kl, vl;
        const unsigned char *bytes;
        table_pos_t pos;
        if (kv__table_read(t, s, &kl, &vl) != TABLE_ENTRY ||
            !(bytes = kv__table_bytes(t, s, kl, vl)) ||
            kv__table_lookup(t, s->hash, bytes, kl, &pos) != 0 || pos.found == i)
            continue;
        kv_slot_t *first = kv__table_slot(t, pos.found);
        kv__journal_drop(first->version < s->version ? first : s, dropped);
    }
    KV_CRASH_POINT();
}

/* Deletes every entry of a checked store whose check does not match its
 * bytes (pages from before and after a write, kept by a power loss),
 * counting each in *dropped. */
static void drop_torn(const kv_table_t *t, uint64_t *dropped)
{
    for (uint64_t i = 0; i <= t->mask; i++) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t kl, vl;
        const unsigned char *bytes;
        int kind = kv__table_read(t, s, &kl, &vl);
        if (kind == TABLE_FREE ||
            (kind == TABLE_ENTRY && (bytes = kv__table_bytes(t, s, kl, vl)) != NULL &&
             kv__table_check_of(s, kl, vl, bytes) == s->check))
            continue;
        kv__journal_drop(s, dropped);
    }
    KV_CRASH_POINT();
}

/* Undoes an eviction: the victim back from the image, the new entry's slot
 * back to the free state it had. */
static int undo_evict(const kv_table_t *t, kv_header_t *h)
{
    uint64_t j = h->journal_slot2;
    uint32_t prev = h->journal_state2;
    int rc;
    if (j > t->mask || (prev != KV_SLOT_EMPTY && prev != KV_SLOT_TOMB) || j == h->journal_slot)
        return KV_ECORRUPT;
    if ((rc = apply_image(t, h)) != 0)
        return rc;
    KV_CRASH_POINT(); /* the victim is back, the new entry not yet gone: redone */
    atomic_store_explicit(&kv__table_slot(t, j)->key_len, prev, memory_order_relaxed);
    return 0;
}

/* Closes every slot bracket a killed holder left open: the slots are
 * repaired by now, so their readers may trust them again. */
static void even_slots(const kv_table_t *t)
{
    for (uint64_t i = 0; i <= t->mask; i++) {
        kv_slot_t *s = kv__table_slot(t, i);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) & 1u)
            slot_end(s);
    }
}

int kv__journal_recover(const kv_table_t *t, kv_header_t *h)
{
    table_census_t census;
    uint64_t generation;
    int rc = 0;

    /* Optimistic readers trust nothing from here to epoch_end. */
    epoch_begin(t);
    /* Every lookup below must see every slot: the bound may be behind the
     * slots after a power loss, and is set from them at the end. */
    atomic_store_explicit(&t->hints->probe_max, (uint32_t)(t->mask + 1), memory_order_relaxed);
    switch (atomic_load_explicit(&h->journal_op, memory_order_relaxed)) {
    case KV_JOURNAL_IDLE:
        break;
    case KV_JOURNAL_REPLACE:
        rc = apply_image(t, h);
        break;
    case KV_JOURNAL_CLEAR:
        empty_all_slots(t, h);
        break;
    case KV_JOURNAL_EVICT:
        rc = undo_evict(t, h);
        break;
    default:
        rc = KV_ECORRUPT;
        break;
    }
    commit_u32(&h->journal_op, KV_JOURNAL_IDLE);
    KV_CRASH_POINT();
    if (t->checked) { /* what a power loss can leave, and a crash cannot */
        drop_torn(t, &h->dropped);
        mend_paths(t);
        drop_duplicates(t, &h->dropped);
    }
    kv__alloc_rebuild(t, ++h->alloc_epoch, &h->dropped);
    kv__table_census(t, &census);
    if (census.expiring) /* a power loss may have kept the hint's page from before */
        atomic_store_explicit(&t->hints->ttl_used, 1, memory_order_relaxed);
    atomic_store_explicit(&t->hints->probe_max, (uint32_t)census.probe_max, memory_order_relaxed);
    h->used = census.used;
    h->tombstones = census.tombstones;
    h->swept_tombstones = 0;
    /* A recovery counts itself only once its repair is done: one killed
     * before here is repeated by the next holder, and counted once. */
    KV_CRASH_POINT();
    h->recoveries++;
    generation = atomic_load_explicit(&h->generation, memory_order_relaxed);
    touch_all(t, h);
    publish(h, (census.version_max > generation ? census.version_max : generation) + 1);
    even_slots(t);
    epoch_end(t);
    return rc;
}
