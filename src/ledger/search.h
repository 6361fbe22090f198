/* search.h - the ledger's derived search index: `<ledger>.search`.
 *
 * The ledger is a hash chain read in seq order; a person searching it
 * ("this agent's denials last week", "everything rule X fired in") needs
 * indexes the ledger does not have. This module keeps them in a second
 * SQLite file next to the ledger, built from the ledger's entries and
 * nothing else: it is derived, rebuildable at any time, never written by the
 * ledger's writer, and not evidence (`charter verify` ignores it). The
 * ledger file and its format do not change.
 *
 * Two sides:
 *  - the indexer (ledger_search_open / _update / _close): one per index
 *    file, on one thread (the server's search thread). It reads the ledger
 *    read-only, in chunks, and records each entry in its own transaction
 *    per chunk, so it never holds the ledger's locks and never slows a
 *    decision. A file that is not an index of this format (foreign,
 *    corrupt, another version), or an index of another ledger (the entry
 *    it stopped at has another hash now), is thrown away and rebuilt.
 *  - readers (ledger_search_decisions and the rest): any thread, each call
 *    with a connection of its own to the index file, read-only. They see
 *    what the indexer has committed; `indexed_through` says how far.
 *
 * Tables (docs/ledger.md, "The search index"): decisions (one row per
 * decision: time, agent, workflow, action, answered and final effect,
 * escalation status, reason, run id, charter version, shadow, fired ids),
 * fired (rule, boundary and stop-rule ids -> decision), events (each
 * escalation's history), outcomes (by decision), charters (every recorded
 * version and the seq of its entry). Paging is by seq, newest first
 * (keyset: `before`), so a page deep in the results costs what the first
 * one does.
 */
#ifndef CHARTER_LEDGER_SEARCH_H
#define CHARTER_LEDGER_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter.h"

/* The index file's suffix after the ledger's path. */
#define LEDGER_SEARCH_SUFFIX ".search"

/* ---- The indexer ------------------------------------------------------------ */

typedef struct ledger_search ledger_search;

/* Opens the index of the ledger at `ledger_path` (the file
 * `<ledger_path>.search`, or for a PostgreSQL ledger where ledger_sidecar
 * says, created with mode 0600 when absent) for
 * indexing. A file there that is not an index of this format is removed
 * and created anew (*rebuilt, may be NULL, says so). The ledger is not
 * opened yet: the first update does. On success *out is the caller's
 * (ledger_search_close). Errors: CHARTER_E_IO, CHARTER_E_NOMEM. */
charter_status ledger_search_open(const char *ledger_path, ledger_search **out,
                                  bool *rebuilt, charter_error *err);

/* What one update did. */
typedef struct ledger_search_step {
    uint64_t indexed;     /* entries read from the ledger by this call */
    uint64_t through;     /* the index covers entries 1..through now */
    uint64_t ledger_seq;  /* the ledger's last seq when this call looked */
    bool rebuilt;         /* the index was thrown away and started again
                             (another ledger, a replaced or deleted file) */
} ledger_search_step;

/* Indexes the entries after the last indexed one, at most `max` of them
 * (0: all there are), committing every few thousand. Cheap when there is
 * nothing new (one look at the ledger's last seq). Call it again for more.
 * Errors: CHARTER_E_IO (the ledger or the index cannot be read or
 * written), CHARTER_E_NOMEM. */
charter_status ledger_search_update(ledger_search *x, uint64_t max,
                                    ledger_search_step *out, charter_error *err);

void ledger_search_close(ledger_search *x);

/* ---- Reading ----------------------------------------------------------------- */

/* Escalation status of a decision (LEDGER_SEARCH_NONE: not escalated). */
typedef enum ledger_search_status {
    LEDGER_SEARCH_NONE = -1,
    LEDGER_SEARCH_OPEN = 0,
    LEDGER_SEARCH_APPROVED = 1,
    LEDGER_SEARCH_DENIED = 2,
    LEDGER_SEARCH_TIMED_OUT = 3
} ledger_search_status;

/* "open", "approved", "denied", "timed_out"; NULL for NONE. */
const char *ledger_search_status_name(ledger_search_status s);

/* What to look for. Zeroed, it matches every decision; strings are exact
 * matches (NULL: any). */
