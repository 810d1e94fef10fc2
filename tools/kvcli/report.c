/*
 * report.c — how kvcli reports: the exit codes and their help text, usage
 * errors ("kvcli: <message>" plus a hint), kv errors and warnings, which
 * go to stderr as "kvcli: STORE: message[: context]" and "kvcli: STORE:
 * warning: message" with STORE and keys escaped as `list` escapes them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_print_exit_codes(void)
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

int cli_usage_error(const cli_command_t *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("kvcli: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'kvcli %s%s--help'.\n", cmd ? cmd->name : "", cmd ? " " : "");
    return CLI_USAGE;
}

int cli_exit_for(int err)
{
    switch (err) {
    case 0:            return CLI_OK;
    case KV_ENOTFOUND: return CLI_NOTFOUND;
    case KV_ECONFLICT: return CLI_CONFLICT;
    default:           return CLI_STORE;
    }
}

/* Prints "kvcli: STORE: ", STORE escaped. */
static void store_begin(const cli_t *c)
{
    fputs("kvcli: ", stderr);
    cli_put_escaped(stderr, c->store, strlen(c->store));
    fputs(": ", stderr);
}

/* Prints "kvcli: STORE: <kv_strerror(err)>", without the newline. */
static void fail_begin(const cli_t *c, int err)
{
    store_begin(c);
    fputs(kv_strerror(err), stderr);
}

int cli_fail(const cli_t *c, int err, const char *fmt, ...)
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
    return cli_exit_for(err);
}

int cli_fail_key(const cli_t *c, int err, const void *key, size_t n)
{
    fail_begin(c, err);
    fputs(n ? ": " : ": empty key", stderr);
    cli_put_escaped(stderr, key, n);
    fputc('\n', stderr);
    return cli_exit_for(err);
}

void cli_warn(const cli_t *c, const char *fmt, ...)
{
    va_list ap;

    store_begin(c);
    fputs("warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
