/* test_mcp_protocol.c - the MCP server's protocol, message by message: the
 * JSON-RPC errors (-32700, -32600, -32601, -32602), protocol revisions
 * (2026-07-28 _meta, the 2025-11-25 handshake, -32022), notifications, the
 * tools against a real ledger (a refused or malformed call writes nothing),
 * the resources, and the Streamable HTTP statuses and headers.
 */
#include "test.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "mcp/mcp.h"

static const char charter_yaml[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "  - {id: speed, statement: Answer quickly.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    department: support\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund]\n"
    "    escalate_to: leads\n"
    "agents:\n"
    "  - {id: support-bot, department: support, owner: ana@tiny.example,"
    " workflows: [refunds]}\n"
    "  - {id: other-bot, department: support, owner: ana@tiny.example,"
    " workflows: [refunds]}\n"
    "boundaries:\n"
    "  - id: refund-cap\n"
    "    source: Card scheme contract 4.2\n"
    "    workflows: [refunds]\n"
    "    when: input.amount > 5000\n"
    "    protects: customer-trust\n"
    "    message: Refunds over 5000 are never issued by an agent.\n"
    "rules:\n"
    "  - id: large-refund\n"
    "    workflows: [refunds]\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount > 100\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Large refunds need a lead.\n"
    "    obligations: [notify_customer]\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n";

static const char modern_meta[] =
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
    "\"io.modelcontextprotocol/clientCapabilities\":{}}";

typedef struct fixture {
    char dir[64], path[128];
    charter *c;
    charter_ledger *l;
    mcp_server *s;
} fixture;

static charter *get_charter(void *user)
{
    return charter_retain(user);
}

static void setup_with(fixture *f, const charter_ledger_options *opt)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_mcp_XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    snprintf(f->path, sizeof f->path, "%s/ledger.db", f->dir);
    charter_error err;
    CHECK_INT(charter_load_string("shop.yaml", charter_yaml, sizeof charter_yaml - 1, &f->c,
                                  &err), CHARTER_OK);
    CHECK_INT(charter_ledger_open(f->path, opt, &f->l, &err), CHARTER_OK);
    mcp_config cfg = {.charter = get_charter, .charter_user = f->c, .ledger = f->l,
                      .max_wait_ms = 2000};
    CHECK_INT(mcp_server_new(&cfg, &f->s, &err), CHARTER_OK);
}

static void setup(fixture *f)
{
    setup_with(f, NULL);
}

static void teardown(fixture *f)
{
    mcp_server_free(f->s);
    charter_ledger_close(f->l, NULL);
    charter_release(f->c);
    char wal[160];
    unlink(f->path);
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", f->path);
    unlink(wal);
    rmdir(f->dir);
}

static int count_entry(const charter_ledger_entry *e, void *user)
{
    (void)e;
    (*(int *)user)++;
    return 0;
}

static int ledger_entries(fixture *f)
{
    int n = 0;
    CHECK_INT(charter_ledger_scan(f->path, 0, 0, count_entry, &n, NULL), CHARTER_OK);
    return n;
}

/* Sends one message as `agent` (over stdio when conn is given) and returns
 * the parsed reply, or NULL when there was none. *status gets the HTTP
 * status mcp_handle chose. */
static json_t *send_as(fixture *f, const char *agent, mcp_conn *conn, const char *msg,
                       int *status)
{
    mcp_call call = {.agent = agent, .conn = conn};
    mcp_reply r;
    mcp_handle(f->s, &call, msg, strlen(msg), &r);
    if (status)
        *status = r.http_status;
    json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    CHECK(!r.body || j);
    free(r.body);
    return j;
}

static json_t *send(fixture *f, const char *msg)
{
    return send_as(f, "support-bot", NULL, msg, NULL);
}

static int error_code(json_t *reply)
{
    return (int)json_integer_value(json_object_get(json_object_get(reply, "error"), "code"));
}

static json_t *result(json_t *reply)
{
    return json_object_get(reply, "result");
}

/* A modern tools/call of `tool` with `args` (a JSON object's text). */
static json_t *call_tool(fixture *f, const char *agent, const char *tool, const char *args)
{
    char msg[2048];
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{%s,"
             "\"name\":\"%s\",\"arguments\":%s}}",
             modern_meta, tool, args);
    return send_as(f, agent, NULL, msg, NULL);
}

