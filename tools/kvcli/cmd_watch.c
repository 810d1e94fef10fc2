/*
 * cmd_watch.c — the commands that wait: watch (print a key's value or the
 * store's generation, then again on each change) and hold (keep the store
 * open, which on Windows keeps named memory alive).  Both run until SIGINT
 * or SIGTERM, or until their --timeout.
 *
 * The one non-C11 part: on POSIX systems catch_stop_signals() installs the
 * SIGINT/SIGTERM handler with sigaction() (SA_RESTART, so a signal never
 * fails a write to stdout), elsewhere with C's signal().
 */
#if defined(__unix__) || defined(__APPLE__)
#  define _POSIX_C_SOURCE 200809L /* sigaction(); must precede every #include */
#  define KVCLI_SIGACTION 1
#endif
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define WATCH_SLICE_MS 200u /* longest single wait of watch, so signals are seen */

/* Set by SIGINT or SIGTERM while watch runs; watch then ends with exit 0. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
#ifdef KVCLI_SIGACTION
    (void)sig;
#else
    signal(sig, on_stop_signal); /* C's signal() may reset the handler to SIG_DFL */
#endif
    stop_requested = 1;
}

/* Makes SIGINT and SIGTERM set stop_requested instead of killing kvcli.  The
 * handler is installed even when the signal was ignored (as it is for a
 * background job of a non-interactive shell), so `kill -INT` always ends a
 * watch cleanly. */
static void catch_stop_signals(void)
{
#ifdef KVCLI_SIGACTION
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
#else
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
#endif
}

/* Returns 1 when the watch should end (a stop signal, or --timeout has run
 * out at `deadline`), else 0 with *slice set to how long the next wait may
 * last: at most WATCH_SLICE_MS, so a signal is noticed within that. */
static int watch_over(const cli_t *c, uint64_t deadline, uint32_t *slice)
{
    uint64_t now;

    *slice = WATCH_SLICE_MS;
    if (stop_requested)
        return 1;
    if (!c->has_watch_for)
        return 0;
    if ((now = cli_now_ms()) >= deadline)
        return 1;
    if (deadline - now < *slice)
        *slice = (uint32_t)(deadline - now);
    return 0;
}

/* Prints one line of a key's watch: its value, or that it is absent. */
static void print_watched_value(const cli_t *c, const cli_bytes_t *v, int present,
                                uint64_t version)
{
    if (c->json) {
        printf("{\"version\":%" PRIu64 ",", version);
        if (present)
            cli_put_json_bytes(stdout, "value", v->buf, v->len);
        else
            fputs("\"value\":null", stdout);
        fputs("}\n", stdout);
    } else if (present) {
        cli_put_escaped(stdout, v->buf, v->len);
        fputc('\n', stdout);
    } else
        fputs("(absent)\n", stdout);
    fflush(stdout);
}

/* Fails with the holder of a lock that a watch could not take in time. */
static int stuck_lock(const cli_t *c, kv_t *kv)
{
    kv_stats_t st;

    kv_stats(kv, &st); /* times out too, but names the holder */
    if (st.holder_pid)
        return cli_fail(c, KV_ETIMEDOUT, "the lock is stuck, held by pid %u",
                        (unsigned)st.holder_pid);
    return cli_fail(c, KV_ETIMEDOUT, "the lock is stuck");
}

/* Prints the key's value, then again after each kv_watch() that reports its
 * version changed. */
static int watch_key(cli_t *c, kv_t *kv, uint64_t deadline)
{
    const char *key = c->arg[0];
    size_t klen = strlen(key);
    cli_bytes_t v = {NULL, 0, 0};
    kv_meta_t meta;
    uint64_t seen = 0, version = 0;
    uint32_t slice;
    int err = 0, first = 1;

    for (;;) {
        if (first || version != seen) { /* the first pass, or kv_watch saw a change */
            err = cli_read_value(kv, key, klen, &v, &meta);
            if (err != 0 && err != KV_ENOTFOUND)
                break;
            version = err ? 0 : meta.version;
            if (first || version != seen)
                print_watched_value(c, &v, err == 0, version);
            first = 0;
            seen = version;
        }
        if (watch_over(c, deadline, &slice)) {
            err = 0;
            break;
        }
        /* 0 with version == seen: nothing changed in this slice; KV_EINTR:
         * a stop signal, which watch_over sees; KV_ETIMEDOUT: the lock is
         * stuck, which a watch reports rather than waits out in silence. */
        version = seen;
        err = kv_watch(kv, key, klen, seen, slice, &version);
        if (err == KV_EINTR)
            err = 0;
        if (err != 0)
            break;
    }
    free(v.buf);
    if (err == KV_ETIMEDOUT && !stop_requested)
        return stuck_lock(c, kv);
    return err && !stop_requested ? cli_fail_key(c, err, key, klen) : CLI_OK;
}

