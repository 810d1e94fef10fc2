/*
 * bench.h — kvbench's internal interfaces: the system seam, the shared
 * inputs, the one per-operation loop, the workloads and the report.
 *
 * kvbench compares kv with peers in one run.  Each system (kv and
 * "kv-opt", kv reading without the lock; the "floor" baseline and
 * "floor-nolock", its get without the lock; the "bare" loop over the
 * floor's table; the "harness" that does nothing; LMDB, Redis) is one
 * bench_sys_t, in the sys_*.c of its kind; the
 * workloads (workloads.c, procs.c) are written once against that interface,
 * so every system runs the same operations on the same keys: keys.c fixes
 * the access order from a seed, and key_gen() below writes each key as it
 * is needed into a small buffer, so no key array is read while timing.
 *
 * The harness must cost next to nothing, or it is added to kv and to the
 * floor alike and hides the gap between them.  So a workload hands a system
 * a whole batch of operations (bench_batch_t: an operation and an array of
 * key numbers) through one indirect call, and the system runs it with
 * bench_run_ops() below, instantiated with its own static functions, which
 * the compiler inlines: per operation there is one key_gen() and a direct
 * call.  The "harness" system measures what is left (its operations only
 * look at the key), and the "bare" system (sys_floor.c) is the floor's table
 * driven by hand-written loops, the check that the floor system through the
 * seam measures what the table costs.
 *
 * Every section runs all its systems side by side, taking turns within each
 * repetition, so the ratios compare figures measured close in time.
 * report.c prints the tables and writes the CSV and plot files.  Peers are
 * optional at build time: a sys_*.c built without its library still defines
 * its bench_sys_t, whose unavailable() says why.  memory.c is a mode of its
 * own (--memory-workload) with a seam of its own, bench_mem_sys_t: entries
 * of mixed sizes in a store of a memory budget.
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
    int memcached_port;          /* 0: none; started with -M (refuses when full) */
    int memcached_lru_port;      /* 0: none; started without -M (evicts) */
    int quick;                   /* small store only, fewer ops */
    int memory_workload;         /* run only the mixed-size memory workload */
    unsigned systems;            /* bit i: the i-th system runs (--only) */
    const char *csv_path, *plot_path;
} bench_opts_t;

/* A store's geometry and how many operations one repetition times. */
typedef struct bench_store {
    const char *label; /* "small", "big", "4k" */
    uint32_t keys;
    uint64_t slots;
    uint64_t ops;
    uint32_t val_size;  /* 0: --value-size */
    unsigned workloads; /* BENCH_W_* measured on this store */
} bench_store_t;

/* ---------------------------------------------------------------------- */
/* The system seam                                                         */
/* ---------------------------------------------------------------------- */

/* What the system functions return. */
#define BENCH_OK   0
#define BENCH_MISS 1    /* get, del: the key is absent */
#define BENCH_FULL 2    /* memory workload: the store refused the entry for room */
#define BENCH_ERR  (-1) /* failed; the function called bench_error() first */

/* Sections a system takes part in. */
#define BENCH_SEC_SINGLE 0x1u /* one-operation workloads */
#define BENCH_SEC_PROCS  0x2u /* several processes (needs attach) */
#define BENCH_SEC_YCSB   0x4u /* YCSB A, B, C */

/* Single-operation workloads, for bench_sys_t.skip and bench_store_t. */
#define BENCH_W_GET_HIT   0x01u
#define BENCH_W_GET_MISS  0x02u
#define BENCH_W_OVERWRITE 0x04u
#define BENCH_W_INSERT    0x08u
#define BENCH_W_DELETE    0x10u
#define BENCH_W_ALL       0x1fu

typedef struct bench_keys bench_keys_t;

/* What every operation of a batch does; BENCH_OP_MIX: each key number
 * says, BENCH_IDX_PUT set for a put (overwrite), clear for a get (hit). */
typedef enum bench_op { BENCH_OP_GET, BENCH_OP_MISS, BENCH_OP_PUT, BENCH_OP_DEL, BENCH_OP_MIX }
    bench_op_t;
#define BENCH_IDX_PUT 0x80000000u

/* n operations on keys idx[0..n) (key_gen()'s numbers).  Gets copy into
 * k->buf, puts write val; every key and value has k's sizes. */
