/*
 * workloads.c — the single-process workloads, written once for every system.
 *
 * A workload is data, not code: an operation (get hit, get miss, put, del),
 * the store state it needs (full, or empty but for the keys it will insert)
 * and whether it goes through the system's batch call.  A repetition is one
 * or more rounds; a round first brings the store to the needed state
 * (untimed), then times `span` operations on keys order[0..span), handed to
 * the system as one bench_batch_t (one indirect call per round; the system
 * writes each key with key_gen() as it needs it).  span is the key count,
 * or the system's max_ops when that is smaller (a slow peer times a random
 * subset: insert then fills the rest first, so every system inserts into a
 * store of the same size).  A peer's own batches (a transaction, a
 * pipeline) take their keys as an array of pointers, written per call.
 *
 * The systems run side by side: each has its own store of the section's
 * size open throughout, and they take turns.  Each does one warm-up
 * repetition, then in each of --reps rounds each does one timed repetition
 * (who goes first rotates), and each system's median ns/op is reported with
 * its fastest and slowest repetition.  The machine's speed drifts between
 * runs; taking turns keeps a system's figure and kv's, which it is compared
 * with, measured close in time.
 *
 * The YCSB section reuses the same measurement on full stores: a repetition
 * replays a precomputed zipfian sequence of reads and updates (keys.c) as
 * one BENCH_OP_MIX batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REPS 64    /* more than --reps may be */
#define MAX_BATCH 1024 /* largest bench_sys_t.batch */

enum prep { PREP_FULL, PREP_INSERT };

typedef struct workload {
    const char *name;
    unsigned bit; /* BENCH_W_* */
    bench_op_t op;
    enum prep prep;
    int batched;
} workload_t;

static const workload_t workloads[] = {
    { "get hit", BENCH_W_GET_HIT, BENCH_OP_GET, PREP_FULL, 0 },
    { "get miss", BENCH_W_GET_MISS, BENCH_OP_MISS, PREP_FULL, 0 },
    { "put overwrite", BENCH_W_OVERWRITE, BENCH_OP_PUT, PREP_FULL, 0 },
    { "put insert", BENCH_W_INSERT, BENCH_OP_PUT, PREP_INSERT, 0 },
    { "delete", BENCH_W_DELETE, BENCH_OP_DEL, PREP_FULL, 0 },
    { "get hit", BENCH_W_GET_HIT, BENCH_OP_GET, PREP_FULL, 1 },
    { "put overwrite", BENCH_W_OVERWRITE, BENCH_OP_PUT, PREP_FULL, 1 },
    { "put insert", BENCH_W_INSERT, BENCH_OP_PUT, PREP_INSERT, 1 },
};

/* One system's open store, what the workloads know about its contents, and
 * its figures for the workload being measured. */
typedef struct run {
    const bench_sys_t *sys;
    void *h;              /* NULL: no store (note says why) */
    const bench_keys_t *k;
    unsigned char *key;   /* room for one peer batch of keys (keys_buffer) */
    uint32_t span;        /* keys per round */
    uint32_t rounds;      /* rounds per repetition */
    uint32_t missing;     /* keys order[0..missing) are absent, the rest present */
    unsigned flip;        /* which of the two values the next overwrite writes */
    int on;               /* still measuring the current workload */
    double t[MAX_REPS];   /* its ns/op (see spent_t), one per timed repetition */
    double oncpu[MAX_REPS]; /* CPU time / wall-clock time of each */
    char note[256];       /* why the store or the workload failed */
} run_t;

/* Time spent in the timed code: the thread's CPU time and wall-clock time.
 * The figures are CPU time, so that time this process spent descheduled
 * while the machine's other load ran is not in them (no operation of an
 * in-process store sleeps when one process runs alone), but for a system
 * that waits for a server, which is timed by the wall clock.  CPU / wall
 * tells how much of the machine the run had. */
typedef struct spent {
    uint64_t cpu, wall;
} spent_t;

/* One repetition of a workload `what` on r: r->rounds * r->span timed
 * operations, their time added to *spent. */
typedef int (*rep_fn)(run_t *r, const void *what, spent_t *spent);

static spent_t spent_now(void)
{
    spent_t now = { bench_cpu_ns(), bench_now_ns() };
    return now;
}

