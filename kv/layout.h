/*
 * layout.h — the bytes of a kv store, described once.
 *
 * A store is one block of a size fixed at creation (the memory budget):
 *
 *   offset 0              kv_header_t (4 cache lines, see fields)
 *   offset 256            journal image: one slot (128 bytes)
 *   offset 384            kv_alloc_t: the data area's free lists (alloc.c)
 *   offset 960            kv_hints_t: read-mostly flags, a line of their own
 *   offset 1024           kv_waits_t: the wait words of kv_watch (notify.c)
 *   offset header_size    slot 0 .. slot (slot_count - 1), 128 bytes each
 *   offset data_offset    the data area: data_granules * 16 bytes
 *
 * Everything in the block is a fixed-width little-endian integer, a byte
 * string, or an offset — never a pointer, size_t, long or bool — so 32- and
 * 64-bit processes and both operating systems read one format.  The one
 * exception is the lock area, whose contents belong to the OS layer; its
 * format is named by `lock_abi` and checked on attach.
 *
 * Slots: two cache lines each (128 bytes, 128-aligned).  Line 0 holds what
 * a get needs — the hash, both lengths, the sequence word and the first 48
 * inline bytes — and line 1 the rest of the inline bytes, the version, the
 * expiry and the check.  An entry whose key and value together fit
 * KV_INLINE_MAX (88) bytes lives in its slot; a larger one lives in a block
 * of the data area and the slot holds the block's granule index.  Which one
 * is decided by the lengths alone, so no flag can disagree with them.
 *
 * Why 128 and not 64 (measured with kvbench, the 16-byte key and 32-byte
 * value it and issue 12 call small, on a 64-byte slot whose head took 40
 * bytes and left 24 inline): such an entry lived in a block, so a get read
 * the slot's line and the block's line — 2.1x the floor's time for a get
 * hit, 1.8x for an overwrite, against 1.19x and 1.47x for entries small
 * enough to stay inline in the same run.  A 16-byte head on line 0 (a
 * 32-bit hash suffices: slot_count is at most 2^30) leaves 48 bytes there:
 * a get of such an entry in a store that never set a TTL (kv_hints_t)
 * reads line 0 alone, and a get of a bigger inline entry, or one that needs
 * its expiry, reads the line beside it, which shares its 128-byte pair.
 * The price is room: the table takes twice the bytes per slot (8 MiB of a
 * 64 MiB budget with the default slot count), which the README's mixed-size
 * figures show.
 *
 * Every value read from the block is untrusted (another process may have
 * scribbled on it): validate.h holds the only functions that turn such a
 * value into an index or a length.
 */
#ifndef KV_LAYOUT_H
#define KV_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#define KV_MAGIC          UINT64_C(0x0045524f5453564b) /* "KVSTORE\0" as a LE u64 */
#define KV_LAYOUT_VERSION 3u
#define KV_BYTE_ORDER_MARK UINT32_C(0x01020304)  /* reads differently on a BE host */
#define KV_CACHE_LINE     64u
/* Bytes reserved for the OS layer's mutex: the largest pthread_mutex_t of
 * the supported targets (glibc: 40 on x86-64, 48 on aarch64); os_posix.c
 * and os_win32.c each assert that theirs fits. */
#define KV_LOCK_AREA      48u
#define KV_SLOT_SIZE      128u /* bytes per slot: two cache lines */
#define KV_INLINE_MAX     88u  /* key + value bytes that live in the slot */
#define KV_INLINE_LINE0   48u  /* of which on the slot's first line */
#define KV_GRANULE        16u  /* the data area's unit of allocation */

/* The byte of a store file that both OS layers lock as the attach lock
 * (os.h): far beyond the end of any store (KV_SLOTS_MAX slots of the largest
 * size stay below 2^61), so locking it never touches mapped bytes.  The
 * Win32 layer locks it with LockFileEx, which wine turns into a POSIX record
 * lock on the same byte; the POSIX layer takes an OFD lock on it beside its
 * flock, so a Linux process and a wine process on one file see each other.
 * Part of the format: never move it. */
#define KV_ATTACH_LOCK_OFFSET UINT64_C(0x7fffffff00000000)

/* Store flags (kv_header_t.flags), fixed at creation. */
#define KV_STORE_CACHE    0x1u /* evict instead of failing when full */
#define KV_STORE_CHECKED  0x2u /* a file store: every entry carries a check
                                * (kv_slot_t.check) that the power-loss scan
                                * verifies (journal.c) */
#define KV_STORE_FLAGS    (KV_STORE_CACHE | KV_STORE_CHECKED)

/* Slot states live in key_len: keys are never empty, so 0 can mean "never
 * used" and the all-ones value "deleted". */
