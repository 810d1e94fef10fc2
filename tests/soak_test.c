/*
 * soak_test.c — the kill -9 soak: writer processes are killed at random
 * moments, hundreds (or tens of thousands) of times, while reader processes
 * keep reading, and nothing a writer was told had succeeded may be lost.
 *
 * The driver (the test case) creates a store and starts WRITERS writer and
 * READERS reader processes on it: this binary re-executed in a role
 * (spawn.h).  Each writer owns KEYS keys — COUNTERS of them kv_incr
 * counters, the rest values that carry their own checksum — and does random
 * puts, insert-only puts, compare-and-swap puts, deletes, conditional
 * deletes and increments on them.  Around every operation it appends a
 * fixed-size record to its log file (a path argument; plain stdio, so it
 * ports): "about to do X" before the call, "X returned rc (and this
 * result)" after it.  Records reach the kernel before the next operation
 * starts (no fsync: the process is killed, not the machine), so a kill
 * loses nothing acknowledged, and the last "about to do" without its
 * result is the operation the kill cut.
 *
 * The driver repeatedly picks a writer, waits until it is working, sleeps a
 * random few milliseconds and kills it with spawn_kill (SIGKILL /
 * TerminateProcess).  It then replays the dead writer's log through a model
 * of its keys — every acknowledged result must be one the model allows, and
 * the one operation in flight at the kill may have been applied or not —
 * reads the writer's keys back, requires each to be in a state the model
 * allows, settles the model on what it read, and starts a new incarnation of
 * the writer.  Because each key has one writer, a dead writer's keys hold
 * still while they are checked.  Every CHECK_EVERY kills, and at the end,
 * kv_check must find nothing wrong; at the end every entry in the store must
 * be one the model holds.  Readers meanwhile get random keys and iterate the
 * whole store, and fail (exit code) on any value that is torn, misplaced or
 * malformed, or any unexpected error.
 *
 * Values are up to 32 KiB, so a writer spends much of its time copying
 * under the lock, and about one kill in ten lands inside a critical section
 * (kv_stats' recoveries, printed at the end with the other figures).
 *
 * Default: DEFAULT_KILLS kills (well under a minute, sanitizers included).
 * Long mode: `soak_test --kills 10000` (or KV_SOAK_KILLS=10000; tests/soak.sh
 * builds and runs it); `--seed S` (or KV_SOAK_SEED) repeats a run's random
 * choices (not its timing), printed on every run.  Without either, the seed
 * is drawn from the run's KV_TEST_SEED (test_rng), which repeats it too.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv.h"
#include "spawn.h"
#include "test.h"
#include "util.h"

enum {
    WRITERS = 3, READERS = 2,
    KEYS = 48,            /* keys per writer */
    COUNTERS = 12,        /* the first COUNTERS keys of a writer are counters */
    SOAK_SLOTS = 512, SOAK_KEY_MAX = 24, SOAK_VAL_MAX = 32768,
    DEFAULT_KILLS = 300,
    CHECK_EVERY = 50,     /* kv_check every this many kills */
    MAX_STATES = 64,      /* possible states the model keeps per key */
    START_LIMIT_MS = 30000, /* a writer that logs nothing this long has failed */
    ORPHAN_MS = 60000,    /* a role whose driver is silent this long exits */
};
#define HB_KEY "soak-heartbeat" /* the driver's heartbeat, rewritten every kill */
#define STOP_KEY "soak-stop"    /* put by the driver: readers finish */
#define ORPHAN_EXIT 3           /* a role's exit code: the driver went away */

/* ------------------------------------------------------------------------ */
/* Keys and self-checking values                                            */
/* ------------------------------------------------------------------------ */

/* Key j of writer w: "c<w>-<j>" for a counter, "v<w>-<j>" for a value. */
static size_t key_name(char *buf, unsigned w, unsigned j)
{
    return (size_t)snprintf(buf, SOAK_KEY_MAX + 1, "%c%u-%u", j < COUNTERS ? 'c' : 'v', w, j);
}

/* Parses a writer key back into (w, j); returns 1 if it is one. */
static int parse_key(const char *key, size_t len, unsigned *w, unsigned *j)
{
    char buf[SOAK_KEY_MAX + 1], kind = 0, check[SOAK_KEY_MAX + 1];
    if (len == 0 || len > SOAK_KEY_MAX)
        return 0;
    memcpy(buf, key, len);
    buf[len] = '\0';
    if (sscanf(buf, "%c%u-%u", &kind, w, j) != 3 || *w >= WRITERS || *j >= KEYS)
        return 0;
    return key_name(check, *w, *j) == len && memcmp(check, key, len) == 0;
}

/* Filler for values: pseudo-random letters, twice the largest value long,
 * so that the filler of one put (starting at an offset given by its seq)
 * differs from every other put's at almost every byte. */
static char pattern[2 * SOAK_VAL_MAX];

