/*
 * hostile_test.c — kv among peers that misbehave, and in places that are
 * not what they seem.
 *
 *  - stopped_holder: a process stopped while it holds the store's lock
 *    (spawn_stop: SIGSTOP, or on Windows every thread suspended).  Everyone
 *    else's operations must time out within their timeout (measured),
 *    kv_stats and `kvcli stats` must name the holder, and once it continues
 *    everything goes on, with nothing to recover.
 *  - scribbler: a process writes random bytes over a file-backed store's
 *    header (all but the mutex; see the case), undo image and slots while
 *    worker processes run every kind of operation on it.  No worker may
 *    crash or hang, every call must return 0 or a KV_E* code, and
 *    afterwards kv_check and `kvcli check` must agree and name the damage.
 *    Sixteen rounds, their seeds drawn from the run's (KV_TEST_SEED).
 *  - racing_scribbler: a process with the store file mapped flips the
 *    length fields of live slots far out of range and back, as fast as it
 *    can, while workers use those entries: a length checked once and read
 *    again (a double fetch) shows up as a crash within milliseconds.
 *  - planted_paths: a file-backed store's path that is a symlink (to a
 *    file, or dangling), a FIFO or a device is refused, and what it points
 *    at stays untouched.  (badinput_test covers a symlink to a real store
 *    and a directory.)
 *  - out_of_room: as root, on a 1 MiB tmpfs (and, in a private mount
 *    namespace, a 1 MiB /dev/shm), a store that cannot fit fails with
 *    KV_ENOSPC at creation; one that fits is filled to the brim after the
 *    tmpfs is full, without SIGBUS.
 *  - holder_dies_in_pid_namespace: as root, a lock holder in another PID
 *    namespace (`unshare --pid --fork`, where it is pid 1, and pid 1 here is
 *    alive) is killed holding the lock; the next locker must recover it,
 *    because ownership comes from the kernel's robust futex, not from
 *    asking whether a pid is alive.
 * A store closed to other users is badinput_test's permission_denied.
 *
 * Helper processes are this binary in a role (spawn.h).  The cases that
 * need mmap, FIFOs, mounts or namespaces skip on Windows,
 * and those that need root skip without it, saying why.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "layout.h" /* where the header's fields and a slot's are, to aim scribbles */
#include "spawn.h"
#include "test.h"
#include "util.h"

#if TEST_POSIX /* for the POSIX-only cases at the end */
#  include <dirent.h>
#  include <errno.h>
#  include <fcntl.h>
#  include <pwd.h>
#  include <signal.h>
#  include <sys/mman.h>
#  include <sys/resource.h>
#  include <sys/stat.h>
#  include <sys/types.h>
#  include <unistd.h>
#endif

#define SKIP_EXIT 77        /* a role's exit code for "cannot run here" */
#define STOP_KEY "stop"     /* put by the driver: a looping role finishes */
#define BIG_KEY "big"
#define PID_KEY "pid"

enum {
    BIG_VAL = 256 * 1024,     /* the spinner's values: each put copies 2 x 256 KiB locked */
    ROLE_LIMIT_MS = 120000,   /* a looping role whose driver went away gives up */
    WAIT_TIMEOUT_MS = 200,    /* the lock timeout measured against a stopped holder */
    WAIT_SLACK_MS = 300,      /* how late a timed-out call may return */
    STOP_ROUNDS = 3,
    CATCH_MS = 30000,         /* how long stop_while_holding keeps trying */
};

static char store[256]; /* the running case's store name */

/* Opens `name` read-write with the given lock timeout; NULL after saying
 * why. */
static kv_t *open_with_timeout(const char *name, uint32_t timeout_ms)
{
    kv_options_t o;
    kv_t *kv = NULL;
    kv_options_init(&o);
    o.lock_timeout_ms = timeout_ms;
    int rc = kv_open(&kv, name, KV_RDWR, &o);
    if (rc != 0)
        fprintf(stderr, "  open %s: %s\n", name, kv_strerror(rc));
    return rc == 0 ? kv : NULL;
}

/* Runs kvcli (path in $KVCLI) with argv[1..] (argv[0] is replaced),
 * stdout to out_path; returns its exit code, or -1. */
static int run_kvcli(const char **argv, const char *out_path)
{
    spawn_proc_t p;
    argv[0] = getenv("KVCLI");
    if (!argv[0] || spawn_program(&p, argv[0], argv, NULL, NULL, out_path) != 0)
        return -1;
    return util_wait_code(&p);
}

/* Returns 1 if the file at path contains `needle`. */
static int file_has(const char *path, const char *needle)
{
    size_t len = 0;
    char *text = (char *)util_read_file(path, &len);
    int has = text && strstr(text, needle) != NULL;
    if (!has)
        fprintf(stderr, "  %s lacks \"%s\"; it holds:\n%s\n", path, needle, text ? text : "");
    free(text);
    return has;
}

/* ------------------------------------------------------------------------ */
/* The spinner: a process that holds the lock nearly all the time           */
/* ------------------------------------------------------------------------ */

/* Role "spinner STORE": puts its pid under PID_KEY, then rewrites BIG_KEY
 * with two values (all 'A', all 'B') in turn as fast as it can — each put copies the old
 * value to the undo image and the new one in, 512 KiB under the lock — until
 * STOP_KEY appears.  Exits 0 if every call succeeded. */
static int role_spinner(int argc, char **argv)
{
    kv_t *kv = argc == 2 ? open_with_timeout(argv[1], 60000) : NULL;
    unsigned char *val[2] = { malloc(BIG_VAL), malloc(BIG_VAL) };
    char pid[32];
    int64_t end = util_now_ms() + ROLE_LIMIT_MS;
    int rc = 0;
    if (!kv || !val[0] || !val[1])
        return 1;
    memset(val[0], 'A', BIG_VAL);
    memset(val[1], 'B', BIG_VAL);
    snprintf(pid, sizeof pid, "%ld", spawn_self_pid());
    rc = util_put(kv, PID_KEY, pid);
    for (unsigned n = 0; rc == 0; n++) {
        rc = kv_put(kv, BIG_KEY, strlen(BIG_KEY), val[n & 1], BIG_VAL, 0);
        if ((n & 15) == 0 && (kv_get(kv, STOP_KEY, strlen(STOP_KEY), NULL, 0, NULL) !=
                              KV_ENOTFOUND || util_now_ms() > end))
            break;
    }
    if (rc != 0)
        fprintf(stderr, "  spinner: %s\n", kv_strerror(rc));
    kv_close(kv);
    free(val[0]);
    free(val[1]);
    return rc ? 1 : 0;
}

/* Waits until the store's generation has moved `n` past where it was.
 * Returns 1, or 0 after limit_ms. */
static int generation_moves(kv_t *kv, uint64_t n, unsigned limit_ms)
{
    uint64_t g0 = util_generation(kv), g;
    int64_t deadline = util_now_ms() + limit_ms;
    do {
        spawn_sleep_ms(1);
        g = util_generation(kv);
    } while (g < g0 + n && util_now_ms() < deadline);
    if (g < g0 + n)
        fprintf(stderr, "  the store's generation stayed near %" PRIu64 "\n", g);
    return g >= g0 + n;
}

/* The spinner's two values are all 'A' or all 'B', so a torn one shows. */
static int big_ok(const unsigned char *v, size_t len)
{
    if (len != BIG_VAL || (v[0] != 'A' && v[0] != 'B'))
        return 0;
    for (size_t i = 1; i < len; i++)
        if (v[i] != v[0])
            return 0;
    return 1;
}

/* Reads BIG_KEY and checks it is one of the spinner's values. */
static int big_intact(kv_t *kv)
{
    unsigned char *v = malloc(BIG_VAL);
    size_t len = 0;
    int rc = v ? kv_get(kv, BIG_KEY, strlen(BIG_KEY), v, BIG_VAL, &len) : KV_ENOMEM;
    int ok = rc == 0 && big_ok(v, len);
    if (!ok)
        fprintf(stderr, "  %s: %s, %zu bytes\n", BIG_KEY, kv_strerror(rc), len);
    free(v);
    return ok;
}

/* What one try of stop_while_holding found. */
enum { CAUGHT, STOP_FAILED, LOCK_FREE, OTHER_HOLDER, TRY_RESULTS };

