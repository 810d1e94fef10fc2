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
    int created;
    int writable;
    int cache;                   /* the store evicts instead of failing when full */
};

/* What kv__store_lock() saw, for kv__store_unlock() to tell whether the hold
 * changed the store (and kv_wait sleepers must be woken). */
typedef struct store_hold {
    uint64_t generation; /* at lock time */
} store_hold_t;

/* Takes the store's mutex, waiting at most the handle's timeout: the one
 * place every operation locks.  A dead previous holder's damage is repaired
 * here, before the caller looks at any slot.  Returns 0, KV_ETIMEDOUT,
 * KV_ECORRUPT. */
int kv__store_lock(kv_t *kv, store_hold_t *hold);

/* Drops the mutex, then wakes kv_wait sleepers if the hold changed the store. */
void kv__store_unlock(kv_t *kv, const store_hold_t *hold);

/* Checks a key argument: present, non-empty, within the store's limit. */
int kv__store_check_key(const kv_t *kv, const void *key, size_t key_len);

/* Copies n bytes out of the mapping; dst may be NULL when n is 0. */
void kv__store_copy_out(void *dst, const unsigned char *src, size_t n);

#endif /* KV_STORE_H */
