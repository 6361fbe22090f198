/* map_print.c - the readiness map as a table, Markdown or an SVG picture
 * (an_map_render): three columns (agent-ready, agent-augmented,
 * human-only), one card per workflow, colored by recommendation. */
#include "base/banned.h"

#include "analyses/render.h"

static const char *const classes[] = {"agent-ready", "agent-augmented", "human-only"};

/* "reversibility=irreversible, volume=300" */
static void attrs_text(const json_t *w, char *buf, size_t n)
{
    const char *k;
    json_t *v;
    size_t used = 0;
    buf[0] = '\0';
    json_object_foreach(json_object_get(w, "attributes"), k, v) {
        int m = snprintf(buf + used, n - used, "%s%s=%s", used ? ", " : "", k,
                         json_string_value(v) ? json_string_value(v) : "");
        if (m < 0 || (size_t)m >= n - used)
            break;
        used += (size_t)m;
    }
}

/* ", 12 of 39 by standing approval" when standing approvals approved any
 * (approvals one by one are the rest); "" otherwise. */
static void by_grant_text(const json_t *ev, char *buf, size_t n)
{
    long long grants = an_jint(ev, "approved_by_grant");
    buf[0] = '\0';
    if (grants > 0)
        snprintf(buf, n, ", %lld of %lld by standing approval", grants,
                 an_jint(ev, "approved"));
}

/* "120 decisions, 40 escalations, 97.5 % approved, boundary hits 2 -> 9,
 *  csat 4.1 breached" */
static void evidence_text(const json_t *w, char *buf, size_t n)
{
    const json_t *ev = json_object_get(w, "evidence");
    if (!json_is_object(ev)) {
        snprintf(buf, n, "-");
        return;
    }
    char pct[32], grants[64];
    an_fmt_pct(json_object_get(ev, "approval_rate"), pct);
    by_grant_text(ev, grants, sizeof grants);
    const json_t *b = json_object_get(ev, "boundary_hits");
    int used = snprintf(buf, n, "%lld decisions, %lld escalations (%s approved%s), boundary "
                        "hits %lld/%lld -> %lld/%lld", an_jint(ev, "decisions"),
                        an_jint(ev, "escalated"), pct, grants, an_jint(b, "earlier_hits"),
                        an_jint(b, "earlier_decisions"), an_jint(b, "later_hits"),
                        an_jint(b, "later_decisions"));
    const json_t *h;
    size_t i;
    json_array_foreach(json_object_get(ev, "health"), i, h) {
        if (used < 0 || (size_t)used >= n)
            return;
        char v[32];
        an_fmt_num(json_object_get(h, "value"), v);
        bool own = !strcmp(an_jstr(h, "scope"), "this workflow");
        used += snprintf(buf + used, n - (size_t)used, ", %s %s %s%s", an_jstr(h, "metric"), v,
                         json_is_true(json_object_get(h, "within")) ? "within" : "BREACHED",
                         own ? "" : " (all workflows)");
    }
}

static void print_thresholds(const json_t *r, strbuf *out)
{
    const json_t *th = json_object_get(r, "thresholds");
    strbuf_printf(out, "thresholds%s: promote at %.1f %% approved over at least %lld "
                  "escalations; step back when boundary hits rise %gx or a health limit is "
                  "breached\n", json_is_true(json_object_get(th, "from_charter"))
                                  ? " (from the charter)" : " (defaults)",
                  100 * json_number_value(json_object_get(th, "promote_approval")),
                  an_jint(th, "min_cases"),
                  json_number_value(json_object_get(th, "boundary_rise")));
}

