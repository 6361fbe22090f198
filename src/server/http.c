/* http.c - the HTTP daemon (libmicrohttpd): reading requests within their
 * limits, authentication, routing, and sending JSON responses.
 *
 * A few event threads (MHD's thread pool, each polling its share of the
 * connections) serve every connection and never wait. (poll, not epoll:
 * with epoll, libmicrohttpd misses a client's hang-up in the middle of its
 * headers and holds the connection until the idle timeout; it also removes
 * and re-adds every suspended connection, two system calls per decision.)
 * A decision is made on the event thread, then its connection
 * is suspended until the group commit has made it durable and calls back;
 * the event thread goes on with other connections meanwhile, so many
 * decisions wait for one commit without a thread each. Routes that may
 * block run on a worker (workers.c) with their connection suspended; when
 * the worker is done the connection is resumed and the response sent from
 * its event thread; so is a request whose body is larger than
 * CHARTER_INLINE_BODY_BYTES, whatever its route, so that work growing with
 * a body never holds an event thread. Keep-alive is HTTP/1.1's default;
 * idle connections time out, and the gate (gate.c) gives headers and body
 * deadlines that count time, not silence.
 *
 * A request's framing is checked as soon as its headers are in (RFC 9112):
 * a repeated Content-Length, Content-Length with Transfer-Encoding, a
 * transfer coding other than chunked, or a header name that is not a token
 * (e.g. "Transfer-Encoding " with a space before the colon) is answered at
 * once, before any body is read, and the connection closed, so no proxy in
 * front can disagree with us on where the next request starts. The route
 * and the key are checked then too, so a request made with a valid key
 * leaves the gate's unproven connections while its body is read.
 *
 * A request without an Authorization header may be authenticated by the
 * console's session cookie instead (session.c): the session's key id is
 * looked up in the keys loaded now, and a cookie-authenticated request
 * that is not GET or HEAD must carry the session's X-CSRF-Token and, if
 * it has an Origin, this server's (403 csrf). Every answer is sent with
 * nosniff; console answers and SVG pictures with their CSP.
 */
#include "base/banned.h"

#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/fail.h"
#include "base/limits.h"

#define ROLE_BIT(r) (1u << (r))
#define PUBLIC 0u
#define AGENT ROLE_BIT(CHARTER_ROLE_AGENT)
#define APPROVER ROLE_BIT(CHARTER_ROLE_APPROVER)
#define ADMIN ROLE_BIT(CHARTER_ROLE_ADMIN)
#define PEP ROLE_BIT(CHARTER_ROLE_PEP)
#define AUDITOR ROLE_BIT(CHARTER_ROLE_AUDITOR)

/* Where a handler runs: on the event thread (it answers at once, or defers
 * itself), or on a worker (it may block). */
enum { INLINE, WORKER };

typedef struct route {
    const char *method;
    const char *path;
    bool prefix;          /* path is a prefix; the rest is the handler's tail */
    unsigned roles;       /* PUBLIC: no token needed */
    int runs;             /* INLINE or WORKER */
    srv_handler fn;
} route;

