/* grant.c - standing approvals: a person approves an escalation "and the
 * same kind for the next N hours" (charter_ledger_grant), the grant pass
 * that approves the matching escalations in the grantor's name
 * (charter_ledger_apply_grants), revoking and listing grants, and reading
 * grant entries back when the ledger opens (grant.h).
 *
 * A grant is a ledger entry before it is anything in memory, and each
 * approval it gives is an "escalation_resolved" entry naming it, recorded
 * through the path of a person's approval (ledger_resolve, policy.h): the
 * queue's policies (self-approval, a quorum refuses), the re-check under
 * the charter serving now (boundaries, budgets), then the entry. So a
 * grant never approves what its grantor could not have approved at that
 * moment, and verify, replay and the report see each one.
 */
#include "base/banned.h"

#include "ledger/grant.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/jspan.h"
#include "base/strbuf.h"
#include "charter/model.h"
#include "engine/request.h"
#include "ledger/chain.h"
#include "ledger/policy.h"
#include "ledger/recorder.h"

/* ---- Ids and the escalating rule --------------------------------------------- */

void ledger_grant_id(uint64_t seq, char id[32])
{
    snprintf(id, 32, "g-%" PRIu64, seq);
}

bool ledger_grant_id_parse(const char *id, uint64_t *seq)
{
    return ledger_seq_id_parse(id, 'g', seq);
}

void ledger_escalation_rule(const char *answer, size_t n, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = '\0';
    jspan a, fired, item;
    if (!answer || !jspan_value(answer, n, &a) || !jspan_get(a, "fired", &fired) ||
        fired.p[0] != '[')
        return;
    static const char *const keys[] = {"kind", "effect", "id"};
    for (size_t pos = 0; jspan_next(fired, &pos, &item);) {
        jspan f[3];
        if (item.p[0] != '{')
            continue;
        jspan_fields(item, keys, 3, f);
        if (!jspan_str_eq(f[0], "rule") || !jspan_str_eq(f[1], "escalate") || !f[2].p)
            continue;
        const char *s;
        size_t len;
        char buf[GRANT_RULE_MAX];
        if (!jspan_str(f[2], buf, sizeof buf, &s, &len) || len >= cap)
            return;
        memcpy(out, s, len);
        out[len] = '\0';
        return;
    }
}

/* ---- Reading grants back ------------------------------------------------------- */

/* A string field copied into buf ("" when absent, null or not a string;
 * cut to the buffer). */
static const char *field_str(jspan v, char *buf, size_t cap)
{
    const char *s;
    size_t len;
    buf[0] = '\0';
    if (!v.p || v.p[0] != '"' || !jspan_str(v, buf, cap, &s, &len))
        return buf;
    if (s != buf)
        memmove(buf, s, len < cap ? len : cap - 1);
    buf[len < cap ? len : cap - 1] = '\0';
    return buf;
}

static double field_num(jspan v)
{
    double d;
    return v.p && jspan_num(v, &d) && isfinite(d) ? d : 0;
}

/* A payload's strings are never longer than the payload: one buffer of its
 * size per field is always enough. */
