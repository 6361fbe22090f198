/* mcp_rpc.c - JSON-RPC for MCP: parse one message, check it, settle the
 * protocol revision it speaks, dispatch it and write the reply.
 *
 * Two eras share one endpoint. A request whose params carry
 * `_meta["io.modelcontextprotocol/protocolVersion"]` is served statelessly
 * (2026-07-28). Otherwise it is a handshake-era request (2025-11-25,
 * 2025-06-18): over stdio its revision is the one `initialize` settled on
 * the connection, over HTTP the MCP-Protocol-Version header's.
 */
#include "base/banned.h"

#include "base/limits.h"
#include "mcp/mcp_int.h"

#include <stdarg.h>

static const char *const modern_versions[] = {MCP_MODERN_VERSION};
static const char *const legacy_versions[] = {"2025-11-25", "2025-06-18"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char mcp_instructions[] =
    "Charter holds your organization's intent: its ranked values, hard "
    "boundaries and decision rules. Before every consequential action (a "
    "refund, a message to a customer, a change to a record, a purchase), call "
    "check_action and do what it says: proceed on allow, never on deny, and "
    "on escalate wait with await_approval until a person decides. Read "
    "get_brief once at the start of a task to learn your goals, limits and "
    "when you must escalate. Report what came of an action with "
    "report_outcome. Every call is recorded.";

json_t *mcp_fail(mcp_err *e, int code, const char *fmt, ...)
{
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return NULL;
}

void mcp_conn_init(mcp_conn *c)
{
    memset(c, 0, sizeof *c);
}

charter_status mcp_server_new(const mcp_config *cfg, mcp_server **out,
                              charter_error *err)
{
    *out = NULL;
    if (!cfg || !cfg->charter || !cfg->ledger) {
        if (err) {
            memset(err, 0, sizeof *err);
            err->code = CHARTER_E_INVALID;
            snprintf(err->message, sizeof err->message,
                     "an MCP server needs a charter callback and a ledger");
        }
        return CHARTER_E_INVALID;
    }
    mcp_server *s = calloc(1, sizeof *s);
    if (!s)
        return CHARTER_E_NOMEM;
    s->cfg = *cfg;
    if (s->cfg.max_wait_ms == 0)
        s->cfg.max_wait_ms = 30000;
    if (s->cfg.max_wait_ms > MCP_MAX_WAIT_MS)
        s->cfg.max_wait_ms = MCP_MAX_WAIT_MS;
    *out = s;
    return CHARTER_OK;
}

void mcp_server_free(mcp_server *s)
{
    free(s);
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v, list[i]))
            return true;
    return false;
}

static bool is_legacy(const char *v)
{
    return in_list(v, legacy_versions, COUNT(legacy_versions));
}

static json_t *supported_versions(void)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < COUNT(modern_versions); i++)
        json_array_append_new(a, json_string(modern_versions[i]));
    for (size_t i = 0; a && i < COUNT(legacy_versions); i++)
        json_array_append_new(a, json_string(legacy_versions[i]));
    return a;
}

static json_t *capabilities(void)
{
    return json_pack("{s:{s:b}, s:{s:b, s:b}}", "tools", "listChanged", 0,
                     "resources", "subscribe", 0, "listChanged", 0);
}

static json_t *server_info(void)
{
    return json_pack("{s:s, s:s, s:s}", "name", MCP_SERVER_NAME, "title",
                     "Charter", "version", MCP_SERVER_VERSION);
}

/* ---- Replies ----------------------------------------------------------- */

static void reply_json(mcp_reply *out, json_t *msg)
{
    out->body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    out->len = out->body ? strlen(out->body) : 0;
    if (!out->body) {
        out->error_code = MCP_INTERNAL_ERROR;
        out->http_status = 500;
    }
    json_decref(msg);
}

/* `id` may be NULL (the id could not be read): the reply then has none, as
 * the MCP base protocol allows for errors about malformed requests. */
static void reply_error(mcp_reply *out, json_t *id, int code,
                        const char *message, json_t *data, int http_status)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);
    if (err && data)
        json_object_set(err, "data", data);
    json_t *msg = json_pack("{s:s}", "jsonrpc", "2.0");
    if (msg && id)
        json_object_set(msg, "id", id);
    if (msg && err)
        json_object_set(msg, "error", err);
    if (!err) {
        json_decref(msg);
        msg = NULL;
    }
    json_decref(err);
    out->error_code = code;
    out->http_status = http_status;
    reply_json(out, msg);
}

