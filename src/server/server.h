/* server.h - what the HTTP server's modules share (src/server).
 *
 * http.c owns the daemon: it reads a request (limits on headers and body),
 * authenticates the bearer token (access.c) or the console's session cookie
 * (session.c, with its CSRF check), finds the route and calls its
 * handler with an srv_request; the handler fills an srv_response, which
 * http.c sends (with X-Request-ID echoed) and frees. Handlers live one file
 * per area: api_decide.c (decide, decisions), api_escalations.c,
 * api_misc.c (outcomes, brief, reload, health), metrics.c, authzen.c, and
 * /mcp is handed to the MCP module.
 *
 * Threads: a few event threads (libmicrohttpd's thread pool) read
 * requests and send responses and never wait. Handlers that answer at once
 * run on them; /v1/decide decides on them (on a worker when its body is
 * over CHARTER_INLINE_BODY_BYTES) and suspends the connection until
 * the group commit calls back (srv_defer); every handler that may block
 * (long polls, resolutions and outcomes waiting for their commit, analyses,
 * AuthZEN and MCP calls that decide synchronously) runs on a worker
 * (workers.c) while its connection is suspended. Any number of handlers run
 * at once: the charter is read through srv_charter (a retained reference),
 * the ledger is thread-safe, the metrics are atomic.
 */
#ifndef CHARTER_SERVER_INT_H
#define CHARTER_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter.h"
#include "charter_ledger.h"
#include "charter_server.h"

struct json_t;
struct MHD_Connection;
struct MHD_Daemon;

/* ---- Access keys (access.c) ---------------------------------------------- */

typedef struct srv_key {
    char id[16];                    /* 12 hex digits */
    charter_access_role role;
    char *name;
    char **queues;
    size_t queue_count;
    char **roles;
    size_t role_count;
    unsigned char hash[32];         /* BLAKE2b-256 of the secret */
} srv_key;

/* The keys loaded from a keys file; immutable once loaded, reference
 * counted like a charter so a reload can swap them. */
typedef struct srv_keys {
    _Atomic long refs;
    srv_key *keys;
    size_t count;
} srv_keys;

charter_status srv_keys_load(const char *dir, srv_keys **out, charter_error *err);
srv_keys *srv_keys_retain(srv_keys *k);
void srv_keys_release(srv_keys *k);
/* The key a bearer token belongs to, or NULL (unknown id or wrong
 * secret; the comparison takes the same time either way). */
const srv_key *srv_keys_check(const srv_keys *k, const char *token);
/* Whether key `k` may ask for a decision (or an AuthZEN evaluation) as
 * agent `agent`: a PEP key for any agent, an agent key only as itself
 * (NULL stands for "the key's own agent", which the caller fills in);
 * approver and admin keys never decide. False when `k` is NULL. */
bool srv_key_may_decide_as(const srv_key *k, const char *agent);
/* The key with this id (12 hex digits), or NULL. */
const srv_key *srv_keys_find(const srv_keys *k, const char *id);

/* ---- Metrics (metrics.c) -------------------------------------------------- */

#define SRV_LATENCY_BUCKETS 12

typedef struct srv_metrics {
    _Atomic uint64_t decisions[4];  /* allow, escalate, deny, ledger unavailable */
    _Atomic uint64_t latency_le[SRV_LATENCY_BUCKETS]; /* not cumulative */
    _Atomic uint64_t latency_sum_us;
    _Atomic uint64_t requests, errors_4xx, errors_5xx;
    _Atomic uint64_t resolutions, timeouts, reloads, reload_failures;
} srv_metrics;

/* Counts one decision answered in `us` microseconds; effect as in
 * charter_effect, or 3 when the ledger was unavailable. */
void srv_metrics_decision(srv_metrics *m, int effect, int64_t us);

/* ---- Workers (workers.c) ------------------------------------------------------ */

/* A job for a worker; owned by whoever queued it, which run() may free. */
typedef struct srv_job {
    void (*run)(struct srv_job *job);
    struct srv_job *next;
} srv_job;

typedef struct srv_workers srv_workers;

/* A pool that starts threads as jobs need them, up to `max`. */
charter_status srv_workers_new(size_t max, srv_workers **out);
/* Queues `job`; false when the pool is stopping or no thread can start. */
bool srv_workers_run(srv_workers *w, srv_job *job);
/* Runs what is queued, then joins every worker and frees the pool. */
void srv_workers_free(srv_workers *w);

