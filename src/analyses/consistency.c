/* consistency.c - consistency of judgment (charter_consistency) and the
 * rule-shadowed warnings of `charter check` (charter_rule_warnings).
 *
 * For every action, the workflows that allow it (and are not human-only,
 * and have an agent granted them) are decided against the same generated
 * situations (probe.c): the fields and constants every boundary, stop rule
 * and rule on that action reads. Each case is decided under each workflow
 * as the first agent (by id) granted it would ask, at a fixed time, with
 * zero counters. Two workflows disagree on a case when their effects differ
 * and at least one of them reached its effect through a boundary, a stop
 * rule or a rule (a difference that comes only from the workflows' autonomy
 * classes and defaults is counted apart, as designed). Disagreements are
 * grouped by (workflows, effects, what fired); each group keeps the case
 * closest to the baseline as its example, reduced to the fields the two
 * workflows' conditions read.
 *
 * While deciding, every rule's own condition is also evaluated on the
 * decider's slots (engine/decide.h) so a rule whose condition holds in some
 * cases but which never decides any of them, because a boundary, a stop
 * rule or (for allow and escalate rules) a deny rule always comes first, is
 * reported as never firing.
 */
#include "base/banned.h"

#include "charter_analyses.h"

#include <jansson.h>

#include "analyses/probe.h"
#include "analyses/render.h"
#include "charter/model.h"
#include "engine/decide.h"
#include "engine/index.h"

#define CASES_ANALYSIS 4096   /* cases per action for `charter consistency` */
#define CASES_CHECK 512       /* ... and for the warnings of `charter check` */
#define CASE_TIME "2026-01-01T00:00:00Z"
#define GROUPS_LISTED 1000    /* disagreement groups listed; more are counted */

/* One workflow that allows the action under study. */
typedef struct lane {
    const ch_workflow *w;
    const ch_agent *agent;            /* the first agent granted it */
    const ch_rule_set *set;           /* boundaries and rules on (w, action) */
    /* Per case: the decision, summarised. */
    charter_effect effect;
    char reason[32];
    json_t *fired;                    /* ids, in answer order */
    strbuf fired_key;                 /* the same ids joined, for grouping */
} lane;

/* A rule on some (workflow, action): did its condition ever hold, did it
 * ever decide, and what pre-empted it. */
typedef struct rule_use {
    const ch_rule *r;
    uint64_t held, decided;
    json_t *preempted_by;             /* ids (a set as an object) */
} rule_use;

typedef struct study {
    const charter *c;
    charter_decider *d;
    size_t max_cases;
    rule_use *uses;                   /* one per charter rule, by index */
    json_t *actions, *skipped, *groups, *autonomy;
    uint64_t groups_not_listed;       /* disagreeing cases past GROUPS_LISTED */
    bool want_groups;
    charter_status status;
} study;

/* The boundaries and rules whose selectors match (w, action), from the
 * engine's index (built when the charter loaded): no scan of every rule. */
static const ch_rule_set *rules_on(const charter *c, const ch_workflow *w, const char *action)
{
    static const ch_rule_set none = {0, NULL};
    size_t wn = strlen(w->id), an = strlen(action);
    const ch_wf_entry *we = ch_index_workflow(c->index, ch_hash(w->id, wn), w->id, wn);
    const ch_rule_set *set = we ? ch_index_rules(we, ch_hash(action, an), action, an) : NULL;
    return set ? set : &none;
}

static const ch_agent *first_agent(const charter *c, const ch_workflow *w)
{
    for (size_t i = 0; i < c->agent_count; i++)
        if (ch_agent_has_workflow(&c->agents[i], w))
            return &c->agents[i];
    return NULL;
}

/* ---- Deciding one case ------------------------------------------------------ */

/* Decides the case under ln. The decider's slots point into *r, which the
 * caller frees once it is done with them (track_rules reads them). */
static charter_status decide_lane(study *st, lane *ln, const char *action, json_t *req,
                                  charter_request **r)
{
    json_object_set_new(req, "agent", json_string(ln->agent->id));
    json_object_set_new(req, "workflow", json_string(ln->w->id));
    json_object_set_new(req, "action", json_string(action));
    json_object_set_new(req, "time", json_string(CASE_TIME));
    char *text = json_dumps(req, JSON_COMPACT);
    if (!text)
        return CHARTER_E_NOMEM;
    const charter_decision *dec = NULL;
    charter_status s = charter_request_parse(text, strlen(text), r, NULL);
    free(text);
    if (s == CHARTER_OK)
        s = charter_decide(st->d, st->c, *r, 0, &dec, NULL);
    if (s != CHARTER_OK)
        return s;
    ln->effect = dec->effect;
    snprintf(ln->reason, sizeof ln->reason, "%s", dec->reason);
    json_array_clear(ln->fired);
    ln->fired_key.n = 0;
    strbuf_puts(&ln->fired_key, charter_effect_name(dec->effect));
    for (size_t i = 0; i < dec->fired_count; i++) {
        json_array_append_new(ln->fired, json_string(dec->fired[i].id));
        strbuf_add(&ln->fired_key, "\x1f", 1);
        strbuf_puts(&ln->fired_key, dec->fired[i].id);
    }
    return ln->fired_key.failed ? CHARTER_E_NOMEM : CHARTER_OK;
}

