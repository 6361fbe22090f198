/* charter_ledger.h - the Charter ledger: every decision recorded, durable and
 * tamper-evident; verify, export, replay.
 *
 * A ledger is an append-only sequence of entries (charter versions,
 * decisions, escalation resolutions, outcome reports), each hash-chained to
 * the one before it, with Ed25519-signed checkpoints every N entries or T
 * milliseconds. The embedded backend is one SQLite file (WAL mode). The
 * format, the chain and what `verify` proves are in docs/ledger.md.
 *
 * Conventions are those of charter.h: functions return charter_status and
 * fill an optional charter_error; `_close`/`_free` accept NULL.
 *
 * Thread safety: a charter_ledger may be used by any number of threads at
 * once (that is how group commit batches them); each thread passes its own
 * charter_decider. The read-only functions (verify, scan, replay) open their
 * own connection and may run while a writer is appending.
 */
#ifndef CHARTER_LEDGER_H
#define CHARTER_LEDGER_H

#include "charter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct charter_ledger charter_ledger;

/* Whether a recording ledger can be written now. */
typedef struct charter_ledger_health {
    bool ok;
    /* When !ok, why in a word (static): "disk_full", "busy" (another
     * connection holds SQLite's write lock), "lock_lost" (this process no
     * longer holds the ledger exclusively), "file_replaced" (the path no
     * longer names the file opened), "tail_changed" (another process
     * changed the ledger), "read_only", "io_error". NULL when ok. */
    const char *reason;
    /* When !ok, what failed, with the file's path and SQLite's error text:
     * for the operator's log, not for agents. "" when ok. */
    char message[1024];
    int64_t since_ms; /* when this state began (Unix ms) */
} charter_ledger_health;

typedef void (*charter_ledger_health_fn)(void *user, const charter_ledger_health *h);

typedef struct charter_ledger_options {
    /* Write a signed checkpoint after this many entries (0: 1000) ... */
    uint64_t checkpoint_every;
    /* ... or when this many milliseconds have passed since the last one and
     * entries are waiting for it (0: 10000). */
    uint32_t checkpoint_ms;
    /* Secret key file written by charter_keys_init (DIR/ledger.key). NULL:
     * no checkpoints are written (verify can then prove the chain's
     * consistency, not who wrote it nor where it ended). */
    const char *key_path;
    /* How long an append waits for a lock held by another connection
     * before the ledger counts as unavailable (0: 5000 ms). */
    uint32_t busy_timeout_ms;
    /* Called on the ledger's writer thread when the ledger stops being
     * writable and when it is writable again: once per change, not once per
     * failed write. Keep it short (log it); no ledger calls. NULL: none. */
    charter_ledger_health_fn on_health;
    void *health_user;
    /* A witness outside the ledger: with a key, each signed checkpoint head
     * is appended to this file (created 0644 when absent) or FIFO as one
     * JSON line (charter_checkpoint_json) once the checkpoint is durable,
     * on the writer thread, in one write(2) that never blocks (a FIFO
     * without a reader, or a full one, is a failed write). NULL: none. */
    const char *witness_path;
    /* Called on the writer thread when writing to witness_path starts
     * failing (`problem` says why) and when it works again (`problem` NULL):
     * once per change, not once per head. A failed head is not retried; the
     * ledger still holds it (charter_ledger_checkpoints exports it). The
     * ledger records on either way. NULL: not told. Keep it short. */
    void (*witness_status)(const char *problem, void *user);
    void *witness_user;
    /* A ledger shared by several servers (PostgreSQL): called when another
     * server recorded a "charter_loaded" entry (charter_ledger_charter_loaded),
     * with the version it loaded, which the ledger holds as a "charter"
     * entry at a lower seq. Called on the ledger's writer thread: keep it
     * short and make no call that waits for the ledger (hand the version to
     * another thread, which loads it). Never called on SQLite. NULL: none. */
    void (*on_charter_loaded)(void *user, const char *version);
    void *charter_user;
} charter_ledger_options;

/* Opens (creating when absent, mode 0600) the ledger file at `path` for
 * recording, rebuilds the stop-rule counters and escalation states from its
 * entries and starts the group-commit writer. `opt` may be NULL for the
 * defaults. On success *out is the caller's (charter_ledger_close).
 *
 * One writer per ledger: the ledger is held exclusively until it is closed
 * (or the process dies), and opening it for recording a second time, in
 * this process or another, fails at once with CHARTER_E_IO and a message
 * naming the holder's pid and command. The read-only functions (verify,
 * scan, replay) are not affected.
 *
 * A PostgreSQL ledger (`path` a libpq URI or connection string) is the
 * exception: any number of processes (servers), and ledgers in one
 * process, record into it at once, each state a replica of the one chain
 * (charter_ledger_shared, docs/ledger.md "Several servers on one ledger").
 *
 * While open, the writer watches its health (charter_ledger_health_get):
 * a failed write makes it failing, and it then tries every half second
 * whether a commit goes through again; while idle it checks every two
 * seconds that the file, the lock and the last entry are still its own.
 *
 * Errors: CHARTER_E_IO (cannot open or write the file, it is not a
 * ledger, or another process records into it), CHARTER_E_INVALID
 * (unreadable key file), CHARTER_E_NOMEM. */
