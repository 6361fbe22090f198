/* api_search.c - reading the derived search index (src/ledger/search.h):
 * GET /v1/decisions (search, keyset paging, export as JSON lines or CSV),
 * GET /v1/charters, GET /v1/charters/{version}, GET /v1/rules/history, and
 * what GET /v1/decisions/{id} takes from the index (outcomes, history).
 *
 * Every handler runs on a worker and opens its own connection to the
 * index, so a search never waits for the indexer nor holds up a decision.
 * Answers say how far the index has got (`indexed_through`) and how far
 * the ledger is (`ledger_seq`, the last durable entry): a decision
 * recorded a moment ago may not be found yet, and every decision answered
 * before the query is found once indexed_through reaches ledger_seq.
 */
#include "base/banned.h"

#include "server/server.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/strbuf.h"
#include "ledger/search.h"

/* An index that cannot be read: the details (paths, SQLite) go to the log. */
static void reply_unavailable(srv *s, srv_response *rs, const charter_error *err)
{
    srv_log(s, "search index: %s", err->message);
    srv_reply_error(rs, 503, "search_unavailable",
                    "the search index cannot be read now (it may still be being built); "
                    "try again shortly");
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- Query parameters -------------------------------------------------------- */

/* A parameter's value, or NULL when absent or empty. */
static const char *param(const srv_request *rq, const char *name)
{
    const char *v = srv_query(rq, name);
    return v && *v ? v : NULL;
}

static bool param_uint(const srv_request *rq, srv_response *rs, const char *name,
                       uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *v = param(rq, name);
    if (!v)
        return true;
    uint64_t n = 0;
    if (!srv_parse_uint(v, hi, &n) || n < lo) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected %s=N, a whole number from %" PRIu64 " to %" PRIu64
                        "; found '%.40s'",
                        name, lo, hi, v);
        return false;
    }
    *out = n;
    return true;
}

/* The index of v in names[], or -1 (and a 400) when it is not one. */
static int param_enum(const srv_request *rq, srv_response *rs, const char *name,
                      const char *const *names, size_t n, const char *expected, int *out)
{
    const char *v = param(rq, name);
    if (!v)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = (int)i;
            return 0;
        }
    srv_reply_error(rs, 400, "invalid_request", "expected %s=%s; found '%.40s'", name,
                    expected, v);
    return -1;
}

/* ---- GET /v1/decisions -------------------------------------------------------- */

static const char *const effect_names[] = {"allow", "escalate", "deny"};

static json_t *row_json(const ledger_search_row *r)
{
    char t[40], id[32];
    charter_time_format(r->time_ms, t);
    snprintf(id, sizeof id, "d-%" PRIu64, r->seq);
    json_t *rules = json_loads(r->rules_json, 0, NULL);
    if (!json_is_array(rules)) {
        json_decref(rules);
        rules = json_array();
    }
    const char *status = ledger_search_status_name(r->status);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s?,s:s?,s:b}",
                     "decision_id", id, "time", t, "agent", r->agent, "workflow",
                     r->workflow, "action", r->action, "decision",
                     effect_names[r->final % 3], "answered", effect_names[r->answered % 3],
                     "reason", r->reason, "rules", rules, "run_id", r->run_id, "status",
                     status, "charter_version",
                     *r->charter_version ? r->charter_version : NULL, "shadow", r->shadow);
}

typedef enum out_format { OUT_JSON, OUT_JSONL, OUT_CSV } out_format;

typedef struct search_out {
    out_format format;
    size_t want;          /* rows to show; one more is fetched to know of a next */
    size_t rows;
    uint64_t last_seq;    /* the last row shown */
    bool more;
    json_t *list;         /* OUT_JSON */
    strbuf text;          /* OUT_JSONL, OUT_CSV */
    bool failed;
} search_out;

/* One CSV cell: quoted when it holds a separator, a quote or a line break;
 * a leading = + - @ (or tab, carriage return) gets a ' so that a
 * spreadsheet opening the file shows text, never runs a formula. */
static void csv_cell(strbuf *b, const char *s, bool last)
{
    bool formula = strchr("=+-@\t\r", *s) && *s;
    bool quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        strbuf_add(b, "\"", 1);
    if (formula)
        strbuf_add(b, "'", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            strbuf_add(b, "\"\"", 2);
        else
            strbuf_add(b, p, 1);
    }
    if (quote)
        strbuf_add(b, "\"", 1);
    strbuf_add(b, last ? "\r\n" : ",", last ? 2 : 1);
}

static const char csv_header[] = "decision_id,time,agent,workflow,action,decision,answered,"
                                 "reason,rules,run_id,status,charter_version,shadow\r\n";

