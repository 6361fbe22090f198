/* api_escalations.c - the escalation queue: GET /v1/escalations (the
 * inbox: filters, decision or deadline order, detail, and a long poll on the
 * ledger's escalation version) and POST /v1/escalations/{id}/resolve.
 *
 * A listing collects the matching escalations (decision id and deadline
 * only), sorts and pages them, then reads the page's escalations in full,
 * and with detail=1 their recorded decisions, so its cost grows with the
 * page, not with the number open. GET /v1/escalations/{id} is one
 * escalation with its detail, and can wait for it to be resolved.
 *
 * The queue's approval policy (quorum, notes, self-approval) lives in the
 * ledger, which refuses what it forbids; here its refusals become HTTP
 * errors (403 self_approval, 400 note_required, 409 already_approved), an
 * approval that does not yet make the quorum is 202, and each escalation
 * carries approvals_needed and, in detail, the policy and whether this
 * approver may approve it. Standing approvals are api_grants.c.
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

#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A page of the listing is at most this many escalations. */
#define LIST_DEFAULT 1000
#define LIST_MAX 10000

/* ---- Listing ------------------------------------------------------------------ */

/* One escalation that matched: enough to sort and page; the page's
 * escalations are read again in full. */
typedef struct match {
    uint64_t seq;
    int64_t deadline_ms;   /* 0: none */
} match;

typedef struct listing {
    const srv_key *who;    /* approvers see only their queues */
    const charter *c;      /* ... as the charter serving now has them */
    bool resolved_only;
    const char *workflow, *agent, *resolved_by; /* exact filters, or NULL */
    match *m;
    size_t n, cap;
    bool failed;           /* out of memory */
} listing;

/* The query: filters, order, page, detail and the long poll. */
typedef struct query {
    const char *queue, *status, *workflow, *agent;
    bool resolved_by_me, by_deadline, detail;
    uint64_t after;        /* default order: only escalations of later decisions */
    size_t offset;         /* sort=deadline: skip this many */
    size_t limit;
    uint32_t wait_ms;      /* with has_version: wait this long for a change */
    bool has_version;
    uint64_t version;
} query;

static int add_match(const charter_escalation *e, void *user)
{
    listing *l = user;
    if (l->who->role == CHARTER_ROLE_APPROVER && !api_approver_of(l->who, l->c, e->queue))
        return 0;
    if (l->resolved_only && e->status == CHARTER_ESC_OPEN)
        return 0;
    if ((l->workflow && strcmp(l->workflow, e->workflow)) ||
        (l->agent && strcmp(l->agent, e->agent)))
        return 0;
    if (l->resolved_by && (e->status == CHARTER_ESC_OPEN || !e->resolved_by ||
                           strcmp(l->resolved_by, e->resolved_by)))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        match *m = realloc(l->m, cap * sizeof *m);
        if (!m) {
            l->failed = true;
            return 1;
        }
        l->m = m;
        l->cap = cap;
    }
    l->m[l->n++] = (match){.seq = e->seq, .deadline_ms = e->deadline_ms};
    return 0;
}

