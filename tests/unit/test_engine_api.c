/* test_engine_api.c - the public entry points around deciding: status names,
 * error formatting, loading and reference counting, one-shot CEL. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "charter/model.h"
#include "engine/index.h"
#include "test.h"

#define POLICY CHARTER_SOURCE_DIR "/tests/data/engine/policy.yaml"

static void test_status_names_follow_the_map(void)
{
    static const char *const upper[] = {
#define NAME_(name, msg) #name,
        CHARTER_STATUS_MAP(NAME_)
#undef NAME_
    };
    static const char *const messages[] = {
#define MSG_(name, msg) msg,
        CHARTER_STATUS_MAP(MSG_)
#undef MSG_
    };
    CHECK_INT(sizeof upper / sizeof upper[0], CHARTER_STATUS_COUNT_);
    for (int i = 0; i < CHARTER_STATUS_COUNT_; i++) {
        char lower[64];
        size_t k = 0;
        for (; upper[i][k] && k < sizeof lower - 1; k++)
            lower[k] = (char)tolower((unsigned char)upper[i][k]);
        lower[k] = '\0';
        CHECK_STR(charter_status_name((charter_status)i), lower);
        CHECK_STR(charter_status_message((charter_status)i), messages[i]);
    }
    CHECK_STR(charter_status_name(CHARTER_E_SCHEMA), "schema");
    CHECK_STR(charter_status_message(CHARTER_OK), "ok");
    CHECK(charter_status_name((charter_status)999) != NULL);
    CHECK(charter_status_message((charter_status)-1) != NULL);
}

static void test_error_format(void)
{
    charter_error e;
    memset(&e, 0, sizeof e);
    char buf[256];
    e.code = CHARTER_E_SCHEMA;
    charter_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "the charter does not match its schema");
    snprintf(e.message, sizeof e.message, "expected allow, found 'alow'");
    charter_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "expected allow, found 'alow'");
    snprintf(e.file, sizeof e.file, "a.yaml");
    charter_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "a.yaml: expected allow, found 'alow'");
    e.line = 3;
    e.column = 7;
    charter_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "a.yaml:3:7: expected allow, found 'alow'");
    e.file[0] = '\0';
    charter_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "3:7: expected allow, found 'alow'");
    char tiny[5];
    charter_error_format(&e, tiny, sizeof tiny);
    CHECK_STR(tiny, "3:7:");
}

static void test_load_builds_the_index(void)
{
    charter *c = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_load(POLICY, &c, &err), CHARTER_OK);
    if (!c)
        return;
    CHECK(c->index != NULL);
    CHECK_HAS(charter_version(c), "sha256:");
    CHECK_STR(charter_name(c), "Engine Test Co");
    size_t n = 0;
    const char *canon = charter_canonical_json(c, &n);
    CHECK(canon && n > 0 && strlen(canon) == n);
    /* refunds/issue_refund: both boundaries (refund-cap, no-minors) first,
     * then the rules that select it or every workflow. */
    const struct ch_index *ix = c->index;
    const ch_wf_entry *we = ch_index_workflow(ix, ch_hash("refunds", 7), "refunds", 7);
    CHECK(we != NULL);
    if (we) {
        const ch_rule_set *set = ch_index_rules(we, ch_hash("issue_refund", 12),
                                                "issue_refund", 12);
        CHECK(set != NULL);
        if (set) {
            CHECK_INT(set->n, 7);
            CHECK_INT(set->rules[0]->kind, CH_BOUNDARY);
            CHECK_INT(set->rules[1]->kind, CH_BOUNDARY);
            for (size_t i = 2; i < set->n; i++)
                CHECK_INT(set->rules[i]->kind, CH_RULE);
        }
        /* lookup_order: no-minors and blocked-customer only. */
        set = ch_index_rules(we, ch_hash("lookup_order", 12), "lookup_order", 12);
        CHECK(set && set->n == 2);
        CHECK(ch_index_rules(we, ch_hash("nope", 4), "nope", 4) == NULL);
    }
    CHECK(ch_index_workflow(ix, ch_hash("refund", 6), "refund", 6) == NULL);
    const ch_agent_entry *ae = ch_index_agent(ix, ch_hash("sales-bot", 9), "sales-bot", 9);
    CHECK(ae != NULL);
    if (ae && we)
        CHECK(!ch_index_is_granted(ix, ae, we));
    charter_release(c);
}

