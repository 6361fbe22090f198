/* escalation.c - escalated decisions: resolving them, looking them up,
 * waiting for them, their deadlines (the escalation part of
 * charter_ledger.h), and reading a recorded decision back.
 *
 * The escalations live in the recorder's in-memory state (state.h), rebuilt
 * from the entries on open, so a server that restarts finds its open
 * escalations and their deadlines again. Every change is an entry first
 * ("escalation_resolved", "escalation_moved") and reaches the state only
 * once that entry is durable. An approval, a person's or a deadline's, is
 * first re-checked under the charter serving now and its action reserved
 * against the budgets (given back if the entry cannot be appended), as a
 * decision's is: the escalation path is never a way around the charter.
 */
#include "base/banned.h"

#include "ledger/recorder.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/jspan.h"
#include "base/strbuf.h"
#include "base/thread.h"
#include "charter/model.h"
#include "engine/request.h"
#include "ledger/chain.h"
#include "ledger/grant.h"
#include "ledger/policy.h"

/* ---- Re-checking an approval ---------------------------------------------- */

/* What approving an escalation needs and finds. An approval (a person's,
 * or a deadline's on_timeout: allow) is a decision like any other: the
 * request exactly as recorded is decided again under the charter serving
 * now, with the ledger's counters as they stand, and its action is counted
 * (reserved) in the same step, as charter_ledger_decide does. */
typedef struct approval {
    const charter *c;          /* the charter serving now */
    charter_decider *d;
    /* Filled by approval_check. */
    charter_refusal refusal;
    char stopped_by[CHARTER_STOPPED_BY_SIZE];
    char why[768];             /* what stopped it, for a person to read */
    double spend;              /* counted when reserved */
    bool reserved;
} approval;

/* Tries before the re-check gives up on counters that keep changing: the
 * budget locks it holds keep other approvals and the locked path of
 * charter_ledger_decide out, so only optimistic decisions can get between
 * its reading and its counting, and each of those that does counts once. */
#define APPROVAL_TRIES 64

