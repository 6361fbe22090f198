/* recorder.c - recording decisions, resolutions and outcomes
 * (charter_ledger_* in charter_ledger.h).
 *
 * A charter_ledger is a store, a group-commit writer and the in-memory state
 * (state.h) rebuilt from the entries on open. Deciding through it reads the
 * stop-rule counters, decides, and reserves them for an allowed action:
 * optimistically first (decide without a lock, then reserve only if the
 * counters of its run and agent-day are still the ones it decided with,
 * else decide again), and after a few lost races while holding the budget
 * locks of its agent and run. Either way two concurrent actions on one
 * budget cannot both slip under it, and many concurrent decisions of one
 * agent do not queue on a lock (a lock convoy of sleeping threads cost far
 * more than an occasional second decision). The append happens after that
 * (where group commit batches callers), and a failed append gives the
 * reservation back.
 *
 * Decision ids are "d-<seq>": the seq of the decision's entry. They are
 * stable (a seq never changes), need no second index, and tell at a glance
 * where in the ledger a decision sits.
 */
#include "base/banned.h"

#include "ledger/recorder.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jspan.h"
#include "base/limits.h"
#include "base/strbuf.h"
#include "base/thread.h"
#include "engine/request.h"
#include "ledger/chain.h"
#include "ledger/grant.h"
#include "ledger/keys.h"
#include "ledger/pg_shared.h"
#include "ledger/state.h"
#include "ledger/writer.h"

static unsigned budget_slot(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUDGET_LOCKS;
}

/* Locks the budgets a decision of `agent` in `run_id` reads; fills slot[2]
 * for budget_unlock. */
void ledger_budget_lock(charter_ledger *l, const char *agent, const char *run_id,
                        unsigned slot[2])
{
    unsigned a = budget_slot(agent), r = run_id && *run_id ? budget_slot(run_id) : a;
    slot[0] = a < r ? a : r;
    slot[1] = a < r ? r : a;
    pthread_mutex_lock(&l->budget[slot[0]]);
    if (slot[1] != slot[0])
        pthread_mutex_lock(&l->budget[slot[1]]);
}

void ledger_budget_unlock(charter_ledger *l, const unsigned slot[2])
{
    if (slot[1] != slot[0])
        pthread_mutex_unlock(&l->budget[slot[1]]);
    pthread_mutex_unlock(&l->budget[slot[0]]);
}

/* ---- Rebuilding the state on open --------------------------------------- */

/* The entries are read with jspan (fields found in the text), not parsed
 * into trees: a ledger of millions of entries opens several times faster.
 * Strings are decoded into `text`, reused from one entry to the next. */
typedef struct rebuild {
    charter_ledger *l;
    charter_error *err;
    charter_status status;
    uint64_t expect_seq;
    uint64_t until_seq;   /* a shared ledger: stop after it (the writer reads on) */
    char *text;
    size_t text_cap, text_used;
    char loaded[256];     /* a "charter_loaded" entry's version (apply_entry) */
    /* Applying a foreign entry (on_foreign): the entry. */
    const ledger_entry *foreign;
} rebuild;

/* A foreign change of an escalation this server opened and has not yet
 * learnt itself (its decision's entry is durable, the caller is still to
 * settle it): applied once it does (ledger_apply_deferred). mu guards. */
typedef struct deferred {
    uint64_t target, seq;
    int64_t time_ms;
    char *kind, *payload;
    size_t payload_len;
    struct deferred *next;
} deferred;

/* Keeps a copy of the foreign entry being applied for when `target` is
 * known (CHARTER_OK, or CHARTER_E_NOMEM). */
static charter_status defer_foreign(rebuild *rb, uint64_t target)
{
    const ledger_entry *e = rb->foreign;
    deferred *d = calloc(1, sizeof *d);
    if (d) {
        d->kind = strdup(e->kind);
        d->payload = malloc(e->payload_len + 1);
    }
    if (!d || !d->kind || !d->payload) {
        if (d) {
            free(d->kind);
            free(d->payload);
        }
        free(d);
        return CHARTER_E_NOMEM;
    }
    memcpy(d->payload, e->payload, e->payload_len);
    d->payload[e->payload_len] = '\0';
    d->payload_len = e->payload_len;
    d->target = target;
    d->seq = e->seq;
    d->time_ms = e->time_ms;
    d->next = rb->l->deferred;
    rb->l->deferred = d;
    return CHARTER_OK;
}

/* An escalation the state does not know: on a shared ledger, one of this
 * server's own decisions not yet settled (every foreign decision is
 * marked when applied) waits for it; otherwise an oddity verify reports. */
static charter_status unknown_escalation(rebuild *rb, uint64_t seq)
{
    if (rb->foreign && !ledger_state_is_decision(&rb->l->state, seq) &&
        seq < rb->foreign->seq)
        return defer_foreign(rb, seq);
    return CHARTER_OK;
}

static int rebuild_fail(rebuild *rb, const ledger_entry *e, charter_status st,
                        const char *what)
{
    rb->status = ledger_fail(rb->err, st,
                             "ledger entry %llu (%s): %s; run 'charter verify' on it",
                             (unsigned long long)e->seq, e->kind, what);
    return 1;
}

/* Room for an entry's strings: they are never longer than its payload. */
static bool text_reserve(rebuild *rb, size_t payload_len)
{
    rb->text_used = 0;
    size_t need = 2 * payload_len + 64; /* a NUL per field, "" for absent ones */
    if (need <= rb->text_cap)
        return true;
    char *t = realloc(rb->text, need);
    if (!t)
        return false;
    rb->text = t;
    rb->text_cap = need;
    return true;
}

/* A string field as a C string in rb->text ("" when absent or not a string). */
static const char *text_of(rebuild *rb, jspan v)
{
    char *out = rb->text + rb->text_used;
    const char *s;
    size_t n;
    if (!v.p || v.p[0] != '"' ||
        !jspan_str(v, out, rb->text_cap - rb->text_used, &s, &n)) {
        s = "";
        n = 0;
    }
    if (s != out)
        memmove(out, s, n);
    out[n] = '\0';
    rb->text_used += n + 1;
    return out;
}

static int64_t int_of(jspan v)
{
    double d;
    return v.p && jspan_num(v, &d) ? (int64_t)d : 0;
}

static double num_of(jspan v)
{
    double d;
    return v.p && jspan_num(v, &d) ? d : 0;
}