static const char *structured_str(json_t *reply, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(result(reply), "structuredContent"), key));
}

/* ---- JSON-RPC errors ---------------------------------------------------- */

static void test_malformed_json_is_parse_error_without_id(void)
{
    fixture f;
    setup(&f);
    int status;
    json_t *r = send_as(&f, "support-bot", NULL, "{\"jsonrpc\": \"2.0\", \"id\": 1,", &status);
    CHECK_INT(error_code(r), -32700);
    CHECK(json_object_get(r, "id") == NULL);
    CHECK_INT(status, 400);
    json_decref(r);
    CHECK_INT(ledger_entries(&f), 0);
    teardown(&f);
}

static void test_invalid_requests_are_minus_32600(void)
{
    fixture f;
    setup(&f);
    const char *bad[] = {
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}]", /* batch */
        "\"hello\"",
        "{\"id\":1,\"method\":\"tools/list\"}",                  /* no jsonrpc */
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"tools/list\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":42}",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"tools/list\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"tools/list\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *r = send(&f, bad[i]);
        CHECK_INT(error_code(r), -32600);
        json_decref(r);
    }
    /* The id is echoed when it could be read. */
    json_t *r = send(&f, "{\"jsonrpc\":\"1.0\",\"id\":\"abc\",\"method\":\"tools/list\"}");
    CHECK_STR(json_string_value(json_object_get(r, "id")), "abc");
    json_decref(r);
    teardown(&f);
}

static void test_unknown_method_is_minus_32601(void)
{
    fixture f;
    setup(&f);
    char msg[512];
    int status;
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/destroy\",\"params\":{%s}}",
             modern_meta);
    json_t *r = send_as(&f, "support-bot", NULL, msg, &status);
    CHECK_INT(error_code(r), -32601);
    CHECK_INT(json_integer_value(json_object_get(r, "id")), 3);
    CHECK_INT(status, 404); /* Streamable HTTP 2026-07-28 */
    json_decref(r);
    /* ping and logging/setLevel are gone in 2026-07-28. */
    snprintf(msg, sizeof msg, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":{%s}}",
             modern_meta);
    r = send(&f, msg);
    CHECK_INT(error_code(r), -32601);
    json_decref(r);
    teardown(&f);
}

static void test_bad_params_are_minus_32602(void)
{
    fixture f;
    setup(&f);
    const char *cases[][2] = {
        {"no_such_tool", "{}"},
        {"check_action", "{\"workflow\":\"refunds\"}"},                       /* no action */
        {"check_action", "{\"workflow\":\"refunds\",\"action\":7}"},
        {"check_action", "{\"workflow\":\"refunds\",\"action\":\"issue_refund\",\"amount\":5}"},
        {"check_action", "{\"workflow\":\"refunds\",\"action\":\"issue_refund\","
                         "\"confidence\":2}"},
        {"check_action", "{\"workflow\":\"refunds\",\"action\":\"issue_refund\",\"input\":[1]}"},
        {"check_action", "[]"},
        {"await_approval", "{\"decision_id\":\"42\"}"},
        {"await_approval", "{\"decision_id\":\"d-1\",\"wait_seconds\":3600}"},
        {"report_outcome", "{\"decision_id\":\"d-1\",\"metric\":\"csat\"}"}, /* no value */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = call_tool(&f, "support-bot", cases[i][0], cases[i][1]);
        if (error_code(r) != -32602)
            fprintf(stderr, "case %zu: %s %s\n", i, cases[i][0], cases[i][1]);
        CHECK_INT(error_code(r), -32602);
        json_decref(r);
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[1,2]}");
    json_t *r = send(&f, msg);
    CHECK_INT(error_code(r), -32602);
    json_decref(r);
    CHECK_INT(ledger_entries(&f), 0); /* nothing of that was recorded */
    teardown(&f);
}

/* What only the ledger or the charter can tell is a tool execution error:
 * a result with isError and the reason as text, for the model to read. */