/* Earliest deadline first, none last, then decision order. */
static int by_deadline(const void *a, const void *b)
{
    const match *x = a, *y = b;
    if (x->deadline_ms != y->deadline_ms) {
        if (!x->deadline_ms || !y->deadline_ms)
            return x->deadline_ms ? -1 : 1;
        return x->deadline_ms < y->deadline_ms ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Reads the query string into *q; false after replying 400. */
static bool query_parse(const srv_request *rq, query *q, srv_response *rs)
{
    memset(q, 0, sizeof *q);
    q->queue = srv_query(rq, "queue");
    q->workflow = srv_query(rq, "workflow");
    q->agent = srv_query(rq, "agent");
    q->status = srv_query(rq, "status");
    const char *by = srv_query(rq, "resolved_by"), *sort = srv_query(rq, "sort");
    const char *detail = srv_query(rq, "detail"), *limit = srv_query(rq, "limit");
    const char *after = srv_query(rq, "after"), *offset = srv_query(rq, "offset");
    const char *wait = srv_query(rq, "wait"), *version = srv_query(rq, "version");
    uint64_t v = 0;
    if (by && strcmp(by, "me")) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected resolved_by=me, found '%.40s'", by);
        return false;
    }
    q->resolved_by_me = by != NULL;
    if (!q->status)
        q->status = q->resolved_by_me ? "resolved" : "open";
    if (strcmp(q->status, "open") && strcmp(q->status, "resolved") &&
        strcmp(q->status, "all")) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected status=open, resolved or all; found '%.40s'", q->status);
        return false;
    }
    if (sort && strcmp(sort, "deadline") && strcmp(sort, "decision")) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected sort=deadline or sort=decision, found '%.40s'", sort);
        return false;
    }
    q->by_deadline = sort && !strcmp(sort, "deadline");
    if (detail && strcmp(detail, "0") && strcmp(detail, "1")) {
        srv_reply_error(rs, 400, "invalid_request", "expected detail=0 or 1, found '%.40s'",
                        detail);
        return false;
    }
    q->detail = detail && !strcmp(detail, "1");
    q->limit = LIST_DEFAULT;
    if (limit) {
        if (!srv_parse_uint(limit, LIST_MAX, &v) || v < 1) {
            srv_reply_error(rs, 400, "invalid_request",
                            "expected limit=1 to %d, found '%.40s'", LIST_MAX, limit);
            return false;
        }
        q->limit = (size_t)v;
    }
    if (after && q->by_deadline) {
        srv_reply_error(rs, 400, "invalid_request",
                        "after= pages the decision order; with sort=deadline use offset=N");
        return false;
    }
    if (after && !charter_decision_id_parse(after, &q->after)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected after=<decision id> such as d-42, found '%.40s'", after);
        return false;
    }
    if (offset && !q->by_deadline) {
        srv_reply_error(rs, 400, "invalid_request",
                        "offset= pages sort=deadline; in decision order use after=d-N");
        return false;
    }
    if (offset && !srv_parse_uint(offset, SIZE_MAX / 2, &v)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected offset=N (a whole number >= 0), found '%.40s'", offset);
        return false;
    }
    q->offset = offset ? (size_t)v : 0;
    if (version && !srv_parse_uint(version, UINT64_MAX, &q->version)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected version=N (the version of an earlier answer), found "
                        "'%.40s'", version);
        return false;
    }
    q->has_version = version != NULL;
    if (wait) {
        char *end;
        double secs = strtod(wait, &end);
        if (*end || end == wait || !(secs >= 0)) {
            srv_reply_error(rs, 400, "invalid_request",
                            "expected wait=SECONDS (a number >= 0), found '%.40s'", wait);
            return false;
        }
        if (!q->has_version) {
            srv_reply_error(rs, 400, "invalid_request",
                            "wait= waits for a change of version=N; give the version "
                            "of the last answer");
            return false;
        }
        if (secs > rq->s->opt.max_wait_s)
            secs = rq->s->opt.max_wait_s;
        q->wait_ms = (uint32_t)(secs * 1000);
    }
    return true;
}

/* ---- Detail: what a person needs to judge it -------------------------------- */

typedef struct reads_ctx {
    json_t *reads;
    bool failed;
} reads_ctx;

static int add_read(const char *field, void *user)
{
    reads_ctx *r = user;
    size_t i;
    json_t *v;
    json_array_foreach(r->reads, i, v)
        if (!strcmp(json_string_value(v), field))
            return 0;
    if (json_array_append_new(r->reads, json_string(field)))
        r->failed = true;
    return 0;
}

