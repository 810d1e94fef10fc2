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
#include <pwd.h>
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

/* Where a name lives: an O_PATH descriptor of its directory and its last
 * component, the way every call after the open (link, unlink) reaches it. */
typedef struct place {
    int dir;
    char last[NAME_MAX + 1];
} place_t;

struct os_object {
    int fd;
    int is_file;     /* file-backed (msync on flush) rather than named memory */
    int unnamed;     /* an O_TMPFILE inode not yet linked (publish) */
    int read_only;   /* OS_OPEN_READ: O_RDONLY and PROT_READ */
    place_t place;   /* where its name is, or will be */
    void *addr;      /* mapping, or NULL */
    uint64_t mapped; /* bytes mapped */
};

/* The store mutex: the header's lock area of the object's mapping. */
static pthread_mutex_t *store_mutex(os_object_t *obj)
{
    return (pthread_mutex_t *)(void *)((kv_header_t *)obj->addr)->lock;
}

/* ---------------------------------------------------------------------- */
/* Errors and descriptions                                                 */
/* ---------------------------------------------------------------------- */

static int from_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:      return KV_ENOENT;
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

/* "name (uid N)" of a user, for messages. */
static void describe_user(uid_t uid, char *buf, size_t cap)
{
    struct passwd pw, *found = NULL;
    char scratch[1024];
    if (getpwuid_r(uid, &pw, scratch, sizeof scratch, &found) == 0 && found)
        snprintf(buf, cap, "%s (uid %u)", found->pw_name, (unsigned)uid);
    else
        snprintf(buf, cap, "uid %u", (unsigned)uid);
}

static const char *describe_type(mode_t m)
{
    if (S_ISREG(m))  return "regular file";
    if (S_ISDIR(m))  return "directory";
    if (S_ISLNK(m))  return "symlink";
    if (S_ISFIFO(m)) return "FIFO";
    if (S_ISSOCK(m)) return "socket";
    if (S_ISCHR(m))  return "character device";
    if (S_ISBLK(m))  return "block device";
    return "special file";
}

/* A symlink may be followed when the caller or root owns it: the rule of
 * fs.protected_symlinks, applied to every component and not only to links
 * in sticky world-writable directories. */
static int trusted_owner(uid_t uid)
{
    return uid == geteuid() || uid == 0;
}

/* ---------------------------------------------------------------------- */
/* Names: walking a path without trusting others' symlinks                 */
/* ---------------------------------------------------------------------- */

/* Named memory lives in glibc's shm_open directory, as "kv.<name>" (the
 * prefix keeps kv's objects apart from other programs').  kv opens it with
 * openat so that a store can be made under no name (O_TMPFILE) and linked
 * when complete, which shm_open cannot do. */
#define SHM_DIR "/dev/shm"
#define SYMLINK_HOPS 40 /* as the kernel's own limit */
#define WALK_MAX (2 * KV_PATH_MAX + 2)

/* Replaces todo (the components left to walk, from `rest` on) with the
 * target of the symlink `link` followed by them; an absolute target starts
 * again at "/", given in *dir. */
static int splice_link(int link, const char *rest, char *todo, int *dir)
{
    char target[WALK_MAX], joined[WALK_MAX];
    ssize_t n = readlinkat(link, "", target, sizeof target - 1);
    if (n < 0)
        return from_errno(errno);
    target[n] = '\0';
    if ((size_t)snprintf(joined, sizeof joined, "%s/%s", target, rest) >= sizeof joined)
        return KV_ENAME;
    if (target[0] == '/') {
        int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
            return from_errno(errno);
        close(*dir);
        *dir = root;
    }
    memcpy(todo, joined, strlen(joined) + 1);
    return 0;
}

/* Walks the directory part of a path, one component at a time, each opened
 * O_PATH|O_NOFOLLOW: a directory is entered, a symlink followed only when
 * trusted_owner() (its owner is read from the link itself, so it cannot be
 * swapped between the check and the read).  Returns the directory's
 * descriptor or a negative KV_E*. */
