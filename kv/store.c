/*
 * store.c — opening and closing stores, and the store's lock.  The
 * operations themselves (data.c, notify.c, inspect.c) all follow "check
 * arguments, hash, kv__store_lock, act on the table, kv__store_unlock".
 *
 * Opening: the OS layer opens the object and takes the attach lock.  The
 * process that gets it alone either formats a new block (header written,
 * magic last) or, for an existing one, repairs whatever the last holder left
 * and formats the mutex afresh — nobody else can be inside it.  Everyone else
 * validates the header and keeps a private copy of the geometry, so later
 * scribbles on the header cannot move this process outside its mapping.
 *
 * Locking: kv__store_lock() is the one function that takes the store mutex.  It
 * counts timeouts, records the holder (pid, since when) and repairs the store
 * when the previous holder died, before the caller's operation looks at any
 * slot.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "fault.h"
#include "store.h"

#define KV_ALL_OPEN_FLAGS (KV_RDWR | KV_CREATE | KV_EXCL | KV_CACHE | KV_ANY_OWNER | KV_OPTIMISTIC)
/* How long an opener waits for a creator that has made an object but not yet
 * sized it (a window of a few system calls). */
#define EMPTY_OBJECT_RETRIES 20

/* ---------------------------------------------------------------------- */
/* The lock                                                                */
/* ---------------------------------------------------------------------- */

/* The holder mark brackets every critical section: set before the first
 * store to slots, cleared after the last.  A process that attaches alone
 * and finds it set knows the last holder died inside (store_repair_alone).
 * The signal fence keeps the compiler from moving slot stores above it. */