static void test_load_string_and_refcount(void)
{
    static const char yaml[] =
        "organization: {name: Tiny}\n"
        "values:\n  - {id: v, statement: S}\n"
        "workflows:\n  - {id: w, owner: o, autonomy: agent-ready, actions: [a]}\n"
        "agents:\n  - {id: bot, workflows: [w]}\n";
    charter *c = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_load_string("inline.yaml", yaml, sizeof yaml - 1, &c, &err), CHARTER_OK);
    if (!c) {
        fprintf(stderr, "load_string: %s\n", err.message);
        return;
    }
    CHECK(c->index != NULL);
    CHECK(charter_retain(c) == c);
    CHECK_INT(atomic_load(&c->refs), 2);
    charter_release(c);
    CHECK_INT(atomic_load(&c->refs), 1);
    charter_release(c);
    charter_release(NULL);
    CHECK(charter_retain(NULL) == NULL);
}

static void test_load_failure_leaves_nothing(void)
{
    charter *c = (charter *)1;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_load(CHARTER_SOURCE_DIR "/tests/data/engine/nope.yaml", &c, &err);
    CHECK(s != CHARTER_OK);
    CHECK(c == NULL);
    CHECK(err.message[0] != '\0');
    static const char bad[] = "organization: [\n";
    c = (charter *)1;
    s = charter_load_string("bad.yaml", bad, sizeof bad - 1, &c, &err);
    CHECK(s != CHARTER_OK);
    CHECK(c == NULL);
    CHECK_INT(charter_load(NULL, &c, &err), CHARTER_E_INVALID);
}

static void test_eval(void)
{
    char *out = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_eval("1 + 2 * 3", NULL, 0, &out, &err), CHARTER_OK);
    CHECK_STR(out, "7");
    free(out);
    out = NULL;
    CHECK_INT(charter_eval("input.amount > 500", "{\"input\": {\"amount\": 700}}", 0, &out,
                           &err), CHARTER_OK);
    CHECK_STR(out, "true");
    free(out);
    out = NULL;
    CHECK_INT(charter_eval("[1, 2].map(x, x * 2)", NULL, 0, &out, &err), CHARTER_OK);
    CHECK_STR(out, "[2, 4]");
    free(out);
    out = NULL;
    CHECK_INT(charter_eval("now == timestamp(\"2026-11-24T10:00:00Z\")", NULL,
                           INT64_C(1795514400000), &out, &err), CHARTER_OK);
    CHECK_STR(out, "true");
    free(out);
}

static void test_eval_errors(void)
{
    char *out = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_eval("1 +", NULL, 0, &out, &err), CHARTER_E_CEL_SYNTAX);
    CHECK(out == NULL);
    CHECK(err.message[0] != '\0');
    CHECK_INT(charter_eval("nobody > 1", NULL, 0, &out, &err), CHARTER_E_CEL_TYPE);
    CHECK_HAS(err.message, "nobody");
    CHECK_INT(charter_eval("1 / 0", NULL, 0, &out, &err), CHARTER_E_CEL_EVAL);
    CHECK(out == NULL);
    CHECK_INT(charter_eval("1", "[1]", 0, &out, &err), CHARTER_E_JSON);
    CHECK_INT(charter_eval("1", "{", 0, &out, &err), CHARTER_E_JSON);
    CHECK_INT(charter_eval(NULL, NULL, 0, &out, &err), CHARTER_E_INVALID);
}

