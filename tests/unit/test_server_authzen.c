/* test_server_authzen.c - the AuthZEN mapping (src/server/authzen_map.c):
 * which evaluations are refused and why, the Charter request an evaluation
 * becomes (and that the engine accepts and decides it), batch defaults and
 * semantics, the decision and context a Charter answer becomes, and the
 * discovery document. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "server/authzen.h"
#include "test.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fprintf(stderr, "bad test JSON: %s: %s\n", e.text, text);
    return j;
}

static const char *str_at(const json_t *j, const char *a, const char *b)
{
    const json_t *v = json_object_get(j, a);
    return json_string_value(b ? json_object_get(v, b) : v);
}

/* Expects the evaluation refused with a message containing `want`. */
static void refused(const char *text, const char *want)
{
    char msg[AUTHZEN_MSG_SIZE] = "";
    json_t *ev = parse(text);
    json_t *req = authzen_request_build(ev, msg);
    CHECK(req == NULL);
    CHECK_HAS(msg, want);
    json_decref(req);
    json_decref(ev);
}

#define S "\"subject\":{\"type\":\"user\",\"id\":\"alice\"}"
#define A "\"action\":{\"name\":\"read\"}"
#define R "\"resource\":{\"type\":\"record\",\"id\":\"record-1\"}"

static void test_missing_or_mistyped_members_are_refused(void)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{" A "," R "}", "'subject' is required"},
        {"{" S "," R "}", "'action' is required"},
        {"{" S "," A "}", "'resource' is required"},
        {"{\"subject\":{\"id\":\"alice\"}," A "," R "}", "'subject.type' is required"},
        {"{\"subject\":{\"type\":\"user\"}," A "," R "}", "'subject.id' is required"},
        {"{" S ",\"action\":{}," R "}", "'action.name' is required"},
        {"{" S "," A ",\"resource\":{\"id\":\"record-1\"}}", "'resource.type' is required"},
        {"{" S "," A ",\"resource\":{\"type\":\"record\"}}", "'resource.id' is required"},
        {"{\"subject\":\"alice\"," A "," R "}", "'subject' must be an object, found a string"},
        {"{" S ",\"action\":{\"name\":123}," R "}",
         "'action.name' must be a non-empty string, found a number"},
        {"{\"subject\":{\"type\":\"user\",\"id\":\"\"}," A "," R "}",
         "'subject.id' must be a non-empty string, found an empty string"},
        {"{" S "," A "," R ",\"context\":[1]}", "'context' must be an object, found an array"},
        {"{" S "," A ",\"resource\":{\"type\":\"record\",\"id\":\"1\",\"properties\":7}}",
         "'resource.properties' must be an object, found a number"},
        {"{" S "," A "," R ",\"context\":{\"authzen\":1}}", "'context.authzen' is reserved"},
        {"[]", "an evaluation must be an object, found an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(cases[i].json, cases[i].want);
}

static void test_evaluation_becomes_a_charter_request(void)
{
    char msg[AUTHZEN_MSG_SIZE] = "";
    json_t *ev = parse(
        "{\"subject\":{\"type\":\"agent\",\"id\":\"bot\",\"properties\":{\"role\":\"admin\"}},"
        "\"action\":{\"name\":\"refund\",\"properties\":{\"amount\":20}},"
        "\"resource\":{\"type\":\"refunds\",\"id\":\"order-1\"},"
        "\"context\":{\"ip\":\"10.0.0.1\"},\"foo\":\"ignored\"}");
    json_t *req = authzen_request_build(ev, msg);
    CHECK(req != NULL);
    CHECK_STR(str_at(req, "agent", NULL), "bot");
    CHECK_STR(str_at(req, "workflow", NULL), "refunds");
    CHECK_STR(str_at(req, "action", NULL), "refund");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(req, "input"), "amount")), 20);
    CHECK_STR(str_at(req, "subject", "id"), "order-1");
    CHECK_STR(str_at(req, "subject", "type"), "refunds");
    CHECK(json_is_object(json_object_get(json_object_get(req, "subject"), "properties")));
    const json_t *ctx = json_object_get(req, "context");
    CHECK_STR(str_at(ctx, "ip", NULL), "10.0.0.1");
    const json_t *az = json_object_get(ctx, "authzen");
    CHECK_STR(str_at(json_object_get(az, "subject"), "properties", "role"), "admin");
    CHECK_STR(str_at(az, "action", "name"), "refund");
    CHECK(json_object_get(req, "foo") == NULL);
    CHECK_INT(json_object_size(req), 6);

    /* The engine accepts what the mapping builds. */
    char *text = json_dumps(req, JSON_COMPACT);
    charter_request *r = NULL;
    charter_error err;
    CHECK_INT(charter_request_parse(text, strlen(text), &r, &err), CHARTER_OK);
    charter_request_free(r);
    free(text);
    json_decref(req);
    json_decref(ev);
}

