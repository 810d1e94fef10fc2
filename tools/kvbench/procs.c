/*
 * procs.c — the multi-process section: 1, 2 and 4 processes sharing one
 * store, each doing one of two mixes on uniformly random keys for a fixed
 * time (--duration-ms): 100% get, where readers that take no lock (kv-opt,
 * floor-nolock) can scale with the cores, and 90% get / 10% put overwrite,
 * where the puts' lock is shared by all.  Total ops/s is the sum over
 * workers of each worker's operations divided by its own elapsed time.  A
 * worker replays a sequence of PROCS_MIX_OPS key numbers of its mix made
 * before the start (its own: the seed is its index) in batches of
 * CHECK_EVERY operations through the system's run(), reading the clock
 * between batches.
 *
 * The parent creates and fills one store per system (kv, kv-opt, the floor,
 * ...), all open at once, and runs the mixes in turn on them.  For each mix
 * and process count the systems take turns, kv, kv-opt, floor, ..., kv,
 * kv-opt, floor, ... for PROCS_REPS runs each, and each system's median is
 * reported, so the ratios compare runs made close in time.  A run starts
 * its workers with posix_spawn of this same binary ("kvbench --worker SYS
 * STORE ..."); a worker attaches by name through the system's attach(),
 * makes its inputs from the sizes alone (keys.c; keys come from key_gen()
 * as in the parent), then warms up by reading every key once.  Start
 * barrier: a worker writes "ready" on its stdout (a pipe to the parent),
 * then blocks reading its stdin, the read end of one start pipe shared by
 * all; when every worker is ready the parent closes the write end and all
 * of them see EOF at once.  A worker ends by writing "<ops> <ns>" on its
 * stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define MAX_PROCS 4
#define CHECK_EVERY 256 /* operations between clock reads: one batch */
#define PROCS_SEED UINT64_C(1000) /* + the worker's index */

const procs_mix_t procs_mixes[PROCS_MIXES] = {
    { "100% get", "get", 0 },
    { "90% get/10% put", "90/10", 10 },
};

void procs_workload(char *out, size_t cap, const procs_mix_t *m, unsigned nproc)
{
    snprintf(out, cap, "%s, %u proc%s", m->name, nproc, nproc > 1 ? "s" : "");
}

typedef struct worker {
    pid_t pid;
    int out; /* read end of the worker's stdout */
} worker_t;

/* ---------------------------------------------------------------------- */
/* Worker side                                                             */
/* ---------------------------------------------------------------------- */

/* Blocks until the parent closes the start pipe (our stdin). */
static void wait_for_start(void)
{
    char c;
    while (read(0, &c, 1) < 0 && errno == EINTR)
        ;
}

/* Warm-up, before the start barrier: one get of every key, so this
 * process's page tables and caches hold the store as the parent's do. */
static int worker_warm(const bench_sys_t *sys, void *h, const bench_keys_t *k,
                       unsigned char *keybuf)
{
    bench_batch_t b = { BENCH_OP_GET, k->order, k->count, k, keybuf, k->val[0] };
    return sys->run(h, &b);
}

/* Replays seq[0..PROCS_MIX_OPS) until the deadline; returns ops done or
 * BENCH_ERR. */
static int64_t worker_loop(const bench_sys_t *sys, void *h, const bench_keys_t *k,
                           unsigned char *keybuf, const uint32_t *seq, uint64_t deadline)
{
    _Static_assert(PROCS_MIX_OPS % CHECK_EVERY == 0, "batches tile the sequence");
    bench_batch_t b = { BENCH_OP_MIX, seq, CHECK_EVERY, k, keybuf, k->val[0] };
    int64_t ops = 0;
    do {
        b.idx = seq + ops % PROCS_MIX_OPS;
        b.val = k->val[(ops / PROCS_MIX_OPS) & 1]; /* each pass writes the other value */
        if (sys->run(h, &b) != BENCH_OK)
            return BENCH_ERR;
        ops += CHECK_EVERY;
    } while (bench_now_ns() < deadline);
    return ops;
}

