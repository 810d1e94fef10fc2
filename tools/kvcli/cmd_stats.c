/*
 * cmd_stats.c — the commands that inspect a store: stats (every kv_stats
 * field and who holds the lock, as text or JSON) and check (kv_check's
 * report; exit 4 on corruption).
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define CHECK_REPORT_MAX 65536u /* bytes of kv_check report shown */
#define STAT_NAME_WIDTH  16 /* values start after it; a longer name ("data_largest_free")
                             * is followed by one blank */

/* The kv_stats_t fields, for printing them as text or JSON in one loop. */
enum { ST_U32, ST_U64, ST_DBL, ST_BOOL /* a uint32_t: yes/no, true/false */ };
#define STAT_FIELD(f, type, needs_lock) {#f, offsetof(kv_stats_t, f), type, needs_lock}
static const struct stat_field {
    const char *name;
    size_t offset;
    int type;
    int needs_lock; /* not filled when kv_stats times out */
} stat_fields[] = {
    STAT_FIELD(layout_version, ST_U32, 0), STAT_FIELD(slots, ST_U64, 0),
    STAT_FIELD(key_max, ST_U32, 0),        STAT_FIELD(val_max, ST_U32, 0),
    STAT_FIELD(total_bytes, ST_U64, 0),    STAT_FIELD(used, ST_U64, 1),
    STAT_FIELD(tombstones, ST_U64, 1),     STAT_FIELD(load_factor, ST_DBL, 1),
    STAT_FIELD(avg_probe, ST_DBL, 1),      STAT_FIELD(max_probe, ST_U64, 1),
    STAT_FIELD(generation, ST_U64, 1),     STAT_FIELD(recoveries, ST_U64, 1),
    STAT_FIELD(lock_timeouts, ST_U64, 0),  STAT_FIELD(hits, ST_U64, 1),
    STAT_FIELD(misses, ST_U64, 1),         STAT_FIELD(expirations, ST_U64, 1),
    STAT_FIELD(evictions, ST_U64, 1),      STAT_FIELD(cache, ST_BOOL, 1),
    STAT_FIELD(holder_pid, ST_U32, 0),     STAT_FIELD(holder_since_ms, ST_U64, 0),
    STAT_FIELD(data_bytes, ST_U64, 0),     STAT_FIELD(data_used, ST_U64, 1),
    STAT_FIELD(data_free, ST_U64, 1),      STAT_FIELD(data_largest_free, ST_U64, 1),
    STAT_FIELD(inline_entries, ST_U64, 1), STAT_FIELD(entry_bytes, ST_U64, 1),
    STAT_FIELD(dropped, ST_U64, 1),        STAT_FIELD(waits_armed, ST_U32, 1),
    STAT_FIELD(wakeups, ST_U64, 1),
};

/* Formats one stats field, for JSON if `json` (booleans differ).  Returns
 * 0, or -1 if it has no JSON form (a non-finite double). */
static int format_stat(const kv_stats_t *st, const struct stat_field *f, int json,
                       char *buf, size_t cap)
{
    const char *p = (const char *)st + f->offset;
    uint32_t u32;
    uint64_t u64;
    double d;

    if (f->type == ST_U32 || f->type == ST_BOOL) {
        memcpy(&u32, p, sizeof u32);
        if (f->type == ST_U32)
            snprintf(buf, cap, "%" PRIu32, u32);
        else
            snprintf(buf, cap, "%s", json ? (u32 ? "true" : "false") : (u32 ? "yes" : "no"));
    } else if (f->type == ST_U64) {
        memcpy(&u64, p, sizeof u64);
        snprintf(buf, cap, "%" PRIu64, u64);
    } else {
        memcpy(&d, p, sizeof d);
        snprintf(buf, cap, "%.6g", d);
        return isfinite(d) ? 0 : -1;
    }
    return 0;
}

