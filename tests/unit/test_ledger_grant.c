/* test_ledger_grant.c - standing approvals (charter_ledger_grant,
 * charter_ledger_apply_grants, charter_ledger_revoke_grant,
 * charter_ledger_grants): a person approves an escalation "and the same
 * kind for the next hours", the grant approves the matching escalations in
 * that person's name, and never past what the person could approve (scope,
 * caps, expiry, revocation, boundaries, budgets, self-approval, quorum).
 *
 * Each case builds its charter from YAML text and records into a real
 * SQLite ledger in a temporary directory. The queue's policies are set on
 * the loaded charter (shop_with) rather than written in the YAML, so these
 * tests do not depend on the loader's reading of the new queue keys.
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "charter/model.h"
#include "ledger/recorder.h"
#include "ledger/search.h"

/* A shop whose refunds over 100 escalate (rule large-refund), whose VIP
 * refunds escalate (rule vip-refund), and whose other actions escalate by
 * the workflow's default; all to queue leads. `stop` is spliced into the
 * workflow, `bounds` is the boundaries section, `owner` the bots' owner. */
static const char shop_fmt[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    default: escalate\n"
    "    actions: [issue_refund, resend]\n"
    "    escalate_to: leads\n"
    "%s"
    "agents:\n"
    "  - {id: support-bot, owner: %s, workflows: [refunds]}\n"
    "  - {id: other-bot, owner: %s, workflows: [refunds]}\n"
    "%s"
    "rules:\n"
    "  - id: large-refund\n"
    "    workflows: [refunds]\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount > 100\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Large refunds need a lead.\n"
    "  - id: vip-refund\n"
    "    workflows: [refunds]\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount <= 100 && has(input.vip)\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: VIP refunds need a lead.\n"
    "  - id: small-refund\n"
    "    workflows: [refunds]\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount <= 100 && !has(input.vip)\n"
    "    effect: allow\n"
    "    protects: customer-trust\n"
    "    message: Small refunds are fine.\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [lead]}, sla: 4h, on_timeout: deny}\n";

/* The leads queue's policies (shop_with). */
typedef struct policy {
    int64_t grant_max_ms; /* 0: no standing approvals */
    int64_t quorum;
} policy;
#define GRANTS_8H ((policy){8 * 3600000LL, 1})
#define NO_GRANTS ((policy){0, 1})
#define QUORUM_2 ((policy){8 * 3600000LL, 2})

/* A spend counter only (a limit nobody reaches): the spend a grant's
 * amount cap counts is the charter's (its stop rules' `spend`). */
#define SPEND_ONLY                                                            \
    "    stop_rules:\n"                                                       \
    "      - {id: spend, spend: double(input.amount), max_spend_per_day: 1e9}\n"
#define DAY_BUDGET                                                            \
    "    stop_rules:\n"                                                       \
    "      - {id: day-budget, spend: double(input.amount), max_spend_per_day: 1000,\n" \
    "         message: The daily refund budget is spent.}\n"
#define BOUNDARY(id, when)                                                    \
    "boundaries:\n"                                                           \
    "  - {id: " id ", source: Treasury policy, workflows: [refunds],\n"       \
    "     when: '" when "', message: Not allowed by treasury.}\n"

#define T0 1795000000000LL /* a fixed decision time */
#define MIN 60000LL
#define HOUR (60 * MIN)

static char tmpdir[256], path[512];

static charter *shop_with(const char *stop, const char *bounds, const char *owner,
                          policy p)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, shop_fmt, stop, owner, owner, bounds);
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("shop.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot load the test charter: %s\n%s\n", err.message, yaml);
        exit(1);
    }
    ch_queue *q = (ch_queue *)ch_find_queue(c, "leads");
    q->grant_max_ms = p.grant_max_ms;
    q->quorum = p.quorum;
    return c;
}

