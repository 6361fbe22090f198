/* test_engine_brief.c - charter_brief: what an agent is told. */
#include <stdlib.h>
#include <string.h>

#include "charter.h"
#include "test.h"

#define POLICY CHARTER_SOURCE_DIR "/tests/data/engine/policy.yaml"

static charter *C;

static char *brief(const char *agent, const char *workflow)
{
    char *md = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_brief(C, agent, workflow, &md, &err);
    CHECK_INT(s, CHARTER_OK);
    if (s != CHARTER_OK)
        fprintf(stderr, "brief: %s\n", err.message);
    return md;
}

/* a appears in s before b. */
static int before(const char *s, const char *a, const char *b)
{
    const char *pa = s ? strstr(s, a) : NULL, *pb = s ? strstr(s, b) : NULL;
    return pa && pb && pa < pb;
}

static void test_brief_has_purpose_and_ranked_values(void)
{
    char *md = brief("support-bot", NULL);
    CHECK_HAS(md, "Engine Test Co");
    CHECK_HAS(md, "Help customers and never put them at risk.");
    CHECK_HAS(md, "trust is our moat");
    CHECK_HAS(md, "1. **safety**: Nobody is harmed by what we do.");
    CHECK_HAS(md, "2. **customer-trust**");
    CHECK(before(md, "**safety**", "**speed**"));
    free(md);
}

static void test_brief_has_workflows_goals_and_budgets(void)
{
    char *md = brief("support-bot", NULL);
    CHECK_HAS(md, "### refunds (agent-ready)");
    CHECK_HAS(md, "### quotes (agent-augmented)");
    CHECK_HAS(md, "### closures (human-only)");
    CHECK_HAS(md, "you must not act");
    CHECK(!strstr(md ? md : "", "### secret"));
    CHECK_HAS(md, "happy-returns");
    CHECK_HAS(md, "`resolution_hours` target 4 (lower is better)");
    CHECK_HAS(md, "`csat` at least 4.2");
    CHECK_HAS(md, "`refund_rate` at least 0.01 and at most 0.05");
    CHECK_HAS(md, "**run-actions**: at most 3 actions per run");
    CHECK_HAS(md, "at most 1000 spend per day");
    CHECK_HAS(md, "Daily refund budget spent.");
    CHECK_HAS(md, "When no rule applies: deny."); /* reports */
    /* reports never escalates, so its section names no queue. */
    const char *reports = md ? strstr(md, "### reports") : NULL;
    CHECK(reports != NULL);
    if (reports) {
        const char *next = strstr(reports + 1, "\n## ");
        const char *esc = strstr(reports, "Escalations go to");
        CHECK(!esc || (next && esc > next));
    }
    free(md);
}

static void test_brief_has_boundaries_with_sources(void)
{
    char *md = brief("support-bot", "refunds");
    CHECK_HAS(md, "Hard boundaries");
    CHECK_HAS(md, "**refund-cap**: Refunds over 5000 are never issued by an agent.");
    CHECK_HAS(md, "Source: Card scheme contract 4.2.");
    CHECK_HAS(md, "**no-minors**");
    CHECK_HAS(md, "Consumer protection act s.12");
    CHECK_HAS(md, "`input.amount > 5000`");
    free(md);
}

static void test_brief_says_when_to_escalate_and_to_whom(void)
{
    char *md = brief("support-bot", "refunds");
    CHECK_HAS(md, "Escalate to a person");
    CHECK_HAS(md, "**large-refund**: Refunds over 200 need a manager.");
    CHECK_HAS(md, "Goes to queue `managers`.");
    CHECK_HAS(md, "## Escalation queues");
    CHECK_HAS(md, "- **managers**. Approver roles: support-manager. Answered within 1d; "
                  "if not, it moves to queue `leads`.");
    CHECK_HAS(md, "- **leads**: Team leads of customer support. Approver roles: "
                  "support-lead. Approvers: ana@example.com. Answered within 4h; if "
                  "not, the action is denied.");
    CHECK_HAS(md, "Escalations go to queue `leads` unless a rule names another.");
    CHECK_HAS(md, "`notify_customer`");
    /* Escalate rules in value-rank order: vip-review (safety) first. */
    CHECK(before(md, "**vip-review**", "**large-refund**"));
    CHECK(before(md, "**large-refund**", "**medium-refund**"));
    CHECK(before(md, "You must not", "Escalate to a person"));
    CHECK(before(md, "Escalate to a person", "You may go ahead"));
    free(md);
}

static void test_brief_for_one_workflow_leaves_the_others_out(void)
{
    char *md = brief("sales-bot", "quotes");
    CHECK_HAS(md, "### quotes (agent-augmented)");
    CHECK_HAS(md, "**quote-big**");
    CHECK(!strstr(md ? md : "", "refund-cap"));
    CHECK(!strstr(md ? md : "", "### refunds"));
    CHECK_HAS(md, "no-minors"); /* it applies to every workflow */
    free(md);
}

static void test_brief_refuses_unknown_agent_and_workflow(void)
{
    char *md = (char *)1;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_brief(C, "ghost", NULL, &md, &err), CHARTER_E_REF);
    CHECK(md == NULL);
    CHECK_HAS(err.message, "ghost");
    CHECK_HAS(err.message, "support-bot");
    CHECK_INT(charter_brief(C, "sales-bot", "refunds", &md, &err), CHARTER_E_REF);
    CHECK_HAS(err.message, "refunds");
    CHECK_INT(charter_brief(C, "sales-bot", "nowhere", &md, &err), CHARTER_E_REF);
    CHECK_HAS(err.message, "no such workflow");
}

int main(void)
{
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_load(POLICY, &C, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot load %s: %s\n", POLICY, err.message);
        return 1;
    }
    RUN(test_brief_has_purpose_and_ranked_values);
    RUN(test_brief_has_workflows_goals_and_budgets);
    RUN(test_brief_has_boundaries_with_sources);
    RUN(test_brief_says_when_to_escalate_and_to_whom);
    RUN(test_brief_for_one_workflow_leaves_the_others_out);
    RUN(test_brief_refuses_unknown_agent_and_workflow);
    charter_release(C);
    return TEST_DONE();
}
