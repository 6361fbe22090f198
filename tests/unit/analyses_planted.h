/* analyses_planted.h - a charter and a ledger with known answers, shared
 * by the analyses' unit tests (included by test_analyses_*.c).
 *
 * Four days (2026-11-02 .. 05) of a small shop:
 * - refunds (agent-ready, goal fast-and-kind): support-bot asks 30 times a
 *   day: 20 small refunds (allowed), 8 large ones (escalated to `leads`:
 *   each day 4 approved after 30 min, 2 denied after 60 min, 2 left to time
 *   out) and 2 over the cap (boundary) on days 1-2, 10 over the cap on days
 *   3-4 (the 20 small become 12): boundary hits rise.
 * - disputes (agent-augmented, goal fair-disputes): disputes-bot asks 10
 *   times a day, every request escalates to `analysts`; 39 of the 40 are
 *   approved, 1 denied.
 * - payouts (agent-ready, irreversible, high blast radius): payout-bot, 2
 *   allowed payouts a day.
 * - ghost-bot (not registered) asks 3 times on day 2: shadow activity.
 * - Outcomes per day for refunds: resolution_hours 6, 5, 4, 3 (improving;
 *   target 4, lower is better); csat 4.6, 4.5, 4.3, 4.0 (degrading, limit
 *   min 4.2: breached on day 4); repeat_rate 0.05 every day (steady). For
 *   disputes: reversal_rate 0.1 every day (within max 0.2).
 * The readiness thresholds are min_cases 20, promote_approval 0.9.
 */
#ifndef CHARTER_TEST_ANALYSES_PLANTED_H
#define CHARTER_TEST_ANALYSES_PLANTED_H

#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "charter_ledger.h"
#include "ledger/recorder.h"

static const char planted_charter[] =
    "charter: 1\n"
    "organization: {name: Planted Shop, purpose: Test the analyses.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "  - {id: speed, statement: Answer quickly.}\n"
    "goals:\n"
    "  - id: fast-and-kind\n"
    "    objective: Resolve refunds fast and keep customers.\n"
    "    serves: [speed, customer-trust]\n"
    "    outcomes: [{metric: resolution_hours, target: 4, direction: decrease}]\n"
    "    health: [{metric: csat, min: 4.2}, {metric: repeat_rate, max: 0.1}]\n"
    "  - id: fair-disputes\n"
    "    objective: Settle disputes fairly.\n"
    "    serves: [customer-trust]\n"
    "    health: [{metric: reversal_rate, max: 0.2}]\n"
    "workflows:\n"
    "  - {id: refunds, department: support, owner: ana@shop.example, autonomy: agent-ready,\n"
    "     goals: [fast-and-kind], actions: [issue_refund], escalate_to: leads,\n"
    "     readiness: {reversibility: reversible, volume: 30}}\n"
    "  - {id: disputes, department: disputes, owner: bo@shop.example, autonomy: agent-augmented,\n"
    "     goals: [fair-disputes], actions: [open_dispute], escalate_to: analysts}\n"
    "  - {id: payouts, department: finance, owner: cy@shop.example, autonomy: agent-ready,\n"
    "     actions: [send_payout],\n"
    "     readiness: {reversibility: irreversible, blast_radius: high}}\n"
    "agents:\n"
    "  - {id: support-bot, owner: ana@shop.example, workflows: [refunds]}\n"
    "  - {id: disputes-bot, owner: bo@shop.example, workflows: [disputes]}\n"
    "  - {id: payout-bot, owner: cy@shop.example, workflows: [payouts]}\n"
    "boundaries:\n"
    "  - {id: refund-cap, source: Treasury policy, workflows: [refunds], actions: [issue_refund],\n"
    "     when: input.amount > 1000, protects: customer-trust, message: Never over 1000.}\n"
    "  - {id: payout-cap, source: Treasury policy, workflows: [payouts],\n"
    "     when: input.amount > 5000, protects: customer-trust, message: Never over 5000.}\n"
    "rules:\n"
    "  - {id: large-refund, workflows: [refunds], actions: [issue_refund],\n"
    "     when: input.amount > 200, effect: escalate, protects: customer-trust,\n"
    "     message: Large refunds need a lead.}\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [lead]}, sla: 4h}\n"
    "    - {id: analysts, approvers: {roles: [analyst]}, sla: 1d}\n"
    "readiness: {min_cases: 20, promote_approval: 0.9}\n";