/* The decision payload's fields (decision_payload writes them). */
static bool decision_info_read(rebuild *rb, jspan payload, ledger_decision_info *out)
{
    static const char *const top[] = {"answer", "request", "spend", "time_ms"};
    static const char *const req[] = {"agent", "run_id", "workflow", "action"};
    static const char *const ans[] = {"decision", "escalation"};
    static const char *const esc[] = {"queue", "deadline"};
    jspan f[4], r[4], a[2], q[2] = {{NULL, 0}, {NULL, 0}};
    jspan_fields(payload, top, 4, f);
    if (!f[0].p || f[0].p[0] != '{' || !f[1].p || f[1].p[0] != '{')
        return false;
    jspan_fields(f[1], req, 4, r);
    jspan_fields(f[0], ans, 2, a);
    if (a[1].p && a[1].p[0] == '{')
        jspan_fields(a[1], esc, 2, q);
    out->agent = text_of(rb, r[0]);
    out->run_id = text_of(rb, r[1]);
    out->workflow = text_of(rb, r[2]);
    out->action = text_of(rb, r[3]);
    out->effect = text_of(rb, a[0]);
    out->queue = text_of(rb, q[0]);
    const char *dl = text_of(rb, q[1]);
    out->deadline_ms = 0;
    if (*dl)
        ch_time_parse(dl, strlen(dl), &out->deadline_ms);
    out->spend = num_of(f[2]);
    out->time_ms = int_of(f[3]);
    out->rule = "";
    if (!strcmp(out->effect, "escalate")) {
        char *rule = rb->text + rb->text_used;
        size_t room = rb->text_cap - rb->text_used; /* more than the id needs */
        ledger_escalation_rule(f[0].p, f[0].n, rule,
                               room < GRANT_RULE_MAX ? room : GRANT_RULE_MAX);
        rb->text_used += strlen(rule) + 1;
        out->rule = rule;
    }
    return true;
}

static charter_status rebuild_decision(rebuild *rb, const ledger_entry *e, jspan payload)
{
    charter_ledger *l = rb->l;
    ledger_decision_info di;
    if (!decision_info_read(rb, payload, &di))
        return CHARTER_E_JSON;
    charter_status st = ledger_state_mark_decision(&l->state, e->seq);
    int64_t day = ledger_day(di.time_ms);
    if (st == CHARTER_OK && !strcmp(di.effect, "allow"))
        st = ledger_state_count(&l->state, di.agent, di.run_id, day, 1, di.spend);
    else if (st == CHARTER_OK && !strcmp(di.effect, "escalate")) {
        state_escalation_info ei = {.agent = di.agent, .run_id = di.run_id,
                                    .workflow = di.workflow, .action = di.action,
                                    .queue = di.queue, .day = day,
                                    .time_ms = di.time_ms,
                                    .deadline_ms = di.deadline_ms, .spend = di.spend,
                                    .rule = di.rule};
        st = ledger_state_escalation_add(&l->state, e->seq, &ei);
    }
    return st;
}

static charter_status rebuild_resolution(rebuild *rb, jspan payload)
{
    static const char *const keys[] = {"decision_id", "note", "resolution", "spend",
                                       "time_ms", "timeout", "who", "grant"};
    jspan f[8];
    jspan_fields(payload, keys, 8, f);
    uint64_t seq;
    if (!ledger_decision_id_parse(text_of(rb, f[0]), &seq))
        return CHARTER_E_JSON;
    ledger_state *s = &rb->l->state;
    state_escalation *esc = ledger_state_escalation(s, seq);
    if (!esc)
        return unknown_escalation(rb, seq);
    if (esc->status == ESC_RESOLVED)
        return CHARTER_OK; /* verify reports such oddities; budgets ignore them */
    const char *note = f[1].p && !jspan_is_null(f[1]) ? text_of(rb, f[1]) : NULL;
    bool approve = jspan_str_eq(f[2], "approve");
    /* An approval counts the spend its re-check found ("spend"); entries
     * written before approvals were re-checked count the decision's. */
    double spend = esc->spend;
    if (f[3].p && !jspan_num(f[3], &spend))
        return CHARTER_E_JSON;
    charter_status st = approve ? ledger_state_count(s, esc->agent, esc->run_id,
                                                     esc->day, 1, spend)
                                : CHARTER_OK;
    if (st == CHARTER_OK)
        st = ledger_state_escalation_resolve(s, esc, approve, text_of(rb, f[6]), note,
                                             int_of(f[4]), jspan_is_true(f[5]));
    /* Approved by a standing approval ("grant": "g-<seq>"): noted, and
     * counted against the grant's caps. */
    uint64_t gseq;
    state_grant *g = NULL;
    if (st == CHARTER_OK && approve && f[7].p && f[7].p[0] == '"') {
        const char *gid = text_of(rb, f[7]);
        st = ledger_state_escalation_grant(esc, gid);
        if (ledger_grant_id_parse(gid, &gseq))
            g = ledger_state_grant(s, gseq);
    }
    if (st == CHARTER_OK && g) {
        ledger_state_grant_use(g, spend);
        ledger_state_grant_mark(s, g);
    }
    return st;
}

/* One approval of a quorum: a vote, counting nothing (the approval that
 * completes the quorum counts the action). */
static charter_status rebuild_approval(rebuild *rb, jspan payload)
{
    static const char *const keys[] = {"decision_id", "who"};
    jspan f[2];
    jspan_fields(payload, keys, 2, f);
    uint64_t seq;
    if (!ledger_decision_id_parse(text_of(rb, f[0]), &seq) || !f[1].p || f[1].p[0] != '"')
        return CHARTER_E_JSON;
    state_escalation *esc = ledger_state_escalation(&rb->l->state, seq);
    /* (Being resolved here: another server's vote still counts, and this
     * server's resolution then conflicts.) */
    if (!esc)
        return unknown_escalation(rb, seq);
    if (esc->status == ESC_RESOLVED)
        return CHARTER_OK; /* verify reports such oddities */
    return ledger_state_escalation_vote(&rb->l->state, esc, text_of(rb, f[1]));
}

static charter_status rebuild_move(rebuild *rb, jspan payload)
{
    static const char *const keys[] = {"deadline_ms", "decision_id", "to"};
    jspan f[3];
    jspan_fields(payload, keys, 3, f);
    uint64_t seq;
    if (!ledger_decision_id_parse(text_of(rb, f[1]), &seq))
        return CHARTER_E_JSON;
    state_escalation *esc = ledger_state_escalation(&rb->l->state, seq);
    if (!esc)
        return unknown_escalation(rb, seq);
    if (esc->status == ESC_RESOLVED)
        return CHARTER_OK;
    return ledger_state_escalation_move(&rb->l->state, esc, text_of(rb, f[2]),
                                        int_of(f[0]));
}

