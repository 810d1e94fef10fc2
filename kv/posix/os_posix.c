/*
 * os_posix.c — kv's OS layer for Linux with glibc (see os.h).
 *
 * Named memory is a POSIX shared-memory object "/kv.<name>"; a file-backed
 * store is a regular file opened without following a symlink.  Either way
 * the store is one fd mapped MAP_SHARED.
 *
 * The attach lock is flock() on that fd: shared while a handle is open,
 * exclusive while a process creates the store or finds itself alone.  The
 * kernel drops it when a process dies, so "I got it exclusively" proves that
 * no other process has the store mapped.  An OFD record lock on the byte
 * the Windows layer locks (KV_ATTACH_LOCK_OFFSET) goes with it, so that a
 * wine process (whose LockFileEx wine turns into a record lock) and a Linux
 * process on one store file see each other.
 *
 * The store mutex is a pthread mutex with PTHREAD_PROCESS_SHARED and
 * PTHREAD_MUTEX_ROBUST in the header's lock area: when its holder dies the
 * kernel marks it, and the next locker gets EOWNERDEAD.
 *
 * What this file needs beyond POSIX, i.e. what a port to another POSIX
 * system (a BSD, macOS) would replace:
 *   - Linux: the shared futex of kv__os_wait/kv__os_wake_all
 *     (<linux/futex.h>), open file description locks (F_OFD_SETLK) on the
 *     attach byte, getrandom(), shm_open living in /dev/shm (tmpfs, so
 *     posix_fallocate reserves its pages);
 *   - glibc: pthread_mutex_clocklock (2.30) for a lock wait on the monotonic
 *     clock, and the mutex's internal lock word, read while spinning
 *     (looks_free; other C libraries fall back to trylock), robust mutexes
 *     that the kernel's robust list releases when a holder dies;
 *   - the lock area's ABI is glibc's pthread_mutex_t of this architecture
 *     (kv__os_mutex_abi names its size and the pointer width).
 */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"
#include "layout.h"

_Static_assert(sizeof(pthread_mutex_t) <= KV_LOCK_AREA, "mutex fits the lock area");

struct os_object {
    int fd;
    int is_file;     /* file-backed (msync on flush) rather than named memory */
    void *addr;      /* mapping, or NULL */
    uint64_t mapped; /* bytes mapped */
};

/* The store mutex: the header's lock area of the object's mapping. */
static pthread_mutex_t *store_mutex(os_object_t *obj)
{
    return (pthread_mutex_t *)(void *)((kv_header_t *)obj->addr)->lock;
}

/* ---------------------------------------------------------------------- */
/* Errors and names                                                        */
/* ---------------------------------------------------------------------- */

static int from_errno(int e)
{
    switch (e) {
    case ENOENT:       return KV_ENOENT;
    case EEXIST:       return KV_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
    case ELOOP:        return KV_EPERM; /* ELOOP: a symlink where the store should be */
    case ENAMETOOLONG: return KV_ENAME;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:        return KV_ENOSPC;
    case ENOMEM:       return KV_ENOMEM;
    case EMFILE:
    case ENFILE:       return KV_EMFILE;
    case EISDIR:
    case ENXIO:
    case ENODEV:       return KV_ECORRUPT; /* not something a store can live in */
    default:           return KV_EIO;
    }
}

/* "/kv.<name>": the prefix keeps kv's objects apart from other programs'. */
static int shm_name(const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "/kv.%s", name);
    return n > 0 && (size_t)n < cap ? 0 : KV_ENAME;
}

static int open_fd(const char *name, int is_file, int oflags, uint32_t mode)
{
    char shm[KV_NAME_MAX + 8];
    if (is_file)
        /* O_NOFOLLOW: never write through a symlink planted at the path;
         * O_NONBLOCK: a FIFO there must not hang the open. */
        return open(name, oflags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, (mode_t)mode);
    if (shm_name(name, shm, sizeof shm) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return shm_open(shm, oflags, (mode_t)mode);
}

/* ---------------------------------------------------------------------- */
/* Objects                                                                 */
/* ---------------------------------------------------------------------- */

/* Locks the attach byte with an OFD lock (per open file, like flock):
 * F_WRLCK for LOCK_EX, F_RDLCK for LOCK_SH; F_OFD_SETLKW waits. */
static int ofd_lock(int fd, int how, int cmd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = how == LOCK_EX ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)KV_ATTACH_LOCK_OFFSET;
    fl.l_len = 1;
    return fcntl(fd, cmd, &fl);
}

