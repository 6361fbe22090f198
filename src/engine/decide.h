/* decide.h - the decider: per-thread scratch for charter_decide.
 *
 * A decider holds everything one decision needs and reuses it: a scratch
 * arena reset at the start of each decision (CEL temporaries, the fired
 * list, values, obligations, explanation), the slot array conditions read,
 * and the output buffer charter_decision_json writes into. Once the arena
 * and the buffer have grown to their working size a decision allocates
 * nothing. A decider belongs to one thread.
 */
#ifndef CHARTER_ENGINE_DECIDE_H
#define CHARTER_ENGINE_DECIDE_H

#include "charter/model.h"

struct charter_decider {
    arena scratch;
    cel_value slots[CH_SLOT_COUNT_];
    charter_decision dec;
    char *out;          /* charter_decision_json buffer (malloc'd) */
    size_t out_cap;
};

#endif
