/*
 * main.c — kvbench: kv and its peers, same keys, same workloads, one table.
 *
 * Three sections, kv first in each so the others can be compared with it:
 *   single  get hit, get miss, put overwrite, put insert, delete (and the
 *           peers' batched forms) on a small store (10k keys in 16k slots,
 *           cache-resident) and a big one (1M keys in 2M slots), and put
 *           overwrite of 4 KiB values (10k keys in 16k slots);
 *   procs   1, 2 and 4 processes, 100% get and 90% get / 10% put, on the
 *           small and big stores (systems with a per-process attach: kv,
 *           kv-opt, the floor, floor-nolock, the bare loop and the harness);
 *   ycsb    YCSB A, B and C with zipfian keys over 1M records (not Redis:
 *           a network round trip per operation would dominate the run).
 * kv-opt is kv with optimistic gets (KV_OPTIMISTIC), floor-nolock the floor
 * with gets that take no lock: the pair of rows beside kv and the floor.
 * Then summaries of those rows: the floor check (harness, bare loop, floor
 * and kv side by side, raw and net ratios; then floor-nolock and kv-opt)
 * and the processes' throughput against one process.  In every section
 * the selected systems run side by side, taking turns within each
 * repetition (the VM's speed drifts by tens of percent between runs; turns
 * keep the ratios honest).
 * The systems are in sys_*.c, the workloads in workloads.c and procs.c.
 * --memory-workload runs memory.c's mixed-size workload instead.
 * A benchmark, not a test: it prints figures and never judges them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const bench_sys_t *const systems[] = {
    &bench_sys_kv,      &bench_sys_kv_opt,       &bench_sys_kv_cache,
    &bench_sys_floor,   &bench_sys_floor_nolock, &bench_sys_bare,
    &bench_sys_harness, &bench_sys_lmdb,         &bench_sys_redis,
};
#define NSYS (sizeof systems / sizeof systems[0])
_Static_assert(NSYS <= BENCH_MAX_SYS, "BENCH_MAX_SYS too small");

static const char usage[] =
    "usage: kvbench [--quick] [--key-size N] [--value-size N] [--reps N] [--ops N]\n"
    "               [--duration-ms N] [--redis-port N] [--only SYSTEM[,SYSTEM]]\n"
    "               [--csv FILE] [--plot-data FILE]\n"
    "       kvbench --memory-workload [--redis-port N] [--memcached-port N]\n"
    "               [--memcached-lru-port N] [--csv FILE]\n"
    "  systems: kv, kv-opt, kvcache, floor, floor-nolock, bare, harness, lmdb, redis\n"
    "  (kv-opt: kv's gets without the lock; floor-nolock: the floor's likewise).\n"
    "  --quick: no big store (YCSB on the small one), fewer operations.\n"
    "  --ops: operations per repetition, for every store and YCSB (a multiple of\n"
    "  the key count when larger than it).\n"
    "  Defaults: 16-byte keys (at least 9), 32-byte values, 7 repetitions (1-63),\n"
    "  200000 operations on the small store, 1000000 on the big one and YCSB,\n"
    "  50000 on the 4 KiB one, 1000 ms per multi-process run, no servers.\n"
    "  --memory-workload: mixed-size entries in a 64 MiB budget, kv against Redis\n"
    "  and memcached (--memcached-port: a server started with -m 64 -M, which\n"
    "  refuses when full; --memcached-lru-port: one with -m 64, which evicts).\n";

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
    static const struct { const char *name; size_t field; } ports[] = {
        { "--redis-port", offsetof(bench_opts_t, redis_port) },
        { "--memcached-port", offsetof(bench_opts_t, memcached_port) },
        { "--memcached-lru-port", offsetof(bench_opts_t, memcached_lru_port) },
    };
    static const struct { const char *name; size_t field; } flags[] = {
        { "--quick", offsetof(bench_opts_t, quick) },
        { "--memory-workload", offsetof(bench_opts_t, memory_workload) },
    };
    *used = 1;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (strcmp(opt, nums[i].name) == 0)
            return number(arg, (uint32_t *)((char *)o + nums[i].field));
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (strcmp(opt, ports[i].name) == 0) {
            int rc = number(arg, &port);
            *(int *)((char *)o + ports[i].field) = (int)port;
            return rc || port == 0 || port > 65535 ? -1 : 0;
        }
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(opt, flags[i].name) == 0) {
            *(int *)((char *)o + flags[i].field) = 1;
            *used = 0;
            return 0;
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

enum { ST_SMALL, ST_BIG, ST_4K, NSTORES };

/* What one run measures: the stores (off: skipped by --quick), their keys
 * and the YCSB sequences, which run on the largest store measured. */
typedef struct plan {
    bench_store_t st[NSTORES];
    bench_keys_t keys[NSTORES];
    int on[NSTORES];
    size_t ycsb_store;
    uint32_t *seq[3];
    uint64_t ycsb_ops;
} plan_t;

/* The machine's 1-minute load average, or -1 if unknown. */
static double load_now(void)
{
    double load;
    return getloadavg(&load, 1) == 1 ? load : -1;
}

