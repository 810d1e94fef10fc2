/*
 * cmd_dump.c — dump and load.  The dump format is JSON lines (see the
 * `dump` help text) so that `dump | load` round-trips arbitrary bytes and
 * stays readable and greppable: a header with the store's geometry and
 * cache flag, then one object per entry, its key and value as JSON strings
 * or, when not UTF-8, as base64 (codec.h), and its expiry as an absolute
 * wall-clock time, which keeps the entry's deadline however long the dump
 * waits before it is loaded.  load reads it back line by line, creating
 * the store with the header's geometry and flag if it does not exist, and
 * skips (and counts) entries whose deadline has passed.
 *
 * The header is an object of named members so that it can grow: load
 * warns about a member it does not know and goes on, so a field a later
 * kvcli adds does not stop an older one.  The
 * version changes only for what an older load must not skip.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DUMP_VERSION        2 /* what dump writes: 1 plus "cache" and "expires_ms" */
#define DUMP_VERSION_OLDEST 1 /* the oldest load reads: no cache flag, no expiry */
#define HEADER_LINE_MAX     4096u /* longest dump header line load accepts */
#define UNKNOWN_NAMED       8 /* unknown header fields named in warnings */
#define STDIN_NAME          "<stdin>"
#define STR_(x)             #x
#define STR(x)              STR_(x)

/* The header's members: the version, the geometry (cli_geometry's order)
 * and the cache flag. */
enum { H_VERSION, H_GEOMETRY, H_CACHE = H_GEOMETRY + GEO_COUNT, H_COUNT };

/* Writes the header line. */
static void put_header(const kv_info_t *info, const kv_stats_t *st)
{
    int g;

    printf("{\"kv_dump\":%d", DUMP_VERSION);
    for (g = 0; g < GEO_COUNT; g++)
        printf(",\"%s\":%" PRIu64, cli_geometry[g].json, cli_geometry_get(info, g));
    printf(",\"cache\":%s}\n", st->cache ? "true" : "false");
}

/* Writes one entry line; the expiry only when the entry has one. */
static void put_entry_line(const kv_entry_t *e, const cli_bytes_t *v, const kv_meta_t *meta)
{
    fputc('{', stdout);
    cli_put_json_bytes(stdout, "key", e->key, e->key_len);
    fputc(',', stdout);
    cli_put_json_bytes(stdout, "value", v->buf, v->len);
    if (meta->expires_ms)
        printf(",\"expires_ms\":%" PRIu64, meta->expires_ms);
    fputs("}\n", stdout);
}

static int cmd_dump(cli_t *c, kv_t *kv)
{
    cli_bytes_t v = {NULL, 0, 0};
    kv_stats_t st;
    kv_meta_t meta;
    cli_iter_t it;
    int err;

    /* kv_stats (the cache flag) takes the lock before anything is written,
     * so a store whose lock cannot be taken produces no output rather than
     * a lone header. */
    if ((err = kv_stats(kv, &st)) != 0 || (err = cli_iter_open(&it, kv, 0)) != 0)
        return cli_fail(c, err, NULL);
    put_header(&it.info, &st);
    while ((err = cli_iter_next(&it)) == 0) {
        /* kv_next gives no expiry: the value and its expiry come from one
         * kv_get_ex, so they belong together.  A key deleted or expired
         * since kv_next saw it is left out, as kv_next may leave it out. */
        err = cli_read_value(kv, it.e.key, it.e.key_len, &v, &meta);
        if (err == 0)
            put_entry_line(&it.e, &v, &meta);
        else if (err != KV_ENOTFOUND)
            break;
    }
    cli_iter_close(&it);
    free(v.buf);
    return err == KV_ENOTFOUND ? CLI_OK : cli_fail(c, err, NULL);
}

