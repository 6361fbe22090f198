/* test_engine_hostile.c - hostile charters and hostile condition inputs,
 * through the public API (charter.h) as a server or `charter check` meets
 * them.
 *
 * A hostile charter (an alias bomb, nesting thousands deep, a condition
 * thousands of operators long) is refused with a clear error and no charter,
 * and the charter already loaded keeps deciding exactly as before. A hostile
 * request against an honest charter (a string built to make a regular
 * expression backtrack, lists that make nested macros explode) cannot hang
 * or exhaust the decider: the condition fails to evaluate within its limits
 * and the rule fails safe (deny and escalate fire, allow does not). A
 * charter with tens of thousands of rules loads and decides; the times are
 * printed (tests assert behaviour, not timing).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/limits.h"
#include "charter.h"
#include "test.h"
#include "test_text.h"

/* 2026-11-24T10:00:00Z */
#define NOW_MS INT64_C(1795514400000)

static const char base_charter[] =
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - {id: refunds, owner: o, autonomy: agent-ready, actions: [issue_refund, note]}\n"
    "agents:\n"
    "  - {id: bot, owner: o, workflows: [refunds]}\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [lead]}, sla: 4h, on_timeout: deny}\n"
    "rules:\n"
    "  - id: large-refund\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount > 100\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Large refunds need a lead.\n";

static charter *load(const char *yaml, size_t n)
{
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("t.yaml", yaml, n, &c, &err) != CHARTER_OK)
        fprintf(stderr, "  load failed: %s:%u:%u: %s\n", err.file, err.line, err.column,
                err.message);
    return c;
}

/* Decides `req` under `c` and returns the answer JSON (malloc'd) or NULL. */
static char *decide(const charter *c, const char *req)
{
    charter_decider *d = NULL;
    charter_request *r = NULL;
    const charter_decision *dec = NULL;
    char *out = NULL;
    charter_error err;
    if (charter_decider_new(&d) == CHARTER_OK &&
        charter_request_parse(req, strlen(req), &r, &err) == CHARTER_OK &&
        charter_decide(d, c, r, NOW_MS, &dec, &err) == CHARTER_OK) {
        size_t len;
        out = strdup(charter_decision_json(d, dec, &len));
    } else {
        fprintf(stderr, "  decide failed: %s\n", err.message);
    }
    charter_request_free(r);
    charter_decider_free(d);
    return out;
}

static const char refund_400[] =
    "{\"agent\":\"bot\",\"workflow\":\"refunds\",\"action\":\"issue_refund\","
    "\"input\":{\"amount\":400}}";

/* `yaml` is refused with `code` and a message containing `expected`, and the
 * charter loaded before decides as it did. */
static void refused(const char *yaml, size_t n, charter_status code, const char *expected)
{
    charter *good = load(base_charter, strlen(base_charter));
    if (!good)
        return;
    char version[80];
    snprintf(version, sizeof version, "%s", charter_version(good));
    char *before = decide(good, refund_400);

    charter *c = (charter *)1;
    charter_error err;
    memset(&err, 0, sizeof err);
    clock_t t0 = clock();
    CHECK_INT(charter_load_string("hostile.yaml", yaml, n, &c, &err), code);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(c == NULL);
    CHECK_INT(err.code, code);
    CHECK_HAS(err.message, expected);
    CHECK_STR(err.file, "hostile.yaml");
    printf("%s: refused in %.3f s: %s:%u:%u: %s\n", test_current_, secs, err.file, err.line,
           err.column, err.message);

    char *after = decide(good, refund_400);
    CHECK_STR(charter_version(good), version);
    CHECK_STR(after, before);
    CHECK_HAS(after, "\"decision\":\"escalate\"");
    free(before);
    free(after);
    charter_release(good);
}

/* ---- Hostile charters ------------------------------------------------------ */

