/* state.c - the recorder's in-memory counters and escalations (state.h).
 *
 * Two open-addressing hash tables with linear probing, kept at most half
 * full; entries are never removed (a resolved escalation stays as a
 * tombstone that says "already resolved"), so probing needs no deletion
 * marks.
 */
#include "base/banned.h"

#include "ledger/state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

void ledger_state_init(ledger_state *s)
{
    memset(s, 0, sizeof *s);
    s->grant_gen = 1; /* an escalation's grant_checked_gen 0 means "never" */
}

/* Frees a grant's strings (not the grant). */
static void grant_strings_free(state_grant *g)
{
    free(g->who);
    free(g->note);
    free(g->queue);
    free(g->agent);
    free(g->workflow);
    free(g->action);
    free(g->rule);
    free(g->revoked_by);
}

void ledger_state_release(ledger_state *s)
{
    for (size_t i = 0; i < s->counter_cap; i++)
        free(s->counters[i].key);
    free(s->counters);
    for (size_t i = 0; i < s->esc_cap; i++) {
        state_escalation *e = &s->escalations[i];
        free(e->agent);
        free(e->run_id);
        free(e->workflow);
        free(e->action);
        free(e->queue);
        free(e->who);
        free(e->note);
        free(e->rule);
        for (size_t k = 0; k < e->approver_count; k++)
            free(e->approvers[k]);
        free(e->approvers);
        free(e->grant_id);
    }
    free(s->escalations);
    for (size_t i = 0; i < s->grant_n; i++)
        grant_strings_free(&s->grants[i]);
    free(s->grants);
    free(s->open_seqs);
    free(s->is_decision);
    memset(s, 0, sizeof *s);
}

int64_t ledger_day(int64_t time_ms)
{
    int64_t d = time_ms / 86400000;
    if (time_ms % 86400000 < 0)
        d--;
    return d;
}

