/*
 * spawn.c — the part of spawn.h that is the same on every platform: running
 * the role a re-executed test binary was started in.
 */
#include "spawn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spawn_run_role(int argc, char **argv, const spawn_role_t *roles, int nroles)
{
    for (int i = 0; i < nroles; i++) {
        if (strcmp(roles[i].name, argv[2]) == 0) {
            int rc = roles[i].fn(argc - 2, argv + 2);
            fflush(NULL);
            exit(rc);
        }
    }
    fprintf(stderr, "%s: no role named %s\n", argv[0], argv[2]);
    exit(126);
}