/* Stops p once and asks kv_stats on `kv` (a short timeout) whether the
 * lock is held, and by `holder`.  Leaves p stopped only when CAUGHT; on
 * OTHER_HOLDER, *other is the mark kv_stats saw instead. */
static int try_stop(kv_t *kv, spawn_proc_t *p, uint32_t holder, uint32_t *other)
{
    kv_stats_t st;
    int result = CAUGHT;
    if (spawn_stop(p) != 0) {
        result = STOP_FAILED;
    } else if (kv_stats(kv, &st) != KV_ETIMEDOUT) {
        result = LOCK_FREE;
    } else if (st.holder_pid != holder) {
        result = OTHER_HOLDER;
        *other = st.holder_pid;
    }
    if (result != CAUGHT)
        spawn_continue(p); /* also undoes a stop that failed half way */
    return result;
}

/* Stops p at random moments until it is stopped while holding the lock,
 * as kv_stats on `kv` sees it: the lock cannot be taken and its holder mark
 * is `holder` (the pid as the holder itself sees it).  Returns 1 with p
 * stopped, 0 if that did not happen within CATCH_MS (p is left running).
 *
 * The tries have a time budget, not a count: on Linux a few do, but under
 * wine on a busy machine one try in 30 to 100 catches the holder (measured:
 * 68 on average, 639 at most, over 240 catches; a try takes ~10 ms).  wineserver delivers a
 * suspension as a signal, which a thread blocks while it waits for the
 * server.  When the spinner and the server share one CPU, the server mostly
 * runs while the spinner waits for it, so the stop lands inside a system
 * call: the mutex's release (the lock is free) or its acquisition (held,
 * the mark not yet written).  Only a preemption in the middle of a put (its
 * copy takes ~50 us of a ~3 ms time slice) stops the spinner holding the
 * lock with its mark. */
static int stop_while_holding(kv_t *kv, spawn_proc_t *p, uint32_t holder)
{
    uint64_t rng = test_rng("stops");
    unsigned tally[TRY_RESULTS] = { 0 }, tries = 0;
    uint32_t other = 0;
    int64_t end = util_now_ms() + CATCH_MS;
    kv_set_timeout(kv, 20);
    while (!tally[CAUGHT] && util_now_ms() < end) {
        if (tries++)
            spawn_sleep_ms((unsigned)(util_rand(&rng) % 3));
        tally[try_stop(kv, p, holder, &other)]++;
    }
    kv_set_timeout(kv, 5000);
    printf("  %s pid %ld holding the lock: %u stops, %u found the lock free, %u held under "
           "another mark (last %u), %u failed\n", tally[CAUGHT] ? "caught" : "never caught",
           p->pid, tries, tally[LOCK_FREE], tally[OTHER_HOLDER], (unsigned)other,
           tally[STOP_FAILED]);
    return tally[CAUGHT] != 0;
}

/* ------------------------------------------------------------------------ */
/* A stopped lock holder                                                    */
/* ------------------------------------------------------------------------ */

/* With the spinner p stopped holding the lock: another handle's get and
 * put time out in WAIT_TIMEOUT_MS (+ slack), stats and kvcli name the
 * holder, and once p continues all goes on. */
static void stopped_round(kv_t *kv, kv_t *other, spawn_proc_t *p, const char *out)
{
    kv_stats_t before, st;
    size_t len = 0;
    char buf[16], holder[64];
    kv_stats(other, &before); /* times out: fills the lock-free fields */
    int64_t t0 = util_now_ms();
    int rc = kv_get(other, BIG_KEY, strlen(BIG_KEY), buf, sizeof buf, &len);
    int64_t get_ms = util_now_ms() - t0;
    t0 = util_now_ms();
    int rc2 = kv_put(other, "k", 1, "v", 1, 0);
    int64_t put_ms = util_now_ms() - t0;
    printf("  holder %ld stopped: get -> %s in %lld ms, put -> %s in %lld ms (timeout %d ms)\n",
           p->pid, rc == KV_ETIMEDOUT ? "KV_ETIMEDOUT" : kv_strerror(rc), (long long)get_ms,
           rc2 == KV_ETIMEDOUT ? "KV_ETIMEDOUT" : kv_strerror(rc2), (long long)put_ms,
           WAIT_TIMEOUT_MS);
    CHECK_EQ(rc, KV_ETIMEDOUT);
    CHECK_EQ(rc2, KV_ETIMEDOUT);
    CHECK(get_ms >= WAIT_TIMEOUT_MS - 1 && get_ms <= WAIT_TIMEOUT_MS + WAIT_SLACK_MS);
    CHECK(put_ms >= WAIT_TIMEOUT_MS - 1 && put_ms <= WAIT_TIMEOUT_MS + WAIT_SLACK_MS);

    /* Stats: what needs no lock is there, and names the holder since when. */
    CHECK_EQ(kv_stats(other, &st), KV_ETIMEDOUT);
    CHECK_EQ(st.holder_pid, p->pid);
    uint64_t now = util_wall_ms();
    CHECK(st.holder_since_ms != 0 && st.holder_since_ms <= now);
    CHECK(now - st.holder_since_ms >= 2 * WAIT_TIMEOUT_MS); /* held through both waits */
    CHECK(st.lock_timeouts >= before.lock_timeouts + 3);
    CHECK_EQ(st.slots, 16);

    /* kvcli stats: exit 3, and the holder on its "lock" line. */
    if (getenv("KVCLI")) {
        const char *argv[] = { NULL, "--timeout", "200", "stats", store, NULL };
        CHECK_EQ(run_kvcli(argv, out), 3);
        snprintf(holder, sizeof holder, "held by pid %ld since", p->pid);
        CHECK(file_has(out, holder));
        CHECK(file_has(out, "(stuck)"));
    }

    /* Continued: the lock comes back, the value is whole, the spinner goes on. */
    CHECK_EQ(spawn_continue(p), 0);
    kv_set_timeout(other, 5000);
    t0 = util_now_ms();
    CHECK(big_intact(other));
    CHECK(util_now_ms() - t0 < 2000);
    CHECK(generation_moves(kv, 10, 10000));
    kv_set_timeout(other, WAIT_TIMEOUT_MS);
}