/* A foreign revocation of a grant the state does not know: on a shared
 * ledger, one this server recorded and has not added yet (every foreign
 * grant is added when applied) waits for it (*st says how deferring
 * went). False: apply it now. */
static bool unknown_grant(rebuild *rb, jspan payload, charter_status *st)
{
    jspan v;
    uint64_t gseq;
    if (!rb->foreign || !jspan_get(payload, "grant_id", &v) ||
        !ledger_grant_id_parse(text_of(rb, v), &gseq) || gseq >= rb->foreign->seq ||
        ledger_state_grant(&rb->l->state, gseq))
        return false;
    *st = defer_foreign(rb, gseq);
    return true;
}

/* Applies one entry to the state: the rebuild on open, and on a shared
 * ledger each entry another server appended (on_foreign, with mu held and
 * state.mark_seq set). 0, or 1 with rb->status set. */
static int apply_entry(rebuild *rb, const ledger_entry *e)
{
    /* The payload must be one JSON object, whole (a cut or garbled one is
     * refused here; verify finds any other change by its hash). */
    jspan payload;
    size_t n = e->payload_len;
    while (n && strchr(" \t\r\n", e->payload[n - 1]))
        n--;
    if (!jspan_value(e->payload, n, &payload) || payload.p[0] != '{' ||
        payload.p + payload.n != e->payload + n)
        return rebuild_fail(rb, e, CHARTER_E_IO, "the payload is not a JSON object");
    if (!text_reserve(rb, e->payload_len))
        return rebuild_fail(rb, e, CHARTER_E_NOMEM, "out of memory rebuilding the counters");
    charter_status st = CHARTER_OK;
    if (!strcmp(e->kind, "charter")) {
        jspan v;
        jspan_get(payload, "version", &v);
        st = ledger_writer_note_version(rb->l->writer, text_of(rb, v));
    } else if (!strcmp(e->kind, "decision"))
        st = rebuild_decision(rb, e, payload);
    else if (!strcmp(e->kind, "escalation_resolved"))
        st = rebuild_resolution(rb, payload);
    else if (!strcmp(e->kind, "escalation_moved"))
        st = rebuild_move(rb, payload);
    else if (!strcmp(e->kind, "escalation_approval"))
        st = rebuild_approval(rb, payload);
    else if (!strcmp(e->kind, "grant"))
        st = ledger_grant_rebuild(rb->l, e->seq, payload.p, payload.n);
    else if (!strcmp(e->kind, "grant_revoked") && !unknown_grant(rb, payload, &st))
        st = ledger_grant_rebuild_revoked(rb->l, payload.p, payload.n);
    else if (!strcmp(e->kind, "charter_loaded")) {
        /* Changes nothing in the state; a foreign one is told (on_foreign). */
        jspan v;
        jspan_get(payload, "version", &v);
        snprintf(rb->loaded, sizeof rb->loaded, "%s", text_of(rb, v));
    }
    if (st == CHARTER_E_JSON)
        return rebuild_fail(rb, e, CHARTER_E_IO, "the payload lacks required fields");
    if (st != CHARTER_OK)
        return rebuild_fail(rb, e, st, "out of memory rebuilding the counters");
    return 0;
}

static int rebuild_entry(const ledger_entry *e, void *user)
{
    rebuild *rb = user;
    if (rb->until_seq && e->seq > rb->until_seq)
        return 1; /* the writer reads on from here (a shared ledger) */
    if (e->seq != rb->expect_seq)
        return rebuild_fail(rb, e, CHARTER_E_IO, "expected seq %llu here: entries are missing");
    rb->expect_seq++;
    return apply_entry(rb, e);
}

/* ---- A shared ledger: the state as a replica of the chain ------------------- */

uint64_t ledger_basis(charter_ledger *l)
{
    return l->shared ? ledger_writer_synced_seq(l->writer) : 0;
}

/* Another server's entry (writer thread): applied as the rebuild applies
 * it, marking what it changes; waiting long polls and inboxes learn of it.
 * An entry that cannot be applied (out of memory, a payload lacking
 * fields) leaves the state as it was: verify reports such entries. */
static void on_foreign(void *user, const ledger_entry *e)
{
    charter_ledger *l = user;
    rebuild *rb = l->apply;
    charter_error err;
    rb->err = &err;
    rb->status = CHARTER_OK;
    rb->loaded[0] = '\0';
    rb->foreign = e;
    pthread_mutex_lock(&l->mu);
    uint64_t v = l->state.esc_version;
    l->state.mark_seq = e->seq;
    apply_entry(rb, e);
    l->state.mark_seq = 0;
    if (l->state.esc_version != v) {
        if (!strncmp(e->kind, "escalation_", 11))
            pthread_cond_broadcast(&l->resolved_cv);
        pthread_cond_broadcast(&l->version_cv);
    }
    pthread_mutex_unlock(&l->mu);
    if (rb->loaded[0] && l->on_charter_loaded)
        l->on_charter_loaded(l->charter_user, rb->loaded);
}

void ledger_apply_deferred(charter_ledger *l, uint64_t target)
{
    rebuild rb = {.l = l};
    charter_error err;
    rb.err = &err;
    /* Oldest first: the list is newest first. */
    for (;;) {
        deferred **at = NULL;
        for (deferred **p = &l->deferred; *p; p = &(*p)->next)
            if ((*p)->target == target)
                at = p;
        if (!at)
            break;
        deferred *d = *at;
        *at = d->next;
        ledger_entry e = {.seq = d->seq, .time_ms = d->time_ms, .kind = d->kind,
                          .payload = d->payload, .payload_len = d->payload_len};
        rb.foreign = &e;
        l->state.mark_seq = d->seq;
        apply_entry(&rb, &e);
        l->state.mark_seq = 0;
        free(d->kind);
        free(d->payload);
        free(d);
    }
    free(rb.text);
}

/* Whether an append still holds after the foreign entries read before it
 * (writer thread): nothing it was decided on changed since its basis. */