static const route routes[] = {
    {"POST", "/v1/decide", false, AGENT, INLINE, api_decide},
    {"GET", "/v1/decisions/", true, AGENT | APPROVER | ADMIN | AUDITOR, WORKER, api_decision_get},
    /* ---- search, versions, history (api_search.c) ---- */
    {"GET", "/v1/decisions", false, ADMIN | AUDITOR, WORKER, api_decisions_search},
    {"GET", "/v1/charters", false, APPROVER | ADMIN | AUDITOR, WORKER, api_charters_list},
    {"GET", "/v1/charters/", true, APPROVER | ADMIN | AUDITOR, WORKER, api_charter_version},
    {"GET", "/v1/rules/history", false, APPROVER | ADMIN | AUDITOR, WORKER, api_rule_history},
    /* ---- end search ---- */
    {"GET", "/v1/escalations", false, APPROVER | ADMIN | AUDITOR, WORKER, api_escalations_list},
    {"GET", "/v1/escalations/", true, APPROVER | ADMIN | AUDITOR, WORKER, api_escalation_get},
    {"POST", "/v1/escalations/", true, APPROVER, WORKER, api_escalation_resolve},
    /* ---- standing approvals (api_grants.c); .../grant is under the POST above ---- */
    {"GET", "/v1/grants", false, APPROVER | ADMIN | AUDITOR, WORKER, api_grants_list},
    {"POST", "/v1/grants/", true, APPROVER | ADMIN, WORKER, api_grant_revoke},
    /* ---- end standing approvals ---- */
    {"GET", "/v1/notifications", false, APPROVER | ADMIN | AUDITOR, WORKER, api_notifications},
    {"POST", "/v1/outcomes", false, AGENT | ADMIN, WORKER, api_outcomes},
    {"GET", "/v1/brief", false, AGENT | ADMIN, INLINE, api_brief},
    {"POST", "/v1/admin/reload", false, ADMIN, WORKER, api_reload},
    {"GET", "/v1/report", false, ADMIN | AUDITOR, WORKER, api_report},
    {"GET", "/v1/map", false, ADMIN | AUDITOR, WORKER, api_map},
    {"GET", "/v1/consistency", false, ADMIN | AUDITOR, WORKER, api_consistency},
    /* ---- Charter and replay (api_charter.c) ---- */
    {"GET", "/v1/charter", false, ADMIN | AUDITOR | APPROVER, WORKER, api_charter_get},
    {"POST", "/v1/replay", false, ADMIN | AUDITOR, WORKER, api_replay},
    {"GET", "/healthz", false, PUBLIC, INLINE, api_healthz},
    {"GET", "/metrics", false, PUBLIC, INLINE, api_metrics},
    {"POST", "/access/v1/evaluation", false, PEP | AGENT, WORKER, authzen_evaluation},
    {"POST", "/access/v1/evaluations", false, PEP | AGENT, WORKER, authzen_evaluations},
    {"GET", "/.well-known/authzen-configuration", false, PUBLIC, INLINE,
     authzen_configuration},
    /* MCP answers GET and DELETE itself (405: no stream, no sessions). */
    {"POST", "/mcp", false, AGENT, WORKER, api_mcp},
    {"GET", "/mcp", false, AGENT, WORKER, api_mcp},
    {"DELETE", "/mcp", false, AGENT, WORKER, api_mcp},
    /* ---- Sessions and the console (session.c, console.c) ---- */
    /* Public: they authenticate the token or the cookie themselves. */
    {"POST", "/v1/session", false, PUBLIC, INLINE, api_session_create},
    {"GET", "/v1/session", false, PUBLIC, INLINE, api_session_get},
    {"DELETE", "/v1/session", false, PUBLIC, INLINE, api_session_delete},
    /* On a worker: with --console-dir they read files. */
    {"GET", "/", false, PUBLIC, WORKER, console_index},
    {"HEAD", "/", false, PUBLIC, WORKER, console_index},
    {"GET", "/console/", true, PUBLIC, WORKER, console_file},
    {"HEAD", "/console/", true, PUBLIC, WORKER, console_file},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/* One request from its first byte to its response (MHD's per-request
 * pointer): the body being read, then, while the connection is suspended,
 * what the deferred answer or the worker needs. */
typedef struct srv_deferred {
    char *body;
    size_t len, cap;
    bool too_large;
    bool refused;            /* routing or the key refused it: rs holds why */
    bool in_flight;          /* counted in s->inflight until answered */
    bool suspended;          /* waiting for srv_resume */
    bool *worker_kept;       /* on a worker: set when the handler defers */
    _Atomic int on_worker;   /* WORKER_* below: who resumes a deferred answer */
    struct MHD_Connection *conn;
    srv_gate_conn *gate;     /* the connection's record in the gate */
    const char *request_id;
    srv_request rq;
    srv_response rs;
    srv_finish_fn finish;    /* srv_defer's */
    void *finish_user;
    /* A worker's job: the route, its tail, the keys its `who` is in. */
    srv_job job;
    const route *route;
    const char *tail;
    srv_keys *held;
} pending;

/* ---- Helpers for handlers ---------------------------------------------------- */

const char *srv_header(const srv_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *srv_query(const srv_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool srv_query_time(const srv_request *rq, srv_response *rs, const char *name,
                    int64_t *out)
{
    const char *v = srv_query(rq, name);
    if (!v || !*v || charter_time_parse(v, out))
        return true;
    srv_reply_error(rs, 400, "invalid_request",
                    "expected %s=TIME as RFC 3339 (2026-11-24T10:00:00Z), a date "
                    "(2026-11-24) or Unix milliseconds; found '%.60s'", name, v);
    return false;
}

bool srv_parse_uint(const char *text, uint64_t max, uint64_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || errno || v > max)
        return false;
    *out = v;
    return true;
}

bool srv_query_wait(const srv_request *rq, srv_response *rs, uint32_t *wait_ms)
{
    const char *w = srv_query(rq, "wait");
    *wait_ms = 0;
    if (!w)
        return true;
    char *end;
    double secs = strtod(w, &end);
    if (*end || end == w || !(secs >= 0)) {
        srv_reply_error(rs, 400, "invalid_request",
                        "expected ?wait=SECONDS (a number >= 0), found '%.40s'", w);
        return false;
    }
    if (secs > rq->s->opt.max_wait_s)
        secs = rq->s->opt.max_wait_s;
    *wait_ms = (uint32_t)(secs * 1000);
    return true;
}

void srv_reply_text(srv_response *rs, int status, char *text, size_t len)
{
    free(rs->body);
    rs->status = status;
    rs->body = text;
    rs->body_len = text ? len : 0;
    if (!text) {
        rs->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        rs->body = strdup("{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}");
        rs->body_len = rs->body ? strlen(rs->body) : 0;
    }
}

void srv_reply_json(srv_response *rs, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    srv_reply_text(rs, status, text, text ? strlen(text) : 0);
}

void srv_reply_error(srv_response *rs, int status, const char *code, const char *fmt,
                     ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_reply_json(rs, status,
                   json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void srv_reply_status(srv *s, srv_response *rs, charter_status st,
                      const charter_error *err)
{
    const char *msg = err && err->message[0] ? err->message : charter_status_message(st);
    switch (st) {
    case CHARTER_E_JSON:
        srv_reply_error(rs, 400, "malformed_json", "%s", msg);
        break;
    case CHARTER_E_REQUEST:
    case CHARTER_E_INVALID:
        srv_reply_error(rs, 400, "invalid_request", "%s", msg);
        break;
    case CHARTER_E_LIMIT:
        srv_reply_error(rs, 413, "too_large", "%s", msg);
        break;
    case CHARTER_E_REF:
        srv_reply_error(rs, 404, "not_found", "%s", msg);
        break;
    case CHARTER_E_DUPLICATE:
    case CHARTER_E_CONFLICT: /* another server of a shared ledger changed it first */
        srv_reply_error(rs, 409, "conflict", "%s", msg);
        break;
    case CHARTER_E_IO:
        /* The library's message names the ledger file and SQLite's error:
         * not for agents; the log keeps it. While the ledger is failing the
         * health callback has logged the outage once already; a fault the
         * writer does not see (reading an entry back) is logged here. */
        if (s && s->ledger) {
            charter_ledger_health h;
            charter_ledger_health_get(s->ledger, &h);
            if (h.ok)
                srv_log(s, "ledger: %s", msg);
        }
        srv_reply_error(rs, 503, "ledger_unavailable",
                        "the ledger could not be written or read; try again later");
        break;
    default:
        srv_reply_error(rs, 500, "internal", "%s", msg);
        break;
    }
}

bool srv_add_header(srv_response *rs, const char *name, const char *value)
{
    size_t n = strlen(value) + 1;
    if (rs->header_count >= SRV_MAX_HEADERS || n > sizeof rs->text - rs->text_used)
        return false;
    rs->headers[rs->header_count].name = name;
    rs->headers[rs->header_count].value = rs->text_used;
    memcpy(rs->text + rs->text_used, value, n);
    rs->text_used += n;
    rs->header_count++;
    return true;
}

/* Nesting depth of JSON text, counted without parsing (strings skipped),
 * so a body nested thousands deep is refused before jansson recurses. */
static size_t json_depth(const char *p, size_t n)
{
    size_t depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if ((c == '}' || c == ']') && depth) {
            depth--;
        }
    }
    return max;
}

bool srv_body_too_deep(const srv_request *rq, srv_response *rs)
{
    if (json_depth(rq->body, rq->body_len) <= CHARTER_MAX_JSON_DEPTH)
        return false;
    srv_reply_error(rs, 400, "too_deep", "the JSON body is nested deeper than %u levels",
                    CHARTER_MAX_JSON_DEPTH);
    return true;
}

json_t *srv_body_object(const srv_request *rq, srv_response *rs)
{
    if (!rq->body_len) {
        srv_reply_error(rs, 400, "malformed_json", "the request body is empty; "
                                                   "expected a JSON object");
        return NULL;
    }
    if (srv_body_too_deep(rq, rs))
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        srv_reply_error(rs, 400, "malformed_json", "malformed JSON at line %d column %d: %s",
                        je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        srv_reply_error(rs, 400, "invalid_request", "expected a JSON object");
        return NULL;
    }
    return j;
}

/* ---- Sending ---------------------------------------------------------------------- */

static enum MHD_Result send_response(struct MHD_Connection *conn, srv_response *rs,
                                     const char *request_id)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        rs->body_len, rs->body ? rs->body : (void *)"", rs->body ? MHD_RESPMEM_MUST_FREE
                                                                 : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(rs->body);
        rs->body = NULL;
        return MHD_NO;
    }
    rs->body = NULL; /* MHD frees it now */
    const char *type = rs->content_type ? rs->content_type : "application/json";
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            rs->console ? "no-cache" : "no-store");
    /* Security headers (docs/security.md): no answer is sniffed into
     * another type; a console answer runs only the console's own scripts
     * and styles and is never framed; an SVG picture opened on its own runs
     * no script and loads nothing. */
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (rs->console) {
        MHD_add_response_header(r, "Content-Security-Policy", SRV_CONSOLE_CSP);
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
    } else if (!strncmp(type, "image/svg+xml", 13)) {
        MHD_add_response_header(r, "Content-Security-Policy", SRV_SVG_CSP);
    }
    if (request_id)
        MHD_add_response_header(r, "X-Request-ID", request_id);
    for (size_t i = 0; i < rs->header_count; i++)
        MHD_add_response_header(r, rs->headers[i].name, rs->text + rs->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- Routing ------------------------------------------------------------------------ */

static bool path_matches(const route *rt, const char *path, const char **tail)
{
    size_t n = strlen(rt->path);
    if (rt->prefix) {
        if (strncmp(path, rt->path, n) || !path[n])
            return false;
        *tail = path + n;
        return true;
    }
    *tail = "";
    return !strcmp(path, rt->path);
}

/* What authenticate looks at: public routes read only a session cookie
 * (for the session routes and the gate), the others a bearer token too. */
typedef enum { AUTH_COOKIE_ONLY, AUTH_BEARER_OR_COOKIE } auth_kind;

/* The key of a bearer token, or, when the request has no Authorization
 * header, of a live session cookie (rq->by_cookie and rq->session set):
 * the session's key id looked up in the keys loaded now, so a key revoked
 * and reloaded ends its sessions. */
static const srv_key *authenticate(srv *s, srv_request *rq, auth_kind kind,
                                   srv_keys **held)
{
    const char *auth = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    *held = NULL;
    rq->by_cookie = false;
    const char *cookie = NULL;
    if (auth) {
        if (kind != AUTH_BEARER_OR_COOKIE || strncasecmp(auth, "Bearer ", 7))
            return NULL;
    } else {
        cookie = MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, SRV_SESSION_COOKIE);
        if (!cookie || !srv_session_find(s->sessions, cookie, charter_now_ms(),
                                         &rq->session))
            return NULL;
    }
    pthread_mutex_lock(&s->swap_mu);
    srv_keys *ks = srv_keys_retain(s->keys);
    pthread_mutex_unlock(&s->swap_mu);
    const srv_key *k = cookie ? srv_keys_find(ks, rq->session.key_id)
                              : srv_keys_check(ks, auth + 7);
    /* A session is only ever made for a person's key; should the keys file
     * now give that id another role, the session is not it. */
    if (k && cookie && k->role != CHARTER_ROLE_APPROVER && k->role != CHARTER_ROLE_ADMIN &&
        k->role != CHARTER_ROLE_AUDITOR)
        k = NULL;
    if (k) {
        *held = ks;
        rq->by_cookie = cookie != NULL;
    } else {
        srv_keys_release(ks);
    }
    return k;
}

bool srv_origin_same(const srv_request *rq)
{
    const char *origin = srv_header(rq, "Origin");
    if (!origin)
        return true;
    const char *host = srv_header(rq, MHD_HTTP_HEADER_HOST);
    if (!host || !host[0])
        return false;
    const char *rest = !strncmp(origin, "http://", 7)    ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8
                                                         : NULL;
    return rest && !strcmp(rest, host);
}

bool srv_csrf_ok(const srv_request *rq, srv_response *rs)
{
    const char *token = srv_header(rq, "X-CSRF-Token");
    bool same = token && strlen(token) == strlen(rq->session.csrf) &&
                sodium_memcmp(token, rq->session.csrf, strlen(token)) == 0;
    if (!same) {
        srv_reply_error(rs, 403, "csrf", "%s: expected the header 'X-CSRF-Token' with the "
                        "session's token (from POST or GET /v1/session) on a %s made with "
                        "the session cookie", token ? "wrong X-CSRF-Token" :
                        "no X-CSRF-Token", rq->method);
        return false;
    }
    if (!srv_origin_same(rq)) {
        srv_reply_error(rs, 403, "csrf", "the request's Origin is not this server's: "
                        "expected http://<Host> or https://<Host>, as the console sends");
        return false;
    }
    return true;
}

/* Finds the route and checks the caller's token and role. Returns the
 * route, with *tail and *held (the keys rq->who lives in, to release after
 * the handler), or NULL with the refusal in rs. */
static const route *route_request(srv *s, srv_request *rq, srv_response *rs,
                                  const char **tail, srv_keys **held)
{
    const route *match = NULL;
    char allow[64] = "";
    *tail = "";
    *held = NULL;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const char *t;
        if (!path_matches(&routes[i], rq->path, &t))
            continue;
        if (!strcmp(routes[i].method, rq->method)) {
            match = &routes[i];
            *tail = t;
            break;
        }
        if (!strstr(allow, routes[i].method))
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
                     allow[0] ? ", " : "", routes[i].method);
    }
    if (!match) {
        if (allow[0]) {
            srv_add_header(rs, MHD_HTTP_HEADER_ALLOW, allow);
            srv_reply_error(rs, 405, "method_not_allowed", "%s is not allowed on %s; use %s",
                            rq->method, rq->path, allow);
        } else {
            srv_reply_error(rs, 404, "not_found", "no endpoint %s %s (see docs/http-api.md)",
                            rq->method, rq->path);
        }
        return NULL;
    }
    if (match->roles == PUBLIC) {
        /* A session cookie is looked up on public routes too: the session
         * routes read it, and it proves the connection to the gate. */
        rq->who = authenticate(s, rq, AUTH_COOKIE_ONLY, held);
        return match;
    }
    rq->who = authenticate(s, rq, AUTH_BEARER_OR_COOKIE, held);
    if (!rq->who) {
        srv_add_header(rs, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"charter\"");
        srv_reply_error(rs, 401, "unauthenticated",
                        "expected 'Authorization: Bearer <token>' with a token "
                        "from 'charter keys', or a live session cookie "
                        "(POST /v1/session)");
        return NULL;
    }
    /* A cookie goes along with cross-site requests too: one that changes
     * something must prove it comes from the console. */
    if (rq->by_cookie && strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD") &&
        !srv_csrf_ok(rq, rs)) {
        srv_keys_release(*held);
        *held = NULL;
        rq->who = NULL;
        return NULL;
    }
    if (!(match->roles & ROLE_BIT(rq->who->role))) {
        srv_reply_error(rs, 403, "forbidden", "a %s key may not call %s %s",
                        charter_access_role_name(rq->who->role), rq->method, rq->path);
        srv_keys_release(*held);
        *held = NULL;
        return NULL;
    }
    return match;
}

