/* test_ledger_hostile.c - hostile decision requests, sent the way every
 * agent's call arrives: through charter_ledger_decide. Each gets a clear
 * error (a status and a message naming what was wrong and the limit) and
 * changes nothing: no entry is appended, the stop-rule counters stay as they
 * were, and the next good request is recorded as usual. The limits are those
 * of src/base/limits.h (docs/security.md).
 */
#include "test.h"

#include <stdlib.h>
#include <time.h>

#include "base/limits.h"
#include "charter_ledger.h"

static const char shop[] =
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund]\n"
    "    escalate_to: leads\n"
    "    stop_rules:\n"
    "      - id: day-budget\n"
    "        spend: 'input.amount * (has(input.quantity) ? input.quantity : 1)'\n"
    "        max_spend_per_day: 1000\n"
    "        message: Daily refund budget spent.\n"
    "agents:\n"
    "  - {id: support-bot, owner: ana@tiny.example, workflows: [refunds]}\n"
    "rules:\n"
    "  - id: fee-too-high\n"
    "    workflows: [refunds]\n"
    "    when: has(input.fee) && input.fee + 1 > 100\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Large fees need a lead.\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n";

/* 2026-11-24T10:00:00Z */
#define NOW_MS INT64_C(1795514400000)

static char tmpdir[256], path[512];
static charter *C;
static charter_decider *D;
static charter_ledger *L;

/* What a hostile request must leave as it was. */
typedef struct snapshot {
    long entries;
    charter_counters counters;
} snapshot;

static int count_entry(const charter_ledger_entry *e, void *user)
{
    (*(long *)user)++;
    return 0;
}

static snapshot take(void)
{
    snapshot s;
    memset(&s, 0, sizeof s);
    charter_ledger_scan(path, 0, 0, count_entry, &s.entries, NULL);
    charter_ledger_counters(L, "support-bot", "run-1", NOW_MS, &s.counters);
    return s;
}

static bool same(const snapshot *a, const snapshot *b)
{
    return a->entries == b->entries &&
           a->counters.run_actions == b->counters.run_actions &&
           a->counters.day_actions == b->counters.day_actions &&
           a->counters.run_spend == b->counters.run_spend &&
           a->counters.day_spend == b->counters.day_spend;
}

/* Sends `req` (n bytes) and checks it is refused with `code` and a message
 * containing `expected`, leaving the ledger as it was. */
static void refused(const char *req, size_t n, charter_status code,
                    const char *expected)
{
    snapshot before = take();
    char *answer = NULL;
    size_t len = 0;
    charter_error err;
    memset(&err, 0, sizeof err);
    charter_status s = charter_ledger_decide(L, D, C, req, n, NOW_MS, &answer, &len, &err);
    CHECK_INT(s, code);
    CHECK_INT(err.code, code);
    CHECK_HAS(err.message, expected);
    CHECK(answer == NULL);
    free(answer);
    snapshot after = take();
    CHECK(same(&before, &after));
}

static void refused_str(const char *req, charter_status code, const char *expected)
{
    refused(req, strlen(req), code, expected);
}

/* Decides `req` and returns the answer (malloc'd) or NULL. */
static char *decided(const char *req, size_t n)
{
    char *answer = NULL;
    size_t len = 0;
    charter_error err;
    charter_status s = charter_ledger_decide(L, D, C, req, n, NOW_MS, &answer, &len, &err);
    CHECK_INT(s, CHARTER_OK);
    if (s != CHARTER_OK)
        fprintf(stderr, "  %s\n", err.message);
    return answer;
}

static char *decided_str(const char *req)
{
    return decided(req, strlen(req));
}

#define HEAD "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":\"issue_refund\","

/* A request whose input holds `body` (n bytes) between prefix and suffix. */
static char *build(const char *prefix, char fill, size_t n, const char *suffix,
                   size_t *len)
{
    size_t a = strlen(prefix), b = strlen(suffix);
    char *p = malloc(a + n + b + 1);
    if (!p)
        abort();
    memcpy(p, prefix, a);
    memset(p + a, fill, n);
    memcpy(p + a + n, suffix, b + 1);
    *len = a + n + b;
    return p;
}

static void test_body_over_the_size_limit(void)
{
    size_t n;
    char *p = build(HEAD "\"rationale\":\"", 'x', CHARTER_MAX_REQUEST_BYTES, "\"}", &n);
    refused(p, n, CHARTER_E_LIMIT, "the limit is 1048576 bytes");
    free(p);
}