/* ---- Connection deadlines and the reserve (gate.c) -------------------------
 * http.c tells the gate what each connection is doing; a thread of the
 * gate closes connections past their deadline, and a new connection closes
 * the oldest unproven one when they hold all but the reserve. Every hook
 * is called on the connection's event thread; the gate is thread-safe. */

typedef struct srv_gate srv_gate;
typedef struct srv_gate_conn srv_gate_conn;

typedef struct srv_gate_options {
    int64_t header_us;      /* start (or last answer + idle_us) to complete headers */
    int64_t body_us;        /* complete headers to complete body */
    int64_t idle_us;        /* how long a kept-alive connection may be silent */
    size_t max_connections; /* 1/CHARTER_CONNECTION_RESERVE_DIVISOR is the reserve */
} srv_gate_options;

/* Starts the gate and its thread; free it after the daemon has stopped
 * (every connection closed). */
charter_status srv_gate_new(const srv_gate_options *opt, srv_gate **out);
void srv_gate_free(srv_gate *g);
/* A new connection on socket `fd`; its record, or NULL when out of memory
 * (the connection then has no deadline). Unproven, headers due. */
srv_gate_conn *srv_gate_opened(srv_gate *g, int fd);
/* Its headers are in; has_key: a valid key made the request, by bearer
 * token or live session cookie (it leaves the unproven). The body is due within body_us. */
void srv_gate_headers(srv_gate *g, srv_gate_conn *c, bool has_key);
/* The request is complete: no deadline while it is answered. */
void srv_gate_request(srv_gate *g, srv_gate_conn *c);
/* Answered; the connection waits for its next request, unproven. */
void srv_gate_answered(srv_gate *g, srv_gate_conn *c);
/* Closing (before its socket is): forgets the record and frees it. */
void srv_gate_closed(srv_gate *g, srv_gate_conn *c);

/* ---- The server ------------------------------------------------------------ */

struct mcp_server;
typedef struct srv_indexer srv_indexer;
struct ntf;
struct ledger_lease;

/* A charter version another server sharing the ledger loaded, handed from
 * the ledger's writer thread (on_charter_loaded) to the deadline thread,
 * which loads it from the ledger and swaps it in (srv_follow_charter). */
typedef struct srv_follow {
    pthread_mutex_t mu;
    char pending[96];               /* "" when nothing waits */
    int64_t since_ms;               /* when it was first asked for */
    char failed_version[96];        /* the last version that could not be */
    char failed[1200];              /* loaded, and why ("" when none) */
} srv_follow;

struct charter_server {
    charter_server_options opt;
    char *charter_path, *keys_dir, *ledger_path; /* owned copies */
    char address[64];
    char server_id[256];            /* opt.server_id or "<hostname>:<pid>" */

    pthread_mutex_t swap_mu;        /* guards the two pointers below */
    charter *charter;               /* the one serving; one reference held */
    srv_keys *keys;

    charter_ledger *ledger;
    pthread_key_t decider_key;      /* each connection thread's decider */
    struct MHD_Daemon *daemon;
    srv_workers *workers;           /* the handlers that may block */
    srv_gate *gate;                 /* connection deadlines (http.c) */
    struct mcp_server *mcp;         /* /mcp (api_mcp.c) */
    srv_indexer *indexer;           /* the search index's thread (indexer.c) */
    struct ntf *notify;             /* notifications (src/notify), or NULL */
    const char **mcp_origins;       /* NULL-terminated copy of the options' */
    srv_metrics metrics;
    _Atomic int inflight;           /* requests between read and sent */
    struct srv_sessions *sessions;  /* console sign-ins (session.c) */
    char *console_dir;              /* owned copy of opt.console_dir, or NULL */

    /* The lease of a shared ledger (NULL: SQLite, always held): only its
     * holder applies deadlines and standing approvals and writes
     * notifications. Asked by the deadline thread alone, each tick;
     * lease_held is what it last said, for /healthz and the notifier. */
    struct ledger_lease *lease;
    _Atomic bool lease_held;
    srv_follow follow;

    /* The deadline thread. */
    pthread_t expire_thread;
    bool expire_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
};

typedef charter_server srv;

