/*
 * cli.h — kvcli's internal interfaces: the parsed command line, the command
 * descriptor, and what the files of tools/kvcli/ share.
 *
 * kvcli creates, reads, edits, inspects, checks, dumps and loads a kv store
 * from the shell.  Every subcommand is one cli_command_t (name, handler,
 * how the store is opened, the options it accepts, its usage text),
 * defined in the cmd_*.c file beside its handler; commands.c lists them in
 * one table, which drives dispatch, help and option acceptance.  The
 * arguments are parsed once against the command's descriptor (opt.c), the
 * store is opened as the descriptor says and the handler is called
 * (commands.c), so all subcommands share one option parser, one number
 * parser, one open helper (store.c) and one error printer (report.c).
 * Bytes cross into text through codec.h.  kvcli is plain C11 plus kv.h,
 * so it builds on Windows too, with two exceptions, each kept in one file:
 * the stop signals of watch and hold (cmd_watch.c) and the UTF-8 argv
 * (main.c).
 *
 *   main.c        main(): Windows' argv and stdio, then cli_main()
 *   commands.c    the command table, usage, dispatch, cli_main()
 *   opt.c         option specs, number parsing, the command line
 *   report.c      error messages and exit codes
 *   store.c       what the commands share: buffers, open, iteration, clock
 *   codec.c       escapes, UTF-8, JSON strings, base64 (no kv.h)
 *   cmd_data.c    create, put, get, del, incr, ttl, purge, list, destroy
 *   cmd_watch.c   watch, hold
 *   cmd_stats.c   stats, check
 *   cmd_dump.c    dump, load
 *
 * Everything but main.c is the static library kvcli_core, which fuzz_cli
 * links to call the parsers and commands directly.
 */
#ifndef KVCLI_CLI_H
#define KVCLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kv.h"
#include "codec.h"

#if defined(__GNUC__)
#  define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define PRINTF_LIKE(fmt, args)
#endif

/* Exit codes; cli_print_exit_codes() documents them for the user. */
enum {
    CLI_OK = 0,       /* success */
    CLI_NOTFOUND = 1, /* the key is not in the store */
    CLI_USAGE = 2,    /* bad arguments, unopenable FILE, malformed dump input */
    CLI_STORE = 3,    /* any other kv error, or an I/O error */
    CLI_CORRUPT = 4,  /* check found corruption */
    CLI_CONFLICT = 5, /* the entry's version is not the one --if-version gave */
    CLI_HELP = -1     /* internal: --help was given and its text printed */
};

/* ======================================================================== */
/* The command line and the command descriptor                              */
/* ======================================================================== */

/* Options, one bit each so a command can list the ones it accepts. */
enum {
    OPT_SLOTS = 1u << 0, OPT_KEY_MAX = 1u << 1, OPT_VALUE_MAX = 1u << 2,
    OPT_MODE = 1u << 3, OPT_EXCLUSIVE = 1u << 4, OPT_NX = 1u << 5,
    OPT_JSON = 1u << 6, OPT_TIMEOUT = 1u << 7, OPT_HELP = 1u << 8,
    OPT_CACHE = 1u << 9, OPT_TTL = 1u << 10, OPT_IF_VERSION = 1u << 11,
    OPT_PRINT_VERSION = 1u << 12, OPT_VERSION = 1u << 13, OPT_WATCH_FOR = 1u << 14,
    OPT_HOLD = 1u << 15, OPT_ANY_OWNER = 1u << 16, OPT_MEMORY = 1u << 17
};
#define OPT_GLOBAL (OPT_TIMEOUT | OPT_HELP | OPT_ANY_OWNER) /* before and after COMMAND */

typedef struct cli cli_t;
typedef int (*cli_handler_fn)(cli_t *c, kv_t *kv);
typedef int (*cli_check_fn)(cli_t *c);

/* How cli_run() opens the store before calling the handler. */
enum open_mode {
    OPEN_NONE,  /* the handler opens it (or never does) itself; kv is NULL */
    OPEN_READ,  /* read-only handle */
    OPEN_WRITE, /* KV_RDWR */
    OPEN_CREATE /* KV_CREATE | KV_RDWR, plus KV_EXCL with --exclusive */
};

