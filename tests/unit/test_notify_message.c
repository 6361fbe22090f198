/* test_notify_message.c - what a notification says (src/notify/message.c):
 * the Standard Webhooks signature against the specification's published
 * example, the webhook payload, Slack's JSON, the e-mail, ids, a queue's
 * targets and reminders (with the fallback for a single `notify` URL), and
 * how a target is shown.
 */
#include "notify/notify_int.h"

#include <jansson.h>
#include <sodium.h>

#include "test.h"

static charter_escalation sample(charter_escalation_status status)
{
    charter_escalation e = {
        .decision_id = "d-7", .seq = 7, .agent = "support-bot", .run_id = "r-1",
        .workflow = "refunds", .action = "issue_refund", .queue = "leads",
        .time_ms = 1795000000000, .deadline_ms = 1795000000000 + 4 * 3600 * 1000,
        .status = status,
    };
    if (status != CHARTER_ESC_OPEN) {
        e.resolved_by = "lena";
        e.note = "checked\r\nBcc: evil@example.com";
        e.resolved_ms = 1795000100000;
    }
    return e;
}

static json_t *build_json(ntf_event_kind kind, const charter_escalation *e,
                          const ch_notify_target *t, double share, ntf_message *m)
{
    ntf_event ev = {.kind = kind, .e = e, .queue = "leads", .share = share,
                    .now_ms = 1795000001000};
    memset(m, 0, sizeof *m);
    CHECK(ntf_message_build(&ev, t, "https://charter.example/", "charter@shop.example", m));
    return m->body.p ? json_loads(m->body.p, 0, NULL) : NULL;
}

/* The example of the Standard Webhooks specification (and its libraries'
 * tests): this secret, id, timestamp and payload sign to this value. */
static void test_signature_matches_the_specification(void)
{
    const char *secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    unsigned char key[64];
    size_t len = 0;
    CHECK(sodium_base642bin(key, sizeof key, secret, strlen(secret), NULL, &len, NULL,
                            sodium_base64_VARIANT_ORIGINAL) == 0);
    const char *body = "{\"test\": 2432232314}";
    char sig[128];
    ntf_sign(key, len, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig,
             sizeof sig);
    CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_webhook_payload(void)
{
    charter_escalation e = sample(CHARTER_ESC_OPEN);
    ch_notify_target t = {"https://hooks.example.com/charter", CH_NOTIFY_WEBHOOK};
    ntf_message m;
    json_t *j = build_json(NTF_OPENED, &e, &t, 0, &m);
    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "escalation.opened");
    CHECK_STR(json_string_value(json_object_get(j, "timestamp")), "2026-11-18T11:06:41Z");
    json_t *d = json_object_get(j, "data");
    CHECK_STR(json_string_value(json_object_get(d, "decision_id")), "d-7");
    CHECK_STR(json_string_value(json_object_get(d, "queue")), "leads");
    CHECK_STR(json_string_value(json_object_get(d, "agent")), "support-bot");
    CHECK_STR(json_string_value(json_object_get(d, "workflow")), "refunds");
    CHECK_STR(json_string_value(json_object_get(d, "action")), "issue_refund");
    CHECK_STR(json_string_value(json_object_get(d, "status")), "open");
    CHECK_STR(json_string_value(json_object_get(d, "deadline")), "2026-11-18T15:06:40Z");
    CHECK(json_is_null(json_object_get(d, "resolved_by")));
    CHECK(json_is_null(json_object_get(d, "reminder")));
    CHECK_STR(json_string_value(json_object_get(d, "link")),
              "https://charter.example/#/inbox?id=d-7");
    CHECK_STR(m.format, "webhook");
    CHECK_STR(m.event, "escalation.opened");
    CHECK(!strncmp(m.id, "msg_d-7_opened_", 15) && strlen(m.id) == 23);
    json_decref(j);
    strbuf_release(&m.body);

    j = build_json(NTF_REMINDER, &e, &t, 0.9, &m);
    CHECK_STR(json_string_value(json_object_get(j, "type")), "escalation.reminder");
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "data"), "reminder")), "90%");
    CHECK(!strncmp(m.id, "msg_d-7_reminder90_", 19));
    json_decref(j);
    strbuf_release(&m.body);

    e = sample(CHARTER_ESC_DENIED);
    j = build_json(NTF_RESOLVED, &e, &t, 0, &m);
    d = json_object_get(j, "data");
    CHECK_STR(json_string_value(json_object_get(d, "status")), "denied");
    CHECK_STR(json_string_value(json_object_get(d, "resolved_by")), "lena");
    CHECK_STR(json_string_value(json_object_get(d, "note")), "checked\r\nBcc: evil@example.com");
    json_decref(j);
    strbuf_release(&m.body);
}