/* Standing approvals of up to 8h; stop "": SPEND_ONLY. */
static charter *shop(const char *stop, const char *bounds)
{
    return shop_with(*stop ? stop : SPEND_ONLY, bounds, "ana@tiny.example", GRANTS_8H);
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

/* Decides a refund (or `action`) of `amount` by `agent` at T0 + dt; *id
 * gets the decision id; returns the effect. `extra` is spliced into the
 * input ("" or ",\"vip\":true"). */
static const char *decide(charter_ledger *l, const charter *c, const char *agent,
                          const char *action, int amount, const char *extra, int64_t dt,
                          char id[32])
{
    static char effect[16];
    char req[512];
    snprintf(req, sizeof req,
             "{\"agent\":\"%s\",\"workflow\":\"refunds\",\"action\":\"%s\","
             "\"input\":{\"amount\":%d%s},\"run_id\":\"r1\"}",
             agent, action, amount, extra);
    charter_decider *d = NULL;
    charter_decider_new(&d);
    char *ans = NULL;
    size_t n = 0;
    charter_error err;
    CHECK_INT(charter_ledger_decide(l, d, c, req, strlen(req), T0 + dt, &ans, &n, &err),
              CHARTER_OK);
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

/* An escalated refund of `amount` by support-bot; its id in id. */
static void escalate(charter_ledger *l, const charter *c, int amount, int64_t dt,
                     char id[32])
{
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", amount, "", dt, id), "escalate");
}

typedef struct esc_state {
    charter_escalation_status status;
    char by[64];
} esc_state;

static int take_state(const charter_escalation *e, void *user)
{
    esc_state *s = user;
    s->status = e->status;
    snprintf(s->by, sizeof s->by, "%s", e->resolved_by ? e->resolved_by : "");
    return 1;
}

static esc_state state_of(charter_ledger *l, const char *id)
{
    esc_state s;
    memset(&s, 0, sizeof s);
    CHECK_INT(charter_ledger_escalation(l, id, 0, take_state, &s, NULL), CHARTER_OK);
    return s;
}

/* Grants from escalation `id` as lena at T0 + dt. */
static charter_status grant(charter_ledger *l, const charter *c, const char *id,
                            const char *who, int64_t hours, int64_t max_count,
                            double max_amount, int64_t dt, char gid[32],
                            charter_resolve_result *res, charter_error *err)
{
    charter_grant_request g = {.duration_ms = hours * HOUR, .max_count = max_count,
                               .max_amount = max_amount, .note = "same for today"};
    return charter_ledger_grant(l, c, id, who, &g, T0 + dt, res, gid, err);
}

static size_t apply(charter_ledger *l, const charter *c, int64_t dt)
{
    size_t n = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_ledger_apply_grants(l, c, T0 + dt, &n, &err), CHARTER_OK);
    return n;
}

/* The first grant listed (newest first). */
typedef struct grant_seen {
    size_t n;
    charter_grant first;
    char id[32], who[64], rule[64], revoked_by[64], decision_id[32];
} grant_seen;

static int take_grant(const charter_grant *g, void *user)
{
    grant_seen *s = user;
    if (s->n++ == 0) {
        s->first = *g;
        snprintf(s->id, sizeof s->id, "%s", g->id);
        snprintf(s->who, sizeof s->who, "%s", g->who);
        snprintf(s->rule, sizeof s->rule, "%s", g->rule);
        snprintf(s->decision_id, sizeof s->decision_id, "%s", g->decision_id);
        snprintf(s->revoked_by, sizeof s->revoked_by, "%s",
                 g->revoked_by ? g->revoked_by : "");
    }
    return 0;
}

static grant_seen grants(charter_ledger *l, bool active_only, int64_t dt)
{
    grant_seen s;
    memset(&s, 0, sizeof s);
    CHECK_INT(charter_ledger_grants(l, active_only, T0 + dt, take_grant, &s, NULL),
              CHARTER_OK);
    return s;
}

/* The payload of the last entry of `kind` naming `needle`, from the file. */
typedef struct entry_find {
    const char *kind, *needle;
    char payload[2048];
} entry_find;

static int find_entry(const charter_ledger_entry *e, void *user)
{
    entry_find *f = user;
    if (!strcmp(e->kind, f->kind) && e->payload_len < sizeof f->payload) {
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)e->payload_len, e->payload);
        if (strstr(buf, f->needle))
            snprintf(f->payload, sizeof f->payload, "%s", buf);
    }
    return 0;
}

