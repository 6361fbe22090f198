/* recorder.h - internal entry points of the recording ledger (recorder.c).
 *
 * charter_ledger_open is the public way in; tests use ledger_open_with to
 * reach the storage knobs (a page cap to make the "disk" full).
 */
#ifndef CHARTER_LEDGER_RECORDER_H
#define CHARTER_LEDGER_RECORDER_H

#include <pthread.h>
#include <stdatomic.h>

#include "charter_ledger.h"
#include "ledger/state.h"
#include "ledger/store.h"
#include "ledger/writer.h"

#define BUDGET_LOCKS 64

/* What an append was decided on, for the writer's validate on a shared
 * ledger (ledger_append.subject; recorder.c): the counters of an agent's
 * run and day (agent NULL: none), an escalation (0: none), a grant (0:
 * none; with `revoke`, only its revocation by another server conflicts). */
typedef struct ledger_subject {
    const char *agent, *run_id;
    int64_t day;
    uint64_t esc_seq;
    uint64_t grant_seq;
    bool revoke;
} ledger_subject;

/* Times a decision is decided again when another server changed its
 * budgets first (CHARTER_E_CONFLICT) before it fails closed. */
#define LEDGER_CONFLICT_TRIES 16

struct rebuild;
struct ledger_watch;

/* A recording ledger (recorder.c opens and closes it; escalation.c reads
 * and resolves its escalations). */
struct charter_ledger {
    ledger_store *store;
    ledger_writer *writer;
    pthread_mutex_t mu; /* guards state; held only for table operations */
    ledger_state state;
    /* Striped by agent and by run id; taken before mu, lower index first. */
    pthread_mutex_t budget[BUDGET_LOCKS];
    /* Broadcast (with mu) whenever an escalation is resolved or moved, and
     * when waits are interrupted. */
    pthread_cond_t resolved_cv;
    /* Broadcast (with mu) whenever state.esc_version bumps, and when waits
     * are interrupted (charter_ledger_escalations_wait). Apart from
     * resolved_cv so that a new escalation does not wake every agent
     * waiting for its own. */
    pthread_cond_t version_cv;
    bool waits_interrupted;
    /* A read-only connection for looking entries up, opened on first use. */
    pthread_mutex_t reader_mu;
    ledger_store *reader;
    ledger_store_config reader_cfg;
    char *path;
    /* Standing approvals (grant.c): one grant pass or revocation at a time,
     * and the charter version the last pass applied grants under. */
    pthread_mutex_t grant_mu;
    char grant_charter[160];
    /* A shared ledger (store->ops->shared): applying foreign entries (the
     * writer thread's), the option told of another server's charter, and
     * the thread that pokes the writer when the ledger notifies. */
    bool shared;
    struct rebuild *apply;
    void (*on_charter_loaded)(void *user, const char *version);
    void *charter_user;
    struct deferred *deferred; /* guarded by mu (recorder.c) */
    struct ledger_watch *watch;
    pthread_t watch_thread;
    bool watch_started;
    _Atomic bool watch_stop;
};

/* The synced seq to decide on (ledger_append.basis_seq): 0 on SQLite. */
uint64_t ledger_basis(charter_ledger *l);

/* Applies what other servers did to escalation or grant `target` (a seq)
 * before this server settled the decision that opened it or added the
 * grant it recorded (mu held). */
void ledger_apply_deferred(charter_ledger *l, uint64_t target);

/* Takes the budget locks a decision of `agent` in `run_id` reads; fills
 * slot[2] for ledger_budget_unlock. */
void ledger_budget_lock(charter_ledger *l, const char *agent, const char *run_id,
                        unsigned slot[2]);
void ledger_budget_unlock(charter_ledger *l, const unsigned slot[2]);

/* Serializes a JSON payload (sorted keys, compact; takes `j`): a string
 * the caller frees, or NULL when out of memory. */
struct json_t;
char *ledger_payload_json(struct json_t *j, size_t *len);
/* The same, appended as an entry of `kind`; *seq (may be NULL) receives
 * its seq. */
charter_status ledger_append_json(charter_ledger *l, const char *kind,
                                  struct json_t *j, uint64_t *seq,
                                  charter_error *err);

/* The payload of decision `seq` (known to be one; `id` its "d-<seq>" for
 * messages) read back from the file through the ledger's reader
 * connection; *out is malloc'd (escalation.c). */
charter_status ledger_decision_read(charter_ledger *l, uint64_t seq, const char *id,
                                    char **out, size_t *len, charter_error *err);

charter_status ledger_open_with(const char *path, const charter_ledger_options *opt,
                                const ledger_store_config *cfg,
                                charter_ledger **out, charter_error *err);

/* The decision payload's fields the recorder reads back on open. */
typedef struct ledger_decision_info {
    const char *agent, *run_id, *workflow, *action; /* "" when absent */
    const char *effect;          /* the recorded answer's "decision" */
    const char *queue;           /* an escalation's queue ("" : none) */
    int64_t deadline_ms;         /* an escalation's deadline (0: none) */
    int64_t time_ms;             /* the decision time */
    double spend;
    const char *rule;            /* an escalation's rule ("" : none; grant.h) */
} ledger_decision_info;

#endif
