/* render.c - text buffers, tables and the dispatch of
 * charter_analysis_render (render.h). */
#include "base/banned.h"

#include "analyses/render.h"

#include <math.h>
#include <stdarg.h>

/* ---- Tables ----------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s ? s : "", n + 1);
    return p;
}

void an_table_init(an_table *t, size_t ncols, const char *const *header)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    an_table_row(t, header);
}

void an_table_row(an_table *t, const char *const *cells)
{
    if (t->failed)
        return;
    if ((t->nrows + 1) * t->ncols > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : t->ncols * 16;
        char **v = realloc(t->cells, cap * sizeof *v);
        if (!v) {
            t->failed = true;
            return;
        }
        t->cells = v;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        char *s = dup_str(cells[i]);
        t->cells[t->nrows * t->ncols + i] = s;
        t->failed = t->failed || !s;
    }
    t->nrows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void print_md_cell(strbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            strbuf_puts(out, "\\|");
        else if (*s == '\n')
            strbuf_puts(out, " ");
        else
            strbuf_add(out, s, 1);
    }
}

void an_table_print(const an_table *t, charter_format fmt, strbuf *out)
{
    if (t->failed) {
        out->failed = true;
        return;
    }
    if (fmt == CHARTER_FORMAT_MD) {
        for (size_t r = 0; r < t->nrows; r++) {
            strbuf_puts(out, "|");
            for (size_t c = 0; c < t->ncols; c++) {
                strbuf_puts(out, " ");
                print_md_cell(out, t->cells[r * t->ncols + c]);
                strbuf_puts(out, " |");
            }
            strbuf_puts(out, "\n");
            if (r == 0) {
                strbuf_puts(out, "|");
                for (size_t c = 0; c < t->ncols; c++)
                    strbuf_puts(out, " --- |");
                strbuf_puts(out, "\n");
            }
        }
        return;
    }
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w) {
        out->failed = true;
        return;
    }
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t x = width(t->cells[r * t->ncols + c]);
            w[c] = x > w[c] ? x : w[c];
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            strbuf_puts(out, s);
            if (c + 1 < t->ncols)
                for (size_t k = width(s); k < w[c] + 2; k++)
                    strbuf_add(out, " ", 1);
        }
        strbuf_puts(out, "\n");
        if (r == 0) {
            for (size_t c = 0; c < t->ncols; c++) {
                for (size_t k = 0; k < w[c]; k++)
                    strbuf_add(out, "-", 1);
                if (c + 1 < t->ncols)
                    strbuf_puts(out, "  ");
            }
            strbuf_puts(out, "\n");
        }
    }
    free(w);
}

void an_table_release(an_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* ---- Small formatting helpers ----------------------------------------------- */

void an_fmt_num(const json_t *v, char buf[32])
{
    if (json_is_integer(v)) {
        snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
        return;
    }
    if (!json_is_number(v)) {
        snprintf(buf, 32, "-");
        return;
    }
    double d = json_number_value(v);
    if (d == floor(d) && fabs(d) < 1e15)
        snprintf(buf, 32, "%.0f", d);
    else if (fabs(d) >= 100)
        snprintf(buf, 32, "%.1f", d);
    else
        snprintf(buf, 32, "%.3g", d);
}

void an_fmt_pct(const json_t *v, char buf[32])
{
    if (!json_is_number(v))
        snprintf(buf, 32, "-");
    else
        snprintf(buf, 32, "%.1f %%", 100.0 * json_number_value(v));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *an_sorted_keys(json_t *set)
{
    size_t n = json_object_size(set), i = 0;
    const char **keys = malloc((n + 1) * sizeof *keys);
    json_t *list = keys ? json_array() : NULL;
    const char *key;
    json_t *v;
    if (list) {
        json_object_foreach(set, key, v)
            keys[i++] = key;
        qsort(keys, n, sizeof *keys, cmp_str);
        for (i = 0; i < n; i++)
            json_array_append_new(list, json_string(keys[i]));
    }
    free(keys);
    json_decref(set);
    return list;
}

void an_join(const json_t *strings, char *buf, size_t n)
{
    const json_t *x;
    size_t i, used = 0;
    buf[0] = '\0';
    json_array_foreach(strings, i, x) {
        int m = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", json_string_value(x));
        if (m < 0 || (size_t)m >= n - used)
            break;
        used += (size_t)m;
    }
}

const char *an_jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

long long an_jint(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

void an_xml_text(strbuf *out, const char *s, size_t max_chars)
{
    size_t chars = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xC0) != 0x80 && ++chars > max_chars) {
            strbuf_puts(out, "\xE2\x80\xA6"); /* ellipsis */
            return;
        }
        switch (c) {
        case '<': strbuf_puts(out, "&lt;"); break;
        case '>': strbuf_puts(out, "&gt;"); break;
        case '&': strbuf_puts(out, "&amp;"); break;
        case '"': strbuf_puts(out, "&quot;"); break;
        case '\'': strbuf_puts(out, "&#39;"); break;
        default: strbuf_add(out, c < 0x20 || c == 0x7F ? " " : s, 1);
        }
    }
}