static void holder_set(kv_t *kv)
{
    atomic_store_explicit(&kv->hdr->holder_pid, kv->pid, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
}

void kv__store_fold(kv_t *kv)
{
    kv->hdr->hits += kv->hits +
        atomic_exchange_explicit(&kv->optimistic_hits, 0, memory_order_relaxed);
    kv->hdr->misses += kv->misses +
        atomic_exchange_explicit(&kv->optimistic_misses, 0, memory_order_relaxed);
    kv->hits = kv->misses = 0;
}

/* Wakes the sleepers of every word in `pending` (kv_header_t.wake_pending). */
static void wake_words(kv_t *kv, uint32_t pending)
{
    kv_header_t *h = kv->hdr;
    if (pending & KV_WAKE_STORE)
        kv__os_wake_all(kv->obj, &h->change_seq);
    for (uint32_t w = 0; w < KV_WAIT_WORDS; w++)
        if (pending & 1u << w)
            kv__os_wake_all(kv->obj, &kv->table.waits->word[w].seq);
}

/* Takes the words a changing hold must wake (journal.c touch_word, notify.c
 * arm_store), counting the wake calls.  Under the mutex, which orders it
 * against a sleeper arming a word: either this sees it armed, or the
 * sleeper reads this hold's seq and does not sleep.  wake_pending is on
 * line 3, which a change writes anyway; a hold that changed nothing reads
 * no other line. */
static uint32_t take_wakes(kv_t *kv)
{
    kv_header_t *h = kv->hdr;
    uint32_t pending = atomic_load_explicit(&h->wake_pending, memory_order_relaxed);
    if (pending) {
        atomic_store_explicit(&h->wake_pending, 0, memory_order_relaxed);
        for (uint32_t bits = pending; bits; bits &= bits - 1)
            kv->table.waits->wakeups++;
    }
    return pending;
}

/* Drops the mutex; see store.h. */
void kv__store_unlock(kv_t *kv, const store_hold_t *hold)
{
    kv_header_t *h = kv->hdr;
    int changed = atomic_load_explicit(&h->generation, memory_order_relaxed) != hold->generation;
    uint32_t wake = 0;
    if (changed) { /* the counters' line is written by this hold anyway */
        wake = take_wakes(kv);
        kv__store_fold(kv);
    }
    /* Only a waiter stamps the time (store_wait), so the uncontended path
     * reads no clock; a stamp that lands after this clear is cleared by the
     * next unlock. */
    if (atomic_load_explicit(&h->holder_since_ms, memory_order_relaxed))
        atomic_store_explicit(&h->holder_since_ms, 0, memory_order_relaxed);
    atomic_store_explicit(&h->holder_pid, 0, memory_order_release);
    kv__os_mutex_unlock(kv->obj);
    /* Wake after unlocking, so sleepers do not wake into a held lock. */
    if (wake)
        wake_words(kv, wake);
}

/* The slow path of kv__store_lock_within: the lock is held by someone else.
 * Stamp when it was first seen held (for stats), then wait up to `ms`. */
static int store_wait(kv_t *kv, uint32_t ms)
{
    kv_header_t *h = kv->hdr;
    uint64_t unset = 0;
    int rc;
    atomic_compare_exchange_strong_explicit(&h->holder_since_ms, &unset, kv__os_clock_ms(),
                                            memory_order_relaxed, memory_order_relaxed);
    rc = ms ? kv__os_mutex_lock(kv->obj, ms) : KV_ETIMEDOUT;
    if (rc == KV_ETIMEDOUT)
        atomic_fetch_add_explicit(&h->lock_timeouts, 1, memory_order_relaxed);
    return rc;
}

int kv__store_intact(kv_t *kv)
{
    uint64_t now;
    return kv__os_object_size(kv->obj, &now) == 0 && now >= kv->object_size;
}

uint32_t kv__store_timeout(const kv_t *kv)
{
    return atomic_load_explicit(&kv->timeout_ms, memory_order_relaxed);
}

/* A child after fork() shares the parent's mapping and attach lock but not
 * its pid: locking there would name the parent as the holder, and the
 * attach lock, shared with the parent, proves nothing.  One load of a
 * variable that only a fork changes, so the check costs nothing. */
int kv__store_check_fork(const kv_t *kv)
{
    return kv->forks == atomic_load_explicit(&kv__os_forks, memory_order_relaxed) ? 0
                                                                                    : KV_EFORKED;
}

int kv__store_lock(kv_t *kv, store_hold_t *hold)
{
    return kv__store_lock_within(kv, hold, kv__store_timeout(kv));
}

int kv__store_lock_within(kv_t *kv, store_hold_t *hold, uint32_t timeout_ms)
{
    kv_header_t *h = kv->hdr;
    int rc = kv__store_check_fork(kv);
    if (rc)
        return rc;
    if (!kv->writable)
        return KV_ERDONLY;
    rc = kv__os_mutex_trylock(kv->obj);
    if (rc == OS_LOCK_BUSY)
        rc = store_wait(kv, timeout_ms);
    if (rc < 0)
        return rc;
    holder_set(kv);
    hold->generation = atomic_load_explicit(&h->generation, memory_order_relaxed);
    if (rc == OS_LOCK_OWNER_DIED) {
        /* Repair before marking the mutex consistent: if this process dies
         * while repairing, the next locker is told again and repeats the
         * (idempotent) repair.  A store someone truncated is not touched
         * (its lost pages would raise SIGBUS) and its mutex is left
         * inconsistent, so every later locker is told KV_ECORRUPT too. */
        if (!kv__store_intact(kv)) {
            kv__store_unlock(kv, hold);
            return KV_ECORRUPT;
        }
        rc = kv__journal_recover(&kv->table, h);
        kv__os_mutex_consistent(kv->obj);
        if (rc < 0) {
            kv__store_unlock(kv, hold);
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Structs that carry their size                                           */
/* ---------------------------------------------------------------------- */

/* The first published kv_options_t ends here; later versions only append. */
#define OPTIONS_V1_SIZE (offsetof(kv_options_t, lock_timeout_ms) + sizeof(uint32_t))
#define INFO_V1_SIZE    (offsetof(kv_info_t, total_bytes) + sizeof(uint64_t))

void kv_options_init_size(kv_options_t *opts, size_t size)
{
    kv_options_t d;
    if (!opts || size < sizeof opts->size)
        return;
    memset(&d, 0, sizeof d);
    d.key_max = 64;
    d.val_max = 1024;
    d.mode = 0600;
    d.lock_timeout_ms = 5000;
    memset(opts, 0, size);
    memcpy(opts, &d, size < sizeof d ? size : sizeof d);
    opts->size = (uint32_t)size;
}

/* Reads a caller's options into *out, all of whose fields this library
 * knows: a caller built against an older kv.h has the newer fields'
 * defaults; one built against a newer kv.h must leave the fields this
 * library does not know at zero, or the call fails (it cannot honour them). */
static int options_read(const kv_options_t *in, kv_options_t *out)
{
    kv_options_init(out);
    if (!in)
        return 0;
    if (in->size < OPTIONS_V1_SIZE)
        return KV_EINVAL; /* not filled by kv_options_init() */
    memcpy(out, in, in->size < sizeof *out ? in->size : sizeof *out);
    for (size_t i = sizeof *out; i < in->size; i++)
        if (((const unsigned char *)in)[i] != 0)
            return KV_EINVAL;
    out->size = sizeof *out;
    return 0;
}

int kv__store_sized_out(void *dst, size_t dst_size, const void *src, size_t src_size,
                        size_t v1_size)
{
    size_t n = dst_size < src_size ? dst_size : src_size;
    uint32_t filled = (uint32_t)n;
    if (dst_size < v1_size)
        return KV_EINVAL;
    memcpy(dst, src, n);
    memset((unsigned char *)dst + n, 0, dst_size - n);
    memcpy(dst, &filled, sizeof filled); /* every sized struct starts with its size */
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                 */
/* ---------------------------------------------------------------------- */

static void table_from_header(kv_t *kv, const kv_geometry_t *g)
{
    kv__table_init(&kv->table, kv->hdr, g, kv->hdr->hash_seed);
    kv->table.checked = (kv->hdr->flags & KV_STORE_CHECKED) != 0;
}

/* Writes a new store into an empty object this process holds alone.  The
 * object reads as zeros, which is an empty table and an idle journal; the
 * magic is written last, so a creator that dies part way leaves something
 * no one will take for a store. */
static int store_format(kv_t *kv, const kv_geometry_t *g)
{
    void *addr;
    kv_header_t *h;
    int rc = kv__os_object_reserve(kv->obj, g->total_size);
    if (!rc)
        rc = kv__os_object_map(kv->obj, g->total_size, &addr);
    if (rc)
        return rc;
    h = kv->hdr = addr;
    h->layout_version = KV_LAYOUT_VERSION;
    h->byte_order = KV_BYTE_ORDER_MARK;
    h->header_size = (uint16_t)g->header_size;
    h->slot_size = KV_SLOT_SIZE;
    h->slot_count = g->slot_count;
    h->key_max = g->key_max;
    h->val_max = g->val_max;
    h->hash_seed = kv__os_random64();
    h->total_size = g->total_size;
    h->lock_abi = kv__os_mutex_abi();
    /* Only a file survives a power loss, so only a file store pays for
     * checks (a hash of every written entry). */
    h->flags = (kv->cache ? KV_STORE_CACHE : 0) | (kv->file ? KV_STORE_CHECKED : 0);
    h->identity_check = kv__validate_identity(h);
    rc = kv__os_mutex_init(kv->obj);
    if (rc)
        return rc;
    kv->object_size = g->total_size;
    table_from_header(kv, g);
    kv__alloc_format(&kv->table);
    atomic_signal_fence(memory_order_seq_cst);
    h->magic = KV_MAGIC;
    return 0;
}

/* A checked store is marked in use, durably, before anything changes it:
 * a power loss from now on leaves clean 0, and a scan at the next open. */
static int mark_in_use(kv_t *kv)
{
    kv->hdr->clean = 0;
    return kv__os_object_flush(kv->obj);
}

/* The last process to close a checked store makes every page durable, then
 * says so (durably too), so the next opener need not scan it. */
static void mark_clean_if_last(kv_t *kv)
{
    if (!kv->table.checked || !kv__os_object_last_one(kv->obj) ||
        kv__os_object_flush(kv->obj) != 0)
        return;
    kv->hdr->clean = 1;
    (void)kv__os_object_flush(kv->obj); /* if this fails, the next open scans */
}

/* Disarms every wait word: a process that attaches alone knows no one
 * sleeps on them, so sleepers killed while armed cost no wake at all. */
static void disarm_all(kv_t *kv)
{
    atomic_store_explicit(&kv->hdr->wake_pending, 0, memory_order_relaxed);
    for (uint32_t w = 0; w < KV_WAIT_WORDS; w++)
        atomic_store_explicit(&kv->table.waits->word[w].armed, 0, memory_order_relaxed);
}

/* Alone with an existing store: no process is inside the mutex, whatever its
 * bytes say (a holder that died, a file-backed store from before a reboot).
 * Repair if the last holder died mid-operation, then format a fresh mutex,
 * which makes the lock area this OS layer's (lock_abi says so). */
static int store_repair_alone(kv_t *kv)
{
    kv_header_t *h = kv->hdr;
    int rc = 0;
    if (atomic_load_explicit(&h->holder_pid, memory_order_relaxed) != 0 || kv__journal_busy(h) ||
        (kv->table.checked && !h->clean)) {
        rc = kv__journal_recover(&kv->table, h);
        /* The repair is done, but the holder mark (and in a checked store
         * clean, still 0) says otherwise until mark_in_use: an opener
         * killed here leaves the next one to repeat it, which finds nothing
         * left to mend and counts a second recovery. */
        KV_CRASH_POINT();
    }
    atomic_store_explicit(&h->holder_pid, 0, memory_order_relaxed);
    disarm_all(kv); /* nobody else is here, so nobody sleeps */
    if (rc || (rc = kv__os_mutex_init(kv->obj)) != 0)
        return rc;
    h->lock_abi = kv__os_mutex_abi();
    return kv->table.checked ? mark_in_use(kv) : 0;
}

static int store_attach_existing(kv_t *kv, uint64_t size, int alone)
{
    kv_geometry_t g;
    void *addr;
    int rc = kv__os_object_map(kv->obj, size, &addr);
    if (rc)
        return rc;
    kv->hdr = addr;
    kv->object_size = size;
    /* Only the lock area's format depends on the platform (os.h); the rest
     * of a store is the same everywhere.  Alone, the lock area is about to
     * be formatted afresh, so a store whose lock area another layer or ABI
     * formatted (a file last used on Windows, or the other way round) is
     * adopted; not alone, such a store is in use by processes whose lock we
     * cannot take, and validation refuses it (KV_EVERSION). */
    rc = kv__validate_header(kv->hdr, size, alone ? VALIDATE_ANY_LOCK_ABI : kv__os_mutex_abi(), &g);
    if (rc)
        return rc;
    table_from_header(kv, &g);
    kv->cache = (kv->hdr->flags & KV_STORE_CACHE) != 0;
    return alone ? store_repair_alone(kv) : 0;
}

/* The OS layer's open flags for kv_open's flags and name. */
static unsigned open_flags(const char *name, unsigned flags)
{
    return (kv__validate_name_is_path(name) ? OS_OPEN_FILE : 0u) |
           ((flags & KV_RDWR) ? 0u : OS_OPEN_READ) |
           ((flags & KV_CREATE) ? OS_OPEN_CREATE : 0u) | ((flags & KV_EXCL) ? OS_OPEN_EXCL : 0u);
}

/* store_attach's answer for "look again shortly": an unformatted object
 * that another process has open may be a creator's at work. */
#define STORE_RETRY 1

/* A store in an object this call created (or, alone, re-creates), then
 * given its name: no other process ever sees it unformatted. */
static int store_create(kv_t *kv, unsigned flags, const kv_geometry_t *want)
{
    int rc = store_format(kv, want);
    if (rc == 0 && (rc = kv__os_object_publish(kv->obj)) == KV_EEXIST && !(flags & KV_EXCL))
        rc = STORE_RETRY; /* another creator won the name: attach to theirs */
    /* Only once the name is ours: a loser formatted a store no one will see. */
    kv->created = rc == 0;
    return rc;
}

/* Why a store was refused with KV_EVERSION, and what to do about it. */
static void explain_version(const kv_header_t *h, const char *name, os_why_t *why)
{
    if (h->layout_version != KV_LAYOUT_VERSION)
        kv__why(why, "%s is a kv store of layout version %u; this kv reads layout %u. Carry "
                "its data over with the kvcli that made it (kvcli dump %s > FILE), then load "
                "it into a new store with this one (kvcli load NEW < FILE)", name,
                (unsigned)h->layout_version, (unsigned)KV_LAYOUT_VERSION, name);
    else if (h->byte_order != KV_BYTE_ORDER_MARK)
        kv__why(why, "%s was made on a machine of the other byte order", name);
    else
        kv__why(why, "%s is in use by processes of another platform or C library (its lock "
                "is theirs): attach once they have all closed it", name);
}

/* The rules for an object that exists (kv.h, kv_open): another user's
 * store only when asked for, a store as it is, an unformatted object
 * re-created only by its owner alone with it — the creation race it is left
 * by is between one user's processes — and nothing else at all. */
static int store_existing(kv_t *kv, const char *name, unsigned flags, const os_found_t *found,
                          const kv_geometry_t *want, os_why_t *why)
{
    void *head = NULL;
    int rc;
    if (found->size && (rc = kv__os_object_map(kv->obj, found->size, &head)) != 0)
        return rc;
    if (!kv__validate_unformatted(head, found->size)) {
        if (found->owner != OS_OWNER_OTHER || (flags & KV_ANY_OWNER)) {
            rc = store_attach_existing(kv, found->size, found->alone);
            if (rc == KV_EVERSION)
                explain_version(kv->hdr, name, why);
            return rc;
        }
        kv__why(why, "%s is owned by %s: open it with KV_ANY_OWNER (kvcli --any-owner) to "
                "use another user's store", name, found->owner_name);
        return KV_EPERM;
    }
    if (!found->alone)
        return STORE_RETRY;
    if ((flags & KV_CREATE) && found->owner == OS_OWNER_SELF && !found->wider)
        return store_create(kv, flags, want);
    kv__why(why, "%s holds no store (%llu bytes, unformatted) and is owned by %s%s: kv "
            "re-creates only its caller's own, with no more permissions than asked", name,
            (unsigned long long)found->size, found->owner_name,
            found->wider ? " with wider permissions" : "");
    return KV_ECORRUPT;
}

/* Opens the object until it is a store this handle can use, made by this
 * call or found. */
static int store_attach(kv_t *kv, const char *name, unsigned flags, const kv_options_t *opts,
                        const kv_geometry_t *want, os_why_t *why)
{
    unsigned os_flags = open_flags(name, flags);
    for (int attempt = 0;; attempt++) {
        os_found_t found;
        int rc = kv__os_object_open(name, os_flags, opts->mode, opts->lock_timeout_ms, &kv->obj,
                                    &found, why);
        if (rc)
            return rc;
        rc = found.created ? store_create(kv, flags, want)
                           : store_existing(kv, name, flags, &found, want, why);
        if (rc == 0)
            return kv__os_object_share(kv->obj);
        if (found.created)
            kv__os_object_discard(kv->obj); /* e.g. KV_ENOSPC: leave nothing behind */
        else
            kv__os_object_close(kv->obj);
        kv->obj = NULL;
        if (rc != STORE_RETRY)
            return rc;
        if (attempt >= EMPTY_OBJECT_RETRIES) {
            kv__why(why, "%s holds no store yet and another process has it open", name);
            return KV_ECORRUPT;
        }
        os_flags &= ~(unsigned)OS_OPEN_EXCL;
        kv__os_sleep_ms(1);
    }
}

int kv_open(kv_t **out, const char *name, unsigned flags, const kv_options_t *caller_opts)
{
    kv_options_t options, *opts = &options;
    kv_geometry_t want = { 0 };
    os_why_t why = { NULL, 0 };
    kv_t *kv;
    int rc;
    if (!out || !name || (flags & ~KV_ALL_OPEN_FLAGS) ||
        ((flags & KV_EXCL) && !(flags & KV_CREATE)) ||
        ((flags & KV_CREATE) && !(flags & KV_RDWR)))
        return KV_EINVAL;
    *out = NULL;
    if ((rc = options_read(caller_opts, opts)) != 0)
        return rc;
    why.buf = opts->error;
    why.cap = opts->error_cap;
    kv__why(&why, "%s", "");
    if ((rc = kv__validate_name(name)) != 0)
        return rc;
    if (opts->mode & ~07777u)
        return KV_EINVAL;
    if ((flags & KV_CREATE) &&
        (rc = kv__validate_options(opts->memory, opts->slots, opts->key_max, opts->val_max,
                                   &want)) != 0)
        return rc;
    if (!(kv = calloc(1, sizeof *kv)))
        return KV_ENOMEM;
    atomic_init(&kv->timeout_ms, opts->lock_timeout_ms);
    kv->pid = kv__os_pid();
    kv->forks = atomic_load_explicit(&kv__os_forks, memory_order_relaxed);
    kv->writable = (flags & KV_RDWR) != 0;
    kv->optimistic = !kv->writable || (flags & KV_OPTIMISTIC);
    kv->file = kv__validate_name_is_path(name);
    kv->cache = (flags & KV_CACHE) != 0; /* for a store this call creates */
    if ((rc = store_attach(kv, name, flags, opts, &want, &why)) != 0) {
        kv_close(kv);
        return rc;
    }
    *out = kv;
    return 0;
}

int kv_created(const kv_t *kv)
{
    return kv ? kv->created : 0;
}

/* A closing handle's counted gets go into the store, if the lock comes
 * soon: a close must not hang on a stuck lock for statistics. */
#define CLOSE_FOLD_WAIT_MS 100u

static void fold_at_close(kv_t *kv)
{
    store_hold_t hold;
    uint32_t wait = kv__store_timeout(kv);
    if ((!kv->hits && !kv->misses && !atomic_load(&kv->optimistic_hits) &&
         !atomic_load(&kv->optimistic_misses)) ||
        kv__store_lock_within(kv, &hold, wait < CLOSE_FOLD_WAIT_MS ? wait : CLOSE_FOLD_WAIT_MS))
        return;
    kv__store_fold(kv);
    kv__store_unlock(kv, &hold);
}

int kv_close(kv_t *kv)
{
    /* Both touch the mapping: not in a child after fork() (it is the
     * parent's handle), nor past the end of a store someone truncated. */
    if (kv && kv->writable && kv->obj && kv->hdr && kv__store_check_fork(kv) == 0 &&
        kv__store_intact(kv)) {
        fold_at_close(kv);
        mark_clean_if_last(kv);
    }
    if (kv) {
        kv__os_object_close(kv->obj);
        free(kv);
    }
    return 0;
}

/* kv_unlink removes a store, or an unformatted object its caller owns
 * (what a creator of an older kv, or a hand, left); anything else at the
 * name is not kv's to delete. */
static int may_remove(os_object_t *obj, const os_found_t *found)
{
    uint64_t magic;
    void *head;
    if (found->size == 0)
        return found->owner == OS_OWNER_SELF;
    if (kv__os_object_map(obj, found->size, &head) != 0)
        return 0;
    memcpy(&magic, head, found->size < sizeof magic ? (size_t)found->size : sizeof magic);
    if (found->size >= sizeof magic && magic == KV_MAGIC)
        return 1; /* a store, perhaps truncated: still the caller's to remove */
    return kv__validate_unformatted(head, found->size) && found->owner == OS_OWNER_SELF;
}

int kv_unlink(const char *name)
{
    os_object_t *obj;
    os_found_t found;
    int rc;
    if (!name)
        return KV_EINVAL;
    if ((rc = kv__validate_name(name)) != 0)
        return rc;
    rc = kv__os_object_open(name, open_flags(name, 0) | OS_OPEN_PROBE, 0600, 0, &obj, &found,
                            NULL);
    if (rc)
        return rc;
    rc = may_remove(obj, &found) ? kv__os_object_remove(obj) : KV_ECORRUPT;
    kv__os_object_close(obj);
    return rc;
}

int kv_info_size(const kv_t *kv, kv_info_t *info, size_t size)
{
    kv_info_t i;
    if (!kv || !info)
        return KV_EINVAL;
    memset(&i, 0, sizeof i);
    i.slots = kv->table.geo.slot_count;
    i.key_max = kv->table.geo.key_max;
    i.val_max = kv->table.geo.val_max;
    i.total_bytes = kv->table.geo.total_size;
    return kv__store_sized_out(info, size, &i, sizeof i, INFO_V1_SIZE);
}

int kv_set_timeout(kv_t *kv, uint32_t ms)
{
    if (!kv)
        return KV_EINVAL;
    atomic_store_explicit(&kv->timeout_ms, ms, memory_order_relaxed);
    return 0;
}

int kv_flush(kv_t *kv)
{
    int rc;
    if (!kv)
        return KV_EINVAL;
    return (rc = kv__store_check_fork(kv)) != 0 ? rc : kv__os_object_flush(kv->obj);
}

int kv__store_check_key(const kv_t *kv, const void *key, size_t key_len)
{
    if (!kv || !key || key_len == 0)
        return KV_EINVAL;
    return key_len > kv->table.geo.key_max ? KV_ETOOBIG : 0;
}

void kv__store_copy_out(void *dst, const unsigned char *src, size_t n)
{
    if (n) /* memcpy must not see a NULL dst, even for 0 bytes */
        memcpy(dst, src, n);
}
