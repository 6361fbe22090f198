/* report_svg.c - the alignment report as one SVG picture (an_report_svg),
 * for the console's alignment page, e-mail and slides.
 *
 * Drawn from the report's JSON (report.c), like every renderer, top to
 * bottom: the warnings (an outcome improving while a health metric of the
 * same goal degrades) in a red band; per goal one line chart per metric over
 * the report's periods, with its target as a dashed line or its limits with
 * the out-of-bounds side hatched; per rule and per queue how people resolved
 * the escalations (overruled, confirmed, timed out, open) as horizontal
 * bars; per agent its decision mix as stacked bars. 1280 units wide.
 *
 * Nothing is told by colour alone: point shapes differ by status, segments
 * carry their names in legends and their counts in words. Every text from
 * the JSON goes through an_xml_text. No script, no external reference, and
 * the output depends only on the JSON (a CLI case compares it byte for byte).
 */
#include "base/banned.h"

#include "analyses/render.h"

#include <math.h>

enum {
    WIDTH = 1280,
    MARGIN = 24,
    CHART_W = 604,             /* two charts a row: 24 + 604 + 24 + 604 + 24 */
    CHART_H = 260,
    PLOT_LEFT = 72,            /* room for the y tick labels and axis title */
    PLOT_TOP = 58,
    PLOT_RIGHT = 28,
    PLOT_BOTTOM = 48,
    BAR_LABEL_W = 330,         /* the name column left of the bars */
    BAR_W = 560,
    ROW_H = 30,
};

/* Colours, each with white text at a contrast of 4.5:1 or more, except
 * OPEN and the pale fills, which carry dark text. */
#define C_TEXT "#202124"
#define C_MUTED "#3c4043"
#define C_GRID "#dadce0"
#define C_WARN "#a50e0e"
#define C_GOOD "#137333"
#define C_BAD "#c5221f"
#define C_TARGET "#1967d2"
#define C_AMBER "#b06000"
#define C_OVERRULED "#8430ce"
#define C_TIMEOUT "#5f6368"
#define C_OPEN "#dadce0"

/* ---- Text ----------------------------------------------------------------- */

/* <text x y ATTRS>escaped s</text> */
static void text_at(strbuf *out, double x, double y, const char *attrs, const char *s,
                    size_t max_chars)
{
    strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y, attrs);
    an_xml_text(out, s, max_chars);
    strbuf_puts(out, "</text>\n");
}

/* Numbers as the tables print them ("4.2", "0.09", "32"). */
static void fmt_double(double d, char buf[32])
{
    json_t *v = json_real(d);
    an_fmt_num(v, buf);
    json_decref(v);
    if (!v)
        snprintf(buf, 32, "%g", d);
}

static void fmt_pct_of(long long part, long long whole, char buf[32])
{
    if (whole <= 0)
        snprintf(buf, 32, "-");
    else
        snprintf(buf, 32, "%.0f %%", 100.0 * (double)part / (double)whole);
}

/* Splits s into lines of at most `width` characters at spaces (a longer
 * word is cut), at most `max_lines` lines, the last cut with an ellipsis.
 * Each line is written by text_at, `step` apart; returns the lines drawn. */
static int wrapped_text(strbuf *out, double x, double y, double step, const char *attrs,
                        const char *s, size_t width, int max_lines)
{
    int lines = 0;
    char line[1024];
    while (*s && lines < max_lines) {
        size_t bytes = 0, chars = 0, cut = 0;
        while (s[bytes] && chars < width) {
            if (((unsigned char)s[bytes] & 0xC0) != 0x80)
                chars++;
            bytes++;
            while (((unsigned char)s[bytes] & 0xC0) == 0x80)
                bytes++;
            if (s[bytes] == ' ')
                cut = bytes;
        }
        if (!s[bytes] || lines + 1 == max_lines || !cut)
            cut = bytes;
        if (cut >= sizeof line)
            cut = sizeof line - 1;
        memcpy(line, s, cut);
        line[cut] = '\0';
        bool last = lines + 1 == max_lines && s[cut];
        strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" %s>", x, y + step * lines, attrs);
        an_xml_text(out, line, width);
        if (last)
            strbuf_puts(out, "\xE2\x80\xA6");
        strbuf_puts(out, "</text>\n");
        lines++;
        s += cut;
        while (*s == ' ')
            s++;
    }
    return lines;
}

