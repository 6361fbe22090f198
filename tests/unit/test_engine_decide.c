/* test_engine_decide.c - the order of judgment, one behaviour per test, over
 * tests/data/engine/policy.yaml (docs/charter-reference.md, "Deciding"). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "test.h"

#define POLICY CHARTER_SOURCE_DIR "/tests/data/engine/policy.yaml"

/* 2026-11-24T10:00:00Z */
#define NOW_MS INT64_C(1795514400000)

static charter *C;
static charter_decider *D;

/* Decides a request given as JSON; NULL (after a failed check) when it does
 * not parse or decide. */
static const charter_decision *decide_at(const char *json, int64_t now)
{
    charter_request *req = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_request_parse(json, strlen(json), &req, &err);
    if (s != CHARTER_OK) {
        fprintf(stderr, "request does not parse: %s\n  %s\n", err.message, json);
        CHECK(s == CHARTER_OK);
        return NULL;
    }
    const charter_decision *dec = NULL;
    s = charter_decide(D, C, req, now, &dec, &err);
    charter_request_free(req);
    CHECK_INT(s, CHARTER_OK);
    return s == CHARTER_OK ? dec : NULL;
}

static const charter_decision *decide(const char *json)
{
    return decide_at(json, NOW_MS);
}

/* The fired ids joined with ',' (a static buffer, for CHECK_STR). */
static const char *fired_ids(const charter_decision *dec)
{
    static char buf[1024];
    buf[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; dec && i < dec->fired_count; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "",
                              dec->fired[i].id);
    return buf;
}

static const char *joined(const char *const *v, size_t count)
{
    static char buf[1024];
    buf[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", v[i]);
    return buf;
}

#define REFUND(extra)                                                         \
    "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":"         \
    "\"issue_refund\"" extra "}"

/* ---- Steps 1-3 ---------------------------------------------------------- */

static void test_unknown_agent_is_denied_as_shadow(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"ghost\",\"workflow\":\"refunds\",\"action\":\"issue_refund\"}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "unknown_agent");
    CHECK(d->is_shadow);
    CHECK_INT(d->fired_count, 0);
    CHECK_HAS(d->explanation, "ghost");
    CHECK(d->queue == NULL);
}

static void test_unknown_agent_beats_unknown_workflow(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"ghost\",\"workflow\":\"nowhere\",\"action\":\"x\"}");
    if (!d)
        return;
    CHECK_STR(d->reason, "unknown_agent");
    CHECK(d->is_shadow);
}

static void test_unknown_workflow_is_denied(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"nowhere\",\"action\":\"x\"}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "unknown_workflow");
    CHECK(!d->is_shadow);
    CHECK_HAS(d->explanation, "nowhere");
}

static void test_workflow_not_granted_is_denied(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"sales-bot\",\"workflow\":\"refunds\",\"action\":\"issue_refund\","
        "\"input\":{\"amount\":10}}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "workflow_not_granted");
    CHECK_INT(d->fired_count, 0);
    d = decide("{\"agent\":\"support-bot\",\"workflow\":\"secret\",\"action\":\"peek\"}");
    if (d)
        CHECK_STR(d->reason, "workflow_not_granted");
}

static void test_action_not_in_workflow_is_denied(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":\"delete_all\"}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "action_not_in_workflow");
    CHECK_HAS(d->explanation, "delete_all");
}

static void test_human_only_workflow_is_denied(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"closures\",\"action\":\"close_account\"}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "human_only");
}

/* ---- Step 4: boundaries ------------------------------------------------------ */