#define KV_SLOT_EMPTY 0u
#define KV_SLOT_TOMB  UINT32_MAX

/* val_len's top bit is the CLOCK reference bit of a cache store (a hint set
 * by gets, cleared by eviction scans); the rest is the length. */
#define KV_VAL_REF      UINT32_C(0x80000000)
#define KV_VAL_LEN_MASK UINT32_C(0x7fffffff)

/* Journal operations (kv_header_t.journal_op); see journal.c. */
enum {
    KV_JOURNAL_IDLE    = 0, /* nothing in flight */
    KV_JOURNAL_REPLACE = 1, /* the image holds journal_slot's new contents (redo) */
    KV_JOURNAL_CLEAR   = 2, /* a clear is in flight: recovery finishes it */
    KV_JOURNAL_EVICT   = 3  /* the image holds journal_slot's old entry (undo), and
                             * journal_slot2 was in state journal_state2 */
};

typedef struct kv_header {
    /* --- line 0: identity, written once at creation, then read-only ---- */
    uint64_t magic;          /* KV_MAGIC; written last at creation */
    uint32_t layout_version; /* KV_LAYOUT_VERSION */
    uint32_t byte_order;     /* KV_BYTE_ORDER_MARK as the creator wrote it */
    uint16_t header_size;    /* offset of slot 0: KV_HEADER_SIZE */
    uint16_t slot_size;      /* KV_SLOT_SIZE */
    uint32_t identity_check; /* XXH3 (low 32 bits) of this line with this
                              * field and lock_abi zero: a damaged size that
                              * is still consistent (a doubled slot count in
                              * the same total) is caught */
    uint64_t slot_count;     /* power of two, 1 .. KV_SLOTS_MAX */
    uint32_t key_max;        /* largest key, 1 .. KV_KEY_MAX_LIMIT */
    uint32_t val_max;        /* largest value, 0 .. KV_VAL_MAX_LIMIT */
    uint64_t hash_seed;      /* XXH3 seed, random per store */
    uint64_t total_size;     /* the whole block: header_size + slot_count *
                              * KV_SLOT_SIZE + the data area (a multiple of
                              * KV_GRANULE, possibly empty) */
    uint32_t lock_abi;       /* which OS layer formatted the lock area */
    uint32_t flags;          /* KV_STORE_* */

    /* --- line 1: the lock and who holds it.  Everything a get writes to
     *     take and drop the lock is on this one line. ------------------- */
    uint8_t  lock[KV_LOCK_AREA];      /* owned by the OS layer (os.h) */
    _Atomic uint32_t holder_pid;      /* set by the holder after locking, 0
                                       * before unlocking: nonzero in a store
                                       * nobody has open = a holder died */
    uint32_t sweep_hand;              /* where the next tombstone sweep
                                       * starts (journal.c); a hint */
    _Atomic uint64_t holder_since_ms; /* wall-clock ms when a waiter first saw
                                       * the lock held (a lower bound on the
                                       * hold); 0 = no one has waited */

    /* --- line 2: counters, changed only under the lock ----------------- */
    uint64_t used;           /* slots holding a key (recomputed by recovery) */
    uint64_t tombstones;     /* deleted slots (recomputed by recovery) */
    _Atomic uint64_t generation; /* bumped by every change; read without the
                                  * lock by kv_wait; entries' versions come from it */
    uint64_t recoveries;     /* repairs after a holder died */
    uint64_t hits, misses;   /* gets that found / did not find their key, as
                              * folded in from handles (data.c) */
    uint64_t expirations;    /* expired entries reclaimed */
    uint64_t evictions;      /* live entries evicted by a cache store */

    /* --- line 3: journal, change notification, timeouts ---------------- */
    _Atomic uint32_t journal_op; /* KV_JOURNAL_*: the commit word of the journal */
    uint32_t journal_slot;   /* slot the journal image belongs to */
    _Atomic uint32_t change_seq; /* futex word: bumped with every generation */
    _Atomic uint32_t wake_pending;/* who the holder wakes after unlocking:
                                  * bit w < KV_WAIT_WORDS, word w of
                                  * kv_waits_t was armed and changed;
                                  * KV_WAKE_STORE, a kv_wait sleeper armed
                                  * change_seq (notify.c) */
    _Atomic uint64_t lock_timeouts; /* bumped without the lock by waiters that gave up */
    uint32_t journal_slot2;  /* EVICT: the slot the new entry went to */
    uint32_t journal_state2; /* EVICT: that slot's state before (EMPTY or TOMB) */
    uint64_t clock_hand;     /* cache stores: where the next global CLOCK scan starts */
    uint64_t dropped;        /* damaged entries that recovery removed */
    uint32_t alloc_epoch;    /* bumped by every rebuild of the free lists */
    uint32_t clean;          /* checked stores: 1 when the last process to close
                              * it had flushed every page first; 0 while it is
                              * in use (made durable before any change), so a
                              * power loss leaves 0 and the next opener alone
                              * scans every entry */
    uint64_t swept_tombstones; /* tombstones the last sweep left (journal.c);
                              * a hint, 0 after recovery */
} kv_header_t;