/* The fields the fired items' conditions read, first-fired first. */
static json_t *reads_of(const charter *c, const char *workflow, json_t *fired)
{
    reads_ctx r = {.reads = json_array()};
    size_t i;
    json_t *f;
    json_array_foreach(fired, i, f) {
        const char *id = json_string_value(json_object_get(f, "id"));
        if (id && r.reads)
            charter_condition_reads(c, workflow, id, add_read, &r);
    }
    return r.reads;
}

typedef struct ranked {
    const char *id, *statement;
    unsigned rank;          /* 0: not in the charter serving now */
    size_t at;              /* position in the answer */
} ranked;

static int by_rank(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    unsigned rx = x->rank ? x->rank : UINT32_MAX, ry = y->rank ? y->rank : UINT32_MAX;
    if (rx != ry)
        return rx < ry ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* The answer's values in the charter's rank order; a value the charter
 * serving now no longer has comes last, with rank and statement null. */
static json_t *values_ranked(const charter *c, json_t *values)
{
    size_t n = json_array_size(values), k = 0;
    ranked *r = n ? calloc(n, sizeof *r) : NULL;
    json_t *out = json_array();
    if ((n && !r) || !out) {
        free(r);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(values, i));
        if (!id)
            continue;
        r[k] = (ranked){.id = id, .at = i};
        if (!charter_value_info(c, id, &r[k].rank, &r[k].statement))
            r[k].rank = 0;
        k++;
    }
    if (k > 1)
        qsort(r, k, sizeof *r, by_rank);
    for (size_t i = 0; i < k; i++)
        json_array_append_new(out, json_pack("{s:s,s:o,s:s?}", "id", r[i].id, "rank",
                                             r[i].rank ? json_integer(r[i].rank)
                                                       : json_null(),
                                             "statement", r[i].rank ? r[i].statement
                                                                    : NULL));
    free(r);
    return out;
}

/* Adds request, answer, reads, values_ranked and on_timeout to escalation
 * `j`; CHARTER_OK, or the ledger's status reading its decision. */
static charter_status detail_add(srv *s, const charter *c, json_t *j, charter_error *err)
{
    const char *id = json_string_value(json_object_get(j, "decision_id"));
    char *payload = NULL;
    size_t len = 0;
    charter_status st = charter_ledger_decision(s->ledger, id, &payload, &len, err);
    if (st != CHARTER_OK)
        return st;
    json_t *p = json_loadb(payload, len, 0, NULL);
    free(payload);
    json_t *request = json_object_get(p, "request"), *answer = json_object_get(p, "answer");
    const char *workflow = json_string_value(json_object_get(j, "workflow"));
    const char *on_timeout = charter_queue_on_timeout(
        c, json_string_value(json_object_get(j, "queue")));
    json_object_set(j, "request", request ? request : json_null());
    json_object_set(j, "answer", answer ? answer : json_null());
    json_t *reads = reads_of(c, workflow, json_object_get(answer, "fired"));
    json_t *values = values_ranked(c, json_object_get(answer, "values"));
    json_object_set_new(j, "reads", reads ? reads : json_array());
    json_object_set_new(j, "values_ranked", values ? values : json_array());
    json_object_set_new(j, "on_timeout", on_timeout ? json_string(on_timeout) : json_null());
    json_decref(p);
    return CHARTER_OK;
}

static int take_json(const charter_escalation *e, void *user)
{
    *(json_t **)user = api_escalation_json(e);
    return 1;
}

/* ---- Policy: what the queue asks of an approval -------------------------------- */

/* Adds approvals_needed to escalation `j`, and with `detail` its queue's
 * policy and, for an approver key, may_approve and may_approve_why. */
