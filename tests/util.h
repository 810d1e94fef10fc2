/*
 * util.h — helpers shared by the kv test files, kept in one place so the
 * tests do not copy each other: creating a store of a given geometry, a
 * deterministic family of keys and values to fill a store with and verify it
 * later ("is everything I stored still there, unchanged?"), a seeded PRNG,
 * scratch directories for file-backed stores, and whole-file read/write for
 * tests that inspect or damage a store's bytes.  Built into the kvtest
 * library with test.c and the spawn helper.
 */
#ifndef KV_TEST_UTIL_H
#define KV_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "spawn.h"

/* Creates a new store (KV_RDWR | KV_CREATE | KV_EXCL) with the given
 * geometry and default mode/timeout.  Returns kv_open()'s result. */
int util_create(kv_t **kv, const char *name, uint64_t slots, uint32_t key_max,
                uint32_t val_max);

/* Creates a fresh store named test_name(prefix) with the given geometry,
 * copying the name into name[0..256).  Returns the handle, or NULL after
 * saying why on stderr.  A store not passed to util_dispose() by the time
 * the process exits (a case that failed a REQUIRE) is unlinked then. */
kv_t *util_fresh(char *name, const char *prefix, uint64_t slots, uint32_t key_max,
                 uint32_t val_max);

/* util_fresh() with full options (NULL: defaults) and extra kv_open flags
 * (e.g. KV_CACHE) besides KV_RDWR | KV_CREATE | KV_EXCL. */
kv_t *util_fresh_ex(char *name, const char *prefix, const kv_options_t *opts,
                    unsigned flags);

/* Closes the handle and removes the store's name; ends a util_fresh(). */
void util_dispose(kv_t *kv, const char *name);

/* Calls fn for every entry of the store, in cursor order, with kv_next()
 * (keys and values up to 64 KiB); stops early when fn returns nonzero.
 * Returns the number of entries visited, or kv_next()'s error. */
typedef int (*util_visit_fn)(void *ctx, const void *key, size_t key_len,
                             const void *val, size_t val_len);
long long util_for_each(kv_t *kv, util_visit_fn fn, void *ctx);

/* Opens store `name` read-write for a helper process in `role`; returns NULL
 * after saying why on stderr. */
kv_t *util_role_open(const char *role, const char *name);

/* A fresh KV_CACHE store (util_fresh_ex) named test_name("cache"), of
 * `slots` slots, keys <= 32 B and values <= 64 B (room for the fixture
 * family's values). */
kv_t *util_fresh_cache(char *name, uint64_t slots);

/* The store's generation (kv_generation), or UINT64_MAX on an error. */
uint64_t util_generation(kv_t *kv);

/* kv_stats into a zeroed struct; a failure is said on stderr (the struct
 * then holds what kv_stats filled in, if anything). */
kv_stats_t util_stats(kv_t *kv);

/* FNV-1a, 32 bits, of p[0..n): enough to catch a torn or shifted value. */
uint32_t util_fnv1a(const void *p, size_t n);

/* kv_put of two C strings (without their NULs). */
int util_put(kv_t *kv, const char *key, const char *val);

/* Returns 1 if `key` holds exactly val[0..val_len) (values up to 4096
 * bytes), else 0 and says why on stderr. */
int util_has(kv_t *kv, const void *key, size_t key_len, const void *val, size_t val_len);

/* kv_put_ex of two C strings with a time to live (0: none) and no
 * condition. */
int util_put_ttl(kv_t *kv, const char *key, const char *val, uint64_t ttl_ms);

/* util_has for a C-string key and value. */
int util_has_str(kv_t *kv, const char *key, const char *val);

/* kv_get's result for a C-string key (the value, up to 256 bytes, is
 * dropped). */
int util_get_rc(kv_t *kv, const char *key);

/* The version of a C-string key (kv_get_ex's meta), or 0 when it is absent
 * or on any error. */
uint64_t util_version(kv_t *kv, const char *key);

/* kv_ttl of a C-string key: returns the time to live (-1: none; -2 when
 * kv_ttl failed) and stores kv_ttl's result in *rc. */
int64_t util_ttl(kv_t *kv, const char *key, int *rc);

/* The fixture family: entry i of family `prefix` has key "<prefix><i>" and a
 * value of 0..40 bytes derived from i (entry 0's value is empty).  The
 * writers return the length written into buf (which must hold 64 bytes). */
size_t util_fixture_key(char *buf, const char *prefix, unsigned i);
size_t util_fixture_val(char *buf, const char *prefix, unsigned i);

/* Puts entries 0..n-1 of the family; returns 0 or the first error. */
int util_fill(kv_t *kv, const char *prefix, unsigned n);

/* Checks that entries 0..n-1 are all present with their values; returns the
 * number of entries missing or wrong (printing the first few). */
unsigned util_verify(kv_t *kv, const char *prefix, unsigned n);

/* Waits for p and returns its exit code, or -1 (saying why on stderr) if it
 * did not exit normally. */
int util_wait_code(spawn_proc_t *p);

/* The exit code of a process the kv_fault library ended at a crash point
 * (KV_CRASH_EXIT_CODE in kv/fault.h, which the tests do not include). */
#define UTIL_CRASH_EXIT 86

/* Runs this test binary in `role` with `args` (NULL-terminated, may be
 * NULL) and KV_CRASH_AT=k, so that the kv_fault library ends it at its k-th
 * crash point (k <= 0: at none), and waits for it.  Returns 1 if it died at
 * that point, 0 if it exited 0, -1 if it ended any other way (said on
 * stderr). */
int util_run_crashing(const char *role, const char *const *args, int k);

/* For a case that needs a lock holder's death reported to the next locker
 * (a process killed or crashed holding the lock, then a repair): returns 1
 * where spawn_dead_holder_reported() says it is, else 0 after test_skip()
 * with the reason, and the case returns TEST_SKIP.  Without this such a
 * case would wait for the lock to its timeout, then fail. */
int util_dead_holder_reported(void);

/* Options with the given geometry and the defaults for the rest. */
kv_options_t util_options(uint64_t slots, uint32_t key_max, uint32_t val_max);

/* splitmix64: a small, seedable, good-enough PRNG; advances *state. */
uint64_t util_rand(uint64_t *state);

/* Milliseconds on a monotonic clock (arbitrary origin), for timing waits. */
int64_t util_now_ms(void);

/* Wall-clock milliseconds since the Unix epoch, the clock kv stamps
 * holder_since_ms and expiry times with. */
uint64_t util_wall_ms(void);

/* Makes a fresh private directory under $TMPDIR (or /tmp) and writes its path
 * to buf.  Returns 0 or -1. */
int util_tmpdir(char *buf, size_t cap);

/* Removes a directory made by util_tmpdir and the plain files in it. */
void util_rmdir(const char *dir);

/* Reads the whole file into a malloc'd buffer (*len bytes); returns NULL on
 * error.  The buffer has one spare NUL byte after the data. */
unsigned char *util_read_file(const char *path, size_t *len);

/* Replaces the file's contents with data[0..len); returns 0 or -1. */
int util_write_file(const char *path, const void *data, size_t len);

#endif