static void legend_box(strbuf *out, double x, double y, const char *fill, const char *label)
{
    strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" rx=\"2\" "
                  "fill=\"%s\" stroke=\"" C_TEXT "\" stroke-width=\"0.5\"/>\n",
                  x, y - 11, fill);
    text_at(out, x + 20, y, "font-size=\"12\" fill=\"" C_TEXT "\"", label, 60);
}

static void heading(strbuf *out, double y, const char *title)
{
    text_at(out, MARGIN, y, "font-size=\"19\" font-weight=\"bold\" fill=\"" C_TEXT "\"",
            title, 120);
    strbuf_printf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\""
                  C_GRID "\" stroke-width=\"1\"/>\n", MARGIN, y + 8, WIDTH - MARGIN, y + 8);
}

/* ---- Header and warnings ---------------------------------------------------- */

static double draw_header(const json_t *r, strbuf *out, double y)
{
    char line[512];
    const json_t *periods = json_object_get(r, "periods"), *tot = json_object_get(r, "totals");
    size_t np = json_array_size(periods);
    snprintf(line, sizeof line, "Alignment report: %s", an_jstr(r, "organization"));
    text_at(out, MARGIN, y, "font-size=\"24\" font-weight=\"bold\" fill=\"" C_TEXT "\"", line,
            90);
    const char *v = json_string_value(json_object_get(r, "charter_version"));
    int n = snprintf(line, sizeof line, "charter %s \xC2\xB7 by %s \xC2\xB7 %zu period%s",
                     v ? v : "(unknown)", an_jstr(r, "by"), np, np == 1 ? "" : "s");
    if (np && n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " (%s .. %s)",
                 json_string_value(json_array_get(periods, 0)),
                 json_string_value(json_array_get(periods, np - 1)));
    text_at(out, MARGIN, y + 24, "font-size=\"13\" fill=\"" C_MUTED "\"", line, 170);
    snprintf(line, sizeof line, "%lld decisions (%lld allow, %lld escalate, %lld deny), "
             "%lld resolutions, %lld outcome reports", an_jint(tot, "decisions"),
             an_jint(tot, "allow"), an_jint(tot, "escalate"), an_jint(tot, "deny"),
             an_jint(tot, "resolutions"), an_jint(tot, "outcomes"));
    text_at(out, MARGIN, y + 44, "font-size=\"13\" fill=\"" C_MUTED "\"", line, 170);
    return y + 68;
}

/* "workflows: refunds · agents: support-agent (32 decisions)" */
static void warning_scope(const json_t *w, char *buf, size_t n)
{
    const json_t *x;
    size_t i;
    int used = snprintf(buf, n, "workflows: ");
    json_array_foreach(json_object_get(w, "workflows"), i, x)
        if (used >= 0 && (size_t)used < n)
            used += snprintf(buf + used, n - (size_t)used, "%s%s", i ? ", " : "",
                             json_string_value(x) ? json_string_value(x) : "");
    if (used >= 0 && (size_t)used < n)
        used += snprintf(buf + used, n - (size_t)used, " \xC2\xB7 agents: ");
    json_array_foreach(json_object_get(w, "agents"), i, x)
        if (used >= 0 && (size_t)used < n)
            used += snprintf(buf + used, n - (size_t)used, "%s%s (%lld decisions)",
                             i ? ", " : "", an_jstr(x, "agent"), an_jint(x, "decisions"));
}

enum { MSG_CHARS = 150, MSG_LINES = 3 };

