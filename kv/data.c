/*
 * data.c — the operations on entries: put (with a time-to-live and a
 * version condition), get, delete, increment, time-to-live, purge, count
 * and clear.  Each checks its arguments and hashes the key outside the lock,
 * then does all its work in one lock hold through journal.c, so each is one
 * crash-safe step.
 *
 * Expiry is lazy: an expired entry stays in its slot and reads as absent; it
 * is reclaimed when a lookup meets it, when an insert needs room (it is the
 * first choice of victim), or by kv_purge_expired().  The wall clock is read
 * only when needed: an entry with a TTL is met, a TTL is set, or an eviction
 * scan runs — so a store that never uses TTLs never reads it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "store.h"

/* ---------------------------------------------------------------------- */
/* Finding entries                                                         */
/* ---------------------------------------------------------------------- */

/* The wall clock, read at most once per operation and only if needed. */
typedef struct lazy_clock {
    uint64_t ms; /* 0: not read yet */
} lazy_clock_t;

static uint64_t clock_now(lazy_clock_t *c)
{
    if (!c->ms)
        c->ms = kv__os_clock_ms();
    return c->ms;
}

/* Where a key stands. */
typedef struct found {
    table_pos_t pos;
    kv_slot_t *slot; /* the slot holding the key, or NULL */
    int live;        /* the slot holds it and it has not expired */
    uint32_t val_len; /* its value length, read once and validated */
    const unsigned char *val; /* its value bytes, in the slot or its block */
} found_t;

static int find(kv_t *kv, uint32_t hash, const void *key, size_t key_len, lazy_clock_t *clk,
                found_t *f)
{
    int rc = kv__table_lookup(&kv->table, hash, key, (uint32_t)key_len, &f->pos);
    f->slot = NULL;
    f->live = 0;
    if (rc)
        return rc == KV_ENOTFOUND ? 0 : rc;
    f->slot = kv__table_slot(&kv->table, f->pos.found);
    f->val_len = kv__table_val_len(f->slot);
    f->val = kv__table_bytes(&kv->table, f->slot, (uint32_t)key_len, f->val_len);
    if (!f->val) /* the lookup validated the lengths, and the block's bounds */
        return KV_ECORRUPT;
    f->val += key_len;
    /* Only a store that ever set a TTL reads the expiry, on the slot's
     * second line (layout.h). */
    f->live = !kv__table_ttl_used(&kv->table) || f->slot->expires_ms == 0 ||
              !kv__table_expired(f->slot, clock_now(clk));
    return 0;
}

/* Whether a live entry's expiry disagrees with the store's hints: one that
 * never set a TTL ignores expiries, so an entry carrying one is damage,
 * which a reader of the expiry (kv_get_ex, kv_ttl) reports. */
static int expiry_unhinted(const kv_t *kv, const found_t *f)
{
    return f->slot->expires_ms != 0 && !kv__table_ttl_used(&kv->table);
}

