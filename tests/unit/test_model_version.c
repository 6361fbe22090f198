/* test_model_version.c - the canonical JSON and the version: independent of
 * file layout, key order, quoting and comments; changed by any change of
 * meaning. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>

#include "charter/load.h"
#include "test.h"

#define DATA CHARTER_SOURCE_DIR "/tests/data/charters/"

static charter *load_path(const char *path)
{
    charter *c = NULL;
    charter_error err;
    if (ch_load_path(path, &c, &err) != CHARTER_OK)
        fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
    return c;
}

static charter *load_text(const char *yaml)
{
    charter *c = NULL;
    charter_error err;
    if (ch_load_string("t.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK)
        fprintf(stderr, "  %s:%u:%u: %s\n", err.file, err.line, err.column, err.message);
    return c;
}

static void test_version_is_sha256_hex(void)
{
    charter *c = load_path(DATA "good/shop.yaml");
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(strlen(c->version), 7 + 64);
    CHECK(strncmp(c->version, "sha256:", 7) == 0);
    for (size_t i = 7; i < strlen(c->version); i++)
        CHECK(isxdigit((unsigned char)c->version[i]) && !isupper((unsigned char)c->version[i]));
    CHECK_INT(strlen(c->canonical), c->canonical_len);
    ch_charter_free(c);
}

static void test_split_directory_has_the_same_version(void)
{
    charter *one = load_path(DATA "good/shop.yaml");
    charter *split = load_path(DATA "good/split");
    CHECK(one && split);
    if (one && split) {
        CHECK_STR(split->version, one->version);
        CHECK_STR(split->canonical, one->canonical);
        CHECK_INT(split->rule_count, one->rule_count);
    }
    ch_charter_free(one);
    ch_charter_free(split);
}

static void test_loading_twice_gives_the_same_bytes(void)
{
    charter *a = load_path(DATA "good/shop.yaml");
    charter *b = load_path(DATA "good/shop.yaml");
    CHECK(a && b);
    if (a && b)
        CHECK_STR(a->canonical, b->canonical);
    ch_charter_free(a);
    ch_charter_free(b);
}

#define BASE                                                                 \
    "organization: {name: T}\n"                                              \
    "values: [{id: v, statement: S.}, {id: u, statement: U.}]\n"             \
    "workflows: [{id: w, owner: o, autonomy: agent-ready, actions: [a, b]}]\n"

static void test_any_change_of_meaning_changes_the_version(void)
{
    charter *base = load_text(BASE "rules: [{id: r, effect: deny, message: m, protects: v}]\n");
    const char *variants[] = {
        BASE "rules: [{id: r, effect: deny, message: m2, protects: v}]\n",
        BASE "rules: [{id: r, effect: escalate, message: m, protects: v}]\n",
        BASE "rules: [{id: r, effect: deny, message: m, protects: u}]\n",
        BASE "rules: [{id: r, effect: deny, message: m, protects: v, when: 'true'}]\n",
        BASE "rules: [{id: r, effect: deny, message: m, protects: v, actions: [a]}]\n",
        "organization: {name: T}\n"
        "values: [{id: u, statement: U.}, {id: v, statement: S.}]\n" /* rank swapped */
        "workflows: [{id: w, owner: o, autonomy: agent-ready, actions: [a, b]}]\n"
        "rules: [{id: r, effect: deny, message: m, protects: v}]\n",
    };
    CHECK(base != NULL);
    for (size_t i = 0; base && i < sizeof variants / sizeof variants[0]; i++) {
        charter *c = load_text(variants[i]);
        CHECK(c != NULL);
        if (c && strcmp(c->version, base->version) == 0)
            fprintf(stderr, "  variant %zu has the base's version\n", i);
        CHECK(c && strcmp(c->version, base->version) != 0);
        ch_charter_free(c);
    }
    ch_charter_free(base);
}

/* Versions computed by the code before queues had reminders, quorum,
 * require_note, self_approval and standing_approvals (main at 43d0a56):
 * versions already recorded in ledgers must not change. */
static const char queues_before[] =
    "organization: {name: T}\n"
    "values: [{id: v, statement: S.}]\n"
    "workflows: [{id: w, owner: o, autonomy: agent-augmented, actions: [a], "
    "escalate_to: leads}]\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [lead], members: [ann]}, sla: 4h, on_timeout: next, "
    "next: managers, notify: \"https://hooks.example.com/x\"}\n"
    "    - {id: managers, approvers: {members: [bo]}, sla: 8h}\n";