static void csv_row(strbuf *b, json_t *j)
{
    static const char *const cols[] = {"decision_id", "time", "agent", "workflow",
                                       "action", "decision", "answered", "reason"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        csv_cell(b, or_empty(json_string_value(json_object_get(j, cols[i]))), false);
    strbuf rules = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "rules"), i, v)
    {
        if (i)
            strbuf_add(&rules, ";", 1);
        strbuf_puts(&rules, or_empty(json_string_value(v)));
    }
    csv_cell(b, rules.p ? rules.p : "", false);
    strbuf_release(&rules);
    csv_cell(b, or_empty(json_string_value(json_object_get(j, "run_id"))), false);
    csv_cell(b, or_empty(json_string_value(json_object_get(j, "status"))), false);
    csv_cell(b, or_empty(json_string_value(json_object_get(j, "charter_version"))), false);
    csv_cell(b, json_is_true(json_object_get(j, "shadow")) ? "true" : "false", true);
}

static int take_row(const ledger_search_row *r, void *user)
{
    search_out *o = user;
    if (o->rows == o->want) {
        o->more = true;
        return 1;
    }
    json_t *j = row_json(r);
    if (!j) {
        o->failed = true;
        return 1;
    }
    o->rows++;
    o->last_seq = r->seq;
    if (o->format == OUT_JSON) {
        json_array_append_new(o->list, j);
        return 0;
    }
    if (o->format == OUT_JSONL) {
        char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (line) {
            strbuf_puts(&o->text, line);
            strbuf_add(&o->text, "\n", 1);
            free(line);
        } else {
            o->failed = true;
        }
    } else {
        csv_row(&o->text, j);
    }
    json_decref(j);
    return o->failed || o->text.failed;
}

/* Reads the filter from the query; false after replying 400. */
static bool read_filter(const srv_request *rq, srv_response *rs, ledger_search_filter *f,
                        out_format *format)
{
    ledger_search_filter_init(f);
    f->agent = param(rq, "agent");
    f->workflow = param(rq, "workflow");
    f->action = param(rq, "action");
    f->reason = param(rq, "reason");
    f->rule = param(rq, "rule");
    f->run_id = param(rq, "run_id");
    if (!srv_query_time(rq, rs, "since", &f->since_ms) ||
        !srv_query_time(rq, rs, "until", &f->until_ms))
        return false;
    static const char *const statuses[] = {"open", "approved", "denied", "timed_out"};
    static const char *const formats[] = {"json", "jsonl", "csv"};
    int fmt = 0;
    if (param_enum(rq, rs, "decision", effect_names, 3, "allow, escalate or deny",
                   &f->decision) ||
        param_enum(rq, rs, "status", statuses, 4, "open, approved, denied or timed_out",
                   &f->status) ||
        param_enum(rq, rs, "format", formats, 3, "json, jsonl or csv", &fmt))
        return false;
    *format = (out_format)fmt;
    uint64_t limit = 50;
    if (!param_uint(rq, rs, "limit", 1, CHARTER_MAX_SEARCH_LIMIT, &limit))
        return false;
    f->limit = (size_t)limit;
    const char *before = param(rq, "before");
    if (before && (!charter_decision_id_parse(before, &f->before) || !f->before)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected before=d-N, a decision id (the \"next\" of the page "
                        "before); found '%.40s'",
                        before);
        return false;
    }
    return true;
}

void api_decisions_search(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    ledger_search_filter f;
    search_out o = {0};
    if (!read_filter(rq, rs, &f, &o.format))
        return;
    /* An export is the whole filtered set, up to its cap; a page is `limit`. */
    o.want = o.format == OUT_JSON ? f.limit : CHARTER_MAX_EXPORT_ROWS;
    f.limit = o.want + 1;
    if (o.format == OUT_JSON)
        o.list = json_array();
    else if (o.format == OUT_CSV)
        strbuf_puts(&o.text, csv_header);
    ledger_search_position pos = {0};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = ledger_search_decisions(s->ledger_path, &f, take_row, &o, &pos, &err);
    if (st == CHARTER_OK && (o.failed || o.text.failed))
        st = CHARTER_E_NOMEM;
    if (st != CHARTER_OK) {
        json_decref(o.list);
        strbuf_release(&o.text);
        if (st == CHARTER_E_IO)
            reply_unavailable(s, rs, &err);
        else
            srv_reply_error(rs, 500, "internal", "out of memory");
        return;
    }
    char next[32];
    snprintf(next, sizeof next, "d-%" PRIu64, o.last_seq);
    uint64_t ledger_seq = srv_indexer_ledger_seq(s->indexer);
    uint64_t durable = charter_ledger_last_seq(s->ledger);
    if (ledger_seq < durable)
        ledger_seq = durable;
    if (ledger_seq < pos.indexed_through)
        ledger_seq = pos.indexed_through;
    if (o.format == OUT_JSON) {
        json_t *out = json_pack("{s:o,s:I,s:I,s:I}", "decisions", o.list, "count",
                                (json_int_t)o.rows, "indexed_through",
                                (json_int_t)pos.indexed_through, "ledger_seq",
                                (json_int_t)ledger_seq);
        if (out && o.more) /* only when there is more */
            json_object_set_new(out, "next", json_string(next));
        srv_reply_json(rs, 200, out);
        return;
    }
    bool csv = o.format == OUT_CSV;
    srv_reply_text(rs, 200, o.text.p ? o.text.p : strdup(""), o.text.n);
    rs->content_type = csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
    srv_add_header(rs, "Content-Disposition",
                   csv ? "attachment; filename=\"decisions.csv\""
                       : "attachment; filename=\"decisions.jsonl\"");
    /* More than the cap: the rest starts at before=<this>. */
    if (o.more)
        srv_add_header(rs, "Charter-Export-Next", next);
}