TEST(stopped_holder)
{
    spawn_proc_t p;
    char dir[512], out[600];
    kv_stats_t st;
    kv_t *kv = util_fresh(store, "stopped", 16, 16, BIG_VAL), *other = NULL;
    REQUIRE(kv);
    REQUIRE((other = open_with_timeout(store, WAIT_TIMEOUT_MS)) != NULL);
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(out, sizeof out, "%s/stats.out", dir);
    const char *args[] = { store, NULL };
    REQUIRE_EQ(spawn_role(&p, "spinner", args, NULL), 0);
    int started = generation_moves(kv, 20, 10000);
    for (int round = 0; started && round < STOP_ROUNDS && !test_failures; round++) {
        if (!stop_while_holding(kv, &p, (uint32_t)p.pid)) {
            test_failures++;
            break;
        }
        stopped_round(kv, other, &p, out);
    }
    CHECK(started);
    CHECK_EQ(util_put(kv, STOP_KEY, "now"), 0);
    CHECK_EQ(util_wait_code(&p), 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    CHECK_EQ(kv_stats(kv, &st), 0);
    CHECK_EQ(st.recoveries, 0); /* a stopped process is not a dead one */
    kv_close(other);
    util_rmdir(dir);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* A scribbler                                                              */
/* ------------------------------------------------------------------------ */

enum {
    SCR_SLOTS = 128, SCR_KEY_MAX = 16, SCR_VAL_MAX = 200, SCR_KEYS = 96,
    SCR_WORKERS = 2, SCR_ITERATIONS = 16, SCR_MS = 300,
    SCR_WORKER_TIMEOUT_MS = 100, /* a worker's lock timeout */
    SCR_HANG_MS = 30000,         /* a worker not done this long after SCR_MS hangs */
};

/* Whether rc is 0 or one of kv.h's error codes that data calls give (a
 * scribbled data area may leave no room: KV_ENOROOM). */
static int known_result(int rc)
{
    return (rc <= 0 && rc >= KV_EOVERFLOW) || rc == KV_ENOROOM;
}

/* A worker's tally of results: [0] = 0, [i] = -i. */
typedef struct tally {
    unsigned long long by_rc[1 - KV_ENOROOM];
    unsigned long long unknown, ops;
} tally_t;

static void count(tally_t *t, int rc, const char *what)
{
    t->ops++;
    if (known_result(rc)) {
        t->by_rc[-rc]++;
    } else if (t->unknown++ < 5) {
        fprintf(stderr, "  worker: %s returned %d, not a kv result\n", what, rc);
    }
}

static unsigned worker_keys = SCR_KEYS; /* a worker's keys: "k0" .. */

/* One random operation of every kind kv has, with random keys (some too
 * long), values (some too big) and buffers (some too small). */
static void random_op(kv_t *kv, uint64_t *rng, tally_t *t)
{
    char key[SCR_KEY_MAX + 8], val[SCR_VAL_MAX + 8], buf[SCR_VAL_MAX + 8], report[512];
    uint64_t x = util_rand(rng), n = 0, gen = 0;
    size_t kl = (size_t)snprintf(key, sizeof key, "k%u", (unsigned)(x % worker_keys)), len = 0;
    size_t vl = (size_t)((x >> 8) % (SCR_VAL_MAX + 2));
    size_t cap = (x >> 20) % 8 == 0 ? (size_t)((x >> 24) % 16) : sizeof buf;
    kv_put_opts_t po = { 0, (x >> 30) % 4 == 0 ? 1 + (x >> 32) % 50 : 0, 0, 0 };
    kv_meta_t meta;
    int64_t num = 0;
    uint64_t cursor = (x >> 36) % SCR_SLOTS;
    kv_entry_t e = { buf, sizeof buf, 0, val, sizeof val, 0 };
    kv_info_t info;
    kv_stats_t st;
    int rc;
    if ((x >> 40) % 50 == 0)
        kl = SCR_KEY_MAX + 1; /* too long */
    memset(val, 'a' + (int)(x % 26), sizeof val);
    /* With few keys (racing_scribbler), mostly replace: the path that copies
     * the old entry, lengths and all, into the undo image. */
    unsigned kind = worker_keys < SCR_KEYS && (x >> 56) % 4 != 0 ? 0 : (unsigned)((x >> 44) % 18);
    switch (kind) {
    case 0: case 1: count(t, kv_put(kv, key, kl, val, vl, 0), "put"); break;
    case 2: count(t, kv_put(kv, key, kl, val, vl, KV_NOREPLACE), "put nx"); break;
    case 3: count(t, kv_put_ex(kv, key, kl, val, vl, &po), "put_ex ttl"); break;
    case 4:
        po.flags = KV_IF_VERSION;
        po.if_version = (x >> 50) % 3 == 0 ? 0 : (x >> 50) % 1000;
        count(t, kv_put_ex(kv, key, kl, val, vl, &po), "put_ex cas");
        break;
    case 5: case 6: count(t, kv_get(kv, key, kl, buf, cap, &len), "get"); break;
    case 7: count(t, kv_get_ex(kv, key, kl, buf, cap, &len, &meta), "get_ex"); break;
    case 8: count(t, kv_del(kv, key, kl), "del"); break;
    case 9: count(t, kv_del_if(kv, key, kl, (x >> 50) % 1000), "del_if"); break;
    case 10: count(t, kv_incr(kv, key, kl, (int64_t)((x >> 50) % 100) - 50, &num), "incr"); break;
    case 11: count(t, kv_ttl(kv, key, kl, &num), "ttl"); break;
    case 12: count(t, kv_next(kv, &cursor, &e), "next"); break;
    case 13: count(t, kv_count(kv, &n), "count"); break;
    case 14: count(t, kv_stats(kv, &st), "stats"); break;
    case 15: count(t, kv_check(kv, report, sizeof report), "check"); break;
    case 16: count(t, kv_purge_expired(kv, &n), "purge"); break;
    default:
        /* With no time to wait, KV_ETIMEDOUT is their "no change". */
        rc = kv_watch(kv, key, kl, (x >> 50) % 5, 0, &n);
        count(t, rc == KV_ETIMEDOUT ? 0 : rc, "watch");
        rc = kv_wait(kv, 0, 0, &gen);
        count(t, rc == KV_ETIMEDOUT ? 0 : rc, "wait");
        count(t, kv_info(kv, &info), "info");
        if ((x >> 50) % 64 == 0)
            count(t, kv_clear(kv), "clear");
        break;
    }
}

/* Role "worker STORE SEED MS MARKER [KEYS]": runs random operations on
 * keys k0 .. k<KEYS-1> (default SCR_KEYS; fewer: mostly puts) for MS ms
 * with a short lock timeout, then writes MARKER (so the driver can tell a hung worker from a
 * slow one).  Exits 0 if every call returned 0 or a KV_E*
 * code — opening included: a store too damaged to open is a clear answer. */
static int role_worker(int argc, char **argv)
{
    kv_options_t o;
    kv_t *kv = NULL;
    tally_t t;
    if (argc != 5 && argc != 6)
        return 2;
    if (argc == 6)
        worker_keys = (unsigned)atoi(argv[5]);
    uint64_t rng = strtoull(argv[2], NULL, 10);
    int64_t end = util_now_ms() + atol(argv[3]);
    memset(&t, 0, sizeof t);
    kv_options_init(&o);
    o.lock_timeout_ms = SCR_WORKER_TIMEOUT_MS;
    int rc = kv_open(&kv, argv[1], KV_RDWR, &o);
    count(&t, rc, "open");
    while (rc == 0 && util_now_ms() < end)
        for (int i = 0; i < 64; i++)
            random_op(kv, &rng, &t);
    kv_close(kv);
    fprintf(stderr, "  worker: %llu calls: %llu ok, %llu not found, %llu corrupt, "
            "%llu timed out, %llu other errors, %llu unknown\n", t.ops, t.by_rc[0],
            t.by_rc[-KV_ENOTFOUND], t.by_rc[-KV_ECORRUPT], t.by_rc[-KV_ETIMEDOUT],
            t.ops - t.unknown - t.by_rc[0] - t.by_rc[-KV_ENOTFOUND] - t.by_rc[-KV_ECORRUPT] -
                t.by_rc[-KV_ETIMEDOUT], t.unknown);
    util_write_file(argv[4], "done", 4);
    return t.unknown ? 1 : 0;
}

/* Where a scribble lands. */
typedef struct target {
    uint64_t off;
    size_t len;
} target_t;

/* A slot head field: offset in the slot and width. */
static const struct { uint32_t off, len; } head_fields[] = {
    { offsetof(kv_slot_t, hash), 8 },    { offsetof(kv_slot_t, key_len), 4 },
    { offsetof(kv_slot_t, val_len), 4 }, { offsetof(kv_slot_t, version), 8 },
    { offsetof(kv_slot_t, expires_ms), 8 }, { offsetof(kv_slot_t, data), 4 }, /* block */
};

/* Picks a target: the header (never its mutex: see scribbler), the undo
 * image, a slot head field, inline bytes, or the data area. */
static target_t pick_target(const kv_header_t *h, uint64_t *rng)
{
    uint64_t x = util_rand(rng), slot = util_rand(rng) % h->slot_count;
    uint64_t slot_at = h->header_size + slot * KV_SLOT_SIZE;
    uint64_t data_at = h->header_size + h->slot_count * KV_SLOT_SIZE;
    target_t t;
    unsigned kind = (unsigned)(x % 100);
    x /= 100;
    if (kind < 15) {
        t.len = (size_t)1 << (x % 4);
        do
            t.off = util_rand(rng) % (sizeof(kv_header_t) - 8);
        while (t.off + t.len > offsetof(kv_header_t, lock) &&
               t.off < offsetof(kv_header_t, lock) + KV_LOCK_AREA);
    } else if (kind < 25) {
        t.len = 4;
        t.off = sizeof(kv_header_t) + (x % 2 ? offsetof(kv_slot_t, key_len)
                                             : offsetof(kv_slot_t, val_len));
    } else if (kind < 70) {
        unsigned f = (unsigned)(x % (sizeof head_fields / sizeof head_fields[0]));
        t.off = slot_at + head_fields[f].off;
        t.len = head_fields[f].len;
    } else if (kind < 85 || h->total_size - data_at < 16) {
        t.len = 1 + (size_t)(x % 8);
        t.off = slot_at + offsetof(kv_slot_t, data) + util_rand(rng) % (KV_INLINE_MAX - 8);
    } else { /* the data area: block heads, free-list links, entries */
        t.len = 1 + (size_t)(x % 8);
        t.off = data_at + util_rand(rng) % (h->total_size - data_at - 8);
    }
    return t;
}

/* Fills bytes[0..len) with something likely to hurt: zero, all ones, a
 * length just past a limit, a small plausible length, a set high bit, or
 * random bytes (little-endian, as the layout is). */
static void pick_bytes(const kv_header_t *h, uint64_t *rng, unsigned char *bytes, size_t len)
{
    uint64_t x = util_rand(rng), v;
    switch (x % 8) {
    case 0: v = 0; break;
    case 1: v = UINT64_MAX; break;
    case 2: v = (uint64_t)h->key_max + 1; break;
    case 3: v = (uint64_t)h->val_max + 1 + (x >> 8) % 3; break;
    case 4: v = 1 + (x >> 8) % h->key_max; break;
    case 5: v = UINT64_C(0x80000000) | ((x >> 8) % 64); break;
    default: v = util_rand(rng); break;
    }
    for (size_t i = 0; i < len; i++)
        bytes[i] = (unsigned char)(v >> (8 * (i % 8)));
}

/* Role "scribbler PATH SEED MS": writes random bytes at random places of
 * the store file at PATH through ordinary file writes (which every process
 * that maps the file sees at once), in bursts, for MS ms.  The mutex's 40
 * bytes are left alone: they are glibc's, and glibc trusts them — a
 * scribbled kind field sends pthread_mutex_trylock down its lock-elision
 * path (SIGILL in _xabort on a CPU without TSX, seen here), and the robust
 * list links in it are pointers glibc follows on unlock.  kv can validate
 * what it reads from the mapping, not what libc reads.  Exits 0, or 1 if
 * it could not write. */
static int role_scribbler(int argc, char **argv)
{
    kv_header_t h;
    unsigned long writes = 0;
    if (argc != 4)
        return 2;
    FILE *f = fopen(argv[1], "r+b");
    uint64_t rng = strtoull(argv[2], NULL, 10);
    int64_t end = util_now_ms() + atol(argv[3]);
    if (!f || fread(&h, sizeof h, 1, f) != 1)
        return 1;
    while (util_now_ms() < end) {
        unsigned burst = 1 + (unsigned)(util_rand(&rng) % 4);
        for (unsigned i = 0; i < burst; i++) {
            unsigned char bytes[8];
            target_t t = pick_target(&h, &rng);
            pick_bytes(&h, &rng, bytes, t.len);
            if (fseek(f, (long)t.off, SEEK_SET) != 0 || fwrite(bytes, 1, t.len, f) != t.len ||
                fflush(f) != 0) {
                fclose(f);
                return 1;
            }
            writes++;
        }
        spawn_sleep_ms((unsigned)(util_rand(&rng) % 2));
    }
    fclose(f);
    fprintf(stderr, "  scribbler: %lu writes\n", writes);
    return 0;
}

/* Waits for a role that writes `marker` when done: a role still not done
 * at the deadline is killed and reported as hung.  Returns the exit code,
 * or -1 (hung, crashed, or killed by a signal). */
static int wait_marked(spawn_proc_t *p, const char *marker, int64_t deadline, const char *what)
{
    size_t len = 0;
    unsigned char *done = NULL;
    while ((done = util_read_file(marker, &len)) == NULL && util_now_ms() < deadline) {
        if (spawn_ended(p)) { /* gone: finished just now, or died */
            done = util_read_file(marker, &len);
            break;
        }
        spawn_sleep_ms(5);
    }
    if (!done && util_now_ms() >= deadline) {
        fprintf(stderr, "  %s hung: killing it\n", what);
        spawn_kill(p);
    }
    free(done);
    spawn_status_t st = { 0, 0, 0, 0 };
    if (spawn_wait(p, &st) != 0 || !st.exited || !done) {
        if (st.signaled)
            fprintf(stderr, "  %s died of signal %d\n", what, st.signal);
        else
            fprintf(stderr, "  %s exited %d before finishing (a sanitizer report?)\n", what,
                    st.code);
        return -1;
    }
    return st.code;
}

/* Runs kvcli check on path, which kv_check found `rc` on.  kvcli opens the
 * store afresh, so a damaged header stops it there: exit 4 for KV_ECORRUPT,
 * 3 for another error (KV_EVERSION).  Otherwise its exit code must agree
 * with kv_check's result, and its listing must hold `line`. */
static void kvcli_agrees(const char *path, int rc, const char *line, const char *out)
{
    const char *argv[] = { NULL, "--timeout", "200", "check", path, NULL };
    kv_t *fresh = NULL;
    int orc = kv_open(&fresh, path, 0, NULL), want;
    kv_close(fresh);
    if (orc != 0)
        want = orc == KV_ECORRUPT ? 4 : 3;
    else
        want = rc == 0 ? 0 : rc == KV_ECORRUPT ? 4 : 3;
    if (!getenv("KVCLI"))
        return;
    int code = run_kvcli(argv, out);
    if (code != want)
        fprintf(stderr, "  kvcli check exited %d; kv_check said %s, a fresh open %s\n", code,
                kv_strerror(rc), kv_strerror(orc));
    CHECK_EQ(code, want);
    if (orc == 0 && line && *line)
        CHECK(file_has(out, line));
}

/* Writes the next number of *rng to buf: the SEED argument of a role, so
 * that the run's KV_TEST_SEED replays the role's random choices too. */
static void seed_arg(char *buf, size_t cap, uint64_t *rng)
{
    snprintf(buf, cap, "%" PRIu64, util_rand(rng));
}

/* Scribbler round `round` on a fresh file-backed store: workers and the
 * scribbler at once, then the checks (failures go to test_failures).  The
 * roles' seeds and the slot damaged on purpose come from *rng. */
static void scribble_once(const char *dir, unsigned round, uint64_t *rng, int *showed_report)
{
    char path[600], marker[SCR_WORKERS + 1][640], arg_seed[32], arg_ms[16], out[640];
    char report[4096];
    spawn_proc_t workers[SCR_WORKERS + 1], scr;
    kv_t *kv = NULL;
    snprintf(path, sizeof path, "%s/scribbled-%u.kv", dir, round);
    snprintf(out, sizeof out, "%s/check.out", dir);
    snprintf(arg_ms, sizeof arg_ms, "%d", SCR_MS);
    kv_options_t o = util_options(SCR_SLOTS, SCR_KEY_MAX, SCR_VAL_MAX);
    o.lock_timeout_ms = 1000;
    int rc = kv_open(&kv, path, KV_RDWR | KV_CREATE | KV_EXCL, &o);
    CHECK_EQ(rc, 0);
    if (rc != 0)
        return;
    CHECK_EQ(util_fill(kv, "k", SCR_KEYS / 2), 0);
    int64_t deadline = util_now_ms() + SCR_MS + SCR_HANG_MS;
    for (unsigned i = 0; i < SCR_WORKERS; i++) {
        snprintf(marker[i], sizeof marker[i], "%s/worker%u.done", dir, i);
        remove(marker[i]);
        seed_arg(arg_seed, sizeof arg_seed, rng);
        const char *args[] = { path, arg_seed, arg_ms, marker[i], NULL };
        CHECK_EQ(spawn_role(&workers[i], "worker", args, NULL), 0);
    }
    seed_arg(arg_seed, sizeof arg_seed, rng);
    const char *sargs[] = { path, arg_seed, arg_ms, NULL };
    CHECK_EQ(spawn_role(&scr, "scribbler", sargs, NULL), 0);
    CHECK_EQ(util_wait_code(&scr), 0);
    for (unsigned i = 0; i < SCR_WORKERS; i++)
        CHECK_EQ(wait_marked(&workers[i], marker[i], deadline, "worker"), 0);

    /* The damage is done and holds still: kv_check and kvcli check agree. */
    rc = kv_check(kv, report, sizeof report);
    CHECK(rc == 0 || rc == KV_ECORRUPT);
    if (rc == KV_ECORRUPT)
        CHECK(report[0] != '\0');
    if (rc == KV_ECORRUPT && !*showed_report) {
        /* Show what a report looks like, once: its first lines. */
        const char *line = report;
        printf("  round %u, kv_check reports:\n", round);
        for (int i = 0; i < 4 && *line; i++) {
            const char *nl = strchr(line, '\n');
            int n = nl ? (int)(nl - line) : (int)strlen(line);
            printf("    %.*s\n", n, line);
            line += n + (nl != NULL);
        }
        *showed_report = 1;
    }
    char first[256] = "";
    sscanf(report, "%255[^\n]", first);
    kvcli_agrees(path, rc, first, out);

    /* Damage of a known kind is named: a slot's key length past key_max.
     * Aimed with this handle's geometry (kv_info), not the file's header,
     * which the scribbler may have changed. */
    kv_info_t info;
    char want[64];
    CHECK_EQ(kv_info(kv, &info), 0);
    uint64_t slot = util_rand(rng) % info.slots,
             at = KV_HEADER_SIZE + slot * KV_SLOT_SIZE + offsetof(kv_slot_t, key_len);
    uint32_t bad = info.key_max + 1;
    FILE *f = fopen(path, "r+b");
    CHECK(f && fseek(f, (long)at, SEEK_SET) == 0 && fwrite(&bad, 4, 1, f) == 1);
    if (f)
        fclose(f);
    snprintf(want, sizeof want, "slot %" PRIu64 ": key length out of range", slot);
    rc = kv_check(kv, report, sizeof report);
    CHECK_EQ(rc, KV_ECORRUPT);
    if (!strstr(report, want) && !strstr(report, "more damaged slots")) {
        fprintf(stderr, "  kv_check does not name %s:\n%s", want, report);
        test_failures++;
    }
    kvcli_agrees(path, rc, strstr(report, want) ? want : NULL, out);

    /* A process that comes late opens the damaged store and works on it:
     * errors, no crash. */
    snprintf(marker[SCR_WORKERS], sizeof marker[SCR_WORKERS], "%s/late.done", dir);
    remove(marker[SCR_WORKERS]);
    seed_arg(arg_seed, sizeof arg_seed, rng);
    const char *largs[] = { path, arg_seed, "50", marker[SCR_WORKERS], NULL };
    CHECK_EQ(spawn_role(&workers[SCR_WORKERS], "worker", largs, NULL), 0);
    CHECK_EQ(wait_marked(&workers[SCR_WORKERS], marker[SCR_WORKERS],
                         util_now_ms() + SCR_HANG_MS, "late worker"), 0);
    kv_close(kv);
    kv_unlink(path);
    for (unsigned i = 0; i <= SCR_WORKERS; i++)
        remove(marker[i]);
}

TEST(scribbler)
{
    char dir[512];
    int showed = 0;
    uint64_t rng = test_rng("rounds");
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    for (unsigned round = 1; round <= SCR_ITERATIONS && !test_failures; round++)
        scribble_once(dir, round, &rng, &showed);
    util_rmdir(dir);
    TEST_DONE();
}

/* ======================================================================== */
/* POSIX only                                                               */
/* ======================================================================== */

/* The cases below map the store file, make FIFOs and symlinks, mount, set
 * resource limits or make namespaces: on Windows each is a skip that says
 * why (TEST_POSIX_ONLY). */
TEST_POSIX_ONLY(racing_scribbler, "POSIX only: the flipper maps the store file with mmap");
TEST_POSIX_ONLY(planted_paths, "POSIX only: symlinks, FIFOs and devices");
TEST_POSIX_ONLY(out_of_room, "POSIX only: mounts a small tmpfs");
TEST_POSIX_ONLY(file_size_limit, "POSIX only: setrlimit(RLIMIT_FSIZE)");
TEST_POSIX_ONLY(holder_dies_in_pid_namespace, "Linux only: PID namespaces");
TEST_POSIX_ONLY(planted_by_another_user, "POSIX only: chown, FIFOs and /dev/shm");
TEST_POSIX_ONLY(truncated_while_open, "POSIX only: truncate() of a mapped file");

#if TEST_POSIX

/* ------------------------------------------------------------------------ */
/* POSIX process tools: find a program, run it, find a child                */
/* ------------------------------------------------------------------------ */

/* The path of a program in /usr/bin or /bin, or NULL. */
static const char *find_tool(const char *name)
{
    static char path[64];
    const char *dirs[] = { "/usr/bin", "/bin", "/usr/sbin", "/sbin" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

/* Runs argv (argv[0] a full path) and returns its exit code, or -1. */
static int run_quiet(const char *const *argv)
{
    spawn_proc_t p;
    if (spawn_program(&p, argv[0], argv, NULL, NULL, NULL) != 0)
        return -1;
    spawn_status_t st = { 0, 0, 0, 0 };
    if (spawn_wait(&p, &st) != 0 || !st.exited)
        return -1;
    return st.code;
}

/* The absolute path of this binary (for running a role under unshare). */
static const char *self_exe(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    return path;
}

/* The first child of process `parent` found in /proc, or 0. */
static long child_of(long parent)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    long found = 0;
    while (d && !found && (e = readdir(d)) != NULL) {
        long pid = atol(e->d_name), ppid = 0;
        if (pid > 0 && spawn_proc_stat(pid, NULL, &ppid) == 0 && ppid == parent)
            found = pid;
    }
    if (d)
        closedir(d);
    return found;
}

/* ------------------------------------------------------------------------ */
/* A scribbler racing kv's checks                                           */
/* ------------------------------------------------------------------------ */

enum { RACE_MS = 1000, RACE_KEYS = 2, RACE_WORKERS = 2 };

/* Role "flipper PATH MS": maps the store file and, for MS ms, flips a high
 * bit of every used slot's value length (and now and then its key length)
 * and back, so each length is far past its slot for a moment at a time —
 * the worst a peer with write access can do to a reader that checks a
 * length once and then reads it again.  Exits 0. */
static int role_flipper(int argc, char **argv)
{
    struct stat st;
    unsigned long flips = 0;
    if (argc != 3)
        return 2;
    int fd = open(argv[1], O_RDWR);
    if (fd < 0 || fstat(fd, &st) != 0)
        return 1;
    unsigned char *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return 1;
    const kv_header_t *h = (const kv_header_t *)map;
    uint64_t count = h->slot_count, size = h->slot_size, at = h->header_size;
    uint32_t key_max = h->key_max;
    int64_t end = util_now_ms() + atol(argv[2]);
    while (util_now_ms() < end) {
        for (uint64_t i = 0; i < count; i++) {
            kv_slot_t *s = (kv_slot_t *)(map + at + i * size);
            uint32_t *field = (flips & 7) == 0 ? (uint32_t *)&s->key_len : &s->val_len;
            uint32_t state = atomic_load_explicit(&s->key_len, memory_order_relaxed);
            uint32_t was = __atomic_load_n(field, __ATOMIC_RELAXED), bad = was ^ 0x40000000u;
            if (state == KV_SLOT_EMPTY || state > key_max ||
                !__atomic_compare_exchange_n(field, &was, bad, 0, __ATOMIC_RELAXED,
                                             __ATOMIC_RELAXED))
                continue;
            for (volatile int spin = 0; spin < 20; spin++)
                ;
            /* Back, unless kv wrote the field meanwhile: the flicker must
             * not turn into lasting damage, or every lookup would fail
             * cleanly from then on and the race would stop being run. */
            __atomic_compare_exchange_n(field, &bad, was, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            flips++;
        }
    }
    munmap(map, (size_t)st.st_size);
    fprintf(stderr, "  flipper: %lu flips\n", flips);
    return 0;
}

/* Workers replace, read, iterate and increment a few keys while the
 * flipper makes their lengths flicker: every call must return a result,
 * none may read or write outside the mapping.  A check made once and a
 * length read again afterwards (a double fetch) is a crash here. */
TEST(racing_scribbler)
{
    char dir[512], path[600], marker[RACE_WORKERS][640], seed[32], ms[16], keys[16];
    spawn_proc_t workers[RACE_WORKERS], flipper;
    uint64_t rng = test_rng("workers");
    kv_t *kv = NULL;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/racing.kv", dir);
    snprintf(ms, sizeof ms, "%d", RACE_MS);
    snprintf(keys, sizeof keys, "%d", RACE_KEYS);
    kv_options_t o = util_options(SCR_SLOTS, SCR_KEY_MAX, SCR_VAL_MAX);
    REQUIRE_EQ(kv_open(&kv, path, KV_RDWR | KV_CREATE | KV_EXCL, &o), 0);
    CHECK_EQ(util_fill(kv, "k", RACE_KEYS), 0);
    const char *fargs[] = { path, ms, NULL };
    CHECK_EQ(spawn_role(&flipper, "flipper", fargs, NULL), 0);
    int64_t deadline = util_now_ms() + RACE_MS + SCR_HANG_MS;
    for (unsigned i = 0; i < RACE_WORKERS; i++) {
        snprintf(marker[i], sizeof marker[i], "%s/race%u.done", dir, i);
        seed_arg(seed, sizeof seed, &rng);
        const char *args[] = { path, seed, ms, marker[i], keys, NULL };
        CHECK_EQ(spawn_role(&workers[i], "worker", args, NULL), 0);
    }
    CHECK_EQ(util_wait_code(&flipper), 0);
    for (unsigned i = 0; i < RACE_WORKERS; i++) {
        CHECK_EQ(wait_marked(&workers[i], marker[i], deadline, "worker"), 0);
        remove(marker[i]);
    }
    kv_close(kv);
    kv_unlink(path);
    util_rmdir(dir);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Planted paths                                                            */
/* ------------------------------------------------------------------------ */

/* Opens path with each of the flag sets; every open must fail with a kv
 * error (never succeed, never hang). */
static void refuse_all(const char *path, const char *what)
{
    static const unsigned flags[] = { KV_RDWR, 0, KV_RDWR | KV_CREATE,
                                      KV_RDWR | KV_CREATE | KV_EXCL };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        kv_t *kv = NULL;
        int rc = kv_open(&kv, path, flags[i], NULL);
        if (rc == 0) {
            fprintf(stderr, "  %s, flags %u: opened\n", what, flags[i]);
            kv_close(kv);
        }
        CHECK(rc < 0 && known_result(rc));
    }
}

/* The file's bytes and mode are still `text` and `mode`. */
static int untouched(const char *path, const char *text, mode_t mode)
{
    struct stat st;
    size_t len = 0;
    unsigned char *now = util_read_file(path, &len);
    int same = now && len == strlen(text) && memcmp(now, text, len) == 0 &&
               lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode;
    free(now);
    if (!same)
        fprintf(stderr, "  %s was changed\n", path);
    return same;
}

TEST(planted_paths)
{
    static const char precious[] = "precious: not a store\n";
    char dir[512], victim[600], link[600], dangling[600], target[600], fifo[600];
    struct stat st;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/link.kv", dir);
    snprintf(dangling, sizeof dangling, "%s/dangling.kv", dir);
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo.kv", dir);

    /* A symlink to a file that is not a store: refused, the file as it was. */
    REQUIRE_EQ(util_write_file(victim, precious, strlen(precious)), 0);
    REQUIRE_EQ(chmod(victim, 0644), 0);
    REQUIRE_EQ(symlink(victim, link), 0);
    refuse_all(link, "symlink to a file");
    CHECK(untouched(victim, precious, 0644));
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));

    /* A dangling symlink: creating must not create its target. */
    REQUIRE_EQ(symlink(target, dangling), 0);
    refuse_all(dangling, "dangling symlink");
    CHECK(lstat(target, &st) != 0 && errno == ENOENT);
    CHECK(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode));

    /* A FIFO: refused at once (an open that waited for a writer would hang). */
    REQUIRE_EQ(mkfifo(fifo, 0600), 0);
    int64_t t0 = util_now_ms();
    refuse_all(fifo, "fifo");
    CHECK(util_now_ms() - t0 < 5000);
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));

    /* A device: refused, and still the device. */
    refuse_all("/dev/null", "/dev/null");
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));

    remove(link);
    remove(dangling);
    remove(fifo);
    util_rmdir(dir);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Out of room                                                              */