static void test_versions_before_the_queue_policies_stay(void)
{
    charter *shop = load_path(DATA "good/shop.yaml");
    charter *ops = load_path(CHARTER_SOURCE_DIR "/examples/infra-ops/charter");
    charter *q = load_text(queues_before);
    CHECK(shop && ops && q);
    if (shop)
        CHECK_STR(shop->version,
                  "sha256:933cc709a243426c15c71f514463c7abbd79c4b3488ec7b91850e6886dc7a44a");
    if (ops)
        CHECK_STR(ops->version,
                  "sha256:79cfed97bc60065206ca646d281b5f5a182617f7968d4c9e7013c6e336bc2614");
    if (q) {
        CHECK_STR(q->version,
                  "sha256:be6c87a64616d62715b88d64e20bbed0e6f76c2a84bbef939340ddbd7e2eb4ca");
        CHECK(strstr(q->canonical, "\"notify\":\"https://hooks.example.com/x\"") != NULL);
        CHECK(strstr(q->canonical, "quorum") == NULL);
        CHECK(strstr(q->canonical, "reminders") == NULL);
    }
    ch_charter_free(shop);
    ch_charter_free(ops);
    ch_charter_free(q);
}

/* A new key at its default is the same charter; any other value is not. */
static void test_queue_policy_keys_change_the_version(void)
{
#define Q(extra)                                                                     \
    BASE "escalation:\n  queues:\n    - {id: q, approvers: {roles: [r]}, sla: 4h" extra \
         "}\n"
    charter *base = load_text(Q(", notify: 'https://h.example/x'"));
    const char *same[] = {
        Q(", notify: ['https://h.example/x']"),
        Q(", notify: [{url: 'https://h.example/x', format: webhook}]"),
        Q(", notify: 'https://h.example/x', reminders: [50%, 90%]"),
        Q(", notify: 'https://h.example/x', quorum: 1"),
        Q(", notify: 'https://h.example/x', require_note: deny"),
        Q(", notify: 'https://h.example/x', self_approval: false"),
        Q(", notify: 'https://h.example/x', standing_approvals: null"),
    };
    const char *differ[] = {
        Q(", notify: [{url: 'https://h.example/x', format: slack}]"),
        Q(", notify: ['https://h.example/x', 'mailto:a@h.example']"),
        Q(", notify: 'https://h.example/x', reminders: []"),
        Q(", notify: 'https://h.example/x', reminders: [50%]"),
        Q(", notify: 'https://h.example/x', reminders: [50%, 80%]"),
        Q(", notify: 'https://h.example/x', quorum: 2"),
        Q(", notify: 'https://h.example/x', quorum: {count: 2, when: input.amount > 10}"),
        Q(", notify: 'https://h.example/x', quorum: {count: 2, when: input.amount > 20}"),
        Q(", notify: 'https://h.example/x', quorum: {count: 3, when: input.amount > 10}"),
        Q(", notify: 'https://h.example/x', require_note: always"),
        Q(", notify: 'https://h.example/x', self_approval: true"),
        Q(", notify: 'https://h.example/x', standing_approvals: {max: 8h}"),
        Q(", notify: 'https://h.example/x', standing_approvals: {max: 9h}"),
    };
#undef Q
    CHECK(base != NULL);
    const char *seen[sizeof differ / sizeof differ[0]] = {0};
    for (size_t i = 0; base && i < sizeof same / sizeof same[0]; i++) {
        charter *c = load_text(same[i]);
        CHECK(c != NULL);
        if (c && strcmp(c->version, base->version) != 0)
            fprintf(stderr, "  same %zu: %s\n  base: %s\n", i, c->canonical, base->canonical);
        CHECK(c && strcmp(c->version, base->version) == 0);
        ch_charter_free(c);
    }
    charter *kept[sizeof differ / sizeof differ[0]] = {0};
    for (size_t i = 0; base && i < sizeof differ / sizeof differ[0]; i++) {
        charter *c = kept[i] = load_text(differ[i]);
        CHECK(c != NULL);
        if (!c)
            continue;
        seen[i] = c->version;
        if (strcmp(c->version, base->version) == 0)
            fprintf(stderr, "  variant %zu has the base's version\n", i);
        CHECK(strcmp(c->version, base->version) != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(!seen[j] || strcmp(seen[j], c->version) != 0);
    }
    if (kept[6])
        CHECK(strstr(kept[6]->canonical,
                     "\"quorum\":{\"count\":2,\"when\":\"input.amount > 10\"}") != NULL);
    if (kept[1])
        CHECK(strstr(kept[1]->canonical,
                     "\"notify\":[{\"format\":\"webhook\",\"url\":\"https://h.example/x\"},"
                     "{\"format\":\"email\",\"url\":\"mailto:a@h.example\"}]") != NULL);
    if (kept[11])
        CHECK(strstr(kept[11]->canonical,
                     "\"standing_approvals\":{\"max_ms\":28800000}") != NULL);
    if (kept[3])
        CHECK(strstr(kept[3]->canonical, "\"reminders\":[0.5]") != NULL);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        ch_charter_free(kept[i]);
    ch_charter_free(base);
}

static void test_spelling_does_not_change_the_version(void)
{
    charter *a = load_text(BASE "rules: [{id: r, effect: deny, message: m, protects: v,"
                                " when: input.x > 1, actions: [b, a]}]\n"
                                "escalation: {queues: [{id: q, sla: 2h}]}\n");
    charter *b = load_text("# comment\n"
                           "workflows:\n"
                           "  - actions: [b, a]\n"
                           "    autonomy: \"agent-ready\"\n"
                           "    id: w\n"
                           "    owner: o\n"
                           "    default: allow\n"
                           "rules:\n"
                           "  - protects: v\n"
                           "    actions: [a, b]\n"
                           "    when: |\n"
                           "      input.x > 1\n"
                           "    message: 'm'\n"
                           "    effect: deny\n"
                           "    id: r\n"
                           "escalation:\n"
                           "  queues: [{id: q, sla: 120m, on_timeout: deny}]\n"
                           "  default: q\n"
                           "values: [{id: v, statement: S.}, {id: u, statement: U.}]\n"
                           "organization: {name: T}\n");
    CHECK(a && b);
    if (a && b) {
        CHECK_STR(b->canonical, a->canonical);
        CHECK_STR(b->version, a->version);
    }
    ch_charter_free(a);
    ch_charter_free(b);
}

/* Every object's keys in byte order (jansson keeps the text's order). */
static bool keys_sorted(const json_t *j)
{
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (!keys_sorted(json_array_get(j, i)))
                return false;
        }
        return true;
    }
    if (!json_is_object(j))
        return true;
    const char *prev = NULL, *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        if ((prev && strcmp(prev, key) >= 0) || !keys_sorted(v))
            return false;
        prev = key;
    }
    return true;
}

