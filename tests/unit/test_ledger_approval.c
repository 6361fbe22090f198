/* test_ledger_approval.c - the escalation path is never a way around the
 * charter (charter_ledger_resolve, charter_ledger_expire), and run budgets
 * belong to their agent.
 *
 * An approval, a person's or a deadline's on_timeout: allow, is re-decided
 * from the request's bytes as recorded, under the charter serving now and
 * with the ledger's counters as they stand; it is refused, saying what
 * stopped it, when that decision denies or cannot be made at all. Each
 * case builds its charters from YAML text and records into a real SQLite
 * ledger in a temporary directory.
 */
#include "test.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "charter_ledger.h"

/* A shop whose refunds over 100 and every fee waiver escalate. `extra` is
 * spliced into the refunds workflow (its stop rules); `bounds` is the
 * boundaries section (or ""). */
static const char shop_fmt[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund, waive_fee]\n"
    "    escalate_to: leads\n"
    "%s"
    "agents:\n"
    "  - {id: support-bot, owner: ana@tiny.example, workflows: [refunds]}\n"
    "  - {id: other-bot, owner: ana@tiny.example, workflows: [refunds]}\n"
    "%s"
    "rules:\n"
    "  - id: large-refund\n"
    "    workflows: [refunds]\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount > 100\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Large refunds need a lead.\n"
    "  - id: fees\n"
    "    workflows: [refunds]\n"
    "    actions: [waive_fee]\n"
    "    effect: escalate\n"
    "    escalate_to: lenient\n"
    "    protects: customer-trust\n"
    "    message: Fee waivers need a look.\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [lead]}, sla: 4h, on_timeout: deny}\n"
    "    - {id: lenient, approvers: {roles: [lead]}, sla: 30m, on_timeout: allow}\n";

/* Stop rules: a spend counter only (a limit nobody reaches), a daily
 * budget of 1000, five actions per run. */
#define SPEND_ONLY                                                            \
    "    stop_rules:\n"                                                       \
    "      - {id: spend, spend: double(input.amount), max_spend_per_day: 1e9}\n"
#define DAY_BUDGET                                                            \
    "    stop_rules:\n"                                                       \
    "      - {id: day-budget, spend: double(input.amount), max_spend_per_day: 1000,\n" \
    "         message: The daily refund budget is spent.}\n"
#define RUN_BUDGET                                                            \
    "    stop_rules:\n"                                                       \
    "      - {id: run-budget, max_actions_per_run: 5}\n"

#define BOUNDARY(id, when)                                                    \
    "boundaries:\n"                                                           \
    "  - {id: " id ", source: Treasury policy, workflows: [refunds],\n"       \
    "     when: '" when "', message: Not allowed by treasury.}\n"

#define T0 1795000000000LL /* a fixed decision time */
#define MIN 60000LL

static char tmpdir[256], path[512];

static charter *shop(const char *stop_rules, const char *boundaries)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, shop_fmt, stop_rules, boundaries);
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("shop.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot load the test charter: %s\n%s\n", err.message, yaml);
        exit(1);
    }
    return c;
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

static void close_and_remove(charter_ledger *l)
{
    charter_ledger_close(l, NULL);
    unlink(path);
}

/* Decides request text `req` at T0 + dt; *id gets the decision id, the
 * return value the effect ("allow", "escalate", "deny"). */
static const char *decide_text(charter_ledger *l, const charter *c, const char *req,
                               int64_t dt, char id[32])
{
    static char effect[16];
    charter_decider *d = NULL;
    charter_decider_new(&d);
    char *ans = NULL;
    size_t n = 0;
    charter_error err;
    charter_status st = charter_ledger_decide(l, d, c, req, strlen(req), T0 + dt, &ans,
                                              &n, &err);
    CHECK_INT(st, CHARTER_OK);
    snprintf(effect, sizeof effect, "?");
    id[0] = '\0';
    const char *p = ans ? strstr(ans, "\"decision_id\":\"") : NULL;
    if (p)
        snprintf(id, 32, "%.*s", (int)strcspn(p + 15, "\""), p + 15);
    p = ans ? strstr(ans, "\"decision\":\"") : NULL;
    if (p)
        snprintf(effect, sizeof effect, "%.*s", (int)strcspn(p + 12, "\""), p + 12);
    free(ans);
    charter_decider_free(d);
    return effect;
}