static void test_yaml_alias_bomb_is_refused(void)
{
    /* Nine levels of nine aliases: 9^9 (387 million) nodes if expanded. */
    test_text t = {0};
    test_text_add(&t, "%s", base_charter);
    test_text_add(&t, "x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (char k = 'b'; k <= 'i'; k++)
        test_text_add(&t, "x-%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", k, k, k - 1,
            k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1);
    refused(t.p, t.n, CHARTER_E_LIMIT, "refusing to expand");
    free(t.p);
}

static void test_yaml_nesting_thousands_deep_is_refused(void)
{
    test_text t = {0};
    test_text_add(&t, "%sorganization:\n  purpose: ", base_charter);
    for (int i = 0; i < 5000; i++)
        test_text_add(&t, "[");
    for (int i = 0; i < 5000; i++)
        test_text_add(&t, "]");
    test_text_add(&t, "\n");
    refused(t.p, t.n, CHARTER_E_LIMIT, "deeper");
    free(t.p);
}

static void test_condition_thousands_of_operators_long_is_refused(void)
{
    /* 5,000 additions nest 5,000 deep (left to right): past the parse
     * depth limit, refused at the condition's place in the file. */
    test_text t = {0};
    test_text_add(&t, "%s  - id: long\n    effect: deny\n    message: m\n    when: input.amount", base_charter);
    for (int i = 0; i < 5000; i++)
        test_text_add(&t, " + 1");
    test_text_add(&t, " > 0\n");
    refused(t.p, t.n, CHARTER_E_LIMIT, "CEL_MAX_PARSE_DEPTH");
    free(t.p);
    /* A condition over the source limit. */
    test_text u = {0};
    test_text_add(&u, "%s  - id: long\n    effect: deny\n    message: m\n    when: >-\n      true", base_charter);
    size_t start = u.n;
    while (u.n - start < CEL_MAX_EXPR_BYTES + 100)
        test_text_add(&u, " && true");
    test_text_add(&u, "\n");
    refused(u.p, u.n, CHARTER_E_LIMIT, "CEL_MAX_EXPR_BYTES");
    free(u.p);
}

static void test_condition_of_two_thousand_and_terms_loads_and_decides(void)
{
    /* 2,000 && terms (50 KB) are a flat chain, not a deep tree: accepted. */
    test_text t = {0};
    test_text_add(&t, "%s  - id: many-terms\n    actions: [issue_refund]\n    effect: deny\n"
            "    message: m\n    when: >-\n      input.amount > 0", base_charter);
    for (int i = 0; i < 2000; i++)
        test_text_add(&t, " && input.amount != %d", 100000 + i);
    test_text_add(&t, "\n");
    charter *c = load(t.p, t.n);
    CHECK(c != NULL);
    if (c) {
        char *a = decide(c, refund_400);
        CHECK_HAS(a, "\"decision\":\"deny\",\"reason\":\"rule\"");
        free(a);
        charter_release(c);
    }
    free(t.p);
}

/* ---- Hostile requests against honest conditions ---------------------------- */

static const char regex_charter[] =
    "  - id: bad-note\n"
    "    actions: [note]\n"
    "    when: input.text.matches('^(a+)+$')\n"
    "    effect: deny\n"
    "    message: Notes may not be all a's.\n"
    "  - id: ok-note\n"
    "    actions: [note]\n"
    "    when: input.text.matches('^(a|aa)+$')\n"
    "    effect: allow\n"
    "    message: Fine.\n"
    "  - id: caller-pattern\n"
    "    actions: [note]\n"
    "    when: has(input.pattern) && input.text.matches(input.pattern)\n"
    "    effect: escalate\n"
    "    message: Matches the caller's pattern.\n";

static void test_backtracking_regex_fails_safe_quickly(void)
{
    test_text t = {0};
    test_text_add(&t, "%s%s", base_charter, regex_charter);
    charter *c = load(t.p, t.n);
    free(t.p);
    CHECK(c != NULL);
    if (!c)
        return;
    /* 40 a's and a '!': exponential backtracking for both patterns. */
    const char *req = "{\"agent\":\"bot\",\"workflow\":\"refunds\",\"action\":\"note\","
                      "\"input\":{\"text\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"}}";
    clock_t t0 = clock();
    char *a = decide(c, req);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("backtracking regexes decided in %.3f s\n", secs);
    /* The deny fires on its error; the erroring allow does not. */
    CHECK_HAS(a, "\"decision\":\"deny\",\"reason\":\"rule\"");
    CHECK_HAS(a, "\"id\":\"bad-note\"");
    CHECK_HAS(a, "match limit");
    CHECK(a && !strstr(a, "\"id\":\"ok-note\""));
    free(a);
    /* A pattern sent by the caller: over the size limit, or malformed, is an
     * error of that condition only (it escalates, failing safe). */
    test_text big = {0};
    test_text_add(&big, "{\"agent\":\"bot\",\"workflow\":\"refunds\",\"action\":\"note\","
              "\"input\":{\"text\":\"b\",\"pattern\":\"");
    for (unsigned i = 0; i <= CEL_MAX_REGEX_BYTES; i++)
        test_text_add(&big, "b");
    test_text_add(&big, "\"}}");
    a = decide(c, big.p);
    CHECK_HAS(a, "\"decision\":\"escalate\"");
    CHECK_HAS(a, "\"id\":\"caller-pattern\"");
    free(a);
    free(big.p);
    a = decide(c, "{\"agent\":\"bot\",\"workflow\":\"refunds\",\"action\":\"note\","
                  "\"input\":{\"text\":\"b\",\"pattern\":\"(\"}}");
    CHECK_HAS(a, "\"decision\":\"escalate\"");
    free(a);
    charter_release(c);
}

