/* tally.c - counting a ledger in one pass (tally.h).
 *
 * Decisions, resolutions and outcomes are read with jspan (field look-ups
 * in the payload text), never parsed into trees: that is what lets a
 * million-decision ledger be counted in seconds. Open escalations live in a
 * hash table keyed by decision seq with backward-shift deletion; every few
 * thousand entries a sweep moves the ones past their deadline to "timed
 * out", so the table holds only what is open at one time.
 */
#include "base/banned.h"

#include "analyses/tally.h"

#include <math.h>

#include "base/jspan.h"
#include "charter_ledger.h"

#define AN_MAX_FIRED 8        /* escalate rules and values kept per escalation */
#define AN_RECENT 65536       /* decisions remembered for outcomes */
#define AN_SWEEP_EVERY 4096   /* entries between deadline sweeps */
#define DAY_MS 86400000LL

struct an_open_esc {
    uint64_t seq;             /* 0: empty */
    int64_t decided_ms, deadline_ms;
    uint32_t queue, workflow, agent;
    uint32_t nrules, nvalues;
    uint32_t rules[AN_MAX_FIRED];
    uint32_t values[AN_MAX_FIRED];
};

struct an_recent {
    uint64_t seq;
    uint32_t workflow;
};

/* ---- Names ---------------------------------------------------------------- */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static bool strtab_grow(an_strtab *t)
{
    uint32_t ns = t->nslots ? t->nslots * 2 : 256;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (!slots)
        return false;
    for (uint32_t id = 0; id < t->n; id++) {
        uint64_t h = hash_bytes(t->v[id], strlen(t->v[id]));
        uint32_t i = (uint32_t)h & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = ns;
    return true;
}

uint32_t an_lookup(const an_strtab *t, const char *p, size_t n)
{
    if (!t->nslots)
        return AN_NONE;
    uint32_t i = (uint32_t)hash_bytes(p, n) & (t->nslots - 1);
    for (; t->slots[i]; i = (i + 1) & (t->nslots - 1)) {
        const char *s = t->v[t->slots[i] - 1];
        if (!strncmp(s, p, n) && s[n] == '\0')
            return t->slots[i] - 1;
    }
    return AN_NONE;
}

uint32_t an_intern(an_strtab *t, const char *p, size_t n)
{
    uint32_t id = an_lookup(t, p, n);
    if (id != AN_NONE)
        return id;
    if ((t->n + 1) * 2 > t->nslots && !strtab_grow(t))
        return AN_NONE;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        char **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return AN_NONE;
        t->v = v;
        t->cap = cap;
    }
    char *s = malloc(n + 1);
    if (!s)
        return AN_NONE;
    memcpy(s, p, n);
    s[n] = '\0';
    uint32_t i = (uint32_t)hash_bytes(p, n) & (t->nslots - 1);
    while (t->slots[i])
        i = (i + 1) & (t->nslots - 1);
    t->slots[i] = t->n + 1;
    t->v[t->n] = s;
    return t->n++;
}

