/* readiness.c - the readiness map (charter_readiness_map).
 *
 * Every workflow in its autonomy class with its readiness attributes; with
 * a ledger, the evidence to move it (tally.c) and a recommendation:
 *
 *   promote    agent-augmented, at least min_cases escalations decided by
 *              people (approved, denied or left to time out), of which at
 *              least promote_approval were approved, no health metric of its
 *              goals past its limit in the latest period, no risk flag
 *   step-back  agent-ready with a health metric of its goals past its limit
 *              in the latest period, or boundary hits rising: the rate in
 *              the later half of its periods at least boundary_rise times
 *              the rate in the earlier half (min_cases decisions in each)
 *   review     agent-ready with a risk flag (irreversible, high regulatory
 *              exposure, high blast radius, restricted data)
 *   keep       everything else
 *
 * Thresholds come from the charter's `readiness` section (defaults in
 * charter/model.h); docs/analyses.md explains each.
 */
#include "base/banned.h"

#include "analyses/report.h"

#include <math.h>

#include "analyses/render.h"
#include "charter/model.h"

typedef struct evidence {
    uint64_t decisions, escalated, approved, denied, timed_out, open;
    uint64_t approved_by_grant;  /* of `approved`, by a standing approval */
    uint64_t early_decisions, early_hits, late_decisions, late_hits;
    bool rising, breached;
    json_t *health;          /* [{metric, period, value, within, scope}] */
} evidence;

static bool attr_is(const json_t *attrs, const char *key, const char *value)
{
    return !strcmp(an_jstr(attrs, key), value);
}

static json_t *risk_flags(const json_t *attrs)
{
    json_t *f = json_array();
    if (attr_is(attrs, "reversibility", "irreversible"))
        json_array_append_new(f, json_string("irreversible"));
    if (attr_is(attrs, "regulatory_exposure", "high"))
        json_array_append_new(f, json_string("regulated"));
    if (attr_is(attrs, "blast_radius", "high"))
        json_array_append_new(f, json_string("high-blast-radius"));
    if (attr_is(attrs, "data_sensitivity", "restricted"))
        json_array_append_new(f, json_string("restricted-data"));
    return f;
}

/* Boundary-hit rates of the earlier and later half of the periods in which
 * the workflow decided anything. */
static void boundary_trend(const an_tally *t, uint32_t wf, const ch_readiness_policy *pol,
                           evidence *ev)
{
    size_t active = 0, seen = 0;
    for (size_t i = 0; i < t->nperiods; i++)
        active += an_cell_find(t, AN_WF, wf, t->periods[i]) != NULL;
    for (size_t i = 0; i < t->nperiods && active >= 2; i++) {
        const an_cell *c = an_cell_find(t, AN_WF, wf, t->periods[i]);
        if (!c)
            continue;
        bool late = seen++ >= active / 2;
        *(late ? &ev->late_decisions : &ev->early_decisions) += c->c[AN_WF_DECISIONS];
        *(late ? &ev->late_hits : &ev->early_hits) += c->c[AN_WF_BOUNDARY];
    }
    if (ev->early_decisions < (uint64_t)pol->min_cases ||
        ev->late_decisions < (uint64_t)pol->min_cases || ev->late_hits <= ev->early_hits)
        return;
    double early = (double)ev->early_hits / (double)ev->early_decisions;
    double late = (double)ev->late_hits / (double)ev->late_decisions;
    ev->rising = late >= pol->boundary_rise * early;
}

/* The latest period's mean of a metric, the workflow's own reports first,
 * else every report of the metric. */
static bool latest_value(const an_tally *t, const char *metric, const char *wf,
                         char label[16], double *v, const char **scope)
{
    char pair[600];
    snprintf(pair, sizeof pair, "%s\x1f%s", metric, wf);
    for (int pass = 0; pass < 2; pass++) {
        an_kind k = pass ? AN_METRIC : AN_METRIC_WF;
        uint32_t id = an_lookup(&t->names, pass ? metric : pair, strlen(pass ? metric : pair));
        for (size_t i = t->nperiods; id != AN_NONE && i-- > 0;) {
            const an_cell *c = an_cell_find(t, k, id, t->periods[i]);
            if (c && c->c[0]) {
                *v = c->sum / (double)c->c[0];
                an_period_label(t->by, t->periods[i], label);
                *scope = pass ? "all workflows" : "this workflow";
                return true;
            }
        }
    }
    return false;
}