static void refuse(approval *ap, charter_refusal why, const char *stopped_by,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void refuse(approval *ap, charter_refusal why, const char *stopped_by,
                   const char *fmt, ...)
{
    ap->refusal = why;
    snprintf(ap->stopped_by, sizeof ap->stopped_by, "%s", stopped_by ? stopped_by : "");
    va_list va;
    va_start(va, fmt);
    vsnprintf(ap->why, sizeof ap->why, fmt, va);
    va_end(va);
}

/* The re-decision denies: say what stopped it. Boundaries come first in
 * `fired`, then stop rules, then rules. */
static void refuse_denied(approval *ap, const charter_decision *dec, const char *id,
                          const charter_counters *k, const char *run_id)
{
    const charter_fired *f = NULL;
    for (size_t i = 0; i < dec->fired_count && !f; i++)
        if (dec->fired[i].effect == CHARTER_DENY)
            f = &dec->fired[i];
    const char *ver = charter_version(ap->c);
    if (f && !strcmp(f->kind, "boundary"))
        refuse(ap, CHARTER_REFUSAL_BOUNDARY, f->id,
               "approving %s is refused: boundary '%s' denies this action under the "
               "charter serving now (%.80s): %s A boundary cannot be approved away; "
               "deny the escalation instead.", id, f->id, ver, f->message);
    else if (f && !strcmp(f->kind, "stop_rule"))
        refuse(ap, CHARTER_REFUSAL_STOP_RULE, f->id,
               "approving %s is refused: stop rule '%s' stops it: %s (the ledger's "
               "counters now: %" PRId64 " actions and %.15g spent by this agent that "
               "day; %" PRId64 " actions and %.15g spent in run '%.128s'; this action "
               "spends %.15g)", id, f->id, f->message, k->day_actions, k->day_spend,
               k->run_actions, k->run_spend, run_id, isfinite(dec->spend) ? dec->spend : 0);
    else
        refuse(ap, CHARTER_REFUSAL_DENIED, f ? f->id : dec->reason,
               "approving %s is refused: the charter serving now (%.80s) denies this "
               "action (%s%s%s): %s", id, ver, dec->reason, f ? " " : "", f ? f->id : "",
               dec->explanation);
}

/* Decides the recorded request again and reserves its budget; the
 * escalation of `seq` is ours (ESC_RESOLVING), so its strings stay put.
 * CHARTER_OK when the approval may be recorded (ap->reserved), else
 * CHARTER_E_REFUSED with ap->refusal and ap->why set: whatever goes wrong
 * refuses (fail closed), nothing here lets an approval through unchecked. */
static charter_status approval_check(charter_ledger *l, uint64_t seq, approval *ap)
{
    char id[32];
    ledger_decision_id(seq, id);
    ap->refusal = CHARTER_REFUSAL_NONE;
    ap->reserved = false;
    pthread_mutex_lock(&l->mu);
    const state_escalation *e = ledger_state_escalation(&l->state, seq);
    const char *agent = e->agent, *run_id = e->run_id;
    int64_t day = e->day;
    pthread_mutex_unlock(&l->mu);

    char *payload = NULL;
    size_t len = 0;
    charter_request *r = NULL;
    charter_error e2;
    memset(&e2, 0, sizeof e2);
    jspan p, req = {NULL, 0}, tm = {NULL, 0};
    double t = 0;
    if (!ap->c || !ap->d) {
        refuse(ap, CHARTER_REFUSAL_RECHECK, NULL,
               "approving %s is refused: no charter to re-check it against", id);
        goto done;
    }
    if (ledger_decision_read(l, seq, id, &payload, &len, &e2) != CHARTER_OK) {
        refuse(ap, CHARTER_REFUSAL_RECHECK, NULL,
               "approving %s is refused: its recorded decision could not be read to "
               "re-check it (%.400s)", id, e2.message);
        goto done;
    }
    /* The request's bytes as recorded: its span in the payload, never a
     * re-serialization (which could change numbers and grow past limits). */
    if (!jspan_value(payload, len, &p) || !jspan_get(p, "request", &req) ||
        req.p[0] != '{' || !jspan_get(p, "time_ms", &tm) || !jspan_num(tm, &t)) {
        refuse(ap, CHARTER_REFUSAL_RECHECK, NULL,
               "approving %s is refused: its recorded decision has no readable request "
               "and time to re-check", id);
        goto done;
    }
    if (charter_request_parse(req.p, req.n, &r, &e2) != CHARTER_OK) {
        refuse(ap, CHARTER_REFUSAL_RECHECK, NULL,
               "approving %s is refused: its recorded request cannot be decided again "
               "(%s: %.400s); deny the escalation instead", id,
               charter_status_name(e2.code), e2.message);
        goto done;
    }
    unsigned slot[2];
    ledger_budget_lock(l, agent, run_id, slot);
    for (int attempt = 0;; attempt++) {
        if (attempt == APPROVAL_TRIES) {
            refuse(ap, CHARTER_REFUSAL_RECHECK, NULL,
                   "approving %s is refused: the budgets of agent '%.128s' kept "
                   "changing while it was re-checked; try again", id, agent);
            break;
        }
        charter_counters k, now;
        pthread_mutex_lock(&l->mu);
        ledger_state_counters(&l->state, agent, run_id, day, &k);
        pthread_mutex_unlock(&l->mu);
        const charter_decision *dec = NULL;
        charter_status ds = ch_request_set_counters(r, k.run_actions, k.run_spend,
                                                    k.day_actions, k.day_spend);
        if (ds == CHARTER_OK)
            ds = charter_decide(ap->d, ap->c, r, (int64_t)t, &dec, &e2);
        if (ds != CHARTER_OK) {
            refuse(ap, CHARTER_REFUSAL_RECHECK, NULL,
                   "approving %s is refused: it could not be decided again under the "
                   "charter serving now (%.400s)", id,
                   e2.message[0] ? e2.message : charter_status_message(ds));
            break;
        }
        if (dec->effect == CHARTER_DENY) {
            refuse_denied(ap, dec, id, &k, run_id);
            break;
        }
        double spend = isfinite(dec->spend) ? dec->spend : 0;
        pthread_mutex_lock(&l->mu);
        ledger_state_counters(&l->state, agent, run_id, day, &now);
        bool same = now.run_actions == k.run_actions && now.day_actions == k.day_actions &&
                    now.run_spend == k.run_spend && now.day_spend == k.day_spend;
        charter_status st = same ? ledger_state_count(&l->state, agent, run_id, day, 1,
                                                      spend)
                                 : CHARTER_OK;
        pthread_mutex_unlock(&l->mu);
        if (same && st != CHARTER_OK)
            refuse(ap, CHARTER_REFUSAL_RECHECK, NULL,
                   "approving %s is refused: out of memory counting it", id);
        else if (same) {
            ap->reserved = true;
            ap->spend = spend;
        }
        if (same)
            break;
    }
    ledger_budget_unlock(l, slot);
done:
    charter_request_free(r);
    free(payload);
    return ap->refusal == CHARTER_REFUSAL_NONE ? CHARTER_OK : CHARTER_E_REFUSED;
}

/* Gives back what approval_check reserved for escalation `seq`. */
static void approval_unreserve(charter_ledger *l, uint64_t seq, approval *ap)
{
    if (!ap->reserved)
        return;
    pthread_mutex_lock(&l->mu);
    const state_escalation *e = ledger_state_escalation(&l->state, seq);
    ledger_state_count(&l->state, e->agent, e->run_id, e->day, -1, -ap->spend);
    pthread_mutex_unlock(&l->mu);
    ap->reserved = false;
}

/* ---- Changing an escalation ------------------------------------------------ */

/* A resolution or a move of one escalation, between its entry being built
 * and the state learning it. The escalation is ESC_RESOLVING meanwhile, so
 * a second resolver gets CHARTER_E_DUPLICATE rather than a second entry,
 * and the deadline pass leaves it alone. */
typedef struct esc_change {
    uint64_t seq;
    const ch_queue *to;    /* a move to this queue; NULL: a resolution */
    int64_t deadline_ms;   /* a move's new deadline */
    const char *who;       /* a resolution's */
    const char *note;
    bool approve, timed_out;
    int64_t time_ms;
    approval ap;           /* an approval's re-check (ap.c, ap.d set by the caller) */
    char *payload;         /* owned, until finish_change */
    char note_buf[1024];
    /* A person's (or a grant's) resolution: the queue's policies apply
     * (policy.h), and a change already under way is waited for. */
    bool policies;
    const char *grant_id;         /* approved by this standing approval */
    charter_refusal single_only;  /* refuse an approval needing a quorum */
    /* Set by the policies: an approval short of the quorum (recorded as
     * "escalation_approval"), the approvals after it and those needed. */
    bool vote;
    int approvals, needed;
    /* A shared ledger: the state it was decided on (recorder.h). */
    uint64_t basis;
    ledger_subject subject;
    char agent[512], run_id[512];
} esc_change;

/* How long a person's resolution waits for another change of the same
 * escalation (a quorum's other approver, a deadline) to be recorded. */
#define TAKE_WAIT_MS 30000

static void deadline_after(struct timespec *ts, uint32_t ms);

/* Marks escalation `seq` ESC_RESOLVING; *deadline_ms receives its deadline.
 * CHARTER_E_DUPLICATE when it is no longer open. With `wait`, a change
 * under way (ESC_RESOLVING) is waited for first, so two approvers of a
 * quorum acting at once are recorded one after the other. */
static charter_status take_open(charter_ledger *l, uint64_t seq, bool wait,
                                int64_t *deadline_ms, charter_error *err)
{
    char id[32];
    ledger_decision_id(seq, id);
    struct timespec until;
    deadline_after(&until, TAKE_WAIT_MS);
    pthread_mutex_lock(&l->mu);
    state_escalation *esc = ledger_state_escalation(&l->state, seq);
    while (wait && esc && esc->status == ESC_RESOLVING && !l->waits_interrupted) {
        if (pthread_cond_timedwait(&l->resolved_cv, &l->mu, &until) == ETIMEDOUT)
            break;
        esc = ledger_state_escalation(&l->state, seq); /* the table may have moved */
    }
    charter_status st = CHARTER_OK;
    if (!ledger_state_is_decision(&l->state, seq))
        st = ledger_fail(err, CHARTER_E_REF, "there is no decision %s in this ledger", id);
    else if (!esc)
        st = ledger_fail(err, CHARTER_E_REF,
                         "decision %s was not escalated; only escalations are resolved",
                         id);
    else if (esc->status != ESC_OPEN)
        st = ledger_fail(err, CHARTER_E_DUPLICATE, "decision %s is already %s", id,
                         esc->status == ESC_RESOLVED ? "resolved" : "being resolved");
    else {
        esc->status = ESC_RESOLVING;
        *deadline_ms = esc->deadline_ms;
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

/* Gives the escalation back open, and tells a resolution waiting for it
 * (take_open). */
static void give_back(charter_ledger *l, uint64_t seq)
{
    pthread_mutex_lock(&l->mu);
    /* (Another server may have resolved it meanwhile: it stays so.) */
    state_escalation *e = ledger_state_escalation(&l->state, seq);
    if (e->status == ESC_RESOLVING)
        e->status = ESC_OPEN;
    pthread_cond_broadcast(&l->resolved_cv);
    pthread_mutex_unlock(&l->mu);
}

/* The queue's policies for a person's (or grant's) resolution of the
 * escalation taken (ESC_RESOLVING, so its queue and approvers stay put):
 * the note, self-approval, distinct approvers, and the quorum (ch->vote,
 * ch->approvals, ch->needed). A refusal gives the escalation back and
 * returns CHARTER_E_REFUSED with ch->ap.refusal and ch->ap.why. */
static charter_status check_policies(charter_ledger *l, esc_change *ch, char ***approvers,
                                     size_t *approver_count, charter_error *err)
{
    char id[32];
    ledger_decision_id(ch->seq, id);
    pthread_mutex_lock(&l->mu);
    const state_escalation *e = ledger_state_escalation(&l->state, ch->seq);
    const char *queue = e->queue, *agent = e->agent;
    *approvers = e->approvers;
    *approver_count = e->approver_count;
    bool voted = ledger_state_has_approver(e, ch->who);
    pthread_mutex_unlock(&l->mu);
    const ch_queue *q = ch_find_queue(ch->ap.c, queue);
    approval *ap = &ch->ap;
    char why[512];
    if (!ch->grant_id && ledger_policy_note_needed(q, ch->approve) &&
        ledger_policy_blank(ch->note))
        refuse(ap, CHARTER_REFUSAL_NOTE_REQUIRED, queue,
               "%s %s needs a note saying why (queue %s: require_note %s); found %s",
               ch->approve ? "approving" : "denying", id, *queue ? queue : "(none)",
               q && q->require_note == CH_NOTE_ALWAYS ? "always" : "deny",
               ch->note ? "a blank note" : "no note");
    else if (ch->approve &&
             !ledger_policy_may_approve(ap->c, queue, agent, ch->who, why, sizeof why))
        refuse(ap, CHARTER_REFUSAL_SELF_APPROVAL, queue, "approving %s is refused: %s", id,
               why);
    if (ap->refusal != CHARTER_REFUSAL_NONE) {
        give_back(l, ch->seq);
        return ledger_fail(err, CHARTER_E_REFUSED, "%s", ap->why);
    }
    if (!ch->approve)
        return CHARTER_OK;
    charter_status st = ledger_policy_needed_in(l, ap->c, ap->d, ch->seq, queue,
                                                &ch->needed, err);
    if (st != CHARTER_OK) {
        give_back(l, ch->seq);
        return st;
    }
    /* A second approval by the same person adds nothing, unless the votes
     * already make the quorum (it shrank: a move to a queue that needs
     * fewer, or a new charter); then any approver's approval completes it. */
    if (voted && (int)*approver_count < ch->needed) {
        refuse(ap, CHARTER_REFUSAL_ALREADY_APPROVED, queue,
               "%s already approved %s; its quorum of %d needs the approval of someone "
               "else", ch->who, id, ch->needed);
        give_back(l, ch->seq);
        return ledger_fail(err, CHARTER_E_REFUSED, "%s", ap->why);
    }
    ch->approvals = (int)*approver_count + (voted ? 0 : 1);
    ch->vote = ch->approvals < ch->needed;
    if (ch->single_only && ch->needed > 1) {
        refuse(ap, ch->single_only, queue,
               "%s needs %d approvals (queue %s's quorum); it can only be approved one "
               "approver at a time", id, ch->needed, queue);
        give_back(l, ch->seq);
        return ledger_fail(err, CHARTER_E_REFUSED, "%s", ap->why);
    }
    return CHARTER_OK;
}

/* An approval passes its re-check or does not happen: a person's refused
 * approval gives the escalation back (CHARTER_E_REFUSED); a deadline's
 * allow that is refused becomes a deny by timeout, with the reason in its
 * note. */
static charter_status check_approval(charter_ledger *l, esc_change *ch,
                                     charter_error *err)
{
    if (approval_check(l, ch->seq, &ch->ap) == CHARTER_OK)
        return CHARTER_OK;
    if (!ch->timed_out) {
        give_back(l, ch->seq);
        return ledger_fail(err, CHARTER_E_REFUSED, "%s", ch->ap.why);
    }
    char why[256];
    snprintf(why, sizeof why, "%s", ch->note ? ch->note : "the deadline passed");
    int n = snprintf(ch->note_buf, sizeof ch->note_buf, "%s, but ", why);
    snprintf(ch->note_buf + n, sizeof ch->note_buf - (size_t)n, "%.700s; denied",
             ch->ap.why);
    ch->note = ch->note_buf;
    ch->approve = false;
    return CHARTER_OK;
}

/* Takes the escalation, re-checks an approval and builds the change's
 * entry into *a. For a move, ch->to is set and ch->time_ms is when the old
 * deadline was seen passed; the new deadline runs from the old one (so the
 * record does not depend on when the server happened to look). */
static charter_status prepare_change(charter_ledger *l, esc_change *ch,
                                     const ch_queue *from, ledger_append *a,
                                     charter_error *err)
{
    int64_t old_deadline = 0;
    /* Read before the escalation is: what another server changes after
     * it conflicts (recorder.c, validate). */
    ch->basis = ledger_basis(l);
    charter_status st = take_open(l, ch->seq, ch->policies, &old_deadline, err);
    if (st != CHARTER_OK)
        return st;
    char **approvers = NULL;
    size_t approver_count = 0;
    if (!ch->to && ch->policies &&
        (st = check_policies(l, ch, &approvers, &approver_count, err)) != CHARTER_OK)
        return st;
    if (!ch->to && ch->approve && (st = check_approval(l, ch, err)) != CHARTER_OK)
        return st;
    /* An approval short of the quorum counts nothing: its re-check's
     * reservation goes back at once. */
    if (ch->vote)
        approval_unreserve(l, ch->seq, &ch->ap);
    char id[32], ts[40], ds[40];
    ledger_decision_id(ch->seq, id);
    ch_time_format(ch->time_ms, ts);
    json_t *j;
    if (ch->to) {
        ch->deadline_ms = ch->to->sla_ms ? old_deadline + ch->to->sla_ms : 0;
        ch_time_format(ch->deadline_ms, ds);
        j = json_pack("{s:s,s:s,s:s,s:s?,s:I,s:s,s:I}", "decision_id", id, "from",
                      from->id, "to", ch->to->id, "deadline",
                      ch->deadline_ms ? ds : NULL, "deadline_ms",
                      (json_int_t)ch->deadline_ms, "time", ts, "time_ms",
                      (json_int_t)ch->time_ms);
    } else if (ch->vote) {
        j = json_pack("{s:s,s:s,s:s?,s:s,s:I,s:i,s:i}", "decision_id", id, "who",
                      ch->who, "note", ch->note, "time", ts, "time_ms",
                      (json_int_t)ch->time_ms, "approvals", ch->approvals, "needed",
                      ch->needed);
    } else {
        j = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:I}", "decision_id", id, "who", ch->who,
                      "resolution", ch->approve ? "approve" : "deny", "note", ch->note,
                      "time", ts, "time_ms", (json_int_t)ch->time_ms);
        if (j && ch->timed_out)
            json_object_set_new(j, "timeout", json_true());
        /* What the approval counted, so a restart counts the same. */
        if (j && ch->approve)
            json_object_set_new(j, "spend", json_real(ch->ap.spend));
        if (j && ch->approve && ch->grant_id)
            json_object_set_new(j, "grant", json_string(ch->grant_id));
        /* Every approver of a quorum, in order, the last being who. */
        if (j && ch->approve && ch->needed > 1) {
            json_t *arr = json_array();
            for (size_t i = 0; arr && i < approver_count; i++)
                if (!ledger_same_person(approvers[i], ch->who))
                    json_array_append_new(arr, json_string(approvers[i]));
            if (arr)
                json_array_append_new(arr, json_string(ch->who));
            json_object_set_new(j, "approvers", arr);
        }
    }
    size_t len = 0;
    if (!(ch->payload = ledger_payload_json(j, &len))) {
        approval_unreserve(l, ch->seq, &ch->ap);
        give_back(l, ch->seq);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory recording %s", id);
    }
    memset(a, 0, sizeof *a);
    a->kind = ch->to ? "escalation_moved"
              : ch->vote ? "escalation_approval" : "escalation_resolved";
    a->payload = ch->payload;
    a->payload_len = len;
    if (l->shared) {
        /* The escalation; an approval's budgets; a grant's caps. */
        ch->subject = (ledger_subject){.esc_seq = ch->seq};
        if (ch->approve && !ch->vote && !ch->to) {
            pthread_mutex_lock(&l->mu);
            const state_escalation *e = ledger_state_escalation(&l->state, ch->seq);
            snprintf(ch->agent, sizeof ch->agent, "%s", e->agent);
            snprintf(ch->run_id, sizeof ch->run_id, "%s", e->run_id);
            ch->subject.day = e->day;
            pthread_mutex_unlock(&l->mu);
            ch->subject.agent = ch->agent;
            ch->subject.run_id = ch->run_id;
        }
        uint64_t gseq;
        if (ch->approve && ch->grant_id && ledger_grant_id_parse(ch->grant_id, &gseq))
            ch->subject.grant_seq = gseq;
        a->basis_seq = ch->basis;
        a->subject = &ch->subject;
    }
    return CHARTER_OK;
}

/* Applies a change whose entry was appended with status `st` (or gives the
 * escalation and its reservation back when it was not), and frees its
 * payload. The caller wakes the waiters (wake_waiters), once for however
 * many changes it finished. */
static charter_status finish_change(charter_ledger *l, esc_change *ch, charter_status st,
                                    charter_error *err)
{
    char id[32];
    ledger_decision_id(ch->seq, id);
    free(ch->payload);
    ch->payload = NULL;
    if (st != CHARTER_OK) {
        approval_unreserve(l, ch->seq, &ch->ap);
        give_back(l, ch->seq);
        return st;
    }
    pthread_mutex_lock(&l->mu);
    state_escalation *e = ledger_state_escalation(&l->state, ch->seq);
    if (ch->to) {
        e->status = ESC_OPEN;
        if (ledger_state_escalation_move(&l->state, e, ch->to->id, ch->deadline_ms) !=
            CHARTER_OK)
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory moving %s", id);
    } else if (ch->vote) {
        e->status = ESC_OPEN;
        if (ledger_state_escalation_vote(&l->state, e, ch->who) != CHARTER_OK)
            st = ledger_fail(err, CHARTER_E_NOMEM,
                             "the approval of %s is recorded, but keeping it in memory "
                             "failed", id);
    } else if (ledger_state_escalation_resolve(&l->state, e, ch->approve, ch->who,
                                               ch->note, ch->time_ms,
                                               ch->timed_out) != CHARTER_OK ||
               (ch->grant_id && ch->approve &&
                ledger_state_escalation_grant(e, ch->grant_id) != CHARTER_OK)) {
        /* An approval's action was counted when it was re-checked. */
        st = ledger_fail(err, CHARTER_E_NOMEM,
                         "the resolution of %s is recorded, but keeping it in "
                         "memory failed", id);
    } else if (ch->grant_id && ch->approve) {
        /* Counted against the grant's caps (grant.c). */
        uint64_t gseq;
        state_grant *g = ledger_grant_id_parse(ch->grant_id, &gseq)
                             ? ledger_state_grant(&l->state, gseq)
                             : NULL;
        if (g)
            ledger_state_grant_use(g, ch->ap.spend);
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

/* Whether a change that conflicted did so only over the budgets its
 * approval re-checked: the escalation (and the grant approving it) are as
 * they were, and it is open again. */
static bool only_budgets_changed(charter_ledger *l, const esc_change *ch)
{
    if (!ch->subject.agent)
        return false;
    pthread_mutex_lock(&l->mu);
    const state_escalation *e = ledger_state_escalation(&l->state, ch->seq);
    bool only = e && e->status == ESC_OPEN && e->foreign_seq <= ch->basis;
    if (only && ch->subject.grant_seq) {
        const state_grant *g = ledger_state_grant(&l->state, ch->subject.grant_seq);
        only = g && g->foreign_seq <= ch->basis;
    }
    pthread_mutex_unlock(&l->mu);
    return only;
}

/* Says what another server did first to a change that conflicted. */
static void conflict_message(charter_ledger *l, const esc_change *ch, charter_error *err)
{
    char id[32];
    ledger_decision_id(ch->seq, id);
    pthread_mutex_lock(&l->mu);
    const state_escalation *e = ledger_state_escalation(&l->state, ch->seq);
    bool resolved = e && e->status == ESC_RESOLVED;
    char who[128] = "";
    if (resolved)
        snprintf(who, sizeof who, "%s", e->who ? e->who : "");
    pthread_mutex_unlock(&l->mu);
    if (resolved)
        ledger_fail(err, CHARTER_E_CONFLICT,
                    "escalation %s was resolved on another server (by %s) first", id, who);
    else
        ledger_fail(err, CHARTER_E_CONFLICT,
                    "escalation %s (or what approving it counts against) changed on "
                    "another server while this %s was recorded; look again", id,
                    ch->to ? "move" : "resolution");
}

/* Wakes every charter_ledger_escalation waiting for a change (each looks
 * whether its own escalation changed), and every
 * charter_ledger_escalations_wait. A deadline pass that changes a thousand
 * escalations wakes them once, not a thousand times. */
static void wake_waiters(charter_ledger *l)
{
    pthread_mutex_lock(&l->mu);
    pthread_cond_broadcast(&l->resolved_cv);
    pthread_cond_broadcast(&l->version_cv);
    pthread_mutex_unlock(&l->mu);
}

charter_status ledger_resolve(charter_ledger *l, ledger_resolve_args *ra,
                              charter_resolve_result *out, charter_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!l || !ra || !ra->who || !*ra->who)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a resolution needs the ledger and who resolved it");
    ra->spend = 0;
    if (!ra->c)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a resolution is checked against the charter serving now "
                           "(its queue's policies, an approval's re-check); none was "
                           "given");
    char id[32];
    ledger_decision_id(ra->seq, id);
    charter_decider *d = NULL;
    if (ra->approve && charter_decider_new(&d) != CHARTER_OK)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory re-checking %s", id);
    int64_t when = ra->time_ms ? ra->time_ms : charter_now_ms();
    esc_change ch;
    charter_status st;
    for (int tries = 1;; tries++) {
        ch = (esc_change){.seq = ra->seq, .who = ra->who, .note = ra->note,
                          .approve = ra->approve, .policies = true,
                          .grant_id = ra->grant_id, .single_only = ra->single_only,
                          .time_ms = when};
        ch.ap.c = ra->c;
        ch.ap.d = d;
        ledger_append a;
        st = prepare_change(l, &ch, NULL, &a, err);
        if (st == CHARTER_OK && ch.approve && !ch.vote && ra->cap_spend &&
            ch.ap.spend > ra->max_spend) {
            /* A grant's amount cap: what the re-check found is more than is left. */
            finish_change(l, &ch, CHARTER_E_REFUSED, err); /* gives it all back */
            ch.ap.refusal = CHARTER_REFUSAL_NO_GRANTS;
            ch.ap.stopped_by[0] = '\0';
            st = ledger_fail(err, CHARTER_E_REFUSED,
                             "approving %s by standing approval %s is refused: it spends "
                             "%.15g and the grant has %.15g of its amount cap left", id,
                             ra->grant_id ? ra->grant_id : "", ch.ap.spend, ra->max_spend);
        }
        if (st == CHARTER_E_REFUSED && out) {
            out->refusal = ch.ap.refusal;
            memcpy(out->stopped_by, ch.ap.stopped_by, sizeof out->stopped_by);
        }
        if (st == CHARTER_OK) {
            a.retry = tries > 1;
            st = ledger_writer_append(l->writer, &a, err);
            if (st == CHARTER_OK && out)
                out->seq = a.seq;
            st = finish_change(l, &ch, st, err);
            wake_waiters(l);
            /* Another server counted against the budgets this approval
             * re-checked, the escalation itself unchanged: checked again
             * (a person should not have to retry for an agent's traffic). */
            if (st == CHARTER_E_CONFLICT && tries < LEDGER_CONFLICT_TRIES &&
                only_budgets_changed(l, &ch))
                continue;
            if (st == CHARTER_E_CONFLICT)
                conflict_message(l, &ch, err);
        }
        break;
    }
    if (st == CHARTER_OK && out && ch.approve) {
        out->pending = ch.vote;
        out->approvals = ch.approvals;
        out->needed = ch.needed;
    }
    if (st == CHARTER_OK && ch.approve && !ch.vote)
        ra->spend = ch.ap.spend;
    charter_decider_free(d);
    return st;
}

charter_status charter_ledger_resolve(charter_ledger *l, const charter *c,
                                      const char *decision_id, const char *who,
                                      charter_resolution r, const char *note,
                                      int64_t time_ms, charter_resolve_result *out,
                                      charter_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (r != CHARTER_RESOLVE_APPROVE && r != CHARTER_RESOLVE_DENY)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a resolution is approve or deny, found %d", (int)r);
    ledger_resolve_args a = {.c = c, .who = who, .approve = r == CHARTER_RESOLVE_APPROVE,
                             .note = note, .time_ms = time_ms};
    if (l && who && *who && c && !ledger_decision_id_parse(decision_id, &a.seq))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "expected a decision id such as d-42, found '%s'",
                           decision_id ? decision_id : "(null)");
    return ledger_resolve(l, &a, out, err);
}

