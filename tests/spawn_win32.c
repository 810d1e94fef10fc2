/*
 * spawn_win32.c — spawn.h for Windows, on CreateProcessW (the twin of
 * spawn_posix.c).
 *
 * A "role" is this same executable started again with
 * "--role NAME ARGS..."; spawn_init() notices that argv in the child and
 * runs the role function instead of the tests.  Windows passes a child one
 * command line, not an argv, so every argument is quoted here the way the C
 * runtime splits it again (quote_arg).  A child inherits exactly three
 * handles, its standard input, output and error (a handle list, so kv's
 * handles and stray inheritable CRT files stay in the parent), and the
 * parent's environment with the extra entries applied.  A start that fails
 * the way wine sometimes does on a busy machine is retried (see transient).
 *
 * How a process ended: an exit code is an exit; a code shaped like an NTSTATUS
 * error (top bits 11: an unhandled exception, or TerminateProcess with such a
 * code) counts as "signaled", with the nearest POSIX signal number.
 * spawn_kill() terminates with KILLED_STATUS, which reads back as SIGKILL.
 * spawn_stop() suspends every thread of the process (NtSuspendProcess),
 * there being no SIGSTOP.
 * There is no setuid twin: spawn_become_user() returns -1, and the tests that
 * need another user skip with the reason.
 *
 * The file ends with the few POSIX calls the shared test code uses that
 * mingw-w64 lacks (mkdtemp, symlink, geteuid); tests/CMakeLists.txt declares
 * them to every test source through a forced include on Windows, so util.c
 * and the tests build unchanged.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tlhelp32.h> /* after windows.h, which it needs */

#include "spawn.h"

#include <direct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* An NTSTATUS-shaped exit code: severity error (0xC...), the customer bit
 * (0x2...), and 9 = SIGKILL in the low bits. */
#define KILLED_STATUS 0xE0000009u
#define SIGKILL_NUMBER 9

/* ------------------------------------------------------------------------ */
/* Self path and role dispatch                                              */
/* ------------------------------------------------------------------------ */

static wchar_t self_path[32768]; /* this executable, from GetModuleFileNameW */
static char self_utf8[3 * 32768]; /* the same as UTF-8, the children's argv[0] */

void spawn_init(int argc, char **argv, const spawn_role_t *roles, int nroles)
{
    DWORD n = GetModuleFileNameW(NULL, self_path, (DWORD)(sizeof self_path / sizeof self_path[0]));
    if (n == 0 || n >= sizeof self_path / sizeof self_path[0] ||
        !WideCharToMultiByte(CP_UTF8, 0, self_path, -1, self_utf8, sizeof self_utf8, NULL, NULL))
        self_path[0] = L'\0';
    /* Diagnostics in the order they happen, as on POSIX where stderr is
     * unbuffered and stdout flushed per line by the runner. */
    setvbuf(stderr, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "--role") == 0)
        spawn_run_role(argc, argv, roles, nroles);
}

/* ------------------------------------------------------------------------ */
/* Strings: UTF-8 to UTF-16, and a growing wide buffer                      */
/* ------------------------------------------------------------------------ */

/* A malloc'd UTF-16 copy of UTF-8 `s`, or NULL. */
static wchar_t *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) <= 0) {
        free(w);
        w = NULL;
    }
    return w;
}

typedef struct wbuf {
    wchar_t *s;
    size_t len, cap;
    int failed; /* out of memory once: the result is unusable */
} wbuf_t;

static void wbuf_putn(wbuf_t *b, const wchar_t *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        wchar_t *p = realloc(b->s, cap * sizeof *p);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n * sizeof *s);
    b->len += n;
    b->s[b->len] = L'\0';
}

static void wbuf_putc(wbuf_t *b, wchar_t c, size_t times)
{
    while (times--)
        wbuf_putn(b, &c, 1);
}

/* ------------------------------------------------------------------------ */
/* The command line and the environment block                               */
/* ------------------------------------------------------------------------ */

