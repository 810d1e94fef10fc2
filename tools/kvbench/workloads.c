/*
 * workloads.c — the single-process workloads, written once for every system.
 *
 * A workload is data, not code: an operation (get hit, get miss, put, del),
 * the store state it needs (full, or empty but for the keys it will insert)
 * and whether it goes through the system's batch call.  A repetition is one
 * or more rounds; a round first brings the store to the needed state
 * (untimed), then times `span` operations on keys order[0..span).  span is
 * the key count, or the system's max_ops when that is smaller (a slow peer
 * times a random subset: insert then fills the rest first, so every system
 * inserts into a store of the same size).  One warm-up repetition, then
 * --reps timed ones; the median ns/op is reported.
 *
 * The YCSB section reuses the same measurement on a full store: a run
 * replays a precomputed zipfian sequence of reads and updates (keys.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REPS 64
#define MAX_BATCH 1024 /* largest bench_sys_t.batch */

enum op { OP_GET, OP_MISS, OP_PUT, OP_DEL };
enum prep { PREP_FULL, PREP_INSERT };

typedef struct workload {
    const char *name;
    unsigned bit; /* BENCH_W_* */
    enum op op;
    enum prep prep;
    int batched;
} workload_t;

static const workload_t workloads[] = {
    { "get hit", BENCH_W_GET_HIT, OP_GET, PREP_FULL, 0 },
    { "get miss", BENCH_W_GET_MISS, OP_MISS, PREP_FULL, 0 },
    { "put overwrite", BENCH_W_OVERWRITE, OP_PUT, PREP_FULL, 0 },
    { "put insert", BENCH_W_INSERT, OP_PUT, PREP_INSERT, 0 },
    { "delete", BENCH_W_DELETE, OP_DEL, PREP_FULL, 0 },
    { "get hit", BENCH_W_GET_HIT, OP_GET, PREP_FULL, 1 },
    { "put overwrite", BENCH_W_OVERWRITE, OP_PUT, PREP_FULL, 1 },
    { "put insert", BENCH_W_INSERT, OP_PUT, PREP_INSERT, 1 },
};

/* One system's open store and what the workloads know about its contents. */
typedef struct run {
    const bench_sys_t *sys;
    void *h;
    const bench_keys_t *k;
    uint32_t span;    /* keys per round */
    uint32_t rounds;  /* rounds per repetition */
    uint32_t missing; /* keys order[0..missing) are absent, the rest present */
    unsigned flip;    /* which of the two values the next overwrite writes */
} run_t;

int bench_create(const bench_sys_t *sys, const bench_store_t *s, const bench_opts_t *o,
                 char *name, size_t cap, void **h)
{
    const char *why = sys->unavailable ? sys->unavailable(o) : NULL;
    *h = NULL;
    snprintf(name, cap, "kvbench-%ld-%s-%s", (long)getpid(), sys->name, s->label);
    if (why)
        return bench_error("%s", why);
    return sys->create(h, name, s, o);
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

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, median_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---------------------------------------------------------------------- */
/* Operations                                                              */
/* ---------------------------------------------------------------------- */

/* Checks one result against what the workload expects of it. */
static int expect(int rc, int want, const char *what)
{
    if (rc == want || rc < 0)
        return rc < 0 ? rc : 0;
    return bench_error("%s: unexpected %s", what, rc == BENCH_MISS ? "miss" : "hit");
}

/* One operation on key order[i]. */
static int do_one(run_t *r, enum op op, uint32_t i)
{
    const bench_keys_t *k = r->k;
    const unsigned char *key = keys_at(op == OP_MISS ? k->absent : k->present, k, k->order[i]);
    switch (op) {
    case OP_GET:
        return expect(r->sys->get(r->h, key, k->key_size, k->buf, k->val_size), BENCH_OK, "get");
    case OP_MISS:
        return expect(r->sys->get(r->h, key, k->key_size, k->buf, k->val_size), BENCH_MISS, "get");
    case OP_PUT:
        return r->sys->put(r->h, key, k->key_size, k->val[r->flip], k->val_size);
    case OP_DEL:
        return expect(r->sys->del(r->h, key, k->key_size), BENCH_OK, "del");
    }
    return BENCH_ERR;
}

/* One batch call on keys order[from..from+n). */
static int do_batch(run_t *r, enum op op, uint32_t from, uint32_t n)
{
    const bench_keys_t *k = r->k;
    const unsigned char *keys[MAX_BATCH];
    for (uint32_t j = 0; j < n; j++)
        keys[j] = keys_at(k->present, k, k->order[from + j]);
    if (op == OP_PUT)
        return r->sys->put_batch(r->h, keys, n, k->key_size, k->val[r->flip], k->val_size);
    return expect(r->sys->get_batch(r->h, keys, n, k->key_size, k->buf, k->val_size),
                  BENCH_OK, "batched get");
}

/* Runs op on order[from..to), through the batch call when `batched`. */
static int do_range(run_t *r, enum op op, int batched, uint32_t from, uint32_t to)
{
    int rc = 0;
    if (!batched) {
        for (uint32_t i = from; i < to && !rc; i++)
            rc = do_one(r, op, i);
        return rc;
    }
    for (uint32_t i = from; i < to && !rc; i += r->sys->batch) {
        uint32_t n = to - i < r->sys->batch ? to - i : r->sys->batch;
        rc = do_batch(r, op, i, n);
    }
    return rc;
}

int bench_fill(const bench_sys_t *sys, void *h, const bench_keys_t *k, uint32_t from,
               uint32_t to)
{
    run_t r = { sys, h, k, 0, 0, 0, 0 };
    return do_range(&r, OP_PUT, sys->put_batch != NULL, from, to);
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
            (rc = bench_fill(r->sys, r->h, r->k, r->span, r->k->count)) != 0)
            return rc;
        r->missing = r->span;
        return 0;
    }
    if (r->missing && (rc = bench_fill(r->sys, r->h, r->k, 0, r->missing)) != 0)
        return rc;
    r->missing = 0;
    return 0;
}