/* Tries flock(how) and the attach byte together, without waiting; on
 * failure neither is held and errno is EWOULDBLOCK when busy. */
static int try_lock(int fd, int how)
{
    int e;
    if (flock(fd, how | LOCK_NB) != 0)
        return -1;
    if (ofd_lock(fd, how, F_OFD_SETLK) == 0)
        return 0;
    e = errno == EACCES ? EWOULDBLOCK : errno; /* a wine process holds the byte */
    flock(fd, LOCK_UN);
    errno = e;
    return -1;
}

/* Takes the attach lock with `how` (LOCK_EX or LOCK_SH), polling so that a
 * process stopped while holding it exclusively cannot hang us. */
static int attach_lock(int fd, int how, uint32_t timeout_ms)
{
    for (uint32_t waited = 0;; waited++) {
        if (try_lock(fd, how) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return from_errno(errno);
        if (waited >= timeout_ms)
            return KV_ETIMEDOUT;
        kv__os_sleep_ms(1);
    }
}

/* Opens the object, creating it if asked (OS_OPEN_*); *created says whether
 * this call made it.  O_EXCL first, so creation is known rather than
 * guessed. */
static int open_object(const char *name, unsigned flags, uint32_t mode, int *created)
{
    int is_file = (flags & OS_OPEN_FILE) != 0, fd;
    *created = 0;
    if (flags & OS_OPEN_CREATE) {
        fd = open_fd(name, is_file, O_RDWR | O_CREAT | O_EXCL, mode);
        if (fd >= 0) {
            *created = 1;
            /* Exactly the asked mode, whatever the umask. */
            if (fchmod(fd, (mode_t)mode) != 0) {
                int e = errno;
                close(fd);
                errno = e;
                return -1;
            }
            return fd;
        }
        if (errno != EEXIST || (flags & OS_OPEN_EXCL))
            return -1;
    }
    return open_fd(name, is_file, O_RDWR, mode);
}

static int check_regular(int fd, int is_file, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return from_errno(errno);
    if (is_file && !S_ISREG(st.st_mode))
        return KV_ECORRUPT;
    if (is_file && fcntl(fd, F_SETFL, 0) != 0) /* back to blocking I/O */
        return from_errno(errno);
    *size = (uint64_t)st.st_size;
    return 0;
}

_Atomic uint32_t kv__os_forks;

static void count_fork(void)
{
    atomic_fetch_add_explicit(&kv__os_forks, 1, memory_order_relaxed);
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, count_fork);
}

int kv__os_object_open(const char *name, unsigned flags, uint32_t mode, uint32_t timeout_ms,
                       os_object_t **out, uint64_t *size)
{
    static pthread_once_t forks_watched = PTHREAD_ONCE_INIT;
    os_object_t *obj;
    int created, rc;
    /* Before any handle exists, so no fork can copy a handle unnoticed. */
    pthread_once(&forks_watched, watch_forks);
    if (!(obj = calloc(1, sizeof *obj)))
        return KV_ENOMEM;
    obj->is_file = (flags & OS_OPEN_FILE) != 0;
    obj->fd = open_object(name, flags, mode, &created);
    if (obj->fd < 0) {
        rc = from_errno(errno);
        free(obj);
        return rc;
    }
    if (created) {
        /* Others may open it before we lock; they see it empty, let go and
         * retry, so waiting for exclusive here ends. */
        rc = attach_lock(obj->fd, LOCK_EX, timeout_ms);
        rc = rc ? rc : OS_ATTACH_ALONE;
    } else if (try_lock(obj->fd, LOCK_EX) == 0) {
        rc = OS_ATTACH_ALONE;
    } else {
        rc = attach_lock(obj->fd, LOCK_SH, timeout_ms);
        rc = rc ? rc : OS_ATTACH_SHARED;
    }
    if (rc >= 0) {
        int sz = check_regular(obj->fd, obj->is_file, size);
        rc = sz ? sz : rc;
    }
    if (rc < 0) {
        kv__os_object_close(obj);
        return rc;
    }
    *out = obj;
    return rc;
}

int kv__os_object_reserve(os_object_t *obj, uint64_t size)
{
    /* posix_fallocate returns the error instead of setting errno.  Unlike
     * ftruncate it allocates every page now, so a full tmpfs or disk fails
     * here and not with SIGBUS on first touch. */
    int e = posix_fallocate(obj->fd, 0, (off_t)size);
    return e ? from_errno(e) : 0;
}