CHARTER_API charter_status charter_ledger_open(const char *path,
                                               const charter_ledger_options *opt,
                                               charter_ledger **out,
                                               charter_error *err);

/* Commits what is queued, writes a final checkpoint when a key is set and
 * entries are not yet covered by one, and closes. Call it once no other
 * thread uses the ledger any more. Returns the error of that last
 * checkpoint, if any; the ledger is freed either way. */
CHARTER_API charter_status charter_ledger_close(charter_ledger *l,
                                                charter_error *err);

/* A decision id ("d-<seq>", the seq of the decision's ledger entry) read
 * back into its seq; false when `id` is not one. */
CHARTER_API bool charter_decision_id_parse(const char *id, uint64_t *seq);

/* Decides a request (JSON text) under `c` and records it. The request's own
 * "counters" are replaced by the ledger's (per agent and run_id, per agent
 * per UTC day); the first decision under a charter version also records that
 * version's canonical content. Returns only once the entry is durable.
 *
 * On CHARTER_OK *answer is the decision as JSON with a "decision_id"
 * ("d-<seq>") first; malloc'd, the caller frees it.
 * On CHARTER_E_IO the ledger could not be written: nothing of this call was
 * recorded, and *answer is a deny with reason "ledger_unavailable" (fail
 * closed) that the caller should pass on; err says why. (On a ledger
 * several servers share, a decision whose budgets another server changed
 * first is decided again, up to 16 times in all; then it is this deny.)
 * On CHARTER_E_JSON / CHARTER_E_REQUEST / CHARTER_E_LIMIT the request is
 * invalid, nothing is recorded and *answer is NULL.
 * `d` is the calling thread's decider; `now_ms` as in charter_decide. */
CHARTER_API charter_status charter_ledger_decide(charter_ledger *l,
                                                 charter_decider *d,
                                                 const charter *c,
                                                 const char *request_json,
                                                 size_t n, int64_t now_ms,
                                                 char **answer,
                                                 size_t *answer_len,
                                                 charter_error *err);

/* As charter_ledger_decide, for a request the caller has parsed already
 * (charter_request_parse of exactly `request_json`, which is what gets
 * recorded): a server that must look at the request first parses it once.
 * The ledger replaces the request's counters (it changes `r`); `r` stays
 * the caller's. */
CHARTER_API charter_status charter_ledger_decide_request(charter_ledger *l,
                                                         charter_decider *d,
                                                         const charter *c,
                                                         charter_request *r,
                                                         const char *request_json,
                                                         size_t n, int64_t now_ms,
                                                         char **answer,
                                                         size_t *answer_len,
                                                         charter_error *err);

/* Deciding without waiting for the disk: a server with a few event threads
 * decides on them and lets the group commit call it back, instead of
 * parking a thread per decision.
 *
 * charter_ledger_decide_begin decides `r` as charter_ledger_decide_request
 * does and queues its entry. It returns:
 *  - CHARTER_OK with *ticket set: the entry is queued. `ready(user)` will be
 *    called exactly once, on the ledger's writer thread, when the entry is
 *    durable or its batch failed; keep it short (wake the caller, no ledger
 *    calls). Then call charter_ledger_decide_end(ticket, ...) on any thread:
 *    it returns what charter_ledger_decide_request would have (CHARTER_OK
 *    with the answer, or CHARTER_E_IO with the fail-closed deny) and frees
 *    the ticket. Every ticket must be ended, and the ledger stays open until
 *    it is. On a ledger several servers share, an entry that another
 *    server's made stale (its budgets changed first: the rare
 *    CHARTER_E_CONFLICT) is decided again inside decide_end, which then
 *    waits for the ledger as charter_ledger_decide_request does.
 *  - anything else with *ticket NULL: finished already, as
 *    charter_ledger_decide_request (an invalid request, or the ledger closing:
 *    CHARTER_E_IO with the deny in *answer). `ready` is never called.
 * The request, its text and the decider are free for reuse once begin
 * returns; the charter must stay alive until the ticket is ended (hold a
 * reference). */
typedef struct charter_ledger_ticket charter_ledger_ticket;
typedef void (*charter_ledger_ready_fn)(void *user);

CHARTER_API charter_status charter_ledger_decide_begin(charter_ledger *l,
                                                       charter_decider *d,
                                                       const charter *c,
                                                       charter_request *r,
                                                       const char *request_json,
                                                       size_t n, int64_t now_ms,
                                                       charter_ledger_ready_fn ready,
                                                       void *user,
                                                       charter_ledger_ticket **ticket,
                                                       char **answer,
                                                       size_t *answer_len,
                                                       charter_error *err);
CHARTER_API charter_status charter_ledger_decide_end(charter_ledger_ticket *ticket,
                                                     char **answer,
                                                     size_t *answer_len,
                                                     charter_error *err);
/* The effect of a begun decision, known before its entry is durable, for a
 * caller whose next step depends on it (an AuthZEN batch that stops at the
 * first deny decides the next evaluation only after this one). What is
 * answered is still charter_ledger_decide_end's: an entry that cannot be
 * recorded makes any decision the fail-closed deny. */
