/*
 * fuzz_cli.c — libFuzzer target: everything kvcli parses.
 *
 * The target links kvcli_core (tools/kvcli/, all but main.c) and calls
 * kvcli's own parsers and commands as cli.h declares them, so there is no
 * second copy of them.  The first input byte picks a mode:
 *
 *   0  numbers: the rest, as a string, through cli_parse_number() in every
 *      kind (plain, octal, size k/M/G, duration ms/s/m/h/d) and
 *      cli_parse_int64(), each compared with a reference written from the
 *      README's rules on top of strtoull()/strtoll();
 *   1  argument vectors: the rest, split at NUL bytes, through
 *      cli_parse_args(); a command line it accepts is then run with
 *      cli_run() against a scratch store, its STORE replaced, if the
 *      command is one that cannot touch other files or block (not destroy,
 *      load, watch, hold, or put reading stdin);
 *   2  dump input: the rest as the text `kvcli load` reads, loaded into the
 *      scratch store; after a successful load, dump | load | dump must
 *      give the same lines, but for expires_ms, which load keeps only to
 *      within the time it took (and an entry may expire meanwhile);
 *   3  encodings: the rest split into a key and a value, written as a dump
 *      line (JSON strings or base64) and as `list` escapes, then parsed
 *      back: every byte string must round-trip.
 *
 * kvcli's stdout and stderr go to /dev/null (KV_FUZZ_VERBOSE=1 keeps them);
 * a failed check or a sanitizer report still reaches the real stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fuzz.h"

#define FZ_ARGS_MAX   16
#define FZ_STORE_SLOTS 64
#define FZ_STORE_KEY  16
#define FZ_STORE_VAL  64

static struct {
    char name[64];  /* the scratch store */
    kv_t *kv;       /* a handle kept open, for clearing it */
    FILE *out, *err; /* where kvcli's stdout and stderr go */
} fz;

static void fz_cleanup(void)
{
    kv_close(fz.kv);
    kv_unlink(fz.name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    kv_options_t o;
    int rc;

    (void)argc;
    (void)argv;
    snprintf(fz.name, sizeof fz.name, "kvfuzz-cli-%ld", (long)getpid());
    kv_options_init(&o);
    o.slots = FZ_STORE_SLOTS;
    o.key_max = FZ_STORE_KEY;
    o.val_max = FZ_STORE_VAL;
    o.lock_timeout_ms = 1000;
    kv_unlink(fz.name);
    rc = kv_open(&fz.kv, fz.name, KV_CREATE | KV_EXCL | KV_RDWR, &o);
    FZ_CHECK(rc == 0, "create %s: %s", fz.name, kv_strerror(rc));
    atexit(fz_cleanup);
    if (!getenv("KV_FUZZ_VERBOSE")) {
        fz.out = fopen("/dev/null", "w");
        fz.err = fopen("/dev/null", "w");
        FZ_CHECK(fz.out && fz.err, "/dev/null: %s", strerror(errno));
    }
    return 0;
}

/* Points kvcli's stdout and stderr at /dev/null for the call that follows;
 * fz_restore() puts them back.  (glibc's stdout and stderr are variables.) */
typedef struct fz_streams {
    FILE *out, *err;
} fz_streams_t;

static fz_streams_t fz_silence(void)
{
    fz_streams_t s = {stdout, stderr};

    if (fz.out) {
        stdout = fz.out;
        stderr = fz.err;
    }
    return s;
}

static void fz_restore(fz_streams_t s)
{
    fflush(stdout);
    fflush(stderr);
    stdout = s.out;
    stderr = s.err;
}

/* ======================================================================== */
/* Mode 0: numbers                                                          */
/* ======================================================================== */

/* cli_parse_number() as the README describes it: digits (octal for --mode),
 * then for sizes k/K, m/M, g/G and for durations ms, s, m, h, d. */
static int fz_ref_number(const char *s, enum num_kind kind, uint64_t *out)
{
    static const struct {
        enum num_kind kind;
        const char *unit;
        uint64_t times;
    } ref_units[] = {
        {NUM_SIZE, "k", 1024}, {NUM_SIZE, "K", 1024}, {NUM_SIZE, "m", 1048576},
        {NUM_SIZE, "M", 1048576}, {NUM_SIZE, "g", 1073741824}, {NUM_SIZE, "G", 1073741824},
        {NUM_DURATION, "ms", 1}, {NUM_DURATION, "s", 1000}, {NUM_DURATION, "m", 60000},
        {NUM_DURATION, "h", 3600000}, {NUM_DURATION, "d", 86400000},
    };
    int base = kind == NUM_OCTAL ? 8 : 10;
    unsigned long long v;
    uint64_t times = 1;
    char *end;
    size_t i;

    if (s[0] < '0' || s[0] >= '0' + base) /* strtoull would skip blanks and signs */
        return -1;
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno == ERANGE)
        return -1;
    if (*end) {
        for (i = 0; i < sizeof ref_units / sizeof ref_units[0]; i++)
            if (ref_units[i].kind == kind && strcmp(end, ref_units[i].unit) == 0)
                break;
        if (i == sizeof ref_units / sizeof ref_units[0])
            return -1;
        times = ref_units[i].times;
    }
    return __builtin_mul_overflow((uint64_t)v, times, out) ? -1 : 0;
}

