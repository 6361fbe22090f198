/* tally.h - one streaming pass over a ledger, counted for the report and
 * the readiness map.
 *
 * The pass reads every entry once, in seq order, and keeps only counters:
 * per (thing, period) cells in one hash table, the escalations still open
 * (until resolved or past their deadline), and a small direct-mapped cache
 * of recent decisions so an outcome tied to a decision learns its workflow.
 * Nothing is proportional to the ledger's length: memory grows with the
 * names in it (workflows, agents, queues, rules, values, metrics), the
 * number of periods, and the escalations open at the same time.
 *
 * Names are interned (an_strtab) and cells are keyed by (kind, name id,
 * period). The charter is not needed while counting: fired rules carry
 * their value, decisions their workflow, so the model is applied when the
 * counts are rendered.
 */
#ifndef CHARTER_ANALYSES_TALLY_H
#define CHARTER_ANALYSES_TALLY_H

#include <stdbool.h>
#include <stdint.h>

#include "charter_analyses.h"

/* ---- Interned names ------------------------------------------------------ */

typedef struct an_strtab {
    char **v;          /* id -> NUL-terminated name (malloc'd) */
    uint32_t n, cap;
    uint32_t *slots;   /* open addressing: id + 1, 0 = empty */
    uint32_t nslots;   /* power of two */
} an_strtab;

#define AN_NONE UINT32_MAX

/* The id of p[0..n), adding it when new; AN_NONE when out of memory. */
uint32_t an_intern(an_strtab *t, const char *p, size_t n);
/* The id of an existing name, or AN_NONE. */
uint32_t an_lookup(const an_strtab *t, const char *p, size_t n);
void an_strtab_release(an_strtab *t);

/* ---- Cells ---------------------------------------------------------------- */

/* What a cell counts. Per-period cells have a period; totals use
 * AN_TOTAL. */
typedef enum an_kind {
    AN_METRIC = 1,   /* per metric, per period: obs (n), sum */
    AN_METRIC_WF,    /* per "metric\x1fworkflow", per period: same */
    AN_WF,           /* per workflow, per period and total: see AN_WF_* */
    AN_WF_AGENT,     /* per "workflow\x1fagent", per period: decisions */
    AN_AGENT,        /* per agent, total: AN_AG_* */
    AN_QUEUE,        /* per queue, total: AN_ESC_* */
    AN_RULE,         /* per rule or boundary id, total: AN_ESC_* + AN_RULE_FIRED */
    AN_VALUE         /* per value, total: AN_VAL_* */
} an_kind;

#define AN_TOTAL INT32_MIN

/* *_APPROVED counts every approval; *_APPROVED_GRANT those of them given by
 * a standing approval (an escalation_resolved entry with a "grant"). */
enum { AN_WF_DECISIONS, AN_WF_BOUNDARY, AN_WF_ESCALATED, AN_WF_ALLOW, AN_WF_DENY,
       AN_WF_APPROVED, AN_WF_DENIED, AN_WF_TIMED_OUT, AN_WF_OPEN, AN_WF_STOP,
       AN_WF_APPROVED_GRANT };
enum { AN_AG_DECISIONS, AN_AG_ALLOW, AN_AG_ESCALATE, AN_AG_DENY, AN_AG_BOUNDARY,
       AN_AG_STOP, AN_AG_SHADOW, AN_AG_APPROVED, AN_AG_DENIED, AN_AG_TIMED_OUT,
       AN_AG_APPROVED_GRANT };
/* Escalations of a queue or an escalate rule. Minutes to resolve: `sum`
 * over AN_ESC_RESOLVED, the largest in `max`. */
enum { AN_ESC_ESCALATED, AN_ESC_APPROVED, AN_ESC_DENIED, AN_ESC_TIMED_OUT,
       AN_ESC_OPEN, AN_ESC_RESOLVED, AN_RULE_FIRED, AN_ESC_APPROVED_GRANT };
enum { AN_VAL_FIRED, AN_VAL_ESCALATED, AN_VAL_OVERRULED, AN_VAL_UPHELD,
       AN_VAL_TIMED_OUT };

#define AN_COUNTERS 11

typedef struct an_cell {
    uint32_t kind;     /* 0: empty slot */
    uint32_t name;
    int32_t period;
    uint64_t c[AN_COUNTERS];
    double sum, max;
} an_cell;

/* ---- The pass ------------------------------------------------------------- */

typedef struct an_open_esc an_open_esc;   /* tally.c */
typedef struct an_recent an_recent;       /* tally.c */

typedef struct an_tally {
    charter_period by;
    an_strtab names;
    an_cell *cells;
    size_t ncells, cells_cap;     /* cells_cap: power of two */
    an_open_esc *open;            /* open escalations by decision seq */
    size_t nopen, open_cap;
    an_recent *recent;            /* direct-mapped, AN_RECENT entries */
    int32_t *periods;             /* distinct periods seen, sorted */
    size_t nperiods, periods_cap;
    int64_t since_ms, until_ms;   /* the window (by decision, resolution or
                                     report time; until 0: no end) */
    int64_t now_ms;               /* latest such time read so far */
    uint64_t since_sweep;
    /* Totals. */
    uint64_t entries, decisions, allow, escalate, deny, resolutions, outcomes;
    uint64_t late_resolutions;    /* resolving an escalation already counted
                                     as timed out, or decided before --since */
    uint64_t unparsed;            /* payloads without the expected fields */
    /* The last charter version recorded (canonical JSON), malloc'd. */
    char *charter_json;
    char charter_version[80];     /* its version, "" when none */
    charter_status status;        /* CHARTER_E_NOMEM once memory ran out */
} an_tally;

void an_tally_init(an_tally *t, charter_period by);
void an_tally_release(an_tally *t);

/* Reads the ledger at `path` into t, counting decisions made, resolutions
 * given and outcomes reported in [since, until) (until 0: no end); times
 * are those the entries carry (a decision's time, a resolution's, an
 * outcome's report time), not when they were written. After the pass,
 * escalations whose deadline is before the latest of those times count as
 * timed out, the others as open. */
charter_status an_tally_ledger(an_tally *t, const char *path, int64_t since_ms,
                               int64_t until_ms, charter_error *err);

/* The cell, or NULL when never counted. The pointer lives until the next
 * count (the table may grow), so for as long as the tally after the pass. */
const an_cell *an_cell_find(const an_tally *t, an_kind k, uint32_t name, int32_t period);
/* The cell for a name given as text, or NULL. */
const an_cell *an_cell_named(const an_tally *t, an_kind k, const char *name,
                             int32_t period);

/* Period arithmetic: the period containing t_ms, and its first ms. */
int32_t an_period_of(charter_period by, int64_t t_ms);
int64_t an_period_start(charter_period by, int32_t p);
/* "2026-11-24" (a day, or the Monday starting a week) into buf[16]. */
void an_period_label(charter_period by, int32_t p, char buf[16]);

#endif