static void health_evidence(const an_tally *t, const json_t *model, const json_t *wf,
                            evidence *ev)
{
    const json_t *gid, *g, *h;
    size_t i, k, j;
    ev->health = json_array();
    json_array_foreach(json_object_get(wf, "goals"), i, gid) {
        json_array_foreach(json_object_get(model, "goals"), k, g) {
            if (strcmp(an_jstr(g, "id"), json_string_value(gid)))
                continue;
            json_array_foreach(json_object_get(g, "health"), j, h) {
                char label[16];
                double v;
                const char *scope;
                const char *metric = an_jstr(h, "metric");
                if (!latest_value(t, metric, an_jstr(wf, "id"), label, &v, &scope))
                    continue;
                const json_t *mn = json_object_get(h, "min"), *mx = json_object_get(h, "max");
                bool within = (!json_is_number(mn) || v >= json_number_value(mn)) &&
                              (!json_is_number(mx) || v <= json_number_value(mx));
                ev->breached = ev->breached || !within;
                json_t *o = json_object();
                json_object_set_new(o, "goal", json_string(an_jstr(g, "id")));
                json_object_set_new(o, "metric", json_string(an_jstr(h, "metric")));
                json_object_set_new(o, "period", json_string(label));
                json_object_set_new(o, "value", json_real(v));
                json_object_set_new(o, "within", json_boolean(within));
                json_object_set_new(o, "scope", json_string(scope));
                json_array_append_new(ev->health, o);
            }
        }
    }
}

static void gather(const an_tally *t, const json_t *model, const json_t *wf,
                   const ch_readiness_policy *pol, evidence *ev)
{
    memset(ev, 0, sizeof *ev);
    const char *id = an_jstr(wf, "id");
    uint32_t name = an_lookup(&t->names, id, strlen(id));
    const an_cell *c = an_cell_find(t, AN_WF, name, AN_TOTAL);
    if (c) {
        ev->decisions = c->c[AN_WF_DECISIONS];
        ev->escalated = c->c[AN_WF_ESCALATED];
        ev->approved = c->c[AN_WF_APPROVED];
        ev->approved_by_grant = c->c[AN_WF_APPROVED_GRANT];
        ev->denied = c->c[AN_WF_DENIED];
        ev->timed_out = c->c[AN_WF_TIMED_OUT];
        ev->open = c->c[AN_WF_OPEN];
        boundary_trend(t, name, pol, ev);
    }
    health_evidence(t, model, wf, ev);
}

static json_t *evidence_json(const evidence *ev)
{
    uint64_t decided = ev->approved + ev->denied + ev->timed_out;
    json_t *o = json_object();
    json_object_set_new(o, "decisions", json_integer((json_int_t)ev->decisions));
    json_object_set_new(o, "escalated", json_integer((json_int_t)ev->escalated));
    json_object_set_new(o, "approved", json_integer((json_int_t)ev->approved));
    json_object_set_new(o, "approved_by_grant",
                        json_integer((json_int_t)ev->approved_by_grant));
    json_object_set_new(o, "denied", json_integer((json_int_t)ev->denied));
    json_object_set_new(o, "timed_out", json_integer((json_int_t)ev->timed_out));
    json_object_set_new(o, "open", json_integer((json_int_t)ev->open));
    json_object_set_new(o, "approval_rate",
                        decided ? json_real((double)ev->approved / (double)decided)
                                : json_null());
    json_t *b = json_object();
    json_object_set_new(b, "earlier_decisions", json_integer((json_int_t)ev->early_decisions));
    json_object_set_new(b, "earlier_hits", json_integer((json_int_t)ev->early_hits));
    json_object_set_new(b, "later_decisions", json_integer((json_int_t)ev->late_decisions));
    json_object_set_new(b, "later_hits", json_integer((json_int_t)ev->late_hits));
    json_object_set_new(b, "rising", json_boolean(ev->rising));
    json_object_set_new(o, "boundary_hits", b);
    json_object_set_new(o, "health", json_incref(ev->health));
    return o;
}

typedef struct verdict {
    const char *what;        /* promote, step-back, review, keep */
    const char *to;          /* the class it would move to, or NULL */
    char why[512];
} verdict;

