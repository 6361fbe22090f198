/* charter.h - libcharter, the public C API of Charter.
 *
 * Charter is the intent layer for autonomous AI agents: an organization writes
 * down what it wants in a charter (YAML + CEL), and every agent asks Charter
 * before it acts. This header is all a program needs to load a charter and
 * decide requests in-process; the `charter` command line uses nothing else.
 *
 * Conventions
 * - Functions that can fail return charter_status (CHARTER_OK == 0) and fill
 *   a caller-provided charter_error when one is given (it may be NULL).
 * - Ownership is stated next to each function. `_free` functions accept NULL.
 * - Thread safety: a loaded `charter` is immutable and may be shared by any
 *   number of threads (charter_retain/charter_release are atomic). A
 *   `charter_decider` and the decisions it returns belong to one thread.
 */
#ifndef CHARTER_H
#define CHARTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CHARTER_API __attribute__((visibility("default")))
#else
#define CHARTER_API
#endif

/* ---- Status codes -------------------------------------------------------
 * Append-only: codes are never renumbered or removed. */
#define CHARTER_STATUS_MAP(X)                                              \
    X(OK, "ok")                                                            \
    X(NOMEM, "out of memory")                                              \
    X(IO, "cannot read or write a file")                                   \
    X(YAML, "malformed YAML")                                              \
    X(SCHEMA, "the charter does not match its schema")                     \
    X(REF, "reference to an undefined id")                                 \
    X(DUPLICATE, "duplicate id")                                           \
    X(CEL_SYNTAX, "CEL syntax error")                                      \
    X(CEL_TYPE, "CEL type error")                                          \
    X(CEL_EVAL, "CEL evaluation error")                                    \
    X(JSON, "malformed JSON")                                              \
    X(REQUEST, "invalid decision request")                                 \
    X(LIMIT, "input exceeds a limit")                                      \
    X(INVALID, "invalid argument")                                         \
    X(TEST, "a charter test failed")                                      \
    X(REFUSED, "refused: the charter serving now does not allow it")      \
    X(CONFLICT, "conflict: another server changed it first")

typedef enum charter_status {
#define CHARTER_STATUS_ENUM_(name, msg) CHARTER_E_##name,
    CHARTER_STATUS_MAP(CHARTER_STATUS_ENUM_)
#undef CHARTER_STATUS_ENUM_
    CHARTER_STATUS_COUNT_
} charter_status;
#define CHARTER_OK CHARTER_E_OK

/* "CHARTER_E_SCHEMA" -> "schema"; static strings, never NULL. */
CHARTER_API const char *charter_status_name(charter_status s);
CHARTER_API const char *charter_status_message(charter_status s);

/* Details of a failure. For input errors, file/line/column point at it
 * (line and column are 1-based; 0 means unknown). `file` is empty when the
 * input did not come from a file (a request body, an expression). */
typedef struct charter_error {
    charter_status code;
    unsigned line;
    unsigned column;
    char file[512];
    char message[1024];
} charter_error;

/* Formats "file:line:column: message" (or the parts that are known) into buf. */
CHARTER_API void charter_error_format(const charter_error *e, char *buf, size_t n);

/* ---- Loading a charter -------------------------------------------------- */

typedef struct charter charter; /* immutable, reference-counted */

/* A warning found while loading (`charter check` prints them). */
typedef struct charter_diag {
    const char *code;    /* stable id, e.g. "value-unprotected" */
    const char *file;    /* may be "" */
    unsigned line, column;
    const char *message;
} charter_diag;

/* Loads a charter from one YAML file or a directory of them (every *.yaml
 * and *.yml directly inside it, sorted by name, except *.test.yaml). On
 * success *out holds a charter with one reference; release it with
 * charter_release. On failure *out is NULL and err says why and where. */
CHARTER_API charter_status charter_load(const char *path, charter **out,
                                        charter_error *err);
/* Loads from YAML text in memory; `name` is used as the file name in
 * errors. */
CHARTER_API charter_status charter_load_string(const char *name,
                                               const char *yaml, size_t n,
                                               charter **out,
                                               charter_error *err);

CHARTER_API charter *charter_retain(charter *c);
CHARTER_API void charter_release(charter *c);

/* "sha256:<64 hex digits>", the hash of the canonical content. Lives as
 * long as the charter. */
CHARTER_API const char *charter_version(const charter *c);
/* The canonical content: JSON with sorted keys, independent of key order,
 * comments and file layout. Lives as long as the charter. */
