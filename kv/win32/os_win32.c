/*
 * os_win32.c — kv's OS layer for Windows (see os.h), the twin of
 * posix/os_posix.c.  Wide-character (W) APIs throughout; names arrive as
 * UTF-8 and are converted with MultiByteToWideChar.
 *
 * Named memory is a section backed by the paging file,
 * CreateFileMappingW(INVALID_HANDLE_VALUE, ..., SEC_COMMIT), named
 * "Local\kv.<name>" so that any Win32 program can OpenFileMappingW it; a
 * name starting with "Global." asks for the machine-wide namespace instead
 * ("Global.x" -> "Global\kv.x"), and without SeCreateGlobalPrivilege that
 * fails with KV_EPERM, never falling back to Local\.  Such memory lives
 * exactly as long as some handle to it is open (there is no shm_unlink
 * twin): `kvcli hold NAME` keeps one open.  A file-backed store is a file
 * opened with CreateFileW (sharing read, write and delete; never through a
 * reparse point) and mapped with an unnamed CreateFileMappingW; views of one
 * file are coherent between processes.
 *
 * Kernel objects beside each store (':' cannot occur in a store name, so
 * these never collide with another store's mapping):
 *   <base>:lock    the store mutex (a named kernel mutex)
 *   <base>:notify  the change-notification semaphore
 *   <base>:open    named memory only: the open guard
 * where <base> is "Local\kv.<name>" for named memory and
 * "Global\kv:file:<volume>:<file id>" for a file, so every path spelling of
 * one file meets on the same objects, from any session.  Every object and
 * every new file gets a DACL built from the store's mode: the owner bits
 * grant the creating user, the group bits the token's primary group, the
 * other bits Everyone (0600, the default, is the creating user only).
 *
 * The attach lock ("am I alone?"):
 *   - a file: LockFileEx on one byte far beyond any store's end, shared
 *     while a handle is open, exclusive to create or to find oneself alone.
 *     The kernel drops it when a process dies, as flock() on POSIX.
 *   - named memory: a section that exists is open in some process (it dies
 *     with its last handle), so a process is alone exactly when it creates
 *     the section.  The size is only known at kv__os_object_reserve(), so the
 *     open guard, a named mutex held from kv__os_object_open() to
 *     kv__os_object_share(), keeps others out of a section being formatted.
 *
 * The store mutex is a named kernel mutex, not the header's lock area: when
 * its owner dies the next waiter gets WAIT_ABANDONED, which is
 * OS_LOCK_OWNER_DIED and runs the same repair as EOWNERDEAD on POSIX.  The
 * lock area is this layer's own scratch space (the sleeper count below), and
 * kv__os_mutex_abi() names that format, so a Windows process refuses to share a
 * live store with a POSIX one (KV_EVERSION).  Every mutex and wait call
 * gets the object (os.h), which holds the kernel handles.
 *
 * A read-only handle (OS_OPEN_READ) opens the file GENERIC_READ and maps
 * PAGE_READONLY / FILE_MAP_READ, takes the attach lock shared only, and
 * opens neither the store mutex nor the notify semaphore: it never locks,
 * and it waits by looking at the word (kv__os_wait).  Named memory's open
 * guard is the only kernel object it opens, with SYNCHRONIZE alone.
 *
 * A store file written on Linux opens here: the header format is the same
 * and only lock_abi differs, and store.c adopts a store whose lock area
 * another layer formatted when this process is alone with it.  Alone means
 * holding the attach lock (LockFileEx on KV_ATTACH_LOCK_OFFSET) exclusively;
 * wine turns that into a POSIX record lock, which os_posix.c takes too, so
 * a Linux process and a wine process on one store file see each other.
 */
#ifndef _WIN32_WINNT
#  define _WIN32_WINNT 0x0601 /* Windows 7: GetTickCount64 */
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <sddl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "os.h"
#include "kv.h"
#include "layout.h"

/* RtlGenRandom (advapi32): declared here, as <ntsecapi.h> does, to avoid
 * pulling in the LSA headers. */
BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length);

/* FileDispositionInfoEx (Windows 10 1709+), by value: mingw's headers hide
 * it below _WIN32_WINNT 0x0A000002, and older systems simply refuse it. */
#define FILE_DISPOSITION_INFO_EX_CLASS ((FILE_INFO_BY_HANDLE_CLASS)21)

/* ---------------------------------------------------------------------- */
/* Types and constants                                                     */
/* ---------------------------------------------------------------------- */

/* 'W', then the version of the lock area's format below.  No pointer width:
 * the area holds one 32-bit counter and the mutex is a kernel object, so 32-
 * and 64-bit Windows processes share a store. */
#define WIN_LOCK_ABI   UINT32_C(0x57000001)

/* The lock area as this layer uses it: a count of the threads inside
 * kv__os_wait() on this store, in every process.  It is a hint for how many
 * semaphore units a wake-up releases (see kv__os_wait). */
typedef struct win_lock_area {
    volatile LONG sleepers;
} win_lock_area_t;
_Static_assert(sizeof(win_lock_area_t) <= KV_LOCK_AREA, "fits the lock area");

/* Longest kernel-object name built here: "Global\kv:file:" + volume and
 * file id, or "Global\kv." + a store name, plus the longest suffix. */
#define OBJ_NAME_MAX (KV_NAME_MAX + 64)

/* The longest kv__os_wait() sleeps before it looks at the word again.  A wake-up
 * is never lost in the ordinary case (see kv__os_wait); this bounds the delay in
 * the one case the semaphore cannot rule out. */
