/* server.c - a charter_server's life: start, reload, the deadline thread,
 * graceful stop; and the pieces handlers share (the serving charter, the
 * per-thread decider, deciding through the ledger).
 */
#include "base/banned.h"

#include "server/server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fail.h"
#include "base/limits.h"
#include "base/thread.h"
#include "ledger/pg_shared.h"
#include "ledger/store.h"
#include "ledger/writer.h"
#include "notify/notify.h"

void srv_log(srv *s, const char *fmt, ...)
{
    if (!s->opt.log)
        return;
    char line[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->opt.log(s->opt.log_user, line);
}

/* On the ledger's writer thread, once per change: what agents are told is
 * only "could not be recorded", so the why goes here. */
static void ledger_health_changed(void *user, const charter_ledger_health *h)
{
    srv *s = user;
    if (h->ok)
        srv_log(s, "ledger: writable again; decisions are recorded");
    else
        srv_log(s, "ledger: cannot be written (%s): %s; decisions are denied "
                   "(ledger_unavailable) until it recovers",
                h->reason, h->message);
}

charter *srv_charter(srv *s)
{
    pthread_mutex_lock(&s->swap_mu);
    charter *c = charter_retain(s->charter);
    pthread_mutex_unlock(&s->swap_mu);
    return c;
}

static void decider_destroy(void *d)
{
    charter_decider_free(d);
}

charter_decider *srv_decider(srv *s)
{
    charter_decider *d = pthread_getspecific(s->decider_key);
    if (!d && charter_decider_new(&d) == CHARTER_OK)
        pthread_setspecific(s->decider_key, d);
    return d;
}

void srv_count_decision(srv *s, charter_status st, const char *answer, int64_t t0)
{
    if (st == CHARTER_OK && answer) {
        /* The answer's "decision" value: the engine writes it right after
         * the id, so a short search finds it. */
        const char *p = strstr(answer, "\"decision\":\"");
        int effect = 0;
        if (p && !strncmp(p + 12, "deny", 4))
            effect = CHARTER_DENY;
        else if (p && !strncmp(p + 12, "escalate", 8))
            effect = CHARTER_ESCALATE;
        srv_metrics_decision(&s->metrics, effect, base_mono_us() - t0);
    } else if (srv_ledger_failed(st)) {
        srv_metrics_decision(&s->metrics, 3, base_mono_us() - t0);
    }
}

bool srv_ledger_failed(charter_status st)
{
    return st == CHARTER_E_IO || st == CHARTER_E_CONFLICT;
}

bool srv_decide_begin(srv *s, charter_request *r, const char *json, size_t n,
                      int64_t t0, charter_ledger_ready_fn ready, void *user,
                      srv_decision *d)
{
    memset(d, 0, sizeof *d);
    d->t0 = t0;
    d->charter = srv_charter(s);
    charter_decider *dr = srv_decider(s);
    if (!dr) {
        d->st = base_fail(&d->err, CHARTER_E_NOMEM, "out of memory");
        return false;
    }
    d->st = charter_ledger_decide_begin(s->ledger, dr, d->charter, r, json, n,
                                        charter_now_ms(), ready, user, &d->ticket,
                                        &d->answer, &d->len, &d->err);
    return d->ticket != NULL;
}

bool srv_decision_must_wait(const srv_decision *d)
{
    /* A ticket starts with its ledger_append (recorder.c: the writer's
     * callback is handed the append and finds its ticket by the same
     * address), whose status the writer set before calling `ready`. */
    const ledger_append *a = (const ledger_append *)(const void *)d->ticket;
    return a && a->status == CHARTER_E_CONFLICT;
}

void srv_decide_end(srv *s, srv_decision *d)
{
    if (d->ticket)
        d->st = charter_ledger_decide_end(d->ticket, &d->answer, &d->len, &d->err);
    d->ticket = NULL;
    /* A decision that lost its race with other servers too often (a
     * shared ledger) is not recorded, as when the ledger cannot be
     * written: the agent gets the same fail-closed deny. An outage is
     * logged once by the health callback; anything else, each time. */
    if (srv_ledger_failed(d->st)) {
        if (!d->answer)
            d->answer = charter_ledger_unavailable_answer(d->charter, charter_now_ms(),
                                                          &d->len);
        charter_ledger_health h;
        charter_ledger_health_get(s->ledger, &h);
        if (h.ok && d->err.message[0])
            srv_log(s, "decision not recorded (denied, 503): %s", d->err.message);
    }
    charter_release(d->charter);
    d->charter = NULL;
    srv_count_decision(s, d->st, d->answer, d->t0);
}

/* ---- The deadline thread ---------------------------------------------------- */

static bool expire_stopping(srv *s)
{
    pthread_mutex_lock(&s->stop_mu);
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->stop_mu);
    return stop;
}

