/*
 * kv.h — a key-value store inside a named shared-memory mapping.
 *
 * Every process on the machine that opens a store by the same name shares the
 * same keyed data: a fixed-size open-addressing hash table that lives in the
 * mapped block, serialised by one process-shared, robust mutex kept in the
 * block's header.  There is no server.  A process may be killed at any
 * instruction: the next process to take the lock repairs the store, so every
 * operation that returned success stays, and an interrupted one is either
 * wholly applied or not at all.
 *
 * This header is the whole public surface.  Conventions:
 *   - Every function returns 0 on success or a negative KV_E* code;
 *     kv_strerror() turns a code into a message.  Outputs go through pointers.
 *   - Keys and values are byte strings (they may contain NUL).  Keys are
 *     1..key_max bytes, values 0..val_max bytes, limits fixed at creation.
 *   - No function returns a pointer into the shared mapping: reads copy the
 *     value out while the lock is held, so no reader can see a torn value.
 *   - Thread and process safety: a kv_t handle may be used from several
 *     threads of one process at once; any number of processes may open the
 *     same store.  Every operation that touches slots takes the store's
 *     lock, waiting at most the handle's lock timeout (KV_ETIMEDOUT).
 *   - fork(): a handle belongs to the process that opened it.  In a child
 *     after fork() every call on an inherited handle but kv_close(),
 *     kv_info() and kv_set_timeout() fails with KV_EFORKED (detected by a
 *     counter that a fork handler bumps, at no cost to other calls); open a
 *     new handle there.
 *   - Structs that may grow (kv_options_t, kv_info_t, kv_stats_t) start with
 *     their size, filled in by the macros kv_options_init(), kv_info() and
 *     kv_stats() from the caller's sizeof, so a program built against an
 *     older kv.h keeps working with a newer shared library.
 */
#ifndef KV_H
#define KV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* KV_API marks exported functions; define KV_STATIC when linking the static
 * library on Windows, KV_BUILDING while building the DLL itself. */
#if defined(_WIN32) && !defined(KV_STATIC)
#  ifdef KV_BUILDING
#    define KV_API __declspec(dllexport)
#  else
#    define KV_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define KV_API __attribute__((visibility("default")))
#else
#  define KV_API
#endif

/* The library's version: the only place it is written (CMakeLists.txt reads
 * it from here for the project, the shared library and kv.pc). */
#define KV_VERSION_MAJOR 0
#define KV_VERSION_MINOR 1
#define KV_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Error codes                                                              */
/* ------------------------------------------------------------------------ */

#define KV_OK          0   /* success */
#define KV_ENOTFOUND  (-1) /* the key is not in the store */
#define KV_EINVAL     (-2) /* an argument is invalid (empty key, NULL, bad option) */
#define KV_ETOOBIG    (-3) /* key or value longer than the store's limits */
#define KV_EFULL      (-4) /* no free slot left in the table; nothing was changed */
#define KV_EEXIST     (-5) /* key exists (KV_NOREPLACE) or store exists (KV_EXCL) */
#define KV_ERANGE     (-6) /* caller's buffer too small; the needed size is reported */
#define KV_ETIMEDOUT  (-7) /* the store's lock was not acquired within the timeout
                            * (never "nothing changed": see kv_wait) */
#define KV_ECORRUPT   (-8) /* the mapping is not a kv store, or is damaged */
#define KV_EVERSION   (-9) /* a kv store of another layout version or platform ABI */
#define KV_EPERM     (-10) /* no permission to open or create the store */
#define KV_ENOMEM    (-11) /* out of memory in this process */
#define KV_ENOSPC    (-12) /* no room in /dev/shm or on disk to create the store */
#define KV_ENOENT    (-13) /* the store does not exist (open without KV_CREATE) */
#define KV_ENAME     (-14) /* store name too long or has characters not allowed */
#define KV_ERDONLY   (-15) /* the handle was opened without KV_RDWR */
#define KV_EIO       (-16) /* an operating-system call failed unexpectedly */
#define KV_ECONFLICT (-17) /* the entry's version is not the one required */
#define KV_ENOTNUM   (-18) /* kv_incr: the value is not a decimal integer */
#define KV_EOVERFLOW (-19) /* kv_incr: the result does not fit in int64_t */
#define KV_EMFILE    (-20) /* too many open files, in this process or the system */
#define KV_EFORKED   (-21) /* the handle was opened by the parent of this process (fork) */
#define KV_EINTR     (-22) /* kv_wait/kv_watch: a signal handler ran while it slept */
#define KV_ENOROOM   (-23) /* no room left in the data area for the entry (the
                            * store's memory budget); nothing was changed */

