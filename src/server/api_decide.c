/* api_decide.c - POST /v1/decide and GET /v1/decisions/{id}[?wait=S].
 *
 * An agent decides only as itself: the key names the agent, and a request
 * naming another is refused (a request without "agent" is taken as the
 * key's). The decision time is the server's: a request's "time" is
 * dropped (the ledger also replaces any "counters" it claims).
 *
 * A decision is made on the event thread (on a worker when the body is over
 * CHARTER_INLINE_BODY_BYTES: parsing grows with the body, and an event
 * thread serves many connections); its connection is then suspended
 * (srv_defer) until the ledger's writer calls back with the entry durable,
 * and the answer is sent from the event thread after that. When the ledger
 * cannot be written the answer is the fail-closed deny, with status 503.
 */
#include "base/banned.h"

#include "server/server.h"
#include "base/thread.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The slow path: the request lacks "agent" or claims a "time"; rewrite it
 * so what is recorded is what was decided. */
static char *rewrite(const srv_request *rq, srv_response *rs, const char *me)
{
    json_t *req = srv_body_object(rq, rs);
    if (!req)
        return NULL;
    json_object_set_new(req, "agent", json_string(me));
    json_object_del(req, "time");
    char *text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(req);
    if (!text)
        srv_reply_text(rs, 500, NULL, 0);
    return text;
}

/* A decision waiting for its group commit; freed by decide_finish. */
typedef struct decide_wait {
    srv_job job;                   /* first: a decision made again ends on a worker */
    srv *s;
    srv_decision dec;
    struct srv_deferred *deferred;
    bool ended;                    /* srv_decide_end ran already (on a worker) */
    /* The commit may call back before srv_decide_begin has returned (and
     * written what it returns): whichever of the two comes second goes on. */
    _Atomic int phase;             /* WAIT_BEGIN, WAIT_BEGUN, WAIT_READY */
} decide_wait;

enum { WAIT_BEGIN, WAIT_BEGUN, WAIT_READY };

/* On a worker: a decision another server made stale is decided again,
 * which waits for the ledger; then the event thread answers. */
static void decide_again(srv_job *job)
{
    decide_wait *w = (decide_wait *)job;
    srv_decide_end(w->s, &w->dec);
    w->ended = true;
    srv_resume(w->deferred);
}

/* Once both begin has returned and the entry is durable (or failed): the
 * event thread answers, or first a worker decides again. */
static void decide_go(decide_wait *w)
{
    if (srv_decision_must_wait(&w->dec)) {
        w->job.run = decide_again;
        if (srv_workers_run(w->s->workers, &w->job))
            return;
    }
    srv_resume(w->deferred);
}

/* On the ledger's writer thread: the entry is durable (or failed). */
static void decide_ready(void *user)
{
    decide_wait *w = user;
    int begun = WAIT_BEGIN;
    if (atomic_compare_exchange_strong(&w->phase, &begun, WAIT_READY))
        return; /* api_decide goes on when begin returns */
    decide_go(w);
}

/* Back on an event thread: settle and answer. */
static void decide_finish(void *user, srv_response *rs)
{
    decide_wait *w = user;
    srv_decision *d = &w->dec;
    if (!w->ended)
        srv_decide_end(w->s, d);
    if (d->st == CHARTER_OK || (srv_ledger_failed(d->st) && d->answer))
        srv_reply_text(rs, d->st == CHARTER_OK ? 200 : 503, d->answer, d->len);
    else
        srv_reply_status(w->s, rs, d->st, &d->err);
    free(w);
}

