/* report.c - the alignment report (charter_report).
 *
 * One pass over the ledger (tally.c) counts decisions, escalations and
 * outcome reports; this file lays those counts over the charter's goals:
 * every outcome metric against its target and every health metric against
 * its limit, per period, with a trend, and the warning that matters most:
 * an outcome improving while a health metric of the same goal degrades over
 * the same periods. docs/analyses.md explains every figure.
 *
 * The charter comes as its canonical JSON (charter_canonical_json, or the
 * last version recorded in the ledger), so the report needs nothing but
 * the public headers' view of a charter.
 */
#include "base/banned.h"

#include "analyses/report.h"

#include <math.h>

#include "charter_ledger.h"

#include "analyses/render.h"

/* ---- Metric series ----------------------------------------------------------- */

typedef enum role { ROLE_OUTCOME, ROLE_HEALTH } role;

/* One metric of a goal, as the charter states it. */
typedef struct metric_def {
    const char *name;
    role role;
    bool decrease;              /* outcome: lower is better */
    bool has_min, has_max;
    double target, min, max;
} metric_def;

static void metric_def_read(const json_t *m, role r, metric_def *d)
{
    memset(d, 0, sizeof *d);
    d->name = an_jstr(m, "metric");
    d->role = r;
    d->decrease = !strcmp(an_jstr(m, "direction"), "decrease");
    d->target = json_number_value(json_object_get(m, "target"));
    d->has_min = json_is_number(json_object_get(m, "min"));
    d->has_max = json_is_number(json_object_get(m, "max"));
    d->min = json_number_value(json_object_get(m, "min"));
    d->max = json_number_value(json_object_get(m, "max"));
}

/* Is `v` where the charter wants it: an outcome at its target, a health
 * metric within its limits. */
static bool metric_ok(const metric_def *d, double v)
{
    if (d->role == ROLE_OUTCOME)
        return d->decrease ? v <= d->target : v >= d->target;
    return (!d->has_min || v >= d->min) && (!d->has_max || v <= d->max);
}

/* How good a value is, larger is better: an outcome's value (negated when
 * lower is better); a health metric's distance to its nearest limit. */
static double goodness(const metric_def *d, double v)
{
    if (d->role == ROLE_OUTCOME)
        return d->decrease ? -v : v;
    double g = INFINITY;
    if (d->has_min)
        g = v - d->min;
    if (d->has_max && d->max - v < g)
        g = d->max - v;
    return g;
}

/* The trend between two values: a change of at most 1 % (of the larger
 * magnitude) is steady. */
static const char *trend_of(const metric_def *d, double first, double last)
{
    double scale = fmax(fabs(first), fabs(last));
    if (fabs(last - first) <= 0.01 * scale)
        return "steady";
    return goodness(d, last) > goodness(d, first) ? "improving" : "degrading";
}

/* The mean of a metric's reports in period p, or false without reports. */
static bool metric_mean(const an_tally *t, uint32_t metric, int32_t p, double *mean,
                        uint64_t *n)
{
    const an_cell *c = an_cell_find(t, AN_METRIC, metric, p);
    if (!c || !c->c[0])
        return false;
    *mean = c->sum / (double)c->c[0];
    *n = c->c[0];
    return true;
}

