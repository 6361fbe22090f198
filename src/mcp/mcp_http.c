/* mcp_http.c - the Streamable HTTP transport of MCP, as one pure function
 * the HTTP server calls per request to its MCP endpoint.
 *
 * Every message is its own POST, answered with one JSON object (never an
 * SSE stream: no tool here sends progress). There are no sessions: an
 * Mcp-Session-Id header is ignored and none is minted, and GET (the
 * standalone SSE stream of 2025-11-25) and DELETE (ending a session) are
 * 405. Origin is checked first, against DNS rebinding.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "mcp/mcp_int.h"

#include <ctype.h>
#include <strings.h>

static const char mcp_json_type[] = "application/json";

/* http(s)://localhost, 127.0.0.1 or [::1], with or without a port. */
static bool is_loopback_origin(const char *o)
{
    const char *h = !strncasecmp(o, "http://", 7)    ? o + 7
                    : !strncasecmp(o, "https://", 8) ? o + 8
                                                     : NULL;
    if (!h)
        return false;
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(hosts[i]);
        if (strncasecmp(h, hosts[i], n))
            continue;
        const char *p = h + n;
        if (!*p)
            return true;
        if (*p != ':' || !p[1])
            return false;
        for (p++; *p; p++)
            if (!isdigit((unsigned char)*p))
                return false;
        return true;
    }
    return false;
}

static bool origin_allowed(const mcp_server *s, const char *origin)
{
    if (!origin)
        return true;
    if (!s->cfg.allowed_origins)
        return is_loopback_origin(origin);
    for (const char *const *o = s->cfg.allowed_origins; *o; o++)
        if (!strcasecmp(*o, origin))
            return true;
    return false;
}

/* Whether a media-range list (Accept) takes application/json. */
static bool accepts_json(const char *accept)
{
    if (!accept)
        return false;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',' && *end != ';' && *end != ' ')
            end++;
        size_t n = (size_t)(end - p);
        if ((n == 16 && !strncasecmp(p, "application/json", 16)) ||
            (n == 3 && !strncmp(p, "*/*", 3)) ||
            (n == 13 && !strncasecmp(p, "application/*", 13)))
            return true;
        p = end;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    return !strncasecmp(ct, mcp_json_type, 16) && (ct[16] == '\0' || ct[16] == ';' ||
                                               ct[16] == ' ');
}

/* An error with no id, for failures found before the body is read. */
static void fail(mcp_http_response *rs, int status, int code, const char *message)
{
    json_t *m = json_pack("{s:s, s:{s:i, s:s}}", "jsonrpc", "2.0", "error", "code", code,
                          "message", message);
    rs->status = status;
    rs->body = m ? json_dumps(m, JSON_COMPACT) : NULL;
    rs->body_len = rs->body ? strlen(rs->body) : 0;
    rs->content_type = rs->body ? mcp_json_type : NULL;
    json_decref(m);
}

void mcp_http_handle(mcp_server *s, const mcp_http_request *rq, mcp_http_response *rs)
{
    memset(rs, 0, sizeof *rs);
    if (!origin_allowed(s, rq->origin)) {
        fail(rs, 403, MCP_INVALID_REQUEST,
             "Forbidden: this Origin may not call the MCP endpoint");
        return;
    }
    if (!rq->method || strcmp(rq->method, "POST")) {
        rs->status = 405;
        rs->allow = "POST";
        fail(rs, 405, MCP_INVALID_REQUEST,
             "Method Not Allowed: send each JSON-RPC message as a POST; this server keeps "
             "no sessions and offers no standalone SSE stream");
        return;
    }
    if (!accepts_json(rq->accept)) {
        fail(rs, 406, MCP_INVALID_REQUEST,
             "Not Acceptable: the client must accept application/json (and "
             "text/event-stream)");
        return;
    }
    if (!is_json_type(rq->content_type)) {
        fail(rs, 415, MCP_INVALID_REQUEST,
             "Unsupported Media Type: the body must be application/json");
        return;
    }
    if (rq->body_len > MCP_MAX_MESSAGE_BYTES) {
        fail(rs, 413, MCP_INVALID_REQUEST, "Payload Too Large: one JSON-RPC message is "
                                           "limited to MCP_MAX_MESSAGE_BYTES");
        return;
    }
    mcp_call call = {.agent = rq->agent, .conn = NULL, .http = rq};
    mcp_reply r;
    mcp_handle(s, &call, rq->body ? rq->body : "", rq->body_len, &r);
    rs->status = r.http_status;
    rs->body = r.body;
    rs->body_len = r.len;
    rs->content_type = r.body ? mcp_json_type : NULL;
    if (r.http_status == 202) {
        free(r.body); /* nothing is sent with a 202 */
        rs->body = NULL;
        rs->body_len = 0;
        rs->content_type = NULL;
    }
}
