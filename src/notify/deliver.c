/* deliver.c - the delivery thread: sends the outbox's due rows with
 * libcurl's multi interface and records how each attempt went.
 *
 * Several transfers run at once, each bounded by NTF_TRANSFER_TIMEOUT_MS,
 * and at most NTF_MAX_PER_TARGET to one target: a receiver that hangs
 * holds a few slots for a few seconds, never the others' messages. A row
 * taken is leased (its next_ms moved past the transfer's timeout) so it is
 * not taken twice; a failed attempt puts it back with exponential backoff
 * (the options' base, doubling, at most NTF_RETRY_CAP_MS) and the same id,
 * until NTF_GIVE_UP_MS after it was made (status failed). A 2xx answer (for
 * e-mail: the SMTP server took it) is a delivery.
 *
 * Webhooks carry the Standard Webhooks headers, signed per attempt with the
 * queue's secret (none: unsigned, as the start warned). Redirects are not
 * followed; only http(s) (webhooks, Slack) and smtp(s) (e-mail) are spoken.
 */
#include "base/banned.h"

#include "notify/notify_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/thread.h"

/* A row's lease: past the transfer's own timeout. */
#define LEASE_MS (NTF_TRANSFER_TIMEOUT_MS + 30000)
/* How often delivered and failed rows past NTF_KEEP_MS are forgotten. */
#define PRUNE_EVERY_MS (10 * 60 * 1000)
/* A round looks for targets among the rows due first, this many; every
 * row due is read for them at most once a second (FULL_SCAN_EVERY_MS), so
 * a target behind another's backlog waits a second at most. */
#define DUE_WINDOW 512
#define FULL_SCAN_EVERY_MS 1000
/* At most one line about failed attempts per this long (the log is not a
 * place to count a dead receiver's retries: /metrics and the API are). */
#define LOG_EVERY_MS 10000

typedef struct transfer {
    bool used;
    ntf_due d;
    CURL *easy;
    struct curl_slist *headers;    /* HTTP headers, or SMTP recipients */
    size_t sent;                   /* SMTP: bytes of the body read so far */
    char error[CURL_ERROR_SIZE];
} transfer;

typedef struct deliverer {
    ntf *n;
    sqlite3 *db;
    transfer slots[NTF_MAX_TRANSFERS];
    size_t in_flight;
    int64_t last_log_ms;
    size_t unlogged;               /* failures since the last line */
    int64_t counted_ms;            /* when pending was last counted */
    int64_t scanned_ms;            /* when every due row was last read */
} deliverer;

static size_t discard(char *p, size_t size, size_t nmemb, void *user)
{
    (void)p;
    (void)user;
    return size * nmemb;
}

static size_t read_body(char *buf, size_t size, size_t nmemb, void *user)
{
    transfer *t = user;
    size_t room = size * nmemb, left = t->d.body_len - t->sent;
    size_t k = left < room ? left : room;
    memcpy(buf, t->d.body + t->sent, k);
    t->sent += k;
    return k;
}

static size_t target_in_flight(const deliverer *dv, const char *target)
{
    size_t k = 0;
    for (size_t i = 0; i < NTF_MAX_TRANSFERS; i++)
        if (dv->slots[i].used && !strcmp(dv->slots[i].d.target, target))
            k++;
    return k;
}

static bool add_header(struct curl_slist **h, const char *name, const char *value)
{
    char line[512];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(*h, line);
    if (!n)
        return false;
    *h = n;
    return true;
}