static void print_table(const json_t *r, charter_format fmt, strbuf *out)
{
    static const char *const head[] = {"class", "workflow", "department", "attributes",
                                       "risk flags", "evidence", "recommendation", "why"};
    strbuf_printf(out, "%sReadiness map: %s\n\n", fmt == CHARTER_FORMAT_MD ? "# " : "",
                  an_jstr(r, "organization"));
    print_thresholds(r, out);
    strbuf_puts(out, "\n");
    an_table t;
    an_table_init(&t, 8, head);
    for (int c = 0; c < 3; c++) {
        const json_t *w;
        size_t i;
        json_array_foreach(json_object_get(r, "workflows"), i, w) {
            if (strcmp(an_jstr(w, "autonomy"), classes[c]))
                continue;
            char attrs[512], flags[256], ev[1024], rec[64];
            attrs_text(w, attrs, sizeof attrs);
            an_join(json_object_get(w, "risk_flags"), flags, sizeof flags);
            evidence_text(w, ev, sizeof ev);
            const char *to = json_string_value(json_object_get(w, "move_to"));
            snprintf(rec, sizeof rec, "%s%s%s", an_jstr(w, "recommendation"), to ? " -> " : "",
                     to ? to : "");
            const char *dept = json_string_value(json_object_get(w, "department"));
            const char *row[] = {classes[c], an_jstr(w, "id"), dept ? dept : "-",
                                 *attrs ? attrs : "-", *flags ? flags : "-", ev, rec,
                                 an_jstr(w, "reason")};
            an_table_row(&t, row);
        }
    }
    an_table_print(&t, fmt, out);
    an_table_release(&t);
}

/* ---- SVG ------------------------------------------------------------------- */

typedef struct palette {
    const char *name, *fill, *stroke;
} palette;

static const palette colors[] = {
    {"promote", "#e6f4ea", "#1e8e3e"},
    {"step-back", "#fce8e6", "#d93025"},
    {"review", "#fef7e0", "#f29900"},
    {"keep", "#f1f3f4", "#80868b"},
};

static const palette *color_of(const char *rec)
{
    for (size_t i = 0; i < sizeof colors / sizeof colors[0]; i++)
        if (!strcmp(colors[i].name, rec))
            return &colors[i];
    return &colors[3];
}

enum { COL_W = 360, GAP = 24, CARD_H = 128, TOP = 96, MARGIN = 24, LINE = 56 };

/* The evidence on a card, in two short lines: the decisions and what people
 * did, then the approvals by standing approval (when any), boundary hits and
 * the health metrics past their limits. */
static void card_evidence(const json_t *w, char *l1, char *l2, size_t n)
{
    const json_t *ev = json_object_get(w, "evidence"), *b, *h;
    if (!json_is_object(ev)) {
        snprintf(l1, n, "no ledger: no evidence");
        l2[0] = '\0';
        return;
    }
    char pct[32], grants[64];
    an_fmt_pct(json_object_get(ev, "approval_rate"), pct);
    by_grant_text(ev, grants, sizeof grants);
    snprintf(l1, n, "%lld decisions, %lld escalations, %s approved", an_jint(ev, "decisions"),
             an_jint(ev, "escalated"), pct);
    b = json_object_get(ev, "boundary_hits");
    /* grants is ", N of M by standing approval" or "". */
    int used = snprintf(l2, n, "%s%sboundary hits %lld -> %lld%s", *grants ? grants + 2 : "",
                        *grants ? "; " : "", an_jint(b, "earlier_hits"),
                        an_jint(b, "later_hits"),
                        json_is_true(json_object_get(b, "rising")) ? " (rising)" : "");
    size_t i;
    json_array_foreach(json_object_get(ev, "health"), i, h) {
        if (used < 0 || (size_t)used >= n)
            return;
        if (!json_is_true(json_object_get(h, "within")))
            used += snprintf(l2 + used, n - (size_t)used, ", %s breached",
                             an_jstr(h, "metric"));
    }
}

static void svg_line(strbuf *out, int x, int y, const char *style, const char *text,
                     size_t max_chars)
{
    strbuf_printf(out, "<text x=\"%d\" y=\"%d\" %s>", x, y, style);
    an_xml_text(out, text, max_chars);
    strbuf_puts(out, "</text>\n");
}