static void test_ids_are_deterministic_per_event_and_target(void)
{
    charter_escalation e = sample(CHARTER_ESC_OPEN);
    ch_notify_target a = {"https://a.example/hook", CH_NOTIFY_WEBHOOK};
    ch_notify_target b = {"https://b.example/hook", CH_NOTIFY_WEBHOOK};
    ntf_message m1, m2, m3, m4;
    json_decref(build_json(NTF_OPENED, &e, &a, 0, &m1));
    json_decref(build_json(NTF_OPENED, &e, &a, 0, &m2));
    json_decref(build_json(NTF_OPENED, &e, &b, 0, &m3));
    json_decref(build_json(NTF_RESOLVED, &e, &a, 0, &m4));
    CHECK_STR(m1.id, m2.id);
    CHECK(strcmp(m1.id, m3.id) != 0);
    CHECK(strcmp(m1.id, m4.id) != 0);
    strbuf_release(&m1.body);
    strbuf_release(&m2.body);
    strbuf_release(&m3.body);
    strbuf_release(&m4.body);
}

static void test_slack_message(void)
{
    charter_escalation e = sample(CHARTER_ESC_OPEN);
    ch_notify_target t = {"https://hooks.slack.com/services/T0/B0/x", CH_NOTIFY_SLACK};
    ntf_message m;
    json_t *j = build_json(NTF_OPENED, &e, &t, 0, &m);
    CHECK(j != NULL);
    CHECK_STR(m.format, "slack");
    CHECK_HAS(json_string_value(json_object_get(j, "text")), "Escalation d-7 waits in queue leads");
    json_t *blocks = json_object_get(j, "blocks");
    CHECK_INT(json_array_size(blocks), 2);
    json_t *section = json_array_get(blocks, 0);
    CHECK_STR(json_string_value(json_object_get(section, "type")), "section");
    CHECK_HAS(json_string_value(json_object_get(json_object_get(section, "text"), "text")),
              "Deadline: 2026-11-18T15:06:40Z");
    json_t *actions = json_array_get(blocks, 1);
    CHECK_STR(json_string_value(json_object_get(actions, "type")), "actions");
    json_t *button = json_array_get(json_object_get(actions, "elements"), 0);
    CHECK_STR(json_string_value(json_object_get(button, "type")), "button");
    CHECK_STR(json_string_value(json_object_get(button, "url")),
              "https://charter.example/#/inbox?id=d-7");
    json_decref(j);
    strbuf_release(&m.body);
}