charter_status ledger_grant_rebuild(charter_ledger *l, uint64_t seq, const char *payload,
                                    size_t n)
{
    static const char *const keys[] = {"decision_id", "who", "note", "time_ms",
                                       "expires_ms", "scope", "max_count",
                                       "max_amount"};
    static const char *const skeys[] = {"queue", "agent", "workflow", "action", "rule"};
    jspan p, f[8], sc[5];
    if (!jspan_value(payload, n, &p) || p.p[0] != '{')
        return CHARTER_E_JSON;
    jspan_fields(p, keys, 8, f);
    if (!f[0].p || !f[1].p || !f[4].p || !f[5].p || f[5].p[0] != '{')
        return CHARTER_E_JSON;
    jspan_fields(f[5], skeys, 5, sc);
    size_t cap = n + 1;
    char *buf = malloc(8 * cap);
    if (!buf)
        return CHARTER_E_NOMEM;
    uint64_t dseq = 0;
    charter_status st = CHARTER_OK;
    state_grant g = {.seq = seq};
    if (!ledger_decision_id_parse(field_str(f[0], buf, cap), &dseq))
        st = CHARTER_E_JSON;
    g.decision_seq = dseq;
    g.who = (char *)field_str(f[1], buf + cap, cap);
    g.note = f[2].p && f[2].p[0] == '"' ? (char *)field_str(f[2], buf + 2 * cap, cap)
                                         : NULL;
    g.time_ms = (int64_t)field_num(f[3]);
    g.expires_ms = (int64_t)field_num(f[4]);
    g.max_count = (int64_t)field_num(f[6]);
    g.max_amount = field_num(f[7]);
    g.queue = (char *)field_str(sc[0], buf + 3 * cap, cap);
    g.agent = (char *)field_str(sc[1], buf + 4 * cap, cap);
    g.workflow = (char *)field_str(sc[2], buf + 5 * cap, cap);
    g.action = (char *)field_str(sc[3], buf + 6 * cap, cap);
    g.rule = (char *)field_str(sc[4], buf + 7 * cap, cap);
    if (st == CHARTER_OK && !*g.who)
        st = CHARTER_E_JSON;
    if (st == CHARTER_OK)
        st = ledger_state_grant_add(&l->state, &g);
    free(buf);
    return st;
}

charter_status ledger_grant_rebuild_revoked(charter_ledger *l, const char *payload,
                                            size_t n)
{
    static const char *const keys[] = {"grant_id", "who", "time_ms"};
    jspan p, f[3];
    if (!jspan_value(payload, n, &p) || p.p[0] != '{')
        return CHARTER_E_JSON;
    jspan_fields(p, keys, 3, f);
    char id[40], *who = malloc(n + 1);
    if (!who)
        return CHARTER_E_NOMEM;
    uint64_t seq;
    charter_status st = CHARTER_OK;
    if (!ledger_grant_id_parse(field_str(f[0], id, sizeof id), &seq) || !f[1].p)
        st = CHARTER_E_JSON;
    state_grant *g = st == CHARTER_OK ? ledger_state_grant(&l->state, seq) : NULL;
    /* Revoking an unknown or revoked grant changes nothing (verify says so). */
    if (g && !g->revoked)
        st = ledger_state_grant_revoke(&l->state, g, field_str(f[1], who, n + 1),
                                       (int64_t)field_num(f[2]));
    free(who);
    return st;
}

/* ---- Which escalations a grant may approve -------------------------------------- */

static bool grant_active(const state_grant *g, int64_t now_ms)
{
    return !g->revoked && g->expires_ms > now_ms &&
           (!g->max_count || g->used_count < g->max_count) &&
           (!g->max_amount || g->used_amount < g->max_amount);
}

static bool grant_matches(const state_grant *g, const state_escalation *e)
{
    return !strcmp(g->queue, e->queue) && !strcmp(g->agent, e->agent) &&
           !strcmp(g->workflow, e->workflow) && !strcmp(g->action, e->action) &&
           !strcmp(g->rule, e->rule ? e->rule : "");
}

/* ---- Granting ------------------------------------------------------------------ */

/* The scope of an open escalation, copied. */
typedef struct scope {
    char *queue, *agent, *workflow, *action, *rule;
    strbuf text;
} scope;

/* Copies the scope of escalation `seq` (open, or with a change under way
 * that ledger_resolve will wait for); the errors a resolution would give
 * otherwise. */