/* Sleeps on stop_cv until mono time until_us (or until stopped). */
static void expire_sleep(srv *s, int64_t until_us)
{
    int64_t left = until_us - base_mono_us();
    if (left <= 0)
        return;
    struct timespec until;
    base_time_after(CLOCK_REALTIME, left, &until);
    pthread_mutex_lock(&s->stop_mu);
    if (!s->stopping)
        pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &until);
    pthread_mutex_unlock(&s->stop_mu);
}

/* A standing approval lives no longer than its grantor's right to approve
 * its queue: once no approver key of that name is accepted for the queue
 * (the key revoked, its queues or roles changed, or the charter's queue no
 * longer taking them), the server revokes the grant in the ledger, before
 * it can approve anything more in that person's name. */
typedef struct orphan {
    char id[32];
    char who[CHARTER_MAX_ID_BYTES + 1];
    char queue[CHARTER_MAX_ID_BYTES + 1];
} orphan;

typedef struct orphans {
    const srv_keys *ks;
    const charter *c;
    orphan *v;
    size_t n, cap;
} orphans;

static bool still_approver(const srv_keys *ks, const charter *c, const char *who,
                           const char *queue)
{
    for (size_t i = 0; i < ks->count; i++) {
        const srv_key *k = &ks->keys[i];
        if (k->role == CHARTER_ROLE_APPROVER && !strcmp(k->name, who) &&
            api_approver_of(k, c, queue))
            return true;
    }
    return false;
}

static int find_orphan(const charter_grant *g, void *user)
{
    orphans *o = user;
    if (still_approver(o->ks, o->c, g->who, g->queue))
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 8;
        orphan *v = realloc(o->v, cap * sizeof *v);
        if (!v)
            return 1; /* the next pass tries again */
        o->v = v;
        o->cap = cap;
    }
    orphan *x = &o->v[o->n++];
    snprintf(x->id, sizeof x->id, "%s", g->id);
    snprintf(x->who, sizeof x->who, "%s", g->who);
    snprintf(x->queue, sizeof x->queue, "%s", g->queue);
    return 0;
}

static void grants_prune(srv *s, const charter *c, const srv_keys *ks, int64_t now)
{
    orphans o = {.ks = ks, .c = c};
    charter_error err;
    if (charter_ledger_grants(s->ledger, true, now, find_orphan, &o, &err) == CHARTER_OK) {
        for (size_t i = 0; i < o.n; i++) {
            char note[CHARTER_MAX_ID_BYTES * 2 + 128];
            snprintf(note, sizeof note,
                     "its grantor '%s' is no longer an approver of queue '%s' (the key "
                     "revoked or changed, or the charter's queue no longer takes them)",
                     o.v[i].who, o.v[i].queue);
            if (charter_ledger_revoke_grant(s->ledger, o.v[i].id, "charter serve", note,
                                            now, &err) == CHARTER_OK)
                srv_log(s, "standing approval %s revoked: %s", o.v[i].id, note);
        }
    }
    free(o.v);
}

/* Asks the lease (a shared ledger; NULL: SQLite, always held) whether this
 * server runs the one-at-a-time work now; logs each change. */
static bool lease_check(srv *s)
{
    if (!s->lease)
        return true;
    bool held = ledger_lease_hold(s->lease);
    if (atomic_exchange(&s->lease_held, held) != held) {
        if (held)
            srv_log(s, "lease: taken; this server applies deadlines and standing "
                       "approvals and writes notifications for every server of the "
                       "ledger");
        else
            srv_log(s, "lease: not held (another server holds it, or the database "
                       "cannot be reached); deadlines, standing approvals and "
                       "notifications are left to the server that holds it");
    }
    return held;
}

