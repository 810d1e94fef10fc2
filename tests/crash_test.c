/*
 * crash_test.c — the crash-point walk: proof that a process killed at any
 * point inside a critical section loses nothing acknowledged and leaves no
 * half-done operation.
 *
 * Linked with kv_fault, the library built with KV_CRASH_POINT()s live.  For
 * each operation (put of a new key, replace, insert-only, delete, clear) and
 * for k = 1, 2, ... the test starts a child process (this binary in the "op"
 * role) with KV_CRASH_AT=k; the child opens the store and runs the operation,
 * and the library ends it with _Exit at its k-th crash point, still holding
 * the store's mutex.  The parent then checks that the store equals the model
 * either before or after the operation — nothing else — that exactly one
 * recovery was counted, that kv_check finds nothing wrong, and that the
 * store keeps working.  The walk ends at the first k the operation survives.
 *
 * Every walk runs twice: with the parent attached while the child dies (the
 * next lock sees a dead owner: EOWNERDEAD), and with the parent detached (the
 * next open finds itself alone with the holder mark set).
 */
#include <stdio.h>
#include <string.h>

#include "kv.h"
#include "spawn.h"
#include "test.h"
#include "util.h"

#define BASE_ENTRIES 30u
#define CRASH_EXIT 86 /* KV_CRASH_EXIT_CODE in kv/fault.h */

/* ---------------------------------------------------------------------- */
/* The operations, as run by the child and as applied to the model        */
/* ---------------------------------------------------------------------- */

static const char NEW_KEY[] = "brand-new-key";
static const char NEW_VAL[] = "a value long enough to be copied in two halves";
static const char REPLACE_KEY[] = "b5"; /* a base entry */
static const char REPLACE_VAL[] = "replacement value of another length!";
static const char DELETE_KEY[] = "b7";

typedef struct op {
    const char *name;
    int (*run)(kv_t *kv);  /* the operation on the store */
    int expect;            /* what run() returns when not interrupted */
} op_t;

static int op_put_new(kv_t *kv)
{
    return kv_put(kv, NEW_KEY, strlen(NEW_KEY), NEW_VAL, strlen(NEW_VAL), 0);
}

static int op_replace(kv_t *kv)
{
    return kv_put(kv, REPLACE_KEY, strlen(REPLACE_KEY), REPLACE_VAL, strlen(REPLACE_VAL), 0);
}

static int op_insert_only(kv_t *kv)
{
    return kv_put(kv, NEW_KEY, strlen(NEW_KEY), NEW_VAL, strlen(NEW_VAL), KV_NOREPLACE);
}

static int op_insert_only_existing(kv_t *kv)
{
    return kv_put(kv, REPLACE_KEY, strlen(REPLACE_KEY), REPLACE_VAL, strlen(REPLACE_VAL),
                  KV_NOREPLACE);
}

static int op_delete(kv_t *kv)
{
    return kv_del(kv, DELETE_KEY, strlen(DELETE_KEY));
}

static int op_clear(kv_t *kv)
{
    return kv_clear(kv);
}

static const op_t ops[] = {
    { "put-new", op_put_new, 0 },
    { "put-replace", op_replace, 0 },
    { "put-insert-only", op_insert_only, 0 },
    { "put-insert-only-existing", op_insert_only_existing, KV_EEXIST },
    { "del", op_delete, 0 },
    { "clear", op_clear, 0 },
};

