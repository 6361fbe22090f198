/* api_escalations.c - the escalation queue: GET /v1/escalations and
 * POST /v1/escalations/{id}/resolve.
 *
 * Only an approver key bound to the escalation's current queue, and whom
 * the charter serving now accepts for that queue (its members or roles),
 * sees or resolves it (api_approver_of). The escalation path is never a
 * way around the charter: the ledger re-decides an approval's recorded
 * request under the charter serving now, with the budgets as they stand,
 * and refuses it (409, saying what stopped it) unless that decision allows
 * or escalates; the escalation stays open for a deny.
 */
#include "base/banned.h"

#include "server/server.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A page of the listing is at most this many escalations. */
#define LIST_DEFAULT 1000
#define LIST_MAX 10000

typedef struct listing {
    json_t *list;
    const srv_key *who;  /* approvers see only their queues */
    const charter *c;    /* ... as the charter serving now has them */
    bool resolved_only;
    uint64_t after;      /* only escalations of later decisions */
    size_t limit;
    char last[32];       /* the decision id listed last */
    bool more;           /* another one matched after the page was full */
} listing;

static int add_escalation(const charter_escalation *e, void *user)
{
    listing *l = user;
    if (e->seq <= l->after)
        return 0;
    if (l->who->role == CHARTER_ROLE_APPROVER && !api_approver_of(l->who, l->c, e->queue))
        return 0;
    if (l->resolved_only && e->status == CHARTER_ESC_OPEN)
        return 0;
    if (json_array_size(l->list) == l->limit) {
        l->more = true;
        return 1;
    }
    json_array_append_new(l->list, api_escalation_json(e));
    snprintf(l->last, sizeof l->last, "%s", e->decision_id);
    return 0;
}

/* ?limit=N (1 .. LIST_MAX) and ?after=d-N; false after replying 400. */
static bool page_params(const srv_request *rq, listing *l, srv_response *rs)
{
    const char *limit = srv_query(rq, "limit"), *after = srv_query(rq, "after");
    l->limit = LIST_DEFAULT;
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (*end || end == limit || v < 1 || v > LIST_MAX) {
            srv_reply_error(rs, 400, "invalid_request",
                            "expected limit=1 to %d, found '%.40s'", LIST_MAX, limit);
            return false;
        }
        l->limit = (size_t)v;
    }
    if (after && !charter_decision_id_parse(after, &l->after)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected after=<decision id> such as d-42, found '%.40s'", after);
        return false;
    }
    return true;
}

void api_escalations_list(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    const char *queue = srv_query(rq, "queue");
    const char *status = srv_query(rq, "status");
    if (!status)
        status = "open";
    if (strcmp(status, "open") && strcmp(status, "resolved") && strcmp(status, "all")) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected status=open, resolved or all; found '%.40s'", status);
        return;
    }
    charter *c = srv_charter(rq->s);
    listing l = {.who = rq->who, .c = c, .resolved_only = !strcmp(status, "resolved")};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = CHARTER_OK;
    if (queue && rq->who->role == CHARTER_ROLE_APPROVER &&
        !api_approver_of(rq->who, c, queue)) {
        srv_reply_error(rs, 403, "forbidden", "'%s' is not an approver of queue '%.128s'",
                        rq->who->name, queue);
    } else if (!page_params(rq, &l, rs)) {
        /* replied */
    } else if (!(l.list = json_array())) {
        srv_reply_error(rs, 500, "internal", "out of memory");
    } else if ((st = charter_ledger_escalations(rq->s->ledger, queue,
                                                !strcmp(status, "open"), add_escalation,
                                                &l, &err)) != CHARTER_OK) {
        json_decref(l.list);
        srv_reply_status(rq->s, rs, st, &err);
    } else {
        size_t n = json_array_size(l.list);
        srv_reply_json(rs, 200, json_pack("{s:o,s:I,s:s*}", "escalations", l.list, "count",
                                          (json_int_t)n, "next", l.more ? l.last : NULL));
    }
    charter_release(c);
}