static bool setup_http(deliverer *dv, transfer *t)
{
    ntf *n = dv->n;
    CURL *e = t->easy;
    bool ok = add_header(&t->headers, "Content-Type", "application/json") &&
              add_header(&t->headers, "User-Agent", "charter-notify/1");
    if (!strcmp(t->d.format, "webhook")) {
        char ts[32], sig[128];
        int64_t now_s = charter_now_ms() / 1000;
        snprintf(ts, sizeof ts, "%lld", (long long)now_s);
        ok = ok && add_header(&t->headers, "webhook-id", t->d.id) &&
             add_header(&t->headers, "webhook-timestamp", ts);
        pthread_mutex_lock(&n->secrets_mu);
        const ntf_secret *s = ntf_secrets_find(n->secrets, t->d.queue);
        if (s)
            ntf_sign(s->key, s->key_len, t->d.id, now_s, t->d.body, t->d.body_len, sig,
                     sizeof sig);
        pthread_mutex_unlock(&n->secrets_mu);
        if (s)
            ok = ok && add_header(&t->headers, "webhook-signature", sig);
    }
    return ok && curl_easy_setopt(e, CURLOPT_URL, t->d.target) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->d.body) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->d.body_len) ==
               CURLE_OK;
}

static bool setup_smtp(deliverer *dv, transfer *t)
{
    ntf *n = dv->n;
    CURL *e = t->easy;
    char rcpt[512], from[512];
    /* The address after "mailto:", without ?headers; nothing that could
     * end the SMTP command it goes into. */
    const char *addr = t->d.target + 7;
    size_t len = strcspn(addr, "?");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)addr[i] <= 0x20 || addr[i] == '<' || addr[i] == '>')
            return false;
    snprintf(rcpt, sizeof rcpt, "<%.*s>", (int)len, addr);
    snprintf(from, sizeof from, "<%s>", n->smtp_from ? n->smtp_from : "charter@localhost");
    struct curl_slist *r = curl_slist_append(NULL, rcpt);
    if (!r)
        return false;
    t->headers = r;
    long tls = n->opt.smtp_tls == CHARTER_SMTP_TLS_OFF ? (long)CURLUSESSL_NONE
               : n->opt.smtp_tls == CHARTER_SMTP_TLS_TRY ? (long)CURLUSESSL_TRY
                                                         : (long)CURLUSESSL_ALL;
    bool ok = curl_easy_setopt(e, CURLOPT_URL, n->smtp_url) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_MAIL_FROM, from) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->headers) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_READFUNCTION, read_body) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_READDATA, t) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->d.body_len) ==
                  CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_USE_SSL, tls) == CURLE_OK;
    if (ok && n->smtp_user)
        ok = curl_easy_setopt(e, CURLOPT_USERNAME, n->smtp_user) == CURLE_OK;
    if (ok && n->smtp_password)
        ok = curl_easy_setopt(e, CURLOPT_PASSWORD, n->smtp_password) == CURLE_OK;
    if (ok && n->smtp_ca)
        ok = curl_easy_setopt(e, CURLOPT_CAINFO, n->smtp_ca) == CURLE_OK;
    return ok;
}

