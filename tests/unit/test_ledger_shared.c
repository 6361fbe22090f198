/* test_ledger_shared.c - several servers recording into one PostgreSQL
 * ledger: two charter_ledger opened on one database in this process behave
 * as two servers (docs/ledger.md, "Several servers on one ledger").
 *
 * One chain whichever appended (verify, with the key, proves it); a daily
 * budget of N actions holds when both decide for one agent at once; an
 * escalation resolved through both at once is resolved once (the other
 * gets CHARTER_E_CONFLICT, or "already resolved" when it saw the first
 * before it began); what one opens the other lists within ~1.5 s, and a
 * long poll on one returns when the other resolves; an approval on one
 * while the other counts the agent's actions is checked again, not
 * refused; a resolution on one before the other settled the decision
 * that opened it reaches that one when it settles; charter_loaded reaches
 * the other's on_charter_loaded; a foreign entry that does not link fails
 * the health.
 *
 * Needs the test PostgreSQL (tests/pg/pg.sh, the ctest fixture "pg"):
 * $CHARTER_TEST_PG_DIR/url. Each test makes a database of its own. Exits
 * 77 (skipped) when CHARTER_TEST_PG=skip and there is no server.
 */
#include "test.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "charter_ledger.h"

#define T0 1795000000000LL /* a fixed decision time */

static const char budget_yaml[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund, close_account]\n"
    "    escalate_to: leads\n"
    "    stop_rules:\n"
    "      - {id: per-day, max_actions_per_day: 20, message: Twenty a day.}\n"
    "agents:\n"
    "  - {id: support-bot, owner: ana@tiny.example, workflows: [refunds]}\n"
    "rules:\n"
    "  - id: closing\n"
    "    workflows: [refunds]\n"
    "    actions: [close_account]\n"
    "    when: 'true'\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Closing an account needs a person.\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n";

#define DAY_LIMIT 20

static char base_url[512], url[600], tmpdir[256];
static int db_counter;

static charter *load(void)
{
    charter *c = NULL;
    charter_error err;
    if (charter_load_string("shared.yaml", budget_yaml, strlen(budget_yaml), &c, &err) !=
        CHARTER_OK) {
        fprintf(stderr, "cannot load the test charter: %s\n", err.message);
        exit(1);
    }
    return c;
}

/* The test server's url, or exit 77 / 1. */
static void find_server(void)
{
    const char *dir = getenv("CHARTER_TEST_PG_DIR");
    const char *skip = getenv("CHARTER_TEST_PG");
    char file[512];
    snprintf(file, sizeof file, "%s/url", dir ? dir : "");
    FILE *f = dir ? fopen(file, "r") : NULL;
    if (!f || !fgets(base_url, sizeof base_url, f)) {
        if (f)
            fclose(f);
        if (skip && !strcmp(skip, "skip")) {
            printf("skipped: no test PostgreSQL (CHARTER_TEST_PG=skip)\n");
            exit(77);
        }
        fprintf(stderr, "no test PostgreSQL: expected its url in %s (tests/pg/pg.sh "
                        "start DIR; CHARTER_TEST_PG_DIR=DIR)\n", file);
        exit(1);
    }
    fclose(f);
    base_url[strcspn(base_url, "\r\n")] = '\0';
}

/* A fresh database; its url into `url`. */
static void new_database(void)
{
    char name[64];
    snprintf(name, sizeof name, "charter_shared_%ld_%d", (long)getpid(), ++db_counter);
    PGconn *c = PQconnectdb(base_url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "cannot reach %s: %s\n", base_url, PQerrorMessage(c));
        exit(1);
    }
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "cannot create database %s: %s\n", name, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
    const char *slash = strrchr(base_url, '/');
    snprintf(url, sizeof url, "%.*s/%s", (int)(slash - base_url), base_url, name);
}