/* Appends `arg` quoted so that the C runtime's parser gives it back
 * unchanged: inside quotes, backslashes are literal except before a quote,
 * where 2n backslashes + quote mean n backslashes and the end of the
 * argument, and 2n+1 mean n backslashes and a literal quote. */
static void quote_arg(wbuf_t *b, const wchar_t *arg)
{
    if (*arg && !wcspbrk(arg, L" \t\n\v\"")) {
        wbuf_putn(b, arg, wcslen(arg));
        return;
    }
    wbuf_putc(b, L'"', 1);
    for (const wchar_t *p = arg;; p++) {
        size_t slashes = 0;
        while (*p == L'\\') {
            slashes++;
            p++;
        }
        if (*p == L'\0') {
            wbuf_putc(b, L'\\', slashes * 2); /* before the closing quote */
            break;
        }
        wbuf_putc(b, L'\\', *p == L'"' ? slashes * 2 + 1 : slashes);
        wbuf_putc(b, *p, 1);
    }
    wbuf_putc(b, L'"', 1);
}

/* Builds "argv[0] argv[1] ..." with every argument quoted. */
static wchar_t *command_line(const char *const *argv)
{
    wbuf_t b = { NULL, 0, 0, 0 };
    for (size_t i = 0; argv[i]; i++) {
        wchar_t *w = widen(argv[i]);
        if (!w) {
            b.failed = 1;
            break;
        }
        if (i)
            wbuf_putc(&b, L' ', 1);
        quote_arg(&b, w);
        free(w);
    }
    if (b.failed || !b.s) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* Whether environment entry `entry` ("NAME=value") sets variable `name`
 * (name_len characters).  Names compare without case, as Windows does; the
 * hidden "=C:=..." entries keep their leading '=' in the name. */
static int same_var(const wchar_t *entry, const wchar_t *name, size_t name_len)
{
    const wchar_t *eq = wcschr(entry + 1, L'=');
    size_t len = eq ? (size_t)(eq - entry) : wcslen(entry);
    return len == name_len && _wcsnicmp(entry, name, len) == 0;
}

/* Whether `entry` is replaced by one of the extra entries. */
static int overridden(const wchar_t *entry, wchar_t *const *extra, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const wchar_t *eq = wcschr(extra[i] + 1, L'=');
        if (eq && same_var(entry, extra[i], (size_t)(eq - extra[i])))
            return 1;
    }
    return 0;
}

/* The parent's environment block with `env` applied (NULL: unchanged,
 * returned as NULL so the child inherits it).  A block is NUL-separated
 * entries ending in an empty one. */
static wchar_t *environment(const char *const *env, int *failed)
{
    size_t n = 0;
    wchar_t *extra[64], *parent, *p;
    wbuf_t b = { NULL, 0, 0, 0 };
    *failed = 0;
    while (env && env[n] && n < 64)
        n++;
    if (n == 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(extra[i] = widen(env[i])))
            b.failed = 1;
    if ((parent = GetEnvironmentStringsW()) != NULL) {
        for (p = parent; *p; p += wcslen(p) + 1)
            if (!b.failed && !overridden(p, extra, n))
                wbuf_putn(&b, p, wcslen(p) + 1);
        FreeEnvironmentStringsW(parent);
    }
    for (size_t i = 0; i < n; i++) {
        if (extra[i])
            wbuf_putn(&b, extra[i], wcslen(extra[i]) + 1);
        free(extra[i]);
    }
    wbuf_putc(&b, L'\0', 1);
    *failed = b.failed;
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ------------------------------------------------------------------------ */
/* Standard handles                                                         */
/* ------------------------------------------------------------------------ */

/* An inheritable duplicate of one of this process's standard handles, or
 * NULL if it has none. */
static HANDLE inheritable_std(DWORD which)
{
    HANDLE h = GetStdHandle(which), dup = NULL;
    if (h == NULL || h == INVALID_HANDLE_VALUE)
        return NULL;
    if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, TRUE,
                         DUPLICATE_SAME_ACCESS))
        return NULL;
    return dup;
}

