/*
 * fuzz.h — what kv's libFuzzer targets share: the entry points' prototypes,
 * FZ_CHECK (a failed expectation prints what differed and aborts, so
 * libFuzzer saves the input as a crash), and a reader that turns the input
 * into bytes and small integers, reading zeros once it runs out so that
 * every input, however short, decodes to something.
 */
#ifndef KV_FUZZ_H
#define KV_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reports a broken expectation on the process's real stderr and aborts. */
__attribute__((format(printf, 4, 5), noreturn))
static inline void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\n%s:%d: check failed: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* FZ_CHECK(condition, printf-format, args...): the format is required. */
#define FZ_CHECK(cond, ...) \
    do { if (!(cond)) fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)

/* A cursor over the input. */
typedef struct fz_reader {
    const uint8_t *p;
    size_t n;
} fz_reader_t;

static inline uint8_t fz_byte(fz_reader_t *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}

static inline uint64_t fz_u64(fz_reader_t *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | fz_byte(r);
    return v;
}

#endif /* KV_FUZZ_H */