typedef struct current {
    bool found;
    charter_escalation_status status;
    char queue[256];
} current;

static int take_current(const charter_escalation *e, void *user)
{
    current *c = user;
    c->found = true;
    c->status = e->status;
    snprintf(c->queue, sizeof c->queue, "%s", e->queue);
    return 1;
}

/* The error code of a refused approval (docs/http-api.md). */
static const char *refusal_code(charter_refusal r)
{
    switch (r) {
    case CHARTER_REFUSAL_BOUNDARY:
        return "boundary";
    case CHARTER_REFUSAL_STOP_RULE:
        return "stop_rule";
    case CHARTER_REFUSAL_DENIED:
        return "charter_denies";
    default:
        return "recheck_failed";
    }
}

static int take_json(const charter_escalation *e, void *user)
{
    *(json_t **)user = api_escalation_json(e);
    return 1;
}

void api_escalation_resolve(const srv_request *rq, const char *tail, srv_response *rs)
{
    srv *s = rq->s;
    char id[64];
    const char *slash = strchr(tail, '/');
    if (!slash || strcmp(slash, "/resolve") || (size_t)(slash - tail) >= sizeof id) {
        srv_reply_error(rs, 404, "not_found",
                        "expected POST /v1/escalations/{decision_id}/resolve");
        return;
    }
    memcpy(id, tail, (size_t)(slash - tail));
    id[slash - tail] = '\0';
    json_t *body = srv_body_object(rq, rs);
    if (!body)
        return;
    const char *res = json_string_value(json_object_get(body, "resolution"));
    json_t *note_j = json_object_get(body, "note");
    if (!res || (strcmp(res, "approve") && strcmp(res, "deny")) ||
        (note_j && !json_is_string(note_j) && !json_is_null(note_j))) {
        json_decref(body);
        srv_reply_error(rs, 400, "invalid_request",
                        "expected {\"resolution\": \"approve\" | \"deny\", \"note\": "
                        "\"...\"}");
        return;
    }
    bool approve = !strcmp(res, "approve");
    current cur = {0};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_escalation(s->ledger, id, 0, take_current, &cur,
                                                  &err);
    if (st != CHARTER_OK) {
        json_decref(body);
        srv_reply_status(rq->s, rs, st == CHARTER_E_INVALID ? CHARTER_E_REF : st, &err);
        return;
    }
    charter *c = srv_charter(s);
    const srv_key *k = rq->who;
    charter_resolve_result done;
    if (!api_approver_of(k, c, cur.queue)) {
        srv_reply_error(rs, 403, "forbidden",
                        "'%s' is not an approver of queue '%s', where %s waits", k->name,
                        cur.queue, id);
    } else if (cur.status != CHARTER_ESC_OPEN) {
        srv_reply_error(rs, 409, "already_resolved", "decision %s is already %s", id,
                        cur.status == CHARTER_ESC_APPROVED ? "approved" : "denied");
    } else {
        /* The ledger re-checks an approval under `c` and refuses it when the
         * charter serving now would not allow the action. */
        st = charter_ledger_resolve(s->ledger, c, id, k->name,
                                    approve ? CHARTER_RESOLVE_APPROVE : CHARTER_RESOLVE_DENY,
                                    json_string_value(note_j), 0, &done, &err);
        if (st == CHARTER_E_REFUSED) {
            srv_reply_error(rs, 409, refusal_code(done.refusal), "%s", err.message);
        } else if (st == CHARTER_E_DUPLICATE) {
            srv_reply_error(rs, 409, "already_resolved", "%s", err.message);
        } else if (st != CHARTER_OK) {
            srv_reply_status(rq->s, rs, st, &err);
        } else {
            atomic_fetch_add(&s->metrics.resolutions, 1);
            json_t *j = NULL;
            charter_ledger_escalation(s->ledger, id, 0, take_json, &j, NULL);
            srv_reply_json(rs, 200, j);
        }
    }
    charter_release(c);
    json_decref(body);
}
