/* test_analyses_report.c - the alignment report over a ledger built here
 * with known answers (analyses_planted.h): the planted degrading health
 * metric is found and named with its goal, periods, workflows and agents;
 * escalations, agents and values are counted exactly; the window and the
 * period length are honoured; every rendering says the same.
 *
 * `test_analyses_report --write PATH` writes the planted ledger to PATH
 * (how tests/data/analyses/planted.ledger was made).
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "analyses_planted.h"
#include "charter_analyses.h"

static char dir[256], ledger[512];
static charter *planted;

static json_t *report(const charter *c, const charter_report_options *o)
{
    char *out = NULL;
    charter_error err;
    charter_status s = charter_report(ledger, c, o, &out, &err);
    CHECK_INT(s, CHARTER_OK);
    if (s != CHARTER_OK) {
        fprintf(stderr, "report: %s\n", err.message);
        return NULL;
    }
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    CHECK(j != NULL);
    return j;
}

/* The object in array `list` whose `key` is `value`. */
static json_t *find(json_t *list, const char *key, const char *value)
{
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
        if (json_string_value(json_object_get(x, key)) &&
            !strcmp(json_string_value(json_object_get(x, key)), value))
            return x;
    return NULL;
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static double real(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static void test_degrading_health_is_the_headline_warning(void)
{
    json_t *r = report(planted, NULL);
    json_t *ws = json_object_get(r, "warnings");
    CHECK_INT(json_array_size(ws), 1); /* csat degrades; repeat_rate is steady */
    json_t *w = json_array_get(ws, 0);
    CHECK_STR(json_string_value(json_object_get(w, "goal")), "fast-and-kind");
    CHECK_STR(json_string_value(json_object_get(w, "outcome")), "resolution_hours");
    CHECK_STR(json_string_value(json_object_get(w, "health")), "csat");
    CHECK_STR(json_string_value(json_object_get(w, "from")), "2026-11-02");
    CHECK_STR(json_string_value(json_object_get(w, "to")), "2026-11-05");
    CHECK(real(w, "outcome_first") == 6 && real(w, "outcome_last") == 3);
    CHECK(real(w, "health_first") == 4.6 && real(w, "health_last") == 4.0);
    CHECK(json_is_true(json_object_get(w, "breached")));
    json_t *wf = json_object_get(w, "workflows");
    CHECK_INT(json_array_size(wf), 1);
    CHECK_STR(json_string_value(json_array_get(wf, 0)), "refunds");
    json_t *ag = json_object_get(w, "agents");
    CHECK_INT(json_array_size(ag), 1); /* ghost-bot's requests are not the workflow's */
    CHECK_STR(json_string_value(json_object_get(json_array_get(ag, 0), "agent")), "support-bot");
    CHECK_INT(num(json_array_get(ag, 0), "decisions"), 120);
    json_decref(r);
}

static void test_metrics_per_period_with_status_and_trend(void)
{
    json_t *r = report(planted, NULL);
    json_t *g = find(json_object_get(r, "goals"), "id", "fast-and-kind");
    json_t *csat = find(json_object_get(g, "metrics"), "metric", "csat");
    json_t *series = json_object_get(csat, "series");
    CHECK_INT(json_array_size(series), 4);
    CHECK_STR(json_string_value(json_object_get(json_array_get(series, 2), "status")), "within");
    CHECK_STR(json_string_value(json_object_get(json_array_get(series, 3), "status")), "breached");
    CHECK_STR(json_string_value(json_object_get(csat, "trend")), "degrading");
    json_t *res = find(json_object_get(g, "metrics"), "metric", "resolution_hours");
    CHECK_STR(json_string_value(json_object_get(res, "trend")), "improving");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(res, "series"), 0),
                                                "status")), "missed");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(res, "series"), 3),
                                                "status")), "met");
    json_t *rep = find(json_object_get(g, "metrics"), "metric", "repeat_rate");
    CHECK_STR(json_string_value(json_object_get(rep, "trend")), "steady");
    CHECK_INT(json_array_size(json_object_get(r, "periods")), 4);
    json_decref(r);
}