void srv_defer(const srv_request *rq, srv_finish_fn finish, void *user)
{
    pending *p = rq->deferred;
    p->finish = finish;
    p->finish_user = user;
    if (p->worker_kept) {
        /* On a worker the connection is suspended already; the worker
         * leaves it so, for srv_resume to wake. */
        *p->worker_kept = true;
        p->worker_kept = NULL;
        return;
    }
    p->suspended = true;
    MHD_suspend_connection(p->conn);
}

/* A handler on a worker that deferred its answer may be woken (srv_resume,
 * from the ledger's writer) before it has returned, while it still writes
 * what its finish reads: then the worker resumes the connection once the
 * handler is done. Exactly one of the two resumes it. */
enum { WORKER_NONE, WORKER_IN_HANDLER, WORKER_RESUME_ASKED };

void srv_resume(pending *p)
{
    int in_handler = WORKER_IN_HANDLER;
    if (atomic_compare_exchange_strong(&p->on_worker, &in_handler, WORKER_RESUME_ASKED))
        return; /* the worker resumes it when the handler returns */
    MHD_resume_connection(p->conn);
}

/* A worker runs the handler, then hands the connection back, unless the
 * handler deferred its answer (srv_defer): then srv_resume wakes it, or
 * asks the worker to when the handler has not returned yet. */
