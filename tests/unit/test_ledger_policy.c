/* test_ledger_policy.c - a queue's approval policies enforced by the
 * ledger (charter_ledger_resolve, charter_ledger_quorum,
 * charter_ledger_may_approve): notes (require_note), self-approval, quorum
 * votes ("escalation_approval") with distinct approvers, one deny denying,
 * a quorum `when`, a timeout's allow counting as the whole quorum, votes
 * surviving a restart and a move, and two approvers voting at once.
 *
 * The loader of the queue keys is written elsewhere: the tests set the
 * fields of a loaded charter's queues directly (the model lives in the
 * charter's arena, and nothing else reads it while a test patches it).
 */
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "charter/model.h"

#define T0 1795000000000LL /* a fixed decision time */
#define HOUR 3600000LL

static char tmpdir[256], path[512];

static const char policy_yaml[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    department: support\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund, close_account, waive_fee]\n"
    "    escalate_to: leads\n"
    "    stop_rules:\n"
    "      - {id: run-cap, max_actions_per_run: 100}\n"
    "agents:\n"
    "  - {id: support-bot, department: support, owner: ana@tiny.example,"
    " workflows: [refunds]}\n"
    "rules:\n"
    "  - {id: large-refund, workflows: [refunds], actions: [issue_refund],"
    " when: input.amount > 100, effect: escalate, protects: customer-trust,"
    " message: Large refunds need a lead.}\n"
    "  - {id: huge, workflows: [refunds], actions: [issue_refund, close_account],"
    " when: input.amount > 5000, effect: escalate, protects: customer-trust,"
    " message: Huge amounts need a lead.}\n"
    "  - {id: closing, workflows: [refunds], actions: [close_account], when: 'true',"
    " effect: escalate, escalate_to: tier1, protects: customer-trust,"
    " message: Closing an account needs a person.}\n"
    "  - {id: fees, workflows: [refunds], actions: [waive_fee], when: 'true',"
    " effect: escalate, escalate_to: lenient, protects: customer-trust,"
    " message: Fee waivers need a look.}\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n"
    "    - {id: tier1, approvers: {roles: [agent]}, sla: 1h, on_timeout: next,"
    " next: tier2}\n"
    "    - {id: tier2, approvers: {roles: [lead]}, sla: 2h, on_timeout: deny}\n"
    "    - {id: lenient, approvers: {roles: [lead]}, sla: 30m, on_timeout: allow}\n";

static charter *load(void)
{
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("policy.yaml", policy_yaml, strlen(policy_yaml), &c, &err) !=
        CHARTER_OK) {
        fprintf(stderr, "cannot load the test charter: %s\n", err.message);
        exit(1);
    }
    return c;
}

/* The loaded queue `id`, to set the policy fields the loader will read. */
static ch_queue *queue(charter *c, const char *id)
{
    ch_queue *q = (ch_queue *)ch_find_queue(c, id);
    if (!q) {
        fprintf(stderr, "no queue %s in the test charter\n", id);
        exit(1);
    }
    return q;
}

static const cel_program *rule_when(const charter *c, const char *id)
{
    for (size_t i = 0; i < c->rule_count; i++)
        if (!strcmp(c->rules[i].id, id))
            return c->rules[i].when;
    fprintf(stderr, "no rule %s in the test charter\n", id);
    exit(1);
}

static charter_ledger *open_ledger(void)
{
    charter_ledger *l = NULL;
    charter_error err;
    if (charter_ledger_open(path, NULL, &l, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, err.message);
        exit(1);
    }
    return l;
}