static void test_nested_macros_built_to_explode_fail_safe(void)
{
    /* Four nested macros over a list the caller sends: 200 items make
     * 1.6 billion steps, far past CEL_MAX_EVAL_COST. */
    test_text t = {0};
    test_text_add(&t, "%s", base_charter);
    test_text_add(&t, "  - id: pairs\n    actions: [note]\n    effect: escalate\n    message: m\n"
            "    when: input.items.exists(a, input.items.exists(b, input.items.exists(c,"
            " input.items.exists(d, a + b + c + d < 0))))\n"
            "  - id: grow\n    actions: [note]\n    effect: allow\n    message: m\n"
            "    when: input.items.map(a, input.items.map(b, input.items.map(c, [a, b, c])))"
            ".size() > 0\n");
    charter *c = load(t.p, t.n);
    free(t.p);
    CHECK(c != NULL);
    if (!c)
        return;
    test_text req = {0};
    test_text_add(&req, "{\"agent\":\"bot\",\"workflow\":\"refunds\",\"action\":\"note\","
              "\"input\":{\"items\":[0");
    for (int i = 1; i < 200; i++)
        test_text_add(&req, ",%d", i);
    test_text_add(&req, "]}}");
    clock_t t0 = clock();
    char *a = decide(c, req.p);
    printf("exploding macros decided in %.3f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    CHECK_HAS(a, "\"decision\":\"escalate\",\"reason\":\"rule\"");
    CHECK_HAS(a, "cost limit");
    CHECK(a && !strstr(a, "\"id\":\"grow\""));
    free(a);
    free(req.p);
    charter_release(c);
}

/* ---- Size --------------------------------------------------------------------- */

static long max_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static void test_fifty_thousand_rules_load_and_decide(void)
{
    enum { RULES = 50000, WORKFLOWS = 100, ACTIONS = 10 };
    test_text t = {0};
    test_text_add(&t, "organization: {name: Big}\nvalues:\n");
    for (int v = 0; v < 10; v++)
        test_text_add(&t, "  - {id: v%d, statement: Value %d.}\n", v, v);
    test_text_add(&t, "workflows:\n");
    for (int w = 0; w < WORKFLOWS; w++)
        test_text_add(&t, "  - {id: w%03d, owner: o, autonomy: agent-ready, "
                "actions: [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9]}\n", w);
    test_text_add(&t, "agents:\n  - id: bot\n    owner: o\n    workflows: [");
    for (int w = 0; w < WORKFLOWS; w++)
        test_text_add(&t, "%sw%03d", w ? ", " : "", w);
    test_text_add(&t, "]\nrules:\n");
    /* Rule i applies to workflow i % 100 and action i / 100 % 10: fifty
     * rules per (workflow, action) pair, each with its own threshold. */
    for (unsigned i = 0; i < RULES; i++)
        test_text_add(&t, "  - id: r%05u\n    workflows: [w%03u]\n    actions: [a%u]\n"
                "    when: input.amount > %u && input.currency == 'EUR'\n"
                "    effect: %s\n    protects: v%u\n    message: Rule %u.\n",
            i, i % WORKFLOWS, i / WORKFLOWS % ACTIONS, 1000 + i,
            i % 2 ? "escalate" : "deny", i % 10, i);
    long rss0 = max_rss_kb();
    clock_t t0 = clock();
    charter *c = load(t.p, t.n);
    double load_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(c != NULL);
    if (!c) {
        free(t.p);
        return;
    }
    charter_stats st;
    charter_get_stats(c, &st);
    CHECK_INT(st.rules + st.boundaries, RULES);

    /* w042/a7 holds rules 742, 1742, ... 49742: an amount of 20000 passes
     * the thresholds 1742 .. 19742 (deny: even ids, escalate: odd). */
    const char *req = "{\"agent\":\"bot\",\"workflow\":\"w042\",\"action\":\"a7\","
                      "\"input\":{\"amount\":20000,\"currency\":\"EUR\"}}";
    t0 = clock();
    char *a = NULL;
    for (int i = 0; i < 100; i++) {
        free(a);
        a = decide(c, req);
    }
    double decide_us = (double)(clock() - t0) / CLOCKS_PER_SEC * 1e6 / 100;
    CHECK_HAS(a, "\"decision\":\"deny\",\"reason\":\"rule\"");
    CHECK_HAS(a, "\"id\":\"r00742\"");
    CHECK_HAS(a, "\"id\":\"r18742\"");
    CHECK(a && !strstr(a, "\"id\":\"r19742\""));
    free(a);
    printf("%d rules (%zu bytes of YAML): loaded in %.2f s, max RSS +%ld MiB; "
           "a decision (parse, 50 rules) in %.1f us\n",
           RULES, t.n, load_s, (max_rss_kb() - rss0) / 1024, decide_us);
    charter_release(c);
    free(t.p);
}

int main(void)
{
    RUN(test_yaml_alias_bomb_is_refused);
    RUN(test_yaml_nesting_thousands_deep_is_refused);
    RUN(test_condition_thousands_of_operators_long_is_refused);
    RUN(test_condition_of_two_thousand_and_terms_loads_and_decides);
    RUN(test_backtracking_regex_fails_safe_quickly);
    RUN(test_nested_macros_built_to_explode_fail_safe);
    RUN(test_fifty_thousand_rules_load_and_decide);
    return TEST_DONE();
}