/* Returns a static, human-readable message for a KV_E* code (or "unknown
 * error").  Safe to call from any thread. */
KV_API const char *kv_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Opening and closing                                                      */
/* ------------------------------------------------------------------------ */

typedef struct kv kv_t;

/* Flags for kv_open(). */
#define KV_RDWR   0x1u /* allow put/del/clear; without it the handle is read-only */
#define KV_CREATE 0x2u /* create the store if it does not exist */
#define KV_EXCL   0x4u /* with KV_CREATE: fail with KV_EEXIST if it exists */
#define KV_CACHE  0x8u /* with KV_CREATE: a new store is a cache (see below);
                        * ignored when attaching (the store's mode applies) */
#define KV_ANY_OWNER 0x10u /* attach to a store another user (not root) owns */
#define KV_OPTIMISTIC 0x20u /* with KV_RDWR: gets read without the lock (see
                             * "Reading without the lock" below) */

/* Reading without the lock.
 *
 * A handle opened without KV_RDWR is read-only: the store is opened and
 * mapped for reading only (read permission suffices, so a store created
 * with mode 0644 serves other users' readers, and no call through the
 * handle can change a byte of it), and its gets are optimistic: they take
 * no lock and write nothing, so readers on many cores do not slow each
 * other down.  A get reads the entry, then checks that no writer changed
 * it meanwhile (a sequence word per slot, written by writers around each
 * change) and reads again if one did.  It returns a value that some
 * completed or in-flight put wrote in full, never a torn one, and never
 * one older than a put that returned before the get began.  A writer
 * killed in the middle of changing an entry leaves it marked as changing
 * until the next writer's lock repairs the store: a read-only get of that
 * entry waits for that at most the handle's lock timeout, then returns
 * KV_ETIMEDOUT (kv_stats' holder_pid names the dead writer).  Other
 * entries read as usual meanwhile.
 *
 * A writable handle reads under the lock unless opened with KV_OPTIMISTIC,
 * which makes its gets optimistic too, falling back to the lock after a
 * few tries that met a change (the lock also repairs a dead writer's
 * work).  Choose KV_OPTIMISTIC when several processes or threads read the
 * same store at once; without it a get takes the lock, which is as fast
 * for one process alone and serialises readers.
 *
 * What differs for optimistic gets: an expired entry reads as absent but
 * is left for a writer to reclaim; gets through a read-only handle do not
 * set a cache store's CLOCK reference bit, and their hits and misses are
 * counted in the handle only (its kv_stats adds them); a get that returns
 * an error may have written into the caller's buffer.  Through a read-only
 * handle, kv_next, kv_ttl, kv_count and kv_stats read without the lock
 * too; kv_wait and kv_watch poll (a change is seen within
 * KV_READ_ONLY_POLL_MS); kv_check, and every call that writes, return
 * KV_ERDONLY.  A file store opened read-only verifies each entry's check
 * as it reads it, since it cannot tell whether the store was checked
 * after a power loss: a damaged entry is KV_ECORRUPT. */
#define KV_READ_ONLY_POLL_MS 10u

/* Limits on creation options. */
#define KV_NAME_MAX       200u          /* longest plain store name, in bytes */
#define KV_PATH_MAX       4000u         /* longest file-backed store path */
#define KV_SLOTS_MAX      (1ull << 30)  /* most slots in one store */
#define KV_MEMORY_MAX     (1ull << 37)  /* largest store in bytes (the data
                                         * area itself stays below 64 GiB) */
#define KV_KEY_MAX_LIMIT  65535u        /* largest key_max */
#define KV_VAL_MAX_LIMIT  (1u << 30)    /* largest val_max */

/* Options for kv_open().  Call kv_options_init() first, then change fields.
 * Geometry fields are used only when this call creates the store; when it
 * attaches, the store's own geometry applies (see kv_stats). */