const cli_command_t cli_cmd_dump = {
    .name = "dump",
    .run = cmd_dump,
    .open = OPEN_READ,
    .min_args = 0, .max_args = 0,
    .synopsis = "STORE",
    .summary = "write every entry to standard output, as JSON lines",
    .details =
        "Writes the store as JSON lines.  The first line is a header:\n"
        "  {\"kv_dump\":2,\"slots\":N,\"key_max\":N,\"value_max\":N,\"cache\":false}\n"
        "(\"cache\" is true for a store made with 'create --cache'), then one line\n"
        "per entry, in slot order:\n"
        "  {\"key\":\"...\",\"value\":\"...\"}\n"
        "  {\"key\":\"...\",\"value\":\"...\",\"expires_ms\":1767225600000}\n"
        "the second form for an entry with a time to live: expires_ms is when it\n"
        "expires, in milliseconds since 1970-01-01 UTC (wall-clock time), so a\n"
        "load keeps its deadline however much later it runs.\n"
        "A key or value that is valid UTF-8 is a JSON string (with \", \\ and\n"
        "control characters escaped as \\\", \\\\ and \\u00XX); one that is not is\n"
        "written as \"key_b64\" or \"value_b64\" instead: standard base64, padded.\n"
        "'kvcli load' reads this back.\n",
};

/* ------------------------------------------------------------------------ */
/* load                                                                     */
/* ------------------------------------------------------------------------ */

/* Header members load does not know, noted while the line is parsed and
 * warned about once it has proved to be a header.  The names point into
 * the line. */
typedef struct unknown_fields {
    const unsigned char *name[UNKNOWN_NAMED];
    size_t len[UNKNOWN_NAMED];
    uint64_t count; /* all of them, named or not */
} unknown_fields_t;

/* State of one load: the input, its current line and the target. */
typedef struct load {
    cli_t *c;
    FILE *in;
    const char *input;  /* file name, or STDIN_NAME */
    cli_bytes_t line;
    uint64_t lineno;
    int dump_cache;     /* the header's "cache": 1, 0, or -1 if it has none */
    kv_t *kv;
    cli_load_counts_t counts;
} load_t;

/* Prints "kvcli: INPUT: line N: " on stderr. */
static void input_begin(const load_t *ld)
{
    fputs("kvcli: ", stderr);
    cli_put_escaped(stderr, ld->input, strlen(ld->input));
    fprintf(stderr, ": line %" PRIu64 ": ", ld->lineno);
}

/* Reports malformed input at the current line; returns CLI_USAGE. */
static int malformed(const load_t *ld, const char *what, const char *field)
{
    input_begin(ld);
    fprintf(stderr, "malformed dump: %s", what);
    if (field)
        fprintf(stderr, " (field \"%s\")", field);
    fputc('\n', stderr);
    return CLI_USAGE;
}

enum { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_NOMEM, LINE_IOERR };

/* Reads one line (without "\n" or "\r\n") of at most `limit` bytes. */
static int read_line(FILE *in, cli_bytes_t *ln, size_t limit)
{
    int ch;

    ln->len = 0;
    while ((ch = getc(in)) != EOF && ch != '\n') {
        void *p;
        if (ln->len >= limit)
            return LINE_TOO_LONG;
        if ((p = cli_grow(ln->buf, &ln->cap, ln->len + 1, limit)) == NULL)
            return LINE_NOMEM;
        ln->buf = p;
        ln->buf[ln->len++] = (unsigned char)ch;
    }
    if (ch == EOF && ferror(in))
        return LINE_IOERR;
    if (ch == EOF && ln->len == 0)
        return LINE_EOF;
    if (ln->len > 0 && ln->buf[ln->len - 1] == '\r')
        ln->len--;
    return LINE_OK;
}

/* Reads the next non-blank line.  Returns 0, or an exit code after
 * reporting the problem; *eof is set at the end of input. */
static int load_next_line(load_t *ld, size_t limit, int *eof)
{
    int st;

    *eof = 0;
    do {
        ld->lineno++;
        st = read_line(ld->in, &ld->line, limit);
        while (st == LINE_OK && ld->line.len && (ld->line.buf[ld->line.len - 1] == ' ' ||
                                                 ld->line.buf[ld->line.len - 1] == '\t'))
            ld->line.len--;
    } while (st == LINE_OK && ld->line.len == 0);
    switch (st) {
    case LINE_OK:       return 0;
    case LINE_EOF:      *eof = 1; return 0;
    case LINE_TOO_LONG: return malformed(ld, "line too long for this store", NULL);
    case LINE_NOMEM:    return cli_fail(ld->c, KV_ENOMEM, "reading %s", ld->input);
    default:
        input_begin(ld);
        fprintf(stderr, "read error: %s\n", strerror(errno));
        return CLI_STORE;
    }
}