typedef struct cli_command {
    const char *name;
    cli_handler_fn run;
    enum open_mode open;
    unsigned options;         /* OPT_* bits accepted besides OPT_GLOBAL */
    int min_args, max_args;   /* positional arguments after STORE */
    const char *synopsis;     /* what follows the command name */
    const char *summary;      /* one line for `kvcli --help` */
    const char *details;      /* the body of `kvcli COMMAND --help` */
    cli_check_fn check;       /* NULL, or checks the arguments further before the
                               * store is opened: 0 or CLI_USAGE */
} cli_command_t;

/* The parsed command line. */
struct cli {
    const cli_command_t *cmd;
    const char *store;
    const char *arg[2];   /* positional arguments after STORE */
    int nargs;
    int extra_args;       /* positional arguments beyond arg[] */
    kv_options_t opts;    /* geometry and mode for create; lock timeout */
    int json, nx, exclusive, cache;
    int hold;             /* load --hold */
    int any_owner;        /* --any-owner: KV_ANY_OWNER */
    int show_version;     /* get --version, put --print-version */
    uint64_t ttl_ms;      /* put --ttl; 0 = none */
    int has_if_version;   /* --if-version given (0 is a valid version: absent) */
    uint64_t if_version;
    int has_watch_for;    /* watch --timeout given */
    uint64_t watch_for_ms;
    int64_t delta;        /* incr's N */
};

/* Help text shared by every command that takes a DURATION. */
#define DURATION_HELP \
    "A DURATION is a whole number with a unit ms, s, m, h or d (500ms, 30s, 5m,\n" \
    "2h, 1d); a plain number is milliseconds.\n"

/* The commands, each defined in its cmd_*.c; commands.c lists them. */
extern const cli_command_t cli_cmd_create, cli_cmd_put, cli_cmd_get, cli_cmd_del,
    cli_cmd_incr, cli_cmd_ttl, cli_cmd_purge, cli_cmd_list, cli_cmd_destroy; /* cmd_data.c */
extern const cli_command_t cli_cmd_watch, cli_cmd_hold;                    /* cmd_watch.c */
extern const cli_command_t cli_cmd_stats, cli_cmd_check;                   /* cmd_stats.c */
extern const cli_command_t cli_cmd_dump, cli_cmd_load;                     /* cmd_dump.c */

/* ======================================================================== */
/* commands.c: the table and dispatch                                       */
/* ======================================================================== */

/* Returns the command called `name`, or NULL. */
const cli_command_t *cli_find_command(const char *name);

/* Prints the help for `cmd`, or the overview when cmd is NULL. */
void cli_print_usage(const cli_command_t *cmd);

/* Opens the store as the command's descriptor says and runs it.  Returns
 * the exit code. */
int cli_run(cli_t *c);

/* Parses the command line, runs the command and checks that standard
 * output was written: main() without the platform's part.  Returns the
 * exit code. */
int cli_main(int argc, char **argv);

/* ======================================================================== */
/* opt.c: numbers, options and the command line                             */
/* ======================================================================== */

/* The kinds of number cli_parse_number() reads. */
enum num_kind {
    NUM_PLAIN,   /* decimal */
    NUM_OCTAL,   /* octal (--mode) */
    NUM_SIZE,    /* decimal, optional suffix k, m, g (times 2^10, 2^20, 2^30) */
    NUM_DURATION /* decimal milliseconds, or with a unit ms, s, m, h, d */
};

/* Parses all of `s` as an unsigned number of the given kind: digits (octal
 * for NUM_OCTAL, else decimal), then for sizes and durations an optional
 * unit (k/m/g; ms/s/m/h/d).  Returns 0, or -1 for an empty string, any
 * other character, or overflow. */
int cli_parse_number(const char *s, enum num_kind kind, uint64_t *out);

/* Parses all of `s` as a decimal int64_t with an optional sign.  Returns 0
 * or -1. */
int cli_parse_int64(const char *s, int64_t *out);

/* Parses the whole command line into *c.  Returns 0, CLI_HELP (help was
 * printed) or CLI_USAGE (the error was reported). */
int cli_parse_args(cli_t *c, int argc, char **argv);

/* The three geometry fields of a store, shared by --slots/--key-max/
 * --value-max, the dump header and its validation on load. */
enum { GEO_MEMORY, GEO_SLOTS, GEO_KEY_MAX, GEO_VALUE_MAX, GEO_COUNT, GEO_NONE = -1 };
typedef struct cli_geometry_field {
    const char *json;  /* field name in the dump header */
    uint64_t lo, hi;   /* accepted range, from kv.h */
} cli_geometry_field_t;
extern const cli_geometry_field_t cli_geometry[GEO_COUNT];