static int walk_dirs(const char *path, size_t dir_len, os_why_t *why)
{
    char todo[WALK_MAX];
    int dir = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC), hops = 0;
    if (dir < 0)
        return from_errno(errno);
    if (dir_len >= sizeof todo) {
        close(dir);
        return KV_ENAME;
    }
    memcpy(todo, path, dir_len);
    todo[dir_len] = '\0';
    for (char *p = todo;;) {
        char comp[NAME_MAX + 1];
        size_t n;
        struct stat st;
        int next, rc = 0;
        while (*p == '/')
            p++;
        if (!*p)
            return dir;
        if ((n = strcspn(p, "/")) > NAME_MAX) {
            close(dir);
            return KV_ENAME;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        next = openat(dir, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 || fstat(next, &st) != 0) {
            rc = from_errno(errno);
            kv__why(why, "%s: %s: %s", path, comp, strerror(errno));
        } else if (S_ISLNK(st.st_mode)) {
            char owner[64];
            describe_user(st.st_uid, owner, sizeof owner);
            if (!trusted_owner(st.st_uid)) {
                rc = KV_EPERM;
                kv__why(why, "%s: the symlink \"%s\" on the way is owned by %s, neither you "
                        "nor root: not followed", path, comp, owner);
            } else if (++hops > SYMLINK_HOPS) {
                rc = KV_EPERM;
                kv__why(why, "%s: more than %d symlinks on the way", path, SYMLINK_HOPS);
            } else if ((rc = splice_link(next, p, todo, &dir)) == 0) {
                p = todo;
            }
            close(next);
            next = -1;
        } else if (!S_ISDIR(st.st_mode)) {
            rc = KV_ENOENT;
            kv__why(why, "%s: \"%s\" on the way is a %s, not a directory", path, comp,
                    describe_type(st.st_mode));
        }
        if (rc) {
            if (next >= 0)
                close(next);
            close(dir);
            return rc;
        }
        if (next >= 0) {
            close(dir);
            dir = next;
        }
    }
}

/* Finds where `name` lives: a file path's directory (walked), or named
 * memory's. */
