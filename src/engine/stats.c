/* stats.c - counts of what a loaded charter holds (charter_get_stats). */
#include "base/banned.h"

#include "charter/model.h"

void charter_get_stats(const charter *c, charter_stats *out)
{
    memset(out, 0, sizeof *out);
    out->values = c->value_count;
    out->goals = c->goal_count;
    out->workflows = c->workflow_count;
    out->agents = c->agent_count;
    out->queues = c->queue_count;
    for (size_t i = 0; i < c->rule_count; i++) {
        if (c->rules[i].kind == CH_BOUNDARY)
            out->boundaries++;
        else
            out->rules++;
    }
}