static void test_escalations_per_queue_and_rule(void)
{
    json_t *r = report(planted, NULL);
    json_t *leads = find(json_object_get(r, "queues"), "queue", "leads");
    CHECK_INT(num(leads, "escalated"), 32);
    CHECK_INT(num(leads, "approved"), 16);
    CHECK_INT(num(leads, "denied"), 8);
    CHECK_INT(num(leads, "timed_out"), 8);
    CHECK_INT(num(leads, "open"), 0);
    CHECK(real(leads, "mean_minutes") == 40); /* (16 x 30 + 8 x 60) / 24 */
    CHECK(real(leads, "max_minutes") == 60);
    json_t *an = find(json_object_get(r, "queues"), "queue", "analysts");
    CHECK_INT(num(an, "escalated"), 40);
    CHECK_INT(num(an, "approved"), 39);
    CHECK(real(an, "approval_rate") == 39.0 / 40.0);
    json_t *rule = find(json_object_get(r, "rules"), "rule", "large-refund");
    CHECK_INT(num(rule, "fired"), 32);
    CHECK_INT(num(rule, "approved"), 16);
    json_t *cap = find(json_object_get(r, "rules"), "rule", "refund-cap");
    CHECK_STR(json_string_value(json_object_get(cap, "kind")), "boundary");
    CHECK_INT(num(cap, "fired"), 24);
    CHECK_INT(num(cap, "escalated"), 0);
    json_decref(r);
}

static void test_agents_and_values(void)
{
    json_t *r = report(planted, NULL);
    json_t *t = json_object_get(r, "totals");
    CHECK_INT(num(t, "decisions"), 171);
    CHECK_INT(num(t, "allow"), 72);
    CHECK_INT(num(t, "escalate"), 72);
    CHECK_INT(num(t, "deny"), 27);
    CHECK_INT(num(t, "resolutions"), 64);
    CHECK_INT(num(t, "outcomes"), 16);
    json_t *sb = find(json_object_get(r, "agents"), "agent", "support-bot");
    CHECK_INT(num(sb, "decisions"), 120);
    CHECK_INT(num(sb, "allow"), 64);
    CHECK_INT(num(sb, "boundary_hits"), 24);
    CHECK_INT(num(sb, "timed_out"), 8);
    json_t *ghost = find(json_object_get(r, "agents"), "agent", "ghost-bot");
    CHECK(json_is_false(json_object_get(ghost, "registered")));
    CHECK_INT(num(ghost, "shadow"), 3);
    json_t *trust = find(json_object_get(r, "values"), "value", "customer-trust");
    CHECK_INT(num(trust, "rank"), 1);
    CHECK_INT(num(trust, "fired"), 56); /* 32 large-refund + 24 refund-cap */
    CHECK_INT(num(trust, "escalated"), 32);
    CHECK_INT(num(trust, "overruled"), 16);
    CHECK_INT(num(trust, "upheld"), 8);
    json_t *speed = find(json_object_get(r, "values"), "value", "speed");
    CHECK_INT(num(speed, "fired"), 0);
    json_decref(r);
}

static void test_window_and_weeks(void)
{
    charter_report_options o = {.since_ms = PLANTED_DAY0 + 2 * PLANTED_DAY_MS, .until_ms = 0,
                                .by = CHARTER_PERIOD_DAY};
    json_t *r = report(planted, &o);
    CHECK_INT(json_array_size(json_object_get(r, "periods")), 2);
    CHECK_INT(num(json_object_get(r, "totals"), "decisions"), 84); /* 42 a day */
    /* From 4.3 to 4.0 while resolution goes 4 -> 3: still the warning. */
    CHECK_INT(json_array_size(json_object_get(r, "warnings")), 1);
    json_decref(r);
    o.since_ms = INT64_MIN;
    o.by = CHARTER_PERIOD_WEEK;
    r = report(planted, &o);
    json_t *periods = json_object_get(r, "periods");
    CHECK_INT(json_array_size(periods), 1); /* Mon 2 Nov .. Thu 5 Nov: one week */
    CHECK_STR(json_string_value(json_array_get(periods, 0)), "2026-11-02");
    CHECK_INT(json_array_size(json_object_get(r, "warnings")), 0); /* one period: no trend */
    json_decref(r);
}

static void test_charter_recorded_in_the_ledger_is_used(void)
{
    json_t *r = report(NULL, NULL);
    CHECK_STR(json_string_value(json_object_get(r, "organization")), "Planted Shop");
    CHECK_STR(json_string_value(json_object_get(r, "charter_version")), charter_version(planted));
    CHECK_INT(json_array_size(json_object_get(r, "warnings")), 1);
    json_decref(r);
}