/* ------------------------------------------------------------------------ */

enum { ROOM_TMPFS_KIB = 1024, FIT_SLOTS = 32, FIT_VAL_MAX = 8000 };

/* Role "fill-store PATH": opens a store that fits and fills every slot it
 * can with the largest values, then reads them all back.  Run after the
 * filesystem is full: touching a page that was never reserved would be
 * SIGBUS.  Exits 0 if all went well. */
static int role_fill_store(int argc, char **argv)
{
    kv_t *kv = NULL;
    static char val[FIT_VAL_MAX], buf[FIT_VAL_MAX];
    char key[32];
    unsigned n = 0;
    int rc = argc == 2 ? kv_open(&kv, argv[1], KV_RDWR, NULL) : KV_EINVAL;
    if (rc != 0) {
        fprintf(stderr, "  fill-store: open: %s\n", kv_strerror(rc));
        return 1;
    }
    for (;; n++) {
        memset(val, 'a' + (int)(n % 26), sizeof val);
        snprintf(key, sizeof key, "fill%u", n);
        if ((rc = kv_put(kv, key, strlen(key), val, sizeof val, 0)) != 0)
            break;
    }
    int bad = rc != KV_EFULL || n < FIT_SLOTS / 2;
    for (unsigned i = 0; i < n; i++) {
        size_t len = 0;
        snprintf(key, sizeof key, "fill%u", i);
        memset(val, 'a' + (int)(i % 26), sizeof val);
        bad += kv_get(kv, key, strlen(key), buf, sizeof buf, &len) != 0 || len != sizeof val ||
               memcmp(buf, val, len) != 0;
    }
    bad += kv_check(kv, NULL, 0) != 0;
    fprintf(stderr, "  fill-store: %u values of %d bytes, then %s\n", n, FIT_VAL_MAX,
            kv_strerror(rc));
    kv_close(kv);
    return bad ? 1 : 0;
}

