/* decide.c - charter_decide: the order of judgment.
 *
 * The order is fixed and documented in docs/charter-reference.md
 * ("Deciding"); each numbered step below is one step there. Everything a
 * decision allocates lives in the decider's scratch arena, which is reset at
 * the start of the next decision, so the steady state calls no malloc.
 */
#include "base/banned.h"

#include "engine/decide.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "engine/index.h"
#include "engine/request.h"

charter_status charter_decider_new(charter_decider **out)
{
    if (!out)
        return CHARTER_E_INVALID;
    charter_decider *d = calloc(1, sizeof *d);
    *out = d;
    if (!d)
        return CHARTER_E_NOMEM;
    arena_init(&d->scratch, 64u * 1024u);
    return CHARTER_OK;
}

void charter_decider_free(charter_decider *d)
{
    if (!d)
        return;
    arena_release(&d->scratch);
    free(d->out);
    free(d);
}

const char *charter_effect_name(charter_effect e)
{
    switch (e) {
    case CHARTER_ALLOW: return "allow";
    case CHARTER_ESCALATE: return "escalate";
    case CHARTER_DENY: return "deny";
    }
    return "unknown";
}

/* ---- Conditions ----------------------------------------------------------- */

typedef enum cond_result { COND_FALSE, COND_TRUE, COND_ERROR } cond_result;

static cel_value run_program(charter_decider *d, const cel_program *p)
{
    cel_eval_ctx ctx = {.scratch = &d->scratch, .slots = d->slots};
    /* One evaluation may use CEL_MAX_EVAL_BYTES of scratch, whatever the
     * decision has used before it. */
    d->scratch.limit = d->scratch.total + CEL_MAX_EVAL_BYTES;
    cel_value v = cel_program_eval(p, &ctx);
    d->scratch.limit = 0;
    return v;
}

static const char *kind_name(cel_kind k)
{
    switch (k) {
    case CEL_NULL: return "null";
    case CEL_BOOL: return "bool";
    case CEL_INT: return "int";
    case CEL_UINT: return "uint";
    case CEL_DOUBLE: return "double";
    case CEL_STRING: return "string";
    case CEL_BYTES: return "bytes";
    case CEL_LIST: return "list";
    case CEL_MAP: return "map";
    case CEL_TIMESTAMP: return "timestamp";
    case CEL_DURATION: return "duration";
    case CEL_TYPE: return "type";
    case CEL_ERROR: return "error";
    }
    return "value";
}

static cond_result eval_condition(charter_decider *d, const cel_program *p,
                                  const char **error)
{
    *error = NULL;
    if (!p)
        return COND_TRUE;
    cel_value v = run_program(d, p);
    if (v.kind == CEL_BOOL)
        return v.v.b ? COND_TRUE : COND_FALSE;
    if (v.kind == CEL_ERROR)
        *error = v.v.error ? v.v.error : "evaluation failed";
    else
        *error = arena_printf(&d->scratch, "the condition gave a %s, expected a bool",
                              kind_name(v.kind));
    if (!*error)
        *error = "the condition did not give a bool";
    return COND_ERROR;
}

/* ---- Fired entries --------------------------------------------------------- */

typedef struct hit {
    const ch_rule *rule;        /* NULL for a stop rule */
    const ch_stop_rule *stop;
    const char *message;
    const char *error;
} hit;

static unsigned rule_rank(const ch_rule *r)
{
    return r->protects ? r->protects->rank : UINT_MAX;
}

/* Most restrictive first, then by the rank of the protected value (unranked
 * last), then by id: a total order, so decisions are deterministic. */
static int hit_cmp(const hit *a, const hit *b)
{
    if (a->rule->effect != b->rule->effect)
        return a->rule->effect > b->rule->effect ? -1 : 1;
    unsigned ra = rule_rank(a->rule), rb = rule_rank(b->rule);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    return strcmp(a->rule->id, b->rule->id);
}

static void hits_sort(hit *h, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        hit x = h[i];
        size_t j = i;
        while (j > 0 && hit_cmp(&x, &h[j - 1]) < 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = x;
    }
}

/* ---- Building the answer --------------------------------------------------- */