int kv__os_object_map(os_object_t *obj, uint64_t size, void **addr)
{
    void *p;
    if (size != (uint64_t)(size_t)size)
        return KV_ENOMEM; /* larger than this process's address space */
    p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, obj->fd, 0);
    if (p == MAP_FAILED)
        return from_errno(errno);
    if (obj->addr)
        munmap(obj->addr, (size_t)obj->mapped);
    obj->addr = p;
    obj->mapped = size;
    *addr = p;
    return 0;
}

int kv__os_object_share(os_object_t *obj)
{
    /* flock converts by dropping and re-taking, so another process may slip
     * in, find itself alone and reset the mutex meanwhile.  That is harmless:
     * this process touches nothing of the store until the conversion is
     * done, and the conversion waits for the other's exclusive hold. */
    if (flock(obj->fd, LOCK_SH) != 0 || ofd_lock(obj->fd, LOCK_SH, F_OFD_SETLKW) != 0)
        return from_errno(errno);
    return 0;
}

int kv__os_object_flush(os_object_t *obj)
{
    if (!obj->is_file || !obj->addr)
        return 0;
    return msync(obj->addr, (size_t)obj->mapped, MS_SYNC) == 0 ? 0 : from_errno(errno);
}

void kv__os_object_close(os_object_t *obj)
{
    if (!obj)
        return;
    if (obj->addr)
        munmap(obj->addr, (size_t)obj->mapped);
    close(obj->fd); /* also releases the attach lock */
    free(obj);
}

int kv__os_object_unlink(const char *name, unsigned flags)
{
    char shm[KV_NAME_MAX + 8];
    int rc;
    if (flags & OS_OPEN_FILE)
        rc = unlink(name);
    else if (shm_name(name, shm, sizeof shm) != 0)
        return KV_ENAME;
    else
        rc = shm_unlink(shm);
    return rc == 0 ? 0 : from_errno(errno);
}

/* ---------------------------------------------------------------------- */
/* The store mutex                                                         */
/* ---------------------------------------------------------------------- */

uint32_t kv__os_mutex_abi(void)
{
    /* 'P' for pthread, then the pointer width and the mutex size: a 32-bit
     * process lays the same mutex out differently and must not share it. */
    return UINT32_C(0x50000000) | (uint32_t)(sizeof(void *) << 8) |
           (uint32_t)sizeof(pthread_mutex_t);
}

int kv__os_mutex_init(os_object_t *obj)
{
    pthread_mutexattr_t attr;
    int e;
    memset(store_mutex(obj), 0, KV_LOCK_AREA);
    if (pthread_mutexattr_init(&attr) != 0)
        return KV_EIO;
    e = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (!e)
        e = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (!e)
        e = pthread_mutex_init(store_mutex(obj), &attr);
    pthread_mutexattr_destroy(&attr);
    return e ? KV_EIO : 0;
}

/* ThreadSanitizer (gcc 12) does not intercept pthread_mutex_clocklock, so
 * under it every lock taken after a wait would be invisible and reported
 * as races.  The TSan build waits with pthread_mutex_timedlock on the
 * (settable, hence less robust) realtime clock instead. */
#if defined(__SANITIZE_THREAD__)
#  define KV_LOCK_CLOCK CLOCK_REALTIME
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define KV_LOCK_CLOCK CLOCK_REALTIME
#  endif
#endif
#ifndef KV_LOCK_CLOCK
#  define KV_LOCK_CLOCK CLOCK_MONOTONIC
#endif

