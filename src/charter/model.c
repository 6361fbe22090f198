/* model.c - look-ups over a loaded charter (model.h).
 *
 * The loader keeps goals, workflows, agents and queues sorted by id, every
 * workflow's actions sorted, and every agent's workflow list sorted (by
 * address, which is id order), so look-ups are binary searches. Values are
 * in rank order and few: a linear scan.
 */
#include "base/banned.h"

#include "charter/model.h"

#include <stddef.h>

/* Binary search over an array of `n` structs of `size` bytes, sorted by the
 * string id at `id_offset`. */
static const void *find_sorted(const void *base, size_t n, size_t size,
                               size_t id_offset, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *elem = (const char *)base + mid * size;
        const char *elem_id;
        memcpy(&elem_id, elem + id_offset, sizeof elem_id);
        int c = strcmp(elem_id, id);
        if (c == 0)
            return elem;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const ch_value *ch_find_value(const charter *c, const char *id)
{
    for (size_t i = 0; i < c->value_count; i++) {
        if (strcmp(c->values[i].id, id) == 0)
            return &c->values[i];
    }
    return NULL;
}

const ch_goal *ch_find_goal(const charter *c, const char *id)
{
    return find_sorted(c->goals, c->goal_count, sizeof(ch_goal), offsetof(ch_goal, id), id);
}

const ch_workflow *ch_find_workflow(const charter *c, const char *id)
{
    return find_sorted(c->workflows, c->workflow_count, sizeof(ch_workflow),
                       offsetof(ch_workflow, id), id);
}

const ch_agent *ch_find_agent(const charter *c, const char *id)
{
    return find_sorted(c->agents, c->agent_count, sizeof(ch_agent), offsetof(ch_agent, id), id);
}

const ch_queue *ch_find_queue(const charter *c, const char *id)
{
    return find_sorted(c->queues, c->queue_count, sizeof(ch_queue), offsetof(ch_queue, id), id);
}

bool ch_workflow_has_action(const ch_workflow *w, const char *action)
{
    size_t lo = 0, hi = w->actions.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(w->actions.v[mid], action);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool ch_agent_has_workflow(const ch_agent *a, const ch_workflow *w)
{
    /* Compare ids, not addresses: w may come from a look-up by id. */
    size_t lo = 0, hi = a->workflow_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->workflows[mid]->id, w->id);
        if (c == 0)
            return a->workflows[mid] == w;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

const char *ch_autonomy_name(ch_autonomy a)
{
    switch (a) {
    case CH_AGENT_READY: return "agent-ready";
    case CH_AGENT_AUGMENTED: return "agent-augmented";
    case CH_HUMAN_ONLY: return "human-only";
    }
    return "unknown";
}

unsigned ch_counter_reads(const charter *c, const char *workflow)
{
    const ch_workflow *w = workflow ? ch_find_workflow(c, workflow) : NULL;
    if (w)
        return w->counter_reads;
    return c->reads_counters ? CH_READS_RUN | CH_READS_DAY : 0;
}
