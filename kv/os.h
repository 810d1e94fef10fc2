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

/* Results of kv__os_object_open() besides negative KV_E* codes. */
enum { OS_ATTACH_SHARED = 0, OS_ATTACH_ALONE = 1 };

/* Flags of kv__os_object_open() and kv__os_object_unlink().  The core
 * decides once (kv__validate_name_is_path) whether a name is a file path, so
 * no OS layer re-derives that rule. */
enum {
    OS_OPEN_CREATE = 1u << 0, /* create the object if it does not exist */
    OS_OPEN_EXCL   = 1u << 1, /* with OS_OPEN_CREATE: KV_EEXIST if it exists */
    OS_OPEN_FILE   = 1u << 2  /* `name` is a file path, else a named-memory name */
};

/* Opens (and with OS_OPEN_CREATE, creates) the object behind `name`: named
 * memory, or with OS_OPEN_FILE a file path (never following a symlink at the
 * last component, refusing anything but a regular file).  New objects get
 * exactly `mode`.
 * Takes the attach lock: returns OS_ATTACH_ALONE holding it exclusively when
 * no other process has the object open, else OS_ATTACH_SHARED holding it
 * shared; a process that creates the object always gets it alone.  Waits at
 * most timeout_ms for another process's exclusive hold (KV_ETIMEDOUT).
 * *size gets the object's current size (0 for a new one).
 * The name has already been validated by the core. */
int kv__os_object_open(const char *name, unsigned flags, uint32_t mode, uint32_t timeout_ms,
                       os_object_t **out, uint64_t *size);

/* Reserves `size` bytes of backing store for a new object (posix_fallocate /
 * SetEndOfFile) so that running out of room fails here (KV_ENOSPC), never
 * later with SIGBUS.  Only called while attached alone. */
int kv__os_object_reserve(os_object_t *obj, uint64_t size);

/* Maps `size` bytes of the object read-write and returns the address. */
int kv__os_object_map(os_object_t *obj, uint64_t size, void **addr);

/* Turns an exclusive attach lock into a shared one (OS_ATTACH_ALONE ->
 * OS_ATTACH_SHARED) once the store is ready for others. */
int kv__os_object_share(os_object_t *obj);

/* Writes the mapping to its backing file and waits (msync); no-op for named
 * memory. */
int kv__os_object_flush(os_object_t *obj);

/* Unmaps, releases the attach lock and closes.  NULL is accepted. */
void kv__os_object_close(os_object_t *obj);

/* Removes the object's name (shm_unlink / unlink); `flags` is OS_OPEN_FILE
 * for a file path, else 0. */
int kv__os_object_unlink(const char *name, unsigned flags);

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
 * lock area (KV_LOCK_AREA bytes).  Only called while attached alone. */
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
 * returns, so a handler that sets a flag is seen at once). */
int kv__os_wait(os_object_t *obj, _Atomic uint32_t *word, uint32_t expected,
                uint32_t timeout_ms);

/* Wakes every process sleeping in kv__os_wait on obj's `word`. */
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