/* Formats epoch milliseconds as ISO 8601 UTC, e.g. 2024-05-01T10:00:00.123Z. */
static void format_iso(uint64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000u);
    struct tm *tm = gmtime(&secs); /* kvcli is single-threaded */
    size_t n = tm ? strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", tm) : 0;

    if (n == 0)
        snprintf(buf, cap, "(%" PRIu64 " ms since the epoch)", ms);
    else
        snprintf(buf + n, cap - n, ".%03uZ", (unsigned)(ms % 1000u));
}

/* Describes the lock holder: "held by pid P since <ISO time> (N ms)" or
 * "free". */
static void describe_lock(const kv_stats_t *st, char *buf, size_t cap)
{
    char iso[64];
    uint64_t now = cli_now_ms();

    if (st->holder_pid == 0) {
        snprintf(buf, cap, "free");
        return;
    }
    if (st->holder_since_ms == 0) { /* stamped only once someone has waited */
        snprintf(buf, cap, "held by pid %" PRIu32, st->holder_pid);
        return;
    }
    format_iso(st->holder_since_ms, iso, sizeof iso);
    snprintf(buf, cap, "held by pid %" PRIu32 " since at least %s (%" PRIu64 " ms)",
             st->holder_pid, iso, now > st->holder_since_ms ? now - st->holder_since_ms : 0);
}

/* How much of the free data area is in pieces smaller than the largest
 * one: 0 when it is all one run (or there is none), towards 1 as it
 * scatters. */
static double fragmentation(const kv_stats_t *st)
{
    return st->data_free ? 1.0 - (double)st->data_largest_free / (double)st->data_free : 0.0;
}

/* How this kvcli's gets read (kv_stats_t.read_mode). */
static const char *read_mode_text(const kv_stats_t *st, int json)
{
    if (st->read_mode == KV_READ_ONLY)
        return json ? "read-only" : "optimistic, read-only (no write permission)";
    return st->read_mode == KV_READ_OPTIMISTIC ? "optimistic" : "locked";
}

static void print_stats_text(const cli_t *c, const kv_stats_t *st, int stuck)
{
    char buf[160];
    size_t i;

    printf("%-*s", STAT_NAME_WIDTH + 1, "store:");
    cli_put_escaped(stdout, c->store, strlen(c->store));
    fputc('\n', stdout);
    for (i = 0; i < sizeof stat_fields / sizeof stat_fields[0]; i++) {
        const struct stat_field *f = &stat_fields[i];
        format_stat(st, f, 0, buf, sizeof buf);
        printf("%s:%*s%s\n", f->name, (int)(STAT_NAME_WIDTH - strlen(f->name)), "",
               stuck && f->needs_lock ? "unknown (lock not taken)" : buf);
    }
    if (stuck)
        printf("%-*s%s\n", STAT_NAME_WIDTH + 1, "fragmentation:", "unknown (lock not taken)");
    else
        printf("%-*s%.3f\n", STAT_NAME_WIDTH + 1, "fragmentation:", fragmentation(st));
    describe_lock(st, buf, sizeof buf);
    printf("lock %s%s\n", buf, stuck ? " (stuck)" : "");
    printf("%-*s%s\n", STAT_NAME_WIDTH + 1, "reads:", read_mode_text(st, 0));
}

static void print_stats_json(const cli_t *c, const kv_stats_t *st, int stuck)
{
    char buf[160];
    size_t i;

    fputc('{', stdout);
    cli_put_json_bytes(stdout, "store", c->store, strlen(c->store));
    for (i = 0; i < sizeof stat_fields / sizeof stat_fields[0]; i++) {
        const struct stat_field *f = &stat_fields[i];
        int ok = format_stat(st, f, 1, buf, sizeof buf) == 0 && !(stuck && f->needs_lock);
        printf(",\"%s\":%s", f->name, ok ? buf : "null");
    }
    if (stuck)
        fputs(",\"fragmentation\":null", stdout);
    else
        printf(",\"fragmentation\":%.6g", fragmentation(st));
    printf(",\"read_mode\":\"%s\"", read_mode_text(st, 1));
    printf(",\"lock_stuck\":%s,\"holder_since\":", stuck ? "true" : "false");
    if (st->holder_pid) {
        uint64_t now = cli_now_ms();
        format_iso(st->holder_since_ms, buf, sizeof buf);
        cli_put_json_string(stdout, (const unsigned char *)buf, strlen(buf));
        printf(",\"held_for_ms\":%" PRIu64 "}\n",
               now > st->holder_since_ms ? now - st->holder_since_ms : 0);
    } else
        fputs("null,\"held_for_ms\":null}\n", stdout);
}

