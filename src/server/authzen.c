/* authzen.c - the AuthZEN Authorization API 1.0 endpoints:
 *   POST /access/v1/evaluation            one evaluation
 *   POST /access/v1/evaluations           a batch, with defaults and semantics
 *   GET  /.well-known/authzen-configuration   discovery (public)
 *
 * Each evaluation becomes a Charter decision request (authzen_map.c) decided
 * through srv_decide, so it is recorded in the ledger exactly like
 * POST /v1/decide. A PEP key may evaluate for any subject; an agent key only
 * for itself (the subject's id is the agent). A deny or an escalation is
 * `200 {"decision": false}`: HTTP errors are only for requests that cannot
 * be evaluated at all. docs/authzen.md describes the mapping.
 */
#include "base/banned.h"

#include "base/limits.h"
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
    if (id && strcmp(id, rq->who->name)) {
        srv_reply_error(rs, 403, "agent_mismatch",
                        "this key belongs to agent '%s'; it cannot evaluate for "
                        "subject '%.128s'", rq->who->name, id);
        return false;
    }
    return true;
}

typedef enum eval_outcome {
    EVAL_DECIDED,       /* *out is the AuthZEN response */
    EVAL_UNAVAILABLE,   /* the ledger failed: *out is the fail-closed deny */
    EVAL_REFUSED,       /* the evaluation is invalid: msg says why */
    EVAL_FAILED         /* out of memory or an internal error: msg says why */
} eval_outcome;

/* Maps, decides and maps back one complete evaluation. */
static eval_outcome evaluate(srv *s, const json_t *evaluation, json_t **out,
                             char msg[AUTHZEN_MSG_SIZE])
{
    *out = NULL;
    json_t *req = authzen_request_build(evaluation, msg);
    if (!req)
        return strcmp(msg, AUTHZEN_NOMEM) ? EVAL_REFUSED : EVAL_FAILED;
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text) {
        snprintf(msg, AUTHZEN_MSG_SIZE, AUTHZEN_NOMEM);
        return EVAL_FAILED;
    }
    char *answer = NULL;
    size_t len = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = srv_decide(s, text, strlen(text), &answer, &len, &err);
    free(text);
    if (st != CHARTER_OK && !(st == CHARTER_E_IO && answer)) {
        free(answer);
        snprintf(msg, AUTHZEN_MSG_SIZE, "%s", err.message[0] ? err.message
                                                             : charter_status_message(st));
        bool invalid = st == CHARTER_E_JSON || st == CHARTER_E_REQUEST ||
                       st == CHARTER_E_LIMIT;
        return invalid ? EVAL_REFUSED : EVAL_FAILED;
    }
    json_t *a = json_loadb(answer, len, 0, NULL);
    free(answer);
    *out = a ? authzen_response_build(a) : NULL;
    json_decref(a);
    if (!*out) {
        snprintf(msg, AUTHZEN_MSG_SIZE, "cannot build the response");
        return EVAL_FAILED;
    }
    return st == CHARTER_OK ? EVAL_DECIDED : EVAL_UNAVAILABLE;
}

/* One evaluation answered on its own: the body of /evaluation, and of
 * /evaluations without an evaluations array. */
static void reply_single(const srv_request *rq, const json_t *evaluation, srv_response *rs)
{
    if (!may_evaluate(rq, evaluation, rs))
        return;
    char msg[AUTHZEN_MSG_SIZE];
    json_t *resp;
    switch (evaluate(rq->s, evaluation, &resp, msg)) {
    case EVAL_DECIDED:
        srv_reply_json(rs, 200, resp);
        return;
    case EVAL_UNAVAILABLE: /* as /v1/decide: the fail-closed deny, with 503 */
        srv_reply_json(rs, 503, resp);
        return;
    case EVAL_REFUSED:
        srv_reply_error(rs, 400, "invalid_request", "%s", msg);
        return;
    case EVAL_FAILED:
        srv_reply_error(rs, 500, "internal", "%s", msg);
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
    results = json_array();
    if (!results)
        goto nomem;
    size_t i;
    const json_t *item;
    json_array_foreach(evaluations, i, item) {
        json_t *merged = authzen_merge(body, item), *resp = NULL;
        if (!merged)
            goto nomem;
        eval_outcome o = evaluate(rq->s, merged, &resp, msg);
        json_decref(merged);
        if (o == EVAL_REFUSED)
            resp = authzen_response_error(400, msg);
        else if (o == EVAL_FAILED)
            resp = authzen_response_error(500, msg);
        /* EVAL_UNAVAILABLE: the fail-closed deny says ledger_unavailable. */
        bool decision = json_is_true(json_object_get(resp, "decision"));
        if (!resp || json_array_append_new(results, resp))
            goto nomem;
        if (authzen_batch_stops(sem, decision))
            break;
    }
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
