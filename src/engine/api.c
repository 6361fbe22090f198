/* api.c - the public entry points of libcharter that are not deciding:
 * loading (model loader + engine index), reference counting, accessors,
 * status names, error formatting, the clock and one-shot CEL evaluation. */
#include "base/banned.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/limits.h"
#include "charter/load.h"
#include "engine/index.h"

/* ---- Status ---------------------------------------------------------------- */

/* Lower-case names, one per code of CHARTER_STATUS_MAP, in its order. */
static const char *const status_names[] = {
    "ok", "nomem", "io", "yaml", "schema", "ref", "duplicate", "cel_syntax",
    "cel_type", "cel_eval", "json", "request", "limit", "invalid", "test",
    "refused", "conflict",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == CHARTER_STATUS_COUNT_,
               "status_names must list every CHARTER_STATUS_MAP code");

static const char *const status_messages[] = {
#define CHARTER_STATUS_MSG_(name, msg) msg,
    CHARTER_STATUS_MAP(CHARTER_STATUS_MSG_)
#undef CHARTER_STATUS_MSG_
};

const char *charter_status_name(charter_status s)
{
    if ((unsigned)s >= CHARTER_STATUS_COUNT_)
        return "unknown";
    return status_names[s];
}

const char *charter_status_message(charter_status s)
{
    if ((unsigned)s >= CHARTER_STATUS_COUNT_)
        return "unknown status";
    return status_messages[s];
}

void charter_error_format(const charter_error *e, char *buf, size_t n)
{
    if (!buf || !n)
        return;
    if (!e) {
        buf[0] = '\0';
        return;
    }
    const char *msg = e->message[0] ? e->message : charter_status_message(e->code);
    if (e->file[0] && e->line && e->column)
        snprintf(buf, n, "%s:%u:%u: %s", e->file, e->line, e->column, msg);
    else if (e->file[0] && e->line)
        snprintf(buf, n, "%s:%u: %s", e->file, e->line, msg);
    else if (e->file[0])
        snprintf(buf, n, "%s: %s", e->file, msg);
    else if (e->line)
        snprintf(buf, n, "%u:%u: %s", e->line, e->column, msg);
    else
        snprintf(buf, n, "%s", msg);
}

static charter_status fail(charter_error *err, charter_status code, const char *msg)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return code;
}

/* ---- Loading --------------------------------------------------------------- */

static charter_status with_index(charter_status s, charter **out,
                                 charter_error *err)
{
    if (s != CHARTER_OK) {
        *out = NULL;
        return s;
    }
    struct ch_index *ix = NULL;
    s = ch_index_build(*out, &ix, err);
    if (s != CHARTER_OK) {
        ch_charter_free(*out);
        *out = NULL;
        return s;
    }
    (*out)->index = ix;
    return CHARTER_OK;
}

charter_status charter_load(const char *path, charter **out, charter_error *err)
{
    if (!out || !path)
        return fail(err, CHARTER_E_INVALID, "charter_load: path and out must not be NULL");
    *out = NULL;
    return with_index(ch_load_path(path, out, err), out, err);
}

charter_status charter_load_string(const char *name, const char *yaml, size_t n,
                                   charter **out, charter_error *err)
{
    if (!out || !yaml)
        return fail(err, CHARTER_E_INVALID,
                    "charter_load_string: yaml and out must not be NULL");
    *out = NULL;
    return with_index(ch_load_string(name ? name : "", yaml, n, out, err), out, err);
}