/* Writes one line to the server's log (opt.log), if it has one. */
void srv_log(srv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Serves charter `c` (its reference is taken) and, when `k` is not NULL,
 * keys `k` (taken) from now on: requests in flight finish on the old ones.
 * *version (may be NULL) receives c's version. Counts a reload. */
void srv_swap(srv *s, charter *c, srv_keys *k, const char **version);

/* Whether a decision's status means it was not recorded for the ledger's
 * sake (it cannot be written, or on a shared ledger it lost its race with
 * other servers too often): answered with the fail-closed deny and 503. */
bool srv_ledger_failed(charter_status st);

/* ---- Following other servers' charters (follow.c) -------------------------
 * On a shared ledger a server that starts or reloads records which version
 * it serves; the others load that version from the ledger's `charter`
 * entry (its canonical JSON) and serve it too, without recording it
 * again. A version that cannot be loaded leaves the one serving in place,
 * said in the log and in /healthz. */
void srv_follow_init(srv_follow *f);
void srv_follow_release(srv_follow *f);
/* charter_ledger_options.on_charter_loaded (user: the srv): notes the
 * version for srv_follow_run; called on the ledger's writer thread. */
void srv_follow_note(void *user, const char *version);
/* On the deadline thread: loads and swaps in the version noted, if any. */
void srv_follow_run(srv *s);
/* A charter from its canonical JSON (a `charter` entry's "canonical"),
 * which must load as exactly `version`. *out is the caller's. Errors:
 * CHARTER_E_INVALID (not JSON, or it loads as another version), the
 * loader's (a canonical form this build cannot read back). */
charter_status srv_charter_from_canonical(const char *version, const char *text,
                                          size_t len, charter **out, charter_error *err);
/* The last version that could not be loaded and why, for /healthz: false
 * when none failed since the last one loaded. */
bool srv_follow_failed(srv *s, char *version, size_t vn, char *why, size_t wn);

/* The charter serving now, retained: the caller releases it. */
charter *srv_charter(srv *s);
/* This thread's decider (created on first use), or NULL when out of memory. */
charter_decider *srv_decider(srv *s);

/* ---- Requests and responses -------------------------------------------------- */

/* A console session as a request sees it (session.c). */
struct srv_session_view {
    unsigned char id_hash[32];      /* BLAKE2b-256 of the cookie's id */
    char key_id[16];                /* the key it stands for */
    char csrf[44];                  /* 43 base64url characters */
    int64_t expires_ms;
};

typedef struct srv_request {
    srv *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body;               /* NUL-terminated; "" when none */
    size_t body_len;
    const srv_key *who;             /* the authenticated key, or NULL */
    /* Set when `who` came from a session cookie (session.c), not a bearer
     * token: the session, as it was when the request came. */
    bool by_cookie;
    struct srv_session_view session;
    const char *request_id;         /* X-Request-ID, or NULL */
    struct srv_deferred *deferred;  /* http.c's record of this request */
} srv_request;

/* Extra response headers: up to SRV_MAX_HEADERS, their values copied into
 * one buffer of SRV_HEADER_TEXT bytes (a Set-Cookie, an Allow, a
 * WWW-Authenticate fit together). The security headers (nosniff, the
 * Content-Security-Policy of SVG and console answers) are added by http.c
 * when it sends, and take no slot. */
#define SRV_MAX_HEADERS 8
#define SRV_HEADER_TEXT 1024

typedef struct srv_response {
    int status;
    char *body;                     /* malloc'd; freed by http.c */
    size_t body_len;
    const char *content_type;       /* static; NULL: application/json */
    /* A console page or asset (console.c): sent with the console's
     * Content-Security-Policy and friends, and Cache-Control: no-cache
     * instead of no-store. */
    bool console;
    size_t header_count;
    struct {
        const char *name;           /* static */
        size_t value;               /* offset of its NUL-terminated value in text */
    } headers[SRV_MAX_HEADERS];
    size_t text_used;
    char text[SRV_HEADER_TEXT];
} srv_response;

/* A request header or query argument, or NULL. */
const char *srv_header(const srv_request *rq, const char *name);
const char *srv_query(const srv_request *rq, const char *name);
/* Query argument `name` as a time (RFC 3339, a date, or Unix ms) into
 * *out; absent or empty leaves *out alone. False after replying 400. */
bool srv_query_time(const srv_request *rq, srv_response *rs, const char *name,
                    int64_t *out);
/* `text` as a whole number (digits only) of at most `max`; false when it
 * is not (NULL included). */
bool srv_parse_uint(const char *text, uint64_t max, uint64_t *out);
/* The long poll of one decision or escalation: ?wait=SECONDS (a number >=
 * 0, cut to the server's max_wait_s) into *wait_ms, 0 when absent. False
 * after replying 400. */
bool srv_query_wait(const srv_request *rq, srv_response *rs, uint32_t *wait_ms);

/* Sets the body to `j` serialized compactly (takes the reference). */
void srv_reply_json(srv_response *rs, int status, struct json_t *j);
/* Sets the body to a malloc'd text (taken). */
void srv_reply_text(srv_response *rs, int status, char *text, size_t len);
/* {"error":{"code":CODE,"message":...}} with the given status. */
void srv_reply_error(srv_response *rs, int status, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Maps a library status to an HTTP status and error code and replies. A
 * ledger fault (CHARTER_E_IO) is answered without its details, which name
 * files and SQLite's text: those go to the server's log instead. */
void srv_reply_status(srv *s, srv_response *rs, charter_status st,
                      const charter_error *err);
/* Adds a header (`name` static, `value` copied); false, and nothing added,
 * when the slots or the text buffer are full. */
bool srv_add_header(srv_response *rs, const char *name, const char *value);

/* Answering later. A handler on an event thread that would otherwise wait
 * calls srv_defer before it starts what it waits for: the connection is
 * suspended, and the handler returns leaving `rs` alone. Later, on any
 * thread, srv_resume(rq->deferred) says the wait is over (exactly once);
 * http.c then calls finish(user, rs) on an event thread and sends rs.
 * A handler on a worker (a route that may block, or a body over
 * CHARTER_INLINE_BODY_BYTES) may call it too: its connection is already
 * suspended, and stays so after the handler returns, until srv_resume. */
typedef void (*srv_finish_fn)(void *user, srv_response *rs);
void srv_defer(const srv_request *rq, srv_finish_fn finish, void *user);
void srv_resume(struct srv_deferred *d);

/* Whether the body nests deeper than CHARTER_MAX_JSON_DEPTH; replies 400
 * too_deep when it does. Counted without parsing, so text nested thousands
 * deep never reaches a recursive parser. */
bool srv_body_too_deep(const srv_request *rq, srv_response *rs);
/* Parses the body as a JSON object (depth and size limits applied) or
 * replies 400 and returns NULL. */
struct json_t *srv_body_object(const srv_request *rq, srv_response *rs);

/* Counts one decision answered with `st` and `answer` since t0
 * (base_mono_us; metrics). */
void srv_count_decision(srv *s, charter_status st, const char *answer, int64_t t0);

/* A decision through the ledger that does not wait for its commit
 * (charter_ledger_decide_begin with the server's charter and this thread's
 * decider), counted in the metrics when it ends. */
typedef struct srv_decision {
    charter *charter;              /* held from begin to end */
    charter_ledger_ticket *ticket; /* NULL: answered without waiting */
    int64_t t0;                    /* base_mono_us when the request came */
    /* Filled by srv_decide_begin (no ticket) or srv_decide_end: the
     * ledger's status and answer as charter_ledger_decide gives them (the
     * fail-closed deny on CHARTER_E_IO). answer is malloc'd, the caller's. */
    charter_status st;
    char *answer;
    size_t len;
    charter_error err;
} srv_decision;

/* Decides `r`, parsed from exactly `json` (both stay the caller's and are
 * free again on return), and queues its entry. Returns true when
 * `ready(user)` will be called once, on the ledger's writer thread, when
 * the entry is durable or failed; false when the decision was answered at
 * once (refused, or the ledger closing). srv_decide_end must follow in both
 * cases. */
bool srv_decide_begin(srv *s, charter_request *r, const char *json, size_t n,
                      int64_t t0, charter_ledger_ready_fn ready, void *user,
                      srv_decision *d);
/* Settles a decision srv_decide_begin began (after `ready`, when it was
 * called): fills st, answer, len and err, counts it, releases the charter. */
void srv_decide_end(srv *s, srv_decision *d);
/* After `ready`: whether srv_decide_end will wait for the ledger, because
 * on a shared ledger another server changed the budgets the decision read
 * and it is decided again (charter_ledger_decide_end): an event thread then
 * hands the end to a worker. */
bool srv_decision_must_wait(const srv_decision *d);

/* ---- Sessions (session.c) ----------------------------------------------------
 * Console sign-ins: a random session id (the cookie) for a key id, kept in
 * memory only (a restart signs everyone out). Only a hash of the id is
 * stored; each session also has its own CSRF token. At most `max`
 * sessions, `max_per_key` of one key: creating one more drops the oldest
 * (of the key, or of all). Thread-safe. */

typedef struct srv_sessions srv_sessions;

#define SRV_SESSION_ID_CHARS 43    /* 256 bits in base64url, no padding */
#define SRV_SESSION_COOKIE "charter_session"

/* The Content-Security-Policy of console answers, and of SVG pictures. */
#define SRV_CONSOLE_CSP                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
#define SRV_SVG_CSP "default-src 'none'; style-src 'unsafe-inline'"

charter_status srv_sessions_new(size_t max, size_t max_per_key, int64_t lifetime_ms,
                                srv_sessions **out);
void srv_sessions_free(srv_sessions *ss);
/* A new session for key `key_id` (12 hex digits) at `now_ms`: writes its
 * id (the cookie's value) into `id` and returns false when out of memory.
 * `view` receives the session as srv_session_find would. */
bool srv_session_create(srv_sessions *ss, const char *key_id, int64_t now_ms,
                        char id[SRV_SESSION_ID_CHARS + 1],
                        struct srv_session_view *view);
/* The live session whose id is `id` (a cookie's value), copied into
 * `view`; false when there is none (unknown, ended or expired at now_ms).
 * The id is hashed and compared in constant time. */
bool srv_session_find(srv_sessions *ss, const char *id, int64_t now_ms,
                      struct srv_session_view *view);
/* Ends the session with this id hash (sign-out); no-op when gone. */
void srv_session_end(srv_sessions *ss, const unsigned char id_hash[32]);
/* How many sessions are held (live or expired, not yet dropped). */
size_t srv_sessions_count(srv_sessions *ss);

/* Whether a cookie-authenticated request that changes something may go on:
 * X-CSRF-Token equals the session's token (constant time) and an Origin,
 * when present, is http://<Host> or https://<Host>. Replies 403 csrf
 * otherwise (http.c; also api_session's sign-out). */
bool srv_csrf_ok(const srv_request *rq, srv_response *rs);
/* Whether the request's Origin header, when it has one, is this server's
 * own (http:// or https:// and the Host header). */
bool srv_origin_same(const srv_request *rq);

/* ---- Console assets (console.c) ---------------------------------------------
 * The console's files, embedded at build time (cmake/embed_console.cmake
 * writes srv_console_files[], ending with a row of zeros), or read from
 * opt.console_dir on each request when it is set. */

typedef struct srv_console_file {
    const char *name;               /* "app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} srv_console_file;

extern const srv_console_file srv_console_files[];
extern const size_t srv_console_file_count;

/* ---- Routes ---------------------------------------------------------------------
 * A handler may assume the method matched and the caller holds one of the
 * route's roles. `tail` is what follows the route's prefix in the path
 * (for "/v1/decisions/" routes: the id). */
typedef void (*srv_handler)(const srv_request *rq, const char *tail,
                            srv_response *rs);

void api_decide(const srv_request *rq, const char *tail, srv_response *rs);
void api_decision_get(const srv_request *rq, const char *tail, srv_response *rs);
void api_escalations_list(const srv_request *rq, const char *tail, srv_response *rs);
void api_escalation_resolve(const srv_request *rq, const char *tail, srv_response *rs);
void api_escalation_get(const srv_request *rq, const char *tail, srv_response *rs);
/* ---- Standing approvals (api_grants.c) ---- */
/* POST /v1/escalations/{id}/grant; api_escalation_resolve hands it over. */
void api_escalation_grant(const srv_request *rq, const char *tail, srv_response *rs);
void api_grants_list(const srv_request *rq, const char *tail, srv_response *rs);
void api_grant_revoke(const srv_request *rq, const char *tail, srv_response *rs);
/* ---- end standing approvals ---- */
void api_outcomes(const srv_request *rq, const char *tail, srv_response *rs);
void api_brief(const srv_request *rq, const char *tail, srv_response *rs);
void api_reload(const srv_request *rq, const char *tail, srv_response *rs);
void api_healthz(const srv_request *rq, const char *tail, srv_response *rs);
void api_metrics(const srv_request *rq, const char *tail, srv_response *rs);
/* GET /v1/notifications (api_notify.c). */
void api_notifications(const srv_request *rq, const char *tail, srv_response *rs);
/* Starts the notifications once the address is known (api_notify.c). */
charter_status srv_notify_start(srv *s, charter_error *err);
void api_mcp(const srv_request *rq, const char *tail, srv_response *rs);
void api_report(const srv_request *rq, const char *tail, srv_response *rs);
void api_map(const srv_request *rq, const char *tail, srv_response *rs);
void api_consistency(const srv_request *rq, const char *tail, srv_response *rs);
/* ---- Charter and replay (api_charter.c) ---- */
void api_charter_get(const srv_request *rq, const char *tail, srv_response *rs);
void api_replay(const srv_request *rq, const char *tail, srv_response *rs);
/* ---- end of api_charter.c ---- */
void authzen_evaluation(const srv_request *rq, const char *tail, srv_response *rs);
void authzen_evaluations(const srv_request *rq, const char *tail, srv_response *rs);
void authzen_configuration(const srv_request *rq, const char *tail, srv_response *rs);

/* ---- Sessions and the console (session.c, console.c) ---- */
void api_session_create(const srv_request *rq, const char *tail, srv_response *rs);
void api_session_get(const srv_request *rq, const char *tail, srv_response *rs);
void api_session_delete(const srv_request *rq, const char *tail, srv_response *rs);
void console_index(const srv_request *rq, const char *tail, srv_response *rs);
void console_file(const srv_request *rq, const char *tail, srv_response *rs);

/* An escalation as JSON (api_decide.c; the decision and list endpoints). */
struct json_t *api_escalation_json(const charter_escalation *e);
/* Whether approver key `k` is bound to queue `q`. */
bool api_key_has_queue(const srv_key *k, const char *q);
/* Whether `k` may see and resolve the escalations of queue `q`: an
 * approver key bound to `q` whom charter `c` (the one serving now) accepts
 * for it (charter_queue_approver: a member, or holding one of its roles).
 * Listing, reading and resolving all ask this. */
bool api_approver_of(const srv_key *k, const charter *c, const char *q);

/* ---- Escalations as the API shows them (api_escalations.c) ---- */
/* Escalation `id` as JSON (api_escalation_json) with approvals_needed, and
 * with `detail` the recorded request and answer, what the fired rules read,
 * the ranked values, on_timeout, the queue's policy and, when `who` is an
 * approver key, may_approve and may_approve_why; all under charter `c`.
 * *out is the caller's. Errors: the ledger's, reading it. */
charter_status api_escalation_view(srv *s, const charter *c, const srv_key *who,
                                   const char *id, bool detail, struct json_t **out,
                                   charter_error *err);
/* Whether rq->who may act on escalation `id` now: it exists, the key is an
 * approver of its queue under `c` (the charter serving now) and it is open.
 * False after replying 404, 403 forbidden or 409 already_resolved. */
bool api_escalation_open_for(const srv_request *rq, const charter *c, const char *id,
                             srv_response *rs);
/* Replies to a resolution or grant of escalation `id` that failed with `st`
 * (done->refusal for CHARTER_E_REFUSED): the codes of docs/http-api.md. */
void api_resolve_refused(const srv_request *rq, const char *id, charter_status st,
                         const charter_resolve_result *done, const charter_error *err,
                         srv_response *rs);

/* ---- Search, versions, history (indexer.c, api_search.c) ----
 * The derived index `<ledger>.search` (src/ledger/search.h), followed by a
 * thread of its own; the handlers read it with connections of their own,
 * on workers. */

/* Opens (or rebuilds) the index and starts its thread; s->indexer. */
charter_status srv_indexer_start(srv *s, charter_error *err);
/* Stops the thread, closes the index and frees `ix` (NULL: nothing). */
void srv_indexer_stop(srv_indexer *ix);
/* The ledger's last seq as the thread last saw it (0 before it looked). */
uint64_t srv_indexer_ledger_seq(srv_indexer *ix);

void api_decisions_search(const srv_request *rq, const char *tail, srv_response *rs);
void api_charters_list(const srv_request *rq, const char *tail, srv_response *rs);
void api_charter_version(const srv_request *rq, const char *tail, srv_response *rs);
void api_rule_history(const srv_request *rq, const char *tail, srv_response *rs);
/* Adds "outcomes" and (when `escalated`) "history" of decision `seq` from
 * the index to `out` (api_decision_get). */
void api_decision_index_json(srv *s, uint64_t seq, bool escalated, struct json_t *out);

/* api_mcp.c: the MCP server behind /mcp, created once the ledger is open. */
charter_status srv_mcp_open(srv *s, charter_error *err);
void srv_mcp_close(srv *s);

/* http.c */
charter_status srv_http_start(srv *s, charter_error *err);
void srv_http_quiesce(srv *s);
void srv_http_stop(srv *s);

#endif