/* cli_parse_int64(): an optional sign, then decimal digits only, in range. */
static int fz_ref_int64(const char *s, int64_t *out)
{
    const char *d = *s == '-' || *s == '+' ? s + 1 : s;
    long long v;
    char *end;

    if (*d < '0' || *d > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end)
        return -1;
    *out = v;
    return 0;
}

static void fz_numbers(const uint8_t *d, size_t n)
{
    static const enum num_kind kinds[] = {NUM_PLAIN, NUM_OCTAL, NUM_SIZE, NUM_DURATION};
    char s[48];
    uint64_t got = 0, want = 0;
    int64_t got64 = 0, want64 = 0;
    int rc, ref;

    n = n < sizeof s - 1 ? n : sizeof s - 1;
    memcpy(s, d, n);
    s[n] = '\0';
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        rc = cli_parse_number(s, kinds[k], &got);
        ref = fz_ref_number(s, kinds[k], &want);
        FZ_CHECK(rc == ref && (rc != 0 || got == want),
                 "cli_parse_number(\"%s\", kind %d): rc %d value %" PRIu64 ", reference rc %d "
                 "value %" PRIu64, s, (int)kinds[k], rc, got, ref, want);
    }
    rc = cli_parse_int64(s, &got64);
    ref = fz_ref_int64(s, &want64);
    FZ_CHECK(rc == ref && (rc != 0 || got64 == want64),
             "cli_parse_int64(\"%s\"): rc %d value %" PRId64 ", reference rc %d value %" PRId64,
             s, rc, got64, ref, want64);
}

/* ======================================================================== */
/* Mode 1: argument vectors                                                 */
/* ======================================================================== */

/* Whether a parsed command may run against the scratch store: only the
 * commands listed here, which neither remove the store, read a file or
 * stdin, nor wait (watch and hold run until a signal; a command added to
 * kvcli later is parsed but not run until it is listed). */
static int fz_safe_to_run(const cli_t *c)
{
    static const char *const safe[] = {"create", "put", "get", "del", "incr", "ttl", "purge",
                                       "list", "stats", "dump", "check"};
    const char *name = c->cmd->name;

    if (!strcmp(name, "put") && !strcmp(c->arg[1], "-"))
        return 0;
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (!strcmp(name, safe[i]))
            return 1;
    return 0;
}

