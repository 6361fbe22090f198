/* policy.c - a queue's approval policies in the recording ledger
 * (policy.h): the quorum an escalation needs, self-approval and notes, and
 * the public look-ups charter_ledger_quorum and charter_ledger_may_approve.
 */
#include "base/banned.h"

#include "ledger/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jspan.h"
#include "charter/model.h"
#include "engine/decide.h"
#include "engine/request.h"
#include "ledger/chain.h"
#include "ledger/recorder.h"

bool ledger_policy_blank(const char *note)
{
    if (!note)
        return true;
    for (; *note; note++)
        if (!strchr(" \t\r\n\f\v", *note))
            return false;
    return true;
}

bool ledger_policy_note_needed(const ch_queue *q, bool approve)
{
    ch_note_policy p = q ? q->require_note : CH_NOTE_DENY;
    return !approve || p == CH_NOTE_ALWAYS;
}

bool ledger_policy_may_approve(const charter *c, const char *queue, const char *agent,
                               const char *who, char *why, size_t why_size)
{
    const ch_queue *q = c && queue ? ch_find_queue(c, queue) : NULL;
    const ch_agent *a = c && agent ? ch_find_agent(c, agent) : NULL;
    if (!a || !a->owner || !who || !ledger_same_person(a->owner, who))
        return true;
    if (q && q->self_approval)
        return true;
    if (why && why_size)
        snprintf(why, why_size,
                 "%s owns agent %s; queue %s does not allow self-approval (its "
                 "self_approval is %s)", who, a->id, queue && *queue ? queue : "(none)",
                 q ? "false" : "unset: the queue is not in the charter serving now");
    return false;
}

/* The recorded decision's counters ({"day":{"actions","spend"},"run":{...}})
 * as they were when it was decided; zeros when absent. */
static void recorded_counters(jspan payload, charter_counters *k)
{
    memset(k, 0, sizeof *k);
    jspan cs, day, run, v;
    double x;
    if (!jspan_get(payload, "counters", &cs) || cs.p[0] != '{')
        return;
    if (jspan_get(cs, "day", &day) && day.p[0] == '{') {
        if (jspan_get(day, "actions", &v) && jspan_num(v, &x))
            k->day_actions = (int64_t)x;
        if (jspan_get(day, "spend", &v) && jspan_num(v, &x))
            k->day_spend = x;
    }
    if (jspan_get(cs, "run", &run) && run.p[0] == '{') {
        if (jspan_get(run, "actions", &v) && jspan_num(v, &x))
            k->run_actions = (int64_t)x;
        if (jspan_get(run, "spend", &v) && jspan_num(v, &x))
            k->run_spend = x;
    }
}

/* Whether the quorum's `when` holds for decision `seq` (true when it
 * cannot be evaluated). */
static charter_status when_holds(charter_ledger *l, const charter *c, charter_decider *d,
                                 uint64_t seq, const cel_program *p, bool *holds,
                                 charter_error *err)
{
    *holds = true;
    char id[32];
    ledger_decision_id(seq, id);
    char *payload = NULL;
    size_t len = 0;
    charter_status st = ledger_decision_read(l, seq, id, &payload, &len, err);
    if (st != CHARTER_OK)
        return st;
    jspan pl, req, tm;
    double t = 0;
    charter_request *r = NULL;
    charter_error e2;
    memset(&e2, 0, sizeof e2);
    charter_decider *own = NULL;
    if (jspan_value(payload, len, &pl) && jspan_get(pl, "request", &req) &&
        req.p[0] == '{' && jspan_get(pl, "time_ms", &tm) && jspan_num(tm, &t) &&
        charter_request_parse(req.p, req.n, &r, &e2) == CHARTER_OK) {
        charter_counters k;
        recorded_counters(pl, &k);
        if (!d && charter_decider_new(&own) != CHARTER_OK)
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory evaluating the quorum of %s",
                             id);
        else if (ch_request_set_counters(r, k.run_actions, k.run_spend, k.day_actions,
                                         k.day_spend) != CHARTER_OK)
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory evaluating the quorum of %s",
                             id);
        else {
            const char *why = NULL;
            *holds = ch_decide_eval_when(d ? d : own, c, r, (int64_t)t, p, &why) != 0;
        }
    }
    /* A request that cannot be read or parsed: *holds stays true. */
    charter_decider_free(own);
    charter_request_free(r);
    free(payload);
    return st;
}

