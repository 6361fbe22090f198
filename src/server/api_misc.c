/* api_misc.c - outcomes, briefs, reloading and health:
 * POST /v1/outcomes, GET /v1/brief, POST /v1/admin/reload, GET /healthz.
 */
#include "base/banned.h"

#include "server/server.h"

#include <jansson.h>
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/store.h"

/* The agent that made a recorded decision, copied into buf; false when the
 * decision cannot be read (err says why). */
static charter_status decision_agent(srv *s, const char *id, char *buf, size_t n,
                                     charter_error *err)
{
    char *payload = NULL;
    size_t len = 0;
    charter_status st = charter_ledger_decision(s->ledger, id, &payload, &len, err);
    if (st != CHARTER_OK)
        return st;
    json_t *p = json_loadb(payload, len, 0, NULL);
    free(payload);
    const char *a = json_string_value(json_object_get(json_object_get(p, "request"), "agent"));
    snprintf(buf, n, "%s", a ? a : "");
    json_decref(p);
    return CHARTER_OK;
}

static bool time_field(json_t *body, const char *key, int64_t *out)
{
    json_t *v = json_object_get(body, key);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    return json_is_string(v) && charter_time_parse(json_string_value(v), out);
}

void api_outcomes(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    json_t *body = srv_body_object(rq, rs);
    if (!body)
        return;
    charter_outcome o;
    memset(&o, 0, sizeof o);
    o.decision_id = json_string_value(json_object_get(body, "decision_id"));
    o.workflow = json_string_value(json_object_get(body, "workflow"));
    o.metric = json_string_value(json_object_get(body, "metric"));
    o.note = json_string_value(json_object_get(body, "note"));
    json_t *value = json_object_get(body, "value");
    charter_error err;
    memset(&err, 0, sizeof err);
    if (!o.metric || !json_is_number(value)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "an outcome needs \"metric\" (a string) and \"value\" (a number), "
                        "and \"decision_id\" or \"workflow\" with \"from\" and \"to\"");
        goto done;
    }
    o.value = json_number_value(value);
    if (o.workflow && (!time_field(body, "from", &o.from_ms) ||
                       !time_field(body, "to", &o.to_ms))) {
        srv_reply_error(rs, 400, "invalid_request",
                        "a workflow outcome needs \"from\" and \"to\" (RFC 3339 times)");
        goto done;
    }
    if (rq->who->role == CHARTER_ROLE_AGENT) {
        /* An agent reports on its own decisions and its own workflows. */
        if (o.decision_id) {
            char agent[256];
            charter_status st = decision_agent(s, o.decision_id, agent, sizeof agent, &err);
            if (st != CHARTER_OK) {
                srv_reply_status(rq->s, rs, st == CHARTER_E_INVALID ? CHARTER_E_REF : st,
                                 &err);
                goto done;
            }
            if (strcmp(agent, rq->who->name)) {
                srv_reply_error(rs, 403, "forbidden",
                                "decision %s was not made by agent '%s'", o.decision_id,
                                rq->who->name);
                goto done;
            }
        } else if (o.workflow) {
            charter *c = srv_charter(s);
            bool granted = charter_agent_granted(c, rq->who->name, o.workflow);
            charter_release(c);
            if (!granted) {
                srv_reply_error(rs, 403, "forbidden",
                                "agent '%s' is not granted workflow '%.128s'",
                                rq->who->name, o.workflow);
                goto done;
            }
        }
    }
    uint64_t seq = 0;
    charter_status st = charter_ledger_outcome(s->ledger, &o, &seq, &err);
    if (st != CHARTER_OK)
        srv_reply_status(rq->s, rs, st, &err);
    else
        srv_reply_json(rs, 201, json_pack("{s:b,s:I}", "recorded", 1, "seq", (json_int_t)seq));
done:
    json_decref(body);
}

void api_brief(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    const char *agent = srv_query(rq, "agent");
    const char *workflow = srv_query(rq, "workflow");
    if (!agent) {
        if (rq->who->role != CHARTER_ROLE_AGENT) {
            srv_reply_error(rs, 400, "invalid_request", "expected ?agent=AGENT_ID");
            return;
        }
        agent = rq->who->name;
    }
    if (rq->who->role == CHARTER_ROLE_AGENT && strcmp(agent, rq->who->name)) {
        srv_reply_error(rs, 403, "agent_mismatch",
                        "this key belongs to agent '%s'; it cannot read the brief of '%.128s'",
                        rq->who->name, agent);
        return;
    }
    charter *c = srv_charter(rq->s);
    char *md = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_brief(c, agent, workflow, &md, &err);
    charter_release(c);
    if (st != CHARTER_OK) {
        srv_reply_status(rq->s, rs, st, &err);
        return;
    }
    rs->content_type = "text/markdown; charset=utf-8";
    srv_reply_text(rs, 200, md, strlen(md));
}

void api_reload(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    charter *before = srv_charter(rq->s);
    char previous[96];
    snprintf(previous, sizeof previous, "%s", charter_version(before));
    charter_release(before);
    const char *version = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_server_reload(rq->s, &version, &err);
    if (st != CHARTER_OK) {
        char msg[1200];
        charter_error_format(&err, msg, sizeof msg);
        srv_reply_error(rs, 422, "charter_invalid",
                        "the charter was not reloaded; the running version %s keeps "
                        "serving: %s", previous, msg);
        return;
    }
    srv_reply_json(rs, 200, json_pack("{s:b,s:s,s:s,s:b}", "reloaded", 1, "version",
                                      version, "previous", previous, "changed",
                                      strcmp(version, previous) != 0));
}

/* 200 while the ledger can be written, else 503 with the reason in a word
 * (the details, which name files, are in the server's log: /healthz needs
 * no key). Also which server this is, which charter it serves (several
 * servers of one ledger each say theirs), the ledger's backend, and
 * whether this server holds the lease (applies deadlines now). */
void api_healthz(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    charter *c = srv_charter(s);
    charter_ledger_health h;
    charter_ledger_health_get(s->ledger, &h);
    json_t *ledger = json_pack("{s:s,s:s,s:I}", "backend",
                               ledger_path_is_pg(s->ledger_path) ? "postgresql" : "sqlite",
                               "status", h.ok ? "ok" : "failing", "last_seq",
                               (json_int_t)charter_ledger_last_seq(s->ledger));
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "status", h.ok ? "ok" : "failing",
                            "server", s->server_id, "charter", charter_name(c),
                            "charter_version", charter_version(c), "ledger", ledger,
                            "lease", atomic_load(&s->lease_held));
    charter_release(c);
    if (!out) {
        srv_reply_error(rs, 500, "internal", "out of memory");
        return;
    }
    if (!h.ok) {
        char since[40];
        charter_time_format(h.since_ms, since);
        json_object_set_new(out, "reason", json_string(h.reason));
        json_object_set_new(out, "message",
                            json_string("the ledger cannot be written: decisions are denied "
                                        "(ledger_unavailable) until it can; the server's log "
                                        "says why"));
        json_object_set_new(out, "since", json_string(since));
        json_object_set_new(ledger, "reason", json_string(h.reason));
        json_object_set_new(ledger, "since", json_string(since));
    }
    char version[96], why[256];
    if (srv_follow_failed(s, version, sizeof version, why, sizeof why))
        json_object_set_new(out, "charter_not_followed",
                            json_pack("{s:s,s:s}", "version", version, "message",
                                      "another server of the ledger serves this version; "
                                      "it cannot be loaded here (the server's log says "
                                      "why), and this server keeps serving its own"));
    srv_reply_json(rs, h.ok ? 200 : 503, out);
}