static void pattern_init(void)
{
    uint64_t rng = 0x50a4;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)('a' + util_rand(&rng) % 26u);
}

/* The value `key` holds after the put numbered `seq`:
 * "<key>|<seq, 16 hex>|<filler>|<fnv of key, seq and length, 8 hex>", the
 * filler 0..SOAK_VAL_MAX-64 bytes of `pattern` at an offset and of a length
 * chosen by key and seq.  So values of very different lengths replace each
 * other, each byte of a value is a function of (key, seq), and a value torn
 * between two puts — the head of one, the tail of another — cannot pass as
 * either.  Filler is copied, not computed, so building a value costs a
 * memcpy and the writer spends its time in the store, not in the test.
 * Returns the length. */
static size_t make_value(char *buf, const char *key, size_t key_len, uint64_t seq)
{
    uint32_t mix = util_fnv1a(key, key_len) ^ (uint32_t)(seq * 2654435761u) ^ (uint32_t)(seq >> 32);
    int n = snprintf(buf, SOAK_VAL_MAX, "%.*s|%016" PRIx64 "|", (int)key_len, key, seq);
    size_t len = (size_t)n, fill = mix % (SOAK_VAL_MAX - 64 + 1);
    uint32_t tail[3] = { util_fnv1a(key, key_len), (uint32_t)seq ^ (uint32_t)(seq >> 32),
                         (uint32_t)fill };
    memcpy(buf + len, pattern + (mix >> 7) % SOAK_VAL_MAX, fill);
    len += fill;
    buf[len++] = '|';
    snprintf(buf + len, 9, "%08x", (unsigned)util_fnv1a(tail, sizeof tail));
    return len + 8;
}

/* Returns 1 if val is exactly the value of `key` for some seq (set). */
static int parse_value(const char *key, size_t key_len, const char *val, size_t val_len,
                       uint64_t *seq)
{
    static char want[SOAK_VAL_MAX]; /* roles are single-threaded */
    char hex[17], *end = NULL;
    if (val_len < key_len + 18 || memcmp(val, key, key_len) != 0 || val[key_len] != '|')
        return 0;
    memcpy(hex, val + key_len + 1, 16);
    hex[16] = '\0';
    *seq = strtoull(hex, &end, 16);
    if (end != hex + 16)
        return 0;
    return make_value(want, key, key_len, *seq) == val_len && memcmp(want, val, val_len) == 0;
}