/* The deadline thread: every expire_every_ms it applies the deadlines
 * passed (charter_ledger_expire), and on every change of the escalations
 * (one opening, above all) as well as on that tick it applies the standing
 * approvals (charter_ledger_apply_grants), so an escalation a grant
 * matches is approved moments after it opens; before that it revokes the
 * grants whose grantor may no longer approve (grants_prune). It waits on the ledger's
 * escalation version; once the server stops, those waits are interrupted
 * and return at once, so it then sleeps on stop_cv instead until told to
 * stop. A failure (ledger unavailable) leaves the escalations open; the
 * next round tries again. On a shared ledger all of this runs only while
 * this server holds the lease (asked on every tick, at least once a
 * second); every server follows the charter the others load on its tick
 * (srv_follow_run). */
static void *expire_main(void *arg)
{
    srv *s = arg;
    base_thread_name("charter-expire");
    int64_t every_us = (int64_t)s->opt.expire_every_ms * 1000;
    /* A shared ledger's lease is asked at least once a second, so another
     * server takes over within about a second of the holder's death. */
    if (s->lease && every_us > 1000 * 1000)
        every_us = 1000 * 1000;
    int64_t tick = base_mono_us() + every_us;
    uint64_t seen = charter_ledger_escalations_version(s->ledger);
    const void *pruned_keys = NULL, *pruned_charter = NULL;
    bool held = atomic_load(&s->lease_held); /* asked once by the start */
    while (!expire_stopping(s)) {
        int64_t left_us = tick - base_mono_us();
        uint64_t v = seen;
        if (left_us > 0)
            v = charter_ledger_escalations_wait(s->ledger, seen,
                                                (uint32_t)((left_us + 999) / 1000));
        if (expire_stopping(s))
            break;
        bool due = base_mono_us() >= tick;
        if (v == seen && !due) {
            /* Returned early with nothing changed: the waits were
             * interrupted (the server is stopping). */
            expire_sleep(s, tick);
            continue;
        }
        /* Taken before the pass: what changes during it (its own approvals
         * included) wakes the next one. */
        seen = v;
        if (due) {
            srv_follow_run(s);
            held = lease_check(s);
        }
        if (!held) {
            /* Another server applies deadlines and grants; after it dies and
             * this one takes the lease, the grantors are checked at once. */
            if (due)
                tick = base_mono_us() + every_us;
            pruned_keys = pruned_charter = NULL;
            continue;
        }
        charter *c = srv_charter(s);
        int64_t now = charter_now_ms();
        charter_error err;
        if (due) {
            size_t n = 0;
            charter_ledger_expire(s->ledger, c, now, &n, &err);
            atomic_fetch_add(&s->metrics.timeouts, n);
            tick = base_mono_us() + every_us;
        }
        /* Grants whose grantor lost the right go first: on every tick, and
         * at once after a reload brought other keys or another charter. */
        pthread_mutex_lock(&s->swap_mu);
        srv_keys *ks = srv_keys_retain(s->keys);
        pthread_mutex_unlock(&s->swap_mu);
        if (due || (const void *)ks != pruned_keys || (const void *)c != pruned_charter) {
            grants_prune(s, c, ks, now);
            pruned_keys = ks;
            pruned_charter = c;
        }
        srv_keys_release(ks);
        charter_ledger_apply_grants(s->ledger, c, now, NULL, &err);
        charter_release(c);
    }
    return NULL;
}

/* ---- Start, reload, stop ---------------------------------------------------- */

/* The ledger's writer thread says the witness stopped (or resumed) taking
 * heads: worth a line in the log, not an outage. */
static void witness_status(const char *problem, void *user)
{
    srv *s = user;
    if (problem)
        srv_log(s, "witness: %s; decisions are still recorded and signed, and "
                   "'charter checkpoints --since SEQ' exports the heads it missed",
                problem);
    else
        srv_log(s, "witness: '%s' takes checkpoint heads again", s->opt.witness_path);
}

/* opt.server_id, else "<hostname>:<pid>". */
static void server_id_init(srv *s)
{
    if (s->opt.server_id && *s->opt.server_id) {
        snprintf(s->server_id, sizeof s->server_id, "%s", s->opt.server_id);
        return;
    }
    char host[200];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(s->server_id, sizeof s->server_id, "%s:%ld", host, (long)getpid());
}