CHARTER_API charter_effect charter_ledger_ticket_effect(const charter_ledger_ticket *ticket);

/* The fail-closed answer, for when no ledger can be opened at all (the
 * decide functions give the same): a deny with reason "ledger_unavailable"
 * explaining that the decision could not be recorded. It names no file and
 * no storage error, since agents and enforcement points read it: the
 * details are the caller's to log. malloc'd; the caller frees it. `c` may
 * be NULL. */
CHARTER_API char *charter_ledger_unavailable_answer(const charter *c,
                                                    int64_t time_ms,
                                                    size_t *len);

/* The ledger's health now (any thread). */
CHARTER_API void charter_ledger_health_get(charter_ledger *l,
                                           charter_ledger_health *out);

typedef enum charter_resolution {
    CHARTER_RESOLVE_APPROVE = 0,
    CHARTER_RESOLVE_DENY = 1
} charter_resolution;

/* Why an approval was refused (charter_ledger_resolve returned
 * CHARTER_E_REFUSED; a deadline whose queue allows on timeout records a
 * deny instead, with the same reason in its note). */
typedef enum charter_refusal {
    CHARTER_REFUSAL_NONE = 0,
    CHARTER_REFUSAL_BOUNDARY = 1,  /* a boundary fires; stopped_by: its id */
    CHARTER_REFUSAL_STOP_RULE = 2, /* a stop rule fires (a budget would be
                                      exceeded); stopped_by: its id */
    CHARTER_REFUSAL_DENIED = 3,    /* the charter denies the action otherwise;
                                      stopped_by: the deny rule's id, or the
                                      reason code (unknown_agent,
                                      workflow_not_granted, human_only ...) */
    CHARTER_REFUSAL_RECHECK = 4,   /* the re-decision could not be made (the
                                      recorded request unreadable, a limit,
                                      out of memory); stopped_by is "" */
    /* The queue's approval policies (charter_ledger_resolve; stopped_by
     * is the queue's id): */
    CHARTER_REFUSAL_SELF_APPROVAL = 5,   /* who is the agent's owner and the
                                            queue forbids self-approval */
    CHARTER_REFUSAL_NOTE_REQUIRED = 6,   /* the queue's require_note needs a
                                            note and none (or a blank one)
                                            was given */
    CHARTER_REFUSAL_ALREADY_APPROVED = 7, /* who already approved this
                                             escalation; the quorum needs
                                             someone else */
    /* Standing approvals (charter_ledger_grant): */
    CHARTER_REFUSAL_NO_GRANTS = 8,       /* the queue allows no standing
                                            approvals, or none that long (or,
                                            for the grant pass, one past the
                                            grant's amount cap) */
    CHARTER_REFUSAL_QUORUM = 9           /* the escalation needs more than one
                                            approval: a grant cannot give them */
} charter_refusal;

#define CHARTER_STOPPED_BY_SIZE 160

/* What charter_ledger_resolve did. */
typedef struct charter_resolve_result {
    uint64_t seq;              /* the entry recorded (the resolution, or the
                                  approval of a quorum); 0: none recorded */
    charter_refusal refusal;   /* CHARTER_REFUSAL_NONE unless refused */
    char stopped_by[CHARTER_STOPPED_BY_SIZE];
    bool pending;              /* an approval recorded as one of a quorum
                                  ("escalation_approval"); the escalation
                                  stays open */
    int approvals;             /* distinct approvals recorded so far (after
                                  this call; 0 for a deny) */
    int needed;                /* approvals the quorum needs for this
                                  escalation (set for approvals) */
} charter_resolve_result;

/* Records the resolution of an escalated decision ("d-<seq>") by `who`
 * (required) with a note, at `time_ms` (0: now), under `c` (the charter
 * serving now; required, for a deny too: its queue's policies live in it).
 *
 * The policies of the queue the escalation waits in now (as `c` defines
 * it; a queue `c` no longer has: the defaults) come first, and nothing is
 * recorded when one refuses (CHARTER_E_REFUSED, out->refusal, the queue's
 * id in out->stopped_by, err a sentence for the approver):
 *  - require_note: with "deny" (the default) a deny needs a note that is
 *    not blank, with "always" every resolution does
 *    (CHARTER_REFUSAL_NOTE_REQUIRED);
 *  - self_approval: unless the queue allows it, `who` may not approve when
 *    it names the escalated agent's `owner` in `c` (equal but for ASCII
 *    case; CHARTER_REFUSAL_SELF_APPROVAL). The owner may deny;
 *  - quorum: the escalation needs charter_ledger_quorum approvals from
 *    distinct people (names compared as for the owner;
 *    CHARTER_REFUSAL_ALREADY_APPROVED when `who` approved it already). An
 *    approval short of the quorum is re-checked like any approval, gives
 *    its reservation back at once and is recorded as an
 *    "escalation_approval" entry: out->pending, out->approvals and
 *    out->needed say where the quorum stands, and the escalation stays
 *    open. The approval that reaches the quorum resolves it
 *    ("escalation_resolved" with every approver in "approvers"). One deny
 *    denies at once, whatever approvals came before. The approvals survive
 *    a restart and a move to the next queue (whose quorum then applies).
 * Two calls on one escalation at once are serialized: the second waits
 * for the first to be recorded (or refused), then sees its result.
 *
 * An approval is re-checked first, so that the escalation path is never a
 * way around the charter: the request exactly as recorded (its bytes, not
 * a re-serialization) is decided again under `c` at its recorded time, with the
 * ledger's counters for its agent's run and day as they stand at this
 * moment. Unless that decision is allow or escalate, nothing is recorded,
 * the escalation stays open (it can still be denied) and the call returns
 * CHARTER_E_REFUSED with out->refusal saying what stopped it and err a
 * sentence an approver can read; a re-decision that cannot be made at all
 * refuses too (fail closed). An approval that passes counts the action and
 * its spend (as re-decided) against the stop-rule counters of the run and
 * day; the check and the counting hold the budgets' locks, so concurrent
 * decisions and approvals cannot together take a budget past its limit.
 *
 * Errors: CHARTER_E_REFUSED, CHARTER_E_REF (no such escalated decision),
 * CHARTER_E_DUPLICATE (already resolved), CHARTER_E_INVALID (no `who`, no
 * `c`, not a decision id), CHARTER_E_IO, and on a ledger several servers
 * share CHARTER_E_CONFLICT: another server resolved, moved or voted on it
 * (or counted against the budgets an approval re-checked) while this one
 * was recorded; nothing was recorded, err says what (look again). `out`
 * may be NULL. */