charter *charter_retain(charter *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void charter_release(charter *c)
{
    if (!c)
        return;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    ch_index_free(c->index);
    c->index = NULL;
    ch_charter_free(c);
}

const char *charter_version(const charter *c)
{
    return c && c->version ? c->version : "";
}

const char *charter_canonical_json(const charter *c, size_t *len)
{
    if (len)
        *len = c && c->canonical ? c->canonical_len : 0;
    return c && c->canonical ? c->canonical : "";
}

const char *charter_name(const charter *c)
{
    return c && c->name ? c->name : "";
}

bool charter_agent_granted(const charter *c, const char *agent, const char *workflow)
{
    const ch_agent *a = c && agent ? ch_find_agent(c, agent) : NULL;
    if (!a)
        return false;
    if (!workflow)
        return true;
    const ch_workflow *w = ch_find_workflow(c, workflow);
    return w && ch_agent_has_workflow(a, w);
}

static bool strs_has(const ch_strs *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return true;
    return false;
}

bool charter_queue_approver(const charter *c, const char *queue, const char *name,
                            const char *const *roles, size_t role_count)
{
    const ch_queue *q = c && queue ? ch_find_queue(c, queue) : NULL;
    if (!q)
        return false;
    if (!q->members.n && !q->roles.n)
        return true;
    if (name && strs_has(&q->members, name))
        return true;
    for (size_t i = 0; i < role_count; i++)
        if (roles[i] && strs_has(&q->roles, roles[i]))
            return true;
    return false;
}

size_t charter_warning_count(const charter *c)
{
    return c ? c->warning_count : 0;
}

const charter_diag *charter_warning(const charter *c, size_t i)
{
    if (!c || i >= c->warning_count)
        return NULL;
    return &c->warnings[i];
}

int64_t charter_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- One CEL expression ------------------------------------------------------ */

static charter_status from_cel_status(cel_status s)
{
    switch (s) {
    case CEL_OK: return CHARTER_OK;
    case CEL_ERR_SYNTAX: return CHARTER_E_CEL_SYNTAX;
    case CEL_ERR_TYPE: return CHARTER_E_CEL_TYPE;
    case CEL_ERR_EVAL: return CHARTER_E_CEL_EVAL;
    case CEL_ERR_LIMIT: return CHARTER_E_LIMIT;
    case CEL_ERR_NOMEM: return CHARTER_E_NOMEM;
    }
    return CHARTER_E_CEL_EVAL;
}

static charter_status vars_parse(arena *a, const char *vars_json,
                                 const cel_map **out, charter_error *err)
{
    *out = NULL;
    if (!vars_json)
        return CHARTER_OK;
    size_t n = strlen(vars_json);
    if (n > CHARTER_MAX_REQUEST_BYTES)
        return fail(err, CHARTER_E_LIMIT, "the variables are larger than the request limit");
    json_error_t jerr;
    json_t *j = json_loadb(vars_json, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        charter_status s = fail(err, CHARTER_E_JSON, "");
        if (err) {
            snprintf(err->message, sizeof err->message,
                     "malformed JSON in the variables: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
        }
        return s;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return fail(err, CHARTER_E_JSON,
                    "the variables must be a JSON object mapping names to values");
    }
    cel_value v;
    char msg[256] = "";
    bool ok = cel_value_from_json(a, j, &v, msg, sizeof msg);
    json_decref(j);
    if (!ok || v.kind != CEL_MAP) {
        charter_status s = fail(err, CHARTER_E_LIMIT, "");
        if (err)
            snprintf(err->message, sizeof err->message, "the variables: %s",
                     msg[0] ? msg : "cannot convert them");
        return s;
    }
    *out = v.v.map;
    return CHARTER_OK;
}

charter_status charter_eval(const char *expr, const char *vars_json,
                            int64_t now_ms, char **out_json, charter_error *err)
{
    if (!expr || !out_json)
        return fail(err, CHARTER_E_INVALID, "charter_eval: expr and out_json must not be NULL");
    *out_json = NULL;
    arena a;
    arena_init(&a, 0);
    const cel_map *vars = NULL;
    charter_status s = vars_parse(&a, vars_json, &vars, err);
    if (s != CHARTER_OK) {
        arena_release(&a);
        return s;
    }
    int64_t now_sec = now_ms / 1000 - (now_ms % 1000 < 0);
    cel_value result;
    cel_diag diag;
    memset(&diag, 0, sizeof diag);
    cel_status cs = cel_eval_once(&a, expr, strlen(expr), vars, now_sec, &result, &diag);
    if (cs != CEL_OK) {
        s = from_cel_status(cs);
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = s;
            err->line = diag.line;
            err->column = diag.column;
            snprintf(err->message, sizeof err->message, "%s",
                     diag.message[0] ? diag.message : charter_status_message(s));
        }
        arena_release(&a);
        return s;
    }
    json_t *j = cel_value_to_json(&result);
    bool has_json = j != NULL;
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    arena_release(&a);
    if (!text)
        return fail(err, has_json ? CHARTER_E_NOMEM : CHARTER_E_CEL_EVAL,
                    has_json ? "out of memory formatting the result"
                             : "the result has no JSON form");
    *out_json = text;
    return CHARTER_OK;
}