typedef struct judge {
    charter_decider *d;
    const charter *c;
    const charter_request *req;
    const ch_workflow *w;
    charter_decision *dec;
    hit *hits;
    size_t nhits;
    bool has_spend;             /* dec->spend holds a computed spend */
} judge;

static charter_status nomem(charter_error *err)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = CHARTER_E_NOMEM;
        snprintf(err->message, sizeof err->message,
                 "out of memory while deciding");
    }
    return CHARTER_E_NOMEM;
}

static charter_status fired_build(judge *j, charter_error *err)
{
    charter_decision *dec = j->dec;
    charter_fired *f = arena_alloc(&j->d->scratch, (j->nhits ? j->nhits : 1) * sizeof *f);
    if (!f)
        return nomem(err);
    for (size_t i = 0; i < j->nhits; i++) {
        const hit *h = &j->hits[i];
        if (h->rule) {
            f[i].kind = h->rule->kind == CH_BOUNDARY ? "boundary" : "rule";
            f[i].id = h->rule->id;
            f[i].effect = h->rule->effect;
            f[i].value = h->rule->protects ? h->rule->protects->id : NULL;
        } else {
            f[i].kind = "stop_rule";
            f[i].id = h->stop->id;
            f[i].effect = CHARTER_DENY;
            f[i].value = NULL;
        }
        f[i].message = h->message ? h->message : "";
        f[i].error = h->error;
    }
    dec->fired = f;
    dec->fired_count = j->nhits;
    return CHARTER_OK;
}

/* The protected values of every fired entry, once each, in rank order. */
static charter_status values_build(judge *j, charter_error *err)
{
    const ch_value **vals = arena_alloc(&j->d->scratch,
                                        (j->nhits ? j->nhits : 1) * sizeof *vals);
    if (!vals)
        return nomem(err);
    size_t n = 0;
    for (size_t i = 0; i < j->nhits; i++) {
        const ch_value *v = j->hits[i].rule ? j->hits[i].rule->protects : NULL;
        if (!v)
            continue;
        size_t k = 0;
        while (k < n && vals[k] != v)
            k++;
        if (k < n)
            continue;
        /* Insert in rank order. */
        k = n++;
        while (k > 0 && vals[k - 1]->rank > v->rank) {
            vals[k] = vals[k - 1];
            k--;
        }
        vals[k] = v;
    }
    const char **ids = arena_alloc(&j->d->scratch, (n ? n : 1) * sizeof *ids);
    if (!ids)
        return nomem(err);
    for (size_t i = 0; i < n; i++)
        ids[i] = vals[i]->id;
    j->dec->values = ids;
    j->dec->value_count = n;
    return CHARTER_OK;
}

/* Obligations bind an agent that proceeds, so a denial carries none. */
static charter_status obligations_build(judge *j, charter_error *err)
{
    j->dec->obligations = NULL;
    j->dec->obligation_count = 0;
    if (j->dec->effect == CHARTER_DENY)
        return CHARTER_OK;
    size_t total = 0;
    for (size_t i = 0; i < j->nhits; i++)
        if (j->hits[i].rule)
            total += j->hits[i].rule->obligations.n;
    if (!total)
        return CHARTER_OK;
    const char **ob = arena_alloc(&j->d->scratch, total * sizeof *ob);
    if (!ob)
        return nomem(err);
    size_t n = 0;
    for (size_t i = 0; i < j->nhits; i++) {
        const ch_rule *r = j->hits[i].rule;
        if (!r)
            continue;
        for (size_t k = 0; k < r->obligations.n; k++) {
            const char *o = r->obligations.v[k];
            size_t m = 0;
            while (m < n && strcmp(ob[m], o) != 0)
                m++;
            if (m == n)
                ob[n++] = o;
        }
    }
    j->dec->obligations = ob;
    j->dec->obligation_count = n;
    return CHARTER_OK;
}

/* The first fired escalate rule naming a queue, else the workflow's, else
 * the charter's default; the deadline is the decision time plus its SLA. */