static json_t *metric_json(const an_tally *t, const metric_def *d)
{
    json_t *m = json_object(), *series = json_array();
    json_object_set_new(m, "metric", json_string(d->name));
    json_object_set_new(m, "role", json_string(d->role == ROLE_OUTCOME ? "outcome" : "health"));
    if (d->role == ROLE_OUTCOME) {
        json_object_set_new(m, "target", json_real(d->target));
        json_object_set_new(m, "direction", json_string(d->decrease ? "decrease" : "increase"));
    } else {
        json_object_set_new(m, "min", d->has_min ? json_real(d->min) : json_null());
        json_object_set_new(m, "max", d->has_max ? json_real(d->max) : json_null());
    }
    uint32_t id = an_lookup(&t->names, d->name, strlen(d->name));
    double first = 0, last = 0, v;
    uint64_t n, count = 0;
    for (size_t i = 0; i < t->nperiods; i++) {
        if (!metric_mean(t, id, t->periods[i], &v, &n))
            continue;
        char label[16];
        an_period_label(t->by, t->periods[i], label);
        json_t *pt = json_object();
        json_object_set_new(pt, "period", json_string(label));
        json_object_set_new(pt, "value", json_real(v));
        json_object_set_new(pt, "reports", json_integer((json_int_t)n));
        bool ok = metric_ok(d, v);
        const char *status = d->role == ROLE_OUTCOME ? (ok ? "met" : "missed")
                                                     : (ok ? "within" : "breached");
        json_object_set_new(pt, "status", json_string(status));
        json_array_append_new(series, pt);
        if (!count++)
            first = v;
        last = v;
    }
    json_object_set_new(m, "series", series);
    json_object_set_new(m, "trend", json_string(count == 0 ? "no data"
                                                : count == 1 ? "one period"
                                                : trend_of(d, first, last)));
    return m;
}

/* ---- The headline warning ---------------------------------------------------- */

/* Decisions per agent in the goal's workflows over periods [from, to]. */
static json_t *agents_involved(const an_tally *t, const json_t *workflows, int32_t from,
                               int32_t to)
{
    json_t *counts = json_object();
    for (size_t i = 0; i < t->cells_cap; i++) {
        const an_cell *c = &t->cells[i];
        if (c->kind != AN_WF_AGENT || c->period < from || c->period > to)
            continue;
        const char *pair = t->names.v[c->name];
        const char *sep = strchr(pair, '\x1f');
        if (!sep)
            continue;
        bool ours = false;
        size_t k;
        json_t *w;
        json_array_foreach(workflows, k, w) {
            const char *id = json_string_value(w);
            size_t wlen = (size_t)(sep - pair);
            ours = ours || (strlen(id) == wlen && !strncmp(id, pair, wlen));
        }
        if (!ours)
            continue;
        json_t *have = json_object_get(counts, sep + 1);
        json_int_t n = (json_int_t)c->c[0] + (have ? json_integer_value(have) : 0);
        json_object_set_new(counts, sep + 1, json_integer(n));
    }
    /* As a list, most decisions first, then by id. */
    json_t *list = json_array();
    const char *key;
    json_t *v;
    json_object_foreach(counts, key, v) {
        size_t at = json_array_size(list);
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *o = json_array_get(list, i);
            json_int_t n = json_integer_value(json_object_get(o, "decisions"));
            if (json_integer_value(v) > n ||
                (json_integer_value(v) == n && strcmp(key, an_jstr(o, "agent")) < 0)) {
                at = i;
                break;
            }
        }
        json_t *o = json_object();
        json_object_set_new(o, "agent", json_string(key));
        json_object_set_new(o, "decisions", json_integer(json_integer_value(v)));
        json_array_insert_new(list, at, o);
    }
    json_decref(counts);
    return list;
}

/* The workflows serving a goal that decided anything in [from, to]. */
static json_t *workflows_involved(const an_tally *t, const json_t *model, const char *goal,
                                  int32_t from, int32_t to)
{
    json_t *out = json_array(), *w, *g;
    size_t i, k;
    json_array_foreach(json_object_get(model, "workflows"), i, w) {
        bool serves = false;
        json_array_foreach(json_object_get(w, "goals"), k, g)
            serves = serves || !strcmp(json_string_value(g), goal);
        if (!serves)
            continue;
        uint32_t id = an_lookup(&t->names, an_jstr(w, "id"), strlen(an_jstr(w, "id")));
        bool active = false;
        for (size_t p = 0; p < t->nperiods && !active; p++)
            active = t->periods[p] >= from && t->periods[p] <= to &&
                     an_cell_find(t, AN_WF, id, t->periods[p]);
        if (active)
            json_array_append_new(out, json_string(an_jstr(w, "id")));
    }
    return out;
}