/* Decides `action` with `amount` (< 0: no input) at T0 in run r1. */
static void decide(charter_ledger *l, const charter *c, const char *action, int amount,
                   char id[32])
{
    char req[256];
    if (amount < 0)
        snprintf(req, sizeof req,
                 "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":\"%s\","
                 "\"run_id\":\"r1\"}", action);
    else
        snprintf(req, sizeof req,
                 "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":\"%s\","
                 "\"input\":{\"amount\":%d},\"run_id\":\"r1\"}", action, amount);
    charter_decider *d;
    charter_decider_new(&d);
    char *ans = NULL;
    size_t n;
    charter_error err;
    CHECK_INT(charter_ledger_decide(l, d, c, req, strlen(req), T0, &ans, &n, &err),
              CHARTER_OK);
    CHECK_HAS(ans, "\"escalate\"");
    json_t *j = json_loads(ans, 0, NULL);
    snprintf(id, 32, "%s", json_string_value(json_object_get(j, "decision_id")));
    json_decref(j);
    free(ans);
    charter_decider_free(d);
}

typedef struct seen {
    charter_escalation_status status;
    char queue[32], by[64];
    size_t approvals;
    char approvers[4][64];
    bool has_grant;
    bool timed_out;
} seen;

static int take(const charter_escalation *e, void *user)
{
    seen *s = user;
    s->status = e->status;
    snprintf(s->queue, sizeof s->queue, "%s", e->queue);
    snprintf(s->by, sizeof s->by, "%s", e->resolved_by ? e->resolved_by : "");
    s->approvals = e->approval_count;
    for (size_t i = 0; i < e->approval_count && i < 4; i++)
        snprintf(s->approvers[i], sizeof s->approvers[i], "%s", e->approvers[i]);
    s->has_grant = e->grant_id != NULL;
    s->timed_out = e->timed_out;
    return 0;
}

static seen state_of(charter_ledger *l, const char *id)
{
    seen s;
    memset(&s, 0, sizeof s);
    CHECK_INT(charter_ledger_escalation(l, id, 0, take, &s, NULL), CHARTER_OK);
    return s;
}

static int64_t run_actions(charter_ledger *l)
{
    charter_counters k;
    charter_ledger_counters(l, "support-bot", "r1", T0, &k);
    return k.run_actions;
}

static charter_status resolve(charter_ledger *l, const charter *c, const char *id,
                              const char *who, charter_resolution r, const char *note,
                              charter_resolve_result *res, charter_error *err)
{
    return charter_ledger_resolve(l, c, id, who, r, note, T0 + 1000, res, err);
}

/* The payloads of the entries of `kind`, in order, as one JSON array. */
typedef struct kinds {
    const char *kind;
    json_t *list;
} kinds;

static int collect_kind(const charter_ledger_entry *e, void *user)
{
    kinds *k = user;
    if (!strcmp(e->kind, k->kind))
        json_array_append_new(k->list, json_loadb(e->payload, e->payload_len, 0, NULL));
    return 0;
}

static json_t *entries_of(const char *kind)
{
    kinds k = {kind, json_array()};
    CHECK_INT(charter_ledger_scan(path, 0, 0, collect_kind, &k, NULL), CHARTER_OK);
    return k.list;
}