static const op_t *find_op(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

/* Child role: "op STORE OPNAME".  Exits 0 if the operation completed as
 * expected; the library exits CRASH_EXIT when it reaches KV_CRASH_AT. */
static int role_op(int argc, char **argv)
{
    const op_t *op = argc == 3 ? find_op(argv[2]) : NULL;
    kv_t *kv;
    int rc;
    if (!op || kv_open(&kv, argv[1], KV_RDWR, NULL) != 0)
        return 2;
    rc = op->run(kv);
    kv_close(kv);
    return rc == op->expect ? 0 : 3;
}

/* ---------------------------------------------------------------------- */
/* The model: which entries the store must hold                            */
/* ---------------------------------------------------------------------- */

/* A store state is the base fixture family, with these changes applied. */
typedef struct model {
    int cleared;           /* nothing at all */
    int has_new;           /* NEW_KEY = NEW_VAL */
    int replaced;          /* REPLACE_KEY = REPLACE_VAL */
    int deleted;           /* DELETE_KEY absent */
} model_t;

static model_t model_after(const char *op)
{
    model_t m = { 0, 0, 0, 0 };
    if (strcmp(op, "put-new") == 0 || strcmp(op, "put-insert-only") == 0)
        m.has_new = 1;
    else if (strcmp(op, "put-replace") == 0)
        m.replaced = 1;
    else if (strcmp(op, "del") == 0)
        m.deleted = 1;
    else if (strcmp(op, "clear") == 0)
        m.cleared = 1;
    return m;
}

/* Quietly: does base entry i hold what model m says? */
static int base_entry_matches(kv_t *kv, const model_t *m, unsigned i)
{
    char key[64], val[64], got[128];
    size_t klen = util_fixture_key(key, "b", i), vlen = util_fixture_val(val, "b", i), n = 0;
    int rc = kv_get(kv, key, klen, got, sizeof got, &n);
    if (m->deleted && strcmp(key, DELETE_KEY) == 0)
        return rc == KV_ENOTFOUND;
    if (m->replaced && strcmp(key, REPLACE_KEY) == 0)
        return rc == 0 && n == strlen(REPLACE_VAL) && memcmp(got, REPLACE_VAL, n) == 0;
    return rc == 0 && n == vlen && memcmp(got, val, n) == 0;
}

static int new_entry_matches(kv_t *kv, const model_t *m)
{
    char got[128];
    size_t n = 0;
    int rc = kv_get(kv, NEW_KEY, strlen(NEW_KEY), got, sizeof got, &n);
    if (!m->has_new)
        return rc == KV_ENOTFOUND;
    return rc == 0 && n == strlen(NEW_VAL) && memcmp(got, NEW_VAL, n) == 0;
}

/* Returns 1 if the store holds exactly the state m. */
static int store_equals(kv_t *kv, const model_t *m)
{
    uint64_t count = 0, want;
    if (kv_count(kv, &count) != 0)
        return 0;
    if (m->cleared)
        return count == 0 && util_for_each(kv, NULL, NULL) == 0;
    want = BASE_ENTRIES + (m->has_new ? 1 : 0) - (m->deleted ? 1 : 0);
    if (count != want || util_for_each(kv, NULL, NULL) != (long long)want)
        return 0;
    for (unsigned i = 0; i < BASE_ENTRIES; i++)
        if (!base_entry_matches(kv, m, i))
            return 0;
    return new_entry_matches(kv, m);
}

/* ---------------------------------------------------------------------- */
/* The walk                                                                */
/* ---------------------------------------------------------------------- */

typedef struct walk_result {
    int points;       /* crash points reached (kills) */
    int rolled_back;  /* kills after which the store was as before */
    int applied;      /* kills after which the store was as after */
    int failures;
} walk_result_t;

/* Makes the base store: fixture entries, then two deletions so the table has
 * tombstones for inserts to reuse. */
static kv_t *make_base(char *name)
{
    kv_t *kv = util_fresh(name, "crash", 64, 32, 64);
    if (!kv)
        return NULL;
    if (util_fill(kv, "b", BASE_ENTRIES) != 0 || util_put(kv, "gone1", "x") != 0 ||
        util_put(kv, "gone2", "y") != 0 || kv_del(kv, "gone1", 5) != 0 ||
        kv_del(kv, "gone2", 5) != 0) {
        util_dispose(kv, name);
        return NULL;
    }
    return kv;
}

/* Runs the child with KV_CRASH_AT=k.  Returns 1 if it died at the crash
 * point, 0 if it completed the operation, -1 on anything else. */
static int run_child(const char *name, const char *op, int k)
{
    char env_k[32];
    const char *args[] = { name, op, NULL };
    const char *env[] = { env_k, NULL };
    spawn_proc_t p;
    spawn_status_t st;
    snprintf(env_k, sizeof env_k, "KV_CRASH_AT=%d", k);
    if (spawn_role(&p, "op", args, env) != 0 || spawn_wait(&p, &st) != 0 || !st.exited)
        return -1;
    if (st.code == CRASH_EXIT)
        return 1;
    return st.code == 0 ? 0 : -1;
}

/* After the child ended: the store must be the before or the after state,
 * with one recovery counted if it crashed, sound, and still usable. */
static int verify_after_child(kv_t *kv, const char *op, int crashed, walk_result_t *r)
{
    model_t before = { 0, 0, 0, 0 }, after = model_after(op);
    kv_stats_t st;
    char report[512];
    int was_before = store_equals(kv, &before), was_after = store_equals(kv, &after);
    int ok = was_before || was_after;
    r->rolled_back += crashed && was_before && !was_after;
    r->applied += crashed && was_after && !was_before;
    if (!ok)
        fprintf(stderr, "  %s: store is neither the before nor the after state\n", op);
    if (!crashed && !was_after) {
        fprintf(stderr, "  %s: completed but the store is not the after state\n", op);
        ok = 0;
    }
    if (kv_stats(kv, &st) != 0 || st.recoveries != (uint64_t)crashed) {
        fprintf(stderr, "  %s: recoveries %llu, expected %d\n", op,
                (unsigned long long)st.recoveries, crashed);
        ok = 0;
    }
    if (kv_check(kv, report, sizeof report) != 0) {
        fprintf(stderr, "  %s: check failed after recovery:\n%s", op, report);
        ok = 0;
    }
    if (util_put(kv, "after-crash", "still works") != 0 ||
        !util_has(kv, "after-crash", 11, "still works", 11))
        ok = 0;
    return ok;
}

/* One step of the walk: fresh store, child killed at point k (or not).
 * Returns 1 if the child died at k, 0 if the walk is over, -1 on failure. */
static int walk_step(const char *op, int k, int attached, walk_result_t *r)
{
    char name[256];
    kv_t *kv = make_base(name);
    int outcome, ok;
    if (!kv)
        return -1;
    if (!attached)
        kv_close(kv);
    outcome = run_child(name, op, k);
    if (!attached && kv_open(&kv, name, KV_RDWR, NULL) != 0) {
        kv_unlink(name);
        return -1;
    }
    ok = outcome >= 0 && verify_after_child(kv, op, outcome, r);
    util_dispose(kv, name);
    if (!ok) {
        fprintf(stderr, "  %s: failed at crash point %d (%s)\n", op, k,
                attached ? "attached" : "detached");
        return -1;
    }
    return outcome;
}

static void walk(const char *op, int attached, walk_result_t *r)
{
    memset(r, 0, sizeof *r);
    for (int k = 1; k < 1000; k++) {
        int outcome = walk_step(op, k, attached, r);
        if (outcome < 0)
            r->failures++;
        if (outcome <= 0)
            return;
        r->points++;
    }
    r->failures++; /* an operation with a thousand crash points is a bug */
}

/* Walks one operation in both modes and prints what the walk saw. */
static int walk_both(const char *op, int min_points)
{
    for (int attached = 1; attached >= 0; attached--) {
        walk_result_t r;
        walk(op, attached, &r);
        printf("  %-26s %-9s %2d crash points: %2d rolled back, %2d applied\n", op,
               attached ? "attached" : "detached", r.points, r.rolled_back, r.applied);
        CHECK_EQ(r.failures, 0);
        CHECK(r.points >= min_points);
    }
    TEST_DONE();
}

TEST(walk_put_new)            { return walk_both("put-new", 3); }
TEST(walk_put_replace)        { return walk_both("put-replace", 5); }
TEST(walk_put_insert_only)    { return walk_both("put-insert-only", 3); }
TEST(walk_put_insert_only_existing) { return walk_both("put-insert-only-existing", 0); }
TEST(walk_del)                { return walk_both("del", 2); }
TEST(walk_clear)              { return walk_both("clear", 3); }

static const spawn_role_t roles[] = { { "op", role_op } };

static const test_case_t tests[] = {
    TEST_ENTRY(walk_put_new),
    TEST_ENTRY(walk_put_replace),
    TEST_ENTRY(walk_put_insert_only),
    TEST_ENTRY(walk_put_insert_only_existing),
    TEST_ENTRY(walk_del),
    TEST_ENTRY(walk_clear),
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, 1);
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