charter_status ledger_policy_needed_in(charter_ledger *l, const charter *c,
                                       charter_decider *d, uint64_t seq,
                                       const char *queue, int *needed,
                                       charter_error *err)
{
    *needed = 1;
    const ch_queue *q = c && queue ? ch_find_queue(c, queue) : NULL;
    if (!q || q->quorum <= 1)
        return CHARTER_OK;
    int quorum = q->quorum > 1000 ? 1000 : (int)q->quorum;
    bool holds = true;
    charter_status st = q->quorum_when
                            ? when_holds(l, c, d, seq, q->quorum_when, &holds, err)
                            : CHARTER_OK;
    if (st == CHARTER_OK)
        *needed = holds ? quorum : 1;
    return st;
}

/* The queue escalation `seq` waits in, copied (state locked briefly). */
static charter_status queue_of(charter_ledger *l, uint64_t seq, char *queue, size_t n,
                               char *agent, size_t an, bool *open, charter_error *err)
{
    char id[32];
    ledger_decision_id(seq, id);
    pthread_mutex_lock(&l->mu);
    charter_status st = CHARTER_OK;
    const state_escalation *e = ledger_state_escalation(&l->state, seq);
    if (!ledger_state_is_decision(&l->state, seq))
        st = ledger_fail(err, CHARTER_E_REF, "there is no decision %s in this ledger", id);
    else if (!e)
        st = ledger_fail(err, CHARTER_E_REF, "decision %s was not escalated", id);
    else {
        snprintf(queue, n, "%s", e->queue);
        if (agent)
            snprintf(agent, an, "%s", e->agent);
        if (open)
            *open = e->status != ESC_RESOLVED;
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

charter_status ledger_policy_needed(charter_ledger *l, const charter *c,
                                    charter_decider *d, uint64_t seq, int *needed,
                                    charter_error *err)
{
    char queue[512];
    *needed = 1;
    charter_status st = queue_of(l, seq, queue, sizeof queue, NULL, 0, NULL, err);
    return st == CHARTER_OK ? ledger_policy_needed_in(l, c, d, seq, queue, needed, err)
                            : st;
}

static charter_status parse_args(charter_ledger *l, const charter *c, const char *decision_id,
                                 const char *fn, uint64_t *seq, charter_error *err)
{
    if (!l || !c)
        return ledger_fail(err, CHARTER_E_INVALID, "%s: ledger and charter required", fn);
    if (!ledger_decision_id_parse(decision_id, seq))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "expected a decision id such as d-42, found '%s'",
                           decision_id ? decision_id : "(null)");
    return CHARTER_OK;
}

charter_status charter_ledger_quorum(charter_ledger *l, const charter *c,
                                     const char *decision_id, int *needed,
                                     charter_error *err)
{
    uint64_t seq;
    int n = 1;
    charter_status st = parse_args(l, c, decision_id, "charter_ledger_quorum", &seq, err);
    if (st == CHARTER_OK)
        st = ledger_policy_needed(l, c, NULL, seq, &n, err);
    if (needed)
        *needed = n;
    return st;
}

charter_status charter_ledger_may_approve(charter_ledger *l, const charter *c,
                                          const char *decision_id, const char *who,
                                          bool *may, char *why, size_t why_size,
                                          charter_error *err)
{
    uint64_t seq;
    if (may)
        *may = false;
    if (why && why_size)
        why[0] = '\0';
    charter_status st = parse_args(l, c, decision_id, "charter_ledger_may_approve", &seq,
                                   err);
    if (st == CHARTER_OK && (!who || !*who || !may))
        st = ledger_fail(err, CHARTER_E_INVALID,
                         "charter_ledger_may_approve: who and may are required");
    if (st != CHARTER_OK)
        return st;
    char queue[512], agent[512];
    bool open = false;
    if ((st = queue_of(l, seq, queue, sizeof queue, agent, sizeof agent, &open, err)) !=
        CHARTER_OK)
        return st;
    if (!open) {
        if (why && why_size)
            snprintf(why, why_size, "%s is already resolved", decision_id);
        return CHARTER_OK;
    }
    if (!ledger_policy_may_approve(c, queue, agent, who, why, why_size))
        return CHARTER_OK;
    pthread_mutex_lock(&l->mu);
    const state_escalation *e = ledger_state_escalation(&l->state, seq);
    bool voted = e && ledger_state_has_approver(e, who);
    size_t votes = e ? e->approver_count : 0;
    pthread_mutex_unlock(&l->mu);
    int needed = 1;
    /* A voter may approve again only when the votes already make a quorum
     * that shrank (as charter_ledger_resolve). */
    if (voted && (st = ledger_policy_needed_in(l, c, NULL, seq, queue, &needed, err)) !=
                     CHARTER_OK)
        return st;
    if (voted && (int)votes < needed) {
        if (why && why_size)
            snprintf(why, why_size,
                     "%s already approved %s; its quorum needs another approver", who,
                     decision_id);
        return CHARTER_OK;
    }
    *may = true;
    return CHARTER_OK;
}