static void escalation_build(judge *j)
{
    charter_decision *dec = j->dec;
    if (dec->effect != CHARTER_ESCALATE)
        return;
    const ch_queue *q = NULL;
    for (size_t i = 0; i < j->nhits && !q; i++) {
        const ch_rule *r = j->hits[i].rule;
        if (r && r->effect == CHARTER_ESCALATE && r->escalate_to)
            q = r->escalate_to;
    }
    if (!q)
        q = j->w->escalate_to;
    if (!q)
        q = j->c->default_queue;
    if (!q)
        return;
    dec->queue = q->id;
    dec->deadline_ms = q->sla_ms > 0 ? dec->time_ms + q->sla_ms : 0;
}

static charter_status finish(judge *j, charter_effect effect,
                             const char *reason, const char *explanation,
                             charter_error *err)
{
    charter_decision *dec = j->dec;
    dec->effect = effect;
    dec->reason = reason;
    dec->explanation = explanation ? explanation : "";
    charter_status s = fired_build(j, err);
    if (s == CHARTER_OK)
        s = values_build(j, err);
    if (s == CHARTER_OK)
        s = obligations_build(j, err);
    if (s == CHARTER_OK && j->w)
        escalation_build(j);
    return s;
}

/* A denial before any condition is read (steps 1-3). */
static charter_status refuse(judge *j, const char *reason, charter_error *err,
                             const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static charter_status refuse(judge *j, const char *reason, charter_error *err,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[768];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    const char *text = arena_strdup(&j->d->scratch, buf);
    if (!text)
        return nomem(err);
    j->nhits = 0;
    return finish(j, CHARTER_DENY, reason, text, err);
}

/* The explanation of a decision some entry decided: its message, and when
 * its condition failed, that it fired to fail safe. */
static const char *explain_hit(judge *j, const hit *h)
{
    if (!h->error)
        return h->message;
    const char *s = arena_printf(&j->d->scratch,
                                 "%s (the condition of '%s' failed to evaluate: "
                                 "%s; it fires to fail safe)",
                                 h->message,
                                 h->rule ? h->rule->id : h->stop->id, h->error);
    return s ? s : h->message;
}

/* ---- Steps 4-7 ---------------------------------------------------------- */

static void slots_fill(charter_decider *d, const ch_agent_entry *ae,
                       const ch_wf_entry *we, const charter_request *req,
                       int64_t time_ms)
{
    cel_value *s = d->slots;
    s[CH_SLOT_AGENT] = ae->obj;
    s[CH_SLOT_WORKFLOW] = we->obj;
    s[CH_SLOT_ACTION] = cel_string(req->action.p, req->action.n);
    s[CH_SLOT_INPUT] = req->input;
    s[CH_SLOT_SUBJECT] = req->subject;
    s[CH_SLOT_CONTEXT] = req->context;
    s[CH_SLOT_RATIONALE] = cel_string(req->rationale.p, req->rationale.n);
    s[CH_SLOT_CONFIDENCE] = cel_double(req->confidence);
    s[CH_SLOT_RUN_ID] = cel_string(req->run_id.p, req->run_id.n);
    s[CH_SLOT_COUNTERS] = req->counters;
    int64_t sec = time_ms / 1000, ms = time_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        sec--;
    }
    cel_value now = {.kind = CEL_TIMESTAMP};
    now.v.t.sec = sec;
    now.v.t.nsec = (int32_t)(ms * 1000000);
    s[CH_SLOT_NOW] = now;
}

static bool number_of(cel_value v, double *out)
{
    switch (v.kind) {
    case CEL_INT: *out = (double)v.v.i; return true;
    case CEL_UINT: *out = (double)v.v.u; return true;
    case CEL_DOUBLE: *out = v.v.d; return true;
    default: return false;
    }
}

/* Stop-rule messages are built on the decision path for about one decision
 * in ten; pieces are appended by hand (printf cost more than the rest of
 * such a decision). A message longer than the buffer is cut short. */
typedef struct msg {
    char buf[640];
    size_t n;
} msg;

static void msg_str(msg *m, const char *s)
{
    size_t len = strlen(s);
    if (len > sizeof m->buf - 1 - m->n)
        len = sizeof m->buf - 1 - m->n;
    memcpy(m->buf + m->n, s, len);
    m->n += len;
    m->buf[m->n] = '\0';
}

