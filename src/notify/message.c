/* message.c - what a notification says, per format: Standard Webhooks JSON
 * (and its signature), Slack's incoming-webhook JSON, a plain-text e-mail;
 * a message's deterministic id; a queue's targets and reminder shares.
 *
 * A message's body is made once, when the event is written to the outbox,
 * and sent byte for byte on every attempt: a receiver that de-duplicates on
 * webhook-id sees the same payload each time. Only the signature's
 * timestamp is of the attempt (Standard Webhooks checks it for replay).
 */
#include "base/banned.h"

#include "notify/notify_int.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *ntf_event_type(ntf_event_kind k)
{
    static const char *const names[] = {
        [NTF_OPENED] = "escalation.opened",     [NTF_REMINDER] = "escalation.reminder",
        [NTF_MOVED] = "escalation.moved",       [NTF_TIMED_OUT] = "escalation.timed_out",
        [NTF_RESOLVED] = "escalation.resolved",
    };
    return names[k];
}

const char *ntf_format_name(ch_notify_format f)
{
    return f == CH_NOTIFY_SLACK ? "slack" : f == CH_NOTIFY_EMAIL ? "email" : "webhook";
}

size_t ntf_queue_targets(const ch_queue *q, ch_notify_target *one,
                         const ch_notify_target **out)
{
    *out = NULL;
    if (!q)
        return 0;
    if (q->notify_count) {
        *out = q->notify_targets;
        return q->notify_count;
    }
    /* A charter loaded before queues had a list of targets: its one
     * `notify` URL is a webhook. */
    if (!q->notify)
        return 0;
    one->url = q->notify;
    one->format = !strncmp(q->notify, "mailto:", 7) ? CH_NOTIFY_EMAIL : CH_NOTIFY_WEBHOOK;
    *out = one;
    return 1;
}

size_t ntf_queue_reminders(const ch_queue *q, const double **out)
{
    static const double defaults[] = CH_REMINDERS_DEFAULT;
    *out = NULL;
    if (!q || q->sla_ms <= 0)
        return 0;
    if (q->reminder_count) {
        *out = q->reminders;
        return q->reminder_count;
    }
    /* The loader fills the defaults when it reads the list of targets; a
     * queue with only the one `notify` URL of before gets them here. */
    if (!q->notify_count && q->notify) {
        *out = defaults;
        return sizeof defaults / sizeof defaults[0];
    }
    return 0;
}

static int percent(double share)
{
    return (int)lround(share * 100.0);
}

/* The id: msg_<decision>_<event>_<8 hex of SHA-256(queue \n url)>. */
static void message_id(const ntf_event *ev, const char *url, char *out, size_t size)
{
    static const char *const tags[] = {
        [NTF_OPENED] = "opened", [NTF_REMINDER] = "reminder", [NTF_MOVED] = "moved",
        [NTF_TIMED_OUT] = "timed_out", [NTF_RESOLVED] = "resolved",
    };
    crypto_hash_sha256_state h;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)ev->queue, strlen(ev->queue));
    crypto_hash_sha256_update(&h, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&h, (const unsigned char *)url, strlen(url));
    crypto_hash_sha256_final(&h, d);
    char tag[32];
    if (ev->kind == NTF_REMINDER)
        snprintf(tag, sizeof tag, "reminder%d", percent(ev->share));
    else
        snprintf(tag, sizeof tag, "%s", tags[ev->kind]);
    snprintf(out, size, "msg_%s_%s_%02x%02x%02x%02x", ev->e->decision_id, tag, d[0], d[1],
             d[2], d[3]);
}

static const char *status_name(const charter_escalation *e)
{
    return e->status == CHARTER_ESC_APPROVED ? "approved"
           : e->status == CHARTER_ESC_DENIED ? "denied"
                                             : "open";
}

static void link_of(const ntf_event *ev, const char *public_url, strbuf *b)
{
    size_t n = strlen(public_url);
    while (n && public_url[n - 1] == '/')
        n--;
    strbuf_add(b, public_url, n);
    strbuf_printf(b, "/#/inbox?id=%s", ev->e->decision_id);
}

/* One line for people: what happened, who asked for what. Control
 * characters become spaces (it goes into a mail header). */
