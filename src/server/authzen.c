/* authzen.c - the AuthZEN Authorization API 1.0 endpoints:
 *   POST /access/v1/evaluation            one evaluation
 *   POST /access/v1/evaluations           a batch, with defaults and semantics
 *   GET  /.well-known/authzen-configuration   discovery (public)
 *
 * Each evaluation becomes a Charter decision request (authzen_map.c) decided
 * through srv_decide_begin, so it is recorded in the ledger exactly like
 * POST /v1/decide; a batch's entries are committed together. A PEP key may
 * evaluate for any subject; an agent key only for itself (the subject's id
 * is the agent). A deny or an escalation is
 * `200 {"decision": false}`: HTTP errors are only for requests that cannot
 * be evaluated at all. docs/authzen.md describes the mapping.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "base/thread.h"
#include "server/authzen.h"
#include "server/server.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The specification's HTTPS binding sends application/json; parameters
 * (charset) are allowed, other media types are refused with 400. */
static bool is_json_content(const srv_request *rq, srv_response *rs)
{
    const char *ct = srv_header(rq, "Content-Type");
    size_t n = strlen("application/json");
    if (ct && !strncasecmp(ct, "application/json", n) &&
        (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
        return true;
    srv_reply_error(rs, 400, "invalid_content_type",
                    "the body must be sent as Content-Type: application/json, "
                    "found '%.64s'", ct ? ct : "");
    return false;
}

/* The body as a JSON object after the content type is checked, or NULL
 * (replied). */
static json_t *body_object(const srv_request *rq, srv_response *rs)
{
    if (!is_json_content(rq, rs))
        return NULL;
    return srv_body_object(rq, rs);
}

/* The key may evaluate for this evaluation's subject: a PEP for anyone, an
 * agent only as itself. A subject without a string id is left to the
 * evaluation's own checks. Replies and returns false otherwise. */
static bool may_evaluate(const srv_request *rq, const json_t *evaluation, srv_response *rs)
{
    if (!rq->who) {
        srv_reply_error(rs, 401, "unauthenticated", "a bearer token is required");
        return false;
    }
    if (rq->who->role == CHARTER_ROLE_PEP)
        return true;
    if (rq->who->role != CHARTER_ROLE_AGENT) {
        srv_reply_error(rs, 403, "forbidden",
                        "only PEP and agent keys may ask for access evaluations");
        return false;
    }
    const char *id = json_string_value(json_object_get(json_object_get(evaluation, "subject"),
                                                       "id"));
    if (!srv_key_may_decide_as(rq->who, id)) {
        srv_reply_error(rs, 403, "agent_mismatch",
                        "this key belongs to agent '%s'; it cannot evaluate for "
                        "subject '%.128s'", rq->who->name, id);
        return false;
    }
    return true;
}

typedef enum eval_outcome {
    EVAL_DECIDED,       /* resp is the AuthZEN response */
    EVAL_UNAVAILABLE,   /* the ledger failed: resp is the fail-closed deny */
    EVAL_REFUSED,       /* the evaluation is invalid: msg says why */
    EVAL_FAILED         /* out of memory or an internal error: msg says why */
} eval_outcome;

/* One evaluation: its decision on the way into the ledger, then its
 * response. */
typedef struct eval_slot {
    srv_decision dec;
    bool begun;          /* dec must be ended */
    eval_outcome outcome;
    json_t *resp;        /* owned until handed on */
    char msg[AUTHZEN_MSG_SIZE];
} eval_slot;

static void eval_ready(void *user) /* on the ledger's writer thread */
{
    base_latch_done(user);
}

/* Maps one complete evaluation to a decision request and begins deciding
 * it; `pending` counts the entries of the request not durable yet. Returns
 * whether the decision is an allow so far (its entry is not durable yet);
 * false as well when it was refused or failed at once. */
static bool eval_begin(srv *s, const json_t *evaluation, base_latch *pending,
                       eval_slot *e)
{
    memset(e, 0, sizeof *e);
    json_t *req = authzen_request_build(evaluation, e->msg);
    if (!req) {
        e->outcome = strcmp(e->msg, AUTHZEN_NOMEM) ? EVAL_REFUSED : EVAL_FAILED;
        return false;
    }
    int64_t t0 = base_mono_us();
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    charter_request *r = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = text ? charter_request_parse(text, strlen(text), &r, &err)
                             : CHARTER_E_NOMEM;
    if (st != CHARTER_OK) {
        free(text);
        snprintf(e->msg, sizeof e->msg, "%s",
                 err.message[0] ? err.message : charter_status_message(st));
        e->outcome = st == CHARTER_E_NOMEM ? EVAL_FAILED : EVAL_REFUSED;
        return false;
    }
    base_latch_add(pending, 1);
    e->begun = true;
    bool queued = srv_decide_begin(s, r, text, strlen(text), t0, eval_ready, pending,
                                   &e->dec);
    charter_request_free(r);
    free(text);
    if (!queued) { /* answered at once: eval_ready will not come */
        base_latch_done(pending);
        return false;
    }
    return charter_ledger_ticket_effect(e->dec.ticket) == CHARTER_ALLOW;
}

/* Ends a begun decision (its entry durable or failed) and builds the
 * evaluation's response. */
static void eval_end(srv *s, eval_slot *e)
{
    if (!e->begun)
        return;
    e->begun = false;
    srv_decision *d = &e->dec;
    srv_decide_end(s, d);
    if (d->st != CHARTER_OK && !(srv_ledger_failed(d->st) && d->answer)) {
        snprintf(e->msg, sizeof e->msg, "%s",
                 d->err.message[0] ? d->err.message : charter_status_message(d->st));
        bool invalid = d->st == CHARTER_E_JSON || d->st == CHARTER_E_REQUEST ||
                       d->st == CHARTER_E_LIMIT;
        e->outcome = invalid ? EVAL_REFUSED : EVAL_FAILED;
    } else {
        json_t *a = json_loadb(d->answer, d->len, 0, NULL);
        e->resp = a ? authzen_response_build(a) : NULL;
        json_decref(a);
        e->outcome = !e->resp ? EVAL_FAILED
                     : d->st == CHARTER_OK ? EVAL_DECIDED : EVAL_UNAVAILABLE;
        if (!e->resp)
            snprintf(e->msg, sizeof e->msg, "cannot build the response");
    }
    free(d->answer);
    d->answer = NULL;
}

/* The decision an evaluation ended with (an error counts as false). */
static bool eval_decision(const eval_slot *e)
{
    return (e->outcome == EVAL_DECIDED || e->outcome == EVAL_UNAVAILABLE) &&
           json_is_true(json_object_get(e->resp, "decision"));
}

/* Evaluates evals[0..n) in order under `sem`, filling slots[]; returns how
 * many were evaluated. Each evaluation is decided and its entry queued
 * without waiting for the commit, so a batch costs about one group commit,
 * not one per evaluation; an evaluation is begun only after the one before
 * it was decided, so a batch that stops at the first deny (or permit)
 * decides nothing after it. Should an entry fail to be recorded (its
 * decision becomes the fail-closed deny), the stop is judged again on what
 * was answered and the batch goes on from there if it must. */
static size_t evaluate_all(srv *s, json_t *const *evals, size_t n, authzen_semantic sem,
                           eval_slot *slots)
{
    base_latch pending;
    base_latch_init(&pending, 0);
    size_t from = 0, count = n, ended = 0;
    while (from < n) {
        size_t to = from;
        while (to < n) {
            bool allowed = eval_begin(s, evals[to], &pending, &slots[to]);
            to++;
            if (authzen_batch_stops(sem, allowed))
                break;
        }
        base_latch_wait(&pending);
        for (size_t i = from; i < to; i++)
            eval_end(s, &slots[i]);
        count = ended = to;
        size_t i = from;
        while (i < to && !authzen_batch_stops(sem, eval_decision(&slots[i])))
            i++;
        if (i < to) { /* stops here, as answered */
            count = i + 1;
            break;
        }
        from = to; /* a stop that the answers did not confirm: go on */
    }
    for (size_t i = count; i < ended; i++) { /* decided, but after the stop */
        json_decref(slots[i].resp);
        slots[i].resp = NULL;
    }
    base_latch_destroy(&pending);
    return count;
}

/* The response of an evaluation inside a batch (taken from the slot). */
static json_t *eval_batch_response(eval_slot *e)
{
    json_t *resp = e->resp;
    e->resp = NULL;
    if (e->outcome == EVAL_REFUSED)
        resp = authzen_response_error(400, e->msg);
    else if (e->outcome == EVAL_FAILED)
        resp = authzen_response_error(500, e->msg);
    /* EVAL_UNAVAILABLE: the fail-closed deny says ledger_unavailable. */
    return resp;
}

/* One evaluation answered on its own: the body of /evaluation, and of
 * /evaluations without an evaluations array. */
static void reply_single(const srv_request *rq, const json_t *evaluation, srv_response *rs)
{
    if (!may_evaluate(rq, evaluation, rs))
        return;
    eval_slot e;
    json_t *one = (json_t *)evaluation; /* only read */
    evaluate_all(rq->s, &one, 1, AUTHZEN_EXECUTE_ALL, &e);
    switch (e.outcome) {
    case EVAL_DECIDED:
        srv_reply_json(rs, 200, e.resp);
        return;
    case EVAL_UNAVAILABLE: /* as /v1/decide: the fail-closed deny, with 503 */
        srv_reply_json(rs, 503, e.resp);
        return;
    case EVAL_REFUSED:
        srv_reply_error(rs, 400, "invalid_request", "%s", e.msg);
        return;
    case EVAL_FAILED:
        json_decref(e.resp);
        srv_reply_error(rs, 500, "internal", "%s", e.msg);
        return;
    }
}

void authzen_evaluation(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    json_t *body = body_object(rq, rs);
    if (!body)
        return;
    reply_single(rq, body, rs);
    json_decref(body);
}

/* ---- Batches ------------------------------------------------------------------ */

/* The request-level checks of a batch: the defaults, when given, are
 * objects; every evaluation is an object; the key may evaluate each one.
 * Each evaluation's own content is checked when it is decided. */
static bool batch_acceptable(const srv_request *rq, const json_t *body,
                             const json_t *evaluations, srv_response *rs)
{
    static const char *const defaults[] = {"subject", "action", "resource", "context"};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        const json_t *d = json_object_get(body, defaults[i]);
        if (d && !json_is_null(d) && !json_is_object(d)) {
            srv_reply_error(rs, 400, "invalid_request",
                            "the default '%s' must be an object", defaults[i]);
            return false;
        }
    }
    size_t n = json_array_size(evaluations);
    if (n > CHARTER_MAX_AUTHZEN_EVALUATIONS) {
        srv_reply_error(rs, 400, "too_many_evaluations",
                        "a batch holds at most %u evaluations, found %zu",
                        CHARTER_MAX_AUTHZEN_EVALUATIONS, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(evaluations, i);
        if (!json_is_object(item)) {
            srv_reply_error(rs, 400, "invalid_request",
                            "evaluations[%zu] must be an object", i);
            return false;
        }
        /* The subject as merged: an agent key must be itself in every one,
         * checked before anything is decided. */
        const json_t *subject = json_object_get(item, "subject");
        if (!subject || json_is_null(subject))
            subject = json_object_get(body, "subject");
        json_t *probe = json_pack("{s:O?}", "subject", subject);
        bool ok = probe && may_evaluate(rq, probe, rs);
        json_decref(probe);
        if (!ok) {
            if (!probe)
                srv_reply_error(rs, 500, "internal", "out of memory");
            return false;
        }
    }
    return true;
}

void authzen_evaluations(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    json_t *body = body_object(rq, rs);
    if (!body)
        return;
    const json_t *evaluations = json_object_get(body, "evaluations");
    char msg[AUTHZEN_MSG_SIZE];
    authzen_semantic sem;
    json_t *results = NULL;
    if (evaluations && !json_is_null(evaluations) && !json_is_array(evaluations)) {
        srv_reply_error(rs, 400, "invalid_request", "'evaluations' must be an array");
        goto done;
    }
    /* Without evaluations the request is a single evaluation (backwards
     * compatible with /evaluation, as the specification requires). */
    if (!json_array_size(evaluations)) {
        reply_single(rq, body, rs);
        goto done;
    }
    if (!authzen_semantic_parse(body, &sem, msg)) {
        srv_reply_error(rs, 400, "invalid_request", "%s", msg);
        goto done;
    }
    if (!batch_acceptable(rq, body, evaluations, rs))
        goto done;
    size_t n = json_array_size(evaluations), count = 0;
    json_t **merged = calloc(n, sizeof *merged);
    eval_slot *slots = calloc(n, sizeof *slots);
    results = json_array();
    bool ok = merged && slots && results;
    for (size_t i = 0; ok && i < n; i++)
        ok = (merged[i] = authzen_merge(body, json_array_get(evaluations, i))) != NULL;
    if (ok)
        count = evaluate_all(rq->s, merged, n, sem, slots);
    for (size_t i = 0; i < count; i++) {
        json_t *resp = eval_batch_response(&slots[i]);
        if (!ok)
            json_decref(resp);
        else if (!resp || json_array_append_new(results, resp)) /* steals resp */
            ok = false;
    }
    for (size_t i = 0; merged && i < n; i++)
        json_decref(merged[i]);
    free(merged);
    free(slots);
    if (!ok)
        goto nomem;
    json_t *out = json_pack("{s:o}", "evaluations", results);
    results = NULL; /* taken by json_pack, even when it fails */
    if (!out)
        goto nomem;
    srv_reply_json(rs, 200, out);
    goto done;
nomem:
    srv_reply_error(rs, 500, "internal", "out of memory");
done:
    json_decref(results);
    json_decref(body);
}

/* ---- Discovery ------------------------------------------------------------------ */

void authzen_configuration(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    char base[320], msg[AUTHZEN_MSG_SIZE];
    if (!authzen_base_url(srv_header(rq, "Host"), srv_header(rq, "X-Forwarded-Proto"),
                          rq->s->address, base, sizeof base, msg)) {
        srv_reply_error(rs, 400, "invalid_request", "%s", msg);
        return;
    }
    json_t *meta = authzen_metadata_build(base);
    if (!meta) {
        srv_reply_error(rs, 500, "internal", "out of memory");
        return;
    }
    srv_reply_json(rs, 200, meta);
}
