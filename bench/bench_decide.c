/* bench_decide.c - how long one in-process decision takes.
 *
 * Builds, in memory, a charter of 100 rules over 10 workflows (10 rules per
 * workflow: numeric thresholds on input fields, string equality on subject
 * fields, `in` lists, boolean combinations, a boundary in every other
 * workflow, a stop rule with spend per workflow, 5 agents), loads it with
 * charter_load_string, generates 100,000 varied decision requests as JSON
 * with a fixed-seed PRNG, and prints the median of 5 runs of:
 *
 *   decide          charter_decide on requests parsed beforehand
 *   decide+render   the same plus charter_decision_json
 *   parse+decide    charter_request_parse + charter_decide + request_free
 *   parse+decide+render+free   the whole in-process round trip
 *   CEL condition   (decide under a charter whose workflow has K extra
 *                   rules whose conditions are all evaluated and all false,
 *                   minus decide under the same charter without them) / K,
 *                   the two measured in alternation
 *
 * Pre-parsed requests are parsed in batches of BATCH and each batch is
 * decided right after it was parsed, as a server would: the request is in
 * cache, the parse is not timed. Uses only include/charter.h. See
 * bench/README.md for what the figures mean and how they were measured.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charter.h"

#define REQUESTS 100000u       /* default; `bench_decide N` uses N */
#define BATCH 1000u
#define RUNS 5
#define WORKFLOWS 10
#define RULES_PER_WORKFLOW 10
#define ACTIONS 5
#define AGENTS 5
#define VALUES 5
#define CEL_EXTRA_RULES 16      /* conditions added for the per-condition figure */
#define CEL_REQUESTS 20000u

/* 2026-11-24T10:00:00Z: every decision uses this time. */
#define BENCH_NOW_MS INT64_C(1795514400000)

/* ---- Small helpers ---------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void die(const char *what)
{
    fprintf(stderr, "bench_decide: %s\n", what);
    exit(1);
}

static void buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_printf(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            die("vsnprintf failed");
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            die("out of memory");
        b->p = p;
        b->cap = cap;
    }
}

/* xorshift64*: deterministic, fast, good enough to vary requests. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(2685821657736338717);
}

static unsigned rng_below(rng *r, unsigned n)
{
    return (unsigned)((rng_next(r) >> 33) % n);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* ---- The charter ---------------------------------------------------------------- */

/* One rule of workflow w, template t (0..9). Conditions read only fields
 * every generated request sends, so they evaluate rather than fail. */
static void emit_rule(buf *b, int w, int t)
{
    static const char *const effects[RULES_PER_WORKFLOW] = {
        "deny", "escalate", "deny", "allow", "escalate",
        "allow", "escalate", "deny", "escalate", "allow"};
    static const char *const conds[RULES_PER_WORKFLOW] = {
        "subject.flagged == true",
        "input.amount > %d",
        "input.amount > %d && subject.tier == \"bronze\"",
        "subject.tier == \"gold\" && input.amount <= %d",
        "subject.country in [\"US\", \"CA\", \"MX\"] && input.amount > 500",
        "input.amount <= 50",
        "confidence < 0.3",
        "context.channel == \"api\" && subject.tenure_years < 1",
        "input.amount > 200 || subject.tier == \"bronze\"",
        "subject.tenure_years >= 5 && input.currency == \"EUR\""};
    char cond[256];
    int threshold = t == 1 ? 1500 + 100 * w : t == 2 ? 800 + 50 * w : 400 + 20 * w;
    snprintf(cond, sizeof cond, conds[t], threshold);

    if (t == 0 && w % 2 == 0) {
        /* Every other workflow has a boundary instead of its first rule. */
        buf_printf(b,
                   "  - id: w%d-b%d\n"
                   "    source: Sanctions policy S-%d\n"
                   "    message: Sanctioned country.\n"
                   "    workflows: [w%d]\n"
                   "    when: subject.country in [\"KP\", \"IR\", \"SY\"]\n"
                   "    protects: v0\n",
                   w, t, w, w);
        return;
    }
    buf_printf(b,
               "  - id: w%d-r%d\n"
               "    workflows: [w%d]\n",
               w, t, w);
    if (t == 5)
        buf_printf(b, "    actions: [a0, a1]\n");
    if (t == 8)
        buf_printf(b, "    actions: [a4]\n");
    buf_printf(b,
               "    when: '%s'\n"
               "    effect: %s\n"
               "    protects: v%d\n"
               "    message: Rule %d of workflow %d.\n",
               cond, effects[t], (w + t) % VALUES, t, w);
    if (!strcmp(effects[t], "allow"))
        buf_printf(b, "    obligations: [log_reason%s]\n", t == 9 ? ", notify_customer" : "");
    if (t == 1)
        buf_printf(b, "    escalate_to: q%d\n", w % 2);
}