void an_strtab_release(an_strtab *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- Periods -------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int32_t an_period_of(charter_period by, int64_t t_ms)
{
    int64_t day = floor_div(t_ms, DAY_MS);
    /* 1970-01-01 was a Thursday: day + 3 counts from the Monday before. */
    return (int32_t)(by == CHARTER_PERIOD_WEEK ? floor_div(day + 3, 7) : day);
}

int64_t an_period_start(charter_period by, int32_t p)
{
    int64_t day = by == CHARTER_PERIOD_WEEK ? (int64_t)p * 7 - 3 : p;
    return day * DAY_MS;
}

void an_period_label(charter_period by, int32_t p, char buf[16])
{
    char t[40];
    charter_time_format(an_period_start(by, p), t);
    memcpy(buf, t, 10);
    buf[10] = '\0';
}

static void note_period(an_tally *t, int32_t p)
{
    size_t lo = 0, hi = t->nperiods;
    if (hi && t->periods[hi - 1] == p)
        return;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->periods[mid] == p)
            return;
        if (t->periods[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->nperiods == t->periods_cap) {
        size_t cap = t->periods_cap ? t->periods_cap * 2 : 32;
        int32_t *v = realloc(t->periods, cap * sizeof *v);
        if (!v) {
            t->status = CHARTER_E_NOMEM;
            return;
        }
        t->periods = v;
        t->periods_cap = cap;
    }
    memmove(t->periods + lo + 1, t->periods + lo, (t->nperiods - lo) * sizeof *t->periods);
    t->periods[lo] = p;
    t->nperiods++;
}

/* ---- Cells ---------------------------------------------------------------- */

static uint64_t cell_hash(uint32_t kind, uint32_t name, int32_t period)
{
    uint64_t h = ((uint64_t)kind << 56) ^ ((uint64_t)name << 24) ^ (uint32_t)period;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static bool cells_grow(an_tally *t)
{
    size_t cap = t->cells_cap ? t->cells_cap * 2 : 1024;
    an_cell *v = calloc(cap, sizeof *v);
    if (!v)
        return false;
    for (size_t i = 0; i < t->cells_cap; i++) {
        const an_cell *c = &t->cells[i];
        if (!c->kind)
            continue;
        size_t j = cell_hash(c->kind, c->name, c->period) & (cap - 1);
        while (v[j].kind)
            j = (j + 1) & (cap - 1);
        v[j] = *c;
    }
    free(t->cells);
    t->cells = v;
    t->cells_cap = cap;
    return true;
}

static size_t cell_slot(const an_tally *t, uint32_t kind, uint32_t name, int32_t period)
{
    size_t j = cell_hash(kind, name, period) & (t->cells_cap - 1);
    while (t->cells[j].kind &&
           !(t->cells[j].kind == kind && t->cells[j].name == name &&
             t->cells[j].period == period))
        j = (j + 1) & (t->cells_cap - 1);
    return j;
}

/* The cell, created when new; NULL when out of memory (status set). The
 * pointer lives until the next cell_get. */
static an_cell *cell_get(an_tally *t, an_kind k, uint32_t name, int32_t period)
{
    if (name == AN_NONE || t->status != CHARTER_OK)
        return NULL;
    if ((t->ncells + 1) * 2 > t->cells_cap && !cells_grow(t)) {
        t->status = CHARTER_E_NOMEM;
        return NULL;
    }
    size_t j = cell_slot(t, k, name, period);
    an_cell *c = &t->cells[j];
    if (!c->kind) {
        c->kind = k;
        c->name = name;
        c->period = period;
        t->ncells++;
    }
    return c;
}

const an_cell *an_cell_find(const an_tally *t, an_kind k, uint32_t name, int32_t period)
{
    if (name == AN_NONE || !t->cells_cap)
        return NULL;
    const an_cell *c = &t->cells[cell_slot(t, k, name, period)];
    return c->kind ? c : NULL;
}

const an_cell *an_cell_named(const an_tally *t, an_kind k, const char *name,
                             int32_t period)
{
    return an_cell_find(t, k, an_lookup(&t->names, name, strlen(name)), period);
}

static void bump(an_tally *t, an_kind k, uint32_t name, int32_t period, int counter)
{
    an_cell *c = cell_get(t, k, name, period);
    if (c)
        c->c[counter]++;
}

static uint32_t intern_pair(an_tally *t, uint32_t a, uint32_t b)
{
    if (a == AN_NONE || b == AN_NONE)
        return AN_NONE;
    char buf[600];
    size_t na = strlen(t->names.v[a]), nb = strlen(t->names.v[b]);
    if (na + nb + 1 > sizeof buf)
        return AN_NONE;
    memcpy(buf, t->names.v[a], na);
    buf[na] = '\x1f';
    memcpy(buf + na + 1, t->names.v[b], nb);
    uint32_t id = an_intern(&t->names, buf, na + 1 + nb);
    if (id == AN_NONE)
        t->status = CHARTER_E_NOMEM;
    return id;
}

/* ---- Open escalations ----------------------------------------------------- */

static size_t esc_home(const an_tally *t, uint64_t seq)
{
    uint64_t h = seq * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 17) & (t->open_cap - 1);
}

static bool esc_grow(an_tally *t)
{
    size_t old = t->open_cap;
    an_open_esc *prev = t->open;
    size_t cap = old ? old * 2 : 256;
    an_open_esc *v = calloc(cap, sizeof *v);
    if (!v)
        return false;
    t->open = v;
    t->open_cap = cap;
    for (size_t i = 0; i < old; i++) {
        if (!prev[i].seq)
            continue;
        size_t j = esc_home(t, prev[i].seq);
        while (v[j].seq)
            j = (j + 1) & (cap - 1);
        v[j] = prev[i];
    }
    free(prev);
    return true;
}

static an_open_esc *esc_add(an_tally *t, uint64_t seq)
{
    if ((t->nopen + 1) * 2 > t->open_cap && !esc_grow(t)) {
        t->status = CHARTER_E_NOMEM;
        return NULL;
    }
    size_t j = esc_home(t, seq);
    while (t->open[j].seq && t->open[j].seq != seq)
        j = (j + 1) & (t->open_cap - 1);
    if (!t->open[j].seq)
        t->nopen++;
    memset(&t->open[j], 0, sizeof t->open[j]);
    t->open[j].seq = seq;
    return &t->open[j];
}

static an_open_esc *esc_find(an_tally *t, uint64_t seq)
{
    if (!t->open_cap)
        return NULL;
    for (size_t j = esc_home(t, seq); t->open[j].seq; j = (j + 1) & (t->open_cap - 1))
        if (t->open[j].seq == seq)
            return &t->open[j];
    return NULL;
}

/* Removes the entry at e, shifting later members of its cluster back so
 * look-ups never stop at a hole that used to be theirs. */
static void esc_remove(an_tally *t, an_open_esc *e)
{
    size_t mask = t->open_cap - 1, i = (size_t)(e - t->open), j = i;
    t->open[i].seq = 0;
    t->nopen--;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->open[j].seq)
            return;
        size_t home = esc_home(t, t->open[j].seq);
        /* Move j back to i when its home is not in (i, j] cyclically. */
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            t->open[i] = t->open[j];
            t->open[j].seq = 0;
            i = j;
        }
    }
}

