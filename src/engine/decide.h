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

/* Evaluates `p` (a bool condition compiled in the rule environment, e.g. a
 * queue's quorum `when`) for request `req` under charter `c` at time_ms,
 * with exactly the variables a rule's `when` sees when `req` is decided:
 * 1 true, 0 false, -1 when it cannot be evaluated (*error, static or in the
 * decider's scratch, says why: an unknown agent or workflow, an evaluation
 * error, not a bool). A NULL `p` is true. Uses (and resets) the decider's
 * scratch, like charter_decide. */
int ch_decide_eval_when(charter_decider *d, const charter *c, const charter_request *req,
                        int64_t time_ms, const cel_program *p, const char **error);

#endif