/* With the decider's slots still those of the case just decided under ln:
 * which of ln's rules hold, and which of them decided. */
static void track_rules(study *st, const lane *ln)
{
    bool preempt = !strcmp(ln->reason, "boundary") || !strcmp(ln->reason, "stop_rule");
    bool deny_rule = ln->effect == CHARTER_DENY && !strcmp(ln->reason, "rule");
    for (size_t i = 0; i < ln->set->n; i++) {
        const ch_rule *r = ln->set->rules[i];
        if (r->kind != CH_RULE)
            continue;
        rule_use *u = &st->uses[r - st->c->rules];
        bool holds = true;
        if (r->when) {
            cel_eval_ctx ctx = {.scratch = &st->d->scratch, .slots = st->d->slots};
            cel_value v = cel_program_eval(r->when, &ctx);
            holds = v.kind == CEL_BOOL && v.v.b;
        }
        if (!holds)
            continue;
        u->held++;
        bool beaten = preempt || (deny_rule && r->effect != CHARTER_DENY);
        if (!beaten) {
            u->decided++;
            continue;
        }
        /* Name what decided instead: the first fired entry. */
        const char *by = json_string_value(json_array_get(ln->fired, 0));
        if (by)
            json_object_set_new(u->preempted_by, by, json_true());
    }
}

/* ---- Disagreements ---------------------------------------------------------- */

static bool decided_by_rules(const lane *ln)
{
    return !strcmp(ln->reason, "boundary") || !strcmp(ln->reason, "stop_rule") ||
           !strcmp(ln->reason, "rule");
}

static json_t *side_json(const lane *ln)
{
    json_t *o = json_object();
    json_object_set_new(o, "workflow", json_string(ln->w->id));
    json_object_set_new(o, "department", ln->w->department ? json_string(ln->w->department)
                                                           : json_null());
    json_object_set_new(o, "autonomy", json_string(ch_autonomy_name(ln->w->autonomy)));
    json_object_set_new(o, "agent", json_string(ln->agent->id));
    json_object_set_new(o, "decision", json_string(charter_effect_name(ln->effect)));
    json_object_set_new(o, "reason", json_string(ln->reason));
    json_object_set_new(o, "fired", json_deep_copy(ln->fired));
    return o;
}

/* Ids fired on one side only: the rules that make the difference. */
static json_t *because(const lane *a, const lane *b)
{
    json_t *out = json_array(), *x, *y;
    size_t i, k;
    for (int side = 0; side < 2; side++) {
        const lane *p = side ? b : a, *q = side ? a : b;
        json_array_foreach(p->fired, i, x) {
            bool shared = false;
            json_array_foreach(q->fired, k, y)
                shared = shared || json_equal(x, y);
            if (!shared)
                json_array_append(out, x);
        }
    }
    return out;
}

/* The case as a request for the example: only the fields the two
 * workflows' conditions on this action read. */
static json_t *example_of(const probe_set *ps, const lane *a, const lane *b,
                          const char *action)
{
    json_t *req = json_object();
    json_object_set_new(req, "action", json_string(action));
    for (size_t f = 0; f < ps->n; f++) {
        bool read = false;
        for (int side = 0; side < 2 && !read; side++) {
            const lane *ln = side ? b : a;
            for (size_t i = 0; i < ln->set->n && !read; i++)
                read = probe_reads(&ps->fields[f], ln->set->rules[i]->when);
            for (size_t k = 0; k < ln->w->stop_rule_count && !read; k++)
                read = probe_reads(&ps->fields[f], ln->w->stop_rules[k].when);
        }
        if (read)
            probe_apply(ps, f, req);
    }
    return req;
}