static charter_status scope_of(charter_ledger *l, uint64_t seq, const char *id, scope *s,
                               charter_error *err)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_lock(&l->mu);
    const state_escalation *e = ledger_state_escalation(&l->state, seq);
    charter_status st = CHARTER_OK;
    if (!ledger_state_is_decision(&l->state, seq))
        st = ledger_fail(err, CHARTER_E_REF, "there is no decision %s in this ledger", id);
    else if (!e)
        st = ledger_fail(err, CHARTER_E_REF,
                         "decision %s was not escalated; only escalations are resolved",
                         id);
    else if (e->status == ESC_RESOLVED)
        st = ledger_fail(err, CHARTER_E_DUPLICATE, "decision %s is already resolved", id);
    const char *src[5] = {NULL};
    size_t at[5] = {0};
    if (st == CHARTER_OK) {
        src[0] = e->queue;
        src[1] = e->agent;
        src[2] = e->workflow;
        src[3] = e->action;
        src[4] = e->rule ? e->rule : "";
        for (int i = 0; i < 5; i++) {
            at[i] = s->text.n;
            strbuf_add(&s->text, src[i], strlen(src[i]) + 1);
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (st == CHARTER_OK && s->text.failed)
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory granting %s", id);
    if (st != CHARTER_OK) {
        free(s->text.p);
        s->text.p = NULL;
        return st;
    }
    s->queue = s->text.p + at[0];
    s->agent = s->text.p + at[1];
    s->workflow = s->text.p + at[2];
    s->action = s->text.p + at[3];
    s->rule = s->text.p + at[4];
    return CHARTER_OK;
}

static charter_status refuse_grant(charter_resolve_result *out, charter_refusal why,
                                   charter_error *err, const char *fmt, const char *a,
                                   const char *b)
{
    if (out)
        out->refusal = why;
    return ledger_fail(err, CHARTER_E_REFUSED, fmt, a, b);
}

static charter_status grant_check(const charter_grant_request *g, charter_error *err)
{
    if (g->duration_ms <= 0)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a standing approval lasts a positive time; found %" PRId64
                           " ms", g->duration_ms);
    if (g->max_count < 0)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a standing approval's max_count is 0 (no cap) or more; "
                           "found %" PRId64, g->max_count);
    if (!isfinite(g->max_amount) || g->max_amount < 0)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a standing approval's max_amount is 0 (no cap) or a "
                           "positive number; found %g", g->max_amount);
    return CHARTER_OK;
}

static json_t *grant_json(const char *decision_id, const char *who,
                          const charter_grant_request *g, int64_t t, const scope *s)
{
    char ts[40], es[40];
    int64_t expires = t + g->duration_ms;
    ch_time_format(t, ts);
    ch_time_format(expires, es);
    json_t *j = json_pack("{s:s,s:s,s:s?,s:s,s:I,s:s,s:I,s:{s:s,s:s,s:s,s:s,s:s}}",
                          "decision_id", decision_id, "who", who, "note", g->note,
                          "time", ts, "time_ms", (json_int_t)t, "expires", es,
                          "expires_ms", (json_int_t)expires, "scope", "queue", s->queue,
                          "agent", s->agent, "workflow", s->workflow, "action",
                          s->action, "rule", s->rule);
    if (j) {
        json_object_set_new(j, "max_count",
                            g->max_count ? json_integer(g->max_count) : json_null());
        json_object_set_new(j, "max_amount",
                            g->max_amount ? json_real(g->max_amount) : json_null());
    }
    return j;
}