static double draw_warnings(const json_t *r, strbuf *out, double y)
{
    const json_t *ws = json_object_get(r, "warnings"), *w;
    size_t nw = json_array_size(ws), i;
    if (!nw) {
        strbuf_printf(out, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"44\" rx=\"8\" "
                      "fill=\"#e6f4ea\" stroke=\"" C_GOOD "\" stroke-width=\"2\"/>\n",
                      MARGIN, y, WIDTH - 2 * MARGIN);
        text_at(out, MARGIN + 16, y + 28, "font-size=\"15\" fill=\"" C_GOOD "\"",
                "No warning: no goal has an outcome improving while one of its health "
                "metrics degrades over the same periods.", 150);
        return y + 68;
    }
    /* The band's height depends on how the messages wrap: draw the text
     * into its own buffer first, then the band under it. */
    strbuf body = {0};
    double ty = y + 34;
    char title[128];
    snprintf(title, sizeof title, "\xE2\x9A\xA0 WARNING: outcome improving while health "
             "degrades (%zu)", nw);
    text_at(&body, MARGIN + 18, ty, "font-size=\"21\" font-weight=\"bold\" fill=\"#ffffff\"",
            title, 100);
    ty += 30;
    json_array_foreach(ws, i, w) {
        char scope[1024];
        int lines = wrapped_text(&body, MARGIN + 18, ty, 20,
                                 "font-size=\"15\" font-weight=\"bold\" fill=\"#ffffff\"",
                                 an_jstr(w, "message"), MSG_CHARS, MSG_LINES);
        ty += 20.0 * lines;
        warning_scope(w, scope, sizeof scope);
        text_at(&body, MARGIN + 34, ty, "font-size=\"13\" fill=\"#fce8e6\"", scope, 160);
        ty += 28;
    }
    double h = ty - y - 10;
    strbuf_printf(out, "<g role=\"alert\">\n<rect x=\"%d\" y=\"%.1f\" width=\"%d\" "
                  "height=\"%.1f\" rx=\"8\" fill=\"" C_WARN "\" stroke=\"#5c0000\" "
                  "stroke-width=\"3\"/>\n", MARGIN, y, WIDTH - 2 * MARGIN, h);
    out->failed = out->failed || body.failed;
    if (body.p)
        strbuf_add(out, body.p, body.n);
    strbuf_release(&body);
    strbuf_puts(out, "</g>\n");
    return y + h + 28;
}

/* ---- Line charts ------------------------------------------------------------ */

typedef struct scale {
    double lo, hi;     /* value range */
    double top, h;     /* plot area on the page, y grows downwards */
} scale;

static double y_of(const scale *s, double v)
{
    return s->top + s->h * (s->hi - v) / (s->hi - s->lo);
}

static bool num_of(const json_t *o, const char *key, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return isfinite(*out);
}

/* The value range: the points, the target and the limits, with a margin. */
static void scale_fit(const json_t *m, scale *s)
{
    bool any = false;
    double lo = 0, hi = 0, v;
    const json_t *p;
    size_t i;
    static const char *const refs[] = {"target", "min", "max"};
    for (size_t k = 0; k < 3; k++)
        if (num_of(m, refs[k], &v)) {
            lo = any && lo < v ? lo : v;
            hi = any && hi > v ? hi : v;
            any = true;
        }
    json_array_foreach(json_object_get(m, "series"), i, p)
        if (num_of(p, "value", &v)) {
            lo = any && lo < v ? lo : v;
            hi = any && hi > v ? hi : v;
            any = true;
        }
    double pad = (hi - lo) * 0.15;
    if (pad <= 0)
        pad = fabs(hi) > 0 ? fabs(hi) * 0.1 : 1;
    s->lo = lo - pad;
    s->hi = hi + pad;
}

/* A step of 1, 2 or 5 times a power of ten giving 3 to 6 ticks. */
static double tick_step(double range)
{
    double raw = range / 4, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void draw_axes(strbuf *out, const scale *s, double px, double pw, const char *metric)
{
    double step = tick_step(s->hi - s->lo), first = ceil(s->lo / step);
    /* Counted, not accumulated: near 1e17 adding a small step to a double
     * may change nothing, and a loop on t would never end. */
    for (int k = 0; k < 12; k++) {
        double t = (first + k) * step;
        if (t > s->hi + step * 1e-9)
            break;
        double y = y_of(s, t);
        char lab[32];
        fmt_double(fabs(t) < step * 1e-9 ? 0 : t, lab);
        strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
                      C_GRID "\" stroke-width=\"1\"/>\n", px, y, px + pw, y);
        strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" "
                      "fill=\"" C_MUTED "\">%s</text>\n", px - 6, y + 4, lab);
    }
    strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
                  C_MUTED "\" stroke-width=\"1\"/>\n", px, s->top, px, s->top + s->h);
    strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
                  C_MUTED "\" stroke-width=\"1\"/>\n", px, s->top + s->h, px + pw,
                  s->top + s->h);
    double cy = s->top + s->h / 2;
    strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" "
                  "fill=\"" C_MUTED "\" transform=\"rotate(-90 %.1f %.1f)\">",
                  px - 54, cy, px - 54, cy);
    an_xml_text(out, metric, 30);
    strbuf_puts(out, "</text>\n");
}

