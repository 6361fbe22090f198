/* notifier.c - the notifications' life (new, start, stop, reload, stats,
 * listing) and the events thread, which turns what the ledger's escalations
 * did into rows of the outbox.
 *
 * The events thread reads the ledger like an inbox does: it waits for the
 * escalation version to change (or a second to pass, for reminders), lists
 * the open escalations and merges them, in decision order, with the
 * `tracked` table (the ones it has seen open):
 *
 *   open, not tracked       -> escalation.opened, tracked
 *   open, tracked elsewhere -> escalation.moved (the new queue's targets)
 *   open, tracked           -> escalation.reminder at each share of the SLA
 *   tracked, no longer open -> escalation.timed_out or .resolved, forgotten
 *
 * The messages and the table change in one transaction, synchronous=FULL:
 * a message is on disk before the delivery thread can try it, and a pass
 * cut short by kill -9 is simply made again (ids are deterministic, so
 * nothing is owed twice). Passes are at most ~5 a second however fast
 * escalations change, and a long pass spaces the next one out so the thread
 * stays within a fifth of a core; nothing here is on a decision's path.
 */
#include "base/banned.h"

#include "notify/notify_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fail.h"
#include "base/thread.h"

void ntf_log(ntf *n, const char *fmt, ...)
{
    if (!n->opt.log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    n->opt.log(n->opt.log_user, line);
}

static bool is_stopping(ntf *n)
{
    pthread_mutex_lock(&n->mu);
    bool s = n->stopping;
    pthread_mutex_unlock(&n->mu);
    return s;
}

/* Sleeps until `until_us` (base_mono_us) or the stop. */
static void nap(ntf *n, int64_t until_us)
{
    pthread_mutex_lock(&n->mu);
    while (!n->stopping) {
        int64_t left = until_us - base_mono_us();
        if (left <= 0)
            break;
        struct timespec ts;
        base_time_after(CLOCK_REALTIME, left, &ts);
        pthread_cond_timedwait(&n->cv, &n->mu, &ts);
    }
    pthread_mutex_unlock(&n->mu);
}

/* ---- A pass ------------------------------------------------------------------- */

/* An open escalation, copied out of the listing's callback. */
typedef struct seen {
    charter_escalation e;
    char *strings;                 /* one block for every string of e */
} seen;

typedef struct pass {
    ntf *n;
    sqlite3 *db;
    const charter *c;
    int64_t now_ms;
    seen *open;
    size_t open_count, open_cap;
    size_t added;                  /* messages written */
    int64_t next_ms;               /* the next reminder's time (INT64_MAX: none) */
    bool failed;
} pass;

static int collect(const charter_escalation *e, void *user)
{
    pass *p = user;
    if (p->open_count == p->open_cap) {
        size_t cap = p->open_cap ? 2 * p->open_cap : 64;
        seen *v = realloc(p->open, cap * sizeof *v);
        if (!v) {
            p->failed = true;
            return 1;
        }
        p->open = v;
        p->open_cap = cap;
    }
    const char *src[] = {e->decision_id, e->agent, e->workflow, e->action, e->queue};
    size_t len[5], total = 0;
    for (size_t i = 0; i < 5; i++)
        total += (len[i] = strlen(src[i] ? src[i] : "")) + 1;
    seen *s = &p->open[p->open_count];
    if (!(s->strings = malloc(total))) {
        p->failed = true;
        return 1;
    }
    s->e = *e;
    const char **dst[] = {&s->e.decision_id, &s->e.agent, &s->e.workflow, &s->e.action,
                          &s->e.queue};
    char *at = s->strings;
    for (size_t i = 0; i < 5; i++) {
        memcpy(at, src[i] ? src[i] : "", len[i] + 1);
        *dst[i] = at;
        at += len[i] + 1;
    }
    s->e.run_id = NULL;
    s->e.resolved_by = s->e.note = NULL;
    p->open_count++;
    return 0;
}

/* Writes event `kind` of `e` for every target of queue `queue`. */
static void emit(pass *p, ntf_event_kind kind, const charter_escalation *e,
                 const char *queue, double share)
{
    ch_notify_target one;
    const ch_notify_target *t;
    size_t count = ntf_queue_targets(ch_find_queue(p->c, queue), &one, &t);
    ntf_event ev = {.kind = kind, .e = e, .queue = queue, .share = share,
                    .now_ms = p->now_ms};
    for (size_t i = 0; i < count; i++) {
        ntf_message m;
        memset(&m, 0, sizeof m);
        bool added = false;
        if (!ntf_message_build(&ev, &t[i], p->n->public_url, p->n->smtp_from, &m) ||
            !ntf_message_add(p->db, &m, &added))
            p->failed = true;
        else if (added)
            p->added++;
        strbuf_release(&m.body);
    }
}

/* Marks every reminder of the escalation's queue whose time has come;
 * returns the index of the latest one newly due, or -1. The window of
 * the shares is the queue's SLA ending at the deadline. */
static int reminders_due(pass *p, const char *queue, int64_t deadline_ms,
                         uint32_t *reminded)
{
    const ch_queue *q = ch_find_queue(p->c, queue);
    const double *shares;
    size_t count = ntf_queue_reminders(q, &shares);
    if (!count || deadline_ms <= 0 || p->now_ms >= deadline_ms)
        return -1;
    int64_t start = deadline_ms - q->sla_ms;
    int latest = -1;
    for (size_t i = 0; i < count && i < 32; i++) {
        int64_t at = start + (int64_t)(shares[i] * (double)q->sla_ms);
        if (p->now_ms >= at && !(*reminded & (1u << i))) {
            *reminded |= 1u << i;
            latest = (int)i;
        } else if (p->now_ms < at && at < p->next_ms) {
            p->next_ms = at;       /* the next pass comes in time for it */
        }
    }
    return latest;
}

static double share_of(const pass *p, const char *queue, int i)
{
    const double *shares;
    ntf_queue_reminders(ch_find_queue(p->c, queue), &shares);
    return shares[i];
}

typedef struct gone {
    pass *p;
    bool closed;
} gone;

static int on_gone(const charter_escalation *e, void *user)
{
    gone *g = user;
    if (e->status == CHARTER_ESC_OPEN)
        return 0;
    g->closed = true;
    emit(g->p, e->timed_out ? NTF_TIMED_OUT : NTF_RESOLVED, e, e->queue, 0);
    return 0;
}

static void track(pass *p, const charter_escalation *e, uint32_t reminded)
{
    ntf_tracked t = {.seq = e->seq, .decision_id = (char *)e->decision_id,
                     .queue = (char *)e->queue, .deadline_ms = e->deadline_ms,
                     .reminded = reminded};
    if (!ntf_tracked_put(p->db, &t))
        p->failed = true;
}

/* A tracked escalation no longer in the open listing: resolved, timed out,
 * or (a race with the listing) still open. */
static void merge_gone(pass *p, const ntf_tracked *t)
{
    gone g = {.p = p};
    charter_error err;
    charter_status st = charter_ledger_escalation(p->n->ledger, t->decision_id, 0, on_gone,
                                                  &g, &err);
    if (st == CHARTER_E_REF || st == CHARTER_E_INVALID || (st == CHARTER_OK && g.closed)) {
        if (!ntf_tracked_delete(p->db, t->seq))
            p->failed = true;
    }
}

static void merge_open(pass *p, const charter_escalation *e, const ntf_tracked *t)
{
    if (!t) {
        /* Reminders whose time has passed before it was first seen are not
         * sent late: "opened" says it all. */
        uint32_t reminded = 0;
        reminders_due(p, e->queue, e->deadline_ms, &reminded);
        emit(p, NTF_OPENED, e, e->queue, 0);
        track(p, e, reminded);
        return;
    }
    if (strcmp(t->queue, e->queue)) {
        uint32_t reminded = 0;
        reminders_due(p, e->queue, e->deadline_ms, &reminded);
        emit(p, NTF_MOVED, e, e->queue, 0);
        track(p, e, reminded);
        return;
    }
    uint32_t reminded = t->reminded;
    int i = reminders_due(p, e->queue, e->deadline_ms, &reminded);
    if (i >= 0)
        emit(p, NTF_REMINDER, e, e->queue, share_of(p, e->queue, i));
    if (reminded != t->reminded || t->deadline_ms != e->deadline_ms)
        track(p, e, reminded);
}

static bool charter_has_targets(const charter *c)
{
    for (size_t i = 0; i < c->queue_count; i++)
        if (c->queues[i].notify || c->queues[i].notify_count)
            return true;
    return false;
}

/* One pass; returns when the next one must come at the latest for a
 * reminder (INT64_MAX: none is waiting). */
static int64_t pass_run(ntf *n, sqlite3 *db)
{
    charter *c = n->opt.charter_get(n->opt.charter_user);
    if (!c)
        return INT64_MAX;
    pass p = {.n = n, .db = db, .c = c, .next_ms = INT64_MAX};
    int64_t tracked_count = 0;
    if (!charter_has_targets(c) && ntf_tracked_count(db, &tracked_count) &&
        tracked_count == 0) {
        charter_release(c);
        return INT64_MAX;
    }
    charter_error err;
    ntf_tracked *tracked = NULL;
    size_t tn = 0;
    if (charter_ledger_escalations(n->ledger, NULL, true, collect, &p, &err) != CHARTER_OK ||
        p.failed || !ntf_tracked_load(db, &tracked, &tn) ||
        !ntf_outbox_exec(db, "BEGIN IMMEDIATE"))
        goto done;
    p.now_ms = charter_now_ms();
    size_t i = 0, k = 0;
    while (i < p.open_count || k < tn) {
        const charter_escalation *e = i < p.open_count ? &p.open[i].e : NULL;
        const ntf_tracked *t = k < tn ? &tracked[k] : NULL;
        if (e && (!t || e->seq < t->seq)) {
            merge_open(&p, e, NULL);
            i++;
        } else if (t && (!e || t->seq < e->seq)) {
            merge_gone(&p, t);
            k++;
        } else {
            merge_open(&p, e, t);
            i++;
            k++;
        }
    }
    if (p.failed || !ntf_outbox_exec(db, "COMMIT")) {
        ntf_outbox_exec(db, "ROLLBACK");
        ntf_log(n, "notifications: cannot write the outbox (%s); trying again",
                sqlite3_errmsg(db));
        p.added = 0;
    }
    if (p.added)
        ntf_deliver_wake(n);
done:
    ntf_tracked_free(tracked, tn);
    for (size_t j = 0; j < p.open_count; j++)
        free(p.open[j].strings);
    free(p.open);
    charter_release(c);
    return p.next_ms;
}

static sqlite3 *events_db(ntf *n)
{
    sqlite3 *db = NULL;
    charter_error err;
    if (ntf_outbox_open(n->outbox_path, true, &db, &err) != CHARTER_OK)
        ntf_log(n, "notifications: %s", err.message);
    return db;
}

void *ntf_events_main(void *arg)
{
    ntf *n = arg;
    base_thread_name("charter-notify");
    sqlite3 *db = events_db(n);
    if (!db)
        return NULL;
    while (!is_stopping(n)) {
        int64_t t0 = base_mono_us();
        uint64_t version = charter_ledger_escalations_version(n->ledger);
        /* Without the lease another server writes them; this one asks
         * again within a second. */
        int64_t next_ms = INT64_MAX;
        if (!n->opt.lease_held || n->opt.lease_held(n->opt.lease_user))
            next_ms = pass_run(n, db);
        /* A pass reads every open escalation: with tens of thousands open
         * it takes a while, and the next waits four times as long, so this
         * thread never takes more than a fifth of a core from decisions. */
        int64_t took = base_mono_us() - t0;
        int64_t gap = NTF_MIN_PASS_MS * 1000 > 5 * took ? NTF_MIN_PASS_MS * 1000 : 5 * took;
        nap(n, t0 + gap);
        if (is_stopping(n))
            break;
        /* A change, the next reminder, or a second at most (the clock may
         * jump; a reload may add targets). */
        int64_t wait = 1000 - NTF_MIN_PASS_MS;
        if (next_ms != INT64_MAX && next_ms - charter_now_ms() < wait)
            wait = next_ms - charter_now_ms();
        if (wait > 0)
            charter_ledger_escalations_wait(n->ledger, version, (uint32_t)wait);
    }
    ntf_outbox_close(db);
    return NULL;
}

/* ---- Life ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

/* The first line of the password file. */
static charter_status read_password(const char *path, char **out, charter_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return base_fail(err, CHARTER_E_IO, "cannot open the SMTP password file '%s': %s",
                         path, strerror(errno));
    char line[1024];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return base_fail(err, CHARTER_E_INVALID,
                         "the SMTP password file '%s' is empty; expected the password on "
                         "its first line", path);
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    *out = strdup(line);
    sodium_memzero(line, sizeof line);
    return *out ? CHARTER_OK : base_fail(err, CHARTER_E_NOMEM, "out of memory");
}

static void ntf_free(ntf *n)
{
    if (n->multi)
        curl_multi_cleanup(n->multi);
    ntf_outbox_close(n->db_read);
    ntf_secrets_free(n->secrets);
    if (n->smtp_password) {
        sodium_memzero(n->smtp_password, strlen(n->smtp_password));
        free(n->smtp_password);
    }
    free(n->outbox_path);
    free(n->keys_dir);
    free(n->public_url);
    free(n->smtp_url);
    free(n->smtp_user);
    free(n->smtp_from);
    free(n->smtp_ca);
    pthread_mutex_destroy(&n->read_mu);
    pthread_mutex_destroy(&n->secrets_mu);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
    curl_global_cleanup();
}

charter_status ntf_new(charter_ledger *l, const ntf_options *opt, ntf **out,
                       charter_error *err)
{
    *out = NULL;
    if (!opt->outbox_path || !opt->keys_dir || !opt->public_url || !opt->charter_get)
        return base_fail(err, CHARTER_E_INVALID,
                         "notifications need an outbox path, a keys directory, a public "
                         "URL and the charter serving");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return base_fail(err, CHARTER_E_NOMEM, "libcurl failed to initialize");
    ntf *n = calloc(1, sizeof *n);
    if (!n) {
        curl_global_cleanup();
        return base_fail(err, CHARTER_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&n->read_mu, NULL);
    pthread_mutex_init(&n->secrets_mu, NULL);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    n->ledger = l;
    n->opt = *opt;
    bool ok = true;
    n->outbox_path = dup_or_null(opt->outbox_path, &ok);
    n->keys_dir = dup_or_null(opt->keys_dir, &ok);
    n->public_url = dup_or_null(opt->public_url, &ok);
    n->smtp_url = dup_or_null(opt->smtp_url, &ok);
    n->smtp_user = dup_or_null(opt->smtp_user, &ok);
    n->smtp_from = dup_or_null(opt->smtp_from, &ok);
    n->smtp_ca = dup_or_null(opt->smtp_ca, &ok);
    if (!n->opt.retry_base_ms)
        n->opt.retry_base_ms = 5000;
    charter_status st = CHARTER_E_NOMEM;
    if (!ok || !(n->multi = curl_multi_init())) {
        base_fail(err, st, "out of memory");
        goto fail;
    }
    if (opt->smtp_password_file &&
        (st = read_password(opt->smtp_password_file, &n->smtp_password, err)) != CHARTER_OK)
        goto fail;
    if ((st = ntf_secrets_load(n->keys_dir, &n->secrets, err)) != CHARTER_OK ||
        (st = ntf_outbox_open(n->outbox_path, false, &n->db_read, err)) != CHARTER_OK)
        goto fail;
    /* What was in flight when the last server stopped (leased until a
     * moment later) and what was waiting for its retry goes now. */
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(n->db_read, "UPDATE messages SET next_ms = ?1 WHERE status = 0 "
                                       "AND next_ms > ?1", -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, charter_now_ms());
        sqlite3_step(s);
    }
    sqlite3_finalize(s);
    *out = n;
    return CHARTER_OK;
fail:
    ntf_free(n);
    return st;
}

charter_status ntf_start(ntf *n, charter_error *err)
{
    if (pthread_create(&n->deliver_thread, NULL, ntf_deliver_main, n) != 0)
        return base_fail(err, CHARTER_E_NOMEM, "cannot start the notification thread");
    n->deliver_started = true;
    if (pthread_create(&n->events_thread, NULL, ntf_events_main, n) != 0)
        return base_fail(err, CHARTER_E_NOMEM, "cannot start the notification thread");
    n->events_started = true;
    return CHARTER_OK;
}

void ntf_stop(ntf *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->events_started)
        pthread_join(n->events_thread, NULL);
    ntf_deliver_wake(n);
    if (n->deliver_started)
        pthread_join(n->deliver_thread, NULL);
    ntf_free(n);
}