/* argv: SYS STORE KEYS KEY_SIZE VAL_SIZE DURATION_MS UPDATE_PCT INDEX */
int procs_worker(int argc, char **argv)
{
    const bench_sys_t *sys = argc == 8 ? bench_find_sys(argv[0]) : NULL;
    bench_opts_t o = { 0 };
    bench_keys_t k;
    unsigned char *keybuf = NULL;
    uint32_t *seq = NULL;
    void *h = NULL;
    int64_t ops = BENCH_ERR;
    uint64_t t0;
    if (!sys || !sys->attach) {
        fprintf(stderr, "kvbench: bad --worker arguments\n");
        return 2;
    }
    o.key_size = (uint32_t)strtoul(argv[3], NULL, 10);
    o.val_size = (uint32_t)strtoul(argv[4], NULL, 10);
    if (keys_make(&k, (uint32_t)strtoul(argv[2], NULL, 10), o.key_size, o.val_size) == 0 &&
        mix_make(&seq, PROCS_MIX_OPS, k.count, (unsigned)strtoul(argv[6], NULL, 10), 0,
                 PROCS_SEED + strtoull(argv[7], NULL, 10)) == 0 &&
        (keybuf = keys_buffer(&k, 1)) != NULL && sys->attach(&h, argv[1], &o) == 0 &&
        worker_warm(sys, h, &k, keybuf) == 0 && dprintf(1, "ready\n") > 0) {
        wait_for_start();
        t0 = bench_now_ns();
        ops = worker_loop(sys, h, &k, keybuf, seq, t0 + strtoull(argv[5], NULL, 10) * 1000000u);
        if (ops >= 0)
            dprintf(1, "%lld %llu\n", (long long)ops, (unsigned long long)(bench_now_ns() - t0));
    }
    if (ops < 0)
        fprintf(stderr, "kvbench worker: %s: %s\n", argv[1], bench_last_error());
    if (h)
        sys->close(h, 0);
    free(keybuf);
    free(seq);
    keys_free(&k);
    return ops < 0 ? 3 : 0;
}

/* ---------------------------------------------------------------------- */
/* Parent side                                                             */
/* ---------------------------------------------------------------------- */

/* Reads one line (without its newline) from fd; 0, or -1 at EOF first. */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* Starts one worker with stdin = start_fd and stdout = a new pipe. */
static int spawn_worker(worker_t *w, char *const argv[], int start_fd)
{
    static char self[4096];
    posix_spawn_file_actions_t fa;
    int out[2], rc;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return bench_error("readlink /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    if (pipe2(out, O_CLOEXEC) != 0)
        return bench_error("pipe: %s", strerror(errno));
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, start_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    rc = posix_spawn(&w->pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        return bench_error("posix_spawn %s: %s", self, strerror(rc));
    }
    w->out = out[0];
    return 0;
}

/* Reads a worker's result, reaps it, and adds its ops/s to *total. */
static int collect(worker_t *w, int ok, double *total)
{
    char line[64], *end;
    int status, rc = ok && read_line(w->out, line, sizeof line) == 0 ? 0 : BENCH_ERR;
    close(w->out);
    if (!ok)
        kill(w->pid, SIGKILL);
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        double ops = strtod(line, &end), ns = strtod(end, NULL);
        *total += ns > 0 ? ops * 1e9 / ns : 0;
        return 0;
    }
    return ok ? bench_error("a worker failed (see its message above)") : BENCH_ERR;
}

/* One run of mix m with nproc workers; *ops_s gets the total ops/s. */
static int run_procs(const bench_sys_t *sys, const char *store, const bench_keys_t *k,
                     const bench_opts_t *o, const procs_mix_t *m, unsigned nproc,
                     double *ops_s)
{
    char a[6][24], line[16];
    char *argv[] = { "kvbench", "--worker", (char *)sys->name, (char *)store,
                     a[0], a[1], a[2], a[3], a[4], a[5], NULL };
    worker_t w[MAX_PROCS];
    unsigned started = 0;
    int start[2], rc = 0;
    if (pipe2(start, O_CLOEXEC) != 0)
        return bench_error("pipe: %s", strerror(errno));
    snprintf(a[0], sizeof a[0], "%u", k->count);
    snprintf(a[1], sizeof a[1], "%u", o->key_size);
    snprintf(a[2], sizeof a[2], "%u", o->val_size);
    snprintf(a[3], sizeof a[3], "%u", o->duration_ms);
    snprintf(a[4], sizeof a[4], "%u", m->update_pct);
    for (; started < nproc && !rc; started += !rc) {
        snprintf(a[5], sizeof a[5], "%u", started);
        rc = spawn_worker(&w[started], argv, start[0]);
    }
    close(start[0]);
    for (unsigned i = 0; i < started && !rc; i++)
        if (read_line(w[i].out, line, sizeof line) != 0)
            rc = bench_error("a worker did not start (see its message above)");
    close(start[1]); /* the start signal */
    *ops_s = 0;
    for (unsigned i = 0; i < started; i++)
        if (collect(&w[i], !rc, ops_s) != 0 && !rc)
            rc = BENCH_ERR;
    return rc;
}

