/* test_engine_request.c - parsing decision requests: what is accepted, what
 * is refused and what the error says; RFC 3339 times. */
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "engine/request.h"
#include "test.h"

static charter_status parse(const char *json, charter_request **out, charter_error *err)
{
    memset(err, 0, sizeof *err);
    return charter_request_parse(json, strlen(json), out, err);
}

/* Expects `json` refused with `code` and a message containing `want`. */
static void refused(const char *json, charter_status code, const char *want)
{
    charter_request *r = (charter_request *)1;
    charter_error err;
    charter_status s = parse(json, &r, &err);
    CHECK_INT(s, code);
    CHECK_INT(err.code, code);
    CHECK(r == NULL);
    CHECK_HAS(err.message, want);
    if (s == CHARTER_OK)
        charter_request_free(r);
}

static void test_full_request_parses(void)
{
    const char *json =
        "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":\"issue_refund\","
        "\"input\":{\"amount\":120,\"currency\":\"EUR\"},"
        "\"subject\":{\"customer_id\":\"c-1\",\"tenure_years\":4},"
        "\"context\":{\"channel\":\"chat\"},\"rationale\":\"Order arrived damaged\","
        "\"confidence\":0.92,\"run_id\":\"run-7\","
        "\"counters\":{\"run\":{\"actions\":3,\"spend\":80},\"day\":{\"actions\":41,\"spend\":2300.5}},"
        "\"time\":\"2026-11-24T10:00:00Z\"}";
    charter_request *r = NULL;
    charter_error err;
    CHECK_INT(parse(json, &r, &err), CHARTER_OK);
    if (!r)
        return;
    CHECK_STR(r->agent.p, "support-bot");
    CHECK_INT(r->agent.n, 11);
    CHECK_STR(r->workflow.p, "refunds");
    CHECK_STR(r->action.p, "issue_refund");
    CHECK_STR(r->rationale.p, "Order arrived damaged");
    CHECK_STR(r->run_id.p, "run-7");
    CHECK(r->confidence == 0.92);
    CHECK(r->has_time);
    CHECK_INT(r->time_ms, INT64_C(1795514400000));
    CHECK_INT(r->run_actions, 3);
    CHECK(r->run_spend == 80.0);
    CHECK_INT(r->day_actions, 41);
    CHECK(r->day_spend == 2300.5);
    CHECK_INT(r->input.kind, CEL_MAP);
    const cel_value *amount = cel_map_get_str(r->input.v.map, "amount", 6);
    CHECK(amount && amount->kind == CEL_INT && amount->v.i == 120);
    const cel_value *tenure = cel_map_get_str(r->subject.v.map, "tenure_years", 12);
    CHECK(tenure && tenure->kind == CEL_INT && tenure->v.i == 4);
    CHECK_INT(r->counters.kind, CEL_MAP);
    const cel_value *day = cel_map_get_str(r->counters.v.map, "day", 3);
    CHECK(day && day->kind == CEL_MAP);
    if (day && day->kind == CEL_MAP) {
        const cel_value *spend = cel_map_get_str(day->v.map, "spend", 5);
        CHECK(spend && spend->kind == CEL_DOUBLE && spend->v.d == 2300.5);
        const cel_value *acts = cel_map_get_str(day->v.map, "actions", 7);
        CHECK(acts && acts->kind == CEL_INT && acts->v.i == 41);
    }
    charter_request_free(r);
}

static void test_minimal_request_gets_defaults(void)
{
    charter_request *r = NULL;
    charter_error err;
    CHECK_INT(parse("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\"}", &r, &err),
              CHARTER_OK);
    if (!r)
        return;
    CHECK(!r->has_time);
    CHECK(r->confidence == 0.0);
    CHECK_STR(r->rationale.p, "");
    CHECK_STR(r->run_id.p, "");
    CHECK_INT(r->input.kind, CEL_MAP);
    CHECK_INT(r->input.v.map->n, 0);
    CHECK_INT(r->subject.kind, CEL_MAP);
    CHECK_INT(r->context.kind, CEL_MAP);
    const cel_value *run = cel_map_get_str(r->counters.v.map, "run", 3);
    CHECK(run && run->kind == CEL_MAP);
    if (run && run->kind == CEL_MAP) {
        const cel_value *spend = cel_map_get_str(run->v.map, "spend", 5);
        CHECK(spend && spend->kind == CEL_DOUBLE && spend->v.d == 0.0);
    }
    charter_request_free(r);
}

static void test_null_optional_fields_are_absent(void)
{
    charter_request *r = NULL;
    charter_error err;
    CHECK_INT(parse("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"input\":null,"
                    "\"time\":null,\"confidence\":null}", &r, &err),
              CHARTER_OK);
    if (r) {
        CHECK(!r->has_time);
        CHECK_INT(r->input.kind, CEL_MAP);
    }
    charter_request_free(r);
}

static void test_malformed_json_is_refused_with_position(void)
{
    charter_request *r = NULL;
    charter_error err;
    CHECK_INT(parse("{\"agent\": \n  ", &r, &err), CHARTER_E_JSON);
    CHECK(r == NULL);
    CHECK_HAS(err.message, "malformed JSON");
    CHECK(err.line >= 1);
    refused("", CHARTER_E_JSON, "malformed JSON");
    refused("{\"agent\":\"a\",\"agent\":\"b\",\"workflow\":\"w\",\"action\":\"x\"}",
            CHARTER_E_JSON, "agent");
}