#define PLANTED_DAY0 1793577600000LL /* 2026-11-02T00:00:00Z */
#define PLANTED_DAY_MS 86400000LL
#define PLANTED_MIN_MS 60000LL

/* Decides one request at t_ms; returns the decision's seq (0 on failure). */
static inline uint64_t planted_decide(charter_ledger *l, charter_decider *d, const charter *c,
                               const char *agent, const char *wf, const char *action,
                               int amount, int64_t t_ms)
{
    char req[512], ts[40];
    charter_time_format(t_ms, ts);
    snprintf(req, sizeof req,
             "{\"agent\":\"%s\",\"workflow\":\"%s\",\"action\":\"%s\",\"input\":"
             "{\"amount\":%d},\"time\":\"%s\"}", agent, wf, action, amount, ts);
    char *answer = NULL;
    size_t n;
    if (charter_ledger_decide(l, d, c, req, strlen(req), t_ms, &answer, &n, NULL) != CHARTER_OK) {
        free(answer);
        return 0;
    }
    uint64_t seq = 0;
    const char *id = strstr(answer, "\"decision_id\":\"d-");
    if (id)
        seq = strtoull(id + 17, NULL, 10);
    free(answer);
    return seq;
}

static inline void planted_resolve(charter_ledger *l, const charter *c, uint64_t seq,
                                   charter_resolution r, int64_t t_ms)
{
    char id[32];
    snprintf(id, sizeof id, "d-%llu", (unsigned long long)seq);
    /* A deny needs a note (the queue's require_note: deny, the default). */
    charter_ledger_resolve(l, c, id, "lead@shop.example", r,
                           r == CHARTER_RESOLVE_DENY ? "planted deny" : NULL, t_ms, NULL, NULL);
}

static inline void planted_outcome(charter_ledger *l, const char *wf, const char *metric,
                            double value, int64_t day_start)
{
    charter_outcome o = {.workflow = wf, .from_ms = day_start,
                         .to_ms = day_start + PLANTED_DAY_MS, .metric = metric,
                         .value = value, .time_ms = day_start + PLANTED_DAY_MS - 1};
    charter_ledger_outcome(l, &o, NULL, NULL);
}

static inline void planted_day(charter_ledger *l, charter_decider *d, const charter *c, int day,
                        int *dispute_count)
{
    static const double resolution[] = {6, 5, 4, 3}, csat[] = {4.6, 4.5, 4.3, 4.0};
    int64_t t = PLANTED_DAY0 + day * PLANTED_DAY_MS + 8 * 3600000LL;
    int over_cap = day < 2 ? 2 : 10;
    for (int i = 0; i < 20 - (over_cap - 2); i++, t += PLANTED_MIN_MS)
        planted_decide(l, d, c, "support-bot", "refunds", "issue_refund", 50, t);
    for (int i = 0; i < over_cap; i++, t += PLANTED_MIN_MS)
        planted_decide(l, d, c, "support-bot", "refunds", "issue_refund", 5000, t);
    for (int i = 0; i < 8; i++, t += PLANTED_MIN_MS) {
        uint64_t seq = planted_decide(l, d, c, "support-bot", "refunds", "issue_refund", 400, t);
        if (i < 4)
            planted_resolve(l, c, seq, CHARTER_RESOLVE_APPROVE, t + 30 * PLANTED_MIN_MS);
        else if (i < 6)
            planted_resolve(l, c, seq, CHARTER_RESOLVE_DENY, t + 60 * PLANTED_MIN_MS);
    }
    for (int i = 0; i < 10; i++, t += PLANTED_MIN_MS) {
        uint64_t seq = planted_decide(l, d, c, "disputes-bot", "disputes", "open_dispute", 80, t);
        int k = (*dispute_count)++;
        planted_resolve(l, c, seq, k == 7 ? CHARTER_RESOLVE_DENY : CHARTER_RESOLVE_APPROVE,
                        t + 120 * PLANTED_MIN_MS);
    }
    for (int i = 0; i < 2; i++, t += PLANTED_MIN_MS)
        planted_decide(l, d, c, "payout-bot", "payouts", "send_payout", 300, t);
    if (day == 1)
        for (int i = 0; i < 3; i++, t += PLANTED_MIN_MS)
            planted_decide(l, d, c, "ghost-bot", "refunds", "issue_refund", 10, t);
    int64_t start = PLANTED_DAY0 + day * PLANTED_DAY_MS;
    planted_outcome(l, "refunds", "resolution_hours", resolution[day], start);
    planted_outcome(l, "refunds", "csat", csat[day], start);
    planted_outcome(l, "refunds", "repeat_rate", 0.05, start);
    planted_outcome(l, "disputes", "reversal_rate", 0.1, start);
}