/* ---- Looking up and waiting ----------------------------------------------- */

static int by_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Open escalations whose deadline passed count as open until expired. */
static bool is_open(const state_escalation *e)
{
    return e->status == ESC_OPEN || e->status == ESC_RESOLVING;
}

/* An escalation copied out of the state (its strings in `text`, its
 * approvers' pointers in `names`). */
typedef struct esc_copy {
    charter_escalation x;
    char id[32];
    strbuf text;
    const char **names;
    size_t names_cap;
} esc_copy;

static void esc_copy_free(esc_copy *c)
{
    free(c->text.p);
    free(c->names);
}

/* Copies e (state locked); false when out of memory. */
static bool copy_escalation(const state_escalation *e, esc_copy *c)
{
    bool resolved = e->status == ESC_RESOLVED;
    enum { FIXED = 8 };
    const char *src[FIXED] = {e->agent, e->run_id, e->workflow, e->action, e->queue,
                              resolved ? e->who : NULL, resolved ? e->note : NULL,
                              e->grant_id};
    size_t at[FIXED];
    c->text.n = 0;
    for (int i = 0; i < FIXED; i++) {
        at[i] = c->text.n;
        if (src[i])
            strbuf_add(&c->text, src[i], strlen(src[i]) + 1);
    }
    size_t first = c->text.n;
    for (size_t i = 0; i < e->approver_count; i++)
        strbuf_add(&c->text, e->approvers[i], strlen(e->approvers[i]) + 1);
    if (c->text.failed)
        return false;
    if (e->approver_count > c->names_cap) {
        const char **n = realloc(c->names, e->approver_count * sizeof *n);
        if (!n)
            return false;
        c->names = n;
        c->names_cap = e->approver_count;
    }
    for (size_t i = 0, off = first; i < e->approver_count; i++) {
        c->names[i] = c->text.p + off;
        off += strlen(c->names[i]) + 1;
    }
    const char *s[FIXED];
    for (int i = 0; i < FIXED; i++)
        s[i] = src[i] ? c->text.p + at[i] : NULL;
    ledger_decision_id(e->seq, c->id);
    c->x = (charter_escalation){
        .decision_id = c->id, .seq = e->seq, .agent = s[0], .run_id = s[1],
        .workflow = s[2], .action = s[3], .queue = s[4],
        .time_ms = e->time_ms, .deadline_ms = e->deadline_ms,
        .status = !resolved ? CHARTER_ESC_OPEN
                  : e->approved ? CHARTER_ESC_APPROVED : CHARTER_ESC_DENIED,
        .resolved_by = s[5], .note = s[6],
        .resolved_ms = resolved ? e->resolved_ms : 0, .timed_out = e->timed_out,
        .approval_count = e->approver_count,
        .approvers = e->approver_count ? c->names : NULL,
        .grant_id = s[7]};
    return true;
}