/* The bench charter. `extra` adds that many rules to workflow w0, action
 * a2, whose conditions are always evaluated and always false (for the
 * per-condition figure). */
static char *charter_yaml(int extra, size_t *len)
{
    buf b = {0};
    buf_printf(&b, "charter: 1\norganization:\n  name: Bench Org\n  purpose: Benchmark.\n");
    buf_printf(&b, "values:\n");
    for (int v = 0; v < VALUES; v++)
        buf_printf(&b, "  - {id: v%d, statement: Value %d.}\n", v, v);
    buf_printf(&b,
               "escalation:\n  default: q0\n  queues:\n"
               "    - {id: q0, sla: 4h, on_timeout: next, next: q1}\n"
               "    - {id: q1, sla: 1d, on_timeout: deny}\n");
    buf_printf(&b, "workflows:\n");
    for (int w = 0; w < WORKFLOWS; w++) {
        buf_printf(&b,
                   "  - id: w%d\n"
                   "    owner: owner%d@example.com\n"
                   "    autonomy: %s\n"
                   "    actions: [a0, a1, a2, a3, a4]\n"
                   "    escalate_to: q%d\n"
                   "    stop_rules:\n"
                   "      - id: w%d-budget\n"
                   "        spend: input.amount\n"
                   "        max_spend_per_run: 25000\n"
                   "        max_spend_per_day: 400000\n"
                   "        max_actions_per_run: 55\n"
                   "        message: Budget exceeded.\n",
                   w, w, w % 3 == 2 ? "agent-augmented" : "agent-ready", w % 2, w);
    }
    buf_printf(&b, "agents:\n");
    for (int a = 0; a < AGENTS; a++) {
        /* Each agent is granted 7 of the 10 workflows. */
        buf_printf(&b, "  - id: agent%d\n    workflows: [", a);
        for (int k = 0; k < 7; k++)
            buf_printf(&b, "%sw%d", k ? ", " : "", (a * 2 + k) % WORKFLOWS);
        buf_printf(&b, "]\n");
    }
    buf_printf(&b, "boundaries:\n");
    for (int w = 0; w < WORKFLOWS; w += 2)
        emit_rule(&b, w, 0);
    buf_printf(&b, "rules:\n");
    for (int w = 0; w < WORKFLOWS; w++)
        for (int t = w % 2 == 0 ? 1 : 0; t < RULES_PER_WORKFLOW; t++)
            emit_rule(&b, w, t);
    for (int k = 0; k < extra; k++)
        buf_printf(&b,
                   "  - id: x%02d\n"
                   "    workflows: [w0]\n"
                   "    actions: [a2]\n"
                   "    when: 'input.amount > %d && subject.tier == \"platinum\"'\n"
                   "    effect: escalate\n"
                   "    protects: v1\n"
                   "    message: Never fires.\n",
                   k, 100 + k);
    *len = b.n;
    return b.p;
}

static charter *charter_build(int extra)
{
    size_t n;
    char *yaml = charter_yaml(extra, &n);
    charter *c = NULL;
    charter_error err;
    memset(&err, 0, sizeof err);
    if (charter_load_string("bench.yaml", yaml, n, &c, &err) != CHARTER_OK) {
        char msg[2048];
        charter_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "bench_decide: the generated charter does not load: %s\n", msg);
        exit(1);
    }
    free(yaml);
    return c;
}

/* ---- The requests ---------------------------------------------------------------- */

typedef struct req_text {
    char *p;
    size_t n;
} req_text;

