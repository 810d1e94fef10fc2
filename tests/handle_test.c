/*
 * handle_test.c — what kv.h promises about a handle beyond the data: the
 * structs that carry their size (an older or newer caller's kv_options_t,
 * kv_info_t, kv_stats_t), a handle used in a child after fork()
 * (KV_EFORKED), running out of file descriptors (KV_EMFILE, not the generic
 * KV_EIO), and waits that never outlive their own timeout: kv_watch on a
 * stuck lock answers KV_ETIMEDOUT on time and writes nothing, and a signal
 * handler ends kv_wait/kv_watch with KV_EINTR; and a read-only handle's
 * OS object refuses, rather than faults on, whatever would write the store.
 *
 * A stuck lock is a helper process (this binary in the "holdlock" role)
 * that takes the store's mutex through the library's own lock entry and
 * sleeps; the parent kills it, and the next locker's repair is checked too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "spawn.h"
#include "store.h"
#include "test.h"
#include "util.h"

#if TEST_POSIX
#  include <signal.h>
#  include <sys/resource.h>
#  include <sys/time.h>
#  include <sys/wait.h>
#  include <unistd.h>
#endif

static char store[256]; /* the running case's store name */

/* ------------------------------------------------------------------------ */
/* Helper roles                                                             */
/* ------------------------------------------------------------------------ */

/* "holdlock STORE MS": takes the store's mutex and keeps it for MS ms
 * (killed before that by the tests), then exits 0 without unlocking. */
static int role_holdlock(int argc, char **argv)
{
    kv_t *kv = argc == 3 ? util_role_open("holdlock", argv[1]) : NULL;
    store_hold_t hold;
    if (!kv || kv__store_lock(kv, &hold) != 0)
        return 2;
    printf("  holdlock: pid %ld holds the lock\n", spawn_self_pid());
    fflush(stdout);
    spawn_sleep_ms((unsigned)strtoul(argv[2], NULL, 10));
    return 0;
}

/* "put-now STORE KEY": puts KEY with lock timeout 0, so it fails unless the
 * store's mutex is free.  Exits 0 if the put succeeded. */
static int role_put_now(int argc, char **argv)
{
    kv_t *kv = argc == 3 ? util_role_open("put-now", argv[1]) : NULL;
    int rc;
    if (!kv)
        return 2;
    kv_set_timeout(kv, 0);
    rc = util_put(kv, argv[2], "now");
    kv_close(kv);
    return rc == 0 ? 0 : 1;
}

/* Starts a lock holder on `name` and returns once it holds the lock (a
 * get with timeout 0 is refused). */