/* An inheritable handle on `path` for reading (stdin) or writing from
 * scratch (stdout); NULL on failure. */
static HANDLE inheritable_file(const char *path, int for_write)
{
    SECURITY_ATTRIBUTES sa = { sizeof sa, NULL, TRUE };
    wchar_t *w = widen(path);
    HANDLE h;
    if (!w)
        return NULL;
    h = CreateFileW(w, for_write ? GENERIC_WRITE : GENERIC_READ,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, &sa,
                    for_write ? CREATE_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    return h == INVALID_HANDLE_VALUE ? NULL : h;
}

typedef struct std_handles {
    HANDLE h[3]; /* stdin, stdout, stderr; NULL where absent */
} std_handles_t;

/* Opens the child's standard handles; returns 0 or -1. */
static int std_open(std_handles_t *s, const char *in_path, const char *out_path)
{
    s->h[0] = in_path ? inheritable_file(in_path, 0) : inheritable_std(STD_INPUT_HANDLE);
    s->h[1] = out_path ? inheritable_file(out_path, 1) : inheritable_std(STD_OUTPUT_HANDLE);
    s->h[2] = inheritable_std(STD_ERROR_HANDLE);
    return (in_path && !s->h[0]) || (out_path && !s->h[1]) ? -1 : 0;
}

static void std_close(std_handles_t *s)
{
    for (int i = 0; i < 3; i++)
        if (s->h[i])
            CloseHandle(s->h[i]);
}

/* ------------------------------------------------------------------------ */
/* Starting, waiting, killing                                               */
/* ------------------------------------------------------------------------ */

/* Fills the attribute list that limits inheritance to the standard
 * handles; returns it (HeapFree'd by the caller) or NULL. */
static LPPROC_THREAD_ATTRIBUTE_LIST handle_list(std_handles_t *s, HANDLE *list, size_t *n)
{
    SIZE_T size = 0;
    LPPROC_THREAD_ATTRIBUTE_LIST attrs;
    *n = 0;
    for (int i = 0; i < 3; i++)
        if (s->h[i])
            list[(*n)++] = s->h[i];
    InitializeProcThreadAttributeList(NULL, 1, 0, &size);
    attrs = HeapAlloc(GetProcessHeap(), 0, size);
    if (!attrs)
        return NULL;
    if (!InitializeProcThreadAttributeList(attrs, 1, 0, &size) ||
        (*n && !UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, list,
                                          *n * sizeof *list, NULL, NULL))) {
        HeapFree(GetProcessHeap(), 0, attrs);
        return NULL;
    }
    return attrs;
}

/* Process creation can fail for a moment: under wine, CreateProcessW now
 * and then reports ERROR_INTERNAL_ERROR (the child died while starting,
 * before running any of our code: address randomization put something where
 * wine maps Windows' shared user data, about one start in 2,000 unless the
 * tests run under setarch -R, as CTest runs them).  Such a failure is
 * retried; nothing else is. */
#define SPAWN_ATTEMPTS 3

static int transient(DWORD e)
{
    return e == ERROR_INTERNAL_ERROR || e == ERROR_NOT_ENOUGH_MEMORY ||
           e == ERROR_NO_SYSTEM_RESOURCES;
}

/* Starts `app` with the command line, environment and handles. */
static int create(spawn_proc_t *p, const wchar_t *app, wchar_t *cmd, wchar_t *env,
                  std_handles_t *s)
{
    STARTUPINFOEXW si;
    PROCESS_INFORMATION pi;
    HANDLE list[3];
    size_t n;
    BOOL ok;
    memset(&si, 0, sizeof si);
    si.StartupInfo.cb = sizeof si;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = s->h[0];
    si.StartupInfo.hStdOutput = s->h[1];
    si.StartupInfo.hStdError = s->h[2];
    si.lpAttributeList = handle_list(s, list, &n);
    if (!si.lpAttributeList)
        return -1;
    for (int attempt = 1;; attempt++) {
        ok = CreateProcessW(app, cmd, NULL, NULL, n > 0,
                            CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT, env, NULL,
                            &si.StartupInfo, &pi);
        if (ok || attempt == SPAWN_ATTEMPTS || !transient(GetLastError()))
            break;
        fprintf(stderr, "  spawn %ls: error %lu, trying again\n", app,
                (unsigned long)GetLastError());
        Sleep(50u * (unsigned)attempt);
    }
    DeleteProcThreadAttributeList(si.lpAttributeList);
    HeapFree(GetProcessHeap(), 0, si.lpAttributeList);
    if (!ok)
        return -1;
    CloseHandle(pi.hThread);
    p->pid = (long)pi.dwProcessId;
    p->handle = pi.hProcess;
    return 0;
}

