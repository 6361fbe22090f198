/* bench_ledger.c - durable decisions per second into a ledger, and how fast
 * a ledger is replayed, reopened and verified.
 *
 * Decides refund requests through charter_ledger_decide into a fresh SQLite
 * ledger (WAL, synchronous=FULL, a signed checkpoint every 1000 entries) in
 * a temporary directory on the disk under test, and prints:
 *
 *   1 caller        decisions/s with one thread deciding in a loop: every
 *                   decision waits for its own commit and sync
 *   8 callers       the same from 8 threads at once (group commit: one
 *                   transaction and one sync for whatever is queued)
 *   32 callers      the same from 32 threads
 *   replay          recorded decisions re-decided per second under a new
 *                   charter version (charter_ledger_replay)
 *   reopen          entries per second rebuilding the stop-rule counters
 *                   when a ledger opens
 *   verify          entries per second checking hashes, links, checkpoints
 *
 * A decision is counted when charter_ledger_decide has returned, i.e. when
 * it is durable. Uses only the public headers.
 *
 *   bench_ledger [DECISIONS [DIR]]   (default 100000, $TMPDIR or /tmp)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "charter.h"
#include "charter_ledger.h"

static const char charter_yaml[] =
    "charter: 1\n"
    "organization: {name: Bench Shop, purpose: Measure.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "  - {id: speed, statement: Answer quickly.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    department: support\n"
    "    owner: ana@bench.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund, lookup_order]\n"
    "    escalate_to: leads\n"
    "    stop_rules:\n"
    "      - {id: run-budget, max_actions_per_run: 1000000, message: Run budget.}\n"
    "agents:\n"
    "AGENTS"
    "boundaries:\n"
    "  - {id: refund-cap, source: Contract, workflows: [refunds],"
    " actions: [issue_refund], when: input.amount > 5000, protects: customer-trust,"
    " message: Never over 5000.}\n"
    "rules:\n"
    "  - {id: large-refund, workflows: [refunds], actions: [issue_refund],"
    " when: input.amount > LIMIT, effect: escalate, protects: customer-trust,"
    " message: Large refunds need a lead.}\n"
    "  - {id: quick-small-refund, workflows: [refunds], actions: [issue_refund],"
    " when: input.amount <= 50, effect: allow, protects: speed,"
    " message: Small refunds go at once.}\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n";

static void die(const char *what, const charter_error *err)
{
    fprintf(stderr, "bench_ledger: %s%s%s\n", what, err ? ": " : "",
            err ? err->message : "");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define AGENTS 32

/* The charter with `limit` as the large-refund threshold and AGENTS agents
 * (support-bot-0 ...). */
static charter *load(int limit)
{
    char agents[AGENTS * 128], yaml[sizeof charter_yaml + sizeof agents + 16];
    size_t an = 0;
    for (int i = 0; i < AGENTS; i++)
        an += (size_t)snprintf(agents + an, sizeof agents - an,
                               "  - {id: support-bot-%d, department: support, owner: "
                               "ana@bench.example, workflows: [refunds]}\n", i);
    const char *at = strstr(charter_yaml, "AGENTS");
    const char *lim = strstr(charter_yaml, "LIMIT");
    snprintf(yaml, sizeof yaml, "%.*s%s%.*s%d%s", (int)(at - charter_yaml), charter_yaml,
             agents, (int)(lim - at - 6), at + 6, limit, lim + 5);
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("bench.yaml", yaml, strlen(yaml), &c, &err) != CHARTER_OK)
        die("cannot load the charter", &err);
    return c;
}

typedef struct caller {
    charter_ledger *l;
    const charter *c;
    int id;
    int agent;
    uint64_t n;
    uint64_t failed;
} caller;

static void *decide_loop(void *arg)
{
    caller *k = arg;
    charter_decider *d = NULL;
    if (charter_decider_new(&d) != CHARTER_OK)
        die("cannot create a decider", NULL);
    char req[256];
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(k->id + 1);
    for (uint64_t i = 0; i < k->n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        int amount = (int)((x * 0x2545f4914f6cdd1dull) >> 54) % 400;
        int len = snprintf(req, sizeof req,
                           "{\"agent\":\"support-bot-%d\",\"workflow\":\"refunds\","
                           "\"action\":\"issue_refund\",\"input\":{\"amount\":%d},"
                           "\"run_id\":\"run-%d-%" PRIu64 "\"}",
                           k->agent, amount, k->id, i / 20);
        char *ans = NULL;
        if (charter_ledger_decide(k->l, d, k->c, req, (size_t)len, charter_now_ms(), &ans,
                                  NULL, NULL) != CHARTER_OK)
            k->failed++;
        free(ans);
    }
    charter_decider_free(d);
    return NULL;
}