static void test_nesting_thousands_deep(void)
{
    size_t n = 0, depth = 10000;
    char *p = malloc(depth * 6 + 256);
    if (!p)
        return;
    n += (size_t)snprintf(p, 256, HEAD "\"input\":");
    memset(p + n, '[', depth);
    n += depth;
    memset(p + n, ']', depth);
    n += depth;
    p[n++] = '}';
    refused(p, n, CHARTER_E_LIMIT, "deeper than 64 levels");
    /* Objects in objects, and unclosed ones. */
    n = (size_t)snprintf(p, 256, HEAD "\"context\":");
    for (size_t i = 0; i < depth; i++, n += 5)
        memcpy(p + n, "{\"a\":", 5);
    refused(p, n, CHARTER_E_LIMIT, "deeper than 64 levels");
    free(p);
}

static void test_invalid_utf8(void)
{
    refused_str(HEAD "\"rationale\":\"caf\xff\"}", CHARTER_E_JSON, "invalid UTF-8");
    refused_str(HEAD "\"input\":{\"\xc3\":1}}", CHARTER_E_JSON, "invalid UTF-8");
    refused_str(HEAD "\"rationale\":\"\xc0\xaf\"}", CHARTER_E_JSON, "invalid UTF-8");
    refused_str(HEAD "\"rationale\":\"\xed\xa0\x80\"}", CHARTER_E_JSON, "invalid UTF-8");
    refused_str(HEAD "\"rationale\":\"\xf4\x90\x80\x80\"}", CHARTER_E_JSON, "invalid UTF-8");
    refused_str(HEAD "\"rationale\":\"\\ud800\"}", CHARTER_E_JSON, "surrogate");
    refused_str(HEAD "\"rationale\":\"a\\u0000b\"}", CHARTER_E_JSON, "\\u0000");
    /* The error says where. */
    charter_error err;
    char *answer = NULL;
    size_t len;
    const char *req = "{\n  \"agent\": \"support-bot\xe2\x82\"\n}";
    CHECK_INT(charter_ledger_decide(L, D, C, req, strlen(req), NOW_MS, &answer, &len, &err),
              CHARTER_E_JSON);
    CHECK_INT(err.line, 2);
    CHECK(err.column > 0);
}

static void test_nan_and_huge_numbers(void)
{
    refused_str(HEAD "\"input\":{\"amount\":NaN}}", CHARTER_E_JSON, "invalid token");
    refused_str(HEAD "\"input\":{\"amount\":Infinity}}", CHARTER_E_JSON, "invalid");
    refused_str(HEAD "\"input\":{\"amount\":-Infinity}}", CHARTER_E_JSON, "invalid number");
    refused_str(HEAD "\"input\":{\"amount\":1e999}}", CHARTER_E_JSON, "out of range");
    refused_str(HEAD "\"input\":{\"amount\":-1e999}}", CHARTER_E_JSON, "out of range");
    refused_str(HEAD "\"input\":{\"amount\":99999999999999999999}}", CHARTER_E_JSON,
                "out of range");
    refused_str(HEAD "\"confidence\":1e999}", CHARTER_E_JSON, "out of range");
    refused_str(HEAD "\"confidence\":2}", CHARTER_E_REQUEST, "confidence");

    /* Numbers JSON allows but arithmetic cannot take fail safe: a spend that
     * overflows to infinity stops the action and counts nothing ... */
    snapshot before = take();
    char *a = decided_str(HEAD "\"run_id\":\"run-1\",\"input\":{\"amount\":1.7976931348623157e308,"
                           "\"quantity\":10}}");
    CHECK_HAS(a, "\"decision\":\"deny\",\"reason\":\"stop_rule\"");
    CHECK_HAS(a, "its spend could not be computed");
    free(a);
    snapshot after = take();
    CHECK_INT(after.entries, before.entries + 1); /* the deny is recorded */
    CHECK(after.counters.day_spend == before.counters.day_spend);
    CHECK_INT(after.counters.run_actions, before.counters.run_actions);
    /* ... and an integer overflow in a rule makes the rule fire. */
    a = decided_str(HEAD "\"input\":{\"amount\":1,\"fee\":9223372036854775807}}");
    CHECK_HAS(a, "\"decision\":\"escalate\"");
    CHECK_HAS(a, "overflow");
    free(a);
}