static void test_unknown_decisions_are_tool_errors(void)
{
    fixture f;
    setup(&f);
    const char *cases[][2] = {
        {"await_approval", "{\"decision_id\":\"d-999\"}"},
        {"report_outcome", "{\"decision_id\":\"d-999\",\"metric\":\"csat\",\"value\":1}"},
        {"get_brief", "{\"workflow\":\"nope\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = call_tool(&f, "support-bot", cases[i][0], cases[i][1]);
        CHECK(json_is_true(json_object_get(result(r), "isError")));
        CHECK(json_object_get(result(r), "structuredContent") == NULL);
        json_t *text = json_object_get(json_array_get(json_object_get(result(r), "content"), 0),
                                       "text");
        CHECK_HAS(json_string_value(text), cases[i][0]);
        json_decref(r);
    }
    CHECK_INT(ledger_entries(&f), 0);
    teardown(&f);
}

static bool is_tool_error(json_t *reply)
{
    return json_is_true(json_object_get(result(reply), "isError"));
}

/* ---- Protocol revisions ------------------------------------------------- */

static void test_unsupported_version_lists_supported(void)
{
    fixture f;
    setup(&f);
    int status;
    json_t *r = send_as(&f, "support-bot", NULL,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
                        "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"1900-01-01\","
                        "\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
                        &status);
    CHECK_INT(error_code(r), -32022);
    CHECK_INT(status, 400);
    json_t *data = json_object_get(json_object_get(r, "error"), "data");
    CHECK_STR(json_string_value(json_object_get(data, "requested")), "1900-01-01");
    CHECK_STR(json_string_value(json_array_get(json_object_get(data, "supported"), 0)),
              "2026-07-28");
    CHECK_STR(json_string_value(json_array_get(json_object_get(data, "supported"), 1)),
              "2025-11-25");
    json_decref(r);
    teardown(&f);
}

static void test_modern_request_needs_client_capabilities(void)
{
    fixture f;
    setup(&f);
    int status;
    json_t *r = send_as(&f, "support-bot", NULL,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
                        "{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}",
                        &status);
    CHECK_INT(error_code(r), -32602);
    CHECK_INT(status, 400);
    json_decref(r);
    teardown(&f);
}

static void test_request_without_version_or_handshake_is_refused(void)
{
    fixture f;
    setup(&f);
    mcp_conn conn;
    mcp_conn_init(&conn);
    json_t *r = send_as(&f, "support-bot", &conn,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL);
    CHECK_INT(error_code(r), -32602);
    CHECK_HAS(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
              "initialize");
    json_decref(r);
    teardown(&f);
}

static void test_initialize_handshake_serves_2025_11_25(void)
{
    fixture f;
    setup(&f);
    mcp_conn conn;
    mcp_conn_init(&conn);
    json_t *r = send_as(&f, "support-bot", &conn,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                        "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                        "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
                        NULL);
    CHECK_STR(json_string_value(json_object_get(result(r), "protocolVersion")), "2025-11-25");
    CHECK_STR(json_string_value(json_object_get(json_object_get(result(r), "serverInfo"),
                                                "name")),
              "charter");
    CHECK(json_object_get(json_object_get(result(r), "capabilities"), "tools") != NULL);
    CHECK(json_object_get(result(r), "resultType") == NULL); /* legacy shape */
    json_decref(r);
    CHECK(send_as(&f, "support-bot", &conn,
                  "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", NULL) == NULL);
    r = send_as(&f, "support-bot", &conn, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}",
                NULL);
    CHECK(json_is_object(result(r)) && json_object_size(result(r)) == 0);
    json_decref(r);
    r = send_as(&f, "support-bot", &conn,
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}", NULL);
    CHECK_INT(json_array_size(json_object_get(result(r), "tools")), 4);
    json_decref(r);
    /* A revision we do not speak gets the latest we do. */
    mcp_conn_init(&conn);
    r = send_as(&f, "support-bot", &conn,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                "{\"protocolVersion\":\"2024-11-05\",\"capabilities\":{}}}",
                NULL);
    CHECK_STR(json_string_value(json_object_get(result(r), "protocolVersion")), "2025-11-25");
    json_decref(r);
    teardown(&f);
}

