/* bench_analyses.c - the analyses over a large ledger: how long `report`,
 * `map` and `replay` take over one million decisions with their outcomes and
 * resolutions, and how much memory each needs.
 *
 * Builds (once; reused when the file exists) a ledger of N decisions over 30
 * days through charter_ledger_decide from 32 threads: refunds by 32 agents
 * (small ones allowed, larger ones escalated, a few over the cap denied by a
 * boundary), disputes in an agent-augmented workflow (always escalated), a
 * shadow agent now and then. About nine escalations in ten are resolved
 * (95 % approved) within their SLA, the rest time out; one decision in
 * twenty gets an outcome report (csat), and every workflow gets daily
 * outcome reports for its goal's metrics. Then each analysis runs in a
 * child process, so its CPU time and peak resident memory (from wait4) are
 * its own, and prints them with its wall time. The report also runs over the first tenth
 * of the ledger, to show that memory does not grow with the ledger.
 *
 *   bench_analyses [DECISIONS [LEDGER]]   (default 1000000,
 *                                          $TMPDIR/charter-bench-analyses.ledger)
 *
 * Uses only the public headers.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "charter.h"
#include "charter_analyses.h"
#include "charter_ledger.h"

#define AGENTS 32
#define DAYS 30
#define DAY_MS 86400000LL
#define DAY0 1793577600000LL /* 2026-11-02T00:00:00Z */

static const char charter_head[] =
    "charter: 1\n"
    "organization: {name: Bench Shop, purpose: Measure the analyses.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "  - {id: speed, statement: Answer quickly.}\n"
    "goals:\n"
    "  - id: fast-and-kind\n"
    "    objective: Resolve refunds fast and keep customers.\n"
    "    serves: [speed, customer-trust]\n"
    "    outcomes: [{metric: resolution_hours, target: 4, direction: decrease}]\n"
    "    health: [{metric: csat, min: 4.2}, {metric: repeat_rate, max: 0.1}]\n"
    "  - id: fair-disputes\n"
    "    objective: Settle disputes fairly.\n"
    "    health: [{metric: reversal_rate, max: 0.2}]\n"
    "workflows:\n"
    "  - {id: refunds, department: support, owner: ana@bench.example, autonomy: agent-ready,\n"
    "     goals: [fast-and-kind], actions: [issue_refund], escalate_to: leads}\n"
    "  - {id: disputes, department: disputes, owner: bo@bench.example,\n"
    "     autonomy: agent-augmented, goals: [fair-disputes], actions: [open_dispute],\n"
    "     escalate_to: analysts}\n"
    "boundaries:\n"
    "  - {id: refund-cap, source: Treasury, workflows: [refunds], actions: [issue_refund],\n"
    "     when: input.amount > 1000, protects: customer-trust, message: Never over 1000.}\n"
    "rules:\n"
    "  - {id: large-refund, workflows: [refunds], actions: [issue_refund],\n"
    "     when: input.amount > LIMIT, effect: escalate, protects: customer-trust,\n"
    "     message: Large refunds need a lead.}\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [lead]}, sla: 4h}\n"
    "    - {id: analysts, approvers: {roles: [analyst]}, sla: 1d}\n"
    "agents:\n";

static void die(const char *what, const charter_error *err)
{
    fprintf(stderr, "bench_analyses: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static charter *load(int limit)
{
    static char yaml[sizeof charter_head + AGENTS * 160 + 64];
    const char *lim = strstr(charter_head, "LIMIT");
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "%.*s%d%s", (int)(lim - charter_head),
                                charter_head, limit, lim + 5);
    for (int i = 0; i < AGENTS; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                              "  - {id: bot-%d, owner: ana@bench.example, workflows: [%s]}\n",
                              i, i % 4 == 3 ? "disputes" : "refunds");
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("bench.yaml", yaml, n, &c, &err) != CHARTER_OK)
        die("cannot load the charter", &err);
    return c;
}

typedef struct builder {
    charter_ledger *l;
    const charter *c;
    int id;
    uint64_t n, total;
    uint64_t failed;
} builder;

