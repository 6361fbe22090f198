/* request.c - parsing decision requests (request.h, charter_request_parse).
 *
 * Everything a decision reads is checked and converted here, once: a request
 * that parses is one the engine can decide without further validation.
 */
#include "base/banned.h"

#include "engine/request.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/fail.h"
#include "base/limits.h"
#include "engine/index.h"
#include "base/civil.h"

static const char *value_kind(const cel_value *v)
{
    switch (v->kind) {
    case CEL_MAP: return "an object";
    case CEL_LIST: return "an array";
    case CEL_STRING: return "a string";
    case CEL_INT:
    case CEL_UINT: return "an integer";
    case CEL_DOUBLE: return "a number";
    case CEL_BOOL: return "a boolean";
    case CEL_NULL: return "null";
    default: return "an unknown JSON value";
    }
}

static bool is_number(const cel_value *v)
{
    return v->kind == CEL_INT || v->kind == CEL_UINT || v->kind == CEL_DOUBLE;
}

static double number_value(const cel_value *v)
{
    return v->kind == CEL_INT    ? (double)v->v.i
           : v->kind == CEL_UINT ? (double)v->v.u
                                 : v->v.d;
}

/* Compares a map key (a string) with a C string. */
static bool key_is(const cel_value *k, const char *name)
{
    size_t n = strlen(name);
    return k->v.s.n == n && memcmp(k->v.s.p, name, n) == 0;
}

/* ---- Time (RFC 3339) ------------------------------------------------------ */