static int start_holder(spawn_proc_t *p, kv_t *kv, const char *name)
{
    const char *args[] = { name, "30000", NULL };
    if (spawn_role(p, "holdlock", args, NULL) != 0)
        return -1;
    kv_set_timeout(kv, 0);
    for (int i = 0; i < 1000; i++) {
        if (util_get_rc(kv, "k") == KV_ETIMEDOUT)
            return 0;
        spawn_sleep_ms(10);
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Structs that carry their size                                            */
/* ------------------------------------------------------------------------ */

/* A caller built against a newer kv.h, whose structs have grown. */
typedef struct newer_options { kv_options_t o; uint64_t future; } newer_options_t;
typedef struct newer_stats { kv_stats_t st; uint64_t future[2]; } newer_stats_t;
typedef struct newer_info { kv_info_t i; uint64_t future; } newer_info_t;

TEST(options_carry_their_size)
{
    kv_options_t o;
    newer_options_t big;
    kv_t *kv = NULL;
    memset(&o, 0xee, sizeof o);
    kv_options_init(&o);
    CHECK_EQ(o.size, sizeof o);
    CHECK_EQ(o.slots, 0); /* derived from the budget */
    CHECK_EQ(o.memory, 0);
    CHECK_EQ(o.mode, 0600);
    snprintf(store, sizeof store, "%s", test_name("sized"));
    kv_unlink(store);

    o.size = 0; /* not filled by kv_options_init() */
    CHECK_EQ(kv_open(&kv, store, KV_CREATE | KV_RDWR, &o), KV_EINVAL);
    kv_options_init_size(&o, 16); /* older than any published kv_options_t */
    CHECK_EQ(kv_open(&kv, store, KV_CREATE | KV_RDWR, &o), KV_EINVAL);

    /* Newer: the unknown tail is zeroed by init; set, it is refused. */
    memset(&big, 0xee, sizeof big);
    kv_options_init_size(&big.o, sizeof big);
    CHECK_EQ(big.o.size, sizeof big);
    CHECK_EQ(big.future, 0);
    big.o.slots = 64;
    big.future = 1;
    CHECK_EQ(kv_open(&kv, store, KV_CREATE | KV_RDWR, &big.o), KV_EINVAL);
    CHECK_EQ(kv_open(&kv, store, KV_RDWR, NULL), KV_ENOENT); /* nothing was made */
    big.future = 0;
    REQUIRE_EQ(kv_open(&kv, store, KV_CREATE | KV_RDWR, &big.o), 0);
    kv_info_t info;
    CHECK_EQ(kv_info(kv, &info), 0);
    CHECK_EQ(info.slots, 64);
    util_dispose(kv, store);
    TEST_DONE();
}

TEST(stats_and_info_carry_their_size)
{
    kv_t *kv = util_fresh(store, "sizedst", 64, 16, 32);
    newer_stats_t bs;
    newer_info_t bi;
    kv_stats_t st;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "a", "1"), 0);
    memset(&bs, 0xee, sizeof bs);
    CHECK_EQ(kv_stats_size(kv, &bs.st, sizeof bs), 0); /* as a newer kv_stats() would */
    CHECK_EQ(bs.st.size, sizeof(kv_stats_t)); /* what this library filled */
    CHECK_EQ(bs.future[0], 0);
    CHECK_EQ(bs.future[1], 0);
    CHECK_EQ(bs.st.used, 1);
    CHECK_EQ(bs.st.slots, 64);
    CHECK_EQ(kv_stats(kv, &st), 0);
    CHECK_EQ(st.size, sizeof st);
    CHECK_EQ(st.used, 1);
    CHECK_EQ(kv_stats_size(kv, &st, 8), KV_EINVAL);

    memset(&bi, 0xee, sizeof bi);
    CHECK_EQ(kv_info_size(kv, &bi.i, sizeof bi), 0);
    CHECK_EQ(bi.i.size, sizeof(kv_info_t));
    CHECK_EQ(bi.future, 0);
    CHECK_EQ(bi.i.key_max, 16);
    CHECK_EQ(kv_info_size(kv, &bi.i, 4), KV_EINVAL);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* Waits bounded by their own timeout                                       */
/* ------------------------------------------------------------------------ */

/* With the lock stuck, kv_watch(100 ms) answers KV_ETIMEDOUT after about
 * 100 ms although the handle's timeout is 5 s, timeout 0 answers at once,
 * and neither writes *version; kv_wait(50 ms), which needs the lock only
 * to sleep, times out as usual (0), with the generation set. */
TEST(watch_on_stuck_lock)
{
    spawn_proc_t holder;
    spawn_status_t st;
    kv_stats_t s;
    if (!util_dead_holder_reported()) /* the holder is killed at the end, then repaired */
        return TEST_SKIP;
    kv_t *kv = util_fresh(store, "stuck", 64, 16, 32);
    uint64_t v, seen, g;
    int64_t t0, took;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "1"), 0);
    seen = util_version(kv, "k");
    REQUIRE_EQ(start_holder(&holder, kv, store), 0);
    kv_set_timeout(kv, 5000);

    v = 12345;
    t0 = util_now_ms();
    CHECK_EQ(kv_watch(kv, "k", 1, seen, 100, &v), KV_ETIMEDOUT);
    took = util_now_ms() - t0;
    printf("  kv_watch(100 ms) on a stuck lock: KV_ETIMEDOUT after %lld ms\n",
           (long long)took);
    CHECK(took >= 90 && took < 1500);
    CHECK_EQ(v, 12345);
    t0 = util_now_ms();
    CHECK_EQ(kv_watch(kv, "k", 1, seen, 0, &v), KV_ETIMEDOUT);
    CHECK(util_now_ms() - t0 < 500);
    CHECK_EQ(v, 12345);
    REQUIRE_EQ(kv_generation(kv, &g), 0);
    CHECK_EQ(kv_wait(kv, g, 50, &v), 0);
    CHECK_EQ(v, g);
    kv_set_timeout(kv, 0);
    CHECK_EQ(kv_stats(kv, &s), KV_ETIMEDOUT);
    CHECK_EQ(s.holder_pid, holder.pid);

    CHECK_EQ(spawn_kill(&holder), 0);
    CHECK_EQ(spawn_wait(&holder, &st), 0);
    kv_set_timeout(kv, 5000);
    CHECK_EQ(kv_watch(kv, "k", 1, seen - 1, 1000, &v), 0); /* repaired, readable */
    CHECK_EQ(v, seen);
    CHECK_EQ(kv_stats(kv, &s), 0);
    CHECK_EQ(s.recoveries, 1);
    util_dispose(kv, store);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* A read-only handle's object                                              */
/* ------------------------------------------------------------------------ */

