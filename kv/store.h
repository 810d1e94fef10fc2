/*
 * store.h — what the modules behind the public API share: the handle, and
 * the one lock entry point.  store.c opens stores and owns the lock;
 * data.c, notify.c and inspect.c implement the operations on top.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include "journal.h"
#include "kv.h"
#include "os.h"

struct kv {
    os_object_t *obj;
    kv_header_t *hdr;
    kv_table_t table;            /* slot array with the validated geometry */
    uint64_t object_size;        /* bytes of the object when opened */
    _Atomic uint32_t timeout_ms; /* lock wait limit; settable from any thread */
    uint32_t pid;                /* cached: getpid() is a system call */
    uint32_t forks;              /* kv__os_forks when opened: another value
                                  * means this is a child after fork() */
    int created;
    int writable;                /* KV_RDWR; else the mapping is read-only */
    int optimistic;              /* gets take no lock (optimistic.c): a
                                  * read-only handle, or KV_OPTIMISTIC */
    int cache;                   /* the store evicts instead of failing when full */
    int file;                    /* a file store (a store this call creates is checked) */
    /* Gets' hits and misses not yet added to the header's: a get writes no
     * counter line of the store (only this handle's memory, under the store
     * mutex, which also serialises threads sharing the handle); a hold that
     * changes the store, stats and close fold them in (kv__store_fold). */
    uint64_t hits, misses;
    /* The same for optimistic gets, which hold no lock: atomics, bumped
     * without a fence.  A read-only handle cannot fold them into the store
     * (it may not write it): its stats add them to the store's. */
    _Atomic uint64_t optimistic_hits, optimistic_misses;
};

/* Adds the handle's counted gets to the header's counters.  Under the lock. */
void kv__store_fold(kv_t *kv);

/* What kv__store_lock() saw, for kv__store_unlock() to tell whether the hold
 * changed the store (and kv_wait sleepers must be woken). */
typedef struct store_hold {
    uint64_t generation; /* at lock time */
} store_hold_t;

/* Takes the store's mutex, waiting at most timeout_ms (0: only if it is
 * free): the one place every operation locks.  A dead previous holder's
 * damage is repaired here, before the caller looks at any slot.  Returns 0,
 * KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED, or KV_ERDONLY on a read-only
 * handle, which may not write the lock. */
int kv__store_lock_within(kv_t *kv, store_hold_t *hold, uint32_t timeout_ms);

/* kv__store_lock_within with the handle's lock timeout. */
int kv__store_lock(kv_t *kv, store_hold_t *hold);

/* Whether the object still holds every byte it had when opened: anyone
 * with write permission can truncate it (kv.h, security). */
int kv__store_intact(kv_t *kv);

/* The handle's lock timeout. */
uint32_t kv__store_timeout(const kv_t *kv);

/* KV_EFORKED when the handle is used in a child after fork(), else 0: the
 * check of every entry point that touches the mapping without the lock. */
int kv__store_check_fork(const kv_t *kv);

/* Drops the mutex, then wakes kv_wait sleepers if the hold changed the store. */
void kv__store_unlock(kv_t *kv, const store_hold_t *hold);

/* Checks a key argument: present, non-empty, within the store's limit. */
int kv__store_check_key(const kv_t *kv, const void *key, size_t key_len);

/* What a get is for: a caller's get, counted in hits and misses and, in a
 * cache store, marking its entry used for CLOCK; or the library's own look
 * (kv_watch's re-reads, kv_ttl), which must not make a watched store's hit
 * rate or eviction order mean something else. */
typedef enum data_use { DATA_GET = 0, DATA_PEEK = 1 } data_use_t;

/* kv_get_ex waiting at most timeout_ms for the lock, for `use`. */
int kv__data_get(kv_t *kv, const void *key, size_t key_len, void *buf, size_t cap,
                 size_t *val_len, kv_meta_t *meta, uint32_t timeout_ms, data_use_t use);

/* Hands a sized struct (kv.h: kv_info_t, kv_stats_t) to a caller whose
 * struct has dst_size bytes: the first min(dst_size, src_size) bytes of
 * src, the rest zeroed, the leading size field set to what was filled.
 * KV_EINVAL when dst_size is below the struct's first version, v1_size. */
int kv__store_sized_out(void *dst, size_t dst_size, const void *src, size_t src_size,
                        size_t v1_size);

/* ---- reads without the lock (optimistic.c) ---------------------------- */

/* What an optimistic read answers besides KV_E* codes. */
enum {
    OPTIMISTIC_DONE = 0,      /* read, and nothing moved meanwhile */
    OPTIMISTIC_CONTENDED = 1, /* a writable handle should take the lock: the
                               * slot kept changing, or a writer left it
                               * half changed */
    OPTIMISTIC_AGAIN = 2,     /* something moved: read again */
    OPTIMISTIC_BUSY = 3       /* a writer is inside a change: read again soon */
};

/* One read without the lock: OPTIMISTIC_DONE, _AGAIN, _BUSY or a KV_E*
 * code.  It must bracket what it reads of each slot it keeps with
 * kv__optimistic_seq and kv__optimistic_unmoved. */
typedef int (*optimistic_read_fn)(const kv_t *kv, void *ctx);

/* Runs `read` inside the store's epoch until nothing moved: returns
 * OPTIMISTIC_DONE or read's error; a writable handle gets
 * OPTIMISTIC_CONTENDED after a few tries, a read-only one KV_ETIMEDOUT
 * once timeout_ms has passed in them. */
int kv__optimistic_retry(kv_t *kv, optimistic_read_fn read, void *ctx, uint32_t timeout_ms);

/* A slot's seq word, before anything else of it is read (odd: changing). */
uint32_t kv__optimistic_seq(const kv_slot_t *s);

/* Whether the seq word is still `seq`, after every read before it. */
int kv__optimistic_unmoved(const kv_slot_t *s, uint32_t seq);

/* The answer for a slot that looks damaged: KV_ECORRUPT only if its word
 * was even and did not move, else OPTIMISTIC_BUSY or OPTIMISTIC_AGAIN. */
int kv__optimistic_damaged(const kv_slot_t *s, uint32_t seq);

/* A get without the lock (optimistic.c): 0, KV_ENOTFOUND, KV_ERANGE (with
 * *val_len set), KV_ECORRUPT; on a read-only handle KV_ETIMEDOUT when a
 * slot stayed mid-change for timeout_ms; on a writable one
 * OPTIMISTIC_CONTENDED instead of waiting.  An expired entry is absent (and
 * left in place).  A DATA_PEEK is neither counted nor marks the entry. */
int kv__optimistic_get(kv_t *kv, uint32_t hash, const void *key, size_t key_len, void *buf,
                       size_t cap, size_t *val_len, kv_meta_t *meta, uint32_t timeout_ms,
                       data_use_t use);

/* Copies n bytes out of the mapping; dst may be NULL when n is 0. */
void kv__store_copy_out(void *dst, const unsigned char *src, size_t n);

#endif /* KV_STORE_H */
