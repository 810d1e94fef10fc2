/*
 * memory.c — the "mixed sizes" memory workload (kvbench --memory-workload):
 * how much live data kv, Redis and memcached hold in one memory budget.
 *
 * The trace is a pure function of a fixed seed (printed): key number i has
 * a length of 8-64 bytes (uniform) and is its 8 hex digits then filler, so
 * keys are distinct; values are log-normal with a median of 1 KiB (sigma
 * MEM_SIGMA) capped at 64 KiB.  The trace's mean entry (key + value) sets
 * its capacity, budget / mean entry: what a store with no overhead at all
 * would hold.  Two phases, each on a new, empty store of the budget:
 *   fill   keys 0, 1, 2, ... each with its own value size, into a store
 *          that refuses what it has no room for, until the first refusal;
 *   churn  10 x capacity puts into a store that evicts, keys drawn
 *          uniformly from 2 x capacity of them and every put's size drawn
 *          afresh (an overwrite changes the entry's size).
 * Every system gets the same trace.  What a store holds at the end is
 * counted the same way for every system, by reading back: every key the
 * phase may have left is read, and one that comes back with the length
 * last written for it counts its key and value bytes as live (one with
 * another length is counted apart, as wrong; there should be none).  The
 * figure is live bytes / budget.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MEM_BUDGET   (UINT64_C(64) << 20)
#define MEM_SEED     UINT64_C(0x6d697865642d3634) /* "mixed-64" */
#define MEM_KEY_MIN  8u
#define MEM_KEY_MAX  64u
#define MEM_VAL_MAX  65536u
#define MEM_MEDIAN   1024.0
#define MEM_SIGMA    1.2
#define MEM_KEYS     (1u << 17) /* fill keys: about 4 x capacity, more than any store holds */
#define MEM_CHURN_X  10u        /* churn puts per unit of capacity */
#define NO_VALUE     UINT32_MAX /* last_len of a key never written */

static const bench_mem_sys_t *const mem_systems[] = { &bench_mem_kv, &bench_mem_kv_2k,
                                                      &bench_mem_redis, &bench_mem_memcached };
#define NMEM (sizeof mem_systems / sizeof mem_systems[0])

typedef struct trace {
    uint8_t key_len[MEM_KEYS];
    uint32_t fill_len[MEM_KEYS]; /* key i's value size in the fill */
    double mean_entry;           /* over the fill's keys and values */
    uint32_t capacity;           /* budget / mean_entry */
    uint32_t churn_keys;         /* churn draws keys 0..churn_keys-1 */
    uint32_t churn_ops;
    uint32_t *churn_key, *churn_len;
} trace_t;

/* What one phase left in one store. */
typedef struct held {
    uint64_t entries, live_bytes, wrong;
} held_t;

/* A value size: log-normal (Box-Muller), capped. */
static uint32_t draw_value(uint64_t *rng)
{
    double u1 = 1.0 - bench_rand_unit(rng), u2 = bench_rand_unit(rng);
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    double v = exp(log(MEM_MEDIAN) + MEM_SIGMA * z);
    return v >= MEM_VAL_MAX ? MEM_VAL_MAX : (uint32_t)v;
}

static int trace_make(trace_t *t)
{
    uint64_t rng = MEM_SEED, total = 0;
    for (uint32_t i = 0; i < MEM_KEYS; i++) {
        t->key_len[i] = (uint8_t)(MEM_KEY_MIN + bench_rand(&rng) % (MEM_KEY_MAX - MEM_KEY_MIN + 1));
        t->fill_len[i] = draw_value(&rng);
        total += t->key_len[i] + (uint64_t)t->fill_len[i];
    }
    t->mean_entry = (double)total / MEM_KEYS;
    t->capacity = (uint32_t)((double)MEM_BUDGET / t->mean_entry);
    t->churn_keys = 2 * t->capacity;
    t->churn_ops = MEM_CHURN_X * t->capacity;
    t->churn_key = malloc(sizeof *t->churn_key * t->churn_ops);
    t->churn_len = malloc(sizeof *t->churn_len * t->churn_ops);
    if (!t->churn_key || !t->churn_len)
        return bench_error("out of memory for the churn trace");
    for (uint32_t i = 0; i < t->churn_ops; i++) {
        t->churn_key[i] = (uint32_t)(((bench_rand(&rng) >> 32) * t->churn_keys) >> 32);
        t->churn_len[i] = draw_value(&rng);
    }
    return 0;
}

/* Writes key i of the trace into key[0..MEM_KEY_MAX); returns its length. */
static size_t mem_key(const trace_t *t, unsigned char *key, uint32_t i)
{
    hex_digits(key, i);
    return t->key_len[i];
}

/* Reads back keys 0..n-1, each expected with the length last_len[i]. */
static int read_back(const bench_mem_sys_t *sys, void *h, const trace_t *t,
                     const uint32_t *last_len, uint32_t n, unsigned char *buf, held_t *held)
{
    unsigned char key[MEM_KEY_MAX];
    memset(key, 'f', sizeof key);
    memset(held, 0, sizeof *held);
    for (uint32_t i = 0; i < n; i++) {
        size_t klen = mem_key(t, key, i), vlen = 0;
        int rc = sys->get(h, key, klen, buf, MEM_VAL_MAX, &vlen);
        if (rc < 0)
            return rc;
        if (rc == BENCH_MISS)
            continue;
        if (vlen != last_len[i]) {
            held->wrong++;
            continue;
        }
        held->entries++;
        held->live_bytes += klen + vlen;
    }
    return 0;
}

