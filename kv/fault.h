/*
 * fault.h — test-only crash points.
 *
 * KV_CRASH_POINT() marks a place inside a critical section where a process
 * could die.  In the kv_fault build (KV_FAULT_INJECTION defined) the k-th
 * point reached by the process, with k taken from the environment variable
 * KV_CRASH_AT, ends the process at once with _Exit(KV_CRASH_EXIT_CODE): no
 * unlock, no cleanup, exactly like a kill -9 at that instruction.  In every
 * other build the macro is empty and costs nothing.
 */
#ifndef KV_FAULT_H
#define KV_FAULT_H

#define KV_CRASH_EXIT_CODE 86

/* KV_CRASH_SPLITS_COPIES: whether copies are split around a crash point
 * (journal.c), so that a release build copies with one memcpy. */
#ifdef KV_FAULT_INJECTION
void kv__fault_point(void);
#  define KV_CRASH_POINT() kv__fault_point()
#  define KV_CRASH_SPLITS_COPIES 1
#else
#  define KV_CRASH_POINT() ((void)0)
#  define KV_CRASH_SPLITS_COPIES 0
#endif

#endif /* KV_FAULT_H */