/* First and last periods where both metrics have reports, with their
 * values there; false when they share fewer than two periods. */
typedef struct overlap {
    int32_t from, to;
    double o_first, o_last, h_first, h_last;
} overlap;

static bool common_periods(const an_tally *t, uint32_t om, uint32_t hm, overlap *ov)
{
    size_t shared = 0;
    for (size_t i = 0; i < t->nperiods; i++) {
        double o, h;
        uint64_t n;
        int32_t p = t->periods[i];
        if (!metric_mean(t, om, p, &o, &n) || !metric_mean(t, hm, p, &h, &n))
            continue;
        if (!shared++) {
            ov->from = p;
            ov->o_first = o;
            ov->h_first = h;
        }
        ov->to = p;
        ov->o_last = o;
        ov->h_last = h;
    }
    return shared >= 2;
}

static void warn_pair(const an_tally *t, const json_t *model, const char *goal,
                      const metric_def *od, const metric_def *hd, json_t *warnings)
{
    uint32_t om = an_lookup(&t->names, od->name, strlen(od->name));
    uint32_t hm = an_lookup(&t->names, hd->name, strlen(hd->name));
    overlap ov = {0};
    if (om == AN_NONE || hm == AN_NONE || !common_periods(t, om, hm, &ov))
        return;
    if (strcmp(trend_of(od, ov.o_first, ov.o_last), "improving") ||
        strcmp(trend_of(hd, ov.h_first, ov.h_last), "degrading"))
        return;
    char from[16], to[16];
    an_period_label(t->by, ov.from, from);
    an_period_label(t->by, ov.to, to);
    bool breached = !metric_ok(hd, ov.h_last);
    json_t *wf = workflows_involved(t, model, goal, ov.from, ov.to);
    json_t *w = json_object();
    json_object_set_new(w, "goal", json_string(goal));
    json_object_set_new(w, "outcome", json_string(od->name));
    json_object_set_new(w, "health", json_string(hd->name));
    json_object_set_new(w, "from", json_string(from));
    json_object_set_new(w, "to", json_string(to));
    json_object_set_new(w, "outcome_first", json_real(ov.o_first));
    json_object_set_new(w, "outcome_last", json_real(ov.o_last));
    json_object_set_new(w, "health_first", json_real(ov.h_first));
    json_object_set_new(w, "health_last", json_real(ov.h_last));
    json_object_set_new(w, "breached", json_boolean(breached));
    json_object_set_new(w, "agents", agents_involved(t, wf, ov.from, ov.to));
    json_object_set_new(w, "workflows", wf);
    char msg[1024];
    snprintf(msg, sizeof msg,
             "goal '%s': outcome '%s' improved (%.4g -> %.4g) while health '%s' "
             "degraded (%.4g -> %.4g%s) from %s to %s",
             goal, od->name, ov.o_first, ov.o_last, hd->name, ov.h_first, ov.h_last,
             breached ? ", now past its limit" : ", still within its limit", from, to);
    json_object_set_new(w, "message", json_string(msg));
    json_array_append_new(warnings, w);
}

static json_t *goals_json(const an_tally *t, const json_t *model, json_t *warnings)
{
    json_t *goals = json_array(), *g;
    size_t i;
    json_array_foreach(json_object_get(model, "goals"), i, g) {
        const char *id = an_jstr(g, "id");
        json_t *outs = json_object_get(g, "outcomes"), *hs = json_object_get(g, "health");
        size_t no = json_array_size(outs), nh = json_array_size(hs);
        json_t *metrics = json_array();
        for (size_t k = 0; k < no + nh; k++) {
            metric_def d;
            metric_def_read(json_array_get(k < no ? outs : hs, k < no ? k : k - no),
                            k < no ? ROLE_OUTCOME : ROLE_HEALTH, &d);
            json_array_append_new(metrics, metric_json(t, &d));
        }
        for (size_t a = 0; a < no; a++) {
            for (size_t b = 0; b < nh; b++) {
                metric_def od, hd;
                metric_def_read(json_array_get(outs, a), ROLE_OUTCOME, &od);
                metric_def_read(json_array_get(hs, b), ROLE_HEALTH, &hd);
                warn_pair(t, model, id, &od, &hd, warnings);
            }
        }
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(id));
        json_object_set_new(o, "objective", json_string(an_jstr(g, "objective")));
        json_object_set_new(o, "metrics", metrics);
        json_array_append_new(goals, o);
    }
    return goals;
}