CHARTER_API const char *charter_canonical_json(const charter *c, size_t *len);
CHARTER_API const char *charter_name(const charter *c);

/* How much a charter holds, for summaries. */
typedef struct charter_stats {
    size_t values, goals, workflows, agents, boundaries, rules, queues;
} charter_stats;
CHARTER_API void charter_get_stats(const charter *c, charter_stats *out);

CHARTER_API size_t charter_warning_count(const charter *c);
/* i < charter_warning_count; lives as long as the charter. */
CHARTER_API const charter_diag *charter_warning(const charter *c, size_t i);

/* Whether `agent` is a registered agent and, when `workflow` is not NULL,
 * is granted that workflow. */
CHARTER_API bool charter_agent_granted(const charter *c, const char *agent,
                                       const char *workflow);

/* Whether escalation queue `queue` exists and a person called `name`
 * holding `roles` may resolve its escalations under the charter: the queue
 * lists them as a member or lists one of their roles (a queue that lists
 * neither members nor roles accepts anyone the caller trusts). */
CHARTER_API bool charter_queue_approver(const charter *c, const char *queue,
                                        const char *name,
                                        const char *const *roles,
                                        size_t role_count);

/* ---- What a person judging an escalation reads (the inbox) ---------------- */

/* Receives one field name ("input.amount", "subject.tier", "context.channel",
 * "confidence"); the string lives until it returns. Nonzero stops. */
typedef int (*charter_field_fn)(const char *field, void *user);

/* Calls fn for each request field the condition (`when`) of rule, boundary
 * or stop rule `id` reads, in the order the condition names them (a field
 * named twice is given twice). Stop rules are looked up in `workflow` first
 * (may be NULL), then in every workflow. Returns how many were given: 0
 * when there is no such item, it has no condition, or its condition reads
 * no request field. */
CHARTER_API size_t charter_condition_reads(const charter *c, const char *workflow,
                                           const char *id, charter_field_fn fn,
                                           void *user);

/* Value `id`'s rank (1: the most important) and statement (lives as long as
 * the charter); false when the charter has no such value. Either out
 * pointer may be NULL. */
CHARTER_API bool charter_value_info(const charter *c, const char *id, unsigned *rank,
                                    const char **statement);

/* What queue `queue` does when an escalation's deadline passes: "deny",
 * "allow" or "next" (static strings); NULL when there is no such queue. */
CHARTER_API const char *charter_queue_on_timeout(const charter *c, const char *queue);

/* A queue's approval policy, as the charter states it (docs/charter-reference.md,
 * the escalation section). */
typedef struct charter_queue_policy {
    int quorum;               /* approvals needed (>= 1); with quorum_when, only
                                 when its condition holds for the request (else 1) */
    bool quorum_when;         /* the quorum has a `when` condition */
    bool note_always;         /* require_note: always (false: deny, the default) */
    bool self_approval;       /* the agent's owner may approve */
    int64_t grant_max_ms;     /* longest standing approval; 0: none allowed */
} charter_queue_policy;

/* Fills *out with queue `queue`'s approval policy; false (and *out left
 * alone) when there is no such queue. */
CHARTER_API bool charter_queue_policy_get(const charter *c, const char *queue,
                                          charter_queue_policy *out);

/* ---- Decision requests --------------------------------------------------- */

typedef struct charter_request charter_request; /* parsed, owns its memory */

/* Parses a decision request (JSON; format in docs/charter-reference.md).
 * The request is independent of any charter. Free with charter_request_free. */
CHARTER_API charter_status charter_request_parse(const char *json, size_t n,
                                                 charter_request **out,
                                                 charter_error *err);
CHARTER_API void charter_request_free(charter_request *r);
/* The request's "agent" ("" when it names none; lives with the request)
 * and whether it carries its own "time". */
CHARTER_API const char *charter_request_agent(const charter_request *r);
CHARTER_API bool charter_request_has_time(const charter_request *r);

/* ---- Deciding ----------------------------------------------------------- */

typedef enum charter_effect {
    CHARTER_ALLOW = 0,
    CHARTER_ESCALATE = 1,
    CHARTER_DENY = 2
} charter_effect; /* ordered by restrictiveness */

CHARTER_API const char *charter_effect_name(charter_effect e); /* "allow" ... */