static const char *entry_of(const char *kind, const char *needle, entry_find *f)
{
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->needle = needle;
    CHECK_INT(charter_ledger_scan(path, 0, 0, find_entry, f, NULL), CHARTER_OK);
    return f->payload;
}

static void quoted(const char *id, char out[48])
{
    snprintf(out, 48, "\"%s\"", id);
}

/* ---- Approving what matches ---------------------------------------------------- */

static void test_grant_approves_open_and_later_matching_escalations(void)
{
    charter *c = shop("", "");
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], d3[32], gid[32];
    escalate(l, c, 500, 0, d1);
    escalate(l, c, 300, MIN, d2); /* open when the grant is made */
    charter_resolve_result res;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(grant(l, c, d1, "lena", 8, 0, 0, 2 * MIN, gid, &res, &err), CHARTER_OK);
    CHECK(res.seq > 0);
    CHECK(!strncmp(gid, "g-", 2));
    esc_state s = state_of(l, d1);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_STR(s.by, "lena");
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_OPEN);

    CHECK_INT(apply(l, c, 3 * MIN), 1);
    s = state_of(l, d2);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_STR(s.by, "lena");
    escalate(l, c, 700, 4 * MIN, d3); /* opened after it */
    CHECK_INT(apply(l, c, 5 * MIN), 1);
    CHECK_INT(state_of(l, d3).status, CHARTER_ESC_APPROVED);
    CHECK_INT(apply(l, c, 6 * MIN), 0);

    /* The record: the person's approval (no grant field), the grant with its
     * scope, and the approvals by it naming it, in the grantor's name. */
    entry_find f;
    char q[48];
    quoted(d1, q);
    CHECK(!strstr(entry_of("escalation_resolved", q, &f), "\"grant\""));
    CHECK_HAS(entry_of("grant", q, &f), "\"scope\":{\"action\":\"issue_refund\","
                                        "\"agent\":\"support-bot\",\"queue\":\"leads\","
                                        "\"rule\":\"large-refund\",\"workflow\":\"refunds\"}");
    CHECK_HAS(f.payload, "\"max_count\":null");
    CHECK_HAS(f.payload, "\"note\":\"same for today\"");
    quoted(d2, q);
    const char *p = entry_of("escalation_resolved", q, &f);
    char gq[48];
    quoted(gid, gq);
    CHECK_HAS(p, gq);
    CHECK_HAS(p, "\"who\":\"lena\"");
    CHECK_HAS(p, "\"resolution\":\"approve\"");

    grant_seen g = grants(l, true, 6 * MIN);
    CHECK_INT(g.n, 1);
    CHECK_STR(g.id, gid);
    CHECK_STR(g.who, "lena");
    CHECK_STR(g.rule, "large-refund");
    CHECK_STR(g.decision_id, d1);
    CHECK_INT(g.first.used_count, 2);
    CHECK(g.first.used_amount == 1000);
    CHECK_INT(g.first.expires_ms, T0 + 2 * MIN + 8 * HOUR);

    charter_ledger_report rep;
    CHECK_INT(charter_ledger_verify(path, NULL, &rep, &err), CHARTER_OK);
    CHECK(rep.ok);
    close_and_remove(l);
    charter_release(c);
}