typedef struct kv_options {
    uint32_t size;            /* sizeof(kv_options_t) as the caller was built:
                               * set by kv_options_init(), never by hand */
    uint32_t mode;            /* permission bits on creation (default 0600) */
    uint64_t slots;           /* slot count, rounded up to a power of two
                               * (default 0: one per KiB of `memory`, at least
                               * 16; 1024 when memory is 0 too) */
    uint32_t key_max;         /* largest key in bytes (default 64): a limit,
                               * not a reservation */
    uint32_t val_max;         /* largest value in bytes (default 1024): a limit */
    uint32_t lock_timeout_ms; /* lock wait limit for this handle (default 5000) */
    uint32_t error_cap;       /* bytes at `error` (default 0) */
    char *error;              /* if not NULL: a failed kv_open() writes one line
                               * here (NUL-terminated) saying what it refused and
                               * why: a path component, an object's type and
                               * owner; "" when the code says it all */
    uint64_t memory;          /* the store's size in bytes, everything included:
                               * header, slots (128 bytes each) and the data area
                               * that entries too big for their slot live in
                               * (default 0: room for every slot to hold an
                               * entry of key_max + val_max bytes) */
} kv_options_t;

/* Fills the first `size` bytes of *opts with the defaults above and sets
 * opts->size.  Call it through kv_options_init(), which passes the
 * caller's sizeof.  Never fails. */
KV_API void kv_options_init_size(kv_options_t *opts, size_t size);
#define kv_options_init(opts) kv_options_init_size((opts), sizeof *(opts))

/* Opens the store called `name`, creating it when KV_CREATE is given.
 *
 * A name without '/' is named memory (POSIX shm_open, object "/kv.<name>");
 * it holds 1..KV_NAME_MAX characters from [A-Za-z0-9._-] and does not start
 * with '.'.  A name containing '/' is the path of a file-backed store, which
 * survives reboot; kv_flush() makes it durable.
 *
 * Creation reserves the whole block up front, so a full /dev/shm or disk
 * fails here (KV_ENOSPC) rather than with SIGBUS later.  The block is created
 * with exactly opts->mode (not masked by umask).  Attaching checks the whole
 * header (magic, layout version, sizes, limits, byte order, lock ABI) before
 * anything else is read.
 *
 * What is at the name is trusted only as far as kv made it (a planted object
 * is refused with KV_ECORRUPT, KV_EEXIST or KV_EPERM, opts->error naming its
 * type and owner, and left exactly as it was):
 *   - A new block is made unnamed and given its name only once formatted
 *     (O_TMPFILE + linkat where the file system has them, else O_EXCL), so no
 *     other process sees it half made; kv_created() is 1 for exactly the
 *     call whose block took the name.  An existing object that holds no store
 *     (all zero: a creator of another kv version died, or a hand made it) is
 *     re-created only by its owner, alone with it, and only when its mode is
 *     no wider than opts->mode.  Nothing kv did not create is ever removed.
 *   - A store owned by another user (not root) is attached only with
 *     KV_ANY_OWNER; otherwise KV_EPERM.  A store shared by several users
 *     should belong to a group they share, with mode 0660 (or 0640 for
 *     readers that only read), created by its owner.
 *   - In a file-backed path every directory is opened one by one without
 *     following symlinks, except one owned by the caller or by root (at most
 *     40 on the way): fs.protected_symlinks' rule applied to every component.
 *     The last component is never a symlink.
 *   - Whoever may write the block may destroy its data, and may truncate it:
 *     kv detects a shrunken block at attach, in kv_check() and before
 *     repairing a dead holder's work (KV_ECORRUPT), but a process already
 *     using it dies of SIGBUS at its next touch past the new end.  Give write
 *     permission only to users trusted that far.
 *
 * `opts` may be NULL for the defaults; otherwise it must have been filled by
 * kv_options_init().  On success *out holds a new handle; kv_created()
 * tells whether this call created the store.
 *
 * Errors: KV_EINVAL (NULL out/name, unknown flags, KV_EXCL without
 * KV_CREATE, KV_CREATE without KV_RDWR, opts not filled by kv_options_init() or carrying fields this
 * library does not know set to nonzero, mode beyond 07777, slots 0 or >
 * KV_SLOTS_MAX, key_max 0 or > KV_KEY_MAX_LIMIT, val_max >
 * KV_VAL_MAX_LIMIT), KV_ENAME, KV_ENOENT, KV_EEXIST (KV_EXCL), KV_EPERM,
 * KV_ENOSPC, KV_ECORRUPT (not a kv store, truncated, fields out of range),
 * KV_EVERSION, KV_ETIMEDOUT (another process held the store exclusively —
 * creating or repairing it — for longer than opts->lock_timeout_ms),
 * KV_EMFILE (no file descriptor or handle left), KV_ENOMEM, KV_EIO.
 * Thread-safe: any number of threads may open handles at once. */
