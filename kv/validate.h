/*
 * validate.h — the one place where values read from the mapping (or asked
 * for by a caller) are checked before they become sizes, indices or lengths.
 *
 * A store's geometry is validated once at open and copied into the handle
 * (kv_geometry_t); from then on every index and length the core computes
 * comes from that private copy, so a process that scribbles on the header
 * later cannot steer another process outside its mapping.  Per-slot fields
 * are re-checked on every read with the inline helpers below.
 */
#ifndef KV_VALIDATE_H
#define KV_VALIDATE_H

#include "kv.h"
#include "layout.h"

/* The sizes that define a store, derived from four creation options. */
typedef struct kv_geometry {
    uint64_t slot_count;     /* power of two */
    uint32_t key_max;
    uint32_t val_max;
    uint32_t header_size;    /* KV_HEADER_SIZE */
    uint64_t data_offset;    /* header_size + slot_count * KV_SLOT_SIZE */
    uint64_t data_granules;  /* the data area, < 2^32 granules */
    uint64_t total_size;     /* data_offset + data_granules * KV_GRANULE */
} kv_geometry_t;

/* Computes the geometry for creation options: `memory` the whole block in
 * bytes (0: room for every slot's largest entry), `slots` rounded up to a
 * power of two (0: one per KV_MEMORY_PER_SLOT bytes of the budget, or 1024
 * without one).  Returns 0 or KV_EINVAL for a zero or out-of-range option,
 * or a budget too small for the header and the slots. */
int kv__validate_options(uint64_t memory, uint64_t slots, uint32_t key_max, uint32_t val_max,
                         kv_geometry_t *g);

/* Granules of the block that holds an out-of-line entry of n key + value
 * bytes: its head and the bytes, rounded up. */
static inline uint64_t kv__validate_block_granules(uint64_t n)
{
    return 1 + (n + KV_GRANULE - 1) / KV_GRANULE;
}

/* The identity check of a header (kv_header_t.identity_check): over line 0
 * as it reads once the magic is written, with identity_check and lock_abi
 * (which a re-formatted lock area changes) zero. */
uint32_t kv__validate_identity(const kv_header_t *h);

/* kv__validate_header's lock_abi for "any": no OS layer's lock_abi is 0. */
#define VALIDATE_ANY_LOCK_ABI UINT32_C(0)

/* Checks a header found in an object of `object_size` bytes: magic, byte
 * order, version, lock ABI (unless lock_abi is VALIDATE_ANY_LOCK_ABI), and
 * that every field is in range and consistent with the others and with the
 * object's size.  On success fills *g from it.  Returns 0, KV_ECORRUPT (not
 * a kv store / damaged / truncated) or KV_EVERSION (a kv store this build
 * cannot share). */
int kv__validate_header(const kv_header_t *h, uint64_t object_size, uint32_t lock_abi,
                    kv_geometry_t *g);

/* Checks a store name: a plain name (1..KV_NAME_MAX of [A-Za-z0-9._-], not
 * starting with '.') or a path (contains '/', 1..KV_PATH_MAX bytes, not
 * ending in '/').  Returns 0 or KV_ENAME. */
/* Whether an object of `size` bytes, whose first min(size,
 * sizeof(kv_header_t)) bytes are at `head`, holds no store yet: empty, all
 * zero, or a header that a creator killed before writing the magic left.
 * Its owner, alone with it, may create a store in it afresh (store.c);
 * anything else without the magic is not kv's and is left as it is. */
int kv__validate_unformatted(const void *head, uint64_t size);

int kv__validate_name(const char *name);

/* Returns 1 if `name` is a file path rather than a named-memory name. */
int kv__validate_name_is_path(const char *name);

/* A slot's key_len is sound if it is a state marker or a length in range. */
static inline int kv__validate_key_len(uint32_t key_len, const kv_geometry_t *g)
{
    return key_len == KV_SLOT_EMPTY || key_len == KV_SLOT_TOMB || key_len <= g->key_max;
}

/* A used slot's value length (val_len without KV_VAL_REF) is sound if it
 * is within the store's limit. */
static inline int kv__validate_val_len(uint32_t val_len, const kv_geometry_t *g)
{
    return (val_len & KV_VAL_LEN_MASK) <= g->val_max;
}

/* Whether an entry of these (validated) lengths lives in its slot. */
static inline int kv__validate_is_inline(uint32_t key_len, uint32_t val_len)
{
    return (uint64_t)key_len + (val_len & KV_VAL_LEN_MASK) <= KV_INLINE_MAX;
}

/* Whether a block of `granules` starting at granule `at` lies inside the
 * data area. */
static inline int kv__validate_block(uint64_t at, uint64_t granules, const kv_geometry_t *g)
{
    return granules >= KV_BLOCK_MIN && at < g->data_granules &&
           granules <= g->data_granules - at;
}

/* An entry's expiry is sound if it is not further ahead of now_ms than
 * twice the longest time to live: kv_put_ex() sets at most KV_TTL_MAX_MS
 * ahead, and the other half is room for the clock being set back since.
 * (Anything further is damage, which kv_ttl() could not even express as an
 * int64_t.)  0 (never expires) and past expiries are sound. */
static inline int kv__validate_expiry(uint64_t expires_ms, uint64_t now_ms)
{
    return expires_ms <= now_ms || expires_ms - now_ms <= 2 * KV_TTL_MAX_MS;
}

#endif /* KV_VALIDATE_H */