#define WAIT_SLICE_MS 100u
/* The notify semaphore's maximum count (see kv__os_wake_all). */
#define NOTIFY_MAX 4096

enum { ATTACH_NONE = 0, ATTACH_SHARED = 1, ATTACH_EXCLUSIVE = 2 };

/* A read-only object (OS_OPEN_READ) is opened with GENERIC_READ and mapped
 * PAGE_READONLY / FILE_MAP_READ, so read permission suffices and no store
 * byte can be written through it.  It holds no store mutex and no notify
 * semaphore (mutex and notify stay NULL): the core never locks through it,
 * and its waits poll (see kv__os_wait).  Named memory's open guard is the
 * one kernel object it uses, with SYNCHRONIZE alone. */
struct os_object {
    int is_file;
    int read_only;       /* OS_OPEN_READ */
    HANDLE file;         /* file-backed: the file; the attach lock is on it */
    HANDLE section;      /* the file-mapping object (named memory: created at reserve) */
    HANDLE guard;        /* named memory: the open guard */
    int guard_held;      /* this thread owns the guard */
    HANDLE mutex;        /* the store mutex */
    HANDLE notify;       /* the change-notification semaphore */
    int attach;          /* file-backed: ATTACH_* held on the lock byte */
    int alone;           /* no other process has the store open */
    int created;         /* this call made the file or (at reserve) the section */
    wchar_t *path;       /* file-backed: the path, for kv__os_object_remove */
    void *addr;          /* the view, or NULL */
    uint64_t mapped;     /* bytes in the view */
    uint32_t mode;       /* for the DACL of a section created at reserve */
    wchar_t base[OBJ_NAME_MAX]; /* kernel-object name prefix (see top) */
};

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

static int from_win32(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:      return KV_ENOENT;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:      return KV_EEXIST;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_WRITE_PROTECT:
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_CANT_ACCESS_FILE:
    case ERROR_DELETE_PENDING:      return KV_EPERM;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_DIRECTORY:           return KV_ENAME;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NOT_ENOUGH_QUOTA:    return KV_ENOSPC;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:         return KV_ENOMEM;
    case ERROR_TOO_MANY_OPEN_FILES: return KV_EMFILE;
    case ERROR_INVALID_HANDLE:      return KV_ECORRUPT; /* the name is another kind of object */
    default:                        return KV_EIO;
    }
}

static int last_error(void)
{
    return from_win32(GetLastError());
}

/* ---------------------------------------------------------------------- */
/* Names                                                                   */
/* ---------------------------------------------------------------------- */

/* UTF-8 to UTF-16 into buf[0..cap); KV_ENAME when invalid or too long. */
static int to_wide(const char *s, wchar_t *buf, int cap)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, buf, cap);
    return n > 0 ? 0 : KV_ENAME;
}

/* The kernel-object base of a named store: "Local\kv.<name>", or
 * "Global\kv.<rest>" for "Global.<rest>". */
static int named_base(const char *name, wchar_t *base)
{
    static const char global[] = "Global.";
    const char *ns = "Local", *rest = name;
    char buf[OBJ_NAME_MAX];
    if (strncmp(name, global, sizeof global - 1) == 0) {
        ns = "Global";
        rest = name + sizeof global - 1;
        if (*rest == '\0')
            return KV_ENAME;
    }
    if ((size_t)snprintf(buf, sizeof buf, "%s\\kv.%s", ns, rest) >= sizeof buf)
        return KV_ENAME;
    return to_wide(buf, base, OBJ_NAME_MAX);
}

/* The kernel-object base of a file store, from the file's identity, so two
 * spellings of one path meet on the same mutex.  Global\: a file is shared
 * by every session, and creating a mutex or semaphore there (unlike a
 * section) needs no privilege. */
static int file_base(HANDLE file, wchar_t *base)
{
    BY_HANDLE_FILE_INFORMATION fi;
    if (!GetFileInformationByHandle(file, &fi))
        return last_error();
    swprintf(base, OBJ_NAME_MAX, L"Global\\kv:file:%08lx:%08lx%08lx",
             (unsigned long)fi.dwVolumeSerialNumber, (unsigned long)fi.nFileIndexHigh,
             (unsigned long)fi.nFileIndexLow);
    return 0;
}

/* base + suffix into out[OBJ_NAME_MAX]. */
static void object_name(const wchar_t *base, const wchar_t *suffix, wchar_t *out)
{
    swprintf(out, OBJ_NAME_MAX, L"%ls%ls", base, suffix);
}

/* A path of MAX_PATH or more characters made absolute with the \\?\ prefix,
 * which lifts the limit.  Frees `w`; returns a malloc'd string or NULL. */
static wchar_t *long_path(wchar_t *w)
{
    DWORD len = GetFullPathNameW(w, 0, NULL, NULL);
    wchar_t *full = len ? malloc(((size_t)len + 4) * sizeof *full) : NULL;
    if (full) {
        wcscpy(full, L"\\\\?\\");
        if (GetFullPathNameW(w, len, full + 4, NULL) == 0) {
            free(full);
            full = NULL;
        }
    }
    free(w);
    return full;
}

/* A file store's UTF-8 path as CreateFileW takes it (forward slashes are
 * fine).  Returns a malloc'd string, or NULL for invalid UTF-8 or no
 * memory. */
static wchar_t *file_path(const char *name)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (!w || to_wide(name, w, n) != 0) {
        free(w);
        return NULL;
    }
    return n < MAX_PATH ? w : long_path(w);
}

