/* writer.h - group commit: many callers, one transaction, one sync.
 *
 * Callers on any thread hand an entry to ledger_writer_append and block (or
 * to ledger_writer_submit, and are called back when it is done; or hand
 * several to ledger_writer_append_all and wait for them together). One
 * background thread takes everything queued, gives each entry its seq and
 * hash (chain.h), inserts the lot in one transaction (plus a signed
 * checkpoint when one is due) and commits with one sync; then it wakes the
 * callers of that batch. A caller therefore returns only after its entry is
 * durable, or with the error that made the whole batch roll back.
 *
 * With a key, the writer keeps one promise that verify --key checks
 * (docs/ledger.md, "Checkpoint cadence"): a batch carries a checkpoint when
 * it brings the ledger checkpoint_every entries past the last checkpoint,
 * or when its entries are recorded checkpoint_ms or more (wall clock, the
 * entries' own time_ms) after the last checkpoint's signed time; and a
 * batch takes no more appends than the count has room for. So entries left
 * uncovered are fewer than checkpoint_every and younger than checkpoint_ms,
 * counted from the last checkpoint, and two checkpoints are at most
 * checkpoint_every appends apart. A writer opening a ledger whose last
 * entry is not covered by a checkpoint of its own cadence signs one at
 * once; a timer covers a quiet tail; closing covers the rest. Each
 * checkpoint signs the cadence (keys.h), so a forger cannot relax it.
 *
 * The writer also records each charter version before the first decision
 * made under it: an append that carries a charter whose version the ledger
 * does not hold yet gets a "charter" entry inserted just before it, in the
 * same transaction.
 *
 * And it keeps the ledger's health (charter_ledger_health): every commit
 * says whether the ledger can be written; while it cannot, the thread
 * tries a commit that adds nothing (ledger_store_ops.check) every
 * WRITER_RECHECK_MS, so the ledger recovers by itself once the cause is
 * gone, even with no traffic; while idle and healthy, it checks every
 * WRITER_IDLE_CHECK_MS without writing that the files, the lock and the
 * tail are still its own. Each change of state is reported once.
 *
 * On a store several processes append to (PostgreSQL, store->ops->shared)
 * each batch runs in one transaction under the store's chain lock: the
 * writer reads the entries others appended since it last looked
 * ("foreign" ones), checks that each links to the chain (its prev_hash is
 * the hash before it, its hash is its content's), hands each to
 * on_foreign (the recorder applies it to its state), asks `validate`
 * whether each append still holds (an append that does not fails with
 * CHARTER_E_CONFLICT and nothing of it is written; the rest commit), and
 * appends after the foreign tail. Foreign entries count in the checkpoint
 * cadence: appends that no longer fit its room go back to the head of the
 * queue for the next batch. The callers of the appends that conflicted
 * are woken at once and the writer waits a little (WRITER_LINGER_MS) under
 * the chain lock for them to decide again, taking what they queue into
 * the same transaction. Between batches it reads foreign entries when
 * poked (ledger_writer_poke) and at least every WRITER_SYNC_MS. A foreign
 * entry that does not link fails the ledger's health ("tail_changed") and
 * nothing is appended until the chain reads whole again.
 *
 * Thread safety: ledger_writer_append may be called from any thread;
 * new/note_version/start/stop from the owner only.
 */
#ifndef CHARTER_LEDGER_WRITER_H
#define CHARTER_LEDGER_WRITER_H

#include <stdbool.h>
#include <semaphore.h>
#include <stdint.h>

#include "ledger/keys.h"
#include "ledger/store.h"

typedef struct ledger_writer ledger_writer;

/* One append, owned by the caller (on its stack for ledger_writer_append,
 * anywhere that lives until `done` is called for ledger_writer_submit). */
typedef struct ledger_append {
    const char *kind;              /* "decision", "outcome", ...; NULL:
                                      record only `charter`'s version, when
                                      new (seq 0 when it was not) */
    const char *payload;           /* canonical JSON, not copied */
    size_t payload_len;
    const charter *charter;        /* decisions: the charter that decided */
    /* Filled by the writer. */
    uint64_t seq;
    charter_status status;
    char message[1024];
    sem_t *wake;                   /* the caller's; posted when done */
    sem_t *chain;                  /* the next caller's of the same batch,
                                      which this caller posts when woken */
    /* ledger_writer_submit: called on the writer thread once the entry is
     * durable or its batch failed (status says which); the append is the
     * callback's from then on. */
    void (*done)(struct ledger_append *a);
    void *user;                    /* for `done` */
    /* A shared store (several servers append): the synced seq
     * (ledger_writer_synced_seq) when the caller read the state this
     * append was decided on, and what the writer's `validate` looks at
     * (the caller's). subject NULL: never conflicts. Ignored on SQLite. */
    uint64_t basis_seq;
    void *subject;
    /* Set by the caller when this append is decided again after a
     * conflict: the writer, waiting for such appends under the chain lock
     * (commit_shared), counts them. */
    bool retry;
    struct ledger_append *next;
    struct ledger_append *next_done; /* the writer's, while waking */
} ledger_append;

