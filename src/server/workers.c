/* workers.c - the threads that run requests which may block (server.h).
 *
 * The event threads never wait: a request that may (a long poll, a
 * resolution or an outcome waiting for its commit, an analysis reading the
 * whole ledger) is handed to a worker. Jobs wait in a FIFO; a job that finds
 * no idle worker starts a new one, up to the cap, so a crowd of long polls
 * costs threads, as it did with a thread per connection, but only while
 * they are there. Workers stay once started (idle, on a condition variable)
 * and are joined when the pool is freed.
 */
#include "base/banned.h"

#include "server/server.h"

#include <stdlib.h>

#include "base/thread.h"

struct srv_workers {
    pthread_mutex_t mu;
    pthread_cond_t work;
    srv_job *head, *tail;
    size_t idle, queued, max;
    pthread_t *threads;
    size_t count, cap;
    bool stopping;
};

static void *worker_main(void *arg)
{
    srv_workers *w = arg;
    base_thread_name("charter-worker");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping) {
            w->idle++;
            pthread_cond_wait(&w->work, &w->mu);
            w->idle--;
        }
        if (!w->head)
            break; /* stopping, and nothing left to run */
        srv_job *j = w->head;
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        j->run(j);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

charter_status srv_workers_new(size_t max, srv_workers **out)
{
    *out = NULL;
    srv_workers *w = calloc(1, sizeof *w);
    if (!w)
        return CHARTER_E_NOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    w->max = max ? max : 1;
    *out = w;
    return CHARTER_OK;
}

/* Starts one more worker (mu held); false when none could be. */
static bool grow(srv_workers *w)
{
    if (w->count == w->max)
        return false;
    if (w->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 8;
        pthread_t *t = realloc(w->threads, cap * sizeof *t);
        if (!t)
            return false;
        w->threads = t;
        w->cap = cap;
    }
    if (pthread_create(&w->threads[w->count], NULL, worker_main, w) != 0)
        return false;
    w->count++;
    return true;
}

bool srv_workers_run(srv_workers *w, srv_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    /* Every queued job needs a worker of its own: a long poll may hold
     * one for a minute. */
    if (w->queued >= w->idle && !grow(w) && !w->count) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->queued++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    return true;
}

void srv_workers_free(srv_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->count; i++)
        pthread_join(w->threads[i], NULL);
    free(w->threads);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    free(w);
}
