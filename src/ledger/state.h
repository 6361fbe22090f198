/* state.h - what a recording ledger keeps in memory, rebuilt from its
 * entries when it opens: the stop-rule counters (actions and spend per
 * agent's run and per agent per UTC day), the escalated decisions and whether each is
 * resolved (with the approvals of a quorum so far), which seqs are
 * decisions, and the standing approvals (grants). A quorum's approvals
 * ("escalation_approval") count nothing.
 *
 * What counts against a budget: an allowed decision counts at once; an
 * escalated one counts when it is resolved "approve" (against the run and
 * the day of the decision); denied decisions never count.
 *
 * On a ledger several servers share, the state is a replica of the chain:
 * entries other servers appended ("foreign") are applied to it as they are
 * read, with mark_seq set to the entry's seq, and what they change
 * (counters, escalations, grants) keeps that seq in its foreign_seq, so
 * that the writer can tell whether an append was decided on a state a
 * foreign entry changed since (recorder.c, validate).
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
    char *key;          /* "r:<len(agent)>:<agent>:<run_id>" or
                           "d:<day>:<agent>"; NULL: empty */
    int64_t actions;
    double spend;
    uint64_t foreign_seq;  /* the last foreign entry that changed it (0: none) */
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
    /* What the decision was: owned copies, kept after resolution so the
     * server can answer "what became of d-42" without reading the file. */
    char *agent, *run_id, *workflow, *action;
    char *queue;           /* the queue it waits in now ("" : none) */
    int64_t day;
    int64_t time_ms;       /* the decision time */
    int64_t deadline_ms;   /* 0: no deadline */
    double spend;
    /* Once resolved. */
    bool approved;
    bool timed_out;        /* resolved by its queue's on-timeout behaviour */
    char *who, *note;      /* owned; note may be NULL */
    int64_t resolved_ms;
    /* The approvals recorded (owned, distinct by ledger_same_person, in
     * order): a quorum's votes while open (they survive a move); once
     * approved every approver, the last being `who` (a deadline's approval
     * adds none). */
    char **approvers;
    size_t approver_count;
    char *grant_id;        /* approved by this standing approval (owned), or NULL */
    /* Standing approvals (grant.c). */
    char *rule;            /* the rule whose effect escalated it ("" : the
                              workflow's or charter's default) */
    /* The grants generation (ledger_state.grant_gen) at which the grant
     * pass last looked at it and found no grant to match it or had a
     * grant's approval of it refused; 0: never. Not looked at again while
     * the generation is the same (grants only lapse within one). */
    uint64_t grant_checked_gen;
    uint64_t foreign_seq;  /* the last foreign entry that changed it (0: none) */
} state_escalation;

/* An escalation as a decision opens it (strings copied). */
typedef struct state_escalation_info {
    const char *agent, *run_id, *workflow, *action, *queue;
    int64_t day, time_ms, deadline_ms;
    double spend;
    const char *rule;      /* NULL or "" : none */
} state_escalation_info;

/* A standing approval (grant.c; charter_grant in charter_ledger.h). */
typedef struct state_grant {
    uint64_t seq;          /* of its "grant" entry; its id is "g-<seq>" */
    uint64_t decision_seq; /* the escalation it came from */
    char *who, *note;      /* owned; note may be NULL */
    char *queue, *agent, *workflow, *action, *rule; /* the scope, owned */
    int64_t time_ms, expires_ms;
    int64_t max_count;     /* 0: no cap */
    double max_amount;     /* 0: no cap */
    int64_t used_count;
    double used_amount;
    bool revoked;
    char *revoked_by;      /* owned, once revoked */
    int64_t revoked_ms;
    uint64_t foreign_seq;  /* the last foreign entry that changed it (0: none) */
} state_grant;

typedef struct ledger_state {
    state_counter *counters;
    size_t counter_cap, counter_count;
    state_escalation *escalations;
    size_t esc_cap, esc_count;
    /* Seqs of the escalations opened and not yet seen resolved, in the
     * order they were opened: deadlines and open lists scan this, not every
     * escalation the ledger ever held. Resolved ones drop out when
     * ledger_state_open compacts it. */
    uint64_t *open_seqs;
    size_t open_n, open_cap;
    unsigned char *is_decision; /* bit per seq */
    size_t decision_bytes;
    /* Bumps whenever an escalation opens, is resolved (by a person or a
     * deadline) or moves to another queue, and when a grant is made or
     * revoked (which may approve some): a list of escalations taken at
     * one version is still true while the version is the same. */
    uint64_t esc_version;
    /* Standing approvals, in seq order (grant.c). */
    state_grant *grants;
    size_t grant_n, grant_cap;
    /* Bumps whenever a grant is made or revoked, and when grants are
     * applied under another charter than the last pass: an escalation whose
     * approval by a grant was refused at one generation is not tried again
     * at the same one. */
    uint64_t grant_gen;
    /* While a foreign entry is applied: its seq, which the changes it
     * makes note in their foreign_seq; 0 otherwise. */
    uint64_t mark_seq;
} ledger_state;