KV_API int kv_open(kv_t **out, const char *name, unsigned flags, const kv_options_t *opts);

/* Returns 1 if the kv_open() that made `kv` created the store, 0 if it
 * attached to an existing one. */
KV_API int kv_created(const kv_t *kv);

/* Unmaps the store and frees the handle; the store itself stays.  NULL is
 * accepted.  Must not run concurrently with other calls on the same handle.
 * Always returns 0. */
KV_API int kv_close(kv_t *kv);

/* Removes the store's name.  Processes that have it open keep using the
 * block until they close it; a later kv_open() with KV_CREATE makes a new
 * store.  Errors: KV_EINVAL (NULL name), KV_ENAME, KV_ENOENT, KV_EPERM,
 * KV_EIO. */
KV_API int kv_unlink(const char *name);

/* The store's fixed geometry, as this handle validated it at open. */
typedef struct kv_info {
    uint32_t size;        /* bytes of this struct filled (set by kv_info) */
    uint32_t reserved;    /* 0 */
    uint64_t slots;       /* slot count (a power of two) */
    uint32_t key_max;     /* largest key in bytes */
    uint32_t val_max;     /* largest value in bytes */
    uint64_t total_bytes; /* size of the whole mapping */
} kv_info_t;

/* Fills *info without taking the lock: O(1), never blocks, works in a child
 * after fork().  Use it to size buffers for kv_get()/kv_next().  Called
 * through the macro kv_info(), which passes the caller's sizeof.
 * Errors: KV_EINVAL (NULL argument, size smaller than the first kv_info_t).
 * Thread-safe. */
KV_API int kv_info_size(const kv_t *kv, kv_info_t *info, size_t size);
#define kv_info(kv, info) kv_info_size((kv), (info), sizeof *(info))

/* Sets this handle's lock timeout in milliseconds (0 = fail at once if the
 * lock is busy).  Thread-safe. Errors: KV_EINVAL (NULL handle). */
KV_API int kv_set_timeout(kv_t *kv, uint32_t ms);

/* Writes a file-backed store's pages to disk (msync) and waits for it.  For
 * named memory it returns 0 at once.
 *
 * What it promises: once it returns 0, a power loss (or an OS crash) can no
 * longer take back any write acknowledged before it was called.  After a
 * power loss every entry reads as it was at the last kv_flush(), or as a
 * later acknowledged write left it, or is gone — deleted by the scan that
 * the next opener runs on a file store that was not closed cleanly, and
 * counted in kv_stats' `dropped` — but never as bytes it did not hold: every
 * entry of a file store carries a check over its head and bytes, and the
 * scan deletes each entry whose check fails (a write after the flush whose
 * pages reached the disk only in part), mends probe paths and keeps the
 * later of a key found twice.  The last process to close a file store
 * flushes it and marks it clean, so the next opener need not scan.  Named
 * memory does not survive a reboot and carries no checks.
 *
 * Errors: KV_EINVAL (NULL handle), KV_EFORKED, KV_ENOMEM, KV_EIO.
 * Thread-safe. */
KV_API int kv_flush(kv_t *kv);

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

/* Flags for kv_put() and kv_put_opts_t. */
#define KV_NOREPLACE  0x1u /* insert only: fail with KV_EEXIST if the key exists */
#define KV_IF_VERSION 0x2u /* compare-and-swap: write only if the entry's version is
                            * opts->if_version (0: only if the key is absent),
                            * else KV_ECONFLICT */