static int find_place(const char *name, int is_file, place_t *pl, os_why_t *why)
{
    const char *slash = strrchr(name, '/');
    const char *last = is_file ? slash + 1 : NULL;
    int n;
    if (is_file) {
        size_t dir_len = (size_t)(slash - name) + (slash == name); /* "/x": the root */
        if (strlen(last) > NAME_MAX || !strcmp(last, ".") || !strcmp(last, ".."))
            return KV_ENAME;
        pl->dir = walk_dirs(name, dir_len, why);
        n = snprintf(pl->last, sizeof pl->last, "%s", last);
    } else {
        pl->dir = open(SHM_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pl->dir < 0)
            pl->dir = from_errno(errno);
        n = snprintf(pl->last, sizeof pl->last, "kv.%s", name);
    }
    if (pl->dir < 0)
        return pl->dir;
    if (n < 0 || (size_t)n >= sizeof pl->last) {
        close(pl->dir);
        return KV_ENAME;
    }
    return 0;
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

/* Opens the existing object at pl for reading and writing, refusing
 * anything but a regular file (with its type and owner in *why) without
 * opening it for I/O: the O_PATH descriptor is checked first, then reopened
 * through /proc, which reaches the very inode checked. */
static int open_existing(const place_t *pl, const char *name, os_object_t *obj,
                         os_found_t *found, uint32_t mode, os_why_t *why)
{
    char proc[64];
    struct stat st;
    int path = openat(pl->dir, pl->last, O_PATH | O_NOFOLLOW | O_CLOEXEC), rc = 0;
    if (path < 0)
        return from_errno(errno);
    if (fstat(path, &st) != 0) {
        rc = from_errno(errno);
    } else {
        describe_user(st.st_uid, found->owner_name, sizeof found->owner_name);
        if (S_ISLNK(st.st_mode)) {
            rc = KV_EPERM;
            kv__why(why, "%s is a symlink (owned by %s): a store is never opened through one",
                    name, found->owner_name);
        } else if (!S_ISREG(st.st_mode)) {
            rc = KV_ECORRUPT;
            kv__why(why, "%s is a %s owned by %s, not a kv store: left as it is", name,
                    describe_type(st.st_mode), found->owner_name);
        }
    }
    if (!rc) {
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", path);
        obj->fd = open(proc, (obj->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (obj->fd < 0)
            rc = from_errno(errno);
    }
    close(path);
    if (rc)
        return rc;
    found->size = (uint64_t)st.st_size;
    found->owner = st.st_uid == geteuid() ? OS_OWNER_SELF
                 : st.st_uid == 0         ? OS_OWNER_ROOT : OS_OWNER_OTHER;
    found->wider = ((uint32_t)st.st_mode & 07777u & ~mode) != 0;
    return 0;
}

/* Creates a new object at pl with exactly `mode`: an unnamed O_TMPFILE
 * inode where the file system has them (linked by kv__os_object_publish),
 * else a named file made with O_EXCL. */
static int create_object(const place_t *pl, os_object_t *obj, uint32_t mode)
{
    obj->fd = openat(pl->dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
    obj->unnamed = obj->fd >= 0;
    if (obj->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
        obj->fd = openat(pl->dir, pl->last, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         (mode_t)mode);
    if (obj->fd < 0)
        return from_errno(errno);
    /* Exactly the asked mode, whatever the umask. */
    return fchmod(obj->fd, (mode_t)mode) == 0 ? 0 : from_errno(errno);
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

/* A named object this call made (no O_TMPFILE) is visible before we lock
 * it: a process that opens it first may find itself alone with an empty
 * object of its own and create a store in it (store.c).  So wait to be
 * alone with it — unless its size shows that such a process formatted it
 * meanwhile, when it is no longer ours to create but a store to attach to,
 * shared if others have it. */
static int attach_named_new(os_object_t *obj, os_found_t *found, uint32_t timeout_ms)
{
    for (uint32_t waited = 0;; waited++) {
        struct stat st;
        int alone = try_lock(obj->fd, LOCK_EX) == 0;
        if (fstat(obj->fd, &st) != 0)
            return from_errno(errno);
        if (st.st_size != 0) {
            found->created = 0;
            found->size = (uint64_t)st.st_size;
        }
        if (alone) {
            found->alone = 1;
            return 0;
        }
        if (!found->created)
            return attach_lock(obj->fd, LOCK_SH, timeout_ms);
        if (waited >= timeout_ms)
            return KV_ETIMEDOUT;
        kv__os_sleep_ms(1);
    }
}

/* Takes the attach lock for what was found: a new object alone; an
 * existing one exclusively if nobody else has it, else shared. */
static int attach(os_object_t *obj, os_found_t *found, uint32_t timeout_ms)
{
    if (obj->read_only) /* never alone: it may not repair or format */
        return attach_lock(obj->fd, LOCK_SH, timeout_ms);
    if (found->created && !obj->unnamed)
        return attach_named_new(obj, found, timeout_ms);
    if (found->created || try_lock(obj->fd, LOCK_EX) == 0) {
        found->alone = 1; /* an unnamed new inode: no one else can open it */
        return found->created ? attach_lock(obj->fd, LOCK_EX, timeout_ms) : 0;
    }
    return attach_lock(obj->fd, LOCK_SH, timeout_ms);
}

/* Opens the object at pl, or creates it: one try.  KV_EEXIST from a create
 * without OS_OPEN_EXCL means another process made it meanwhile: try again. */
static int open_or_create(const place_t *pl, const char *name, unsigned flags, uint32_t mode,
                          os_object_t *obj, os_found_t *found, os_why_t *why)
{
    int rc = open_existing(pl, name, obj, found, mode, why);
    if (rc == 0 && (flags & OS_OPEN_EXCL))
        return KV_EEXIST;
    if (rc != KV_ENOENT || !(flags & OS_OPEN_CREATE))
        return rc;
    if ((rc = create_object(pl, obj, mode)) != 0)
        return rc;
    found->created = 1;
    found->owner = OS_OWNER_SELF;
    return 0;
}

int kv__os_object_open(const char *name, unsigned flags, uint32_t mode, uint32_t timeout_ms,
                       os_object_t **out, os_found_t *found, os_why_t *why)
{
    static pthread_once_t forks_watched = PTHREAD_ONCE_INIT;
    os_object_t *obj;
    place_t pl;
    int rc;
    /* Before any handle exists, so no fork can copy a handle unnoticed. */
    pthread_once(&forks_watched, watch_forks);
    memset(found, 0, sizeof *found);
    /* A new object is formatted, i.e. written: never through a read-only one. */
    if ((flags & OS_OPEN_READ) && (flags & OS_OPEN_CREATE))
        return KV_EINVAL;
    if ((rc = find_place(name, (flags & OS_OPEN_FILE) != 0, &pl, why)) != 0)
        return rc;
    if (!(obj = calloc(1, sizeof *obj))) {
        close(pl.dir);
        return KV_ENOMEM;
    }
    obj->fd = -1;
    obj->is_file = (flags & OS_OPEN_FILE) != 0;
    obj->read_only = (flags & OS_OPEN_READ) != 0;
    obj->place = pl;
    for (int tries = 0; tries < 3; tries++) {
        rc = open_or_create(&pl, name, flags, mode, obj, found, why);
        if (rc != KV_EEXIST || (flags & OS_OPEN_EXCL))
            break; /* else: made by another process between our two tries */
    }
    if (!rc && !(flags & OS_OPEN_PROBE))
        rc = attach(obj, found, timeout_ms);
    if (rc) {
        kv__os_object_close(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* Whether pl's name still refers to the object open as fd. */
static int names_object(const place_t *pl, int fd)
{
    struct stat named, open_st;
    return fstatat(pl->dir, pl->last, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
           fstat(fd, &open_st) == 0 && named.st_dev == open_st.st_dev &&
           named.st_ino == open_st.st_ino;
}

int kv__os_object_publish(os_object_t *obj)
{
    char proc[64];
    if (!obj->unnamed)
        return 0;
    /* linkat through /proc needs no privilege (AT_EMPTY_PATH would need
     * CAP_DAC_READ_SEARCH), and fails with EEXIST rather than replace. */
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", obj->fd);
    if (linkat(AT_FDCWD, proc, obj->place.dir, obj->place.last, AT_SYMLINK_FOLLOW) != 0)
        return from_errno(errno);
    obj->unnamed = 0;
    return 0;
}

int kv__os_object_remove(os_object_t *obj)
{
    if (obj->unnamed || !names_object(&obj->place, obj->fd))
        return KV_ENOENT; /* the name went, or now names something else */
    return unlinkat(obj->place.dir, obj->place.last, 0) == 0 ? 0 : from_errno(errno);
}

void kv__os_object_discard(os_object_t *obj)
{
    if (obj)
        kv__os_object_remove(obj);
    kv__os_object_close(obj);
}

int kv__os_object_size(os_object_t *obj, uint64_t *size)
{
    struct stat st;
    if (fstat(obj->fd, &st) != 0)
        return from_errno(errno);
    *size = (uint64_t)st.st_size;
    return 0;
}

int kv__os_object_reserve(os_object_t *obj, uint64_t size)
{
    if (obj->read_only)
        return KV_ERDONLY; /* only a creator alone reserves (os.h) */
    /* Truncating first turns whatever was there into zeros.
     * posix_fallocate returns the error instead of setting errno; unlike
     * ftruncate it allocates every page now, so a full tmpfs or disk fails
     * here and not with SIGBUS on first touch. */
    int e = ftruncate(obj->fd, 0) == 0 ? posix_fallocate(obj->fd, 0, (off_t)size) : errno;
    return e ? from_errno(e) : 0;
}

int kv__os_object_map(os_object_t *obj, uint64_t size, void **addr)
{
    void *p;
    if (size != (uint64_t)(size_t)size)
        return KV_ENOMEM; /* larger than this process's address space */
    p = mmap(NULL, (size_t)size, obj->read_only ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
             obj->fd, 0);
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

int kv__os_object_last_one(os_object_t *obj)
{
    /* The OFD lock first: fcntl converts atomically, so a failure keeps the
     * shared hold.  Then the flock, which no one else can hold shared if
     * the OFD lock was had (every opener takes both).  A reader is never
     * alone (os.h). */
    if (obj->read_only)
        return 0;
    return ofd_lock(obj->fd, LOCK_EX, F_OFD_SETLK) == 0 && try_lock(obj->fd, LOCK_EX) == 0;
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
    if (obj->fd >= 0)
        close(obj->fd); /* also releases the attach lock */
    close(obj->place.dir);
    free(obj);
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
    if (obj->read_only)
        return KV_ERDONLY; /* never alone, and its mapping is PROT_READ */
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

/* ThreadSanitizer (gcc 12, clang 14) does not intercept
 * pthread_mutex_clocklock, so under it every lock taken after a wait would
 * be invisible and reported as races.  The TSan build waits with
 * pthread_mutex_timedlock on the (settable, hence less robust) realtime
 * clock instead — and since that interceptor records a lock only when it
 * returns 0, a lock won with EOWNERDEAD is announced by hand. */
#if defined(__SANITIZE_THREAD__)
#  define KV_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define KV_TSAN 1
#  endif
#endif
#ifdef KV_TSAN
#  include <sanitizer/tsan_interface.h>
#  define KV_LOCK_CLOCK CLOCK_REALTIME
#  define tsan_locked_owner_died(m) \
     (__tsan_mutex_pre_lock((m), __tsan_mutex_try_lock), \
      __tsan_mutex_post_lock((m), __tsan_mutex_try_lock, 0))
#else
#  define KV_LOCK_CLOCK CLOCK_MONOTONIC
#  define tsan_locked_owner_died(m) ((void)(m))
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
    int e = pthread_mutex_timedlock(m, &ts);
    if (e == EOWNERDEAD)
        tsan_locked_owner_died(m);
    return e;
#endif
}

/* A read-only object's mapping is PROT_READ: locking there would fault on
 * the lock word, so the mutex calls refuse it (os.h) rather than crash if
 * the core ever reached them through one. */
int kv__os_mutex_trylock(os_object_t *obj)
{
    if (obj->read_only)
        return KV_ERDONLY;
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
    if (obj->read_only)
        return KV_ERDONLY;
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
    if (!obj->read_only) /* it never locked */
        pthread_mutex_consistent(store_mutex(obj));
}

void kv__os_mutex_unlock(os_object_t *obj)
{
    if (!obj->read_only)
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