static void policy_add(srv *s, const charter *c, const srv_key *who, json_t *j,
                       bool detail)
{
    const char *id = json_string_value(json_object_get(j, "decision_id"));
    const char *queue = json_string_value(json_object_get(j, "queue"));
    charter_queue_policy p;
    bool has = charter_queue_policy_get(c, queue, &p);
    int needed = has ? p.quorum : 1;
    /* A quorum with a `when` depends on the recorded request: the ledger
     * evaluates it (a plain quorum needs no read of the decision). */
    bool known = has && (!p.quorum_when ||
                         charter_ledger_quorum(s->ledger, c, id, &needed, NULL) == CHARTER_OK);
    json_object_set_new(j, "approvals_needed", known ? json_integer(needed) : json_null());
    if (!detail)
        return;
    json_object_set_new(
        j, "policy",
        has ? json_pack("{s:i,s:s,s:b,s:o}", "quorum", p.quorum, "require_note",
                        p.note_always ? "always" : "deny", "self_approval", p.self_approval,
                        "standing_approvals_max_hours",
                        p.grant_max_ms ? json_real((double)p.grant_max_ms / 3600000.0)
                                       : json_null())
            : json_null());
    if (who->role != CHARTER_ROLE_APPROVER)
        return;
    /* The ledger knows the rest: self-approval, an approver's second vote,
     * an escalation no longer open. */
    bool may = false;
    char why[512] = "";
    if (charter_ledger_may_approve(s->ledger, c, id, who->name, &may, why, sizeof why, NULL) !=
        CHARTER_OK) {
        may = false;
        if (!why[0])
            snprintf(why, sizeof why, "could not tell whether %s may approve %s", who->name,
                     id);
    }
    if (may)
        why[0] = '\0';
    json_object_set_new(j, "may_approve", json_boolean(may));
    json_object_set_new(j, "may_approve_why", may ? json_null() : json_string(why));
}

charter_status api_escalation_view(srv *s, const charter *c, const srv_key *who,
                                   const char *id, bool detail, json_t **out,
                                   charter_error *err)
{
    json_t *j = NULL;
    charter_status st = charter_ledger_escalation(s->ledger, id, 0, take_json, &j, err);
    if (st == CHARTER_OK && !j)
        st = CHARTER_E_NOMEM;
    if (st == CHARTER_OK && detail)
        st = detail_add(s, c, j, err);
    if (st != CHARTER_OK) {
        json_decref(j);
        return st;
    }
    policy_add(s, c, who, j, detail);
    *out = j;
    return CHARTER_OK;
}

/* The page items[from .. from + count) as JSON, with detail when asked. */
static charter_status page_json(srv *s, const charter *c, const srv_key *who,
                                const listing *l, size_t from, size_t count, bool detail,
                                json_t **out, charter_error *err)
{
    json_t *list = json_array();
    if (!list)
        return CHARTER_E_NOMEM;
    charter_status st = CHARTER_OK;
    for (size_t i = from; i < from + count && st == CHARTER_OK; i++) {
        char id[32];
        snprintf(id, sizeof id, "d-%" PRIu64, l->m[i].seq);
        json_t *j = NULL;
        st = api_escalation_view(s, c, who, id, detail, &j, err);
        if (st == CHARTER_OK && json_array_append_new(list, j))
            st = CHARTER_E_NOMEM;
        else if (st != CHARTER_OK)
            json_decref(j);
    }
    if (st != CHARTER_OK) {
        json_decref(list);
        return st;
    }
    *out = list;
    return CHARTER_OK;
}

/* An approver naming a queue it may not see: 403 (and true). */
static bool queue_refused(const srv_request *rq, const charter *c, const query *q,
                          srv_response *rs)
{
    if (!q->queue || rq->who->role != CHARTER_ROLE_APPROVER ||
        api_approver_of(rq->who, c, q->queue))
        return false;
    srv_reply_error(rs, 403, "forbidden", "'%s' is not an approver of queue '%.128s'",
                    rq->who->name, q->queue);
    return true;
}