/* ---------------------------------------------------------------------- */
/* Security: the mode's twin                                               */
/* ---------------------------------------------------------------------- */

/* SDDL rights for three permission bits (r, w, x ignored): read and write
 * is everything, as an O_RDWR open on POSIX needs both.  Read alone is
 * GENERIC_READ | SYNCHRONIZE (hex: SDDL has no token for the latter): a
 * read-only handle waits on named memory's open guard, and GENERIC_READ of
 * a mutex does not include the right to wait on it (a file's does). */
static const wchar_t *sddl_rights(uint32_t bits)
{
    if ((bits & 6) == 6)
        return L"GA";
    if (bits & 4)
        return L"0x80100000";
    if (bits & 2)
        return L"GW";
    return NULL;
}

/* The string SID of the process token's user (TokenUser) or primary group
 * (TokenPrimaryGroup), LocalFree'd by the caller; NULL on failure. */
static wchar_t *token_sid(TOKEN_INFORMATION_CLASS what)
{
    HANDLE tok;
    union { TOKEN_USER user; TOKEN_PRIMARY_GROUP group; unsigned char raw[512]; } info;
    DWORD len = 0;
    wchar_t *s = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return NULL;
    if (GetTokenInformation(tok, what, &info, sizeof info, &len)) {
        PSID sid = what == TokenUser ? info.user.User.Sid : info.group.PrimaryGroup;
        if (!ConvertSidToStringSidW(sid, &s))
            s = NULL;
    }
    CloseHandle(tok);
    return s;
}

/* Appends "(A;;<rights>;;;<sid>)" for `bits` to the SDDL in buf. */
static void sddl_ace(wchar_t *buf, size_t cap, uint32_t bits, const wchar_t *sid)
{
    const wchar_t *r = sddl_rights(bits);
    size_t used = wcslen(buf);
    if (r && sid)
        swprintf(buf + used, cap - used, L"(A;;%ls;;;%ls)", r, sid);
}

/* A protected DACL from the mode bits: owner -> this user, group -> the
 * primary group, other -> Everyone ("WD").  *sd is LocalFree'd by the
 * caller. */
static int mode_security(uint32_t mode, PSECURITY_DESCRIPTOR *sd)
{
    wchar_t sddl[512] = L"D:P";
    wchar_t *user = token_sid(TokenUser), *group = (mode & 070) ? token_sid(TokenPrimaryGroup) : NULL;
    int rc = 0;
    if (!user) {
        rc = KV_EIO;
    } else {
        sddl_ace(sddl, 512, (mode >> 6) & 7, user);
        sddl_ace(sddl, 512, (mode >> 3) & 7, group);
        sddl_ace(sddl, 512, mode & 7, L"WD");
        if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, sd, NULL))
            rc = last_error();
    }
    LocalFree(user);
    LocalFree(group);
    return rc;
}

/* Security attributes for a new object with `mode`, not inheritable. */
typedef struct secattr {
    SECURITY_ATTRIBUTES sa;
    PSECURITY_DESCRIPTOR sd;
} secattr_t;

static int secattr_init(secattr_t *s, uint32_t mode)
{
    int rc = mode_security(mode, &s->sd);
    s->sa.nLength = sizeof s->sa;
    s->sa.lpSecurityDescriptor = rc ? NULL : s->sd;
    s->sa.bInheritHandle = FALSE;
    return rc;
}

static void secattr_free(secattr_t *s)
{
    LocalFree(s->sd);
}

/* ---------------------------------------------------------------------- */
/* Objects: the pieces                                                     */
/* ---------------------------------------------------------------------- */

/* Opens (or creates, with `sa`) the store mutex and the notify semaphore;
 * a read-only object needs neither (see struct os_object) and opens
 * nothing, so it needs no right on them at all. */
static int open_sync_objects(os_object_t *obj, SECURITY_ATTRIBUTES *sa)
{
    wchar_t name[OBJ_NAME_MAX];
    if (obj->read_only)
        return 0;
    object_name(obj->base, L":lock", name);
    obj->mutex = CreateMutexW(sa, FALSE, name);
    if (!obj->mutex)
        return last_error();
    object_name(obj->base, L":notify", name);
    obj->notify = CreateSemaphoreW(sa, 0, NOTIFY_MAX, name);
    return obj->notify ? 0 : last_error();
}

/* The attach lock's byte (layout.h), as LockFileEx takes an offset. */
static OVERLAPPED attach_byte(void)
{
    OVERLAPPED ov = { 0 };
    ov.Offset = (DWORD)KV_ATTACH_LOCK_OFFSET;
    ov.OffsetHigh = (DWORD)(KV_ATTACH_LOCK_OFFSET >> 32);
    return ov;
}

/* Takes the attach lock on a file's lock byte: ATTACH_SHARED or
 * ATTACH_EXCLUSIVE, polling so a stopped holder cannot hang us; `wait_ms` 0
 * tries once.  Returns 0, KV_ETIMEDOUT or another error. */
static int attach_lock(os_object_t *obj, int how, uint32_t wait_ms)
{
    DWORD flags = LOCKFILE_FAIL_IMMEDIATELY | (how == ATTACH_EXCLUSIVE ? LOCKFILE_EXCLUSIVE_LOCK : 0);
    for (uint32_t waited = 0;; waited++) {
        OVERLAPPED ov = attach_byte();
        if (LockFileEx(obj->file, flags, 0, 1, 0, &ov)) {
            obj->attach = how;
            return 0;
        }
        if (GetLastError() != ERROR_LOCK_VIOLATION && GetLastError() != ERROR_IO_PENDING)
            return last_error();
        if (waited >= wait_ms)
            return KV_ETIMEDOUT;
        Sleep(1);
    }
}