/* ---- Escalations, agents, values --------------------------------------------- */

/* Names of every total cell of kind k, sorted. */
static json_t *names_of(const an_tally *t, an_kind k)
{
    json_t *set = json_object();
    for (size_t i = 0; i < t->cells_cap; i++)
        if (t->cells[i].kind == k && t->cells[i].period == AN_TOTAL)
            json_object_set_new(set, t->names.v[t->cells[i].name], json_true());
    return an_sorted_keys(set);
}

static json_t *share(uint64_t part, uint64_t whole)
{
    return whole ? json_real((double)part / (double)whole) : json_null();
}

static void put_escalations(json_t *o, const an_cell *c)
{
    uint64_t resolved = c->c[AN_ESC_RESOLVED];
    json_object_set_new(o, "escalated", json_integer((json_int_t)c->c[AN_ESC_ESCALATED]));
    json_object_set_new(o, "approved", json_integer((json_int_t)c->c[AN_ESC_APPROVED]));
    json_object_set_new(o, "approved_by_grant",
                        json_integer((json_int_t)c->c[AN_ESC_APPROVED_GRANT]));
    json_object_set_new(o, "denied", json_integer((json_int_t)c->c[AN_ESC_DENIED]));
    json_object_set_new(o, "timed_out", json_integer((json_int_t)c->c[AN_ESC_TIMED_OUT]));
    json_object_set_new(o, "open", json_integer((json_int_t)c->c[AN_ESC_OPEN]));
    json_object_set_new(o, "approval_rate", share(c->c[AN_ESC_APPROVED], resolved));
    json_object_set_new(o, "mean_minutes",
                        resolved ? json_real(c->sum / (double)resolved) : json_null());
    json_object_set_new(o, "max_minutes", resolved ? json_real(c->max) : json_null());
}

static json_t *queues_json(const an_tally *t)
{
    json_t *out = json_array(), *names = names_of(t, AN_QUEUE), *n;
    size_t i;
    json_array_foreach(names, i, n) {
        json_t *o = json_object();
        json_object_set_new(o, "queue", json_incref(n));
        put_escalations(o, an_cell_named(t, AN_QUEUE, json_string_value(n), AN_TOTAL));
        json_array_append_new(out, o);
    }
    json_decref(names);
    return out;
}

static json_t *rules_json(const an_tally *t, const json_t *model)
{
    json_t *out = json_array(), *names = names_of(t, AN_RULE), *n;
    size_t i;
    json_array_foreach(names, i, n) {
        const char *id = json_string_value(n);
        const an_cell *c = an_cell_named(t, AN_RULE, id, AN_TOTAL);
        const char *kind = "rule", *value = NULL;
        for (int b = 0; b < 2; b++) {
            json_t *r;
            size_t k;
            json_array_foreach(json_object_get(model, b ? "boundaries" : "rules"), k, r) {
                if (strcmp(an_jstr(r, "id"), id))
                    continue;
                kind = b ? "boundary" : "rule";
                value = json_string_value(json_object_get(r, "protects"));
            }
        }
        json_t *o = json_object();
        json_object_set_new(o, "rule", json_string(id));
        json_object_set_new(o, "kind", json_string(kind));
        json_object_set_new(o, "protects", value ? json_string(value) : json_null());
        json_object_set_new(o, "fired", json_integer((json_int_t)c->c[AN_RULE_FIRED]));
        put_escalations(o, c);
        json_array_append_new(out, o);
    }
    json_decref(names);
    return out;
}

