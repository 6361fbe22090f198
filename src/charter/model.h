/* model.h - the in-memory model of a loaded charter.
 *
 * The loader (load.c: YAML -> model, validate.c: references and CEL,
 * canon.c: canonical JSON and version hash, warn.c: `charter check`
 * warnings) builds one `struct charter` in a single arena. After loading it
 * is immutable: the engine, briefs and analyses read it from any thread.
 * Every pointer below lives as long as the charter; strings are
 * NUL-terminated UTF-8 and never NULL unless noted ("or NULL").
 *
 * The YAML format these structs come from is in docs/charter-reference.md.
 */
#ifndef CHARTER_MODEL_H
#define CHARTER_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter.h"
#include "base/arena.h"
#include "cel/cel.h"

/* Where a thing was written, for errors and warnings. */
typedef struct ch_pos {
    const char *file;
    unsigned line, column;
} ch_pos;

typedef struct ch_strs {
    size_t n;
    const char *const *v;
} ch_strs;

typedef struct ch_value {
    const char *id;
    const char *statement;
    ch_strs metrics;          /* metric names that signal it */
    unsigned rank;            /* 0 = most important; position in `values` */
    ch_pos pos;
} ch_value;

typedef enum ch_direction { CH_INCREASE, CH_DECREASE } ch_direction;

/* An outcome metric with its target: success is reaching `target` going in
 * `direction` (increase: value >= target is met; decrease: value <= target). */
typedef struct ch_outcome {
    const char *metric;
    double target;
    ch_direction direction;
    ch_pos pos;
} ch_outcome;

/* A health metric that must not degrade: within limits when
 * (!has_min || value >= min) && (!has_max || value <= max). */
typedef struct ch_health {
    const char *metric;
    bool has_min, has_max;
    double min, max;
    ch_pos pos;
} ch_health;

typedef struct ch_goal {
    const char *id;
    const char *objective;
    size_t outcome_count;
    const ch_outcome *outcomes;
    size_t health_count;
    const ch_health *health;
    size_t serves_count;
    const struct ch_value *const *serves;   /* values it serves */
    ch_pos pos;
} ch_goal;

typedef enum ch_autonomy {
    CH_AGENT_READY,
    CH_AGENT_AUGMENTED,
    CH_HUMAN_ONLY
} ch_autonomy;

/* Readiness attributes, free-form key -> scalar string, in file order
 * (reversibility, blast_radius, regulatory_exposure, volume,
 * data_sensitivity ... see the reference for the known ones). */
typedef struct ch_attr {
    const char *key;
    const char *value;
} ch_attr;

/* Which stop-rule counters a decision may read (ch_counter_reads). */
enum ch_counter_read {
    CH_READS_RUN = 1u,   /* the counters of the request's run */
    CH_READS_DAY = 2u    /* the agent's counters of the day */
};

/* A stop rule: limits per run and per agent per day. A limit of -1 is
 * unset. `spend` is the CEL expression giving this action's spend (NULL:
 * spend 0); `when` a CEL condition that stops when true (or NULL). */
typedef struct ch_stop_rule {
    const char *id;
    int64_t max_actions_per_run;
    int64_t max_actions_per_day;
    double max_spend_per_run;      /* < 0: unset */
    double max_spend_per_day;      /* < 0: unset */
    const cel_program *spend;
    const cel_program *when;
    const char *message;
    ch_pos pos;
} ch_stop_rule;

typedef struct ch_queue ch_queue;

typedef struct ch_workflow {
    const char *id;
    const char *department;        /* or NULL */
    const char *owner;             /* or NULL */
    const char *description;       /* or NULL */
    ch_autonomy autonomy;
    charter_effect default_effect; /* explicit or the autonomy's default */
    bool has_explicit_default;
    ch_strs actions;               /* allowed actions */
    size_t goal_count;
    const ch_goal *const *goals;
    const ch_queue *escalate_to;   /* default queue, or NULL */
    size_t attr_count;
    const ch_attr *attrs;
    size_t stop_rule_count;
    const ch_stop_rule *stop_rules;
    unsigned counter_reads;        /* CH_READS_*: what its decisions read (load.c) */
    ch_pos pos;
} ch_workflow;