static bool digits(const char *s, size_t n, size_t at, size_t count,
                   unsigned *out)
{
    if (at + count > n)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < count; i++) {
        char ch = s[at + i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (unsigned)(ch - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool ch_time_parse(const char *s, size_t n, int64_t *out_ms)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, sec;
    if (!digits(s, n, 0, 4, &y) || n < 19 || s[4] != '-' ||
        !digits(s, n, 5, 2, &mo) || s[7] != '-' || !digits(s, n, 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s, n, 11, 2, &h) ||
        s[13] != ':' || !digits(s, n, 14, 2, &mi) || s[16] != ':' ||
        !digits(s, n, 17, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 ||
        sec > 59)
        return false;
    size_t i = 19;
    unsigned ms = 0;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        unsigned scale = 100;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            ms += (unsigned)(s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return false;
    }
    int64_t offset_min = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (!digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
            !digits(s, n, i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = (int64_t)oh * 60 + om;
        if (s[i] == '-')
            offset_min = -offset_min;
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    int64_t days = base_days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec -
                   offset_min * 60;
    *out_ms = secs * 1000 + ms;
    return true;
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

size_t ch_time_format(int64_t ms, char *buf)
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    base_civil_from_days(days, &y, &m, &d);
    unsigned hh = (unsigned)(sod / 3600), mi = (unsigned)(sod / 60 % 60),
             ss = (unsigned)(sod % 60);
    if (y < 0 || y > 9999) {
        int n = snprintf(buf, 32, "%lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                         (long long)y, m, d, hh, mi, ss, (unsigned)rem);
        return n < 0 ? 0 : (size_t)n;
    }
    char *p = buf;
    p = put2(p, (unsigned)(y / 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, hh);
    *p++ = ':';
    p = put2(p, mi);
    *p++ = ':';
    p = put2(p, ss);
    if (rem) {
        *p++ = '.';
        *p++ = (char)('0' + rem / 100);
        p = put2(p, (unsigned)(rem % 100));
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

/* ---- Fields -------------------------------------------------------------- */

static const char known_keys[] =
    "agent, workflow, action, input, subject, context, rationale, "
    "confidence, run_id, counters, time";

/* Strings are already NUL-terminated in the request's arena. */
static charter_status get_string(const cel_value *v, const char *key,
                                 ch_str *out, charter_error *err)
{
    if (v->kind != CEL_STRING)
        return base_fail(err, CHARTER_E_REQUEST,
                    "request field '%s' must be a string, found %s", key,
                    value_kind(v));
    if (v->v.s.n > CHARTER_MAX_STRING_BYTES)
        return base_fail(err, CHARTER_E_LIMIT,
                    "request field '%s' is %zu bytes long; the limit is %u",
                    key, v->v.s.n, CHARTER_MAX_STRING_BYTES);
    out->p = v->v.s.p;
    out->n = v->v.s.n;
    return CHARTER_OK;
}

static charter_status get_map(const cel_value *v, const char *key,
                              cel_value *out, charter_error *err)
{
    if (v->kind != CEL_MAP)
        return base_fail(err, CHARTER_E_REQUEST,
                    "request field '%s' must be an object, found %s", key,
                    value_kind(v));
    *out = *v;
    return CHARTER_OK;
}

static charter_status get_counter(const cel_value *obj, const char *scope,
                                  int64_t *actions, double *spend,
                                  charter_error *err)
{
    if (obj->kind != CEL_MAP)
        return base_fail(err, CHARTER_E_REQUEST,
                    "request field 'counters.%s' must be an object, found %s",
                    scope, value_kind(obj));
    const cel_map *m = obj->v.map;
    for (size_t i = 0; i < m->n; i++) {
        const cel_value *k = &m->keys[i], *v = &m->values[i];
        if (key_is(k, "actions")) {
            if (v->kind != CEL_INT || v->v.i < 0)
                return base_fail(err, CHARTER_E_REQUEST,
                            "request field 'counters.%s.actions' must be a "
                            "non-negative integer, found %s",
                            scope, v->kind == CEL_INT ? "a negative integer"
                                                      : value_kind(v));
            *actions = v->v.i;
        } else if (key_is(k, "spend")) {
            if (!is_number(v))
                return base_fail(err, CHARTER_E_REQUEST,
                            "request field 'counters.%s.spend' must be a "
                            "number, found %s", scope, value_kind(v));
            *spend = number_value(v);
        } else {
            return base_fail(err, CHARTER_E_REQUEST,
                        "unknown key '%.200s' in 'counters.%s'; expected actions "
                        "or spend", k->v.s.p, scope);
        }
    }
    return CHARTER_OK;
}

static charter_status get_counters(const cel_value *v, charter_request *r,
                                   charter_error *err)
{
    if (v->kind != CEL_MAP)
        return base_fail(err, CHARTER_E_REQUEST,
                    "request field 'counters' must be an object, found %s",
                    value_kind(v));
    const cel_map *m = v->v.map;
    for (size_t i = 0; i < m->n; i++) {
        const cel_value *k = &m->keys[i], *sub = &m->values[i];
        charter_status s;
        if (key_is(k, "run"))
            s = get_counter(sub, "run", &r->run_actions, &r->run_spend, err);
        else if (key_is(k, "day"))
            s = get_counter(sub, "day", &r->day_actions, &r->day_spend, err);
        else
            s = base_fail(err, CHARTER_E_REQUEST,
                     "unknown key '%.200s' in 'counters'; expected run or day",
                     k->v.s.p);
        if (s != CHARTER_OK)
            return s;
    }
    return CHARTER_OK;
}

static bool counter_object(arena *a, int64_t actions, double spend,
                           cel_value *out)
{
    cel_value keys[2] = {cel_string("actions", 7), cel_string("spend", 5)};
    cel_value vals[2] = {cel_int(actions), cel_double(spend)};
    const cel_map *m = cel_map_build(a, 2, keys, vals);
    if (!m)
        return false;
    out->kind = CEL_MAP;
    out->v.map = m;
    return true;
}

static charter_status counters_build(charter_request *r)
{
    arena *a = &r->mem;
    cel_value keys[2] = {cel_string("run", 3), cel_string("day", 3)};
    cel_value vals[2];
    if (!counter_object(a, r->run_actions, r->run_spend, &vals[0]) ||
        !counter_object(a, r->day_actions, r->day_spend, &vals[1]))
        return CHARTER_E_NOMEM;
    const cel_map *counters = cel_map_build(a, 2, keys, vals);
    if (!counters)
        return CHARTER_E_NOMEM;
    r->counters.kind = CEL_MAP;
    r->counters.v.map = counters;
    return CHARTER_OK;
}

charter_status ch_request_set_counters(charter_request *r, int64_t run_actions,
                                       double run_spend, int64_t day_actions,
                                       double day_spend)
{
    r->run_actions = run_actions;
    r->run_spend = run_spend;
    r->day_actions = day_actions;
    r->day_spend = day_spend;
    return counters_build(r);
}

/* The CEL values every condition reads from the request, built once. */
static charter_status request_values_build(charter_request *r,
                                           charter_error *err)
{
    arena *a = &r->mem;
    const cel_map *empty = cel_map_build(a, 0, NULL, NULL);
    if (!empty || counters_build(r) != CHARTER_OK)
        return base_fail(err, CHARTER_E_NOMEM, "out of memory reading the request");
    cel_value *maps[3] = {&r->input, &r->subject, &r->context};
    for (size_t i = 0; i < 3; i++) {
        if (maps[i]->kind != CEL_MAP) {
            maps[i]->kind = CEL_MAP;
            maps[i]->v.map = empty;
        }
    }
    if (!r->rationale.p)
        r->rationale = (ch_str){"", 0};
    if (!r->run_id.p)
        r->run_id = (ch_str){"", 0};
    r->agent_hash = ch_hash(r->agent.p, r->agent.n);
    r->workflow_hash = ch_hash(r->workflow.p, r->workflow.n);
    r->action_hash = ch_hash(r->action.p, r->action.n);
    return CHARTER_OK;
}

static charter_status request_field(charter_request *r, const cel_value *key,
                                    const cel_value *v, charter_error *err)
{
    const char *k = key->v.s.p;
    bool required = key_is(key, "agent") || key_is(key, "workflow") ||
                    key_is(key, "action");
    if (v->kind == CEL_NULL && !required)
        return CHARTER_OK; /* an optional field sent as null is not sent */
    if (key_is(key, "agent"))
        return get_string(v, k, &r->agent, err);
    if (key_is(key, "workflow"))
        return get_string(v, k, &r->workflow, err);
    if (key_is(key, "action"))
        return get_string(v, k, &r->action, err);
    if (key_is(key, "rationale"))
        return get_string(v, k, &r->rationale, err);
    if (key_is(key, "run_id"))
        return get_string(v, k, &r->run_id, err);
    if (key_is(key, "input"))
        return get_map(v, k, &r->input, err);
    if (key_is(key, "subject"))
        return get_map(v, k, &r->subject, err);
    if (key_is(key, "context"))
        return get_map(v, k, &r->context, err);
    if (key_is(key, "counters"))
        return get_counters(v, r, err);
    if (key_is(key, "confidence")) {
        if (!is_number(v))
            return base_fail(err, CHARTER_E_REQUEST,
                        "request field 'confidence' must be a number from 0 "
                        "to 1, found %s", value_kind(v));
        double c = number_value(v);
        if (!(c >= 0.0 && c <= 1.0))
            return base_fail(err, CHARTER_E_REQUEST,
                        "request field 'confidence' must be from 0 to 1, "
                        "found %g", c);
        r->confidence = c;
        return CHARTER_OK;
    }
    if (key_is(key, "time")) {
        if (v->kind != CEL_STRING)
            return base_fail(err, CHARTER_E_REQUEST,
                        "request field 'time' must be an RFC 3339 string such "
                        "as \"2026-11-24T10:00:00Z\", found %s", value_kind(v));
        if (!ch_time_parse(v->v.s.p, v->v.s.n, &r->time_ms))
            return base_fail(err, CHARTER_E_REQUEST,
                        "request field 'time' must be an RFC 3339 time such "
                        "as \"2026-11-24T10:00:00Z\", found \"%.100s\"", v->v.s.p);
        r->has_time = true;
        return CHARTER_OK;
    }
    return base_fail(err, CHARTER_E_REQUEST,
                "unknown key '%.200s' in the request; expected one of %s", k,
                known_keys);
}

static charter_request *request_new(void)
{
    charter_request *r = calloc(1, sizeof *r);
    if (r)
        arena_init(&r->mem, 4096);
    return r;
}

/* Fills r from the request's parsed top-level value (in r's arena); frees r
 * on failure. */
static charter_status request_from_value(charter_request *r, const cel_value *top,
                                         charter_request **out, charter_error *err)
{
    charter_status s = CHARTER_OK;
    if (top->kind != CEL_MAP) {
        s = base_fail(err, CHARTER_E_REQUEST, "a request must be a JSON object, found %s",
                 value_kind(top));
    } else {
        const cel_map *m = top->v.map;
        for (size_t i = 0; i < m->n && s == CHARTER_OK; i++)
            s = request_field(r, &m->keys[i], &m->values[i], err);
    }
    if (s == CHARTER_OK) {
        const char *missing = !r->agent.p      ? "agent"
                              : !r->workflow.p ? "workflow"
                              : !r->action.p   ? "action"
                                               : NULL;
        if (missing)
            s = base_fail(err, CHARTER_E_REQUEST,
                     "the request has no '%s'; agent, workflow and action are "
                     "required strings", missing);
    }
    if (s == CHARTER_OK)
        s = request_values_build(r, err);
    if (s != CHARTER_OK) {
        charter_request_free(r);
        return s;
    }
    *out = r;
    return CHARTER_OK;
}

charter_status ch_request_from_json(const json_t *j, charter_request **out,
                                    charter_error *err)
{
    *out = NULL;
    charter_request *r = request_new();
    if (!r)
        return base_fail(err, CHARTER_E_NOMEM, "out of memory reading the request");
    cel_value top;
    char msg[256] = "";
    if (!cel_value_from_json(&r->mem, j, &top, msg, sizeof msg)) {
        charter_request_free(r);
        return base_fail(err, strstr(msg, "deeper") ? CHARTER_E_LIMIT : CHARTER_E_REQUEST,
                    "the request %s", msg[0] ? msg : "cannot be converted");
    }
    return request_from_value(r, &top, out, err);
}

charter_status charter_request_parse(const char *text, size_t n,
                                     charter_request **out, charter_error *err)
{
    if (!out)
        return base_fail(err, CHARTER_E_INVALID, "charter_request_parse: out is NULL");
    *out = NULL;
    if (!text)
        return base_fail(err, CHARTER_E_INVALID, "charter_request_parse: json is NULL");
    if (n > CHARTER_MAX_REQUEST_BYTES)
        return base_fail(err, CHARTER_E_LIMIT,
                    "the request is %zu bytes; the limit is %u bytes", n,
                    CHARTER_MAX_REQUEST_BYTES);
    charter_request *r = request_new();
    if (!r)
        return base_fail(err, CHARTER_E_NOMEM, "out of memory reading the request");
    cel_value top;
    cel_json_error jerr;
    if (!cel_json_parse(&r->mem, text, n, CHARTER_MAX_JSON_DEPTH, &top, &jerr)) {
        charter_request_free(r);
        if (jerr.limit)
            return base_fail(err, CHARTER_E_LIMIT, "the request: %s", jerr.msg);
        charter_status s = base_fail(err, CHARTER_E_JSON,
                                "malformed JSON in the request: %s at line %u, "
                                "column %u", jerr.msg, jerr.line, jerr.column);
        if (err) {
            err->line = jerr.line;
            err->column = jerr.column;
        }
        return s;
    }
    return request_from_value(r, &top, out, err);
}

void charter_request_free(charter_request *r)
{
    if (!r)
        return;
    arena_release(&r->mem);
    free(r);
}

const char *charter_request_agent(const charter_request *r)
{
    return r && r->agent.p ? r->agent.p : "";
}

bool charter_request_has_time(const charter_request *r)
{
    return r && r->has_time;
}