static void attach_unlock(os_object_t *obj)
{
    OVERLAPPED ov = attach_byte();
    if (obj->attach != ATTACH_NONE)
        UnlockFileEx(obj->file, 0, 1, 0, &ov);
    obj->attach = ATTACH_NONE;
}

/* Opens or creates the file (a read-only object: GENERIC_READ, and never
 * creates); *created says which.  CREATE_NEW first, so creation is known
 * rather than guessed.  FILE_FLAG_OPEN_REPARSE_POINT opens
 * a symlink or junction itself instead of its target (O_NOFOLLOW's twin);
 * check_regular then refuses it. */
static int open_file(os_object_t *obj, const char *name, unsigned flags,
                     SECURITY_ATTRIBUTES *sa)
{
    const DWORD access = obj->read_only ? GENERIC_READ : GENERIC_READ | GENERIC_WRITE;
    /* Every opener shares read, write and delete, whatever it asks for
     * itself: a reader must not lock writers out, nor they it. */
    const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    const DWORD attrs = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT;
    if (!(obj->path = file_path(name)))
        return KV_ENAME;
    if (flags & OS_OPEN_CREATE) {
        obj->file = CreateFileW(obj->path, access, share, sa, CREATE_NEW, attrs, NULL);
        obj->created = obj->file != INVALID_HANDLE_VALUE;
        if (!obj->created && (GetLastError() != ERROR_FILE_EXISTS || (flags & OS_OPEN_EXCL)))
            return last_error();
    }
    if (!obj->created) {
        obj->file = CreateFileW(obj->path, access, share, NULL, OPEN_EXISTING, attrs, NULL);
        if (obj->file == INVALID_HANDLE_VALUE)
            return last_error();
    }
    return 0;
}

/* Refuses anything but a plain disk file; *size gets its size. */
static int check_regular(const os_object_t *obj, const char *name, uint64_t *size, os_why_t *why)
{
    HANDLE file = obj->file;
    BY_HANDLE_FILE_INFORMATION fi;
    LARGE_INTEGER sz;
    if (GetFileType(file) != FILE_TYPE_DISK) {
        kv__why(why, "%s is a device or pipe, not a kv store: left as it is", name);
        return KV_ECORRUPT;
    }
    if (!GetFileInformationByHandle(file, &fi) || !GetFileSizeEx(file, &sz))
        return last_error();
    if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
        kv__why(why, "%s is a symlink or junction: a store is never opened through one", name);
        return KV_EPERM; /* as ELOOP */
    }
    if (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        kv__why(why, "%s is a directory, not a kv store", name);
        return KV_ECORRUPT;
    }
    /* A writable handle maps the store for writing, which Windows refuses on
     * a read-only file; said here too because wine run as root lets the open
     * through (unix root may write any file).  A read-only handle reads it. */
    if ((fi.dwFileAttributes & FILE_ATTRIBUTE_READONLY) && !obj->read_only)
        return KV_EPERM;
    *size = (uint64_t)sz.QuadPart;
    return 0;
}

/* The access of a view, and of a named section opened for one: a read-only
 * object's view cannot be written (a store through it faults), so nothing
 * it reaches by mistake can change the store. */
static DWORD view_access(const os_object_t *obj)
{
    return obj->read_only ? FILE_MAP_READ : FILE_MAP_READ | FILE_MAP_WRITE;
}