static void run_on_worker(srv_job *job)
{
    pending *p = (pending *)((char *)job - offsetof(pending, job));
    srv_keys *held = p->held;
    bool kept = false;
    p->held = NULL;
    p->worker_kept = &kept;
    atomic_store(&p->on_worker, WORKER_IN_HANDLER);
    p->route->fn(&p->rq, p->tail, &p->rs);
    srv_keys_release(held);
    if (kept) {
        /* Past this exchange p is srv_resume's, and may be freed. */
        if (atomic_exchange(&p->on_worker, WORKER_NONE) == WORKER_RESUME_ASKED)
            MHD_resume_connection(p->conn);
        return;
    }
    atomic_store(&p->on_worker, WORKER_NONE);
    p->worker_kept = NULL;
    MHD_resume_connection(p->conn);
}

/* Sends the response in p->rs; the request is no longer in flight. */
static enum MHD_Result respond(srv *s, pending *p)
{
    if (p->rs.status >= 500)
        atomic_fetch_add(&s->metrics.errors_5xx, 1);
    else if (p->rs.status >= 400)
        atomic_fetch_add(&s->metrics.errors_4xx, 1);
    enum MHD_Result ret = send_response(p->conn, &p->rs, p->request_id);
    p->in_flight = false;
    atomic_fetch_sub(&s->inflight, 1);
    return ret;
}