static void reply_result(mcp_reply *out, json_t *id, json_t *result)
{
    json_t *msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
                            "result", result);
    out->error_code = 0;
    out->http_status = 200;
    reply_json(out, msg);
}

/* ---- One request --------------------------------------------------------- */

typedef struct request {
    json_t *id;            /* borrowed */
    const char *method;
    json_t *params;        /* borrowed; NULL when absent */
    const char *version;   /* the revision it speaks */
    bool is_modern;
} request;

/* A result of the 2026-07-28 revision names its type and the server; a
 * cacheable one says for how long and for whom. */
static json_t *decorate(json_t *result, bool is_modern, json_int_t ttl_ms)
{
    if (!result || !is_modern)
        return result;
    json_object_set_new(result, "resultType", json_string("complete"));
    if (ttl_ms >= 0) {
        json_object_set_new(result, "ttlMs", json_integer(ttl_ms));
        json_object_set_new(result, "cacheScope", json_string("public"));
    }
    json_t *meta = json_object_get(result, "_meta");
    if (!meta) {
        meta = json_object();
        json_object_set_new(result, "_meta", meta);
    }
    json_object_set_new(meta, "io.modelcontextprotocol/serverInfo", server_info());
    return result;
}

static json_t *do_initialize(mcp_conn *conn, json_t *params, mcp_err *e)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    if (!asked)
        return mcp_fail(e, MCP_INVALID_PARAMS,
                        "initialize needs params.protocolVersion (a string such as "
                        "\"2025-11-25\")");
    if (!json_is_object(json_object_get(params, "capabilities")))
        return mcp_fail(e, MCP_INVALID_PARAMS,
                        "initialize needs params.capabilities (an object)");
    /* A revision we do not speak gets the latest we do; the client decides
     * whether it can go on with it. */
    const char *v = is_legacy(asked) ? asked : legacy_versions[0];
    if (conn)
        snprintf(conn->legacy_version, sizeof conn->legacy_version, "%s", v);
    return json_pack("{s:s, s:o, s:o, s:s}", "protocolVersion", v, "capabilities",
                     capabilities(), "serverInfo", server_info(), "instructions",
                     mcp_instructions);
}

static json_t *do_discover(mcp_err *e)
{
    json_t *r = json_pack("{s:o, s:o, s:s}", "supportedVersions", supported_versions(),
                          "capabilities", capabilities(), "instructions",
                          mcp_instructions);
    return r ? r : mcp_fail(e, MCP_INTERNAL_ERROR, "out of memory");
}

static json_t *dispatch(mcp_server *s, const mcp_call *call, const request *rq,
                        mcp_err *e)
{
    mcp_ctx x = {.s = s, .agent = call->agent, .is_modern = rq->is_modern};
    const char *m = rq->method;
    if (!strcmp(m, "server/discover"))
        return decorate(do_discover(e), true, 3600000);
    if (!strcmp(m, "ping") && !rq->is_modern)
        return json_object();
    if (!strcmp(m, "tools/list"))
        return decorate(mcp_tools_list(&x, e), rq->is_modern, 3600000);
    if (!strcmp(m, "tools/call"))
        return decorate(mcp_tools_call(&x, rq->params, e), rq->is_modern, -1);
    if (!strcmp(m, "resources/list"))
        return decorate(mcp_resources_list(&x, e), rq->is_modern, 60000);
    if (!strcmp(m, "resources/read"))
        return decorate(mcp_resources_read(&x, rq->params, e), rq->is_modern, 0);
    if (!strcmp(m, "resources/templates/list"))
        return decorate(json_pack("{s:[]}", "resourceTemplates"), rq->is_modern, 3600000);
    if (!strcmp(m, "initialize"))
        return mcp_fail(e, MCP_INVALID_REQUEST,
                        "initialize belongs to revisions 2025-11-25 and before; this "
                        "request also carries a 2026-07-28 _meta, which needs no "
                        "handshake");
    return mcp_fail(e, MCP_METHOD_NOT_FOUND,
                    "method '%.100s' not found; this server offers server/discover, "
                    "tools/list, tools/call, resources/list, resources/read and "
                    "resources/templates/list%s",
                    m, rq->is_modern ? "" : " (and initialize, ping)");
}