static void test_discover_and_modern_results(void)
{
    fixture f;
    setup(&f);
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"server/discover\",\"params\":{%s}}",
             modern_meta);
    json_t *r = send(&f, msg);
    json_t *res = result(r);
    CHECK_STR(json_string_value(json_object_get(res, "resultType")), "complete");
    CHECK_STR(json_string_value(json_array_get(json_object_get(res, "supportedVersions"), 0)),
              "2026-07-28");
    CHECK(json_object_get(json_object_get(res, "capabilities"), "resources") != NULL);
    CHECK(json_is_integer(json_object_get(res, "ttlMs")));
    CHECK_STR(json_string_value(json_object_get(res, "cacheScope")), "public");
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_object_get(res, "_meta"),
                                  "io.modelcontextprotocol/serverInfo"),
                  "name")),
              "charter");
    json_decref(r);
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{%s}}",
             modern_meta);
    r = send(&f, msg);
    json_t *tools = json_object_get(result(r), "tools");
    CHECK_INT(json_array_size(tools), 4);
    for (size_t i = 0; i < json_array_size(tools); i++) {
        json_t *t = json_array_get(tools, i);
        CHECK(json_is_object(json_object_get(t, "inputSchema")));
        CHECK(json_is_object(json_object_get(t, "outputSchema")));
        CHECK(json_string_length(json_object_get(t, "description")) > 100);
    }
    CHECK_STR(json_string_value(json_object_get(result(r), "resultType")), "complete");
    json_decref(r);
    teardown(&f);
}

static void test_notifications_and_client_responses_get_no_reply(void)
{
    fixture f;
    setup(&f);
    int status;
    CHECK(send_as(&f, "support-bot", NULL,
                  "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                  "\"params\":{\"requestId\":1}}",
                  &status) == NULL);
    CHECK_INT(status, 202);
    CHECK(send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":"
                   "\"check_action\",\"arguments\":{\"workflow\":\"refunds\","
                   "\"action\":\"issue_refund\"}}}") == NULL);
    CHECK(send(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}") == NULL);
    CHECK_INT(ledger_entries(&f), 0); /* a tools/call sent as a notification did nothing */
    teardown(&f);
}

/* ---- Tools against the ledger ------------------------------------------- */

static void test_check_action_is_recorded_like_a_decision(void)
{
    fixture f;
    setup(&f);
    json_t *r = call_tool(&f, "support-bot", "check_action",
                          "{\"workflow\":\"refunds\",\"action\":\"issue_refund\","
                          "\"input\":{\"amount\":40},\"run_id\":\"run-1\","
                          "\"rationale\":\"damaged\",\"confidence\":0.9}");
    CHECK_STR(structured_str(r, "decision"), "allow");
    CHECK_STR(structured_str(r, "decision_id"), "d-2"); /* after the charter entry */
    CHECK_HAS(structured_str(r, "guidance"), "may perform");
    CHECK(json_is_false(json_object_get(result(r), "isError")));
    json_t *text = json_object_get(json_array_get(json_object_get(result(r), "content"), 0),
                                   "text");
    CHECK_HAS(json_string_value(text), "\"decision\":\"allow\"");
    json_decref(r);
    CHECK_INT(ledger_entries(&f), 2);
    /* The ledger holds the request as an agent would have sent it over HTTP. */
    char *payload = NULL;
    size_t n;
    CHECK_INT(charter_ledger_decision(f.l, "d-2", &payload, &n, NULL), CHARTER_OK);
    json_t *p = json_loadb(payload, n, 0, NULL);
    json_t *rq = json_object_get(p, "request");
    CHECK_STR(json_string_value(json_object_get(rq, "agent")), "support-bot");
    CHECK_STR(json_string_value(json_object_get(rq, "run_id")), "run-1");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(rq, "input"), "amount")), 40);
    CHECK_STR(json_string_value(json_object_get(json_object_get(p, "answer"), "decision")),
              "allow");
    json_decref(p);
    free(payload);
    /* A boundary denies, and the guidance says not to act. */
    r = call_tool(&f, "support-bot", "check_action",
                  "{\"workflow\":\"refunds\",\"action\":\"issue_refund\","
                  "\"input\":{\"amount\":9000}}");
    CHECK_STR(structured_str(r, "decision"), "deny");
    CHECK_STR(structured_str(r, "reason"), "boundary");
    CHECK_HAS(structured_str(r, "guidance"), "do NOT perform");
    json_decref(r);
    CHECK_INT(ledger_entries(&f), 3);
    teardown(&f);
}

/* A ledger that cannot be written fails closed: the answer is a deny the
 * agent must not act on, and the guidance says so. */