void api_escalations_list(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    query q;
    if (!query_parse(rq, &q, rs))
        return;
    charter *c = srv_charter(s);
    if (queue_refused(rq, c, &q, rs)) {
        charter_release(c);
        return;
    }
    uint64_t version;
    if (q.has_version && q.wait_ms) {
        /* The long poll: an unchanged inbox waits here, on its worker. A
         * reload meanwhile is seen by the listing below. */
        charter_release(c);
        version = charter_ledger_escalations_wait(s->ledger, q.version, q.wait_ms);
        c = srv_charter(s);
        if (queue_refused(rq, c, &q, rs)) {
            charter_release(c);
            return;
        }
    } else {
        version = charter_ledger_escalations_version(s->ledger);
    }
    listing l = {.who = rq->who, .c = c, .resolved_only = !strcmp(q.status, "resolved"),
                 .workflow = q.workflow, .agent = q.agent,
                 .resolved_by = q.resolved_by_me ? rq->who->name : NULL};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_escalations(s->ledger, q.queue,
                                                   !strcmp(q.status, "open"), add_match,
                                                   &l, &err);
    if (st == CHARTER_OK && l.failed)
        st = CHARTER_E_NOMEM;
    size_t from = 0;
    if (q.by_deadline) {
        if (l.n > 1)
            qsort(l.m, l.n, sizeof *l.m, by_deadline);
        from = q.offset < l.n ? q.offset : l.n;
    } else {
        while (from < l.n && l.m[from].seq <= q.after) /* decision order already */
            from++;
    }
    size_t count = l.n - from < q.limit ? l.n - from : q.limit;
    bool more = from + count < l.n;
    json_t *list = NULL;
    if (st == CHARTER_OK)
        st = page_json(s, c, rq->who, &l, from, count, q.detail, &list, &err);
    if (st == CHARTER_E_NOMEM) {
        srv_reply_error(rs, 500, "internal", "out of memory listing escalations");
    } else if (st != CHARTER_OK) {
        srv_reply_status(s, rs, st, &err);
    } else {
        json_t *j = json_pack("{s:o,s:I,s:I,s:I}", "escalations", list, "count",
                              (json_int_t)count, "total", (json_int_t)l.n, "version",
                              (json_int_t)version);
        char last[32];
        if (j && more && !q.by_deadline) {
            snprintf(last, sizeof last, "d-%" PRIu64, l.m[from + count - 1].seq);
            json_object_set_new(j, "next", json_string(last));
        } else if (j && more) {
            json_object_set_new(j, "next_offset", json_integer((json_int_t)(from + count)));
        }
        srv_reply_json(rs, 200, j);
    }
    free(l.m);
    charter_release(c);
}

/* ---- One escalation ---------------------------------------------------------------- */

/* The escalation as it stands, copied for the checks and messages below. */
typedef struct current {
    bool found;
    charter_escalation_status status;
    bool timed_out;
    char queue[256];
    char who[256];
    char note[512];
    char grant[32];
    int64_t deadline_ms, resolved_ms;
} current;

static int take_current(const charter_escalation *e, void *user)
{
    current *c = user;
    c->found = true;
    c->status = e->status;
    c->timed_out = e->timed_out;
    c->deadline_ms = e->deadline_ms;
    c->resolved_ms = e->resolved_ms;
    snprintf(c->queue, sizeof c->queue, "%s", e->queue);
    snprintf(c->who, sizeof c->who, "%s", e->resolved_by ? e->resolved_by : "");
    snprintf(c->note, sizeof c->note, "%s", e->note ? e->note : "");
    snprintf(c->grant, sizeof c->grant, "%s", e->grant_id ? e->grant_id : "");
    return 1;
}

/* The decision id in `tail` before `suffix` ("" for none) into id[64];
 * false after replying 404 `expected`. */