/* How an escalation ended. An approval by a standing approval is an
 * approval, also counted apart. */
typedef enum esc_end { ESC_APPROVED, ESC_DENIED, ESC_TIMED_OUT, ESC_APPROVED_BY_GRANT } esc_end;

/* An escalation ends: approved, denied or timed out; counted against its
 * queue, its escalate rules, their values, its workflow and agent. */
static void esc_close(an_tally *t, const an_open_esc *e, esc_end end, int64_t when_ms)
{
    static const int wf_counter[] = {AN_WF_APPROVED, AN_WF_DENIED, AN_WF_TIMED_OUT};
    static const int ag_counter[] = {AN_AG_APPROVED, AN_AG_DENIED, AN_AG_TIMED_OUT};
    static const int val_counter[] = {AN_VAL_OVERRULED, AN_VAL_UPHELD, AN_VAL_TIMED_OUT};
    static const int esc_counter[] = {AN_ESC_APPROVED, AN_ESC_DENIED, AN_ESC_TIMED_OUT};
    bool by_grant = end == ESC_APPROVED_BY_GRANT;
    int outcome = by_grant ? ESC_APPROVED : (int)end;
    if (by_grant) {
        bump(t, AN_WF, e->workflow, AN_TOTAL, AN_WF_APPROVED_GRANT);
        bump(t, AN_AGENT, e->agent, AN_TOTAL, AN_AG_APPROVED_GRANT);
    }
    double minutes = (double)(when_ms - e->decided_ms) / 60000.0;
    if (minutes < 0)
        minutes = 0;
    bump(t, AN_WF, e->workflow, AN_TOTAL, wf_counter[outcome]);
    bump(t, AN_AGENT, e->agent, AN_TOTAL, ag_counter[outcome]);
    for (uint32_t i = 0; i < e->nvalues; i++)
        bump(t, AN_VALUE, e->values[i], AN_TOTAL, val_counter[outcome]);
    an_cell *c;
    for (uint32_t i = 0; i <= e->nrules; i++) {
        if (i < e->nrules)
            c = cell_get(t, AN_RULE, e->rules[i], AN_TOTAL);
        else
            c = cell_get(t, AN_QUEUE, e->queue, AN_TOTAL);
        if (!c)
            continue;
        c->c[esc_counter[outcome]]++;
        if (by_grant)
            c->c[AN_ESC_APPROVED_GRANT]++;
        if (outcome != ESC_TIMED_OUT) {
            c->c[AN_ESC_RESOLVED]++;
            c->sum += minutes;
            if (minutes > c->max)
                c->max = minutes;
        }
    }
}