static void server_free(srv *s)
{
    ledger_lease_close(s->lease);
    srv_follow_release(&s->follow);
    charter_release(s->charter);
    srv_keys_release(s->keys);
    pthread_key_delete(s->decider_key);
    pthread_mutex_destroy(&s->swap_mu);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    srv_sessions_free(s->sessions);
    free(s->console_dir);
    free(s->charter_path);
    free(s->keys_dir);
    free(s->ledger_path);
    free(s);
}

charter_status charter_server_start(const charter_server_options *opt,
                                    charter_server **out, charter_error *err)
{
    *out = NULL;
    if (!opt || !opt->charter_path || !opt->ledger_path || !opt->keys_dir)
        return base_fail(err, CHARTER_E_INVALID,
                         "a charter, a ledger and a keys directory are required");
    srv *s = calloc(1, sizeof *s);
    if (!s)
        return CHARTER_E_NOMEM;
    s->opt = *opt;
    if (!s->opt.listen)
        s->opt.listen = "127.0.0.1:8080";
    if (!s->opt.max_body_bytes)
        s->opt.max_body_bytes = CHARTER_MAX_REQUEST_BYTES;
    if (!s->opt.max_header_bytes)
        s->opt.max_header_bytes = 16 * 1024;
    if (!s->opt.idle_timeout_s)
        s->opt.idle_timeout_s = 30;
    if (!s->opt.max_wait_s)
        s->opt.max_wait_s = 60;
    if (!s->opt.max_connections)
        s->opt.max_connections = 1024;
    if (!s->opt.threads) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->opt.threads = cpus > 0 ? (uint32_t)(cpus < 64 ? cpus : 64) : 2;
    }
    if (!s->opt.expire_every_ms)
        s->opt.expire_every_ms = 1000;
    base_mutex_init_hot(&s->swap_mu);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    pthread_key_create(&s->decider_key, decider_destroy);
    srv_follow_init(&s->follow);
    server_id_init(s);
    s->opt.server_id = s->server_id;
    s->charter_path = strdup(opt->charter_path);
    s->keys_dir = strdup(opt->keys_dir);
    s->ledger_path = strdup(opt->ledger_path);
    s->opt.charter_path = s->charter_path;
    s->opt.keys_dir = s->keys_dir;
    s->opt.ledger_path = s->ledger_path;
    charter_status st = CHARTER_E_NOMEM;
    if (!s->charter_path || !s->keys_dir || !s->ledger_path)
        goto fail;
    if (opt->console_dir && !(s->console_dir = strdup(opt->console_dir)))
        goto fail;
    s->opt.console_dir = s->console_dir;
    if ((st = srv_sessions_new(CHARTER_MAX_SESSIONS, CHARTER_MAX_SESSIONS_PER_KEY,
                               (int64_t)CHARTER_SESSION_LIFETIME_S * 1000,
                               &s->sessions)) != CHARTER_OK) {
        base_fail(err, st, "cannot make the console's session store (out of memory, "
                           "or libsodium did not start)");
        goto fail;
    }
    if ((st = charter_load(s->charter_path, &s->charter, err)) != CHARTER_OK ||
        (st = srv_keys_load(s->keys_dir, &s->keys, err)) != CHARTER_OK)
        goto fail;
    charter_ledger_options lo = {.key_path = opt->key_path,
                                 .checkpoint_every = opt->checkpoint_every,
                                 .checkpoint_ms = opt->checkpoint_ms,
                                 .witness_path = opt->witness_path,
                                 .witness_status = witness_status,
                                 .witness_user = s,
                                 .on_health = ledger_health_changed,
                                 .health_user = s,
                                 .on_charter_loaded = srv_follow_note,
                                 .charter_user = s};
    if ((st = charter_ledger_open(opt->ledger_path, &lo, &s->ledger, err)) != CHARTER_OK)
        goto fail;
    if ((st = ledger_lease_open(opt->ledger_path, &s->lease, err)) != CHARTER_OK)
        goto fail_ledger;
    if (charter_ledger_shared(s->ledger)) {
        char shown[512];
        ledger_path_display(opt->ledger_path, shown, sizeof shown);
        srv_log(s, "ledger: '%s' is shared (PostgreSQL); this server is '%s'", shown,
                s->server_id);
    }
    atomic_store(&s->lease_held, s->lease == NULL);
    if ((st = charter_ledger_record_charter(s->ledger, s->charter, NULL, err)) !=
            CHARTER_OK ||
        (st = charter_ledger_charter_loaded(s->ledger, s->charter, s->server_id, err)) !=
            CHARTER_OK ||
        (st = srv_mcp_open(s, err)) != CHARTER_OK)
        goto fail_ledger;
    /* The search index is derived: without it the server decides and
     * records as ever, and only searching answers 503. */
    charter_error ierr;
    memset(&ierr, 0, sizeof ierr);
    if (srv_indexer_start(s, &ierr) != CHARTER_OK)
        srv_log(s, "search index: cannot be opened: %s; searching is unavailable",
                ierr.message);
    /* Before the first request: a server alone on its ledger holds the
     * lease by the time it listens. */
    lease_check(s);
    if (pthread_create(&s->expire_thread, NULL, expire_main, s) != 0) {
        st = CHARTER_E_NOMEM;
        goto fail_ledger;
    }
    s->expire_started = true;
    if ((st = srv_http_start(s, err)) != CHARTER_OK)
        goto fail_thread;
    if ((st = srv_notify_start(s, err)) != CHARTER_OK) {
        srv_http_quiesce(s);
        srv_http_stop(s);
        goto fail_thread;
    }
    *out = s;
    return CHARTER_OK;