/* Adds the time since `start` to *total. */
static void spent_add(spent_t *total, spent_t start)
{
    spent_t now = spent_now();
    total->cpu += now.cpu - start.cpu;
    total->wall += now.wall - start.wall;
}

int bench_create(const bench_sys_t *sys, const bench_store_t *s, const bench_keys_t *k,
                 const bench_opts_t *o, char *name, size_t cap, void **h)
{
    const char *why = sys->unavailable ? sys->unavailable(o) : NULL;
    *h = NULL;
    snprintf(name, cap, "kvbench-%ld-%s-%s", (long)getpid(), sys->name, s->label);
    if (why)
        return bench_error("%s", why);
    return sys->create(h, name, s, k->val_size, o);
}

static uint64_t capped_ops(const bench_sys_t *sys, uint64_t ops)
{
    return sys->max_ops && ops > sys->max_ops ? sys->max_ops : ops;
}

static int median_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bench_fig_t bench_figure(double *v, unsigned n)
{
    bench_fig_t f;
    qsort(v, n, sizeof *v, median_cmp);
    f.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    f.lo = v[0];
    f.hi = v[n - 1];
    f.oncpu = 0;
    return f;
}

/* ---------------------------------------------------------------------- */
/* Operations                                                              */
/* ---------------------------------------------------------------------- */

/* One batch call of the peer's own on keys idx[0..n). */
static int do_batch(run_t *r, bench_op_t op, const uint32_t *idx, uint32_t n)
{
    const bench_keys_t *k = r->k;
    const unsigned char *keys[MAX_BATCH];
    int rc;
    for (uint32_t j = 0; j < n; j++)
        keys[j] = key_gen(r->key + (size_t)j * k->key_size, idx[j], 0);
    if (op == BENCH_OP_PUT)
        return r->sys->put_batch(r->h, keys, n, k->key_size, k->val[r->flip], k->val_size);
    rc = r->sys->get_batch(r->h, keys, n, k->key_size, k->buf, k->val_size);
    return rc == BENCH_OK ? rc : bench_unexpected(op, rc);
}

/* Runs op on keys idx[0..n): one run() call, or the peer's own batches
 * when `batched`. */
static int run_keys(run_t *r, bench_op_t op, int batched, const uint32_t *idx, uint32_t n)
{
    int rc = 0;
    if (!batched) {
        bench_batch_t b = { op, idx, n, r->k, r->key, r->k->val[r->flip] };
        return r->sys->run(r->h, &b);
    }
    for (uint32_t i = 0; i < n && !rc; i += r->sys->batch)
        rc = do_batch(r, op, idx + i, n - i < r->sys->batch ? n - i : r->sys->batch);
    return rc;
}

/* Runs op on order[from..to). */
static int do_range(run_t *r, bench_op_t op, int batched, uint32_t from, uint32_t to)
{
    return run_keys(r, op, batched, r->k->order + from, to - from);
}

/* A stride near n / golden ratio that shares no factor with n, so that
 * j * stride mod n visits 0..n-1 once each, far from the order given. */
static uint32_t scatter_stride(uint32_t n)
{
    uint64_t s = (uint64_t)n * 618 / 1000 + 1, a, b;
    for (;; s++) {
        for (a = n, b = s; b;) { /* gcd(n, s) */
            uint64_t t = a % b;
            a = b;
            b = t;
        }
        if (a == 1)
            return (uint32_t)s;
    }
}

/* Fills order[from..to) into r's store, in another order than the timed
 * rounds visit them: were the two the same, a store that places entries in
 * the order they arrive (kv's data area, LMDB's pages) would see each round
 * walk memory in address order, which the CPU's prefetchers turn into hits
 * that no real access pattern gives. */
static int fill(run_t *r, uint32_t from, uint32_t to)
{
    uint32_t n = to - from, stride, *idx;
    int rc;
    if (n == 0)
        return 0;
    if (!(idx = malloc(sizeof *idx * n)))
        return bench_error("out of memory for the fill order");
    stride = scatter_stride(n);
    for (uint32_t j = 0; j < n; j++)
        idx[j] = r->k->order[from + (uint32_t)((uint64_t)j * stride % n)];
    rc = run_keys(r, BENCH_OP_PUT, r->sys->put_batch != NULL, idx, n);
    free(idx);
    return rc;
}

