/* api_grants.c - standing approvals over HTTP: POST /v1/escalations/{id}/grant
 * (approve this escalation and, for a while, the same kind), GET /v1/grants
 * and POST /v1/grants/{id}/revoke (docs/http-api.md, "Standing approvals").
 *
 * The ledger owns the rules (charter_ledger_grant: the queue must allow
 * standing approvals and the escalation need one approval only, the
 * duration is bounded by the queue's max, and every approval a grant makes
 * later is re-checked like a person's); this file reads the request, checks
 * who may ask (an approver of the escalation's queue grants; approvers see
 * the grants of their queues and their own, admins and auditors all; the
 * grantor, an approver of its queue or an admin revokes) and shows grants
 * as JSON.
 */
#include "base/banned.h"

#include "server/server.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A grant's JSON; `now_ms` says whether it is still active. */
static json_t *grant_json(const charter_grant *g, int64_t now_ms)
{
    char t[40], ex[40], rv[40];
    charter_time_format(g->time_ms, t);
    charter_time_format(g->expires_ms, ex);
    charter_time_format(g->revoked_ms, rv);
    bool active = !g->revoked && now_ms < g->expires_ms &&
                  (g->max_count <= 0 || g->used_count < g->max_count) &&
                  (g->max_amount <= 0 || g->used_amount < g->max_amount);
    return json_pack("{s:s,s:s,s:s?,s:s,s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:o,s:I,s:o,s:f,"
                     "s:b,s:s?,s:s?,s:b}",
                     "id", g->id, "who", g->who, "note", g->note, "decision_id",
                     g->decision_id, "scope", "queue", g->queue, "agent", g->agent,
                     "workflow", g->workflow, "action", g->action, "rule",
                     g->rule ? g->rule : "", "time", t, "expires", ex, "max_count",
                     g->max_count > 0 ? json_integer(g->max_count) : json_null(),
                     "used_count", (json_int_t)g->used_count, "max_amount",
                     g->max_amount > 0 ? json_real(g->max_amount) : json_null(),
                     "used_amount", g->used_amount, "revoked", g->revoked, "revoked_by",
                     g->revoked ? g->revoked_by : NULL, "revoked_at",
                     g->revoked ? rv : NULL, "active", active);
}

/* One grant, found by id, as JSON with its queue and grantor. */
typedef struct found {
    const char *id;
    int64_t now_ms;
    json_t *json;
    char queue[256], who[256];
    bool revoked;
    bool failed;
} found;

static int take_grant(const charter_grant *g, void *user)
{
    found *f = user;
    if (strcmp(g->id, f->id))
        return 0;
    f->json = grant_json(g, f->now_ms);
    f->failed = !f->json;
    f->revoked = g->revoked;
    snprintf(f->queue, sizeof f->queue, "%s", g->queue);
    snprintf(f->who, sizeof f->who, "%s", g->who);
    return 1;
}

static charter_status grant_find(srv *s, const char *id, found *f, charter_error *err)
{
    memset(f, 0, sizeof *f);
    f->id = id;
    f->now_ms = charter_now_ms();
    charter_status st = charter_ledger_grants(s->ledger, false, f->now_ms, take_grant, f, err);
    if (st == CHARTER_OK && f->failed)
        st = CHARTER_E_NOMEM;
    return st;
}

/* "8h", "30m", "90s", "2d" (a number > 0 and a unit) into milliseconds. */
static bool duration_parse(const char *text, int64_t *ms)
{
    char *end;
    double n = strtod(text, &end);
    double unit = !strcmp(end, "s") ? 1e3 : !strcmp(end, "m") ? 6e4
                : !strcmp(end, "h") ? 3.6e6 : !strcmp(end, "d") ? 8.64e7 : 0;
    if (end == text || !unit || !(n > 0) || n * unit > 1e15)
        return false;
    *ms = (int64_t)llround(n * unit);
    return *ms > 0;
}

