/* grant.h - the ledger-internal side of standing approvals (grant.c).
 *
 * A grant is an entry ("grant", docs/ledger.md) that a person records
 * while approving an escalation; its id is "g-<seq>". The recorder rebuilds
 * the grants (state.h, state_grant) from those entries, "grant_revoked"
 * entries and the "grant" field of "escalation_resolved" entries (what each
 * grant approved), with the functions below.
 *
 * Every approval a grant gives goes through ledger_resolve (policy.h), the
 * path of a person's approval, with the grant's id and its amount cap.
 *
 * Thread safety: the rebuild functions run while the ledger opens (one
 * thread); the others take the ledger's locks themselves.
 */
#ifndef CHARTER_LEDGER_GRANT_H
#define CHARTER_LEDGER_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "charter_ledger.h"



/* Rule ids at least this long are not kept ("" : as if none). */
#define GRANT_RULE_MAX 256

/* The id of the rule whose effect made a decision escalate, read from its
 * recorded answer (`answer`, n bytes: the JSON object charter_decision_json
 * writes): the first fired entry of kind "rule" and effect "escalate".
 * "" when none (the workflow's or the charter's default escalated it).
 * An id of GRANT_RULE_MAX bytes or more, or of cap bytes or more, gives ""
 * too (out is always terminated). */
void ledger_escalation_rule(const char *answer, size_t n, char *out, size_t cap);

/* "g-<seq>" into id (size 32); parsing it back: false when malformed. */
void ledger_grant_id(uint64_t seq, char id[32]);
bool ledger_grant_id_parse(const char *id, uint64_t *seq);

/* Rebuild: a "grant" entry of seq `seq` (payload: the JSON object), a
 * "grant_revoked" entry. CHARTER_E_JSON when required fields are missing. */
charter_status ledger_grant_rebuild(charter_ledger *l, uint64_t seq, const char *payload,
                                    size_t n);
charter_status ledger_grant_rebuild_revoked(charter_ledger *l, const char *payload,
                                            size_t n);

#endif
