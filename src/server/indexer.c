/* indexer.c - the server's search-index thread: follows the ledger into
 * its derived index, the ledger's side file `.search` (`<ledger>.search`
 * beside a SQLite file; ledger_sidecar for PostgreSQL; src/ledger/search.h).
 *
 * One thread of its own, with its own SQLite connections: it reads the
 * ledger read-only and writes only the index, so it takes none of the
 * ledger's locks and adds nothing to the decision path. At start it
 * catches up from the last indexed seq (a progress line in the log every
 * 100,000 entries of a long catch-up), then looks for new entries every
 * SRV_INDEX_POLL_MS. Handlers read the index with connections of their own
 * (api_search.c) and report how far it has got.
 */
#include "base/banned.h"

#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/thread.h"
#include "ledger/search.h"
#include "ledger/store.h"

#define SRV_INDEX_POLL_MS 200
#define SRV_INDEX_STEP 8192           /* entries per update, between stop checks */
#define SRV_INDEX_PROGRESS 100000     /* a log line per this many entries */

struct srv_indexer {
    srv *s;
    ledger_search *x;
    char path[4096];                  /* the index's file, for the log */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    _Atomic uint64_t ledger_seq;      /* the ledger's last seq, as last seen */
};

static void wait_ms(srv_indexer *ix, long ms)
{
    struct timespec until;
    base_time_after(CLOCK_REALTIME, (int64_t)ms * 1000, &until);
    pthread_mutex_lock(&ix->mu);
    if (!ix->stopping)
        pthread_cond_timedwait(&ix->cv, &ix->mu, &until);
    pthread_mutex_unlock(&ix->mu);
}

static bool stopping(srv_indexer *ix)
{
    pthread_mutex_lock(&ix->mu);
    bool st = ix->stopping;
    pthread_mutex_unlock(&ix->mu);
    return st;
}

static void *indexer_main(void *arg)
{
    srv_indexer *ix = arg;
    srv *s = ix->s;
    base_thread_name("charter-index");
    /* The index is derived and may lag: it gets only CPU time that the
     * decisions (and everything else) leave, so following the ledger
     * never slows /v1/decide; under full load it falls behind, and catches
     * up as soon as the load eases (answers say how far it is). */
    if (!base_thread_background())
        srv_log(s, "search index: cannot lower the indexer's priority (SCHED_IDLE); "
                   "it runs at normal priority");
    bool failing = false;
    /* A catch-up: from where the index was to the ledger's end as first
     * seen; logged when it is long. */
    uint64_t from = 0, next_line = 0;
    int64_t t0 = 0;
    bool catching_up = false;
    while (!stopping(ix)) {
        ledger_search_step step;
        charter_error err;
        memset(&err, 0, sizeof err);
        charter_status st = ledger_search_update(ix->x, SRV_INDEX_STEP, &step, &err);
        if (st != CHARTER_OK) {
            if (!failing)
                srv_log(s, "search index: cannot follow the ledger: %s; searching shows "
                           "what was indexed before; trying again every second",
                        err.message);
            failing = true;
            wait_ms(ix, 1000);
            continue;
        }
        if (failing)
            srv_log(s, "search index: following the ledger again (indexed through %llu)",
                    (unsigned long long)step.through);
        failing = false;
        atomic_store(&ix->ledger_seq, step.ledger_seq);
        if (step.rebuilt)
            srv_log(s, "search index: '%s' was not an index of this ledger (deleted, "
                       "replaced or of another ledger): building it again from the start",
                    ix->path);
        uint64_t behind = step.ledger_seq - step.through;
        if (!catching_up && behind + step.indexed >= SRV_INDEX_PROGRESS) {
            catching_up = true;
            from = step.through - step.indexed;
            next_line = from + SRV_INDEX_PROGRESS;
            t0 = base_mono_us();
            srv_log(s, "search index: indexing %llu ledger entries (%llu to %llu); "
                       "searches answer from what is indexed meanwhile",
                    (unsigned long long)(step.ledger_seq - from),
                    (unsigned long long)from + 1, (unsigned long long)step.ledger_seq);
        }
        if (catching_up && step.through >= next_line && behind) {
            srv_log(s, "search index: %llu of %llu entries indexed",
                    (unsigned long long)(step.through - from),
                    (unsigned long long)(step.ledger_seq - from));
            while (next_line <= step.through)
                next_line += SRV_INDEX_PROGRESS;
        }
        if (catching_up && !behind) {
            catching_up = false;
            srv_log(s, "search index: caught up with the ledger at entry %llu "
                       "(%llu entries in %.1f s)",
                    (unsigned long long)step.through,
                    (unsigned long long)(step.through - from),
                    (double)(base_mono_us() - t0) / 1e6);
        }
        if (!behind)
            wait_ms(ix, SRV_INDEX_POLL_MS);
    }
    return NULL;
}

charter_status srv_indexer_start(srv *s, charter_error *err)
{
    srv_indexer *ix = calloc(1, sizeof *ix);
    if (!ix)
        return CHARTER_E_NOMEM;
    ix->s = s;
    if (ledger_sidecar(s->ledger_path, LEDGER_SEARCH_SUFFIX, ix->path, sizeof ix->path))
        snprintf(ix->path, sizeof ix->path, "the ledger's %s file", LEDGER_SEARCH_SUFFIX);
    pthread_mutex_init(&ix->mu, NULL);
    pthread_cond_init(&ix->cv, NULL);
    bool rebuilt = false;
    charter_status st = ledger_search_open(s->ledger_path, &ix->x, &rebuilt, err);
    if (st != CHARTER_OK) {
        srv_indexer_stop(ix);
        return st;
    }
    if (rebuilt)
        srv_log(s, "search index: '%s' was not a search index; it is built again",
                ix->path);
    if (pthread_create(&ix->thread, NULL, indexer_main, ix) != 0) {
        srv_indexer_stop(ix);
        return CHARTER_E_NOMEM;
    }
    ix->started = true;
    s->indexer = ix;
    return CHARTER_OK;
}

void srv_indexer_stop(srv_indexer *ix)
{
    if (!ix)
        return;
    pthread_mutex_lock(&ix->mu);
    ix->stopping = true;
    pthread_cond_broadcast(&ix->cv);
    pthread_mutex_unlock(&ix->mu);
    if (ix->started)
        pthread_join(ix->thread, NULL);
    ledger_search_close(ix->x);
    pthread_mutex_destroy(&ix->mu);
    pthread_cond_destroy(&ix->cv);
    free(ix);
}

uint64_t srv_indexer_ledger_seq(srv_indexer *ix)
{
    return ix ? atomic_load(&ix->ledger_seq) : 0;
}