/* Decodes an Mcp-Name value in the "=?base64?...?=" form into buf. */
static bool header_decode(const char *v, char *buf, size_t n)
{
    size_t len = strlen(v);
    if (len < 11 || strncmp(v, "=?base64?", 9) || strcmp(v + len - 2, "?=")) {
        snprintf(buf, n, "%s", v);
        return true;
    }
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = v + 9; p < v + len - 2; p++) {
        if (*p == '=')
            break;
        const char *q = strchr(tbl, *p);
        if (!q || !*p)
            return false;
        acc = (acc << 6) | (unsigned)(q - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= n)
                return false;
            buf[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    buf[o] = '\0';
    return true;
}

/* Over HTTP, a 2026-07-28 request's headers must repeat its body. */
static bool headers_match(const mcp_http_request *h, const request *rq, char *why,
                          size_t n)
{
    if (!h->protocol_version || strcmp(h->protocol_version, rq->version)) {
        snprintf(why, n, "Header mismatch: MCP-Protocol-Version header '%.40s' does not "
                         "match _meta protocol version '%.40s'",
                 h->protocol_version ? h->protocol_version : "(absent)", rq->version);
        return false;
    }
    if (!h->mcp_method || strcmp(h->mcp_method, rq->method)) {
        snprintf(why, n, "Header mismatch: Mcp-Method header '%.100s' does not match "
                         "body method '%.100s'",
                 h->mcp_method ? h->mcp_method : "(absent)", rq->method);
        return false;
    }
    const char *key = !strcmp(rq->method, "tools/call")       ? "name"
                      : !strcmp(rq->method, "resources/read") ? "uri"
                                                              : NULL;
    const char *body_name = key ? json_string_value(json_object_get(rq->params, key)) : NULL;
    if (!body_name)
        return true;
    char decoded[1024];
    if (!h->mcp_name || !header_decode(h->mcp_name, decoded, sizeof decoded) ||
        strcmp(decoded, body_name)) {
        snprintf(why, n, "Header mismatch: Mcp-Name header '%.100s' does not match "
                         "body value '%.100s'",
                 h->mcp_name ? h->mcp_name : "(absent)", body_name);
        return false;
    }
    return true;
}

/* Settles the revision of a request other than initialize. Returns false
 * after writing the error reply. */
static bool settle_version(const mcp_call *call, request *rq, mcp_reply *out)
{
    json_t *meta = json_object_get(rq->params, "_meta");
    json_t *pv = json_object_get(meta, "io.modelcontextprotocol/protocolVersion");
    if (pv) {
        if (!json_is_string(pv)) {
            reply_error(out, rq->id, MCP_INVALID_PARAMS,
                        "_meta \"io.modelcontextprotocol/protocolVersion\" must be a string",
                        NULL, 400);
            return false;
        }
        rq->version = json_string_value(pv);
        if (in_list(rq->version, modern_versions, COUNT(modern_versions))) {
            rq->is_modern = true;
            if (!json_is_object(json_object_get(meta,
                                                "io.modelcontextprotocol/clientCapabilities"))) {
                reply_error(out, rq->id, MCP_INVALID_PARAMS,
                            "_meta \"io.modelcontextprotocol/clientCapabilities\" (an object) "
                            "is required on every request of revision 2026-07-28",
                            NULL, 400);
                return false;
            }
            char why[512];
            if (call->http && !headers_match(call->http, rq, why, sizeof why)) {
                reply_error(out, rq->id, MCP_HEADER_MISMATCH, why, NULL, 400);
                return false;
            }
            return true;
        }
        if (is_legacy(rq->version))
            return true;
    } else if (call->http && call->http->protocol_version &&
               !in_list(call->http->protocol_version, modern_versions,
                        COUNT(modern_versions))) {
        rq->version = call->http->protocol_version;
        if (is_legacy(rq->version))
            return true;
    } else if (!call->http && call->conn && call->conn->legacy_version[0]) {
        rq->version = call->conn->legacy_version;
        return true;
    } else {
        /* Also a 2026-07-28 header on a body without its _meta. */
        reply_error(out, rq->id, MCP_INVALID_PARAMS,
                    "the request names no protocol version: put it in params._meta "
                    "\"io.modelcontextprotocol/protocolVersion\" (revision 2026-07-28, "
                    "with \"io.modelcontextprotocol/clientCapabilities\"), or call "
                    "initialize first (revision 2025-11-25)",
                    NULL, 400);
        return false;
    }
    json_t *data = json_pack("{s:o, s:s}", "supported", supported_versions(),
                             "requested", rq->version);
    reply_error(out, rq->id, MCP_UNSUPPORTED_VERSION, "Unsupported protocol version",
                data, 400);
    json_decref(data);
    return false;
}

static bool id_is_valid(json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

void mcp_handle(mcp_server *s, const mcp_call *call, const char *msg, size_t len,
                mcp_reply *out)
{
    memset(out, 0, sizeof *out);
    out->http_status = 202;
    if (len > MCP_MAX_MESSAGE_BYTES) {
        reply_error(out, NULL, MCP_INVALID_REQUEST,
                    "message too large: the limit is MCP_MAX_MESSAGE_BYTES", NULL, 400);
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(msg, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        char m[300];
        snprintf(m, sizeof m, "Parse error: %s at line %d, column %d", jerr.text,
                 jerr.line, jerr.column);
        reply_error(out, NULL, MCP_PARSE_ERROR, m, NULL, 400);
        return;
    }
    request rq = {0};
    if (json_is_array(root)) {
        reply_error(out, NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: JSON-RPC batches are not supported; send one "
                    "message at a time",
                    NULL, 400);
        goto done;
    }
    if (!json_is_object(root)) {
        reply_error(out, NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: a JSON-RPC message is an object", NULL, 400);
        goto done;
    }
    json_t *id = json_object_get(root, "id");
    json_t *method = json_object_get(root, "method");
    bool is_response = !method && (json_object_get(root, "result") ||
                                   json_object_get(root, "error"));
    if (is_response && id_is_valid(id))
        goto done; /* a client's answer: we send no requests, nothing to do */
    if (!json_is_string(json_object_get(root, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(root, "jsonrpc")), "2.0")) {
        reply_error(out, id_is_valid(id) ? id : NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: \"jsonrpc\" must be \"2.0\"", NULL, 400);
        goto done;
    }
    if (!json_is_string(method)) {
        reply_error(out, id_is_valid(id) ? id : NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: \"method\" must be a string", NULL, 400);
        goto done;
    }
    if (id && !id_is_valid(id)) {
        reply_error(out, NULL, MCP_INVALID_REQUEST,
                    "Invalid Request: \"id\" must be a string or an integer (not null)",
                    NULL, 400);
        goto done;
    }
    json_t *params = json_object_get(root, "params");
    if (params && !json_is_object(params)) {
        if (id)
            reply_error(out, id, MCP_INVALID_PARAMS,
                        "Invalid params: \"params\" must be an object", NULL, 400);
        goto done;
    }
    rq.id = id;
    rq.method = json_string_value(method);
    rq.params = params;
    if (!id) {
        /* A notification: never answered. notifications/initialized ends the
         * handshake; cancellation has nothing to cancel (requests here are
         * answered in order). */
        goto done;
    }
    mcp_err e = {0};
    json_t *result;
    if (!strcmp(rq.method, "initialize") &&
        !json_object_get(json_object_get(params, "_meta"),
                         "io.modelcontextprotocol/protocolVersion")) {
        result = do_initialize(call->conn, params, &e);
    } else {
        if (!settle_version(call, &rq, out))
            goto done;
        result = dispatch(s, call, &rq, &e);
    }
    if (result) {
        reply_result(out, id, result);
    } else {
        int status = 200;
        if (e.code == MCP_METHOD_NOT_FOUND && rq.is_modern)
            status = 404;
        else if (e.code == MCP_INVALID_REQUEST)
            status = 400;
        reply_error(out, id, e.code ? e.code : MCP_INTERNAL_ERROR,
                    e.message[0] ? e.message : "internal error", e.data, status);
        json_decref(e.data);
    }
done:
    json_decref(root);
}