/* Starts `app` (UTF-16) with argv, extra env and the redirections. */
static int start(spawn_proc_t *p, const wchar_t *app, const char *const *argv,
                 const char *const *extra_env, const char *in_path, const char *out_path)
{
    std_handles_t s;
    int env_failed, rc = -1;
    wchar_t *cmd = command_line(argv), *env = environment(extra_env, &env_failed);
    if (cmd && !env_failed) {
        if (std_open(&s, in_path, out_path) == 0)
            rc = create(p, app, cmd, env, &s);
        std_close(&s); /* the child has its own copies */
    }
    if (rc != 0)
        fprintf(stderr, "  spawn %ls: error %lu\n", app, (unsigned long)GetLastError());
    free(cmd);
    free(env);
    return rc;
}

int spawn_role(spawn_proc_t *p, const char *role, const char *const *args,
               const char *const *env)
{
    size_t nargs = 0;
    while (args && args[nargs])
        nargs++;
    const char **argv = malloc((nargs + 4) * sizeof *argv);
    int rc = -1;
    if (!argv)
        return -1;
    argv[0] = self_utf8;
    argv[1] = "--role";
    argv[2] = role;
    for (size_t i = 0; i < nargs; i++)
        argv[3 + i] = args[i];
    argv[3 + nargs] = NULL;
    if (self_path[0])
        rc = start(p, self_path, argv, env, NULL, NULL);
    free(argv);
    return rc;
}

int spawn_program(spawn_proc_t *p, const char *path, const char *const *argv,
                  const char *const *env, const char *in_path, const char *out_path)
{
    wchar_t *app = widen(path);
    int rc = app ? start(p, app, argv, env, in_path, out_path) : -1;
    free(app);
    return rc;
}

/* The POSIX signal nearest to an NTSTATUS exception code. */
static int signal_of(DWORD status)
{
    switch (status) {
    case KILLED_STATUS:                 return SIGKILL_NUMBER;
    case EXCEPTION_ACCESS_VIOLATION:
    case EXCEPTION_STACK_OVERFLOW:
    case EXCEPTION_IN_PAGE_ERROR:       return 11; /* SIGSEGV; in-page ~ SIGBUS */
    case EXCEPTION_ILLEGAL_INSTRUCTION:
    case EXCEPTION_PRIV_INSTRUCTION:    return 4;  /* SIGILL */
    case EXCEPTION_INT_DIVIDE_BY_ZERO:
    case EXCEPTION_FLT_DIVIDE_BY_ZERO:  return 8;  /* SIGFPE */
    case STATUS_CONTROL_C_EXIT:         return 2;  /* SIGINT */
    default:                            return 6;  /* SIGABRT: some other fatal status */
    }
}

int spawn_wait(spawn_proc_t *p, spawn_status_t *st)
{
    DWORD code;
    if (!p->handle || WaitForSingleObject(p->handle, INFINITE) != WAIT_OBJECT_0 ||
        !GetExitCodeProcess(p->handle, &code))
        return -1;
    CloseHandle(p->handle);
    p->handle = NULL;
    memset(st, 0, sizeof *st);
    if ((code & 0xC0000000u) == 0xC0000000u) {
        st->signaled = 1;
        st->signal = signal_of(code);
    } else {
        st->exited = 1;
        st->code = (int)code;
    }
    return 0;
}

