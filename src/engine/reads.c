/* reads.c - what a person judging an escalation needs from the charter
 * serving now (the inbox, docs/http-api.md): the request fields a fired
 * rule's, boundary's or stop rule's condition reads, a value's rank and
 * statement, and what a queue does at its deadline.
 *
 * The fields are found as the consistency analysis finds them
 * (analyses/probe.c): a field is a chain of selections, has() tests or
 * literal-string indexes on the `input`, `subject` or `context` variable,
 * or `confidence` itself, named as written ("input.amount").
 */
#include "base/banned.h"

#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "cel/cel_int.h"
#include "charter/model.h"

/* Deeper chains are named by their first keys only. */
#define READS_MAX_KEYS 8

static const char *slot_name(int slot)
{
    switch (slot) {
    case CH_SLOT_INPUT: return "input";
    case CH_SLOT_SUBJECT: return "subject";
    case CH_SLOT_CONTEXT: return "context";
    case CH_SLOT_CONFIDENCE: return "confidence";
    default: return NULL;
    }
}

/* Writes the field node `n` stands for into *b ("input.amount"); false
 * when it is not a field. Keys are taken outermost last. */
static bool field_name(const cel_node *n, strbuf *b, int depth)
{
    if (!n || depth > READS_MAX_KEYS)
        return false;
    if (n->op == CEL_OP_VAR) {
        const char *v = slot_name(n->slot);
        if (!v)
            return false;
        strbuf_add(b, v, strlen(v));
        return true;
    }
    const char *key = NULL;
    size_t len = 0;
    if (n->op == CEL_OP_SELECT || n->op == CEL_OP_HAS) {
        key = n->name;
        len = n->name_n;
    } else if (n->op == CEL_OP_INDEX && n->b && n->b->op == CEL_OP_LIT &&
               n->b->lit.kind == CEL_STRING) {
        key = n->b->lit.v.s.p;
        len = n->b->lit.v.s.n;
    }
    if (!key || !field_name(n->a, b, depth + 1) || (n->a->op == CEL_OP_VAR &&
                                                     n->a->slot == CH_SLOT_CONFIDENCE))
        return false;
    strbuf_add(b, ".", 1);
    strbuf_add(b, key, len);
    return true;
}

typedef struct walker {
    charter_field_fn fn;
    void *user;
    strbuf name;
    size_t count;
    bool stopped;
} walker;

/* Calls fn for each field in source order (left operand first), named by
 * its whole chain (input.a.b, not also input.a). */
static void walk(walker *w, const cel_node *n)
{
    if (!n || w->stopped)
        return;
    w->name.n = 0;
    if (field_name(n, &w->name, 0) && !w->name.failed) {
        w->count++;
        if (w->fn(w->name.p, w->user))
            w->stopped = true;
        return;
    }
    walk(w, n->a);
    walk(w, n->b);
    walk(w, n->c);
    for (uint32_t i = 0; n->args && i < n->nargs; i++)
        walk(w, n->args[i]);
}

static const cel_program *condition_of(const charter *c, const char *workflow,
                                       const char *id)
{
    for (size_t i = 0; i < c->rule_count; i++)
        if (!strcmp(c->rules[i].id, id))
            return c->rules[i].when;
    const ch_workflow *first = workflow ? ch_find_workflow(c, workflow) : NULL;
    for (size_t k = 0; first && k < first->stop_rule_count; k++)
        if (!strcmp(first->stop_rules[k].id, id))
            return first->stop_rules[k].when;
    for (size_t i = 0; i < c->workflow_count; i++)
        for (size_t k = 0; k < c->workflows[i].stop_rule_count; k++)
            if (!strcmp(c->workflows[i].stop_rules[k].id, id))
                return c->workflows[i].stop_rules[k].when;
    return NULL;
}

size_t charter_condition_reads(const charter *c, const char *workflow, const char *id,
                               charter_field_fn fn, void *user)
{
    const cel_program *p = c && id && fn ? condition_of(c, workflow, id) : NULL;
    if (!p)
        return 0;
    walker w = {.fn = fn, .user = user};
    walk(&w, p->root);
    free(w.name.p);
    return w.count;
}

bool charter_value_info(const charter *c, const char *id, unsigned *rank,
                        const char **statement)
{
    const ch_value *v = c && id ? ch_find_value(c, id) : NULL;
    if (!v)
        return false;
    if (rank)
        *rank = v->rank + 1;
    if (statement)
        *statement = v->statement;
    return true;
}

const char *charter_queue_on_timeout(const charter *c, const char *queue)
{
    const ch_queue *q = c && queue ? ch_find_queue(c, queue) : NULL;
    if (!q)
        return NULL;
    switch (q->on_timeout) {
    case CH_TIMEOUT_ALLOW: return "allow";
    case CH_TIMEOUT_NEXT: return "next";
    default: return "deny";
    }
}
