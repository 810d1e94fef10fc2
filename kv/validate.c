/*
 * validate.c — checks of everything that crosses a trust boundary: creation
 * options, store names, and a header found in a mapping that any process
 * (or a stray write, or a file that was never a store) may have filled.
 * The header check recomputes the geometry from the four primary fields
 * (size, slots, key and value limits) and requires the stored derived
 * fields to match, so a damaged size can
 * never pass as a different valid one.
 */
#include "validate.h"

#include <string.h>
#include <xxhash.h>

#include "kv.h"

/* ---------------------------------------------------------------------- */
/* Geometry                                                                */
/* ---------------------------------------------------------------------- */

static uint64_t next_pow2(uint64_t n)
{
    uint64_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* Slots for a budget given without a count: one per KV_MEMORY_PER_SLOT
 * bytes (a power of two, at least KV_DEFAULT_SLOTS_MIN), so the table takes
 * 1/16 of the budget and the data area the rest: a store of entries of a
 * kilobyte fills both about together.  Without a budget: KV_DEFAULT_SLOTS. */
#define KV_MEMORY_PER_SLOT   1024u
#define KV_DEFAULT_SLOTS_MIN 16u
#define KV_DEFAULT_SLOTS     1024u

/* The budget a store of these limits gets when none is given: room for
 * every slot's largest entry, as if each reserved it, and one more, for
 * the new value of a replace, which is written beside the old one until it
 * commits (journal.c).  So such a store, like layout 2's, never runs out
 * of bytes before slots.  0 if that would not fit the data area's 2^32
 * granules (a budget must then be given). */
static uint64_t default_memory(uint64_t slot_count, uint32_t key_max, uint32_t val_max)
{
    uint64_t largest = (uint64_t)key_max + val_max;
    uint64_t per_slot = largest <= KV_INLINE_MAX ? 0 : kv__validate_block_granules(largest);
    if (per_slot && slot_count + 1 > (UINT32_MAX - 1) / per_slot)
        return 0;
    return KV_HEADER_SIZE + slot_count * KV_SLOT_SIZE + (slot_count + 1) * per_slot * KV_GRANULE;
}

static uint64_t default_slots(uint64_t memory)
{
    uint64_t slots = KV_DEFAULT_SLOTS_MIN;
    while (slots * 2 * KV_MEMORY_PER_SLOT <= memory && slots * 2 <= KV_SLOTS_MAX)
        slots *= 2;
    return memory ? slots : KV_DEFAULT_SLOTS;
}

int kv__validate_options(uint64_t memory, uint64_t slots, uint32_t key_max, uint32_t val_max,
                         kv_geometry_t *g)
{
    if (slots > KV_SLOTS_MAX || memory > KV_MEMORY_MAX)
        return KV_EINVAL;
    if (key_max == 0 || key_max > KV_KEY_MAX_LIMIT || val_max > KV_VAL_MAX_LIMIT)
        return KV_EINVAL;
    memset(g, 0, sizeof *g); /* padding too: kv_check compares geometries whole */
    g->slot_count = next_pow2(slots ? slots : default_slots(memory));
    g->key_max = key_max;
    g->val_max = val_max;
    g->header_size = KV_HEADER_SIZE;
    g->data_offset = KV_HEADER_SIZE + g->slot_count * KV_SLOT_SIZE;
    if (!memory && !(memory = default_memory(g->slot_count, key_max, val_max)))
        return KV_EINVAL;
    if (memory < g->data_offset)
        return KV_EINVAL; /* the budget does not hold the slots */
    g->data_granules = (memory - g->data_offset) / KV_GRANULE;
    if (g->data_granules >= UINT32_MAX)
        return KV_EINVAL; /* block links are 32-bit granule numbers */
    g->total_size = g->data_offset + g->data_granules * KV_GRANULE;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Header                                                                  */
/* ---------------------------------------------------------------------- */

static int is_pow2(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

uint32_t kv__validate_identity(const kv_header_t *h)
{
    kv_header_t line;
    memcpy(&line, h, KV_CACHE_LINE);
    line.magic = KV_MAGIC;
    line.identity_check = 0;
    line.lock_abi = 0;
    return (uint32_t)XXH3_64bits(&line, KV_CACHE_LINE);
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
    if (h->identity_check != kv__validate_identity(h) || (h->flags & ~KV_STORE_FLAGS))
        return KV_ECORRUPT;
    if (!is_pow2(h->slot_count) || h->slot_size != KV_SLOT_SIZE)
        return KV_ECORRUPT;
    if (kv__validate_options(h->total_size, h->slot_count, h->key_max, h->val_max, g) != 0)
        return KV_ECORRUPT;
    if (g->slot_count != h->slot_count || g->header_size != h->header_size ||
        g->total_size != h->total_size)
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