/* A slot: two cache lines.  The state word key_len is its commit word. */
typedef struct kv_slot {
    /* --- line 0: everything a get of a small entry reads -------------- */
    uint32_t hash;           /* low 32 bits of the key's XXH3-64 (valid when
                              * used): the home slot is hash & mask */
    _Atomic uint32_t key_len;/* KV_SLOT_EMPTY, KV_SLOT_TOMB, or 1..key_max */
    uint32_t val_len;        /* 0..val_max, | KV_VAL_REF */
    _Atomic uint32_t seq;    /* odd while a writer changes the slot (or
                              * its block), bumped to the next even value
                              * after: optimistic readers' check that
                              * nothing moved (journal.c, optimistic.c);
                              * never part of the journal image's copy */
    uint8_t  data[KV_INLINE_MAX]; /* key_len + val_len <= KV_INLINE_MAX: the
                              * key, then the value (KV_INLINE_LINE0 bytes
                              * on line 0); else a uint32_t, the granule
                              * index of the entry's block */
    /* --- line 1, from data[KV_INLINE_LINE0]: what a get seldom needs -- */
    uint64_t version;        /* the store's generation when last written */
    uint64_t expires_ms;     /* wall-clock ms since the epoch; 0 = never */
    uint32_t check;          /* checked stores: kv__table_check_of() of the
                              * entry, written with it; else 0 */
    uint32_t reserved;       /* 0 */
} kv_slot_t;

/* A block of the data area starts with this head, one granule.  A used
 * block holds an entry's key, then its value, and names its slot, so that
 * recovery can tell a real block from bytes that look like one (alloc.c).
 * A free block of KV_BLOCK_MIN granules or more is on its size class's
 * list; every free block repeats its size in its last 4 bytes (for a
 * one-granule block that is link2) so that the block after it can find its
 * start. */
typedef struct kv_block {
    uint32_t granules;       /* size of the block, this head included */
    uint32_t flags;          /* KV_BLOCK_* */
    uint32_t link1;          /* used: the owner slot; free: next free + 1 (0: none) */
    uint32_t link2;          /* used: alloc_epoch when made or last recovered;
                              * free: previous free + 1 (0: none) */
} kv_block_t;

#define KV_BLOCK_USED      0x1u /* holds an entry */
#define KV_BLOCK_PREV_FREE 0x2u /* the block before this one is free */
#define KV_BLOCK_MIN       2u   /* granules: a head and one granule of bytes */
/* link1 of the spare block (kv_alloc_t.spare): above every slot index, so
 * no slot can own it. */
#define KV_BLOCK_SPARE     UINT32_MAX

/* The data area's free lists: a two-level segregated fit (as TLSF): class
 * = 4 * log2(size) + the next two bits of the size, so a class spans at
 * most a quarter of its sizes, and a request searches from the first class
 * whose every block fits it. */
#define KV_ALLOC_CLASSES 128u
typedef struct kv_alloc {
    uint64_t free_granules;  /* granules in free blocks */
    uint64_t nonempty[KV_ALLOC_CLASSES / 64]; /* bit c: heads[c] != 0 */
    uint32_t heads[KV_ALLOC_CLASSES]; /* first free block of each class + 1 */
    uint32_t spare;          /* a free block held off the lists + 1 (0: none):
                              * the last block given back, which the next take
                              * of its size reuses without touching a list or
                              * a neighbour (alloc.c) */
    uint32_t reserved;       /* 0 */
} kv_alloc_t;

/* Read by every lookup, written seldom (by a write that needs them raised,
 * or by recovery): a line that writers' changes to the header do not keep
 * taking from readers' caches.  Both may be too high, never too low. */
typedef struct kv_hints {
    _Atomic uint32_t ttl_used; /* 1 once an entry with an expiry was written
                                * (set before that entry commits; recovery
                                * sets it again from the slots, for a power
                                * loss that kept an older header page).
                                * While 0 a get does not read expiries. */
    _Atomic uint32_t probe_max;/* no entry lies further than probe_max - 1
                                * slots past its home, so a lookup looks at
                                * most this many slots for its key even when
                                * tombstones leave no empty slot to stop at
                                * (raised before a further entry commits;
                                * recovery lifts it to slot_count while it
                                * runs, then sets it from the slots) */
    _Atomic uint32_t epoch;    /* odd while a change to many slots at once
                                * (clear, recovery) is under way, and left
                                * odd by a holder killed in one: an
                                * optimistic reader (optimistic.c) trusts
                                * nothing it read unless epoch was even and
                                * the same before and after */
    uint32_t reserved[13];     /* 0 */
} kv_hints_t;