static void msg_digits(msg *m, bool negative, unsigned long long u)
{
    char tmp[24];
    size_t k = sizeof tmp;
    tmp[--k] = '\0';
    do {
        tmp[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (negative)
        tmp[--k] = '-';
    msg_str(m, tmp + k);
}

static void msg_int(msg *m, long long v)
{
    msg_digits(m, v < 0, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v);
}

/* As %g: whole numbers of up to 15 digits by hand, the rest by snprintf. */
static void msg_num(msg *m, double d)
{
    if (d == (double)(long long)d && d > -1e15 && d < 1e15) {
        msg_int(m, (long long)d);
        return;
    }
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%g", d);
    msg_str(m, tmp);
}

/* Step 5 for one stop rule: fills *h and returns true when it is exceeded. */
static bool stop_rule_check(judge *j, const ch_stop_rule *sr, hit *h)
{
    const charter_request *req = j->req;
    arena *a = &j->d->scratch;
    memset(h, 0, sizeof *h);
    h->stop = sr;
    const char *detail = NULL;
    /* The spend is computed even without a spend limit here: the decision
     * reports the action's spend so the ledger can count it. */
    double spend = 0;
    const char *spend_error = NULL;
    if (sr->spend) {
        cel_value v = run_program(j->d, sr->spend);
        /* A negative spend would give budget back (an agent sending a
         * refund of -5000 could then spend 5000 more), so it is an error
         * like NaN: a stop rule with a spend limit fires to fail safe. */
        if (number_of(v, &spend) && isfinite(spend) && spend >= 0) {
            if (!j->has_spend || spend > j->dec->spend)
                j->dec->spend = spend;
            j->has_spend = true;
        } else {
            bool negative = v.kind != CEL_ERROR && isfinite(spend) && spend < 0;
            spend = 0;
            spend_error = v.kind == CEL_ERROR && v.v.error
                              ? v.v.error
                          : negative
                              ? "the spend is negative, expected a finite number of 0 or more"
                              : arena_printf(a, "the spend gave %s, expected a finite number "
                                                "of 0 or more",
                                             v.kind == CEL_DOUBLE ? "NaN or infinity"
                                                                  : kind_name(v.kind));
            if (!spend_error)
                spend_error = "the spend did not give a number";
        }
    }
    /* counters + 1 > max, written so a counter of INT64_MAX cannot overflow. */
    msg d;
    d.n = 0;
    d.buf[0] = '\0';
    if (sr->max_actions_per_run >= 0 && req->run_actions >= sr->max_actions_per_run) {
        msg_str(&d, "this would be action ");
        msg_digits(&d, false, (unsigned long long)req->run_actions + 1);
        msg_str(&d, " of the run; the limit is ");
        msg_int(&d, (long long)sr->max_actions_per_run);
        detail = d.buf;
    } else if (sr->max_actions_per_day >= 0 && req->day_actions >= sr->max_actions_per_day) {
        msg_str(&d, "this would be action ");
        msg_digits(&d, false, (unsigned long long)req->day_actions + 1);
        msg_str(&d, " of the day; the limit is ");
        msg_int(&d, (long long)sr->max_actions_per_day);
        detail = d.buf;
    } else if ((sr->max_spend_per_run >= 0 || sr->max_spend_per_day >= 0) && spend_error) {
        h->error = spend_error;
        detail = "its spend could not be computed";
    } else if (sr->max_spend_per_run >= 0 && req->run_spend + spend > sr->max_spend_per_run) {
        msg_str(&d, "the run's spend would reach ");
        msg_num(&d, req->run_spend + spend);
        msg_str(&d, "; the limit is ");
        msg_num(&d, sr->max_spend_per_run);
        detail = d.buf;
    } else if (sr->max_spend_per_day >= 0 && req->day_spend + spend > sr->max_spend_per_day) {
        msg_str(&d, "the day's spend would reach ");
        msg_num(&d, req->day_spend + spend);
        msg_str(&d, "; the limit is ");
        msg_num(&d, sr->max_spend_per_day);
        detail = d.buf;
    }
    if (!detail && sr->when) {
        const char *e;
        cond_result r = eval_condition(j->d, sr->when, &e);
        if (r == COND_TRUE)
            detail = "its stop condition holds";
        else if (r == COND_ERROR) {
            h->error = e;
            detail = "its stop condition could not be evaluated";
        }
    }
    if (!detail)
        return false;
    msg out;
    out.n = 0;
    out.buf[0] = '\0';
    if (sr->message) {
        msg_str(&out, sr->message);
        msg_str(&out, " (stop rule '");
        msg_str(&out, sr->id);
        msg_str(&out, "': ");
        msg_str(&out, detail);
        msg_str(&out, ")");
    } else {
        msg_str(&out, "Stop rule '");
        msg_str(&out, sr->id);
        msg_str(&out, "': ");
        msg_str(&out, detail);
        msg_str(&out, ".");
    }
    const char *text = arena_strndup(a, out.buf, out.n);
    h->message = text ? text : (sr->message ? sr->message : "stop rule exceeded");
    return true;
}

static const char *default_explanation(charter_effect e)
{
    switch (e) {
    case CHARTER_ALLOW: return "No rule matched; the workflow's default is to allow.";
    case CHARTER_ESCALATE: return "No rule matched; the workflow's default is to escalate to a person.";
    case CHARTER_DENY: return "No rule matched; the workflow's default is to deny.";
    }
    return "No rule matched.";
}

static charter_status judge_conditions(judge *j, const ch_rule_set *set,
                                       charter_error *err)
{
    const ch_workflow *w = j->w;
    size_t cap = set->n + w->stop_rule_count;
    j->hits = arena_alloc(&j->d->scratch, (cap ? cap : 1) * sizeof *j->hits);
    if (!j->hits)
        return nomem(err);
    j->nhits = 0;

    /* 4. Boundaries: any match denies, final. */
    size_t i = 0;
    for (; i < set->n && set->rules[i]->kind == CH_BOUNDARY; i++) {
        const ch_rule *r = set->rules[i];
        const char *e;
        if (eval_condition(j->d, r->when, &e) != COND_FALSE)
            j->hits[j->nhits++] = (hit){.rule = r, .message = r->message, .error = e};
    }
    if (j->nhits) {
        hits_sort(j->hits, j->nhits);
        return finish(j, CHARTER_DENY, "boundary", explain_hit(j, &j->hits[0]), err);
    }

    /* 5. Stop rules. */
    for (size_t k = 0; k < w->stop_rule_count; k++)
        if (stop_rule_check(j, &w->stop_rules[k], &j->hits[j->nhits]))
            j->nhits++;
    if (j->nhits)
        return finish(j, CHARTER_DENY, "stop_rule", j->hits[0].message, err);

    /* 6. Rules: a failing deny or escalate condition fires; a failing allow
     * does not. */
    for (; i < set->n; i++) {
        const ch_rule *r = set->rules[i];
        const char *e;
        cond_result res = eval_condition(j->d, r->when, &e);
        if (res == COND_TRUE || (res == COND_ERROR && r->effect != CHARTER_ALLOW))
            j->hits[j->nhits++] = (hit){.rule = r, .message = r->message, .error = e};
    }
    if (j->nhits) {
        hits_sort(j->hits, j->nhits);
        /* Sorted most restrictive first: the first entry decides. In an
         * agent-augmented workflow an allow here is a matching allow rule
         * with no deny or escalate beside it: it explicitly allows. */
        return finish(j, j->hits[0].rule->effect, "rule",
                      explain_hit(j, &j->hits[0]), err);
    }

    /* 7. Nothing matched: the workflow's default. An agent-augmented
     * workflow never allows without a rule that says so. */
    if (w->autonomy == CH_AGENT_AUGMENTED && w->default_effect == CHARTER_ALLOW)
        return finish(j, CHARTER_ESCALATE, "augmented_requires_approval",
                      "The workflow is agent-augmented: a person decides unless a "
                      "rule explicitly allows the action.", err);
    return finish(j, w->default_effect, "default",
                  default_explanation(w->default_effect), err);
}

/* A condition of the rule environment evaluated for `req` under `c` at
 * time_ms, with the slots a rule's `when` sees (decide.h). */
int ch_decide_eval_when(charter_decider *d, const charter *c, const charter_request *req,
                        int64_t time_ms, const cel_program *p, const char **error)
{
    *error = NULL;
    if (!p)
        return 1;
    if (!d || !c || !c->index || !req) {
        *error = "no charter or request to evaluate the condition for";
        return -1;
    }
    arena_reset(&d->scratch);
    d->scratch.limit = 0;
    const struct ch_index *ix = c->index;
    const ch_agent_entry *ae = ch_index_agent(ix, req->agent_hash, req->agent.p, req->agent.n);
    const ch_wf_entry *we = ae ? ch_index_workflow(ix, req->workflow_hash, req->workflow.p,
                                                   req->workflow.n)
                               : NULL;
    if (!ae || !we) {
        *error = ae ? "the request's workflow is not in the charter"
                    : "the request's agent is not in the charter";
        return -1;
    }
    slots_fill(d, ae, we, req, time_ms);
    cond_result r = eval_condition(d, p, error);
    return r == COND_TRUE ? 1 : r == COND_FALSE ? 0 : -1;
}

static charter_status bad_arg(charter_error *err, const char *what)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = CHARTER_E_INVALID;
        snprintf(err->message, sizeof err->message, "charter_decide: %s", what);
    }
    return CHARTER_E_INVALID;
}

