/*
 * test.c — the runner behind test.h.
 *
 * test_main() runs each selected case in turn, in this process, and prints
 * one line per case ("PASS name", "FAIL name", or "SKIP name: why") on stdout
 * followed by the summary line "N passed, N failed, N skipped" that CI reads;
 * diagnostics from CHECK/REQUIRE go to stderr, and stdout is flushed after
 * every line so the two streams interleave in order.  Cases are not isolated
 * from each other: a case that crashes ends the run, which CTest reports as a
 * failure.  Store names carry the process id (spawn_self_pid), so tests
 * run in parallel never share one.  Randomised cases draw from one seed per
 * run (test_seed, test_rng), printed with every failure.
 */
#include "test.h"

#include <inttypes.h>

#include "spawn.h"
#include "util.h"

int test_failures;

static char skip_reason[512]; /* set by test_skip() for the running case */
static const char *running = ""; /* the running case's name */
static const char *program = "";  /* argv[0], for the line that repeats a failure */


void test_skip(const char *why)
{
    snprintf(skip_reason, sizeof skip_reason, "%s", why ? why : "");
}

const char *test_name(const char *prefix)
{
    static char buf[256];
    static unsigned counter;
    snprintf(buf, sizeof buf, "%s-%ld-%u", prefix, spawn_self_pid(), counter++);
    return buf;
}

uint64_t test_seed(void)
{
    static uint64_t seed;
    static int chosen;
    if (!chosen) {
        const char *env = getenv("KV_TEST_SEED");
        char *end = NULL, buf[32];
        if (env && *env) {
            seed = strtoull(env, &end, 0);
            if (*end != '\0' || *env == '-') {
                fprintf(stderr, "KV_TEST_SEED=%s is not a number\n", env);
                exit(2);
            }
        } else {
            /* Wall-clock ms, the monotonic clock and the pid, mixed: two
             * runs started at once still differ. */
            uint64_t mix = util_wall_ms() ^ ((uint64_t)util_now_ms() << 20) ^
                           ((uint64_t)spawn_self_pid() << 40);
            seed = util_rand(&mix) >> 1; /* 63 bits: any shell takes it */
        }
        snprintf(buf, sizeof buf, "%" PRIu64, seed);
        spawn_setenv("KV_TEST_SEED", buf);
        chosen = 1;
    }
    return seed;
}

uint64_t test_rng(const char *label)
{
    /* The two names' hashes in the two halves of a word XORed into the
     * seed, then one splitmix64 step so that near seeds give far states. */
    uint64_t names = (uint64_t)util_fnv1a(running, strlen(running)) << 32 |
                     util_fnv1a(label, strlen(label));
    uint64_t state = test_seed() ^ names;
    util_rand(&state);
    return state;
}

/* Returns 1 if `name` was asked for on the command line (or nothing was). */
static int selected(const char *name, int argc, char **argv)
{
    if (argc <= 1)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

/* Runs one case and prints its line; returns TEST_PASS/FAIL/SKIP.  A case
 * that returns TEST_PASS after a CHECK failed, or returns anything else,
 * counts as failed. */
static int run_case(const test_case_t *tc)
{
    test_failures = 0;
    skip_reason[0] = '\0';
    running = tc->name;
    int rc = tc->fn();
    running = "";
    if (rc != TEST_PASS && rc != TEST_SKIP)
        rc = TEST_FAIL;
    if (rc == TEST_PASS && test_failures)
        rc = TEST_FAIL;
    if (rc == TEST_SKIP)
        printf("SKIP %s: %s\n", tc->name, skip_reason[0] ? skip_reason : "no reason given");
    else
        printf("%s %s\n", rc == TEST_PASS ? "PASS" : "FAIL", tc->name);
    if (rc == TEST_FAIL) /* randomised or not: the line costs nothing */
        printf("  to repeat: KV_TEST_SEED=%" PRIu64 " %s %s\n", test_seed(), program,
               tc->name);
    fflush(stdout);
    return rc;
}

/* Returns 1 if some name in argv[1..] matches no case (a typo), printing it. */
static int unknown_names(int argc, char **argv, const test_case_t *cases, size_t n)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < n && strcmp(cases[k].name, argv[i]) != 0)
            k++;
        if (k == n) {
            fprintf(stderr, "no test case named %s\n", argv[i]);
            bad = 1;
        }
    }
    return bad;
}

int test_main(int argc, char **argv, const test_case_t *cases, size_t n)
{
    unsigned counts[3] = {0, 0, 0};
    if (unknown_names(argc, argv, cases, n))
        return 2;
    program = argc > 0 ? argv[0] : "";
    test_seed(); /* chosen and exported before any case starts a process */
    for (size_t i = 0; i < n; i++) {
        if (selected(cases[i].name, argc, argv))
            counts[run_case(&cases[i])]++;
    }
    printf("%u passed, %u failed, %u skipped\n",
           counts[TEST_PASS], counts[TEST_FAIL], counts[TEST_SKIP]);
    return counts[TEST_FAIL] ? 1 : 0;
}