static void test_unwritable_ledger_fails_closed(void)
{
    fixture f;
    charter_ledger_options opt = {.busy_timeout_ms = 50};
    setup_with(&f, &opt);
    sqlite3 *db;
    CHECK_INT(sqlite3_open(f.path, &db), SQLITE_OK);
    CHECK_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    json_t *r = call_tool(&f, "support-bot", "check_action",
                          "{\"workflow\":\"refunds\",\"action\":\"issue_refund\","
                          "\"input\":{\"amount\":40}}");
    CHECK_STR(structured_str(r, "decision"), "deny");
    CHECK_STR(structured_str(r, "reason"), "ledger_unavailable");
    CHECK_HAS(structured_str(r, "guidance"), "could not record");
    json_decref(r);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_INT(ledger_entries(&f), 0);
    teardown(&f);
}

static void test_another_agent_is_refused_and_nothing_is_written(void)
{
    fixture f;
    setup(&f);
    json_t *r = call_tool(&f, "support-bot", "check_action",
                          "{\"agent\":\"other-bot\",\"workflow\":\"refunds\","
                          "\"action\":\"issue_refund\",\"input\":{\"amount\":40}}");
    CHECK_INT(error_code(r), -32602);
    CHECK_HAS(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
              "other-bot");
    json_decref(r);
    r = call_tool(&f, NULL, "check_action",
                  "{\"workflow\":\"refunds\",\"action\":\"issue_refund\"}");
    CHECK_INT(error_code(r), -32602);
    json_decref(r);
    CHECK_INT(ledger_entries(&f), 0);
    /* Naming oneself is fine. */
    r = call_tool(&f, "support-bot", "check_action",
                  "{\"agent\":\"support-bot\",\"workflow\":\"refunds\","
                  "\"action\":\"issue_refund\",\"input\":{\"amount\":40}}");
    CHECK_STR(structured_str(r, "decision"), "allow");
    json_decref(r);
    teardown(&f);
}

static void test_await_approval_follows_the_escalation(void)
{
    fixture f;
    setup(&f);
    json_t *r = call_tool(&f, "support-bot", "check_action",
                          "{\"workflow\":\"refunds\",\"action\":\"issue_refund\","
                          "\"input\":{\"amount\":300}}");
    CHECK_STR(structured_str(r, "decision"), "escalate");
    CHECK_HAS(structured_str(r, "guidance"), "await_approval");
    char id[32];
    snprintf(id, sizeof id, "%s", structured_str(r, "decision_id"));
    json_decref(r);
    char args[128];
    snprintf(args, sizeof args, "{\"decision_id\":\"%s\",\"wait_seconds\":1}", id);
    r = call_tool(&f, "support-bot", "await_approval", args);
    CHECK_STR(structured_str(r, "status"), "open");
    CHECK_STR(structured_str(r, "decision"), "escalate");
    CHECK_STR(structured_str(r, "queue"), "leads");
    json_decref(r);
    /* Another agent may not wait on it. */
    r = call_tool(&f, "other-bot", "await_approval", args);
    CHECK(is_tool_error(r));
    json_decref(r);
    CHECK_INT(charter_ledger_resolve(f.l, f.c, id, "lea@tiny.example", CHARTER_RESOLVE_APPROVE,
                                     "ok, loyal customer", 0, NULL, NULL),
              CHARTER_OK);
    r = call_tool(&f, "support-bot", "await_approval", args);
    CHECK_STR(structured_str(r, "status"), "approved");
    CHECK_STR(structured_str(r, "decision"), "allow");
    CHECK_STR(structured_str(r, "resolved_by"), "lea@tiny.example");
    json_decref(r);
    teardown(&f);
}

static void test_report_outcome_only_on_own_decisions(void)
{
    fixture f;
    setup(&f);
    json_t *r = call_tool(&f, "support-bot", "check_action",
                          "{\"workflow\":\"refunds\",\"action\":\"issue_refund\","
                          "\"input\":{\"amount\":40}}");
    json_decref(r);
    int before = ledger_entries(&f);
    r = call_tool(&f, "other-bot", "report_outcome",
                  "{\"decision_id\":\"d-2\",\"metric\":\"complaint\",\"value\":1}");
    CHECK(is_tool_error(r));
    json_decref(r);
    CHECK_INT(ledger_entries(&f), before);
    r = call_tool(&f, "support-bot", "report_outcome",
                  "{\"decision_id\":\"d-2\",\"metric\":\"complaint\",\"value\":1,"
                  "\"note\":\"came back angry\"}");
    json_t *sc = json_object_get(result(r), "structuredContent");
    CHECK(json_is_true(json_object_get(sc, "recorded")));
    CHECK_INT(json_integer_value(json_object_get(sc, "entry")), before + 1);
    json_decref(r);
    CHECK_INT(ledger_entries(&f), before + 1);
    teardown(&f);
}