/* ---- Framing (RFC 9112) -------------------------------------------------------- */

typedef struct framing {
    unsigned content_length, transfer_encoding, authorization;
    const char *te;          /* the Transfer-Encoding value */
    const char *bad_name;    /* a header name that is not a token */
} framing;

/* RFC 9110's tchar: the bytes a header name may hold. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    framing *f = cls;
    (void)kind;
    const char *k = key;
    while (*k && is_tchar((unsigned char)*k))
        k++;
    if (*k || k == key) {
        f->bad_name = key;
        return MHD_NO;
    }
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
        f->content_length++;
    else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->transfer_encoding++;
        f->te = value;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION))
        f->authorization++;
    return MHD_YES;
}

/* Whether the last coding in `te` is chunked (whitespace around it
 * allowed): then the body's length can be known, and any other coding is
 * one we do not implement. */
static bool te_ends_chunked(const char *te)
{
    const char *last = strrchr(te, ',');
    last = last ? last + 1 : te;
    last += strspn(last, " \t");
    if (strncasecmp(last, "chunked", 7))
        return false;
    last += 7;
    return !last[strspn(last, " \t")];
}

/* `text` cut to fit `out`, bytes outside printable ASCII as '?' (it goes
 * into a JSON message, which must be UTF-8). */