static charter_ledger *open_with(const charter_ledger_options *opt)
{
    charter_ledger *l = NULL;
    charter_error err;
    if (charter_ledger_open(url, opt, &l, &err) != CHARTER_OK) {
        fprintf(stderr, "cannot open %s: %s\n", url, err.message);
        exit(1);
    }
    return l;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Decides `action` for support-bot through l; the answer's decision and
 * id (id may be NULL). */
static charter_status decide(charter_ledger *l, charter_decider *d, const charter *c,
                             const char *action, char decision[16], char id[32])
{
    char req[256];
    snprintf(req, sizeof req,
             "{\"agent\":\"support-bot\",\"workflow\":\"refunds\",\"action\":\"%s\","
             "\"input\":{\"amount\":5}}", action);
    char *ans = NULL;
    size_t n;
    charter_error err;
    charter_status st = charter_ledger_decide(l, d, c, req, strlen(req), T0, &ans, &n, &err);
    json_t *j = ans ? json_loads(ans, 0, NULL) : NULL;
    snprintf(decision, 16, "%s", j ? json_string_value(json_object_get(j, "decision")) : "");
    if (id)
        snprintf(id, 32, "%s",
                 j && json_object_get(j, "decision_id")
                     ? json_string_value(json_object_get(j, "decision_id"))
                     : "");
    json_decref(j);
    free(ans);
    return st;
}

typedef struct kinds {
    int entries, charters, decisions, resolutions, loaded;
    uint64_t last_seq;
    bool gapless;
} kinds;

static int count_kinds(const charter_ledger_entry *e, void *user)
{
    kinds *k = user;
    k->gapless = k->gapless && e->seq == k->last_seq + 1;
    k->last_seq = e->seq;
    k->entries++;
    k->charters += !strcmp(e->kind, "charter");
    k->decisions += !strcmp(e->kind, "decision");
    k->resolutions += !strcmp(e->kind, "escalation_resolved");
    k->loaded += !strcmp(e->kind, "charter_loaded");
    return 0;
}

static kinds scan(void)
{
    kinds k = {.gapless = true};
    charter_error err;
    CHECK_INT(charter_ledger_scan(url, 0, 0, count_kinds, &k, &err), CHARTER_OK);
    return k;
}

/* ---- One chain ---------------------------------------------------------------- */

static void test_one_chain_from_two_servers(void)
{
    new_database();
    char key_dir[512], key[600], pub[600], kid[CHARTER_KEY_ID_SIZE];
    snprintf(key_dir, sizeof key_dir, "%s/keys", tmpdir);
    snprintf(key, sizeof key, "%s/ledger.key", key_dir);
    snprintf(pub, sizeof pub, "%s/ledger.pub", key_dir);
    charter_error err;
    if (access(key, R_OK) != 0)
        CHECK_INT(charter_keys_init(key_dir, kid, &err), CHARTER_OK);
    /* A small cadence: foreign entries count in it, and a batch that no
     * longer fits its room after reading them waits for the next. */
    charter_ledger_options opt = {.key_path = key, .checkpoint_every = 3};
    charter_ledger *a = open_with(&opt), *b = open_with(&opt);
    CHECK(charter_ledger_shared(a) && charter_ledger_shared(b));
    charter *c = load();
    charter_decider *d;
    charter_decider_new(&d);
    char dec[16], id[32], last_id[32] = "";
    uint64_t last = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_INT(decide(i % 2 ? b : a, d, c, "issue_refund", dec, id), CHARTER_OK);
        CHECK_STR(dec, "allow");
        uint64_t seq = 0;
        CHECK(charter_decision_id_parse(id, &seq));
        CHECK(seq > last); /* after the other's, whichever appended */
        last = seq;
        snprintf(last_id, sizeof last_id, "%s", id);
    }
    /* Each server's counters include the other's decisions once it read
     * them (each batch reads them first). */
    charter_counters ka, kb;
    charter_ledger_counters(a, "support-bot", "", T0, &ka);
    charter_ledger_counters(b, "support-bot", "", T0, &kb);
    CHECK(ka.day_actions >= 9 && kb.day_actions >= 9);
    CHECK_INT(charter_ledger_close(a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, &err), CHARTER_OK);
    kinds k = scan();
    CHECK(k.gapless);
    CHECK_INT(k.decisions, 10);
    CHECK_INT(k.charters, 1); /* the version recorded once, not by both */
    charter_ledger_report rep;
    CHECK_INT(charter_ledger_verify(url, pub, &rep, &err), CHARTER_OK);
    CHECK(rep.ok);
    if (!rep.ok)
        fprintf(stderr, "verify: %s: %s\n", rep.problem, rep.message);
    CHECK_INT(rep.last_seq, k.last_seq);
    CHECK_INT(rep.proven_seq, k.last_seq); /* closing covered the tail */
    charter_decider_free(d);
    charter_release(c);
}

