/*
 * main.c — kvbench: kv and its peers, same keys, same workloads, one table.
 *
 * Three sections, kv first in each so the others can be compared with it:
 *   single  get hit, get miss, put overwrite, put insert, delete (and the
 *           peers' batched forms) on a small store (10k keys in 16k slots,
 *           cache-resident) and a big one (1M keys in 2M slots);
 *   procs   1, 2 and 4 processes, 90% get / 10% put, on both stores
 *           (systems with a per-process attach: kv and the floor);
 *   ycsb    YCSB A, B and C with zipfian keys over 1M records (not Redis:
 *           a network round trip per operation would dominate the run).
 * In every section the selected systems run side by side, taking turns
 * within each repetition (the VM's speed drifts by tens of percent between
 * runs; turns keep the ratios to kv honest).  The systems are in sys_*.c,
 * the workloads in workloads.c and procs.c.
 * A benchmark, not a test: it prints figures and never judges them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const bench_sys_t *const systems[] = {
    &bench_sys_kv, &bench_sys_kv_cache, &bench_sys_floor, &bench_sys_lmdb, &bench_sys_redis,
};
#define NSYS (sizeof systems / sizeof systems[0])
_Static_assert(NSYS <= BENCH_MAX_SYS, "BENCH_MAX_SYS too small");

static const char usage[] =
    "usage: kvbench [--quick] [--key-size N] [--value-size N] [--reps N] [--ops N]\n"
    "               [--duration-ms N] [--redis-port N] [--only SYSTEM[,SYSTEM]]\n"
    "               [--csv FILE] [--plot-data FILE]\n"
    "  systems: kv, kvcache, floor, lmdb, redis.  --quick: small store only, fewer operations.\n"
    "  --ops: operations per repetition, for every store and YCSB (a multiple of\n"
    "  the key count when larger than it).\n"
    "  Defaults: 16-byte keys (at least 9), 32-byte values, 7 repetitions (1-63),\n"
    "  200000 operations on the small store and 1000000 on the big one and YCSB,\n"
    "  1000 ms per multi-process run, no Redis server.\n";

const bench_sys_t *bench_find_sys(const char *name)
{
    for (size_t i = 0; i < NSYS; i++)
        if (strcmp(systems[i]->name, name) == 0)
            return systems[i];
    return NULL;
}

/* Whether the system is selected (--only, or every system). */
static int selected(const bench_opts_t *o, size_t i)
{
    return (o->systems >> i) & 1u;
}

/* ---------------------------------------------------------------------- */
/* Options                                                                 */
/* ---------------------------------------------------------------------- */

/* Parses a decimal number into *out; 0 or -1. */
static int number(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || *s == '\0' || *end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Sets o->systems from "kv,lmdb"; -1 if a name is not a system. */
static int parse_only(bench_opts_t *o, const char *list)
{
    o->systems = 0;
    for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0)) {
        size_t n = strcspn(p, ","), i = 0;
        while (i < NSYS && (strlen(systems[i]->name) != n || strncmp(p, systems[i]->name, n)))
            i++;
        if (i == NSYS)
            return -1;
        o->systems |= 1u << i;
    }
    return 0;
}

static int parse_option(bench_opts_t *o, const char *opt, const char *arg, int *used)
{
    uint32_t port = 0;
    static const struct { const char *name; size_t field; } nums[] = {
        { "--key-size", offsetof(bench_opts_t, key_size) },
        { "--value-size", offsetof(bench_opts_t, val_size) },
        { "--reps", offsetof(bench_opts_t, reps) },
        { "--ops", offsetof(bench_opts_t, ops) },
        { "--duration-ms", offsetof(bench_opts_t, duration_ms) },
    };
    *used = 1;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(opt, nums[i].name) == 0)
            return number(arg, (uint32_t *)((char *)o + nums[i].field));
    if (strcmp(opt, "--quick") == 0) {
        o->quick = 1;
        *used = 0;
        return 0;
    }
    if (strcmp(opt, "--redis-port") == 0) {
        int rc = number(arg, &port);
        o->redis_port = (int)port;
        return rc || port == 0 || port > 65535 ? -1 : 0;
    }
    if (arg && strcmp(opt, "--only") == 0)
        return parse_only(o, arg);
    if (arg && strcmp(opt, "--csv") == 0)
        o->csv_path = arg;
    else if (arg && strcmp(opt, "--plot-data") == 0)
        o->plot_path = arg;
    else
        return -1;
    return 0;
}

static int parse_args(int argc, char **argv, bench_opts_t *o)
{
    int reps_given = 0, duration_given = 0;
    *o = (bench_opts_t){ .key_size = 16, .val_size = 32, .reps = 7, .duration_ms = 1000,
                         .systems = (1u << NSYS) - 1 };
    for (int i = 1; i < argc; i++) {
        int used;
        reps_given |= strcmp(argv[i], "--reps") == 0;
        duration_given |= strcmp(argv[i], "--duration-ms") == 0;
        if (parse_option(o, argv[i], i + 1 < argc ? argv[i + 1] : NULL, &used) != 0)
            return -1;
        i += used;
    }
    if (o->quick && !reps_given)
        o->reps = 3;
    if (o->quick && !duration_given)
        o->duration_ms = 300;
    if (o->key_size < KEY_SIZE_MIN) {
        fprintf(stderr, "kvbench: --key-size must be at least %d ('k' and %d hex digits)\n",
                KEY_SIZE_MIN, KEY_DIGITS);
        return -1;
    }
    return o->reps == 0 || o->reps > 63 || o->duration_ms == 0 ? -1 : 0;
}

