/* console_ledger.c - builds the ledger of the console benchmark
 * (bench/console/bench_console.sh): N decisions spread over the 30 days
 * before now, one in a hundred escalated and left open (so 1,000,000
 * decisions leave 10,000 open escalations), the rest allowed.
 *
 * Writes through charter_ledger_decide_begin/_end from one thread, a batch
 * of BATCH decisions in flight at a time: the group commit syncs a whole
 * batch at once, so the build is bound by deciding and hashing, not by the
 * disk. Prints a progress line every 100,000 decisions.
 *
 *   bench_console_ledger CHARTER LEDGER [DECISIONS]   (default 1000000)
 *
 * Decision i: agent-(i mod 24), run "run-<agent>-<i/20>", time
 * now - 30 days + i * (30 days / N); escalations alternate between refunds
 * (queue leads) and payouts (queue finance). Uses only the public headers.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charter.h"
#include "charter_ledger.h"

#define BATCH 2048
#define AGENTS 24
#define DAY_MS 86400000LL

typedef struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t ready;
} batch;

static void on_ready(void *user)
{
    batch *b = user;
    pthread_mutex_lock(&b->mu);
    b->ready++;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const charter_error *err)
{
    fprintf(stderr, "bench_console_ledger: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

/* Request text of decision i. */
static int request_of(uint64_t i, char *buf, size_t n)
{
    unsigned agent = (unsigned)(i % AGENTS);
    bool escalate = i % 100 == 50;
    bool payout = escalate ? (i / 100) % 2 == 1 : i % 7 == 3;
    unsigned amount = escalate ? 1000 + (unsigned)(i % 4000) : 10 + (unsigned)(i % 880);
    return snprintf(buf, n,
                    "{\"agent\":\"agent-%02u\",\"workflow\":\"%s\",\"action\":\"%s\","
                    "\"input\":{\"amount\":%u,\"destination\":\"%s\",\"country\":\"SE\"},"
                    "\"subject\":{\"customer_id\":\"c-%" PRIu64 "\"},"
                    "\"rationale\":\"The customer asked for it; order %" PRIu64 ".\","
                    "\"confidence\":0.%02u,\"run_id\":\"run-%02u-%" PRIu64 "\"}",
                    agent, payout ? "payouts" : "refunds", payout ? "pay" : "issue_refund",
                    amount, i % 3 ? "card" : "bank", i % 100000, i, (unsigned)(i % 90 + 10),
                    agent, i / 20);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_console_ledger CHARTER LEDGER [DECISIONS]\n");
        return 2;
    }
    uint64_t total = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000;
    charter *c = NULL;
    charter_ledger *l = NULL;
    charter_decider *d = NULL;
    charter_error err;
    if (charter_load(argv[1], &c, &err) != CHARTER_OK)
        die("cannot load the charter", &err);
    if (charter_ledger_open(argv[2], NULL, &l, &err) != CHARTER_OK)
        die("cannot open the ledger", &err);
    if (charter_decider_new(&d) != CHARTER_OK)
        die("out of memory", NULL);
    int64_t t_end = charter_now_ms() - 60000, span = 30 * DAY_MS;
    int64_t t_start = t_end - span;
    charter_ledger_ticket **tickets = calloc(BATCH, sizeof *tickets);
    batch b = {.ready = 0};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    double t0 = now_s();
    uint64_t done = 0, escalated = 0, failed = 0;
    char req[1024];
    while (done < total) {
        size_t n = total - done < BATCH ? (size_t)(total - done) : BATCH, queued = 0;
        b.ready = 0;
        for (size_t k = 0; k < n; k++) {
            uint64_t i = done + k;
            int len = request_of(i, req, sizeof req);
            charter_request *r = NULL;
            if (charter_request_parse(req, (size_t)len, &r, &err) != CHARTER_OK)
                die("a request does not parse", &err);
            char *ans = NULL;
            size_t alen = 0;
            int64_t t = t_start + (int64_t)((double)i * (double)span / (double)total);
            charter_status st = charter_ledger_decide_begin(l, d, c, r, req, (size_t)len, t,
                                                            on_ready, &b, &tickets[queued],
                                                            &ans, &alen, &err);
            charter_request_free(r);
            if (st == CHARTER_OK && tickets[queued])
                queued++;
            else
                failed++;
            free(ans);
        }
        pthread_mutex_lock(&b.mu);
        while (b.ready < queued)
            pthread_cond_wait(&b.cv, &b.mu);
        pthread_mutex_unlock(&b.mu);
        for (size_t k = 0; k < queued; k++) {
            char *ans = NULL;
            size_t alen = 0;
            if (charter_ledger_decide_end(tickets[k], &ans, &alen, &err) != CHARTER_OK)
                failed++;
            else if (strstr(ans, "\"decision\":\"escalate\""))
                escalated++;
            free(ans);
        }
        uint64_t before = done;
        done += n;
        if (done / 100000 != before / 100000 || done == total)
            fprintf(stderr, "  %" PRIu64 " decisions written (%" PRIu64 " escalated), %.0f s, "
                            "%.0f /s\n", done, escalated, now_s() - t0,
                    (double)done / (now_s() - t0));
    }
    if (charter_ledger_close(l, &err) != CHARTER_OK)
        die("cannot close the ledger", &err);
    printf("built %s: %" PRIu64 " decisions, %" PRIu64 " escalated (open), %" PRIu64
           " failed, in %.1f s\n", argv[2], total, escalated, failed, now_s() - t0);
    charter_decider_free(d);
    charter_release(c);
    free(tickets);
    return failed ? 1 : 0;
}
