/*
 * kvcli.c — the kv command-line tool: create, read, edit, inspect, check,
 * dump and load a kv store from the shell.
 *
 * Every subcommand is one row of the `commands` table (name, handler, how the
 * store is opened, the options it accepts, its usage text).  main() parses
 * the arguments once against that row, opens the store as the row says and
 * calls the handler, so all subcommands share one option parser, one size
 * parser, one open helper and one error printer.  Bytes cross into text in
 * three ways, each written once: C-style \xNN escapes for people (list,
 * error messages), JSON strings for programs (list --json, stats --json,
 * dump), and base64 for dump fields that are not valid UTF-8.  The dump
 * format is JSON lines (see the `dump` help text) so that `dump | load`
 * round-trips arbitrary bytes and stays readable and greppable.  Numbers
 * given on the command line go through one parser, parse_number(), whose
 * kinds cover plain, octal, sizes (k/m/g) and durations (ms/s/m/h/d).
 *
 * kvcli is plain C11 plus kv.h, so it builds on Windows too, with two
 * exceptions: catch_stop_signals(), where on POSIX systems `watch` installs
 * its SIGINT/SIGTERM handler with sigaction() (SA_RESTART, so a signal never
 * fails a write to stdout), elsewhere with C's signal(); and utf8_argv(),
 * which on Windows rebuilds argv as UTF-8 from the UTF-16 command line
 * (the C runtime's argv is in the ANSI code page, and kv takes UTF-8).
 */
#if defined(__unix__) || defined(__APPLE__)
#  define _POSIX_C_SOURCE 200809L /* sigaction(); must precede every #include */
#  define KVCLI_SIGACTION 1
#endif
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#  include <fcntl.h>
#  include <io.h>
#  include <windows.h> /* utf8_argv */
#  include <shellapi.h>
#  ifndef TIME_UTC
#    include <sys/timeb.h> /* msvcrt has no timespec_get: _ftime64 instead */
#    define KVCLI_FTIME 1
#  endif
#endif

#include "kv.h"

#if defined(__GNUC__)
#  define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define PRINTF_LIKE(fmt, args)
#endif

/* ======================================================================== */
/* Types and tables                                                         */
/* ======================================================================== */

/* Exit codes; print_exit_codes() documents them for the user. */
enum {
    CLI_OK = 0,       /* success */
    CLI_NOTFOUND = 1, /* the key is not in the store */
    CLI_USAGE = 2,    /* bad arguments, unopenable FILE, malformed dump input */
    CLI_STORE = 3,    /* any other kv error, or an I/O error */
    CLI_CORRUPT = 4,  /* check found corruption */
    CLI_CONFLICT = 5, /* the entry's version is not the one --if-version gave */
    CLI_HELP = -1     /* internal: --help was given and its text printed */
};

#define DUMP_VERSION     1
#define HEADER_LINE_MAX  4096u   /* longest dump header line load accepts */
#define CHECK_REPORT_MAX 65536u  /* bytes of kv_check report shown */
#define GET_FIRST_CAP    4096u   /* get's first buffer: most values fit */
#define WATCH_SLICE_MS   200u    /* longest single wait of watch, so signals are seen */
#define DURATION_MAX     ((uint64_t)INT64_MAX) /* longest --ttl or watch --timeout, ms */
#define STDIN_NAME       "<stdin>"

/* Options, one bit each so a command can list the ones it accepts. */
enum {
    OPT_SLOTS = 1u << 0, OPT_KEY_MAX = 1u << 1, OPT_VALUE_MAX = 1u << 2,
    OPT_MODE = 1u << 3, OPT_EXCLUSIVE = 1u << 4, OPT_NX = 1u << 5,
    OPT_JSON = 1u << 6, OPT_TIMEOUT = 1u << 7, OPT_HELP = 1u << 8,
    OPT_CACHE = 1u << 9, OPT_TTL = 1u << 10, OPT_IF_VERSION = 1u << 11,
    OPT_PRINT_VERSION = 1u << 12, OPT_VERSION = 1u << 13, OPT_WATCH_FOR = 1u << 14,
    OPT_HOLD = 1u << 15
};
#define OPT_GLOBAL (OPT_TIMEOUT | OPT_HELP) /* accepted before and after COMMAND */

/* The three geometry fields of a store, shared by --slots/--key-max/
 * --value-max, the dump header and its validation on load. */
enum { GEO_SLOTS, GEO_KEY_MAX, GEO_VALUE_MAX, GEO_COUNT, GEO_NONE = -1 };
static const struct geometry_field {
    const char *json;  /* field name in the dump header */
    uint64_t lo, hi;   /* accepted range, from kv.h */
} geometry[GEO_COUNT] = {
    [GEO_SLOTS]     = {"slots", 1, KV_SLOTS_MAX},
    [GEO_KEY_MAX]   = {"key_max", 1, KV_KEY_MAX_LIMIT},
    [GEO_VALUE_MAX] = {"value_max", 0, KV_VAL_MAX_LIMIT},
};

/* The kinds of number parse_number() reads. */
enum num_kind {
    NUM_PLAIN,   /* decimal */
    NUM_OCTAL,   /* octal (--mode) */
    NUM_SIZE,    /* decimal, optional suffix k, m, g (times 2^10, 2^20, 2^30) */
    NUM_DURATION /* decimal milliseconds, or with a unit ms, s, m, h, d */
};

/* A name may appear twice when the two rows are never allowed together:
 * the first row the command accepts wins (watch's --timeout, given after
 * COMMAND, is the watch's length; before COMMAND it is the lock timeout). */
static const struct option_spec {
    const char *name;
    unsigned bit;
    int has_arg;
    int geo; /* GEO_* for a geometry option, else GEO_NONE */
} option_specs[] = {
    {"--slots", OPT_SLOTS, 1, GEO_SLOTS},
    {"--key-max", OPT_KEY_MAX, 1, GEO_KEY_MAX},
    {"--value-max", OPT_VALUE_MAX, 1, GEO_VALUE_MAX},
    {"--mode", OPT_MODE, 1, GEO_NONE},
    {"--exclusive", OPT_EXCLUSIVE, 0, GEO_NONE},
    {"--cache", OPT_CACHE, 0, GEO_NONE},
    {"--nx", OPT_NX, 0, GEO_NONE},
    {"--ttl", OPT_TTL, 1, GEO_NONE},
    {"--if-version", OPT_IF_VERSION, 1, GEO_NONE},
    {"--print-version", OPT_PRINT_VERSION, 0, GEO_NONE},
    {"--version", OPT_VERSION, 0, GEO_NONE},
    {"--json", OPT_JSON, 0, GEO_NONE},
    {"--hold", OPT_HOLD, 0, GEO_NONE},
    {"--timeout", OPT_WATCH_FOR, 1, GEO_NONE}, /* before the global --timeout */
    {"--timeout", OPT_TIMEOUT, 1, GEO_NONE},
    {"--help", OPT_HELP, 0, GEO_NONE},
    {"-h", OPT_HELP, 0, GEO_NONE},
};

typedef struct cli cli_t;
typedef int (*handler_fn)(cli_t *c, kv_t *kv);
typedef int (*check_fn)(cli_t *c);

/* How main() opens the store before calling the handler. */
enum open_mode {
    OPEN_NONE,  /* the handler opens it (or never does) itself; kv is NULL */
    OPEN_READ,  /* read-only handle */
    OPEN_WRITE, /* KV_RDWR */
    OPEN_CREATE /* KV_CREATE | KV_RDWR, plus KV_EXCL with --exclusive */
};

typedef struct command {
    const char *name;
    handler_fn run;
    enum open_mode open;
    unsigned options;         /* OPT_* bits accepted besides OPT_GLOBAL */
    int min_args, max_args;   /* positional arguments after STORE */
    const char *synopsis;     /* what follows the command name */
    const char *summary;      /* one line for `kvcli --help` */
    const char *details;      /* the body of `kvcli COMMAND --help` */
    check_fn check;           /* NULL, or checks the arguments further before the
                               * store is opened: 0 or CLI_USAGE */
} command_t;

/* The parsed command line. */
struct cli {
    const command_t *cmd;
    const char *store;
    const char *arg[2];   /* positional arguments after STORE */
    int nargs;
    int extra_args;       /* positional arguments beyond arg[] */
    kv_options_t opts;    /* geometry and mode for create; lock timeout */
    int json, nx, exclusive, cache;
    int hold;             /* load --hold */
    int show_version;     /* get --version, put --print-version */
    uint64_t ttl_ms;      /* put --ttl; 0 = none */
    int has_if_version;   /* --if-version given (0 is a valid version: absent) */
    uint64_t if_version;
    int has_watch_for;    /* watch --timeout given */
    uint64_t watch_for_ms;
    int64_t delta;        /* incr's N */
};

static int cmd_create(cli_t *c, kv_t *kv);
static int cmd_put(cli_t *c, kv_t *kv);
static int cmd_get(cli_t *c, kv_t *kv);
static int cmd_del(cli_t *c, kv_t *kv);
static int cmd_list(cli_t *c, kv_t *kv);
static int cmd_stats(cli_t *c, kv_t *kv);
static int cmd_dump(cli_t *c, kv_t *kv);
static int cmd_load(cli_t *c, kv_t *kv);
static int cmd_check(cli_t *c, kv_t *kv);
static int cmd_destroy(cli_t *c, kv_t *kv);
static int cmd_ttl(cli_t *c, kv_t *kv);
static int cmd_incr(cli_t *c, kv_t *kv);
static int cmd_purge(cli_t *c, kv_t *kv);
static int cmd_watch(cli_t *c, kv_t *kv);
static int cmd_hold(cli_t *c, kv_t *kv);
static int check_put(cli_t *c);
static int check_incr(cli_t *c);