/* One system's shared store and its runs at the current mix and process
 * count. */
typedef struct shared {
    const bench_sys_t *sys;
    void *h;                  /* NULL: no store (note says why) */
    char name[128];           /* the store's name, for the workers */
    char note[256];           /* why the store or a run failed */
    int failed;               /* a run at the current mix and count failed */
    double ops_s[PROCS_REPS]; /* total ops/s of each run */
} shared_t;

static void shared_fail(shared_t *sh)
{
    snprintf(sh->note, sizeof sh->note, "%s", bench_last_error());
    sh->failed = 1;
}

/* Creates and fills sh's store; on failure h is NULL and note says why. */
static void shared_open(shared_t *sh, const bench_sys_t *sys, const bench_store_t *s,
                        const bench_keys_t *k, const bench_opts_t *o)
{
    memset(sh, 0, sizeof *sh);
    sh->sys = sys;
    if (bench_create(sys, s, k, o, sh->name, sizeof sh->name, &sh->h) == 0 &&
        bench_fill(sys, sh->h, k, 0, k->count) == 0)
        return;
    shared_fail(sh);
    if (sh->h)
        sys->close(sh->h, 1);
    sh->h = NULL;
}

/* PROCS_REPS runs of mix m with nproc workers on every store, the systems
 * taking turns, then each system's row and plot point. */
static void procs_point(shared_t *sh, size_t n, const bench_store_t *s, const bench_keys_t *k,
                        const bench_opts_t *o, const procs_mix_t *m, unsigned nproc)
{
    char name[64], series[64];
    for (size_t i = 0; i < n; i++)
        sh[i].failed = sh[i].h == NULL;
    for (unsigned rep = 0; rep < PROCS_REPS; rep++)
        for (size_t i = 0; i < n; i++)
            if (!sh[i].failed &&
                run_procs(sh[i].sys, sh[i].name, k, o, m, nproc, &sh[i].ops_s[rep]))
                shared_fail(&sh[i]);
    procs_workload(name, sizeof name, m, nproc);
    for (size_t i = 0; i < n; i++) {
        bench_fig_t ns = { 0, 0, 0, 0 };
        double per_op[PROCS_REPS];
        for (unsigned rep = 0; rep < PROCS_REPS && !sh[i].failed; rep++)
            per_op[rep] = sh[i].ops_s[rep] > 0 ? 1e9 / sh[i].ops_s[rep] : 0;
        if (!sh[i].failed)
            ns = bench_figure(per_op, PROCS_REPS);
        report_row("procs", sh[i].sys->name, s->label, name, name, ns,
                   sh[i].failed ? sh[i].note : NULL);
        snprintf(series, sizeof series, "%s/%s/%s", sh[i].sys->name, s->label, m->tag);
        if (sh[i].sys != &bench_sys_harness) /* its ops/s would flatten the others' lines */
            report_plot(series, nproc, ns.median > 0 ? 1e9 / ns.median : 0);
    }
}

void procs_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                   const bench_keys_t *k, const bench_opts_t *o)
{
    static const unsigned counts[] = { 1, 2, 4 };
    shared_t sh[BENCH_MAX_SYS];
    for (size_t i = 0; i < n; i++)
        shared_open(&sh[i], sys[i], s, k, o);
    for (size_t m = 0; m < PROCS_MIXES; m++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            procs_point(sh, n, s, k, o, &procs_mixes[m], counts[c]);
    for (size_t i = 0; i < n; i++)
        if (sh[i].h)
            sys[i]->close(sh[i].h, 1);
}