/* ---- A budget across servers ------------------------------------------------- */

typedef struct racer {
    charter_ledger *l;
    const charter *c;
    bool async;
    int allowed, denied, failed;
} racer;

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
} waiter;

static void on_ready(void *user)
{
    waiter *w = user;
    pthread_mutex_lock(&w->mu);
    w->ready = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static pthread_barrier_t start_line;

static void *race(void *arg)
{
    racer *r = arg;
    charter_decider *d;
    charter_decider_new(&d);
    pthread_barrier_wait(&start_line);
    static const char req[] = "{\"agent\":\"support-bot\",\"workflow\":\"refunds\","
                              "\"action\":\"issue_refund\",\"input\":{\"amount\":1}}";
    for (int i = 0; i < 8; i++) {
        char *ans = NULL;
        size_t n;
        charter_error err;
        charter_status st;
        if (r->async) {
            /* The server's way: begin, wait for ready, end (a conflict
             * is decided again inside end). */
            charter_request *rq = NULL;
            charter_request_parse(req, strlen(req), &rq, &err);
            waiter w = {.ready = false};
            pthread_mutex_init(&w.mu, NULL);
            pthread_cond_init(&w.cv, NULL);
            charter_ledger_ticket *t = NULL;
            st = charter_ledger_decide_begin(r->l, d, r->c, rq, req, strlen(req), T0,
                                             on_ready, &w, &t, &ans, &n, &err);
            charter_request_free(rq);
            if (t) {
                pthread_mutex_lock(&w.mu);
                while (!w.ready)
                    pthread_cond_wait(&w.cv, &w.mu);
                pthread_mutex_unlock(&w.mu);
                st = charter_ledger_decide_end(t, &ans, &n, &err);
            }
            pthread_mutex_destroy(&w.mu);
            pthread_cond_destroy(&w.cv);
        } else {
            st = charter_ledger_decide(r->l, d, r->c, req, strlen(req), T0, &ans, &n, &err);
        }
        json_t *j = st == CHARTER_OK ? json_loads(ans, 0, NULL) : NULL;
        const char *dec = json_string_value(json_object_get(j, "decision"));
        if (dec && !strcmp(dec, "allow"))
            r->allowed++;
        else if (dec && !strcmp(dec, "deny"))
            r->denied++;
        else
            r->failed++;
        json_decref(j);
        free(ans);
    }
    charter_decider_free(d);
    return NULL;
}

static void test_budget_holds_across_servers(void)
{
    new_database();
    charter_ledger *a = open_with(NULL), *b = open_with(NULL);
    charter *c = load();
    enum { PER = 4, N = 2 * PER };
    racer r[N];
    pthread_t th[N];
    pthread_barrier_init(&start_line, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.l = i < PER ? a : b, .c = c, .async = i % 2};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int allowed = 0, denied = 0, failed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        allowed += r[i].allowed;
        denied += r[i].denied;
        failed += r[i].failed;
    }
    pthread_barrier_destroy(&start_line);
    /* 64 tries at a budget of 20 a day: exactly 20 allowed in all. */
    CHECK_INT(allowed, DAY_LIMIT);
    CHECK_INT(allowed + denied + failed, N * 8);
    charter_error err;
    CHECK_INT(charter_ledger_close(a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, &err), CHARTER_OK);
    /* What the ledger says: a reopened server counts 20. */
    charter_ledger *again = open_with(NULL);
    charter_counters k;
    charter_ledger_counters(again, "support-bot", "", T0, &k);
    CHECK_INT(k.day_actions, DAY_LIMIT);
    CHECK_INT(charter_ledger_close(again, &err), CHARTER_OK);
    charter_ledger_report rep;
    CHECK_INT(charter_ledger_verify(url, NULL, &rep, &err), CHARTER_OK);
    CHECK(rep.ok);
    charter_release(c);
}

/* ---- Escalations across servers ---------------------------------------------- */

typedef struct seen {
    bool found;
    charter_escalation_status status;
    char by[64];
} seen;

static int take(const charter_escalation *e, void *user)
{
    seen *s = user;
    s->found = true;
    s->status = e->status;
    snprintf(s->by, sizeof s->by, "%s", e->resolved_by ? e->resolved_by : "");
    return 0;
}

