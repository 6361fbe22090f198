/* escalation.c - escalated decisions: resolving them, looking them up,
 * waiting for them, their deadlines (the escalation part of
 * charter_ledger.h), and reading a recorded decision back.
 *
 * The escalations live in the recorder's in-memory state (state.h), rebuilt
 * from the entries on open, so a server that restarts finds its open
 * escalations and their deadlines again. Every change is an entry first
 * ("escalation_resolved", "escalation_moved") and reaches the state only
 * once that entry is durable.
 */
#include "base/banned.h"

#include "ledger/recorder.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/strbuf.h"
#include "charter/model.h"
#include "engine/request.h"
#include "ledger/chain.h"

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
    char *payload;         /* owned, until finish_change */
    char note_buf[320];
} esc_change;

/* Marks escalation `seq` ESC_RESOLVING; *deadline_ms receives its deadline.
 * CHARTER_E_DUPLICATE when it is no longer open. */
static charter_status take_open(charter_ledger *l, uint64_t seq, int64_t *deadline_ms,
                                charter_error *err)
{
    char id[32];
    ledger_decision_id(seq, id);
    pthread_mutex_lock(&l->mu);
    state_escalation *esc = ledger_state_escalation(&l->state, seq);
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

static void give_back(charter_ledger *l, uint64_t seq)
{
    pthread_mutex_lock(&l->mu);
    ledger_state_escalation(&l->state, seq)->status = ESC_OPEN;
    pthread_mutex_unlock(&l->mu);
}

/* Takes the escalation and builds the change's entry into *a. For a move,
 * ch->to is set and ch->time_ms is when the old deadline was seen passed;
 * the new deadline runs from the old one (so the record does not depend on
 * when the server happened to look). */
static charter_status prepare_change(charter_ledger *l, esc_change *ch,
                                     const ch_queue *from, ledger_append *a,
                                     charter_error *err)
{
    int64_t old_deadline = 0;
    charter_status st = take_open(l, ch->seq, &old_deadline, err);
    if (st != CHARTER_OK)
        return st;
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
    } else {
        j = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:I}", "decision_id", id, "who", ch->who,
                      "resolution", ch->approve ? "approve" : "deny", "note", ch->note,
                      "time", ts, "time_ms", (json_int_t)ch->time_ms);
        if (j && ch->timed_out)
            json_object_set_new(j, "timeout", json_true());
    }
    size_t len = 0;
    if (!(ch->payload = ledger_payload_json(j, &len))) {
        give_back(l, ch->seq);
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory recording %s", id);
    }
    memset(a, 0, sizeof *a);
    a->kind = ch->to ? "escalation_moved" : "escalation_resolved";
    a->payload = ch->payload;
    a->payload_len = len;
    return CHARTER_OK;
}

/* Applies a change whose entry was appended with status `st` (or gives the
 * escalation back when it was not), and frees its payload. The caller wakes
 * the waiters (wake_waiters), once for however many changes it finished. */
static charter_status finish_change(charter_ledger *l, esc_change *ch, charter_status st,
                                    charter_error *err)
{
    char id[32];
    ledger_decision_id(ch->seq, id);
    free(ch->payload);
    ch->payload = NULL;
    if (st != CHARTER_OK) {
        give_back(l, ch->seq);
        return st;
    }
    if (ch->to) {
        pthread_mutex_lock(&l->mu);
        state_escalation *e = ledger_state_escalation(&l->state, ch->seq);
        e->status = ESC_OPEN;
        if (ledger_state_escalation_move(e, ch->to->id, ch->deadline_ms) != CHARTER_OK)
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory moving %s", id);
        pthread_mutex_unlock(&l->mu);
        return st;
    }
    /* An approval adds to budgets that decisions read: take their locks. The
     * escalation's strings stay put while it is ours (ESC_RESOLVING), even
     * if the table grows. */
    pthread_mutex_lock(&l->mu);
    state_escalation *esc = ledger_state_escalation(&l->state, ch->seq);
    const char *agent = esc->agent, *run_id = esc->run_id;
    pthread_mutex_unlock(&l->mu);
    unsigned slot[2];
    ledger_budget_lock(l, agent, run_id, slot);
    pthread_mutex_lock(&l->mu);
    esc = ledger_state_escalation(&l->state, ch->seq); /* the table may have moved */
    if (ledger_state_escalation_resolve(&l->state, esc, ch->approve, ch->who, ch->note,
                                        ch->time_ms, ch->timed_out) != CHARTER_OK)
        st = ledger_fail(err, CHARTER_E_NOMEM,
                         "the resolution of %s is recorded, but keeping it in "
                         "memory failed", id);
    pthread_mutex_unlock(&l->mu);
    ledger_budget_unlock(l, slot);
    return st;
}

/* Wakes every charter_ledger_escalation waiting for a change (each looks
 * whether its own escalation changed). A deadline pass that changes a
 * thousand escalations wakes them once, not a thousand times. */
static void wake_waiters(charter_ledger *l)
{
    pthread_mutex_lock(&l->mu);
    pthread_cond_broadcast(&l->resolved_cv);
    pthread_mutex_unlock(&l->mu);
}

