/* render.h - how the analyses print: a growing text buffer, tables that
 * come out as aligned columns or Markdown, and the renderer each analysis
 * provides for its own JSON result (render.c dispatches on "analysis").
 *
 * Every renderer reads the JSON result, never the analysis' internal
 * state, so the table, the Markdown and the JSON always say the same.
 */
#ifndef CHARTER_ANALYSES_RENDER_H
#define CHARTER_ANALYSES_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "charter_analyses.h"
#include "base/fail.h"
#include "base/strbuf.h"


/* A table of strings: set the header, add rows, print. */
typedef struct an_table {
    size_t ncols;
    char **cells;          /* row-major, header first (malloc'd each) */
    size_t nrows;          /* rows including the header */
    size_t cap;
    bool failed;
} an_table;

void an_table_init(an_table *t, size_t ncols, const char *const *header);
/* Adds a row of ncols cells (copied; NULL prints as empty). */
void an_table_row(an_table *t, const char *const *cells);
/* Text: columns padded with two spaces between them, a rule under the
 * header. Markdown: a pipe table ('|' in cells escaped). */
void an_table_print(const an_table *t, charter_format fmt, strbuf *out);
void an_table_release(an_table *t);

/* Numbers as the tables show them: integers without a fraction, others
 * with up to 3 significant decimals ("0.083", "4.25"); "-" for null. */
void an_fmt_num(const json_t *v, char buf[32]);
/* A share as a percentage with one decimal ("99.5 %"), "-" for null. */
void an_fmt_pct(const json_t *v, char buf[32]);
/* The keys of the object `set` as an array of strings in byte order; takes
 * over the reference to `set`. NULL when out of memory. */
json_t *an_sorted_keys(json_t *set);
/* The strings of an array joined with ", " into buf (cut to fit). */
void an_join(const json_t *strings, char *buf, size_t n);
/* Accessors that tolerate absent keys. */
const char *an_jstr(const json_t *o, const char *key);      /* "" when absent */
long long an_jint(const json_t *o, const char *key);        /* 0 when absent */

/* Appends s as XML character data or attribute text: < > & " ' escaped,
 * control characters (which XML 1.0 forbids) as spaces, cut after
 * max_chars characters with an ellipsis. For every text of an SVG. */
void an_xml_text(strbuf *out, const char *s, size_t max_chars);

/* A heading: "== Title ==" style in text, "## Title" in Markdown. */
void an_heading(strbuf *out, charter_format fmt, const char *title);

/* Serialises a result (keys in insertion order) into a malloc'd string;
 * NULL when out of memory. */
typedef enum an_json_style { AN_JSON_COMPACT, AN_JSON_INDENTED } an_json_style;
char *an_json_dump(const json_t *j, an_json_style style);

/* The renderers each analysis provides (report.c, readiness.c,
 * consistency.c, shadow.c). fmt is TEXT or MD (SVG for the map and the
 * report: an_report_render hands SVG to an_report_svg, report_svg.c). */
charter_status an_report_render(const json_t *r, charter_format fmt, strbuf *out);
charter_status an_report_svg(const json_t *r, strbuf *out);
charter_status an_map_render(const json_t *r, charter_format fmt, strbuf *out);
charter_status an_consistency_render(const json_t *r, charter_format fmt, strbuf *out);
charter_status an_shadow_render(const json_t *r, charter_format fmt, strbuf *out);

#endif
