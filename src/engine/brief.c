/* brief.c - charter_brief: the intent one agent needs, as Markdown.
 *
 * The brief goes into the agent's system prompt, so it is written to the
 * agent ("you"): the organization's purpose and context, the ranked values,
 * then per granted workflow its autonomy, goals (outcome targets and health
 * limits), budgets and the rules that deny, escalate (to whom, how fast) or
 * allow, and finally the hard boundaries with their sources. Everything
 * comes from the same charter the engine decides with, so the brief and the
 * decisions cannot drift apart.
 */
#include "base/banned.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/fail.h"
#include "charter/model.h"

typedef struct md {
    char *p;
    size_t n, cap;
    bool failed;
    /* Queues named so far, listed once at the end. */
    const ch_queue **queues;
    size_t queue_count, queue_cap;
} md;

static void md_printf(md *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void md_printf(md *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int len = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (len < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)len < room) {
            b->n += (size_t)len;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void md_list(md *b, const ch_strs *s, const char *quote)
{
    for (size_t i = 0; i < s->n; i++)
        md_printf(b, "%s%s%s%s", i ? ", " : "", quote, s->v[i], quote);
}

static void md_duration(md *b, int64_t ms)
{
    static const struct { int64_t ms; const char *unit; } units[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    if (ms <= 0) {
        md_printf(b, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms >= units[i].ms) {
            md_printf(b, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            ms %= units[i].ms;
        }
    }
}

static const char *autonomy_meaning(ch_autonomy a)
{
    switch (a) {
    case CH_AGENT_READY:
        return "you may do this work end to end, within the boundaries, budgets "
               "and rules below";
    case CH_AGENT_AUGMENTED:
        return "you propose, a person decides: your actions are escalated for "
               "approval unless a rule below explicitly allows them";
    case CH_HUMAN_ONLY:
        return "people do this work; you must not act in it: hand it to a person";
    }
    return "";
}

static bool rule_applies(const ch_rule *r, const ch_workflow *w)
{
    if (!r->workflow_count)
        return true;
    for (size_t i = 0; i < r->workflow_count; i++)
        if (r->workflows[i] == w || !strcmp(r->workflows[i]->id, w->id))
            return true;
    return false;
}

static void queue_note(md *b, const ch_queue *q)
{
    for (size_t i = 0; i < b->queue_count; i++)
        if (b->queues[i] == q)
            return;
    if (b->queue_count == b->queue_cap) {
        size_t cap = b->queue_cap ? b->queue_cap * 2 : 8;
        const ch_queue **p = realloc(b->queues, cap * sizeof *p);
        if (!p) {
            b->failed = true;
            return;
        }
        b->queues = p;
        b->queue_cap = cap;
    }
    b->queues[b->queue_count++] = q;
}

/* A reference to a queue; its details come once, in "Escalation queues". */
static void md_queue_ref(md *b, const ch_queue *q)
{
    md_printf(b, "queue `%s`", q->id);
    queue_note(b, q);
    if (q->on_timeout == CH_TIMEOUT_NEXT && q->next)
        queue_note(b, q->next);
}

static void md_queue(md *b, const ch_queue *q)
{
    md_printf(b, "- **%s**", q->id);
    if (q->description)
        md_printf(b, ": %s", q->description);
    md_printf(b, ".");
    if (q->roles.n) {
        md_printf(b, " Approver roles: ");
        md_list(b, &q->roles, "");
        md_printf(b, ".");
    }
    if (q->members.n) {
        md_printf(b, " Approvers: ");
        md_list(b, &q->members, "");
        md_printf(b, ".");
    }
    if (q->sla_ms > 0) {
        md_printf(b, " Answered within ");
        md_duration(b, q->sla_ms);
        md_printf(b, "; if not, %s",
                  q->on_timeout == CH_TIMEOUT_ALLOW  ? "the action is allowed"
                  : q->on_timeout == CH_TIMEOUT_NEXT ? "it moves to queue"
                                                     : "the action is denied");
        if (q->on_timeout == CH_TIMEOUT_NEXT && q->next)
            md_printf(b, " `%s`", q->next->id);
        md_printf(b, ".");
    }
    md_printf(b, "\n");
}

/* Where the rule applies and when: "on `a`, `b` when `expr`". */
static void md_rule_scope(md *b, const ch_rule *r)
{
    if (r->actions.n) {
        md_printf(b, " Applies to ");
        md_list(b, &r->actions, "`");
        if (r->when)
            md_printf(b, " when `%s`.", cel_program_source(r->when));
        else
            md_printf(b, ".");
    } else if (r->when) {
        md_printf(b, " Applies when `%s`.", cel_program_source(r->when));
    }
}

static void md_goal(md *b, const ch_goal *g)
{
    md_printf(b, "- **%s**: %s", g->id, g->objective);
    if (g->serves_count) {
        md_printf(b, " Serves: ");
        for (size_t i = 0; i < g->serves_count; i++)
            md_printf(b, "%s%s", i ? ", " : "", g->serves[i]->id);
        md_printf(b, ".");
    }
    md_printf(b, "\n");
    for (size_t i = 0; i < g->outcome_count; i++) {
        const ch_outcome *o = &g->outcomes[i];
        md_printf(b, "  - Outcome: `%s` target %g (%s is better)\n", o->metric,
                  o->target, o->direction == CH_DECREASE ? "lower" : "higher");
    }
    for (size_t i = 0; i < g->health_count; i++) {
        const ch_health *h = &g->health[i];
        md_printf(b, "  - Health (must not degrade): `%s`",
                  h->metric);
        if (h->has_min)
            md_printf(b, " at least %g", h->min);
        if (h->has_min && h->has_max)
            md_printf(b, " and");
        if (h->has_max)
            md_printf(b, " at most %g", h->max);
        md_printf(b, "\n");
    }
}

static void md_stop_rule(md *b, const ch_stop_rule *s)
{
    md_printf(b, "- **%s**:", s->id);
    const char *sep = " ";
    if (s->max_actions_per_run >= 0) {
        md_printf(b, "%sat most %lld actions per run", sep, (long long)s->max_actions_per_run);
        sep = "; ";
    }
    if (s->max_actions_per_day >= 0) {
        md_printf(b, "%sat most %lld actions per day", sep, (long long)s->max_actions_per_day);
        sep = "; ";
    }
    if (s->max_spend_per_run >= 0) {
        md_printf(b, "%sat most %g spend per run", sep, s->max_spend_per_run);
        sep = "; ";
    }
    if (s->max_spend_per_day >= 0) {
        md_printf(b, "%sat most %g spend per day", sep, s->max_spend_per_day);
        sep = "; ";
    }
    if (s->spend)
        md_printf(b, " (an action's spend is `%s`)", cel_program_source(s->spend));
    if (s->when)
        md_printf(b, "%sstop when `%s`", sep, cel_program_source(s->when));
    md_printf(b, ".");
    if (s->message)
        md_printf(b, " %s", s->message);
    md_printf(b, "\n");
}

static unsigned rank_of(const ch_rule *r)
{
    return r->protects ? r->protects->rank : UINT_MAX;
}

static void md_rules(md *b, const charter *c, const ch_workflow *w)
{
    static const struct { charter_effect e; const char *title; } groups[] = {
        {CHARTER_DENY, "You must not"},
        {CHARTER_ESCALATE, "Escalate to a person"},
        {CHARTER_ALLOW, "You may go ahead"},
    };
    for (size_t g = 0; g < 3; g++) {
        bool any = false;
        /* Rank order of the protected value, as decisions explain them;
         * c->rules is sorted by id within each rank. */
        for (unsigned pass = 0; pass <= c->value_count; pass++) {
            for (size_t i = 0; i < c->rule_count; i++) {
                const ch_rule *r = &c->rules[i];
                unsigned rank = rank_of(r);
                if (r->kind != CH_RULE || r->effect != groups[g].e || !rule_applies(r, w))
                    continue;
                if (pass < c->value_count ? rank != pass : rank < c->value_count)
                    continue;
                if (!any)
                    md_printf(b, "\n**%s**\n\n", groups[g].title);
                any = true;
                md_printf(b, "- **%s**: %s", r->id, r->message);
                md_rule_scope(b, r);
                if (r->protects)
                    md_printf(b, " Protects %s.", r->protects->id);
                if (r->effect == CHARTER_ESCALATE) {
                    const ch_queue *q = r->escalate_to ? r->escalate_to
                                        : w->escalate_to ? w->escalate_to
                                                         : c->default_queue;
                    if (q) {
                        md_printf(b, " Goes to ");
                        md_queue_ref(b, q);
                        md_printf(b, ".");
                    }
                }
                if (r->obligations.n) {
                    md_printf(b, " If you proceed you must: ");
                    md_list(b, &r->obligations, "`");
                    md_printf(b, ".");
                }
                md_printf(b, "\n");
            }
        }
    }
}

/* Whether a decision in `w` can be an escalation. */
static bool can_escalate(const charter *c, const ch_workflow *w)
{
    if (w->autonomy == CH_AGENT_AUGMENTED || w->default_effect == CHARTER_ESCALATE)
        return true;
    for (size_t i = 0; i < c->rule_count; i++)
        if (c->rules[i].kind == CH_RULE && c->rules[i].effect == CHARTER_ESCALATE &&
            rule_applies(&c->rules[i], w))
            return true;
    return false;
}

static void md_workflow(md *b, const charter *c, const ch_workflow *w)
{
    md_printf(b, "\n### %s (%s)\n\n", w->id, ch_autonomy_name(w->autonomy));
    if (w->description)
        md_printf(b, "%s\n\n", w->description);
    if (w->department || w->owner) {
        if (w->department)
            md_printf(b, "Department: %s. ", w->department);
        if (w->owner)
            md_printf(b, "Accountable owner: %s.", w->owner);
        md_printf(b, "\n\n");
    }
    md_printf(b, "Autonomy %s: %s.\n\n", ch_autonomy_name(w->autonomy),
              autonomy_meaning(w->autonomy));
    if (w->autonomy == CH_HUMAN_ONLY)
        return;
    md_printf(b, "Actions: ");
    md_list(b, &w->actions, "`");
    md_printf(b, ". When no rule applies: %s.\n",
              w->autonomy == CH_AGENT_AUGMENTED && w->default_effect == CHARTER_ALLOW
                  ? "escalate"
                  : charter_effect_name(w->default_effect));
    const ch_queue *q = w->escalate_to ? w->escalate_to : c->default_queue;
    if (q && can_escalate(c, w)) {
        md_printf(b, "Escalations go to ");
        md_queue_ref(b, q);
        md_printf(b, " unless a rule names another.\n");
    }
    if (w->goal_count) {
        md_printf(b, "\n**Goals**\n\n");
        for (size_t i = 0; i < w->goal_count; i++)
            md_goal(b, w->goals[i]);
    }
    if (w->stop_rule_count) {
        md_printf(b, "\n**Budgets**: past any of these you are stopped.\n\n");
        for (size_t i = 0; i < w->stop_rule_count; i++)
            md_stop_rule(b, &w->stop_rules[i]);
    }
    md_rules(b, c, w);
}

static void md_boundaries(md *b, const charter *c, const ch_workflow *const *ws,
                          size_t nw)
{
    bool any = false;
    for (size_t i = 0; i < c->rule_count; i++) {
        const ch_rule *r = &c->rules[i];
        if (r->kind != CH_BOUNDARY)
            continue;
        bool applies = false;
        for (size_t k = 0; k < nw && !applies; k++)
            applies = ws[k]->autonomy != CH_HUMAN_ONLY && rule_applies(r, ws[k]);
        if (!applies)
            continue;
        if (!any)
            md_printf(b, "\n## Hard boundaries\n\nNever cross these. Nothing overrides "
                         "them, not even a person approving an escalation.\n\n");
        any = true;
        md_printf(b, "- **%s**: %s", r->id, r->message);
        if (r->workflow_count) {
            md_printf(b, " In ");
            for (size_t k = 0; k < r->workflow_count; k++)
                md_printf(b, "%s`%s`", k ? ", " : "", r->workflows[k]->id);
            md_printf(b, ".");
        }
        md_rule_scope(b, r);
        if (r->source)
            md_printf(b, " Source: %s.", r->source);
        if (r->protects)
            md_printf(b, " Protects %s.", r->protects->id);
        md_printf(b, "\n");
    }
}

charter_status charter_brief(const charter *c, const char *agent,
                             const char *workflow, char **out, charter_error *err)
{
    if (out)
        *out = NULL;
    if (!c || !agent || !out)
        return base_fail(err, CHARTER_E_INVALID,
                          "charter_brief: the charter, agent and out must not be NULL");
    const ch_agent *a = ch_find_agent(c, agent);
    if (!a) {
        char known[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < c->agent_count && used < sizeof known - 1; i++) {
            int n = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                             c->agents[i].id);
            if (n < 0)
                break;
            used += (size_t)n;
        }
        return base_fail(err, CHARTER_E_REF,
                          "unknown agent '%.200s'; expected one of the registered "
                          "agents: %s", agent, c->agent_count ? known : "(none)");
    }
    const ch_workflow *const *ws = a->workflows;
    size_t nw = a->workflow_count;
    const ch_workflow *one = NULL;
    if (workflow) {
        one = ch_find_workflow(c, workflow);
        if (!one || !ch_agent_has_workflow(a, one))
            return base_fail(err, CHARTER_E_REF,
                              "agent '%s' is not granted workflow '%.200s'%s", a->id,
                              workflow, one ? "" : " (no such workflow)");
        ws = &one;
        nw = 1;
    }

    md b = {0};
    md_printf(&b, "# Brief for agent `%s`\n\n", a->id);
    md_printf(&b, "You act for **%s**", c->name ? c->name : "");
    if (a->department)
        md_printf(&b, ", in the %s department", a->department);
    if (a->owner)
        md_printf(&b, "; your owner is %s", a->owner);
    md_printf(&b, ".\n");
    if (a->description)
        md_printf(&b, "\n%s\n", a->description);
    if (c->purpose)
        md_printf(&b, "\n## Purpose\n\n%s\n", c->purpose);
    if (c->context)
        md_printf(&b, "\n## Context\n\n%s\n", c->context);
    if (c->value_count) {
        md_printf(&b, "\n## Values, most important first\n\n");
        for (size_t i = 0; i < c->value_count; i++)
            md_printf(&b, "%zu. **%s**: %s\n", i + 1, c->values[i].id, c->values[i].statement);
        md_printf(&b, "\nWhen values conflict, the one ranked higher wins.\n");
    }
    md_printf(&b, "\n## Your workflows\n");
    if (!nw)
        md_printf(&b, "\nYou are granted no workflow: every action you ask for is denied.\n");
    for (size_t i = 0; i < nw; i++)
        md_workflow(&b, c, ws[i]);
    md_boundaries(&b, c, ws, nw);
    if (b.queue_count) {
        md_printf(&b, "\n## Escalation queues\n\nWhen you escalate, a person in the "
                      "queue decides and you wait for the answer.\n\n");
        /* md_queue may not add queues, so the count is stable here. */
        for (size_t i = 0; i < b.queue_count; i++)
            md_queue(&b, b.queues[i]);
    }
    md_printf(&b, "\n## How to act\n\nAsk Charter before every consequential action. "
                  "A deny is final; an escalation waits for a person; follow every "
                  "obligation of an allowed action.\n");
    free(b.queues);
    if (b.failed || !b.p) {
        free(b.p);
        return base_fail(err, CHARTER_E_NOMEM, "out of memory writing the brief");
    }
    *out = b.p;
    return CHARTER_OK;
}