/* A label on a white ground at the plot's left, clear of the lines. */
static void line_label(strbuf *out, double x, double y, const char *ink, const char *s)
{
    strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"15\" "
                  "fill=\"#ffffff\" fill-opacity=\"0.9\"/>\n", x, y - 11,
                  6.2 * (double)strlen(s) + 8);
    strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" font-weight=\"bold\" "
                  "fill=\"%s\">", x + 4, y, ink);
    an_xml_text(out, s, 60);
    strbuf_puts(out, "</text>\n");
}

/* The hatched side beyond a limit, with its words, and the limit's line. */
static void draw_limit(strbuf *out, const scale *s, double px, double pw, double limit,
                       bool is_min)
{
    double y = y_of(s, limit), top = is_min ? y : s->top, h = is_min ? s->top + s->h - y
                                                                     : y - s->top;
    char v[32], lab[64];
    fmt_double(limit, v);
    snprintf(lab, sizeof lab, "%s %s (out of bounds %s)", is_min ? "min" : "max", v,
             is_min ? "below" : "above");
    if (h > 0)
        strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                      "fill=\"url(#out-of-bounds)\"/>\n", px, top, pw, h);
    strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
                  C_BAD "\" stroke-width=\"1.5\"/>\n", px, y, px + pw, y);
    line_label(out, px + 30, is_min ? y + 15 : y - 5, C_BAD, lab);
}

static void draw_target(strbuf *out, const scale *s, double px, double pw, double target,
                        const char *direction)
{
    double y = y_of(s, target);
    char v[32], lab[96];
    fmt_double(target, v);
    snprintf(lab, sizeof lab, "target %s (%.20s)", v, direction);
    strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
                  C_TARGET "\" stroke-width=\"2\" stroke-dasharray=\"8 5\"/>\n",
                  px, y, px + pw, y);
    line_label(out, px + 30, y - 5, C_TARGET, lab);
}

static bool status_bad(const char *status)
{
    return !strcmp(status, "missed") || !strcmp(status, "breached");
}

/* A point: a green circle when met or within, a red diamond when missed or
 * breached; its value above it and a <title> for a hover or a reader. */
static void draw_point(strbuf *out, double x, double y, const json_t *p, bool label)
{
    char v[32];
    an_fmt_num(json_object_get(p, "value"), v);
    const char *status = an_jstr(p, "status");
    strbuf_puts(out, "<g>");
    if (status_bad(status))
        strbuf_printf(out, "<path d=\"M%.1f %.1fl7 7l-7 7l-7 -7z\" fill=\"" C_BAD "\" "
                      "stroke=\"#ffffff\" stroke-width=\"1.5\">", x, y - 7);
    else
        strbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"" C_GOOD "\" "
                      "stroke=\"#ffffff\" stroke-width=\"1.5\">", x, y);
    strbuf_puts(out, "<title>");
    an_xml_text(out, an_jstr(p, "period"), 40);
    strbuf_printf(out, ": %s (", v);
    an_xml_text(out, status, 20);
    strbuf_puts(out, status_bad(status) ? ")</title></path>" : ")</title></circle>");
    if (label)
        strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" "
                      "fill=\"%s\">%s</text>", x, y - 11, status_bad(status) ? C_BAD : C_TEXT, v);
    strbuf_puts(out, "</g>\n");
}

static long period_index(const json_t *periods, const char *period)
{
    const json_t *p;
    size_t i;
    json_array_foreach(periods, i, p)
        if (json_string_value(p) && !strcmp(json_string_value(p), period))
            return (long)i;
    return -1;
}

static double x_of(size_t i, size_t np, double px, double pw)
{
    return np <= 1 ? px + pw / 2 : px + 16 + (pw - 32) * (double)i / (double)(np - 1);
}

/* "outcome · target 4 (decrease) · trend: improving",
 * "health · min 4.3 · trend: degrading" */
