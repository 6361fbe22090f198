/* replay.c - re-deciding recorded requests under a new charter
 * (charter_ledger_replay).
 *
 * Each recorded decision is decided again from its recorded request (with
 * the counters the ledger gave it, not those the agent claimed) at its
 * original decision time, and the
 * new answer is compared with the recorded one: a different effect is a
 * change reported to the caller with the fired rules that appeared and
 * disappeared; the same effect with a different reason or fired set is
 * counted as a rules change.
 */
#include "base/banned.h"

#include "charter_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jspan.h"
#include "engine/request.h"
#include "ledger/chain.h"
#include "ledger/recorder.h"
#include "ledger/store.h"

typedef struct replay {
    const charter *c;
    charter_decider *d;
    int64_t since;
    charter_replay_fn fn;
    void *user;
    charter_replay_summary *sum;
    charter_status status;
    charter_error *err;
} replay;

typedef struct fired_set {
    char **v;
    size_t n;
} fired_set;

static void fired_set_free(fired_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static bool fired_set_add(fired_set *s, const char *kind, const char *id)
{
    char **v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v)
        return false;
    s->v = v;
    size_t n = strlen(kind) + strlen(id) + 2;
    if (!(v[s->n] = malloc(n)))
        return false;
    snprintf(v[s->n++], n, "%s:%s", kind, id);
    return true;
}

static bool fired_set_has(const fired_set *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x))
            return true;
    return false;
}

/* Items of a not in b (pointers into a). */
static size_t fired_diff(const fired_set *a, const fired_set *b, const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!fired_set_has(b, a->v[i]))
            out[n++] = a->v[i];
    return n;
}

static bool fired_set_equal(const fired_set *a, const fired_set *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!fired_set_has(b, a->v[i]))
            return false;
    return true;
}

static bool effect_parse(jspan v, charter_effect *out)
{
    if (jspan_str_eq(v, "allow"))
        *out = CHARTER_ALLOW;
    else if (jspan_str_eq(v, "escalate"))
        *out = CHARTER_ESCALATE;
    else if (jspan_str_eq(v, "deny"))
        *out = CHARTER_DENY;
    else
        return false;
    return true;
}

/* A string field of obj into buf (NUL-terminated), or "" when absent. */
static const char *span_field(jspan obj, const char *key, char *buf, size_t cap)
{
    jspan v;
    const char *s;
    size_t n;
    buf[0] = '\0';
    if (jspan_get(obj, key, &v) && jspan_str(v, buf, cap, &s, &n) && n < cap) {
        memmove(buf, s, n);
        buf[n] = '\0';
    }
    return buf;
}

static double span_num(jspan obj, const char *key)
{
    jspan v;
    double d = 0;
    if (jspan_get(obj, key, &v))
        jspan_num(v, &d);
    return d;
}

/* The recorded counters replace the ones the agent claimed. */
static charter_status use_recorded_counters(charter_request *r, jspan counters)
{
    jspan run, day;
    if (!counters.p || !jspan_get(counters, "run", &run) || !jspan_get(counters, "day", &day))
        return CHARTER_OK;
    return ch_request_set_counters(r, (int64_t)span_num(run, "actions"), span_num(run, "spend"),
                                   (int64_t)span_num(day, "actions"), span_num(day, "spend"));
}

/* The recorded answer's fired entries as "kind:id". */
static bool recorded_fired(jspan fired, fired_set *out)
{
    jspan f;
    size_t pos = 0;
    char kind[64], id[256];
    while (fired.p && jspan_next(fired, &pos, &f))
        if (!fired_set_add(out, span_field(f, "kind", kind, sizeof kind),
                           span_field(f, "id", id, sizeof id)))
            return false;
    return true;
}

static void count_change(charter_replay_summary *sum, charter_effect after)
{
    sum->changed++;
    if (after == CHARTER_ALLOW)
        sum->to_allow++;
    else if (after == CHARTER_ESCALATE)
        sum->to_escalate++;
    else
        sum->to_deny++;
}

