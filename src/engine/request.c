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

#include "base/limits.h"
#include "engine/index.h"

static charter_status fail(charter_error *err, charter_status code,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static charter_status fail(charter_error *err, charter_status code,
                           const char *fmt, ...)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown JSON value";
}

/* ---- Time (RFC 3339) ------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * well-known civil-date algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

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
    int64_t days = days_from_civil(y, mo, d);
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
    civil_from_days(days, &y, &m, &d);
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

/* ---- Depth ------------------------------------------------------------- */

/* Nesting depth of JSON text, counted without parsing it, so a deeply nested
 * body is refused before any parser recurses into it. Stops counting past
 * the limit. */
static size_t text_depth(const char *s, size_t n)
{
    size_t depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max) {
                max = depth;
                if (max > CHARTER_MAX_JSON_DEPTH)
                    return max;
            }
        } else if ((ch == '}' || ch == ']') && depth) {
            depth--;
        }
    }
    return max;
}

/* Depth of a parsed value; recursion is bounded by the limit. */
static size_t json_depth(const json_t *j, size_t level)
{
    if (level > CHARTER_MAX_JSON_DEPTH)
        return level;
    size_t max = level;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            size_t d = json_depth(v, level + 1);
            if (d > max)
                max = d;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            size_t d = json_depth(v, level + 1);
            if (d > max)
                max = d;
        }
    } else {
        return level ? level - 1 : 0;
    }
    return max;
}

/* ---- Fields -------------------------------------------------------------- */

static const char known_keys[] =
    "agent, workflow, action, input, subject, context, rationale, "
    "confidence, run_id, counters, time";

static charter_status get_string(arena *a, const json_t *v, const char *key,
                                 ch_str *out, charter_error *err)
{
    if (!json_is_string(v))
        return fail(err, CHARTER_E_REQUEST,
                    "request field '%s' must be a string, found %s", key,
                    json_kind(v));
    size_t n = json_string_length(v);
    if (n > CHARTER_MAX_STRING_BYTES)
        return fail(err, CHARTER_E_LIMIT,
                    "request field '%s' is %zu bytes long; the limit is %u",
                    key, n, CHARTER_MAX_STRING_BYTES);
    char *p = arena_strndup(a, json_string_value(v), n);
    if (!p)
        return fail(err, CHARTER_E_NOMEM, "out of memory reading the request");
    out->p = p;
    out->n = n;
    return CHARTER_OK;
}

static charter_status get_map(arena *a, const json_t *v, const char *key,
                              cel_value *out, charter_error *err)
{
    if (!json_is_object(v))
        return fail(err, CHARTER_E_REQUEST,
                    "request field '%s' must be an object, found %s", key,
                    json_kind(v));
    char msg[256] = "";
    if (!cel_value_from_json(a, v, out, msg, sizeof msg))
        return fail(err, CHARTER_E_LIMIT, "request field '%s': %s", key,
                    msg[0] ? msg : "cannot convert it");
    return CHARTER_OK;
}

static charter_status get_counter(const json_t *obj, const char *scope,
                                  int64_t *actions, double *spend,
                                  charter_error *err)
{
    if (!json_is_object(obj))
        return fail(err, CHARTER_E_REQUEST,
                    "request field 'counters.%s' must be an object, found %s",
                    scope, json_kind(obj));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!strcmp(k, "actions")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return fail(err, CHARTER_E_REQUEST,
                            "request field 'counters.%s.actions' must be a "
                            "non-negative integer, found %s",
                            scope, json_is_integer(v) ? "a negative integer"
                                                      : json_kind(v));
            *actions = json_integer_value(v);
        } else if (!strcmp(k, "spend")) {
            if (!json_is_number(v))
                return fail(err, CHARTER_E_REQUEST,
                            "request field 'counters.%s.spend' must be a "
                            "number, found %s", scope, json_kind(v));
            *spend = json_number_value(v);
        } else {
            return fail(err, CHARTER_E_REQUEST,
                        "unknown key '%s' in 'counters.%s'; expected actions "
                        "or spend", k, scope);
        }
    }
    return CHARTER_OK;
}