/* Role "shm-room": in a private mount namespace (run under `unshare
 * --mount`), mounts a small tmpfs on /dev/shm; a named store too big for it
 * fails with KV_ENOSPC, one that fits works.  Exits 0, SKIP_EXIT if the
 * mount is not possible, 1 otherwise. */
static int role_shm_room(int argc, char **argv)
{
    char cmd[128], name[64];
    kv_t *kv = NULL;
    (void)argc;
    (void)argv;
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=%dk tmpfs /dev/shm", ROOM_TMPFS_KIB);
    if (system(cmd) != 0)
        return SKIP_EXIT;
    snprintf(name, sizeof name, "hostile-shm-%ld", spawn_self_pid());
    kv_options_t big = util_options(1024, 16, 4096), fit = util_options(FIT_SLOTS, 16, 1000);
    int rc = kv_open(&kv, name, KV_RDWR | KV_CREATE | KV_EXCL, &big);
    if (rc == 0)
        kv_close(kv);
    kv_unlink(name); /* a failed create leaves an empty object (see the report) */
    fprintf(stderr, "  shm-room: 4 MiB store on a %d KiB /dev/shm: %s\n", ROOM_TMPFS_KIB,
            kv_strerror(rc));
    int rc3 = kv_open(&kv, name, KV_RDWR | KV_CREATE | KV_EXCL, &fit);
    if (rc3 == 0) {
        rc3 = util_put(kv, "k", "v");
        kv_close(kv);
        kv_unlink(name);
    }
    return rc == KV_ENOSPC && rc3 == 0 ? 0 : 1;
}

