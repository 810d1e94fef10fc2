/*
 * os.h — the only seam between kv's portable core and the operating system.
 *
 * The core (layout, hashing, table, journal, store) never includes an OS
 * header; everything it needs from the system goes through these functions,
 * implemented once per platform (posix/os_posix.c, win32/os_win32.c).
 *
 * Two locks are involved and they must not be confused:
 *   - the *attach lock* (kv__os_object_*) is held shared by every process that has
 *     the store open; a process that gets it exclusively knows nobody else is
 *     attached, so it may create the block or reset the mutex (see store.c);
 *   - the *store mutex* (kv__os_mutex_*: in the header's lock area on POSIX,
 *     a named kernel mutex on Win32) serialises every operation on slots; it is robust: when its holder dies
 *     the next locker is told so (OS_LOCK_OWNER_DIED) and repairs the store.
 */
#ifndef KV_OS_H
#define KV_OS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct os_object os_object_t; /* an open store object: fd/handle + mapping */

/* Flags of kv__os_object_open() and kv__os_object_unlink().  The core
 * decides once (kv__validate_name_is_path) whether a name is a file path, so
 * no OS layer re-derives that rule. */
enum {
    OS_OPEN_CREATE = 1u << 0, /* create the object if it does not exist */
    OS_OPEN_EXCL   = 1u << 1, /* with OS_OPEN_CREATE: KV_EEXIST if it exists */
    OS_OPEN_FILE   = 1u << 2, /* `name` is a file path, else a named-memory name */
    OS_OPEN_PROBE  = 1u << 3, /* only to look at it (kv_unlink): no attach lock */
    OS_OPEN_READ   = 1u << 4  /* read-only: opened and mapped for reading alone,
                               * so read permission suffices and no store
                               * byte can be written through it; the attach
                               * lock is taken shared (never alone), and no
                               * mutex call is made on such an object (one
                               * that is made all the same is refused with
                               * KV_ERDONLY, never a fault).  Never with
                               * OS_OPEN_CREATE (KV_EINVAL) */
};

/* Who owns an existing object: the core lets a caller attach to another
 * user's store only when asked to (KV_ANY_OWNER). */
enum { OS_OWNER_SELF = 0, OS_OWNER_ROOT = 1, OS_OWNER_OTHER = 2 };

/* What kv__os_object_open() found. */
typedef struct os_found {
    uint64_t size; /* bytes now; 0 for an object this call created */
    int alone;     /* the attach lock is held exclusively: no other process
                    * has the object open */
    int created;   /* this call made the object.  Only such an object is
                    * formatted without question, and only it is removed
                    * when creation fails (kv__os_object_discard) */
    int owner;     /* OS_OWNER_* of an existing object */
    int wider;     /* an existing object grants more permissions than `mode` */
    char owner_name[64]; /* "nobody (uid 65534)", for messages */
} os_found_t;

/* A caller's buffer for one line that explains a refusal: which path
 * component, whose object, of what type (kv_options_t.error). */
typedef struct os_why {
    char *buf;
    size_t cap;
} os_why_t;

/* Writes the explanation (when why has a buffer); the core's, in errors.c,
 * for every layer. */
