/*
 * validate.c — checks of everything that crosses a trust boundary: creation
 * options, store names, and a header found in a mapping that any process
 * (or a stray write, or a file that was never a store) may have filled.
 * The header check recomputes the geometry from the three primary fields
 * and requires the stored derived fields to match, so a damaged size can
 * never pass as a different valid one.
 */
#include "validate.h"

#include <string.h>

#include "kv.h"

/* ---------------------------------------------------------------------- */
/* Geometry                                                                */
/* ---------------------------------------------------------------------- */

static uint64_t round_up(uint64_t n, uint64_t to)
{
    return (n + to - 1) / to * to;
}

static uint64_t next_pow2(uint64_t n)
{
    uint64_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int kv__validate_options(uint64_t slots, uint32_t key_max, uint32_t val_max, kv_geometry_t *g)
{
    if (slots == 0 || slots > KV_SLOTS_MAX)
        return KV_EINVAL;
    if (key_max == 0 || key_max > KV_KEY_MAX_LIMIT || val_max > KV_VAL_MAX_LIMIT)
        return KV_EINVAL;
    /* With the limits above every product below fits in 64 bits:
     * 2^30 slots * (32 + 2^16 + 2^30) bytes < 2^61. */
    g->slot_count = next_pow2(slots);
    g->key_max = key_max;
    g->val_max = val_max;
    g->slot_size = (uint32_t)round_up((uint64_t)KV_SLOT_HEAD + key_max + val_max, 8);
    g->header_size = (uint32_t)round_up((uint64_t)sizeof(kv_header_t) + g->slot_size,
                                        KV_CACHE_LINE);
    g->total_size = g->header_size + g->slot_count * g->slot_size;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Header                                                                  */
/* ---------------------------------------------------------------------- */

static int is_pow2(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

int kv__validate_header(const kv_header_t *h, uint64_t object_size, uint32_t lock_abi,
                    kv_geometry_t *g)
{
    if (object_size < sizeof(kv_header_t) || h->magic != KV_MAGIC)
        return KV_ECORRUPT;
    if (h->byte_order != KV_BYTE_ORDER_MARK || h->layout_version != KV_LAYOUT_VERSION)
        return KV_EVERSION;
    if (lock_abi != VALIDATE_ANY_LOCK_ABI && h->lock_abi != lock_abi)
        return KV_EVERSION;
    if (h->flags & ~KV_STORE_FLAGS)
        return KV_ECORRUPT;
    if (!is_pow2(h->slot_count))
        return KV_ECORRUPT;
    if (kv__validate_options(h->slot_count, h->key_max, h->val_max, g) != 0)
        return KV_ECORRUPT;
    if (g->slot_count != h->slot_count || g->slot_size != h->slot_size ||
        g->header_size != h->header_size || g->total_size != h->total_size)
        return KV_ECORRUPT;
    if (object_size < g->total_size) /* truncated: a read past the end would SIGBUS */
        return KV_ECORRUPT;
    return 0;
}

static int all_zero(const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int kv__validate_unformatted(const void *head, uint64_t size)
{
    const kv_header_t *h = head;
    if (size < sizeof *h)
        return all_zero(head, size);
    if (h->magic != 0)
        return 0;
    /* store_format writes every field, then the magic: a creator killed in
     * between leaves kv's byte-order mark without it. */
    return all_zero(head, sizeof *h) || h->byte_order == KV_BYTE_ORDER_MARK;
}

/* ---------------------------------------------------------------------- */
/* Names                                                                   */
/* ---------------------------------------------------------------------- */

int kv__validate_name_is_path(const char *name)
{
    return strchr(name, '/') != NULL;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

int kv__validate_name(const char *name)
{
    size_t len = strlen(name);
    if (kv__validate_name_is_path(name))
        return len <= KV_PATH_MAX && name[len - 1] != '/' ? 0 : KV_ENAME;
    if (len == 0 || len > KV_NAME_MAX || name[0] == '.')
        return KV_ENAME;
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(name[i]))
            return KV_ENAME;
    return 0;
}
