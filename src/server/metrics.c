/* metrics.c - GET /metrics in the Prometheus text format (version 0.0.4):
 * decisions by result, decision latency, open escalations, ledger commit
 * batch sizes, requests and errors, reloads, notifications (delivered,
 * failed attempts, given up, owed and the age of the oldest owed).
 *
 * Counters are atomics bumped on the request path; the histogram buckets
 * are kept per bucket and summed into Prometheus's cumulative form only
 * when scraped.
 */
#include "base/banned.h"

#include "server/server.h"

#include "base/strbuf.h"
#include "notify/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, in microseconds (the last is +Inf). */
static const int64_t latency_le_us[SRV_LATENCY_BUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000};

void srv_metrics_decision(srv_metrics *m, int effect, int64_t us)
{
    if (effect < 0 || effect > 3)
        effect = 3;
    atomic_fetch_add(&m->decisions[effect], 1);
    size_t b = 0;
    while (b < SRV_LATENCY_BUCKETS - 1 && us > latency_le_us[b])
        b++;
    atomic_fetch_add(&m->latency_le[b], 1);
    atomic_fetch_add(&m->latency_sum_us, (uint64_t)(us > 0 ? us : 0));
}

void api_metrics(const srv_request *rq, const char *tail, srv_response *rs)
{
    (void)tail;
    srv *s = rq->s;
    srv_metrics *m = &s->metrics;
    strbuf o = {0};
    static const char *const results[4] = {"allow", "escalate", "deny",
                                           "ledger_unavailable"};
    strbuf_printf(&o, "# HELP charter_decisions_total Decisions answered, by result.\n"
            "# TYPE charter_decisions_total counter\n");
    for (int i = 0; i < 4; i++)
        strbuf_printf(&o, "charter_decisions_total{result=\"%s\"} %llu\n", results[i],
            (unsigned long long)atomic_load(&m->decisions[i]));
    strbuf_printf(&o, "# HELP charter_decision_seconds Time to decide and record a decision.\n"
            "# TYPE charter_decision_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < SRV_LATENCY_BUCKETS; i++) {
        cum += atomic_load(&m->latency_le[i]);
        if (i < SRV_LATENCY_BUCKETS - 1)
            strbuf_printf(&o, "charter_decision_seconds_bucket{le=\"%g\"} %llu\n",
                (double)latency_le_us[i] / 1e6, (unsigned long long)cum);
        else
            strbuf_printf(&o, "charter_decision_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
    }
    strbuf_printf(&o, "charter_decision_seconds_sum %.6f\ncharter_decision_seconds_count %llu\n",
        (double)atomic_load(&m->latency_sum_us) / 1e6, (unsigned long long)cum);

    uint64_t open = charter_ledger_open_count(s->ledger);
    strbuf_printf(&o, "# HELP charter_escalations_open Escalations waiting for a person.\n"
            "# TYPE charter_escalations_open gauge\ncharter_escalations_open %llu\n",
        (unsigned long long)open);
    strbuf_printf(&o, "# HELP charter_escalations_resolved_total Escalations resolved by a person.\n"
            "# TYPE charter_escalations_resolved_total counter\n"
            "charter_escalations_resolved_total %llu\n"
            "# HELP charter_escalations_timed_out_total Escalations whose deadline passed.\n"
            "# TYPE charter_escalations_timed_out_total counter\n"
            "charter_escalations_timed_out_total %llu\n",
        (unsigned long long)atomic_load(&m->resolutions),
        (unsigned long long)atomic_load(&m->timeouts));

    charter_ledger_stats ls;
    charter_ledger_stats_get(s->ledger, &ls);
    strbuf_printf(&o, "# HELP charter_ledger_commit_batch_size Entries per ledger commit "
            "(group commit).\n# TYPE charter_ledger_commit_batch_size histogram\n");
    cum = 0;
    for (int i = 0; i < CHARTER_BATCH_BUCKETS; i++) {
        cum += ls.batch_size_le[i];
        if (i < CHARTER_BATCH_BUCKETS - 1)
            strbuf_printf(&o, "charter_ledger_commit_batch_size_bucket{le=\"%u\"} %llu\n", 1u << i,
                (unsigned long long)cum);
        else
            strbuf_printf(&o, "charter_ledger_commit_batch_size_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
    }
    strbuf_printf(&o, "charter_ledger_commit_batch_size_sum %llu\n"
            "charter_ledger_commit_batch_size_count %llu\n"
            "# HELP charter_ledger_failed_commits_total Ledger commits that failed.\n"
            "# TYPE charter_ledger_failed_commits_total counter\n"
            "charter_ledger_failed_commits_total %llu\n",
        (unsigned long long)ls.entries, (unsigned long long)ls.batches,
        (unsigned long long)ls.failed_batches);

    strbuf_printf(&o, "# HELP charter_http_requests_total HTTP requests answered.\n"
            "# TYPE charter_http_requests_total counter\n"
            "charter_http_requests_total %llu\n"
            "# HELP charter_http_errors_total HTTP error responses, by class.\n"
            "# TYPE charter_http_errors_total counter\n"
            "charter_http_errors_total{class=\"4xx\"} %llu\n"
            "charter_http_errors_total{class=\"5xx\"} %llu\n"
            "# HELP charter_reloads_total Charter reloads, by result.\n"
            "# TYPE charter_reloads_total counter\n"
            "charter_reloads_total{result=\"ok\"} %llu\n"
            "charter_reloads_total{result=\"refused\"} %llu\n",
        (unsigned long long)atomic_load(&m->requests),
        (unsigned long long)atomic_load(&m->errors_4xx),
        (unsigned long long)atomic_load(&m->errors_5xx),
        (unsigned long long)atomic_load(&m->reloads),
        (unsigned long long)atomic_load(&m->reload_failures));
    if (s->notify) {
        ntf_stats ns;
        ntf_stats_get(s->notify, &ns);
        strbuf_printf(&o, "# HELP charter_notifications_delivered_total Notifications delivered.\n"
                "# TYPE charter_notifications_delivered_total counter\n"
                "charter_notifications_delivered_total %llu\n"
                "# HELP charter_notification_attempts_failed_total Delivery attempts that "
                "failed (each retry counts).\n"
                "# TYPE charter_notification_attempts_failed_total counter\n"
                "charter_notification_attempts_failed_total %llu\n"
                "# HELP charter_notifications_failed_total Notifications given up on after "
                "24 hours of retries.\n"
                "# TYPE charter_notifications_failed_total counter\n"
                "charter_notifications_failed_total %llu\n"
                "# HELP charter_notifications_pending Notifications owed (in the outbox, "
                "not yet delivered).\n"
                "# TYPE charter_notifications_pending gauge\n"
                "charter_notifications_pending %llu\n"
                "# HELP charter_notification_oldest_pending_seconds Age of the oldest "
                "notification owed (0: none).\n"
                "# TYPE charter_notification_oldest_pending_seconds gauge\n"
                "charter_notification_oldest_pending_seconds %.3f\n",
            (unsigned long long)ns.delivered, (unsigned long long)ns.attempts_failed,
            (unsigned long long)ns.failed, (unsigned long long)ns.pending,
            ns.oldest_pending_s);
    }
    charter *c = srv_charter(s);
    strbuf_printf(&o, "# HELP charter_info The charter serving now.\n# TYPE charter_info gauge\n"
            "charter_info{version=\"%s\"} 1\n", charter_version(c));
    charter_release(c);
    strbuf_printf(&o, "# HELP charter_lease_held 1 while this server applies deadlines and "
                      "standing approvals and writes notifications (always on SQLite; on "
                      "one server of a PostgreSQL ledger).\n"
                      "# TYPE charter_lease_held gauge\ncharter_lease_held %d\n",
                  atomic_load(&s->lease_held) ? 1 : 0);
    if (o.failed) {
        free(o.p);
        srv_reply_text(rs, 500, NULL, 0);
        return;
    }
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    srv_reply_text(rs, 200, o.p, o.n);
}
