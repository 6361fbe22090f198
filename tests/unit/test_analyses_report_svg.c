/* test_analyses_report_svg.c - the alignment report's SVG picture
 * (src/analyses/report_svg.c), drawn from report JSON written here: the
 * warning band comes before the charts, a chart per metric draws its target
 * dashed or its limits hatched, the bars name their counts, and every name
 * from a charter or a request comes out as inert, escaped text.
 */
#include "test.h"

#include <jansson.h>
#include <stdlib.h>

#include "charter_analyses.h"

static const char *const hostile = "<script>alert(\"x\")</script> & 'q'";

/* A report with one goal, two metrics over two periods, a warning, a rule,
 * a queue and an agent, names taken from `name`. Malloc'd JSON text. */
static char *report_json(const char *name)
{
    json_t *r = json_pack(
        "{s:s, s:s, s:s, s:s, s:[s,s], s:{s:i,s:i,s:i,s:i,s:i,s:i},"
        " s:[{s:s, s:s, s:[{s:s, s:s, s:f, s:s, s:[{s:s,s:f,s:s},{s:s,s:f,s:s}], s:s},"
        "                  {s:s, s:s, s:f, s:n, s:[{s:s,s:f,s:s},{s:s,s:f,s:s}], s:s}]}],"
        " s:[{s:s, s:s, s:s, s:[{s:s,s:i}], s:[s]}],"
        " s:[{s:s, s:i, s:i, s:i, s:i, s:i}],"
        " s:[{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i}],"
        " s:[{s:s, s:b, s:i, s:i, s:i, s:i}]}",
        "analysis", "report", "organization", name, "charter_version", "sha256:00", "by", "day",
        "periods", "2026-11-01", "2026-11-02",
        "totals", "decisions", 10, "allow", 6, "escalate", 3, "deny", 1, "resolutions", 2,
        "outcomes", 4,
        "goals", "id", name, "objective", name, "metrics",
        "metric", name, "role", "outcome", "target", 4.0, "direction", "decrease", "series",
        "period", "2026-11-01", "value", 6.0, "status", "missed",
        "period", "2026-11-02", "value", 3.0, "status", "met", "trend", "improving",
        "metric", "csat", "role", "health", "min", 4.3, "max", "series",
        "period", "2026-11-01", "value", 4.6, "status", "within",
        "period", "2026-11-02", "value", 4.1, "status", "breached", "trend", "degrading",
        "warnings", "goal", name, "message", name, "outcome", name, "agents", "agent", name,
        "decisions", 10, "workflows", name,
        "queues", "queue", name, "escalated", 3, "approved", 1, "denied", 1, "timed_out", 1,
        "open", 0,
        "rules", "rule", name, "kind", "rule", "fired", 3, "escalated", 3, "approved", 1,
        "denied", 1, "timed_out", 1, "open", 0,
        "agents", "agent", name, "registered", 0, "decisions", 10, "allow", 6, "escalate", 3,
        "deny", 1);
    if (!r)
        return NULL;
    char *s = json_dumps(r, JSON_PRESERVE_ORDER);
    json_decref(r);
    return s;
}

static char *render(const char *name)
{
    char *json = report_json(name), *svg = NULL;
    CHECK(json != NULL);
    if (!json)
        return NULL;
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_SVG, &svg, NULL),
              CHARTER_OK);
    free(json);
    return svg;
}

static void test_warning_band_comes_before_the_charts(void)
{
    char *svg = render("fast-and-kind");
    CHECK_HAS(svg, "<title id=\"report-title\">Alignment report: fast-and-kind</title>");
    CHECK_HAS(svg, "<desc id=\"report-desc\">WARNING: fast-and-kind. ");
    CHECK_HAS(svg, "WARNING: outcome improving while health degrades (1)</text>");
    const char *band = svg ? strstr(svg, "fill=\"#a50e0e\"") : NULL;
    const char *goals = svg ? strstr(svg, "Goals: outcomes against targets") : NULL;
    CHECK(band && goals && band < goals);
    free(svg);
}

