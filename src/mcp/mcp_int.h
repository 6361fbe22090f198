/* mcp_int.h - what the files of src/mcp share: the server object, the
 * context of one request, errors, and the tool and resource handlers that
 * mcp_rpc.c dispatches to. */
#ifndef CHARTER_MCP_INT_H
#define CHARTER_MCP_INT_H

#include "mcp/mcp.h"

#include <jansson.h>

#define MCP_SERVER_NAME "charter"
#define MCP_SERVER_VERSION "0.1.0"
#define MCP_MODERN_VERSION "2026-07-28"

/* JSON-RPC and MCP error codes. */
enum {
    MCP_PARSE_ERROR = -32700,
    MCP_INVALID_REQUEST = -32600,
    MCP_METHOD_NOT_FOUND = -32601,
    MCP_INVALID_PARAMS = -32602,
    MCP_INTERNAL_ERROR = -32603,
    MCP_RESOURCE_NOT_FOUND_LEGACY = -32002, /* 2025-11-25 and before */
    MCP_HEADER_MISMATCH = -32020,
    MCP_UNSUPPORTED_VERSION = -32022,
    /* Not a JSON-RPC code: a tool execution error, answered as a tool
     * result with isError true so the model can read it and correct
     * itself (an unknown decision id, another agent's decision). */
    MCP_TOOL_ERROR = 1
};

struct mcp_server {
    mcp_config cfg; /* immutable after mcp_server_new */
};

/* One request being handled. */
typedef struct mcp_ctx {
    mcp_server *s;
    const char *agent;   /* the caller, or NULL */
    bool is_modern;      /* 2026-07-28: results get resultType, _meta, ttl */
} mcp_ctx;

/* An error to answer with: filled by a handler that returns NULL. */
typedef struct mcp_err {
    int code;
    char message[768];
    json_t *data; /* optional, owned (decref'd by the caller) */
} mcp_err;

/* Sets e (code and printf-style message) and returns NULL. */
json_t *mcp_fail(mcp_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tools/list and tools/call (mcp_tools.c). Results are new references. */
json_t *mcp_tools_list(const mcp_ctx *x, mcp_err *e);
json_t *mcp_tools_call(const mcp_ctx *x, json_t *params, mcp_err *e);

/* resources/list, resources/read, resources/templates/list
 * (mcp_resources.c). */
json_t *mcp_resources_list(const mcp_ctx *x, mcp_err *e);
json_t *mcp_resources_read(const mcp_ctx *x, json_t *params, mcp_err *e);

/* The server's instructions: how an agent uses these tools, for its system
 * prompt (initialize and server/discover carry them). */
extern const char mcp_instructions[];

#endif
