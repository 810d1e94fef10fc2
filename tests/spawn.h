/*
 * spawn.h — start helper processes portably: the test re-executes itself in a
 * "role" (argv: <self> --role <role> <args...>), or runs another program such
 * as kvcli.  One implementation per platform (spawn_posix.c, later
 * spawn_win32.c); tests never call fork() directly, so the same test source
 * runs on Windows.
 */
#ifndef KV_TEST_SPAWN_H
#define KV_TEST_SPAWN_H

typedef struct spawn_proc {
    long pid;    /* process id (POSIX pid_t / Win32 process id) */
    void *handle; /* Win32 process handle; unused on POSIX */
} spawn_proc_t;

/* How a process ended. */
typedef struct spawn_status {
    int exited;   /* 1 if it returned from main / called exit */
    int code;     /* exit code when exited */
    int signaled; /* 1 if killed by a signal (POSIX) or terminated (Win32) */
    int signal;   /* the signal number when signaled */
} spawn_status_t;

/* Remembers the absolute path of the test binary (/proc/self/exe, else
 * argv[0]) so roles can re-execute it; call first in main().  If argv says
 * "--role NAME ARGS...", runs the matching role function and exits with its
 * return value (never returns).  Otherwise returns normally. */
typedef int (*spawn_role_fn)(int argc, char **argv); /* argv[0] = role name */
typedef struct spawn_role { const char *name; spawn_role_fn fn; } spawn_role_t;
void spawn_init(int argc, char **argv, const spawn_role_t *roles, int nroles);

/* For the platform files' spawn_init: runs the role named argv[2] with
 * argv[2..] and exits with its result (126 if there is no such role). */
void spawn_run_role(int argc, char **argv, const spawn_role_t *roles, int nroles);

/* Starts this test binary in `role` with `args` (NULL-terminated, may be
 * NULL) and extra environment entries "NAME=value" (NULL-terminated, may be
 * NULL); an entry whose NAME is already set replaces it.  The child inherits
 * stdin/stdout/stderr.  Returns 0 or -1. */
int spawn_role(spawn_proc_t *p, const char *role, const char *const *args,
               const char *const *env);

/* Starts program `path` with argv (argv[0] included, NULL-terminated) and
 * extra env.  If in_path/out_path are non-NULL the child's stdin/stdout are
 * redirected from/to those files.  Returns 0 or -1. */
int spawn_program(spawn_proc_t *p, const char *path, const char *const *argv,
                  const char *const *env, const char *in_path, const char *out_path);

/* Waits for the process to end and fills *st. Returns 0 or -1. */
int spawn_wait(spawn_proc_t *p, spawn_status_t *st);

/* 1 if the process has ended (exited or died) and spawn_wait would not
 * block; it is not reaped, so spawn_wait still reports how it ended.
 * POSIX: waitid(WNOWAIT); Windows: its handle is signalled.  0 while it
 * runs or when that cannot be told. */
int spawn_ended(const spawn_proc_t *p);

/* Kills the process at once (SIGKILL / TerminateProcess of the stopped
 * process, see spawn_win32.c). Returns 0 or -1. */
int spawn_kill(spawn_proc_t *p);

/* Stops the process and returns once it is stopped: none of its threads
 * runs until spawn_continue(), and it keeps whatever it holds, locks
 * included.  POSIX: SIGSTOP, then waits until /proc/<pid>/stat says it is
 * stopped (Linux; elsewhere it returns -1).  Windows: suspends every
 * thread of the process at once (NtSuspendProcess), then waits until each
 * has really stopped (GetThreadContext).  POSIX needs only p->pid; Windows
 * uses p->handle, or opens p->pid when it is NULL, so a process this helper
 * did not start may be stopped too.  Returns 0, or -1 if it could not be
 * stopped (gone, dying, no permission); after -1 it may be stopped all the
 * same, and spawn_continue() undoes that. */
int spawn_stop(spawn_proc_t *p);

/* Lets a process stopped by spawn_stop() run again (SIGCONT /
 * NtResumeProcess).  Harmless on a process that is not stopped.  Returns 0
 * or -1. */
int spawn_continue(spawn_proc_t *p);

/* This process's id (getpid / GetCurrentProcessId). */
long spawn_self_pid(void);

/* Reads process pid's state letter ('R', 'S', 'T', 'Z', ...) and parent pid
 * from /proc/<pid>/stat (Linux; either pointer may be NULL).  Returns 0, or
 * -1 when it cannot be read (gone, or not Linux: the Win32 twin always
 * returns -1). */
int spawn_proc_stat(long pid, char *state, long *ppid);

/* Sets environment variable `name` to `value` in this process, so that
 * getenv() here and every process started afterwards see it (setenv /
 * SetEnvironmentVariable and _putenv_s).  Returns 0 or -1. */
int spawn_setenv(const char *name, const char *value);

/* Sleeps for ms milliseconds. */
void spawn_sleep_ms(unsigned ms);

/* The wall clock in microseconds since the epoch, which every process reads
 * alike (CLOCK_REALTIME / GetSystemTimePreciseAsFileTime): for processes
 * that must act at one agreed moment. */
long long spawn_wall_us(void);

/* Makes the calling process run as the local account `name` from now on, for
 * permission tests; a role calls it first thing in the child.  POSIX: needs
 * root (getpwnam, then setgroups/setgid/setuid, in that order, so nothing of
 * root's survives).  Windows has no equivalent without the account's
 * password, so the Win32 twin returns -1.  Returns 0, or -1 when it is not
 * possible (not root, no such account); a role should then exit with a code
 * that tells its parent to skip. */
int spawn_become_user(const char *name);

/* 1 if named memory outlives its last handle until it is unlinked (POSIX
 * shm_open), 0 if it vanishes with its last handle (Windows paging-file
 * sections).  Tests that need a store nobody has open use a file-backed
 * store where it is 0. */
int spawn_named_memory_persists(void);

/* 1 if a process that dies holding the store's lock is reported to the
 * next locker (POSIX: the kernel walks the dead thread's robust list and
 * marks its robust mutexes, so the next pthread_mutex_lock answers
 * EOWNERDEAD; Windows: WAIT_ABANDONED), 0 if it is not.  POSIX asks
 * get_robust_list for this thread's list, which glibc registered at start
 * with set_robust_list: qemu-user implements neither (ENOSYS), so under it
 * a dead holder's mutex just stays locked and the next locker times out.
 * Tests that kill a holder check it through util_dead_holder_reported(). */
int spawn_dead_holder_reported(void);

#endif