static void test_null_members_count_as_absent(void)
{
    char msg[AUTHZEN_MSG_SIZE] = "";
    json_t *ev = parse("{\"subject\":{\"type\":\"u\",\"id\":\"a\",\"properties\":null},"
                       "\"action\":{\"name\":\"x\",\"properties\":null},"
                       "\"resource\":{\"type\":\"w\",\"id\":\"1\"},\"context\":null}");
    json_t *req = authzen_request_build(ev, msg);
    CHECK(req != NULL);
    CHECK_INT(json_object_size(json_object_get(req, "input")), 0);
    CHECK_INT(json_object_size(json_object_get(req, "context")), 1); /* authzen */
    json_decref(req);
    json_decref(ev);
}

static void test_batch_defaults_are_replaced_whole(void)
{
    json_t *batch = parse("{\"subject\":{\"type\":\"u\",\"id\":\"alice\"},"
                          "\"action\":{\"name\":\"read\"},"
                          "\"context\":{\"time\":\"t1\",\"a\":1},\"evaluations\":[]}");
    json_t *item = parse("{\"resource\":{\"type\":\"r\",\"id\":\"2\"},"
                         "\"context\":{\"source\":\"override\"}}");
    json_t *m = authzen_merge(batch, item);
    CHECK_STR(str_at(m, "subject", "id"), "alice");
    CHECK_STR(str_at(m, "action", "name"), "read");
    CHECK_STR(str_at(m, "resource", "id"), "2");
    CHECK_STR(str_at(m, "context", "source"), "override");
    CHECK(json_object_get(json_object_get(m, "context"), "a") == NULL);
    CHECK(json_object_get(m, "evaluations") == NULL);
    /* The item is not changed. */
    CHECK(json_object_get(item, "subject") == NULL);
    json_decref(m);
    json_decref(item);
    json_t *empty = parse("{}");
    m = authzen_merge(batch, empty);
    CHECK(json_object_get(m, "resource") == NULL);
    CHECK_STR(str_at(m, "context", "time"), "t1");
    json_decref(m);
    json_decref(empty);
    json_decref(batch);
}