static void slot_release(deliverer *dv, transfer *t)
{
    if (t->easy) {
        curl_multi_remove_handle(dv->n->multi, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->headers);
    ntf_due_release(&t->d);
    memset(t, 0, sizeof *t);
    dv->in_flight--;
}

static void log_failure(deliverer *dv, const ntf_due *d, const char *why, bool give_up,
                        int64_t now_ms)
{
    dv->unlogged++;
    if (!give_up && now_ms - dv->last_log_ms < LOG_EVERY_MS)
        return;
    char shown[256];
    ntf_target_display(d->target, shown, sizeof shown);
    ntf_log(dv->n, "notifications: %s to %s %s (attempt %lld): %s%s", d->id, shown,
            give_up ? "given up on after 24 hours" : "failed", (long long)d->attempts + 1,
            why, dv->unlogged > 1 ? "; more failures: GET /v1/notifications?status=failing"
                                  : "");
    dv->last_log_ms = now_ms;
    dv->unlogged = 0;
}

/* Records an attempt that did not deliver. */
static void attempt_failed(deliverer *dv, const ntf_due *d, const char *why)
{
    ntf *n = dv->n;
    int64_t now = charter_now_ms();
    int64_t delay = n->opt.retry_base_ms;
    for (int64_t k = 0; k < d->attempts && delay < NTF_RETRY_CAP_MS; k++)
        delay *= 2;
    if (delay > NTF_RETRY_CAP_MS)
        delay = NTF_RETRY_CAP_MS;
    bool give_up = now - d->created_ms >= NTF_GIVE_UP_MS;
    ntf_mark_failed(dv->db, d->id, why, now + delay, give_up);
    atomic_fetch_add(&n->attempts_failed, 1);
    if (give_up)
        atomic_fetch_add(&n->gave_up, 1);
    log_failure(dv, d, why, give_up, now);
}

/* Starts the transfer of `d` (taken: its strings move into a slot). */
static void start(deliverer *dv, ntf_due *d)
{
    transfer *t = NULL;
    for (size_t i = 0; i < NTF_MAX_TRANSFERS && !t; i++)
        if (!dv->slots[i].used)
            t = &dv->slots[i];
    if (!t) { /* cannot happen: the caller counts the slots */
        ntf_due_release(d);
        return;
    }
    memset(t, 0, sizeof *t);
    t->used = true;
    t->d = *d;
    memset(d, 0, sizeof *d);
    dv->in_flight++;
    bool email = !strcmp(t->d.format, "email");
    if (email && !dv->n->smtp_url) {
        attempt_failed(dv, &t->d, "no SMTP server: start charter serve with --smtp");
        slot_release(dv, t);
        return;
    }
    if (!(t->easy = curl_easy_init())) {
        attempt_failed(dv, &t->d, "out of memory");
        slot_release(dv, t);
        return;
    }
    CURL *e = t->easy;
    bool ok = curl_easy_setopt(e, CURLOPT_PRIVATE, t) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)NTF_TRANSFER_TIMEOUT_MS) ==
                  CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                               (long)NTF_TRANSFER_TIMEOUT_MS / 2) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
              (email ? setup_smtp(dv, t) : setup_http(dv, t)) &&
              curl_multi_add_handle(dv->n->multi, e) == CURLM_OK;
    if (!ok) {
        attempt_failed(dv, &t->d, "cannot set up the transfer (out of memory?)");
        slot_release(dv, t);
    }
}

/* Takes what is due, per target, into free slots. */
static void start_due(deliverer *dv, int64_t now)
{
    if (dv->in_flight >= NTF_MAX_TRANSFERS)
        return;
    char **targets = NULL;
    size_t tn = 0;
    size_t window = DUE_WINDOW;
    if (now - dv->scanned_ms >= FULL_SCAN_EVERY_MS) {
        window = 0;
        dv->scanned_ms = now;
    }
    if (!ntf_due_targets(dv->db, now, window, &targets, &tn) || !tn) {
        free(targets);
        return;
    }
    ntf_due batch[NTF_MAX_PER_TARGET];
    size_t started = 0;
    if (ntf_outbox_exec(dv->db, "BEGIN IMMEDIATE")) {
        ntf_due *taken = NULL;
        size_t taken_n = 0;
        for (size_t i = 0; i < tn; i++) {
            size_t busy = target_in_flight(dv, targets[i]);
            size_t room = NTF_MAX_TRANSFERS - dv->in_flight - taken_n;
            size_t k = NTF_MAX_PER_TARGET - busy;
            if (busy >= NTF_MAX_PER_TARGET || !room)
                continue;
            if (k > room)
                k = room;
            size_t got = 0;
            if (!ntf_due_take(dv->db, targets[i], now, now + LEASE_MS, k, batch, &got))
                continue;
            ntf_due *nt = realloc(taken, (taken_n + got) * sizeof *nt);
            if (!nt) {
                for (size_t j = 0; j < got; j++)
                    ntf_due_release(&batch[j]);
                continue;
            }
            taken = nt;
            memcpy(taken + taken_n, batch, got * sizeof *batch);
            taken_n += got;
        }
        /* Leased on disk before any is attempted. */
        bool committed = ntf_outbox_exec(dv->db, "COMMIT");
        if (!committed)
            ntf_outbox_exec(dv->db, "ROLLBACK");
        for (size_t j = 0; j < taken_n; j++) {
            if (committed) {
                start(dv, &taken[j]);
                started++;
            } else {
                ntf_due_release(&taken[j]);
            }
        }
        free(taken);
    }
    for (size_t i = 0; i < tn; i++)
        free(targets[i]);
    free(targets);
    (void)started;
}