static bool validate(void *user, const ledger_append *a)
{
    charter_ledger *l = user;
    const ledger_subject *sj = a->subject;
    if (!sj)
        return true;
    bool ok = true;
    pthread_mutex_lock(&l->mu);
    ledger_state *s = &l->state;
    if (sj->agent &&
        ledger_state_counters_foreign(s, sj->agent, sj->run_id, sj->day) > a->basis_seq)
        ok = false;
    if (ok && sj->esc_seq) {
        const state_escalation *e = ledger_state_escalation(s, sj->esc_seq);
        ok = e && e->status != ESC_RESOLVED && e->foreign_seq <= a->basis_seq;
    }
    if (ok && sj->grant_seq) {
        const state_grant *g = ledger_state_grant(s, sj->grant_seq);
        ok = g && (sj->revoke ? !g->revoked : g->foreign_seq <= a->basis_seq);
    }
    pthread_mutex_unlock(&l->mu);
    return ok;
}

/* Waits for the ledger's notifications and pokes the writer, which reads
 * what the others appended (it also looks every WRITER_SYNC_MS). */
static void *watch_main(void *arg)
{
    charter_ledger *l = arg;
    base_thread_name("charter-watch");
    while (!atomic_load(&l->watch_stop)) {
        int r = ledger_watch_wait(l->watch, 1000);
        if (atomic_load(&l->watch_stop))
            break;
        if (r != 0)
            ledger_writer_poke(l->writer);
        if (r < 0) {
            /* Lost: the next wait reconnects; do not spin meanwhile. */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Keeps the checkpoint with the highest seq, the last written of those
 * (they come in seq, then insertion, order). */
static int note_checkpoint(const ledger_checkpoint *cp, void *user)
{
    ledger_checkpoint *last = user;
    if (cp->seq >= last->seq)
        *last = *cp;
    return 0;
}

/* ---- Open and close ------------------------------------------------------ */

static void ledger_free(charter_ledger *l)
{
    for (deferred *d = l->deferred, *next; d; d = next) {
        next = d->next;
        free(d->kind);
        free(d->payload);
        free(d);
    }
    ledger_watch_close(l->watch);
    if (l->apply)
        free(l->apply->text);
    free(l->apply);
    ledger_store_close(l->store);
    ledger_store_close(l->reader);
    ledger_state_release(&l->state);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->reader_mu);
    pthread_mutex_destroy(&l->grant_mu);
    pthread_cond_destroy(&l->resolved_cv);
    pthread_cond_destroy(&l->version_cv);
    free(l->path);
    for (int i = 0; i < BUDGET_LOCKS; i++)
        pthread_mutex_destroy(&l->budget[i]);
    free(l);
}

charter_status ledger_open_with(const char *path, const charter_ledger_options *opt,
                                const ledger_store_config *cfg,
                                charter_ledger **out, charter_error *err)
{
    *out = NULL;
    charter_ledger_options defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!opt)
        opt = &defaults;
    if (!path || !*path)
        return ledger_fail(err, CHARTER_E_INVALID, "a ledger path is required");
    charter_ledger *l = calloc(1, sizeof *l);
    if (l && !(l->path = strdup(path))) {
        free(l);
        l = NULL;
    }
    if (!l)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory opening a ledger");
    base_mutex_init_hot(&l->mu);
    pthread_mutex_init(&l->reader_mu, NULL);
    pthread_mutex_init(&l->grant_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->resolved_cv, &ca);
    pthread_cond_init(&l->version_cv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < BUDGET_LOCKS; i++)
        pthread_mutex_init(&l->budget[i], NULL);
    ledger_state_init(&l->state);
    l->reader_cfg = *cfg;
    l->reader_cfg.mode = LEDGER_OPEN_READ;
    ledger_key key;
    memset(&key, 0, sizeof key);
    charter_status st = CHARTER_OK;
    if (opt->key_path && (st = ledger_key_load_secret(opt->key_path, &key, err)) != CHARTER_OK)
        goto fail;
    ledger_store_config sc = *cfg;
    sc.mode = LEDGER_OPEN_WRITE;
    if (opt->busy_timeout_ms)
        sc.busy_timeout_ms = opt->busy_timeout_ms;
    if ((st = ledger_store_open(path, &sc, &l->store, err)) != CHARTER_OK)
        goto fail;
    ledger_entry last;
    bool found;
    ledger_checkpoint last_cp;
    memset(&last_cp, 0, sizeof last_cp);
    if ((st = l->store->ops->last(l->store, &last, &found, err)) != CHARTER_OK ||
        (st = l->store->ops->checkpoints(l->store, note_checkpoint, &last_cp, err)) !=
            CHARTER_OK)
        goto fail;
    ledger_writer_config wc = {.store = l->store,
                               .key = opt->key_path ? &key : NULL,
                               .checkpoint_every = opt->checkpoint_every,
                               .checkpoint_ms = opt->checkpoint_ms,
                               .last_seq = found ? last.seq : 0,
                               .last_checkpoint_seq = last_cp.seq,
                               .last_checkpoint_time_ms = last_cp.time_ms,
                               .last_checkpoint_every = last_cp.checkpoint_every,
                               .last_checkpoint_ms = last_cp.checkpoint_ms,
                               .witness_path = opt->witness_path,
                               .witness_status = opt->witness_status,
                               .witness_user = opt->witness_user,
                               .on_health = opt->on_health,
                               .health_user = opt->health_user};
    if (found)
        memcpy(wc.last_hash, last.hash, LEDGER_HASH_SIZE);
    l->shared = l->store->ops->shared;
    if (l->shared) {
        /* A replica of the chain: the writer reads on from the last entry
         * seen here and applies what others append (on_foreign). */
        wc.on_foreign = on_foreign;
        wc.validate = validate;
        wc.shared_user = l;
        l->on_charter_loaded = opt->on_charter_loaded;
        l->charter_user = opt->charter_user;
        if (!(l->apply = calloc(1, sizeof *l->apply))) {
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory opening a ledger");
            goto fail;
        }
        l->apply->l = l;
        if ((st = ledger_watch_open(path, &l->watch, err)) != CHARTER_OK)
            goto fail;
    }
    if ((st = ledger_writer_new(&wc, &l->writer, err)) != CHARTER_OK)
        goto fail;
    rebuild rb = {.l = l, .err = err, .status = CHARTER_OK, .expect_seq = 1,
                  .until_seq = l->shared ? wc.last_seq : 0};
    if (!l->shared || wc.last_seq)
        st = l->store->ops->read(l->store, 1, rebuild_entry, &rb, err);
    free(rb.text);
    if (st != CHARTER_OK || (st = rb.status) != CHARTER_OK)
        goto fail;
    if ((st = ledger_writer_start(l->writer, err)) != CHARTER_OK)
        goto fail;
    if (l->shared)
        ledger_writer_poke(l->writer); /* what others appended since */
    if (l->shared && l->watch) {
        int rc = pthread_create(&l->watch_thread, NULL, watch_main, l);
        if (rc != 0) {
            st = ledger_fail(err, CHARTER_E_NOMEM, "cannot start the ledger's watch: %s",
                             strerror(rc));
            goto fail;
        }
        l->watch_started = true;
    }
    ledger_key_wipe(&key);
    *out = l;
    return CHARTER_OK;
fail:
    ledger_key_wipe(&key);
    ledger_writer_stop(l->writer, NULL);
    ledger_free(l);
    return st;
}

charter_status charter_ledger_open(const char *path, const charter_ledger_options *opt,
                                   charter_ledger **out, charter_error *err)
{
    ledger_store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!out)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_open: out is NULL");
    return ledger_open_with(path, opt, &cfg, out, err);
}