static void test_scope_mismatch_is_not_approved(void)
{
    charter *c = shop("", "");
    charter_ledger *l = open_ledger();
    char d1[32], other_agent[32], other_action[32], other_rule[32], gid[32];
    escalate(l, c, 500, 0, d1);
    CHECK_INT(grant(l, c, d1, "lena", 8, 0, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    CHECK_STR(decide(l, c, "other-bot", "issue_refund", 500, "", 2 * MIN, other_agent),
              "escalate");
    /* resend escalates by the workflow's default: another action, no rule. */
    CHECK_STR(decide(l, c, "support-bot", "resend", 0, "", 2 * MIN, other_action),
              "escalate");
    CHECK_STR(decide(l, c, "support-bot", "issue_refund", 50, ",\"vip\":true", 2 * MIN,
                     other_rule),
              "escalate");
    CHECK_INT(apply(l, c, 3 * MIN), 0);
    CHECK_INT(state_of(l, other_agent).status, CHARTER_ESC_OPEN);
    CHECK_INT(state_of(l, other_action).status, CHARTER_ESC_OPEN);
    CHECK_INT(state_of(l, other_rule).status, CHARTER_ESC_OPEN);

    /* A grant made from the default-escalated one has rule "" and matches
     * another default escalation of the same action only. */
    char d2[32];
    CHECK_INT(grant(l, c, other_action, "lena", 8, 0, 0, 4 * MIN, gid, NULL, NULL),
              CHARTER_OK);
    grant_seen g = grants(l, true, 4 * MIN);
    CHECK_STR(g.rule, "");
    CHECK_STR(decide(l, c, "support-bot", "resend", 0, "", 5 * MIN, d2), "escalate");
    CHECK_INT(apply(l, c, 5 * MIN), 1);
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_APPROVED);
    CHECK_INT(state_of(l, other_rule).status, CHARTER_ESC_OPEN);
    close_and_remove(l);
    charter_release(c);
}

static void test_expired_and_revoked_grants_approve_nothing(void)
{
    charter *c = shop("", "");
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], d3[32], gid[32];
    escalate(l, c, 500, 0, d1);
    CHECK_INT(grant(l, c, d1, "lena", 1, 0, 0, 0, gid, NULL, NULL), CHARTER_OK);
    escalate(l, c, 500, 2 * HOUR, d2);
    CHECK_INT(apply(l, c, 2 * HOUR), 0); /* expired an hour ago */
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_OPEN);
    CHECK_INT(grants(l, true, 2 * HOUR).n, 0);
    CHECK_INT(grants(l, false, 2 * HOUR).n, 1);

    /* A fresh grant, revoked: nothing more. */
    char g2[32];
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(grant(l, c, d2, "lena", 8, 0, 0, 2 * HOUR, g2, NULL, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_revoke_grant(l, g2, "omar", "too broad", T0 + 3 * HOUR, &err),
              CHARTER_OK);
    escalate(l, c, 500, 3 * HOUR, d3);
    CHECK_INT(apply(l, c, 3 * HOUR), 0);
    CHECK_INT(state_of(l, d3).status, CHARTER_ESC_OPEN);
    grant_seen g = grants(l, false, 3 * HOUR);
    CHECK_STR(g.id, g2);
    CHECK(g.first.revoked);
    CHECK_STR(g.revoked_by, "omar");
    CHECK_INT(g.first.revoked_ms, T0 + 3 * HOUR);
    CHECK_INT(charter_ledger_revoke_grant(l, g2, "omar", NULL, 0, &err),
              CHARTER_E_DUPLICATE);
    CHECK_INT(charter_ledger_revoke_grant(l, "g-999", "omar", NULL, 0, &err), CHARTER_E_REF);
    CHECK_INT(charter_ledger_revoke_grant(l, "d-1", "omar", NULL, 0, &err),
              CHARTER_E_INVALID);
    entry_find f;
    char q[48];
    quoted(g2, q);
    CHECK_HAS(entry_of("grant_revoked", q, &f), "\"who\":\"omar\"");
    CHECK_HAS(f.payload, "\"note\":\"too broad\"");
    close_and_remove(l);
    charter_release(c);
}