static uint64_t next(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545f4914f6cdd1dull;
}

static void *build_loop(void *arg)
{
    builder *b = arg;
    charter_decider *d = NULL;
    if (charter_decider_new(&d) != CHARTER_OK)
        die("cannot create a decider", NULL);
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(b->id + 1);
    bool disputes = b->id % 4 == 3;
    char req[320], ts[40], id[32];
    for (uint64_t i = 0; i < b->n; i++) {
        /* Decision i of this thread is global decision i * 32 + id. */
        uint64_t g = i * AGENTS + (uint64_t)b->id;
        int64_t t = DAY0 + (int64_t)(g * (uint64_t)(DAYS * DAY_MS) / b->total);
        charter_time_format(t, ts);
        uint64_t r = next(&x);
        int amount = (int)(r % 1000) < 10 ? 2000 : (int)(r % 400);
        bool shadow = r % 500 == 7;
        int len = snprintf(req, sizeof req,
                           "{\"agent\":\"%s-%d\",\"workflow\":\"%s\",\"action\":\"%s\","
                           "\"input\":{\"amount\":%d},\"time\":\"%s\"}",
                           shadow ? "ghost" : "bot", b->id, disputes ? "disputes" : "refunds",
                           disputes ? "open_dispute" : "issue_refund", amount, ts);
        char *ans = NULL;
        if (charter_ledger_decide(b->l, d, b->c, req, (size_t)len, t, &ans, NULL, NULL) !=
            CHARTER_OK) {
            b->failed++;
            free(ans);
            continue;
        }
        const char *did = strstr(ans, "\"decision_id\":\"");
        snprintf(id, sizeof id, "%.*s", did ? (int)strcspn(did + 15, "\"") : 0,
                 did ? did + 15 : "");
        bool escalated = strstr(ans, "\"decision\":\"escalate\"") != NULL;
        free(ans);
        uint64_t r2 = next(&x);
        if (escalated && r2 % 10 != 0)
            charter_ledger_resolve(b->l, b->c, id, "lead@bench.example",
                                   r2 % 20 == 1 ? CHARTER_RESOLVE_DENY : CHARTER_RESOLVE_APPROVE,
                                   r2 % 20 == 1 ? "bench deny" : NULL,
                                   t + (int64_t)(r2 % 90 + 5) * 60000, NULL, NULL);
        if (!shadow && r2 % 20 == 3) {
            charter_outcome o = {.decision_id = id, .metric = "csat",
                                 .value = 3.5 + (double)(r2 % 15) / 10.0, .time_ms = t + 3600000};
            charter_ledger_outcome(b->l, &o, NULL, NULL);
        }
    }
    charter_decider_free(d);
    return NULL;
}

static void daily_outcomes(charter_ledger *l)
{
    for (int day = 0; day < DAYS; day++) {
        int64_t from = DAY0 + day * DAY_MS;
        struct { const char *wf, *metric; double v; } m[] = {
            {"refunds", "resolution_hours", 6.0 - day * 0.1},
            {"refunds", "csat", 4.6 - day * 0.02},
            {"refunds", "repeat_rate", 0.05},
            {"disputes", "reversal_rate", 0.1}};
        for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
            charter_outcome o = {.workflow = m[k].wf, .from_ms = from, .to_ms = from + DAY_MS,
                                 .metric = m[k].metric, .value = m[k].v,
                                 .time_ms = from + DAY_MS - 1};
            charter_ledger_outcome(l, &o, NULL, NULL);
        }
    }
}

