/* thread.c - see thread.h. PTHREAD_MUTEX_ADAPTIVE_NP and
 * pthread_setname_np are GNU extensions. */
#define _GNU_SOURCE
#include "base/banned.h"

#include "base/thread.h"

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