/* Stops the watch thread (a shared ledger). */
static void watch_stop(charter_ledger *l)
{
    if (!l->watch_started)
        return;
    atomic_store(&l->watch_stop, true);
    ledger_watch_interrupt(l->watch);
    pthread_join(l->watch_thread, NULL);
    l->watch_started = false;
}

charter_status charter_ledger_close(charter_ledger *l, charter_error *err)
{
    if (!l)
        return CHARTER_OK;
    watch_stop(l);
    charter_status st = ledger_writer_stop(l->writer, err);
    ledger_free(l);
    return st;
}

void charter_ledger_counters(charter_ledger *l, const char *agent, const char *run_id,
                             int64_t time_ms, charter_counters *out)
{
    pthread_mutex_lock(&l->mu);
    ledger_state_counters(&l->state, agent, run_id, ledger_day(time_ms), out);
    pthread_mutex_unlock(&l->mu);
}

void charter_ledger_stats_get(charter_ledger *l, charter_ledger_stats *out)
{
    ledger_writer_stats(l->writer, out);
}

uint64_t charter_ledger_last_seq(charter_ledger *l)
{
    return ledger_writer_durable_seq(l->writer);
}

void charter_ledger_health_get(charter_ledger *l, charter_ledger_health *out)
{
    ledger_writer_health(l->writer, out);
}

/* ---- Deciding ------------------------------------------------------------ */

/* The fail-closed answer: a deny that says the ledger is unavailable. Why
 * is not in it (file paths and SQLite's text are not for agents): the
 * caller has it in its charter_error, and a server logs it. */
char *charter_ledger_unavailable_answer(const charter *c, int64_t time_ms, size_t *len)
{
    char t[40];
    ch_time_format(time_ms, t);
    static const char expl[] = "The decision could not be recorded, so the action is "
                               "denied. Try again later.";
    json_t *j = json_pack("{s:s,s:s,s:s,s:[],s:[],s:[],s:n,s:s,s:s,s:b}", "decision",
                          "deny", "reason", "ledger_unavailable", "explanation", expl,
                          "fired", "values", "obligations", "escalation",
                          "charter_version", c ? charter_version(c) : "", "time", t,
                          "shadow", 0);
    char *out = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (out && len)
        *len = strlen(out);
    return out;
}

/* Splices "decision_id" in front of the engine's answer. */
static char *answer_with_id(uint64_t seq, const char *ans, size_t n, size_t *len)
{
    char id[32], head[64];
    ledger_decision_id(seq, id);
    int hn = snprintf(head, sizeof head, "{\"decision_id\":\"%s\",", id);
    char *out = malloc((size_t)hn + n);
    if (!out)
        return NULL;
    memcpy(out, head, (size_t)hn);
    memcpy(out + hn, ans + 1, n - 1); /* ans starts with '{' */
    out[hn + n - 1] = '\0';
    if (len)
        *len = (size_t)hn + n - 1;
    return out;
}

/* What a decision leaves for after the mutex is released. */
typedef struct decided {
    charter_counters counters; /* what the decision was made with */
    uint64_t basis;            /* the synced seq before they were read */
    charter_effect effect;
    int64_t time_ms;
    double spend;
    const charter_decision *dec; /* in the decider */
    const char *answer;          /* in the decider */
    size_t answer_len;
} decided;

static bool counters_equal(const charter_counters *a, const charter_counters *b)
{
    return a->run_actions == b->run_actions && a->day_actions == b->day_actions &&
           a->run_spend == b->run_spend && a->day_spend == b->day_spend;
}

/* Optimistic tries before deciding under the budget locks. */
#define DECIDE_TRIES 4

/* Counters in, decide, counters reserved (see the file comment). */
static charter_status decide_budgeted(charter_ledger *l, charter_decider *d,
                                      const charter *c, charter_request *r,
                                      const char *agent, const char *run_id,
                                      int64_t day, int64_t now_ms, decided *out,
                                      charter_error *err)
{
    charter_counters *cnt = &out->counters;
    unsigned slot[2] = {0, 0};
    bool locked = false;
    charter_status st = CHARTER_OK;
    for (int attempt = 0;; attempt++) {
        if (attempt == DECIDE_TRIES) {
            ledger_budget_lock(l, agent, run_id, slot);
            locked = true;
        }
        out->basis = ledger_basis(l);
        pthread_mutex_lock(&l->mu);
        ledger_state_counters(&l->state, agent, run_id, day, cnt);
        pthread_mutex_unlock(&l->mu);
        if (ch_request_set_counters(r, cnt->run_actions, cnt->run_spend,
                                    cnt->day_actions, cnt->day_spend) != CHARTER_OK) {
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory setting the counters");
            break;
        }
        const charter_decision *dec = NULL;
        if ((st = charter_decide(d, c, r, now_ms, &dec, err)) != CHARTER_OK)
            break;
        out->dec = dec;
        out->effect = dec->effect;
        out->time_ms = dec->time_ms;
        out->spend = isfinite(dec->spend) ? dec->spend : 0;
        if (out->effect != CHARTER_ALLOW)
            break; /* reserves nothing: the snapshot it read is its truth */
        charter_counters now;
        pthread_mutex_lock(&l->mu);
        ledger_state_counters(&l->state, agent, run_id, day, &now);
        bool same = counters_equal(&now, cnt);
        if (same)
            st = ledger_state_count(&l->state, agent, run_id, ledger_day(out->time_ms), 1,
                                    out->spend);
        pthread_mutex_unlock(&l->mu);
        if (same) {
            if (st != CHARTER_OK)
                st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory counting a decision");
            break;
        }
    }
    if (locked)
        ledger_budget_unlock(l, slot);
    return st;
}