/* Deletes the expired entry a lookup met. */
static void reclaim_expired(kv_t *kv, const found_t *f)
{
    kv__journal_delete(&kv->table, kv->hdr, f->pos.found);
    kv->hdr->expirations++;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */
/* ---------------------------------------------------------------------- */

/* One write: the key, the entry to store, and its condition. */
typedef struct write_req {
    const void *key;
    uint32_t key_len;
    journal_entry_t e;
    unsigned flags;       /* KV_NOREPLACE, KV_IF_VERSION */
    uint64_t if_version;
} write_req_t;

/* A cache store starts evicting when 7/8 of its slots are used, so probe
 * paths stay short instead of the table running full. */
static uint64_t cache_capacity(const kv_table_t *t)
{
    return t->geo.slot_count - t->geo.slot_count / 8;
}

/* Deletes every expired entry; returns how many. */
static uint64_t purge_locked(kv_t *kv, uint64_t now_ms)
{
    const kv_table_t *t = &kv->table;
    uint64_t n = 0;
    for (uint64_t i = 0; i <= t->mask; i++) {
        kv_slot_t *s = kv__table_slot(t, i);
        uint32_t state = kv__table_state(s);
        if (state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB || state > t->geo.key_max ||
            !kv__table_expired(s, now_ms))
            continue;
        kv__journal_delete(t, kv->hdr, i); /* turns tombstones before i, never after */
        kv->hdr->expirations++;
        n++;
    }
    return n;
}

/* The three ways a write lands.  Each places the entry first (a block of
 * the data area when it does not fit its slot), so that KV_ENOROOM changes
 * nothing: into free slot `slot`; over used slot `slot`; or into free slot
 * `slot` evicting `victim`. */
enum write_kind { WRITE_INSERT, WRITE_REPLACE, WRITE_EVICT_INSERT };

static int commit(kv_t *kv, enum write_kind kind, uint64_t slot, uint64_t victim,
                  const write_req_t *w, uint64_t *version)
{
    const kv_table_t *t = &kv->table;
    journal_entry_t e = w->e;
    int rc = kv__journal_place(t, kv->hdr, slot, w->key, w->key_len, &e);
    if (rc)
        return rc;
    if (kind == WRITE_INSERT)
        *version = kv__journal_insert(t, kv->hdr, slot, w->key, w->key_len, &e);
    else if (kind == WRITE_REPLACE)
        *version = kv__journal_replace(t, kv->hdr, slot, w->key, w->key_len, &e);
    else
        *version = kv__journal_evict_insert(t, kv->hdr, victim, slot, w->key, w->key_len, &e);
    return 0;
}

/* Counts a victim that is about to go. */
static void count_victim(kv_t *kv, uint64_t victim, uint64_t now_ms)
{
    if (kv__table_expired(kv__table_slot(&kv->table, victim), now_ms))
        kv->hdr->expirations++;
    else
        kv->hdr->evictions++;
}

/* CLOCK's next victim that is not slot `keep` (the key being written),
 * with lengths that can be trusted; TABLE_NONE when there is none. */
static uint64_t clock_victim(kv_t *kv, uint64_t keep, uint64_t now_ms)
{
    const kv_table_t *t = &kv->table;
    uint64_t victim = kv__table_clock_victim(t, &kv->hdr->clock_hand, now_ms);
    if (victim != TABLE_NONE && victim == keep)
        victim = kv__table_clock_victim(t, &kv->hdr->clock_hand, now_ms);
    if (victim == keep ||
        (victim != TABLE_NONE &&
         !kv__validate_val_len(kv__table_val_len(kv__table_slot(t, victim)), &t->geo)))
        return TABLE_NONE;
    return victim;
}

/* Whether a new key with `hash` placed in slot i would lie beyond its
 * window.  In a crowded cache every eviction elsewhere leaves a tombstone,
 * and with the free slots gone a new key's first free slot can lie
 * thousands of slots on: its path would then cover the tombstones between,
 * which no sweep can take back (journal.c), and every lookup would walk it
 * (measured: 45 us a put in a cache of 32,768 slots at 7/8, against 0.9 us
 * with twice the slots). */
static int far_from_home(const kv_table_t *t, uint64_t i, uint32_t hash)
{
    return ((i - (hash & t->mask)) & t->mask) >= TABLE_VICTIM_WINDOW;
}

/* CLOCK within a new key's window (kv__table_window_victim), with lengths
 * that can be trusted; TABLE_NONE when there is none. */
static uint64_t window_victim(kv_t *kv, uint32_t hash)
{
    const kv_table_t *t = &kv->table;
    uint64_t victim = kv__table_window_victim(t, hash);
    if (victim != TABLE_NONE &&
        !kv__validate_val_len(kv__table_val_len(kv__table_slot(t, victim)), &t->geo))
        return TABLE_NONE;
    return victim;
}

/* Evicts by CLOCK over the whole table for a new key of a crowded cache
 * store, in the same undoable step as the insert.  The key goes into
 * free_slot, the free slot its lookup found, while the victim becomes a
 * tombstone — unless that slot lies beyond the key's window: then the key
 * takes the place of a victim CLOCK chooses within its window.  With no free slot (a cache of fewer than 8 slots, whose 7/8 is
 * all of them) the key overwrites the victim in place: the lookup found
 * every slot live, and a table without an empty slot never gets one back
 * except through kv_clear (tombstones become empty only next to an empty
 * slot), so every lookup keeps walking the whole table and finds the key in
 * any slot. */
static int evict_clock(kv_t *kv, uint64_t free_slot, const write_req_t *w, uint64_t now_ms,
                       uint64_t *version)
{
    uint64_t victim;
    int rc;
    if (free_slot != TABLE_NONE && far_from_home(&kv->table, free_slot, w->e.hash) &&
        (victim = window_victim(kv, w->e.hash)) != TABLE_NONE) {
        if ((rc = commit(kv, WRITE_REPLACE, victim, 0, w, version)) == 0)
            count_victim(kv, victim, now_ms);
        return rc;
    }
    victim = clock_victim(kv, TABLE_NONE, now_ms);
    if (victim == TABLE_NONE)
        return free_slot == TABLE_NONE ? KV_EFULL /* only damage does that */
                                       : commit(kv, WRITE_INSERT, free_slot, 0, w, version);
    rc = free_slot == TABLE_NONE ? commit(kv, WRITE_REPLACE, victim, 0, w, version)
                                 : commit(kv, WRITE_EVICT_INSERT, free_slot, victim, w, version);
    if (rc == 0)
        count_victim(kv, victim, now_ms);
    return rc;
}

/* Stores a new key: in the free slot its lookup found, unless the store is
 * a crowded cache.  Then over an expired entry in the key's window, else by
 * CLOCK eviction (evict_clock).  A plain store with no free slot takes an
 * expired entry in the window, or purges expired entries and tries again. */
static int place_new(kv_t *kv, const found_t *f, const write_req_t *w, lazy_clock_t *clk,
                     uint64_t *version)
{
    const kv_table_t *t = &kv->table;
    kv_header_t *h = kv->hdr;
    int crowded = kv->cache && h->used >= cache_capacity(t);
    table_pos_t pos = f->pos;
    uint64_t victim;
    int rc;
    if (pos.free != TABLE_NONE && !crowded &&
        !(kv->cache && h->used + h->tombstones >= cache_capacity(t) &&
          far_from_home(t, pos.free, w->e.hash)))
        return commit(kv, WRITE_INSERT, pos.free, 0, w, version);
    victim = kv__table_victim(t, w->e.hash, clock_now(clk));
    if (victim != TABLE_NONE) {
        if (!kv__validate_val_len(kv__table_val_len(kv__table_slot(t, victim)), &t->geo))
            return KV_ECORRUPT;
        if ((rc = commit(kv, WRITE_REPLACE, victim, 0, w, version)) == 0)
            h->expirations++;
        return rc;
    }
    if (kv->cache)
        return evict_clock(kv, pos.free, w, clock_now(clk), version);
    if (purge_locked(kv, clock_now(clk)) == 0 ||
        kv__table_lookup(t, w->e.hash, w->key, w->key_len, &pos) != KV_ENOTFOUND ||
        pos.free == TABLE_NONE)
        return KV_EFULL;
    return commit(kv, WRITE_INSERT, pos.free, 0, w, version);
}

/* Stores w where the lookup f says: over the key's own slot (live or
 * expired), else as a new key. */
static int store_entry(kv_t *kv, const found_t *f, const write_req_t *w, lazy_clock_t *clk,
                       uint64_t *version)
{
    int rc;
    if (!f->slot)
        return place_new(kv, f, w, clk, version);
    if ((rc = commit(kv, WRITE_REPLACE, f->pos.found, 0, w, version)) == 0 && !f->live)
        kv->hdr->expirations++;
    return rc;
}

static int check_condition(const found_t *f, const write_req_t *w)
{
    uint64_t current = f->live ? f->slot->version : 0;
    if ((w->flags & KV_IF_VERSION) && current != w->if_version)
        return KV_ECONFLICT;
    if ((w->flags & KV_NOREPLACE) && f->live)
        return KV_EEXIST;
    return 0;
}

/* Makes room in a cache store's data area: evicts one entry, never the
 * key's own.  The first eviction of a write is CLOCK's choice, which is
 * all most writes need; if room is still short, free space is scattered,
 * so later ones take the entry right after one of the largest free runs,
 * which merges with it (CLOCK again when there is none): a write then
 * evicts about what it needs, not a scatter of entries whose room does not
 * join up.  Returns 0, or KV_ENOROOM when nothing is left to evict. */
static int evict_for_room(kv_t *kv, const found_t *f, lazy_clock_t *clk, int evicted)
{
    uint64_t keep = f->slot ? f->pos.found : TABLE_NONE;
    uint64_t victim = evicted ? kv__alloc_room_victim(&kv->table, keep) : TABLE_NONE;
    if (victim == TABLE_NONE)
        victim = clock_victim(kv, keep, clock_now(clk));
    if (victim == TABLE_NONE)
        return KV_ENOROOM;
    count_victim(kv, victim, clock_now(clk));
    kv__journal_evict(&kv->table, kv->hdr, victim);
    return 0;
}

/* A plain store refuses a write its data area cannot fit (KV_ENOROOM,
 * nothing changed); a cache store evicts until it fits, one entry at a
 * time, each eviction a crash-safe step of its own, looking the key up
 * again after each (an eviction may turn tombstones on its path empty). */
static int write_locked(kv_t *kv, const write_req_t *w, uint64_t *version)
{
    lazy_clock_t clk = { 0 };
    found_t f;
    int evicted = 0;
    for (;;) {
        int rc = find(kv, w->e.hash, w->key, w->key_len, &clk, &f);
        if (!rc)
            rc = check_condition(&f, w);
        if (!rc)
            rc = store_entry(kv, &f, w, &clk, version);
        if (rc == KV_ENOROOM && kv->cache && evict_for_room(kv, &f, &clk, evicted) == 0) {
            evicted = 1;
            continue;
        }
        if (rc && evicted) /* the evictions happened: they are a change */
            kv__journal_publish(kv->hdr);
        return rc;
    }
}

/* Whether an entry could fit the data area at all, were it empty: a cache
 * must not evict everything for one that never can. */
static int could_fit(const kv_table_t *t, size_t key_len, size_t val_len)
{
    uint64_t n = (uint64_t)key_len + val_len;
    return n <= KV_INLINE_MAX || kv__validate_block_granules(n) <= t->geo.data_granules;
}

static int check_write(const kv_t *kv, const void *key, size_t key_len,
                       const void *val, size_t val_len)
{
    int rc = kv__store_check_key(kv, key, key_len);
    if (rc)
        return rc;
    if (!val && val_len)
        return KV_EINVAL;
    if (val_len > kv->table.geo.val_max)
        return KV_ETOOBIG;
    if (!kv->writable)
        return KV_ERDONLY;
    return could_fit(&kv->table, key_len, val_len) ? 0 : KV_ENOROOM;
}

int kv_put_ex(kv_t *kv, const void *key, size_t key_len, const void *val, size_t val_len,
              kv_put_opts_t *opts)
{
    kv_put_opts_t none = { 0, 0, 0, 0 };
    store_hold_t hold;
    write_req_t w;
    uint64_t version = 0;
    int rc = check_write(kv, key, key_len, val, val_len);
    if (rc)
        return rc;
    if (!opts)
        opts = &none;
    if ((opts->flags & ~(KV_NOREPLACE | KV_IF_VERSION)) || opts->ttl_ms > KV_TTL_MAX_MS)
        return KV_EINVAL;
    w.key = key;
    w.key_len = (uint32_t)key_len;
    w.e.hash = kv__table_hash(&kv->table, key, key_len);
    kv__table_prefetch(&kv->table, w.e.hash, 1);
    w.e.val = val;
    w.e.val_len = (uint32_t)val_len;
    w.e.expires_ms = opts->ttl_ms ? kv__os_clock_ms() + opts->ttl_ms : 0;
    w.flags = opts->flags;
    w.if_version = opts->if_version;
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    rc = write_locked(kv, &w, &version);
    kv__store_unlock(kv, &hold);
    if (rc == 0)
        opts->version = version;
    return rc;
}

int kv_put(kv_t *kv, const void *key, size_t key_len, const void *val, size_t val_len,
           unsigned flags)
{
    kv_put_opts_t opts = { flags, 0, 0, 0 };
    if (flags & ~KV_NOREPLACE)
        return KV_EINVAL;
    return kv_put_ex(kv, key, key_len, val, val_len, &opts);
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */
/* ---------------------------------------------------------------------- */

/* Looks a key up for a reader: a live entry, or KV_ENOTFOUND after counting
 * the miss and reclaiming an expired entry. */
static int find_live(kv_t *kv, uint32_t hash, const void *key, size_t key_len, found_t *f,
                     lazy_clock_t *clk)
{
    int rc = find(kv, hash, key, key_len, clk, f);
    if (rc)
        return rc;
    if (f->live)
        return 0;
    if (f->slot)
        reclaim_expired(kv, f);
    return KV_ENOTFOUND;
}

static int get_locked(kv_t *kv, uint32_t hash, const void *key, size_t key_len, void *buf,
                      size_t cap, size_t *len, kv_meta_t *meta, data_use_t use)
{
    lazy_clock_t clk = { 0 };
    found_t f;
    int rc = find_live(kv, hash, key, key_len, &f, &clk);
    if (rc) {
        kv->misses += rc == KV_ENOTFOUND && use == DATA_GET;
        return rc;
    }
    kv->hits += use == DATA_GET;
    if (kv->cache && use == DATA_GET && !(f.slot->val_len & KV_VAL_REF))
        f.slot->val_len |= KV_VAL_REF; /* CLOCK's reference bit, on a line already read */
    *len = f.val_len;
    if (meta) {
        if (expiry_unhinted(kv, &f))
            return KV_ECORRUPT;
        meta->version = f.slot->version;
        meta->expires_ms = f.slot->expires_ms;
    }
    if (*len > cap)
        return KV_ERANGE;
    kv__store_copy_out(buf, f.val, *len);
    return 0;
}

int kv__data_get(kv_t *kv, const void *key, size_t key_len, void *buf, size_t cap,
                 size_t *val_len, kv_meta_t *meta, uint32_t timeout_ms, data_use_t use)
{
    store_hold_t hold;
    size_t len = 0;
    uint32_t hash;
    int rc = kv__store_check_key(kv, key, key_len);
    if (rc)
        return rc;
    if (!buf && cap)
        return KV_EINVAL;
    hash = kv__table_hash(&kv->table, key, key_len);
    kv__table_prefetch(&kv->table, hash, 0);
    rc = kv->optimistic
             ? kv__optimistic_get(kv, hash, key, key_len, buf, cap, &len, meta, timeout_ms, use)
             : OPTIMISTIC_CONTENDED;
    if (rc == OPTIMISTIC_CONTENDED) {
        if ((rc = kv__store_lock_within(kv, &hold, timeout_ms)) != 0)
            return rc;
        rc = get_locked(kv, hash, key, key_len, buf, cap, &len, meta, use);
        kv__store_unlock(kv, &hold);
    }
    if (val_len && (rc == 0 || rc == KV_ERANGE))
        *val_len = len;
    return rc;
}

int kv_get_ex(kv_t *kv, const void *key, size_t key_len, void *buf, size_t cap,
              size_t *val_len, kv_meta_t *meta)
{
    return kv__data_get(kv, key, key_len, buf, cap, val_len, meta,
                        kv ? kv__store_timeout(kv) : 0, DATA_GET);
}

int kv_get(kv_t *kv, const void *key, size_t key_len, void *buf, size_t cap, size_t *val_len)
{
    return kv_get_ex(kv, key, key_len, buf, cap, val_len, NULL);
}

/* kv_ttl's answer for a live entry expiring at expires_ms (0: never). */
static int ttl_of(uint64_t expires_ms, uint64_t now_ms, int64_t *ttl_ms)
{
    if (!kv__validate_expiry(expires_ms, now_ms))
        return KV_ECORRUPT;
    *ttl_ms = expires_ms ? (int64_t)(expires_ms > now_ms ? expires_ms - now_ms : 0) : -1;
    return 0;
}

/* kv_ttl through an optimistic handle: the expiry of a get. */
static int ttl_optimistic(kv_t *kv, const void *key, size_t key_len, int64_t *ttl_ms)
{
    kv_meta_t meta;
    uint64_t now = kv__os_clock_ms();
    int rc = kv__data_get(kv, key, key_len, NULL, 0, NULL, &meta, kv__store_timeout(kv),
                          DATA_PEEK);
    return rc != 0 && rc != KV_ERANGE ? rc : ttl_of(meta.expires_ms, now, ttl_ms);
}

int kv_ttl(kv_t *kv, const void *key, size_t key_len, int64_t *ttl_ms)
{
    lazy_clock_t clk = { 0 };
    store_hold_t hold;
    found_t f;
    uint32_t hash;
    int rc = kv__store_check_key(kv, key, key_len);
    if (rc || !ttl_ms)
        return rc ? rc : KV_EINVAL;
    if (kv->optimistic)
        return ttl_optimistic(kv, key, key_len, ttl_ms);
    hash = kv__table_hash(&kv->table, key, key_len);
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    rc = find_live(kv, hash, key, key_len, &f, &clk);
    if (rc == 0)
        rc = expiry_unhinted(kv, &f) ? KV_ECORRUPT
                                     : ttl_of(f.slot->expires_ms, clock_now(&clk), ttl_ms);
    kv__store_unlock(kv, &hold);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Deleting                                                                */
/* ---------------------------------------------------------------------- */

/* Deletes key; with `conditional`, only if its version is `version`. */
static int delete_key(kv_t *kv, const void *key, size_t key_len, int conditional,
                      uint64_t version)
{
    lazy_clock_t clk = { 0 };
    store_hold_t hold;
    found_t f;
    uint32_t hash;
    int rc = kv__store_check_key(kv, key, key_len);
    if (rc)
        return rc;
    if (!kv->writable)
        return KV_ERDONLY;
    hash = kv__table_hash(&kv->table, key, key_len);
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    rc = find_live(kv, hash, key, key_len, &f, &clk);
    if (rc == 0 && conditional && f.slot->version != version)
        rc = KV_ECONFLICT;
    if (rc == 0)
        kv__journal_delete(&kv->table, kv->hdr, f.pos.found);
    kv__store_unlock(kv, &hold);
    return rc;
}

int kv_del(kv_t *kv, const void *key, size_t key_len)
{
    return delete_key(kv, key, key_len, 0, 0);
}

int kv_del_if(kv_t *kv, const void *key, size_t key_len, uint64_t version)
{
    return delete_key(kv, key, key_len, 1, version);
}

int kv_purge_expired(kv_t *kv, uint64_t *purged)
{
    store_hold_t hold;
    uint64_t now, n;
    int rc;
    if (!kv)
        return KV_EINVAL;
    if (!kv->writable)
        return KV_ERDONLY;
    now = kv__os_clock_ms();
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    n = purge_locked(kv, now);
    kv__store_unlock(kv, &hold);
    if (purged)
        *purged = n;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Increment                                                               */
/* ---------------------------------------------------------------------- */

/* The longest decimal int64: "-9223372036854775808". */
#define INCR_VALUE_MAX 20u

/* Parses an optional '-' and 1..19 digits into *out. */
static int parse_int64(const unsigned char *p, uint32_t n, int64_t *out)
{
    uint32_t i = n > 0 && p[0] == '-';
    uint64_t v = 0, limit = i ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (i == n || n - i > 19)
        return KV_ENOTNUM;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return KV_ENOTNUM;
        v = v * 10 + (uint64_t)(p[i] - '0'); /* 19 digits < 2^64: no overflow */
    }
    if (v > limit)
        return KV_ENOTNUM;
    *out = p[0] == '-' ? (v == limit ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

static int add_int64(int64_t a, int64_t b, int64_t *sum)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return KV_EOVERFLOW;
    *sum = a + b;
    return 0;
}

static int incr_locked(kv_t *kv, uint32_t hash, const void *key, size_t key_len, int64_t delta,
                       int64_t *result)
{
    lazy_clock_t clk = { 0 };
    char text[24];
    write_req_t w = { key, (uint32_t)key_len, { hash, text, 0, 0, 0 }, 0, 0 };
    int64_t current = 0;
    uint64_t version;
    found_t f;
    int rc = find(kv, hash, key, key_len, &clk, &f);
    if (!rc && f.live)
        rc = parse_int64(f.val, f.val_len, &current);
    if (!rc)
        rc = add_int64(current, delta, result);
    if (rc)
        return rc;
    w.e.val_len = (uint32_t)snprintf(text, sizeof text, "%" PRId64, *result);
    w.e.expires_ms = f.live ? f.slot->expires_ms : 0; /* incr keeps a live entry's TTL */
    return store_entry(kv, &f, &w, &clk, &version);
}

int kv_incr(kv_t *kv, const void *key, size_t key_len, int64_t delta, int64_t *result)
{
    store_hold_t hold;
    int64_t value = 0;
    uint32_t hash;
    int rc = check_write(kv, key, key_len, NULL, 0);
    if (rc)
        return rc;
    if (kv->table.geo.val_max < INCR_VALUE_MAX)
        return KV_ETOOBIG;
    hash = kv__table_hash(&kv->table, key, key_len);
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    rc = incr_locked(kv, hash, key, key_len, delta, &value);
    kv__store_unlock(kv, &hold);
    if (rc == 0 && result)
        *result = value;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Whole store                                                             */
/* ---------------------------------------------------------------------- */

int kv_count(kv_t *kv, uint64_t *count)
{
    store_hold_t hold;
    int rc;
    if (!kv || !count)
        return KV_EINVAL;
    if (!kv->writable) { /* the count of some moment during the call */
        if ((rc = kv__store_check_fork(kv)) != 0)
            return rc;
        *count = *(const volatile uint64_t *)&kv->hdr->used;
        return 0;
    }
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    *count = kv->hdr->used;
    kv__store_unlock(kv, &hold);
    return 0;
}

int kv_clear(kv_t *kv)
{
    store_hold_t hold;
    int rc;
    if (!kv)
        return KV_EINVAL;
    if (!kv->writable)
        return KV_ERDONLY;
    if ((rc = kv__store_lock(kv, &hold)) != 0)
        return rc;
    kv__journal_clear(&kv->table, kv->hdr);
    kv__store_unlock(kv, &hold);
    return 0;
}
