/*
 * test.h — the smallest test harness that does the job.
 *
 * A test file defines its cases with TEST(name) and lists them in a
 * `static const test_case_t tests[]` table; test_main() runs them all (or the
 * ones named on the command line), prints one line per case and the closing
 * "N passed, N failed" line that CI reads.  CHECK() records a failure and
 * carries on; REQUIRE() ends the case.  A case may return TEST_SKIP after
 * printing why with test_skip().
 */
#ifndef KV_TEST_H
#define KV_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*test_fn)(void);
typedef struct test_case { const char *name; test_fn fn; } test_case_t;

enum { TEST_PASS = 0, TEST_FAIL = 1, TEST_SKIP = 2 };

extern int test_failures; /* failures recorded in the running case */

#define TEST(name) static int name(void)
#define TEST_ENTRY(name) { #name, name }

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    test_failures++; } } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
    fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
    return TEST_FAIL; } } while (0)
/* CHECK_EQ for integers: prints both sides on failure. */
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { fprintf(stderr, "  %s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
        __FILE__, __LINE__, #a, a_, #b, b_); test_failures++; } } while (0)
#define REQUIRE_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { fprintf(stderr, "  %s:%d: REQUIRE_EQ failed: %s == %lld, %s == %lld\n", \
        __FILE__, __LINE__, #a, a_, #b, b_); return TEST_FAIL; } } while (0)
#define TEST_DONE() return test_failures ? TEST_FAIL : TEST_PASS

/* Prints why a case is skipped; the case then returns TEST_SKIP. */
void test_skip(const char *why);

/* TEST_POSIX: 1 when the tests are built for a POSIX system, 0 for Windows
 * (the choice tests/CMakeLists.txt makes between spawn_posix.c and
 * spawn_win32.c), decided here once.  Code that compiles on both platforms
 * tests it at run time (`if (!TEST_POSIX) { test_skip(...); ... }`); code
 * that only POSIX can compile (mmap, FIFOs, mounts, namespaces) sits
 * under `#if TEST_POSIX` and its cases are declared with TEST_POSIX_ONLY. */
#ifdef _WIN32
#  define TEST_POSIX 0
#else
#  define TEST_POSIX 1
#endif

/* TEST_POSIX_ONLY(name, why); declares case `name` as one that needs POSIX.
 * On POSIX it is a declaration of TEST(name), which code under
 * `#if TEST_POSIX` defines; on Windows it defines the case as a skip that
 * prints "SKIP name: why" (the line tests/skipped.sh lists), so the case
 * is in every platform's table and its reason is written once. */
#if TEST_POSIX
#  define TEST_POSIX_ONLY(name, why) TEST(name)
#else
#  define TEST_POSIX_ONLY(name, why) \
    TEST(name) { test_skip(why); return TEST_SKIP; } TEST(name)
#endif

/* The run's seed, which every randomised test draws from: $KV_TEST_SEED
 * (decimal, or hex with 0x) when set, else one made from the clock and the
 * process id.  Chosen by the first call (test_main makes one) and set in
 * this process's environment, so helper processes started afterwards see
 * the same KV_TEST_SEED.  A failed case prints "KV_TEST_SEED=<n>" with the
 * command that repeats it. */
uint64_t test_seed(void);

/* A state for util_rand() for the stream called `label` of the running
 * case: a function of test_seed(), the case's name and label alone, so a
 * case draws the same numbers whether it runs alone or after others, and
 * its streams differ from each other's and from other cases'.  Outside a
 * case (in a helper process) the case name is "". */
uint64_t test_rng(const char *label);

/* Runs the cases (all, or those named in argv[1..]); returns the exit code. */
int test_main(int argc, char **argv, const test_case_t *cases, size_t n);

/* A store name unique to this process and call, for tests that run in
 * parallel: "<prefix>-<pid>-<counter>". Returns a static buffer. */
const char *test_name(const char *prefix);

#endif
