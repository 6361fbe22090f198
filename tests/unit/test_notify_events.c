/* test_notify_events.c - the events thread with a queue's list of targets
 * (src/notify/notifier.c): a charter whose queue has a Slack and an e-mail
 * target (set on the loaded model, as the loader of the list syntax will),
 * a ledger, an escalation opened and then denied: the outbox owes one row
 * per event and target, each tried once (nothing listens on the Slack URL,
 * and no SMTP server is configured), and the failures are counted.
 */
#include "notify/notify_int.h"

#include <jansson.h>
#include <unistd.h>

#include "charter_ledger.h"
#include "test.h"
#include "tiny_queues.h"

static char dir[256];

static charter *serving(void *user)
{
    return charter_retain(user);
}

typedef struct rows {
    int n, tried;
    char line[8][256];
} rows;

static int take(const ntf_row *r, void *user)
{
    rows *x = user;
    if (x->n < 8)
        snprintf(x->line[x->n], sizeof x->line[0], "%s %s %s %s", r->event, r->format,
                 r->target, r->last_error ? r->last_error : "-");
    x->n++;
    x->tried += r->attempts > 0;
    return 0;
}

/* Waits (5 s at most) until the outbox has `n` rows, each tried once. */
static rows wait_rows(ntf *n, int count)
{
    rows r;
    for (int i = 0; i < 100; i++) {
        memset(&r, 0, sizeof r);
        charter_error err;
        CHECK(ntf_list(n, NTF_ANY, NULL, take, &r, &err) == CHARTER_OK);
        if (r.n >= count && r.tried >= count)
            break;
        usleep(50 * 1000);
    }
    return r;
}

static bool has_line(const rows *r, const char *text)
{
    for (int i = 0; i < r->n && i < 8; i++)
        if (strstr(r->line[i], text))
            return true;
    return false;
}

static void test_slack_and_email_targets_owed_and_tried(void)
{
    charter *c = NULL;
    charter_error err;
    CHECK(charter_load_string("q.yaml", tiny_queues_yaml, strlen(tiny_queues_yaml), &c,
                              &err) == CHARTER_OK);
    if (!c)
        return;
    static const ch_notify_target targets[] = {
        {"http://127.0.0.1:1/services/T0/B0/x", CH_NOTIFY_SLACK},
        {"mailto:leads@tiny.example", CH_NOTIFY_EMAIL},
    };
    ch_queue *q = (ch_queue *)ch_find_queue(c, "leads");
    CHECK(q != NULL);
    if (!q)
        return;
    q->notify = targets[0].url;
    q->notify_targets = targets;
    q->notify_count = 2;

    char path[400], outbox[400];
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    snprintf(outbox, sizeof outbox, "%s/ledger.db.outbox", dir);
    charter_ledger *l = NULL;
    CHECK(charter_ledger_open(path, NULL, &l, &err) == CHARTER_OK);
    ntf_options o = {.outbox_path = outbox, .keys_dir = dir,
                     .public_url = "https://charter.example", .retry_base_ms = 600000,
                     .charter_get = serving, .charter_user = c};
    ntf *n = NULL;
    CHECK(ntf_new(l, &o, &n, &err) == CHARTER_OK);
    CHECK(ntf_start(n, &err) == CHARTER_OK);

    const char *req = "{\"agent\":\"support-bot\",\"workflow\":\"refunds\","
                      "\"action\":\"issue_refund\",\"input\":{\"amount\":500},"
                      "\"run_id\":\"r1\"}";
    charter_decider *d = NULL;
    charter_decider_new(&d);
    char *ans = NULL;
    size_t len = 0;
    CHECK(charter_ledger_decide(l, d, c, req, strlen(req), charter_now_ms(), &ans, &len,
                                &err) == CHARTER_OK);
    json_t *j = json_loads(ans, 0, NULL);
    char id[32];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "decision_id")));
    CHECK_STR(json_string_value(json_object_get(j, "decision")), "escalate");
    json_decref(j);
    free(ans);
    charter_decider_free(d);

    rows r = wait_rows(n, 2);
    CHECK_INT(r.n, 2);
    CHECK(has_line(&r, "escalation.opened slack http://127.0.0.1:1/services/\xe2\x80\xa6"));
    CHECK(has_line(&r, "escalation.opened email mailto:leads@tiny.example no SMTP server"));

    CHECK(charter_ledger_resolve(l, c, id, "lena", CHARTER_RESOLVE_DENY, "no", 0, NULL, &err) ==
          CHARTER_OK);
    r = wait_rows(n, 4);
    CHECK_INT(r.n, 4);
    CHECK(has_line(&r, "escalation.resolved slack"));
    CHECK(has_line(&r, "escalation.resolved email"));

    ntf_stats s;
    for (int i = 0; i < 60; i++) { /* counted by the delivery thread after each attempt */
        ntf_stats_get(n, &s);
        if (s.pending == 4 && s.attempts_failed == 4)
            break;
        usleep(50 * 1000);
    }
    CHECK_INT(s.pending, 4);
    CHECK_INT(s.attempts_failed, 4);
    CHECK_INT(s.delivered, 0);
    CHECK(s.oldest_pending_s >= 0);

    ntf_stop(n);
    charter_ledger_interrupt_waits(l);
    CHECK(charter_ledger_close(l, &err) == CHARTER_OK);
    charter_release(c);
}

int main(void)
{
    test_dir_make("notify-events", dir, sizeof dir);
    RUN(test_slack_and_email_targets_owed_and_tried);
    test_dir_remove(dir);
    return TEST_DONE();
}
