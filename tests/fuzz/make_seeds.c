/*
 * make_seeds.c — writes the seed corpora of the fuzz targets:
 *
 *   make_seeds DIR    fills DIR/attach, DIR/cli, DIR/ops and DIR/names (which
 *                     must exist)
 *
 * attach: real file-backed stores made with the kv API, small enough (16-64
 * slots, keys of at most 16 bytes, values of at most 300) that each is a few
 * KB: empty, with tombstones, with expired and live TTLs, a cache that has
 * evicted, entries out of line in blocks with free ones between, one slot,
 * a full table, numeric values; and, patched through
 * layout.h, a replace, an eviction and a clear caught in flight with the
 * holder dead, wrong counters, and damaged slots, so the fuzzer starts from
 * every recovery path.
 * cli: one input per mode of fuzz_cli (numbers, argument vectors, dump
 * text, encodings).
 * ops: operation sequences in ops_format.h's encoding.
 * names: paths in names_format.h's encoding, one through each kind of
 * sandbox entry.
 *
 * The committed corpus under tests/fuzz/corpus/ was made by this program;
 * rerun it when the store layout or the ops encoding changes:
 *   build/fuzz/tests/fuzz/make_seeds tests/fuzz/corpus
 * Stores get a random hash seed, so every run writes different bytes.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"
#include "layout.h"
#include "names_format.h"
#include "ops_format.h"

static const char *out_dir;
static char tmp_dir[] = "/tmp/kv-make-seeds.XXXXXX";

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("make_seeds: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void write_file(const char *sub, const char *name, const void *data, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s/%s", out_dir, sub, name);
    if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0)
        die("cannot write %s", path);
}

/* ======================================================================== */
/* attach: stores                                                           */
/* ======================================================================== */

/* A store built in a scratch file, then read back as bytes. */
typedef struct image {
    unsigned char *bytes;
    size_t size;
} image_t;

static kv_t *store_create(const char *name, uint64_t slots, uint32_t key_max, uint32_t val_max,
                          unsigned flags)
{
    char path[256];
    kv_options_t o;
    kv_t *kv;
    int rc;

    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    kv_options_init(&o);
    o.slots = slots;
    o.key_max = key_max;
    o.val_max = val_max;
    if ((rc = kv_open(&kv, path, KV_CREATE | KV_EXCL | KV_RDWR | flags, &o)) != 0)
        die("create %s: %s", path, kv_strerror(rc));
    return kv;
}

static image_t store_image(kv_t *kv, const char *name)
{
    char path[256];
    image_t im;
    FILE *f;
    long n;

    kv_close(kv);
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0)
        die("cannot read %s", path);
    rewind(f);
    im.size = (size_t)n;
    if ((im.bytes = malloc(im.size)) == NULL || fread(im.bytes, 1, im.size, f) != im.size)
        die("cannot read %s", path);
    fclose(f);
    unlink(path);
    return im;
}

static void put(kv_t *kv, const char *key, const char *val, uint64_t ttl_ms)
{
    kv_put_opts_t po = {0, ttl_ms, 0, 0};
    int rc = kv_put_ex(kv, key, strlen(key), val, strlen(val), &po);

    if (rc)
        die("put %s: %s", key, kv_strerror(rc));
}

static void put_keys(kv_t *kv, int from, int to, const char *val)
{
    char key[16];

    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "k%d", i);
        put(kv, key, val, 0);
    }
}

static kv_header_t *header(image_t *im)
{
    return (kv_header_t *)im->bytes;
}

static kv_slot_t *slot(image_t *im, uint64_t i)
{
    kv_header_t *h = header(im);
    return (kv_slot_t *)(im->bytes + h->header_size + i * KV_SLOT_SIZE);
}

static uint32_t slot_state(kv_slot_t *s)
{
    return atomic_load_explicit(&s->key_len, memory_order_relaxed);
}

static int is_free(uint32_t state)
{
    return state == KV_SLOT_EMPTY || state == KV_SLOT_TOMB;
}

