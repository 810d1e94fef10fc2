/*
 * cmd_data.c — the commands that make a store and work on its entries:
 * create, put, get, del, incr, ttl, purge, list and destroy, each handler
 * followed by its descriptor (options, arguments, help text).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_create(cli_t *c, kv_t *kv)
{
    kv_info_t info;
    int err;

    if ((err = kv_info(kv, &info)) != 0)
        return cli_fail(c, err, NULL);
    printf("%s: %s (memory %" PRIu64 ", slots %" PRIu64 ", key_max %" PRIu32
           ", value_max %" PRIu32 "%s)\n",
           c->store, kv_created(kv) ? "created" : "already exists", info.total_bytes,
           info.slots, info.key_max, info.val_max, kv_created(kv) && c->cache ? ", cache" : "");
    return CLI_OK;
}

const cli_command_t cli_cmd_create = {
    .name = "create",
    .run = cmd_create,
    .open = OPEN_CREATE,
    .options = OPT_MEMORY | OPT_SLOTS | OPT_KEY_MAX | OPT_VALUE_MAX | OPT_MODE | OPT_EXCLUSIVE | OPT_CACHE,
    .min_args = 0, .max_args = 0,
    .synopsis =
        "STORE [--memory SIZE] [--slots N] [--key-max N] [--value-max N] [--mode OCTAL]\n"
        "       [--exclusive] [--cache]",
    .summary = "create a store, or attach to an existing one; says which",
    .details =
        "Creates STORE, or attaches to it if it exists, and prints which happened\n"
        "and the store's geometry.  Geometry options and --cache apply only when\n"
        "creating.\n"
        "  --memory SIZE   the store's whole size: header, slots (128 bytes each) and\n"
        "                  the data area that entries of more than 88 bytes live in\n"
        "                  (default: room for every slot to hold the largest entry)\n"
        "  --slots N       slot count, rounded up to a power of two (default: one per\n"
        "                  KiB of --memory, at least 16; 1024 without --memory)\n"
        "  --key-max N     largest key in bytes (default 64): a limit, not a reservation\n"
        "  --value-max N   largest value in bytes (default 1024): a limit\n"
        "  --mode OCTAL    permission bits of a new store (default 600)\n"
        "  --exclusive     fail (exit 3) if STORE already exists\n"
        "  --cache         make a cache: when the table is 7/8 full or the data area\n"
        "                  has no room, a write evicts expired or not recently read\n"
        "                  entries instead of failing ('stats' shows cache: yes)\n"
        "Sizes take an optional suffix k, m or g (times 1024, 1024^2, 1024^3).\n",
};

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
        if ((p = cli_grow(buf, &cap, n + 1, limit + 1)) == NULL) {
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

static int check_put(cli_t *c)
{
    if (c->nx && c->has_if_version)
        return cli_usage_error(c->cmd, "--nx and --if-version exclude each other "
                               "(--if-version 0 is insert-only)");
    return 0;
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
        return cli_fail(c, err, "reading the value from standard input");
    memset(&po, 0, sizeof po);
    po.flags = (c->nx ? KV_NOREPLACE : 0) | (c->has_if_version ? KV_IF_VERSION : 0);
    po.ttl_ms = c->ttl_ms;
    po.if_version = c->if_version;
    err = kv_put_ex(kv, key, strlen(key), input ? (const void *)input : c->arg[1], len, &po);
    free(input);
    if (err)
        return cli_fail_key(c, err, key, strlen(key));
    if (c->show_version)
        printf("%" PRIu64 "\n", po.version);
    return CLI_OK;
}

const cli_command_t cli_cmd_put = {
    .name = "put",
    .run = cmd_put,
    .open = OPEN_WRITE,
    .options = OPT_NX | OPT_TTL | OPT_IF_VERSION | OPT_PRINT_VERSION,
    .min_args = 2, .max_args = 2,
    .synopsis = "STORE KEY VALUE|- [--ttl DURATION] [--if-version V] [--nx] [--print-version]",
    .summary = "store VALUE under KEY ('-' reads VALUE from standard input)",
    .details =
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
    .check = check_put,
};

static int cmd_get(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    cli_bytes_t v = {NULL, 0, 0};
    kv_meta_t meta;
    int err = cli_read_value(kv, key, strlen(key), &v, &meta);

    if (err == 0 && c->show_version)
        printf("%" PRIu64 "\n", meta.version);
    else if (err == 0)
        fwrite(v.buf, 1, v.len, stdout);
    free(v.buf);
    return err ? cli_fail_key(c, err, key, strlen(key)) : CLI_OK;
}

const cli_command_t cli_cmd_get = {
    .name = "get",
    .run = cmd_get,
    .open = OPEN_READ,
    .options = OPT_VERSION,
    .min_args = 1, .max_args = 1,
    .synopsis = "STORE KEY [--version]",
    .summary = "print KEY's value (or its version)",
    .details =
        "Writes the value's raw bytes to standard output, adding no newline.\n"
        "Exits 1 if KEY is not in the store (an expired entry is not).\n"
        "  --version   print only KEY's version instead, as a decimal number and a\n"
        "              newline: every write gives KEY a new, larger version; pass it\n"
        "              to 'put --if-version' or 'del --if-version'\n",
};

static int cmd_del(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    int err = c->has_if_version ? kv_del_if(kv, key, strlen(key), c->if_version)
                                : kv_del(kv, key, strlen(key));

    return err ? cli_fail_key(c, err, key, strlen(key)) : CLI_OK;
}

const cli_command_t cli_cmd_del = {
    .name = "del",
    .run = cmd_del,
    .open = OPEN_WRITE,
    .options = OPT_IF_VERSION,
    .min_args = 1, .max_args = 1,
    .synopsis = "STORE KEY [--if-version V]",
    .summary = "remove KEY",
    .details =
        "Removes KEY.  Exits 1 if KEY is not in the store.\n"
        "  --if-version V   remove KEY only if its version is V (as 'get --version'\n"
        "                   prints it); if KEY has another version change nothing\n"
        "                   and exit 5\n",
};

/* Parses incr's N (default 1) into c->delta. */
static int check_incr(cli_t *c)
{
    c->delta = 1;
    if (c->nargs > 1 && cli_parse_int64(c->arg[1], &c->delta) != 0)
        return cli_usage_error(c->cmd, "bad increment '%s' (expected an integer from %" PRId64
                               " to %" PRId64 ")", c->arg[1], INT64_MIN, INT64_MAX);
    return 0;
}