/* The out-of-room checks on the tmpfs mounted at dir. */
static void room_on_tmpfs(const char *dir)
{
    char big[600], fit[600], filler[600], other[600];
    kv_t *kv = NULL;
    kv_options_t too_big = util_options(1024, 16, 4096);   /* ~4.3 MiB */
    kv_options_t fits = util_options(FIT_SLOTS, 16, FIT_VAL_MAX); /* ~270 KiB */
    snprintf(big, sizeof big, "%s/big.kv", dir);
    snprintf(fit, sizeof fit, "%s/fit.kv", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    snprintf(other, sizeof other, "%s/other.kv", dir);

    /* Too big: KV_ENOSPC at creation, again on a retry. */
    CHECK_EQ(kv_open(&kv, big, KV_RDWR | KV_CREATE | KV_EXCL, &too_big), KV_ENOSPC);
    CHECK_EQ(kv_open(&kv, big, KV_RDWR | KV_CREATE, &too_big), KV_ENOSPC);
    struct stat left;
    if (lstat(big, &left) == 0)
        printf("  note: the failed create left an empty file at %s (KV_EXCL now says "
               "KV_EEXIST, an open KV_ECORRUPT)\n", big);
    remove(big);

    /* One that fits; then the filesystem is filled to the last byte. */
    int rc = kv_open(&kv, fit, KV_RDWR | KV_CREATE | KV_EXCL, &fits);
    CHECK_EQ(rc, 0);
    if (rc != 0)
        return;
    kv_close(kv);
    FILE *f = fopen(filler, "wb");
    static char chunk[4096];
    size_t wrote = 0;
    while (f && fwrite(chunk, 1, sizeof chunk, f) == sizeof chunk && fflush(f) == 0)
        wrote += sizeof chunk;
    if (f)
        fclose(f);
    CHECK(wrote > 0);
    CHECK_EQ(kv_open(&kv, other, KV_RDWR | KV_CREATE | KV_EXCL, &fits), KV_ENOSPC);
    remove(other);

    /* The store that fits is filled on the full filesystem, in a helper so
     * a SIGBUS would show as its death, not the test's. */
    spawn_proc_t p;
    spawn_status_t st = { 0, 0, 0, 0 };
    const char *args[] = { fit, NULL };
    CHECK_EQ(spawn_role(&p, "fill-store", args, NULL), 0);
    CHECK_EQ(spawn_wait(&p, &st), 0);
    if (st.signaled)
        fprintf(stderr, "  fill-store died of signal %d\n", st.signal);
    CHECK(st.exited && st.code == 0);
    remove(filler);
    remove(fit);
}

TEST(out_of_room)
{
    char dir[512], cmd[700];
    if (geteuid() != 0) {
        test_skip("not root: cannot mount a small tmpfs");
        return TEST_SKIP;
    }
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=%dk,mode=0700 tmpfs '%s'", ROOM_TMPFS_KIB,
             dir);
    if (system(cmd) != 0) {
        util_rmdir(dir);
        test_skip("root, but mount -t tmpfs failed (no CAP_SYS_ADMIN?)");
        return TEST_SKIP;
    }
    room_on_tmpfs(dir);
    snprintf(cmd, sizeof cmd, "umount '%s'", dir);
    CHECK_EQ(system(cmd), 0);
    util_rmdir(dir);

    /* Named memory: /dev/shm replaced by a small tmpfs in a private mount
     * namespace, so the machine's own /dev/shm is never touched. */
    const char *unshare = find_tool("unshare"), *self = self_exe();
    if (unshare && self) {
        const char *probe[] = { unshare, "--mount", "true", NULL };
        const char *argv[] = { unshare, "--mount", "--propagation", "private", self, "--role",
                               "shm-room", NULL };
        if (run_quiet(probe) == 0) {
            int code = run_quiet(argv);
            CHECK(code == 0 || code == SKIP_EXIT);
            if (code == SKIP_EXIT)
                printf("  (named memory part skipped: cannot mount on /dev/shm)\n");
        } else {
            printf("  (named memory part skipped: unshare --mount failed)\n");
        }
    } else {
        printf("  (named memory part skipped: no unshare)\n");
    }
    TEST_DONE();
}