void ledger_state_init(ledger_state *s);
void ledger_state_release(ledger_state *s);

/* The UTC day number of a Unix-ms time (floor(ms / 86400000)). */
int64_t ledger_day(int64_t time_ms);

/* Adds (actions, spend) to the counter of the agent's run (when run_id is
 * not empty; runs are per agent) and the agent's day counter. Negative
 * values undo an earlier add. */
charter_status ledger_state_count(ledger_state *s, const char *agent,
                                  const char *run_id, int64_t day,
                                  int64_t actions, double spend);
/* Reads the counters (zeros when absent). */
void ledger_state_counters(const ledger_state *s, const char *agent,
                           const char *run_id, int64_t day,
                           charter_counters *out);
/* The highest foreign_seq of the two counters (0: none, or no foreign
 * entry changed them). */
uint64_t ledger_state_counters_foreign(const ledger_state *s, const char *agent,
                                       const char *run_id, int64_t day);

charter_status ledger_state_mark_decision(ledger_state *s, uint64_t seq);
bool ledger_state_is_decision(const ledger_state *s, uint64_t seq);

/* Records an open escalation (bumps esc_version). */
charter_status ledger_state_escalation_add(ledger_state *s, uint64_t seq,
                                           const state_escalation_info *info);
/* The escalation of decision `seq`, or NULL. */
state_escalation *ledger_state_escalation(ledger_state *s, uint64_t seq);
/* Marks it resolved by `who` (copied) at `when` (bumps esc_version); an
 * approval not by timeout adds `who` to the approvers. It counts nothing: an
 * approval's action is counted by the caller (the recorder reserves it
 * when it re-checks the approval; a rebuild counts what the entry says). */
charter_status ledger_state_escalation_resolve(ledger_state *s,
                                               state_escalation *e, bool approve,
                                               const char *who, const char *note,
                                               int64_t when, bool timed_out);
/* The seqs of the open escalations (and any being resolved), oldest first,
 * after dropping resolved ones; *n receives how many. Points into `s`,
 * valid until the state changes. */
const uint64_t *ledger_state_open(ledger_state *s, size_t *n);
/* Adds `who` (copied) to the escalation's approvers unless it is there
 * already (bumps esc_version). */
charter_status ledger_state_escalation_vote(ledger_state *s, state_escalation *e,
                                            const char *who);
/* Whether `who` is one of the escalation's approvers. */
bool ledger_state_has_approver(const state_escalation *e, const char *who);
/* Notes the standing approval that approved it (copied; NULL clears). */
charter_status ledger_state_escalation_grant(state_escalation *e, const char *grant_id);
/* Whether two names are one person's: equal but for ASCII case. */
bool ledger_same_person(const char *a, const char *b);

/* Moves an open escalation to another queue with a new deadline (bumps
 * esc_version). */
charter_status ledger_state_escalation_move(ledger_state *s, state_escalation *e,
                                            const char *queue, int64_t deadline_ms);

/* ---- Standing approvals (grant.c) ---- */

/* Adds a grant (strings copied; g->revoked etc. as given); bumps grant_gen
 * and esc_version (so the deadline thread wakes and applies it). */
charter_status ledger_state_grant_add(ledger_state *s, const state_grant *g);
/* The grant whose entry is `seq`, or NULL. */
state_grant *ledger_state_grant(ledger_state *s, uint64_t seq);
/* Marks it revoked by `who` (copied) at `when`; bumps grant_gen. */
charter_status ledger_state_grant_revoke(ledger_state *s, state_grant *g,
                                         const char *who, int64_t when);
/* Counts one approval of `spend` by grant `g` (the escalation notes its
 * grant with ledger_state_escalation_grant). */
void ledger_state_grant_use(state_grant *g, double spend);
/* Notes that the foreign entry being applied (mark_seq) changed it. */
void ledger_state_grant_mark(const ledger_state *s, state_grant *g);

#endif
