/* api_notify.c - notifications in the server: starting them with the
 * server's options (src/notify does the work), and GET /v1/notifications,
 * the outbox as the console and an operator see it.
 *
 *   GET /v1/notifications[?status=pending|failing|failed|delivered]
 *                        [&decision=d-7][&limit=N]
 *   -> {"notifications":[{"id","decision_id","queue","event","target",
 *       "format","status","attempts","last_error","next_attempt","created",
 *       "delivered"}], "failing": n}
 *
 * Admins and auditors see every row; an approver only those of the queues
 * it may work (api_approver_of, under the charter serving now). "failing"
 * counts the rows still owed after at least one failed attempt, of the same
 * queues. Targets are shown cut (ntf_target_display): a hook's URL is often
 * its credential.
 */
#include "base/banned.h"

#include "server/server.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fail.h"
#include "ledger/store.h"
#include "notify/notify.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static charter *notify_charter(void *user)
{
    return srv_charter(user);
}

static void notify_log(void *user, const char *line)
{
    srv_log(user, "%s", line);
}

/* Of the servers sharing a ledger, only the lease's holder writes
 * notifications (each server delivers what it wrote). */
static bool notify_lease_held(void *user)
{
    srv *s = user;
    return atomic_load(&s->lease_held);
}

charter_status srv_notify_start(srv *s, charter_error *err)
{
    char outbox[4096], url[128];
    if (s->opt.outbox_path)
        snprintf(outbox, sizeof outbox, "%s", s->opt.outbox_path);
    else if (ledger_sidecar(s->ledger_path, ".outbox", outbox, sizeof outbox) != 0)
        return base_fail(err, CHARTER_E_INVALID,
                         "the outbox's path (the ledger's side file '.outbox') is longer "
                         "than %zu bytes; give one with --outbox", sizeof outbox - 1);
    snprintf(url, sizeof url, "http://%s", s->address);
    ntf_options o = {
        .outbox_path = outbox,
        .keys_dir = s->keys_dir,
        .public_url = s->opt.public_url ? s->opt.public_url : url,
        .smtp_url = s->opt.smtp_url,
        .smtp_user = s->opt.smtp_user,
        .smtp_password_file = s->opt.smtp_password_file,
        .smtp_from = s->opt.smtp_from,
        .smtp_ca = s->opt.smtp_ca,
        .smtp_tls = s->opt.smtp_tls,
        .retry_base_ms = s->opt.notify_retry_base_ms,
        .charter_get = notify_charter,
        .charter_user = s,
        .log = notify_log,
        .log_user = s,
        .lease_held = notify_lease_held,
        .lease_user = s,
    };
    charter_status st = ntf_new(s->ledger, &o, &s->notify, err);
    if (st != CHARTER_OK)
        return st;
    charter *c = srv_charter(s);
    ntf_warn_unsigned(s->notify, c);
    charter_release(c);
    if ((st = ntf_start(s->notify, err)) != CHARTER_OK) {
        ntf_stop(s->notify);
        s->notify = NULL;
    }
    return st;
}

typedef struct listing {
    const srv_key *who;
    const charter *c;
    json_t *rows;
    size_t limit;
    int64_t failing;
    bool count_only;               /* the "failing" pass */
} listing;

static json_t *jtime(int64_t ms)
{
    char t[40];
    if (ms <= 0)
        return json_null();
    charter_time_format(ms, t);
    return json_string(t);
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int take(const ntf_row *r, void *user)
{
    listing *l = user;
    if (l->who->role == CHARTER_ROLE_APPROVER && !api_approver_of(l->who, l->c, r->queue))
        return 0;
    if (l->count_only) {
        l->failing++;
        return 0;
    }
    json_t *j = json_object();
    if (!j)
        return 1;
    json_object_set_new(j, "id", jstr(r->id));
    json_object_set_new(j, "decision_id", jstr(r->decision_id));
    json_object_set_new(j, "queue", jstr(r->queue));
    json_object_set_new(j, "event", jstr(r->event));
    json_object_set_new(j, "target", jstr(r->target));
    json_object_set_new(j, "format", jstr(r->format));
    json_object_set_new(j, "status", jstr(r->status));
    json_object_set_new(j, "attempts", json_integer(r->attempts));
    json_object_set_new(j, "last_error", jstr(r->last_error));
    json_object_set_new(j, "next_attempt", jtime(r->next_ms));
    json_object_set_new(j, "created", jtime(r->created_ms));
    json_object_set_new(j, "delivered", jtime(r->delivered_ms));
    json_array_append_new(l->rows, j);
    return json_array_size(l->rows) >= l->limit;
}

void api_notifications(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    static const struct {
        const char *name;
        ntf_status_filter f;
    } statuses[] = {{"pending", NTF_PENDING}, {"failing", NTF_FAILING},
                    {"failed", NTF_FAILED}, {"delivered", NTF_DELIVERED}};
    ntf_status_filter status = NTF_ANY;
    const char *sv = srv_query(rq, "status");
    if (sv && *sv) {
        size_t i = 0;
        while (i < sizeof statuses / sizeof statuses[0] && strcmp(sv, statuses[i].name))
            i++;
        if (i == sizeof statuses / sizeof statuses[0]) {
            srv_reply_error(rs, 400, "invalid_request",
                            "status: expected pending, failing, failed or delivered; "
                            "found '%.64s'", sv);
            return;
        }
        status = statuses[i].f;
    }
    const char *decision = srv_query(rq, "decision");
    if (decision && !*decision)
        decision = NULL;
    uint64_t limit = LIST_DEFAULT;
    const char *lv = srv_query(rq, "limit");
    if (lv && *lv && (!srv_parse_uint(lv, LIST_MAX, &limit) || limit == 0)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "limit: expected a whole number from 1 to %d; found '%.32s'",
                        LIST_MAX, lv);
        return;
    }
    if (!s->notify) {
        srv_reply_error(rs, 503, "notifications_unavailable",
                        "notifications are not running on this server (see its log)");
        return;
    }
    charter *c = srv_charter(s);
    listing l = {.who = rq->who, .c = c, .rows = json_array(), .limit = (size_t)limit};
    charter_error err;
    charter_status st = l.rows ? ntf_list(s->notify, status, decision, take, &l, &err)
                               : CHARTER_E_NOMEM;
    if (st == CHARTER_OK) {
        l.count_only = true;
        st = ntf_list(s->notify, NTF_FAILING, NULL, take, &l, &err);
    }
    charter_release(c);
    if (st != CHARTER_OK) {
        json_decref(l.rows);
        srv_reply_status(s, rs, st, &err);
        return;
    }
    json_t *out = json_object();
    if (!out) {
        json_decref(l.rows);
        srv_reply_error(rs, 500, "internal", "out of memory");
        return;
    }
    json_object_set_new(out, "notifications", l.rows);
    json_object_set_new(out, "failing", json_integer(l.failing));
    srv_reply_json(rs, 200, out);
}
