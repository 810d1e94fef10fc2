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
    int writable;
    int cache;                   /* the store evicts instead of failing when full */
    int file;                    /* a file store (a store this call creates is checked) */
    /* Gets' hits and misses not yet added to the header's: a get writes no
     * counter line of the store (only this handle's memory, under the store
     * mutex, which also serialises threads sharing the handle); a hold that
     * changes the store, stats and close fold them in (kv__store_fold). */
    uint64_t hits, misses;
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
 * KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED. */
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

/* kv_get_ex waiting at most timeout_ms for the lock (kv_watch's reads). */
int kv__data_get(kv_t *kv, const void *key, size_t key_len, void *buf, size_t cap,
                 size_t *val_len, kv_meta_t *meta, uint32_t timeout_ms);

/* Hands a sized struct (kv.h: kv_info_t, kv_stats_t) to a caller whose
 * struct has dst_size bytes: the first min(dst_size, src_size) bytes of
 * src, the rest zeroed, the leading size field set to what was filled.
 * KV_EINVAL when dst_size is below the struct's first version, v1_size. */
int kv__store_sized_out(void *dst, size_t dst_size, const void *src, size_t src_size,
                        size_t v1_size);

/* Copies n bytes out of the mapping; dst may be NULL when n is 0. */
void kv__store_copy_out(void *dst, const unsigned char *src, size_t n);

#endif /* KV_STORE_H */