/* The fill: keys 0, 1, ... until the first refusal; *stored gets how many
 * were stored. */
static int fill(const bench_mem_sys_t *sys, void *h, const trace_t *t, const unsigned char *val,
                uint32_t *stored)
{
    unsigned char key[MEM_KEY_MAX];
    memset(key, 'f', sizeof key);
    for (*stored = 0; *stored < MEM_KEYS; ++*stored) {
        int rc = sys->put(h, key, mem_key(t, key, *stored), val, t->fill_len[*stored]);
        if (rc == BENCH_FULL)
            return 0;
        if (rc != BENCH_OK)
            return rc;
    }
    return bench_error("no refusal after %u entries", MEM_KEYS);
}

/* The churn; last_len[k] gets the size last written to key k. */
static int churn(const bench_mem_sys_t *sys, void *h, const trace_t *t, const unsigned char *val,
                 uint32_t *last_len)
{
    unsigned char key[MEM_KEY_MAX];
    memset(key, 'f', sizeof key);
    for (uint32_t k = 0; k < t->churn_keys; k++)
        last_len[k] = NO_VALUE;
    for (uint32_t i = 0; i < t->churn_ops; i++) {
        uint32_t k = t->churn_key[i];
        int rc = sys->put(h, key, mem_key(t, key, k), val, t->churn_len[i]);
        if (rc != BENCH_OK)
            return rc == BENCH_FULL ? bench_error("refused a put in cache mode") : rc;
        last_len[k] = t->churn_len[i];
    }
    return 0;
}

/* Runs one phase on one system and reports its row. */
static void phase(const bench_mem_sys_t *sys, int evicting, const trace_t *t,
                  const unsigned char *val, uint32_t *last_len, unsigned char *buf,
                  const bench_opts_t *o)
{
    const char *name = evicting ? "churn" : "fill";
    const char *why = sys->unavailable ? sys->unavailable(o) : NULL;
    char about[256] = "", note[384];
    held_t held = { 0, 0, 0 };
    uint64_t t0 = bench_now_ns();
    uint32_t stored = 0;
    void *h = NULL;
    int rc = why ? bench_error("%s", why)
                 : sys->open(&h, MEM_BUDGET, MEM_KEY_MAX, MEM_VAL_MAX, evicting, o, about,
                             sizeof about);
    if (rc == 0 && !evicting && (rc = fill(sys, h, t, val, &stored)) == 0)
        rc = read_back(sys, h, t, t->fill_len, stored, buf, &held);
    if (rc == 0 && evicting && (rc = churn(sys, h, t, val, last_len)) == 0)
        rc = read_back(sys, h, t, last_len, t->churn_keys, buf, &held);
    if (h)
        sys->close(h);
    if (rc != 0)
        snprintf(note, sizeof note, "%s%s%s", about, about[0] ? "; " : "", bench_last_error());
    else if (evicting)
        snprintf(note, sizeof note, "%s; %llu wrong; %.1f s", about,
                 (unsigned long long)held.wrong, (double)(bench_now_ns() - t0) / 1e9);
    else
        snprintf(note, sizeof note, "%s; refused entry %u; %llu wrong; %.1f s", about, stored + 1,
                 (unsigned long long)held.wrong, (double)(bench_now_ns() - t0) / 1e9);
    report_mem_row(name, sys->name, rc ? 0 : (double)held.live_bytes / MEM_BUDGET,
                   held.entries, held.live_bytes, note);
}

int memory_workload(const bench_opts_t *o)
{
    trace_t *t = calloc(1, sizeof *t);
    unsigned char *val = malloc(MEM_VAL_MAX), *buf = malloc(MEM_VAL_MAX);
    uint32_t *last_len = NULL;
    int rc = t && val && buf ? trace_make(t) : bench_error("out of memory");
    if (rc == 0 && !(last_len = malloc(sizeof *last_len * t->churn_keys)))
        rc = bench_error("out of memory");
    if (rc == 0) {
        memset(val, 'v', MEM_VAL_MAX);
        report_line("kvbench --memory-workload: mixed sizes in a %llu MiB budget; seed 0x%llx\n"
                    "keys %u-%u B (uniform), values log-normal, median %.0f B, sigma %.1f, "
                    "capped at %u B; mean entry %.0f B, capacity (budget / mean entry) %u\n"
                    "fill: keys 0, 1, ... into a store that refuses when full, until the first "
                    "refusal\nchurn: %u puts (%u x capacity), keys uniform over %u, sizes "
                    "redrawn, into a store that evicts\n"
                    "live = key + value bytes read back with the length last written; "
                    "live/budget = live / %llu\n",
                    (unsigned long long)(MEM_BUDGET >> 20), (unsigned long long)MEM_SEED,
                    MEM_KEY_MIN, MEM_KEY_MAX, MEM_MEDIAN, MEM_SIGMA, MEM_VAL_MAX, t->mean_entry,
                    t->capacity, t->churn_ops, MEM_CHURN_X, t->churn_keys,
                    (unsigned long long)MEM_BUDGET);
        for (int evicting = 0; evicting < 2; evicting++)
            for (size_t i = 0; i < NMEM; i++)
                phase(mem_systems[i], evicting, t, val, last_len, buf, o);
    }
    if (t) {
        free(t->churn_key);
        free(t->churn_len);
    }
    free(t);
    free(val);
    free(buf);
    free(last_len);
    return rc;
}
