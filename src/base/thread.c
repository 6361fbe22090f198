/* thread.c - see thread.h. PTHREAD_MUTEX_ADAPTIVE_NP and
 * pthread_setname_np and SCHED_IDLE are GNU extensions. */
#define _GNU_SOURCE
#include "base/banned.h"

#include "base/thread.h"

#include <sched.h>
#include <time.h>

void base_mutex_init_hot(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
#ifdef PTHREAD_MUTEX_ADAPTIVE_NP
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

void base_latch_init(base_latch *l, size_t n)
{
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->zero, NULL);
    l->left = n;
}

void base_latch_add(base_latch *l, size_t n)
{
    pthread_mutex_lock(&l->mu);
    l->left += n;
    pthread_mutex_unlock(&l->mu);
}

void base_latch_done(base_latch *l)
{
    pthread_mutex_lock(&l->mu);
    if (--l->left == 0)
        pthread_cond_signal(&l->zero);
    pthread_mutex_unlock(&l->mu);
}

void base_latch_wait(base_latch *l)
{
    pthread_mutex_lock(&l->mu);
    while (l->left)
        pthread_cond_wait(&l->zero, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

void base_latch_destroy(base_latch *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->zero);
}

int64_t base_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void base_thread_name(const char *name)
{
    char n[16];
    size_t i = 0;
    for (; name[i] && i < sizeof n - 1; i++)
        n[i] = name[i];
    n[i] = '\0';
    pthread_setname_np(pthread_self(), n);
}

bool base_thread_background(void)
{
#ifdef SCHED_IDLE
    struct sched_param sp = {.sched_priority = 0};
    return pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0;
#else
    return false;
#endif
}

void base_time_after(clockid_t clock, int64_t us, struct timespec *out)
{
    clock_gettime(clock, out);
    out->tv_sec += (time_t)(us / 1000000);
    out->tv_nsec += (long)(us % 1000000) * 1000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}