/* The room a process may use, without root or mounts: RLIMIT_FSIZE caps
 * the size of any file it writes (tmpfs objects included), and with
 * SIGXFSZ ignored the kernel answers EFBIG instead of killing it. */
enum { FSIZE_LIMIT = 1024 * 1024 };

/* Creating `name` with `opts` (too big for the limit) fails with
 * KV_ENOSPC and leaves nothing at the name.  Returns 1 if so, else 0 after
 * saying why (and removing what was left). */
static int refused_for_size(const char *name, const kv_options_t *opts)
{
    kv_t *kv = NULL;
    int rc = kv_open(&kv, name, KV_RDWR | KV_CREATE | KV_EXCL, opts);
    if (rc == 0)
        kv_close(kv);
    int after = kv_open(&kv, name, 0, NULL); /* KV_ENOENT: nothing left */
    if (after == 0)
        kv_close(kv);
    if (rc == KV_ENOSPC && after == KV_ENOENT)
        return 1;
    fprintf(stderr, "  fsize-limit: creating %s gave %s, an open after it %s\n", name,
            kv_strerror(rc), kv_strerror(after));
    kv_unlink(name);
    return 0;
}

/* Role "fsize-limit DIR NAME": under RLIMIT_FSIZE = FSIZE_LIMIT, a
 * file-backed store in DIR and the named store NAME, each ~4 MiB, fail
 * with KV_ENOSPC at creation and leave nothing behind: posix_fallocate's
 * EFBIG is the only thing that says so (without it the first write to the
 * mapping past the file's end is SIGBUS).  A store within the limit still
 * works.  Exits 0, or 1. */