typedef struct bench_batch {
    bench_op_t op;
    const uint32_t *idx;
    uint32_t n;
    const bench_keys_t *k;
    unsigned char *key;       /* a keys_buffer() slot each key is written into */
    const unsigned char *val; /* k->val_size bytes */
} bench_batch_t;

/* One system under test.  Handles are opaque to the workloads; every store
 * holds keys of exactly k->key_size and values of exactly k->val_size. */
typedef struct bench_sys {
    const char *name;
    unsigned sections;       /* BENCH_SEC_* */
    unsigned skip;           /* BENCH_W_* not run (too slow to be worth it) */
    uint64_t max_ops;        /* most operations per repetition, 0 = no cap */
    unsigned batch;          /* operations per put_batch/get_batch call */
    int waits;               /* 1: its operations wait for a server, so they are
                              * timed by the wall clock, not the CPU time of
                              * this process (see workloads.c) */
    const char *batch_label; /* shown after a batched workload's name */
    /* NULL, or a reason the system cannot run with these options. */
    const char *(*unavailable)(const bench_opts_t *o);
    /* Makes a new, empty store `name` of s's geometry for values of
     * val_size bytes (replacing a leftover). */
    int (*create)(void **h, const char *name, const bench_store_t *s, uint32_t val_size,
                  const bench_opts_t *o);
    /* Opens the existing store `name` in another process; NULL if none. */
    int (*attach)(void **h, const char *name, const bench_opts_t *o);
    /* Runs the batch; BENCH_OK when every operation had the expected
     * result (gets hit, misses miss, deletes find their key), else
     * BENCH_ERR with the reason recorded. */
    int (*run)(void *h, const bench_batch_t *b);
    int (*clear)(void *h);
    /* Optional: n puts of one value, or n gets, as one batch of the
     * peer's own (a transaction, a pipeline).  get_batch returns
     * BENCH_MISS if any missed. */
    int (*put_batch)(void *h, const unsigned char *const *keys, size_t n, size_t klen,
                     const void *val, size_t vlen);
    int (*get_batch)(void *h, const unsigned char *const *keys, size_t n, size_t klen,
                     void *buf, size_t cap);
    /* Closes the handle; with `destroy`, removes the store as well. */
    void (*close)(void *h, int destroy);
} bench_sys_t;

extern const bench_sys_t bench_sys_harness, bench_sys_bare, bench_sys_floor,
    bench_sys_floor_nolock, bench_sys_kv, bench_sys_kv_opt, bench_sys_kv_cache, bench_sys_lmdb,
    bench_sys_redis;
#define BENCH_MAX_SYS 9 /* the systems above */

/* Records why the current operation failed (printf-style); returns BENCH_ERR. */
int bench_error(const char *fmt, ...);
/* The last message recorded by bench_error(). */
const char *bench_last_error(void);
/* Records that an operation of a `op` batch answered rc (a miss where a
 * hit was due, or the other way round); returns rc if it is an error
 * already recorded, else BENCH_ERR. */
int bench_unexpected(bench_op_t op, int rc);

/* ---------------------------------------------------------------------- */
/* Shared inputs (keys.c)                                                  */
/* ---------------------------------------------------------------------- */

struct bench_keys {
    uint32_t count, key_size, val_size;
    uint32_t *order;        /* 0..count-1 shuffled with a fixed seed */
    unsigned char *val[2];  /* two values; overwrites alternate between them */
    unsigned char *buf;     /* room for one value, for gets */
};

/* Key i of the set is 'k', then 2i (stored) or 2i+1 (absent) as KEY_DIGITS
 * lowercase hex digits, then filler bytes up to the key size.  Fixed-width
 * hex sorts as the numbers do, so absent keys fall among the stored ones. */
#define KEY_DIGITS 8
#define KEY_SIZE_MIN (1 + KEY_DIGITS)

/* Prepares the inputs.  Returns 0 or BENCH_ERR. */
int keys_make(bench_keys_t *k, uint32_t count, uint32_t key_size, uint32_t val_size);
void keys_free(bench_keys_t *k);
/* Room for n keys, back to back, each already holding the 'k' and the
 * filler, so key_gen() only writes the digits.  NULL if out of memory;
 * free() it. */
unsigned char *keys_buffer(const bench_keys_t *k, uint32_t n);

/* Writes the KEY_DIGITS lowercase hex digits of x to out, most significant
 * first: the digits spread one nibble per byte, turned into ASCII in one go
 * (a few ns, no division). */
