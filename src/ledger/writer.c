/* writer.c - the group-commit writer (writer.h).
 *
 * One mutex guards the queue and the writer's state; the condition variable
 * `work` wakes the writer thread. Each caller waits on a semaphore of its
 * own, posted when its batch has been committed (or rolled back): only the
 * callers of that batch wake, not every caller queued behind it (with many
 * concurrent callers, waking all of them at every commit cost more than the
 * commit), and they wake each other in a chain so the writer is not
 * preempted once per caller. The thread holds the mutex only to take the queue and to count
 * results, never while writing to disk, so callers keep queueing the next
 * batch while the current one syncs.
 */
#include "base/banned.h"

#include "ledger/writer.h"
#include "ledger/chain.h"
#include "ledger/witness.h"
#include "base/jspan.h"
#include "base/thread.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITER_MAX_BATCH 4096

struct ledger_writer {
    ledger_store *store;
    ledger_key key;
    bool has_key;
    uint64_t checkpoint_every;
    uint32_t checkpoint_ms;

    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_t thread;
    bool started, stopping;
    ledger_append *head, *tail;

    /* The seq of the last entry durable in the file: written by the
     * writer thread, read by any. */
    _Atomic uint64_t durable_seq;

    /* A shared store (writer.h): its recorder's callbacks, the seq of
     * the last entry the state has (own or foreign; any thread reads it),
     * the last foreign entry's seq, and, once a foreign entry did not
     * link, why (writer thread). `poked` is guarded by mu. */
    bool shared;
    void (*on_foreign)(void *user, const ledger_entry *e);
    bool (*validate)(void *user, const ledger_append *a);
    void *shared_user;
    _Atomic uint64_t synced_seq;
    uint64_t last_foreign_seq;
    bool poked;
    int64_t last_sync_mono_ms;
    /* Guarded by mu: retried appends queued so far (ledger_append.retry),
     * and whether the writer waits
     * for the re-decided appends of a batch's conflicts (commit_shared). */
    uint64_t retried;
    bool lingering;
    bool broken;
    char broken_message[1024];

    /* Owned by the writer thread once started. */
    uint64_t last_seq;
    unsigned char last_hash[LEDGER_HASH_SIZE];
    uint64_t last_checkpoint_seq;
    int64_t last_checkpoint_mono_ms;  /* the timer's: last attempt */
    int64_t last_checkpoint_time_ms;  /* the last durable one's signed time */
    bool open_checkpoint;             /* sign one when the thread starts */
    char *witness_path;
    void (*witness_status)(const char *problem, void *user);
    void *witness_user;
    bool witness_failing;
    charter_status final_status;
    char final_message[1024];

    /* Charter versions the ledger holds. */
    char **versions;
    size_t version_count, version_cap;

    /* Guarded by mu: what the batches looked like (for metrics), and
     * whether the ledger can be written. */
    charter_ledger_stats stats;
    charter_ledger_health health;
    charter_ledger_health_fn on_health;
    void *health_user;
    int64_t last_check_mono_ms; /* writer thread: last commit or check */

    /* Reused across batches. */
    ledger_entry *entries;
    char **charter_payloads;
    size_t entry_cap;
};

static void count_batch(charter_ledger_stats *st, const ledger_append *batch)
{
    uint64_t n = 0;
    bool ok = true;
    for (const ledger_append *a = batch; a; a = a->next) {
        n++;
        ok = a->status == CHARTER_OK;
    }
    if (!ok) {
        st->failed_batches++;
        return;
    }
    st->batches++;
    st->entries += n;
    size_t b = 0;
    while (b + 1 < CHARTER_BATCH_BUCKETS && n > (1ull << b))
        b++;
    st->batch_size_le[b]++;
}