static void chart_subtitle(const json_t *m, char *buf, size_t n)
{
    char a[32], b[32];
    an_fmt_num(json_object_get(m, "target"), a);
    if (!strcmp(an_jstr(m, "role"), "outcome")) {
        snprintf(buf, n, "outcome \xC2\xB7 target %s (%s) \xC2\xB7 trend: %s", a,
                 an_jstr(m, "direction"), an_jstr(m, "trend"));
        return;
    }
    bool has_min = json_is_number(json_object_get(m, "min"));
    bool has_max = json_is_number(json_object_get(m, "max"));
    an_fmt_num(json_object_get(m, "min"), a);
    an_fmt_num(json_object_get(m, "max"), b);
    snprintf(buf, n, "health \xC2\xB7 %s%s%s%s%s \xC2\xB7 trend: %s", has_min ? "min " : "",
             has_min ? a : "", has_min && has_max ? " \xC2\xB7 " : "", has_max ? "max " : "",
             has_max ? b : "", an_jstr(m, "trend"));
}

static void draw_chart(strbuf *out, const json_t *r, const json_t *m, double x0, double y0)
{
    const json_t *periods = json_object_get(r, "periods"), *series = json_object_get(m, "series");
    size_t np = json_array_size(periods), i;
    double px = x0 + PLOT_LEFT, pw = CHART_W - PLOT_LEFT - PLOT_RIGHT, v;
    scale s = {.top = y0 + PLOT_TOP, .h = CHART_H - PLOT_TOP - PLOT_BOTTOM};
    char sub[256];
    strbuf_printf(out, "<g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" rx=\"6\" "
                  "fill=\"#ffffff\" stroke=\"" C_GRID "\"/>\n", x0, y0, CHART_W, CHART_H);
    text_at(out, x0 + 14, y0 + 22, "font-size=\"15\" font-weight=\"bold\" fill=\"" C_TEXT "\"",
            an_jstr(m, "metric"), 60);
    chart_subtitle(m, sub, sizeof sub);
    text_at(out, x0 + 14, y0 + 40, "font-size=\"12\" fill=\"" C_MUTED "\"", sub, 90);
    if (!json_array_size(series)) {
        text_at(out, x0 + CHART_W / 2.0, y0 + CHART_H / 2.0 + 10, "font-size=\"14\" "
                "text-anchor=\"middle\" fill=\"" C_MUTED "\"",
                "no outcome reports for this metric in these periods", 80);
        strbuf_puts(out, "</g>\n");
        return;
    }
    scale_fit(m, &s);
    if (!isfinite(s.hi - s.lo) || !(s.hi - s.lo > 0) || !isfinite(tick_step(s.hi - s.lo)) ||
        !(tick_step(s.hi - s.lo) > 0)) {
        text_at(out, x0 + CHART_W / 2.0, y0 + CHART_H / 2.0 + 10, "font-size=\"14\" "
                "text-anchor=\"middle\" fill=\"" C_MUTED "\"",
                "values too large or too close together to draw", 80);
        strbuf_puts(out, "</g>\n");
        return;
    }
    draw_axes(out, &s, px, pw, an_jstr(m, "metric"));
    if (num_of(m, "min", &v))
        draw_limit(out, &s, px, pw, v, true);
    if (num_of(m, "max", &v))
        draw_limit(out, &s, px, pw, v, false);
    if (num_of(m, "target", &v))
        draw_target(out, &s, px, pw, v, an_jstr(m, "direction"));
    /* Period labels: at most about eight, always the first and the last. */
    size_t every = np > 8 ? (np + 7) / 8 : 1;
    for (i = 0; i < np; i++)
        if (i % every == 0 || i + 1 == np)
            text_at(out, x_of(i, np, px, pw), s.top + s.h + 16, "font-size=\"11\" "
                    "text-anchor=\"middle\" fill=\"" C_MUTED "\"",
                    json_string_value(json_array_get(periods, i)), 12);
    text_at(out, px + pw / 2, s.top + s.h + 36, "font-size=\"11\" text-anchor=\"middle\" "
            "fill=\"" C_MUTED "\"", !strcmp(an_jstr(r, "by"), "week") ? "week" : "day", 10);
    const json_t *p;
    bool first = true;
    strbuf_puts(out, "<polyline fill=\"none\" stroke=\"" C_TEXT "\" stroke-width=\"2\" "
                     "points=\"");
    json_array_foreach(series, i, p) {
        long k = period_index(periods, an_jstr(p, "period"));
        if (k < 0 || !num_of(p, "value", &v))
            continue;
        strbuf_printf(out, "%s%.1f,%.1f", first ? "" : " ", x_of((size_t)k, np, px, pw),
                      y_of(&s, v));
        first = false;
    }
    strbuf_puts(out, "\"/>\n");
    json_array_foreach(series, i, p) {
        long k = period_index(periods, an_jstr(p, "period"));
        if (k >= 0 && num_of(p, "value", &v))
            draw_point(out, x_of((size_t)k, np, px, pw), y_of(&s, v), p,
                       np <= 14 || i + 1 == json_array_size(series));
    }
    strbuf_puts(out, "</g>\n");
}

