/* test_ledger_escalation.c - escalations through the ledger: listing and
 * looking them up, waiting for a resolution, deadlines (deny, allow, next
 * queue) that survive a restart, reading a decision back, and recording a
 * charter version on reload.
 */
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "charter_ledger.h"

#include "tiny_queues.h"


#define T0 1795000000000LL /* a fixed decision time */
#define HOUR 3600000LL

static char tmpdir[256], path[512];

static charter *load(const char *yaml)
{
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("esc.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot load the test charter: %s\n", err.message);
        exit(1);
    }
    return c;
}

static charter_ledger *open_ledger(void)
{
    charter_ledger *l = NULL;
    charter_error err;
    if (charter_ledger_open(path, NULL, &l, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot open %s: %s\n", path, err.message);
        exit(1);
    }
    return l;
}

/* Decides `action` with `amount` at T0; returns the decision id. */
static void decide(charter_ledger *l, const charter *c, const char *action, int amount,
                   char id[32])
{
    char req[256];
    snprintf(req, sizeof req,
             "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":\"%s\","
             "\"input\":{\"amount\":%d},\"run_id\":\"r1\"}",
             action, amount);
    charter_decider *d;
    charter_decider_new(&d);
    char *ans = NULL;
    size_t n;
    charter_error err;
    CHECK_INT(charter_ledger_decide(l, d, c, req, strlen(req), T0, &ans, &n, &err),
              CHARTER_OK);
    json_t *j = json_loads(ans, 0, NULL);
    snprintf(id, 32, "%s", json_string_value(json_object_get(j, "decision_id")));
    json_decref(j);
    free(ans);
    charter_decider_free(d);
}

typedef struct seen {
    int calls;
    char ids[8][32];
    char queue[32], by[32], note[256];
    charter_escalation_status status;
    int64_t deadline_ms;
    bool timed_out;
} seen;

static int collect(const charter_escalation *e, void *user)
{
    seen *s = user;
    if (s->calls < 8)
        snprintf(s->ids[s->calls], 32, "%s", e->decision_id);
    s->calls++;
    snprintf(s->queue, sizeof s->queue, "%s", e->queue);
    snprintf(s->by, sizeof s->by, "%s", e->resolved_by ? e->resolved_by : "");
    snprintf(s->note, sizeof s->note, "%s", e->note ? e->note : "");
    s->status = e->status;
    s->deadline_ms = e->deadline_ms;
    s->timed_out = e->timed_out;
    return 0;
}

static seen lookup(charter_ledger *l, const char *id, uint32_t wait_ms,
                   charter_status *st)
{
    seen s;
    memset(&s, 0, sizeof s);
    charter_error err;
    *st = charter_ledger_escalation(l, id, wait_ms, collect, &s, &err);
    return s;
}

static void test_list_and_lookup(void)
{
    charter *c = load(tiny_queues_yaml);
    charter_ledger *l = open_ledger();
    char small[32], big[32], close_id[32];
    decide(l, c, "issue_refund", 20, small);
    decide(l, c, "issue_refund", 500, big);
    decide(l, c, "close_account", 0, close_id);

    seen all;
    memset(&all, 0, sizeof all);
    charter_error err;
    CHECK_INT(charter_ledger_escalations(l, NULL, true, collect, &all, &err), CHARTER_OK);
    CHECK_INT(all.calls, 2);
    CHECK_STR(all.ids[0], big);
    CHECK_STR(all.ids[1], close_id);

    seen leads;
    memset(&leads, 0, sizeof leads);
    CHECK_INT(charter_ledger_escalations(l, "leads", true, collect, &leads, &err),
              CHARTER_OK);
    CHECK_INT(leads.calls, 1);
    CHECK_STR(leads.ids[0], big);
    CHECK_INT(leads.deadline_ms, T0 + 4 * HOUR);

    charter_status st;
    seen one = lookup(l, big, 0, &st);
    CHECK_INT(st, CHARTER_OK);
    CHECK_INT(one.status, CHARTER_ESC_OPEN);
    CHECK_STR(one.queue, "leads");
    lookup(l, small, 0, &st);
    CHECK_INT(st, CHARTER_E_REF); /* allowed, not escalated */
    lookup(l, "d-999", 0, &st);
    CHECK_INT(st, CHARTER_E_REF);
    lookup(l, "x-1", 0, &st);
    CHECK_INT(st, CHARTER_E_INVALID);

    CHECK_INT(charter_ledger_resolve(l, c, big, "lena", CHARTER_RESOLVE_DENY, "too much",
                                     T0 + 1000, NULL, &err),
              CHARTER_OK);
    one = lookup(l, big, 0, &st);
    CHECK_INT(one.status, CHARTER_ESC_DENIED);
    CHECK_STR(one.by, "lena");
    CHECK_STR(one.note, "too much");
    memset(&all, 0, sizeof all);
    charter_ledger_escalations(l, NULL, true, collect, &all, &err);
    CHECK_INT(all.calls, 1);
    memset(&all, 0, sizeof all);
    charter_ledger_escalations(l, NULL, false, collect, &all, &err);
    CHECK_INT(all.calls, 2);

    /* The decision reads back as recorded. */
    char *payload = NULL;
    size_t len = 0;
    CHECK_INT(charter_ledger_decision(l, big, &payload, &len, &err), CHARTER_OK);
    json_t *j = json_loadb(payload, len, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "answer"), "decision")),
              "escalate");
    json_t *input = json_object_get(json_object_get(j, "request"), "input");
    CHECK_INT(json_integer_value(json_object_get(input, "amount")), 500);
    json_decref(j);
    free(payload);
    CHECK_INT(charter_ledger_decision(l, "d-999", &payload, &len, &err), CHARTER_E_REF);
    CHECK(payload == NULL);

    charter_ledger_close(l, NULL);
    /* A restart finds the same state. */
    l = open_ledger();
    one = lookup(l, big, 0, &st);
    CHECK_INT(one.status, CHARTER_ESC_DENIED);
    CHECK_STR(one.by, "lena");
    one = lookup(l, close_id, 0, &st);
    CHECK_INT(one.status, CHARTER_ESC_OPEN);
    CHECK_STR(one.queue, "tier1");
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