int spawn_ended(const spawn_proc_t *p)
{
    return p->handle && WaitForSingleObject(p->handle, 0) == WAIT_OBJECT_0;
}

/* Stops the process before terminating it.  Windows hands a dead thread's
 * mutexes over only once the thread is gone, but wine's server abandons them
 * first and signals the thread afterwards (server/thread.c, kill_thread), so
 * a terminated holder could still be writing while the next process repairs
 * the store: the soak saw exactly that tear an entry.  A process already
 * stopped (spawn_stop) runs no more code of its own.  Either way it dies at
 * an arbitrary instruction, which is what a kill is for. */
int spawn_kill(spawn_proc_t *p)
{
    if (!p->handle)
        return -1;
    spawn_stop(p); /* may fail if it is already ending; terminate anyway */
    return TerminateProcess(p->handle, KILLED_STATUS) ? 0 : -1;
}

long spawn_self_pid(void)
{
    return (long)GetCurrentProcessId();
}

int spawn_proc_stat(long pid, char *state, long *ppid)
{
    (void)pid;
    (void)state;
    (void)ppid;
    return -1; /* no /proc */
}

/* Both: the process environment block, which CreateProcessW copies, and
 * the C runtime's copy of it, which getenv() reads. */
int spawn_setenv(const char *name, const char *value)
{
    return SetEnvironmentVariableA(name, value) && _putenv_s(name, value) == 0 ? 0 : -1;
}

void spawn_sleep_ms(unsigned ms)
{
    Sleep(ms);
}

long long spawn_wall_us(void)
{
    /* 100 ns ticks since 1601 */
    enum { TICKS_PER_US = 10 };
    const long long EPOCH_1970_US = 11644473600LL * 1000000;
    FILETIME ft;
    ULARGE_INTEGER t;
    GetSystemTimePreciseAsFileTime(&ft);
    t.LowPart = ft.dwLowDateTime;
    t.HighPart = ft.dwHighDateTime;
    return (long long)(t.QuadPart / TICKS_PER_US) - EPOCH_1970_US;
}

/* ------------------------------------------------------------------------ */
/* Stopping and continuing: every thread suspended                          */
/* ------------------------------------------------------------------------ */

/*
 * Windows has no SIGSTOP.  ntdll's NtSuspendProcess suspends every thread
 * of a process in one call (on Windows it raises each thread's suspend
 * count, as SuspendThread does; wine counts on the process, and threads
 * started later inherit it), and NtResumeProcess takes that back.  Every
 * Windows NT and wine export them, but no SDK header declares them, so they
 * are looked up by name.  One call rather than a toolhelp snapshot and a
 * SuspendThread per thread: no thread can start another in between, and
 * under wine it is one light wineserver request where a snapshot costs the
 * server ~4 ms (measured here), so stop_while_holding in hostile_test tries
 * twice as often.
 */
typedef LONG(NTAPI *process_call_fn)(HANDLE process); /* returns an NTSTATUS */

/* Runs ntdll's `name` (NtSuspendProcess or NtResumeProcess) on p: on
 * p->handle, or on the process opened by pid when there is none.  Returns 0
 * or -1. */
static int process_call(spawn_proc_t *p, const char *name)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    FARPROC found = ntdll ? GetProcAddress(ntdll, name) : NULL;
    /* Through void (*)(void), the type that matches every function type,
     * so -Wcast-function-type takes the cast from FARPROC. */
    process_call_fn fn = (process_call_fn)(void (*)(void))found;
    HANDLE h = p->handle ? p->handle : OpenProcess(PROCESS_SUSPEND_RESUME, FALSE, (DWORD)p->pid);
    LONG status = fn && h ? fn(h) : -1;
    if (h && h != p->handle)
        CloseHandle(h);
    return status >= 0 ? 0 : -1; /* NT_SUCCESS */
}

