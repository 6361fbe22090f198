/* reads.c - what a person judging an escalation needs from the charter
 * serving now (the inbox, docs/http-api.md): the request fields a fired
 * rule's, boundary's or stop rule's condition reads, a value's rank and
 * statement, and what a queue does at its deadline and its approval policy.
 *
 * A field is found by ch_field_path_of (reads.h), which the consistency
 * analysis (analyses/probe.c) uses too, and named as written
 * ("input.amount"); here a has() test reads the field it tests.
 */
#include "base/banned.h"

#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "charter/model.h"
#include "engine/reads.h"

const char *ch_slot_name(int slot)
{
    switch (slot) {
    case CH_SLOT_INPUT: return "input";
    case CH_SLOT_SUBJECT: return "subject";
    case CH_SLOT_CONTEXT: return "context";
    case CH_SLOT_CONFIDENCE: return "confidence";
    default: return NULL;
    }
}

static bool path_of(const cel_node *n, bool with_has, ch_field_path *p)
{
    if (!n)
        return false;
    if (n->op == CEL_OP_VAR) {
        p->slot = n->slot;
        p->nkeys = 0;
        return ch_slot_name(n->slot) != NULL;
    }
    const char *key = NULL;
    size_t len = 0;
    if (n->op == CEL_OP_SELECT || (with_has && n->op == CEL_OP_HAS)) {
        key = n->name;
        len = n->name_n;
    } else if (n->op == CEL_OP_INDEX && n->b && n->b->op == CEL_OP_LIT &&
               n->b->lit.kind == CEL_STRING) {
        key = n->b->lit.v.s.p;
        len = n->b->lit.v.s.n;
    }
    /* Only the outermost step may be a has() test. */
    if (!key || !path_of(n->a, false, p) || p->slot == CH_SLOT_CONFIDENCE ||
        p->nkeys == CH_FIELD_MAX_KEYS)
        return false;
    p->keys[p->nkeys] = key;
    p->lens[p->nkeys++] = len;
    return true;
}

bool ch_field_path_of(const cel_node *n, bool with_has, ch_field_path *p)
{
    return path_of(n, with_has, p);
}

/* Writes the field's name into *b ("input.amount"). */
static void field_name(const ch_field_path *p, strbuf *b)
{
    const char *v = ch_slot_name(p->slot);
    strbuf_add(b, v, strlen(v));
    for (size_t k = 0; k < p->nkeys; k++) {
        strbuf_add(b, ".", 1);
        strbuf_add(b, p->keys[k], p->lens[k]);
    }
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
    ch_field_path f;
    w->name.n = 0;
    if (ch_field_path_of(n, true, &f) && (field_name(&f, &w->name), !w->name.failed)) {
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

bool charter_queue_policy_get(const charter *c, const char *queue,
                              charter_queue_policy *out)
{
    const ch_queue *q = c && queue && out ? ch_find_queue(c, queue) : NULL;
    if (!q)
        return false;
    *out = (charter_queue_policy){
        .quorum = q->quorum >= 1 ? (int)q->quorum : 1,
        .quorum_when = q->quorum_when != NULL,
        .note_always = q->require_note == CH_NOTE_ALWAYS,
        .self_approval = q->self_approval,
        .grant_max_ms = q->grant_max_ms,
    };
    return true;
}