typedef struct ch_agent {
    const char *id;
    const char *department;        /* or NULL */
    const char *owner;             /* or NULL */
    const char *description;       /* or NULL */
    size_t workflow_count;
    const ch_workflow *const *workflows; /* granted */
    ch_pos pos;
} ch_agent;

/* A boundary (kind CH_BOUNDARY, effect always deny, `source` set) or a rule.
 * The selector: empty workflows/actions lists match every workflow/action. */
typedef enum ch_rule_kind { CH_RULE, CH_BOUNDARY } ch_rule_kind;

typedef struct ch_rule {
    ch_rule_kind kind;
    const char *id;
    size_t workflow_count;
    const ch_workflow *const *workflows;
    ch_strs actions;
    const cel_program *when;       /* NULL: always */
    charter_effect effect;
    const ch_value *protects;      /* or NULL */
    const char *message;
    const char *source;            /* boundaries: regulation, contract; or NULL */
    ch_strs obligations;
    const ch_queue *escalate_to;   /* escalate rules: queue, or NULL */
    unsigned order;                /* position in charter->rules (sorted by kind, id) */
    ch_pos pos;
} ch_rule;

typedef enum ch_on_timeout { CH_TIMEOUT_DENY, CH_TIMEOUT_ALLOW, CH_TIMEOUT_NEXT } ch_on_timeout;

/* Where a queue's notifications go (docs/charter-reference.md#escalation). */
typedef enum ch_notify_format {
    CH_NOTIFY_WEBHOOK,             /* Standard Webhooks JSON, signed */
    CH_NOTIFY_SLACK,               /* Slack incoming-webhook message */
    CH_NOTIFY_EMAIL                /* url is "mailto:address" */
} ch_notify_format;

typedef struct ch_notify_target {
    const char *url;               /* http(s):// URL, or mailto:address */
    ch_notify_format format;
} ch_notify_target;

/* Which resolutions need a note. */
typedef enum ch_note_policy { CH_NOTE_DENY, CH_NOTE_ALWAYS } ch_note_policy;

/* Shares of the SLA at which reminders go out when a queue has an SLA and
 * no `reminders` (they reach its notify targets, when it has any). */
#define CH_REMINDERS_DEFAULT {0.5, 0.9}
#define CH_REMINDERS_MAX 8
/* Limits of the other queue keys (docs/charter-reference.md#escalation). */
#define CH_NOTIFY_MAX 16                                  /* targets per queue */
#define CH_QUORUM_MAX 10                                  /* approvals a queue may need */
#define CH_GRANT_MAX_MS (INT64_C(30) * 86400 * 1000)      /* longest standing approval */

struct ch_queue {
    const char *id;
    const char *description;       /* or NULL */
    ch_strs roles;
    ch_strs members;
    int64_t sla_ms;                /* 0: no deadline */
    ch_on_timeout on_timeout;
    const ch_queue *next;          /* CH_TIMEOUT_NEXT */
    const char *notify;            /* the first target's url, or NULL */
    size_t notify_count;
    const ch_notify_target *notify_targets;
    /* Reminder times as shares of the SLA, ascending, each in (0, 1); the
     * defaults when `reminders` is absent; none without an SLA. */
    size_t reminder_count;
    double reminders[CH_REMINDERS_MAX];
    /* Approvals needed: `quorum` when quorum_when is NULL or true for the
     * escalated request, else 1. Always >= 1. */
    int64_t quorum;
    const cel_program *quorum_when;
    ch_note_policy require_note;   /* default CH_NOTE_DENY */
    bool self_approval;            /* the agent's owner may approve (default no) */
    int64_t grant_max_ms;          /* longest standing approval; 0: none allowed */
    ch_pos pos;
};

/* Index entry: the rules that can apply to one (workflow, action). Built by
 * the engine module when the charter loads (engine/index.c). */
typedef struct ch_rule_set {
    size_t n;
    const ch_rule *const *rules;   /* boundaries first, then rules, each in order */
} ch_rule_set;

