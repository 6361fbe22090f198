/* warn.c - warnings for `charter check`: a charter that loads but probably
 * does not say what its authors meant. Codes are stable (scripts match on
 * them); messages say what is missing and what would fix it.
 *
 *   value-unprotected       a value no rule or boundary protects
 *   goal-no-health          a goal with outcomes but no health metric
 *   workflow-no-owner       a workflow nobody is accountable for
 *   irreversible-unguarded  an agent-ready irreversible workflow that no
 *                           boundary, deny/escalate rule or stop rule controls
 *   agent-no-owner          an agent nobody is accountable for
 *   rule-no-value           a rule that protects no value
 *   queue-unused            a queue nothing escalates to
 *   quorum-unreachable      a queue needing more approvals than it lists
 *                           members (when it names members and no roles)
 *   standing-never-applies  standing approvals on a queue whose every
 *                           escalation needs more than one approval
 */
#include "base/banned.h"

#include "charter/build.h"

#include <stdarg.h>

typedef struct wlist {
    charter *c;
    charter_diag *v;
    size_t n, cap;
    bool failed;
} wlist;

static void warn(wlist *w, const char *code, ch_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void warn(wlist *w, const char *code, ch_pos pos, const char *fmt, ...)
{
    if (w->failed)
        return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        charter_diag *p = realloc(w->v, cap * sizeof *p);
        if (!p) {
            w->failed = true;
            return;
        }
        w->v = p;
        w->cap = cap;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *m = arena_strdup(&w->c->mem, msg);
    if (!m) {
        w->failed = true;
        return;
    }
    w->v[w->n++] = (charter_diag){code, pos.file ? pos.file : "", pos.line, pos.column, m};
}

static void warn_values(wlist *w, const charter *c, const bool *is_protected)
{
    for (size_t i = 0; i < c->value_count; i++) {
        const ch_value *v = &c->values[i];
        if (!is_protected[i])
            warn(w, "value-unprotected", v->pos,
                 "value '%s' is protected by no rule or boundary; expected a rule or "
                 "boundary with 'protects: %s'", v->id, v->id);
    }
}

static void warn_goals(wlist *w, const charter *c)
{
    for (size_t i = 0; i < c->goal_count; i++) {
        const ch_goal *g = &c->goals[i];
        if (g->outcome_count && !g->health_count)
            warn(w, "goal-no-health", g->pos,
                 "goal '%s' has outcomes but no health metric: nothing says what must "
                 "not degrade while its outcomes are chased; expected a 'health' list",
                 g->id);
    }
}

static bool is_irreversible(const ch_workflow *wf)
{
    for (size_t i = 0; i < wf->attr_count; i++) {
        if (strcmp(wf->attrs[i].key, "reversibility") == 0)
            return strcmp(wf->attrs[i].value, "irreversible") == 0;
    }
    return false;
}

static void warn_workflows(wlist *w, const charter *c, const bool *is_controlled,
                           bool all_controlled)
{
    for (size_t i = 0; i < c->workflow_count; i++) {
        const ch_workflow *wf = &c->workflows[i];
        if (!wf->owner)
            warn(w, "workflow-no-owner", wf->pos,
                 "workflow '%s' has no owner; expected the accountable person in 'owner'",
                 wf->id);
        if (wf->autonomy == CH_AGENT_READY && is_irreversible(wf) && !all_controlled &&
            !is_controlled[i] && wf->stop_rule_count == 0)
            warn(w, "irreversible-unguarded", wf->pos,
                 "workflow '%s' is agent-ready and irreversible, but no boundary, deny "
                 "or escalate rule, or stop rule applies to it; expected such a control "
                 "or autonomy agent-augmented", wf->id);
    }
}

static void warn_agents(wlist *w, const charter *c)
{
    for (size_t i = 0; i < c->agent_count; i++) {
        const ch_agent *a = &c->agents[i];
        if (!a->owner)
            warn(w, "agent-no-owner", a->pos,
                 "agent '%s' has no owner; expected the accountable person in 'owner'",
                 a->id);
    }
}

static void warn_rules(wlist *w, const charter *c)
{
    for (size_t i = 0; i < c->rule_count; i++) {
        const ch_rule *r = &c->rules[i];
        if (r->kind == CH_RULE && !r->protects)
            warn(w, "rule-no-value", r->pos,
                 "rule '%s' protects no value; expected 'protects' naming the value it "
                 "serves, so its decisions can be explained", r->id);
    }
}

static void warn_queues(wlist *w, const charter *c, const bool *is_used)
{
    for (size_t i = 0; i < c->queue_count; i++) {
        const ch_queue *q = &c->queues[i];
        if (!is_used[i])
            warn(w, "queue-unused", q->pos,
                 "queue '%s' receives no escalation: it is not the default and no "
                 "workflow, rule or queue names it", q->id);
        if (q->roles.n == 0 && q->members.n > 0 && (size_t)q->quorum > q->members.n)
            warn(w, "quorum-unreachable", q->pos,
                 "queue '%s' needs %lld approvals but lists %zu member%s and no roles: "
                 "its escalations can never be approved by people; expected a quorum of "
                 "at most %zu, more members, or roles", q->id, (long long)q->quorum,
                 q->members.n, q->members.n == 1 ? "" : "s", q->members.n);
        if (q->grant_max_ms > 0 && q->quorum > 1 && !q->quorum_when)
            warn(w, "standing-never-applies", q->pos,
                 "queue '%s' allows standing approvals but every escalation needs %lld "
                 "approvals, and a standing approval only approves where one is needed; "
                 "expected a 'when' on its quorum, or no standing_approvals", q->id,
                 (long long)q->quorum);
    }
}

charter_status ch_warn_collect(charter *c, charter_error *err)
{
    wlist w = {.c = c};
    size_t nv = c->value_count, nw = c->workflow_count, nq = c->queue_count;
    bool *is_protected = calloc(nv + 1, 1), *is_controlled = calloc(nw + 1, 1),
         *is_used = calloc(nq + 1, 1);
    bool all_controlled = false;
    if (!is_protected || !is_controlled || !is_used)
        w.failed = true;
    for (size_t i = 0; !w.failed && i < c->rule_count; i++) {
        const ch_rule *r = &c->rules[i];
        if (r->protects)
            is_protected[r->protects - c->values] = true;
        if (r->escalate_to)
            is_used[r->escalate_to - c->queues] = true;
        if (r->kind == CH_RULE && r->effect == CHARTER_ALLOW)
            continue;
        if (r->workflow_count == 0)
            all_controlled = true;
        for (size_t j = 0; j < r->workflow_count; j++)
            is_controlled[r->workflows[j] - c->workflows] = true;
    }
    for (size_t i = 0; !w.failed && i < nw; i++) {
        if (c->workflows[i].escalate_to)
            is_used[c->workflows[i].escalate_to - c->queues] = true;
    }
    for (size_t i = 0; !w.failed && i < nq; i++) {
        if (c->queues[i].next)
            is_used[c->queues[i].next - c->queues] = true;
    }
    if (!w.failed && c->default_queue)
        is_used[c->default_queue - c->queues] = true;
    if (!w.failed) {
        warn_values(&w, c, is_protected);
        warn_goals(&w, c);
        warn_workflows(&w, c, is_controlled, all_controlled);
        warn_agents(&w, c);
        warn_rules(&w, c);
        warn_queues(&w, c, is_used);
    }
    free(is_protected);
    free(is_controlled);
    free(is_used);
    if (!w.failed && w.n) {
        c->warnings = arena_memdup(&c->mem, w.v, w.n * sizeof *w.v);
        w.failed = !c->warnings;
    }
    free(w.v);
    if (w.failed) {
        ch_yaml_error(err, CHARTER_E_NOMEM, NULL, "out of memory collecting warnings");
        return CHARTER_E_NOMEM;
    }
    c->warning_count = w.n;
    return CHARTER_OK;
}