/* The first slot holding an entry, or with `free_slot` the first empty or
 * tombstone slot. */
static uint64_t find_slot(image_t *im, int free_slot)
{
    kv_header_t *h = header(im);

    for (uint64_t i = 0; i < h->slot_count; i++)
        if (is_free(slot_state(slot(im, i))) == free_slot)
            return i;
    die("no %s slot", free_slot ? "free" : "used");
}

static void emit(const char *name, image_t *im)
{
    write_file("attach", name, im->bytes, im->size);
}

/* plain16: entries, tombstones and a number, the base of the patched seeds. */
static image_t make_plain16(void)
{
    kv_t *kv = store_create("plain16", 16, 8, 24, 0);

    put_keys(kv, 0, 10, "value");
    kv_del(kv, "k3", 2);
    kv_del(kv, "k5", 2);
    kv_del(kv, "k8", 2);
    put(kv, "n0", "41", 0);
    return store_image(kv, "plain16");
}

static void seeds_attach(void)
{
    image_t im, base;
    kv_header_t *h;
    kv_slot_t *s, *img;
    uint64_t i, j;
    kv_t *kv;
    char key[8];

    kv = store_create("empty16", 16, 8, 16, 0);
    im = store_image(kv, "empty16");
    emit("empty16", &im);
    free(im.bytes);

    base = make_plain16();
    emit("plain16", &base);

    kv = store_create("ttl32", 32, 16, 32, 0);
    put_keys(kv, 0, 12, "lives");
    put(kv, "k12", "expired soon", 1);
    put(kv, "k13", "expired too", 1);
    put(kv, "k14", "a day", 86400000);
    put(kv, "n0", "-5", 0);
    nanosleep(&(struct timespec){0, 5000000}, NULL);
    im = store_image(kv, "ttl32");
    emit("ttl32", &im);
    free(im.bytes);

    kv = store_create("cache64", 64, 4, 20, KV_CACHE);
    for (int k = 0; k < 80; k++) {
        char v[8];
        snprintf(key, sizeof key, "k%d", k);
        kv_get(kv, "k1", 2, v, sizeof v, NULL); /* keeps k1 referenced */
        put(kv, key, "cached", 0);
    }
    im = store_image(kv, "cache64");
    emit("cache64", &im);

    /* An eviction in flight: the victim saved and tombstoned, the new entry
     * committed in a free slot, the journal not yet idle. */
    h = header(&im);
    i = find_slot(&im, 0);
    j = find_slot(&im, 1);
    h->journal_state2 = slot_state(slot(&im, j));
    img = (kv_slot_t *)(im.bytes + KV_JOURNAL_IMAGE_OFFSET);
    memcpy(img, slot(&im, i), KV_SLOT_SIZE);
    atomic_store(&slot(&im, i)->key_len, KV_SLOT_TOMB);
    memcpy(slot(&im, j), img, KV_SLOT_SIZE);
    memcpy(slot(&im, j)->data, "zz", 2);
    atomic_store(&slot(&im, j)->key_len, 2);
    h->journal_slot = (uint32_t)i;
    h->journal_slot2 = (uint32_t)j;
    atomic_store(&h->journal_op, KV_JOURNAL_EVICT);
    atomic_store(&h->holder_pid, 999999);
    emit("cache64-evict-inflight", &im);
    free(im.bytes);

    /* Entries out of line: blocks of several sizes, some given back (free
     * blocks between used ones), and one value of the largest size. */
    kv = store_create("blocks32", 32, 16, 300, 0);
    for (int k = 0; k < 20; k++) {
        char v[301];
        snprintf(key, sizeof key, "b%d", k);
        memset(v, 'a' + k % 26, sizeof v);
        kv_put(kv, key, strlen(key), v, k == 19 ? 300 : (size_t)(20 + k * 13), 0);
    }
    for (int k = 1; k < 20; k += 3) {
        snprintf(key, sizeof key, "b%d", k);
        kv_del(kv, key, strlen(key));
    }
    im = store_image(kv, "blocks32");
    emit("blocks32", &im);
    free(im.bytes);

    kv = store_create("tiny1", 1, 1, 0, 0);
    put(kv, "k", "", 0);
    im = store_image(kv, "tiny1");
    emit("tiny1", &im);
    free(im.bytes);

    kv = store_create("full8", 8, 8, 8, 0);
    put_keys(kv, 0, 8, "full");
    im = store_image(kv, "full8");
    emit("full8", &im);
    free(im.bytes);

    kv = store_create("numbers16", 16, 8, 24, 0);
    put(kv, "n0", "9223372036854775807", 0);
    put(kv, "k0", "-9223372036854775808", 0);
    put(kv, "k1", "0", 0);
    put(kv, "k2", "12a", 0);
    im = store_image(kv, "numbers16");
    emit("numbers16", &im);
    free(im.bytes);

    /* A replace in flight: k-something's old entry in the undo image, a new
     * value already written over the slot. */
    im.size = base.size;
    im.bytes = malloc(im.size);
    memcpy(im.bytes, base.bytes, im.size);
    h = header(&im);
    i = find_slot(&im, 0);
    s = slot(&im, i);
    img = (kv_slot_t *)(im.bytes + KV_JOURNAL_IMAGE_OFFSET);
    memcpy(img, s, KV_SLOT_SIZE);
    memcpy(s->data + slot_state(s), "half-written", 12); /* still inline */
    s->val_len = 12;
    h->journal_slot = (uint32_t)i;
    atomic_store(&h->journal_op, KV_JOURNAL_REPLACE);
    atomic_store(&h->holder_pid, 999999);
    emit("plain16-replace-inflight", &im);

    /* A clear in flight: half the slots emptied. */
    memcpy(im.bytes, base.bytes, im.size);
    h = header(&im);
    for (i = 0; i < h->slot_count / 2; i++)
        atomic_store(&slot(&im, i)->key_len, KV_SLOT_EMPTY);
    atomic_store(&h->journal_op, KV_JOURNAL_CLEAR);
    atomic_store(&h->holder_pid, 999999);
    emit("plain16-clear-inflight", &im);

    /* A dead holder with nothing in flight, and counters that are wrong. */
    memcpy(im.bytes, base.bytes, im.size);
    h = header(&im);
    h->used = 100;
    h->tombstones = 7;
    atomic_store(&h->holder_pid, 999999);
    emit("plain16-dead-holder", &im);

    /* Damage that kv_check reports: a wrong hash, a key length out of
     * range, a value length out of range. */
    memcpy(im.bytes, base.bytes, im.size);
    h = header(&im);
    i = find_slot(&im, 0);
    slot(&im, i)->hash ^= 1;
    for (j = i + 1; j < h->slot_count && is_free(slot_state(slot(&im, j))); j++)
        ;
    if (j < h->slot_count)
        atomic_store(&slot(&im, j)->key_len, h->key_max + 3);
    for (j++; j < h->slot_count && is_free(slot_state(slot(&im, j))); j++)
        ;
    if (j < h->slot_count)
        slot(&im, j)->val_len = h->val_max + 1;
    emit("plain16-damaged", &im);
    free(im.bytes);
    free(base.bytes);
}