static state_counter *counter_slot(state_counter *tab, size_t cap, const char *key)
{
    size_t i = (size_t)hash_str(key) & (cap - 1);
    while (tab[i].key && strcmp(tab[i].key, key))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static bool counters_grow(ledger_state *s)
{
    size_t cap = s->counter_cap ? 2 * s->counter_cap : 64;
    state_counter *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return false;
    for (size_t i = 0; i < s->counter_cap; i++)
        if (s->counters[i].key)
            *counter_slot(tab, cap, s->counters[i].key) = s->counters[i];
    free(s->counters);
    s->counters = tab;
    s->counter_cap = cap;
    return true;
}

static charter_status counter_add(ledger_state *s, const char *key,
                                  int64_t actions, double spend)
{
    if (2 * (s->counter_count + 1) > s->counter_cap && !counters_grow(s))
        return CHARTER_E_NOMEM;
    state_counter *c = counter_slot(s->counters, s->counter_cap, key);
    if (!c->key) {
        if (!(c->key = strdup(key)))
            return CHARTER_E_NOMEM;
        s->counter_count++;
    }
    c->actions += actions;
    c->spend += spend;
    if (s->mark_seq)
        c->foreign_seq = s->mark_seq;
    return CHARTER_OK;
}

static const state_counter *counter_find(const ledger_state *s, const char *key)
{
    if (!s->counter_cap)
        return NULL;
    const state_counter *c = counter_slot(s->counters, s->counter_cap, key);
    return c->key ? c : NULL;
}

/* Keys are built in a buffer big enough for any id the request allows;
 * longer ones are cut, which only merges counters of absurdly long ids.
 * A run belongs to its agent: the key holds the agent first, with its
 * length, so no pair of (agent, run) can spell another's key, and a cut
 * long run id only ever merges runs of the same agent. */
static void run_key(char *buf, size_t n, const char *agent, const char *run_id)
{
    snprintf(buf, n, "r:%zu:%s:%s", strlen(agent), agent, run_id);
}

static void day_key(char *buf, size_t n, const char *agent, int64_t day)
{
    snprintf(buf, n, "d:%" PRId64 ":%s", day, agent);
}

charter_status ledger_state_count(ledger_state *s, const char *agent,
                                  const char *run_id, int64_t day,
                                  int64_t actions, double spend)
{
    char key[1024];
    charter_status st = CHARTER_OK;
    if (run_id && *run_id) {
        run_key(key, sizeof key, agent ? agent : "", run_id);
        st = counter_add(s, key, actions, spend);
    }
    if (st == CHARTER_OK) {
        day_key(key, sizeof key, agent ? agent : "", day);
        st = counter_add(s, key, actions, spend);
    }
    return st;
}

void ledger_state_counters(const ledger_state *s, const char *agent,
                           const char *run_id, int64_t day, charter_counters *out)
{
    char key[1024];
    memset(out, 0, sizeof *out);
    if (run_id && *run_id) {
        run_key(key, sizeof key, agent ? agent : "", run_id);
        const state_counter *c = counter_find(s, key);
        if (c) {
            out->run_actions = c->actions;
            out->run_spend = c->spend;
        }
    }
    day_key(key, sizeof key, agent ? agent : "", day);
    const state_counter *c = counter_find(s, key);
    if (c) {
        out->day_actions = c->actions;
        out->day_spend = c->spend;
    }
}

uint64_t ledger_state_counters_foreign(const ledger_state *s, const char *agent,
                                       const char *run_id, int64_t day)
{
    char key[1024];
    uint64_t m = 0;
    if (run_id && *run_id) {
        run_key(key, sizeof key, agent ? agent : "", run_id);
        const state_counter *c = counter_find(s, key);
        if (c)
            m = c->foreign_seq;
    }
    day_key(key, sizeof key, agent ? agent : "", day);
    const state_counter *c = counter_find(s, key);
    if (c && c->foreign_seq > m)
        m = c->foreign_seq;
    return m;
}

charter_status ledger_state_mark_decision(ledger_state *s, uint64_t seq)
{
    size_t byte = (size_t)(seq / 8);
    if (byte >= s->decision_bytes) {
        size_t n = s->decision_bytes ? s->decision_bytes : 1024;
        while (n <= byte)
            n *= 2;
        unsigned char *b = realloc(s->is_decision, n);
        if (!b)
            return CHARTER_E_NOMEM;
        memset(b + s->decision_bytes, 0, n - s->decision_bytes);
        s->is_decision = b;
        s->decision_bytes = n;
    }
    s->is_decision[byte] |= (unsigned char)(1u << (seq % 8));
    return CHARTER_OK;
}

bool ledger_state_is_decision(const ledger_state *s, uint64_t seq)
{
    size_t byte = (size_t)(seq / 8);
    return byte < s->decision_bytes && (s->is_decision[byte] >> (seq % 8)) & 1u;
}

static state_escalation *esc_slot(state_escalation *tab, size_t cap, uint64_t seq)
{
    size_t i = (size_t)hash_u64(seq) & (cap - 1);
    while (tab[i].status != ESC_NONE && tab[i].seq != seq)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static bool esc_grow(ledger_state *s)
{
    size_t cap = s->esc_cap ? 2 * s->esc_cap : 64;
    state_escalation *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return false;
    for (size_t i = 0; i < s->esc_cap; i++)
        if (s->escalations[i].status != ESC_NONE)
            *esc_slot(tab, cap, s->escalations[i].seq) = s->escalations[i];
    free(s->escalations);
    s->escalations = tab;
    s->esc_cap = cap;
    return true;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

charter_status ledger_state_escalation_add(ledger_state *s, uint64_t seq,
                                           const state_escalation_info *info)
{
    if (2 * (s->esc_count + 1) > s->esc_cap && !esc_grow(s))
        return CHARTER_E_NOMEM;
    state_escalation *e = esc_slot(s->escalations, s->esc_cap, seq);
    if (e->status != ESC_NONE)
        return CHARTER_OK;
    state_escalation n = {.seq = seq, .status = ESC_OPEN,
                          .agent = dup_or_empty(info->agent),
                          .run_id = dup_or_empty(info->run_id),
                          .workflow = dup_or_empty(info->workflow),
                          .action = dup_or_empty(info->action),
                          .queue = dup_or_empty(info->queue),
                          .day = info->day, .time_ms = info->time_ms,
                          .deadline_ms = info->deadline_ms, .spend = info->spend,
                          .rule = dup_or_empty(info->rule), .foreign_seq = s->mark_seq};
    if (!n.agent || !n.run_id || !n.workflow || !n.action || !n.queue || !n.rule) {
        free(n.rule);
        free(n.agent);
        free(n.run_id);
        free(n.workflow);
        free(n.action);
        free(n.queue);
        return CHARTER_E_NOMEM;
    }
    if (s->open_n == s->open_cap) {
        size_t cap = s->open_cap ? 2 * s->open_cap : 64;
        uint64_t *o = realloc(s->open_seqs, cap * sizeof *o);
        if (!o) {
            free(n.rule);
            free(n.agent);
            free(n.run_id);
            free(n.workflow);
            free(n.action);
            free(n.queue);
            return CHARTER_E_NOMEM;
        }
        s->open_seqs = o;
        s->open_cap = cap;
    }
    s->open_seqs[s->open_n++] = seq;
    *e = n;
    s->esc_count++;
    s->esc_version++;
    return CHARTER_OK;
}

const uint64_t *ledger_state_open(ledger_state *s, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < s->open_n; i++) {
        const state_escalation *e = ledger_state_escalation(s, s->open_seqs[i]);
        if (e && e->status != ESC_RESOLVED)
            s->open_seqs[k++] = s->open_seqs[i];
    }
    s->open_n = k;
    *n = k;
    return s->open_seqs;
}

state_escalation *ledger_state_escalation(ledger_state *s, uint64_t seq)
{
    if (!s->esc_cap)
        return NULL;
    state_escalation *e = esc_slot(s->escalations, s->esc_cap, seq);
    return e->status == ESC_NONE ? NULL : e;
}

charter_status ledger_state_escalation_resolve(ledger_state *s,
                                               state_escalation *e, bool approve,
                                               const char *who, const char *note,
                                               int64_t when, bool timed_out)
{
    charter_status st = CHARTER_OK;
    e->status = ESC_RESOLVED;
    s->esc_version++;
    if (s->mark_seq)
        e->foreign_seq = s->mark_seq;
    e->approved = approve;
    e->timed_out = timed_out;
    e->resolved_ms = when;
    free(e->who);
    free(e->note);
    e->who = dup_or_empty(who);
    e->note = note ? strdup(note) : NULL;
    if (!e->who || (note && !e->note))
        st = CHARTER_E_NOMEM;
    if (st == CHARTER_OK && approve && !timed_out) {
        /* The approver who resolved it comes last. */
        for (size_t i = 0; i + 1 < e->approver_count; i++)
            if (ledger_same_person(e->approvers[i], who)) {
                char *w = e->approvers[i];
                memmove(e->approvers + i, e->approvers + i + 1,
                        (e->approver_count - i - 1) * sizeof *e->approvers);
                e->approvers[e->approver_count - 1] = w;
                break;
            }
        st = ledger_state_escalation_vote(s, e, who);
    }
    return st;
}

bool ledger_same_person(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

bool ledger_state_has_approver(const state_escalation *e, const char *who)
{
    for (size_t i = 0; i < e->approver_count; i++)
        if (ledger_same_person(e->approvers[i], who))
            return true;
    return false;
}

charter_status ledger_state_escalation_vote(ledger_state *s, state_escalation *e,
                                            const char *who)
{
    if (!who || ledger_state_has_approver(e, who))
        return CHARTER_OK;
    char **a = realloc(e->approvers, (e->approver_count + 1) * sizeof *a);
    if (!a)
        return CHARTER_E_NOMEM;
    e->approvers = a;
    if (!(a[e->approver_count] = strdup(who)))
        return CHARTER_E_NOMEM;
    e->approver_count++;
    s->esc_version++;
    if (s->mark_seq)
        e->foreign_seq = s->mark_seq;
    return CHARTER_OK;
}

charter_status ledger_state_escalation_grant(state_escalation *e, const char *grant_id)
{
    char *g = grant_id ? strdup(grant_id) : NULL;
    if (grant_id && !g)
        return CHARTER_E_NOMEM;
    free(e->grant_id);
    e->grant_id = g;
    return CHARTER_OK;
}

charter_status ledger_state_escalation_move(ledger_state *s, state_escalation *e,
                                            const char *queue, int64_t deadline_ms)
{
    char *q = dup_or_empty(queue);
    if (!q)
        return CHARTER_E_NOMEM;
    s->esc_version++;
    if (s->mark_seq)
        e->foreign_seq = s->mark_seq;
    free(e->queue);
    e->queue = q;
    e->deadline_ms = deadline_ms;
    e->grant_checked_gen = 0; /* another queue: other grants may match */
    return CHARTER_OK;
}

/* ---- Standing approvals ------------------------------------------------------ */


charter_status ledger_state_grant_add(ledger_state *s, const state_grant *g)
{
    if (s->grant_n == s->grant_cap) {
        size_t cap = s->grant_cap ? 2 * s->grant_cap : 16;
        state_grant *t = realloc(s->grants, cap * sizeof *t);
        if (!t)
            return CHARTER_E_NOMEM;
        s->grants = t;
        s->grant_cap = cap;
    }
    state_grant n = *g;
    n.foreign_seq = s->mark_seq;
    n.who = dup_or_empty(g->who);
    n.note = g->note ? strdup(g->note) : NULL;
    n.queue = dup_or_empty(g->queue);
    n.agent = dup_or_empty(g->agent);
    n.workflow = dup_or_empty(g->workflow);
    n.action = dup_or_empty(g->action);
    n.rule = dup_or_empty(g->rule);
    n.revoked_by = g->revoked_by ? strdup(g->revoked_by) : NULL;
    if (!n.who || (g->note && !n.note) || !n.queue || !n.agent || !n.workflow ||
        !n.action || !n.rule || (g->revoked_by && !n.revoked_by)) {
        grant_strings_free(&n);
        return CHARTER_E_NOMEM;
    }
    /* Kept in seq order (ledger_state_grant searches it): two grants made
     * at once may reach here in the other order than their entries. */
    size_t at = s->grant_n;
    while (at > 0 && s->grants[at - 1].seq > n.seq)
        at--;
    memmove(&s->grants[at + 1], &s->grants[at], (s->grant_n - at) * sizeof *s->grants);
    s->grants[at] = n;
    s->grant_n++;
    s->grant_gen++;
    s->esc_version++;
    return CHARTER_OK;
}

state_grant *ledger_state_grant(ledger_state *s, uint64_t seq)
{
    size_t lo = 0, hi = s->grant_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->grants[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->grant_n && s->grants[lo].seq == seq ? &s->grants[lo] : NULL;
}

charter_status ledger_state_grant_revoke(ledger_state *s, state_grant *g,
                                         const char *who, int64_t when)
{
    char *w = dup_or_empty(who);
    if (!w)
        return CHARTER_E_NOMEM;
    free(g->revoked_by);
    g->revoked_by = w;
    g->revoked = true;
    g->revoked_ms = when;
    ledger_state_grant_mark(s, g);
    s->grant_gen++;
    s->esc_version++;
    return CHARTER_OK;
}

void ledger_state_grant_mark(const ledger_state *s, state_grant *g)
{
    if (s->mark_seq)
        g->foreign_seq = s->mark_seq;
}

void ledger_state_grant_use(state_grant *g, double spend)
{
    g->used_count++;
    g->used_amount += spend;
}