static const char *printable(const char *text, char *out, size_t size)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++)
        out[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
    out[i] = '\0';
    return out;
}

/* Checks what libmicrohttpd lets through: it takes the first of two
 * Content-Lengths, lets Transfer-Encoding override Content-Length, reads
 * an unknown coding until the client closes, and keeps a header name with
 * a space before the colon as a different header. Returns false with the
 * refusal (and "Connection: close") in rs. */
static bool framing_ok(struct MHD_Connection *conn, const char *version, srv_response *rs)
{
    framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &f);
    char shown[64];
    const char *code = "bad_framing";
    if (f.bad_name)
        srv_reply_error(rs, 400, code, "found header name '%s', which is not a token; "
                        "expected letters, digits and !#$%%&'*+-.^_`|~ only (no space "
                        "before the colon)", printable(f.bad_name, shown, sizeof shown));
    else if (f.content_length > 1)
        srv_reply_error(rs, 400, code, "found %u Content-Length headers; expected at "
                        "most one", f.content_length);
    else if (f.transfer_encoding && f.content_length)
        srv_reply_error(rs, 400, code, "found both Content-Length and Transfer-Encoding; "
                        "expected one of them");
    else if (f.transfer_encoding > 1)
        srv_reply_error(rs, 400, code, "found %u Transfer-Encoding headers; expected at "
                        "most one", f.transfer_encoding);
    else if (f.transfer_encoding && !strcmp(version, MHD_HTTP_VERSION_1_0))
        srv_reply_error(rs, 400, code, "found Transfer-Encoding in an HTTP/1.0 request; "
                        "expected Content-Length");
    else if (f.transfer_encoding && !te_ends_chunked(f.te))
        srv_reply_error(rs, 400, code, "found Transfer-Encoding '%s'; expected chunked as "
                        "the last coding, or the body's length cannot be known",
                        printable(f.te, shown, sizeof shown));
    /* Exactly what libmicrohttpd reads as chunked passes, no more. */
    else if (f.transfer_encoding && strcasecmp(f.te, "chunked"))
        srv_reply_error(rs, 501, "not_implemented", "found Transfer-Encoding '%s'; only "
                        "chunked is implemented", printable(f.te, shown, sizeof shown));
    else if (f.authorization > 1)
        srv_reply_error(rs, 400, code, "found %u Authorization headers; expected one",
                        f.authorization);
    else
        return true;
    srv_add_header(rs, MHD_HTTP_HEADER_CONNECTION, "close");
    return false;
}