CHARTER_API charter_status charter_ledger_resolve(charter_ledger *l,
                                                  const charter *c,
                                                  const char *decision_id,
                                                  const char *who,
                                                  charter_resolution r,
                                                  const char *note,
                                                  int64_t time_ms,
                                                  charter_resolve_result *out,
                                                  charter_error *err);

/* ---- Escalations --------------------------------------------------------- */

typedef enum charter_escalation_status {
    CHARTER_ESC_OPEN = 0,
    CHARTER_ESC_APPROVED = 1,
    CHARTER_ESC_DENIED = 2
} charter_escalation_status;

/* An escalated decision and what became of it. Pointers live for the
 * duration of the callback that receives it. */
typedef struct charter_escalation {
    const char *decision_id;           /* "d-<seq>" */
    uint64_t seq;
    const char *agent, *run_id, *workflow, *action;
    const char *queue;                 /* the queue it waits (or waited) in */
    int64_t time_ms;                   /* the decision time */
    int64_t deadline_ms;               /* 0: no deadline */
    charter_escalation_status status;
    /* Once resolved: who ("timeout" when the deadline passed), the note,
     * when, and whether it was the queue's on-timeout behaviour. */
    const char *resolved_by, *note;
    int64_t resolved_ms;
    bool timed_out;
    /* The approvals recorded, in order: the votes so far of a quorum while
     * open; every approver once approved (the last is resolved_by; none
     * when a deadline approved it); once denied, the approvals given before
     * the deny. The array and its strings live as the other pointers do
     * (until the callback returns). */
    size_t approval_count;
    const char *const *approvers;
    const char *grant_id;              /* approved by this standing approval
                                          ("g-<seq>"), or NULL */
} charter_escalation;

/* Returns 0 to go on, nonzero to stop. Gets a copy, made under the state's
 * lock, and runs without it (it may call into the ledger); the strings live
 * until it returns. */
typedef int (*charter_escalation_fn)(const charter_escalation *e, void *user);

/* The seq of the last entry durable in the ledger (0: empty): every
 * decision answered so far has a seq at or below it. Any thread. */
CHARTER_API uint64_t charter_ledger_last_seq(charter_ledger *l);

/* How many escalations are open (waiting for a person or their deadline). */
CHARTER_API size_t charter_ledger_open_count(charter_ledger *l);

/* Calls fn for the escalations of `queue` (NULL: every queue), only the open
 * ones when `open_only`, in decision order. The escalations are copied a
 * few dozen at a time, so listing a long queue does not hold up decisions;
 * one resolved before its turn comes shows resolved (or, in an open-only
 * listing, not at all). */
CHARTER_API charter_status charter_ledger_escalations(charter_ledger *l,
                                                      const char *queue,
                                                      bool open_only,
                                                      charter_escalation_fn fn,
                                                      void *user,
                                                      charter_error *err);

/* Calls fn once with the escalation of decision `decision_id`. With
 * wait_ms > 0 and the escalation open, first waits up to wait_ms for it to be
 * resolved (or for charter_ledger_interrupt_waits). Errors: CHARTER_E_INVALID
 * (not a decision id), CHARTER_E_REF (no such decision, or it was not
 * escalated). */
CHARTER_API charter_status charter_ledger_escalation(charter_ledger *l,
                                                     const char *decision_id,
                                                     uint32_t wait_ms,
                                                     charter_escalation_fn fn,
                                                     void *user,
                                                     charter_error *err);

/* The approvals escalation `decision_id` needs under `c`: its queue's
 * (the queue it waits in now) `quorum`, or 1 when the queue has a quorum
 * `when` that is false for the request as recorded (evaluated with the
 * variables and counters its decision saw; a `when` that cannot be
 * evaluated counts as true: fail closed). 1 when `c` no longer has the
 * queue. Errors: CHARTER_E_INVALID, CHARTER_E_REF (no such decision, or it
 * was not escalated), CHARTER_E_IO, CHARTER_E_NOMEM. */