static const char *decide(charter_ledger *l, const charter *c, const char *agent,
                          const char *action, int amount, const char *run, char id[32])
{
    char req[512];
    snprintf(req, sizeof req,
             "{\"agent\":\"%s\",\"workflow\":\"refunds\",\"action\":\"%s\","
             "\"input\":{\"amount\":%d},\"run_id\":\"%s\"}",
             agent, action, amount, run);
    return decide_text(l, c, req, 0, id);
}

static charter_status approve(charter_ledger *l, const charter *c, const char *id,
                              charter_resolve_result *res, charter_error *err)
{
    return charter_ledger_resolve(l, c, id, "lena", CHARTER_RESOLVE_APPROVE, NULL,
                                  T0 + 5 * MIN, res, err);
}

typedef struct esc_state {
    charter_escalation_status status;
    bool timed_out;
    char by[32], note[1024];
} esc_state;

static int take_state(const charter_escalation *e, void *user)
{
    esc_state *s = user;
    s->status = e->status;
    s->timed_out = e->timed_out;
    snprintf(s->by, sizeof s->by, "%s", e->resolved_by ? e->resolved_by : "");
    snprintf(s->note, sizeof s->note, "%s", e->note ? e->note : "");
    return 1;
}

static esc_state state_of(charter_ledger *l, const char *id)
{
    esc_state s;
    memset(&s, 0, sizeof s);
    CHECK_INT(charter_ledger_escalation(l, id, 0, take_state, &s, NULL), CHARTER_OK);
    return s;
}

static double day_spend(charter_ledger *l, const char *agent)
{
    charter_counters k;
    charter_ledger_counters(l, agent, "r1", T0, &k);
    return k.day_spend;
}

/* ---- Item 1: the recorded bytes, not a round trip ------------------------- */

/* An agent pads an escalating request with 240,000 numbers 0.1 (960 KB,
 * under the request limit). Serialized again, each 0.1 would become
 * 0.10000000000000001 and the text would pass the limit; the re-check
 * decides the bytes as recorded, so the boundary added since fires. */
static void test_padded_request_meets_the_tightened_boundary(void)
{
    charter *before = shop("", "");
    charter *after = shop("", BOUNDARY("refund-cap", "input.amount > 400"));
    charter_ledger *l = open_ledger();
    size_t pad = 240000;
    char *req = malloc(pad * 4 + 256);
    int n = snprintf(req, 256,
                     "{\"agent\":\"support-bot\",\"workflow\":\"refunds\","
                     "\"action\":\"issue_refund\",\"run_id\":\"r1\","
                     "\"input\":{\"amount\":500,\"pad\":[");
    for (size_t i = 0; i < pad; i++) {
        memcpy(req + n, i ? ",0.1" : "0.1", i ? 4 : 3);
        n += i ? 4 : 3;
    }
    memcpy(req + n, "]}}", 4);
    CHECK(strlen(req) > 900000 && strlen(req) < 1024 * 1024);
    char id[32];
    CHECK_STR(decide_text(l, before, req, 0, id), "escalate");
    free(req);

    charter_resolve_result res;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(approve(l, after, id, &res, &err), CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_BOUNDARY);
    CHECK_STR(res.stopped_by, "refund-cap");
    CHECK_INT(res.seq, 0);
    CHECK_HAS(err.message, "boundary 'refund-cap'");
    CHECK_HAS(err.message, id);
    /* Nothing was recorded or counted; it can still be denied. */
    CHECK_INT(state_of(l, id).status, CHARTER_ESC_OPEN);
    CHECK(day_spend(l, "support-bot") == 0);
    CHECK_INT(charter_ledger_resolve(l, after, id, "lena", CHARTER_RESOLVE_DENY, "no", 0,
                                     &res, &err),
              CHARTER_OK);
    CHECK_INT(state_of(l, id).status, CHARTER_ESC_DENIED);
    /* Under the charter it was escalated under, the same approval passes:
     * the refusal was the boundary's, not the padding's. */
    char id2[32];
    CHECK_STR(decide(l, before, "support-bot", "issue_refund", 500, "r1", id2),
              "escalate");
    CHECK_INT(approve(l, before, id2, &res, &err), CHARTER_OK);
    CHECK(res.seq > 0);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_NONE);
    /* An approval without a charter to re-check against is refused. */
    CHECK_INT(approve(l, NULL, id2, &res, &err), CHARTER_E_INVALID);
    close_and_remove(l);
    charter_release(before);
    charter_release(after);
}