static void test_count_and_amount_caps(void)
{
    charter *c = shop("", "");
    charter_ledger *l = open_ledger();
    char d[6][32], gid[32];
    escalate(l, c, 500, 0, d[0]);
    /* One more besides the one it came from. */
    CHECK_INT(grant(l, c, d[0], "lena", 8, 1, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    escalate(l, c, 200, 2 * MIN, d[1]);
    escalate(l, c, 200, 2 * MIN, d[2]);
    CHECK_INT(apply(l, c, 3 * MIN), 1);
    CHECK_INT(state_of(l, d[1]).status, CHARTER_ESC_APPROVED);
    CHECK_INT(state_of(l, d[2]).status, CHARTER_ESC_OPEN);
    CHECK_INT(grants(l, true, 3 * MIN).n, 0); /* its cap is reached */

    /* At most 350 in all: 200 fits, the next 200 does not (400), 150 does. */
    char g2[32];
    CHECK_INT(grant(l, c, d[2], "lena", 8, 0, 350, 4 * MIN, g2, NULL, NULL), CHARTER_OK);
    escalate(l, c, 200, 5 * MIN, d[3]);
    CHECK_INT(apply(l, c, 5 * MIN), 1);
    escalate(l, c, 200, 6 * MIN, d[4]);
    CHECK_INT(apply(l, c, 6 * MIN), 0);
    CHECK_INT(state_of(l, d[4]).status, CHARTER_ESC_OPEN);
    escalate(l, c, 150, 7 * MIN, d[5]);
    CHECK_INT(apply(l, c, 7 * MIN), 1);
    CHECK_INT(state_of(l, d[5]).status, CHARTER_ESC_APPROVED);
    CHECK_INT(state_of(l, d[4]).status, CHARTER_ESC_OPEN);
    CHECK_INT(grants(l, true, 7 * MIN).n, 0); /* 350 of 350 */
    grant_seen g = grants(l, false, 7 * MIN);
    CHECK_STR(g.id, g2);
    CHECK(g.first.used_amount == 350);
    CHECK(g.first.max_amount == 350);
    CHECK_INT(g.first.used_count, 2);
    close_and_remove(l);
    charter_release(c);
}

/* ---- Never past the charter -------------------------------------------------------- */

/* Two escalations of 600 open under a daily budget of 1000: the person's
 * approval of the first counts 600, the grant's of the second would make
 * 1200, so the stop rule refuses it and it stays open for a person; the
 * pass does not try it again while nothing changes. */
static void test_grant_stops_at_the_budget(void)
{
    charter *c = shop(DAY_BUDGET, "");
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], gid[32];
    escalate(l, c, 600, 0, d1);
    escalate(l, c, 600, MIN, d2);
    CHECK_INT(grant(l, c, d1, "lena", 8, 0, 0, 2 * MIN, gid, NULL, NULL), CHARTER_OK);
    CHECK_INT(apply(l, c, 3 * MIN), 0);
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_OPEN);
    CHECK_INT(apply(l, c, 4 * MIN), 0);
    charter_counters k;
    charter_ledger_counters(l, "support-bot", "r1", T0, &k);
    CHECK(k.day_spend == 600);
    CHECK_INT(grants(l, true, 4 * MIN).first.used_count, 0);
    /* A person may still deny it. */
    CHECK_INT(charter_ledger_resolve(l, c, d2, "omar", CHARTER_RESOLVE_DENY, "budget", 0,
                                     NULL, NULL),
              CHARTER_OK);
    close_and_remove(l);
    charter_release(c);
}

/* The charter serving now gained a boundary since the escalation opened:
 * the grant's approval meets it and leaves the escalation open. */
static void test_grant_meets_a_new_boundary(void)
{
    charter *before = shop("", "");
    charter *after = shop("", BOUNDARY("refund-cap", "input.amount > 400"));
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], d3[32], gid[32];
    escalate(l, before, 300, 0, d1);
    CHECK_INT(grant(l, before, d1, "lena", 8, 0, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    escalate(l, before, 500, 2 * MIN, d2);
    escalate(l, before, 350, 2 * MIN, d3);
    CHECK_INT(apply(l, after, 3 * MIN), 1);
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_OPEN);
    CHECK_INT(state_of(l, d3).status, CHARTER_ESC_APPROVED);
    close_and_remove(l);
    charter_release(before);
    charter_release(after);
}

/* ---- Who may grant, and what ------------------------------------------------------- */