static inline void hex_digits(unsigned char *out, uint32_t x32)
{
    uint64_t x = x32, mask;
    x = (x | x << 16) & UINT64_C(0x0000ffff0000ffff);
    x = (x | x << 8) & UINT64_C(0x00ff00ff00ff00ff);
    x = (x | x << 4) & UINT64_C(0x0f0f0f0f0f0f0f0f);          /* one nibble per byte */
    mask = (x + UINT64_C(0x0606060606060606)) >> 4 & UINT64_C(0x0101010101010101); /* > 9 */
    x = htobe64(x + UINT64_C(0x3030303030303030) + mask * ('a' - '0' - 10));
    memcpy(out, &x, KEY_DIGITS);
}

/* Writes key i (stored, or `absent`) into key, a keys_buffer() slot, and
 * returns it. */
static inline const unsigned char *key_gen(unsigned char *key, uint32_t i, int absent)
{
    hex_digits(key + 1, 2 * i + (absent != 0));
    return key;
}

/* splitmix64: the one random generator, seeded with fixed numbers. */
uint64_t bench_rand(uint64_t *state);
/* A uniform double in [0, 1) from the generator. */
double bench_rand_unit(uint64_t *state);
/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);
/* This thread's CPU time in nanoseconds. */
uint64_t bench_cpu_ns(void);

/* An operation sequence for BENCH_OP_MIX batches: ops key numbers below
 * `records`, zipfian (YCSB's scrambled zipfian) or uniform, update_pct of
 * them with BENCH_IDX_PUT; a pure function of its arguments. */
int mix_make(uint32_t **seq, uint64_t ops, uint32_t records, unsigned update_pct, int zipfian,
             uint64_t seed);

/* ---------------------------------------------------------------------- */
/* The per-operation loop                                                  */
/* ---------------------------------------------------------------------- */

typedef int (*bench_get_fn)(void *h, const void *key, size_t klen, void *buf, size_t cap);
typedef int (*bench_put_fn)(void *h, const void *key, size_t klen, const void *val,
                            size_t vlen);
typedef int (*bench_del_fn)(void *h, const void *key, size_t klen);

/* Runs batch b with the system's single operations: what every system's
 * run() is, instantiated in its sys_*.c with its own static functions.
 * Always inlined, so that there the calls are direct and the functions
 * inline into the loop (the compiler also hoists the test of b->op out of
 * it); the indirect call is the one per batch through bench_sys_t.run. */
static inline __attribute__((always_inline)) int bench_run_ops(void *h, const bench_batch_t *b,
                                                                bench_get_fn get,
                                                                bench_put_fn put,
                                                                bench_del_fn del)
{
    const bench_keys_t *k = b->k;
    const int want = b->op == BENCH_OP_MISS ? BENCH_MISS : BENCH_OK;
    for (uint32_t i = 0; i < b->n; i++) {
        uint32_t x = b->idx[i];
        const unsigned char *key = key_gen(b->key, x & ~BENCH_IDX_PUT, b->op == BENCH_OP_MISS);
        int rc;
        if (b->op == BENCH_OP_PUT || (b->op == BENCH_OP_MIX && (x & BENCH_IDX_PUT)))
            rc = put(h, key, k->key_size, b->val, k->val_size);
        else if (b->op == BENCH_OP_DEL)
            rc = del(h, key, k->key_size);
        else
            rc = get(h, key, k->key_size, k->buf, k->val_size);
        if (rc != want)
            return bench_unexpected(b->op, rc);
    }
    return BENCH_OK;
}

/* ---------------------------------------------------------------------- */
/* Sections (workloads.c, procs.c)                                         */
/* ---------------------------------------------------------------------- */

/* Names the store "kvbench-<pid>-<system>-<store>" into name[0..cap) and
 * creates it for k's values, unless the system is unavailable.  0 or
 * BENCH_ERR. */
int bench_create(const bench_sys_t *sys, const bench_store_t *s, const bench_keys_t *k,
                 const bench_opts_t *o, char *name, size_t cap, void **h);

/* Each runs one section for the n systems sys[0..n) on one store and
 * reports their rows; a failure becomes the row's note, so they return
 * nothing.  ycsb_section replays seq[0..2] (YCSB A, B, C) of `ops` each. */
void single_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                    const bench_keys_t *k, const bench_opts_t *o);
void ycsb_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                  const bench_keys_t *k, const bench_opts_t *o, uint32_t *const seq[3],
                  uint64_t ops);
