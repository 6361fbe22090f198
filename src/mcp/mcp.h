/* mcp.h - Charter's MCP server, without a transport (internal header).
 *
 * MCP (the Model Context Protocol) lets any MCP-capable agent ask Charter
 * before it acts, wait for an approval, fetch its brief and report outcomes,
 * with no custom code. This module speaks the protocol: JSON-RPC messages
 * in, JSON-RPC replies out. Two transports sit on it: `charter mcp` (stdio,
 * src/cli/cmd_mcp.c) and `charter serve` (Streamable HTTP at /mcp, through
 * mcp_http_handle below). docs/mcp.md describes the tools and resources.
 *
 * Protocol revisions: 2026-07-28 (stateless: every request carries its
 * protocol version and client capabilities in `_meta`; `server/discover`;
 * `resultType` in every result) and the handshake revisions 2025-11-25 and
 * 2025-06-18 (`initialize`). Batches are refused (no supported revision has
 * them).
 *
 * Every check_action goes through charter_ledger_decide, so a decision made
 * over MCP is recorded exactly like one made over HTTP or `charter decide
 * --ledger`. A request that is malformed, or names another agent than the
 * caller, gets a JSON-RPC error and writes nothing.
 *
 * Thread safety: an mcp_server is immutable once created; mcp_handle and
 * mcp_http_handle may be called from any number of threads at once (each
 * call takes its own reference to the charter, and decides with the calling
 * thread's decider from mcp_config.decider or one made for the call).
 * An mcp_conn belongs to one connection and so to one thread at a time.
 */
#ifndef CHARTER_MCP_H
#define CHARTER_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "charter.h"
#include "charter_ledger.h"

/* Returns the current charter with one reference the caller releases with
 * charter_release, or NULL when none is loaded. Called once per request,
 * from the request's thread. */
typedef charter *(*mcp_charter_fn)(void *user);

typedef struct mcp_config {
    mcp_charter_fn charter; /* required */
    void *charter_user;
    charter_ledger *ledger; /* required; not owned, must outlive the server */
    /* Optional: the calling thread's decider, owned by the caller (a server
     * keeps one per connection thread). NULL, or a NULL return: check_action
     * makes a decider for the call and frees it. */
    charter_decider *(*decider)(void *user);
    void *decider_user;
    /* The longest await_approval waits, whatever the agent asks (0: 30000;
     * at most MCP_MAX_WAIT_MS). */
    uint32_t max_wait_ms;
    /* Origins allowed to call the HTTP endpoint: a NULL-terminated list of
     * exact values ("https://agents.example.com"), or NULL for loopback
     * origins only (http or https on localhost, 127.0.0.1, [::1], any
     * port). A request without an Origin header is allowed (it does not
     * come from a browser). The list is not copied: it must outlive the
     * server. */
    const char *const *allowed_origins;
} mcp_config;

typedef struct mcp_server mcp_server;

/* Creates a server; *out is the caller's (mcp_server_free). Errors:
 * CHARTER_E_INVALID (a required field missing), CHARTER_E_NOMEM. */
charter_status mcp_server_new(const mcp_config *cfg, mcp_server **out,
                              charter_error *err);
void mcp_server_free(mcp_server *s);

/* What a stream transport (stdio) remembers between messages: the revision
 * an `initialize` handshake settled, for clients of 2025-11-25 and before.
 * Embedded by the transport; zero it (mcp_conn_init) before the first
 * message. */
typedef struct mcp_conn {
    char legacy_version[16]; /* "" until initialize */
} mcp_conn;

void mcp_conn_init(mcp_conn *c);

typedef struct mcp_http_request mcp_http_request;

/* Who sent a message and how. */
typedef struct mcp_call {
    /* The agent the transport authenticated (the bearer key's agent over
     * HTTP, `charter mcp --agent` over stdio). A tool call naming another
     * agent is refused. NULL: nobody, and every tool call is refused. */
    const char *agent;
    mcp_conn *conn;               /* stdio: the connection; NULL over HTTP */
    const mcp_http_request *http; /* HTTP: its headers are checked against
                                     the body; NULL on stdio */
} mcp_call;

/* The reply to one message. */
typedef struct mcp_reply {
    char *body;      /* the JSON-RPC response (malloc'd, the caller frees
                        it), or NULL when none is due (a notification, or a
                        response the client sent) */
    size_t len;
    int error_code;  /* 0, or the JSON-RPC error code in body */
    int http_status; /* the status Streamable HTTP gives this reply: 200,
                        202 (nothing to return), 400, 404 */
} mcp_reply;

/* Handles one JSON-RPC message (`msg`, `len` bytes, need not be
 * NUL-terminated) and fills *out. Never fails: a bad message gets a JSON-RPC
 * error reply (-32700 parse error, -32600 invalid request, -32601 unknown
 * method, -32602 invalid params, -32603 internal, -32020 header mismatch,
 * -32022 unsupported protocol version). Out of memory leaves out->body NULL
 * with error_code -32603 and http_status 500. */
void mcp_handle(mcp_server *s, const mcp_call *call, const char *msg,
                size_t len, mcp_reply *out);

/* ---- Streamable HTTP ------------------------------------------------------
 * The server routes every request to its MCP endpoint (/mcp) here, after it
 * verified the bearer key (a request without a valid key never gets here:
 * the server answers 401 itself). All strings are the raw header values, or
 * NULL when the header is absent; none is kept after the call. */
struct mcp_http_request {
    const char *method;           /* "POST", "GET", "DELETE" ... */
    const char *origin;           /* Origin */
    const char *accept;           /* Accept */
    const char *content_type;     /* Content-Type */
    const char *protocol_version; /* MCP-Protocol-Version */
    const char *mcp_method;       /* Mcp-Method (2026-07-28) */
    const char *mcp_name;         /* Mcp-Name (2026-07-28) */
    const char *session_id;       /* Mcp-Session-Id: ignored, never minted */
    const char *body;
    size_t body_len;
    const char *agent;            /* from the bearer key; NULL if none */
};

typedef struct mcp_http_response {
    int status;
    char *body;               /* malloc'd, the caller frees it; NULL: empty */
    size_t body_len;
    const char *content_type; /* static string, or NULL with no body */
    const char *allow;        /* static string for a 405 ("POST"), else NULL */
} mcp_http_response;

/* Answers one HTTP request to the MCP endpoint: 403 for an Origin not
 * allowed, 405 (Allow: POST) for GET, DELETE and other methods (this server
 * offers no standalone SSE stream and no sessions), 406 when Accept does not
 * take application/json, 415 for a body that is not application/json, 413
 * for one past MCP_MAX_MESSAGE_BYTES, 202 for a notification, else the
 * JSON-RPC reply with the status mcp_handle chose. A pure function of its
 * arguments and the ledger: safe to call from many threads at once. */
void mcp_http_handle(mcp_server *s, const mcp_http_request *rq,
                     mcp_http_response *rs);

#endif