static int cmd_incr(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    int64_t result;
    int err;

    if ((err = kv_incr(kv, key, strlen(key), c->delta, &result)) != 0)
        return cli_fail_key(c, err, key, strlen(key));
    printf("%" PRId64 "\n", result);
    return CLI_OK;
}

const cli_command_t cli_cmd_incr = {
    .name = "incr",
    .run = cmd_incr,
    .open = OPEN_WRITE,
    .min_args = 1, .max_args = 2,
    .synopsis = "STORE KEY [N]",
    .summary = "add N (default 1, may be negative) to the integer in KEY; print the result",
    .details =
        "Adds N to the decimal integer stored under KEY and prints the new value.\n"
        "An absent KEY counts as 0; an existing one keeps its time to live.  N is\n"
        "an integer in the int64 range (default 1); a negative N needs no '--'.\n"
        "A value that is not an optional '-' and 1 to 19 digits, or a result\n"
        "outside the int64 range, is a store error (exit 3).\n",
    .check = check_incr,
};

static int cmd_ttl(cli_t *c, kv_t *kv)
{
    const char *key = c->arg[0];
    int64_t ms;
    int err = kv_ttl(kv, key, strlen(key), &ms);

    if (err)
        return cli_fail_key(c, err, key, strlen(key));
    printf("%" PRId64 "\n", ms);
    return CLI_OK;
}

const cli_command_t cli_cmd_ttl = {
    .name = "ttl",
    .run = cmd_ttl,
    .open = OPEN_READ,
    .min_args = 1, .max_args = 1,
    .synopsis = "STORE KEY",
    .summary = "print the milliseconds KEY has left to live (-1: never expires)",
    .details =
        "Prints the time KEY has left before it expires, in milliseconds, or -1\n"
        "if it never expires.  Exits 1 if KEY is not in the store or has expired.\n",
};

static int cmd_purge(cli_t *c, kv_t *kv)
{
    uint64_t n;
    int err = kv_purge_expired(kv, &n);

    if (err)
        return cli_fail(c, err, NULL);
    printf("%" PRIu64 "\n", n);
    return CLI_OK;
}

const cli_command_t cli_cmd_purge = {
    .name = "purge",
    .run = cmd_purge,
    .open = OPEN_WRITE,
    .min_args = 0, .max_args = 0,
    .synopsis = "STORE",
    .summary = "delete every expired entry; print how many",
    .details =
        "Deletes every expired entry in one pass over the table and prints how many\n"
        "it deleted.  (Expired entries already read as absent; purging frees their\n"
        "slots now rather than when an insert or a lookup meets them.)\n",
};

static int cmd_list(cli_t *c, kv_t *kv)
{
    const char *prefix = c->nargs ? c->arg[0] : "";
    size_t plen = strlen(prefix);
    cli_iter_t it;
    int err;

    if ((err = cli_iter_open(&it, kv, 0)) != 0)
        return cli_fail(c, err, NULL);
    while ((err = cli_iter_next(&it)) == 0) {
        if (it.e.key_len < plen || memcmp(it.e.key, prefix, plen) != 0)
            continue;
        if (c->json) {
            fputc('{', stdout);
            cli_put_json_bytes(stdout, "key", it.e.key, it.e.key_len);
            fputs("}\n", stdout);
        } else {
            cli_put_escaped(stdout, it.e.key, it.e.key_len);
            fputc('\n', stdout);
        }
    }
    cli_iter_close(&it);
    return err == KV_ENOTFOUND ? CLI_OK : cli_fail(c, err, NULL);
}

const cli_command_t cli_cmd_list = {
    .name = "list",
    .run = cmd_list,
    .open = OPEN_READ,
    .options = OPT_JSON,
    .min_args = 0, .max_args = 1,
    .synopsis = "STORE [PREFIX] [--json]",
    .summary = "list the keys (only those starting with PREFIX, if given)",
    .details =
        "Prints the keys one per line, in slot order (unsorted).  Bytes outside\n"
        "printable ASCII are written as \\xNN and a backslash as \\\\, so every key\n"
        "stays on one line (printf '%b' turns a line back into the key).\n"
        "  --json   print JSON lines instead: one object per key, {\"key\":\"...\"},\n"
        "           or {\"key_b64\":\"...\"} (base64) for a key that is not UTF-8\n",
};

static int cmd_destroy(cli_t *c, kv_t *unused)
{
    int err = kv_unlink(c->store);

    (void)unused;
    return err ? cli_fail(c, err, NULL) : CLI_OK;
}

const cli_command_t cli_cmd_destroy = {
    .name = "destroy",
    .run = cmd_destroy,
    .open = OPEN_NONE,
    .min_args = 0, .max_args = 0,
    .synopsis = "STORE",
    .summary = "remove the store",
    .details =
        "Removes the store's name.  Processes that have it open keep using it until\n"
        "they close it; the next 'create' makes a new, empty store.\n",
};