static void test_renderings(void)
{
    char *json = NULL, *text = NULL, *md = NULL, *svg = NULL;
    CHECK_INT(charter_report(ledger, planted, NULL, &json, NULL), CHARTER_OK);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_TEXT, &text, NULL),
              CHARTER_OK);
    CHECK_HAS(text, "! goal 'fast-and-kind': outcome 'resolution_hours' improved (6 -> 3) "
                    "while health 'csat' degraded (4.6 -> 4");
    CHECK_HAS(text, "support-bot (120 decisions)");
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_MD, &md, NULL),
              CHARTER_OK);
    CHECK_HAS(md, "| leads | 32 | 16 | 8 | 8 | 0 | 66.7 % | 40 | 60 |");
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_SVG, &svg, NULL),
              CHARTER_OK);
    CHECK(svg && !strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39));
    CHECK_HAS(svg, "WARNING: outcome improving while health degrades (1)");
    CHECK_HAS(svg, "outcome &#39;resolution_hours&#39; improved (6 -&gt; 3)");
    free(svg);
    free(json);
    free(text);
    free(md);
}

/* Approvals by a standing approval are approvals, counted apart per queue,
 * per rule and per agent, and shown beside the approvals in every
 * rendering; a ledger without them shows what it always did. */
static void test_standing_approvals_counted_apart(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/grants.ledger", dir);
    CHECK_INT(planted_grants_write(path, planted), 0);
    char *json = NULL, *text = NULL, *md = NULL, *svg = NULL;
    CHECK_INT(charter_report(path, planted, NULL, &json, NULL), CHARTER_OK);
    json_t *r = json ? json_loads(json, 0, NULL) : NULL;
    json_t *an = find(json_object_get(r, "queues"), "queue", "analysts");
    CHECK_INT(num(an, "escalated"), 10);
    CHECK_INT(num(an, "approved"), 8);
    CHECK_INT(num(an, "approved_by_grant"), 3);
    CHECK_INT(num(an, "denied"), 1);
    CHECK_INT(num(an, "open"), 1);
    CHECK(real(an, "approval_rate") == 8.0 / 9.0);
    json_t *bot = find(json_object_get(r, "agents"), "agent", "disputes-bot");
    CHECK_INT(num(bot, "approved"), 8);
    CHECK_INT(num(bot, "approved_by_grant"), 3);
    json_decref(r);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_TEXT, &text, NULL),
              CHARTER_OK);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_MD, &md, NULL),
              CHARTER_OK);
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_SVG, &svg, NULL),
              CHARTER_OK);
    CHECK_HAS(md, "| analysts | 10 | 8 (3 by standing approval) | 1 | 0 | 1 | 88.9 % |");
    CHECK_HAS(md, "| disputes-bot | yes | 10 | 0 | 10 | 0 | 0 | 0 | 0 | 8 (3 by standing "
                  "approval) | 1 | 0 |");
    CHECK_HAS(text, "8 (3 by standing approval)");
    CHECK_HAS(svg, "10 escalated: 80 % overruled, 10 % confirmed (3 by standing approval)");
    free(json);
    free(text);
    free(md);
    free(svg);
    /* The planted ledger has none: zero in JSON, nothing more in the text. */
    r = report(planted, NULL);
    an = find(json_object_get(r, "queues"), "queue", "analysts");
    CHECK(json_is_integer(json_object_get(an, "approved_by_grant")));
    CHECK_INT(num(an, "approved_by_grant"), 0);
    json_t *rule = find(json_object_get(r, "rules"), "rule", "large-refund");
    CHECK(json_is_integer(json_object_get(rule, "approved_by_grant")));
    json_decref(r);
}

static void test_not_a_ledger(void)
{
    char *out = NULL;
    charter_error err;
    CHECK_INT(charter_report("/nonexistent/ledger", planted, NULL, &out, &err), CHARTER_E_IO);
    CHECK(out == NULL);
}

int main(int argc, char **argv)
{
    planted = planted_load();
    if (argc == 3 && !strcmp(argv[1], "--write")) {
        unlink(argv[2]);
        int rc = planted_ledger_write(argv[2], planted);
        charter_release(planted);
        return rc;
    }
    planted_tmpdir(dir, sizeof dir, "report");
    snprintf(ledger, sizeof ledger, "%s/planted.ledger", dir);
    if (planted_ledger_write(ledger, planted)) {
        fprintf(stderr, "cannot write the planted ledger\n");
        return 1;
    }
    RUN(test_degrading_health_is_the_headline_warning);
    RUN(test_metrics_per_period_with_status_and_trend);
    RUN(test_escalations_per_queue_and_rule);
    RUN(test_agents_and_values);
    RUN(test_window_and_weeks);
    RUN(test_charter_recorded_in_the_ledger_is_used);
    RUN(test_renderings);
    RUN(test_standing_approvals_counted_apart);
    RUN(test_not_a_ledger);
    charter_release(planted);
    if (planted_rmdir(dir))
        return 1;
    return TEST_DONE();
}