/* Writes the planted ledger to `path` (a new file). Returns 0 on success. */
static inline int planted_ledger_write(const char *path, const charter *c)
{
    charter_ledger *l = NULL;
    charter_decider *d = NULL;
    if (charter_ledger_open(path, NULL, &l, NULL) != CHARTER_OK ||
        charter_decider_new(&d) != CHARTER_OK) {
        charter_ledger_close(l, NULL);
        return 1;
    }
    int disputes = 0;
    for (int day = 0; day < 4; day++)
        planted_day(l, d, c, day, &disputes);
    charter_decider_free(d);
    return charter_ledger_close(l, NULL) == CHARTER_OK ? 0 : 1;
}

/* Records approval `seq` as the ledger records one given by standing
 * approval `grant` (CONTRACT15 section 2: escalation_resolved with "grant",
 * `who` the person who granted it), or with "grant": null when grant is
 * NULL. Written through the recorder, as charter_ledger_apply_grants does. */
static inline int planted_resolve_entry(charter_ledger *l, uint64_t seq, const char *grant,
                                        int64_t t_ms)
{
    char id[32], ts[40];
    snprintf(id, sizeof id, "d-%llu", (unsigned long long)seq);
    charter_time_format(t_ms, ts);
    json_t *j = json_pack("{s:s,s:s,s:s,s:n,s:s,s:I,s:f,s:s?}", "decision_id", id, "who",
                          "lead@shop.example", "resolution", "approve", "note", "time", ts,
                          "time_ms", (json_int_t)t_ms, "spend", 0.0, "grant", grant);
    if (j && !grant)
        json_object_set_new(j, "grant", json_null());
    return j && ledger_append_json(l, "escalation_resolved", j, NULL, NULL) == CHARTER_OK ? 0
                                                                                          : 1;
}

/* A ledger of one day of disputes (every one escalates to `analysts`):
 * 4 approved one by one, 3 approved by standing approval g-1, 1 approved
 * with "grant": null (one by one), 1 denied, 1 still open. So 8 approved,
 * 3 of them by standing approval. Returns 0 on success. */
static inline int planted_grants_write(const char *path, const charter *c)
{
    charter_ledger *l = NULL;
    charter_decider *d = NULL;
    if (charter_ledger_open(path, NULL, &l, NULL) != CHARTER_OK ||
        charter_decider_new(&d) != CHARTER_OK) {
        charter_ledger_close(l, NULL);
        return 1;
    }
    int failed = 0;
    int64_t t = PLANTED_DAY0 + 8 * 3600000LL;
    for (int i = 0; i < 10; i++, t += PLANTED_MIN_MS) {
        uint64_t seq = planted_decide(l, d, c, "disputes-bot", "disputes", "open_dispute", 80, t);
        int64_t at = t + 30 * PLANTED_MIN_MS;
        failed |= seq == 0;
        if (i < 4)
            planted_resolve(l, c, seq, CHARTER_RESOLVE_APPROVE, at);
        else if (i < 7)
            failed |= planted_resolve_entry(l, seq, "g-1", at);
        else if (i == 7)
            failed |= planted_resolve_entry(l, seq, NULL, at);
        else if (i == 8)
            planted_resolve(l, c, seq, CHARTER_RESOLVE_DENY, at);
    }
    charter_decider_free(d);
    return (charter_ledger_close(l, NULL) == CHARTER_OK ? 0 : 1) | failed;
}

/* A fresh temporary directory /tmp/charter-NAME-XXXXXX into dir; exits on
 * failure. */
static inline void planted_tmpdir(char *dir, size_t n, const char *name)
{
    snprintf(dir, n, "/tmp/charter-%s-XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* Removes what planted_tmpdir made; 0 on success. */
static inline int planted_rmdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) != 0;
}

static inline charter *planted_load(void)
{
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("planted.yaml", planted_charter, strlen(planted_charter), &c,
                            &err) != CHARTER_OK) {
        fprintf(stderr, "planted charter: %s:%u:%u: %s\n", err.file, err.line, err.column,
                err.message);
        exit(1);
    }
    return c;
}

#endif
