/* grant.h - the ledger-internal side of standing approvals (grant.c and
 * the escalation change path in escalation.c it goes through).
 *
 * A grant is an entry ("grant", docs/ledger.md) that a person records
 * while approving an escalation; its id is "g-<seq>". The recorder rebuilds
 * the grants (state.h, state_grant) from those entries, "grant_revoked"
 * entries and the "grant" field of "escalation_resolved" entries (what each
 * grant approved), with the functions below.
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

/* Defined in escalation.c: approves open escalation `seq` in the name of
 * `who` (the grantor) on behalf of grant `grant_seq`, through the same path
 * as a person's approval (taken, re-checked under `c` with decider `d`,
 * recorded as "escalation_resolved" with "grant", then the state learns
 * it and the grant's use is counted). A re-checked spend above max_spend
 * (< 0: no cap) refuses it too, out->refusal CHARTER_REFUSAL_NO_GRANTS.
 * Errors: CHARTER_E_REFUSED (out says why; the escalation stays open),
 * CHARTER_E_DUPLICATE (no longer open), CHARTER_E_IO, CHARTER_E_NOMEM.
 * Wakes the escalations' waiters itself. */
charter_status ledger_escalation_grant_approve(charter_ledger *l, const charter *c,
                                               charter_decider *d, uint64_t seq,
                                               const char *who, const char *note,
                                               uint64_t grant_seq, double max_spend,
                                               int64_t time_ms,
                                               charter_resolve_result *out,
                                               charter_error *err);

#endif
