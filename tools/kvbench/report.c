/*
 * report.c — kvbench's output: the tables on stdout, as rows arrive, the
 * summaries made from them at the end, and on request the same rows as CSV
 * (--csv) and the multi-process figures as a gnuplot data file
 * (--plot-data).
 *
 * Every row is kept, so that a later row can be compared with an earlier
 * one and the summaries can put systems side by side: the "vs kv" column
 * is this row's ns/op divided by kv's for the same section, store and base
 * workload (> 1: slower than kv); "spread" is (slowest - fastest
 * repetition) / median, the run's own measure of its noise.  The floor
 * check puts the harness, the bare loop, the floor and kv next to each
 * other, then the harness, floor-nolock and kv-opt (the gets without the
 * lock); the processes summary divides throughput at 2 and 4 processes by
 * throughput at 1, for each mix, store and system.  Errors travel as text:
 * a system function that fails calls bench_error(), and the section puts
 * bench_last_error() in the row's note.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define MAX_ROWS 512
#define MAX_SERIES 32 /* systems x stores x mixes of the processes section */
#define MAX_POINTS 4

static char last_error[256];

typedef struct row {
    char section[8], sys[16], store[8], workload[48];
    bench_fig_t f; /* ns/op; median 0: no figure */
} row_t;

static row_t rows[MAX_ROWS];
static unsigned row_count;

static struct {
    char name[32];
    unsigned procs[MAX_POINTS];
    double ops[MAX_POINTS];
    unsigned n;
} series[MAX_SERIES];
static unsigned series_count;

static FILE *csv;
static const char *plot_path;
static int mem_header_done;

int bench_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return BENCH_ERR;
}

const char *bench_last_error(void)
{
    return last_error[0] ? last_error : "failed";
}

int bench_unexpected(bench_op_t op, int rc)
{
    static const char *const names[] = { "get", "get", "put", "delete", "get or put" };
    if (rc < 0)
        return rc;
    return bench_error("%s: unexpected %s", names[op], rc == BENCH_MISS ? "miss" : "hit");
}

int report_open(const bench_opts_t *o)
{
    plot_path = o->plot_path;
    if (!o->csv_path)
        return 0;
    if (!(csv = fopen(o->csv_path, "w")))
        return bench_error("cannot write %s", o->csv_path);
    if (o->memory_workload)
        fprintf(csv, "phase,system,live_over_budget,entries,live_bytes,note\n");
    else
        fprintf(csv, "section,system,store,workload,ns_per_op,ops_per_s,ratio_vs_kv,"
                     "fastest_ns,slowest_ns,note\n");
    return 0;
}

void report_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

void report_section(const char *title)
{
    printf("\n%s\n%-12s %-6s %-30s %10s %14s %7s %7s %7s\n", title, "system", "store",
           "workload", "ns/op", "ops/s", "vs kv", "spread", "on-cpu");
    fflush(stdout);
}

/* ---------------------------------------------------------------------- */
/* Rows                                                                    */
/* ---------------------------------------------------------------------- */

/* A space, then x in `width` columns with `prec` decimals, or "-" when x
 * is not a figure (0 or less). */
static void print_num(int width, int prec, double x)
{
    if (x > 0)
        printf(" %*.*f", width, prec, x);
    else
        printf(" %*s", width, "-");
}

/* A space, then x (a fraction) as a percentage in 7 columns, or "-". */
static void print_pct(double x)
{
    if (x > 0)
        printf(" %6.0f%%", 100 * x);
    else
        printf(" %7s", "-");
}

/* The figure of a row already reported; median 0 if there is none. */
static bench_fig_t find_fig(const char *section, const char *sys, const char *store,
                            const char *workload)
{
    bench_fig_t none = { 0, 0, 0, 0 };
    for (unsigned i = 0; i < row_count; i++)
        if (strcmp(rows[i].section, section) == 0 && strcmp(rows[i].sys, sys) == 0 &&
            strcmp(rows[i].store, store) == 0 && strcmp(rows[i].workload, workload) == 0)
            return rows[i].f;
    return none;
}

