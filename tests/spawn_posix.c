/*
 * spawn_posix.c — spawn.h for POSIX systems, on posix_spawn.
 *
 * Helper processes are started with posix_spawn, never fork(): a forked
 * child would inherit the parent's open kv handles and threads, which kv.h
 * forbids, and fork has no Windows twin.  A "role" is this same binary
 * re-executed with "--role NAME ARGS..."; spawn_init() notices that argv in
 * the child and runs the role function instead of the tests.  Children start
 * with an empty signal mask and default SIGPIPE whatever the parent set, so
 * a role behaves the same however the test runner was started.
 * spawn_stop() is SIGSTOP plus a wait, on /proc (Linux), until the kernel
 * reports the process stopped.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Self path and role dispatch                                              */
/* ------------------------------------------------------------------------ */

static char self_path[PATH_MAX]; /* absolute path of this binary */

/* Fills self_path: /proc/self/exe where it exists (Linux), else argv[0]
 * made absolute, else argv[0] as given. */
static void remember_self(const char *argv0)
{
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n > 0) {
        self_path[n] = '\0';
        return;
    }
    if (argv0 && realpath(argv0, self_path))
        return;
    snprintf(self_path, sizeof self_path, "%s", argv0 ? argv0 : "");
}

void spawn_init(int argc, char **argv, const spawn_role_t *roles, int nroles)
{
    remember_self(argc > 0 ? argv[0] : NULL);
    if (argc >= 3 && strcmp(argv[1], "--role") == 0)
        spawn_run_role(argc, argv, roles, nroles);
}

/* ------------------------------------------------------------------------ */
/* Environment and argv building                                            */
/* ------------------------------------------------------------------------ */

static size_t count_strings(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* Returns the index in env[0..n) of the entry naming the same variable as
 * `entry` ("NAME=..."), or n when there is none. */
static size_t find_var(char **env, size_t n, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], entry, len) == 0 && env[i][len] == '=')
            return i;
    return n;
}

/* Returns a malloc'd copy of environ (the pointer array only) with `extra`
 * applied: an entry replaces the one of the same NAME, else is appended.
 * Returns NULL when out of memory. */
static char **build_env(const char *const *extra)
{
    size_t base = count_strings((const char *const *)environ);
    char **env = malloc((base + count_strings(extra) + 1) * sizeof *env);
    if (!env)
        return NULL;
    size_t n = 0;
    for (; n < base; n++)
        env[n] = environ[n];
    for (size_t i = 0; extra && extra[i]; i++) {
        size_t at = find_var(env, n, extra[i]);
        env[at] = (char *)extra[i];
        if (at == n)
            n++;
    }
    env[n] = NULL;
    return env;
}

/* Returns a malloc'd argv: self, "--role", role, args..., NULL. */
static char **build_role_argv(const char *role, const char *const *args)
{
    size_t nargs = count_strings(args);
    char **argv = malloc((nargs + 4) * sizeof *argv);
    if (!argv)
        return NULL;
    argv[0] = self_path;
    argv[1] = (char *)"--role";
    argv[2] = (char *)role;
    for (size_t i = 0; i < nargs; i++)
        argv[3 + i] = (char *)args[i];
    argv[3 + nargs] = NULL;
    return argv;
}

/* ------------------------------------------------------------------------ */
/* Starting, waiting, killing                                               */
/* ------------------------------------------------------------------------ */

/* Sets up the attributes every child gets: empty signal mask, default
 * SIGPIPE.  Returns 0 or an errno value. */
static int init_attr(posix_spawnattr_t *attr)
{
    sigset_t none, pipe_only;
    sigemptyset(&none);
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    int rc = posix_spawnattr_init(attr);
    if (rc == 0)
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(attr, &pipe_only);
    return rc;
}

/* Adds the stdin/stdout redirections; returns 0 or an errno value. */
static int init_actions(posix_spawn_file_actions_t *fa, const char *in_path,
                        const char *out_path)
{
    int rc = posix_spawn_file_actions_init(fa);
    if (rc == 0 && in_path)
        rc = posix_spawn_file_actions_addopen(fa, 0, in_path, O_RDONLY, 0);
    if (rc == 0 && out_path)
        rc = posix_spawn_file_actions_addopen(fa, 1, out_path,
                                              O_WRONLY | O_CREAT | O_TRUNC, 0600);
    return rc;
}