/* SWEEP_DEADLINES during the pass; SWEEP_FINAL at its end also counts what
 * is still open. */
typedef enum sweep_kind { SWEEP_DEADLINES, SWEEP_FINAL } sweep_kind;

static void esc_sweep(an_tally *t, int64_t now_ms, sweep_kind kind)
{
    for (size_t j = 0; j < t->open_cap;) {
        an_open_esc *e = &t->open[j];
        if (e->seq && e->deadline_ms && e->deadline_ms <= now_ms) {
            esc_close(t, e, ESC_TIMED_OUT, e->deadline_ms);
            esc_remove(t, e); /* may shift a later entry into j: look again */
            continue;
        }
        if (kind == SWEEP_FINAL && e->seq) {
            bump(t, AN_QUEUE, e->queue, AN_TOTAL, AN_ESC_OPEN);
            bump(t, AN_WF, e->workflow, AN_TOTAL, AN_WF_OPEN);
            for (uint32_t i = 0; i < e->nrules; i++)
                bump(t, AN_RULE, e->rules[i], AN_TOTAL, AN_ESC_OPEN);
        }
        j++;
    }
}

/* ---- Entries -------------------------------------------------------------- */

/* Is time x inside the window; moves the pass's clock forward. */
static bool in_window(an_tally *t, int64_t x)
{
    if (x < t->since_ms || (t->until_ms && x >= t->until_ms))
        return false;
    if (x > t->now_ms)
        t->now_ms = x;
    return true;
}

static uint32_t intern_span(an_tally *t, jspan v)
{
    char buf[512];
    const char *s;
    size_t n;
    if (!jspan_str(v, buf, sizeof buf, &s, &n))
        return AN_NONE;
    uint32_t id = an_intern(&t->names, s, n);
    if (id == AN_NONE)
        t->status = CHARTER_E_NOMEM;
    return id;
}

static uint32_t intern_field(an_tally *t, jspan obj, const char *key)
{
    jspan v;
    return jspan_get(obj, key, &v) ? intern_span(t, v) : AN_NONE;
}

static bool num_field(jspan obj, const char *key, double *out)
{
    jspan v;
    return jspan_get(obj, key, &v) && jspan_num(v, out);
}

typedef struct decision_view {
    uint32_t agent, workflow, queue;
    int effect;                  /* 0 allow, 1 escalate, 2 deny */
    bool boundary, stop_rule, shadow;
    int64_t time_ms, deadline_ms;
    jspan fired;                 /* the answer's "fired" array */
} decision_view;

/* Counts every fired entry: per rule (fired), per value (fired); keeps the
 * escalate rules and their values for the escalation. */