charter_status charter_decide(charter_decider *d, const charter *c,
                              const charter_request *req, int64_t now_ms,
                              const charter_decision **out, charter_error *err)
{
    if (out)
        *out = NULL;
    if (!d || !c || !req || !out)
        return bad_arg(err, "the decider, charter, request and out must not be NULL");
    if (!c->index)
        return bad_arg(err, "the charter has no rule index (load it with charter_load)");
    arena_reset(&d->scratch);
    d->scratch.limit = 0;
    charter_decision *dec = &d->dec;
    memset(dec, 0, sizeof *dec);
    dec->time_ms = req->has_time ? req->time_ms : now_ms;
    dec->charter_version = c->version;
    judge j = {.d = d, .c = c, .req = req, .dec = dec};
    const struct ch_index *ix = c->index;
    charter_status s;

    /* 1. Unknown agent: shadow activity. */
    const ch_agent_entry *ae = ch_index_agent(ix, req->agent_hash, req->agent.p, req->agent.n);
    if (!ae) {
        dec->is_shadow = true;
        s = refuse(&j, "unknown_agent", err,
                   "Agent '%.200s' is not registered in this charter; its request is "
                   "denied and recorded as shadow activity.", req->agent.p);
        goto done;
    }
    /* 2. Workflow, grant, action. */
    const ch_wf_entry *we = ch_index_workflow(ix, req->workflow_hash, req->workflow.p,
                                              req->workflow.n);
    if (!we) {
        s = refuse(&j, "unknown_workflow", err,
                   "Workflow '%.200s' does not exist in this charter.", req->workflow.p);
        goto done;
    }
    j.w = we->w;
    if (!ch_index_is_granted(ix, ae, we)) {
        s = refuse(&j, "workflow_not_granted", err,
                   "Agent '%s' is not granted workflow '%s'.", ae->a->id, we->w->id);
        goto done;
    }
    const ch_rule_set *set = ch_index_rules(we, req->action_hash, req->action.p, req->action.n);
    if (!set) {
        s = refuse(&j, "action_not_in_workflow", err,
                   "Action '%.200s' is not one of the actions of workflow '%s'.",
                   req->action.p, we->w->id);
        goto done;
    }
    /* 3. Human-only work is never done by an agent. */
    if (we->w->autonomy == CH_HUMAN_ONLY) {
        s = refuse(&j, "human_only", err,
                   "Workflow '%s' is human-only: a person must do it, not an agent.",
                   we->w->id);
        goto done;
    }
    slots_fill(d, ae, we, req, dec->time_ms);
    s = judge_conditions(&j, set, err);
done:
    if (s != CHARTER_OK)
        return s;
    *out = dec;
    return CHARTER_OK;
}