static void request_json(rng *r, buf *b, bool fixed_w0_a2)
{
    static const char *const tiers[] = {"gold", "silver", "bronze"};
    static const char *const countries[] = {"DE", "FR", "NL", "US", "CA", "MX",
                                            "GB", "ES", "IT", "IR"};
    static const char *const channels[] = {"chat", "email", "api", "phone"};
    static const char *const currencies[] = {"EUR", "USD", "GBP"};
    unsigned agent = rng_below(r, 100);
    unsigned w = rng_below(r, WORKFLOWS), a = rng_below(r, 100);
    char agent_id[16], action[8];
    /* 3% unknown agents (shadow), 5% workflows picked at random (so some
     * not granted), 2% actions outside the workflow; the rest are requests
     * a registered agent may make, as in real traffic. */
    if (fixed_w0_a2)
        snprintf(agent_id, sizeof agent_id, "agent0");
    else if (agent < 3)
        snprintf(agent_id, sizeof agent_id, "ghost%u", agent);
    else
        snprintf(agent_id, sizeof agent_id, "agent%u", agent % AGENTS);
    if (rng_below(r, 100) >= 5)
        w = (2 * (agent % AGENTS) + rng_below(r, 7)) % WORKFLOWS; /* granted */
    if (fixed_w0_a2) {
        w = 0;
        snprintf(action, sizeof action, "a2");
    } else if (a < 2)
        snprintf(action, sizeof action, "zz");
    else
        snprintf(action, sizeof action, "a%u", a % ACTIONS);
    unsigned amount = rng_below(r, 100) < 40 ? rng_below(r, 100) : rng_below(r, 3000);
    unsigned run_actions = rng_below(r, 60);
    unsigned run_spend = rng_below(r, 25000);
    unsigned country = rng_below(r, 10);
    char confidence[8];
    unsigned conf = rng_below(r, 101);
    if (conf == 100)
        snprintf(confidence, sizeof confidence, "1.0");
    else
        snprintf(confidence, sizeof confidence, "0.%02u", conf);
    if (fixed_w0_a2) {
        /* Past the boundary and the stop rule, so every rule is evaluated. */
        run_actions = run_spend = 0;
        country %= 9;
    }
    b->n = 0;
    buf_printf(b,
               "{\"agent\":\"%s\",\"workflow\":\"w%u\",\"action\":\"%s\","
               "\"input\":{\"amount\":%u,\"currency\":\"%s\",\"order_id\":\"o-%u\"},"
               "\"subject\":{\"customer_id\":\"c-%u\",\"tier\":\"%s\",\"country\":\"%s\","
               "\"tenure_years\":%u,\"flagged\":%s},"
               "\"context\":{\"channel\":\"%s\"},"
               "\"rationale\":\"customer asked\",\"confidence\":%s,"
               "\"run_id\":\"run-%u\","
               "\"counters\":{\"run\":{\"actions\":%u,\"spend\":%u},"
               "\"day\":{\"actions\":%u,\"spend\":%u}}}",
               agent_id, w, action, amount, currencies[rng_below(r, 3)],
               rng_below(r, 1000000), rng_below(r, 100000), tiers[rng_below(r, 3)],
               countries[country], rng_below(r, 11),
               rng_below(r, 100) < 2 ? "true" : "false", channels[rng_below(r, 4)],
               confidence, rng_below(r, 5000),
               run_actions, run_spend, run_actions * 8, run_spend * 10);
}

static req_text *requests_make(unsigned n, bool fixed_w0_a2, uint64_t seed)
{
    rng r = {seed};
    buf b = {0};
    req_text *t = calloc(n, sizeof *t);
    if (!t)
        die("out of memory");
    for (unsigned i = 0; i < n; i++) {
        request_json(&r, &b, fixed_w0_a2);
        t[i].p = malloc(b.n + 1);
        if (!t[i].p)
            die("out of memory");
        memcpy(t[i].p, b.p, b.n + 1);
        t[i].n = b.n;
    }
    free(b.p);
    return t;
}

static void requests_free(req_text *t, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(t[i].p);
    free(t);
}

static charter_request *parse_one(const req_text *t)
{
    charter_request *req = NULL;
    charter_error err;
    if (charter_request_parse(t->p, t->n, &req, &err) != CHARTER_OK) {
        fprintf(stderr, "bench_decide: a generated request does not parse: %s\n%s\n",
                err.message, t->p);
        exit(1);
    }
    return req;
}