/* Waits until a suspended thread has really stopped; returns 0 or -1.
 * Suspending only asks for it: the call returns while the thread may still
 * run for a moment (on Windows until the kernel's APC reaches it, under
 * wine until the thread handles the signal wineserver sends it), and a
 * thread about to release a lock would still release it.  GetThreadContext
 * cannot answer before the thread has stopped, so it waits for that: the
 * documented way to make a suspension synchronous. */
static int wait_stopped(HANDLE thread)
{
    CONTEXT ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.ContextFlags = CONTEXT_CONTROL;
    return GetThreadContext(thread, &ctx) ? 0 : -1;
}

/* Calls wait_stopped on every thread of process pid (a toolhelp snapshot
 * lists the threads of all processes; the others are skipped).  Returns
 * the number of threads, or -1 if one could not be waited for.  A thread
 * that ended between the snapshot and OpenThread is no failure. */
static int wait_all_stopped(DWORD pid)
{
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    THREADENTRY32 te;
    int n = 0;
    if (snap == INVALID_HANDLE_VALUE)
        return -1;
    te.dwSize = sizeof te;
    for (BOOL more = Thread32First(snap, &te); more && n >= 0; more = Thread32Next(snap, &te)) {
        HANDLE t = te.th32OwnerProcessID == pid
                       ? OpenThread(THREAD_GET_CONTEXT, FALSE, te.th32ThreadID)
                       : NULL;
        if (t) {
            n = wait_stopped(t) == 0 ? n + 1 : -1;
            CloseHandle(t);
        }
    }
    CloseHandle(snap);
    return n;
}

/* No thread found means the process has ended: it cannot be stopped. */
int spawn_stop(spawn_proc_t *p)
{
    if (process_call(p, "NtSuspendProcess") != 0)
        return -1;
    return wait_all_stopped((DWORD)p->pid) > 0 ? 0 : -1;
}

int spawn_continue(spawn_proc_t *p)
{
    return process_call(p, "NtResumeProcess");
}

/* ------------------------------------------------------------------------ */
/* Privileges                                                               */
/* ------------------------------------------------------------------------ */

int spawn_named_memory_persists(void)
{
    return 0;
}

/* A mutex whose owner ended is abandoned: its next waiter gets
 * WAIT_ABANDONED, on Windows and under wine alike. */
int spawn_dead_holder_reported(void)
{
    return 1;
}

/* Becoming another account needs its password (LogonUser) on Windows, so
 * permission tests that need it skip. */
int spawn_become_user(const char *name)
{
    (void)name;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* POSIX calls the shared test code uses                                    */
/* ------------------------------------------------------------------------ */

/* Replaces the trailing XXXXXX with letters and digits and creates that
 * directory; retries on a name that exists.  Returns template or NULL. */
char *mkdtemp(char *template_)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t len = strlen(template_);
    char *x = template_ + len - 6;
    if (len < 6 || strcmp(x, "XXXXXX") != 0)
        return NULL;
    for (unsigned attempt = 0; attempt < 100; attempt++) {
        unsigned long long r = GetTickCount64() * 6364136223846793005ull +
                               GetCurrentProcessId() * 1442695040888963407ull + attempt;
        for (int i = 0; i < 6; i++, r /= 36)
            x[i] = alphabet[r % 36];
        if (_mkdir(template_) == 0)
            return template_;
    }
    return NULL;
}

/* A symbolic link (SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE: developer
 * mode, or the right to create links).  Returns 0, or -1 when none can be
 * made.  A link that does not show as a reparse point is no link to the
 * tests (wine 8 reports success and leaves an unopenable entry), so it is
 * removed and -1 returned. */
int symlink(const char *target, const char *link)
{
    wchar_t *t = widen(target), *l = widen(link);
    int ok = t && l && CreateSymbolicLinkW(l, t, 0x2);
    if (ok) {
        DWORD attrs = GetFileAttributesW(l);
        ok = attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_REPARSE_POINT);
        if (!ok)
            DeleteFileW(l);
    }
    free(t);
    free(l);
    return ok ? 0 : -1;
}

/* Windows has no root that can become another account without its
 * password, so tests take the path of an ordinary user. */
unsigned geteuid(void)
{
    return 1000;
}