static void print_header(const bench_opts_t *o, const plan_t *p)
{
    printf("kvbench: %u-byte keys, %u-byte values unless a store says otherwise; median of %u\n"
           "repetitions after 1 warm-up, the systems taking turns within each repetition\n",
           o->key_size, o->val_size, o->reps);
    for (size_t i = 0; i < NSTORES; i++)
        if (p->on[i])
            printf("%s store: %u keys in %llu slots, %u-byte values, %llu operations per "
                   "repetition\n",
                   p->st[i].label, p->st[i].keys, (unsigned long long)p->st[i].slots,
                   p->keys[i].val_size, (unsigned long long)p->st[i].ops);
    for (size_t i = 0; i < NSYS; i++)
        if (systems[i]->max_ops && selected(o, i))
            printf("%s times at most %llu operations per repetition (a random subset of keys)\n",
                   systems[i]->name, (unsigned long long)systems[i]->max_ops);
    printf("processes: median of %d runs of %u ms per system, the systems taking turns\n",
           PROCS_REPS, o->duration_ms);
    printf("ns/op: this process's CPU time per operation (time it spent descheduled is left\n"
           "out), but wall-clock time for redis (a round trip waits) and the processes;\n"
           "vs kv = ns/op / kv's ns/op for the same workload and store (> 1: slower than kv);\n"
           "batched rows are compared with kv's unbatched workload;\n"
           "spread = (slowest - fastest repetition) / median: this run's noise;\n"
           "on-cpu = CPU time / wall-clock time (median): the share of a core the run had\n"
           "machine: %ld cores, 1-minute load average %.2f at the start\n",
           sysconf(_SC_NPROCESSORS_ONLN), load_now());
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

static void run_sections(const bench_opts_t *o, const plan_t *p)
{
    const bench_sys_t *sys[NSYS];
    size_t n;
    if ((n = section_systems(o, BENCH_SEC_SINGLE, sys)) != 0) {
        report_section("== single process ==");
        for (size_t s = 0; s < NSTORES; s++)
            if (p->on[s])
                single_section(sys, n, &p->st[s], &p->keys[s], o);
    }
    if ((n = section_systems(o, BENCH_SEC_PROCS, sys)) != 0) {
        report_section("== processes: 100% get, then 90% get / 10% put overwrite, random "
                       "keys, ns/op = 1e9 / total ops/s ==");
        for (size_t s = ST_SMALL; s <= ST_BIG; s++)
            if (p->on[s])
                procs_section(sys, n, &p->st[s], &p->keys[s], o);
    }
    if ((n = section_systems(o, BENCH_SEC_YCSB, sys)) != 0) {
        report_section("== YCSB, zipfian keys (theta 0.99, scrambled) ==");
        ycsb_section(sys, n, &p->st[p->ycsb_store], &p->keys[p->ycsb_store], o, p->seq,
                     p->ycsb_ops);
    }
    report_floor_check();
    report_procs_scaling();
    printf("\nmachine: 1-minute load average %.2f at the end\n", load_now());
}

/* Sizes the stores and makes their inputs; 0 or BENCH_ERR. */
static int plan_make(plan_t *p, const bench_opts_t *o)
{
    static const unsigned update_pct[3] = { 50, 5, 0 };
    static const uint64_t ycsb_seed = UINT64_C(0x5943534221);
    const bench_store_t st[NSTORES] = {
        { "small", 10000, 16384, o->quick ? 50000 : 200000, 0, BENCH_W_ALL },
        { "big", 1000000, 2097152, 1000000, 0, BENCH_W_ALL },
        { "4k", 10000, 16384, o->quick ? 20000 : 50000, 4096, BENCH_W_OVERWRITE },
    };
    int rc = 0;
    p->ycsb_store = o->quick ? ST_SMALL : ST_BIG;
    p->ycsb_ops = o->ops ? o->ops : o->quick ? 100000 : 1000000;
    for (size_t s = 0; s < NSTORES && !rc; s++) {
        p->st[s] = st[s];
        p->st[s].ops = store_ops(o, st[s].keys, st[s].ops);
        p->on[s] = !(o->quick && s == ST_BIG);
        if (p->on[s])
            rc = keys_make(&p->keys[s], st[s].keys, o->key_size,
                           st[s].val_size ? st[s].val_size : o->val_size);
    }
    for (int w = 0; w < 3 && !rc; w++)
        rc = mix_make(&p->seq[w], p->ycsb_ops, p->st[p->ycsb_store].keys, update_pct[w], 1,
                      ycsb_seed + update_pct[w]);
    return rc;
}

static void plan_free(plan_t *p)
{
    for (size_t s = 0; s < NSTORES; s++)
        keys_free(&p->keys[s]);
    for (int w = 0; w < 3; w++)
        free(p->seq[w]);
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    plan_t plan;
    int rc;
    memset(&plan, 0, sizeof plan);
    if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
        return procs_worker(argc - 2, argv + 2);
    if (parse_args(argc, argv, &o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    if ((rc = report_open(&o)) == 0 && o.memory_workload) {
        rc = memory_workload(&o);
    } else if (rc == 0 && (rc = plan_make(&plan, &o)) == 0) {
        print_header(&o, &plan);
        run_sections(&o, &plan);
    }
    plan_free(&plan);
    if (report_close() != 0)
        rc = BENCH_ERR;
    if (rc)
        fprintf(stderr, "kvbench: %s\n", bench_last_error());
    return rc ? 1 : 0;
}