charter_status charter_ledger_grant(charter_ledger *l, const charter *c,
                                    const char *decision_id, const char *who,
                                    const charter_grant_request *g, int64_t time_ms,
                                    charter_resolve_result *out, char *grant_id,
                                    charter_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (grant_id)
        grant_id[0] = '\0';
    if (!l || !c || !g || !who || !*who)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a standing approval needs the ledger, the charter serving "
                           "now, who grants it and what it grants");
    charter_status st = grant_check(g, err);
    if (st != CHARTER_OK)
        return st;
    uint64_t seq;
    if (!ledger_decision_id_parse(decision_id, &seq))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "expected a decision id such as d-42, found '%s'",
                           decision_id ? decision_id : "(null)");
    int64_t t = time_ms ? time_ms : charter_now_ms();
    scope s;
    if ((st = scope_of(l, seq, decision_id, &s, err)) != CHARTER_OK)
        return st;
    const ch_queue *q = ch_find_queue(c, s.queue);
    int needed = 1;
    if (q && q->grant_max_ms && g->duration_ms <= q->grant_max_ms &&
        (st = ledger_policy_needed(l, c, NULL, seq, &needed, err)) != CHARTER_OK) {
        free(s.text.p);
        return st;
    }
    char max[32] = "";
    if (q && q->grant_max_ms)
        snprintf(max, sizeof max, "%.15gh", (double)q->grant_max_ms / 3600000.0);
    if (!q || !q->grant_max_ms)
        st = refuse_grant(out, CHARTER_REFUSAL_NO_GRANTS, err,
                          "queue '%s' allows no standing approvals under the "
                          "charter serving now (%.80s: it has no standing_approvals)",
                          s.queue, charter_version(c));
    else if (g->duration_ms > q->grant_max_ms)
        st = refuse_grant(out, CHARTER_REFUSAL_NO_GRANTS, err,
                          "queue '%s' allows standing approvals of at most %s; a "
                          "longer one was asked for", s.queue, max);
    else if (needed > 1)
        st = refuse_grant(out, CHARTER_REFUSAL_QUORUM, err,
                          "%s needs more than one approval (queue '%s' has a quorum); "
                          "a standing approval cannot stand in for a second approver",
                          decision_id, s.queue);
    /* The person's own approval, with every rule of one; single_only
     * refuses it should the quorum have changed since (a race). */
    ledger_resolve_args ra = {.c = c, .seq = seq, .who = who, .approve = true,
                              .note = g->note, .time_ms = t,
                              .single_only = CHARTER_REFUSAL_QUORUM};
    if (st == CHARTER_OK)
        st = ledger_resolve(l, &ra, out, err);
    uint64_t gseq = 0;
    if (st == CHARTER_OK) {
        json_t *j = grant_json(decision_id, who, g, t, &s);
        /* The approval is durable already: should this append fail, the
         * escalation stays approved by `who` and no grant exists. */
        st = ledger_append_json(l, "grant", j, &gseq, err);
    }
    if (st == CHARTER_OK) {
        state_grant sg = {.seq = gseq, .decision_seq = seq, .who = (char *)who,
                          .note = (char *)g->note, .queue = s.queue, .agent = s.agent,
                          .workflow = s.workflow, .action = s.action, .rule = s.rule,
                          .time_ms = t, .expires_ms = t + g->duration_ms,
                          .max_count = g->max_count, .max_amount = g->max_amount};
        pthread_mutex_lock(&l->mu);
        st = ledger_state_grant_add(&l->state, &sg);
        /* Another server's revocation of it, read before it was added. */
        if (st == CHARTER_OK && l->deferred)
            ledger_apply_deferred(l, gseq);
        /* The deadline thread wakes and applies it to what is open. */
        pthread_cond_broadcast(&l->version_cv);
        pthread_mutex_unlock(&l->mu);
        if (st != CHARTER_OK)
            ledger_fail(err, st, "the standing approval is recorded, but keeping it in "
                                 "memory failed (out of memory)");
        else if (grant_id)
            ledger_grant_id(gseq, grant_id);
    }
    free(s.text.p);
    return st;
}

