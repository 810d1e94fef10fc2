/*
 * app.c — tests/consumer.sh's program, built by a project that uses kv:
 * creates a file-backed store at argv[1], writes and reads one entry, and
 * prints the version kv.h gives (which the script compares with the
 * package's).
 */
#include <stdio.h>
#include <string.h>

#include "kv.h"

int main(int argc, char **argv)
{
    kv_t *kv = NULL;
    char buf[16];
    size_t len = 0;
    int rc = argc == 2 ? kv_open(&kv, argv[1], KV_RDWR | KV_CREATE | KV_EXCL, NULL) : KV_EINVAL;
    if (rc == KV_OK)
        rc = kv_put(kv, "key", 3, "value", 5, 0);
    if (rc == KV_OK)
        rc = kv_get(kv, "key", 3, buf, sizeof buf, &len);
    kv_close(kv);
    if (rc != KV_OK || len != 5 || memcmp(buf, "value", 5) != 0) {
        fprintf(stderr, "app: %s\n", kv_strerror(rc));
        return 1;
    }
    printf("%d.%d.%d\n", KV_VERSION_MAJOR, KV_VERSION_MINOR, KV_VERSION_PATCH);
    return 0;
}