static void test_get_brief_is_the_callers(void)
{
    fixture f;
    setup(&f);
    json_t *r = call_tool(&f, "support-bot", "get_brief", "{}");
    CHECK_STR(structured_str(r, "agent"), "support-bot");
    CHECK_HAS(structured_str(r, "brief"), "refunds");
    CHECK_HAS(structured_str(r, "brief"), "customer-trust");
    json_decref(r);
    teardown(&f);
}

/* ---- Resources ------------------------------------------------------------ */

static void test_values_and_boundaries_are_resources(void)
{
    fixture f;
    setup(&f);
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\",\"params\":{%s}}",
             modern_meta);
    json_t *r = send(&f, msg);
    json_t *list = json_object_get(result(r), "resources");
    CHECK_INT(json_array_size(list), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "uri")),
              "charter://values");
    json_decref(r);
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{%s,"
             "\"uri\":\"charter://values\"}}",
             modern_meta);
    r = send(&f, msg);
    json_t *content = json_array_get(json_object_get(result(r), "contents"), 0);
    json_t *values = json_loads(json_string_value(json_object_get(content, "text")), 0, NULL);
    CHECK_INT(json_array_size(values), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(values, 0), "id")),
              "customer-trust");
    json_decref(values);
    json_decref(r);
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":{%s,"
             "\"uri\":\"charter://boundaries\"}}",
             modern_meta);
    r = send(&f, msg);
    content = json_array_get(json_object_get(result(r), "contents"), 0);
    CHECK_HAS(json_string_value(json_object_get(content, "text")), "Card scheme contract 4.2");
    json_decref(r);
    snprintf(msg, sizeof msg,
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\",\"params\":{%s,"
             "\"uri\":\"charter://secrets\"}}",
             modern_meta);
    r = send(&f, msg);
    CHECK_INT(error_code(r), -32602); /* 2026-07-28; -32002 before */
    json_decref(r);
    teardown(&f);
}

/* ---- Streamable HTTP ------------------------------------------------------ */

static mcp_http_request http_post(const char *body)
{
    mcp_http_request rq = {.method = "POST", .accept = "application/json, text/event-stream",
                           .content_type = "application/json", .body = body,
                           .body_len = strlen(body), .agent = "support-bot"};
    return rq;
}

