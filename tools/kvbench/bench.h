/*
 * bench.h — kvbench's internal interfaces: the system seam, the shared
 * inputs, the workloads and the report.
 *
 * kvbench compares kv with peers in one run.  Each system (kv, the "floor"
 * baseline, LMDB, Redis) is one bench_sys_t in its own sys_*.c; the
 * workloads (workloads.c, procs.c) are written once against that interface,
 * so every system runs the same operations on the same keys: keys.c fixes
 * the access order from a seed, and key_gen() below writes each key as it
 * is needed into a small buffer, so no key array is read while timing.
 * Every section runs all its systems side by side, taking turns within each
 * repetition, so the ratios compare figures measured close in time.
 * report.c prints the table and writes the CSV and plot files.  Peers are
 * optional at build time: a sys_*.c built without its library still defines
 * its bench_sys_t, whose unavailable() says why.
 */
#ifndef KVBENCH_BENCH_H
#define KVBENCH_BENCH_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Options and stores                                                      */
/* ---------------------------------------------------------------------- */

typedef struct bench_opts {
    uint32_t key_size, val_size; /* every key and value has exactly this size */
    uint32_t reps;               /* timed repetitions after one warm-up */
    uint32_t ops;                /* operations per repetition (--ops), 0: defaults */
    uint32_t duration_ms;        /* length of one multi-process run */
    int redis_port;              /* 0: no server given */
    int quick;                   /* small store only, fewer ops */
    unsigned systems;            /* bit i: the i-th system runs (--only) */
    const char *csv_path, *plot_path;
} bench_opts_t;

/* A store's geometry and how many operations one repetition times. */
typedef struct bench_store {
    const char *label; /* "small", "big" */
    uint32_t keys;
    uint64_t slots;
    uint64_t ops;
} bench_store_t;

/* ---------------------------------------------------------------------- */
/* The system seam                                                         */
/* ---------------------------------------------------------------------- */

/* What the system functions return. */
#define BENCH_OK   0
#define BENCH_MISS 1    /* get, del: the key is absent */
#define BENCH_ERR  (-1) /* failed; the function called bench_error() first */

/* Sections a system takes part in. */
#define BENCH_SEC_SINGLE 0x1u /* one-operation workloads */
#define BENCH_SEC_PROCS  0x2u /* several processes (needs attach) */
#define BENCH_SEC_YCSB   0x4u /* YCSB A, B, C */

/* Single-operation workloads, for bench_sys_t.skip. */
#define BENCH_W_GET_HIT   0x01u
#define BENCH_W_GET_MISS  0x02u
#define BENCH_W_OVERWRITE 0x04u
#define BENCH_W_INSERT    0x08u
#define BENCH_W_DELETE    0x10u

/* One system under test.  Handles are opaque to the workloads; every store
 * holds keys of exactly o->key_size and values of exactly o->val_size. */
typedef struct bench_sys {
    const char *name;
    unsigned sections;       /* BENCH_SEC_* */
    unsigned skip;           /* BENCH_W_* not run (too slow to be worth it) */
    uint64_t max_ops;        /* most operations per repetition, 0 = no cap */
    unsigned batch;          /* operations per put_batch/get_batch call */
    const char *batch_label; /* shown after a batched workload's name */
    /* NULL, or a reason the system cannot run with these options. */
    const char *(*unavailable)(const bench_opts_t *o);
    /* Makes a new, empty store `name` sized for s (replacing a leftover). */
    int (*create)(void **h, const char *name, const bench_store_t *s,
                  const bench_opts_t *o);
    /* Opens the existing store `name` in another process; NULL if none. */
    int (*attach)(void **h, const char *name, const bench_opts_t *o);
    int (*get)(void *h, const void *key, size_t klen, void *buf, size_t cap);
    int (*put)(void *h, const void *key, size_t klen, const void *val, size_t vlen);
    int (*del)(void *h, const void *key, size_t klen);
    int (*clear)(void *h);
    /* Optional: n puts of one value, or n gets, as one batch (a
     * transaction, a pipeline).  get_batch returns BENCH_MISS if any missed. */
    int (*put_batch)(void *h, const unsigned char *const *keys, size_t n, size_t klen,
                     const void *val, size_t vlen);
    int (*get_batch)(void *h, const unsigned char *const *keys, size_t n, size_t klen,
                     void *buf, size_t cap);
    /* Closes the handle; with `destroy`, removes the store as well. */
    void (*close)(void *h, int destroy);
} bench_sys_t;

extern const bench_sys_t bench_sys_kv, bench_sys_kv_cache, bench_sys_floor, bench_sys_lmdb,
    bench_sys_redis;
#define BENCH_MAX_SYS 5 /* the systems above */

/* Records why the current operation failed (printf-style); returns BENCH_ERR. */
int bench_error(const char *fmt, ...);
/* The last message recorded by bench_error(). */
const char *bench_last_error(void);