void procs_section(const bench_sys_t *const *sys, size_t n, const bench_store_t *s,
                   const bench_keys_t *k, const bench_opts_t *o);
#define PROCS_REPS 3 /* multi-process runs per system, mix and process count */
#define PROCS_MIX_OPS 65536u /* a worker's sequence, replayed until its deadline */

/* The multi-process section's operation mixes (procs.c), in the order run. */
typedef struct procs_mix {
    const char *name;    /* in the rows' workload, "100% get" */
    const char *tag;     /* in the summary and the plot's series, "get" */
    unsigned update_pct; /* share of puts (overwrites) */
} procs_mix_t;
#define PROCS_MIXES 2
extern const procs_mix_t procs_mixes[PROCS_MIXES];
/* Writes the rows' workload for mix m at nproc processes into out[0..cap). */
void procs_workload(char *out, size_t cap, const procs_mix_t *m, unsigned nproc);
/* Fills the keys order[from..to) of the set into the store (batched if it
 * can). */
int bench_fill(const bench_sys_t *sys, void *h, const bench_keys_t *k, uint32_t from,
               uint32_t to);

/* A measured figure over repetitions: the median and the extremes, and
 * the median share of wall-clock time the process was on a CPU (0: not
 * measured). */
typedef struct bench_fig {
    double median, lo, hi, oncpu;
} bench_fig_t;
/* The figure of v[0..n) (oncpu 0); sorts v. */
bench_fig_t bench_figure(double *v, unsigned n);

/* The worker role: argv after "--worker".  Returns the exit code. */
int procs_worker(int argc, char **argv);
const bench_sys_t *bench_find_sys(const char *name);

/* ---------------------------------------------------------------------- */
/* Memory workload (memory.c)                                              */
/* ---------------------------------------------------------------------- */

/* A store of a memory budget holding entries of any size up to the
 * workload's largest key and value. */
typedef struct bench_mem_sys {
    const char *name;
    /* NULL, or a reason the system cannot run with these options. */
    const char *(*unavailable)(const bench_opts_t *o);
    /* Opens a new, empty store of `budget` bytes that refuses an entry it
     * has no room for (evicting 0) or evicts to make room (evicting 1);
     * writes a line about how it was made into about[0..cap). */
    int (*open)(void **h, uint64_t budget, uint32_t key_max, uint32_t val_max, int evicting,
                const bench_opts_t *o, char *about, size_t cap);
    /* BENCH_OK, BENCH_FULL (refused for room; nothing stored) or BENCH_ERR. */
    int (*put)(void *h, const void *key, size_t klen, const void *val, size_t vlen);
    /* Reads the value back into buf[0..cap): BENCH_OK with *vlen, BENCH_MISS,
     * or BENCH_ERR. */
    int (*get)(void *h, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen);
    /* Closes the handle and removes the store (or empties the server). */
    void (*close)(void *h);
} bench_mem_sys_t;

extern const bench_mem_sys_t bench_mem_kv, bench_mem_kv_2k, bench_mem_redis, bench_mem_memcached;

/* Runs the mixed-size workload on every memory system; 0 or BENCH_ERR. */
int memory_workload(const bench_opts_t *o);

/* ---------------------------------------------------------------------- */
/* Report (report.c)                                                       */
/* ---------------------------------------------------------------------- */

int report_open(const bench_opts_t *o);
void report_section(const char *title);
/* One row.  `base` names the workload kv is compared with (the batched
 * rows compare with kv's unbatched one); f.median 0 means no figure, see
 * note.  f is in ns/op. */
void report_row(const char *section, const char *sys, const char *store, const char *workload,
                const char *base, bench_fig_t f, const char *note);
/* One point of the processes-vs-ops/s plot. */
void report_plot(const char *series, unsigned procs, double ops_per_s);
/* The summaries of the rows so far: harness, bare loop, floor and kv side
 * by side with raw and net ratios, then harness, floor-nolock and kv-opt;
 * processes against one process, for each mix. */
void report_floor_check(void);
void report_procs_scaling(void);
/* A free-form line on stdout (and nothing in the CSV). */
void report_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A memory-workload row: for the CSV as well as stdout. */
void report_mem_row(const char *phase, const char *sys, double ratio, uint64_t entries,
                    uint64_t live_bytes, const char *note);
int report_close(void);

#endif /* KVBENCH_BENCH_H */