static void test_missing_required_fields(void)
{
    refused("{\"workflow\":\"w\",\"action\":\"x\"}", CHARTER_E_REQUEST, "'agent'");
    refused("{\"agent\":\"a\",\"action\":\"x\"}", CHARTER_E_REQUEST, "'workflow'");
    refused("{\"agent\":\"a\",\"workflow\":\"w\"}", CHARTER_E_REQUEST, "'action'");
    refused("{\"agent\":null,\"workflow\":\"w\",\"action\":\"x\"}", CHARTER_E_REQUEST,
            "'agent' must be a string, found null");
}

static void test_wrong_types_are_refused(void)
{
    refused("{\"agent\":5,\"workflow\":\"w\",\"action\":\"x\"}", CHARTER_E_REQUEST,
            "'agent' must be a string, found an integer");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"input\":[1]}",
            CHARTER_E_REQUEST, "'input' must be an object, found an array");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"subject\":\"s\"}",
            CHARTER_E_REQUEST, "'subject' must be an object, found a string");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"confidence\":\"high\"}",
            CHARTER_E_REQUEST, "'confidence' must be a number");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"confidence\":1.5}",
            CHARTER_E_REQUEST, "from 0 to 1, found 1.5");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"rationale\":true}",
            CHARTER_E_REQUEST, "'rationale' must be a string, found a boolean");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\","
            "\"counters\":{\"run\":{\"actions\":-1}}}",
            CHARTER_E_REQUEST, "'counters.run.actions' must be a non-negative integer");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\","
            "\"counters\":{\"day\":{\"spend\":\"9\"}}}",
            CHARTER_E_REQUEST, "'counters.day.spend' must be a number, found a string");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\","
            "\"counters\":{\"week\":{}}}",
            CHARTER_E_REQUEST, "unknown key 'week' in 'counters'");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\","
            "\"counters\":{\"day\":{\"money\":1}}}",
            CHARTER_E_REQUEST, "unknown key 'money' in 'counters.day'");
    refused("[1,2]", CHARTER_E_REQUEST, "must be a JSON object, found an array");
}

static void test_bad_time_is_refused(void)
{
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"time\":\"yesterday\"}",
            CHARTER_E_REQUEST, "RFC 3339");
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"time\":1700000000}",
            CHARTER_E_REQUEST, "'time' must be an RFC 3339 string");
}

static void test_unknown_key_is_refused(void)
{
    refused("{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"agnet\":1}",
            CHARTER_E_REQUEST, "unknown key 'agnet'");
}

static void test_too_deep_is_refused(void)
{
    char buf[512];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n,
                          "{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\",\"input\":");
    for (int i = 0; i < 70; i++)
        buf[n++] = '[';
    for (int i = 0; i < 70; i++)
        buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
    refused(buf, CHARTER_E_LIMIT, "deeper than 64");
    /* Brackets inside strings do not count. */
    charter_request *r = NULL;
    charter_error err;
    CHECK_INT(parse("{\"agent\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[\",\"workflow\":\"w\","
                    "\"action\":\"x\"}", &r, &err),
              CHARTER_OK);
    charter_request_free(r);
}

static void test_too_big_is_refused(void)
{
    size_t n = CHARTER_MAX_REQUEST_BYTES + 10;
    char *big = malloc(n + 1);
    if (!big)
        return;
    memset(big, ' ', n);
    big[n] = '\0';
    memcpy(big, "{\"agent\":\"a\",\"workflow\":\"w\",\"action\":\"x\"}", 41);
    refused(big, CHARTER_E_LIMIT, "limit");
    free(big);
}

static void test_time_parse_and_format(void)
{
    int64_t ms = 0;
    CHECK(ch_time_parse("1970-01-01T00:00:00Z", 20, &ms));
    CHECK_INT(ms, 0);
    CHECK(ch_time_parse("2024-02-29T23:59:59.999Z", 24, &ms));
    char buf[40];
    CHECK_INT(ch_time_format(ms, buf), 24);
    CHECK_STR(buf, "2024-02-29T23:59:59.999Z");
    CHECK(ch_time_parse("2026-11-24T12:30:00+02:30", 25, &ms));
    ch_time_format(ms, buf);
    CHECK_STR(buf, "2026-11-24T10:00:00Z");
    CHECK(ch_time_parse("1969-12-31T23:59:59.5z", 22, &ms));
    CHECK_INT(ms, -500);
    ch_time_format(ms, buf);
    CHECK_STR(buf, "1969-12-31T23:59:59.500Z");
    CHECK(!ch_time_parse("2023-02-29T00:00:00Z", 20, &ms));
    CHECK(!ch_time_parse("2026-13-01T00:00:00Z", 20, &ms));
    CHECK(!ch_time_parse("2026-11-24 10:00:00Z", 20, &ms));
    CHECK(!ch_time_parse("2026-11-24T10:00:00", 19, &ms));
    CHECK(!ch_time_parse("2026-11-24T10:00:00.Z", 21, &ms));
    CHECK(!ch_time_parse("2026-11-24T10:00:00Zjunk", 24, &ms));
    CHECK(!ch_time_parse("2026-11-24T24:00:00Z", 20, &ms));
}

static void test_free_accepts_null(void)
{
    charter_request_free(NULL);
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_request_parse("{}", 2, NULL, &err), CHARTER_E_INVALID);
}

int main(void)
{
    RUN(test_full_request_parses);
    RUN(test_minimal_request_gets_defaults);
    RUN(test_null_optional_fields_are_absent);
    RUN(test_malformed_json_is_refused_with_position);
    RUN(test_missing_required_fields);
    RUN(test_wrong_types_are_refused);
    RUN(test_bad_time_is_refused);
    RUN(test_unknown_key_is_refused);
    RUN(test_too_deep_is_refused);
    RUN(test_too_big_is_refused);
    RUN(test_time_parse_and_format);
    RUN(test_free_accepts_null);
    return TEST_DONE();
}