static const charter_decision *decide_one(charter_decider *d, const charter *c,
                                          const charter_request *req)
{
    const charter_decision *dec = NULL;
    charter_error err;
    if (charter_decide(d, c, req, BENCH_NOW_MS, &dec, &err) != CHARTER_OK) {
        fprintf(stderr, "bench_decide: charter_decide failed: %s\n", err.message);
        exit(1);
    }
    return dec;
}

/* ---- Measurements ---------------------------------------------------------------- */

typedef enum mode {
    MODE_DECIDE,             /* pre-parsed, decide only */
    MODE_DECIDE_RENDER,      /* pre-parsed, decide + render */
    MODE_PARSE_DECIDE,       /* parse + decide + free */
    MODE_PARSE_DECIDE_RENDER /* parse + decide + render + free */
} mode;

typedef struct mix {
    size_t effect[3];
    size_t shadow, boundary, stop_rule, rule, dflt, refused;
    size_t fired;            /* fired entries, summed */
} mix;

static void mix_add(mix *m, const charter_decision *dec)
{
    m->effect[dec->effect]++;
    m->fired += dec->fired_count;
    if (dec->is_shadow)
        m->shadow++;
    if (!strcmp(dec->reason, "boundary"))
        m->boundary++;
    else if (!strcmp(dec->reason, "stop_rule"))
        m->stop_rule++;
    else if (!strcmp(dec->reason, "rule"))
        m->rule++;
    else if (!strcmp(dec->reason, "default") ||
             !strcmp(dec->reason, "augmented_requires_approval"))
        m->dflt++;
    else
        m->refused++;
}

/* One run over n requests; returns ns per decision. Only the work named by
 * `md` is inside the timed region. */
static double run_once(const charter *c, charter_decider *d, const req_text *t,
                       unsigned n, mode md, mix *m)
{
    int64_t total = 0;
    volatile size_t sink = 0;
    if (md == MODE_DECIDE || md == MODE_DECIDE_RENDER) {
        charter_request *batch[BATCH];
        for (unsigned base = 0; base < n; base += BATCH) {
            unsigned k = n - base < BATCH ? n - base : BATCH;
            for (unsigned i = 0; i < k; i++)
                batch[i] = parse_one(&t[base + i]);
            int64_t t0 = now_ns();
            for (unsigned i = 0; i < k; i++) {
                const charter_decision *dec = decide_one(d, c, batch[i]);
                if (md == MODE_DECIDE_RENDER) {
                    size_t len;
                    charter_decision_json(d, dec, &len);
                    sink += len;
                } else {
                    sink += dec->fired_count;
                }
            }
            total += now_ns() - t0;
            for (unsigned i = 0; i < k; i++) {
                if (m) {
                    /* Outside the timed region: decide again to count. */
                    mix_add(m, decide_one(d, c, batch[i]));
                }
                charter_request_free(batch[i]);
            }
        }
    } else {
        int64_t t0 = now_ns();
        for (unsigned i = 0; i < n; i++) {
            charter_request *req = parse_one(&t[i]);
            const charter_decision *dec = decide_one(d, c, req);
            if (md == MODE_PARSE_DECIDE_RENDER) {
                size_t len;
                charter_decision_json(d, dec, &len);
                sink += len;
            } else {
                sink += dec->fired_count;
            }
            charter_request_free(req);
        }
        total = now_ns() - t0;
    }
    (void)sink;
    return (double)total / (double)n;
}

static double run_median(const charter *c, charter_decider *d, const req_text *t,
                         unsigned n, mode md, mix *m)
{
    double v[RUNS];
    /* A warm-up run grows the decider's scratch arena and output buffer to
     * their working size, as in a long-running process. */
    run_once(c, d, t, n < 2000 ? n : 2000, md, NULL);
    for (int i = 0; i < RUNS; i++)
        v[i] = run_once(c, d, t, n, md, i == 0 ? m : NULL);
    return median(v, RUNS);
}

static void print_figure(const char *what, double ns, const char *target)
{
    if (ns >= 1000)
        printf("  %-44s %9.0f ns  (%.2f us)%s%s\n", what, ns, ns / 1000.0,
               target ? "   target " : "", target ? target : "");
    else
        printf("  %-44s %9.0f ns%s%s\n", what, ns, target ? "              target " : "",
               target ? target : "");
}