/* Stores `val` under `key`, replacing any value it had (unless
 * KV_NOREPLACE) and clearing any time-to-live it had.  Once it returns 0 the
 * write survives the death of any process, this one included.
 *
 * Room: an entry of at most 24 key + value bytes lives in its slot; a larger
 * one takes a block of the data area of 16 + key + value bytes rounded up to
 * 16.  A replace writes the new block before it lets go of the old one, so
 * it needs room for both for a moment.  The data area's free space is kept
 * in as few runs as merging neighbours allows, but it can be scattered, so
 * a plain store refuses a write with KV_ENOROOM when no single free run
 * holds its block (kv_stats' data_largest_free says how big the largest is;
 * kv_clear or deletions make room).  A store created without a memory
 * budget has room for every slot's largest entry and one more.
 *
 * Errors: KV_EINVAL (empty key, NULL pointer with nonzero length, unknown
 * flag), KV_ETOOBIG, KV_EFULL (no free slot), KV_ENOROOM (no room in the
 * data area, or a block larger than the whole data area), KV_EEXIST,
 * KV_ERDONLY, KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED.  On any error the
 * store is unchanged (a cache may have evicted entries trying to make room,
 * see below). */
KV_API int kv_put(kv_t *kv, const void *key, size_t key_len,
                  const void *val, size_t val_len, unsigned flags);

/* The longest time-to-live kv_put_ex() accepts (~4,400 years). */
#define KV_TTL_MAX_MS (UINT64_C(1) << 47)

/* The optional part of a write. */
typedef struct kv_put_opts {
    unsigned flags;      /* KV_NOREPLACE, KV_IF_VERSION */
    uint64_t ttl_ms;     /* time to live in ms; 0: never expires */
    uint64_t if_version; /* with KV_IF_VERSION: the version the entry must have */
    uint64_t version;    /* out: the version this write gave the entry */
} kv_put_opts_t;

/* kv_put() with a time-to-live, a version condition, and the new version
 * reported.  `opts` may be NULL (= kv_put with no flags).
 *
 * Expiry is wall-clock time: an absolute deadline in ms since the Unix
 * epoch (CLOCK_REALTIME; on Windows GetSystemTimeAsFileTime, as fine as the
 * timer tick, 1-16 ms), so an entry of a file-backed store still expires at
 * the right moment after a reboot.  What follows from the clock being
 * changeable:
 *   - setting the clock forward expires entries early; setting it back
 *     makes entries outlive their TTL by as much;
 *   - every process judges expiry by its own clock, so one whose clock runs
 *     ahead (a VM not yet synchronised, a clock set by hand) sees, and
 *     reclaims, everyone's entries as expired early;
 *   - a clock before 1970 reads as 1970-01-01 00:00 (0 ms): nothing
 *     expires until it is set right, as with any clock set back;
 *   - kv_watch() sleeps until an entry's deadline by a clock that does not
 *     jump, so an expiry brought forward by a jump is noticed only when the
 *     computed sleep ends (or another change wakes it).
 * An expired entry reads as absent; its slot is reclaimed when a lookup
 * meets it, when an insert needs room, or by kv_purge_expired().
 *
 * Versions: every write gives the entry a new version, larger than any
 * version the store has handed out (it is the store's generation after the
 * write), so a version seen once is never reused, even after delete and
 * re-insert.
 * Errors: those of kv_put(), KV_EINVAL (ttl_ms > KV_TTL_MAX_MS, unknown
 * flag), and KV_ECONFLICT (KV_IF_VERSION failed). */
KV_API int kv_put_ex(kv_t *kv, const void *key, size_t key_len,
                     const void *val, size_t val_len, kv_put_opts_t *opts);

/* Copies the value of `key` into buf[0..cap) and sets *val_len to its
 * length.  If cap is smaller than the value, returns KV_ERANGE, sets
 * *val_len to the size needed and leaves buf untouched.  `buf` may be NULL
 * when cap is 0 (to ask for the size).  `val_len` may be NULL.
 * Errors: KV_ENOTFOUND (also for an expired entry), KV_EINVAL, KV_ETOOBIG
 * (key longer than key_max), KV_ERANGE, KV_ETIMEDOUT, KV_ECORRUPT,
 * KV_EFORKED. */
KV_API int kv_get(kv_t *kv, const void *key, size_t key_len,
                  void *buf, size_t cap, size_t *val_len);

/* What kv_get_ex() reports besides the value. */
typedef struct kv_meta {
    uint64_t version;    /* the entry's version (see kv_put_ex) */
    uint64_t expires_ms; /* wall-clock ms since the epoch it expires at; 0: never */
} kv_meta_t;

/* kv_get() that also fills *meta (which may be NULL); on KV_ERANGE *meta is
 * filled too.  Errors: those of kv_get(). */