charter_status charter_ledger_revoke_grant(charter_ledger *l, const char *grant_id,
                                           const char *who, const char *note,
                                           int64_t time_ms, charter_error *err)
{
    uint64_t seq;
    if (!l || !who || !*who)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "revoking a standing approval needs the ledger and who "
                           "revokes it");
    if (!ledger_grant_id_parse(grant_id, &seq))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "expected a grant id such as g-12, found '%s'",
                           grant_id ? grant_id : "(null)");
    int64_t t = time_ms ? time_ms : charter_now_ms();
    /* Held across the append: once this returns, no pass approves by it. */
    pthread_mutex_lock(&l->grant_mu);
    uint64_t basis = ledger_basis(l);
    pthread_mutex_lock(&l->mu);
    state_grant *g = ledger_state_grant(&l->state, seq);
    bool known = g != NULL, revoked = g && g->revoked;
    char did[32];
    ledger_decision_id(g ? g->decision_seq : 0, did);
    pthread_mutex_unlock(&l->mu);
    charter_status st = CHARTER_OK;
    if (!known)
        st = ledger_fail(err, CHARTER_E_REF, "there is no standing approval %s in this "
                                             "ledger", grant_id);
    else if (revoked)
        st = ledger_fail(err, CHARTER_E_DUPLICATE, "standing approval %s is already "
                                                   "revoked", grant_id);
    if (st == CHARTER_OK) {
        char ts[40];
        ch_time_format(t, ts);
        /* decision_id: the escalation it came from, so the revocation shows
         * in that decision's history (search.c) without a lookup. */
        json_t *j = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:I}", "grant_id", grant_id,
                              "decision_id", did, "who", who, "note", note, "time", ts,
                              "time_ms", (json_int_t)t);
        /* On a shared ledger, another server's revocation first conflicts. */
        ledger_subject sj = {.grant_seq = seq, .revoke = true};
        size_t len = 0;
        char *payload = ledger_payload_json(j, &len);
        ledger_append a = {.kind = "grant_revoked", .payload = payload, .payload_len = len,
                           .basis_seq = basis, .subject = l->shared ? &sj : NULL};
        st = payload ? ledger_writer_append(l->writer, &a, err)
                     : ledger_fail(err, CHARTER_E_NOMEM, "out of memory recording "
                                                         "grant_revoked");
        free(payload);
        if (st == CHARTER_E_CONFLICT)
            ledger_fail(err, CHARTER_E_CONFLICT, "standing approval %s was revoked on "
                                                 "another server first", grant_id);
    }
    if (st == CHARTER_OK) {
        pthread_mutex_lock(&l->mu);
        g = ledger_state_grant(&l->state, seq);
        st = ledger_state_grant_revoke(&l->state, g, who, t);
        pthread_cond_broadcast(&l->version_cv);
        pthread_mutex_unlock(&l->mu);
        if (st != CHARTER_OK)
            ledger_fail(err, st, "the revocation is recorded, but keeping it in memory "
                                 "failed (out of memory)");
    }
    pthread_mutex_unlock(&l->grant_mu);
    return st;
}

/* ---- Listing ------------------------------------------------------------------- */

/* A grant copied out of the state (its strings in `text`). */
typedef struct grant_copy {
    charter_grant x;
    char id[32], decision_id[32];
    strbuf text;
} grant_copy;

static bool grant_copy_make(const state_grant *g, grant_copy *c)
{
    const char *src[8] = {g->who, g->note, g->queue, g->agent,
                          g->workflow, g->action, g->rule, g->revoked_by};
    size_t at[8];
    c->text.n = 0;
    for (int i = 0; i < 8; i++) {
        at[i] = c->text.n;
        if (src[i])
            strbuf_add(&c->text, src[i], strlen(src[i]) + 1);
    }
    if (c->text.failed)
        return false;
    const char *s[8];
    for (int i = 0; i < 8; i++)
        s[i] = src[i] ? c->text.p + at[i] : NULL;
    ledger_grant_id(g->seq, c->id);
    ledger_decision_id(g->decision_seq, c->decision_id);
    c->x = (charter_grant){
        .id = c->id, .who = s[0], .note = s[1], .decision_id = c->decision_id,
        .queue = s[2], .agent = s[3], .workflow = s[4], .action = s[5], .rule = s[6],
        .time_ms = g->time_ms, .expires_ms = g->expires_ms, .max_count = g->max_count,
        .used_count = g->used_count, .max_amount = g->max_amount,
        .used_amount = g->used_amount, .revoked = g->revoked, .revoked_by = s[7],
        .revoked_ms = g->revoked_ms};
    return true;
}