/* Through `name`'s read-only handle, the OS layer refuses what would write
 * the store or take its mutex (KV_ERDONLY, where a call on its read-only
 * mapping would fault), says it is never alone, and still waits on the
 * change word: a timeout when it holds what is expected, at once when not.
 * Afterwards another process locks at once (no thread here holds the
 * mutex: a Win32 mutex is recursive, so this thread's put would not tell)
 * and the reader sees its put.  Returns TEST_FAIL early if the handle
 * cannot be opened; failures are counted either way. */
static int read_only_object(kv_t *kv, const char *name)
{
    const char *args[] = { name, "other", NULL };
    spawn_proc_t p;
    kv_t *ro = NULL;
    uint32_t seq;
    REQUIRE_EQ(kv_open(&ro, name, 0, NULL), 0);
    CHECK_EQ(kv__os_mutex_trylock(ro->obj), KV_ERDONLY);
    CHECK_EQ(kv__os_mutex_lock(ro->obj, 10), KV_ERDONLY);
    kv__os_mutex_consistent(ro->obj); /* both do nothing: it never locked */
    kv__os_mutex_unlock(ro->obj);
    CHECK_EQ(kv__os_mutex_init(ro->obj), KV_ERDONLY);
    CHECK_EQ(kv__os_object_reserve(ro->obj, ro->object_size), KV_ERDONLY);
    CHECK_EQ(kv__os_object_last_one(ro->obj), 0);
    seq = atomic_load_explicit(&ro->hdr->change_seq, memory_order_acquire);
    CHECK_EQ(kv__os_wait(ro->obj, &ro->hdr->change_seq, seq, 20), KV_ETIMEDOUT);
    CHECK_EQ(kv__os_wait(ro->obj, &ro->hdr->change_seq, seq + 1, 5000), 0);
    kv__os_wake_all(ro->obj, &ro->hdr->change_seq);
    CHECK_EQ(util_put(ro, "k", "x"), KV_ERDONLY);
    REQUIRE_EQ(spawn_role(&p, "put-now", args, NULL), 0);
    CHECK_EQ(util_wait_code(&p), 0);
    CHECK(util_has_str(ro, "other", "now"));
    CHECK(util_has_str(ro, "k", "1"));
    kv_close(ro);
    CHECK_EQ(util_put(kv, "k", "2"), 0);
    TEST_DONE();
}

TEST(read_only_object_refuses_writes)
{
    char dir[512], path[600];
    kv_t *kv = util_fresh(store, "roobj", 64, 16, 32), *file = NULL;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "1"), 0);
    read_only_object(kv, store);
    util_dispose(kv, store);
    REQUIRE_EQ(util_tmpdir(dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/roobj.kv", dir);
    REQUIRE_EQ(util_create(&file, path, 64, 16, 32), 0);
    REQUIRE_EQ(util_put(file, "k", "1"), 0);
    read_only_object(file, path);
    kv_close(file);
    CHECK_EQ(kv_unlink(path), 0);
    util_rmdir(dir);
    TEST_DONE();
}

/* ------------------------------------------------------------------------ */
/* POSIX only: signals, fork, file descriptors                              */
/* ------------------------------------------------------------------------ */

TEST_POSIX_ONLY(wait_interrupted_by_signal, "Windows has no signal handlers to end a wait");
TEST_POSIX_ONLY(handle_after_fork, "Windows has no fork()");
TEST_POSIX_ONLY(out_of_file_descriptors, "RLIMIT_NOFILE is POSIX");

#if TEST_POSIX
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* Arms SIGALRM (handler installed with SA_RESTART, which a wait ignores)
 * to fire once after ms. */
static void alarm_after(unsigned ms)
{
    struct sigaction sa;
    struct itimerval it;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (long)(ms % 1000) * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

TEST(wait_interrupted_by_signal)
{
    kv_t *kv = util_fresh(store, "eintr", 64, 16, 32);
    uint64_t g, now = 0, v = 0;
    int64_t t0, took;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "1"), 0);
    REQUIRE_EQ(kv_generation(kv, &g), 0);
    alarm_after(200);
    t0 = util_now_ms();
    CHECK_EQ(kv_wait(kv, g, 5000, &now), KV_EINTR);
    took = util_now_ms() - t0;
    printf("  kv_wait(5 s) ended by SIGALRM after %lld ms\n", (long long)took);
    CHECK(took >= 150 && took < 2500);
    CHECK_EQ(now, g);
    CHECK_EQ(alarms, 1);

    alarm_after(200);
    t0 = util_now_ms();
    CHECK_EQ(kv_watch(kv, "k", 1, util_version(kv, "k"), 5000, &v), KV_EINTR);
    CHECK(util_now_ms() - t0 < 2500);
    CHECK_EQ(v, util_version(kv, "k")); /* the last read, still true */
    CHECK_EQ(alarms, 2);
    CHECK(strstr(kv_strerror(KV_EINTR), "signal") != NULL);
    signal(SIGALRM, SIG_DFL);
    util_dispose(kv, store);
    TEST_DONE();
}