KV_API int kv_get_ex(kv_t *kv, const void *key, size_t key_len,
                     void *buf, size_t cap, size_t *val_len, kv_meta_t *meta);

/* Removes `key`.  Errors: KV_ENOTFOUND, KV_EINVAL, KV_ETOOBIG, KV_ERDONLY,
 * KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED. */
KV_API int kv_del(kv_t *kv, const void *key, size_t key_len);

/* Removes `key` only if its version is `version`.  Errors: those of
 * kv_del(), and KV_ECONFLICT (present with another version). */
KV_API int kv_del_if(kv_t *kv, const void *key, size_t key_len, uint64_t version);

/* Adds `delta` to the decimal integer stored under `key` (like Redis
 * INCRBY), creating the key at 0 first when absent, and stores the result
 * back as decimal text.  An existing entry keeps its time-to-live.  *result
 * (may be NULL) gets the new value.  The value must be an optional '-' and
 * 1..19 digits with nothing else.
 * Errors: KV_ENOTNUM (not such an integer), KV_EOVERFLOW (result outside
 * int64_t), KV_ETOOBIG (val_max below 20 bytes), and those of kv_put()
 * (KV_EINVAL, KV_EFULL, KV_ERDONLY, KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED). */
KV_API int kv_incr(kv_t *kv, const void *key, size_t key_len, int64_t delta,
                   int64_t *result);

/* Sets *ttl_ms to the time `key` has left to live in ms, or -1 if it never
 * expires.  Errors: KV_ENOTFOUND (absent or expired), KV_EINVAL, KV_ETOOBIG,
 * KV_ETIMEDOUT, KV_EFORKED, KV_ECORRUPT (also: the entry's expiry lies
 * further ahead than twice KV_TTL_MAX_MS, which only damage produces;
 * kv_check() reports it). */
KV_API int kv_ttl(kv_t *kv, const void *key, size_t key_len, int64_t *ttl_ms);

/* Deletes every expired entry (one O(slots) pass under the lock) and sets
 * *purged (may be NULL) to how many.  Errors: KV_EINVAL, KV_ERDONLY,
 * KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED. */
KV_API int kv_purge_expired(kv_t *kv, uint64_t *purged);

/* Sets *count to the number of keys (entries that expired but have not
 * been reclaimed yet included; kv_purge_expired() first for an exact
 * figure).  Errors: KV_EINVAL, KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED. */
KV_API int kv_count(kv_t *kv, uint64_t *count);

/* Removes every key, as one crash-safe operation: after a crash it is either
 * complete or not begun.  Errors: KV_EINVAL, KV_ERDONLY, KV_ETIMEDOUT,
 * KV_ECORRUPT, KV_EFORKED. */
KV_API int kv_clear(kv_t *kv);

/* ------------------------------------------------------------------------ */
/* Caches                                                                   */
/* ------------------------------------------------------------------------ */

/* A store created with KV_CACHE never answers an insert with KV_EFULL:
 * once 7/8 of its slots are used, an insert of a new key evicts an entry,
 * in the same crash-safe step.  When its data area has no room for a write,
 * it evicts entries by the same CLOCK, one crash-safe step each, until the
 * block fits (KV_ENOROOM only once nothing but the written key is left,
 * and at once for a block larger than the whole data area).  Expired entries go first: one in the new
 * key's probe window (the 16 slots from its home) is simply overwritten.
 * Otherwise CLOCK chooses over the whole table: a get sets the entry's
 * reference bit (in the slot line it already reads, so gets stay one line);
 * the clock hand, kept in the header, passes referenced entries clearing the
 * bit and evicts the first unreferenced one, or an expired one met within
 * 64 entries after it.  A store without KV_CACHE reclaims expired entries
 * for room too, and otherwise returns KV_EFULL. */

/* ------------------------------------------------------------------------ */
/* Change notification                                                      */
/* ------------------------------------------------------------------------ */

/* Sets *generation to the store's generation (bumped by every change),
 * without taking the lock.  Errors: KV_EINVAL, KV_EFORKED.  Thread-safe. */
KV_API int kv_generation(kv_t *kv, uint64_t *generation);