/* Prints one line of a store's watch. */
static void print_generation(const cli_t *c, uint64_t gen)
{
    printf(c->json ? "{\"generation\":%" PRIu64 "}\n" : "generation %" PRIu64 "\n", gen);
    fflush(stdout);
}

/* Prints the store's generation, then again after each kv_wait() that
 * reports a change. */
static int watch_store(cli_t *c, kv_t *kv, uint64_t deadline)
{
    uint64_t seen, gen;
    uint32_t slice;
    int err = kv_generation(kv, &seen);

    if (err == 0)
        print_generation(c, seen);
    while (err == 0 || err == KV_EINTR) { /* KV_EINTR: watch_over sees the signal */
        if (watch_over(c, deadline, &slice)) {
            err = 0;
            break;
        }
        err = kv_wait(kv, seen, slice, &gen);
        if (err == 0 && gen != seen) {
            print_generation(c, gen);
            seen = gen;
        }
    }
    return err && !stop_requested ? cli_fail(c, err, NULL) : CLI_OK;
}

static int cmd_watch(cli_t *c, kv_t *kv)
{
    uint64_t now = cli_now_ms();
    uint64_t deadline = c->watch_for_ms > UINT64_MAX - now ? UINT64_MAX
                                                           : now + c->watch_for_ms;

    catch_stop_signals();
    return c->nargs ? watch_key(c, kv, deadline) : watch_store(c, kv, deadline);
}

const cli_command_t cli_cmd_watch = {
    .name = "watch",
    .run = cmd_watch,
    .open = OPEN_READ,
    .options = OPT_WATCH_FOR | OPT_JSON,
    .min_args = 0, .max_args = 1,
    .synopsis = "STORE [KEY] [--timeout DURATION] [--json]",
    .summary = "print KEY's value, then again each time it changes (or the store's changes)",
    .details =
        "With KEY: prints KEY's value on one line (escaped as 'list' escapes keys),\n"
        "or '(absent)', then one such line each time KEY's version changes: it is\n"
        "written, deleted or expires.  Without KEY: prints 'generation N', the\n"
        "store's change counter, then one such line each time the store changes.\n"
        "Changes that come closer together than kvcli can read them may show as\n"
        "one line.  Standard output is flushed after every line.  Runs until\n"
        "interrupted (SIGINT or SIGTERM: exit 0) or until --timeout.\n"
        "  --timeout DURATION   stop after DURATION, with exit 0.  After 'watch',\n"
        "                       --timeout is this; to set the lock timeout, give\n"
        "                       --timeout before the command\n"
        "  --json   print JSON lines instead: {\"version\":N,\"value\":\"...\"} (or\n"
        "           \"value_b64\", or \"value\":null when absent), and without KEY\n"
        "           {\"generation\":N}\n"
        DURATION_HELP,
};

/* kv_wait() is the sleep: portable C has none, and waking on the store's
 * changes costs nothing but a loop. */
int cli_hold_open(cli_t *c, kv_t *kv)
{
    uint64_t now = cli_now_ms(), gen = 0;
    uint64_t deadline = c->watch_for_ms > UINT64_MAX - now ? UINT64_MAX
                                                           : now + c->watch_for_ms;
    uint32_t slice;
    int err;

    catch_stop_signals();
    fflush(stdout);
    while (!watch_over(c, deadline, &slice)) {
        err = kv_generation(kv, &gen);
        if (err == 0)
            err = kv_wait(kv, gen, slice, NULL);
        if (err != 0 && err != KV_EINTR)
            return cli_fail(c, err, NULL);
    }
    return CLI_OK;
}

static int cmd_hold(cli_t *c, kv_t *kv)
{
    int err = cli_cmd_create.run(c, kv); /* the line create prints */

    return err == CLI_OK ? cli_hold_open(c, kv) : err;
}

const cli_command_t cli_cmd_hold = {
    .name = "hold",
    .run = cmd_hold,
    .open = OPEN_CREATE,
    .options = OPT_MEMORY | OPT_SLOTS | OPT_KEY_MAX | OPT_VALUE_MAX | OPT_MODE | OPT_EXCLUSIVE | OPT_CACHE |
               OPT_WATCH_FOR,
    .min_args = 0, .max_args = 0,
    .synopsis = "STORE [create options] [--timeout DURATION]",
    .summary = "keep the store open (creating it if missing) until interrupted",
    .details =
        "Opens STORE as 'create' does, creating it if it is missing (the options\n"
        "are create's), prints the line 'create' prints, and keeps the store open\n"
        "until interrupted (SIGINT or SIGTERM; Ctrl-C on Windows: exit 0) or until\n"
        "--timeout.  On Windows named memory lives only while some process has it\n"
        "open, so 'kvcli hold STORE' in the background keeps a store for the\n"
        "commands that follow; elsewhere named memory stays until 'destroy', and\n"
        "hold only waits.\n"
        "  --timeout DURATION   stop holding after DURATION, with exit 0.  After\n"
        "                       'hold', --timeout is this; before it, the lock timeout\n"
        DURATION_HELP,
};
