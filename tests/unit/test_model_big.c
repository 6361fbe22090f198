/* test_model_big.c - a charter with 20,000 rules loads, in id order, and a
 * charter past CHARTER_MAX_RULES is refused. */
#include <stdlib.h>
#include <time.h>

#include "base/limits.h"
#include "charter/load.h"
#include "test.h"
#include "test_text.h"

/* Rules are written in descending id order so the loader must sort. */
static test_text big_charter(unsigned rules)
{
    test_text t = {0};
    test_text_add(&t, "organization: {name: Big}\nvalues:\n");
    for (int v = 0; v < 10; v++)
        test_text_add(&t, "  - {id: v%d, statement: Value %d.}\n", v, v);
    test_text_add(&t, "workflows:\n");
    for (int w = 0; w < 100; w++)
        test_text_add(&t, "  - {id: w%03d, owner: o, autonomy: agent-ready, "
                "actions: [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9]}\n", w);
    test_text_add(&t, "rules:\n");
    for (unsigned i = rules; i-- > 0;)
        test_text_add(&t, "  - id: r%05u\n    workflows: [w%03u]\n    actions: [a%u]\n"
                "    when: input.amount > %u\n    effect: %s\n    protects: v%u\n"
                "    message: Rule %u.\n",
            i, i % 100, i % 10, i, i % 3 == 0 ? "deny" : i % 3 == 1 ? "escalate" : "allow",
            i % 10, i);
    return t;
}

static void test_twenty_thousand_rules_load_sorted(void)
{
    test_text t = big_charter(20000);
    charter *c = NULL;
    charter_error err;
    clock_t t0 = clock();
    charter_status s = ch_load_string("big.yaml", t.p, t.n, &c, &err);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("loaded %zu bytes, 20000 rules in %.3f s\n", t.n, secs);
    CHECK_INT(s, CHARTER_OK);
    if (s != CHARTER_OK)
        fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
    if (c) {
        CHECK_INT(c->rule_count, 20000);
        CHECK_STR(c->rules[0].id, "r00000");
        CHECK_STR(c->rules[19999].id, "r19999");
        bool sorted = true;
        for (size_t i = 1; i < c->rule_count; i++)
            sorted = sorted && strcmp(c->rules[i - 1].id, c->rules[i].id) < 0 &&
                     c->rules[i].order == i;
        CHECK(sorted);
        CHECK_STR(c->rules[123].workflows[0]->id, "w023");
        CHECK_STR(c->rules[123].protects->id, "v3");
        CHECK_INT(c->warning_count, 0);
    }
    ch_charter_free(c);
    free(t.p);
}

static void test_rule_count_limit(void)
{
    /* Rules with no selector are short, so the limit is cheap to pass. */
    test_text t = {0};
    test_text_add(&t, "organization: {name: Big}\nvalues: [{id: v, statement: S.}]\nrules:\n");
    for (unsigned i = 0; i <= CHARTER_MAX_RULES; i++)
        test_text_add(&t, "- {id: r%u, effect: deny, message: m}\n", i);
    charter *c = NULL;
    charter_error err;
    CHECK_INT(ch_load_string("big.yaml", t.p, t.n, &c, &err), CHARTER_E_LIMIT);
    CHECK(c == NULL);
    CHECK_HAS(err.message, "the limit is 200000");
    CHECK_INT(err.line, 4 + CHARTER_MAX_RULES);
    free(t.p);
}

int main(void)
{
    RUN(test_twenty_thousand_rules_load_sorted);
    RUN(test_rule_count_limit);
    return TEST_DONE();
}