typedef enum agents_mode { ONE_AGENT, AGENT_PER_CALLER } agents_mode;

/* Decides `total` requests from `threads` callers; returns decisions/s. */
static double run_callers(const char *path, const char *key, const charter *c,
                          int threads, agents_mode mode, uint64_t total)
{
    charter_ledger_options opt = {.key_path = key, .checkpoint_every = 1000};
    charter_ledger *l = NULL;
    charter_error err;
    if (charter_ledger_open(path, &opt, &l, &err) != CHARTER_OK)
        die("cannot open the ledger", &err);
    caller *k = calloc((size_t)threads, sizeof *k);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        k[i] = (caller){.l = l, .c = c, .id = i, .n = total / (uint64_t)threads,
                        .agent = mode == ONE_AGENT ? 0 : i % AGENTS};
        pthread_create(&t[i], NULL, decide_loop, &k[i]);
    }
    uint64_t done = 0, failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        done += k[i].n;
        failed += k[i].failed;
    }
    double secs = now_s() - t0;
    if (charter_ledger_close(l, &err) != CHARTER_OK)
        die("cannot close the ledger", &err);
    if (failed)
        die("some decisions could not be recorded", NULL);
    free(k);
    free(t);
    return (double)done / secs;
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
    char dir[512], path[600], single[600], keydir[600], key[700], id[CHARTER_KEY_ID_SIZE];
    snprintf(dir, sizeof dir, "%s/charter-bench-ledger-XXXXXX", base ? base : "/tmp");
    if (total < 1000 || !mkdtemp(dir))
        die("usage: bench_ledger [DECISIONS >= 1000 [DIR]]", NULL);
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    snprintf(single, sizeof single, "%s/single.db", dir);
    snprintf(keydir, sizeof keydir, "%s/keys", dir);
    snprintf(key, sizeof key, "%s/ledger.key", keydir);
    charter_error err;
    if (charter_keys_init(keydir, id, &err) != CHARTER_OK)
        die("cannot create a key", &err);
    charter *c = load(200), *stricter = load(100);

    uint64_t single_n = total / 5;
    double one = run_callers(single, key, c, 1, ONE_AGENT, single_n);
    double eight_one = run_callers(path, key, c, 8, ONE_AGENT, total);
    double eight = run_callers(path, key, c, 8, AGENT_PER_CALLER, total);
    double many = run_callers(path, key, c, 32, AGENT_PER_CALLER, total);

    charter_replay_summary sum;
    double t0 = now_s();
    if (charter_ledger_replay(path, stricter, INT64_MIN, NULL, NULL, &sum, &err) != CHARTER_OK)
        die("replay failed", &err);
    double replay = (double)sum.decisions / (now_s() - t0);

    charter_ledger *l = NULL;
    t0 = now_s();
    if (charter_ledger_open(path, NULL, &l, &err) != CHARTER_OK)
        die("cannot reopen", &err);
    double reopen_s = now_s() - t0;
    charter_ledger_close(l, NULL);

    charter_ledger_report r;
    char pub[700];
    snprintf(pub, sizeof pub, "%s/ledger.pub", keydir);
    t0 = now_s();
    if (charter_ledger_verify(path, pub, &r, &err) != CHARTER_OK || !r.ok)
        die("the ledger does not verify", &err);
    double verify = (double)r.entries / (now_s() - t0);

    printf("ledger: %s (WAL, synchronous=FULL, checkpoint every 1000 entries)\n", dir);
    printf("%-34s %12.0f decisions/s  (%" PRIu64 " decisions)\n",
           "durable decide, 1 caller", one, single_n);
    printf("%-34s %12.0f decisions/s  (%" PRIu64 " decisions)\n",
           "durable decide, 8 callers, 1 agent", eight_one, total);
    printf("%-34s %12.0f decisions/s  (%" PRIu64 " decisions)\n",
           "durable decide, 8 callers, 8 agents", eight, total);
    printf("%-34s %12.0f decisions/s  (%" PRIu64 " decisions)\n",
           "durable decide, 32 callers/agents", many, total);
    printf("%-34s %12.0f decisions/s  (%" PRIu64 " decisions, %" PRIu64 " changed)\n",
           "replay under a new charter", replay, sum.decisions, sum.changed);
    printf("%-34s %12.0f entries/s    (%" PRIu64 " entries)\n",
           "reopen (rebuild counters)", (double)r.entries / reopen_s, r.entries);
    printf("%-34s %12.0f entries/s    (%" PRIu64 " checkpoints)\n",
           "verify", verify, r.checkpoints);
    charter_release(c);
    charter_release(stricter);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_ledger: cannot remove %s\n", dir);
    return 0;
}