CHARTER_API charter_status charter_ledger_quorum(charter_ledger *l, const charter *c,
                                                 const char *decision_id, int *needed,
                                                 charter_error *err);

/* Whether `who` may approve escalation `decision_id` under `c` now: false,
 * with why (why_size bytes, may be NULL) a sentence such as "lena owns
 * agent x; queue q does not allow self-approval", when the self-approval
 * rule forbids it, when `who` already approved it (a quorum needs someone
 * else), or when it is no longer open. Who may act on a queue at all (its
 * approvers) is the caller's to know. Errors as charter_ledger_quorum. */
CHARTER_API charter_status charter_ledger_may_approve(charter_ledger *l, const charter *c,
                                                      const char *decision_id,
                                                      const char *who, bool *may,
                                                      char *why, size_t why_size,
                                                      charter_error *err);

/* Wakes every waiting charter_ledger_escalation and
 * charter_ledger_escalations_wait and makes later waits return at once
 * (for a server that is shutting down). */
CHARTER_API void charter_ledger_interrupt_waits(charter_ledger *l);

/* The version of the escalations: a counter that bumps whenever one opens,
 * is resolved (by a person or a deadline) or moves to another queue. It
 * starts anew when the ledger opens; two equal readings mean nothing the
 * listing shows changed in between (an inbox polls on it). */
CHARTER_API uint64_t charter_ledger_escalations_version(charter_ledger *l);

/* Waits up to timeout_ms for the version to differ from since_version and
 * returns the version then: at once when it differs already, or after
 * charter_ledger_interrupt_waits (a server shutting down), else when it
 * changes or the time is up (then it equals since_version). */
CHARTER_API uint64_t charter_ledger_escalations_wait(charter_ledger *l,
                                                     uint64_t since_version,
                                                     uint32_t timeout_ms);

/* Applies the deadline: every open escalation whose deadline is at or
 * before now_ms gets its queue's on-timeout behaviour as `c` defines it:
 * "deny" and "allow" record a resolution by "timeout"; an allow is
 * re-checked under `c` exactly as a person's approval is (see
 * charter_ledger_resolve) and counts against the budgets like one (it is
 * the whole quorum, whatever approvals came before; no note is needed), and
 * when the re-check refuses it the escalation is denied by timeout with
 * the reason in its note; "next" records an
 * "escalation_moved" entry to the next queue, with the deadline moved on by
 * that queue's SLA. A queue `c` no longer has denies. The entries go to
 * the ledger together (one group commit per 1,024), not one commit each.
 * *count (may be NULL) receives how many escalations were acted on. */
CHARTER_API charter_status charter_ledger_expire(charter_ledger *l,
                                                 const charter *c, int64_t now_ms,
                                                 size_t *count, charter_error *err);

/* ---- Standing approvals (grants) ------------------------------------------ */

/* What a person asks for when approving an escalation "and the same kind
 * for the next N hours" (charter_ledger_grant). */
typedef struct charter_grant_request {
    int64_t duration_ms;   /* > 0 and <= the queue's standing_approvals max */
    int64_t max_count;     /* escalations it may approve besides the one it
                              came from; 0: no cap */
    double max_amount;     /* total spend it may approve; 0: no cap */
    const char *note;      /* may be NULL; also the approval's note */
} charter_grant_request;

/* A standing approval as recorded, with what it approved so far. Pointers
 * live for the duration of the callback that receives it. */
typedef struct charter_grant {
    const char *id;                /* "g-<seq of its grant entry>" */
    const char *who, *note;        /* who granted it; note may be NULL */
    const char *decision_id;       /* the escalation it came from */
    /* The scope: an open escalation in this queue, of this agent, workflow
     * and action, escalated by this rule ("": by the workflow's or the
     * charter's default queue). */
    const char *queue, *agent, *workflow, *action, *rule;
    int64_t time_ms, expires_ms;
    int64_t max_count, used_count; /* max_count 0: no cap */
    double max_amount, used_amount; /* max_amount 0: no cap */
    bool revoked;
    const char *revoked_by;        /* NULL unless revoked */
    int64_t revoked_ms;
} charter_grant;

/* Returns 0 to go on, nonzero to stop. Runs without the ledger's locks. */
typedef int (*charter_grant_fn)(const charter_grant *g, void *user);

/* Approves escalation `decision_id` as `who` and records a standing
 * approval of the same scope (its queue, agent, workflow, action and the
 * rule that escalated it) for g->duration_ms from time_ms (0: now).
 *
 * The approval is charter_ledger_resolve's, with every rule it applies
 * (the re-check under `c`, the note and self-approval policies), note
 * g->note; it is refused first with CHARTER_E_REFUSED and
 * out->refusal CHARTER_REFUSAL_NO_GRANTS when the queue (under `c`) allows
 * no standing approvals or none as long as duration_ms, and
 * CHARTER_REFUSAL_QUORUM when this escalation needs more than one
 * approval (checked again as the approval is recorded, so a quorum that
 * changes meanwhile refuses it too). The resolution is recorded first and the "grant" entry
 * after it, two appends: should the second fail (or the process die
 * between them), the escalation stays approved by `who`, no grant exists,
 * and the call returns the append's error; nothing is ever approved by a
 * grant that was not recorded. The grant applies to the escalations open
 * now and later (charter_ledger_apply_grants; the server's deadline thread
 * wakes for it). `out` (may be NULL) receives the resolution; grant_id
 * (may be NULL; size 32) receives "g-N". Errors: those of
 * charter_ledger_resolve. */