void ntf_deliver_wake(ntf *n)
{
    if (n->multi)
        curl_multi_wakeup(n->multi);
}

charter_status ntf_reload_secrets(ntf *n, charter_error *err)
{
    ntf_secrets *s = NULL;
    charter_status st = ntf_secrets_load(n->keys_dir, &s, err);
    if (st != CHARTER_OK)
        return st;
    pthread_mutex_lock(&n->secrets_mu);
    ntf_secrets *old = n->secrets;
    n->secrets = s;
    pthread_mutex_unlock(&n->secrets_mu);
    ntf_secrets_free(old);
    return CHARTER_OK;
}

void ntf_warn_unsigned(ntf *n, const charter *c)
{
    for (size_t i = 0; i < c->queue_count; i++) {
        const ch_queue *q = &c->queues[i];
        ch_notify_target one;
        const ch_notify_target *t;
        size_t count = ntf_queue_targets(q, &one, &t);
        bool webhook = false, email = false;
        for (size_t k = 0; k < count; k++) {
            webhook |= t[k].format == CH_NOTIFY_WEBHOOK;
            email |= t[k].format == CH_NOTIFY_EMAIL;
        }
        pthread_mutex_lock(&n->secrets_mu);
        bool has = ntf_secrets_find(n->secrets, q->id) != NULL;
        pthread_mutex_unlock(&n->secrets_mu);
        if (webhook && !has)
            ntf_log(n, "notifications: queue '%s' has no webhook secret in %s/webhooks.json; "
                       "its webhooks go unsigned ('charter keys webhook --dir %s --queue %s' "
                       "makes one)", q->id, n->keys_dir, n->keys_dir, q->id);
        if (email && !n->smtp_url)
            ntf_log(n, "notifications: queue '%s' sends e-mail but the server has no SMTP "
                       "server (serve --smtp); its e-mails fail until it has one", q->id);
    }
}

void ntf_stats_get(ntf *n, ntf_stats *out)
{
    memset(out, 0, sizeof *out);
    out->delivered = atomic_load(&n->delivered);
    out->attempts_failed = atomic_load(&n->attempts_failed);
    out->failed = atomic_load(&n->gave_up);
    out->pending = atomic_load(&n->pending);
    int64_t oldest = atomic_load(&n->oldest_pending_ms);
    if (out->pending && oldest > 0) {
        int64_t age = charter_now_ms() - oldest;
        out->oldest_pending_s = age > 0 ? (double)age / 1000.0 : 0;
    }
}

charter_status ntf_list(ntf *n, ntf_status_filter status, const char *decision_id,
                        ntf_row_fn fn, void *user, charter_error *err)
{
    pthread_mutex_lock(&n->read_mu);
    charter_status st = ntf_outbox_list(n->db_read, status, decision_id, fn, user, err);
    pthread_mutex_unlock(&n->read_mu);
    return st;
}