static void build(const char *path, const charter *c, uint64_t total)
{
    charter_ledger *l = NULL;
    charter_error err;
    if (charter_ledger_open(path, NULL, &l, &err) != CHARTER_OK)
        die("cannot open the ledger", &err);
    builder b[AGENTS];
    pthread_t th[AGENTS];
    double t0 = now_s();
    for (int i = 0; i < AGENTS; i++) {
        b[i] = (builder){.l = l, .c = c, .id = i, .n = total / AGENTS, .total = total};
        pthread_create(&th[i], NULL, build_loop, &b[i]);
    }
    uint64_t failed = 0;
    for (int i = 0; i < AGENTS; i++) {
        pthread_join(th[i], NULL);
        failed += b[i].failed;
    }
    daily_outcomes(l);
    if (charter_ledger_close(l, &err) != CHARTER_OK || failed)
        die("cannot write the ledger", &err);
    printf("built %s: %" PRIu64 " decisions in %.1f s\n", path, total, now_s() - t0);
}

typedef enum job { JOB_REPORT, JOB_REPORT_TENTH, JOB_MAP, JOB_REPLAY } job;

static void run_job(job j, const char *path, const charter *c, const charter *c2,
                    uint64_t *out_bytes)
{
    char *json = NULL;
    charter_error err;
    charter_status s = CHARTER_OK;
    if (j == JOB_REPORT || j == JOB_REPORT_TENTH) {
        charter_report_options o = {.since_ms = INT64_MIN,
                                    .until_ms = j == JOB_REPORT ? 0 : DAY0 + DAYS * DAY_MS / 10,
                                    .by = CHARTER_PERIOD_DAY};
        s = charter_report(path, c, &o, &json, &err);
    } else if (j == JOB_MAP) {
        s = charter_readiness_map(c, path, &json, &err);
    } else {
        charter_replay_summary sum;
        s = charter_ledger_replay(path, c2, INT64_MIN, NULL, NULL, &sum, &err);
        *out_bytes = sum.decisions;
        return;
    }
    if (s != CHARTER_OK)
        die("analysis failed", &err);
    *out_bytes = strlen(json);
    free(json);
}

/* Runs a job in a child; prints its wall time and peak memory. */
static void measure(const char *name, job j, const char *path, const charter *c,
                    const charter *c2)
{
    int fd[2];
    if (pipe(fd))
        die("pipe", NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        double t0 = now_s();
        uint64_t n = 0;
        run_job(j, path, c, c2, &n);
        double secs = now_s() - t0;
        if (write(fd[1], &secs, sizeof secs) != sizeof secs ||
            write(fd[1], &n, sizeof n) != sizeof n)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    double secs = 0;
    uint64_t n = 0;
    int status;
    struct rusage ru;
    if (read(fd[0], &secs, sizeof secs) != sizeof secs || read(fd[0], &n, sizeof n) != sizeof n)
        die("the child failed", NULL);
    close(fd[0]);
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        die("the child failed", NULL);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("%-22s %6.2f s wall %6.2f s CPU   peak RSS %5.1f MiB   (%s %" PRIu64 ")\n", name,
           secs, cpu, (double)ru.ru_maxrss / 1024.0,
           j == JOB_REPLAY ? "decisions" : "JSON bytes", n);
}

int main(int argc, char **argv)
{
    uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    char path[600];
    const char *tmp = getenv("TMPDIR");
    if (argc > 2)
        snprintf(path, sizeof path, "%s", argv[2]);
    else
        snprintf(path, sizeof path, "%s/charter-bench-analyses.ledger", tmp ? tmp : "/tmp");
    if (total < AGENTS)
        die("usage: bench_analyses [DECISIONS >= 32 [LEDGER]]", NULL);
    charter *c = load(200), *c2 = load(150);
    struct stat st;
    if (stat(path, &st) != 0)
        build(path, c, total);
    else
        printf("reusing %s (%.0f MiB); delete it to rebuild\n", path,
               (double)st.st_size / 1048576.0);
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    measure("report (first tenth)", JOB_REPORT_TENTH, path, c, c2);
    measure("report", JOB_REPORT, path, c, c2);
    measure("map", JOB_MAP, path, c, c2);
    measure("replay", JOB_REPLAY, path, c, c2);
    printf("(the parent holds %.1f MiB before forking; children start from it)\n",
           (double)self.ru_maxrss / 1024.0);
    charter_release(c);
    charter_release(c2);
    return 0;
}