static void note_disagreement(study *st, const probe_set *ps, const lane *a, const lane *b,
                              const char *action)
{
    /* The group: action, workflows, and each side's effect and fired ids. */
    strbuf key = {0};
    strbuf_printf(&key, "%s\x1e%s\x1e%s\x1e", action, a->w->id, b->w->id);
    strbuf_add(&key, a->fired_key.p, a->fired_key.n);
    strbuf_add(&key, "\x1e", 1);
    strbuf_add(&key, b->fired_key.p, b->fired_key.n);
    if (key.failed) {
        strbuf_release(&key);
        st->status = CHARTER_E_NOMEM;
        return;
    }
    const char *k = key.p;
    size_t dist = probe_distance(ps);
    json_t *g = json_object_get(st->groups, k);
    if (!g && json_object_size(st->groups) >= GROUPS_LISTED) {
        st->groups_not_listed++;
    } else if (g) {
        json_int_t n = json_integer_value(json_object_get(g, "cases"));
        json_object_set_new(g, "cases", json_integer(n + 1));
        if ((size_t)json_integer_value(json_object_get(g, "distance")) > dist) {
            json_object_set_new(g, "distance", json_integer((json_int_t)dist));
            json_object_set_new(g, "example", example_of(ps, a, b, action));
        }
    } else {
        g = json_object();
        json_object_set_new(g, "action", json_string(action));
        json_object_set_new(g, "sides", json_pack("[o,o]", side_json(a), side_json(b)));
        json_object_set_new(g, "because", because(a, b));
        json_object_set_new(g, "cases", json_integer(1));
        json_object_set_new(g, "distance", json_integer((json_int_t)dist));
        json_object_set_new(g, "example", example_of(ps, a, b, action));
        json_object_set_new(st->groups, k, g);
    }
    strbuf_release(&key);
}

static void note_autonomy(study *st, const lane *a, const lane *b, const char *action)
{
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%s", action, a->w->id, b->w->id);
    json_t *g = json_object_get(st->autonomy, key);
    if (!g) {
        g = json_pack("{s:s,s:[s,s],s:[s,s],s:i}", "action", action, "workflows", a->w->id,
                      b->w->id, "autonomy", ch_autonomy_name(a->w->autonomy),
                      ch_autonomy_name(b->w->autonomy), "cases", 0);
        json_object_set_new(st->autonomy, key, g);
    }
    json_int_t n = json_integer_value(json_object_get(g, "cases"));
    json_object_set_new(g, "cases", json_integer(n + 1));
}

static void compare(study *st, const probe_set *ps, const lane *lanes, size_t n,
                    const char *action)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            const lane *a = &lanes[i], *b = &lanes[j];
            if (a->effect == b->effect)
                continue;
            if (decided_by_rules(a) || decided_by_rules(b))
                note_disagreement(st, ps, a, b, action);
            else
                note_autonomy(st, a, b, action);
        }
    }
}

/* ---- One action --------------------------------------------------------------- */

static void add_conditions(probe_set *ps, const lane *ln)
{
    for (size_t i = 0; i < ln->set->n; i++)
        probe_add_program(ps, ln->set->rules[i]->when);
    for (size_t k = 0; k < ln->w->stop_rule_count; k++)
        probe_add_program(ps, ln->w->stop_rules[k].when);
}

static void skip(study *st, const char *action, const ch_workflow *w, const char *why)
{
    json_array_append_new(st->skipped, json_pack("{s:s,s:s,s:s}", "action", action,
                                                 "workflow", w->id, "why", why));
}

/* The lanes of an action: workflows that allow it, are not human-only and
 * have an agent. */
static size_t lanes_of(study *st, const char *action, lane *lanes)
{
    size_t n = 0;
    for (size_t i = 0; i < st->c->workflow_count; i++) {
        const ch_workflow *w = &st->c->workflows[i];
        if (!ch_workflow_has_action(w, action))
            continue;
        if (w->autonomy == CH_HUMAN_ONLY) {
            skip(st, action, w, "human-only: no agent decides here");
            continue;
        }
        const ch_agent *ag = first_agent(st->c, w);
        if (!ag) {
            skip(st, action, w, "no agent is granted this workflow");
            continue;
        }
        lane *ln = &lanes[n++];
        memset(ln, 0, sizeof *ln);
        ln->w = w;
        ln->agent = ag;
        ln->set = rules_on(st->c, w, action);
        if (!(ln->fired = json_array())) {
            st->status = CHARTER_E_NOMEM;
            return n;
        }
    }
    return n;
}