static void test_very_long_strings_and_keys(void)
{
    size_t n;
    char *p = build(HEAD "\"rationale\":\"", 'x', CHARTER_MAX_STRING_BYTES + 1, "\"}", &n);
    refused(p, n, CHARTER_E_LIMIT, "the limit is 262144");
    free(p);
    p = build(HEAD "\"input\":{\"", 'k', CHARTER_MAX_STRING_BYTES + 1, "\":1}}", &n);
    refused(p, n, CHARTER_E_LIMIT, "the limit is 262144");
    free(p);
    /* Escapes count as the bytes they stand for. */
    p = build(HEAD "\"rationale\":\"", 'x', 6 * (CHARTER_MAX_STRING_BYTES / 2 + 1), "\"}", &n);
    for (size_t i = strlen(HEAD "\"rationale\":\""); i + 6 < n; i += 6)
        memcpy(p + i, "\\u00e9", 6); /* two bytes each */
    refused(p, n, CHARTER_E_LIMIT, "the limit is 262144");
    free(p);
    /* At the limit is fine. */
    p = build(HEAD "\"input\":{\"amount\":1},\"rationale\":\"", 'x',
              CHARTER_MAX_STRING_BYTES, "\"}", &n);
    char *a = decided(p, n);
    CHECK_HAS(a, "\"decision\":\"allow\"");
    free(a);
    free(p);
}

static void test_many_keys_are_decided_quickly(void)
{
    /* 60,000 distinct keys in one object: no quadratic work anywhere. */
    size_t keys = 60000, n = 0;
    char *p = malloc(keys * 16 + 256);
    if (!p)
        return;
    n += (size_t)snprintf(p, 256, HEAD "\"input\":{\"amount\":1},\"context\":{");
    for (size_t i = 0; i < keys; i++)
        n += (size_t)snprintf(p + n, 17, "\"k%06zu\":1,", i);
    n += (size_t)snprintf(p + n, 32, "\"end\":1}}");
    clock_t t0 = clock();
    char *a = decided(p, n);
    printf("decided a request of %zu bytes with %zu keys in %.3f s\n", n, keys,
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    CHECK_HAS(a, "\"decision\":\"allow\"");
    free(a);
    /* The same key twice is refused. */
    n -= strlen("\"end\":1}}");
    n += (size_t)snprintf(p + n, 32, "\"k000007\":2}}");
    refused(p, n, CHARTER_E_JSON, "duplicate");
    free(p);
}

static void test_good_request_is_still_recorded(void)
{
    snapshot before = take();
    const char *req = HEAD "\"run_id\":\"run-1\",\"input\":{\"amount\":40}}";
    char *a = decided(req, strlen(req));
    CHECK_HAS(a, "\"decision\":\"allow\"");
    free(a);
    snapshot after = take();
    CHECK_INT(after.entries, before.entries + 1);
    CHECK_INT(after.counters.run_actions, before.counters.run_actions + 1);
    CHECK(after.counters.day_spend == before.counters.day_spend + 40);
    CHECK_INT(charter_ledger_close(L, NULL), CHARTER_OK);
    L = NULL;
    charter_ledger_report r;
    CHECK_INT(charter_ledger_verify(path, NULL, &r, NULL), CHARTER_OK);
    CHECK(r.ok);
}

int main(void)
{
    test_dir_make("hostile", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
    charter_error err;
    if (charter_load_string("shop.yaml", shop, strlen(shop), &C, &err) != CHARTER_OK ||
        charter_decider_new(&D) != CHARTER_OK ||
        charter_ledger_open(path, NULL, &L, &err) != CHARTER_OK) {
        fprintf(stderr, "set-up failed: %s\n", err.message);
        return 1;
    }
    /* One good decision first, so "nothing changed" compares real counters. */
    const char *req = HEAD "\"run_id\":\"run-1\",\"input\":{\"amount\":10}}";
    free(decided(req, strlen(req)));

    RUN(test_body_over_the_size_limit);
    RUN(test_nesting_thousands_deep);
    RUN(test_invalid_utf8);
    RUN(test_nan_and_huge_numbers);
    RUN(test_very_long_strings_and_keys);
    RUN(test_many_keys_are_decided_quickly);
    RUN(test_good_request_is_still_recorded);

    charter_ledger_close(L, NULL);
    charter_decider_free(D);
    charter_release(C);
    test_dir_remove(tmpdir);
    return TEST_DONE();
}