static bool tail_id(const char *tail, const char *suffix, char id[64], const char *expected,
                    srv_response *rs)
{
    size_t n = strlen(tail), k = strlen(suffix);
    if (n <= k || strcmp(tail + n - k, suffix) || n - k >= 64 ||
        memchr(tail, '/', n - k)) {
        srv_reply_error(rs, 404, "not_found", "expected %s", expected);
        return false;
    }
    memcpy(id, tail, n - k);
    id[n - k] = '\0';
    return true;
}

void api_escalation_get(const srv_request *rq, const char *tail, srv_response *rs)
{
    srv *s = rq->s;
    char id[64];
    if (!tail_id(tail, "", id, "GET /v1/escalations/{decision_id}", rs))
        return;
    uint32_t wait_ms;
    if (!srv_query_wait(rq, rs, &wait_ms))
        return;
    /* Looked at first without waiting: whether the caller may wait on it
     * depends on the queue it is in. */
    current cur = {0};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_escalation(s->ledger, id, 0, take_current, &cur, &err);
    if (st != CHARTER_OK) {
        srv_reply_status(s, rs, st == CHARTER_E_INVALID ? CHARTER_E_REF : st, &err);
        return;
    }
    charter *c = srv_charter(s);
    bool refused = rq->who->role == CHARTER_ROLE_APPROVER &&
                   !api_approver_of(rq->who, c, cur.queue);
    charter_release(c);
    if (refused) {
        srv_reply_error(rs, 403, "forbidden", "'%s' is not an approver of queue '%s', where %s "
                        "waits", rq->who->name, cur.queue, id);
        return;
    }
    if (wait_ms && cur.status == CHARTER_ESC_OPEN)
        charter_ledger_escalation(s->ledger, id, wait_ms, take_current, &cur, NULL);
    c = srv_charter(s);
    json_t *j = NULL;
    st = api_escalation_view(s, c, rq->who, id, true, &j, &err);
    charter_release(c);
    if (st != CHARTER_OK)
        srv_reply_status(s, rs, st == CHARTER_E_INVALID ? CHARTER_E_REF : st, &err);
    else
        srv_reply_json(rs, 200, j);
}

/* ---- Resolving ------------------------------------------------------------------- */

/* 409 already_resolved, saying who resolved it and when, or that its
 * deadline passed and what its queue's on_timeout applied. */
static void reply_resolved(srv_response *rs, const char *id, const current *cur)
{
    char at[40], dl[40];
    charter_time_format(cur->resolved_ms, at);
    charter_time_format(cur->deadline_ms, dl);
    const char *what = cur->status == CHARTER_ESC_APPROVED ? "approved" : "denied";
    if (cur->timed_out)
        srv_reply_error(rs, 409, "already_resolved",
                        "decision %s is no longer open: it timed out at its deadline %s "
                        "and its queue's on_timeout was applied at %s: it was %s (%s)",
                        id, cur->deadline_ms ? dl : at, at,
                        cur->status == CHARTER_ESC_APPROVED ? "allowed" : "denied",
                        cur->note[0] ? cur->note : "no note");
    else
        srv_reply_error(rs, 409, "already_resolved",
                        "decision %s was already %s by %s%s%s at %s%s%s%s", id, what,
                        cur->who, cur->grant[0] ? " through standing approval " : "",
                        cur->grant, at, cur->note[0] ? " (note: \"" : "", cur->note,
                        cur->note[0] ? "\")" : "");
}

bool api_escalation_open_for(const srv_request *rq, const charter *c, const char *id,
                             srv_response *rs)
{
    current cur = {0};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_escalation(rq->s->ledger, id, 0, take_current, &cur,
                                                  &err);
    if (st != CHARTER_OK) {
        srv_reply_status(rq->s, rs, st == CHARTER_E_INVALID ? CHARTER_E_REF : st, &err);
        return false;
    }
    if (!api_approver_of(rq->who, c, cur.queue)) {
        srv_reply_error(rs, 403, "forbidden",
                        "'%s' is not an approver of queue '%s', where %s waits", rq->who->name,
                        cur.queue, id);
        return false;
    }
    if (cur.status != CHARTER_ESC_OPEN) {
        reply_resolved(rs, id, &cur);
        return false;
    }
    return true;
}