fail_thread:
    pthread_mutex_lock(&s->stop_mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
    pthread_join(s->expire_thread, NULL);
fail_ledger:
    srv_indexer_stop(s->indexer);
    srv_mcp_close(s);
    charter_ledger_close(s->ledger, NULL);
fail:
    server_free(s);
    return st;
}

const char *charter_server_address(const charter_server *s)
{
    return s ? s->address : "";
}

charter_status charter_server_reload(charter_server *s, const char **version,
                                     charter_error *err)
{
    charter *c = NULL;
    srv_keys *k = NULL;
    charter_status st = charter_load(s->charter_path, &c, err);
    if (st == CHARTER_OK)
        st = srv_keys_load(s->keys_dir, &k, err);
    if (st == CHARTER_OK)
        st = charter_ledger_record_charter(s->ledger, c, NULL, err);
    if (st == CHARTER_OK)
        st = charter_ledger_charter_loaded(s->ledger, c, s->server_id, err);
    if (st != CHARTER_OK) {
        charter_release(c);
        srv_keys_release(k);
        atomic_fetch_add(&s->metrics.reload_failures, 1);
        return st;
    }
    srv_swap(s, c, k, version);
    return CHARTER_OK;
}

void srv_swap(srv *s, charter *c, srv_keys *k, const char **version)
{
    pthread_mutex_lock(&s->swap_mu);
    charter *old = s->charter;
    srv_keys *old_keys = k ? s->keys : NULL;
    s->charter = c;
    if (k)
        s->keys = k;
    if (version)
        *version = charter_version(c);
    pthread_mutex_unlock(&s->swap_mu);
    /* Requests in flight hold their own references. */
    charter_release(old);
    srv_keys_release(old_keys);
    if (s->notify) {
        charter_error nerr;
        if (k && ntf_reload_secrets(s->notify, &nerr) != CHARTER_OK)
            srv_log(s, "notifications: %s; the webhook secrets in use stay", nerr.message);
        charter *now = srv_charter(s);
        ntf_warn_unsigned(s->notify, now);
        charter_release(now);
    }
    atomic_fetch_add(&s->metrics.reloads, 1);
}

charter_status charter_server_stop(charter_server *s, charter_error *err)
{
    if (!s)
        return CHARTER_OK;
    srv_http_quiesce(s);                    /* no new connections */
    charter_ledger_interrupt_waits(s->ledger); /* long polls answer now */
    /* Let the requests in flight finish: decisions waiting for their
     * commit (the writer runs until the ledger closes, below), handlers on
     * workers (long polls were just woken). Until they have, connections
     * are suspended, and libmicrohttpd must not be stopped with any. */
    while (atomic_load(&s->inflight) > 0)
        usleep(5 * 1000);
    usleep(20 * 1000); /* the last response leaves its event thread */
    srv_http_stop(s);
    pthread_mutex_lock(&s->stop_mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
    if (s->expire_started)
        pthread_join(s->expire_thread, NULL);
    ntf_stop(s->notify);
    srv_indexer_stop(s->indexer);
    srv_mcp_close(s);
    charter_status st = charter_ledger_close(s->ledger, err);
    server_free(s);
    return st;
}
