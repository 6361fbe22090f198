/* test_analyses_readiness.c - the readiness map over the planted ledger
 * (analyses_planted.h): an agent-augmented workflow whose escalations people
 * approve is promoted, an agent-ready one with a breached health metric and
 * rising boundary hits steps back, a risky agent-ready one is flagged; the
 * thresholds come from the charter; the SVG has one card per workflow. */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "analyses_planted.h"
#include "charter_analyses.h"

static char dir[256], ledger[512];
static charter *planted;

static json_t *map(const charter *c, const char *path)
{
    char *out = NULL;
    charter_error err;
    charter_status s = charter_readiness_map(c, path, &out, &err);
    CHECK_INT(s, CHARTER_OK);
    if (s != CHARTER_OK)
        return NULL;
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    return j;
}

static json_t *workflow(json_t *m, const char *id)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(m, "workflows"), i, w)
        if (!strcmp(json_string_value(json_object_get(w, "id")), id))
            return w;
    return NULL;
}

static const char *rec(json_t *m, const char *id)
{
    return json_string_value(json_object_get(workflow(m, id), "recommendation"));
}

static void test_recommendations_from_evidence(void)
{
    json_t *m = map(planted, ledger);
    CHECK_STR(rec(m, "disputes"), "promote");
    CHECK_STR(json_string_value(json_object_get(workflow(m, "disputes"), "move_to")), "agent-ready");
    json_t *ev = json_object_get(workflow(m, "disputes"), "evidence");
    CHECK_INT(json_integer_value(json_object_get(ev, "approved")), 39);
    CHECK(json_number_value(json_object_get(ev, "approval_rate")) == 39.0 / 40.0);
    CHECK_STR(rec(m, "refunds"), "step-back");
    ev = json_object_get(workflow(m, "refunds"), "evidence");
    json_t *b = json_object_get(ev, "boundary_hits");
    CHECK_INT(json_integer_value(json_object_get(b, "earlier_hits")), 4);
    CHECK_INT(json_integer_value(json_object_get(b, "later_hits")), 20);
    CHECK(json_is_true(json_object_get(b, "rising")));
    json_t *h = json_array_get(json_object_get(ev, "health"), 0);
    CHECK_STR(json_string_value(json_object_get(h, "metric")), "csat");
    CHECK(json_is_false(json_object_get(h, "within")));
    CHECK_STR(rec(m, "payouts"), "review");
    json_t *flags = json_object_get(workflow(m, "payouts"), "risk_flags");
    CHECK_INT(json_array_size(flags), 2);
    json_t *th = json_object_get(m, "thresholds");
    CHECK_INT(json_integer_value(json_object_get(th, "min_cases")), 20);
    CHECK(json_number_value(json_object_get(th, "promote_approval")) == 0.9);
    json_decref(m);
}

static void test_thresholds_hold_back_promotion(void)
{
    /* The same charter asking for 99 % approval: 97.5 % is not enough. */
    char *yaml = strdup(planted_charter);
    char *p = strstr(yaml, "promote_approval: 0.9}");
    CHECK(p != NULL);
    memcpy(p, "promote_approval: .99", 21);
    charter *c = NULL;
    CHECK_INT(charter_load_string("strict.yaml", yaml, strlen(yaml), &c, NULL), CHARTER_OK);
    json_t *m = map(c, ledger);
    CHECK_STR(rec(m, "disputes"), "keep");
    CHECK_HAS(json_string_value(json_object_get(workflow(m, "disputes"), "reason")),
              "promotion needs 99.0 %");
    json_decref(m);
    charter_release(c);
    free(yaml);
}

static void test_without_a_ledger_nothing_moves(void)
{
    json_t *m = map(planted, NULL);
    CHECK_STR(rec(m, "disputes"), "keep");
    CHECK_STR(rec(m, "refunds"), "keep");
    CHECK_STR(rec(m, "payouts"), "review"); /* attributes alone flag it */
    CHECK(json_is_null(json_object_get(workflow(m, "refunds"), "evidence")));
    json_decref(m);
}