void api_resolve_refused(const srv_request *rq, const char *id, charter_status st,
                         const charter_resolve_result *done, const charter_error *err,
                         srv_response *rs)
{
    if (st == CHARTER_E_REFUSED) {
        int status = 409;
        const char *code;
        switch (done->refusal) {
        case CHARTER_REFUSAL_BOUNDARY: code = "boundary"; break;
        case CHARTER_REFUSAL_STOP_RULE: code = "stop_rule"; break;
        case CHARTER_REFUSAL_DENIED: code = "charter_denies"; break;
        case CHARTER_REFUSAL_SELF_APPROVAL: status = 403; code = "self_approval"; break;
        case CHARTER_REFUSAL_NOTE_REQUIRED: status = 400; code = "note_required"; break;
        case CHARTER_REFUSAL_ALREADY_APPROVED: code = "already_approved"; break;
        case CHARTER_REFUSAL_NO_GRANTS: status = 403; code = "grants_not_allowed"; break;
        case CHARTER_REFUSAL_QUORUM: code = "quorum"; break;
        default: code = "recheck_failed"; break;
        }
        srv_reply_error(rs, status, code, "%s", err->message);
    } else if (st == CHARTER_E_DUPLICATE || st == CHARTER_E_CONFLICT) {
        /* Someone (or the deadline, or a standing approval; or, on a
         * ledger several servers share, someone on another server:
         * CHARTER_E_CONFLICT) was faster: say who, once it is known. A
         * conflict that left it open (another server moved it, or counted
         * against its budgets first) is to be looked at again. */
        current now = {0};
        charter_ledger_escalation(rq->s->ledger, id, 0, take_current, &now, NULL);
        if (now.found && now.status != CHARTER_ESC_OPEN)
            reply_resolved(rs, id, &now);
        else
            srv_reply_error(rs, 409, st == CHARTER_E_CONFLICT ? "conflict" : "already_resolved",
                            "%s", err->message);
    } else {
        srv_reply_status(rq->s, rs, st, err);
    }
}

void api_escalation_resolve(const srv_request *rq, const char *tail, srv_response *rs)
{
    const char *slash = strchr(tail, '/');
    if (slash && !strcmp(slash, "/grant")) {
        api_escalation_grant(rq, tail, rs);
        return;
    }
    srv *s = rq->s;
    char id[64];
    if (!tail_id(tail, "/resolve", id,
                 "POST /v1/escalations/{decision_id}/resolve or .../grant", rs))
        return;
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
    charter *c = srv_charter(s);
    if (api_escalation_open_for(rq, c, id, rs)) {
        /* The ledger applies the queue's policy (notes, self-approval, the
         * quorum) and re-checks an approval under `c`, refusing it when the
         * charter serving now would not allow the action. */
        charter_resolve_result done;
        memset(&done, 0, sizeof done);
        charter_error err;
        memset(&err, 0, sizeof err);
        charter_status st = charter_ledger_resolve(
            s->ledger, c, id, rq->who->name,
            approve ? CHARTER_RESOLVE_APPROVE : CHARTER_RESOLVE_DENY,
            json_string_value(note_j), 0, &done, &err);
        json_t *j = NULL;
        if (st == CHARTER_OK)
            st = api_escalation_view(s, c, rq->who, id, false, &j, &err);
        if (st != CHARTER_OK) {
            api_resolve_refused(rq, id, st, &done, &err, rs);
        } else {
            if (!done.pending)
                atomic_fetch_add(&s->metrics.resolutions, 1);
            /* 202: one approval of a quorum; the escalation stays open. */
            srv_reply_json(rs, done.pending ? 202 : 200, j);
        }
    }
    charter_release(c);
    json_decref(body);
}