typedef struct ledger_writer_config {
    ledger_store *store;           /* not owned; must outlive the writer */
    const ledger_key *key;         /* copied; NULL: no checkpoints */
    uint64_t checkpoint_every;     /* > 0 */
    uint32_t checkpoint_ms;        /* > 0 */
    uint64_t last_seq;             /* the ledger's state when it opened */
    unsigned char last_hash[LEDGER_HASH_SIZE];
    /* The checkpoint with the highest seq (the last written of those), or
     * all 0: its seq, its signed time and the cadence it records. */
    uint64_t last_checkpoint_seq;
    charter_ledger_health_fn on_health; /* may be NULL */
    void *health_user;
    int64_t last_checkpoint_time_ms;
    uint64_t last_checkpoint_every;
    uint32_t last_checkpoint_ms;
    /* Each checkpoint, once durable, is appended to this file or FIFO as
     * one JSON line (witness.h); NULL: none. Copied. */
    const char *witness_path;
    void (*witness_status)(const char *problem, void *user);
    void *witness_user;
    /* A shared store only (store->ops->shared), called on the writer
     * thread without the writer's lock: on_foreign for every entry another
     * process appended, in seq order, once it is known to link to the
     * chain; validate (false: a conflict) for every append with a
     * basis_seq older than the last foreign entry, after the foreign
     * entries before it were given to on_foreign. May be NULL. */
    void (*on_foreign)(void *user, const ledger_entry *e);
    bool (*validate)(void *user, const ledger_append *a);
    void *shared_user;
} ledger_writer_config;

#define WRITER_RECHECK_MS 500
#define WRITER_IDLE_CHECK_MS 2000
#define WRITER_SYNC_MS 1000
#define WRITER_LINGER_MS 20

charter_status ledger_writer_new(const ledger_writer_config *cfg,
                                 ledger_writer **out, charter_error *err);
/* The ledger already holds this charter version (found when it was opened). */
charter_status ledger_writer_note_version(ledger_writer *w, const char *version);
/* Starts the background thread. */
charter_status ledger_writer_start(ledger_writer *w, charter_error *err);

/* Appends one entry and waits until it is durable. On success a->seq is its
 * seq. On failure nothing of the batch it was in was written. */
charter_status ledger_writer_append(ledger_writer *w, ledger_append *a,
                                    charter_error *err);

/* The same without waiting: queues `a` and returns; a->done(a) is called
 * later on the writer thread. Returns CHARTER_E_IO (and never calls done)
 * when the writer is stopping. `a->done` must be set. */
charter_status ledger_writer_submit(ledger_writer *w, ledger_append *a,
                                    charter_error *err);

/* Appends a[0..n) together (normally in one batch) and waits until every
 * one is durable or failed; each a[i].status and .seq say how it went. The
 * result is the first failure's, if any. Queues none of them (all fail
 * with CHARTER_E_IO) when the writer is stopping. */
charter_status ledger_writer_append_all(ledger_writer *w, ledger_append *a, size_t n,
                                        charter_error *err);

/* The ledger's health now. Any thread. */
void ledger_writer_health(ledger_writer *w, charter_ledger_health *out);

/* The seq of the last entry durable in the file (0: none). Any thread. */
uint64_t ledger_writer_durable_seq(ledger_writer *w);

/* The seq of the last entry applied to the state, this process's or
 * another's (a shared store); on SQLite the durable seq. Any thread. */
uint64_t ledger_writer_synced_seq(ledger_writer *w);

/* A shared store: asks the writer to read what other processes appended
 * soon (a notification came). Any thread; does nothing on SQLite. */
void ledger_writer_poke(ledger_writer *w);

/* What the batches committed so far looked like. Any thread. */
void ledger_writer_stats(ledger_writer *w, charter_ledger_stats *out);
/* Drains the queue, writes a final checkpoint when entries are not yet
 * covered by one, stops the thread and frees the writer (NULL is fine).
 * Returns the final checkpoint's error, if any. */
charter_status ledger_writer_stop(ledger_writer *w, charter_error *err);

#endif