size_t charter_ledger_open_count(charter_ledger *l)
{
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    ledger_state_open(&l->state, &n);
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* Escalations copied per hold of the state's lock: few enough that a
 * decision waiting for the lock waits microseconds, enough that listing
 * ten thousand does not take the lock ten thousand times. */
#define LIST_CHUNK 64

charter_status charter_ledger_escalations(charter_ledger *l, const char *queue,
                                          bool open_only, charter_escalation_fn fn,
                                          void *user, charter_error *err)
{
    if (!l || !fn)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_escalations: ledger and callback required");
    /* First the seqs, in decision order; then each escalation on its own. */
    pthread_mutex_lock(&l->mu);
    ledger_state *s = &l->state;
    size_t n = 0, cap = s->esc_count;
    const uint64_t *open = NULL;
    if (open_only)
        open = ledger_state_open(s, &cap); /* already in decision order */
    uint64_t *seqs = malloc((cap + 1) * sizeof *seqs);
    if (!seqs) {
        pthread_mutex_unlock(&l->mu);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory listing escalations");
    }
    if (open_only) {
        if (cap) /* none open: open may be NULL, and memcpy's NULL is UB */
            memcpy(seqs, open, cap * sizeof *seqs);
        n = cap;
    } else {
        for (size_t i = 0; i < s->esc_cap && n < cap; i++)
            if (s->escalations[i].status != ESC_NONE)
                seqs[n++] = s->escalations[i].seq;
    }
    pthread_mutex_unlock(&l->mu);
    if (!open_only)
        qsort(seqs, n, sizeof *seqs, by_seq);
    esc_copy *c = calloc(LIST_CHUNK, sizeof *c);
    charter_status st = CHARTER_OK;
    if (!c)
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory listing escalations");
    bool stopped = false;
    for (size_t i = 0; c && i < n && st == CHARTER_OK && !stopped;) {
        size_t k = 0;
        pthread_mutex_lock(&l->mu);
        for (; i < n && k < LIST_CHUNK; i++) {
            const state_escalation *e = ledger_state_escalation(&l->state, seqs[i]);
            if (!e || (queue && strcmp(queue, e->queue)) || (open_only && !is_open(e)))
                continue;
            if (!copy_escalation(e, &c[k])) {
                st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory listing escalations");
                break;
            }
            k++;
        }
        pthread_mutex_unlock(&l->mu);
        for (size_t j = 0; j < k && !stopped; j++)
            stopped = fn(&c[j].x, user) != 0;
    }
    for (size_t j = 0; c && j < LIST_CHUNK; j++)
        esc_copy_free(&c[j]);
    free(c);
    free(seqs);
    return st;
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
    base_time_after(CLOCK_MONOTONIC, (int64_t)ms * 1000, ts);
}

charter_status charter_ledger_escalation(charter_ledger *l, const char *decision_id,
                                         uint32_t wait_ms, charter_escalation_fn fn,
                                         void *user, charter_error *err)
{
    uint64_t seq;
    if (!l || !fn)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_escalation: ledger and callback required");
    if (!ledger_decision_id_parse(decision_id, &seq))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "expected a decision id such as d-42, found '%s'",
                           decision_id ? decision_id : "(null)");
    struct timespec until;
    deadline_after(&until, wait_ms);
    pthread_mutex_lock(&l->mu);
    charter_status st = CHARTER_OK;
    state_escalation *e = ledger_state_escalation(&l->state, seq);
    while (e && wait_ms && is_open(e) && !l->waits_interrupted) {
        if (pthread_cond_timedwait(&l->resolved_cv, &l->mu, &until) == ETIMEDOUT)
            break;
        e = ledger_state_escalation(&l->state, seq); /* the table may have moved */
    }
    esc_copy c;
    memset(&c, 0, sizeof c);
    bool copied = e && copy_escalation(e, &c);
    if (e && !copied)
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading %s", decision_id);
    else if (!e && !ledger_state_is_decision(&l->state, seq))
        st = ledger_fail(err, CHARTER_E_REF, "there is no decision %s in this ledger",
                         decision_id);
    else if (!e)
        st = ledger_fail(err, CHARTER_E_REF, "decision %s was not escalated",
                         decision_id);
    pthread_mutex_unlock(&l->mu);
    if (copied)
        fn(&c.x, user);
    esc_copy_free(&c);
    return st;
}