/* Maps the whole section and returns its size (whole pages). */
static int map_whole(os_object_t *obj, uint64_t *size)
{
    MEMORY_BASIC_INFORMATION mbi;
    void *p = MapViewOfFile(obj->section, view_access(obj), 0, 0, 0);
    if (!p)
        return last_error();
    if (VirtualQuery(p, &mbi, sizeof mbi) == 0) {
        int rc = last_error();
        UnmapViewOfFile(p);
        return rc;
    }
    obj->addr = p;
    obj->mapped = (uint64_t)mbi.RegionSize;
    *size = obj->mapped;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Objects: opening                                                        */
/* ---------------------------------------------------------------------- */

/* A file this call made is visible before we lock it: a process that opens
 * it first may find itself alone with an empty file of its own and create a
 * store in it (store.c).  So wait to be alone with it — unless its size
 * shows that such a process formatted it meanwhile, when it is no longer
 * ours to create but a store to attach to, shared if others have it (as
 * os_posix.c's attach_named_new). */
static int attach_new_file(os_object_t *obj, const char *name, uint32_t timeout_ms,
                           uint64_t *size, os_why_t *why)
{
    for (uint32_t waited = 0;; waited++) {
        int alone = attach_lock(obj, ATTACH_EXCLUSIVE, 0) == 0;
        int rc = check_regular(obj, name, size, why);
        if (rc)
            return rc;
        if (*size != 0)
            obj->created = 0;
        if (alone)
            return 0;
        if (!obj->created)
            return attach_lock(obj, ATTACH_SHARED, timeout_ms);
        if (waited >= timeout_ms)
            return KV_ETIMEDOUT;
        Sleep(1);
    }
}

/* A file-backed store: open, take the attach lock as os_posix.c does with
 * flock (shared only, read-only: it may neither format nor repair), name the
 * sync objects after the file's identity. */
static int open_file_store(os_object_t *obj, const char *name, unsigned flags,
                           uint32_t timeout_ms, secattr_t *sec, uint64_t *size, os_why_t *why)
{
    int rc = open_file(obj, name, flags, &sec->sa);
    if (rc)
        return rc;
    if ((rc = check_regular(obj, name, size, why)) != 0 || (flags & OS_OPEN_PROBE))
        return rc;
    if (obj->created)
        rc = attach_new_file(obj, name, timeout_ms, size, why);
    else if (obj->read_only || attach_lock(obj, ATTACH_EXCLUSIVE, 0) != 0)
        rc = attach_lock(obj, ATTACH_SHARED, timeout_ms); /* read-only: never alone */
    if (rc)
        return rc;
    obj->alone = obj->attach == ATTACH_EXCLUSIVE;
    /* The size again: it may have grown while we waited for the lock. */
    if ((rc = check_regular(obj, name, size, why)) != 0 ||
        (rc = file_base(obj->file, obj->base)) != 0)
        return rc;
    return open_sync_objects(obj, &sec->sa);
}

/* Opens (or creates) named memory's open guard.  A read-only object waits
 * on it too, so that it never maps a section a creator is still
 * formatting, but asks for SYNCHRONIZE alone: waiting and releasing need
 * nothing more (CreateMutexExW opens an existing guard with the access
 * asked, where CreateMutexW asks for all of it). */
static HANDLE open_guard(const os_object_t *obj, SECURITY_ATTRIBUTES *sa, const wchar_t *name)
{
    if (obj->read_only)
        return CreateMutexExW(sa, name, 0, SYNCHRONIZE);
    return CreateMutexW(sa, FALSE, name);
}

/* Named memory: under the open guard, attach to the section if it exists,
 * else (create) be alone with nothing yet: kv__os_object_reserve makes it.
 * A read-only object never creates (kv__os_object_open). */
static int open_named_store(os_object_t *obj, const char *name, unsigned flags,
                            uint32_t timeout_ms, secattr_t *sec, uint64_t *size)
{
    wchar_t gname[OBJ_NAME_MAX];
    int rc = named_base(name, obj->base);
    DWORD w;
    if (rc)
        return rc;
    if (flags & OS_OPEN_PROBE) { /* only to look: no guard, no sync objects */
        obj->section = OpenFileMappingW(view_access(obj), FALSE, obj->base);
        return obj->section ? map_whole(obj, size) : last_error();
    }
    object_name(obj->base, L":open", gname);
    if (!(obj->guard = open_guard(obj, &sec->sa, gname)))
        return last_error();
    /* WAIT_ABANDONED: a process died between open and share.  A creator's
     * section died with it (nobody else could open it meanwhile), and an
     * attacher, a reader above all, changed nothing, so the guard is simply
     * ours. */
    w = WaitForSingleObject(obj->guard, timeout_ms);
    if (w == WAIT_TIMEOUT)
        return KV_ETIMEDOUT;
    if (w != WAIT_OBJECT_0 && w != WAIT_ABANDONED)
        return last_error();
    obj->guard_held = 1;
    obj->section = OpenFileMappingW(view_access(obj), FALSE, obj->base);
    *size = 0;
    if (obj->section) {
        if (flags & OS_OPEN_EXCL)
            return KV_EEXIST;
        rc = map_whole(obj, size);
    } else if (GetLastError() != ERROR_FILE_NOT_FOUND) {
        return last_error();
    } else if (!(flags & OS_OPEN_CREATE)) {
        return KV_ENOENT;
    } else {
        obj->alone = obj->created = 1; /* the section is made at reserve */
    }
    return rc ? rc : open_sync_objects(obj, &sec->sa);
}

/* Owners: Windows gives every object the DACL built from the mode (see
 * mode_security), and a session's Local\ names are its own, so kv takes
 * an existing object as the caller's (os.h: OS_OWNER_SELF, never wider);
 * the README says what this leaves to the system. */
int kv__os_object_open(const char *name, unsigned flags, uint32_t mode, uint32_t timeout_ms,
                       os_object_t **out, os_found_t *found, os_why_t *why)
{
    os_object_t *obj;
    secattr_t sec;
    int rc;
    memset(found, 0, sizeof *found);
    /* A new object is formatted, i.e. written: never through a read-only one. */
    if ((flags & OS_OPEN_READ) && (flags & OS_OPEN_CREATE))
        return KV_EINVAL;
    if (!(obj = calloc(1, sizeof *obj)))
        return KV_ENOMEM;
    obj->file = INVALID_HANDLE_VALUE;
    obj->mode = mode;
    obj->is_file = (flags & OS_OPEN_FILE) != 0;
    obj->read_only = (flags & OS_OPEN_READ) != 0;
    rc = secattr_init(&sec, mode);
    if (!rc)
        rc = obj->is_file ? open_file_store(obj, name, flags, timeout_ms, &sec, &found->size, why)
                          : open_named_store(obj, name, flags, timeout_ms, &sec, &found->size);
    secattr_free(&sec);
    if (rc) {
        kv__os_object_close(obj);
        return rc;
    }
    found->alone = obj->alone;
    found->created = obj->created;
    found->owner = OS_OWNER_SELF;
    snprintf(found->owner_name, sizeof found->owner_name, "you");
    *out = obj;
    return 0;
}

/* A name is the object's from the start (CREATE_NEW, or the section made
 * under the open guard), so there is nothing to publish. */
int kv__os_object_publish(os_object_t *obj)
{
    (void)obj;
    return 0;
}

int kv__os_object_size(os_object_t *obj, uint64_t *size)
{
    LARGE_INTEGER sz;
    if (!obj->is_file) {
        *size = obj->mapped; /* a section never shrinks */
        return 0;
    }
    if (!GetFileSizeEx(obj->file, &sz))
        return last_error();
    *size = (uint64_t)sz.QuadPart;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Objects: sizing, mapping, sharing, closing                              */
/* ---------------------------------------------------------------------- */

/* A file: allocate the clusters (FileAllocationInfo) so a full disk fails
 * here, not as an in-page error when a page is first written, then set the
 * end of file.  File systems that cannot preallocate just extend. */
static int reserve_file(os_object_t *obj, uint64_t size)
{
    FILE_ALLOCATION_INFO alloc;
    LARGE_INTEGER end = { 0 };
    /* Truncating first turns whatever was there into zeros (os.h). */
    if (!SetFilePointerEx(obj->file, end, NULL, FILE_BEGIN) || !SetEndOfFile(obj->file))
        return last_error();
    alloc.AllocationSize.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(obj->file, FileAllocationInfo, &alloc, sizeof alloc)) {
        DWORD e = GetLastError();
        if (e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL)
            return KV_ENOSPC;
    }
    end.QuadPart = (LONGLONG)size;
    if (!SetFilePointerEx(obj->file, end, NULL, FILE_BEGIN) || !SetEndOfFile(obj->file))
        return last_error();
    return 0;
}

/* Named memory: create the section now that its size is known.  SEC_COMMIT
 * charges the whole size against the commit limit at once, so running out
 * fails here (KV_ENOSPC) rather than on first touch.  The guard is held, so
 * an existing section was made by a program outside this protocol. */
static int reserve_named(os_object_t *obj, uint64_t size)
{
    secattr_t sec;
    int rc = secattr_init(&sec, obj->mode);
    if (rc)
        return rc;
    obj->section = CreateFileMappingW(INVALID_HANDLE_VALUE, &sec.sa, PAGE_READWRITE | SEC_COMMIT,
                                      (DWORD)(size >> 32), (DWORD)size, obj->base);
    rc = obj->section ? 0 : last_error();
    if (obj->section && GetLastError() == ERROR_ALREADY_EXISTS)
        rc = KV_EEXIST;
    if (rc == KV_ENOMEM)
        rc = KV_ENOSPC; /* the commit charge: paging file and RAM are full */
    secattr_free(&sec);
    return rc;
}

int kv__os_object_reserve(os_object_t *obj, uint64_t size)
{
    if (obj->read_only)
        return KV_ERDONLY; /* only a creator alone reserves (os.h) */
    if (size != (uint64_t)(SIZE_T)size)
        return KV_ENOMEM;
    return obj->is_file ? reserve_file(obj, size) : reserve_named(obj, size);
}

int kv__os_object_map(os_object_t *obj, uint64_t size, void **addr)
{
    HANDLE section = obj->section;
    void *p;
    if (size != (uint64_t)(SIZE_T)size)
        return KV_ENOMEM; /* larger than this process's address space */
    if (obj->addr && size <= obj->mapped) {
        *addr = obj->addr; /* named memory: mapped whole at open */
        return 0;
    }
    if (obj->is_file) {
        section = CreateFileMappingW(obj->file, NULL,
                                     obj->read_only ? PAGE_READONLY : PAGE_READWRITE,
                                     (DWORD)(size >> 32), (DWORD)size, NULL);
        if (!section)
            return last_error();
    }
    p = MapViewOfFile(section, view_access(obj), 0, 0, (SIZE_T)size);
    if (obj->is_file)
        CloseHandle(section); /* the view keeps the section alive */
    if (!p)
        return last_error();
    if (obj->addr)
        UnmapViewOfFile(obj->addr);
    obj->addr = p;
    obj->mapped = size;
    *addr = p;
    return 0;
}

int kv__os_object_share(os_object_t *obj)
{
    if (obj->guard_held) {
        ReleaseMutex(obj->guard);
        obj->guard_held = 0;
    }
    if (obj->guard) {
        CloseHandle(obj->guard);
        obj->guard = NULL;
    }
    obj->alone = 0;
    if (!obj->is_file || obj->attach != ATTACH_EXCLUSIVE)
        return 0;
    /* Lock conversion is unlock-then-lock, as with flock: another process may
     * slip in, find itself alone and reset the lock area meanwhile, which is
     * harmless (see os_posix.c).  Waits as long as it takes, like flock. */
    attach_unlock(obj);
    for (;;) {
        int rc = attach_lock(obj, ATTACH_SHARED, UINT32_MAX);
        if (rc != KV_ETIMEDOUT)
            return rc;
    }
}

int kv__os_object_last_one(os_object_t *obj)
{
    if (!obj->is_file || obj->read_only)
        return 0; /* a section has no pages on disk; a reader is never alone */
    attach_unlock(obj); /* LockFileEx cannot convert a lock in place */
    return attach_lock(obj, ATTACH_EXCLUSIVE, 0) == 0;
}

int kv__os_object_flush(os_object_t *obj)
{
    if (!obj->is_file || !obj->addr)
        return 0;
    /* FlushViewOfFile writes the dirty pages; FlushFileBuffers waits for
     * them (and the metadata) to leave the disk's cache, as msync(MS_SYNC)
     * does.  It needs GENERIC_WRITE, which a read-only handle lacks: its
     * flush writes the pages (the writers' changes) without that wait. */
    if (!FlushViewOfFile(obj->addr, (SIZE_T)obj->mapped))
        return last_error();
    if (!obj->read_only && !FlushFileBuffers(obj->file))
        return last_error();
    return 0;
}

/* Closing order matters: the view and the sync objects go before the
 * attach lock (the file handle) and the section handle, so a process that
 * then finds itself alone finds no stale handle to the store mutex kept
 * open by us. */
void kv__os_object_close(os_object_t *obj)
{
    if (!obj)
        return;
    if (obj->addr)
        UnmapViewOfFile(obj->addr);
    if (obj->mutex)
        CloseHandle(obj->mutex);
    if (obj->notify)
        CloseHandle(obj->notify);
    if (obj->section)
        CloseHandle(obj->section);
    if (obj->guard_held)
        ReleaseMutex(obj->guard);
    if (obj->guard)
        CloseHandle(obj->guard);
    if (obj->file != INVALID_HANDLE_VALUE) {
        attach_unlock(obj);
        CloseHandle(obj->file);
    }
    free(obj->path);
    free(obj);
}

/* Deletes the file, freeing its name at once where the file system allows
 * (POSIX semantics, Windows 10 1709+), else when its last handle closes. */
static int unlink_file(const wchar_t *path)
{
    FILE_DISPOSITION_INFO_EX posix = { FILE_DISPOSITION_FLAG_DELETE |
                                       FILE_DISPOSITION_FLAG_POSIX_SEMANTICS };
    HANDLE h = CreateFileW(path, DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    int rc = 0;
    if (h == INVALID_HANDLE_VALUE)
        return last_error();
    if (!SetFileInformationByHandle(h, FILE_DISPOSITION_INFO_EX_CLASS, &posix, sizeof posix)) {
        FILE_DISPOSITION_INFO plain = { TRUE };
        if (!SetFileInformationByHandle(h, FileDispositionInfo, &plain, sizeof plain))
            rc = last_error();
    }
    CloseHandle(h);
    return rc;
}

/* Named memory has no name to remove: the section vanishes with its last
 * handle, so removing it only confirms it exists (the probe found it);
 * processes that have it open keep it, and its name, until they close. */
int kv__os_object_remove(os_object_t *obj)
{
    if (!obj->is_file)
        return 0;
    /* Windows refuses to delete a file that has a mapped view: let go of
     * this object's view and handle first (close then has nothing left). */
    if (obj->addr) {
        UnmapViewOfFile(obj->addr);
        obj->addr = NULL;
    }
    if (obj->file != INVALID_HANDLE_VALUE) {
        attach_unlock(obj);
        CloseHandle(obj->file);
        obj->file = INVALID_HANDLE_VALUE;
    }
    return unlink_file(obj->path);
}

void kv__os_object_discard(os_object_t *obj)
{
    if (obj && obj->created)
        kv__os_object_remove(obj);
    kv__os_object_close(obj);
}

/* ---------------------------------------------------------------------- */
/* The store mutex: a named kernel mutex                                   */
/* ---------------------------------------------------------------------- */

uint32_t kv__os_mutex_abi(void)
{
    return WIN_LOCK_ABI;
}

/* The lock area as this layer uses it (see win_lock_area_t). */
static win_lock_area_t *lock_area(os_object_t *obj)
{
    return (win_lock_area_t *)(void *)((kv_header_t *)obj->addr)->lock;
}

/* Called alone (nobody else has the store open): clears the sleeper count
 * and makes sure the mutex is free.  It can only be owned, or abandoned, if
 * a process outside kv's protocol holds it; taking and releasing it once
 * drops an abandoned state so the next locker does not repair twice. */
int kv__os_mutex_init(os_object_t *obj)
{
    DWORD w;
    if (obj->read_only)
        return KV_ERDONLY; /* never alone, and its view cannot be written */
    memset(lock_area(obj), 0, KV_LOCK_AREA);
    w = WaitForSingleObject(obj->mutex, 0);
    if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED)
        ReleaseMutex(obj->mutex);
    return 0;
}

static int wait_result(DWORD w)
{
    switch (w) {
    case WAIT_OBJECT_0:  return OS_LOCK_OK;
    case WAIT_ABANDONED: return OS_LOCK_OWNER_DIED;
    case WAIT_TIMEOUT:   return OS_LOCK_BUSY;
    default:             return KV_ECORRUPT; /* WAIT_FAILED: the handle is unusable */
    }
}

/* A kernel mutex belongs to a thread and is recursive: kv never locks twice
 * in one thread (every operation is lock, act, unlock), and unlock always
 * runs in the locking thread.  A read-only object has no mutex handle: the
 * core never locks through it (store.c answers KV_ERDONLY first), and a
 * call that gets here all the same is refused the same way. */
int kv__os_mutex_trylock(os_object_t *obj)
{
    if (obj->read_only)
        return KV_ERDONLY;
    return wait_result(WaitForSingleObject(obj->mutex, 0));
}

/* WaitForSingleObject sleeps in the kernel; there is no user-space lock
 * word to spin on, so no spinning first. */
int kv__os_mutex_lock(os_object_t *obj, uint32_t timeout_ms)
{
    int rc;
    if (obj->read_only)
        return KV_ERDONLY;
    rc = wait_result(WaitForSingleObject(obj->mutex, timeout_ms));
    return rc == OS_LOCK_BUSY ? KV_ETIMEDOUT : rc;
}

/* After WAIT_ABANDONED the mutex is simply owned; there is no "consistent"
 * state to restore.  If the repairer dies too, the next waiter is told
 * WAIT_ABANDONED again, as with a robust mutex. */
void kv__os_mutex_consistent(os_object_t *obj)
{
    (void)obj;
}

void kv__os_mutex_unlock(os_object_t *obj)
{
    if (!obj->read_only) /* it never locked */
        ReleaseMutex(obj->mutex);
}

/* ---------------------------------------------------------------------- */
/* Waiting for a change: a named semaphore and a sleeper count             */
/* ---------------------------------------------------------------------- */

/*
 * Windows has no cross-process futex (WaitOnAddress is per process), so the
 * atomic "sleep if the word still holds this value" is built from a named
 * semaphore and the count of sleepers in the lock area:
 *
 *   kv__os_wait:     sleepers += 1; if (*word == expected) wait(semaphore);
 *                sleepers -= 1
 *   kv__os_wake_all: (after the word was changed) release(semaphore, sleepers)
 *
 * Both sides are full barriers (interlocked increment; MemoryBarrier), so
 * either the waiter sees the new word and does not sleep, or the waker
 * sees the waiter counted and releases a unit for it.  A semaphore keeps
 * units released before the waiter reaches WaitForSingleObject, so that
 * window loses nothing — the reason for a semaphore rather than an event,
 * which PulseEvent would have to reset and a late waiter would miss.
 *
 * Extra units (a waiter counted twice by two wakes, or killed while asleep
 * and counted forever) only cause spurious returns, which os.h allows: the
 * caller rechecks.  The semaphore's maximum bounds how many pile up; a
 * release that would pass it fails harmlessly, since a semaphore holding
 * units has no blocked waiter.  One case is left: Windows does not promise
 * FIFO wake-up order, so a thread that started waiting (for a later change)
 * after the wake could take a unit meant for an earlier sleeper.  Sleeping
 * in slices of WAIT_SLICE_MS, re-checking the word between, bounds the
 * delay that could cause; no change is ever missed.
 *
 * A read-only object takes no part in this: it cannot count itself (its
 * view is read-only), and a unit it took from the semaphore uncounted would
 * be one a counted sleeper then misses.  It looks at the word about every
 * millisecond instead (poll_word); notify.c keeps its naps short anyway
 * (KV_READ_ONLY_POLL_MS), since no writer knows to wake it.
 */
static int poll_word(_Atomic uint32_t *word, uint32_t expected, uint32_t timeout_ms)
{
    for (uint64_t start = kv__os_monotonic_ms();;) {
        if (atomic_load_explicit(word, memory_order_seq_cst) != expected)
            return 0;
        if (kv__os_monotonic_ms() - start >= timeout_ms)
            return KV_ETIMEDOUT;
        Sleep(1);
    }
}

int kv__os_wait(os_object_t *obj, _Atomic uint32_t *word, uint32_t expected,
                uint32_t timeout_ms)
{
    win_lock_area_t *la;
    int rc = 0;
    if (obj->read_only)
        return poll_word(word, expected, timeout_ms);
    la = lock_area(obj);
    InterlockedIncrement(&la->sleepers);
    for (uint64_t start = kv__os_monotonic_ms();;) {
        uint64_t waited = kv__os_monotonic_ms() - start;
        if (atomic_load_explicit(word, memory_order_seq_cst) != expected)
            break;
        if (waited >= timeout_ms) {
            rc = KV_ETIMEDOUT;
            break;
        }
        DWORD slice = (DWORD)(timeout_ms - waited < WAIT_SLICE_MS ? timeout_ms - waited
                                                                 : WAIT_SLICE_MS);
        if (WaitForSingleObject(obj->notify, slice) == WAIT_OBJECT_0)
            break; /* woken (perhaps spuriously): the caller rechecks */
    }
    InterlockedDecrement(&la->sleepers);
    return rc;
}

/* Only a writer, which changed the word, wakes: a read-only object has no
 * semaphore to release and does nothing. */
void kv__os_wake_all(os_object_t *obj, _Atomic uint32_t *word)
{
    win_lock_area_t *la = lock_area(obj);
    LONG n;
    (void)word; /* the semaphore stands for the word */
    if (obj->read_only)
        return;
    MemoryBarrier(); /* the word's new value before the count (see above) */
    n = la->sleepers;
    if (n > NOTIFY_MAX)
        n = NOTIFY_MAX;
    if (n > 0)
        ReleaseSemaphore(obj->notify, n, NULL);
}

/* ---------------------------------------------------------------------- */
/* Small services                                                          */
/* ---------------------------------------------------------------------- */

_Atomic uint32_t kv__os_forks; /* Windows has no fork(): always 0 */

uint32_t kv__os_pid(void)
{
    return (uint32_t)GetCurrentProcessId();
}

/* 100 ns ticks between 1601-01-01 (FILETIME's epoch) and 1970-01-01. */
#define FILETIME_UNIX_EPOCH UINT64_C(116444736000000000)

uint64_t kv__os_clock_ms(void)
{
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft); /* cheap; as fine as the timer tick (1-16 ms) */
    uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    if (t < FILETIME_UNIX_EPOCH)
        return 0; /* before 1970: the epoch itself (kv.h), never a wrapped count */
    return (t - FILETIME_UNIX_EPOCH) / 10000u;
}

uint64_t kv__os_monotonic_ms(void)
{
    return (uint64_t)GetTickCount64();
}

uint64_t kv__os_random64(void)
{
    uint64_t r;
    LARGE_INTEGER pc;
    if (SystemFunction036(&r, sizeof r))
        return r;
    QueryPerformanceCounter(&pc);
    return (uint64_t)pc.QuadPart ^ kv__os_clock_ms() ^ ((uint64_t)GetCurrentProcessId() << 17);
}

void kv__os_sleep_ms(uint32_t ms)
{
    Sleep(ms);
}