static void summary_of(const ntf_event *ev, strbuf *b)
{
    const charter_escalation *e = ev->e;
    size_t start = b->n;
    switch (ev->kind) {
    case NTF_OPENED:
        strbuf_printf(b, "Escalation %s waits in queue %s", e->decision_id, ev->queue);
        break;
    case NTF_REMINDER:
        strbuf_printf(b, "Reminder (%d%% of the SLA gone): escalation %s still waits in "
                         "queue %s", percent(ev->share), e->decision_id, ev->queue);
        break;
    case NTF_MOVED:
        strbuf_printf(b, "Escalation %s moved to queue %s (the previous queue's deadline "
                         "passed)", e->decision_id, ev->queue);
        break;
    case NTF_TIMED_OUT:
        strbuf_printf(b, "Escalation %s timed out in queue %s: %s", e->decision_id,
                      ev->queue, status_name(e));
        break;
    case NTF_RESOLVED:
        strbuf_printf(b, "Escalation %s %s by %s", e->decision_id, status_name(e),
                      e->resolved_by ? e->resolved_by : "?");
        break;
    }
    strbuf_printf(b, ": agent %s, workflow %s, action %s", e->agent, e->workflow, e->action);
    for (size_t i = start; !b->failed && i < b->n; i++)
        if ((unsigned char)b->p[i] < 0x20 || b->p[i] == 0x7f)
            b->p[i] = ' ';
}

static void deadline_line(const charter_escalation *e, strbuf *b)
{
    char t[40];
    if (e->deadline_ms > 0) {
        charter_time_format(e->deadline_ms, t);
        strbuf_printf(b, "Deadline: %s", t);
    } else {
        strbuf_puts(b, "No deadline");
    }
}

static json_t *jtime(int64_t ms)
{
    char t[40];
    if (ms <= 0)
        return json_null();
    charter_time_format(ms, t);
    return json_string(t);
}

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static bool put_json(json_t *j, strbuf *b)
{
    if (!j)
        return false;
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return false;
    strbuf_puts(b, text);
    free(text);
    return !b->failed;
}

static bool webhook_body(const ntf_event *ev, const char *link, strbuf *b)
{
    const charter_escalation *e = ev->e;
    char reminder[16];
    snprintf(reminder, sizeof reminder, "%d%%", percent(ev->share));
    bool done = e->status != CHARTER_ESC_OPEN;
    json_t *data = json_object();
    if (!data)
        return false;
    json_object_set_new(data, "decision_id", json_string(e->decision_id));
    json_object_set_new(data, "queue", json_string(ev->queue));
    json_object_set_new(data, "agent", json_string(e->agent));
    json_object_set_new(data, "workflow", json_string(e->workflow));
    json_object_set_new(data, "action", json_string(e->action));
    json_object_set_new(data, "time", jtime(e->time_ms));
    json_object_set_new(data, "deadline", jtime(e->deadline_ms));
    json_object_set_new(data, "status", json_string(status_name(e)));
    json_object_set_new(data, "resolved_by", done ? jstr_or_null(e->resolved_by) : json_null());
    json_object_set_new(data, "note", done ? jstr_or_null(e->note) : json_null());
    json_object_set_new(data, "reminder",
                        ev->kind == NTF_REMINDER ? json_string(reminder) : json_null());
    json_object_set_new(data, "link", json_string(link));
    json_t *j = json_object();
    if (!j) {
        json_decref(data);
        return false;
    }
    json_object_set_new(j, "type", json_string(ntf_event_type(ev->kind)));
    json_object_set_new(j, "timestamp", jtime(ev->now_ms));
    json_object_set_new(j, "data", data);
    return put_json(j, b);
}

static bool slack_body(const ntf_event *ev, const char *summary, const char *link,
                       strbuf *b)
{
    strbuf detail = {0};
    strbuf_printf(&detail, "*%s*\n", summary);
    deadline_line(ev->e, &detail);
    if (detail.failed) {
        strbuf_release(&detail);
        return false;
    }
    json_t *j = json_pack(
        "{s:s, s:[{s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:{s:s, s:s}, s:s, s:s}]}]}",
        "text", summary, "blocks",
        "type", "section", "text", "type", "mrkdwn", "text", detail.p,
        "type", "actions", "elements",
        "type", "button", "text", "type", "plain_text", "text", "Open in Charter",
        "url", link, "action_id", "open");
    strbuf_release(&detail);
    return put_json(j, b);
}