/* cli_junknown_fn for the header: notes the member in the unknown_fields_t. */
static void note_unknown(void *ctx, const unsigned char *name, size_t len)
{
    unknown_fields_t *u = ctx;

    if (u->count < UNKNOWN_NAMED) {
        u->name[u->count] = name;
        u->len[u->count] = len;
    }
    u->count++;
}

/* Warns about each unknown header member, naming the first UNKNOWN_NAMED. */
static void warn_unknown(const load_t *ld, const unknown_fields_t *u)
{
    uint64_t i;

    for (i = 0; i < u->count && i < UNKNOWN_NAMED; i++) {
        input_begin(ld);
        fputs("warning: unknown header field \"", stderr);
        cli_put_escaped(stderr, u->name[i], u->len[i]);
        fputs("\" ignored (a newer kvcli's dump?)\n", stderr);
    }
    if (u->count > UNKNOWN_NAMED) {
        input_begin(ld);
        fprintf(stderr, "warning: %" PRIu64 " more unknown header fields ignored\n",
                u->count - UNKNOWN_NAMED);
    }
}

/* Checks the parsed header's version and geometry, filling the geometry of
 * *opts and ld->dump_cache.  Returns 0 or CLI_USAGE. */
static int check_header(load_t *ld, const cli_jfield_t *f, kv_options_t *opts)
{
    int g;

    if (!f[H_VERSION].seen)
        return malformed(ld, "not a kv dump header (no \"kv_dump\" field)", NULL);
    if (f[H_VERSION].num < DUMP_VERSION_OLDEST || f[H_VERSION].num > DUMP_VERSION)
        return malformed(ld, "unsupported dump version (this kvcli reads "
                         STR(DUMP_VERSION_OLDEST) " to " STR(DUMP_VERSION) ")", "kv_dump");
    for (g = 0; g < GEO_COUNT; g++) {
        const cli_jfield_t *v = &f[H_GEOMETRY + g];
        if (v->seen && (v->num < cli_geometry[g].lo || v->num > cli_geometry[g].hi))
            return malformed(ld, "value out of range", v->name);
        if (v->seen)
            cli_geometry_set(opts, g, v->num);
    }
    ld->dump_cache = f[H_CACHE].seen ? (int)f[H_CACHE].num : -1;
    return 0;
}

/* Reads and checks the header line, filling the geometry of *opts and
 * ld->dump_cache. */
static int load_header(load_t *ld, kv_options_t *opts)
{
    cli_jfield_t f[H_COUNT];
    unknown_fields_t unknown;
    cli_jcur_t j;
    int rc, eof, g;

    memset(f, 0, sizeof f);
    memset(&unknown, 0, sizeof unknown);
    f[H_VERSION].name = "kv_dump";
    for (g = 0; g < GEO_COUNT; g++)
        f[H_GEOMETRY + g].name = cli_geometry[g].json;
    f[H_CACHE].name = "cache";
    f[H_CACHE].type = CLI_JBOOL;
    if ((rc = load_next_line(ld, HEADER_LINE_MAX, &eof)) != 0)
        return rc;
    if (eof)
        return malformed(ld, "empty input, expected a {\"kv_dump\":" STR(DUMP_VERSION)
                         ",...} header", NULL);
    if (cli_jobject(&j, ld->line.buf, ld->line.len, f, H_COUNT, note_unknown, &unknown))
        return malformed(ld, j.err, j.field);
    if ((rc = check_header(ld, f, opts)) != 0)
        return rc;
    warn_unknown(ld, &unknown);
    return 0;
}

/* An existing store stays a cache or not, as it was created; warns when
 * the dump's store was the other kind.  Returns 0 or the exit code of a kv
 * error. */
