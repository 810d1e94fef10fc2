/*
 * report.c — kvbench's output: the table on stdout, as rows arrive, and on
 * request the same rows as CSV (--csv) and the multi-process figures as a
 * gnuplot data file (--plot-data).
 *
 * The ratio column is this row's ns/op divided by kv's ns/op for the same
 * section, store and base workload, so > 1 means slower than kv.  kv runs
 * first in every section, so its figure is known when a peer's row prints.
 * Errors travel as text: a system function that fails calls bench_error(),
 * and the section puts bench_last_error() in the row's note.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define MAX_KV_ROWS 64
#define MAX_SERIES 8
#define MAX_POINTS 4

static char last_error[256];

static struct {
    char key[128];
    double ns;
} kv_rows[MAX_KV_ROWS];
static unsigned kv_count;

static struct {
    char name[32];
    unsigned procs[MAX_POINTS];
    double ops[MAX_POINTS];
    unsigned n;
} series[MAX_SERIES];
static unsigned series_count;

static FILE *csv;
static const char *plot_path;

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

int report_open(const bench_opts_t *o)
{
    plot_path = o->plot_path;
    if (!o->csv_path)
        return 0;
    if (!(csv = fopen(o->csv_path, "w")))
        return bench_error("cannot write %s", o->csv_path);
    fprintf(csv, "section,system,store,workload,ns_per_op,ops_per_s,ratio_vs_kv,note\n");
    return 0;
}

void report_section(const char *title)
{
    printf("\n%s\n%-6s %-6s %-30s %10s %14s %7s\n", title, "system", "store", "workload",
           "ns/op", "ops/s", "vs kv");
    fflush(stdout);
}

/* kv's ns/op for the row's key, remembered (kv) or looked up (others). */
static double kv_ns(const char *sys, const char *key, double ns)
{
    for (unsigned i = 0; i < kv_count; i++)
        if (strcmp(kv_rows[i].key, key) == 0)
            return kv_rows[i].ns;
    if (strcmp(sys, "kv") == 0 && kv_count < MAX_KV_ROWS && ns > 0) {
        snprintf(kv_rows[kv_count].key, sizeof kv_rows[0].key, "%s", key);
        kv_rows[kv_count++].ns = ns;
        return ns;
    }
    return 0;
}

static void csv_row(const char *section, const char *sys, const char *store,
                    const char *workload, double ns, double ratio, const char *note)
{
    fprintf(csv, "%s,%s,%s,\"%s\",", section, sys, store, workload);
    if (ns > 0)
        fprintf(csv, "%.2f,%.0f,", ns, 1e9 / ns);
    else
        fprintf(csv, ",,");
    if (ratio > 0)
        fprintf(csv, "%.3f", ratio);
    fprintf(csv, ",\"%s\"\n", note ? note : "");
}

void report_row(const char *section, const char *sys, const char *store, const char *workload,
                const char *base, double ns, const char *note)
{
    char key[128];
    double kv, ratio;
    snprintf(key, sizeof key, "%s|%s|%s", section, store, base);
    kv = kv_ns(sys, key, ns);
    ratio = ns > 0 && kv > 0 ? ns / kv : 0;
    printf("%-6s %-6s %-30s ", sys, store, workload);
    if (ns > 0) {
        printf("%10.1f %14.0f ", ns, 1e9 / ns);
        if (ratio > 0)
            printf("%7.2f", ratio);
        else
            printf("%7s", "-");
    } else {
        printf("%10s %14s %7s", "-", "-", "-");
    }
    printf("%s%s\n", note ? "  " : "", note ? note : "");
    fflush(stdout);
    if (csv)
        csv_row(section, sys, store, workload, ns, ratio, note);
}

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