typedef struct resolver_arg {
    charter_ledger *l;
    const charter *c;
    const char *id;
} resolver_arg;

static void *resolve_later(void *p)
{
    resolver_arg *a = p;
    usleep(150 * 1000);
    charter_ledger_resolve(a->l, a->c, a->id, "lena", CHARTER_RESOLVE_APPROVE, NULL, 0, NULL,
                           NULL);
    return NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_wait(void)
{
    charter *c = load(tiny_queues_yaml);
    charter_ledger *l = open_ledger();
    char id[32];
    decide(l, c, "issue_refund", 500, id);

    /* A wait that nobody ends returns open after its time. */
    charter_status st;
    int64_t t = mono_ms();
    seen s = lookup(l, id, 100, &st);
    CHECK_INT(st, CHARTER_OK);
    CHECK_INT(s.status, CHARTER_ESC_OPEN);
    CHECK(mono_ms() - t >= 90);

    /* A person approving wakes the waiter early. */
    pthread_t th;
    resolver_arg a = {l, c, id};
    pthread_create(&th, NULL, resolve_later, &a);
    t = mono_ms();
    s = lookup(l, id, 10000, &st);
    int64_t waited = mono_ms() - t;
    pthread_join(th, NULL);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK(waited >= 100 && waited < 5000);

    /* Interrupted waits return at once. */
    char id2[32];
    decide(l, c, "issue_refund", 600, id2);
    charter_ledger_interrupt_waits(l);
    t = mono_ms();
    s = lookup(l, id2, 10000, &st);
    CHECK_INT(s.status, CHARTER_ESC_OPEN);
    CHECK(mono_ms() - t < 1000);
    charter_ledger_close(l, NULL);
    charter_release(c);
    unlink(path);
}

/* Closes the ledger, checks that it verifies, and cleans up. */
static void close_verified(charter_ledger *l, charter *c)
{
    charter_ledger_close(l, NULL);
    charter_ledger_report rep;
    charter_error err;
    CHECK_INT(charter_ledger_verify(path, NULL, &rep, &err), CHARTER_OK);
    CHECK(rep.ok);
    charter_release(c);
    unlink(path);
}

static void test_deadlines(void)
{
    charter *c = load(tiny_queues_yaml);
    charter_ledger *l = open_ledger();
    char big[32], close_id[32], fee[32];
    decide(l, c, "issue_refund", 500, big);    /* leads: 4h, deny */
    decide(l, c, "close_account", 0, close_id); /* tier1: 1h, next tier2 (2h) */
    decide(l, c, "waive_fee", 0, fee);          /* lenient: 30m, allow */
    charter_error err;
    size_t n = 99;

    CHECK_INT(charter_ledger_expire(l, c, T0 + 10 * 60000, &n, &err), CHARTER_OK);
    CHECK_INT(n, 0);
    CHECK_INT(charter_ledger_expire(l, c, T0 + 31 * 60000, &n, &err), CHARTER_OK);
    CHECK_INT(n, 1);
    charter_status st;
    seen s = lookup(l, fee, 0, &st);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_STR(s.by, "timeout");
    CHECK(s.timed_out);

    CHECK_INT(charter_ledger_expire(l, c, T0 + HOUR, &n, &err), CHARTER_OK);
    CHECK_INT(n, 1);
    s = lookup(l, close_id, 0, &st);
    CHECK_INT(s.status, CHARTER_ESC_OPEN);
    CHECK_STR(s.queue, "tier2");
    CHECK_INT(s.deadline_ms, T0 + 3 * HOUR);

    /* The moved escalation and its new deadline survive a restart. */
    charter_ledger_close(l, NULL);
    l = open_ledger();
    s = lookup(l, close_id, 0, &st);
    CHECK_STR(s.queue, "tier2");
    CHECK_INT(s.deadline_ms, T0 + 3 * HOUR);
    s = lookup(l, fee, 0, &st);
    CHECK(s.timed_out);

    CHECK_INT(charter_ledger_expire(l, c, T0 + 4 * HOUR, &n, &err), CHARTER_OK);
    CHECK_INT(n, 2);
    s = lookup(l, close_id, 0, &st);
    CHECK_INT(s.status, CHARTER_ESC_DENIED);
    s = lookup(l, big, 0, &st);
    CHECK_INT(s.status, CHARTER_ESC_DENIED);
    CHECK_STR(s.by, "timeout");
    /* A timed-out escalation cannot be resolved by a person afterwards. */
    CHECK_INT(charter_ledger_resolve(l, c, big, "lena", CHARTER_RESOLVE_APPROVE, NULL, 0,
                                     NULL, &err),
              CHARTER_E_DUPLICATE);
    close_verified(l, c);
}

/* Many deadlines passed at once are recorded in a few group commits, not
 * one commit each, so the deadline pass keeps up with a busy server; every
 * escalation still gets its own entry, and one a person resolved first is
 * left alone. 1,100 escalations: more than one slice of the pass. */
static void test_many_deadlines_in_one_pass(void)
{
    charter *c = load(tiny_queues_yaml);
    charter_ledger *l = open_ledger();
    char id[32], person[32] = "";
    for (int i = 0; i < 1100; i++) {
        decide(l, c, i % 3 == 0 ? "close_account" : i % 3 == 1 ? "waive_fee" : "issue_refund",
               500, id);
        if (i == 2)
            snprintf(person, sizeof person, "%s", id);
    }
    charter_error err;
    CHECK_INT(charter_ledger_resolve(l, c, person, "lena", CHARTER_RESOLVE_APPROVE, NULL, 0,
                                     NULL, &err),
              CHARTER_OK);
    charter_ledger_stats before, after;
    charter_ledger_stats_get(l, &before);
    size_t n = 0;
    CHECK_INT(charter_ledger_expire(l, c, T0 + 4 * HOUR, &n, &err), CHARTER_OK);
    charter_ledger_stats_get(l, &after);
    CHECK_INT(n, 1099); /* 367 moved to tier2, 367 allowed, 365 denied */
    CHECK_INT(after.entries - before.entries, 1099);
    CHECK(after.batches - before.batches <= 4);
    CHECK_INT(charter_ledger_open_count(l), 367); /* the moved ones, now in tier2 */
    charter_status st;
    seen s = lookup(l, person, 0, &st);
    CHECK_INT(s.status, CHARTER_ESC_APPROVED);
    CHECK_STR(s.by, "lena");
    /* The next pass denies the moved ones; their tier2 deadline passed too. */
    CHECK_INT(charter_ledger_expire(l, c, T0 + 4 * HOUR, &n, &err), CHARTER_OK);
    CHECK_INT(n, 367);
    CHECK_INT(charter_ledger_open_count(l), 0);
    close_verified(l, c);
}

static int count_charters(const charter_ledger_entry *e, void *user)
{
    if (!strcmp(e->kind, "charter"))
        (*(int *)user)++;
    return 0;
}

static void test_record_charter(void)
{
    charter *c = load(tiny_queues_yaml);
    charter_ledger *l = open_ledger();
    charter_error err;
    bool recorded = false;
    CHECK_INT(charter_ledger_record_charter(l, c, &recorded, &err), CHARTER_OK);
    CHECK(recorded);
    CHECK_INT(charter_ledger_record_charter(l, c, &recorded, &err), CHARTER_OK);
    CHECK(!recorded);
    char id[32];
    decide(l, c, "issue_refund", 5, id); /* no second charter entry */
    CHECK_STR(id, "d-2");
    charter_ledger_close(l, NULL);
    int charters = 0;
    CHECK_INT(charter_ledger_scan(path, 0, 0, count_charters, &charters, &err),
              CHARTER_OK);
    CHECK_INT(charters, 1);
    charter_release(c);
    unlink(path);
}

int main(void)
{
    test_dir_make("ledger-esc", tmpdir, sizeof tmpdir);
    snprintf(path, sizeof path, "%s/ledger.db", tmpdir);
    RUN(test_list_and_lookup);
    RUN(test_wait);
    RUN(test_deadlines);
    RUN(test_many_deadlines_in_one_pass);
    RUN(test_record_charter);
    test_dir_remove(tmpdir);
    return TEST_DONE();
}