static void count_fired(an_tally *t, jspan fired, an_open_esc *esc)
{
    static const char *const keys[] = {"id", "effect", "value"};
    jspan f, k[3];
    size_t pos = 0;
    while (fired.p && jspan_next(fired, &pos, &f)) {
        jspan_fields(f, keys, 3, k);
        uint32_t id = k[0].p ? intern_span(t, k[0]) : AN_NONE;
        uint32_t value = AN_NONE;
        bump(t, AN_RULE, id, AN_TOTAL, AN_RULE_FIRED);
        if (k[2].p && !jspan_is_null(k[2])) {
            value = intern_span(t, k[2]);
            bump(t, AN_VALUE, value, AN_TOTAL, AN_VAL_FIRED);
        }
        bool escalates = jspan_str_eq(k[1], "escalate");
        if (!esc || !escalates)
            continue;
        bump(t, AN_RULE, id, AN_TOTAL, AN_ESC_ESCALATED);
        if (esc->nrules < AN_MAX_FIRED && id != AN_NONE)
            esc->rules[esc->nrules++] = id;
        if (value == AN_NONE)
            continue;
        bool seen = false;
        for (uint32_t i = 0; i < esc->nvalues; i++)
            seen = seen || esc->values[i] == value;
        if (!seen && esc->nvalues < AN_MAX_FIRED) {
            esc->values[esc->nvalues++] = value;
            bump(t, AN_VALUE, value, AN_TOTAL, AN_VAL_ESCALATED);
        }
    }
}

/* Each payload is scanned once per object for the keys it needs
 * (jspan_fields), in the order the ledger writes them. */
static bool read_decision(an_tally *t, jspan payload, decision_view *d)
{
    static const char *const top[] = {"answer", "request", "time_ms"};
    static const char *const ans[] = {"decision", "reason", "fired", "escalation", "shadow"};
    static const char *const who[] = {"agent", "workflow"};
    jspan f[3], a[5], r[2], v;
    double num;
    if (jspan_fields(payload, top, 3, f) != 3 || !jspan_num(f[2], &num))
        return false;
    memset(d, 0, sizeof *d);
    d->time_ms = (int64_t)num;
    jspan_fields(f[1], who, 2, r);
    d->agent = r[0].p ? intern_span(t, r[0]) : AN_NONE;
    d->workflow = r[1].p ? intern_span(t, r[1]) : AN_NONE;
    d->queue = AN_NONE;
    jspan_fields(f[0], ans, 5, a);
    if (!a[0].p)
        return false;
    d->effect = jspan_str_eq(a[0], "allow") ? 0 : jspan_str_eq(a[0], "escalate") ? 1 : 2;
    d->boundary = jspan_str_eq(a[1], "boundary");
    d->stop_rule = jspan_str_eq(a[1], "stop_rule");
    d->shadow = jspan_str_eq(a[1], "unknown_agent") || jspan_is_true(a[4]);
    d->fired = a[2];
    jspan esc = a[3];
    if (d->effect == 1 && esc.p && !jspan_is_null(esc)) {
        d->queue = intern_field(t, esc, "queue");
        char buf[64];
        const char *s;
        size_t n;
        if (jspan_get(esc, "deadline", &v) && jspan_str(v, buf, sizeof buf, &s, &n) &&
            n < sizeof buf) {
            char ts[64];
            memcpy(ts, s, n);
            ts[n] = '\0';
            int64_t ms;
            if (charter_time_parse(ts, &ms))
                d->deadline_ms = ms;
        }
    }
    return d->agent != AN_NONE && d->workflow != AN_NONE;
}