/* Keeps only what may stand in a header: no control characters. */
static void header_value(strbuf *b, const char *s)
{
    for (; *s; s++)
        strbuf_add(b, (unsigned char)*s < 0x20 || *s == 0x7f ? " " : s, 1);
}

static bool email_body(const ntf_event *ev, const ch_notify_target *t, const char *id,
                       const char *summary, const char *link, const char *from,
                       strbuf *b)
{
    char date[64];
    time_t secs = (time_t)(ev->now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    strbuf_puts(b, "From: ");
    header_value(b, from);
    strbuf_puts(b, "\r\nTo: ");
    const char *addr = t->url + 7; /* after "mailto:", without ?headers */
    size_t at = b->n;
    header_value(b, addr);
    if (!b->failed && strchr(addr, '?')) {
        b->n = at + strcspn(addr, "?");
        b->p[b->n] = '\0';
    }
    strbuf_puts(b, "\r\nSubject: [Charter] ");
    header_value(b, summary);
    strbuf_printf(b, "\r\nDate: %s\r\nMessage-ID: <%s@charter>\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n", date, id);
    strbuf_printf(b, "%s.\r\n\r\n", summary);
    deadline_line(ev->e, b);
    if (ev->e->status != CHARTER_ESC_OPEN && ev->e->note && *ev->e->note) {
        strbuf_puts(b, "\r\nNote: ");
        header_value(b, ev->e->note);
    }
    strbuf_printf(b, "\r\n\r\nOpen it in the console: %s\r\n", link);
    return !b->failed;
}

bool ntf_message_build(const ntf_event *ev, const ch_notify_target *t,
                       const char *public_url, const char *smtp_from, ntf_message *m)
{
    message_id(ev, t->url, m->id, sizeof m->id);
    m->decision_id = ev->e->decision_id;
    m->queue = ev->queue;
    m->event = ntf_event_type(ev->kind);
    m->target = t->url;
    m->format = ntf_format_name(t->format);
    m->created_ms = ev->now_ms;
    strbuf link = {0}, summary = {0};
    link_of(ev, public_url, &link);
    summary_of(ev, &summary);
    bool ok = !link.failed && !summary.failed;
    if (ok) {
        if (t->format == CH_NOTIFY_SLACK)
            ok = slack_body(ev, summary.p, link.p, &m->body);
        else if (t->format == CH_NOTIFY_EMAIL)
            ok = email_body(ev, t, m->id, summary.p, link.p,
                            smtp_from ? smtp_from : "charter@localhost", &m->body);
        else
            ok = webhook_body(ev, link.p, &m->body);
    }
    strbuf_release(&link);
    strbuf_release(&summary);
    return ok;
}

void ntf_sign(const unsigned char *key, size_t key_len, const char *id, int64_t ts,
              const char *body, size_t body_len, char *out, size_t size)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char head[256];
    int n = snprintf(head, sizeof head, "%s.%lld.", id, (long long)ts);
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)head,
                                  (unsigned long long)(n < (int)sizeof head ? n : 0));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, size, "v1,%s", b64);
}

void ntf_target_display(const char *url, char *out, size_t size)
{
    if (!size)
        return;
    out[0] = '\0';
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end) {             /* mailto: and anything else: as it is */
        snprintf(out, size, "%s", url);
        return;
    }
    const char *auth = scheme_end + 3;
    const char *path = auth + strcspn(auth, "/?#");
    /* userinfo: the last '@' before the path */
    const char *host = auth;
    for (const char *p = auth; p < path; p++)
        if (*p == '@')
            host = p + 1;
    const char *seg_end = path;
    bool more = false;
    if (*path == '/') {
        seg_end = path + 1 + strcspn(path + 1, "/?#");
        more = *seg_end != '\0';
    } else {
        more = *path != '\0';
    }
    snprintf(out, size, "%.*s%.*s%.*s%s", (int)(auth - url), url, (int)(path - host), host,
             (int)(seg_end - path), path, more ? (*seg_end == '/' ? "/\xe2\x80\xa6" : "\xe2\x80\xa6") : "");
}
