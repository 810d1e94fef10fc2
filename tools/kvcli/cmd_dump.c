/*
 * cmd_dump.c — dump and load.  The dump format is JSON lines (see the
 * `dump` help text) so that `dump | load` round-trips arbitrary bytes and
 * stays readable and greppable: a header with the store's geometry, then
 * one object per entry, its key and value as JSON strings or, when not
 * UTF-8, as base64 (codec.h).  load reads it back line by line, creating
 * the store with the header's geometry if it does not exist.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define DUMP_VERSION    1
#define HEADER_LINE_MAX 4096u /* longest dump header line load accepts */
#define STDIN_NAME      "<stdin>"

static int cmd_dump(cli_t *c, kv_t *kv)
{
    cli_iter_t it;
    int err, g;

    if ((err = cli_iter_open(&it, kv, 1)) != 0)
        return cli_fail(c, err, NULL);
    /* The first entry is read before the header is written, so a store whose
     * lock cannot be taken produces no output rather than a lone header. */
    err = cli_iter_next(&it);
    if (err == 0 || err == KV_ENOTFOUND) {
        printf("{\"kv_dump\":%d", DUMP_VERSION);
        for (g = 0; g < GEO_COUNT; g++)
            printf(",\"%s\":%" PRIu64, cli_geometry[g].json, cli_geometry_get(&it.info, g));
        fputs("}\n", stdout);
    }
    for (; err == 0; err = cli_iter_next(&it)) {
        fputc('{', stdout);
        cli_put_json_bytes(stdout, "key", it.e.key, it.e.key_len);
        fputc(',', stdout);
        cli_put_json_bytes(stdout, "value", it.e.val, it.e.val_len);
        fputs("}\n", stdout);
    }
    cli_iter_close(&it);
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
        "  {\"kv_dump\":1,\"slots\":N,\"key_max\":N,\"value_max\":N}\n"
        "then one line per entry, in slot order:\n"
        "  {\"key\":\"...\",\"value\":\"...\"}\n"
        "A key or value that is valid UTF-8 is a JSON string (with \", \\ and\n"
        "control characters escaped as \\\", \\\\ and \\u00XX); one that is not is\n"
        "written as \"key_b64\" or \"value_b64\" instead: standard base64, padded.\n"
        "'kvcli load' reads this back.\n",
};

/* ------------------------------------------------------------------------ */
/* load                                                                     */
/* ------------------------------------------------------------------------ */

/* State of one load: the input, its current line and the target. */
typedef struct load {
    cli_t *c;
    FILE *in;
    const char *input;  /* file name, or STDIN_NAME */
    cli_bytes_t line;
    uint64_t lineno;
    kv_t *kv;
    uint64_t loaded;
} load_t;

/* Reports malformed input at the current line; returns CLI_USAGE. */
static int malformed(const load_t *ld, const char *what, const char *field)
{
    fputs("kvcli: ", stderr);
    cli_put_escaped(stderr, ld->input, strlen(ld->input));
    fprintf(stderr, ": line %" PRIu64 ": malformed dump: %s", ld->lineno, what);
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
        fputs("kvcli: ", stderr);
        cli_put_escaped(stderr, ld->input, strlen(ld->input));
        fprintf(stderr, ": read error: %s\n", strerror(errno));
        return CLI_STORE;
    }
}

/* Reads and checks the header line, filling the geometry of *opts. */
static int load_header(load_t *ld, kv_options_t *opts)
{
    cli_jfield_t f[1 + GEO_COUNT];
    cli_jcur_t j;
    int rc, eof, g;

    memset(f, 0, sizeof f);
    f[0].name = "kv_dump";
    for (g = 0; g < GEO_COUNT; g++)
        f[1 + g].name = cli_geometry[g].json;
    if ((rc = load_next_line(ld, HEADER_LINE_MAX, &eof)) != 0)
        return rc;
    if (eof)
        return malformed(ld, "empty input, expected a {\"kv_dump\":1,...} header", NULL);
    if (cli_jobject(&j, ld->line.buf, ld->line.len, f, 1 + GEO_COUNT))
        return malformed(ld, j.err, j.field);
    if (!f[0].seen)
        return malformed(ld, "not a kv dump header (no \"kv_dump\" field)", NULL);
    if (f[0].num != DUMP_VERSION)
        return malformed(ld, "unsupported dump version", "kv_dump");
    for (g = 0; g < GEO_COUNT; g++) {
        cli_jfield_t *v = &f[1 + g];
        if (v->seen && (v->num < cli_geometry[g].lo || v->num > cli_geometry[g].hi))
            return malformed(ld, "value out of range", v->name);
        if (v->seen)
            cli_geometry_set(opts, g, v->num);
    }
    return 0;
}

/* Opens the target, creating it with the dump's geometry if it does not
 * exist; an existing store keeps its own geometry. */
static int load_open(load_t *ld, const kv_options_t *opts)
{
    return cli_exit_for(cli_open_store(ld->c, KV_CREATE | KV_RDWR, opts, &ld->kv));
}

/* Parses the current line as an entry and puts it. */
static int load_entry(load_t *ld)
{
    cli_jfield_t f[4] = {{"key", 1, 0, NULL, 0, 0}, {"key_b64", 1, 0, NULL, 0, 0},
                         {"value", 1, 0, NULL, 0, 0}, {"value_b64", 1, 0, NULL, 0, 0}};
    unsigned char *key, *val;
    size_t klen, vlen;
    const char *why;
    cli_jcur_t j;
    int err;

    if (cli_jobject(&j, ld->line.buf, ld->line.len, f, 4))
        return malformed(ld, j.err, j.field);
    if ((why = cli_get_json_bytes(&f[0], &f[1], &key, &klen)) != NULL)
        return malformed(ld, why, "key");
    if ((why = cli_get_json_bytes(&f[2], &f[3], &val, &vlen)) != NULL)
        return malformed(ld, why, "value");
    if ((err = kv_put(ld->kv, key, klen, val, vlen, 0)) != 0)
        return cli_fail(ld->c, err, "line %" PRIu64 " of %s", ld->lineno, ld->input);
    ld->loaded++;
    return 0;
}

/* Puts every entry line after the header. */
static int load_entries(load_t *ld)
{
    kv_info_t info;
    uint64_t limit;
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
        if ((rc = load_entry(ld)) != 0)
            return rc;
    }
}

int cli_load(cli_t *c, FILE *in, const char *input, kv_t **kv, uint64_t *loaded)
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
    *loaded = ld.loaded;
    return rc;
}

static int cmd_load(cli_t *c, kv_t *unused)
{
    const char *path = c->nargs ? c->arg[0] : "-";
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    kv_t *kv;
    uint64_t loaded;
    int rc;

    (void)unused;
    if (!in)
        return cli_usage_error(c->cmd, "%s: %s", path, strerror(errno));
    rc = cli_load(c, in, in == stdin ? STDIN_NAME : path, &kv, &loaded);
    if (rc == 0)
        printf("%s: loaded %" PRIu64 " entries into %s store\n", c->store, loaded,
               kv_created(kv) ? "a new" : "the existing");
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
        "geometry in the dump's header.  Both the JSON-string and the _b64 forms\n"
        "are accepted, as are blank lines and CRLF line ends.  Entries are applied\n"
        "in order: a malformed line (exit 2, reported with its line number) or a\n"
        "store error (exit 3) stops the load, and the entries before it stay.\n"
        "  --hold   after a successful load, keep the store open as 'hold' does,\n"
        "           until interrupted: on Windows a new named store made by load\n"
        "           would otherwise vanish when load exits\n",
};