/* Waits (bounded) until l lists escalation `id` open. */
static bool wait_listed(charter_ledger *l, const char *id, int limit_ms)
{
    int64_t until = now_ms() + limit_ms;
    while (now_ms() < until) {
        seen s = {0};
        charter_error err;
        if (charter_ledger_escalation(l, id, 0, take, &s, &err) == CHARTER_OK && s.found)
            return true;
        sleep_ms(20);
    }
    return false;
}

typedef struct resolver {
    charter_ledger *l;
    const charter *c;
    const char *id, *who;
    charter_status st;
    char message[1024];
} resolver;

static void *resolve_now(void *arg)
{
    resolver *r = arg;
    charter_error err;
    memset(&err, 0, sizeof err);
    pthread_barrier_wait(&start_line);
    r->st = charter_ledger_resolve(r->l, r->c, r->id, r->who, CHARTER_RESOLVE_DENY,
                                   "not now", 0, NULL, &err);
    snprintf(r->message, sizeof r->message, "%s", err.message);
    return NULL;
}

static void test_resolved_once_across_servers(void)
{
    new_database();
    charter_ledger *a = open_with(NULL), *b = open_with(NULL);
    charter *c = load();
    charter_decider *d;
    charter_decider_new(&d);
    int conflicts = 0;
    enum { ROUNDS = 6 };
    for (int round = 0; round < ROUNDS; round++) {
        char dec[16], id[32];
        CHECK_INT(decide(round % 2 ? b : a, d, c, "close_account", dec, id), CHARTER_OK);
        CHECK_STR(dec, "escalate");
        /* The other server lists it within the catch-up interval. */
        CHECK(wait_listed(round % 2 ? a : b, id, 1500));
        resolver r[2] = {{.l = a, .c = c, .id = id, .who = "lena"},
                         {.l = b, .c = c, .id = id, .who = "omar"}};
        pthread_t th[2];
        pthread_barrier_init(&start_line, NULL, 2);
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, resolve_now, &r[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start_line);
        int ok = (r[0].st == CHARTER_OK) + (r[1].st == CHARTER_OK);
        CHECK_INT(ok, 1);
        const resolver *lost = r[0].st == CHARTER_OK ? &r[1] : &r[0];
        /* The loser was told: a conflict when both were under way, or
         * "already resolved" when it saw the winner's entry first. */
        CHECK(lost->st == CHARTER_E_CONFLICT || lost->st == CHARTER_E_DUPLICATE);
        if (lost->st == CHARTER_E_CONFLICT) {
            conflicts++;
            CHECK_HAS(lost->message, "resolved on another server");
        }
        /* Both servers agree on who resolved it. */
        const char *winner = r[0].st == CHARTER_OK ? "lena" : "omar";
        for (int i = 0; i < 2; i++) {
            seen s = {0};
            int64_t until = now_ms() + 1500;
            charter_error err;
            do {
                memset(&s, 0, sizeof s);
                charter_ledger_escalation(i ? b : a, id, 0, take, &s, &err);
            } while (s.status == CHARTER_ESC_OPEN && now_ms() < until && (sleep_ms(20), 1));
            CHECK_INT(s.status, CHARTER_ESC_DENIED);
            CHECK_STR(s.by, winner);
        }
    }
    /* Two resolvers racing through two servers: at least one round had
     * both under way at once (the conflict the writer catches). */
    CHECK(conflicts > 0);
    charter_error err;
    CHECK_INT(charter_ledger_close(a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, &err), CHARTER_OK);
    kinds k = scan();
    CHECK_INT(k.resolutions, ROUNDS); /* one each, never two */
    charter_decider_free(d);
    charter_release(c);
}

typedef struct busy {
    charter_ledger *l;
    const charter *c;
    atomic_bool stop;
    int allowed;
} busy;

/* The agent's traffic on the other server: allowed actions, each counted
 * against the budgets an approval re-checks. */
static void *keep_deciding(void *arg)
{
    busy *b = arg;
    charter_decider *d;
    charter_decider_new(&d);
    while (!atomic_load(&b->stop)) {
        char dec[16];
        if (decide(b->l, d, b->c, "issue_refund", dec, NULL) == CHARTER_OK &&
            !strcmp(dec, "allow"))
            b->allowed++;
    }
    charter_decider_free(d);
    return NULL;
}