/* Help text shared by every command that takes a DURATION. */
#define DURATION_HELP \
    "A DURATION is a whole number with a unit ms, s, m, h or d (500ms, 30s, 5m,\n" \
    "2h, 1d); a plain number is milliseconds.\n"

static const command_t commands[] = {
    {"create", cmd_create, OPEN_CREATE,
     OPT_SLOTS | OPT_KEY_MAX | OPT_VALUE_MAX | OPT_MODE | OPT_EXCLUSIVE | OPT_CACHE, 0, 0,
     "STORE [--slots N] [--key-max N] [--value-max N] [--mode OCTAL] [--exclusive] [--cache]",
     "create a store, or attach to an existing one; says which",
     "Creates STORE, or attaches to it if it exists, and prints which happened\n"
     "and the store's geometry.  Geometry options and --cache apply only when\n"
     "creating.\n"
     "  --slots N       slot count, rounded up to a power of two (default 1024)\n"
     "  --key-max N     largest key in bytes (default 64)\n"
     "  --value-max N   largest value in bytes (default 1024)\n"
     "  --mode OCTAL    permission bits of a new store (default 600)\n"
     "  --exclusive     fail (exit 3) if STORE already exists\n"
     "  --cache         make a cache: when the table is 7/8 full, inserting a new\n"
     "                  key evicts an expired or not recently read entry\n"
     "                  instead of failing ('stats' shows cache: yes)\n"
     "Sizes take an optional suffix k, m or g (times 1024, 1024^2, 1024^3).\n", NULL},
    {"put", cmd_put, OPEN_WRITE, OPT_NX | OPT_TTL | OPT_IF_VERSION | OPT_PRINT_VERSION, 2, 2,
     "STORE KEY VALUE|- [--ttl DURATION] [--if-version V] [--nx] [--print-version]",
     "store VALUE under KEY ('-' reads VALUE from standard input)",
     "Stores VALUE under KEY, replacing any old value (and its time to live).\n"
     "VALUE '-' reads the value from standard input, byte for byte (it may hold\n"
     "NUL bytes).  Prints nothing unless --print-version is given.\n"
     "  --ttl DURATION    the entry expires after DURATION (at least 1ms); without\n"
     "                    it the entry never expires\n"
     "  --if-version V    compare-and-swap: write only if KEY's version is V (as\n"
     "                    'get --version' prints it), or with V 0 only if KEY is\n"
     "                    absent; otherwise change nothing and exit 5\n"
     "  --nx              insert only: fail (exit 3) if KEY already exists (not\n"
     "                    with --if-version, whose 0 means the same)\n"
     "  --print-version   print the version this write gave KEY, as a decimal line\n"
     DURATION_HELP
     "Example, a safe read-modify-write:\n"
     "  V=$(kvcli get --version S K) && kvcli put S K new --if-version \"$V\"\n",
     check_put},
    {"get", cmd_get, OPEN_READ, OPT_VERSION, 1, 1,
     "STORE KEY [--version]",
     "print KEY's value (or its version)",
     "Writes the value's raw bytes to standard output, adding no newline.\n"
     "Exits 1 if KEY is not in the store (an expired entry is not).\n"
     "  --version   print only KEY's version instead, as a decimal number and a\n"
     "              newline: every write gives KEY a new, larger version; pass it\n"
     "              to 'put --if-version' or 'del --if-version'\n", NULL},
    {"del", cmd_del, OPEN_WRITE, OPT_IF_VERSION, 1, 1,
     "STORE KEY [--if-version V]",
     "remove KEY",
     "Removes KEY.  Exits 1 if KEY is not in the store.\n"
     "  --if-version V   remove KEY only if its version is V (as 'get --version'\n"
     "                   prints it); if KEY has another version change nothing\n"
     "                   and exit 5\n", NULL},
    {"incr", cmd_incr, OPEN_WRITE, 0, 1, 2,
     "STORE KEY [N]",
     "add N (default 1, may be negative) to the integer in KEY; print the result",
     "Adds N to the decimal integer stored under KEY and prints the new value.\n"
     "An absent KEY counts as 0; an existing one keeps its time to live.  N is\n"
     "an integer in the int64 range (default 1); a negative N needs no '--'.\n"
     "A value that is not an optional '-' and 1 to 19 digits, or a result\n"
     "outside the int64 range, is a store error (exit 3).\n",
     check_incr},
    {"ttl", cmd_ttl, OPEN_READ, 0, 1, 1,
     "STORE KEY",
     "print the milliseconds KEY has left to live (-1: never expires)",
     "Prints the time KEY has left before it expires, in milliseconds, or -1\n"
     "if it never expires.  Exits 1 if KEY is not in the store or has expired.\n", NULL},
    {"purge", cmd_purge, OPEN_WRITE, 0, 0, 0,
     "STORE",
     "delete every expired entry; print how many",
     "Deletes every expired entry in one pass over the table and prints how many\n"
     "it deleted.  (Expired entries already read as absent; purging frees their\n"
     "slots now rather than when an insert or a lookup meets them.)\n", NULL},
    {"list", cmd_list, OPEN_READ, OPT_JSON, 0, 1,
     "STORE [PREFIX] [--json]",
     "list the keys (only those starting with PREFIX, if given)",
     "Prints the keys one per line, in slot order (unsorted).  Bytes outside\n"
     "printable ASCII are written as \\xNN and a backslash as \\\\, so every key\n"
     "stays on one line (printf '%b' turns a line back into the key).\n"
     "  --json   print JSON lines instead: one object per key, {\"key\":\"...\"},\n"
     "           or {\"key_b64\":\"...\"} (base64) for a key that is not UTF-8\n", NULL},
    {"watch", cmd_watch, OPEN_READ, OPT_WATCH_FOR | OPT_JSON, 0, 1,
     "STORE [KEY] [--timeout DURATION] [--json]",
     "print KEY's value, then again each time it changes (or the store's changes)",
     "With KEY: prints KEY's value on one line (escaped as 'list' escapes keys),\n"
     "or '(absent)', then one such line each time KEY's version changes: it is\n"
     "written, deleted or expires.  Without KEY: prints 'generation N', the\n"
     "store's change counter, then one such line each time the store changes.\n"
     "Changes that come closer together than kvcli can read them may show as\n"
     "one line.  Standard output is flushed after every line.  Runs until\n"
     "interrupted (SIGINT or SIGTERM: exit 0) or until --timeout.\n"
     "  --timeout DURATION   stop after DURATION, with exit 0.  After 'watch',\n"
     "                       --timeout is this; to set the lock timeout, give\n"
     "                       --timeout before the command\n"
     "  --json   print JSON lines instead: {\"version\":N,\"value\":\"...\"} (or\n"
     "           \"value_b64\", or \"value\":null when absent), and without KEY\n"
     "           {\"generation\":N}\n"
     DURATION_HELP, NULL},
    {"hold", cmd_hold, OPEN_CREATE,
     OPT_SLOTS | OPT_KEY_MAX | OPT_VALUE_MAX | OPT_MODE | OPT_EXCLUSIVE | OPT_CACHE |
     OPT_WATCH_FOR, 0, 0,
     "STORE [create options] [--timeout DURATION]",
     "keep the store open (creating it if missing) until interrupted",
     "Opens STORE as 'create' does, creating it if it is missing (the options\n"
     "are create's), prints the line 'create' prints, and keeps the store open\n"
     "until interrupted (SIGINT or SIGTERM; Ctrl-C on Windows: exit 0) or until\n"
     "--timeout.  On Windows named memory lives only while some process has it\n"
     "open, so 'kvcli hold STORE' in the background keeps a store for the\n"
     "commands that follow; elsewhere named memory stays until 'destroy', and\n"
     "hold only waits.\n"
     "  --timeout DURATION   stop holding after DURATION, with exit 0.  After\n"
     "                       'hold', --timeout is this; before it, the lock timeout\n"
     DURATION_HELP, NULL},
    {"stats", cmd_stats, OPEN_READ, OPT_JSON, 0, 0,
     "STORE [--json]",
     "show the store's geometry, usage, counters and lock holder",
     "Prints every kv_stats field and who holds the lock: geometry, usage, probe\n"
     "lengths, counters (generation, recoveries, lock_timeouts, hits, misses,\n"
     "expirations, evictions) and whether the store is a cache.  If the lock cannot be\n"
     "taken within the timeout, prints what can be read without it (fields that\n"
     "need the lock show as unknown, or null in JSON), reports the lock as stuck\n"
     "and exits 3.\n"
     "  --json   print one JSON object, with the kv_stats field names plus\n"
     "           store, lock_stuck, holder_since (ISO 8601 UTC) and held_for_ms\n", NULL},
    {"dump", cmd_dump, OPEN_READ, 0, 0, 0,
     "STORE",
     "write every entry to standard output, as JSON lines",
     "Writes the store as JSON lines.  The first line is a header:\n"
     "  {\"kv_dump\":1,\"slots\":N,\"key_max\":N,\"value_max\":N}\n"
     "then one line per entry, in slot order:\n"
     "  {\"key\":\"...\",\"value\":\"...\"}\n"
     "A key or value that is valid UTF-8 is a JSON string (with \", \\ and\n"
     "control characters escaped as \\\", \\\\ and \\u00XX); one that is not is\n"
     "written as \"key_b64\" or \"value_b64\" instead: standard base64, padded.\n"
     "'kvcli load' reads this back.\n", NULL},
    {"load", cmd_load, OPEN_NONE, OPT_HOLD, 0, 1,
     "STORE [FILE|-] [--hold]",
     "put the entries of a dump read from FILE or standard input",
     "Reads a dump (see 'kvcli dump --help') from FILE, or from standard input\n"
     "if FILE is '-' or absent, and puts every entry, replacing existing values;\n"
     "other keys of STORE stay.  If STORE does not exist it is created with the\n"
     "geometry in the dump's header.  Both the JSON-string and the _b64 forms\n"
     "are accepted, as are blank lines and CRLF line ends.  Entries are applied\n"
     "in order: a malformed line (exit 2, reported with its line number) or a\n"
     "store error (exit 3) stops the load, and the entries before it stay.\n"
     "  --hold   after a successful load, keep the store open as 'hold' does,\n"
     "           until interrupted: on Windows a new named store made by load\n"
     "           would otherwise vanish when load exits\n", NULL},
    {"check", cmd_check, OPEN_NONE, 0, 0, 0,
     "STORE",
     "verify the store's header and every slot",
     "Checks the header and every slot and prints one line per problem, or\n"
     "'STORE: ok'.  Exits 4 if the store is corrupt, including when its header\n"
     "is too damaged to open it.\n", NULL},
    {"destroy", cmd_destroy, OPEN_NONE, 0, 0, 0,
     "STORE",
     "remove the store",
     "Removes the store's name.  Processes that have it open keep using it until\n"
     "they close it; the next 'create' makes a new, empty store.\n", NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* ======================================================================== */
/* Usage and error reporting                                                */
/* ======================================================================== */

static void print_exit_codes(void)
{
    fputs("Exit status:\n"
          "  0  success\n"
          "  1  key not found (get, del, ttl)\n"
          "  2  usage error: bad arguments, a FILE that cannot be opened,\n"
          "     malformed dump input\n"
          "  3  store error: any other kv error, or an I/O error\n"
          "  4  check found corruption\n"
          "  5  version conflict: --if-version did not match (put, del)\n"
          "Errors go to standard error as 'kvcli: STORE: message'.\n", stdout);
}

/* Prints the help for `cmd`, or the overview when cmd is NULL. */
static void print_usage(const command_t *cmd)
{
    size_t i;

    if (cmd) {
        printf("Usage: kvcli [--timeout MS] %s %s\n\n%s\n", cmd->name, cmd->synopsis,
               cmd->details);
        print_exit_codes();
        return;
    }
    fputs("Usage: kvcli [global options] COMMAND STORE [ARGS...]\n\n"
          "Reads and edits a kv store: a key-value table in shared memory.\n"
          "STORE is a plain name ([A-Za-z0-9._-], named shared memory) or a path\n"
          "containing '/' (a store kept in that file).\n\nCommands:\n", stdout);
    for (i = 0; i < NCOMMANDS; i++)
        printf("  %s %s\n      %s\n", commands[i].name, commands[i].synopsis,
               commands[i].summary);
    fputs("\nGlobal options (also accepted after COMMAND):\n"
          "  --timeout MS   wait at most MS milliseconds for the store's lock\n"
          "                 (default 5000; 0 = fail at once if it is busy); a\n"
          "                 DURATION such as 2s is accepted too\n"
          "  -h, --help     show this help; 'kvcli COMMAND --help' for one command\n"
          "  --             end of options, for a KEY or VALUE starting with '-'\n"
          "                 (not needed for a negative number such as -5)\n\n",
          stdout);
    print_exit_codes();
}

/* Reports a usage error as "kvcli: <message>" plus a hint; returns
 * CLI_USAGE. */
PRINTF_LIKE(2, 3)
static int usage_error(const command_t *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("kvcli: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'kvcli %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
    return CLI_USAGE;
}

/* Returns the exit code for a kv error. */
static int exit_for(int err)
{
    switch (err) {
    case 0:            return CLI_OK;
    case KV_ENOTFOUND: return CLI_NOTFOUND;
    case KV_ECONFLICT: return CLI_CONFLICT;
    default:           return CLI_STORE;
    }
}

/* Writes bytes for a human: printable ASCII as is, '\\' as "\\\\", anything
 * else as \xNN, so the text stays on one line and maps back to the bytes. */
static void put_escaped(FILE *f, const void *data, size_t n)
{
    const unsigned char *s = data;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\\')
            fputs("\\\\", f);
        else if (s[i] >= 0x20 && s[i] < 0x7f)
            fputc(s[i], f);
        else
            fprintf(f, "\\x%02x", s[i]);
    }
}

/* Prints "kvcli: STORE: <kv_strerror(err)>", without the newline. */
static void fail_begin(const cli_t *c, int err)
{
    fputs("kvcli: ", stderr);
    put_escaped(stderr, c->store, strlen(c->store));
    fprintf(stderr, ": %s", kv_strerror(err));
}

/* Reports a kv error on stderr as "kvcli: STORE: message[: context]" and
 * returns its exit code.  `fmt` may be NULL for no context. */
PRINTF_LIKE(3, 4)
static int fail(const cli_t *c, int err, const char *fmt, ...)
{
    va_list ap;

    fail_begin(c, err);
    if (fmt) {
        fputs(": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    return exit_for(err);
}

/* Like fail(), with the (escaped) key as the context. */
static int fail_key(const cli_t *c, int err, const void *key, size_t n)
{
    fail_begin(c, err);
    fputs(n ? ": " : ": empty key", stderr);
    put_escaped(stderr, key, n);
    fputc('\n', stderr);
    return exit_for(err);
}

/* ======================================================================== */
/* Argument parsing                                                         */
/* ======================================================================== */

/* Units a number of kind NUM_SIZE or NUM_DURATION may end with, and what
 * each multiplies by.  A number of another kind takes none. */
static const struct unit {
    enum num_kind kind;
    const char *name;
    uint64_t times;
} units[] = {
    {NUM_SIZE, "k", 1u << 10}, {NUM_SIZE, "K", 1u << 10},
    {NUM_SIZE, "m", 1u << 20}, {NUM_SIZE, "M", 1u << 20},
    {NUM_SIZE, "g", 1u << 30}, {NUM_SIZE, "G", 1u << 30},
    {NUM_DURATION, "ms", 1}, {NUM_DURATION, "s", 1000}, {NUM_DURATION, "m", 60000},
    {NUM_DURATION, "h", 3600000}, {NUM_DURATION, "d", 86400000},
};

/* Parses all of `s` as an unsigned number of the given kind: digits (octal
 * for NUM_OCTAL, else decimal), then for sizes and durations an optional
 * unit from `units`.  Returns 0, or -1 for an empty string, any other
 * character, or overflow. */
static int parse_number(const char *s, enum num_kind kind, uint64_t *out)
{
    unsigned base = kind == NUM_OCTAL ? 8 : 10;
    const char *p = s;
    uint64_t v = 0, times = 1;
    size_t k;

    for (; *p >= '0' && *p < (char)('0' + base); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / base)
            return -1;
        v = v * base + d;
    }
    if (p == s)
        return -1;
    if (*p) {
        const struct unit *u = NULL;
        for (k = 0; k < sizeof units / sizeof units[0] && !u; k++)
            if (units[k].kind == kind && strcmp(p, units[k].name) == 0)
                u = &units[k];
        if (!u)
            return -1;
        times = u->times;
    }
    if (v > UINT64_MAX / times)
        return -1;
    *out = v * times;
    return 0;
}

/* Parses all of `s` as a decimal int64_t with an optional sign.  Returns 0
 * or -1. */
static int parse_int64(const char *s, int64_t *out)
{
    int neg = *s == '-';
    uint64_t v;

    if (*s == '-' || *s == '+')
        s++;
    if (parse_number(s, NUM_PLAIN, &v) != 0 || v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return -1;
    /* -(v - 1) - 1 reaches INT64_MIN without overflowing. */
    *out = neg ? (v ? -(int64_t)(v - 1) - 1 : 0) : (int64_t)v;
    return 0;
}

/* Parses an option's value of the given kind into *out within [lo, hi],
 * reporting a usage error (and returning CLI_USAGE) if it is not one. */
static int option_number(const cli_t *c, const char *name, const char *val,
                         enum num_kind kind, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char range[64] = "";

    if (parse_number(val, kind, out) == 0 && *out >= lo && *out <= hi)
        return 0;
    switch (kind) {
    case NUM_OCTAL:
        return usage_error(c->cmd, "bad value '%s' for %s (expected octal %" PRIo64
                           "..%" PRIo64 ")", val, name, lo, hi);
    case NUM_DURATION:
        if (hi < DURATION_MAX)
            snprintf(range, sizeof range, ", %" PRIu64 "..%" PRIu64 " ms", lo, hi);
        else if (lo > 0)
            snprintf(range, sizeof range, ", at least %" PRIu64 " ms", lo);
        return usage_error(c->cmd, "bad value '%s' for %s (expected a duration such as "
                           "500ms, 30s, 5m, 2h or 1d, a plain number being ms%s)",
                           val, name, range);
    default:
        return usage_error(c->cmd, "bad value '%s' for %s (expected %" PRIu64 "..%" PRIu64
                           "%s)", val, name, lo, hi,
                           kind == NUM_SIZE ? ", suffix k, m or g allowed" : "");
    }
}

/* Stores a geometry value in the options kv_open() takes. */
static void geometry_set(kv_options_t *o, int g, uint64_t v)
{
    if (g == GEO_SLOTS)
        o->slots = v;
    else if (g == GEO_KEY_MAX)
        o->key_max = (uint32_t)v;
    else
        o->val_max = (uint32_t)v;
}

/* Reads a geometry value from a store's kv_info(). */
static uint64_t geometry_get(const kv_info_t *info, int g)
{
    if (g == GEO_SLOTS)
        return info->slots;
    return g == GEO_KEY_MAX ? info->key_max : info->val_max;
}

/* Applies one parsed option.  Returns 0, CLI_HELP or CLI_USAGE. */
static int apply_option(cli_t *c, const struct option_spec *o, const char *val)
{
    uint64_t v = 0; /* set by option_number on success; gcc -O3 cannot tell */
    int rc;

    switch (o->bit) {
    case OPT_HELP:          return CLI_HELP;
    case OPT_EXCLUSIVE:     c->exclusive = 1; return 0;
    case OPT_CACHE:         c->cache = 1; return 0;
    case OPT_NX:            c->nx = 1; return 0;
    case OPT_JSON:          c->json = 1; return 0;
    case OPT_HOLD:          c->hold = 1; return 0;
    case OPT_VERSION:
    case OPT_PRINT_VERSION: c->show_version = 1; return 0;
    case OPT_MODE:
        if ((rc = option_number(c, o->name, val, NUM_OCTAL, 0, 0777, &v)) == 0)
            c->opts.mode = (uint32_t)v;
        return rc;
    case OPT_TIMEOUT:
        if ((rc = option_number(c, o->name, val, NUM_DURATION, 0, UINT32_MAX, &v)) == 0)
            c->opts.lock_timeout_ms = (uint32_t)v;
        return rc;
    case OPT_TTL:
        return option_number(c, o->name, val, NUM_DURATION, 1, DURATION_MAX, &c->ttl_ms);
    case OPT_WATCH_FOR:
        c->has_watch_for = 1;
        return option_number(c, o->name, val, NUM_DURATION, 0, DURATION_MAX,
                             &c->watch_for_ms);
    case OPT_IF_VERSION:
        c->has_if_version = 1;
        return option_number(c, o->name, val, NUM_PLAIN, 0, UINT64_MAX, &c->if_version);
    default:
        rc = option_number(c, o->name, val, NUM_SIZE, geometry[o->geo].lo,
                           geometry[o->geo].hi, &v);
        if (rc == 0)
            geometry_set(&c->opts, o->geo, v);
        return rc;
    }
}

/* Parses the option at argv[*i] ("--name", "--name=value" or "--name
 * value"), advancing *i past a separate value.  Returns 0, CLI_HELP or
 * CLI_USAGE. */
static int parse_option(cli_t *c, unsigned allowed, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *eq = strchr(arg, '='), *val = NULL;
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg), k;
    const struct option_spec *o = NULL;

    /* The first row of that name the command accepts, else any (for the error). */
    for (k = 0; k < sizeof option_specs / sizeof option_specs[0]; k++)
        if (strlen(option_specs[k].name) == n && memcmp(option_specs[k].name, arg, n) == 0 &&
            (!o || !(o->bit & allowed)))
            o = &option_specs[k];
    if (!o)
        return usage_error(c->cmd, "unknown option '%s'%s", arg, c->cmd ? " (put '--' "
                           "before a KEY or VALUE that starts with '-')" : "");
    if (!(o->bit & allowed))
        return usage_error(c->cmd, "option %s does not apply to %s", o->name,
                           c->cmd ? c->cmd->name : "kvcli before the COMMAND");
    if (o->has_arg && eq)
        val = eq + 1;
    else if (o->has_arg && *i + 1 < argc)
        val = argv[++*i];
    else if (o->has_arg)
        return usage_error(c->cmd, "option %s needs a value", o->name);
    else if (eq)
        return usage_error(c->cmd, "option %s takes no value", o->name);
    return apply_option(c, o, val);
}

/* True for an argument that looks like an option: "-" alone is stdin, and
 * "-" and a digit is a negative number (incr's N, a VALUE). */
static int is_option(const char *s)
{
    return s[0] == '-' && s[1] != '\0' && !(s[1] >= '0' && s[1] <= '9');
}

/* Records a positional argument: STORE first, then the command's. */
static void add_positional(cli_t *c, const char *arg)
{
    if (!c->store)
        c->store = arg;
    else if (c->nargs < (int)(sizeof c->arg / sizeof c->arg[0]))
        c->arg[c->nargs++] = arg;
    else
        c->extra_args++;
}

/* Parses what follows COMMAND; options and arguments may mix, "--" ends
 * options.  Returns 0, CLI_HELP or CLI_USAGE. */
static int parse_command_args(cli_t *c, int argc, char **argv, int i)
{
    int rc, options_done = 0;

    for (; i < argc; i++) {
        if (!options_done && strcmp(argv[i], "--") == 0)
            options_done = 1;
        else if (!options_done && is_option(argv[i])) {
            if ((rc = parse_option(c, c->cmd->options | OPT_GLOBAL, argc, argv, &i)) != 0)
                return rc;
        } else
            add_positional(c, argv[i]);
    }
    if (!c->store || c->nargs < c->cmd->min_args)
        return usage_error(c->cmd, "missing arguments: kvcli %s %s", c->cmd->name,
                           c->cmd->synopsis);
    if (c->extra_args || c->nargs > c->cmd->max_args)
        return usage_error(c->cmd, "too many arguments: kvcli %s %s", c->cmd->name,
                           c->cmd->synopsis);
    return 0;
}

static int check_put(cli_t *c)
{
    if (c->nx && c->has_if_version)
        return usage_error(c->cmd, "--nx and --if-version exclude each other "
                           "(--if-version 0 is insert-only)");
    return 0;
}

/* Parses incr's N (default 1) into c->delta. */
static int check_incr(cli_t *c)
{
    c->delta = 1;
    if (c->nargs > 1 && parse_int64(c->arg[1], &c->delta) != 0)
        return usage_error(c->cmd, "bad increment '%s' (expected an integer from %" PRId64
                           " to %" PRId64 ")", c->arg[1], INT64_MIN, INT64_MAX);
    return 0;
}

/* Parses the whole command line into *c.  Returns 0, CLI_HELP (help was
 * printed) or CLI_USAGE (the error was reported). */
static int parse_args(cli_t *c, int argc, char **argv)
{
    int i = 1, rc = 0;
    size_t k;

    memset(c, 0, sizeof *c);
    kv_options_init(&c->opts);
    for (; rc == 0 && i < argc && is_option(argv[i]); i++)
        rc = parse_option(c, OPT_GLOBAL, argc, argv, &i);
    if (rc == 0 && i >= argc)
        return usage_error(NULL, "missing COMMAND");
    for (k = 0; rc == 0 && k < NCOMMANDS; k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            c->cmd = &commands[k];
    if (rc == 0 && !c->cmd)
        return usage_error(NULL, "unknown command '%s'", argv[i]);
    if (rc == 0)
        rc = parse_command_args(c, argc, argv, i + 1);
    if (rc == 0 && c->cmd->check)
        rc = c->cmd->check(c);
    if (rc == CLI_HELP)
        print_usage(c->cmd);
    return rc;
}

/* ======================================================================== */
/* Output encodings: UTF-8 check, JSON strings, base64                      */
/* ======================================================================== */

/* Returns 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF), else 0. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char b = s[i];
        size_t len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2
                   : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
        size_t k;
        if (len == 0 || n - i < len)
            return 0;
        for (k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        /* The second byte's range rules out overlongs, surrogates, > U+10FFFF. */
        if ((b == 0xe0 && s[i + 1] < 0xa0) || (b == 0xed && s[i + 1] > 0x9f) ||
            (b == 0xf0 && s[i + 1] < 0x90) || (b == 0xf4 && s[i + 1] > 0x8f))
            return 0;
        i += len;
    }
    return 1;
}

/* Writes valid UTF-8 bytes as a JSON string: '"' and '\\' are escaped, and
 * control characters (and DEL) as \u00XX. */
static void put_json_string(FILE *f, const unsigned char *s, size_t n)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            fprintf(f, "\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] == 0x7f)
            fprintf(f, "\\u%04x", s[i]);
        else
            fputc(s[i], f);
    }
    fputc('"', f);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes s[0..n) as a quoted, padded base64 string. */
static void put_base64(FILE *f, const unsigned char *s, size_t n)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < n; i += 3) {
        uint32_t bits = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            bits |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            bits |= s[i + 2];
        fputc(b64_alphabet[bits >> 18], f);
        fputc(b64_alphabet[bits >> 12 & 63], f);
        fputc(i + 1 < n ? b64_alphabet[bits >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? b64_alphabet[bits & 63] : '=', f);
    }
    fputc('"', f);
}

/* Writes one JSON member for a byte string: "name":"<json string>" when the
 * bytes are valid UTF-8, else "name_b64":"<base64>". */
static void put_json_bytes(FILE *f, const char *name, const void *data, size_t n)
{
    if (utf8_valid(data, n)) {
        fprintf(f, "\"%s\":", name);
        put_json_string(f, data, n);
    } else {
        fprintf(f, "\"%s_b64\":", name);
        put_base64(f, data, n);
    }
}

/* ======================================================================== */
/* Input: lines, a small JSON object parser, base64                          */
/* ======================================================================== */

/* Grows a buffer to hold at least `need` bytes, doubling but never past
 * `max` (need <= max).  Returns the new buffer, or NULL (buf untouched). */
static void *grow(void *buf, size_t *cap, size_t need, size_t max)
{
    size_t n = *cap > max / 2 ? max : *cap * 2;
    void *p;

    if (need <= *cap)
        return buf;
    if (n < need)
        n = need;
    if (n < 256 && max >= 256)
        n = 256;
    if ((p = realloc(buf, n ? n : 1)) != NULL)
        *cap = n;
    return p;
}

/* A growable byte buffer: a line being read, a value being got. */
typedef struct bytes {
    unsigned char *buf;
    size_t len, cap;
} bytes_t;

enum { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_NOMEM, LINE_IOERR };

/* Reads one line (without "\n" or "\r\n") of at most `limit` bytes. */
static int read_line(FILE *in, bytes_t *ln, size_t limit)
{
    int ch;

    ln->len = 0;
    while ((ch = getc(in)) != EOF && ch != '\n') {
        void *p;
        if (ln->len >= limit)
            return LINE_TOO_LONG;
        if ((p = grow(ln->buf, &ln->cap, ln->len + 1, limit)) == NULL)
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

/* Reads all of `in` into a new buffer, failing with KV_ETOOBIG past
 * `limit` bytes.  Returns 0, KV_ETOOBIG, KV_ENOMEM or KV_EIO. */
static int read_all(FILE *in, size_t limit, unsigned char **out, size_t *len)
{
    unsigned char *buf = NULL, *p;
    size_t cap = 0, n = 0, got;

    do {
        if (n > limit) {
            free(buf);
            return KV_ETOOBIG;
        }
        if ((p = grow(buf, &cap, n + 1, limit + 1)) == NULL) {
            free(buf);
            return KV_ENOMEM;
        }
        buf = p;
        got = fread(buf + n, 1, cap - n, in);
        n += got;
    } while (got > 0);
    if (ferror(in)) {
        free(buf);
        return KV_EIO;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* One member the JSON object parser accepts: a string or an unsigned
 * integer.  Strings are decoded in place inside the parsed line, which
 * works because a JSON string never decodes to more bytes than it spans. */
typedef struct jfield {
    const char *name;
    int is_string;
    int seen;
    unsigned char *str;
    size_t len;
    uint64_t num;
} jfield_t;

/* Parser state: a cursor over one line and the first error met. */
typedef struct jcur {
    unsigned char *p, *end;
    const char *err;         /* what went wrong, or NULL */
    const char *field;       /* the member being parsed when it did */
} jcur_t;

static int jfail(jcur_t *j, const char *err)
{
    if (!j->err)
        j->err = err;
    return -1;
}

static void jskip_ws(jcur_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t'))
        j->p++;
}

/* Consumes `ch` (after blanks) or fails with `err`. */
static int jexpect(jcur_t *j, unsigned char ch, const char *err)
{
    jskip_ws(j);
    if (j->p >= j->end || *j->p != ch)
        return jfail(j, err);
    j->p++;
    return 0;
}

/* Reads the four hex digits of a \u escape. */
static int jhex4(jcur_t *j, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (j->end - j->p < 4)
        return jfail(j, "truncated \\u escape");
    for (i = 0; i < 4; i++, j->p++) {
        unsigned ch = *j->p;
        if (ch >= '0' && ch <= '9')
            v = v << 4 | (ch - '0');
        else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
            v = v << 4 | ((ch | 0x20) - 'a' + 10);
        else
            return jfail(j, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

/* Reads a \u escape (the "\u" already consumed), joining a surrogate pair
 * into one code point. */
static int junicode(jcur_t *j, unsigned *cp)
{
    unsigned lo;

    if (jhex4(j, cp))
        return -1;
    if (*cp >= 0xdc00 && *cp <= 0xdfff)
        return jfail(j, "unpaired low surrogate in \\u escape");
    if (*cp < 0xd800 || *cp > 0xdbff)
        return 0;
    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
        return jfail(j, "unpaired high surrogate in \\u escape");
    j->p += 2;
    if (jhex4(j, &lo))
        return -1;
    if (lo < 0xdc00 || lo > 0xdfff)
        return jfail(j, "unpaired high surrogate in \\u escape");
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    return 0;
}

/* Writes code point cp as UTF-8 at *w and advances *w. */
static void utf8_put(unsigned char **w, unsigned cp)
{
    unsigned char *o = *w;

    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xc0 | cp >> 6);
        *o++ = (unsigned char)(0x80 | (cp & 63));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xe0 | cp >> 12);
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 63));
        *o++ = (unsigned char)(0x80 | (cp & 63));
    } else {
        *o++ = (unsigned char)(0xf0 | cp >> 18);
        *o++ = (unsigned char)(0x80 | (cp >> 12 & 63));
        *o++ = (unsigned char)(0x80 | (cp >> 6 & 63));
        *o++ = (unsigned char)(0x80 | (cp & 63));
    }
    *w = o;
}

/* Decodes the escape after a backslash, writing its bytes at *w. */
static int jescape(jcur_t *j, unsigned char **w)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e;
    unsigned cp;

    if (j->p >= j->end)
        return jfail(j, "unterminated string");
    if (*j->p == 'u') {
        j->p++;
        if (junicode(j, &cp))
            return -1;
        utf8_put(w, cp);
        return 0;
    }
    if (*j->p == 0 || (e = strchr(from, *j->p)) == NULL)
        return jfail(j, "bad escape in string");
    *(*w)++ = (unsigned char)to[e - from];
    j->p++;
    return 0;
}

/* Parses a JSON string, decoding it in place; *out and *len give the bytes. */
static int jstring(jcur_t *j, unsigned char **out, size_t *len)
{
    unsigned char *w;

    if (jexpect(j, '"', "expected a string"))
        return -1;
    for (w = *out = j->p;;) {
        unsigned char ch;
        if (j->p >= j->end)
            return jfail(j, "unterminated string");
        ch = *j->p++;
        if (ch == '"')
            break;
        if (ch < 0x20)
            return jfail(j, "control character in string (use \\u00XX)");
        if (ch != '\\')
            *w++ = ch;
        else if (jescape(j, &w))
            return -1;
    }
    *len = (size_t)(w - *out);
    return 0;
}

/* Parses an unsigned decimal integer. */
static int jnumber(jcur_t *j, uint64_t *out)
{
    uint64_t v = 0;
    unsigned char *start;

    jskip_ws(j);
    for (start = j->p; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) {
        unsigned d = (unsigned)(*j->p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return jfail(j, "number too large");
        v = v * 10 + d;
    }
    if (j->p == start)
        return jfail(j, "expected an unsigned integer");
    *out = v;
    return 0;
}

/* Parses one "name": value member into the matching field. */
static int jmember(jcur_t *j, jfield_t *fields, size_t nfields)
{
    unsigned char *name;
    size_t len, k;
    jfield_t *f = NULL;

    if (jstring(j, &name, &len))
        return -1;
    for (k = 0; k < nfields && !f; k++)
        if (strlen(fields[k].name) == len && memcmp(fields[k].name, name, len) == 0)
            f = &fields[k];
    if (!f)
        return jfail(j, "unknown field");
    j->field = f->name;
    if (f->seen)
        return jfail(j, "duplicate field");
    f->seen = 1;
    if (jexpect(j, ':', "expected ':'"))
        return -1;
    if (f->is_string)
        return jstring(j, &f->str, &f->len);
    return jnumber(j, &f->num);
}

/* Parses s[0..n) as one JSON object whose members are among `fields`; the
 * line must hold nothing else.  Returns 0, or -1 with j->err set. */
static int jobject(jcur_t *j, unsigned char *s, size_t n, jfield_t *fields, size_t nfields)
{
    j->p = s;
    j->end = s + n;
    j->err = j->field = NULL;
    if (jexpect(j, '{', "expected '{'"))
        return -1;
    jskip_ws(j);
    if (j->p < j->end && *j->p == '}')
        j->p++;
    else
        for (;;) {
            if (jmember(j, fields, nfields))
                return -1;
            j->field = NULL;
            jskip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (jexpect(j, '}', "expected ',' or '}'"))
                return -1;
            break;
        }
    jskip_ws(j);
    return j->p == j->end ? 0 : jfail(j, "unexpected text after '}'");
}

/* Decodes padded base64 s[0..n) in place (output never overtakes input).
 * Returns 0 and sets *len, or -1 for bad input. */
static int base64_decode(unsigned char *s, size_t n, size_t *len)
{
    size_t i, w = 0;

    if (n % 4)
        return -1;
    for (i = 0; i < n; i += 4) {
        uint32_t bits = 0;
        int k, pad = 0;
        for (k = 0; k < 4; k++) {
            const char *d = s[i + k] ? strchr(b64_alphabet, s[i + k]) : NULL;
            if (s[i + k] == '=' && i + 4 == n && k >= 2)
                pad++;
            else if (pad || !d)
                return -1;
            bits = bits << 6 | (d ? (uint32_t)(d - b64_alphabet) : 0);
        }
        s[w++] = (unsigned char)(bits >> 16);
        if (pad < 2)
            s[w++] = (unsigned char)(bits >> 8);
        if (pad < 1)
            s[w++] = (unsigned char)bits;
    }
    *len = w;
    return 0;
}

/* ======================================================================== */
/* Store helpers                                                            */
/* ======================================================================== */

/* Opens c->store with `flags` and `opts`, reporting any error as
 * "kvcli: STORE: message".  Returns 0 or the kv error. */
static int open_store(const cli_t *c, unsigned flags, const kv_options_t *opts, kv_t **kv)
{
    int err = kv_open(kv, c->store, flags, opts);

    if (err)
        fail(c, err, NULL);
    return err;
}

/* An iteration over every entry, with buffers sized from the store.  With
 * no value buffer (e.val NULL) kv_next() copies keys only. */
typedef struct iter {
    kv_t *kv;
    kv_info_t info; /* the store's geometry */
    uint64_t cursor;
    kv_entry_t e;
} iter_t;

static void iter_close(iter_t *it)
{
    free(it->e.key);
    free(it->e.val);
}

/* Reads the store's geometry with kv_info() (no lock, so a busy store is
 * first noticed by kv_next) and allocates a key_max key buffer and, when
 * `with_values`, a val_max value buffer.  Returns 0 or a kv error. */
static int iter_open(iter_t *it, kv_t *kv, int with_values)
{
    int err;

    memset(it, 0, sizeof *it);
    it->kv = kv;
    if ((err = kv_info(kv, &it->info)) != 0)
        return err;
    it->e.key_cap = it->info.key_max;
    it->e.key = malloc(it->e.key_cap ? it->e.key_cap : 1);
    if (with_values) {
        it->e.val_cap = it->info.val_max;
        it->e.val = malloc(it->e.val_cap ? it->e.val_cap : 1);
    }
    if (!it->e.key || (with_values && !it->e.val)) {
        iter_close(it);
        return KV_ENOMEM;
    }
    return 0;
}

/* Reads the next entry.  Returns 0, KV_ENOTFOUND at the end, or an error.
 * The buffers already fit the store's limits, so KV_ERANGE can only mean
 * the limits were misread; grow to the reported lengths and retry once.
 * A keys-only iteration reports val_len but has no value buffer to grow. */
static int iter_next(iter_t *it)
{
    int err = kv_next(it->kv, &it->cursor, &it->e);
    int val_short = it->e.val && it->e.val_len > it->e.val_cap;
    void *k, *v = it->e.val;

    if (err != KV_ERANGE || (it->e.key_len <= it->e.key_cap && !val_short))
        return err;
    k = grow(it->e.key, &it->e.key_cap, it->e.key_len, it->e.key_len);
    if (k)
        it->e.key = k;
    if (val_short && (v = grow(it->e.val, &it->e.val_cap, it->e.val_len, it->e.val_len)) != NULL)
        it->e.val = v;
    return k && v ? kv_next(it->kv, &it->cursor, &it->e) : KV_ENOMEM;
}

/* Reads KEY's value into v (growing v->buf, which may start NULL) and its
 * version and expiry into *meta.  Returns 0 or a kv error. */
static int read_value(kv_t *kv, const char *key, bytes_t *v, kv_meta_t *meta)
{
    size_t klen = strlen(key);
    unsigned char *p;
    int err;

    if (!v->buf) {
        if ((v->buf = malloc(GET_FIRST_CAP)) == NULL)
            return KV_ENOMEM;
        v->cap = GET_FIRST_CAP;
    }
    err = kv_get_ex(kv, key, klen, v->buf, v->cap, &v->len, meta);
    /* The value may change size between calls; retry while it outgrows us. */
    while (err == KV_ERANGE && v->len > v->cap) {
        if ((p = grow(v->buf, &v->cap, v->len, v->len)) == NULL)
            return KV_ENOMEM;
        v->buf = p;
        err = kv_get_ex(kv, key, klen, v->buf, v->cap, &v->len, meta);
    }
    return err;
}

/* Returns wall-clock milliseconds since the epoch. */
static uint64_t now_ms(void)
{
#ifdef KVCLI_FTIME
    struct __timeb64 tb;

    _ftime64(&tb);
    return (uint64_t)tb.time * 1000u + tb.millitm;
#else
    struct timespec ts;

    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

/* Formats epoch milliseconds as ISO 8601 UTC, e.g. 2024-05-01T10:00:00.123Z. */
static void format_iso(uint64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000u);
    struct tm *tm = gmtime(&secs); /* kvcli is single-threaded */
    size_t n = tm ? strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", tm) : 0;

    if (n == 0)
        snprintf(buf, cap, "(%" PRIu64 " ms since the epoch)", ms);
    else
        snprintf(buf + n, cap - n, ".%03uZ", (unsigned)(ms % 1000u));
}

/* Describes the lock holder: "held by pid P since <ISO time> (N ms)" or
 * "free". */
static void describe_lock(const kv_stats_t *st, char *buf, size_t cap)
{
    char iso[64];
    uint64_t now = now_ms();

    if (st->holder_pid == 0) {
        snprintf(buf, cap, "free");
        return;
    }
    if (st->holder_since_ms == 0) { /* stamped only once someone has waited */
        snprintf(buf, cap, "held by pid %" PRIu32, st->holder_pid);
        return;
    }
    format_iso(st->holder_since_ms, iso, sizeof iso);
    snprintf(buf, cap, "held by pid %" PRIu32 " since at least %s (%" PRIu64 " ms)",
             st->holder_pid, iso, now > st->holder_since_ms ? now - st->holder_since_ms : 0);
}

/* ======================================================================== */
/* Commands                                                                 */
/* ======================================================================== */

static int cmd_create(cli_t *c, kv_t *kv)
{
    kv_info_t info;
    int err;

    if ((err = kv_info(kv, &info)) != 0)
        return fail(c, err, NULL);
    printf("%s: %s (slots %" PRIu64 ", key_max %" PRIu32 ", value_max %" PRIu32 "%s)\n",
           c->store, kv_created(kv) ? "created" : "already exists", info.slots,
           info.key_max, info.val_max, kv_created(kv) && c->cache ? ", cache" : "");
    return CLI_OK;
}

static int cmd_put(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    unsigned char *input = NULL;
    size_t len = strlen(c->arg[1]);
    kv_put_opts_t po;
    int err;

    if (strcmp(c->arg[1], "-") == 0 &&
        (err = read_all(stdin, KV_VAL_MAX_LIMIT, &input, &len)) != 0)
        return fail(c, err, "reading the value from standard input");
    memset(&po, 0, sizeof po);
    po.flags = (c->nx ? KV_NOREPLACE : 0) | (c->has_if_version ? KV_IF_VERSION : 0);
    po.ttl_ms = c->ttl_ms;
    po.if_version = c->if_version;
    err = kv_put_ex(kv, key, strlen(key), input ? (const void *)input : c->arg[1], len, &po);
    free(input);
    if (err)
        return fail_key(c, err, key, strlen(key));
    if (c->show_version)
        printf("%" PRIu64 "\n", po.version);
    return CLI_OK;
}

static int cmd_get(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    bytes_t v = {NULL, 0, 0};
    kv_meta_t meta;
    int err = read_value(kv, key, &v, &meta);

    if (err == 0 && c->show_version)
        printf("%" PRIu64 "\n", meta.version);
    else if (err == 0)
        fwrite(v.buf, 1, v.len, stdout);
    free(v.buf);
    return err ? fail_key(c, err, key, strlen(key)) : CLI_OK;
}

static int cmd_del(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    int err = c->has_if_version ? kv_del_if(kv, key, strlen(key), c->if_version)
                                : kv_del(kv, key, strlen(key));

    return err ? fail_key(c, err, key, strlen(key)) : CLI_OK;
}

static int cmd_incr(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    int64_t result;
    int err;

    if ((err = kv_incr(kv, key, strlen(key), c->delta, &result)) != 0)
        return fail_key(c, err, key, strlen(key));
    printf("%" PRId64 "\n", result);
    return CLI_OK;
}

static int cmd_ttl(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    int64_t ms;
    int err = kv_ttl(kv, key, strlen(key), &ms);

    if (err)
        return fail_key(c, err, key, strlen(key));
    printf("%" PRId64 "\n", ms);
    return CLI_OK;
}

static int cmd_purge(cli_t *c, kv_t *kv)
{
    uint64_t n;
    int err = kv_purge_expired(kv, &n);

    if (err)
        return fail(c, err, NULL);
    printf("%" PRIu64 "\n", n);
    return CLI_OK;
}

static int cmd_list(cli_t *c, kv_t *kv)
{
    const char *prefix = c->nargs ? c->arg[0] : "";
    size_t plen = strlen(prefix);
    iter_t it;
    int err;

    if ((err = iter_open(&it, kv, 0)) != 0)
        return fail(c, err, NULL);
    while ((err = iter_next(&it)) == 0) {
        if (it.e.key_len < plen || memcmp(it.e.key, prefix, plen) != 0)
            continue;
        if (c->json) {
            fputc('{', stdout);
            put_json_bytes(stdout, "key", it.e.key, it.e.key_len);
            fputs("}\n", stdout);
        } else {
            put_escaped(stdout, it.e.key, it.e.key_len);
            fputc('\n', stdout);
        }
    }
    iter_close(&it);
    return err == KV_ENOTFOUND ? CLI_OK : fail(c, err, NULL);
}

/* ------------------------------------------------------------------------ */
/* watch                                                                    */
/* ------------------------------------------------------------------------ */

/* Set by SIGINT or SIGTERM while watch runs; watch then ends with exit 0. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
#ifdef KVCLI_SIGACTION
    (void)sig;
#else
    signal(sig, on_stop_signal); /* C's signal() may reset the handler to SIG_DFL */
#endif
    stop_requested = 1;
}

/* Makes SIGINT and SIGTERM set stop_requested instead of killing kvcli.  The
 * handler is installed even when the signal was ignored (as it is for a
 * background job of a non-interactive shell), so `kill -INT` always ends a
 * watch cleanly. */
static void catch_stop_signals(void)
{
#ifdef KVCLI_SIGACTION
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
#else
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
#endif
}

/* Returns 1 when the watch should end (a stop signal, or --timeout has run
 * out at `deadline`), else 0 with *slice set to how long the next wait may
 * last: at most WATCH_SLICE_MS, so a signal is noticed within that. */
static int watch_over(const cli_t *c, uint64_t deadline, uint32_t *slice)
{
    uint64_t now;

    *slice = WATCH_SLICE_MS;
    if (stop_requested)
        return 1;
    if (!c->has_watch_for)
        return 0;
    if ((now = now_ms()) >= deadline)
        return 1;
    if (deadline - now < *slice)
        *slice = (uint32_t)(deadline - now);
    return 0;
}

/* Prints one line of a key's watch: its value, or that it is absent. */
static void print_watched_value(const cli_t *c, const bytes_t *v, int present,
                                uint64_t version)
{
    if (c->json) {
        printf("{\"version\":%" PRIu64 ",", version);
        if (present)
            put_json_bytes(stdout, "value", v->buf, v->len);
        else
            fputs("\"value\":null", stdout);
        fputs("}\n", stdout);
    } else if (present) {
        put_escaped(stdout, v->buf, v->len);
        fputc('\n', stdout);
    } else
        fputs("(absent)\n", stdout);
    fflush(stdout);
}

/* Prints the key's value, then again after each kv_watch() that reports its
 * version changed. */
static int watch_key(cli_t *c, kv_t *kv, uint64_t deadline)
{
    const char *key = c->arg[0];
    size_t klen = strlen(key);
    bytes_t v = {NULL, 0, 0};
    kv_meta_t meta;
    uint64_t seen = 0, version;
    uint32_t slice;
    int err = 0, first = 1;

    for (;;) {
        if (err == 0) { /* the first pass, or kv_watch saw a change */
            err = read_value(kv, key, &v, &meta);
            if (err != 0 && err != KV_ENOTFOUND)
                break;
            version = err ? 0 : meta.version;
            if (first || version != seen)
                print_watched_value(c, &v, err == 0, version);
            first = 0;
            seen = version;
        }
        if (watch_over(c, deadline, &slice)) {
            err = 0;
            break;
        }
        err = kv_watch(kv, key, klen, seen, slice, NULL);
        if (err != 0 && err != KV_ETIMEDOUT)
            break;
    }
    free(v.buf);
    return err && !stop_requested ? fail_key(c, err, key, klen) : CLI_OK;
}

/* Prints one line of a store's watch. */
static void print_generation(const cli_t *c, uint64_t gen)
{
    printf(c->json ? "{\"generation\":%" PRIu64 "}\n" : "generation %" PRIu64 "\n", gen);
    fflush(stdout);
}

/* Prints the store's generation, then again after each kv_wait() that
 * reports a change. */
static int watch_store(cli_t *c, kv_t *kv, uint64_t deadline)
{
    uint64_t seen, gen;
    uint32_t slice;
    int err = kv_generation(kv, &seen);

    if (err == 0)
        print_generation(c, seen);
    while (err == 0 || err == KV_ETIMEDOUT) {
        if (watch_over(c, deadline, &slice)) {
            err = 0;
            break;
        }
        err = kv_wait(kv, seen, slice, &gen);
        if (err == 0 && gen != seen) {
            print_generation(c, gen);
            seen = gen;
        }
    }
    return err && !stop_requested ? fail(c, err, NULL) : CLI_OK;
}

static int cmd_watch(cli_t *c, kv_t *kv)
{
    uint64_t now = now_ms();
    uint64_t deadline = c->watch_for_ms > UINT64_MAX - now ? UINT64_MAX
                                                           : now + c->watch_for_ms;

    catch_stop_signals();
    return c->nargs ? watch_key(c, kv, deadline) : watch_store(c, kv, deadline);
}

/* ------------------------------------------------------------------------ */
/* hold                                                                     */
/* ------------------------------------------------------------------------ */

/* Keeps the handle open until a stop signal or --timeout (hold, load
 * --hold).  kv_wait() is the sleep: portable C has none, and waking on the
 * store's changes costs nothing but a loop. */
static int hold_open(cli_t *c, kv_t *kv)
{
    uint64_t now = now_ms(), gen = 0;
    uint64_t deadline = c->watch_for_ms > UINT64_MAX - now ? UINT64_MAX
                                                           : now + c->watch_for_ms;
    uint32_t slice;
    int err;

    catch_stop_signals();
    fflush(stdout);
    while (!watch_over(c, deadline, &slice)) {
        err = kv_generation(kv, &gen);
        if (err == 0)
            err = kv_wait(kv, gen, slice, NULL);
        if (err != 0 && err != KV_ETIMEDOUT)
            return fail(c, err, NULL);
    }
    return CLI_OK;
}

static int cmd_hold(cli_t *c, kv_t *kv)
{
    int err = cmd_create(c, kv);

    return err == CLI_OK ? hold_open(c, kv) : err;
}

/* ------------------------------------------------------------------------ */
/* stats                                                                    */
/* ------------------------------------------------------------------------ */

/* The kv_stats_t fields, for printing them as text or JSON in one loop. */
enum { ST_U32, ST_U64, ST_DBL, ST_BOOL /* a uint32_t: yes/no, true/false */ };
#define STAT_FIELD(f, type, needs_lock) {#f, offsetof(kv_stats_t, f), type, needs_lock}
static const struct stat_field {
    const char *name;
    size_t offset;
    int type;
    int needs_lock; /* not filled when kv_stats times out */
} stat_fields[] = {
    STAT_FIELD(layout_version, ST_U32, 0), STAT_FIELD(slots, ST_U64, 0),
    STAT_FIELD(key_max, ST_U32, 0),        STAT_FIELD(val_max, ST_U32, 0),
    STAT_FIELD(total_bytes, ST_U64, 0),    STAT_FIELD(used, ST_U64, 1),
    STAT_FIELD(tombstones, ST_U64, 1),     STAT_FIELD(load_factor, ST_DBL, 1),
    STAT_FIELD(avg_probe, ST_DBL, 1),      STAT_FIELD(max_probe, ST_U64, 1),
    STAT_FIELD(generation, ST_U64, 1),     STAT_FIELD(recoveries, ST_U64, 1),
    STAT_FIELD(lock_timeouts, ST_U64, 0),  STAT_FIELD(hits, ST_U64, 1),
    STAT_FIELD(misses, ST_U64, 1),         STAT_FIELD(expirations, ST_U64, 1),
    STAT_FIELD(evictions, ST_U64, 1),      STAT_FIELD(cache, ST_BOOL, 1),
    STAT_FIELD(holder_pid, ST_U32, 0),     STAT_FIELD(holder_since_ms, ST_U64, 0),
};

/* Formats one stats field, for JSON if `json` (booleans differ).  Returns
 * 0, or -1 if it has no JSON form (a non-finite double). */
static int format_stat(const kv_stats_t *st, const struct stat_field *f, int json,
                       char *buf, size_t cap)
{
    const char *p = (const char *)st + f->offset;
    uint32_t u32;
    uint64_t u64;
    double d;

    if (f->type == ST_U32 || f->type == ST_BOOL) {
        memcpy(&u32, p, sizeof u32);
        if (f->type == ST_U32)
            snprintf(buf, cap, "%" PRIu32, u32);
        else
            snprintf(buf, cap, "%s", json ? (u32 ? "true" : "false") : (u32 ? "yes" : "no"));
    } else if (f->type == ST_U64) {
        memcpy(&u64, p, sizeof u64);
        snprintf(buf, cap, "%" PRIu64, u64);
    } else {
        memcpy(&d, p, sizeof d);
        snprintf(buf, cap, "%.6g", d);
        return isfinite(d) ? 0 : -1;
    }
    return 0;
}

static void print_stats_text(const cli_t *c, const kv_stats_t *st, int stuck)
{
    char buf[160];
    size_t i;

    printf("%-17s", "store:");
    put_escaped(stdout, c->store, strlen(c->store));
    fputc('\n', stdout);
    for (i = 0; i < sizeof stat_fields / sizeof stat_fields[0]; i++) {
        const struct stat_field *f = &stat_fields[i];
        format_stat(st, f, 0, buf, sizeof buf);
        printf("%s:%*s%s\n", f->name, (int)(16 - strlen(f->name)), "",
               stuck && f->needs_lock ? "unknown (lock not taken)" : buf);
    }
    describe_lock(st, buf, sizeof buf);
    printf("lock %s%s\n", buf, stuck ? " (stuck)" : "");
}

static void print_stats_json(const cli_t *c, const kv_stats_t *st, int stuck)
{
    char buf[160];
    size_t i;

    fputc('{', stdout);
    put_json_bytes(stdout, "store", c->store, strlen(c->store));
    for (i = 0; i < sizeof stat_fields / sizeof stat_fields[0]; i++) {
        const struct stat_field *f = &stat_fields[i];
        int ok = format_stat(st, f, 1, buf, sizeof buf) == 0 && !(stuck && f->needs_lock);
        printf(",\"%s\":%s", f->name, ok ? buf : "null");
    }
    printf(",\"lock_stuck\":%s,\"holder_since\":", stuck ? "true" : "false");
    if (st->holder_pid) {
        uint64_t now = now_ms();
        format_iso(st->holder_since_ms, buf, sizeof buf);
        put_json_string(stdout, (const unsigned char *)buf, strlen(buf));
        printf(",\"held_for_ms\":%" PRIu64 "}\n",
               now > st->holder_since_ms ? now - st->holder_since_ms : 0);
    } else
        fputs("null,\"held_for_ms\":null}\n", stdout);
}

static int cmd_stats(cli_t *c, kv_t *kv)
{
    kv_stats_t st;
    char lock[160];
    int err, stuck;

    memset(&st, 0, sizeof st);
    err = kv_stats(kv, &st);
    if (err && err != KV_ETIMEDOUT)
        return fail(c, err, NULL);
    stuck = err == KV_ETIMEDOUT;
    if (c->json)
        print_stats_json(c, &st, stuck);
    else
        print_stats_text(c, &st, stuck);
    if (!stuck)
        return CLI_OK;
    describe_lock(&st, lock, sizeof lock);
    return fail(c, err, "lock is stuck: %s",
                st.holder_pid ? lock : "holder unknown");
}

static int cmd_dump(cli_t *c, kv_t *kv)
{
    iter_t it;
    int err, g;

    if ((err = iter_open(&it, kv, 1)) != 0)
        return fail(c, err, NULL);
    /* The first entry is read before the header is written, so a store whose
     * lock cannot be taken produces no output rather than a lone header. */
    err = iter_next(&it);
    if (err == 0 || err == KV_ENOTFOUND) {
        printf("{\"kv_dump\":%d", DUMP_VERSION);
        for (g = 0; g < GEO_COUNT; g++)
            printf(",\"%s\":%" PRIu64, geometry[g].json, geometry_get(&it.info, g));
        fputs("}\n", stdout);
    }
    for (; err == 0; err = iter_next(&it)) {
        fputc('{', stdout);
        put_json_bytes(stdout, "key", it.e.key, it.e.key_len);
        fputc(',', stdout);
        put_json_bytes(stdout, "value", it.e.val, it.e.val_len);
        fputs("}\n", stdout);
    }
    iter_close(&it);
    return err == KV_ENOTFOUND ? CLI_OK : fail(c, err, NULL);
}

/* ------------------------------------------------------------------------ */
/* load                                                                     */
/* ------------------------------------------------------------------------ */

/* State of one load: the input, its current line and the target. */
typedef struct load {
    cli_t *c;
    FILE *in;
    const char *input;  /* file name, or STDIN_NAME */
    bytes_t line;
    uint64_t lineno;
    kv_t *kv;
    uint64_t loaded;
} load_t;

/* Reports malformed input at the current line; returns CLI_USAGE. */
static int malformed(const load_t *ld, const char *what, const char *field)
{
    fputs("kvcli: ", stderr);
    put_escaped(stderr, ld->input, strlen(ld->input));
    fprintf(stderr, ": line %" PRIu64 ": malformed dump: %s", ld->lineno, what);
    if (field)
        fprintf(stderr, " (field \"%s\")", field);
    fputc('\n', stderr);
    return CLI_USAGE;
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
    case LINE_NOMEM:    return fail(ld->c, KV_ENOMEM, "reading %s", ld->input);
    default:
        fputs("kvcli: ", stderr);
        put_escaped(stderr, ld->input, strlen(ld->input));
        fprintf(stderr, ": read error: %s\n", strerror(errno));
        return CLI_STORE;
    }
}

/* Reads and checks the header line, filling the geometry of *opts. */
static int load_header(load_t *ld, kv_options_t *opts)
{
    jfield_t f[1 + GEO_COUNT];
    jcur_t j;
    int rc, eof, g;

    memset(f, 0, sizeof f);
    f[0].name = "kv_dump";
    for (g = 0; g < GEO_COUNT; g++)
        f[1 + g].name = geometry[g].json;
    if ((rc = load_next_line(ld, HEADER_LINE_MAX, &eof)) != 0)
        return rc;
    if (eof)
        return malformed(ld, "empty input, expected a {\"kv_dump\":1,...} header", NULL);
    if (jobject(&j, ld->line.buf, ld->line.len, f, 1 + GEO_COUNT))
        return malformed(ld, j.err, j.field);
    if (!f[0].seen)
        return malformed(ld, "not a kv dump header (no \"kv_dump\" field)", NULL);
    if (f[0].num != DUMP_VERSION)
        return malformed(ld, "unsupported dump version", "kv_dump");
    for (g = 0; g < GEO_COUNT; g++) {
        jfield_t *v = &f[1 + g];
        if (v->seen && (v->num < geometry[g].lo || v->num > geometry[g].hi))
            return malformed(ld, "value out of range", v->name);
        if (v->seen)
            geometry_set(opts, g, v->num);
    }
    return 0;
}

/* Opens the target, creating it with the dump's geometry if it does not
 * exist; an existing store keeps its own geometry. */
static int load_open(load_t *ld, const kv_options_t *opts)
{
    return exit_for(open_store(ld->c, KV_CREATE | KV_RDWR, opts, &ld->kv));
}

/* Gets an entry's bytes from exactly one of its plain or _b64 fields. */
static const char *entry_bytes(jfield_t *plain, jfield_t *b64, unsigned char **s, size_t *n)
{
    if (plain->seen == b64->seen)
        return plain->seen ? "both plain and _b64 forms given" : "missing field";
    if (plain->seen) {
        *s = plain->str;
        *n = plain->len;
        return NULL;
    }
    *s = b64->str;
    return base64_decode(b64->str, b64->len, n) ? "bad base64" : NULL;
}

/* Parses the current line as an entry and puts it. */
static int load_entry(load_t *ld)
{
    jfield_t f[4] = {{"key", 1, 0, NULL, 0, 0}, {"key_b64", 1, 0, NULL, 0, 0},
                     {"value", 1, 0, NULL, 0, 0}, {"value_b64", 1, 0, NULL, 0, 0}};
    unsigned char *key, *val;
    size_t klen, vlen;
    const char *why;
    jcur_t j;
    int err;

    if (jobject(&j, ld->line.buf, ld->line.len, f, 4))
        return malformed(ld, j.err, j.field);
    if ((why = entry_bytes(&f[0], &f[1], &key, &klen)) != NULL)
        return malformed(ld, why, "key");
    if ((why = entry_bytes(&f[2], &f[3], &val, &vlen)) != NULL)
        return malformed(ld, why, "value");
    if ((err = kv_put(ld->kv, key, klen, val, vlen, 0)) != 0)
        return fail(ld->c, err, "line %" PRIu64 " of %s", ld->lineno, ld->input);
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
        return fail(ld->c, err, NULL);
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

static int cmd_load(cli_t *c, kv_t *unused)
{
    const char *path = c->nargs ? c->arg[0] : "-";
    load_t ld;
    kv_options_t opts = c->opts;
    int rc;

    (void)unused;
    memset(&ld, 0, sizeof ld);
    ld.c = c;
    ld.in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    ld.input = ld.in == stdin ? STDIN_NAME : path;
    if (!ld.in)
        return usage_error(c->cmd, "%s: %s", path, strerror(errno));
    rc = load_header(&ld, &opts);
    if (rc == 0)
        rc = load_open(&ld, &opts);
    if (rc == 0)
        rc = load_entries(&ld);
    if (rc == 0)
        printf("%s: loaded %" PRIu64 " entries into %s store\n", c->store, ld.loaded,
               kv_created(ld.kv) ? "a new" : "the existing");
    if (rc == 0 && c->hold)
        rc = hold_open(c, ld.kv);
    kv_close(ld.kv);
    free(ld.line.buf);
    if (ld.in != stdin)
        fclose(ld.in);
    return rc;
}

/* ------------------------------------------------------------------------ */

static int cmd_check(cli_t *c, kv_t *unused)
{
    kv_t *kv;
    char *report;
    size_t n;
    int err;

    (void)unused;
    /* A header too damaged to attach to is corruption too. */
    if ((err = open_store(c, 0, &c->opts, &kv)) != 0)
        return err == KV_ECORRUPT ? CLI_CORRUPT : exit_for(err);
    if ((report = calloc(1, CHECK_REPORT_MAX)) == NULL) {
        kv_close(kv);
        return fail(c, KV_ENOMEM, NULL);
    }
    err = kv_check(kv, report, CHECK_REPORT_MAX);
    kv_close(kv);
    n = strlen(report);
    fputs(report, stdout);
    if (n > 0 && report[n - 1] != '\n')
        fputc('\n', stdout);
    free(report);
    if (err == 0)
        printf("%s: ok\n", c->store);
    if (err == KV_ECORRUPT) {
        fail(c, err, "check found problems (listed on standard output)");
        return CLI_CORRUPT;
    }
    return err ? fail(c, err, NULL) : CLI_OK;
}

static int cmd_destroy(cli_t *c, kv_t *unused)
{
    int err = kv_unlink(c->store);

    (void)unused;
    return err ? fail(c, err, NULL) : CLI_OK;
}

/* ======================================================================== */
/* main                                                                     */
/* ======================================================================== */

#ifdef _WIN32
/* Rebuilds argv as UTF-8 from the UTF-16 command line, so that keys, values
 * and store paths reach kv as the UTF-8 it takes.  The strings live until
 * exit.  Returns the C runtime's argv if anything fails. */
static char **utf8_argv(int *argc, char **argv)
{
    int n, i;
    wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
    char **out = w ? calloc((size_t)n + 1, sizeof *out) : NULL;

    for (i = 0; out && i < n; i++) {
        int len = WideCharToMultiByte(CP_UTF8, 0, w[i], -1, NULL, 0, NULL, NULL);
        if (len <= 0 || (out[i] = malloc((size_t)len)) == NULL)
            return argv;
        WideCharToMultiByte(CP_UTF8, 0, w[i], -1, out[i], len, NULL, NULL);
    }
    if (!out)
        return argv;
    LocalFree(w);
    *argc = n;
    return out;
}
#endif

/* Opens the store as the command's table row says and runs it. */
static int run(cli_t *c)
{
    static const unsigned flags[] = {
        [OPEN_READ] = 0, [OPEN_WRITE] = KV_RDWR, [OPEN_CREATE] = KV_CREATE | KV_RDWR};
    kv_t *kv = NULL;
    int err, rc;

    if (c->cmd->open != OPEN_NONE) {
        unsigned f = flags[c->cmd->open] | (c->exclusive ? KV_EXCL : 0) |
                     (c->cache ? KV_CACHE : 0);
        if ((err = open_store(c, f, &c->opts, &kv)) != 0)
            return exit_for(err);
    }
    rc = c->cmd->run(c, kv);
    kv_close(kv);
    return rc;
}

int main(int argc, char **argv)
{
    cli_t c;
    int rc;

#ifdef _WIN32
    /* Values are bytes: no CRLF translation on the standard streams (nor on
     * stderr, so messages end in '\n' as on other systems). */
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
    argv = utf8_argv(&argc, argv);
#endif
    rc = parse_args(&c, argc, argv);
    if (rc == 0)
        rc = run(&c);
    else if (rc == CLI_HELP)
        rc = CLI_OK;
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_OK) {
        fprintf(stderr, "kvcli: error writing standard output: %s\n", strerror(errno));
        rc = CLI_STORE;
    }
    return rc;
}