static bool model_has(const json_t *model, const char *list, const char *id)
{
    json_t *x;
    size_t i;
    json_array_foreach(json_object_get(model, list), i, x)
        if (!strcmp(an_jstr(x, "id"), id))
            return true;
    return false;
}

static json_t *agents_json(const an_tally *t, const json_t *model)
{
    static const struct { const char *key; int counter; } cols[] = {
        {"decisions", AN_AG_DECISIONS}, {"allow", AN_AG_ALLOW}, {"escalate", AN_AG_ESCALATE},
        {"deny", AN_AG_DENY}, {"boundary_hits", AN_AG_BOUNDARY},
        {"stop_rule_hits", AN_AG_STOP}, {"shadow", AN_AG_SHADOW},
        {"approved", AN_AG_APPROVED}, {"approved_by_grant", AN_AG_APPROVED_GRANT},
        {"denied", AN_AG_DENIED},
        {"timed_out", AN_AG_TIMED_OUT}};
    json_t *out = json_array(), *names = names_of(t, AN_AGENT), *n;
    size_t i;
    json_array_foreach(names, i, n) {
        const an_cell *c = an_cell_named(t, AN_AGENT, json_string_value(n), AN_TOTAL);
        json_t *o = json_object();
        json_object_set_new(o, "agent", json_incref(n));
        json_object_set_new(o, "registered",
                            json_boolean(model_has(model, "agents", json_string_value(n))));
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
            json_object_set_new(o, cols[k].key,
                                json_integer((json_int_t)c->c[cols[k].counter]));
        json_array_append_new(out, o);
    }
    json_decref(names);
    return out;
}

static json_t *values_json(const an_tally *t, const json_t *model)
{
    json_t *out = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(model, "values"), i, v) {
        const an_cell *c = an_cell_named(t, AN_VALUE, an_jstr(v, "id"), AN_TOTAL);
        uint64_t z[AN_COUNTERS] = {0};
        const uint64_t *k = c ? c->c : z;
        json_t *o = json_object();
        json_object_set_new(o, "value", json_string(an_jstr(v, "id")));
        json_object_set_new(o, "rank", json_integer((json_int_t)i + 1));
        json_object_set_new(o, "fired", json_integer((json_int_t)k[AN_VAL_FIRED]));
        json_object_set_new(o, "escalated", json_integer((json_int_t)k[AN_VAL_ESCALATED]));
        json_object_set_new(o, "overruled", json_integer((json_int_t)k[AN_VAL_OVERRULED]));
        json_object_set_new(o, "upheld", json_integer((json_int_t)k[AN_VAL_UPHELD]));
        json_object_set_new(o, "timed_out", json_integer((json_int_t)k[AN_VAL_TIMED_OUT]));
        json_object_set_new(o, "overrule_rate",
                            share(k[AN_VAL_OVERRULED], k[AN_VAL_OVERRULED] + k[AN_VAL_UPHELD]));
        json_array_append_new(out, o);
    }
    return out;
}

/* ---- Building ---------------------------------------------------------------- */

charter_status an_model_load(const charter *c, const an_tally *t, json_t **model,
                             charter_error *err)
{
    size_t n = 0;
    const char *text = c ? charter_canonical_json(c, &n) : t ? t->charter_json : NULL;
    if (!text)
        return base_fail(err, CHARTER_E_INVALID,
                       "no charter: give one with --charter, or use a ledger that "
                       "records the charter its decisions were made under");
    *model = json_loadb(text, c ? n : strlen(text), 0, NULL);
    if (!json_is_object(*model)) {
        json_decref(*model);
        *model = NULL;
        return base_fail(err, CHARTER_E_NOMEM, "cannot read the charter's canonical JSON");
    }
    return CHARTER_OK;
}