static void test_now_ms_is_the_clock(void)
{
    int64_t now = charter_now_ms();
    CHECK(now > INT64_C(1700000000000)); /* after 2023 */
    CHECK(charter_now_ms() >= now);
}

static int collect_field(const char *field, void *user)
{
    char *buf = user;
    size_t n = strlen(buf);
    snprintf(buf + n, 512 - n, "%s,", field);
    return 0;
}

/* What the inbox reads from the charter: the fields a condition reads in
 * the order it names them, values by rank, a queue's on_timeout. */
static void test_condition_reads_values_and_on_timeout(void)
{
    static const char yaml[] =
        "charter: 1\n"
        "organization: {name: Tiny, purpose: Test.}\n"
        "values:\n"
        "  - {id: safety, statement: Nobody gets hurt.}\n"
        "  - {id: cost, statement: Money is spent with care.}\n"
        "workflows:\n"
        "  - id: refunds\n"
        "    owner: ana@tiny.example\n"
        "    autonomy: agent-ready\n"
        "    actions: [refund]\n"
        "    escalate_to: leads\n"
        "    stop_rules:\n"
        "      - {id: odd, when: 'context.channel == \"fax\"', max_actions_per_run: 9}\n"
        "agents:\n"
        "  - {id: bot, owner: ana@tiny.example, workflows: [refunds]}\n"
        "rules:\n"
        "  - id: big\n"
        "    workflows: [refunds]\n"
        "    when: 'input.amount > 100 && (!has(input.to.iban) || "
        "input[\"to\"].iban != \"x\") && confidence < 0.5 && input.amount < 9e9'\n"
        "    effect: escalate\n"
        "    protects: cost\n"
        "    message: Big.\n"
        "  - id: always\n"
        "    workflows: [refunds]\n"
        "    effect: escalate\n"
        "    message: Always.\n"
        "escalation:\n"
        "  queues:\n"
        "    - {id: leads, sla: 1h, on_timeout: next, next: last}\n"
        "    - {id: last, sla: 1h, on_timeout: allow}\n";
    charter *c = NULL;
    charter_error err;
    CHECK_INT(charter_load_string("reads.yaml", yaml, sizeof yaml - 1, &c, &err), CHARTER_OK);
    char got[512] = "";
    size_t n = charter_condition_reads(c, "refunds", "big", collect_field, got);
    CHECK_STR(got, "input.amount,input.to.iban,input.to.iban,confidence,input.amount,");
    CHECK_INT((long long)n, 5);
    got[0] = '\0';
    CHECK_INT((long long)charter_condition_reads(c, "refunds", "odd", collect_field, got), 1);
    CHECK_STR(got, "context.channel,");
    CHECK_INT((long long)charter_condition_reads(c, NULL, "always", collect_field, got), 0);
    CHECK_INT((long long)charter_condition_reads(c, NULL, "nope", collect_field, got), 0);
    unsigned rank = 0;
    const char *statement = NULL;
    CHECK(charter_value_info(c, "cost", &rank, &statement));
    CHECK_INT(rank, 2);
    CHECK_STR(statement, "Money is spent with care.");
    CHECK(!charter_value_info(c, "nope", NULL, NULL));
    CHECK_STR(charter_queue_on_timeout(c, "leads"), "next");
    CHECK_STR(charter_queue_on_timeout(c, "last"), "allow");
    CHECK(charter_queue_on_timeout(c, "nope") == NULL);
    charter_release(c);
}

int main(void)
{
    RUN(test_status_names_follow_the_map);
    RUN(test_error_format);
    RUN(test_load_builds_the_index);
    RUN(test_load_string_and_refcount);
    RUN(test_load_failure_leaves_nothing);
    RUN(test_eval);
    RUN(test_eval_errors);
    RUN(test_now_ms_is_the_clock);
    RUN(test_condition_reads_values_and_on_timeout);
    return TEST_DONE();
}