/* The decision payload, built without re-serializing: the request exactly as
 * the agent sent it (trimmed of surrounding whitespace; its own "counters",
 * if any, are what it claimed) and the engine's answer exactly as returned
 * are embedded verbatim; the top-level keys are written in sorted order.
 *   {"answer":..,"charter_version":..,"counters":{"day":..,"run":..},
 *    "latency_us":..,"request":..,"spend":..,"time_ms":..}            */
static char *decision_payload(const char *raw, size_t raw_len, const decided *dc,
                              const charter *c, int64_t latency_us, size_t *len,
                              size_t *req_off, size_t *req_len)
{
    while (raw_len && strchr(" \t\r\n", raw[0])) {
        raw++;
        raw_len--;
    }
    while (raw_len && strchr(" \t\r\n", raw[raw_len - 1]))
        raw_len--;
    const charter_counters *k = &dc->counters;
    strbuf b = {0};
    strbuf_puts(&b, "{\"answer\":");
    strbuf_add(&b, dc->answer, dc->answer_len);
    strbuf_puts(&b, ",\"charter_version\":\"");
    strbuf_puts(&b, charter_version(c)); /* "sha256:<hex>": nothing to escape */
    strbuf_printf(&b, "\",\"counters\":{\"day\":{\"actions\":%" PRId64 ",\"spend\":%.17g},"
                  "\"run\":{\"actions\":%" PRId64 ",\"spend\":%.17g}},"
                  "\"latency_us\":%" PRId64 ",\"request\":",
              k->day_actions, k->day_spend, k->run_actions, k->run_spend, latency_us);
    *req_off = b.n;
    *req_len = raw_len;
    strbuf_add(&b, raw, raw_len);
    strbuf_printf(&b, ",\"spend\":%.17g,\"time_ms\":%" PRId64 "}", dc->spend, dc->time_ms);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}

charter_status charter_ledger_decide(charter_ledger *l, charter_decider *d,
                                     const charter *c, const char *request_json,
                                     size_t n, int64_t now_ms, char **answer,
                                     size_t *answer_len, charter_error *err)
{
    if (!answer)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_decide: answer is NULL");
    *answer = NULL;
    if (!request_json)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_decide: no request");
    if (n > CHARTER_MAX_REQUEST_BYTES)
        return ledger_fail(err, CHARTER_E_LIMIT,
                           "the request is %zu bytes; the limit is %u bytes", n,
                           CHARTER_MAX_REQUEST_BYTES);
    charter_request *r = NULL;
    charter_status st = charter_request_parse(request_json, n, &r, err);
    if (st == CHARTER_OK)
        st = charter_ledger_decide_request(l, d, c, r, request_json, n, now_ms, answer,
                                           answer_len, err);
    charter_request_free(r);
    return st;
}

/* A decision between being decided and being settled: everything the
 * settling needs, copied out of the request and the decider (both may be
 * reused before the entry is durable; the charter, in append.charter, may
 * not). One allocation: the struct, then the strings, then the engine's
 * answer. */
struct charter_ledger_ticket {
    ledger_append append;       /* first: the writer's callback gets it */
    charter_ledger *ledger;
    charter_ledger_ready_fn ready;
    void *user;
    char *payload;
    charter_effect effect;
    int64_t time_ms, deadline_ms, day;
    double spend;
    const char *agent, *run_id, *workflow, *action, *queue;
    const char *answer;
    size_t answer_len;
    /* A shared ledger: what validate checks; and what deciding again
     * (a conflict) needs: the request's bytes in the payload, the time. */
    ledger_subject subject;
    size_t req_off, req_len;
    int64_t now_ms;
    char text[];
};

static char *ticket_put(char **cursor, const char *src, size_t n)
{
    char *out = *cursor;
    if (n)
        memcpy(out, src, n);
    out[n] = '\0';
    *cursor += n + 1;
    return out;
}

/* Decides `r`, reserves its budget and builds its payload; on success
 * *out is a ticket ready to be appended. */
static charter_status decide_prepare(charter_ledger *l, charter_decider *d,
                                     const charter *c, charter_request *r,
                                     const char *request_json, size_t n,
                                     int64_t now_ms, charter_ledger_ticket **out,
                                     charter_error *err)
{
    *out = NULL;
    if (!l || !d || !c || !r || !request_json)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_decide: ledger, decider, charter and "
                           "request are required");
    int64_t t0 = base_mono_us();
    const char *agent = r->agent.p ? r->agent.p : "";
    const char *run_id = r->run_id.p ? r->run_id.p : "";
    const char *workflow = r->workflow.p ? r->workflow.p : "";
    const char *action = r->action.p ? r->action.p : "";
    int64_t when = r->has_time ? r->time_ms : now_ms;
    decided dc;
    memset(&dc, 0, sizeof dc);
    charter_status st = decide_budgeted(l, d, c, r, agent, run_id, ledger_day(when),
                                        now_ms, &dc, err);
    if (st != CHARTER_OK)
        return st;
    int64_t day = ledger_day(dc.time_ms);
    dc.answer = charter_decision_json(d, dc.dec, &dc.answer_len);
    const char *queue = dc.dec->queue ? dc.dec->queue : "";
    size_t need = sizeof(charter_ledger_ticket) + strlen(agent) + strlen(run_id) +
                  strlen(workflow) + strlen(action) + strlen(queue) + dc.answer_len + 6;
    charter_ledger_ticket *t = dc.answer ? malloc(need) : NULL;
    size_t plen = 0, req_off = 0, req_len = 0;
    char *payload = t ? decision_payload(request_json, n, &dc, c, base_mono_us() - t0, &plen,
                                         &req_off, &req_len)
                      : NULL;
    if (!payload) {
        free(t);
        if (dc.effect == CHARTER_ALLOW) {
            pthread_mutex_lock(&l->mu);
            ledger_state_count(&l->state, agent, run_id, day, -1, -dc.spend);
            pthread_mutex_unlock(&l->mu);
        }
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory rendering a decision");
    }
    memset(t, 0, sizeof *t);
    char *cur = t->text;
    t->ledger = l;
    t->payload = payload;
    t->effect = dc.effect;
    t->time_ms = dc.time_ms;
    t->deadline_ms = dc.dec->deadline_ms;
    t->day = day;
    t->spend = dc.spend;
    t->agent = ticket_put(&cur, agent, strlen(agent));
    t->run_id = ticket_put(&cur, run_id, strlen(run_id));
    t->workflow = ticket_put(&cur, workflow, strlen(workflow));
    t->action = ticket_put(&cur, action, strlen(action));
    t->queue = ticket_put(&cur, queue, strlen(queue));
    t->answer = ticket_put(&cur, dc.answer, dc.answer_len);
    t->answer_len = dc.answer_len;
    t->append = (ledger_append){.kind = "decision", .payload = payload,
                                .payload_len = plen, .charter = c};
    t->req_off = req_off;
    t->req_len = req_len;
    t->now_ms = now_ms;
    if (l->shared) {
        t->subject = (ledger_subject){.agent = t->agent, .run_id = t->run_id, .day = day};
        t->append.basis_seq = dc.basis;
        t->append.subject = &t->subject;
    }
    *out = t;
    return CHARTER_OK;
}