static void test_notes(void)
{
    charter *c = load();
    charter_ledger *l = open_ledger();
    char a[32], b[32], f[32];
    decide(l, c, "issue_refund", 500, a);
    charter_resolve_result res;
    charter_error err;

    /* require_note deny (the default): a deny needs a note, a blank one is none. */
    CHECK_INT(resolve(l, c, a, "lena", CHARTER_RESOLVE_DENY, NULL, &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_NOTE_REQUIRED);
    CHECK_STR(res.stopped_by, "leads");
    CHECK_HAS(err.message, "needs a note");
    CHECK_INT(resolve(l, c, a, "lena", CHARTER_RESOLVE_DENY, " \t\n", &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_NOTE_REQUIRED);
    CHECK_HAS(err.message, "a blank note");
    CHECK_INT(state_of(l, a).status, CHARTER_ESC_OPEN);
    /* Without the charter, nothing says what the note policy is. */
    CHECK_INT(charter_ledger_resolve(l, NULL, a, "lena", CHARTER_RESOLVE_DENY, "no", 0, &res,
                                     &err), CHARTER_E_INVALID);
    CHECK_INT(resolve(l, c, a, "lena", CHARTER_RESOLVE_DENY, "too much", &res, &err),
              CHARTER_OK);
    CHECK_INT(state_of(l, a).status, CHARTER_ESC_DENIED);

    /* require_note always: an approval needs one too. */
    queue(c, "leads")->require_note = CH_NOTE_ALWAYS;
    decide(l, c, "issue_refund", 300, b);
    CHECK_INT(resolve(l, c, b, "lena", CHARTER_RESOLVE_APPROVE, "", &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_NOTE_REQUIRED);
    CHECK_HAS(err.message, "approving");
    CHECK_HAS(err.message, "require_note always");
    CHECK_INT(run_actions(l), 0);
    CHECK_INT(resolve(l, c, b, "lena", CHARTER_RESOLVE_APPROVE, "regular customer", &res,
                      &err), CHARTER_OK);
    CHECK_INT(state_of(l, b).status, CHARTER_ESC_APPROVED);
    CHECK_INT(run_actions(l), 1);

    /* The deadline's resolution needs no note, even under "always". */
    queue(c, "lenient")->require_note = CH_NOTE_ALWAYS;
    decide(l, c, "waive_fee", -1, f);
    size_t n = 0;
    CHECK_INT(charter_ledger_expire(l, c, T0 + 31 * 60000, &n, &err), CHARTER_OK);
    CHECK_INT(n, 1);
    seen s = state_of(l, f);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK(s.timed_out);
    CHECK_INT(s.approvals, 0); /* a deadline is no approver */
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

static void test_self_approval(void)
{
    charter *c = load();
    charter_ledger *l = open_ledger();
    char a[32], b[32];
    decide(l, c, "issue_refund", 500, a);
    decide(l, c, "issue_refund", 600, b);
    charter_resolve_result res;
    charter_error err;
    bool may = true;
    char why[256];

    /* The agent's owner, in any ASCII case, may not approve. */
    CHECK_INT(charter_ledger_may_approve(l, c, a, "Ana@Tiny.Example", &may, why, sizeof why,
                                         &err), CHARTER_OK);
    CHECK(!may);
    CHECK_HAS(why, "owns agent support-bot");
    CHECK_HAS(why, "queue leads does not allow self-approval");
    CHECK_INT(resolve(l, c, a, "ANA@tiny.example", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_SELF_APPROVAL);
    CHECK_STR(res.stopped_by, "leads");
    CHECK_HAS(err.message, "owns agent support-bot");
    CHECK_INT(state_of(l, a).status, CHARTER_ESC_OPEN);
    CHECK_INT(run_actions(l), 0);
    /* Someone else may. */
    CHECK_INT(charter_ledger_may_approve(l, c, a, "lena", &may, why, sizeof why, &err),
              CHARTER_OK);
    CHECK(may);
    /* The owner may deny. */
    CHECK_INT(resolve(l, c, a, "ana@tiny.example", CHARTER_RESOLVE_DENY, "not this one",
                      &res, &err), CHARTER_OK);
    CHECK_INT(state_of(l, a).status, CHARTER_ESC_DENIED);
    CHECK_INT(charter_ledger_may_approve(l, c, a, "lena", &may, why, sizeof why, &err),
              CHARTER_OK);
    CHECK(!may);
    CHECK_HAS(why, "already resolved");

    /* A queue that allows self-approval lets the owner approve. */
    queue(c, "leads")->self_approval = true;
    CHECK_INT(charter_ledger_may_approve(l, c, b, "ana@tiny.example", &may, why, sizeof why,
                                         &err), CHARTER_OK);
    CHECK(may);
    CHECK_INT(resolve(l, c, b, "ana@tiny.example", CHARTER_RESOLVE_APPROVE, NULL, &res,
                      &err), CHARTER_OK);
    CHECK_INT(state_of(l, b).status, CHARTER_ESC_APPROVED);

    CHECK_INT(charter_ledger_may_approve(l, c, "d-999", "lena", &may, why, sizeof why, &err),
              CHARTER_E_REF);
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

static void test_quorum_votes(void)
{
    charter *c = load();
    queue(c, "leads")->quorum = 2;
    charter_ledger *l = open_ledger();
    char a[32], b[32];
    decide(l, c, "issue_refund", 500, a);
    decide(l, c, "issue_refund", 700, b);
    charter_resolve_result res;
    charter_error err;
    int needed = 0;
    CHECK_INT(charter_ledger_quorum(l, c, a, &needed, &err), CHARTER_OK);
    CHECK_INT(needed, 2);

    /* The first approval is a vote: recorded, the escalation stays open,
     * nothing is counted. */
    CHECK_INT(resolve(l, c, a, "lena", CHARTER_RESOLVE_APPROVE, "fine by me", &res, &err),
              CHARTER_OK);
    CHECK(res.pending);
    CHECK_INT(res.approvals, 1);
    CHECK_INT(res.needed, 2);
    CHECK(res.seq > 0);
    seen s = state_of(l, a);
    CHECK_INT(s.status, CHARTER_ESC_OPEN);
    CHECK_INT(s.approvals, 1);
    CHECK_STR(s.approvers[0], "lena");
    CHECK(!s.has_grant);
    CHECK_INT(run_actions(l), 0);

    /* The same person cannot make the quorum alone (names compared
     * ignoring ASCII case). */
    bool may = true;
    char why[256];
    CHECK_INT(charter_ledger_may_approve(l, c, a, "LENA", &may, why, sizeof why, &err),
              CHARTER_OK);
    CHECK(!may);
    CHECK_HAS(why, "already approved");
    CHECK_INT(resolve(l, c, a, "Lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_ALREADY_APPROVED);
    CHECK_HAS(err.message, "already approved");

    /* A second approver completes it: approved, counted once. */
    CHECK_INT(resolve(l, c, a, "omar", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(!res.pending);
    CHECK_INT(res.approvals, 2);
    CHECK_INT(res.needed, 2);
    s = state_of(l, a);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_STR(s.by, "omar");
    CHECK_INT(s.approvals, 2);
    CHECK_STR(s.approvers[0], "lena");
    CHECK_STR(s.approvers[1], "omar");
    CHECK_INT(run_actions(l), 1);

    /* One deny denies, whatever approvals came before. */
    CHECK_INT(resolve(l, c, b, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(res.pending);
    CHECK_INT(resolve(l, c, b, "omar", CHARTER_RESOLVE_DENY, "no", &res, &err), CHARTER_OK);
    CHECK(!res.pending);
    CHECK_INT(state_of(l, b).status, CHARTER_ESC_DENIED);
    CHECK_INT(run_actions(l), 1);
    charter_ledger_close(l, NULL);

    /* The entries say the same. */
    json_t *votes = entries_of("escalation_approval");
    CHECK_INT(json_array_size(votes), 2);
    json_t *v = json_array_get(votes, 0);
    CHECK_STR(json_string_value(json_object_get(v, "decision_id")), a);
    CHECK_STR(json_string_value(json_object_get(v, "who")), "lena");
    CHECK_STR(json_string_value(json_object_get(v, "note")), "fine by me");
    CHECK_INT(json_integer_value(json_object_get(v, "approvals")), 1);
    CHECK_INT(json_integer_value(json_object_get(v, "needed")), 2);
    CHECK(json_object_get(v, "time_ms") != NULL);
    json_decref(votes);
    json_t *done = entries_of("escalation_resolved");
    CHECK_INT(json_array_size(done), 2);
    json_t *approvers = json_object_get(json_array_get(done, 0), "approvers");
    CHECK_INT(json_array_size(approvers), 2);
    CHECK_STR(json_string_value(json_array_get(approvers, 0)), "lena");
    CHECK_STR(json_string_value(json_array_get(approvers, 1)), "omar");
    CHECK(json_object_get(json_array_get(done, 1), "approvers") == NULL); /* a deny */
    json_decref(done);

    /* verify knows the new entry kind. */
    charter_ledger_report rep;
    CHECK_INT(charter_ledger_verify(path, NULL, &rep, &err), CHARTER_OK);
    CHECK(rep.ok);
    if (!rep.ok)
        fprintf(stderr, "verify: %s %s\n", rep.problem, rep.message);
    charter_release(c);
    unlink(path);
}

static void test_quorum_when(void)
{
    charter *c = load();
    ch_queue *leads = queue(c, "leads");
    leads->quorum = 2;
    leads->quorum_when = rule_when(c, "huge"); /* input.amount > 5000 */
    ch_queue *tier1 = queue(c, "tier1");
    tier1->quorum = 3;
    tier1->quorum_when = rule_when(c, "huge");
    charter_ledger *l = open_ledger();
    char small[32], big[32], odd[32];
    decide(l, c, "issue_refund", 500, small);
    decide(l, c, "issue_refund", 6000, big);
    decide(l, c, "close_account", -1, odd); /* no amount: the when cannot be evaluated */
    charter_error err;
    int needed = 0;
    CHECK_INT(charter_ledger_quorum(l, c, small, &needed, &err), CHARTER_OK);
    CHECK_INT(needed, 1);
    CHECK_INT(charter_ledger_quorum(l, c, big, &needed, &err), CHARTER_OK);
    CHECK_INT(needed, 2);
    CHECK_INT(charter_ledger_quorum(l, c, odd, &needed, &err), CHARTER_OK);
    CHECK_INT(needed, 3); /* fail closed */
    CHECK_INT(charter_ledger_quorum(l, c, "d-999", &needed, &err), CHARTER_E_REF);

    charter_resolve_result res;
    CHECK_INT(resolve(l, c, small, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(!res.pending);
    CHECK_INT(res.needed, 1);
    CHECK_INT(state_of(l, small).status, CHARTER_ESC_APPROVED);
    CHECK_INT(resolve(l, c, big, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(res.pending);
    CHECK_INT(state_of(l, big).status, CHARTER_ESC_OPEN);
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

/* Votes survive a restart and a move to the next queue; a timeout's allow
 * is the whole quorum. */
static void test_votes_survive(void)
{
    charter *c = load();
    queue(c, "tier1")->quorum = 2;
    queue(c, "tier2")->quorum = 2;
    queue(c, "lenient")->quorum = 3;
    charter_ledger *l = open_ledger();
    char mv[32], fee[32];
    decide(l, c, "close_account", -1, mv);
    decide(l, c, "waive_fee", -1, fee);
    charter_resolve_result res;
    charter_error err;
    CHECK_INT(resolve(l, c, mv, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(res.pending);
    CHECK_INT(resolve(l, c, fee, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(res.pending);
    charter_ledger_close(l, NULL);

    l = open_ledger();
    seen s = state_of(l, mv);
    CHECK_INT(s.status, CHARTER_ESC_OPEN);
    CHECK_INT(s.approvals, 1);
    CHECK_STR(s.approvers[0], "lena");
    CHECK_INT(resolve(l, c, mv, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_ALREADY_APPROVED);

    /* tier1's deadline (1h) moves it to tier2; lenient's (30m) allows. */
    size_t n = 0;
    CHECK_INT(charter_ledger_expire(l, c, T0 + HOUR + 1, &n, &err), CHARTER_OK);
    CHECK_INT(n, 2);
    s = state_of(l, mv);
    CHECK_STR(s.queue, "tier2");
    CHECK_INT(s.approvals, 1);
    s = state_of(l, fee);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK(s.timed_out);
    CHECK_STR(s.by, "timeout");
    CHECK_INT(run_actions(l), 1); /* the timeout's approval counts once */
    charter_ledger_close(l, NULL);

    l = open_ledger();
    s = state_of(l, mv);
    CHECK_STR(s.queue, "tier2");
    CHECK_INT(s.approvals, 1);
    CHECK_INT(run_actions(l), 1);
    CHECK_INT(resolve(l, c, mv, "omar", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(!res.pending);
    CHECK_INT(res.approvals, 2);
    s = state_of(l, mv);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_INT(s.approvals, 2);
    CHECK_INT(run_actions(l), 2);
    charter_ledger_close(l, NULL);

    l = open_ledger();
    s = state_of(l, mv);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_INT(s.approvals, 2);
    CHECK_STR(s.approvers[1], "omar");
    CHECK_INT(run_actions(l), 2);
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

/* A quorum that shrinks below the votes (a new charter): a voter's second
 * approval completes it rather than being refused. */
static void test_quorum_shrinks(void)
{
    charter *c = load();
    ch_queue *leads = queue(c, "leads");
    leads->quorum = 2;
    charter_ledger *l = open_ledger();
    char a[32];
    decide(l, c, "issue_refund", 500, a);
    charter_resolve_result res;
    charter_error err;
    CHECK_INT(resolve(l, c, a, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(res.pending);
    leads->quorum = 1;
    bool may = false;
    CHECK_INT(charter_ledger_may_approve(l, c, a, "lena", &may, NULL, 0, &err), CHARTER_OK);
    CHECK(may);
    CHECK_INT(resolve(l, c, a, "lena", CHARTER_RESOLVE_APPROVE, NULL, &res, &err),
              CHARTER_OK);
    CHECK(!res.pending);
    CHECK_INT(res.approvals, 1);
    seen s = state_of(l, a);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_INT(s.approvals, 1);
    CHECK_INT(run_actions(l), 1);
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

/* ---- Two approvers at once -------------------------------------------------- */

#define RACE_N 40

typedef struct voter {
    charter_ledger *l;
    const charter *c;
    const char *who;
    char (*ids)[32];
    int ok, pending, other;
} voter;

static void *vote_all(void *p)
{
    voter *v = p;
    for (int i = 0; i < RACE_N; i++) {
        charter_resolve_result res;
        charter_status st = charter_ledger_resolve(v->l, v->c, v->ids[i], v->who,
                                                   CHARTER_RESOLVE_APPROVE, NULL, 0, &res,
                                                   NULL);
        if (st == CHARTER_OK && res.pending)
            v->pending++;
        else if (st == CHARTER_OK)
            v->ok++;
        else
            v->other++;
    }
    return NULL;
}

static void test_concurrent_votes(void)
{
    charter *c = load();
    queue(c, "leads")->quorum = 2;
    charter_ledger *l = open_ledger();
    char ids[RACE_N][32];
    for (int i = 0; i < RACE_N; i++)
        decide(l, c, "issue_refund", 200 + i, ids[i]);
    voter a = {l, c, "lena", ids, 0, 0, 0}, b = {l, c, "omar", ids, 0, 0, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, vote_all, &a);
    pthread_create(&tb, NULL, vote_all, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    /* Each escalation: one vote and one final approval, never two finals. */
    CHECK_INT(a.other + b.other, 0);
    CHECK_INT(a.pending + b.pending, RACE_N);
    CHECK_INT(a.ok + b.ok, RACE_N);
    CHECK_INT(run_actions(l), RACE_N);
    for (int i = 0; i < RACE_N; i++) {
        seen s = state_of(l, ids[i]);
        CHECK_INT(s.status, CHARTER_ESC_APPROVED);
        CHECK_INT(s.approvals, 2);
    }
    charter_ledger_close(l, NULL);
    json_t *done = entries_of("escalation_resolved");
    json_t *votes = entries_of("escalation_approval");
    CHECK_INT(json_array_size(done), RACE_N);
    CHECK_INT(json_array_size(votes), RACE_N);
    json_decref(done);
    json_decref(votes);
    l = open_ledger();
    CHECK_INT(run_actions(l), RACE_N);
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

int main(void)
{
    test_dir_make("ledger-policy", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
    RUN(test_notes);
    RUN(test_self_approval);
    RUN(test_quorum_votes);
    RUN(test_quorum_when);
    RUN(test_votes_survive);
    RUN(test_quorum_shrinks);
    RUN(test_concurrent_votes);
    test_dir_remove(tmpdir);
    return TEST_DONE();
}