static void test_grants_refused_by_queue_policy(void)
{
    charter *c = shop("", "");
    charter *none = shop_with(SPEND_ONLY, "", "ana@tiny.example", NO_GRANTS);
    charter *four_eyes = shop_with(SPEND_ONLY, "", "ana@tiny.example", QUORUM_2);
    charter_ledger *l = open_ledger();
    char d1[32], gid[32];
    escalate(l, c, 500, 0, d1);
    charter_resolve_result res;
    charter_error err;
    memset(&err, 0, sizeof err);
    /* Longer than the queue's 8h. */
    CHECK_INT(grant(l, c, d1, "lena", 9, 0, 0, MIN, gid, &res, &err), CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_NO_GRANTS);
    CHECK_HAS(err.message, "at most 8h");
    /* A queue without standing approvals. */
    CHECK_INT(grant(l, none, d1, "lena", 1, 0, 0, MIN, gid, &res, &err), CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_NO_GRANTS);
    CHECK_HAS(err.message, "allows no standing approvals");
    /* Four eyes: one person cannot grant. */
    CHECK_INT(grant(l, four_eyes, d1, "lena", 1, 0, 0, MIN, gid, &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_QUORUM);
    CHECK_INT(res.seq, 0);
    CHECK_INT(state_of(l, d1).status, CHARTER_ESC_OPEN);
    /* The agent's owner may not approve it, so may not grant either. */
    CHECK_INT(grant(l, c, d1, "ANA@tiny.example", 1, 0, 0, MIN, gid, &res, &err),
              CHARTER_E_REFUSED);
    CHECK_INT(res.refusal, CHARTER_REFUSAL_SELF_APPROVAL);
    CHECK_INT(state_of(l, d1).status, CHARTER_ESC_OPEN);
    CHECK_INT(grants(l, false, MIN).n, 0);
    /* Bad requests. */
    CHECK_INT(grant(l, c, d1, "lena", 0, 0, 0, MIN, gid, &res, &err), CHARTER_E_INVALID);
    CHECK_INT(grant(l, c, "d-999", "lena", 1, 0, 0, MIN, gid, &res, &err), CHARTER_E_REF);
    /* Resolved already: no approval and no grant. */
    CHECK_INT(charter_ledger_resolve(l, c, d1, "omar", CHARTER_RESOLVE_DENY, "no", 0, NULL,
                                     NULL),
              CHARTER_OK);
    CHECK_INT(grant(l, c, d1, "lena", 1, 0, 0, MIN, gid, &res, &err), CHARTER_E_DUPLICATE);
    CHECK_INT(grants(l, false, MIN).n, 0);
    close_and_remove(l);
    charter_release(c);
    charter_release(none);
    charter_release(four_eyes);
}

/* A grant never stands in for a second approver: under a charter whose
 * queue needs two approvals, it approves nothing. */
static void test_quorum_escalation_not_approved_by_grant(void)
{
    charter *c = shop("", "");
    /* (Another owner too: a charter of another version, as a changed quorum
     * would be in the YAML.) */
    charter *four_eyes = shop_with(SPEND_ONLY, "", "bob@tiny.example", QUORUM_2);
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], later[32], gid[32];
    escalate(l, c, 500, 0, d1);
    CHECK_INT(grant(l, c, d1, "lena", 8, 0, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    escalate(l, c, 600, 2 * MIN, d2);
    CHECK_INT(apply(l, four_eyes, 3 * MIN), 0);
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_OPEN);
    escalate(l, c, 600, 4 * MIN, later);
    CHECK_INT(apply(l, four_eyes, 5 * MIN), 0);
    CHECK_INT(state_of(l, later).status, CHARTER_ESC_OPEN);
    /* Back to one approval: both approved. */
    CHECK_INT(apply(l, c, 6 * MIN), 2);
    close_and_remove(l);
    charter_release(c);
    charter_release(four_eyes);
}

/* The grantor owns the agent (under the charter serving now): the grant
 * does not approve its escalations. */
static void test_self_approval_refused(void)
{
    charter *c = shop("", "");
    charter *owned = shop_with(SPEND_ONLY, "", "Lena", GRANTS_8H);
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], gid[32];
    escalate(l, c, 500, 0, d1);
    CHECK_INT(grant(l, c, d1, "lena", 8, 0, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    escalate(l, c, 500, 2 * MIN, d2);
    CHECK_INT(apply(l, owned, 3 * MIN), 0);
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_OPEN);
    CHECK_INT(apply(l, owned, 4 * MIN), 0);
    /* Under a charter where someone else owns it, tried again: approved. */
    CHECK_INT(apply(l, c, 4 * MIN), 1);
    CHECK_INT(state_of(l, d2).status, CHARTER_ESC_APPROVED);
    close_and_remove(l);
    charter_release(c);
    charter_release(owned);
}

/* ---- Restart ------------------------------------------------------------------------- */

static void test_restart_rebuilds_grants(void)
{
    charter *c = shop("", "");
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], d3[32], d4[32], gid[32], g2[32];
    escalate(l, c, 500, 0, d1);
    CHECK_INT(grant(l, c, d1, "lena", 8, 2, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    escalate(l, c, 250, 2 * MIN, d2);
    CHECK_INT(apply(l, c, 2 * MIN), 1);
    CHECK_STR(decide(l, c, "support-bot", "resend", 0, "", 3 * MIN, d3), "escalate");
    CHECK_INT(grant(l, c, d3, "omar", 8, 0, 0, 3 * MIN, g2, NULL, NULL), CHARTER_OK);
    CHECK_INT(charter_ledger_revoke_grant(l, g2, "omar", NULL, T0 + 4 * MIN, NULL),
              CHARTER_OK);
    escalate(l, c, 400, 5 * MIN, d4); /* open across the restart */
    charter_ledger_close(l, NULL);

    l = open_ledger();
    grant_seen g = grants(l, false, 5 * MIN);
    CHECK_INT(g.n, 2);
    CHECK_STR(g.id, g2);
    CHECK(g.first.revoked);
    CHECK_STR(g.revoked_by, "omar");
    g = grants(l, true, 5 * MIN);
    CHECK_INT(g.n, 1);
    CHECK_STR(g.id, gid);
    CHECK_INT(g.first.used_count, 1);
    CHECK(g.first.used_amount == 250);
    CHECK_INT(g.first.max_count, 2);
    CHECK_STR(g.rule, "large-refund"); /* the escalation's rule, rebuilt too */
    CHECK_INT(apply(l, c, 6 * MIN), 1);
    CHECK_INT(state_of(l, d4).status, CHARTER_ESC_APPROVED);
    CHECK_INT(grants(l, true, 6 * MIN).n, 0); /* 2 of 2 */
    close_and_remove(l);
    charter_release(c);
}

/* verify accepts grants, revocations and approvals by grants, and refuses
 * an approval "by a grant" that names none recorded before. */
static void test_verify_accepts_grants(void)
{
    charter *c = shop("", "");
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], gid[32];
    escalate(l, c, 500, 0, d1);
    CHECK_INT(grant(l, c, d1, "lena", 8, 0, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    escalate(l, c, 500, 2 * MIN, d2);
    CHECK_INT(apply(l, c, 2 * MIN), 1);
    CHECK_INT(charter_ledger_revoke_grant(l, gid, "lena", NULL, T0 + 3 * MIN, NULL),
              CHARTER_OK);
    charter_ledger_close(l, NULL);
    charter_ledger_report rep;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(charter_ledger_verify(path, NULL, &rep, &err), CHARTER_OK);
    CHECK(rep.ok);
    CHECK_STR(rep.problem, "");

    /* A well-chained approval "by" a grant that was never made. */
    l = open_ledger();
    char d3[32];
    escalate(l, c, 500, 4 * MIN, d3);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:f}", "decision_id", d3, "who", "lena",
                          "resolution", "approve", "grant", "g-2", "time_ms",
                          (json_int_t)(T0 + 5 * MIN), "spend", 500.0);
    uint64_t bad = 0;
    CHECK_INT(ledger_append_json(l, "escalation_resolved", j, &bad, &err), CHARTER_OK);
    charter_ledger_close(l, NULL);
    CHECK_INT(charter_ledger_verify(path, NULL, &rep, &err), CHARTER_OK);
    CHECK(!rep.ok);
    CHECK_STR(rep.problem, "malformed");
    CHECK_INT(rep.first_bad_seq, bad);
    CHECK_HAS(rep.message, "names no earlier grant entry");
    unlink(path);
    charter_release(c);
}

/* The search index shows the grant and its revocation as events of the
 * decision it came from, and names the grant on the approvals it gave. */
typedef struct history {
    int n;
    char line[8][300];
} history;

static int take_event(const ledger_search_event *e, void *user)
{
    history *h = user;
    if (h->n < 8)
        snprintf(h->line[h->n], sizeof h->line[0], "%s %s %s", e->event,
                 e->by ? e->by : "-", e->note ? e->note : "-");
    h->n++;
    return 0;
}

static void test_search_shows_grant_events(void)
{
    charter *c = shop("", "");
    charter_ledger *l = open_ledger();
    char d1[32], d2[32], gid[32];
    escalate(l, c, 500, 0, d1);
    CHECK_INT(grant(l, c, d1, "lena", 8, 0, 0, MIN, gid, NULL, NULL), CHARTER_OK);
    escalate(l, c, 500, 2 * MIN, d2);
    CHECK_INT(apply(l, c, 2 * MIN), 1);
    CHECK_INT(charter_ledger_revoke_grant(l, gid, "omar", "enough", T0 + 3 * MIN, NULL),
              CHARTER_OK);
    charter_ledger_close(l, NULL);

    ledger_search *x = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(ledger_search_open(path, &x, NULL, &err), CHARTER_OK);
    CHECK_INT(ledger_search_update(x, 0, NULL, &err), CHARTER_OK);
    uint64_t s1 = 0, s2 = 0;
    charter_decision_id_parse(d1, &s1);
    charter_decision_id_parse(d2, &s2);
    history h = {0};
    CHECK_INT(ledger_search_decision_events(path, s1, take_event, &h, &err), CHARTER_OK);
    CHECK_INT(h.n, 4);
    char want[128];
    CHECK_STR(h.line[1], "approved lena same for today");
    snprintf(want, sizeof want, "granted lena standing approval %s until ", gid);
    CHECK_HAS(h.line[2], want);
    CHECK_HAS(h.line[2], ": same for today");
    snprintf(want, sizeof want, "grant_revoked omar standing approval %s revoked: enough",
             gid);
    CHECK_STR(h.line[3], want);
    memset(&h, 0, sizeof h);
    CHECK_INT(ledger_search_decision_events(path, s2, take_event, &h, &err), CHARTER_OK);
    CHECK_INT(h.n, 2);
    snprintf(want, sizeof want, "approved lena by standing approval %s: same for today", gid);
    CHECK_STR(h.line[1], want);
    ledger_search_close(x);
    char idx[600];
    snprintf(idx, sizeof idx, "%s.search", path);
    unlink(idx);
    unlink(path);
    charter_release(c);
}

int main(void)
{
    test_dir_make("ledger-grant", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
    RUN(test_grant_approves_open_and_later_matching_escalations);
    RUN(test_scope_mismatch_is_not_approved);
    RUN(test_expired_and_revoked_grants_approve_nothing);
    RUN(test_count_and_amount_caps);
    RUN(test_grant_stops_at_the_budget);
    RUN(test_grant_meets_a_new_boundary);
    RUN(test_grants_refused_by_queue_policy);
    RUN(test_quorum_escalation_not_approved_by_grant);
    RUN(test_self_approval_refused);
    RUN(test_restart_rebuilds_grants);
    RUN(test_verify_accepts_grants);
    RUN(test_search_shows_grant_events);
    test_dir_remove(tmpdir);
    return TEST_DONE();
}