typedef struct ledger_search_filter {
    int64_t since_ms, until_ms;    /* decision time in [since, until); 0: open */
    const char *agent, *workflow, *action, *reason, *run_id;
    const char *rule;              /* any fired id (rule, boundary, stop rule) */
    int decision;                  /* final effect (charter_effect), or -1: any */
    int status;                    /* ledger_search_status, or -2: any */
    uint64_t before;               /* only seq < before; 0: from the newest */
    size_t limit;                  /* rows at most (0: no limit) */
} ledger_search_filter;

/* A filter that matches everything (decision and status "any"). */
void ledger_search_filter_init(ledger_search_filter *f);

/* One decision as indexed. Strings live until the callback returns. */
typedef struct ledger_search_row {
    uint64_t seq;
    int64_t time_ms;               /* the decision time */
    const char *agent, *workflow, *action, *reason, *run_id;
    charter_effect answered;       /* as first answered */
    charter_effect final;          /* an approved escalation reads allow */
    ledger_search_status status;
    const char *charter_version;   /* "" when unknown */
    bool shadow;
    const char *rules_json;        /* JSON array of the fired ids, in order */
} ledger_search_row;

typedef int (*ledger_search_row_fn)(const ledger_search_row *r, void *user);

/* How far the index has got. */
typedef struct ledger_search_position {
    uint64_t indexed_through;
} ledger_search_position;

/* Calls fn (0 to go on) for each decision matching `f`, newest (highest
 * seq) first, at most f->limit. `pos` (may be NULL) receives how far the
 * index has got. Errors: CHARTER_E_IO (no index yet, or unreadable). */
charter_status ledger_search_decisions(const char *ledger_path,
                                       const ledger_search_filter *f,
                                       ledger_search_row_fn fn, void *user,
                                       ledger_search_position *pos,
                                       charter_error *err);

/* A charter version as recorded. Strings live until the callback returns. */
typedef struct ledger_search_charter {
    const char *version, *name;
    uint64_t seq;                  /* its `charter` entry */
    int64_t time_ms;               /* when that entry was recorded */
} ledger_search_charter;

typedef int (*ledger_search_charter_fn)(const ledger_search_charter *c, void *user);

/* Every recorded charter version, newest (highest seq) first. */
charter_status ledger_search_charters(const char *ledger_path,
                                      ledger_search_charter_fn fn, void *user,
                                      charter_error *err);

/* The canonical charter JSON recorded for `version`, read from its ledger
 * entry (the index only says where it is). *out is malloc'd (the caller
 * frees it). Errors: CHARTER_E_REF (no such version recorded, or not yet
 * indexed), CHARTER_E_IO. */
charter_status ledger_search_charter_text(const char *ledger_path, const char *version,
                                          char **out, size_t *len, charter_error *err);

/* How the escalations a rule fired in were resolved. */
typedef struct ledger_search_rule_counts {
    uint64_t escalated, approved, denied, timed_out, open;
} ledger_search_rule_counts;

/* Over the escalated decisions in whose answer `rule` (any fired id)
 * appears and whose decision time is in the hour containing since_ms or
 * later (counted by the hour, so it costs a sum over at most a few rows
 * per hour, however many escalations there are). */
charter_status ledger_search_rule_history(const char *ledger_path, const char *rule,
                                          int64_t since_ms,
                                          ledger_search_rule_counts *out,
                                          charter_error *err);

/* One event of an escalation's history, oldest first; or one outcome.
 * Strings (NULL when absent) live until the callback returns. */
typedef struct ledger_search_event {
    const char *event;             /* "escalated", "moved", "approved",
                                      "denied", "timed_out", "granted" (a
                                      standing approval made from it),
                                      "grant_revoked"; "outcome" */
    int64_t time_ms;
    const char *queue, *by, *note; /* events */
    const char *metric;            /* outcomes */
    double value;
} ledger_search_event;

typedef int (*ledger_search_event_fn)(const ledger_search_event *e, void *user);

/* The escalation events of decision `seq` (oldest first) and then its
 * outcome reports (oldest first, event "outcome"). */
charter_status ledger_search_decision_events(const char *ledger_path, uint64_t seq,
                                             ledger_search_event_fn fn, void *user,
                                             charter_error *err);

#endif
