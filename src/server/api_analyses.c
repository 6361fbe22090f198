/* api_analyses.c - the analyses over HTTP, the same JSON as the commands
 * (include/charter_analyses.h): GET /v1/report, /v1/map, /v1/consistency,
 * for dashboards (admin and auditor keys). `?format=md|text` (and `svg` for the
 * map and the report)
 * renders as `charter report --format` does. Each reads the ledger file
 * through its own read-only connection, so recording goes on meanwhile. */
#include "base/banned.h"

#include "server/server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "charter_analyses.h"

static const char *content_type(charter_format f)
{
    switch (f) {
    case CHARTER_FORMAT_MD:
        return "text/markdown; charset=utf-8";
    case CHARTER_FORMAT_TEXT:
        return "text/plain; charset=utf-8";
    case CHARTER_FORMAT_SVG:
        return "image/svg+xml";
    default:
        return "application/json";
    }
}

/* Replies with `json` (taken) as it is, or rendered in ?format=. */
static void reply(const srv_request *rq, srv_response *rs, charter_status st,
                  char *json, const charter_error *err)
{
    if (st != CHARTER_OK) {
        free(json);
        srv_reply_status(rq->s, rs, st == CHARTER_E_INVALID ? CHARTER_E_REQUEST : st,
                         err);
        return;
    }
    const char *f = srv_query(rq, "format");
    charter_format fmt = CHARTER_FORMAT_JSON;
    if (f && !charter_format_parse(f, &fmt)) {
        free(json);
        srv_reply_error(rs, 400, "invalid_request",
                        "expected format=json, md, text or svg; found '%.40s'", f);
        return;
    }
    if (fmt == CHARTER_FORMAT_JSON) {
        srv_reply_text(rs, 200, json, strlen(json));
        return;
    }
    char *out = NULL;
    charter_error rerr;
    memset(&rerr, 0, sizeof rerr);
    st = charter_analysis_render(json, strlen(json), fmt, &out, &rerr);
    free(json);
    if (st != CHARTER_OK) {
        srv_reply_error(rs, 400, "invalid_request", "%s", rerr.message);
        return;
    }
    rs->content_type = content_type(fmt);
    srv_reply_text(rs, 200, out, strlen(out));
}

void api_report(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    charter_report_options o = {.since_ms = INT64_MIN, .until_ms = 0,
                                .by = CHARTER_PERIOD_DAY};
    const char *by = srv_query(rq, "by");
    if (by && strcmp(by, "day") && strcmp(by, "week")) {
        srv_reply_error(rs, 400, "invalid_request", "expected by=day or week");
        return;
    }
    if (by && !strcmp(by, "week"))
        o.by = CHARTER_PERIOD_WEEK;
    if (!srv_query_time(rq, rs, "since", &o.since_ms) ||
        !srv_query_time(rq, rs, "until", &o.until_ms))
        return;
    charter *c = srv_charter(rq->s);
    char *json = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_report(rq->s->opt.ledger_path, c, &o, &json, &err);
    charter_release(c);
    reply(rq, rs, st, json, &err);
}

void api_map(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    charter *c = srv_charter(rq->s);
    char *json = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_readiness_map(c, rq->s->opt.ledger_path, &json, &err);
    charter_release(c);
    reply(rq, rs, st, json, &err);
}

void api_consistency(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    charter *c = srv_charter(rq->s);
    char *json = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = charter_consistency(c, &json, &err);
    charter_release(c);
    reply(rq, rs, st, json, &err);
}