static void study_action(study *st, const char *action)
{
    lane *lanes = calloc(st->c->workflow_count + 1, sizeof *lanes);
    if (!lanes) {
        st->status = CHARTER_E_NOMEM;
        return;
    }
    size_t n = lanes_of(st, action, lanes);
    probe_set ps;
    probe_set_init(&ps, st->max_cases);
    for (size_t i = 0; i < n; i++)
        add_conditions(&ps, &lanes[i]);
    probe_start(&ps);
    size_t cases = 0;
    while (st->status == CHARTER_OK && !ps.failed && probe_next(&ps)) {
        json_t *req = json_object();
        for (size_t f = 0; f < ps.n; f++)
            probe_apply(&ps, f, req);
        for (size_t i = 0; i < n && st->status == CHARTER_OK; i++) {
            charter_request *r = NULL;
            charter_status s = decide_lane(st, &lanes[i], action, req, &r);
            if (s != CHARTER_OK)
                st->status = s;
            else
                track_rules(st, &lanes[i]);
            charter_request_free(r);
        }
        json_decref(req);
        if (st->status == CHARTER_OK && st->want_groups)
            compare(st, &ps, lanes, n, action);
        cases++;
    }
    if (ps.failed && st->status == CHARTER_OK)
        st->status = CHARTER_E_NOMEM;
    if (n >= 2 && st->want_groups) {
        static const char *const modes[] = {"every combination", "every pair of fields",
                                            "one field at a time"};
        json_t *wfs = json_array(), *fields = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(wfs, json_string(lanes[i].w->id));
        for (size_t f = 0; f < ps.n; f++)
            json_array_append_new(fields, json_string(ps.fields[f].name));
        json_array_append_new(st->actions,
                              json_pack("{s:s,s:o,s:o,s:I,s:s}", "action", action, "workflows",
                                        wfs, "fields", fields, "cases", (json_int_t)cases,
                                        "generated", modes[ps.mode]));
    }
    probe_set_release(&ps);
    for (size_t i = 0; i < n; i++) {
        json_decref(lanes[i].fired);
        strbuf_release(&lanes[i].fired_key);
    }
    free(lanes);
}

/* Every distinct action of the charter's workflows, in byte order. */
static json_t *all_actions(const charter *c)
{
    json_t *set = json_object();
    for (size_t i = 0; i < c->workflow_count; i++)
        for (size_t k = 0; k < c->workflows[i].actions.n; k++)
            json_object_set_new(set, c->workflows[i].actions.v[k], json_true());
    return an_sorted_keys(set);
}

static charter_status study_run(study *st, const charter *c, size_t max_cases, bool groups)
{
    memset(st, 0, sizeof *st);
    st->c = c;
    st->max_cases = max_cases;
    st->want_groups = groups;
    st->uses = calloc(c->rule_count + 1, sizeof *st->uses);
    st->actions = json_array();
    st->skipped = json_array();
    st->groups = json_object();
    st->autonomy = json_object();
    if (!st->uses || !st->actions || !st->skipped || !st->groups || !st->autonomy ||
        charter_decider_new(&st->d) != CHARTER_OK)
        return st->status = CHARTER_E_NOMEM;
    for (size_t i = 0; i < c->rule_count; i++) {
        st->uses[i].r = &c->rules[i];
        if (!(st->uses[i].preempted_by = json_object()))
            return st->status = CHARTER_E_NOMEM;
    }
    json_t *actions = all_actions(c), *a;
    size_t i;
    json_array_foreach(actions, i, a) {
        if (st->status != CHARTER_OK)
            break;
        study_action(st, json_string_value(a));
    }
    json_decref(actions);
    return st->status;
}

static void study_release(study *st)
{
    for (size_t i = 0; st->uses && i < st->c->rule_count; i++)
        json_decref(st->uses[i].preempted_by);
    free(st->uses);
    json_decref(st->actions);
    json_decref(st->skipped);
    json_decref(st->groups);
    json_decref(st->autonomy);
    charter_decider_free(st->d);
}

/* Rules whose condition held in some case but which decided none. */
static json_t *never_firing(const study *st)
{
    json_t *out = json_array();
    for (size_t i = 0; i < st->c->rule_count; i++) {
        const rule_use *u = &st->uses[i];
        if (u->r->kind != CH_RULE || !u->held || u->decided)
            continue;
        json_t *by = an_sorted_keys(json_incref(u->preempted_by));
        json_array_append_new(out, json_pack("{s:s,s:s,s:I,s:o,s:s,s:i,s:i}", "rule", u->r->id,
                                             "effect", charter_effect_name(u->r->effect),
                                             "cases", (json_int_t)u->held, "preempted_by", by,
                                             "file", u->r->pos.file ? u->r->pos.file : "",
                                             "line", (int)u->r->pos.line,
                                             "column", (int)u->r->pos.column));
    }
    return out;
}

