/*
 * names_format.h — how fuzz_names reads its input, shared with make_seeds
 * so that the seed corpus speaks the same encoding.
 *
 *   byte 0   bit 0: open with KV_CREATE
 *   then     up to NAMES_COMPONENTS bytes, each a path component:
 *            names_tokens[b % NAMES_TOKENS], joined with '/' under the
 *            fuzzer's sandbox (fuzz_names.c describes what each name is)
 */
#ifndef KV_FUZZ_NAMES_FORMAT_H
#define KV_FUZZ_NAMES_FORMAT_H

#define NAMES_COMPONENTS 10

enum {
    NAMES_A, NAMES_B, NAMES_FILE, NAMES_FIFO, NAMES_STORE, NAMES_OWN, NAMES_ABS,
    NAMES_FOREIGN, NAMES_BACK, NAMES_DANGLING, NAMES_LOOP, NAMES_FILELN, NAMES_UP,
    NAMES_DOT, NAMES_DOTDOT, NAMES_EMPTY, NAMES_NEW, NAMES_FOREIGN2, NAMES_TOKENS
};

static const char *const names_tokens[NAMES_TOKENS] = {
    "a", "b", "file", "fifo", "store.kv", "own", "abs", "foreign", "back",
    "dangling", "loop", "fileln", "up", ".", "..", "", "new.kv", "foreign2",
};

#endif /* KV_FUZZ_NAMES_FORMAT_H */
