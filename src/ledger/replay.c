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

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static bool effect_parse(const char *s, charter_effect *out)
{
    if (!strcmp(s, "allow"))
        *out = CHARTER_ALLOW;
    else if (!strcmp(s, "escalate"))
        *out = CHARTER_ESCALATE;
    else if (!strcmp(s, "deny"))
        *out = CHARTER_DENY;
    else
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
                         const ledger_decision_info *di, charter_effect before,
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
        .seq = e->seq, .decision_id = id, .agent = di->agent,
        .workflow = di->workflow, .action = di->action, .time_ms = di->time_ms,
        .before = before, .after = dec->effect, .before_reason = before_reason,
        .after_reason = dec->reason ? dec->reason : "",
        .added = added, .added_count = fired_diff(new_f, old_f, added),
        .removed = removed, .removed_count = fired_diff(old_f, new_f, removed)};
    int stop = rp->fn ? rp->fn(&ch, rp->user) : 0;
    free(added);
    free(removed);
    return stop;
}

static int replay_decision(replay *rp, const ledger_entry *e, json_t *j)
{
    ledger_decision_info di;
    charter_effect before;
    if (!ledger_decision_info_get(j, &di) || !effect_parse(di.effect, &before)) {
        rp->sum->errors++;
        return 0;
    }
    if (di.time_ms < rp->since)
        return 0;
    rp->sum->decisions++;
    charter_request *r = NULL;
    const charter_decision *dec = NULL;
    /* Decide with the counters the ledger gave, not those the agent sent. */
    json_t *req = json_object_get(j, "request");
    json_t *counters = json_object_get(j, "counters");
    if (json_is_object(req) && json_is_object(counters))
        json_object_set(req, "counters", counters);
    if (ch_request_from_json(req, &r, NULL) != CHARTER_OK ||
        charter_decide(rp->d, rp->c, r, di.time_ms, &dec, NULL) != CHARTER_OK) {
        charter_request_free(r);
        rp->sum->errors++;
        return 0;
    }
    charter_request_free(r);
    json_t *ans = json_object_get(j, "answer");
    const char *before_reason = json_string_value(json_object_get(ans, "reason"));
    fired_set old_f = {0}, new_f = {0};
    bool ok = true;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(ans, "fired"), i, f) {
        const char *kind = json_string_value(json_object_get(f, "kind"));
        const char *fid = json_string_value(json_object_get(f, "id"));
        ok = ok && fired_set_add(&old_f, kind ? kind : "", fid ? fid : "");
    }
    for (i = 0; ok && i < dec->fired_count; i++)
        ok = fired_set_add(&new_f, dec->fired[i].kind, dec->fired[i].id);
    int stop = 0;
    if (!ok) {
        rp->status = ledger_fail(rp->err, CHARTER_E_NOMEM, "out of memory replaying");
        stop = 1;
    } else if (dec->effect != before) {
        count_change(rp->sum, dec->effect);
        stop = report_change(rp, e, &di, before, before_reason ? before_reason : "",
                             dec, &old_f, &new_f);
    } else {
        bool same = fired_set_equal(&old_f, &new_f) && before_reason && dec->reason &&
                    !strcmp(before_reason, dec->reason);
        if (same)
            rp->sum->unchanged++;
        else
            rp->sum->rules_changed++;
    }
    fired_set_free(&old_f);
    fired_set_free(&new_f);
    return stop;
}

static int replay_entry(const ledger_entry *e, void *user)
{
    replay *rp = user;
    if (strcmp(e->kind, "decision"))
        return 0;
    json_t *j = json_loadb(e->payload, e->payload_len, 0, NULL);
    int stop;
    if (!json_is_object(j)) {
        rp->sum->errors++;
        stop = 0;
    } else {
        stop = replay_decision(rp, e, j);
    }
    json_decref(j);
    return stop;
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