/* Operations per repetition on a store of `keys` keys: --ops (a whole number
 * of passes over the keys when it is larger), or the default. */
static uint64_t store_ops(const bench_opts_t *o, uint32_t keys, uint64_t dflt)
{
    if (!o->ops)
        return dflt;
    return o->ops > keys ? o->ops - o->ops % keys : o->ops;
}

/* ---------------------------------------------------------------------- */
/* Sections                                                                */
/* ---------------------------------------------------------------------- */

static void print_header(const bench_opts_t *o, const bench_store_t *st, size_t nstores)
{
    printf("kvbench: %u-byte keys, %u-byte values; median of %u repetitions after 1 warm-up,\n"
           "the systems taking turns within each repetition\n",
           o->key_size, o->val_size, o->reps);
    for (size_t i = 0; i < nstores; i++)
        printf("%s store: %u keys in %llu slots, %llu operations per repetition\n",
               st[i].label, st[i].keys, (unsigned long long)st[i].slots,
               (unsigned long long)st[i].ops);
    for (size_t i = 0; i < NSYS; i++)
        if (systems[i]->max_ops && selected(o, i))
            printf("%s times at most %llu operations per repetition (a random subset of keys)\n",
                   systems[i]->name, (unsigned long long)systems[i]->max_ops);
    printf("processes: median of %d runs of %u ms per system, the systems taking turns\n",
           PROCS_REPS, o->duration_ms);
    printf("vs kv = ns/op / kv's ns/op for the same workload and store (> 1: slower than kv);\n"
           "batched rows are compared with kv's unbatched workload\n");
}

/* The systems selected for a section, kv first; returns how many. */
static size_t section_systems(const bench_opts_t *o, unsigned section,
                              const bench_sys_t *out[NSYS])
{
    size_t n = 0;
    for (size_t i = 0; i < NSYS; i++)
        if (selected(o, i) && (systems[i]->sections & section))
            out[n++] = systems[i];
    return n;
}

static void run_sections(const bench_opts_t *o, const bench_store_t *st, bench_keys_t *keys,
                         size_t nstores, uint32_t *const seq[3], uint64_t ycsb_ops)
{
    const bench_sys_t *sys[NSYS];
    size_t n;
    if ((n = section_systems(o, BENCH_SEC_SINGLE, sys)) != 0) {
        report_section("== single process ==");
        for (size_t s = 0; s < nstores; s++)
            single_section(sys, n, &st[s], &keys[s], o);
    }
    if ((n = section_systems(o, BENCH_SEC_PROCS, sys)) != 0) {
        report_section("== processes: 90% get / 10% put overwrite, random keys, "
                       "ns/op = 1e9 / total ops/s ==");
        for (size_t s = 0; s < nstores; s++)
            procs_section(sys, n, &st[s], &keys[s], o);
    }
    if ((n = section_systems(o, BENCH_SEC_YCSB, sys)) != 0) {
        report_section("== YCSB, zipfian keys (theta 0.99, scrambled) ==");
        ycsb_section(sys, n, &st[nstores - 1], &keys[nstores - 1], o, seq, ycsb_ops);
    }
}

int main(int argc, char **argv)
{
    bench_store_t st[2] = { { "small", 10000, 16384, 200000 },
                            { "big", 1000000, 2097152, 1000000 } };
    bench_keys_t keys[2] = { { 0 }, { 0 } };
    uint32_t *seq[3] = { NULL, NULL, NULL };
    static const unsigned update_pct[3] = { 50, 5, 0 };
    bench_opts_t o;
    size_t nstores;
    uint64_t ycsb_ops;
    int rc = 0;
    if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
        return procs_worker(argc - 2, argv + 2);
    if (parse_args(argc, argv, &o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    nstores = o.quick ? 1 : 2;
    for (size_t s = 0; s < 2; s++)
        st[s].ops = store_ops(&o, st[s].keys, o.quick && s == 0 ? 50000 : st[s].ops);
    ycsb_ops = o.ops ? o.ops : o.quick ? 100000 : 1000000;
    for (size_t s = 0; s < nstores && !rc; s++)
        rc = keys_make(&keys[s], st[s].keys, o.key_size, o.val_size, 1);
    for (int w = 0; w < 3 && !rc; w++)
        rc = ycsb_make(&seq[w], ycsb_ops, st[nstores - 1].keys, update_pct[w]);
    if (!rc && (rc = report_open(&o)) == 0) {
        print_header(&o, st, nstores);
        run_sections(&o, st, keys, nstores, seq, ycsb_ops);
        rc = report_close();
    }
    if (rc)
        fprintf(stderr, "kvbench: %s\n", bench_last_error());
    for (size_t s = 0; s < 2; s++)
        keys_free(&keys[s]);
    for (int w = 0; w < 3; w++)
        free(seq[w]);
    return rc ? 1 : 0;
}