/* Whether system sys has a row in the section. */
static int has_rows(const char *section, const char *sys)
{
    for (unsigned i = 0; i < row_count; i++)
        if (strcmp(rows[i].section, section) == 0 && strcmp(rows[i].sys, sys) == 0)
            return 1;
    return 0;
}

static void keep_row(const char *section, const char *sys, const char *store,
                     const char *workload, bench_fig_t f)
{
    row_t *r = &rows[row_count];
    if (row_count == MAX_ROWS)
        return;
    snprintf(r->section, sizeof r->section, "%s", section);
    snprintf(r->sys, sizeof r->sys, "%s", sys);
    snprintf(r->store, sizeof r->store, "%s", store);
    snprintf(r->workload, sizeof r->workload, "%s", workload);
    r->f = f;
    row_count++;
}

/* Writes a CSV field that may hold commas or quotes. */
static void csv_text(const char *s)
{
    fputc('"', csv);
    for (; *s; s++)
        fprintf(csv, *s == '"' ? "\"\"" : "%c", *s);
    fputc('"', csv);
}

static void csv_row(const char *section, const char *sys, const char *store,
                    const char *workload, bench_fig_t f, double ratio, const char *note)
{
    fprintf(csv, "%s,%s,%s,", section, sys, store);
    csv_text(workload);
    if (f.median > 0)
        fprintf(csv, ",%.2f,%.0f,", f.median, 1e9 / f.median);
    else
        fprintf(csv, ",,,");
    if (ratio > 0)
        fprintf(csv, "%.3f", ratio);
    if (f.median > 0)
        fprintf(csv, ",%.2f,%.2f,", f.lo, f.hi);
    else
        fprintf(csv, ",,,");
    csv_text(note ? note : "");
    fputc('\n', csv);
}

void report_row(const char *section, const char *sys, const char *store, const char *workload,
                const char *base, bench_fig_t f, const char *note)
{
    double kv, ratio;
    if (f.median > 0)
        keep_row(section, sys, store, workload, f);
    kv = find_fig(section, "kv", store, base).median;
    ratio = f.median > 0 && kv > 0 ? f.median / kv : 0;
    printf("%-12s %-6s %-30s", sys, store, workload);
    print_num(10, 1, f.median);
    print_num(14, 0, f.median > 0 ? 1e9 / f.median : 0);
    print_num(7, 2, ratio);
    print_pct(f.median > 0 ? (f.hi - f.lo) / f.median : 0);
    print_pct(f.oncpu);
    printf("%s%s\n", note ? "  " : "", note ? note : "");
    fflush(stdout);
    if (csv)
        csv_row(section, sys, store, workload, f, ratio, note);
}

/* ---------------------------------------------------------------------- */
/* Summaries                                                               */
/* ---------------------------------------------------------------------- */

/* A space, then a column header in `width` columns. */
static void print_head(int width, const char *name)
{
    printf(" %*s", width, name);
}

/* The width of a column named `name`: 8, or the name's length if longer. */
static int col_width(const char *name)
{
    return strlen(name) > 8 ? (int)strlen(name) : 8;
}

/* The title and column headers of a floor-check table (floor_table()). */
static void floor_table_head(const char *title, const char *kv, const char *floor,
                             const char *bare)
{
    printf("\n%s\n%-6s %-16s", title, "store", "workload");
    print_head(8, "harness");
    if (bare)
        print_head(8, bare);
    print_head(col_width(floor), floor);
    print_head(col_width(kv), kv);
    if (bare)
        print_head(10, "floor/bare");
    printf(" %6s %6s\n", "raw", "net");
}

