/*
 * fuzz_names.c — libFuzzer target: file-store paths through symlinks.
 *
 * LLVMFuzzerInitialize builds a sandbox directory holding directories, a
 * plain file, a FIFO, a valid store and symlinks of every shape: relative,
 * absolute, back up the tree, dangling, to itself, to a file, and (when run
 * as root, as CI does) two owned by nobody, which kv must never follow.
 * Each input is a short list of path components drawn from those names
 * plus ".", ".." and empty ones (names_format.h); the path under the
 * sandbox is opened with kv_open (with KV_CREATE when the first byte says
 * so).  The sandbox: a/ a/b/ a/file a/fifo store.kv, and the symlinks own
 * -> a, abs -> <sandbox>/a/b, foreign -> a (nobody's), a/b/back -> ../..,
 * a/b/foreign2 -> ../b (nobody's), dangling -> nowhere, loop -> loop,
 * fileln -> a/file, a/up -> .. .
 *
 * The answer is checked against a model written from kv.h's rules, not
 * from kv's code: the directory part is resolved one component at a time
 * with lstat, a symlink followed only when its owner is the caller or root
 * (at most 40 of them), ".." taken physically; the last component must not
 * be a symlink, may be a store, and is created when absent.  After every
 * input the sandbox must be exactly as it was (type, owner, mode, size,
 * link target, and the bytes of every file but the store, whose lock area
 * an attach re-formats), and a store kv_open created must be where the
 * model says.  Paths that would leave the sandbox are not tried.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "kv.h"
#include "names_format.h"

#define NZ_HOPS       40  /* kv.h: "at most 40 symlinks on the way" */
#define NZ_SNAP_MAX   64  /* entries in the sandbox */
#define NZ_NOBODY     65534

typedef struct nz_entry {
    char path[256];
    mode_t mode;
    uid_t uid;
    gid_t gid;
    off_t size;
    char target[256]; /* a symlink's */
    uint64_t hash;    /* a regular file's bytes (not the store's) */
} nz_entry_t;

static struct {
    char root[200];  /* the sandbox, without symlinks */
    nz_entry_t snap[NZ_SNAP_MAX];
    size_t snap_n;
    nz_entry_t *fill; /* nftw's destination */
    size_t fill_n;
} nz;

/* ------------------------------------------------------------------------ */
/* The sandbox and its snapshot                                             */
/* ------------------------------------------------------------------------ */

static uint64_t nz_file_hash(const char *path)
{
    uint64_t h = 1469598103934665603ull;
    int c;
    FILE *f = fopen(path, "rb");
    FZ_CHECK(f != NULL, "%s: %s", path, strerror(errno));
    while ((c = fgetc(f)) != EOF)
        h = (h ^ (uint64_t)c) * 1099511628211ull;
    fclose(f);
    return h;
}

static int nz_record(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    (void)ftw;
    FZ_CHECK(nz.fill_n < NZ_SNAP_MAX, "sandbox grew past %d entries", NZ_SNAP_MAX);
    nz_entry_t *e = &nz.fill[nz.fill_n++];
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s", path);
    e->mode = st->st_mode;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->size = S_ISDIR(st->st_mode) ? 0 : st->st_size; /* a directory's size follows its entries */
    if (S_ISLNK(st->st_mode))
        FZ_CHECK(readlink(path, e->target, sizeof e->target - 1) >= 0, "readlink %s", path);
    const char *base = strrchr(path, '/') + 1;
    if (S_ISREG(st->st_mode) && strcmp(base, "store.kv") != 0)
        e->hash = nz_file_hash(path);
    return 0;
}

/* Snapshots the sandbox into `into` (nftw visits in directory order, which
 * does not change while no entry is added or removed). */
static size_t nz_snapshot(nz_entry_t *into)
{
    nz.fill = into;
    nz.fill_n = 0;
    FZ_CHECK(nftw(nz.root, nz_record, 8, FTW_PHYS) == 0, "nftw %s: %s", nz.root, strerror(errno));
    return nz.fill_n;
}

static void nz_check_unchanged(const char *name)
{
    static nz_entry_t now[NZ_SNAP_MAX];
    size_t n = nz_snapshot(now);
    FZ_CHECK(n == nz.snap_n, "after %s: %zu entries in the sandbox, %zu before", name, n,
             nz.snap_n);
    for (size_t i = 0; i < n; i++)
        FZ_CHECK(memcmp(&now[i], &nz.snap[i], sizeof now[i]) == 0,
                 "after %s: %s changed (mode %o uid %d size %lld; was %s mode %o uid %d size %lld)",
                 name, now[i].path, (unsigned)now[i].mode, (int)now[i].uid,
                 (long long)now[i].size, nz.snap[i].path, (unsigned)nz.snap[i].mode,
                 (int)nz.snap[i].uid, (long long)nz.snap[i].size);
}

