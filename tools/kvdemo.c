/*
 * kvdemo.c — the quick start: two processes share settings through one kv
 * store that they find by name, with no server in between.
 *
 * `kvdemo [STORE]` creates (or attaches to) the named store STORE, "demo" by
 * default, and resets its counter.  It then starts two copies of itself: a
 * writer (`kvdemo --writer STORE`) that puts two settings and bumps the
 * counter a few times, and a reader (`kvdemo --reader STORE`) that attaches
 * read-only to the same store, prints each counter value it sees and, once
 * the writer is done, every entry.  The store outlives the demo, so kvcli
 * can inspect it afterwards.
 */
#ifndef _WIN32
#  define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define COUNTER "counter"
#define COUNTER_LAST 5

/* ---- spawning a copy of this program, and sleeping, per platform ---- */
#ifdef _WIN32
#  include <process.h>
#  include <windows.h>
typedef intptr_t proc_t;
static int spawn_self(const char *self, const char *role, const char *store, proc_t *p)
{
    const char *const argv[] = {self, role, store, NULL};
    return (*p = _spawnv(_P_NOWAIT, self, argv)) == -1 ? -1 : 0;
}
static int wait_proc(proc_t p)
{
    int status;
    return _cwait(&status, p, _WAIT_CHILD) == -1 ? -1 : status;
}
static void sleep_ms(unsigned ms) { Sleep(ms); }
#else
#  include <spawn.h>
#  include <sys/wait.h>
#  include <time.h>
extern char **environ;
typedef pid_t proc_t;
static int spawn_self(const char *self, const char *role, const char *store, proc_t *p)
{
    char *const argv[] = {(char *)self, (char *)role, (char *)store, NULL};
    return posix_spawnp(p, self, NULL, NULL, argv, environ) == 0 ? 0 : -1;
}
static int wait_proc(proc_t p)
{
    int status;
    if (waitpid(p, &status, 0) != p || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}
static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
#endif

/* Puts a text value; prints and returns any error. */
static int put_text(kv_t *kv, const char *key, const char *val)
{
    int rc = kv_put(kv, key, strlen(key), val, strlen(val), 0);
    if (rc)
        fprintf(stderr, "kvdemo: put %s: %s\n", key, kv_strerror(rc));
    return rc;
}

/* The writer: two settings, then the counter from 1 to COUNTER_LAST. */
static int writer(kv_t *kv)
{
    char num[16];
    if (put_text(kv, "config/color", "blue") || put_text(kv, "config/workers", "8"))
        return 1;
    printf("writer: put config/color=blue config/workers=8\n");
    for (int i = 1; i <= COUNTER_LAST; i++) {
        sleep_ms(100);
        snprintf(num, sizeof num, "%d", i);
        if (put_text(kv, COUNTER, num))
            return 1;
        printf("writer: put " COUNTER "=%s\n", num);
    }
    return 0;
}

/* Prints every entry, iterating with a cursor (values here are text). */
static int print_all(kv_t *kv)
{
    kv_stats_t st;
    kv_entry_t e = {0};
    uint64_t cursor = 0;
    int rc = kv_stats(kv, &st);
    if (rc == 0) {
        e.key = malloc(e.key_cap = st.key_max);
        e.val = malloc((e.val_cap = st.val_max) + 1);
        rc = e.key && e.val ? 0 : KV_ENOMEM;
    }
    while (rc == 0 && (rc = kv_next(kv, &cursor, &e)) == 0)
        printf("reader:   %.*s = %.*s\n", (int)e.key_len, (char *)e.key, (int)e.val_len,
               (char *)e.val);
    free(e.key);
    free(e.val);
    return rc == KV_ENOTFOUND ? 0 : rc;
}

/* The reader: follows the counter until the writer's last value (at most
 * ~5 s), then prints everything in the store. */
static int reader(kv_t *kv)
{
    char val[32], seen[32] = "";
    size_t len;
    for (int polls = 0; polls < 250 && atoi(seen) < COUNTER_LAST; polls++, sleep_ms(20)) {
        int rc = kv_get(kv, COUNTER, strlen(COUNTER), val, sizeof val - 1, &len);
        if (rc) {
            fprintf(stderr, "kvdemo: get " COUNTER ": %s\n", kv_strerror(rc));
            return 1;
        }
        val[len] = '\0';
        if (strcmp(val, seen) != 0)
            printf("reader: sees " COUNTER "=%s\n", strcpy(seen, val));
    }
    printf("reader: the store now holds:\n");
    return print_all(kv) ? 1 : 0;
}

/* Runs one role in its own process, with its own handle on the store. */
static int run_role(const char *role, const char *store)
{
    int writing = strcmp(role, "--writer") == 0, rc;
    kv_t *kv;
    if ((rc = kv_open(&kv, store, writing ? KV_RDWR : 0, NULL)) != 0) {
        fprintf(stderr, "kvdemo: %s: %s\n", store, kv_strerror(rc));
        return 1;
    }
    rc = writing ? writer(kv) : reader(kv);
    kv_close(kv);
    return rc;
}

int main(int argc, char **argv)
{
    const char *store = argc > 1 ? argv[1] : "demo";
    proc_t w, r;
    kv_t *kv;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the processes' lines in order */
    if (argc == 3 && (!strcmp(argv[1], "--writer") || !strcmp(argv[1], "--reader")))
        return run_role(argv[1], argv[2]);
    if ((rc = kv_open(&kv, store, KV_CREATE | KV_RDWR, NULL)) != 0) {
        fprintf(stderr, "kvdemo: %s: %s\n", store, kv_strerror(rc));
        return 1;
    }
    printf("kvdemo: %s store '%s'\n", kv_created(kv) ? "created" : "attached to", store);
    rc = put_text(kv, COUNTER, "0");
    kv_close(kv);
    if (rc || spawn_self(argv[0], "--writer", store, &w) ||
        spawn_self(argv[0], "--reader", store, &r)) {
        fprintf(stderr, "kvdemo: could not start the writer and reader\n");
        return 1;
    }
    rc = wait_proc(w) != 0;
    rc = (wait_proc(r) != 0) || rc; /* wait for both, whatever the first did */
    printf("kvdemo: %s.  The store outlives this demo; inspect it with\n"
           "  kvcli stats %s\n  kvcli list %s\nand remove it with 'kvcli destroy %s'.\n",
           rc ? "a process failed" : "done", store, store, store);
    return rc;
}