/* One floor-check table: every single-process row of system `kv` beside
 * the harness's, `bare`'s (NULL: no such columns) and `floor`'s figures
 * for the same store and workload, with kv / floor raw and net.  Prints
 * nothing when `kv` has no such row. */
static void floor_table(const char *title, const char *kv, const char *floor, const char *bare)
{
    int wf = col_width(floor), wk = col_width(kv);
    if (!has_rows("single", kv))
        return;
    floor_table_head(title, kv, floor, bare);
    for (unsigned i = 0; i < row_count; i++) {
        const row_t *r = &rows[i];
        double h, b = 0, fl, k = r->f.median;
        if (strcmp(r->section, "single") != 0 || strcmp(r->sys, kv) != 0)
            continue;
        h = find_fig("single", "harness", r->store, r->workload).median;
        fl = find_fig("single", floor, r->store, r->workload).median;
        printf("%-6s %-16s", r->store, r->workload);
        print_num(8, 1, h);
        if (bare)
            print_num(8, 1, b = find_fig("single", bare, r->store, r->workload).median);
        print_num(wf, 1, fl);
        print_num(wk, 1, k);
        if (bare)
            print_num(10, 2, fl > 0 && b > 0 ? fl / b : 0);
        print_num(6, 2, fl > 0 ? k / fl : 0);
        print_num(6, 2, h > 0 && fl > h && k > h ? (k - h) / (fl - h) : 0);
        printf("\n");
    }
    fflush(stdout);
}

void report_floor_check(void)
{
    floor_table("== floor check: ns/op (medians of the rows above); raw = kv / floor, "
                "net = (kv - harness) / (floor - harness);\n"
                "   floor/bare = the floor through the harness over the floor in hand-written "
                "loops;\n"
                "   4k: the floor's put copies the value once, so its figure is a put plus one "
                "4 KiB memcpy ==",
                "kv", "floor", "bare");
    floor_table("== floor check without the lock: kv-opt (optimistic gets) against floor-nolock "
                "(gets with no lock at all);\n"
                "   raw = kv-opt / floor-nolock, net as above; the puts and deletes of both take "
                "the lock, as kv's and the floor's ==",
                "kv-opt", "floor-nolock", NULL);
}

/* ns per operation in each of nproc processes of mix m (the row holds ns
 * per operation of all of them together); 0 if there is no such row. */
static double per_process_ns(const procs_mix_t *m, const char *sys, const char *store,
                             unsigned nproc)
{
    char name[64];
    procs_workload(name, sizeof name, m, nproc);
    return find_fig("procs", sys, store, name).median * nproc;
}

/* Throughput at nproc over throughput at 1; with the harness's per-op time
 * taken out of both when `net`.  0 if a figure is missing. */
static double scaling(const procs_mix_t *m, const char *sys, const char *store, unsigned nproc,
                      int net)
{
    double t1 = per_process_ns(m, sys, store, 1), tn = per_process_ns(m, sys, store, nproc);
    if (net) {
        t1 -= per_process_ns(m, "harness", store, 1);
        tn -= per_process_ns(m, "harness", store, nproc);
    }
    return t1 > 0 && tn > 0 ? nproc * t1 / tn : 0;
}

/* One line of the processes summary: sys on store, mix m. */
static void scaling_line(const procs_mix_t *m, const char *store, const char *sys)
{
    int is_harness = strcmp(sys, "harness") == 0;
    printf("%-6s %-6s %-12s", m->tag, store, sys);
    for (unsigned n = 1; n <= 4; n *= 2) {
        double t = per_process_ns(m, sys, store, n);
        print_num(7, 2, t > 0 ? n * 1e3 / t : 0);
    }
    print_num(8, 2, scaling(m, sys, store, 2, 0));
    print_num(8, 2, is_harness ? 0 : scaling(m, sys, store, 2, 1));
    print_num(8, 2, scaling(m, sys, store, 4, 0));
    print_num(8, 2, is_harness ? 0 : scaling(m, sys, store, 4, 1));
    printf("\n");
}