static void nz_at(char *buf, size_t cap, const char *rel)
{
    FZ_CHECK((size_t)snprintf(buf, cap, "%s/%s", nz.root, rel) < cap, "sandbox path too long");
}

static void nz_make(const char *rel, const char *link_to, int foreign)
{
    char path[300];
    nz_at(path, sizeof path, rel);
    FZ_CHECK(symlink(link_to, path) == 0, "symlink %s: %s", path, strerror(errno));
    /* Only root can give a link away; otherwise it stays the caller's, and
     * the model reads its owner as kv does. */
    if (foreign && geteuid() == 0)
        FZ_CHECK(lchown(path, NZ_NOBODY, NZ_NOBODY) == 0, "lchown %s", path);
}

static void nz_remove_sandbox(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", nz.root);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_names: could not remove %s\n", nz.root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char tmpl[200], path[300], abs_target[300];
    const char *base = getenv("KV_FUZZ_TMPDIR");
    kv_options_t o;
    kv_t *kv = NULL;
    (void)argc;
    (void)argv;
    snprintf(tmpl, sizeof tmpl, "%s/kvfuzz-names-XXXXXX", base ? base : "/tmp");
    FZ_CHECK(mkdtemp(tmpl) != NULL, "mkdtemp %s: %s", tmpl, strerror(errno));
    FZ_CHECK(realpath(tmpl, nz.root) != NULL, "realpath %s", tmpl);
    atexit(nz_remove_sandbox);
    nz_at(path, sizeof path, "a");
    FZ_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
    nz_at(path, sizeof path, "a/b");
    FZ_CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
    nz_at(path, sizeof path, "a/file");
    FILE *f = fopen(path, "w");
    FZ_CHECK(f && fputs("not a store\n", f) >= 0 && fclose(f) == 0, "write %s", path);
    nz_at(path, sizeof path, "a/fifo");
    FZ_CHECK(mkfifo(path, 0644) == 0, "mkfifo %s", path);
    nz_at(path, sizeof path, "store.kv");
    kv_options_init(&o);
    o.slots = 16;
    o.mode = 0600;
    FZ_CHECK(kv_open(&kv, path, KV_CREATE | KV_EXCL | KV_RDWR, &o) == 0, "create %s", path);
    kv_close(kv);
    nz_at(abs_target, sizeof abs_target, "a/b");
    nz_make("own", "a", 0);
    nz_make("abs", abs_target, 0);
    nz_make("foreign", "a", 1);
    nz_make("a/b/back", "../..", 0);
    nz_make("a/b/foreign2", "../b", 1);
    nz_make("dangling", "nowhere", 0);
    nz_make("loop", "loop", 0);
    nz_make("fileln", "a/file", 0);
    nz_make("a/up", "..", 0);
    nz.snap_n = nz_snapshot(nz.snap);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The model                                                                */
/* ------------------------------------------------------------------------ */

typedef struct nz_expect {
    int rc;          /* what kv_open must answer */
    int creates;     /* 1 if it must create the store */
    char where[600]; /* the object's real path, when rc is 0 */
} nz_expect_t;

/* Pushes the components of `path` in front of the pending ones (a stack
 * holding them last-first). */
static void nz_push(char (*stack)[256], size_t *depth, size_t cap, const char *path)
{
    const char *end = path + strlen(path);
    while (end > path) {
        const char *start = end;
        while (start > path && start[-1] != '/')
            start--;
        FZ_CHECK(*depth < cap, "model: path too deep");
        snprintf(stack[(*depth)++], 256, "%.*s", (int)(end - start), start);
        end = start > path ? start - 1 : path;
    }
}

static int nz_inside(const char *path)
{
    size_t n = strlen(nz.root);
    return strncmp(path, nz.root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Resolves the directory part, components[0..n-1], from the sandbox.
 * Returns 0 with the directory in `dir`, a KV_E* answer, or 1 when the
 * walk leaves the sandbox (the input is not tried). */
static int nz_walk(const char *const *components, size_t n, char *dir, size_t cap)
{
    static char stack[NZ_HOPS * 8 + NAMES_COMPONENTS][256];
    size_t depth = 0;
    int hops = 0;
    snprintf(dir, cap, "%s", nz.root);
    for (size_t i = n; i-- > 0;)
        snprintf(stack[depth++], 256, "%s", components[i]);
    while (depth > 0) {
        char comp[256], next[600], target[256];
        struct stat st;
        snprintf(comp, sizeof comp, "%s", stack[--depth]);
        if (!comp[0] || !strcmp(comp, "."))
            continue;
        if (!strcmp(comp, "..")) {
            *strrchr(dir, '/') = '\0';
            if (!nz_inside(dir))
                return 1;
            continue;
        }
        snprintf(next, sizeof next, "%s/%s", dir, comp);
        if (lstat(next, &st) != 0)
            return errno == ENOENT ? KV_ENOENT : 1;
        if (S_ISDIR(st.st_mode)) {
            snprintf(dir, cap, "%s", next);
        } else if (!S_ISLNK(st.st_mode)) {
            return KV_ENOENT; /* "on the way is a file, not a directory" */
        } else if ((st.st_uid != 0 && st.st_uid != geteuid()) || ++hops > NZ_HOPS) {
            return KV_EPERM;
        } else {
            ssize_t len = readlink(next, target, sizeof target - 1);
            FZ_CHECK(len >= 0, "readlink %s", next);
            target[len] = '\0';
            if (target[0] == '/') {
                if (!nz_inside(target))
                    return 1;
                snprintf(dir, cap, "%s", nz.root); /* the sandbox's path has no links */
                nz_push(stack, &depth, sizeof stack / sizeof stack[0], target + strlen(nz.root));
            } else {
                nz_push(stack, &depth, sizeof stack / sizeof stack[0], target);
            }
        }
    }
    return 0;
}

/* What kv_open must answer for the path made of `components`. */
static int nz_model(const char *const *components, size_t n, int create, nz_expect_t *want)
{
    const char *last = components[n - 1];
    char dir[600];
    struct stat st;
    memset(want, 0, sizeof *want);
    if (!last[0] || !strcmp(last, ".") || !strcmp(last, "..")) {
        want->rc = KV_ENAME;
        return 0;
    }
    int rc = nz_walk(components, n - 1, dir, sizeof dir);
    if (rc == 1)
        return 1;
    if (rc) {
        want->rc = rc;
        return 0;
    }
    snprintf(want->where, sizeof want->where, "%s/%s", dir, last);
    if (lstat(want->where, &st) != 0) {
        if (errno != ENOENT)
            return 1;
        want->rc = create ? 0 : KV_ENOENT;
        want->creates = create;
    } else if (S_ISLNK(st.st_mode)) {
        want->rc = KV_EPERM; /* "a store is never opened through one" */
    } else if (!S_ISREG(st.st_mode) || strcmp(last, "store.kv") != 0) {
        want->rc = KV_ECORRUPT; /* not a store: left as it is */
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t in = {data, size};
    const char *components[NAMES_COMPONENTS];
    char name[KV_PATH_MAX + 1];
    nz_expect_t want;
    size_t n = 0, len;
    kv_t *kv = NULL;
    int create = fz_byte(&in) & 1;
    while (n < NAMES_COMPONENTS && in.n > 0)
        components[n++] = names_tokens[fz_byte(&in) % NAMES_TOKENS];
    if (n == 0 || nz_model(components, n, create, &want) != 0)
        return 0;
    len = (size_t)snprintf(name, sizeof name, "%s", nz.root);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(name + len, sizeof name - len, "/%s", components[i]);
    int rc = kv_open(&kv, name, KV_RDWR | (create ? KV_CREATE : 0u), NULL);
    FZ_CHECK(rc == want.rc, "kv_open(%s%s): %d %s, the model says %d %s", name,
             create ? ", KV_CREATE" : "", rc, kv_strerror(rc), want.rc, kv_strerror(want.rc));
    if (rc == 0) {
        struct stat st;
        FZ_CHECK(kv_created(kv) == want.creates, "kv_open(%s): created %d, the model says %d",
                 name, kv_created(kv), want.creates);
        FZ_CHECK(lstat(want.where, &st) == 0 && S_ISREG(st.st_mode),
                 "kv_open(%s) succeeded but %s is not a file", name, want.where);
        kv_close(kv);
        if (want.creates)
            FZ_CHECK(kv_unlink(name) == 0 && lstat(want.where, &st) != 0,
                     "kv_unlink(%s) left %s", name, want.where);
    }
    nz_check_unchanged(name);
    return 0;
}