/* ---------------------------------------------------------------------- */
/* Shared inputs (keys.c)                                                  */
/* ---------------------------------------------------------------------- */

typedef struct bench_keys {
    uint32_t count, key_size, val_size;
    uint32_t *order;        /* 0..count-1 shuffled with a fixed seed (NULL in workers) */
    unsigned char *val[2];  /* two values; overwrites alternate between them */
    unsigned char *buf;     /* room for one value, for gets */
} bench_keys_t;

/* Key i of the set is 'k', then 2i (stored) or 2i+1 (absent) as KEY_DIGITS
 * lowercase hex digits, then filler bytes up to the key size.  Fixed-width
 * hex sorts as the numbers do, so absent keys fall among the stored ones. */
#define KEY_DIGITS 8
#define KEY_SIZE_MIN (1 + KEY_DIGITS)

/* Prepares the inputs; `full` 0 skips the order (for workers).
 * Returns 0 or BENCH_ERR. */
int keys_make(bench_keys_t *k, uint32_t count, uint32_t key_size, uint32_t val_size,
              int full);
void keys_free(bench_keys_t *k);
/* Room for n keys, back to back, each already holding the 'k' and the
 * filler, so key_gen() only writes the digits.  NULL if out of memory;
 * free() it. */
unsigned char *keys_buffer(const bench_keys_t *k, uint32_t n);

/* Writes key i (stored, or `absent`) into key, a keys_buffer() slot, and
 * returns it: the digits of 2i + absent, spread one nibble per byte, turned
 * into ASCII and stored most significant first (a few ns, no division). */
static inline const unsigned char *key_gen(unsigned char *key, uint32_t i, int absent)
{
    uint64_t x = (uint32_t)(2 * i + (absent != 0)), mask;
    x = (x | x << 16) & UINT64_C(0x0000ffff0000ffff);
    x = (x | x << 8) & UINT64_C(0x00ff00ff00ff00ff);
    x = (x | x << 4) & UINT64_C(0x0f0f0f0f0f0f0f0f);          /* one nibble per byte */
    mask = (x + UINT64_C(0x0606060606060606)) >> 4 & UINT64_C(0x0101010101010101); /* > 9 */
    x = htobe64(x + UINT64_C(0x3030303030303030) + mask * ('a' - '0' - 10));
    memcpy(key + 1, &x, KEY_DIGITS);
    return key;
}

/* splitmix64: the one random generator, seeded with fixed numbers. */
uint64_t bench_rand(uint64_t *state);
/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* A YCSB operation sequence: record index in the low 31 bits, the top bit
 * set for an update (put overwrite), clear for a read. */
#define YCSB_UPDATE 0x80000000u
int ycsb_make(uint32_t **seq, uint64_t ops, uint32_t records, unsigned update_pct);

/* ---------------------------------------------------------------------- */
/* Sections (workloads.c, procs.c)                                         */
/* ---------------------------------------------------------------------- */

/* Names the store "kvbench-<pid>-<system>-<store>" into name[0..cap) and
 * creates it, unless the system is unavailable.  0 or BENCH_ERR. */
int bench_create(const bench_sys_t *sys, const bench_store_t *s, const bench_opts_t *o,
                 char *name, size_t cap, void **h);

/* Each runs one section for the n systems sys[0..n) (kv first) on one store
 * and reports their rows; a failure becomes the row's note, so they return
 * nothing.  ycsb_section replays seq[0..2] (YCSB A, B, C) of `ops` each. */
void single_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                    const bench_keys_t *k, const bench_opts_t *o);
void ycsb_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                  const bench_keys_t *k, const bench_opts_t *o, uint32_t *const seq[3],
                  uint64_t ops);
void procs_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                   const bench_keys_t *k, const bench_opts_t *o);
#define PROCS_REPS 3 /* multi-process runs per system and process count */
/* Fills the keys order[from..to) of the set into the store (batched if it
 * can). */
int bench_fill(const bench_sys_t *sys, void *h, const bench_keys_t *k, uint32_t from,
               uint32_t to);
/* The median of v[0..n); sorts v. */
double bench_median(double *v, unsigned n);

/* The worker role: argv after "--worker".  Returns the exit code. */
int procs_worker(int argc, char **argv);
const bench_sys_t *bench_find_sys(const char *name);

/* ---------------------------------------------------------------------- */
/* Report (report.c)                                                       */
/* ---------------------------------------------------------------------- */

int report_open(const bench_opts_t *o);
void report_section(const char *title);
/* One row.  `base` names the workload kv is compared with (the batched
 * rows compare with kv's unbatched one); ns 0 means no figure, see note. */
void report_row(const char *section, const char *sys, const char *store, const char *workload,
                const char *base, double ns, const char *note);
/* One point of the processes-vs-ops/s plot. */
void report_plot(const char *series, unsigned procs, double ops_per_s);
int report_close(void);

#endif /* KVBENCH_BENCH_H */