static json_t *values_of(json_t *obj)
{
    json_t *list = json_array(), *v;
    const char *key;
    json_object_foreach(obj, key, v) {
        json_object_del(v, "distance");
        json_array_append(list, v);
    }
    return list;
}

charter_status charter_consistency(const charter *c, char **json_out, charter_error *err)
{
    if (!c || !json_out)
        return base_fail(err, CHARTER_E_INVALID,
                       "charter_consistency: a charter and an output are required");
    *json_out = NULL;
    study st;
    charter_status s = study_run(&st, c, CASES_ANALYSIS, true);
    if (s == CHARTER_OK) {
        json_t *r = json_object();
        json_object_set_new(r, "analysis", json_string("consistency"));
        json_object_set_new(r, "organization", json_string(c->name));
        json_object_set_new(r, "charter_version", json_string(c->version));
        json_object_set_new(r, "compared", json_incref(st.actions));
        json_object_set_new(r, "disagreements", values_of(st.groups));
        json_object_set_new(r, "disagreeing_cases_not_listed",
                            json_integer((json_int_t)st.groups_not_listed));
        json_object_set_new(r, "autonomy_differences", values_of(st.autonomy));
        json_object_set_new(r, "never_fire", never_firing(&st));
        json_object_set_new(r, "skipped", json_incref(st.skipped));
        *json_out = an_json_dump(r, AN_JSON_COMPACT);
        json_decref(r);
        if (!*json_out)
            s = CHARTER_E_NOMEM;
    }
    study_release(&st);
    return s == CHARTER_OK ? s : base_fail(err, s, "consistency analysis failed: %s",
                                          charter_status_message(s));
}

charter_status charter_rule_warnings(const charter *c, charter_diag **out, size_t *n,
                                     charter_error *err)
{
    if (!c || !out || !n)
        return base_fail(err, CHARTER_E_INVALID,
                       "charter_rule_warnings: charter, out and n are required");
    *out = NULL;
    *n = 0;
    study st;
    charter_status s = study_run(&st, c, CASES_CHECK, false);
    json_t *list = s == CHARTER_OK ? never_firing(&st) : NULL;
    study_release(&st);
    if (s != CHARTER_OK)
        return base_fail(err, s, "rule analysis failed: %s", charter_status_message(s));
    /* One block: the diagnostics, then their strings. */
    size_t count = json_array_size(list), bytes = count * sizeof(charter_diag);
    json_t *w;
    size_t i;
    json_t *texts = json_array();
    json_array_foreach(list, i, w) {
        char msg[1024], by[600] = "";
        size_t used = 0, k;
        json_t *x;
        json_array_foreach(json_object_get(w, "preempted_by"), k, x) {
            int m = snprintf(by + used, sizeof by - used, "%s'%s'", k ? ", " : "",
                             json_string_value(x));
            if (m < 0 || (size_t)m >= sizeof by - used)
                break;
            used += (size_t)m;
        }
        long long cases = an_jint(w, "cases");
        snprintf(msg, sizeof msg, "%s rule '%s' never decides: in %s %lld generated case%s "
                 "where its condition holds, %s decide%s first; remove it or narrow what "
                 "pre-empts it", an_jstr(w, "effect"), an_jstr(w, "rule"),
                 cases == 1 ? "the" : "all", cases, cases == 1 ? "" : "s",
                 used ? by : "a boundary or deny rule",
                 json_array_size(json_object_get(w, "preempted_by")) == 1 ? "s" : "");
        json_array_append_new(texts, json_string(msg));
        bytes += strlen(msg) + 1 + strlen(an_jstr(w, "file")) + 1;
    }
    charter_diag *d = count ? malloc(bytes) : NULL;
    if (count && !d) {
        json_decref(list);
        json_decref(texts);
        return base_fail(err, CHARTER_E_NOMEM, "out of memory");
    }
    char *strs = (char *)(d + count);
    json_array_foreach(list, i, w) {
        const char *msg = json_string_value(json_array_get(texts, i));
        const char *file = an_jstr(w, "file");
        size_t fl = strlen(file) + 1, ml = strlen(msg) + 1;
        memcpy(strs, file, fl);
        d[i].file = strs;
        strs += fl;
        memcpy(strs, msg, ml);
        d[i].message = strs;
        strs += ml;
        d[i].code = "rule-shadowed";
        d[i].line = (unsigned)an_jint(w, "line");
        d[i].column = (unsigned)an_jint(w, "column");
    }
    json_decref(list);
    json_decref(texts);
    *out = d;
    *n = count;
    return CHARTER_OK;
}