static void test_target_dashed_limits_hatched_points_by_status(void)
{
    char *svg = render("fast-and-kind");
    CHECK_HAS(svg, "stroke-dasharray=\"8 5\"");
    CHECK_HAS(svg, ">target 4 (decrease)</text>");
    CHECK_HAS(svg, "fill=\"url(#out-of-bounds)\"");
    CHECK_HAS(svg, ">min 4.3 (out of bounds below)</text>");
    CHECK_HAS(svg, "<title>2026-11-02: 4.1 (breached)</title></path>");
    CHECK_HAS(svg, "<title>2026-11-01: 4.6 (within)</title></circle>");
    CHECK_HAS(svg, ">3 escalated: 33 % overruled, 33 % confirmed</text>");
    CHECK_HAS(svg, ">10 decisions: 6 allow, 3 escalate, 1 deny</text>");
    CHECK_HAS(svg, "fast-and-kind (NOT registered)");
    free(svg);
}

static void test_same_json_same_picture(void)
{
    char *a = render("fast-and-kind"), *b = render("fast-and-kind");
    CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);
}

/* Every hostile name is escaped: no tag, no quote or ampersand breaks out. */
static void test_hostile_names_are_escaped(void)
{
    char *svg = render(hostile);
    CHECK(svg != NULL);
    if (!svg)
        return;
    CHECK(!strstr(svg, "<script"));
    CHECK(!strstr(svg, "\"x\""));
    CHECK(!strstr(svg, "& "));
    CHECK(!strstr(svg, "'q'"));
    CHECK_HAS(svg, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;");
    CHECK_HAS(svg, "<title id=\"report-title\">Alignment report: &lt;script&gt;");
    /* Every '&' starts one of the five entities. */
    for (const char *p = strchr(svg, '&'); p; p = strchr(p + 1, '&'))
        CHECK(!strncmp(p, "&lt;", 4) || !strncmp(p, "&gt;", 4) || !strncmp(p, "&amp;", 5) ||
              !strncmp(p, "&quot;", 6) || !strncmp(p, "&#39;", 5));
    free(svg);
}

static void test_control_characters_become_spaces(void)
{
    char *svg = render("a\x01" "b\x1b" "c");
    CHECK_HAS(svg, "Alignment report: a b c</title>");
    free(svg);
}

/* The first metric's two values set to a and b; renders (must end). */
static char *render_values(double a, double b)
{
    char *json = report_json("m"), *svg = NULL;
    json_t *r = json ? json_loads(json, 0, NULL) : NULL;
    free(json);
    json_t *series = json_object_get(json_array_get(json_object_get(
        json_array_get(json_object_get(r, "goals"), 0), "metrics"), 0), "series");
    json_object_set_new(json_array_get(series, 0), "value", json_real(a));
    json_object_set_new(json_array_get(series, 1), "value", json_real(b));
    json = json_dumps(r, JSON_PRESERVE_ORDER);
    json_decref(r);
    CHECK(json != NULL);
    if (json)
        CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_SVG, &svg, NULL),
                  CHARTER_OK);
    free(json);
    return svg;
}

/* Outcome values are reported by agents: extreme ones must neither hang
 * the axis ticks nor put "nan" or "inf" into the picture. */
static void test_extreme_values_are_drawn_or_declined(void)
{
    double cases[][2] = {{1e17, 1e17 + 32}, {-1.7e308, 1.7e308}, {1e-320, 2e-320}, {0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *svg = render_values(cases[i][0], cases[i][1]);
        CHECK(svg != NULL);
        CHECK(svg && !strstr(svg, "nan") && !strstr(svg, "inf"));
        CHECK(svg && strstr(svg, "</svg>"));
        free(svg);
    }
}

static void test_other_analyses_have_no_picture_but_the_map(void)
{
    const char *json = "{\"analysis\":\"consistency\"}";
    char *out = NULL;
    charter_error err;
    CHECK_INT(charter_analysis_render(json, strlen(json), CHARTER_FORMAT_SVG, &out, &err),
              CHARTER_E_INVALID);
    CHECK(out == NULL);
    CHECK_HAS(err.message, "only the readiness map and the alignment report");
}

int main(void)
{
    RUN(test_warning_band_comes_before_the_charts);
    RUN(test_target_dashed_limits_hatched_points_by_status);
    RUN(test_same_json_same_picture);
    RUN(test_hostile_names_are_escaped);
    RUN(test_control_characters_become_spaces);
    RUN(test_extreme_values_are_drawn_or_declined);
    RUN(test_other_analyses_have_no_picture_but_the_map);
    return TEST_DONE();
}