/* A ticket whose append conflicted: its reservation goes back, it is
 * freed, and the decision is made again. */
static void decide_discard(charter_ledger_ticket *t)
{
    charter_ledger *l = t->ledger;
    if (t->effect == CHARTER_ALLOW) {
        pthread_mutex_lock(&l->mu);
        ledger_state_count(&l->state, t->agent, t->run_id, t->day, -1, -t->spend);
        pthread_mutex_unlock(&l->mu);
    }
    free(t->payload);
    free(t);
}

/* Once the append is done (st: how): the state learns the decision (or
 * gives back its reservation), the caller gets the answer, the ticket is
 * freed. */
static charter_status decide_settle(charter_ledger_ticket *t, charter_status st,
                                    const char *why, char **answer, size_t *answer_len,
                                    charter_error *err)
{
    charter_ledger *l = t->ledger;
    uint64_t seq = t->append.seq;
    char rule[GRANT_RULE_MAX] = "";
    if (st == CHARTER_OK && t->effect == CHARTER_ESCALATE)
        ledger_escalation_rule(t->answer, t->answer_len, rule, sizeof rule);
    pthread_mutex_lock(&l->mu);
    if (st != CHARTER_OK) {
        if (t->effect == CHARTER_ALLOW)
            ledger_state_count(&l->state, t->agent, t->run_id, t->day, -1, -t->spend);
    } else {
        ledger_state_mark_decision(&l->state, seq);
        if (t->effect == CHARTER_ESCALATE) {
            state_escalation_info ei = {.agent = t->agent, .run_id = t->run_id,
                                        .workflow = t->workflow, .action = t->action,
                                        .queue = t->queue, .day = t->day,
                                        .time_ms = t->time_ms,
                                        .deadline_ms = t->deadline_ms,
                                        .spend = t->spend, .rule = rule};
            ledger_state_escalation_add(&l->state, seq, &ei);
            /* What another server did to it already (a shared ledger). */
            if (l->deferred) {
                ledger_apply_deferred(l, seq);
                pthread_cond_broadcast(&l->resolved_cv);
            }
            /* An inbox waiting for a change learns of it. */
            pthread_cond_broadcast(&l->version_cv);
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (st == CHARTER_E_CONFLICT) {
        /* Fail closed, as when the ledger cannot be written. */
        *answer = charter_ledger_unavailable_answer(t->append.charter, t->time_ms,
                                                    answer_len);
        st = ledger_fail(err, CHARTER_E_IO,
                         "the decision was made %d times, and each time another server "
                         "changed the budgets of agent '%.128s' first; denied",
                         LEDGER_CONFLICT_TRIES, t->agent);
    } else if (st != CHARTER_OK) {
        /* Fail closed: whatever was decided, the caller gets a deny. */
        *answer = charter_ledger_unavailable_answer(t->append.charter, t->time_ms,
                                                    answer_len);
        st = ledger_fail(err, CHARTER_E_IO, "the ledger is unavailable: %s", why);
    } else if (!(*answer = answer_with_id(seq, t->answer, t->answer_len, answer_len))) {
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory returning a decision");
    }
    free(t->payload);
    free(t);
    return st;
}

/* Decides, appends and waits; a decision another server's entry made
 * stale (CHARTER_E_CONFLICT) is made again, up to LEDGER_CONFLICT_TRIES
 * times in all (`tries`: the attempt this is). */
static charter_status decide_recorded(charter_ledger *l, charter_decider *d,
                                      const charter *c, charter_request *r,
                                      const char *request_json, size_t n, int64_t now_ms,
                                      int tries, char **answer, size_t *answer_len,
                                      charter_error *err)
{
    for (;; tries++) {
        charter_ledger_ticket *t = NULL;
        charter_status st = decide_prepare(l, d, c, r, request_json, n, now_ms, &t, err);
        if (st != CHARTER_OK)
            return st;
        charter_error aerr;
        memset(&aerr, 0, sizeof aerr);
        t->append.retry = tries > 1;
        st = ledger_writer_append(l->writer, &t->append, &aerr);
        if (st == CHARTER_E_CONFLICT && tries < LEDGER_CONFLICT_TRIES) {
            decide_discard(t);
            continue;
        }
        return decide_settle(t, st, aerr.message, answer, answer_len, err);
    }
}

/* A begun decision conflicted: decided again here, from the request as
 * recorded in its payload, waiting for the ledger (rare: only on a ledger
 * several servers share, when another changed the same budgets first). */
static charter_status decide_again(charter_ledger_ticket *t, char **answer,
                                   size_t *answer_len, charter_error *err)
{
    charter_ledger *l = t->ledger;
    const charter *c = t->append.charter;
    int64_t now_ms = t->now_ms, time_ms = t->time_ms;
    size_t n = t->req_len;
    char *json = malloc(n + 1);
    if (json) {
        memcpy(json, t->payload + t->req_off, n);
        json[n] = '\0';
    }
    decide_discard(t);
    charter_request *r = NULL;
    charter_decider *d = NULL;
    charter_status st = json ? charter_request_parse(json, n, &r, err) : CHARTER_E_NOMEM;
    if (st == CHARTER_OK && charter_decider_new(&d) != CHARTER_OK)
        st = CHARTER_E_NOMEM;
    if (st == CHARTER_OK)
        st = decide_recorded(l, d, c, r, json, n, now_ms, 2, answer, answer_len, err);
    else {
        *answer = charter_ledger_unavailable_answer(c, time_ms, answer_len);
        st = ledger_fail(err, CHARTER_E_IO,
                         "another server changed the budgets this decision read, and it "
                         "could not be decided again (%s)", charter_status_message(st));
    }
    charter_decider_free(d);
    charter_request_free(r);
    free(json);
    return st;
}

charter_status charter_ledger_decide_request(charter_ledger *l, charter_decider *d,
                                             const charter *c, charter_request *r,
                                             const char *request_json, size_t n,
                                             int64_t now_ms, char **answer,
                                             size_t *answer_len, charter_error *err)
{
    if (!answer)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_decide: answer is NULL");
    *answer = NULL;
    return decide_recorded(l, d, c, r, request_json, n, now_ms, 1, answer, answer_len, err);
}

static void ticket_done(ledger_append *a)
{
    charter_ledger_ticket *t = (charter_ledger_ticket *)a;
    t->ready(t->user);
}

charter_status charter_ledger_decide_begin(charter_ledger *l, charter_decider *d,
                                           const charter *c, charter_request *r,
                                           const char *request_json, size_t n,
                                           int64_t now_ms, charter_ledger_ready_fn ready,
                                           void *user, charter_ledger_ticket **ticket,
                                           char **answer, size_t *answer_len,
                                           charter_error *err)
{
    if (!ticket || !answer || !ready)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_decide_begin: ticket, answer and ready are "
                           "required");
    *ticket = NULL;
    *answer = NULL;
    charter_ledger_ticket *t = NULL;
    charter_status st = decide_prepare(l, d, c, r, request_json, n, now_ms, &t, err);
    if (st != CHARTER_OK)
        return st;
    t->ready = ready;
    t->user = user;
    t->append.done = ticket_done;
    charter_error aerr;
    /* The ticket is handed over before the writer can call back. */
    *ticket = t;
    st = ledger_writer_submit(l->writer, &t->append, &aerr);
    if (st != CHARTER_OK) {
        *ticket = NULL;
        return decide_settle(t, st, aerr.message, answer, answer_len, err);
    }
    return CHARTER_OK;
}

bool charter_decision_id_parse(const char *id, uint64_t *seq)
{
    return ledger_decision_id_parse(id, seq);
}

charter_effect charter_ledger_ticket_effect(const charter_ledger_ticket *t)
{
    return t->effect;
}

charter_status charter_ledger_decide_end(charter_ledger_ticket *t, char **answer,
                                         size_t *answer_len, charter_error *err)
{
    *answer = NULL;
    if (t->append.status == CHARTER_E_CONFLICT)
        return decide_again(t, answer, answer_len, err);
    return decide_settle(t, t->append.status, t->append.message, answer, answer_len, err);
}

/* ---- Resolutions and outcomes -------------------------------------------- */

char *ledger_payload_json(json_t *j, size_t *len)
{
    char *payload = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(j);
    if (payload)
        *len = strlen(payload);
    return payload;
}

charter_status ledger_append_json(charter_ledger *l, const char *kind, json_t *j,
                                  uint64_t *seq, charter_error *err)
{
    size_t len = 0;
    char *payload = ledger_payload_json(j, &len);
    if (!payload)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory recording %s", kind);
    ledger_append a = {.kind = kind, .payload = payload, .payload_len = len};
    charter_status st = ledger_writer_append(l->writer, &a, err);
    free(payload);
    if (st == CHARTER_OK && seq)
        *seq = a.seq;
    return st;
}

static charter_status outcome_check(charter_ledger *l, const charter_outcome *o,
                                    charter_error *err)
{
    if (!o || !o->metric || !*o->metric)
        return ledger_fail(err, CHARTER_E_INVALID, "an outcome needs a metric");
    if (!isfinite(o->value))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "an outcome's value must be a finite number");
    bool by_decision = o->decision_id && *o->decision_id;
    bool by_workflow = o->workflow && *o->workflow;
    if (by_decision == by_workflow)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "an outcome is tied to a decision or to a workflow and a "
                           "time window: expected exactly one of the two");
    if (by_workflow && o->from_ms >= o->to_ms)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "an outcome's window must end after it starts");
    if (by_decision) {
        uint64_t seq;
        if (!ledger_decision_id_parse(o->decision_id, &seq))
            return ledger_fail(err, CHARTER_E_INVALID,
                               "expected a decision id such as d-42, found '%s'",
                               o->decision_id);
        pthread_mutex_lock(&l->mu);
        bool known = ledger_state_is_decision(&l->state, seq);
        pthread_mutex_unlock(&l->mu);
        if (!known)
            return ledger_fail(err, CHARTER_E_REF, "there is no decision %s in this ledger",
                               o->decision_id);
    }
    return CHARTER_OK;
}