static void test_semantics(void)
{
    char msg[AUTHZEN_MSG_SIZE] = "";
    authzen_semantic sem = AUTHZEN_PERMIT_ON_FIRST_PERMIT;
    const struct {
        const char *body;
        bool ok;
        authzen_semantic want;
    } cases[] = {
        {"{}", true, AUTHZEN_EXECUTE_ALL},
        {"{\"options\":{}}", true, AUTHZEN_EXECUTE_ALL},
        {"{\"options\":{\"evaluations_semantic\":\"execute_all\"}}", true, AUTHZEN_EXECUTE_ALL},
        {"{\"options\":{\"evaluations_semantic\":\"deny_on_first_deny\"}}", true,
         AUTHZEN_DENY_ON_FIRST_DENY},
        {"{\"options\":{\"evaluations_semantic\":\"permit_on_first_permit\"}}", true,
         AUTHZEN_PERMIT_ON_FIRST_PERMIT},
        {"{\"options\":{\"evaluations_semantic\":\"first\"}}", false, AUTHZEN_EXECUTE_ALL},
        {"{\"options\":{\"evaluations_semantic\":1}}", false, AUTHZEN_EXECUTE_ALL},
        {"{\"options\":[]}", false, AUTHZEN_EXECUTE_ALL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = parse(cases[i].body);
        bool ok = authzen_semantic_parse(b, &sem, msg);
        CHECK_INT(ok, cases[i].ok);
        if (ok)
            CHECK_INT(sem, cases[i].want);
        json_decref(b);
    }
    CHECK_HAS(msg, "options");
    CHECK(!authzen_batch_stops(AUTHZEN_EXECUTE_ALL, false));
    CHECK(!authzen_batch_stops(AUTHZEN_EXECUTE_ALL, true));
    CHECK(authzen_batch_stops(AUTHZEN_DENY_ON_FIRST_DENY, false));
    CHECK(!authzen_batch_stops(AUTHZEN_DENY_ON_FIRST_DENY, true));
    CHECK(authzen_batch_stops(AUTHZEN_PERMIT_ON_FIRST_PERMIT, true));
    CHECK(!authzen_batch_stops(AUTHZEN_PERMIT_ON_FIRST_PERMIT, false));
}

static void test_allow_is_true_with_obligations(void)
{
    json_t *a = parse("{\"decision_id\":\"d-7\",\"decision\":\"allow\",\"reason\":\"rule\","
                      "\"explanation\":\"Small refunds are fine.\",\"fired\":[],"
                      "\"values\":[\"trust\"],\"obligations\":[\"notify_customer\",\"log\"],"
                      "\"escalation\":null,\"charter_version\":\"sha256:ab\","
                      "\"time\":\"2026-11-24T10:00:00Z\",\"shadow\":false}");
    json_t *r = authzen_response_build(a);
    CHECK(json_is_true(json_object_get(r, "decision")));
    const json_t *ctx = json_object_get(r, "context");
    CHECK_STR(str_at(ctx, "evaluation_id", NULL), "d-7");
    CHECK_STR(str_at(ctx, "evaluated_at", NULL), "2026-11-24T10:00:00Z");
    CHECK_STR(str_at(ctx, "reason", NULL), "rule");
    CHECK_STR(str_at(ctx, "charter_decision", NULL), "allow");
    CHECK_STR(str_at(ctx, "reason_admin", "en"), "Small refunds are fine.");
    CHECK_STR(str_at(ctx, "charter_version", NULL), "sha256:ab");
    const json_t *obl = json_object_get(ctx, "obligations");
    CHECK_INT(json_array_size(obl), 2);
    CHECK_STR(str_at(json_array_get(obl, 0), "id", NULL), "obl-1");
    CHECK_STR(str_at(json_array_get(obl, 0), "type", NULL), "custom");
    CHECK_STR(str_at(json_array_get(obl, 1), "properties", "name"), "log");
    CHECK(json_object_get(ctx, "escalation") == NULL);
    json_decref(r);
    json_decref(a);
}

static void test_deny_and_escalate_are_false(void)
{
    json_t *a = parse("{\"decision_id\":\"d-8\",\"decision\":\"deny\",\"reason\":\"boundary\","
                      "\"explanation\":\"No.\",\"fired\":[{\"kind\":\"boundary\",\"id\":\"b\"}],"
                      "\"values\":[],\"obligations\":[],\"escalation\":null}");
    json_t *r = authzen_response_build(a);
    CHECK(json_is_false(json_object_get(r, "decision")));
    const json_t *ctx = json_object_get(r, "context");
    CHECK_STR(str_at(ctx, "reason", NULL), "boundary");
    CHECK_INT(json_array_size(json_object_get(ctx, "fired")), 1);
    CHECK(json_object_get(ctx, "obligations") == NULL);
    json_decref(r);
    json_decref(a);

    a = parse("{\"decision_id\":\"d-9\",\"decision\":\"escalate\",\"reason\":\"rule\","
              "\"explanation\":\"Ask a lead.\",\"fired\":[],\"values\":[],"
              "\"obligations\":[\"notify_customer\"],"
              "\"escalation\":{\"queue\":\"leads\",\"deadline\":\"2026-11-24T14:00:00Z\"}}");
    r = authzen_response_build(a);
    CHECK(json_is_false(json_object_get(r, "decision")));
    ctx = json_object_get(r, "context");
    CHECK_STR(str_at(ctx, "charter_decision", NULL), "escalate");
    const json_t *esc = json_object_get(ctx, "escalation");
    CHECK_STR(str_at(esc, "ticket", NULL), "d-9");
    CHECK_STR(str_at(esc, "queue", NULL), "leads");
    CHECK_STR(str_at(esc, "deadline", NULL), "2026-11-24T14:00:00Z");
    CHECK_INT(json_array_size(json_object_get(esc, "obligations")), 1);
    /* Not binding on the PEP now: nothing may proceed until approved. */
    CHECK(json_object_get(ctx, "obligations") == NULL);
    json_decref(r);
    json_decref(a);

    /* The ledger's fail-closed deny has no id: still false, still a reason. */
    a = parse("{\"decision\":\"deny\",\"reason\":\"ledger_unavailable\"}");
    r = authzen_response_build(a);
    CHECK(json_is_false(json_object_get(r, "decision")));
    CHECK_STR(str_at(json_object_get(r, "context"), "reason", NULL), "ledger_unavailable");
    json_decref(r);
    json_decref(a);

    r = authzen_response_error(400, "'resource' is required");
    CHECK(json_is_false(json_object_get(r, "decision")));
    esc = json_object_get(json_object_get(r, "context"), "error");
    CHECK_INT(json_integer_value(json_object_get(esc, "status")), 400);
    CHECK_STR(str_at(esc, "message", NULL), "'resource' is required");
    json_decref(r);
}

/* The mapping end to end through the engine: an evaluation decided under a
 * charter whose conditions read the AuthZEN properties. */
static const char *const CHARTER_YAML =
    "organization: {name: Test}\n"
    "values: [{id: v, statement: s}]\n"
    "workflows:\n"
    "  - {id: record, autonomy: agent-ready, default: deny, owner: o,\n"
    "     actions: [read, write]}\n"
    "agents: [{id: alice, owner: o, workflows: [record]}]\n"
    "rules:\n"
    "  - id: admins-write\n"
    "    effect: allow\n"
    "    protects: v\n"
    "    actions: [write]\n"
    "    when: context.authzen.subject.properties.role == 'admin' &&\n"
    "          subject.properties.status == 'active' && input.reason != ''\n"
    "    message: Admins write active records.\n";

static const char *decide(const charter *c, const char *evaluation)
{
    static char effect[16];
    char msg[AUTHZEN_MSG_SIZE] = "";
    json_t *ev = parse(evaluation);
    json_t *req = authzen_request_build(ev, msg);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    charter_request *r = NULL;
    charter_decider *d = NULL;
    const charter_decision *dec = NULL;
    charter_error err;
    snprintf(effect, sizeof effect, "error");
    if (text && charter_request_parse(text, strlen(text), &r, &err) == CHARTER_OK &&
        charter_decider_new(&d) == CHARTER_OK &&
        charter_decide(d, c, r, 0, &dec, &err) == CHARTER_OK) {
        size_t n;
        json_t *answer = json_loads(charter_decision_json(d, dec, &n), 0, NULL);
        json_t *resp = authzen_response_build(answer);
        snprintf(effect, sizeof effect, "%s",
                 json_is_true(json_object_get(resp, "decision")) ? "true" : "false");
        json_decref(resp);
        json_decref(answer);
    }
    charter_decider_free(d);
    charter_request_free(r);
    free(text);
    json_decref(req);
    json_decref(ev);
    return effect;
}

static void test_conditions_read_the_mapped_evaluation(void)
{
    charter *c = NULL;
    charter_error err;
    CHECK_INT(charter_load_string("t.yaml", CHARTER_YAML, strlen(CHARTER_YAML), &c, &err),
              CHARTER_OK);
    if (!c)
        return;
    const char *admin = "{\"subject\":{\"type\":\"user\",\"id\":\"alice\","
                        "\"properties\":{\"role\":\"admin\"}},";
    char buf[512];
    snprintf(buf, sizeof buf, "%s\"action\":{\"name\":\"write\",\"properties\":"
             "{\"reason\":\"fix\"}},\"resource\":{\"type\":\"record\",\"id\":\"1\","
             "\"properties\":{\"status\":\"active\"}}}", admin);
    CHECK_STR(decide(c, buf), "true");
    snprintf(buf, sizeof buf, "%s\"action\":{\"name\":\"write\",\"properties\":"
             "{\"reason\":\"fix\"}},\"resource\":{\"type\":\"record\",\"id\":\"1\","
             "\"properties\":{\"status\":\"archived\"}}}", admin);
    CHECK_STR(decide(c, buf), "false");
    /* An unknown subject is a shadow agent: denied. */
    CHECK_STR(decide(c, "{\"subject\":{\"type\":\"user\",\"id\":\"mallory\"},"
                        "\"action\":{\"name\":\"read\"},"
                        "\"resource\":{\"type\":\"record\",\"id\":\"1\"}}"),
              "false");
    charter_release(c);
}

static void test_discovery_document(void)
{
    char base[128], msg[AUTHZEN_MSG_SIZE] = "";
    CHECK(authzen_base_url("127.0.0.1:8080", NULL, "x", base, sizeof base, msg));
    CHECK_STR(base, "http://127.0.0.1:8080");
    CHECK(authzen_base_url("pdp.example.com", "https", "x", base, sizeof base, msg));
    CHECK_STR(base, "https://pdp.example.com");
    CHECK(authzen_base_url("[::1]:9", NULL, "x", base, sizeof base, msg));
    CHECK_STR(base, "http://[::1]:9");
    CHECK(authzen_base_url(NULL, NULL, "127.0.0.1:7", base, sizeof base, msg));
    CHECK_STR(base, "http://127.0.0.1:7");
    CHECK(!authzen_base_url("evil.com/path", NULL, "x", base, sizeof base, msg));
    CHECK_HAS(msg, "Host header");
    CHECK(!authzen_base_url("a b", NULL, "x", base, sizeof base, msg));
    CHECK(!authzen_base_url("host:", NULL, "x", base, sizeof base, msg));
    CHECK(!authzen_base_url("host:123456", NULL, "x", base, sizeof base, msg));
    CHECK(!authzen_base_url("[::1", NULL, "x", base, sizeof base, msg));
    CHECK(!authzen_base_url("", NULL, "x", base, sizeof base, msg));
    CHECK(!authzen_base_url("h", "ftp", "x", base, sizeof base, msg));
    CHECK_HAS(msg, "X-Forwarded-Proto");

    json_t *m = authzen_metadata_build("http://127.0.0.1:8080");
    CHECK_STR(str_at(m, "policy_decision_point", NULL), "http://127.0.0.1:8080");
    CHECK_STR(str_at(m, "access_evaluation_endpoint", NULL),
              "http://127.0.0.1:8080/access/v1/evaluation");
    CHECK_STR(str_at(m, "access_evaluations_endpoint", NULL),
              "http://127.0.0.1:8080/access/v1/evaluations");
    CHECK(json_object_get(m, "search_subject_endpoint") == NULL);
    json_decref(m);
}

int main(void)
{
    RUN(test_missing_or_mistyped_members_are_refused);
    RUN(test_evaluation_becomes_a_charter_request);
    RUN(test_null_members_count_as_absent);
    RUN(test_batch_defaults_are_replaced_whole);
    RUN(test_semantics);
    RUN(test_allow_is_true_with_obligations);
    RUN(test_deny_and_escalate_are_false);
    RUN(test_conditions_read_the_mapped_evaluation);
    RUN(test_discovery_document);
    return TEST_DONE();
}