/* Returns 1 if val is the decimal text of an int64 (what kv_incr writes). */
static int parse_counter(const char *val, size_t len, int64_t *num)
{
    char buf[24], *end = NULL;
    if (len == 0 || len > 20)
        return 0;
    memcpy(buf, val, len);
    buf[len] = '\0';
    *num = strtoll(buf, &end, 10);
    return end == buf + len && (buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9'));
}

/* ------------------------------------------------------------------------ */
/* The writer's log                                                         */
/* ------------------------------------------------------------------------ */

enum { OP_PUT, OP_INSERT, OP_CAS, OP_DEL, OP_DEL_IF, OP_INCR, OP_COUNT };
static const char *const op_names[OP_COUNT] = { "put", "insert", "cas", "del", "del_if", "incr" };

#define REC_INTENT UINT32_C(0x534f4b49) /* "about to do it" */
#define REC_DONE   UINT32_C(0x534f4b44) /* "did it, this came back" */

/* One log record; fixed size, so a record cut short by the kill is easy to
 * tell from the others (and its checksum fails). */
typedef struct soak_rec {
    uint32_t magic;  /* REC_INTENT or REC_DONE */
    uint32_t op;     /* OP_* */
    uint32_t key;    /* index of the key within the writer's range */
    int32_t rc;      /* REC_DONE: what the call returned */
    uint64_t seq;    /* the value's sequence number (puts) */
    int64_t num;     /* incr: the delta (INTENT), the result (DONE) */
    uint32_t pad;
    uint32_t check;  /* fnv1a of the bytes before it */
} soak_rec_t;

static uint32_t rec_check(const soak_rec_t *r)
{
    return util_fnv1a(r, offsetof(soak_rec_t, check));
}

static int rec_ok(const soak_rec_t *r)
{
    return (r->magic == REC_INTENT || r->magic == REC_DONE) && r->op < OP_COUNT &&
           r->key < KEYS && r->check == rec_check(r);
}

/* Appends r as `magic`; with `flush`, hands everything appended so far to
 * the kernel (no fsync: the process is killed, not the machine).  The
 * writer flushes "done n" together with "about to do n+1", in one system
 * call before starting n+1: every acknowledged operation is reported
 * before the writer moves on, and the writer spends more of its time
 * inside the store, where the kills are meant to land.  Returns 0 or -1. */
static int log_rec(FILE *log, soak_rec_t *r, uint32_t magic, int flush)
{
    r->magic = magic;
    r->check = rec_check(r);
    if (fwrite(r, sizeof *r, 1, log) != 1)
        return -1;
    return flush && fflush(log) != 0 ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Roles                                                                    */
/* ------------------------------------------------------------------------ */

/* Notices a driver that went away (its test crashed or was stopped): the
 * driver rewrites HB_KEY on every kill; a role that sees it unchanged for
 * ORPHAN_MS gives up instead of running forever. */
typedef struct heartbeat {
    char last[32];
    size_t len;
    int64_t since, checked;
} heartbeat_t;

static int orphaned(kv_t *kv, heartbeat_t *hb)
{
    int64_t now = util_now_ms();
    char v[32];
    size_t len = 0;
    if (hb->since == 0)
        hb->since = hb->checked = now;
    if (now - hb->checked < 500)
        return 0;
    hb->checked = now;
    if (kv_get(kv, HB_KEY, strlen(HB_KEY), v, sizeof v, &len) == 0 &&
        (len != hb->len || memcmp(v, hb->last, len) != 0)) {
        memcpy(hb->last, v, len);
        hb->len = len;
        hb->since = now;
    }
    return now - hb->since > ORPHAN_MS;
}

/* Chooses writer operation n: counters are incremented or deleted; values
 * are put, inserted, compare-and-swapped or deleted. */
static void plan(soak_rec_t *r, uint64_t incarnation, uint64_t n, uint64_t *rng)
{
    uint64_t x = util_rand(rng);
    memset(r, 0, sizeof *r);
    r->key = (uint32_t)(x % KEYS);
    x /= KEYS;
    r->seq = (incarnation << 32) | (n & UINT32_MAX);
    if (r->key < COUNTERS) {
        r->op = x % 5 ? OP_INCR : (x % 2 ? OP_DEL : OP_DEL_IF);
        r->num = (int64_t)(util_rand(rng) % 2001) - 1000;
        return;
    }
    static const uint32_t mix[20] = {
        OP_PUT, OP_PUT, OP_PUT, OP_PUT, OP_PUT, OP_PUT, OP_PUT, OP_PUT,
        OP_INSERT, OP_INSERT, OP_INSERT, OP_CAS, OP_CAS, OP_CAS,
        OP_DEL, OP_DEL, OP_DEL, OP_DEL, OP_DEL_IF, OP_DEL_IF,
    };
    r->op = mix[x % 20];
}

/* The version of key's entry, 0 when absent; or an error. */
static int version_of(kv_t *kv, const char *k, size_t kl, uint64_t *version)
{
    kv_meta_t m = { 0, 0 };
    int rc = kv_get_ex(kv, k, kl, NULL, 0, NULL, &m);
    *version = rc == KV_ENOTFOUND ? 0 : m.version;
    return rc == KV_ENOTFOUND || rc == KV_ERANGE || rc == 0 ? 0 : rc;
}

/* Runs writer w's operation r, filling r->rc (and r->num for incr). */
static void perform(kv_t *kv, unsigned w, soak_rec_t *r)
{
    char k[SOAK_KEY_MAX + 1], v[SOAK_VAL_MAX];
    size_t kl = key_name(k, w, r->key);
    kv_put_opts_t cas = { KV_IF_VERSION, 0, 0, 0 };
    uint64_t version = 0;
    int64_t result = 0;
    switch (r->op) {
    case OP_PUT:
        r->rc = kv_put(kv, k, kl, v, make_value(v, k, kl, r->seq), 0);
        break;
    case OP_INSERT:
        r->rc = kv_put(kv, k, kl, v, make_value(v, k, kl, r->seq), KV_NOREPLACE);
        break;
    case OP_CAS: /* the writer alone writes its keys, so it must never conflict */
        if ((r->rc = version_of(kv, k, kl, &version)) == 0) {
            cas.if_version = version;
            r->rc = kv_put_ex(kv, k, kl, v, make_value(v, k, kl, r->seq), &cas);
        }
        break;
    case OP_DEL:
        r->rc = kv_del(kv, k, kl);
        break;
    case OP_DEL_IF:
        if ((r->rc = version_of(kv, k, kl, &version)) == 0)
            r->rc = kv_del_if(kv, k, kl, version ? version : 1);
        break;
    default:
        r->rc = kv_incr(kv, k, kl, r->num, &result);
        r->num = result;
        break;
    }
}

/* Whether rc is a result op r may return at all (whatever the key's state).
 * KV_ETIMEDOUT is one for every op (see reader_tally_t). */
static int plausible(const soak_rec_t *r)
{
    if (r->rc == KV_ETIMEDOUT)
        return 1;
    switch (r->op) {
    case OP_INSERT: return r->rc == 0 || r->rc == KV_EEXIST;
    case OP_DEL:
    case OP_DEL_IF: return r->rc == 0 || r->rc == KV_ENOTFOUND;
    default:        return r->rc == 0;
    }
}

/* Role "writer STORE W INCARNATION LOG SEED": runs random operations on
 * writer W's keys until killed, logging each one before and after.  Exits
 * 1 on an error or an implausible result, ORPHAN_EXIT without a driver. */
static int role_writer(int argc, char **argv)
{
    kv_t *kv = NULL;
    heartbeat_t hb = { { 0 }, 0, 0, 0 };
    if (argc != 6)
        return 1;
    unsigned w = (unsigned)atoi(argv[2]);
    uint64_t incarnation = strtoull(argv[3], NULL, 10), rng = strtoull(argv[5], NULL, 10);
    FILE *log = fopen(argv[4], "wb");
    int rc = log ? kv_open(&kv, argv[1], KV_RDWR, NULL) : KV_EIO;
    if (rc != 0) {
        fprintf(stderr, "  writer %u: open: %s\n", w, log ? kv_strerror(rc) : "cannot open log");
        return 1;
    }
    for (uint64_t n = 0;; n++) {
        soak_rec_t r;
        if ((n & 63) == 0 && orphaned(kv, &hb))
            return ORPHAN_EXIT;
        plan(&r, incarnation, n, &rng);
        if (log_rec(log, &r, REC_INTENT, 1) != 0)
            return 1;
        perform(kv, w, &r);
        if (log_rec(log, &r, REC_DONE, !plausible(&r)) != 0)
            return 1;
        if (!plausible(&r)) {
            fprintf(stderr, "  writer %u: %s key %u: %s\n", w, op_names[r.op], r.key,
                    kv_strerror(r.rc));
            return 1;
        }
    }
}

/* What a reader has seen.  A lock wait that timed out (KV_ETIMEDOUT: the
 * default 5 s passed while writers kept taking the lock, which an
 * overloaded machine can make happen; the mutex is not fair) is an allowed
 * answer, counted apart from bad ones. */
typedef struct reader_tally {
    unsigned long long gets, scans, entries, timeouts, bad;
} reader_tally_t;

/* Checks one entry a reader saw: a writer key with a well-formed value, or
 * one of the driver's keys. */
static int reader_check(void *ctx, const void *key, size_t key_len, const void *val,
                        size_t val_len)
{
    reader_tally_t *t = ctx;
    unsigned w, j;
    uint64_t seq;
    int64_t num;
    int ok;
    t->entries++;
    if ((key_len == strlen(HB_KEY) && memcmp(key, HB_KEY, key_len) == 0) ||
        (key_len == strlen(STOP_KEY) && memcmp(key, STOP_KEY, key_len) == 0))
        return 0;
    ok = parse_key(key, key_len, &w, &j) &&
         (j < COUNTERS ? parse_counter(val, val_len, &num)
                       : parse_value(key, key_len, val, val_len, &seq));
    if (!ok && t->bad++ < 5)
        fprintf(stderr, "  reader: bad entry %.*s = %.*s (%zu bytes)\n", (int)key_len,
                (const char *)key, (int)(val_len > 80 ? 80 : val_len), (const char *)val,
                val_len);
    return 0;
}

/* Role "reader STORE SEED": gets random writer keys, and every 64th time
 * iterates the whole store, checking every value, until the driver puts
 * STOP_KEY.  Exits 0 if every value was well-formed and every call
 * returned what it may. */
static int role_reader(int argc, char **argv)
{
    kv_t *kv = NULL;
    heartbeat_t hb = { { 0 }, 0, 0, 0 };
    reader_tally_t t = { 0, 0, 0, 0, 0 };
    char k[SOAK_KEY_MAX + 1], v[SOAK_VAL_MAX];
    uint64_t rng = argc == 3 ? strtoull(argv[2], NULL, 10) : 0;
    int rc = argc == 3 ? kv_open(&kv, argv[1], 0, NULL) : KV_EINVAL;
    if (rc != 0) {
        fprintf(stderr, "  reader: open: %s\n", kv_strerror(rc));
        return 1;
    }
    for (uint64_t n = 1;; n++) {
        if ((n & 255) == 0) {
            if (kv_get(kv, STOP_KEY, strlen(STOP_KEY), NULL, 0, NULL) != KV_ENOTFOUND)
                break;
            if (orphaned(kv, &hb))
                return ORPHAN_EXIT;
        }
        if (n % 64 == 0) {
            long long seen = util_for_each(kv, reader_check, &t);
            t.scans++;
            if (seen == KV_ETIMEDOUT)
                t.timeouts++;
            else if (seen < 0 && t.bad++ < 5)
                fprintf(stderr, "  reader: iteration: %s\n", kv_strerror((int)seen));
            continue;
        }
        uint64_t x = util_rand(&rng);
        size_t kl = key_name(k, (unsigned)(x % WRITERS), (unsigned)(x / WRITERS % KEYS)), vl = 0;
        rc = kv_get(kv, k, kl, v, sizeof v, &vl);
        t.gets++;
        if (rc == 0)
            reader_check(&t, k, kl, v, vl);
        else if (rc == KV_ETIMEDOUT)
            t.timeouts++;
        else if (rc != KV_ENOTFOUND && t.bad++ < 5)
            fprintf(stderr, "  reader: get %s: %s\n", k, kv_strerror(rc));
    }
    fprintf(stderr, "  reader: %llu gets, %llu full scans (%llu entries), %llu lock timeouts, "
            "%llu bad\n", t.gets, t.scans, t.entries, t.timeouts, t.bad);
    kv_close(kv);
    return t.bad ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* The model                                                                */
/* ------------------------------------------------------------------------ */

/* A key's state: absent, or a value (its seq) / a counter (its number). */
typedef struct key_state {
    int present;
    uint64_t seq;
    int64_t num;
} key_state_t;

/* The states a key may be in: one, except after a kill whose in-flight
 * operation touched it (then before and after), until it is read back. */
typedef struct key_model {
    unsigned n;
    key_state_t s[MAX_STATES];
} key_model_t;

static int same_state(const key_state_t *a, const key_state_t *b)
{
    return a->present == b->present && (!a->present || (a->seq == b->seq && a->num == b->num));
}

/* What operation `op` (its INTENT record) does to state s: sets *rc and
 * *result as the call would return them and returns the new state. */
static key_state_t outcome(const soak_rec_t *op, const key_state_t *s, int *rc, int64_t *result)
{
    key_state_t t = *s, absent = { 0, 0, 0 }, put = { 1, op->seq, 0 };
    *rc = 0;
    *result = 0;
    switch (op->op) {
    case OP_PUT:
    case OP_CAS:
        t = put;
        break;
    case OP_INSERT:
        if (s->present)
            *rc = KV_EEXIST;
        else
            t = put;
        break;
    case OP_DEL:
    case OP_DEL_IF:
        if (s->present)
            t = absent;
        else
            *rc = KV_ENOTFOUND;
        break;
    default:
        t.present = 1;
        t.seq = 0;
        t.num = (s->present ? s->num : 0) + op->num;
        *result = t.num;
        break;
    }
    return t;
}

/* Adds s to m unless it is there; returns 0, or -1 when m is full. */
static int model_add(key_model_t *m, const key_state_t *s)
{
    for (unsigned i = 0; i < m->n; i++)
        if (same_state(&m->s[i], s))
            return 0;
    if (m->n == MAX_STATES)
        return -1;
    m->s[m->n++] = *s;
    return 0;
}

static void describe_state(const key_state_t *s, unsigned j, char *buf, size_t cap)
{
    if (!s->present)
        snprintf(buf, cap, "absent");
    else if (j < COUNTERS)
        snprintf(buf, cap, "%" PRId64, s->num);
    else
        snprintf(buf, cap, "seq %016" PRIx64, s->seq);
}

/* Applies an acknowledged operation: keeps the states in which the call
 * would have returned exactly what it did, moved on by the operation.
 * Returns 0, or -1 (the result contradicts every state the model allows:
 * something acknowledged was lost or changed). */
static int model_ack(key_model_t *m, const soak_rec_t *op, int rc, int64_t result)
{
    key_model_t next = { 0, { { 0, 0, 0 } } };
    if (rc == KV_ETIMEDOUT) /* never got the lock: changed nothing */
        return 0;
    for (unsigned i = 0; i < m->n; i++) {
        int want_rc;
        int64_t want_result;
        key_state_t t = outcome(op, &m->s[i], &want_rc, &want_result);
        if (want_rc == rc && (op->op != OP_INCR || want_result == result))
            model_add(&next, &t);
    }
    if (next.n == 0)
        return -1;
    *m = next;
    return 0;
}

/* Applies the operation in flight at a kill: it may or may not have
 * happened.  Returns 0, or -1 if the model would outgrow MAX_STATES. */
static int model_maybe(key_model_t *m, const soak_rec_t *op)
{
    unsigned n = m->n;
    for (unsigned i = 0; i < n; i++) {
        int rc;
        int64_t result;
        key_state_t t = outcome(op, &m->s[i], &rc, &result);
        if (rc == 0 && model_add(m, &t) != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The driver                                                               */
/* ------------------------------------------------------------------------ */

typedef struct writer_proc {
    spawn_proc_t proc;
    unsigned long long incarnation;
    char log[600];
    int running;
} writer_proc_t;

/* Everything the soak keeps; static because the model is large. */
static struct soak {
    kv_t *kv;
    char store[256], dir[512];
    uint64_t rng;
    key_model_t model[WRITERS][KEYS];
    writer_proc_t w[WRITERS];
    unsigned long kills;
    unsigned long long verified;   /* acknowledged operations replayed */
    unsigned long long in_flight;  /* operations cut by a kill */
    unsigned long long applied;    /* ... found applied when read back */
    unsigned long long checked;    /* keys read back and matched */
    unsigned long long losses;     /* keys or results the model did not allow */
    unsigned long long hb;
    int in_flight_key;             /* key of the dead writer's in-flight op, or -1 */
    key_model_t before;            /* that key's states before the op */
} S;

/* Settings from argv / the environment. */
static unsigned long opt_kills = DEFAULT_KILLS;
static uint64_t opt_seed;
static int opt_seed_given; /* --seed or KV_SOAK_SEED, else test_rng's */

static void heartbeat(void)
{
    char v[32];
    int n = snprintf(v, sizeof v, "%llu", ++S.hb);
    kv_put(S.kv, HB_KEY, strlen(HB_KEY), v, (size_t)n, 0);
}

static int start_writer(unsigned w)
{
    writer_proc_t *p = &S.w[w];
    char warg[16], inc[32], seed[32];
    snprintf(warg, sizeof warg, "%u", w);
    snprintf(inc, sizeof inc, "%llu", ++p->incarnation);
    snprintf(seed, sizeof seed, "%" PRIu64, util_rand(&S.rng));
    const char *args[] = { S.store, warg, inc, p->log, seed, NULL };
    if (spawn_role(&p->proc, "writer", args, NULL) != 0)
        return -1;
    p->running = 1;
    return 0;
}

/* Size of the file at path, or -1 when it does not exist. */
static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (f)
        fclose(f);
    return size;
}

/* Waits until writer w has logged a complete operation.  Returns 0, or -1
 * after START_LIMIT_MS. */
static int wait_working(unsigned w)
{
    int64_t deadline = util_now_ms() + START_LIMIT_MS;
    while (file_size(S.w[w].log) < (long)(2 * sizeof(soak_rec_t))) {
        if (util_now_ms() > deadline) {
            fprintf(stderr, "  writer %u logged nothing in %d ms\n", w, START_LIMIT_MS);
            return -1;
        }
        spawn_sleep_ms(1);
    }
    return 0;
}

/* Replays writer w's log through its keys' models.  Returns 0, or -1 on a
 * malformed log or a result the model does not allow. */
static int replay_log(unsigned w)
{
    size_t len = 0, n;
    unsigned char *buf = util_read_file(S.w[w].log, &len);
    soak_rec_t pending;
    int have_pending = 0, rc = 0;
    memset(&pending, 0, sizeof pending);
    S.in_flight_key = -1;
    n = buf ? len / sizeof(soak_rec_t) : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        soak_rec_t r;
        memcpy(&r, buf + i * sizeof r, sizeof r);
        if (!rec_ok(&r)) {
            /* Only the record being written when the kill came may be bad. */
            if (i + 1 == n)
                break;
            fprintf(stderr, "  writer %u: log record %zu is damaged\n", w, i);
            rc = -1;
        } else if (r.magic == REC_INTENT) {
            if (have_pending) {
                fprintf(stderr, "  writer %u: log record %zu: two intents\n", w, i);
                rc = -1;
            }
            pending = r;
            have_pending = 1;
        } else if (!have_pending || pending.op != r.op || pending.key != r.key ||
                   pending.seq != r.seq) {
            fprintf(stderr, "  writer %u: log record %zu: result without intent\n", w, i);
            rc = -1;
        } else {
            key_model_t *m = &S.model[w][r.key];
            key_model_t was = *m;
            have_pending = 0;
            S.verified++;
            if (model_ack(m, &pending, r.rc, r.num) != 0) {
                char st[64];
                describe_state(&was.s[0], r.key, st, sizeof st);
                fprintf(stderr, "  LOSS: writer %u %s key %u returned %s (result %" PRId64
                        "), but the key was %s%s\n", w, op_names[r.op], r.key,
                        kv_strerror(r.rc), r.num, st, was.n > 1 ? " (or another state)" : "");
                S.losses++;
                rc = -1;
            }
        }
    }
    if (rc == 0 && have_pending) {
        S.in_flight++;
        S.in_flight_key = (int)pending.key;
        S.before = S.model[w][pending.key];
        if (model_maybe(&S.model[w][pending.key], &pending) != 0) {
            fprintf(stderr, "  writer %u key %u: too many possible states\n", w, pending.key);
            rc = -1;
        }
    }
    free(buf);
    return rc;
}

/* Reads key j of writer w into *o.  Returns 0 or an error (KV_ECORRUPT for
 * a value that is not well-formed). */
static int observe(unsigned w, unsigned j, key_state_t *o)
{
    char k[SOAK_KEY_MAX + 1], v[SOAK_VAL_MAX];
    size_t kl = key_name(k, w, j), vl = 0;
    int rc = kv_get(S.kv, k, kl, v, sizeof v, &vl);
    memset(o, 0, sizeof *o);
    if (rc == KV_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    o->present = 1;
    if (j < COUNTERS)
        return parse_counter(v, vl, &o->num) ? 0 : KV_ECORRUPT;
    return parse_value(k, kl, v, vl, &o->seq) ? 0 : KV_ECORRUPT;
}

/* Reads back every key of (dead) writer w: each must be in a state the
 * model allows; the model then settles on it.  Returns 0 or -1. */
static int verify_writer(unsigned w)
{
    int rc = 0;
    for (unsigned j = 0; j < KEYS; j++) {
        key_model_t *m = &S.model[w][j];
        key_state_t o;
        int err = observe(w, j, &o), allowed = 0;
        for (unsigned i = 0; i < m->n && !err; i++)
            allowed |= same_state(&m->s[i], &o);
        if (err || !allowed) {
            char got[64], want[64];
            describe_state(&o, j, got, sizeof got);
            describe_state(&m->s[0], j, want, sizeof want);
            fprintf(stderr, "  LOSS: writer %u key %u is %s (%s), the model says %s%s\n", w, j,
                    err ? "unreadable" : got, kv_strerror(err), want,
                    m->n > 1 ? " or another state" : "");
            S.losses++;
            rc = -1;
            continue;
        }
        if ((int)j == S.in_flight_key) {
            int was = 0;
            for (unsigned i = 0; i < S.before.n; i++)
                was |= same_state(&S.before.s[i], &o);
            S.applied += !was;
        }
        m->n = 1;
        m->s[0] = o;
        S.checked++;
    }
    return rc;
}

/* Kills writer w (it must die of the kill, not exit on its own), checks
 * its log and keys, and restarts it unless `last`.  Returns 0 or -1. */
static int kill_cycle(unsigned w, int last)
{
    writer_proc_t *p = &S.w[w];
    spawn_status_t st = { 0, 0, 0, 0 };
    uint64_t x = util_rand(&S.rng);
    /* One kill in 16 comes at once, often while the writer is still
     * starting or opening; the others once it is working, after 0-3 ms. */
    if (x % 16 != 0 && wait_working(w) != 0)
        return -1;
    spawn_sleep_ms((unsigned)(x / 16 % 4));
    if (spawn_kill(&p->proc) != 0 || spawn_wait(&p->proc, &st) != 0) {
        fprintf(stderr, "  writer %u: cannot kill or wait\n", w);
        return -1;
    }
    p->running = 0;
    S.kills++;
    if (st.exited) {
        fprintf(stderr, "  writer %u exited by itself with %d\n", w, st.code);
        replay_log(w);
        return -1;
    }
    if (replay_log(w) != 0 || verify_writer(w) != 0)
        return -1;
    remove(p->log); /* a new incarnation that dies before opening it adds nothing */
    heartbeat();
    if (S.kills % CHECK_EVERY == 0) {
        char report[1024];
        int rc = kv_check(S.kv, report, sizeof report);
        if (rc != 0) {
            fprintf(stderr, "  kv_check after %lu kills: %s\n%s", S.kills, kv_strerror(rc),
                    report);
            return -1;
        }
    }
    return last ? 0 : start_writer(w);
}

/* Final count: every entry in the store is a writer key in the state the
 * model settled on, or one of the driver's keys. */
static int final_entry(void *ctx, const void *key, size_t key_len, const void *val,
                       size_t val_len)
{
    unsigned long long *bad = ctx;
    unsigned w, j;
    (void)val;
    (void)val_len;
    if ((key_len == strlen(HB_KEY) && memcmp(key, HB_KEY, key_len) == 0) ||
        (key_len == strlen(STOP_KEY) && memcmp(key, STOP_KEY, key_len) == 0))
        return 0;
    if (!parse_key(key, key_len, &w, &j) || !S.model[w][j].s[0].present) {
        fprintf(stderr, "  stray entry %.*s\n", (int)key_len, (const char *)key);
        (*bad)++;
    }
    return 0;
}

static unsigned long long model_present(void)
{
    unsigned long long n = 0;
    for (unsigned w = 0; w < WRITERS; w++)
        for (unsigned j = 0; j < KEYS; j++)
            n += S.model[w][j].s[0].present;
    return n;
}

/* Starts everyone, runs the kills, stops everyone.  Returns 0 or -1; the
 * caller reports and cleans up. */
static int soak_run(spawn_proc_t *readers, int *readers_started)
{
    char seed[32];
    for (unsigned r = 0; r < READERS; r++) {
        snprintf(seed, sizeof seed, "%" PRIu64, util_rand(&S.rng));
        const char *args[] = { S.store, seed, NULL };
        if (spawn_role(&readers[r], "reader", args, NULL) != 0)
            return -1;
        (*readers_started)++;
    }
    for (unsigned w = 0; w < WRITERS; w++)
        if (start_writer(w) != 0)
            return -1;
    /* The last WRITERS kills end each writer for good. */
    unsigned long total = opt_kills < WRITERS ? WRITERS : opt_kills;
    for (unsigned long k = 0; k < total; k++) {
        int last = k >= total - WRITERS;
        unsigned w = last ? (unsigned)(k - (total - WRITERS))
                          : (unsigned)(util_rand(&S.rng) % WRITERS);
        if (kill_cycle(w, last) != 0)
            return -1;
        if (S.kills % 1000 == 0)
            fprintf(stderr, "  ... %lu kills, %llu operations verified\n", S.kills, S.verified);
    }
    return 0;
}

TEST(kill9_soak)
{
    spawn_proc_t readers[READERS];
    int readers_started = 0, ok;
    unsigned long long stray = 0;
    int64_t t0 = util_now_ms();
    kv_options_t o = util_options(SOAK_SLOTS, SOAK_KEY_MAX, SOAK_VAL_MAX);
    kv_stats_t st;
    char report[4096];

    if (!util_dead_holder_reported()) /* writers are killed holding the lock */
        return TEST_SKIP;
    memset(&S, 0, sizeof S);
    if (!opt_seed_given)
        opt_seed = test_rng("soak");
    S.rng = opt_seed;
    for (unsigned w = 0; w < WRITERS; w++)
        for (unsigned j = 0; j < KEYS; j++)
            S.model[w][j].n = 1; /* absent */
    S.kv = util_fresh_ex(S.store, "soak", &o, 0);
    REQUIRE(S.kv);
    REQUIRE_EQ(util_tmpdir(S.dir, sizeof S.dir), 0);
    for (unsigned w = 0; w < WRITERS; w++)
        snprintf(S.w[w].log, sizeof S.w[w].log, "%s/writer%u.log", S.dir, w);
    heartbeat();
    printf("soak: %lu kills, %d writers, %d readers, seed %" PRIu64 "\n", opt_kills, WRITERS,
           READERS, opt_seed);
    fflush(stdout);

    ok = soak_run(readers, &readers_started) == 0;
    for (unsigned w = 0; w < WRITERS; w++) {
        if (S.w[w].running) { /* a failed run: stop the rest */
            spawn_status_t ws;
            spawn_kill(&S.w[w].proc);
            spawn_wait(&S.w[w].proc, &ws);
        }
    }
    CHECK(ok);
    CHECK_EQ(util_put(S.kv, STOP_KEY, "now"), 0);
    for (int r = 0; r < readers_started; r++)
        CHECK_EQ(util_wait_code(&readers[r]), 0);

    CHECK_EQ(S.losses, 0);
    if (ok) {
        long long entries = util_for_each(S.kv, final_entry, &stray);
        CHECK_EQ(stray, 0);
        CHECK_EQ(entries, (long long)model_present() + 2); /* + HB_KEY, STOP_KEY */
    }
    int check = kv_check(S.kv, report, sizeof report);
    if (check != 0)
        fprintf(stderr, "  kv_check: %s\n%s", kv_strerror(check), report);
    CHECK_EQ(check, 0);
    REQUIRE_EQ(kv_stats(S.kv, &st), 0);
    /* With hundreds of kills, some must land inside a critical section. */
    if (opt_kills >= 100)
        CHECK(st.recoveries > 0);
    printf("soak: %lu kills survived, %llu operations verified, %llu keys read back, "
           "%llu in flight at a kill (%llu applied, %llu not), %" PRIu64 " recoveries, "
           "%llu losses, %.1f s\n",
           S.kills, S.verified, S.checked, S.in_flight, S.applied, S.in_flight - S.applied,
           st.recoveries, S.losses, (double)(util_now_ms() - t0) / 1000.0);
    fflush(stdout);
    util_rmdir(S.dir);
    util_dispose(S.kv, S.store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(kill9_soak),
};

static const spawn_role_t roles[] = {
    { "writer", role_writer },
    { "reader", role_reader },
};

/* Reads a count or seed: decimal or 0x hex.  Returns 0 or -1. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return -1;
    *out = strtoull(s, &end, 0);
    return *end == '\0' ? 0 : -1;
}

/* Takes --kills N and --seed S out of argv (the rest names test cases);
 * KV_SOAK_KILLS and KV_SOAK_SEED give them too, argv winning.  Returns 0,
 * or -1 on a malformed value. */
static int parse_options(int *argc, char **argv)
{
    uint64_t v;
    int out = 1;
    if (getenv("KV_SOAK_KILLS")) {
        if (parse_u64(getenv("KV_SOAK_KILLS"), &v) != 0)
            return -1;
        opt_kills = (unsigned long)v;
    }
    if (getenv("KV_SOAK_SEED")) {
        if (parse_u64(getenv("KV_SOAK_SEED"), &opt_seed) != 0)
            return -1;
        opt_seed_given = 1;
    }
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--kills") == 0 && i + 1 < *argc) {
            if (parse_u64(argv[++i], &v) != 0)
                return -1;
            opt_kills = (unsigned long)v;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < *argc) {
            if (parse_u64(argv[++i], &opt_seed) != 0)
                return -1;
            opt_seed_given = 1;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    pattern_init();
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    if (parse_options(&argc, argv) != 0) {
        fprintf(stderr, "usage: soak_test [--kills N] [--seed S] [CASE...]\n"
                        "       (or KV_SOAK_KILLS=N, KV_SOAK_SEED=S)\n");
        return 2;
    }
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