static void fz_argv(const uint8_t *d, size_t n)
{
    char *copy = malloc(n + 1), *argv[FZ_ARGS_MAX + 1];
    int argc = 1, rc;
    fz_streams_t saved;
    cli_t c;

    FZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, d, n);
    copy[n] = '\0';
    argv[0] = "kvcli";
    for (size_t i = 0; i <= n && argc < FZ_ARGS_MAX; i += strlen(copy + i) + 1)
        argv[argc++] = copy + i;
    argv[argc] = NULL;

    saved = fz_silence();
    rc = cli_parse_args(&c, argc, argv);
    fz_restore(saved);
    FZ_CHECK(rc == 0 || rc == CLI_HELP || rc == CLI_USAGE, "cli_parse_args: %d", rc);
    if (rc == 0) {
        FZ_CHECK(c.cmd && c.store, "cli_parse_args accepted a line without command or store");
        FZ_CHECK(c.nargs >= c.cmd->min_args && c.nargs <= c.cmd->max_args &&
                 c.extra_args == 0, "cli_parse_args: %d arguments for %s", c.nargs,
                 c.cmd->name);
        FZ_CHECK(!(c.nx && c.has_if_version) || strcmp(c.cmd->name, "put") != 0,
                 "put accepted --nx with --if-version");
    }
    if (rc == 0 && fz_safe_to_run(&c)) {
        /* The same few entries each time, for get, del and incr to find. */
        kv_clear(fz.kv);
        kv_put(fz.kv, "k", 1, "v", 1, 0);
        kv_put(fz.kv, "n", 1, "41", 2, 0);
        kv_put(fz.kv, "key", 3, "value", 5, 0);
        c.store = fz.name;
        /* create only ever attaches here; keep a stray geometry small anyway. */
        c.opts.slots = FZ_STORE_SLOTS;
        c.opts.key_max = FZ_STORE_KEY;
        c.opts.val_max = FZ_STORE_VAL;
        saved = fz_silence();
        rc = cli_run(&c);
        fz_restore(saved);
        FZ_CHECK(rc >= CLI_OK && rc <= CLI_CONFLICT && rc != CLI_CORRUPT,
                 "kvcli %s exited %d", c.cmd->name, rc);
    }
    free(copy);
}

/* ======================================================================== */
/* Mode 2: dump input                                                       */
/* ======================================================================== */

/* Loads `len` bytes of dump text into the scratch store with cli_load(), as
 * `kvcli load` does after opening its input.  Returns kvcli's exit code. */
static int fz_load(const char *text, size_t len)
{
    cli_t c;
    kv_t *kv;
    cli_load_counts_t counts;
    FILE *in;
    fz_streams_t saved;
    int rc;

    memset(&c, 0, sizeof c);
    kv_options_init(&c.opts);
    c.store = fz.name;
    /* fmemopen() may refuse 0 bytes; a blank line reads the same as none. */
    in = len ? fmemopen((void *)text, len, "r") : fmemopen("\n", 1, "r");
    FZ_CHECK(in != NULL, "fmemopen: %s", strerror(errno));
    saved = fz_silence();
    rc = cli_load(&c, in, "fuzz-input", &kv, &counts);
    fz_restore(saved);
    kv_close(kv);
    fclose(in);
    return rc;
}

/* Dumps the scratch store with kvcli dump into a new buffer. */
static char *fz_dump(size_t *len)
{
    char *buf = NULL;
    FILE *mem = open_memstream(&buf, len);
    fz_streams_t saved;
    cli_t c;
    int rc;

    FZ_CHECK(mem != NULL, "open_memstream: %s", strerror(errno));
    memset(&c, 0, sizeof c);
    kv_options_init(&c.opts);
    c.store = fz.name;
    saved = fz_silence();
    stdout = mem;
    rc = cli_cmd_dump.run(&c, fz.kv);
    fz_restore(saved);
    fclose(mem);
    FZ_CHECK(rc == CLI_OK, "dump of the scratch store: exit %d", rc);
    return buf;
}

/* A dump line as mode 2 compares it: the text without its expiry, and
 * the expiry (0: none). */
typedef struct fz_line {
    char *text;
    uint64_t expires_ms;
} fz_line_t;