static json_t *totals_json(const an_tally *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "entries", json_integer((json_int_t)t->entries));
    json_object_set_new(o, "decisions", json_integer((json_int_t)t->decisions));
    json_object_set_new(o, "allow", json_integer((json_int_t)t->allow));
    json_object_set_new(o, "escalate", json_integer((json_int_t)t->escalate));
    json_object_set_new(o, "deny", json_integer((json_int_t)t->deny));
    json_object_set_new(o, "resolutions", json_integer((json_int_t)t->resolutions));
    json_object_set_new(o, "late_resolutions", json_integer((json_int_t)t->late_resolutions));
    json_object_set_new(o, "outcomes", json_integer((json_int_t)t->outcomes));
    json_object_set_new(o, "unreadable", json_integer((json_int_t)t->unparsed));
    return o;
}

static json_t *time_or_null(int64_t ms, bool set)
{
    char buf[40];
    if (!set)
        return json_null();
    charter_time_format(ms, buf);
    return json_string(buf);
}

json_t *an_report_build(const an_tally *t, const json_t *model, const char *version,
                        const charter_report_options *o)
{
    json_t *r = json_object(), *periods = json_array(), *warnings = json_array();
    for (size_t i = 0; i < t->nperiods; i++) {
        char label[16];
        an_period_label(t->by, t->periods[i], label);
        json_array_append_new(periods, json_string(label));
    }
    json_object_set_new(r, "analysis", json_string("report"));
    json_object_set_new(r, "organization",
                        json_string(an_jstr(json_object_get(model, "organization"), "name")));
    json_object_set_new(r, "charter_version", version ? json_string(version) : json_null());
    json_object_set_new(r, "by", json_string(t->by == CHARTER_PERIOD_WEEK ? "week" : "day"));
    json_object_set_new(r, "since", time_or_null(o->since_ms, o->since_ms != INT64_MIN));
    json_object_set_new(r, "until", time_or_null(o->until_ms, o->until_ms != 0));
    json_object_set_new(r, "periods", periods);
    json_object_set_new(r, "totals", totals_json(t));
    json_object_set_new(r, "goals", goals_json(t, model, warnings));
    json_object_set_new(r, "warnings", warnings);
    json_object_set_new(r, "queues", queues_json(t));
    json_object_set_new(r, "rules", rules_json(t, model));
    json_object_set_new(r, "agents", agents_json(t, model));
    json_object_set_new(r, "values", values_json(t, model));
    return r;
}

static const char *recorded_version(const an_tally *t)
{
    return t->charter_version[0] ? t->charter_version : NULL;
}

charter_status charter_report(const char *ledger_path, const charter *c,
                              const charter_report_options *opt, char **json_out,
                              charter_error *err)
{
    if (!ledger_path || !json_out)
        return base_fail(err, CHARTER_E_INVALID,
                       "charter_report: a ledger path and an output are required");
    *json_out = NULL;
    charter_report_options o = {.since_ms = INT64_MIN, .until_ms = 0, .by = CHARTER_PERIOD_DAY};
    if (opt)
        o = *opt;
    an_tally t;
    an_tally_init(&t, o.by);
    charter_status st = an_tally_ledger(&t, ledger_path, o.since_ms, o.until_ms, err);
    json_t *model = NULL;
    if (st == CHARTER_OK)
        st = an_model_load(c, &t, &model, err);
    if (st == CHARTER_OK) {
        const char *version = c ? charter_version(c) : recorded_version(&t);
        json_t *r = an_report_build(&t, model, version, &o);
        *json_out = r ? an_json_dump(r, AN_JSON_COMPACT) : NULL;
        json_decref(r);
        if (!*json_out)
            st = base_fail(err, CHARTER_E_NOMEM, "out of memory writing the report");
    }
    json_decref(model);
    an_tally_release(&t);
    return st;
}
