/* report_print.c - the alignment report as tables (an_report_render; the
 * SVG picture is report_svg.c).
 *
 * Reads the report's JSON (report.c) and prints the headline warnings
 * first, then goals, escalation queues, rules, agents and values.
 */
#include "base/banned.h"

#include "analyses/render.h"

static void num(const json_t *o, const char *key, char buf[32])
{
    an_fmt_num(json_object_get(o, key), buf);
}

/* "41", or "41 (12 by standing approval)" when standing approvals gave some
 * of the approvals in `o`. */
static void approved_cell(const json_t *o, char buf[96])
{
    char n[32];
    num(o, "approved", n);
    long long grants = an_jint(o, "approved_by_grant");
    if (grants > 0)
        snprintf(buf, 96, "%s (%lld by standing approval)", n, grants);
    else
        snprintf(buf, 96, "%s", n);
}

static void print_header(const json_t *r, charter_format fmt, strbuf *out)
{
    const json_t *tot = json_object_get(r, "totals");
    const json_t *periods = json_object_get(r, "periods");
    size_t np = json_array_size(periods);
    strbuf_printf(out, "%sAlignment report: %s\n", fmt == CHARTER_FORMAT_MD ? "# " : "",
                  an_jstr(r, "organization"));
    if (fmt == CHARTER_FORMAT_MD)
        strbuf_puts(out, "\n");
    const char *v = json_string_value(json_object_get(r, "charter_version"));
    strbuf_printf(out, "charter %s; by %s; %zu period%s", v ? v : "(unknown)",
                  an_jstr(r, "by"), np, np == 1 ? "" : "s");
    if (np)
        strbuf_printf(out, " (%s .. %s)", json_string_value(json_array_get(periods, 0)),
                      json_string_value(json_array_get(periods, np - 1)));
    strbuf_puts(out, "\n");
    if (fmt == CHARTER_FORMAT_MD)
        strbuf_puts(out, "\n");
    strbuf_printf(out, "%lld decisions (%lld allow, %lld escalate, %lld deny), "
                  "%lld resolutions, %lld outcome reports\n",
                  an_jint(tot, "decisions"), an_jint(tot, "allow"), an_jint(tot, "escalate"),
                  an_jint(tot, "deny"), an_jint(tot, "resolutions"), an_jint(tot, "outcomes"));
    if (an_jint(tot, "late_resolutions"))
        strbuf_printf(out, "%lld resolutions came after their escalation's deadline or "
                      "for decisions before the report's start; they are not attributed\n",
                      an_jint(tot, "late_resolutions"));
}

static void print_warnings(const json_t *r, charter_format fmt, strbuf *out)
{
    const json_t *ws = json_object_get(r, "warnings"), *w, *x;
    size_t i, k;
    an_heading(out, fmt, json_array_size(ws)
                             ? "WARNING: outcome improving while health degrades"
                             : "Outcome versus health");
    if (!json_array_size(ws))
        strbuf_puts(out, "No goal has an outcome improving while one of its health metrics "
                         "degrades over the same periods.\n");
    json_array_foreach(ws, i, w) {
        if (fmt == CHARTER_FORMAT_MD)
            strbuf_printf(out, "- **%s**\n", an_jstr(w, "message"));
        else
            strbuf_printf(out, "! %s\n", an_jstr(w, "message"));
        strbuf_puts(out, fmt == CHARTER_FORMAT_MD ? "  - workflows: " : "    workflows: ");
        json_array_foreach(json_object_get(w, "workflows"), k, x)
            strbuf_printf(out, "%s%s", k ? ", " : "", json_string_value(x));
        strbuf_puts(out, fmt == CHARTER_FORMAT_MD ? "\n  - agents: " : "\n    agents: ");
        json_array_foreach(json_object_get(w, "agents"), k, x)
            strbuf_printf(out, "%s%s (%lld decisions)", k ? ", " : "", an_jstr(x, "agent"),
                          an_jint(x, "decisions"));
        strbuf_puts(out, "\n");
    }
}

/* "target 4 (decrease)", "min 4.2", "max 0.08", "4.2 .. 5". */
static void limit_text(const json_t *m, char *buf, size_t n)
{
    char a[32], b[32];
    if (!strcmp(an_jstr(m, "role"), "outcome")) {
        num(m, "target", a);
        snprintf(buf, n, "target %s (%s)", a, an_jstr(m, "direction"));
        return;
    }
    num(m, "min", a);
    num(m, "max", b);
    if (json_is_number(json_object_get(m, "min")) && json_is_number(json_object_get(m, "max")))
        snprintf(buf, n, "%s .. %s", a, b);
    else if (json_is_number(json_object_get(m, "min")))
        snprintf(buf, n, "min %s", a);
    else
        snprintf(buf, n, "max %s", b);
}

static void print_goals(const json_t *r, charter_format fmt, strbuf *out)
{
    static const char *const head[] = {"goal", "metric", "role", "target / limit",
                                       "per period (oldest first)", "trend", "last period"};
    an_table t;
    an_table_init(&t, 7, head);
    const json_t *g, *m, *p;
    size_t i, k, j;
    json_array_foreach(json_object_get(r, "goals"), i, g) {
        json_array_foreach(json_object_get(g, "metrics"), k, m) {
            char limit[96], series[512] = "", last[64] = "-";
            limit_text(m, limit, sizeof limit);
            const json_t *s = json_object_get(m, "series");
            size_t n = json_array_size(s), used = 0;
            json_array_foreach(s, j, p) {
                char v[32];
                num(p, "value", v);
                int w = snprintf(series + used, sizeof series - used, "%s%s",
                                 j ? " " : "", v);
                if (w < 0 || (size_t)w >= sizeof series - used)
                    break;
                used += (size_t)w;
            }
            if (n) {
                const json_t *lp = json_array_get(s, n - 1);
                snprintf(last, sizeof last, "%s %s", an_jstr(lp, "period"),
                         an_jstr(lp, "status"));
            }
            const char *row[] = {an_jstr(g, "id"), an_jstr(m, "metric"), an_jstr(m, "role"),
                                 limit, n ? series : "-", an_jstr(m, "trend"), last};
            an_table_row(&t, row);
        }
    }
    an_heading(out, fmt, "Goals: outcomes against targets, health against limits");
    an_table_print(&t, fmt, out);
    an_table_release(&t);
}