/* Appends the resolution of escalation `seq` and applies it. */
static charter_status resolve_seq(charter_ledger *l, uint64_t seq, const char *who,
                                  bool approve, const char *note, int64_t t,
                                  uint64_t *seq_out, charter_error *err)
{
    esc_change ch = {.seq = seq, .who = who, .note = note, .approve = approve,
                     .time_ms = t};
    ledger_append a;
    charter_status st = prepare_change(l, &ch, NULL, &a, err);
    if (st != CHARTER_OK)
        return st;
    st = ledger_writer_append(l->writer, &a, err);
    if (st == CHARTER_OK && seq_out)
        *seq_out = a.seq;
    st = finish_change(l, &ch, st, err);
    wake_waiters(l);
    return st;
}

charter_status charter_ledger_resolve(charter_ledger *l, const char *decision_id,
                                      const char *who, charter_resolution r,
                                      const char *note, int64_t time_ms,
                                      uint64_t *seq_out, charter_error *err)
{
    uint64_t seq;
    if (!l || !who || !*who)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a resolution needs the ledger and who resolved it");
    if (r != CHARTER_RESOLVE_APPROVE && r != CHARTER_RESOLVE_DENY)
        return ledger_fail(err, CHARTER_E_INVALID,
                           "a resolution is approve or deny, found %d", (int)r);
    if (!ledger_decision_id_parse(decision_id, &seq))
        return ledger_fail(err, CHARTER_E_INVALID,
                           "expected a decision id such as d-42, found '%s'",
                           decision_id ? decision_id : "(null)");
    return resolve_seq(l, seq, who, r == CHARTER_RESOLVE_APPROVE, note,
                       time_ms ? time_ms : charter_now_ms(), seq_out, err);
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

/* An escalation copied out of the state (its strings in `text`). */
typedef struct esc_copy {
    charter_escalation x;
    char id[32];
    strbuf text;
} esc_copy;

/* Copies e (state locked); false when out of memory. */
static bool copy_escalation(const state_escalation *e, esc_copy *c)
{
    bool resolved = e->status == ESC_RESOLVED;
    const char *src[7] = {e->agent, e->run_id, e->workflow, e->action, e->queue,
                          resolved ? e->who : NULL, resolved ? e->note : NULL};
    size_t at[7];
    c->text.n = 0;
    for (int i = 0; i < 7; i++) {
        at[i] = c->text.n;
        if (src[i])
            strbuf_add(&c->text, src[i], strlen(src[i]) + 1);
    }
    if (c->text.failed)
        return false;
    const char *s[7];
    for (int i = 0; i < 7; i++)
        s[i] = src[i] ? c->text.p + at[i] : NULL;
    ledger_decision_id(e->seq, c->id);
    c->x = (charter_escalation){
        .decision_id = c->id, .seq = e->seq, .agent = s[0], .run_id = s[1],
        .workflow = s[2], .action = s[3], .queue = s[4],
        .time_ms = e->time_ms, .deadline_ms = e->deadline_ms,
        .status = !resolved ? CHARTER_ESC_OPEN
                  : e->approved ? CHARTER_ESC_APPROVED : CHARTER_ESC_DENIED,
        .resolved_by = s[5], .note = s[6],
        .resolved_ms = resolved ? e->resolved_ms : 0, .timed_out = e->timed_out};
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
    esc_copy c;
    memset(&c, 0, sizeof c);
    charter_status st = CHARTER_OK;
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&l->mu);
        const state_escalation *e = ledger_state_escalation(&l->state, seqs[i]);
        bool wanted = e && (!queue || !strcmp(queue, e->queue)) && (!open_only || is_open(e));
        bool copied = wanted && copy_escalation(e, &c);
        pthread_mutex_unlock(&l->mu);
        if (wanted && !copied) {
            st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory listing escalations");
            break;
        }
        if (copied && fn(&c.x, user))
            break;
    }
    free(c.text.p);
    free(seqs);
    return st;
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
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
    free(c.text.p);
    return st;
}

void charter_ledger_interrupt_waits(charter_ledger *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->waits_interrupted = true;
    pthread_cond_broadcast(&l->resolved_cv);
    pthread_mutex_unlock(&l->mu);
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
    charter_status st = CHARTER_OK;
    if (slice && (!ch || !a))
        st = ledger_fail(err, CHARTER_E_NOMEM, "out of memory expiring escalations");
    for (size_t at = 0; at < n && st == CHARTER_OK; at += slice) {
        size_t m = 0;
        for (size_t i = at; i < n && i < at + slice && st == CHARTER_OK; i++) {
            const ch_queue *q = ch_find_queue(c, list[i].queue);
            esc_change *x = &ch[m];
            *x = (esc_change){.seq = list[i].seq, .time_ms = now_ms};
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
            else if (one != CHARTER_OK && st == CHARTER_OK)
                st = one;
        }
        if (m)
            wake_waiters(l);
    }
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
                           "not be read back", decision_id);
    if (!o.payload)
        return ledger_fail(err, CHARTER_E_NOMEM, "out of memory reading %s", decision_id);
    *out = o.payload;
    if (len)
        *len = o.len;
    return CHARTER_OK;
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