/* Reads the grant's body into *g; false after replying 400. */
static bool request_parse(json_t *body, charter_grant_request *g, srv_response *rs)
{
    memset(g, 0, sizeof *g);
    json_t *hours = json_object_get(body, "hours"), *dur = json_object_get(body, "duration");
    json_t *count = json_object_get(body, "max_count"), *amount = json_object_get(body, "max_amount");
    json_t *note = json_object_get(body, "note");
    if ((hours != NULL) == (dur != NULL)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected how long the standing approval lasts: \"hours\": N (a "
                        "number > 0) or \"duration\": \"8h\", one of them; found %s",
                        hours ? "both" : "neither");
        return false;
    }
    if (hours) {
        double h = json_number_value(hours);
        if (!json_is_number(hours) || !(h > 0) || h > 1e6) {
            srv_reply_error(rs, 400, "invalid_request",
                            "expected \"hours\": a number > 0, such as 8 or 0.5");
            return false;
        }
        g->duration_ms = (int64_t)llround(h * 3.6e6);
    } else if (!json_is_string(dur) || !duration_parse(json_string_value(dur), &g->duration_ms)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected \"duration\": a duration such as 90s, 30m, 8h or 2d, "
                        "found %s", json_is_string(dur) ? json_string_value(dur) : "no text");
        return false;
    }
    if (count && !json_is_null(count) &&
        (!json_is_integer(count) || json_integer_value(count) < 1)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected \"max_count\": a whole number >= 1 (how many more "
                        "escalations it may approve), or null for no cap");
        return false;
    }
    if (amount && !json_is_null(amount) &&
        (!json_is_number(amount) || !(json_number_value(amount) > 0))) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected \"max_amount\": a number > 0 (the total it may approve), "
                        "or null for no cap");
        return false;
    }
    if (note && !json_is_string(note) && !json_is_null(note)) {
        srv_reply_error(rs, 400, "invalid_request", "expected \"note\": a string or null");
        return false;
    }
    g->max_count = json_is_integer(count) ? json_integer_value(count) : 0;
    g->max_amount = json_is_number(amount) ? json_number_value(amount) : 0;
    g->note = json_string_value(note);
    return true;
}

static int take_queue(const charter_escalation *e, void *user)
{
    snprintf(user, 256, "%s", e->queue);
    return 1;
}

/* Whether escalation `id`'s queue allows standing approvals under `c`, but
 * shorter ones than `g` asks for. */
static bool longer_than_allowed(const charter *c, const char *id, srv *s,
                                const charter_grant_request *g)
{
    char queue[256] = "";
    charter_queue_policy p;
    return charter_ledger_escalation(s->ledger, id, 0, take_queue, queue, NULL) ==
               CHARTER_OK &&
           charter_queue_policy_get(c, queue, &p) && p.grant_max_ms > 0 &&
           g->duration_ms > p.grant_max_ms;
}

void api_escalation_grant(const srv_request *rq, const char *tail, srv_response *rs)
{
    srv *s = rq->s;
    const char *slash = strchr(tail, '/');
    char id[64];
    if (!slash || strcmp(slash, "/grant") || (size_t)(slash - tail) >= sizeof id) {
        srv_reply_error(rs, 404, "not_found", "expected POST /v1/escalations/{decision_id}/grant");
        return;
    }
    memcpy(id, tail, (size_t)(slash - tail));
    id[slash - tail] = '\0';
    json_t *body = srv_body_object(rq, rs);
    if (!body)
        return;
    charter_grant_request g;
    charter *c = srv_charter(s);
    if (request_parse(body, &g, rs) && api_escalation_open_for(rq, c, id, rs)) {
        charter_resolve_result done;
        memset(&done, 0, sizeof done);
        charter_error err;
        memset(&err, 0, sizeof err);
        char grant_id[32] = "";
        charter_status st = charter_ledger_grant(s->ledger, c, id, rq->who->name, &g,
                                                 charter_now_ms(), &done, grant_id, &err);
        json_t *esc = NULL;
        found f = {0};
        if (st == CHARTER_OK)
            st = api_escalation_view(s, c, rq->who, id, false, &esc, &err);
        if (st == CHARTER_OK)
            st = grant_find(s, grant_id, &f, &err);
        if (st == CHARTER_OK && !f.json)
            st = CHARTER_E_REF;
        if (st == CHARTER_E_REFUSED && done.refusal == CHARTER_REFUSAL_NO_GRANTS &&
            longer_than_allowed(c, id, s, &g)) {
            /* The queue allows standing approvals, only not that long:
             * the request is to be corrected, not refused for good. */
            srv_reply_error(rs, 400, "invalid_request", "%s", err.message);
        } else if (st != CHARTER_OK) {
            json_decref(esc);
            api_resolve_refused(rq, id, st, &done, &err, rs);
        } else {
            atomic_fetch_add(&s->metrics.resolutions, 1);
            srv_reply_json(rs, 201, json_pack("{s:o,s:o}", "escalation", esc, "grant", f.json));
        }
    }
    charter_release(c);
    json_decref(body);
}

/* ---- GET /v1/grants ------------------------------------------------------------- */