struct ch_index; /* engine/index.h */

/* The readiness map's thresholds (top-level `readiness`; defaults when
 * absent, see docs/analyses.md). */
typedef struct ch_readiness_policy {
    bool is_set;                   /* the section was written */
    int64_t min_cases;             /* resolved escalations / decisions needed */
    double promote_approval;       /* approval share to promote, 0..1 */
    double boundary_rise;          /* boundary-hit rate growth to step back */
} ch_readiness_policy;

#define CH_READINESS_MIN_CASES 50
#define CH_READINESS_PROMOTE_APPROVAL 0.95
#define CH_READINESS_BOUNDARY_RISE 1.5

/* Variable slots in the CEL environment of every condition. */
enum ch_slot {
    CH_SLOT_AGENT,       /* object: id, department, owner */
    CH_SLOT_WORKFLOW,    /* object: id, department, owner, autonomy */
    CH_SLOT_ACTION,      /* string */
    CH_SLOT_INPUT,       /* map(string, dyn) */
    CH_SLOT_SUBJECT,     /* map(string, dyn) */
    CH_SLOT_CONTEXT,     /* map(string, dyn) */
    CH_SLOT_RATIONALE,   /* string */
    CH_SLOT_CONFIDENCE,  /* double */
    CH_SLOT_RUN_ID,      /* string */
    CH_SLOT_COUNTERS,    /* object: run, day -> object: actions (int), spend (double) */
    CH_SLOT_NOW,         /* timestamp */
    CH_SLOT_COUNT_
};

struct charter {
    _Atomic long refs;
    arena mem;                     /* everything below lives here */
    cel_env *env;                  /* declares the slots above, in order */

    const char *name;              /* organization name */
    const char *purpose;           /* or NULL */
    const char *context;           /* strategic context, or NULL */

    size_t value_count;   const ch_value *values;       /* rank order */
    /* goals, workflows, agents and queues are sorted by id; so are every
     * id list that points into them (a workflow's goals, an agent's or a
     * rule's workflows) and every set of strings (actions, roles ...). */
    size_t goal_count;    const ch_goal *goals;
    size_t workflow_count; const ch_workflow *workflows;
    size_t agent_count;   const ch_agent *agents;
    size_t rule_count;    const ch_rule *rules;         /* boundaries, then rules, each sorted by id */
    size_t queue_count;   const ch_queue *queues;
    const ch_queue *default_queue; /* escalation.default, or the first queue, or NULL */
    ch_readiness_policy readiness; /* thresholds of the readiness map */

    const char *version;           /* "sha256:..." */
    const char *canonical;         /* canonical JSON */
    size_t canonical_len;

    size_t warning_count;
    const charter_diag *warnings;

    /* Some CEL program of the charter (any condition, spend or quorum
     * condition) refers to the `counters` variable (cond.c). */
    bool reads_counters;

    struct ch_index *index;        /* built by engine/index.c at load */
};

/* Look-ups by id (binary search over sorted id tables built at load or a
 * linear scan; NULL when absent). */
const ch_value *ch_find_value(const charter *c, const char *id);
const ch_goal *ch_find_goal(const charter *c, const char *id);
const ch_workflow *ch_find_workflow(const charter *c, const char *id);
const ch_agent *ch_find_agent(const charter *c, const char *id);
const ch_queue *ch_find_queue(const charter *c, const char *id);
bool ch_workflow_has_action(const ch_workflow *w, const char *action);
bool ch_agent_has_workflow(const ch_agent *a, const ch_workflow *w);

/* The stop-rule counters (CH_READS_* bits) a decision for `workflow` (or
 * an approval's re-check of one) may read under c: its workflow's
 * counter_reads (the limits of its stop rules, and both counters when any
 * CEL program of the charter reads `counters`); for a workflow the charter
 * does not have, both when any CEL program reads `counters`, else none.
 * Exact or more: never leaves out a counter a decision can read. */
unsigned ch_counter_reads(const charter *c, const char *workflow);

const char *ch_autonomy_name(ch_autonomy a);   /* "agent-ready" ... */

#endif
