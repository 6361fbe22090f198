/* test_analyses_tally.c - counting escalations over a ledger long enough
 * for the open-escalation table to grow, be swept for deadlines and shift
 * entries on removal: every escalation ends up counted exactly once, and a
 * resolution after the deadline counts as a timeout, however the sweeps
 * fell. */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "analyses_planted.h"
#include "charter_analyses.h"

static const char yaml[] =
    "organization: {name: Queue Shop}\n"
    "values: [{id: care, statement: Care.}]\n"
    "workflows:\n"
    "  - {id: claims, owner: o, autonomy: agent-augmented, actions: [pay_claim],\n"
    "     escalate_to: desk}\n"
    "agents: [{id: claims-bot, owner: o, workflows: [claims]}]\n"
    "escalation:\n"
    "  queues: [{id: desk, approvers: {roles: [clerk]}, sla: 1h}]\n";

#define N 5000
#define T0 1793577600000LL

static void test_every_escalation_counted_once(void)
{
    char dir[256], path[512];
    planted_tmpdir(dir, sizeof dir, "tally");
    snprintf(path, sizeof path, "%s/claims.ledger", dir);
    charter *c = NULL;
    CHECK_INT(charter_load_string("q.yaml", yaml, strlen(yaml), &c, NULL), CHARTER_OK);
    charter_ledger *l = NULL;
    charter_decider *d = NULL;
    CHECK_INT(charter_ledger_open(path, NULL, &l, NULL), CHARTER_OK);
    CHECK_INT(charter_decider_new(&d), CHARTER_OK);
    for (int i = 0; i < N; i++) {
        int64_t t = T0 + i * PLANTED_MIN_MS;
        uint64_t seq = planted_decide(l, d, c, "claims-bot", "claims", "pay_claim", 10, t);
        CHECK(seq != 0);
        if (i % 5 == 0)
            planted_resolve(l, c, seq, CHARTER_RESOLVE_APPROVE, t + 10 * PLANTED_MIN_MS);
        else if (i % 5 == 1)
            planted_resolve(l, c, seq, CHARTER_RESOLVE_DENY, t + 20 * PLANTED_MIN_MS);
        else if (i % 5 == 2)
            planted_resolve(l, c, seq, CHARTER_RESOLVE_APPROVE, t + 120 * PLANTED_MIN_MS);
    }
    charter_decider_free(d);
    CHECK_INT(charter_ledger_close(l, NULL), CHARTER_OK);
    char *out = NULL;
    CHECK_INT(charter_report(path, c, NULL, &out, NULL), CHARTER_OK);
    json_t *r = json_loads(out, 0, NULL);
    json_t *q = json_array_get(json_object_get(r, "queues"), 0);
    CHECK_INT(json_integer_value(json_object_get(q, "escalated")), N);
    CHECK_INT(json_integer_value(json_object_get(q, "approved")), N / 5);
    CHECK_INT(json_integer_value(json_object_get(q, "denied")), N / 5);
    /* 2 in 5 never resolved, 1 in 5 resolved two hours late; the last
     * resolution (two hours after the last decisions) moves the clock past
     * every deadline. */
    CHECK_INT(json_integer_value(json_object_get(q, "timed_out")), 3 * N / 5);
    CHECK_INT(json_integer_value(json_object_get(q, "open")), 0);
    CHECK(json_number_value(json_object_get(q, "mean_minutes")) == 15);
    json_t *tot = json_object_get(r, "totals");
    CHECK_INT(json_integer_value(json_object_get(tot, "late_resolutions")), N / 5);
    CHECK_INT(json_integer_value(json_object_get(tot, "resolutions")), 3 * N / 5);
    json_decref(r);
    free(out);
    /* Up to a time before the late resolutions: the escalations of the last
     * hour are still open. */
    charter_report_options o = {.since_ms = INT64_MIN,
                                .until_ms = T0 + (N - 30) * PLANTED_MIN_MS,
                                .by = CHARTER_PERIOD_DAY};
    CHECK_INT(charter_report(path, c, &o, &out, NULL), CHARTER_OK);
    r = json_loads(out, 0, NULL);
    q = json_array_get(json_object_get(r, "queues"), 0);
    long long esc = json_integer_value(json_object_get(q, "escalated"));
    CHECK_INT(esc, N - 30);
    CHECK_INT(json_integer_value(json_object_get(q, "approved")) +
                  json_integer_value(json_object_get(q, "denied")) +
                  json_integer_value(json_object_get(q, "timed_out")) +
                  json_integer_value(json_object_get(q, "open")), esc);
    CHECK(json_integer_value(json_object_get(q, "open")) > 0);
    json_decref(r);
    free(out);
    charter_release(c);
    CHECK_INT(planted_rmdir(dir), 0);
}

int main(void)
{
    RUN(test_every_escalation_counted_once);
    return TEST_DONE();
}