/* Rewrites the recorded request of every decision in the ledger file with
 * SQL (an older or damaged entry the re-check cannot decide again). */
static void tamper(const char *sql)
{
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "tamper: %s\n", msg ? msg : "?");
    CHECK_INT(rc, SQLITE_OK);
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* When the re-decision cannot be made, for whatever reason, the approval
 * is refused (fail closed), with a reason a person can read. */
static void test_recheck_that_cannot_be_made_refuses(void)
{
    static const char *const damage[] = {
        /* a key the request format refuses */
        "UPDATE entries SET payload = replace(payload, '\"run_id\":\"r1\"',"
        " '\"run_id\":\"r1\",\"bogus\":1') WHERE kind = 'decision'",
        /* past the request limit (1.2 MB of padding) */
        "UPDATE entries SET payload = replace(payload, '\"amount\":500',"
        " '\"amount\":500,\"pad\":\"' || hex(zeroblob(600000)) || '\"')"
        " WHERE kind = 'decision'",
        /* the decision time gone */
        "UPDATE entries SET payload = replace(payload, ',\"time_ms\":',"
        " ',\"time_x\":') WHERE kind = 'decision'",
    };
    static const char *const said[] = {"bogus", "limit", "no readable request"};
    charter *c = shop("", "");
    for (int i = 0; i < 3; i++) {
        charter_ledger *l = open_ledger();
        char id[32];
        CHECK_STR(decide(l, c, "support-bot", "issue_refund", 500, "r1", id), "escalate");
        charter_ledger_close(l, NULL);
        tamper(damage[i]);
        l = open_ledger();
        charter_resolve_result res;
        charter_error err;
        memset(&err, 0, sizeof err);
        CHECK_INT(approve(l, c, id, &res, &err), CHARTER_E_REFUSED);
        CHECK_INT(res.refusal, CHARTER_REFUSAL_RECHECK);
        CHECK_HAS(err.message, "refused");
        CHECK_HAS(err.message, said[i]);
        CHECK_INT(state_of(l, id).status, CHARTER_ESC_OPEN);
        CHECK(day_spend(l, "support-bot") == 0);
        close_and_remove(l);
    }
    charter_release(c);
}

/* ---- Item 2: the ledger's counters, at the moment of approval ------------- */

/* Three escalations of 900 against `counters.day.spend + amount > 2000`:
 * each was decided with a day spend of 0, but approving them one after the
 * other sees 0, 900, 1800, so the third is refused. */
static void test_day_spend_boundary_stops_the_third_approval(void)
{
    charter *c = shop(SPEND_ONLY, BOUNDARY("day-cap",
                                           "counters.day.spend + double(input.amount)"
                                           " > 2000.0"));
    charter_ledger *l = open_ledger();
    char id[3][32];
    for (int i = 0; i < 3; i++)
        CHECK_STR(decide(l, c, "support-bot", "issue_refund", 900, "r1", id[i]),
                  "escalate");
    charter_resolve_result res;
    charter_error err;
    CHECK_INT(approve(l, c, id[0], &res, &err), CHARTER_OK);
    CHECK_INT(approve(l, c, id[1], &res, &err), CHARTER_OK);
    CHECK(day_spend(l, "support-bot") == 1800);
    memset(&err, 0, sizeof err);
    CHECK_INT(approve(l, c, id[2], &res, &err), CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_BOUNDARY);
    CHECK_STR(res.stopped_by, "day-cap");
    CHECK_HAS(err.message, "boundary 'day-cap'");
    CHECK(day_spend(l, "support-bot") == 1800);
    /* A restart counts the same. */
    charter_ledger_close(l, NULL);
    l = open_ledger();
    CHECK(day_spend(l, "support-bot") == 1800);
    CHECK_INT(approve(l, c, id[2], &res, &err), CHARTER_E_REFUSED);
    close_and_remove(l);
    charter_release(c);
}