static void deadline_after(uint32_t ms, struct timespec *ts)
{
    clock_gettime(KV_LOCK_CLOCK, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int lock_result(int e)
{
    switch (e) {
    case 0:          return OS_LOCK_OK;
    case EOWNERDEAD: return OS_LOCK_OWNER_DIED;
    case EBUSY:      return OS_LOCK_BUSY;
    case ETIMEDOUT:  return KV_ETIMEDOUT;
    default:         return KV_ECORRUPT; /* ENOTRECOVERABLE, EINVAL: a damaged lock */
    }
}

static int timed_lock(pthread_mutex_t *m, uint32_t timeout_ms)
{
    struct timespec ts;
    deadline_after(timeout_ms, &ts);
#if KV_LOCK_CLOCK == CLOCK_MONOTONIC
    return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
#else
    return pthread_mutex_timedlock(m, &ts);
#endif
}

int kv__os_mutex_trylock(os_object_t *obj)
{
    return lock_result(pthread_mutex_trylock(store_mutex(obj)));
}

/* Spinning before sleeping.  A critical section lasts tens to hundreds of
 * nanoseconds; a futex sleep and wake-up costs microseconds in both
 * processes, and a strict hand-over per operation moves the lock's cache
 * line between cores every time.  So a waiter watches the lock word with
 * exponential backoff (1, 2, 4 ... SPIN_PAUSE_MAX pauses between looks): the
 * holder meanwhile runs several operations with the line in its own cache,
 * which is what keeps 2 processes' total throughput near 1 process's
 * (kvbench, 90% get / 10% put: 0.9-1.2x with backoff, 0.3x without).
 * SPIN_LIMIT looks bound the spin to ~4,400 pauses (~130 us where a pause
 * is 30 ns), after which a holder that is still busy has probably been
 * preempted and the waiter sleeps in the kernel. */
#define SPIN_LIMIT 24
#define SPIN_PAUSE_MAX 256

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Whether the mutex looks free.  Reading glibc's lock word (test before
 * test-and-set) keeps spinning waiters from bouncing the line with atomic
 * writes; elsewhere every spin is a trylock. */
static int looks_free(pthread_mutex_t *m)
{
#ifdef __GLIBC__
    return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0;
#else
    (void)m;
    return 1;
#endif
}

int kv__os_mutex_lock(os_object_t *obj, uint32_t timeout_ms)
{
    pthread_mutex_t *m = store_mutex(obj);
    for (int i = 0, pause = 1; i < SPIN_LIMIT; i++) {
        if (looks_free(m)) {
            int e = pthread_mutex_trylock(m);
            if (e != EBUSY)
                return lock_result(e);
        }
        for (int p = 0; p < pause; p++)
            cpu_relax();
        if (pause < SPIN_PAUSE_MAX)
            pause *= 2;
    }
    return lock_result(timed_lock(m, timeout_ms));
}

void kv__os_mutex_consistent(os_object_t *obj)
{
    pthread_mutex_consistent(store_mutex(obj));
}

void kv__os_mutex_unlock(os_object_t *obj)
{
    pthread_mutex_unlock(store_mutex(obj));
}

/* ---------------------------------------------------------------------- */
/* Waiting for a change: a shared futex                                    */
/* ---------------------------------------------------------------------- */

/* FUTEX_WAIT and FUTEX_WAKE without FUTEX_PRIVATE_FLAG: the kernel keys the
 * futex by the page of the shared mapping, so processes that map the store
 * at different addresses meet on the same word. */
int kv__os_wait(os_object_t *obj, _Atomic uint32_t *word, uint32_t expected,
                uint32_t timeout_ms)
{
    struct timespec ts = { (time_t)(timeout_ms / 1000), (long)(timeout_ms % 1000) * 1000000L };
    (void)obj; /* the futex is the word itself */
    if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &ts, NULL, 0) == 0)
        return 0;
    /* A futex wait with a timeout is never restarted after a signal handler
     * ran, SA_RESTART or not (as poll()): EINTR.  EAGAIN: the word changed. */
    if (errno == EINTR)
        return KV_EINTR;
    return errno == ETIMEDOUT ? KV_ETIMEDOUT : 0;
}

void kv__os_wake_all(os_object_t *obj, _Atomic uint32_t *word)
{
    (void)obj; /* the futex is the word itself */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---------------------------------------------------------------------- */
/* Small services                                                          */
/* ---------------------------------------------------------------------- */

uint32_t kv__os_pid(void)
{
    return (uint32_t)getpid();
}

uint64_t kv__os_clock_ms(void)
{
    struct timespec ts;
    /* Read from the vDSO without a system call.  Not the coarse clock: it
     * lags by up to a tick (more when a VM delays ticks), which made 1 ms
     * TTLs outlive a 5 ms sleep; the core reads the clock only for entries
     * with a TTL, kv_next and lock waits, so the ~15 ns more do not show. */
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec < 0)
        return 0; /* before 1970: the epoch itself (kv.h), never a wrapped count */
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t kv__os_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t kv__os_random64(void)
{
    uint64_t r;
    struct timespec ts;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 17);
}

void kv__os_sleep_ms(uint32_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