static void test_http_statuses_and_headers(void)
{
    fixture f;
    setup(&f);
    mcp_http_response rs;
    const char *list = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{"
                       "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                       "\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
    mcp_http_request rq = http_post(list);
    rq.protocol_version = "2026-07-28";
    rq.mcp_method = "tools/list";
    mcp_http_handle(f.s, &rq, &rs);
    CHECK_INT(rs.status, 200);
    CHECK_STR(rs.content_type, "application/json");
    CHECK_HAS(rs.body, "check_action");
    free(rs.body);

    rq.origin = "http://evil.example.com"; /* DNS rebinding */
    mcp_http_handle(f.s, &rq, &rs);
    CHECK_INT(rs.status, 403);
    free(rs.body);
    rq.origin = "http://localhost:8080";
    mcp_http_handle(f.s, &rq, &rs);
    CHECK_INT(rs.status, 200);
    free(rs.body);

    rq.mcp_method = "tools/call"; /* header says one thing, body another */
    mcp_http_handle(f.s, &rq, &rs);
    CHECK_INT(rs.status, 400);
    CHECK_HAS(rs.body, "-32020");
    free(rs.body);
    rq.mcp_method = "tools/list";
    rq.protocol_version = NULL;
    mcp_http_handle(f.s, &rq, &rs);
    CHECK_INT(rs.status, 400);
    CHECK_HAS(rs.body, "-32020");
    free(rs.body);

    /* Mcp-Name must match params.name, also in its base64 form. */
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{"
                       "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                       "\"io.modelcontextprotocol/clientCapabilities\":{}},"
                       "\"name\":\"get_brief\",\"arguments\":{}}}";
    mcp_http_request named = http_post(call);
    named.protocol_version = "2026-07-28";
    named.mcp_method = "tools/call";
    named.mcp_name = "=?base64?Z2V0X2JyaWVm?="; /* "get_brief" */
    mcp_http_handle(f.s, &named, &rs);
    CHECK_INT(rs.status, 200);
    CHECK_HAS(rs.body, "structuredContent");
    free(rs.body);
    named.mcp_name = "check_action";
    mcp_http_handle(f.s, &named, &rs);
    CHECK_INT(rs.status, 400);
    CHECK_HAS(rs.body, "-32020");
    free(rs.body);
    named.mcp_name = NULL;
    mcp_http_handle(f.s, &named, &rs);
    CHECK_INT(rs.status, 400);
    CHECK_HAS(rs.body, "Mcp-Name");
    free(rs.body);

    mcp_http_request get = rq;
    get.method = "GET";
    mcp_http_handle(f.s, &get, &rs);
    CHECK_INT(rs.status, 405);
    CHECK_STR(rs.allow, "POST");
    free(rs.body);
    get.method = "DELETE";
    get.session_id = "abc";
    mcp_http_handle(f.s, &get, &rs);
    CHECK_INT(rs.status, 405);
    free(rs.body);

    mcp_http_request bad = http_post(list);
    bad.accept = "text/html";
    mcp_http_handle(f.s, &bad, &rs);
    CHECK_INT(rs.status, 406);
    free(rs.body);
    bad = http_post(list);
    bad.content_type = "text/plain";
    mcp_http_handle(f.s, &bad, &rs);
    CHECK_INT(rs.status, 415);
    free(rs.body);
    bad = http_post("{not json");
    mcp_http_handle(f.s, &bad, &rs);
    CHECK_INT(rs.status, 400);
    CHECK_HAS(rs.body, "-32700");
    free(rs.body);

    mcp_http_request note = http_post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    mcp_http_handle(f.s, &note, &rs);
    CHECK_INT(rs.status, 202);
    CHECK(rs.body == NULL);

    /* A 2025-11-25 client: initialize without a session, then the header. */
    mcp_http_request init = http_post(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
        "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{}}}");
    mcp_http_handle(f.s, &init, &rs);
    CHECK_INT(rs.status, 200);
    CHECK_HAS(rs.body, "\"protocolVersion\":\"2025-11-25\"");
    free(rs.body);
    mcp_http_request legacy = http_post("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    legacy.protocol_version = "2025-11-25";
    mcp_http_handle(f.s, &legacy, &rs);
    CHECK_INT(rs.status, 200);
    CHECK_HAS(rs.body, "await_approval");
    free(rs.body);
    legacy.protocol_version = "2026-07-28"; /* the header, but no _meta in the body */
    mcp_http_handle(f.s, &legacy, &rs);
    CHECK_INT(rs.status, 400);
    CHECK_HAS(rs.body, "-32602");
    free(rs.body);
    legacy.protocol_version = "2099-01-01";
    mcp_http_handle(f.s, &legacy, &rs);
    CHECK_INT(rs.status, 400);
    CHECK_HAS(rs.body, "-32022");
    free(rs.body);
    CHECK_INT(ledger_entries(&f), 0);
    teardown(&f);
}

int main(void)
{
    RUN(test_malformed_json_is_parse_error_without_id);
    RUN(test_invalid_requests_are_minus_32600);
    RUN(test_unknown_method_is_minus_32601);
    RUN(test_bad_params_are_minus_32602);
    RUN(test_unknown_decisions_are_tool_errors);
    RUN(test_unsupported_version_lists_supported);
    RUN(test_modern_request_needs_client_capabilities);
    RUN(test_request_without_version_or_handshake_is_refused);
    RUN(test_initialize_handshake_serves_2025_11_25);
    RUN(test_discover_and_modern_results);
    RUN(test_notifications_and_client_responses_get_no_reply);
    RUN(test_check_action_is_recorded_like_a_decision);
    RUN(test_unwritable_ledger_fails_closed);
    RUN(test_another_agent_is_refused_and_nothing_is_written);
    RUN(test_await_approval_follows_the_escalation);
    RUN(test_report_outcome_only_on_own_decisions);
    RUN(test_get_brief_is_the_callers);
    RUN(test_values_and_boundaries_are_resources);
    RUN(test_http_statuses_and_headers);
    return TEST_DONE();
}