CHARTER_API charter_status charter_ledger_grant(charter_ledger *l, const charter *c,
                                                const char *decision_id,
                                                const char *who,
                                                const charter_grant_request *g,
                                                int64_t time_ms,
                                                charter_resolve_result *out,
                                                char *grant_id, charter_error *err);

/* Records that `who` revoked grant `grant_id` ("g-N") at time_ms (0: now),
 * with an optional note; from then on it approves nothing. Errors:
 * CHARTER_E_INVALID, CHARTER_E_REF (no such grant), CHARTER_E_DUPLICATE
 * (already revoked), CHARTER_E_CONFLICT (another server sharing the
 * ledger revoked it first), CHARTER_E_IO. Who may revoke is the caller's to
 * decide (the HTTP API: the grantor, an approver of its queue, admin). */
CHARTER_API charter_status charter_ledger_revoke_grant(charter_ledger *l,
                                                       const char *grant_id,
                                                       const char *who,
                                                       const char *note,
                                                       int64_t time_ms,
                                                       charter_error *err);

/* Calls fn for every grant, newest first; with active_only, only those not
 * revoked, not expired at now_ms and with their caps not reached. */
CHARTER_API charter_status charter_ledger_grants(charter_ledger *l, bool active_only,
                                                 int64_t now_ms, charter_grant_fn fn,
                                                 void *user, charter_error *err);

/* Approves each open escalation that an active grant's scope matches
 * (queue, agent, workflow, action, rule), whose queue under `c` still
 * allows standing approvals and needs one approval, whose agent's owner is
 * not the grantor (unless the queue allows self-approval), within the
 * grant's caps: re-checked under `c` exactly like a person's approval (a
 * boundary or a budget refuses it, and it stays open for a person; such a
 * refusal is not tried again until the grants or the charter change, or
 * the escalation moves). Each is recorded as "escalation_resolved" with
 * "grant" (its id) and who = the grantor. The oldest grant that matches
 * is used. *count (may be NULL) receives how many it approved. Cheap when
 * no grant is active: the server calls it on every escalation change. */
CHARTER_API charter_status charter_ledger_apply_grants(charter_ledger *l,
                                                       const charter *c,
                                                       int64_t now_ms, size_t *count,
                                                       charter_error *err);

/* The payload of decision `decision_id` as recorded (the JSON object of
 * kind "decision" in docs/ledger.md: request, answer, counters ...).
 * *out is malloc'd; the caller frees it. Errors: CHARTER_E_INVALID,
 * CHARTER_E_REF (no such decision), CHARTER_E_IO. */
CHARTER_API charter_status charter_ledger_decision(charter_ledger *l,
                                                   const char *decision_id,
                                                   char **out, size_t *len,
                                                   charter_error *err);

/* Records the charter's version (its canonical content, an entry of kind
 * "charter") unless the ledger holds it already, e.g. when a server loads a
 * new charter. *recorded (may be NULL) says whether an entry was written. */
CHARTER_API charter_status charter_ledger_record_charter(charter_ledger *l,
                                                         const charter *c,
                                                         bool *recorded,
                                                         charter_error *err);

/* Says, on a ledger several servers share (PostgreSQL), that `server` (a
 * name for people: "<host>:<pid>", --server-id) now serves `c`: records
 * the charter's version unless the ledger holds it (as
 * charter_ledger_record_charter), then a "charter_loaded" entry
 * {"name","server","time","time_ms","version"}. The other servers' ledgers
 * call their on_charter_loaded option with the version. On a ledger only
 * one process records into (SQLite) it records nothing and returns
 * CHARTER_OK. Errors: CHARTER_E_INVALID (no ledger, charter or server),
 * CHARTER_E_IO, CHARTER_E_NOMEM. */
CHARTER_API charter_status charter_ledger_charter_loaded(charter_ledger *l,
                                                         const charter *c,
                                                         const char *server,
                                                         charter_error *err);

/* Whether several processes may record into this ledger (PostgreSQL):
 * its state is then a replica of the chain, kept up to date with what the
 * others append (within about a second), and changes that lose a race with
 * another server's fail with CHARTER_E_CONFLICT (docs/ledger.md). False
 * for SQLite (and for NULL). */
CHARTER_API bool charter_ledger_shared(charter_ledger *l);

/* An outcome report: tied to a decision, or to a workflow and a window. */
typedef struct charter_outcome {
    const char *decision_id; /* "d-<seq>", or NULL when `workflow` is set */
    const char *workflow;    /* with from_ms < to_ms (Unix ms), or NULL */
    int64_t from_ms, to_ms;
    const char *metric;      /* required, e.g. "customer_complaint" */
    double value;
    const char *note;        /* optional */
    int64_t time_ms;         /* when it was reported; 0: now */
} charter_outcome;