static void test_boundary_beats_escalate_rules(void)
{
    const charter_decision *d = decide(REFUND(",\"input\":{\"amount\":9000}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "boundary");
    /* Final: the escalate rules that would match are not consulted. */
    CHECK_STR(fired_ids(d), "refund-cap");
    CHECK_STR(d->fired[0].kind, "boundary");
    CHECK_STR(d->fired[0].value, "customer-trust");
    CHECK_STR(d->explanation, "Refunds over 5000 are never issued by an agent.");
    CHECK_INT(d->obligation_count, 0);
    CHECK(d->queue == NULL);
}

static void test_boundary_beats_an_allow_rule(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":20},\"subject\":{\"age\":12}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "boundary");
    CHECK_STR(fired_ids(d), "no-minors");
    CHECK_STR(joined(d->values, d->value_count), "safety");
}

static void test_boundaries_fire_together_in_rank_order(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":9000},\"subject\":{\"age\":12}"));
    if (!d)
        return;
    /* no-minors protects safety (rank 0), refund-cap customer-trust (1). */
    CHECK_STR(fired_ids(d), "no-minors,refund-cap");
    CHECK_STR(joined(d->values, d->value_count), "safety,customer-trust");
}

static void test_boundary_without_workflow_selector_applies_everywhere(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"sales-bot\",\"workflow\":\"quotes\",\"action\":\"send_quote\","
        "\"input\":{\"total\":10},\"subject\":{\"age\":15}}");
    if (!d)
        return;
    CHECK_STR(d->reason, "boundary");
    CHECK_STR(fired_ids(d), "no-minors");
}

static void test_boundary_beats_stop_rule(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":9000},\"counters\":{\"run\":{\"actions\":3}}"));
    if (!d)
        return;
    CHECK_STR(d->reason, "boundary");
}

/* ---- Step 5: stop rules ------------------------------------------------------ */

static void test_stop_rule_actions_per_run(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":20},\"run_id\":\"r1\","
               "\"counters\":{\"run\":{\"actions\":3,\"spend\":0}}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "stop_rule");
    CHECK_STR(fired_ids(d), "run-actions");
    CHECK_STR(d->fired[0].kind, "stop_rule");
    CHECK_STR(d->fired[0].message, "Three actions per run at most. (stop rule "
                                   "'run-actions': this would be action 4 of the run; "
                                   "the limit is 3)");
    CHECK(d->fired[0].value == NULL);
    /* The largest counter does not wrap around, in the decision or its text. */
    d = decide(REFUND(",\"input\":{\"amount\":20},"
                      "\"counters\":{\"run\":{\"actions\":9223372036854775807}}"));
    if (d) {
        CHECK_STR(fired_ids(d), "run-actions");
        CHECK_HAS(d->fired[0].message, "action 9223372036854775808 of the run");
    }
    /* One below the limit passes. */
    d = decide(REFUND(",\"input\":{\"amount\":20},\"counters\":{\"run\":{\"actions\":2}}"));
    if (d)
        CHECK_INT(d->effect, CHARTER_ALLOW);
}

static void test_stop_rule_spend_per_day(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":30},\"counters\":{\"day\":{\"actions\":10,\"spend\":990}}"));
    if (!d)
        return;
    CHECK_STR(d->reason, "stop_rule");
    CHECK_STR(fired_ids(d), "day-budget");
    CHECK_STR(d->explanation, "Daily refund budget spent. (stop rule 'day-budget': "
                              "the day's spend would reach 1020; the limit is 1000)");
    /* Fractions read as %g would print them. */
    d = decide(REFUND(",\"input\":{\"amount\":30.25},\"counters\":{\"day\":{\"spend\":990}}"));
    if (d)
        CHECK_HAS(d->explanation, "the day's spend would reach 1020.25; the limit is 1000)");
    /* Exactly at the limit is allowed: 990 + 10 is not past 1000. */
    d = decide(REFUND(",\"input\":{\"amount\":10},\"counters\":{\"day\":{\"spend\":990}}"));
    if (d)
        CHECK_INT(d->effect, CHARTER_ALLOW);
    /* An action without spend does not count against the budget. */
    d = decide("{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":"
               "\"lookup_order\",\"counters\":{\"day\":{\"spend\":1000}}}");
    if (d) {
        CHECK_INT(d->effect, CHARTER_ALLOW);
        CHECK_STR(d->reason, "default");
    }
}