/* Blocks until the store's generation differs from `seen` or timeout_ms
 * passes, and sets *generation (may be NULL) to the current one: the store
 * changed exactly when *generation != seen.  Returns 0 in both cases (a
 * timeout with no change is not an error).  Sleeps in the kernel (a shared
 * futex on a word in the mapping on Linux): no busy waiting, and no change
 * is missed between reading the generation and sleeping.  Every waiter of
 * every process is woken by every change.
 * Signals: when a signal handler runs in the sleeping thread the wait ends
 * with KV_EINTR (*generation set), whatever SA_RESTART says, as poll()
 * does, so a handler that sets a flag is seen at once; loop to wait on.
 * Windows has no such signals: there the wait ends only by a change or the
 * timeout.
 * A change already made is seen without the lock; to sleep, the call
 * takes the store's lock for a moment to count itself among the sleepers
 * (so that writers pay nothing for notification while nobody waits), each
 * wait for it bounded by the handle's lock timeout and by what is left of
 * timeout_ms.  A lock that cannot be had before timeout_ms passes is a
 * timeout like any other (0); one stuck for the handle's whole lock timeout
 * sooner is reported: KV_ETIMEDOUT, *generation set.
 * Errors: KV_EINVAL, KV_EINTR, KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED.
 * Thread-safe. */
KV_API int kv_wait(kv_t *kv, uint64_t seen, uint32_t timeout_ms, uint64_t *generation);

/* Blocks until the version of `key` differs from `seen` (0: absent), i.e.
 * the key was written, deleted or expired, or timeout_ms passes; sets
 * *version (may be NULL) to the current version (0 if absent): the key
 * changed exactly when *version != seen.  Returns 0 in both cases.
 * The key is read under the store's lock, each wait for it bounded by the
 * handle's lock timeout and by what is left of timeout_ms, so the call
 * never outlives timeout_ms (0: read once, without waiting for a busy
 * lock).  If the lock cannot be had in that time the call returns
 * KV_ETIMEDOUT and leaves *version untouched: a stuck lock is reported,
 * never taken for "no change".  Signals end the wait as in kv_wait
 * (KV_EINTR, *version set to what was last read).
 * Errors: KV_EINVAL, KV_ETOOBIG, KV_ETIMEDOUT, KV_ECORRUPT, KV_EINTR,
 * KV_EFORKED. */
KV_API int kv_watch(kv_t *kv, const void *key, size_t key_len, uint64_t seen,
                    uint32_t timeout_ms, uint64_t *version);

/* ------------------------------------------------------------------------ */
/* Iteration                                                                */
/* ------------------------------------------------------------------------ */

/* One entry read by kv_next(): the caller supplies the buffers and their
 * capacities; kv_next() fills the lengths. */
typedef struct kv_entry {
    void  *key;     size_t key_cap; size_t key_len;
    void  *val;     size_t val_cap; size_t val_len;
} kv_entry_t;

/* Reads the next entry at or after *cursor (start with *cursor = 0) and
 * advances *cursor past it.  Returns KV_ENOTFOUND when no entries remain.
 *
 * Iteration is a cursor, not a callback under the lock: each call takes the
 * lock, copies one entry out and lets go, so a slow consumer (a kvcli dump
 * into a stalled pipe) never stalls other processes.  Entries never move
 * between slots (deletion leaves tombstones, see kv_stats), so every key
 * present for the whole iteration is returned exactly once; keys added or
 * removed meanwhile may or may not be.
 * If entry->val is NULL (and val_cap 0) only the key is copied, for listing
 * keys without value-sized buffers; val_len is still set.
 * If a buffer is too small, returns KV_ERANGE with both lengths set and
 * *cursor unchanged.  Errors: KV_EINVAL, KV_ERANGE, KV_ETIMEDOUT,
 * KV_ECORRUPT, KV_EFORKED. */
KV_API int kv_next(kv_t *kv, uint64_t *cursor, kv_entry_t *entry);

/* ------------------------------------------------------------------------ */
/* Inspection                                                               */
/* ------------------------------------------------------------------------ */