/* Stores a geometry value in the options kv_open() takes. */
void cli_geometry_set(kv_options_t *o, int g, uint64_t v);

/* Reads a geometry value from a store's kv_info(). */
uint64_t cli_geometry_get(const kv_info_t *info, int g);

/* ======================================================================== */
/* report.c: errors and exit codes                                          */
/* ======================================================================== */

/* Prints the exit codes for the help texts. */
void cli_print_exit_codes(void);

/* Reports a usage error as "kvcli: <message>" plus a hint; returns
 * CLI_USAGE. */
PRINTF_LIKE(2, 3)
int cli_usage_error(const cli_command_t *cmd, const char *fmt, ...);

/* Returns the exit code for a kv error. */
int cli_exit_for(int err);

/* Reports a kv error on stderr as "kvcli: STORE: message[: context]" and
 * returns its exit code.  `fmt` may be NULL for no context. */
PRINTF_LIKE(3, 4)
int cli_fail(const cli_t *c, int err, const char *fmt, ...);

/* Like cli_fail(), with the (escaped) key as the context. */
int cli_fail_key(const cli_t *c, int err, const void *key, size_t n);

/* Prints "kvcli: STORE: warning: <message>" on stderr. */
PRINTF_LIKE(2, 3)
void cli_warn(const cli_t *c, const char *fmt, ...);

/* ======================================================================== */
/* store.c: what the commands share                                         */
/* ======================================================================== */

/* A growable byte buffer: a line being read, a value being got. */
typedef struct cli_bytes {
    unsigned char *buf;
    size_t len, cap;
} cli_bytes_t;

/* Grows a buffer to hold at least `need` bytes, doubling but never past
 * `max` (need <= max).  Returns the new buffer, or NULL (buf untouched). */
void *cli_grow(void *buf, size_t *cap, size_t need, size_t max);

/* Opens c->store with `flags` and `opts`, reporting any error as
 * "kvcli: STORE: message".  Returns 0 or the kv error. */
int cli_open_store(const cli_t *c, unsigned flags, const kv_options_t *opts, kv_t **kv);
/* cli_open_store's flags for a command that only reads: writable and
 * KV_OPTIMISTIC where the caller may write, else read-only. */
#define CLI_OPEN_READER 0u

/* An iteration over every entry, with buffers sized from the store.  With
 * no value buffer (e.val NULL) kv_next() copies keys only. */
typedef struct cli_iter {
    kv_t *kv;
    kv_info_t info; /* the store's geometry */
    uint64_t cursor;
    kv_entry_t e;
} cli_iter_t;

/* Reads the store's geometry with kv_info() (no lock, so a busy store is
 * first noticed by kv_next) and allocates a key_max key buffer and, when
 * `with_values`, a val_max value buffer.  Returns 0 or a kv error. */
int cli_iter_open(cli_iter_t *it, kv_t *kv, int with_values);

/* Reads the next entry.  Returns 0, KV_ENOTFOUND at the end, or an error. */
int cli_iter_next(cli_iter_t *it);

/* Frees the iteration's buffers. */
void cli_iter_close(cli_iter_t *it);

/* Reads the value of key[0..klen) into v (growing v->buf, which may start
 * NULL) and its version and expiry into *meta, all in one kv_get_ex().
 * Returns 0 or a kv error. */
int cli_read_value(kv_t *kv, const void *key, size_t klen, cli_bytes_t *v, kv_meta_t *meta);

/* Returns wall-clock milliseconds since the epoch. */
uint64_t cli_now_ms(void);

/* ======================================================================== */
/* Pieces of one command that another uses (and fuzz_cli)                   */
/* ======================================================================== */

/* cmd_watch.c: keeps the handle open until a stop signal or --timeout
 * (hold, load --hold).  Returns the exit code. */
int cli_hold_open(cli_t *c, kv_t *kv);

/* What cli_load() did with the dump's entries. */
typedef struct cli_load_counts {
    uint64_t loaded;  /* entries put */
    uint64_t expired; /* entries skipped: their expiry had passed */
} cli_load_counts_t;

/* cmd_dump.c: reads a dump from `in` (called `input` in messages) into
 * c->store, creating the store with the dump's geometry and cache flag if
 * it does not exist.  Returns the exit code; *kv is the handle to close
 * (NULL if the store was not opened), *counts what became of the entries
 * (also after a failure: those before it). */
int cli_load(cli_t *c, FILE *in, const char *input, kv_t **kv, cli_load_counts_t *counts);

#endif