static int fz_cmp_lines(const void *a, const void *b)
{
    return strcmp(((const fz_line_t *)a)->text, ((const fz_line_t *)b)->text);
}

/* Cuts a line's ,"expires_ms":N member (dump writes it last; a '"' inside a
 * JSON string is always escaped, so the text cannot occur there). */
static fz_line_t fz_split_expiry(char *line)
{
    fz_line_t l = {line, 0};
    char *at = strstr(line, ",\"expires_ms\":");

    if (at) {
        l.expires_ms = strtoull(at + strlen(",\"expires_ms\":"), NULL, 10);
        *at = '\0';
    }
    return l;
}

/* Splits a dump into lines, cuts their expiry and sorts them (slot order
 * may differ between two stores holding the same entries). */
static size_t fz_sorted_lines(char *buf, fz_line_t **out)
{
    size_t n = 0, cap = 16;
    fz_line_t *lines = malloc(cap * sizeof *lines);
    char *p, *save = NULL;

    FZ_CHECK(lines != NULL, "out of memory");
    for (p = strtok_r(buf, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            fz_line_t *more = realloc(lines, (cap *= 2) * sizeof *lines);
            FZ_CHECK(more != NULL, "out of memory");
            lines = more;
        }
        lines[n++] = fz_split_expiry(p);
    }
    qsort(lines, n, sizeof *lines, fz_cmp_lines);
    *out = lines;
    return n;
}

/* Checks the second dump against the first, the second load and dump
 * having run from t0 to t1 (wall clock, which the check assumes is not set
 * back).
 * Every line must come back, with its expiry moved later by at most
 * t1 - t0 (load's clock reading and kv's both fell in that span); a line
 * may be missing only if its entry had expired by t1. */
static void fz_same_lines(fz_line_t *a, size_t na, fz_line_t *b, size_t nb, uint64_t t0,
                          uint64_t t1)
{
    size_t i, k = 0;

    for (i = 0; i < na; i++) {
        if (k < nb && strcmp(a[i].text, b[k].text) == 0) {
            uint64_t was = a[i].expires_ms, is = b[k++].expires_ms;
            FZ_CHECK(was ? is >= was && is - was <= t1 - t0 : is == 0,
                     "dump | load | dump: expiry %" PRIu64 " came back as %" PRIu64
                     " (load ran %" PRIu64 " ms):\n%s", was, is, t1 - t0, a[i].text);
        } else {
            FZ_CHECK(a[i].expires_ms && a[i].expires_ms <= t1,
                     "dump | load | dump lost a line:\n%s", a[i].text);
        }
    }
    FZ_CHECK(k == nb, "dump | load | dump: %zu lines, then %zu", na, nb);
}

static void fz_load_input(const uint8_t *d, size_t n)
{
    char *first, *second;
    fz_line_t *a, *b;
    size_t alen, blen, na, nb;
    uint64_t t0, t1;
    int rc;

    kv_clear(fz.kv);
    rc = fz_load((const char *)d, n);
    FZ_CHECK(rc == CLI_OK || rc == CLI_USAGE || rc == CLI_STORE, "load exited %d", rc);
    if (rc != CLI_OK)
        return;
    first = fz_dump(&alen);
    kv_clear(fz.kv);
    t0 = cli_now_ms();
    rc = fz_load(first, alen);
    FZ_CHECK(rc == CLI_OK, "loading kvcli's own dump exited %d:\n%s", rc, first);
    second = fz_dump(&blen);
    t1 = cli_now_ms();
    na = fz_sorted_lines(first, &a);
    nb = fz_sorted_lines(second, &b);
    fz_same_lines(a, na, b, nb, t0, t1);
    free(a);
    free(b);
    free(first);
    free(second);
}

/* ======================================================================== */
/* Mode 3: encodings                                                        */
/* ======================================================================== */