static void test_approval_beside_the_agents_traffic(void)
{
    new_database();
    charter_ledger *a = open_with(NULL), *b = open_with(NULL);
    /* A budget the traffic does not reach. */
    static const char from[] = "max_actions_per_day: 20,", to[] = "max_actions_per_day: 100000,";
    char yaml[sizeof budget_yaml + sizeof to];
    const char *at = strstr(budget_yaml, from);
    size_t head = (size_t)(at - budget_yaml);
    memcpy(yaml, budget_yaml, head);
    memcpy(yaml + head, to, sizeof to - 1);
    memcpy(yaml + head + sizeof to - 1, at + sizeof from - 1, strlen(at + sizeof from - 1) + 1);
    charter *c = NULL;
    charter_error err;
    CHECK_INT(charter_load_string("big.yaml", yaml, strlen(yaml), &c, &err), CHARTER_OK);
    charter_decider *d;
    charter_decider_new(&d);
    enum { ROUNDS = 5 };
    char ids[ROUNDS][32], dec[16];
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_INT(decide(a, d, c, "close_account", dec, ids[i]), CHARTER_OK);
        CHECK_STR(dec, "escalate");
    }
    busy traffic = {.l = b, .c = c};
    atomic_init(&traffic.stop, false);
    pthread_t th;
    pthread_create(&th, NULL, keep_deciding, &traffic);
    sleep_ms(100);
    /* Each approval re-checks the agent's budgets while the other server
     * keeps counting against them: it is checked again, not refused. */
    for (int i = 0; i < ROUNDS; i++) {
        charter_resolve_result res;
        memset(&err, 0, sizeof err);
        charter_status st = charter_ledger_resolve(a, c, ids[i], "lena",
                                                   CHARTER_RESOLVE_APPROVE, "fine", 0,
                                                   &res, &err);
        CHECK_INT(st, CHARTER_OK);
        if (st != CHARTER_OK)
            fprintf(stderr, "approving %s: %s\n", ids[i], err.message);
    }
    atomic_store(&traffic.stop, true);
    pthread_join(th, NULL);
    CHECK(traffic.allowed > 0);
    /* Every allow and approval counted once, on both servers. */
    charter_counters ka, kb;
    int64_t until = now_ms() + 1500;
    do {
        charter_ledger_counters(a, "support-bot", "", T0, &ka);
        charter_ledger_counters(b, "support-bot", "", T0, &kb);
    } while ((ka.day_actions != kb.day_actions) && now_ms() < until && (sleep_ms(20), 1));
    CHECK_INT(ka.day_actions, traffic.allowed + ROUNDS);
    CHECK_INT(kb.day_actions, traffic.allowed + ROUNDS);
    CHECK_INT(charter_ledger_close(a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, &err), CHARTER_OK);
    charter_decider_free(d);
    charter_release(c);
}

/* A decision begun on one server is durable before that server settles
 * it (charter_ledger_decide_end); another server may resolve its
 * escalation in between. The first learns of it when it settles. */
