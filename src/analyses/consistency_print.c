/* consistency_print.c - the consistency analysis as text or Markdown
 * (an_consistency_render): what was compared, each disagreement with its
 * example request, differences that come only from autonomy, and rules that
 * never fire. */
#include "base/banned.h"

#include "analyses/render.h"

static void print_compared(const json_t *r, charter_format fmt, strbuf *out)
{
    static const char *const head[] = {"action", "workflows", "fields", "cases", "generated"};
    an_table t;
    an_table_init(&t, 5, head);
    const json_t *a;
    size_t i;
    json_array_foreach(json_object_get(r, "compared"), i, a) {
        char wfs[512], fields[1024], cases[32];
        an_join(json_object_get(a, "workflows"), wfs, sizeof wfs);
        an_join(json_object_get(a, "fields"), fields, sizeof fields);
        an_fmt_num(json_object_get(a, "cases"), cases);
        const char *row[] = {an_jstr(a, "action"), wfs, *fields ? fields : "-", cases,
                             an_jstr(a, "generated")};
        an_table_row(&t, row);
    }
    an_heading(out, fmt, "Actions allowed in more than one workflow");
    if (t.nrows > 1)
        an_table_print(&t, fmt, out);
    else
        strbuf_puts(out, "No action is allowed in more than one workflow that an agent runs; "
                         "nothing to compare.\n");
    an_table_release(&t);
}

static void print_side(const json_t *s, charter_format fmt, strbuf *out)
{
    char fired[512];
    an_join(json_object_get(s, "fired"), fired, sizeof fired);
    const char *dept = json_string_value(json_object_get(s, "department"));
    strbuf_printf(out, "%s%s (%s, %s): %s (%s)%s%s\n", fmt == CHARTER_FORMAT_MD ? "- " : "    ",
                  an_jstr(s, "workflow"), dept ? dept : "no department", an_jstr(s, "autonomy"),
                  an_jstr(s, "decision"), an_jstr(s, "reason"), *fired ? ", fired: " : "",
                  fired);
}

static void print_disagreements(const json_t *r, charter_format fmt, strbuf *out)
{
    const json_t *ds = json_object_get(r, "disagreements"), *d;
    size_t i;
    an_heading(out, fmt, "Situations decided differently");
    if (!json_array_size(ds))
        strbuf_puts(out, "None: every generated situation is decided the same way in every "
                         "workflow that allows the action (differences that come only from "
                         "autonomy classes are listed below).\n");
    json_array_foreach(ds, i, d) {
        const json_t *sides = json_object_get(d, "sides");
        char because[512];
        an_join(json_object_get(d, "because"), because, sizeof because);
        strbuf_printf(out, "%s%zu. %s: %s vs %s in %lld generated case%s%s%s\n",
                      fmt == CHARTER_FORMAT_MD ? "### " : "", i + 1, an_jstr(d, "action"),
                      an_jstr(json_array_get(sides, 0), "decision"),
                      an_jstr(json_array_get(sides, 1), "decision"), an_jint(d, "cases"),
                      an_jint(d, "cases") == 1 ? "" : "s", *because ? "; because of " : "",
                      because);
        if (fmt == CHARTER_FORMAT_MD)
            strbuf_puts(out, "\n");
        print_side(json_array_get(sides, 0), fmt, out);
        print_side(json_array_get(sides, 1), fmt, out);
        char *ex = an_json_dump(json_object_get(d, "example"), AN_JSON_COMPACT);
        if (fmt == CHARTER_FORMAT_MD)
            strbuf_printf(out, "\nExample request:\n\n```json\n%s\n```\n\n", ex ? ex : "");
        else
            strbuf_printf(out, "    example: %s\n", ex ? ex : "");
        free(ex);
    }
}

static void print_autonomy(const json_t *r, charter_format fmt, strbuf *out)
{
    static const char *const head[] = {"action", "workflows", "autonomy", "cases"};
    an_table t;
    an_table_init(&t, 4, head);
    const json_t *a;
    size_t i;
    json_array_foreach(json_object_get(r, "autonomy_differences"), i, a) {
        char wfs[512], aut[256], cases[32];
        an_join(json_object_get(a, "workflows"), wfs, sizeof wfs);
        an_join(json_object_get(a, "autonomy"), aut, sizeof aut);
        an_fmt_num(json_object_get(a, "cases"), cases);
        const char *row[] = {an_jstr(a, "action"), wfs, aut, cases};
        an_table_row(&t, row);
    }
    if (t.nrows > 1) {
        an_heading(out, fmt, "Differences from autonomy alone (no rule involved; by design)");
        an_table_print(&t, fmt, out);
    }
    an_table_release(&t);
}

static void print_never(const json_t *r, charter_format fmt, strbuf *out)
{
    const json_t *ns = json_object_get(r, "never_fire"), *n;
    size_t i;
    if (!json_array_size(ns))
        return;
    an_heading(out, fmt, "Rules that never decide (shown as warnings by charter check)");
    json_array_foreach(ns, i, n) {
        char by[512];
        an_join(json_object_get(n, "preempted_by"), by, sizeof by);
        strbuf_printf(out, "%s%s:%lld:%lld: %s rule '%s' holds in %lld generated case%s, "
                      "each decided first by %s\n", fmt == CHARTER_FORMAT_MD ? "- " : "",
                      an_jstr(n, "file"), an_jint(n, "line"), an_jint(n, "column"),
                      an_jstr(n, "effect"), an_jstr(n, "rule"), an_jint(n, "cases"),
                      an_jint(n, "cases") == 1 ? "" : "s", by);
    }
}

charter_status an_consistency_render(const json_t *r, charter_format fmt, strbuf *out)
{
    strbuf_printf(out, "%sConsistency of judgment: %s\n", fmt == CHARTER_FORMAT_MD ? "# " : "",
                  an_jstr(r, "organization"));
    size_t found = json_array_size(json_object_get(r, "disagreements"));
    strbuf_printf(out, "%s%zu disagreement%s found", fmt == CHARTER_FORMAT_MD ? "\n" : "", found,
                  found == 1 ? "" : "s");
    long long more = an_jint(r, "disagreeing_cases_not_listed");
    if (more)
        strbuf_printf(out, " (the first %zu; %lld more disagreeing cases are not listed)", found,
                      more);
    strbuf_puts(out, "\n");
    print_compared(r, fmt, out);
    print_disagreements(r, fmt, out);
    print_autonomy(r, fmt, out);
    print_never(r, fmt, out);
    const json_t *sk;
    size_t i;
    json_array_foreach(json_object_get(r, "skipped"), i, sk) {
        if (!i)
            an_heading(out, fmt, "Not compared");
        strbuf_printf(out, "%s%s in %s: %s\n", fmt == CHARTER_FORMAT_MD ? "- " : "",
                      an_jstr(sk, "action"), an_jstr(sk, "workflow"), an_jstr(sk, "why"));
    }
    return out->failed ? CHARTER_E_NOMEM : CHARTER_OK;
}