void report_procs_scaling(void)
{
    static const char *const stores[] = { "small", "big" };
    char one[64];
    printf("\n== processes: Mops/s of all processes together (medians); n/1 = throughput at n "
           "over throughput at 1,\n   net: the harness's time per operation in each process "
           "taken out first; mix: get = 100%% get, 90/10 = 90%% get / 10%% put ==\n"
           "%-6s %-6s %-12s %7s %7s %7s %8s %8s %8s %8s\n",
           "mix", "store", "system", "1 proc", "2 procs", "4 procs", "2/1 raw", "2/1 net",
           "4/1 raw", "4/1 net");
    for (size_t m = 0; m < PROCS_MIXES; m++)
        for (size_t s = 0; s < sizeof stores / sizeof stores[0]; s++) {
            procs_workload(one, sizeof one, &procs_mixes[m], 1);
            for (unsigned i = 0; i < row_count; i++)
                if (strcmp(rows[i].section, "procs") == 0 &&
                    strcmp(rows[i].store, stores[s]) == 0 && strcmp(rows[i].workload, one) == 0)
                    scaling_line(&procs_mixes[m], stores[s], rows[i].sys);
        }
    fflush(stdout);
}

void report_mem_row(const char *phase, const char *sys, double ratio, uint64_t entries,
                    uint64_t live_bytes, const char *note)
{
    if (!mem_header_done++)
        printf("\n%-5s %-9s %11s %8s %9s  %s\n", "phase", "system", "live/budget", "entries",
               "live MiB", "how the store was made; notes");
    printf("%-5s %-9s", phase, sys);
    print_num(11, 3, ratio);
    printf(" %8llu %9.1f  %s\n", (unsigned long long)entries, (double)live_bytes / (1 << 20),
           note);
    fflush(stdout);
    if (!csv)
        return;
    fprintf(csv, "%s,%s,%.4f,%llu,%llu,", phase, sys, ratio, (unsigned long long)entries,
            (unsigned long long)live_bytes);
    csv_text(note);
    fputc('\n', csv);
}

/* ---------------------------------------------------------------------- */
/* Plot                                                                    */
/* ---------------------------------------------------------------------- */

void report_plot(const char *name, unsigned procs, double ops_per_s)
{
    unsigned i = 0;
    while (i < series_count && strcmp(series[i].name, name) != 0)
        i++;
    if (i == MAX_SERIES)
        return;
    if (i == series_count)
        snprintf(series[series_count++].name, sizeof series[0].name, "%s", name);
    if (series[i].n < MAX_POINTS) {
        series[i].procs[series[i].n] = procs;
        series[i].ops[series[i].n++] = ops_per_s;
    }
}

/* Writes "procs <series...>" then one line per process count; NaN where a
 * run failed, which gnuplot skips. */
static int write_plot(void)
{
    FILE *f = fopen(plot_path, "w");
    if (!f)
        return bench_error("cannot write %s", plot_path);
    fprintf(f, "procs");
    for (unsigned s = 0; s < series_count; s++)
        fprintf(f, " %s", series[s].name);
    fprintf(f, "\n");
    for (unsigned p = 0; series_count && p < series[0].n; p++) {
        fprintf(f, "%u", series[0].procs[p]);
        for (unsigned s = 0; s < series_count; s++)
            if (p < series[s].n && series[s].ops[p] > 0)
                fprintf(f, " %.0f", series[s].ops[p]);
            else
                fprintf(f, " NaN");
        fprintf(f, "\n");
    }
    return fclose(f) == 0 ? 0 : bench_error("cannot write %s", plot_path);
}

int report_close(void)
{
    int rc = 0;
    if (csv && fclose(csv) != 0)
        rc = bench_error("cannot write the CSV file");
    if (plot_path && write_plot() != 0)
        rc = BENCH_ERR;
    return rc;
}
