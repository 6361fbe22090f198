/* test_analyses_consistency.c - consistency of judgment: a consistent
 * charter reports no disagreement; a planted one is found with its minimal
 * example and the rules that cause it; differences of autonomy alone are
 * kept apart; a rule a boundary always pre-empts is reported, also as a
 * `charter check` warning. */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>

#include "charter_analyses.h"

#define HEAD                                                                   \
    "organization: {name: Two Desks}\n"                                        \
    "values: [{id: trust, statement: Be trusted.}]\n"                          \
    "agents:\n"                                                                \
    "  - {id: eu-bot, owner: a@x, workflows: [refunds-eu]}\n"                  \
    "  - {id: us-bot, owner: a@x, workflows: [refunds-us]}\n"                  \
    "boundaries:\n"                                                            \
    "  - {id: refund-cap, source: Treasury, actions: [issue_refund],\n"        \
    "     when: input.amount > 1000, protects: trust, message: Cap.}\n"

#define WORKFLOWS(us_autonomy)                                                 \
    "workflows:\n"                                                             \
    "  - {id: refunds-eu, department: support-eu, owner: a@x,\n"               \
    "     autonomy: agent-ready, actions: [issue_refund, lookup]}\n"           \
    "  - {id: refunds-us, department: support-us, owner: a@x,\n"               \
    "     autonomy: " us_autonomy ", actions: [issue_refund, lookup]}\n"

static const char consistent[] = HEAD WORKFLOWS("agent-ready")
    "rules:\n"
    "  - {id: large-refund, workflows: [refunds-eu, refunds-us], actions: [issue_refund],\n"
    "     when: 'input.amount > 200 || subject.tier == \"new\"', effect: escalate,\n"
    "     protects: trust, message: Large.}\n";

static const char planted[] = HEAD WORKFLOWS("agent-ready")
    "rules:\n"
    "  - {id: large-refund-eu, workflows: [refunds-eu], actions: [issue_refund],\n"
    "     when: input.amount > 200, effect: escalate, protects: trust, message: Large.}\n"
    "  - {id: large-refund-us, workflows: [refunds-us], actions: [issue_refund],\n"
    "     when: input.amount > 500, effect: escalate, protects: trust, message: Large.}\n"
    "  - {id: huge-refund, workflows: [refunds-eu], actions: [issue_refund],\n"
    "     when: input.amount > 2000, effect: escalate, protects: trust, message: Huge.}\n";

static const char augmented[] = HEAD WORKFLOWS("agent-augmented")
    "rules:\n"
    "  - {id: large-refund, workflows: [refunds-eu, refunds-us], actions: [issue_refund],\n"
    "     when: input.amount > 200, effect: escalate, protects: trust, message: Large.}\n";