static void test_canonical_json_shape(void)
{
    charter *c = load_path(DATA "good/shop.yaml");
    CHECK(c != NULL);
    if (!c)
        return;
    const char *s = c->canonical;
    json_error_t jerr;
    json_t *j = json_loads(s, 0, &jerr);
    CHECK(j != NULL);
    CHECK(keys_sorted(j));
    json_decref(j);
    CHECK(strncmp(s, "{\"agents\":[", 11) == 0);
    CHECK(!strchr(s, '\n'));
    CHECK_HAS(s, "\"organization\":{\"context\":\"We compete on trust, not on price.\","
                 "\"name\":\"Tiny Shop\",\"purpose\":\"Sell good tea and keep customers "
                 "for years.\"}");
    CHECK_HAS(s, "\"charter\":1,");
    /* Numbers: integers bare, others shortest exact. */
    CHECK_HAS(s, "\"target\":4}");
    CHECK_HAS(s, "\"target\":0.95}");
    CHECK_HAS(s, "\"max_spend_per_day\":1000.5,");
    CHECK_HAS(s, "\"max_actions_per_day\":null");
    /* Defaults filled in. */
    CHECK_HAS(s, "\"autonomy\":\"human-only\",\"default\":\"deny\"");
    CHECK_HAS(s, "\"sla_ms\":14400000");
    CHECK_HAS(s, "\"escalation\":{\"default\":\"leads\"");
    /* Sets sorted, conditions trimmed, values in rank order. */
    CHECK_HAS(s, "\"actions\":[\"issue_refund\",\"lookup_order\"]");
    CHECK_HAS(s, "\"when\":\"input.amount > 200\"");
    CHECK_HAS(s, "\"values\":[{\"id\":\"customer-trust\"");
    CHECK_HAS(s, "\"readiness\":{\"blast_radius\":\"low\",\"evidence\":\"six months of "
                 "shadow mode\",\"reversibility\":\"partially-reversible\",\"volume\":\"120\"}");
    ch_charter_free(c);
}

static void test_strings_are_escaped(void)
{
    charter *c = load_text("organization: {name: \"Q\\\"uote\\\\ \\t tab \\u00e9\"}\n"
                           "values: [{id: v, statement: S.}]\n");
    CHECK(c != NULL);
    if (c) {
        CHECK_HAS(c->canonical, "\"name\":\"Q\\\"uote\\\\ \\t tab \xc3\xa9\"");
        json_t *j = json_loads(c->canonical, 0, NULL);
        CHECK(j != NULL);
        json_decref(j);
    }
    ch_charter_free(c);
}

int main(void)
{
    RUN(test_version_is_sha256_hex);
    RUN(test_split_directory_has_the_same_version);
    RUN(test_loading_twice_gives_the_same_bytes);
    RUN(test_any_change_of_meaning_changes_the_version);
    RUN(test_versions_before_the_queue_policies_stay);
    RUN(test_queue_policy_keys_change_the_version);
    RUN(test_spelling_does_not_change_the_version);
    RUN(test_canonical_json_shape);
    RUN(test_strings_are_escaped);
    return TEST_DONE();
}