/* ---- Requests -------------------------------------------------------------------- */

static srv_gate_conn *gate_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The first call, once the headers are in: framing, size, route and key
 * are checked before any body is read. Returns true when the request is
 * to be answered at once (rs or too_large say how). */
static bool on_headers(srv *s, pending *p, struct MHD_Connection *conn, const char *url,
                       const char *method, const char *version)
{
    const char *request_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         "X-Request-ID");
    p->request_id = request_id && strlen(request_id) <= 120 ? request_id : NULL;
    p->rq = (srv_request){.s = s, .conn = conn, .method = method, .path = url,
                          .body = "", .request_id = p->request_id, .deferred = p};
    if (!framing_ok(conn, version, &p->rs))
        return true;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->opt.max_body_bytes) {
        p->too_large = true; /* the body is never read */
        return true;
    }
    /* A refusal is kept for when the body is in: answered now, the body
     * would be left unread and the connection closed on a client that did
     * nothing wrong but send it. */
    p->route = route_request(s, &p->rq, &p->rs, &p->tail, &p->held);
    p->refused = !p->route;
    srv_gate_headers(s->gate, p->gate, p->rq.who != NULL);
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **req_cls)
{
    srv *s = cls;
    pending *p = *req_cls;
    size_t limit = s->opt.max_body_bytes;
    if (!p) {
        if (!(p = calloc(1, sizeof *p)))
            return MHD_NO;
        *req_cls = p;
        p->conn = conn;
        p->gate = gate_of(conn);
        if (!on_headers(s, p, conn, url, method, version))
            return MHD_YES;
        *upload_size = 0; /* answered at once: libmicrohttpd discards the body */
    }
    if (p->suspended) { /* resumed: the answer is ready */
        p->suspended = false;
        if (p->finish)
            p->finish(p->finish_user, &p->rs);
        return respond(s, p);
    }
    if (*upload_size && !p->too_large) {
        if (p->len + *upload_size > limit) {
            p->too_large = true;
        } else {
            if (p->len + *upload_size + 1 > p->cap) {
                size_t cap = p->cap ? p->cap : 4096;
                while (cap < p->len + *upload_size + 1)
                    cap *= 2;
                char *b = realloc(p->body, cap);
                if (!b)
                    return MHD_NO;
                p->body = b;
                p->cap = cap;
            }
            memcpy(p->body + p->len, upload, *upload_size);
            p->len += *upload_size;
            p->body[p->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) { /* discarding an oversized chunked body */
        *upload_size = 0;
        return MHD_YES;
    }
    srv_gate_request(s->gate, p->gate);
    atomic_fetch_add(&s->metrics.requests, 1);
    atomic_fetch_add(&s->inflight, 1);
    p->in_flight = true;
    if (p->too_large) {
        srv_keys_release(p->held);
        p->held = NULL;
        srv_reply_error(&p->rs, 413, "too_large", "the request body is over the limit of "
                                                  "%zu bytes", limit);
        return respond(s, p);
    }
    if (p->refused || !p->route) /* refused, or answered at its headers */
        return respond(s, p);
    p->rq.body = p->body ? p->body : "";
    p->rq.body_len = p->len;
    const route *rt = p->route;
    if (rt->runs == WORKER || p->len > CHARTER_INLINE_BODY_BYTES) {
        p->job.run = run_on_worker;
        srv_defer(&p->rq, NULL, NULL); /* before the worker can resume it */
        if (!srv_workers_run(s->workers, &p->job)) {
            srv_keys_release(p->held);
            p->held = NULL;
            srv_reply_error(&p->rs, 503, "unavailable",
                            "the server is stopping or cannot start a thread");
            MHD_resume_connection(conn);
        }
        return MHD_YES;
    }
    srv_keys *held = p->held;
    p->held = NULL;
    rt->fn(&p->rq, p->tail, &p->rs);
    srv_keys_release(held); /* a deferred answer must not need rq->who */
    if (p->suspended)
        return MHD_YES;
    return respond(s, p);
}

/* The end of a request, answered or not. A suspended request whose client
 * went away is resumed and then closed without its handler being called
 * again: its answer is finished here all the same (a decision is settled
 * into the ledger's state), only not sent. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    srv *s = cls;
    pending *p = *req_cls;
    (void)toe;
    srv_gate_answered(s->gate, gate_of(conn));
    if (!p)
        return;
    if (p->suspended && p->finish)
        p->finish(p->finish_user, &p->rs);
    if (p->in_flight)
        atomic_fetch_sub(&s->inflight, 1);
    srv_keys_release(p->held); /* the client left while its body came */
    free(p->body);
    free(p->rs.body);
    free(p);
    *req_cls = NULL;
}

/* A connection opens or closes: the gate keeps its record. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? srv_gate_opened(s->gate, ci->connect_fd) : NULL;
    } else {
        srv_gate_closed(s->gate, *socket_context);
        *socket_context = NULL;
    }
}

/* ---- Start and stop ------------------------------------------------------------------ */

static bool parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return false;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port > 65535 || !colon[1])
        return false;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