static void count_decision(an_tally *t, uint64_t seq, jspan payload)
{
    decision_view d;
    if (!read_decision(t, payload, &d)) {
        t->unparsed++;
        return;
    }
    if (!in_window(t, d.time_ms))
        return;
    int32_t p = an_period_of(t->by, d.time_ms);
    note_period(t, p);
    t->decisions++;
    static const int wf_effect[] = {AN_WF_ALLOW, AN_WF_ESCALATED, AN_WF_DENY};
    static const int ag_effect[] = {AN_AG_ALLOW, AN_AG_ESCALATE, AN_AG_DENY};
    uint64_t *total = d.effect == 0 ? &t->allow : d.effect == 1 ? &t->escalate : &t->deny;
    (*total)++;
    /* An unregistered agent's requests are not the workflow's work: they
     * count for the agent (as shadow activity) only. */
    for (int k = 0; k < 2 && !d.shadow; k++) {
        int32_t when = k ? AN_TOTAL : p;
        an_cell *c = cell_get(t, AN_WF, d.workflow, when);
        if (!c)
            return;
        c->c[AN_WF_DECISIONS]++;
        c->c[wf_effect[d.effect]]++;
        c->c[AN_WF_BOUNDARY] += d.boundary;
        c->c[AN_WF_STOP] += d.stop_rule;
    }
    if (!d.shadow)
        bump(t, AN_WF_AGENT, intern_pair(t, d.workflow, d.agent), p, 0);
    an_cell *ag = cell_get(t, AN_AGENT, d.agent, AN_TOTAL);
    if (!ag)
        return;
    ag->c[AN_AG_DECISIONS]++;
    ag->c[ag_effect[d.effect]]++;
    ag->c[AN_AG_BOUNDARY] += d.boundary;
    ag->c[AN_AG_STOP] += d.stop_rule;
    ag->c[AN_AG_SHADOW] += d.shadow;
    an_recent *r = &t->recent[seq % AN_RECENT];
    r->seq = seq;
    r->workflow = d.workflow;
    an_open_esc *esc = NULL;
    if (d.effect == 1) {
        if (!(esc = esc_add(t, seq)))
            return;
        esc->decided_ms = d.time_ms;
        esc->deadline_ms = d.deadline_ms;
        esc->queue = d.queue != AN_NONE ? d.queue : an_intern(&t->names, "(none)", 6);
        esc->workflow = d.workflow;
        esc->agent = d.agent;
        bump(t, AN_QUEUE, esc->queue, AN_TOTAL, AN_ESC_ESCALATED);
    }
    /* Counting fired rules touches only cells, never the table esc is in. */
    count_fired(t, d.fired, esc);
}

static bool parse_decision_id(jspan v, uint64_t *seq)
{
    char buf[40];
    const char *s;
    size_t n;
    if (!jspan_str(v, buf, sizeof buf, &s, &n) || n < 3 || n > 22 || s[0] != 'd' ||
        s[1] != '-')
        return false;
    uint64_t x = 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *seq = x;
    return true;
}

static void count_resolution(an_tally *t, jspan payload, int64_t entry_ms)
{
    jspan v;
    uint64_t seq;
    double when;
    if (!jspan_get(payload, "decision_id", &v) || !parse_decision_id(v, &seq)) {
        t->unparsed++;
        return;
    }
    int64_t at = num_field(payload, "time_ms", &when) ? (int64_t)when : entry_ms;
    if (!in_window(t, at))
        return;
    t->resolutions++;
    an_open_esc *e = esc_find(t, seq);
    if (!e) {
        t->late_resolutions++;
        return;
    }
    bool approve = jspan_get(payload, "resolution", &v) && jspan_str_eq(v, "approve");
    /* "grant": the standing approval that approved it (a string; absent or
     * null when a person did). */
    bool by_grant = approve && jspan_get(payload, "grant", &v) && v.n && v.p[0] == '"';
    if (e->deadline_ms && at > e->deadline_ms) {
        /* Resolved after its deadline: it had timed out by then, whether or
         * not a sweep noticed before this entry. */
        esc_close(t, e, ESC_TIMED_OUT, e->deadline_ms);
        t->late_resolutions++;
    } else {
        esc_close(t, e, by_grant ? ESC_APPROVED_BY_GRANT : approve ? ESC_APPROVED : ESC_DENIED,
                  at);
    }
    esc_remove(t, e);
}