/* Gives r its key buffer; 0 or BENCH_ERR. */
static int key_room(run_t *r)
{
    r->key = keys_buffer(r->k, r->sys->batch ? r->sys->batch : 1);
    return r->key ? 0 : bench_error("out of memory for keys");
}

int bench_fill(const bench_sys_t *sys, void *h, const bench_keys_t *k, uint32_t from,
               uint32_t to)
{
    run_t r = { .sys = sys, .h = h, .k = k };
    int rc = key_room(&r);
    if (!rc)
        rc = fill(&r, from, to);
    free(r.key);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Rounds and repetitions                                                  */
/* ---------------------------------------------------------------------- */

/* Brings the store to the state the workload needs (untimed). */
static int prepare(run_t *r, const workload_t *w)
{
    int rc;
    if (w->prep == PREP_INSERT) {
        if ((rc = r->sys->clear(r->h)) != 0 ||
            (rc = fill(r, r->span, r->k->count)) != 0)
            return rc;
        r->missing = r->span;
        return 0;
    }
    if (r->missing && (rc = fill(r, 0, r->missing)) != 0)
        return rc;
    r->missing = 0;
    return 0;
}

/* One repetition of workload w. */
static int repetition(run_t *r, const void *what, spent_t *spent)
{
    const workload_t *w = what;
    for (uint32_t round = 0; round < r->rounds; round++) {
        spent_t start;
        int rc = prepare(r, w);
        if (rc)
            return rc;
        start = spent_now();
        rc = do_range(r, w->op, w->batched, 0, r->span);
        spent_add(spent, start);
        if (rc)
            return rc;
        if (w->op == BENCH_OP_PUT || w->op == BENCH_OP_DEL)
            r->missing = w->op == BENCH_OP_DEL ? r->span : 0;
        r->flip ^= 1u;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Taking turns                                                            */
/* ---------------------------------------------------------------------- */

/* Keeps the last error as r's note. */
static void note_error(run_t *r)
{
    snprintf(r->note, sizeof r->note, "%s", bench_last_error());
}

/* One repetition of fn on r, its figures kept as repetition `rep`; a
 * failure takes r out of the workload, its note saying why. */
static void turn(run_t *r, rep_fn fn, const void *what, unsigned rep)
{
    spent_t spent = { 0, 0 };
    if (fn(r, what, &spent) != 0) {
        note_error(r);
        r->on = 0;
        return;
    }
    r->t[rep] = (double)(r->sys->waits ? spent.wall : spent.cpu) / ((double)r->rounds * r->span);
    r->oncpu[rep] = spent.wall ? (double)spent.cpu / (double)spent.wall : 0;
}

/* A warm-up repetition of fn on every run that is on, then reps rounds of
 * one timed repetition each, the first system rotating from round to round. */
static void measure(run_t *runs, size_t n, rep_fn fn, const void *what, unsigned reps)
{
    for (unsigned rep = 0; rep <= reps; rep++)
        for (size_t j = 0; j < n; j++) {
            run_t *r = &runs[(j + rep) % n];
            if (r->on)
                turn(r, fn, what, rep ? rep - 1 : 0);
        }
}

/* Reports r's row: its ns/op, or the note saying why there is none. */
static void report_run(run_t *r, const char *section, const bench_store_t *s,
                       const char *workload, const char *base, unsigned reps)
{
    bench_fig_t f = { 0, 0, 0, 0 };
    if (r->on) {
        f = bench_figure(r->t, reps);
        f.oncpu = bench_figure(r->oncpu, reps).median;
    }
    report_row(section, r->sys->name, s->label, workload, base, f, r->on ? NULL : r->note);
}

/* Closes r's store; its note stays for the rows that follow. */
static void drop(run_t *r)
{
    if (r->h)
        r->sys->close(r->h, 1);
    r->h = NULL;
}

/* Creates each system's store for s; one that cannot be made has h NULL
 * and a note. */
static void runs_open(run_t *runs, const bench_sys_t *const *sys, size_t n,
                      const bench_store_t *s, const bench_keys_t *k, const bench_opts_t *o)
{
    for (size_t i = 0; i < n; i++) {
        run_t *r = &runs[i];
        char name[128];
        memset(r, 0, sizeof *r);
        r->sys = sys[i];
        r->k = k;
        r->missing = k->count;
        if (key_room(r) != 0 || bench_create(r->sys, s, k, o, name, sizeof name, &r->h) != 0) {
            note_error(r);
            drop(r);
        }
    }
}

static void runs_close(run_t *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        drop(&runs[i]);
        free(runs[i].key);
    }
}

/* ---------------------------------------------------------------------- */
/* Single-process section                                                  */
/* ---------------------------------------------------------------------- */

/* Whether the system runs workload w on store s at all. */
static int takes_part(const bench_sys_t *sys, const bench_store_t *s, const workload_t *w)
{
    if ((sys->skip & w->bit) || !(s->workloads & w->bit))
        return 0;
    if (!w->batched)
        return 1;
    return w->op == BENCH_OP_PUT ? sys->put_batch != NULL : sys->get_batch != NULL;
}

/* Reports r's figure for w; after a failure empties its store, whose state
 * is unknown, so that the next workload refills it (or drops the store). */
static void finish_workload(run_t *r, const bench_store_t *s, const workload_t *w,
                            unsigned reps)
{
    char name[64];
    if (w->batched)
        snprintf(name, sizeof name, "%s [%s]", w->name, r->sys->batch_label);
    else
        snprintf(name, sizeof name, "%s", w->name);
    report_run(r, "single", s, name, w->name, reps);
    if (r->on || !r->h)
        return;
    r->missing = r->k->count;
    if (r->sys->clear(r->h) != 0) {
        note_error(r);
        drop(r);
    }
}

void single_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                    const bench_keys_t *k, const bench_opts_t *o)
{
    run_t runs[BENCH_MAX_SYS];
    runs_open(runs, sys, n, s, k, o);
    for (size_t i = 0; i < n; i++) {
        uint64_t ops = capped_ops(sys[i], s->ops);
        runs[i].span = ops < k->count ? (uint32_t)ops : k->count;
        runs[i].rounds = (uint32_t)(ops / runs[i].span);
    }
    for (size_t w = 0; w < sizeof workloads / sizeof workloads[0]; w++) {
        for (size_t i = 0; i < n; i++)
            runs[i].on = runs[i].h && takes_part(sys[i], s, &workloads[w]);
        measure(runs, n, repetition, &workloads[w], o->reps);
        for (size_t i = 0; i < n; i++)
            if (takes_part(sys[i], s, &workloads[w]))
                finish_workload(&runs[i], s, &workloads[w], o->reps);
    }
    runs_close(runs, n);
}

/* ---------------------------------------------------------------------- */
/* YCSB                                                                    */
/* ---------------------------------------------------------------------- */

/* One YCSB run over the sequence what[0..r->span). */
static int ycsb_once(run_t *r, const void *what, spent_t *spent)
{
    bench_batch_t b = { BENCH_OP_MIX, what, r->span, r->k, r->key, r->k->val[r->flip] };
    spent_t start = spent_now();
    int rc = r->sys->run(r->h, &b);
    spent_add(spent, start);
    r->flip ^= 1u;
    return rc;
}

void ycsb_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                  const bench_keys_t *k, const bench_opts_t *o, uint32_t *const seq[3],
                  uint64_t ops)
{
    static const char *const names[3] = { "A 50/50 read/update", "B 95/5 read/update",
                                          "C read only" };
    run_t runs[BENCH_MAX_SYS];
    runs_open(runs, sys, n, s, k, o);
    for (size_t i = 0; i < n; i++) {
        runs[i].span = (uint32_t)capped_ops(sys[i], ops);
        runs[i].rounds = 1;
        if (runs[i].h && fill(&runs[i], 0, k->count) != 0) {
            note_error(&runs[i]);
            drop(&runs[i]);
        }
    }
    for (int w = 0; w < 3; w++) {
        for (size_t i = 0; i < n; i++)
            runs[i].on = runs[i].h != NULL;
        measure(runs, n, ycsb_once, seq[w], o->reps);
        for (size_t i = 0; i < n; i++) {
            report_run(&runs[i], "ycsb", s, names[w], names[w], o->reps);
            if (!runs[i].on)
                drop(&runs[i]); /* a failed run's store state is unknown */
        }
    }
    runs_close(runs, n);
}