typedef struct listing {
    const srv_key *who;
    const charter *c;
    int64_t now_ms;
    json_t *list;
    bool failed;
} listing;

static int add_grant(const charter_grant *g, void *user)
{
    listing *l = user;
    if (l->who->role == CHARTER_ROLE_APPROVER && strcmp(g->who, l->who->name) &&
        !api_approver_of(l->who, l->c, g->queue))
        return 0;
    if (json_array_append_new(l->list, grant_json(g, l->now_ms))) {
        l->failed = true;
        return 1;
    }
    return 0;
}

void api_grants_list(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    const char *active = srv_query(rq, "active");
    if (active && strcmp(active, "0") && strcmp(active, "1")) {
        srv_reply_error(rs, 400, "invalid_request", "expected active=0 or 1, found '%.40s'",
                        active);
        return;
    }
    charter *c = srv_charter(rq->s);
    listing l = {.who = rq->who, .c = c, .now_ms = charter_now_ms(), .list = json_array()};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = l.list ? charter_ledger_grants(rq->s->ledger,
                                                       active && !strcmp(active, "1"),
                                                       l.now_ms, add_grant, &l, &err)
                               : CHARTER_E_NOMEM;
    if (st == CHARTER_OK && l.failed)
        st = CHARTER_E_NOMEM;
    if (st != CHARTER_OK) {
        json_decref(l.list);
        srv_reply_status(rq->s, rs, st, &err);
    } else {
        srv_reply_json(rs, 200, json_pack("{s:o}", "grants", l.list));
    }
    charter_release(c);
}

/* ---- POST /v1/grants/{id}/revoke -------------------------------------------------- */

void api_grant_revoke(const srv_request *rq, const char *tail, srv_response *rs)
{
    srv *s = rq->s;
    const char *slash = strchr(tail, '/');
    char id[32];
    if (!slash || strcmp(slash, "/revoke") || (size_t)(slash - tail) >= sizeof id) {
        srv_reply_error(rs, 404, "not_found", "expected POST /v1/grants/{grant_id}/revoke");
        return;
    }
    memcpy(id, tail, (size_t)(slash - tail));
    id[slash - tail] = '\0';
    /* The body is optional: {"note": "..."}. */
    json_t *body = rq->body_len ? srv_body_object(rq, rs) : json_object();
    if (!body)
        return;
    json_t *note = json_object_get(body, "note");
    if (note && !json_is_string(note) && !json_is_null(note)) {
        json_decref(body);
        srv_reply_error(rs, 400, "invalid_request", "expected {\"note\": \"...\"}");
        return;
    }
    found f;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = grant_find(s, id, &f, &err);
    charter *c = srv_charter(s);
    const srv_key *k = rq->who;
    bool may = k->role == CHARTER_ROLE_ADMIN ||
               (k->role == CHARTER_ROLE_APPROVER &&
                (!strcmp(f.who, k->name) || api_approver_of(k, c, f.queue)));
    charter_release(c);
    if (st != CHARTER_OK) {
        srv_reply_status(s, rs, st, &err);
    } else if (!f.json) {
        srv_reply_error(rs, 404, "not_found", "no standing approval with id '%s'", id);
    } else if (!may) {
        srv_reply_error(rs, 403, "forbidden",
                        "'%s' may not revoke %s: only its grantor (%s), an approver of queue "
                        "'%s' or an admin may",
                        k->name, id, f.who, f.queue);
    } else if (f.revoked) {
        srv_reply_error(rs, 409, "already_revoked", "standing approval %s was already revoked "
                        "by %s", id,
                        json_string_value(json_object_get(f.json, "revoked_by")));
    } else {
        st = charter_ledger_revoke_grant(s->ledger, id, k->name, json_string_value(note),
                                         charter_now_ms(), &err);
        json_decref(f.json);
        f.json = NULL;
        if (st == CHARTER_OK)
            st = grant_find(s, id, &f, &err);
        if (st == CHARTER_E_DUPLICATE || st == CHARTER_E_CONFLICT) /* conflict: by
                                                                    another server */
            srv_reply_error(rs, 409, "already_revoked", "%s", err.message);
        else if (st != CHARTER_OK)
            srv_reply_status(s, rs, st, &err);
        else if (!f.json)
            srv_reply_error(rs, 500, "internal", "standing approval %s vanished", id);
        else {
            srv_reply_json(rs, 200, f.json);
            f.json = NULL;
        }
    }
    json_decref(f.json);
    json_decref(body);
}
