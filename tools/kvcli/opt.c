/*
 * opt.c — kvcli's command line: the option specs, the one number parser
 * (plain, octal, sizes k/m/g, durations ms/s/m/h/d) every number given on
 * the command line goes through, and the parser that checks a command line
 * against its command's descriptor and fills a cli_t.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define DURATION_MAX ((uint64_t)INT64_MAX) /* longest --ttl or watch --timeout, ms */

const cli_geometry_field_t cli_geometry[GEO_COUNT] = {
    [GEO_MEMORY]    = {"memory", 1, KV_MEMORY_MAX},
    [GEO_SLOTS]     = {"slots", 1, KV_SLOTS_MAX},
    [GEO_KEY_MAX]   = {"key_max", 1, KV_KEY_MAX_LIMIT},
    [GEO_VALUE_MAX] = {"value_max", 0, KV_VAL_MAX_LIMIT},
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
    {"--memory", OPT_MEMORY, 1, GEO_MEMORY},
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
    {"--any-owner", OPT_ANY_OWNER, 0, GEO_NONE},
    {"--timeout", OPT_WATCH_FOR, 1, GEO_NONE}, /* before the global --timeout */
    {"--timeout", OPT_TIMEOUT, 1, GEO_NONE},
    {"--help", OPT_HELP, 0, GEO_NONE},
    {"-h", OPT_HELP, 0, GEO_NONE},
};

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

int cli_parse_number(const char *s, enum num_kind kind, uint64_t *out)
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

int cli_parse_int64(const char *s, int64_t *out)
{
    int neg = *s == '-';
    uint64_t v;

    if (*s == '-' || *s == '+')
        s++;
    if (cli_parse_number(s, NUM_PLAIN, &v) != 0 || v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
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

    if (cli_parse_number(val, kind, out) == 0 && *out >= lo && *out <= hi)
        return 0;
    switch (kind) {
    case NUM_OCTAL:
        return cli_usage_error(c->cmd, "bad value '%s' for %s (expected octal %" PRIo64
                               "..%" PRIo64 ")", val, name, lo, hi);
    case NUM_DURATION:
        if (hi < DURATION_MAX)
            snprintf(range, sizeof range, ", %" PRIu64 "..%" PRIu64 " ms", lo, hi);
        else if (lo > 0)
            snprintf(range, sizeof range, ", at least %" PRIu64 " ms", lo);
        return cli_usage_error(c->cmd, "bad value '%s' for %s (expected a duration such as "
                               "500ms, 30s, 5m, 2h or 1d, a plain number being ms%s)",
                               val, name, range);
    default:
        return cli_usage_error(c->cmd, "bad value '%s' for %s (expected %" PRIu64 "..%" PRIu64
                               "%s)", val, name, lo, hi,
                               kind == NUM_SIZE ? ", suffix k, m or g allowed" : "");
    }
}

void cli_geometry_set(kv_options_t *o, int g, uint64_t v)
{
    if (g == GEO_MEMORY)
        o->memory = v;
    else if (g == GEO_SLOTS)
        o->slots = v;
    else if (g == GEO_KEY_MAX)
        o->key_max = (uint32_t)v;
    else
        o->val_max = (uint32_t)v;
}

uint64_t cli_geometry_get(const kv_info_t *info, int g)
{
    if (g == GEO_MEMORY)
        return info->total_bytes;
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
    case OPT_ANY_OWNER:     c->any_owner = 1; return 0;
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
        rc = option_number(c, o->name, val, NUM_SIZE, cli_geometry[o->geo].lo,
                           cli_geometry[o->geo].hi, &v);
        if (rc == 0)
            cli_geometry_set(&c->opts, o->geo, v);
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
        return cli_usage_error(c->cmd, "unknown option '%s'%s", arg, c->cmd ? " (put '--' "
                               "before a KEY or VALUE that starts with '-')" : "");
    if (!(o->bit & allowed))
        return cli_usage_error(c->cmd, "option %s does not apply to %s", o->name,
                               c->cmd ? c->cmd->name : "kvcli before the COMMAND");
    if (o->has_arg && eq)
        val = eq + 1;
    else if (o->has_arg && *i + 1 < argc)
        val = argv[++*i];
    else if (o->has_arg)
        return cli_usage_error(c->cmd, "option %s needs a value", o->name);
    else if (eq)
        return cli_usage_error(c->cmd, "option %s takes no value", o->name);
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
        return cli_usage_error(c->cmd, "missing arguments: kvcli %s %s", c->cmd->name,
                               c->cmd->synopsis);
    if (c->extra_args || c->nargs > c->cmd->max_args)
        return cli_usage_error(c->cmd, "too many arguments: kvcli %s %s", c->cmd->name,
                               c->cmd->synopsis);
    return 0;
}

int cli_parse_args(cli_t *c, int argc, char **argv)
{
    int i = 1, rc = 0;

    memset(c, 0, sizeof *c);
    kv_options_init(&c->opts);
    for (; rc == 0 && i < argc && is_option(argv[i]); i++)
        rc = parse_option(c, OPT_GLOBAL, argc, argv, &i);
    if (rc == 0 && i >= argc)
        return cli_usage_error(NULL, "missing COMMAND");
    if (rc == 0)
        c->cmd = cli_find_command(argv[i]);
    if (rc == 0 && !c->cmd)
        return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
    if (rc == 0)
        rc = parse_command_args(c, argc, argv, i + 1);
    if (rc == 0 && c->cmd->check)
        rc = c->cmd->check(c);
    if (rc == CLI_HELP)
        cli_print_usage(c->cmd);
    return rc;
}