/* ======================================================================== */
/* cli                                                                      */
/* ======================================================================== */

static int cli_count;

/* One fuzz_cli input: a mode byte, then `n` bytes. */
static void cli_seed(int mode, const void *data, size_t n)
{
    unsigned char buf[4096];
    char name[32];

    if (n + 1 > sizeof buf)
        die("cli seed too long");
    buf[0] = (unsigned char)mode;
    memcpy(buf + 1, data, n);
    snprintf(name, sizeof name, "mode%d-%02d", mode, cli_count++);
    write_file("cli", name, buf, n + 1);
}

/* An argument vector, NUL-separated. */
static void cli_argv(const char *const *args)
{
    char buf[1024];
    size_t n = 0;

    for (; *args; args++) {
        size_t len = strlen(*args) + 1;
        memcpy(buf + n, *args, len);
        n += len;
    }
    cli_seed(1, buf, n - 1);
}

static void seeds_cli(void)
{
    static const char *const numbers[] = {
        "64k", "1M", "2G", "500ms", "30s", "5m", "2h", "1d", "0777", "600",
        "18446744073709551615", "18446744073709551616", "17179869184G", "-9223372036854775808",
        "+5", "007", ""};
    static const char *const dumps[] = {
        "{\"kv_dump\":1,\"slots\":64,\"key_max\":16,\"value_max\":64}\n"
        "{\"key\":\"color\",\"value\":\"blue\"}\n"
        "{\"key\":\"tab\\there\",\"value\":\"quote \\\" slash \\\\ \\/ \\u00e9 \\ud83d\\ude00\"}\n"
        "{\"key_b64\":\"/w==\",\"value_b64\":\"AAECAwQ=\"}\n",
        "{\"kv_dump\":1,\"slots\":16,\"key_max\":8,\"value_max\":8}\r\n\r\n"
        "  {\"value\":\"\",\"key\":\"empty\"}  \r\n"
        "{\"key\":\"n\",\"value_b64\":\"\"}\n",
        "{\"kv_dump\":2}\n",
        "{\"kv_dump\":1,\"slots\":0}\n",
        "{\"kv_dump\":1}\n{\"key\":\"k\",\"key_b64\":\"aw==\",\"value\":\"v\"}\n",
        "{\"kv_dump\":1}\n{\"key\":\"\\ud800\",\"value\":\"x\"}\n",
        "{\"kv_dump\":1}\n{\"key\":\"this key is much too long\",\"value\":\"x\"}\n",
    };
    static const char *const argvs[][12] = {
        {"create", "s", "--slots", "64", "--key-max=16", "--value-max", "1k", "--cache", NULL},
        {"create", "s", "--mode", "640", "--exclusive", NULL},
        {"put", "s", "k", "v", "--ttl=30s", "--print-version", NULL},
        {"put", "s", "k", "v", "--nx", "--if-version", "0", NULL},
        {"put", "s", "--", "-k", "-5", NULL},
        {"get", "s", "k", "--version", NULL},
        {"--timeout", "2s", "list", "s", "pre", "--json", NULL},
        {"incr", "s", "n", "-5", NULL},
        {"del", "s", "k", "--if-version", "3", NULL},
        {"stats", "s", "--json", NULL},
        {"ttl", "s", "k", NULL},
        {"purge", "s", NULL},
        {"dump", "s", NULL},
        {"check", "s", NULL},
        {"watch", "s", "k", "--timeout", "1s", "--json", NULL},
        {"load", "s", "-", NULL},
        {"put", "--help", NULL},
        {"--help", NULL},
    };
    static const unsigned char enc_binary[] = {4, 0xff, 0x00, '"', '\\', 0xc3, 0xa9, 0x7f,
                                               0x01, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80};
    static const char enc_text[] = "\x05" "color" "bl\xc3\xa9u \"quoted\" \\ \t";
    size_t i;

    for (i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        cli_seed(0, numbers[i], strlen(numbers[i]));
    for (i = 0; i < sizeof argvs / sizeof argvs[0]; i++)
        cli_argv(argvs[i]);
    for (i = 0; i < sizeof dumps / sizeof dumps[0]; i++)
        cli_seed(2, dumps[i], strlen(dumps[i]));
    cli_seed(3, enc_binary, sizeof enc_binary);
    cli_seed(3, enc_text, sizeof enc_text - 1);
}

/* ======================================================================== */
/* ops                                                                      */
/* ======================================================================== */

/* An ops input being built. */
typedef struct prog {
    unsigned char b[2048];
    size_t n;
} prog_t;

static void emit_byte(prog_t *p, unsigned v)
{
    if (p->n == sizeof p->b)
        die("ops seed too long");
    p->b[p->n++] = (unsigned char)v;
}

/* Geometry: slots 1 << exp, key_max 4 << kshift, val_max. */
static void begin(prog_t *p, unsigned exp, int cache, unsigned kshift, unsigned val_max)
{
    p->n = 0;
    emit_byte(p, exp | (cache ? 8u : 0u) | kshift << 4);
    emit_byte(p, val_max);
}

static void op(prog_t *p, unsigned code, unsigned variant, unsigned handle)
{
    emit_byte(p, code | variant << 5 | handle << 7);
}

/* put key (value: `len` bytes of 'v', or a numeric-table entry when
 * len >= OPS_VALUE_TABLE). */
static void op_put(prog_t *p, unsigned key, unsigned len, unsigned handle)
{
    op(p, OPS_PUT, 0, handle);
    emit_byte(p, key);
    emit_byte(p, len);
    for (unsigned i = 0; len < OPS_VALUE_TABLE && i < len; i++)
        emit_byte(p, 'v' + i % 3);
}

static void op_key(prog_t *p, unsigned code, unsigned variant, unsigned key)
{
    op(p, code, variant, 0);
    emit_byte(p, key);
}

static void emit_ops(const char *name, const prog_t *p)
{
    write_file("ops", name, p->b, p->n);
}

static void seeds_ops(void)
{
    prog_t p;
    unsigned k;

    /* A plain 8-slot store filled past full, read, emptied. */
    begin(&p, 3, 0, 0, 24);
    for (k = 0; k < 10; k++)
        op_put(&p, k * 4 + 1, k + 1, k & 1);
    op(&p, OPS_NEXT, 0, 0);
    for (k = 0; k < 10; k++)
        op_key(&p, OPS_GET, k % 4, k * 4 + 1);
    op(&p, OPS_STATS, 0, 1);
    for (k = 0; k < 5; k++)
        op_key(&p, OPS_DEL, 0, k * 4 + 1);
    op(&p, OPS_NEXT, 2, 0);
    op(&p, OPS_CHECK, 0, 0);
    emit_ops("plain8-fill", &p);

    /* A 16-slot cache overfilled: evictions, with gets keeping some hot. */
    begin(&p, 4, 1, 1, 16);
    for (k = 0; k < 30; k++) {
        op_put(&p, k, 3 + k % 5, k & 1);
        op_key(&p, OPS_GET, 0, 0);
    }
    op(&p, OPS_STATS, 0, 0);
    op(&p, OPS_NEXT, 1, 1);
    emit_ops("cache16-evict", &p);

    /* A cache of 4 slots filled past full (KV_EFULL today, see fuzz_ops.c). */
    begin(&p, 2, 1, 0, 8);
    for (k = 0; k < 6; k++)
        op_put(&p, k * 8, 2, 0);
    op(&p, OPS_STATS, 0, 0);
    emit_ops("cache4-full", &p);

    /* Compare-and-swap: put_ex with every version choice and flag. */
    begin(&p, 5, 0, 0, 32);
    for (k = 0; k < 32; k++) {
        op(&p, OPS_PUT_EX, 0, k & 1);
        emit_byte(&p, k % 8);
        emit_byte(&p, 4);
        emit_byte(&p, 'a');
        emit_byte(&p, 'b');
        emit_byte(&p, 'c');
        emit_byte(&p, 'd');
        emit_byte(&p, k * 3 % 128); /* flags, cycling through the combinations */
        if (k % 4 == 3)
            op_key(&p, OPS_DEL_IF, k % 4, k % 8);
        if (k % 5 == 0)
            op_key(&p, OPS_TTL, 0, k % 8);
    }
    op(&p, OPS_STATS, 0, 0);
    emit_ops("cas32", &p);

    /* incr over every numeric string and delta, including overflow. */
    begin(&p, 4, 0, 0, 24);
    for (k = 0; k < 16; k++) {
        op_put(&p, k, OPS_VALUE_TABLE + k, 0);
        op(&p, OPS_INCR, 0, k & 1);
        emit_byte(&p, k);
        emit_byte(&p, k % 12);
        op(&p, OPS_INCR, 0, 0);
        emit_byte(&p, 100 + k);
        emit_byte(&p, OPS_DELTA_RAW);
        for (int b = 0; b < 8; b++)
            emit_byte(&p, b == 0 ? 0x7f : 0xff);
    }
    op(&p, OPS_NEXT, 0, 0);
    emit_ops("incr16", &p);

    /* Every other operation once or twice. */
    begin(&p, 3, 0, 2, 20);
    for (k = 0; k < 6; k++)
        op_put(&p, k, 5, 0);
    op(&p, OPS_COUNT, 0, 0);
    op(&p, OPS_PURGE, 0, 1);
    op(&p, OPS_RDONLY, 0, 0);
    emit_byte(&p, 1);
    emit_byte(&p, 2);
    emit_byte(&p, 'x');
    emit_byte(&p, 'y');
    for (k = 0; k < 4; k++)
        op_key(&p, OPS_BADARGS, k, k);
    op(&p, OPS_REOPEN, 0, 0);
    op_key(&p, OPS_GET, 3, 1);
    op(&p, OPS_CLEAR, 0, 1);
    op(&p, OPS_COUNT, 0, 0);
    op_put(&p, 9, 21, 1);
    op(&p, OPS_CHECK, 0, 1);
    emit_ops("misc8", &p);
}

/* ======================================================================== */
/* names                                                                    */
/* ======================================================================== */

static void seeds_names(void)
{
    /* The first byte is the KV_CREATE bit; NAMES_END ends a shorter path. */
    enum { NAMES_END = 0xff };
    static const unsigned char paths[][NAMES_COMPONENTS + 2] = {
        {1, NAMES_NEW, NAMES_END},                          /* create in the sandbox */
        {0, NAMES_STORE, NAMES_END},                        /* the existing store */
        {1, NAMES_A, NAMES_B, NAMES_NEW, NAMES_END},        /* plain directories */
        {1, NAMES_OWN, NAMES_B, NAMES_NEW, NAMES_END},      /* a trusted relative link */
        {1, NAMES_ABS, NAMES_BACK, NAMES_STORE, NAMES_END}, /* absolute, then back up */
        {1, NAMES_FOREIGN, NAMES_NEW, NAMES_END},           /* nobody's link: refused */
        {1, NAMES_A, NAMES_B, NAMES_FOREIGN2, NAMES_NEW, NAMES_END}, /* nobody's, deeper */
        {1, NAMES_DANGLING, NAMES_NEW, NAMES_END},          /* a link to nothing */
        {1, NAMES_LOOP, NAMES_NEW, NAMES_END},              /* a link to itself */
        {1, NAMES_FILELN, NAMES_END},                       /* last component a link */
        {1, NAMES_A, NAMES_FIFO, NAMES_END},                /* a FIFO */
        {1, NAMES_A, NAMES_FILE, NAMES_NEW, NAMES_END},     /* a file on the way */
        {1, NAMES_A, NAMES_UP, NAMES_DOT, NAMES_EMPTY, NAMES_NEW, NAMES_END}, /* . and // */
        {1, NAMES_OWN, NAMES_DOTDOT, NAMES_STORE, NAMES_END}, /* .. after a link */
        {1, NAMES_A, NAMES_DOTDOT, NAMES_END},              /* ends in .. */
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char name[32];
        size_t n = 0;
        while (paths[i][n] != NAMES_END)
            n++;
        snprintf(name, sizeof name, "path-%02zu", i);
        write_file("names", name, paths[i], n);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR (DIR/attach, DIR/cli, DIR/ops and DIR/names must exist)\n");
        return 2;
    }
    out_dir = argv[1];
    if (!mkdtemp(tmp_dir))
        die("mkdtemp failed");
    seeds_attach();
    seeds_cli();
    seeds_ops();
    seeds_names();
    rmdir(tmp_dir);
    return 0;
}
