/*
 * layout.h — the bytes of a kv store, described once.
 *
 * A store is one block: a header (kv_header_t, then the journal's undo image
 * of one slot) followed by a power-of-two array of fixed-size slots.
 * Everything in the block is a fixed-width little-endian integer, a byte
 * string, or an offset — never a pointer, size_t, long or bool — so 32- and
 * 64-bit processes (and later Windows) read one format.  The one exception
 * is the lock area, whose contents belong to the OS layer; its format is
 * named by `lock_abi` and checked on attach.
 *
 *   offset 0              kv_header_t (4 cache lines, see fields)
 *   offset 256            journal undo image: one slot (slot_size bytes)
 *   offset header_size    slot 0, slot 1, ... slot (slot_count - 1)
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
#define KV_LAYOUT_VERSION 2u
#define KV_BYTE_ORDER_MARK UINT32_C(0x01020304)  /* reads differently on a BE host */
#define KV_CACHE_LINE     64u
#define KV_LOCK_AREA      40u  /* bytes reserved for the OS layer's mutex */

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
#define KV_STORE_FLAGS    KV_STORE_CACHE

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
    KV_JOURNAL_REPLACE = 1, /* undo image holds the old contents of journal_slot */
    KV_JOURNAL_CLEAR   = 2, /* a clear is in flight: recovery finishes it */
    KV_JOURNAL_EVICT   = 3  /* undo image holds journal_slot's old entry, and
                             * journal_slot2 was in state journal_state2 */
};

typedef struct kv_header {
    /* --- line 0: identity, written once at creation, then read-only ---- */
    uint64_t magic;          /* KV_MAGIC; written last at creation */
    uint32_t layout_version; /* KV_LAYOUT_VERSION */
    uint32_t byte_order;     /* KV_BYTE_ORDER_MARK as the creator wrote it */
    uint32_t header_size;    /* offset of slot 0; multiple of 64 */
    uint32_t slot_size;      /* bytes per slot; multiple of 8 */
    uint64_t slot_count;     /* power of two, 1 .. KV_SLOTS_MAX */
    uint32_t key_max;        /* largest key, 1 .. KV_KEY_MAX_LIMIT */
    uint32_t val_max;        /* largest value, 0 .. KV_VAL_MAX_LIMIT */
    uint64_t hash_seed;      /* XXH3 seed, random per store */
    uint64_t total_size;     /* header_size + slot_count * slot_size */
    uint32_t lock_abi;       /* which OS layer formatted the lock area */
    uint32_t flags;          /* KV_STORE_* */

    /* --- line 1: the lock and who holds it.  Everything a get writes to
     *     take and drop the lock is on this one line. ------------------- */
    uint8_t  lock[KV_LOCK_AREA];      /* owned by the OS layer (os.h) */
    _Atomic uint32_t holder_pid;      /* set by the holder after locking, 0
                                       * before unlocking: nonzero in a store
                                       * nobody has open = a holder died */
    uint32_t reserved1;
    _Atomic uint64_t holder_since_ms; /* wall-clock ms when a waiter first saw
                                       * the lock held (a lower bound on the
                                       * hold); 0 = no one has waited */
    uint64_t reserved2;

    /* --- line 2: counters, changed only under the lock ----------------- */
    uint64_t used;           /* slots holding a key (recomputed by recovery) */
    uint64_t tombstones;     /* deleted slots (recomputed by recovery) */
    _Atomic uint64_t generation; /* bumped by every change; read without the
                                  * lock by kv_wait; entries' versions come from it */
    uint64_t recoveries;     /* repairs after a holder died */
    uint64_t hits, misses;   /* gets that found / did not find their key */
    uint64_t expirations;    /* expired entries reclaimed */
    uint64_t evictions;      /* live entries evicted by a cache store */

    /* --- line 3: journal, change notification, timeouts ---------------- */
    _Atomic uint32_t journal_op; /* KV_JOURNAL_*: the commit word of the journal */
    uint32_t journal_slot;   /* slot the undo image belongs to */
    _Atomic uint32_t change_seq; /* futex word: bumped with every generation */
    _Atomic uint32_t waiters;    /* processes sleeping on change_seq (a hint:
                                  * a waiter killed asleep leaves it high,
                                  * which costs writers a wake-up call) */
    _Atomic uint64_t lock_timeouts; /* bumped without the lock by waiters that gave up */
    uint32_t journal_slot2;  /* EVICT: the slot the new entry went to */
    uint32_t journal_state2; /* EVICT: that slot's state before (EMPTY or TOMB) */
    uint64_t clock_hand;     /* cache stores: where the next global CLOCK scan starts */
    uint8_t  reserved3[KV_CACHE_LINE - 40];
} kv_header_t;

/* A slot: a 32-byte head, then key_max key bytes, then val_max value bytes. */
typedef struct kv_slot {
    uint64_t hash;           /* full XXH3 hash of the key (valid when used) */
    _Atomic uint32_t key_len;/* KV_SLOT_EMPTY, KV_SLOT_TOMB, or 1..key_max:
                              * the slot's commit word, written last */
    uint32_t val_len;        /* 0..val_max, | KV_VAL_REF */
    uint64_t version;        /* the store's generation when last written */
    uint64_t expires_ms;     /* wall-clock ms since the epoch; 0 = never */
    uint8_t  data[];         /* key bytes at 0, value bytes at key_max */
} kv_slot_t;

#define KV_SLOT_HEAD ((uint32_t)offsetof(kv_slot_t, data))
#define KV_JOURNAL_IMAGE_OFFSET ((uint32_t)sizeof(kv_header_t))

/* The layout is the contract between processes: pin every offset. */
_Static_assert(sizeof(kv_header_t) == 4 * KV_CACHE_LINE, "header is four lines");
_Static_assert(offsetof(kv_header_t, lock) == 1 * KV_CACHE_LINE, "lock on line 1");
_Static_assert(offsetof(kv_header_t, holder_since_ms) == 1 * KV_CACHE_LINE + 48,
               "holder on the lock's line");
_Static_assert(offsetof(kv_header_t, used) == 2 * KV_CACHE_LINE, "counters on line 2");
_Static_assert(offsetof(kv_header_t, journal_op) == 3 * KV_CACHE_LINE, "journal on line 3");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
               "atomics have the plain integers' size");
_Static_assert(sizeof(kv_slot_t) == 32, "slot head is 32 bytes");

#endif /* KV_LAYOUT_H */