void charter_ledger_interrupt_waits(charter_ledger *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->waits_interrupted = true;
    pthread_cond_broadcast(&l->resolved_cv);
    pthread_cond_broadcast(&l->version_cv);
    pthread_mutex_unlock(&l->mu);
}

uint64_t charter_ledger_escalations_version(charter_ledger *l)
{
    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    uint64_t v = l->state.esc_version;
    pthread_mutex_unlock(&l->mu);
    return v;
}

uint64_t charter_ledger_escalations_wait(charter_ledger *l, uint64_t since_version,
                                         uint32_t timeout_ms)
{
    if (!l)
        return 0;
    struct timespec until;
    deadline_after(&until, timeout_ms);
    pthread_mutex_lock(&l->mu);
    while (timeout_ms && l->state.esc_version == since_version && !l->waits_interrupted)
        if (pthread_cond_timedwait(&l->version_cv, &l->mu, &until) == ETIMEDOUT)
            break;
    uint64_t v = l->state.esc_version;
    pthread_mutex_unlock(&l->mu);
    return v;
}

/* ---- Deadlines ------------------------------------------------------------- */

typedef struct due {
    uint64_t seq;
    char queue[256];
} due;

/* The open escalations past their deadline, copied out of the state so the
 * entries can be appended without holding its mutex. */