static void finished(deliverer *dv, CURL *e, CURLcode rc)
{
    transfer *t = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
    if (!t)
        return;
    long code = 0;
    bool email = !strcmp(t->d.format, "email");
    if (!email)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK && (email || (code >= 200 && code < 300))) {
        ntf_mark_delivered(dv->db, t->d.id, charter_now_ms());
        atomic_fetch_add(&dv->n->delivered, 1);
    } else {
        char why[CURL_ERROR_SIZE + 64];
        if (rc == CURLE_OK)
            snprintf(why, sizeof why, "HTTP %ld", code);
        else
            snprintf(why, sizeof why, "%s", t->error[0] ? t->error : curl_easy_strerror(rc));
        attempt_failed(dv, &t->d, why);
    }
    slot_release(dv, t);
}

static bool stopping(ntf *n)
{
    pthread_mutex_lock(&n->mu);
    bool s = n->stopping;
    pthread_mutex_unlock(&n->mu);
    return s;
}

void *ntf_deliver_main(void *arg)
{
    ntf *n = arg;
    base_thread_name("charter-deliver");
    deliverer *dv = calloc(1, sizeof *dv);
    charter_error err;
    if (!dv || ntf_outbox_open(n->outbox_path, false, &dv->db, &err) != CHARTER_OK) {
        ntf_log(n, "notifications: %s; nothing is delivered",
                dv ? err.message : "out of memory");
        free(dv);
        return NULL;
    }
    dv->n = n;
    int64_t last_prune = 0;
    while (!stopping(n)) {
        int64_t now = charter_now_ms();
        if (now - last_prune >= PRUNE_EVERY_MS) {
            ntf_prune(dv->db, now);
            last_prune = now;
        }
        start_due(dv, now);
        int running = 0;
        curl_multi_perform(n->multi, &running);
        CURLMsg *m;
        int left;
        bool freed = false;
        while ((m = curl_multi_info_read(n->multi, &left)))
            if (m->msg == CURLMSG_DONE) {
                finished(dv, m->easy_handle, m->data.result);
                freed = true;
            }
        /* What is owed, for /metrics: once a second (counting reads every
         * row owed). */
        now = charter_now_ms();
        if (now - dv->counted_ms >= 1000) {
            uint64_t pending = 0;
            int64_t oldest = 0;
            if (ntf_pending_stats(dv->db, &pending, &oldest)) {
                atomic_store(&n->pending, pending);
                atomic_store(&n->oldest_pending_ms, oldest);
            }
            dv->counted_ms = now;
        }
        /* Sleep until the next row is due (a second at most: the clock
         * may jump), or a transfer moves, or the events thread wakes us.
         * Rows due but held back by their target's limit wait for a
         * transfer to end. */
        int64_t next = ntf_next_due(dv->db);
        now = charter_now_ms();
        int wait = next == INT64_MAX || next - now >= 1000 ? 1000
                   : next > now                           ? (int)(next - now)
                                                          : 250;
        if (dv->in_flight >= NTF_MAX_TRANSFERS)
            wait = 1000;
        else if (freed && next <= now)
            wait = 0; /* slots just freed and rows due: take them now */
        curl_multi_poll(n->multi, NULL, 0, wait, NULL);
    }
    for (size_t i = 0; i < NTF_MAX_TRANSFERS; i++)
        if (dv->slots[i].used)
            slot_release(dv, &dv->slots[i]);
    ntf_outbox_close(dv->db);
    free(dv);
    return NULL;
}