charter_status charter_ledger_grants(charter_ledger *l, bool active_only, int64_t now_ms,
                                     charter_grant_fn fn, void *user, charter_error *err)
{
    if (!l || !fn)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_grants: ledger and callback required");
    /* Copied whole under the lock (grants are few), handed out without it. */
    pthread_mutex_lock(&l->mu);
    size_t n = l->state.grant_n, k = 0;
    grant_copy *c = n ? calloc(n, sizeof *c) : NULL;
    bool failed = n && !c;
    for (size_t i = n; c && i-- > 0 && !failed;) {
        const state_grant *g = &l->state.grants[i];
        if (active_only && !grant_active(g, now_ms))
            continue;
        failed = !grant_copy_make(g, &c[k]);
        k++;
    }
    pthread_mutex_unlock(&l->mu);
    charter_status st = CHARTER_OK;
    if (failed)
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory listing grants");
    for (size_t i = 0; i < k && st == CHARTER_OK; i++)
        if (fn(&c[i].x, user))
            break;
    for (size_t i = 0; i < k; i++)
        free(c[i].text.p);
    free(c);
    return st;
}

/* ---- The grant pass ------------------------------------------------------------ */

typedef struct candidate {
    uint64_t seq, grant_seq;
} candidate;

/* The open escalations an active grant matches (the oldest such grant),
 * skipping those checked at this generation. mu held. */
static charter_status collect_candidates(charter_ledger *l, int64_t now_ms, uint64_t gen,
                                         candidate **out, size_t *n)
{
    ledger_state *s = &l->state;
    *out = NULL;
    *n = 0;
    size_t active = 0;
    for (size_t i = 0; i < s->grant_n; i++)
        active += grant_active(&s->grants[i], now_ms);
    if (!active)
        return CHARTER_OK;
    size_t open_n, cap = 0;
    const uint64_t *open = ledger_state_open(s, &open_n);
    for (size_t i = 0; i < open_n; i++) {
        const state_escalation *e = ledger_state_escalation(s, open[i]);
        if (e->status != ESC_OPEN || e->grant_checked_gen == gen)
            continue;
        const state_grant *g = NULL;
        for (size_t k = 0; k < s->grant_n && !g; k++)
            if (grant_active(&s->grants[k], now_ms) && grant_matches(&s->grants[k], e))
                g = &s->grants[k];
        if (!g) {
            /* None will match before a grant is made (or the charter
             * changes, or it moves): the next passes skip it. */
            ledger_state_escalation(s, e->seq)->grant_checked_gen = gen;
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            candidate *c = realloc(*out, cap * sizeof *c);
            if (!c)
                return CHARTER_E_NOMEM;
            *out = c;
        }
        (*out)[(*n)++] = (candidate){.seq = e->seq, .grant_seq = g->seq};
    }
    return CHARTER_OK;
}

static void mark_refused(charter_ledger *l, uint64_t seq, uint64_t gen)
{
    pthread_mutex_lock(&l->mu);
    state_escalation *e = ledger_state_escalation(&l->state, seq);
    if (e)
        e->grant_checked_gen = gen;
    pthread_mutex_unlock(&l->mu);
}

/* What one approval by grant `grant_seq` of escalation `seq` needs,
 * copied under mu (strings in `text`); false when the grant is no longer
 * active or the escalation no longer open (or out of memory: the next pass
 * tries again). */
typedef struct use {
    const char *who, *note, *queue; /* note may be NULL */
    double max_spend;                       /* < 0: no cap */
    strbuf text;
} use;