static charter_status collect_due(charter_ledger *l, int64_t now_ms, due **out,
                                  size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&l->mu);
    size_t cap = 0, open_n;
    const uint64_t *open = ledger_state_open(&l->state, &open_n);
    charter_status st = CHARTER_OK;
    for (size_t i = 0; i < open_n; i++) {
        const state_escalation *e = ledger_state_escalation(&l->state, open[i]);
        if (e->status != ESC_OPEN || !e->deadline_ms || e->deadline_ms > now_ms)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            due *d = realloc(*out, cap * sizeof *d);
            if (!d) {
                st = CHARTER_E_NOMEM;
                break;
            }
            *out = d;
        }
        due *d = &(*out)[(*n)++];
        d->seq = e->seq;
        snprintf(d->queue, sizeof d->queue, "%s", e->queue);
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

/* Deadlines passed at once are recorded together, in slices of this many:
 * one group commit for the slice instead of one commit per escalation, so
 * the deadline pass keeps up with a busy server. */
#define EXPIRE_SLICE 1024

charter_status charter_ledger_expire(charter_ledger *l, const charter *c,
                                     int64_t now_ms, size_t *count,
                                     charter_error *err)
{
    if (count)
        *count = 0;
    if (!l || !c)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_expire: ledger and charter required");
    due *list;
    size_t n;
    if (collect_due(l, now_ms, &list, &n) != CHARTER_OK)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory collecting deadlines");
    size_t slice = n < EXPIRE_SLICE ? n : EXPIRE_SLICE;
    esc_change *ch = slice ? calloc(slice, sizeof *ch) : NULL;
    ledger_append *a = slice ? calloc(slice, sizeof *a) : NULL;
    charter_decider *d = NULL; /* re-checks the allows; one for the pass */
    charter_status st = CHARTER_OK;
    if (slice && (!ch || !a || charter_decider_new(&d) != CHARTER_OK))
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory expiring escalations");
    for (size_t at = 0; at < n && st == CHARTER_OK; at += slice) {
        size_t m = 0;
        for (size_t i = at; i < n && i < at + slice && st == CHARTER_OK; i++) {
            const ch_queue *q = ch_find_queue(c, list[i].queue);
            esc_change *x = &ch[m];
            memset(x, 0, sizeof *x);
            x->seq = list[i].seq;
            x->time_ms = now_ms;
            x->ap.c = c;
            x->ap.d = d;
            const ch_queue *from = NULL;
            if (q && q->on_timeout == CH_TIMEOUT_NEXT && q->next) {
                x->to = q->next;
                from = q;
            } else {
                x->approve = q && q->on_timeout == CH_TIMEOUT_ALLOW;
                x->who = "timeout";
                x->timed_out = true;
                snprintf(x->note_buf, sizeof x->note_buf,
                         q ? "the deadline of queue %s passed; its on_timeout is %s"
                           : "the deadline passed and queue %s is no longer in the "
                             "charter; denied",
                         list[i].queue, x->approve ? "allow" : "deny");
                x->note = x->note_buf;
            }
            charter_status one = prepare_change(l, x, from, &a[m], err);
            if (one == CHARTER_OK)
                m++;
            else if (one != CHARTER_E_DUPLICATE) /* duplicate: a person was faster */
                st = one;
        }
        ledger_writer_append_all(l->writer, a, m, err); /* each a[i] says */
        for (size_t i = 0; i < m; i++) {
            charter_status one = finish_change(l, &ch[i], a[i].status, err);
            if (one == CHARTER_OK && count)
                (*count)++;
            /* A conflict: another server resolved or moved it first. */
            else if (one != CHARTER_OK && one != CHARTER_E_CONFLICT && st == CHARTER_OK)
                st = one;
        }
        if (m)
            wake_waiters(l);
    }
    charter_decider_free(d);
    free(a);
    free(ch);
    free(list);
    return st;
}