/* A budget of 1000 a day: four escalations of 900 each fit alone; only the
 * first approval does, the others are refused naming the stop rule. */
static void test_approvals_stop_at_the_budget(void)
{
    charter *c = shop(DAY_BUDGET, "");
    charter_ledger *l = open_ledger();
    char id[4][32];
    for (int i = 0; i < 4; i++)
        CHECK_STR(decide(l, c, "support-bot", "issue_refund", 900, "r1", id[i]),
                  "escalate");
    charter_resolve_result res;
    charter_error err;
    CHECK_INT(approve(l, c, id[0], &res, &err), CHARTER_OK);
    for (int i = 1; i < 4; i++) {
        memset(&err, 0, sizeof err);
        CHECK_INT(approve(l, c, id[i], &res, &err), CHARTER_E_REFUSED);
        CHECK_INT(res.refusal, CHARTER_REFUSAL_STOP_RULE);
        CHECK_STR(res.stopped_by, "day-budget");
        CHECK_HAS(err.message, "stop rule 'day-budget'");
        CHECK_HAS(err.message, "The daily refund budget is spent.");
        CHECK_HAS(err.message, "900 spent");
    }
    CHECK(day_spend(l, "support-bot") == 900);
    /* Small refunds are still decided against the same budget: 100 fits. */
    char ok[32];
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 100, "r1", ok), "allow");
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 1, "r1", ok), "deny");
    close_and_remove(l);
    charter_release(c);
}

/* Approvals and decisions racing for one budget: whatever the
 * interleaving, the day's spend ends exactly at the limit, never past. */
typedef struct racer {
    charter_ledger *l;
    const charter *c;
    char (*ids)[32];
    int first, step, count;
    bool decides;
} racer;

static void *race(void *p)
{
    racer *r = p;
    charter_decider *d = NULL;
    charter_decider_new(&d);
    for (int i = r->first; i < r->count; i += r->step) {
        if (r->decides) {
            const char *req = "{\"agent\":\"support-bot\",\"workflow\":\"refunds\","
                              "\"action\":\"issue_refund\",\"input\":{\"amount\":100},"
                              "\"run_id\":\"r1\"}";
            char *ans = NULL;
            size_t n;
            charter_ledger_decide(r->l, d, r->c, req, strlen(req), T0, &ans, &n, NULL);
            free(ans);
        } else {
            charter_ledger_resolve(r->l, r->c, r->ids[i], "lena", CHARTER_RESOLVE_APPROVE,
                                   NULL, T0 + MIN, NULL, NULL);
        }
    }
    charter_decider_free(d);
    return NULL;
}