static int report_change(replay *rp, const ledger_entry *e,
                         const charter_request *r, int64_t time_ms, charter_effect before,
                         const char *before_reason, const charter_decision *dec,
                         const fired_set *old_f, const fired_set *new_f)
{
    const char **added = malloc((new_f->n + 1) * sizeof *added);
    const char **removed = malloc((old_f->n + 1) * sizeof *removed);
    if (!added || !removed) {
        free(added);
        free(removed);
        rp->status = ledger_fail(rp->err, CHARTER_E_NOMEM, "out of memory replaying");
        return 1;
    }
    char id[32];
    ledger_decision_id(e->seq, id);
    charter_replay_change ch = {
        .seq = e->seq, .decision_id = id, .agent = r->agent.p,
        .workflow = r->workflow.p, .action = r->action.p, .time_ms = time_ms,
        .before = before, .after = dec->effect, .before_reason = before_reason,
        .after_reason = dec->reason ? dec->reason : "",
        .added = added, .added_count = fired_diff(new_f, old_f, added),
        .removed = removed, .removed_count = fired_diff(old_f, new_f, removed)};
    int stop = rp->fn ? rp->fn(&ch, rp->user) : 0;
    free(added);
    free(removed);
    return stop;
}

/* Reads the recorded payload as text (base/jspan.h) and the request with
 * the same parser agents' requests go through: no JSON tree is built, which
 * is most of what replaying a large ledger used to cost. */
static int replay_decision(replay *rp, const ledger_entry *e)
{
    static const char *const top[] = {"answer", "counters", "request", "time_ms"};
    static const char *const recorded[] = {"decision", "reason", "fired"};
    jspan payload = {e->payload, e->payload_len}, f[4], a[3];
    charter_effect before;
    double t = 0;
    jspan_fields(payload, top, 4, f);
    jspan_fields(f[0], recorded, 3, a);
    if (!f[0].p || !f[2].p || !effect_parse(a[0], &before) || !jspan_num(f[3], &t)) {
        rp->sum->errors++;
        return 0;
    }
    jspan req = f[2];
    int64_t time_ms = (int64_t)t;
    if (time_ms < rp->since)
        return 0;
    rp->sum->decisions++;
    charter_request *r = NULL;
    const charter_decision *dec = NULL;
    if (charter_request_parse(req.p, req.n, &r, NULL) != CHARTER_OK ||
        use_recorded_counters(r, f[1]) != CHARTER_OK ||
        charter_decide(rp->d, rp->c, r, time_ms, &dec, NULL) != CHARTER_OK) {
        charter_request_free(r);
        rp->sum->errors++;
        return 0;
    }
    char before_reason[64] = "";
    const char *s;
    size_t n;
    if (jspan_str(a[1], before_reason, sizeof before_reason, &s, &n) &&
        n < sizeof before_reason) {
        memmove(before_reason, s, n);
        before_reason[n] = '\0';
    }
    fired_set old_f = {0}, new_f = {0};
    bool ok = recorded_fired(a[2], &old_f);
    for (size_t i = 0; ok && i < dec->fired_count; i++)
        ok = fired_set_add(&new_f, dec->fired[i].kind, dec->fired[i].id);
    int stop = 0;
    if (!ok) {
        rp->status = ledger_fail(rp->err, CHARTER_E_NOMEM, "out of memory replaying");
        stop = 1;
    } else if (dec->effect != before) {
        count_change(rp->sum, dec->effect);
        stop = report_change(rp, e, r, time_ms, before, before_reason, dec, &old_f, &new_f);
    } else {
        bool same = fired_set_equal(&old_f, &new_f) && dec->reason &&
                    !strcmp(before_reason, dec->reason);
        if (same)
            rp->sum->unchanged++;
        else
            rp->sum->rules_changed++;
    }
    charter_request_free(r);
    fired_set_free(&old_f);
    fired_set_free(&new_f);
    return stop;
}

static int replay_entry(const ledger_entry *e, void *user)
{
    replay *rp = user;
    return strcmp(e->kind, "decision") ? 0 : replay_decision(rp, e);
}

charter_status charter_ledger_replay(const char *path, const charter *c,
                                     int64_t since_ms, charter_replay_fn fn,
                                     void *user, charter_replay_summary *out,
                                     charter_error *err)
{
    if (!path || !c || !out)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_replay: path, charter and summary are required");
    memset(out, 0, sizeof *out);
    charter_decider *d = NULL;
    charter_status st = charter_decider_new(&d);
    if (st != CHARTER_OK)
        return ledger_fail(err, st, "out of memory creating a decider");
    ledger_store_config cfg = {.mode = LEDGER_OPEN_READ};
    ledger_store *s = NULL;
    if ((st = ledger_store_open(path, &cfg, &s, err)) == CHARTER_OK) {
        replay rp = {.c = c, .d = d, .since = since_ms, .fn = fn, .user = user,
                     .sum = out, .status = CHARTER_OK, .err = err};
        st = s->ops->read(s, 1, replay_entry, &rp, err);
        if (st == CHARTER_OK)
            st = rp.status;
    }
    ledger_store_close(s);
    charter_decider_free(d);
    return st;
}