static void test_decision_reports_the_spend(void)
{
    const charter_decision *d = decide(REFUND(",\"input\":{\"amount\":42.5}"));
    if (!d)
        return;
    CHECK(d->spend == 42.5);
    d = decide("{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":"
               "\"lookup_order\"}");
    if (d)
        CHECK(d->spend == 0.0);
    /* Counted even when a limit other than spend stops the action. */
    d = decide(REFUND(",\"input\":{\"amount\":7},\"counters\":{\"run\":{\"actions\":5}}"));
    if (d) {
        CHECK_STR(fired_ids(d), "run-actions");
        CHECK(d->spend == 7.0);
    }
    d = decide("{\"agent\":\"ghost\",\"workflow\":\"refunds\",\"action\":\"issue_refund\","
               "\"input\":{\"amount\":9}}");
    if (d)
        CHECK(d->spend == 0.0);
}

static void test_stop_rule_when(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":20},\"context\":{\"incident\":true}"));
    if (!d)
        return;
    CHECK_STR(d->reason, "stop_rule");
    CHECK_STR(fired_ids(d), "incident");
}

static void test_stop_rules_fire_together(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":20},\"context\":{\"incident\":1},"
               "\"counters\":{\"run\":{\"actions\":7},\"day\":{\"spend\":999}}"));
    if (!d)
        return;
    CHECK_STR(fired_ids(d), "run-actions,day-budget,incident");
}

/* The lookup's spend (its amount) is `amount`: the stop rule must fire on
 * the spend's error, which names `error`, and count nothing. */
static void check_spend_fails_safe(const char *amount, const char *error)
{
    char req[256];
    snprintf(req, sizeof req,
             "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":"
             "\"lookup_order\",\"input\":{\"amount\":%s},"
             "\"counters\":{\"day\":{\"spend\":900}}}", amount);
    const charter_decision *d = decide(req);
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "stop_rule");
    CHECK_STR(fired_ids(d), "day-budget");
    CHECK(d->fired[0].error != NULL);
    if (d->fired[0].error)
        CHECK_HAS(d->fired[0].error, error);
    CHECK(d->spend == 0.0);
}

static void test_stop_rule_failing_spend_fires(void)
{
    check_spend_fails_safe("\"lots\"", "");
}

/* A negative spend would give budget back: 900 spent, then -5000, then 900
 * more would all pass a budget of 1000. It fails safe like NaN. */
static void test_stop_rule_negative_spend_fires(void)
{
    check_spend_fails_safe("-5000", "negative");
    check_spend_fails_safe("-0.5", "negative");
    /* A zero spend is an ordinary spend. */
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":"
        "\"lookup_order\",\"input\":{\"amount\":0}}");
    if (d)
        CHECK_STR(d->reason, "default");
}