static charter_status get_counters(const json_t *v, charter_request *r,
                                   charter_error *err)
{
    if (!json_is_object(v))
        return fail(err, CHARTER_E_REQUEST,
                    "request field 'counters' must be an object, found %s",
                    json_kind(v));
    const char *k;
    json_t *sub;
    json_object_foreach((json_t *)v, k, sub)
    {
        charter_status s;
        if (!strcmp(k, "run"))
            s = get_counter(sub, "run", &r->run_actions, &r->run_spend, err);
        else if (!strcmp(k, "day"))
            s = get_counter(sub, "day", &r->day_actions, &r->day_spend, err);
        else
            s = fail(err, CHARTER_E_REQUEST,
                     "unknown key '%s' in 'counters'; expected run or day", k);
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

/* The CEL values every condition reads from the request, built once. */
static charter_status request_values_build(charter_request *r,
                                           charter_error *err)
{
    arena *a = &r->mem;
    const cel_map *empty = cel_map_build(a, 0, NULL, NULL);
    cel_value keys[2] = {cel_string("run", 3), cel_string("day", 3)};
    cel_value vals[2];
    if (!empty || !counter_object(a, r->run_actions, r->run_spend, &vals[0]) ||
        !counter_object(a, r->day_actions, r->day_spend, &vals[1]))
        return fail(err, CHARTER_E_NOMEM, "out of memory reading the request");
    const cel_map *counters = cel_map_build(a, 2, keys, vals);
    if (!counters)
        return fail(err, CHARTER_E_NOMEM, "out of memory reading the request");
    r->counters.kind = CEL_MAP;
    r->counters.v.map = counters;
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

static charter_status request_field(charter_request *r, const char *k,
                                    const json_t *v, charter_error *err)
{
    arena *a = &r->mem;
    if (json_is_null(v) && strcmp(k, "agent") && strcmp(k, "workflow") &&
        strcmp(k, "action"))
        return CHARTER_OK; /* an optional field sent as null is not sent */
    if (!strcmp(k, "agent"))
        return get_string(a, v, k, &r->agent, err);
    if (!strcmp(k, "workflow"))
        return get_string(a, v, k, &r->workflow, err);
    if (!strcmp(k, "action"))
        return get_string(a, v, k, &r->action, err);
    if (!strcmp(k, "rationale"))
        return get_string(a, v, k, &r->rationale, err);
    if (!strcmp(k, "run_id"))
        return get_string(a, v, k, &r->run_id, err);
    if (!strcmp(k, "input"))
        return get_map(a, v, k, &r->input, err);
    if (!strcmp(k, "subject"))
        return get_map(a, v, k, &r->subject, err);
    if (!strcmp(k, "context"))
        return get_map(a, v, k, &r->context, err);
    if (!strcmp(k, "counters"))
        return get_counters(v, r, err);
    if (!strcmp(k, "confidence")) {
        if (!json_is_number(v))
            return fail(err, CHARTER_E_REQUEST,
                        "request field 'confidence' must be a number from 0 "
                        "to 1, found %s", json_kind(v));
        double c = json_number_value(v);
        if (!(c >= 0.0 && c <= 1.0))
            return fail(err, CHARTER_E_REQUEST,
                        "request field 'confidence' must be from 0 to 1, "
                        "found %g", c);
        r->confidence = c;
        return CHARTER_OK;
    }
    if (!strcmp(k, "time")) {
        if (!json_is_string(v))
            return fail(err, CHARTER_E_REQUEST,
                        "request field 'time' must be an RFC 3339 string such "
                        "as \"2026-11-24T10:00:00Z\", found %s", json_kind(v));
        const char *t = json_string_value(v);
        if (!ch_time_parse(t, json_string_length(v), &r->time_ms))
            return fail(err, CHARTER_E_REQUEST,
                        "request field 'time' must be an RFC 3339 time such "
                        "as \"2026-11-24T10:00:00Z\", found \"%.100s\"", t);
        r->has_time = true;
        return CHARTER_OK;
    }
    return fail(err, CHARTER_E_REQUEST,
                "unknown key '%.200s' in the request; expected one of %s", k,
                known_keys);
}

charter_status ch_request_from_json(const json_t *j, charter_request **out,
                                    charter_error *err)
{
    *out = NULL;
    if (!json_is_object(j))
        return fail(err, CHARTER_E_REQUEST,
                    "a request must be a JSON object, found %s", json_kind(j));
    size_t depth = json_depth(j, 1);
    if (depth > CHARTER_MAX_JSON_DEPTH)
        return fail(err, CHARTER_E_LIMIT,
                    "the request nests deeper than %u levels",
                    CHARTER_MAX_JSON_DEPTH);
    charter_request *r = calloc(1, sizeof *r);
    if (!r)
        return fail(err, CHARTER_E_NOMEM, "out of memory reading the request");
    arena_init(&r->mem, 4096);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v)
    {
        charter_status s = request_field(r, k, v, err);
        if (s != CHARTER_OK) {
            charter_request_free(r);
            return s;
        }
    }
    const char *missing = !r->agent.p ? "agent"
                          : !r->workflow.p ? "workflow"
                          : !r->action.p ? "action"
                                         : NULL;
    if (missing) {
        charter_request_free(r);
        return fail(err, CHARTER_E_REQUEST,
                    "the request has no '%s'; agent, workflow and action are "
                    "required strings", missing);
    }
    charter_status s = request_values_build(r, err);
    if (s != CHARTER_OK) {
        charter_request_free(r);
        return s;
    }
    *out = r;
    return CHARTER_OK;
}

charter_status charter_request_parse(const char *text, size_t n,
                                     charter_request **out, charter_error *err)
{
    if (!out)
        return fail(err, CHARTER_E_INVALID, "charter_request_parse: out is NULL");
    *out = NULL;
    if (!text)
        return fail(err, CHARTER_E_INVALID, "charter_request_parse: json is NULL");
    if (n > CHARTER_MAX_REQUEST_BYTES)
        return fail(err, CHARTER_E_LIMIT,
                    "the request is %zu bytes; the limit is %u bytes", n,
                    CHARTER_MAX_REQUEST_BYTES);
    if (text_depth(text, n) > CHARTER_MAX_JSON_DEPTH)
        return fail(err, CHARTER_E_LIMIT,
                    "the request nests deeper than %u levels",
                    CHARTER_MAX_JSON_DEPTH);
    json_error_t jerr;
    json_t *j = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        charter_status s = fail(err, CHARTER_E_JSON,
                                "malformed JSON in the request: %s", jerr.text);
        if (err && jerr.line > 0) {
            err->line = (unsigned)jerr.line;
            err->column = jerr.column > 0 ? (unsigned)jerr.column : 0;
        }
        return s;
    }
    charter_status s = ch_request_from_json(j, out, err);
    json_decref(j);
    return s;
}

void charter_request_free(charter_request *r)
{
    if (!r)
        return;
    arena_release(&r->mem);
    free(r);
}