static void test_concurrent_approvals_and_decisions_keep_the_budget(void)
{
    charter *c = shop(DAY_BUDGET, "");
    charter_ledger *l = open_ledger();
    enum { ESCALATIONS = 24, THREADS = 6 };
    char ids[ESCALATIONS][32];
    for (int i = 0; i < ESCALATIONS; i++)
        CHECK_STR(decide(l, c, "support-bot", "waive_fee", 100, "r1", ids[i]), "escalate");
    pthread_t th[THREADS];
    racer r[THREADS];
    for (int t = 0; t < THREADS; t++) {
        r[t] = (racer){.l = l, .c = c, .ids = ids, .first = t / 2, .step = THREADS / 2,
                       .count = ESCALATIONS, .decides = t % 2 == 1};
        pthread_create(&th[t], NULL, race, &r[t]);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    CHECK(day_spend(l, "support-bot") == 1000);
    charter_ledger_close(l, NULL);
    l = open_ledger();
    CHECK(day_spend(l, "support-bot") == 1000);
    close_and_remove(l);
    charter_release(c);
}

/* ---- Item 3: on_timeout allow passes the same re-check -------------------- */

static void test_timeout_allow_past_a_boundary_is_denied(void)
{
    charter *before = shop(DAY_BUDGET, "");
    charter *after = shop(DAY_BUDGET, BOUNDARY("no-fee-waivers", "true"));
    charter_ledger *l = open_ledger();
    char fee[32], fee2[32], fee3[32];
    CHECK_STR(decide(l, before, "support-bot", "waive_fee", 700, "r1", fee), "escalate");
    CHECK_STR(decide(l, before, "support-bot", "waive_fee", 600, "r1", fee2), "escalate");
    size_t n = 0;
    charter_error err;
    /* The boundary added since: denied by timeout, the reason in the note. */
    CHECK_INT(charter_ledger_expire(l, after, T0 + 31 * MIN, &n, &err), CHARTER_OK);
    CHECK_INT(n, 2);
    esc_state s = state_of(l, fee);
    CHECK_INT(s.status, CHARTER_ESC_DENIED);
    CHECK(s.timed_out);
    CHECK_STR(s.by, "timeout");
    CHECK_HAS(s.note, "on_timeout is allow");
    CHECK_HAS(s.note, "boundary 'no-fee-waivers'");
    CHECK_HAS(s.note, "denied");
    CHECK(day_spend(l, "support-bot") == 0);
    /* Under the old charter a timeout allows what fits the budget, and
     * denies by timeout what no longer does. */
    CHECK_STR(decide(l, before, "support-bot", "waive_fee", 700, "r1", fee2), "escalate");
    CHECK_STR(decide(l, before, "support-bot", "waive_fee", 600, "r1", fee3), "escalate");
    CHECK_INT(charter_ledger_expire(l, before, T0 + 31 * MIN, &n, &err), CHARTER_OK);
    CHECK_INT(n, 2);
    CHECK_INT(state_of(l, fee2).status, CHARTER_ESC_APPROVED);
    s = state_of(l, fee3);
    CHECK_INT(s.status, CHARTER_ESC_DENIED);
    CHECK(s.timed_out);
    CHECK_HAS(s.note, "stop rule 'day-budget'");
    CHECK(day_spend(l, "support-bot") == 700);
    /* The restart reads the same from the entries. */
    charter_ledger_close(l, NULL);
    l = open_ledger();
    CHECK(day_spend(l, "support-bot") == 700);
    CHECK_INT(state_of(l, fee3).status, CHARTER_ESC_DENIED);
    CHECK_HAS(state_of(l, fee).note, "boundary 'no-fee-waivers'");
    close_and_remove(l);
    charter_release(before);
    charter_release(after);
}

/* ---- Item 5: a run's budget belongs to its agent -------------------------- */

static void test_run_counters_are_per_agent(void)
{
    charter *c = shop(RUN_BUDGET, "");
    charter_ledger *l = open_ledger();
    char id[32];
    for (int i = 0; i < 5; i++)
        CHECK_STR(decide(l, c, "support-bot", "issue_refund", 10, "victim", id), "allow");
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 10, "victim", id), "deny");
    /* Another agent's first action in a run of the same name is its own. */
    CHECK_STR(decide(l, c, "other-bot", "issue_refund", 10, "victim", id), "allow");
    charter_counters k;
    charter_ledger_counters(l, "other-bot", "victim", T0, &k);
    CHECK_INT(k.run_actions, 1);
    charter_ledger_counters(l, "support-bot", "victim", T0, &k);
    CHECK_INT(k.run_actions, 5);
    /* The restart keys them the same way. */
    charter_ledger_close(l, NULL);
    l = open_ledger();
    charter_ledger_counters(l, "other-bot", "victim", T0, &k);
    CHECK_INT(k.run_actions, 1);
    CHECK_STR(decide(l, c, "other-bot", "issue_refund", 10, "victim", id), "allow");
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 10, "victim", id), "deny");
    close_and_remove(l);
    charter_release(c);
}

/* ---- The inbox's version and its long poll ---------------------------------- */

/* The version bumps when an escalation opens, is resolved or times out,
 * and not for a decision that does not escalate. */