static void test_svg_has_three_columns_and_a_card_each(void)
{
    char *json = NULL, *svg = NULL;
    CHECK_INT(charter_readiness_map(planted, ledger, &json, NULL), CHARTER_OK);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_SVG, &svg, NULL),
              CHARTER_OK);
    CHECK(!strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39));
    CHECK_HAS(svg, ">agent-ready (2)</text>");
    CHECK_HAS(svg, ">agent-augmented (1)</text>");
    CHECK_HAS(svg, ">human-only (0)</text>");
    CHECK_HAS(svg, "fill=\"#e6f4ea\""); /* a promote card */
    CHECK_HAS(svg, "fill=\"#fce8e6\""); /* a step-back card */
    size_t cards = 0;
    for (const char *p = svg; (p = strstr(p, "rx=\"8\"")); p++)
        cards++;
    CHECK_INT(cards, 3);
    CHECK_HAS(svg, "</svg>\n");
    free(svg);
    free(json);
}

/* Approvals by a standing approval count as approvals (the share is of
 * all approvals) and are shown apart, in JSON, text and SVG. */
static void test_standing_approvals_counted_apart(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/grants.ledger", dir);
    CHECK_INT(planted_grants_write(path, planted), 0);
    json_t *m = map(planted, path);
    json_t *ev = json_object_get(workflow(m, "disputes"), "evidence");
    CHECK_INT(json_integer_value(json_object_get(ev, "approved")), 8);
    CHECK_INT(json_integer_value(json_object_get(ev, "approved_by_grant")), 3);
    CHECK_INT(json_integer_value(json_object_get(ev, "denied")), 1);
    CHECK_INT(json_integer_value(json_object_get(ev, "open")), 1);
    CHECK(json_number_value(json_object_get(ev, "approval_rate")) == 8.0 / 9.0);
    ev = json_object_get(workflow(m, "refunds"), "evidence");
    CHECK(json_is_integer(json_object_get(ev, "approved_by_grant")));
    CHECK_INT(json_integer_value(json_object_get(ev, "approved_by_grant")), 0);
    char *json = json_dumps(m, 0), *text = NULL, *svg = NULL;
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_TEXT, &text, NULL),
              CHARTER_OK);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_SVG, &svg, NULL),
              CHARTER_OK);
    CHECK_HAS(text, "10 decisions, 10 escalations (88.9 % approved, 3 of 8 by standing "
                    "approval)");
    CHECK_HAS(svg, ">10 decisions, 10 escalations, 88.9 % approved</text>");
    CHECK_HAS(svg, ">3 of 8 by standing approval; boundary hits 0 -&gt; 0</text>");
    free(text);
    free(svg);
    free(json);
    json_decref(m);
    /* Without standing approvals the text stays as it was. */
    m = map(planted, ledger);
    json = json_dumps(m, 0);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_TEXT, &text, NULL),
              CHARTER_OK);
    CHECK(strstr(text, "standing approval") == NULL);
    CHECK_HAS(text, "(97.5 % approved)");
    free(text);
    free(json);
    json_decref(m);
}

static void test_readiness_section_is_checked(void)
{
    static const char bad[] =
        "organization: {name: X}\n"
        "values: [{id: v, statement: s}]\n"
        "readiness: {promote_approval: 95}\n";
    charter *c = NULL;
    charter_error err;
    CHECK_INT(charter_load_string("bad.yaml", bad, strlen(bad), &c, &err), CHARTER_E_SCHEMA);
    CHECK_HAS(err.message, "expected a number from 0 to 1, found 95");
    static const char unknown[] =
        "organization: {name: X}\n"
        "values: [{id: v, statement: s}]\n"
        "readiness: {min_case: 5}\n";
    CHECK_INT(charter_load_string("bad.yaml", unknown, strlen(unknown), &c, &err), CHARTER_E_SCHEMA);
    CHECK_HAS(err.message, "min_case");
}

int main(void)
{
    planted = planted_load();
    planted_tmpdir(dir, sizeof dir, "map");
    snprintf(ledger, sizeof ledger, "%s/planted.ledger", dir);
    if (planted_ledger_write(ledger, planted))
        return 1;
    RUN(test_recommendations_from_evidence);
    RUN(test_thresholds_hold_back_promotion);
    RUN(test_without_a_ledger_nothing_moves);
    RUN(test_svg_has_three_columns_and_a_card_each);
    RUN(test_standing_approvals_counted_apart);
    RUN(test_readiness_section_is_checked);
    charter_release(planted);
    if (planted_rmdir(dir))
        return 1;
    return TEST_DONE();
}