static void count_outcome(an_tally *t, jspan payload, int64_t entry_ms)
{
    jspan v;
    double value, when, from, to;
    uint32_t metric = intern_field(t, payload, "metric");
    if (metric == AN_NONE || !num_field(payload, "value", &value)) {
        t->unparsed++;
        return;
    }
    int64_t at = num_field(payload, "time_ms", &when) ? (int64_t)when : entry_ms;
    if (!in_window(t, at))
        return;
    t->outcomes++;
    uint32_t workflow = AN_NONE;
    uint64_t seq;
    if (jspan_get(payload, "decision_id", &v) && parse_decision_id(v, &seq)) {
        const an_recent *r = &t->recent[seq % AN_RECENT];
        if (r->seq == seq)
            workflow = r->workflow;
    } else if ((workflow = intern_field(t, payload, "workflow")) != AN_NONE &&
               num_field(payload, "from_ms", &from) && num_field(payload, "to_ms", &to)) {
        /* A window counts in the period holding its middle. */
        at = (int64_t)from + ((int64_t)to - (int64_t)from) / 2;
    }
    int32_t p = an_period_of(t->by, at);
    note_period(t, p);
    an_cell *c = cell_get(t, AN_METRIC, metric, p);
    if (c) {
        c->c[0]++;
        c->sum += value;
    }
    uint32_t pair = workflow != AN_NONE ? intern_pair(t, metric, workflow) : AN_NONE;
    if (pair != AN_NONE && (c = cell_get(t, AN_METRIC_WF, pair, p))) {
        c->c[0]++;
        c->sum += value;
    }
}

static void keep_charter(an_tally *t, jspan payload)
{
    jspan v;
    char *buf;
    const char *s;
    size_t n;
    if (!jspan_get(payload, "canonical", &v) || !(buf = malloc(v.n + 1)))
        return;
    if (!jspan_str(v, buf, v.n + 1, &s, &n)) {
        free(buf);
        return;
    }
    if (s != buf)
        memcpy(buf, s, n);
    buf[n] = '\0';
    free(t->charter_json);
    t->charter_json = buf;
    t->charter_version[0] = '\0';
    if (jspan_get(payload, "version", &v) &&
        jspan_str(v, t->charter_version, sizeof t->charter_version, &s, &n) &&
        n < sizeof t->charter_version) {
        memmove(t->charter_version, s, n);
        t->charter_version[n] = '\0';
    }
}

static int tally_entry(const charter_ledger_entry *e, void *user)
{
    an_tally *t = user;
    jspan payload = {e->payload, e->payload_len};
    t->entries++;
    if (++t->since_sweep >= AN_SWEEP_EVERY && t->nopen) {
        esc_sweep(t, t->now_ms, SWEEP_DEADLINES);
        t->since_sweep = 0;
    }
    if (!strcmp(e->kind, "decision"))
        count_decision(t, e->seq, payload);
    else if (!strcmp(e->kind, "escalation_resolved"))
        count_resolution(t, payload, e->time_ms);
    else if (!strcmp(e->kind, "outcome"))
        count_outcome(t, payload, e->time_ms);
    else if (!strcmp(e->kind, "charter"))
        keep_charter(t, payload);
    return t->status != CHARTER_OK;
}

void an_tally_init(an_tally *t, charter_period by)
{
    memset(t, 0, sizeof *t);
    t->by = by;
    t->status = CHARTER_OK;
}

void an_tally_release(an_tally *t)
{
    an_strtab_release(&t->names);
    free(t->cells);
    free(t->open);
    free(t->recent);
    free(t->periods);
    free(t->charter_json);
    memset(t, 0, sizeof *t);
}

charter_status an_tally_ledger(an_tally *t, const char *path, int64_t since_ms,
                               int64_t until_ms, charter_error *err)
{
    if (!t->recent && !(t->recent = calloc(AN_RECENT, sizeof *t->recent)))
        t->status = CHARTER_E_NOMEM;
    charter_status st = t->status;
    t->since_ms = since_ms;
    t->until_ms = until_ms;
    t->now_ms = INT64_MIN;
    if (st == CHARTER_OK)
        st = charter_ledger_scan(path, INT64_MIN, 0, tally_entry, t, err);
    if (st == CHARTER_OK && t->status == CHARTER_OK) {
        esc_sweep(t, t->now_ms, SWEEP_FINAL);
        st = t->status;
    } else if (st == CHARTER_OK) {
        st = t->status;
    }
    if (st == CHARTER_E_NOMEM && err) {
        err->code = st;
        snprintf(err->message, sizeof err->message, "out of memory counting the ledger");
    }
    return st;
}
