/* state.h - what a recording ledger keeps in memory, rebuilt from its
 * entries when it opens: the stop-rule counters (actions and spend per run
 * and per agent per UTC day), the escalated decisions and whether each is
 * resolved, and which seqs are decisions.
 *
 * What counts against a budget: an allowed decision counts at once; an
 * escalated one counts when it is resolved "approve" (against the run and
 * the day of the decision); denied decisions never count.
 *
 * Thread safety: none; the recorder guards a ledger_state with its mutex.
 */
#ifndef CHARTER_LEDGER_STATE_H
#define CHARTER_LEDGER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter_ledger.h"

typedef struct state_counter {
    char *key;          /* "r:<run_id>" or "d:<day>:<agent>"; NULL: empty */
    int64_t actions;
    double spend;
} state_counter;

typedef enum escalation_status {
    ESC_NONE = 0,       /* empty slot */
    ESC_OPEN,
    ESC_RESOLVING,      /* a resolution is being appended */
    ESC_RESOLVED
} escalation_status;

typedef struct state_escalation {
    uint64_t seq;
    escalation_status status;
    char *agent, *run_id;  /* freed once resolved */
    int64_t day;
    double spend;
} state_escalation;

typedef struct ledger_state {
    state_counter *counters;
    size_t counter_cap, counter_count;
    state_escalation *escalations;
    size_t esc_cap, esc_count;
    unsigned char *is_decision; /* bit per seq */
    size_t decision_bytes;
} ledger_state;

void ledger_state_init(ledger_state *s);
void ledger_state_release(ledger_state *s);

/* The UTC day number of a Unix-ms time (floor(ms / 86400000)). */
int64_t ledger_day(int64_t time_ms);

/* Adds (actions, spend) to the run's counter (when run_id is not empty) and
 * the agent's day counter. Negative values undo an earlier add. */
charter_status ledger_state_count(ledger_state *s, const char *agent,
                                  const char *run_id, int64_t day,
                                  int64_t actions, double spend);
/* Reads the counters (zeros when absent). */
void ledger_state_counters(const ledger_state *s, const char *agent,
                           const char *run_id, int64_t day,
                           charter_counters *out);

charter_status ledger_state_mark_decision(ledger_state *s, uint64_t seq);
bool ledger_state_is_decision(const ledger_state *s, uint64_t seq);

/* Records an open escalation. */
charter_status ledger_state_escalation_add(ledger_state *s, uint64_t seq,
                                           const char *agent, const char *run_id,
                                           int64_t day, double spend);
/* The escalation of decision `seq`, or NULL. */
state_escalation *ledger_state_escalation(ledger_state *s, uint64_t seq);
/* Marks it resolved; with `approve`, counts it against its run and day. */
charter_status ledger_state_escalation_resolve(ledger_state *s,
                                               state_escalation *e, bool approve);

#endif