void an_heading(strbuf *out, charter_format fmt, const char *title)
{
    if (fmt == CHARTER_FORMAT_MD)
        strbuf_printf(out, "\n## %s\n\n", title);
    else
        strbuf_printf(out, "\n%s\n\n", title);
}

char *an_json_dump(const json_t *j, an_json_style style)
{
    return json_dumps(j, JSON_PRESERVE_ORDER |
                             (style == AN_JSON_INDENTED ? JSON_INDENT(2) : JSON_COMPACT));
}

/* ---- Public ------------------------------------------------------------------ */

bool charter_format_parse(const char *s, charter_format *out)
{
    static const struct { const char *name; charter_format f; } names[] = {
        {"text", CHARTER_FORMAT_TEXT}, {"table", CHARTER_FORMAT_TEXT},
        {"json", CHARTER_FORMAT_JSON}, {"md", CHARTER_FORMAT_MD},
        {"markdown", CHARTER_FORMAT_MD}, {"svg", CHARTER_FORMAT_SVG}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (!strcmp(s, names[i].name)) {
            *out = names[i].f;
            return true;
        }
    }
    return false;
}

charter_status charter_analysis_render(const char *json, size_t n, charter_format fmt,
                                       char **out, charter_error *err)
{
    if (!json || !out)
        return base_fail(err, CHARTER_E_INVALID,
                       "charter_analysis_render: json and out are required");
    *out = NULL;
    json_error_t je;
    json_t *r = json_loadb(json, n, 0, &je);
    if (!json_is_object(r)) {
        json_decref(r);
        return base_fail(err, CHARTER_E_JSON, "expected an analysis result (a JSON object): %s",
                       je.text);
    }
    const char *kind = an_jstr(r, "analysis");
    charter_status st = CHARTER_OK;
    strbuf b = {0};
    if (fmt == CHARTER_FORMAT_JSON) {
        char *s = an_json_dump(r, AN_JSON_INDENTED);
        if (s) {
            strbuf_puts(&b, s);
            strbuf_puts(&b, "\n");
        }
        b.failed = b.failed || !s;
        free(s);
    } else if (fmt == CHARTER_FORMAT_SVG && strcmp(kind, "map") && strcmp(kind, "report")) {
        st = base_fail(err, CHARTER_E_INVALID, "only the readiness map and the alignment report "
                     "have an SVG form; "
                     "expected text, json or md for the %s", *kind ? kind : "result");
    } else if (!strcmp(kind, "report")) {
        st = an_report_render(r, fmt, &b);
    } else if (!strcmp(kind, "map")) {
        st = an_map_render(r, fmt, &b);
    } else if (!strcmp(kind, "consistency")) {
        st = an_consistency_render(r, fmt, &b);
    } else if (!strcmp(kind, "shadow")) {
        st = an_shadow_render(r, fmt, &b);
    } else {
        st = base_fail(err, CHARTER_E_INVALID, "expected \"analysis\" to be report, map, "
                     "consistency or shadow; found '%s'", kind);
    }
    json_decref(r);
    if (st == CHARTER_OK && (b.failed || !b.p))
        st = b.failed ? base_fail(err, CHARTER_E_NOMEM, "out of memory rendering") : CHARTER_OK;
    if (st != CHARTER_OK) {
        strbuf_release(&b);
        return st;
    }
    *out = b.p ? b.p : dup_str("");
    return *out ? CHARTER_OK : base_fail(err, CHARTER_E_NOMEM, "out of memory rendering");
}