static void judge(const char *autonomy, const json_t *flags, const evidence *ev,
                  bool has_ledger, const ch_readiness_policy *pol, verdict *v)
{
    uint64_t decided = ev->approved + ev->denied + ev->timed_out;
    double rate = decided ? (double)ev->approved / (double)decided : 0;
    bool risky = json_array_size(flags) > 0;
    v->what = "keep";
    v->to = NULL;
    if (!strcmp(autonomy, "human-only")) {
        snprintf(v->why, sizeof v->why, "human-only: people do this work");
    } else if (!strcmp(autonomy, "agent-augmented")) {
        if (!has_ledger)
            snprintf(v->why, sizeof v->why, "no ledger given: no evidence to move it");
        else if (decided < (uint64_t)pol->min_cases)
            snprintf(v->why, sizeof v->why, "%llu escalations decided by people; %lld needed "
                     "before recommending a move", (unsigned long long)decided,
                     (long long)pol->min_cases);
        else if (rate < pol->promote_approval)
            snprintf(v->why, sizeof v->why, "people approved %.1f %% of %llu escalations; "
                     "promotion needs %.1f %%", 100 * rate, (unsigned long long)decided,
                     100 * pol->promote_approval);
        else if (ev->breached)
            snprintf(v->why, sizeof v->why, "%.1f %% approved, but a health metric of its "
                     "goals is past its limit", 100 * rate);
        else if (risky)
            snprintf(v->why, sizeof v->why, "%.1f %% of %llu escalations approved, but its "
                     "risk flags hold it back", 100 * rate, (unsigned long long)decided);
        else {
            v->what = "promote";
            v->to = "agent-ready";
            snprintf(v->why, sizeof v->why, "people approved %.1f %% of %llu escalations "
                     "(threshold %.1f %%, at least %lld cases) and its health metrics hold",
                     100 * rate, (unsigned long long)decided, 100 * pol->promote_approval,
                     (long long)pol->min_cases);
        }
    } else if (ev->breached || ev->rising) {
        v->what = "step-back";
        v->to = "agent-augmented";
        if (ev->breached)
            snprintf(v->why, sizeof v->why, "a health metric of its goals is past its limit "
                     "in the latest period");
        else
            snprintf(v->why, sizeof v->why, "boundary hits rose from %llu in %llu decisions "
                     "to %llu in %llu (threshold: %.2gx the rate)",
                     (unsigned long long)ev->early_hits,
                     (unsigned long long)ev->early_decisions,
                     (unsigned long long)ev->late_hits, (unsigned long long)ev->late_decisions,
                     pol->boundary_rise);
    } else if (risky) {
        v->what = "review";
        snprintf(v->why, sizeof v->why, "agent-ready although its attributes flag it");
    } else {
        snprintf(v->why, sizeof v->why, "%s",
                 has_ledger ? "health holds and boundary hits do not rise"
                            : "no ledger given: no evidence to move it");
    }
}

static json_t *workflow_json(const an_tally *t, const json_t *model, const json_t *wf,
                             const ch_readiness_policy *pol)
{
    const json_t *attrs = json_object_get(wf, "readiness");
    json_t *flags = risk_flags(attrs);
    evidence ev;
    if (t)
        gather(t, model, wf, pol, &ev);
    else
        memset(&ev, 0, sizeof ev);
    verdict v;
    judge(an_jstr(wf, "autonomy"), flags, &ev, t != NULL, pol, &v);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(an_jstr(wf, "id")));
    json_object_set_new(o, "department", json_incref(json_object_get(wf, "department")));
    json_object_set_new(o, "owner", json_incref(json_object_get(wf, "owner")));
    json_object_set_new(o, "autonomy", json_string(an_jstr(wf, "autonomy")));
    json_object_set_new(o, "goals", json_incref(json_object_get(wf, "goals")));
    json_object_set_new(o, "attributes", attrs ? json_incref((json_t *)attrs) : json_object());
    json_object_set_new(o, "risk_flags", flags);
    json_object_set_new(o, "evidence", t ? evidence_json(&ev) : json_null());
    json_object_set_new(o, "recommendation", json_string(v.what));
    json_object_set_new(o, "move_to", v.to ? json_string(v.to) : json_null());
    json_object_set_new(o, "reason", json_string(v.why));
    json_decref(ev.health);
    return o;
}

charter_status charter_readiness_map(const charter *c, const char *ledger_path,
                                     char **json_out, charter_error *err)
{
    if (!c || !json_out)
        return base_fail(err, CHARTER_E_INVALID,
                       "charter_readiness_map: a charter and an output are required");
    *json_out = NULL;
    an_tally t;
    an_tally_init(&t, CHARTER_PERIOD_DAY);
    charter_status st = ledger_path ? an_tally_ledger(&t, ledger_path, INT64_MIN, 0, err)
                                    : CHARTER_OK;
    json_t *model = NULL;
    if (st == CHARTER_OK)
        st = an_model_load(c, NULL, &model, err);
    if (st == CHARTER_OK) {
        const ch_readiness_policy *pol = &c->readiness;
        json_t *r = json_object(), *wfs = json_array(), *th = json_object(), *wf;
        size_t i;
        json_object_set_new(th, "min_cases", json_integer(pol->min_cases));
        json_object_set_new(th, "promote_approval", json_real(pol->promote_approval));
        json_object_set_new(th, "boundary_rise", json_real(pol->boundary_rise));
        json_object_set_new(th, "from_charter", json_boolean(pol->is_set));
        json_array_foreach(json_object_get(model, "workflows"), i, wf)
            json_array_append_new(wfs, workflow_json(ledger_path ? &t : NULL, model, wf, pol));
        json_object_set_new(r, "analysis", json_string("map"));
        json_object_set_new(r, "organization", json_string(charter_name(c)));
        json_object_set_new(r, "charter_version", json_string(charter_version(c)));
        json_object_set_new(r, "ledger", ledger_path ? json_true() : json_false());
        json_object_set_new(r, "thresholds", th);
        json_object_set_new(r, "workflows", wfs);
        *json_out = an_json_dump(r, AN_JSON_COMPACT);
        json_decref(r);
        if (!*json_out)
            st = base_fail(err, CHARTER_E_NOMEM, "out of memory writing the map");
    }
    json_decref(model);
    an_tally_release(&t);
    return st;
}
