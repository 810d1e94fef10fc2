/*
 * codec.c — kvcli's byte codecs (see codec.h): the \xNN escapes, UTF-8
 * validation, JSON strings and base64 on the way out; on the way in, a
 * parser for the one-line JSON objects of a dump, decoding strings and
 * base64 in place, which skips members it does not know when asked to (a
 * dump header's fields from a newer kvcli).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"

/* ======================================================================== */
/* Output: escapes for people, JSON strings and base64 for programs         */
/* ======================================================================== */

void cli_put_escaped(FILE *f, const void *data, size_t n)
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

int cli_utf8_valid(const unsigned char *s, size_t n)
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

void cli_put_json_string(FILE *f, const unsigned char *s, size_t n)
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

void cli_put_json_bytes(FILE *f, const char *name, const void *data, size_t n)
{
    if (cli_utf8_valid(data, n)) {
        fprintf(f, "\"%s\":", name);
        cli_put_json_string(f, data, n);
    } else {
        fprintf(f, "\"%s_b64\":", name);
        put_base64(f, data, n);
    }
}

/* ======================================================================== */
/* Input: a small JSON object parser, base64                                */
/* ======================================================================== */

static int jfail(cli_jcur_t *j, const char *err)
{
    if (!j->err)
        j->err = err;
    return -1;
}

static void jskip_ws(cli_jcur_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t'))
        j->p++;
}

/* Consumes `ch` (after blanks) or fails with `err`. */
static int jexpect(cli_jcur_t *j, unsigned char ch, const char *err)
{
    jskip_ws(j);
    if (j->p >= j->end || *j->p != ch)
        return jfail(j, err);
    j->p++;
    return 0;
}

/* Reads the four hex digits of a \u escape. */
static int jhex4(cli_jcur_t *j, unsigned *out)
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
static int junicode(cli_jcur_t *j, unsigned *cp)
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
static int jescape(cli_jcur_t *j, unsigned char **w)
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
static int jstring(cli_jcur_t *j, unsigned char **out, size_t *len)
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
static int jnumber(cli_jcur_t *j, uint64_t *out)
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

/* Parses true or false. */
static int jbool(cli_jcur_t *j, uint64_t *out)
{
    size_t left;

    jskip_ws(j);
    left = (size_t)(j->end - j->p);
    if (left >= 4 && memcmp(j->p, "true", 4) == 0) {
        j->p += 4;
        *out = 1;
    } else if (left >= 5 && memcmp(j->p, "false", 5) == 0) {
        j->p += 5;
        *out = 0;
    } else {
        return jfail(j, "expected true or false");
    }
    return 0;
}

/* Skips the value of a member no field names: a string, or a bare scalar,
 * taken as the run of characters that numbers, true, false and null are
 * made of and not checked further (the value is ignored; what follows it
 * must still be ',' or '}'). */
static int jskip_value(cli_jcur_t *j)
{
    static const char scalar[] = "0123456789+-.eEtrufalsn";
    unsigned char *start, *ignored;
    size_t len;

    jskip_ws(j);
    if (j->p < j->end && *j->p == '"')
        return jstring(j, &ignored, &len);
    for (start = j->p; j->p < j->end && *j->p && strchr(scalar, *j->p); j->p++)
        continue;
    return j->p == start ? jfail(j, "an unknown field's value must be a string, a number, "
                                    "true, false or null") : 0;
}

/* Returns the field called name[0..len), or NULL. */
static cli_jfield_t *jfind(cli_jfield_t *fields, size_t nfields, const unsigned char *name,
                           size_t len)
{
    size_t k;

    for (k = 0; k < nfields; k++)
        if (strlen(fields[k].name) == len && memcmp(fields[k].name, name, len) == 0)
            return &fields[k];
    return NULL;
}

/* Parses one "name": value member into the matching field, or skips it
 * when no field matches and the caller takes unknown members. */
static int jmember(cli_jcur_t *j, cli_jfield_t *fields, size_t nfields)
{
    unsigned char *name;
    size_t len;
    cli_jfield_t *f;

    if (jstring(j, &name, &len))
        return -1;
    if ((f = jfind(fields, nfields, name, len)) == NULL && !j->unknown)
        return jfail(j, "unknown field");
    if (f) {
        j->field = f->name;
        if (f->seen)
            return jfail(j, "duplicate field");
        f->seen = 1;
    }
    if (jexpect(j, ':', "expected ':'"))
        return -1;
    if (!f) {
        if (jskip_value(j))
            return -1;
        /* A skipped string was decoded over its own span only: name is intact. */
        j->unknown(j->ctx, name, len);
        return 0;
    }
    if (f->type == CLI_JSTRING)
        return jstring(j, &f->str, &f->len);
    return f->type == CLI_JBOOL ? jbool(j, &f->num) : jnumber(j, &f->num);
}

int cli_jobject(cli_jcur_t *j, unsigned char *s, size_t n, cli_jfield_t *fields,
                size_t nfields, cli_junknown_fn unknown, void *ctx)
{
    j->p = s;
    j->end = s + n;
    j->err = j->field = NULL;
    j->unknown = unknown;
    j->ctx = ctx;
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

const char *cli_get_json_bytes(cli_jfield_t *plain, cli_jfield_t *b64, unsigned char **s,
                               size_t *n)
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