static void test_resolution_before_the_opener_settles(void)
{
    new_database();
    charter_ledger *a = open_with(NULL), *b = open_with(NULL);
    charter *c = load();
    charter_decider *d;
    charter_decider_new(&d);
    static const char req[] = "{\"agent\":\"support-bot\",\"workflow\":\"refunds\","
                              "\"action\":\"close_account\",\"input\":{}}";
    charter_error err;
    charter_request *rq = NULL;
    CHECK_INT(charter_request_parse(req, strlen(req), &rq, &err), CHARTER_OK);
    waiter w = {.ready = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    charter_ledger_ticket *t = NULL;
    char *ans = NULL;
    size_t n;
    CHECK_INT(charter_ledger_decide_begin(a, d, c, rq, req, strlen(req), T0, on_ready, &w, &t,
                                          &ans, &n, &err),
              CHARTER_OK);
    pthread_mutex_lock(&w.mu);
    while (!w.ready)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    /* Durable, not yet settled on a: b sees it and resolves it. */
    uint64_t seq = charter_ledger_last_seq(a);
    char id[32];
    snprintf(id, sizeof id, "d-%llu", (unsigned long long)seq);
    CHECK(wait_listed(b, id, 1500));
    CHECK_INT(charter_ledger_resolve(b, c, id, "omar", CHARTER_RESOLVE_DENY, "no", 0, NULL,
                                     &err), CHARTER_OK);
    int64_t until = now_ms() + 1500;
    while (charter_ledger_last_seq(a) <= seq && now_ms() < until)
        sleep_ms(20);
    CHECK(charter_ledger_last_seq(a) > seq); /* a read the resolution */
    CHECK_INT(charter_ledger_decide_end(t, &ans, &n, &err), CHARTER_OK);
    CHECK_HAS(ans, id);
    free(ans);
    seen s = {0};
    CHECK_INT(charter_ledger_escalation(a, id, 0, take, &s, &err), CHARTER_OK);
    CHECK_INT(s.status, CHARTER_ESC_DENIED);
    CHECK_STR(s.by, "omar");
    CHECK_INT(charter_ledger_open_count(a), 0);
    charter_request_free(rq);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    CHECK_INT(charter_ledger_close(a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, &err), CHARTER_OK);
    charter_decider_free(d);
    charter_release(c);
}

typedef struct poller {
    charter_ledger *l;
    const char *id;
    seen s;
    int64_t returned_ms;
} poller;

static void *long_poll(void *arg)
{
    poller *p = arg;
    charter_error err;
    charter_ledger_escalation(p->l, p->id, 10000, take, &p->s, &err);
    p->returned_ms = now_ms();
    return NULL;
}

static void test_long_poll_returns_when_other_resolves(void)
{
    new_database();
    charter_ledger *a = open_with(NULL), *b = open_with(NULL);
    charter *c = load();
    charter_decider *d;
    charter_decider_new(&d);
    char dec[16], id[32];
    CHECK_INT(decide(a, d, c, "close_account", dec, id), CHARTER_OK);
    int64_t t0 = now_ms();
    CHECK(wait_listed(b, id, 1500));
    CHECK(now_ms() - t0 <= 1500);
    /* Listed open too (the inbox's view). */
    poller p = {.l = b, .id = id};
    pthread_t th;
    pthread_create(&th, NULL, long_poll, &p);
    sleep_ms(200);
    charter_error err;
    int64_t resolved_at = now_ms();
    CHECK_INT(charter_ledger_resolve(a, c, id, "lena", CHARTER_RESOLVE_DENY, "no", 0, NULL,
                                     &err), CHARTER_OK);
    pthread_join(th, NULL);
    CHECK(p.s.found);
    CHECK_INT(p.s.status, CHARTER_ESC_DENIED);
    CHECK_STR(p.s.by, "lena");
    /* Woken by the notification, not by its 10 s timeout. */
    CHECK(p.returned_ms - resolved_at < 1500);
    /* The inbox's version moved on the other server too. */
    CHECK_INT(charter_ledger_open_count(b), 0);
    CHECK_INT(charter_ledger_close(a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, &err), CHARTER_OK);
    charter_decider_free(d);
    charter_release(c);
}

/* ---- Charter versions ----------------------------------------------------------- */

typedef struct told {
    pthread_mutex_t mu;
    char version[160];
    int calls;
} told;

static void on_loaded(void *user, const char *version)
{
    told *t = user;
    pthread_mutex_lock(&t->mu);
    snprintf(t->version, sizeof t->version, "%s", version);
    t->calls++;
    pthread_mutex_unlock(&t->mu);
}

static void test_charter_loaded_reaches_the_other(void)
{
    new_database();
    told ta = {.calls = 0}, tb = {.calls = 0};
    pthread_mutex_init(&ta.mu, NULL);
    pthread_mutex_init(&tb.mu, NULL);
    charter_ledger_options oa = {.on_charter_loaded = on_loaded, .charter_user = &ta};
    charter_ledger_options ob = {.on_charter_loaded = on_loaded, .charter_user = &tb};
    charter_ledger *a = open_with(&oa), *b = open_with(&ob);
    charter *c = load();
    charter_error err;
    CHECK_INT(charter_ledger_charter_loaded(a, c, "host-a:1", &err), CHARTER_OK);
    int64_t until = now_ms() + 1500;
    int calls = 0;
    while (now_ms() < until) {
        pthread_mutex_lock(&tb.mu);
        calls = tb.calls;
        pthread_mutex_unlock(&tb.mu);
        if (calls)
            break;
        sleep_ms(20);
    }
    CHECK_INT(calls, 1);
    CHECK_STR(tb.version, charter_version(c));
    CHECK_INT(ta.calls, 0); /* its own entry is not news to it */
    CHECK_INT(charter_ledger_close(a, &err), CHARTER_OK);
    CHECK_INT(charter_ledger_close(b, &err), CHARTER_OK);
    kinds k = scan();
    CHECK_INT(k.charters, 1);
    CHECK_INT(k.loaded, 1);
    charter_ledger_report rep;
    CHECK_INT(charter_ledger_verify(url, NULL, &rep, &err), CHARTER_OK);
    CHECK(rep.ok); /* verify knows the kind */
    /* A ledger one process records into: nothing to say. */
    char file[600];
    snprintf(file, sizeof file, "%s/one.db", tmpdir);
    charter_ledger *one = NULL;
    CHECK_INT(charter_ledger_open(file, NULL, &one, &err), CHARTER_OK);
    CHECK(!charter_ledger_shared(one));
    CHECK_INT(charter_ledger_charter_loaded(one, c, "host-a:1", &err), CHARTER_OK);
    CHECK_INT(charter_ledger_last_seq(one), 0);
    CHECK_INT(charter_ledger_close(one, &err), CHARTER_OK);
    pthread_mutex_destroy(&ta.mu);
    pthread_mutex_destroy(&tb.mu);
    charter_release(c);
}

/* ---- A chain that does not link ----------------------------------------------- */

static void test_foreign_entry_that_does_not_link_fails_health(void)
{
    new_database();
    charter_ledger *a = open_with(NULL);
    charter *c = load();
    charter_decider *d;
    charter_decider_new(&d);
    char dec[16], id[32];
    CHECK_INT(decide(a, d, c, "issue_refund", dec, id), CHARTER_OK);
    uint64_t last = charter_ledger_last_seq(a);
    /* Another "server" appends an entry whose prev_hash is not the tail's. */
    PGconn *pg = PQconnectdb(url);
    CHECK(PQstatus(pg) == CONNECTION_OK);
    char seq[24];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)last + 1);
    const char *v[1] = {seq};
    PGresult *r = PQexecParams(
        pg,
        "INSERT INTO charter_entries(seq, time_ms, kind, payload, prev_hash, hash)"
        " VALUES ($1::bigint, 1795000000000, 'outcome', '{\"metric\":\"x\"}',"
        " decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex'));"
        " NOTIFY charter_ledger",
        1, NULL, v, NULL, NULL, 0);
    /* (Two statements are not allowed with parameters: insert, then notify.) */
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        r = PQexecParams(pg,
                         "INSERT INTO charter_entries(seq, time_ms, kind, payload,"
                         " prev_hash, hash) VALUES ($1::bigint, 1795000000000, 'outcome',"
                         " '{\"metric\":\"x\"}', decode(repeat('00', 32), 'hex'),"
                         " decode(repeat('11', 32), 'hex'))",
                         1, NULL, v, NULL, NULL, 0);
        CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(PQexec(pg, "NOTIFY charter_ledger"));
    }
    PQclear(r);
    PQfinish(pg);
    charter_ledger_health h = {.ok = true};
    int64_t until = now_ms() + 2500;
    while (now_ms() < until) {
        charter_ledger_health_get(a, &h);
        if (!h.ok)
            break;
        sleep_ms(20);
    }
    CHECK(!h.ok);
    CHECK_STR(h.reason, "tail_changed");
    char want[64];
    snprintf(want, sizeof want, "entry %llu", (unsigned long long)last + 1);
    CHECK_HAS(h.message, want);
    /* Nothing is appended after it: decisions fail closed. */
    CHECK_INT(decide(a, d, c, "issue_refund", dec, id), CHARTER_E_IO);
    CHECK_STR(dec, "deny");
    charter_error err;
    charter_ledger_close(a, &err);
    charter_decider_free(d);
    charter_release(c);
}

int main(void)
{
    find_server();
    test_dir_make("shared", tmpdir, sizeof tmpdir);
    RUN(test_one_chain_from_two_servers);
    RUN(test_budget_holds_across_servers);
    RUN(test_resolved_once_across_servers);
    RUN(test_approval_beside_the_agents_traffic);
    RUN(test_resolution_before_the_opener_settles);
    RUN(test_long_poll_returns_when_other_resolves);
    RUN(test_charter_loaded_reaches_the_other);
    RUN(test_foreign_entry_that_does_not_link_fails_health);
    test_dir_remove(tmpdir);
    return TEST_DONE();
}