static bool use_read(charter_ledger *l, const candidate *cd, int64_t now_ms, use *u)
{
    u->text.n = 0;
    pthread_mutex_lock(&l->mu);
    const state_grant *g = ledger_state_grant(&l->state, cd->grant_seq);
    const state_escalation *e = ledger_state_escalation(&l->state, cd->seq);
    bool ok = g && e && e->status == ESC_OPEN && grant_active(g, now_ms);
    const char *src[3] = {NULL};
    size_t at[3] = {0};
    if (ok) {
        src[0] = g->who;
        src[1] = g->note;
        src[2] = e->queue;
        for (int i = 0; i < 3; i++) {
            at[i] = u->text.n;
            if (src[i])
                strbuf_add(&u->text, src[i], strlen(src[i]) + 1);
        }
        u->max_spend = g->max_amount ? g->max_amount - g->used_amount : -1;
    }
    pthread_mutex_unlock(&l->mu);
    if (!ok || u->text.failed)
        return false;
    const char **dst[3] = {&u->who, &u->note, &u->queue};
    for (int i = 0; i < 3; i++)
        *dst[i] = src[i] ? u->text.p + at[i] : NULL;
    return true;
}

charter_status charter_ledger_apply_grants(charter_ledger *l, const charter *c,
                                           int64_t now_ms, size_t *count,
                                           charter_error *err)
{
    if (count)
        *count = 0;
    if (!l || !c)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_apply_grants: ledger and charter required");
    pthread_mutex_lock(&l->grant_mu);
    pthread_mutex_lock(&l->mu);
    /* Another charter may refuse (or allow) what the last one did not. */
    const char *ver = charter_version(c);
    if (strcmp(l->grant_charter, ver ? ver : "")) {
        snprintf(l->grant_charter, sizeof l->grant_charter, "%s", ver ? ver : "");
        l->state.grant_gen++;
    }
    uint64_t gen = l->state.grant_gen;
    candidate *list = NULL;
    size_t n = 0;
    charter_status st = collect_candidates(l, now_ms, gen, &list, &n);
    pthread_mutex_unlock(&l->mu);
    if (st != CHARTER_OK)
        st = ledger_fail(err, st, "out of memory applying standing approvals");
    use u;
    memset(&u, 0, sizeof u);
    for (size_t i = 0; i < n && st == CHARTER_OK; i++) {
        if (!use_read(l, &list[i], now_ms, &u))
            continue; /* resolved meanwhile, or the grant reached a cap */
        /* The queue (under c) must still allow standing approvals; the
         * rest (self-approval, quorum, re-check, amount cap) is
         * ledger_resolve's, as for a person's approval. */
        const ch_queue *q = ch_find_queue(c, u.queue);
        if (!q || !q->grant_max_ms) {
            mark_refused(l, list[i].seq, gen);
            continue;
        }
        char gid[32];
        ledger_grant_id(list[i].grant_seq, gid);
        ledger_resolve_args ra = {.c = c, .seq = list[i].seq, .who = u.who, .approve = true,
                                  .note = u.note, .time_ms = now_ms, .grant_id = gid,
                                  .single_only = CHARTER_REFUSAL_QUORUM,
                                  .cap_spend = u.max_spend >= 0,
                                  .max_spend = u.max_spend};
        charter_resolve_result r;
        charter_error e1;
        charter_status one = ledger_resolve(l, &ra, &r, &e1);
        if (one == CHARTER_OK && count)
            (*count)++;
        else if (one == CHARTER_E_REFUSED)
            mark_refused(l, list[i].seq, gen); /* a person decides it */
        else if (one != CHARTER_OK && one != CHARTER_E_DUPLICATE &&
                 one != CHARTER_E_CONFLICT) /* conflict: another server was first */
            st = ledger_fail(err, one, "%s", e1.message);
    }
    free(u.text.p);
    free(list);
    pthread_mutex_unlock(&l->grant_mu);
    return st;
}
