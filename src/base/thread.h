/* thread.h - threads: a mutex for short critical sections taken by many
 * threads, a latch to wait for work other threads finish, names for the
 * threads Charter starts, and the monotonic clock their timings and waits
 * use.
 *
 * The ledger's state and queue locks and the server's charter pointer are
 * held for a few hundred nanoseconds, but by every request, and a server
 * runs many more threads than cores. With a plain mutex a thread that finds
 * it taken goes to sleep in the kernel, and waking it costs far more than
 * the wait would have; an adaptive mutex spins briefly first (glibc's
 * PTHREAD_MUTEX_ADAPTIVE_NP), and sleeps only if the holder stays.
 */
#ifndef CHARTER_BASE_THREAD_H
#define CHARTER_BASE_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Initializes `m` as such a mutex (a plain one where adaptive mutexes are
 * not available). Destroy it with pthread_mutex_destroy. */
void base_mutex_init_hot(pthread_mutex_t *m);

/* A count of pieces of work still running elsewhere, and a wait for none
 * to be left (a batch of ledger entries, the evaluations of an AuthZEN
 * batch). The waiter owns it; base_latch_done may be called from any
 * thread, and the latch may be destroyed once base_latch_wait returns. */
typedef struct base_latch {
    pthread_mutex_t mu;
    pthread_cond_t zero;
    size_t left;
} base_latch;

void base_latch_init(base_latch *l, size_t n);
void base_latch_add(base_latch *l, size_t n);
void base_latch_done(base_latch *l); /* one piece finished */
void base_latch_wait(base_latch *l); /* until none is left */
void base_latch_destroy(base_latch *l);

/* Names the calling thread (at most 15 characters are kept), so `top -H`
 * and debuggers show which thread is the ledger writer. */
void base_thread_name(const char *name);

/* Makes the calling thread run only on CPU time no other thread of the
 * machine wants (Linux's SCHED_IDLE): for derived, catch-up-later work such
 * as the search index, which must never take time from decisions. False
 * (and the thread unchanged) where the system refuses. */
bool base_thread_background(void);

/* CLOCK_MONOTONIC in microseconds (latencies, intervals; never a date). */
int64_t base_mono_us(void);

/* *out = the time `us` microseconds from now on `clock` (the clock of the
 * condition variable it is for): a deadline for pthread_cond_timedwait. */
void base_time_after(clockid_t clock, int64_t us, struct timespec *out);

#endif
