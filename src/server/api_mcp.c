/* api_mcp.c - MCP's Streamable HTTP transport at /mcp: the request's
 * headers and body handed to the MCP module (src/mcp/mcp.h), which answers
 * as the MCP specification says; the agent is the bearer key's, verified
 * by http.c like every other endpoint. */
#include "base/banned.h"

#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"

static charter *current_charter(void *user)
{
    return srv_charter(user);
}

static charter_decider *thread_decider(void *user)
{
    return srv_decider(user);
}

charter_status srv_mcp_open(srv *s, charter_error *err)
{
    size_t n = s->opt.allowed_origin_count;
    if (n) {
        /* mcp_config wants a NULL-terminated list that outlives it. */
        s->mcp_origins = calloc(n + 1, sizeof *s->mcp_origins);
        if (!s->mcp_origins)
            return CHARTER_E_NOMEM;
        for (size_t i = 0; i < n; i++)
            s->mcp_origins[i] = s->opt.allowed_origins[i];
    }
    mcp_config cfg = {.charter = current_charter, .charter_user = s,
                      .ledger = s->ledger, .decider = thread_decider, .decider_user = s,
                      .max_wait_ms = s->opt.max_wait_s * 1000u,
                      .allowed_origins = s->mcp_origins};
    return mcp_server_new(&cfg, &s->mcp, err);
}

void srv_mcp_close(srv *s)
{
    mcp_server_free(s->mcp);
    s->mcp = NULL;
    free(s->mcp_origins);
    s->mcp_origins = NULL;
}

void api_mcp(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    mcp_http_request mr = {
        .method = rq->method,
        .origin = srv_header(rq, "Origin"),
        .accept = srv_header(rq, "Accept"),
        .content_type = srv_header(rq, "Content-Type"),
        .protocol_version = srv_header(rq, "MCP-Protocol-Version"),
        .mcp_method = srv_header(rq, "Mcp-Method"),
        .mcp_name = srv_header(rq, "Mcp-Name"),
        .session_id = srv_header(rq, "Mcp-Session-Id"),
        .body = rq->body,
        .body_len = rq->body_len,
        .agent = rq->who ? rq->who->name : NULL};
    mcp_http_response mo;
    memset(&mo, 0, sizeof mo);
    mcp_http_handle(rq->s->mcp, &mr, &mo);
    rs->content_type = mo.content_type ? mo.content_type : "application/json";
    if (mo.allow)
        srv_add_header(rs, "Allow", mo.allow);
    if (mo.body) {
        srv_reply_text(rs, mo.status, mo.body, mo.body_len);
    } else {
        free(rs->body);
        rs->body = NULL;
        rs->body_len = 0;
        rs->status = mo.status;
    }
}
