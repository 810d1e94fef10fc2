/*
 * commands.c — the command table, the usage text built from it, and
 * dispatch: find the command, open the store as its descriptor says, run
 * its handler.  cli_main() is kvcli's main() without the platform's part.
 *
 * The table lives here, not in main.c, because fuzz_cli must reach it:
 * cli_parse_args() looks commands up in it and fuzz_cli runs the command
 * lines it accepts through cli_run(), linking kvcli_core, which is
 * everything but main.c.  main.c keeps only what the fuzzer must not have:
 * main() itself and Windows' argv and stdio set-up.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* In the order `kvcli --help` lists them. */
static const cli_command_t *const commands[] = {
    &cli_cmd_create, &cli_cmd_put, &cli_cmd_get, &cli_cmd_del, &cli_cmd_incr,
    &cli_cmd_ttl, &cli_cmd_purge, &cli_cmd_list, &cli_cmd_watch, &cli_cmd_hold,
    &cli_cmd_stats, &cli_cmd_dump, &cli_cmd_load, &cli_cmd_check, &cli_cmd_destroy,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command_t *cli_find_command(const char *name)
{
    size_t k;

    for (k = 0; k < NCOMMANDS; k++)
        if (strcmp(name, commands[k]->name) == 0)
            return commands[k];
    return NULL;
}

void cli_print_usage(const cli_command_t *cmd)
{
    size_t i;

    if (cmd) {
        printf("Usage: kvcli [--timeout MS] %s %s\n\n%s\n", cmd->name, cmd->synopsis,
               cmd->details);
        cli_print_exit_codes();
        return;
    }
    fputs("Usage: kvcli [global options] COMMAND STORE [ARGS...]\n\n"
          "Reads and edits a kv store: a key-value table in shared memory.\n"
          "STORE is a plain name ([A-Za-z0-9._-], named shared memory) or a path\n"
          "containing '/' (a store kept in that file).\n\nCommands:\n", stdout);
    for (i = 0; i < NCOMMANDS; i++)
        printf("  %s %s\n      %s\n", commands[i]->name, commands[i]->synopsis,
               commands[i]->summary);
    fputs("\nGlobal options (also accepted after COMMAND):\n"
          "  --timeout MS   wait at most MS milliseconds for the store's lock\n"
          "                 (default 5000; 0 = fail at once if it is busy); a\n"
          "                 DURATION such as 2s is accepted too\n"
          "  --any-owner    also open a store another user (not root) owns; without\n"
          "                 it such a store is refused, so no one can plant a store\n"
          "                 that receives your data\n"
          "  -h, --help     show this help; 'kvcli COMMAND --help' for one command\n"
          "  --             end of options, for a KEY or VALUE starting with '-'\n"
          "                 (not needed for a negative number such as -5)\n\n",
          stdout);
    cli_print_exit_codes();
}

int cli_run(cli_t *c)
{
    static const unsigned flags[] = {
        [OPEN_READ] = CLI_OPEN_READER, [OPEN_WRITE] = KV_RDWR, [OPEN_CREATE] = KV_CREATE | KV_RDWR};
    kv_t *kv = NULL;
    int err, rc;

    if (c->cmd->open != OPEN_NONE) {
        unsigned f = flags[c->cmd->open] | (c->exclusive ? KV_EXCL : 0) |
                     (c->cache ? KV_CACHE : 0);
        if ((err = cli_open_store(c, f, &c->opts, &kv)) != 0)
            return cli_exit_for(err);
    }
    rc = c->cmd->run(c, kv);
    kv_close(kv);
    return rc;
}

int cli_main(int argc, char **argv)
{
    cli_t c;
    int rc;

    rc = cli_parse_args(&c, argc, argv);
    if (rc == 0)
        rc = cli_run(&c);
    else if (rc == CLI_HELP)
        rc = CLI_OK;
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_OK) {
        fprintf(stderr, "kvcli: error writing standard output: %s\n", strerror(errno));
        rc = CLI_STORE;
    }
    return rc;
}