static int check_cache_flag(const load_t *ld)
{
    kv_stats_t st;
    int err;

    if (ld->dump_cache < 0) /* a version 1 dump does not say */
        return CLI_OK;
    if ((err = kv_stats(ld->kv, &st)) != 0)
        return cli_fail(ld->c, err, NULL);
    if ((int)st.cache != ld->dump_cache)
        cli_warn(ld->c, "the dump is of a %s store, this one is a %s store and stays one "
                 "(a store is made a cache or not when it is created)",
                 ld->dump_cache ? "cache" : "plain", st.cache ? "cache" : "plain");
    return CLI_OK;
}

/* Opens the target, creating it with the dump's geometry and cache flag if
 * it does not exist; an existing store keeps its own. */
static int load_open(load_t *ld, const kv_options_t *opts)
{
    unsigned flags = KV_CREATE | KV_RDWR | (ld->dump_cache == 1 ? KV_CACHE : 0u);
    int err = cli_open_store(ld->c, flags, opts, &ld->kv);

    if (err)
        return cli_exit_for(err);
    return kv_created(ld->kv) ? CLI_OK : check_cache_flag(ld);
}

/* One entry line, parsed; key and val point into the line. */
typedef struct entry {
    unsigned char *key, *val;
    size_t klen, vlen;
    uint64_t expires_ms; /* 0: never expires */
} entry_t;

enum { E_KEY, E_KEY_B64, E_VALUE, E_VALUE_B64, E_EXPIRES, E_COUNT };

/* Parses the current line as an entry.  Returns 0 or CLI_USAGE. */
static int parse_entry(const load_t *ld, entry_t *e)
{
    cli_jfield_t f[E_COUNT] = {
        [E_KEY] = {"key", CLI_JSTRING, 0, NULL, 0, 0},
        [E_KEY_B64] = {"key_b64", CLI_JSTRING, 0, NULL, 0, 0},
        [E_VALUE] = {"value", CLI_JSTRING, 0, NULL, 0, 0},
        [E_VALUE_B64] = {"value_b64", CLI_JSTRING, 0, NULL, 0, 0},
        [E_EXPIRES] = {"expires_ms", CLI_JNUMBER, 0, NULL, 0, 0}};
    const char *why;
    cli_jcur_t j;

    /* Unknown members stay errors here: one could change what the entry is. */
    if (cli_jobject(&j, ld->line.buf, ld->line.len, f, E_COUNT, NULL, NULL))
        return malformed(ld, j.err, j.field);
    if ((why = cli_get_json_bytes(&f[E_KEY], &f[E_KEY_B64], &e->key, &e->klen)) != NULL)
        return malformed(ld, why, "key");
    if ((why = cli_get_json_bytes(&f[E_VALUE], &f[E_VALUE_B64], &e->val, &e->vlen)) != NULL)
        return malformed(ld, why, "value");
    /* 0 is kv_meta_t's "never"; a dump says that by leaving the field out. */
    if (f[E_EXPIRES].seen && f[E_EXPIRES].num == 0)
        return malformed(ld, "value out of range", "expires_ms");
    e->expires_ms = f[E_EXPIRES].num;
    return 0;
}

/* Puts a parsed entry, or counts it as expired when its deadline has
 * passed by this process's clock (kv's rule: expired from expires_ms on).
 * kv_put_ex takes a time to live, which it adds to its own reading of the
 * clock, taken just after ours: the deadline is kept to within the time
 * between the two (under a millisecond unless this process is descheduled
 * there), never earlier.  Returns 0 or an exit code. */
static int put_entry(load_t *ld, const entry_t *e)
{
    uint64_t now = cli_now_ms();
    kv_put_opts_t po;
    int err;

    if (e->expires_ms && e->expires_ms <= now) {
        ld->counts.expired++;
        return 0;
    }
    memset(&po, 0, sizeof po);
    po.ttl_ms = e->expires_ms ? e->expires_ms - now : 0;
    if (po.ttl_ms > KV_TTL_MAX_MS)
        return malformed(ld, "expiry further ahead than kv allows (KV_TTL_MAX_MS)",
                         "expires_ms");
    if ((err = kv_put_ex(ld->kv, e->key, e->klen, e->val, e->vlen, &po)) != 0)
        return cli_fail(ld->c, err, "line %" PRIu64 " of %s", ld->lineno, ld->input);
    ld->counts.loaded++;
    return 0;
}