static void svg_card(strbuf *out, const json_t *w, int x, int y)
{
    const palette *p = color_of(an_jstr(w, "recommendation"));
    strbuf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"8\" "
                  "fill=\"%s\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                  x, y, COL_W, CARD_H - 12, p->fill, p->stroke);
    char line[1024], line2[1024], rec[64];
    svg_line(out, x + 12, y + 22, "font-size=\"15\" font-weight=\"bold\"", an_jstr(w, "id"),
             28);
    const char *to = json_string_value(json_object_get(w, "move_to"));
    snprintf(rec, sizeof rec, "%s%s%s", an_jstr(w, "recommendation"),
             to ? " \xE2\x86\x92 " : "", to ? to : "");
    strbuf_printf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" font-weight=\"bold\" "
                  "text-anchor=\"end\" fill=\"%s\">", x + COL_W - 12, y + 22, p->stroke);
    an_xml_text(out, rec, 40);
    strbuf_puts(out, "</text>\n");
    const char *dept = json_string_value(json_object_get(w, "department"));
    const char *owner = json_string_value(json_object_get(w, "owner"));
    snprintf(line, sizeof line, "%s%s%s", dept ? dept : "no department",
             owner ? " \xC2\xB7 " : "", owner ? owner : "");
    svg_line(out, x + 12, y + 40, "font-size=\"11\" fill=\"#5f6368\"", line, LINE);
    attrs_text(w, line, sizeof line);
    svg_line(out, x + 12, y + 57, "font-size=\"11\"", *line ? line : "no readiness attributes",
             LINE);
    card_evidence(w, line, line2, sizeof line);
    svg_line(out, x + 12, y + 74, "font-size=\"11\"", line, LINE);
    if (*line2)
        svg_line(out, x + 12, y + 90, "font-size=\"11\"", line2, LINE);
    svg_line(out, x + 12, y + 107, "font-size=\"11\" font-style=\"italic\" fill=\"#3c4043\"",
             an_jstr(w, "reason"), LINE);
}

static void print_svg(const json_t *r, strbuf *out)
{
    int count[3] = {0, 0, 0}, most = 1;
    const json_t *w;
    size_t i;
    json_array_foreach(json_object_get(r, "workflows"), i, w)
        for (int c = 0; c < 3; c++)
            count[c] += !strcmp(an_jstr(w, "autonomy"), classes[c]);
    for (int c = 0; c < 3; c++)
        most = count[c] > most ? count[c] : most;
    int width = 2 * MARGIN + 3 * COL_W + 2 * GAP, height = TOP + most * CARD_H + 56;
    strbuf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\">\n",
                  width, height, width, height);
    strbuf_printf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height);
    strbuf_puts(out, "<text x=\"24\" y=\"36\" font-size=\"22\" font-weight=\"bold\">");
    an_xml_text(out, "Workflow readiness: ", 40);
    an_xml_text(out, an_jstr(r, "organization"), 60);
    strbuf_puts(out, "</text>\n");
    for (int c = 0; c < 3; c++) {
        int x = MARGIN + c * (COL_W + GAP), y = TOP;
        strbuf_printf(out, "<text x=\"%d\" y=\"%d\" font-size=\"16\" font-weight=\"bold\" "
                      "fill=\"#202124\">%s (%d)</text>\n", x, TOP - 16, classes[c], count[c]);
        json_array_foreach(json_object_get(r, "workflows"), i, w) {
            if (strcmp(an_jstr(w, "autonomy"), classes[c]))
                continue;
            svg_card(out, w, x, y);
            y += CARD_H;
        }
    }
    int lx = MARGIN, ly = height - 24;
    for (size_t k = 0; k < sizeof colors / sizeof colors[0]; k++) {
        strbuf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" rx=\"3\" "
                      "fill=\"%s\" stroke=\"%s\" stroke-width=\"2\"/>\n"
                      "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n",
                      lx, ly - 12, colors[k].fill, colors[k].stroke, lx + 20, ly,
                      colors[k].name);
        lx += 120;
    }
    strbuf_puts(out, "</svg>\n");
}

charter_status an_map_render(const json_t *r, charter_format fmt, strbuf *out)
{
    if (fmt == CHARTER_FORMAT_SVG)
        print_svg(r, out);
    else
        print_table(r, fmt, out);
    return out->failed ? CHARTER_E_NOMEM : CHARTER_OK;
}