static int role_fsize_limit(int argc, char **argv)
{
    struct rlimit rl = { FSIZE_LIMIT, FSIZE_LIMIT };
    kv_options_t big = util_options(1024, 16, 4096), fits = util_options(16, 16, 64);
    char path[600];
    kv_t *kv = NULL;
    if (argc != 3 || signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/big.kv", argv[1]);
    int ok = refused_for_size(path, &big);
    ok &= refused_for_size(argv[2], &big);
    snprintf(path, sizeof path, "%s/fits.kv", argv[1]);
    int rc = kv_open(&kv, path, KV_RDWR | KV_CREATE | KV_EXCL, &fits);
    if (rc == 0) {
        rc = util_put(kv, "k", "v");
        kv_close(kv);
        kv_unlink(path);
    }
    if (rc != 0)
        fprintf(stderr, "  fsize-limit: a store that fits: %s\n", kv_strerror(rc));
    return ok && rc == 0 ? 0 : 1;
}

/* out_of_room's creation checks for everyone: a helper process whose file
 * size limit is below the store's size must be told KV_ENOSPC, for a file
 * and for named memory, with nothing left behind. */
TEST(file_size_limit)
{
    char dir[512];
    spawn_proc_t p;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    const char *args[] = { dir, test_name("fsize"), NULL };
    CHECK_EQ(spawn_role(&p, "fsize-limit", args, NULL), 0);
    CHECK_EQ(util_wait_code(&p), 0);
    util_rmdir(dir);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* A holder that dies in another PID namespace                              */
/* ------------------------------------------------------------------------ */

/* Reads the spinner's pid (as it sees itself) from PID_KEY; 0 if absent. */
static long spinner_pid(kv_t *kv)
{
    char v[32];
    size_t len = 0;
    if (kv_get(kv, PID_KEY, strlen(PID_KEY), v, sizeof v - 1, &len) != 0)
        return 0;
    v[len] = '\0';
    return atol(v);
}

TEST(holder_dies_in_pid_namespace)
{
    const char *unshare = find_tool("unshare"), *self = self_exe();
    spawn_proc_t p;
    kv_stats_t st;
    if (geteuid() != 0 || !unshare || !self) {
        test_skip(geteuid() != 0 ? "not root: cannot make a PID namespace"
                                 : "no unshare(1) (util-linux)");
        return TEST_SKIP;
    }
    const char *probe[] = { unshare, "--pid", "--fork", "true", NULL };
    if (run_quiet(probe) != 0) {
        test_skip("unshare --pid --fork failed here (no CAP_SYS_ADMIN?)");
        return TEST_SKIP;
    }
    if (!util_dead_holder_reported())
        return TEST_SKIP;
    kv_t *kv = util_fresh(store, "pidns", 16, 16, BIG_VAL);
    REQUIRE(kv);
    const char *argv[] = { unshare, "--pid", "--fork", self, "--role", "spinner", store, NULL };
    REQUIRE_EQ(spawn_program(&p, unshare, argv, NULL, NULL, NULL), 0);
    int started = generation_moves(kv, 20, 10000);
    long ns_pid = spinner_pid(kv), pid = child_of(p.pid);
    spawn_proc_t inner = { pid, NULL }; /* unshare's child: POSIX spawn_stop needs a pid */
    printf("  holder: pid %ld in its namespace, %ld here\n", ns_pid, pid);
    int caught = started && ns_pid > 0 && pid > 0 && pid != ns_pid &&
                 stop_while_holding(kv, &inner, (uint32_t)ns_pid);
    CHECK(caught);
    if (caught) {
        /* The mark names a pid that here is someone else, alive (pid 1 is
         * init): asking kill(pid, 0) would say the holder lives. */
        CHECK(kill((pid_t)ns_pid, 0) == 0);
        CHECK_EQ(kill((pid_t)pid, SIGKILL), 0);
    } else {
        kill((pid_t)pid, SIGKILL);
    }
    /* unshare (util-linux 2.38) may say "sigprocmask unblock failed" as it
     * fails to re-raise SIGKILL on itself after its child died of it:
     * harmless. */
    spawn_status_t ps;
    CHECK_EQ(spawn_wait(&p, &ps), 0);

    /* The next locker is told the owner died, and repairs. */
    CHECK(big_intact(kv));
    CHECK_EQ(kv_stats(kv, &st), 0);
    CHECK_EQ(st.recoveries, caught ? 1 : 0);
    CHECK_EQ(st.holder_pid, 0);
    CHECK_EQ(kv_check(kv, NULL, 0), 0);
    CHECK_EQ(util_put(kv, "after", "ok"), 0);
    util_dispose(kv, store);
    TEST_DONE();
}


/* ------------------------------------------------------------------------ */
/* Another user's plants (issue: never adopt, format or delete what kv did   */
/* not make; never follow another user's symlink)                            */
/* ------------------------------------------------------------------------ */

/* What a plant is, to prove it was left exactly as it was. */
typedef struct plant {
    mode_t mode;
    uid_t uid;
    off_t size;
} plant_t;

static int plant_seen(const char *path, plant_t *p)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return -1;
    p->mode = st.st_mode;
    p->uid = st.st_uid;
    p->size = st.st_size;
    return 0;
}

static int plant_unchanged(const char *path, const plant_t *before)
{
    plant_t now;
    return plant_seen(path, &now) == 0 && now.mode == before->mode &&
           now.uid == before->uid && now.size == before->size;
}

/* Entries in a directory besides . and .. (-1 if unreadable). */
static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* kv_open with the explanation kept: the code, and whether `word` is in it. */
static int open_why(kv_t **kv, const char *name, unsigned flags, const char *word)
{
    static char why[512];
    kv_options_t o;
    int rc;
    kv_options_init(&o);
    o.error = why;
    o.error_cap = sizeof why;
    rc = kv_open(kv, name, flags, &o);
    printf("  %s: %s%s%s\n", name, kv_strerror(rc), why[0] ? ": " : "", why);
    if (rc && word && !strstr(why, word)) {
        fprintf(stderr, "  explanation lacks \"%s\"\n", word);
        test_failures++;
    }
    return rc;
}

/* A plant at /dev/shm/kv.<name>, owned by uid with mode. */
static int plant_shm(const char *name, uid_t uid, mode_t mode, int fifo, char *path, size_t cap)
{
    snprintf(path, cap, "/dev/shm/kv.%s", name);
    unlink(path);
    if (fifo ? mkfifo(path, mode) != 0 : util_write_file(path, "", 0) != 0)
        return -1;
    return chown(path, uid, (gid_t)-1) == 0 && chmod(path, mode) == 0 ? 0 : -1;
}

TEST(planted_by_another_user)
{
    char path[600], dir[512], ww[600], secret[600], sub[700], store_path[800];
    const char *name = test_name("plant");
    struct passwd *nobody = getpwnam("nobody");
    plant_t before;
    kv_t *kv = NULL;
    if (geteuid() != 0 || !nobody) {
        test_skip("needs root and a 'nobody' account to plant another user's objects");
        return TEST_SKIP;
    }

    /* Another user's empty 0666 file at the name: refused, untouched. */
    REQUIRE_EQ(plant_shm(name, nobody->pw_uid, 0666, 0, path, sizeof path), 0);
    REQUIRE_EQ(plant_seen(path, &before), 0);
    CHECK_EQ(open_why(&kv, name, KV_CREATE | KV_RDWR, "nobody"), KV_ECORRUPT);
    CHECK_EQ(kv_unlink(name), KV_ECORRUPT);
    CHECK(plant_unchanged(path, &before));

    /* Another user's FIFO: refused at once, not deleted. */
    REQUIRE_EQ(plant_shm(name, nobody->pw_uid, 0644, 1, path, sizeof path), 0);
    REQUIRE_EQ(plant_seen(path, &before), 0);
    CHECK_EQ(open_why(&kv, name, KV_CREATE | KV_RDWR, "FIFO"), KV_ECORRUPT);
    CHECK_EQ(kv_unlink(name), KV_ECORRUPT);
    CHECK(plant_unchanged(path, &before));
    unlink(path);

    /* Another user's valid store: not used unless asked. */
    REQUIRE_EQ(open_why(&kv, name, KV_CREATE | KV_RDWR, NULL), 0);
    kv_close(kv);
    REQUIRE_EQ(chown(path, nobody->pw_uid, (gid_t)-1), 0);
    CHECK_EQ(open_why(&kv, name, KV_RDWR, "nobody"), KV_EPERM);
    CHECK_EQ(open_why(&kv, name, KV_RDWR | KV_ANY_OWNER, NULL), 0);
    kv_close(kv);
    CHECK_EQ(kv_unlink(name), 0); /* a store: the caller may remove it */

    /* One's own empty file with no wider mode: re-created as a store. */
    REQUIRE_EQ(plant_shm(name, 0, 0600, 0, path, sizeof path), 0);
    CHECK_EQ(open_why(&kv, name, KV_CREATE | KV_RDWR, NULL), 0);
    CHECK_EQ(kv_created(kv), 1);
    CHECK_EQ(util_put(kv, "k", "v"), 0);
    kv_close(kv);
    CHECK_EQ(kv_unlink(name), 0);

    /* A symlink in a middle component, planted by nobody in a world-writable
     * directory, pointing into root's private one: not followed. */
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(ww, sizeof ww, "%s/ww", dir);
    snprintf(secret, sizeof secret, "%s/secret", dir);
    snprintf(sub, sizeof sub, "%s/sub", ww);
    snprintf(store_path, sizeof store_path, "%s/store.kv", sub);
    REQUIRE(mkdir(ww, 01777) == 0 && chmod(ww, 01777) == 0 && mkdir(secret, 0700) == 0);
    REQUIRE(symlink(secret, sub) == 0 && lchown(sub, nobody->pw_uid, (gid_t)-1) == 0);
    CHECK_EQ(open_why(&kv, store_path, KV_CREATE | KV_RDWR, "\"sub\""), KV_EPERM);
    CHECK_EQ(dir_entries(secret), 0);
    /* The same link made by root is followed. */
    REQUIRE(lchown(sub, 0, (gid_t)-1) == 0);
    CHECK_EQ(open_why(&kv, store_path, KV_CREATE | KV_RDWR, NULL), 0);
    kv_close(kv);
    CHECK_EQ(dir_entries(secret), 1);
    CHECK_EQ(kv_unlink(store_path), 0);
    remove(sub);
    util_rmdir(dir);
    TEST_DONE();
}

/* A store that someone with write permission truncates while it is open:
 * kv_check reports it instead of reading past the end (SIGBUS). */
TEST(truncated_while_open)
{
    char dir[512], path[600], report[512];
    kv_t *kv = NULL;
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/t.kv", dir);
    REQUIRE_EQ(util_create(&kv, path, 64, 16, 32), 0);
    REQUIRE_EQ(util_put(kv, "k", "v"), 0);
    REQUIRE_EQ(truncate(path, 100), 0);
    CHECK_EQ(kv_check(kv, report, sizeof report), KV_ECORRUPT);
    CHECK(strstr(report, "truncated") != NULL);
    printf("  check: %s", report);
    kv_close(kv);
    CHECK_EQ(kv_unlink(path), 0); /* still a store's magic: removable */
    util_rmdir(dir);
    TEST_DONE();
}

#endif /* TEST_POSIX */

/* ------------------------------------------------------------------------ */

static const test_case_t tests[] = {
    TEST_ENTRY(stopped_holder),
    TEST_ENTRY(scribbler),
    TEST_ENTRY(racing_scribbler),
    TEST_ENTRY(planted_paths),
    TEST_ENTRY(out_of_room),
    TEST_ENTRY(file_size_limit),
    TEST_ENTRY(holder_dies_in_pid_namespace),
    TEST_ENTRY(planted_by_another_user),
    TEST_ENTRY(truncated_while_open),
};

static const spawn_role_t roles[] = {
    { "spinner", role_spinner },
    { "worker", role_worker },
    { "scribbler", role_scribbler },
#if TEST_POSIX
    { "flipper", role_flipper },
    { "fill-store", role_fill_store },
    { "shm-room", role_shm_room },
    { "fsize-limit", role_fsize_limit },
#endif
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
