/*
 * codec.h — kvcli's byte codecs: how bytes cross into text and back.
 *
 * Bytes cross into text in three ways, each written once: C-style \xNN
 * escapes for people (list, error messages), JSON strings for programs
 * (list --json, stats --json, dump), and base64 for dump fields that are
 * not valid UTF-8.  The reading side is a small parser for the one-line
 * JSON objects of a dump (unsigned integers, strings and booleans).  Pure
 * functions of bytes and a FILE: nothing here knows kv.h.
 */
#ifndef KVCLI_CODEC_H
#define KVCLI_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Returns 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF), else 0. */
int cli_utf8_valid(const unsigned char *s, size_t n);

/* Writes bytes for a human: printable ASCII as is, '\\' as "\\\\", anything
 * else as \xNN, so the text stays on one line and maps back to the bytes. */
void cli_put_escaped(FILE *f, const void *data, size_t n);

/* Writes valid UTF-8 bytes as a JSON string: '"' and '\\' are escaped, and
 * control characters (and DEL) as \u00XX. */
void cli_put_json_string(FILE *f, const unsigned char *s, size_t n);

/* Writes one JSON member for a byte string: "name":"<json string>" when the
 * bytes are valid UTF-8, else "name_b64":"<base64>". */
void cli_put_json_bytes(FILE *f, const char *name, const void *data, size_t n);

/* The kinds of value a member the JSON object parser accepts may hold. */
enum cli_jtype {
    CLI_JNUMBER, /* an unsigned decimal integer, in num */
    CLI_JSTRING, /* a string, in str and len */
    CLI_JBOOL    /* true or false, in num as 1 or 0 */
};

/* One member the JSON object parser accepts.  Strings are decoded in place
 * inside the parsed line, which works because a JSON string never decodes
 * to more bytes than it spans. */
typedef struct cli_jfield {
    const char *name;
    int type;                /* enum cli_jtype */
    int seen;
    unsigned char *str;
    size_t len;
    uint64_t num;
} cli_jfield_t;

/* Called for a member whose name is none of the fields' (the name decoded,
 * not NUL-terminated), after its value was skipped. */
typedef void (*cli_junknown_fn)(void *ctx, const unsigned char *name, size_t len);

/* Parser state: a cursor over one line and the first error met. */
typedef struct cli_jcur {
    unsigned char *p, *end;
    const char *err;         /* what went wrong, or NULL */
    const char *field;       /* the member being parsed when it did */
    cli_junknown_fn unknown; /* set by cli_jobject() */
    void *ctx;
} cli_jcur_t;

/* Parses s[0..n) as one JSON object whose members are among `fields`; the
 * line must hold nothing else.  A member of another name is an error when
 * `unknown` is NULL; otherwise its value, which must be a string or a bare
 * scalar (a number, true, false or null; not an object or an array), is
 * skipped and unknown(ctx, name, len) called.  Returns 0, or -1 with
 * j->err set. */
int cli_jobject(cli_jcur_t *j, unsigned char *s, size_t n, cli_jfield_t *fields,
                size_t nfields, cli_junknown_fn unknown, void *ctx);

/* Gets a byte string's bytes from exactly one of its plain or _b64 fields
 * (what cli_put_json_bytes wrote), decoding base64 in place.  Returns NULL,
 * or what is wrong with the pair. */
const char *cli_get_json_bytes(cli_jfield_t *plain, cli_jfield_t *b64, unsigned char **s,
                               size_t *n);

#endif