/* ---- GET /v1/charters, /v1/charters/{version} ----------------------------------- */

typedef struct charters_out {
    json_t *list;
    const char *current;
} charters_out;

static int take_charter(const ledger_search_charter *c, void *user)
{
    charters_out *o = user;
    char t[40];
    charter_time_format(c->time_ms, t);
    json_array_append_new(o->list,
                          json_pack("{s:s,s:s?,s:s,s:I,s:b}", "version", c->version, "name",
                                    *c->name ? c->name : NULL, "first_seen", t, "seq",
                                    (json_int_t)c->seq, "current",
                                    !strcmp(c->version, o->current)));
    return 0;
}

void api_charters_list(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    charter *c = srv_charter(s);
    charters_out o = {.list = json_array(), .current = charter_version(c)};
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = ledger_search_charters(s->ledger_path, take_charter, &o, &err);
    charter_release(c);
    if (st != CHARTER_OK) {
        json_decref(o.list);
        reply_unavailable(s, rs, &err);
        return;
    }
    srv_reply_json(rs, 200, json_pack("{s:o}", "charters", o.list));
}

void api_charter_version(const srv_request *rq, const char *tail, srv_response *rs)
{
    srv *s = rq->s;
    if (strncmp(tail, "sha256:", 7) || strlen(tail) > 100) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected /v1/charters/sha256:<hex>, a charter version; "
                        "found '%.100s'",
                        tail);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status st = ledger_search_charter_text(s->ledger_path, tail, &text, &len, &err);
    if (st == CHARTER_E_REF) {
        srv_reply_error(rs, 404, "not_found",
                        "no charter version %.100s is recorded in the ledger (or it is not "
                        "indexed yet)",
                        tail);
        return;
    }
    if (st != CHARTER_OK) {
        if (st == CHARTER_E_IO)
            reply_unavailable(s, rs, &err);
        else
            srv_reply_status(s, rs, st, &err);
        return;
    }
    json_t *canon = json_loadb(text, len, 0, NULL);
    free(text);
    if (!canon) {
        srv_reply_error(rs, 500, "internal",
                        "the ledger's entry for charter %.100s does not hold JSON", tail);
        return;
    }
    srv_reply_json(rs, 200, json_pack("{s:s,s:o}", "version", tail, "charter", canon));
}

/* ---- GET /v1/rules/history ---------------------------------------------------------- */

void api_rule_history(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    const char *rule = param(rq, "rule");
    if (!rule || strlen(rule) > CHARTER_MAX_ID_BYTES) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected rule=ID, the id of a rule, boundary or stop rule (at most "
                        "%u bytes)",
                        CHARTER_MAX_ID_BYTES);
        return;
    }
    uint64_t days = 30;
    if (!param_uint(rq, rs, "days", 1, 3660, &days))
        return;
    int64_t since = charter_now_ms() - (int64_t)days * 86400000LL;
    ledger_search_rule_counts c;
    charter_error err;
    memset(&err, 0, sizeof err);
    if (ledger_search_rule_history(s->ledger_path, rule, since, &c, &err) != CHARTER_OK) {
        reply_unavailable(s, rs, &err);
        return;
    }
    srv_reply_json(rs, 200,
                   json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "rule", rule, "days",
                             (json_int_t)days, "escalated", (json_int_t)c.escalated,
                             "approved", (json_int_t)c.approved, "denied",
                             (json_int_t)c.denied, "timed_out", (json_int_t)c.timed_out,
                             "open", (json_int_t)c.open));
}

/* ---- What GET /v1/decisions/{id} adds -------------------------------------------------- */

typedef struct events_out {
    json_t *history, *outcomes;
} events_out;

static int take_event(const ledger_search_event *e, void *user)
{
    events_out *o = user;
    char t[40];
    charter_time_format(e->time_ms, t);
    if (!strcmp(e->event, "outcome"))
        json_array_append_new(o->outcomes,
                              json_pack("{s:s,s:f,s:s?,s:s}", "metric", or_empty(e->metric),
                                        "value", e->value, "note", e->note, "time", t));
    else
        json_array_append_new(o->history,
                              json_pack("{s:s,s:s,s:s?,s:s?,s:s?}", "event", e->event, "time",
                                        t, "queue", e->queue, "by", e->by, "note", e->note));
    return 0;
}

void api_decision_index_json(srv *s, uint64_t seq, bool escalated, json_t *out)
{
    events_out o = {.history = json_array(), .outcomes = json_array()};
    charter_error err;
    memset(&err, 0, sizeof err);
    if (ledger_search_decision_events(s->ledger_path, seq, take_event, &o, &err) !=
        CHARTER_OK)
        srv_log(s, "search index: %s (a decision's outcomes and history are left empty)",
                err.message);
    json_object_set_new(out, "outcomes", o.outcomes);
    if (escalated)
        json_object_set_new(out, "history", o.history);
    else
        json_decref(o.history);
}