charter_status srv_http_start(srv *s, charter_error *err)
{
    struct sockaddr_in sa;
    if (!parse_listen(s->opt.listen, &sa))
        return base_fail(err, CHARTER_E_INVALID,
                         "expected --listen HOST:PORT with an IPv4 address, e.g. "
                         "127.0.0.1:8080; found '%s'", s->opt.listen);
    /* The socket is bound here, before any thread starts, so the address
     * (with the port the system picked for port 0) is known and written
     * once before a request can read it. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    socklen_t salen = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        if (fd >= 0)
            close(fd);
        return base_fail(err, CHARTER_E_IO,
                         "cannot listen on %s (address in use, or not an address of "
                         "this machine)", s->opt.listen);
    }
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    snprintf(s->address, sizeof s->address, "%s:%u", host, (unsigned)ntohs(sa.sin_port));
    /* The edges' defaults live here, with the daemon they configure. */
    if (!s->opt.header_timeout_s)
        s->opt.header_timeout_s = CHARTER_HEADER_DEADLINE_S;
    if (!s->opt.body_timeout_s)
        s->opt.body_timeout_s = CHARTER_BODY_DEADLINE_S;
    if (!s->opt.max_connections_per_address)
        s->opt.max_connections_per_address = CHARTER_MAX_CONNECTIONS_PER_ADDRESS;
    if (s->opt.max_connections_per_address > s->opt.max_connections)
        s->opt.max_connections_per_address = s->opt.max_connections;
    srv_gate_options go = {.header_us = (int64_t)s->opt.header_timeout_s * 1000000,
                           .body_us = (int64_t)s->opt.body_timeout_s * 1000000,
                           .idle_us = (int64_t)s->opt.idle_timeout_s * 1000000,
                           .max_connections = s->opt.max_connections};
    if (srv_workers_new(s->opt.max_connections, &s->workers) != CHARTER_OK ||
        srv_gate_new(&go, &s->gate) != CHARTER_OK) {
        close(fd);
        srv_workers_free(s->workers);
        s->workers = NULL;
        return base_fail(err, CHARTER_E_NOMEM, "out of memory or threads starting the server");
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO, 0,
        NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->opt.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->opt.idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->opt.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)s->opt.max_connections_per_address,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)s->opt.max_header_bytes,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        srv_workers_free(s->workers);
        s->workers = NULL;
        srv_gate_free(s->gate);
        s->gate = NULL;
        return base_fail(err, CHARTER_E_IO, "cannot serve on %s (out of threads or memory)",
                         s->opt.listen);
    }
    return CHARTER_OK;
}

void srv_http_quiesce(srv *s)
{
    if (!s->daemon)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void srv_http_stop(srv *s)
{
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    srv_workers_free(s->workers);
    s->workers = NULL;
    srv_gate_free(s->gate); /* after the daemon: every connection is closed */
    s->gate = NULL;
}
