/* charter_analyses.h - closing the loop: the alignment report, the
 * readiness map, consistency of judgment and shadow agents.
 *
 * Each analysis is one function that returns its result as a JSON object
 * (the same text an HTTP endpoint would serve); charter_analysis_render
 * turns any of those results into a readable table, Markdown, or (for the
 * map) an SVG picture. The figures and thresholds are explained in
 * docs/analyses.md.
 *
 * Conventions are those of charter.h: functions return charter_status and
 * fill an optional charter_error; every `char **out` is malloc'd and the
 * caller frees it with free(). The analyses read a charter (immutable,
 * shared) and open the ledger read-only with their own connection, so they
 * may run while a writer appends and from any number of threads at once.
 */
#ifndef CHARTER_ANALYSES_H
#define CHARTER_ANALYSES_H

#include "charter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Rendering ------------------------------------------------------------ */

typedef enum charter_format {
    CHARTER_FORMAT_TEXT = 0, /* aligned columns for a terminal */
    CHARTER_FORMAT_JSON = 1, /* the result as returned, indented */
    CHARTER_FORMAT_MD = 2,   /* Markdown tables, for sharing */
    CHARTER_FORMAT_SVG = 3   /* the readiness map only: one picture */
} charter_format;

/* "text", "json", "md" (or "markdown"), "svg" -> *out. False otherwise. */
CHARTER_API bool charter_format_parse(const char *s, charter_format *out);

/* Renders the JSON result of any analysis below (its "analysis" key says
 * which) in `fmt`. CHARTER_E_INVALID for SVG of anything but the map, or
 * JSON that is not such a result. *out is malloc'd; the caller frees it. */
CHARTER_API charter_status charter_analysis_render(const char *json, size_t n,
                                                   charter_format fmt, char **out,
                                                   charter_error *err);

/* ---- Alignment report ----------------------------------------------------- */

typedef enum charter_period {
    CHARTER_PERIOD_DAY = 0,  /* UTC days */
    CHARTER_PERIOD_WEEK = 1  /* ISO weeks, Monday 00:00 UTC */
} charter_period;

typedef struct charter_report_options {
    int64_t since_ms;        /* entries recorded at or after (INT64_MIN: all) */
    int64_t until_ms;        /* ... and before (0: no end) */
    charter_period by;
} charter_report_options;

/* The alignment report over the ledger at `ledger_path`: per goal, every
 * outcome and health metric per period with its trend and the warning for
 * an outcome improving while a health metric degrades; per escalation queue
 * and rule, what people did and how long they took; per agent its decision
 * mix; per value how often its rules fired and were overruled. The ledger is
 * read once, in order; memory grows with the charter, the number of periods
 * and the escalations open at one time, not with the ledger.
 *
 * `c` gives the goals and workflows; NULL takes them from the last charter
 * version recorded in the ledger. `opt` may be NULL (everything, by day).
 * *json_out is malloc'd. Errors: CHARTER_E_IO (not a readable ledger),
 * CHARTER_E_INVALID (no charter given and none recorded), CHARTER_E_NOMEM. */
CHARTER_API charter_status charter_report(const char *ledger_path, const charter *c,
                                          const charter_report_options *opt,
                                          char **json_out, charter_error *err);

/* ---- Readiness map -------------------------------------------------------- */

/* Every workflow of `c` in its autonomy class with its readiness attributes
 * and risk flags; with a ledger (`ledger_path` may be NULL) also the
 * evidence to move it and a recommendation (promote, step-back, review,
 * keep), under the thresholds of the charter's `readiness` section. *json_out
 * is malloc'd. Errors as charter_report. */
CHARTER_API charter_status charter_readiness_map(const charter *c,
                                                 const char *ledger_path,
                                                 char **json_out,
                                                 charter_error *err);

/* ---- Consistency of judgment ---------------------------------------------- */

/* For every action allowed in more than one workflow of `c`, builds
 * requests at, just below and just above every constant the conditions
 * compare a field with (and each string they name), decides each under
 * every such workflow and lists the situations decided differently, each
 * with a minimal example request and the rules that cause it. Also lists
 * rules that never fire on any generated case because a boundary or a deny
 * rule always decides first. *json_out is malloc'd. */
CHARTER_API charter_status charter_consistency(const charter *c, char **json_out,
                                               charter_error *err);

/* Warnings for `charter check` (code "rule-shadowed"): rules that a boundary
 * or a deny rule pre-empts in every case the consistency analysis generates
 * for them. On success *out is a malloc'd array of *n diagnostics whose
 * strings live in the same block: free(*out) frees everything. */
CHARTER_API charter_status charter_rule_warnings(const charter *c, charter_diag **out,
                                                 size_t *n, charter_error *err);

/* ---- Shadow agents -------------------------------------------------------- */

typedef struct charter_shadow_options {
    /* Extra AI-service hosts: a file with one "HOST [SERVICE]" per line
     * ('#' comments; "*.example.com" matches sub-domains), or NULL. */
    const char *hosts_path;
    /* Sources known to belong to registered agents (an address, a host
     * name, a service account), besides the agents' ids. May be NULL. */
    const char *const *known_sources;
    size_t known_source_count;
    /* Also list decision requests of unregistered agents from this ledger
     * (NULL: none). */
    const char *ledger_path;
} charter_shadow_options;

/* Reads the egress logs `paths[0..n)` (JSON Lines with a source, a
 * destination host and a time; nginx "combined" access logs; Squid native
 * access logs; the format is recognised per line) and lists the traffic to
 * AI services from sources that are not registered agents of `c`: source,
 * service, host, first and last seen, requests. *json_out is malloc'd.
 * Errors: CHARTER_E_IO (a log or the hosts file cannot be read),
 * CHARTER_E_INVALID (a malformed hosts file). Lines in no known format are
 * counted, not fatal. */
CHARTER_API charter_status charter_shadow(const charter *c, const char *const *paths,
                                          size_t n, const charter_shadow_options *opt,
                                          char **json_out, charter_error *err);

#ifdef __cplusplus
}
#endif
#endif