typedef struct kv_stats {
    uint32_t size;           /* bytes of this struct filled (set by kv_stats) */
    uint32_t layout_version; /* on-mapping format version */
    uint64_t slots;          /* slot count (a power of two) */
    uint64_t used;           /* slots holding a key */
    uint64_t tombstones;     /* slots freed by deletion, reusable by inserts */
    double   load_factor;    /* used / slots */
    double   avg_probe;      /* mean slots a successful lookup inspects */
    uint64_t max_probe;      /* most slots any successful lookup inspects */
    uint32_t key_max;        /* largest key in bytes */
    uint32_t val_max;        /* largest value in bytes */
    uint64_t total_bytes;    /* size of the whole mapping */
    uint64_t generation;     /* bumped by every change (put, del, clear, recovery) */
    uint64_t recoveries;     /* repairs after a process died holding the lock */
    uint64_t lock_timeouts;  /* lock waits that hit their timeout, all processes */
    uint64_t hits;           /* gets that found their key */
    uint64_t misses;         /* gets that did not (expired entries included).
                              * A get writes no counter of the store: each
                              * handle counts its own and adds them when it
                              * writes, reads stats or closes, so these include
                              * this handle's gets and every other handle's up
                              * to its last write, stats call or close */
    uint64_t expirations;    /* expired entries reclaimed */
    uint64_t evictions;      /* entries evicted to make room (cache stores) */
    uint32_t cache;          /* 1 if the store was created with KV_CACHE */
    uint32_t holder_pid;     /* pid holding the lock when stats was read, else 0 */
    uint64_t holder_since_ms;/* wall-clock ms (since the epoch) when a waiter first
                              * found the lock held by that holder: a lower bound
                              * on how long it has been held.  0 if no one has
                              * waited (the fast path reads no clock). */
    uint64_t data_bytes;     /* size of the data area, where entries too big for
                              * their slot live (the budget less header and slots) */
    uint64_t data_used;      /* bytes of it in use (block heads and rounding to
                              * 16 bytes included) */
    uint64_t data_free;      /* bytes of it free */
    uint64_t data_largest_free; /* the largest free run: key + value bytes up to
                              * this less 16 fit without evicting */
    uint64_t inline_entries; /* entries that live in their slot (key + value
                              * of at most 88 bytes) */
    uint64_t entry_bytes;    /* key + value bytes of every entry */
    uint64_t dropped;        /* damaged entries that recovery deleted */
    uint32_t read_mode;      /* how this handle's gets read: KV_READ_LOCKED,
                              * KV_READ_OPTIMISTIC (KV_OPTIMISTIC) or
                              * KV_READ_ONLY (a read-only handle) */
    uint32_t waits_armed;    /* how many of the store's wait words (one for
                              * kv_wait, 30 shared by kv_watch's keys by
                              * hash) a sleeper has armed since their last
                              * wake: the next change to one of them costs
                              * its writer a wake-up call.  A sleeper killed
                              * while asleep leaves its word armed until the
                              * next such change, never longer */
    uint64_t wakeups;        /* wake-up calls writers made, all processes */
} kv_stats_t;

/* kv_stats_t.read_mode */
#define KV_READ_LOCKED     0u
#define KV_READ_OPTIMISTIC 1u
#define KV_READ_ONLY       2u

/* Fills *st.  Counting probe lengths scans every slot under the lock, so it
 * costs O(slots).  A read-only handle reads everything without the lock:
 * figures of the moments it read them, which may not add up while writers
 * work; its hits and misses are the store's plus its own.  If the lock cannot be taken in time, fills only the
 * fields that need no lock (geometry, layout_version, holder_pid,
 * holder_since_ms, lock_timeouts), zeroes the rest and returns
 * KV_ETIMEDOUT, so a stuck holder can be diagnosed.  Called through the
 * macro kv_stats(), which passes the caller's sizeof.
 * Errors: KV_EINVAL (NULL argument, size smaller than the first
 * kv_stats_t), KV_ETIMEDOUT, KV_ECORRUPT, KV_EFORKED. */
KV_API int kv_stats_size(kv_t *kv, kv_stats_t *st, size_t size);
#define kv_stats(kv, st) kv_stats_size((kv), (st), sizeof *(st))

/* Verifies the header and every slot under the lock.  Writes one line per
 * problem found (at most `cap` bytes, NUL-terminated) into `report`, which
 * may be NULL when cap is 0.  Returns 0 when the store is sound, KV_ECORRUPT otherwise.
 * Errors: KV_ECORRUPT, KV_ETIMEDOUT, KV_EINVAL, KV_EFORKED. */
KV_API int kv_check(kv_t *kv, char *report, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* KV_H */