/* kv_watch sleepers' words.  A change to a key bumps the word its hash
 * picks (kv__wait_word_of), and wakes sleepers only if one armed it: a
 * watcher of one key sleeps through changes to the keys of the other
 * words, and writers pay a system call only for a word that someone
 * armed since its last wake.  A sleeper killed while armed costs one wake,
 * which disarms the word: no count of sleepers can be left high. */
#define KV_WAIT_WORDS 30u
#define KV_WAKE_STORE (1u << 31) /* wake_pending: the store-wide word */
typedef struct kv_wait_word {
    _Atomic uint32_t seq;    /* futex word: bumped by a hold that changed
                              * a key of this word while it was armed */
    _Atomic uint32_t armed;  /* 1: someone may sleep on seq; set by a
                              * sleeper, cleared by the hold that bumps
                              * seq, both under the mutex */
} kv_wait_word_t;
typedef struct kv_waits {
    uint64_t wakeups;        /* wake calls made by holders, all processes */
    uint64_t reserved;       /* 0 */
    kv_wait_word_t word[KV_WAIT_WORDS];
} kv_waits_t;

/* The wait word of a key with this slot hash: the hash's top bits scaled
 * to KV_WAIT_WORDS, independent of the home slot (its low bits).  Part of
 * the format: every process must pick the same word. */
static inline uint32_t kv__wait_word_of(uint32_t hash)
{
    return (uint32_t)(((uint64_t)hash * KV_WAIT_WORDS) >> 32);
}

#define KV_JOURNAL_IMAGE_OFFSET ((uint32_t)sizeof(kv_header_t))
#define KV_ALLOC_OFFSET (KV_JOURNAL_IMAGE_OFFSET + KV_SLOT_SIZE)
/* The hints end the first KiB; the wait words follow.  Slot 0's offset is
 * the end of the wait words, rounded up to a slot so that every slot's two
 * lines form an aligned 128-byte pair. */
#define KV_HINTS_OFFSET (1024u - (uint32_t)sizeof(kv_hints_t))
#define KV_WAITS_OFFSET 1024u
#define KV_HEADER_SIZE \
    ((uint32_t)((KV_WAITS_OFFSET + sizeof(kv_waits_t) + KV_SLOT_SIZE - 1) / KV_SLOT_SIZE * \
                KV_SLOT_SIZE))

/* The layout is the contract between processes: pin every offset. */
_Static_assert(sizeof(kv_header_t) == 4 * KV_CACHE_LINE, "header is four lines");
_Static_assert(offsetof(kv_header_t, lock) == 1 * KV_CACHE_LINE, "lock on line 1");
_Static_assert(offsetof(kv_header_t, holder_since_ms) == 1 * KV_CACHE_LINE + 56,
               "holder on the lock's line");
_Static_assert(offsetof(kv_header_t, used) == 2 * KV_CACHE_LINE, "counters on line 2");
_Static_assert(offsetof(kv_header_t, journal_op) == 3 * KV_CACHE_LINE, "journal on line 3");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
               "atomics have the plain integers' size");
_Static_assert(sizeof(kv_slot_t) == KV_SLOT_SIZE, "a slot is two lines");
_Static_assert(offsetof(kv_slot_t, data) + KV_INLINE_LINE0 == KV_CACHE_LINE,
               "a get's fields and 48 inline bytes on line 0");
_Static_assert(offsetof(kv_slot_t, version) == offsetof(kv_slot_t, data) + KV_INLINE_MAX,
               "inline room");
_Static_assert(sizeof(kv_hints_t) == KV_CACHE_LINE, "hints are one line");
_Static_assert(KV_ALLOC_OFFSET + sizeof(kv_alloc_t) <= KV_HINTS_OFFSET, "hints after the lists");
_Static_assert(sizeof(kv_block_t) == KV_GRANULE, "a block head is one granule");
_Static_assert(sizeof(kv_alloc_t) == 8 + KV_ALLOC_CLASSES / 8 + 4 * KV_ALLOC_CLASSES + 8,
               "free lists have no padding");
_Static_assert(sizeof(kv_waits_t) == 4 * KV_CACHE_LINE, "wait words are four lines");
_Static_assert(KV_WAIT_WORDS < 31, "wake_pending has a bit per word below KV_WAKE_STORE");
_Static_assert(KV_HEADER_SIZE == 1280 && KV_HINTS_OFFSET == 960, "slot 0 at 1280");

#endif /* KV_LAYOUT_H */