/* Starts `path` with argv/env and the redirections; returns 0 or -1. */
static int start(spawn_proc_t *p, const char *path, char *const *argv,
                 const char *const *extra_env, const char *in_path, const char *out_path)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    char **env = build_env(extra_env);
    if (!env)
        return -1;
    int rc = init_attr(&attr);
    if (rc == 0) {
        rc = init_actions(&fa, in_path, out_path);
        pid_t pid = 0;
        if (rc == 0)
            rc = posix_spawn(&pid, path, &fa, &attr, argv, env);
        if (rc == 0) {
            p->pid = (long)pid;
            p->handle = NULL;
        }
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
    }
    free(env);
    if (rc != 0)
        fprintf(stderr, "  spawn %s: %s\n", path, strerror(rc));
    return rc == 0 ? 0 : -1;
}

int spawn_role(spawn_proc_t *p, const char *role, const char *const *args,
               const char *const *env)
{
    char **argv = build_role_argv(role, args);
    if (!argv)
        return -1;
    int rc = start(p, self_path, argv, env, NULL, NULL);
    free(argv);
    return rc;
}

int spawn_program(spawn_proc_t *p, const char *path, const char *const *argv,
                  const char *const *env, const char *in_path, const char *out_path)
{
    return start(p, path, (char *const *)argv, env, in_path, out_path);
}

int spawn_wait(spawn_proc_t *p, spawn_status_t *st)
{
    int status;
    pid_t r;
    do
        r = waitpid((pid_t)p->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -1;
    memset(st, 0, sizeof *st);
    if (WIFEXITED(status)) {
        st->exited = 1;
        st->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        st->signaled = 1;
        st->signal = WTERMSIG(status);
    }
    return 0;
}

int spawn_ended(const spawn_proc_t *p)
{
    siginfo_t info;
    memset(&info, 0, sizeof info); /* si_pid stays 0 while it still runs */
    return waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid != 0;
}

int spawn_kill(spawn_proc_t *p)
{
    return kill((pid_t)p->pid, SIGKILL) == 0 ? 0 : -1;
}

int spawn_setenv(const char *name, const char *value)
{
    return setenv(name, value, 1) == 0 ? 0 : -1;
}

void spawn_sleep_ms(unsigned ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

long long spawn_wall_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* ------------------------------------------------------------------------ */
/* Stopping and continuing                                                  */
/* ------------------------------------------------------------------------ */

enum { STOP_POLLS = 5000 }; /* /proc reads before spawn_stop gives up */

long spawn_self_pid(void)
{
    return (long)getpid();
}

/* The state letter and the parent pid follow the last ')' of the stat line,
 * because the command name before it may itself hold ") ". */
int spawn_proc_stat(long pid, char *state, long *ppid)
{
    char path[64], buf[512], s = 0;
    long parent = 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *close = strrchr(buf, ')');
    if (!close || sscanf(close + 1, " %c %ld", &s, &parent) != 2)
        return -1;
    if (state)
        *state = s;
    if (ppid)
        *ppid = parent;
    return 0;
}

/* The state letter of process pid, or 0 when it cannot be read. */
static char proc_state(long pid)
{
    char s = 0;
    return spawn_proc_stat(pid, &s, NULL) == 0 ? s : 0;
}

/* kill() only queues SIGSTOP: it returns before the process has stopped,
 * and until then the process runs on (and may, say, let go of a lock).  So
 * this polls /proc until the kernel reports it stopped: 'T', or 't' when a
 * tracer stopped it.  Polls back to back (a stop takes microseconds), with
 * a 1 ms sleep every 64 polls so a slow one does not cost a core. */
int spawn_stop(spawn_proc_t *p)
{
    if (kill((pid_t)p->pid, SIGSTOP) != 0)
        return -1;
    for (int i = 0; i < STOP_POLLS; i++) {
        char s = proc_state(p->pid);
        if (s == 'T' || s == 't')
            return 0;
        if (s == 0 || s == 'Z' || s == 'X')
            return -1; /* gone, or dying: it will never stop */
        spawn_sleep_ms(i % 64 == 0 ? 1 : 0);
    }
    return -1;
}

int spawn_continue(spawn_proc_t *p)
{
    return kill((pid_t)p->pid, SIGCONT) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Privileges                                                               */
/* ------------------------------------------------------------------------ */

int spawn_named_memory_persists(void)
{
    return 1;
}

int spawn_dead_holder_reported(void)
{
    void *head = NULL;
    size_t len = 0;
    return syscall(SYS_get_robust_list, 0, &head, &len) == 0 && head != NULL;
}

/* Groups first, then gid, then uid: once the uid is dropped the process can
 * no longer change the other two, so this order leaves nothing of root. */
int spawn_become_user(const char *name)
{
    struct passwd *pw = getpwnam(name);
    if (!pw || geteuid() != 0)
        return -1;
    gid_t gid = pw->pw_gid;
    uid_t uid = pw->pw_uid;
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return -1;
    return (getuid() == uid && geteuid() == uid) ? 0 : -1;
}
