/*
 * errors.c — messages for kv's negative error codes, and the one-line
 * explanations of a refused open (kv__why).  The table is indexed by the
 * code's magnitude, so adding a code means adding one line here and one
 * #define in kv.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "kv.h"
#include "os.h"

static const char *const messages[] = {
    [0]              = "success",
    [-KV_ENOTFOUND]  = "key not found",
    [-KV_EINVAL]     = "invalid argument",
    [-KV_ETOOBIG]    = "key or value larger than the store's limit",
    [-KV_EFULL]      = "store full: no free slot left in its table",
    [-KV_EEXIST]     = "already exists",
    [-KV_ERANGE]     = "buffer too small for the value",
    [-KV_ETIMEDOUT]  = "timed out waiting for the store's lock",
    [-KV_ECORRUPT]   = "not a kv store, or the store is damaged",
    [-KV_EVERSION]   = "kv store of an incompatible layout version or platform",
    [-KV_EPERM]      = "permission denied",
    [-KV_ENOMEM]     = "out of memory",
    [-KV_ENOSPC]     = "no space left to create the store",
    [-KV_ENOENT]     = "store (or the directory for it) does not exist",
    [-KV_ENAME]      = "invalid store name (too long or bad characters)",
    [-KV_ERDONLY]    = "store was opened read-only",
    [-KV_EIO]        = "operating-system error",
    [-KV_ECONFLICT]  = "version conflict: the entry changed",
    [-KV_ENOTNUM]    = "value is not a decimal integer",
    [-KV_EOVERFLOW]  = "integer overflow",
    [-KV_EMFILE]     = "too many open files (in this process or the system)",
    [-KV_EFORKED]    = "handle used in a child after fork(); open a new handle there",
    [-KV_EINTR]      = "a signal handler interrupted the wait",
    [-KV_ENOROOM]    = "store full: no room left in its memory budget",
};

const char *kv_strerror(int err)
{
    if (err > 0 || -err >= (int)(sizeof messages / sizeof messages[0]) || !messages[-err])
        return "unknown error";
    return messages[-err];
}

void kv__why(os_why_t *why, const char *fmt, ...)
{
    va_list ap;
    if (!why || !why->buf || why->cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why->buf, why->cap, fmt, ap);
    va_end(ap);
}