int main(int argc, char **argv)
{
    unsigned n_req = REQUESTS;
    if (argc > 1) {
        char *end;
        unsigned long v = strtoul(argv[1], &end, 10);
        if (*end || v < 1 || v > 10000000) {
            fprintf(stderr, "usage: bench_decide [REQUESTS]   (1 to 10000000; default %u)\n",
                    REQUESTS);
            return 2;
        }
        n_req = (unsigned)v;
    }
    unsigned n_cel = n_req < CEL_REQUESTS ? n_req : CEL_REQUESTS;
    charter *c = charter_build(0);
    charter_stats st;
    charter_get_stats(c, &st);
    printf("bench_decide: charter of %zu rules + %zu boundaries over %zu workflows, "
           "%zu agents, %zu values\n",
           st.rules, st.boundaries, st.workflows, st.agents, st.values);
    printf("  version %s\n", charter_version(c));

    req_text *reqs = requests_make(n_req, false, UINT64_C(0x9E3779B97F4A7C15));
    charter_decider *d = NULL;
    if (charter_decider_new(&d) != CHARTER_OK)
        die("charter_decider_new failed");

    printf("%u requests, median of %d runs, CLOCK_MONOTONIC\n\n", n_req, RUNS);
    mix m = {0};
    double pre = run_median(c, d, reqs, n_req, MODE_DECIDE, &m);
    double pre_render = run_median(c, d, reqs, n_req, MODE_DECIDE_RENDER, NULL);
    double parse = run_median(c, d, reqs, n_req, MODE_PARSE_DECIDE, NULL);
    double full = run_median(c, d, reqs, n_req, MODE_PARSE_DECIDE_RENDER, NULL);

    /* Per condition: the same requests (all agent0/w0/a2, granted and in the
     * workflow) under a charter whose w0/a2 rule set holds CEL_EXTRA_RULES
     * more rules, every one evaluated and false, minus the charter without
     * them. The difference is the cost of evaluating those conditions. */
    charter *c_more = charter_build(CEL_EXTRA_RULES);
    req_text *w0 = requests_make(n_cel, true, UINT64_C(0xD1B54A32D192ED03));
    /* The two are measured in alternation, so both see the same load of a
     * shared machine; the figure is the median of the paired differences. */
    double vb[RUNS], vm[RUNS], vd[RUNS];
    run_once(c_more, d, w0, 2000, MODE_DECIDE, NULL);
    for (int i = 0; i < RUNS; i++) {
        vb[i] = run_once(c, d, w0, n_cel, MODE_DECIDE, NULL);
        vm[i] = run_once(c_more, d, w0, n_cel, MODE_DECIDE, NULL);
        vd[i] = (vm[i] - vb[i]) / CEL_EXTRA_RULES;
    }
    double base = median(vb, RUNS), more = median(vm, RUNS);
    double per_cond = median(vd, RUNS);

    print_figure("decide (pre-parsed request)", pre, "< 500 ns");
    print_figure("decide + render JSON answer", pre_render, NULL);
    print_figure("parse JSON + decide + free", parse, "< 3 us");
    print_figure("parse JSON + decide + render + free", full, "< 3 us");
    print_figure("one CEL condition (see README: method)", per_cond, NULL);
    printf("    (w0/a2 decide: %.0f ns with its rules, %.0f ns with %d more "
           "conditions)\n",
           base, more, CEL_EXTRA_RULES);

    printf("\ndecision mix over %u requests:\n", n_req);
    printf("  allow %zu, deny %zu, escalate %zu\n", m.effect[CHARTER_ALLOW],
           m.effect[CHARTER_DENY], m.effect[CHARTER_ESCALATE]);
    printf("  by reason: rule %zu, default %zu, boundary %zu, stop_rule %zu, "
           "refused before conditions %zu (of which shadow %zu)\n",
           m.rule, m.dflt, m.boundary, m.stop_rule, m.refused, m.shadow);
    printf("  fired entries: %.2f per decision\n", (double)m.fired / n_req);

    requests_free(w0, n_cel);
    requests_free(reqs, n_req);
    charter_decider_free(d);
    charter_release(c_more);
    charter_release(c);
    return 0;
}