static json_t *analyse(const char *yaml)
{
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("t.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK) {
        fprintf(stderr, "load: %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
        CHECK(0);
        return NULL;
    }
    char *out = NULL;
    CHECK_INT(charter_consistency(c, &out, &err), CHARTER_OK);
    charter_release(c);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return j;
}

static void test_consistent_charter_has_no_disagreement(void)
{
    json_t *r = analyse(consistent);
    CHECK_INT(json_array_size(json_object_get(r, "disagreements")), 0);
    CHECK_INT(json_array_size(json_object_get(r, "autonomy_differences")), 0);
    json_t *compared = json_object_get(r, "compared");
    CHECK_INT(json_array_size(compared), 2); /* issue_refund and lookup */
    json_t *refund = json_array_get(compared, 0);
    CHECK_STR(json_string_value(json_object_get(refund, "action")), "issue_refund");
    /* amount: 199 200 201 999 1000 1001; tier: other, "new" -> 12 cases */
    CHECK_INT(json_integer_value(json_object_get(refund, "cases")), 12);
    CHECK_STR(json_string_value(json_object_get(refund, "generated")), "every combination");
    json_decref(r);
}

static void test_planted_disagreement_is_found_with_its_example(void)
{
    json_t *r = analyse(planted);
    json_t *ds = json_object_get(r, "disagreements");
    CHECK_INT(json_array_size(ds), 1);
    json_t *d = json_array_get(ds, 0);
    CHECK_STR(json_string_value(json_object_get(d, "action")), "issue_refund");
    /* 201, 499 and 500: escalated in the EU, allowed in the US. */
    CHECK_INT(json_integer_value(json_object_get(d, "cases")), 3);
    json_t *eu = json_array_get(json_object_get(d, "sides"), 0);
    json_t *us = json_array_get(json_object_get(d, "sides"), 1);
    CHECK_STR(json_string_value(json_object_get(eu, "workflow")), "refunds-eu");
    CHECK_STR(json_string_value(json_object_get(eu, "decision")), "escalate");
    CHECK_STR(json_string_value(json_object_get(us, "decision")), "allow");
    CHECK_STR(json_string_value(json_object_get(us, "department")), "support-us");
    json_t *because = json_object_get(d, "because");
    CHECK_INT(json_array_size(because), 1);
    CHECK_STR(json_string_value(json_array_get(because, 0)), "large-refund-eu");
    json_t *ex = json_object_get(d, "example");
    CHECK_STR(json_string_value(json_object_get(ex, "action")), "issue_refund");
    CHECK_INT(json_integer_value(json_object_get(json_object_get(ex, "input"), "amount")), 201);
    json_decref(r);
}

static void test_example_reproduces_the_disagreement(void)
{
    json_t *r = analyse(planted);
    json_t *ex = json_object_get(json_array_get(json_object_get(r, "disagreements"), 0), "example");
    charter *c = NULL;
    CHECK_INT(charter_load_string("t.yaml", planted, strlen(planted), &c, NULL), CHARTER_OK);
    charter_decider *d = NULL;
    CHECK_INT(charter_decider_new(&d), CHARTER_OK);
    const char *agents[] = {"eu-bot", "us-bot"}, *wfs[] = {"refunds-eu", "refunds-us"};
    charter_effect want[] = {CHARTER_ESCALATE, CHARTER_ALLOW};
    for (int i = 0; i < 2; i++) {
        json_t *req = json_deep_copy(ex);
        json_object_set_new(req, "agent", json_string(agents[i]));
        json_object_set_new(req, "workflow", json_string(wfs[i]));
        char *text = json_dumps(req, 0);
        charter_request *rq = NULL;
        const charter_decision *dec = NULL;
        CHECK_INT(charter_request_parse(text, strlen(text), &rq, NULL), CHARTER_OK);
        CHECK_INT(charter_decide(d, c, rq, 0, &dec, NULL), CHARTER_OK);
        CHECK_INT(dec->effect, want[i]);
        charter_request_free(rq);
        free(text);
        json_decref(req);
    }
    charter_decider_free(d);
    charter_release(c);
    json_decref(r);
}

static void test_autonomy_alone_is_kept_apart(void)
{
    json_t *r = analyse(augmented);
    /* Small refunds: allowed in the EU, escalated by default in the
     * augmented US workflow; no rule involved. Lookups likewise. */
    CHECK_INT(json_array_size(json_object_get(r, "disagreements")), 0);
    json_t *au = json_object_get(r, "autonomy_differences");
    CHECK_INT(json_array_size(au), 2);
    json_decref(r);
}

static void test_rule_preempted_by_a_boundary_never_fires(void)
{
    json_t *r = analyse(planted);
    json_t *nf = json_object_get(r, "never_fire");
    CHECK_INT(json_array_size(nf), 1);
    json_t *n = json_array_get(nf, 0);
    CHECK_STR(json_string_value(json_object_get(n, "rule")), "huge-refund");
    CHECK_STR(json_string_value(json_array_get(json_object_get(n, "preempted_by"), 0)),
              "refund-cap");
    json_decref(r);
    charter *c = NULL;
    CHECK_INT(charter_load_string("t.yaml", planted, strlen(planted), &c, NULL), CHARTER_OK);
    charter_diag *w = NULL;
    size_t count = 0;
    CHECK_INT(charter_rule_warnings(c, &w, &count, NULL), CHARTER_OK);
    CHECK_INT(count, 1);
    if (count) {
        CHECK_STR(w[0].code, "rule-shadowed");
        CHECK_STR(w[0].file, "t.yaml");
        CHECK_INT(w[0].line, 19);
        CHECK_HAS(w[0].message, "escalate rule 'huge-refund' never decides");
        CHECK_HAS(w[0].message, "'refund-cap' decides first");
    }
    free(w);
    charter_release(c);
    CHECK_INT(charter_load_string("t.yaml", consistent, strlen(consistent), &c, NULL), CHARTER_OK);
    CHECK_INT(charter_rule_warnings(c, &w, &count, NULL), CHARTER_OK);
    CHECK_INT(count, 0);
    CHECK(w == NULL);
    charter_release(c);
}

static void test_text_rendering_names_the_example(void)
{
    charter *c = NULL;
    CHECK_INT(charter_load_string("t.yaml", planted, strlen(planted), &c, NULL), CHARTER_OK);
    char *json = NULL, *text = NULL;
    CHECK_INT(charter_consistency(c, &json, NULL), CHARTER_OK);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_TEXT, &text, NULL),
              CHARTER_OK);
    CHECK_HAS(text, "1. issue_refund: escalate vs allow in 3 generated cases; because of "
                    "large-refund-eu");
    CHECK_HAS(text, "example: {\"action\":\"issue_refund\",\"input\":{\"amount\":201}}");
    free(json);
    free(text);
    charter_release(c);
}

int main(void)
{
    RUN(test_consistent_charter_has_no_disagreement);
    RUN(test_planted_disagreement_is_found_with_its_example);
    RUN(test_example_reproduces_the_disagreement);
    RUN(test_autonomy_alone_is_kept_apart);
    RUN(test_rule_preempted_by_a_boundary_never_fires);
    RUN(test_text_rendering_names_the_example);
    return TEST_DONE();
}