static int cmd_stats(cli_t *c, kv_t *kv)
{
    kv_stats_t st;
    char lock[160];
    int err, stuck;

    memset(&st, 0, sizeof st);
    err = kv_stats(kv, &st);
    if (err && err != KV_ETIMEDOUT)
        return cli_fail(c, err, NULL);
    stuck = err == KV_ETIMEDOUT;
    if (c->json)
        print_stats_json(c, &st, stuck);
    else
        print_stats_text(c, &st, stuck);
    if (!stuck)
        return CLI_OK;
    describe_lock(&st, lock, sizeof lock);
    return cli_fail(c, err, "lock is stuck: %s",
                    st.holder_pid ? lock : "holder unknown");
}

const cli_command_t cli_cmd_stats = {
    .name = "stats",
    .run = cmd_stats,
    .open = OPEN_READ,
    .options = OPT_JSON,
    .min_args = 0, .max_args = 0,
    .synopsis = "STORE [--json]",
    .summary = "show the store's geometry, usage, counters and lock holder",
    .details =
        "Prints every kv_stats field and who holds the lock: geometry, usage, probe\n"
        "lengths, counters (generation, recoveries, lock_timeouts, hits, misses,\n"
        "expirations, evictions, dropped), whether the store is a cache, and its data\n"
        "area: bytes in use, free, the largest free run, and fragmentation (1 - largest\n"
        "free run / free bytes).  If the lock cannot be\n"
        "taken within the timeout, prints what can be read without it (fields that\n"
        "need the lock show as unknown, or null in JSON), reports the lock as stuck\n"
        "and exits 3.\n"
        "  --json   print one JSON object, with the kv_stats field names plus\n"
        "           store, lock_stuck, holder_since (ISO 8601 UTC) and held_for_ms\n",
};

static int cmd_check(cli_t *c, kv_t *unused)
{
    kv_t *kv;
    char *report;
    size_t n;
    int err;

    (void)unused;
    /* A header too damaged to attach to is corruption too. */
    if ((err = cli_open_store(c, CLI_OPEN_READER, &c->opts, &kv)) != 0)
        return err == KV_ECORRUPT ? CLI_CORRUPT : cli_exit_for(err);
    if ((report = calloc(1, CHECK_REPORT_MAX)) == NULL) {
        kv_close(kv);
        return cli_fail(c, KV_ENOMEM, NULL);
    }
    err = kv_check(kv, report, CHECK_REPORT_MAX);
    kv_close(kv);
    n = strlen(report);
    fputs(report, stdout);
    if (n > 0 && report[n - 1] != '\n')
        fputc('\n', stdout);
    free(report);
    if (err == 0)
        printf("%s: ok\n", c->store);
    if (err == KV_ECORRUPT) {
        cli_fail(c, err, "check found problems (listed on standard output)");
        return CLI_CORRUPT;
    }
    return err ? cli_fail(c, err, NULL) : CLI_OK;
}

const cli_command_t cli_cmd_check = {
    .name = "check",
    .run = cmd_check,
    .open = OPEN_NONE,
    .min_args = 0, .max_args = 0,
    .synopsis = "STORE",
    .summary = "verify the store's header and every slot",
    .details =
        "Checks the header and every slot and prints one line per problem, or\n"
        "'STORE: ok'.  Exits 4 if the store is corrupt, including when its header\n"
        "is too damaged to open it.\n",
};