/* What fired: a boundary, a stop rule or a rule. */
typedef struct charter_fired {
    const char *kind;    /* "boundary", "stop_rule" or "rule" */
    const char *id;
    charter_effect effect;
    const char *value;   /* protected value id, or NULL */
    const char *message; /* never NULL */
    const char *error;   /* set when the condition failed to evaluate and
                            the entry fired to fail safe; else NULL */
} charter_fired;

/* A decision. Every pointer in it lives until the next call on the same
 * decider, or until the decider is freed. */
typedef struct charter_decision {
    charter_effect effect;
    /* Why, as a stable code: "unknown_agent", "workflow_not_granted",
     * "action_not_in_workflow", "unknown_workflow", "human_only",
     * "augmented_requires_approval", "boundary", "stop_rule", "rule",
     * "default". */
    const char *reason;
    const char *explanation;          /* one human sentence */
    const charter_fired *fired;       /* boundaries first, then stop rules,
                                         then rules by effect and value rank */
    size_t fired_count;
    const char *const *values;        /* values at stake, in rank order */
    size_t value_count;
    const char *const *obligations;   /* deduplicated, in firing order */
    size_t obligation_count;
    const char *queue;                /* escalation queue, or NULL */
    int64_t deadline_ms;              /* escalation deadline (Unix ms), or 0 */
    int64_t time_ms;                  /* the decision time used (Unix ms) */
    const char *charter_version;
    bool is_shadow;                   /* the agent is not registered */
    /* This action's spend: the largest value of the workflow's stop rules'
     * `spend` expressions (0 when none). The ledger adds it to the run and
     * day counters when the action is allowed. */
    double spend;
} charter_decision;

typedef struct charter_decider charter_decider; /* per-thread scratch */

CHARTER_API charter_status charter_decider_new(charter_decider **out);
CHARTER_API void charter_decider_free(charter_decider *d);

/* Decides `req` under `c`. `now_ms` is the decision time (Unix ms) used for
 * `now` in conditions, for day counters and for escalation deadlines, unless
 * the request carries its own "time". On success *out points into the
 * decider (valid until its next use). Errors are only for bad arguments or
 * memory: a condition that fails to evaluate is treated as documented in the
 * reference (a failing deny/escalate condition fires; a failing allow does
 * not), never as an error of the call. */
CHARTER_API charter_status charter_decide(charter_decider *d, const charter *c,
                                          const charter_request *req,
                                          int64_t now_ms,
                                          const charter_decision **out,
                                          charter_error *err);

/* Renders a decision as one JSON object (no trailing newline). The string
 * is owned by the decider and lives until its next use. */
CHARTER_API const char *charter_decision_json(charter_decider *d,
                                              const charter_decision *dec,
                                              size_t *len);

/* ---- Briefs ------------------------------------------------------------- */

/* Renders the brief for an agent (and optionally one workflow; NULL means
 * all it is granted) as Markdown. *out is malloc'd; the caller frees it. */
CHARTER_API charter_status charter_brief(const charter *c, const char *agent,
                                         const char *workflow, char **out,
                                         charter_error *err);

/* ---- CEL ---------------------------------------------------------------- */

/* Evaluates one CEL expression with variables from a JSON object (may be
 * NULL). On success *out_json is the result as JSON (malloc'd; caller frees).
 * Returns CHARTER_E_CEL_SYNTAX / CHARTER_E_CEL_TYPE for a bad expression and
 * CHARTER_E_CEL_EVAL for an evaluation error. `now_ms` binds `now`. */
CHARTER_API charter_status charter_eval(const char *expr, const char *vars_json,
                                        int64_t now_ms, char **out_json,
                                        charter_error *err);

/* ---- Tests -------------------------------------------------------------- */

/* Outcome of one test case of a charter test file. */
typedef struct charter_test_result {
    const char *file;
    unsigned line;
    const char *name;
    bool passed;
    const char *failure; /* what differed, or NULL */
} charter_test_result;

typedef void (*charter_test_report_fn)(const charter_test_result *r,
                                       void *user);

/* Runs the test file or directory of *.test.yaml files at `path`. Each test
 * file names its charter (`charter:` relative to the file) unless `c` is
 * given, which overrides it. Calls `report` once per case; counts go to
 * *passed and *failed. Returns CHARTER_OK when the files could be run (even
 * if cases failed) and an error for unreadable or malformed test files. */
CHARTER_API charter_status charter_test_run(const char *path, const charter *c,
                                            charter_test_report_fn report,
                                            void *user, size_t *passed,
                                            size_t *failed, charter_error *err);

/* Milliseconds since the Unix epoch from the real-time clock. */
CHARTER_API int64_t charter_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
