/* policy.h - a queue's approval policies in the recording ledger
 * (policy.c, and the resolving in escalation.c): how many approvals an
 * escalation needs (`quorum`, its `when`), who may approve it
 * (`self_approval`), which resolutions need a note (`require_note`), and
 * the one internal path every resolution takes (ledger_resolve), so that
 * charter_ledger_resolve, the deadline pass and standing approvals all
 * enforce the same rules.
 *
 * The policies are read from the charter serving now (the caller's `c`),
 * for the queue the escalation waits in now; a queue `c` no longer has gets
 * the defaults (quorum 1, note to deny, no self-approval). The quorum's
 * `when` is evaluated on the request as recorded, with the counters its
 * decision saw, at its decision time, exactly as a rule's `when` is
 * (ch_decide_eval_when); one that cannot be evaluated counts as true.
 *
 * Thread safety: as charter_ledger (any thread; each call makes or is
 * given its own decider).
 */
#ifndef CHARTER_LEDGER_POLICY_H
#define CHARTER_LEDGER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter_ledger.h"

struct ch_queue;

/* The approvals escalation `seq` needs under `c` (>= 1): the quorum of the
 * queue it waits in now (read from the state), or 1 when that quorum's
 * `when` is false for the recorded request. `d` is a decider the call may
 * use (NULL: one is made when a `when` must be evaluated). Errors:
 * CHARTER_E_REF (not an escalation), CHARTER_E_IO (the decision cannot be
 * read back; a request that no longer parses is not an error: it needs the
 * full quorum), CHARTER_E_NOMEM. */
charter_status ledger_policy_needed(charter_ledger *l, const charter *c,
                                    charter_decider *d, uint64_t seq, int *needed,
                                    charter_error *err);

/* The same for a queue and a decision already at hand (no state read):
 * `queue` as the state names it. */
charter_status ledger_policy_needed_in(charter_ledger *l, const charter *c,
                                       charter_decider *d, uint64_t seq,
                                       const char *queue, int *needed,
                                       charter_error *err);

/* Self-approval: whether `who` may approve an escalation of agent `agent`
 * waiting in queue `queue` under `c`. False when `who` is the agent's
 * owner in `c` (equal but for ASCII case) and the queue (or, when `c` lacks
 * it, the default) does not allow self-approval; then `why` (why_size
 * bytes; may be NULL) says so: "lena owns agent x; queue q does not allow
 * self-approval". */
bool ledger_policy_may_approve(const charter *c, const char *queue, const char *agent,
                               const char *who, char *why, size_t why_size);

/* Whether a resolution (approve or not) of an escalation waiting in `q`
 * (NULL: the defaults) needs a note. */
bool ledger_policy_note_needed(const struct ch_queue *q, bool approve);

/* Whether a note is absent or only white space. */
bool ledger_policy_blank(const char *note);

/* One resolution (or quorum vote) of an escalation, as every path records
 * it. */
typedef struct ledger_resolve_args {
    const charter *c;          /* the charter serving now (required) */
    uint64_t seq;              /* the escalated decision */
    const char *who;           /* required; for a standing approval: its
                                  grantor (self-approval applies to it) */
    bool approve;
    const char *note;          /* may be NULL */
    int64_t time_ms;           /* 0: now */
    /* A standing approval's approval: recorded as "grant": grant_id in the
     * escalation_resolved entry and kept in the state (charter_escalation
     * .grant_id; the rebuild on open reads "grant" back too, recorder.c).
     * The note rule does not apply (the grant was made with its own note).
     * NULL: a person's resolution. */
    const char *grant_id;
    /* Nonzero: an approval of an escalation that needs more than one
     * approval is refused with this refusal (a grant approves alone).
     * The check runs after the escalation is taken, so it is race-free. */
    charter_refusal single_only;
    /* Filled on success of an approval that resolved: the spend its
     * re-check counted (a grant's cap on amount). */
    double spend;
    /* With cap_spend: an approval whose re-checked spend is above
     * max_spend is refused (CHARTER_REFUSAL_NO_GRANTS) and nothing is
     * recorded or counted (what a grant's amount cap has left; grant.c). */
    bool cap_spend;
    double max_spend;
} ledger_resolve_args;

/* Resolves (or records the vote of) escalation a->seq: the rules of
 * charter_ledger_resolve (policies, re-check, quorum, serialization), the
 * result in *out (may be NULL). a->spend is written. */
charter_status ledger_resolve(charter_ledger *l, ledger_resolve_args *a,
                              charter_resolve_result *out, charter_error *err);

#endif