/* Records an outcome. Errors: CHARTER_E_INVALID (missing metric, neither or
 * both of decision and workflow, empty window), CHARTER_E_REF (no such
 * decision), CHARTER_E_IO. */
CHARTER_API charter_status charter_ledger_outcome(charter_ledger *l,
                                                  const charter_outcome *o,
                                                  uint64_t *seq_out,
                                                  charter_error *err);

/* The stop-rule counters the ledger holds for `agent`'s run `run_id` and
 * for its UTC day containing `time_ms` (for inspection and tests). A run's
 * counters belong to one agent: another agent using the same run_id has
 * counters of its own. */
typedef struct charter_counters {
    int64_t run_actions, day_actions;
    double run_spend, day_spend;
} charter_counters;
CHARTER_API void charter_ledger_counters(charter_ledger *l, const char *agent,
                                         const char *run_id, int64_t time_ms,
                                         charter_counters *out);

/* How group commit has been batching (for metrics). Batch sizes count the
 * callers' entries of a committed batch; bucket i holds batches of at most
 * 2^i entries (the last bucket: any larger), not cumulative. */
#define CHARTER_BATCH_BUCKETS 10
typedef struct charter_ledger_stats {
    uint64_t batches, entries, failed_batches;
    uint64_t batch_size_le[CHARTER_BATCH_BUCKETS];
} charter_ledger_stats;
CHARTER_API void charter_ledger_stats_get(charter_ledger *l,
                                          charter_ledger_stats *out);

/* ---- Reading ------------------------------------------------------------ */

#define CHARTER_HASH_SIZE 32

/* One entry as stored. Pointers live for the duration of the callback. */
typedef struct charter_ledger_entry {
    uint64_t seq;
    int64_t time_ms;       /* when it was recorded (Unix ms) */
    const char *kind;      /* "charter", "decision", "escalation_approval",
                              "escalation_resolved", "escalation_moved",
                              "grant", "grant_revoked", "outcome",
                              "charter_loaded" (docs/ledger.md) */
    const char *payload;   /* canonical JSON object */
    size_t payload_len;
    unsigned char prev_hash[CHARTER_HASH_SIZE];
    unsigned char hash[CHARTER_HASH_SIZE];
} charter_ledger_entry;

/* Returns 0 to go on, nonzero to stop the scan. */
typedef int (*charter_ledger_entry_fn)(const charter_ledger_entry *e,
                                       void *user);

/* Calls fn for every entry with since_ms <= time_ms < until_ms (until_ms 0:
 * no end), in seq order, reading the file at `path` read-only. */
CHARTER_API charter_status charter_ledger_scan(const char *path,
                                               int64_t since_ms,
                                               int64_t until_ms,
                                               charter_ledger_entry_fn fn,
                                               void *user, charter_error *err);

/* Renders an entry as one JSON object (no newline) for export:
 * {"hash","kind","payload","prev_hash","seq","time","time_ms"}; *out is
 * malloc'd, the caller frees it. */
CHARTER_API charter_status charter_ledger_entry_json(const charter_ledger_entry *e,
                                                     char **out, size_t *len);

/* ---- Verifying ---------------------------------------------------------- */

/* What verify found. `ok` is true only when every link, every hash and
 * every checkpoint signature verified, every row of the file was walked,
 * and (with a public key) the entries are covered by checkpoints at the
 * cadence they sign, and (with a witness) every witnessed head is held. */
typedef struct charter_ledger_report {
    bool ok;
    uint64_t entries;          /* entries read */
    uint64_t last_seq;
    uint64_t checkpoints;      /* checkpoints whose signature verified */
    uint64_t proven_seq;       /* seq of the last verified checkpoint (or
                                  witnessed head), or 0 */
    bool keys_from_ledger;     /* no public key given: signatures were checked
                                  against the keys recorded in the ledger */
    uint64_t witnessed;        /* witnessed heads checked (--witness) */
    uint64_t witness_seq;      /* the highest witnessed seq, or 0 */
    /* When !ok: the first problem by seq (0: rows outside the chain). */
    uint64_t first_bad_seq;
    /* "altered", "removed", "broken_link", "rewritten", "truncated",
     * "bad_signature", "wrong_key", "malformed", "unaccounted",
     * "uncovered", "bad_witness" (docs/ledger.md) */
    char problem[32];
    char message[1024];
} charter_ledger_report;

/* Walks the whole ledger at `path`, in one snapshot: every hash, every link,
 * every checkpoint signature and every row. `public_key_path`
 * (DIR/ledger.pub, may be NULL) names the key the checkpoints must be
 * signed with; with it, the entries must also be covered by checkpoints at
 * the cadence they sign (docs/ledger.md). Returns CHARTER_OK when
 * the walk ran (the verdict is in *out) and CHARTER_E_IO when the file
 * cannot be read as a ledger. */
CHARTER_API charter_status charter_ledger_verify(const char *path,
                                                 const char *public_key_path,
                                                 charter_ledger_report *out,
                                                 charter_error *err);