static double draw_chart_legend(strbuf *out, double y)
{
    double x = MARGIN;
    strbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"" C_GOOD "\"/>\n",
                  x + 6, y - 4);
    text_at(out, x + 16, y, "font-size=\"12\" fill=\"" C_TEXT "\"",
            "met (outcome) or within limits (health)", 60);
    x += 270;
    strbuf_printf(out, "<path d=\"M%.1f %.1fl7 7l-7 7l-7 -7z\" fill=\"" C_BAD "\"/>\n",
                  x + 6, y - 11);
    text_at(out, x + 18, y, "font-size=\"12\" fill=\"" C_TEXT "\"",
            "missed (outcome) or breached (health)", 60);
    x += 270;
    strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
                  C_TARGET "\" stroke-width=\"2\" stroke-dasharray=\"8 5\"/>\n",
                  x, y - 4, x + 30, y - 4);
    text_at(out, x + 36, y, "font-size=\"12\" fill=\"" C_TEXT "\"", "target", 20);
    x += 110;
    strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"30\" height=\"14\" "
                  "fill=\"url(#out-of-bounds)\" stroke=\"" C_BAD "\"/>\n", x, y - 11);
    text_at(out, x + 36, y, "font-size=\"12\" fill=\"" C_TEXT "\"",
            "out of bounds: beyond a health limit", 60);
    return y + 20;
}

static double draw_goals(const json_t *r, strbuf *out, double y)
{
    const json_t *g, *m;
    size_t i, k;
    heading(out, y, "Goals: outcomes against targets, health against limits");
    y += 34;
    y = draw_chart_legend(out, y);
    if (!json_array_size(json_object_get(r, "goals"))) {
        text_at(out, MARGIN, y + 10, "font-size=\"14\" fill=\"" C_MUTED "\"",
                "The charter has no goals.", 40);
        return y + 40;
    }
    json_array_foreach(json_object_get(r, "goals"), i, g) {
        char title[512];
        const char *obj = an_jstr(g, "objective");
        snprintf(title, sizeof title, "Goal %s%s%s", an_jstr(g, "id"), *obj ? ": " : "", obj);
        text_at(out, MARGIN, y + 18, "font-size=\"16\" font-weight=\"bold\" fill=\"" C_TEXT
                "\"", title, 140);
        y += 30;
        size_t n = json_array_size(json_object_get(g, "metrics"));
        json_array_foreach(json_object_get(g, "metrics"), k, m)
            draw_chart(out, r, m, MARGIN + (double)(k % 2) * (CHART_W + MARGIN),
                       y + (double)(k / 2) * (CHART_H + 16));
        y += (double)((n + 1) / 2) * (CHART_H + 16) + 10;
    }
    return y;
}

/* ---- Bars -------------------------------------------------------------------- */

typedef struct segment {
    const char *name, *fill, *ink;
    long long count;
} segment;

/* A horizontal stack of segments `w` wide for `whole` (widths in
 * proportion); each segment names its count inside when it fits. */
static void draw_stack(strbuf *out, double x, double y, double w, const segment *seg,
                       size_t n, long long whole)
{
    for (size_t i = 0; i < n; i++) {
        if (seg[i].count <= 0 || whole <= 0)
            continue;
        double sw = w * (double)seg[i].count / (double)whole;
        strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" fill=\"%s\" "
                      "stroke=\"#ffffff\" stroke-width=\"1\"><title>%s: %lld</title></rect>\n",
                      x, y, sw, seg[i].fill, seg[i].name, seg[i].count);
        char lab[64];
        snprintf(lab, sizeof lab, "%s %lld", seg[i].name, seg[i].count);
        if (sw >= 9.0 * (double)strlen(lab))
            strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">%s"
                          "</text>\n", x + 6, y + 15, seg[i].ink, lab);
        else if (sw >= 24)
            strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">%lld"
                          "</text>\n", x + 5, y + 15, seg[i].ink, seg[i].count);
        x += sw;
    }
}