void api_decide(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    int64_t t0 = base_mono_us();
    if (!rq->body_len) {
        srv_reply_error(rs, 400, "malformed_json",
                        "the request body is empty; expected a decision request");
        return;
    }
    if (srv_body_too_deep(rq, rs))
        return;
    const char *me = rq->who->name;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_request *r = NULL;
    charter_status st = charter_request_parse(rq->body, rq->body_len, &r, &err);
    if (st == CHARTER_E_REQUEST) {
        /* Perhaps only "agent" is missing: the rewrite adds it, and parsing
         * the rewritten text reports any other fault. */
        r = NULL;
    } else if (st != CHARTER_OK) {
        srv_reply_status(rq->s, rs, st, &err);
        return;
    }
    const char *agent = r ? charter_request_agent(r) : "";
    if (!srv_key_may_decide_as(rq->who, *agent ? agent : NULL)) {
        srv_reply_error(rs, 403, "agent_mismatch",
                        "this key belongs to agent '%s'; it cannot decide as '%.128s'", me,
                        agent);
        charter_request_free(r);
        return;
    }
    const char *text = rq->body;
    size_t n = rq->body_len;
    char *rewritten = NULL;
    if (!r || !*agent || charter_request_has_time(r)) {
        /* The server's clock decides: a "time" an agent claims would move
         * `now`, day budgets and deadlines. */
        charter_request_free(r);
        r = NULL;
        if (!(rewritten = rewrite(rq, rs, me)))
            return;
        text = rewritten;
        n = strlen(rewritten);
        if ((st = charter_request_parse(text, n, &r, &err)) != CHARTER_OK) {
            free(rewritten);
            srv_reply_status(rq->s, rs, st, &err);
            return;
        }
    }
    decide_wait *w = calloc(1, sizeof *w);
    if (!w) {
        charter_request_free(r);
        free(rewritten);
        srv_reply_error(rs, 500, "internal", "out of memory");
        return;
    }
    w->s = rq->s;
    w->deferred = rq->deferred;
    /* Suspended first: the commit may call back before begin returns. */
    srv_defer(rq, decide_finish, w);
    bool queued = srv_decide_begin(rq->s, r, text, n, t0, decide_ready, w, &w->dec);
    charter_request_free(r);
    free(rewritten);
    int begin = WAIT_BEGIN;
    if (!queued) /* answered without waiting (refused, or the ledger closing) */
        srv_resume(w->deferred);
    else if (!atomic_compare_exchange_strong(&w->phase, &begin, WAIT_BEGUN))
        decide_go(w); /* the commit called back already */
}

/* ---- GET /v1/decisions/{id} ------------------------------------------------- */

static const char *status_name(charter_escalation_status s)
{
    return s == CHARTER_ESC_OPEN ? "open" : s == CHARTER_ESC_APPROVED ? "approved"
                                                                      : "denied";
}

json_t *api_escalation_json(const charter_escalation *e)
{
    char t[40], dl[40], rt[40];
    charter_time_format(e->time_ms, t);
    charter_time_format(e->deadline_ms, dl);
    charter_time_format(e->resolved_ms, rt);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s?}", "decision_id",
                          e->decision_id, "status", status_name(e->status), "queue",
                          e->queue, "agent", e->agent, "workflow", e->workflow, "action",
                          e->action, "run_id", e->run_id, "time", t, "deadline",
                          e->deadline_ms ? dl : NULL);
    if (j && e->status != CHARTER_ESC_OPEN) {
        json_object_set_new(j, "resolved_by", json_string(e->resolved_by ? e->resolved_by : ""));
        json_object_set_new(j, "resolved_at", json_string(rt));
        json_object_set_new(j, "note", e->note ? json_string(e->note) : json_null());
        json_object_set_new(j, "timed_out", json_boolean(e->timed_out));
    }
    /* Approval policies (docs/http-api.md): the votes of a quorum so far
     * (open) or every approver (resolved), and the standing approval that
     * approved it. */
    json_t *votes = j ? json_array() : NULL;
    for (size_t i = 0; votes && i < e->approval_count; i++)
        json_array_append_new(votes, json_pack("{s:s}", "who", e->approvers[i]));
    if (votes && !e->approval_count && e->status == CHARTER_ESC_APPROVED && !e->timed_out &&
        e->resolved_by)
        json_array_append_new(votes, json_pack("{s:s}", "who", e->resolved_by));
    if (votes)
        json_object_set_new(j, "approvals", votes);
    if (j && e->grant_id)
        json_object_set_new(j, "grant", json_string(e->grant_id));
    return j;
}