typedef struct charter_verify_options {
    /* DIR/ledger.pub: checkpoints must be signed with it, and must cover
     * the entries at the cadence they sign (docs/ledger.md). NULL: the keys
     * the ledger names, and no cadence is required. */
    const char *public_key_path;
    /* JSON lines of signed checkpoint heads kept outside the ledger
     * (charter_checkpoint_json): each must verify (with public_key_path
     * when given, else with the key the line names) and the ledger must
     * still hold its seq with its hash. NULL: none. */
    const char *witness_path;
} charter_verify_options;

/* charter_ledger_verify with options (`opt` NULL: none). Also returns
 * CHARTER_E_IO when the witness file cannot be read. */
CHARTER_API charter_status charter_ledger_verify_with(const char *path,
                                                      const charter_verify_options *opt,
                                                      charter_ledger_report *out,
                                                      charter_error *err);

/* ---- Replay ------------------------------------------------------------- */

/* A recorded decision that decides differently under the new charter.
 * Pointers live for the duration of the callback. */
typedef struct charter_replay_change {
    uint64_t seq;
    const char *decision_id;
    const char *agent, *workflow, *action;
    int64_t time_ms;                   /* the original decision time */
    charter_effect before, after;
    const char *before_reason, *after_reason;
    /* Fired items ("rule:large-refund", "boundary:no-pii") present now but
     * not before, and before but not now. */
    const char *const *added;
    size_t added_count;
    const char *const *removed;
    size_t removed_count;
} charter_replay_change;

typedef int (*charter_replay_fn)(const charter_replay_change *ch, void *user);

typedef struct charter_replay_summary {
    uint64_t decisions;     /* recorded decisions re-decided */
    uint64_t changed;       /* a different effect (reported through fn) */
    uint64_t rules_changed; /* same effect, different reason or fired set */
    uint64_t unchanged;
    uint64_t errors;        /* recorded requests that no longer parse */
    uint64_t to_allow, to_escalate, to_deny; /* changed, by new effect */
} charter_replay_summary;

/* Re-decides every decision recorded at or after since_ms (decision time)
 * under `c`, each at its original time with its recorded counters, and
 * calls fn (may be NULL) for each whose effect changes. */
CHARTER_API charter_status charter_ledger_replay(const char *path,
                                                 const charter *c,
                                                 int64_t since_ms,
                                                 charter_replay_fn fn,
                                                 void *user,
                                                 charter_replay_summary *out,
                                                 charter_error *err);

/* ---- Keys and time ------------------------------------------------------ */

#define CHARTER_KEY_ID_SIZE 32 /* "ed25519:" + 16 hex digits + NUL fits */

/* Creates an Ed25519 key pair for signing checkpoints: DIR/ledger.key
 * (secret, mode 0600) and DIR/ledger.pub (public), creating DIR (0700) when
 * absent. Refuses to overwrite an existing key (CHARTER_E_DUPLICATE).
 * key_id receives the key's id ("ed25519:<16 hex>"). */
CHARTER_API charter_status charter_keys_init(const char *dir,
                                             char key_id[CHARTER_KEY_ID_SIZE],
                                             charter_error *err);

/* ---- Checkpoint heads (a witness outside the ledger) ---------------------- */

/* A checkpoint as stored: "entry `seq` has hash `hash`", signed by key_id
 * at time_ms, with the cadence its writer checkpointed at (0 and 0 in a
 * checkpoint written before the cadence was recorded). What the signature
 * covers is in docs/ledger.md. */
typedef struct charter_checkpoint {
    uint64_t seq;
    unsigned char hash[CHARTER_HASH_SIZE];
    int64_t time_ms;
    char key_id[CHARTER_KEY_ID_SIZE];
    unsigned char public_key[32];
    unsigned char signature[64];
    uint64_t checkpoint_every;
    uint32_t checkpoint_ms;
} charter_checkpoint;

typedef int (*charter_checkpoint_fn)(const charter_checkpoint *cp, void *user);

/* Calls fn (0 to go on) for every checkpoint with seq >= since_seq in seq
 * order, read-only, as stored: run verify to know which hold. */
CHARTER_API charter_status charter_ledger_checkpoints(const char *path,
                                                      uint64_t since_seq,
                                                      charter_checkpoint_fn fn,
                                                      void *user,
                                                      charter_error *err);

/* The largest line charter_checkpoint_json writes, NUL included. */
#define CHARTER_CHECKPOINT_JSON_SIZE 1024

/* Renders a checkpoint head as one JSON object, keys sorted, no newline:
 * {"checkpoint_every","checkpoint_ms","hash","key_id","public_key","seq",
 *  "signature","time","time_ms"} (hex for the bytes). Returns its length,
 * or 0 when it does not fit in n bytes. */
CHARTER_API size_t charter_checkpoint_json(const charter_checkpoint *cp, char *buf,
                                           size_t n);

/* Parses RFC 3339 ("2026-11-24T10:00:00Z"), a date ("2026-11-24", its
 * midnight UTC) or Unix milliseconds ("1795000000000") into Unix ms. */
CHARTER_API bool charter_time_parse(const char *s, int64_t *out_ms);
/* Formats Unix ms as RFC 3339 UTC into buf (at least 32 bytes). */
CHARTER_API size_t charter_time_format(int64_t ms, char *buf);

#ifdef __cplusplus
}
#endif
#endif