/* ---- Reading a decision back ------------------------------------------------ */

typedef struct one_entry {
    uint64_t seq;
    bool found;
    bool is_decision;
    char *payload;
    size_t len;
} one_entry;

static int take_first(const ledger_entry *e, void *user)
{
    one_entry *o = user;
    if (e->seq != o->seq)
        return 1;
    o->found = true;
    o->is_decision = !strcmp(e->kind, "decision");
    if (o->is_decision && (o->payload = malloc(e->payload_len + 1))) {
        memcpy(o->payload, e->payload, e->payload_len);
        o->payload[e->payload_len] = '\0';
        o->len = e->payload_len;
    }
    return 1;
}

/* The payload of decision `seq` (known to be one) read back from the file;
 * *out is malloc'd (recorder.h). */
charter_status ledger_decision_read(charter_ledger *l, uint64_t seq, const char *id,
                                    char **out, size_t *len, charter_error *err)
{
    pthread_mutex_lock(&l->reader_mu);
    charter_status st = CHARTER_OK;
    if (!l->reader)
        st = ledger_store_open(l->path, &l->reader_cfg, &l->reader, err);
    one_entry o = {.seq = seq};
    if (st == CHARTER_OK)
        st = l->reader->ops->read(l->reader, seq, take_first, &o, err);
    pthread_mutex_unlock(&l->reader_mu);
    if (st != CHARTER_OK) {
        free(o.payload);
        return st;
    }
    if (!o.found || !o.is_decision)
        return ledger_fail(err, CHARTER_E_IO,
                           "decision %s is in the ledger's index but its entry could "
                           "not be read back", id);
    if (!o.payload)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading %s", id);
    *out = o.payload;
    *len = o.len;
    return CHARTER_OK;
}