/* Puts every entry line after the header. */
static int load_entries(load_t *ld)
{
    kv_info_t info;
    uint64_t limit;
    entry_t e;
    int rc, eof, err;

    if ((err = kv_info(ld->kv, &info)) != 0)
        return cli_fail(ld->c, err, NULL);
    /* Longest line an entry can need: every byte escaped as \u00XX (6x,
     * more than base64's 4/3), plus the member names and punctuation. */
    limit = 6u * ((uint64_t)info.key_max + info.val_max) + 256u;
    if (limit > SIZE_MAX / 2)
        limit = SIZE_MAX / 2;
    for (;;) {
        if ((rc = load_next_line(ld, (size_t)limit, &eof)) != 0 || eof)
            return rc;
        if ((rc = parse_entry(ld, &e)) != 0 || (rc = put_entry(ld, &e)) != 0)
            return rc;
    }
}

int cli_load(cli_t *c, FILE *in, const char *input, kv_t **kv, cli_load_counts_t *counts)
{
    load_t ld;
    kv_options_t opts = c->opts;
    int rc;

    memset(&ld, 0, sizeof ld);
    ld.c = c;
    ld.in = in;
    ld.input = input;
    rc = load_header(&ld, &opts);
    if (rc == 0)
        rc = load_open(&ld, &opts);
    if (rc == 0)
        rc = load_entries(&ld);
    free(ld.line.buf);
    *kv = ld.kv;
    *counts = ld.counts;
    return rc;
}

/* Prints load's summary line: how many entries went in, into what, and how
 * many were skipped because they had expired. */
static void print_load_summary(const cli_t *c, kv_t *kv, const cli_load_counts_t *n)
{
    printf("%s: loaded %" PRIu64 " entries into %s store", c->store, n->loaded,
           kv_created(kv) ? "a new" : "the existing");
    if (n->expired)
        printf(", skipped %" PRIu64 " that had expired", n->expired);
    fputc('\n', stdout);
}

static int cmd_load(cli_t *c, kv_t *unused)
{
    const char *path = c->nargs ? c->arg[0] : "-";
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    cli_load_counts_t counts;
    kv_t *kv;
    int rc;

    (void)unused;
    if (!in)
        return cli_usage_error(c->cmd, "%s: %s", path, strerror(errno));
    rc = cli_load(c, in, in == stdin ? STDIN_NAME : path, &kv, &counts);
    if (rc == 0)
        print_load_summary(c, kv, &counts);
    if (rc == 0 && c->hold)
        rc = cli_hold_open(c, kv);
    kv_close(kv);
    if (in != stdin)
        fclose(in);
    return rc;
}

const cli_command_t cli_cmd_load = {
    .name = "load",
    .run = cmd_load,
    .open = OPEN_NONE,
    .options = OPT_HOLD,
    .min_args = 0, .max_args = 1,
    .synopsis = "STORE [FILE|-] [--hold]",
    .summary = "put the entries of a dump read from FILE or standard input",
    .details =
        "Reads a dump (see 'kvcli dump --help') from FILE, or from standard input\n"
        "if FILE is '-' or absent, and puts every entry, replacing existing values;\n"
        "other keys of STORE stay.  If STORE does not exist it is created with the\n"
        "geometry and the cache flag in the dump's header (a plain store when the\n"
        "header has no \"cache\"); an existing store keeps its own, with a warning\n"
        "when its cache flag is not the dump's.  An entry keeps its expires_ms: its\n"
        "time to live is what is left until then, and an entry whose expires_ms\n"
        "has passed is not loaded; the summary line counts those ('skipped N that\n"
        "had expired').  Every entry gets a new version.  A header field this\n"
        "kvcli does not know is ignored, with a warning.  Both the JSON-string and\n"
        "the _b64 forms are accepted, as are blank lines, CRLF line ends and\n"
        "version 1 dumps (no cache flag, no expiry).  Entries are applied in order:\n"
        "a malformed line (exit 2, reported with its line number) or a store error\n"
        "(exit 3) stops the load, and the entries before it stay.\n"
        "  --hold   after a successful load, keep the store open as 'hold' does,\n"
        "           until interrupted: on Windows a new named store made by load\n"
        "           would otherwise vanish when load exits\n",
};