static void test_email_message(void)
{
    charter_escalation e = sample(CHARTER_ESC_DENIED);
    ch_notify_target t = {"mailto:leads@shop.example", CH_NOTIFY_EMAIL};
    ntf_message m;
    ntf_event ev = {.kind = NTF_RESOLVED, .e = &e, .queue = "leads", .now_ms = 1795000001000};
    memset(&m, 0, sizeof m);
    CHECK(ntf_message_build(&ev, &t, "https://charter.example", "charter@shop.example", &m));
    CHECK_STR(m.format, "email");
    const char *b = m.body.p;
    CHECK(!strncmp(b, "From: charter@shop.example\r\nTo: leads@shop.example\r\n", 52));
    CHECK_HAS(b, "\r\nSubject: [Charter] Escalation d-7 denied by lena: agent support-bot");
    CHECK_HAS(b, "\r\nDate: Wed, 18 Nov 2026 11:06:41 +0000\r\n");
    CHECK_HAS(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    CHECK_HAS(b, "Deadline: 2026-11-18T15:06:40Z");
    CHECK_HAS(b, "Open it in the console: https://charter.example/#/inbox?id=d-7\r\n");
    /* A note cannot add a header: its line breaks became spaces. */
    CHECK_HAS(b, "Note: checked  Bcc: evil@example.com");
    CHECK(!strstr(b, "\r\nBcc:"));
    strbuf_release(&m.body);
}

static void test_queue_targets_and_reminders(void)
{
    ch_queue q;
    memset(&q, 0, sizeof q);
    ch_notify_target one;
    const ch_notify_target *t;
    const double *r;
    CHECK_INT(ntf_queue_targets(&q, &one, &t), 0);
    CHECK_INT(ntf_queue_targets(NULL, &one, &t), 0);
    /* One `notify` URL (a charter of before the list): a webhook, with the
     * default reminders when the queue has an SLA. */
    q.notify = "https://hooks.example.com/x";
    CHECK_INT(ntf_queue_targets(&q, &one, &t), 1);
    CHECK_STR(t[0].url, "https://hooks.example.com/x");
    CHECK_INT(t[0].format, CH_NOTIFY_WEBHOOK);
    CHECK_INT(ntf_queue_reminders(&q, &r), 0);
    q.sla_ms = 4000;
    CHECK_INT(ntf_queue_reminders(&q, &r), 2);
    CHECK(r[0] == 0.5 && r[1] == 0.9);
    /* The list, as the loader gives it, with its own reminders (none). */
    ch_notify_target list[2] = {{"https://hooks.slack.com/services/T/B/x", CH_NOTIFY_SLACK},
                                {"mailto:a@b.example", CH_NOTIFY_EMAIL}};
    q.notify_targets = list;
    q.notify_count = 2;
    CHECK_INT(ntf_queue_targets(&q, &one, &t), 2);
    CHECK_INT(t[1].format, CH_NOTIFY_EMAIL);
    CHECK_INT(ntf_queue_reminders(&q, &r), 0);
    q.reminder_count = 1;
    q.reminders[0] = 0.75;
    CHECK_INT(ntf_queue_reminders(&q, &r), 1);
    CHECK(r[0] == 0.75);
    q.sla_ms = 0;
    CHECK_INT(ntf_queue_reminders(&q, &r), 0);
}

static void test_target_display_cuts_credentials(void)
{
    char out[256];
    ntf_target_display("https://hooks.slack.com/services/T0/B0/xyz", out, sizeof out);
    CHECK_STR(out, "https://hooks.slack.com/services/\xe2\x80\xa6");
    ntf_target_display("http://user:pw@127.0.0.1:8080/hook?token=abc", out, sizeof out);
    CHECK_STR(out, "http://127.0.0.1:8080/hook\xe2\x80\xa6");
    ntf_target_display("https://example.com/hook", out, sizeof out);
    CHECK_STR(out, "https://example.com/hook");
    ntf_target_display("https://example.com", out, sizeof out);
    CHECK_STR(out, "https://example.com");
    ntf_target_display("mailto:leads@shop.example", out, sizeof out);
    CHECK_STR(out, "mailto:leads@shop.example");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(test_signature_matches_the_specification);
    RUN(test_webhook_payload);
    RUN(test_ids_are_deterministic_per_event_and_target);
    RUN(test_slack_message);
    RUN(test_email_message);
    RUN(test_queue_targets_and_reminders);
    RUN(test_target_display_cuts_credentials);
    return TEST_DONE();
}