static void print_escalations(const json_t *r, const char *list, const char *key,
                              charter_format fmt, strbuf *out)
{
    bool rules = !strcmp(list, "rules");
    static const char *const qhead[] = {"queue", "escalated", "approved", "denied", "timed out",
                                        "open", "approved %", "mean min", "max min"};
    static const char *const rhead[] = {"rule", "kind", "protects", "fired", "escalated",
                                        "approved", "denied", "timed out", "approved %",
                                        "mean min"};
    an_table t;
    an_table_init(&t, rules ? 10 : 9, rules ? rhead : qhead);
    const json_t *o;
    size_t i;
    json_array_foreach(json_object_get(r, list), i, o) {
        char c[8][32], approved[96];
        num(o, "escalated", c[0]);
        approved_cell(o, approved);
        num(o, "denied", c[2]);
        num(o, "timed_out", c[3]);
        num(o, "open", c[4]);
        an_fmt_pct(json_object_get(o, "approval_rate"), c[5]);
        num(o, "mean_minutes", c[6]);
        num(o, rules ? "fired" : "max_minutes", c[7]);
        const char *protects = json_string_value(json_object_get(o, "protects"));
        const char *qrow[] = {an_jstr(o, key), c[0], approved, c[2], c[3], c[4], c[5], c[6],
                              c[7]};
        const char *rrow[] = {an_jstr(o, key), an_jstr(o, "kind"), protects ? protects : "-",
                              c[7], c[0], approved, c[2], c[3], c[5], c[6]};
        an_table_row(&t, rules ? rrow : qrow);
    }
    an_heading(out, fmt, rules ? "Rules and boundaries: how often they fired, what people did "
                                 "with their escalations"
                               : "Escalation queues: what people did, how long they took");
    if (t.nrows > 1)
        an_table_print(&t, fmt, out);
    else
        strbuf_puts(out, rules ? "No rule fired.\n" : "No escalations.\n");
    an_table_release(&t);
}

static void print_agents(const json_t *r, charter_format fmt, strbuf *out)
{
    static const char *const keys[] = {"decisions", "allow", "escalate", "deny",
                                       "boundary_hits", "stop_rule_hits", "shadow",
                                       "approved", "denied", "timed_out"};
    static const char *const head[] = {"agent", "registered", "decisions", "allow", "escalate",
                                       "deny", "boundary hits", "stop-rule hits", "shadow",
                                       "approved", "denied", "timed out"};
    an_table t;
    an_table_init(&t, 12, head);
    const json_t *o;
    size_t i;
    json_array_foreach(json_object_get(r, "agents"), i, o) {
        char c[10][32], approved[96];
        const char *row[12] = {an_jstr(o, "agent"),
                               json_is_true(json_object_get(o, "registered")) ? "yes" : "NO"};
        for (int k = 0; k < 10; k++) {
            num(o, keys[k], c[k]);
            row[k + 2] = c[k];
        }
        approved_cell(o, approved);
        row[9] = approved;
        an_table_row(&t, row);
    }
    an_heading(out, fmt, "Agents: decision mix, boundary and stop-rule hits, shadow activity");
    if (t.nrows > 1)
        an_table_print(&t, fmt, out);
    else
        strbuf_puts(out, "No decisions.\n");
    an_table_release(&t);
}

static void print_values(const json_t *r, charter_format fmt, strbuf *out)
{
    static const char *const keys[] = {"rank", "fired", "escalated", "overruled", "upheld",
                                       "timed_out"};
    static const char *const head[] = {"value", "rank", "rules fired", "escalated",
                                       "overruled (approved)", "upheld (denied)", "timed out",
                                       "overruled %"};
    an_table t;
    an_table_init(&t, 8, head);
    const json_t *o;
    size_t i;
    json_array_foreach(json_object_get(r, "values"), i, o) {
        char c[7][32];
        const char *row[8] = {an_jstr(o, "value")};
        for (int k = 0; k < 6; k++) {
            num(o, keys[k], c[k]);
            row[k + 1] = c[k];
        }
        an_fmt_pct(json_object_get(o, "overrule_rate"), c[6]);
        row[7] = c[6];
        an_table_row(&t, row);
    }
    an_heading(out, fmt, "Values: rules protecting them, and how often people overruled them");
    an_table_print(&t, fmt, out);
    an_table_release(&t);
}

charter_status an_report_render(const json_t *r, charter_format fmt, strbuf *out)
{
    if (fmt == CHARTER_FORMAT_SVG)
        return an_report_svg(r, out);
    print_header(r, fmt, out);
    print_warnings(r, fmt, out);
    print_goals(r, fmt, out);
    print_escalations(r, "queues", "queue", fmt, out);
    print_escalations(r, "rules", "rule", fmt, out);
    print_agents(r, fmt, out);
    print_values(r, fmt, out);
    return out->failed ? CHARTER_E_NOMEM : CHARTER_OK;
}