/* One repetition of workload w; *ns gets its ns/op. */
static int repetition(run_t *r, const void *what, double *ns)
{
    const workload_t *w = what;
    uint64_t total = 0;
    for (uint32_t round = 0; round < r->rounds; round++) {
        uint64_t t0;
        int rc = prepare(r, w);
        if (rc)
            return rc;
        t0 = bench_now_ns();
        rc = do_range(r, w->op, w->batched, 0, r->span);
        total += bench_now_ns() - t0;
        if (rc)
            return rc;
        if (w->op == OP_PUT || w->op == OP_DEL)
            r->missing = w->op == OP_DEL ? r->span : 0;
        r->flip ^= 1u;
    }
    *ns = (double)total / ((double)r->rounds * r->span);
    return 0;
}

/* A warm-up run of fn, then reps timed ones; *ns gets the median ns/op. */
static int measure(run_t *r, int (*fn)(run_t *, const void *, double *), const void *what,
                   unsigned reps, double *ns)
{
    double t[MAX_REPS];
    int rc = fn(r, what, &t[0]);
    for (unsigned i = 0; i < reps && !rc; i++)
        rc = fn(r, what, &t[i]);
    if (!rc)
        *ns = median(t, reps);
    return rc;
}

/* Whether the system runs workload w at all. */
static int runs(const bench_sys_t *sys, const workload_t *w)
{
    if (sys->skip & w->bit)
        return 0;
    if (!w->batched)
        return 1;
    return w->op == OP_PUT ? sys->put_batch != NULL : sys->get_batch != NULL;
}

static void report_workload(const bench_sys_t *sys, const bench_store_t *s,
                            const workload_t *w, double ns, const char *note)
{
    char name[64];
    if (w->batched)
        snprintf(name, sizeof name, "%s [%s]", w->name, sys->batch_label);
    else
        snprintf(name, sizeof name, "%s", w->name);
    report_row("single", sys->name, s->label, name, w->name, ns, note);
}

/* ---------------------------------------------------------------------- */
/* Sections                                                                */
/* ---------------------------------------------------------------------- */

/* Creates the store for s; NULL on failure (bench_last_error() says why). */
static void *open_store(const bench_sys_t *sys, const bench_store_t *s, const bench_opts_t *o)
{
    char name[128];
    void *h;
    return bench_create(sys, s, o, name, sizeof name, &h) == 0 ? h : NULL;
}

void single_section(const bench_sys_t *sys, const bench_store_t *s, const bench_keys_t *k,
                    const bench_opts_t *o)
{
    uint64_t ops = capped_ops(sys, s->ops);
    run_t r = { sys, open_store(sys, s, o), k, 0, 0, k->count, 0 };
    r.span = ops < k->count ? (uint32_t)ops : k->count;
    r.rounds = (uint32_t)(ops / r.span);
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
        const workload_t *w = &workloads[i];
        double ns = 0;
        if (!runs(sys, w))
            continue;
        if (!r.h || measure(&r, repetition, w, o->reps, &ns) != 0) {
            report_workload(sys, s, w, 0, bench_last_error());
            if (!r.h)
                continue;
            r.missing = k->count; /* unknown state: refill everything */
            if (sys->clear(r.h) != 0)
                break;
        } else {
            report_workload(sys, s, w, ns, NULL);
        }
    }
    if (r.h)
        sys->close(r.h, 1);
}

/* ---------------------------------------------------------------------- */
/* YCSB                                                                    */
/* ---------------------------------------------------------------------- */

/* One YCSB run over the sequence what[0..r->span); *ns gets its ns/op. */
static int ycsb_once(run_t *r, const void *what, double *ns)
{
    const uint32_t *seq = what;
    const bench_keys_t *k = r->k;
    uint64_t t0 = bench_now_ns();
    int rc = 0;
    for (uint32_t i = 0; i < r->span && !rc; i++) {
        const unsigned char *key = keys_at(k->present, k, seq[i] & ~YCSB_UPDATE);
        if (seq[i] & YCSB_UPDATE)
            rc = r->sys->put(r->h, key, k->key_size, k->val[i & 1], k->val_size);
        else
            rc = expect(r->sys->get(r->h, key, k->key_size, k->buf, k->val_size), BENCH_OK,
                        "get");
    }
    *ns = (double)(bench_now_ns() - t0) / r->span;
    return rc;
}

void ycsb_section(const bench_sys_t *sys, const bench_store_t *s, const bench_keys_t *k,
                  const bench_opts_t *o, uint32_t *const seq[3], uint64_t ops)
{
    static const char *const names[3] = { "A 50/50 read/update", "B 95/5 read/update",
                                          "C read only" };
    run_t r = { sys, open_store(sys, s, o), k, (uint32_t)capped_ops(sys, ops), 1, 0, 0 };
    int rc = r.h ? bench_fill(sys, r.h, k, 0, k->count) : BENCH_ERR;
    for (int w = 0; w < 3; w++) {
        double ns = 0;
        if (!rc)
            rc = measure(&r, ycsb_once, seq[w], o->reps, &ns);
        report_row("ycsb", sys->name, s->label, names[w], names[w], rc ? 0 : ns,
                   rc ? bench_last_error() : NULL);
    }
    if (r.h)
        sys->close(r.h, 1);
}