static double draw_escalation_rows(const json_t *r, strbuf *out, double y, const char *list,
                                   const char *key)
{
    const json_t *o;
    size_t i;
    bool rules = !strcmp(list, "rules");
    text_at(out, MARGIN, y, "font-size=\"15\" font-weight=\"bold\" fill=\"" C_TEXT "\"",
            rules ? "Per rule and boundary" : "Per escalation queue", 40);
    y += 14;
    if (!json_array_size(json_object_get(r, list))) {
        text_at(out, MARGIN, y + 16, "font-size=\"13\" fill=\"" C_MUTED "\"",
                rules ? "No rule fired." : "No escalations.", 40);
        return y + 36;
    }
    json_array_foreach(json_object_get(r, list), i, o) {
        long long esc = an_jint(o, "escalated");
        char name[256], words[256], a[32], d[32];
        snprintf(name, sizeof name, "%s%s%s", an_jstr(o, key), rules ? " \xC2\xB7 " : "",
                 rules ? an_jstr(o, "kind") : "");
        text_at(out, MARGIN, y + 15, "font-size=\"13\" fill=\"" C_TEXT "\"", name, 44);
        double bx = MARGIN + BAR_LABEL_W;
        if (esc <= 0) {
            snprintf(words, sizeof words, "fired %lld time%s, never escalated",
                     an_jint(o, "fired"), an_jint(o, "fired") == 1 ? "" : "s");
            strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"20\" "
                          "fill=\"none\" stroke=\"" C_GRID "\" stroke-dasharray=\"3 3\"/>\n",
                          bx, y, BAR_W);
            text_at(out, bx + 8, y + 15, "font-size=\"12\" fill=\"" C_MUTED "\"", words, 60);
        } else {
            segment seg[] = {
                {"overruled", C_OVERRULED, "#ffffff", an_jint(o, "approved")},
                {"confirmed", C_TARGET, "#ffffff", an_jint(o, "denied")},
                {"timed out", C_TIMEOUT, "#ffffff", an_jint(o, "timed_out")},
                {"open", C_OPEN, C_TEXT, an_jint(o, "open")},
            };
            draw_stack(out, bx, y, BAR_W, seg, 4, esc);
            fmt_pct_of(an_jint(o, "approved"), esc, a);
            fmt_pct_of(an_jint(o, "denied"), esc, d);
            long long grants = an_jint(o, "approved_by_grant");
            int used = snprintf(words, sizeof words, "%lld escalated: %s overruled, %s confirmed",
                                esc, a, d);
            if (grants > 0 && used > 0 && (size_t)used < sizeof words)
                snprintf(words + used, sizeof words - (size_t)used,
                         " (%lld by standing approval)", grants);
            text_at(out, bx + BAR_W + 12, y + 15, "font-size=\"12\" fill=\"" C_TEXT "\"", words,
                    90);
        }
        y += ROW_H;
    }
    return y + 16;
}

static double draw_escalations(const json_t *r, strbuf *out, double y)
{
    heading(out, y, "Escalations: how often people overruled or confirmed them");
    y += 34;
    text_at(out, MARGIN, y, "font-size=\"12\" fill=\"" C_MUTED "\"",
            "Share of each rule's or queue's escalations: overruled = a person approved what "
            "the rule held back; confirmed = a person denied it.", 160);
    y += 22;
    legend_box(out, MARGIN, y, C_OVERRULED, "overruled (approved)");
    legend_box(out, MARGIN + 190, y, C_TARGET, "confirmed (denied)");
    legend_box(out, MARGIN + 380, y, C_TIMEOUT, "timed out");
    legend_box(out, MARGIN + 500, y, C_OPEN, "open");
    y += 30;
    y = draw_escalation_rows(r, out, y, "rules", "rule");
    return draw_escalation_rows(r, out, y, "queues", "queue");
}