charter_status charter_ledger_decision(charter_ledger *l, const char *decision_id,
                                       char **out, size_t *len, charter_error *err)
{
    uint64_t seq;
    if (!out)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_decision: out is NULL");
    *out = NULL;
    if (!l)
        return ledger_fail(err, CHARTER_E_INVALID, "charter_ledger_decision: no ledger");
    if (!ledger_decision_id_parse(decision_id, &seq))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "expected a decision id such as d-42, found '%s'",
                           decision_id ? decision_id : "(null)");
    pthread_mutex_lock(&l->mu);
    bool known = ledger_state_is_decision(&l->state, seq);
    pthread_mutex_unlock(&l->mu);
    if (!known)
        return ledger_fail(err, CHARTER_E_REF, "there is no decision %s in this ledger",
                           decision_id);
    size_t n = 0;
    charter_status st = ledger_decision_read(l, seq, decision_id, out, &n, err);
    if (st == CHARTER_OK && len)
        *len = n;
    return st;
}

/* ---- Charter versions ---------------------------------------------------------- */

charter_status charter_ledger_record_charter(charter_ledger *l, const charter *c,
                                             bool *recorded, charter_error *err)
{
    if (recorded)
        *recorded = false;
    if (!l || !c)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_record_charter: ledger and charter required");
    ledger_append a = {.kind = NULL, .charter = c};
    charter_status st = ledger_writer_append(l->writer, &a, err);
    if (st == CHARTER_OK && recorded)
        *recorded = a.seq != 0;
    return st;
}

charter_status charter_ledger_charter_loaded(charter_ledger *l, const charter *c,
                                             const char *server, charter_error *err)
{
    if (!l || !c || !server || !*server)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "charter_ledger_charter_loaded: ledger, charter and server "
                           "required");
    if (!l->store->ops->shared)
        return CHARTER_OK;
    int64_t t = charter_now_ms();
    char ts[40];
    ch_time_format(t, ts);
    const char *name = charter_name(c);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I}", "version", charter_version(c), "name",
                          name ? name : "", "server", server, "time", ts, "time_ms",
                          (json_int_t)t);
    size_t len = 0;
    char *payload = ledger_payload_json(j, &len);
    if (!payload)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory recording charter_loaded");
    /* The writer records the version first when the ledger lacks it. */
    ledger_append a = {.kind = "charter_loaded", .payload = payload, .payload_len = len,
                       .charter = c};
    charter_status st = ledger_writer_append(l->writer, &a, err);
    free(payload);
    return st;
}

bool charter_ledger_shared(charter_ledger *l)
{
    return l && l->store->ops->shared;
}