/* The child's calls on the inherited handle, as an exit code: bit i set
 * when check i failed. */
static int child_after_fork(kv_t *inherited, const char *name)
{
    char buf[16];
    uint64_t g;
    kv_stats_t st;
    kv_info_t info;
    kv_t *own = NULL;
    int bad = 0;
    bad |= (kv_get(inherited, "k", 1, buf, sizeof buf, NULL) != KV_EFORKED) << 0;
    bad |= (util_put(inherited, "k", "child") != KV_EFORKED) << 1;
    bad |= (kv_generation(inherited, &g) != KV_EFORKED) << 2;
    bad |= (kv_stats(inherited, &st) != KV_EFORKED) << 3;
    bad |= (kv_wait(inherited, 0, 10, NULL) != KV_EFORKED) << 4;
    bad |= (kv_info(inherited, &info) != 0 || info.slots != 64) << 5;
    bad |= (kv_close(inherited) != 0) << 6;
    if (kv_open(&own, name, KV_RDWR, NULL) != 0)
        return bad | 1 << 7;
    bad |= (!util_has_str(own, "k", "parent") || util_put(own, "c", "child") != 0) << 7;
    kv_close(own);
    return bad;
}

TEST(handle_after_fork)
{
    kv_t *kv = util_fresh(store, "fork", 64, 16, 32);
    kv_stats_t st;
    int status = 0;
    pid_t pid;
    REQUIRE(kv);
    REQUIRE_EQ(util_put(kv, "k", "parent"), 0);
    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0)
        _exit(child_after_fork(kv, store));
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    /* The parent's handle is untouched, and the child's own handle wrote. */
    CHECK(util_has_str(kv, "k", "parent"));
    CHECK(util_has_str(kv, "c", "child"));
    CHECK_EQ(kv_stats(kv, &st), 0);
    CHECK_EQ(st.holder_pid, 0);
    CHECK_EQ(st.recoveries, 0);
    CHECK(strstr(kv_strerror(KV_EFORKED), "fork") != NULL);
    util_dispose(kv, store);
    TEST_DONE();
}

/* "nofile STORE": with RLIMIT_NOFILE lowered to the descriptors already
 * open, kv_open answers KV_EMFILE; exits 0 if so, 1 otherwise. */
static int role_nofile(int argc, char **argv)
{
    struct rlimit rl;
    rlim_t saved;
    kv_t *kv = NULL;
    int fd, rc;
    if (argc != 2 || (fd = dup(0)) < 0)
        return 2;
    close(fd); /* the lowest free descriptor: everything below is in use */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 2;
    saved = rl.rlim_cur;
    rl.rlim_cur = (rlim_t)fd;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 2;
    rc = kv_open(&kv, argv[1], KV_RDWR, NULL);
    kv_close(kv);
    rl.rlim_cur = saved; /* back, for the exit (LeakSanitizer opens /proc) */
    setrlimit(RLIMIT_NOFILE, &rl);
    printf("  kv_open with no descriptor left: %d (%s)\n", rc, kv_strerror(rc));
    return rc == KV_EMFILE && strstr(kv_strerror(rc), "open files") ? 0 : 1;
}

TEST(out_of_file_descriptors)
{
    kv_t *kv = util_fresh(store, "nofile", 64, 16, 32);
    spawn_proc_t p;
    const char *args[] = { store, NULL };
    REQUIRE(kv);
    REQUIRE_EQ(spawn_role(&p, "nofile", args, NULL), 0);
    CHECK_EQ(util_wait_code(&p), 0);
    util_dispose(kv, store);
    TEST_DONE();
}
#endif

static const spawn_role_t roles[] = {
    { "holdlock", role_holdlock },
    { "put-now", role_put_now },
#if TEST_POSIX
    { "nofile", role_nofile },
#endif
};

static const test_case_t tests[] = {
    TEST_ENTRY(options_carry_their_size),
    TEST_ENTRY(stats_and_info_carry_their_size),
    TEST_ENTRY(watch_on_stuck_lock),
    TEST_ENTRY(read_only_object_refuses_writes),
    TEST_ENTRY(wait_interrupted_by_signal),
    TEST_ENTRY(handle_after_fork),
    TEST_ENTRY(out_of_file_descriptors),
};

int main(int argc, char **argv)
{
    spawn_init(argc, argv, roles, (int)(sizeof roles / sizeof roles[0]));
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