static double draw_agents(const json_t *r, strbuf *out, double y)
{
    const json_t *o;
    size_t i;
    long long most = 1;
    heading(out, y, "Agents: decision mix");
    y += 34;
    legend_box(out, MARGIN, y, C_GOOD, "allow");
    legend_box(out, MARGIN + 100, y, C_AMBER, "escalate");
    legend_box(out, MARGIN + 220, y, C_BAD, "deny");
    text_at(out, MARGIN + 320, y, "font-size=\"12\" fill=\"" C_MUTED "\"",
            "bar length: decisions, relative to the busiest agent", 80);
    y += 20;
    json_array_foreach(json_object_get(r, "agents"), i, o)
        most = an_jint(o, "decisions") > most ? an_jint(o, "decisions") : most;
    if (!json_array_size(json_object_get(r, "agents"))) {
        text_at(out, MARGIN, y + 16, "font-size=\"13\" fill=\"" C_MUTED "\"", "No decisions.",
                40);
        return y + 40;
    }
    json_array_foreach(json_object_get(r, "agents"), i, o) {
        long long n = an_jint(o, "decisions");
        char name[256], words[256];
        bool reg = json_is_true(json_object_get(o, "registered"));
        snprintf(name, sizeof name, "%s%s", an_jstr(o, "agent"), reg ? "" : " (NOT registered)");
        text_at(out, MARGIN, y + 15, reg ? "font-size=\"13\" fill=\"" C_TEXT "\""
                                         : "font-size=\"13\" font-weight=\"bold\" fill=\""
                                           C_BAD "\"", name, 44);
        segment seg[] = {
            {"allow", C_GOOD, "#ffffff", an_jint(o, "allow")},
            {"escalate", C_AMBER, "#ffffff", an_jint(o, "escalate")},
            {"deny", C_BAD, "#ffffff", an_jint(o, "deny")},
        };
        double w = BAR_W * (double)n / (double)most;
        draw_stack(out, MARGIN + BAR_LABEL_W, y, w, seg, 3, n);
        snprintf(words, sizeof words, "%lld decisions: %lld allow, %lld escalate, %lld deny", n,
                 seg[0].count, seg[1].count, seg[2].count);
        text_at(out, MARGIN + BAR_LABEL_W + BAR_W + 12, y + 15,
                "font-size=\"12\" fill=\"" C_TEXT "\"", words, 60);
        y += ROW_H;
    }
    return y + 16;
}

/* ---- The picture ------------------------------------------------------------- */

/* <desc>: what a screen reader says instead of the picture. */
static void describe(const json_t *r, strbuf *out)
{
    const json_t *ws = json_object_get(r, "warnings"), *w;
    size_t i;
    strbuf_puts(out, "<desc id=\"report-desc\">");
    if (!json_array_size(ws))
        strbuf_puts(out, "No warning. ");
    json_array_foreach(ws, i, w) {
        strbuf_puts(out, "WARNING: ");
        an_xml_text(out, an_jstr(w, "message"), 400);
        strbuf_puts(out, ". ");
    }
    strbuf_printf(out, "Line charts of %zu goal%s' metrics per period; how people resolved "
                  "the escalations of each rule and queue; each agent's decision mix."
                  "</desc>\n", json_array_size(json_object_get(r, "goals")),
                  json_array_size(json_object_get(r, "goals")) == 1 ? "" : "s");
}

charter_status an_report_svg(const json_t *r, strbuf *out)
{
    strbuf body = {0};
    double y = draw_header(r, &body, 40);
    y = draw_warnings(r, &body, y);
    y = draw_goals(r, &body, y + 16);
    y = draw_escalations(r, &body, y + 16);
    y = draw_agents(r, &body, y + 16);
    int height = (int)ceil(y + 8);
    strbuf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"report-title "
                  "report-desc\" font-family=\"Helvetica, Arial, sans-serif\">\n",
                  WIDTH, height, WIDTH, height);
    strbuf_puts(out, "<title id=\"report-title\">Alignment report: ");
    an_xml_text(out, an_jstr(r, "organization"), 200);
    strbuf_puts(out, "</title>\n");
    describe(r, out);
    strbuf_puts(out, "<defs><pattern id=\"out-of-bounds\" width=\"8\" height=\"8\" "
                     "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                     "<rect width=\"8\" height=\"8\" fill=\"#fce8e6\"/>"
                     "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#e8a09a\" "
                     "stroke-width=\"3\"/></pattern></defs>\n");
    strbuf_printf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", WIDTH, height);
    out->failed = out->failed || body.failed;
    if (body.p)
        strbuf_add(out, body.p, body.n);
    strbuf_release(&body);
    strbuf_puts(out, "</svg>\n");
    return out->failed ? CHARTER_E_NOMEM : CHARTER_OK;
}
