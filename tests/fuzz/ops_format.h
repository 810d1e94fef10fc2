/*
 * ops_format.h — how fuzz_ops reads its input, shared with make_seeds so
 * that the seed corpus speaks the same encoding.
 *
 *   byte 0   geometry: bits 0-2 slot exponent (slots = 1 << min(e, 6)),
 *            bit 3 cache store, bits 4-5 key_max = 4 << (b >> 4 & 3)
 *   byte 1   val_max = b % 80
 *   then     operations, one opcode byte each followed by its operands:
 *            opcode bits 0-4 = OPS_* (modulo OPS_NUM), bits 5-6 a variant,
 *            bit 7 = which of the two read-write handles runs it.
 *
 * Operands: a key is one byte (1 + (b & 3) bytes long, the rest of b picks
 * its letters: 256 distinct keys); a value is one byte, either >= 0xf0 for
 * an entry of a table of numeric strings (for incr), or a length (b modulo
 * val_max + 2, so one past the limit is possible) followed by that many
 * bytes.  PUT_EX adds a flags byte (OPS_PX_*), INCR a delta byte (an index
 * into a table, or 0xff followed by 8 bytes).
 */
#ifndef KV_FUZZ_OPS_FORMAT_H
#define KV_FUZZ_OPS_FORMAT_H

enum {
    OPS_PUT,     /* key value: kv_put (variant 1: KV_NOREPLACE) */
    OPS_PUT_EX,  /* key value flags: kv_put_ex */
    OPS_GET,     /* key: kv_get / kv_get_ex; variant picks the buffer */
    OPS_DEL,     /* key: kv_del */
    OPS_DEL_IF,  /* key: kv_del_if; variant picks the version */
    OPS_INCR,    /* key delta: kv_incr */
    OPS_CLEAR,   /* kv_clear */
    OPS_NEXT,    /* whole iteration compared with the model; variant 1: keys only */
    OPS_TTL,     /* key: kv_ttl */
    OPS_COUNT,   /* kv_count */
    OPS_PURGE,   /* kv_purge_expired (nothing expires here: 0) */
    OPS_RDONLY,  /* key value: writes through a read-only handle fail, a get works */
    OPS_BADARGS, /* key: invalid arguments; variant picks which */
    OPS_REOPEN,  /* closes and reopens the second handle */
    OPS_STATS,   /* kv_stats against the model's counters */
    OPS_CHECK,   /* kv_check */
    OPS_NUM      /* number of operations */
};

/* PUT_EX flags byte. */
#define OPS_PX_NOREPLACE  0x01u /* KV_NOREPLACE */
#define OPS_PX_IF_VERSION 0x02u /* KV_IF_VERSION, version chosen by bits 2-3: */
#define OPS_PX_VER_SHIFT  2     /* 0 the key's own, 1 zero, 2 its own + 1, 3 all ones */
#define OPS_PX_TTL        0x10u /* an hour's time to live */
#define OPS_PX_BAD_TTL    0x20u /* ttl beyond KV_TTL_MAX_MS: KV_EINVAL */
#define OPS_PX_BAD_FLAG   0x40u /* an unknown flag: KV_EINVAL */

#define OPS_VALUE_TABLE   0xf0u /* value byte >= this: numeric string table */
#define OPS_DELTA_RAW     0xffu /* delta byte: 8 raw bytes follow */

#endif /* KV_FUZZ_OPS_FORMAT_H */