static void test_failing_boundary_condition_fires(void)
{
    /* refund-cap compares a string with a number: it fails, so it denies. */
    const charter_decision *d = decide(REFUND(",\"input\":{\"amount\":\"lots\"}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "boundary");
    CHECK_STR(fired_ids(d), "refund-cap");
    CHECK(d->fired[0].error != NULL);
    CHECK_HAS(d->explanation, "fail safe");
}

/* ---- Step 6: rules ------------------------------------------------------------ */

static void test_allow_rule(void)
{
    const charter_decision *d = decide(REFUND(",\"input\":{\"amount\":20}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ALLOW);
    CHECK_STR(d->reason, "rule");
    CHECK_STR(fired_ids(d), "small-refund");
    CHECK_STR(d->explanation, "Small refunds go through at once.");
    CHECK_STR(joined(d->values, d->value_count), "speed");
    CHECK_STR(joined(d->obligations, d->obligation_count), "notify_customer");
    CHECK(d->queue == NULL);
    CHECK_INT(d->deadline_ms, 0);
}

static void test_deny_beats_escalate(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":300},\"subject\":{\"blocked\":true}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "rule");
    CHECK_STR(fired_ids(d), "blocked-customer,large-refund,medium-refund");
    CHECK_STR(d->explanation, "Blocked customers get nothing from an agent.");
    /* A denied agent does not proceed, so nothing binds it. */
    CHECK_INT(d->obligation_count, 0);
    CHECK(d->queue == NULL);
}

static void test_deny_beats_allow(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":20},\"subject\":{\"blocked\":1}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(fired_ids(d), "blocked-customer,small-refund");
}

static void test_escalate_orders_rules_by_value_rank(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":300},\"subject\":{\"tier\":\"vip\"},"
               "\"time\":\"2026-11-24T10:00:00Z\""));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(d->reason, "rule");
    /* safety (0), customer-trust (1), then the unranked rule. */
    CHECK_STR(fired_ids(d), "vip-review,large-refund,medium-refund");
    CHECK_STR(joined(d->values, d->value_count), "safety,customer-trust");
    CHECK_STR(d->explanation, "VIP refunds are reviewed.");
    /* vip-review names no queue: the first escalate rule that does wins. */
    CHECK_STR(d->queue, "managers");
    CHECK_INT(d->deadline_ms, NOW_MS + 86400000);
    /* Deduplicated, in firing order. */
    CHECK_STR(joined(d->obligations, d->obligation_count), "notify_customer,log_reason");
}

static void test_escalation_falls_back_to_workflow_queue(void)
{
    const charter_decision *d = decide(REFUND(",\"input\":{\"amount\":150}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(fired_ids(d), "medium-refund");
    CHECK_STR(d->queue, "leads");
    CHECK_INT(d->deadline_ms, NOW_MS + 4 * 3600000);
    CHECK_INT(d->value_count, 0);
}

static void test_request_time_overrides_now(void)
{
    const charter_decision *d = decide_at(
        REFUND(",\"input\":{\"amount\":150},\"time\":\"2026-01-02T03:04:05.500+01:00\""),
        NOW_MS);
    if (!d)
        return;
    /* 2026-01-02T02:04:05.5Z */
    CHECK_INT(d->time_ms, INT64_C(1767319445500));
    CHECK_INT(d->deadline_ms, INT64_C(1767319445500) + 4 * 3600000);
    d = decide_at(REFUND(",\"input\":{\"amount\":20}"), 12345);
    if (d)
        CHECK_INT(d->time_ms, 12345);
}

/* ---- Augmented and defaults ---------------------------------------------------- */

static void test_augmented_allows_with_an_allow_rule(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"sales-bot\",\"workflow\":\"quotes\",\"action\":\"send_quote\","
        "\"input\":{\"total\":500}}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ALLOW);
    CHECK_STR(d->reason, "rule");
    CHECK_STR(fired_ids(d), "quote-ok");
}

static void test_augmented_escalates_without_a_rule(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"sales-bot\",\"workflow\":\"quotes\",\"action\":\"send_quote\","
        "\"input\":{\"total\":5000}}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(d->reason, "default");
    CHECK_INT(d->fired_count, 0);
    CHECK_STR(d->queue, "leads"); /* the charter's default queue */
    d = decide("{\"agent\":\"sales-bot\",\"workflow\":\"quotes\",\"action\":\"draft_quote\"}");
    if (d)
        CHECK_INT(d->effect, CHARTER_ESCALATE);
}

static void test_augmented_escalate_rule(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"sales-bot\",\"workflow\":\"quotes\",\"action\":\"send_quote\","
        "\"input\":{\"total\":60000}}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(d->reason, "rule");
    CHECK_STR(fired_ids(d), "quote-big");
}

static void test_augmented_default_allow_still_needs_approval(void)
{
    /* drafts is agent-augmented with `default: allow`: without a rule that
     * explicitly allows, a person decides. */
    const charter_decision *d = decide(
        "{\"agent\":\"sales-bot\",\"workflow\":\"drafts\",\"action\":\"write\"}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(d->reason, "augmented_requires_approval");
    CHECK_STR(d->queue, "leads");
    CHECK_INT(d->deadline_ms, NOW_MS + 4 * 3600000);
}

static void test_agent_ready_defaults_to_allow(void)
{
    const charter_decision *d = decide(REFUND(",\"input\":{\"amount\":70}"));
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ALLOW);
    CHECK_STR(d->reason, "default");
    CHECK_INT(d->fired_count, 0);
    CHECK_INT(d->obligation_count, 0);
}

static void test_explicit_default_deny(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"reports\",\"action\":\"publish\","
        "\"context\":{\"reviewed\":false}}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "default");
    d = decide("{\"agent\":\"support-bot\",\"workflow\":\"reports\",\"action\":\"publish\","
               "\"context\":{\"reviewed\":true}}");
    if (d) {
        CHECK_INT(d->effect, CHARTER_ALLOW);
        CHECK_STR(fired_ids(d), "publish-ok");
    }
}

static void test_explicit_default_escalate_uses_default_queue(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"ops\",\"action\":\"inspect\","
        "\"input\":{\"level\":1}}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(d->reason, "default");
    CHECK_STR(d->queue, "leads");
}

/* ---- Failing conditions ----------------------------------------------------------- */

static void test_failing_deny_condition_fires(void)
{
    /* ops-restart-guard reads input.count, which is missing. */
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"ops\",\"action\":\"restart\"}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_DENY);
    CHECK_STR(d->reason, "rule");
    CHECK_STR(fired_ids(d), "ops-restart-guard");
    CHECK(d->fired[0].error != NULL);
    CHECK_HAS(d->explanation, "fail safe");
    /* With the key present, it does not fire. */
    d = decide("{\"agent\":\"support-bot\",\"workflow\":\"ops\",\"action\":\"restart\","
               "\"input\":{\"count\":1}}");
    if (d) {
        CHECK_INT(d->fired_count, 0);
        CHECK_STR(d->reason, "default");
    }
}

static void test_failing_allow_condition_does_not_fire(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"ops\",\"action\":\"inspect\"}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(d->reason, "default");
    CHECK_INT(d->fired_count, 0);
    d = decide("{\"agent\":\"support-bot\",\"workflow\":\"reports\",\"action\":\"publish\"}");
    if (d) {
        CHECK_INT(d->effect, CHARTER_DENY);
        CHECK_STR(d->reason, "default");
    }
}

static void test_failing_escalate_condition_fires(void)
{
    /* quote-big compares a string with a number; quote-ok (allow) fails
     * too and does not fire. */
    const charter_decision *d = decide(
        "{\"agent\":\"sales-bot\",\"workflow\":\"quotes\",\"action\":\"send_quote\","
        "\"input\":{\"total\":\"many\"}}");
    if (!d)
        return;
    CHECK_INT(d->effect, CHARTER_ESCALATE);
    CHECK_STR(fired_ids(d), "quote-big");
    CHECK(d->fired[0].error != NULL);
}

/* ---- The answer as JSON ------------------------------------------------------------ */

static json_t *decision_json(const charter_decision *d)
{
    size_t n = 0;
    const char *text = charter_decision_json(D, d, &n);
    CHECK(text != NULL);
    if (!text)
        return NULL;
    CHECK_INT(strlen(text), n);
    json_error_t jerr;
    json_t *j = json_loadb(text, n, 0, &jerr);
    if (!j)
        fprintf(stderr, "decision JSON does not parse: %s\n%s\n", jerr.text, text);
    CHECK(j != NULL);
    return j;
}

static void test_json_escalation_shape(void)
{
    const charter_decision *d = decide(
        REFUND(",\"input\":{\"amount\":300},\"time\":\"2026-11-24T10:00:00Z\""));
    if (!d)
        return;
    json_t *j = decision_json(d);
    if (!j)
        return;
    CHECK_STR(json_string_value(json_object_get(j, "decision")), "escalate");
    CHECK_STR(json_string_value(json_object_get(j, "reason")), "rule");
    CHECK_STR(json_string_value(json_object_get(j, "explanation")),
              "Refunds over 200 need a manager.");
    json_t *fired = json_object_get(j, "fired");
    CHECK(json_is_array(fired));
    CHECK_INT(json_array_size(fired), 2);
    json_t *f0 = json_array_get(fired, 0);
    CHECK_STR(json_string_value(json_object_get(f0, "kind")), "rule");
    CHECK_STR(json_string_value(json_object_get(f0, "id")), "large-refund");
    CHECK_STR(json_string_value(json_object_get(f0, "effect")), "escalate");
    CHECK_STR(json_string_value(json_object_get(f0, "value")), "customer-trust");
    CHECK_STR(json_string_value(json_object_get(f0, "message")), "Refunds over 200 need a manager.");
    CHECK(json_object_get(f0, "error") == NULL);
    CHECK(json_is_null(json_object_get(json_array_get(fired, 1), "value")));
    json_t *values = json_object_get(j, "values");
    CHECK_INT(json_array_size(values), 1);
    CHECK_STR(json_string_value(json_array_get(values, 0)), "customer-trust");
    json_t *ob = json_object_get(j, "obligations");
    CHECK_INT(json_array_size(ob), 2);
    CHECK_STR(json_string_value(json_array_get(ob, 0)), "notify_customer");
    json_t *esc = json_object_get(j, "escalation");
    CHECK_STR(json_string_value(json_object_get(esc, "queue")), "managers");
    CHECK_STR(json_string_value(json_object_get(esc, "deadline")), "2026-11-25T10:00:00Z");
    CHECK_STR(json_string_value(json_object_get(j, "charter_version")), charter_version(C));
    CHECK_HAS(json_string_value(json_object_get(j, "charter_version")), "sha256:");
    CHECK_STR(json_string_value(json_object_get(j, "time")), "2026-11-24T10:00:00Z");
    CHECK(json_is_false(json_object_get(j, "shadow")));
    CHECK_INT(json_object_size(j), 10);
    json_decref(j);
}

static void test_json_allow_has_null_escalation(void)
{
    const charter_decision *d = decide_at(REFUND(",\"input\":{\"amount\":20}"),
                                          NOW_MS + 250);
    if (!d)
        return;
    json_t *j = decision_json(d);
    if (!j)
        return;
    CHECK_STR(json_string_value(json_object_get(j, "decision")), "allow");
    CHECK(json_is_null(json_object_get(j, "escalation")));
    CHECK_STR(json_string_value(json_object_get(j, "time")), "2026-11-24T10:00:00.250Z");
    json_decref(j);
}

static void test_json_shadow_and_escaping(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"gh\\\"o\\\\st\\n\\u0001\\u00e9\",\"workflow\":\"refunds\","
        "\"action\":\"issue_refund\"}");
    if (!d)
        return;
    json_t *j = decision_json(d);
    if (!j)
        return;
    CHECK(json_is_true(json_object_get(j, "shadow")));
    CHECK_HAS(json_string_value(json_object_get(j, "explanation")),
              "'gh\"o\\st\n\x01\xc3\xa9'");
    CHECK_INT(json_array_size(json_object_get(j, "fired")), 0);
    json_decref(j);
}

static void test_json_reports_condition_errors(void)
{
    const charter_decision *d = decide(
        "{\"agent\":\"support-bot\",\"workflow\":\"ops\",\"action\":\"restart\"}");
    if (!d)
        return;
    json_t *j = decision_json(d);
    if (!j)
        return;
    json_t *f0 = json_array_get(json_object_get(j, "fired"), 0);
    CHECK(json_is_string(json_object_get(f0, "error")));
    json_decref(j);
}

static void test_decisions_are_deterministic(void)
{
    const char *r = REFUND(",\"input\":{\"amount\":300},\"subject\":{\"tier\":\"vip\"}");
    const charter_decision *d = decide(r);
    if (!d)
        return;
    size_t n;
    const char *first = charter_decision_json(D, d, &n);
    char *copy = first ? strdup(first) : NULL;
    for (int i = 0; i < 3; i++) {
        d = decide(r);
        const char *again = d ? charter_decision_json(D, d, &n) : NULL;
        CHECK(copy && again && !strcmp(copy, again));
    }
    free(copy);
}

static void test_decide_checks_arguments(void)
{
    const charter_decision *dec = (const charter_decision *)1;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_decide(D, C, NULL, NOW_MS, &dec, &err), CHARTER_E_INVALID);
    CHECK(dec == NULL);
    CHECK(err.message[0] != '\0');
    CHECK(charter_decision_json(D, NULL, NULL) == NULL);
    charter_decider_free(NULL);
}

static void test_effect_names(void)
{
    CHECK_STR(charter_effect_name(CHARTER_ALLOW), "allow");
    CHECK_STR(charter_effect_name(CHARTER_ESCALATE), "escalate");
    CHECK_STR(charter_effect_name(CHARTER_DENY), "deny");
}

int main(void)
{
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_load(POLICY, &C, &err) != CHARTER_OK) {
        char buf[2048];
        charter_error_format(&err, buf, sizeof buf);
        fprintf(stderr, "cannot load %s: %s\n", POLICY, buf);
        return 1;
    }
    if (charter_decider_new(&D) != CHARTER_OK)
        return 1;
    RUN(test_unknown_agent_is_denied_as_shadow);
    RUN(test_unknown_agent_beats_unknown_workflow);
    RUN(test_unknown_workflow_is_denied);
    RUN(test_workflow_not_granted_is_denied);
    RUN(test_action_not_in_workflow_is_denied);
    RUN(test_human_only_workflow_is_denied);
    RUN(test_boundary_beats_escalate_rules);
    RUN(test_boundary_beats_an_allow_rule);
    RUN(test_boundaries_fire_together_in_rank_order);
    RUN(test_boundary_without_workflow_selector_applies_everywhere);
    RUN(test_boundary_beats_stop_rule);
    RUN(test_stop_rule_actions_per_run);
    RUN(test_stop_rule_spend_per_day);
    RUN(test_decision_reports_the_spend);
    RUN(test_stop_rule_when);
    RUN(test_stop_rules_fire_together);
    RUN(test_stop_rule_failing_spend_fires);
    RUN(test_stop_rule_negative_spend_fires);
    RUN(test_failing_boundary_condition_fires);
    RUN(test_allow_rule);
    RUN(test_deny_beats_escalate);
    RUN(test_deny_beats_allow);
    RUN(test_escalate_orders_rules_by_value_rank);
    RUN(test_escalation_falls_back_to_workflow_queue);
    RUN(test_request_time_overrides_now);
    RUN(test_augmented_allows_with_an_allow_rule);
    RUN(test_augmented_escalates_without_a_rule);
    RUN(test_augmented_escalate_rule);
    RUN(test_augmented_default_allow_still_needs_approval);
    RUN(test_agent_ready_defaults_to_allow);
    RUN(test_explicit_default_deny);
    RUN(test_explicit_default_escalate_uses_default_queue);
    RUN(test_failing_deny_condition_fires);
    RUN(test_failing_allow_condition_does_not_fire);
    RUN(test_failing_escalate_condition_fires);
    RUN(test_json_escalation_shape);
    RUN(test_json_allow_has_null_escalation);
    RUN(test_json_shadow_and_escaping);
    RUN(test_json_reports_condition_errors);
    RUN(test_decisions_are_deterministic);
    RUN(test_decide_checks_arguments);
    RUN(test_effect_names);
    charter_decider_free(D);
    charter_release(C);
    return TEST_DONE();
}
