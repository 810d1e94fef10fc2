/*
 * win32_foreign_test.c — (Windows only) a Win32 program that does not use
 * kv's library opens a store's block by its kernel object name, the way the
 * classic CreateFileMapping / OpenFileMapping samples share memory:
 * OpenFileMappingW("Local\kv.<name>") + MapViewOfFile for the block, and
 * OpenMutexW("Local\kv.<name>:lock") + WaitForSingleObject for the store
 * mutex.  The README's Windows section shows this code.  The library side
 * proves it is the same block (the header says what kv_put wrote) and the
 * same mutex (while the foreign program holds it, kv_get times out).  The
 * foreign side takes the mutex in a thread of its own: a kernel mutex is
 * recursive for the thread that owns it, so kv_get in that same thread
 * would simply get it again.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <wchar.h>

#include "kv.h"
#include "layout.h" /* the header's fields; a foreign program copies kv_header_t */
#include "test.h"

/* The foreign program's view: the block and the store mutex, by name. */
typedef struct foreign {
    HANDLE section, mutex;
    const kv_header_t *hdr;
    HANDLE held, release; /* events: the holder thread has the mutex; let go */
    uint64_t used_seen;   /* `used`, read while holding the mutex */
} foreign_t;

/* The foreign program's holder thread: locks kv's mutex, reads the header,
 * says so, and keeps the mutex until told to let go. */
static DWORD WINAPI foreign_hold(void *arg)
{
    foreign_t *f = arg;
    DWORD w = WaitForSingleObject(f->mutex, 1000);
    if (w != WAIT_OBJECT_0)
        return 1;
    f->used_seen = f->hdr->used;
    SetEvent(f->held);
    WaitForSingleObject(f->release, INFINITE);
    return ReleaseMutex(f->mutex) ? 0 : 1;
}

static int foreign_open(foreign_t *f, const char *store)
{
    wchar_t name[128];
    swprintf(name, sizeof name / sizeof name[0], L"Local\\kv.%hs", store);
    f->section = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
    f->hdr = f->section ? MapViewOfFile(f->section, FILE_MAP_READ, 0, 0, 0) : NULL;
    wcscat(name, L":lock");
    f->mutex = OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, name);
    return f->hdr && f->mutex ? 0 : -1;
}

static void foreign_close(foreign_t *f)
{
    if (f->hdr)
        UnmapViewOfFile(f->hdr);
    if (f->section)
        CloseHandle(f->section);
    if (f->mutex)
        CloseHandle(f->mutex);
    if (f->held)
        CloseHandle(f->held);
    if (f->release)
        CloseHandle(f->release);
}

TEST(foreign_program_opens_the_block_by_name)
{
    const char *store = test_name("foreign");
    kv_options_t o;
    kv_t *kv = NULL;
    foreign_t f = { NULL, NULL, NULL, NULL, NULL, 0 };
    HANDLE holder;
    DWORD holder_rc = 1;
    char buf[16];
    size_t len = 0;
    kv_options_init(&o);
    o.slots = 64;
    REQUIRE_EQ(kv_open(&kv, store, KV_RDWR | KV_CREATE | KV_EXCL, &o), 0);
    CHECK_EQ(kv_put(kv, "greeting", 8, "hello", 5, 0), 0);
    CHECK_EQ(kv_put(kv, "answer", 6, "42", 2, 0), 0);

    REQUIRE_EQ(foreign_open(&f, store), 0);
    CHECK_EQ(f.hdr->magic, KV_MAGIC);
    CHECK_EQ(f.hdr->slot_count, 64);
    f.held = CreateEventW(NULL, TRUE, FALSE, NULL);
    f.release = CreateEventW(NULL, TRUE, FALSE, NULL);
    REQUIRE(f.held && f.release);
    holder = CreateThread(NULL, 0, foreign_hold, &f, 0, NULL);
    REQUIRE(holder);
    CHECK_EQ(WaitForSingleObject(f.held, 5000), WAIT_OBJECT_0);
    CHECK_EQ(f.used_seen, 2);
    /* The foreign program holds kv's mutex: the library waits for it. */
    CHECK_EQ(kv_set_timeout(kv, 100), 0);
    CHECK_EQ(kv_get(kv, "greeting", 8, buf, sizeof buf, &len), KV_ETIMEDOUT);
    SetEvent(f.release);
    WaitForSingleObject(holder, INFINITE);
    CHECK(GetExitCodeThread(holder, &holder_rc) && holder_rc == 0);
    CloseHandle(holder);
    CHECK_EQ(kv_get(kv, "greeting", 8, buf, sizeof buf, &len), 0);
    CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(kv_del(kv, "answer", 6), 0);
    CHECK_EQ(f.hdr->used, 1); /* one block: the library's writes show here */

    /* The foreign view keeps the section alive after kv's last handle. */
    kv_close(kv);
    CHECK_EQ(f.hdr->used, 1);
    foreign_close(&f);
    TEST_DONE();
}

/* Whether a section named `fmt` % rest exists (opens read-only). */
static int section_exists(const wchar_t *fmt, const char *rest)
{
    wchar_t name[128];
    HANDLE h;
    swprintf(name, sizeof name / sizeof name[0], fmt, rest);
    h = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
    if (h)
        CloseHandle(h);
    return h != NULL;
}

/* "Global.<rest>" is the section "Global\kv.<rest>": created there, or
 * refused with KV_EPERM without SeCreateGlobalPrivilege, never created as
 * "Local\kv.<rest>" instead (two stores under one name). */
TEST(global_name_is_global_or_refused)
{
    char name[96];
    const char *rest = test_name("global");
    kv_t *kv = NULL;
    snprintf(name, sizeof name, "Global.%s", rest);
    int rc = kv_open(&kv, name, KV_RDWR | KV_CREATE | KV_EXCL, NULL);
    printf("  kv_open(\"%s\", KV_CREATE): %s\n", name, rc ? kv_strerror(rc) : "created");
    CHECK(rc == 0 || rc == KV_EPERM);
    CHECK_EQ(section_exists(L"Local\\kv.%hs", rest), 0);
    CHECK_EQ(section_exists(L"Global\\kv.%hs", rest), rc == 0);
    if (rc == 0) {
        kv_t *local = NULL;
        CHECK_EQ(kv_open(&local, rest, KV_RDWR, NULL), KV_ENOENT);
        kv_close(kv);
    }
    TEST_DONE();
}

static const test_case_t tests[] = {
    TEST_ENTRY(foreign_program_opens_the_block_by_name),
    TEST_ENTRY(global_name_is_global_or_refused),
};

int main(int argc, char **argv)
{
    return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