void ledger_writer_stats(ledger_writer *w, charter_ledger_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void ledger_writer_health(ledger_writer *w, charter_ledger_health *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->health;
    pthread_mutex_unlock(&w->mu);
}

static int64_t mono_ms(void)
{
    return base_mono_us() / 1000;
}

/* Learns from a write or a check (on the writer thread) whether the ledger
 * can be written. Only CHARTER_E_IO counts against it (out of memory says
 * nothing about the ledger). A change is reported once; while failing, the
 * reason and message follow the latest failure. */
static void health_note(ledger_writer *w, charter_status st, const char *message)
{
    w->last_check_mono_ms = mono_ms();
    if (st != CHARTER_OK && st != CHARTER_E_IO)
        return;
    bool ok = st == CHARTER_OK;
    const char *reason = ledger_problem_name(w->store->problem);
    charter_ledger_health now;
    pthread_mutex_lock(&w->mu);
    bool changed = ok != w->health.ok;
    if (changed)
        w->health.since_ms = charter_now_ms();
    w->health.ok = ok;
    w->health.reason = ok ? NULL : reason ? reason : "io_error";
    snprintf(w->health.message, sizeof w->health.message, "%s",
             ok ? "" : message && *message ? message : "the ledger cannot be written");
    now = w->health;
    pthread_mutex_unlock(&w->mu);
    if (changed && w->on_health)
        w->on_health(w->health_user, &now);
}

static void catch_up(ledger_writer *w);

/* Is a check of the ledger's health due (mu held)? */
static int64_t health_check_due_ms(const ledger_writer *w)
{
    return w->last_check_mono_ms +
           (w->health.ok ? WRITER_IDLE_CHECK_MS : WRITER_RECHECK_MS);
}

/* Checks the ledger (writer thread, without mu): a commit that adds
 * nothing while failing, a look without writing while healthy. */
static void health_check(ledger_writer *w, bool failing)
{
    if (w->shared && w->broken) {
        /* Healthy again only once the chain reads whole. */
        catch_up(w);
        w->last_check_mono_ms = mono_ms();
        return;
    }
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = w->store->ops->check(w->store, w->last_seq, w->last_hash,
                                             failing ? LEDGER_CHECK_WRITE
                                                     : LEDGER_CHECK_READ,
                                             &err);
    health_note(w, st, err.message);
}

static bool has_version(const ledger_writer *w, const char *v)
{
    for (size_t i = w->version_count; i-- > 0;)
        if (!strcmp(w->versions[i], v))
            return true;
    return false;
}

charter_status ledger_writer_note_version(ledger_writer *w, const char *version)
{
    if (has_version(w, version))
        return CHARTER_OK;
    if (w->version_count == w->version_cap) {
        size_t cap = w->version_cap ? 2 * w->version_cap : 8;
        char **v = realloc(w->versions, cap * sizeof *v);
        if (!v)
            return CHARTER_E_NOMEM;
        w->versions = v;
        w->version_cap = cap;
    }
    char *copy = strdup(version);
    if (!copy)
        return CHARTER_E_NOMEM;
    w->versions[w->version_count++] = copy;
    return CHARTER_OK;
}

charter_status ledger_writer_new(const ledger_writer_config *cfg,
                                 ledger_writer **out, charter_error *err)
{
    *out = NULL;
    ledger_writer *w = calloc(1, sizeof *w);
    if (!w)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory starting the writer");
    w->store = cfg->store;
    if (cfg->key) {
        w->key = *cfg->key;
        w->has_key = true;
    }
    w->checkpoint_every = cfg->checkpoint_every ? cfg->checkpoint_every : 1000;
    w->checkpoint_ms = cfg->checkpoint_ms ? cfg->checkpoint_ms : 10000;
    w->last_seq = cfg->last_seq;
    atomic_store(&w->durable_seq, cfg->last_seq);
    atomic_store(&w->synced_seq, cfg->last_seq);
    w->shared = cfg->store->ops->shared;
    w->on_foreign = cfg->on_foreign;
    w->validate = cfg->validate;
    w->shared_user = cfg->shared_user;
    memcpy(w->last_hash, cfg->last_hash, LEDGER_HASH_SIZE);
    w->last_checkpoint_seq = cfg->last_checkpoint_seq;
    w->last_checkpoint_mono_ms = mono_ms();
    w->last_check_mono_ms = w->last_checkpoint_mono_ms;
    w->health.ok = true;
    w->health.since_ms = charter_now_ms();
    w->on_health = cfg->on_health;
    w->health_user = cfg->health_user;
    /* A ledger without a checkpoint counts time from now: its first
     * checkpoint comes after checkpoint_every entries or checkpoint_ms, as
     * any other (verify holds the entries before it to the count alone). */
    w->last_checkpoint_time_ms = cfg->last_checkpoint_seq ? cfg->last_checkpoint_time_ms
                                                          : charter_now_ms();
    /* A tail a crash left uncovered, or a cadence other than the one the
     * last checkpoint signed, gets a checkpoint before anything new: the
     * entries after it are then this writer's, held to its cadence. */
    w->open_checkpoint = w->has_key && w->last_seq > 0 &&
                         (cfg->last_checkpoint_seq != w->last_seq ||
                          cfg->last_checkpoint_every != w->checkpoint_every ||
                          cfg->last_checkpoint_ms != w->checkpoint_ms);
    if (cfg->witness_path && !(w->witness_path = strdup(cfg->witness_path))) {
        free(w);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory starting the writer");
    }
    w->witness_status = cfg->witness_status;
    w->witness_user = cfg->witness_user;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    base_mutex_init_hot(&w->mu);
    pthread_cond_init(&w->work, &ca);
    pthread_condattr_destroy(&ca);
    *out = w;
    return CHARTER_OK;
}

/* The payload of a "charter" entry: the version's full canonical content,
 * kept as a string so its exact bytes (and so its version hash) survive. */
static char *charter_payload(const charter *c, size_t *len)
{
    size_t n;
    const char *canon = charter_canonical_json(c, &n);
    const char *name = charter_name(c);
    json_t *j = json_pack("{s:s%,s:s,s:s}", "canonical", canon ? canon : "",
                          canon ? n : (size_t)0, "name", name ? name : "",
                          "version", charter_version(c));
    char *out = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(j);
    if (out)
        *len = strlen(out);
    return out;
}

static bool grow_entries(ledger_writer *w, size_t need)
{
    if (need <= w->entry_cap)
        return true;
    size_t cap = w->entry_cap ? w->entry_cap : 64;
    while (cap < need)
        cap *= 2;
    ledger_entry *e = realloc(w->entries, cap * sizeof *e);
    if (!e)
        return false;
    w->entries = e;
    char **p = realloc(w->charter_payloads, cap * sizeof *p);
    if (!p)
        return false;
    w->charter_payloads = p;
    w->entry_cap = cap;
    return true;
}

static void fail_batch(ledger_append *batch, charter_status st, const char *msg)
{
    for (ledger_append *a = batch; a; a = a->next) {
        a->status = st;
        snprintf(a->message, sizeof a->message, "%s", msg);
    }
}

/* Is a checkpoint due after the ledger reaches `seq` with entries recorded
 * at `now` (wall clock)? The wall-clock test is the promise verify checks
 * against the entries' time_ms; the monotonic one drives the timer. */
static bool checkpoint_due(const ledger_writer *w, uint64_t seq, int64_t now, bool force)
{
    if (!w->has_key || seq <= w->last_checkpoint_seq)
        return false;
    return force || seq - w->last_checkpoint_seq >= w->checkpoint_every ||
           (now && now - w->last_checkpoint_time_ms >= (int64_t)w->checkpoint_ms) ||
           mono_ms() - w->last_checkpoint_mono_ms >= (int64_t)w->checkpoint_ms;
}

static void make_checkpoint(const ledger_writer *w, uint64_t seq,
                            const unsigned char hash[LEDGER_HASH_SIZE],
                            ledger_checkpoint *cp)
{
    memset(cp, 0, sizeof *cp);
    cp->seq = seq;
    memcpy(cp->hash, hash, LEDGER_HASH_SIZE);
    cp->time_ms = charter_now_ms();
    cp->checkpoint_every = w->checkpoint_every;
    cp->checkpoint_ms = w->checkpoint_ms;
    ledger_checkpoint_sign(&w->key, cp);
}

/* A checkpoint is durable: note it, and hand its head to the witness.
 * A witness that cannot be written is reported once per change (failing,
 * working again), never fatal: the ledger holds the head, and `charter
 * checkpoints` exports it later. */
static void checkpoint_done(ledger_writer *w, const ledger_checkpoint *cp)
{
    w->last_checkpoint_seq = cp->seq;
    w->last_checkpoint_time_ms = cp->time_ms;
    if (!w->witness_path)
        return;
    char why[512];
    bool ok = ledger_witness_append(w->witness_path, cp, why, sizeof why);
    if (ok != w->witness_failing)
        return;
    w->witness_failing = !ok;
    if (w->witness_status)
        w->witness_status(ok ? NULL : why, w->witness_user);
}

/* ---- A shared store: entries other processes appended ----------------------- */

/* Reading foreign entries: how it went. */
typedef struct catch_up_ctx {
    ledger_writer *w;
    bool broken;
    char why[1024];
} catch_up_ctx;

/* The version a foreign "charter" entry records (empty when unreadable). */
static void note_foreign_version(ledger_writer *w, const ledger_entry *e)
{
    jspan p, v;
    char buf[256];
    const char *str;
    size_t n;
    if (!jspan_value(e->payload, e->payload_len, &p) || !jspan_get(p, "version", &v) ||
        v.p[0] != '"' || !jspan_str(v, buf, sizeof buf, &str, &n) || n >= sizeof buf)
        return;
    char version[256];
    memcpy(version, str, n);
    version[n] = '\0';
    ledger_writer_note_version(w, version);
}

/* One foreign entry (writer thread): it must follow the last entry known
 * and link to it; then it is the chain's tail, and the state's. */
static int foreign_entry(const ledger_entry *e, void *user)
{
    catch_up_ctx *c = user;
    ledger_writer *w = c->w;
    char want[2 * LEDGER_HASH_SIZE + 1], found[2 * LEDGER_HASH_SIZE + 1];
    unsigned char h[LEDGER_HASH_SIZE];
    if (e->seq != w->last_seq + 1) {
        snprintf(c->why, sizeof c->why,
                 "the ledger's entry after seq %llu is seq %llu: entries are missing "
                 "from the chain another server appended to",
                 (unsigned long long)w->last_seq, (unsigned long long)e->seq);
        c->broken = true;
        return 1;
    }
    if (memcmp(e->prev_hash, w->last_hash, LEDGER_HASH_SIZE) != 0) {
        ledger_hex(w->last_hash, LEDGER_HASH_SIZE, want);
        ledger_hex(e->prev_hash, LEDGER_HASH_SIZE, found);
        snprintf(c->why, sizeof c->why,
                 "entry %llu, appended by another process, does not link to entry %llu: "
                 "its prev_hash is %.16s..., expected %.16s... (run 'charter verify')",
                 (unsigned long long)e->seq, (unsigned long long)w->last_seq, found, want);
        c->broken = true;
        return 1;
    }
    ledger_entry_hash(e, h);
    if (memcmp(h, e->hash, LEDGER_HASH_SIZE) != 0) {
        ledger_hex(h, LEDGER_HASH_SIZE, want);
        ledger_hex(e->hash, LEDGER_HASH_SIZE, found);
        snprintf(c->why, sizeof c->why,
                 "entry %llu, appended by another process, has hash %.16s... but its "
                 "content hashes to %.16s... (run 'charter verify')",
                 (unsigned long long)e->seq, found, want);
        c->broken = true;
        return 1;
    }
    if (!strcmp(e->kind, "charter"))
        note_foreign_version(w, e);
    w->last_seq = e->seq;
    memcpy(w->last_hash, e->hash, LEDGER_HASH_SIZE);
    w->last_foreign_seq = e->seq;
    if (w->on_foreign)
        w->on_foreign(w->shared_user, e);
    atomic_store(&w->durable_seq, e->seq);
    atomic_store(&w->synced_seq, e->seq);
    return 0;
}

/* The chain does not read whole: nothing is appended until it does. */
static void chain_broken(ledger_writer *w, const char *why)
{
    w->broken = true;
    snprintf(w->broken_message, sizeof w->broken_message, "%s", why);
    w->store->problem = LEDGER_PROBLEM_TAIL_CHANGED;
    health_note(w, CHARTER_E_IO, w->broken_message);
}

/* Reads the entries appended after w->last_seq (inside an append's
 * transaction, or on their own between batches) and checks the chain
 * reaches `tail` (NULL: wherever it ends). CHARTER_E_IO with `why` when
 * it cannot be read or does not link (then w->broken). */
static charter_status read_foreign(ledger_writer *w, const ledger_entry *tail, char *why,
                                   size_t why_size)
{
    catch_up_ctx c = {.w = w};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = CHARTER_OK;
    if (!tail || tail->seq > w->last_seq)
        st = w->store->ops->read(w->store, w->last_seq + 1, foreign_entry, &c, &err);
    w->last_sync_mono_ms = mono_ms();
    if (st != CHARTER_OK) {
        snprintf(why, why_size, "%s", err.message);
        return st;
    }
    if (!c.broken && tail &&
        (tail->seq != w->last_seq ||
         (tail->seq && memcmp(tail->hash, w->last_hash, LEDGER_HASH_SIZE) != 0))) {
        c.broken = true;
        snprintf(c.why, sizeof c.why,
                 "the ledger's last entry is seq %llu, but the chain this server read "
                 "ends at seq %llu%s: entries were removed or rewritten (run 'charter "
                 "verify')", (unsigned long long)tail->seq, (unsigned long long)w->last_seq,
                 tail->seq == w->last_seq ? " with another hash" : "");
    }
    if (c.broken) {
        chain_broken(w, c.why);
        snprintf(why, why_size, "%s", c.why);
        return CHARTER_E_IO;
    }
    if (w->broken) { /* it reads whole again */
        w->broken = false;
        w->store->problem = LEDGER_PROBLEM_NONE;
        health_note(w, CHARTER_OK, NULL);
    }
    return CHARTER_OK;
}

/* Between batches: what others appended (writer thread, without mu). A
 * read that fails says so in the health only when it is new. */
static void catch_up(ledger_writer *w)
{
    char why[1024];
    charter_status st = read_foreign(w, NULL, why, sizeof why);
    if (st != CHARTER_OK && !w->broken)
        health_note(w, st, why);
}

/* Starts an append on a shared store: the chain lock, then the foreign
 * entries before the tail. On failure no transaction is left open. */
static charter_status shared_begin(ledger_writer *w, charter_error *err)
{
    char why[1024];
    if (w->broken && read_foreign(w, NULL, why, sizeof why) != CHARTER_OK)
        return ledger_fail(err, CHARTER_E_IO, "%s", w->broken ? w->broken_message : why);
    ledger_entry tail;
    memset(&tail, 0, sizeof tail);
    charter_error e;
    memset(&e, 0, sizeof e);
    charter_status st = w->store->ops->append_begin(w->store, &tail, &e);
    if (st != CHARTER_OK) {
        health_note(w, st, e.message);
        return ledger_fail(err, st, "%s", e.message);
    }
    if ((st = read_foreign(w, &tail, why, sizeof why)) != CHARTER_OK) {
        w->store->ops->append_abort(w->store);
        if (!w->broken)
            health_note(w, st, why);
        return ledger_fail(err, st, "%s", why);
    }
    return CHARTER_OK;
}

/* Writes one batch (runs on the writer thread, without the mutex). Charter
 * versions first seen in this batch are recorded just before their first
 * decision; they count as known only once the transaction commits. */
static void commit_batch(ledger_writer *w, ledger_append *batch)
{
    size_t items = 0;
    for (ledger_append *a = batch; a; a = a->next)
        items++;
    if (!grow_entries(w, 2 * items)) {
        if (w->shared)
            w->store->ops->append_abort(w->store);
        fail_batch(batch, CHARTER_E_NOMEM, "out of memory batching ledger entries");
        return;
    }
    size_t n = 0, new_versions = 0;
    const char *batch_versions[WRITER_MAX_BATCH];
    int64_t now = charter_now_ms();
    uint64_t seq = w->last_seq;
    unsigned char prev[LEDGER_HASH_SIZE];
    memcpy(prev, w->last_hash, LEDGER_HASH_SIZE);
    charter_status st = CHARTER_OK;
    for (ledger_append *a = batch; a; a = a->next) {
        const char *v = a->charter ? charter_version(a->charter) : NULL;
        bool seen = !v || has_version(w, v);
        for (size_t i = 0; !seen && i < new_versions; i++)
            seen = !strcmp(batch_versions[i], v);
        if (!seen) {
            size_t len = 0;
            char *p = charter_payload(a->charter, &len);
            if (!p) {
                st = CHARTER_E_NOMEM;
                break;
            }
            w->charter_payloads[n] = p;
            ledger_entry *e = &w->entries[n++];
            *e = (ledger_entry){.seq = ++seq, .time_ms = now, .kind = "charter",
                                .payload = p, .payload_len = len};
            memcpy(e->prev_hash, prev, LEDGER_HASH_SIZE);
            ledger_entry_hash(e, e->hash);
            memcpy(prev, e->hash, LEDGER_HASH_SIZE);
            batch_versions[new_versions++] = v;
        }
        if (!a->kind) { /* only the charter version, when it is new */
            a->seq = seen ? 0 : seq;
            continue;
        }
        w->charter_payloads[n] = NULL;
        ledger_entry *e = &w->entries[n++];
        *e = (ledger_entry){.seq = ++seq, .time_ms = now, .kind = a->kind,
                            .payload = a->payload, .payload_len = a->payload_len};
        memcpy(e->prev_hash, prev, LEDGER_HASH_SIZE);
        ledger_entry_hash(e, e->hash);
        memcpy(prev, e->hash, LEDGER_HASH_SIZE);
        a->seq = e->seq;
    }
    ledger_checkpoint cp;
    bool with_cp = st == CHARTER_OK && checkpoint_due(w, seq, now, false);
    if (with_cp)
        make_checkpoint(w, seq, prev, &cp);
    charter_error err;
    memset(&err, 0, sizeof err);
    if (st == CHARTER_OK)
        st = w->store->ops->append(w->store, w->entries, n, with_cp ? &cp : NULL, &err);
    else {
        if (w->shared)
            w->store->ops->append_abort(w->store);
        snprintf(err.message, sizeof err.message, "out of memory recording a charter version");
    }
    for (size_t i = 0; i < n; i++) {
        free(w->charter_payloads[i]);
        w->charter_payloads[i] = NULL;
    }
    health_note(w, st, err.message);
    if (st != CHARTER_OK) {
        fail_batch(batch, st, err.message);
        return;
    }
    for (size_t i = 0; i < new_versions; i++)
        ledger_writer_note_version(w, batch_versions[i]);
    atomic_store(&w->durable_seq, seq);
    atomic_store(&w->synced_seq, seq);
    for (ledger_append *a = batch; a; a = a->next)
        a->status = CHARTER_OK;
    w->last_seq = seq;
    memcpy(w->last_hash, prev, LEDGER_HASH_SIZE);
    if (with_cp) {
        w->last_checkpoint_mono_ms = mono_ms();
        checkpoint_done(w, &cp);
    }
}

/* A checkpoint alone (timer or close). Returns its status. */
static charter_status write_checkpoint(ledger_writer *w, charter_error *err)
{
    if (w->shared) {
        /* At the chain's tail: the lock, and what others appended first. */
        charter_error e;
        memset(&e, 0, sizeof e);
        charter_status st = shared_begin(w, &e);
        if (st != CHARTER_OK) {
            w->last_checkpoint_mono_ms = mono_ms();
            return ledger_fail(err, st, "%s", e.message);
        }
    }
    ledger_checkpoint cp;
    make_checkpoint(w, w->last_seq, w->last_hash, &cp);
    charter_error e;
    memset(&e, 0, sizeof e);
    charter_status st = w->store->ops->append(w->store, NULL, 0, &cp, &e);
    health_note(w, st, e.message);
    if (st != CHARTER_OK)
        ledger_fail(err, st, "%s", e.message);
    if (st == CHARTER_OK)
        checkpoint_done(w, &cp);
    /* On failure too: the next try waits a whole interval, not a busy loop. */
    w->last_checkpoint_mono_ms = mono_ms();
    return st;
}

/* The number of appends a batch may take now: with a key, no more than
 * the checkpoint count has room for (each append adds one entry, plus a
 * charter entry when its version is new: those are not counted against
 * the room, writer.h). */
static size_t batch_room(const ledger_writer *w)
{
    size_t max = WRITER_MAX_BATCH;
    uint64_t since = w->last_seq - w->last_checkpoint_seq;
    if (w->has_key && w->checkpoint_every < max)
        max = since < w->checkpoint_every ? (size_t)(w->checkpoint_every - since) : 1;
    return max;
}

static void wake_batch(ledger_append *batch);

/* Sorts appends (writer thread, chain lock held, foreign entries read):
 * those that no longer hold go to *conf (CHARTER_E_CONFLICT), then up to
 * `room` in all (*kept counts them) to *keep, the rest back to the head of
 * the queue, in order. Lists are appended to through the tail pointers. */
static void sort_appends(ledger_writer *w, ledger_append *list, ledger_append ***keep,
                         size_t *kept, size_t room, ledger_append ***conf, size_t *nconf)
{
    ledger_append *requeue = NULL, *requeue_last = NULL;
    for (ledger_append *a = list, *next; a; a = next) {
        next = a->next;
        a->next = NULL;
        if (a->subject && a->basis_seq < w->last_foreign_seq && w->validate &&
            !w->validate(w->shared_user, a)) {
            a->status = CHARTER_E_CONFLICT;
            snprintf(a->message, sizeof a->message,
                     "another server changed what this was decided on first");
            **conf = a;
            *conf = &a->next;
            (*nconf)++;
        } else if (*kept < room) {
            **keep = a;
            *keep = &a->next;
            (*kept)++;
        } else {
            if (requeue_last)
                requeue_last->next = a;
            else
                requeue = a;
            requeue_last = a;
        }
    }
    if (requeue) {
        pthread_mutex_lock(&w->mu);
        requeue_last->next = w->head;
        w->head = requeue;
        if (!w->tail)
            w->tail = requeue_last;
        pthread_mutex_unlock(&w->mu);
    }
}

/* A batch on a shared store (writer thread, without mu): the chain lock
 * and the foreign entries first (shared_begin), then the appends that no
 * longer hold leave the batch (CHARTER_E_CONFLICT) and those past the
 * cadence's room go back to the head of the queue; the rest (*batch,
 * possibly none) are written as commit_batch writes them.
 *
 * The conflicting ones are woken at once, and the writer waits up to
 * WRITER_LINGER_MS, still holding the chain lock, for as many appends to
 * be queued (their callers deciding again), which it takes into the same
 * transaction: decided on the state as it is under the lock, they cannot
 * conflict again, so two servers deciding for one agent at once make
 * progress instead of invalidating each other's every try. Appends that
 * conflict among those taken then go to *conflicts, woken by the caller. */
static void commit_shared(ledger_writer *w, ledger_append **batch, ledger_append **conflicts)
{
    *conflicts = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = shared_begin(w, &err);
    if (st != CHARTER_OK) {
        fail_batch(*batch, st, err.message);
        return;
    }
    ledger_append *keep = NULL, **keep_tail = &keep;
    ledger_append *conf = NULL, **conf_tail = &conf;
    size_t room = batch_room(w), kept = 0, nconf = 0;
    sort_appends(w, *batch, &keep_tail, &kept, room, &conf_tail, &nconf);
    if (conf) {
        pthread_mutex_lock(&w->mu);
        uint64_t before = w->retried;
        w->lingering = true;
        pthread_mutex_unlock(&w->mu);
        wake_batch(conf);
        struct timespec until;
        base_time_after(CLOCK_MONOTONIC, (int64_t)WRITER_LINGER_MS * 1000, &until);
        pthread_mutex_lock(&w->mu);
        while (w->retried - before < nconf && !w->stopping &&
               pthread_cond_timedwait(&w->work, &w->mu, &until) != ETIMEDOUT)
            ;
        w->lingering = false;
        ledger_append *more = NULL;
        if (w->head && kept < room) {
            size_t take = room - kept;
            more = w->head;
            ledger_append *last = w->head;
            for (size_t n = 1; last->next && n < take; n++)
                last = last->next;
            w->head = last->next;
            if (!w->head)
                w->tail = NULL;
            last->next = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        ledger_append **late_tail = conflicts;
        sort_appends(w, more, &keep_tail, &kept, room, &late_tail, &nconf);
    }
    *batch = keep;
    if (keep || checkpoint_due(w, w->last_seq, charter_now_ms(), false))
        commit_batch(w, keep); /* commits, and releases the chain lock */
    else
        w->store->ops->append_abort(w->store);
}

/* Takes up to WRITER_MAX_BATCH appends; with a key, no more than the
 * checkpoint count has room for, so a checkpoint lands where the count
 * says (each append adds one entry, plus a charter entry when its version
 * is new: those are not counted against the room, writer.h). */
static ledger_append *take_batch(ledger_writer *w)
{
    size_t max = batch_room(w);
    ledger_append *batch = w->head, *last = w->head;
    size_t n = 1;
    while (last->next && n < max) {
        last = last->next;
        n++;
    }
    w->head = last->next;
    if (!w->head)
        w->tail = NULL;
    last->next = NULL;
    return batch;
}

/* Sleeps (mu held) until work comes, a checkpoint is due or a health
 * check is. */
static int64_t sync_due_ms(const ledger_writer *w)
{
    return w->last_sync_mono_ms + WRITER_SYNC_MS;
}

static void wait_for_work(ledger_writer *w)
{
    int64_t due = health_check_due_ms(w);
    if (w->shared && !w->poked && sync_due_ms(w) < due)
        due = sync_due_ms(w);
    if (w->has_key && w->last_seq > w->last_checkpoint_seq &&
        w->last_checkpoint_mono_ms + w->checkpoint_ms < due)
        due = w->last_checkpoint_mono_ms + w->checkpoint_ms;
    struct timespec ts = {.tv_sec = due / 1000, .tv_nsec = (due % 1000) * 1000000};
    pthread_cond_timedwait(&w->work, &w->mu, &ts);
}

/* Wakes a committed (or failed) batch. Blocked callers wake as a chain:
 * the writer posts the first, each posts the next as it leaves. Posting all
 * of them from here let every woken caller preempt the writer in turn, and
 * the next batch waited for dozens of context switches. Each append learns
 * the next blocked caller's semaphore before the chain starts; once posted,
 * a caller may return and its append (on its stack) is gone, so nothing is
 * read from it after that. Submitted appends are called back here, on the
 * writer thread, after the chain has started; they are listed first, since
 * the callback may free its append. */
static void wake_batch(ledger_append *batch)
{
    ledger_append *first = NULL, *last_blocked = NULL, *callbacks = NULL,
                  **cb_tail = &callbacks;
    for (ledger_append *a = batch; a; a = a->next) {
        if (a->done) {
            *cb_tail = a;
            cb_tail = &a->next_done;
            a->next_done = NULL;
            continue;
        }
        a->chain = NULL;
        if (last_blocked)
            last_blocked->chain = a->wake;
        else
            first = a;
        last_blocked = a;
    }
    if (first)
        sem_post(first->wake);
    for (ledger_append *a = callbacks, *next; a; a = next) {
        next = a->next_done;
        a->done(a);
    }
}

static void *writer_main(void *arg)
{
    ledger_writer *w = arg;
    base_thread_name("charter-ledger");
    if (w->open_checkpoint)
        write_checkpoint(w, NULL); /* on failure, the next batch carries one */
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (!w->head) {
            if (w->stopping)
                break;
            /* The timer goes by the monotonic clock alone (now 0): after a
             * failed attempt it waits a whole interval, not a busy loop. */
            if (checkpoint_due(w, w->last_seq, 0, false)) {
                pthread_mutex_unlock(&w->mu);
                write_checkpoint(w, NULL); /* retried at the next due time */
                pthread_mutex_lock(&w->mu);
                continue;
            }
            if (mono_ms() >= health_check_due_ms(w)) {
                bool failing = !w->health.ok;
                pthread_mutex_unlock(&w->mu);
                health_check(w, failing);
                pthread_mutex_lock(&w->mu);
                continue;
            }
            if (w->shared && (w->poked || mono_ms() >= sync_due_ms(w))) {
                w->poked = false;
                pthread_mutex_unlock(&w->mu);
                catch_up(w);
                pthread_mutex_lock(&w->mu);
                continue;
            }
            wait_for_work(w);
            continue;
        }
        ledger_append *batch = take_batch(w);
        if (w->shared) {
            /* The batch reads what others appended: a poke before now is
             * answered by it. */
            w->poked = false;
            pthread_mutex_unlock(&w->mu);
            ledger_append *conflicts;
            commit_shared(w, &batch, &conflicts);
            pthread_mutex_lock(&w->mu);
            if (batch)
                count_batch(&w->stats, batch);
            pthread_mutex_unlock(&w->mu);
            wake_batch(batch);
            wake_batch(conflicts);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        commit_batch(w, batch);
        pthread_mutex_lock(&w->mu);
        count_batch(&w->stats, batch);
        pthread_mutex_unlock(&w->mu);
        wake_batch(batch);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    if (checkpoint_due(w, w->last_seq, 0, true)) {
        charter_error err;
        memset(&err, 0, sizeof err);
        w->final_status = write_checkpoint(w, &err);
        snprintf(w->final_message, sizeof w->final_message, "%s", err.message);
    }
    return NULL;
}

charter_status ledger_writer_start(ledger_writer *w, charter_error *err)
{
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc != 0)
        return ledger_fail(err, CHARTER_E_NOMEM, "cannot start the ledger writer: %s",
                           strerror(rc));
    w->started = true;
    return CHARTER_OK;
}

/* Queues `a` (mu held) and wakes the writer when it may be waiting: a
 * queue that was empty. A writer busy committing takes the queue whole when
 * it comes back, so signalling it for every entry would only cost futex
 * calls. */
static void enqueue(ledger_writer *w, ledger_append *a)
{
    bool was_empty = !w->head;
    if (w->tail)
        w->tail->next = a;
    else
        w->head = a;
    w->tail = a;
    w->retried += a->retry;
    if (was_empty || w->lingering)
        pthread_cond_signal(&w->work);
}

/* Clears what the writer fills and queues a[0..n), all or none; refused
 * once the writer is stopping. wake, done and user are the caller's to set
 * first. */
static charter_status submit(ledger_writer *w, ledger_append *a, size_t n,
                             charter_error *err)
{
    for (size_t i = 0; i < n; i++) {
        a[i].chain = NULL;
        a[i].next = NULL;
        a[i].seq = 0;
        a[i].status = CHARTER_OK;
        a[i].message[0] = '\0';
    }
    pthread_mutex_lock(&w->mu);
    if (w->stopping || !w->started) {
        pthread_mutex_unlock(&w->mu);
        return ledger_fail(err, CHARTER_E_IO, "the ledger is closing");
    }
    for (size_t i = 0; i < n; i++)
        enqueue(w, &a[i]);
    pthread_mutex_unlock(&w->mu);
    return CHARTER_OK;
}

charter_status ledger_writer_append(ledger_writer *w, ledger_append *a,
                                    charter_error *err)
{
    sem_t wake;
    sem_init(&wake, 0, 0);
    a->wake = &wake;
    a->done = NULL;
    charter_status st = submit(w, a, 1, err);
    if (st != CHARTER_OK) {
        sem_destroy(&wake);
        return st;
    }
    while (sem_wait(&wake) != 0)
        ; /* EINTR */
    if (a->chain)
        sem_post(a->chain); /* the next caller of this batch */
    sem_destroy(&wake);
    if (a->status != CHARTER_OK)
        return ledger_fail(err, a->status, "%s", a->message);
    return CHARTER_OK;
}

charter_status ledger_writer_submit(ledger_writer *w, ledger_append *a,
                                    charter_error *err)
{
    a->wake = NULL;
    return submit(w, a, 1, err);
}

static void group_done(ledger_append *a)
{
    base_latch_done(a->user);
}

charter_status ledger_writer_append_all(ledger_writer *w, ledger_append *a, size_t n,
                                        charter_error *err)
{
    if (n == 0)
        return CHARTER_OK;
    base_latch left;
    base_latch_init(&left, n);
    for (size_t i = 0; i < n; i++) {
        a[i].wake = NULL;
        a[i].done = group_done;
        a[i].user = &left;
    }
    charter_status st = submit(w, a, n, err);
    if (st == CHARTER_OK)
        base_latch_wait(&left);
    base_latch_destroy(&left);
    if (st != CHARTER_OK) {
        for (size_t i = 0; i < n; i++) {
            a[i].status = st;
            snprintf(a[i].message, sizeof a[i].message, "the ledger is closing");
        }
        return st;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i].status != CHARTER_OK)
            return ledger_fail(err, a[i].status, "%s", a[i].message);
    return CHARTER_OK;
}

charter_status ledger_writer_stop(ledger_writer *w, charter_error *err)
{
    if (!w)
        return CHARTER_OK;
    charter_status st = CHARTER_OK;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stopping = true;
        pthread_cond_signal(&w->work);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        st = w->final_status;
        if (st != CHARTER_OK)
            ledger_fail(err, st, "%s", w->final_message);
    }
    for (size_t i = 0; i < w->version_count; i++)
        free(w->versions[i]);
    free(w->versions);
    free(w->entries);
    free(w->charter_payloads);
    free(w->witness_path);
    ledger_key_wipe(&w->key);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    free(w);
    return st;
}

uint64_t ledger_writer_durable_seq(ledger_writer *w)
{
    return atomic_load(&w->durable_seq);
}

uint64_t ledger_writer_synced_seq(ledger_writer *w)
{
    return atomic_load(&w->synced_seq);
}

void ledger_writer_poke(ledger_writer *w)
{
    if (!w || !w->shared)
        return;
    pthread_mutex_lock(&w->mu);
    w->poked = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
}