charter_status charter_ledger_outcome(charter_ledger *l, const charter_outcome *o,
                                      uint64_t *seq_out, charter_error *err)
{
    if (!l)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_outcome: no ledger");
    charter_status st = outcome_check(l, o, err);
    if (st != CHARTER_OK)
        return st;
    int64_t t = o->time_ms ? o->time_ms : charter_now_ms();
    char ts[40];
    ch_time_format(t, ts);
    json_t *j = json_pack("{s:s,s:f,s:s?,s:s,s:I}", "metric", o->metric, "value",
                          o->value, "note", o->note, "time", ts, "time_ms",
                          (json_int_t)t);
    if (j && o->decision_id && *o->decision_id) {
        json_object_set_new(j, "decision_id", json_string(o->decision_id));
    } else if (j) {
        char from[40], to[40];
        ch_time_format(o->from_ms, from);
        ch_time_format(o->to_ms, to);
        json_object_set_new(j, "workflow", json_string(o->workflow));
        json_object_set_new(j, "from", json_string(from));
        json_object_set_new(j, "to", json_string(to));
        json_object_set_new(j, "from_ms", json_integer(o->from_ms));
        json_object_set_new(j, "to_ms", json_integer(o->to_ms));
    }
    return ledger_append_json(l, "outcome", j, seq_out, err);
}

/* ---- Time ----------------------------------------------------------------- */

bool charter_time_parse(const char *s, int64_t *out_ms)
{
    if (!s || !*s || !out_ms)
        return false;
    size_t n = strlen(s);
    bool digits = true;
    for (size_t i = 0; i < n; i++)
        digits = digits && ((s[i] >= '0' && s[i] <= '9') || (i == 0 && s[i] == '-'));
    if (digits && n > 4 && n < 19) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end)
            return false;
        *out_ms = v;
        return true;
    }
    if (n == 10) {
        char buf[32];
        snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
        return ch_time_parse(buf, strlen(buf), out_ms);
    }
    return ch_time_parse(s, n, out_ms);
}

size_t charter_time_format(int64_t ms, char *buf)
{
    return ch_time_format(ms, buf);
}