static int fz_hex(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decodes kvcli's human escapes back into bytes (cli_put_escaped: a backslash
 * doubled, a byte outside printable ASCII as \xNN). */
static size_t fz_unescape(const char *s, size_t n, unsigned char *out)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[w++] = (unsigned char)s[i];
        } else if (i + 1 < n && s[i + 1] == '\\') {
            out[w++] = '\\';
            i++;
        } else {
            FZ_CHECK(i + 3 < n && s[i + 1] == 'x' && fz_hex(s[i + 2]) >= 0 &&
                     fz_hex(s[i + 3]) >= 0, "bad escape in \"%.*s\"", (int)n, s);
            out[w++] = (unsigned char)(fz_hex(s[i + 2]) << 4 | fz_hex(s[i + 3]));
            i += 3;
        }
    }
    return w;
}

static void fz_encodings(const uint8_t *d, size_t n)
{
    cli_jfield_t f[4] = {{"key", 1, 0, NULL, 0, 0}, {"key_b64", 1, 0, NULL, 0, 0},
                         {"value", 1, 0, NULL, 0, 0}, {"value_b64", 1, 0, NULL, 0, 0}};
    const unsigned char *key = d + (n ? 1 : 0), *val;
    size_t klen = 0, vlen, len, got;
    unsigned char *line_bytes, *s, *back;
    char *line = NULL;
    FILE *mem;
    cli_jcur_t j;

    /* The first byte is the key's length, the rest of the input the value. */
    if (n) {
        klen = 1 + d[0] % 32u;
        if (klen > n - 1)
            klen = n - 1;
    }
    val = key + klen;
    vlen = n - (n ? 1 : 0) - klen;

    /* A dump line, parsed back as load_entry does. */
    FZ_CHECK((mem = open_memstream(&line, &len)) != NULL, "open_memstream");
    fputc('{', mem);
    cli_put_json_bytes(mem, "key", key, klen);
    fputc(',', mem);
    cli_put_json_bytes(mem, "value", val, vlen);
    fputc('}', mem);
    fclose(mem);
    line_bytes = (unsigned char *)line;
    for (size_t i = 0; i < len; i++)
        FZ_CHECK(line_bytes[i] >= 0x20 && line_bytes[i] != 0x7f,
                 "dump line has control byte 0x%02x", line_bytes[i]);
    FZ_CHECK(cli_utf8_valid(line_bytes, len), "dump line is not UTF-8");
    FZ_CHECK(cli_jobject(&j, line_bytes, len, f, 4, NULL, NULL) == 0,
             "own dump line rejected: %s (%s)",
             j.err, j.field ? j.field : "-");
    FZ_CHECK(cli_get_json_bytes(&f[0], &f[1], &s, &got) == NULL && got == klen &&
             (klen == 0 || memcmp(s, key, klen) == 0), "key does not round-trip");
    FZ_CHECK(cli_get_json_bytes(&f[2], &f[3], &s, &got) == NULL && got == vlen &&
             (vlen == 0 || memcmp(s, val, vlen) == 0), "value does not round-trip");
    free(line);

    /* list's escapes: one line, and back to the same bytes. */
    FZ_CHECK((mem = open_memstream(&line, &len)) != NULL, "open_memstream");
    cli_put_escaped(mem, val, vlen);
    fclose(mem);
    FZ_CHECK(memchr(line, '\n', len) == NULL, "escaped text has a newline");
    back = malloc(len + 1);
    FZ_CHECK(back != NULL, "out of memory");
    got = fz_unescape(line, len, back);
    FZ_CHECK(got == vlen && (vlen == 0 || memcmp(back, val, vlen) == 0),
             "escapes do not round-trip");
    free(back);
    free(line);
}

/* ======================================================================== */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0:  fz_numbers(data + 1, size - 1); break;
    case 1:  fz_argv(data + 1, size - 1); break;
    case 2:  fz_load_input(data + 1, size - 1); break;
    default: fz_encodings(data + 1, size - 1); break;
    }
    return 0;
}