void kv__why(os_why_t *why, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Opens (and with OS_OPEN_CREATE, creates) the object behind `name`: named
 * memory, or with OS_OPEN_FILE a file path.  A file path's directories are
 * walked one by one, following a symlink only when the caller or root owns
 * it (fs.protected_symlinks' rule for every component); the last component
 * is never a symlink.  Anything but a regular file is refused (KV_ECORRUPT,
 * naming its type and owner in *why) and left as it is.
 * An object that does not exist is created with exactly `mode`; where the
 * system allows, it has no name until kv__os_object_publish(), so no other
 * process can see it half made, and a creator killed before then leaves
 * nothing behind.
 * Takes the attach lock (not with OS_OPEN_PROBE): held exclusively (found->
 * alone) when no other process has the object open, else shared; a
 * process that creates the object always has it alone.  Waits at most
 * timeout_ms for another process's exclusive hold (KV_ETIMEDOUT).
 * The name has already been validated by the core. */
int kv__os_object_open(const char *name, unsigned flags, uint32_t mode, uint32_t timeout_ms,
                       os_object_t **out, os_found_t *found, os_why_t *why);

/* Gives an object this call created its name, once the core has formatted
 * it: atomically, so no other process ever opens it unformatted (Linux:
 * linkat of the O_TMPFILE inode).  Does nothing for an object that had its
 * name from the start.  KV_EEXIST when another process took the name
 * first: the caller discards this object and attaches to that one. */
int kv__os_object_publish(os_object_t *obj);

/* Closes an object this call created after a failed creation, removing its
 * name if it has one (and it still names this object). */
void kv__os_object_discard(os_object_t *obj);

/* Removes the name of an object opened with OS_OPEN_PROBE, if it still
 * names that object (kv_unlink, after the core decided it may go). */
int kv__os_object_remove(os_object_t *obj);

/* The object's size now: another process with write permission may have
 * truncated it since it was opened. */
int kv__os_object_size(os_object_t *obj, uint64_t *size);

/* Makes the object `size` bytes of zeros with all of its backing store
 * reserved now (posix_fallocate / SetEndOfFile), so that running out of
 * room fails here (KV_ENOSPC), never later with SIGBUS.  Whatever the
 * object held before is gone (an unformatted object re-created in place).
 * Only called while attached alone (KV_ERDONLY on a read-only object). */
int kv__os_object_reserve(os_object_t *obj, uint64_t size);

/* Maps `size` bytes of the object (read-write, or read-only for an object
 * opened with OS_OPEN_READ) and returns the address. */
int kv__os_object_map(os_object_t *obj, uint64_t size, void **addr);

/* Turns an exclusive attach lock into a shared one once the store is ready
 * for others. */
int kv__os_object_share(os_object_t *obj);

/* Writes the mapping to its backing file and waits (msync); no-op for named
 * memory.  Through a read-only object Windows cannot wait for the disk's
 * cache (FlushFileBuffers needs write access): the pages are written, no
 * more. */
int kv__os_object_flush(os_object_t *obj);

/* For a closing handle only: 1 if the attach lock could be taken
 * exclusively at once, so no other process has the object open and none
 * can open it before this one closes; else 0 (always for a read-only
 * object, which is never alone).  Either way this handle's attach lock may
 * be gone (a conversion is not atomic): close it next. */
int kv__os_object_last_one(os_object_t *obj);

/* Unmaps, releases the attach lock and closes.  NULL is accepted. */
void kv__os_object_close(os_object_t *obj);

/* ---- the store mutex ---------------------------------------------------- */

/* Every call below takes the object the core opened: the OS layer finds its
 * mutex, and whatever it keeps beside it, from there (POSIX: the header's
 * lock area in the object's mapping; Win32: kernel handles held in the
 * object), so no layer needs a table from addresses back to objects.  The
 * object must be mapped (kv__os_object_map) before any of them is called. */

/* Results of kv__os_mutex_trylock() and kv__os_mutex_lock() besides negative
 * KV_E* codes. */
enum { OS_LOCK_OK = 0, OS_LOCK_OWNER_DIED = 1, OS_LOCK_BUSY = 2 };

/* A code naming the lock area's format on this platform (its ABI), stored in
 * the header so a process whose mutex layout differs refuses to attach.
 * Never 0 (VALIDATE_ANY_LOCK_ABI). */
uint32_t kv__os_mutex_abi(void);

/* Formats a fresh, unlocked, process-shared robust mutex in the header's
 * lock area (KV_LOCK_AREA bytes).  Only called while attached alone.
 *
 * On a read-only object init, trylock and lock return KV_ERDONLY, and
 * unlock and consistent do nothing: it may not write the lock. */
int kv__os_mutex_init(os_object_t *obj);

/* Locks if the mutex is free, without waiting and without a system call.
 * Returns OS_LOCK_OK, OS_LOCK_OWNER_DIED (locked, but the previous holder
 * died holding it: the caller must repair and then call
 * kv__os_mutex_consistent), OS_LOCK_BUSY, or KV_ECORRUPT when the mutex is
 * unusable. */
int kv__os_mutex_trylock(os_object_t *obj);

/* Locks, waiting at most timeout_ms (> 0): spins briefly, then sleeps in the
 * kernel.  Returns as kv__os_mutex_trylock(), with KV_ETIMEDOUT for BUSY. */
int kv__os_mutex_lock(os_object_t *obj, uint32_t timeout_ms);

/* Marks a mutex whose owner died as usable again (after repair). */
void kv__os_mutex_consistent(os_object_t *obj);

void kv__os_mutex_unlock(os_object_t *obj);

/* ---- waiting for a change --------------------------------------------- */

/* Sleeps while the 32-bit word at `word` (in obj's mapping) still holds
 * `expected`, at most timeout_ms; the check and the sleep are one atomic
 * step, so a change made before the sleep is never missed.  Works across
 * processes.  Returns 0 (woken, or the word differed: the caller rechecks),
 * KV_ETIMEDOUT, or KV_EINTR (a signal handler ran meanwhile: the caller
 * returns, so a handler that sets a flag is seen at once).  Through a
 * read-only object, which may not write the mapping, the sleep is uncounted
 * (Windows looks at the word every millisecond or so; POSIX sleeps on the
 * futex), so no writer knows to wake it: notify.c keeps such naps short. */
int kv__os_wait(os_object_t *obj, _Atomic uint32_t *word, uint32_t expected,
                uint32_t timeout_ms);

/* Wakes every process sleeping in kv__os_wait on obj's `word`.  Windows
 * ignores a call through a read-only object (only writers wake). */
void kv__os_wake_all(os_object_t *obj, _Atomic uint32_t *word);

/* ---- small services --------------------------------------------------- */

uint32_t kv__os_pid(void);          /* this process's id */

/* How many fork()s separate this process from the one that loaded kv:
 * bumped in the child by a fork handler that the first kv__os_object_open
 * registers (pthread_atfork).  A handle keeps the value it was opened with,
 * so a use in a child after fork() is caught with one load.  Always 0 on
 * Windows, which has no fork(). */
extern _Atomic uint32_t kv__os_forks;
uint64_t kv__os_clock_ms(void);     /* wall clock, ms since the Unix epoch (0 before it); cheap */
uint64_t kv__os_monotonic_ms(void); /* a clock that never jumps, for timeouts */
uint64_t kv__os_random64(void);     /* unpredictable 64 bits (getrandom, else time+pid) */
void     kv__os_sleep_ms(uint32_t ms);

#endif /* KV_OS_H */