static void test_escalations_version_bumps_on_every_change(void)
{
    charter *c = shop(SPEND_ONLY, "");
    charter_ledger *l = open_ledger();
    char id[32], fee[32];
    charter_error err;
    uint64_t v0 = charter_ledger_escalations_version(l);
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 5, "r1", id), "allow");
    CHECK(charter_ledger_escalations_version(l) == v0);
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 500, "r1", id), "escalate");
    CHECK(charter_ledger_escalations_version(l) == v0 + 1);
    CHECK_STR(decide(l, c, "support-bot", "waive_fee", 5, "r1", fee), "escalate");
    CHECK(charter_ledger_escalations_version(l) == v0 + 2);
    /* A refused resolution changes nothing; a recorded one bumps it. */
    CHECK_INT(charter_ledger_resolve(l, c, "d-1", "lena", CHARTER_RESOLVE_DENY, "x", 0,
                                     NULL, &err), CHARTER_E_REF);
    CHECK(charter_ledger_escalations_version(l) == v0 + 2);
    CHECK_INT(charter_ledger_resolve(l, c, id, "lena", CHARTER_RESOLVE_DENY, "no", 0, NULL,
                                     &err), CHARTER_OK);
    CHECK(charter_ledger_escalations_version(l) == v0 + 3);
    size_t n = 0;
    CHECK_INT(charter_ledger_expire(l, c, T0 + 31 * MIN, &n, &err), CHARTER_OK);
    CHECK_INT((long long)n, 1);
    CHECK(charter_ledger_escalations_version(l) == v0 + 4);
    /* Nothing due: nothing changes. */
    CHECK_INT(charter_ledger_expire(l, c, T0 + 32 * MIN, &n, &err), CHARTER_OK);
    CHECK(charter_ledger_escalations_version(l) == v0 + 4);
    close_and_remove(l);
    charter_release(c);
}

typedef struct waiter {
    charter_ledger *l;
    uint64_t since, got;
    uint32_t timeout_ms;
    int64_t took_ms;
} waiter;

static void *wait_version(void *arg)
{
    waiter *w = arg;
    int64_t t0 = charter_now_ms();
    w->got = charter_ledger_escalations_wait(w->l, w->since, w->timeout_ms);
    w->took_ms = charter_now_ms() - t0;
    return NULL;
}

/* A wait returns at once when the version differs already, at its limit
 * when nothing changes, as soon as an escalation opens, and at once when
 * waits are interrupted (a server shutting down). */
static void test_escalations_wait_returns_on_change_limit_and_interrupt(void)
{
    charter *c = shop(SPEND_ONLY, "");
    charter_ledger *l = open_ledger();
    char id[32];
    uint64_t v = charter_ledger_escalations_version(l);
    int64_t t0 = charter_now_ms();
    CHECK(charter_ledger_escalations_wait(l, v + 7, 5000) == v);
    CHECK(charter_now_ms() - t0 < 1000);
    t0 = charter_now_ms();
    CHECK(charter_ledger_escalations_wait(l, v, 300) == v);
    CHECK(charter_now_ms() - t0 >= 250);

    waiter w = {.l = l, .since = v, .timeout_ms = 20000};
    pthread_t th;
    pthread_create(&th, NULL, wait_version, &w);
    usleep(200 * 1000);
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 500, "r1", id), "escalate");
    pthread_join(th, NULL);
    CHECK(w.got == v + 1);
    CHECK(w.took_ms < 5000);

    w = (waiter){.l = l, .since = v + 1, .timeout_ms = 20000};
    pthread_create(&th, NULL, wait_version, &w);
    usleep(200 * 1000);
    charter_ledger_interrupt_waits(l);
    pthread_join(th, NULL);
    CHECK(w.got == v + 1);
    CHECK(w.took_ms < 5000);
    close_and_remove(l);
    charter_release(c);
}

int main(void)
{
    test_dir_make("ledger-approval", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
    RUN(test_padded_request_meets_the_tightened_boundary);
    RUN(test_recheck_that_cannot_be_made_refuses);
    RUN(test_day_spend_boundary_stops_the_third_approval);
    RUN(test_approvals_stop_at_the_budget);
    RUN(test_concurrent_approvals_and_decisions_keep_the_budget);
    RUN(test_timeout_allow_past_a_boundary_is_denied);
    RUN(test_run_counters_are_per_agent);
    RUN(test_escalations_version_bumps_on_every_change);
    RUN(test_escalations_wait_returns_on_change_limit_and_interrupt);
    test_dir_remove(tmpdir);
    return TEST_DONE();
}