static int take_escalation(const charter_escalation *e, void *user)
{
    *(json_t **)user = api_escalation_json(e);
    return 1;
}

bool api_key_has_queue(const srv_key *k, const char *q)
{
    for (size_t i = 0; q && i < k->queue_count; i++)
        if (!strcmp(k->queues[i], q))
            return true;
    return false;
}

bool api_approver_of(const srv_key *k, const charter *c, const char *q)
{
    return k->role == CHARTER_ROLE_APPROVER && api_key_has_queue(k, q) &&
           charter_queue_approver(c, q, k->name, (const char *const *)k->roles,
                                  k->role_count);
}

void api_decision_get(const srv_request *rq, const char *tail, srv_response *rs)
{
    srv *s = rq->s;
    uint32_t wait_ms;
    if (!srv_query_wait(rq, rs, &wait_ms))
        return;
    char *payload = NULL;
    size_t len = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_ledger_decision(s->ledger, tail, &payload, &len, &err);
    if (st != CHARTER_OK) {
        srv_reply_status(rq->s, rs, st == CHARTER_E_INVALID ? CHARTER_E_REF : st, &err);
        return;
    }
    json_t *p = json_loadb(payload, len, 0, NULL);
    free(payload);
    json_t *request = json_object_get(p, "request"), *answer = json_object_get(p, "answer");
    if (!request || !answer) {
        json_decref(p);
        srv_reply_error(rs, 500, "internal", "decision %s is recorded without its request "
                                             "or answer", tail);
        return;
    }
    const char *agent = json_string_value(json_object_get(request, "agent"));
    const char *effect = json_string_value(json_object_get(answer, "decision"));
    json_t *esc = NULL;
    if (effect && !strcmp(effect, "escalate")) {
        /* Look first without waiting: the caller's right to wait on it
         * depends on the queue it is in. */
        charter_ledger_escalation(s->ledger, tail, 0, take_escalation, &esc, NULL);
    }
    const srv_key *k = rq->who;
    bool allowed = k->role == CHARTER_ROLE_ADMIN || k->role == CHARTER_ROLE_AUDITOR ||
                   (k->role == CHARTER_ROLE_AGENT && agent && !strcmp(agent, k->name));
    if (!allowed && k->role == CHARTER_ROLE_APPROVER && esc) {
        /* As for resolving: bound to the queue and accepted by the charter
         * serving now, so a person taken off a queue loses sight at once. */
        charter *c = srv_charter(s);
        allowed = api_approver_of(k, c, json_string_value(json_object_get(esc, "queue")));
        charter_release(c);
    }
    if (!allowed) {
        json_decref(esc);
        json_decref(p);
        srv_reply_error(rs, 403, "forbidden", "this key may not read decision %s", tail);
        return;
    }
    if (esc && wait_ms &&
        !strcmp(json_string_value(json_object_get(esc, "status")), "open")) {
        json_decref(esc);
        esc = NULL;
        charter_ledger_escalation(s->ledger, tail, wait_ms, take_escalation, &esc, NULL);
    }
    const char *final = effect ? effect : "deny";
    const char *esc_status = esc ? json_string_value(json_object_get(esc, "status")) : NULL;
    if (esc_status && !strcmp(esc_status, "approved"))
        final = "allow";
    else if (esc_status && !strcmp(esc_status, "denied"))
        final = "deny";
    json_t *out = json_pack("{s:s,s:s,s:b,s:O,s:O,s:o}", "decision_id", tail, "decision",
                            final, "final", !esc_status || strcmp(esc_status, "open"),
                            "answer", answer, "request", request, "escalation",
                            esc ? esc : json_null());
    /* The version that decided it, and from the search index its outcomes
     * and (an escalation) its history. */
    json_t *version = json_object_get(p, "charter_version");
    json_object_set(out, "charter_version", json_is_string(version) ? version : json_null());
    uint64_t seq = 0;
    charter_decision_id_parse(tail, &seq);
    api_decision_index_json(s, seq, effect && !strcmp(effect, "escalate"), out);
    json_decref(p);
    srv_reply_json(rs, 200, out);
}
